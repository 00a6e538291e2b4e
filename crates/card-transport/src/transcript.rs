//! APDU transcripts kept as data files, replayed by unit tests.
//!
//! A transcript is text, one exchange per pair of lines:
//!
//! ```text
//! # SELECT the social-security environment
//! > 00 A4 04 00 0F 7378312E73682EC9E7BBE1B1A3D5CF
//! < 6A 82
//! > 00 84 00 00 08
//! < ?? ?? ?? ?? ?? ?? ?? ?? 90 00
//! ```
//!
//! `>` lines are what the host must send; `??` matches any one byte there and a final `*`
//! matches any rest (for cryptograms that change every run). `<` lines are the card's
//! answer; `??` in an answer is replayed as 00. `! short` or `! extended` sets the
//! capabilities the replayed card reports. [`Recorder`] writes this format from a live
//! session (with the same redaction rules as the traces, so a recording holds no secret).

use crate::{Capabilities, CardTransaction, TransportError};

/// One expected command and the answer to give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// Expected command; `None` is a wildcard byte.
    pub command: Vec<Option<u8>>,
    /// Whether the command may go on past the pattern (a final `*`).
    pub open_ended: bool,
    /// The answer to replay (data || SW1 SW2).
    pub response: Vec<u8>,
    /// Line number of the `>` line, for messages.
    pub line: usize,
}

/// A parsed transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// The exchanges, in order.
    pub exchanges: Vec<Exchange>,
    /// What the replayed card claims to carry.
    pub capabilities: Capabilities,
}

/// A transcript file that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transcript line {line}: {message}")]
pub struct TranscriptError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong there.
    pub message: String,
}

fn parse_bytes(
    text: &str,
    line: usize,
    allow_star: bool,
) -> Result<(Vec<Option<u8>>, bool), TranscriptError> {
    let compact: String = text.split_whitespace().collect();
    let (body, open) = match compact.strip_suffix('*') {
        Some(b) if allow_star => (b, true),
        Some(_) => return Err(TranscriptError { line, message: "'*' only ends a command".into() }),
        None => (compact.as_str(), false),
    };
    if body.len() % 2 != 0 {
        return Err(TranscriptError { line, message: "odd number of hex digits".into() });
    }
    let mut out = Vec::with_capacity(body.len() / 2);
    for pair in body.as_bytes().chunks(2) {
        if pair == b"??" {
            out.push(None);
            continue;
        }
        let s =
            std::str::from_utf8(pair).map_err(|_| TranscriptError { line, message: "not ASCII".into() })?;
        let b = u8::from_str_radix(s, 16)
            .map_err(|_| TranscriptError { line, message: format!("{s:?} is not a hex byte") })?;
        out.push(Some(b));
    }
    Ok((out, open))
}

impl Transcript {
    /// Parses transcript text.
    pub fn parse(text: &str) -> Result<Transcript, TranscriptError> {
        let mut exchanges = Vec::new();
        let mut capabilities = Capabilities::EXTENDED;
        let mut pending: Option<(Vec<Option<u8>>, bool, usize)> = None;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            if let Some(rest) = l.strip_prefix('!') {
                capabilities = match rest.trim() {
                    "short" => Capabilities::SHORT,
                    "extended" => Capabilities::EXTENDED,
                    other => {
                        return Err(TranscriptError { line, message: format!("unknown directive {other:?}") })
                    }
                };
            } else if let Some(rest) = l.strip_prefix('>') {
                if pending.is_some() {
                    return Err(TranscriptError {
                        line,
                        message: "two commands without an answer between".into(),
                    });
                }
                let (cmd, open) = parse_bytes(rest, line, true)?;
                pending = Some((cmd, open, line));
            } else if let Some(rest) = l.strip_prefix('<') {
                let Some((command, open_ended, cline)) = pending.take() else {
                    return Err(TranscriptError { line, message: "answer without a command".into() });
                };
                let (resp, _) = parse_bytes(rest, line, false)?;
                if resp.len() < 2 {
                    return Err(TranscriptError { line, message: "an answer needs SW1 SW2".into() });
                }
                exchanges.push(Exchange {
                    command,
                    open_ended,
                    response: resp.into_iter().map(|b| b.unwrap_or(0)).collect(),
                    line: cline,
                });
            } else {
                return Err(TranscriptError { line, message: "lines start with >, <, ! or #".into() });
            }
        }
        if let Some((_, _, line)) = pending {
            return Err(TranscriptError { line, message: "command without an answer".into() });
        }
        Ok(Transcript { exchanges, capabilities })
    }
}

impl Exchange {
    fn matches(&self, command: &[u8]) -> bool {
        if command.len() < self.command.len() || (!self.open_ended && command.len() != self.command.len()) {
            return false;
        }
        self.command.iter().zip(command).all(|(want, got)| want.is_none_or(|w| w == *got))
    }
}

/// A card that answers from a transcript and fails the test on any other command.
#[derive(Debug)]
pub struct Replay {
    transcript: Transcript,
    next: usize,
}

impl Replay {
    /// Replays `transcript` from its first exchange.
    pub fn new(transcript: Transcript) -> Replay {
        Replay { transcript, next: 0 }
    }

    /// Parses and replays transcript text.
    pub fn from_text(text: &str) -> Result<Replay, TranscriptError> {
        Transcript::parse(text).map(Replay::new)
    }

    /// Number of exchanges not yet played: 0 when the host did everything the transcript
    /// expected.
    pub fn remaining(&self) -> usize {
        self.transcript.exchanges.len() - self.next
    }
}

impl CardTransaction for Replay {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let Some(ex) = self.transcript.exchanges.get(self.next) else {
            return Err(TransportError::Other(format!(
                "transcript ended, host sent {}",
                hex::encode_upper(command)
            )));
        };
        if !ex.matches(command) {
            return Err(TransportError::Other(format!(
                "transcript line {}: expected {}, host sent {}",
                ex.line,
                ex.command.iter().map(|b| b.map_or("??".into(), |b| format!("{b:02X}"))).collect::<String>(),
                hex::encode_upper(command)
            )));
        }
        self.next += 1;
        Ok(ex.response.clone())
    }

    fn was_reset(&self) -> bool {
        false
    }

    fn capabilities(&self) -> Capabilities {
        self.transcript.capabilities
    }
}

/// Wraps a live transaction and writes what passes through it as transcript text, with
/// secrets and personal data turned into `??` wildcards (the replay answers them with 00).
pub struct Recorder<'a> {
    inner: &'a mut dyn CardTransaction,
    text: String,
}

impl<'a> Recorder<'a> {
    /// Starts recording `inner`.
    pub fn new(inner: &'a mut dyn CardTransaction) -> Recorder<'a> {
        Recorder { inner, text: String::new() }
    }

    /// The transcript so far.
    pub fn text(&self) -> &str {
        &self.text
    }
}

fn masked(bytes: &[u8], keep: usize, keep_tail: usize) -> String {
    bytes
        .iter()
        .enumerate()
        .map(
            |(i, b)| {
                if i < keep || i >= bytes.len() - keep_tail {
                    format!("{b:02X}")
                } else {
                    "??".to_string()
                }
            },
        )
        .collect::<Vec<_>>()
        .join(" ")
}

impl CardTransaction for Recorder<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let answer = self.inner.transmit(command)?;
        let shown_cmd = crate::redact_command(command);
        let cmd_line = match shown_cmd.hidden_len() {
            0 => masked(command, command.len(), 0),
            _ => masked(command, command.len() - shown_cmd.hidden_len(), 0),
        };
        let shown_resp = crate::redact_response(command, &answer);
        let resp_line = masked(&answer, answer.len() - 2 - shown_resp.hidden_len(), 2);
        self.text.push_str(&format!("> {cmd_line}\n< {resp_line}\n"));
        Ok(answer)
    }

    fn was_reset(&self) -> bool {
        self.inner.was_reset()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_with_wildcards() {
        let mut r = Replay::from_text(
            "# comment\n! short\n> 00 84 00 00 08\n< 01 02 03 04 05 06 07 08 90 00\n> 00 82 00 04 10 *\n< 90 00\n",
        )
        .expect("parse");
        assert_eq!(r.capabilities(), Capabilities::SHORT);
        assert_eq!(r.transmit(&[0, 0x84, 0, 0, 8]).expect("1").len(), 10);
        let mut ea = vec![0, 0x82, 0, 4, 0x10];
        ea.extend([0xAB; 16]);
        assert_eq!(r.transmit(&ea).expect("2"), vec![0x90, 0]);
        assert_eq!(r.remaining(), 0);
        assert!(r.transmit(&[0, 0xA4, 0, 0]).is_err());
    }

    #[test]
    fn unexpected_command_names_the_line() {
        let mut r = Replay::from_text("> 00 A4 04 00 02 3F 00\n< 90 00\n").expect("parse");
        let e = r.transmit(&[0, 0xA4, 0, 0, 2, 0x3F, 0]).expect_err("mismatch");
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn bad_files_are_explained() {
        assert_eq!(Transcript::parse("< 90 00").expect_err("e").line, 1);
        assert!(Transcript::parse("> 00 A4\n").expect_err("e").message.contains("without an answer"));
        assert!(Transcript::parse("> 0G\n< 9000").expect_err("e").message.contains("hex"));
    }

    #[test]
    fn recorder_masks_secrets() {
        let mut live =
            Replay::from_text("> 00 20 00 00 03 12 34 56\n< 90 00\n> 00 B0 00 00 02\n< 41 42 90 00\n")
                .expect("parse");
        let mut rec = Recorder::new(&mut live);
        rec.transmit(&[0, 0x20, 0, 0, 3, 0x12, 0x34, 0x56]).expect("verify");
        rec.transmit(&[0, 0xB0, 0, 0, 2]).expect("read");
        assert_eq!(rec.text(), "> 00 20 00 00 03 ?? ?? ??\n< 90 00\n> 00 B0 00 00 02\n< ?? ?? 90 00\n");
        // A recording parses back as a transcript.
        assert_eq!(Transcript::parse(rec.text()).expect("reparse").exchanges.len(), 2);
    }
}
