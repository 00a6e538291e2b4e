//! Keys and the block-cipher modes every scheme is built from. One [`SecretKey`] type for
//! 3DES, AES and SM4, so the schemes take the cipher as a parameter instead of being written
//! three times. The 3DES and SM4 blocks and the retail MAC are `card-crypto`'s (one
//! definition for every card protocol of the workspace); AES, which no other card protocol
//! here uses, and CMAC come from RustCrypto directly.

use crate::Error;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use cmac::{Cmac, Mac};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The block cipher of a key. SCP02 uses [`Algorithm::Tdes`]; SCP03 uses [`Algorithm::Aes`],
/// and the SM4 variant is SCP03 with [`Algorithm::Sm4`] in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Triple DES, 2-key (16 bytes) or 3-key (24 bytes); 8-byte blocks.
    Tdes,
    /// AES-128/192/256 (16, 24 or 32 bytes); 16-byte blocks.
    Aes,
    /// SM4 (GB/T 32907), 16-byte key and blocks.
    Sm4,
}

impl Algorithm {
    /// Block length in bytes.
    pub fn block_size(self) -> usize {
        match self {
            Algorithm::Tdes => 8,
            Algorithm::Aes | Algorithm::Sm4 => 16,
        }
    }

    /// True when `len` is a valid key length for this cipher.
    pub fn key_len_ok(self, len: usize) -> bool {
        match self {
            Algorithm::Tdes => len == 16 || len == 24,
            Algorithm::Aes => matches!(len, 16 | 24 | 32),
            Algorithm::Sm4 => len == 16,
        }
    }

    /// Short name for messages and logs.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Tdes => "3DES",
            Algorithm::Aes => "AES",
            Algorithm::Sm4 => "SM4",
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Secret key bytes with their cipher. Zeroised on drop; `Debug` shows the cipher and the
/// length, never the bytes.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey {
    #[zeroize(skip)]
    algorithm: Algorithm,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({} {} bytes)", self.algorithm, self.bytes.len())
    }
}

/// The cipher with its key schedule, chosen once per operation. The cipher crates zeroise
/// their schedules on drop (their `zeroize` feature is on).
enum Engine {
    /// 3DES or SM4.
    Card(card_crypto::BlockCipher),
    Aes128(aes::Aes128),
    Aes192(aes::Aes192),
    Aes256(aes::Aes256),
}

impl Engine {
    fn encrypt_block(&self, block: &mut [u8]) {
        match self {
            // The block length was checked by the caller: this cannot fail.
            Engine::Card(c) => c.encrypt_block(block).unwrap_or(()),
            Engine::Aes128(c) => c.encrypt_block(GenericArray::from_mut_slice(block)),
            Engine::Aes192(c) => c.encrypt_block(GenericArray::from_mut_slice(block)),
            Engine::Aes256(c) => c.encrypt_block(GenericArray::from_mut_slice(block)),
        }
    }

    fn decrypt_block(&self, block: &mut [u8]) {
        match self {
            Engine::Card(c) => c.decrypt_block(block).unwrap_or(()),
            Engine::Aes128(c) => c.decrypt_block(GenericArray::from_mut_slice(block)),
            Engine::Aes192(c) => c.decrypt_block(GenericArray::from_mut_slice(block)),
            Engine::Aes256(c) => c.decrypt_block(GenericArray::from_mut_slice(block)),
        }
    }
}

impl SecretKey {
    /// Wraps key bytes for `algorithm`; refuses a length the cipher does not take.
    pub fn new(algorithm: Algorithm, bytes: impl Into<Vec<u8>>) -> Result<SecretKey, Error> {
        let bytes = Zeroizing::new(bytes.into());
        if !algorithm.key_len_ok(bytes.len()) {
            return Err(Error::Key(format!("a {}-byte key does not fit {algorithm}", bytes.len())));
        }
        Ok(SecretKey { algorithm, bytes: bytes.to_vec() })
    }

    /// A key from hex (tests, configuration of test keys); the text is not kept.
    pub fn from_hex(algorithm: Algorithm, hex_text: &str) -> Result<SecretKey, Error> {
        let clean: Zeroizing<String> =
            Zeroizing::new(hex_text.chars().filter(|c| !c.is_whitespace()).collect());
        if !clean.len().is_multiple_of(2) || !clean.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Key("key is not an even number of hex digits".into()));
        }
        let mut bytes = Vec::with_capacity(clean.len() / 2);
        for pair in clean.as_bytes().chunks(2) {
            let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
            bytes.push(digit(pair[0]) << 4 | digit(pair[1]));
        }
        SecretKey::new(algorithm, bytes)
    }

    /// The cipher this key is for.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Key length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: an empty key cannot be built. Here for clippy's `len` convention.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The key bytes, for a cipher or an HSM import only.
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }

    /// The key check value: 3DES `E_K(00*8)`, AES and SM4 `E_K(01*16)`, first 3 bytes.
    pub fn kcv(&self) -> crate::Kcv {
        let block = match self.algorithm {
            Algorithm::Tdes => vec![0u8; 8],
            Algorithm::Aes | Algorithm::Sm4 => vec![1u8; 16],
        };
        // The block is whole and the key length was checked in `new`: this cannot fail.
        let out = self.encrypt_ecb(&block).unwrap_or_default();
        let mut kcv = [0u8; 3];
        if let Some(first) = out.get(..3) {
            kcv.copy_from_slice(first);
        }
        crate::Kcv(kcv)
    }

    fn engine(&self) -> Result<Engine, Error> {
        let k = &self.bytes[..];
        let card = |alg| {
            card_crypto::BlockCipher::new(alg, k).map(Engine::Card).map_err(|e| Error::Key(e.to_string()))
        };
        match (self.algorithm, k.len()) {
            (Algorithm::Tdes, _) => card(card_crypto::Algorithm::TripleDes),
            (Algorithm::Sm4, _) => card(card_crypto::Algorithm::Sm4),
            (Algorithm::Aes, 16) => Ok(Engine::Aes128(aes::Aes128::new(GenericArray::from_slice(k)))),
            (Algorithm::Aes, 24) => Ok(Engine::Aes192(aes::Aes192::new(GenericArray::from_slice(k)))),
            (Algorithm::Aes, _) => Ok(Engine::Aes256(aes::Aes256::new(GenericArray::from_slice(k)))),
        }
    }

    fn check_blocks(&self, len: usize) -> Result<(), Error> {
        let bs = self.algorithm.block_size();
        if len == 0 || !len.is_multiple_of(bs) {
            return Err(Error::Key(format!("{len} bytes is not a whole number of {bs}-byte blocks")));
        }
        Ok(())
    }

    /// ECB encryption of whole blocks.
    pub fn encrypt_ecb(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        self.check_blocks(data.len())?;
        let engine = self.engine()?;
        let mut out = data.to_vec();
        for block in out.chunks_mut(self.algorithm.block_size()) {
            engine.encrypt_block(block);
        }
        Ok(out)
    }

    /// ECB decryption of whole blocks.
    pub fn decrypt_ecb(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        self.check_blocks(data.len())?;
        let engine = self.engine()?;
        let mut out = data.to_vec();
        for block in out.chunks_mut(self.algorithm.block_size()) {
            engine.decrypt_block(block);
        }
        Ok(out)
    }

    /// CBC encryption of whole blocks with `iv` (one block long).
    pub fn encrypt_cbc(&self, iv: &[u8], data: &[u8]) -> Result<Vec<u8>, Error> {
        self.check_blocks(data.len())?;
        let bs = self.algorithm.block_size();
        if iv.len() != bs {
            return Err(Error::Key(format!("IV of {} bytes for {bs}-byte blocks", iv.len())));
        }
        let engine = self.engine()?;
        let mut out = data.to_vec();
        let mut chain = iv.to_vec();
        for block in out.chunks_mut(bs) {
            xor_into(block, &chain);
            engine.encrypt_block(block);
            chain.copy_from_slice(block);
        }
        Ok(out)
    }

    /// CBC decryption of whole blocks with `iv` (one block long).
    pub fn decrypt_cbc(&self, iv: &[u8], data: &[u8]) -> Result<Vec<u8>, Error> {
        self.check_blocks(data.len())?;
        let bs = self.algorithm.block_size();
        if iv.len() != bs {
            return Err(Error::Key(format!("IV of {} bytes for {bs}-byte blocks", iv.len())));
        }
        let engine = self.engine()?;
        let mut out = data.to_vec();
        let mut chain = iv.to_vec();
        for block in out.chunks_mut(bs) {
            let cipher_block = block.to_vec();
            engine.decrypt_block(block);
            xor_into(block, &chain);
            chain = cipher_block;
        }
        Ok(out)
    }

    /// NIST SP 800-38B CMAC (16-byte block ciphers only: AES and SM4).
    pub fn cmac(&self, data: &[u8]) -> Result<[u8; 16], Error> {
        fn run<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Result<[u8; 16], Error> {
            let mut mac =
                <M as KeyInit>::new_from_slice(key).map_err(|_| Error::Key("CMAC key length".into()))?;
            mac.update(data);
            let tag = mac.finalize().into_bytes();
            let mut out = [0u8; 16];
            out.copy_from_slice(&tag[..16]);
            Ok(out)
        }
        let k = &self.bytes[..];
        match (self.algorithm, k.len()) {
            (Algorithm::Aes, 16) => run::<Cmac<aes::Aes128>>(k, data),
            (Algorithm::Aes, 24) => run::<Cmac<aes::Aes192>>(k, data),
            (Algorithm::Aes, _) => run::<Cmac<aes::Aes256>>(k, data),
            (Algorithm::Sm4, _) => run::<Cmac<sm4::Sm4>>(k, data),
            (Algorithm::Tdes, _) => Err(Error::Key("CMAC is used with AES or SM4 keys, not 3DES".into())),
        }
    }

    /// The check value of a key that only computes MACs (an encryption with it would forge
    /// them): its CMAC of a zero block, first 3 bytes (ANSI X9.24-1:2017's AES check value).
    pub fn cmac_kcv(&self) -> Result<crate::Kcv, Error> {
        let tag = self.cmac(&[0u8; 16])?;
        Ok(crate::Kcv([tag[0], tag[1], tag[2]]))
    }

    /// The full 3DES CBC-MAC of SCP02 cryptograms: 80-padding, 3DES-CBC with IV 0, last block.
    pub fn full_tdes_mac(&self, data: &[u8]) -> Result<[u8; 8], Error> {
        self.require(Algorithm::Tdes)?;
        let out = self.encrypt_cbc(&[0u8; 8], &pad80(data, 8))?;
        let mut mac = [0u8; 8];
        mac.copy_from_slice(&out[out.len() - 8..]);
        Ok(mac)
    }

    /// ISO 9797-1 MAC algorithm 3 (the "retail MAC") with `icv`: single DES with the first
    /// key half over all blocks, the last one finished with 3DES; 80-padding.
    pub fn retail_mac(&self, icv: &[u8; 8], data: &[u8]) -> Result<[u8; 8], Error> {
        self.require(Algorithm::Tdes)?;
        card_crypto::retail_mac(&self.bytes, icv, data).map_err(|e| Error::Key(e.to_string()))
    }

    /// Single DES with the first 8 key bytes: the SCP02 ICV encryption.
    pub fn des_k1_encrypt(&self, block: &[u8; 8]) -> Result<[u8; 8], Error> {
        self.require(Algorithm::Tdes)?;
        card_crypto::single_des_encrypt(&self.bytes, block).map_err(|e| Error::Key(e.to_string()))
    }

    fn require(&self, algorithm: Algorithm) -> Result<(), Error> {
        if self.algorithm == algorithm {
            Ok(())
        } else {
            Err(Error::Key(format!("a {algorithm} key is needed here, not {}", self.algorithm)))
        }
    }
}

fn xor_into(target: &mut [u8], other: &[u8]) {
    for (t, o) in target.iter_mut().zip(other) {
        *t ^= o;
    }
}

/// ISO/IEC 9797-1 method 2 padding: `80` then zeros up to a whole number of blocks, always
/// at least one byte (the form GlobalPlatform uses everywhere).
pub fn pad80(data: &[u8], block: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + block);
    out.extend_from_slice(data);
    out.push(0x80);
    while !out.len().is_multiple_of(block) {
        out.push(0);
    }
    out
}

/// Removes method 2 padding; `None` when there is none (a tampered or mis-keyed block).
pub fn unpad80(data: &[u8]) -> Option<&[u8]> {
    let end = data.iter().rposition(|&b| b != 0)?;
    (data[end] == 0x80).then(|| &data[..end])
}

/// Compares two MACs in time independent of where they differ.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Which key of a GlobalPlatform key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyUsage {
    /// Key-ENC: authentication and command encryption (session key S-ENC).
    Enc,
    /// Key-MAC: command and response MACs (S-MAC, S-RMAC).
    Mac,
    /// Key-DEK: encryption of keys and sensitive data.
    Dek,
}

impl KeyUsage {
    /// All three, in key-set order.
    pub const ALL: [KeyUsage; 3] = [KeyUsage::Enc, KeyUsage::Mac, KeyUsage::Dek];

    /// The 1-based number of the key in its set (the `x` of EMV CPS and KDF3 derivation).
    pub fn number(self) -> u8 {
        match self {
            KeyUsage::Enc => 1,
            KeyUsage::Mac => 2,
            KeyUsage::Dek => 3,
        }
    }
}

impl std::fmt::Display for KeyUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyUsage::Enc => "ENC",
            KeyUsage::Mac => "MAC",
            KeyUsage::Dek => "DEK",
        })
    }
}

/// The three static keys of a security domain, with their key version number.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KeySet {
    /// Key version number (KVN), as INITIALIZE UPDATE P1 and PUT KEY name it.
    pub version: u8,
    /// Key-ENC.
    pub enc: SecretKey,
    /// Key-MAC.
    pub mac: SecretKey,
    /// Key-DEK.
    pub dek: SecretKey,
}

impl KeySet {
    /// A set whose three keys are the same (the GlobalPlatform default-key convention).
    pub fn single(version: u8, key: SecretKey) -> KeySet {
        KeySet { version, enc: key.clone(), mac: key.clone(), dek: key }
    }

    /// One key of the set.
    pub fn get(&self, usage: KeyUsage) -> &SecretKey {
        match usage {
            KeyUsage::Enc => &self.enc,
            KeyUsage::Mac => &self.mac,
            KeyUsage::Dek => &self.dek,
        }
    }

    /// The cipher of the set (that of Key-ENC; the set is refused by the schemes when the
    /// three disagree).
    pub fn algorithm(&self) -> Algorithm {
        self.enc.algorithm()
    }

    /// The check values of the three keys.
    pub fn kcvs(&self) -> crate::KcvSet {
        crate::KcvSet { enc: self.enc.kcv(), mac: self.mac.kcv(), dek: self.dek.kcv() }
    }

    pub(crate) fn check_uniform(&self) -> Result<Algorithm, Error> {
        let a = self.algorithm();
        if self.mac.algorithm() != a || self.dek.algorithm() != a {
            return Err(Error::Key("the ENC, MAC and DEK keys of a set use different ciphers".into()));
        }
        Ok(a)
    }
}

/// The keys of one secure-channel session. Zeroised on drop with their [`SecretKey`]s.
#[derive(Clone, Debug)]
pub struct SessionKeys {
    /// S-ENC: cryptograms (SCP02), command and response encryption.
    pub enc: SecretKey,
    /// S-MAC: C-MAC (and SCP03 cryptograms).
    pub mac: SecretKey,
    /// S-RMAC: R-MAC.
    pub rmac: SecretKey,
    /// The key for sensitive data and PUT KEY: S-DEK under SCP02, the static Key-DEK under
    /// SCP03 (GlobalPlatform Amendment D 6.2.8).
    pub dek: SecretKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("hex")
    }

    #[test]
    fn cmac_matches_rfc4493() {
        let key = SecretKey::new(Algorithm::Aes, h("2b7e151628aed2a6abf7158809cf4f3c")).expect("key");
        assert_eq!(key.cmac(&[]).expect("cmac").to_vec(), h("bb1d6929e95937287fa37d129b756746"));
        let m = h("6bc1bee22e409f96e93d7e117393172a");
        assert_eq!(key.cmac(&m).expect("cmac").to_vec(), h("070a16b46b4d4144f79bdd9dd04a287c"));
    }

    #[test]
    fn sm4_matches_gbt32907() {
        let key = SecretKey::new(Algorithm::Sm4, h("0123456789abcdeffedcba9876543210")).expect("key");
        let ct = key.encrypt_ecb(&h("0123456789abcdeffedcba9876543210")).expect("enc");
        assert_eq!(ct, h("681edf34d206965e86b3e94f536e4246"));
        assert_eq!(key.decrypt_ecb(&ct).expect("dec"), h("0123456789abcdeffedcba9876543210"));
    }

    #[test]
    fn cbc_round_trips_for_every_cipher() {
        for (alg, len) in
            [(Algorithm::Tdes, 16), (Algorithm::Tdes, 24), (Algorithm::Aes, 32), (Algorithm::Sm4, 16)]
        {
            let key = SecretKey::new(alg, vec![0x42; len]).expect("key");
            let iv = vec![7u8; alg.block_size()];
            let data = pad80(b"seventeen bytes!!", alg.block_size());
            let ct = key.encrypt_cbc(&iv, &data).expect("enc");
            assert_ne!(ct, data);
            assert_eq!(key.decrypt_cbc(&iv, &ct).expect("dec"), data);
        }
    }

    #[test]
    fn retail_mac_equals_full_mac_on_a_two_key_with_equal_halves_key() {
        // With K1 = K2 3DES is single DES, so both MACs are plain DES CBC-MACs.
        let key = SecretKey::new(Algorithm::Tdes, h("0123456789ABCDEF0123456789ABCDEF")).expect("key");
        let data = b"Now is the time for all ";
        assert_eq!(key.retail_mac(&[0; 8], data).expect("mac"), key.full_tdes_mac(data).expect("mac"));
    }

    #[test]
    fn padding_round_trips_and_refuses_garbage() {
        assert_eq!(pad80(&[1, 2], 8), h("0102800000000000"));
        assert_eq!(pad80(&[0; 8], 8).len(), 16);
        assert_eq!(unpad80(&h("0102800000000000")), Some(&[1u8, 2][..]));
        assert_eq!(unpad80(&h("0102000000000000")), None);
        assert_eq!(unpad80(&[0; 8]), None);
    }

    #[test]
    fn wrong_lengths_are_refused_and_debug_hides_the_key() {
        assert!(SecretKey::new(Algorithm::Sm4, vec![0; 24]).is_err());
        assert!(SecretKey::new(Algorithm::Tdes, vec![0; 8]).is_err());
        let key = SecretKey::from_hex(Algorithm::Aes, "404142434445464748494A4B4C4D4E4F").expect("key");
        assert_eq!(format!("{key:?}"), "SecretKey(AES 16 bytes)");
        assert!(key.encrypt_ecb(&[0; 15]).is_err());
    }
}
