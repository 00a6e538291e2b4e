//! Response APDUs and status words as a card sends them: every answer of two bytes or more
//! is a response, and data || SW1 SW2 comes back byte for byte.

use apdu::{Response, StatusWord};

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let Some(r) = Response::from_bytes(data) else {
        assert!(data.len() < 2, "a {}-byte answer was refused", data.len());
        return;
    };
    assert_eq!(r.data.len(), data.len() - 2);
    assert_eq!(r.to_bytes(), data, "encode(decode(b)) == b");
    let (sw1, sw2): (u8, u8) = r.sw.into();
    assert_eq!([sw1, sw2], data[data.len() - 2..]);
    assert_eq!(StatusWord::from((sw1, sw2)), r.sw, "one variant per pair and back");
    assert_eq!(r.sw.as_u16(), u16::from_be_bytes([sw1, sw2]));
    assert_eq!(r.sw.to_bytes(), [sw1, sw2]);
    assert_eq!(r.sw.is_success(), (sw1, sw2) == (0x90, 0x00));
    assert!(!r.sw.to_string().is_empty());
    assert_eq!(Response::new(r.data.clone(), r.sw), r);
    // Debug never shows the data (it may hold personal data).
    assert!(format!("{r:?}").starts_with("Response(<"));
}
