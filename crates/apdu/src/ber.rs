//! BER-TLV on card answers and card data (FCI templates, EMV records and templates, data object
//! lists), on top of `iso7816-tlv`: the host and the simulators read and write data objects
//! here and nowhere else. Tags are numbers read big-endian (`0x9F38`, `0xBF0C`).
//!
//! Where `iso7816-tlv` and ISO 7816-4 / EMV part ways, this module decides once:
//! - Lengths are written in their shortest form (`81 xx` from 128 bytes, `82 xx xx` from
//!   256): the library writes a 127-byte value as `81 7F`. A template's content is written as
//!   given; the library writes only templates it has parsed itself.
//! - `00` and `FF` bytes before, between and after data objects are padding (ISO 7816-4
//!   5.2.2.1, EMV Book 3 annex B) and skipped, at the top level and inside every template
//!   (a record `70`, an FCI `6F` / `A5` / `BF0C`). The library skips none of them inside a
//!   template (a padded template does not parse there), so reading is a small recursive descent
//!   here: tags are checked by the library's [`Tag`], objects are the library's [`Tlv`] and
//!   [`Value`], and a template's objects are read from its content only.
//! - A length field is `00`..`7F` or `81`..`84` followed by one to four bytes (ISO 7816-4
//!   5.2.2.2); a longer form than needed is accepted at every level. `80` (indefinite, which
//!   the library reads as zero) and `85`..`FF` are errors, as is a value that runs past the
//!   data or its template. Templates nest at most [`MAX_TLV_DEPTH`] deep.
//! - A data object list (tags and lengths, no values) is not TLV: its tags are read by the
//!   BER rule and checked by the library's [`Tag`].

use iso7816_tlv::ber::{Tag, Tlv, Value};

/// How deep templates may nest (an FCI of a PPSE is four: `6F` / `A5` / `BF0C` / `61`);
/// deeper data is refused instead of read by unbounded recursion.
pub const MAX_TLV_DEPTH: usize = 32;

/// Why BER-TLV data did not parse. `offset` counts bytes from the start of the data given to
/// [`try_parse_tlvs`] and points at the first byte of the object at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BerError {
    /// The data ends inside a tag.
    #[error("BER-TLV: the tag at byte {offset} is cut short")]
    TruncatedTag {
        /// Where the object starts.
        offset: usize,
    },
    /// The tag has more than three bytes, or the library refuses it.
    #[error("BER-TLV: the tag at byte {offset} is not a tag of one to three bytes")]
    InvalidTag {
        /// Where the object starts.
        offset: usize,
    },
    /// The data ends inside a length field.
    #[error("BER-TLV: the length of tag {tag:X} at byte {offset} is cut short")]
    TruncatedLength {
        /// Where the object starts.
        offset: usize,
        /// The object's tag.
        tag: u32,
    },
    /// The first length byte is `80` (indefinite) or `85`..`FF`.
    #[error("BER-TLV: length byte {byte:02X} of tag {tag:X} at byte {offset} is not a length")]
    InvalidLength {
        /// Where the object starts.
        offset: usize,
        /// The object's tag.
        tag: u32,
        /// The first byte of the length field.
        byte: u8,
    },
    /// The length says more bytes than the data (or the enclosing template) holds.
    #[error("BER-TLV: tag {tag:X} at byte {offset} has length {length}, only {available} bytes follow")]
    LengthBeyondData {
        /// Where the object starts.
        offset: usize,
        /// The object's tag.
        tag: u32,
        /// The length field's value.
        length: usize,
        /// The bytes left after the length field.
        available: usize,
    },
    /// A template more than [`MAX_TLV_DEPTH`] deep.
    #[error("BER-TLV: template {tag:X} at byte {offset} is nested more than {MAX_TLV_DEPTH} deep")]
    TooDeep {
        /// Where the object starts.
        offset: usize,
        /// The template's tag.
        tag: u32,
    },
}

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

/// The data objects of `data` in order, padding skipped at every level; reading stops at the
/// first object that does not parse (a template parses only when all its content does),
/// keeping those before it. [`try_parse_tlvs`] says what is wrong.
pub fn parse_tlvs(data: &[u8]) -> Vec<Tlv> {
    let mut out = Vec::new();
    // The objects before the first fault are kept; the fault itself is dropped here.
    let _ = read_objects(data, 0, 0, &mut out);
    out
}

/// The data objects of `data` in order, padding skipped at every level, or why they do not
/// parse: a tag or length cut short, a length beyond the data, templates nested too deep.
///
/// # Errors
/// The first fault met, with its offset in `data`.
pub fn try_parse_tlvs(data: &[u8]) -> Result<Vec<Tlv>, BerError> {
    let mut out = Vec::new();
    read_objects(data, 0, 0, &mut out)?;
    Ok(out)
}

fn is_padding(b: &u8) -> bool {
    *b == 0x00 || *b == 0xFF
}

/// Appends the objects of `data` (content at `depth` templates deep, starting at `base` in the
/// data first given) to `out`, skipping padding before, between and after them.
fn read_objects(data: &[u8], base: usize, depth: usize, out: &mut Vec<Tlv>) -> Result<(), BerError> {
    let mut pos = 0;
    loop {
        pos += data[pos..].iter().take_while(|b| is_padding(b)).count();
        if pos == data.len() {
            return Ok(());
        }
        let (tlv, size) = read_object(&data[pos..], base + pos, depth)?;
        out.push(tlv);
        pos += size;
    }
}

/// The object at the start of `data` (which is not padding) and the bytes it takes.
fn read_object(data: &[u8], offset: usize, depth: usize) -> Result<(Tlv, usize), BerError> {
    // The tag, by the BER rule: a first byte xxx11111 is followed by bytes up to one with b8
    // clear; the library checks the result.
    let first = *data.first().ok_or(BerError::TruncatedTag { offset })?;
    let mut tag_len = 1;
    if first & 0x1F == 0x1F {
        loop {
            let b = *data.get(tag_len).ok_or(BerError::TruncatedTag { offset })?;
            tag_len += 1;
            if b & 0x80 == 0 {
                break;
            }
            if tag_len == 3 {
                // A fourth tag byte follows.
                return Err(BerError::InvalidTag { offset });
            }
        }
    }
    let number = data[..tag_len].iter().fold(0u32, |a, b| (a << 8) | u32::from(*b));
    let tag = Tag::try_from(number).map_err(|_| BerError::InvalidTag { offset })?;

    let truncated = BerError::TruncatedLength { offset, tag: number };
    let (length, len_len) = match *data.get(tag_len).ok_or(truncated.clone())? {
        b @ 0x00..=0x7F => (usize::from(b), 1),
        b @ 0x81..=0x84 => {
            let n = usize::from(b & 0x7F);
            let bytes = data.get(tag_len + 1..tag_len + 1 + n).ok_or(truncated)?;
            let length = bytes.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
            (usize::try_from(length).unwrap_or(usize::MAX), 1 + n)
        }
        byte => return Err(BerError::InvalidLength { offset, tag: number, byte }),
    };
    let start = tag_len + len_len;
    let available = data.len().saturating_sub(start);
    let content = data
        .get(start..)
        .and_then(|rest| rest.get(..length))
        .ok_or(BerError::LengthBeyondData { offset, tag: number, length, available })?;

    let value = if tag.is_constructed() {
        if depth >= MAX_TLV_DEPTH {
            return Err(BerError::TooDeep { offset, tag: number });
        }
        let mut inner = Vec::new();
        read_objects(content, offset + start, depth + 1, &mut inner)?;
        Value::Constructed(inner)
    } else {
        Value::Primitive(content.to_vec())
    };
    // The value's kind follows the tag, so the library cannot find them inconsistent.
    let tlv = Tlv::new(tag, value).map_err(|_| BerError::InvalidTag { offset })?;
    Ok((tlv, start + length))
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
        // Inside a template too (the library alone finds nothing there: see below).
        assert_eq!(find_primitive(&h("70 05 00 5A021234"), 0x5A), Some(h("1234")));
        // Reading stops at a truncated object and keeps what came before.
        let cut = h("9F360200 01 9F2608 0102");
        assert_eq!(find_primitive(&cut, 0x9F36), Some(vec![0, 1]));
        assert_eq!(find_primitive(&cut, 0x9F26), None);
        assert!(parse_tlvs(&h("9F2608 0102")).is_empty());
    }

    /// A template `tag` holding `objects`, with `pad` before, between and after them.
    fn padded(tag: u32, objects: &[Vec<u8>], pad: &[u8]) -> Vec<u8> {
        let mut content = pad.to_vec();
        for o in objects {
            content.extend_from_slice(o);
            content.extend_from_slice(pad);
        }
        encode_tlv(tag, &content)
    }

    #[test]
    fn record_template_with_padding_between_and_after_its_objects() {
        let objects = [
            encode_tlv(0x5A, &h("6231234567890123")),
            encode_tlv(0x5F24, &h("351231")),
            encode_tlv(0x9F1F, &[]),
        ];
        let plain = encode_tlv(0x70, &objects.concat());
        for pad in [&[0x00][..], &[0x00, 0x00, 0x00], &[0xFF], &[0xFF, 0x00, 0xFF]] {
            let record = padded(0x70, &objects, pad);
            let parsed = parse_tlvs(&record);
            assert_eq!(parsed.len(), 1, "{pad:02X?}");
            let Value::Constructed(inner) = parsed[0].value() else { panic!("70 is a template") };
            assert_eq!(inner.len(), 3, "{pad:02X?}: padding is no object");
            assert_eq!(find_primitive(&record, 0x5A), Some(h("6231234567890123")), "{pad:02X?}");
            assert_eq!(find_primitive(&record, 0x5F24), Some(h("351231")), "{pad:02X?}");
            assert_eq!(find_primitive(&record, 0x9F1F), Some(Vec::new()), "{pad:02X?}");
            assert_eq!(parsed, parse_tlvs(&plain), "{pad:02X?}: the same objects as without padding");
            assert_eq!(parsed[0].to_vec(), plain, "{pad:02X?}: written again without padding");
        }
        // Padding only after the last object, and around the template at the top level.
        let tail = h("00 00 70 0C 5A08 6231234567890123 0000 00 FF");
        assert_eq!(find_primitive(&tail, 0x5A), Some(h("6231234567890123")));
    }

    /// The tags of a template's objects.
    fn inner_tags(t: &Tlv) -> Vec<u32> {
        match t.value() {
            Value::Constructed(inner) => inner.iter().map(|t| tag_number(t.tag())).collect(),
            Value::Primitive(_) => Vec::new(),
        }
    }

    /// The template with `tag` among `objects`, searching nested templates.
    fn template(objects: &[Tlv], tag: u32) -> Option<&Tlv> {
        objects.iter().find_map(|t| match t.value() {
            _ if tag_number(t.tag()) == tag => Some(t),
            Value::Constructed(inner) => template(inner, tag),
            Value::Primitive(_) => None,
        })
    }

    #[test]
    fn fci_with_padding_inside_a5_and_bf0c() {
        // 6F { 84 name, A5 { 50 label, 9F38 PDOL, BF0C { 61 { 4F AID, 87 01 } } } }, `pad` before,
        // between and after the objects of every template.
        let fci = |pad: &[u8]| {
            let entry =
                padded(0x61, &[encode_tlv(0x4F, &h("A000000333010101")), encode_tlv(0x87, &[1])], pad);
            let bf0c = padded(0xBF0C, &[entry], pad);
            let a5 = padded(
                0xA5,
                &[encode_tlv(0x50, b"PBOC DEBIT"), encode_tlv(0x9F38, &h("9F66049F0206")), bf0c],
                pad,
            );
            padded(0x6F, &[encode_tlv(0x84, b"2PAY.SYS.DDF01"), a5], pad)
        };
        let plain = parse_tlvs(&fci(&[]));
        for pad in [&[0x00][..], &[0x00, 0x00], &[0xFF], &[0x00, 0xFF]] {
            let fci = fci(pad);
            assert_eq!(find_primitive(&fci, 0x84).as_deref(), Some(&b"2PAY.SYS.DDF01"[..]), "{pad:02X?}");
            assert_eq!(find_primitive(&fci, 0x50).as_deref(), Some(&b"PBOC DEBIT"[..]), "{pad:02X?}");
            assert_eq!(find_primitive(&fci, 0x9F38), Some(h("9F66049F0206")), "{pad:02X?}");
            assert_eq!(find_primitive(&fci, 0x4F), Some(h("A000000333010101")), "{pad:02X?}");
            assert_eq!(find_primitive(&fci, 0x87), Some(vec![1]), "{pad:02X?}");
            assert_eq!(find_primitive(&fci, 0x5F2D), None, "{pad:02X?}");
            // The templates hold their objects and nothing else, as a terminal walks them.
            let objects = try_parse_tlvs(&[pad, &fci[..], pad].concat()).expect("parses");
            assert_eq!(objects, plain, "{pad:02X?}: the same objects as without padding");
            let tags = |t| template(&objects, t).map(inner_tags);
            assert_eq!(tags(0x6F), Some(vec![0x84, 0xA5]));
            assert_eq!(tags(0xA5), Some(vec![0x50, 0x9F38, 0xBF0C]));
            assert_eq!(tags(0xBF0C), Some(vec![0x61]));
            let entry = template(&objects, 0x61).map(inner_tags);
            assert_eq!(entry, Some(vec![0x4F, 0x87]));
        }
        // One byte of padding before, between and after the objects of four templates.
        assert_eq!(fci(&[0x00]).len(), fci(&[]).len() + 3 + 4 + 2 + 3);
        assert_eq!(&fci(&[0x00])[..4], &h("6F45 00 84")[..]);
    }

    #[test]
    fn ff_padding() {
        // A transparent file of ISO 7816-4 erased with FF, its record template padded with FF.
        let file = h("70 0E FF 5F20 04 5A48414E FF FF 9F08 01 30 FFFFFFFFFFFF");
        assert_eq!(find_primitive(&file, 0x5F20).as_deref(), Some(&b"ZHAN"[..]));
        assert_eq!(find_primitive(&file, 0x9F08), Some(vec![0x30]));
        assert_eq!(try_parse_tlvs(&file).map(|o| o.len()), Ok(1));
    }

    #[test]
    fn padding_only() {
        for data in [&[][..], &[0x00], &[0xFF], &[0x00, 0xFF, 0x00, 0x00]] {
            assert_eq!(try_parse_tlvs(data), Ok(Vec::new()), "{data:02X?}");
        }
        // A template holding padding only is an empty template.
        for data in [h("70 03 00 00 00"), h("70 02 FF 00"), h("6F 07 A5 05 00 FF BF0C 00")] {
            let objects = try_parse_tlvs(&data).expect("parses");
            assert_eq!(objects.len(), 1);
            assert!(primitive_in(&objects, 0x5A).is_none());
        }
        let objects = parse_tlvs(&h("70 03 00 00 00"));
        assert_eq!(objects[0].value(), &Value::Constructed(Vec::new()));
        assert_eq!(objects[0].to_vec(), h("70 00"));
    }

    #[test]
    fn a_padded_template_is_no_longer_lost() {
        // What the library alone does with padding inside a template: no object, so every
        // lookup found nothing; this reader finds the objects.
        let record = h("70 0D 00 5A021234 00 5F2403351231 00");
        let (library, _) = Tlv::parse(&record);
        assert!(library.is_err(), "iso7816-tlv still refuses padding inside a template");
        assert!(Tlv::parse_all(&record).is_empty());
        assert_eq!(parse_tlvs(&record).len(), 1);
        assert_eq!(find_primitive(&record, 0x5A), Some(h("1234")));
        assert_eq!(find_primitive(&record, 0x5F24), Some(h("351231")));
        // The objects after a padded template are read too.
        let two = [record, encode_tlv(0x9F36, &[0, 7])].concat();
        assert_eq!(find_primitive(&two, 0x9F36), Some(vec![0, 7]));
    }

    #[test]
    fn without_padding_the_library_reads_the_same() {
        // Well-formed data without padding, of every shape the card stack meets: the
        // library's own reading and this one agree object for object.
        let mut seed = 0x2545_F491_u32;
        let mut next = move |n: u32| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed % n
        };
        const TAGS: [u32; 8] = [0x5A, 0x84, 0x9F38, 0x5F20, 0xDF8101, 0x01, 0x87, 0x9F4A];
        const TEMPLATES: [u32; 5] = [0x70, 0x6F, 0xA5, 0xBF0C, 0x61];
        fn object(next: &mut dyn FnMut(u32) -> u32, depth: u32) -> Vec<u8> {
            if depth < 4 && next(3) == 0 {
                let inner: Vec<u8> = (0..next(4)).flat_map(|_| object(next, depth + 1)).collect();
                encode_tlv(TEMPLATES[next(5) as usize], &inner)
            } else {
                // Values of up to 300 bytes, 00 and FF among them (no padding inside a value).
                let value: Vec<u8> =
                    (0..[0, 1, 8, 127, 128, 300][next(6) as usize]).map(|_| next(256) as u8).collect();
                encode_tlv(TAGS[next(8) as usize], &value)
            }
        }
        for _ in 0..500 {
            let data: Vec<u8> = (0..1 + next(3)).flat_map(|_| object(&mut next, 0)).collect();
            assert_eq!(parse_tlvs(&data), Tlv::parse_all(&data), "{}", hex::encode_upper(&data));
        }
    }

    #[test]
    fn malformed_data_gives_a_clear_error() {
        let err = |s: &str| try_parse_tlvs(&h(s)).expect_err(s);
        assert_eq!(err("9F"), BerError::TruncatedTag { offset: 0 });
        assert_eq!(err("00 5A0112 9F81"), BerError::TruncatedTag { offset: 4 });
        assert_eq!(err("9F818101 00"), BerError::InvalidTag { offset: 0 });
        assert_eq!(err("5A"), BerError::TruncatedLength { offset: 0, tag: 0x5A });
        assert_eq!(err("9F4A 82 01"), BerError::TruncatedLength { offset: 0, tag: 0x9F4A });
        assert_eq!(err("5A 80"), BerError::InvalidLength { offset: 0, tag: 0x5A, byte: 0x80 });
        assert_eq!(err("5A 85 0000000001 00"), BerError::InvalidLength { offset: 0, tag: 0x5A, byte: 0x85 });
        assert_eq!(
            err("9F2608 0102"),
            BerError::LengthBeyondData { offset: 0, tag: 0x9F26, length: 8, available: 2 }
        );
        assert_eq!(
            err("5A 84 FFFFFFFF 00"),
            BerError::LengthBeyondData { offset: 0, tag: 0x5A, length: 0xFFFF_FFFF, available: 1 }
        );
        // Inside a template: the object may not run past the template, though the data goes on.
        assert_eq!(
            err("70 04 00 5A 04 12 3456 78"),
            BerError::LengthBeyondData { offset: 3, tag: 0x5A, length: 4, available: 1 }
        );
        assert_eq!(
            err("00 6F 07 00 A5 04 00 BF0C 05"),
            BerError::LengthBeyondData { offset: 7, tag: 0xBF0C, length: 5, available: 0 }
        );
        // The message says where and what.
        let message = err("70 04 00 5A 04 12").to_string();
        assert_eq!(message, "BER-TLV: tag 5A at byte 3 has length 4, only 1 bytes follow");
        // A template with a fault in it is not read; the objects before it are kept.
        let objects = parse_tlvs(&h("5A0112 70 04 00 5A 04 12 9F3602 0001"));
        assert_eq!(objects.len(), 1);
        assert_eq!(primitive_in(&objects, 0x9F36), None);
        // A longer length form than needed is accepted at every level (the library refuses it
        // inside a template).
        assert_eq!(find_primitive(&h("70 06 00 5A 81 02 1234"), 0x5A), Some(h("1234")));
        assert_eq!(find_primitive(&h("70 81 07 5A 82 0002 1234 00"), 0x5A), Some(h("1234")));
    }

    #[test]
    fn templates_nest_at_most_max_depth() {
        let nest =
            |levels: usize| (0..levels).fold(encode_tlv(0x5A, &[1]), |inner, _| encode_tlv(0x70, &inner));
        assert_eq!(find_primitive(&nest(MAX_TLV_DEPTH), 0x5A), Some(vec![1]));
        assert_eq!(
            try_parse_tlvs(&nest(MAX_TLV_DEPTH + 1)),
            Err(BerError::TooDeep { offset: 2 * MAX_TLV_DEPTH, tag: 0x70 })
        );
        // Nesting costs no stack beyond the limit, however deep the input goes.
        let deep = nest(2_000);
        assert!(matches!(try_parse_tlvs(&deep), Err(BerError::TooDeep { tag: 0x70, .. })));
        assert!(parse_tlvs(&deep).is_empty());
    }

    #[test]
    fn any_bytes_read_without_panic_and_write_back() {
        // What the emv_tlv fuzz target checks, on padded templates, some of them damaged (a
        // byte changed, the end cut off): no panic; what parses is written again by
        // `encode_tlv` and reads back the same; a top-level primitive is found by its tag.
        fn encode(t: &Tlv) -> Vec<u8> {
            let value = match t.value() {
                Value::Primitive(v) => v.clone(),
                Value::Constructed(inner) => inner.iter().flat_map(encode).collect(),
            };
            encode_tlv(tag_number(t.tag()), &value)
        }
        const TAGS: [u32; 6] = [0x5A, 0x9F38, 0xDF8101, 0x87, 0x70, 0xBF0C];
        const BYTES: [u8; 8] = [0x00, 0xFF, 0x70, 0x9F, 0x80, 0x81, 0x84, 0x1F];
        fn object(next: &mut dyn FnMut(u32) -> u32, depth: u32) -> Vec<u8> {
            let tag = TAGS[next(6) as usize];
            let pad =
                |next: &mut dyn FnMut(u32) -> u32| vec![[0x00, 0xFF][next(2) as usize]; next(3) as usize];
            let value: Vec<u8> = if tag == 0x70 || tag == 0xBF0C {
                let mut v = pad(next);
                for _ in 0..if depth < 3 { next(4) } else { 0 } {
                    v.extend(object(next, depth + 1));
                    v.extend(pad(next));
                }
                v
            } else {
                (0..next(5)).map(|_| next(256) as u8).collect()
            };
            encode_tlv(tag, &value)
        }
        let mut seed = 0x9E37_79B9_u32;
        let mut next = move |n: u32| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed % n
        };
        let (mut whole, mut templates) = (0, 0);
        for _ in 0..10_000 {
            let mut data: Vec<u8> = (0..1 + next(3)).flat_map(|_| object(&mut next, 0)).collect();
            match next(4) {
                0 if !data.is_empty() => {
                    let at = next(data.len() as u32) as usize;
                    data[at] = BYTES[next(8) as usize];
                }
                1 => data.truncate(next(data.len() as u32 + 1) as usize),
                _ => {}
            }
            let objects = parse_tlvs(&data);
            match try_parse_tlvs(&data) {
                Ok(all) => {
                    assert_eq!(all, objects);
                    whole += 1;
                }
                Err(e) => assert!(e.to_string().starts_with("BER-TLV: ")),
            }
            templates += objects
                .iter()
                .filter(|t| matches!(t.value(), Value::Constructed(i) if !i.is_empty()))
                .count();
            let encoded: Vec<u8> = objects.iter().flat_map(encode).collect();
            assert_eq!(try_parse_tlvs(&encoded).as_ref(), Ok(&objects), "{}", hex::encode_upper(&data));
            for t in &objects {
                if let Value::Primitive(_) = t.value() {
                    assert!(find_primitive(&data, tag_number(t.tag())).is_some());
                }
            }
        }
        // The inputs are not all trivial, nor all broken.
        assert!(whole > 5_000 && templates > 3_000, "{whole} whole, {templates} templates");
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
