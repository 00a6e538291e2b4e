//! The links the simulator serves: a pty pair (the simulator owns the master, the driver opens
//! the slave path as a serial port) and TCP on loopback, each on its own thread.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serialport::{SerialPort, TTYPort};
use tracing::{debug, info, warn};

use crate::sim::{Action, Session, SimPrinter};

/// How often a serving thread looks at the stop flag.
const TICK: Duration = Duration::from_millis(50);
/// How long one reply may take to write.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Creates a pty pair and serves the master; returns the slave's path and the thread.
pub(crate) fn spawn_pty(sim: SimPrinter, stop: Arc<AtomicBool>) -> io::Result<(PathBuf, JoinHandle<()>)> {
    let (mut master, slave) = TTYPort::pair().map_err(io::Error::from)?;
    let path =
        slave.name().map(PathBuf::from).ok_or_else(|| io::Error::other("the pty slave has no name"))?;
    // The slave is the driver's to open; the master sees POLLHUP (and backs off) while none
    // is open.
    drop(slave);
    info!(path = %path.display(), "printer simulator on a pty");
    let thread = std::thread::Builder::new().name("printer-sim-pty".into()).spawn(move || {
        let mut session = Session::default();
        let mut buf = vec![0u8; 64 * 1024];
        while !stop.load(Ordering::Relaxed) {
            let _ = master.set_timeout(TICK);
            match master.read(&mut buf) {
                Ok(0) => std::thread::sleep(Duration::from_millis(10)),
                Ok(n) => {
                    for action in session.on_bytes(&sim, &buf[..n]) {
                        match action {
                            Action::Reply { bytes, delay } => {
                                std::thread::sleep(delay);
                                let _ = master.set_timeout(WRITE_TIMEOUT);
                                if let Err(e) = master.write_all(&bytes) {
                                    warn!(error = %e, "pty write failed");
                                }
                            }
                            // A serial line cannot hang up: the reply is lost, the driver
                            // times out and reopens the port.
                            Action::HangUp => session.reset(),
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
                Err(e) => {
                    // No slave open (EIO/EPIPE on the master): wait for the driver.
                    debug!(error = %e, "pty master idle");
                    session.reset();
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    })?;
    Ok((path, thread))
}

/// Binds `addr` and serves each connection on its own thread; returns the bound address.
pub(crate) fn spawn_tcp(
    sim: SimPrinter,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    info!(%local, "printer simulator on TCP");
    let thread = std::thread::Builder::new().name("printer-sim-tcp".into()).spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, peer)) => {
                    debug!(%peer, "connection");
                    let (sim, stop) = (sim.clone(), stop.clone());
                    let spawned = std::thread::Builder::new()
                        .name("printer-sim-conn".into())
                        .spawn(move || serve_connection(&sim, stream, &stop));
                    if let Err(e) = spawned {
                        warn!(error = %e, "cannot serve a connection");
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    std::thread::sleep(TICK);
                }
            }
        }
    })?;
    Ok((local, thread))
}

fn serve_connection(sim: &SimPrinter, mut stream: TcpStream, stop: &AtomicBool) {
    let setup = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(TICK)))
        .and_then(|()| stream.set_write_timeout(Some(WRITE_TIMEOUT)))
        .and_then(|()| stream.set_nodelay(true));
    if let Err(e) = setup {
        warn!(error = %e, "cannot set up a connection");
        return;
    }
    let mut session = Session::default();
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                for action in session.on_bytes(sim, &buf[..n]) {
                    match action {
                        Action::Reply { bytes, delay } => {
                            std::thread::sleep(delay);
                            if stream.write_all(&bytes).is_err() {
                                return;
                            }
                        }
                        Action::HangUp => {
                            let _ = stream.shutdown(std::net::Shutdown::Both);
                            return;
                        }
                    }
                }
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}
