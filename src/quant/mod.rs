//! Quantification: SUV after the QIBA vendor-neutral pseudo-code (`suv`), IBSI chapter 1
//! features (`features`), PSMA PET and MRI metrics.

use std::path::{Path, PathBuf};

/// Errors of quantification.
#[derive(Debug, thiserror::Error)]
pub enum QuantError {
    #[error("quantification is not implemented yet")]
    NotImplemented,
}

impl crate::ExitCode for QuantError {}

/// `ancilla features` inputs.
#[derive(Debug, Clone)]
pub struct FeaturesOptions {
    pub image: PathBuf,
    pub mask: PathBuf,
    pub labels: Option<String>,
    pub out: Option<PathBuf>,
}

/// `ancilla suv SERIES_DIR`: the SUV factor and its inputs as JSON.
pub fn suv_json(_series_dir: &Path) -> Result<serde_json::Value, QuantError> {
    Err(QuantError::NotImplemented)
}

/// `ancilla features`: write the long feature table.
pub fn features(_opts: &FeaturesOptions) -> Result<(), QuantError> {
    Err(QuantError::NotImplemented)
}
