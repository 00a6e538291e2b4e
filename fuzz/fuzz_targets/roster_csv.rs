//! A department's roster as CSV (UTF-8 or GBK, Chinese or English headers): it reads into
//! rows or fails with a `RosterError` that says what to fix; rows are numbered after the
//! header, trimmed, and every row validates to a person or to problems with a hint.
//!
//! The check is `fuzz_checks::roster_csv::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/roster_csv/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::roster_csv::check(data));
