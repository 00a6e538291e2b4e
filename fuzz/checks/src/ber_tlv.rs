//! BER-TLV and SIMPLE-TLV through `iso7816-tlv`, the library the card stack uses (apdu,
//! ssse records, the simulator): every object parsed encodes to bytes that parse back to it,
//! and a lookup returns bytes that were in the input.

use iso7816_tlv::{ber, simple};

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// The target's check of one input.
pub fn check(data: &[u8]) {
    // Each distinct tag is looked up once: the lookup walks the whole input again.
    let mut looked_up = std::collections::HashSet::new();
    for tlv in ber::Tlv::parse_all(data) {
        let bytes = tlv.to_vec();
        let again = ber::Tlv::from_bytes(&bytes).expect("an encoded object parses");
        assert_eq!(again, tlv, "decode(encode(x)) == x");
        let tag = tlv.tag().to_bytes().iter().fold(0u32, |a, b| (a << 8) | u32::from(*b));
        if !looked_up.insert(tag) {
            continue;
        }
        if let Some(v) = apdu::find_primitive(data, tag) {
            assert!(contains(data, &v), "find_primitive returned bytes not in the input");
        }
    }
    let mut rest = data;
    while !rest.is_empty() {
        let (tlv, tail) = simple::Tlv::parse(rest);
        let Ok(tlv) = tlv else { break };
        assert!(tail.len() < rest.len(), "the parser made no progress");
        let bytes = tlv.to_vec();
        let (again, left) = simple::Tlv::parse(&bytes);
        let again = again.expect("an encoded SIMPLE-TLV parses");
        assert!(left.is_empty());
        assert_eq!((again.tag(), again.value()), (tlv.tag(), tlv.value()));
        assert_eq!(tlv.length(), tlv.value().len());
        rest = tail;
    }
}
