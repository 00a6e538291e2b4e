//! The card-transport traits: where a PC/SC reader and the card simulator meet.
//!
//! Protocol crates (APDU, social-security application, EMV CPS) only ever see
//! [`CardTransaction`]; drivers and simulators implement it. Nothing here opens a device.
//!
//! - [`ReaderManager`] lists readers and connects to the card in one (a factory).
//! - [`Card`] is a long-lived connection to one card: its ATR, its reader, and a way to start
//!   an exclusive [`CardTransaction`].
//! - [`CardTransaction`] moves raw APDU bytes. It reports `was_reset()` so the protocol layer
//!   re-selects, and [`Capabilities`] so it chooses extended length or command chaining.
#![forbid(unsafe_code)]

mod error;
mod metered;
mod redact;
pub mod transcript;

pub use error::TransportError;
pub use metered::{LinkCount, Metered};
pub use redact::{redact_command, redact_response, Redacted};

/// What a reader slot is for. Decided from the reader name by rules a station can configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReaderKind {
    /// An ISO 7816-3 contact slot (the applicant's card, inserted).
    Contact,
    /// An ISO 14443 contactless antenna (the applicant's card, on the field).
    Contactless,
    /// A SAM slot (the PSAM that secures writes to the social-security application).
    Sam,
    /// No rule matched: the operator has to say what it is.
    Unknown,
}

impl ReaderKind {
    /// Short lower-case name, as used in configuration files and `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            ReaderKind::Contact => "contact",
            ReaderKind::Contactless => "contactless",
            ReaderKind::Sam => "sam",
            ReaderKind::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ReaderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reader as the reader manager sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    /// The name the stack reports, e.g. `Virtual PCD 00 00`.
    pub name: String,
    /// What the slot is for.
    pub kind: ReaderKind,
    /// Whether a card is present right now.
    pub card_present: bool,
}

/// What a reader and card can carry in one APDU. The protocol layer reads this to choose
/// between an extended-length APDU and command chaining, and never sends more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Extended-length APDUs (Lc up to 65 535, Le up to 65 536) pass end to end.
    pub extended_length: bool,
    /// Most command data bytes in one APDU.
    pub max_command_data: usize,
    /// Most response data bytes in one APDU.
    pub max_response_data: usize,
}

impl Capabilities {
    /// Short APDUs only: 255 bytes of command data, 256 of response data.
    pub const SHORT: Capabilities =
        Capabilities { extended_length: false, max_command_data: 255, max_response_data: 256 };
    /// Extended-length APDUs both ways.
    pub const EXTENDED: Capabilities =
        Capabilities { extended_length: true, max_command_data: 65_535, max_response_data: 65_536 };

    /// The capabilities both sides support (a reader quirk clamps what the card offers).
    pub fn clamp(self, other: Capabilities) -> Capabilities {
        Capabilities {
            extended_length: self.extended_length && other.extended_length,
            max_command_data: self.max_command_data.min(other.max_command_data),
            max_response_data: self.max_response_data.min(other.max_response_data),
        }
    }
}

/// How the card is left when a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Leave the card powered and its state (selected files, authentication) as it is.
    Leave,
    /// Warm reset: the card forgets its security state.
    Reset,
    /// Power the card down.
    Unpower,
}

/// An exclusive session with one card: nobody else's APDUs come in between.
///
/// Contract: `transmit` sends exactly one APDU as given and returns the card's whole answer,
/// data followed by SW1 SW2. An answer shorter than two bytes is never returned as `Ok`; it
/// is a [`TransportError::ShortResponse`]. No GET RESPONSE or re-send happens here: that is
/// the APDU layer's job, in one place.
pub trait CardTransaction {
    /// Sends one raw command APDU; returns the raw answer (data || SW1 SW2).
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError>;

    /// True when the card was reset (by another application, a glitch or a reconnect) since
    /// this connection last selected anything: the protocol layer must select again.
    fn was_reset(&self) -> bool;

    /// What this reader and card can carry in one APDU.
    fn capabilities(&self) -> Capabilities;
}

/// A long-lived connection to the card in one reader.
pub trait Card {
    /// The reader this card sits in.
    fn reader(&self) -> &ReaderInfo;

    /// The card's answer to reset, as the stack reported it.
    fn atr(&self) -> &[u8];

    /// Starts an exclusive transaction. Dropping the transaction ends it and leaves the card
    /// as it is.
    fn transaction(&mut self) -> Result<Box<dyn CardTransaction + '_>, TransportError>;

    /// Ends the connection and leaves the card as `disposition` says.
    fn disconnect(self: Box<Self>, disposition: Disposition) -> Result<(), TransportError>;
}

/// The reader factory: lists readers and connects to the card in one of them.
pub trait ReaderManager {
    /// Every reader the stack knows, with its kind and whether a card is in it.
    fn list_readers(&mut self) -> Result<Vec<ReaderInfo>, TransportError>;

    /// Connects to the card in the named reader.
    fn connect(&mut self, reader: &str) -> Result<Box<dyn Card>, TransportError>;

    /// Waits until a card answers in the named reader, for at most `timeout`; its ATR. A card
    /// already there answers at once. A printer moves the card to its contact station and the
    /// stack sees it a moment later, so the counter waits here before it connects.
    ///
    /// No card in time is [`TransportError::NoCard`]; a card that does not answer to reset is
    /// [`TransportError::Unresponsive`]; a reader that went away is
    /// [`TransportError::ReaderUnavailable`].
    ///
    /// With `after` (a [`ReaderManager::card_events`] count noted before the printer moved the
    /// card away, or fed the next one), only a card that arrived since counts: a stack that
    /// polls its readers still shows the card before for a moment.
    fn wait_for_atr(
        &mut self,
        reader: &str,
        after: Option<u64>,
        timeout: std::time::Duration,
    ) -> Result<Vec<u8>, TransportError>;

    /// The reader's card events so far (each insertion and each removal counts one), noted
    /// before a card is moved so that its arrival can be waited for.
    fn card_events(&mut self, reader: &str) -> Result<u64, TransportError>;
}
