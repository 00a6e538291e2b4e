//! Command APDUs: build, encode in short or extended form, parse (for the card side).

/// Largest Le: 256 in short form (encoded 00), 65 536 in extended form (encoded 0000).
pub const MAX_SHORT_LE: usize = 256;
/// Largest Le in extended form.
pub const MAX_EXTENDED_LE: usize = 65_536;

/// A command APDU. `le` is the number of bytes expected, 1..=65 536, or `None` for none.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte (channel, secure messaging and chaining bits).
    pub cla: u8,
    /// Instruction.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Command data (Lc is its length).
    pub data: Vec<u8>,
    /// Expected response length.
    pub le: Option<usize>,
}

impl std::fmt::Debug for Command {
    /// Debug output follows the trace redaction rules: no PIN, key or personal data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes = self.encode(self.needs_extended());
        write!(f, "Command({})", card_transport::redact_command(&bytes))
    }
}

/// A byte string that is not a well-formed command APDU (ISO 7816-3 12.1.3 cases).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed command APDU ({len} bytes): {why}")]
pub struct ParseError {
    /// Length of what was received.
    pub len: usize,
    /// Which rule it breaks.
    pub why: &'static str,
}

impl Command {
    /// A command with no data and no Le.
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Command {
        Command { cla, ins, p1, p2, data: Vec::new(), le: None }
    }

    /// Sets the command data.
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Command {
        self.data = data.into();
        self
    }

    /// Sets Le (1..=65 536).
    pub fn with_le(mut self, le: usize) -> Command {
        debug_assert!((1..=MAX_EXTENDED_LE).contains(&le), "Le {le} out of range");
        self.le = Some(le);
        self
    }

    /// True when the command cannot be written in short form.
    pub fn needs_extended(&self) -> bool {
        self.data.len() > 255 || self.le.is_some_and(|le| le > MAX_SHORT_LE)
    }

    /// Encodes the command, in extended form when `extended` is true (or when it cannot be
    /// short at all: callers check [`Command::needs_extended`] against the reader first).
    pub fn encode(&self, extended: bool) -> Vec<u8> {
        let extended = extended || self.needs_extended();
        let mut out = Vec::with_capacity(9 + self.data.len());
        out.extend([self.cla, self.ins, self.p1, self.p2]);
        if !extended {
            if !self.data.is_empty() {
                out.push(self.data.len() as u8);
                out.extend(&self.data);
            }
            if let Some(le) = self.le {
                out.push(if le >= MAX_SHORT_LE { 0 } else { le as u8 });
            }
            return out;
        }
        if !self.data.is_empty() {
            out.push(0);
            out.extend((self.data.len() as u16).to_be_bytes());
            out.extend(&self.data);
        }
        if let Some(le) = self.le {
            if self.data.is_empty() {
                out.push(0);
            }
            let v = if le >= MAX_EXTENDED_LE { 0 } else { le as u16 };
            out.extend(v.to_be_bytes());
        }
        out
    }

    /// Parses a command APDU in any of the seven ISO 7816-3 cases.
    pub fn parse(bytes: &[u8]) -> Result<Command, ParseError> {
        let err = |why| ParseError { len: bytes.len(), why };
        if bytes.len() < 4 {
            return Err(err("shorter than the 4-byte header"));
        }
        let mut cmd = Command::new(bytes[0], bytes[1], bytes[2], bytes[3]);
        let body = &bytes[4..];
        match body.len() {
            0 => return Ok(cmd),
            1 => {
                cmd.le = Some(if body[0] == 0 { MAX_SHORT_LE } else { body[0] as usize });
                return Ok(cmd);
            }
            _ => {}
        }
        if body[0] != 0 {
            let lc = body[0] as usize;
            match body.len() - 1 {
                n if n == lc => cmd.data = body[1..].to_vec(),
                n if n == lc + 1 => {
                    cmd.data = body[1..=lc].to_vec();
                    let le = body[lc + 1];
                    cmd.le = Some(if le == 0 { MAX_SHORT_LE } else { le as usize });
                }
                _ => return Err(err("Lc does not match the data length")),
            }
            return Ok(cmd);
        }
        // Extended form: body[0] == 0.
        if body.len() == 3 {
            let le = u16::from_be_bytes([body[1], body[2]]) as usize;
            cmd.le = Some(if le == 0 { MAX_EXTENDED_LE } else { le });
            return Ok(cmd);
        }
        if body.len() < 3 {
            return Err(err("truncated extended length"));
        }
        let lc = u16::from_be_bytes([body[1], body[2]]) as usize;
        if lc == 0 {
            return Err(err("extended Lc of 0"));
        }
        match body.len() - 3 {
            n if n == lc => cmd.data = body[3..].to_vec(),
            n if n == lc + 2 => {
                cmd.data = body[3..3 + lc].to_vec();
                let le = u16::from_be_bytes([body[3 + lc], body[4 + lc]]) as usize;
                cmd.le = Some(if le == 0 { MAX_EXTENDED_LE } else { le });
            }
            _ => return Err(err("extended Lc does not match the data length")),
        }
        Ok(cmd)
    }

    /// True when CLA announces that more commands of the chain follow (b5 = 1).
    pub fn is_chained(&self) -> bool {
        self.cla & 0x10 != 0 && self.cla & 0x80 == 0
    }

    // --- ISO 7816-4 commands, named as a card engineer would ---

    /// SELECT by DF name (AID), first or only occurrence, FCI returned.
    pub fn select_aid(aid: &[u8]) -> Command {
        Command::new(0x00, 0xA4, 0x04, 0x00).with_data(aid).with_le(MAX_SHORT_LE)
    }

    /// SELECT by file identifier (EF, DF or MF) under the current DF, no answer data.
    pub fn select_fid(fid: u16) -> Command {
        Command::new(0x00, 0xA4, 0x00, 0x0C).with_data(fid.to_be_bytes())
    }

    /// SELECT by path from the MF (the MF's own 3F00 left out), no answer data.
    pub fn select_path(path: &[u16]) -> Command {
        let data: Vec<u8> = path.iter().flat_map(|f| f.to_be_bytes()).collect();
        Command::new(0x00, 0xA4, 0x08, 0x0C).with_data(data)
    }

    /// READ BINARY of the current EF from `offset` (15-bit).
    pub fn read_binary(offset: u16, le: usize) -> Command {
        let [hi, lo] = offset.to_be_bytes();
        Command::new(0x00, 0xB0, hi & 0x7F, lo).with_le(le)
    }

    /// UPDATE BINARY of the current EF at `offset` (15-bit).
    pub fn update_binary(offset: u16, data: &[u8]) -> Command {
        let [hi, lo] = offset.to_be_bytes();
        Command::new(0x00, 0xD6, hi & 0x7F, lo).with_data(data)
    }

    /// READ RECORD `record` of the current EF (P2 = 04: record number in P1).
    pub fn read_record(record: u8, le: usize) -> Command {
        Command::new(0x00, 0xB2, record, 0x04).with_le(le)
    }

    /// UPDATE RECORD `record` of the current EF.
    pub fn update_record(record: u8, data: &[u8]) -> Command {
        Command::new(0x00, 0xDC, record, 0x04).with_data(data)
    }

    /// APPEND RECORD to the current EF.
    pub fn append_record(data: &[u8]) -> Command {
        Command::new(0x00, 0xE2, 0x00, 0x00).with_data(data)
    }

    /// GET CHALLENGE of `len` bytes.
    pub fn get_challenge(len: usize) -> Command {
        Command::new(0x00, 0x84, 0x00, 0x00).with_le(len)
    }

    /// EXTERNAL AUTHENTICATE with card key `key_id`.
    pub fn external_authenticate(key_id: u8, cryptogram: &[u8]) -> Command {
        Command::new(0x00, 0x82, 0x00, key_id).with_data(cryptogram)
    }

    /// GET RESPONSE for `len` bytes, on the same logical channel as `cla`.
    pub fn get_response(cla: u8, len: usize) -> Command {
        Command::new(cla & 0x03, 0xC0, 0x00, 0x00).with_le(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("hex")
    }

    #[test]
    fn the_seven_cases_round_trip() {
        let cases = [
            "00A40000",                 // 1
            "00B0000010",               // 2S
            "00B0000000",               // 2S, Le 256
            "00A40000023F00",           // 3S
            "00A4040002A00000",         // 4S
            "00B00000000000",           // 2E, Le 65536
            "00B00000001000",           // 2E
            "00D60000000003AABBCC",     // 3E
            "00D60000000003AABBCC0100", // 4E
        ];
        for c in cases {
            let bytes = h(c);
            let cmd = Command::parse(&bytes).expect(c);
            let extended = bytes.len() > 5 && bytes[4] == 0;
            assert_eq!(cmd.encode(extended), bytes, "{c}");
        }
        assert_eq!(Command::parse(&h("00B00000000000")).expect("2E").le, Some(65_536));
    }

    #[test]
    fn malformed_commands_are_refused() {
        assert!(Command::parse(&h("00A400")).is_err());
        assert!(Command::parse(&h("00A40000053F00")).is_err());
        assert!(Command::parse(&h("00D6000000")).is_ok()); // 2S with Le 00... is case 2S
        assert!(Command::parse(&h("00D600000000")).is_err());
        assert!(Command::parse(&h("00D6000000000000")).is_err());
    }

    #[test]
    fn long_commands_go_extended() {
        let cmd = Command::update_binary(0, &[0xAA; 300]);
        assert!(cmd.needs_extended());
        let e = cmd.encode(false);
        assert_eq!(&e[..7], &h("00D60000 00012C")[..]);
        assert_eq!(Command::read_binary(0, 1000).encode(false), h("00B00000 0003E8"));
        assert_eq!(Command::read_binary(0x0102, 256).encode(false), h("00B0010200"));
    }

    #[test]
    fn debug_output_is_redacted() {
        let verify = Command::new(0, 0x20, 0, 0).with_data([0x12, 0x34, 0x56]);
        assert_eq!(format!("{verify:?}"), "Command(00 20 00 00 03 <3 bytes PIN>)");
    }
}
