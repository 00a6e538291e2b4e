//! Amounts in fen (分) as `i64`: parsed from yuan text, summed exactly, written as yuan with
//! two decimals. Never floating point.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub};

/// An amount of money in fen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fen(pub i64);

impl Fen {
    /// Zero.
    pub const ZERO: Fen = Fen(0);

    /// Yuan with at most two decimals ("85.5", "1,200.50", "120元"), as the roster reads
    /// amounts; `None` for anything else, negative amounts included.
    pub fn parse(s: &str) -> Option<Fen> {
        roster::validate::parse_amount_fen(s.trim()).map(Fen)
    }

    /// Yuan with two decimals, a minus sign when negative (a reconciliation's difference).
    pub fn yuan(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", a / 100, a % 100)
    }
}

impl Add for Fen {
    type Output = Fen;
    fn add(self, o: Fen) -> Fen {
        Fen(self.0 + o.0)
    }
}

impl AddAssign for Fen {
    fn add_assign(&mut self, o: Fen) {
        self.0 += o.0;
    }
}

impl Sub for Fen {
    type Output = Fen;
    fn sub(self, o: Fen) -> Fen {
        Fen(self.0 - o.0)
    }
}

impl Sum for Fen {
    fn sum<I: Iterator<Item = Fen>>(iter: I) -> Fen {
        iter.fold(Fen::ZERO, Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_text_to_fen_and_back_exactly() {
        assert_eq!(Fen::parse("85.5"), Some(Fen(8550)));
        assert_eq!(Fen::parse("1,200.05元"), Some(Fen(120_005)));
        assert_eq!(Fen::parse(" 0.1 "), Some(Fen(10)));
        for bad in ["", "-3", "1.005", "一百", "1e2"] {
            assert_eq!(Fen::parse(bad), None, "{bad}");
        }
        // Ten thousand payments of 0.10 are exactly 1000.00: no floating point drift.
        let total: Fen = std::iter::repeat_n(Fen(10), 10_000).sum();
        assert_eq!(total.to_string(), "1000.00");
        assert_eq!((Fen(5) - Fen(120)).to_string(), "-1.15");
    }
}
