//! Errors of the printer driver. Each keeps the step (the command that failed, as
//! [`evolis::Request::step`] names it), the cause with the printer's own reply text, and where
//! the card is afterwards, so no fault leaves a job in an unknown state. [`PrinterError::kind`]
//! maps them onto the small [`FaultKind`] the station acts on, as embedded-hal's `ErrorKind`.

use std::time::Duration;

use evolis::{CardPosition, FaultKind, ProtocolError};

use crate::transport::TransportError;
use crate::whereabouts::{CardWhereabouts, Station};

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Cause {
    /// The feeder (hopper) has no cards.
    #[error("the feeder is empty")]
    FeederEmpty,
    /// The cover is open.
    #[error("the cover is open")]
    CoverOpen,
    /// No ribbon, ribbon finished or refused: the printer's reply (`ERR RIB DETECTION`), or
    /// the remaining count when it read 0.
    #[error("ribbon out, missing or refused ({detail})")]
    RibbonOut {
        /// The printer's reply, or what was read.
        detail: String,
    },
    /// The ribbon is for another region (China ribbons are region-locked).
    #[error("ribbon zone {found:?}, this station needs {expected:?}")]
    WrongRibbonZone {
        /// What `Rrt;zone` read.
        found: String,
        /// What the station is configured for.
        expected: String,
    },
    /// A card from an earlier, interrupted job is still inside.
    #[error("a card is already inside")]
    CardInside,
    /// The previous card still waits at the exit slot.
    #[error("the previous card still waits at the exit slot")]
    ExitSlotOccupied,
    /// The card did not reach the station in time.
    #[error("the card did not reach the {target} within {waited:?} (last read: {last:?})")]
    NotAtStation {
        /// Where it was sent.
        target: Station,
        /// The last position `Rlr;p` read.
        last: CardPosition,
        /// How long was waited.
        waited: Duration,
    },
    /// The printer refused a motion and the card is no longer at any station.
    #[error("card jam: the printer answered {text:?} and the card is at no station")]
    Jam {
        /// The printer's reply.
        text: String,
    },
    /// A step that needs a card found none inside.
    #[error("no card inside")]
    NoCard,
    /// The printer refused the command and the public sensors show nothing the operator can
    /// fix (e.g. an undocumented `ERR` text such as a head temperature fault).
    #[error(transparent)]
    Printer(ProtocolError),
    /// The link failed (closed, timed out, I/O error); the driver reconnected (or tried to)
    /// and asked where the card is.
    #[error("link lost: {0}")]
    LinkLost(#[source] TransportError),
    /// The print job cannot be sent as given.
    #[error("bad print job: {0}")]
    Job(String),
}

/// A failed printer operation: the step, why, and where the card is now.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {cause}; card {card}")]
pub struct PrinterError {
    /// The command that failed (`Sis`, `Rse;f`, `Db;y`, `Se`) or the wait (`Rlr;p`).
    pub step: &'static str,
    /// Why.
    #[source]
    pub cause: Cause,
    /// Where the card is, asked after the failure.
    pub card: CardWhereabouts,
}

impl PrinterError {
    /// What the station should do: retry, ask the operator to refill / close the cover /
    /// clear a jam, reject the card, or stop.
    pub fn kind(&self) -> FaultKind {
        match &self.cause {
            Cause::FeederEmpty | Cause::RibbonOut { .. } | Cause::WrongRibbonZone { .. } => {
                FaultKind::OperatorRefill
            }
            Cause::CoverOpen => FaultKind::OperatorCloseCover,
            Cause::CardInside => FaultKind::RejectCard,
            Cause::ExitSlotOccupied => FaultKind::Retry,
            Cause::NotAtStation { target, last, .. } => {
                last.fault_after_move_timeout(target.position()).unwrap_or(FaultKind::Retry)
            }
            Cause::Jam { .. } => FaultKind::OperatorClearJam,
            Cause::Printer(e) => e.fault_kind(),
            // Back on the link with the card located: the step can be retried. Not back: a
            // person must look, since nothing can be known about the card.
            Cause::LinkLost(_) if self.card == CardWhereabouts::Unknown => FaultKind::Stop,
            Cause::LinkLost(_) => FaultKind::Retry,
            Cause::NoCard | Cause::Job(_) => FaultKind::Stop,
        }
    }

    /// The printer's reply text when the printer itself refused the command.
    pub fn printer_text(&self) -> Option<&str> {
        match &self.cause {
            Cause::Printer(ProtocolError::Printer { text, .. }) | Cause::Jam { text } => Some(text),
            Cause::RibbonOut { detail } => Some(detail),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(cause: Cause, card: CardWhereabouts) -> PrinterError {
        PrinterError { step: "Sis", cause, card }
    }

    #[test]
    fn kinds() {
        use CardWhereabouts as W;
        assert_eq!(err(Cause::FeederEmpty, W::NotFed).kind(), FaultKind::OperatorRefill);
        assert_eq!(err(Cause::CoverOpen, W::NotFed).kind(), FaultKind::OperatorCloseCover);
        let not_there = |last| Cause::NotAtStation { target: Station::Contact, last, waited: Duration::ZERO };
        assert_eq!(err(not_there(CardPosition::None), W::InPath).kind(), FaultKind::OperatorClearJam);
        assert_eq!(
            err(not_there(CardPosition::PrintPosition), W::At(Station::Print)).kind(),
            FaultKind::RejectCard
        );
        let lost = || Cause::LinkLost(TransportError::Closed { target: "tcp:h:1".into() });
        assert_eq!(err(lost(), W::At(Station::Contact)).kind(), FaultKind::Retry);
        assert_eq!(err(lost(), W::Unknown).kind(), FaultKind::Stop);
        let refused = Cause::Printer(ProtocolError::Printer { step: "Se", text: "ERR HEAD TEMP".into() });
        let e = err(refused, W::At(Station::Print));
        assert_eq!((e.kind(), e.printer_text()), (FaultKind::Stop, Some("ERR HEAD TEMP")));
    }

    #[test]
    fn message_names_step_cause_and_card() {
        let e = err(Cause::FeederEmpty, CardWhereabouts::NotFed);
        assert_eq!(e.to_string(), "Sis: the feeder is empty; card not fed");
        let e = err(Cause::CardInside, CardWhereabouts::At(Station::Contact));
        assert_eq!(e.to_string(), "Sis: a card is already inside; card at the contact station");
    }
}
