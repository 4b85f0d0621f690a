//! De-identification after DICOM PS3.15 Annex E: the Basic Application Level Confidentiality
//! Profile (Table E.1-1, embedded) with the study's options (CID 7050: 113105 Clean Descriptors,
//! 113107 Retain Longitudinal Temporal Information with Modified Dates, 113108 Retain Patient
//! Characteristics, 113111 Retain Safe Private), trial pseudonyms from the subject map, keyed
//! UIDs and a per-subject whole-day date shift, so SUV and every interval survive exactly.
//!
//! Modules: `profile` (the table), `options` (options, config, effective actions), `keyed`
//! (HMAC UIDs and date offsets), `study_inputs` (the key and the subject map), `clean` (Clean
//! Descriptors), `apply` (the transform at every depth, on dicom-rs's in-memory object), `raw`
//! (the same on the encoded bytes, for explicit VR little endian files in a single-byte or UTF-8
//! character set: most files; it declines the rest, which go through `apply`), `marking` (the
//! record of de-identification each release carries), `encoding` (a release's bytes),
//! `verify` (every file checked before it is written), `write_back` (written, read back from
//! disk, renamed into place), `tally` (the run's totals and logs), `release_folder` (the folder's
//! key and layout: what a rerun withdraws), `retired` (PS3.6's retired free-text attributes,
//! removed when Table E.1-1 does not list them), `csa` and `ge_protocol` (Siemens' CSA headers
//! and GE's protocol block under option 113111, reduced to their safe parts). Files not
//! released: not DICOM, unreadable, unknown subject, burned-in annotation or secondary capture
//! (quarantined), failed verification.

pub mod apply;
pub mod clean;
pub mod csa;
mod encoding;
pub mod ge_protocol;
pub mod keyed;
mod marking;
pub mod options;
pub mod profile;
mod raw;
pub mod release_folder;
mod retired;
mod study_inputs;
mod tally;
pub mod verify;
mod write_back;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::ingest::preflight::Layout;
use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use rayon::prelude::*;
use serde_json::json;

pub use keyed::date_offset_days;
pub use options::{DeidConfig, DeidOptionsSet};
pub use study_inputs::{mapped_but_not_released, read_key, read_subject_map, shared_usubjids};

use encoding::{capacity, encode, file_meta, file_start, pixel_data_tail, words_as_bytes};
use marking::{code_item, method, method_codes, sq, temporal};
use tally::Tally;
use write_back::write_checked;

/// Errors that stop a de-identification run (a bad file does not: it is reported).
#[derive(Debug, thiserror::Error)]
pub enum DeidError {
    #[error("key file {path}: {what}")]
    Key { path: PathBuf, what: String },
    #[error("subject map {path}: {what}")]
    SubjectMap { path: PathBuf, what: String },
    #[error("config {path}: {what}")]
    Config { path: PathBuf, what: String },
    #[error("input {0} does not exist")]
    MissingInput(PathBuf),
    /// The output lies inside the input, or the site-side log inside the output.
    #[error("{0}")]
    Placement(String),
    /// Another ancilla process is writing the output folder.
    #[error("{0}")]
    Busy(String),
    #[error(
        "{out} holds a release made with another key (key id {theirs}; this key's is {ours}): \
         its subjects would be there twice, with other UIDs and dates; write this release to a \
         new folder, or run with the key of that release"
    )]
    OtherKey {
        out: PathBuf,
        theirs: String,
        ours: String,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Released files that could not be written (a full disk, no permission): every other file
    /// was processed, then the run fails, so nothing is taken for released that is not (a
    /// pipeline stage is not stamped; a rerun releases them).
    #[error("{} could not be written; the first: {first}", crate::plural::count(*.count, "file"))]
    Unwritten { count: usize, first: String },
    /// No file's PatientID is in the subject map (the report and the site log are written).
    #[error(
        "the subject map ({}) matches none of the export's files: {} with a PatientID it \
         does not hold, and nothing released. Is it this site's map, and is its patient_id the \
         DICOM PatientID, written the same way (case and spaces count)? The site log names the \
         files",
        crate::plural::count(*.map, "patient"),
        crate::plural::count(*.files, "file")
    )]
    NoSubjectFound { files: usize, map: usize },
    /// A rerun into a release whose input holds no file of any subject of the map (an empty or
    /// unmounted export): every earlier file would have been withdrawn.
    #[error(
        "the input holds no file of a subject of the map ({} seen): an empty or unmounted \
         export? The earlier release is left as it was",
        crate::plural::count(*.0, "file")
    )]
    NothingToRelease(usize),
    /// Files that failed the PHI check after their rewrite ([`DeidSummary::checked`]).
    #[error("{} failed the PHI check and were not written", crate::plural::count(*.0, "file"))]
    VerificationFailed(usize),
}

impl crate::ExitCode for DeidError {
    fn exit_code(&self) -> u8 {
        match self {
            DeidError::Write { .. }
            | DeidError::Unwritten { .. }
            | DeidError::Busy(_)
            | DeidError::NoSubjectFound { .. }
            | DeidError::NothingToRelease(_)
            | DeidError::VerificationFailed(_) => 1,
            _ => 2,
        }
    }
}

/// `ancilla deid` inputs.
#[derive(Debug, Clone)]
pub struct DeidOptions {
    pub input: PathBuf,
    pub out: PathBuf,
    pub key: PathBuf,
    pub subjects: PathBuf,
    pub config: Option<PathBuf>,
    pub site_log: Option<PathBuf>,
    /// Only the subjects of this shard (see [`crate::shard`]); `None` = all.
    pub shard: Option<crate::shard::Shard>,
}

/// Outcome of a run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DeidSummary {
    pub released: usize,
    pub already_done: usize,
    /// Input files of a SOP instance another input file is released for (same output file).
    pub duplicates: usize,
    pub not_released: usize,
    pub verification_failures: usize,
    /// Released files of the series of a file that failed the PHI check, removed with it (the
    /// series would otherwise look whole with a slice missing).
    pub withheld: usize,
    /// Files an earlier run released that this one does not (their input is gone, or no longer
    /// released: a subject taken out of the map, a series now quarantined): removed.
    pub withdrawn: usize,
}

/// The series of a file that failed the PHI check: its subject and release folder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Withheld {
    usubjid: String,
    folder: PathBuf,
}

/// What happened to one input file.
enum Outcome {
    Released {
        usubjid: String,
        counts: apply::Counts,
    },
    AlreadyDone {
        usubjid: String,
        counts: apply::Counts,
    },
    /// Another input file of this run is the same SOP instance (the same output file).
    Duplicate,
    NotReleased(String),
    /// Failed the PHI check: the reason, and the subject and release folder of its series
    /// (withheld whole: without the file, the series would look whole and be one slice short).
    VerificationFailed(String, Withheld),
    /// Its release could not be written (the output's fault, not the input's).
    Unwritten(String),
    /// Another shard's file: neither processed nor counted here.
    OtherShard,
}

fn str_attr(obj: &InMemDicomObject, tag: dicom_core::Tag) -> String {
    crate::ingest::values::str_of(obj, tag).unwrap_or_default()
}

/// The input files of this run that lead to one output file (numbered in the walk's sorted
/// order; `u32`: a claim is held per released file for the whole run).
#[derive(Debug, Clone, Copy)]
struct Claim {
    /// The input that claimed the output first (in time): its outcome was tallied.
    tallied: u32,
    /// The first of them in input order: the one released once the run is settled.
    lowest: u32,
    /// How many input files lead to this output.
    inputs: u32,
    /// Whether the output held a file from an earlier run when first claimed.
    earlier: bool,
}

/// What an input file does with its output path.
#[derive(Debug, Clone, Copy)]
enum Verdict {
    /// Write it.
    Write,
    /// Another input file of this run is the same SOP instance.
    Duplicate,
    /// An earlier run wrote it: counted, not rewritten, if it is the file this run makes
    /// (`released_as`).
    Earlier,
    /// Counted only, never written: what a file settled as a duplicate had been counted as.
    Counted,
}

struct Run<'a> {
    key: &'a [u8],
    options: DeidOptionsSet,
    map: &'a BTreeMap<String, String>,
    out: &'a Path,
    /// The USUBJIDs this run releases (all of the map unless sharded).
    owned: BTreeSet<String>,
    /// Whether this run reports files that belong to no subject of the map.
    reports_unattributed: bool,
    /// UIDs → pseudonyms under the run's key.
    uids: keyed::UidMapper,
    /// Whether other shards own some subjects (files are then peeked at before the full parse).
    sharded: bool,
    /// Output folders made so far (one series folder serves all its files: made once).
    made_dirs: std::sync::Mutex<HashSet<PathBuf>>,
    /// The output held no released file when the run began: a destination can then only exist
    /// if this run claimed it (no existence test on disk per file).
    fresh_output: bool,
    /// The files already in the output were released by this build with these options
    /// (`release_folder::made_as`): only then is one on disk done.
    trust_earlier: bool,
    /// Destinations claimed by this run (a second input file with the same SOP Instance UID is
    /// the same output file), keyed by 128 bits of their path's SHA-256 (not the path).
    claimed: std::sync::Mutex<HashMap<[u8; 16], Claim>>,
    /// Verdicts decided for given input files (by their number), for the settling pass.
    settled: std::sync::Mutex<HashMap<usize, Verdict>>,
    /// Whether files the byte path takes on are rewritten there (else all go through the object).
    byte_path: bool,
    /// Files the byte path released or judged (for the tests that compare the paths).
    taken: std::sync::atomic::AtomicUsize,
    /// Files whose PatientID the subject map holds, and files whose PatientID it does not: a
    /// map that matches none of an export's files is the wrong map (another site's, or IDs
    /// written otherwise), and the run fails rather than release nothing with exit 0.
    in_map: std::sync::atomic::AtomicUsize,
    not_in_map: std::sync::atomic::AtomicUsize,
}

impl Run<'_> {
    /// Make `dir` (and its parents) unless this run already has.
    fn make_dir(&self, dir: &Path) -> std::io::Result<()> {
        let known = |d: &Path| {
            self.made_dirs
                .lock()
                .map(|m| m.contains(d))
                .unwrap_or(false)
        };
        if !known(dir) {
            std::fs::create_dir_all(dir)?;
            if let Ok(mut m) = self.made_dirs.lock() {
                m.insert(dir.to_path_buf());
            }
        }
        Ok(())
    }

    /// Whether input file number `index` writes `dest`: not if another input file of this run
    /// claimed it first (a duplicate, settled after the run: see [`settle_duplicates`]) or an
    /// earlier run released it. Claims it otherwise.
    fn claim(&self, dest: &Path, index: usize) -> Verdict {
        use std::collections::hash_map::Entry;
        if let Some(v) = self
            .settled
            .lock()
            .ok()
            .and_then(|s| s.get(&index).copied())
        {
            return v;
        }
        let id = release_folder::dest_id(dest);
        let on_disk = self.trust_earlier && !self.fresh_output && dest.exists();
        let Ok(mut claimed) = self.claimed.lock() else {
            return Verdict::Write;
        };
        let index = index as u32;
        match claimed.entry(id) {
            Entry::Occupied(mut e) => {
                let c = e.get_mut();
                c.inputs += 1;
                c.lowest = c.lowest.min(index);
                Verdict::Duplicate
            }
            Entry::Vacant(e) => {
                e.insert(Claim {
                    tallied: index,
                    lowest: index,
                    inputs: 1,
                    earlier: on_disk,
                });
                if on_disk {
                    Verdict::Earlier
                } else {
                    Verdict::Write
                }
            }
        }
    }

    /// A file not released before its subject is known: reported by one shard only.
    fn unattributed(&self, reason: String) -> Outcome {
        if self.reports_unattributed {
            Outcome::NotReleased(reason)
        } else {
            Outcome::OtherShard
        }
    }
}

/// A UID as PS3.5 9.1 allows: 1 to 64 characters, digits and dots.
fn is_uid(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

fn process(run: &Run, path: &Path, index: usize) -> Outcome {
    // A defect of ancilla on one file costs that file (not released), not the run.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        process_unguarded(run, path, index)
    }))
    .unwrap_or_else(|_| run.unattributed(crate::INTERNAL_ERROR.into()))
}

fn process_unguarded(run: &Run, path: &Path, index: usize) -> Outcome {
    // Another shard's subject: skipped after a header read, before the full parse. A file whose
    // header does not read goes the full way, to the outcome a single run gives it (the header's
    // own reason could differ: a merge must equal a single run).
    if run.sharded {
        if let Ok(h) = crate::ingest::header::read_header(path) {
            if let Some(u) = run.map.get(&*h.patient_id) {
                if !run.owned.contains(u) {
                    // The map matches the export (a shard whose own subjects have no image yet
                    // is no wrong map).
                    run.in_map
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Outcome::OtherShard;
                }
            }
        }
    }
    // The file is read once; the data set is parsed from those bytes.
    let mut input = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return run.unattributed(format!("unreadable: {e}")),
    };
    // A DICOMDIR holds every patient's name and ID in its records and no image: never released
    // (the files it lists are de-identified on their own; a release has no index).
    if crate::ingest::open::is_dicomdir(&input) {
        return run.unattributed(crate::ingest::RejectReason::Dicomdir.to_string());
    }
    // Every declared length must fit in the file before dicom-rs reserves it.
    let layout = match crate::ingest::preflight::check_bytes(&input) {
        Ok(l) => l,
        Err(p) => return run.unattributed(crate::ingest::reject::length_reject(p).to_string()),
    };
    // Zero padding after the data set is not data: the release ends with the data set.
    if let Some(at) = layout.padding_at {
        input.truncate(at as usize);
    }
    // Encapsulated Pixel Data cut before its sequence delimiter is truncated, as the scan says:
    // the parsers read the fragments there are, and would release a broken file. (Whole
    // fragments that lack only the delimiter are released with it: `PixelData::complete`.)
    if layout.pixel_data.is_some_and(|p| !p.complete()) {
        return run.unattributed(
            crate::ingest::RejectReason::Truncated(
                crate::ingest::pixel_presence::UNDELIMITED_PIXEL_DATA.into(),
            )
            .to_string(),
        );
    }
    // The common case — explicit VR little endian in a single-byte or UTF-8 character set — is
    // rewritten on its bytes; whatever that path declines goes through dicom-rs's object.
    // (Not a file with UN elements of undefined length, which only dicom-rs's path reads, nor a
    // data set in implicit VR under an explicit VR syntax: its release is written as stated.)
    let bytes_path =
        run.byte_path && layout.unknown_sequences.is_empty() && !layout.implicit_vr_body;
    if let Some(magic_at) = layout.magic_at.filter(|_| bytes_path) {
        if let Ok(file) = raw::read(&input, magic_at as usize) {
            if let Ok(outcome) = process_raw(run, &file, &input, index) {
                run.taken.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return outcome;
            }
        }
    }
    process_object(run, path, &input, &layout, index)
}

/// The attributes that decide whether and where a file is released, as either path reads them.
struct Placing {
    transfer_syntax: String,
    patient_id: String,
    sop_class: String,
    burned_in: String,
    recognizable: String,
    image_type: String,
    /// Original StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID.
    uids: [String; 3],
}

/// Where a released file goes.
struct Release<'r> {
    usubjid: &'r String,
    sop_class: String,
    /// The new SOPInstanceUID.
    sop: String,
    dest: PathBuf,
}

/// Why a file's pixels may show the patient, by what it says of itself (PS3.15 E.1.1: this
/// profile cleans no pixel data nor recognisable features, so such a file is not released):
/// BurnedInAnnotation or RecognizableVisualFeatures anything but NO (a writer's "Y" is not NO;
/// a PHI audit found "Y" and RecognizableVisualFeatures YES released), an ImageType of a screen
/// save whatever its SOP class, a secondary capture, a visible-light image (photographs,
/// endoscopy, video).
fn quarantined(p: &Placing) -> Option<&'static str> {
    let says = |v: &str| !v.is_empty() && !v.eq_ignore_ascii_case("NO");
    if says(&p.burned_in) {
        return Some("BurnedInAnnotation is not NO");
    }
    if says(&p.recognizable) {
        return Some("RecognizableVisualFeatures is not NO");
    }
    // Secondary Capture 1.2.840.10008.5.1.4.1.1.7[.n], VL 1.1.77.1.n (PS3.4 B.5).
    let class = p.sop_class.strip_prefix("1.2.840.10008.5.1.4.1.1.");
    if class.is_some_and(|c| c == "7" || c.starts_with("7.")) {
        return Some("secondary capture / screen save (may carry burned-in text)");
    }
    if class.is_some_and(|c| c.starts_with("77.")) {
        return Some("visible-light image (a photograph or video may show the patient)");
    }
    if p.image_type
        .split('\\')
        .any(|v| v.trim().eq_ignore_ascii_case("SCREEN SAVE"))
    {
        return Some("ImageType SCREEN SAVE (may carry burned-in text)");
    }
    None
}

/// The subject, quarantine and UID checks before anything is rewritten (nothing is claimed or
/// written here): the release's place, or the outcome of a file that is not released.
fn place<'r>(run: &'r Run, p: Placing) -> Result<Release<'r>, Outcome> {
    if p.patient_id.trim().is_empty() {
        return Err(run.unattributed(
            "missing or empty attribute PatientID (0010,0020): expected the site's patient ID, \
             to find the subject in the subject map"
                .into(),
        ));
    }
    use std::sync::atomic::Ordering::Relaxed;
    let Some(usubjid) = run.map.get(&p.patient_id) else {
        run.not_in_map.fetch_add(1, Relaxed);
        return Err(run.unattributed("unknown subject: PatientID not in the subject map".into()));
    };
    run.in_map.fetch_add(1, Relaxed);
    if !run.owned.contains(usubjid) {
        return Err(Outcome::OtherShard);
    }
    // It goes into the new file meta group as it is: it must be a UID.
    if !is_uid(&p.sop_class) {
        return Err(Outcome::NotReleased(
            "missing or malformed attribute SOPClassUID (0008,0016): expected a UID (1 to 64 digits and dots)"
                .into(),
        ));
    }
    if let Some(why) = quarantined(&p) {
        return Err(Outcome::NotReleased(format!("quarantined: {why}")));
    }
    let mut uids = [String::new(), String::new(), String::new()];
    for ((slot, v), name) in uids.iter_mut().zip(&p.uids).zip([
        "StudyInstanceUID (0020,000D)",
        "SeriesInstanceUID (0020,000E)",
        "SOPInstanceUID (0008,0018)",
    ]) {
        if v.is_empty() {
            return Err(Outcome::NotReleased(format!(
                "missing attribute {name}: expected a UID to place the file"
            )));
        }
        *slot = run.uids.map(v);
    }
    let [study, series, sop] = uids;
    let dest = run
        .out
        .join(crate::convert::sanitize(usubjid))
        .join(&study)
        .join(&series)
        .join(format!("{sop}.dcm"));
    Ok(Release {
        usubjid,
        sop_class: p.sop_class,
        sop,
        dest,
    })
}

/// Whether the file an earlier run released at `dest` is the one this run makes of its input
/// (`bytes`, then the carried-over `tail`). A release is deterministic (the same build, options,
/// key and subject map, which the release marker and key id vouch for, make the same bytes), so
/// a difference is an input file changed since: a corrected re-export keeps its UIDs, and so its
/// destination, with a new weight or date. It is released again (it was kept as "already done",
/// its SUV computed from the old weight, while provenance hashed the new input).
fn released_as(dest: &Path, bytes: &[u8], tail: Option<&[u8]>) -> bool {
    let tail = tail.unwrap_or_default();
    std::fs::read(dest).is_ok_and(|on_disk| {
        on_disk.len() == bytes.len() + tail.len()
            && on_disk[..bytes.len()] == *bytes
            && on_disk[bytes.len()..] == *tail
    })
}

/// What the transform of one subject's file needs: the run's UIDs and options, the subject's
/// date shift, the file's identifiers.
fn context<'r>(
    run: &'r Run,
    usubjid: &str,
    identifiers: &'r clean::Identifiers,
) -> apply::Context<'r> {
    apply::Context {
        uids: &run.uids,
        options: run.options,
        date_offset_days: keyed::date_offset_days(run.key, usubjid),
        identifiers,
        counts: apply::Counts::default(),
    }
}

/// The file rewritten on its bytes ([`raw`]); `Err` when that path declines it somewhere (nothing
/// has been claimed or written then).
fn process_raw(
    run: &Run,
    file: &raw::File,
    input: &[u8],
    index: usize,
) -> Result<Outcome, raw::Decline> {
    let placing = Placing {
        transfer_syntax: file.transfer_syntax.clone(),
        patient_id: file.attribute(tags::PATIENT_ID)?,
        sop_class: file.attribute(tags::SOP_CLASS_UID)?,
        burned_in: file.attribute(tags::BURNED_IN_ANNOTATION)?,
        recognizable: file.attribute(tags::RECOGNIZABLE_VISUAL_FEATURES)?,
        image_type: file.attribute(tags::IMAGE_TYPE)?,
        uids: [
            file.attribute(tags::STUDY_INSTANCE_UID)?,
            file.attribute(tags::SERIES_INSTANCE_UID)?,
            file.attribute(tags::SOP_INSTANCE_UID)?,
        ],
    };
    let ts = placing.transfer_syntax.clone();
    let release = match place(run, placing) {
        Ok(r) => r,
        Err(outcome) => return Ok(outcome),
    };
    let usubjid = release.usubjid;
    let (notes, mut original_uids) = file.notes_and_uids()?;
    let (identifiers, prepared) = clean::prepared(notes, usubjid);
    original_uids.insert(file.media_sop_instance.clone());
    let mut ctx = context(run, usubjid, &prepared);
    // Identity and the record of what was done (PS3.15 E.1.1, PS3.3 C.7.1.1), in tag order.
    let set = [
        file.text_element(tags::PATIENT_NAME, VR::PN, usubjid)?,
        file.text_element(tags::PATIENT_ID, VR::LO, usubjid)?,
        file.text_element(tags::PATIENT_IDENTITY_REMOVED, VR::CS, "YES")?,
        file.text_element(tags::DEIDENTIFICATION_METHOD, VR::LO, &method(run))?,
        file.code_sequence(
            tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
            &method_codes(run),
        )?,
        file.text_element(
            tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED,
            VR::CS,
            temporal(run),
        )?,
    ];
    let mut body = Vec::with_capacity(capacity(true));
    let tail_at = file.transform(&mut ctx, &set, &mut body)?;
    let verdict = run.claim(&release.dest, index);
    match verdict {
        Verdict::Duplicate => return Ok(Outcome::Duplicate),
        Verdict::Counted => {
            return Ok(Outcome::AlreadyDone {
                usubjid: usubjid.clone(),
                counts: ctx.counts,
            })
        }
        Verdict::Write | Verdict::Earlier => {}
    }
    let mut bytes =
        match file_meta(&ts, &release).and_then(|m| file_start(&m, capacity(tail_at.is_some()))) {
            Ok(b) => b,
            Err(e) => return Ok(Outcome::NotReleased(format!("could not be encoded: {e}"))),
        };
    bytes.extend_from_slice(&body);
    let tail = tail_at.and_then(|at| input.get(at..));
    if let Verdict::Earlier = verdict {
        if released_as(&release.dest, &bytes, tail) {
            return Ok(Outcome::AlreadyDone {
                usubjid: usubjid.clone(),
                counts: ctx.counts,
            });
        }
    }
    Ok(write_checked(
        run,
        &release,
        &bytes,
        tail,
        &identifiers,
        &original_uids,
        ctx.counts,
    ))
}

/// The file through dicom-rs's in-memory object ([`apply::transform`] and dicom-rs's writer).
fn process_object(run: &Run, path: &Path, input: &[u8], layout: &Layout, index: usize) -> Outcome {
    // Native Pixel Data that ends the file is carried over as its bytes (header and value, the
    // same transfer syntax): only the data set before it is parsed, rewritten and checked.
    let split = pixel_data_tail(layout, input).and_then(|(at, syntax)| {
        let head = crate::ingest::open::open_bytes(&input[..at]).ok()?;
        let same_syntax = head.meta().transfer_syntax().trim_end_matches('\0') == syntax;
        same_syntax.then_some((head, at))
    });
    let (file, tail) = match split {
        Some((head, at)) => (head, Some(&input[at..])),
        // The length check's layout is that of `input` (its padding cut): not walked again.
        None => match crate::ingest::open::open_checked_bytes(input, layout) {
            Ok(f) => (f, None),
            // The scan's reader names the reason (not DICOM, truncated, unsupported syntax, ...).
            Err(e) => {
                return run.unattributed(match crate::ingest::header::read_header(path) {
                    Err(reason) => reason.to_string(),
                    Ok(_) => format!("unreadable DICOM: {e}"),
                })
            }
        },
    };
    let obj: &InMemDicomObject = &file;
    let placing = Placing {
        transfer_syntax: file
            .meta()
            .transfer_syntax()
            .trim_end_matches('\0')
            .to_string(),
        patient_id: str_attr(obj, tags::PATIENT_ID),
        sop_class: str_attr(obj, tags::SOP_CLASS_UID),
        burned_in: str_attr(obj, tags::BURNED_IN_ANNOTATION),
        recognizable: str_attr(obj, tags::RECOGNIZABLE_VISUAL_FEATURES),
        image_type: str_attr(obj, tags::IMAGE_TYPE),
        uids: [
            str_attr(obj, tags::STUDY_INSTANCE_UID),
            str_attr(obj, tags::SERIES_INSTANCE_UID),
            str_attr(obj, tags::SOP_INSTANCE_UID),
        ],
    };
    let ts = placing.transfer_syntax.clone();
    let release = match place(run, placing) {
        Ok(r) => r,
        Err(outcome) => return outcome,
    };
    let usubjid = release.usubjid;
    let (identifiers, prepared) = clean::prepared(clean::notes(obj), usubjid);
    let mut original_uids = HashSet::new();
    verify::uids_of(obj, &mut original_uids);
    verify::note_uid(
        file.meta().media_storage_sop_instance_uid(),
        &mut original_uids,
    );
    let mut ctx = context(run, usubjid, &prepared);
    // A sequence of unknown VR (UN of undefined length, PS3.5 6.2.2) is read as opaque bytes:
    // nothing in it can be de-identified, so it is removed, whatever the profile says of its tag;
    // one inside another sequence's item cannot be, so such a file is not released.
    let mut obj = file.into_inner();
    for p in &layout.unknown_sequences {
        if !p.top_level {
            return Outcome::NotReleased(format!(
                "a sequence of unknown VR ({:04X},{:04X}) inside a sequence item (UN of undefined length, PS3.5 6.2.2): its contents cannot be de-identified",
                p.tag.0, p.tag.1
            ));
        }
        if obj.remove_element(dicom_core::Tag(p.tag.0, p.tag.1)) {
            ctx.counts.action(options::Action::X);
        }
    }
    let mut new = apply::transform(obj, &mut ctx);
    if tail.is_some() {
        // The carried-over Pixel Data is kept, as the profile says (K).
        ctx.counts.action(options::Action::K);
    }
    // Done by an earlier run, the same file: counted (the report describes the release, not the
    // run), not rewritten (`released_as`).
    let verdict = run.claim(&release.dest, index);
    match verdict {
        Verdict::Duplicate => return Outcome::Duplicate,
        Verdict::Counted => {
            return Outcome::AlreadyDone {
                usubjid: usubjid.clone(),
                counts: ctx.counts,
            }
        }
        Verdict::Write | Verdict::Earlier => {}
    }
    // Identity and the record of what was done (PS3.15 E.1.1, PS3.3 C.7.1.1).
    for (tag, vr, value) in [
        (tags::PATIENT_ID, VR::LO, usubjid.as_str()),
        (tags::PATIENT_NAME, VR::PN, usubjid.as_str()),
        (tags::PATIENT_IDENTITY_REMOVED, VR::CS, "YES"),
        (tags::DEIDENTIFICATION_METHOD, VR::LO, &method(run)),
        (
            tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED,
            VR::CS,
            temporal(run),
        ),
    ] {
        new.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
    }
    let items = method_codes(run)
        .iter()
        .map(|(c, m)| code_item(c, m))
        .collect();
    new.put(sq(tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE, items));
    if tail.is_none() && ts != "1.2.840.10008.1.2.2" {
        words_as_bytes(&mut new);
    }
    let encoded =
        file_meta(&ts, &release).and_then(|meta| encode(new, &meta, capacity(tail.is_some())));
    let bytes = match encoded {
        Ok(b) => b,
        Err(e) => return Outcome::NotReleased(format!("could not be encoded: {e}")),
    };
    if let Verdict::Earlier = verdict {
        if released_as(&release.dest, &bytes, tail) {
            return Outcome::AlreadyDone {
                usubjid: usubjid.clone(),
                counts: ctx.counts,
            };
        }
    }
    write_checked(
        run,
        &release,
        &bytes,
        tail,
        &identifiers,
        &original_uids,
        ctx.counts,
    )
}

/// Whether `out` holds no folder (no released file: they live in subject folders); true when it
/// does not exist.
fn holds_no_folder(out: &Path) -> bool {
    match std::fs::read_dir(out) {
        Ok(entries) => !entries
            .flatten()
            .any(|e| e.file_type().is_ok_and(|t| t.is_dir())),
        Err(_) => true,
    }
}

/// De-identify `opts.input` into `opts.out`; writes `deid-report.json` (no PHI) and, when asked,
/// the site-side log of input paths not released.
pub fn run(opts: &DeidOptions) -> Result<DeidSummary, DeidError> {
    let config = match &opts.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| DeidError::Config {
                path: p.clone(),
                what: e.to_string(),
            })?;
            DeidConfig::parse(&text).map_err(|what| DeidError::Config {
                path: p.clone(),
                what,
            })?
        }
        None => DeidConfig::default(),
    };
    run_with(opts, config.options, false)
}

/// Several input files of one SOP instance (exported twice, or once more in another transfer
/// syntax) are one output file, which the first of them to finish claimed. So that the release
/// does not depend on that race nor on what a killed earlier run wrote, each such output is
/// written again, after the run, from the first of its input files in input order, and the
/// report counts that file's actions. Nothing is done when that file was the one written.
fn settle_duplicates(run: &Run, files: &[PathBuf], tally: &mut Tally) {
    let mut claims: Vec<Claim> = run
        .claimed
        .lock()
        .map(|c| {
            c.values()
                .filter(|c| c.inputs > 1 && (c.tallied != c.lowest || c.earlier))
                .copied()
                .collect()
        })
        .unwrap_or_default();
    claims.sort_by_key(|c| c.lowest);
    let settle = |index: u32, verdict: Verdict| {
        if let Ok(mut s) = run.settled.lock() {
            s.insert(index as usize, verdict);
        }
    };
    for c in claims {
        let (tallied, lowest) = (c.tallied as usize, c.lowest as usize);
        if tallied != lowest {
            // Take back what was counted for the file that claimed the output first.
            settle(c.tallied, Verdict::Counted);
            if let Outcome::AlreadyDone { counts, .. } = process(run, &files[tallied], tallied) {
                tally.actions(&counts, false);
            }
        }
        settle(c.lowest, Verdict::Write);
        match process(run, &files[lowest], lowest) {
            Outcome::Released { counts, usubjid } if tallied != lowest => {
                tally.actions(&counts, true);
                // The file that claimed the output first failed the PHI check (counted as
                // neither released nor a duplicate): its failure is taken back, as it is now
                // the duplicate of a released file.
                if tally.take_back_failure(tallied, &files[tallied]) {
                    tally.summary.released += 1;
                    *tally.per_subject.entry(usubjid).or_default() += 1;
                }
                // The first file is released; the one that won the race is the duplicate.
                tally.duplicates.remove(&lowest);
                tally.duplicates.insert(tallied, files[tallied].clone());
            }
            Outcome::Released { .. } => {}
            // Not written: the output keeps the other file's release, and this file is reported
            // for its reason instead of as what the run first counted it.
            other => {
                let first = if tallied != lowest {
                    &mut tally.summary.duplicates
                } else {
                    &mut tally.summary.already_done
                };
                *first = first.saturating_sub(1);
                tally.files_seen = tally.files_seen.saturating_sub(1);
                tally.duplicates.remove(&lowest);
                tally.add(lowest, &files[lowest], other);
            }
        }
    }
}

impl DeidSummary {
    /// The run as a success, or its failure: a file that failed the PHI check fails `deid` (the
    /// release holds the rest, its series withheld, the report says which). `run` goes on.
    pub fn checked(self) -> Result<DeidSummary, DeidError> {
        match self.verification_failures {
            0 => Ok(self),
            n => Err(DeidError::VerificationFailed(n)),
        }
    }
}

/// De-identify with the given options (the pipeline passes its config's); `quiet` hides progress.
pub fn run_with(
    opts: &DeidOptions,
    options: DeidOptionsSet,
    quiet: bool,
) -> Result<DeidSummary, DeidError> {
    run_paths(opts, options, quiet, true).map(|(summary, _)| summary)
}

/// [`run_with`], with the byte path ([`raw`]) or through dicom-rs's object for every file (the
/// tests compare the two).
fn run_paths(
    opts: &DeidOptions,
    options: DeidOptionsSet,
    quiet: bool,
    byte_path: bool,
) -> Result<(DeidSummary, usize), DeidError> {
    let config = DeidConfig { options };
    let key = read_key(&opts.key)?;
    let map = read_subject_map(&opts.subjects)?;
    if !quiet {
        for why in shared_usubjids(&opts.subjects) {
            crate::say!("deid: warning: {why}");
        }
    }
    if !opts.input.exists() {
        return Err(DeidError::MissingInput(opts.input.clone()));
    }
    if crate::folders::lies_within(&opts.out, &opts.input) {
        return Err(DeidError::Placement(crate::folders::inside_input_message(
            &opts.out,
            &opts.input,
        )));
    }
    if let Some(log) = opts
        .site_log
        .as_ref()
        .filter(|log| crate::folders::lies_within(log, &opts.out))
    {
        return Err(DeidError::Placement(
            crate::folders::site_log_in_output_message(log, &opts.out),
        ));
    }
    if let Some(log) = opts
        .site_log
        .as_ref()
        .filter(|log| crate::folders::lies_within(log, &opts.input))
    {
        return Err(DeidError::Placement(
            crate::folders::site_log_in_input_message(log, &opts.input),
        ));
    }
    if let Some(log) = &opts.site_log {
        let mut inputs = vec![
            ("the study key (--key)", opts.key.as_path()),
            ("the subject map (--subjects)", opts.subjects.as_path()),
        ];
        inputs.extend(opts.config.as_deref().map(|c| ("the config (--config)", c)));
        if let Some(why) = crate::folders::overwritten_input(&[log], &inputs) {
            return Err(DeidError::Placement(why));
        }
    }
    // One process writes the folder at a time (a second one's sweep below would delete the
    // first one's temporary files under way).
    let _lock = crate::atomic::DirLock::acquire_or(&opts.out, DeidError::Busy, |source| {
        DeidError::Write {
            path: opts.out.clone(),
            source,
        }
    })?;
    // A killed earlier run may have left temporary files; finished files are kept and skipped.
    crate::atomic::remove_stale_temps(&opts.out);
    let key_id = keyed::key_id(&key);
    // Only a folder an earlier run released into (it names a key) is made to mirror the input:
    // an --out that points at a folder of other files never loses one.
    let earlier_release = release_folder::earlier_release_of_key(&opts.out, &key_id)?;
    release_folder::mark_key(&opts.out, &key_id).map_err(|source| DeidError::Write {
        path: opts.out.join(crate::atomic::KEY_ID_NAME),
        source,
    })?;
    // Files on disk are done only if made as this run makes them (this build, these options).
    // An empty output is marked at once (a killed run's files are then this identity's); a
    // release made otherwise is unmarked while it is made again, and marked once whole.
    let identity = release_folder::release_identity(&config.options);
    let fresh_output = holds_no_folder(&opts.out);
    let trust_earlier = release_folder::made_as(&opts.out, &identity);
    let marked = if fresh_output {
        release_folder::mark_made(&opts.out, &identity)
    } else if trust_earlier {
        Ok(())
    } else {
        release_folder::unmark_made(&opts.out)
    };
    marked.map_err(|source| DeidError::Write {
        path: opts.out.join(crate::atomic::RELEASE_MADE_NAME),
        source,
    })?;
    let walk = crate::ingest::walk::walk(std::slice::from_ref(&opts.input));
    let bar = crate::report::progress::bar(walk.files.len() as u64, "deid", quiet);
    let shard = opts.shard.unwrap_or_else(crate::shard::Shard::whole);
    let run_ctx = Run {
        key: &key,
        options: config.options,
        map: &map,
        out: &opts.out,
        owned: shard.subjects(map.values()),
        reports_unattributed: shard.reports_unattributed(),
        sharded: !shard.is_whole(),
        uids: keyed::UidMapper::new(&key),
        made_dirs: Default::default(),
        fresh_output,
        trust_earlier,
        claimed: Default::default(),
        settled: Default::default(),
        byte_path,
        taken: Default::default(),
        in_map: Default::default(),
        not_in_map: Default::default(),
    };
    let mut tally = Tally {
        site_log: String::from("input_path\treason\n"),
        ..Default::default()
    };
    // A block of files at a time, its outcomes folded into the totals before the next one: what
    // is held per file does not grow with the trial.
    const BLOCK: usize = 2048;
    for (b, block) in walk.files.chunks(BLOCK).enumerate() {
        let outcomes: Vec<Outcome> = block
            .par_iter()
            .enumerate()
            .map(|(i, p)| {
                let o = process(&run_ctx, p, b * BLOCK + i);
                bar.inc(1);
                o
            })
            .collect();
        for (i, (path, o)) in block.iter().zip(outcomes).enumerate() {
            tally.add(b * BLOCK + i, path, o);
        }
    }
    bar.finish_and_clear();
    settle_duplicates(&run_ctx, &walk.files, &mut tally);
    tally.log_duplicates();
    tally.withhold_failed_series(run_ctx.out);
    // A map that matches none of the export's files is the wrong map: the run fails (below),
    // and must not first withdraw the earlier release, every subject of which it "lacks".
    let (in_map, not_in_map) = (
        run_ctx.in_map.load(std::sync::atomic::Ordering::Relaxed),
        run_ctx
            .not_in_map
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    // Nor a rerun whose input holds no file of the map's subjects at all (an export share not
    // mounted: a review found the whole earlier release withdrawn, exit 0).
    let nothing = in_map == 0 && not_in_map == 0 && earlier_release && !fresh_output;
    let wrong_map = in_map == 0 && not_in_map > 0 || nothing;
    // The release mirrors this run's input: what an earlier run released and this one does not
    // goes (a series removed from the export, a subject taken out of the map).
    // Not by a run that failed to write some of its files (it fails: see below).
    let withdrawn =
        if run_ctx.fresh_output || !earlier_release || !tally.unwritten.is_empty() || wrong_map {
            0
        } else {
            match run_ctx.claimed.lock() {
                Ok(claimed) => {
                    // This run's subjects, and folders of subjects no longer in the map at all:
                    // withdrawn, and counted.
                    let mapped: HashSet<&str> = map.values().map(String::as_str).collect();
                    let in_scope = |s: &str| run_ctx.owned.contains(s) || !mapped.contains(s);
                    let unclaimed = |id: &[u8; 16]| claimed.contains_key(id);
                    let withdrawn =
                        release_folder::withdraw_unclaimed(run_ctx.out, &in_scope, unclaimed);
                    // Subjects of the map this shard no longer owns (the map changed and they
                    // were dealt anew): another shard releases them now, so they leave this
                    // folder uncounted. Kept, they were in two shards, and the merge refused.
                    let elsewhere = |s: &str| !in_scope(s);
                    release_folder::withdraw_unclaimed(run_ctx.out, &elsewhere, unclaimed);
                    withdrawn
                }
                Err(_) => 0,
            }
        };
    tally.summary.withdrawn = withdrawn;
    let Tally {
        mut summary,
        counts,
        per_subject,
        mut not_released,
        mut site_log,
        mut files_seen,
        unwritten,
        duplicates: _,
        failed_series: _,
    } = tally;
    for (path, why) in walk.errors.iter().filter(|_| run_ctx.reports_unattributed) {
        files_seen += 1;
        summary.not_released += 1;
        site_log.push_str(&format!("{}\t{why}\n", crate::path_text::shown(path)));
        not_released.push(json!({"file": null, "reason": why}));
    }
    let report = json!({
        "tool": format!("ancilla {}", env!("CARGO_PKG_VERSION")),
        "profile": "DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile (Table E.1-1, editions 2024b-2024e)",
        "key_id": key_id,
        "options": config.options.codes().iter().map(|(c, m, _)| json!({"code": c, "meaning": m})).collect::<Vec<_>>(),
        "files_seen": files_seen,
        // The state of the output, whichever run wrote each file (a resumed run reports the same).
        "released": summary.released + summary.already_done,
        // Files of a SOP instance released from another input file (the first in input order).
        "duplicates": summary.duplicates,
        "not_released": not_released,
        "verification_failures": summary.verification_failures,
        // Released files of those files' series, removed with them.
        "withheld_with_their_series": summary.withheld,
        // Released by an earlier run into this folder, not by this one: removed.
        "withdrawn": summary.withdrawn,
        "actions": counts,
        "files_per_subject": per_subject,
        "note": "files are numbered in the sorted order of the input tree; their paths are only in the site-side log",
    });
    if let Some(first) = unwritten.first() {
        // The site-side log names them (a best effort: the disk may be full); no report is
        // written for a release that is not whole.
        if let Some(log) = &opts.site_log {
            let _ = crate::atomic::write_bytes(log, site_log.as_bytes());
        }
        return Err(DeidError::Unwritten {
            count: unwritten.len(),
            first: first.clone(),
        });
    }
    if nothing {
        // The release on disk is the earlier one: its report stays.
        return Err(DeidError::NothingToRelease(files_seen));
    }
    let rp = opts.out.join("deid-report.json");
    crate::atomic::write_json(&rp, &report)
        .map_err(|source| DeidError::Write { path: rp, source })?;
    // Not by a run with the wrong map: it leaves the earlier release as it was (a review found
    // it marked an older, laxer release as made with the new options).
    if !wrong_map {
        release_folder::mark_made(&opts.out, &identity).map_err(|source| DeidError::Write {
            path: opts.out.join(crate::atomic::RELEASE_MADE_NAME),
            source,
        })?;
    }
    if let Some(log) = &opts.site_log {
        crate::atomic::write_bytes(log, site_log.as_bytes()).map_err(|source| {
            DeidError::Write {
                path: log.clone(),
                source,
            }
        })?;
    }
    if !quiet {
        crate::say!(
            "deid: {} released, {} already done, {}, {} not released, {} failed verification{}",
            summary.released,
            summary.already_done,
            crate::plural::count(summary.duplicates, "duplicate"),
            summary.not_released,
            summary.verification_failures,
            match summary.withdrawn {
                0 => String::new(),
                n => format!(
                    ", {} of an earlier release withdrawn (no longer released)",
                    crate::plural::count(n, "file")
                ),
            }
        );
        if let Some(why) = not_released_reasons(&report["not_released"], opts.site_log.is_some()) {
            crate::say!("deid: not released: {why}");
        }
    }
    if wrong_map {
        return Err(DeidError::NoSubjectFound {
            files: not_in_map,
            map: map.len(),
        });
    }
    Ok((summary, run_ctx.taken.into_inner()))
}

/// The reasons of the report's `not_released` entries, each with its count, the most frequent
/// first (at most five, then how many more), and where each file is named; `None` when every
/// file was released. The reasons carry no values of the files (they are in the report too).
fn not_released_reasons(entries: &serde_json::Value, site_log: bool) -> Option<String> {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for e in entries.as_array()? {
        *counts
            .entry(e["reason"].as_str().unwrap_or("(no reason)"))
            .or_default() += 1;
    }
    if counts.is_empty() {
        return None;
    }
    let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut parts: Vec<String> = by_count
        .iter()
        .take(5)
        .map(|(why, n)| format!("{n} × {why}"))
        .collect();
    if by_count.len() > 5 {
        parts.push(format!("{} other reasons", by_count.len() - 5));
    }
    let named = if site_log {
        "deid-report.json numbers each file, the site log names it"
    } else {
        "deid-report.json numbers each file; a rerun with --site-log FILE names them there"
    };
    Some(format!("{} ({named})", parts.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The terminal's summary of files not released: counts per reason, most frequent first,
    /// five at most.
    #[test]
    fn not_released_reasons_are_counted_most_frequent_first() {
        let entry = |why: &str| json!({"file": 1, "reason": why});
        let mut entries: Vec<serde_json::Value> = Vec::new();
        entries.extend((0..3).map(|_| entry("b")));
        entries.extend((0..5).map(|_| entry("a")));
        entries.extend(["c", "d", "e", "f", "g"].map(entry));
        let said = not_released_reasons(&json!(entries), true).unwrap();
        assert_eq!(
            said,
            "5 × a; 3 × b; 1 × c; 1 × d; 1 × e; 2 other reasons \
             (deid-report.json numbers each file, the site log names it)"
        );
        assert_eq!(not_released_reasons(&json!([]), false), None);
    }

    /// Every file under `input` de-identified by both paths (the byte path where it takes the
    /// file on, and dicom-rs's object for all): the same files, byte for byte, and the same
    /// report. Returns (files released, files the byte path took).
    fn both_paths(input: &Path, key: &Path, map: &Path) -> (usize, usize) {
        let out = tempfile::tempdir().expect("temp dir");
        let run = |dir: &str, byte_path: bool| {
            let opts = DeidOptions {
                input: input.to_path_buf(),
                out: out.path().join(dir),
                key: key.to_path_buf(),
                subjects: map.to_path_buf(),
                config: None,
                site_log: None,
                shard: None,
            };
            run_paths(&opts, DeidOptionsSet::default(), true, byte_path).expect("deid runs")
        };
        let (bytes_summary, taken) = run("bytes", true);
        let (object_summary, none) = run("object", false);
        assert_eq!(none, 0);
        let tree = |dir: &str| {
            let mut files = BTreeMap::new();
            let root = out.path().join(dir);
            let mut stack = vec![root.clone()];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).expect("output dir").flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else {
                        let rel = p.strip_prefix(&root).expect("under root").to_path_buf();
                        files.insert(rel, std::fs::read(&p).expect("output file"));
                    }
                }
            }
            files
        };
        let (by_bytes, by_object) = (tree("bytes"), tree("object"));
        assert_eq!(
            by_bytes.keys().collect::<Vec<_>>(),
            by_object.keys().collect::<Vec<_>>()
        );
        for (name, b) in &by_bytes {
            let o = &by_object[name];
            let first = b.iter().zip(o).position(|(x, y)| x != y);
            assert!(
                b == o,
                "{} differs (lengths {} and {}, first at {first:?})",
                name.display(),
                b.len(),
                o.len()
            );
        }
        assert_eq!(bytes_summary.released, object_summary.released);
        assert_eq!(bytes_summary.not_released, object_summary.not_released);
        assert_eq!(
            bytes_summary.verification_failures,
            object_summary.verification_failures
        );
        (bytes_summary.released, taken)
    }

    #[test]
    fn the_byte_path_releases_what_the_object_path_releases_on_encapsulated_and_seg_files() {
        // Files written by other tools (pydicom, highdicom, CharLS, DCMTK, libjpeg-turbo; see
        // their READMEs): JPEG (8- and 12-bit), JPEG 2000, JPEG-LS and RLE fragments, SEG
        // frames, the IBSI phantom's DICOM.
        let dir = tempfile::tempdir().expect("temp dir");
        let map = dir.path().join("map.csv");
        std::fs::write(
            &map,
            "patient_id,usubjid\nFIXTURE,ANC-T-0001\nPHANTOM-SEG,ANC-T-0002\nFIG61,ANC-T-0003\n",
        )
        .expect("map");
        let key = dir.path().join("key.bin");
        std::fs::write(&key, [7u8; 32]).expect("key");
        let (released, taken) = both_paths(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data"),
            &key,
            &map,
        );
        // One file fails the PHI check by either path; two IBSI files are not Part 10. (The
        // IBSI phantom's image had failed too: its model name
        // "CreateIBSIPhantomImageAndSegmentation" holds the patient's "IBSI^Digital Phantom",
        // but not as words.) 43: with the three of transfer-syntaxes/jpeg-lossless-high-bits.
        assert_eq!(released, 43);
        assert!(taken >= 35, "the byte path took {taken}");
    }

    /// The constructs the random Table E.1-1 check found faults in (a sequence given a dummy,
    /// binary values under Clean, identifiers the profile removes repeated in a descriptor, a
    /// date-time of reduced precision), planted in a phantom file: both paths release the same
    /// bytes (the byte path takes the file on).
    #[test]
    fn the_byte_path_releases_what_the_object_path_releases_on_the_table_checks_cases() {
        use dicom_core::value::{DataSetSequence, PrimitiveValue};
        use dicom_core::{DataElement, Length, Tag, VR};
        let dir = tempfile::tempdir().expect("temp dir");
        crate::phantom::generate(&crate::phantom::PhantomOptions {
            out: dir.path().to_path_buf(),
            subjects: 1,
            seed: 12,
            dicom_rois: false,
        })
        .expect("phantom");
        let export = dir.path().join("site-export");
        let first = crate::ingest::walk::walk(std::slice::from_ref(&export))
            .files
            .into_iter()
            .find(|p| dicom_object::open_file(p).is_ok())
            .expect("a DICOM file");
        let mut obj = dicom_object::open_file(&first).expect("opens");
        let text = |tag: Tag, vr: VR, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
        let code = dicom_object::InMemDicomObject::from_element_iter([
            text(tags::CODE_VALUE, VR::SH, "EMP40417"),
            text(tags::CODE_MEANING, VR::LO, "Oberbrunner Karla"),
        ]);
        let person = dicom_object::InMemDicomObject::from_element_iter([DataElement::new(
            tags::PERSON_IDENTIFICATION_CODE_SEQUENCE,
            VR::SQ,
            DataSetSequence::new(vec![code], Length::UNDEFINED),
        )]);
        for e in [
            DataElement::new(
                tags::OPERATOR_IDENTIFICATION_SEQUENCE,
                VR::SQ,
                DataSetSequence::new(vec![person.clone(), person], Length::UNDEFINED),
            ),
            text(Tag(0x0010, 0x1000), VR::LO, "H7K3PQ2Z"),
            text(tags::ADMISSION_ID, VR::LO, "ADM55821X"),
            text(
                tags::SERIES_DESCRIPTION,
                VR::LO,
                "renal H7K3PQ2Z ADM55821X t2",
            ),
            DataElement::new(
                tags::MAKER_NOTE,
                VR::OB,
                PrimitiveValue::from(b"EXIF owner H7K3PQ2Z ".to_vec()),
            ),
            text(tags::ACQUISITION_DATE_TIME, VR::DT, "202403"),
            text(tags::SOP_INSTANCE_UID, VR::UI, "1.2.826.0.1.3680043.9.7.44"),
        ] {
            obj.put(e);
        }
        obj.write_to_file(export.join("planted.dcm"))
            .expect("written");
        let (released, taken) = both_paths(
            &export,
            &dir.path().join("key.bin"),
            &dir.path().join("clinical/subject_map.csv"),
        );
        assert!(released > 10, "{released} released");
        assert!(
            taken >= released,
            "the byte path took {taken} of {released}"
        );
    }

    #[test]
    fn the_byte_path_releases_what_the_object_path_releases_on_the_phantom() {
        let dir = tempfile::tempdir().expect("temp dir");
        crate::phantom::generate(&crate::phantom::PhantomOptions {
            out: dir.path().to_path_buf(),
            subjects: 2,
            seed: 11,
            dicom_rois: true,
        })
        .expect("phantom");
        let (released, taken) = both_paths(
            &dir.path().join("site-export"),
            &dir.path().join("key.bin"),
            &dir.path().join("clinical/subject_map.csv"),
        );
        assert!(released > 100, "{released} released");
        assert!(
            taken >= released,
            "the byte path took {taken} of {released}"
        );
    }
}
