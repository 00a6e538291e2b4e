//! The block-cipher primitives both sides of a social-security card use: the host (PSAM
//! stand-in, HSM client, PIN check) and the card simulator. One definition so the two can
//! never drift apart; the test vectors of card-spec.md pin it down.
//!
//! - [`Algorithm`]: 3DES or SM4, the block cipher of a key (`3des` / `sm4` in the firmware
//!   profiles, with the `serde` feature).
//! - [`BlockCipher`]: 3DES (2- or 3-key) and SM4 with their key schedule, one block at a
//!   time; [`encrypt_block`], [`encrypt_ecb`], [`decrypt_ecb`] on top. The GlobalPlatform
//!   secure channels (`secure-channel`) build their modes on it too.
//! - [`retail_mac`]: ISO 9797-1 MAC algorithm 3 (the "retail MAC" of SCP02 and the EMV
//!   application cryptogram); [`single_des_encrypt`] for SCP02's ICV encryption.
//! - [`diversify`], [`diversify_levels`]: PBOC-style key diversification, the PSAM's job
//!   (`BF DE`): per 8-byte factor `D`, 3DES gives `E_K(D) || E_K(!D)` and SM4 gives
//!   `E_K(D || !D)`; each level uses the key of the level before.
//! - [`external_auth_cryptogram`]: what EXTERNAL AUTHENTICATE expects from the host.
//! - [`sm3`], [`sm4_mac4`]: the SM3 hash and the 4-byte SM4 CBC-MAC of secure messaging.
//!
//! - [`ssse_factors`], [`ssse_card_key`]: the social-security key hierarchy (card, city,
//!   province) as the PSAM sees it.
//!
//! Keys leave this crate only as [`Key`], which zeroises on drop and never prints.
#![forbid(unsafe_code)]

use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Block cipher of a key. With the `serde` feature it reads and writes as the firmware
/// profiles name it: `3des`, `sm4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Algorithm {
    /// Triple DES (2-key, 16 bytes, or 3-key, 24 bytes), 8-byte blocks.
    #[cfg_attr(feature = "serde", serde(rename = "3des"))]
    TripleDes,
    /// SM4 (16-byte key, 16-byte blocks).
    Sm4,
}

impl Algorithm {
    /// Block size in bytes.
    pub fn block_size(self) -> usize {
        match self {
            Algorithm::TripleDes => 8,
            Algorithm::Sm4 => 16,
        }
    }

    /// Whether `len` is a valid key length.
    pub fn key_len_ok(self, len: usize) -> bool {
        match self {
            Algorithm::TripleDes => len == 16 || len == 24,
            Algorithm::Sm4 => len == 16,
        }
    }
}

/// Secret key bytes: zeroised on drop, `Debug` shows only the length.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Key(Vec<u8>);

impl Key {
    /// Wraps key bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Key {
        Key(bytes.into())
    }

    /// The key bytes, for the cipher only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({} bytes)", self.0.len())
    }
}

/// Why a primitive could not run: lengths that do not fit the algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthError {
    /// The algorithm asked for.
    pub algorithm: Algorithm,
    /// Length of the key given.
    pub key_len: usize,
    /// Length of the data given.
    pub data_len: usize,
}

impl std::fmt::Display for LengthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} cannot use a {}-byte key on {} bytes of data (key 16/24 bytes for 3DES, 16 for SM4; \
             data a whole number of blocks)",
            self.algorithm, self.key_len, self.data_len
        )
    }
}

impl std::error::Error for LengthError {}

/// A 3DES or SM4 key schedule. The cipher crates zeroise their schedules on drop.
pub struct BlockCipher {
    engine: Engine,
    key_len: usize,
}

enum Engine {
    Tdes2(des::TdesEde2),
    Tdes3(des::TdesEde3),
    Sm4(sm4::Sm4),
}

impl std::fmt::Debug for BlockCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlockCipher({:?}, {}-byte key)", self.algorithm(), self.key_len)
    }
}

impl BlockCipher {
    /// The schedule of `key` (3DES: 16 or 24 bytes; SM4: 16).
    pub fn new(algorithm: Algorithm, key: &[u8]) -> Result<BlockCipher, LengthError> {
        let engine = match (algorithm, key.len()) {
            (Algorithm::TripleDes, 16) => Engine::Tdes2(des::TdesEde2::new(GenericArray::from_slice(key))),
            (Algorithm::TripleDes, 24) => Engine::Tdes3(des::TdesEde3::new(GenericArray::from_slice(key))),
            (Algorithm::Sm4, 16) => Engine::Sm4(sm4::Sm4::new(GenericArray::from_slice(key))),
            _ => return Err(LengthError { algorithm, key_len: key.len(), data_len: 0 }),
        };
        Ok(BlockCipher { engine, key_len: key.len() })
    }

    /// The cipher.
    pub fn algorithm(&self) -> Algorithm {
        match self.engine {
            Engine::Tdes2(_) | Engine::Tdes3(_) => Algorithm::TripleDes,
            Engine::Sm4(_) => Algorithm::Sm4,
        }
    }

    /// Block length in bytes (8 or 16).
    pub fn block_size(&self) -> usize {
        self.algorithm().block_size()
    }

    /// Encrypts one block in place (`block` is exactly one block long).
    pub fn encrypt_block(&self, block: &mut [u8]) -> Result<(), LengthError> {
        self.check(block.len())?;
        match &self.engine {
            Engine::Tdes2(c) => c.encrypt_block(GenericArray::from_mut_slice(block)),
            Engine::Tdes3(c) => c.encrypt_block(GenericArray::from_mut_slice(block)),
            Engine::Sm4(c) => c.encrypt_block(GenericArray::from_mut_slice(block)),
        }
        Ok(())
    }

    /// Decrypts one block in place.
    pub fn decrypt_block(&self, block: &mut [u8]) -> Result<(), LengthError> {
        self.check(block.len())?;
        match &self.engine {
            Engine::Tdes2(c) => c.decrypt_block(GenericArray::from_mut_slice(block)),
            Engine::Tdes3(c) => c.decrypt_block(GenericArray::from_mut_slice(block)),
            Engine::Sm4(c) => c.decrypt_block(GenericArray::from_mut_slice(block)),
        }
        Ok(())
    }

    /// ECB over `data`, a whole number of blocks.
    pub fn ecb(&self, data: &[u8], decrypt: bool) -> Result<Vec<u8>, LengthError> {
        let bs = self.block_size();
        if data.is_empty() || !data.len().is_multiple_of(bs) {
            return Err(self.error(data.len()));
        }
        let mut out = data.to_vec();
        for block in out.chunks_mut(bs) {
            if decrypt {
                self.decrypt_block(block)?;
            } else {
                self.encrypt_block(block)?;
            }
        }
        Ok(out)
    }

    fn check(&self, len: usize) -> Result<(), LengthError> {
        if len == self.block_size() {
            Ok(())
        } else {
            Err(self.error(len))
        }
    }

    fn error(&self, data_len: usize) -> LengthError {
        LengthError { algorithm: self.algorithm(), key_len: self.key_len, data_len }
    }
}

/// Encrypts one block with `key`.
pub fn encrypt_block(algorithm: Algorithm, key: &[u8], block: &[u8]) -> Result<Vec<u8>, LengthError> {
    if block.len() != algorithm.block_size() {
        return Err(LengthError { algorithm, key_len: key.len(), data_len: block.len() });
    }
    encrypt_ecb(algorithm, key, block)
}

/// Encrypts `data` (a whole number of blocks) in ECB mode.
pub fn encrypt_ecb(algorithm: Algorithm, key: &[u8], data: &[u8]) -> Result<Vec<u8>, LengthError> {
    let err = LengthError { algorithm, key_len: key.len(), data_len: data.len() };
    BlockCipher::new(algorithm, key).map_err(|_| err)?.ecb(data, false)
}

/// Decrypts `data` (a whole number of blocks) in ECB mode.
pub fn decrypt_ecb(algorithm: Algorithm, key: &[u8], data: &[u8]) -> Result<Vec<u8>, LengthError> {
    let err = LengthError { algorithm, key_len: key.len(), data_len: data.len() };
    BlockCipher::new(algorithm, key).map_err(|_| err)?.ecb(data, true)
}

/// Single DES with the first 8 bytes of a 3DES `key` (SCP02's ICV encryption).
pub fn single_des_encrypt(key: &[u8], block: &[u8; 8]) -> Result<[u8; 8], LengthError> {
    if !Algorithm::TripleDes.key_len_ok(key.len()) {
        return Err(LengthError { algorithm: Algorithm::TripleDes, key_len: key.len(), data_len: 8 });
    }
    let des = des::Des::new(GenericArray::from_slice(&key[..8]));
    let mut out = *block;
    des.encrypt_block(GenericArray::from_mut_slice(&mut out));
    Ok(out)
}

/// ISO 9797-1 MAC algorithm 3 (the "retail MAC") of `data` under the 2- or 3-key 3DES `key`
/// with `icv`: padding method 2 (`80 00..`, always at least one byte), single DES with the
/// first key over every block but the last, which is finished with 3DES.
pub fn retail_mac(key: &[u8], icv: &[u8; 8], data: &[u8]) -> Result<[u8; 8], LengthError> {
    let tdes = BlockCipher::new(Algorithm::TripleDes, key)?;
    let k1 = des::Des::new(GenericArray::from_slice(&key[..8]));
    let mut padded = data.to_vec();
    padded.push(0x80);
    while !padded.len().is_multiple_of(8) {
        padded.push(0);
    }
    let mut chain = *icv;
    let (head, last) = padded.split_at(padded.len() - 8);
    for block in head.chunks(8) {
        xor_into(&mut chain, block);
        k1.encrypt_block(GenericArray::from_mut_slice(&mut chain));
    }
    xor_into(&mut chain, last);
    tdes.encrypt_block(&mut chain)?;
    Ok(chain)
}

fn xor_into(target: &mut [u8], other: &[u8]) {
    for (t, o) in target.iter_mut().zip(other) {
        *t ^= o;
    }
}

/// One level of PBOC-style diversification of `key` by the 8-byte `factor` (16-byte result):
/// 3DES `E_K(D) || E_K(!D)`, SM4 `E_K(D || !D)`. [I] for SM4: the one-block form follows the
/// SM4 PSAM convention of feeding the factor and its complement as one block.
pub fn diversify(algorithm: Algorithm, key: &[u8], factor: &[u8; 8]) -> Result<Key, LengthError> {
    let mut block = [0u8; 16];
    block[..8].copy_from_slice(factor);
    for (b, f) in block[8..].iter_mut().zip(factor) {
        *b = !f;
    }
    let out = encrypt_ecb(algorithm, key, &block)?;
    block.zeroize();
    Ok(Key(out))
}

/// Diversifies `master` by each factor in turn (the first factor is applied first).
pub fn diversify_levels(
    algorithm: Algorithm,
    master: &[u8],
    factors: &[[u8; 8]],
) -> Result<Key, LengthError> {
    let mut key = Key(master.to_vec());
    for factor in factors {
        key = diversify(algorithm, key.expose(), factor)?;
    }
    Ok(key)
}

/// The diversification factors of SSSE external authentication, in the order the PSAM gets
/// them in `BF DE` (card-spec.md section 1): `card8`, then for 2 and 3 levels
/// `region6 || "sx"`, then for 3 levels `province2 || "0000" || "sh"`. `card8` is the last 8
/// bytes of the ATR historical bytes; `region` is the six-digit region code and its first two
/// digits the province. `None` when `levels` is not 1..=3 or `region` not six ASCII digits.
pub fn ssse_factors(levels: u8, card8: [u8; 8], region: &str) -> Option<Vec<[u8; 8]>> {
    if !(1..=3).contains(&levels) || region.len() != 6 || !region.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut factors = vec![card8];
    if levels >= 2 {
        let mut city = [0u8; 8];
        city[..6].copy_from_slice(region.as_bytes());
        city[6..].copy_from_slice(b"sx");
        factors.push(city);
    }
    if levels == 3 {
        let mut province = *b"..0000sh";
        province[..2].copy_from_slice(&region.as_bytes()[..2]);
        factors.push(province);
    }
    Some(factors)
}

/// The card key a PSAM derives from its master key for `factors` (in `BF DE` order): the
/// hierarchy runs from the highest level down, province, then city, then card, so the last
/// factor is applied first. [I]: the order is not published; the simulator's "factory" and
/// the PSAM both use this one function.
pub fn ssse_card_key(algorithm: Algorithm, master: &[u8], factors: &[[u8; 8]]) -> Result<Key, LengthError> {
    let reversed: Vec<[u8; 8]> = factors.iter().rev().copied().collect();
    diversify_levels(algorithm, master, &reversed)
}

/// Length of the EXTERNAL AUTHENTICATE data, whatever the algorithm (`00 82 00 kk 10`).
pub const CRYPTOGRAM_LEN: usize = 16;

/// The cryptogram EXTERNAL AUTHENTICATE expects: `E_K(challenge || 00..)` in ECB over 16
/// bytes (two 3DES blocks or one SM4 block), so the command is `00 82 00 <keyId> 10 ..` for
/// both card generations. [I]: the padding of an 8-byte challenge with zeros.
pub fn external_auth_cryptogram(
    algorithm: Algorithm,
    key: &[u8],
    challenge: &[u8],
) -> Result<Vec<u8>, LengthError> {
    if challenge.len() > CRYPTOGRAM_LEN {
        return Err(LengthError { algorithm, key_len: key.len(), data_len: challenge.len() });
    }
    let mut block = challenge.to_vec();
    block.resize(CRYPTOGRAM_LEN, 0);
    encrypt_ecb(algorithm, key, &block)
}

/// SM3 hash (GB/T 32905).
pub fn sm3(data: &[u8]) -> [u8; 32] {
    use sm3::Digest;
    sm3::Sm3::digest(data).into()
}

/// SM4 CBC-MAC of secure messaging: IV = the 16-byte challenge, ISO 9797-1 method 2 padding
/// (80 00..), the last block folded to 4 bytes by XOR of its four 32-bit words.
pub fn sm4_mac4(key: &[u8], iv: &[u8; 16], data: &[u8]) -> Result<[u8; 4], LengthError> {
    let mut padded = data.to_vec();
    padded.push(0x80);
    while !padded.len().is_multiple_of(16) {
        padded.push(0);
    }
    let mut chain = *iv;
    for block in padded.chunks(16) {
        for (c, b) in chain.iter_mut().zip(block) {
            *c ^= b;
        }
        let out = encrypt_block(Algorithm::Sm4, key, &chain)?;
        chain.copy_from_slice(&out);
    }
    let mut mac = [0u8; 4];
    for word in chain.chunks(4) {
        for (m, b) in mac.iter_mut().zip(word) {
            *m ^= b;
        }
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("hex")
    }

    #[test]
    fn sm4_vector_from_the_card_spec() {
        let out = encrypt_block(
            Algorithm::Sm4,
            &h("3DE741F445DD357BEA4E6C3FE6437036"),
            &h("178CEDCF32C5D7990216632170C7CD37"),
        );
        assert_eq!(out, Ok(h("358B51056B9B9EB2C96B20E7DB7A6B8F")));
    }

    #[test]
    fn sm4_standard_vector() {
        // GB/T 32907 appendix A: key = plaintext = 0123456789ABCDEFFEDCBA9876543210.
        let k = h("0123456789ABCDEFFEDCBA9876543210");
        assert_eq!(encrypt_block(Algorithm::Sm4, &k, &k), Ok(h("681EDF34D206965E86B3E94F536E4246")));
    }

    #[test]
    fn sm3_vector_from_the_card_spec() {
        assert_eq!(
            sm3(&[0x12, 0x34, 0x56]).to_vec(),
            h("3DE741F445DD357BEA4E6C3FE6437036F62B5E3EC0F00D62796EDB4305ED627F")
        );
        // GB/T 32905 example 1: "abc".
        assert_eq!(
            sm3(b"abc").to_vec(),
            h("66C7F0F462EEEDD9D1F2D46BDC10E4E24167C4875CF2F7A2297DA02B8F4BA8E0")
        );
    }

    #[test]
    fn pin_check_chain_of_the_card_spec() {
        // The card returns SM3 of the BCD PIN; the host encrypts the challenge with its first half.
        let hash = sm3(&h("123456"));
        let out = encrypt_block(Algorithm::Sm4, &hash[..16], &h("178CEDCF32C5D7990216632170C7CD37"));
        assert_eq!(out, Ok(h("358B51056B9B9EB2C96B20E7DB7A6B8F")));
    }

    #[test]
    fn tdes_with_equal_halves_is_single_des() {
        // FIPS 46 worked example: K = 133457799BBCDFF1, P = 0123456789ABCDEF.
        let key = h("133457799BBCDFF1 133457799BBCDFF1");
        assert_eq!(
            encrypt_block(Algorithm::TripleDes, &key, &h("0123456789ABCDEF")),
            Ok(h("85E813540F0AB405"))
        );
        let key3 = h("133457799BBCDFF1 133457799BBCDFF1 133457799BBCDFF1");
        assert_eq!(
            encrypt_block(Algorithm::TripleDes, &key3, &h("0123456789ABCDEF")),
            Ok(h("85E813540F0AB405"))
        );
    }

    #[test]
    fn diversification_is_left_and_complement_right() {
        let key = h("133457799BBCDFF1 133457799BBCDFF1");
        let d = [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF];
        let k = diversify(Algorithm::TripleDes, &key, &d).expect("diversify");
        let not_d: Vec<u8> = d.iter().map(|b| !b).collect();
        let right = encrypt_block(Algorithm::TripleDes, &key, &not_d).expect("right");
        assert_eq!(&k.expose()[..8], &h("85E813540F0AB405")[..]);
        assert_eq!(&k.expose()[8..], &right[..]);
        // Two levels = one level applied to the result of the first.
        let two = diversify_levels(Algorithm::TripleDes, &key, &[d, [0x11; 8]]).expect("levels");
        let again = diversify(Algorithm::TripleDes, k.expose(), &[0x11; 8]).expect("again");
        assert_eq!(two, again);
        let sm4 = diversify(Algorithm::Sm4, &[0x42; 16], &d).expect("sm4");
        assert_eq!(sm4.expose().len(), 16);
        assert_ne!(sm4.expose(), diversify(Algorithm::Sm4, &[0x42; 16], &[0; 8]).expect("other").expose());
    }

    #[test]
    fn ssse_factors_by_level() {
        let card8 = [0x00, 0xBF, 0x7C, 0x7A, 0x48, 0xFB, 0x49, 0x66];
        assert_eq!(ssse_factors(1, card8, "639900"), Some(vec![card8]));
        assert_eq!(ssse_factors(2, card8, "639900"), Some(vec![card8, *b"639900sx"]));
        assert_eq!(ssse_factors(3, card8, "639900"), Some(vec![card8, *b"639900sx", *b"630000sh"]));
        assert_eq!(ssse_factors(4, card8, "639900"), None);
        assert_eq!(ssse_factors(3, card8, "63990"), None);
        let master = [0x5A; 16];
        let f = ssse_factors(3, card8, "639900").expect("factors");
        let by_hand = diversify_levels(Algorithm::TripleDes, &master, &[f[2], f[1], f[0]]).expect("by hand");
        assert_eq!(ssse_card_key(Algorithm::TripleDes, &master, &f).expect("key"), by_hand);
    }

    #[test]
    fn cryptogram_is_sixteen_bytes_for_both_algorithms() {
        let c = external_auth_cryptogram(Algorithm::TripleDes, &[7; 16], &[1; 8]).expect("3des");
        assert_eq!(c.len(), CRYPTOGRAM_LEN);
        assert_eq!(c[..8], encrypt_block(Algorithm::TripleDes, &[7; 16], &[1; 8]).expect("b")[..]);
        assert_eq!(external_auth_cryptogram(Algorithm::Sm4, &[7; 16], &[1; 8]).expect("sm4").len(), 16);
        assert!(external_auth_cryptogram(Algorithm::Sm4, &[7; 16], &[1; 17]).is_err());
    }

    #[test]
    fn sm4_mac_folds_the_last_block() {
        let key = [0x11; 16];
        let iv = [0x22; 16];
        let mac = sm4_mac4(&key, &iv, b"abc").expect("mac");
        // By hand: one padded block, XORed with the IV, encrypted, folded.
        let mut block = [0u8; 16];
        block[..4].copy_from_slice(b"abc\x80");
        for (b, i) in block.iter_mut().zip(iv) {
            *b ^= i;
        }
        let e = encrypt_block(Algorithm::Sm4, &key, &block).expect("e");
        let folded: Vec<u8> = (0..4).map(|i| e[i] ^ e[4 + i] ^ e[8 + i] ^ e[12 + i]).collect();
        assert_eq!(mac.to_vec(), folded);
    }

    #[test]
    fn ecb_round_trips_and_the_retail_mac_is_single_des_then_3des() {
        for (alg, key) in [
            (Algorithm::TripleDes, vec![0x42; 16]),
            (Algorithm::TripleDes, vec![0x17; 24]),
            (Algorithm::Sm4, vec![0x42; 16]),
        ] {
            let data = vec![0x5A; alg.block_size() * 3];
            let ct = encrypt_ecb(alg, &key, &data).expect("enc");
            assert_ne!(ct, data);
            assert_eq!(decrypt_ecb(alg, &key, &ct), Ok(data));
        }
        // With K1 = K2 the retail MAC is a DES CBC-MAC: the FIPS 46 example block, ICV 0.
        let key = h("133457799BBCDFF1 133457799BBCDFF1");
        let padded = h("0123456789ABCDEF 8000000000000000");
        let first = single_des_encrypt(&key, &[0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]).expect("des");
        assert_eq!(first.to_vec(), h("85E813540F0AB405"));
        let mut second = [0u8; 8];
        for (s, (a, b)) in second.iter_mut().zip(first.iter().zip(&padded[8..])) {
            *s = a ^ b;
        }
        let want = single_des_encrypt(&key, &second).expect("des");
        assert_eq!(retail_mac(&key, &[0; 8], &padded[..8]), Ok(want));
        // Two different halves: the last block is 3DES, not single DES.
        let key2 = h("0123456789ABCDEF FEDCBA9876543210");
        let mac = retail_mac(&key2, &[0; 8], b"abc").expect("mac");
        let mut block = *b"abc\x80\0\0\0\0";
        let tdes = BlockCipher::new(Algorithm::TripleDes, &key2).expect("key");
        tdes.encrypt_block(&mut block).expect("block");
        assert_eq!(mac, block);
        assert!(retail_mac(&[0; 8], &[0; 8], b"x").is_err());
    }

    #[test]
    fn bad_lengths_are_errors_and_keys_do_not_print() {
        assert!(encrypt_block(Algorithm::TripleDes, &[0; 8], &[0; 8]).is_err());
        assert!(encrypt_block(Algorithm::Sm4, &[0; 16], &[0; 8]).is_err());
        let e = encrypt_ecb(Algorithm::Sm4, &[0; 16], &[0; 15]).expect_err("partial block");
        assert!(e.to_string().contains("15 bytes"), "{e}");
        assert_eq!(format!("{:?}", Key::new(vec![0xAB; 16])), "Key(16 bytes)");
    }
}
