//! The database wrapping key in the token: the station's data key (which opens `station.db`
//! and its files, see `archive::at_rest`) is kept on disk only encrypted under it, by
//! `C_Encrypt(CKM_AES_GCM)` inside the token, and unwrapped there by `C_Decrypt` at each start.
//!
//! Why AES-GCM through `C_Encrypt`/`C_Decrypt` rather than `CKM_AES_KEY_WRAP` through
//! `C_WrapKey`: the data key is not a token object (SQLCipher needs its bytes), so there is no
//! key object to wrap; AES-GCM is in SoftHSM2 and in the PKCS#11 tokens this station uses, and
//! authenticates what it decrypts (a damaged or swapped `station.db.key` is refused, not
//! turned into a wrong key). The 96-bit nonce comes from the token's generator
//! (`C_GenerateRandom`); the output is `nonce || ciphertext || tag`, the layout of
//! `archive::at_rest::seal`, so the simulators' wrapping key in memory writes the same file.
//!
//! The key is AES-256, encrypt/decrypt only (role `db-wrap`), sealed like every key here; its
//! check value is `E_K(01*16)` as for the other AES keys.

use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::ObjectHandle;
use secure_channel::Kcv;
use zeroize::Zeroizing;

use crate::{Error, KeyKind, KeyRole, Keystore};

/// Length of the nonce before each wrapped key.
pub const WRAP_NONCE_LEN: usize = 12;
/// Length of the GCM tag after it.
pub const WRAP_TAG_LEN: usize = 16;

/// The database wrapping key labelled in the configuration.
#[derive(Clone)]
pub struct DataWrapKey {
    store: Keystore,
    handle: ObjectHandle,
    label: String,
}

impl std::fmt::Debug for DataWrapKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataWrapKey({:?} in {:?})", self.label, self.store)
    }
}

impl DataWrapKey {
    /// The AES key `label` of role `db-wrap` (made by [`Keystore::generate_data_wrap_key`] or
    /// a ceremony with that role).
    pub fn open(store: &Keystore, label: &str) -> Result<DataWrapKey, Error> {
        store.require(MechanismType::AES_GCM, "the database wrapping key")?;
        let found = store.find_kind(label, KeyKind::Aes)?;
        if found.role != Some(KeyRole::DataWrap) {
            return Err(Error::WrongKind {
                label: label.into(),
                expected: "a database wrapping key (role db-wrap)".into(),
                actual: format!("an AES key of role {}", found.role.map_or("?", |r| r.name())),
            });
        }
        if found.len != 32 {
            return Err(Error::WrongKind {
                label: label.into(),
                expected: "an AES-256 database wrapping key".into(),
                actual: format!("AES-{}", found.len * 8),
            });
        }
        Ok(DataWrapKey { store: store.clone(), handle: found.handle, label: label.into() })
    }

    /// The key's label in the token.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Its check value (`E_K(01*16)`, first 3 bytes).
    pub fn kcv(&self) -> Result<Kcv, Error> {
        self.store.kcv_of(KeyKind::Aes, Some(KeyRole::DataWrap), self.handle)
    }

    /// `nonce || AES-GCM(key, aad, plain) || tag`, computed in the token.
    pub fn wrap(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, Error> {
        let mut nonce = [0u8; WRAP_NONCE_LEN];
        self.store
            .session()
            .generate_random_slice(&mut nonce)
            .map_err(Error::p11("C_GenerateRandom (wrapping nonce)"))?;
        let mut iv = nonce;
        let params = GcmParams::new(&mut iv, aad, (WRAP_TAG_LEN as u64 * 8).into())
            .map_err(|e| Error::Invalid(format!("AES-GCM parameters: {e}")))?;
        let sealed = self
            .store
            .session()
            .encrypt(&Mechanism::AesGcm(params), self.handle, plain)
            .map_err(Error::p11("C_Encrypt (AES-GCM, wrapping the data key)"))?;
        let mut out = Vec::with_capacity(WRAP_NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// What [`DataWrapKey::wrap`] wrapped, when the tag verifies in the token; `None` when it
    /// does not (another key, other associated data, or altered bytes).
    pub fn unwrap(&self, aad: &[u8], wrapped: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        if wrapped.len() < WRAP_NONCE_LEN + WRAP_TAG_LEN {
            return Ok(None);
        }
        let (nonce, text) = wrapped.split_at(WRAP_NONCE_LEN);
        let mut iv = [0u8; WRAP_NONCE_LEN];
        iv.copy_from_slice(nonce);
        let params = GcmParams::new(&mut iv, aad, (WRAP_TAG_LEN as u64 * 8).into())
            .map_err(|e| Error::Invalid(format!("AES-GCM parameters: {e}")))?;
        match self.store.session().decrypt(&Mechanism::AesGcm(params), self.handle, text) {
            Ok(plain) => Ok(Some(Zeroizing::new(plain))),
            // A tag that does not verify: `CKR_ENCRYPTED_DATA_INVALID` in PKCS#11 3.0; SoftHSM2
            // 2.6 answers `CKR_GENERAL_ERROR` (its OpenSSL final step failed), which a GCM
            // decryption of well-formed input gives for no other reason.
            Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::EncryptedDataInvalid
                | cryptoki::error::RvError::EncryptedDataLenRange
                | cryptoki::error::RvError::GeneralError,
                _,
            )) => Ok(None),
            Err(e) => Err(Error::p11("C_Decrypt (AES-GCM, unwrapping the data key)")(e)),
        }
    }
}
