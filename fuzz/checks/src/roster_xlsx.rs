//! A department's roster as XLSX (a zip of XML parts, read by calamine): it reads into rows
//! or fails with a `RosterError` that says what to fix; every row validates to a person or
//! to problems with a hint.

use crate::roster_case;

/// The target's check of one input.
pub fn check(data: &[u8]) {
    roster_case(data, "xlsx");
}
