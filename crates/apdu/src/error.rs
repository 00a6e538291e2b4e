//! The three families of APDU-layer errors: transport, card status, local protocol. Each
//! keeps the step that failed so the operator and the journal know where.

use crate::StatusWord;
use card_transport::TransportError;

/// An APDU exchange that did not give what the step needed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The link to the card failed during `step`.
    #[error("{step}: {source}")]
    Transport {
        /// What was being done.
        step: String,
        /// What the reader or stack said.
        #[source]
        source: TransportError,
    },
    /// The card refused `step` with a status word.
    #[error("{step}: card answered {sw}")]
    Status {
        /// What was being done.
        step: String,
        /// SW1 SW2 as the card gave it.
        sw: StatusWord,
    },
    /// The card's answer to `step` broke the protocol (wrong length, bad TLV, loop).
    #[error("{step}: {message}")]
    Protocol {
        /// What was being done.
        step: String,
        /// What is wrong with the answer.
        message: String,
    },
}

impl Error {
    /// The link to the card failed during `step`.
    pub fn transport(step: impl Into<String>, source: TransportError) -> Error {
        Error::Transport { step: step.into(), source }
    }

    /// The card refused `step` with `sw`.
    pub fn status(step: impl Into<String>, sw: StatusWord) -> Error {
        Error::Status { step: step.into(), sw }
    }

    /// The card's answer to `step` broke the protocol.
    pub fn protocol(step: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Protocol { step: step.into(), message: message.into() }
    }

    /// The status word, when the card refused the step.
    pub fn status_word(&self) -> Option<StatusWord> {
        match self {
            Error::Status { sw, .. } => Some(*sw),
            _ => None,
        }
    }

    /// The step that failed.
    pub fn step(&self) -> &str {
        match self {
            Error::Transport { step, .. } | Error::Status { step, .. } | Error::Protocol { step, .. } => step,
        }
    }
}
