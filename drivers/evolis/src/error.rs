//! Errors of the protocol layer. Each keeps the step (the command mnemonic, with its selector
//! parameter when one mnemonic serves several reads, e.g. `Rlr;p`) and the reply text, so the
//! journal and the operator see which command failed and what the printer said.

use crate::fault::{classify_error_text, FaultKind};

/// A reply that did not give what the command needed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The printer answered `ERR ...` (e.g. `ERR RIB DETECTION`).
    #[error("{step}: printer error {text:?}")]
    Printer {
        /// The command that failed.
        step: &'static str,
        /// The whole trimmed reply, `ERR` included.
        text: String,
    },
    /// The printer answered `ERROR CDE`: it does not know the command (wrong model or firmware,
    /// or a bug on our side).
    #[error("{step}: printer does not know the command (ERROR CDE)")]
    UnknownCommand {
        /// The command that was refused.
        step: &'static str,
    },
    /// The reply is neither an error nor in the format the command expects.
    #[error("{step}: unexpected reply {reply:?}")]
    Unexpected {
        /// The command whose reply this is.
        step: &'static str,
        /// The trimmed reply, non-ASCII bytes replaced.
        reply: String,
    },
}

impl ProtocolError {
    /// The command the error belongs to.
    pub fn step(&self) -> &'static str {
        match self {
            Self::Printer { step, .. } | Self::UnknownCommand { step } | Self::Unexpected { step, .. } => {
                step
            }
        }
    }

    /// What the station should do about it.
    ///
    /// Only the public error texts are mapped (see [`classify_error_text`]); any other `ERR`
    /// text, `ERROR CDE` and an unparseable reply give [`FaultKind::Stop`]: guessing at an
    /// undocumented state could leave a card somewhere unknown, so a person looks, with the
    /// text kept in the error.
    pub fn fault_kind(&self) -> FaultKind {
        match self {
            Self::Printer { text, .. } => classify_error_text(text),
            Self::UnknownCommand { .. } | Self::Unexpected { .. } => FaultKind::Stop,
        }
    }

    pub(crate) fn unexpected(step: &'static str, reply: &str) -> Self {
        Self::Unexpected { step, reply: reply.to_owned() }
    }
}
