//! GlobalPlatform answers on the host side: the INITIALIZE UPDATE answer of each scheme the
//! profiles use re-encodes byte for byte; a handshake fed a card's answer fails with a typed
//! error and never builds EXTERNAL AUTHENTICATE for a cryptogram that does not verify.
//!
//! The check is `fuzz_checks::gp_init_update::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/gp_init_update/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::gp_init_update::check(data));
