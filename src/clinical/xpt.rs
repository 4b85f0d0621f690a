//! SAS transport files (XPORT, `.xpt`), the format CDISC ADaM data sets are delivered in
//! (SAS TS-140, "The Record Layout of a Data Set in SAS Transport (XPORT) Format", version 5,
//! and its version 8 layout with names of up to 32 characters), read into text cells as a CSV
//! would give them:
//!
//! - numbers (IBM System/370 floating point, 2 to 8 bytes) as their shortest decimal text;
//!   missing values (`.`, `._`, `.A`–`.Z`) as empty cells;
//! - numbers with a SAS date format (DATE9., YYMMDD10., E8601DA., …: days since 1960-01-01)
//!   as ISO dates, with a date-time format (seconds since 1960-01-01T00:00) as ISO date-times,
//!   with a time format as hh:mm:ss;
//! - characters as text (UTF-8, else Windows-1252), trailing blanks removed.
//!
//! One data set a file, as ADaM submissions have it; a file of several is refused.

use std::path::Path;

use super::tables::{TableError, TextTable};
use crate::datetime::Date;

/// Bytes of a record and of a variable's description (NAMESTR).
const RECORD: usize = 80;
const NAMESTR: usize = 140;
/// Every header record starts so.
const HEADER: &[u8] = b"HEADER RECORD*******";

/// SAS formats whose numbers are days since 1960-01-01, seconds since 1960-01-01T00:00 and
/// seconds since midnight.
const DATE_FORMATS: &[&str] = &[
    "DATE", "DDMMYY", "DDMMYYN", "MMDDYY", "MMDDYYN", "YYMMDD", "YYMMDDN", "E8601DA", "IS8601DA",
    "B8601DA", "WORDDATE", "WEEKDATE", "NLDATE",
];
const DATETIME_FORMATS: &[&str] = &["DATETIME", "E8601DT", "IS8601DT", "B8601DT", "DATEAMPM"];
const TIME_FORMATS: &[&str] = &["TIME", "TOD", "HHMM", "E8601TM", "IS8601TM", "B8601TM"];

/// How a variable's values read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Number,
    Date,
    DateTime,
    Time,
}

/// One variable: its name, what it holds, and where in an observation.
#[derive(Debug)]
struct Variable {
    name: String,
    kind: Kind,
    position: usize,
    length: usize,
}

/// The header record's kind (`LIBRARY`, `MEMBER`, `NAMESTR`, `OBS`, and the version 8 names),
/// when `record` is a header record.
fn header_kind(record: &[u8]) -> Option<String> {
    record.strip_prefix(HEADER).map(|rest| {
        String::from_utf8_lossy(&rest[..rest.len().min(8)])
            .trim()
            .to_string()
    })
}

/// An IBM System/370 floating-point number of 1 to 8 bytes (shorter ones are truncated on the
/// right): sign, a base-16 exponent biased by 64, a 56-bit fraction. `None` for SAS's missing
/// values: `.`, `._` or `.A`–`.Z` in the first byte, zeros after it.
pub fn ibm_float(bytes: &[u8]) -> Option<f64> {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    b[..n].copy_from_slice(&bytes[..n]);
    let missing_mark = b[0] == b'.' || b[0] == b'_' || b[0].is_ascii_uppercase();
    if missing_mark && b[1..].iter().all(|&x| x == 0) {
        return None;
    }
    let fraction = u64::from_be_bytes([0, b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    if fraction == 0 {
        return Some(0.0);
    }
    let exponent = i32::from(b[0] & 0x7f) - 64;
    // fraction / 2^56 * 16^exponent; an IEEE double written by SAS comes back exactly (its 53
    // bits fit in the fraction's 56).
    let magnitude = fraction as f64 * 2f64.powi(4 * exponent - 56);
    Some(if b[0] & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    })
}

/// A big-endian 16-bit field of a NAMESTR.
fn short(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

/// A space-padded text field.
fn text(b: &[u8]) -> String {
    crate::csv_text::cell_text(b, false)
        .trim_end_matches('\0')
        .trim()
        .to_string()
}

/// The ISO date-time of `seconds` since 1960-01-01T00:00.
fn sas_datetime(seconds: f64) -> String {
    let whole = seconds.round() as i64;
    let (days, of_day) = (whole.div_euclid(86_400), whole.rem_euclid(86_400));
    format!("{}T{}", sas_date(days as f64), sas_time(of_day as f64))
}

/// The ISO date of `days` since 1960-01-01.
fn sas_date(days: f64) -> String {
    Date::new(1960, 1, 1).add_days(days.floor() as i64).to_iso()
}

/// hh:mm:ss of `seconds` since midnight.
fn sas_time(seconds: f64) -> String {
    let s = seconds.round() as i64;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

impl Variable {
    /// The cell text of this variable in `obs`.
    fn cell(&self, obs: &[u8]) -> String {
        let Some(bytes) = obs.get(self.position..self.position + self.length) else {
            return String::new();
        };
        if self.kind == Kind::Text {
            return text(bytes);
        }
        // Dates within ±9,999 years of 1960 (beyond, a damaged value: left as its number, which
        // no date column takes).
        const DAYS: f64 = 3_650_000.0;
        match ibm_float(bytes) {
            None => String::new(),
            Some(v) => match self.kind {
                Kind::Date if v.abs() < DAYS => sas_date(v),
                Kind::DateTime if v.abs() < DAYS * 86_400.0 => sas_datetime(v),
                Kind::Time if (0.0..86_400.0).contains(&v) => sas_time(v),
                _ => format!("{v}"),
            },
        }
    }
}

/// Read the one data set of a transport file.
pub fn read(path: &Path) -> Result<TextTable, TableError> {
    let err = |reason: String| TableError {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = crate::bounded::read_at_most(
        path,
        crate::memory::volume_budget_bytes(),
        "a table larger than half the memory this process may use",
    )
    .map_err(|e| err(e.to_string()))?;
    parse(&bytes)
        .map(|(header, rows)| TextTable {
            path: path.to_path_buf(),
            header,
            rows,
            lines: Vec::new(),
            mark: None,
        })
        .map_err(err)
}

/// The header and rows of the one data set in `bytes`.
fn parse(bytes: &[u8]) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let records: Vec<&[u8]> = bytes.chunks(RECORD).collect();
    let first = records.first().and_then(|r| header_kind(r));
    let v8 = match first.as_deref() {
        Some("LIBRARY") => false,
        Some("LIBV8") => true,
        _ => {
            return Err(
                "not a SAS transport file (XPORT): expected a LIBRARY or LIBV8 header record"
                    .into(),
            )
        }
    };
    let at = |kind: &str, from: usize| {
        (from..records.len()).find(|&i| header_kind(records[i]).as_deref() == Some(kind))
    };
    let (namestr_kind, obs_kind, member_kind) = if v8 {
        ("NAMSTV8", "OBSV8", "MEMBV8")
    } else {
        ("NAMESTR", "OBS", "MEMBER")
    };
    let members = (0..records.len())
        .filter(|&i| header_kind(records[i]).as_deref() == Some(member_kind))
        .count();
    if members != 1 {
        return Err(format!(
            "holds {members} data sets; expected one (an ADaM data set a file)"
        ));
    }
    let missing = |what: &str| format!("no {what} header record: a damaged transport file");
    let names_at = at(namestr_kind, 0).ok_or_else(|| missing(namestr_kind))?;
    let obs_at = at(obs_kind, names_at).ok_or_else(|| missing(obs_kind))?;
    // The NAMESTRs run from the record after their header, 140 bytes each, padded to a record;
    // other headers (v8's long labels) may come between them and the observations.
    let names_start = (names_at + 1) * RECORD;
    let names_end = (names_at + 1..obs_at)
        .find(|&i| header_kind(records[i]).is_some())
        .unwrap_or(obs_at)
        * RECORD;
    let block = bytes
        .get(names_start..names_end.min(bytes.len()))
        .unwrap_or_default();
    let mut vars = Vec::new();
    for d in block.chunks_exact(NAMESTR) {
        let kind = match short(d, 0) {
            1 => Kind::Number,
            2 => Kind::Text,
            _ => break, // the padding after the last NAMESTR
        };
        let length = short(d, 4);
        let short_name = text(&d[8..16]);
        let long_name = if v8 { text(&d[88..120]) } else { String::new() };
        let format = text(&d[56..64]).to_ascii_uppercase();
        let kind = match kind {
            Kind::Number if DATE_FORMATS.contains(&format.as_str()) => Kind::Date,
            Kind::Number if DATETIME_FORMATS.contains(&format.as_str()) => Kind::DateTime,
            Kind::Number if TIME_FORMATS.contains(&format.as_str()) => Kind::Time,
            k => k,
        };
        let position = u32::from_be_bytes([d[84], d[85], d[86], d[87]]) as usize;
        if length == 0 || (kind != Kind::Text && length > 8) {
            return Err(format!(
                "variable {short_name}: length {length} (numbers take 2 to 8 bytes, text 1 or more)"
            ));
        }
        vars.push(Variable {
            name: if long_name.is_empty() {
                short_name
            } else {
                long_name
            },
            kind,
            position,
            length,
        });
    }
    if vars.is_empty() {
        return Err("no variables".into());
    }
    // Variables lie side by side in an observation, none over another.
    let mut spans: Vec<(usize, usize)> = vars.iter().map(|v| (v.position, v.length)).collect();
    spans.sort_unstable();
    if spans.windows(2).any(|w| w[0].0 + w[0].1 > w[1].0) {
        return Err(
            "variables overlap in the observation (NAMESTR positions): a damaged file".into(),
        );
    }
    let width = spans.last().map_or(0, |(p, l)| p + l);
    let data = bytes.get((obs_at + 1) * RECORD..).unwrap_or_default();
    // The last record is padded with blanks: an observation there made only of blanks is the
    // padding, not a row.
    let mut count = data.len() / width;
    while count > 0 {
        let last = &data[(count - 1) * width..count * width];
        let in_padding = data.len() - (count - 1) * width <= RECORD;
        if in_padding && last.iter().all(|&b| b == b' ') {
            count -= 1;
        } else {
            break;
        }
    }
    let header = vars.iter().map(|v| v.name.clone()).collect();
    let rows = data
        .chunks_exact(width)
        .take(count)
        .map(|obs| vars.iter().map(|v| v.cell(obs)).collect())
        .collect();
    Ok((header, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IBM floating point, facts from IBM's own examples and SAS's TS-140: 1 is 41 10 00 00,
    /// -118.625 is C2 76 A0 00 (the classic example), 0.1 is 40 19 99 99 99 99 99 9A.
    #[test]
    fn ibm_floats_read_as_their_values() {
        assert_eq!(ibm_float(&[0x41, 0x10, 0, 0, 0, 0, 0, 0]), Some(1.0));
        assert_eq!(
            ibm_float(&[0xC2, 0x76, 0xA0, 0, 0, 0, 0, 0]),
            Some(-118.625)
        );
        assert_eq!(ibm_float(&[0x42, 0x64]), Some(100.0));
        let tenth = ibm_float(&[0x40, 0x19, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A]).unwrap();
        assert!((tenth - 0.1).abs() < 1e-16, "{tenth}");
        assert_eq!(ibm_float(&[0; 8]), Some(0.0));
        for missing in [b'.', b'_', b'A', b'Z'] {
            assert_eq!(ibm_float(&[missing, 0, 0, 0, 0, 0, 0, 0]), None);
        }
    }

    #[test]
    fn sas_dates_times_and_datetimes() {
        assert_eq!(sas_date(0.0), "1960-01-01");
        // 2024-01-17 is day 23392 of SAS's calendar.
        assert_eq!(sas_date(23392.0), "2024-01-17");
        assert_eq!(sas_date(-1.0), "1959-12-31");
        assert_eq!(sas_time(34_200.0), "09:30:00");
        assert_eq!(
            sas_datetime(23392.0 * 86_400.0 + 34_200.0),
            "2024-01-17T09:30:00"
        );
    }

    /// Truncations and bit flips of a real file (the fixture pyreadstat wrote) give a table or a
    /// reason, never a panic.
    #[test]
    fn damaged_files_never_panic() {
        let good: &[u8] = include_bytes!("../../test-data/xpt/table_v8.xpt");
        assert!(parse(good).is_ok());
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for cut in (0..good.len()).step_by(7) {
            let _ = parse(&good[..cut]);
        }
        for _ in 0..2000 {
            let mut b = good.to_vec();
            for _ in 0..1 + next() % 4 {
                let at = (next() % b.len() as u64) as usize;
                b[at] ^= 1 << (next() % 8);
            }
            let _ = parse(&b);
        }
    }

    #[test]
    fn other_files_and_truncations_are_refused_with_a_reason() {
        assert!(parse(b"USUBJID,ARMCD\n")
            .unwrap_err()
            .contains("not a SAS transport"));
        let mut lib = HEADER.to_vec();
        lib.extend_from_slice(b"LIBRARY HEADER RECORD!!!!!!!");
        lib.resize(RECORD, b'0');
        assert!(parse(&lib).unwrap_err().contains("0 data sets"));
    }
}
