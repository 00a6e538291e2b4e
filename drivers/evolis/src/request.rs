//! The [`Request`] trait (one type per wire command, as in probe-rs) and the framing both
//! directions share: `ESC` + mnemonic + (`;` param)* + `CR` out, trimmed ASCII back.

use crate::ProtocolError;

/// Escape, the first byte of every request.
pub const ESC: u8 = 0x1B;
/// Carriage return, the last byte of every request.
pub const CR: u8 = 0x0D;

/// A wire command: pure encoding of the request and decoding of its reply, no I/O.
pub trait Request {
    /// The typed value a successful reply carries.
    type Response;

    /// The step named in errors and logs: the mnemonic, plus the selector parameter when one
    /// mnemonic serves several commands (`Rlr;p`, `Rse;f`, `Db;k`).
    fn step(&self) -> &'static str;

    /// Appends the complete request, `ESC` to `CR`, to `buf`.
    fn encode(&self, buf: &mut Vec<u8>);

    /// Decodes one reply (as framed by [`crate::codec::ReplyFramer`]; CR/LF/NUL are trimmed
    /// here anyway).
    fn decode(&self, reply: &[u8]) -> Result<Self::Response, ProtocolError>;
}

/// The encoded request as a fresh buffer, for one write.
pub fn encode_to_vec<R: Request + ?Sized>(request: &R) -> Vec<u8> {
    let mut buf = Vec::new();
    request.encode(&mut buf);
    buf
}

/// Writes `ESC mnemonic (;param)* CR`.
pub(crate) fn write_command(buf: &mut Vec<u8>, mnemonic: &str, params: &[&str]) {
    buf.push(ESC);
    buf.extend_from_slice(mnemonic.as_bytes());
    for param in params {
        buf.push(b';');
        buf.extend_from_slice(param.as_bytes());
    }
    buf.push(CR);
}

/// The reply's text with CR/LF/NUL (and spaces) trimmed, after the error replies are taken
/// out: `ERROR CDE` becomes [`ProtocolError::UnknownCommand`], any other text starting with
/// `ERR` becomes [`ProtocolError::Printer`]. Only these and the read formats are relied on,
/// as printer.md says the other texts are not public.
pub fn reply_text(step: &'static str, reply: &[u8]) -> Result<String, ProtocolError> {
    let text = String::from_utf8_lossy(reply);
    let text = text.trim_matches(|c: char| matches!(c, '\r' | '\n' | '\0' | ' '));
    if text == "ERROR CDE" {
        return Err(ProtocolError::UnknownCommand { step });
    }
    if text.starts_with("ERR") {
        return Err(ProtocolError::Printer { step, text: text.to_owned() });
    }
    Ok(text.to_owned())
}

/// Decodes a reply that must be exactly `OK`.
pub(crate) fn expect_ok(step: &'static str, reply: &[u8]) -> Result<(), ProtocolError> {
    let text = reply_text(step, reply)?;
    if text == "OK" {
        Ok(())
    } else {
        Err(ProtocolError::unexpected(step, &text))
    }
}

/// Decodes a reply that must be a decimal number.
pub(crate) fn expect_number(step: &'static str, reply: &[u8]) -> Result<u32, ProtocolError> {
    let text = reply_text(step, reply)?;
    text.parse().map_err(|_| ProtocolError::unexpected(step, &text))
}

/// Decodes a free-text reply (model, serial, firmware): anything but an error or nothing.
pub(crate) fn expect_text(step: &'static str, reply: &[u8]) -> Result<String, ProtocolError> {
    let text = reply_text(step, reply)?;
    if text.is_empty() {
        Err(ProtocolError::unexpected(step, &text))
    } else {
        Ok(text)
    }
}

/// Declares unit-struct commands whose reply is `OK`, with their fixed parameters.
macro_rules! ok_command {
    ($(#[$doc:meta])* $name:ident, $step:literal, $mnemonic:literal $(, $param:literal)*) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name;

        impl $crate::Request for $name {
            type Response = ();

            fn step(&self) -> &'static str {
                $step
            }

            fn encode(&self, buf: &mut Vec<u8>) {
                $crate::request::write_command(buf, $mnemonic, &[$($param),*]);
            }

            fn decode(&self, reply: &[u8]) -> Result<(), $crate::ProtocolError> {
                $crate::request::expect_ok($step, reply)
            }
        }
    };
}
pub(crate) use ok_command;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Hex of `bytes`, space separated, for readable byte assertions.
    pub(crate) fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn error_replies_are_typed() {
        assert_eq!(reply_text("Rtp", b"ERROR CDE\0"), Err(ProtocolError::UnknownCommand { step: "Rtp" }));
        assert_eq!(
            reply_text("Rrt;qty", b"ERR RIB DETECTION\r\n"),
            Err(ProtocolError::Printer { step: "Rrt;qty", text: "ERR RIB DETECTION".into() })
        );
        assert_eq!(reply_text("Rtp", b"\r\nPrimacy\r\n\0").as_deref(), Ok("Primacy"));
    }

    #[test]
    fn ok_and_numbers() {
        assert_eq!(expect_ok("Si", b"OK"), Ok(()));
        assert_eq!(expect_ok("Si", b"OK\r\0"), Ok(()));
        assert_eq!(expect_ok("Si", b"KO"), Err(ProtocolError::unexpected("Si", "KO")));
        assert_eq!(expect_number("Rco;p", b"1234\r"), Ok(1234));
        assert!(matches!(expect_number("Rco;p", b"12a"), Err(ProtocolError::Unexpected { .. })));
        assert!(matches!(expect_text("Rsn", b"\0"), Err(ProtocolError::Unexpected { .. })));
    }

    #[test]
    fn error_keeps_step_and_text_in_message() {
        let err = reply_text("Rrt;zone", b"ERR RIB DETECTION").expect_err("an error");
        assert_eq!(err.step(), "Rrt;zone");
        assert_eq!(err.to_string(), "Rrt;zone: printer error \"ERR RIB DETECTION\"");
        assert_eq!(err.fault_kind(), crate::FaultKind::OperatorRefill);
        let err = reply_text("Rxx", b"ERR SOMETHING NEW").expect_err("an error");
        assert_eq!(err.fault_kind(), crate::FaultKind::Stop);
        assert_eq!(ProtocolError::UnknownCommand { step: "Rxx" }.fault_kind(), crate::FaultKind::Stop);
    }
}
