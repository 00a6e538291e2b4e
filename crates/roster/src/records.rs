//! Issuance records: what the card system knows of each person's cards.
//!
//! [`IssuanceRecords`] is the one thing the comparison needs from a source: scan once and
//! keep the records of the persons on the roster. Joining that way builds the hash table on
//! the small side (the roster's keys) and streams the big side (millions of records) past
//! it, so memory follows the roster, not the card system. Two sources:
//!
//! - [`IssuanceFile`]: an export of the card system (the province's, or a bank's return
//!   files merged), CSV, read in parallel blocks. Columns (header names, any order, extra
//!   columns ignored):
//!
//!   | column | required | meaning |
//!   |---|---|---|
//!   | `ssn` (or 身份证号) | yes | 18-character resident ID number |
//!   | `status` (or 卡状态) | yes | `made` `issued` `active` `stopped` `recalled` `cancelled` `failed` (or 已制卡 已发放 已激活 停用 回收 注销 制卡失败) |
//!   | `card_number` (社保卡号) | no | 9-character card number |
//!   | `bank` (发卡银行) | no | the card's bank |
//!   | `account` (金融账号) | no | the card's financial account |
//!   | `status_date` (状态日期) | no | day the card entered its status, `YYYY-MM-DD` |
//!   | `deceased` (是否死亡) | no | `1`/`0`, `true`/`false`, 是/否 |
//!   | `failure_reason` (失败原因) | no | why the making failed |
//!
//!   One line per card; a person with an old stopped card and a new one has two lines.
//!   Fields must not contain line breaks (blocks are cut at line ends).
//! - [`ArchiveRecords`]: the station's local SQLite archive (`cards`, and failed applications
//!   that never produced a card), opened read-only, optionally with the provincial SQLite
//!   archive beside it for deaths and for cards other stations made.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use archive::CardStatus;
use rayon::prelude::*;

use crate::days;
use crate::key::{IdKey, KeyFilter, KeyMap};
use crate::RosterError;

/// The persons whose records are wanted, with the roster row where each first appears.
pub type Wanted = KeyMap<u32>;

/// One card of a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// Card number (may be empty for a making that failed before a number was given).
    pub number: Box<str>,
    /// Where the card is in its life.
    pub status: CardStatus,
    /// Index into [`MatchIndex::bank`]; 0 is "unknown".
    pub bank: u16,
    /// The financial account on the card.
    pub account: Option<Box<str>>,
    /// Day (see [`crate::days`]) the card entered its status.
    pub since: Option<i32>,
    /// Why the making failed.
    pub failure: Option<Box<str>>,
}

/// Everything the source knows of one person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonRecord {
    /// The person's cards, one per card number.
    pub cards: Vec<Card>,
    /// Recorded deceased.
    pub deceased: bool,
}

impl PersonRecord {
    /// The live card (made, issued or active); the most recent if the source has two.
    pub fn live(&self) -> Option<&Card> {
        self.cards.iter().filter(|c| c.status.is_live()).max_by_key(|c| c.since)
    }

    /// The most recent card that is not live.
    pub fn last_ended(&self) -> Option<&Card> {
        self.cards.iter().filter(|c| !c.status.is_live()).max_by_key(|c| c.since)
    }

    /// Adds a card; the same card number seen again keeps the later status and fills in
    /// what the earlier record lacked (local and provincial archives overlap).
    pub fn add(&mut self, card: Card) {
        if !card.number.is_empty() {
            if let Some(old) = self.cards.iter_mut().find(|c| c.number == card.number) {
                let newer = card.since >= old.since;
                let Card { status, bank, account, since, failure, .. } = card;
                if newer {
                    old.status = status;
                    old.since = since;
                }
                if old.bank == 0 {
                    old.bank = bank;
                }
                if old.account.is_none() {
                    old.account = account;
                }
                if old.failure.is_none() {
                    old.failure = failure;
                }
                return;
            }
        }
        self.cards.push(card);
    }
}

/// What a scan of the source saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Records read.
    pub records: u64,
    /// Records of persons on the roster.
    pub matched: u64,
    /// Records that could not be read (bad ID number, unknown status); never matched.
    pub unreadable: u64,
    /// The first few unreadable records: line and reason.
    pub unreadable_examples: Vec<(u64, String)>,
}

impl ScanStats {
    fn unreadable(&mut self, line: u64, why: String) {
        self.unreadable += 1;
        if self.unreadable_examples.len() < 20 {
            self.unreadable_examples.push((line, why));
        }
    }
}

/// The records of the wanted persons, looked up by ID number.
#[derive(Debug, Default)]
pub struct MatchIndex {
    persons: KeyMap<PersonRecord>,
    banks: Vec<Box<str>>,
    bank_ids: std::collections::HashMap<Box<str>, u16>,
    /// What the scan saw.
    pub stats: ScanStats,
}

impl MatchIndex {
    /// An empty index (bank 0 is the empty name).
    pub fn new() -> MatchIndex {
        MatchIndex { banks: vec!["".into()], ..MatchIndex::default() }
    }

    /// The record of a person, if the source has one.
    pub fn get(&self, key: IdKey) -> Option<&PersonRecord> {
        self.persons.get(&key)
    }

    /// The name of bank `id`.
    pub fn bank(&self, id: u16) -> &str {
        self.banks.get(usize::from(id)).map_or("", |b| b)
    }

    /// Persons found.
    pub fn len(&self) -> usize {
        self.persons.len()
    }

    /// True when nobody was found.
    pub fn is_empty(&self) -> bool {
        self.persons.is_empty()
    }

    /// Interns a bank name (at most 65 535 distinct names; more share the last slot).
    pub fn bank_id(&mut self, name: &str) -> u16 {
        if name.is_empty() {
            return 0;
        }
        if let Some(&id) = self.bank_ids.get(name) {
            return id;
        }
        let id = u16::try_from(self.banks.len()).unwrap_or(u16::MAX);
        if id < u16::MAX {
            self.banks.push(name.into());
            self.bank_ids.insert(name.into(), id);
        }
        id
    }

    /// Adds a card of `key`, or marks the person deceased.
    pub fn add(&mut self, key: IdKey, card: Option<Card>, deceased: bool) {
        let p = self.persons.entry(key).or_default();
        p.deceased |= deceased;
        if let Some(c) = card {
            p.add(c);
        }
    }
}

/// A source of issuance records.
pub trait IssuanceRecords: Send + Sync {
    /// What the source is, for the report.
    fn describe(&self) -> String;

    /// Scans the source once and returns the records of the `wanted` persons only.
    fn find(&self, wanted: &Wanted) -> Result<MatchIndex, RosterError>;

    /// The record of one person (a scan for one key: for checks, not for rosters).
    fn lookup(&self, ssn: &str) -> Result<Option<PersonRecord>, RosterError> {
        let Some(key) = IdKey::from_checked_bytes(ssn.as_bytes()) else { return Ok(None) };
        let mut wanted = Wanted::default();
        wanted.insert(key, 0);
        Ok(self.find(&wanted)?.persons.remove(&key))
    }
}

/// Status words of the issuance file, English or Chinese.
pub fn parse_status(s: &str) -> Option<CardStatus> {
    CardStatus::parse(s).or(match s {
        "已制卡" | "制卡成功" | "待领卡" => Some(CardStatus::Made),
        "已发放" | "已领卡" => Some(CardStatus::Issued),
        "已激活" | "正常" => Some(CardStatus::Active),
        "停用" | "已停用" | "挂失" => Some(CardStatus::Stopped),
        "回收" | "已回收" => Some(CardStatus::Recalled),
        "注销" | "已注销" => Some(CardStatus::Cancelled),
        "制卡失败" | "失败" => Some(CardStatus::Failed),
        _ => None,
    })
}

fn parse_flag(s: &[u8]) -> bool {
    matches!(s, b"1" | b"true" | b"TRUE" | b"Y" | b"y" | b"yes")
        || s == "是".as_bytes()
        || s == "死亡".as_bytes()
}

/// An issuance export file (CSV, see the module docs for its columns).
#[derive(Debug, Clone)]
pub struct IssuanceFile {
    path: PathBuf,
    block: usize,
}

/// Column positions of the issuance file.
#[derive(Debug, Clone, Copy)]
struct FileColumns {
    ssn: usize,
    status: usize,
    card_number: Option<usize>,
    bank: Option<usize>,
    account: Option<usize>,
    status_date: Option<usize>,
    deceased: Option<usize>,
    failure: Option<usize>,
}

impl FileColumns {
    /// Fields a record is read up to: one past the last column used.
    fn count(&self) -> usize {
        [
            Some(self.ssn),
            Some(self.status),
            self.card_number,
            self.bank,
            self.account,
            self.status_date,
            self.deceased,
            self.failure,
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0)
            + 1
    }

    fn from_header(h: &csv::StringRecord, path: &Path) -> Result<FileColumns, RosterError> {
        let find = |names: &[&str]| {
            h.iter().position(|c| {
                let c = c.trim().trim_start_matches('\u{feff}');
                names.iter().any(|n| n.eq_ignore_ascii_case(c))
            })
        };
        let need = |names: &[&str]| {
            find(names).ok_or_else(|| RosterError::Input {
                path: path.to_path_buf(),
                message: format!("the issuance file has no '{}' column", names[0]),
            })
        };
        Ok(FileColumns {
            ssn: need(&["ssn", "身份证号", "社会保障号码"])?,
            status: need(&["status", "卡状态"])?,
            card_number: find(&["card_number", "社保卡号", "卡号"]),
            bank: find(&["bank", "发卡银行"]),
            account: find(&["account", "金融账号"]),
            status_date: find(&["status_date", "状态日期"]),
            deceased: find(&["deceased", "是否死亡"]),
            failure: find(&["failure_reason", "失败原因"]),
        })
    }
}

/// One matched line of the file, before its bank is interned.
#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    key: IdKey,
    number: Box<str>,
    status: CardStatus,
    bank: Box<str>,
    account: Option<Box<str>>,
    since: Option<i32>,
    failure: Option<Box<str>>,
    deceased: bool,
}

impl IssuanceFile {
    /// The file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> IssuanceFile {
        IssuanceFile { path: path.into(), block: 8 << 20 }
    }

    /// Sets the block size of the parallel reader (tests use small blocks).
    pub fn with_block_size(mut self, bytes: usize) -> IssuanceFile {
        self.block = bytes.max(64);
        self
    }

    /// Parses one block of whole lines; `first_line` numbers them for messages. A block
    /// without quotes or bare carriage returns (the usual export) is cut at commas byte by
    /// byte ([`IssuanceFile::parse_plain_block`]); any other goes through the CSV reader.
    fn parse_block(
        block: &[u8],
        cols: FileColumns,
        wanted: &KeyFilter<'_, u32>,
        first_line: u64,
    ) -> (Vec<Parsed>, u64, Vec<(u64, String)>) {
        if is_plain(block) {
            IssuanceFile::parse_plain_block(block, cols, wanted, first_line)
        } else {
            IssuanceFile::parse_csv_block(block, cols, wanted, first_line)
        }
    }

    /// A block read by the CSV reader (quoted fields, bare CR line ends).
    fn parse_csv_block(
        block: &[u8],
        cols: FileColumns,
        wanted: &KeyFilter<'_, u32>,
        first_line: u64,
    ) -> (Vec<Parsed>, u64, Vec<(u64, String)>) {
        let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(block);
        let mut rec = csv::ByteRecord::new();
        let mut out = Vec::new();
        let mut n = 0u64;
        let mut bad = Vec::new();
        // The line of a record's first byte: LFs counted up to it, past the line ends and blank
        // lines the reader skipped (after a CRLF the reader's own line is still the CR's).
        let (mut at, mut line) = (0usize, first_line);
        loop {
            match rdr.read_byte_record(&mut rec) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    bad.push((first_line + n, e.to_string()));
                    n += 1;
                    continue;
                }
            }
            let mut start = rec.position().map_or(at, |p| p.byte() as usize).clamp(at, block.len());
            while block.get(start).is_some_and(|b| matches!(b, b'\r' | b'\n')) {
                start += 1;
            }
            line += memchr::memchr_iter(b'\n', &block[at..start]).count() as u64;
            at = start;
            n += 1;
            parse_record(|i| rec.get(i).unwrap_or_default(), cols, wanted, line, &mut out, &mut bad);
        }
        (out, n, bad)
    }

    /// A block with no quote and no CR but before an LF: lines cut at LF (a CR before it
    /// dropped), fields at commas, empty lines skipped, as the CSV reader reads such text;
    /// no copy of a field the wanted persons do not need.
    fn parse_plain_block(
        block: &[u8],
        cols: FileColumns,
        wanted: &KeyFilter<'_, u32>,
        first_line: u64,
    ) -> (Vec<Parsed>, u64, Vec<(u64, String)>) {
        let need = cols.count();
        let mut fields: Vec<&[u8]> = Vec::with_capacity(need);
        let mut out = Vec::new();
        let mut bad = Vec::new();
        let mut n = 0u64;
        let mut line = first_line;
        let mut start = 0;
        // Lines go in batches: every line's key first, then the bit set probed for the whole
        // batch at once (independent loads the processor overlaps, where one probe per line
        // waits for memory each time), then the lines that may be wanted read in full.
        const BATCH: usize = 64;
        let mut batch: Vec<(u64, &[u8], Option<IdKey>)> = Vec::with_capacity(BATCH);
        let mut maybe: Vec<bool> = Vec::with_capacity(BATCH);
        while start < block.len() || !batch.is_empty() {
            if start < block.len() && batch.len() < BATCH {
                let end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |p| start + p);
                let mut text = &block[start..end];
                start = end + 1;
                let this = line;
                line += 1;
                if let [rest @ .., b'\r'] = text {
                    text = rest;
                }
                if !text.is_empty() {
                    n += 1;
                    batch.push((this, text, IdKey::from_checked_bytes(nth_field(text, cols.ssn))));
                }
                continue;
            }
            maybe.clear();
            maybe.extend(batch.iter().map(|(_, _, key)| key.is_none_or(|k| wanted.may_contain(k))));
            for ((this, text, _), &maybe) in batch.drain(..).zip(&maybe) {
                if !maybe {
                    continue; // not on the roster: parse_record would pass it by as well
                }
                fields.clear();
                let mut from = 0;
                for comma in memchr::memchr_iter(b',', text) {
                    if fields.len() == need {
                        break;
                    }
                    fields.push(&text[from..comma]);
                    from = comma + 1;
                }
                if fields.len() < need {
                    fields.push(&text[from..]);
                }
                parse_record(
                    |i| fields.get(i).copied().unwrap_or_default(),
                    cols,
                    wanted,
                    this,
                    &mut out,
                    &mut bad,
                );
            }
        }
        (out, n, bad)
    }
}

/// Field `i` of a line with no quotes (empty past its last field).
fn nth_field(text: &[u8], i: usize) -> &[u8] {
    let mut from = 0;
    let mut commas = memchr::memchr_iter(b',', text);
    for _ in 0..i {
        match commas.next() {
            Some(c) => from = c + 1,
            None => return &[],
        }
    }
    let end = commas.next().unwrap_or(text.len());
    &text[from..end]
}

/// True when the CSV reader would read `block` as lines of comma-separated fields: no quote,
/// and every CR right before an LF.
fn is_plain(block: &[u8]) -> bool {
    memchr::memchr(b'"', block).is_none()
        && memchr::memchr_iter(b'\r', block).all(|i| block.get(i + 1) == Some(&b'\n'))
}

/// One record of the file, its fields through `field` (empty past its end): its card when it
/// is a wanted person's, a line in `bad` when it cannot be read.
fn parse_record<'a>(
    field: impl Fn(usize) -> &'a [u8],
    cols: FileColumns,
    wanted: &KeyFilter<'_, u32>,
    line: u64,
    out: &mut Vec<Parsed>,
    bad: &mut Vec<(u64, String)>,
) {
    let text =
        |i: Option<usize>| i.map(|i| String::from_utf8_lossy(field(i)).trim().to_owned()).unwrap_or_default();
    let Some(key) = IdKey::from_checked_bytes(field(cols.ssn)) else {
        bad.push((line, "the ID number is not 18 characters with a matching check character".into()));
        return;
    };
    if !wanted.contains(key) {
        return;
    }
    let status_text = text(Some(cols.status));
    let Some(status) = parse_status(&status_text) else {
        bad.push((line, format!("unknown card status '{status_text}'")));
        return;
    };
    let date = text(cols.status_date);
    let since = if date.is_empty() { None } else { applicant::Date::parse(&date).ok().map(days::days) };
    let opt = |s: String| (!s.is_empty()).then(|| s.into_boxed_str());
    out.push(Parsed {
        key,
        number: text(cols.card_number).into_boxed_str(),
        status,
        bank: text(cols.bank).into_boxed_str(),
        account: opt(text(cols.account)),
        since,
        failure: opt(text(cols.failure)),
        deceased: cols.deceased.is_some_and(|i| parse_flag(field(i))),
    });
}

impl IssuanceRecords for IssuanceFile {
    fn describe(&self) -> String {
        format!("issuance file {}", self.path.display())
    }

    fn find(&self, wanted: &Wanted) -> Result<MatchIndex, RosterError> {
        let io = |e| RosterError::io(self.path.display().to_string(), e);
        let mut file = File::open(&self.path).map_err(io)?;
        // The header line.
        let mut buf = vec![0u8; 64 * 1024];
        let mut filled = 0;
        let header_end = loop {
            if let Some(p) = buf[..filled].iter().position(|&b| b == b'\n') {
                break p + 1;
            }
            if filled == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            let n = file.read(&mut buf[filled..]).map_err(io)?;
            if n == 0 {
                break filled;
            }
            filled += n;
        };
        let header = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&buf[..header_end])
            .records()
            .next()
            .transpose()
            .map_err(|e| RosterError::Input { path: self.path.clone(), message: e.to_string() })?
            .unwrap_or_default();
        let cols = FileColumns::from_header(&header, &self.path)?;
        let mut carry: Vec<u8> = buf[header_end..filled].to_vec();
        drop(buf);

        let filter = KeyFilter::new(wanted);
        let mut index = MatchIndex::new();
        let mut line = 2u64;
        let threads = rayon::current_num_threads().max(1);
        let mut eof = false;
        while !eof {
            // Read a round of blocks, each cut at its last line end.
            let mut blocks: Vec<Vec<u8>> = Vec::with_capacity(threads * 2);
            while blocks.len() < threads * 2 && !eof {
                let mut block = std::mem::take(&mut carry);
                let start = block.len();
                block.resize(start + self.block, 0);
                let mut len = start;
                while len < block.len() {
                    let n = file.read(&mut block[len..]).map_err(io)?;
                    if n == 0 {
                        eof = true;
                        break;
                    }
                    len += n;
                }
                block.truncate(len);
                if !eof {
                    match block.iter().rposition(|&b| b == b'\n') {
                        Some(p) => carry = block.split_off(p + 1),
                        None => {
                            // A line longer than a block: keep reading into it.
                            carry = block;
                            continue;
                        }
                    }
                }
                if !block.is_empty() {
                    blocks.push(block);
                }
            }
            let lines: Vec<u64> = blocks.iter().map(|b| bytecount(b)).collect();
            let mut starts = Vec::with_capacity(blocks.len());
            for n in &lines {
                starts.push(line);
                line += n;
            }
            let parsed: Vec<_> = blocks
                .par_iter()
                .zip(starts.par_iter())
                .map(|(b, &first)| IssuanceFile::parse_block(b, cols, &filter, first))
                .collect();
            for (records, n, bad) in parsed {
                index.stats.records += n;
                for (l, why) in bad {
                    index.stats.unreadable(l, why);
                }
                for p in records {
                    index.stats.matched += 1;
                    let bank = index.bank_id(&p.bank);
                    let card = Card {
                        number: p.number,
                        status: p.status,
                        bank,
                        account: p.account,
                        since: p.since,
                        failure: p.failure,
                    };
                    index.add(p.key, Some(card), p.deceased);
                }
            }
        }
        Ok(index)
    }
}

fn bytecount(b: &[u8]) -> u64 {
    let n = b.iter().filter(|&&c| c == b'\n').count() as u64;
    n + u64::from(b.last().is_some_and(|&c| c != b'\n'))
}

/// The station's local archive (and optionally the provincial SQLite archive), read-only.
#[derive(Debug, Clone)]
pub struct ArchiveRecords {
    local: PathBuf,
    provincial: Option<PathBuf>,
    key: Option<archive::at_rest::DataKey>,
}

impl ArchiveRecords {
    /// The local archive at `local`; `provincial` adds deaths and other stations' cards.
    pub fn new(local: impl Into<PathBuf>, provincial: Option<PathBuf>) -> ArchiveRecords {
        ArchiveRecords { local: local.into(), provincial, key: None }
    }

    /// The local archive read with the station's data key (it is encrypted).
    pub fn with_key(mut self, key: Option<archive::at_rest::DataKey>) -> ArchiveRecords {
        self.key = key;
        self
    }

    /// A read-only connection to the local archive (with its key) or, `key` None, to the
    /// provincial SQLite archive (never encrypted: the province keeps its own).
    fn open(
        path: &Path,
        key: Option<&archive::at_rest::DataKey>,
    ) -> Result<rusqlite::Connection, RosterError> {
        archive::local::LocalArchive::read_only(path, key)
            .map_err(|e| RosterError::Archive { path: path.to_path_buf(), message: e.to_string() })
    }

    /// The local archive, read-only, with its key: for the readers of its other tables.
    pub fn open_local(&self) -> Result<rusqlite::Connection, RosterError> {
        ArchiveRecords::open(&self.local, self.key.as_ref())
    }
}

impl IssuanceRecords for ArchiveRecords {
    fn describe(&self) -> String {
        match &self.provincial {
            Some(p) => {
                format!("local archive {} with provincial archive {}", self.local.display(), p.display())
            }
            None => format!("local archive {}", self.local.display()),
        }
    }

    fn find(&self, wanted: &Wanted) -> Result<MatchIndex, RosterError> {
        let mut index = MatchIndex::new();
        fn err(path: &Path) -> impl Fn(rusqlite::Error) -> RosterError + '_ {
            move |e| RosterError::Archive { path: path.to_path_buf(), message: e.to_string() }
        }
        let conn = self.open_local()?;
        // Cards; then failed applications that never produced a card (bank-side or
        // card-making failures before a card row existed), as failed cards without a number.
        let sql = "SELECT ssn, card_number, status, coalesce(bank, ''), account, updated_at, NULL FROM cards
                   UNION ALL
                   SELECT a.ssn, coalesce(a.card_number, ''), 'failed', '', NULL, a.updated_at, a.failure
                   FROM applications a
                   WHERE a.status = 'failed'
                     AND NOT EXISTS (SELECT 1 FROM cards c WHERE c.application_id = a.application_id)";
        scan(&conn, sql, wanted, &mut index, err(&self.local))?;
        if let Some(p) = &self.provincial {
            let conn = ArchiveRecords::open(p, None)?;
            let sql = "SELECT ssn, card_number, status, '', NULL, updated_at, NULL FROM cards";
            scan(&conn, sql, wanted, &mut index, err(p))?;
            let mut stmt =
                conn.prepare("SELECT ssn FROM persons WHERE deceased_at IS NOT NULL").map_err(err(p))?;
            let mut rows = stmt.query([]).map_err(err(p))?;
            while let Some(r) = rows.next().map_err(err(p))? {
                let ssn: String = r.get(0).map_err(err(p))?;
                if let Some(key) =
                    IdKey::from_checked_bytes(ssn.as_bytes()).filter(|k| wanted.contains_key(k))
                {
                    index.add(key, None, true);
                }
            }
        }
        Ok(index)
    }
}

/// The bank as the roster names it: the archive keeps the bank's code (`ICBC`, the person's
/// choice as issuance recorded it), the list its short name (工商银行); a name not in the
/// list is kept as it is.
fn bank_name(code: &str) -> &str {
    static LIST: std::sync::OnceLock<bank::Registry> = std::sync::OnceLock::new();
    let list = LIST.get_or_init(bank::Registry::builtin);
    list.banks().iter().find(|b| b.code == code).map_or(code, |b| b.short_name.as_str())
}

fn scan(
    conn: &rusqlite::Connection,
    sql: &str,
    wanted: &Wanted,
    index: &mut MatchIndex,
    err: impl Fn(rusqlite::Error) -> RosterError,
) -> Result<(), RosterError> {
    let err = &err;
    let mut stmt = conn.prepare(sql).map_err(err)?;
    let mut rows = stmt.query([]).map_err(err)?;
    while let Some(r) = rows.next().map_err(err)? {
        index.stats.records += 1;
        let ssn: String = r.get(0).map_err(err)?;
        let Some(key) = IdKey::from_checked_bytes(ssn.as_bytes()) else {
            index.stats.unreadable(index.stats.records, "the ID number does not check".into());
            continue;
        };
        if !wanted.contains_key(&key) {
            continue;
        }
        let status: String = r.get(2).map_err(err)?;
        let Some(status) = CardStatus::parse(&status) else {
            index.stats.unreadable(index.stats.records, format!("unknown card status '{status}'"));
            continue;
        };
        index.stats.matched += 1;
        let number: String = r.get(1).map_err(err)?;
        let bank: String = r.get(3).map_err(err)?;
        let bank = bank_name(&bank);
        let account: Option<String> = r.get(4).map_err(err)?;
        let updated: Option<i64> = r.get(5).map_err(err)?;
        let failure: Option<String> = r.get(6).map_err(err)?;
        let bank = index.bank_id(bank);
        let card = Card {
            number: number.into(),
            status,
            bank,
            account: account.filter(|a| !a.is_empty()).map(String::into_boxed_str),
            since: updated.map(days::day_of_unix),
            failure: failure.map(String::into_boxed_str),
        };
        index.add(key, Some(card), false);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> IdKey {
        IdKey::from_checked_bytes(s.as_bytes()).expect("valid")
    }

    #[test]
    fn file_blocks_cut_at_line_ends_and_only_wanted_persons_are_kept() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("issuance.csv");
        let mut text =
            String::from("\u{feff}ssn,card_number,status,bank,account,status_date,deceased,failure_reason\n");
        text.push_str("11010519491231002X,B00000019,stopped,农业银行,6228480000000000001,2020-01-01,0,\n");
        text.push_str(
            "11010519491231002X,B00000027,active,\"建设银行, 泗水支行\",6217000000000000002,2024-05-01,0,\n",
        );
        text.push_str("440524188001010014,,failed,,,2024-06-01,0,照片不合格\n");
        text.push_str("34052419800101001X,C00000011,issued,工商银行,,2024-06-01,1,\n");
        text.push_str("110105194912310021,X,active,,,,,\n");
        text.push_str("11010519491231002X,B00000035,exploded,,,,,\n");
        for _ in 0..200 {
            text.push_str("370831198001010029,B00000043,active,农业银行,1,2024-01-01,0,\n");
        }
        std::fs::write(&path, text).expect("write");
        let mut wanted = Wanted::default();
        for s in ["11010519491231002X", "440524188001010014", "34052419800101001X"] {
            wanted.insert(key(s), 2);
        }
        let idx = IssuanceFile::new(&path).with_block_size(100).find(&wanted).expect("scan");
        assert_eq!(idx.len(), 3);
        let p = idx.get(key("11010519491231002X")).expect("found");
        let live = p.live().expect("live");
        assert_eq!((&*live.number, live.status), ("B00000027", CardStatus::Active));
        assert_eq!(idx.bank(live.bank), "建设银行, 泗水支行");
        assert_eq!(p.last_ended().map(|c| c.status), Some(CardStatus::Stopped));
        let f = idx.get(key("440524188001010014")).expect("failed");
        assert_eq!(f.last_ended().and_then(|c| c.failure.as_deref()), Some("照片不合格"));
        assert!(idx.get(key("34052419800101001X")).expect("dead").deceased);
        assert_eq!(idx.stats.records, 206);
        assert_eq!(idx.stats.matched, 4);
        assert_eq!(idx.stats.unreadable, 2 + 200, "bad check character, unknown status, 200 bad IDs");
        assert_eq!(idx.stats.unreadable_examples[0].0, 6, "line numbers count the header");
    }

    /// The byte-level reader and the CSV reader see the same records, lines and problems in
    /// what the byte-level one is given (no quotes, no bare CR): CRLF and LF line ends, blank
    /// lines, short and long records, bad ID numbers and statuses, a last line without LF.
    #[test]
    fn plain_blocks_read_as_the_csv_reader_reads_them() {
        let header = csv::StringRecord::from(vec![
            "ssn",
            "card_number",
            "status",
            "bank",
            "account",
            "status_date",
            "deceased",
            "failure_reason",
            "x",
        ]);
        let cols = FileColumns::from_header(&header, Path::new("t.csv")).expect("columns");
        let mut wanted = Wanted::default();
        for s in ["11010519491231002X", "440524188001010014", "34052419800101001X"] {
            wanted.insert(key(s), 2);
        }
        let lines = [
            "11010519491231002X,B00000019,stopped,农业银行,6228480000000000001,2020-01-01,0,,extra",
            "",
            "440524188001010014,,failed,, ,2024-06-01,0, 照片不合格 ",
            "34052419800101001X,C00000011,已发放,工商银行,,2024-06-01,是",
            "34052419800101001X",
            "110105194912310021,X,active,,,,,",
            "11010519491231002x,B00000035,exploded,,,,,",
            "370831198001010029,B00000043,active,农业银行,1,2024-01-01,0,",
            "  ,,",
            "11010519491231002X,B00000027,active,建设银行,6217,bad-date,1,",
        ];
        for end in ["\n", "\r\n"] {
            for last in ["", end] {
                // More lines than one batch of the byte-level reader.
                let text = vec![lines.join(end); 20].join(end) + last;
                let text = format!("{end}{text}");
                assert!(is_plain(text.as_bytes()));
                let wanted = KeyFilter::new(&wanted);
                let csv = IssuanceFile::parse_csv_block(text.as_bytes(), cols, &wanted, 7);
                let plain = IssuanceFile::parse_plain_block(text.as_bytes(), cols, &wanted, 7);
                assert_eq!(plain, csv, "line ends {end:?}, last {last:?}");
                assert_eq!((plain.0.len(), plain.1, plain.2.len()), (80, 180, 100));
            }
        }
        assert!(!is_plain(b"a,\"b\"\n"));
        assert!(!is_plain(b"a,b\rc\n"));
    }

    #[test]
    fn same_card_from_two_sources_merges() {
        let mut p = PersonRecord::default();
        let card = |status, bank, since| Card {
            number: "B00000019".into(),
            status,
            bank,
            account: None,
            since: Some(since),
            failure: None,
        };
        p.add(card(CardStatus::Issued, 3, 10));
        p.add(card(CardStatus::Active, 0, 20));
        assert_eq!(p.cards.len(), 1);
        assert_eq!((p.cards[0].status, p.cards[0].bank), (CardStatus::Active, 3));
        p.add(card(CardStatus::Made, 0, 5));
        assert_eq!(p.cards[0].status, CardStatus::Active, "an older record does not win");
    }
}
