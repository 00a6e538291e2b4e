//! The little BER-TLV EMV needs: tags of one to three bytes, definite lengths, nested
//! templates; and data object lists (DOLs: tags and lengths without values).

/// One data object: tag (as its bytes read big-endian), value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag, e.g. `0x9F26`.
    pub tag: u32,
    /// The value bytes.
    pub value: &'a [u8],
}

impl Tlv<'_> {
    /// Constructed (a template holding data objects).
    pub fn is_constructed(&self) -> bool {
        let first = if self.tag > 0xFFFF {
            self.tag >> 16
        } else if self.tag > 0xFF {
            self.tag >> 8
        } else {
            self.tag
        };
        first & 0x20 != 0
    }
}

fn read_tag(data: &[u8], i: &mut usize) -> Option<u32> {
    let first = *data.get(*i)?;
    *i += 1;
    let mut tag = first as u32;
    if first & 0x1F == 0x1F {
        loop {
            let b = *data.get(*i)?;
            *i += 1;
            tag = (tag << 8) | b as u32;
            if b & 0x80 == 0 || tag > 0xFF_FFFF {
                break;
            }
        }
    }
    Some(tag)
}

/// Parses a sequence of data objects; `None` when malformed. Padding `00`/`FF` between
/// objects is skipped, as EMV allows.
pub fn parse(data: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        if data[i] == 0x00 || data[i] == 0xFF {
            i += 1;
            continue;
        }
        let tag = read_tag(data, &mut i)?;
        let first = *data.get(i)?;
        i += 1;
        let len = match first {
            0..=0x7F => first as usize,
            0x81 => {
                i += 1;
                *data.get(i - 1)? as usize
            }
            0x82 => {
                i += 2;
                u16::from_be_bytes([*data.get(i - 2)?, *data.get(i - 1)?]) as usize
            }
            _ => return None,
        };
        let value = data.get(i..i + len)?;
        i += len;
        out.push(Tlv { tag, value });
    }
    Some(out)
}

/// The value of the first data object with `tag`, searching inside templates.
pub fn find(data: &[u8], tag: u32) -> Option<&[u8]> {
    for t in parse(data)? {
        if t.tag == tag {
            return Some(t.value);
        }
        if t.is_constructed() {
            if let Some(v) = find(t.value, tag) {
                return Some(v);
            }
        }
    }
    None
}

/// Encodes a data object.
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    let tb = tag.to_be_bytes();
    let skip = tb.iter().position(|b| *b != 0).unwrap_or(3);
    out.extend_from_slice(&tb[skip..]);
    match value.len() {
        n @ 0..=0x7F => out.push(n as u8),
        n @ 0x80..=0xFF => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(value);
    out
}

/// The (tag, length) entries of a data object list; `None` when malformed.
pub fn parse_dol(dol: &[u8]) -> Option<Vec<(u32, usize)>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < dol.len() {
        let tag = read_tag(dol, &mut i)?;
        let len = *dol.get(i)? as usize;
        i += 1;
        out.push((tag, len));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_find_and_round_trip() {
        let inner = [encode(0x50, b"PBOC DEBIT"), encode(0x9F38, &[0x9F, 0x1A, 0x02])].concat();
        let fci = encode(0x6F, &[encode(0x84, &[0xA0, 0, 0, 3, 0x33]), encode(0xA5, &inner)].concat());
        assert_eq!(find(&fci, 0x50), Some(&b"PBOC DEBIT"[..]));
        assert_eq!(find(&fci, 0x9F38), Some(&[0x9F, 0x1A, 0x02][..]));
        assert_eq!(find(&fci, 0x57), None);
        let long = encode(0x70, &[0x11; 300]);
        assert_eq!(&long[..4], &[0x70, 0x82, 0x01, 0x2C]);
        assert_eq!(parse(&long).expect("parse")[0].value.len(), 300);
        assert!(parse(&[0x9F, 0x26, 0x08, 1, 2]).is_none());
        assert_eq!(parse_dol(&[0x9F, 0x02, 0x06, 0x95, 0x05]), Some(vec![(0x9F02, 6), (0x95, 5)]));
    }
}
