//! The Evolis escape-command protocol (Primacy, Zenius, KC200, Agilia) with no I/O.
//!
//! Every wire command of `shared/docs/printer.md` is a small type implementing [`Request`]:
//! it encodes its bytes and decodes the printer's reply into a typed value, so the driver,
//! the printer simulator and the tests all share one definition of the protocol and can be
//! checked on plain byte buffers. I/O (serial, USB printer class, TCP) lives in the driver
//! that sits on top of this crate.
//!
//! - Framing: a request is `ESC` + case-sensitive mnemonic + (`;` param)* + `CR`; the bitmap
//!   download [`DownloadBitmap`] carries raw panel bytes whose length follows from its
//!   parameters. A reply is ASCII ended by NUL or an idle gap.
//! - A face's ink densities become a panel's bytes and back
//!   ([`DownloadBitmap::from_densities`], [`DownloadBitmap::densities`]): the panel's
//!   orientation ([`panel_position`]) and bit packing live here, in one place.
//! - [`codec`] holds the streaming request parser (printer side) and the reply framer (host
//!   side), in the shape of `tokio_util::codec` decoders but on a plain `Vec<u8>`.
//! - [`FaultKind`] is what the station can act on; [`ProtocolError::fault_kind`] and the
//!   sensor and position readings map onto it.
//!
//! ```
//! use evolis::{encode_to_vec, FaultKind, ReadSensor, Request, Sensor, SetHostErrorMode};
//!
//! assert_eq!(encode_to_vec(&SetHostErrorMode), b"\x1bPem;2\r");
//! let feeder = ReadSensor(Sensor::Feeder).decode(b"0,00 Volts\0")?;
//! assert_eq!(feeder.fault(), Some(FaultKind::OperatorRefill));
//! # Ok::<(), evolis::ProtocolError>(())
//! ```
#![forbid(unsafe_code)]

mod bitmap;
pub mod codec;
mod counters;
mod error;
mod fault;
mod identify;
mod position;
mod print;
mod raster;
mod recovery;
mod request;
mod ribbon;
mod sensors;
mod setup;

pub use bitmap::{BitmapError, DownloadBitmap, Levels, Panel, PANEL_DOTS_PER_LINE, PANEL_LINES};
pub use counters::{Clean, Counter, ReadCounter};
pub use error::ProtocolError;
pub use fault::{classify_error_text, FaultKind};
pub use identify::{ReadFirmware, ReadHead, ReadModel, ReadSerial};
pub use position::{CardPosition, MoveToContact, MoveToContactless, MoveToPrint, ReadCardPosition};
pub use print::{BackSide, EndSequence, FrontSide, PanelSet, SelectPanels, StartSequence};
pub use raster::{face_position, panel_position, FACE_DOTS, FACE_HEIGHT, FACE_WIDTH};
pub use recovery::{ClearError, RejectCard, Reset};
pub use request::{encode_to_vec, reply_text, Request, CR, ESC};
pub use ribbon::{ReadRibbonCount, ReadRibbonRemaining, ReadRibbonZone};
pub use sensors::{ReadSensor, Sensor, SensorReading, SensorState, Volts};
pub use setup::{FeedFromHopper, KeepCardAfterPrint, ReleaseCardAfterPrint, SetHostErrorMode, SetRejectMode};
