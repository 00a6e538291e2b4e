//! PUT KEY `80 D8 <old KVN> 81 <new KVN> {key component}x3`, and the encryption of
//! key-sensitive data it rests on. Both sides are here: the host builds the command, the card
//! decrypts the keys and proves it by their check values.
//!
//! Key component: 3DES `80 10 <E_DEK(key)> 03 <KCV>` (3DES-ECB under S-DEK, SCP02);
//! AES `88 11 10 <E_DEK(key)> 03 <KCV>` (AES-CBC ICV 0 under Key-DEK, Amendment D 7.2).
//! SM4 follows the AES form; its key type byte is a profile setting ([`KEY_TYPE_SM4`] [?]).

use crate::{Algorithm, CardRefusal, Error, KeySet, SecretKey};
use apdu::{Command, StatusWord};

/// GlobalPlatform key type of DES keys.
pub const KEY_TYPE_DES: u8 = 0x80;
/// GlobalPlatform key type of AES keys.
pub const KEY_TYPE_AES: u8 = 0x88;
/// Key type used for SM4 keys. [?] No public source: the AES value until a card vendor says.
pub const KEY_TYPE_SM4: u8 = 0x88;

/// The key type byte of an algorithm.
pub fn key_type(algorithm: Algorithm) -> u8 {
    match algorithm {
        Algorithm::Tdes => KEY_TYPE_DES,
        Algorithm::Aes => KEY_TYPE_AES,
        Algorithm::Sm4 => KEY_TYPE_SM4,
    }
}

/// Encrypts whole blocks of sensitive data under `dek`: ECB for 3DES (SCP02), CBC with ICV 0
/// for AES and SM4 (Amendment D 6.2.8).
pub fn encrypt_sensitive(dek: &SecretKey, data: &[u8]) -> Result<Vec<u8>, Error> {
    match dek.algorithm() {
        Algorithm::Tdes => dek.encrypt_ecb(data),
        Algorithm::Aes | Algorithm::Sm4 => dek.encrypt_cbc(&[0; 16], data),
    }
}

/// The card's inverse of [`encrypt_sensitive`].
pub fn decrypt_sensitive(dek: &SecretKey, data: &[u8]) -> Result<Vec<u8>, Error> {
    match dek.algorithm() {
        Algorithm::Tdes => dek.decrypt_ecb(data),
        Algorithm::Aes | Algorithm::Sm4 => dek.decrypt_cbc(&[0; 16], data),
    }
}

/// One key component of the PUT KEY data.
fn component(dek: &SecretKey, key: &SecretKey) -> Result<Vec<u8>, Error> {
    if key.algorithm() != dek.algorithm() {
        return Err(Error::Unsupported(format!(
            "a {} key wrapped under a {} DEK",
            key.algorithm(),
            dek.algorithm()
        )));
    }
    let mut out = vec![key_type(key.algorithm())];
    match key.algorithm() {
        Algorithm::Tdes => {
            let wrapped = encrypt_sensitive(dek, key.expose())?;
            out.push(wrapped.len() as u8);
            out.extend_from_slice(&wrapped);
        }
        Algorithm::Aes | Algorithm::Sm4 => {
            // A 24-byte key is padded to whole blocks; the card keeps the first 24 bytes.
            let mut plain = zeroize::Zeroizing::new(key.expose().to_vec());
            plain.resize(key.len().div_ceil(16) * 16, 0);
            let wrapped = encrypt_sensitive(dek, &plain)?;
            out.push(1 + wrapped.len() as u8);
            out.push(key.len() as u8);
            out.extend_from_slice(&wrapped);
        }
    }
    out.push(3);
    out.extend_from_slice(&key.kcv().0);
    Ok(out)
}

/// The PUT KEY data: new key version, then ENC, MAC, DEK components.
pub fn data(dek: &SecretKey, new_keys: &KeySet) -> Result<Vec<u8>, Error> {
    new_keys.check_uniform()?;
    let mut out = vec![new_keys.version];
    for key in [&new_keys.enc, &new_keys.mac, &new_keys.dek] {
        out.extend(component(dek, key)?);
    }
    Ok(out)
}

/// The whole command (before secure messaging): P1 = the version replaced (0: a new set),
/// P2 = `81` (several keys from key identifier 1); the card answers the version and KCVs.
pub fn command(dek: &SecretKey, old_kvn: u8, new_keys: &KeySet) -> Result<Command, Error> {
    Ok(Command::new(0x80, 0xD8, old_kvn, 0x81).with_data(data(dek, new_keys)?).with_le(256))
}

/// What the card answers: KVN || KCV(ENC) || KCV(MAC) || KCV(DEK).
pub fn answer(keys: &KeySet) -> Vec<u8> {
    let mut out = vec![keys.version];
    for usage in crate::KeyUsage::ALL {
        out.extend_from_slice(&keys.get(usage).kcv().0);
    }
    out
}

/// Checks the card's PUT KEY answer against the keys that were sent.
pub fn check_answer(answer_data: &[u8], sent: &KeySet) -> Result<(), Error> {
    if answer_data != answer(sent).as_slice() {
        return Err(Error::protocol(
            "PUT KEY",
            "the card's key version or check values differ from the keys sent: the keys were not installed as sent",
        ));
    }
    Ok(())
}

/// Card side: decrypts the PUT KEY data (the command already unwrapped) and checks each
/// key against its KCV. Answers 6A80 for malformed data or a KCV that does not match.
pub fn parse(dek: &SecretKey, data: &[u8]) -> Result<KeySet, CardRefusal> {
    let bad = |why: &str| CardRefusal::new(StatusWord::IncorrectData, why);
    let (&version, mut rest) = data.split_first().ok_or_else(|| bad("empty PUT KEY data"))?;
    let mut keys = Vec::with_capacity(3);
    for _ in 0..3 {
        if rest.len() < 2 {
            return Err(bad("truncated key component"));
        }
        let (ktype, len) = (rest[0], rest[1] as usize);
        let body = rest.get(2..2 + len).ok_or_else(|| bad("truncated key component"))?;
        let tail = &rest[2 + len..];
        if tail.len() < 4 || tail[0] != 3 {
            return Err(bad("key component without a 3-byte check value"));
        }
        let kcv = &tail[1..4];
        rest = &tail[4..];
        let algorithm = dek.algorithm();
        if ktype != key_type(algorithm) {
            return Err(bad("key type does not match the DEK"));
        }
        let key = match algorithm {
            Algorithm::Tdes => {
                let plain =
                    zeroize::Zeroizing::new(decrypt_sensitive(dek, body).map_err(|_| bad("key length"))?);
                SecretKey::new(algorithm, plain.to_vec()).map_err(|_| bad("key length"))?
            }
            Algorithm::Aes | Algorithm::Sm4 => {
                let (&key_len, wrapped) = body.split_first().ok_or_else(|| bad("empty key component"))?;
                let plain =
                    zeroize::Zeroizing::new(decrypt_sensitive(dek, wrapped).map_err(|_| bad("key length"))?);
                let key = plain.get(..key_len as usize).ok_or_else(|| bad("key length"))?;
                SecretKey::new(algorithm, key.to_vec()).map_err(|_| bad("key length"))?
            }
        };
        if key.kcv().0 != kcv {
            return Err(bad("key check value does not match the decrypted key"));
        }
        keys.push(key);
    }
    if !rest.is_empty() {
        return Err(bad("data after the third key component"));
    }
    let dek_key = keys.pop();
    let mac = keys.pop();
    let enc = keys.pop();
    match (enc, mac, dek_key) {
        (Some(enc), Some(mac), Some(dek)) => Ok(KeySet { version, enc, mac, dek }),
        _ => Err(bad("fewer than three keys")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("hex")
    }

    /// PUT KEY under the S-DEK of card-spec.md's real-card trace, putting the test key
    /// 404142..4F (KCV 8BAF47) as key version 01: `E_SDEK(K)` recomputed independently.
    #[test]
    fn scp02_wrapping_vector() {
        let s_dek = SecretKey::from_hex(Algorithm::Tdes, "F39FCFB2383B09578723B8C2E03B2729").expect("sdek");
        let k = SecretKey::from_hex(Algorithm::Tdes, "404142434445464748494A4B4C4D4E4F").expect("k");
        let cmd = command(&s_dek, 0x00, &KeySet::single(0x01, k.clone())).expect("put key");
        let component = h(&format!("80 10 {WRAPPED_SCP02} 03 8BAF47"));
        let expected = [vec![0x01], component.clone(), component.clone(), component].concat();
        assert_eq!((cmd.cla, cmd.ins, cmd.p1, cmd.p2), (0x80, 0xD8, 0x00, 0x81));
        assert_eq!(cmd.data, expected);
        let back = parse(&s_dek, &cmd.data).expect("card side");
        assert_eq!(back, KeySet::single(0x01, k));
        assert_eq!(answer(&back), h("01 8BAF47 8BAF47 8BAF47"));
    }

    /// `3DES-ECB_{F39FCF..29}(404142..4F)`, from Python `cryptography`.
    const WRAPPED_SCP02: &str = "6CCC3D43CFC2CDE6CEABC760468B7EFF";

    #[test]
    fn aes_and_sm4_round_trip_and_tampering_is_caught() {
        for (alg, len) in
            [(Algorithm::Aes, 16), (Algorithm::Aes, 24), (Algorithm::Aes, 32), (Algorithm::Sm4, 16)]
        {
            let dek = SecretKey::new(alg, vec![0x33; len.min(if alg == Algorithm::Sm4 { 16 } else { 32 })])
                .expect("dek");
            let new = KeySet {
                version: 0x31,
                enc: SecretKey::new(alg, vec![0x01; len]).expect("k"),
                mac: SecretKey::new(alg, vec![0x02; len]).expect("k"),
                dek: SecretKey::new(alg, vec![0x03; len]).expect("k"),
            };
            let d = data(&dek, &new).expect("data");
            assert_eq!(d[1], 0x88);
            assert_eq!(parse(&dek, &d).expect("parse"), new);
            let mut bad = d.clone();
            bad[5] ^= 1;
            assert_eq!(parse(&dek, &bad).expect_err("tampered").sw, StatusWord::IncorrectData);
            check_answer(&answer(&new), &new).expect("answer");
            assert!(check_answer(&answer(&new)[..7], &new).is_err());
        }
    }
}
