//! Fault injection: what a real printer does on a bad day, on demand, now or when a given
//! command arrives (before it is executed).
//!
//! CLI syntax (`--fault`, repeatable): `FAULT` or `FAULT@COMMAND[#N]`, e.g. `cover-open`,
//! `jam@Sis`, `drop@Se#2`, `ribbon-ends-after=2`. COMMAND is the step as the driver names it
//! (`Sis`, `Rlr;p`, `Db;k`, `Se`); N counts its occurrences from 1 (default 1).
//!
//! | fault | effect |
//! |---|---|
//! | `feeder-empty` | the hopper is emptied |
//! | `cover-open` | the cover opens: motion and printing answer `ERR COVER OPEN`, `Rse;o` reads 0 V |
//! | `jam` | the next card movement jams: a move answers `OK` but the card never arrives; a print, eject or reject answers `ERR CARD JAM`; `Rlr;p` reads no card |
//! | `ribbon-out` | the ribbon is finished: `ERR RIB DETECTION` on ribbon reads and printing |
//! | `ribbon-ends-after=N` | the ribbon runs out after N more panels, mid-print if so |
//! | `wrong-zone=ZONE` | the ribbon is swapped for one of region ZONE: `Rrt;zone` reads it, and the region-locked printer refuses to print with it (`ERR RIB DETECTION`) |
//! | `head-temperature` | the next print answers `ERR HEAD TEMP` (an undocumented text) |
//! | `drop` | the command is executed but its reply is never sent: TCP closes the connection, a pty and the in-memory link stay silent |

use std::fmt;
use std::str::FromStr;

/// One fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The hopper is emptied.
    FeederEmpty,
    /// The cover opens.
    CoverOpen,
    /// The next card movement jams.
    Jam,
    /// The ribbon is finished.
    RibbonOut,
    /// The ribbon runs out after this many more panels.
    RibbonEndsAfter(u32),
    /// The ribbon is swapped for one of this region (China ribbons are region-locked).
    WrongZone(String),
    /// The next print fails with a head temperature error.
    HeadTemperature,
    /// The reply to the command is lost and the link hangs up.
    Drop,
}

/// When a fault fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// As soon as it is injected.
    Now,
    /// When the `nth` (from 1) request whose step is `step` arrives, before it is executed.
    At {
        /// The step: `Sis`, `Rlr;p`, `Db;y`, `Se`.
        step: String,
        /// Which occurrence.
        nth: u32,
    },
}

/// A fault and when it fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    /// What happens.
    pub fault: Fault,
    /// When.
    pub trigger: Trigger,
}

impl Injection {
    /// A fault that fires at the `nth` request of `step`.
    pub fn at(step: &str, nth: u32, fault: Fault) -> Self {
        Self { fault, trigger: Trigger::At { step: step.to_owned(), nth } }
    }

    /// A fault that fires now.
    pub fn now(fault: Fault) -> Self {
        Self { fault, trigger: Trigger::Now }
    }
}

/// Whether a request's command (`Db;y;128`, `Rlr;p`) is the step `step` (`Db;y`, `Rlr;p`).
pub(crate) fn step_matches(command: &str, step: &str) -> bool {
    command == step || command.strip_prefix(step).is_some_and(|rest| rest.starts_with(';'))
}

/// A fault item that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fault {item:?}: {why} (syntax: FAULT[@COMMAND[#N]] with FAULT one of feeder-empty, cover-open, jam, ribbon-out, ribbon-ends-after=N, wrong-zone=ZONE, head-temperature, drop)")]
pub struct FaultParseError {
    /// The item as written.
    pub item: String,
    /// What is wrong.
    pub why: String,
}

impl FromStr for Injection {
    type Err = FaultParseError;

    fn from_str(s: &str) -> Result<Self, FaultParseError> {
        let bad = |why: &str| FaultParseError { item: s.to_owned(), why: why.to_owned() };
        let (fault, trigger) = match s.split_once('@') {
            Some((fault, at)) => {
                let (step, nth) = match at.split_once('#') {
                    Some((step, n)) => (step, n.parse().map_err(|_| bad("#N must be a number from 1"))?),
                    None => (at, 1),
                };
                if step.is_empty() || nth == 0 {
                    return Err(bad("@COMMAND needs a command and #N starts at 1"));
                }
                (fault, Trigger::At { step: step.to_owned(), nth })
            }
            None => (s, Trigger::Now),
        };
        let fault = match fault {
            "feeder-empty" => Fault::FeederEmpty,
            "cover-open" => Fault::CoverOpen,
            "jam" => Fault::Jam,
            "ribbon-out" => Fault::RibbonOut,
            "head-temperature" => Fault::HeadTemperature,
            "drop" => Fault::Drop,
            other => match (other.strip_prefix("ribbon-ends-after="), other.strip_prefix("wrong-zone=")) {
                (Some(n), _) => Fault::RibbonEndsAfter(n.parse().map_err(|_| bad("N must be a number"))?),
                (_, Some("")) => return Err(bad("wrong-zone= needs the ribbon's region")),
                (_, Some(zone)) => Fault::WrongZone(zone.to_owned()),
                (None, None) => return Err(bad("unknown fault")),
            },
        };
        Ok(Self { fault, trigger })
    }
}

impl fmt::Display for Injection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.fault {
            Fault::FeederEmpty => f.write_str("feeder-empty")?,
            Fault::CoverOpen => f.write_str("cover-open")?,
            Fault::Jam => f.write_str("jam")?,
            Fault::RibbonOut => f.write_str("ribbon-out")?,
            Fault::RibbonEndsAfter(n) => write!(f, "ribbon-ends-after={n}")?,
            Fault::WrongZone(zone) => write!(f, "wrong-zone={zone}")?,
            Fault::HeadTemperature => f.write_str("head-temperature")?,
            Fault::Drop => f.write_str("drop")?,
        }
        match &self.trigger {
            Trigger::Now => Ok(()),
            Trigger::At { step, nth } => write!(f, "@{step}#{nth}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        assert_eq!("jam@Sis".parse(), Ok(Injection::at("Sis", 1, Fault::Jam)));
        assert_eq!("drop@Se#2".parse(), Ok(Injection::at("Se", 2, Fault::Drop)));
        assert_eq!("ribbon-ends-after=3".parse(), Ok(Injection::now(Fault::RibbonEndsAfter(3))));
        assert_eq!("wrong-zone=33@Sis".parse(), Ok(Injection::at("Sis", 1, Fault::WrongZone("33".into()))));
        assert!("wrong-zone=".parse::<Injection>().is_err());
        for s in
            ["cover-open", "feeder-empty@Rse;f#1", "head-temperature@Se#1", "ribbon-out", "wrong-zone=33"]
        {
            assert_eq!(
                s.parse::<Injection>().expect("ok").to_string().trim_end_matches("#1"),
                s.trim_end_matches("#1")
            );
        }
        assert_eq!("smoke".parse::<Injection>().expect_err("an error").why, "unknown fault");
        assert!("jam@Sis#0".parse::<Injection>().is_err());
        assert!("jam@".parse::<Injection>().is_err());
    }

    #[test]
    fn steps_match_by_prefix_before_a_semicolon() {
        assert!(step_matches("Db;y;128", "Db;y"));
        assert!(step_matches("Rlr;p", "Rlr;p"));
        assert!(!step_matches("Rlr;p", "Rlr;c"));
        assert!(!step_matches("Sis", "Si"));
        assert!(step_matches("Si", "Si"));
    }
}
