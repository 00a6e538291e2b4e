//! A department's roster as XLSX (a zip of XML parts, read by calamine): it reads into rows
//! or fails with a `RosterError` that says what to fix; every row validates to a person or
//! to problems with a hint.
//!
//! The check is `fuzz_checks::roster_xlsx::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/roster_xlsx/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::roster_xlsx::check(data));
