//! The station's reading of the provincial service's answers (`provincial::client::
//! read_answer`, the status and body of every call the client makes) for each answer type
//! the client expects. The first byte picks the call, the second the status; the rest is the
//! body, decoded as the client decodes it (UTF-8, lossily).
//!
//! The check is `fuzz_checks::provincial_answers::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/provincial_answers/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::provincial_answers::check(data));
