//! The ledger's MAC key in the token: AES-CMAC (`CKM_AES_CMAC`, NIST SP 800-38B) over each
//! entry's chain hash, computed and checked inside the token.
//!
//! Why CMAC with AES: PKCS#11 defines no SM3, so HMAC-SM3 is not to be had from a token
//! generically (SoftHSM2 has none); SM4-CMAC needs a vendor's mechanism. `CKM_AES_CMAC` is in
//! every token this station uses already (SCP03's KDF runs on it), the key is an ordinary AES
//! key that the custodians' ceremony forms like any other, and on a token with SM4 the same
//! construction is SM4-CMAC with the vendor's mechanism in its place.
//!
//! The key is sign/verify only (no `CKA_ENCRYPT`: an ECB oracle would forge CMACs), so its
//! check value is its CMAC of a zero block (ANSI X9.24-1:2017's AES check value), first 3
//! bytes, for the ceremony's components as for the formed key.

use cryptoki::error::RvError;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::ObjectHandle;
use secure_channel::Kcv;

use crate::{Error, KeyKind, Keystore};

/// Length of a ledger MAC (a full AES block).
pub const LEDGER_MAC_LEN: usize = 16;

/// The ledger MAC key labelled in the configuration.
#[derive(Clone)]
pub struct LedgerMac {
    store: Keystore,
    handle: ObjectHandle,
    label: String,
}

impl std::fmt::Debug for LedgerMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LedgerMac({:?} in {:?})", self.label, self.store)
    }
}

impl LedgerMac {
    /// The AES key `label` (made by [`Keystore::generate_ledger_key`] or a ceremony with the
    /// ledger role).
    pub fn open(store: &Keystore, label: &str) -> Result<LedgerMac, Error> {
        store.require(MechanismType::AES_CMAC, "the ledger MAC")?;
        let found = store.find_kind(label, KeyKind::Aes)?;
        if found.role != Some(crate::KeyRole::LedgerMac) {
            return Err(Error::WrongKind {
                label: label.into(),
                expected: "a ledger MAC key (role ledger-mac)".into(),
                actual: format!("an AES key of role {}", found.role.map_or("?", |r| r.name())),
            });
        }
        Ok(LedgerMac { store: store.clone(), handle: found.handle, label: label.into() })
    }

    /// The key's label in the token.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Its check value (`CMAC_K(00*16)`, first 3 bytes).
    pub fn kcv(&self) -> Result<Kcv, Error> {
        self.store.kcv_of(KeyKind::Aes, Some(crate::KeyRole::LedgerMac), self.handle)
    }

    /// The MAC of `data`.
    pub fn mac(&self, data: &[u8]) -> Result<[u8; LEDGER_MAC_LEN], Error> {
        let tag = self
            .store
            .session()
            .sign(&Mechanism::AesCMac, self.handle, data)
            .map_err(Error::p11("C_Sign (ledger CMAC)"))?;
        tag.try_into().map_err(|_| Error::Invalid("the token's AES-CMAC is not 16 bytes".into()))
    }

    /// True when `tag` is the MAC of `data` (checked by the token).
    pub fn verify(&self, data: &[u8], tag: &[u8]) -> Result<bool, Error> {
        match self.store.session().verify(&Mechanism::AesCMac, self.handle, data, tag) {
            Ok(()) => Ok(true),
            Err(cryptoki::error::Error::Pkcs11(
                RvError::SignatureInvalid | RvError::SignatureLenRange,
                _,
            )) => Ok(false),
            Err(e) => Err(Error::p11("C_Verify (ledger CMAC)")(e)),
        }
    }
}
