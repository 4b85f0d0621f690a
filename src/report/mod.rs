//! Outputs for people: report.html (`html`) with QC images (`qc`), progress display
//! (`progress`), and the report of a standalone `ancilla analyze` (`analysis_report`).

pub mod html;
pub mod progress;
pub mod qc;

use std::path::{Path, PathBuf};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl crate::ExitCode for ReportError {}

/// `report.html` of `ancilla analyze TABLE --out DIR` (DESIGN: statistics + report.html): the
/// statistics `analyze` wrote into `out` (`stats.json`) with the table they came from: the
/// Kaplan–Meier curve, the forest plot, the ROC curve and the feature table. The flow counts the
/// table's subjects and those with the endpoint; there is no QC gallery (the images and masks are
/// `ancilla run`'s). Returns the page's path.
pub fn analysis_report(out: &Path, table: &Path) -> Result<PathBuf, ReportError> {
    let stats_path = out.join("stats.json");
    let read_err = |path: &Path, reason: String| ReportError::Read {
        path: path.to_path_buf(),
        reason,
    };
    let text =
        std::fs::read_to_string(&stats_path).map_err(|e| read_err(&stats_path, e.to_string()))?;
    let stats: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| read_err(&stats_path, e.to_string()))?;
    let t =
        crate::clinical::tables::TextTable::read(table).map_err(|e| read_err(table, e.reason))?;
    let ep = &stats["endpoint"];
    let counts = vec![
        ("subjects in the table".to_string(), t.rows.len()),
        (
            format!(
                "with {} and {}",
                ep["time"].as_str().unwrap_or("time"),
                ep["event"].as_str().unwrap_or("event")
            ),
            ep["n"].as_u64().unwrap_or(0) as usize,
        ),
    ];
    let page = html::render(&html::ReportData {
        title: "ancilla — analysis report",
        stats: &stats,
        header: &t.header,
        rows: &t.rows,
        counts: &counts,
        warnings: &[],
        qc: &[],
    });
    let path = out.join("report.html");
    crate::atomic::write_bytes(&path, page.as_bytes()).map_err(|source| ReportError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}
