//! Pipeline orchestration (`ancilla run`): one TOML config runs the stages in order —
//! phantom (demo) → scan → deid → convert → features → link → analyze → report — each skipped
//! when its stamp says its inputs and config are unchanged, so a rerun after a kill finishes the
//! job and a no-op rerun is instant. `--shard I/N` runs the per-subject stages on one shard
//! (`crate::shard`); `merge` assembles the shards and runs the cohort stages. One run per output
//! folder (a lock); `provenance.json` records versions, hashes, times and rejections (no PHI).
//!
//! Modules: `config` (the TOML config), `flow` (one run, stage by stage), `stamps` (stages
//! skipped when up to date; their records), `features_stage` (features over a cohort's
//! images and masks), `report_stage` (`report.html` and its QC images), `digests` (file digests remembered between runs), `subject_cache` (per-subject
//! results of convert and features), `merge` (the shards' folders into one run's).

pub mod config;
mod digests;
mod features_stage;
mod flow;
mod merge;
mod report_stage;
mod stamps;
mod subject_cache;

pub use merge::merge_command;

use flow::execute;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::shard::Shard;

pub use config::{Config, ConfigError};

/// Errors of the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Shard(String),
    #[error("{0}")]
    Busy(String),
    #[error("merge: {0}")]
    Merge(String),
    #[error("stage {stage} failed: {message}")]
    Stage {
        stage: &'static str,
        message: String,
    },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl crate::ExitCode for PipelineError {
    fn exit_code(&self) -> u8 {
        match self {
            PipelineError::Config(_) | PipelineError::Shard(_) | PipelineError::Merge(_) => 2,
            _ => 1,
        }
    }
}

/// An I/O error at `path` as the pipeline's error.
fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PipelineError + '_ {
    move |source| PipelineError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    crate::hex::encode(&d)
}

/// How a run covers the subjects.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// Every stage on every subject.
    Whole,
    /// The per-subject stages on this shard's subjects; the cohort stages wait for the merge.
    Shard(Shard),
    /// After a merge of this many shards: the cohort stages.
    Merged(usize),
}

/// What of a run's own outputs `provenance.json` fingerprints beside the release (a folder's
/// every file, or one file), relative to the output folder: a monitor can tell that the
/// volumes, tables, statistics and report in hand are this run's.
const FINGERPRINTED: [&str; 5] = [
    "inventory.json",
    "nifti",
    "features",
    "analysis",
    "report.html",
];

/// Write `provenance.json`: the fields of `head`, then `released_files` (path relative to
/// `released` and SHA-256 of every file under it, sorted), then `output_files` (the same of
/// every file of `FINGERPRINTED` under `out_dir`, path relative to it; a folder's digests
/// remembered in `record_of(folder)` between runs, the release's in `record_of("deid")`;
/// every file there is this run's: what it did not make, the cohort stages withdraw), each
/// streamed to the temporary file one file at a time so the record of a large cohort is never
/// held in memory.
fn write_provenance(
    path: &Path,
    head: &Value,
    out_dir: &Path,
    released: &Path,
    record_of: &dyn Fn(&str) -> PathBuf,
) -> std::io::Result<()> {
    use std::io::Write;
    let text = serde_json::to_string_pretty(head).map_err(std::io::Error::other)?;
    let open = text.trim_end().strip_suffix('}').unwrap_or("{").trim_end();
    crate::atomic::write_with(path, |tmp| {
        let mut w = std::io::BufWriter::new(std::fs::File::create(tmp)?);
        w.write_all(open.as_bytes())?;
        let comma = if open.ends_with('{') { "" } else { "," };
        // One entry of a list; `first` until one is written.
        let entry = |w: &mut std::io::BufWriter<std::fs::File>,
                     first: &mut bool,
                     name: &Path,
                     sha: &[u8]|
         -> std::io::Result<()> {
            let name =
                serde_json::to_string(&name.to_string_lossy()).map_err(std::io::Error::other)?;
            let sep = if *first { "" } else { "," };
            *first = false;
            let hex = crate::hex::encode(sha);
            write!(
                w,
                "{sep}\n    {{\n      \"file\": {name},\n      \"sha256\": \"{hex}\"\n    }}"
            )
        };
        let close = |w: &mut std::io::BufWriter<std::fs::File>, first: bool| {
            w.write_all(if first { b"]" } else { b"\n  ]" })
        };
        write!(w, "{comma}\n  \"released_files\": [")?;
        let mut first = true;
        digests::for_each_file_digest(
            released,
            Some(&record_of("deid")),
            |f, digest| match digest {
                Some((_, sha)) => entry(&mut w, &mut first, f, &sha),
                None => Ok(()),
            },
        )?;
        close(&mut w, first)?;
        write!(w, ",\n  \"output_files\": [")?;
        let mut first = true;
        for part in FINGERPRINTED.iter() {
            let at = out_dir.join(part);
            if at.is_dir() {
                digests::for_each_file_digest(
                    &at,
                    Some(&record_of(part)),
                    |f, digest| match digest {
                        Some((_, sha)) => entry(&mut w, &mut first, &Path::new(part).join(f), &sha),
                        None => Ok(()),
                    },
                )?;
            } else if let Ok(bytes) = std::fs::read(&at) {
                entry(&mut w, &mut first, Path::new(part), &Sha256::digest(&bytes))?;
            }
        }
        close(&mut w, first)?;
        w.write_all(b"\n}\n")?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    })
}

/// Hash of every file under `dir`: its path relative to `dir`, size and SHA-256, in path order
/// (digests remembered in `record` between uses, when one is given: see `digests`).
fn tree_hash(dir: &Path, record: Option<&Path>) -> String {
    let mut h = Sha256::new();
    digests::for_each_file_digest(dir, record, |f, digest| {
        hash_entry(&mut h, f, digest);
        Ok(())
    })
    .unwrap_or(0);
    crate::hex::encode(&h.finalize())
}

/// `tree_hash`, and the same hash of each subject's folder (the tree's top-level folders).
fn tree_hash_by_subject(dir: &Path, record: Option<&Path>) -> (String, BTreeMap<String, String>) {
    let mut h = Sha256::new();
    let mut per: BTreeMap<String, Sha256> = BTreeMap::new();
    digests::for_each_file_digest(dir, record, |f, digest| {
        hash_entry(&mut h, f, digest);
        let mut parts = f.components();
        if let (Some(subject), Some(_)) = (parts.next(), parts.next()) {
            let subject = subject.as_os_str().to_string_lossy().into_owned();
            hash_entry(per.entry(subject).or_default(), f, digest);
        }
        Ok(())
    })
    .unwrap_or(0);
    let per = per
        .into_iter()
        .map(|(s, h)| (s, crate::hex::encode(&h.finalize())))
        .collect();
    (crate::hex::encode(&h.finalize()), per)
}

/// `tree_hash` of a site's tree with a keyed record (no path, no time written down: see
/// `digests::for_each_file_digest_keyed`); the same hash as without one.
fn tree_hash_keyed(dir: &Path, record: &Path, key: &[u8]) -> String {
    let mut h = Sha256::new();
    digests::for_each_file_digest_keyed(dir, record, key, |f, digest| {
        hash_entry(&mut h, f, digest);
        Ok(())
    })
    .unwrap_or(0);
    crate::hex::encode(&h.finalize())
}

/// One file's part of a tree hash: its relative path, then its size and SHA-256 when read.
fn hash_entry(h: &mut Sha256, f: &Path, digest: Option<(u64, [u8; 32])>) {
    h.update(f.to_string_lossy().as_bytes());
    if let Some((len, sha)) = digest {
        h.update(len.to_le_bytes());
        h.update(sha);
    }
}

/// `ancilla run`.
pub fn run_command(
    config: &Path,
    out: Option<&Path>,
    shard: Option<&str>,
    quiet: bool,
) -> Result<(), PipelineError> {
    // Its paths resolved from the config's absolute folder, as `merge` resolves them from the
    // path a shard's manifest keeps: shards run with a relative config path were refused as
    // "changed since the shards ran".
    let config = &std::fs::canonicalize(config).unwrap_or_else(|_| config.to_path_buf());
    let mut cfg = Config::load(config)?;
    if let Some(o) = out {
        cfg.output.dir = o.to_path_buf();
    }
    let shard = match shard {
        Some(s) => Some(Shard::parse(s).map_err(|e| PipelineError::Shard(e.to_string()))),
        None => Shard::from_slurm(&crate::shard::SlurmArray::from_env())
            .map(|r| r.map_err(|e| PipelineError::Shard(e.to_string()))),
    }
    .transpose()?;
    // A shard asked for is run as one, 1/1 too (a one-task Slurm array, a one-subject cohort's
    // Snakemake job): its folder is for `merge`, which needs its manifest.
    let mode = match shard {
        Some(s) => Mode::Shard(s),
        None => Mode::Whole,
    };
    execute(&cfg, config, mode, quiet)
}

/// SHA-256 of the config as it acts on the data: the output folder left out, so every shard of
/// one job (each with its own `--out`) and their merge agree.
fn config_digest(cfg: &Config) -> String {
    let mut c = cfg.clone();
    c.output.dir = PathBuf::new();
    sha256_hex(&serde_json::to_vec(&c).unwrap_or_default())
}

/// The digest of what a shard's stages read of the config: all of it but the output folder and
/// the cohort stages' sections ([clinical], [analysis]), which only the merge reads. Shards of
/// one digest merge; a change to [clinical] or [analysis] after they ran needs a new merge, not
/// new shards (on a cluster, not a new job array). Paths under the config's folder count
/// relative to it, as the config writes them: the study folder moved (another mount path on the
/// merging node) is the same config.
fn shard_config_digest(cfg: &Config, config: &Path) -> String {
    let mut c = cfg.clone();
    c.clinical = Default::default();
    c.analysis = Default::default();
    if let Some(base) = config.parent() {
        let relative = |p: &mut PathBuf| {
            if let Ok(r) = p.strip_prefix(base) {
                *p = r.to_path_buf();
            }
        };
        if let Some(i) = c.input.as_mut() {
            relative(&mut i.dicom);
            if let Some(m) = i.masks.as_mut() {
                relative(m);
            }
        }
        for p in [&mut c.deid.key, &mut c.deid.subjects, &mut c.deid.site_log]
            .into_iter()
            .flatten()
        {
            relative(p);
        }
    }
    config_digest(&c)
}
