//! BER-TLV lookups on card answers (FCI templates, EMV records), on top of `iso7816-tlv`.

use iso7816_tlv::ber::{Tag, Tlv, Value};

/// The value of the first primitive data object with `tag`, searching nested templates
/// (e.g. tag 50, the application label, inside 6F / A5 of an FCI). `None` when absent or
/// when the data is not BER-TLV.
pub fn find_primitive(data: &[u8], tag: u32) -> Option<Vec<u8>> {
    let tag = Tag::try_from(tag).ok()?;
    Tlv::parse_all(data).iter().find_map(|tlv| match tlv.find(&tag)?.value() {
        Value::Primitive(v) => Some(v.clone()),
        Value::Constructed(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_inside_fci() {
        // 6F { 84 <AID>, A5 { 50 "PBOC DEBIT", 87 01 } }
        let fci = hex::decode("6F1B8408A000000333010101A50F500A50424F4320444542495487 0101".replace(' ', ""))
            .expect("hex");
        assert_eq!(find_primitive(&fci, 0x50).as_deref(), Some(&b"PBOC DEBIT"[..]));
        assert_eq!(find_primitive(&fci, 0x84).map(|v| v.len()), Some(8));
        assert_eq!(find_primitive(&fci, 0x9F38), None);
        assert_eq!(find_primitive(&[0xFF], 0x50), None);
    }
}
