//! GB/T 2260 administrative division codes, as data.
//!
//! The province list (two digits, 11..82) is short and stable, so it is a table here; a
//! province outside it is an error. The six-digit county-level codes change every year, so
//! they are shipped as two data files from the Ministry of Civil Affairs lists (collected in
//! the public cn/GB2260 repository): `data/gb2260-current.tsv` (revision [`GB2260_REVISION`])
//! and `data/gb2260-withdrawn.tsv` (codes listed in an earlier revision since 1980 but not in
//! the current one). ID numbers keep the county code of their first issue, so a withdrawn or
//! unknown county code only warns; codes created after [`GB2260_REVISION`] also warn, until
//! the files are refreshed.

use crate::error::{Explain, Warning};
use std::fmt;
use std::sync::OnceLock;

/// The revision (YYYYMM) of the current county-level list shipped with this crate.
pub const GB2260_REVISION: &str = "201904";

/// The 34 province-level codes of GB/T 2260, with their names.
pub const PROVINCES: [(&str, &str); 34] = [
    ("11", "北京市"),
    ("12", "天津市"),
    ("13", "河北省"),
    ("14", "山西省"),
    ("15", "内蒙古自治区"),
    ("21", "辽宁省"),
    ("22", "吉林省"),
    ("23", "黑龙江省"),
    ("31", "上海市"),
    ("32", "江苏省"),
    ("33", "浙江省"),
    ("34", "安徽省"),
    ("35", "福建省"),
    ("36", "江西省"),
    ("37", "山东省"),
    ("41", "河南省"),
    ("42", "湖北省"),
    ("43", "湖南省"),
    ("44", "广东省"),
    ("45", "广西壮族自治区"),
    ("46", "海南省"),
    ("50", "重庆市"),
    ("51", "四川省"),
    ("52", "贵州省"),
    ("53", "云南省"),
    ("54", "西藏自治区"),
    ("61", "陕西省"),
    ("62", "甘肃省"),
    ("63", "青海省"),
    ("64", "宁夏回族自治区"),
    ("65", "新疆维吾尔自治区"),
    ("71", "台湾省"),
    ("81", "香港特别行政区"),
    ("82", "澳门特别行政区"),
];

const CURRENT: &str = include_str!("../data/gb2260-current.tsv");
const WITHDRAWN: &str = include_str!("../data/gb2260-withdrawn.tsv");

/// The name of a two-digit province code, if GB/T 2260 has it.
pub fn province_name(code: &str) -> Option<&'static str> {
    PROVINCES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// What the shipped lists know about a six-digit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionStatus {
    /// In the current revision.
    Current {
        /// Its name there.
        name: &'static str,
    },
    /// Listed in an earlier revision only.
    Withdrawn {
        /// Its name as last listed.
        name: &'static str,
        /// The last revision (YYYYMM) that listed it.
        last_listed: &'static str,
    },
    /// In no shipped revision.
    Unknown,
}

/// One line of a data file: code, name, and (withdrawn list only) last revision.
type Row = (u32, &'static str, &'static str);

fn table(text: &'static str) -> Vec<Row> {
    let mut rows: Vec<Row> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let code = cols.next()?.parse().ok()?;
            Some((code, cols.next().unwrap_or(""), cols.next().unwrap_or("")))
        })
        .collect();
    rows.sort_by_key(|r| r.0);
    rows
}

fn find(rows: &[Row], code: u32) -> Option<Row> {
    rows.binary_search_by_key(&code, |r| r.0).ok().map(|i| rows[i])
}

/// Looks a six-digit code up in the shipped lists.
pub fn lookup(code: &str) -> RegionStatus {
    static CUR: OnceLock<Vec<Row>> = OnceLock::new();
    static OLD: OnceLock<Vec<Row>> = OnceLock::new();
    let Some(n) = code.parse::<u32>().ok().filter(|_| code.len() == 6) else {
        return RegionStatus::Unknown;
    };
    if let Some((_, name, _)) = find(CUR.get_or_init(|| table(CURRENT)), n) {
        return RegionStatus::Current { name };
    }
    match find(OLD.get_or_init(|| table(WITHDRAWN)), n) {
        Some((_, name, last_listed)) => RegionStatus::Withdrawn { name, last_listed },
        None => RegionStatus::Unknown,
    }
}

/// The warning (if any) for a six-digit code whose province is known.
pub(crate) fn county_warning(code: &str) -> Option<Warning> {
    match lookup(code) {
        RegionStatus::Current { .. } => None,
        RegionStatus::Withdrawn { name, last_listed } => Some(Warning::new(
            "region-withdrawn",
            format!("region code {code} ({name}) was withdrawn after revision {last_listed}; accepted"),
        )),
        RegionStatus::Unknown => Some(Warning::new(
            "region-unknown",
            format!(
                "region code {code} is in no GB/T 2260 list up to revision {GB2260_REVISION}; \
                 accepted, the province is known"
            ),
        )),
    }
}

/// A six-digit GB/T 2260 region code with a known province: the birthplace on the card
/// (EF06 tag 0C, three BCD bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionCode([u8; 6]);

/// A region code that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegionError {
    /// Not six ASCII digits.
    #[error("a region code is six digits; got {0} characters or a non-digit")]
    Format(usize),
    /// The first two digits are no province of GB/T 2260.
    #[error("province code {0} is not in GB/T 2260")]
    Province(String),
}

impl Explain for RegionError {
    fn rule(&self) -> &'static str {
        match self {
            RegionError::Format(_) => "region-format",
            RegionError::Province(_) => "region-province",
        }
    }
    fn hint(&self) -> String {
        match self {
            RegionError::Format(_) => "enter the six-digit GB/T 2260 code of the county or district \
                                       (e.g. 110105), not its name"
                .into(),
            RegionError::Province(_) => "check the first two digits: they name the province (11 Beijing \
                                         .. 65 Xinjiang, 71 Taiwan, 81 Hong Kong, 82 Macao)"
                .into(),
        }
    }
}

impl RegionCode {
    /// Parses a six-digit code. An unknown or withdrawn county code with a known province is
    /// accepted with a warning: people keep the birthplace code of their time.
    pub fn parse(s: &str) -> Result<(RegionCode, Vec<Warning>), RegionError> {
        let b = s.as_bytes();
        if b.len() != 6 || !b.iter().all(u8::is_ascii_digit) {
            return Err(RegionError::Format(s.chars().count()));
        }
        if province_name(&s[..2]).is_none() {
            return Err(RegionError::Province(s[..2].to_owned()));
        }
        let mut code = [0u8; 6];
        code.copy_from_slice(b);
        Ok((RegionCode(code), county_warning(s).into_iter().collect()))
    }

    /// The six digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The name in the current list, if it is there.
    pub fn name(&self) -> Option<&'static str> {
        match lookup(self.as_str()) {
            RegionStatus::Current { name } => Some(name),
            _ => None,
        }
    }

    /// Three BCD bytes (card format "cn", EF06 tag 0C).
    pub fn to_bcd(&self) -> [u8; 3] {
        let d = |i: usize| self.0[i] - b'0';
        [(d(0) << 4) | d(1), (d(2) << 4) | d(3), (d(4) << 4) | d(5)]
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegionCode({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_load() {
        assert_eq!(lookup("110105"), RegionStatus::Current { name: "朝阳区" });
        assert_eq!(lookup("440524"), RegionStatus::Withdrawn { name: "潮阳县", last_listed: "199212" });
        assert_eq!(lookup("340524"), RegionStatus::Unknown);
        assert_eq!(lookup("11010"), RegionStatus::Unknown);
        // Every province of the table is in the current list, and every current code has one.
        for (code, name) in PROVINCES {
            assert_eq!(lookup(&format!("{code}0000")), RegionStatus::Current { name }, "{code}");
        }
        assert!(table(CURRENT).len() > 3000);
        for (code, _, _) in table(CURRENT) {
            assert!(province_name(&code.to_string()[..2]).is_some(), "{code}");
        }
    }

    #[test]
    fn region_codes() {
        let (code, warnings) = RegionCode::parse("110105").expect("valid");
        assert!(warnings.is_empty());
        assert_eq!(code.to_bcd(), [0x11, 0x01, 0x05]);
        assert_eq!(code.name(), Some("朝阳区"));
        let (_, warnings) = RegionCode::parse("440524").expect("withdrawn is accepted");
        assert_eq!(warnings[0].rule, "region-withdrawn");
        let (_, warnings) = RegionCode::parse("340524").expect("unknown county is accepted");
        assert_eq!(warnings[0].rule, "region-unknown");
        assert_eq!(RegionCode::parse("990101").map(|_| ()), Err(RegionError::Province("99".into())));
        assert_eq!(RegionCode::parse("11010x").map(|_| ()), Err(RegionError::Format(6)));
        assert_eq!(RegionCode::parse("朝阳区").map(|_| ()), Err(RegionError::Format(3)));
    }
}
