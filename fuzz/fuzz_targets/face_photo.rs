//! A photo file (JPEG or PNG, up to the station's 2 MiB) on the card face as the issuance job
//! prints it: `card_face::Renderer` of the shipped 3rd-generation template with the photo as
//! its encoded bytes (`Photo::Encoded`, what `station::faces` passes), the other values fixed.
//!
//! The check is `fuzz_checks::face_photo::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/face_photo/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::face_photo::check(data));
