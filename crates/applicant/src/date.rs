//! A calendar date with nothing else: validation needs real dates, ordering and ages, not
//! time zones or clocks, so a small own type beats pulling in a date-time crate. Nothing here
//! reads the clock: "today" is always a parameter, so validation is reproducible and testable.

use std::fmt;

/// A valid proleptic Gregorian date, years 1000..=9999.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

/// A string or triple that is not a real calendar date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DateError {
    /// Not in one of the accepted spellings.
    #[error("'{0}' is not a date in the form YYYY-MM-DD or YYYYMMDD")]
    Format(String),
    /// The parts do not make a day of the calendar (month 13, 30 February...).
    #[error("{year:04}-{month:02}-{day:02} is not a day of the calendar")]
    NoSuchDay {
        /// Year as given.
        year: u16,
        /// Month as given.
        month: u8,
        /// Day as given.
        day: u8,
    },
}

impl Date {
    /// The date, if it is a day of the calendar between the years 1000 and 9999.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Date, DateError> {
        let ok = (1000..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month);
        if ok {
            Ok(Date { year, month, day })
        } else {
            Err(DateError::NoSuchDay { year, month, day })
        }
    }

    /// Parses `YYYY-MM-DD` (the JSON form) or `YYYYMMDD` (the card and ID-number form).
    pub fn parse(s: &str) -> Result<Date, DateError> {
        let b = s.as_bytes();
        let digits = match b.len() {
            8 => s.to_owned(),
            10 if b[4] == b'-' && b[7] == b'-' => format!("{}{}{}", &s[..4], &s[5..7], &s[8..]),
            _ => return Err(DateError::Format(s.to_owned())),
        };
        Date::from_compact(&digits).ok_or_else(|| DateError::Format(s.to_owned()))?
    }

    /// `YYYYMMDD` as eight ASCII digits; `None` when they are not digits.
    fn from_compact(digits: &str) -> Option<Result<Date, DateError>> {
        if digits.len() != 8 || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let n = |r: std::ops::Range<usize>| digits[r].parse::<u16>().ok();
        let (y, m, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
        Some(Date::new(y, m as u8, d as u8))
    }

    /// Year.
    pub fn year(self) -> u16 {
        self.year
    }

    /// Month, 1..=12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// Day of the month, 1..=31.
    pub fn day(self) -> u8 {
        self.day
    }

    /// `YYYYMMDD`, as the card and the ID number write it.
    pub fn compact(self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// The four BCD bytes of `YYYYMMDD` (card format "cn", e.g. EF06 tag 0D).
    pub fn to_bcd(self) -> [u8; 4] {
        let bcd = |v: u16| (((v / 10) << 4) | (v % 10)) as u8;
        [bcd(self.year / 100), bcd(self.year % 100), bcd(u16::from(self.month)), bcd(u16::from(self.day))]
    }

    /// Whole years from `self` (a birth date) to `today`: the age in completed years. Someone
    /// born on 29 February comes of age on 1 March in common years. Zero if `today` is earlier.
    pub fn years_until(self, today: Date) -> u16 {
        if today < self {
            return 0;
        }
        let before_birthday = (today.month, today.day) < (self.month, self.day);
        today.year - self.year - u16::from(before_birthday)
    }

    /// The same day `years` later; 29 February becomes 28 February in a common year.
    pub fn add_years(self, years: u16) -> Option<Date> {
        let year = self.year.checked_add(years)?;
        let day = self.day.min(days_in_month(year, self.month));
        Date::new(year, self.month, day).ok()
    }
}

fn is_leap(year: u16) -> bool {
    matches!((year % 4, year % 100, year % 400), (0, 1.., _) | (_, _, 0))
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Date({self})")
    }
}

impl std::str::FromStr for Date {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Date, DateError> {
        Date::parse(s)
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A date in the compact `YYYYMMDD` form used inside ID numbers; `None` if not 8 digits.
pub(crate) fn parse_compact(digits: &str) -> Option<Result<Date, DateError>> {
    Date::from_compact(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).expect("valid date")
    }

    #[test]
    fn calendar_rules() {
        assert!(Date::new(2000, 2, 29).is_ok(), "400-year leap");
        assert!(Date::new(1900, 2, 29).is_err(), "100-year common");
        assert!(Date::new(2024, 2, 29).is_ok());
        assert!(Date::new(2023, 2, 29).is_err());
        assert!(Date::new(2023, 4, 31).is_err());
        assert!(Date::new(2023, 13, 1).is_err());
        assert!(Date::new(2023, 1, 0).is_err());
        assert!(Date::new(999, 1, 1).is_err());
    }

    #[test]
    fn both_spellings_parse_and_display_is_iso() {
        assert_eq!(d("1949-12-31"), d("19491231"));
        assert_eq!(d("19491231").to_string(), "1949-12-31");
        assert_eq!(d("1949-12-31").compact(), "19491231");
        for bad in ["1949/12/31", "1949-1-31", "49-12-31", "1949123", "19491232", "", "1949-12-3x"] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bcd() {
        assert_eq!(d("1949-12-31").to_bcd(), [0x19, 0x49, 0x12, 0x31]);
        assert_eq!(d("2008-02-09").to_bcd(), [0x20, 0x08, 0x02, 0x09]);
    }

    #[test]
    fn ages() {
        let born = d("2008-06-15");
        assert_eq!(born.years_until(d("2024-06-14")), 15);
        assert_eq!(born.years_until(d("2024-06-15")), 16);
        assert_eq!(born.years_until(d("2000-01-01")), 0);
        let leap = d("2008-02-29");
        assert_eq!(leap.years_until(d("2025-02-28")), 16);
        assert_eq!(leap.years_until(d("2024-02-28")), 15);
        assert_eq!(leap.years_until(d("2024-03-01")), 16);
        assert_eq!(leap.add_years(1), Some(d("2009-02-28")));
    }

    #[test]
    fn serde_round_trip() {
        let json = serde_json::to_string(&d("2030-01-02")).expect("ser");
        assert_eq!(json, "\"2030-01-02\"");
        assert_eq!(serde_json::from_str::<Date>(&json).expect("de"), d("2030-01-02"));
        assert!(serde_json::from_str::<Date>("\"2030-02-30\"").is_err());
    }
}
