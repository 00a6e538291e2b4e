//! Errors in the APDU layer's three families (transport, card status, local protocol), plus
//! what only this crate checks: the data-preparation file, the transport key, the cryptogram.
//! Each keeps the step, and the status word where the card answered.

use apdu::StatusWord;
use card_transport::TransportError;

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
    /// The link to the card failed during `step`.
    #[error("{step}: {source}")]
    Transport {
        /// What was being done.
        step: String,
        /// What the reader or stack said.
        #[source]
        source: TransportError,
    },
    /// The card refused `step`.
    #[error("{step}: card answered {sw}")]
    Status {
        /// What was being done.
        step: String,
        /// SW1 SW2.
        sw: StatusWord,
    },
    /// The card's answer to `step` is not what EMV says.
    #[error("{step}: {message}")]
    Protocol {
        /// What was being done.
        step: String,
        /// What is wrong.
        message: String,
    },
    /// The application cryptogram does not verify against the issuer key.
    #[error("application cryptogram: {0}")]
    Cryptogram(String),
}

impl Error {
    /// The status word, when the card refused a step (directly or under the secure channel).
    pub fn status_word(&self) -> Option<StatusWord> {
        match self {
            Error::Status { sw, .. } => Some(*sw),
            Error::SecureChannel(e) => e.status_word(),
            _ => None,
        }
    }

    pub(crate) fn protocol(step: &str, message: impl Into<String>) -> Error {
        Error::Protocol { step: step.to_string(), message: message.into() }
    }
}

impl From<apdu::Error> for Error {
    fn from(e: apdu::Error) -> Error {
        match e {
            apdu::Error::Transport { step, source } => Error::Transport { step, source },
            apdu::Error::Status { step, sw } => Error::Status { step, sw },
            apdu::Error::Protocol { step, message } => Error::Protocol { step, message },
            other => Error::Protocol { step: other.step().to_string(), message: other.to_string() },
        }
    }
}
