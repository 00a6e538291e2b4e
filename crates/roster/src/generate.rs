//! Deterministic generators for tests and the benchmark: valid, distinct ID numbers from an
//! index, issuance files of any size, rosters with every class and every kind of bad row.
//! Everything streams to disk, so generating 10 M records needs no memory to speak of.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use archive::CardStatus;

use crate::classify::Class;

/// SplitMix64: small, fast and good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// County codes of Jining (Sishui is 370831).
const REGIONS: [&str; 8] = ["370831", "370811", "370812", "370826", "370827", "370828", "370829", "370830"];
const DAYS: u64 = 25_000;
const SPACE: u64 = REGIONS.len() as u64 * DAYS * 1000;

/// A valid 18-character ID number, distinct for every `index` below 200 M: born 1940-2008
/// in a Jining county.
pub fn id_for(index: u64) -> String {
    let k = (index % SPACE).wrapping_mul(2_654_435_761) % SPACE;
    let region = REGIONS[(k % REGIONS.len() as u64) as usize];
    let rest = k / REGIONS.len() as u64;
    let day = (rest % DAYS) as i32;
    let seq = rest / DAYS;
    let base = crate::days::days(applicant::Date::new(1940, 1, 1).expect("a real day"));
    let birth = crate::days::date(base + day).map(|d| d.compact()).unwrap_or_else(|| "19400101".into());
    let first17 = format!("{region}{birth}{seq:03}");
    let check = applicant::gb11643_check_char(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// The townships of Sishui county.
pub const TOWNSHIPS: [&str; 12] = [
    "泗河街道",
    "济河街道",
    "金庄镇",
    "苗馆镇",
    "中册镇",
    "杨柳镇",
    "泉林镇",
    "星村镇",
    "柘沟镇",
    "圣水峪镇",
    "高峪镇",
    "泗张镇",
];
const BANKS: [&str; 5] = ["农业银行", "农村商业银行", "邮储银行", "建设银行", "工商银行"];
const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const GIVEN: [&str; 10] = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军"];

/// The card's financial account of person `index`.
pub fn account_for(index: u64) -> String {
    format!("62284800{:011}", index % 100_000_000_000)
}

/// The card number of person `index`.
pub fn card_number_for(index: u64, prefix: char) -> String {
    archive::card_number(prefix, (index % 10_000_000) as u32).unwrap_or_default()
}

/// The issuance-file header.
pub const ISSUANCE_HEADER: &str = "ssn,card_number,status,bank,account,status_date,deceased,failure_reason";

/// One line of an issuance file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuanceLine {
    /// ID number.
    pub ssn: String,
    /// Card number.
    pub card_number: String,
    /// Status.
    pub status: CardStatus,
    /// Bank.
    pub bank: String,
    /// Account.
    pub account: String,
    /// YYYY-MM-DD.
    pub status_date: String,
    /// Deceased.
    pub deceased: bool,
    /// Failure reason.
    pub failure: String,
}

impl IssuanceLine {
    fn write(&self, w: &mut impl Write) -> std::io::Result<()> {
        writeln!(
            w,
            "{},{},{},{},{},{},{},{}",
            self.ssn,
            self.card_number,
            self.status.as_str(),
            self.bank,
            self.account,
            self.status_date,
            u8::from(self.deceased),
            self.failure
        )
    }
}

/// Writes an issuance file.
pub fn write_issuance(path: &Path, lines: &[IssuanceLine]) -> std::io::Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    writeln!(w, "{ISSUANCE_HEADER}")?;
    for l in lines {
        l.write(&mut w)?;
    }
    w.flush()
}

/// The issuance record of benchmark person `i`: a mix of every status.
pub fn bench_issuance_line(i: u64) -> IssuanceLine {
    let mut r = Rng::new(i ^ 0x5151);
    let roll = r.below(100);
    let status = match roll {
        0..=54 => CardStatus::Active,
        55..=69 => CardStatus::Issued,
        70..=79 => CardStatus::Made,
        80..=84 => CardStatus::Failed,
        85..=89 => CardStatus::Stopped,
        90..=93 => CardStatus::Recalled,
        _ => CardStatus::Cancelled,
    };
    let failed = status == CardStatus::Failed;
    let date = crate::days::date(
        crate::days::days(applicant::Date::new(2023, 1, 1).expect("day")) + r.below(900) as i32,
    )
    .map(|d| d.to_string())
    .unwrap_or_default();
    IssuanceLine {
        ssn: id_for(i),
        card_number: if failed { String::new() } else { card_number_for(i, 'B') },
        status,
        bank: if failed { String::new() } else { BANKS[(i % 5) as usize].to_owned() },
        account: if failed { String::new() } else { account_for(i) },
        status_date: date,
        deceased: roll >= 97,
        failure: if failed { "照片不合格".into() } else { String::new() },
    }
}

/// Writes `n` benchmark issuance records (persons 0..n).
pub fn write_bench_issuance(path: &Path, n: u64) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    writeln!(w, "{ISSUANCE_HEADER}")?;
    for i in 0..n {
        bench_issuance_line(i).write(&mut w)?;
    }
    w.flush()
}

/// The roster header (the Sishui table's columns plus 领待类别).
pub const ROSTER_HEADER: [&str; 11] = [
    "姓名",
    "身份证号",
    "民族",
    "手机号",
    "镇街",
    "村（社区）",
    "开户行",
    "银行卡号",
    "补贴额",
    "预计发放时间",
    "领待类别",
];

/// A well-formed roster row for person `i`.
pub fn roster_row(i: u64, paid_to_card: bool) -> Vec<String> {
    let mut r = Rng::new(i ^ 0xA5A5);
    let town = TOWNSHIPS[(i % TOWNSHIPS.len() as u64) as usize];
    vec![
        format!("{}{}", SURNAMES[r.below(10) as usize], GIVEN[r.below(10) as usize]),
        id_for(i),
        (if r.below(20) == 0 { "回族" } else { "汉族" }).to_owned(),
        format!("13{:09}", r.below(1_000_000_000)),
        town.to_owned(),
        format!("{}村", ["东", "西", "南", "北", "前", "后", "大", "小"][r.below(8) as usize]),
        BANKS[(i % 5) as usize].to_owned(),
        if paid_to_card { account_for(i) } else { format!("62170000{:011}", r.below(100_000_000_000)) },
        format!("{}.{:02}", 50 + r.below(500), r.below(100)),
        "2025-09-30".to_owned(),
        (if r.below(5) == 0 { "新增" } else { "存量" }).to_owned(),
    ]
}

/// One of the bad-row kinds, applied to a good row; returns the rule expected.
pub fn spoil(row: &mut [String], kind: usize) -> &'static str {
    let set = |row: &mut [String], col: usize, v: &str| row[col] = v.to_owned();
    match kind % BAD_KINDS {
        0 => {
            set(row, 1, "");
            "id-missing"
        }
        1 => {
            let v = row[1][..17].to_owned();
            set(row, 1, &v);
            "id-length"
        }
        2 => {
            let v = format!("{}A", &row[1][..17]);
            set(row, 1, &v);
            "id-character"
        }
        3 => {
            let last = if row[1].ends_with('0') { '1' } else { '0' };
            let v = format!("{}{last}", &row[1][..17]);
            set(row, 1, &v);
            "id-check-character"
        }
        4 => {
            set(row, 1, &with_check("37083119800230001"));
            "id-birth-date"
        }
        5 => {
            set(row, 1, &with_check("37083121000101001"));
            "id-birth-date-future"
        }
        6 => {
            set(row, 1, &with_check("99083119800101001"));
            "id-province"
        }
        7 => {
            set(row, 0, "");
            "name-missing"
        }
        8 => {
            set(row, 3, "");
            "phone-missing"
        }
        9 => {
            set(row, 3, "1380013");
            "phone-format"
        }
        10 => {
            set(row, 8, "一百元");
            "amount-format"
        }
        11 => {
            set(row, 9, "2025-02-30");
            "date-format"
        }
        12 => {
            set(row, 2, "");
            "ethnicity-missing"
        }
        13 => {
            set(row, 2, "火星族");
            "ethnicity-unknown"
        }
        14 => {
            set(row, 4, "");
            "township-missing"
        }
        15 => {
            set(row, 7, "6228-ABC");
            "account-format"
        }
        _ => {
            set(row, 10, "临时");
            "kind-unknown"
        }
    }
}

/// How many kinds [`spoil`] knows.
pub const BAD_KINDS: usize = 17;

fn with_check(first17: &str) -> String {
    format!("{first17}{}", applicant::gb11643_check_char(first17).unwrap_or('0'))
}

/// Writes the benchmark roster: `n` rows, persons spread over the first `issued` issuance
/// records (85%) and persons without any record (15%), one row in a hundred spoiled.
pub fn write_bench_roster(path: &Path, n: u64, issued: u64) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, File::create(path)?));
    w.write_record(ROSTER_HEADER)?;
    let issued = issued.max(1);
    for r in 0..n {
        let person = if r % 100 < 85 { (r.wrapping_mul(7919)) % issued } else { issued + r };
        let mut row = roster_row(person, r % 10 < 7);
        if r % 100 == 99 {
            spoil(&mut row, (r / 100) as usize);
        }
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

/// What the test roster expects of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Compared and classified so.
    Class(Class),
    /// Compared, with a field to fix (rule), and classified so.
    Fix(&'static str, Class),
    /// Not compared (rule).
    Reject(&'static str),
    /// A blank row, skipped and counted.
    Blank,
}

/// A small roster with every class, every action and every kind of bad row, and the
/// issuance records that go with it.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Roster rows after the header ([`ROSTER_HEADER`] plus 是否死亡).
    pub rows: Vec<Vec<String>>,
    /// The issuance records.
    pub cards: Vec<IssuanceLine>,
    /// What each row should give, by sheet row number (header = 1).
    pub expect: Vec<(u32, Expect)>,
}

/// The scenario's header.
pub fn scenario_header() -> Vec<&'static str> {
    let mut h = ROSTER_HEADER.to_vec();
    h.push("是否死亡");
    h
}

/// Builds the scenario; `today` is 2025-06-01 for its dates.
pub fn scenario() -> Scenario {
    let mut s = Scenario { rows: Vec::new(), cards: Vec::new(), expect: Vec::new() };
    let add = |s: &mut Scenario, row: Vec<String>, e: Expect| {
        let n = s.rows.len() as u32 + 2;
        let mut row = row;
        row.resize(12, String::new());
        s.rows.push(row);
        s.expect.push((n, e));
    };
    let card = |i: u64, status: CardStatus, date: &str, deceased: bool| IssuanceLine {
        ssn: id_for(i),
        card_number: if status == CardStatus::Failed { String::new() } else { card_number_for(i, 'B') },
        status,
        bank: BANKS[(i % 5) as usize].to_owned(),
        account: if status == CardStatus::Failed { String::new() } else { account_for(i) },
        status_date: date.to_owned(),
        deceased,
        failure: if status == CardStatus::Failed { "照片不合格".into() } else { String::new() },
    };
    // Classes.
    s.cards.push(card(1, CardStatus::Active, "2024-03-01", false));
    add(&mut s, roster_row(1, true), Expect::Class(Class::Active));
    s.cards.push(card(2, CardStatus::Active, "2024-03-01", false));
    add(&mut s, roster_row(2, false), Expect::Class(Class::Active)); // switch payment
    s.cards.push(card(3, CardStatus::Made, "2025-05-01", false));
    add(&mut s, roster_row(3, true), Expect::Class(Class::NotActivated)); // stock
    s.cards.push(card(4, CardStatus::Issued, "2024-01-01", false));
    add(&mut s, roster_row(4, true), Expect::Class(Class::NotActivated)); // dormant
    s.cards.push(card(5, CardStatus::Failed, "2025-04-01", false));
    add(&mut s, roster_row(5, true), Expect::Class(Class::MakingFailed));
    add(&mut s, roster_row(6, true), Expect::Class(Class::NoCard));
    s.cards.push(card(7, CardStatus::Recalled, "2025-01-01", false));
    add(&mut s, roster_row(7, true), Expect::Class(Class::NoCard)); // recalled
    s.cards.push(card(8, CardStatus::Stopped, "2020-01-01", false));
    s.cards.push(IssuanceLine {
        card_number: card_number_for(108, 'C'),
        ..card(8, CardStatus::Active, "2024-06-01", false)
    });
    add(&mut s, roster_row(8, true), Expect::Class(Class::Active)); // re-issued
    s.cards.push(card(9, CardStatus::Issued, "2024-06-01", true));
    add(&mut s, roster_row(9, true), Expect::Class(Class::Deceased)); // card to cancel
    let mut dead = roster_row(10, true);
    dead.resize(12, String::new());
    dead[11] = "是".into();
    add(&mut s, dead, Expect::Class(Class::Deceased));
    // A 15-digit number, upgraded (person 11's number without century and check).
    // Born in the 1900s, as every holder of a 15-digit number is.
    let i = (11..).find(|i| &id_for(*i)[6..8] == "19").unwrap_or(11);
    let mut old = roster_row(i, true);
    let id18 = id_for(i);
    old[1] = format!("{}{}", &id18[..6], &id18[8..17]);
    s.cards.push(card(i, CardStatus::Active, "2024-03-01", false));
    add(&mut s, old, Expect::Fix("id-upgraded-15", Class::Active));
    // Every kind of bad row.
    for k in 0..BAD_KINDS {
        let i = 100 + k as u64;
        let mut row = roster_row(i, true);
        let rule = spoil(&mut row, k);
        let e = if rule.starts_with("id-") { Expect::Reject(rule) } else { Expect::Fix(rule, Class::NoCard) };
        add(&mut s, row, e);
    }
    let mut row = roster_row(200, true);
    row.resize(12, String::new());
    row[11] = "不详".into();
    add(&mut s, row, Expect::Fix("deceased-unknown", Class::NoCard));
    add(&mut s, roster_row(1, true), Expect::Reject("duplicate-id"));
    add(&mut s, vec![String::new(); 12], Expect::Blank);
    // An issuance line that cannot be read, and records of persons not on the roster.
    s.cards.push(IssuanceLine {
        ssn: "370831198001010029".into(),
        ..card(300, CardStatus::Active, "2024-01-01", false)
    });
    for i in 400..420 {
        s.cards.push(card(i, CardStatus::Active, "2024-01-01", false));
    }
    s
}

/// Writes the scenario roster as CSV.
pub fn write_scenario_csv(path: &Path, s: &Scenario) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(File::create(path)?);
    w.write_record(scenario_header())?;
    for r in &s.rows {
        w.write_record(r)?;
    }
    w.flush()?;
    Ok(())
}

/// Writes the scenario roster as XLSX; with `numeric_id_row` that row's ID number is a
/// number cell (as Excel does to a pasted 18-digit number).
pub fn write_scenario_xlsx(
    path: &Path,
    s: &Scenario,
    numeric_id_row: Option<u32>,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("基础信息表")?;
    for (c, h) in scenario_header().iter().enumerate() {
        // The Sishui table marks required columns.
        let h = if c < 5 { format!("{h}\n（必填）") } else { (*h).to_owned() };
        ws.write_string(0, c as u16, h)?;
    }
    for (i, r) in s.rows.iter().enumerate() {
        let row = i as u32 + 1;
        for (c, v) in r.iter().enumerate() {
            if v.is_empty() {
                continue;
            }
            if c == 1 && numeric_id_row == Some(row + 1) {
                ws.write_number(row, c as u16, v[..17].parse::<f64>().unwrap_or(0.0) * 10.0)?;
            } else if let (8, Ok(n)) = (c, v.parse::<f64>()) {
                ws.write_number(row, c as u16, n)?;
            } else {
                ws.write_string(row, c as u16, v)?;
            }
        }
    }
    wb.save(path)
}

/// Writes the scenario's cards into a fresh local archive (and deaths into a provincial
/// SQLite archive): the same facts as the issuance file.
pub fn write_scenario_archive(local: &Path, provincial: &Path, s: &Scenario) -> Result<(), String> {
    use archive::local::{ApplicationStatus, LocalArchive, PersonRow};
    use archive::ProvincialArchive;
    let e = |e: archive::ArchiveError| e.to_string();
    let a = LocalArchive::open_unencrypted(local, "S1").map_err(e)?;
    let p = archive::SqliteProvincial::open(provincial, "S1", 'B').map_err(e)?;
    let conn = rusqlite::Connection::open(local).map_err(|e| e.to_string())?;
    for (n, c) in s.cards.iter().enumerate() {
        if crate::key::IdKey::from_checked_bytes(c.ssn.as_bytes()).is_none() {
            continue; // the archive's schema refuses what the file may carry
        }
        a.upsert_person(&PersonRow {
            ssn: c.ssn.clone(), name: "测试".into(), sex: None, birth_date: None
        })
        .map_err(e)?;
        let app = a.open_application(&c.ssn, "new", "{}").map_err(e)?;
        let at = applicant::Date::parse(&c.status_date)
            .map(|d| i64::from(crate::days::days(d)) * 86_400)
            .unwrap_or(0);
        if c.status == CardStatus::Failed {
            a.set_application(app, ApplicationStatus::Failed, Some(&c.failure)).map_err(e)?;
            conn.execute(
                "UPDATE applications SET updated_at = ?1 WHERE application_id = ?2",
                rusqlite::params![at, app],
            )
            .map_err(|e| e.to_string())?;
        } else {
            a.record_card(app, &c.ssn, &c.card_number, &format!("{n:08X}"), "3B").map_err(e)?;
            a.set_card_status(&c.card_number, c.status).map_err(e)?;
            a.set_application(app, ApplicationStatus::Issued, None).map_err(e)?;
            // The bank and account as issuance stores them: the bank's code where the bank list
            // has one (the person's choice, RULE 8), the account the bank opened.
            let registry = bank::Registry::builtin();
            let code = registry.banks().iter().find(|b| b.short_name == c.bank).map(|b| b.code.as_str());
            let account = Some(c.account.as_str()).filter(|a| !a.is_empty());
            a.set_card_account(&c.card_number, Some(code.unwrap_or(&c.bank)), account).map_err(e)?;
            conn.execute(
                "UPDATE cards SET updated_at = ?1 WHERE card_number = ?2",
                rusqlite::params![at, c.card_number],
            )
            .map_err(|e| e.to_string())?;
        }
        if c.deceased {
            p.mark_deceased(&archive::DeceasedRequest {
                request_id: format!("d{n}"),
                ssn: c.ssn.clone(),
                evidence: "死亡医学证明 No. 0001".into(),
                supervisor: "sup-1".into(),
            })
            .map_err(e)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{IdKey, KeySet};

    #[test]
    fn ids_are_valid_and_distinct() {
        let today = applicant::Date::new(2025, 6, 1).expect("day");
        let mut seen = KeySet::default();
        for i in (0..200_000).chain(9_999_000..10_001_000) {
            let id = id_for(i);
            applicant::ResidentId::parse(&id, today).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert!(seen.insert(IdKey::from_checked_bytes(id.as_bytes()).expect("key")), "{i}");
        }
    }
}
