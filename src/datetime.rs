//! DICOM dates and times (PS3.5 6.2: DA `YYYYMMDD`, TM `HHMMSS.FFFFFF`, DT `YYYYMMDDHHMMSS.FFFFFF`)
//! and civil calendar arithmetic (days from 1970-01-01, proleptic Gregorian; algorithm of
//! H. Hinnant, "chrono-compatible low-level date algorithms"). Full date + time arithmetic, never
//! seconds-of-day, so an interval that crosses midnight is right.

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    pub fn new(year: i32, month: u32, day: u32) -> Self {
        Date { year, month, day }
    }

    /// Days since 1970-01-01.
    pub fn days(self) -> i64 {
        let y = if self.month <= 2 {
            self.year as i64 - 1
        } else {
            self.year as i64
        };
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let m = self.month as i64;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + self.day as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146097 + doe - 719468
    }

    /// The date `days` after 1970-01-01.
    pub fn from_days(days: i64) -> Self {
        let z = days + 719468;
        let era = if z >= 0 { z } else { z - 146096 } / 146097;
        let doe = z - era * 146097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        Date::new((if m <= 2 { y + 1 } else { y }) as i32, m, d)
    }

    /// This date moved by `n` days.
    pub fn add_days(self, n: i64) -> Self {
        Date::from_days(self.days() + n)
    }

    /// DICOM DA.
    pub fn to_da(self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// ISO 8601 (`YYYY-MM-DD`).
    pub fn to_iso(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// A clinical table's date: ISO `YYYY-MM-DD` (also with a time after it,
    /// `YYYY-MM-DDThh:mm`, as ADaM's --DTC variables, or `YYYY-MM-DD hh:mm:ss`, as pandas writes
    /// a datetime), `YYYYMMDD`, or SAS's DATE9 `17JAN2024`
    /// (the format a SAS export to CSV gives a date variable; month names in any case), also as
    /// SAS's DATETIME `17JAN2024:09:30:00`.
    pub fn parse_clinical(s: &str) -> Option<Self> {
        let s = s.trim();
        let s = match s.split_once(':') {
            Some((d, _)) if d.len() == 9 => d,
            _ => s,
        };
        let b = s.as_bytes();
        if b.len() == 9
            && b[..2].iter().all(u8::is_ascii_digit)
            && b[5..].iter().all(u8::is_ascii_digit)
        {
            const MONTHS: [&str; 12] = [
                "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
            ];
            let m = MONTHS
                .iter()
                .position(|m| s[2..5].eq_ignore_ascii_case(m))? as u32
                + 1;
            let (d, y) = (s[..2].parse().ok()?, s[5..].parse().ok()?);
            let date = Date::new(y, m, d);
            return (d >= 1 && Date::from_days(date.days()) == date).then_some(date);
        }
        // ISO date-time (also with a space, as pandas writes a datetime): the date part.
        let date = match s.split_once(['T', ' ']) {
            Some((d, _)) if d.len() == 10 => d,
            _ => s,
        };
        Date::parse(date)
    }

    /// Parse DICOM DA (`YYYYMMDD`, also the old `YYYY.MM.DD`) or ISO `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Self> {
        let digits: String = s.trim().chars().filter(|c| c.is_ascii_digit()).collect();
        if digits.len() != 8 {
            return None;
        }
        let y = digits[0..4].parse().ok()?;
        let m = digits[4..6].parse().ok()?;
        let d = digits[6..8].parse().ok()?;
        let date = Date::new(y, m, d);
        ((1..=12).contains(&m) && d >= 1 && Date::from_days(date.days()) == date).then_some(date)
    }
}

/// Parse DICOM TM (`HH`, `HHMM`, `HHMMSS`, `HHMMSS.FFFFFF`; also `HH:MM:SS`) into seconds of day.
pub fn parse_tm(s: &str) -> Option<f64> {
    let t = s.trim().replace(':', "");
    let (main, frac) = match t.split_once('.') {
        Some((a, b)) => (a.to_string(), format!("0.{b}")),
        None => (t.clone(), "0".to_string()),
    };
    if main.is_empty()
        || main.len() % 2 != 0
        || main.len() > 6
        || !main.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let h: f64 = main[0..2].parse().ok()?;
    let m: f64 = if main.len() >= 4 {
        main[2..4].parse().ok()?
    } else {
        0.0
    };
    let sec: f64 = if main.len() >= 6 {
        main[4..6].parse().ok()?
    } else {
        0.0
    };
    let f: f64 = frac.parse().ok()?;
    (h < 24.0 && m < 60.0 && sec < 61.0).then_some(h * 3600.0 + m * 60.0 + sec + f)
}

/// Seconds since 1970-01-01T00:00 of a date and a time of day.
pub fn epoch_seconds(date: Date, seconds_of_day: f64) -> f64 {
    date.days() as f64 * 86400.0 + seconds_of_day
}

/// Parse DICOM DT (`YYYYMMDDHHMMSS.FFFFFF`, time part optional, a `&ZZXX` offset ignored) into
/// epoch seconds.
pub fn parse_dt(s: &str) -> Option<f64> {
    let t = s.trim();
    let t = t.split(['+', '-']).next().unwrap_or(t);
    // `get`: a damaged value may hold a multi-byte character across byte 8.
    let (date, time) = (t.get(..8)?, t.get(8..)?);
    let date = Date::parse(date)?;
    let tod = if time.is_empty() {
        0.0
    } else {
        parse_tm(time)?
    };
    Some(epoch_seconds(date, tod))
}

/// Format seconds of day as DICOM TM with two decimals (`HHMMSS.ff`).
pub fn format_tm(seconds_of_day: f64) -> String {
    let s = seconds_of_day.rem_euclid(86400.0);
    let h = (s / 3600.0).floor();
    let m = ((s - h * 3600.0) / 60.0).floor();
    let sec = s - h * 3600.0 - m * 60.0;
    format!("{:02}{:02}{:05.2}", h as u32, m as u32, sec)
}

/// Split epoch seconds into (date, seconds of day).
pub fn split_epoch(t: f64) -> (Date, f64) {
    let days = (t / 86400.0).floor() as i64;
    (Date::from_days(days), t - days as f64 * 86400.0)
}

/// Format epoch seconds as DICOM DT (`YYYYMMDDHHMMSS.ff`).
pub fn format_dt(t: f64) -> String {
    let (d, s) = split_epoch(t);
    format!("{}{}", d.to_da(), format_tm(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-byte character across byte 8 of a DT value is no date (it panicked, slicing it).
    #[test]
    fn a_damaged_date_time_does_not_parse() {
        assert_eq!(parse_dt("2024021\u{ff}123518.00"), None);
        let whole = parse_dt("20240210123518.00").unwrap();
        let date = parse_dt("20240210").unwrap();
        assert_eq!(whole - date, 12.0 * 3600.0 + 35.0 * 60.0 + 18.0);
    }

    #[test]
    fn clinical_dates_in_iso_and_sas_formats() {
        let d = Some(Date::new(2024, 1, 17));
        for s in [
            "2024-01-17",
            "20240117",
            " 2024-01-17T09:30 ",
            "2024-01-17T09:30:00",
            "2024-01-17 09:30:00",
            "2024-01-17 23:59:59+02:00",
            "17JAN2024",
            "17jan2024",
            "17JAN2024:09:30:00",
        ] {
            assert_eq!(Date::parse_clinical(s), d, "{s}");
        }
        assert_eq!(
            Date::parse_clinical("29FEB2024"),
            Some(Date::new(2024, 2, 29))
        );
        for bad in [
            "29FEB2023",
            "17JNA2024",
            "00JAN2024",
            "17/01/2024",
            "17JAN24",
            "",
        ] {
            assert_eq!(Date::parse_clinical(bad), None, "{bad}");
        }
    }

    #[test]
    fn civil_days_known_values() {
        // 2000-03-01 is day 11017 after 1970-01-01; 2024-02-29 exists, 2023-02-29 does not.
        assert_eq!(Date::new(1970, 1, 1).days(), 0);
        assert_eq!(Date::new(2000, 3, 1).days(), 11017);
        assert_eq!(Date::from_days(11017), Date::new(2000, 3, 1));
        assert!(Date::parse("20240229").is_some());
        assert!(Date::parse("20230229").is_none());
        assert_eq!(Date::new(2024, 12, 31).add_days(1), Date::new(2025, 1, 1));
        assert_eq!(Date::parse("1999.12.31"), Some(Date::new(1999, 12, 31)));
    }

    #[test]
    fn times_and_datetimes() {
        assert_eq!(parse_tm("234000"), Some(85200.0));
        assert_eq!(parse_tm("0045"), Some(2700.0));
        assert_eq!(parse_tm("10:30:15.5"), Some(37815.5));
        assert_eq!(parse_tm("25"), None);
        let a = parse_dt("20250310234000.00").unwrap();
        let b = parse_dt("20250311004500").unwrap();
        assert_eq!(b - a, 3900.0); // across midnight: 65 minutes
        assert_eq!(format_dt(b), "20250311004500.00");
        assert_eq!(format_tm(37815.5), "103015.50");
    }
}
