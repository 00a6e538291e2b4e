//! Where a card is: the stations inside the printer, and where the current job's card is
//! after a fault.

use std::fmt;

use evolis::CardPosition;

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

/// Where the card of the current job is after a fault (or at any time, from
/// [`crate::Printer::whereabouts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardWhereabouts {
    /// No card was fed for this job, and none is inside.
    NotFed,
    /// Inside the printer, at this station.
    At(Station),
    /// Fed, but seen at no station: stuck in the card path; a person must look.
    InPath,
    /// Ejected through the exit slot: the job is finished.
    Ejected,
    /// In the reject box.
    Rejected,
    /// The printer could not be asked: the link is down and did not come back.
    Unknown,
}

impl fmt::Display for CardWhereabouts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFed => f.write_str("not fed"),
            Self::At(station) => write!(f, "at the {station}"),
            Self::InPath => f.write_str("stuck in the card path"),
            Self::Ejected => f.write_str("ejected"),
            Self::Rejected => f.write_str("in the reject box"),
            Self::Unknown => f.write_str("unknown (printer unreachable)"),
        }
    }
}
