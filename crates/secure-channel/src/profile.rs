//! The issuer security domain as the card's firmware profile describes it (`[isd]`), in this
//! crate's terms. One conversion, used by the personalisation host (`emv-cps`) and the card
//! simulator alike, so the two cannot read the profile differently.

use firmware_profile::{IsdDiversification, IsdScheme, Profile};

use crate::{Algorithm, Diversification, Error, Kcv, KcvSet, Scheme, SecretKey, SoftwareKeys};

/// The ISD's channel and key set from a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsdSetup {
    /// Protocol, "i", cipher and reported SCP identifier.
    pub scheme: Scheme,
    /// Key version number of the static key set.
    pub key_version: u8,
    /// How the card keys follow from the master key and the card's KDD.
    pub diversification: Diversification,
    /// Check values the master key set must have (one master for ENC, MAC and DEK).
    pub master_kcvs: Option<KcvSet>,
}

impl IsdSetup {
    /// The `[isd]` of `profile`; an error naming the profile when it has none.
    pub fn from_profile(profile: &Profile) -> Result<IsdSetup, Error> {
        let isd = profile.isd.as_ref().ok_or_else(|| {
            Error::Unsupported(format!(
                "{}: the profile has no [isd] (no issuer security domain)",
                profile.id
            ))
        })?;
        let scheme = match isd.scheme {
            IsdScheme::Scp02 => Scheme::scp02(isd.i),
            IsdScheme::Scp03 => Scheme::scp03(isd.i),
            IsdScheme::Scp03Sm4 => Scheme::scp03_sm4(isd.i),
        }
        .with_scp_id(isd.scp_id);
        let diversification = match isd.diversification {
            IsdDiversification::None => Diversification::None,
            IsdDiversification::EmvCps => Diversification::EmvCps,
            IsdDiversification::Visa2 => Diversification::Visa2,
            IsdDiversification::Kdf3 => Diversification::Kdf3,
        };
        let master_kcvs = isd.master_kcv.map(|k| KcvSet { enc: Kcv(k), mac: Kcv(k), dek: Kcv(k) });
        Ok(IsdSetup { scheme, key_version: isd.key_version, diversification, master_kcvs })
    }

    /// The cipher of the keys.
    pub fn algorithm(&self) -> Algorithm {
        self.scheme.algorithm
    }

    /// The simulator's TEST master key (`[sim] isd_master`) of `profile`.
    pub fn sim_master(&self, profile: &Profile) -> Result<SecretKey, Error> {
        let value = profile.sim.isd_master.as_ref().ok_or_else(|| {
            Error::Key(format!("{}: no [sim] isd_master (the test master key of the ISD)", profile.id))
        })?;
        SecretKey::new(self.algorithm(), value.0.clone())
    }

    /// Software keys holding the simulator's TEST master key: what tests and the demo
    /// personalise a simulated card with (a station uses an HSM-backed provider instead).
    pub fn sim_keys(&self, profile: &Profile) -> Result<SoftwareKeys, Error> {
        Ok(SoftwareKeys::from_master(self.key_version, self.sim_master(profile)?, self.diversification))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyProvider;

    fn load(file: &str) -> Profile {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles");
        Profile::load(dir.join(file)).expect("profile")
    }

    #[test]
    fn every_financial_profile_gives_a_setup_whose_test_key_matches_its_check_value() {
        let want = [
            ("ssc-3g-fin-sim.toml", Scheme::scp02(0x15), Diversification::EmvCps),
            ("ssc-3g-fin-scp03-sim.toml", Scheme::scp03(0x70), Diversification::Kdf3),
            ("ssc-3g-fin-sm4-sim.toml", Scheme::scp03_sm4(0x70), Diversification::Kdf3),
        ];
        for (file, scheme, method) in want {
            let p = load(file);
            let setup = IsdSetup::from_profile(&p).expect("setup");
            assert_eq!((setup.scheme, setup.diversification), (scheme, method), "{file}");
            let keys = setup.sim_keys(&p).expect("keys");
            assert_eq!(keys.key_version(), setup.key_version);
            assert_eq!(Some(keys.kcvs().expect("kcvs")), setup.master_kcvs, "{file}");
        }
    }

    #[test]
    fn a_card_without_an_isd_is_named() {
        let e = IsdSetup::from_profile(&load("ssc-3g-sim.toml")).expect_err("no isd");
        assert!(e.to_string().contains("ssc-3g-sim"), "{e}");
    }
}
