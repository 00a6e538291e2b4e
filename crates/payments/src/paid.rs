//! The county's register of payments already put in a bank file: the item, the pay period of
//! the item's cycle (`2022-03`, `2022-Q1`, `2022-H1`, `2022`, or `once` for a one-off item),
//! the payee and the batch. A payee is paid once per item and period across batches: a batch
//! prepared twice, or a second roster naming the same person, pays nobody twice. One file per
//! item and pay period in the register's directory (`0101-2022-03.csv`), so a batch reads and
//! writes only its own period's payments however many years the directory holds. It holds full
//! ID numbers (the bank file's): written owner-only, replaced whole (a temporary file renamed
//! over it), so a crash leaves the old register or the new one.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::items::Cycle;
use crate::period::Period;
use crate::PaymentsError;

/// Its columns.
pub const HEADERS: [&str; 4] = ["项目代码", "发放周期", "社会保障号码", "批次"];

/// The pay period of `cycle` that month `p` falls in.
pub fn cycle_key(p: Period, cycle: Cycle) -> String {
    match cycle {
        Cycle::Monthly => p.to_string(),
        Cycle::Quarterly => format!("{:04}-Q{}", p.year, (p.month - 1) / 3 + 1),
        Cycle::HalfYearly => format!("{:04}-H{}", p.year, (p.month - 1) / 6 + 1),
        Cycle::Yearly => format!("{:04}", p.year),
        Cycle::OneOff => "once".into(),
    }
}

/// The register in its file (none yet: empty).
#[derive(Debug)]
pub struct PaidRegister {
    path: PathBuf,
    rows: Vec<[String; 4]>,
    index: HashMap<(String, String, String), usize>,
}

impl PaidRegister {
    /// The payments of `item` in pay period `period` in the register directory `dir`.
    pub fn open_for(dir: &Path, item: &str, period: &str) -> Result<PaidRegister, PaymentsError> {
        let safe: String = format!("{item}-{period}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
            .collect();
        PaidRegister::open(&dir.join(format!("{safe}.csv")))
    }

    /// Reads `path`; a missing file is an empty register.
    pub fn open(path: &Path) -> Result<PaidRegister, PaymentsError> {
        let mut register = PaidRegister { path: path.to_path_buf(), rows: Vec::new(), index: HashMap::new() };
        if !path.exists() {
            return Ok(register);
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .map_err(|e| PaymentsError::Usage(format!("{}: {e}", path.display())))?;
        for record in reader.records() {
            let r = record.map_err(|e| PaymentsError::Usage(format!("{}: {e}", path.display())))?;
            let field = |i: usize| r.get(i).unwrap_or_default().to_owned();
            register.insert([field(0), field(1), field(2), field(3)]);
        }
        Ok(register)
    }

    fn insert(&mut self, row: [String; 4]) {
        let key = (row[0].clone(), row[1].clone(), row[2].clone());
        if !self.index.contains_key(&key) {
            self.index.insert(key, self.rows.len());
            self.rows.push(row);
        }
    }

    /// The batch that already paid `payee` for `item` in `period`, if any.
    pub fn paid(&self, item: &str, period: &str, payee: &str) -> Option<&str> {
        let key = (item.to_owned(), period.to_owned(), payee.to_owned());
        self.index.get(&key).map(|&i| self.rows[i][3].as_str())
    }

    /// Records a payment of `batch` (kept in memory until [`PaidRegister::save`]).
    pub fn record(&mut self, item: &str, period: &str, payee: &str, batch: &str) {
        self.insert([item.to_owned(), period.to_owned(), payee.to_owned(), batch.to_owned()]);
    }

    /// How many payments it holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Writes it whole, owner-only, through a temporary file renamed over the old one.
    pub fn save(&self) -> Result<(), PaymentsError> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let io = |e: std::io::Error| PaymentsError::io(&self.path, e);
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = self.path.with_extension("csv.tmp");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        let mut w = csv::Writer::from_writer(file);
        let csv_err = |e: csv::Error| PaymentsError::Usage(format!("{}: {e}", tmp.display()));
        w.write_record(HEADERS).map_err(csv_err)?;
        for r in &self.rows {
            w.write_record(r).map_err(csv_err)?;
        }
        let mut file = w.into_inner().map_err(|e| PaymentsError::Usage(format!("{}: {e}", tmp.display())))?;
        file.flush().map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cycle_names_its_pay_period() {
        let p = |s: &str| Period::parse(s).expect("period");
        assert_eq!(cycle_key(p("2022-03"), Cycle::Monthly), "2022-03");
        assert_eq!(cycle_key(p("2022-03"), Cycle::Quarterly), "2022-Q1");
        assert_eq!(cycle_key(p("2022-04"), Cycle::Quarterly), "2022-Q2");
        assert_eq!(cycle_key(p("2022-07"), Cycle::HalfYearly), "2022-H2");
        assert_eq!(cycle_key(p("2022-12"), Cycle::Yearly), "2022");
        assert_eq!(cycle_key(p("2030-01"), Cycle::OneOff), "once");
    }

    #[test]
    fn the_register_keeps_one_payment_per_item_period_and_payee_across_saves() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("0101-2022-03.csv");
        let mut r = PaidRegister::open_for(dir.path(), "0101", "2022-03").expect("none yet");
        assert!(r.is_empty());
        r.record("0101", "2022-03", "11010519491231002X", "0101 低保 2022-03");
        r.record("0101", "2022-03", "11010519491231002X", "a second batch");
        r.save().expect("save");
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        let again = PaidRegister::open(&path).expect("read");
        assert_eq!(again.len(), 1);
        assert_eq!(again.paid("0101", "2022-03", "11010519491231002X"), Some("0101 低保 2022-03"));
        assert_eq!(again.paid("0101", "2022-04", "11010519491231002X"), None);
    }
}
