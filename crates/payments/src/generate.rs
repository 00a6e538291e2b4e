//! Deterministic data for tests and the benchmark: registers of any size, recipients
//! rosters over roster's generated persons (roster's [`roster::generate`] gives the ID
//! numbers, issuance files and roster rows), and the bank's return of a batch.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use roster::generate::{roster_row, Rng, ROSTER_HEADER};

use crate::items::{Cycle, Item, Level, Register};
use crate::status;

/// A register of `n` items: categories of five sub-items, every third paid to the household,
/// every other one through the passbook until now.
pub fn bench_register(n: usize) -> Register {
    const BANKS: [&str; 5] = ["农业银行", "农村商业银行", "邮储银行", "建设银行", "工商银行"];
    let items = (0..n)
        .map(|i| {
            let (c, s) = ((i / 5) as u8 + 1, (i % 5) as u8 + 1);
            Item {
                code: format!("{c:02}{s:02}"),
                category_no: c,
                category: format!("类别{c}"),
                sub_no: s,
                name: format!("补贴项目{c:02}{s:02}"),
                cycle: Cycle::Monthly,
                bank: BANKS[i % 5].into(),
                passbook: i % 2 == 0,
                level: Level::County,
                department: "县民政局".into(),
                household: i % 3 == 0,
                summary: format!("补贴{c:02}{s:02}"),
                target: 60.0,
                row: i as u32 + 1,
            }
        })
        .collect();
    Register { items }
}

/// The recipients header: roster's bench header and the head of household.
pub fn recipients_header() -> Vec<&'static str> {
    let mut h = ROSTER_HEADER.to_vec();
    h.extend(["户主身份证号", "户主姓名"]);
    h
}

/// Writes `n` recipients of `item` over persons `0..issued` (90%) and persons without a
/// record (10%): with `household`, every third row is a member of the row before's
/// household. `salt` makes the items' rosters differ.
pub fn write_recipients(path: &Path, item: &Item, n: u64, issued: u64, salt: u64) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, File::create(path)?));
    w.write_record(recipients_header())?;
    let issued = issued.max(1);
    let mut head: Option<(String, String)> = None;
    for r in 0..n {
        let k = r.wrapping_mul(7919).wrapping_add(salt.wrapping_mul(104_729));
        let person = if r % 10 < 9 { k % issued } else { issued + salt * n + r };
        let mut row = roster_row(person, r % 4 != 0);
        let mut rng = Rng::new(person ^ salt);
        row[8] = format!("{}.{:02}", 100 + rng.below(900), rng.below(100));
        if item.household && r % 3 == 2 {
            let (id, name) = head.clone().unwrap_or_default();
            row.extend([id, name]);
        } else {
            head = Some((row[1].clone(), row[0].clone()));
            row.extend([String::new(), String::new()]);
        }
        w.write_record(&row)?;
    }
    w.flush()
}

/// The bank's return of a batch, from its status file: every payment returned paid, but
/// one in `fail_every` failed ("账户已冻结"), one in `dup_every` returned twice.
pub fn write_return(
    status_file: &Path,
    path: &Path,
    fail_every: u64,
    dup_every: u64,
) -> std::io::Result<u64> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_path(status_file)?;
    let h = rdr.headers()?.clone();
    let col = |n: &str| h.iter().position(|x| x.trim_start_matches('\u{feff}') == n).unwrap_or(0);
    let (name, account, amount, summary, state) =
        (col("姓名"), col("银行卡号"), col("金额"), col("摘要"), col("状态"));
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    writeln!(w, "户名,卡号,金额,摘要,发放时间,发放结果,失败原因")?;
    let mut lines = 0u64;
    let mut n = 0u64;
    for r in rdr.records() {
        let r = r?;
        if r.get(state) != Some(status::PENDING) {
            continue;
        }
        n += 1;
        let g = |i: usize| r.get(i).unwrap_or_default();
        let failed = fail_every > 0 && n.is_multiple_of(fail_every);
        let (result, why) = if failed { ("失败", "账户已冻结") } else { ("成功", "") };
        let line = format!(
            "{},{},{},{},2022-03-15 10:00:00,{result},{why}\n",
            g(name),
            g(account),
            g(amount),
            g(summary)
        );
        w.write_all(line.as_bytes())?;
        lines += 1;
        if dup_every > 0 && n.is_multiple_of(dup_every) {
            w.write_all(line.as_bytes())?;
            lines += 1;
        }
    }
    w.flush()?;
    Ok(lines)
}
