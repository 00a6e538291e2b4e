//! Transport errors: what went wrong between the host and the card, and what to do about it.

/// An error below the APDU layer: the reader, the stack or the card link failed.
///
/// Each message says what happened and what the operator can do. None carries APDU data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The PC/SC service (pcscd) is not running or went away.
    #[error("the smart-card service is not available ({0}); start pcscd, the station reconnects by itself")]
    ServiceUnavailable(String),
    /// The named reader is not (or no longer) attached.
    #[error("reader {0:?} is not available: plug it in or choose another reader")]
    ReaderUnavailable(String),
    /// No card is in the reader.
    #[error("no card in reader {0:?}: insert the card")]
    NoCard(String),
    /// The card was removed while in use; what was being done did not complete.
    #[error(
        "the card was removed during the operation: put it back; the unfinished step is not counted as done"
    )]
    CardRemoved,
    /// The card was reset by someone else; its security state is lost.
    #[error("the card was reset (by another application, or its link broke mid-command): repeat the step from its start")]
    CardReset,
    /// The card does not answer in a way the reader understands.
    #[error("the card does not respond: check it is inserted the right way round, or try another card")]
    Unresponsive,
    /// The answer had fewer than the two status bytes every answer must end with.
    #[error("the card answered {0} byte(s), fewer than the 2 status bytes: the link to the card broke")]
    ShortResponse(usize),
    /// The card or reader did not answer in time.
    #[error("the card did not answer within {0} ms")]
    Timeout(u64),
    /// The reader is held by another application.
    #[error("reader {0:?} is in use by another application: close it and retry")]
    Busy(String),
    /// Anything else the stack reported, with its text.
    #[error("card reader error: {0}")]
    Other(String),
}

impl TransportError {
    /// True when the card link itself is gone (removed, reset, short answer, dead service):
    /// the transaction cannot go on and nothing in flight may be counted as done.
    pub fn is_link_lost(&self) -> bool {
        matches!(
            self,
            TransportError::ServiceUnavailable(_)
                | TransportError::ReaderUnavailable(_)
                | TransportError::NoCard(_)
                | TransportError::CardRemoved
                | TransportError::CardReset
                | TransportError::ShortResponse(_)
                | TransportError::Timeout(_)
        )
    }
}
