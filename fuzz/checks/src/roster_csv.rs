//! A department's roster as CSV (UTF-8 or GBK, Chinese or English headers): it reads into
//! rows or fails with a `RosterError` that says what to fix; rows are numbered after the
//! header, trimmed, and every row validates to a person or to problems with a hint.

use crate::roster_case;

/// The target's check of one input.
pub fn check(data: &[u8]) {
    roster_case(data, "csv");
}
