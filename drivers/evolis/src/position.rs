//! Where the card is (`Rlr;p`) and the moves between stations (`Si`, `Sis`, `Sic`). A move
//! answers `OK` at once; the card's arrival is seen by polling `Rlr;p`.

use crate::request::{ok_command, reply_text, write_command};
use crate::{FaultKind, ProtocolError, Request};

/// Where `Rlr;p` says the card is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardPosition {
    /// `OK`: no card in the printer.
    None,
    /// `CARD`: at the print position.
    PrintPosition,
    /// `SMART CARD`: at the contact station, in the chip reader's contacts.
    ContactStation,
    /// `CONTACTLESS CARD`: at the contactless station.
    ContactlessStation,
}

impl CardPosition {
    /// The fault before a new card is fed: a card still inside (from an earlier, interrupted
    /// job) goes to the reject box, since its personalisation state is unknown.
    pub fn fault_before_feed(self) -> Option<FaultKind> {
        match self {
            Self::None => None,
            _ => Some(FaultKind::RejectCard),
        }
    }

    /// The fault when a move to `target` did not show the card there in time (printer.md:
    /// `SMART CARD` within ~10 s of `Sis`). `self` is the last position read: no card at all
    /// means it did not leave the feeder path or stuck on the way, which a person clears;
    /// a card elsewhere in the printer can be rejected.
    pub fn fault_after_move_timeout(self, target: CardPosition) -> Option<FaultKind> {
        if self == target {
            None
        } else if self == Self::None {
            Some(FaultKind::OperatorClearJam)
        } else {
            Some(FaultKind::RejectCard)
        }
    }
}

/// `Rlr;p`: read the card position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadCardPosition;

impl Request for ReadCardPosition {
    type Response = CardPosition;

    fn step(&self) -> &'static str {
        "Rlr;p"
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        write_command(buf, "Rlr", &["p"]);
    }

    fn decode(&self, reply: &[u8]) -> Result<CardPosition, ProtocolError> {
        let text = reply_text(self.step(), reply)?;
        match text.as_str() {
            "OK" => Ok(CardPosition::None),
            "CARD" => Ok(CardPosition::PrintPosition),
            "SMART CARD" => Ok(CardPosition::ContactStation),
            "CONTACTLESS CARD" => Ok(CardPosition::ContactlessStation),
            _ => Err(ProtocolError::unexpected(self.step(), &text)),
        }
    }
}

ok_command!(
    /// `Si`: move (or feed) the card to the print position.
    MoveToPrint,
    "Si",
    "Si"
);
ok_command!(
    /// `Sis`: move (or feed) the card to the contact station, to personalise the chip.
    MoveToContact,
    "Sis",
    "Sis"
);
ok_command!(
    /// `Sic`: move (or feed) the card to the contactless station.
    MoveToContactless,
    "Sic",
    "Sic"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_to_vec;
    use crate::request::tests::hex;

    #[test]
    fn encodings() {
        assert_eq!(hex(&encode_to_vec(&ReadCardPosition)), "1B 52 6C 72 3B 70 0D");
        assert_eq!(encode_to_vec(&MoveToPrint), b"\x1bSi\r");
        assert_eq!(encode_to_vec(&MoveToContact), b"\x1bSis\r");
        assert_eq!(encode_to_vec(&MoveToContactless), b"\x1bSic\r");
    }

    #[test]
    fn positions() {
        assert_eq!(ReadCardPosition.decode(b"OK\0"), Ok(CardPosition::None));
        assert_eq!(ReadCardPosition.decode(b"CARD\r\n"), Ok(CardPosition::PrintPosition));
        assert_eq!(ReadCardPosition.decode(b"SMART CARD"), Ok(CardPosition::ContactStation));
        assert_eq!(ReadCardPosition.decode(b"CONTACTLESS CARD\0"), Ok(CardPosition::ContactlessStation));
        assert!(matches!(
            ReadCardPosition.decode(b"EXIT"),
            Err(ProtocolError::Unexpected { step: "Rlr;p", .. })
        ));
        assert_eq!(MoveToContact.decode(b"OK"), Ok(()));
    }

    #[test]
    fn position_faults() {
        assert_eq!(CardPosition::None.fault_before_feed(), None);
        assert_eq!(CardPosition::ContactStation.fault_before_feed(), Some(FaultKind::RejectCard));
        let target = CardPosition::ContactStation;
        assert_eq!(CardPosition::ContactStation.fault_after_move_timeout(target), None);
        assert_eq!(CardPosition::None.fault_after_move_timeout(target), Some(FaultKind::OperatorClearJam));
        assert_eq!(CardPosition::PrintPosition.fault_after_move_timeout(target), Some(FaultKind::RejectCard));
    }
}
