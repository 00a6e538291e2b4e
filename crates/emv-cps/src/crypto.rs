//! Issuer keys and the card's application keys; the application cryptogram.
//!
//! - Card keys: EMV Book 2 A1.4.1 option A. `Y` = the rightmost 16 digits of PAN || PSN (2
//!   digits, `00` when absent), left-padded with zeros, packed BCD; `MK = 3DES_IMK(Y) ||
//!   3DES_IMK(Y xor FF*8)`, odd parity.
//! - Session key (CVN 01, the PBOC / UnionPay method, not EMV's common session key
//!   derivation): `SK = 3DES_MK(00*6 || ATC) || 3DES_MK(00*6 || (ATC xor FFFF))`.
//! - Cryptogram: ISO 9797-1 MAC algorithm 3 (single DES chain, 3DES last block), padding
//!   method 2 (`80 00..`), ICV zero, under SK, over `CDOL1 data || AIP || ATC || IAD[3..7]`
//!   (the CVR with its length byte `03`). With this crate's CDOL1 the CDOL1 data are exactly
//!   EMV Book 2 A1.2's recommended minimum set (amount, other amount, terminal country, TVR,
//!   currency, date, type, unpredictable number).

use secure_channel::{Algorithm, SecretKey};

use crate::Error;

/// Test issuer master key for application cryptograms (IMK-AC). Not a production value.
pub const TEST_IMK_AC: &str = "0123456789ABCDEFFEDCBA9876543210";
/// Test issuer master key for secure messaging integrity (IMK-SMI).
pub const TEST_IMK_SMI: &str = "101112131415161718191A1B1C1D1E1F";
/// Test issuer master key for secure messaging confidentiality (IMK-SMC).
pub const TEST_IMK_SMC: &str = "202122232425262728292A2B2C2D2E2F";
/// Test transport key the test data-preparation files are encrypted under.
pub const TEST_TRANSPORT_KEY: &str = "505152535455565758595A5B5C5D5E5F";

/// The issuer's master keys for one BIN range.
#[derive(Debug, Clone)]
pub struct IssuerKeys {
    /// IMK-AC: application cryptograms.
    pub ac: SecretKey,
    /// IMK-SMI: issuer script MACs.
    pub smi: SecretKey,
    /// IMK-SMC: issuer script encryption.
    pub smc: SecretKey,
}

impl IssuerKeys {
    /// The test issuer ([`TEST_IMK_AC`], [`TEST_IMK_SMI`], [`TEST_IMK_SMC`]).
    pub fn test() -> IssuerKeys {
        let k =
            |h: &str| SecretKey::from_hex(Algorithm::Tdes, h).unwrap_or_else(|_| unreachable!("test key"));
        IssuerKeys { ac: k(TEST_IMK_AC), smi: k(TEST_IMK_SMI), smc: k(TEST_IMK_SMC) }
    }
}

/// The test transport key ([`TEST_TRANSPORT_KEY`]).
pub fn test_transport_key() -> SecretKey {
    SecretKey::from_hex(Algorithm::Tdes, TEST_TRANSPORT_KEY).unwrap_or_else(|_| unreachable!("test key"))
}

fn digits(s: &str) -> Result<Vec<u8>, Error> {
    s.bytes()
        .map(|b| {
            if b.is_ascii_digit() {
                Ok(b - b'0')
            } else {
                Err(Error::Dp(format!("{s:?} is not all digits")))
            }
        })
        .collect()
}

/// Option A card key (see the module docs) of `imk` for `pan` and `psn`.
pub fn card_key(imk: &SecretKey, pan: &str, psn: u8) -> Result<SecretKey, Error> {
    let mut d = digits(pan)?;
    d.extend([psn / 10 % 10, psn % 10]);
    let mut y16 = vec![0u8; 16usize.saturating_sub(d.len())];
    y16.extend_from_slice(&d[d.len().saturating_sub(16)..]);
    let y: Vec<u8> = y16.chunks(2).map(|p| (p[0] << 4) | p[1]).collect();
    let inv: Vec<u8> = y.iter().map(|b| b ^ 0xFF).collect();
    let mut mk = zeroize::Zeroizing::new(imk.encrypt_ecb(&[y, inv].concat())?);
    for b in mk.iter_mut() {
        // Odd parity in bit 1, as EMV asks (DES ignores those bits anyway).
        *b = (*b & 0xFE) | u8::from((*b >> 1).count_ones() % 2 == 0);
    }
    Ok(SecretKey::new(Algorithm::Tdes, mk.to_vec())?)
}

/// The CVN 01 session key of card key `mk` for `atc`.
pub fn session_key(mk: &SecretKey, atc: u16) -> Result<SecretKey, Error> {
    let mut blocks = zeroize::Zeroizing::new([0u8; 16]);
    blocks[6..8].copy_from_slice(&atc.to_be_bytes());
    blocks[14..16].copy_from_slice(&(!atc).to_be_bytes());
    let sk = zeroize::Zeroizing::new(mk.encrypt_ecb(&blocks[..])?);
    Ok(SecretKey::new(Algorithm::Tdes, sk.to_vec())?)
}

/// The input of the application cryptogram: `CDOL1 data || AIP || ATC || IAD[3..7]`.
pub fn cryptogram_input(cdol1_data: &[u8], aip: [u8; 2], atc: u16, iad: &[u8]) -> Result<Vec<u8>, Error> {
    let cvr =
        iad.get(3..7).ok_or_else(|| Error::Cryptogram(format!("IAD of {} bytes has no CVR", iad.len())))?;
    Ok([cdol1_data, &aip, &atc.to_be_bytes(), cvr].concat())
}

/// The application cryptogram under card key `mk` (CVN 01).
pub fn application_cryptogram(mk: &SecretKey, atc: u16, input: &[u8]) -> Result<[u8; 8], Error> {
    Ok(session_key(mk, atc)?.retail_mac(&[0; 8], input)?)
}

/// The Luhn check digit of `digits_without_check`.
pub fn luhn_digit(digits_without_check: &str) -> Result<u8, Error> {
    let d = digits(digits_without_check)?;
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = x as u32;
            if i % 2 == 0 {
                let y = x * 2;
                if y > 9 {
                    y - 9
                } else {
                    y
                }
            } else {
                x
            }
        })
        .sum();
    Ok(((10 - sum % 10) % 10) as u8)
}

/// True when `pan` is 12..19 digits with a correct Luhn check digit.
pub fn luhn_ok(pan: &str) -> bool {
    (12..=19).contains(&pan.len())
        && luhn_digit(&pan[..pan.len() - 1]).is_ok_and(|c| pan.as_bytes()[pan.len() - 1] == b'0' + c)
}

/// A test PAN: `bin`, then account digits that follow deterministically from `holder` (an
/// FNV-1a hash of it, so the holder's identifier does not appear in the PAN), then the Luhn
/// check digit; `len` digits in all (16..19).
pub fn test_pan(bin: &str, holder: &str, len: usize) -> Result<String, Error> {
    digits(bin)?;
    if !(6..=8).contains(&bin.len()) {
        return Err(Error::Dp(format!("BIN {bin:?}: 6 to 8 digits")));
    }
    if !(16..=19).contains(&len) {
        return Err(Error::Dp(format!("PAN length {len}: 16 to 19")));
    }
    if holder.trim().is_empty() {
        return Err(Error::Dp("no holder to number the account from".into()));
    }
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in holder.trim().bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    let n = len - 1 - bin.len();
    let account: String = format!("{h:020}").chars().rev().take(n).collect();
    let body = format!("{bin}{account}");
    Ok(format!("{body}{}", luhn_digit(&body)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn() {
        assert_eq!(luhn_digit("7992739871").expect("digits"), 3);
        assert!(luhn_ok("4111111111111111"));
        assert!(!luhn_ok("4111111111111112"));
        let pan = test_pan("621234", "11010519491231002X", 19).expect("pan");
        assert_eq!(pan.len(), 19);
        assert!(pan.starts_with("621234") && luhn_ok(&pan));
        assert_eq!(pan, test_pan("621234", "11010519491231002X", 19).expect("pan"), "deterministic");
        assert_ne!(pan, test_pan("621234", "110105194912310011", 19).expect("pan"));
        assert!(test_pan("62A234", "x", 19).is_err());
    }

    /// Option A: PAN 5413330089020011 PSN 01 -> Y = 1333008902001101, ZL = 3DES_IMK(Y).
    #[test]
    fn card_key_takes_the_rightmost_16_digits_and_is_odd_parity() {
        let imk = IssuerKeys::test().ac;
        let mk = card_key(&imk, "5413330089020011", 1).expect("mk");
        assert!(mk.expose().iter().all(|b| b.count_ones() % 2 == 1));
        let y = hex::decode("1333008902001101").expect("hex");
        let zl = imk.encrypt_ecb(&y).expect("zl");
        assert_eq!(
            mk.expose()[..8].iter().map(|b| b & 0xFE).collect::<Vec<_>>(),
            zl.iter().map(|b| b & 0xFE).collect::<Vec<_>>()
        );
        // A 19-digit PAN keeps only its last 14 digits and the PSN.
        let long = card_key(&imk, "6212340000000000017", 0).expect("mk");
        let short = card_key(&imk, &"6212340000000000017"[5..], 0).expect("mk");
        assert_eq!(long, short);
        let sk0 = session_key(&mk, 1).expect("sk");
        assert_ne!(sk0, session_key(&mk, 2).expect("sk"));
    }

    /// The whole CVN 01 chain recomputed independently with Python `cryptography`
    /// (3DES-ECB, hand-written option A, parity, session key and retail MAC): IMK-AC
    /// 0123..10, PAN 5413330089020011 PSN 01, ATC 0001, CDOL1 data of a 1.00 CNY balance
    /// enquiry on 2026-03-15 with UN 12345678, AIP 1800, CVR 03 A4 00 00.
    #[test]
    fn cvn01_vector() {
        let mk = card_key(&IssuerKeys::test().ac, "5413330089020011", 1).expect("mk");
        assert_eq!(hex::encode_upper(mk.expose()), "73C4677545D991E986074A16BFBACD75");
        let sk = session_key(&mk, 1).expect("sk");
        assert_eq!(hex::encode_upper(sk.expose()), "D805D82044A4FB734A8C29C535EA8C81");
        let cdol1 =
            hex::decode("000000000100 000000000000 0156 0000000000 0156 260315 31 12345678".replace(' ', ""))
                .expect("hex");
        let iad = hex::decode("07010103A40000").expect("hex");
        let input = cryptogram_input(&cdol1, [0x18, 0x00], 1, &iad).expect("input");
        let ac = application_cryptogram(&mk, 1, &input).expect("ac");
        assert_eq!(hex::encode_upper(ac), "CDE0EA5D57F602F7");
    }
}
