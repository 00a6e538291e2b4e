//! The kit's key: Argon2id of the operator's password (salt kept in the store) gives the
//! AES-256-GCM key that seals every record of the store. The key lives only in memory for the
//! session (zeroized on drop); a lost laptop holds ciphertext, a salt and a check value.
//! Each sealed record is `nonce (12) || ciphertext || tag (16)`, with its table and key as
//! associated data, so records cannot be swapped between rows unnoticed.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

/// Why a record could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// Wrong password, or the record was altered or moved.
    #[error("the kit's data does not open with this password (or was altered): check the password")]
    Open,
    /// The operating system gave no randomness.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    /// The password cannot be used.
    #[error("password: {0}")]
    Password(String),
}

/// Random bytes from the operating system.
pub fn random<const N: usize>() -> Result<[u8; N], VaultError> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).map_err(|e| VaultError::Random(e.to_string()))?;
    Ok(b)
}

/// The session's key.
pub struct Vault {
    cipher: Aes256Gcm,
}

impl Vault {
    /// Derives the key from `password` and the store's `salt` (Argon2id, default cost:
    /// 19 MiB, 2 passes).
    pub fn derive(password: &str, salt: &[u8]) -> Result<Vault, VaultError> {
        if password.chars().count() < 8 {
            return Err(VaultError::Password("use at least 8 characters".into()));
        }
        let mut key = Zeroizing::new([0u8; 32]);
        argon2::Argon2::default()
            .hash_password_into(password.as_bytes(), salt, key.as_mut())
            .map_err(|e| VaultError::Password(e.to_string()))?;
        let cipher =
            Aes256Gcm::new_from_slice(key.as_ref()).map_err(|e| VaultError::Password(e.to_string()))?;
        Ok(Vault { cipher })
    }

    /// Seals `plain` for the row named `aad`.
    pub fn seal(&self, aad: &str, plain: &[u8]) -> Result<Vec<u8>, VaultError> {
        let nonce = random::<12>()?;
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad: aad.as_bytes() })
            .map_err(|_| VaultError::Open)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a record sealed for the row named `aad`.
    pub fn open(&self, aad: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        if sealed.len() < 12 + 16 {
            return Err(VaultError::Open);
        }
        let (nonce, body) = sealed.split_at(12);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: aad.as_bytes() })
            .map(Zeroizing::new)
            .map_err(|_| VaultError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_opens_only_with_the_same_password_and_row() {
        let salt = random::<16>().expect("salt");
        let v = Vault::derive("correct horse", &salt).expect("key");
        let sealed = v.seal("outbox:1", b"11010519491231002X").expect("seal");
        assert!(
            !sealed.windows(18).any(|w| w == b"11010519491231002X"),
            "no plain text in the sealed record"
        );
        assert_eq!(v.open("outbox:1", &sealed).expect("open").as_slice(), b"11010519491231002X");
        assert!(matches!(v.open("outbox:2", &sealed), Err(VaultError::Open)), "moved to another row");
        let wrong = Vault::derive("correct horsf", &salt).expect("key");
        assert!(matches!(wrong.open("outbox:1", &sealed), Err(VaultError::Open)), "wrong password");
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(matches!(v.open("outbox:1", &altered), Err(VaultError::Open)), "altered");
        assert_ne!(
            v.seal("outbox:1", b"x").expect("seal"),
            v.seal("outbox:1", b"x").expect("seal"),
            "fresh nonce"
        );
        assert!(matches!(Vault::derive("short", &salt), Err(VaultError::Password(_))));
    }
}
