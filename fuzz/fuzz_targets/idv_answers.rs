//! The station's reading of the identity verification service's answers (`idv::read_verdict`,
//! the status and body `HttpVerifier` gets), then the station's policy on that answer
//! (`verify_with_retry`, one attempt). The first byte picks the status; the rest is the body,
//! decoded as the client decodes it (UTF-8, lossily).
//!
//! The check is `fuzz_checks::idv_answers::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/idv_answers/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::idv_answers::check(data));
