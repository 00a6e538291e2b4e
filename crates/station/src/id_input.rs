//! ID numbers the operator gives a command, never on its command line: `ps` shows a running
//! command's arguments to every user of the counter PC, and the shell keeps them in its
//! history. A command reads one from its environment variable (a script, the tests) or asks
//! on the terminal.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context, Result};

/// The holder's ID number (the card's person): `STATION_ID_NUMBER`.
pub const HOLDER: IdInput = IdInput { what: "the holder's resident ID number", var: "STATION_ID_NUMBER" };

/// The number on the ID document a custodian shows: `STATION_CUSTODIAN_ID`.
pub const CUSTODIAN: IdInput =
    IdInput { what: "the number on the custodian's ID document, checked now", var: "STATION_CUSTODIAN_ID" };

/// The number on the ID document the person receiving a card on a visit shows:
/// `STATION_RECEIVER_ID`.
pub const RECEIVER: IdInput =
    IdInput { what: "the number on the receiver's ID document, checked now", var: "STATION_RECEIVER_ID" };

/// One ID number a command needs: what it is (the question) and its environment variable.
#[derive(Debug, Clone, Copy)]
pub struct IdInput {
    /// The question on the terminal.
    pub what: &'static str,
    /// The environment variable that gives it instead.
    pub var: &'static str,
}

impl IdInput {
    /// From the environment variable, or asked on the terminal; off a terminal without the
    /// variable, an error that names it.
    pub fn read(&self) -> Result<String> {
        let stdin = std::io::stdin();
        self.read_from(std::env::var(self.var).ok(), stdin.is_terminal(), &mut stdin.lock())
    }

    fn read_from(&self, env: Option<String>, terminal: bool, input: &mut dyn BufRead) -> Result<String> {
        if let Some(v) = env.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
            return Ok(v);
        }
        if !terminal {
            bail!(
                "{}: set {} or run the command on a terminal to be asked (an ID number is never \
                 given on the command line, where ps and the shell history show it)",
                self.what,
                self.var
            );
        }
        eprint!("{}: ", self.what);
        std::io::stderr().flush().ok();
        let mut line = String::new();
        input.read_line(&mut line).with_context(|| format!("reading {}", self.what))?;
        let v = line.trim().to_string();
        if v.is_empty() {
            bail!("{}: nothing typed", self.what);
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_first_then_the_terminal_and_never_silently_empty() {
        let mut nothing = std::io::Cursor::new(Vec::new());
        let got = HOLDER.read_from(Some(" 11010519491231002X\n".into()), false, &mut nothing).expect("env");
        assert_eq!(got, "11010519491231002X");
        let mut typed = std::io::Cursor::new(b"11010519491231002X\n".to_vec());
        assert_eq!(HOLDER.read_from(None, true, &mut typed).expect("typed"), "11010519491231002X");
        let e = CUSTODIAN.read_from(Some("  ".into()), false, &mut nothing).expect_err("off a terminal");
        assert!(e.to_string().contains("set STATION_CUSTODIAN_ID"), "{e}");
        let mut empty = std::io::Cursor::new(b"\n".to_vec());
        assert!(RECEIVER.read_from(None, true, &mut empty).is_err(), "an empty answer is refused");
    }
}
