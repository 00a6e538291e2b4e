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

/// The cost of deriving the key: what a thief with the laptop pays per password guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfCost {
    /// Memory, KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfCost {
    /// New stores: 64 MiB and 3 passes, a stolen-laptop level (OWASP's Argon2id floor is
    /// 19 MiB with 2 passes; this is three times the memory and one more pass), about a
    /// quarter of a second on the kit's laptop for the operator, per guess for a thief.
    pub const STOLEN_LAPTOP: KdfCost = KdfCost { m_kib: 64 * 1024, t: 3, p: 1 };
    /// Stores made before the cost was raised (the argon2 crate's default): they still open,
    /// for the week of their lease.
    pub const LEGACY: KdfCost = KdfCost { m_kib: 19 * 1024, t: 2, p: 1 };

    /// As the store keeps it (`argon2id m=65536 t=3 p=1`).
    pub fn to_text(self) -> String {
        format!("argon2id m={} t={} p={}", self.m_kib, self.t, self.p)
    }

    /// Parses what [`KdfCost::to_text`] wrote; a store without it is [`KdfCost::LEGACY`].
    pub fn parse(text: &str) -> Option<KdfCost> {
        let mut parts = text.split_whitespace();
        if parts.next()? != "argon2id" {
            return None;
        }
        let mut get = |name: &str| parts.next()?.strip_prefix(name)?.parse::<u32>().ok();
        let cost = KdfCost { m_kib: get("m=")?, t: get("t=")?, p: get("p=")? };
        // A store cannot ask for less than the legacy cost (an edited meta row).
        (cost.m_kib >= KdfCost::LEGACY.m_kib && cost.t >= KdfCost::LEGACY.t && cost.p >= 1).then_some(cost)
    }
}

/// The passphrase policy for a new kit store: at least 12 characters, of at least two kinds
/// (letters, digits, other characters such as spaces, punctuation or Chinese), no character
/// making up half of it, and not containing the kit's id. A laptop's store is only as strong
/// as its passphrase; the rule keeps out the guesses a thief tries first.
pub fn passphrase_policy(password: &str, kit_id: &str) -> Result<(), VaultError> {
    let chars: Vec<char> = password.chars().collect();
    if chars.len() < 12 {
        return Err(VaultError::Password(
            "use a passphrase of at least 12 characters (a few words are easier to remember)".into(),
        ));
    }
    let kinds = [
        chars.iter().any(|c| c.is_ascii_alphabetic()),
        chars.iter().any(|c| c.is_ascii_digit()),
        chars.iter().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if kinds.iter().filter(|k| **k).count() < 2 {
        return Err(VaultError::Password(
            "mix at least two kinds of characters: letters, digits, others (spaces, punctuation, Chinese)"
                .into(),
        ));
    }
    if chars.iter().any(|c| chars.iter().filter(|d| *d == c).count() * 2 >= chars.len()) {
        return Err(VaultError::Password(
            "one character makes up half of the passphrase: choose another".into(),
        ));
    }
    if !kit_id.is_empty() && password.to_lowercase().contains(&kit_id.to_lowercase()) {
        return Err(VaultError::Password("the passphrase contains the kit's id: choose another".into()));
    }
    Ok(())
}

/// The session's key.
pub struct Vault {
    cipher: Aes256Gcm,
}

impl Vault {
    /// Derives the key from `password` and the store's `salt` (Argon2id at `cost`).
    pub fn derive(password: &str, salt: &[u8], cost: KdfCost) -> Result<Vault, VaultError> {
        if password.chars().count() < 8 {
            return Err(VaultError::Password("use at least 8 characters".into()));
        }
        let params = argon2::Params::new(cost.m_kib, cost.t, cost.p, Some(32))
            .map_err(|e| VaultError::Password(e.to_string()))?;
        let mut key = Zeroizing::new([0u8; 32]);
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
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
        let v = Vault::derive("correct horse", &salt, KdfCost::LEGACY).expect("key");
        let sealed = v.seal("outbox:1", b"11010519491231002X").expect("seal");
        assert!(
            !sealed.windows(18).any(|w| w == b"11010519491231002X"),
            "no plain text in the sealed record"
        );
        assert_eq!(v.open("outbox:1", &sealed).expect("open").as_slice(), b"11010519491231002X");
        assert!(matches!(v.open("outbox:2", &sealed), Err(VaultError::Open)), "moved to another row");
        let wrong = Vault::derive("correct horsf", &salt, KdfCost::LEGACY).expect("key");
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
        assert!(matches!(Vault::derive("short", &salt, KdfCost::LEGACY), Err(VaultError::Password(_))));
        let strong = Vault::derive("correct horse", &salt, KdfCost::STOLEN_LAPTOP).expect("key");
        assert!(strong.open("outbox:1", &sealed).is_err(), "another cost, another key");
    }

    #[test]
    fn the_cost_is_kept_with_the_store_and_never_below_the_legacy_one() {
        let text = KdfCost::STOLEN_LAPTOP.to_text();
        assert_eq!(text, "argon2id m=65536 t=3 p=1");
        assert_eq!(KdfCost::parse(&text), Some(KdfCost::STOLEN_LAPTOP));
        assert_eq!(KdfCost::parse(&KdfCost::LEGACY.to_text()), Some(KdfCost::LEGACY));
        assert_eq!(KdfCost::parse("argon2id m=1024 t=1 p=1"), None, "an edited row asks for less");
        assert_eq!(KdfCost::parse("scrypt n=16"), None);
    }

    #[test]
    fn a_new_store_needs_a_passphrase_a_thief_does_not_guess_first() {
        assert!(passphrase_policy("kit operator's password", "kit-1").is_ok());
        assert!(passphrase_policy("老李 上门 2026 龙街", "kit-1").is_ok());
        for (bad, why) in [
            ("Short 1", "12 characters"),
            ("abcdefghijklmn", "two kinds"),
            ("123456789012", "two kinds"),
            ("aaaaaaaa1234", "half"),
            ("my KIT-1 passphrase", "kit's id"),
        ] {
            match passphrase_policy(bad, "kit-1") {
                Err(VaultError::Password(m)) => assert!(m.contains(why), "{bad}: {m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
