//! EF05 / EF06 records as read from a card: decoded fields that can be written again give
//! the same records back (decode(encode(x)) == x), errors name the field, and the holder's
//! `Debug` never shows a whole ID number.
//!
//! The check is `fuzz_checks::ssse_records::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/ssse_records/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::ssse_records::check(data));
