//! Ingest: directory walk, header-only DICOM parsing (PS3.10 files, stopping before Pixel Data),
//! inventory of patients / studies / series, series classification and geometry plan, every file
//! accounted for (used, or rejected with its reason). A series' files are stacked as dcm2niix
//! v1.0.20260724 stacks them: each multi-frame file that places its frames alone, the others in
//! stacks of one matrix size, RepetitionTime and FlipAngle (each stack a `Series` of its own).
//!
//! Submodules: `walk` (parallel directory walk), `preflight` (lengths checked before parsing),
//! `header` (one file → `FileRecord`), `values` (attribute values as text and numbers, UN read
//! by the dictionary's VR), `frames` (one `ImageRecord` per frame, tile or slice of a file),
//! `pixel_presence` (Pixel Data complete, judged without reading it), `reject` (why a file is
//! not used), `classify` (series kind), `flat_header` (an enhanced header seen as a classic
//! one), `geometry` (slice order, checks, splitting → `VolumePlan`), `diffusion` (b-values and
//! gradient directions of every maker), `siemens` (CSA header, private b-value, mosaic tiles,
//! protocol), `ge` (GE's EPI names, group delay and protocol data block), `readout`
//! (phase-encoding matrix and EPI echo spacing for the sidecar), `open` (a whole file as a Part
//! 10 object, a data set without the Part 10 header too), `prefetch` (read-ahead of the files
//! to come), `inventory_json` (the PHI-free inventory written by `--json`).

pub mod classify;
pub mod diffusion;
pub mod flat_header;
pub mod frames;
pub mod ge;
pub mod geometry;
pub mod header;
mod inventory_json;
pub mod open;
pub mod pixel_presence;
pub mod prefetch;
pub mod preflight;
pub mod readout;
pub mod reject;
pub mod siemens;
pub mod values;

pub use inventory_json::to_json as inventory_json;
pub use inventory_json::to_json_named as inventory_json_named;
pub mod walk;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

pub use classify::SeriesKind;
pub use geometry::{SliceRef, VolumePlan};
pub use header::{FileRecord, ImageRecord};
pub use reject::RejectReason;

/// Errors of a scan as a whole (a bad file is not an error: it is rejected with a reason).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("input {0} does not exist")]
    MissingInput(PathBuf),
    #[error(
        "the inventory {json} lies inside the input {input}: the input tree is not written to \
         (and a next scan would list the inventory as a rejected file); write it outside"
    )]
    InventoryInsideInput { json: PathBuf, input: PathBuf },
    #[error("cannot write the inventory {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the listing to standard output: {0}")]
    Output(#[source] std::io::Error),
}

impl crate::ExitCode for IngestError {
    fn exit_code(&self) -> u8 {
        match self {
            IngestError::MissingInput(_) | IngestError::InventoryInsideInput { .. } => 2,
            IngestError::Write { .. } | IngestError::Output(_) => 1,
        }
    }
}

/// A file that is not used, with its reason.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub path: PathBuf,
    pub reason: RejectReason,
    /// Site PatientID when the header could be read (site-side display only).
    pub patient_id: Option<String>,
}

/// One series of the inventory.
#[derive(Debug, Clone)]
pub struct Series {
    pub patient_id: String,
    pub patient_name: String,
    pub study_uid: String,
    pub series_uid: String,
    pub modality: String,
    pub kind: SeriesKind,
    /// The kind came from SeriesDescription only.
    pub kind_from_description: bool,
    pub series_number: Option<i64>,
    pub description: String,
    /// Files of the series, sorted by path (boxed: a whole-export inventory moves them around
    /// by pointer and holds each record once).
    pub files: Vec<Box<FileRecord>>,
    /// Volumes the series makes (image series), or why it makes none.
    pub plan: Result<Vec<VolumePlan>, String>,
    /// The file (index into `files`) that shows why the series makes no volume, when one does
    /// (an image without a position, another pixel spacing, the slice after a gap): named on
    /// the terminal, where the site's paths may be shown.
    pub refused_file: Option<usize>,
    /// (1-based part, parts) when the files of its series UID were not stacked together (a
    /// multi-frame file placing its frames, another matrix size, TR or flip angle), as dcm2niix
    /// splits them.
    pub part: Option<(usize, usize)>,
    /// How many StudyInstanceUIDs its files carry: 1, or more when a writer made one per file
    /// (SimpleITK's DicomSeriesFromArray example does). A SeriesInstanceUID names one series
    /// (PS3.3 C.7.3.1), so such files are one series all the same, under the study UID that
    /// sorts first; to be said (`merge_studies_of_one_series`).
    pub studies: usize,
}

impl Series {
    /// True for series that carry images (not SEG / RTSTRUCT / SR...).
    pub fn is_image(&self) -> bool {
        self.files.iter().any(|f| f.has_pixels)
            && !matches!(self.kind, SeriesKind::Seg | SeriesKind::Rtstruct)
    }

    /// Number of 2D images.
    pub fn image_count(&self) -> usize {
        self.files.iter().map(|f| f.images.len()).sum()
    }
}

/// Everything a scan found.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Number of files looked at.
    pub files_seen: usize,
    pub series: Vec<Series>,
    pub rejected: Vec<Rejected>,
}

impl Inventory {
    /// Files used in a series that makes volumes (or a non-image object).
    pub fn files_used(&self) -> usize {
        self.series
            .iter()
            .filter(|s| s.plan.is_ok())
            .map(|s| s.files.len())
            .sum()
    }

    /// Files not used: rejected alone, or part of a series that makes no volume.
    pub fn files_rejected(&self) -> usize {
        self.rejected.len()
            + self
                .series
                .iter()
                .filter(|s| s.plan.is_err())
                .map(|s| s.files.len())
                .sum::<usize>()
    }

    /// The files of `files_rejected` counted by kind: each rejected file's (`RejectReason::kind`),
    /// and "series_geometry" for the files of a series that makes no volume.
    pub fn rejected_by_reason(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for r in &self.rejected {
            *counts.entry(r.reason.kind()).or_default() += 1;
        }
        for s in self.series.iter().filter(|s| s.plan.is_err()) {
            *counts.entry("series_geometry".to_string()).or_default() += s.files.len();
        }
        counts
    }
}

/// (PatientID, StudyInstanceUID, SeriesInstanceUID): what makes files one series.
type SeriesKey = (Arc<str>, Arc<str>, Arc<str>);

/// One copy of each value the files of a series repeat: records point at it instead of holding
/// their own (a 21,800-file export held 1.6 KB per file before, most of it these strings).
#[derive(Default)]
struct Interner {
    strings: std::collections::HashSet<Arc<str>>,
    lists: std::collections::HashSet<Arc<[String]>>,
}

impl Interner {
    fn string(&mut self, s: &mut Arc<str>) {
        match self.strings.get(&**s) {
            Some(shared) => *s = shared.clone(),
            None => {
                self.strings.insert(s.clone());
            }
        }
    }

    fn share(&mut self, r: &mut FileRecord) {
        for s in [
            &mut r.patient_id,
            &mut r.patient_name,
            &mut r.study_uid,
            &mut r.series_uid,
            &mut r.sop_class,
            &mut r.transfer_syntax,
            &mut r.modality,
            &mut r.series_description,
            &mut r.stacking_name,
            &mut r.scanning_sequence,
            &mut r.frame_of_reference,
        ] {
            self.string(s);
        }
        match self.lists.get(&*r.image_type) {
            Some(shared) => r.image_type = shared.clone(),
            None => {
                self.lists.insert(r.image_type.clone());
            }
        }
    }
}

/// Scan inputs (files or directories): headers read in parallel, grouped and planned.
pub fn scan_paths(inputs: &[PathBuf]) -> Result<Inventory, IngestError> {
    scan(inputs, false, prefetch::Span::Headers)
}

/// `scan_paths`, the PET files' SUV inputs kept in their records (see `quant::suv::suv_for_series`):
/// for a scan whose series are then converted or measured.
pub fn scan_paths_for_suv(inputs: &[PathBuf]) -> Result<Inventory, IngestError> {
    scan(inputs, true, prefetch::Span::Headers)
}

/// `scan_paths_for_suv` for a conversion: whole files are read ahead (their pixels are read next).
pub fn scan_paths_to_convert(inputs: &[PathBuf]) -> Result<Inventory, IngestError> {
    scan(inputs, true, prefetch::Span::WholeFiles)
}

fn scan(
    inputs: &[PathBuf],
    keep_suv: bool,
    ahead: prefetch::Span,
) -> Result<Inventory, IngestError> {
    for i in inputs {
        if std::fs::symlink_metadata(i).is_err() {
            return Err(IngestError::MissingInput(i.clone()));
        }
    }
    let w = walk::walk(inputs);
    // Records are boxed while the headers are read (a slot is a pointer, not a record), the path
    // is kept apart only for rejected files, and the walk's list is dropped before grouping: a
    // whole-export scan holds each file's facts once.
    // The values a series' files share (patient, UIDs, modality, descriptions) are held once.
    let interner = std::sync::Mutex::new(Interner::default());
    // The list is shared with the read-ahead, not copied.
    let files: std::sync::Arc<[PathBuf]> = w.files.into();
    let read_ahead = prefetch::Prefetch::start(files.clone(), ahead);
    let results: Vec<Result<Box<FileRecord>, (PathBuf, RejectReason)>> = files
        .par_iter()
        .map(|p| {
            // A defect of ancilla on one file costs that file, not the scan.
            let r = std::panic::catch_unwind(|| header::read_header_with(p, keep_suv))
                .unwrap_or_else(|_| Err(RejectReason::Unreadable(crate::INTERNAL_ERROR.into())));
            read_ahead.read_one();
            r.map(|mut rec| {
                if let Ok(mut i) = interner.lock() {
                    i.share(&mut rec);
                }
                Box::new(rec)
            })
            .map_err(|r| (p.clone(), r))
        })
        .collect();
    drop(read_ahead);
    drop(interner);
    let mut inv = Inventory {
        files_seen: files.len() + w.errors.len(),
        ..Inventory::default()
    };
    drop(files);
    for (path, why) in w.errors {
        inv.rejected.push(Rejected {
            path,
            reason: RejectReason::NotRead(why),
            patient_id: None,
        });
    }
    let mut records: Vec<Box<FileRecord>> = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(rec) => records.push(rec),
            Err((path, reason)) => inv.rejected.push(Rejected {
                path,
                reason,
                patient_id: None,
            }),
        }
    }
    // Series = runs of equal (patient, study, series) after sorting the pointers; each run's
    // records move into a vector of exactly its size.
    let key = |r: &FileRecord| {
        (
            r.patient_id.clone(),
            r.study_uid.clone(),
            r.series_uid.clone(),
        )
    };
    records.sort_by(|a, b| {
        (&a.patient_id, &a.study_uid, &a.series_uid).cmp(&(
            &b.patient_id,
            &b.study_uid,
            &b.series_uid,
        ))
    });
    let mut groups: Vec<(SeriesKey, Vec<Box<FileRecord>>)> = Vec::new();
    let mut rest = records.into_iter().peekable();
    while let Some(first) = rest.next() {
        let k = key(&first);
        let mut run = vec![first];
        while let Some(next) =
            rest.next_if(|r| (&r.patient_id, &r.study_uid, &r.series_uid) == (&k.0, &k.1, &k.2))
        {
            run.push(next);
        }
        groups.push((k, run));
    }
    merge_studies_of_one_series(&mut groups);
    merge_siemens_dynamics(&mut groups);
    // Each series' parts (stacks), and the files of it rejected as duplicates, with why.
    type Grouped = (Vec<Series>, Vec<(PathBuf, RejectReason)>);
    let grouped: Vec<Grouped> = groups
        .into_par_iter()
        .map(|((patient_id, study_uid, series_uid), mut files)| {
            // (A merged dynamic's files in series order: its first file names it.)
            files.sort_by(|a, b| {
                let number = |f: &FileRecord| f.siemens_dynamic.then_some(f.series_number);
                (number(a), &a.path).cmp(&(number(b), &b.path))
            });
            // The same SOP instance twice (copied exports): use the first, reject the others;
            // a copy whose bytes differ (a corrected re-send) is said apart, as which of the
            // two is right is the site's question.
            let mut seen: std::collections::HashMap<String, PathBuf> =
                std::collections::HashMap::new();
            let mut duplicates = Vec::new();
            files.retain(|f| {
                if f.sop_uid.is_empty() {
                    return true;
                }
                match seen.get(&f.sop_uid) {
                    None => {
                        seen.insert(f.sop_uid.clone(), f.path.clone());
                        true
                    }
                    Some(used) => {
                        let reason = if same_bytes(used, &f.path) {
                            RejectReason::Duplicate
                        } else {
                            RejectReason::DuplicateDiffers
                        };
                        duplicates.push((f.path.clone(), reason));
                        false
                    }
                }
            });
            // A multi-frame file that places each of its frames is a volume (or a 4D set) of
            // its own: dcm2niix converts it alone, never stacked with the series' other files.
            let (alone, rest): (Vec<_>, Vec<_>) = if files.len() > 1 {
                files.into_iter().partition(|f| places_its_frames(f))
            } else {
                (Vec::new(), files)
            };
            let stacked: Vec<_> = stacks(rest)
                .into_iter()
                .chain(alone.into_iter().map(|f| vec![f]))
                .collect();
            let n = stacked.len();
            let parts = stacked
                .into_iter()
                .enumerate()
                .map(|(i, files)| {
                    let mut s = make_series(&patient_id, &study_uid, &series_uid, files);
                    s.part = (n > 1).then_some((i + 1, n));
                    s
                })
                .collect();
            (parts, duplicates)
        })
        .collect();
    let mut series = Vec::with_capacity(grouped.len());
    for (parts, duplicates) in grouped {
        let patient_id = parts.first().map(|s| s.patient_id.clone());
        inv.rejected
            .extend(duplicates.into_iter().map(|(path, reason)| Rejected {
                path,
                reason,
                patient_id: patient_id.clone(),
            }));
        series.extend(parts);
    }
    series.sort_by(|a, b| {
        (&a.patient_id, &a.study_uid, a.series_number, &a.series_uid).cmp(&(
            &b.patient_id,
            &b.study_uid,
            b.series_number,
            &b.series_uid,
        ))
    });
    incomplete_where_truncated(&mut series, &mut inv.rejected);
    inv.series = series;
    inv.rejected.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(inv)
}

/// A series one of whose files was rejected as truncated (and no whole copy of that file is in
/// it) does not make a volume: without the file's slice at an end of the stack, the rest looked
/// whole and was converted (one in the middle is a missing slice). dcm2niix writes nothing
/// for such a series. The truncated file is given its patient, so that the inventory names its
/// subject.
fn incomplete_where_truncated(series: &mut [Series], rejected: &mut [Rejected]) {
    let identified: Vec<(usize, [String; 3])> = rejected
        .par_iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.reason, RejectReason::Truncated(_)))
        .filter_map(|(i, r)| {
            std::panic::catch_unwind(|| header::identity_before_pixels(&r.path))
                .ok()
                .flatten()
                .map(|id| (i, id))
        })
        .collect();
    for (i, [patient, _, _]) in &identified {
        if !patient.is_empty() {
            rejected[*i].patient_id = Some(patient.clone());
        }
    }
    let truncated: Vec<[String; 3]> = identified.into_iter().map(|(_, id)| id).collect();
    if truncated.is_empty() {
        return;
    }
    for s in series.iter_mut() {
        let lost = truncated
            .iter()
            .filter(|[patient, uid, sop]| {
                *patient == s.patient_id
                    && *uid == s.series_uid
                    && !s.files.iter().any(|f| f.sop_uid == *sop)
            })
            .count();
        if lost > 0 && s.plan.is_ok() {
            s.plan = Err(format!(
                "incomplete: {} of the series {} truncated (`ancilla scan` lists {}), so the \
                 volume would lack {} slice{}",
                crate::plural::count(lost, "file"),
                if lost == 1 { "is" } else { "are" },
                if lost == 1 { "it" } else { "them" },
                if lost == 1 { "its" } else { "their" },
                if lost == 1 { "" } else { "s" },
            ));
        }
    }
}

/// Groups of one patient and SeriesInstanceUID under several StudyInstanceUIDs, each of one
/// file, merged into the first (in key order): a series UID is unique to its series, and a writer
/// that made a study UID per file (SimpleITK's DicomSeriesFromArray example) would otherwise give
/// a series per slice. `Series::studies` says so; dcm2niix splits such files. Groups of several
/// files each are studies indeed, whose series UID was made the same (an anonymiser that writes
/// one value): they stay apart, as scans of two days must.
#[allow(clippy::vec_box)]
fn merge_studies_of_one_series(groups: &mut Vec<(SeriesKey, Vec<Box<FileRecord>>)>) {
    let mut by_series: std::collections::HashMap<(Arc<str>, Arc<str>), Vec<usize>> =
        Default::default();
    for (i, ((patient, _, series), _)) in groups.iter().enumerate() {
        if !series.is_empty() {
            by_series
                .entry((patient.clone(), series.clone()))
                .or_default()
                .push(i);
        }
    }
    let mut merged = false;
    for members in by_series.values() {
        if members.len() < 2 || members.iter().any(|&i| groups[i].1.len() != 1) {
            continue;
        }
        let into = members[0];
        for &from in &members[1..] {
            let files = std::mem::take(&mut groups[from].1);
            groups[into].1.extend(files);
        }
        merged = true;
    }
    if merged {
        groups.retain(|(_, files)| !files.is_empty());
    }
}

/// Whether dcm2niix stacks two files of one series given their SeriesNumbers: equal numbers;
/// any two of a Siemens dynamic (merged across its series); early XA files numbered above 1000
/// in the same thousand (its issue 236: 16001, 16002, …).
fn same_series_number(a: &FileRecord, b: &FileRecord) -> bool {
    match (a.series_number, b.series_number) {
        _ if a.siemens_dynamic && b.siemens_dynamic => true,
        (Some(x), Some(y)) if a.xa10a && b.xa10a && x > 1000 && y > 1000 => x / 1000 == y / 1000,
        (x, y) => x == y,
    }
}

/// Siemens dynamic series (`FileRecord::siemens_dynamic`) of one patient, study and protocol
/// name merged into one group, as dcm2niix stacks them (its issue 252; its DCE merge, on by
/// default): the group of the lowest SeriesNumber keeps its key and takes the others' files
/// (their images already numbered in series order at read).
#[allow(clippy::vec_box)]
fn merge_siemens_dynamics(groups: &mut Vec<(SeriesKey, Vec<Box<FileRecord>>)>) {
    let mut dynamic: Vec<usize> = (0..groups.len())
        .filter(|&i| groups[i].1.iter().all(|f| f.siemens_dynamic))
        .collect();
    if dynamic.len() < 2 {
        return;
    }
    let lowest = |i: usize| groups[i].1.iter().filter_map(|f| f.series_number).min();
    dynamic.sort_by_key(|&i| (lowest(i), i));
    // (patient, study, protocol name) → the group kept for them.
    let mut kept: std::collections::HashMap<SeriesKey, usize> = Default::default();
    let mut moves = Vec::new();
    for i in dynamic {
        let f = &groups[i].1[0];
        let key = (
            f.patient_id.clone(),
            f.study_uid.clone(),
            f.stacking_name.clone(),
        );
        match kept.get(&key) {
            Some(&into) => moves.push((i, into)),
            None => {
                kept.insert(key, i);
            }
        }
    }
    for (from, into) in moves {
        let files = std::mem::take(&mut groups[from].1);
        groups[into].1.extend(files);
    }
    groups.retain(|(_, files)| !files.is_empty());
}

/// Whether a file holds several frames each with its own position (an enhanced MR/PET/CT file),
/// which dcm2niix converts on its own (its `sliceOrder` from the frames' positions).
fn places_its_frames(f: &FileRecord) -> bool {
    f.frames > 1
        && f.mosaic.is_none()
        && f.images.len() == f.frames as usize
        && f.images.iter().all(|i| i.position.is_some())
}

/// The files of a series split as dcm2niix stacks them (`isSameSet`): files of another matrix
/// (Rows, Columns, frames), RepetitionTime, FlipAngle, (Philips) TriggerTime, protocol name
/// (`header::stacking_name`), SeriesNumber (`same_series_number`), derivedness
/// (`header::derived_image`) or RF-off (noise) state (`FileRecord::no_rf`) than the first
/// file's are not stacked with it, but make a stack of their own — one output each, where a
/// single plan would refuse the mixed matrices or stack the others as volumes of one 4D file.
/// In order of their first file; none empty.
#[allow(clippy::vec_box)]
fn stacks(files: Vec<Box<FileRecord>>) -> Vec<Vec<Box<FileRecord>>> {
    // dcm2niix compares the values as 32-bit floats (missing: 0).
    let same = |a: Option<f64>, b: Option<f64>| {
        (a.unwrap_or(0.0) as f32 - b.unwrap_or(0.0) as f32).abs() <= f32::EPSILON
    };
    // (Images without orientation are stacked per matrix size by their plan, as dcm2niix
    // names them: `geometry::plan_unplaced`.)
    let placed = |f: &FileRecord| f.images.iter().any(|i| i.orientation.is_some());
    let stackable = |a: &FileRecord, b: &FileRecord| {
        ((a.rows, a.columns, a.frames) == (b.rows, b.columns, b.frames)
            || !(placed(a) || placed(b)))
            && same(a.repetition_time, b.repetition_time)
            && same(a.flip_angle, b.flip_angle)
            && same(a.philips_trigger_ms, b.philips_trigger_ms)
            && a.stacking_name == b.stacking_name
            && same_series_number(a, b)
            && a.no_rf == b.no_rf
            && header::derived_image(&a.image_type) == header::derived_image(&b.image_type)
    };
    let mut out: Vec<Vec<Box<FileRecord>>> = Vec::new();
    for f in files {
        match out.iter_mut().find(|s| stackable(&s[0], &f)) {
            Some(stack) => stack.push(f),
            None => out.push(vec![f]),
        }
    }
    out
}

/// A PET series of single-frame images holds the images its files say it has (NumberOfSlices ×
/// NumberOfTimeSlices, PS3.3 C.8.9.4), or it is incomplete: an export copied in part (28 of 90
/// slices, all at one end) stacked as a whole, shorter volume, its label map's tumour outside it.
/// Slices missing inside a stack are found by the geometry; at an end, only by the count.
fn pet_series_whole(files: &[&FileRecord]) -> Result<(), String> {
    let Some(first) = files.first() else {
        return Ok(());
    };
    let Some(expected) = first.pet_images else {
        return Ok(());
    };
    if files
        .iter()
        .any(|f| f.frames != 1 || f.pet_images != Some(expected))
    {
        return Ok(());
    }
    let held = files.len() as u64;
    if held < expected {
        return Err(format!(
            "incomplete: {} of the {expected} images that NumberOfSlices (0054,0081) × \
             NumberOfTimeSlices (0054,0101) say the series holds (an export copied in part, or \
             files lost)",
            held
        ));
    }
    Ok(())
}

/// One series of the inventory: its files (sorted, de-duplicated), kind and volume plan. (The
/// records stay boxed: `Series::files` holds them so, moved from the scan without a copy.)
#[allow(clippy::vec_box)]
fn make_series(
    patient_id: &str,
    study_uid: &str,
    series_uid: &str,
    mut files: Vec<Box<FileRecord>>,
) -> Series {
    // A RescaleSlope of 0 on every image: a writer's placeholder, read as 1 (the intercept kept:
    // a CT's -1024 still gives HU). Among images that give a number, 0 it stays (`ImageRecord`).
    let images = || files.iter().flat_map(|f| f.images.iter());
    if images().next().is_some() && images().all(|im| im.slope_zero) {
        for im in files.iter_mut().flat_map(|f| f.images.iter_mut()) {
            im.slope_zero = false;
        }
    }
    let refs: Vec<&FileRecord> = files.iter().map(|f| &**f).collect();
    let (kind, from_desc) = classify::classify(&refs);
    let has_pixels = files.iter().any(|f| f.has_pixels);
    let mut refused_file = None;
    let plan = if has_pixels && !matches!(kind, SeriesKind::Seg) {
        geometry::plan_series(&refs)
            .map_err(|r| {
                refused_file = r.file;
                r.why
            })
            .and_then(|plans| pet_series_whole(&refs).map(|()| plans))
    } else {
        Ok(Vec::new())
    };
    let first = &files[0];
    let studies = files
        .iter()
        .map(|f| &f.study_uid)
        .collect::<std::collections::HashSet<_>>()
        .len();
    Series {
        studies,
        patient_name: first.patient_name.to_string(),
        modality: first.modality.to_string(),
        series_number: first.series_number,
        description: first.series_description.to_string(),
        patient_id: patient_id.to_string(),
        study_uid: study_uid.to_string(),
        series_uid: series_uid.to_string(),
        kind,
        kind_from_description: from_desc,
        plan,
        refused_file,
        files,
        part: None,
    }
}

fn fmt_num(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The printed line of a series (site-side: shows the site PatientID).
pub fn series_line(s: &Series) -> String {
    let mut line = format!(
        "{:<14} {:<3} {:<8} {:>4} {}",
        s.patient_id,
        s.modality,
        s.kind.as_str(),
        s.files.len(),
        if s.files.len() == 1 { "file " } else { "files" }
    );
    if let Some((i, n)) = s.part {
        line.push_str(&format!(
            "  [part {i}/{n} of its series: not stacked together]"
        ));
    }
    match &s.plan {
        Ok(plans) if plans.is_empty() => line.push_str("  (no image volume)"),
        Ok(plans) => {
            let p = &plans[0];
            line.push_str(&format!(
                "  {}x{}x{}  {}x{}x{} mm",
                p.columns,
                p.rows,
                p.slices.len(),
                fmt_num(p.geometry.spacing[0]),
                fmt_num(p.geometry.spacing[1]),
                fmt_num(p.geometry.spacing[2])
            ));
            if plans.len() > 1 {
                let labels: Vec<&str> = plans.iter().map(|p| p.label.as_str()).collect();
                line.push_str(&format!("  {} volumes [{}]", plans.len(), labels.join(",")));
            }
            if s.kind_from_description {
                line.push_str("  (kind from SeriesDescription)");
            }
            if s.studies > 1 {
                line.push_str(&format!(
                    "  (its files carry {} StudyInstanceUIDs: one series by its \
                     SeriesInstanceUID)",
                    s.studies
                ));
            }
            if s.files.first().is_some_and(|f| f.samples_per_pixel == 3) {
                line.push_str("  (colour)");
            }
            if !p.placed {
                line.push_str("  (no orientation: not in patient space)");
            }
            line.push_str("  ok");
        }
        Err(why) => {
            line.push_str(&format!("  REJECTED: {why}"));
            if let Some(f) = s.refused_file.and_then(|i| s.files.get(i)) {
                line.push_str(&format!(" [{}]", crate::path_text::shown(&f.path)));
            }
        }
    }
    line
}

/// For a SEG or RTSTRUCT series, the image series of its patient that share its frame of
/// reference or that it names as drawn on (`values::referenced_series`: those `run` measures on
/// it when they have no label map), as printed after its line; nothing for other series.
pub fn roi_target(inv: &Inventory, s: &Series) -> String {
    if !matches!(s.kind, SeriesKind::Seg | SeriesKind::Rtstruct) {
        return String::new();
    }
    let frames: std::collections::BTreeSet<&str> = s
        .files
        .iter()
        .map(|f| &*f.frame_of_reference)
        .filter(|f| !f.is_empty())
        .collect();
    let targets: Vec<String> = inv
        .series
        .iter()
        .filter(|x| x.is_image() && x.patient_id == s.patient_id)
        .filter(|x| {
            x.files
                .first()
                .is_some_and(|f| frames.contains(&*f.frame_of_reference))
                || s.files
                    .iter()
                    .any(|f| f.referenced_series.contains(&x.series_uid))
        })
        .map(|x| match x.series_number {
            Some(n) => format!("series {n} ({} {})", x.modality, x.kind.as_str()),
            None => format!("a {} {} series", x.modality, x.kind.as_str()),
        })
        .collect();
    if targets.is_empty() {
        "  (ROIs on no image series' frame of reference)".to_string()
    } else {
        format!("  (ROIs for {})", targets.join(", "))
    }
}

/// Whether two files hold the same bytes: lengths first (a corrected re-send is most often
/// longer or shorter), then block by block, never both whole files in memory (an enhanced
/// multi-frame file may be gigabytes). False when either cannot be read.
fn same_bytes(a: &Path, b: &Path) -> bool {
    let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
    match (len(a), len(b)) {
        (Some(x), Some(y)) if x == y => {}
        _ => return false,
    }
    let (Ok(mut ra), Ok(mut rb)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
        return false;
    };
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    // Whole blocks each (short reads would misalign the two).
    let fill = crate::volume::nifti_read::fill;
    loop {
        match (fill(&mut ra, &mut ba), fill(&mut rb, &mut bb)) {
            (Ok(0), Ok(0)) => return true,
            (Ok(x), Ok(y)) if x == y && ba[..x] == bb[..y] => {}
            _ => return false,
        }
    }
}

/// `ancilla scan`: print one line per series and every rejected file, then a summary (it shows
/// no progress, so `--quiet` changes nothing); optionally write the PHI-free inventory JSON.
pub fn scan_command(inputs: &[PathBuf], json: Option<&Path>) -> Result<(), IngestError> {
    let start = std::time::Instant::now();
    if let Some(json) = json {
        if let Some(input) = inputs
            .iter()
            .find(|i| i.is_dir() && crate::folders::lies_within(json, i))
        {
            return Err(IngestError::InventoryInsideInput {
                json: json.to_path_buf(),
                input: input.clone(),
            });
        }
    }
    let inv = scan_paths(inputs)?;
    let mut out = crate::console::Out::new();
    for s in &inv.series {
        out.line(format_args!("{}{}", series_line(s), roi_target(&inv, s)))
            .map_err(IngestError::Output)?;
    }
    for r in &inv.rejected {
        out.line(format_args!(
            "rejected {}: {}",
            crate::path_text::shown(&r.path),
            r.reason
        ))
        .map_err(IngestError::Output)?;
    }
    if let Some(path) = json {
        let doc = inventory_json(&inv);
        crate::atomic::write_json(path, &doc).map_err(|source| IngestError::Write {
            path: path.to_path_buf(),
            source,
        })?;
    }
    // The final summary, also under --quiet (which hides progress only).
    {
        let patients: std::collections::BTreeSet<&str> =
            inv.series.iter().map(|s| s.patient_id.as_str()).collect();
        crate::say!(
            "scan: {} in {:.2} s: {} used in {} series of {}, {} rejected",
            crate::plural::count(inv.files_seen, "file"),
            start.elapsed().as_secs_f64(),
            inv.files_used(),
            inv.series.iter().filter(|s| s.plan.is_ok()).count(),
            crate::plural::count(patients.len(), "patient"),
            inv.files_rejected()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::same_bytes;

    /// Equal files, a difference past the first block, a length that differs, a missing file.
    #[test]
    fn same_bytes_compares_lengths_then_blocks() {
        let d = tempfile::tempdir().unwrap();
        let p = |n: &str| d.path().join(n);
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(p("a"), &data).unwrap();
        std::fs::write(p("b"), &data).unwrap();
        assert!(same_bytes(&p("a"), &p("b")));
        let mut late = data.clone();
        late[150_000] ^= 0x80;
        std::fs::write(p("c"), &late).unwrap();
        assert!(!same_bytes(&p("a"), &p("c")));
        std::fs::write(p("d"), &data[..199_999]).unwrap();
        assert!(!same_bytes(&p("a"), &p("d")));
        assert!(!same_bytes(&p("a"), &p("missing")));
        std::fs::write(p("e"), b"").unwrap();
        std::fs::write(p("f"), b"").unwrap();
        assert!(same_bytes(&p("e"), &p("f")));
    }
}
