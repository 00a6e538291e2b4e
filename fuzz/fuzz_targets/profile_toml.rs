//! The TOML profiles a station reads from its profile folder, where a new card OS, reader or
//! printer is supported by dropping in a file: card OS profiles (`firmware_profile::Profile::
//! from_toml_str`), reader profiles (`devices::ReaderProfile::parse`, `readers/`) and printer
//! profiles (`devices::PrinterProfile::parse`, `printers/`). The first byte picks the kind.
//!
//! The check is `fuzz_checks::profile_toml::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/profile_toml/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::profile_toml::check(data));
