//! Tests against real readers and cards, run only when asked for:
//!
//! ```sh
//! STATION_HW_READERS="ACS ACR1281 1S Dual Reader ICC 0" cargo nextest run -P hardware
//! ```
//!
//! The default nextest profile excludes this package; without `STATION_HW_READERS` every test
//! here fails with a message saying how to run it, so a hardware run never passes silently
//! with no device. The tests only read: SELECT, GET CHALLENGE, READ RECORD of EF05.
#![forbid(unsafe_code)]

/// The reader names given in `STATION_HW_READERS` (comma-separated).
pub fn readers_under_test() -> Vec<String> {
    let list = std::env::var("STATION_HW_READERS").unwrap_or_default();
    let names: Vec<String> =
        list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    assert!(
        !names.is_empty(),
        "set STATION_HW_READERS to the reader names to test (see `station card list`) and run \
         `cargo nextest run -P hardware`"
    );
    names
}
