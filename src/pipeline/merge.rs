//! `ancilla merge SHARD_DIR... --out DIR`: assemble the folders written by `ancilla run --shard I/N`
//! into the folder one unsharded run writes — per-subject trees (de-identified DICOM, NIfTI) linked
//! in, the reports and tables of the per-subject stages combined in the order a single run writes
//! them — then run the cohort stages (link, analyze, report) on it. The merged folder equals a
//! single run's (timings aside).
//!
//! A shard proves it finished with `shard.json` (written last): its index, the config's digest
//! and where the config is. The shard folders are core-lab working folders; `shard.json` is not
//! copied into the merged output.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{execute, io_err, shard_config_digest, Config, Mode, PipelineError};
// by_subject: a stable sort by `subject`, the order a single run gives.
use crate::convert::{sort_by_subject as by_subject, ConvertReport};
use crate::shard::Shard;

/// The manifest's file name.
pub const MANIFEST: &str = "shard.json";

/// What a finished shard records.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Manifest {
    tool_version: String,
    shard: Shard,
    /// The digest of the config's sections the shard's stages read (`shard_config_digest`).
    config_sha256: String,
    /// The pipeline config the shard ran (the merge reads it again for the cohort stages).
    config: PathBuf,
    /// The USUBJIDs the shard owned.
    subjects: Vec<String>,
    /// What the shard left for the merge, as it was when the shard finished (`shard_outputs`):
    /// checked again by the merge, which refuses a shard changed since (a features table that
    /// lost a subject's rows was merged without a word). Absent from an older shard's record.
    #[serde(default)]
    outputs: Option<BTreeMap<String, String>>,
}

/// The parts of a shard folder the merge takes (`cohort/` is the input side, the same in every
/// shard, and checked by the scan's inventory).
const SHARD_PARTS: [&str; 3] = ["deid", "nifti", "features"];

/// The digests of what a shard folder `out` holds for the merge: `inventory.json`, and each
/// file of deid/, nifti/ and features/ by its SHA-256, except those in a subject's folder, which
/// count as one tree hash of the folder (`deid/ANC-01-0001/`). `deid_record`: the run's record
/// of the release's digests, so that a finishing shard reads none of its files again (the
/// merge passes none: it writes nothing into a shard folder).
pub(super) fn shard_outputs(out: &Path, deid_record: Option<&Path>) -> BTreeMap<String, String> {
    use sha2::{Digest, Sha256};
    let mut digests = BTreeMap::new();
    if let Ok(bytes) = std::fs::read(out.join("inventory.json")) {
        digests.insert("inventory.json".to_string(), super::sha256_hex(&bytes));
    }
    for part in SHARD_PARTS {
        let dir = out.join(part);
        if !dir.is_dir() {
            continue;
        }
        let record = deid_record.filter(|_| part == "deid");
        let mut folders: BTreeMap<String, Sha256> = BTreeMap::new();
        let _ = super::digests::for_each_file_digest(&dir, record, |rel, digest| {
            let mut parts = rel.components();
            match (parts.next(), parts.next()) {
                (Some(folder), Some(_)) => {
                    let key = format!("{part}/{}/", folder.as_os_str().to_string_lossy());
                    super::hash_entry(folders.entry(key).or_default(), rel, digest);
                }
                _ => {
                    let key = format!("{part}/{}", rel.to_string_lossy());
                    let hex = digest
                        .map_or_else(|| "unreadable".to_string(), |(_, d)| crate::hex::encode(&d));
                    digests.insert(key, hex);
                }
            }
            Ok(())
        });
        digests.extend(
            folders
                .into_iter()
                .map(|(k, h)| (k, crate::hex::encode(&h.finalize()))),
        );
        // The part's own files the walk leaves out as never inputs (the de-identification
        // report, key id and release marker), which the merge reads all the same.
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for p in rd.flatten().map(|e| e.path()).filter(|p| p.is_file()) {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if name.contains(crate::atomic::TEMP_MARK) || name == crate::atomic::LOCK_NAME {
                continue;
            }
            let hex =
                std::fs::read(&p).map_or_else(|_| "unreadable".into(), |b| super::sha256_hex(&b));
            digests.insert(format!("{part}/{name}"), hex);
        }
    }
    digests
}

/// Refuses a shard whose folder no longer holds what it held when it finished: the files (or
/// subject folders) that differ, by name, the first few.
fn check_outputs(dir: &Path, m: &Manifest) -> Result<(), PipelineError> {
    let Some(recorded) = &m.outputs else {
        return Ok(());
    };
    let now = shard_outputs(dir, None);
    let mut differ: Vec<String> = Vec::new();
    for (k, v) in recorded {
        match now.get(k) {
            Some(x) if x == v => {}
            // A subject's folder is one digest: a file of it changed, was added or is gone.
            Some(_) if k.ends_with('/') => {
                differ.push(format!("a file of {k} changed, was added or is gone"))
            }
            Some(_) => differ.push(format!("{k} changed")),
            None => differ.push(format!("{k} is gone")),
        }
    }
    differ.extend(
        now.keys()
            .filter(|k| !recorded.contains_key(*k))
            .map(|k| format!("{k} was added")),
    );
    if differ.is_empty() {
        return Ok(());
    }
    let more = differ.len().saturating_sub(3);
    differ.truncate(3);
    Err(merge_err(format!(
        "{}: shard {} changed since it finished ({}{}): rerun that shard",
        dir.display(),
        m.shard,
        differ.join(", "),
        if more > 0 {
            format!(", and {more} more")
        } else {
            String::new()
        }
    )))
}

/// Record a finished shard in `out/shard.json`.
pub(super) fn write_manifest(
    out: &Path,
    shard: Shard,
    version: &str,
    config_sha256: &str,
    config: &Path,
    subjects: &BTreeSet<String>,
    outputs: BTreeMap<String, String>,
) -> Result<(), PipelineError> {
    let m = Manifest {
        tool_version: version.to_string(),
        shard,
        config_sha256: config_sha256.to_string(),
        config: std::fs::canonicalize(config).unwrap_or_else(|_| config.to_path_buf()),
        subjects: subjects.iter().cloned().collect(),
        outputs: Some(outputs),
    };
    let p = out.join(MANIFEST);
    crate::atomic::write_json(&p, &m).map_err(io_err(&p))
}

fn merge_err(s: impl Into<String>) -> PipelineError {
    PipelineError::Merge(s.into())
}

fn read_manifest(dir: &Path) -> Result<Manifest, PipelineError> {
    let p = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&p).map_err(|_| {
        merge_err(format!(
            "{}: no {MANIFEST}; not a finished `ancilla run --shard I/N` folder (rerun that shard)",
            dir.display()
        ))
    })?;
    serde_json::from_str(&text).map_err(|e| merge_err(format!("{}: unreadable ({e})", p.display())))
}

/// Check the shards are one complete job; returns them ordered by index.
fn check_shards(dirs: &[PathBuf]) -> Result<Vec<(PathBuf, Manifest)>, PipelineError> {
    let mut shards: Vec<(PathBuf, Manifest)> = dirs
        .iter()
        .map(|d| read_manifest(d).map(|m| (d.clone(), m)))
        .collect::<Result<_, _>>()?;
    shards.sort_by_key(|(_, m)| m.shard.index);
    let first = &shards[0].1;
    let n = first.shard.count;
    for (d, m) in &shards {
        if m.shard.count != n {
            return Err(merge_err(format!(
                "{} is shard {} but {} is shard {}: not one job",
                d.display(),
                m.shard,
                shards[0].0.display(),
                first.shard
            )));
        }
        if m.config_sha256 != first.config_sha256 || m.tool_version != first.tool_version {
            return Err(merge_err(format!(
                "{} ran another config or ancilla version than {}",
                d.display(),
                shards[0].0.display()
            )));
        }
    }
    let given: Vec<usize> = shards.iter().map(|(_, m)| m.shard.index).collect();
    if let Some(w) = given.windows(2).find(|w| w[0] == w[1]) {
        return Err(merge_err(format!("shard {}/{n} given twice", w[0])));
    }
    for (d, m) in &shards {
        check_outputs(d, m)?;
    }
    let missing: Vec<String> = (1..=n)
        .filter(|i| !given.contains(i))
        .map(|i| format!("{i}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(merge_err(format!(
            "missing {} {}: run them, then merge all {n}",
            if missing.len() == 1 {
                "shard"
            } else {
                "shards"
            },
            missing.join(", ")
        )));
    }
    Ok(shards)
}

/// Put every file of `src` at the same place under `dst`: a hard link where the file system
/// allows it, else an atomic copy. Temporary files of killed runs are left out.
fn link_tree(src: &Path, dst: &Path, skip: &dyn Fn(&Path) -> bool) -> Result<usize, PipelineError> {
    let mut n = 0;
    let rd = std::fs::read_dir(src).map_err(io_err(src))?;
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if name.contains(crate::atomic::TEMP_MARK) || name == crate::atomic::LOCK_NAME || skip(&p) {
            continue;
        }
        let target = dst.join(&name);
        if p.is_dir() {
            n += link_tree(&p, &target, skip)?;
            continue;
        }
        std::fs::create_dir_all(dst).map_err(io_err(dst))?;
        let _ = std::fs::remove_file(&target);
        if std::fs::hard_link(&p, &target).is_err() {
            crate::atomic::write_with(&target, |tmp| std::fs::copy(&p, tmp).map(|_| ()))
                .map_err(io_err(&target))?;
        }
        n += 1;
    }
    Ok(n)
}

fn read_json(p: &Path) -> Result<Value, PipelineError> {
    let text = std::fs::read_to_string(p).map_err(io_err(p))?;
    serde_json::from_str(&text).map_err(|e| merge_err(format!("{}: {e}", p.display())))
}

fn write_json(p: &Path, v: &Value) -> Result<(), PipelineError> {
    crate::atomic::write_json(p, v).map_err(io_err(p))
}

fn as_u64(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// The key id the shards' de-identification reports share; refused when they name two keys
/// (the merged release would hold two pseudonymisations).
fn one_key_id(reports: &[Value]) -> Result<Option<String>, PipelineError> {
    let mut ids: Vec<&str> = reports
        .iter()
        .filter_map(|r| r["key_id"].as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    match ids.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.to_string())),
        many => Err(merge_err(format!(
            "the shards were de-identified with different keys (key ids {})",
            many.join(", ")
        ))),
    }
}

/// The de-identification reports of the shards as one.
fn merge_deid_reports(reports: &[Value]) -> Value {
    let mut out = reports[0].clone();
    let (mut seen, mut released, mut failed, mut withdrawn, mut duplicates) = (0, 0, 0, 0, 0);
    let mut withheld = 0;
    let mut actions: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_subject = serde_json::Map::new();
    let mut not_released: Vec<Value> = Vec::new();
    for r in reports {
        seen += as_u64(&r["files_seen"]);
        released += as_u64(&r["released"]);
        failed += as_u64(&r["verification_failures"]);
        withheld += as_u64(&r["withheld_with_their_series"]);
        withdrawn += as_u64(&r["withdrawn"]);
        duplicates += as_u64(&r["duplicates"]);
        if let Some(a) = r["actions"].as_object() {
            for (k, v) in a {
                *actions.entry(k.clone()).or_default() += as_u64(v);
            }
        }
        if let Some(p) = r["files_per_subject"].as_object() {
            per_subject.extend(p.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if let Some(n) = r["not_released"].as_array() {
            not_released.extend(n.iter().cloned());
        }
    }
    // Numbered files in input order, then the unnumbered (walk errors), as a single run lists them.
    not_released.sort_by_key(|v| v["file"].as_u64().unwrap_or(u64::MAX));
    out["files_seen"] = json!(seen);
    out["released"] = json!(released);
    out["verification_failures"] = json!(failed);
    if out.get("withheld_with_their_series").is_some() {
        out["withheld_with_their_series"] = json!(withheld);
    }
    out["duplicates"] = json!(duplicates);
    if out.get("withdrawn").is_some() {
        out["withdrawn"] = json!(withdrawn);
    }
    out["actions"] = json!(actions);
    out["files_per_subject"] = Value::Object(per_subject);
    out["not_released"] = Value::Array(not_released);
    out
}

/// The conversion reports of the shards as one (typed, so the fields keep their order).
fn merge_convert_reports(reports: &[Value]) -> Result<ConvertReport, PipelineError> {
    let mut out = ConvertReport::default();
    for r in reports {
        let r: ConvertReport = serde_json::from_value(r.clone())
            .map_err(|e| merge_err(format!("a shard's convert-report.json: {e}")))?;
        out.converted.extend(r.converted);
        out.not_converted.extend(r.not_converted);
        out.not_images.extend(r.not_images);
        out.files_rejected += r.files_rejected;
        out.add_rejected_by_reason(r.rejected_by_reason);
    }
    out.converted.sort_by(|a, b| a.nifti.cmp(&b.nifti));
    by_subject(&mut out.not_converted);
    by_subject(&mut out.not_images);
    Ok(out)
}

/// The long feature tables of the shards as one: the header once, rows grouped by subject (stable).
fn merge_feature_tables(tables: &[String]) -> Result<String, PipelineError> {
    let mut header: Option<&str> = None;
    let mut rows: Vec<(String, &str)> = Vec::new();
    for t in tables {
        let mut lines = t.lines();
        let h = lines.next().unwrap_or_default();
        match header {
            None => header = Some(h),
            Some(prev) if prev != h => {
                return Err(merge_err(
                    "the shards' feature tables have different columns",
                ))
            }
            _ => {}
        }
        for line in lines.filter(|l| !l.is_empty()) {
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(line.as_bytes());
            let subject = r
                .records()
                .next()
                .and_then(Result::ok)
                .and_then(|rec| rec.get(0).map(str::to_string))
                .unwrap_or_default();
            rows.push((subject, line));
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    out.push_str(header.unwrap_or_default());
    out.push('\n');
    for (_, l) in rows {
        out.push_str(l);
        out.push('\n');
    }
    Ok(out)
}

/// What a merge writes, gathered and checked before anything under the output folder changes:
/// a refused merge (shards of another input, two keys, a subject in two shards, tables that do
/// not fit together) leaves that folder as it was, an earlier merge included.
struct Assembly {
    /// The scan's inventory, the same in every shard.
    inventory: Vec<u8>,
    /// The de-identification reports of the shards, and the one key id they name.
    deid: Vec<Value>,
    key_id: Option<String>,
    /// How the shards' releases were made (`deid`'s release marker), where every shard's says
    /// the same.
    release_made: Option<String>,
    /// For the per-subject trees ("deid", "nifti"): each subject's owning shard.
    owners: Vec<(&'static str, BTreeMap<String, PathBuf>)>,
    convert: Option<ConvertReport>,
    features: Option<MergedFeatures>,
}

/// The features stage's tables, merged.
struct MergedFeatures {
    table: String,
    imaging: Option<String>,
    problems: Value,
}

/// The shards' CSV file `rel` (subject in the first column) merged; None when no shard has it.
fn merged_csv(shards: &[(PathBuf, Manifest)], rel: &str) -> Result<Option<String>, PipelineError> {
    let tables: Vec<String> = shards
        .iter()
        .filter_map(|(d, _)| std::fs::read_to_string(d.join(rel)).ok())
        .collect();
    if tables.is_empty() {
        return Ok(None);
    }
    merge_feature_tables(&tables).map(Some)
}

/// Everything `assemble` writes, read from the shards and checked.
fn gather(shards: &[(PathBuf, Manifest)]) -> Result<Assembly, PipelineError> {
    let first = &shards[0].0;
    // The scan covers the whole input in every shard: one inventory, the same in all.
    let inventory = std::fs::read(first.join("inventory.json")).map_err(io_err(first))?;
    for (d, _) in &shards[1..] {
        if std::fs::read(d.join("inventory.json")).ok().as_deref() != Some(&inventory[..]) {
            return Err(merge_err(format!(
                "{} scanned another input than {}",
                d.display(),
                first.display()
            )));
        }
    }
    let reports = |rel: &str| -> Result<Vec<Value>, PipelineError> {
        shards
            .iter()
            .map(|(d, _)| d.join(rel))
            .filter(|p| p.is_file())
            .map(|p| read_json(&p))
            .collect()
    };
    let deid = reports("deid/deid-report.json")?;
    let key_id = one_key_id(&deid)?;
    let made: Vec<Option<String>> = shards
        .iter()
        .map(|(d, _)| crate::deid::release_folder::made_identity(&d.join("deid")))
        .collect();
    let release_made = match made.first() {
        Some(Some(first)) if made.iter().all(|m| m.as_ref() == Some(first)) => Some(first.clone()),
        _ => None,
    };
    let mut owners = Vec::new();
    for part in ["deid", "nifti"] {
        let mut owner: BTreeMap<String, PathBuf> = BTreeMap::new();
        for (d, _) in shards {
            let Ok(rd) = std::fs::read_dir(d.join(part)) else {
                continue;
            };
            for e in rd.flatten().filter(|e| e.path().is_dir()) {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(prev) = owner.insert(name.clone(), d.clone()) {
                    return Err(merge_err(format!(
                        "subject {name} is in {} and in {}",
                        prev.display(),
                        d.display()
                    )));
                }
            }
        }
        owners.push((part, owner));
    }
    let conv = reports("nifti/convert-report.json")?;
    let convert = (!conv.is_empty())
        .then(|| merge_convert_reports(&conv))
        .transpose()?;
    let features = match merged_csv(shards, "features/features.csv")? {
        None => None,
        Some(table) => {
            let mut problems: Vec<Value> = reports("features/problems.json")?
                .into_iter()
                .flat_map(|v| v.as_array().cloned().unwrap_or_default())
                .collect();
            by_subject(&mut problems);
            Some(MergedFeatures {
                table,
                // The imaging dates have the same layout (subject first).
                imaging: merged_csv(shards, "features/imaging.csv")?,
                problems: Value::Array(problems),
            })
        }
    };
    Ok(Assembly {
        inventory,
        deid,
        key_id,
        release_made,
        owners,
        convert,
        features,
    })
}

/// The files of the per-subject stages, assembled from the shards (checked first: `gather`).
fn assemble(shards: &[(PathBuf, Manifest)], out: &Path) -> Result<(), PipelineError> {
    let a = gather(shards)?;
    for part in ["cohort", "deid", "nifti", "features"] {
        let p = out.join(part);
        if p.exists() {
            std::fs::remove_dir_all(&p).map_err(io_err(&p))?;
        }
    }
    let first = &shards[0].0;
    // The input side (a phantom cohort is the same in every shard), but the site log, which each
    // shard wrote for its own files: those are concatenated.
    let cohort = first.join("cohort");
    if cohort.is_dir() {
        link_tree(&cohort, &out.join("cohort"), &|p: &Path| {
            p.ends_with("deid-site-log.tsv")
        })?;
        let mut rows: Vec<String> = Vec::new();
        let mut header = None;
        for (d, _) in shards {
            if let Ok(t) = std::fs::read_to_string(d.join("cohort/deid-site-log.tsv")) {
                let mut l = t.lines();
                header = header.or(l.next().map(str::to_string));
                rows.extend(l.map(str::to_string));
            }
        }
        if let Some(h) = header {
            rows.sort();
            let text = std::iter::once(h)
                .chain(rows)
                .collect::<Vec<_>>()
                .join("\n")
                + "\n";
            let p = out.join("cohort/deid-site-log.tsv");
            crate::atomic::write_bytes(&p, text.as_bytes()).map_err(io_err(&p))?;
        }
    }
    let p = out.join("inventory.json");
    crate::atomic::write_bytes(&p, &a.inventory).map_err(io_err(&p))?;
    // Per-subject trees: each subject from the one shard that owns it.
    for (part, owner) in &a.owners {
        for (name, d) in owner {
            link_tree(
                &d.join(part).join(name),
                &out.join(part).join(name),
                &|_: &Path| false,
            )?;
        }
    }
    if !a.deid.is_empty() {
        write_json(
            &out.join("deid/deid-report.json"),
            &merge_deid_reports(&a.deid),
        )?;
        if let Some(id) = &a.key_id {
            let dir = out.join("deid");
            crate::deid::release_folder::mark_key(&dir, id).map_err(io_err(&dir))?;
        }
        if let Some(made) = &a.release_made {
            let dir = out.join("deid");
            crate::deid::release_folder::mark_made(&dir, made).map_err(io_err(&dir))?;
        }
    }
    if let Some(conv) = &a.convert {
        let p = out.join("nifti/convert-report.json");
        crate::atomic::write_json(&p, conv).map_err(io_err(&p))?;
    }
    // Features: the long table, its Parquet copy, problems, imaging dates, the dictionary.
    if let Some(f) = &a.features {
        let csv = out.join("features/features.csv");
        crate::atomic::write_bytes(&csv, f.table.as_bytes()).map_err(io_err(&csv))?;
        // The Parquet copy from the merged CSV (the bytes a single run writes).
        crate::quant::table::csv_to_parquet(&csv, &csv.with_extension("parquet"))
            .map_err(|e| merge_err(e.to_string()))?;
        write_json(&out.join("features/problems.json"), &f.problems)?;
        if let Some(imaging) = &f.imaging {
            let p = out.join("features/imaging.csv");
            crate::atomic::write_bytes(&p, imaging.as_bytes()).map_err(io_err(&p))?;
        }
        let dict = first.join("features/features.dictionary.csv");
        if let Ok(bytes) = std::fs::read(&dict) {
            let p = out.join("features/features.dictionary.csv");
            crate::atomic::write_bytes(&p, &bytes).map_err(io_err(&p))?;
        }
    }
    Ok(())
}

/// `ancilla merge`.
pub fn merge_command(
    shard_dirs: &[PathBuf],
    out: &Path,
    config: Option<&Path>,
    quiet: bool,
) -> Result<(), PipelineError> {
    if shard_dirs.is_empty() {
        return Err(merge_err("no shard folder given"));
    }
    let shards = check_shards(shard_dirs)?;
    // Not a shard folder, nor inside one (the merge would write into what it reads), nor one
    // that holds one.
    for (d, _) in &shards {
        let relation = match (
            crate::folders::lies_within(out, d),
            crate::folders::lies_within(d, out),
        ) {
            (true, true) => "is",
            (true, false) => "is inside",
            (false, true) => "holds",
            (false, false) => continue,
        };
        return Err(merge_err(format!(
            "--out must be a folder apart from the shard folders: {} {relation} the shard folder {}",
            crate::path_text::shown(out),
            crate::path_text::shown(d)
        )));
    }
    let m = &shards[0].1;
    // The config the shards recorded, or the one given: the same study moved (another mount
    // path on the merging node), which must still be the shards' in every section they read.
    let config_path = match config {
        Some(c) => std::fs::canonicalize(c).unwrap_or_else(|_| c.to_path_buf()),
        None => m.config.clone(),
    };
    let mut cfg = Config::load(&config_path)?;
    cfg.output.dir = out.to_path_buf();
    if shard_config_digest(&cfg, &config_path) != m.config_sha256 {
        let what = if config.is_some() {
            "is not the one the shards ran"
        } else {
            "changed since the shards ran"
        };
        return Err(merge_err(format!(
            "the config {} {what} (in a section other than [clinical] and [analysis], which \
             only the merge reads); rerun them with it",
            config_path.display()
        )));
    }
    {
        let _lock = crate::atomic::DirLock::acquire_or(out, PipelineError::Busy, io_err(out))?;
        crate::atomic::remove_stale_temps(out);
        if !quiet {
            crate::say!(
                "    merge: {} shards into {} (config {}: its [clinical] and [analysis])",
                shards.len(),
                out.display(),
                config_path.display()
            );
        }
        assemble(&shards, out)?;
    }
    execute(&cfg, &config_path, Mode::Merged(shards.len()), quiet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_tables_merge_by_subject_keeping_each_subjects_order() {
        let a = "subject_id,feature\nS2,b\nS2,a\nS4,z\n".to_string();
        let b = "subject_id,feature\nS1,y\nS3,x\nS3,w\n".to_string();
        let m = merge_feature_tables(&[a, b]).unwrap();
        assert_eq!(
            m,
            "subject_id,feature\nS1,y\nS2,b\nS2,a\nS3,x\nS3,w\nS4,z\n"
        );
        let c = "subject_id,other\nS5,q\n".to_string();
        assert!(merge_feature_tables(&[m, c]).is_err());
    }

    #[test]
    fn shards_of_two_keys_are_refused() {
        let r = |id: &str| json!({"key_id": id});
        assert_eq!(
            one_key_id(&[r("ab"), r("ab")]).unwrap().as_deref(),
            Some("ab")
        );
        assert_eq!(one_key_id(&[json!({})]).unwrap(), None);
        let e = one_key_id(&[r("ab"), r("cd"), r("ab")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("different keys (key ids ab, cd)"), "{e}");
    }

    #[test]
    fn deid_reports_add_up() {
        // Duplicates were the first shard's (a merge of 2 + 17 said 2).
        let r1 = json!({"files_seen": 3, "released": 2, "verification_failures": 0, "duplicates": 2,
            "actions": {"X": 4, "U": 1}, "files_per_subject": {"A": 2},
            "not_released": [{"file": 7, "reason": "r"}, {"file": null, "reason": "w"}], "tool": "t"});
        let r2 = json!({"files_seen": 2, "released": 2, "verification_failures": 1, "duplicates": 17,
            "actions": {"X": 1, "Z": 2}, "files_per_subject": {"B": 2},
            "not_released": [{"file": 2, "reason": "q"}], "tool": "t"});
        let m = merge_deid_reports(&[r1, r2]);
        assert_eq!(m["files_seen"], 5);
        assert_eq!(m["verification_failures"], 1);
        assert_eq!(m["duplicates"], 19);
        assert_eq!(m["actions"], json!({"U": 1, "X": 5, "Z": 2}));
        assert_eq!(m["files_per_subject"], json!({"A": 2, "B": 2}));
        let files: Vec<Value> = m["not_released"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["file"].clone())
            .collect();
        assert_eq!(files, vec![json!(2), json!(7), Value::Null]);
    }
}
