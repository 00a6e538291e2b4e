//! An applicant file (JSON of the applicant crate, from the counter's form or a batch): what
//! parses writes and reads back the same, and validation gives a `Validated` or errors that
//! each name a field, a rule and what to do.
//!
//! The check is `fuzz_checks::applicant_json::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/applicant_json/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::applicant_json::check(data));
