//! Today's date at the counter: China Standard Time (UTC+8), whatever the machine's zone.
//! The calendar arithmetic is `applicant::days`, shared with the roster comparison.

use applicant::days;
use applicant::Date;

/// The civil date of `unix_seconds` in UTC+8.
pub fn date_at(unix_seconds: i64) -> Date {
    days::date(days::day_of_unix(unix_seconds))
        .unwrap_or_else(|| unreachable!("a Unix time in this era is a date of years 1000..=9999"))
}

/// Today in UTC+8.
pub fn today() -> Date {
    days::today()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_china_time() {
        assert_eq!(date_at(0), Date::new(1970, 1, 1).expect("d"));
        // 2026-11-22 16:00 UTC is already the 23rd in Beijing.
        assert_eq!(date_at(1_795_305_600 + 16 * 3600), Date::new(2026, 11, 23).expect("d"));
        assert_eq!(date_at(1_795_305_600), Date::new(2026, 11, 22).expect("d"));
        assert_eq!(date_at(951_782_400), Date::new(2000, 2, 29).expect("leap day"));
    }
}
