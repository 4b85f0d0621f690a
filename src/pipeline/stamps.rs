//! Stages with stamps: a stage is skipped when its stamp holds the same key (a hash of what it
//! reads and how) and its outputs are as it left them (every one present, same files, sizes and
//! modification times); each stage's status, time and peak memory go into the provenance.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::{io_err, PipelineError};

/// A stage's record in the provenance.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct StageRecord {
    stage: &'static str,
    status: String,
    seconds: f64,
    /// Peak resident memory of the process from its start to the end of this stage (VmHWM;
    /// Linux only): where it steps up is the stage that set the run's peak.
    #[serde(skip_serializing_if = "Option::is_none")]
    peak_rss_mb: Option<f64>,
    /// For a stage found up to date, how the run that made its outputs recorded it (status and
    /// seconds): a rerun's provenance kept only "up to date, 0 s", the counts and times of the
    /// outputs present lost (a monitor's audit).
    #[serde(skip_serializing_if = "Option::is_none")]
    made_earlier: Option<serde_json::Value>,
}

/// VmHWM (peak resident set) of this process in MB, where /proc tells it.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kb / 1024.0 * 10.0).round() / 10.0)
}

/// A stage runner with stamps: a stage is skipped when its stamp holds the same key and its
/// outputs are still as it left them (every one present, same files, sizes and modification
/// times); an output deleted or changed since makes the stage run again.
pub(super) struct Runner {
    pub(super) out: PathBuf,
    pub(super) quiet: bool,
    pub(super) records: Vec<StageRecord>,
    /// After a merge of this many shards: the per-subject stages' outputs are already assembled,
    /// so those stages are stamped, not run.
    pub(super) merged_from: Option<usize>,
}

/// The stages whose outputs a merge assembles from the shards (the others run on the merge).
const PER_SUBJECT_STAGES: [&str; 5] = ["phantom", "scan", "deid", "convert", "features"];

impl Runner {
    fn stamp_path(&self, stage: &str) -> PathBuf {
        self.out.join(".stamps").join(format!("{stage}.sha256"))
    }

    pub(super) fn run<F>(
        &mut self,
        stage: &'static str,
        key: &str,
        outputs: &[&Path],
        f: F,
    ) -> Result<(), PipelineError>
    where
        F: FnOnce() -> Result<String, String>,
    {
        let stamp = self.stamp_path(stage);
        let expected = outputs_fingerprint(&self.out, outputs).map(|fp| format!("{key}\n{fp}\n"));
        // The stamp: the key and the outputs' fingerprint, then the record of the run that made
        // them (a stamp without one, of an earlier build, is as good).
        let stamped = std::fs::read_to_string(&stamp).ok();
        let made = expected.as_ref().and_then(|e| {
            let rest = stamped.as_deref()?.strip_prefix(e.as_str())?;
            Some(serde_json::from_str::<serde_json::Value>(rest.trim()).ok())
        });
        if let Some(made_earlier) = made {
            if !self.quiet {
                crate::say!("{stage:>9}: up to date");
            }
            self.records.push(StageRecord {
                stage,
                status: "up to date".into(),
                seconds: 0.0,
                peak_rss_mb: None,
                made_earlier,
            });
            return Ok(());
        }
        let t = Instant::now();
        let adopted = self
            .merged_from
            .filter(|_| PER_SUBJECT_STAGES.contains(&stage));
        if !self.quiet && adopted.is_none() {
            crate::say!("{stage:>9}: running");
        }
        let summary = match adopted {
            Some(n) => format!("merged from {n} shards"),
            None => f().map_err(|message| PipelineError::Stage { stage, message })?,
        };
        let peak = peak_rss_mb();
        crate::memory::release_freed_memory();
        let secs = t.elapsed().as_secs_f64();
        // A stage that left an output missing is not stamped: the next run tries it again.
        if let Some(fp) = outputs_fingerprint(&self.out, outputs) {
            let record = serde_json::json!({"status": summary, "seconds": secs});
            crate::atomic::write_bytes(&stamp, format!("{key}\n{fp}\n{record}\n").as_bytes())
                .map_err(io_err(&stamp))?;
        }
        if !self.quiet {
            crate::say!("{stage:>9}: {summary} ({secs:.2} s)");
        }
        self.records.push(StageRecord {
            stage,
            status: summary,
            seconds: secs,
            peak_rss_mb: peak,
            made_earlier: None,
        });
        Ok(())
    }

    /// A stage that failed on its inputs while the run goes on (link on clinical tables that do
    /// not validate): recorded, not stamped, so the rerun tries it again.
    pub(super) fn failed(&mut self, stage: &'static str, message: &str) {
        self.not_run(stage, "failed (below)", format!("failed: {message}"));
    }

    pub(super) fn not_available(&mut self, stage: &'static str, why: &str) {
        self.not_run(
            stage,
            &format!("skipped ({why})"),
            format!("skipped: {why}"),
        );
    }

    /// A stage that did not run: `shown` on the terminal, `status` in provenance.json.
    fn not_run(&mut self, stage: &'static str, shown: &str, status: String) {
        if !self.quiet {
            crate::say!("{stage:>9}: {shown}");
        }
        self.records.push(StageRecord {
            stage,
            status,
            seconds: 0.0,
            peak_rss_mb: None,
            made_earlier: None,
        });
    }
}

/// What a stage's outputs look like now: SHA-256 over each output's files (path, size,
/// modification time; metadata only, so checking an up-to-date stage reads no file). None when
/// an output is missing. Paths are taken relative to the run's output folder `root`, so the
/// same folder named another way (relative or absolute, moved or mounted elsewhere) is still
/// up to date.
pub(super) fn outputs_fingerprint(root: &Path, outputs: &[&Path]) -> Option<String> {
    let mut h = Sha256::new();
    for out in outputs {
        let meta = std::fs::metadata(out).ok()?;
        let mut files = if meta.is_dir() {
            crate::ingest::walk::walk(&[out.to_path_buf()]).files
        } else {
            vec![out.to_path_buf()]
        };
        files.sort();
        h.update(
            out.strip_prefix(root)
                .unwrap_or(out)
                .to_string_lossy()
                .as_bytes(),
        );
        for f in files {
            let m = std::fs::metadata(&f).ok()?;
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            h.update(
                f.strip_prefix(out)
                    .unwrap_or(&f)
                    .to_string_lossy()
                    .as_bytes(),
            );
            h.update(m.len().to_le_bytes());
            h.update(mtime.to_le_bytes());
        }
    }
    Some(crate::hex::encode(&h.finalize()))
}
