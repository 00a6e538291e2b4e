//! The outreach kit's visit list (`station kit checkout LIST`, read by `station::visits::read`
//! before anybody is claimed): a JSON array of applicants, or of people with a pre-made card.
//! The photos it names are served from memory and recorded.
//!
//! The check is `fuzz_checks::kit_visits::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/kit_visits/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::kit_visits::check(data));
