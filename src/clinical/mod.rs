//! Clinical tables in CDISC ADaM style (ADSL, ADTTE, pathology), validation and linkage to
//! imaging features into the analysis table.

use std::path::PathBuf;

/// Errors of linkage.
#[derive(Debug, thiserror::Error)]
pub enum ClinicalError {
    #[error("linkage is not implemented yet")]
    NotImplemented,
}

impl crate::ExitCode for ClinicalError {}

/// `ancilla link` inputs.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    pub features: PathBuf,
    pub subjects: PathBuf,
    pub tte: PathBuf,
    pub pathology: PathBuf,
    pub out: PathBuf,
}

/// Build the analysis table.
pub fn link(_opts: &LinkOptions) -> Result<(), ClinicalError> {
    Err(ClinicalError::NotImplemented)
}
