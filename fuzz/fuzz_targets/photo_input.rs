//! A photo file (JPEG or PNG, up to the station's 2 MiB) through the photo crate as the
//! station uses it: judged as a finished file (`PhotoProcessor::check`: format, size, density,
//! bytes, face, framing, light, background), and decoded as a frame
//! (`source::decode_frame`) made into a card photo (`process`: detect, crop, check, encode).
//!
//! The check is `fuzz_checks::photo_input::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/photo_input/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::photo_input::check(data));
