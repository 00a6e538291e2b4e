//! The SCP03 shape (GlobalPlatform Amendment D): derivations by the NIST SP 800-108 KDF in
//! counter mode with CMAC. The block cipher is the key's: AES for SCP03, SM4 for the SM4
//! variant, one code path.
//!
//! KDF input per block: `00*11 || const || 00 || L (2 bytes, bits) || i || context`, with
//! context = host challenge || card challenge. Constants: card cryptogram `00`, host
//! cryptogram `01`, card challenge `02`, S-ENC `04`, S-MAC `06`, S-RMAC `07`.

use crate::{Error, KeySet, SecretKey, SessionKeys};

/// Derivation constant of the card cryptogram.
pub const CARD_CRYPTOGRAM: u8 = 0x00;
/// Derivation constant of the host cryptogram.
pub const HOST_CRYPTOGRAM: u8 = 0x01;
/// Derivation constant of a pseudo-random card challenge.
pub const CARD_CHALLENGE: u8 = 0x02;
/// Derivation constant of S-ENC.
pub const S_ENC: u8 = 0x04;
/// Derivation constant of S-MAC.
pub const S_MAC: u8 = 0x06;
/// Derivation constant of S-RMAC.
pub const S_RMAC: u8 = 0x07;

/// SP 800-108 counter-mode KDF with CMAC under `key`: `bits` of output (a multiple of 8).
pub fn kdf(key: &SecretKey, constant: u8, context: &[u8], bits: u16) -> Result<Vec<u8>, Error> {
    let len = usize::from(bits / 8);
    let mut out = Vec::with_capacity(len + 16);
    let mut i = 1u8;
    while out.len() < len {
        let mut input = vec![0u8; 11];
        input.push(constant);
        input.push(0);
        input.extend_from_slice(&bits.to_be_bytes());
        input.push(i);
        input.extend_from_slice(context);
        out.extend_from_slice(&key.cmac(&input)?);
        i = i.wrapping_add(1);
    }
    out.truncate(len);
    Ok(out)
}

fn session_key(key: &SecretKey, constant: u8, context: &[u8]) -> Result<SecretKey, Error> {
    let bits = (key.len() * 8) as u16;
    let out = zeroize::Zeroizing::new(kdf(key, constant, context, bits)?);
    SecretKey::new(key.algorithm(), out.to_vec())
}

/// Session keys from the card's static keys; the DEK stays the static Key-DEK.
pub fn session_keys(keys: &KeySet, context: &[u8]) -> Result<SessionKeys, Error> {
    Ok(SessionKeys {
        enc: session_key(&keys.enc, S_ENC, context)?,
        mac: session_key(&keys.mac, S_MAC, context)?,
        rmac: session_key(&keys.mac, S_RMAC, context)?,
        dek: keys.dek.clone(),
    })
}

/// The card cryptogram (`len` 8, or 16 in S16 mode) under S-MAC.
pub fn card_cryptogram(s_mac: &SecretKey, context: &[u8], len: usize) -> Result<Vec<u8>, Error> {
    kdf(s_mac, CARD_CRYPTOGRAM, context, (len * 8) as u16)
}

/// The host cryptogram (`len` 8, or 16 in S16 mode) under S-MAC.
pub fn host_cryptogram(s_mac: &SecretKey, context: &[u8], len: usize) -> Result<Vec<u8>, Error> {
    kdf(s_mac, HOST_CRYPTOGRAM, context, (len * 8) as u16)
}

/// A pseudo-random card challenge (i b4): under the static Key-ENC, context = the 3-byte
/// sequence counter || the AID of the security domain.
pub fn pseudo_random_card_challenge(
    key_enc: &SecretKey,
    sequence_counter: [u8; 3],
    aid: &[u8],
    len: usize,
) -> Result<Vec<u8>, Error> {
    kdf(key_enc, CARD_CHALLENGE, &[&sequence_counter[..], aid].concat(), (len * 8) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;

    /// card-spec.md section 3: K = 404142..4F, context 00..09.
    #[test]
    fn session_key_kcvs_vector() {
        let k = SecretKey::from_hex(Algorithm::Aes, "404142434445464748494A4B4C4D4E4F").expect("key");
        let context: Vec<u8> = (0..10).collect();
        let keys = session_keys(&KeySet::single(0x30, k), &context).expect("derive");
        assert_eq!(keys.enc.kcv().to_string(), "C25559");
        assert_eq!(keys.mac.kcv().to_string(), "0E12CC");
        assert_eq!(keys.rmac.kcv().to_string(), "9ACB9C");
    }

    #[test]
    fn long_keys_take_two_kdf_blocks() {
        let k = SecretKey::new(Algorithm::Aes, vec![0x11; 32]).expect("key");
        let out = kdf(&k, S_ENC, &[0; 16], 256).expect("kdf");
        assert_eq!(out.len(), 32);
        assert_ne!(out[..16], out[16..]);
        // The second block is not the first one again: the counter and L are in the input.
        assert_ne!(kdf(&k, S_ENC, &[0; 16], 128).expect("kdf")[..], out[16..]);
    }

    #[test]
    fn sm4_uses_the_same_path() {
        let k = SecretKey::new(Algorithm::Sm4, vec![0x40; 16]).expect("key");
        let keys = session_keys(&KeySet::single(1, k), &[0; 16]).expect("derive");
        assert_eq!(keys.enc.algorithm(), Algorithm::Sm4);
        assert_ne!(keys.enc, keys.mac);
        assert_eq!(card_cryptogram(&keys.mac, &[0; 16], 8).expect("c").len(), 8);
    }
}
