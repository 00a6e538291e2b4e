//! The one exchange loop (61xx GET RESPONSE, 6Cxx re-send, command chaining) against a card
//! whose answers are the fuzzer's: it ends, sends only well-formed APDUs the reader can
//! carry, and fails with the transport's typed errors.

use apdu::{expect_ok, transmit, Command};

use crate::ScriptedCard;

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else { return };
    let (cmd_bytes, answers) = rest.split_at((n as usize).min(rest.len()));
    let Ok(cmd) = Command::parse(cmd_bytes) else { return };
    let budget = answers.len();
    let mut card = ScriptedCard::new(answers);
    let result = transmit(&mut card, &cmd);
    for sent in &card.sent {
        assert!(Command::parse(sent).is_ok(), "sent a malformed APDU {sent:02X?}");
    }
    assert!(card.sent.len() <= budget + 1, "more APDUs than answers");
    if let Ok(r) = &result {
        assert!(r.data.len() <= budget, "more data than the card sent");
    }
    let mut card = ScriptedCard::new(answers);
    if let Err(e) = expect_ok(&mut card, &cmd, "fuzz step") {
        assert_eq!(e.step(), "fuzz step");
        assert!(!e.to_string().is_empty());
    }
}
