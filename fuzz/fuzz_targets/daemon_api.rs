//! The daemon's API request bodies (`POST /api/session`, `POST /api/jobs`) as its `Json`
//! extractors read them, and the applicant inside a job request as the worker turns it into
//! an `Applicant` and validates it: a typed error or a value, and a refused applicant names
//! each field with a hint.
//!
//! The check is `fuzz_checks::daemon_api::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/daemon_api/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::daemon_api::check(data));
