//! An applicant file (JSON of the applicant crate, from the counter's form or a batch): what
//! parses writes and reads back the same, and validation gives a `Validated` or errors that
//! each name a field, a rule and what to do.

use applicant::{Applicant, Date};

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let Ok(a) = serde_json::from_slice::<Applicant>(data) else { return };
    let json = serde_json::to_string(&a).expect("an applicant serialises");
    let again: Applicant = serde_json::from_str(&json).expect("what was written reads back");
    assert!(again == a, "decode(encode(x)) == x");
    crate::validate(&a, Date::new(2026, 12, 4).expect("date"));
}
