//! Serial ports (older Evolis models) and pty slaves (the simulator), through `serialport`.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serialport::SerialPort;

use super::{at_least_1ms, Framing, PrinterTransport, TransportError, DEFAULT_IDLE_GAP};
use crate::selector::Selector;

/// A serial link: 8N1, no flow control, raw mode (`serialport` sets it), exclusive access.
pub struct SerialTransport {
    path: PathBuf,
    baud: u32,
    port: Option<Box<dyn SerialPort>>,
    framing: Framing,
}

impl std::fmt::Debug for SerialTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialTransport").field("path", &self.path).field("baud", &self.baud).finish()
    }
}

impl SerialTransport {
    /// Opens `path` at `baud`.
    pub fn open(path: &Path, baud: u32) -> Result<Self, TransportError> {
        let mut transport =
            Self { path: path.to_owned(), baud, port: None, framing: Framing::new(DEFAULT_IDLE_GAP) };
        transport.reconnect()?;
        Ok(transport)
    }

    fn port(&mut self) -> Result<&mut Box<dyn SerialPort>, TransportError> {
        let target = self.describe();
        self.port.as_mut().ok_or(TransportError::Closed { target })
    }
}

fn io_error(e: serialport::Error) -> io::Error {
    io::Error::from(e)
}

impl PrinterTransport for SerialTransport {
    fn describe(&self) -> String {
        Selector::Serial { path: self.path.clone(), baud: self.baud }.to_string()
    }

    fn write_request(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), TransportError> {
        let target = self.describe();
        let port = self.port()?;
        let io = |source| TransportError::Io { op: "write", target: target.clone(), source };
        port.set_timeout(at_least_1ms(timeout)).map_err(|e| io(io_error(e)))?;
        port.write_all(bytes).map_err(io)?;
        port.flush().map_err(io)
    }

    fn read_reply(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        let target = self.describe();
        let mut framing = std::mem::replace(&mut self.framing, Framing::new(DEFAULT_IDLE_GAP));
        let result = match self.port() {
            Ok(port) => framing.read_reply(&target, timeout, |buf, wait| {
                port.set_timeout(at_least_1ms(wait)).map_err(io_error)?;
                port.read(buf)
            }),
            Err(e) => Err(e),
        };
        self.framing = framing;
        result
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        self.port = None;
        self.framing.clear();
        let port = serialport::new(self.path.to_string_lossy(), self.baud)
            .timeout(Duration::from_secs(1))
            .open()
            .map_err(|e| TransportError::Open { target: self.describe(), source: io_error(e) })?;
        // Whatever the printer sent before we opened belongs to no request of ours.
        let _ = port.clear(serialport::ClearBuffer::All);
        self.port = Some(port);
        Ok(())
    }
}
