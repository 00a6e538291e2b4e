//! The comparison, in three streaming passes so memory follows the roster's keys, not the
//! files:
//!
//! 1. Read the roster (reader thread), validate batches in parallel, write problems to the
//!    rejects file and compared rows to a spool file; collect the wanted ID numbers.
//! 2. Scan the issuance records once, keeping only the wanted persons' records.
//! 3. Read the spool back, classify each person, write the classified roster (CSV/XLSX), the
//!    action spool per township and the report counts.
//!
//! Then the action lists are sorted per township (one township in memory at a time) and the
//! reports written.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::classify::{card_columns, classify, Action, Class};
use crate::input::{self, Batch, Field};
use crate::key::{mask, IdKey};
use crate::records::{IssuanceRecords, ScanStats, Wanted};
use crate::report::{Deadlines, Report};
use crate::text::{csv_err, csv_out};
use crate::validate::{check, Kind, Person, Problem, Rules, Severity};
use crate::RosterError;

/// Where the results go and how to judge.
#[derive(Debug, Clone)]
pub struct Options {
    /// The roster (CSV or XLSX).
    pub roster: PathBuf,
    /// The XLSX sheet; the first one when `None`.
    pub sheet: Option<String>,
    /// Classified roster files; `.xlsx` ones are written as XLSX, the rest as CSV.
    pub outputs: Vec<PathBuf>,
    /// The rejects file (CSV).
    pub rejects: PathBuf,
    /// Directory for the action lists, one CSV per township plus a summary.
    pub actions: PathBuf,
    /// Directory for the reports (tables and SVG charts); none when `None`.
    pub reports: Option<PathBuf>,
    /// Validation rules (today, default beneficiary kind, strict).
    pub rules: Rules,
    /// Days after hand-over without activation that make a card dormant.
    pub dormant_days: i32,
    /// Issuance deadlines per township.
    pub deadlines: Deadlines,
    /// Rows per validation batch.
    pub batch: usize,
}

impl Options {
    /// Defaults for everything but the paths: 180 dormant days, no deadlines, batches of
    /// 16 384 rows.
    pub fn new(roster: PathBuf, outputs: Vec<PathBuf>, rules: Rules) -> Options {
        let base = outputs.first().cloned().unwrap_or_else(|| PathBuf::from("roster-compared.csv"));
        let stem = base.file_stem().and_then(|s| s.to_str()).unwrap_or("roster").to_owned();
        let dir = base.parent().map(Path::to_path_buf).unwrap_or_default();
        Options {
            roster,
            sheet: None,
            outputs,
            rejects: dir.join(format!("{stem}.rejects.csv")),
            actions: dir.join(format!("{stem}.actions")),
            reports: Some(dir.join(format!("{stem}.reports"))),
            rules,
            dormant_days: 180,
            deadlines: Deadlines::default(),
            batch: 16_384,
        }
    }
}

/// What the comparison did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The issuance source.
    pub source: String,
    /// Non-blank rows read.
    pub rows: u64,
    /// Blank rows skipped (template rows).
    pub blank_rows: u64,
    /// Rows not compared (see the rejects file).
    pub rejected: u64,
    /// Compared rows with a field to correct.
    pub to_fix: u64,
    /// Rows with a note (15-digit IDs upgraded).
    pub noted: u64,
    /// Persons compared.
    pub compared: u64,
    /// Persons per [`Class`].
    pub classes: [u64; 5],
    /// Persons per [`Action`].
    pub actions: [u64; 6],
    /// Problems per rule, sorted by rule.
    pub problems: Vec<(&'static str, u64)>,
    /// The scan of the issuance records.
    pub scan: ScanStats,
    /// Time for the whole comparison.
    pub elapsed: Duration,
    /// Time of each pass: roster, issuance scan, classification and outputs.
    pub passes: [Duration; 3],
    /// Every file written.
    pub files: Vec<PathBuf>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "roster: {} rows ({} blank skipped), {} compared, {} rejected, {} to fix, {} noted",
            self.rows, self.blank_rows, self.compared, self.rejected, self.to_fix, self.noted
        )?;
        writeln!(
            f,
            "source: {}: {} records, {} of roster persons, {} unreadable",
            self.source, self.scan.records, self.scan.matched, self.scan.unreadable
        )?;
        for c in Class::ALL {
            writeln!(f, "  {:<8} {}", c.word(), self.classes[c.index()])?;
        }
        for a in Action::ALL {
            writeln!(f, "  -> {:<8} {}", a.word(), self.actions[a.index()])?;
        }
        for (rule, n) in &self.problems {
            writeln!(f, "  problem {rule}: {n}")?;
        }
        write!(
            f,
            "{:.2} s ({:.0} rows/s)",
            self.elapsed.as_secs_f64(),
            self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
        )
    }
}

/// The classified roster's columns after the roster's own.
pub const RESULT_HEADERS: [&str; 10] = [
    "比对结果",
    "待办事项",
    "社保卡号",
    "卡状态",
    "社保卡发卡银行",
    "社保卡金融账号",
    "状态日期",
    "制卡失败原因",
    "库存/睡眠/回收",
    "数据问题",
];

/// The rejects file's columns.
pub const REJECT_HEADERS: [&str; 9] =
    ["行号", "处理", "规则", "问题说明", "处理建议", "姓名", "身份证号(原值)", "镇街", "村(社区)"];

/// The action lists' columns.
pub const ACTION_HEADERS: [&str; 10] = [
    "镇街",
    "村(社区)",
    "待办事项",
    "姓名",
    "身份证号(隐去)",
    "手机号",
    "比对结果",
    "社保卡号",
    "社保卡发卡银行",
    "行号",
];

/// Column headers of the classified roster.
pub fn output_headers() -> Vec<&'static str> {
    let mut h = vec!["行号"];
    h.extend(Field::ALL.iter().map(|f| f.header()));
    h.extend(RESULT_HEADERS);
    h
}

/// A classified-roster output (a handful per run: size does not matter).
#[allow(clippy::large_enum_variant)]
enum Out {
    Csv(PathBuf, csv::Writer<BufWriter<File>>),
    Xlsx(crate::xlsx::SheetWriter),
}

impl Out {
    fn open(path: &Path, headers: &[&str]) -> Result<Out, RosterError> {
        if input::Format::of(path) == input::Format::Xlsx {
            return Ok(Out::Xlsx(crate::xlsx::SheetWriter::create(path, "比对结果", headers)?));
        }
        let mut w = csv_out(path)?;
        w.write_record(headers).map_err(csv_err(path))?;
        Ok(Out::Csv(path.to_path_buf(), w))
    }

    fn row(&mut self, fields: &[&str]) -> Result<(), RosterError> {
        match self {
            Out::Csv(p, w) => w.write_record(fields).map_err(csv_err(p)),
            Out::Xlsx(x) => x.row(fields),
        }
    }

    fn finish(self) -> Result<(), RosterError> {
        match self {
            Out::Csv(p, mut w) => w.flush().map_err(|e| RosterError::io(p.display().to_string(), e)),
            Out::Xlsx(x) => x.finish(),
        }
    }
}

/// Runs the comparison of `opts.roster` against `source`.
pub fn compare(opts: &Options, source: &dyn IssuanceRecords) -> Result<Summary, RosterError> {
    let start = Instant::now();
    let spool_dir = opts.rejects.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(spool_dir).map_err(|e| RosterError::io(spool_dir.display().to_string(), e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".roster-spool")
        .tempdir_in(spool_dir)
        .map_err(|e| RosterError::io(spool_dir.display().to_string(), e))?;
    let mut summary = Summary {
        source: source.describe(),
        rows: 0,
        blank_rows: 0,
        rejected: 0,
        to_fix: 0,
        noted: 0,
        compared: 0,
        classes: [0; 5],
        actions: [0; 6],
        problems: Vec::new(),
        scan: ScanStats::default(),
        elapsed: Duration::ZERO,
        passes: [Duration::ZERO; 3],
        files: Vec::new(),
    };

    // Pass 1: validate and spool.
    let spool_path = tmp.path().join("rows.csv");
    let wanted = pass_validate(opts, &spool_path, &mut summary)?;
    summary.files.push(opts.rejects.clone());
    summary.passes[0] = start.elapsed();

    // Pass 2: the issuance records of the wanted persons.
    let t = Instant::now();
    let index = source.find(&wanted)?;
    drop(wanted);
    summary.scan = index.stats.clone();
    summary.passes[1] = t.elapsed();

    // Pass 3: classify and write.
    let t = Instant::now();
    let today = crate::days::days(opts.rules.today);
    let mut report = Report::new(opts.rules.today, opts.deadlines.clone());
    let mut outs =
        opts.outputs.iter().map(|p| Out::open(p, &output_headers())).collect::<Result<Vec<_>, _>>()?;
    let mut actions = ActionSpool::new(tmp.path());
    let spool_err =
        |e: std::io::Error| RosterError::Output { path: spool_path.clone(), message: e.to_string() };
    let mut spool = Spool::open(&spool_path).map_err(spool_err)?;
    // One person's buffers, reused row after row.
    let mut person = Person {
        row: 0,
        key: IdKey::from_value(0).unwrap_or_else(|| unreachable!("0 is a key")),
        values: Default::default(),
        kind: Kind::Existing,
        deceased: false,
        problems: Vec::new(),
    };
    let (mut row, mut problems, mut date) = (String::new(), String::new(), String::new());
    while spool.read(&mut person).map_err(spool_err)? {
        let outcome = classify(&person, index.get(person.key), today, opts.dormant_days);
        summary.compared += 1;
        summary.classes[outcome.class.index()] += 1;
        if let Some(a) = outcome.action {
            summary.actions[a.index()] += 1;
        }
        report.add(&person, &outcome);
        let card = card_columns(outcome.card, &index, &mut date);
        row.clear();
        let _ = write!(row, "{}", person.row);
        problems.clear();
        for (i, p) in person.problems.iter().enumerate() {
            if i > 0 {
                problems.push(';');
            }
            problems.push_str(p);
        }
        let mut fields = [""; 1 + 13 + RESULT_HEADERS.len()];
        fields[0] = &row;
        for (f, v) in fields[1..14].iter_mut().zip(&person.values) {
            *f = v;
        }
        fields[14] = outcome.class.word();
        fields[15] = outcome.action.map_or("", Action::word);
        fields[16..22].copy_from_slice(&card);
        fields[22] = outcome.stock.words();
        fields[23] = &problems;
        for o in &mut outs {
            o.row(&fields)?;
        }
        if let Some(a) = outcome.action {
            let masked = mask(person.get(Field::Id));
            actions.push(
                person.get(Field::Township),
                &[
                    person.get(Field::Township),
                    person.get(Field::Village),
                    a.word(),
                    person.get(Field::Name),
                    &masked,
                    person.get(Field::Phone),
                    outcome.class.word(),
                    card[0],
                    card[2],
                    &row,
                ],
            )?;
        }
    }
    for o in outs {
        o.finish()?;
    }
    summary.files.extend(opts.outputs.iter().cloned());
    drop(index);
    summary.files.extend(actions.finish(&opts.actions, &report)?);
    if let Some(dir) = &opts.reports {
        summary.files.extend(report.write(dir)?);
    }
    summary.passes[2] = t.elapsed();
    summary.elapsed = start.elapsed();
    Ok(summary)
}

fn pass_validate(opts: &Options, spool_path: &Path, summary: &mut Summary) -> Result<Wanted, RosterError> {
    let stream = input::stream(&opts.roster, opts.sheet.as_deref(), opts.batch.max(1))?;
    let mut spool = BufWriter::with_capacity(
        1 << 20,
        File::create(spool_path).map_err(|e| RosterError::io(spool_path.display().to_string(), e))?,
    );
    let mut rejects = csv_out(&opts.rejects)?;
    rejects.write_record(REJECT_HEADERS).map_err(csv_err(&opts.rejects))?;
    let mut wanted = Wanted::default();
    let mut counts: HashMap<&'static str, u64> = HashMap::new();
    for batch in stream.rx.iter() {
        let rows = match batch {
            Batch::Rows(r) => r,
            Batch::Failed(e) => return Err(e),
        };
        let checked: Vec<_> =
            rows.par_iter().map(|r| (!r.is_blank()).then(|| check(r, &opts.rules))).collect();
        for (raw, c) in rows.iter().zip(checked) {
            let Some(mut c) = c else {
                summary.blank_rows += 1;
                continue;
            };
            summary.rows += 1;
            if let Some(p) = &c.person {
                match wanted.entry(p.key) {
                    std::collections::hash_map::Entry::Occupied(e) => {
                        c.problems.push(Problem::Duplicate { first_row: *e.get() });
                        c.person = None;
                    }
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(p.row);
                    }
                }
            }
            let worst = c.problems.iter().map(Problem::severity).max();
            match (&c.person, worst) {
                (None, _) => summary.rejected += 1,
                (Some(_), Some(Severity::Fix)) => summary.to_fix += 1,
                (Some(_), Some(Severity::Note)) => summary.noted += 1,
                _ => {}
            }
            // The row number as text only for a row with a line in the rejects file.
            let row = if c.problems.is_empty() { String::new() } else { raw.row.to_string() };
            for p in &c.problems {
                *counts.entry(p.rule()).or_default() += 1;
                let sev = if c.person.is_none() { Severity::Reject } else { p.severity() };
                rejects
                    .write_record([
                        row.as_str(),
                        sev.word(),
                        p.rule(),
                        &p.to_string(),
                        &p.hint(),
                        raw.get(Field::Name),
                        raw.get(Field::Id),
                        raw.get(Field::Township),
                        raw.get(Field::Village),
                    ])
                    .map_err(csv_err(&opts.rejects))?;
            }
            if let Some(p) = &c.person {
                spool_write(&mut spool, p)
                    .map_err(|e| RosterError::io(spool_path.display().to_string(), e))?;
            }
        }
    }
    rejects.flush().map_err(|e| RosterError::io(opts.rejects.display().to_string(), e))?;
    spool.flush().map_err(|e| RosterError::io(spool_path.display().to_string(), e))?;
    let mut problems: Vec<_> = counts.into_iter().collect();
    problems.sort();
    summary.problems = problems;
    Ok(wanted)
}

// The spool holds each compared person as written (native byte order, read back by the same
// process): row u32, key u64, kind u8 (1 new), deceased u8, the number of problems u8 and
// each one's index in ALL_RULES u8, then the 13 values, each as its length u32 and its bytes.

fn spool_write(w: &mut impl Write, p: &Person) -> std::io::Result<()> {
    w.write_all(&p.row.to_ne_bytes())?;
    w.write_all(&p.key.value().to_ne_bytes())?;
    w.write_all(&[u8::from(p.kind == Kind::New), u8::from(p.deceased), p.problems.len() as u8])?;
    for r in &p.problems {
        w.write_all(&[ALL_RULES.iter().position(|x| x == r).map_or(u8::MAX, |i| i as u8)])?;
    }
    for v in &p.values {
        w.write_all(&(v.len() as u32).to_ne_bytes())?;
        w.write_all(v.as_bytes())?;
    }
    Ok(())
}

/// The spool read back, one person at a time into the same buffers.
struct Spool {
    r: BufReader<File>,
    bytes: Vec<u8>,
}

impl Spool {
    fn open(path: &Path) -> std::io::Result<Spool> {
        Ok(Spool { r: BufReader::with_capacity(1 << 20, File::open(path)?), bytes: Vec::new() })
    }

    fn take<const N: usize>(&mut self) -> std::io::Result<[u8; N]> {
        let mut b = [0u8; N];
        self.r.read_exact(&mut b)?;
        Ok(b)
    }

    /// The next person into `p`; false at the end of the spool.
    fn read(&mut self, p: &mut Person) -> std::io::Result<bool> {
        let changed = || std::io::Error::other("the spool file was changed while the comparison ran");
        let mut row = [0u8; 4];
        match self.r.read(&mut row[..1])? {
            0 => return Ok(false),
            _ => self.r.read_exact(&mut row[1..])?,
        }
        p.row = u32::from_ne_bytes(row);
        p.key = IdKey::from_value(u64::from_ne_bytes(self.take()?)).ok_or_else(changed)?;
        let [kind, dead, n] = self.take()?;
        p.kind = if kind == 1 { Kind::New } else { Kind::Existing };
        p.deceased = dead == 1;
        self.bytes.resize(usize::from(n), 0);
        self.r.read_exact(&mut self.bytes)?;
        p.problems.clear();
        p.problems
            .extend(self.bytes.iter().map(|&i| ALL_RULES.get(usize::from(i)).copied().unwrap_or("other")));
        for v in &mut p.values {
            let len = u32::from_ne_bytes(self.take()?) as usize;
            self.bytes.resize(len, 0);
            self.r.read_exact(&mut self.bytes)?;
            v.clear();
            v.push_str(std::str::from_utf8(&self.bytes).map_err(|_| changed())?);
        }
        Ok(true)
    }
}

/// Every Fix and Note rule (what a compared row can carry).
const ALL_RULES: [&str; 12] = [
    "id-upgraded-15",
    "name-missing",
    "phone-missing",
    "phone-format",
    "amount-format",
    "date-format",
    "ethnicity-missing",
    "ethnicity-unknown",
    "township-missing",
    "account-format",
    "kind-unknown",
    "deceased-unknown",
];

/// Action rows spooled per township, sorted per township at the end.
struct ActionSpool {
    dir: PathBuf,
    files: HashMap<String, (usize, csv::Writer<BufWriter<File>>)>,
    overflow: Option<csv::Writer<BufWriter<File>>>,
}

/// Spool files open at once; townships beyond share one spool.
const MAX_OPEN_SPOOLS: usize = 256;

impl ActionSpool {
    fn new(dir: &Path) -> ActionSpool {
        ActionSpool { dir: dir.join("actions"), files: HashMap::new(), overflow: None }
    }

    fn push(&mut self, township: &str, fields: &[&str]) -> Result<(), RosterError> {
        let open = |p: PathBuf| -> Result<csv::Writer<BufWriter<File>>, RosterError> {
            // The directory once, with the first spool (not a path lookup per action).
            if let Some(dir) = p.parent().filter(|d| !d.exists()) {
                std::fs::create_dir_all(dir).map_err(|e| RosterError::io(dir.display().to_string(), e))?;
            }
            let f = File::create(&p).map_err(|e| RosterError::io(p.display().to_string(), e))?;
            Ok(csv::Writer::from_writer(BufWriter::with_capacity(64 * 1024, f)))
        };
        let n = self.files.len();
        let w = if let Some((_, w)) = self.files.get_mut(township) {
            w
        } else if n < MAX_OPEN_SPOOLS {
            let w = open(self.dir.join(format!("{n}.csv")))?;
            &mut self.files.entry(township.to_owned()).or_insert((n, w)).1
        } else {
            if self.overflow.is_none() {
                self.overflow = Some(open(self.dir.join("overflow.csv"))?);
            }
            self.overflow
                .as_mut()
                .ok_or_else(|| RosterError::io("action spool", std::io::ErrorKind::Other.into()))?
        };
        w.write_record(fields).map_err(csv_err(&self.dir))
    }

    /// Sorts each spool by village, action, row and writes `dir/<township>.csv`, plus the
    /// per-village summary.
    fn finish(mut self, dir: &Path, report: &Report) -> Result<Vec<PathBuf>, RosterError> {
        std::fs::create_dir_all(dir).map_err(|e| RosterError::io(dir.display().to_string(), e))?;
        let mut spools: Vec<PathBuf> = Vec::new();
        for (_, (n, mut w)) in self.files.drain() {
            w.flush().map_err(|e| RosterError::io(self.dir.display().to_string(), e))?;
            spools.push(self.dir.join(format!("{n}.csv")));
        }
        if let Some(mut w) = self.overflow.take() {
            w.flush().map_err(|e| RosterError::io(self.dir.display().to_string(), e))?;
            spools.push(self.dir.join("overflow.csv"));
        }
        let mut written = Vec::new();
        let order = |a: &str| Action::ALL.iter().position(|x| x.word() == a).unwrap_or(usize::MAX);
        for spool in spools {
            // The spool's lines are already as the list writes them (the same CSV writer):
            // each is kept as its bytes with its sort key, and copied out in order.
            let bytes = std::fs::read(&spool).map_err(|e| RosterError::io(spool.display().to_string(), e))?;
            let mut rdr = csv::ReaderBuilder::new().has_headers(false).from_reader(bytes.as_slice());
            let mut rec = csv::StringRecord::new();
            let mut rows: Vec<(String, String, usize, u64, std::ops::Range<usize>)> = Vec::new();
            let mut start = 0;
            while rdr.read_record(&mut rec).map_err(csv_err(&spool))? {
                let end = rdr.position().byte() as usize;
                let field = |i: usize| rec.get(i).unwrap_or_default();
                rows.push((
                    field(0).to_owned(),
                    field(1).to_owned(),
                    order(field(2)),
                    field(9).parse::<u64>().unwrap_or(0),
                    start..end,
                ));
                start = end;
            }
            rows.sort_by(|(at, av, ao, an, _), (bt, bv, bo, bn, _)| (at, av, ao, an).cmp(&(bt, bv, bo, bn)));
            for group in rows.chunk_by(|a, b| a.0 == b.0) {
                let path = dir.join(format!("{}.csv", file_name(&group[0].0)));
                let io = |e| RosterError::io(path.display().to_string(), e);
                let mut w = csv_out(&path)?;
                w.write_record(ACTION_HEADERS).map_err(csv_err(&path))?;
                let mut w = w.into_inner().map_err(|e| io(e.into_error()))?;
                for (.., line) in group {
                    w.write_all(&bytes[line.clone()]).map_err(io)?;
                }
                w.flush().map_err(io)?;
                written.push(path);
            }
        }
        let path = dir.join("汇总.csv");
        let mut w = csv_out(&path)?;
        let mut h = vec!["镇街", "村(社区)"];
        h.extend(Action::ALL.iter().map(|a| a.word()));
        w.write_record(&h).map_err(csv_err(&path))?;
        for (town, agg) in &report.towns {
            for (village, counts) in &agg.villages {
                let mut r = vec![town.clone(), village.clone()];
                r.extend(counts.iter().map(u64::to_string));
                w.write_record(&r).map_err(csv_err(&path))?;
            }
        }
        w.flush().map_err(|e| RosterError::io(path.display().to_string(), e))?;
        written.push(path);
        Ok(written)
    }
}

/// A township name as a file name: path separators and control characters replaced; an
/// empty name is "(未填镇街)".
pub fn file_name(township: &str) -> String {
    if township.is_empty() {
        return "(未填镇街)".into();
    }
    township
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .take(60)
        .collect()
}
