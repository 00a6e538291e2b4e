//! The in-memory duplex: a [`printer::PrinterTransport`] wired straight to a [`SimPrinter`],
//! for unit tests and benchmarks that need no pty or socket. A dropped link reads as closed,
//! as over TCP, until [`printer::PrinterTransport::reconnect`].

use std::collections::VecDeque;
use std::time::Duration;

use evolis::codec::ReplyFramer;
use printer::{PrinterTransport, TransportError};

use crate::sim::{Action, Session, SimPrinter};

/// An in-memory link to a simulated printer.
#[derive(Debug)]
pub struct MemoryTransport {
    sim: SimPrinter,
    session: Session,
    replies: VecDeque<(Vec<u8>, Duration)>,
    hung_up: bool,
    bytes_sent: u64,
    requests_sent: u64,
}

impl MemoryTransport {
    /// A link to `sim`.
    pub fn new(sim: SimPrinter) -> Self {
        Self {
            sim,
            session: Session::default(),
            replies: VecDeque::new(),
            hung_up: false,
            bytes_sent: 0,
            requests_sent: 0,
        }
    }

    /// Bytes written by the host so far.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent
    }

    /// Requests written by the host so far.
    pub fn requests_sent(&self) -> u64 {
        self.requests_sent
    }
}

const TARGET: &str = "memory";

impl PrinterTransport for MemoryTransport {
    fn describe(&self) -> String {
        TARGET.to_owned()
    }

    fn write_request(&mut self, bytes: &[u8], _timeout: Duration) -> Result<(), TransportError> {
        if self.hung_up {
            return Err(TransportError::Closed { target: TARGET.into() });
        }
        self.bytes_sent += bytes.len() as u64;
        self.requests_sent += 1;
        for action in self.session.on_bytes(&self.sim, bytes) {
            match action {
                Action::Reply { bytes, delay } => self.replies.push_back((bytes, delay)),
                Action::HangUp => self.hung_up = true,
            }
        }
        Ok(())
    }

    fn read_reply(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        let Some((bytes, delay)) = self.replies.pop_front() else {
            if self.hung_up {
                return Err(TransportError::Closed { target: TARGET.into() });
            }
            return Err(TransportError::Timeout { target: TARGET.into(), waited: Duration::ZERO });
        };
        if delay > timeout {
            std::thread::sleep(timeout);
            return Err(TransportError::Timeout { target: TARGET.into(), waited: timeout });
        }
        std::thread::sleep(delay);
        let mut buf = bytes;
        match ReplyFramer::new().decode(&mut buf) {
            Ok(Some(reply)) => Ok(reply),
            _ => Err(TransportError::Timeout { target: TARGET.into(), waited: delay }),
        }
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        self.session.reset();
        self.replies.clear();
        self.hung_up = false;
        Ok(())
    }
}
