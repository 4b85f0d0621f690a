//! `ancilla convert`: every image series of a DICOM tree → NIfTI-1 + JSON sidecar (dcm2niix's
//! conventions), PET also as SUVbw.

use std::path::Path;

/// Errors of conversion.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("conversion is not implemented yet")]
    NotImplemented,
}

impl crate::ExitCode for ConvertError {}

/// Convert every series under `input` into `out`.
pub fn convert_command(
    _input: &Path,
    _out: &Path,
    _gzip: bool,
    _quiet: bool,
) -> Result<(), ConvertError> {
    Err(ConvertError::NotImplemented)
}
