//! The 18-character resident ID number of GB 11643-1999, which is also the social-security
//! number on the card (EF06 tag 08).
//!
//! Layout: six-digit address code (GB/T 2260, county of first registration), birth date
//! `YYYYMMDD`, three-digit sequence (odd for men, even for women), check character. The check
//! character is `"10X98765432"[S mod 11]` with `S = sum(a_i * W_i)` and
//! `W = 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2`; it catches every single wrong character and every
//! swap of two neighbours. The same layout and check serve the residence permits of Hong Kong,
//! Macao and Taiwan residents (address 810000/820000/830000) and the 2023 foreign permanent
//! residence ID (leading 9), so the core check is shared with [`crate::document`].

use crate::codes::Sex;
use crate::date::{self, Date};
use crate::error::{Explain, Warning};
use crate::region;
use std::fmt;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

/// The check character for the first 17 digits (ASCII); `None` if one is not a digit.
pub fn gb11643_check_char(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let s: u32 = b.iter().zip(WEIGHTS).map(|(c, w)| u32::from(c - b'0') * w).sum();
    Some(CHECK[(s % 11) as usize] as char)
}

/// Why an ID number of the GB 11643 layout is refused. Messages never repeat the number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// Not 18 characters (or 15 for the legacy upgrade).
    #[error("an ID number has {expected} characters; this one has {len}")]
    Length {
        /// Characters found.
        len: usize,
        /// Characters needed.
        expected: usize,
    },
    /// A character other than a digit, or than X in the last place.
    #[error("character {position} is '{found}'; only digits are allowed, and X as the last character")]
    Character {
        /// 1-based position.
        position: usize,
        /// What is there.
        found: char,
    },
    /// The check character does not match the other 17.
    #[error("the check character is '{found}' but the other 17 characters give '{expected}'")]
    CheckCharacter {
        /// What the number has.
        found: char,
        /// What it should be.
        expected: char,
    },
    /// Characters 7-14 are not a day of the calendar.
    #[error("the birth date inside the number ({0}) is not a day of the calendar")]
    BirthDate(String),
    /// The birth date inside the number is after today.
    #[error("the birth date inside the number ({0}) is in the future")]
    FutureBirthDate(Date),
    /// The first two digits are not a GB/T 2260 province.
    #[error("the address code starts with {0}, which is no province of GB/T 2260")]
    Province(String),
    /// The number does not have the layout of its document type.
    #[error("a {document} number looks like {expected}")]
    Format {
        /// The document type, in words.
        document: &'static str,
        /// The layout, in words.
        expected: &'static str,
    },
    /// The address code is not what this kind of document carries.
    #[error("the address code {found} does not fit this document; expected {expected}")]
    AddressCode {
        /// The first six digits (never personal on their own).
        found: String,
        /// What the document type needs.
        expected: &'static str,
    },
}

impl Explain for IdError {
    fn rule(&self) -> &'static str {
        match self {
            IdError::Length { .. } => "id-length",
            IdError::Character { .. } => "id-character",
            IdError::CheckCharacter { .. } => "id-check-character",
            IdError::BirthDate(_) => "id-birth-date",
            IdError::FutureBirthDate(_) => "id-birth-date-future",
            IdError::Province(_) => "id-province",
            IdError::AddressCode { .. } => "id-address-code",
            IdError::Format { .. } => "id-format",
        }
    }

    fn hint(&self) -> String {
        match self {
            IdError::Length { expected: 18, .. } => "re-read the number from the document; a 15-digit \
                 first-generation number must be upgraded to 18 characters (the card service does \
                 this, or use the legacy upgrade)"
                .into(),
            IdError::Length { .. } => "re-read the number from the document".into(),
            IdError::Character { .. } => {
                "re-type the number: digits only, with X (or x) allowed as the last character".into()
            }
            IdError::CheckCharacter { .. } => "re-read the number from the document (or scan it): one \
                 wrong or swapped digit is the usual cause; if the document itself fails the check, \
                 send the applicant to the public-security office"
                .into(),
            IdError::BirthDate(_) | IdError::Province(_) | IdError::AddressCode { .. } => {
                "re-read the number from the document; if it really reads so, the document is not \
                 genuine or is misprinted: refer to the public-security office"
                    .into()
            }
            IdError::FutureBirthDate(_) => "check the station's date and re-read the number".into(),
            IdError::Format { .. } => "re-read the number from the document, and check that the ID \
                 type chosen is the document the applicant actually presented"
                .into(),
        }
    }
}

/// The parts of a number that passed the GB 11643 checks, before any document-specific rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gb11643 {
    pub(crate) digits: [u8; 18],
    pub(crate) birth_date: Date,
}

/// The checks common to every GB 11643-layout number: length, characters, check character,
/// real birth date not after `today`. Lower-case x is taken as X.
pub(crate) fn check_gb11643(s: &str, today: Date) -> Result<Gb11643, IdError> {
    let len = s.chars().count();
    if len != 18 {
        return Err(IdError::Length { len, expected: 18 });
    }
    let mut digits = [0u8; 18];
    for (i, c) in s.chars().enumerate() {
        let ok = c.is_ascii_digit() || (i == 17 && (c == 'X' || c == 'x'));
        if !ok {
            return Err(IdError::Character { position: i + 1, found: c });
        }
        digits[i] = c.to_ascii_uppercase() as u8;
    }
    let first17 = std::str::from_utf8(&digits[..17]).unwrap_or_default();
    let expected = gb11643_check_char(first17).unwrap_or('?');
    if digits[17] as char != expected {
        return Err(IdError::CheckCharacter { found: digits[17] as char, expected });
    }
    let date_text = &first17[6..14];
    let birth_date = match date::parse_compact(date_text) {
        Some(Ok(d)) => d,
        _ => return Err(IdError::BirthDate(date_text.to_owned())),
    };
    if birth_date > today {
        return Err(IdError::FutureBirthDate(birth_date));
    }
    Ok(Gb11643 { digits, birth_date })
}

/// A checked 18-character resident ID number. Debug and Display are masked (the first six
/// and last four characters show); [`ResidentId::as_str`] is the explicit way to the full
/// value, e.g. for writing EF06 tag 08.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentId {
    text: String,
    birth_date: Date,
}

impl ResidentId {
    /// Checks an 18-character number: GB 11643 check character, real birth date not after
    /// `today`, known province. An unknown or withdrawn county code is a warning, not an
    /// error: numbers keep the county of first registration. Lower-case x is accepted.
    pub fn parse(s: &str, today: Date) -> Result<(ResidentId, Vec<Warning>), IdError> {
        let g = check_gb11643(s, today)?;
        let text = String::from_utf8_lossy(&g.digits).into_owned();
        if region::province_name(&text[..2]).is_none() {
            return Err(IdError::Province(text[..2].to_owned()));
        }
        let warnings = region::county_warning(&text[..6]).into_iter().collect();
        Ok((ResidentId { text, birth_date: g.birth_date }, warnings))
    }

    /// Upgrades a 15-digit first-generation number: "19" goes before the two-digit year and
    /// the check character is appended. The result is checked like any 18-character number.
    pub fn from_legacy15(s: &str, today: Date) -> Result<(ResidentId, Vec<Warning>), IdError> {
        let len = s.chars().count();
        if len != 15 {
            return Err(IdError::Length { len, expected: 15 });
        }
        if let Some((i, c)) = s.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(IdError::Character { position: i + 1, found: c });
        }
        let first17 = format!("{}19{}", &s[..6], &s[6..]);
        let check = gb11643_check_char(&first17).unwrap_or('?');
        ResidentId::parse(&format!("{first17}{check}"), today)
    }

    /// The full number, for the card and the provincial service. Never log it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The birth date inside the number.
    pub fn birth_date(&self) -> Date {
        self.birth_date
    }

    /// Male for an odd sequence number (17th character), female for an even one.
    pub fn sex(&self) -> Sex {
        Sex::from_sequence(self.text.as_bytes()[16])
    }

    /// The six-digit address code (county of first registration).
    pub fn region_code(&self) -> &str {
        &self.text[..6]
    }

    /// For logs: first six and last four characters, e.g. `110105********002X`.
    pub fn masked(&self) -> String {
        mask(&self.text)
    }
}

/// First six and last four characters, the rest as `*`: how an ID number may appear in
/// logs, the ledger and screens that do not need it whole.
pub fn mask(s: &str) -> String {
    let n = s.chars().count();
    if n <= 10 {
        return "*".repeat(n);
    }
    s.chars().enumerate().map(|(i, c)| if i < 6 || i >= n - 4 { c } else { '*' }).collect()
}

/// `text` with every resident ID number in it masked as [`mask`] does, or None when it holds
/// none: for text this program does not make itself (another system's log or error) before it
/// is shown or kept. An ID number here is 17 digits and a check character standing alone (not
/// inside a longer word or number); the check character is not verified, so a mistyped number
/// is masked too.
pub fn mask_in(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut found = false;
    let mut rest = text;
    while !rest.is_empty() {
        let len = rest.bytes().take_while(u8::is_ascii_alphanumeric).count();
        let (word, after) = rest.split_at(len);
        let b = word.as_bytes();
        if b.len() == 18
            && b[..17].iter().all(u8::is_ascii_digit)
            && matches!(b[17], b'0'..=b'9' | b'X' | b'x')
        {
            found = true;
            out.push_str(&mask(word));
        } else {
            out.push_str(word);
        }
        let mut chars = after.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    found.then_some(out)
}

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

impl fmt::Display for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: [&str; 3] = ["11010519491231002X", "440524188001010014", "34052419800101001X"];

    #[test]
    fn mask_in_finds_an_id_number_anywhere_in_a_line() {
        let detail = "DETAIL:  Key (ssn)=(11010519491231002X) already exists.";
        assert_eq!(
            mask_in(detail).as_deref(),
            Some("DETAIL:  Key (ssn)=(110105********002X) already exists.")
        );
        assert_eq!(
            mask_in("行：(110105194912310021,王小明)").as_deref(),
            Some("行：(110105********0021,王小明)")
        );
        // Card numbers, claim ids, times and longer runs of digits are not ID numbers.
        assert_eq!(mask_in("B00000019 claim 1234567 at 2026-12-07 01:02:03.456 UTC"), None);
        assert_eq!(mask_in("1101051949123100217"), None);
        assert_eq!(mask_in("a11010519491231002X"), None);
        assert_eq!(mask_in(""), None);
    }

    fn today() -> Date {
        Date::new(2025, 6, 1).expect("date")
    }

    #[test]
    fn spec_vectors_are_valid() {
        for v in VALID {
            let (id, _) = ResidentId::parse(v, today()).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(id.as_str(), v);
        }
        let (id, warnings) = ResidentId::parse(VALID[0], today()).expect("valid");
        assert!(warnings.is_empty(), "110105 is a current code");
        assert_eq!(id.birth_date(), Date::new(1949, 12, 31).expect("date"));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.region_code(), "110105");
    }

    #[test]
    fn every_single_character_corruption_is_caught() {
        for v in VALID {
            for pos in 0..18 {
                let alphabet: &[u8] = if pos == 17 { b"0123456789X" } else { b"0123456789" };
                for &c in alphabet {
                    let mut b = v.as_bytes().to_vec();
                    if b[pos] == c {
                        continue;
                    }
                    b[pos] = c;
                    let s = String::from_utf8(b).expect("ascii");
                    assert!(ResidentId::parse(&s, today()).is_err(), "{s} accepted");
                }
            }
        }
    }

    #[test]
    fn lower_case_x_is_accepted_and_normalised() {
        let (id, _) = ResidentId::parse("11010519491231002x", today()).expect("valid");
        assert_eq!(id.as_str(), "11010519491231002X");
    }

    #[test]
    fn errors_name_the_rule() {
        let e = |s: &str| ResidentId::parse(s, today()).expect_err("invalid").rule();
        assert_eq!(e("11010519491231002"), "id-length");
        assert_eq!(e("1101051949123100X2"), "id-character");
        assert_eq!(e("11010519491231002Y"), "id-character");
        assert_eq!(e("110105194912310021"), "id-check-character");
        // Correct check characters on impossible content.
        let with_check = |first17: &str| format!("{first17}{}", gb11643_check_char(first17).expect("digits"));
        assert_eq!(e(&with_check("11010519490230002")), "id-birth-date");
        assert_eq!(e(&with_check("11010520990101002")), "id-birth-date-future");
        assert_eq!(e(&with_check("99010519491231002")), "id-province");
        assert_eq!(e(&with_check("83000019491231002")), "id-province");
    }

    #[test]
    fn today_is_a_parameter() {
        let first17 = "11010520250601002";
        let s = format!("{first17}{}", gb11643_check_char(first17).expect("digits"));
        assert!(ResidentId::parse(&s, today()).is_ok(), "born today");
        let yesterday = Date::new(2025, 5, 31).expect("date");
        assert!(matches!(ResidentId::parse(&s, yesterday), Err(IdError::FutureBirthDate(_))));
    }

    #[test]
    fn withdrawn_and_unknown_counties_warn() {
        let (_, w) = ResidentId::parse("440524188001010014", today()).expect("valid");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].rule, "region-withdrawn");
        let (_, w) = ResidentId::parse("34052419800101001X", today()).expect("valid");
        assert_eq!(w[0].rule, "region-unknown");
    }

    #[test]
    fn legacy_15_digit_upgrade() {
        let (id, _) = ResidentId::from_legacy15("110105491231002", today()).expect("valid");
        assert_eq!(id.as_str(), "11010519491231002X");
        let (id, _) = ResidentId::from_legacy15("340524800101001", today()).expect("valid");
        assert_eq!(id.as_str(), "34052419800101001X");
        assert_eq!(
            ResidentId::from_legacy15("11010549123100", today()).expect_err("short").rule(),
            "id-length"
        );
        assert_eq!(
            ResidentId::from_legacy15("11010549123100X", today()).expect_err("x").rule(),
            "id-character"
        );
        assert_eq!(
            ResidentId::from_legacy15("110105490231002", today()).expect_err("30 Feb").rule(),
            "id-birth-date"
        );
    }

    #[test]
    fn debug_and_display_are_masked() {
        let (id, _) = ResidentId::parse(VALID[0], today()).expect("valid");
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(format!("{id}"), "110105********002X");
        assert_eq!(format!("{id:?}"), "ResidentId(110105********002X)");
        assert!(!format!("{id:?}{id}").contains("19491231"));
    }

    #[test]
    fn error_messages_do_not_leak_the_number() {
        let e = ResidentId::parse("110105194912310021", today()).expect_err("bad check");
        assert!(!e.to_string().contains("19491231"), "{e}");
    }
}
