//! Calendar dates as documents print them: validated on construction, shown as ISO 8601
//! (`YYYY-MM-DD`) in JSON, and expanded from the two-digit years of an MRZ.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A valid Gregorian calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// `None` unless the date exists (leap years included) and the year is 1 to 9999.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        if year == 0 || year > 9999 || !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        (day <= days_in_month(year, month)).then_some(Date { year, month, day })
    }

    pub fn year(&self) -> u16 {
        self.year
    }
    pub fn month(&self) -> u8 {
        self.month
    }
    pub fn day(&self) -> u8 {
        self.day
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse_iso(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u16> {
            let part = s.get(r)?;
            part.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        Date::new(num(0..4)?, num(5..7)? as u8, num(8..10)? as u8)
    }

    /// The date of an MRZ `YYMMDD` field. A birth date is placed in the century that puts
    /// it in the past relative to `today` (someone born in `26` read on 2026-11-26 was born
    /// in 2026 if that day has come, else in 1926); an expiry date is placed within fifty
    /// years either side of `today`.
    pub fn from_yymmdd(digits: &str, kind: TwoDigitYear, today: Date) -> Option<Date> {
        if digits.len() != 6 || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let yy: u16 = digits[0..2].parse().ok()?;
        let mm: u8 = digits[2..4].parse().ok()?;
        let dd: u8 = digits[4..6].parse().ok()?;
        let century = today.year / 100 * 100;
        let candidate = |c: u16| Date::new(c + yy, mm, dd);
        match kind {
            TwoDigitYear::Past => {
                let this = candidate(century)?;
                if this <= today {
                    Some(this)
                } else {
                    candidate(century.checked_sub(100)?)
                }
            }
            TwoDigitYear::Near => {
                let this = candidate(century)?;
                let diff = i32::from(this.year) - i32::from(today.year);
                if diff > 50 {
                    candidate(century.checked_sub(100)?)
                } else if diff < -50 {
                    candidate(century + 100)
                } else {
                    Some(this)
                }
            }
        }
    }

    /// The civil date `days` days after 1970-01-01 (negative: before).
    pub fn from_unix_days(days: i64) -> Option<Date> {
        // Howard Hinnant's days-to-civil algorithm.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date::new(u16::try_from(year).ok()?, month as u8, day as u8)
    }

    /// Today in UTC, from the system clock.
    pub fn today_utc() -> Option<Date> {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs();
        Date::from_unix_days(i64::try_from(secs / 86_400).ok()?)
    }

    /// Whole years from `self` to `later` (an age, when `self` is a birth date).
    pub fn years_until(&self, later: Date) -> i32 {
        let mut years = i32::from(later.year) - i32::from(self.year);
        if (later.month, later.day) < (self.month, self.day) {
            years -= 1;
        }
        years
    }
}

/// How to expand a two-digit year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwoDigitYear {
    /// Birth dates: never in the future.
    Past,
    /// Expiry and issue dates: the nearest century.
    Near,
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse_iso(&s).ok_or_else(|| serde::de::Error::custom(format!("not a date: {s}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse_iso(s).unwrap()
    }

    #[test]
    fn rejects_impossible_dates() {
        assert!(Date::new(2023, 2, 29).is_none());
        assert!(Date::new(2024, 2, 29).is_some());
        assert!(Date::new(1900, 2, 29).is_none());
        assert!(Date::new(2000, 2, 29).is_some());
        assert!(Date::new(2024, 13, 1).is_none());
        assert!(Date::new(2024, 4, 31).is_none());
        assert!(Date::parse_iso("2024-1-01").is_none());
        assert!(Date::parse_iso("20x4-01-01").is_none());
        assert!(Date::parse_iso("+024-01-01").is_none());
    }

    #[test]
    fn two_digit_birth_years_are_in_the_past() {
        let today = d("2026-11-26");
        assert_eq!(
            Date::from_yymmdd("740812", TwoDigitYear::Past, today),
            Some(d("1974-08-12"))
        );
        assert_eq!(
            Date::from_yymmdd("261126", TwoDigitYear::Past, today),
            Some(d("2026-11-26"))
        );
        assert_eq!(
            Date::from_yymmdd("261127", TwoDigitYear::Past, today),
            Some(d("1926-11-27"))
        );
        assert_eq!(
            Date::from_yymmdd("000229", TwoDigitYear::Past, today),
            Some(d("2000-02-29"))
        );
        assert_eq!(Date::from_yymmdd("010229", TwoDigitYear::Past, today), None);
        assert_eq!(Date::from_yymmdd("7408I2", TwoDigitYear::Past, today), None);
    }

    #[test]
    fn two_digit_expiry_years_are_near_today() {
        let today = d("2026-11-26");
        assert_eq!(
            Date::from_yymmdd("120415", TwoDigitYear::Near, today),
            Some(d("2012-04-15"))
        );
        assert_eq!(
            Date::from_yymmdd("360101", TwoDigitYear::Near, today),
            Some(d("2036-01-01"))
        );
        assert_eq!(
            Date::from_yymmdd("990101", TwoDigitYear::Near, today),
            Some(d("1999-01-01"))
        );
    }

    #[test]
    fn ages_count_whole_years() {
        assert_eq!(d("1974-08-12").years_until(d("2026-08-11")), 51);
        assert_eq!(d("1974-08-12").years_until(d("2026-08-12")), 52);
    }

    #[test]
    fn unix_days_become_civil_dates() {
        assert_eq!(Date::from_unix_days(0), Some(d("1970-01-01")));
        assert_eq!(Date::from_unix_days(11_016), Some(d("2000-02-29")));
        assert_eq!(Date::from_unix_days(20_418), Some(d("2025-11-26")));
        assert_eq!(Date::from_unix_days(-1), Some(d("1969-12-31")));
        assert!(Date::today_utc().is_some());
    }

    #[test]
    fn json_is_iso_8601() {
        assert_eq!(
            serde_json::to_string(&d("2001-02-03")).unwrap(),
            "\"2001-02-03\""
        );
        assert!(serde_json::from_str::<Date>("\"2001-02-30\"").is_err());
    }
}
