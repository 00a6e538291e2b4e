//! The answer to reset (ISO 7816-3 8.2): interface bytes, protocols, historical bytes and
//! the card capabilities they announce (ISO 7816-4 8.1.1.2.7).

/// A parsed ATR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Atr {
    raw: Vec<u8>,
    historical: std::ops::Range<usize>,
    protocols: Vec<u8>,
}

/// An ATR that breaks ISO 7816-3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AtrError {
    /// TS is neither 3B (direct) nor 3F (inverse convention).
    #[error("ATR TS byte {0:02X} is neither 3B nor 3F")]
    BadTs(u8),
    /// The ATR ends before the bytes its format bytes announce.
    #[error("ATR is truncated: {0} bytes")]
    Truncated(usize),
    /// The check byte TCK does not make the XOR of T0..TCK zero.
    #[error("ATR check byte TCK is wrong (XOR is {0:02X}, must be 00)")]
    BadTck(u8),
    /// Bytes follow the end of the ATR.
    #[error("ATR has {0} byte(s) past its end")]
    TrailingBytes(usize),
}

impl Atr {
    /// Parses and checks an ATR (TCK is required when any protocol other than T=0 is offered).
    pub fn parse(raw: &[u8]) -> Result<Atr, AtrError> {
        let ts = *raw.first().ok_or(AtrError::Truncated(0))?;
        if ts != 0x3B && ts != 0x3F {
            return Err(AtrError::BadTs(ts));
        }
        let t0 = *raw.get(1).ok_or(AtrError::Truncated(raw.len()))?;
        let k = (t0 & 0x0F) as usize;
        let mut y = t0 >> 4;
        let mut i = 2;
        let mut protocols = Vec::new();
        loop {
            let n = (y & 0x0F).count_ones() as usize;
            let has_td = y & 0x08 != 0;
            i += n;
            if i > raw.len() {
                return Err(AtrError::Truncated(raw.len()));
            }
            if !has_td {
                break;
            }
            let td = raw[i - 1];
            protocols.push(td & 0x0F);
            y = td >> 4;
        }
        let historical = i..i + k;
        let mut end = i + k;
        let needs_tck = protocols.iter().any(|&p| p != 0);
        if needs_tck {
            end += 1;
        }
        if end > raw.len() {
            return Err(AtrError::Truncated(raw.len()));
        }
        if end < raw.len() {
            return Err(AtrError::TrailingBytes(raw.len() - end));
        }
        if needs_tck {
            let x = raw[1..end].iter().fold(0u8, |a, b| a ^ b);
            if x != 0 {
                return Err(AtrError::BadTck(x));
            }
        }
        if protocols.is_empty() {
            protocols.push(0);
        }
        protocols.dedup();
        Ok(Atr { raw: raw.to_vec(), historical, protocols })
    }

    /// The ATR bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// The historical bytes (T1..TK).
    pub fn historical_bytes(&self) -> &[u8] {
        &self.raw[self.historical.clone()]
    }

    /// Protocols offered (0 for T=0, 1 for T=1, ...), in order of the TD bytes.
    pub fn protocols(&self) -> &[u8] {
        &self.protocols
    }

    /// The compact-TLV objects of the historical bytes when they start with category
    /// indicator 00 (status in the last 3 bytes) or 80 (status in a TLV): `(tag, value)`.
    pub fn compact_tlv(&self) -> Vec<(u8, &[u8])> {
        let h = self.historical_bytes();
        let body = match h.first() {
            Some(0x80) => &h[1..],
            Some(0x00) if h.len() >= 4 => &h[1..h.len() - 3],
            _ => return Vec::new(),
        };
        let mut out = Vec::new();
        let mut i = 0;
        while i < body.len() {
            let tag = body[i] >> 4;
            let len = (body[i] & 0x0F) as usize;
            if i + 1 + len > body.len() {
                break;
            }
            out.push((tag, &body[i + 1..i + 1 + len]));
            i += 1 + len;
        }
        out
    }

    /// True when the card capabilities (compact-TLV tag 7, third byte, b7) announce
    /// extended Lc and Le fields.
    pub fn extended_length(&self) -> bool {
        self.compact_tlv().iter().any(|(tag, v)| *tag == 7 && v.len() >= 3 && v[2] & 0x40 != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("hex")
    }

    #[test]
    fn t1_card_with_capabilities() {
        // 3B 8A 80 01 | 80 73 00 00 C0 | 4E 43 53 53 | TCK
        let mut raw = h("3B8A8001 80 730000C0 99 00 BF 7C 7A");
        let tck = raw[1..].iter().fold(0u8, |a, b| a ^ b);
        raw.push(tck);
        let atr = Atr::parse(&raw).expect("valid");
        assert_eq!(atr.protocols(), &[0, 1]);
        assert_eq!(atr.historical_bytes().len(), 10);
        assert!(atr.extended_length());
    }

    #[test]
    fn t0_card_needs_no_tck() {
        // A typical social-security card ATR (T=0, 13 historical bytes, the spec's example).
        let atr = Atr::parse(&h("3B6D0000 00814E43238697159900BF7C7A")).expect("valid");
        assert_eq!(atr.historical_bytes(), &h("00814E43238697159900BF7C7A")[..]);
        assert_eq!(atr.protocols(), &[0]);
        assert!(!atr.extended_length());
    }

    #[test]
    fn broken_atrs_are_explained() {
        assert_eq!(Atr::parse(&h("3A00")), Err(AtrError::BadTs(0x3A)));
        assert_eq!(Atr::parse(&h("3B8A8001 80")), Err(AtrError::Truncated(5)));
        let mut bad = h("3B818001 80");
        bad.push(0x00);
        assert!(matches!(Atr::parse(&bad), Err(AtrError::BadTck(_))));
        assert_eq!(Atr::parse(&h("3B00 FF")), Err(AtrError::TrailingBytes(1)));
    }
}
