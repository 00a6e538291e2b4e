//! Row validation. Every problem is a typed [`Problem`] with a stable rule name, a severity
//! and a remedy, reported with the row number: a row is never dropped without a line in the
//! rejects file saying why.
//!
//! - **Reject**: the row cannot be compared (no usable ID number, or the same person twice);
//!   it goes to the rejects file only.
//! - **Fix**: the person can still be compared and classified, but a field must be corrected
//!   before the department pays (bad phone, amount, date, ethnicity, account...). The row is
//!   in both the output (column 数据问题) and the rejects file. `--strict` makes these rejects.
//! - **Note**: done for the department, worth telling (a 15-digit ID number upgraded).

use applicant::{Date, Ethnicity, Explain, IdError, ResidentId};

use crate::input::{Field, RawRow};
use crate::key::IdKey;

/// What happens to a row with the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Reported; the row is still compared.
    Note,
    /// Compared, and reported for correction.
    Fix,
    /// Not compared; reported.
    Reject,
}

impl Severity {
    /// The word in the rejects file.
    pub fn word(self) -> &'static str {
        match self {
            Severity::Note => "提示",
            Severity::Fix => "需更正",
            Severity::Reject => "拒收",
        }
    }
}

/// A problem with one roster row. Messages never contain a full ID number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// No ID number.
    #[error("the ID number is empty")]
    IdMissing,
    /// The ID number fails GB 11643 (length, characters, check character, date, province).
    #[error("ID number: {0}")]
    Id(IdError),
    /// Excel stored the ID number as a number: only 15 significant digits survive.
    #[error("the ID number was stored as a number in the spreadsheet, so its last digits are lost")]
    IdNumberCell,
    /// The same person appears again.
    #[error("the same ID number is already on row {first_row}")]
    Duplicate {
        /// Where the person first appears.
        first_row: u32,
    },
    /// A 15-digit first-generation number, upgraded to 18 characters.
    #[error("15-digit first-generation ID number, compared as its 18-character upgrade")]
    Upgraded15,
    /// No name.
    #[error("the name is empty")]
    NameMissing,
    /// No phone number.
    #[error("the phone number is empty")]
    PhoneMissing,
    /// Not a mobile or landline number.
    #[error("'{0}' is not a mobile number (11 digits, 13x-19x) or a landline number")]
    Phone(String),
    /// Not an amount.
    #[error("'{0}' is not an amount in yuan (digits, at most two decimals, not negative)")]
    Amount(String),
    /// Not a date.
    #[error("'{0}' is not a date (YYYY-MM-DD, YYYYMMDD, YYYY/MM/DD, YYYY年M月D日 or YYYY-MM)")]
    Date(String),
    /// No ethnicity.
    #[error("the ethnicity is empty")]
    EthnicityMissing,
    /// Not a GB 3304 ethnicity.
    #[error("'{0}' is not an ethnicity of GB 3304")]
    Ethnicity(String),
    /// No township.
    #[error("the township (镇街) is empty")]
    TownshipMissing,
    /// Not a bank account number.
    #[error("'{0}' is not a bank account number (12 to 19 digits)")]
    Account(String),
    /// Neither new nor existing beneficiary.
    #[error("'{0}' is neither 新增 (new) nor 存量 (existing)")]
    Kind(String),
    /// Not a yes/no death marker.
    #[error("'{0}' is not a death marker (是/否, 死亡/正常)")]
    Deceased(String),
}

impl Problem {
    /// A short, stable rule name.
    pub fn rule(&self) -> &'static str {
        match self {
            Problem::IdMissing => "id-missing",
            Problem::Id(e) => e.rule(),
            Problem::IdNumberCell => "id-number-cell",
            Problem::Duplicate { .. } => "duplicate-id",
            Problem::Upgraded15 => "id-upgraded-15",
            Problem::NameMissing => "name-missing",
            Problem::PhoneMissing => "phone-missing",
            Problem::Phone(_) => "phone-format",
            Problem::Amount(_) => "amount-format",
            Problem::Date(_) => "date-format",
            Problem::EthnicityMissing => "ethnicity-missing",
            Problem::Ethnicity(_) => "ethnicity-unknown",
            Problem::TownshipMissing => "township-missing",
            Problem::Account(_) => "account-format",
            Problem::Kind(_) => "kind-unknown",
            Problem::Deceased(_) => "deceased-unknown",
        }
    }

    /// What happens to the row.
    pub fn severity(&self) -> Severity {
        match self {
            Problem::IdMissing | Problem::Id(_) | Problem::IdNumberCell | Problem::Duplicate { .. } => {
                Severity::Reject
            }
            Problem::Upgraded15 => Severity::Note,
            _ => Severity::Fix,
        }
    }

    /// What the department should do.
    pub fn hint(&self) -> String {
        match self {
            Problem::IdMissing => "fill in the 18-character ID number from the person's ID card".into(),
            Problem::Id(e) => e.hint(),
            Problem::IdNumberCell => {
                "format the ID column as text (文本) and type or paste the numbers again".into()
            }
            Problem::Duplicate { .. } => {
                "keep one row per person; merge the rows (several subsidy items: one row each \
                 in the department's own list, one row here)"
                    .into()
            }
            Problem::Upgraded15 => {
                "replace the 15-digit number by the 18-character one in the department's records".into()
            }
            Problem::NameMissing => "fill in the name as on the ID card".into(),
            Problem::PhoneMissing | Problem::Phone(_) => {
                "fill in a mobile number (11 digits) or a landline with its area code".into()
            }
            Problem::Amount(_) => "write the amount in yuan, e.g. 120 or 85.50".into(),
            Problem::Date(_) => "write the date as YYYY-MM-DD, e.g. 2025-09-30".into(),
            Problem::EthnicityMissing | Problem::Ethnicity(_) => {
                "write the ethnicity as on the ID card (汉族, 回族...) or its two-digit code".into()
            }
            Problem::TownshipMissing => {
                "fill in the township so the action list reaches the right office".into()
            }
            Problem::Account(_) => "copy the account number from the passbook or card (digits only)".into(),
            Problem::Kind(_) => "write 新增 for a new beneficiary or 存量 for an existing one".into(),
            Problem::Deceased(_) => "write 是 for a deceased person, leave empty or 否 otherwise".into(),
        }
    }
}

/// New or existing beneficiary (FLOW C targets: usage >= 95% new, >= 60% existing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Kind {
    /// 新增: started receiving benefits this year.
    New,
    /// 存量: already receiving benefits.
    Existing,
}

impl Kind {
    /// The word in the outputs.
    pub fn word(self) -> &'static str {
        match self {
            Kind::New => "新增",
            Kind::Existing => "存量",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        match s.to_ascii_lowercase().as_str() {
            "新增" | "新" | "新增领待" | "new" => Some(Kind::New),
            "存量" | "原有" | "存量领待" | "existing" | "old" => Some(Kind::Existing),
            _ => None,
        }
    }
}

/// A row that can be compared, its fields as they will be written: normalised where valid,
/// as given where a [`Severity::Fix`] problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Row in the roster.
    pub row: u32,
    /// The ID number's key.
    pub key: IdKey,
    /// Display text per field ([`Field::ALL`] order); the ID is the 18-character number.
    pub values: [String; 13],
    /// New or existing beneficiary.
    pub kind: Kind,
    /// The roster says the person is deceased.
    pub deceased: bool,
    /// Rule names of the Fix and Note problems, for the output's 数据问题 column.
    pub problems: Vec<&'static str>,
}

impl Person {
    /// A field's display text.
    pub fn get(&self, f: Field) -> &str {
        &self.values[f.index()]
    }
}

/// The outcome of checking one row on its own (duplicates are found later, in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The row, unless a problem rejects it.
    pub person: Option<Person>,
    /// Every problem found, in field order.
    pub problems: Vec<Problem>,
}

/// What validation needs to know besides the row.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// The day birth dates are checked against.
    pub today: Date,
    /// The beneficiary kind of rows without one.
    pub default_kind: Kind,
    /// Fix problems reject the row.
    pub strict: bool,
}

/// Checks one row.
pub fn check(raw: &RawRow, rules: &Rules) -> Checked {
    let mut problems = Vec::new();
    let key = check_id(raw, rules.today, &mut problems);
    // Each value is set once: normalised where valid, else as given (the ID number, the
    // kind and the death marker always normalised, below).
    let mut values: [String; 13] = Default::default();
    for f in [Field::Name, Field::Township, Field::Village, Field::Bank, Field::Item] {
        values[f.index()] = raw.get(f).to_owned();
    }
    let as_given = |f: Field| raw.get(f).to_owned();
    if raw.get(Field::Name).is_empty() {
        problems.push(Problem::NameMissing);
    }
    let eth = raw.get(Field::Ethnicity);
    if eth.is_empty() {
        problems.push(Problem::EthnicityMissing);
    } else {
        match Ethnicity::parse(eth).or_else(|_| Ethnicity::parse(&format!("{eth}族"))) {
            Ok(e) => values[Field::Ethnicity.index()] = e.name().to_owned(),
            Err(_) => {
                problems.push(Problem::Ethnicity(eth.to_owned()));
                values[Field::Ethnicity.index()] = as_given(Field::Ethnicity);
            }
        }
    }
    values[Field::Phone.index()] = match normalize_phone(raw.get(Field::Phone)) {
        Some(p) if p.is_empty() => {
            problems.push(Problem::PhoneMissing);
            as_given(Field::Phone)
        }
        Some(p) => p,
        None => {
            problems.push(Problem::Phone(raw.get(Field::Phone).to_owned()));
            as_given(Field::Phone)
        }
    };
    if raw.get(Field::Township).is_empty() {
        problems.push(Problem::TownshipMissing);
    }
    let account = raw.get(Field::Account);
    if !account.is_empty() {
        let digits: String = account.chars().filter(|c| !c.is_whitespace()).collect();
        if (12..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            values[Field::Account.index()] = digits;
        } else {
            problems.push(Problem::Account(account.to_owned()));
            values[Field::Account.index()] = as_given(Field::Account);
        }
    }
    let amount = raw.get(Field::Amount);
    if !amount.is_empty() {
        match parse_amount_fen(amount) {
            Some(fen) => values[Field::Amount.index()] = format!("{}.{:02}", fen / 100, fen % 100),
            None => {
                problems.push(Problem::Amount(amount.to_owned()));
                values[Field::Amount.index()] = as_given(Field::Amount);
            }
        }
    }
    let date = raw.get(Field::ExpectedDate);
    if !date.is_empty() {
        match parse_date(date) {
            Some(d) => values[Field::ExpectedDate.index()] = d,
            None => {
                problems.push(Problem::Date(date.to_owned()));
                values[Field::ExpectedDate.index()] = as_given(Field::ExpectedDate);
            }
        }
    }
    let kind_text = raw.get(Field::Kind);
    let kind = if kind_text.is_empty() {
        rules.default_kind
    } else {
        Kind::parse(kind_text).unwrap_or_else(|| {
            problems.push(Problem::Kind(kind_text.to_owned()));
            rules.default_kind
        })
    };
    values[Field::Kind.index()] = kind.word().to_owned();
    let dead_text = raw.get(Field::Deceased);
    let deceased = match dead_text {
        "" | "否" | "正常" | "健在" | "生存" | "0" | "N" | "n" | "no" | "false" => false,
        "是" | "死亡" | "已故" | "已死亡" | "1" | "Y" | "y" | "yes" | "true" => true,
        other => {
            problems.push(Problem::Deceased(other.to_owned()));
            false
        }
    };
    values[Field::Deceased.index()] = (if deceased { "是" } else { "" }).to_owned();
    let rejected = problems
        .iter()
        .any(|p| p.severity() == Severity::Reject || (rules.strict && p.severity() == Severity::Fix));
    let person = match key {
        Some(key) if !rejected => {
            values[Field::Id.index()] = key.to_id_string();
            let problems = problems.iter().map(Problem::rule).collect();
            Some(Person { row: raw.row, key, values, kind, deceased, problems })
        }
        _ => None,
    };
    Checked { person, problems }
}

fn check_id(raw: &RawRow, today: Date, problems: &mut Vec<Problem>) -> Option<IdKey> {
    let id = raw.get(Field::Id);
    if id.is_empty() {
        problems.push(Problem::IdMissing);
        return None;
    }
    if raw.id_was_number && id.len() >= 16 {
        problems.push(Problem::IdNumberCell);
        return None;
    }
    let parsed = if id.chars().count() == 15 {
        let r = ResidentId::from_legacy15(id, today);
        if r.is_ok() {
            problems.push(Problem::Upgraded15);
        }
        r
    } else {
        ResidentId::parse(id, today)
    };
    // County-code warnings are dropped on purpose: ID numbers keep the county of first
    // registration, so an abolished county says nothing about the row.
    match parsed {
        Ok((rid, _warnings)) => Some(IdKey::of(&rid)),
        Err(e) => {
            problems.push(Problem::Id(e));
            None
        }
    }
}

/// Mobile (11 digits, 1[3-9]...) or landline (area code 0xx/0xxx and 7-8 digits, or 7-8
/// local digits as county offices write them); spaces, hyphens and +86 are dropped.
/// `Some("")` for empty input, `None` for a number of neither kind.
pub fn normalize_phone(s: &str) -> Option<String> {
    let mut d: String = s.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '（' | '）')).collect();
    if let Some(rest) = d.strip_prefix("+86") {
        d = rest.to_owned();
    }
    if d.is_empty() {
        return Some(d);
    }
    if !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let b = d.as_bytes();
    let mobile = b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
    let landline = b[0] == b'0' && (10..=12).contains(&b.len());
    let local = (7..=8).contains(&b.len()) && b[0] != b'0' && b[0] != b'1';
    (mobile || landline || local).then_some(d)
}

/// Yuan with at most two decimals (thousands commas and a trailing 元 allowed) as fen.
pub fn parse_amount_fen(s: &str) -> Option<i64> {
    let t: String = s.trim_end_matches('元').chars().filter(|c| *c != ',' && *c != '，').collect();
    let (int, frac) = t.split_once('.').unwrap_or((&t, ""));
    if int.is_empty() || int.len() > 12 || frac.len() > 2 {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let yuan: i64 = int.parse().ok()?;
    let fen: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().ok()? };
    Some(yuan * 100 + fen)
}

/// A pay date, normalised to `YYYY-MM-DD` (or `YYYY-MM` for a month).
pub fn parse_date(s: &str) -> Option<String> {
    let t = s.trim();
    if let Ok(d) = Date::parse(t) {
        return Some(d.to_string());
    }
    let cleaned: String = t
        .trim_end_matches(['日', '号'])
        .chars()
        .map(|c| if matches!(c, '/' | '.' | '年' | '月') { '-' } else { c })
        .collect();
    let parts: Vec<&str> = cleaned.split('-').collect();
    let num = |p: &str| {
        (!p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u16>().ok())
            .flatten()
    };
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 && !d.is_empty() => {
            Date::new(num(y)?, u8::try_from(num(m)?).ok()?, u8::try_from(num(d)?).ok()?)
                .ok()
                .map(|d| d.to_string())
        }
        [y, m] | [y, m, ""] if y.len() == 4 => {
            let (y, m) = (num(y)?, num(m)?);
            Date::new(y, u8::try_from(m).ok()?, 1).ok().map(|_| format!("{y:04}-{m:02}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules { today: Date::new(2025, 6, 1).expect("day"), default_kind: Kind::Existing, strict: false }
    }

    fn row(id: &str) -> RawRow {
        let mut r = RawRow { row: 2, ..RawRow::default() };
        for (f, v) in [
            (Field::Name, "张三"),
            (Field::Id, id),
            (Field::Ethnicity, "汉"),
            (Field::Phone, "138-0013-8000"),
            (Field::Township, "泗水镇"),
            (Field::Account, "6228480012345678901"),
            (Field::Amount, "1,200.5"),
            (Field::ExpectedDate, "2025年9月30日"),
        ] {
            r.values[f.index()] = v.into();
        }
        r
    }

    #[test]
    fn a_good_row_is_normalised() {
        let c = check(&row("11010519491231002x"), &rules());
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        let p = c.person.expect("person");
        assert_eq!(p.get(Field::Id), "11010519491231002X");
        assert_eq!(p.get(Field::Ethnicity), "汉族");
        assert_eq!(p.get(Field::Phone), "13800138000");
        assert_eq!(p.get(Field::Amount), "1200.50");
        assert_eq!(p.get(Field::ExpectedDate), "2025-09-30");
        assert_eq!(p.kind, Kind::Existing);
    }

    #[test]
    fn id_problems_reject_and_fix_problems_do_not() {
        for (id, rule) in
            [("", "id-missing"), ("110105194912310021", "id-check-character"), ("1101051949", "id-length")]
        {
            let c = check(&row(id), &rules());
            assert!(c.person.is_none(), "{id}");
            assert_eq!(c.problems[0].rule(), rule);
            assert_eq!(c.problems[0].severity(), Severity::Reject);
        }
        let c = check(&row("110105491231002"), &rules());
        assert_eq!(c.person.expect("upgraded").get(Field::Id), "11010519491231002X");
        assert_eq!(c.problems, vec![Problem::Upgraded15]);

        let mut r = row("11010519491231002X");
        r.values[Field::Phone.index()] = "12345".into();
        r.values[Field::Amount.index()] = "-5".into();
        let c = check(&r, &rules());
        let rules_found: Vec<_> = c.problems.iter().map(Problem::rule).collect();
        assert_eq!(rules_found, ["phone-format", "amount-format"]);
        assert_eq!(c.person.expect("still compared").problems, ["phone-format", "amount-format"]);
        let strict = Rules { strict: true, ..rules() };
        assert!(check(&r, &strict).person.is_none());

        let mut r = row("11010519491231002X");
        r.id_was_number = true;
        assert_eq!(check(&r, &rules()).problems, vec![Problem::IdNumberCell]);
    }

    #[test]
    fn field_parsers() {
        assert_eq!(normalize_phone("+86 138 0013 8000").as_deref(), Some("13800138000"));
        assert_eq!(normalize_phone("0537-4227011").as_deref(), Some("05374227011"));
        assert_eq!(normalize_phone("4227011").as_deref(), Some("4227011"));
        for bad in ["1234", "12800138000", "138001380001", "abc"] {
            assert!(normalize_phone(bad).is_none(), "{bad}");
        }
        assert_eq!(parse_amount_fen("85.5元"), Some(8550));
        assert_eq!(parse_amount_fen("0"), Some(0));
        for bad in ["", "1.234", "-1", "一百", ".5", "1e3"] {
            assert_eq!(parse_amount_fen(bad), None, "{bad}");
        }
        assert_eq!(parse_date("2025/9/30").as_deref(), Some("2025-09-30"));
        assert_eq!(parse_date("20250930").as_deref(), Some("2025-09-30"));
        assert_eq!(parse_date("2025年9月").as_deref(), Some("2025-09"));
        for bad in ["2025-02-30", "九月", "30/09/2025", "2025-13"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
