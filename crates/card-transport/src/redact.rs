//! Redaction of APDUs for traces: headers always, payloads only when they hold no secret
//! and no personal data.
//!
//! Hidden: secure-messaging payloads (both ways), PINs (VERIFY, CHANGE REFERENCE DATA,
//! RESET RETRY COUNTER), keys (PUT KEY), written data (UPDATE/APPEND, STORE DATA, PUT DATA:
//! names and ID numbers go there) and read data (READ BINARY/RECORD, GET DATA, GET RESPONSE).
//! Lengths stay visible so a trace still shows what happened.

use std::fmt;

/// An APDU ready to print: what may be shown, and what is hidden and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    shown: Vec<u8>,
    hidden: Option<(usize, &'static str)>,
    trailer: Vec<u8>,
}

impl Redacted {
    /// How many bytes are hidden (0 when the whole APDU may be shown).
    pub fn hidden_len(&self) -> usize {
        self.hidden.map_or(0, |(len, _)| len)
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.shown)?;
        if let Some((len, why)) = self.hidden {
            if !self.shown.is_empty() {
                f.write_str(" ")?;
            }
            write!(f, "<{len} bytes {why}>")?;
        }
        if !self.trailer.is_empty() {
            f.write_str(" ")?;
            write_hex(f, &self.trailer)?;
        }
        Ok(())
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            f.write_str(" ")?;
        }
        write!(f, "{b:02X}")?;
    }
    Ok(())
}

/// True when the class byte announces secure messaging (ISO 7816-4 5.4.1; GlobalPlatform
/// uses the same bits in its proprietary class 84/8C).
pub fn is_secure_messaging(cla: u8) -> bool {
    if cla & 0x40 == 0 {
        cla & 0x0C != 0
    } else {
        cla & 0x20 != 0
    }
}

/// Why a command's data must not be printed, if it must not.
fn command_secret(cla: u8, ins: u8) -> Option<&'static str> {
    if is_secure_messaging(cla) {
        return Some("secure messaging");
    }
    match ins {
        0x20 | 0x21 | 0x24 | 0x25 | 0x2C | 0x2D => Some("PIN"),
        0xD8 => Some("key"),
        0xD6 | 0xD7 | 0xDC | 0xDD | 0xE2 | 0xDA | 0xDB => Some("written data"),
        _ => None,
    }
}

/// Why the answer to a command must not be printed, if it must not.
fn response_secret(cla: u8, ins: u8) -> Option<&'static str> {
    if is_secure_messaging(cla) {
        return Some("secure messaging");
    }
    match ins {
        0xB0 | 0xB1 | 0xB2 | 0xB3 | 0xCA | 0xCB | 0xC0 => Some("card data"),
        _ => command_secret(cla, ins),
    }
}

/// The command as it may appear in a trace: header and lengths, data only when harmless.
pub fn redact_command(apdu: &[u8]) -> Redacted {
    if apdu.len() <= 5 {
        return Redacted { shown: apdu.to_vec(), hidden: None, trailer: Vec::new() };
    }
    let reason = command_secret(apdu[0], apdu[1]);
    match reason {
        None => Redacted { shown: apdu.to_vec(), hidden: None, trailer: Vec::new() },
        Some(why) => {
            // Header and the Lc field stay; we do not try to tell Le from data here.
            let lc_len = if apdu[4] == 0 && apdu.len() > 7 { 3 } else { 1 };
            let head = (4 + lc_len).min(apdu.len());
            Redacted {
                shown: apdu[..head].to_vec(),
                hidden: Some((apdu.len() - head, why)),
                trailer: Vec::new(),
            }
        }
    }
}

/// The answer to `command` as it may appear in a trace: status word always, data only when
/// harmless.
pub fn redact_response(command: &[u8], response: &[u8]) -> Redacted {
    let secret = if command.len() >= 2 { response_secret(command[0], command[1]) } else { None };
    match secret {
        Some(why) if response.len() > 2 => {
            let split = response.len() - 2;
            Redacted { shown: Vec::new(), hidden: Some((split, why)), trailer: response[split..].to_vec() }
        }
        _ => Redacted { shown: response.to_vec(), hidden: None, trailer: Vec::new() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("hex")
    }

    #[test]
    fn select_is_shown_whole() {
        let c = h("00A404000F7378312E73682EC9E7BBE1B1A3D5CF");
        assert_eq!(
            redact_command(&c).to_string(),
            "00 A4 04 00 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF"
        );
    }

    #[test]
    fn pin_is_hidden() {
        let c = h("0020000003123456");
        let s = redact_command(&c).to_string();
        assert_eq!(s, "00 20 00 00 03 <3 bytes PIN>");
        assert!(!s.contains("12 34 56"));
    }

    #[test]
    fn secure_messaging_is_hidden_both_ways() {
        let c = h("84E2000010 00112233445566778899AABBCCDDEEFF");
        assert_eq!(redact_command(&c).to_string(), "84 E2 00 00 10 <16 bytes secure messaging>");
        let r = h("A1B2C3D4 9000");
        assert_eq!(redact_response(&c, &r).to_string(), "<4 bytes secure messaging> 90 00");
        // Further interindustry class with b6 set is secure messaging too.
        assert!(is_secure_messaging(0x60));
        assert!(!is_secure_messaging(0x40));
        assert!(!is_secure_messaging(0x00));
        assert!(!is_secure_messaging(0x80));
    }

    #[test]
    fn record_data_is_hidden_in_answers_and_writes() {
        let read = h("00B2080400");
        let answer = h("0812313131313131313938313031303131313130 9000");
        let s = redact_response(&read, &answer).to_string();
        assert_eq!(s, "<20 bytes card data> 90 00");
        let write = h("00DC0904 05 0903 414243");
        assert_eq!(redact_command(&write).to_string(), "00 DC 09 04 05 <5 bytes written data>");
    }

    #[test]
    fn extended_lc_stays_visible() {
        let mut c = h("00D60000000100");
        c.extend(std::iter::repeat_n(0xAA, 256));
        assert_eq!(redact_command(&c).to_string(), "00 D6 00 00 00 01 00 <256 bytes written data>");
    }

    #[test]
    fn status_only_answer_is_shown() {
        assert_eq!(redact_response(&h("00B0000010"), &h("6982")).to_string(), "69 82");
    }
}
