//! Statistics of the ancillary analysis: Kaplan–Meier, log-rank, Cox PH (Efron), concordance,
//! ROC/AUC with DeLong CI, Spearman, Benjamini–Hochberg. Checked against lifelines.

use std::path::PathBuf;

/// Errors of the analysis.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("analysis is not implemented yet")]
    NotImplemented,
}

impl crate::ExitCode for StatsError {}

/// `ancilla analyze` inputs.
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    pub table: PathBuf,
    pub out: PathBuf,
    pub time: String,
    pub event: String,
}

/// Run the analysis and write `stats.json`.
pub fn analyze(_opts: &AnalyzeOptions) -> Result<(), StatsError> {
    Err(StatsError::NotImplemented)
}
