//! BER-TLV on card answers and card data (FCI templates, EMV records and templates, data object
//! lists), on top of `iso7816-tlv`: the host and the simulators read and write data objects
//! here and nowhere else. Tags are numbers read big-endian (`0x9F38`, `0xBF0C`).
//!
//! Where `iso7816-tlv` and ISO 7816-4 / EMV part ways, this module decides once:
//! - Lengths are written in their shortest form (`81 xx` from 128 bytes, `82 xx xx` from
//!   256): the library writes a 127-byte value as `81 7F`. A template's content is written as
//!   given; the library writes only templates it has parsed itself.
//! - `00` and `FF` bytes before, between and after data objects are padding (ISO 7816-4
//!   5.2.2.1, EMV Book 3 annex B) and skipped. The library does not skip them inside a
//!   template: a padded template does not parse, and reading stops there.
//! - A data object list (tags and lengths, no values) is not TLV: its tags are read by the
//!   BER rule and checked by the library's [`Tag`].

use iso7816_tlv::ber::{Tag, Tlv, Value};

/// One data object: `tag`, the length in its shortest form, `value` as given (for a template,
/// the encoded data objects it holds).
///
/// # Panics
/// When `tag` is not a BER-TLV tag of one to three bytes (`0x1F`, `0x9F80`): tags are
/// constants of the code, never data from outside.
pub fn encode_tlv(tag: u32, value: &[u8]) -> Vec<u8> {
    let tag = match Tag::try_from(tag) {
        Ok(t) => t,
        Err(e) => panic!("{tag:X} is not a BER-TLV tag: {e}"),
    };
    let mut out = tag.to_bytes().to_vec();
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(value);
    out
}

/// The data objects of `data` in order, padding skipped; reading stops at the first object
/// that does not parse, keeping those before it.
pub fn parse_tlvs(data: &[u8]) -> Vec<Tlv> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(start) = rest.iter().position(|b| *b != 0x00 && *b != 0xFF) {
        let (tlv, tail) = Tlv::parse(&rest[start..]);
        let Ok(tlv) = tlv else { break };
        out.push(tlv);
        rest = tail;
    }
    out
}

/// The value of the first primitive data object with `tag` among `objects`, searching nested
/// templates in order.
pub fn primitive_in(objects: &[Tlv], tag: u32) -> Option<&[u8]> {
    let tag = Tag::try_from(tag).ok()?;
    objects.iter().find_map(|tlv| match tlv.find(&tag)?.value() {
        Value::Primitive(v) => Some(&v[..]),
        Value::Constructed(_) => None,
    })
}

/// The value of the first primitive data object with `tag` in `data`, searching nested
/// templates (e.g. tag 50, the application label, inside 6F / A5 of an FCI). `None` when
/// absent or when the data is not BER-TLV.
pub fn find_primitive(data: &[u8], tag: u32) -> Option<Vec<u8>> {
    primitive_in(&parse_tlvs(data), tag).map(<[u8]>::to_vec)
}

/// A tag as the number the functions here take (`0x9F38`).
pub fn tag_number(tag: &Tag) -> u32 {
    let n: u64 = tag.clone().into();
    // A tag has three bytes at most.
    n as u32
}

/// The (tag, length) entries of a data object list (PDOL, CDOL); `None` when malformed.
pub fn parse_dol(dol: &[u8]) -> Option<Vec<(u32, usize)>> {
    let mut out = Vec::new();
    let mut rest = dol;
    while let Some(first) = rest.first() {
        // A first byte xxx11111 is followed by tag bytes up to one with b8 clear.
        let mut n = 1;
        if first & 0x1F == 0x1F {
            while rest.get(n)? & 0x80 != 0 {
                n += 1;
            }
            n += 1;
        }
        if n > 3 {
            return None;
        }
        let number = rest[..n].iter().fold(0u32, |a, b| (a << 8) | u32::from(*b));
        let tag = Tag::try_from(number).ok()?;
        out.push((tag_number(&tag), usize::from(*rest.get(n)?)));
        rest = &rest[n + 1..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("hex")
    }

    #[test]
    fn label_inside_fci() {
        // 6F { 84 <AID>, A5 { 50 "PBOC DEBIT", 87 01 } }
        let fci = h("6F1B8408A000000333010101A50F500A50424F4320444542495487 0101");
        assert_eq!(find_primitive(&fci, 0x50).as_deref(), Some(&b"PBOC DEBIT"[..]));
        assert_eq!(find_primitive(&fci, 0x84).map(|v| v.len()), Some(8));
        assert_eq!(find_primitive(&fci, 0x9F38), None);
        assert_eq!(find_primitive(&[0xFF], 0x50), None);
    }

    #[test]
    fn lengths_are_written_in_their_shortest_form() {
        for (len, header) in [
            (0, "9F4A00"),
            (1, "9F4A01"),
            (127, "9F4A7F"),
            (128, "9F4A8180"),
            (255, "9F4A81FF"),
            (256, "9F4A820100"),
            (300, "9F4A82012C"),
            (65_535, "9F4A82FFFF"),
            (65_536, "9F4A83010000"),
        ] {
            let value: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let encoded = encode_tlv(0x9F4A, &value);
            assert_eq!(encoded, [h(header), value.clone()].concat(), "{len} bytes");
            let parsed = parse_tlvs(&encoded);
            assert_eq!(parsed.len(), 1, "{len} bytes");
            assert_eq!(primitive_in(&parsed, 0x9F4A), Some(&value[..]), "{len} bytes");
        }
    }

    #[test]
    fn emv_tags_of_one_two_and_three_bytes_and_templates() {
        // A PPSE answer: 6F { 84 name, A5 { BF0C { 61 { 4F AID, 50 label, 87 01 } } } }.
        let entry = encode_tlv(
            0x61,
            &[encode_tlv(0x4F, &h("A000000333010101")), encode_tlv(0x50, b"PBOC"), encode_tlv(0x87, &[1])]
                .concat(),
        );
        let fci = encode_tlv(
            0x6F,
            &[encode_tlv(0x84, b"2PAY.SYS.DDF01"), encode_tlv(0xA5, &encode_tlv(0xBF0C, &entry))].concat(),
        );
        let expected = "6F2A 840E325041592E5359532E4444463031 A518 BF0C15 6113 4F08A000000333010101 \
                        500450424F43 870101";
        assert_eq!(fci, h(expected));
        let objects = parse_tlvs(&fci);
        assert_eq!(objects.len(), 1);
        assert!(objects[0].tag().is_constructed());
        assert_eq!(primitive_in(&objects, 0x4F), Some(&h("A000000333010101")[..]));
        assert_eq!(primitive_in(&objects, 0x87), Some(&[1][..]));
        // A template is not a primitive: its tag finds nothing.
        assert_eq!(primitive_in(&objects, 0xBF0C), None);
        // Two-byte tags of every class in a record, a zero-length value among them.
        let record = encode_tlv(
            0x70,
            &[
                encode_tlv(0x5F20, b"ZHANG/SAN"),
                encode_tlv(0x9F38, &h("9F66049F02069F37049F1A02")),
                encode_tlv(0x9F1F, &[]),
                encode_tlv(0xDF8101, &[0xAA]),
            ]
            .concat(),
        );
        assert_eq!(&record[..5], &h("70 23 5F20 09")[..]);
        assert_eq!(find_primitive(&record, 0x5F20).as_deref(), Some(&b"ZHANG/SAN"[..]));
        assert_eq!(find_primitive(&record, 0x9F1F), Some(Vec::new()));
        assert_eq!(find_primitive(&record, 0xDF8101), Some(vec![0xAA]));
        assert_eq!(objects[0].to_vec(), fci, "below 127 bytes the library writes the same bytes");
        assert_eq!(tag_number(objects[0].tag()), 0x6F);
        assert_eq!(encode_tlv(0x64, &[]), [0x64, 0x00], "an empty template");
    }

    #[test]
    #[should_panic(expected = "1F is not a BER-TLV tag")]
    fn a_tag_that_is_not_ber_is_a_programming_error() {
        let _ = encode_tlv(0x1F, &[]);
    }

    #[test]
    fn padding_truncation_and_trailing_bytes() {
        // 00 and FF between objects are skipped.
        let padded = h("00 5A0212 34 FF FF 5F240335 1231 00");
        let objects = parse_tlvs(&padded);
        assert_eq!(objects.len(), 2);
        assert_eq!(primitive_in(&objects, 0x5F24), Some(&h("351231")[..]));
        // Inside a template the library does not skip padding: the template does not parse.
        assert_eq!(find_primitive(&h("70 05 00 5A021234"), 0x5A), None);
        // Reading stops at a truncated object and keeps what came before.
        let cut = h("9F360200 01 9F2608 0102");
        assert_eq!(find_primitive(&cut, 0x9F36), Some(vec![0, 1]));
        assert_eq!(find_primitive(&cut, 0x9F26), None);
        assert!(parse_tlvs(&h("9F2608 0102")).is_empty());
    }

    #[test]
    fn data_object_lists() {
        assert_eq!(parse_dol(&h("9F0206 9505")), Some(vec![(0x9F02, 6), (0x95, 5)]));
        assert_eq!(
            parse_dol(&h("9F6604 9F0206 9F3704 5F2A02 DF810101")),
            Some(vec![(0x9F66, 4), (0x9F02, 6), (0x9F37, 4), (0x5F2A, 2), (0xDF8101, 1)])
        );
        assert_eq!(parse_dol(&[]), Some(Vec::new()));
        assert_eq!(parse_dol(&h("9F02")), None, "no length");
        assert_eq!(parse_dol(&h("9F")), None, "tag cut short");
        assert_eq!(parse_dol(&h("9F8181810106")), None, "a tag of four bytes");
        assert_eq!(parse_dol(&h("0006")), None, "00 is no tag");
    }
}
