//! Byte links to a printer. A transport writes one request and reads one framed reply within a
//! deadline; it knows nothing of commands, so the driver above it is the same over serial,
//! USB printer class, TCP and the simulator's in-memory duplex.

mod serial;
mod tcp;
mod usb;
mod usblp;

use std::io;
use std::time::{Duration, Instant};

use evolis::codec::{FrameError, ReplyFramer};

pub use serial::SerialTransport;
pub use tcp::TcpTransport;
pub use usb::{not_found_message, UsbTransport, WHAT_TO_CHECK};
pub use usblp::UsbLpTransport;

use crate::selector::Selector;

/// How long a reply may pause before what came is taken as the whole reply, for printers that
/// end replies with an idle gap instead of NUL. Long enough for a loaded host not to cut a
/// reply in two; the Evolis printers and the simulator end every reply with NUL anyway.
pub const DEFAULT_IDLE_GAP: Duration = Duration::from_millis(200);

/// Why a transport failed. The link is suspect after any of these: the driver reconnects
/// before it trusts the next reply, since a late reply to an earlier request would otherwise
/// be taken for the answer to the next one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The device could not be opened or connected.
    #[error("cannot open {target}: {source}")]
    Open {
        /// The selector or address.
        target: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A USB selector named no (or more than one) attached printer.
    #[error("cannot find {0}")]
    NotFound(String),
    /// Reading or writing failed.
    #[error("{op} on {target}: {source}")]
    Io {
        /// `write` or `read`.
        op: &'static str,
        /// The link.
        target: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The other end closed the link (TCP FIN, device gone).
    #[error("{target}: the printer closed the link")]
    Closed {
        /// The link.
        target: String,
    },
    /// No whole reply within the deadline.
    #[error("{target}: no reply within {waited:?}")]
    Timeout {
        /// The link.
        target: String,
        /// How long was waited.
        waited: Duration,
    },
    /// The reply could not be framed (too long without NUL).
    #[error("{target}: {source}")]
    Frame {
        /// The link.
        target: String,
        /// Why.
        #[source]
        source: FrameError,
    },
}

/// A link to one printer: one request out, one reply back.
///
/// Contract: [`PrinterTransport::write_request`] writes all of one request (a bitmap download
/// is a single request of half a megabyte); [`PrinterTransport::read_reply`] returns one reply
/// with CR/LF/NUL trimmed, or [`TransportError::Timeout`] when none came in time; after any
/// error the caller calls [`PrinterTransport::reconnect`] before the next request, which also
/// drops whatever was buffered.
pub trait PrinterTransport: Send {
    /// What the link is, for errors and logs (the canonical selector).
    fn describe(&self) -> String;

    /// Writes one whole request, within `timeout`.
    fn write_request(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), TransportError>;

    /// Reads one reply, waiting at most `timeout` for it.
    fn read_reply(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError>;

    /// Closes and reopens the link, dropping buffered bytes.
    fn reconnect(&mut self) -> Result<(), TransportError>;
}

impl<T: PrinterTransport + ?Sized> PrinterTransport for Box<T> {
    fn describe(&self) -> String {
        (**self).describe()
    }

    fn write_request(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), TransportError> {
        (**self).write_request(bytes, timeout)
    }

    fn read_reply(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        (**self).read_reply(timeout)
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        (**self).reconnect()
    }
}

/// Opens the transport a selector names; `usb:VID:PID[:SERIAL]` is looked up among the
/// attached USB devices and driven over its bulk endpoints.
pub fn open(selector: &Selector) -> Result<Box<dyn PrinterTransport>, TransportError> {
    Ok(match selector {
        Selector::Serial { path, baud } => Box::new(SerialTransport::open(path, *baud)?),
        Selector::Tcp { host, port } => Box::new(TcpTransport::connect(host, *port)?),
        Selector::UsbLp { path } => Box::new(UsbLpTransport::open(path)?),
        Selector::Usb { vid, pid, serial } => Box::new(UsbTransport::open(*vid, *pid, serial.as_deref())?),
    })
}

/// The reply framing every byte-stream transport shares: a buffer and the protocol's
/// [`ReplyFramer`], fed by a `read` closure that waits at most the given time for some bytes
/// and returns 0 when the link is closed.
#[derive(Debug)]
pub(crate) struct Framing {
    buf: Vec<u8>,
    framer: ReplyFramer,
    idle_gap: Duration,
}

impl Framing {
    pub(crate) fn new(idle_gap: Duration) -> Self {
        Self { buf: Vec::new(), framer: ReplyFramer::new(), idle_gap }
    }

    pub(crate) fn clear(&mut self) {
        self.buf.clear();
    }

    pub(crate) fn read_reply(
        &mut self,
        target: &str,
        timeout: Duration,
        mut read: impl FnMut(&mut [u8], Duration) -> io::Result<usize>,
    ) -> Result<Vec<u8>, TransportError> {
        let start = Instant::now();
        let deadline = start + timeout;
        let mut chunk = [0u8; 4096];
        loop {
            match self.framer.decode(&mut self.buf) {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => {}
                Err(source) => return Err(TransportError::Frame { target: target.to_owned(), source }),
            }
            let pending = self.buf.iter().any(|b| !matches!(b, b'\r' | b'\n' | 0 | b' '));
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                if let Some(reply) = pending.then(|| self.framer.decode_idle(&mut self.buf)).flatten() {
                    return Ok(reply);
                }
                return Err(TransportError::Timeout { target: target.to_owned(), waited: start.elapsed() });
            }
            let wait = if pending { remaining.min(self.idle_gap) } else { remaining };
            match read(&mut chunk, wait) {
                Ok(0) => return Err(TransportError::Closed { target: target.to_owned() }),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {
                    if pending {
                        if let Some(reply) = self.framer.decode_idle(&mut self.buf) {
                            return Ok(reply);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(TransportError::Io { op: "read", target: target.to_owned(), source })
                }
            }
        }
    }
}

/// A wait no shorter than a millisecond: a zero timeout means "block for ever" to
/// `set_read_timeout` and friends.
pub(crate) fn at_least_1ms(d: Duration) -> Duration {
    d.max(Duration::from_millis(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A read closure replaying scripted chunks; `None` is a timeout of the asked wait.
    fn script(chunks: Vec<Option<&'static [u8]>>) -> impl FnMut(&mut [u8], Duration) -> io::Result<usize> {
        let mut chunks: VecDeque<_> = chunks.into();
        move |buf, _wait| match chunks.pop_front() {
            Some(Some(bytes)) => {
                buf[..bytes.len()].copy_from_slice(bytes);
                Ok(bytes.len())
            }
            Some(None) => Err(io::ErrorKind::TimedOut.into()),
            None => Ok(0),
        }
    }

    #[test]
    fn replies_across_chunks_and_in_one_chunk() {
        let mut f = Framing::new(DEFAULT_IDLE_GAP);
        let t = Duration::from_secs(1);
        let r = f.read_reply("x", t, script(vec![Some(b"SMART "), Some(b"CARD\0OK\0")])).expect("ok");
        assert_eq!(r, b"SMART CARD");
        // The second reply is already buffered and needs no read.
        assert_eq!(f.read_reply("x", t, script(vec![])).expect("ok"), b"OK");
    }

    #[test]
    fn idle_gap_ends_a_reply_without_nul() {
        let mut f = Framing::new(Duration::from_millis(1));
        let r = f.read_reply("x", Duration::from_secs(1), script(vec![Some(b"4,95 Volts\r\n"), None]));
        assert_eq!(r.expect("ok"), b"4,95 Volts");
    }

    #[test]
    fn closed_and_timeout() {
        let mut f = Framing::new(DEFAULT_IDLE_GAP);
        let err = f.read_reply("tcp:h:1", Duration::from_secs(1), script(vec![])).expect_err("an error");
        assert!(matches!(err, TransportError::Closed { .. }), "{err}");
        assert_eq!(err.to_string(), "tcp:h:1: the printer closed the link");
        let err = f.read_reply("x", Duration::ZERO, script(vec![])).expect_err("an error");
        assert!(matches!(err, TransportError::Timeout { .. }), "{err}");
    }
}
