//! Ingest: directory walk, header-only DICOM parsing (PS3.10 files, stopping before Pixel Data),
//! inventory of patients / studies / series, series classification, every file accounted for.

use std::path::{Path, PathBuf};

/// Errors of a scan as a whole (a bad file is not an error: it is rejected with a reason).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("input {0} does not exist")]
    MissingInput(PathBuf),
}

impl crate::ExitCode for IngestError {}

/// `ancilla scan`.
pub fn scan_command(
    _inputs: &[PathBuf],
    _json: Option<&Path>,
    _quiet: bool,
) -> Result<(), IngestError> {
    Ok(())
}
