//! The social-security application at the counter: from a validated applicant to the EF05
//! and EF06 records, and the personalisation of the card in a reader with the PSAM in the
//! SAM slot. The full issuance (archives, printing, ledger) is the daemon's; this is the
//! card step it and `station personalise` share.

use std::path::Path;

use anyhow::{Context, Result};
use applicant::Validated;
use card_transport::{Card, Disposition};
use firmware_profile::Profile;
pub use issuance::records::{card_data, card_name, IssueParams};
use serde::Serialize;
use ssse::SsseLayout;

/// The profile whose ATR is the card's, from `dir`.
pub fn profile_for_atr(dir: &Path, atr: &[u8]) -> Result<Profile> {
    let profiles = firmware_profile::load_dir(dir)
        .with_context(|| format!("loading profiles from {}", dir.display()))?;
    profiles.into_iter().find(|p| p.atr.as_bytes() == atr).with_context(|| {
        format!(
            "no firmware profile in {} has ATR {}: pass --profile for this card",
            dir.display(),
            hex::encode_upper(atr)
        )
    })
}

/// What `station personalise` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Reader of the card.
    pub reader: String,
    /// Firmware profile used.
    pub profile: String,
    /// Card identification code written.
    pub card_id: String,
    /// Card number written.
    pub card_number: String,
    /// The holder's number, masked.
    pub ssn: String,
    /// Records written and read back identical.
    pub records: usize,
    /// APDUs to the card and to the PSAM.
    pub apdus: (u64, u64),
}

/// The counter's devices for one personalisation.
#[derive(Debug, Clone, Copy)]
pub struct Devices<'a> {
    /// Reader selector of the card.
    pub card_reader: &'a str,
    /// Reader selector of the PSAM.
    pub psam_reader: &'a str,
    /// The card's firmware profile; `None`: the one in `profiles_dir` whose ATR is the card's.
    pub profile: Option<&'a Profile>,
    /// Where the firmware profiles are.
    pub profiles_dir: &'a Path,
}

/// Personalises the SSSE of the card in the card reader with the PSAM in the SAM slot.
pub fn personalise_in_readers(
    manager: &mut pcsc_reader::PcscManager,
    devices: Devices<'_>,
    applicant: &Validated,
    card_number: &str,
    params: &IssueParams,
) -> Result<Outcome> {
    let (card_reader, psam_reader) = (devices.card_reader, devices.psam_reader);
    let mut card = manager.open(card_reader).with_context(|| format!("card reader {card_reader}"))?;
    let mut psam = manager
        .open(psam_reader)
        .with_context(|| format!("PSAM reader {psam_reader}: is the PSAM in the SAM slot?"))?;
    let atr = card.atr().to_vec();
    let found;
    let profile = match devices.profile {
        Some(p) => p,
        None => {
            found = profile_for_atr(devices.profiles_dir, &atr)?;
            &found
        }
    };
    let layout = SsseLayout::from_profile(profile)?;
    let (issuer, holder) = card_data(applicant, card_number, params, profile, &atr)?;
    let reader = card.reader().name.clone();
    let (done, apdus) = {
        let mut tx = card.transaction()?;
        let mut sam_tx = psam.transaction()?;
        let mut metered = card_transport::Metered::new(tx.as_mut());
        let mut sam_metered = card_transport::Metered::new(sam_tx.as_mut());
        let done = ssse::personalise(
            &mut metered,
            &atr,
            &mut ssse::Psam::new(&mut sam_metered),
            &layout,
            &issuer,
            &holder,
        )?;
        (done, (metered.count().apdus, sam_metered.count().apdus))
    };
    Box::new(card).disconnect(Disposition::Leave)?;
    Box::new(psam).disconnect(Disposition::Leave)?;
    Ok(Outcome {
        reader,
        profile: profile.id.clone(),
        card_id: done.card_id.to_string(),
        card_number: issuer.card_number,
        ssn: applicant.id.masked(),
        records: done.records,
        apdus,
    })
}
