//! Benchmark: 1 M roster rows against 10 M issuance records (100 k / 1 M with
//! `STATION_BENCH_QUICK=1`), generated once under the target directory. Prints rows/s, the
//! time of each pass, CPU time, peak memory (VmHWM) and, as ratios with their goals (faster,
//! no more memory), the time, CPU time and peak memory of DuckDB doing the same
//! core work on the same files (bench/compare.sql: the latest card per person, the join, the
//! five classes, the classified roster written as CSV; bench/run_duckdb.sh installs DuckDB from
//! PyPI into a venv).
//! `STATION_BENCH_NO_DUCKDB=1` skips DuckDB.

use std::path::Path;
use std::time::Instant;

use roster::bench::{cpu_seconds, run_duckdb, status_kib, target_dir};
use roster::compare::{compare, Options};
use roster::generate;
use roster::records::IssuanceFile;
use roster::validate::{Kind, Rules};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::var("STATION_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (rows, records): (u64, u64) = if quick { (100_000, 1_000_000) } else { (1_000_000, 10_000_000) };
    let dir = target_dir().join("roster-bench").join(format!("{rows}x{records}"));
    std::fs::create_dir_all(&dir)?;
    let (roster, issuance) = (dir.join("roster.csv"), dir.join("issuance.csv"));
    let done = dir.join("generated");
    if !done.exists() {
        let t = Instant::now();
        generate::write_bench_issuance(&issuance, records)?;
        generate::write_bench_roster(&roster, rows, records)?;
        std::fs::write(&done, "")?;
        println!(
            "generated {rows} roster rows and {records} issuance records in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len() as f64 / 1e6).unwrap_or(0.0);
    println!(
        "roster {:.0} MB, issuance {:.0} MB, {} threads",
        size(&roster),
        size(&issuance),
        rayon::current_num_threads()
    );

    let out = dir.join("out");
    let today = applicant::Date::new(2025, 6, 1).map_err(|e| e.to_string())?;
    let rules = Rules { today, default_kind: Kind::Existing, strict: false };
    let mut opts = Options::new(roster.clone(), vec![out.join("compared.csv")], rules);
    opts.actions = out.join("actions");
    opts.reports = Some(out.join("reports"));
    let hwm_before = status_kib("VmHWM:");
    let cpu_before = cpu_seconds();
    let summary = compare(&opts, &IssuanceFile::new(&issuance))?;
    let cpu = cpu_seconds() - cpu_before;
    let hwm = status_kib("VmHWM:");
    let secs = summary.elapsed.as_secs_f64();
    println!("{summary}");
    println!(
        "station compare: {rows} rows x {records} records in {secs:.2} s (CPU {cpu:.2} s) = {:.0} rows/s ({:.0} records/s scanned); passes: roster {:.2} s, issuance scan {:.2} s, classify+outputs {:.2} s",
        rows as f64 / secs,
        records as f64 / secs,
        summary.passes[0].as_secs_f64(),
        summary.passes[1].as_secs_f64(),
        summary.passes[2].as_secs_f64()
    );
    println!(
        "peak memory (VmHWM): {:.1} MiB (before the comparison: {:.1} MiB)",
        hwm as f64 / 1024.0,
        hwm_before as f64 / 1024.0
    );

    if std::env::var("STATION_BENCH_NO_DUCKDB").is_ok_and(|v| v == "1") {
        return Ok(());
    }
    let duck_out = dir.join("duckdb-compare.csv");
    let query = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/compare.sql");
    let t = Instant::now();
    let ran = run_duckdb(&query, &[("roster", &roster), ("issuance", &issuance)], &duck_out);
    let wall = t.elapsed().as_secs_f64();
    let ran = match ran {
        Ok(ran) => ran,
        Err(e) => {
            println!("duckdb: failed ({e})");
            return Ok(());
        }
    };
    let duck = ran.seconds.unwrap_or(wall);
    let duck_mib = ran.peak_rss_kib.unwrap_or(0.0) / 1024.0;
    println!(
        "duckdb, the same core work (bench/compare.sql: latest card per person, the join, the five classes and \
         actions, the classified roster as CSV; no validation, rejects, lists or reports): {duck:.2} s (CPU {}), \
         peak RSS {duck_mib:.1} MiB, {} rows",
        ran.cpu_seconds.map_or("?".into(), |c| format!("{c:.2} s")),
        ran.rows.unwrap_or(0)
    );
    // The CPU ratio beside the wall-time one: on a machine shared with other work the wall
    // time of either run depends on what else ran then.
    println!(
        "ratio station/duckdb: time {:.2} (goal below 1.00), CPU {}, peak memory {:.2} (goal at most 1.00)",
        secs / duck,
        ran.cpu_seconds.map_or("?".into(), |c| format!("{:.2}", cpu / c.max(1e-9))),
        (hwm as f64 / 1024.0) / duck_mib.max(1e-9)
    );
    Ok(())
}
