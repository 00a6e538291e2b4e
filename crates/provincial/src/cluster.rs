//! A private PostgreSQL cluster: initdb in a directory of ours, `postgres` started on a
//! loopback port with its socket in that directory, stopped by PID. What the test command,
//! the benchmarks and the embedded set-up use; never the machine's own cluster.
//!
//! PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres` user of
//! the Debian package (`setpriv` execs, so the PID we hold is the postmaster's).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why the cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No PostgreSQL server binaries.
    #[error("PostgreSQL server not found under /usr/lib/postgresql/*/bin: run scripts/install-deps as root (Debian package postgresql)")]
    NotInstalled,
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
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=postgres", "--regid=postgres", "--init-groups", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A running private cluster.
pub struct Cluster {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Cluster {
    /// Creates (first time) and starts a cluster in `dir` on `127.0.0.1:port`; returns when
    /// it accepts connections. The database `provincial` exists afterwards.
    pub fn start(dir: &Path, port: u16) -> Result<Cluster, ClusterError> {
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
            let out = as_db_user(&bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", "station", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])
                .output()
                .map_err(|e| step("initdb", e.to_string()))?;
            if !out.status.success() {
                return Err(step("initdb", String::from_utf8_lossy(&out.stderr).into_owned()));
            }
        }
        let mut cluster = Cluster { dir: dir.to_path_buf(), port, child: None };
        cluster.spawn()?;
        cluster.create_database()?;
        Ok(cluster)
    }

    fn spawn(&mut self) -> Result<(), ClusterError> {
        let bin = bin_dir()?;
        let log = std::fs::File::create(self.dir.join("postgres.log"))
            .map_err(|e| step("log file", e.to_string()))?;
        let child = as_db_user(&bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c"])
            .arg(format!("unix_socket_directories={}", self.dir.display()))
            .args(["-c", "fsync=off", "-c", "max_connections=200", "-c", "shared_buffers=256MB"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| step("log file", e.to_string()))?)
            .stderr(log)
            .spawn()
            .map_err(|e| step("starting postgres", e.to_string()))?;
        self.child = Some(child);
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

    /// The connection string of the `provincial` database.
    pub fn url(&self) -> String {
        format!("host=127.0.0.1 port={} user=station dbname=provincial", self.port)
    }

    /// The postmaster's PID.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the server (SIGINT, fast shutdown) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
            let _ = child.wait();
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
