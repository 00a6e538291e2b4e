//! Counters (`Rco;p`, `Rco;c`, `Rlr;c`), recorded per card in the journal and used to
//! schedule cleaning, and the cleaning command `Scp`.

use crate::request::{expect_number, ok_command, write_command};
use crate::{ProtocolError, Request};

/// Which counter to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counter {
    /// `Rco;p`: cards printed.
    Printed,
    /// `Rco;c`: the cleaning counter.
    Cleaning,
    /// `Rlr;c`: the `Rlr` counter read (cards since the last cleaning).
    SinceCleaning,
}

/// Read one counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReadCounter(pub Counter);

impl Request for ReadCounter {
    type Response = u32;

    fn step(&self) -> &'static str {
        match self.0 {
            Counter::Printed => "Rco;p",
            Counter::Cleaning => "Rco;c",
            Counter::SinceCleaning => "Rlr;c",
        }
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        let (mnemonic, selector) = match self.0 {
            Counter::Printed => ("Rco", "p"),
            Counter::Cleaning => ("Rco", "c"),
            Counter::SinceCleaning => ("Rlr", "c"),
        };
        write_command(buf, mnemonic, &[selector]);
    }

    fn decode(&self, reply: &[u8]) -> Result<u32, ProtocolError> {
        expect_number(self.step(), reply)
    }
}

ok_command!(
    /// `Scp`: run a cleaning cycle (the operator has inserted a cleaning card).
    Clean,
    "Scp",
    "Scp"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_to_vec;

    #[test]
    fn encodings() {
        assert_eq!(encode_to_vec(&ReadCounter(Counter::Printed)), b"\x1bRco;p\r");
        assert_eq!(encode_to_vec(&ReadCounter(Counter::Cleaning)), b"\x1bRco;c\r");
        assert_eq!(encode_to_vec(&ReadCounter(Counter::SinceCleaning)), b"\x1bRlr;c\r");
        assert_eq!(encode_to_vec(&Clean), b"\x1bScp\r");
    }

    #[test]
    fn replies() {
        assert_eq!(ReadCounter(Counter::Printed).decode(b"12345\0"), Ok(12345));
        assert_eq!(ReadCounter(Counter::SinceCleaning).decode(b"0\r\n"), Ok(0));
        assert_eq!(
            ReadCounter(Counter::Cleaning).decode(b"many"),
            Err(ProtocolError::Unexpected { step: "Rco;c", reply: "many".into() })
        );
        assert_eq!(Clean.decode(b"OK"), Ok(()));
    }
}
