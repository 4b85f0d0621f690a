//! Pipeline config (TOML), stage orchestration, resume, sharding, merge, progress.

use std::path::{Path, PathBuf};

/// Errors of the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("the pipeline is not implemented yet")]
    NotImplemented,
}

impl crate::ExitCode for PipelineError {}

/// `ancilla run`.
pub fn run_command(
    _config: &Path,
    _out: Option<&Path>,
    _shard: Option<&str>,
    _quiet: bool,
) -> Result<(), PipelineError> {
    Err(PipelineError::NotImplemented)
}

/// `ancilla merge`.
pub fn merge_command(_shards: &[PathBuf], _out: &Path) -> Result<(), PipelineError> {
    Err(PipelineError::NotImplemented)
}
