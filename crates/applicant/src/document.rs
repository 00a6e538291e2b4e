//! Identity documents accepted at the counter (card-spec section 4) and their validity.
//!
//! Number layouts: the resident ID and the household register carry the same 18-character
//! GB 11643 number; residence permits of Hong Kong and Macao residents (810000/820000) and of
//! Taiwan residents (830000) use the GB 11643 layout too, as does the 2023 foreign permanent
//! residence ID (leading 9). The other layouts are checked for shape only [I]: travel permit
//! for Hong Kong and Macao residents `H`/`M` + 8 or 10 digits; for Taiwan residents 8 digits
//! (10 on older permits); Chinese passport `E` + 8 characters or `G` + 8 digits; the 2017
//! foreign permanent residence card three letters + 12 digits; foreign passports 5 to 17
//! capital letters or digits. The numeric ID-type codes each provincial service uses are a
//! profile setting, not fixed here: the JSON names below are this station's own.

use crate::date::Date;
use crate::error::{Explain, Warning};
use crate::id::{self, IdError, ResidentId};
use crate::{codes::Sex, region};
use std::fmt;

/// A kind of identity document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdType {
    /// 居民身份证: resident ID card.
    ResidentId,
    /// 居民户口簿: household register, for children under 16 without an ID card.
    HouseholdRegister,
    /// 港澳居民居住证: residence permit for Hong Kong and Macao residents.
    HkMacaoResidencePermit,
    /// 台湾居民居住证: residence permit for Taiwan residents.
    TaiwanResidencePermit,
    /// 港澳居民来往内地通行证: travel permit for Hong Kong and Macao residents.
    HkMacaoTravelPermit,
    /// 台湾居民来往大陆通行证: travel permit for Taiwan residents.
    TaiwanTravelPermit,
    /// 中华人民共和国护照: Chinese passport, for Chinese citizens living abroad.
    ChinesePassport,
    /// 外国人永久居留身份证: foreign permanent residence ID.
    ForeignPermanentResidence,
    /// 外国护照: foreign passport.
    ForeignPassport,
}

impl IdType {
    /// Every type, in the order above.
    pub const ALL: [IdType; 9] = [
        IdType::ResidentId,
        IdType::HouseholdRegister,
        IdType::HkMacaoResidencePermit,
        IdType::TaiwanResidencePermit,
        IdType::HkMacaoTravelPermit,
        IdType::TaiwanTravelPermit,
        IdType::ChinesePassport,
        IdType::ForeignPermanentResidence,
        IdType::ForeignPassport,
    ];

    /// The JSON name, e.g. `resident_id`.
    pub fn key(self) -> &'static str {
        match self {
            IdType::ResidentId => "resident_id",
            IdType::HouseholdRegister => "household_register",
            IdType::HkMacaoResidencePermit => "hk_macao_residence_permit",
            IdType::TaiwanResidencePermit => "taiwan_residence_permit",
            IdType::HkMacaoTravelPermit => "hk_macao_travel_permit",
            IdType::TaiwanTravelPermit => "taiwan_travel_permit",
            IdType::ChinesePassport => "chinese_passport",
            IdType::ForeignPermanentResidence => "foreign_permanent_residence",
            IdType::ForeignPassport => "foreign_passport",
        }
    }

    /// From the JSON name.
    pub fn from_key(key: &str) -> Option<IdType> {
        IdType::ALL.into_iter().find(|t| t.key() == key)
    }

    /// The Chinese name of the document.
    pub fn chinese_name(self) -> &'static str {
        match self {
            IdType::ResidentId => "居民身份证",
            IdType::HouseholdRegister => "居民户口簿",
            IdType::HkMacaoResidencePermit => "港澳居民居住证",
            IdType::TaiwanResidencePermit => "台湾居民居住证",
            IdType::HkMacaoTravelPermit => "港澳居民来往内地通行证",
            IdType::TaiwanTravelPermit => "台湾居民来往大陆通行证",
            IdType::ChinesePassport => "中华人民共和国护照",
            IdType::ForeignPermanentResidence => "外国人永久居留身份证",
            IdType::ForeignPassport => "外国护照",
        }
    }

    /// True for documents held by Chinese citizens (nationality CHN).
    pub fn is_chinese_citizen(self) -> bool {
        !matches!(self, IdType::ForeignPermanentResidence | IdType::ForeignPassport)
    }

    /// True when the number is the 18-character resident ID number itself.
    pub fn is_resident_number(self) -> bool {
        matches!(self, IdType::ResidentId | IdType::HouseholdRegister)
    }

    /// Checks a document number of this type. Lower-case letters are taken as capitals where
    /// the layout has letters.
    pub fn check_number(self, s: &str, today: Date) -> Result<(DocumentId, Vec<Warning>), IdError> {
        let mut warnings = Vec::new();
        let mut doc =
            DocumentId { id_type: self, number: s.to_ascii_uppercase(), birth_date: None, sex: None };
        let format = |expected| IdError::Format { document: self.chinese_name(), expected };
        let upper = doc.number.clone();
        let b = upper.as_bytes();
        let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
        match self {
            IdType::ResidentId | IdType::HouseholdRegister => {
                let (rid, w) = ResidentId::parse(s, today)?;
                warnings = w;
                doc.birth_date = Some(rid.birth_date());
                doc.sex = Some(rid.sex());
                doc.number = rid.as_str().to_owned();
            }
            IdType::HkMacaoResidencePermit | IdType::TaiwanResidencePermit => {
                let g = id::check_gb11643(s, today)?;
                let prefix = &upper[..6];
                let (ok, expected) = if self == IdType::TaiwanResidencePermit {
                    (prefix == "830000", "830000")
                } else {
                    (prefix == "810000" || prefix == "820000", "810000 or 820000")
                };
                if !ok {
                    return Err(IdError::AddressCode { found: prefix.to_owned(), expected });
                }
                doc.birth_date = Some(g.birth_date);
                doc.sex = Some(Sex::from_sequence(g.digits[16]));
            }
            IdType::ForeignPermanentResidence if b.len() == 18 => {
                let g = id::check_gb11643(s, today)?;
                if b[0] != b'9' {
                    return Err(format("9 + 17 characters (2023 card) or 3 letters + 12 digits"));
                }
                if region::province_name(&upper[1..3]).is_none() {
                    return Err(IdError::Province(upper[1..3].to_owned()));
                }
                doc.birth_date = Some(g.birth_date);
                doc.sex = Some(Sex::from_sequence(g.digits[16]));
            }
            IdType::ForeignPermanentResidence => {
                let ok = b.len() == 15 && b[..3].iter().all(u8::is_ascii_uppercase) && digits(3..15);
                if !ok {
                    return Err(format("9 + 17 characters (2023 card) or 3 letters + 12 digits"));
                }
            }
            IdType::HkMacaoTravelPermit => {
                let ok =
                    matches!(b.first(), Some(b'H' | b'M')) && matches!(b.len(), 9 | 11) && digits(1..b.len());
                if !ok {
                    return Err(format("H or M followed by 8 (or 10) digits"));
                }
            }
            IdType::TaiwanTravelPermit => {
                if !(matches!(b.len(), 8 | 10) && digits(0..b.len())) {
                    return Err(format("8 digits (10 on permits issued before 2015)"));
                }
            }
            IdType::ChinesePassport => {
                let ok = b.len() == 9
                    && match b[0] {
                        b'E' => {
                            b[1].is_ascii_digit()
                                || (b[1].is_ascii_uppercase() && !matches!(b[1], b'I' | b'O'))
                        }
                        b'G' => b[1].is_ascii_digit(),
                        _ => false,
                    }
                    && digits(2..9);
                if !ok {
                    return Err(format("E + 8 characters (E12345678, EA1234567) or G + 8 digits"));
                }
            }
            IdType::ForeignPassport => {
                let ok = (5..=17).contains(&b.len())
                    && b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
                if !ok {
                    return Err(format("5 to 17 letters and digits, as in the machine-readable zone"));
                }
            }
        }
        Ok((doc, warnings))
    }
}

impl fmt::Display for IdType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A checked document number, with what its layout reveals. Debug is masked.
#[derive(Clone, PartialEq, Eq)]
pub struct DocumentId {
    /// The kind of document.
    pub id_type: IdType,
    number: String,
    /// The birth date inside the number, for GB 11643 layouts.
    pub birth_date: Option<Date>,
    /// The sex inside the number, for GB 11643 layouts.
    pub sex: Option<Sex>,
}

impl DocumentId {
    /// The full number (letters in capitals, X for the check character). Never log it.
    pub fn as_str(&self) -> &str {
        &self.number
    }

    /// The number with all but the first six and last four characters hidden.
    pub fn masked(&self) -> String {
        id::mask(&self.number)
    }
}

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({} {})", self.id_type, self.masked())
    }
}

/// The last day of validity, or long-term (长期).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidUntil {
    /// Valid up to and including this day.
    Date(Date),
    /// 长期: no end.
    LongTerm,
}

/// How long a document is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdValidity {
    /// First day of validity (issue date).
    pub from: Date,
    /// Last day of validity.
    pub to: ValidUntil,
}

/// Why a validity period is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidityError {
    /// A date that does not parse.
    #[error("'{0}' is not a date (YYYY-MM-DD), nor 长期 for long-term")]
    Date(String),
    /// The document ran out.
    #[error("the document expired on {0}")]
    Expired(Date),
    /// The document's validity starts after today.
    #[error("the document is valid only from {0}")]
    NotYetValid(Date),
    /// The end is before the start.
    #[error("the validity ends ({to}) before it starts ({from})")]
    Reversed {
        /// Start.
        from: Date,
        /// End.
        to: Date,
    },
}

impl Explain for ValidityError {
    fn rule(&self) -> &'static str {
        match self {
            ValidityError::Date(_) => "id-validity-format",
            ValidityError::Expired(_) => "id-expired",
            ValidityError::NotYetValid(_) => "id-not-yet-valid",
            ValidityError::Reversed { .. } => "id-validity-order",
        }
    }
    fn hint(&self) -> String {
        match self {
            ValidityError::Date(_) | ValidityError::Reversed { .. } => {
                "copy the validity dates from the document: from YYYY-MM-DD to YYYY-MM-DD, or to 长期".into()
            }
            ValidityError::Expired(_) => "the applicant must renew the document (or present another valid \
                 one) before a card can be issued"
                .into(),
            ValidityError::NotYetValid(_) => {
                "check the issue date on the document and the station's date".into()
            }
        }
    }
}

/// As the document and the police register write it: `YYYY-MM-DD`, or 长期.
impl fmt::Display for ValidUntil {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidUntil::Date(d) => write!(f, "{d}"),
            ValidUntil::LongTerm => f.write_str("长期"),
        }
    }
}

impl IdValidity {
    /// Parses `from` (a date) and `to` (a date, or 长期 / `long_term`) and checks the period
    /// against `today`: an expired document is an error.
    pub fn parse(from: &str, to: &str, today: Date) -> Result<IdValidity, ValidityError> {
        let from = Date::parse(from).map_err(|_| ValidityError::Date(from.to_owned()))?;
        let to = match to {
            "长期" | "long_term" => ValidUntil::LongTerm,
            other => ValidUntil::Date(Date::parse(other).map_err(|_| ValidityError::Date(other.to_owned()))?),
        };
        let v = IdValidity { from, to };
        v.check(today)?;
        Ok(v)
    }

    /// Checks the period against `today`.
    pub fn check(&self, today: Date) -> Result<(), ValidityError> {
        if let ValidUntil::Date(to) = self.to {
            if to < self.from {
                return Err(ValidityError::Reversed { from: self.from, to });
            }
            if to < today {
                return Err(ValidityError::Expired(to));
            }
        }
        if self.from > today {
            return Err(ValidityError::NotYetValid(self.from));
        }
        Ok(())
    }

    /// For a resident ID card: the period the law gives for the holder's age at issue
    /// (under 16: 5 years, 16-25: 10, 26-45: 20, 46 and over: long-term). A mismatch only warns:
    /// replacement cards and old cards follow other rules.
    pub fn resident_id_warning(&self, birth_date: Date) -> Option<Warning> {
        let age = birth_date.years_until(self.from);
        let expected = match age {
            0..=15 => Some(5),
            16..=25 => Some(10),
            26..=45 => Some(20),
            _ => None,
        };
        let actual = match self.to {
            ValidUntil::LongTerm => None,
            ValidUntil::Date(to) => Some(to),
        };
        let wanted = expected.and_then(|y| self.from.add_years(y));
        if wanted == actual {
            return None;
        }
        let said = |y: Option<u16>| y.map_or("long-term".to_owned(), |y| format!("{y} years"));
        Some(Warning::new(
            "id-validity-period",
            format!(
                "a resident ID issued at age {age} is valid {}, but this one is given as {}",
                said(expected),
                match actual {
                    None => "long-term".to_owned(),
                    Some(to) => format!("valid until {to}"),
                }
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::new(2025, 6, 1).expect("date")
    }

    fn with_check(first17: &str) -> String {
        format!("{first17}{}", id::gb11643_check_char(first17).expect("digits"))
    }

    #[test]
    fn keys_round_trip() {
        for t in IdType::ALL {
            assert_eq!(IdType::from_key(t.key()), Some(t));
            let json = format!("\"{}\"", t.key());
            assert_eq!(serde_json::from_str::<IdType>(&json).expect("serde"), t);
        }
        assert_eq!(IdType::from_key("passport"), None);
    }

    #[test]
    fn resident_number_types() {
        let (doc, _) = IdType::ResidentId.check_number("11010519491231002x", today()).expect("valid");
        assert_eq!(doc.as_str(), "11010519491231002X");
        assert_eq!(doc.sex, Some(Sex::Female));
        assert_eq!(format!("{doc:?}"), "DocumentId(resident_id 110105********002X)");
        assert!(IdType::HouseholdRegister.check_number("11010519491231002X", today()).is_ok());
    }

    #[test]
    fn residence_permits() {
        let hk = with_check("81000019900101001");
        let (doc, _) = IdType::HkMacaoResidencePermit.check_number(&hk, today()).expect("hk");
        assert_eq!(doc.birth_date, Some(Date::new(1990, 1, 1).expect("date")));
        assert_eq!(doc.sex, Some(Sex::Male));
        let tw = with_check("83000019900101002");
        assert!(IdType::TaiwanResidencePermit.check_number(&tw, today()).is_ok());
        let e = IdType::TaiwanResidencePermit.check_number(&hk, today()).expect_err("hk prefix");
        assert_eq!(e.rule(), "id-address-code");
        let e =
            IdType::HkMacaoResidencePermit.check_number("11010519491231002X", today()).expect_err("resident");
        assert_eq!(e.rule(), "id-address-code");
    }

    #[test]
    fn other_layouts() {
        let ok = |t: IdType, s: &str| assert!(t.check_number(s, today()).is_ok(), "{t} {s}");
        let bad = |t: IdType, s: &str| {
            assert_eq!(t.check_number(s, today()).expect_err(s).rule(), "id-format", "{t} {s}");
        };
        ok(IdType::HkMacaoTravelPermit, "H12345678");
        ok(IdType::HkMacaoTravelPermit, "m1234567890");
        bad(IdType::HkMacaoTravelPermit, "X12345678");
        ok(IdType::TaiwanTravelPermit, "12345678");
        bad(IdType::TaiwanTravelPermit, "1234567");
        ok(IdType::ChinesePassport, "E12345678");
        ok(IdType::ChinesePassport, "EA1234567");
        ok(IdType::ChinesePassport, "G12345678");
        bad(IdType::ChinesePassport, "EI1234567");
        bad(IdType::ChinesePassport, "P12345678");
        ok(IdType::ForeignPermanentResidence, "USA110012345678");
        ok(IdType::ForeignPermanentResidence, &with_check("91184019850505001"));
        bad(IdType::ForeignPermanentResidence, "US110012345678");
        ok(IdType::ForeignPassport, "C01X00T47");
        bad(IdType::ForeignPassport, "AB-12345");
        bad(IdType::ForeignPassport, "1234");
    }

    #[test]
    fn validity() {
        let v = IdValidity::parse("2010-01-01", "2030-01-01", today()).expect("valid");
        assert_eq!(v.to, ValidUntil::Date(Date::new(2030, 1, 1).expect("date")));
        assert_eq!(IdValidity::parse("2010-01-01", "长期", today()).expect("long").to, ValidUntil::LongTerm);
        assert!(IdValidity::parse("2015-06-01", "2025-06-01", today()).is_ok(), "last day counts");
        let e = |f: &str, t: &str| IdValidity::parse(f, t, today()).expect_err("bad").rule();
        assert_eq!(e("2005-01-01", "2025-05-31"), "id-expired");
        assert_eq!(e("2026-01-01", "2036-01-01"), "id-not-yet-valid");
        assert_eq!(e("2020-01-01", "2019-01-01"), "id-validity-order");
        assert_eq!(e("2020-01-01", "forever"), "id-validity-format");
    }

    #[test]
    fn resident_id_period_warning() {
        let born = Date::new(1990, 3, 15).expect("date");
        let v = IdValidity::parse("2010-05-01", "2020-05-01", Date::new(2015, 1, 1).expect("d")).expect("v");
        assert_eq!(v.resident_id_warning(born), None, "issued at 20: 10 years");
        let v = IdValidity::parse("2010-05-01", "2030-05-01", Date::new(2015, 1, 1).expect("d")).expect("v");
        assert_eq!(v.resident_id_warning(born).map(|w| w.rule), Some("id-validity-period"));
        let old = Date::new(1949, 12, 31).expect("date");
        let v = IdValidity::parse("2010-05-01", "长期", today()).expect("v");
        assert_eq!(v.resident_id_warning(old), None, "issued at 60: long-term");
    }
}
