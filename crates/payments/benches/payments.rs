//! Benchmark: a county's year of subsidy payments. Full form: 1 M card holders on the
//! issuance file, 20 items whose rosters together list 1 M recipients (50 k each), 12 months:
//! 240 batches, 12 M payment lines, each batch prepared (roster validated, cards matched, the
//! bank's file written), returned by a simulated bank, imported and reconciled; then the
//! year's report. `STATION_BENCH_QUICK=1`: 200 k card holders, 4 items of 25 k, 2 months.
//! Data is generated once under the target directory. Prints batches/s, rows/s per pass,
//! peak memory (VmHWM), and DuckDB doing the same matching for the first batch on the same
//! files (bench/prepare.sql through roster's bench/run_duckdb.sh, DuckDB from PyPI in a venv)
//! beside our prepare of them. `STATION_BENCH_NO_DUCKDB=1` skips DuckDB.

use std::time::{Duration, Instant};

use payments::cards::{CardSource, IssuanceCards};
use payments::generate::{bench_register, write_recipients, write_return};
use payments::{import, prepare, report, Fen, Period};
use roster::bench::{run_duckdb, status_kib, target_dir};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::var("STATION_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (holders, items, per_item, months): (u64, usize, u64, u8) =
        if quick { (200_000, 4, 25_000, 2) } else { (1_000_000, 20, 50_000, 12) };
    let dir = target_dir().join("payments-bench").join(format!("{holders}x{items}x{per_item}x{months}"));
    std::fs::create_dir_all(&dir)?;
    let issuance = dir.join("issuance.csv");
    let register = bench_register(items);
    let done = dir.join("generated");
    if !done.exists() {
        let t = Instant::now();
        roster::generate::write_bench_issuance(&issuance, holders)?;
        for (i, item) in register.items.iter().enumerate() {
            write_recipients(
                &dir.join(format!("recipients-{}.csv", item.code)),
                item,
                per_item,
                holders,
                i as u64,
            )?;
        }
        std::fs::write(&done, "")?;
        println!(
            "generated {holders} issuance records and {items} rosters of {per_item} in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    println!(
        "{} card holders, {items} items x {per_item} recipients x {months} months = {} batches, {} roster rows; {} threads",
        holders,
        items * months as usize,
        per_item * items as u64 * u64::from(months),
        rayon::current_num_threads()
    );

    let source = IssuanceCards::new(&issuance);
    let sources: [&dyn CardSource; 1] = [&source];
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let today = applicant::Date::new(2022, 1, 10).map_err(|e| e.to_string())?;
    let (mut t_prepare, mut t_return, mut t_import) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut passes = [Duration::ZERO; 3];
    let (mut rows, mut payments, mut refused, mut paid, mut failed) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut amount = Fen::ZERO;
    let mut first_batch = None;
    let start = Instant::now();
    for month in 1..=months {
        let period = Period { year: 2022, month };
        for item in &register.items {
            let stem = format!("{}-{period}", item.code);
            let recipients = dir.join(format!("recipients-{}.csv", item.code));
            let mut o = prepare::Options::new(
                item.clone(),
                period,
                recipients,
                vec![out.join(format!("{stem}.bank.csv"))],
            );
            o.status = out.join(format!("{stem}.status.csv"));
            o.today = today;
            let s = prepare::prepare(&o, &sources)?;
            t_prepare += s.elapsed;
            for (p, x) in passes.iter_mut().zip(s.passes) {
                *p += x;
            }
            first_batch.get_or_insert(s.elapsed);
            rows += s.rows;
            payments += s.payments.0;
            refused += s.refused.0;
            let t = Instant::now();
            let ret = out.join(format!("{stem}.return.csv"));
            write_return(&o.status, &ret, 200, 1000)?;
            t_return += t.elapsed();
            let t = Instant::now();
            let imp = import::import(&import::Options::new(
                o.status.clone(),
                ret,
                out.join(format!("{stem}.reconciled.csv")),
            ))?;
            t_import += t.elapsed();
            assert!(imp.balanced(), "{imp}");
            paid += imp.paid.0;
            failed += imp.failed.0;
            amount += imp.paid.2;
        }
    }
    let t = Instant::now();
    let files = report::status_files(std::slice::from_ref(&out))?;
    let rep = report::Report::read(&files, Some(&register))?;
    rep.write(&out.join("report"))?;
    let t_report = t.elapsed();
    let total = start.elapsed();
    let batches = items * months as usize;
    println!(
        "prepare: {batches} batches, {rows} rows in {:.2} s = {:.0} rows/s ({:.3} s a batch); passes: roster {:.2} s, card scan {:.2} s, decide+write {:.2} s",
        t_prepare.as_secs_f64(),
        rows as f64 / t_prepare.as_secs_f64().max(1e-9),
        t_prepare.as_secs_f64() / batches as f64,
        passes[0].as_secs_f64(),
        passes[1].as_secs_f64(),
        passes[2].as_secs_f64()
    );
    println!(
        "payments: {payments} in the banks' files, {refused} refused; return simulated in {:.2} s; import: {:.2} s = {:.0} payments/s; {paid} paid, {failed} failed, {amount} yuan, reconciled to the fen",
        t_return.as_secs_f64(),
        t_import.as_secs_f64(),
        payments as f64 / t_import.as_secs_f64().max(1e-9)
    );
    println!(
        "report over {} files ({} lines): {:.2} s; whole year {:.1} s; card share {:.1}%",
        files.len(),
        rep.total().recipients,
        t_report.as_secs_f64(),
        total.as_secs_f64(),
        rep.total().card_share()
    );
    println!("peak memory (VmHWM): {:.1} MiB", status_kib("VmHWM:") as f64 / 1024.0);

    if std::env::var("STATION_BENCH_NO_DUCKDB").is_ok_and(|v| v == "1") {
        return Ok(());
    }
    let item = &register.items[0];
    let first = dir.join(format!("recipients-{}.csv", item.code));
    let query = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/prepare.sql");
    let household = std::path::PathBuf::from(item.household.to_string());
    let summary = std::path::PathBuf::from(format!("2022-01 {}", item.summary));
    let files: [(&str, &std::path::Path); 4] =
        [("recipients", &first), ("issuance", &issuance), ("household", &household), ("summary", &summary)];
    let ran = match run_duckdb(&query, &files, &dir.join("duckdb-prepare.csv")) {
        Ok(ran) => ran,
        Err(e) => {
            println!("duckdb: not available ({}), only our figures", e.lines().last().unwrap_or(""));
            return Ok(());
        }
    };
    let duck = ran.seconds.unwrap_or(f64::NAN);
    let ours = first_batch.unwrap_or_default().as_secs_f64();
    println!(
        "first batch ({per_item} rows x {holders} records): ours {ours:.3} s (validate, match, decide, bank file, status, to-do lists); \
         duckdb, the same matching (bench/prepare.sql: cards per person, households, deceased members, the decision, one CSV): \
         {duck:.3} s, {} payee lines, peak RSS {:.1} MiB; ratio ours/duckdb {:.2}",
        ran.rows.unwrap_or(0),
        ran.peak_rss_kib.unwrap_or(0.0) / 1024.0,
        ours / duck
    );
    Ok(())
}
