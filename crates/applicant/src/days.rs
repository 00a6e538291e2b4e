//! Days as integers, for the callers that need differences of dates (deadlines, "dormant for
//! 180 days", issuance records) or today's date at the counter; [`Date`] itself leaves date
//! arithmetic and the clock out on purpose (validation takes `today` as a parameter).

use crate::Date;

/// Days since 1970-01-01 (negative before).
pub fn days(d: Date) -> i32 {
    // Howard Hinnant's days_from_civil.
    let (m, dd) = (i32::from(d.month()), i32::from(d.day()));
    let y = i32::from(d.year()) - i32::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number; `None` outside the years 1000..=9999.
pub fn date(z: i32) -> Option<Date> {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i32::from(m <= 2);
    Date::new(u16::try_from(y).ok()?, m as u8, d as u8).ok()
}

/// Today in China Standard Time (UTC+8), where the rosters' deadlines are set.
pub fn today() -> Date {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let day = ((secs + 8 * 3600).div_euclid(86_400)) as i32;
    date(day).unwrap_or_else(|| Date::new(1970, 1, 1).expect("a real day"))
}

/// Unix seconds to the day they fall on in China Standard Time.
pub fn day_of_unix(secs: i64) -> i32 {
    (secs + 8 * 3600).div_euclid(86_400) as i32
}

/// The day an Excel serial number (1900 date system) falls on.
pub fn from_excel_serial(serial: f64) -> Option<Date> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    // Serial 25569 is 1970-01-01 (Excel counts the fictitious 1900-02-29).
    date(serial.floor() as i32 - 25_569)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).expect("date")
    }

    #[test]
    fn days_round_trip() {
        assert_eq!(days(d("1970-01-01")), 0);
        assert_eq!(days(d("2000-03-01")), 11_017);
        assert_eq!(days(d("2024-03-01")) - days(d("2024-02-28")), 2, "leap year");
        for s in ["1000-01-01", "1899-12-30", "1949-12-31", "2024-02-29", "9999-12-31"] {
            assert_eq!(date(days(d(s))), Some(d(s)), "{s}");
        }
        assert_eq!(from_excel_serial(45_658.0), Some(d("2025-01-01")));
        assert_eq!(from_excel_serial(45_658.75), Some(d("2025-01-01")));
        assert_eq!(from_excel_serial(-3.0), None);
        assert_eq!(day_of_unix(16 * 3600), 1, "midnight in Beijing");
    }
}
