//! Today's date at the counter: China Standard Time (UTC+8), whatever the machine's zone.

use applicant::Date;

/// The civil date of `unix_seconds` in UTC+8.
pub fn date_at(unix_seconds: i64) -> Date {
    let days = (unix_seconds + 8 * 3600).div_euclid(86_400);
    // Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
    Date::new(year, month, day).unwrap_or_else(|_| unreachable!("civil_from_days gives real dates"))
}

/// Today in UTC+8.
pub fn today() -> Date {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    date_at(now)
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
