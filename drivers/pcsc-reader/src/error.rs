//! What PC/SC errors mean for the station, and the driver's own errors (selectors, rules).
//!
//! The station acts on [`TransportError`] families (service gone: wait and reconnect; reader
//! gone: ask the operator; card removed or reset: the step is not done), so every
//! `pcsc::Error` is mapped onto one of them here, in one place.

use card_transport::{ReaderInfo, TransportError};

/// An error of this driver: a transport error, or a request that cannot name a reader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The reader, the stack or the card failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The selector is not one this driver understands.
    #[error(
        "reader selector {selector:?} is not valid ({why}): use an exact reader name, \
         kind:contact, kind:contactless, kind:sam, or #N (the N-th reader, from 0)"
    )]
    BadSelector {
        /// What was asked.
        selector: String,
        /// What is wrong with it.
        why: String,
    },
    /// No attached reader matches the selector.
    #[error("no reader matches {selector:?}; attached readers: {}", describe(.available))]
    NoReader {
        /// What was asked.
        selector: String,
        /// What the stack has.
        available: Vec<ReaderInfo>,
    },
    /// A line of reader-rule configuration does not parse.
    #[error("reader rules, line {line}: {message}")]
    BadRule {
        /// 1-based line number.
        line: usize,
        /// What is wrong there.
        message: String,
    },
}

/// `"A" (contact, card), "B" (sam)` or `none`.
pub(crate) fn describe(readers: &[ReaderInfo]) -> String {
    if readers.is_empty() {
        return "none".into();
    }
    readers
        .iter()
        .map(|r| format!("{:?} ({}{})", r.name, r.kind, if r.card_present { ", card" } else { "" }))
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<Error> for TransportError {
    /// Through the `ReaderManager` trait a selector that names no reader is an unavailable
    /// reader; the text still says what was asked and what exists.
    fn from(e: Error) -> TransportError {
        match e {
            Error::Transport(t) => t,
            Error::NoReader { selector, available } => {
                let names = available.iter().map(|r| format!("{} [{}]", r.name, r.kind)).collect::<Vec<_>>();
                let names = if names.is_empty() { "none".to_string() } else { names.join(", ") };
                TransportError::ReaderUnavailable(format!("{selector} (attached: {names})"))
            }
            other => TransportError::Other(other.to_string()),
        }
    }
}

/// The PC/SC code and name, for messages and logs (`SCARD_E_NO_SERVICE`-style names are
/// what people search for; pcsc's Display text is the human part).
pub(crate) fn describe_pcsc(err: pcsc::Error) -> String {
    format!("{err} ({err:?}, 0x{:08X})", err as u32)
}

/// True when the link to pcscd itself is gone: the `Context` (and every card handle made
/// from it) is useless and must be established again.
///
/// `InvalidHandle` belongs here: after pcscd restarts, the client library still holds the old
/// context and card handles, and the new daemon knows none of them.
pub(crate) fn is_service_lost(err: pcsc::Error) -> bool {
    matches!(
        err,
        pcsc::Error::NoService
            | pcsc::Error::ServiceStopped
            | pcsc::Error::CommError
            | pcsc::Error::Shutdown
            | pcsc::Error::InvalidHandle
            | pcsc::Error::UnknownResMng
    )
}

/// True when this card handle cannot be revived by `SCardReconnect` and a fresh connection
/// (maybe on a fresh context) is needed: the service went away or the reader was unplugged.
pub(crate) fn needs_fresh_connection(err: pcsc::Error) -> bool {
    is_service_lost(err)
        || matches!(
            err,
            pcsc::Error::ReaderUnavailable
                | pcsc::Error::UnknownReader
                | pcsc::Error::NoReadersAvailable
                | pcsc::Error::InternalError
        )
}

/// Maps a PC/SC error met while working with `reader` (empty when no reader is involved).
/// `elapsed_ms` goes into [`TransportError::Timeout`].
pub fn map_pcsc_error(err: pcsc::Error, reader: &str, elapsed_ms: u64) -> TransportError {
    use pcsc::Error as E;
    match err {
        E::NoService
        | E::ServiceStopped
        | E::CommError
        | E::Shutdown
        | E::UnknownResMng
        | E::InvalidHandle => TransportError::ServiceUnavailable(describe_pcsc(err)),
        E::UnknownReader | E::ReaderUnavailable | E::ReaderUnsupported | E::NoReadersAvailable => {
            TransportError::ReaderUnavailable(reader.to_string())
        }
        E::NoSmartcard => TransportError::NoCard(reader.to_string()),
        E::RemovedCard => TransportError::CardRemoved,
        E::ResetCard => TransportError::CardReset,
        E::UnresponsiveCard
        | E::UnpoweredCard
        | E::UnsupportedCard
        | E::CardUnsupported
        | E::InvalidAtr
        | E::ProtoMismatch
        | E::UnknownCard => TransportError::Unresponsive,
        E::Timeout | E::WaitedTooLong => TransportError::Timeout(elapsed_ms),
        E::SharingViolation => TransportError::Busy(reader.to_string()),
        other => TransportError::Other(describe_pcsc(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use card_transport::ReaderKind;
    use pcsc::Error as E;

    #[test]
    fn pcsc_errors_map_to_the_families_the_station_acts_on() {
        let r = "Virtual PCD 00 00";
        for e in [E::NoService, E::ServiceStopped, E::CommError, E::InvalidHandle, E::Shutdown] {
            assert!(matches!(map_pcsc_error(e, r, 0), TransportError::ServiceUnavailable(_)), "{e:?}");
            assert!(is_service_lost(e), "{e:?}");
        }
        for e in [E::UnknownReader, E::ReaderUnavailable, E::NoReadersAvailable] {
            assert_eq!(map_pcsc_error(e, r, 0), TransportError::ReaderUnavailable(r.into()), "{e:?}");
            assert!(needs_fresh_connection(e), "{e:?}");
        }
        assert_eq!(map_pcsc_error(E::NoSmartcard, r, 0), TransportError::NoCard(r.into()));
        assert_eq!(map_pcsc_error(E::RemovedCard, r, 0), TransportError::CardRemoved);
        assert_eq!(map_pcsc_error(E::ResetCard, r, 0), TransportError::CardReset);
        assert_eq!(map_pcsc_error(E::UnresponsiveCard, r, 0), TransportError::Unresponsive);
        assert_eq!(map_pcsc_error(E::Timeout, r, 1500), TransportError::Timeout(1500));
        assert_eq!(map_pcsc_error(E::SharingViolation, r, 0), TransportError::Busy(r.into()));
        let other = map_pcsc_error(E::InvalidParameter, r, 0);
        assert!(
            matches!(&other, TransportError::Other(s) if s.contains("InvalidParameter") && s.contains("0x80100004")),
            "{other:?}"
        );
        // A removed or reset card is not a lost service: the handle reconnects.
        assert!(!needs_fresh_connection(E::ResetCard));
        assert!(!needs_fresh_connection(E::RemovedCard));
        // Every service/handle loss is a lost link for the layers above.
        assert!(map_pcsc_error(E::ServiceStopped, r, 0).is_link_lost());
        assert!(map_pcsc_error(E::ReaderUnavailable, r, 0).is_link_lost());
    }

    #[test]
    fn no_reader_error_names_the_request_and_the_readers() {
        let available = vec![
            ReaderInfo { name: "Virtual PCD 00 00".into(), kind: ReaderKind::Contact, card_present: true },
            ReaderInfo { name: "Virtual PCD 00 01".into(), kind: ReaderKind::Sam, card_present: false },
        ];
        let e = Error::NoReader { selector: "kind:contactless".into(), available };
        let s = e.to_string();
        assert_eq!(
            s,
            "no reader matches \"kind:contactless\"; attached readers: \"Virtual PCD 00 00\" (contact, card), \"Virtual PCD 00 01\" (sam)"
        );
        let t: TransportError = e.into();
        assert_eq!(
            t,
            TransportError::ReaderUnavailable(
                "kind:contactless (attached: Virtual PCD 00 00 [contact], Virtual PCD 00 01 [sam])".into()
            )
        );
        let none = Error::NoReader { selector: "#0".into(), available: Vec::new() };
        assert!(none.to_string().ends_with("attached readers: none"));
    }
}
