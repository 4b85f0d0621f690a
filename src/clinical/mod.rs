//! Clinical tables in CDISC ADaM style (ADSL: USUBJID, ARMCD, RANDDT, NEPHRDT; ADTTE: USUBJID,
//! PARAMCD, AVAL, AVALU, CNSR with 0 = event; pathology keyed by USUBJID), validated with errors
//! that name the file, row and column, and linked with the long feature table into the analysis
//! table of docs/DESIGN.md (one row per arm-A subject; CSV and Parquet).

pub mod codebook;
pub mod series_choice;
pub mod tables;
pub mod xpt;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use tables::{TableError, TextTable};

/// The longest time to event taken, in months: 20 years from randomisation is past any trial
/// of this kind; a longer AVAL is days (or weeks) read as months.
const MAX_MONTHS: f64 = 240.0;

/// Five years in days: imaging or a nephrectomy further than this from randomisation is said
/// (this trial images and operates within months of it).
const FAR_FROM_RANDOMISATION_DAYS: i64 = 1827;

/// Days per month for AVALU DAYS → months (365.25 / 12).
pub const DAYS_PER_MONTH: f64 = 30.4375;

/// Errors of linkage.
#[derive(Debug, thiserror::Error)]
pub enum ClinicalError {
    #[error(transparent)]
    Table(#[from] TableError),
    /// A table with its role ([`TableRoles`]): "ADSL (--subjects) a.csv: ...".
    #[error("{what} {source}")]
    Input {
        what: &'static str,
        source: TableError,
    },
    #[error("{path}: missing column {column}")]
    MissingColumn { path: PathBuf, column: &'static str },
    #[error("{}", invalid_summary(.0))]
    Invalid(Vec<String>),
    #[error("{0}")]
    Usage(String),
    /// An output that could not be written (a full disk: exit 1, not a table's fault).
    #[error("cannot write {}", .0)]
    Write(TableError),
}

/// What an imaged subject missing from ADSL most often means, said with the error (in a run, the
/// imaging table is ancilla's own: the row alone points nowhere the user wrote).
const NOT_IN_ADSL: &str = " (a subject with imaging: is ADSL an earlier data cut, or the \
                           subject not randomised? Add them to ADSL, or leave their images out: \
                           in a pipeline, their row of the subject map)";

/// An ARMCD as a message shows it: as it is when it is an arm code (upper-case letters, digits
/// and `_`, CDISC's 20 at most; and short, or the code of several of `arm`'s subjects), else
/// quoted, which run's outputs leave out: a shifted column's surname ("OKONKWO", one subject's)
/// or date is no code. Run's messages were "…" for every code, the config's own too.
fn arm_code_text(code: &str, arm: &BTreeMap<String, String>) -> String {
    let subjects = arm.values().filter(|a| *a == code).count();
    code_text(code, subjects)
}

/// [`arm_code_text`] of a code held by `subjects` subjects (the config's own: any number).
fn code_text(code: &str, subjects: usize) -> String {
    let code_like = code.len() <= 20
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if code_like && (code.len() <= 4 || subjects >= 2) {
        code.to_string()
    } else {
        format!("{code:?}")
    }
}

/// How many validation errors a message lists before it counts the rest.
const ERRORS_SHOWN: usize = 50;

/// "N validation errors:" and the first `ERRORS_SHOWN` of them, then how many more: a table
/// wrong throughout (a shifted column, a wrong file) gives one line per row, which would bury the
/// terminal.
fn invalid_summary(errors: &[String]) -> String {
    let mut s = format!(
        "{}:",
        crate::plural::count(errors.len(), "validation error")
    );
    for e in errors.iter().take(ERRORS_SHOWN) {
        s.push('\n');
        s.push_str(e);
    }
    if errors.len() > ERRORS_SHOWN {
        s.push_str(&format!("\n... and {} more", errors.len() - ERRORS_SHOWN));
    }
    s
}

impl crate::ExitCode for ClinicalError {
    fn exit_code(&self) -> u8 {
        match self {
            ClinicalError::Invalid(_) | ClinicalError::Write(_) => 1,
            _ => 2,
        }
    }
}

/// How messages name the tables `link` reads: by `ancilla link`'s options, or by a pipeline
/// config's keys (a pipeline's user never typed the options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableRoles {
    pub subjects: &'static str,
    pub tte: &'static str,
    pub pathology: &'static str,
    pub procedures: &'static str,
    pub imaging: &'static str,
}

impl TableRoles {
    /// `ancilla link`'s: "ADSL (--subjects)".
    pub const OPTIONS: TableRoles = TableRoles {
        subjects: "ADSL (--subjects)",
        tte: "ADTTE (--tte)",
        pathology: "pathology (--pathology)",
        procedures: "procedures (--procedures)",
        imaging: "imaging dates (--imaging)",
    };
    /// `ancilla run`'s: "ADSL ([clinical] adsl)"; its imaging dates are the run's own.
    pub const CONFIG: TableRoles = TableRoles {
        subjects: "ADSL ([clinical] adsl)",
        tte: "ADTTE ([clinical] adtte)",
        pathology: "pathology ([clinical] pathology)",
        procedures: "procedures ([clinical] procedures)",
        imaging: "imaging dates (the run's, from the de-identified headers)",
    };
}

/// `ancilla link` inputs.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    pub features: PathBuf,
    pub subjects: PathBuf,
    pub tte: PathBuf,
    pub pathology: PathBuf,
    pub out: PathBuf,
    /// Imaging dates: USUBJID and IMAGING_DATE (as in the de-identified DICOM, i.e. shifted) or
    /// IMAGING_DAY (days from randomisation), and optionally SERIES_UID (the feature table's
    /// series_uid: the date is that series'). Several rows per subject allowed.
    pub imaging: Option<PathBuf>,
    /// The de-identification key: ADSL's RANDDT and NEPHRDT are shifted by each subject's offset
    /// before they are compared with (shifted) imaging dates.
    pub key: Option<PathBuf>,
    /// Procedures (SDTM PR-like: USUBJID, PRTRT or PRDECOD, PRSTDTC or PRDT): the nephrectomy date
    /// when ADSL has no NEPHRDT column (the earliest nephrectomy of a subject).
    pub procedures: Option<PathBuf>,
    /// ADSL's ARMCD of the analysed (imaged) arm, "A" in this trial; compared without case.
    pub arm: String,
    /// Series (the feature table's de-identified series_uid) kept out of the analysis: of two
    /// reconstructions of one day, the one not to analyse ([`series_choice`]).
    pub exclude_series: Vec<String>,
    /// How messages name the tables.
    pub roles: TableRoles,
}

/// Nephrectomy dates (YYYY-MM-DD) from a procedures table, by subject.
fn nephrectomy_dates(
    t: &TextTable,
    errors: &mut Vec<String>,
) -> Result<BTreeMap<String, String>, ClinicalError> {
    let id = need(t, "USUBJID")?;
    let name = t
        .col("PRTRT")
        .or(t.col("PRDECOD"))
        .ok_or(ClinicalError::MissingColumn {
            path: t.path.clone(),
            column: "PRTRT or PRDECOD",
        })?;
    let (date, date_name) = match (t.col("PRSTDTC"), t.col("PRDT")) {
        (Some(c), _) => (c, "PRSTDTC"),
        (None, Some(c)) => (c, "PRDT"),
        _ => {
            return Err(ClinicalError::MissingColumn {
                path: t.path.clone(),
                column: "PRSTDTC or PRDT",
            })
        }
    };
    let mut out: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for (r, row) in t.rows.iter().enumerate() {
        if !row[name].to_ascii_uppercase().contains("NEPHRECTOMY") {
            continue;
        }
        // A date or date-time (ISO 8601, SAS DATE9/DATETIME): its date, kept as ISO.
        match crate::datetime::Date::parse_clinical(&row[date]) {
            Some(d) => {
                let e = out.entry(row[id].clone()).or_insert((d.days(), d.to_iso()));
                if d.days() < e.0 {
                    *e = (d.days(), d.to_iso());
                }
            }
            None => errors.push(format!(
                "{}: not a date (YYYY-MM-DD, YYYYMMDD or DDMONYYYY)",
                place(t, r, date_name)
            )),
        }
    }
    Ok(out.into_iter().map(|(k, (_, v))| (k, v)).collect())
}

/// Per subject: first and last imaging, as days on the scale of the (shifted) ADSL dates, and the
/// imaging table row of the last one.
struct Imaging {
    first: i64,
    last: i64,
    /// The table's row number (as messages give it) of the last imaging.
    last_row: usize,
}

/// The imaging table: rows without a series, per subject (first and last day); rows with one,
/// per (subject, series UID) (the latest day the table gives the series, and whether the mask
/// was on its grid: MASK_ON_GRID 1 or 0, when the table has the column).
#[derive(Default)]
struct ImagingDays {
    by_subject: BTreeMap<String, Imaging>,
    by_series: BTreeMap<(String, String), series_choice::SeriesFacts>,
}

/// Read the imaging table. Dates become days since 1970 (already shifted, as the de-identified
/// DICOM has them); IMAGING_DAY values are taken relative to the subject's randomisation day
/// (`rand`).
fn read_imaging(
    t: &TextTable,
    rand: &BTreeMap<String, Option<i64>>,
    errors: &mut Vec<String>,
) -> Result<ImagingDays, ClinicalError> {
    let id = need(t, "USUBJID")?;
    let series = t.col("SERIES_UID");
    let on_grid = t.col("MASK_ON_GRID");
    let (date, day) = (t.col("IMAGING_DATE"), t.col("IMAGING_DAY"));
    if date.is_none() && day.is_none() {
        return Err(ClinicalError::MissingColumn {
            path: t.path.clone(),
            column: "IMAGING_DATE or IMAGING_DAY",
        });
    }
    let mut out = ImagingDays::default();
    for (r, row) in t.rows.iter().enumerate() {
        let subject = &row[id];
        if subject.is_empty() {
            errors.push(format!(
                "{}: empty USUBJID (a blank row?)",
                place(t, r, "USUBJID")
            ));
            continue;
        }
        let Some(rand_day) = rand.get(subject) else {
            errors.push(format!(
                "{}: USUBJID {subject} is not in ADSL{NOT_IN_ADSL}",
                place(t, r, "USUBJID")
            ));
            continue;
        };
        let when = if let Some(c) = date.filter(|&c| !row[c].is_empty()) {
            match crate::datetime::Date::parse_clinical(&row[c]) {
                Some(d) => d.days(),
                None => {
                    errors.push(format!(
                        "{}: not a date (YYYY-MM-DD, YYYYMMDD or DDMONYYYY)",
                        place(t, r, "IMAGING_DATE")
                    ));
                    continue;
                }
            }
        } else if let Some(c) = day {
            match (whole_number(&row[c]), rand_day) {
                (Some(d), Some(r0)) => r0 + d,
                (None, _) => {
                    errors.push(format!(
                        "{}: {:?} is not a whole number of days",
                        place(t, r, "IMAGING_DAY"),
                        row[c]
                    ));
                    continue;
                }
                (Some(_), None) => {
                    errors.push(format!(
                        "{}: IMAGING_DAY needs the subject's RANDDT in ADSL",
                        place(t, r, "IMAGING_DAY")
                    ));
                    continue;
                }
            }
        } else {
            errors.push(format!("{}: no imaging date", place(t, r, "IMAGING_DATE")));
            continue;
        };
        if let Some(c) = series.filter(|&c| !row[c].trim().is_empty()) {
            let mask_on_grid = match on_grid.map(|c| row[c].trim()) {
                None | Some("") => None,
                Some("1") => Some(true),
                Some("0") => Some(false),
                Some(other) => {
                    errors.push(format!(
                        "{}: {other:?} is not 1 (the mask on the series' grid), 0 (resampled) \
                         or empty",
                        place(t, r, "MASK_ON_GRID")
                    ));
                    continue;
                }
            };
            let f = out
                .by_series
                .entry((subject.clone(), row[c].trim().to_string()))
                .or_default();
            f.day = Some(f.day.map_or(when, |d| d.max(when)));
            f.mask_on_grid = f.mask_on_grid.or(mask_on_grid);
            continue;
        }
        let e = out.by_subject.entry(subject.clone()).or_insert(Imaging {
            first: when,
            last: when,
            last_row: t.row_number(r),
        });
        e.first = e.first.min(when);
        if when >= e.last {
            e.last = when;
            e.last_row = t.row_number(r);
        }
    }
    Ok(out)
}

/// What linkage produced.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LinkSummary {
    pub subjects: usize,
    pub features: usize,
    /// What the table may be short of (a disagreeing pathology, an endpoint ADTTE lacks).
    pub warnings: Vec<String>,
    /// Inputs kept out of the table, with why (subjects of another arm with imaging).
    pub kept_out: Vec<String>,
}

fn need(t: &TextTable, column: &'static str) -> Result<usize, ClinicalError> {
    t.col(column).ok_or(ClinicalError::MissingColumn {
        path: t.path.clone(),
        column,
    })
}

/// A table's file name without its folders, for warnings: they are written into a pipeline's
/// outputs (provenance.json, the report), where a site's path, which may name a person, must not
/// be. Errors, which only the terminal shows, name the whole path.
fn file_name(path: &std::path::Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// [`place`] with the file name only (for warnings, see [`file_name`]).
fn place_in(t: &TextTable, row: usize, column: &str) -> String {
    format!(
        "{} row {} column {}",
        file_name(&t.path),
        t.row_number(row),
        column
    )
}

fn place(t: &TextTable, row: usize, column: &str) -> String {
    format!(
        "{} row {} column {}",
        t.path.display(),
        t.row_number(row),
        column
    )
}

/// The pathology table's findings carried into the analysis table when the table has them (after
/// USUBJID, VIABLE_TUMOR_PCT and the derived PCR), and whether each is a number.
pub const PATHOLOGY_COLUMNS: &[(&str, bool)] = &[
    ("HISTOLOGY", false),
    ("ISUP", true),
    ("YPT", false),
    ("YPN", false),
    ("NECROSIS_PCT", true),
    ("SARCOMATOID", false),
    ("RHABDOID", false),
    ("MARGIN", false),
];

/// The analysis table's columns before its features (DESIGN's table, every endpoint's, the
/// pathology, the imaging intervals): every other column of a table `link` writes is a feature.
pub fn is_clinical_column(name: &str) -> bool {
    matches!(
        name,
        "USUBJID"
            | "ARMCD"
            | "PCR"
            | "VIABLE_TUMOR_PCT"
            | "DAYS_RANDOMISATION_TO_IMAGING"
            | "DAYS_IMAGING_TO_NEPHRECTOMY"
    ) || PATHOLOGY_COLUMNS.iter().any(|&(c, _)| c == name)
        || endpoint_parameter(name).is_some()
}

/// The ADTTE parameter of an endpoint column (`PFS_MONTHS`, `DOR_EVENT` → `PFS`, `DOR`): an
/// upper-case PARAMCD (letters, digits, `_`) before `_MONTHS` or `_EVENT`. Feature columns are
/// lower case, so never one.
pub fn endpoint_parameter(name: &str) -> Option<&str> {
    let p = name
        .strip_suffix("_MONTHS")
        .or_else(|| name.strip_suffix("_EVENT"))?;
    is_parameter_code(p).then_some(p)
}

/// A PARAMCD usable in a column name: upper-case letters, digits and `_`, starting with a letter.
fn is_parameter_code(p: &str) -> bool {
    p.starts_with(|c: char| c.is_ascii_uppercase())
        && p.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// One subject's pathology: viable tumour % as given, the derived pathologic complete response
/// (`None`: unknown) and the other findings by column.
struct Pathology {
    viable: String,
    pcr: Option<bool>,
    extra: BTreeMap<&'static str, String>,
}

/// An analysis table column's type: text for the IDs and the pathology's coded findings; whole
/// numbers for the events, PCR, the ISUP grade and the day counts; every other column (times,
/// percentages, features) a real number.
fn column_kind(name: &str) -> tables::ColumnKind {
    use tables::ColumnKind;
    match name {
        "USUBJID" | "ARMCD" => ColumnKind::Text,
        "PCR" | "ISUP" | "DAYS_RANDOMISATION_TO_IMAGING" | "DAYS_IMAGING_TO_NEPHRECTOMY" => {
            ColumnKind::Integer
        }
        _ if name.ends_with("_EVENT") && endpoint_parameter(name).is_some() => ColumnKind::Integer,
        _ if PATHOLOGY_COLUMNS.contains(&(name, false)) => ColumnKind::Text,
        _ => ColumnKind::Real,
    }
}

/// A whole number, also written as a float with no fraction (`2.0`: pandas writes an integer
/// column with a missing value so, and so does a Parquet DOUBLE read back).
pub(crate) fn whole_number(s: &str) -> Option<i64> {
    let s = s.trim();
    s.parse::<i64>().ok().or_else(|| {
        s.parse::<f64>()
            .ok()
            .filter(|v| v.fract() == 0.0 && v.abs() < 1e15)
            .map(|v| v as i64)
    })
}

/// A percentage 0–100.
fn percentage(s: &str) -> Option<f64> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| (0.0..=100.0).contains(v))
}

/// The primary tumour category of a (y)pT stage: `Some(true)` for T0 (no evidence of primary
/// tumour), `Some(false)` for T1–T4 (with any suffix: ypT1a, pT3b), `None` when the stage says
/// nothing about it (TX: cannot be assessed; empty; anything else). The prefixes y (after
/// therapy) and p (pathological) and their case are optional (AJCC 8th edition).
fn t_stage_is_t0(stage: &str) -> Option<bool> {
    match t_category(stage)?.chars().next()? {
        '0' => Some(true),
        '1'..='4' => Some(false),
        _ => None,
    }
}

/// What follows the T of a (y)pT stage, lower case (`ypT1a` → `1a`), if it is one.
fn t_category(stage: &str) -> Option<String> {
    let s = stage.trim().to_ascii_lowercase();
    let s = s.strip_prefix('y').unwrap_or(&s);
    let s = s.strip_prefix('p').unwrap_or(s);
    s.strip_prefix('t').map(str::to_string)
}

/// Whether a YPT cell is a renal (y)pT stage (AJCC 8th edition: TX, T0, T1–T4 with their
/// letters) or empty. Anything else (a typo, a shifted column, Tis, which the kidney has no
/// category for) would say nothing about response and leave PCR silently empty.
fn is_renal_t_stage(stage: &str) -> bool {
    stage.trim().is_empty()
        || t_category(stage).is_some_and(|t| t.starts_with('x') || t_stage_is_t0(stage).is_some())
}

/// Pathologic complete response (DESIGN: no viable tumour, ypT0 or viable tumour % = 0) from the
/// (y)pT stage and the viable tumour %, whichever is known. When both are known and disagree
/// (ypT0 with viable tumour, or ypT1+ with 0 %), the response is unknown and the reason is given.
fn pathologic_complete_response(ypt: &str, viable: &str) -> (Option<bool>, Option<String>) {
    let by_stage = t_stage_is_t0(ypt);
    let by_viable = percentage(viable).map(|v| v == 0.0);
    match (by_stage, by_viable) {
        (Some(a), Some(b)) if a != b => (
            None,
            Some(format!(
                "YPT {ypt:?} and VIABLE_TUMOR_PCT {viable:?} disagree on viable tumour"
            )),
        ),
        (Some(a), _) => (Some(a), None),
        (None, b) => (b, None),
    }
}

/// Time-to-event of one subject and parameter, in months.
#[derive(Debug, Clone, Copy)]
struct Tte {
    months: f64,
    event: bool,
}

/// The wide feature column name (BRIEF / DESIGN naming).
pub fn wide_name(modality: &str, image: &str, roi: &str, feature: &str) -> String {
    let m = modality.to_ascii_lowercase();
    let primary = matches!(
        (m.as_str(), image),
        ("pt", "suvbw") | ("mr", "t2") | ("ct", "ct")
    );
    if primary {
        format!("{m}_{roi}_{feature}")
    } else {
        format!("{m}_{image}_{roi}_{feature}")
    }
    .to_ascii_lowercase()
}

/// ADTTE's records: each subject's time to event per parameter, in months (AVAL converted from
/// AVALU; CNSR 0 is an event). A record of a subject not in ADSL (`arm`), a bad value or a
/// duplicate adds its error, naming the row and column, never a date. AVAL with no unit (no
/// AVALU column, or an empty cell) is taken as months, with a warning: ADaM allows either, and
/// days read as months would be silently wrong by a factor of 30.
fn read_tte(
    adtte: &TextTable,
    arm: &BTreeMap<String, String>,
    errors: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<(String, String), Tte>, ClinicalError> {
    let (t_id, t_param, t_aval, t_cnsr) = (
        need(adtte, "USUBJID")?,
        need(adtte, "PARAMCD")?,
        need(adtte, "AVAL")?,
        need(adtte, "CNSR")?,
    );
    let t_unit = adtte.col("AVALU");
    let (t_start, t_adt) = (adtte.col("STARTDT"), adtte.col("ADT"));
    let mut tte: BTreeMap<(String, String), Tte> = BTreeMap::new();
    // Rows whose AVAL had no unit (spreadsheet row numbers), and the longest such time.
    let (mut unitless, mut longest) = (Vec::new(), 0.0f64);
    // Rows whose AVAL is a few days off their own ADT − STARTDT.
    let mut off_dates = Vec::new();
    for (r, row) in adtte.rows.iter().enumerate() {
        let id = &row[t_id];
        if id.is_empty() {
            errors.push(format!(
                "{}: empty USUBJID (a blank row?)",
                place(adtte, r, "USUBJID")
            ));
            continue;
        }
        if !arm.contains_key(id) {
            // Quoted: a cell not in ADSL may be anything (a shifted column's name or date), and
            // run's outputs leave quoted values out.
            errors.push(format!(
                "{}: USUBJID {id:?} is not in ADSL",
                place(adtte, r, "USUBJID")
            ));
            continue;
        }
        // A `;` table's day count grouped in thousands (`1.206`), read by its decimal mark.
        let aval_text = match crate::csv_text::number_text(&row[t_aval], adtte.mark) {
            Ok(t) => t,
            Err(why) => {
                errors.push(format!("{}: AVAL {why}", place(adtte, r, "AVAL")));
                continue;
            }
        };
        let aval = match aval_text.parse::<f64>() {
            Ok(v) if v >= 0.0 && v.is_finite() => v,
            Ok(v) if !v.is_finite() => {
                errors.push(format!(
                    "{}: AVAL {:?} is not a finite number",
                    place(adtte, r, "AVAL"),
                    row[t_aval]
                ));
                continue;
            }
            Ok(v) => {
                errors.push(format!("{}: AVAL {v} is negative", place(adtte, r, "AVAL")));
                continue;
            }
            Err(_) => {
                errors.push(format!(
                    "{}: AVAL {:?} is not a number",
                    place(adtte, r, "AVAL"),
                    row[t_aval]
                ));
                continue;
            }
        };
        let cnsr = match whole_number(&row[t_cnsr]) {
            Some(c) if c >= 0 => c,
            _ => {
                errors.push(format!(
                    "{}: CNSR {:?} is not a non-negative integer (0 = event, > 0 = censored)",
                    place(adtte, r, "CNSR"),
                    row[t_cnsr]
                ));
                continue;
            }
        };
        let unit = t_unit
            .map(|c| row[c].trim().to_ascii_uppercase())
            .unwrap_or_default();
        if unit.is_empty() {
            unitless.push(adtte.row_number(r));
            longest = longest.max(aval);
        }
        let months = match unit.as_str() {
            "MONTHS" | "MONTH" | "" => aval,
            "DAYS" | "DAY" => aval / DAYS_PER_MONTH,
            "WEEKS" | "WEEK" => aval * 7.0 / DAYS_PER_MONTH,
            "YEARS" | "YEAR" => aval * 12.0,
            other => {
                errors.push(format!(
                    "{}: AVALU {other:?} is not DAYS, WEEKS, MONTHS or YEARS",
                    place(adtte, r, "AVALU")
                ));
                continue;
            }
        };
        if !months.is_finite() {
            errors.push(format!(
                "{}: AVAL {} {unit} is too large to be a time",
                place(adtte, r, "AVAL"),
                row[t_aval]
            ));
            continue;
        }
        let as_given = if unit.is_empty() {
            format!("{} (no AVALU: taken as months)", row[t_aval])
        } else {
            format!("{} {unit}", row[t_aval])
        };
        // Days read as months (no AVALU, or a wrong one) gave a median PFS of 555 "months".
        if months > MAX_MONTHS {
            errors.push(format!(
                "{}: AVAL {as_given} is {:.0} months, over {} years from the start: is AVAL in days? Give AVALU (DAYS, WEEKS, MONTHS or YEARS)",
                place(adtte, r, "AVAL"),
                months,
                MAX_MONTHS / 12.0
            ));
            continue;
        }
        // AVAL against the record's own dates, where it has them (ADaM: ADT − STARTDT, + 1 by
        // some conventions): a unit 7, 30 or 365 times off is an error, a few days a warning.
        let dates = t_start.zip(t_adt).and_then(|(cs, ca)| {
            let day = |c: usize| crate::datetime::Date::parse_clinical(row[c].trim());
            Some((day(ca)?.days() - day(cs)?.days()) as f64)
        });
        if let Some(span) = dates.filter(|d| *d >= 0.0) {
            let said = months * DAYS_PER_MONTH;
            let apart = (said - span).abs();
            if apart > 2.0 && !(0.5..=2.0).contains(&(said / span.max(0.5))) {
                errors.push(format!(
                    "{}: AVAL {as_given} is {said:.0} days, but the record's ADT − STARTDT is {span:.0} days: is AVALU right?",
                    place(adtte, r, "AVAL"),
                ));
                continue;
            }
            if apart > 1.5 + 0.01 * span {
                off_dates.push(adtte.row_number(r));
            }
        }
        if tte
            .insert(
                (id.clone(), row[t_param].trim().to_ascii_uppercase()),
                Tte {
                    months,
                    event: cnsr == 0,
                },
            )
            .is_some()
        {
            errors.push(format!(
                "{}: duplicate {} record for {id}",
                place(adtte, r, "PARAMCD"),
                row[t_param]
            ));
        }
    }
    if !off_dates.is_empty() {
        warnings.push(format!(
            "{}: AVAL differs from ADT − STARTDT by more than a day and a half in {} ({}); AVAL \
             is used",
            file_name(&adtte.path),
            crate::plural::count(off_dates.len(), "row"),
            crate::plural::listed(&off_dates)
        ));
    }
    if !unitless.is_empty() {
        let which = match t_unit {
            None => "has no AVALU column".to_string(),
            Some(_) => format!(
                "has no AVALU in {} ({})",
                crate::plural::count(unitless.len(), "row"),
                crate::plural::listed(&unitless)
            ),
        };
        let days_like = if longest > 120.0 {
            format!(" The longest is {longest} \"months\": are these days?")
        } else {
            String::new()
        };
        warnings.push(format!(
            "{} {which}: AVAL is taken as months; give AVALU (DAYS, WEEKS, MONTHS or YEARS) if \
             it is not.{days_like}",
            file_name(&adtte.path)
        ));
    }
    Ok(tte)
}

/// The pathology table: viable tumour (for pCR) and the other findings the table carries, kept
/// as they are (checked where they have a range) for the analysis table. A row of a subject not
/// in ADSL (`arm`), a value out of range or a duplicate adds its error; YPT and viable tumour
/// that disagree leave PCR unknown, with a warning. Also returns the names of the findings'
/// columns the table has.
fn read_pathology(
    path: &TextTable,
    arm: &BTreeMap<String, String>,
    errors: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<(BTreeMap<String, Pathology>, Vec<&'static str>), ClinicalError> {
    let p_id = need(path, "USUBJID")?;
    let (p_viable, p_ypt) = (path.col("VIABLE_TUMOR_PCT"), path.col("YPT"));
    let findings = PATHOLOGY_COLUMNS
        .iter()
        .any(|(name, _)| path.col(name).is_some());
    if p_viable.is_none() && !findings {
        // No finding at all: another table given as the pathology (ADSL ran to the end with one
        // warning; a new user's audit).
        errors.push(format!(
            "{} has no pathology column (VIABLE_TUMOR_PCT, {}): another table given as the \
             pathology?",
            file_name(&path.path),
            PATHOLOGY_COLUMNS
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    } else if p_viable.is_none() && p_ypt.is_none() {
        warnings.push(format!(
            "{} has neither VIABLE_TUMOR_PCT nor YPT: PCR (pathologic complete response) is \
             empty for every subject",
            file_name(&path.path)
        ));
    }
    let p_extra: Vec<(&'static str, usize)> = PATHOLOGY_COLUMNS
        .iter()
        .filter_map(|&(name, _)| Some((name, path.col(name)?)))
        .collect();
    let mut patho: BTreeMap<String, Pathology> = BTreeMap::new();
    for (r, row) in path.rows.iter().enumerate() {
        let id = &row[p_id];
        if id.is_empty() {
            errors.push(format!(
                "{}: empty USUBJID (a blank row?)",
                place(path, r, "USUBJID")
            ));
            continue;
        }
        if !arm.contains_key(id) {
            errors.push(format!(
                "{}: USUBJID {id:?} is not in ADSL",
                place(path, r, "USUBJID")
            ));
            continue;
        }
        let viable = p_viable
            .map(|c| row[c].trim().to_string())
            .unwrap_or_default();
        if !viable.is_empty() && percentage(&viable).is_none() {
            errors.push(format!(
                "{}: {viable:?} is not a percentage",
                place(path, r, "VIABLE_TUMOR_PCT")
            ));
        }
        for &(name, c) in &p_extra {
            let v = row[c].trim();
            let bad = match name {
                "ISUP" => !v.is_empty() && !whole_number(v).is_some_and(|g| (1..=4).contains(&g)),
                "NECROSIS_PCT" => !v.is_empty() && percentage(v).is_none(),
                _ => false,
            };
            if bad {
                let expected = if name == "ISUP" {
                    "an ISUP grade (1, 2, 3 or 4; empty when not graded)"
                } else {
                    "a percentage"
                };
                errors.push(format!("{}: {v:?} is not {expected}", place(path, r, name)));
            }
        }
        let ypt = p_ypt.map(|c| row[c].trim().to_string()).unwrap_or_default();
        if !is_renal_t_stage(&ypt) {
            errors.push(format!(
                "{}: {ypt:?} is not a renal (y)pT stage (TX, T0, T1a–T4, with or without its y \
                 and p prefixes; empty when not staged)",
                place(path, r, "YPT")
            ));
        }
        let (pcr, conflict) = pathologic_complete_response(&ypt, &viable);
        if let Some(why) = conflict {
            warnings.push(format!(
                "{}: {id}: {why}; PCR left empty (unknown)",
                place_in(path, r, "YPT")
            ));
        }
        let findings = Pathology {
            viable,
            pcr,
            // A grade written 2.0 (pandas' float column) is 2, in the CSV as in the Parquet.
            extra: p_extra
                .iter()
                .map(|&(name, c)| {
                    let v = row[c].trim();
                    let v = match (name, whole_number(v)) {
                        ("ISUP", Some(g)) => g.to_string(),
                        _ => v.to_string(),
                    };
                    (name, v)
                })
                .collect(),
        };
        if patho.insert(id.clone(), findings).is_some() {
            errors.push(format!(
                "{}: duplicate USUBJID {id}",
                place(path, r, "USUBJID")
            ));
        }
    }
    Ok((patho, p_extra.iter().map(|&(name, _)| name).collect()))
}

/// The analysed arm's part of the long feature table: values by subject, image and series.
struct LongFeatures {
    by_series: BTreeMap<String, series_choice::SubjectSeries>,
    /// The wide column names, each with the long table's fields it was made from.
    names: BTreeMap<String, codebook::FeatureColumn>,
    /// Subjects of another arm that have features, with their arm.
    other_arm_imaged: BTreeSet<(String, String)>,
    /// Subjects not in ADSL: their first row and how many rows (hundreds each), in row order.
    unknown: Vec<(String, (usize, usize))>,
}

/// Read the long feature table (the largest input: streamed row by row, never held whole) into
/// the analysed arm's values per subject, image and series; a feature given twice for one series
/// keeps its first value, with a warning. A value is a finite number or missing (empty, NA,
/// NaN); anything else (text, an infinity) is an error naming its row, which would otherwise
/// make its whole column text and drop it from the analysis.
fn read_features(
    features: &std::path::Path,
    arm: &BTreeMap<String, String>,
    arm_code: &str,
    errors: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<LongFeatures, ClinicalError> {
    let cols = [
        "subject_id",
        "modality",
        "image",
        "roi",
        "feature",
        "#value",
        // Not in a feature table written by other tools: each subject's rows are one series.
        "?series_uid",
        "?unit",
    ];
    let mut by_series: BTreeMap<String, series_choice::SubjectSeries> = BTreeMap::new();
    let mut names: BTreeMap<String, codebook::FeatureColumn> = BTreeMap::new();
    let mut other_arm_imaged: BTreeSet<(String, String)> = BTreeSet::new();
    // A subject not in ADSL: its first row and how many (hundreds of rows each).
    let mut unknown: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    TextTable::for_each_row(features, &cols, |r, row| {
        let id = row[0];
        match arm.get(id).map(String::as_str) {
            None => unknown.entry(id.to_string()).or_insert((r, 0)).1 += 1,
            Some(a) if a == arm_code => {
                let name = wide_name(row[1], row[2], row[3], row[4]);
                let cell = by_series
                    .entry(id.to_string())
                    .or_default()
                    .entry((row[1].to_string(), row[2].to_string()))
                    .or_default()
                    .entry(row[6].trim().to_string())
                    .or_default();
                let value = match feature_value(row[5]) {
                    Ok(v) => v,
                    Err(()) => {
                        errors.push(format!(
                            "{} row {} column value: {:?} ({id} {name}) is not a finite number \
                             (empty, NA or NaN for a missing value)",
                            features.display(),
                            r,
                            row[5]
                        ));
                        String::new()
                    }
                };
                if cell.contains_key(&name) {
                    warnings.push(format!(
                        "{id}: {name} given twice for one series; the first value is kept"
                    ));
                } else {
                    cell.insert(name.clone(), value);
                }
                names
                    .entry(name)
                    .or_insert_with(|| codebook::FeatureColumn {
                        modality: row[1].to_ascii_lowercase(),
                        image: row[2].to_string(),
                        roi: row[3].to_string(),
                        feature: row[4].to_string(),
                        unit: row[7].to_string(),
                    });
            }
            Some(other) => {
                other_arm_imaged.insert((id.to_string(), other.to_string()));
            }
        }
    })
    .map_err(|e| match e {
        tables::StreamError::Table(t) => ClinicalError::from(t),
        tables::StreamError::MissingColumn(column) => ClinicalError::MissingColumn {
            path: features.to_path_buf(),
            column,
        },
    })?;
    let mut unknown: Vec<(String, (usize, usize))> = unknown.into_iter().collect();
    unknown.sort_by_key(|(_, (first, _))| *first);
    Ok(LongFeatures {
        by_series,
        names,
        other_arm_imaged,
        unknown,
    })
}

/// A feature table's value as the analysis table writes it: a finite number in full
/// ([`crate::digits::shortest`]: a long run of zeros is misread by pandas), a missing
/// value (empty, NA, NaN: pandas and polars write NaN) as an empty cell; `Err` for anything else.
/// The cell is read by the rule `analyze` reads the analysis table by
/// ([`crate::stats::analyze::cell_number`]), so what link writes, analyze takes.
fn feature_value(cell: &str) -> Result<String, ()> {
    match crate::stats::analyze::cell_number(cell) {
        Some(None) => Ok(String::new()),
        Some(Some(v)) => Ok(crate::digits::shortest(v)),
        None => Err(()),
    }
}

/// Build the analysis table and write it as CSV and Parquet.
pub fn link_tables(opts: &LinkOptions) -> Result<LinkSummary, ClinicalError> {
    // What link writes (the table, its Parquet, series, codebook and warnings beside it) never
    // lands on what it reads (`--out` given the ADSL's path overwrote it).
    let out = &opts.out;
    let written = [
        out.clone(),
        out.with_extension("parquet"),
        series_used_path(out),
        codebook::path_beside(out),
        warnings_path(out),
    ];
    let written: Vec<&std::path::Path> = written.iter().map(PathBuf::as_path).collect();
    let mut inputs = vec![
        ("the feature table (--features)", opts.features.as_path()),
        ("ADSL (--subjects)", opts.subjects.as_path()),
        ("ADTTE (--tte)", opts.tte.as_path()),
        (
            "the pathology table (--pathology)",
            opts.pathology.as_path(),
        ),
    ];
    inputs.extend(
        opts.imaging
            .as_deref()
            .map(|p| ("the imaging table (--imaging)", p)),
    );
    inputs.extend(
        opts.procedures
            .as_deref()
            .map(|p| ("the procedures table (--procedures)", p)),
    );
    inputs.extend(opts.key.as_deref().map(|p| ("the study key (--key)", p)));
    if let Some(why) = crate::folders::overwritten_input(&written, &inputs) {
        return Err(ClinicalError::Usage(why));
    }
    let read = |path: &std::path::Path, what: &'static str| {
        TextTable::read(path).map_err(|source| ClinicalError::Input { what, source })
    };
    let roles = opts.roles;
    let adsl = read(&opts.subjects, roles.subjects)?;
    let adtte = read(&opts.tte, roles.tte)?;
    let path = read(&opts.pathology, roles.pathology)?;
    let mut errors = Vec::new();
    let mut warnings = Vec::new();

    // ADSL.
    let (s_id, s_arm) = (need(&adsl, "USUBJID")?, need(&adsl, "ARMCD")?);
    let mut arm: BTreeMap<String, String> = BTreeMap::new();
    for (r, row) in adsl.rows.iter().enumerate() {
        let id = row[s_id].clone();
        if id.is_empty() {
            errors.push(format!("{}: empty USUBJID", place(&adsl, r, "USUBJID")));
        } else if arm
            .insert(id.clone(), row[s_arm].trim().to_ascii_uppercase())
            .is_some()
        {
            errors.push(format!(
                "{}: duplicate USUBJID {id:?}",
                place(&adsl, r, "USUBJID")
            ));
        }
    }

    // ADSL dates (on the de-identified scale when a key is given: the same per-subject shift as
    // the DICOM dates). Never printed: errors name rows, columns and day differences only.
    let key = match &opts.key {
        Some(k) => Some(crate::deid::read_key(k).map_err(|e| ClinicalError::Usage(e.to_string()))?),
        None => None,
    };
    // The nephrectomy date from the procedures table when ADSL has no NEPHRDT.
    let procedures = match (&opts.procedures, adsl.col("NEPHRDT")) {
        (Some(p), None) => Some(nephrectomy_dates(&read(p, roles.procedures)?, &mut errors)?),
        _ => None,
    };
    let mut adsl_day = |column: &'static str| -> BTreeMap<String, Option<i64>> {
        let mut m = BTreeMap::new();
        let c = adsl.col(column);
        for (r, row) in adsl.rows.iter().enumerate() {
            let from_procedures = (column == "NEPHRDT")
                .then(|| procedures.as_ref()?.get(&row[s_id]).map(String::as_str))
                .flatten();
            let value = c
                .map(|c| row[c].trim())
                .or(from_procedures)
                .unwrap_or_default();
            let day = if value.is_empty() {
                None
            } else {
                match crate::datetime::Date::parse_clinical(value) {
                    Some(d) => Some(
                        d.days() + key.as_deref().map_or(0, |k| date_shift_days(k, &row[s_id])),
                    ),
                    None => {
                        errors.push(format!(
                            "{}: not a date (YYYY-MM-DD, YYYYMMDD or DDMONYYYY)",
                            place(&adsl, r, column)
                        ));
                        None
                    }
                }
            };
            m.insert(row[s_id].clone(), day);
        }
        m
    };
    // Read (and so checked) also when no interval needs them.
    let (randdt, nephrdt) = (adsl_day("RANDDT"), adsl_day("NEPHRDT"));
    let imaging = match &opts.imaging {
        Some(p) => {
            let t = read(p, roles.imaging)?;
            // De-identified dates met with real ADSL dates: intervals off by the subject's shift
            // (years), with no error. The key shifts ADSL alike.
            if key.is_none()
                && t.col("IMAGING_DATE")
                    .is_some_and(|c| t.rows.iter().any(|r| !r[c].trim().is_empty()))
            {
                return Err(ClinicalError::Usage(format!(
                    "{}: IMAGING_DATE holds de-identified (shifted) dates: give --key, the \
                     de-identification key, so that ADSL's dates are shifted the same way (`ancilla \
                     run` does), or give IMAGING_DAY (days from randomisation) instead",
                    p.display()
                )));
            }
            Some(read_imaging(&t, &randdt, &mut errors)?)
        }
        None => None,
    };
    // Imaging the table does not tie to a series cannot be set aside: after the nephrectomy, it
    // is an error (a wrong date or key). A series' imaging is weighed by `series_choice`.
    if let (Some(im), Some(p)) = (&imaging, &opts.imaging) {
        for (id, i) in &im.by_subject {
            if let Some(Some(n)) = nephrdt.get(id) {
                if i.last > *n {
                    errors.push(format!(
                        "{} row {} column IMAGING_DATE: imaging of {id} is {} after the nephrectomy (NEPHRDT); pre-operative imaging is expected",
                        p.display(),
                        i.last_row,
                        crate::plural::count((i.last - n) as usize, "day")
                    ));
                }
            }
        }
    }

    // ADTTE, then the pathology.
    let tte = read_tte(&adtte, &arm, &mut errors, &mut warnings)?;
    // The pathology findings beyond viable tumour that the table has, in DESIGN's order.
    let (patho, p_extra) = read_pathology(&path, &arm, &mut errors, &mut warnings)?;

    // The analysed arm must be in ADSL: a trial coding its arms otherwise ("DNX"/"CONT") would
    // otherwise keep every subject out as of another arm.
    let arm_code = opts.arm.trim().to_ascii_uppercase();
    if !arm.is_empty() && !arm.values().any(|a| *a == arm_code) {
        let codes: BTreeSet<&str> = arm.values().map(String::as_str).collect();
        return Err(ClinicalError::Usage(format!(
            "{}: no subject has ARMCD {}, the analysed arm (its codes: {}); name the imaged \
             arm with --arm CODE, or [clinical] arm = \"CODE\" in a pipeline",
            adsl.path.display(),
            code_text(&arm_code, usize::MAX),
            codes
                .iter()
                .map(|c| arm_code_text(c, &arm))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }

    // Features (long) → per subject, image and series.
    let LongFeatures {
        by_series,
        names,
        other_arm_imaged,
        unknown,
    } = read_features(&opts.features, &arm, &arm_code, &mut errors, &mut warnings)?;
    let mut kept_out = Vec::new();
    for (id, (first, rows)) in unknown {
        errors.push(format!(
            "{} row {first} column subject_id: subject {id:?} is not in ADSL ({}){NOT_IN_ADSL}",
            opts.features.display(),
            crate::plural::count(rows, "row")
        ));
    }
    for (id, other) in &other_arm_imaged {
        let who = if other.is_empty() {
            "subject with imaging and no ARMCD".to_string()
        } else {
            format!("arm {} subject with imaging", arm_code_text(other, &arm))
        };
        kept_out.push(format!(
            "{id}: {who}, kept out of the analysis (the ancillary study is arm {arm_code})"
        ));
    }
    for id in by_series.keys() {
        if !patho.contains_key(id) {
            errors.push(format!(
                "{}: no pathology for imaged arm-{arm_code} subject {id}",
                path.path.display()
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ClinicalError::Invalid(errors));
    }

    // One series per subject and image (`series_choice`): its features make the subject's
    // columns, its imaging day the intervals.
    let excluded: BTreeSet<String> = opts
        .exclude_series
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    // A mistyped UID would keep nothing out without a word, and leave the tie it was meant to
    // settle empty: said.
    let known: BTreeSet<&String> = by_series
        .values()
        .flat_map(|images| images.values().flat_map(|series| series.keys()))
        .collect();
    for uid in excluded.iter().filter(|u| !known.contains(u)) {
        // Only a de-identified UID is repeated: another may be a site's original, PHI in the
        // warnings file, the report and provenance.
        let uid = if uid.starts_with("2.25.") {
            uid.as_str()
        } else {
            "(a UID not of the de-identified form 2.25.…, not shown: perhaps a site's original)"
        };
        warnings.push(format!(
            "exclude_series {uid} is no series of the analysed arm in {} (a typo?): nothing \
             kept out for it",
            opts.features.file_name().map_or_else(
                || opts.features.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            )
        ));
    }
    let mut wide: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    // Per subject: the first and last imaging day of the series used.
    let mut used_days: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    // Which series each subject's columns of an image come from (provenance of the choice).
    let mut used_rows: Vec<Vec<String>> = Vec::new();
    for (id, images) in by_series {
        let facts = |s: &str| {
            imaging
                .as_ref()
                .and_then(|im| im.by_series.get(&(id.clone(), s.to_string())))
                .copied()
                .unwrap_or_default()
        };
        let nephrectomy = nephrdt.get(&id).copied().flatten();
        for ((modality, image), mut series) in images {
            let candidates: BTreeSet<String> = series.keys().cloned().collect();
            let label = format!("{modality} {image}");
            let choice =
                series_choice::choose(&id, &label, &candidates, &facts, nephrectomy, &excluded);
            kept_out.extend(choice.kept_out);
            warnings.extend(choice.warnings);
            let Some(used) = choice.used else { continue };
            let day = facts(&used).day;
            if let Some(d) = day {
                let e = used_days.entry(id.clone()).or_insert((d, d));
                *e = (e.0.min(d), e.1.max(d));
            }
            let from_randomisation = day.zip(randdt.get(&id).copied().flatten());
            used_rows.push(vec![
                id.clone(),
                modality.clone(),
                image.clone(),
                used.clone(),
                from_randomisation.map_or(String::new(), |(d, r0)| (d - r0).to_string()),
            ]);
            if let Some(values) = series.remove(&used) {
                wide.entry(id.clone()).or_default().extend(values);
            }
        }
    }

    // The analysed arm's gaps: said, never the dates themselves (the shift cancels in a difference).
    let in_arm: Vec<&str> = arm
        .iter()
        .filter(|(_, a)| **a == arm_code)
        .map(|(id, _)| id.as_str())
        .collect();
    // A subject of the arm with no imaging features is in the table (its endpoints count in the
    // arm's curve) but in no feature's statistics: named, so that a monitor can query it (the
    // report counted them, naming none; link said "0 warnings").
    let without_imaging: Vec<&str> = in_arm
        .iter()
        .copied()
        .filter(|id| wide.get(*id).is_none_or(|f| f.is_empty()))
        .collect();
    if !without_imaging.is_empty() && !wide.is_empty() {
        warnings.push(format!(
            "{} of arm {arm_code} without imaging features in {} (no series measured, or every \
             one kept out): {}; in the table for the endpoints, in no feature's statistics",
            crate::plural::count(without_imaging.len(), "subject"),
            file_name(&opts.features),
            without_imaging.join(", ")
        ));
    }
    for &id in &in_arm {
        if let (Some(Some(r0)), Some(Some(n))) = (randdt.get(id), nephrdt.get(id)) {
            if n < r0 {
                warnings.push(format!(
                    "{}: {id}: the nephrectomy (NEPHRDT) is {} before randomisation (RANDDT)",
                    file_name(&adsl.path),
                    crate::plural::count((r0 - n) as usize, "day")
                ));
            }
        }
    }
    if imaging.is_some() {
        for (column, days, interval) in [
            ("RANDDT", &randdt, "DAYS_RANDOMISATION_TO_IMAGING"),
            ("NEPHRDT", &nephrdt, "DAYS_IMAGING_TO_NEPHRECTOMY"),
        ] {
            if adsl.col(column).is_none() && (column == "RANDDT" || procedures.is_none()) {
                let unchecked = if column == "NEPHRDT" {
                    " and imaging is not checked against the nephrectomy (give NEPHRDT or \
                     --procedures)"
                } else {
                    ""
                };
                warnings.push(format!(
                    "{} has no {column} column: {interval} is empty{unchecked}",
                    file_name(&adsl.path)
                ));
                continue;
            }
            let missing: Vec<&str> = in_arm
                .iter()
                .copied()
                .filter(|id| wide.contains_key(*id) && days.get(*id).copied().flatten().is_none())
                .collect();
            if !missing.is_empty() {
                let column = if column == "NEPHRDT" && procedures.is_some() {
                    "NEPHRDT nor nephrectomy among the procedures"
                } else {
                    column
                };
                warnings.push(format!(
                    "{}: no {column} for {} imaged in arm {arm_code} ({}): {interval} is empty",
                    file_name(&adsl.path),
                    crate::plural::count(missing.len(), "subject"),
                    crate::plural::listed(&missing)
                ));
            }
        }
    }
    for p in ["PFS", "OS"] {
        let missing: Vec<&str> = in_arm
            .iter()
            .copied()
            .filter(|id| !tte.contains_key(&(id.to_string(), p.to_string())))
            .collect();
        if !missing.is_empty() && tte.keys().any(|(_, q)| q == p) {
            warnings.push(format!(
                "{}: no {p} record for {} of arm {arm_code} ({}): {p}_MONTHS and {p}_EVENT are \
                 empty",
                file_name(&adtte.path),
                crate::plural::count(missing.len(), "subject"),
                crate::plural::listed(&missing)
            ));
        }
    }

    // The endpoints against each other and against the imaging and the surgery, as ADaM checks
    // do: PFS longer than OS, imaging or nephrectomy after death, imaging after the PFS event
    // (features measured after the event enter a Cox model timed from randomisation: a
    // guarantee-time bias). Day counts from randomisation, never dates; a day's slack for
    // months rounded to two decimals.
    for &id in &in_arm {
        let get = |p: &str| tte.get(&(id.to_string(), p.to_string()));
        let (pfs, os) = (get("PFS"), get("OS"));
        let day_of = |t: &Tte| t.months * DAYS_PER_MONTH;
        let ended = |t: Option<&Tte>| t.filter(|t| t.event).map(day_of);
        let adtte_name = file_name(&adtte.path);
        if let (Some(pfs), Some(os)) = (pfs, os) {
            if day_of(pfs) > day_of(os) + 1.0 {
                warnings.push(format!(
                    "{adtte_name}: {id}: PFS ({:.2} months) is longer than OS ({:.2} months), \
                     though death ends PFS at the latest",
                    pfs.months, os.months
                ));
            }
        }
        let Some(r0) = randdt.get(id).copied().flatten() else {
            continue;
        };
        // Imaging or surgery years away from randomisation: a date in the wrong century or
        // column (RANDDT 0001-01-01 passed without a word; 9999-12-31 was said, as a
        // nephrectomy before it). By day counts, never dates.
        let far = [
            // The first or the last day of the series used, whichever is further.
            (
                "imaging analysed",
                used_days
                    .get(id)
                    .map(|&(first, last)| if r0 - first > last - r0 { first } else { last }),
            ),
            // One before randomisation is said above.
            (
                "nephrectomy (NEPHRDT)",
                nephrdt.get(id).copied().flatten().filter(|n| *n >= r0),
            ),
        ];
        for (what, day) in far {
            if let Some(day) = day.filter(|d| (d - r0).abs() > FAR_FROM_RANDOMISATION_DAYS) {
                warnings.push(format!(
                    "{}: {id}: {what} on day {} from randomisation (RANDDT): more than five \
                     years from it; is one of the dates wrong?",
                    file_name(&adsl.path),
                    day - r0
                ));
            }
        }
        if let Some(&(_, last)) = used_days.get(id) {
            let imaged = (last - r0) as f64;
            let after = |what: &str, day: f64| {
                format!(
                    "{id}: imaging analysed on day {imaged:.0} from randomisation, after {what} \
                     on day {day:.0} ({adtte_name})"
                )
            };
            if let Some(death) = ended(os).filter(|d| imaged > d + 1.0) {
                warnings.push(after("death (OS event)", death));
            } else if let Some(event) = ended(pfs).filter(|d| imaged > d + 1.0) {
                warnings.push(format!(
                    "{}: its features describe the disease after the event, in a model of the \
                     time to it",
                    after("the PFS event", event)
                ));
            }
        }
        if let (Some(Some(n)), Some(death)) = (nephrdt.get(id), ended(os)) {
            let operated = (n - r0) as f64;
            if operated > death + 1.0 {
                warnings.push(format!(
                    "{id}: nephrectomy (NEPHRDT) on day {operated:.0} from randomisation, after \
                     death (OS event) on day {death:.0} ({adtte_name})"
                ));
            }
        }
    }

    // The endpoints: PFS and OS (DESIGN's columns, also when ADTTE lacks them), then every other
    // parameter ADTTE has (PFSINV, DOR, ...), each as <PARAMCD>_MONTHS and <PARAMCD>_EVENT.
    let params: BTreeSet<&str> = tte.keys().map(|(_, p)| p.as_str()).collect();
    let mut endpoints: Vec<&str> = vec!["PFS", "OS"];
    for &p in &params {
        if endpoints.contains(&p) {
            continue;
        }
        if is_parameter_code(p) {
            endpoints.push(p);
        } else {
            warnings.push(format!(
                "{}: PARAMCD {p:?} cannot name a column (upper-case letters, digits, _): its \
                 records are left out",
                file_name(&adtte.path)
            ));
        }
    }
    for p in ["PFS", "OS"] {
        if !params.contains(p) {
            let others: Vec<String> = params.iter().map(|p| format!("{p:?}")).collect();
            warnings.push(format!(
                "{}: no PARAMCD {p:?} record, so {p}_MONTHS and {p}_EVENT are empty (ADTTE's \
                 parameters: {}; each has its own columns, e.g. analyze --time X_MONTHS --event \
                 X_EVENT, or [analysis] time and event)",
                file_name(&adtte.path),
                if others.is_empty() {
                    "none".to_string()
                } else {
                    others.join(", ")
                }
            ));
        }
    }

    // The analysis table.
    let mut header: Vec<String> = vec!["USUBJID".into(), "ARMCD".into()];
    for p in &endpoints {
        header.push(format!("{p}_MONTHS"));
        header.push(format!("{p}_EVENT"));
    }
    header.extend(["PCR".to_string(), "VIABLE_TUMOR_PCT".to_string()]);
    header.extend(p_extra.iter().map(|name| name.to_string()));
    if imaging.is_some() {
        header.push("DAYS_RANDOMISATION_TO_IMAGING".into());
        header.push("DAYS_IMAGING_TO_NEPHRECTOMY".into());
    }
    header.extend(names.keys().cloned());
    let mut rows = Vec::new();
    for (id, a) in arm.iter().filter(|(_, a)| **a == arm_code) {
        let t = |p: &str| tte.get(&(id.clone(), p.to_string())).copied();
        let num = |x: Option<Tte>, f: fn(Tte) -> String| x.map(f).unwrap_or_default();
        let p = patho.get(id);
        let mut row = vec![id.clone(), a.clone()];
        for e in &endpoints {
            row.push(num(t(e), |x| crate::digits::shortest(x.months)));
            row.push(num(t(e), |x| u8::from(x.event).to_string()));
        }
        row.push(
            p.and_then(|p| p.pcr)
                .map_or(String::new(), |c| u8::from(c).to_string()),
        );
        row.push(p.map(|p| p.viable.clone()).unwrap_or_default());
        row.extend(p_extra.iter().map(|name| {
            p.and_then(|p| p.extra.get(name))
                .cloned()
                .unwrap_or_default()
        }));
        if let Some(im) = &imaging {
            // The imaging analysed: the series used, and rows the table ties to no series.
            let span = [
                used_days.get(id).copied(),
                im.by_subject.get(id).map(|i| (i.first, i.last)),
            ]
            .into_iter()
            .flatten()
            .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
            let r0 = randdt.get(id).copied().flatten();
            let n = nephrdt.get(id).copied().flatten();
            row.push(match (span, r0) {
                (Some((first, _)), Some(r0)) => (first - r0).to_string(),
                _ => String::new(),
            });
            row.push(match (span, n) {
                (Some((_, last)), Some(n)) => (n - last).to_string(),
                _ => String::new(),
            });
        }
        let f = wide.get(id);
        row.extend(
            names
                .keys()
                .map(|n| f.and_then(|m| m.get(n)).cloned().unwrap_or_default()),
        );
        rows.push(row);
    }
    let kinds: Vec<tables::ColumnKind> = header.iter().map(|h| column_kind(h)).collect();
    let (csv_path, pq_path) = table_paths(&opts.out);
    tables::write_csv(&csv_path, &header, &rows).map_err(ClinicalError::Write)?;
    tables::write_parquet(&pq_path, &header, &rows, &kinds).map_err(ClinicalError::Write)?;
    let used_header: Vec<String> = [
        "USUBJID",
        "MODALITY",
        "IMAGE",
        "SERIES_UID",
        "DAYS_RANDOMISATION_TO_IMAGING",
    ]
    .map(String::from)
    .to_vec();
    tables::write_csv(&series_used_path(&csv_path), &used_header, &used_rows)
        .map_err(ClinicalError::Write)?;
    codebook::write(&csv_path, &header, &names).map_err(ClinicalError::Write)?;
    Ok(LinkSummary {
        subjects: rows.len(),
        features: names.len(),
        warnings,
        kept_out,
    })
}

/// The analysis table's CSV and Parquet files from `--out`: FILE.csv and FILE.parquet from
/// `FILE.csv`, `FILE.parquet` or a bare `FILE` (which had written its CSV with no extension);
/// `table.v2` gives table.v2.csv.
pub fn table_paths(out: &std::path::Path) -> (PathBuf, PathBuf) {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "parquet" => (out.with_extension("csv"), out.to_path_buf()),
        "csv" => (out.to_path_buf(), out.with_extension("parquet")),
        _ => {
            let with = |e: &str| {
                let mut name = out.as_os_str().to_os_string();
                name.push(e);
                PathBuf::from(name)
            };
            (with(".csv"), with(".parquet"))
        }
    }
}

/// Beside the analysis table `TABLE.csv`, `TABLE.series.csv`: for each subject and image (modality
/// and kind) the series its columns come from ([`series_choice`]), and its day from randomisation
/// when known.
pub fn series_used_path(table_csv: &std::path::Path) -> PathBuf {
    table_csv.with_extension("series.csv")
}

/// Beside the analysis table `TABLE.csv`, `TABLE.warnings.json`: what `link` kept out and
/// warned of (`analyze` of the table carries them into stats.json and summary.md).
pub fn warnings_path(table_csv: &std::path::Path) -> PathBuf {
    table_csv.with_extension("warnings.json")
}

/// `link`'s kept-out subjects and warnings as the file beside the table holds them (and a
/// pipeline's `link-warnings.json`): each with its stage and reason, a warning marked; the cells
/// a reason quotes left out (a shifted column puts a name or a date where a code was expected).
pub fn warnings_json(kept_out: &[String], warnings: &[String]) -> serde_json::Value {
    use serde_json::json;
    let reason = |w: &String| crate::redact::quoted_values(w);
    serde_json::Value::Array(
        kept_out
            .iter()
            .map(|w| json!({"stage": "link", "reason": reason(w)}))
            .chain(
                warnings
                    .iter()
                    .map(|w| json!({"stage": "link", "reason": reason(w), "warning": true})),
            )
            .collect(),
    )
}

/// `ancilla link`.
pub fn link(opts: &LinkOptions) -> Result<(), ClinicalError> {
    let s = link_tables(opts)?;
    for w in s.kept_out.iter().chain(&s.warnings) {
        crate::say!("link: {w}");
    }
    // Not on the terminal only: a batch user reads the files (days read as months were said on
    // stderr alone, and the summary gave a median of 555 "months").
    let path = warnings_path(&table_paths(&opts.out).0);
    crate::atomic::write_json(&path, &warnings_json(&s.kept_out, &s.warnings)).map_err(|e| {
        ClinicalError::Write(TableError {
            path: path.clone(),
            reason: e.to_string(),
        })
    })?;
    crate::say!(
        "link: {}, {}, {} kept out, {} → {}",
        crate::plural::count(
            s.subjects,
            &format!("arm-{} subject", opts.arm.trim().to_ascii_uppercase())
        ),
        crate::plural::count(s.features, "feature column"),
        s.kept_out.len(),
        crate::plural::count(s.warnings.len(), "warning"),
        table_paths(&opts.out).0.display()
    );
    Ok(())
}

/// The date shift of de-identification for a subject (for clinical dates compared with imaging).
pub fn date_shift_days(key: &[u8], usubjid: &str) -> i64 {
    crate::deid::date_offset_days(key, usubjid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t0_from_any_spelling_of_the_stage() {
        for t0 in ["ypT0", "pT0", "T0", " YPT0 ", "ypt0"] {
            assert_eq!(t_stage_is_t0(t0), Some(true), "{t0}");
        }
        for t in ["ypT1a", "pT3b", "T4", "ypT2"] {
            assert_eq!(t_stage_is_t0(t), Some(false), "{t}");
        }
        for unknown in ["ypTX", "pTx", "", "N0", "yp", "ypTis?"] {
            assert_eq!(t_stage_is_t0(unknown), None, "{unknown:?}");
        }
    }

    #[test]
    fn complete_response_from_whichever_is_known() {
        let pcr = |t: &str, v: &str| pathologic_complete_response(t, v);
        assert_eq!(pcr("ypT0", ""), (Some(true), None));
        assert_eq!(pcr("", "0"), (Some(true), None));
        assert_eq!(pcr("ypTX", "0.0"), (Some(true), None));
        assert_eq!(pcr("ypT1a", ""), (Some(false), None));
        assert_eq!(pcr("ypTX", "5"), (Some(false), None));
        assert_eq!(pcr("ypT0", "0"), (Some(true), None));
        assert_eq!(pcr("", ""), (None, None));
        assert_eq!(pcr("ypTX", "n/a"), (None, None));
        let (p, why) = pcr("ypT2a", "0");
        assert_eq!(p, None);
        assert!(why.is_some_and(|w| w.contains("disagree")));
    }
}
