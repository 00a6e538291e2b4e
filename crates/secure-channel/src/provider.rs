//! Where the host's keys come from. The session never holds static keys: it asks a
//! [`KeyProvider`] for check values and for the session keys of one card, so the static keys
//! (a KMC above all) can stay inside a PSAM or HSM. [`SoftwareKeys`] is the in-memory
//! implementation for tests, the simulator and development stations.

use crate::{
    diversify, scp02, scp03, Algorithm, Diversification, Error, KcvSet, KeySet, SecretKey, SessionKeys,
};

/// What the session needs to derive its keys, as the card's INITIALIZE UPDATE answer gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionDerivation<'a> {
    /// SCP02: the card's 2-byte sequence counter.
    Scp02 {
        /// Sequence counter from the INITIALIZE UPDATE answer.
        sequence_counter: [u8; 2],
    },
    /// SCP03 shape: host challenge || card challenge.
    Scp03 {
        /// The KDF context.
        context: &'a [u8],
    },
}

/// A source of GlobalPlatform keys for the host role.
///
/// Contract: `kcvs` describes the keys as held (the master keys when the provider
/// diversifies), and is cheap enough to call before every session; `session_keys` derives
/// the card's keys from `kdd` first when the provider diversifies. Neither sends anything to
/// a card.
pub trait KeyProvider {
    /// Key version number to ask for in INITIALIZE UPDATE (0: the card's default set).
    fn key_version(&self) -> u8;

    /// Cipher of the keys.
    fn algorithm(&self) -> Algorithm;

    /// Check values of the held keys (compared with the expected ones before a session).
    fn kcvs(&self) -> Result<KcvSet, Error>;

    /// The session keys for the card whose key diversification data is `kdd`.
    fn session_keys(&self, kdd: &[u8], derivation: &SessionDerivation<'_>) -> Result<SessionKeys, Error>;
}

/// Keys held in memory (zeroised on drop), optionally a master key set diversified per card.
#[derive(Debug, Clone)]
pub struct SoftwareKeys {
    keys: KeySet,
    diversification: Diversification,
}

impl SoftwareKeys {
    /// The card's own static keys.
    pub fn new(keys: KeySet) -> Result<SoftwareKeys, Error> {
        keys.check_uniform()?;
        Ok(SoftwareKeys { keys, diversification: Diversification::None })
    }

    /// A master key set (ENC, MAC and DEK masters, often all the same KMC) from which each
    /// card's keys follow by `method` and the card's KDD.
    pub fn diversified(masters: KeySet, method: Diversification) -> Result<SoftwareKeys, Error> {
        masters.check_uniform()?;
        Ok(SoftwareKeys { keys: masters, diversification: method })
    }

    /// One master key (KMC) for all three, diversified by `method`.
    pub fn from_master(version: u8, master: SecretKey, method: Diversification) -> SoftwareKeys {
        SoftwareKeys { keys: KeySet::single(version, master), diversification: method }
    }

    /// The static keys of the card whose KDD is `kdd`.
    pub fn card_keys(&self, kdd: &[u8]) -> Result<KeySet, Error> {
        if self.diversification == Diversification::None {
            return Ok(self.keys.clone());
        }
        Ok(KeySet {
            version: self.keys.version,
            enc: diversify(self.diversification, &self.keys.enc, kdd, crate::KeyUsage::Enc)?,
            mac: diversify(self.diversification, &self.keys.mac, kdd, crate::KeyUsage::Mac)?,
            dek: diversify(self.diversification, &self.keys.dek, kdd, crate::KeyUsage::Dek)?,
        })
    }
}

impl KeyProvider for SoftwareKeys {
    fn key_version(&self) -> u8 {
        self.keys.version
    }

    fn algorithm(&self) -> Algorithm {
        self.keys.algorithm()
    }

    fn kcvs(&self) -> Result<KcvSet, Error> {
        Ok(self.keys.kcvs())
    }

    fn session_keys(&self, kdd: &[u8], derivation: &SessionDerivation<'_>) -> Result<SessionKeys, Error> {
        let card = self.card_keys(kdd)?;
        match derivation {
            SessionDerivation::Scp02 { sequence_counter } => scp02::session_keys(&card, *sequence_counter),
            SessionDerivation::Scp03 { context } => scp03::session_keys(&card, context),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diversified_provider_gives_the_card_keys() {
        let kmc = SecretKey::from_hex(Algorithm::Tdes, "404142434445464748494A4B4C4D4E4F").expect("kmc");
        let p = SoftwareKeys::from_master(1, kmc.clone(), Diversification::EmvCps);
        // The KCVs are of the master: what a key ceremony record lists.
        assert_eq!(p.kcvs().expect("kcv").enc, kmc.kcv());
        let card = p.card_keys(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).expect("card");
        assert_eq!(card.enc.kcv().to_string(), "C33013");
    }

    #[test]
    fn mixed_ciphers_are_refused() {
        let set = KeySet {
            version: 1,
            enc: SecretKey::new(Algorithm::Aes, vec![1; 16]).expect("k"),
            mac: SecretKey::new(Algorithm::Sm4, vec![1; 16]).expect("k"),
            dek: SecretKey::new(Algorithm::Aes, vec![1; 16]).expect("k"),
        };
        assert!(SoftwareKeys::new(set).is_err());
    }
}
