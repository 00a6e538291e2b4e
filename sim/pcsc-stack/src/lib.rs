//! A private pcscd with the vsmartcard vpcd driver, started and stopped by PID.
//!
//! vpcd listens on `port` (user card, reader "Virtual PCD 00 00") and `port + 1` (PSAM,
//! "Virtual PCD 00 01"): the counter's contact reader with its SAM slot. A second vpcd
//! device on `port + 2` is the contactless slot of the counter's dual-interface reader
//! ("Virtual PCD PICC 00 00"; the `PICC` word makes the station's reader rules call it
//! contactless). vpcd always offers two slots per device, so `port + 3` ("Virtual PCD PICC
//! 00 01") exists too and stays empty. vpcd keeps its slots in static variables indexed by
//! slot number, so two devices of one loaded driver share them (the second device's slots
//! take over the first's): the contactless device loads its own copy of the driver, written
//! beside the config. The config is written to a temporary directory so the system's
//! `/etc/reader.conf.d` is not touched and a second stack can use other ports inside its own
//! mount namespace. pcscd's socket path is fixed (`/run/pcscd`): one stack per namespace.
//!
//! The simulator connects to vpcd as a TCP client; vpcd listens on all interfaces, which is
//! fine for tests and never acceptable in a production station.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// vpcd's default port (CHANNELID 0x8C7B): the user card. The PSAM is on the next port.
pub const DEFAULT_VPCD_PORT: u16 = 35963;
/// Reader names vpcd offers, in port order.
pub const USER_CARD_READER: &str = "Virtual PCD 00 00";
/// The second vpcd reader: the PSAM slot.
pub const PSAM_READER: &str = "Virtual PCD 00 01";
/// The contactless slot, on `port + 2`: a simulated card presented there answers with a
/// PC/SC part 3 contactless ATR.
pub const CONTACTLESS_READER: &str = "Virtual PCD PICC 00 00";
/// The contactless reader's port offset from the user-card port.
pub const CONTACTLESS_PORT_OFFSET: u16 = 2;

const RUN_DIR: &str = "/run/pcscd";
/// The stack's directory names its owner's PID here.
const OWNER_FILE: &str = "owner.pid";
/// The stack's directories are `pcsc-stack-*` (a stale pcscd is recognised by its config).
const DIR_PREFIX: &str = "pcsc-stack-";
const SETPRIV: &str = "/usr/bin/setpriv";
const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";

/// Why the stack could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StackError {
    /// pcscd or the vpcd driver is missing.
    #[error("{0} is not installed: run `scripts/test` (or apt-get install pcscd vsmartcard-vpcd) as root")]
    NotInstalled(&'static str),
    /// Another pcscd owns the socket.
    #[error("another pcscd (pid {0}) is running: stop it (kill {0}) or run in a private mount namespace")]
    AlreadyRunning(u32),
    /// pcscd did not come up in time.
    #[error("pcscd did not offer its readers within {0:?}: see its log {1}")]
    NotReady(Duration, PathBuf),
    /// Spawning or writing the config failed.
    #[error("pcscd stack: {0}")]
    Io(#[from] std::io::Error),
}

/// A running pcscd. Dropping it stops pcscd (TERM, then wait).
pub struct Pcscd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
    readers: bool,
}

impl Pcscd {
    /// Starts pcscd with vpcd on `port` .. `port + 3`, and returns once the contact, SAM and
    /// contactless readers are listed (pcscd needs a moment to load the driver).
    pub fn start(port: u16) -> Result<Pcscd, StackError> {
        if !Path::new("/usr/sbin/pcscd").exists() {
            return Err(StackError::NotInstalled("pcscd"));
        }
        if !Path::new(VPCD_DRIVER).exists() {
            return Err(StackError::NotInstalled("vsmartcard-vpcd"));
        }
        let dir = tempfile::Builder::new().prefix(DIR_PREFIX).tempdir()?;
        let mut stack = Pcscd { child: None, dir, port, readers: true };
        stack.spawn()?;
        Ok(stack)
    }

    fn spawn(&mut self) -> Result<(), StackError> {
        clear_stale_pid()?;
        let port = self.port;
        let conf = if self.readers {
            let cl = port + CONTACTLESS_PORT_OFFSET;
            let cl_driver = self.dir.path().join("libifdvpcd-contactless.so");
            if !cl_driver.exists() {
                std::fs::copy(VPCD_DRIVER, &cl_driver)?;
            }
            let cl_driver = cl_driver.display();
            format!(
                "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME /dev/null:0x{port:04X}\nLIBPATH {VPCD_DRIVER}\nCHANNELID 0x{port:04X}\n\n\
                 FRIENDLYNAME \"Virtual PCD PICC\"\nDEVICENAME /dev/null:0x{cl:04X}\nLIBPATH {cl_driver}\nCHANNELID 0x{cl:04X}\n"
            )
        } else {
            String::new()
        };
        std::fs::write(self.dir.path().join("reader.conf"), conf)?;
        let log = std::fs::File::create(self.log_path())?;
        // Who started this stack: a later start that finds this pcscd alive and its owner gone
        // (killed) stops it ([`clear_stale_pid`]).
        std::fs::write(self.dir.path().join(OWNER_FILE), std::process::id().to_string())?;
        let child = pcscd_command()
            .arg("--foreground")
            .arg("-c")
            .arg(self.dir.path().join("reader.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        tracing::info!(pid = child.id(), port = self.port, "pcscd started");
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(10))
    }

    /// Polls until pcscd lists the vpcd readers (contact, SAM, contactless). There is no event for "daemon ready", so
    /// this is the one poll of the stack (every 20 ms, bounded).
    fn wait_ready(&mut self, limit: Duration) -> Result<(), StackError> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(ctx) = pcsc::Context::establish(pcsc::Scope::User) {
                if let Ok(names) = ctx.list_readers_owned() {
                    let names: Vec<String> = names.iter().map(|n| n.to_string_lossy().into_owned()).collect();
                    if [USER_CARD_READER, PSAM_READER, CONTACTLESS_READER]
                        .iter()
                        .all(|want| names.iter().any(|n| n == want))
                    {
                        return Ok(());
                    }
                }
                if !self.readers {
                    return Ok(());
                }
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(StackError::Io(std::io::Error::other(format!(
                        "pcscd exited with {status}: see {}",
                        self.log_path().display()
                    ))));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(StackError::NotReady(limit, self.log_path()))
    }

    /// pcscd's output.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("pcscd.log")
    }

    /// The user-card port; the PSAM is on `port() + 1`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The contactless reader's port (`port() + 2`).
    pub fn contactless_port(&self) -> u16 {
        self.port + CONTACTLESS_PORT_OFFSET
    }

    /// pcscd's PID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops pcscd (a crash or an administrator's restart, as the station sees it).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id();
            // SIGTERM lets pcscd remove its socket and pid file; std offers only SIGKILL.
            let termed =
                Command::new("kill").args(["-TERM", &pid.to_string()]).status().is_ok_and(|s| s.success());
            if !termed {
                let _ = child.kill();
            }
            let _ = child.wait();
            tracing::info!(pid, "pcscd stopped");
        }
    }

    /// Stops pcscd and starts it again on the same ports.
    pub fn restart(&mut self) -> Result<(), StackError> {
        self.stop();
        self.spawn()
    }

    /// The vpcd readers vanish, as a USB reader pulled out does. vpcd readers cannot be
    /// hot-unplugged inside a running pcscd, so pcscd restarts without them (the station sees
    /// the service drop first, then no reader). [`Pcscd::plug_readers`] brings them back.
    pub fn unplug_readers(&mut self) -> Result<(), StackError> {
        self.readers = false;
        self.restart()
    }

    /// The vpcd readers are back (pcscd restarts with them).
    pub fn plug_readers(&mut self) -> Result<(), StackError> {
        self.readers = true;
        self.restart()
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// pcscd, ended by the kernel when the thread that started it dies (`setpriv --pdeathsig`,
/// util-linux): a station killed with SIGKILL leaves no pcscd behind. Without setpriv, plain
/// pcscd (a later start stops a stale one, [`clear_stale_pid`]).
fn pcscd_command() -> Command {
    if Path::new(SETPRIV).exists() {
        let mut c = Command::new(SETPRIV);
        c.args(["--pdeathsig", "TERM", "--", "/usr/sbin/pcscd"]);
        c
    } else {
        Command::new("/usr/sbin/pcscd")
    }
}

fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Field 3 of /proc/PID/stat is the state; a zombie (Z) has ended.
    !stat.is_empty() && !stat.contains(") Z ")
}

/// The stack directory of a pcscd we started (its `-c DIR/reader.conf`), if it is one.
fn stack_dir_of(pid: u32) -> Option<PathBuf> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    args.windows(2).filter(|w| w[0] == b"-c").find_map(|w| {
        let dir = Path::new(std::str::from_utf8(w[1]).ok()?).parent()?;
        dir.file_name()?.to_str()?.starts_with(DIR_PREFIX).then(|| dir.to_path_buf())
    })
}

/// A pcscd of a stack whose owner is dead: left by a station killed before it could stop it.
fn stale_stack(pid: u32) -> bool {
    let Some(dir) = stack_dir_of(pid) else { return false };
    let owner = std::fs::read_to_string(dir.join(OWNER_FILE)).ok().and_then(|t| t.trim().parse::<u32>().ok());
    owner.is_some_and(|o| o != std::process::id() && !alive(o))
}

/// Stops `pid` (TERM, then KILL after 5 s) and waits until it is gone.
fn stop_pid(pid: u32) {
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if alive(pid) {
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        while alive(pid) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A pid file left by a dead pcscd blocks a new one; a live pcscd is someone else's stack,
/// unless it is one of ours whose owner died (a station killed with SIGKILL on a machine
/// without setpriv): that one is stopped.
fn clear_stale_pid() -> Result<(), StackError> {
    let pid_file = Path::new(RUN_DIR).join("pcscd.pid");
    let Ok(text) = std::fs::read_to_string(&pid_file) else {
        return Ok(());
    };
    if let Ok(pid) = text.trim().parse::<u32>() {
        let is_pcscd =
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains("(pcscd)"));
        if is_pcscd && alive(pid) {
            if !stale_stack(pid) {
                return Err(StackError::AlreadyRunning(pid));
            }
            tracing::warn!(pid, "stopping a pcscd left by a station that was killed");
            stop_pid(pid);
        }
    }
    let _ = std::fs::remove_file(&pid_file);
    let _ = std::fs::remove_file(Path::new(RUN_DIR).join("pcscd.comm"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn a_stack_whose_owner_died_is_stale_and_a_live_owners_is_not() {
        let dir = tempfile::Builder::new().prefix(DIR_PREFIX).tempdir().expect("tmp");
        let conf = dir.path().join("reader.conf");
        // A stand-in for pcscd with the stack's config on its command line. In a process group
        // of its own: the shell's `sleep` child outlives the shell, and goes with the group.
        let mut standin = Command::new("/bin/sh")
            .args(["-c", "sleep 30", "pcscd", "-c"])
            .arg(&conf)
            .process_group(0)
            .spawn()
            .expect("sh");
        let pid = standin.id();
        // Until the exec, /proc shows the test's own command line.
        let deadline = Instant::now() + Duration::from_secs(5);
        while stack_dir_of(pid).is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(stack_dir_of(pid).as_deref(), Some(dir.path()));

        let mut gone = Command::new("/bin/true").spawn().expect("true");
        let dead_owner = gone.id();
        gone.wait().expect("reaped");
        std::fs::write(dir.path().join(OWNER_FILE), dead_owner.to_string()).expect("owner");
        assert!(stale_stack(pid), "its owner is dead: left behind");
        std::fs::write(dir.path().join(OWNER_FILE), std::process::id().to_string()).expect("owner");
        assert!(!stale_stack(pid), "its owner lives");
        stop_pid(pid);
        let _ = standin.wait();
        assert!(!alive(pid));
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).stderr(Stdio::null()).status();
        assert!(stack_dir_of(std::process::id()).is_none(), "not a stack's pcscd");
    }
}
