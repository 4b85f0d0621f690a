//! Pipeline orchestration (`ancilla run`): one TOML config runs the stages in order —
//! phantom (demo) → scan → deid → convert → features → link → analyze → report — each skipped
//! when its stamp says its inputs and config are unchanged, so a rerun after a kill finishes the
//! job and a no-op rerun is instant. `--shard I/N` runs the per-subject stages on one shard
//! (`crate::shard`); `merge` assembles the shards and runs the cohort stages. One run per output
//! folder (a lock); `provenance.json` records versions, hashes, times and rejections (no PHI).

pub mod config;
mod digests;
mod merge;
mod stages;
mod subject_cache;

pub use merge::merge_command;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value};
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

/// A stage's record in the provenance.
#[derive(Debug, Clone, serde::Serialize)]
struct StageRecord {
    stage: &'static str,
    status: String,
    seconds: f64,
    /// Peak resident memory of the process from its start to the end of this stage (VmHWM;
    /// Linux only): where it steps up is the stage that set the run's peak.
    #[serde(skip_serializing_if = "Option::is_none")]
    peak_rss_mb: Option<f64>,
}

/// VmHWM (peak resident set) of this process in MB, where /proc tells it.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kb / 1024.0 * 10.0).round() / 10.0)
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

/// A stage runner with stamps: a stage is skipped when its stamp holds the same key and its
/// outputs are still as it left them (every one present, same files, sizes and modification
/// times); an output deleted or changed since makes the stage run again.
struct Runner {
    out: PathBuf,
    quiet: bool,
    records: Vec<StageRecord>,
    /// After a merge of this many shards: the per-subject stages' outputs are already assembled,
    /// so those stages are stamped, not run.
    merged_from: Option<usize>,
}

/// The stages whose outputs a merge assembles from the shards (the others run on the merge).
const PER_SUBJECT_STAGES: [&str; 5] = ["phantom", "scan", "deid", "convert", "features"];

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

impl Runner {
    fn stamp_path(&self, stage: &str) -> PathBuf {
        self.out.join(".stamps").join(format!("{stage}.sha256"))
    }

    fn run<F>(
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
        if expected.is_some() && std::fs::read_to_string(&stamp).ok() == expected {
            if !self.quiet {
                eprintln!("{stage:>9}: up to date");
            }
            self.records.push(StageRecord {
                stage,
                status: "up to date".into(),
                seconds: 0.0,
                peak_rss_mb: None,
            });
            return Ok(());
        }
        let t = Instant::now();
        let adopted = self
            .merged_from
            .filter(|_| PER_SUBJECT_STAGES.contains(&stage));
        if !self.quiet && adopted.is_none() {
            eprintln!("{stage:>9}: running");
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
            crate::atomic::write_bytes(&stamp, format!("{key}\n{fp}\n").as_bytes())
                .map_err(io_err(&stamp))?;
        }
        if !self.quiet {
            eprintln!("{stage:>9}: {summary} ({secs:.2} s)");
        }
        self.records.push(StageRecord {
            stage,
            status: summary,
            seconds: secs,
            peak_rss_mb: peak,
        });
        Ok(())
    }

    /// A stage that failed on its inputs while the run goes on (link on clinical tables that do
    /// not validate): recorded, not stamped, so the rerun tries it again.
    fn failed(&mut self, stage: &'static str, message: &str) {
        if !self.quiet {
            eprintln!("{stage:>9}: failed (below)");
        }
        self.records.push(StageRecord {
            stage,
            status: format!("failed: {message}"),
            seconds: 0.0,
            peak_rss_mb: None,
        });
    }

    fn not_available(&mut self, stage: &'static str, why: &str) {
        if !self.quiet {
            eprintln!("{stage:>9}: skipped ({why})");
        }
        self.records.push(StageRecord {
            stage,
            status: format!("skipped: {why}"),
            seconds: 0.0,
            peak_rss_mb: None,
        });
    }
}

/// What a stage's outputs look like now: SHA-256 over each output's files (path, size,
/// modification time; metadata only, so checking an up-to-date stage reads no file). None when
/// an output is missing. Paths are taken relative to the run's output folder `root`, so the
/// same folder named another way (relative or absolute, moved or mounted elsewhere) is still
/// up to date.
fn outputs_fingerprint(root: &Path, outputs: &[&Path]) -> Option<String> {
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

/// Write `provenance.json`: the fields of `head`, then `released_files` (path relative to
/// `released` and SHA-256 of every file under it, sorted), streamed to the temporary file one
/// file at a time so the record of a large cohort is never held in memory.
fn write_provenance(
    path: &Path,
    head: &Value,
    released: &Path,
    record: &Path,
) -> std::io::Result<()> {
    use std::io::Write;
    let text = serde_json::to_string_pretty(head).map_err(std::io::Error::other)?;
    let open = text.trim_end().strip_suffix('}').unwrap_or("{").trim_end();
    crate::atomic::write_with(path, |tmp| {
        let mut w = std::io::BufWriter::new(std::fs::File::create(tmp)?);
        w.write_all(open.as_bytes())?;
        let comma = if open.ends_with('{') { "" } else { "," };
        write!(w, "{comma}\n  \"released_files\": [")?;
        let mut first = true;
        digests::for_each_file_digest(released, Some(record), |f, digest| {
            let Some((_, sha)) = digest else {
                return Ok(());
            };
            let name = f.to_string_lossy();
            let name = serde_json::to_string(&name).map_err(std::io::Error::other)?;
            let sep = if first { "" } else { "," };
            first = false;
            let hex = crate::hex::encode(&sha);
            write!(
                w,
                "{sep}\n    {{\n      \"file\": {name},\n      \"sha256\": \"{hex}\"\n    }}"
            )
        })?;
        w.write_all(if first { b"]\n}\n" } else { b"\n  ]\n}\n" })?;
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

/// A per-subject stage's note of the subjects it found up to date (none: nothing).
fn up_to_date_subjects(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => "; 1 subject up to date".into(),
        n => format!("; {n} subjects up to date"),
    }
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

/// The convert stage's per-subject state: a subject's report part is recalled when its key
/// (the build, gzip, its de-identified files) is the one it was converted with and its NIfTI
/// folder is as that conversion left it.
struct ConvertState<'a> {
    cache: subject_cache::SubjectCache,
    out_dir: &'a Path,
    nifti_dir: &'a Path,
    keys: BTreeMap<String, String>,
}

impl crate::convert::Remembered for ConvertState<'_> {
    fn recall(&self, subject: &str) -> Option<crate::convert::ConvertReport> {
        let key = self.keys.get(subject)?;
        let (fingerprint, part): (Option<String>, _) = self.cache.get(subject, key)?;
        let now = outputs_fingerprint(self.out_dir, &[&self.nifti_dir.join(subject)]);
        (now == fingerprint).then_some(part)
    }

    fn forget(&self, subject: &str) {
        self.cache.forget(subject);
    }

    fn remember(&self, subject: &str, part: &crate::convert::ConvertReport) {
        if let Some(key) = self.keys.get(subject) {
            let fingerprint = outputs_fingerprint(self.out_dir, &[&self.nifti_dir.join(subject)]);
            let _ = self.cache.put(subject, key, &(fingerprint, part));
        }
    }
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

/// The input files de-identification did not release (quarantined as possibly burned-in, of a
/// patient not in the subject map, not placeable...), as rejected inputs numbered as
/// `deid/deid-report.json` numbers them. A file the scan rejected already for the same reason
/// (not DICOM, truncated) is not listed twice.
fn not_released_by_deid(deid_dir: &Path, scan_rejected: &[Value]) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(deid_dir.join("deid-report.json")) else {
        return Vec::new();
    };
    let Ok(report) = serde_json::from_str::<Value>(&text) else {
        return Vec::new();
    };
    let mut scanned: HashMap<&str, usize> = HashMap::new();
    for r in scan_rejected.iter().filter(|r| r.get("kind").is_some()) {
        if let Some(why) = r["reason"].as_str() {
            *scanned.entry(why).or_default() += 1;
        }
    }
    let mut out = Vec::new();
    for n in report["not_released"].as_array().into_iter().flatten() {
        let Some(why) = n["reason"].as_str() else {
            continue;
        };
        match scanned.get_mut(why) {
            Some(left) if *left > 0 => *left -= 1,
            _ => out.push(
                json!({"stage": "deid", "kind": "not_released", "file": n["file"], "reason": why}),
            ),
        }
    }
    out
}

/// A warning of `stage` (what the config costs): said now unless quiet, kept for the report and
/// provenance.
fn warn(warnings: &mut Vec<Value>, quiet: bool, stage: &str, why: String) {
    if !quiet {
        eprintln!("{stage:>9}: warning: {why}");
    }
    warnings.push(json!({"stage": stage, "reason": why}));
}

/// Persist a stage's problems next to its outputs (so an up-to-date rerun reports them too).
fn write_problems(path: &Path, problems: &[Value]) -> Result<(), String> {
    crate::atomic::write_json(path, &problems).map_err(|e| e.to_string())
}

/// The problems a stage recorded (empty when none).
fn read_problems(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Vec<Value>>(&t).ok())
        .unwrap_or_default()
}

/// `ancilla run`.
pub fn run_command(
    config: &Path,
    out: Option<&Path>,
    shard: Option<&str>,
    quiet: bool,
) -> Result<(), PipelineError> {
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
/// new shards (on a cluster, not a new job array).
fn shard_config_digest(cfg: &Config) -> String {
    let mut c = cfg.clone();
    c.clinical = Default::default();
    c.analysis = Default::default();
    config_digest(&c)
}

/// Run the stages `mode` asks for on `cfg` (its output folder included).
fn execute(cfg: &Config, config: &Path, mode: Mode, quiet: bool) -> Result<(), PipelineError> {
    let out_dir = cfg.output.dir.clone();
    if let (None, Some(input)) = (&cfg.phantom, &cfg.input) {
        let misplaced = |key: &str, why: String| -> PipelineError {
            ConfigError::Invalid {
                path: config.to_path_buf(),
                message: format!("{key}: {why}"),
            }
            .into()
        };
        if crate::folders::lies_within(&out_dir, &input.dicom) {
            let why = crate::folders::inside_input_message(&out_dir, &input.dicom);
            return Err(misplaced("output.dir", why));
        }
        if let Some(log) = &cfg.deid.site_log {
            if crate::folders::lies_within(log, &out_dir) {
                let why = crate::folders::site_log_in_output_message(log, &out_dir);
                return Err(misplaced("deid.site_log", why));
            }
        }
    }
    // One run per output folder; then sweep what a killed run left half-written (temporary
    // siblings of any output, stamps included), so a rerun ends with exactly the outputs of an
    // uninterrupted run.
    let _lock =
        crate::atomic::DirLock::acquire_or(&out_dir, PipelineError::Busy, io_err(&out_dir))?;
    let swept = crate::atomic::remove_stale_temps(&out_dir);
    if swept > 0 && !quiet {
        eprintln!("      run: removed {swept} temporary file(s) left by an interrupted run");
    }
    let started = Instant::now();
    crate::memory::bounded_heap();
    let config_hash = config_digest(cfg);
    let version = env!("CARGO_PKG_VERSION");
    // Stage keys name the build, so a newer ancilla recomputes what its code may change.
    let build = format!(
        "{version}+{}",
        option_env!("ANCILLA_GIT_COMMIT").unwrap_or("unknown")
    );
    let mut runner = Runner {
        out: out_dir.clone(),
        quiet,
        records: Vec::new(),
        merged_from: match mode {
            Mode::Merged(n) => Some(n),
            _ => None,
        },
    };
    let shard = match mode {
        Mode::Shard(s) => Some(s),
        _ => None,
    };

    // Input: a phantom cohort (demo) or the site export.
    let input = match (&cfg.phantom, &cfg.input) {
        (Some(p), _) => {
            let cohort = out_dir.join("cohort");
            let key = sha256_hex(format!("phantom {build} {} {}", p.subjects, p.seed).as_bytes());
            let (subjects, seed) = (p.subjects, p.seed);
            // Not the whole cohort folder: the deid stage adds its site-side log to it.
            let made: Vec<PathBuf> = ["site-export", "masks", "clinical", "key.bin"]
                .iter()
                .map(|p| cohort.join(p))
                .collect();
            let made: Vec<&Path> = made.iter().map(PathBuf::as_path).collect();
            runner.run("phantom", &key, &made, || {
                let _ = std::fs::remove_dir_all(&cohort);
                crate::phantom::generate(&crate::phantom::PhantomOptions {
                    out: cohort.clone(),
                    subjects,
                    seed,
                    dicom_rois: false,
                })
                .map(|s| format!("{} subjects, {} files", s.subjects, s.files))
                .map_err(|e| e.to_string())
            })?;
            cohort.join("site-export")
        }
        (None, Some(i)) => i.dicom.clone(),
        (None, None) => unreachable!("Config::load requires an input"),
    };
    let record = |name: &str| out_dir.join(".stamps").join(format!("digests-{name}.tsv"));
    // The input's digests are remembered under names keyed with the study key (its relative
    // paths and file times are the site's: PHI in folder names, real dates), so a rerun reads
    // only what changed; without a readable key, every file is read each time.
    // The study key: the demo cohort's, else the config's (real data refuse to run without one,
    // below). Read once: it also keys the stages it acts on.
    let key_file = match (&cfg.phantom, &cfg.deid.key) {
        (Some(_), _) => Some(out_dir.join("cohort").join("key.bin")),
        (None, k) => k.clone(),
    };
    let study_key = key_file.as_ref().and_then(|k| std::fs::read(k).ok());
    let input_hash = match &study_key {
        Some(k) => tree_hash_keyed(&input, &record("input"), k),
        None => tree_hash(&input, None),
    };

    // What de-identification works with (known before the scan, which names the subjects the
    // subject map names): every later stage reads only the de-identified tree.
    let (key, subject_map, masks, clinical) = match (&cfg.phantom, &cfg.input, key_file) {
        (Some(_), _, Some(key)) => {
            let c = out_dir.join("cohort");
            (
                key,
                c.join("clinical/subject_map.csv"),
                Some(c.join("masks")),
                Some((
                    c.join("clinical/adsl.csv"),
                    c.join("clinical/adtte.csv"),
                    c.join("clinical/pathology.csv"),
                )),
            )
        }
        (None, Some(i), key) => {
            let (Some(k), Some(m)) = (key, cfg.deid.subjects.clone()) else {
                return Err(PipelineError::Config(ConfigError::Invalid {
                    path: config.to_path_buf(),
                    message: "[deid] key and subjects are required for real data (nothing leaves the site un-de-identified)".into(),
                }));
            };
            let clinical = match (
                &cfg.clinical.adsl,
                &cfg.clinical.adtte,
                &cfg.clinical.pathology,
            ) {
                (Some(a), Some(t), Some(p)) => Some((a.clone(), t.clone(), p.clone())),
                _ => None,
            };
            (k, m, i.masks.clone(), clinical)
        }
        (Some(_), _, None) => unreachable!("the demo's key is the cohort's"),
        (None, None, _) => unreachable!("Config::load requires an input"),
    };
    // Scan: the PHI-free inventory.
    let inventory_path = out_dir.join("inventory.json");
    let mut rejected: Vec<Value> = Vec::new();
    // What the config or the masks cost, not inputs rejected: in the report and provenance.
    let mut warnings: Vec<Value> = Vec::new();
    let map_hash = sha256_hex(&std::fs::read(&subject_map).unwrap_or_default());
    let scan_key = sha256_hex(format!("scan {build} {input_hash} {map_hash}").as_bytes());
    runner.run("scan", &scan_key, &[&inventory_path], || {
        let inv =
            crate::ingest::scan_paths(std::slice::from_ref(&input)).map_err(|e| e.to_string())?;
        // Subjects by their USUBJID, as every later stage names them (a map the deid stage will
        // refuse leaves them numbered).
        let map = crate::deid::read_subject_map(&subject_map).unwrap_or_default();
        let doc = crate::ingest::inventory_json_named(&inv, |pid| map.get(pid).cloned());
        crate::atomic::write_json(&inventory_path, &doc).map_err(|e| e.to_string())?;
        Ok(format!(
            "{} files, {} series, {} files rejected",
            inv.files_seen,
            inv.series.len(),
            inv.files_rejected()
        ))
    })?;
    if let Ok(text) = std::fs::read_to_string(&inventory_path) {
        if let Ok(doc) = serde_json::from_str::<Value>(&text) {
            if let Some(r) = doc.get("rejected_files").and_then(Value::as_array) {
                rejected.extend(r.iter().cloned());
            }
            if let Some(series) = doc.get("series").and_then(Value::as_array) {
                rejected.extend(
                    series
                        .iter()
                        .filter(|s| !s["problem"].is_null())
                        .map(|s| json!({"series": s["series"], "subject": s["subject"], "reason": s["problem"]})),
                );
            }
        }
    }

    let deid_dir = out_dir.join("deid");
    let deid_options = crate::deid::DeidOptionsSet {
        retain_longitudinal_modified_dates: cfg
            .deid
            .retain_longitudinal_modified_dates
            .unwrap_or(true),
        retain_patient_characteristics: cfg.deid.retain_patient_characteristics.unwrap_or(true),
        retain_safe_private: cfg.deid.retain_safe_private.unwrap_or(true),
        clean_descriptors: cfg.deid.clean_descriptors.unwrap_or(true),
    };
    let key_hash = sha256_hex(study_key.as_deref().unwrap_or_default());
    let shard_label = shard.map(|s| s.to_string()).unwrap_or_default();
    let deid_key = sha256_hex(
        format!("deid {build} {input_hash} {key_hash} {map_hash} {deid_options:?} {shard_label}")
            .as_bytes(),
    );
    runner.run("deid", &deid_key, &[&deid_dir], || {
        let s = crate::deid::run_with(
            &crate::deid::DeidOptions {
                input: input.clone(),
                out: deid_dir.clone(),
                key: key.clone(),
                subjects: subject_map.clone(),
                config: None,
                // Input paths are PHI: the site log goes to the site side, never under the output.
                site_log: match &cfg.phantom {
                    Some(_) => Some(out_dir.join("cohort").join("deid-site-log.tsv")),
                    None => cfg.deid.site_log.clone(),
                },
                shard,
            },
            deid_options,
            true,
        )
        .map_err(|e| e.to_string())?;
        if s.verification_failures > 0 {
            return Err(format!(
                "{} files failed the PHI check and were not written",
                s.verification_failures
            ));
        }
        Ok(format!(
            "{} released, {} already done, {} duplicates, {} not released{}",
            s.released,
            s.already_done,
            s.duplicates,
            s.not_released,
            match s.withdrawn {
                0 => String::new(),
                n => format!(", {n} earlier release(s) withdrawn"),
            }
        ))
    })?;
    rejected.extend(not_released_by_deid(&deid_dir, &rejected));
    for why in deid_options.what_is_lost() {
        warn(&mut warnings, quiet, "deid", why);
    }
    // A shard may own no subject at all: its later stages see an empty tree.
    std::fs::create_dir_all(&deid_dir).map_err(io_err(&deid_dir))?;
    let (deid_hash, subject_hashes) = tree_hash_by_subject(&deid_dir, Some(&record("deid")));

    // Convert: NIfTI + sidecars (subjects named by USUBJID: the input is de-identified).
    let nifti_dir = out_dir.join("nifti");
    let convert_key =
        sha256_hex(format!("convert {build} {deid_hash} {}", cfg.convert.gzip).as_bytes());
    let gzip = cfg.convert.gzip;
    // Per subject: a subject whose de-identified files are as they were is not converted again.
    let convert_state = ConvertState {
        cache: subject_cache::SubjectCache::new(&out_dir, "convert"),
        out_dir: &out_dir,
        nifti_dir: &nifti_dir,
        keys: subject_hashes
            .iter()
            .map(|(s, h)| {
                (
                    s.clone(),
                    sha256_hex(format!("convert {build} {gzip} {h}").as_bytes()),
                )
            })
            .collect(),
    };
    runner.run("convert", &convert_key, &[&nifti_dir], || {
        // The folders of subjects no longer released go (a withdrawn subject's images).
        for e in std::fs::read_dir(&nifti_dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() && !subject_hashes.contains_key(&name) {
                let _ = std::fs::remove_dir_all(e.path());
                convert_state.cache.forget(&name);
            }
        }
        crate::convert::convert_per_subject_with(
            &deid_dir,
            &nifti_dir,
            gzip,
            true,
            Some(&convert_state),
        )
        .map(|r| {
            format!(
                "{} NIfTI files, {} series not converted{}",
                r.converted.len(),
                r.not_converted.len(),
                up_to_date_subjects(r.recalled)
            )
        })
        .map_err(|e| e.to_string())
    })?;

    // Features: per subject, PET (SUVbw), T2 and ADC with the ROI label maps, or else the DICOM
    // SEG / RTSTRUCT of the export that shares a series' frame of reference.
    let features_path = out_dir.join("features").join("features.csv");
    let features_problems = out_dir.join("features").join("problems.json");
    let link_problems = out_dir.join("analysis").join("link-warnings.json");
    let labels = cfg.rois.label_table();
    for why in crate::quant::pet::missing_region_names(labels.values().map(String::as_str)) {
        warn(&mut warnings, quiet, "features", why);
    }
    if masks.is_none() {
        let why = "no [input] masks: a series is measured only on a DICOM SEG or RTSTRUCT of the \
                   export that shares its frame of reference";
        warn(&mut warnings, quiet, "features", why.to_string());
    }
    let pet_settings = crate::quant::FeatureSettings {
        suv_thresholds: cfg.rois.mtv_suv_thresholds.clone(),
        texture_bin_width: cfg.rois.texture_bin_width.clone(),
    };
    let features_key = sha256_hex(
        format!(
            "features {build} {deid_hash} {convert_key} {} {:?} {:?} {:?}",
            masks
                .as_deref()
                .map(|m| tree_hash(m, None))
                .unwrap_or_default(),
            labels,
            pet_settings.suv_thresholds,
            pet_settings.texture_bin_width
        )
        .as_bytes(),
    );
    let written = [
        features_path.clone(),
        features_path.with_extension("parquet"),
        features_path.with_file_name("features.dictionary.csv"),
        features_path.with_file_name("imaging.csv"),
        features_problems.clone(),
    ];
    let written: Vec<&Path> = written.iter().map(PathBuf::as_path).collect();
    // Per subject: what it is computed from (the build, the settings, its de-identified files,
    // from which its NIfTI files are made, and its label maps).
    let features_cache = subject_cache::SubjectCache::new(&out_dir, "features");
    let settings = format!(
        "features {build} {gzip} {labels:?} {:?} {:?}",
        pet_settings.suv_thresholds, pet_settings.texture_bin_width
    );
    let subject_key = |subject: &str| -> Option<String> {
        let h = subject_hashes.get(subject)?;
        let m = masks
            .as_deref()
            .map(|m| m.join(subject))
            .filter(|m| m.is_dir())
            .map(|m| tree_hash(&m, None))
            .unwrap_or_default();
        Some(sha256_hex(format!("{settings} {h} {m}").as_bytes()))
    };
    runner.run("features", &features_key, &written, || {
        stages::features(
            &deid_dir,
            &nifti_dir,
            masks.as_deref(),
            &labels,
            &pet_settings,
            &features_path,
            Some((&features_cache, &subject_key)),
        )
        .and_then(|(rows, problems, recalled)| {
            write_problems(&features_problems, &problems)?;
            Ok(format!(
                "{rows} feature rows{}",
                up_to_date_subjects(recalled)
            ))
        })
    })?;
    let (warned, failed): (Vec<Value>, Vec<Value>) = read_problems(&features_problems)
        .into_iter()
        .partition(|p| p["warning"] == true);
    rejected.extend(failed);
    warnings.extend(warned);

    // Link and analyze.
    let table = out_dir.join("analysis").join("analysis_table.csv");
    let mut have_table = false;
    // The cohort stage that failed on its inputs, and why (link: clinical tables that do not
    // validate; analyze: an endpoint the table lacks): the run goes on to write the imaging
    // run's report and the provenance, then fails.
    let mut cohort_failed: Option<(&'static str, String)> = None;
    match (&clinical, shard.is_none()) {
        (Some((adsl, adtte, path)), true) => {
            let hash = |p: &PathBuf| sha256_hex(&std::fs::read(p).unwrap_or_default());
            let imaging_path = features_path.with_file_name("imaging.csv");
            let imaging = imaging_path.is_file().then(|| imaging_path.clone());
            let procedures = cfg.clinical.procedures.clone();
            let arm = cfg.clinical.arm.clone();
            let exclude_series = cfg.clinical.exclude_series.clone();
            let link_key = sha256_hex(
                format!(
                    "link {build} {} {} {} {} {} {key_hash} {} {arm:?} {exclude_series:?}",
                    hash(&features_path),
                    hash(adsl),
                    hash(adtte),
                    hash(path),
                    hash(&imaging_path),
                    procedures.as_ref().map(hash).unwrap_or_default(),
                )
                .as_bytes(),
            );
            let deid_key_file = key.clone();
            let parquet = table.with_extension("parquet");
            let series_used = crate::clinical::series_used_path(&table);
            let linked = runner.run(
                "link",
                &link_key,
                &[&table, &parquet, &series_used, &link_problems],
                || {
                    crate::clinical::link_tables(&crate::clinical::LinkOptions {
                        features: features_path.clone(),
                        subjects: adsl.clone(),
                        tte: adtte.clone(),
                        pathology: path.clone(),
                        out: table.clone(),
                        // Imaging dates are shifted; the key shifts ADSL's dates the same way.
                        key: imaging.as_ref().map(|_| deid_key_file.clone()),
                        imaging: imaging.clone(),
                        procedures: procedures.clone(),
                        arm: arm.clone(),
                        exclude_series: exclude_series.clone(),
                    })
                    .map_err(|e| {
                        // Written into the report and provenance: tables by file name (a site's
                        // folders may name a person).
                        let mut message = e.to_string();
                        for p in [adsl, adtte, path, &features_path, &imaging_path]
                            .into_iter()
                            .chain(procedures.as_ref())
                        {
                            if let Some(name) = p.file_name() {
                                let name = name.to_string_lossy();
                                message = message.replace(&p.display().to_string(), &name);
                            }
                        }
                        message
                    })
                    .and_then(|s| {
                        // Subjects kept out are rejected inputs; the rest are warnings.
                        let problems: Vec<Value> =
                            s.kept_out
                                .iter()
                                .map(|w| json!({"stage": "link", "reason": w}))
                                .chain(s.warnings.iter().map(
                                    |w| json!({"stage": "link", "reason": w, "warning": true}),
                                ))
                                .collect();
                        write_problems(&link_problems, &problems)?;
                        Ok(format!(
                            "{} arm-{arm} subjects, {} feature columns, {} kept out, {} warning(s)",
                            s.subjects,
                            s.features,
                            s.kept_out.len(),
                            s.warnings.len()
                        ))
                    })
                },
            );
            match linked {
                Ok(()) => {
                    let (warned, kept_out): (Vec<Value>, Vec<Value>) =
                        read_problems(&link_problems)
                            .into_iter()
                            .partition(|p| p["warning"] == true);
                    rejected.extend(kept_out);
                    warnings.extend(warned);
                    have_table = true;
                }
                Err(PipelineError::Stage { stage, message }) => {
                    runner.failed(stage, &message);
                    cohort_failed = Some((stage, message));
                }
                Err(e) => return Err(e),
            }
        }
        _ if shard.is_some() => runner.not_available("link", "runs on the merge of the shards"),
        _ => runner.not_available("link", "no [clinical] tables"),
    }
    if have_table {
        let stats_dir = out_dir.join("analysis");
        let key = sha256_hex(
            format!(
                "analyze {build} {} {} {}",
                sha256_hex(&std::fs::read(&table).unwrap_or_default()),
                cfg.analysis.time,
                cfg.analysis.event
            )
            .as_bytes(),
        );
        let key =
            sha256_hex(format!("{key} {} {:?}", cfg.analysis.ci, cfg.analysis.cutoffs).as_bytes());
        let (time, event) = (cfg.analysis.time.clone(), cfg.analysis.event.clone());
        let ci = crate::stats::km::CiMethod::parse(&cfg.analysis.ci)
            .unwrap_or(crate::stats::km::CiMethod::LogLog);
        let cutoffs = cfg.analysis.cutoffs.clone();
        let written = [stats_dir.join("stats.json"), stats_dir.join("summary.md")];
        let analysed = runner.run("analyze", &key, &[&written[0], &written[1]], || {
            crate::stats::analyze(&crate::stats::AnalyzeOptions {
                table: table.clone(),
                out: stats_dir.clone(),
                time,
                event,
                ci,
                cutoffs,
            })
            .map(|_| "stats.json, summary.md".to_string())
            // Paths inside the output folder, relative to it.
            .map_err(|e| {
                e.to_string()
                    .replace(&format!("{}/", out_dir.display()), "")
            })
        });
        match analysed {
            Ok(()) => {}
            Err(PipelineError::Stage { stage, message }) => {
                runner.failed(stage, &message);
                cohort_failed = Some((stage, message));
            }
            Err(e) => return Err(e),
        }
    } else if shard.is_some() {
        runner.not_available("analyze", "runs on the merge of the shards");
    } else if cohort_failed.is_some() {
        runner.not_available("analyze", "link failed");
    } else {
        runner.not_available("analyze", "no analysis table");
    }

    // Report.
    let stats_path = out_dir.join("analysis").join("stats.json");
    // Without clinical tables, or when link or analyze failed, the report is the imaging run's:
    // flow, QC gallery, warnings (never the statistics of an earlier run).
    let analysed = have_table && cohort_failed.is_none() && stats_path.is_file();
    if shard.is_none() && (analysed || !have_table || cohort_failed.is_some()) {
        // The QC gallery outlines the region named tumor.
        let tumor_label: Option<u32> = cfg
            .rois
            .label_table()
            .into_iter()
            .find_map(|(n, name)| (name == "tumor").then_some(n));
        // Analysed: the statistics and the table; else the features the flow counts.
        let hash_of = |p: &Path| sha256_hex(&std::fs::read(p).unwrap_or_default());
        let inputs = if analysed {
            format!("{} {}", hash_of(&stats_path), hash_of(&table))
        } else {
            hash_of(&out_dir.join("features").join("features.csv"))
        };
        let not_run = match &cohort_failed {
            Some(("link", message)) => format!("the clinical tables did not link: {message}"),
            Some((_, message)) => format!("the analysis failed: {message}"),
            None => "the run had no clinical tables ([clinical] adsl, adtte, pathology).".into(),
        };
        let key = sha256_hex(
            format!(
                "report {build} {analysed} {tumor_label:?} {:?} {inputs} {not_run:?} {}",
                cfg.clinical.arm,
                sha256_hex(
                    serde_json::to_string(&(&rejected, &warnings))
                        .unwrap_or_default()
                        .as_bytes()
                )
            )
            .as_bytes(),
        );
        let adsl = clinical
            .as_ref()
            .map(|c| (c.0.clone(), cfg.clinical.arm.clone()));
        let masks_dir = match (&cfg.phantom, &cfg.input) {
            (Some(_), _) => Some(out_dir.join("cohort/masks")),
            (None, Some(i)) => i.masks.clone(),
            _ => None,
        };
        let rej: Vec<Value> = rejected.iter().chain(&warnings).cloned().collect();
        let od = out_dir.clone();
        let html = out_dir.join("report.html");
        runner.run("report", &key, &[&html], || {
            stages::report(
                &od,
                analysed.then_some((stats_path.as_path(), table.as_path())),
                adsl.as_ref().map(|(p, arm)| (p.as_path(), arm.as_str())),
                masks_dir.as_deref(),
                tumor_label,
                &rej,
                &not_run,
            )
        })?;
    } else if shard.is_some() {
        runner.not_available("report", "runs on the merge of the shards");
    } else {
        runner.not_available("report", "no statistics");
    }

    let provenance = json!({
        "tool": "ancilla",
        "version": version,
        "git_commit": option_env!("ANCILLA_GIT_COMMIT").unwrap_or("unknown"),
        "config_sha256": config_hash,
        "shard": shard.map(|s| s.to_string()),
        "input_sha256": input_hash,
        "stages": runner.records,
        "rejected_inputs": rejected,
        "warnings": warnings,
        "total_seconds": started.elapsed().as_secs_f64(),
    });
    let p = out_dir.join("provenance.json");
    write_provenance(&p, &provenance, &deid_dir, &record("deid")).map_err(io_err(&p))?;
    if let Some((stage, message)) = cohort_failed {
        return Err(PipelineError::Stage { stage, message });
    }
    if let Some(shard) = shard {
        // Written last: a shard folder without it is unfinished, and the merge refuses it.
        let owned = crate::deid::read_subject_map(&subject_map)
            .map(|m| shard.subjects(m.values()))
            .unwrap_or_default();
        let digest = shard_config_digest(cfg);
        merge::write_manifest(&out_dir, shard, &build, &digest, config, &owned)?;
    }
    if !quiet {
        eprintln!(
            "run: done in {:.2} s; outputs in {}",
            started.elapsed().as_secs_f64(),
            out_dir.display()
        );
    }
    Ok(())
}
