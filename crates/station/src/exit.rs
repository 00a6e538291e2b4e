//! `station`'s exit codes: one table for every subcommand, so a script or a monitoring check
//! can tell the cases apart.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success; for `station doctor`, the counter can issue |
//! | 1 | failure: the command ran and failed, and said why on stderr (a card not issued, a batch with a card not made, `reconcile` finding a difference, no station to talk to, ...) |
//! | 2 | usage: the command line is wrong (clap's own code for a bad option or value) |
//! | 3 | `station doctor`: the counter can issue, but warnings need attention |
//! | 4 | `station doctor`: the counter cannot issue until the problems it names are fixed |
//!
//! 1 and 2 mean what they mean for most tools (and clap itself exits 2 on a usage error), so
//! the doctor's verdicts start at 3, in order of gravity. A code is never reused with another
//! meaning. The doctor's codes are [`doctor::Verdict::exit_code`]'s; a test holds the two
//! tables together.

/// Success.
pub const SUCCESS: u8 = 0;
/// The command ran and failed; the error is on stderr.
pub const FAILURE: u8 = 1;
/// The command line is wrong: clap's code for usage errors.
pub const USAGE: u8 = 2;
/// `station doctor`: the counter can issue, with warnings.
pub const DOCTOR_WARNINGS: u8 = 3;
/// `station doctor`: the counter cannot issue.
pub const DOCTOR_CANNOT_ISSUE: u8 = 4;

/// The table for `station --help` and the manual page.
pub const HELP: &str = "\
Exit status:
  0  success (station doctor: the counter can issue)
  1  failure: the command ran and failed; the error is on stderr
  2  usage: the command line is wrong
  3  station doctor: the counter can issue, with warnings
  4  station doctor: the counter cannot issue";

#[cfg(test)]
mod tests {
    use super::*;
    use doctor::Verdict;

    #[test]
    fn the_codes_are_distinct_and_the_doctor_uses_them() {
        let codes = [SUCCESS, FAILURE, USAGE, DOCTOR_WARNINGS, DOCTOR_CANNOT_ISSUE];
        for (i, a) in codes.iter().enumerate() {
            assert!(codes[i + 1..].iter().all(|b| a != b), "{codes:?}");
        }
        assert_eq!(Verdict::CanIssue.exit_code(), SUCCESS);
        assert_eq!(Verdict::CanIssueWithWarnings.exit_code(), DOCTOR_WARNINGS);
        assert_eq!(Verdict::CannotIssue.exit_code(), DOCTOR_CANNOT_ISSUE);
    }

    #[test]
    fn usage_is_clap_s_code() {
        let e = clap::Error::new(clap::error::ErrorKind::UnknownArgument);
        assert_eq!(e.exit_code(), i32::from(USAGE));
        // --help and --version are not errors.
        assert_eq!(clap::Error::new(clap::error::ErrorKind::DisplayVersion).exit_code(), 0);
    }

    #[test]
    fn the_help_text_lists_every_code() {
        for code in [SUCCESS, FAILURE, USAGE, DOCTOR_WARNINGS, DOCTOR_CANNOT_ISSUE] {
            assert!(HELP.contains(&format!("\n  {code}  ")), "{code}: {HELP}");
        }
    }
}
