//! USB printer class through the kernel's `usblp` driver: the device node `/dev/usb/lpN`,
//! opened as a file. Reads wait in poll(2) so a deadline holds without a reader thread (a
//! thread stuck in read would keep the node open, and usblp allows one opener only).
//! `usb:VID:PID` selectors use the bulk endpoints instead ([`super::UsbTransport`]).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::event::{poll, PollFd, PollFlags, Timespec};

use super::{at_least_1ms, Framing, PrinterTransport, TransportError, DEFAULT_IDLE_GAP};
use crate::selector::Selector;

/// A USB printer-class device node.
#[derive(Debug)]
pub struct UsbLpTransport {
    path: PathBuf,
    file: Option<File>,
    framing: Framing,
}

impl UsbLpTransport {
    /// Opens the device node for reading and writing.
    pub fn open(path: &Path) -> Result<Self, TransportError> {
        let mut transport =
            Self { path: path.to_owned(), file: None, framing: Framing::new(DEFAULT_IDLE_GAP) };
        transport.reconnect()?;
        Ok(transport)
    }

    fn file(&mut self) -> Result<&mut File, TransportError> {
        let target = self.describe();
        self.file.as_mut().ok_or(TransportError::Closed { target })
    }
}

/// Waits up to `wait` for `file` to be readable, then reads what is there.
fn read_within(file: &mut File, buf: &mut [u8], wait: Duration) -> io::Result<usize> {
    let wait = at_least_1ms(wait);
    let timeout = Timespec { tv_sec: wait.as_secs() as _, tv_nsec: wait.subsec_nanos() as _ };
    let mut fds = [PollFd::new(&*file, PollFlags::IN)];
    let ready = poll(&mut fds, Some(&timeout)).map_err(io::Error::from)?;
    if ready == 0 {
        return Err(io::ErrorKind::TimedOut.into());
    }
    let hung_up = fds[0].revents().intersects(PollFlags::HUP | PollFlags::ERR);
    match file.read(buf)? {
        // usblp completes empty bulk-in transfers: not an end of file unless the device hung up.
        0 if !hung_up => Err(io::ErrorKind::WouldBlock.into()),
        n => Ok(n),
    }
}

impl PrinterTransport for UsbLpTransport {
    fn describe(&self) -> String {
        Selector::UsbLp { path: self.path.clone() }.to_string()
    }

    fn write_request(&mut self, bytes: &[u8], _timeout: Duration) -> Result<(), TransportError> {
        // usblp applies its own write timeout; a blocked write ends with an error from it.
        let target = self.describe();
        let file = self.file()?;
        let io = |source| TransportError::Io { op: "write", target: target.clone(), source };
        file.write_all(bytes).map_err(io)?;
        file.flush().map_err(io)
    }

    fn read_reply(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        let target = self.describe();
        let mut framing = std::mem::replace(&mut self.framing, Framing::new(DEFAULT_IDLE_GAP));
        let result = match self.file() {
            Ok(file) => framing.read_reply(&target, timeout, |buf, wait| read_within(file, buf, wait)),
            Err(e) => Err(e),
        };
        self.framing = framing;
        result
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        self.file = None;
        self.framing.clear();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|source| TransportError::Open { target: self.describe(), source })?;
        self.file = Some(file);
        Ok(())
    }
}
