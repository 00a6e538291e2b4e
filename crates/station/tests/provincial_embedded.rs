//! `station provincial serve --embedded DIR` as a supervisor runs it: a card committed through
//! the service survives a SIGKILL of the whole process group (service and PostgreSQL at once),
//! the next start on DIR says what it found there, and SIGTERM stops the service with its
//! PostgreSQL: no process of DIR's cluster is left.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use archive::conformance::{claim_request, commit_request, fresh_ssn};
use archive::ProvincialArchive;
use common::counter::{free_port, STATION};

/// `station provincial serve --embedded` in a process group of its own, and its stderr lines.
struct Serve {
    child: Child,
    url: String,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Serve {
    /// Starts the service on the cluster in `pg` and waits until it listens.
    fn start(pki: &Path, pg: &Path, pg_port: u16) -> Serve {
        let port = free_port();
        let mut child = Command::new(STATION)
            .args(["provincial", "serve", "--pki"])
            .arg(pki)
            .arg("--embedded")
            .arg(pg)
            .args(["--embedded-port", &pg_port.to_string(), "--listen", &format!("127.0.0.1:{port}")])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("station provincial serve");
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut serve = Serve { child, url: format!("https://127.0.0.1:{port}"), lines, seen: Vec::new() };
        serve.wait_for("provincial archive on https://");
        serve
    }

    /// Waits for a stderr line with `marker` (a minute at most, or until stderr closes).
    fn wait_for(&mut self, marker: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.seen.iter().any(|l| l.contains(marker)) {
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => self.seen.push(line),
                Err(e) => panic!("no line with {marker:?} ({e}):\n{}", self.seen.join("\n")),
            }
        }
    }

    fn client(&self, pki: &provincial::pki::PkiPaths) -> provincial::Client {
        provincial::Client::new(&self.url, &pki.ca(), &pki.station("st-1"), Duration::from_secs(10))
            .expect("client")
    }

    /// Sends `signal` to the service's whole process group and waits for the service to end.
    fn kill_group(&mut self, signal: &str) -> std::process::ExitStatus {
        let pgid = self.child.id();
        let ok = Command::new("kill").args([signal, "--", &format!("-{pgid}")]).status().expect("kill");
        assert!(ok.success(), "kill {signal} -{pgid}");
        self.wait()
    }

    /// Sends `signal` to the service alone and waits for it to end.
    fn kill(&mut self, signal: &str) -> std::process::ExitStatus {
        let ok = Command::new("kill").args([signal, &self.child.id().to_string()]).status().expect("kill");
        assert!(ok.success(), "kill {signal}");
        self.wait()
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // The rest of its stderr (the reader thread ends with it).
                self.seen.extend(self.lines.iter());
                return status;
            }
            assert!(Instant::now() < deadline, "the service did not end:\n{}", self.seen.join("\n"));
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A test that failed half-way leaves nothing running: SIGTERM (the service stops its
/// cluster), then SIGKILL of the group.
impl Drop for Serve {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
            let _ = self.child.wait();
        }
    }
}

/// The postmaster's PID in the cluster's pid file (while one runs or after it died).
fn postmaster(pg: &Path) -> u32 {
    let text = std::fs::read_to_string(pg.join("data/postmaster.pid")).expect("postmaster.pid");
    text.lines().next().and_then(|l| l.trim().parse().ok()).expect("a PID")
}

/// The processes working in the cluster's data directory (postgres and its children all do).
fn processes_of(pg: &Path) -> Vec<u32> {
    let data = std::fs::canonicalize(pg.join("data")).expect("data");
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == data))
        .collect()
}

fn running(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && !stat.contains(") Z ")
}

#[test]
fn a_card_outlives_a_sigkill_and_sigterm_stops_the_embedded_postgresql() {
    let dir = tempfile::tempdir().expect("tmp");
    // Its own directory: the cluster chowns it to `postgres`, who must reach it. On tmpfs
    // where there is one: what the kernel holds survives a SIGKILL, so the disk's fsyncs would
    // only add seconds (the durable settings are checked in provincial's tests/cluster.rs).
    let shm = Path::new("/dev/shm");
    let pg = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.expect("tmp");
    let pki = provincial::pki::generate(&dir.path().join("pki"), &["st-1"]).expect("pki");
    let pg_port = free_port();

    let mut first = Serve::start(&pki.dir, pg.path(), pg_port);
    assert!(first.seen.iter().any(|l| l.contains("durable (fsync on)")), "{:?}", first.seen);
    let client = first.client(&pki);
    let ssn = fresh_ssn();
    let claim = client.claim(&claim_request(&ssn, None)).expect("claim");
    let card = client.commit(&commit_request(claim.claim_id)).expect("commit");
    let killed = postmaster(pg.path());
    // Service and postmaster die at once, as with a supervisor's SIGKILL of the whole group.
    first.kill_group("-KILL");

    let mut second = Serve::start(&pki.dir, pg.path(), pg_port);
    assert!(
        second.seen.iter().any(|l| l.contains(&format!("(pid {killed}) ended without shutting down"))),
        "the start says what it found: {:?}",
        second.seen
    );
    let found = second.client(&pki).lookup(&ssn).expect("lookup");
    assert_eq!(found.cards, vec![card], "the committed card is there after the restart");

    let postgres = postmaster(pg.path());
    assert_ne!(postgres, killed);
    let status = second.kill("-TERM");
    assert!(status.success(), "{status}: {:?}", second.seen);
    assert!(second.seen.iter().any(|l| l.contains("embedded PostgreSQL stopped")), "{:?}", second.seen);
    assert!(!running(postgres), "the postmaster {postgres} ended with the service");
    assert!(!pg.path().join("data/postmaster.pid").exists(), "a clean shutdown removes the pid file");
    assert_eq!(processes_of(pg.path()), Vec::<u32>::new(), "nothing of the cluster runs");
}
