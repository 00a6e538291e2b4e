//! Errors of the host role: the APDU layer's own ([`apdu::Error`]: transport, card status,
//! local protocol), wrapped as they are, plus what only a secure channel can go wrong on:
//! keys, cryptograms, MACs. Each keeps the step, and the status word where the card answered.

use crate::{Kcv, KeyUsage};
use apdu::StatusWord;

/// Why a secure channel could not be opened or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The link failed, the card refused a step, or its answer does not have the expected
    /// form (step and SW1SW2 kept).
    #[error(transparent)]
    Card(#[from] apdu::Error),
    /// A key of the set is not the one expected: found before anything was sent.
    #[error(
        "key check value of the {usage} key is {actual}, expected {expected}: wrong key set; nothing was \
         sent to the card"
    )]
    KeyCheck {
        /// Which key.
        usage: KeyUsage,
        /// The value the profile or key record gives.
        expected: Kcv,
        /// The value of the key the provider holds.
        actual: Kcv,
    },
    /// The card cryptogram in the INITIALIZE UPDATE answer does not verify.
    #[error(
        "card cryptogram: does not verify (wrong keys or key version for this card, or a forged answer); \
         EXTERNAL AUTHENTICATE was not sent, so the card counted no failed try"
    )]
    CardCryptogram,
    /// A MAC did not verify: the R-MAC of an answer to `step`.
    #[error("{step}: response MAC does not verify; the secure channel is closed")]
    Mac {
        /// What was being done.
        step: String,
        /// The status word that came with the bad MAC.
        sw: StatusWord,
    },
    /// A key of the wrong cipher or length, or a key provider that could not do the work.
    #[error("key: {0}")]
    Key(String),
    /// The session failed earlier (bad MAC, refused command) and cannot be used any more.
    #[error("the secure channel was closed by an earlier failure: open a new one")]
    Closed,
    /// A scheme, option or security level this crate (or the scheme) does not support.
    #[error("not supported: {0}")]
    Unsupported(String),
}

impl Error {
    /// The status word, when the card answered the failing step.
    pub fn status_word(&self) -> Option<StatusWord> {
        match self {
            Error::Card(e) => e.status_word(),
            Error::Mac { sw, .. } => Some(*sw),
            _ => None,
        }
    }

    /// The step that failed, when one is known.
    pub fn step(&self) -> Option<&str> {
        match self {
            Error::Card(e) => Some(e.step()),
            Error::Mac { step, .. } => Some(step),
            Error::KeyCheck { .. } => Some("key check"),
            Error::CardCryptogram => Some("card cryptogram"),
            _ => None,
        }
    }

    pub(crate) fn protocol(step: &str, message: impl Into<String>) -> Error {
        Error::Card(apdu::Error::protocol(step, message))
    }
}

/// Why the card role refuses a command: the status word to answer, and why (for the
/// simulator's log). A refusal that breaks the channel closes the [`crate::CardSession`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} ({sw})")]
pub struct CardRefusal {
    /// The status word the card answers.
    pub sw: StatusWord,
    /// What was wrong.
    pub reason: String,
}

impl CardRefusal {
    pub(crate) fn new(sw: StatusWord, reason: impl Into<String>) -> CardRefusal {
        CardRefusal { sw, reason: reason.into() }
    }

    /// The answer to send: the bare status word (GlobalPlatform protects no error answer).
    pub fn response(&self) -> apdu::Response {
        apdu::Response::status(self.sw)
    }
}
