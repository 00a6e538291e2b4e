//! The EMV BER-TLV reader of `emv-cps` (card answers on the terminal side): what parses
//! re-encodes to objects that parse back the same; lookups return bytes of the input; DOLs
//! give one-byte lengths.
#![no_main]

use emv_cps::tlv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(objects) = tlv::parse(data) {
        let encoded: Vec<u8> = objects.iter().flat_map(|t| tlv::encode(t.tag, t.value)).collect();
        let again = tlv::parse(&encoded).expect("encoded objects parse");
        assert_eq!(again, objects, "decode(encode(x)) == x");
        for t in &objects {
            let found = tlv::find(data, t.tag).expect("a tag of the input is found");
            let start = found.as_ptr() as usize - data.as_ptr() as usize;
            assert!(start + found.len() <= data.len(), "find returned bytes outside the input");
            let _ = t.is_constructed();
        }
    }
    if let Some(dol) = tlv::parse_dol(data) {
        assert!(dol.len() <= data.len() / 2);
        assert!(dol.iter().all(|(_, len)| *len <= 255));
    }
});
