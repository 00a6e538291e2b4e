//! Printer replies on the host side: the framer splits a byte stream into trimmed replies,
//! and every command's decoder gives its typed value or a `ProtocolError` naming its step;
//! `ERR ...` is always an error, and the fault kind of any error is defined.
//!
//! The check is `fuzz_checks::evolis_replies::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/evolis_replies/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::evolis_replies::check(data));
