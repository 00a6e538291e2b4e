//! The pay period of a payment batch: a month, `YYYY-MM`.

use std::fmt;

/// A month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    /// The year, 2000-2099.
    pub year: u16,
    /// The month, 1-12.
    pub month: u8,
}

impl Period {
    /// `YYYY-MM` (also `YYYYMM`, `YYYY/MM`, `YYYY年M月`).
    pub fn parse(s: &str) -> Result<Period, String> {
        let t: String = s
            .trim()
            .trim_end_matches('月')
            .chars()
            .map(|c| if matches!(c, '/' | '.' | '年') { '-' } else { c })
            .collect();
        let (y, m) = match t.split_once('-') {
            Some((y, m)) => (y, m),
            None if t.len() == 6 => t.split_at(4),
            None => ("", ""),
        };
        let bad = || format!("'{s}' is not a month: write it as YYYY-MM, e.g. 2022-03");
        if y.len() != 4
            || m.is_empty()
            || m.len() > 2
            || !(y.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let year: u16 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        if !(2000..=2099).contains(&year) || !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Period { year, month })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_in_the_forms_offices_write() {
        for s in ["2022-03", "202203", "2022/3", "2022年3月"] {
            assert_eq!(Period::parse(s).map(|p| p.to_string()).as_deref(), Ok("2022-03"), "{s}");
        }
        for bad in ["2022-13", "22-03", "2022", "march", "2022-3-1"] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
    }
}
