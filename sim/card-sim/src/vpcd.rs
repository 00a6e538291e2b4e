//! The vpcd client: the simulated card as the vsmartcard driver of pcscd sees it.
//!
//! The simulator connects to vpcd (which listens: 35963 for the user card, 35964 for the
//! PSAM). Each message is a 2-byte big-endian length and that many bytes. One byte is a
//! control: 00 power off, 01 power on, 02 reset (no reply), 04 get ATR (reply: the ATR).
//! Anything longer is an APDU, answered with data || SW1 SW2.
//!
//! Latency: TCP_NODELAY is set and TCP_QUICKACK re-armed before every read, or each APDU
//! waits ~44 ms for a delayed ACK (vpcd writes length and body separately).
//!
//! Reconnection: a refused or dropped connection (pcscd restarted) is retried every 150 ms
//! until stopped. A removed or pulled card stays away until re-inserted, and never comes
//! back within 1 s of leaving: pcscd can miss a reader that empties and fills within 400 ms.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{debug, info, trace, warn};

use crate::sim::{lock, Answer, SharedCard};
use crate::Faults;

/// Wait between connection attempts while vpcd is not there.
const RETRY: Duration = Duration::from_millis(150);
/// How often the thread looks at the stop flag and the card's presence while idle.
const POLL: Duration = Duration::from_millis(20);
/// Shortest absence before a removed card is connected again (pcsc-sim.md).
pub const MIN_ABSENCE: Duration = Duration::from_secs(1);
/// Largest vpcd message (the length field has 16 bits).
const MAX_FRAME: usize = 0xFFFF;

#[derive(Debug, Default)]
struct Flags {
    stop: AtomicBool,
    connected: AtomicBool,
}

/// A simulated card connected to vpcd on a thread of its own. Dropping it stops the thread.
#[derive(Debug)]
pub struct VpcdHandle {
    card: SharedCard,
    flags: Arc<Flags>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the vpcd client for `card` towards `addr`, with `faults` in force.
pub fn spawn(card: SharedCard, addr: SocketAddr, faults: Faults) -> std::io::Result<VpcdHandle> {
    lock(&card).set_faults(faults);
    let flags = Arc::new(Flags::default());
    let thread = std::thread::Builder::new().name(format!("vpcd {addr}")).spawn({
        let card = card.clone();
        let flags = flags.clone();
        move || client_loop(&card, addr, &flags)
    })?;
    Ok(VpcdHandle { card, flags, thread: Some(thread) })
}

impl VpcdHandle {
    /// The card, shared with any in-process transport.
    pub fn card(&self) -> &SharedCard {
        &self.card
    }

    /// Takes the card out: the connection to vpcd is dropped within a few milliseconds.
    pub fn remove(&self) {
        lock(&self.card).remove();
    }

    /// Puts the card back; it connects once it has been out for at least 1 s.
    pub fn insert(&self) {
        lock(&self.card).insert();
    }

    /// Replaces the faults (the `*-after` counts start again).
    pub fn set_faults(&self, faults: Faults) {
        lock(&self.card).set_faults(faults);
    }

    /// APDUs received so far.
    pub fn apdu_count(&self) -> u64 {
        lock(&self.card).apdu_count()
    }

    /// Whether the card is connected to vpcd right now.
    pub fn is_connected(&self) -> bool {
        self.flags.connected.load(Ordering::SeqCst)
    }

    /// Stops the client and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// Waits until the client stops (it only stops when told: this is `run`'s main loop).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                warn!("vpcd client thread panicked");
            }
        }
    }

    fn shutdown(&mut self) {
        self.flags.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                warn!("vpcd client thread panicked");
            }
        }
    }
}

impl Drop for VpcdHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Sleeps `d` in small steps; false when told to stop meanwhile.
fn pause(flags: &Flags, d: Duration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if flags.stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
    }
    !flags.stop.load(Ordering::SeqCst)
}

/// Why a connection ended.
#[derive(Debug)]
enum End {
    Stopped,
    CardGone,
    Lost(String),
}

fn client_loop(card: &SharedCard, addr: SocketAddr, flags: &Flags) {
    let mut refused_logged = false;
    while !flags.stop.load(Ordering::SeqCst) {
        let (present, removed_at) = {
            let mut c = lock(card);
            (c.is_present(), c.removed_at())
        };
        let away_too_short = removed_at.is_some_and(|t| t.elapsed() < MIN_ABSENCE);
        if !present || away_too_short {
            if !pause(flags, POLL) {
                break;
            }
            continue;
        }
        let stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(s) => s,
            Err(e) => {
                if !refused_logged {
                    info!(%addr, error = %e, "vpcd not reachable yet; retrying every 150 ms");
                    refused_logged = true;
                }
                if !pause(flags, RETRY) {
                    break;
                }
                continue;
            }
        };
        refused_logged = false;
        info!(%addr, "card connected to vpcd");
        flags.connected.store(true, Ordering::SeqCst);
        let end = serve(stream, card, flags);
        flags.connected.store(false, Ordering::SeqCst);
        match end {
            End::Stopped => break,
            End::CardGone => info!(%addr, "card left the reader"),
            End::Lost(why) => {
                info!(%addr, %why, "vpcd connection lost; reconnecting");
                // A card that was not taken out counts as not removed: pcscd restarts are
                // retried quickly.
                lock(card).power_off();
                if !pause(flags, RETRY) {
                    break;
                }
            }
        }
    }
    debug!(%addr, "vpcd client stopped");
}

fn serve(stream: TcpStream, card: &SharedCard, flags: &Flags) -> End {
    if let Err(e) = stream.set_nodelay(true).and_then(|()| stream.set_read_timeout(Some(POLL))) {
        return End::Lost(format!("socket options: {e}"));
    }
    let sock = socket2::SockRef::from(&stream);
    let mut buf: Vec<u8> = Vec::with_capacity(MAX_FRAME + 2);
    let mut chunk = vec![0u8; MAX_FRAME + 2];
    // A card taken out and put back between two looks (a printer moving it to the print head
    // and back in a few milliseconds) still left the reader: a real reader reports it, so the
    // connection ends and the card comes back after MIN_ABSENCE.
    let events = lock(card).events();
    loop {
        if flags.stop.load(Ordering::SeqCst) {
            return End::Stopped;
        }
        let gone = {
            let mut c = lock(card);
            !c.is_present() || c.events() != events
        };
        if gone {
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return End::CardGone;
        }
        // Re-armed before every read: Linux clears quick-ACK mode after it sends an ACK.
        if let Err(e) = sock.set_tcp_quickack(true) {
            trace!(error = %e, "TCP_QUICKACK not set");
        }
        match (&stream).read(&mut chunk) {
            Ok(0) => return End::Lost("vpcd closed the connection".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => return End::Lost(e.to_string()),
        }
        while let Some(msg) = take_message(&mut buf) {
            match handle(card, &msg) {
                Reply::None => {}
                Reply::Send(reply) => {
                    if let Err(e) = send(&stream, &reply) {
                        return End::Lost(e.to_string());
                    }
                }
                Reply::Gone => {
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                    return End::CardGone;
                }
            }
        }
    }
}

/// One whole message off the front of `buf` (2-byte big-endian length, then the body), or
/// `None` until all of it has arrived.
fn take_message(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let len = u16::from_be_bytes([*buf.first()?, *buf.get(1)?]) as usize;
    if buf.len() < 2 + len {
        return None;
    }
    Some(buf.drain(..2 + len).skip(2).collect())
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(2 + payload.len());
    frame.extend((payload.len() as u16).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

fn send(mut stream: &TcpStream, payload: &[u8]) -> std::io::Result<()> {
    stream.write_all(&frame(payload))
}

/// The simulator's side of the vpcd link without the socket, for cargo-fuzz (`fuzz/`).
#[doc(hidden)]
pub mod fuzzing {
    use super::{frame, handle, take_message, Reply, SharedCard};

    /// Handles every whole message in `buf` as the vpcd client does and returns the frames
    /// it would write back, and whether the card left (the link is then closed).
    pub fn feed(card: &SharedCard, buf: &mut Vec<u8>) -> (Vec<Vec<u8>>, bool) {
        let mut out = Vec::new();
        while let Some(msg) = take_message(buf) {
            match handle(card, &msg) {
                Reply::None => {}
                Reply::Send(reply) => out.push(frame(&reply)),
                Reply::Gone => return (out, true),
            }
        }
        (out, false)
    }
}

enum Reply {
    None,
    Send(Vec<u8>),
    Gone,
}

fn handle(card: &SharedCard, msg: &[u8]) -> Reply {
    match msg {
        [] => Reply::None,
        [0x00] => {
            debug!("vpcd: power off");
            lock(card).power_off();
            Reply::None
        }
        [0x01] => {
            debug!("vpcd: power on");
            lock(card).reset();
            Reply::None
        }
        [0x02] => {
            debug!("vpcd: reset");
            lock(card).reset();
            Reply::None
        }
        [0x04] => Reply::Send(lock(card).atr()),
        [other] => {
            warn!("vpcd: unknown control {other:02X} ignored");
            Reply::None
        }
        apdu => {
            let (answer, delay) = {
                let mut c = lock(card);
                (c.transmit(apdu), c.delay())
            };
            if let Some(d) = delay {
                std::thread::sleep(d);
            }
            match answer {
                Answer::Reply(mut r) => {
                    if r.len() > MAX_FRAME {
                        warn!(len = r.len(), "answer longer than a vpcd frame: sending 6700 instead");
                        r = apdu::StatusWord::WrongLength.to_bytes().to_vec();
                    }
                    Reply::Send(r)
                }
                Answer::Pulled | Answer::Absent => Reply::Gone,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The test plays vpcd: it listens, the simulator connects to it.

    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::os::tests::{h, profile};
    use crate::{CardOs, SimCard};

    fn card() -> SharedCard {
        SimCard::new(CardOs::new(profile("ssc-3g-sim.toml"))).shared()
    }

    fn listen() -> (TcpListener, SocketAddr) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.set_nonblocking(true).expect("nonblocking");
        let addr = l.local_addr().expect("addr");
        (l, addr)
    }

    fn accept(l: &TcpListener, within: Duration) -> TcpStream {
        let until = Instant::now() + within;
        loop {
            match l.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).expect("blocking");
                    s.set_read_timeout(Some(Duration::from_secs(3))).expect("timeout");
                    return s;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(e) => panic!("the simulator did not connect: {e}"),
            }
        }
    }

    fn put(s: &mut TcpStream, payload: &[u8]) {
        let mut f = (payload.len() as u16).to_be_bytes().to_vec();
        f.extend_from_slice(payload);
        s.write_all(&f).expect("write");
    }

    /// Reads one frame; `None` when the simulator closed the connection.
    fn get(s: &mut TcpStream) -> Option<Vec<u8>> {
        let mut len = [0u8; 2];
        match s.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof || e.kind() == ErrorKind::ConnectionReset => {
                return None
            }
            Err(e) => panic!("read: {e}"),
        }
        let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut body).expect("body");
        Some(body)
    }

    fn apdu(s: &mut TcpStream, hex: &str) -> Vec<u8> {
        put(s, &h(hex));
        get(s).expect("answer")
    }

    #[test]
    fn framing_controls_apdus_and_reconnection() {
        let (l, addr) = listen();
        let handle = spawn(card(), addr, Faults::default()).expect("spawn");
        let mut s = accept(&l, Duration::from_secs(2));
        put(&mut s, &[0x01]);
        put(&mut s, &[0x04]);
        assert_eq!(get(&mut s), Some(h("3B8E01807300 00C0 58 00BF7C7A48FB4966 C1")));
        assert_eq!(apdu(&mut s, "00A404000F7378312E73682EC9E7BBE1B1A3D5CF"), h("9000"));
        assert_eq!(apdu(&mut s, "00B2083400"), h("0812313130313035313934393132333130303258 9000"));
        // An extended APDU both ways: the frames are longer than one read.
        let mut write = h("00D60000 001000");
        write.extend(std::iter::repeat_n(0x5A, 4096));
        put(&mut s, &h("00A4000C023F00"));
        assert_eq!(get(&mut s), Some(h("9000")));
        assert_eq!(apdu(&mut s, "00A4020C02EF0F"), h("9000"));
        put(&mut s, &write);
        assert_eq!(get(&mut s), Some(h("9000")));
        let all = apdu(&mut s, "00B00000 000000");
        assert_eq!((all.len(), &all[4096..]), (4098, &[0x90, 0x00][..]));
        assert!(handle.is_connected());
        assert_eq!(handle.apdu_count(), 6);
        // Reset: the MF is current again.
        put(&mut s, &[0x02]);
        assert_eq!(apdu(&mut s, "00B2080400"), h("6986"));

        // vpcd goes away (pcscd restarted): the simulator comes back by itself, quickly.
        drop(s);
        let t = Instant::now();
        let mut s = accept(&l, Duration::from_secs(2));
        assert!(t.elapsed() < Duration::from_millis(900), "{:?}", t.elapsed());
        put(&mut s, &[0x04]);
        assert_eq!(get(&mut s).map(|a| a.len()), Some(18));

        // Removal drops the connection; re-insertion waits at least a second.
        let removed = Instant::now();
        handle.remove();
        assert_eq!(get(&mut s), None);
        handle.insert();
        let mut s = accept(&l, Duration::from_secs(3));
        assert!(removed.elapsed() >= MIN_ABSENCE, "{:?}", removed.elapsed());
        put(&mut s, &[0x01]);
        assert_eq!(apdu(&mut s, "00A4000C023F00"), h("9000"));

        // Taken out and put back at once (a printer's quick move to the print head and back):
        // the card still left the reader, so the connection ends and comes back a second later.
        let removed = Instant::now();
        handle.remove();
        handle.insert();
        assert_eq!(get(&mut s), None);
        let mut s = accept(&l, Duration::from_secs(3));
        assert!(removed.elapsed() >= MIN_ABSENCE, "{:?}", removed.elapsed());
        put(&mut s, &[0x01]);
        assert_eq!(apdu(&mut s, "00A4000C023F00"), h("9000"));
        handle.stop();
        assert_eq!(get(&mut s), None, "stopping closes the connection");
    }

    #[test]
    fn a_pull_closes_the_connection_without_an_answer() {
        let (l, addr) = listen();
        let handle = spawn(card(), addr, "pull-after=1".parse().expect("faults")).expect("spawn");
        let mut s = accept(&l, Duration::from_secs(2));
        put(&mut s, &[0x01]);
        assert_eq!(apdu(&mut s, "00A4020C02EF0F"), h("9000"));
        put(&mut s, &h("00D6000001AA"));
        assert_eq!(get(&mut s), None, "pulled: no answer");
        let until = Instant::now() + Duration::from_secs(1);
        while handle.is_connected() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!handle.is_connected());
        assert_eq!(handle.apdu_count(), 2);
        let binary = lock(handle.card())
            .os()
            .binary(&firmware_profile::FilePath::parse("3F00/EF0F").expect("p"))
            .map(|d| d[0]);
        assert_eq!(binary, Some(0), "the pulled APDU was not executed");
        // Stays out until inserted.
        std::thread::sleep(Duration::from_millis(1100));
        assert!(matches!(l.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock));
        handle.insert();
        let _s = accept(&l, Duration::from_secs(2));
    }

    #[test]
    fn keeps_trying_while_vpcd_is_not_there() {
        let (l, addr) = listen();
        drop(l);
        let handle = spawn(card(), addr, Faults::default()).expect("spawn");
        std::thread::sleep(Duration::from_millis(400));
        assert!(!handle.is_connected());
        let l = TcpListener::bind(addr).expect("same port again");
        l.set_nonblocking(true).expect("nonblocking");
        let mut s = accept(&l, Duration::from_secs(2));
        put(&mut s, &[0x04]);
        assert_eq!(get(&mut s).map(|a| a.len()), Some(18));
        handle.stop();
    }

    #[test]
    fn run_config_builds_a_persistent_card() {
        let dir = tempfile::tempdir().expect("tmp");
        let (l, addr) = listen();
        let config = crate::SimConfig {
            profile: crate::os::tests::profile_path("ssc-3g-sim.toml"),
            state: Some(dir.path().join("card.state.json")),
            faults: "slow=1ms".parse().expect("faults"),
            vpcd: addr,
            blank: false,
        };
        let handle = crate::start(&config).expect("start");
        let mut s = accept(&l, Duration::from_secs(2));
        assert_eq!(apdu(&mut s, "00A4020C02EF0F"), h("9000"));
        assert_eq!(apdu(&mut s, "00D6000002CAFE"), h("9000"));
        handle.stop();
        drop(s);
        // The process "restarts": a new card from the same state file.
        let card = crate::build_card(&config).expect("again");
        let mut c = lock(&card);
        assert_eq!(c.transmit(&h("00A4020C02EF0F")), crate::Answer::Reply(h("9000")));
        assert_eq!(c.transmit(&h("00B0000002")), crate::Answer::Reply(h("CAFE9000")));
    }
}
