//! The card stack's BER-TLV writer and reader (`apdu`: `encode_tlv`, `parse_tlvs` with
//! padding, `find_primitive`, `parse_dol`; the EMV terminal side of `emv-cps` and the
//! simulator use them): what parses, written again with `encode_tlv`, parses back the same;
//! lookups return bytes of the input; DOLs give one-byte lengths.

use apdu::tlv::ber::{Tlv, Value};

/// `t` written again with the stack's writer (a template from its objects).
fn encode(t: &Tlv) -> Vec<u8> {
    let value = match t.value() {
        Value::Primitive(v) => v.clone(),
        Value::Constructed(inner) => inner.iter().flat_map(encode).collect(),
    };
    apdu::encode_tlv(apdu::tag_number(t.tag()), &value)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let objects = apdu::parse_tlvs(data);
    let encoded: Vec<u8> = objects.iter().flat_map(encode).collect();
    assert_eq!(apdu::parse_tlvs(&encoded), objects, "decode(encode(x)) == x");
    for t in &objects {
        if let Value::Primitive(_) = t.value() {
            let found =
                apdu::find_primitive(data, apdu::tag_number(t.tag())).expect("a tag of the input is found");
            assert!(contains(data, &found), "find_primitive returned bytes not in the input");
        }
    }
    if let Some(dol) = apdu::parse_dol(data) {
        assert!(dol.len() <= data.len() / 2);
        assert!(dol.iter().all(|(_, len)| *len <= 255));
    }
}
