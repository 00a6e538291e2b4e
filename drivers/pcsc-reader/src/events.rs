//! Reader events: what the waits of [`crate::PcscManager`] report.

/// Something that happened to a reader or the card in it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReaderEvent {
    /// A card is in the reader and answered to reset.
    CardInserted {
        /// The reader.
        reader: String,
        /// The card's answer to reset.
        atr: Vec<u8>,
    },
    /// The reader is empty (the card was taken out, maybe put back in between).
    CardRemoved {
        /// The reader.
        reader: String,
    },
    /// A reader was plugged in.
    ReaderAdded {
        /// Its name.
        reader: String,
    },
    /// A reader was unplugged (or its driver stopped).
    ReaderRemoved {
        /// Its name.
        reader: String,
    },
    /// Nothing happened before the timeout.
    Timeout,
    /// [`crate::Canceller::cancel`] ended the wait.
    Cancelled,
}
