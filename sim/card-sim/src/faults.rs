//! Fault injection: what a real card or reader does on a bad day, on demand.
//!
//! CLI syntax: comma-separated items, e.g. `pull-after=5,slow=20ms,t0,wrong-le`.
//!
//! | item | effect |
//! |---|---|
//! | `pull-after=N` | the card answers N APDUs; when the (N+1)th arrives it is pulled: no answer, nothing executed (so nothing of it is written) |
//! | `reinsert=DUR` | after a pull, the card comes back by itself DUR later (through vpcd at least 1 s later) |
//! | `fail-after=N` | the (N+1)th APDU is answered 6F00 and not executed |
//! | `corrupt-after=N` | the (N+1)th APDU is executed and the first data byte of its answer flipped (no data: 6F00) |
//! | `short-after=N` | the (N+1)th APDU is executed and answered with 1 byte only |
//! | `slow=DUR` | every answer is delayed by DUR |
//! | `t0` | T=0 behaviour: an answer with data becomes 61xx; GET RESPONSE (00 C0) hands it out in pieces |
//! | `wrong-le` | a short Le that differs from the exact length available gets 6Cxx (xx = that length) |
//! | `none` | no fault |
//!
//! DUR is a whole number with `us`, `ms` or `s`. The `*-after` faults count APDUs from the
//! moment the faults were set and fire once; `t0`, `wrong-le` and `slow` stay on.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The faults a simulated card injects. See the module documentation for the syntax.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Pull the card when APDU number N+1 arrives (once).
    pub pull_after: Option<u64>,
    /// Re-insert the card this long after a pull.
    pub reinsert_after: Option<Duration>,
    /// Answer APDU N+1 with 6F00 without executing it (once).
    pub fail_after: Option<u64>,
    /// Flip the first data byte of the answer to APDU N+1 (once).
    pub corrupt_after: Option<u64>,
    /// Answer APDU N+1 with its first byte only (once).
    pub short_after: Option<u64>,
    /// Delay before every answer.
    pub slow: Option<Duration>,
    /// T=0 behaviour: 61xx and GET RESPONSE.
    pub t0: bool,
    /// 6Cxx when a short Le is not the exact length.
    pub wrong_le: bool,
}

/// A fault item that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fault {item:?}: {message} (syntax: pull-after=N, reinsert=DUR, fail-after=N, corrupt-after=N, short-after=N, slow=DUR, t0, wrong-le, none; DUR like 20ms or 1s)")]
pub struct FaultsError {
    /// The item as written.
    pub item: String,
    /// What is wrong.
    pub message: String,
}

fn parse_duration(text: &str) -> Option<Duration> {
    let (digits, unit): (String, String) = text.chars().partition(char::is_ascii_digit);
    if !text.starts_with(|c: char| c.is_ascii_digit()) || !text.ends_with(unit.as_str()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    match unit.as_str() {
        "us" => Some(Duration::from_micros(n)),
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        _ => None,
    }
}

fn fmt_duration(d: Duration) -> String {
    let (us, ms) = (d.as_micros(), d.as_millis());
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if ms * 1000 == us {
        format!("{ms}ms")
    } else {
        format!("{us}us")
    }
}

impl FromStr for Faults {
    type Err = FaultsError;

    fn from_str(text: &str) -> Result<Faults, FaultsError> {
        let mut f = Faults::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let err = |message: &str| FaultsError { item: item.to_string(), message: message.to_string() };
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (item, None),
            };
            let count =
                || value.and_then(|v| v.parse::<u64>().ok()).ok_or_else(|| err("needs a whole number"));
            let duration = || value.and_then(parse_duration).ok_or_else(|| err("needs a duration like 20ms"));
            let flag = || if value.is_none() { Ok(true) } else { Err(err("takes no value")) };
            match name {
                "pull-after" => f.pull_after = Some(count()?),
                "reinsert" => f.reinsert_after = Some(duration()?),
                "fail-after" => f.fail_after = Some(count()?),
                "corrupt-after" => f.corrupt_after = Some(count()?),
                "short-after" => f.short_after = Some(count()?),
                "slow" => f.slow = Some(duration()?),
                "t0" => f.t0 = flag()?,
                "wrong-le" => f.wrong_le = flag()?,
                "none" => {
                    flag()?;
                }
                _ => return Err(err("unknown fault")),
            }
        }
        Ok(f)
    }
}

impl fmt::Display for Faults {
    /// The same syntax [`Faults::from_str`] reads; `none` when there is no fault.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items = Vec::new();
        let counts = [
            ("pull-after", self.pull_after),
            ("fail-after", self.fail_after),
            ("corrupt-after", self.corrupt_after),
            ("short-after", self.short_after),
        ];
        for (name, n) in counts {
            if let Some(n) = n {
                items.push(format!("{name}={n}"));
            }
        }
        if let Some(d) = self.reinsert_after {
            items.push(format!("reinsert={}", fmt_duration(d)));
        }
        if let Some(d) = self.slow {
            items.push(format!("slow={}", fmt_duration(d)));
        }
        if self.t0 {
            items.push("t0".into());
        }
        if self.wrong_le {
            items.push("wrong-le".into());
        }
        if items.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&items.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_syntax_parses_and_prints_back() {
        let f: Faults =
            "pull-after=5,slow=20ms,t0,wrong-le,corrupt-after=3,short-after=4".parse().expect("parse");
        assert_eq!(f.pull_after, Some(5));
        assert_eq!(f.slow, Some(Duration::from_millis(20)));
        assert!(f.t0 && f.wrong_le);
        assert_eq!((f.corrupt_after, f.short_after), (Some(3), Some(4)));
        assert_eq!(f.to_string(), "pull-after=5,corrupt-after=3,short-after=4,slow=20ms,t0,wrong-le");
        assert_eq!(f.to_string().parse::<Faults>(), Ok(f));
        let g: Faults = "fail-after=0, reinsert=2s, slow=150us".parse().expect("parse");
        assert_eq!(g.to_string().parse::<Faults>(), Ok(g));
        assert_eq!("".parse::<Faults>(), Ok(Faults::default()));
        assert_eq!(Faults::default().to_string(), "none");
    }

    #[test]
    fn mistakes_are_explained() {
        let e = "pull-after=x".parse::<Faults>().expect_err("bad count");
        assert!(e.to_string().contains("\"pull-after=x\": needs a whole number"), "{e}");
        assert!("slow=20".parse::<Faults>().is_err());
        assert!("slow=ms".parse::<Faults>().is_err());
        assert!("t0=1".parse::<Faults>().is_err());
        assert!("pull".parse::<Faults>().expect_err("unknown").to_string().contains("unknown fault"));
    }
}
