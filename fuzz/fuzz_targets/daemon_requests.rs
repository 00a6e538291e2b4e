//! Every request body and query of the daemon's HTTP API through the extractor its handler
//! uses (`daemon::api::fuzzing`: axum's `Json::from_bytes` and `Query::try_from_uri`), the
//! numeric path parameters as axum parses them, then what the handlers do with the values
//! before they act. The first byte picks the route; the rest is the body, the query string or
//! the path segment.
//!
//! The check is `fuzz_checks::daemon_requests::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/daemon_requests/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::daemon_requests::check(data));
