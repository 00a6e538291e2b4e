//! Response APDUs and status words as a card sends them: every answer of two bytes or more
//! is a response, and data || SW1 SW2 comes back byte for byte.
//!
//! The check is `fuzz_checks::apdu_response::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/apdu_response/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::apdu_response::check(data));
