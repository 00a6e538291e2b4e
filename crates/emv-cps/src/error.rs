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

    /// The link was lost (a reset, the card gone) at the personalisation's first command, the
    /// ISD's SELECT: nothing on the card changed, so the whole personalisation may run again
    /// once the reader has the card (a card just moved into the contact station is seen by
    /// pcscd only at its next poll, which drops a connection made before it as if reset).
    pub fn lost_before_any_change(&self) -> bool {
        matches!(self, Error::Card(apdu::Error::Transport { step, source })
            if step == crate::perso::SELECT_ISD && source.is_link_lost())
    }

    pub(crate) fn protocol(step: &str, message: impl Into<String>) -> Error {
        Error::Card(apdu::Error::protocol(step, message))
    }
}

#[cfg(test)]
mod tests {
    use card_transport::TransportError;

    use super::*;

    #[test]
    fn only_a_link_lost_at_the_first_select_lets_the_personalisation_run_again() {
        let at = |step: &str, source: TransportError| Error::Card(apdu::Error::transport(step, source));
        assert!(at(crate::perso::SELECT_ISD, TransportError::CardReset).lost_before_any_change());
        assert!(at(crate::perso::SELECT_ISD, TransportError::CardRemoved).lost_before_any_change());
        assert!(
            !at("STORE DATA DGI 0101", TransportError::CardReset).lost_before_any_change(),
            "after a write"
        );
        let refused =
            Error::Card(apdu::Error::status(crate::perso::SELECT_ISD, apdu::StatusWord::FileNotFound));
        assert!(!refused.lost_before_any_change(), "the card answered");
    }
}
