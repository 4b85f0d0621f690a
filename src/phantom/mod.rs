//! The synthetic cohort: PSMA PET and renal MRI DICOM series with fake PHI, NIfTI label masks,
//! CDISC-style clinical tables with a planted relation, and ground truth. Deterministic per seed.

use std::path::PathBuf;

/// Errors of the phantom generator.
#[derive(Debug, thiserror::Error)]
pub enum PhantomError {
    #[error("phantom generation is not implemented yet")]
    NotImplemented,
}

impl crate::ExitCode for PhantomError {}

/// What to generate.
#[derive(Debug, Clone)]
pub struct PhantomOptions {
    pub out: PathBuf,
    pub subjects: usize,
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PhantomSummary {
    pub subjects: usize,
    pub files: usize,
}

/// Generate the cohort under `opts.out`.
pub fn generate(_opts: &PhantomOptions) -> Result<PhantomSummary, PhantomError> {
    Err(PhantomError::NotImplemented)
}
