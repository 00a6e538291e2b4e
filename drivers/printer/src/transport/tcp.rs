//! Network printers: a plain TCP stream (Evolis network models listen on a raw port).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::{at_least_1ms, Framing, PrinterTransport, TransportError, DEFAULT_IDLE_GAP};
use crate::selector::Selector;

/// How long a connect may take before the next address is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A TCP link to `host:port`, with Nagle off (requests are small and answered one by one).
#[derive(Debug)]
pub struct TcpTransport {
    host: String,
    port: u16,
    stream: Option<TcpStream>,
    framing: Framing,
}

impl TcpTransport {
    /// Connects to `host:port`, trying each address the name resolves to.
    pub fn connect(host: &str, port: u16) -> Result<Self, TransportError> {
        let mut transport =
            Self { host: host.to_owned(), port, stream: None, framing: Framing::new(DEFAULT_IDLE_GAP) };
        transport.reconnect()?;
        Ok(transport)
    }

    fn stream(&mut self) -> Result<&mut TcpStream, TransportError> {
        let target = self.describe();
        self.stream.as_mut().ok_or(TransportError::Closed { target })
    }
}

impl PrinterTransport for TcpTransport {
    fn describe(&self) -> String {
        Selector::Tcp { host: self.host.clone(), port: self.port }.to_string()
    }

    fn write_request(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), TransportError> {
        let target = self.describe();
        let stream = self.stream()?;
        let io = |source| TransportError::Io { op: "write", target: target.clone(), source };
        stream.set_write_timeout(Some(at_least_1ms(timeout))).map_err(io)?;
        stream.write_all(bytes).map_err(io)
    }

    fn read_reply(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        let target = self.describe();
        let mut framing = std::mem::replace(&mut self.framing, Framing::new(DEFAULT_IDLE_GAP));
        let result = match self.stream() {
            Ok(stream) => framing.read_reply(&target, timeout, |buf, wait| {
                stream.set_read_timeout(Some(at_least_1ms(wait)))?;
                stream.read(buf)
            }),
            Err(e) => Err(e),
        };
        self.framing = framing;
        result
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        if let Some(old) = self.stream.take() {
            let _ = old.shutdown(std::net::Shutdown::Both);
        }
        self.framing.clear();
        let target = self.describe();
        let open = |source| TransportError::Open { target: target.clone(), source };
        let addrs = (self.host.as_str(), self.port).to_socket_addrs().map_err(open)?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name resolved to no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                Ok(stream) => {
                    stream.set_nodelay(true).map_err(open)?;
                    self.stream = Some(stream);
                    return Ok(());
                }
                Err(e) => last = e,
            }
        }
        Err(open(last))
    }
}
