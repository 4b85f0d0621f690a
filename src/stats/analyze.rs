//! `ancilla analyze TABLE --out DIR`: reads the analysis table (CSV or Parquet, columns per docs/DESIGN.md
//! "Table and statistics contracts"), runs KM of the endpoint and, per feature (every other
//! numeric column), Cox, median-split log-rank, Spearman with VIABLE_TUMOR_PCT and ROC for PCR,
//! then Benjamini–Hochberg over the Cox Wald p-values. Writes DIR/stats.json and DIR/summary.md
//! atomically. A result that cannot be computed is null and the feature's "note" says why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{cox, km, logrank, multiple, roc, spearman};

/// Errors of the analysis.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("cannot read analysis table {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("analysis table {path} has no column {column:?} ({available})")]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: String,
    },
    #[error("analysis table {path}, row {row}, column {column}: {reason}")]
    BadValue {
        path: PathBuf,
        row: usize,
        column: String,
        reason: String,
    },
    #[error("analysis table {path}: no subject with {time} and {event}")]
    NoSubjects {
        path: PathBuf,
        time: String,
        event: String,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
}

impl crate::ExitCode for StatsError {
    fn exit_code(&self) -> u8 {
        match self {
            StatsError::Unreadable { .. }
            | StatsError::MissingColumn { .. }
            | StatsError::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// `ancilla analyze` inputs.
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    pub table: PathBuf,
    pub out: PathBuf,
    pub time: String,
    /// Empty: the time's endpoint's (`event_of`).
    pub event: String,
    /// Kaplan–Meier pointwise interval: log(−log) (default, as lifelines) or log.
    pub ci: km::CiMethod,
    /// Configured log-rank cut-offs by feature column (in addition to the median split).
    pub cutoffs: BTreeMap<String, f64>,
}

/// What [`analyze`] wrote (`stats.json`) and the table it read, for a report of it.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub stats: Value,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Parse `NAME=VALUE` cut-offs (`--cutoff pt_tumor_stat_max=10`).
pub fn parse_cutoffs(specs: &[String]) -> Result<BTreeMap<String, f64>, StatsError> {
    let mut m = BTreeMap::new();
    for s in specs {
        let parsed = s
            .split_once('=')
            .and_then(|(k, v)| Some((k.trim(), v.trim().parse::<f64>().ok()?)))
            .filter(|(k, v)| !k.is_empty() && v.is_finite());
        match parsed {
            Some((k, v)) => {
                if let Some(before) = m.insert(k.to_string(), v) {
                    return Err(StatsError::Usage(format!(
                        "--cutoff gives {k} twice ({before} and {v}): one cut-off per feature"
                    )));
                }
            }
            None => {
                return Err(StatsError::Usage(format!(
                    "--cutoff expects FEATURE=NUMBER (e.g. pt_tumor_stat_max=10), found {s:?}"
                )))
            }
        }
    }
    Ok(m)
}

/// Columns that are never features: the ones `link` writes before its features
/// (`clinical::is_clinical_column`) and ADSL's other identifiers.
fn reserved(name: &str) -> bool {
    crate::clinical::is_clinical_column(name) || matches!(name, "SUBJID" | "ARM" | "SITEID")
}
const RATE_MONTHS: [f64; 2] = [12.0, 24.0];
const ALPHA: f64 = 0.05;

/// What a table has instead of a missing column: the closest name, then every column when they
/// are few, else the clinical ones (endpoints, pathology) and how many others — an analysis table
/// has hundreds of feature columns, which would bury the message.
fn columns_hint(header: &[String], missing: &str) -> String {
    let closest = header
        .iter()
        .map(|h| (strsim::levenshtein(missing, h), h))
        .min()
        .map(|(_, h)| format!("the closest is {h:?}; "))
        .unwrap_or_default();
    const LISTED: usize = 20;
    if header.len() <= LISTED {
        return format!("{closest}columns: {}", header.join(", "));
    }
    let clinical: Vec<&str> = header
        .iter()
        .map(String::as_str)
        .filter(|h| reserved(h))
        .collect();
    format!(
        "{closest}columns: {} and {} feature columns",
        clinical.join(", "),
        header.len() - clinical.len()
    )
}

/// The table as text cells.
struct Table {
    path: PathBuf,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// The rows' numbers as messages give them (`TextTable::row_number`).
    numbers: Vec<usize>,
}

impl Table {
    /// CSV, or Parquet when the name ends in `.parquet`/`.pq`, through the shared reader of
    /// `clinical::tables`, which refuses SAS files and a column named twice (which one is the
    /// feature would be a guess).
    fn read(path: &Path) -> Result<Self, StatsError> {
        let t =
            crate::clinical::tables::TextTable::read(path).map_err(|e| StatsError::Unreadable {
                path: path.to_path_buf(),
                reason: e.reason,
            })?;
        Ok(Table {
            numbers: (0..t.rows.len()).map(|r| t.row_number(r)).collect(),
            path: t.path,
            header: t.header,
            rows: t.rows,
        })
    }

    /// Row `r`'s number as messages give it.
    fn row(&self, r: usize) -> usize {
        self.numbers.get(r).copied().unwrap_or(r + 2)
    }

    fn index(&self, column: &str) -> Result<usize, StatsError> {
        self.header
            .iter()
            .position(|h| h == column)
            .ok_or_else(|| StatsError::MissingColumn {
                path: self.path.clone(),
                column: column.to_string(),
                available: columns_hint(&self.header, column),
            })
    }

    /// The column as numbers (`None` for a missing value, [`cell_number`]); `Err(row)` at the
    /// first cell that is not a number.
    fn numeric(&self, col: usize) -> Result<Vec<Option<f64>>, usize> {
        self.rows
            .iter()
            .enumerate()
            .map(|(r, row)| cell_number(row.get(col).map(String::as_str).unwrap_or("")).ok_or(r))
            .collect()
    }

    /// Numeric column, or an error naming row and column.
    fn required_numeric(&self, column: &str) -> Result<Vec<Option<f64>>, StatsError> {
        let col = self.index(column)?;
        self.numeric(col).map_err(|r| StatsError::BadValue {
            path: self.path.clone(),
            row: self.row(r),
            column: column.to_string(),
            reason: format!("{:?} is not a number", self.rows[r][col]),
        })
    }

    fn optional_numeric(&self, column: &str) -> Result<Option<Vec<Option<f64>>>, StatsError> {
        if self.header.iter().any(|h| h == column) {
            self.required_numeric(column).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// An analysis table's cell as a number: `Some(None)` for a missing value (empty, NA, NaN or
/// SAS's "."), `Some(Some(x))` for a finite number, `None` for anything else (text, an
/// infinity). The statistics and the report read cells by this one rule.
pub fn cell_number(cell: &str) -> Option<Option<f64>> {
    let cell = cell.trim();
    if cell.is_empty()
        || cell.eq_ignore_ascii_case("na")
        || cell.eq_ignore_ascii_case("nan")
        || cell == "."
    {
        return Some(None);
    }
    cell.parse::<f64>().ok().filter(|v| v.is_finite()).map(Some)
}

fn opt(v: Option<f64>) -> Value {
    v.filter(|x| x.is_finite())
        .map_or(Value::Null, |x| json!(x))
}

fn num(x: f64) -> Value {
    opt(Some(x))
}

/// The event column that goes with the time column `time` where none is given:
/// `<PARAMCD>_EVENT` for a `<PARAMCD>_MONTHS` (the link stage's names); else why it must be given
/// (`what`: the option or key that gives it). A time of another name took PFS_EVENT, without a
/// word.
pub fn event_of(time: &str, what: &str) -> Result<String, String> {
    match time.strip_suffix("_MONTHS") {
        Some(endpoint) => Ok(format!("{endpoint}_EVENT")),
        None => Err(format!(
            "{what} is needed: the time column {time:?} is not named <ENDPOINT>_MONTHS, so its \
             event column is not known"
        )),
    }
}

/// Why a time column and an event column of the link stage's names (`<PARAMCD>_MONTHS`,
/// `<PARAMCD>_EVENT`) do not go together: a time of one endpoint with the event of another (OS
/// times with PFS events) would analyse neither, without a word.
pub fn endpoints_differ(time: &str, event: &str) -> Option<String> {
    let (t, e) = (time.strip_suffix("_MONTHS")?, event.strip_suffix("_EVENT")?);
    (t != e).then(|| {
        format!(
            "time {time:?} and event {event:?} are of two endpoints: set both (e.g. time \
             \"{t}_MONTHS\" with event \"{t}_EVENT\")"
        )
    })
}

/// Run the analysis and write `stats.json` and `summary.md` into `opts.out`.
pub fn analyze(opts: &AnalyzeOptions) -> Result<Analysis, StatsError> {
    let table = Table::read(&opts.table)?;
    // The time column first: a misspelt one is named with the closest column.
    let time = table.required_numeric(&opts.time)?;
    // An event not given (empty) is the time's endpoint's.
    let derived;
    let opts = if opts.event.is_empty() {
        derived = AnalyzeOptions {
            event: event_of(&opts.time, "--event").map_err(StatsError::Usage)?,
            ..opts.clone()
        };
        &derived
    } else {
        opts
    };
    if let Some(why) = endpoints_differ(&opts.time, &opts.event) {
        return Err(StatsError::Usage(why));
    }
    let event = table.required_numeric(&opts.event)?;
    for (r, (t, e)) in time.iter().zip(&event).enumerate() {
        let bad = |column: &str, reason: String| StatsError::BadValue {
            path: table.path.clone(),
            row: table.row(r),
            column: column.to_string(),
            reason,
        };
        if let Some(t) = t.filter(|t| *t < 0.0) {
            return Err(bad(&opts.time, format!("negative time {t}")));
        }
        if let Some(e) = e.filter(|e| *e != 0.0 && *e != 1.0) {
            return Err(bad(
                &opts.event,
                format!("event must be 1 (event) or 0 (censored), found {e}"),
            ));
        }
    }
    let pcr = table.optional_numeric("PCR")?;
    if let Some(pcr) = &pcr {
        if let Some(r) = pcr
            .iter()
            .position(|v| v.is_some_and(|v| v != 0.0 && v != 1.0))
        {
            return Err(StatsError::BadValue {
                path: table.path.clone(),
                row: table.row(r),
                column: "PCR".into(),
                reason: "PCR must be 1, 0 or empty".into(),
            });
        }
    }
    let viable = table.optional_numeric("VIABLE_TUMOR_PCT")?;
    // One row per subject: a subject twice would count twice in every test.
    if let Some(c) = table
        .header
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case("USUBJID"))
    {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (r, row) in table.rows.iter().enumerate() {
            let id = row.get(c).map_or("", |s| s.trim());
            if id.is_empty() {
                continue;
            }
            if let Some(first) = seen.insert(id, r) {
                return Err(StatsError::BadValue {
                    path: table.path.clone(),
                    row: table.row(r),
                    column: "USUBJID".into(),
                    reason: format!(
                        "{id} is also in row {}: one row per subject",
                        table.row(first)
                    ),
                });
            }
        }
    }

    // Subjects with a known endpoint.
    let surv: Vec<usize> = (0..table.rows.len())
        .filter(|&r| time[r].is_some() && event[r].is_some())
        .collect();
    if surv.is_empty() {
        return Err(StatsError::NoSubjects {
            path: table.path.clone(),
            time: opts.time.clone(),
            event: opts.event.clone(),
        });
    }
    let t_all: Vec<f64> = surv.iter().map(|&r| time[r].unwrap_or(0.0)).collect();
    let e_all: Vec<bool> = surv.iter().map(|&r| event[r] == Some(1.0)).collect();
    let n_events = e_all.iter().filter(|&&e| e).count();
    let curve = km::fit(&t_all, &e_all, opts.ci, ALPHA);
    let km_json = km_json(&curve);

    // Features: every other column whose non-empty cells are all numbers. A column of numbers
    // with a cell that is not one is not analysed, and said (its first such row).
    let mut features = Vec::new();
    let mut not_analysed = Vec::new();
    for (col, name) in table.header.iter().enumerate() {
        if reserved(name) || *name == opts.time || *name == opts.event {
            continue;
        }
        match table.numeric(col) {
            Ok(values) => {
                if values.iter().any(Option::is_some) {
                    features.push((name.clone(), values));
                } else if !table.rows.is_empty() {
                    // Said, so that link's count of feature columns and this one's agree.
                    not_analysed.push(json!({"column": name, "row": null,
                        "reason": "no value in any row (every cell empty, NA, NaN or .)"}));
                }
            }
            Err(row) => {
                let numbers = table
                    .rows
                    .iter()
                    .filter(|r| matches!(cell_number(r.get(col).map_or("", |s| s)), Some(Some(_))))
                    .count();
                if numbers > 0 {
                    let row = table.row(row);
                    not_analysed.push(json!({"column": name, "row": row,
                        "reason": format!("row {row} is not a number (nor empty, NA, NaN or .) in a column of {}", crate::plural::count(numbers, "number"))}));
                }
            }
        }
    }

    // A cut-off must name a feature column: a typo must not pass silently.
    if let Some(bad) = opts
        .cutoffs
        .keys()
        .find(|k| !features.iter().any(|(n, _)| n == *k))
    {
        if reserved(bad) {
            return Err(StatsError::Usage(format!(
                "cut-off on {bad:?}: that is a clinical column of the analysis table (an \
                 endpoint, the pathology or the imaging intervals); cut-offs apply to feature \
                 columns only"
            )));
        }
        if let Some(c) = not_analysed.iter().find(|c| c["column"] == bad.as_str()) {
            return Err(StatsError::Usage(format!(
                "cut-off on {bad:?}: {} does not analyse that column: {}",
                table.path.display(),
                c["reason"].as_str().unwrap_or("")
            )));
        }
        let closest = features
            .iter()
            .map(|(n, _)| (strsim::levenshtein(bad, n), n))
            .min()
            .map(|(_, n)| format!("; the closest is {n:?}"))
            .unwrap_or_default();
        return Err(StatsError::Usage(format!(
            "cut-off on {bad:?} (--cutoff, or [analysis] cutoffs of a pipeline): {} has no \
             numeric feature column of that name{closest}",
            table.path.display()
        )));
    }
    let units = codebook_units(&opts.table);
    let mut results = Vec::new();
    let mut p_for_q = Vec::new();
    let mut diverged = Vec::new();
    for (name, values) in &features {
        let (mut obj, p, family) = feature_json(
            name,
            values,
            &time,
            &event,
            viable.as_deref(),
            pcr.as_deref(),
            opts.cutoffs.get(name).copied(),
        );
        if let Some(unit) = units.get(name) {
            obj["unit"] = json!(unit);
        }
        results.push(obj);
        p_for_q.push(p);
        diverged.push(family == Family::Diverged);
    }
    // Over the features with a Cox fit. One whose likelihood is monotone (it separates the
    // events) has no p of its own; counted in the family with a small p it would lower every
    // other q, so leaving it out errs on the safe side. stats.json says which were left out.
    let family_size = p_for_q.iter().flatten().count();
    let n_diverged = diverged.iter().filter(|d| **d).count();
    for (obj, q) in results
        .iter_mut()
        .zip(multiple::benjamini_hochberg(&p_for_q))
    {
        obj["q_value"] = opt(q);
    }
    let q_method = format!(
        "Benjamini-Hochberg over the Cox Wald p-values of the {family_size} features with a Cox \
         fit (m = {family_size}); not in the family: {n_diverged} whose likelihood is monotone \
         (the feature separates the events: no fit, and so no p; left out, which leaves every \
         other q at least as large as with it), and those not tested (constant, or fewer than \
         {} events)",
        cox::MIN_EVENTS
    );

    let link_said = link_warnings(&opts.table);
    let stats = json!({
        "endpoint": {"time": opts.time, "event": opts.event, "n": surv.len(), "events": n_events, "left_out": table.rows.len() - surv.len()},
        "link_warnings": link_said.0,
        "link_warnings_note": link_said.1,
        "km": km_json,
        "q_value_method": q_method,
        "not_analysed": not_analysed,
        "features": results,
    });
    let write_err = |path: PathBuf| move |source| StatsError::Write { path, source };
    let json_path = opts.out.join("stats.json");
    crate::atomic::write_json(&json_path, &stats).map_err(write_err(json_path.clone()))?;
    let md_path = opts.out.join("summary.md");
    crate::atomic::write_bytes(&md_path, super::summary::render(&stats).as_bytes())
        .map_err(write_err(md_path.clone()))?;
    Ok(Analysis {
        stats,
        header: table.header,
        rows: table.rows,
    })
}

fn km_json(curve: &km::KaplanMeier) -> Value {
    let (lo, hi) = curve.median_ci();
    let rates: Vec<Value> = RATE_MONTHS
        .iter()
        .map(|&m| match curve.at(m) {
            Some((s, l, h)) => {
                json!({"month": m as u32, "survival": num(s), "ci": [num(l), num(h)]})
            }
            None => json!({"month": m as u32, "survival": null, "ci": null,
                           "note": "beyond the last follow-up"}),
        })
        .collect();
    let mut v = json!({
        "timeline": curve.timeline,
        "survival": curve.survival.iter().map(|&x| num(x)).collect::<Vec<_>>(),
        "ci_lower": curve.ci_lower.iter().map(|&x| num(x)).collect::<Vec<_>>(),
        "ci_upper": curve.ci_upper.iter().map(|&x| num(x)).collect::<Vec<_>>(),
        "at_risk": curve.at_risk,
        "ci_method": curve.ci_method.name(),
        "median": opt(curve.median()),
        "median_ci": [opt(lo), opt(hi)],
        "rates": rates,
    });
    if curve.median().is_none() {
        v["note"] = json!("median not reached: survival stays above 0.5");
    } else if lo.is_none() || hi.is_none() {
        v["note"] = json!(
            "the median's 95% interval is open: a bound curve stays above 0.5 over the times \
             where it is defined (the interval has no bounds where the curve is 0)"
        );
    }
    v
}

/// Every value the same (none is constant too).
fn constant(v: &[f64]) -> bool {
    v.windows(2).all(|w| w[0] == w[1])
}

/// One feature's results and the p-value that enters the q-values.
fn feature_json(
    name: &str,
    values: &[Option<f64>],
    time: &[Option<f64>],
    event: &[Option<f64>],
    viable: Option<&[Option<f64>]>,
    pcr: Option<&[Option<f64>]>,
    cutoff: Option<f64>,
) -> (Value, Option<f64>, Family) {
    let mut notes: Vec<String> = Vec::new();
    let rows: Vec<usize> = (0..values.len())
        .filter(|&r| values[r].is_some() && time[r].is_some() && event[r].is_some())
        .collect();
    let x: Vec<f64> = rows.iter().map(|&r| values[r].unwrap_or(0.0)).collect();
    let t: Vec<f64> = rows.iter().map(|&r| time[r].unwrap_or(0.0)).collect();
    let e: Vec<bool> = rows.iter().map(|&r| event[r] == Some(1.0)).collect();
    let events = e.iter().filter(|&&v| v).count();

    let mut family = Family::Tested;
    let (cox_json, p) = match cox::fit(&t, &e, &x, ALPHA) {
        Ok(c) => (
            {
                let beyond = |h: f64| !h.is_finite() || h == 0.0;
                let what = if beyond(c.hr) {
                    Some("the HR per unit is")
                } else if beyond(c.hr_ci.0) || beyond(c.hr_ci.1) {
                    Some("a bound of the HR per unit's interval is")
                } else {
                    None
                };
                if let (Some(what), true) = (what, c.coef.is_finite()) {
                    notes.push(format!(
                        "Cox: {what} beyond a double's range (coef {} per unit; null, or 0, \
                         in hr and hr_ci): read coef, or the HR per SD",
                        crate::digits::shortest(c.coef)
                    ));
                }
                json!({"coef": num(c.coef), "se": num(c.se), "hr": num(c.hr),
                   "hr_ci": [num(c.hr_ci.0), num(c.hr_ci.1)], "hr_per_sd": num(c.hr_per_sd),
                   "hr_per_sd_ci": [num(c.hr_per_sd_ci.0), num(c.hr_per_sd_ci.1)],
                   "p_wald": num(c.p_wald), "p_lr": num(c.p_lr),
                   "concordance": num(c.concordance)})
            },
            Some(c.p_wald),
        ),
        Err(why) => {
            family = match why {
                cox::CoxRefusal::NoConvergence => Family::Diverged,
                _ => Family::NotTested,
            };
            notes.push(why.to_string());
            (Value::Null, None)
        }
    };

    let logrank_json = if x.is_empty() {
        notes.push("log-rank: no subject with this feature".into());
        Value::Null
    } else {
        let med = median(&x);
        // Above the median; where more than half the values equal the highest (a binary or
        // few-level feature), nothing is above it, and the split is at or above the median.
        let above = x.iter().any(|&v| v > med);
        let high: Vec<bool> = x
            .iter()
            .map(|&v| if above { v > med } else { v >= med })
            .collect();
        let n_high = high.iter().filter(|&&h| h).count();
        match logrank::test(&t, &e, &high) {
            Ok(lr) => json!({"cutoff": med, "high": if above { "above" } else { "at or above" },
                             "statistic": num(lr.statistic), "p": num(lr.p),
                             "n_high": n_high, "n_low": high.len() - n_high}),
            Err(why) => {
                notes.push(format!(
                    "log-rank: no test of the split at the median {med}: {why}"
                ));
                Value::Null
            }
        }
    };

    // The configured cut-off: high = value ≥ cut-off (a clinical threshold includes itself).
    let logrank_cutoff_json = cutoff.map(|c| {
        let high: Vec<bool> = x.iter().map(|&v| v >= c).collect();
        let n_high = high.iter().filter(|&&h| h).count();
        match logrank::test(&t, &e, &high) {
            Ok(lr) => json!({"cutoff": c, "statistic": num(lr.statistic), "p": num(lr.p),
                               "n_high": n_high, "n_low": high.len() - n_high}),
            Err(why) => {
                notes.push(format!(
                    "log-rank: no test at the cut-off {c} ({n_high} high, {} low): {why}",
                    high.len() - n_high
                ));
                Value::Null
            }
        }
    });

    let spearman_json = match viable {
        None => {
            notes.push("Spearman: no VIABLE_TUMOR_PCT column".into());
            Value::Null
        }
        Some(v) => {
            let (a, b): (Vec<f64>, Vec<f64>) = values
                .iter()
                .zip(v)
                .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
                .unzip();
            match spearman::spearman(&a, &b) {
                Some(s) => json!({"rho": num(s.rho), "p": num(s.p), "n": s.n}),
                None => {
                    notes.push(if a.len() < 3 {
                        format!(
                            "Spearman: {} with the feature and viable tumour % (3 needed)",
                            crate::plural::count(a.len(), "subject")
                        )
                    } else if constant(&a) {
                        format!(
                            "Spearman: the feature is constant over the {} subjects with viable tumour %",
                            a.len()
                        )
                    } else {
                        format!(
                            "Spearman: viable tumour % is constant over the {} subjects with the feature",
                            a.len()
                        )
                    });
                    Value::Null
                }
            }
        }
    };

    let roc_json = match pcr {
        None => {
            notes.push("ROC: no PCR column".into());
            Value::Null
        }
        Some(p) => {
            let (s, l): (Vec<f64>, Vec<bool>) = values
                .iter()
                .zip(p)
                .filter_map(|(x, y)| Some(((*x)?, (*y)? == 1.0)))
                .unzip();
            match roc::auc_delong(&s, &l, ALPHA) {
                // pROC gives 0.5 (0.5–0.5): a zero-width interval that reads as certainty.
                Some(_) if constant(&s) => {
                    notes.push(format!(
                        "ROC: the feature is constant over the {} subjects with a PCR",
                        s.len()
                    ));
                    Value::Null
                }
                // Complete separation (AUC 0 or 1): DeLong's variance is 0, and so is the
                // interval's width, which is no 95% interval (pROC gives it all the same).
                Some(a) if a.ci.0 == a.ci.1 => {
                    notes.push(format!(
                        "ROC: AUC {} with the groups completely separated: DeLong's interval has \
                         width 0 and is left out",
                        crate::digits::shortest(a.auc)
                    ));
                    json!({"auc": num(a.auc), "ci": [null, null],
                           "n_pcr": a.n_pos, "n_no_pcr": a.n_neg})
                }
                Some(a) => json!({"auc": num(a.auc), "ci": [num(a.ci.0), num(a.ci.1)],
                                  "n_pcr": a.n_pos, "n_no_pcr": a.n_neg}),
                None => {
                    notes.push("ROC: fewer than 2 subjects with and without pCR".into());
                    Value::Null
                }
            }
        }
    };

    let mut obj = json!({
        "feature": name, "n": rows.len(), "events": events,
        "cox": cox_json, "logrank_median_split": logrank_json,
        "spearman_viable_tumor": spearman_json, "roc_pcr": roc_json, "q_value": null,
    });
    if let Some(v) = logrank_cutoff_json {
        obj["logrank_cutoff"] = v;
    }
    if p.is_none() {
        notes.push("q-value: no Cox p-value (not in the Benjamini-Hochberg family)".into());
    }
    if !notes.is_empty() {
        obj["note"] = json!(notes.join("; "));
    }
    (obj, p, family)
}

/// What a feature's Cox model gave, for the Benjamini–Hochberg family's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// A Cox fit: its Wald p, in the family.
    Tested,
    /// A monotone likelihood: no fit, left out (counted in `q_value_method`).
    Diverged,
    /// Constant, or too few events: no test made.
    NotTested,
}

/// Median as numpy computes it (mean of the two middle values for an even count).
fn median(x: &[f64]) -> f64 {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// A bound of the median's interval, "NE" (not estimable) where there is none.
/// What `link` said of the table (kept-out subjects, warnings): the reasons of
/// `TABLE.warnings.json` beside it, or of a pipeline's `link-warnings.json` in its folder; none
/// without either. A file older than the table may be an earlier link's (or the two were
/// copied): its reasons are kept, and the second value says so (they were dropped, after a
/// copy too, by a first fix).
fn link_warnings(table: &Path) -> (Vec<String>, Option<String>) {
    let csv = table.with_extension("csv");
    let beside = crate::clinical::warnings_path(&csv);
    let pipeline = csv.with_file_name("link-warnings.json");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let Some((path, bytes)) = [beside, pipeline]
        .into_iter()
        .find_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
    else {
        return (Vec::new(), None);
    };
    let reasons: Vec<String> = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|w| w["reason"].as_str().map(str::to_string))
        .collect();
    let older = matches!((modified(&path), modified(table)), (Some(w), Some(t)) if w < t);
    let note = (older && !reasons.is_empty()).then(|| {
        format!(
            "{} is older than the table: an earlier link's, or the two copied",
            path.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        )
    });
    (reasons, note)
}

fn codebook_units(table: &Path) -> BTreeMap<String, String> {
    let path = crate::clinical::codebook::path_beside(&table.with_extension("csv"));
    let Ok(book) = crate::clinical::tables::TextTable::read(&path) else {
        return BTreeMap::new();
    };
    let (Some(column), Some(unit)) = (book.col("column"), book.col("unit")) else {
        return BTreeMap::new();
    };
    book.rows
        .iter()
        .filter_map(|r| Some((r.get(column)?.clone(), r.get(unit)?.clone())))
        .filter(|(_, unit)| !unit.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Analyse `csv`; the folder lives as long as the returned guard.
    fn run_in(dir: &tempfile::TempDir, csv: &str) -> Result<PathBuf, StatsError> {
        let dir = dir.path();
        let table = dir.join("t.csv");
        std::fs::write(&table, csv).unwrap();
        let out = dir.join("out");
        analyze(&AnalyzeOptions {
            table,
            out: out.clone(),
            time: "PFS_MONTHS".into(),
            event: "PFS_EVENT".into(),
            ci: km::CiMethod::LogLog,
            cutoffs: BTreeMap::new(),
        })
        .map(|_| out)
    }

    fn run(csv: &str) -> Result<PathBuf, StatsError> {
        run_in(&tempfile::tempdir().unwrap(), csv)
    }

    #[test]
    fn validation_errors_name_row_and_column() {
        use crate::ExitCode;
        let head = "USUBJID,PFS_MONTHS,PFS_EVENT,x\n";
        let e = run(&format!("{head}a,1,1,2\nb,-3,0,1\n")).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(
            e.to_string()
                .contains("row 3, column PFS_MONTHS: negative time"),
            "{e}"
        );
        let e = run(&format!("{head}a,1,yes,2\n")).unwrap_err();
        assert!(e.to_string().contains("row 2, column PFS_EVENT"), "{e}");
        let e = run("USUBJID,PFS_MONTHS,PFS_EVENT,x,x\na,1,1,2,3\n").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string()
                .contains("column \"x\" appears twice (columns 4 and 5)"),
            "{e}"
        );
        let e = run("USUBJID,PFS_EVENT\na,1\n").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let e = run(&format!("{head}a,,,2\n")).unwrap_err();
        assert!(matches!(e, StatsError::NoSubjects { .. }), "{e}");
    }

    #[test]
    fn missing_endpoint_rows_are_left_out_and_text_columns_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let out = run_in(
            &dir,
            "USUBJID,PFS_MONTHS,PFS_EVENT,site,x\na,1,1,s1,2\nb,,1,s2,1\nc,3,0,s3,NA\nd,4,1,s4,5\n",
        )
        .unwrap();
        let v: Value =
            serde_json::from_slice(&std::fs::read(out.join("stats.json")).unwrap()).unwrap();
        assert_eq!(v["endpoint"]["n"], 3);
        assert_eq!(v["endpoint"]["events"], 2);
        // The row left out is counted and said.
        assert_eq!(v["endpoint"]["left_out"], 1);
        let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
        assert!(
            summary.contains("3 subjects, 2 events (1 row without a time or an event left out).")
        );
        assert_eq!(v["features"].as_array().unwrap().len(), 1);
        let f = &v["features"][0];
        assert_eq!(
            (f["feature"].as_str(), f["n"].as_u64()),
            (Some("x"), Some(2))
        );
        assert!(f["cox"].is_null());
        assert!(f["note"]
            .as_str()
            .unwrap()
            .contains("Spearman: no VIABLE_TUMOR_PCT"));
        assert!(out.join("summary.md").exists());
    }

    /// Regression: a feature of one value in every subject (2805.7620817843867, whose summed
    /// mean is off by 4.5e-12) was said not to converge, its Spearman note read "8 pairs with
    /// viable tumour %, or a constant variable", and its summary row "– (–––)". Now the note says
    /// it is constant, for Cox and Spearman, and an empty cell is one "–".
    #[test]
    fn a_constant_feature_is_said_constant_and_its_empty_cells_are_one_dash() {
        let dir = tempfile::tempdir().unwrap();
        let mut csv =
            String::from("USUBJID,PFS_MONTHS,PFS_EVENT,VIABLE_TUMOR_PCT,PCR,k,x,tiny,empty\n");
        for (i, (t, e, viable, x)) in [
            (3, 1, 80, 5.1),
            (5, 1, 10, 1.2),
            (7, 0, 55, 3.3),
            (8, 1, 0, 0.7),
            (11, 1, 90, 6.0),
            (13, 0, 35, 2.2),
            (17, 1, 60, 4.4),
            (20, 1, 20, 2.9),
        ]
        .iter()
        .enumerate()
        {
            csv += &format!(
                "s{i},{t},{e},{viable},{},2805.7620817843867,{x},{},NA\n",
                u8::from(*viable <= 10),
                x * 1e-10
            );
        }
        let out = run_in(&dir, &csv).unwrap();
        let v: Value =
            serde_json::from_slice(&std::fs::read(out.join("stats.json")).unwrap()).unwrap();
        let k = &v["features"][0];
        assert_eq!(k["feature"], "k");
        let note = k["note"].as_str().unwrap();
        assert!(
            note.contains("Cox model not fitted: feature is constant"),
            "{note}"
        );
        assert!(
            note.contains(
                "Spearman: the feature is constant over the 8 subjects with viable tumour %"
            ),
            "{note}"
        );
        // pROC's AUC of a constant, 0.5 (0.5–0.5), read as certain: none, said.
        assert!(
            note.contains("ROC: the feature is constant over the 8 subjects with a PCR"),
            "{note}"
        );
        assert!(k["roc_pcr"].is_null(), "{k}");
        let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
        assert!(
            summary.contains("| k |  | 8 | 6 | – | – | – | – | – | – | – | – | – |"),
            "{summary}"
        );
        // A column with no value at all is named, not dropped without a word (link counted it).
        assert_eq!(
            v["not_analysed"],
            serde_json::json!([{"column": "empty", "row": null,
                "reason": "no value in any row (every cell empty, NA, NaN or .)"}])
        );
        assert!(
            summary.contains("Not analysed: column empty: no value in any row"),
            "{summary}"
        );
        // x in units 1e10 times too large: its HR per unit is beyond a double; said so, with
        // the coefficient, which is x's divided by 1e-10 (the same fit, rescaled).
        let (x, tiny) = (&v["features"][1], &v["features"][2]);
        assert_eq!(tiny["feature"], "tiny");
        assert!(tiny["cox"]["hr"].is_null(), "{tiny}");
        let ratio = tiny["cox"]["coef"].as_f64().unwrap() / x["cox"]["coef"].as_f64().unwrap();
        assert!((ratio / 1e10 - 1.0).abs() < 1e-6, "{ratio}");
        assert!(
            tiny["note"]
                .as_str()
                .unwrap()
                .contains("Cox: the HR per unit is beyond a double's range"),
            "{tiny}"
        );
        let per_sd = |f: &Value| f["cox"]["hr_per_sd"].as_f64().unwrap();
        assert!((per_sd(tiny) / per_sd(x) - 1.0).abs() < 1e-9, "{tiny} {x}");
        // A fitted feature keeps its intervals in brackets.
        let x_row = summary
            .lines()
            .find(|l| l.starts_with("| x |  | 8 |"))
            .unwrap();
        // Feature, unit (none: no codebook), n, events, HR per unit, ...
        let cells: Vec<&str> = x_row.split(" | ").collect();
        assert!(cells[4].contains(" (") && cells[4].contains('–'), "{x_row}");
        assert!(
            cells[10].contains(" (") && cells[10].ends_with(')'),
            "{x_row}"
        );
    }

    /// Regression: `--cutoff ISUP=3` answered "no numeric feature column of that name; the
    /// closest is \"mr_liver_morph_av\"", as if ISUP were a typo.
    #[test]
    fn a_cut_off_on_a_clinical_column_says_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("t.csv");
        std::fs::write(
            &table,
            "USUBJID,PFS_MONTHS,PFS_EVENT,ISUP,x\ns1,3,1,2,1.5\ns2,5,0,3,2.5\ns3,7,1,1,0.5\n",
        )
        .unwrap();
        let err = analyze(&AnalyzeOptions {
            table,
            out: dir.path().join("out"),
            time: "PFS_MONTHS".into(),
            event: "PFS_EVENT".into(),
            ci: km::CiMethod::LogLog,
            cutoffs: BTreeMap::from([("ISUP".to_string(), 3.0)]),
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("cut-off on \"ISUP\": that is a clinical column"),
            "{err}"
        );
    }

    #[test]
    fn numpy_median() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
