//! Ribbon reads (`Rrt;qty`, `Rrt;count`, `Rrt;zone`), checked before a card is fed so a card
//! is never personalised and then left unprinted. China ribbons are region-locked: a missing,
//! finished or refused ribbon answers `ERR RIB DETECTION`, which maps to
//! [`crate::FaultKind::OperatorRefill`].

use crate::request::{expect_number, expect_text, write_command};
use crate::{ProtocolError, Request};

macro_rules! ribbon_read {
    ($(#[$doc:meta])* $name:ident, $step:literal, $param:literal, $resp:ty, $decode:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name;

        impl Request for $name {
            type Response = $resp;

            fn step(&self) -> &'static str {
                $step
            }

            fn encode(&self, buf: &mut Vec<u8>) {
                write_command(buf, "Rrt", &[$param]);
            }

            fn decode(&self, reply: &[u8]) -> Result<$resp, ProtocolError> {
                $decode($step, reply)
            }
        }
    };
}

ribbon_read!(
    /// `Rrt;qty`: panels (prints) left on the ribbon.
    ReadRibbonRemaining,
    "Rrt;qty",
    "qty",
    u32,
    expect_number
);
ribbon_read!(
    /// `Rrt;count`: the ribbon's counter as the printer reports it.
    ReadRibbonCount,
    "Rrt;count",
    "count",
    u32,
    expect_number
);
ribbon_read!(
    /// `Rrt;zone`: the ribbon's region. Kept as text: printer.md only says "numbers", and the
    /// station compares it with the expected zone rather than doing arithmetic on it.
    ReadRibbonZone,
    "Rrt;zone",
    "zone",
    String,
    expect_text
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{encode_to_vec, FaultKind};

    #[test]
    fn encodings() {
        assert_eq!(encode_to_vec(&ReadRibbonRemaining), b"\x1bRrt;qty\r");
        assert_eq!(encode_to_vec(&ReadRibbonCount), b"\x1bRrt;count\r");
        assert_eq!(encode_to_vec(&ReadRibbonZone), b"\x1bRrt;zone\r");
    }

    #[test]
    fn replies() {
        assert_eq!(ReadRibbonRemaining.decode(b"200\0"), Ok(200));
        assert_eq!(ReadRibbonCount.decode(b"1000\r\n"), Ok(1000));
        assert_eq!(ReadRibbonZone.decode(b"86").as_deref(), Ok("86"));
        let err = ReadRibbonRemaining.decode(b"ERR RIB DETECTION\0").expect_err("an error");
        assert_eq!(err, ProtocolError::Printer { step: "Rrt;qty", text: "ERR RIB DETECTION".into() });
        assert_eq!(err.fault_kind(), FaultKind::OperatorRefill);
        assert_eq!(
            ReadRibbonZone.decode(b"ERR RIB DETECTION").expect_err("an error").fault_kind(),
            FaultKind::OperatorRefill
        );
    }
}
