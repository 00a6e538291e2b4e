//! The public read sequence (SELECT, READ RECORD of EF05 and EF06) against a card whose ATR
//! and answers are the fuzzer's: it ends with the card's data or an `SsseError`, sends only
//! well-formed APDUs, and what it returns came from the card.
//!
//! The check is `fuzz_checks::ssse_read_card::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/ssse_read_card/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::ssse_read_card::check(data));
