//! The DP transport key in the token: the data-preparation file's encrypted DGIs (80-padded,
//! 3DES-ECB, emv-cps's format) are decrypted by `C_Decrypt(CKM_DES3_ECB)` inside it. The
//! padded plaintext comes back to the host (it is re-encrypted under the session DEK for
//! STORE DATA), zeroised on drop.

use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::ObjectHandle;
use secure_channel::{unpad80, Kcv};
use zeroize::Zeroizing;

use crate::{Error, KeyKind, Keystore};

/// The transport key labelled in the configuration.
#[derive(Clone)]
pub struct TransportKey {
    store: Keystore,
    handle: ObjectHandle,
    label: String,
}

impl std::fmt::Debug for TransportKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TransportKey({:?} in {:?})", self.label, self.store)
    }
}

impl TransportKey {
    /// The 3DES transport key `label`.
    pub fn open(store: &Keystore, label: &str) -> Result<TransportKey, Error> {
        store.require(MechanismType::DES3_ECB, "the DP transport key")?;
        let found = store.find_kind(label, KeyKind::Tdes)?;
        Ok(TransportKey { store: store.clone(), handle: found.handle, label: label.into() })
    }

    /// Its check value (`E_K(00*8)`, first 3 bytes), what the DP file's
    /// `transport_key_kcv` names.
    pub fn kcv(&self) -> Result<Kcv, Error> {
        self.store.kcv_of(KeyKind::Tdes, None, self.handle)
    }

    /// The padded plaintext of encrypted DGI `dgi`, as `emv_cps::decrypt_from_transport`
    /// returns it; refused when the padding does not survive (a damaged file or another key).
    pub fn decrypt_dgi(&self, dgi: u16, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(8) {
            return Err(Error::Invalid(format!(
                "DGI {dgi:04X}: {} bytes is not a whole number of 3DES blocks",
                ciphertext.len()
            )));
        }
        let plain = Zeroizing::new(
            self.store
                .session()
                .decrypt(&Mechanism::Des3Ecb, self.handle, ciphertext)
                .map_err(Error::p11(format!("C_Decrypt (DGI {dgi:04X})")))?,
        );
        if unpad80(&plain).is_none() {
            return Err(Error::TransportPadding(dgi));
        }
        Ok(plain)
    }
}

/// emv-cps personalises with the transport key in the token: the check value and each DGI's
/// decryption come from it.
impl emv_cps::TransportDecrypt for TransportKey {
    fn transport_kcv(&self) -> Result<Kcv, emv_cps::Error> {
        self.kcv().map_err(|e| emv_cps::Error::SecureChannel(e.into()))
    }

    fn decrypt_dgi(&self, dgi: u16, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, emv_cps::Error> {
        TransportKey::decrypt_dgi(self, dgi, ciphertext).map_err(|e| match e {
            Error::TransportPadding(_) => emv_cps::Error::Dp(e.to_string()),
            other => emv_cps::Error::SecureChannel(other.into()),
        })
    }
}
