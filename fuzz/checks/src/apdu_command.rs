//! Command APDUs as the simulator receives them, and ATRs as a reader reports them.
//! A command that parses encodes back to the same bytes in the same case (short or
//! extended); an ATR that parses keeps its bytes and its fields stay inside them.

use apdu::{Atr, Command, MAX_EXTENDED_LE};

/// The target's check of one input.
pub fn check(data: &[u8]) {
    match Command::parse(data) {
        Ok(cmd) => {
            let extended = data.len() > 5 && data[4] == 0;
            assert_eq!(cmd.encode(extended), data, "encode(decode(b)) == b");
            assert_eq!(Command::parse(&cmd.encode(extended)).as_ref(), Ok(&cmd));
            assert!(cmd.data.len() <= 65_535);
            assert!(cmd.le.is_none_or(|le| (1..=MAX_EXTENDED_LE).contains(&le)));
            let _ = format!("{cmd:?}");
            let _ = cmd.is_chained();
        }
        Err(e) => {
            assert_eq!(e.len, data.len());
            assert!(!e.to_string().is_empty());
        }
    }
    match Atr::parse(data) {
        Ok(atr) => {
            assert_eq!(atr.as_bytes(), data);
            assert!(atr.historical_bytes().len() <= 15);
            assert!(!atr.protocols().is_empty());
            for (tag, value) in atr.compact_tlv() {
                assert!(tag <= 0x0F && value.len() <= 15);
            }
            let _ = atr.extended_length();
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}
