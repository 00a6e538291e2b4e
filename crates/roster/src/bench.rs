//! What the roster and payments benchmarks share: their working directory under the
//! workspace's target, the process's memory figures, and the DuckDB peer run by
//! `crates/roster/bench/run_duckdb.sh` (DuckDB from PyPI in a venv) on the same files.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A field of /proc/self/status in KiB (0 when it cannot be read).
pub fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The CPU time (user and system, all threads) this process has used, in seconds; 0 when
/// /proc/self/stat cannot be read. On a machine shared with other work this says more of a
/// run than its wall time.
pub fn cpu_seconds() -> f64 {
    // Fields 14 and 15 (utime, stime) in clock ticks (USER_HZ, 100 on Linux), counted after
    // the command name, which may hold spaces but ends at the last ')'.
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 1..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0)
}

/// The workspace's target directory (`CARGO_TARGET_DIR`, or `target/` at the root).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// What the DuckDB script printed.
#[derive(Debug, Clone, Copy)]
pub struct DuckDb {
    /// Its query's time, when it said.
    pub seconds: Option<f64>,
    /// Its query's CPU time (all threads), when it said.
    pub cpu_seconds: Option<f64>,
    /// Its peak resident memory, when it said.
    pub peak_rss_kib: Option<f64>,
    /// The rows it wrote, when it said.
    pub rows: Option<u64>,
}

/// Runs the DuckDB query `query` (an SQL file under `crates/*/bench/`) with `{NAME}` replaced
/// by each of `files` and `{out}` by `out`; `Err` says why it did not run (no Python, no
/// network for PyPI, a failed query, ...).
pub fn run_duckdb(query: &Path, files: &[(&str, &Path)], out: &Path) -> Result<DuckDb, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/run_duckdb.sh");
    let o = Command::new("bash")
        .arg(&script)
        .arg(query)
        .arg(out)
        .args(files.iter().map(|(name, path)| format!("{name}={}", path.display())))
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err(format!("{}: {}", o.status, String::from_utf8_lossy(&o.stderr).trim_end()));
    }
    let text = String::from_utf8_lossy(&o.stdout);
    let field =
        |k: &str| text.split_whitespace().find_map(|w| w.strip_prefix(k)).and_then(|v| v.parse::<f64>().ok());
    Ok(DuckDb {
        seconds: field("duckdb_seconds="),
        cpu_seconds: field("duckdb_cpu_seconds="),
        peak_rss_kib: field("duckdb_peak_rss_kib="),
        rows: field("rows=").map(|r| r as u64),
    })
}
