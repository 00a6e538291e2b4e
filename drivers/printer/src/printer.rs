//! The printer trait the station sees, and the values it passes. A second vendor's driver
//! (Magicard, Matica) implements the same trait and maps its faults onto the same
//! [`crate::PrinterError`].

use std::time::Duration;

use evolis::{CardPosition, SensorState};

use crate::error::PrinterError;
use crate::job::PrintJob;
use crate::whereabouts::{CardWhereabouts, Station};

/// Who the printer is, for the start-up log and the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Model (`Rtp`).
    pub model: String,
    /// Serial number (`Rsn`).
    pub serial: String,
    /// Firmware version (`Rfv`).
    pub firmware: String,
    /// Print head (`Rkn`).
    pub head: String,
}

/// The printer's state as its public reads show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Where a card is (`Rlr;p`).
    pub card: CardPosition,
    /// Feeder loaded or empty (`Rse;f`).
    pub feeder: SensorState,
    /// Cover closed or open (`Rse;o`).
    pub cover: SensorState,
    /// A card waiting at the exit slot or not (`Rse;b`).
    pub exit_slot: SensorState,
    /// Prints left on the ribbon, `None` when the printer detects no usable ribbon.
    pub ribbon_remaining: Option<u32>,
}

/// Counters, recorded per card in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Cards printed (`Rco;p`).
    pub printed: u32,
    /// The cleaning counter (`Rco;c`).
    pub cleaning: u32,
    /// Cards since the last cleaning (`Rlr;c`).
    pub since_cleaning: u32,
}

/// The ribbon as the printer reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RibbonInfo {
    /// Prints left (`Rrt;qty`).
    pub remaining: u32,
    /// The ribbon's counter (`Rrt;count`).
    pub count: u32,
    /// The region (`Rrt;zone`).
    pub zone: String,
}

/// How long the driver waits. printer.md gives ~30 s a command and ~5 min a print sequence;
/// tests use short ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// For the reply to an ordinary command.
    pub command: Duration,
    /// For the reply to the `Se` that prints a face, and to a cleaning cycle.
    pub print: Duration,
    /// For a card to reach a station after a move (`Sis` -> `SMART CARD`, ~10 s).
    pub station: Duration,
    /// Between two `Rlr;p` / `Rse;b` polls.
    pub poll: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            command: Duration::from_secs(30),
            print: Duration::from_secs(300),
            station: Duration::from_secs(10),
            // A move takes 1-2 s; a poll of a few bytes every 50 ms notices the card within
            // 25 ms on average and keeps a 9 600 bit/s link under half busy.
            poll: Duration::from_millis(50),
        }
    }
}

/// A card printer with a chip station, as the station drives it for one card:
/// [`Printer::prepare`] -> [`Printer::load`] (move to the contact station and wait) ->
/// personalise the chip -> [`Printer::print_face`] -> [`Printer::eject`] (or
/// [`Printer::reject`] on failure) -> [`Printer::wait_taken`].
///
/// Contract: every error carries where the card is ([`PrinterError::card`]), asked from the
/// printer after the failure (reconnecting first when the link broke), so the station always
/// knows whether the card is finished, rejected or where it waits.
pub trait Printer {
    /// Model, serial, firmware and head.
    fn identify(&mut self) -> Result<Identity, PrinterError>;

    /// Card position, sensors and ribbon.
    fn status(&mut self) -> Result<Status, PrinterError>;

    /// Starts a job: host error mode, feed from the hopper, keep the card after printing; then
    /// checks feeder, cover, ribbon (and zone), that no card is inside and that the exit slot
    /// is clear.
    fn prepare(&mut self) -> Result<(), PrinterError>;

    /// Sends the card (feeding one if none is inside) to `station`; returns when the printer
    /// accepted the move, not when the card arrived (see [`Printer::wait_at`]).
    fn move_to(&mut self, station: Station) -> Result<(), PrinterError>;

    /// Polls the card position until the card is at `station`, at most `timeout`.
    fn wait_at(&mut self, station: Station, timeout: Duration) -> Result<(), PrinterError>;

    /// [`Printer::move_to`] then [`Printer::wait_at`] with the configured station timeout.
    fn load(&mut self, station: Station) -> Result<(), PrinterError>;

    /// Prints one face (panels, overlay included); the card stays at the print position.
    fn print_face(&mut self, job: &PrintJob) -> Result<(), PrinterError>;

    /// Ejects the card through the exit slot.
    fn eject(&mut self) -> Result<(), PrinterError>;

    /// Sends the card into the reject box.
    fn reject(&mut self) -> Result<(), PrinterError>;

    /// Waits until the card at the exit slot has been taken, at most `timeout`.
    fn wait_taken(&mut self, timeout: Duration) -> Result<(), PrinterError>;

    /// Runs a cleaning cycle (the operator has inserted the cleaning card).
    fn clean(&mut self) -> Result<(), PrinterError>;

    /// The counters.
    fn counters(&mut self) -> Result<Counters, PrinterError>;

    /// The ribbon.
    fn ribbon(&mut self) -> Result<RibbonInfo, PrinterError>;

    /// Where the current job's card is now.
    fn whereabouts(&mut self) -> CardWhereabouts;
}
