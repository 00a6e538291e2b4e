//! What can go wrong with the SSSE application, each with the step and what to do.

use crate::keys::KeyError;

/// A field that cannot be encoded or a record that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field (`issuer.card_number`, `EF06 SSN`).
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> FieldError {
        FieldError { field, message: message.into() }
    }
}

/// Why personalising or reading the SSSE application failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SsseError {
    /// The firmware profile does not describe an SSSE this code can personalise.
    #[error("firmware profile {profile}: {message}")]
    Profile {
        /// Profile id.
        profile: String,
        /// What is missing.
        message: String,
    },
    /// The data do not fit the record table (nothing was sent to the card).
    #[error("applicant data: {0}; correct the data and start again (the card is untouched)")]
    Data(#[from] FieldError),
    /// A record does not fit the card's file.
    #[error(
        "{file} record {tag:02X} is {len} bytes, the card's records hold {max}: use a profile for this card"
    )]
    Layout {
        /// EF05 or EF06.
        file: &'static str,
        /// Record tag.
        tag: u8,
        /// Its length.
        len: usize,
        /// The file's longest record.
        max: usize,
    },
    /// The card refused a step or the link failed (step and SW1SW2 kept).
    #[error(transparent)]
    Card(#[from] apdu::Error),
    /// No cryptogram for EXTERNAL AUTHENTICATE.
    #[error("{step}: {source}")]
    Key {
        /// The step.
        step: String,
        /// Why.
        #[source]
        source: KeyError,
    },
    /// The ATR does not give the diversification factor.
    #[error("card ATR: {0}; this card cannot be diversified by its ATR: check the reader and the card type")]
    Atr(String),
    /// What the card holds is not what was written: the card must not be issued.
    #[error("read-back of {file} record {tag:02X} differs from what was written: reject the card")]
    Mismatch {
        /// EF05 or EF06.
        file: &'static str,
        /// Record tag.
        tag: u8,
    },
    /// The card answered a record that cannot be decoded.
    #[error("card data: {0}")]
    Record(FieldError),
}

impl SsseError {
    /// The status word, when the card refused a step.
    pub fn status_word(&self) -> Option<apdu::StatusWord> {
        match self {
            SsseError::Card(e) => e.status_word(),
            SsseError::Key { source: KeyError::Psam(e), .. } => e.status_word(),
            _ => None,
        }
    }

    /// The step that failed, when a card or the PSAM was involved.
    pub fn step(&self) -> Option<&str> {
        match self {
            SsseError::Card(e) => Some(e.step()),
            SsseError::Key { source: KeyError::Psam(e), .. } => Some(e.step()),
            SsseError::Key { step, .. } => Some(step),
            _ => None,
        }
    }
}
