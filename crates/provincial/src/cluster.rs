//! A private PostgreSQL cluster: initdb in a directory of ours, `postgres` started on a
//! loopback port with its socket in that directory, stopped by PID. What the test command,
//! the benchmarks and the embedded set-up use; never the machine's own cluster.
//!
//! Durable unless asked otherwise ([`Durability`]): only the test suites' and benchmarks'
//! throwaway clusters turn fsync off.
//!
//! The cluster lives as long as its owner: [`Cluster`] stops it on drop (fast shutdown), and
//! the postmaster is started under `setpriv --pdeathsig INT` (util-linux), so the kernel stops
//! it too when the thread that started it ends, even by a SIGKILL of the process. A start
//! stops what an earlier run left in the directory ([`LeftBehind`]).
//!
//! PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres` user of
//! the Debian package (`setpriv` execs, so the PID we hold is the postmaster's).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SETPRIV: &str = "/usr/bin/setpriv";
/// The PID of the process that started the postmaster, beside `data/` (removed at its stop).
const OWNER_FILE: &str = "owner.pid";

/// What a commit is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// PostgreSQL's own settings, given on its command line so that no edit of
    /// postgresql.conf weakens them: fsync, synchronous_commit and full_page_writes on. A
    /// commit is on disk before the client hears of it; a power cut loses none (on a disk that
    /// honours flushes). What `station provincial serve --embedded` runs, and the default.
    #[default]
    Durable,
    /// fsync, synchronous_commit and full_page_writes off (and initdb without sync): a power
    /// cut can lose commits and corrupt the cluster. For the test suites' and benchmarks'
    /// throwaway clusters only; no command of the station selects it.
    TestsOnly,
}

impl Durability {
    fn setting(self) -> &'static str {
        match self {
            Durability::Durable => "on",
            Durability::TestsOnly => "off",
        }
    }
}

/// What a start found in its directory from an earlier run, and did about it. A postmaster
/// left running is stopped, never adopted: it runs with the settings (durability, port) and
/// the parent of the run that started it, which this start cannot vouch for; a fresh one
/// costs a second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeftBehind {
    /// A postmaster still running whose owner had ended (killed on a machine without
    /// setpriv, or the cluster leaked): stopped with `pg_ctl stop -m fast`.
    Stopped {
        /// Its PID.
        pid: u32,
    },
    /// The pid file of a postmaster that ended without shutting down (killed, power cut):
    /// PostgreSQL replays its write-ahead log at this start (a durable cluster keeps every
    /// commit it acknowledged).
    Crashed {
        /// The PID it had.
        pid: u32,
    },
}

impl std::fmt::Display for LeftBehind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeftBehind::Stopped { pid } => {
                write!(
                    f,
                    "a PostgreSQL left running by an earlier start (pid {pid}) was stopped \
                     (pg_ctl stop -m fast)"
                )
            }
            LeftBehind::Crashed { pid } => write!(
                f,
                "the PostgreSQL of an earlier start (pid {pid}) ended without shutting down: \
                 it recovers from its write-ahead log now"
            ),
        }
    }
}

/// Why the cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No PostgreSQL server binaries.
    #[error("PostgreSQL server not found under /usr/lib/postgresql/*/bin: run scripts/install-deps as root (Debian package postgresql)")]
    NotInstalled,
    /// A PostgreSQL of a running process serves this directory already.
    #[error(
        "its PostgreSQL (pid {postmaster}) belongs to a running process (pid {owner}): stop that one first"
    )]
    InUse {
        /// The postmaster's PID.
        postmaster: u32,
        /// The PID of the process that started it.
        owner: u32,
    },
    /// A step failed.
    #[error("{step}: {message}")]
    Step {
        /// What was being done.
        step: String,
        /// What went wrong (the tail of the log where there is one).
        message: String,
    },
}

fn step(step: &str, message: impl Into<String>) -> ClusterError {
    ClusterError::Step { step: step.to_string(), message: message.into() }
}

/// The newest installed server's bin directory.
pub fn bin_dir() -> Result<PathBuf, ClusterError> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| ClusterError::NotInstalled)?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("postgres").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or(ClusterError::NotInstalled)
}

fn is_root() -> bool {
    // The effective uid, without unsafe: the owner of a file we just created.
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

/// The command, run as `postgres` when we are root.
fn as_db_user(program: &Path) -> Command {
    under_setpriv(program, false)
}

/// The postmaster's command: as [`as_db_user`], and where util-linux has setpriv, with
/// `--pdeathsig INT`. INT is PostgreSQL's fast shutdown: open transactions roll back, clients
/// are cut off, a shutdown checkpoint is written. TERM (smart shutdown) would wait for every
/// client to leave (an administrator's open psql would keep it, and its port, forever); QUIT
/// (immediate) skips the checkpoint and makes the next start recover.
fn postmaster_command(program: &Path) -> Command {
    under_setpriv(program, Path::new(SETPRIV).exists())
}

fn under_setpriv(program: &Path, pdeathsig: bool) -> Command {
    let root = is_root();
    if !root && !pdeathsig {
        return Command::new(program);
    }
    let mut c = Command::new(SETPRIV);
    if root {
        c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]);
    }
    if pdeathsig {
        c.args(["--pdeathsig", "INT"]);
    }
    c.arg("--").arg(program);
    c
}

/// Whether `pid` runs (a zombie has ended).
fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Field 3 of /proc/PID/stat is the state.
    !stat.is_empty() && !stat.contains(") Z ")
}

/// Whether `pid` is a running `postgres` working in `data` (not one of another cluster that
/// got the PID of ours).
fn is_postgres_in(pid: u32, data: &Path) -> bool {
    alive(pid)
        && std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres")
        && std::fs::canonicalize(data).is_ok_and(|data| works_in(pid, &data))
}

/// Whether `pid`'s working directory is `dir` (canonical): a postmaster and its children all
/// work in their data directory.
fn works_in(pid: u32, dir: &Path) -> bool {
    std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir)
}

/// The parent of `pid` (field 4 of /proc/PID/stat, after the command name's parenthesis).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.split(' ').nth(1)?.parse().ok()
}

/// The processes working in `data`: what is left of a cluster there.
fn processes_in(data: &Path) -> Vec<u32> {
    let Ok(data) = std::fs::canonicalize(data) else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| works_in(*pid, &data))
        .collect()
}

/// A running private cluster, stopped on drop.
pub struct Cluster {
    dir: PathBuf,
    port: u16,
    durability: Durability,
    child: Option<Child>,
    left_behind: Option<LeftBehind>,
}

impl Cluster {
    /// Creates (first time) and starts a cluster in `dir` on `127.0.0.1:port`; returns when
    /// it accepts connections. The database `provincial` exists afterwards.
    ///
    /// What an earlier run left in `dir` is dealt with first ([`Cluster::left_behind`] says
    /// what): a postmaster still running whose owner has ended is stopped (`pg_ctl stop -m
    /// fast`) and a new one started, never adopted; after one that died, its children are
    /// waited for and its pid file removed, and PostgreSQL recovers from its write-ahead log.
    /// A postmaster whose owner still runs is that process's: [`ClusterError::InUse`].
    ///
    /// The postmaster dies with the thread that calls this (and [`Cluster::restart`]):
    /// call them on a thread that lives as long as the cluster is used.
    pub fn start(dir: &Path, port: u16, durability: Durability) -> Result<Cluster, ClusterError> {
        let bin = bin_dir()?;
        let data = dir.join("data");
        std::fs::create_dir_all(dir).map_err(|e| step("creating the cluster directory", e.to_string()))?;
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir)
                .status()
                .map_err(|e| step("chown to postgres", e.to_string()))?;
            if !ok.success() {
                return Err(step("chown to postgres", "failed: is the Debian postgresql package installed?"));
            }
        }
        if !data.join("PG_VERSION").exists() {
            let mut initdb = as_db_user(&bin.join("initdb"));
            initdb.arg("-D").arg(&data).args(["-U", "station", "--auth=trust", "-E", "UTF8", "--locale=C"]);
            if durability == Durability::TestsOnly {
                initdb.arg("--no-sync");
            }
            let out = initdb.output().map_err(|e| step("initdb", e.to_string()))?;
            if !out.status.success() {
                return Err(step("initdb", String::from_utf8_lossy(&out.stderr).into_owned()));
            }
        }
        let mut cluster =
            Cluster { dir: dir.to_path_buf(), port, durability, child: None, left_behind: None };
        cluster.left_behind = cluster.clear_left_behind(&bin)?;
        cluster.spawn()?;
        cluster.create_database()?;
        Ok(cluster)
    }

    /// Stops a postmaster an earlier run left in the data directory, or waits for the children
    /// of one that died (they hold its shared memory for a moment, and a new postmaster
    /// refuses to start beside them).
    fn clear_left_behind(&self, bin: &Path) -> Result<Option<LeftBehind>, ClusterError> {
        let data = self.dir.join("data");
        let pid_file = data.join("postmaster.pid");
        let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
        else {
            return Ok(None);
        };
        if is_postgres_in(pid, &data) {
            let owner = std::fs::read_to_string(self.dir.join(OWNER_FILE))
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok())
                .filter(|o| *o != std::process::id() && alive(*o) && parent_of(pid) == Some(*o));
            if let Some(owner) = owner {
                return Err(ClusterError::InUse { postmaster: pid, owner });
            }
            let out = as_db_user(&bin.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .args(["stop", "-m", "fast", "-w", "-t", "60"])
                .output()
                .map_err(|e| step("pg_ctl stop", e.to_string()))?;
            if !out.status.success() {
                return Err(step(
                    "stopping the PostgreSQL left running in the directory",
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                ));
            }
            return Ok(Some(LeftBehind::Stopped { pid }));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut rest = processes_in(&data);
        while !rest.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            rest = processes_in(&data);
        }
        if !rest.is_empty() {
            return Err(step(
                "clearing the directory",
                format!("processes {rest:?} of a PostgreSQL that died still run in {}", data.display()),
            ));
        }
        // Nothing of the cluster runs, but PostgreSQL would take the PID for a live owner of
        // its locks (data directory, socket) while it is a zombie not yet reaped (its parent
        // was killed; a container's init may reap late) or another process's. The lock files
        // go; the shared memory check stays: PostgreSQL refuses a segment still attached. A
        // live process whose directory is hidden from us is left for PostgreSQL to judge.
        let hidden = alive(pid) && std::fs::read_link(format!("/proc/{pid}/cwd")).is_err();
        if !hidden {
            let _ = std::fs::remove_file(&pid_file);
            for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(".s.PGSQL.") && name.ends_with(".lock") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(Some(LeftBehind::Crashed { pid }))
    }

    fn spawn(&mut self) -> Result<(), ClusterError> {
        let bin = bin_dir()?;
        // Appended: the log of a run that crashed stays beside the recovery that follows it.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("postgres.log"))
            .map_err(|e| step("log file", e.to_string()))?;
        let durable = self.durability.setting();
        let child = postmaster_command(&bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c"])
            .arg(format!("unix_socket_directories={}", self.dir.display()))
            .arg("-c")
            .arg(format!("fsync={durable}"))
            .arg("-c")
            .arg(format!("synchronous_commit={durable}"))
            .arg("-c")
            .arg(format!("full_page_writes={durable}"))
            .args(["-c", "max_connections=200", "-c", "shared_buffers=256MB"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| step("log file", e.to_string()))?)
            .stderr(log)
            .spawn()
            .map_err(|e| step("starting postgres", e.to_string()))?;
        let owner = std::fs::write(self.dir.join(OWNER_FILE), std::process::id().to_string());
        self.child = Some(child);
        owner.map_err(|e| step("owner file", e.to_string()))?;
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), ClusterError> {
        let bin = bin_dir()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ready {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                return Err(step("starting postgres", format!("exited with {status}: {}", self.log_tail())));
            }
            if Instant::now() > deadline {
                return Err(step("starting postgres", format!("not ready after 30 s: {}", self.log_tail())));
            }
            // pg_isready has no wait-for-ready mode shorter than seconds; poll briefly.
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn create_database(&self) -> Result<(), ClusterError> {
        let bin = bin_dir()?;
        let out = Command::new(bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "station",
                "-d",
                "postgres",
                "-tAc",
            ])
            .arg("SELECT 1 FROM pg_database WHERE datname = 'provincial'")
            .output()
            .map_err(|e| step("psql", e.to_string()))?;
        if String::from_utf8_lossy(&out.stdout).trim() == "1" {
            return Ok(());
        }
        let out = Command::new(bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "station", "provincial"])
            .output()
            .map_err(|e| step("createdb", e.to_string()))?;
        if !out.status.success() {
            return Err(step("createdb", String::from_utf8_lossy(&out.stderr).into_owned()));
        }
        Ok(())
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }

    /// The lines of the cluster's log that hold a resident ID number, masked. PostgreSQL writes
    /// an error's DETAIL to its log (the key that already exists, the row that fails a check),
    /// where the province's administrators read and keep it: the service's statements must
    /// never fail so as to put a person's number there, and the tests check each cluster's log.
    pub fn log_lines_naming_persons(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
        text.lines().filter_map(applicant::mask_ids_in).collect()
    }

    /// The connection string of the `provincial` database.
    pub fn url(&self) -> String {
        format!("host=127.0.0.1 port={} user=station dbname=provincial", self.port)
    }

    /// The postmaster's PID.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// What it is started with.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// What the start found in the directory from an earlier run, if anything (for the
    /// caller to report).
    pub fn left_behind(&self) -> Option<&LeftBehind> {
        self.left_behind.as_ref()
    }

    /// Stops the server (SIGINT, fast shutdown) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
            }
            let _ = child.wait();
            let _ = std::fs::remove_file(self.dir.join(OWNER_FILE));
        }
    }

    /// Stops and starts the server on the same data (a restart mid-run).
    pub fn restart(&mut self) -> Result<(), ClusterError> {
        self.stop();
        self.spawn()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}
