//! Who computes the EXTERNAL AUTHENTICATE cryptogram: the PSAM in the reader's SAM slot, or
//! a service that holds the master keys (an HSM), behind one trait.

use apdu::{expect_ok, Command};
use card_crypto::{Algorithm, Key};
use card_transport::CardTransaction;
use firmware_profile::PsamKeyRef;

/// AID of the PSAM's social-security application.
pub const PSAM_AID: [u8; 6] = [0xD1, 0x56, 0x00, 0x00, 0x05, 0x90];

/// One cryptogram to compute: the card key is the PSAM master `psam_key` diversified by
/// `factors` ([`card_crypto::ssse_factors`] order); the result is E_K(`challenge`).
#[derive(Debug, Clone, Copy)]
pub struct AuthRequest<'a> {
    /// Which master key (usage byte and key id: the first two bytes of a key triple).
    pub psam_key: PsamKeyRef,
    /// The card key's algorithm (the master key must match).
    pub algorithm: Algorithm,
    /// Diversification factors, card first.
    pub factors: &'a [[u8; 8]],
    /// The card's challenge (GET CHALLENGE).
    pub challenge: &'a [u8],
}

/// Why no cryptogram came back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The PSAM refused or the link to it failed (step and status word kept).
    #[error("PSAM: {0}")]
    Psam(#[from] apdu::Error),
    /// The provider has no such master key.
    #[error("no master key {:02X}/{:02X} ({algorithm:?}): check the key triples of the firmware profile against the PSAM or key service", psam_key.usage, psam_key.id)]
    UnknownKey {
        /// The key asked for.
        psam_key: PsamKeyRef,
        /// Its algorithm.
        algorithm: Algorithm,
    },
    /// The PSAM answered something that is not a cryptogram.
    #[error("PSAM answered {len} bytes to 80 FA; a cryptogram is {expected}")]
    BadCryptogram {
        /// Length received.
        len: usize,
        /// Length expected.
        expected: usize,
    },
}

/// Computes external-authentication cryptograms without ever showing the card key.
pub trait KeyProvider {
    /// The 16-byte cryptogram for `request`.
    fn external_auth(&mut self, request: &AuthRequest<'_>) -> Result<Vec<u8>, KeyError>;
}

/// The PSAM in a SAM slot: `SELECT D15600000590`, `BF DE` (diversify), `80 FA` (encrypt),
/// with 61xx handled by the APDU layer.
pub struct Psam<'t> {
    tx: &'t mut dyn CardTransaction,
    selected: bool,
}

impl<'t> Psam<'t> {
    /// A PSAM client over an open transaction with the SAM slot's card.
    pub fn new(tx: &'t mut dyn CardTransaction) -> Psam<'t> {
        Psam { tx, selected: false }
    }
}

impl KeyProvider for Psam<'_> {
    fn external_auth(&mut self, r: &AuthRequest<'_>) -> Result<Vec<u8>, KeyError> {
        if !self.selected || self.tx.was_reset() {
            expect_ok(self.tx, &Command::select_aid(&PSAM_AID), "SELECT PSAM application D15600000590")?;
            self.selected = true;
        }
        let factors: Vec<u8> = r.factors.concat();
        let (usage, id) = (r.psam_key.usage, r.psam_key.id);
        let diversify = Command::new(0xBF, 0xDE, usage, id).with_data(factors);
        expect_ok(self.tx, &diversify, &format!("PSAM BF DE diversify key {usage:02X}/{id:02X}"))?;
        let encrypt = Command::new(0x80, 0xFA, 0, 0)
            .with_data(r.challenge.to_vec())
            .with_le(card_crypto::CRYPTOGRAM_LEN);
        let out = expect_ok(self.tx, &encrypt, "PSAM 80 FA encrypt the card challenge")?;
        if out.len() != card_crypto::CRYPTOGRAM_LEN {
            return Err(KeyError::BadCryptogram { len: out.len(), expected: card_crypto::CRYPTOGRAM_LEN });
        }
        Ok(out)
    }
}

/// Master keys in memory: what an HSM service does, for tests and a counter whose province
/// serves keys from a key service. Keys zeroise on drop.
#[derive(Debug, Default)]
pub struct SoftwareKeys {
    masters: Vec<(PsamKeyRef, Algorithm, Key)>,
}

impl SoftwareKeys {
    /// Adds a master key.
    pub fn insert(&mut self, psam_key: PsamKeyRef, algorithm: Algorithm, key: Key) {
        self.masters.retain(|(k, _, _)| *k != psam_key);
        self.masters.push((psam_key, algorithm, key));
    }
}

impl KeyProvider for SoftwareKeys {
    fn external_auth(&mut self, r: &AuthRequest<'_>) -> Result<Vec<u8>, KeyError> {
        let unknown = || KeyError::UnknownKey { psam_key: r.psam_key, algorithm: r.algorithm };
        let (_, _, master) = self
            .masters
            .iter()
            .find(|(k, a, _)| *k == r.psam_key && *a == r.algorithm)
            .ok_or_else(unknown)?;
        let card_key =
            card_crypto::ssse_card_key(r.algorithm, master.expose(), r.factors).map_err(|_| unknown())?;
        card_crypto::external_auth_cryptogram(r.algorithm, card_key.expose(), r.challenge)
            .map_err(|_| unknown())
    }
}
