//! The card factory: a real social-security card leaves the factory with its SSSE keys
//! already diversified from the province's PSAM master keys for one city. The simulator does
//! the same when the profile says `[sim.derive]`, so the simulated PSAM and card agree.

use std::path::Path;

use firmware_profile::{ApplicationKind, Profile};

use crate::state::{secret_ref, Factory};
use crate::SimError;

/// The factory for `profile` (loaded from `profile_path`): its keys with a `psam_key`
/// diversified from the PSAM profile named in `[sim.derive]`, or nothing to derive.
pub fn factory_for(profile: &Profile, profile_path: &Path) -> Result<Factory, SimError> {
    let mut factory = Factory::default();
    let Some(derive) = &profile.sim.derive else { return Ok(factory) };
    let err = |message: String| SimError::Derive {
        profile: profile.id.clone(),
        psam: derive.psam.clone(),
        message,
    };
    let psam_path = profile_path.with_file_name(format!("{}.toml", derive.psam));
    let psam = Profile::load(&psam_path)?;
    let levels = profile
        .applications
        .iter()
        .find(|a| a.kind == ApplicationKind::Ssse)
        .and_then(|a| a.diversification_levels)
        .ok_or_else(|| err("the card profile has no SSSE application".into()))?;
    let card8 = profile.card8().ok_or_else(|| err("fewer than 8 ATR historical bytes".into()))?;
    let factors = card_crypto::ssse_factors(levels, card8, &derive.region)
        .ok_or_else(|| err(format!("region {:?} or {levels} levels", derive.region)))?;
    for key in profile.keys.iter() {
        let Some(p) = key.psam_key else { continue };
        let master_spec =
            psam.keys.iter().find(|m| m.usage_code == Some(p.usage) && m.id == p.id).ok_or_else(|| {
                err(format!("no master key {:02X}/{:02X} for card key {:02X}", p.usage, p.id, key.id))
            })?;
        if master_spec.algorithm != key.algorithm {
            return Err(err(format!(
                "master {:02X}/{:02X} is {:?}, card key {:02X} is {:?}",
                p.usage, p.id, master_spec.algorithm, key.id, key.algorithm
            )));
        }
        let master = psam
            .sim
            .keys
            .iter()
            .find(|k| k.df == master_spec.df && k.id == p.id && k.usage_code == Some(p.usage))
            .ok_or_else(|| err(format!("no sim value for master {:02X}/{:02X}", p.usage, p.id)))?;
        let value = card_crypto::ssse_card_key(key.algorithm, &master.value, &factors)
            .map_err(|e| err(e.to_string()))?;
        factory.keys.insert(secret_ref(&key.df, key.id, None), value.expose().to_vec());
    }
    Ok(factory)
}
