//! Key check values: what a key ceremony record, a key-management system and the card's PUT
//! KEY answer all carry, so a key can be recognised without being shown. The host compares
//! them before INITIALIZE UPDATE, so a wrong key set never reaches the card.
//!
//! 3DES: first 3 bytes of `E_K(00*8)`. AES and SM4: first 3 bytes of `E_K(01*16)`
//! (GlobalPlatform Amendment D 7.2.2; SM4 follows AES [I]). See [`crate::SecretKey::kcv`].

use crate::{Error, KeyUsage};

/// A 3-byte key check value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kcv(pub [u8; 3]);

impl Kcv {
    /// Parses 6 hex digits (spaces allowed).
    pub fn from_hex(text: &str) -> Result<Kcv, Error> {
        let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let bad = || Error::Key(format!("{text:?} is not a 3-byte key check value"));
        if clean.len() != 6 || !clean.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 3];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&clean[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Kcv(out))
    }
}

impl std::fmt::Display for Kcv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02X}{:02X}{:02X}", self.0[0], self.0[1], self.0[2])
    }
}

impl std::fmt::Debug for Kcv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kcv({self})")
    }
}

/// The check values of a key set, ENC, MAC and DEK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KcvSet {
    /// KCV of Key-ENC.
    pub enc: Kcv,
    /// KCV of Key-MAC.
    pub mac: Kcv,
    /// KCV of Key-DEK.
    pub dek: Kcv,
}

impl KcvSet {
    /// One value of the set.
    pub fn get(&self, usage: KeyUsage) -> Kcv {
        match usage {
            KeyUsage::Enc => self.enc,
            KeyUsage::Mac => self.mac,
            KeyUsage::Dek => self.dek,
        }
    }

    /// The first key whose value differs from `expected`, as an [`Error::KeyCheck`].
    pub fn check(&self, expected: &KcvSet) -> Result<(), Error> {
        for usage in KeyUsage::ALL {
            let (actual, want) = (self.get(usage), expected.get(usage));
            if actual != want {
                return Err(Error::KeyCheck { usage, expected: want, actual });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Algorithm, SecretKey};

    #[test]
    fn the_default_test_key_has_its_well_known_kcvs() {
        let k = "404142434445464748494A4B4C4D4E4F";
        assert_eq!(SecretKey::from_hex(Algorithm::Tdes, k).expect("key").kcv().to_string(), "8BAF47");
        // AES KCV of the same bytes, as GlobalPlatformPro prints it.
        assert_eq!(SecretKey::from_hex(Algorithm::Aes, k).expect("key").kcv().to_string(), "504A77");
    }

    #[test]
    fn check_names_the_first_wrong_key() {
        let a = KcvSet { enc: Kcv([1, 2, 3]), mac: Kcv([4, 5, 6]), dek: Kcv([7, 8, 9]) };
        let mut b = a;
        b.mac = Kcv::from_hex("AA BB CC").expect("kcv");
        assert!(a.check(&a).is_ok());
        let e = a.check(&b).expect_err("differs");
        assert!(matches!(e, Error::KeyCheck { usage: KeyUsage::Mac, .. }), "{e}");
        assert!(Kcv::from_hex("12345").is_err());
    }
}
