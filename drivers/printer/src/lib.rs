//! Card printers for the station: the [`Printer`] trait, the Evolis driver
//! [`EvolisPrinter`], and the byte transports it runs on (serial, USB printer class, TCP).
//!
//! - [`Selector`] names a printer: `serial:/dev/ttyUSB0@115200`, `tcp:10.0.0.5:9100`,
//!   `lp:/dev/usb/lp0`, `usb:F00A:0001[:SERIAL]` (grammar in [`selector`]);
//!   [`transport::open`] opens it.
//! - [`usb_class`]: the USB printer class as pure functions (interface choice, IEEE 1284
//!   device ID, port status) for [`transport::UsbTransport`].
//! - [`PrinterTransport`] is the byte link (one request out, one framed reply back, with a
//!   deadline, and reconnect); the simulator provides an in-memory one.
//! - [`PrinterError`] keeps the step, the cause with the printer's text, and where the card
//!   is ([`CardWhereabouts`]); [`PrinterError::kind`] maps it onto [`FaultKind`] (retry, ask
//!   the operator to refill / close the cover / clear a jam, reject the card, stop).
//!
//! Rendering the card face is not done here: a [`PrintJob`] carries the face's panels as
//! planes of ink densities ([`Plane`]), in no printer's format; the Evolis driver packs them
//! into `Db` downloads ([`evolis_downloads`]) as it prints.
#![forbid(unsafe_code)]

mod error;
mod evolis_printer;
mod job;
mod printer;
pub mod selector;
pub mod transport;
pub mod usb_class;
mod whereabouts;

pub use error::{Cause, PrinterError};
pub use evolis::FaultKind;
pub use evolis_printer::{evolis_downloads, EvolisPrinter};
pub use job::{JobError, Panel, Plane, PrintJob, FACE_HEIGHT, FACE_WIDTH};
pub use printer::{Counters, Identity, Printer, RibbonInfo, Status, Timeouts};
pub use selector::{Selector, SelectorError};
pub use transport::{PrinterTransport, TransportError};
pub use whereabouts::{CardWhereabouts, Station};

/// Opens the printer a selector names with the Evolis driver and the given timeouts.
pub fn open_evolis(
    selector: &Selector,
    timeouts: Timeouts,
) -> Result<EvolisPrinter<Box<dyn PrinterTransport>>, TransportError> {
    Ok(EvolisPrinter::new(transport::open(selector)?).with_timeouts(timeouts))
}
