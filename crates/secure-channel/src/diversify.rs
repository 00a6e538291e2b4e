//! Card keys from an issuer master key (KMC) and the card's key diversification data (KDD,
//! the first 10 bytes of the INITIALIZE UPDATE answer). Which method a card batch uses is a
//! profile setting.
//!
//! - EMV CPS ("KDC"): `K_x = 3DES-ECB_KMC(KDD[4..10] || F0 || x || KDD[4..10] || 0F || x)`.
//! - VISA2: the same with `KDD[0..2] || KDD[4..8]` in place of `KDD[4..10]`.
//! - KDF3 (GlobalPlatformPro's name; for AES and SM4 masters): NIST SP 800-108 counter mode
//!   with CMAC, one-byte counter first: `K_x = CMAC_KMC(i || 00 00 00 x 00 || KDD)` for
//!   i = 1, 2 .. until the master's length is reached.
//!
//! x = 01 ENC, 02 MAC, 03 DEK.

use crate::{Algorithm, Error, KeySet, KeyUsage, SecretKey};

/// How card keys follow from a master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Diversification {
    /// The keys are the card's own keys (no master key).
    None,
    /// EMV CPS 1.1 key derivation (3DES).
    EmvCps,
    /// VISA2 (3DES).
    Visa2,
    /// SP 800-108 CMAC counter KDF (AES, SM4).
    Kdf3,
}

/// Length of key diversification data in INITIALIZE UPDATE answers.
pub const KDD_LEN: usize = 10;

/// One card key from `master` for `usage` with `method`. [`Diversification::None`] returns
/// the master itself.
pub fn diversify(
    method: Diversification,
    master: &SecretKey,
    kdd: &[u8],
    usage: KeyUsage,
) -> Result<SecretKey, Error> {
    if method != Diversification::None && kdd.len() != KDD_LEN {
        return Err(Error::Key(format!("diversification data is {} bytes, not {KDD_LEN}", kdd.len())));
    }
    let x = usage.number();
    match method {
        Diversification::None => Ok(master.clone()),
        Diversification::EmvCps | Diversification::Visa2 => {
            if master.algorithm() != Algorithm::Tdes {
                return Err(Error::Unsupported(format!(
                    "{method:?} diversification of a {} key",
                    master.algorithm()
                )));
            }
            let mut six = [0u8; 6];
            if method == Diversification::EmvCps {
                six.copy_from_slice(&kdd[4..10]);
            } else {
                six[..2].copy_from_slice(&kdd[..2]);
                six[2..].copy_from_slice(&kdd[4..8]);
            }
            let mut block = zeroize::Zeroizing::new(Vec::with_capacity(16));
            block.extend_from_slice(&six);
            block.extend_from_slice(&[0xF0, x]);
            block.extend_from_slice(&six);
            block.extend_from_slice(&[0x0F, x]);
            let key = master.encrypt_ecb(&block)?;
            // A 3-key master gives a 2-key card key here: EMV CPS defines 16 bytes.
            SecretKey::new(Algorithm::Tdes, key)
        }
        Diversification::Kdf3 => {
            if master.algorithm() == Algorithm::Tdes {
                return Err(Error::Unsupported("KDF3 diversification of a 3DES key".into()));
            }
            let mut out = zeroize::Zeroizing::new(Vec::with_capacity(32));
            let mut counter = 1u8;
            while out.len() < master.len() {
                let mut input = vec![counter, 0, 0, 0, x, 0];
                input.extend_from_slice(kdd);
                out.extend_from_slice(&master.cmac(&input)?);
                counter += 1;
            }
            SecretKey::new(master.algorithm(), out[..master.len()].to_vec())
        }
    }
}

/// The card's key set from one master key (the same master for ENC, MAC and DEK).
pub fn diversify_set(
    method: Diversification,
    version: u8,
    master: &SecretKey,
    kdd: &[u8],
) -> Result<KeySet, Error> {
    Ok(KeySet {
        version,
        enc: diversify(method, master, kdd, KeyUsage::Enc)?,
        mac: diversify(method, master, kdd, KeyUsage::Mac)?,
        dek: diversify(method, master, kdd, KeyUsage::Dek)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KMC: &str = "404142434445464748494A4B4C4D4E4F";
    const KDD: [u8; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

    fn kcvs(method: Diversification, alg: Algorithm, master: &str, kdd: &[u8]) -> [String; 3] {
        let master = SecretKey::from_hex(alg, master).expect("master");
        let set = diversify_set(method, 1, &master, kdd).expect("diversify");
        [set.enc.kcv().to_string(), set.mac.kcv().to_string(), set.dek.kcv().to_string()]
    }

    /// card-spec.md section 3: KMC 404142..4F, KDD 00..09.
    #[test]
    fn emv_cps_vector() {
        assert_eq!(kcvs(Diversification::EmvCps, Algorithm::Tdes, KMC, &KDD), ["C33013", "6F4CA6", "BB8179"]);
    }

    /// card-spec.md section 3.
    #[test]
    fn visa2_vector() {
        assert_eq!(kcvs(Diversification::Visa2, Algorithm::Tdes, KMC, &KDD), ["2BE598", "58DA38", "3C328E"]);
    }

    /// GlobalPlatformPro's KDF3 test values (default key, and a 32-byte master).
    #[test]
    fn kdf3_vectors() {
        assert_eq!(kcvs(Diversification::Kdf3, Algorithm::Aes, KMC, &KDD), ["E79C05", "D1BD77", "3FDE8C"]);
        let master = SecretKey::from_hex(
            Algorithm::Aes,
            "8C72C72CF908411653018807950D82FBAD947562F0828A0B10B8B9606ABF3BCD",
        )
        .expect("master");
        let kdd = [0xD9, 0xB1, 0xDE, 0x5D, 0x03, 0x62, 0xDE, 0xDC, 0xE4, 0xFB];
        let enc = diversify(Diversification::Kdf3, &master, &kdd, KeyUsage::Enc).expect("kdf3");
        assert_eq!(
            enc.expose(),
            &[
                0x9A, 0xAC, 0x5D, 0x0B, 0x36, 0x01, 0xF8, 0x94, 0x38, 0xA0, 0xD9, 0xD0, 0xB6, 0xB2, 0x56,
                0xCF, 0xB4, 0x7E, 0x64, 0x62, 0xDF, 0xA5, 0x22, 0x8D, 0x34, 0x20, 0xC4, 0xAC, 0x7C, 0x22,
                0x47, 0x81
            ][..]
        );
    }

    #[test]
    fn mismatched_methods_are_refused() {
        let aes = SecretKey::from_hex(Algorithm::Aes, KMC).expect("key");
        let tdes = SecretKey::from_hex(Algorithm::Tdes, KMC).expect("key");
        assert!(diversify(Diversification::EmvCps, &aes, &KDD, KeyUsage::Enc).is_err());
        assert!(diversify(Diversification::Kdf3, &tdes, &KDD, KeyUsage::Enc).is_err());
        assert!(diversify(Diversification::Visa2, &tdes, &KDD[..9], KeyUsage::Enc).is_err());
        let none = diversify(Diversification::None, &tdes, &[], KeyUsage::Enc).expect("none");
        assert_eq!(none, tdes);
    }
}
