//! The three data formats of the SSSE record table (card-spec.md section 1): `an` ASCII (or
//! GBK for the name) padded with 00, `cn` compressed BCD padded on the right with F, `b`
//! binary.

use crate::FieldError;

/// `an` of exactly `len` bytes: ASCII text, right-padded with 00 when `pad` (names), else it
/// must fill the field (card number, SSN).
pub fn an(field: &'static str, text: &str, len: usize, pad: bool) -> Result<Vec<u8>, FieldError> {
    if !text.is_ascii() || text.bytes().any(|b| b.is_ascii_control()) {
        return Err(FieldError::new(field, format!("{text:?} is not printable ASCII")));
    }
    encoded_an(field, text.as_bytes(), len, pad)
}

/// `an` from bytes already encoded (GBK names), right-padded with 00 up to `len`.
pub fn encoded_an(field: &'static str, bytes: &[u8], len: usize, pad: bool) -> Result<Vec<u8>, FieldError> {
    if bytes.len() > len || (!pad && bytes.len() != len) {
        return Err(FieldError::new(field, format!("{} bytes; the field holds {len}", bytes.len())));
    }
    let mut out = bytes.to_vec();
    out.resize(len, 0);
    Ok(out)
}

/// `cn` of `len` bytes: the digits packed two a byte, then F nibbles.
pub fn cn(field: &'static str, digits: &str, len: usize) -> Result<Vec<u8>, FieldError> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(field, format!("{digits:?} must be digits only")));
    }
    if digits.len() > 2 * len {
        return Err(FieldError::new(field, format!("{} digits; the field holds {}", digits.len(), 2 * len)));
    }
    let mut nibbles: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    nibbles.resize(2 * len, 0xF);
    Ok(nibbles.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// Decodes `an`: the text up to the first 00.
pub fn an_decode(field: &'static str, bytes: &[u8]) -> Result<String, FieldError> {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    let text = &bytes[..end];
    if !text.is_ascii() || bytes[end..].iter().any(|b| *b != 0) {
        return Err(FieldError::new(field, format!("{} is not 00-padded ASCII", hex::encode_upper(bytes))));
    }
    Ok(String::from_utf8_lossy(text).into_owned())
}

/// Decodes `cn`: digits up to the first F nibble; any other nibble above 9 is an error.
pub fn cn_decode(field: &'static str, bytes: &[u8]) -> Result<String, FieldError> {
    let mut out = String::with_capacity(bytes.len() * 2);
    let mut ended = false;
    for n in bytes.iter().flat_map(|b| [b >> 4, b & 0x0F]) {
        match (n, ended) {
            (0..=9, false) => out.push(char::from(b'0' + n)),
            (0xF, _) => ended = true,
            _ => {
                return Err(FieldError::new(
                    field,
                    format!("{} is not F-padded BCD", hex::encode_upper(bytes)),
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_pads_or_must_fill() {
        assert_eq!(an("t", "AB", 4, true), Ok(b"AB\0\0".to_vec()));
        assert!(an("t", "AB", 4, false).is_err());
        assert!(an("t", "ABCDE", 4, true).is_err());
        assert!(an("t", "张", 4, true).is_err());
        assert_eq!(an_decode("t", b"AB\0\0").as_deref(), Ok("AB"));
        assert!(an_decode("t", b"AB\0C").is_err(), "data after the padding");
    }

    #[test]
    fn cn_packs_and_f_pads() {
        assert_eq!(cn("t", "20240101", 4), Ok(vec![0x20, 0x24, 0x01, 0x01]));
        assert_eq!(
            cn("t", "1101000000000000000001", 12).map(hex::encode_upper).as_deref(),
            Ok("1101000000000000000001FF")
        );
        assert_eq!(cn("t", "1", 1), Ok(vec![0x1F]));
        assert!(cn("t", "123", 1).is_err());
        assert!(cn("t", "12a", 2).is_err());
        assert_eq!(cn_decode("t", &[0x11, 0x01, 0x05]).as_deref(), Ok("110105"));
        assert_eq!(cn_decode("t", &[0x1F, 0xFF]).as_deref(), Ok("1"));
        assert!(cn_decode("t", &[0x1A]).is_err());
        assert!(cn_decode("t", &[0xF1]).is_err(), "a digit after the padding");
    }
}
