//! The block ciphers of card keys: 3DES (2- or 3-key) and SM4, ECB on one block.

use des::cipher::{Block, BlockEncrypt, KeyInit};
use firmware_profile::Algorithm;

/// Encrypts one block with `key`; `None` when the key or block length does not fit.
pub fn encrypt_block(algorithm: Algorithm, key: &[u8], block: &[u8]) -> Option<Vec<u8>> {
    match (algorithm, key.len()) {
        (Algorithm::TripleDes, 16) => encrypt::<des::TdesEde2>(key, block),
        (Algorithm::TripleDes, 24) => encrypt::<des::TdesEde3>(key, block),
        (Algorithm::Sm4, 16) => encrypt::<sm4::Sm4>(key, block),
        _ => None,
    }
}

fn encrypt<C: BlockEncrypt + KeyInit>(key: &[u8], block: &[u8]) -> Option<Vec<u8>> {
    if block.len() != C::block_size() {
        return None;
    }
    let cipher = C::new_from_slice(key).ok()?;
    let mut b = Block::<C>::clone_from_slice(block);
    cipher.encrypt_block(&mut b);
    Some(b.to_vec())
}

/// The cryptogram EXTERNAL AUTHENTICATE expects: `E_K(challenge)` on one block, the challenge
/// padded with 00 (or cut) to the block size: 3DES of an 8-byte challenge, SM4 of
/// `challenge || 00 * 8`. The host side computes the same with the (diversified) card key.
pub fn external_auth_cryptogram(algorithm: Algorithm, key: &[u8], challenge: &[u8]) -> Option<Vec<u8>> {
    let mut block = challenge.to_vec();
    block.resize(algorithm.block_size(), 0);
    encrypt_block(algorithm, key, &block)
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
        assert_eq!(out, Some(h("358B51056B9B9EB2C96B20E7DB7A6B8F")));
    }

    #[test]
    fn tdes_with_equal_halves_is_single_des() {
        // FIPS 46 worked example: K = 133457799BBCDFF1, P = 0123456789ABCDEF.
        let key = h("133457799BBCDFF1 133457799BBCDFF1");
        assert_eq!(
            encrypt_block(Algorithm::TripleDes, &key, &h("0123456789ABCDEF")),
            Some(h("85E813540F0AB405"))
        );
        let key3 = h("133457799BBCDFF1 133457799BBCDFF1 133457799BBCDFF1");
        assert_eq!(
            encrypt_block(Algorithm::TripleDes, &key3, &h("0123456789ABCDEF")),
            Some(h("85E813540F0AB405"))
        );
    }

    #[test]
    fn bad_lengths_give_none() {
        assert_eq!(encrypt_block(Algorithm::TripleDes, &[0; 8], &[0; 8]), None);
        assert_eq!(encrypt_block(Algorithm::Sm4, &[0; 16], &[0; 8]), None);
        assert_eq!(external_auth_cryptogram(Algorithm::Sm4, &[0; 16], &[1; 8]).map(|c| c.len()), Some(16));
    }
}
