//! The station's configuration file (`station.toml`) as `station serve --config` reads it:
//! `station::config::StationConfig::load`, the `[counter]` section by the station and the
//! rest by the daemon (`daemon::config::Config::from_table`). The input is written to a
//! scratch file and loaded from there (the loader reads a path; relative paths in it are the
//! file's directory's).
//!
//! The check is `fuzz_checks::station_toml::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/station_toml/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::station_toml::check(data));
