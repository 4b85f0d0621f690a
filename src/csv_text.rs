//! Delimited text as people save it (RFC 4180 CSV read with the `csv` crate): the separator
//! taken from the header line (`,` `;` tab `|`), decimal commas in `;`-separated files, and cells
//! in UTF-8 or Windows-1252 (WHATWG encoding standard's index), as spreadsheets write them. Used
//! by every table ancilla reads: the clinical tables and the de-identification subject map.

use std::path::Path;

/// A CSV reader of `path` with its field separator found by `sniff_delimiter`, and whether its
/// numbers may have a decimal comma (a `;`-separated file: Excel writes `;` exactly where the
/// decimal mark is a comma).
pub fn reader(path: &Path) -> Result<(csv::Reader<std::fs::File>, bool), csv::Error> {
    let delimiter = sniff_delimiter(path);
    let reader = csv::ReaderBuilder::new()
        .flexible(false)
        .delimiter(delimiter)
        .from_path(path)?;
    Ok((reader, delimiter == b';'))
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
fn sniff_delimiter(path: &Path) -> u8 {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext == "tsv" || ext == "tab" {
        return b'\t';
    }
    let mut head = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        use std::io::Read;
        let _ = f.take(64 * 1024).read_to_end(&mut head);
    }
    delimiter_of_header(&head)
}

/// `sniff_delimiter` on the file's first bytes.
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
