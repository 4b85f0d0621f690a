//! De-identification after DICOM PS3.15 Annex E (Basic Application Level Confidentiality
//! Profile, Table E.1-1) with the study's options, keyed pseudonyms and per-subject date shifts.

use std::path::PathBuf;

/// Errors of de-identification.
#[derive(Debug, thiserror::Error)]
pub enum DeidError {
    #[error("de-identification is not implemented yet")]
    NotImplemented,
}

impl crate::ExitCode for DeidError {}

/// `ancilla deid` inputs.
#[derive(Debug, Clone)]
pub struct DeidOptions {
    pub input: PathBuf,
    pub out: PathBuf,
    pub key: PathBuf,
    pub subjects: PathBuf,
    pub config: Option<PathBuf>,
    pub site_log: Option<PathBuf>,
}

/// Outcome of a run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DeidSummary {
    pub released: usize,
    pub not_released: usize,
    pub verification_failures: usize,
}

/// De-identify `opts.input` into `opts.out`.
pub fn run(_opts: &DeidOptions) -> Result<DeidSummary, DeidError> {
    Err(DeidError::NotImplemented)
}
