//! Outputs for people: report.html (`html`) with QC images (`qc`), progress display
//! (`progress`), and the report of a standalone `ancilla analyze` (`analysis_report`).

pub mod html;
pub mod progress;
pub mod qc;

use std::path::{Path, PathBuf};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Stats(#[from] crate::stats::StatsError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl crate::ExitCode for ReportError {
    fn exit_code(&self) -> u8 {
        match self {
            ReportError::Stats(e) => e.exit_code(),
            _ => 1,
        }
    }
}

/// `ancilla analyze`: the statistics ([`crate::stats::analyze`]), then their page
/// ([`analysis_report`]), and one line saying what was written (unless `quiet`).
pub fn analyze_command(
    opts: &crate::stats::AnalyzeOptions,
    quiet: bool,
) -> Result<(), ReportError> {
    let analysis = crate::stats::analyze(opts)?;
    analysis_report(&opts.out, &analysis)?;
    if !quiet {
        let ep = &analysis.stats["endpoint"];
        crate::say!(
            "analyze: {}, n = {}, {} → {} (stats.json, summary.md, report.html)",
            crate::plural::count(
                analysis.stats["features"].as_array().map_or(0, Vec::len),
                "feature"
            ),
            ep["n"],
            crate::plural::count(ep["events"].as_u64().unwrap_or(0) as usize, "event"),
            opts.out.display()
        );
    }
    Ok(())
}

/// `report.html` of `ancilla analyze TABLE --out DIR` (DESIGN: statistics + report.html), into
/// `out`: the statistics of `analysis` with the table they came from: the Kaplan–Meier curve, the
/// forest plot, the ROC curve and the feature table. The flow counts the table's subjects and
/// those with the endpoint; there is no QC gallery (the images and masks are `ancilla run`'s).
/// Returns the page's path.
pub fn analysis_report(
    out: &Path,
    analysis: &crate::stats::Analysis,
) -> Result<PathBuf, ReportError> {
    let ep = &analysis.stats["endpoint"];
    let counts = vec![
        ("subjects in the table".to_string(), analysis.rows.len()),
        (
            format!(
                "with {} and {}",
                ep["time"].as_str().unwrap_or("time"),
                ep["event"].as_str().unwrap_or("event")
            ),
            ep["n"].as_u64().unwrap_or(0) as usize,
        ),
    ];
    // What link said of the table (stats.json's link_warnings).
    let link_warnings: Vec<String> = analysis.stats["link_warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w.as_str().map(str::to_string))
        .collect();
    let page = html::render(&html::ReportData {
        title: "ancilla — analysis report",
        stats: &analysis.stats,
        header: &analysis.header,
        rows: &analysis.rows,
        counts: &counts,
        warnings: &link_warnings,
        qc: &[],
        qc_missing: &[],
        flow_aside: &[],
        not_run: "",
    });
    let path = out.join("report.html");
    crate::atomic::write_bytes(&path, page.as_bytes()).map_err(|source| ReportError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}
