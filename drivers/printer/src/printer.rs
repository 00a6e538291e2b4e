//! The printer trait the station sees, and the values it passes. A second vendor's driver
//! (Magicard, Matica) implements the same trait and maps its faults onto the same
//! [`crate::PrinterError`].

use std::fmt;
use std::time::Duration;

use evolis::{CardPosition, DownloadBitmap, PanelSet, SensorState};

use crate::error::{CardWhereabouts, PrinterError};

/// A station inside the printer where a card can be parked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Station {
    /// Under the print head.
    Print,
    /// In the contact chip reader.
    Contact,
    /// At the contactless antenna.
    Contactless,
}

impl Station {
    /// The `Rlr;p` reading of a card at this station.
    pub fn position(self) -> CardPosition {
        match self {
            Self::Print => CardPosition::PrintPosition,
            Self::Contact => CardPosition::ContactStation,
            Self::Contactless => CardPosition::ContactlessStation,
        }
    }

    /// The station of an `Rlr;p` reading, `None` when no card is inside.
    pub fn from_position(position: CardPosition) -> Option<Self> {
        match position {
            CardPosition::None => None,
            CardPosition::PrintPosition => Some(Self::Print),
            CardPosition::ContactStation => Some(Self::Contact),
            CardPosition::ContactlessStation => Some(Self::Contactless),
        }
    }
}

impl fmt::Display for Station {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Print => "print position",
            Self::Contact => "contact station",
            Self::Contactless => "contactless station",
        })
    }
}

/// Why a print job cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// No panel at all.
    #[error("a print job needs at least one panel")]
    Empty,
    /// The same panel twice.
    #[error("panel {0} given twice")]
    Duplicate(char),
}

/// One face, already rendered and packed (the card-face crate does that): the panels in the
/// order they are printed, e.g. Y, M, C at 128 levels, K and the overlay O at 2 levels. The
/// overlay is the printer's laminate: its mask leaves the chip uncovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintJob {
    panels: Vec<DownloadBitmap>,
    set: PanelSet,
}

impl PrintJob {
    /// A front face from its packed panels; the ribbon panel selection (`Pr`) follows their
    /// order.
    pub fn new(panels: Vec<DownloadBitmap>) -> Result<Self, JobError> {
        let mut letters = String::new();
        for panel in &panels {
            let letter = panel.panel().letter();
            if letters.contains(letter) {
                return Err(JobError::Duplicate(letter));
            }
            letters.push(letter);
        }
        let set = PanelSet::parse(&letters).ok_or(JobError::Empty)?;
        Ok(Self { panels, set })
    }

    /// The panels in print order.
    pub fn panels(&self) -> &[DownloadBitmap] {
        &self.panels
    }

    /// The ribbon panels selected, as `Pr` sends them.
    pub fn panel_set(&self) -> &PanelSet {
        &self.set
    }

    /// Bytes of panel data (what a card costs on the link, roughly).
    pub fn data_len(&self) -> usize {
        self.panels.iter().map(|p| p.data().len()).sum()
    }
}

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
            poll: Duration::from_millis(200),
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
