//! The public read sequence (SELECT, READ RECORD of EF05 and EF06) against a card whose ATR
//! and answers are the fuzzer's: it ends with the card's data or an `SsseError`, sends only
//! well-formed APDUs, and what it returns came from the card.

use apdu::{Atr, Command};

use crate::ScriptedCard;

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else { return };
    let (atr, answers) = rest.split_at((n as usize).min(rest.len()));
    let mut card = ScriptedCard::new(answers);
    match ssse::read_card(&mut card, atr) {
        Ok(read) => {
            let parsed = Atr::parse(atr).expect("a card read has a valid ATR");
            assert_eq!(read.historical, parsed.historical_bytes());
            let _ = read.basic(String::new());
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    assert!(card.sent.len() <= 2 + 7 + 7 + 2 * answers.len() + 1);
    for sent in &card.sent {
        assert!(Command::parse(sent).is_ok(), "sent a malformed APDU");
    }
}
