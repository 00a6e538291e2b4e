//! Tests against real readers, PSAMs, printers and cameras, run only when asked for.
//!
//! - The rig suite ([`suite`]): the same end-to-end checks as the simulator tests (the doctor's
//!   checks, a card fed to the contact station, ATR, SELECT and GET CHALLENGE, SSSE
//!   personalisation with the PSAM and read-back, eject), on the devices an explicit rig file
//!   names ([`rig`]). Without a rig nothing touches a device. One step at a time; a JSON report
//!   records per step the APDUs (redacted), status words, timings and the quirks seen:
//!
//!   ```sh
//!   cargo run -p hw-tests --bin hw-rig -- --rig counter-3.toml
//!   STATION_RIG=counter-3.toml cargo nextest run -P hardware --test rig_suite
//!   ```
//!
//!   CI runs the same suite on the simulated counter through a rig file naming the simulated
//!   devices (`crates/station/tests/doctor.rs`).
//! - Read-only reader checks (`tests/real_readers.rs`, `STATION_HW_READERS`) and a USB printer's
//!   class requests (`tests/usb_printer.rs`, `STATION_HW_PRINTER`).
//!
//! The default nextest profile excludes this package; without its variable every test here
//! fails with a message saying how to run it, so a hardware run never passes silently with no
//! device.
#![forbid(unsafe_code)]

pub mod rig;
pub mod suite;

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
