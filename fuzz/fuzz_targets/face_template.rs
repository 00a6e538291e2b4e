//! A card-face template (`firmware-profiles/faces/*.toml`, a file a province may drop in) as
//! `card_face::Template::parse` reads it, then a face rendered with it (the test applicant's
//! values, a photo, the shipped font).
//!
//! The check is `fuzz_checks::face_template::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/face_template/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::face_template::check(data));
