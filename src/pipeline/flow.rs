//! One run of the pipeline (`execute`), stage by stage in order — the input (the demo's phantom
//! cohort, or the site's export) → scan → deid → convert → features → link → analyze → report —
//! then `provenance.json` (and a shard's manifest). Each stage is keyed by a hash of what it
//! reads and how, and stamped (`stamps::Runner`); what the stages find (inputs rejected and why,
//! what the config costs) is gathered for the report and the provenance.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value};

use super::stamps::outputs_fingerprint;
use super::stamps::Runner;
use super::{
    config_digest, features_stage, io_err, merge, report_stage, sha256_hex, shard_config_digest,
    subject_cache, tree_hash, tree_hash_by_subject, tree_hash_keyed, write_provenance, Config,
    ConfigError, Mode, PipelineError,
};
use crate::shard::Shard;

/// The study's files that de-identification and the later stages read.
struct StudyFiles {
    key: PathBuf,
    subject_map: PathBuf,
    /// ROI label maps, a folder per subject.
    masks: Option<PathBuf>,
    /// ADSL, ADTTE and pathology.
    clinical: Option<(PathBuf, PathBuf, PathBuf)>,
}

/// The de-identified tree and its hashes, which key every later stage.
struct Released {
    dir: PathBuf,
    hash: String,
    /// Each subject folder's hash.
    subjects: BTreeMap<String, String>,
}

/// The converted tree and the key it was made under.
struct Converted {
    dir: PathBuf,
    key: String,
}

/// How the cohort stages (link, analyze) ended.
struct Cohort {
    table: PathBuf,
    have_table: bool,
    /// The cohort stage that failed on its inputs, and why (link: clinical tables that do not
    /// validate; analyze: an endpoint the table lacks): the run goes on to write the imaging
    /// run's report and the provenance, then fails.
    failed: Option<(&'static str, String)>,
}

/// One run: its config, where its outputs go, what keys its stamps, what its stages found.
struct Flow<'a> {
    cfg: &'a Config,
    /// The config file (a misplaced folder is reported against it).
    config: &'a Path,
    out_dir: PathBuf,
    /// Version and commit: stage keys name the build, so a newer ancilla recomputes what its
    /// code may change.
    build: String,
    quiet: bool,
    shard: Option<Shard>,
    runner: Runner,
    /// Inputs not used, and why.
    rejected: Vec<Value>,
    /// What the config or the masks cost, not inputs rejected: in the report and provenance.
    warnings: Vec<Value>,
}

/// Run the stages `mode` asks for on `cfg` (its output folder included).
pub(super) fn execute(
    cfg: &Config,
    config: &Path,
    mode: Mode,
    quiet: bool,
) -> Result<(), PipelineError> {
    let out_dir = cfg.output.dir.clone();
    check_placement(cfg, config, &out_dir)?;
    // One run per output folder; then sweep what a killed run left half-written (temporary
    // siblings of any output, stamps included), so a rerun ends with exactly the outputs of an
    // uninterrupted run.
    let _lock =
        crate::atomic::DirLock::acquire_or(&out_dir, PipelineError::Busy, io_err(&out_dir))?;
    let swept = crate::atomic::remove_stale_temps(&out_dir);
    // A shard's manifest says it finished: a rerun takes it away before it changes anything, so
    // that one killed or failed on the way is unfinished to the merge (the earlier run's manifest
    // let a merge take a half-rerun shard, and a series since withdrawn from the export, as done).
    if matches!(mode, Mode::Shard(_)) {
        let manifest = out_dir.join(merge::MANIFEST);
        match std::fs::remove_file(&manifest) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io_err(&manifest)(e));
            }
            _ => {}
        }
    }
    if swept > 0 && !quiet {
        crate::say!(
            "      run: removed {} left by an interrupted run",
            crate::plural::count(swept, "temporary file")
        );
    }
    let started = Instant::now();
    crate::memory::bounded_heap();
    let config_hash = config_digest(cfg);
    let version = env!("CARGO_PKG_VERSION");
    let build = format!(
        "{version}+{}",
        option_env!("ANCILLA_GIT_COMMIT").unwrap_or("unknown")
    );
    let mut flow = Flow {
        cfg,
        config,
        out_dir: out_dir.clone(),
        build,
        quiet,
        shard: match mode {
            Mode::Shard(s) => Some(s),
            _ => None,
        },
        runner: Runner {
            out: out_dir.clone(),
            quiet,
            records: Vec::new(),
            merged_from: match mode {
                Mode::Merged(n) => Some(n),
                _ => None,
            },
        },
        rejected: Vec::new(),
        warnings: Vec::new(),
    };

    let input = flow.input()?;
    // The input's digests are remembered under names keyed with the study key (its relative
    // paths and file times are the site's: PHI in folder names, real dates), so a rerun reads
    // only what changed; without a readable key, every file is read each time.
    // The study key: the demo cohort's, else the config's (real data refuse to run without one,
    // in `study_files`). Read once: it also keys the stages it acts on.
    let key_file = match (&cfg.phantom, &cfg.deid.key) {
        (Some(_), _) => Some(out_dir.join("cohort").join("key.bin")),
        (None, k) => k.clone(),
    };
    let study_key = key_file
        .as_ref()
        .and_then(|k| crate::bounded::read_at_most(k, 1 << 20, "a key").ok());
    let input_hash = match &study_key {
        Some(k) => tree_hash_keyed(&input, &flow.record("input"), k),
        None => tree_hash(&input, None),
    };
    let key_hash = sha256_hex(study_key.as_deref().unwrap_or_default());
    let study = flow.study_files(key_file)?;
    flow.clinical_tables_present(&study)?;
    let map_hash = flow.scan(&input, &input_hash, &study)?;
    let released = flow.deid(&input, &input_hash, &map_hash, &key_hash, &study)?;
    let converted = flow.convert(&released)?;
    let features_path = flow.features(&study, &released, &converted)?;
    let cohort = flow.cohort(&study, &features_path, &key_hash)?;
    flow.report(&study, &cohort)?;

    // The clinical tables as they were read, each by its HMAC-SHA256 under the study key (a
    // plain hash of a one-row table could be matched against guessed dates). Absent where a
    // table is not there.
    let mut clinical_hmac = serde_json::Map::new();
    if let (Some((adsl, adtte, pathology)), Some(key)) = (&study.clinical, &study_key) {
        let procedures = cfg.clinical.procedures.as_ref();
        for (name, path) in [
            ("adsl", Some(adsl)),
            ("adtte", Some(adtte)),
            ("pathology", Some(pathology)),
            ("procedures", procedures),
        ] {
            if let Some(bytes) = path.and_then(|p| std::fs::read(p).ok()) {
                let mac = crate::deid::keyed::hmac(key, &[b"ancilla clinical table", &bytes]);
                clinical_hmac.insert(name.into(), json!(crate::hex::encode(&mac)));
            }
        }
    }
    let provenance = json!({
        "tool": "ancilla",
        "version": version,
        "git_commit": option_env!("ANCILLA_GIT_COMMIT").unwrap_or("unknown"),
        "config_sha256": config_hash,
        // The file as written, as `sha256sum` gives it (config_sha256 is of the config as read,
        // its paths resolved: the same settings from another folder hash otherwise).
        "config_file_sha256": sha256_hex(&std::fs::read(config).unwrap_or_default()),
        "shard": flow.shard.map(|s| s.to_string()),
        "input_sha256": input_hash,
        "clinical_hmac_sha256": clinical_hmac,
        "stages": flow.runner.records,
        "rejected_inputs": flow.rejected,
        "warnings": flow.warnings,
        "total_seconds": started.elapsed().as_secs_f64(),
    });
    let p = out_dir.join("provenance.json");
    let written = write_provenance(&p, &provenance, &out_dir, &released.dir, &|part| {
        flow.record(part)
    });
    if let Some((stage, message)) = cohort.failed {
        // The stage's own reason first: a provenance that could not be written either (a full
        // disk) had replaced it, and the terminal said "failed (below)" with nothing below.
        let message = match written {
            Ok(()) => message,
            Err(e) => format!("{message}; and cannot write {}: {e}", p.display()),
        };
        return Err(PipelineError::Stage { stage, message });
    }
    written.map_err(io_err(&p))?;
    if let Some(shard) = flow.shard {
        // Written last: a shard folder without it is unfinished, and the merge refuses it.
        let owned = crate::deid::read_subject_map(&study.subject_map)
            .map(|m| shard.subjects(m.values()))
            .unwrap_or_default();
        let digest = shard_config_digest(cfg, config);
        let outputs = merge::shard_outputs(&out_dir, Some(&flow.record("deid")));
        merge::write_manifest(
            &out_dir,
            shard,
            &flow.build,
            &digest,
            config,
            &owned,
            outputs,
        )?;
    }
    // The final summary, also under --quiet (its help: "errors, warnings and the final summary
    // only").
    crate::say!(
        "run: done in {:.2} s; outputs in {}",
        started.elapsed().as_secs_f64(),
        out_dir.display()
    );
    Ok(())
}

/// The output folder must not lie inside the site's export, nor the site-side log (input paths:
/// PHI) inside the output.
fn check_placement(cfg: &Config, config: &Path, out_dir: &Path) -> Result<(), PipelineError> {
    let misplaced = |key: &str, why: String| -> PipelineError {
        ConfigError::Invalid {
            path: config.to_path_buf(),
            message: format!("{key}: {why}"),
        }
        .into()
    };
    // A folder of the run's own: not the file system's root, nor a folder that holds the config
    // (`dir = "/"` wrote the phantom's fake-PHI export and every output into /; `dir = "."` among
    // the user's files, whose temporary-looking names a rerun's sweep would take).
    let root = std::path::absolute(out_dir)
        .ok()
        .is_some_and(|a| a.parent().is_none());
    if root || crate::folders::lies_within(config, out_dir) {
        return Err(misplaced(
            "output.dir",
            format!(
                "the output folder {} {}: name a folder of the run's own (it is created)",
                out_dir.display(),
                if root {
                    "is the file system's root"
                } else {
                    "holds the config file itself"
                }
            ),
        ));
    }
    let (None, Some(input)) = (&cfg.phantom, &cfg.input) else {
        return Ok(());
    };
    // The masks folder is an input tree too: outputs in it were read as masks, and changed its
    // digest, so no rerun was ever up to date (an operations audit).
    for tree in std::iter::once(&input.dicom).chain(&input.masks) {
        if crate::folders::lies_within(out_dir, tree) {
            let why = crate::folders::inside_input_message(out_dir, tree);
            return Err(misplaced("output.dir", why));
        }
    }
    if let Some(log) = &cfg.deid.site_log {
        let mut inputs = vec![("the pipeline config", config)];
        inputs.extend(cfg.deid.key.as_deref().map(|k| ("deid.key", k)));
        inputs.extend(cfg.deid.subjects.as_deref().map(|m| ("deid.subjects", m)));
        for (name, table) in [
            ("clinical.adsl", cfg.clinical.adsl.as_deref()),
            ("clinical.adtte", cfg.clinical.adtte.as_deref()),
            ("clinical.pathology", cfg.clinical.pathology.as_deref()),
            ("clinical.procedures", cfg.clinical.procedures.as_deref()),
        ] {
            inputs.extend(table.map(|t| (name, t)));
        }
        if let Some(why) = crate::folders::overwritten_input(&[log], &inputs) {
            return Err(misplaced("deid.site_log", why));
        }
        if crate::folders::lies_within(log, out_dir) {
            let why = crate::folders::site_log_in_output_message(log, out_dir);
            return Err(misplaced("deid.site_log", why));
        }
        for tree in std::iter::once(&input.dicom).chain(&input.masks) {
            if crate::folders::lies_within(log, tree) {
                let why = crate::folders::site_log_in_input_message(log, tree);
                return Err(misplaced("deid.site_log", why));
            }
        }
    }
    Ok(())
}

impl Flow<'_> {
    /// Where the digests of a tree (`input`, `deid`) are remembered between runs.
    fn record(&self, name: &str) -> PathBuf {
        self.out_dir
            .join(".stamps")
            .join(format!("digests-{name}.tsv"))
    }

    /// A warning of `stage` (what the config costs): said now unless quiet, kept for the report
    /// and provenance.
    fn warn(&mut self, stage: &str, why: String) {
        if !self.quiet {
            crate::say!("{stage:>9}: warning: {why}");
        }
        self.warnings.push(json!({"stage": stage, "reason": why}));
    }

    /// The input: a phantom cohort (demo), generated by its stage, or the site export.
    fn input(&mut self) -> Result<PathBuf, PipelineError> {
        let Some(p) = &self.cfg.phantom else {
            return match &self.cfg.input {
                Some(i) => Ok(i.dicom.clone()),
                None => unreachable!("Config::load requires an input"),
            };
        };
        let cohort = self.out_dir.join("cohort");
        let key =
            sha256_hex(format!("phantom {} {} {}", self.build, p.subjects, p.seed).as_bytes());
        let (subjects, seed) = (p.subjects, p.seed);
        // Not the whole cohort folder: the deid stage adds its site-side log to it.
        let made: Vec<PathBuf> = ["site-export", "masks", "clinical", "key.bin"]
            .iter()
            .map(|p| cohort.join(p))
            .collect();
        let made: Vec<&Path> = made.iter().map(PathBuf::as_path).collect();
        self.runner.run("phantom", &key, &made, || {
            let _ = std::fs::remove_dir_all(&cohort);
            crate::phantom::generate(&crate::phantom::PhantomOptions {
                out: cohort.clone(),
                subjects,
                seed,
                dicom_rois: false,
            })
            .map(|s| {
                format!(
                    "{}, {}",
                    crate::plural::count(s.subjects, "subject"),
                    crate::plural::count(s.files, "file")
                )
            })
            .map_err(|e| e.to_string())
        })?;
        Ok(cohort.join("site-export"))
    }

    /// What de-identification works with (known before the scan, which names the subjects the
    /// subject map names): every later stage reads only the de-identified tree.
    fn study_files(&self, key_file: Option<PathBuf>) -> Result<StudyFiles, PipelineError> {
        let cfg = self.cfg;
        match (&cfg.phantom, &cfg.input, key_file) {
            (Some(_), _, Some(key)) => {
                let c = self.out_dir.join("cohort");
                Ok(StudyFiles {
                    key,
                    subject_map: c.join("clinical/subject_map.csv"),
                    masks: Some(c.join("masks")),
                    clinical: Some((
                        c.join("clinical/adsl.csv"),
                        c.join("clinical/adtte.csv"),
                        c.join("clinical/pathology.csv"),
                    )),
                })
            }
            (None, Some(i), key) => {
                let (Some(key), Some(subject_map)) = (key, cfg.deid.subjects.clone()) else {
                    return Err(PipelineError::Config(ConfigError::Invalid {
                        path: self.config.to_path_buf(),
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
                Ok(StudyFiles {
                    key,
                    subject_map,
                    masks: i.masks.clone(),
                    clinical,
                })
            }
            (Some(_), _, None) => unreachable!("the demo's key is the cohort's"),
            (None, None, _) => unreachable!("Config::load requires an input"),
        }
    }

    /// A run that links (not a shard) reads the clinical tables after every other stage: one
    /// missing (a mistyped name, an unmounted share) is an error before any stage runs, not
    /// after hours of imaging.
    fn clinical_tables_present(&self, study: &StudyFiles) -> Result<(), PipelineError> {
        let (None, Some((adsl, adtte, pathology))) = (&self.shard, &study.clinical) else {
            return Ok(());
        };
        if self.cfg.phantom.is_some() {
            // The demo's tables are written by its phantom stage.
            return Ok(());
        }
        let procedures = self.cfg.clinical.procedures.as_ref();
        for (key, p) in [
            ("adsl", Some(adsl)),
            ("adtte", Some(adtte)),
            ("pathology", Some(pathology)),
            ("procedures", procedures),
        ] {
            if let Some(p) = p.filter(|p| !p.is_file()) {
                let what = super::config::not_a(p, "file");
                return Err(PipelineError::Config(ConfigError::Invalid {
                    path: self.config.to_path_buf(),
                    message: format!(
                        "[clinical] {key} file {} {what}; the link stage reads it once the \
                         imaging is done (a shard, `--shard I/N`, does not)",
                        p.display()
                    ),
                }));
            }
        }
        Ok(())
    }

    /// Scan: the PHI-free inventory; its rejected files and unusable series are rejected inputs.
    /// Returns the subject map's hash (it keys the scan and deid).
    fn scan(
        &mut self,
        input: &Path,
        input_hash: &str,
        study: &StudyFiles,
    ) -> Result<String, PipelineError> {
        let inventory_path = self.out_dir.join("inventory.json");
        let subject_map = &study.subject_map;
        let map_hash = sha256_hex(&std::fs::read(subject_map).unwrap_or_default());
        let scan_key =
            sha256_hex(format!("scan {} {input_hash} {map_hash}", self.build).as_bytes());
        self.runner.run("scan", &scan_key, &[&inventory_path], || {
            let inv =
                crate::ingest::scan_paths(&[input.to_path_buf()]).map_err(|e| e.to_string())?;
            // Subjects by their USUBJID, as every later stage names them (a map the deid stage
            // will refuse leaves them numbered).
            let map = crate::deid::read_subject_map(subject_map).unwrap_or_default();
            let doc = crate::ingest::inventory_json_named(&inv, |pid| map.get(pid).cloned());
            crate::atomic::write_json(&inventory_path, &doc).map_err(|e| e.to_string())?;
            // Files that cannot be read apart from those of series that make no volume: the
            // latter are de-identified and released all the same (not converted), and "13 files
            // rejected" beside "6678 released" did not add up (a monitor's audit).
            let in_series = inv.files_rejected() - inv.rejected.len();
            Ok(format!(
                "{}, {} series, {} rejected{}",
                crate::plural::count(inv.files_seen, "file"),
                inv.series.len(),
                crate::plural::count(inv.rejected.len(), "file"),
                match in_series {
                    0 => String::new(),
                    n => format!(
                        ", {} of series that make no volume (released, not converted)",
                        crate::plural::count(n, "file")
                    ),
                }
            ))
        })?;
        if let Ok(text) = std::fs::read_to_string(&inventory_path) {
            if let Ok(doc) = serde_json::from_str::<Value>(&text) {
                if let Some(r) = doc.get("rejected_files").and_then(Value::as_array) {
                    self.rejected.extend(r.iter().cloned());
                }
                if let Some(series) = doc.get("series").and_then(Value::as_array) {
                    self.rejected.extend(
                        series
                            .iter()
                            .filter(|s| !s["problem"].is_null())
                            .map(|s| json!({"series": s["series"], "subject": s["subject"], "reason": s["problem"]})),
                    );
                }
            }
        }
        Ok(map_hash)
    }

    /// De-identification of this run's subjects; the files it did not release are rejected
    /// inputs, what its options lose are warnings.
    fn deid(
        &mut self,
        input: &Path,
        input_hash: &str,
        map_hash: &str,
        key_hash: &str,
        study: &StudyFiles,
    ) -> Result<Released, PipelineError> {
        let cfg = self.cfg;
        let deid_dir = self.out_dir.join("deid");
        let deid_options = crate::deid::DeidOptionsSet {
            retain_longitudinal_modified_dates: cfg
                .deid
                .retain_longitudinal_modified_dates
                .unwrap_or(true),
            retain_patient_characteristics: cfg.deid.retain_patient_characteristics.unwrap_or(true),
            retain_safe_private: cfg.deid.retain_safe_private.unwrap_or(true),
            clean_descriptors: cfg.deid.clean_descriptors.unwrap_or(true),
        };
        let shard = self.shard;
        let shard_label = shard.map(|s| s.to_string()).unwrap_or_default();
        let deid_key = sha256_hex(
            format!(
                "deid {} {input_hash} {key_hash} {map_hash} {deid_options:?} {shard_label}",
                self.build
            )
            .as_bytes(),
        );
        // Input paths are PHI: the site log goes to the site side, never under the output.
        // The config's site log is every shard's: a shard writes its own beside it.
        let site_log = match &cfg.phantom {
            Some(_) => Some(self.out_dir.join("cohort").join("deid-site-log.tsv")),
            None => cfg
                .deid
                .site_log
                .as_ref()
                .map(|p| shard.map_or_else(|| p.clone(), |s| s.own_file(p))),
        };
        self.runner.run("deid", &deid_key, &[&deid_dir], || {
            let s = crate::deid::run_with(
                &crate::deid::DeidOptions {
                    input: input.to_path_buf(),
                    out: deid_dir.clone(),
                    key: study.key.clone(),
                    subjects: study.subject_map.clone(),
                    config: None,
                    site_log,
                    shard,
                },
                deid_options,
                true,
            )
            .map_err(|e| e.to_string())?;
            // A file that fails the PHI check is withheld with its series and listed with the
            // rejected inputs; the run goes on with the rest (it had stopped the whole trial's
            // run, on one file a false match refused: a patient named Philip on a Philips).
            Ok(format!(
                "{} released, {} already done, {}, {} not released{}{}",
                s.released,
                s.already_done,
                crate::plural::count(s.duplicates, "duplicate"),
                s.not_released,
                match s.verification_failures {
                    0 => String::new(),
                    n => format!(
                        ", {} failed the PHI check (withheld with {} of their series; the \
                         report lists them)",
                        crate::plural::count(n, "file"),
                        crate::plural::count(s.withheld, "released file")
                    ),
                },
                match s.withdrawn {
                    0 => String::new(),
                    n => format!(
                        ", {} of an earlier release withdrawn",
                        crate::plural::count(n, "file")
                    ),
                }
            ))
        })?;
        let not_released = not_released_by_deid(&deid_dir, &self.rejected);
        self.rejected.extend(not_released);
        for why in deid_options.what_is_lost() {
            self.warn("deid", why);
        }
        for why in crate::deid::shared_usubjids(&study.subject_map) {
            self.warn("deid", why);
        }
        // A shard may own no subject at all: its later stages see an empty tree.
        std::fs::create_dir_all(&deid_dir).map_err(io_err(&deid_dir))?;
        let (hash, subjects) = tree_hash_by_subject(&deid_dir, Some(&self.record("deid")));
        let released: std::collections::BTreeSet<String> = subjects.keys().cloned().collect();
        let owned = |all: &std::collections::BTreeSet<String>| match shard {
            Some(s) => s.subjects(all),
            None => all.clone(),
        };
        if let Some(why) =
            crate::deid::mapped_but_not_released(&study.subject_map, owned, &released)
        {
            self.warn("deid", why);
        }
        Ok(Released {
            dir: deid_dir,
            hash,
            subjects,
        })
    }

    /// Convert: NIfTI + sidecars (subjects named by USUBJID: the input is de-identified); a
    /// subject whose de-identified files are as they were is not converted again.
    fn convert(&mut self, released: &Released) -> Result<Converted, PipelineError> {
        let nifti_dir = self.out_dir.join("nifti");
        let gzip = self.cfg.convert.gzip;
        let build = &self.build;
        let convert_key =
            sha256_hex(format!("convert {build} {} {gzip}", released.hash).as_bytes());
        let convert_state = ConvertState {
            cache: subject_cache::SubjectCache::new(&self.out_dir, "convert"),
            out_dir: &self.out_dir,
            nifti_dir: &nifti_dir,
            keys: released
                .subjects
                .iter()
                .map(|(s, h)| {
                    (
                        s.clone(),
                        sha256_hex(format!("convert {build} {gzip} {h}").as_bytes()),
                    )
                })
                .collect(),
        };
        self.runner
            .run("convert", &convert_key, &[&nifti_dir], || {
                // The folders of subjects no longer released go (a withdrawn subject's images).
                for e in std::fs::read_dir(&nifti_dir)
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if e.path().is_dir() && !released.subjects.contains_key(&name) {
                        let _ = std::fs::remove_dir_all(e.path());
                        convert_state.cache.forget(&name);
                    }
                }
                crate::convert::convert_per_subject_with(
                    &released.dir,
                    &nifti_dir,
                    gzip,
                    true,
                    Some(&convert_state),
                )
                .map(|r| {
                    format!(
                        "{}, {} series not converted{}",
                        crate::plural::count(r.converted.len(), "NIfTI file"),
                        r.not_converted.len(),
                        up_to_date_subjects(r.recalled)
                    )
                })
                .map_err(|e| e.to_string())
            })?;
        Ok(Converted {
            dir: nifti_dir,
            key: convert_key,
        })
    }

    /// Features: per subject, PET (SUVbw), T2 and ADC with the ROI label maps, or else the DICOM
    /// SEG / RTSTRUCT of the export that shares a series' frame of reference. Returns the
    /// feature table's path.
    fn features(
        &mut self,
        study: &StudyFiles,
        released: &Released,
        converted: &Converted,
    ) -> Result<PathBuf, PipelineError> {
        let cfg = self.cfg;
        let features_path = self.out_dir.join("features").join("features.csv");
        let features_problems = self.out_dir.join("features").join("problems.json");
        let labels = cfg.rois.label_table();
        for why in crate::quant::pet::missing_region_names(labels.values().map(String::as_str)) {
            self.warn("features", why);
        }
        let masks = study.masks.as_deref();
        if masks.is_none() {
            let why = "no [input] masks: a series is measured only on a DICOM SEG or RTSTRUCT of \
                       the export that shares its frame of reference";
            self.warn("features", why.to_string());
        }
        let pet_settings = crate::quant::FeatureSettings {
            suv_thresholds: cfg.rois.mtv_suv_thresholds.clone(),
            texture_bin_width: cfg.rois.texture_bin_width.clone(),
            texture_min: cfg.rois.texture_min.clone(),
        };
        let build = &self.build;
        let features_key = sha256_hex(
            format!(
                "features {build} {} {} {} {:?} {:?} {:?} {:?}",
                released.hash,
                converted.key,
                masks.map(|m| tree_hash(m, None)).unwrap_or_default(),
                labels,
                pet_settings.suv_thresholds,
                pet_settings.texture_bin_width,
                pet_settings.texture_min
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
        // Per subject: what it is computed from (the build, the settings, its de-identified
        // files, from which its NIfTI files are made, and its label maps). A subject no longer
        // released leaves nothing here.
        let features_cache = subject_cache::SubjectCache::new(&self.out_dir, "features");
        features_cache.forget_all_but(|s| released.subjects.contains_key(s));
        let settings = format!(
            "features {build} {} {labels:?} {:?} {:?} {:?}",
            cfg.convert.gzip,
            pet_settings.suv_thresholds,
            pet_settings.texture_bin_width,
            pet_settings.texture_min
        );
        let subject_key = |subject: &str| -> Option<String> {
            let h = released.subjects.get(subject)?;
            let m = masks
                .map(|m| m.join(subject))
                .filter(|m| m.is_dir())
                .map(|m| tree_hash(&m, None))
                .unwrap_or_default();
            Some(sha256_hex(format!("{settings} {h} {m}").as_bytes()))
        };
        self.runner.run("features", &features_key, &written, || {
            features_stage::features(
                &released.dir,
                &converted.dir,
                masks,
                &labels,
                &pet_settings,
                &features_path,
                Some((&features_cache, &subject_key)),
            )
            .and_then(|(rows, problems, recalled)| {
                write_problems(&features_problems, &problems)?;
                // What was not measured, counted where the rows are (a series without its
                // mask was in problems.json and the report only; a new user's audit).
                let warned = problems.iter().filter(|p| p["warning"] == true).count();
                let unmeasured = problems.len() - warned;
                let said = match (unmeasured, warned) {
                    (0, 0) => String::new(),
                    (u, w) => format!(
                        "; {u} not measured, {} (features/problems.json)",
                        crate::plural::count(w, "warning")
                    ),
                };
                Ok(format!(
                    "{rows} feature rows{}{said}",
                    up_to_date_subjects(recalled)
                ))
            })
        })?;
        let (warned, failed): (Vec<Value>, Vec<Value>) = read_problems(&features_problems)
            .into_iter()
            .partition(|p| p["warning"] == true);
        self.rejected.extend(failed);
        self.warnings.extend(warned);
        Ok(features_path)
    }

    /// The cohort stages: link (the feature table with ADSL, ADTTE and pathology) and analyze,
    /// on a whole run or a merge (a shard leaves them to the merge).
    fn cohort(
        &mut self,
        study: &StudyFiles,
        features_path: &Path,
        key_hash: &str,
    ) -> Result<Cohort, PipelineError> {
        let cfg = self.cfg;
        let build = self.build.clone();
        // What link writes: the table, its Parquet, series and codebook, its warnings.
        let linked = link_outputs(&self.out_dir);
        let [_, _, _, link_problems, table] = linked.clone();
        let mut have_table = false;
        let mut failed: Option<(&'static str, String)> = None;
        match (&study.clinical, self.shard.is_none()) {
            (Some((adsl, adtte, path)), true) => {
                let hash = |p: &Path| sha256_hex(&std::fs::read(p).unwrap_or_default());
                let imaging_path = features_path.with_file_name("imaging.csv");
                let imaging = imaging_path.is_file().then(|| imaging_path.clone());
                let procedures = cfg.clinical.procedures.clone();
                let arm = cfg.clinical.arm.clone();
                let (exclude_series, notes) = released_exclusions(
                    &cfg.clinical.exclude_series,
                    std::fs::read(&study.key).ok().as_deref(),
                    &imaging_path,
                );
                // Counted with link's own in its status (it said "0 warnings" after them).
                let noted = notes.len();
                for why in notes {
                    self.warn("link", why);
                }
                // Keyed by the config's entries as written too: its status counts the warnings
                // they give, which a site UID gives and its pseudonym does not.
                let written = &cfg.clinical.exclude_series;
                let link_key = sha256_hex(
                    format!(
                        "link {build} {} {} {} {} {} {key_hash} {} {arm:?} {exclude_series:?} \
                         {written:?}",
                        hash(features_path),
                        hash(adsl),
                        hash(adtte),
                        hash(path),
                        hash(&imaging_path),
                        procedures.as_deref().map(hash).unwrap_or_default(),
                    )
                    .as_bytes(),
                );
                let deid_key_file = study.key.clone();
                let linked = self.runner.run(
                    "link",
                    &link_key,
                    &linked.each_ref().map(PathBuf::as_path),
                    || {
                        crate::clinical::link_tables(&crate::clinical::LinkOptions {
                            features: features_path.to_path_buf(),
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
                            roles: crate::clinical::TableRoles::CONFIG,
                        })
                        .map_err(|e| {
                            // Written into the report and provenance: tables by file name (a
                            // site's folders may name a person), and no cell's value (a shifted
                            // column puts a name or a date where a code was expected).
                            let full = e.to_string();
                            let mut message = crate::redact::quoted_values(&full);
                            if message != full {
                                message.push_str(
                                    "\n(cell values left out, as in every output; `ancilla link` \
                                     on the same tables shows them)",
                                );
                            }
                            for p in [adsl, adtte, path, features_path, &imaging_path]
                                .into_iter()
                                .chain(procedures.as_deref())
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
                                crate::clinical::warnings_json(&s.kept_out, &s.warnings)
                                    .as_array()
                                    .cloned()
                                    .unwrap_or_default();
                            write_problems(&link_problems, &problems)?;
                            Ok(format!(
                                "{}, {}, {} kept out, {}",
                                crate::plural::count(s.subjects, &format!("arm-{arm} subject")),
                                crate::plural::count(s.features, "feature column"),
                                s.kept_out.len(),
                                crate::plural::count(s.warnings.len() + noted, "warning")
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
                        self.rejected.extend(kept_out);
                        self.warnings.extend(warned);
                        have_table = true;
                    }
                    Err(PipelineError::Stage { stage, message }) => {
                        self.runner.failed(stage, &message);
                        failed = Some((stage, message));
                    }
                    Err(e) => return Err(e),
                }
            }
            _ if self.shard.is_some() => self
                .runner
                .not_available("link", "runs on the merge of the shards"),
            _ => self.runner.not_available("link", "no [clinical] tables"),
        }
        let stats = analyze_outputs(&self.out_dir);
        if have_table {
            failed = self.analyze(&table)?;
            if failed.is_some() {
                withdraw(&stats)?;
            }
        } else {
            // What an earlier run linked and analysed is not this run's: an imaging-only rerun
            // (no [clinical]) or a link that failed on changed tables left it in place, listed in
            // provenance.json as this run's (an operations audit).
            withdraw(&linked)?;
            withdraw(&stats)?;
            let why = if self.shard.is_some() {
                "runs on the merge of the shards"
            } else if failed.is_some() {
                "link failed"
            } else {
                "no analysis table"
            };
            self.runner.not_available("analyze", why);
        }
        Ok(Cohort {
            table,
            have_table,
            failed,
        })
    }

    /// Analyze the analysis table: `stats.json` and `summary.md`; a failure on the table's
    /// contents is returned (the run goes on to its report), not raised.
    fn analyze(&mut self, table: &Path) -> Result<Option<(&'static str, String)>, PipelineError> {
        let cfg = self.cfg;
        let stats_dir = self.out_dir.join("analysis");
        let key = sha256_hex(
            format!(
                "analyze {} {} {} {}",
                self.build,
                sha256_hex(&std::fs::read(table).unwrap_or_default()),
                cfg.analysis.time,
                cfg.analysis.event
            )
            .as_bytes(),
        );
        // The codebook beside the table gives the features' units.
        let codebook = crate::clinical::codebook::path_beside(table);
        let key = sha256_hex(
            format!(
                "{key} {} {:?} {}",
                cfg.analysis.ci,
                cfg.analysis.cutoffs,
                sha256_hex(&std::fs::read(&codebook).unwrap_or_default())
            )
            .as_bytes(),
        );
        let (time, event) = (cfg.analysis.time.clone(), cfg.analysis.event.clone());
        let ci = crate::stats::km::CiMethod::parse(&cfg.analysis.ci)
            .unwrap_or(crate::stats::km::CiMethod::LogLog);
        let cutoffs = cfg.analysis.cutoffs.clone();
        let written = analyze_outputs(&self.out_dir);
        let out_dir = &self.out_dir;
        let analysed = self
            .runner
            .run("analyze", &key, &[&written[0], &written[1]], || {
                crate::stats::analyze(&crate::stats::AnalyzeOptions {
                    table: table.to_path_buf(),
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
            Ok(()) => Ok(None),
            Err(PipelineError::Stage { stage, message }) => {
                self.runner.failed(stage, &message);
                Ok(Some((stage, message)))
            }
            Err(e) => Err(e),
        }
    }

    /// The report: the statistics when the cohort stages ran, else the imaging run's (flow, QC
    /// gallery, warnings; never the statistics of an earlier run). A shard leaves it to the merge.
    fn report(&mut self, study: &StudyFiles, cohort: &Cohort) -> Result<(), PipelineError> {
        let cfg = self.cfg;
        let out_dir = &self.out_dir;
        let table = &cohort.table;
        let stats_path = out_dir.join("analysis").join("stats.json");
        let analysed = cohort.have_table && cohort.failed.is_none() && stats_path.is_file();
        if self.shard.is_some() {
            self.runner
                .not_available("report", "runs on the merge of the shards");
            return Ok(());
        }
        // A table that linked and analysed without error, yet no statistics file.
        if cohort.have_table && cohort.failed.is_none() && !analysed {
            self.runner.not_available("report", "no statistics");
            return Ok(());
        }
        // The QC gallery outlines the region named tumor.
        let tumor_label: Option<u32> = cfg
            .rois
            .label_table()
            .into_iter()
            .find_map(|(n, name)| (name == "tumor").then_some(n));
        // Analysed: the statistics and the table; else the features the flow counts.
        let hash_of = |p: &Path| sha256_hex(&std::fs::read(p).unwrap_or_default());
        let inputs = if analysed {
            format!("{} {}", hash_of(&stats_path), hash_of(table))
        } else {
            hash_of(&out_dir.join("features").join("features.csv"))
        };
        let not_run = match &cohort.failed {
            // A full disk is no fault of the tables.
            Some(("link", message)) if message.starts_with("cannot write") => {
                format!("link could not write its outputs: {message}")
            }
            Some(("link", message)) => format!("the clinical tables did not link: {message}"),
            Some((_, message)) => format!("the analysis failed: {message}"),
            None => "the run had no clinical tables ([clinical] adsl, adtte, pathology).".into(),
        };
        let key = sha256_hex(
            format!(
                "report {} {analysed} {tumor_label:?} {:?} {inputs} {not_run:?} {}",
                self.build,
                cfg.clinical.arm,
                sha256_hex(
                    serde_json::to_string(&(&self.rejected, &self.warnings))
                        .unwrap_or_default()
                        .as_bytes()
                )
            )
            .as_bytes(),
        );
        let adsl = study
            .clinical
            .as_ref()
            .map(|c| (c.0.clone(), cfg.clinical.arm.clone()));
        let rej: Vec<Value> = self
            .rejected
            .iter()
            .chain(&self.warnings)
            .cloned()
            .collect();
        let html = out_dir.join("report.html");
        self.runner.run("report", &key, &[&html], || {
            report_stage::report(
                out_dir,
                analysed.then_some((stats_path.as_path(), table.as_path())),
                adsl.as_ref().map(|(p, arm)| (p.as_path(), arm.as_str())),
                study.masks.as_deref(),
                tumor_label,
                &rej,
                &not_run,
            )
        })
    }
}

/// Persist a stage's problems next to its outputs (so an up-to-date rerun reports them too).
/// The config's `exclude_series` as the feature table names series: a UID of an analysed series
/// (the features stage's imaging.csv) as written; a site's original SeriesInstanceUID (what the
/// site's PACS shows, pasted in) as its pseudonym under the study key when that is an analysed
/// series, said so without the original (PHI: it was copied into the report, stats.json,
/// summary.md and provenance, and nothing was kept out); any other entry left out, said so by its
/// place in the list, not its value (an original UID may look like a pseudonym, `2.25.…`).
/// Returns the UIDs for link and what to say.
fn released_exclusions(
    entries: &[String],
    key: Option<&[u8]>,
    imaging: &Path,
) -> (Vec<String>, Vec<String>) {
    let analysed: std::collections::BTreeSet<String> = std::fs::read_to_string(imaging)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(2).map(str::to_string))
        .collect();
    let mapper = key.map(crate::deid::keyed::UidMapper::new);
    let mut uids = Vec::new();
    let mut notes = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let entry = entry.trim();
        if analysed.contains(entry) {
            uids.push(entry.to_string());
            continue;
        }
        match mapper.as_ref().map(|m| m.map(entry)) {
            Some(pseudonym) if analysed.contains(&pseudonym) => {
                notes.push(format!(
                    "exclude_series entry {} is a site's original SeriesInstanceUID (not shown: \
                     it is PHI); its de-identified series {pseudonym} is kept out: write that \
                     UID in the config",
                    i + 1
                ));
                uids.push(pseudonym);
            }
            _ => notes.push(format!(
                "exclude_series entry {} is no analysed series, by its de-identified UID or by \
                 the site's (not shown: it may be a site's UID, PHI; a typo?): nothing kept out \
                 for it",
                i + 1
            )),
        }
    }
    (uids, notes)
}

/// What link writes under `out/analysis`: the table's Parquet copy, the series each column comes
/// from, the codebook, the warnings, and the table itself, last (stamped with the stage, withdrawn
/// when it does not run).
fn link_outputs(out: &Path) -> [PathBuf; 5] {
    let table = out.join("analysis").join("analysis_table.csv");
    [
        table.with_extension("parquet"),
        crate::clinical::series_used_path(&table),
        crate::clinical::codebook::path_beside(&table),
        out.join("analysis").join("link-warnings.json"),
        table,
    ]
}

/// What analyze writes under `out/analysis` (stamped with the stage, withdrawn when it fails or
/// does not run).
fn analyze_outputs(out: &Path) -> [PathBuf; 2] {
    let analysis = out.join("analysis");
    [analysis.join("stats.json"), analysis.join("summary.md")]
}

/// Remove `files` where they are (outputs of an earlier run that this one did not make), and
/// their folder once it is empty: the output folder then holds what a fresh run writes.
fn withdraw(files: &[PathBuf]) -> Result<(), PipelineError> {
    for f in files {
        match std::fs::remove_file(f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(f)(e)),
        }
    }
    if let Some(dir) = files.first().and_then(|f| f.parent()) {
        // Fails while anything else is in it: kept then.
        let _ = std::fs::remove_dir(dir);
    }
    Ok(())
}

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

/// A per-subject stage's note of the subjects it found up to date (none: nothing).
fn up_to_date_subjects(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => "; 1 subject up to date".into(),
        n => format!("; {n} subjects up to date"),
    }
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
        // A file the walk could not read (a FIFO, a dangling link, a loop) is the scan's
        // "not read: …" and deid's bare reason: one input, said once.
        let as_scanned = format!("not read: {why}");
        let seen = if scanned.get(why).is_some_and(|n| *n > 0) {
            scanned.get_mut(why)
        } else {
            scanned.get_mut(as_scanned.as_str())
        };
        match seen {
            Some(left) if *left > 0 => *left -= 1,
            _ => out.push(
                json!({"stage": "deid", "kind": "not_released", "file": n["file"], "reason": why}),
            ),
        }
    }
    out
}
