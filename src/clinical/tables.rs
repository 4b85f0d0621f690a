//! Flat tables as text cells: read from CSV (through `csv_text`: the separator sniffed from the
//! header, cells in UTF-8 or Windows-1252), Parquet (uncompressed, Snappy, gzip or LZ4: the
//! codecs in pure Rust; timestamps as dates) or SAS transport (`xpt`; by extension), written as
//! CSV and as Parquet (arrow-rs `parquet`, low-level writer, Snappy only — no C library) that
//! pandas, polars and R arrow read. Columns are written by their [`ColumnKind`]: optional
//! INT64 for whole numbers (events, grades, day counts), DOUBLE for other numbers, else UTF-8.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A table of text cells with its header.
#[derive(Debug, Clone, Default)]
pub struct TextTable {
    pub path: PathBuf,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Each row's line in a CSV file (the header's is 1), which messages name: a blank line or
    /// a cell over several lines makes it more than the row's index + 2. Empty for a table
    /// without lines (Parquet, SAS transport), whose row `r` is numbered r + 2.
    pub lines: Vec<usize>,
    /// A `;`-separated table's decimal mark (`csv_text::DecimalMark`), for the numbers read from
    /// it (`csv_text::number`); None for any other table.
    pub mark: Option<crate::csv_text::DecimalMark>,
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

impl TextTable {
    /// Read CSV (any of `,` `;` tab `|` as the separator, UTF-8 or Windows-1252), Parquet when
    /// the name ends in `.parquet`/`.pq`, SAS transport (XPORT) when it ends in `.xpt`; SAS's
    /// own data set files (`.sas7bdat`) are refused.
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
        let table = match ext.as_str() {
            "parquet" | "pq" => Self::read_parquet(path),
            "xpt" => super::xpt::read(path),
            "sas7bdat" => Err(err("SAS data set files are not read; export the table as SAS transport (.xpt, as ADaM is submitted) or CSV (e.g. haven::write_xpt or PROC EXPORT)".into())),
            _ => {
                let (mut r, mark) = crate::csv_text::reader(path).map_err(|e| err(e.to_string()))?;
                let header = crate::csv_text::header(&mut r).map_err(|e| err(e.to_string()))?;
                let mut rows: Vec<Vec<String>> = Vec::new();
                let mut lines = Vec::new();
                let mut last_line = 1;
                for rec in r.byte_records() {
                    let rec = rec.map_err(|e| err(format!("after line {last_line}: {e}")))?;
                    let line = crate::csv_text::line_of(&rec, last_line);
                    last_line = line;
                    lines.push(line);
                    if crate::csv_text::is_blank(&rec) {
                        // Kept (as empty cells): a blank row inside the table is said as such.
                        rows.push(vec![String::new(); header.len()]);
                        continue;
                    }
                    crate::csv_text::check_width(&rec, header.len())
                        .map_err(|e| err(format!("row {line}: {e}")))?;
                    rows.push(rec.iter().map(|c| data_cell(c, mark.is_some())).collect());
                }
                // Blank rows after the last row with data (Excel saves formatted empty rows).
                while rows.last().is_some_and(|r| r.iter().all(String::is_empty)) {
                    rows.pop();
                    lines.pop();
                }
                Ok(TextTable {
                    path: path.to_path_buf(),
                    header,
                    rows,
                    lines,
                    mark,
                })
            }
        }?;
        match repeated_column(&table.header) {
            Some(twice) => Err(err(twice)),
            None => Ok(table),
        }
    }

    /// Visit the rows of a table one at a time with the named columns picked out (CSV streams,
    /// so a long table is never held whole; Parquet is read first). `f` gets the row's number
    /// as messages give it ([`TextTable::row_number`]) and its values in the order of `columns`;
    /// blank rows are passed over. A column named with a leading `?` is optional: its values
    /// are empty when the table lacks it; one named with a leading `#` holds numbers, read by a
    /// `;` table's decimal mark (`1.206` is 1206 where its numbers show decimal commas).
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
                .map(|c| optional_column(c, t.col(c.trim_start_matches(['?', '#']))))
                .collect::<Result<Vec<_>, _>>()?;
            for (r, row) in t.rows.iter().enumerate() {
                let picked: Vec<&str> = idx
                    .iter()
                    .map(|i| i.map_or("", |i| row[i].as_str()))
                    .collect();
                f(t.row_number(r), &picked);
            }
            return Ok(());
        }
        let (mut r, mark) = crate::csv_text::reader(path).map_err(|e| err(e.to_string()))?;
        let header = crate::csv_text::header(&mut r).map_err(|e| err(e.to_string()))?;
        if let Some(twice) = repeated_column(&header) {
            return Err(err(twice));
        }
        let idx = columns
            .iter()
            .map(|c| optional_column(c, column_index(&header, c.trim_start_matches(['?', '#']))))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rec = csv::ByteRecord::new();
        let mut line = 1;
        loop {
            match r.read_byte_record(&mut rec) {
                Ok(false) => break,
                Ok(true) if crate::csv_text::is_blank(&rec) => {
                    line = crate::csv_text::line_of(&rec, line)
                }
                Ok(true) => {
                    line = crate::csv_text::line_of(&rec, line);
                    crate::csv_text::check_width(&rec, header.len())
                        .map_err(|e| err(format!("row {line}: {e}")))?;
                    let cells: Vec<String> =
                        idx.iter()
                            .zip(columns)
                            .map(|(i, name)| {
                                let cell = match i {
                                    Some(i) => {
                                        data_cell(rec.get(*i).unwrap_or_default(), mark.is_some())
                                    }
                                    None => String::new(),
                                };
                                // A column read as numbers (`#name`): grouped in thousands by the
                                // table's decimal mark (`csv_text::number_text`).
                                match name.strip_prefix('#') {
                                    Some(plain) => crate::csv_text::number_text(&cell, mark)
                                        .map_err(|why| {
                                            err(format!("row {line}, column {plain}: {why}"))
                                        }),
                                    None => Ok(cell),
                                }
                            })
                            .collect::<Result<_, _>>()?;
                    let picked: Vec<&str> = cells.iter().map(String::as_str).collect();
                    f(line, &picked);
                }
                Err(e) => return Err(err(format!("after line {line}: {e}"))),
            }
        }
        Ok(())
    }

    fn read_parquet(path: &Path) -> Result<TextTable, TableError> {
        use parquet::basic::{LogicalType, TimeUnit};
        use parquet::file::reader::{FileReader, SerializedFileReader};
        use parquet::record::Field;
        let err = |reason: String| TableError {
            path: path.to_path_buf(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
        let reader = SerializedFileReader::new(file).map_err(|e| err(parquet_reason(e)))?;
        let columns = reader.metadata().file_metadata().schema_descr().columns();
        let header: Vec<String> = columns.iter().map(|c| c.name().to_string()).collect();
        // Nanosecond timestamps (pandas' datetime64[ns]) come through as plain numbers.
        let nanos: Vec<bool> = columns
            .iter()
            .map(|c| {
                matches!(
                    c.logical_type(),
                    Some(LogicalType::Timestamp {
                        unit: TimeUnit::NANOS(_),
                        ..
                    })
                )
            })
            .collect();
        // Time-zone-aware timestamps are stored in UTC: local midnight in Paris is 23:00 UTC
        // the day before. Their local date is unknown here (the zone is in pandas' metadata
        // only), so one that is not at UTC midnight is refused rather than read a day early.
        let in_utc: Vec<bool> = columns
            .iter()
            .map(|c| {
                matches!(
                    c.logical_type(),
                    Some(LogicalType::Timestamp {
                        is_adjusted_to_u_t_c: true,
                        ..
                    })
                )
            })
            .collect();
        let mut rows = Vec::new();
        for (r, row) in reader
            .get_row_iter(None)
            .map_err(|e| err(parquet_reason(e)))?
            .enumerate()
        {
            let row = row.map_err(|e| err(parquet_reason(e)))?;
            let cells: Vec<String> = row
                .get_column_iter()
                .enumerate()
                .map(|(c, (name, f))| {
                    let time = |v: i64, per_second: i64| {
                        let text = timestamp_text(v, per_second);
                        // (The value is not quoted: it is a real date.)
                        if in_utc.get(c) == Some(&true) && text.contains('T') {
                            Err(err(format!(
                                "row {} column {name}: a time-zone-aware timestamp that is not \
                                 at UTC midnight, whose local date is unknown; write the column \
                                 as dates (pandas: .dt.date, or .dt.tz_localize(None))",
                                r + 2
                            )))
                        } else {
                            Ok(text)
                        }
                    };
                    Ok(match f {
                        Field::Null => String::new(),
                        Field::Bool(b) => u8::from(*b).to_string(),
                        Field::Str(s) => s.trim().to_string(),
                        // As ancilla writes numbers (an exponent when tiny or huge); ±inf as
                        // text, for the reader to refuse.
                        Field::Double(v) if v.is_finite() => crate::digits::shortest(*v),
                        Field::Float(v) if *v == 0.0 => "0".into(),
                        Field::Float(v) if v.is_finite() => {
                            if (1e-4..1e16).contains(&v.abs()) {
                                format!("{v}")
                            } else {
                                format!("{v:e}")
                            }
                        }
                        Field::Double(v) => v.to_string(),
                        Field::Float(v) => v.to_string(),
                        Field::TimestampMillis(v) => time(*v, 1_000)?,
                        Field::TimestampMicros(v) => time(*v, 1_000_000)?,
                        Field::Long(v) if nanos.get(c) == Some(&true) => time(*v, 1_000_000_000)?,
                        other => other.to_string(),
                    })
                })
                .collect::<Result<_, TableError>>()?;
            rows.push(cells);
        }
        Ok(TextTable {
            path: path.to_path_buf(),
            header,
            rows,
            lines: Vec::new(),
            mark: None,
        })
    }

    /// Row `r`'s number as messages give it: its line in a CSV file, else r + 2 (the header
    /// being row 1, as a spreadsheet numbers them).
    pub fn row_number(&self, r: usize) -> usize {
        self.lines.get(r).copied().unwrap_or(r + 2)
    }

    /// Index of a column: by its exact name, else by its name without case and surrounding
    /// space (SAS variable names have no case: `usubjid` or `Isup` from R or Excel is USUBJID
    /// or ISUP, and was silently not found).
    pub fn col(&self, name: &str) -> Option<usize> {
        column_index(&self.header, name)
    }
}

/// A Parquet timestamp (`per_second` units since 1970-01-01 00:00 UTC) as the clinical tables
/// write dates: `YYYY-MM-DD` at midnight (a date column that pandas made a timestamp), else
/// `YYYY-MM-DDThh:mm:ss`. The date is the stored one; a time zone is not applied.
fn timestamp_text(value: i64, per_second: i64) -> String {
    let seconds = value.div_euclid(per_second);
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let date = crate::datetime::Date::from_days(days).to_iso();
    if of_day == 0 && value.rem_euclid(per_second) == 0 {
        date
    } else {
        format!(
            "{date}T{:02}:{:02}:{:02}",
            of_day / 3600,
            of_day / 60 % 60,
            of_day % 60
        )
    }
}

/// A Parquet reading error as a user can act on it: a codec this build leaves out (those with C
/// libraries: zstd, polars' default, and brotli) says how to write the file instead.
fn parquet_reason(e: parquet::errors::ParquetError) -> String {
    let text = e.to_string();
    match text.split_once("Disabled feature at compile time: ") {
        Some((_, codec)) => format!(
            "the file is compressed with {}, which ancilla does not read (no C libraries); \
             write it uncompressed or with snappy (pandas' and pyarrow's default), gzip or lz4 \
             (polars: write_parquet(..., compression=\"snappy\")), or as CSV",
            if codec.starts_with("zstd") {
                "zstd (polars' default)"
            } else {
                codec
            }
        ),
        None => text,
    }
}

/// A CSV data cell's text (`csv_text::cell_text`), with the missing-value marks of the tools
/// tables come from read as an empty cell: R's `NA` (write.csv, readr) and SAS's `.` (PROC
/// EXPORT of a missing number). Such tables were refused cell by cell ("\"NA\" is not a
/// percentage").
fn data_cell(bytes: &[u8], decimal_comma: bool) -> String {
    let text = crate::csv_text::cell_text(bytes, decimal_comma);
    if text == "NA" || text == "." {
        String::new()
    } else {
        text
    }
}

/// The message for a header that names a column twice (case and surrounding space aside, as
/// columns are found): which one, at which positions (1 = the first). Only the first was read.
pub fn repeated_column(header: &[String]) -> Option<String> {
    // Each name's first column, by a map: comparing every column with all before it took 160 s
    // on a table of 100,000 columns (robustness audit).
    let mut first: std::collections::HashMap<String, usize> = Default::default();
    header.iter().enumerate().find_map(|(j, h)| {
        let key = h.trim().to_ascii_uppercase();
        if key.is_empty() {
            return None;
        }
        match first.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => Some(format!(
                "column {h:?} appears twice (columns {} and {}); name each column once",
                e.get() + 1,
                j + 1
            )),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(j);
                None
            }
        }
    })
}

/// A column's index for `for_each_row`: found, absent and optional (`?name`: None), or absent
/// and required (an error naming it).
fn optional_column(name: &'static str, found: Option<usize>) -> Result<Option<usize>, StreamError> {
    match (found, name.strip_prefix('?')) {
        (Some(i), _) => Ok(Some(i)),
        (None, Some(_)) => Ok(None),
        (None, None) => Err(StreamError::MissingColumn(name.trim_start_matches('#'))),
    }
}

/// [`TextTable::col`] on a header.
fn column_index(header: &[String], name: &str) -> Option<usize> {
    header.iter().position(|h| h == name).or_else(|| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    })
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

/// What a column holds, and so its Parquet type. The kind is the column's, not its cells': a
/// schema that changed with the data (INT64 in one run, DOUBLE in the next) would break the
/// researcher's code that reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// UTF-8 text.
    Text,
    /// DOUBLE; a cell that is not a number is NaN.
    Real,
    /// INT64 (pandas reads it as a nullable integer with `dtype_backend`, polars as Int64, R arrow
    /// as integer): every cell a whole number, also written `2.0`.
    Integer,
}

/// Write the same table as Parquet, column c as `kinds[c]` (empty cells are null).
pub fn write_parquet(
    path: &Path,
    header: &[String],
    rows: &[Vec<String>],
    kinds: &[ColumnKind],
) -> Result<(), TableError> {
    write_parquet_groups(path, header, kinds, std::iter::once(Ok(rows.to_vec())))
}

/// Write a table as Parquet from its rows in groups (one Parquet row group each), so a long table
/// streams through without being held whole; column c as `kinds[c]`; empty cells are null. A cell
/// of an integer column that is not a whole number is an error (no file). Atomic: the file appears
/// whole or not at all, also when a group fails.
pub fn write_parquet_groups<I>(
    path: &Path,
    header: &[String],
    kinds: &[ColumnKind],
    groups: I,
) -> Result<(), TableError>
where
    I: IntoIterator<Item = Result<Vec<Vec<String>>, TableError>>,
{
    use parquet::basic::{Compression, ConvertedType, Repetition, Type as PhysicalType};
    use parquet::file::properties::WriterProperties;
    use parquet::schema::types::Type;
    let err = |reason: String| TableError {
        path: path.to_path_buf(),
        reason,
    };
    let fields: Vec<Arc<Type>> = header
        .iter()
        .zip(kinds)
        .map(|(name, kind)| {
            let b = match kind {
                ColumnKind::Real => Type::primitive_type_builder(name, PhysicalType::DOUBLE),
                ColumnKind::Integer => Type::primitive_type_builder(name, PhysicalType::INT64),
                ColumnKind::Text => Type::primitive_type_builder(name, PhysicalType::BYTE_ARRAY)
                    .with_converted_type(ConvertedType::UTF8),
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
        groups_into(
            file,
            path,
            schema.clone(),
            props.clone(),
            header,
            kinds,
            groups,
        )
    })
}

/// The Parquet bytes of `groups` written into `file` (see `write_parquet_groups`); errors name
/// `path`.
fn groups_into<I>(
    file: std::fs::File,
    path: &Path,
    schema: Arc<parquet::schema::types::Type>,
    props: Arc<parquet::file::properties::WriterProperties>,
    header: &[String],
    kinds: &[ColumnKind],
    groups: I,
) -> Result<(), TableError>
where
    I: IntoIterator<Item = Result<Vec<Vec<String>>, TableError>>,
{
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
    use parquet::file::writer::SerializedFileWriter;
    let err = |reason: String| TableError {
        path: path.to_path_buf(),
        reason,
    };
    // The writer reports a failed write as thrift's "External: transport error", which hid
    // a full disk: the file's own error is kept and said instead.
    let failed = Arc::new(std::sync::Mutex::new(None::<String>));
    let file = KeepsItsError {
        file,
        failed: failed.clone(),
    };
    let written = |e: parquet::errors::ParquetError| {
        let io = failed.lock().ok().and_then(|f| f.clone());
        err(io.map_or_else(|| e.to_string(), |io| format!("cannot write: {io}")))
    };
    let mut writer =
        SerializedFileWriter::new(file, schema.clone(), props.clone()).map_err(written)?;
    for rows in groups {
        let rows = rows?;
        let mut rg = writer.next_row_group().map_err(written)?;
        let mut c = 0;
        while let Some(mut col) = rg.next_column().map_err(written)? {
            let cells: Vec<&str> = rows
                .iter()
                .map(|r| r.get(c).map(String::as_str).unwrap_or(""))
                .collect();
            let defs: Vec<i16> = cells.iter().map(|s| i16::from(!s.is_empty())).collect();
            let filled = cells.iter().filter(|s| !s.is_empty());
            match kinds.get(c).copied().unwrap_or(ColumnKind::Text) {
                ColumnKind::Real => {
                    let vals: Vec<f64> = filled
                        .map(|s| s.parse::<f64>().unwrap_or(f64::NAN))
                        .collect();
                    col.typed::<DoubleType>()
                        .write_batch(&vals, Some(&defs), None)
                        .map_err(written)?;
                }
                ColumnKind::Integer => {
                    let vals: Vec<i64> = filled
                        .map(|s| {
                            super::whole_number(s).ok_or_else(|| {
                                err(format!(
                                    "column {}: a cell that is not a whole number (an \
                                     integer column)",
                                    header.get(c).map_or("?", String::as_str)
                                ))
                            })
                        })
                        .collect::<Result<_, _>>()?;
                    col.typed::<Int64Type>()
                        .write_batch(&vals, Some(&defs), None)
                        .map_err(written)?;
                }
                ColumnKind::Text => {
                    let vals: Vec<ByteArray> = filled.map(|s| ByteArray::from(*s)).collect();
                    col.typed::<ByteArrayType>()
                        .write_batch(&vals, Some(&defs), None)
                        .map_err(written)?;
                }
            }
            col.close().map_err(written)?;
            c += 1;
        }
        rg.close().map_err(written)?;
    }
    writer.close().map_err(written)?;
    Ok(())
}

/// A file that keeps the text of the last error a write met (see `write_parquet_groups`).
struct KeepsItsError {
    file: std::fs::File,
    failed: Arc<std::sync::Mutex<Option<String>>>,
}

impl std::io::Write for KeepsItsError {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf).inspect_err(|e| self.keep(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush().inspect_err(|e| self.keep(e))
    }
}

impl KeepsItsError {
    fn keep(&self, e: &std::io::Error) {
        if let Ok(mut f) = self.failed.lock() {
            *f = Some(e.to_string());
        }
    }
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

    /// Regression (a core-lab audit): a full disk while the Parquet table was written said
    /// "External: transport error" (thrift's word for it), and `link` blamed the clinical tables
    /// (exit 2). The file's own error is said.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_under_a_parquet_table_is_said() {
        use parquet::schema::types::Type;
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let field = Type::primitive_type_builder("X", parquet::basic::Type::DOUBLE)
            .with_repetition(parquet::basic::Repetition::OPTIONAL)
            .build()
            .unwrap();
        let schema = Arc::new(
            Type::group_type_builder("schema")
                .with_fields(vec![Arc::new(field)])
                .build()
                .unwrap(),
        );
        let props = Arc::new(parquet::file::properties::WriterProperties::builder().build());
        let rows = vec![vec!["1.5".to_string()]; 10_000];
        let e = groups_into(
            full,
            Path::new("t.parquet"),
            schema,
            props,
            &["X".into()],
            &[ColumnKind::Real],
            std::iter::once(Ok(rows)),
        )
        .unwrap_err();
        assert_eq!(
            e.reason,
            "cannot write: No space left on device (os error 28)"
        );
    }

    /// Hand-computed: 2024-01-17 is day 19,739 after 1970-01-01.
    #[test]
    fn timestamps_are_dates_at_midnight_else_date_times() {
        let day = 19_739i64 * 86_400;
        assert_eq!(
            timestamp_text(day * 1_000_000_000, 1_000_000_000),
            "2024-01-17"
        );
        assert_eq!(timestamp_text(day * 1_000, 1_000), "2024-01-17");
        assert_eq!(
            timestamp_text((day + 9 * 3600 + 30 * 60) * 1_000_000, 1_000_000),
            "2024-01-17T09:30:00"
        );
        // Half a second after midnight is not midnight; before 1970 counts back.
        assert_eq!(
            timestamp_text(day * 1_000 + 500, 1_000),
            "2024-01-17T00:00:00"
        );
        assert_eq!(timestamp_text(-86_400_000, 1_000), "1969-12-31");
    }

    #[test]
    fn a_column_named_twice_is_found_without_case() {
        let h = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(repeated_column(&h(&["A", "B", "", ""])), None);
        assert_eq!(
            repeated_column(&h(&["USUBJID", "cnsr", "CNSR "])),
            Some(
                "column \"CNSR \" appears twice (columns 2 and 3); name each column once"
                    .to_string()
            )
        );
    }
}
