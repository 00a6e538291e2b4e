//! The EMV terminal flow (PSE/PPSE, SELECT, GPO, READ RECORD, GET DATA, GENERATE AC) against
//! a card whose answers are the fuzzer's: it ends with a reading or a typed error, sends
//! only well-formed APDUs, and a reading's cryptogram check fails cleanly.
//!
//! The check is `fuzz_checks::emv_terminal::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/emv_terminal/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::emv_terminal::check(data));
