//! The provincial service's request bodies (`provincial::server`: every `POST /v1/...` takes
//! an `archive` request type through axum's `Json` extractor), then the checks the service
//! makes of a request before its store acts. The first byte picks the route.
//!
//! The check is `fuzz_checks::provincial_requests::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/provincial_requests/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::provincial_requests::check(data));
