//! Job settings sent before a card is fed: the host handles errors, the card comes from the
//! hopper and stays in the printer after printing (so the chip can be re-checked before it
//! leaves), and the reject settings.

use crate::request::ok_command;

ok_command!(
    /// `Pem;2`: the host handles errors. Without it the printer stops on its own panel and
    /// waits for a button press the station cannot see.
    SetHostErrorMode,
    "Pem;2",
    "Pem",
    "2"
);
ok_command!(
    /// `Pcim;F`: feed cards from the hopper (feeder), not the manual slot.
    FeedFromHopper,
    "Pcim;F",
    "Pcim",
    "F"
);
ok_command!(
    /// `Pneab;E`: keep the card in the printer after printing, so the station decides
    /// whether it is ejected or rejected.
    KeepCardAfterPrint,
    "Pneab;E",
    "Pneab",
    "E"
);
ok_command!(
    /// `Pneab;A;1`: the end-of-print setting of printer.md's eject/reject row, sent before a
    /// reject so the card is not kept back.
    ReleaseCardAfterPrint,
    "Pneab;A;1",
    "Pneab",
    "A",
    "1"
);
ok_command!(
    /// `Pcrm;D`: the reject setting of printer.md's eject/reject row, sent before `Ser`.
    SetRejectMode,
    "Pcrm;D",
    "Pcrm",
    "D"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::tests::hex;
    use crate::{encode_to_vec, ProtocolError, Request};

    #[test]
    fn encodings() {
        assert_eq!(hex(&encode_to_vec(&SetHostErrorMode)), "1B 50 65 6D 3B 32 0D");
        assert_eq!(encode_to_vec(&FeedFromHopper), b"\x1bPcim;F\r");
        assert_eq!(encode_to_vec(&KeepCardAfterPrint), b"\x1bPneab;E\r");
        assert_eq!(encode_to_vec(&ReleaseCardAfterPrint), b"\x1bPneab;A;1\r");
        assert_eq!(encode_to_vec(&SetRejectMode), b"\x1bPcrm;D\r");
    }

    #[test]
    fn replies() {
        assert_eq!(SetHostErrorMode.decode(b"OK\0"), Ok(()));
        assert_eq!(
            FeedFromHopper.decode(b"ERROR CDE"),
            Err(ProtocolError::UnknownCommand { step: "Pcim;F" })
        );
        assert_eq!(
            KeepCardAfterPrint.decode(b"CARD"),
            Err(ProtocolError::Unexpected { step: "Pneab;E", reply: "CARD".into() })
        );
    }
}
