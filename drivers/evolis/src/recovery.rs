//! Reject, clear and reset: the commands that bring a card and the printer back to a known
//! state after a fault.

use crate::request::ok_command;

ok_command!(
    /// `Ser`: eject the card into the reject box (after `Pneab;A;1` and `Pcrm;D`), for a
    /// card whose chip could not be personalised or that was left inside.
    RejectCard,
    "Ser",
    "Ser"
);
ok_command!(
    /// `Scs`: clear the printer's error state once the operator has fixed the cause.
    ClearError,
    "Scs",
    "Scs"
);
ok_command!(
    /// `Srs`: reset the printer, the last resort before stopping.
    Reset,
    "Srs",
    "Srs"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{encode_to_vec, Request};

    #[test]
    fn encodings_and_replies() {
        assert_eq!(encode_to_vec(&RejectCard), b"\x1bSer\r");
        assert_eq!(encode_to_vec(&ClearError), b"\x1bScs\r");
        assert_eq!(encode_to_vec(&Reset), b"\x1bSrs\r");
        assert_eq!(Reset.decode(b"OK"), Ok(()));
        assert_eq!(RejectCard.decode(b"ERR JAM").map_err(|e| e.fault_kind()), Err(crate::FaultKind::Stop));
    }
}
