//! The small set of fault kinds the station acts on, in the manner of embedded-hal's
//! `ErrorKind`: drivers keep rich errors, the daemon only needs to know what to do next.

/// What the station should do after a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultKind {
    /// Transient: try the step again (e.g. the previous card still waits at the exit slot).
    Retry,
    /// Ask the operator to refill: the feeder is empty, or the ribbon is out, missing or not
    /// accepted (China ribbons are region-locked, so a wrong zone means a ribbon change too).
    OperatorRefill,
    /// Ask the operator to close the cover.
    OperatorCloseCover,
    /// Ask the operator to clear a jam: the card did not arrive where it was sent.
    OperatorClearJam,
    /// Send the card to the reject box and go on with a new one.
    RejectCard,
    /// Stop the job and let a person look; the card's last known position is reported.
    Stop,
}

/// Maps an `ERR ...` reply text onto a [`FaultKind`].
///
/// Only the error texts that printer.md calls public are mapped: `ERR RIB DETECTION` (no
/// ribbon, ribbon end, or a ribbon the printer refuses) asks for a refill. Every other text is
/// not public, may differ between models and firmware, and therefore maps to
/// [`FaultKind::Stop`]; the caller keeps the text (it is in [`crate::ProtocolError::Printer`]).
pub fn classify_error_text(text: &str) -> FaultKind {
    match text.trim() {
        "ERR RIB DETECTION" => FaultKind::OperatorRefill,
        _ => FaultKind::Stop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_texts_are_mapped_and_others_stop() {
        assert_eq!(classify_error_text("ERR RIB DETECTION"), FaultKind::OperatorRefill);
        assert_eq!(classify_error_text("ERR RIB DETECTION\r\n"), FaultKind::OperatorRefill);
        assert_eq!(classify_error_text("ERR HEAD TEMP"), FaultKind::Stop);
        assert_eq!(classify_error_text("ERR"), FaultKind::Stop);
    }
}
