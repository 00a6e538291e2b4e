//! Personal data at rest (issue #25 item 4): the station's data key, which opens `station.db`
//! (SQLCipher, AES-256 per page) and from which the key of the files kept beside it (photos,
//! signatures, activation photos) is derived.
//!
//! - [`DataKey`]: 32 random bytes, kept on disk only wrapped by a key in the station's token
//!   (`station.db.key`, see the station crate's `db_key`); here it is only used. It never
//!   prints: its `Debug` shows nothing of it.
//! - [`FileKey`]: `HKDF-SHA256(data key, info "station files v1")`, an AES-256-GCM key. Each file
//!   is [`MAGIC`], a random 96-bit nonce, the ciphertext and its tag; the file's name is the
//!   associated data, so a file renamed (another card's evidence put in its place) does not
//!   open. A file without the magic is a file written before encryption and reads as it is.
//! - [`seal`]/[`unseal`]: AES-256-GCM with a random nonce (`nonce || ciphertext || tag`), the
//!   one construction both the files and the simulators' in-memory key wrap use.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

/// The first bytes of a sealed file: a JPEG (`FF D8`) or PNG (`89 50`) never starts so.
pub const MAGIC: &[u8; 8] = b"SSCENC1\0";

/// The length of the nonce before each sealed text.
pub const NONCE_LEN: usize = 12;

/// The length of the tag after each sealed text.
pub const TAG_LEN: usize = 16;

/// HKDF's info for the files' key: another use of the data key takes another string.
const FILES_INFO: &[u8] = b"station files v1";

/// Why sealed data did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Too short to hold a nonce and a tag.
    #[error("{0} bytes is too short for sealed data: the file is cut short")]
    Short(usize),
    /// The tag does not verify: another key, another name, or altered bytes.
    #[error("it does not open with this station's key: altered, renamed, or another station's")]
    Tag,
    /// The system's random generator failed.
    #[error("the system's random generator: {0}")]
    Random(String),
}

/// `key`: AES-256-GCM of `plain` with associated data `aad` under a fresh random nonce:
/// `nonce || ciphertext || tag`.
pub fn seal(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::getrandom(&mut nonce).map_err(|e| SealError::Random(e.to_string()))?;
    let cipher = Aes256Gcm::new(key.into());
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
        .map_err(|_| SealError::Random("AES-GCM refused the text (longer than 64 GiB)".into()))?;
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// The plaintext of [`seal`]'s output, when its tag verifies under `key` and `aad`.
pub fn unseal(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(SealError::Short(sealed.len()));
    }
    let (nonce, text) = sealed.split_at(NONCE_LEN);
    Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(nonce), Payload { msg: text, aad })
        .map(Zeroizing::new)
        .map_err(|_| SealError::Tag)
}

/// The station's data key: 32 random bytes, wiped when dropped.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// A new key from the system's random generator.
    pub fn generate() -> Result<DataKey, SealError> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(key.as_mut()).map_err(|e| SealError::Random(e.to_string()))?;
        Ok(DataKey(key))
    }

    /// The key of these 32 bytes (an unwrapped `station.db.key`).
    pub fn from_bytes(bytes: &[u8]) -> Option<DataKey> {
        let mut key = Zeroizing::new([0u8; 32]);
        if bytes.len() != key.len() {
            return None;
        }
        key.copy_from_slice(bytes);
        Some(DataKey(key))
    }

    /// Its bytes, for the wrapping key only.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// SQLCipher's raw key literal (`x'<64 hex digits>'`): used as the page key as it is, no
    /// key derivation at each open.
    pub(crate) fn sqlcipher_literal(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(67));
        s.push_str("x'");
        for b in self.0.iter() {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0x0F)]));
        }
        s.push('\'');
        s
    }

    /// The key of the files kept beside `station.db`.
    pub fn files(&self) -> FileKey {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, self.0.as_ref());
        let mut key = Zeroizing::new([0u8; 32]);
        hk.expand(FILES_INFO, key.as_mut()).expect("32 bytes is a valid HKDF-SHA256 output length");
        FileKey(key)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The key of the station's files (photos and evidence), derived from the [`DataKey`].
#[derive(Clone)]
pub struct FileKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey(..)")
    }
}

impl FileKey {
    /// The bytes to write as file `name`: [`MAGIC`] and `plain` sealed with the name as
    /// associated data.
    pub fn seal(&self, name: &str, plain: &[u8]) -> Result<Vec<u8>, SealError> {
        let sealed = seal(&self.0, name.as_bytes(), plain)?;
        let mut out = Vec::with_capacity(MAGIC.len() + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The content of file `name` read as `bytes`: unsealed when it starts with [`MAGIC`], as
    /// it is otherwise (a file kept before the station encrypted its files).
    pub fn open(&self, name: &str, bytes: Vec<u8>) -> Result<Zeroizing<Vec<u8>>, SealError> {
        match bytes.strip_prefix(MAGIC.as_slice()) {
            Some(sealed) => unseal(&self.0, name.as_bytes(), sealed),
            None => Ok(Zeroizing::new(bytes)),
        }
    }
}

/// Whether `bytes` (a file's content) are sealed by a [`FileKey`].
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_open_only_under_their_name_and_key_and_old_plain_files_still_read() {
        let key = DataKey::generate().expect("random");
        let files = key.files();
        let jpeg = b"\xFF\xD8\xFF\xE0 a photo".to_vec();
        let sealed = files.seal("capture-01.jpg", &jpeg).expect("seal");
        assert!(is_sealed(&sealed) && !sealed.windows(jpeg.len()).any(|w| w == jpeg.as_slice()));
        assert_eq!(files.open("capture-01.jpg", sealed.clone()).expect("open").as_slice(), jpeg);
        // Two seals of one photo differ (a fresh nonce each).
        assert_ne!(files.seal("capture-01.jpg", &jpeg).expect("seal"), sealed);
        // Another name (a file put in another's place), another station's key, altered bytes.
        assert_eq!(files.open("capture-02.jpg", sealed.clone()), Err(SealError::Tag));
        let other = DataKey::generate().expect("random").files();
        assert_eq!(other.open("capture-01.jpg", sealed.clone()), Err(SealError::Tag));
        let mut altered = sealed.clone();
        *altered.last_mut().expect("bytes") ^= 1;
        assert_eq!(files.open("capture-01.jpg", altered), Err(SealError::Tag));
        assert_eq!(files.open("capture-01.jpg", MAGIC.to_vec()), Err(SealError::Short(0)));
        // A photo kept before encryption reads as it was.
        assert_eq!(files.open("old.jpg", jpeg.clone()).expect("plain").as_slice(), jpeg);
    }

    #[test]
    fn the_files_key_is_derived_and_the_keys_never_print() {
        let key = DataKey::from_bytes(&[7u8; 32]).expect("32 bytes");
        assert!(DataKey::from_bytes(&[7u8; 31]).is_none());
        // RFC 5869 HKDF-SHA256, no salt, info "station files v1": fixed by the key alone.
        let files = key.files();
        assert_ne!(files.0.as_slice(), key.bytes().as_slice());
        assert_eq!(files.0.as_slice(), key.clone().files().0.as_slice());
        let literal = key.sqlcipher_literal();
        assert_eq!(literal.len(), 67);
        assert!(literal.starts_with("x'0707") && literal.ends_with("07'"));
        assert_eq!(format!("{key:?} {files:?}"), "DataKey(..) FileKey(..)");
    }
}
