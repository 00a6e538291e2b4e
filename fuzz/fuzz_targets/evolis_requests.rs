//! Requests on the printer's side (the simulator's parser): whatever arrives, every call
//! consumes bytes or waits for more, and a parsed request encodes to bytes that parse back
//! to the same request.
//!
//! The check is `fuzz_checks::evolis_requests::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/evolis_requests/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::evolis_requests::check(data));
