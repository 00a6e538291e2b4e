//! Identification reads (`Rtp`, `Rsn`, `Rfv`, `Rkn`): logged at start-up and in the journal
//! so a printed card can be traced to the printer, its firmware and its head.

use crate::request::{expect_text, write_command};
use crate::{ProtocolError, Request};

macro_rules! text_read {
    ($(#[$doc:meta])* $name:ident, $mnemonic:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name;

        impl Request for $name {
            type Response = String;

            fn step(&self) -> &'static str {
                $mnemonic
            }

            fn encode(&self, buf: &mut Vec<u8>) {
                write_command(buf, $mnemonic, &[]);
            }

            fn decode(&self, reply: &[u8]) -> Result<String, ProtocolError> {
                expect_text($mnemonic, reply)
            }
        }
    };
}

text_read!(
    /// `Rtp`: the printer model, e.g. `Primacy`.
    ReadModel,
    "Rtp"
);
text_read!(
    /// `Rsn`: the printer's serial number.
    ReadSerial,
    "Rsn"
);
text_read!(
    /// `Rfv`: the firmware version, which decides which commands the printer knows.
    ReadFirmware,
    "Rfv"
);
text_read!(
    /// `Rkn`: the print head's identification (heads are replaced; the journal keeps which).
    ReadHead,
    "Rkn"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_to_vec;
    use crate::request::tests::hex;

    #[test]
    fn encodings() {
        assert_eq!(hex(&encode_to_vec(&ReadModel)), "1B 52 74 70 0D");
        assert_eq!(encode_to_vec(&ReadSerial), b"\x1bRsn\r");
        assert_eq!(encode_to_vec(&ReadFirmware), b"\x1bRfv\r");
        assert_eq!(encode_to_vec(&ReadHead), b"\x1bRkn\r");
    }

    #[test]
    fn replies() {
        assert_eq!(ReadModel.decode(b"Primacy\0").as_deref(), Ok("Primacy"));
        assert_eq!(ReadFirmware.decode(b"\r\n1.5.3\r\n").as_deref(), Ok("1.5.3"));
        assert_eq!(ReadHead.decode(b"ERROR CDE"), Err(ProtocolError::UnknownCommand { step: "Rkn" }));
    }
}
