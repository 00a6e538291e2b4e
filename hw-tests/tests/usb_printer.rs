//! Read-only checks on a real card printer over USB bulk endpoints, named by
//! `STATION_HW_PRINTER` (a `usb:VID:PID[:SERIAL]` selector, see `lsusb`):
//!
//! ```sh
//! STATION_HW_PRINTER=usb:0f49:1234 cargo nextest run -P hardware --test usb_printer
//! ```
//!
//! Without it the test fails with this message, as every test here does (the default profile
//! excludes the package). No card is fed: identification, the class requests and sensors only.

use printer::transport::UsbTransport;
use printer::{EvolisPrinter, Printer, Selector};

fn printer_under_test() -> (u16, u16, Option<String>) {
    let text = std::env::var("STATION_HW_PRINTER").unwrap_or_default();
    match text.parse::<Selector>() {
        Ok(Selector::Usb { vid, pid, serial }) => (vid, pid, serial),
        _ => panic!(
            "set STATION_HW_PRINTER to the printer's usb:VID:PID[:SERIAL] (see `lsusb`) and run \
             `cargo nextest run -P hardware --test usb_printer` (got {text:?})"
        ),
    }
}

#[test]
fn a_usb_printer_answers_the_class_requests_and_the_evolis_protocol() {
    let (vid, pid, serial) = printer_under_test();
    let mut usb = UsbTransport::open(vid, pid, serial.as_deref()).unwrap_or_else(|e| panic!("{e}"));
    let id = usb.device_id().unwrap_or_else(|e| panic!("GET_DEVICE_ID: {e}"));
    println!("device ID: {:?}", id.fields);
    assert!(id.manufacturer().is_some() && id.model().is_some(), "MFG and MDL missing: {:?}", id.fields);
    let port = usb.port_status().unwrap_or_else(|e| panic!("GET_PORT_STATUS: {e}"));
    println!("port status: {port:?}");

    let mut printer = EvolisPrinter::new(usb);
    let identity = printer.identify().unwrap_or_else(|e| panic!("identify: {e}"));
    println!("{identity:?}");
    assert!(!identity.model.is_empty() && !identity.serial.is_empty());
    let status = printer.status().unwrap_or_else(|e| panic!("status: {e}"));
    println!("{status:?}");
}
