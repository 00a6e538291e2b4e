//! The ledger's MAC key in the token: HMAC-SHA256 (`CKM_SHA256_HMAC`) over each entry.
//! HMAC-SM3 would fit the SM3 chain better, but SoftHSM2 has no SM3 (nor does PKCS#11 define
//! it); AES-CMAC (`CKM_AES_CMAC`) would do as well, HMAC-SHA256 is chosen for its 32-byte tag.

use cryptoki::error::RvError;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::ObjectHandle;
use secure_channel::Kcv;

use crate::{Error, KeyKind, Keystore};

/// Length of a ledger MAC.
pub const LEDGER_MAC_LEN: usize = 32;

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
    /// The HMAC key `label` (made by [`Keystore::generate_ledger_key`] or a ceremony).
    pub fn open(store: &Keystore, label: &str) -> Result<LedgerMac, Error> {
        store.require(MechanismType::SHA256_HMAC, "the ledger MAC")?;
        let found = store.find_kind(label, KeyKind::HmacSha256)?;
        Ok(LedgerMac { store: store.clone(), handle: found.handle, label: label.into() })
    }

    /// Its check value (`HMAC_K(00*16)`, first 3 bytes).
    pub fn kcv(&self) -> Result<Kcv, Error> {
        self.store.kcv_of(KeyKind::HmacSha256, self.handle)
    }

    /// The MAC of `data`.
    pub fn mac(&self, data: &[u8]) -> Result<[u8; LEDGER_MAC_LEN], Error> {
        let tag = self
            .store
            .session()
            .sign(&Mechanism::Sha256Hmac, self.handle, data)
            .map_err(Error::p11("C_Sign (ledger HMAC)"))?;
        tag.try_into().map_err(|_| Error::Invalid("the token's HMAC-SHA256 is not 32 bytes".into()))
    }

    /// True when `tag` is the MAC of `data` (checked by the token).
    pub fn verify(&self, data: &[u8], tag: &[u8]) -> Result<bool, Error> {
        match self.store.session().verify(&Mechanism::Sha256Hmac, self.handle, data, tag) {
            Ok(()) => Ok(true),
            Err(cryptoki::error::Error::Pkcs11(
                RvError::SignatureInvalid | RvError::SignatureLenRange,
                _,
            )) => Ok(false),
            Err(e) => Err(Error::p11("C_Verify (ledger HMAC)")(e)),
        }
    }
}
