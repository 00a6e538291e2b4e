//! Reading rosters: CSV (UTF-8, or GBK/GB 18030 as Excel saves it on Chinese Windows) and
//! XLSX, with the columns of the Sishui basic-information table (泗水县"一卡通"发放基础信息表,
//! workflows.md FLOW D) named in Chinese or English.
//!
//! A reader thread parses the file and hands batches of rows over a bounded channel, so the
//! file is never in memory whole and parsing overlaps validation.

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

use crate::RosterError;

/// A column of the roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// 姓名 (required column).
    Name,
    /// 身份证号 (required column).
    Id,
    /// 民族.
    Ethnicity,
    /// 手机号.
    Phone,
    /// 镇街 (township or street office).
    Township,
    /// 村（社区）.
    Village,
    /// 开户行: the bank the department pays through today.
    Bank,
    /// 银行卡号: the account the department pays to today.
    Account,
    /// 补贴额, in yuan.
    Amount,
    /// 预计发放时间.
    ExpectedDate,
    /// 补贴项目: the subsidy item (optional, carried through).
    Item,
    /// 领待类别: 新增 (new) or 存量 (existing) beneficiary, for the usage-rate targets.
    Kind,
    /// 是否死亡: a death marker the department may already know.
    Deceased,
}

impl Field {
    /// Every field, in output order.
    pub const ALL: [Field; 13] = [
        Field::Name,
        Field::Id,
        Field::Ethnicity,
        Field::Phone,
        Field::Township,
        Field::Village,
        Field::Bank,
        Field::Account,
        Field::Amount,
        Field::ExpectedDate,
        Field::Item,
        Field::Kind,
        Field::Deceased,
    ];

    /// The header the station writes (the Sishui table's, where it has one).
    pub fn header(self) -> &'static str {
        self.aliases()[0]
    }

    /// Accepted headers, compared after [`normalize_header`]. The first is the canonical one.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::Name => &["姓名", "name", "持卡人姓名"],
            Field::Id => {
                &["身份证号", "身份证号码", "公民身份号码", "证件号码", "社会保障号码", "id_number", "ssn"]
            }
            Field::Ethnicity => &["民族", "ethnicity"],
            Field::Phone => &["手机号", "手机号码", "联系电话", "电话", "phone", "mobile"],
            Field::Township => &["镇街", "乡镇", "乡镇(街道)", "镇(街道)", "街道", "township"],
            Field::Village => &["村(社区)", "村", "社区", "村居", "village"],
            Field::Bank => &["开户行", "开户银行", "发放银行", "bank"],
            Field::Account => &["银行卡号", "发放账号", "银行账号", "账号", "account"],
            Field::Amount => &["补贴额", "补贴金额", "补贴标准", "金额", "amount"],
            Field::ExpectedDate => &["预计发放时间", "发放时间", "预计发放日期", "expected_date"],
            Field::Item => &["补贴项目", "补贴资金项目名称", "项目名称", "item"],
            Field::Kind => &["领待类别", "人员类别", "类别", "beneficiary"],
            Field::Deceased => &["是否死亡", "死亡标识", "生存状态", "deceased"],
        }
    }

    /// Position in [`Field::ALL`] (declared in that order).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A header as compared: no spaces, no "(必填)"/"(非必填)"/"*" marks, half-width brackets,
/// lower case. "村（社区）\n（非必填）" becomes "村(社区)".
pub fn normalize_header(h: &str) -> String {
    let mut s: String = h
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '*')
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    for mark in ["(必填)", "(非必填)", "(选填)"] {
        s = s.replace(mark, "");
    }
    s
}

/// Which column of the file holds each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    at: [Option<usize>; 13],
}

impl Columns {
    /// Maps a header row; the name and ID columns must be there. Unknown columns are ignored.
    pub fn from_headers<S: AsRef<str>>(headers: &[S]) -> Result<Columns, RosterError> {
        let norm: Vec<String> = headers.iter().map(|h| normalize_header(h.as_ref())).collect();
        let mut at = [None; 13];
        for f in Field::ALL {
            let wanted: Vec<String> = f.aliases().iter().map(|a| normalize_header(a)).collect();
            at[f.index()] = norm.iter().position(|h| wanted.contains(h));
        }
        for f in [Field::Name, Field::Id] {
            if at[f.index()].is_none() {
                return Err(RosterError::MissingColumn {
                    column: f.header(),
                    found: headers
                        .iter()
                        .map(|h| h.as_ref().trim().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        Ok(Columns { at })
    }

    /// The file column of `field`, if present.
    pub fn column(&self, field: Field) -> Option<usize> {
        self.at[field.index()]
    }
}

/// One roster row as read: the row number the operator sees in Excel (header = row 1) and
/// each field's text, trimmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRow {
    /// 1-based row (CSV: line of the record's start; XLSX: sheet row).
    pub row: u32,
    /// Text per field, in [`Field::ALL`] order; empty when the column is missing.
    pub values: [String; 13],
    /// True when the spreadsheet held the ID number as a number (digits beyond 15 lost).
    pub id_was_number: bool,
}

impl RawRow {
    /// A field's text.
    pub fn get(&self, f: Field) -> &str {
        &self.values[f.index()]
    }

    /// True when every field is empty (template rows at the end of a sheet).
    pub fn is_blank(&self) -> bool {
        self.values.iter().all(String::is_empty)
    }
}

/// What the reader thread sends.
pub(crate) enum Batch {
    Rows(Vec<RawRow>),
    Failed(RosterError),
}

/// The reader thread: batches of rows, then the end of the channel.
pub(crate) struct RowStream {
    pub(crate) rx: Receiver<Batch>,
    pub(crate) handle: Option<JoinHandle<()>>,
}

impl Drop for RowStream {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            // The thread ends once the channel is gone; a panic there was already reported.
            drop(std::mem::replace(&mut self.rx, sync_channel(1).1));
            let _ = h.join();
        }
    }
}

/// Roster file kinds, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated, UTF-8 or GBK.
    Csv,
    /// Excel 2007+.
    Xlsx,
}

impl Format {
    /// `.xlsx`/`.xlsm` are XLSX; everything else is read as CSV.
    pub fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("xlsx" | "xlsm") => Format::Xlsx,
            _ => Format::Csv,
        }
    }
}

/// Opens a roster and starts reading it on its own thread; the header is checked before
/// this returns, so a file without the required columns fails at once.
pub(crate) fn stream(path: &Path, sheet: Option<&str>, batch: usize) -> Result<RowStream, RosterError> {
    let (hdr_tx, hdr_rx) = sync_channel::<Result<(), RosterError>>(1);
    let (tx, rx) = sync_channel::<Batch>(4);
    let path: PathBuf = path.to_path_buf();
    let sheet = sheet.map(str::to_owned);
    let handle = std::thread::Builder::new()
        .name("roster-reader".into())
        .spawn(move || {
            let sent_header = std::cell::Cell::new(false);
            let header_ok = |r: Result<(), RosterError>| {
                sent_header.set(true);
                hdr_tx.send(r).is_ok()
            };
            let mut sink = |b: Batch| tx.send(b).is_ok();
            let result = File::open(&path)
                .map_err(|e| RosterError::io(path.display().to_string(), e))
                .and_then(|file| {
                    let source = BufReader::with_capacity(1 << 20, file);
                    read_source(
                        source,
                        Format::of(&path),
                        &path,
                        sheet.as_deref(),
                        batch,
                        &header_ok,
                        &mut sink,
                    )
                });
            if let Err(e) = result {
                if sent_header.get() {
                    let _ = tx.send(Batch::Failed(e));
                } else {
                    let _ = hdr_tx.send(Err(e));
                }
            }
        })
        .map_err(|e| RosterError::io("starting the roster reader", e))?;
    match hdr_rx.recv() {
        Ok(Ok(())) => Ok(RowStream { rx, handle: Some(handle) }),
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(e)
        }
        Err(_) => {
            let _ = handle.join();
            Err(RosterError::Input { path: PathBuf::new(), message: "the roster reader stopped".into() })
        }
    }
}

/// Where read rows go, a batch at a time; false when nobody takes them any more.
type Sink<'a> = &'a mut dyn FnMut(Batch) -> bool;

/// Receives a table's rows from the readers ([`read_table`]): the header row first, then
/// every row after it. Other crates read their own tables (subsidy item registers, bank
/// return files) with the roster's CSV/GBK/XLSX readers through this.
pub trait TableSink {
    /// The header row (in XLSX the first non-empty row); `Ok(false)` stops reading.
    fn header(&mut self, headers: &[String]) -> Result<bool, RosterError>;
    /// A row after the header: its number as the operator sees it (header = row 1 in CSV,
    /// the sheet row in XLSX) and its cells, each trimmed text and whether the spreadsheet
    /// held it as a number; `Ok(false)` stops reading.
    fn row(&mut self, row: u32, cells: &[(String, bool)]) -> Result<bool, RosterError>;
}

/// Reads any table (CSV in UTF-8 or GBK, or an XLSX sheet, by the file's extension) with the
/// roster's readers, on this thread, into `sink`.
pub fn read_table(path: &Path, sheet: Option<&str>, sink: &mut dyn TableSink) -> Result<(), RosterError> {
    let file = File::open(path).map_err(|e| RosterError::io(path.display().to_string(), e))?;
    scan_source(BufReader::with_capacity(1 << 20, file), Format::of(path), path, sheet, sink)
}

/// Like [`read_table`], for a table held in memory (`name`: its file name, whose extension
/// says CSV or XLSX, and what errors call it): an upload is read where it is, never written
/// to a file first.
pub fn read_table_bytes(
    bytes: &[u8],
    name: &str,
    sheet: Option<&str>,
    sink: &mut dyn TableSink,
) -> Result<(), RosterError> {
    let path = Path::new(name);
    scan_source(std::io::Cursor::new(bytes), Format::of(path), path, sheet, sink)
}

/// The roster's own rows: columns mapped by [`Columns`], rows sent in batches.
struct RosterSink<'a, 'b> {
    cols: Option<Columns>,
    rows: Vec<RawRow>,
    batch: usize,
    header_ok: &'a dyn Fn(Result<(), RosterError>) -> bool,
    sink: Sink<'b>,
}

impl TableSink for RosterSink<'_, '_> {
    fn header(&mut self, headers: &[String]) -> Result<bool, RosterError> {
        self.cols = Some(Columns::from_headers(headers)?);
        Ok((self.header_ok)(Ok(())))
    }

    fn row(&mut self, row: u32, cells: &[(String, bool)]) -> Result<bool, RosterError> {
        let Some(c) = &self.cols else { return Ok(true) };
        let mut raw = RawRow { row, ..RawRow::default() };
        for f in Field::ALL {
            if let Some((v, num)) = c.column(f).and_then(|i| cells.get(i)) {
                raw.values[f.index()].clone_from(v);
                if f == Field::Id {
                    raw.id_was_number = *num;
                }
            }
        }
        self.rows.push(raw);
        if self.rows.len() >= self.batch {
            let full = std::mem::replace(&mut self.rows, Vec::with_capacity(self.batch));
            return Ok((self.sink)(Batch::Rows(full)));
        }
        Ok(true)
    }
}

/// Reads a roster of `format` from `source` (`path` names it in errors) into `sink`.
fn read_source<R: Read + Seek>(
    source: R,
    format: Format,
    path: &Path,
    sheet: Option<&str>,
    batch: usize,
    header_ok: &dyn Fn(Result<(), RosterError>) -> bool,
    sink: Sink<'_>,
) -> Result<(), RosterError> {
    let mut rs = RosterSink { cols: None, rows: Vec::with_capacity(batch), batch, header_ok, sink };
    scan_source(source, format, path, sheet, &mut rs)?;
    if !rs.rows.is_empty() {
        (rs.sink)(Batch::Rows(std::mem::take(&mut rs.rows)));
    }
    Ok(())
}

/// Reads a table of `format` from `source` (`path` names it in errors) into `sink`.
fn scan_source<R: Read + Seek>(
    source: R,
    format: Format,
    path: &Path,
    sheet: Option<&str>,
    sink: &mut dyn TableSink,
) -> Result<(), RosterError> {
    match format {
        Format::Csv => scan_csv(source, path, sink),
        // calamine can still panic on a hostile workbook (an overflowing dimension, found by
        // fuzz/); the panic stays here and becomes the file's error.
        Format::Xlsx => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            scan_xlsx(source, path, sheet, &mut *sink)
        }))
        .unwrap_or_else(|_| {
            Err(RosterError::Input {
                path: path.to_path_buf(),
                message: "the workbook is malformed (its XLSX structure cannot be read): open it in Excel \
                          or WPS, save it again as .xlsx, and retry"
                    .into(),
            })
        }),
    }
}

fn scan_csv<R: Read>(source: R, path: &Path, sink: &mut dyn TableSink) -> Result<(), RosterError> {
    let reader =
        crate::text::Utf8Reader::new(source).map_err(|e| RosterError::io(path.display().to_string(), e))?;
    let mut rdr = csv::ReaderBuilder::new().flexible(true).has_headers(true).from_reader(reader);
    let bad = |e: csv::Error| RosterError::Input { path: path.to_path_buf(), message: e.to_string() };
    let headers: Vec<String> = rdr.headers().map_err(bad)?.iter().map(str::to_owned).collect();
    if !sink.header(&headers)? {
        return Ok(());
    }
    let mut rec = csv::StringRecord::new();
    let mut cells: Vec<(String, bool)> = Vec::new();
    let mut last_row = 1; // the header
    while rdr.read_record(&mut rec).map_err(bad)? {
        // Lines count LF only: after a bare CR (old Mac line ends, stray bytes) two records
        // would share a number; each row gets its own, as in a spreadsheet.
        let line = rec.position().map_or(0, |p| p.line()) as u32;
        last_row = line.max(last_row + 1);
        // The cells' buffers are reused from row to row.
        cells.resize_with(rec.len(), Default::default);
        for (cell, v) in cells.iter_mut().zip(rec.iter()) {
            cell.0.clear();
            cell.0.push_str(v.trim());
        }
        if !sink.row(last_row, &cells)? {
            return Ok(());
        }
    }
    Ok(())
}

fn scan_xlsx<R: Read + Seek>(
    source: R,
    path: &Path,
    sheet: Option<&str>,
    sink: &mut dyn TableSink,
) -> Result<(), RosterError> {
    use calamine::{DataRef, Reader, Xlsx};
    let bad = |m: String| RosterError::Input { path: path.to_path_buf(), message: m };
    let mut wb: Xlsx<_> = Xlsx::new(source).map_err(|e| bad(e.to_string()))?;
    let name = match sheet {
        Some(s) => s.to_owned(),
        None => wb.sheet_names().first().cloned().ok_or_else(|| bad("the workbook has no sheet".into()))?,
    };
    let mut cells = wb.worksheet_cells_reader(&name).map_err(|e| bad(e.to_string()))?;
    let mut current: Option<u32> = None;
    let mut line: Vec<(String, bool)> = Vec::new();
    let mut seen_header = false;
    let text = |v: &DataRef<'_>| -> (String, bool) {
        match v {
            DataRef::Int(i) => (i.to_string(), true),
            DataRef::Float(f) => (float_text(*f), true),
            DataRef::String(s) => (s.trim().to_owned(), false),
            DataRef::SharedString(s) => (s.trim().to_owned(), false),
            DataRef::Bool(b) => ((if *b { "是" } else { "否" }).to_owned(), false),
            DataRef::DateTime(d) => (
                crate::days::from_excel_serial(d.as_f64())
                    .map_or_else(|| d.as_f64().to_string(), |d| d.to_string()),
                false,
            ),
            DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => (s.clone(), false),
            DataRef::Error(e) => (format!("#{e}"), false),
            DataRef::Empty => (String::new(), false),
        }
    };
    // Hands the finished row `r` over; returns false when the receiver wants no more.
    let mut flush =
        |r: u32, line: &mut Vec<(String, bool)>, seen_header: &mut bool| -> Result<bool, RosterError> {
            let cells = std::mem::take(line);
            if !*seen_header {
                if cells.iter().all(|(s, _)| s.is_empty()) {
                    return Ok(true);
                }
                *seen_header = true;
                let headers: Vec<String> = cells.into_iter().map(|(s, _)| s).collect();
                return sink.header(&headers);
            }
            sink.row(r + 1, &cells)
        };
    while let Some(cell) = cells.next_cell().map_err(|e| bad(e.to_string()))? {
        let (r, c) = cell.get_position();
        if current != Some(r) {
            if let Some(prev) = current {
                if !flush(prev, &mut line, &mut seen_header)? {
                    return Ok(());
                }
            }
            current = Some(r);
        }
        let c = c as usize;
        if line.len() <= c {
            line.resize(c + 1, (String::new(), false));
        }
        line[c] = text(cell.get_value());
    }
    if let Some(prev) = current {
        if !flush(prev, &mut line, &mut seen_header)? {
            return Ok(());
        }
    }
    if !seen_header {
        return Err(bad(format!("sheet '{name}' has no header row")));
    }
    Ok(())
}

/// A number cell as text: integers without ".0" (phone numbers, amounts), others as written.
fn float_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Reads a roster held in memory (an upload, a fuzzer's input) on this thread, with the same
/// readers as a file; `format` says how to read it.
pub fn read_bytes(bytes: &[u8], format: Format, sheet: Option<&str>) -> Result<Vec<RawRow>, RosterError> {
    let mut out = Vec::new();
    let mut failed = None;
    let mut sink = |b: Batch| match b {
        Batch::Rows(r) => {
            out.extend(r);
            true
        }
        Batch::Failed(e) => {
            failed = Some(e);
            false
        }
    };
    read_source(
        Cursor::new(bytes),
        format,
        Path::new("(in memory)"),
        sheet,
        1024,
        &|r| r.is_ok(),
        &mut sink,
    )?;
    failed.map_or(Ok(out), Err)
}

/// Reads all of a roster into memory; for tests and small files.
pub fn read_all(path: &Path, sheet: Option<&str>) -> Result<Vec<RawRow>, RosterError> {
    let s = stream(path, sheet, 1024)?;
    let mut out = Vec::new();
    for b in s.rx.iter() {
        match b {
            Batch::Rows(r) => out.extend(r),
            Batch::Failed(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sishui_headers_with_marks_are_recognised() {
        let h = [
            "姓名\n（必填）",
            "身份证号（必填）",
            "民族",
            "手机号",
            "镇街",
            "村（社区）\n（非必填）",
            "开户行",
            "银行卡号",
            "补贴额",
            "预计发放时间",
        ];
        let c = Columns::from_headers(&h).expect("columns");
        assert_eq!(c.column(Field::Name), Some(0));
        assert_eq!(c.column(Field::Village), Some(5));
        assert_eq!(c.column(Field::ExpectedDate), Some(9));
        assert_eq!(c.column(Field::Kind), None);
        let e = Columns::from_headers(&["name", "phone"]).expect_err("no ID column");
        assert!(e.to_string().contains("身份证号"), "{e}");
        let c = Columns::from_headers(&["\u{feff}Name", "SSN", "Township"]).expect("english");
        assert_eq!(c.column(Field::Id), Some(1));
    }

    /// Found by `fuzz/` (roster_csv): records ended by a bare CR shared a row number.
    #[test]
    fn rows_ended_by_a_bare_cr_get_their_own_numbers() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("cr.csv");
        std::fs::write(&path, "姓名,身份证号\r张三,1\r李四,2\n王五,3\n").expect("write");
        let rows: Vec<u32> = read_all(&path, None).expect("read").iter().map(|r| r.row).collect();
        assert_eq!(rows, [2, 3, 4]);
    }

    /// A roster in memory reads as the same file does: the same rows, numbers and values.
    #[test]
    fn a_roster_in_memory_reads_as_its_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = crate::generate::scenario();
        for (name, format) in [("r.csv", Format::Csv), ("r.xlsx", Format::Xlsx)] {
            let path = dir.path().join(name);
            match format {
                Format::Csv => crate::generate::write_scenario_csv(&path, &s).expect("csv"),
                Format::Xlsx => crate::generate::write_scenario_xlsx(&path, &s, Some(3)).expect("xlsx"),
            }
            let from_file = read_all(&path, None).expect("file");
            let bytes = std::fs::read(&path).expect("bytes");
            assert!(from_file.len() > 10, "{name}: {} rows", from_file.len());
            assert_eq!(read_bytes(&bytes, format, None).expect("memory"), from_file, "{name}");
        }
        let e = read_bytes(b"name,phone\n", Format::Csv, None).expect_err("no ID column");
        assert!(e.to_string().contains("身份证号"), "{e}");
    }

    #[test]
    fn fields_are_declared_in_output_order() {
        for (i, f) in Field::ALL.iter().enumerate() {
            assert_eq!(f.index(), i, "{f:?}");
        }
    }

    #[test]
    fn numbers_as_text() {
        assert_eq!(float_text(13_800_138_000.0), "13800138000");
        assert_eq!(float_text(120.5), "120.5");
    }
}
