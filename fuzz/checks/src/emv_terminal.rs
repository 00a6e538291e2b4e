//! The EMV terminal flow (PSE/PPSE, SELECT, GPO, READ RECORD, GET DATA, GENERATE AC) against
//! a card whose answers are the fuzzer's: it ends with a reading or a typed error, sends
//! only well-formed APDUs, and a reading's cryptogram check fails cleanly.

use apdu::Command;
use emv_cps::{run_terminal, verify_arqc, Interface, IssuerKeys, TerminalParams};

use crate::ScriptedCard;

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let Some((&pick, answers)) = data.split_first() else { return };
    let interface = if pick & 1 == 0 { Interface::Contact } else { Interface::Contactless };
    let mut params = TerminalParams::counter(interface, "261204", [1, 2, 3, 4]);
    if pick & 2 != 0 {
        params.pin = Some("123456".into());
    }
    let mut card = ScriptedCard::new(answers);
    match run_terminal(&mut card, &params) {
        Ok(reading) => {
            let _ = verify_arqc(&reading, &IssuerKeys::test());
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    for sent in &card.sent {
        assert!(Command::parse(sent).is_ok(), "sent a malformed APDU");
    }
}
