//! The one exchange loop (61xx GET RESPONSE, 6Cxx re-send, command chaining) against a card
//! whose answers are the fuzzer's: it ends, sends only well-formed APDUs the reader can
//! carry, and fails with the transport's typed errors.
//!
//! The check is `fuzz_checks::apdu_transmit::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/apdu_transmit/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::apdu_transmit::check(data));
