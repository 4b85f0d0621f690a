//! Delimited text as people save it (RFC 4180 CSV read with the `csv` crate): the separator
//! taken from the header line (`,` `;` tab `|`), decimal commas in `;`-separated files, cells
//! in UTF-8 or Windows-1252 (WHATWG encoding standard's index), whole files in UTF-16 with a
//! byte order mark (Excel's "Unicode text"), and blank rows (`,,,,`: Excel's formatted empty
//! rows) told from short ones, as spreadsheets write them. Used by every table ancilla reads:
//! the clinical tables and the de-identification subject map.

use std::io::Read;
use std::path::Path;

/// A reader of a table's text.
pub type Reader = csv::Reader<Box<dyn Read>>;

/// How a `;`-separated table writes its numbers, as its first 64 KiB show (Excel writes `;`
/// exactly where the decimal mark is a comma, and then a point between groups of three digits is
/// a thousands separator; pandas and R write `;` with decimal points too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecimalMark {
    /// Decimal commas (`12,5`, `1.205,6`) and no decimal point: `1.206` is 1206.
    Comma,
    /// Decimal points (`12.5`, `0.25`) and no decimal comma: `1.206` is 1.206.
    Point,
    /// Neither or both: a number grouped as `1.206` is refused as ambiguous.
    Either,
}

/// A CSV reader of `path` with its field separator found by `delimiter_of`, and, for a
/// `;`-separated file, its decimal mark (see [`DecimalMark`]; a decimal comma is read in such a
/// file whatever the mark). A file that opens with a UTF-16 byte order mark is read as UTF-16
/// (it was one column of NUL-strewn text). The reader is flexible: check each record's width
/// with [`check_width`] after skipping [`is_blank`] ones.
pub fn reader(path: &Path) -> Result<(Reader, Option<DecimalMark>), csv::Error> {
    // Opened once, its first bytes read and then read again ahead of the rest: a table given
    // as `<(...)` (a pipe) cannot be opened twice (it was "missing column USUBJID", and a
    // UTF-16 one an internal error).
    let mut file = std::fs::File::open(path)?;
    let mut head = Vec::new();
    (&mut file).take(64 * 1024).read_to_end(&mut head)?;
    let (source, head): (Box<dyn Read>, Vec<u8>) = match utf16_order(&head) {
        Some(big_endian) => {
            let mut bytes = head.clone();
            crate::bounded::read_rest_at_most(
                file,
                &mut bytes,
                crate::memory::volume_budget_bytes(),
                "a table larger than half the memory this process may use",
            )?;
            let text = utf16_text(&bytes, big_endian);
            let head = text.as_bytes()[..text.len().min(64 * 1024)].to_vec();
            (Box::new(std::io::Cursor::new(text.into_bytes())), head)
        }
        None => (
            Box::new(std::io::Cursor::new(head.clone()).chain(file)),
            head,
        ),
    };
    // A line beyond any table's (a 2 GiB cell, `/dev/zero`) is refused, not read until the
    // allocator gives up.
    let source: Box<dyn Read> = Box::new(crate::bounded::LineBounded::new(
        source,
        crate::bounded::MAX_LINE,
    ));
    let delimiter = delimiter_of(path, &head);
    let reader = csv::ReaderBuilder::new()
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(source);
    let mark = (delimiter == b';').then(|| decimal_mark_of(&head));
    Ok((reader, mark))
}

/// The decimal mark a `;`-separated table's cells show (its first bytes, the header row left
/// out; a row cut at the end of them reads as far as it goes).
fn decimal_mark_of(head: &[u8]) -> DecimalMark {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .delimiter(b';')
        .from_reader(head);
    let (mut commas, mut points) = (false, false);
    for rec in r.byte_records().map_while(Result::ok) {
        for cell in rec.iter() {
            let text = field_text(cell);
            let t = text.trim();
            if is_decimal_comma_number(t) || grouped(t).is_some_and(|(_, fraction)| fraction) {
                commas = true;
            } else if is_decimal_point_number(t) && grouped(t).is_none() {
                points = true;
            }
        }
    }
    match (commas, points) {
        (true, false) => DecimalMark::Comma,
        (false, true) => DecimalMark::Point,
        _ => DecimalMark::Either,
    }
}

/// A number whose integer digits are grouped by points in threes (`1.206`, `-12.345.678`,
/// `1.205,6`): its digits without the points, and whether a decimal comma follows.
fn grouped(t: &str) -> Option<(String, bool)> {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (whole, fraction) = match body.split_once(',') {
        Some((w, f)) => (w, Some(f)),
        None => (body, None),
    };
    let mut groups = whole.split('.');
    let first = groups.next()?;
    let rest: Vec<&str> = groups.collect();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ok = !rest.is_empty()
        && digits(first)
        && first.len() <= 3
        && rest.iter().all(|g| g.len() == 3 && digits(g))
        && fraction.is_none_or(digits);
    ok.then(|| (whole.replace('.', ""), fraction.is_some()))
}

/// Digits, one point, digits (an optional sign before, an optional exponent after).
fn is_decimal_point_number(t: &str) -> bool {
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    let mantissa = t.find(['e', 'E']).map_or(t, |k| &t[..k]);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    mantissa
        .split_once('.')
        .is_some_and(|(w, f)| digits(w) && digits(f))
}

/// A number's text (a cell's, as `cell_text` gives it) in a table whose decimal mark is `mark`
/// (None: not a `;`-separated table), ready to parse: a number grouped in thousands by points
/// read by the table's mark, and refused where the table does not tell (`1.206` of day counts
/// read as 1.206 days made a PFS of 1206 days 0.04 months). Only for cells read as numbers: an
/// identifier such as `101.001` is text (a review found it turned into `101001`).
pub fn number_text(text: &str, mark: Option<DecimalMark>) -> Result<String, String> {
    let text = text.to_string();
    let Some(mark) = mark else {
        return Ok(text);
    };
    let Some((digits, fraction)) = grouped(&text) else {
        return Ok(text);
    };
    let sign = if text.starts_with('-') { "-" } else { "" };
    let whole = format!("{sign}{}", digits.trim_start_matches(['+', '-']));
    let as_thousands = match text.split_once(',') {
        Some((_, f)) => format!("{whole}.{f}"),
        None => whole,
    };
    match (mark, fraction) {
        (DecimalMark::Comma, _) => Ok(as_thousands),
        (DecimalMark::Point, false) => Ok(text),
        (DecimalMark::Point, true) => Err(format!(
            "{text:?} has a thousands separator and a decimal comma where the table's other numbers have decimal points; write it as {as_thousands}"
        )),
        (DecimalMark::Either, _) => Err(format!(
            "{text:?} reads as {as_thousands} (a point between groups of three digits: a thousands separator, as a spreadsheet writes it where the decimal mark is a comma) or as {text} (a decimal point), and the table's other numbers show no decimal mark to tell which; write the numbers without a thousands separator"
        )),
    }
}

/// Whether the bytes open with a UTF-16 byte order mark: `Some(true)` big-endian (FE FF),
/// `Some(false)` little-endian (FF FE, what Windows writes).
fn utf16_order(head: &[u8]) -> Option<bool> {
    match head {
        [0xFE, 0xFF, ..] => Some(true),
        [0xFF, 0xFE, ..] => Some(false),
        _ => None,
    }
}

/// UTF-16 bytes (after their byte order mark) as text; an unpaired surrogate becomes U+FFFD.
fn utf16_text(bytes: &[u8], big_endian: bool) -> String {
    let units = bytes[2..].chunks_exact(2).map(|b| {
        if big_endian {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        }
    });
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// A record's first line (1 = the header's), from the reader's position; `previous` + 1 where
/// the reader gives none. Row numbers counted from records went wrong after a blank line (which
/// the reader skips) or a quoted cell over several lines.
pub fn line_of(rec: &csv::ByteRecord, previous: usize) -> usize {
    rec.position().map_or(previous + 1, |p| {
        usize::try_from(p.line()).unwrap_or(previous + 1)
    })
}

/// Whether every field of a record is empty or spaces: a spreadsheet's formatted empty row
/// (`,,,,`), or a line of spaces.
pub fn is_blank(rec: &csv::ByteRecord) -> bool {
    rec.iter().all(|f| f.iter().all(u8::is_ascii_whitespace))
}

/// A record's width against the header's: the message when they differ (a row cut short or
/// with a separator too many).
pub fn check_width(rec: &csv::ByteRecord, width: usize) -> Result<(), String> {
    if rec.len() == width {
        Ok(())
    } else {
        Err(format!("{} fields, but the header has {width}", rec.len()))
    }
}

/// A cell's text (`field_text`, trimmed); with `decimal_comma`, a number written with a decimal
/// comma (`12,5`, `-0,25`, `1,5E-3`) gets a decimal point.
pub fn cell_text(bytes: &[u8], decimal_comma: bool) -> String {
    let text = field_text(bytes);
    let text = text.trim();
    if decimal_comma && is_decimal_comma_number(text) {
        text.replacen(',', ".", 1)
    } else {
        text.to_string()
    }
}

/// The header line's names (`cell_text`, never with a decimal comma).
pub fn header<R: std::io::Read>(r: &mut csv::Reader<R>) -> Result<Vec<String>, csv::Error> {
    Ok(r.byte_headers()?
        .iter()
        .map(|h| cell_text(h, false))
        .collect())
}

/// Digits, one comma, digits (an optional sign before, an optional exponent after).
fn is_decimal_comma_number(t: &str) -> bool {
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(k) => (&t[..k], Some(&t[k + 1..])),
        None => (t, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    match mantissa.split_once(',') {
        Some((whole, fraction)) => digits(whole) && digits(fraction) && exponent_ok,
        None => false,
    }
}

/// The field separator of a delimited text file: a tab for `.tsv`/`.tab`; otherwise whichever
/// of `,` `;` tab `|` occurs most often outside quotes in the header line, `,` on a tie or
/// when there is none. Excel writes `;` in locales whose decimal mark is a comma, R and SAS
/// users often tabs; read as commas, such a header was one column and every named column
/// "missing".
fn delimiter_of(path: &Path, head: &[u8]) -> u8 {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext == "tsv" || ext == "tab" {
        return b'\t';
    }
    delimiter_of_header(head)
}

/// `delimiter_of` on the file's first bytes (as text).
fn delimiter_of_header(head: &[u8]) -> u8 {
    const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for &b in head {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(k) = CANDIDATES.iter().position(|&c| c == b) {
                    counts[k] += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for k in 1..CANDIDATES.len() {
        if counts[k] > counts[best] {
            best = k;
        }
    }
    CANDIDATES[best]
}

/// A field's text: UTF-8, else Windows-1252 (what Excel on Windows writes as "CSV"), which
/// gives every byte a character: an accent in a histology or a site's free text no longer stops
/// the table from being read.
pub fn field_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => std::borrow::Cow::Owned(bytes.iter().map(|&b| windows_1252(b)).collect()),
    }
}

/// The character of a Windows-1252 byte (WHATWG encoding standard's index): ISO 8859-1 except
/// 0x80–0x9F, where five unassigned bytes keep their C1 control.
fn windows_1252(b: u8) -> char {
    const HIGH: [u16; 32] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
        0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
    ];
    match b {
        0x80..=0x9F => char::from_u32(u32::from(HIGH[usize::from(b - 0x80)])).unwrap_or('\u{FFFD}'),
        _ => char::from(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (review): a table given as a pipe (`<(cat adsl.csv)`: a FIFO here) was opened
    /// twice, its first 64 KiB read and lost ("missing column USUBJID"; a UTF-16 one an
    /// internal error). Read once now, as a file is.
    #[cfg(unix)]
    #[test]
    fn a_table_read_from_a_pipe_is_read_whole() {
        let d = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            ("utf8", b"USUBJID,AGE\nA1,60\nA2,61\n".to_vec()),
            ("utf16", {
                let mut b = vec![0xFF, 0xFE];
                for u in "USUBJID\tAGE\r\nA1\t60\r\nA2\t61\r\n".encode_utf16() {
                    b.extend(u.to_le_bytes());
                }
                b
            }),
        ] {
            let fifo = d.path().join(name);
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            // SAFETY: mkfifo reads the NUL-terminated path only.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            let writer = {
                let fifo = fifo.clone();
                std::thread::spawn(move || std::fs::write(fifo, bytes).unwrap())
            };
            let (mut r, _) = reader(&fifo).unwrap();
            let head = header(&mut r).unwrap();
            let rows: Vec<csv::ByteRecord> = r.byte_records().map(Result::unwrap).collect();
            writer.join().unwrap();
            assert_eq!(head, ["USUBJID", "AGE"], "{name}");
            assert_eq!(rows.len(), 2, "{name}");
            assert_eq!(&rows[1][0], b"A2", "{name}");
        }
    }

    #[test]
    fn utf16_with_either_byte_order_and_an_unpaired_surrogate() {
        let text = "USUBJID\tNOTE\r\nA1\tCafé ✓\r\n";
        for big_endian in [false, true] {
            let mut bytes: Vec<u8> = if big_endian {
                vec![0xFE, 0xFF]
            } else {
                vec![0xFF, 0xFE]
            };
            for u in text.encode_utf16() {
                bytes.extend(if big_endian {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                });
            }
            assert_eq!(utf16_order(&bytes), Some(big_endian));
            assert_eq!(utf16_text(&bytes, big_endian), text);
        }
        // A lone high surrogate (0xD800), then "A"; an odd last byte is dropped.
        assert_eq!(
            utf16_text(&[0xFF, 0xFE, 0x00, 0xD8, b'A', 0, 7], false),
            "\u{FFFD}A"
        );
        assert_eq!(utf16_order(b"\xEF\xBB\xBFUSUBJID"), None);
    }

    #[test]
    fn blank_records_are_empty_or_spaces_only() {
        let rec = |fields: &[&str]| csv::ByteRecord::from(fields.to_vec());
        assert!(is_blank(&rec(&["", "", ""])));
        assert!(is_blank(&rec(&["   "])));
        assert!(!is_blank(&rec(&["", "x", ""])));
        assert_eq!(check_width(&rec(&["a", "b"]), 2), Ok(()));
        assert_eq!(
            check_width(&rec(&["a"]), 3),
            Err("1 fields, but the header has 3".to_string())
        );
    }

    #[test]
    fn delimiter_is_the_header_lines_most_frequent_separator() {
        assert_eq!(
            delimiter_of_header(b"USUBJID,ARMCD,RANDDT\nA;B;C;D;E\n"),
            b','
        );
        assert_eq!(delimiter_of_header(b"USUBJID;ARMCD;RANDDT\r\n"), b';');
        assert_eq!(delimiter_of_header(b"USUBJID\tARMCD\tARM\n"), b'\t');
        assert_eq!(delimiter_of_header(b"USUBJID|ARMCD\n"), b'|');
        // Separators inside quotes do not count; one column and a tie read as commas.
        assert_eq!(delimiter_of_header(b"\"A;B;C\",D,E\n"), b',');
        assert_eq!(delimiter_of_header(b"USUBJID\n"), b',');
        assert_eq!(delimiter_of_header(b"A;B,C\n"), b',');
        assert_eq!(delimiter_of_header(b""), b',');
    }

    #[test]
    fn decimal_commas_of_semicolon_tables() {
        for (cell, read) in [
            ("12,5", "12.5"),
            ("-0,25", "-0.25"),
            ("+3,0", "+3.0"),
            ("1,5E-3", "1.5E-3"),
            ("12.5", "12.5"),
            ("12", "12"),
            ("1,2,3", "1,2,3"),
            (",5", ",5"),
            ("5,", "5,"),
            ("ypT1a, ypN0", "ypT1a, ypN0"),
            ("2024-01-17", "2024-01-17"),
        ] {
            assert_eq!(cell_text(cell.as_bytes(), true), read, "{cell}");
        }
        assert_eq!(cell_text(b" 12,5 ", false), "12,5");
    }

    /// Regression: in a `;`-separated table (a spreadsheet's where the decimal mark is a comma)
    /// a day count grouped in thousands, `1.206`, was read as 1.206 days. Now the table's own
    /// numbers tell the mark, and where they do not, such a number is refused.
    #[test]
    fn thousands_separators_of_semicolon_tables() {
        let comma = decimal_mark_of(
            b"USUBJID;AVAL;X
A;1.206;12,5
B;345;0
",
        );
        let point = decimal_mark_of(
            b"USUBJID;AVAL;X
A;1.206;12.5
B;345;0
",
        );
        let neither = decimal_mark_of(
            b"USUBJID;AVAL
A;1.206
B;1.077
C;345
",
        );
        let both = decimal_mark_of(
            b"USUBJID;AVAL;X
A;12,5;12.5
",
        );
        assert_eq!(comma, DecimalMark::Comma);
        assert_eq!(point, DecimalMark::Point);
        assert_eq!(neither, DecimalMark::Either);
        assert_eq!(both, DecimalMark::Either);
        // A grouped number with a decimal comma shows the comma; a date or a version does not.
        assert_eq!(
            decimal_mark_of(
                b"A;B
1.205,6;x
"
            ),
            DecimalMark::Comma
        );
        assert_eq!(
            decimal_mark_of(
                b"A;B
17.01.2024;1.2.3
"
            ),
            DecimalMark::Either
        );
        let read = |cell: &str, mark| number_text(&cell_text(cell.as_bytes(), true), Some(mark));
        assert_eq!(read("1.206", comma), Ok("1206".into()));
        assert_eq!(read("-12.345.678", comma), Ok("-12345678".into()));
        assert_eq!(read("1.205,6", comma), Ok("1205.6".into()));
        assert_eq!(read("12,5", comma), Ok("12.5".into()));
        assert_eq!(read("1.206", point), Ok("1.206".into()));
        assert!(read("1.205,6", point)
            .unwrap_err()
            .contains("write it as 1205.6"));
        let e = read("1.206", neither).unwrap_err();
        assert!(
            e.contains("reads as 1206") && e.contains("or as 1.206"),
            "{e}"
        );
        // Not a grouped number: as before.
        for cell in ["12.5", "1234.5", "17.01.2024", "1.2345", "ypT1a"] {
            assert_eq!(read(cell, neither), Ok(cell.into()), "{cell}");
        }
        assert_eq!(number_text("1.206", None), Ok("1.206".into()));
    }

    #[test]
    fn fields_are_utf8_else_windows_1252() {
        assert_eq!(field_text("à cellules".as_bytes()), "à cellules");
        // "à cellules claires – 12 €" as Excel writes it on Windows.
        assert_eq!(
            field_text(b"\xe0 cellules claires \x96 12 \x80"),
            "à cellules claires – 12 €"
        );
        assert_eq!(windows_1252(0x9F), 'Ÿ');
        assert_eq!(windows_1252(0x81), '\u{81}');
        assert_eq!(windows_1252(b'A'), 'A');
        assert_eq!(windows_1252(0xFF), 'ÿ');
    }
}
