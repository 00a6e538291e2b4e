//! Errors of the APDU layer ([`apdu::Error`]: transport, card status, local protocol) and of
//! the secure channel, wrapped as they are, plus what only this crate checks: the
//! data-preparation file, the transport key, the cryptogram. Each keeps the step, and the
//! status word where the card answered.

use apdu::StatusWord;

/// Why a personalisation or a terminal flow stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The data-preparation file (or a test card description) is not usable.
    #[error("data-preparation file: {0}")]
    Dp(String),
    /// The transport key given is not the one the file was prepared under: found before any
    /// APDU was sent.
    #[error(
        "transport key check value is {actual}, the data-preparation file says {expected}: nothing was sent"
    )]
    TransportKey {
        /// KCV in the file.
        expected: String,
        /// KCV of the key given.
        actual: String,
    },
    /// Opening or using the secure channel failed (key check values, card cryptogram, MAC).
    #[error(transparent)]
    SecureChannel(#[from] secure_channel::Error),
    /// The link failed, the card refused a step, or its answer is not what EMV says (step
    /// and SW1SW2 kept).
    #[error(transparent)]
    Card(#[from] apdu::Error),
    /// The application cryptogram does not verify against the issuer key.
    #[error("application cryptogram: {0}")]
    Cryptogram(String),
}

impl Error {
    /// The status word, when the card refused a step (directly or under the secure channel).
    pub fn status_word(&self) -> Option<StatusWord> {
        match self {
            Error::Card(e) => e.status_word(),
            Error::SecureChannel(e) => e.status_word(),
            _ => None,
        }
    }

    pub(crate) fn protocol(step: &str, message: impl Into<String>) -> Error {
        Error::Card(apdu::Error::protocol(step, message))
    }
}
