//! Quantification: SUV after the QIBA vendor-neutral pseudo-code (`suv`); IBSI chapter 1
//! features and PSMA / MRI metrics are issue #4's next steps.

pub mod suv;

use std::path::{Path, PathBuf};

/// Errors of quantification.
#[derive(Debug, thiserror::Error)]
pub enum QuantError {
    #[error(transparent)]
    Suv(#[from] suv::SuvError),
    #[error("`ancilla features` is not implemented yet (issue #4)")]
    FeaturesNotImplemented,
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
pub fn suv_json(series_dir: &Path) -> Result<serde_json::Value, QuantError> {
    let r = suv::suv_for_dir(series_dir)?;
    Ok(serde_json::to_value(r).unwrap_or(serde_json::Value::Null))
}

/// `ancilla features`: write the long feature table.
pub fn features(_opts: &FeaturesOptions) -> Result<(), QuantError> {
    Err(QuantError::FeaturesNotImplemented)
}
