//! An applicant file (JSON of the applicant crate, from the counter's form or a batch): what
//! parses writes and reads back the same, and validation gives a `Validated` or errors that
//! each name a field, a rule and what to do.
#![no_main]

use applicant::{Applicant, Date};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(a) = serde_json::from_slice::<Applicant>(data) else { return };
    let json = serde_json::to_string(&a).expect("an applicant serialises");
    let again: Applicant = serde_json::from_str(&json).expect("what was written reads back");
    assert!(again == a, "decode(encode(x)) == x");
    station_fuzz::validate(&a, Date::new(2026, 12, 4).expect("date"));
});
