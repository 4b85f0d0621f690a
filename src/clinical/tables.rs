//! Flat tables as text cells: read from CSV (RFC 4180; the separator sniffed from the header,
//! cells in UTF-8 or Windows-1252) or Parquet (by extension), written as CSV and as
//! Parquet (arrow-rs `parquet`, low-level writer, Snappy only — no C library) that pandas, polars
//! and R arrow read. Numeric columns are written as optional DOUBLE, others as optional UTF-8.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A table of text cells with its header.
#[derive(Debug, Clone)]
pub struct TextTable {
    pub path: PathBuf,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Why a table could not be streamed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Table(TableError),
    #[error("missing column {0}")]
    MissingColumn(&'static str),
}

/// Why a table could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct TableError {
    pub path: PathBuf,
    pub reason: String,
}

/// A CSV reader of `path` with its field separator found by `sniff_delimiter`, and whether its
/// numbers may have a decimal comma (a `;`-separated file: Excel writes `;` exactly where the
/// decimal mark is a comma).
fn csv_reader(path: &Path) -> Result<(csv::Reader<std::fs::File>, bool), csv::Error> {
    let delimiter = sniff_delimiter(path);
    let reader = csv::ReaderBuilder::new()
        .flexible(false)
        .delimiter(delimiter)
        .from_path(path)?;
    Ok((reader, delimiter == b';'))
}

/// A cell's text (`field_text`, trimmed); with `decimal_comma`, a number written with a decimal
/// comma (`12,5`, `-0,25`, `1,5E-3`) gets a decimal point.
fn cell_text(bytes: &[u8], decimal_comma: bool) -> String {
    let text = field_text(bytes);
    let text = text.trim();
    if decimal_comma && is_decimal_comma_number(text) {
        text.replacen(',', ".", 1)
    } else {
        text.to_string()
    }
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
fn field_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
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

impl TextTable {
    /// Read CSV (any of `,` `;` tab `|` as the separator, UTF-8 or Windows-1252), or Parquet when
    /// the name ends in `.parquet`/`.pq`; SAS XPORT is refused.
    pub fn read(path: &Path) -> Result<TextTable, TableError> {
        let err = |reason: String| TableError {
            path: path.to_path_buf(),
            reason,
        };
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        match ext.as_str() {
            "parquet" | "pq" => Self::read_parquet(path),
            "xpt" | "sas7bdat" => Err(err("SAS files are not read; export the table as CSV (e.g. haven::write_csv or PROC EXPORT)".into())),
            _ => {
                let (mut r, decimal_comma) = csv_reader(path).map_err(|e| err(e.to_string()))?;
                let header = r
                    .byte_headers()
                    .map_err(|e| err(e.to_string()))?
                    .iter()
                    .map(|h| cell_text(h, false))
                    .collect();
                let mut rows = Vec::new();
                for (n, rec) in r.byte_records().enumerate() {
                    let rec = rec.map_err(|e| err(format!("row {}: {e}", n + 2)))?;
                    rows.push(rec.iter().map(|c| cell_text(c, decimal_comma)).collect());
                }
                Ok(TextTable {
                    path: path.to_path_buf(),
                    header,
                    rows,
                })
            }
        }
    }

    /// Visit the rows of a table one at a time with the named columns picked out (CSV streams,
    /// so a long table is never held whole; Parquet is read first). `f` gets the row's index
    /// (0 = the first data row) and its values in the order of `columns`.
    pub fn for_each_row<F>(
        path: &Path,
        columns: &[&'static str],
        mut f: F,
    ) -> Result<(), StreamError>
    where
        F: FnMut(usize, &[&str]),
    {
        let err = |reason: String| {
            StreamError::Table(TableError {
                path: path.to_path_buf(),
                reason,
            })
        };
        let is_csv = !matches!(
            path.extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase()
                .as_str(),
            "parquet" | "pq" | "xpt" | "sas7bdat"
        );
        if !is_csv {
            let t = Self::read(path).map_err(StreamError::Table)?;
            let idx = columns
                .iter()
                .map(|c| t.col(c).ok_or(StreamError::MissingColumn(c)))
                .collect::<Result<Vec<_>, _>>()?;
            for (r, row) in t.rows.iter().enumerate() {
                let picked: Vec<&str> = idx.iter().map(|&i| row[i].as_str()).collect();
                f(r, &picked);
            }
            return Ok(());
        }
        let (mut r, decimal_comma) = csv_reader(path).map_err(|e| err(e.to_string()))?;
        let header: Vec<String> = r
            .byte_headers()
            .map_err(|e| err(e.to_string()))?
            .iter()
            .map(|h| cell_text(h, false))
            .collect();
        let idx = columns
            .iter()
            .map(|c| {
                header
                    .iter()
                    .position(|h| h == c)
                    .ok_or(StreamError::MissingColumn(c))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut rec = csv::ByteRecord::new();
        let mut n = 0;
        loop {
            match r.read_byte_record(&mut rec) {
                Ok(false) => break,
                Ok(true) => {
                    let cells: Vec<String> = idx
                        .iter()
                        .map(|&i| cell_text(rec.get(i).unwrap_or_default(), decimal_comma))
                        .collect();
                    let picked: Vec<&str> = cells.iter().map(String::as_str).collect();
                    f(n, &picked);
                    n += 1;
                }
                Err(e) => return Err(err(format!("row {}: {e}", n + 2))),
            }
        }
        Ok(())
    }

    fn read_parquet(path: &Path) -> Result<TextTable, TableError> {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        use parquet::record::Field;
        let err = |reason: String| TableError {
            path: path.to_path_buf(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
        let reader = SerializedFileReader::new(file).map_err(|e| err(e.to_string()))?;
        let header: Vec<String> = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        let mut rows = Vec::new();
        for row in reader.get_row_iter(None).map_err(|e| err(e.to_string()))? {
            let row = row.map_err(|e| err(e.to_string()))?;
            let cells: Vec<String> = row
                .get_column_iter()
                .map(|(_, f)| match f {
                    Field::Null => String::new(),
                    Field::Bool(b) => u8::from(*b).to_string(),
                    Field::Str(s) => s.trim().to_string(),
                    Field::Double(v) => v.to_string(),
                    Field::Float(v) => v.to_string(),
                    other => other.to_string(),
                })
                .collect();
            rows.push(cells);
        }
        Ok(TextTable {
            path: path.to_path_buf(),
            header,
            rows,
        })
    }

    /// Index of a column (exact name).
    pub fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }
}

/// Write `header` + `rows` as CSV at `path` (atomically).
pub fn write_csv(path: &Path, header: &[String], rows: &[Vec<String>]) -> Result<(), TableError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(r);
    }
    let bytes = w.into_inner().map_err(|e| TableError {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    crate::atomic::write_bytes(path, &bytes).map_err(|e| TableError {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Write the same table as Parquet; `numeric[c]` makes column c DOUBLE (empty cells are null).
pub fn write_parquet(
    path: &Path,
    header: &[String],
    rows: &[Vec<String>],
    numeric: &[bool],
) -> Result<(), TableError> {
    use parquet::basic::{Compression, ConvertedType, Repetition, Type as PhysicalType};
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::types::Type;
    let err = |reason: String| TableError {
        path: path.to_path_buf(),
        reason,
    };
    let fields: Vec<Arc<Type>> = header
        .iter()
        .zip(numeric)
        .map(|(name, &num)| {
            let b = if num {
                Type::primitive_type_builder(name, PhysicalType::DOUBLE)
            } else {
                Type::primitive_type_builder(name, PhysicalType::BYTE_ARRAY)
                    .with_converted_type(ConvertedType::UTF8)
            };
            b.with_repetition(Repetition::OPTIONAL)
                .build()
                .map(Arc::new)
                .map_err(|e| err(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    let schema = Arc::new(
        Type::group_type_builder("schema")
            .with_fields(fields)
            .build()
            .map_err(|e| err(e.to_string()))?,
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    crate::atomic::write_with(path, |tmp| -> Result<(), TableError> {
        let file = std::fs::File::create(tmp).map_err(|e| err(e.to_string()))?;
        let mut writer = SerializedFileWriter::new(file, schema.clone(), props.clone())
            .map_err(|e| err(e.to_string()))?;
        let mut rg = writer.next_row_group().map_err(|e| err(e.to_string()))?;
        let mut c = 0;
        while let Some(mut col) = rg.next_column().map_err(|e| err(e.to_string()))? {
            let cells: Vec<&str> = rows
                .iter()
                .map(|r| r.get(c).map(String::as_str).unwrap_or(""))
                .collect();
            let defs: Vec<i16> = cells.iter().map(|s| i16::from(!s.is_empty())).collect();
            if numeric[c] {
                let vals: Vec<f64> = cells
                    .iter()
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse::<f64>().unwrap_or(f64::NAN))
                    .collect();
                col.typed::<DoubleType>()
                    .write_batch(&vals, Some(&defs), None)
                    .map_err(|e| err(e.to_string()))?;
            } else {
                let vals: Vec<ByteArray> = cells
                    .iter()
                    .filter(|s| !s.is_empty())
                    .map(|s| ByteArray::from(*s))
                    .collect();
                col.typed::<ByteArrayType>()
                    .write_batch(&vals, Some(&defs), None)
                    .map_err(|e| err(e.to_string()))?;
            }
            col.close().map_err(|e| err(e.to_string()))?;
            c += 1;
        }
        rg.close().map_err(|e| err(e.to_string()))?;
        writer.close().map_err(|e| err(e.to_string()))?;
        Ok(())
    })
}

impl From<std::io::Error> for TableError {
    fn from(e: std::io::Error) -> Self {
        TableError {
            path: PathBuf::new(),
            reason: e.to_string(),
        }
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
