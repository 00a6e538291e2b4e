//! Working days in China, for deadlines counted in working days (工作日): an application taken
//! at an agent site (代办网点) must have its card at the site within 15 working days.
//!
//! A working day is Monday to Friday unless the State Council's yearly notice
//! (国务院办公厅关于YYYY年部分节假日安排的通知) makes it a holiday, plus the Saturdays and Sundays
//! the notice makes working days (调休上班). The notices are data ([`Calendar`]): the years
//! this crate ships are in `data/cn-holidays.toml` ([`Calendar::builtin`]), and a province adds
//! next year's notice in a file of the same form ([`Calendar::with_file`]) without a new
//! build.
//!
//! A date in a year without its notice is never guessed to be an ordinary Monday-to-Friday
//! day: every question about it is answered with [`CalendarError::NotCovered`], which names the
//! notice to add. The last days of December (from [`TAIL_FROM_DAY`] on) also need the next
//! year's notice, which may move them (the 2019 notice made 2018-12-29 a working day).
//!
//! Counting follows the usual rule for periods: the day of the event is not counted, the
//! first working day after it is day 1 ([`Calendar::add_working_days`]).
//!
//! ```
//! use applicant::Date;
//! use workdays::Calendar;
//!
//! let cal = Calendar::builtin();
//! let d = |s: &str| Date::parse(s).expect("date");
//! // National Day and Mid-Autumn 2025: 1-8 October off, Saturday 11 October worked.
//! assert_eq!(cal.is_working_day(d("2025-10-08")), Ok(false));
//! assert_eq!(cal.is_working_day(d("2025-10-11")), Ok(true));
//! // Applied on Friday 26 September 2025: the 15th working day is 23 October
//! // (Monday to Friday alone would have said 17 October).
//! assert_eq!(cal.add_working_days(d("2025-09-26"), 15), Ok(d("2025-10-23")));
//! assert!(cal.is_working_day(d("2031-03-03")).is_err(), "no notice for 2031 yet");
//! ```
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use applicant::{days, Date};
use serde::Deserialize;

/// The notices this crate ships, in the form [`Calendar::from_toml`] reads.
pub const BUILTIN: &str = include_str!("../data/cn-holidays.toml");

/// From this day of December on, a date also needs the next year's notice: the New Year
/// holiday of that notice may reach back into these days.
pub const TAIL_FROM_DAY: u8 = 28;

/// What a day is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayKind {
    /// Monday to Friday, no holiday.
    Weekday,
    /// Saturday or Sunday, not made a working day.
    Weekend,
    /// A public holiday of the notice (weekend days inside its range too).
    Holiday(String),
    /// A Saturday or Sunday the notice makes a working day (调休上班).
    MakeUpWorkingDay,
}

impl DayKind {
    /// Whether the counters are open for the deadline's sake.
    pub fn is_working(&self) -> bool {
        matches!(self, DayKind::Weekday | DayKind::MakeUpWorkingDay)
    }
}

/// A question the calendar cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    /// The date's year (or, for the last days of December, the next year) has no notice in
    /// the calendar. Working days are never guessed: the notice must be added.
    #[error(
        "{date}: the holiday calendar has no notice for {year} (国务院办公厅关于{year}年部分节假日安排的通知); \
         add that year's holidays and make-up working days to the calendar file and reload it \
         (working days are never guessed)"
    )]
    NotCovered {
        /// The date asked about.
        date: Date,
        /// The year whose notice is missing.
        year: u16,
    },
    /// Counting ran past the last representable date (year 9999).
    #[error("counting working days from {0} runs past the end of the calendar")]
    Overflow(Date),
}

/// A calendar file that cannot be used. Nothing of it is taken when any part is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("holiday calendar {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML of the calendar's form.
    #[error("holiday calendar {origin}: {message}")]
    Syntax {
        /// The file (or `built-in`).
        origin: String,
        /// What the parser said.
        message: String,
    },
    /// A year's entries contradict themselves or the week.
    #[error("holiday calendar {origin}, year {year}: {message}")]
    Invalid {
        /// The file (or `built-in`).
        origin: String,
        /// The `[[year]]`.
        year: u16,
        /// What is wrong and what to check.
        message: String,
    },
}

/// One year's notice as the file gives it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    /// The year it is for.
    pub year: u16,
    /// The notice's title and number, as published.
    pub notice: String,
    /// The day it was published.
    pub published: Date,
    /// The holidays.
    pub holidays: Vec<Holiday>,
    /// The Saturdays and Sundays made working days.
    #[serde(default)]
    pub working_days: Vec<Date>,
}

/// A holiday of a notice: `from`..=`to`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// Its name (春节, 国庆节、中秋节).
    pub name: String,
    /// First day off.
    pub from: Date,
    /// Last day off.
    pub to: Date,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    year: Vec<Notice>,
}

/// The national holiday calendar: the notices of the years it covers.
#[derive(Clone, PartialEq, Eq)]
pub struct Calendar {
    notices: BTreeMap<u16, Notice>,
    /// Day number to the holiday's name.
    holidays: BTreeMap<i32, String>,
    /// Day numbers of the make-up working days.
    working: BTreeSet<i32>,
}

impl fmt::Debug for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Calendar").field("years", &self.notices.keys().collect::<Vec<_>>()).finish()
    }
}

/// Monday 0 .. Sunday 6 of a day number (1970-01-01 was a Thursday).
fn weekday(day: i32) -> i32 {
    (day + 3).rem_euclid(7)
}

fn is_weekend(day: i32) -> bool {
    weekday(day) >= 5
}

impl Calendar {
    /// The years this crate ships (see [`BUILTIN`]).
    pub fn builtin() -> Calendar {
        Calendar::from_toml(BUILTIN, "built-in")
            .expect("the built-in calendar is checked by the crate's tests")
    }

    /// A calendar of the notices in `text`; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Calendar, LoadError> {
        let file: File = toml::from_str(text)
            .map_err(|e| LoadError::Syntax { origin: origin.into(), message: e.to_string() })?;
        let mut notices = BTreeMap::new();
        for notice in file.year {
            check(&notice, origin)?;
            let year = notice.year;
            if notices.insert(year, notice).is_some() {
                return Err(LoadError::Invalid {
                    origin: origin.into(),
                    year,
                    message: "the year appears twice: keep one [[year]] per notice".into(),
                });
            }
        }
        Ok(Calendar::of(notices))
    }

    /// A calendar of the notices in the file at `path`.
    pub fn load(path: &Path) -> Result<Calendar, LoadError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| LoadError::Io { path: path.into(), source })?;
        Calendar::from_toml(&text, &path.display().to_string())
    }

    /// This calendar with the notices of the file at `path` added; a year the file has
    /// replaces the same year here whole (a corrected or amended notice).
    pub fn with_file(mut self, path: &Path) -> Result<Calendar, LoadError> {
        self.merge(Calendar::load(path)?);
        Ok(self)
    }

    /// Adds `other`'s notices; its years replace the same years here.
    pub fn merge(&mut self, other: Calendar) {
        let mut notices = std::mem::take(&mut self.notices);
        notices.extend(other.notices);
        *self = Calendar::of(notices);
    }

    fn of(notices: BTreeMap<u16, Notice>) -> Calendar {
        let mut holidays = BTreeMap::new();
        let mut working = BTreeSet::new();
        for n in notices.values() {
            for h in &n.holidays {
                for day in days::days(h.from)..=days::days(h.to) {
                    holidays.insert(day, h.name.clone());
                }
            }
            working.extend(n.working_days.iter().map(|d| days::days(*d)));
        }
        Calendar { notices, holidays, working }
    }

    /// The notices, by year.
    pub fn notices(&self) -> impl Iterator<Item = &Notice> {
        self.notices.values()
    }

    /// Whether the calendar answers for `date`: its year's notice is in, and for the last days
    /// of December the next year's too.
    pub fn covers(&self, date: Date) -> Result<(), CalendarError> {
        let missing = |year: u16| CalendarError::NotCovered { date, year };
        if !self.notices.contains_key(&date.year()) {
            return Err(missing(date.year()));
        }
        if date.month() == 12 && date.day() >= TAIL_FROM_DAY {
            let next = date.year().saturating_add(1);
            if !self.notices.contains_key(&next) {
                return Err(missing(next));
            }
        }
        Ok(())
    }

    /// What `date` is.
    pub fn day(&self, date: Date) -> Result<DayKind, CalendarError> {
        self.covers(date)?;
        Ok(self.kind(days::days(date)))
    }

    /// The kind of a covered day number.
    fn kind(&self, day: i32) -> DayKind {
        if let Some(name) = self.holidays.get(&day) {
            DayKind::Holiday(name.clone())
        } else if self.working.contains(&day) {
            DayKind::MakeUpWorkingDay
        } else if is_weekend(day) {
            DayKind::Weekend
        } else {
            DayKind::Weekday
        }
    }

    /// Whether `date` is a working day.
    pub fn is_working_day(&self, date: Date) -> Result<bool, CalendarError> {
        Ok(self.day(date)?.is_working())
    }

    /// The `n`th working day after `date` (`date` itself is not counted; `n = 0` is `date`).
    /// The deadline of something due within `n` working days of `date`.
    pub fn add_working_days(&self, date: Date, n: u32) -> Result<Date, CalendarError> {
        self.covers(date)?;
        let mut day = days::days(date);
        let mut left = n;
        while left > 0 {
            day += 1;
            let d = days::date(day).ok_or(CalendarError::Overflow(date))?;
            self.covers(d)?;
            if self.kind(day).is_working() {
                left -= 1;
            }
        }
        days::date(day).ok_or(CalendarError::Overflow(date))
    }

    /// The working days after `a` up to and including `b`: how many of a deadline's working
    /// days have passed on `b` since the event on `a`. Zero when `b` is not after `a`.
    pub fn working_days_between(&self, a: Date, b: Date) -> Result<u32, CalendarError> {
        if b <= a {
            return Ok(0);
        }
        self.covers(a)?;
        let mut count = 0;
        for day in days::days(a) + 1..=days::days(b) {
            let d = days::date(day).ok_or(CalendarError::Overflow(a))?;
            self.covers(d)?;
            count += u32::from(self.kind(day).is_working());
        }
        Ok(count)
    }
}

/// A notice's entries must agree with the week and with each other.
fn check(n: &Notice, origin: &str) -> Result<(), LoadError> {
    let bad = |message: String| LoadError::Invalid { origin: origin.into(), year: n.year, message };
    if n.notice.trim().is_empty() {
        return Err(bad("`notice` must name the State Council notice the dates come from".into()));
    }
    let in_scope = |d: Date| {
        d.year() == n.year
            || (d.year().checked_add(1) == Some(n.year) && d.month() == 12 && d.day() >= TAIL_FROM_DAY)
    };
    let mut off = BTreeSet::new();
    for h in &n.holidays {
        if h.name.trim().is_empty() {
            return Err(bad(format!("the holiday from {} has no name", h.from)));
        }
        if h.to < h.from {
            return Err(bad(format!("{}: `to` {} is before `from` {}", h.name, h.to, h.from)));
        }
        if !in_scope(h.from) || !in_scope(h.to) {
            return Err(bad(format!(
                "{} ({}..{}) is outside {} (only 28-31 December of the year before may appear)",
                h.name, h.from, h.to, n.year
            )));
        }
        let (from, to) = (days::days(h.from), days::days(h.to));
        if to - from > 15 {
            return Err(bad(format!("{} lasts {} days: check `from` and `to`", h.name, to - from + 1)));
        }
        for day in from..=to {
            if !off.insert(day) {
                return Err(bad(format!("{}: {} is in two holidays", h.name, fmt_day(day))));
            }
        }
    }
    let mut seen = BTreeSet::new();
    for d in &n.working_days {
        let day = days::days(*d);
        if !in_scope(*d) {
            return Err(bad(format!("working day {d} is outside {}", n.year)));
        }
        if !is_weekend(day) {
            return Err(bad(format!(
                "working day {d} is a weekday: only a Saturday or Sunday can be made a working day"
            )));
        }
        if off.contains(&day) {
            return Err(bad(format!("{d} is both a holiday and a working day")));
        }
        if !seen.insert(day) {
            return Err(bad(format!("working day {d} is listed twice")));
        }
    }
    Ok(())
}

fn fmt_day(day: i32) -> String {
    days::date(day).map_or_else(|| format!("day {day}"), |d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).expect("date")
    }

    fn working(cal: &Calendar, s: &str) -> bool {
        cal.is_working_day(d(s)).expect("covered")
    }

    #[test]
    fn the_builtin_calendar_loads_and_covers_2024_to_2026() {
        let cal = Calendar::builtin();
        let years: Vec<u16> = cal.notices().map(|n| n.year).collect();
        assert_eq!(years, [2024, 2025, 2026]);
        for n in cal.notices() {
            assert!(n.notice.contains(&format!("{}年部分节假日安排的通知", n.year)), "{}", n.notice);
            assert!(n.published.year() + 1 == n.year, "published the year before: {}", n.published);
        }
    }

    #[test]
    fn weekdays_of_day_numbers() {
        assert_eq!(weekday(days::days(d("2025-10-01"))), 2, "a Wednesday");
        assert_eq!(weekday(days::days(d("2025-09-28"))), 6, "a Sunday");
        assert_eq!(weekday(days::days(d("1969-12-29"))), 0, "a Monday before 1970");
    }

    #[test]
    fn national_day_and_mid_autumn_2025() {
        let cal = Calendar::builtin();
        for day in 1..=8 {
            let date = d(&format!("2025-10-{day:02}"));
            assert_eq!(cal.day(date), Ok(DayKind::Holiday("国庆节、中秋节".into())), "{date}");
        }
        assert_eq!(cal.day(d("2025-09-28")), Ok(DayKind::MakeUpWorkingDay), "Sunday worked");
        assert_eq!(cal.day(d("2025-10-11")), Ok(DayKind::MakeUpWorkingDay), "Saturday worked");
        assert_eq!(cal.day(d("2025-10-12")), Ok(DayKind::Weekend));
        assert_eq!(cal.day(d("2025-09-30")), Ok(DayKind::Weekday));
        assert_eq!(cal.day(d("2025-10-09")), Ok(DayKind::Weekday));
    }

    #[test]
    fn spring_festivals() {
        let cal = Calendar::builtin();
        // 2024: 10-17 February; Sundays 4 and 18 February worked; New Year's Eve (9th) worked.
        assert!(working(&cal, "2024-02-04") && working(&cal, "2024-02-18"));
        assert!(working(&cal, "2024-02-09"), "除夕 2024 is only encouraged off");
        assert!((10..=17).all(|day| !working(&cal, &format!("2024-02-{day}"))));
        // 2025: 28 January - 4 February; 26 January and 8 February worked.
        assert!(working(&cal, "2025-01-26") && working(&cal, "2025-02-08"));
        assert!(!working(&cal, "2025-01-28") && !working(&cal, "2025-02-04"));
        assert!(working(&cal, "2025-01-27") && working(&cal, "2025-02-05"));
        // 2026: 15-23 February, nine days; 14 and 28 February worked.
        assert!(working(&cal, "2026-02-14") && working(&cal, "2026-02-28"));
        assert!((15..=23).all(|day| !working(&cal, &format!("2026-02-{day}"))));
        assert!(working(&cal, "2026-02-24"));
        // 2026: New Year 1-3 January, Sunday 4 January worked.
        assert!(!working(&cal, "2026-01-02") && working(&cal, "2026-01-04"));
        // Working days of February 2026: 20 weekdays, 6 of them off, 2 Saturdays worked.
        assert_eq!(cal.working_days_between(d("2026-01-31"), d("2026-02-28")), Ok(20 - 6 + 2));
    }

    #[test]
    fn fifteen_working_days_across_a_holiday() {
        let cal = Calendar::builtin();
        // Applied Friday 26 September 2025. Day 1 is Sunday 28 September (worked), then
        // 29, 30 September; 1-8 October off; 9, 10, 11 (Saturday, worked); 13-17; 20-23.
        let due = cal.add_working_days(d("2025-09-26"), 15).expect("covered");
        assert_eq!(due, d("2025-10-23"));
        assert_eq!(cal.working_days_between(d("2025-09-26"), due), Ok(15));
        assert_eq!(cal.working_days_between(d("2025-09-26"), d("2025-10-22")), Ok(14), "not yet due");
        assert_eq!(cal.working_days_between(d("2025-09-26"), d("2025-10-08")), Ok(3));
        // Without the calendar, Monday to Friday would have said 17 October.
        assert_ne!(due, d("2025-10-17"));
        // Across the 2026 Spring Festival: applied Friday 6 February 2026. 9-13 February,
        // Saturday 14 worked; 15-23 off; 24-27, Saturday 28 worked; 2-5 March.
        assert_eq!(cal.add_working_days(d("2026-02-06"), 15), Ok(d("2026-03-05")));
        assert_eq!(cal.add_working_days(d("2026-02-06"), 0), Ok(d("2026-02-06")));
        assert_eq!(cal.working_days_between(d("2026-03-05"), d("2026-02-06")), Ok(0), "backwards");
    }

    #[test]
    fn counting_round_trips_over_three_years() {
        let cal = Calendar::builtin();
        let start = days::days(d("2024-01-01"));
        let total = cal.working_days_between(d("2024-01-01"), d("2026-12-27")).expect("covered");
        assert!((740..760).contains(&total), "about 250 working days a year: {total}");
        let mut n = 0;
        for day in start + 1..=days::days(d("2026-12-27")) {
            let date = days::date(day).expect("date");
            if cal.is_working_day(date).expect("covered") {
                n += 1;
                assert_eq!(cal.add_working_days(d("2024-01-01"), n), Ok(date));
            }
        }
        assert_eq!(n, total);
    }

    #[test]
    fn uncovered_years_are_an_error_never_a_guess() {
        let cal = Calendar::builtin();
        let e = cal.is_working_day(d("2027-03-01")).expect_err("no 2027 notice");
        assert_eq!(e, CalendarError::NotCovered { date: d("2027-03-01"), year: 2027 });
        assert!(e.to_string().contains("国务院办公厅关于2027年部分节假日安排的通知"), "{e}");
        assert!(cal.is_working_day(d("2023-06-01")).is_err(), "2023 is not in the data");
        // The last days of 2026 wait for the 2027 notice; the days before do not.
        assert_eq!(cal.is_working_day(d("2026-12-25")), Ok(true));
        let e = cal.is_working_day(d("2026-12-28")).expect_err("tail");
        assert_eq!(e, CalendarError::NotCovered { date: d("2026-12-28"), year: 2027 });
        // A deadline that runs into an uncovered year fails, naming that year.
        let e = cal.add_working_days(d("2026-12-10"), 15).expect_err("runs into 2027");
        assert!(matches!(e, CalendarError::NotCovered { year: 2027, .. }), "{e}");
        let e = cal.working_days_between(d("2026-12-01"), d("2027-01-10")).expect_err("2027");
        assert!(matches!(e, CalendarError::NotCovered { year: 2027, .. }), "{e}");
    }

    const NEXT_YEAR: &str = r#"
        [[year]]
        year = 2027
        notice = "国务院办公厅关于2027年部分节假日安排的通知（test）"
        published = "2026-11-01"
        holidays = [{ name = "元旦", from = "2026-12-31", to = "2027-01-02" }]
        working_days = ["2027-01-09"]
    "#;

    #[test]
    fn a_province_adds_next_years_notice_from_a_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("2027.toml");
        std::fs::write(&path, NEXT_YEAR).expect("write");
        let cal = Calendar::builtin().with_file(&path).expect("loads");
        assert_eq!(cal.notices().count(), 4);
        assert_eq!(cal.day(d("2026-12-31")), Ok(DayKind::Holiday("元旦".into())), "reaches back");
        assert_eq!(cal.day(d("2027-01-09")), Ok(DayKind::MakeUpWorkingDay));
        assert_eq!(cal.add_working_days(d("2026-12-29"), 2), Ok(d("2027-01-04")));
        // A file that replaces a shipped year replaces it whole.
        let fix = r#"
            [[year]]
            year = 2026
            notice = "国务院办公厅关于2026年部分节假日安排的通知（corrected）"
            published = "2025-11-04"
            holidays = [{ name = "元旦", from = "2025-12-31", to = "2026-01-01" }]
            working_days = ["2025-12-28"]
        "#;
        let mut cal = Calendar::builtin();
        cal.merge(Calendar::from_toml(fix, "fix").expect("fix"));
        assert_eq!(cal.day(d("2025-12-31")), Ok(DayKind::Holiday("元旦".into())));
        assert_eq!(cal.is_working_day(d("2026-02-16")), Ok(true), "the old 2026 holidays are gone");
        assert!(matches!(Calendar::load(&dir.path().join("missing.toml")), Err(LoadError::Io { .. })));
    }

    #[test]
    fn inconsistent_files_are_refused_with_the_reason() {
        let refuse = |text: &str, needle: &str| {
            let e = Calendar::from_toml(text, "t.toml").expect_err(needle);
            assert!(e.to_string().contains(needle), "{e}");
        };
        refuse(&NEXT_YEAR.replace(r#""2027-01-09""#, r#""2027-01-04""#), "is a weekday");
        refuse(&NEXT_YEAR.replace(r#""2027-01-09""#, r#""2026-12-27""#), "outside 2027");
        refuse(&NEXT_YEAR.replace(r#"from = "2026-12-31""#, r#"from = "2026-12-20""#), "outside 2027");
        refuse(&NEXT_YEAR.replace(r#"to = "2027-01-02""#, r#"to = "2026-12-30""#), "before");
        refuse(
            &NEXT_YEAR.replace(
                r#"notice = "国务院办公厅关于2027年部分节假日安排的通知（test）""#,
                r#"notice = """#,
            ),
            "name the State Council notice",
        );
        refuse(&NEXT_YEAR.replace(r#""2027-01-09""#, r#""2027-01-02""#), "both a holiday and a working day");
        refuse(&format!("{NEXT_YEAR}{NEXT_YEAR}"), "appears twice");
        refuse(&NEXT_YEAR.replace("published", "publishd"), "unknown field");
        refuse(&NEXT_YEAR.replace("2027-01-02", "2027-02-30"), "not a day of the calendar");
        refuse(
            &NEXT_YEAR.replace(
                r#"holidays = [{ name = "元旦", from = "2026-12-31", to = "2027-01-02" }]"#,
                r#"holidays = [{ name = "元旦", from = "2027-01-01", to = "2027-01-02" }, { name = "x", from = "2027-01-02", to = "2027-01-03" }]"#,
            ),
            "in two holidays",
        );
    }
}
