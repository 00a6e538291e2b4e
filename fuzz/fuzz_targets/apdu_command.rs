//! Command APDUs as the simulator receives them, and ATRs as a reader reports them.
//! A command that parses encodes back to the same bytes in the same case (short or
//! extended); an ATR that parses keeps its bytes and its fields stay inside them.
//!
//! The check is `fuzz_checks::apdu_command::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/apdu_command/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::apdu_command::check(data));
