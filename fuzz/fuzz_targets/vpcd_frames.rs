//! vpcd messages on the simulator's side (length-prefixed controls and APDUs, cut anywhere by
//! TCP) into a simulated card of each profile: every whole message is handled once, every
//! APDU gets an answer with a status word, the ATR parses, and frames carry their length.
//!
//! The check is `fuzz_checks::vpcd_frames::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/vpcd_frames/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::vpcd_frames::check(data));
