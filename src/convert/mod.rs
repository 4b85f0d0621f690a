//! `ancilla convert`: every image series of a DICOM tree → NIfTI-1 (`.nii.gz`, sform + qform in
//! RAS, dcm2niix's layout) + a JSON sidecar of acquisition parameters in BIDS-style names, with
//! no PHI. Series split by b-value or time point become one 4D file (`.bval`/`.bvec` for DWI; a
//! lone weighted volume has them too), echoes one file each (`_e2`), as dcm2niix does. Output
//! names never carry site identifiers: subjects are named by PatientID only when the input is
//! de-identified (PatientIdentityRemoved YES), otherwise numbered. Submodules: `sidecar`, the
//! JSON sidecar beside every file; `acquisition_keys`, its Siemens protocol and
//! sequence-description keys;
//! `pet_keys`, its BIDS-PET keys; `timing`, a 4D file's time between volumes; `derived_dwi`,
//! a DWI's trace/ADC volumes; `table_position`, the sidecar's TablePosition;
//! `phase_polarity`, the sign of its PhaseEncodingDirection; `ge_keys`, its GE private keys.

mod acquisition_keys;
mod derived_dwi;
mod ge_keys;
mod ge_timing;
mod mosaic_timing;
mod pet_keys;
mod phase_polarity;
mod sidecar;
mod table_position;
mod timing;
mod xa_timing;

use std::path::{Path, PathBuf};

use dicom_object::InMemDicomObject;
use serde_json::{json, Value};

use crate::ingest::{self, Series};
use crate::volume::assemble::{self, SeriesVolume};
use crate::volume::nifti_io::{self, NiftiMeta};

/// Errors of conversion as a whole (a series that cannot be converted is reported, not fatal).
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error(transparent)]
    Scan(#[from] ingest::IngestError),
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
    /// Series whose files could not be written (a full disk, no permission): the other series
    /// were converted, then the conversion fails, so no caller takes it for complete (a pipeline
    /// stage is not stamped, and its rerun converts them).
    #[error("{count} series could not be written; the first: {first}")]
    Unwritten { count: usize, first: String },
    #[error("{0}")]
    OutputInsideInput(String),
    /// Another ancilla process is writing the output folder.
    #[error("{0}")]
    Busy(String),
    /// Not one file of the input is DICOM (an empty folder, or the wrong one): `ancilla convert`
    /// fails, as dcm2niix does, rather than succeed with nothing written.
    #[error("no DICOM file in the input ({}): nothing to convert", files_none_dicom(*files, *archives))]
    NoDicom { files: usize, archives: usize },
}

/// How many files an input without DICOM held, in words; compressed archives (whose DICOM files
/// are read once unpacked) said apart.
fn files_none_dicom(files: usize, archives: usize) -> String {
    let held = match files {
        0 => "it holds no file".to_string(),
        1 => "its one file is not DICOM".into(),
        n => format!("{n} files, none DICOM"),
    };
    match archives {
        0 => held,
        1 if files == 1 => "its one file is a compressed archive: unpack it first".into(),
        n => format!("{held}; {n} of them compressed archives: unpack them first"),
    }
}

impl crate::ExitCode for ConvertError {
    fn exit_code(&self) -> u8 {
        match self {
            ConvertError::Scan(e) => crate::ExitCode::exit_code(e),
            ConvertError::Write { .. } | ConvertError::Unwritten { .. } | ConvertError::Busy(_) => {
                1
            }
            ConvertError::OutputInsideInput(_) | ConvertError::NoDicom { .. } => 2,
        }
    }
}

/// One written output.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Converted {
    pub subject: String,
    pub modality: String,
    pub kind: String,
    pub nifti: String,
    pub dims: Vec<usize>,
}

/// What a conversion did.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ConvertReport {
    pub converted: Vec<Converted>,
    /// Series not converted, with the reason (no paths, no identifiers).
    pub not_converted: Vec<Value>,
    /// Series that are not images (contours, segmentations, dose grids, reports), each with what
    /// it is: accounted for, not converted.
    #[serde(default)]
    pub not_images: Vec<Value>,
    pub files_rejected: usize,
    /// The rejected files counted by kind of reason ("truncated", "not_dicom", ...; no paths:
    /// `ancilla scan` names them).
    #[serde(default)]
    pub rejected_by_reason: std::collections::BTreeMap<String, usize>,
    /// Why each series that could not be written was not (never in the report file: a
    /// conversion with any of them fails).
    #[serde(skip)]
    pub unwritten: Vec<String>,
    /// Subjects whose outputs were up to date (`Remembered`), not converted again.
    #[serde(skip)]
    pub recalled: usize,
}

impl ConvertReport {
    /// Adds rejected files counted by kind (an inventory's, a subject's or a shard's report's)
    /// to `rejected_by_reason`.
    pub fn add_rejected_by_reason(&mut self, counts: std::collections::BTreeMap<String, usize>) {
        for (kind, n) in counts {
            *self.rejected_by_reason.entry(kind).or_default() += n;
        }
    }
}

/// Why a series was not converted: its input (reported; the conversion goes on and succeeds),
/// or writing its files (the conversion goes on, then fails: nothing may go missing unnoticed).
enum Failure {
    Input(String),
    Output(String),
}

impl Failure {
    /// An error writing `path`.
    fn writing(path: &Path, e: impl std::fmt::Display) -> Failure {
        Failure::Output(
            ConvertError::Write {
                path: path.to_path_buf(),
                message: e.to_string(),
            }
            .to_string(),
        )
    }

    /// A NIfTI writer's error: the file system's (output), or the volume's (input: it does not
    /// make a NIfTI-1 file).
    fn nifti(path: &Path, e: nifti_io::NiftiError) -> Failure {
        match e {
            nifti_io::NiftiError::Write { source, .. }
            | nifti_io::NiftiError::Io { source, .. } => Failure::writing(path, source),
            other => Failure::Input(other.to_string()),
        }
    }
}

/// What a series that holds no image volume is, for the report.
fn not_an_image(s: &Series) -> &'static str {
    match (s.kind, s.modality.as_str()) {
        (ingest::SeriesKind::Rtstruct, _) | (_, "RTSTRUCT") => {
            "RT Structure Set: ROI contours (a mask for `ancilla features --mask`), not an image"
        }
        (ingest::SeriesKind::Seg, _) | (_, "SEG") => {
            "DICOM Segmentation: ROI masks (a mask for `ancilla features --mask`), not an image"
        }
        (_, "RTDOSE") => "RT Dose without a dose grid (dose-volume histograms): not an image",
        _ => "no image pixel data (structured report, presentation state, key object or plan)",
    }
}

/// Safe file-name component: letters, digits, `-` and `_` only.
pub fn sanitize(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if t.is_empty() {
        "unknown".into()
    } else {
        t
    }
}

/// Subject folder names: PatientID for de-identified input, `S001`... otherwise.
fn subject_names(series: &[Series]) -> std::collections::BTreeMap<String, String> {
    let mut map = std::collections::BTreeMap::new();
    for s in series {
        let n = map.len() + 1;
        let deid = s.files.iter().all(|f| f.deidentified);
        map.entry(s.patient_id.clone()).or_insert_with(|| {
            // A de-identified file with an empty PatientID (pydicom's emri_small) is numbered
            // too: it went to a folder `unknown`.
            if deid && !s.patient_id.trim().is_empty() {
                sanitize(&s.patient_id)
            } else {
                format!("S{n:03}")
            }
        });
    }
    map
}

/// Whether volumes go into one 4D file (parts by b-value, time or order, of one stack, as
/// dcm2niix stacks them: `VolumePlan::four_d`); echoes, planes, complex components and matrix
/// sizes are written as 3D files of their own, or as 4D files of their own when each is repeated.
fn four_d(vols: &[SeriesVolume]) -> bool {
    vols.len() > 1 && vols.iter().all(|v| v.four_d && v.stack == vols[0].stack)
}

/// A series' volumes by the file they go to, in order: one group per stack (`VolumePlan::stack`;
/// a 4D file when `four_d`, else 3D files), with the index of its first volume.
fn by_stack(vols: Vec<SeriesVolume>) -> Vec<(usize, Vec<SeriesVolume>)> {
    let mut groups: Vec<(usize, Vec<SeriesVolume>)> = Vec::new();
    for (i, v) in vols.into_iter().enumerate() {
        match groups.iter_mut().find(|(_, g)| g[0].stack == v.stack) {
            Some((_, g)) => g.push(v),
            None => groups.push((i, vec![v])),
        }
    }
    groups
}

/// Per volume: whether it goes into a 4D file with others of its stack (`four_d` of its group
/// in `by_stack`).
fn in_four_d(vols: &[SeriesVolume]) -> Vec<bool> {
    // (stack, volumes, all four_d): a series has a few stacks, and may have a thousand volumes.
    let mut stacks: Vec<(&str, usize, bool)> = Vec::new();
    for v in vols {
        match stacks.iter_mut().find(|(s, _, _)| *s == v.stack) {
            Some(entry) => {
                entry.1 += 1;
                entry.2 &= v.four_d;
            }
            None => stacks.push((&v.stack, 1, v.four_d)),
        }
    }
    vols.iter()
        .map(|v| {
            stacks
                .iter()
                .find(|(s, _, _)| *s == v.stack)
                .is_some_and(|&(_, n, all)| n > 1 && all)
        })
        .collect()
}

/// A diffusion series (every volume with a b-value, one of them weighted; GE writes its b-value
/// attribute into other series too): FSL's b-values and directions go beside it, as dcm2niix.
fn is_diffusion(vols: &[SeriesVolume]) -> bool {
    vols.iter().all(|v| v.b_value.is_some())
        && vols.iter().any(|v| v.b_value.is_some_and(|b| b > 0.0))
}

/// The NIfTI form of a converted volume: placed in patient space or not, grey or colour.
fn form(v: &SeriesVolume, stored: Stored, rows_as_stored: bool) -> nifti_io::ImageForm {
    nifti_io::ImageForm {
        placed: v.placed,
        rows_as_stored: rows_as_stored && !v.placed,
        float: stored.scale_varies,
        rgb: v.rgb,
        unsigned: stored.unsigned,
        bits: stored.bits,
        bits_stored: stored.bits_stored,
        scale: if stored.scale_varies {
            (1.0, 0.0)
        } else {
            stored.scale
        },
    }
}

/// A DWI series' volumes as convert writes them beside their `.bval`, for an ADC fit to use the
/// same b-values: Canon's b = 0 images without a b-value get b 0, GE DTI's b = 0 images labelled
/// with the nominal b-value get b 0, and Philips' derived isotropic or ADC volumes are taken out
/// (`derived_dwi`, as dcm2niix).
pub fn dwi_volumes_as_converted(s: &Series, vols: &mut Vec<crate::volume::assemble::SeriesVolume>) {
    let header = first_header(s);
    derived_dwi::canon_unlabelled_b0(vols, header.as_ref());
    // What dcm2niix writes to `_ADC` is not diffusion-weighted: not fitted.
    let _derived = derived_dwi::split_off(vols, header.as_ref());
}

/// The header of a series' first file (up to Pixel Data; an enhanced file's with its first
/// frame's functional groups lifted), read once for what the NIfTI header and the 4D timing take
/// from it.
fn first_header(s: &Series) -> Option<InMemDicomObject> {
    let f = s.files.first()?;
    crate::ingest::open::open_file(&f.path, true).ok().map(|o| {
        let o = o.into_inner();
        crate::ingest::flat_header::flattened(&o, 0).unwrap_or(o)
    })
}

/// NIfTI's `dim_info` and `slice_code` of an MR series, from its first file's header `obj` as
/// dcm2niix sets them: the phase-encoding direction (InPlanePhaseEncodingDirection), and a
/// mosaic's slice order (its MosaicRefAcqTimes, in acquisition order). (0, 0) when unknown.
fn slice_info(s: &Series, obj: Option<&InMemDicomObject>) -> (u8, u8) {
    let Some(obj) = obj.filter(|_| s.modality == "MR") else {
        return (0, 0);
    };
    let dim_info = nifti_io::dim_info_for(crate::ingest::header::phase_encoding_along_columns(obj));
    let slice_code = if s.files.first().is_some_and(|f| f.mosaic.is_some()) {
        let csa = crate::ingest::siemens::csa_image_header(obj);
        let times = crate::ingest::siemens::mosaic_acquisition_times(obj, csa.as_ref());
        crate::ingest::siemens::slice_order_code(&times)
    } else {
        0
    };
    (dim_info, slice_code)
}

/// A single slice (every volume one slice) whose GantryDetectorTilt is not 0: dcm2niix writes
/// its sform sheared back to the gantry's axis (`NiftiMeta::tilt_shear`). A tilted series of
/// several slices does not come here: assembly rejects it.
fn single_tilted_slice(vols: &[SeriesVolume], obj: Option<&InMemDicomObject>) -> bool {
    let tilt = obj.and_then(|o| {
        crate::ingest::values::f64_of(o, dicom_dictionary_std::tags::GANTRY_DETECTOR_TILT)
    });
    tilt.is_some_and(|t| t.is_finite() && t.abs() > f64::from(f32::EPSILON))
        && vols.iter().all(|v| v.volume.dims()[0] == 1)
}

/// How a series stores its pixels: unsigned (every file's PixelRepresentation 0), the bits
/// allocated and the bits stored (the largest of its files').
#[derive(Debug, Clone, Copy)]
struct Stored {
    unsigned: bool,
    bits: u16,
    bits_stored: u16,
    /// The images' RescaleSlope or RescaleIntercept (or bits allocated) differ: dcm2niix then
    /// writes float32 even when every value is a whole number (`intensityScaleVaries`: NIfTI has
    /// one scale a file).
    scale_varies: bool,
    /// The first image's (RescaleSlope, RescaleIntercept): every image's unless `scale_varies`.
    scale: (f64, f64),
}

impl Stored {
    fn of(s: &Series) -> Stored {
        let mut images = s.files.iter().flat_map(|f| f.images.iter());
        let first = images.next().map(|i| i.rescale());
        // dcm2niix compares them as 32-bit floats, within FLT_EPSILON.
        let differs = |a: f64, b: f64| (a as f32 - b as f32).abs() > f32::EPSILON;
        let scale_varies = first.is_some_and(|(slope, intercept)| {
            images.any(|i| {
                let (s, i) = i.rescale();
                differs(s, slope) || differs(i, intercept)
            })
        });
        let bits = s.files.iter().map(|f| f.bits_allocated);
        let (least, most) = (bits.clone().min(), bits.max());
        Stored {
            unsigned: s.files.iter().all(|f| !f.pixel_signed),
            bits: most.unwrap_or(16),
            bits_stored: s.files.iter().map(|f| f.bits_stored).max().unwrap_or(16),
            scale_varies: scale_varies || least != most,
            scale: first.unwrap_or((1.0, 0.0)),
        }
    }

    /// Derived values (SUV): no stored type to keep.
    const DERIVED: Stored = Stored {
        unsigned: false,
        bits: 0,
        bits_stored: 0,
        scale_varies: false,
        scale: (1.0, 0.0),
    };
}

/// The file stem of a volume written apart: the series' stem, then its label (`_e2`, `_i00004`).
fn volume_stem(stem: &str, label: &str) -> String {
    if label.is_empty() {
        stem.to_string()
    } else {
        format!("{stem}_{label}")
    }
}

/// Write one series' volumes under `dir` with `stem`; returns the written NIfTI names. The
/// files' time step (pixdim[4]) is `time_step_s`; `stored`: how the series stores its pixels;
/// NIfTI's `dim_info` (frequency/phase/slice axes) and `slice_code` (`slice_info`).
fn write_series(
    vols: &[SeriesVolume],
    dir: &Path,
    stem: &str,
    gzip: bool,
    meta: &NiftiMeta,
    stored: Stored,
    rows_as_stored: bool,
) -> Result<Vec<(String, Vec<usize>)>, Failure> {
    let ext = if gzip { "nii.gz" } else { "nii" };
    let mut out = Vec::new();
    if four_d(vols) {
        let path = dir.join(format!("{stem}.{ext}"));
        let parts: Vec<crate::volume::Volume> = vols.iter().map(|v| v.volume.clone()).collect();
        nifti_io::write_images(&parts, &path, meta, form(&vols[0], stored, rows_as_stored))
            .map_err(|e| Failure::nifti(&path, e))?;
        if is_diffusion(vols) {
            write_diffusion(vols, dir, stem, meta, true)?;
        }
        let d = vols[0].volume.dims();
        out.push((format!("{stem}.{ext}"), vec![d[2], d[1], d[0], vols.len()]));
    } else {
        for v in vols {
            let name = format!("{}.{ext}", volume_stem(stem, &v.label));
            let path = dir.join(&name);
            nifti_io::write_images(
                std::slice::from_ref(&v.volume),
                &path,
                meta,
                form(v, stored, rows_as_stored),
            )
            .map_err(|e| Failure::nifti(&path, e))?;
            let d = v.volume.dims();
            out.push((name, vec![d[2], d[1], d[0]]));
        }
    }
    Ok(out)
}

/// A diffusion series of one volume (a b-value exported as a series of its own) that dcm2niix
/// gives a `.bval`, and whether a `.bvec` too:
/// - classic images, one file a slice, two slices or more, b > 0 (it writes none for one slice,
///   b 0 or an enhanced file): a `.bvec` when the images have a gradient direction (none for an
///   isotropic, trace-weighted, volume);
/// - a Siemens mosaic, one file: both, b 0 or not. dcm2niix v1.0.20260724 writes `0` and a zero
///   direction there whatever the file says (b 1000 too); ancilla writes the file's b-value and
///   direction, as dcm2niix itself does for the same file in a series of two.
fn lone_diffusion(s: &Series, vols: &[SeriesVolume]) -> Option<bool> {
    if vols.len() != 1 || four_d(vols) {
        return None;
    }
    let classic = s.files.len() >= 2 && s.files.iter().all(|f| f.frames <= 1 && f.mosaic.is_none());
    if classic && is_diffusion(vols) {
        return Some(vols[0].gradient.is_some());
    }
    let mosaic = matches!(s.files.as_slice(), [f] if f.mosaic.is_some());
    (mosaic && vols[0].b_value.is_some()).then_some(true)
}

/// FSL's `<stem>.bval` and (`with_bvec`) `<stem>.bvec` of a diffusion series' volumes, in their
/// order.
fn write_diffusion(
    vols: &[SeriesVolume],
    dir: &Path,
    stem: &str,
    meta: &NiftiMeta,
    with_bvec: bool,
) -> Result<(), Failure> {
    let diffusion: Vec<(f64, Option<[f64; 3]>)> = vols
        .iter()
        .map(|v| (v.b_value.unwrap_or(0.0), v.gradient))
        .collect();
    let b: Vec<f64> = diffusion.iter().map(|(b, _)| *b).collect();
    let texts = [
        ("bval", crate::volume::bvec::bval_text(&b)),
        (
            "bvec",
            crate::volume::bvec::bvec_text(
                &diffusion,
                &vols[0].volume.geometry,
                meta.bvec_lengths_kept,
            ),
        ),
    ];
    for (ext, text) in texts {
        if ext == "bvec" && !with_bvec {
            continue;
        }
        let p = dir.join(format!("{stem}.{ext}"));
        crate::atomic::write_bytes_unsynced(&p, text.as_bytes())
            .map_err(|e| Failure::writing(&p, e))?;
    }
    Ok(())
}

/// PET: the SUVbw volume (`<stem>_suvbw.nii.gz`) when the QIBA procedure gives a factor; the
/// factor and its inputs, or the refusal, go into the sidecar. A dynamic series (one 4D file)
/// gives one 4D SUVbw file, every frame scaled by the series' factor: its frames are decay
/// corrected to one reference (DecayCorrection START or ADMIN; NONE with frames at several
/// times has no factor). It gave none, and said nothing (an audit against dcm2niix).
fn write_suv(
    s: &Series,
    vols: &[SeriesVolume],
    dir: &Path,
    stem: &str,
    gzip: bool,
    time_step_s: Option<f64>,
    side: &mut Value,
) -> Result<Vec<(String, Vec<usize>)>, Failure> {
    match crate::quant::suv::suv_for_series(s) {
        Ok(r) => {
            if let Value::Object(m) = side {
                m.insert(
                    "SUV".into(),
                    serde_json::to_value(&r).unwrap_or(Value::Null),
                );
            }
            let mut out = Vec::new();
            let ext = if gzip { "nii.gz" } else { "nii" };
            let name = format!("{stem}_suvbw.{ext}");
            let meta = |time_step_s| NiftiMeta {
                description: "SUVbw g/ml (QIBA)".into(),
                time_step_s,
                dim_info: 0,
                slice_code: 0,
                tilt_shear: false,
                bvec_lengths_kept: false,
            };
            if four_d(vols) && vols.iter().all(|v| !v.rgb) {
                let frames: Vec<crate::volume::Volume> = vols
                    .iter()
                    .map(|v| {
                        let mut suv = v.volume.clone();
                        r.scale(&mut suv);
                        suv
                    })
                    .collect();
                let path = dir.join(&name);
                nifti_io::write_images(
                    &frames,
                    &path,
                    &meta(time_step_s),
                    form(&vols[0], Stored::DERIVED, false),
                )
                .map_err(|e| Failure::nifti(&path, e))?;
                let d = frames[0].dims();
                out.push((name, vec![d[2], d[1], d[0], frames.len()]));
                return Ok(out);
            }
            // Grey levels only: a colour PET image (a screen capture) has no activity to scale.
            for v in vols.iter().filter(|v| v.label.is_empty() && !v.rgb) {
                let mut suv = v.volume.clone();
                r.scale(&mut suv);
                let path = dir.join(&name);
                nifti_io::write_images(
                    std::slice::from_ref(&suv),
                    &path,
                    &meta(None),
                    form(v, Stored::DERIVED, false),
                )
                .map_err(|e| Failure::nifti(&path, e))?;
                let d = suv.dims();
                out.push((name.clone(), vec![d[2], d[1], d[0]]));
            }
            Ok(out)
        }
        Err(e) => {
            if let Value::Object(m) = side {
                m.insert("SUVRefused".into(), json!(e.to_string()));
            }
            Ok(Vec::new())
        }
    }
}

/// Convert every series under `input` into `out`.
pub fn convert(
    input: &Path,
    out: &Path,
    gzip: bool,
    quiet: bool,
) -> Result<ConvertReport, ConvertError> {
    if crate::folders::lies_within(out, input) {
        return Err(ConvertError::OutputInsideInput(
            crate::folders::inside_input_message(out, input),
        ));
    }
    let _lock =
        crate::atomic::DirLock::acquire_or(out, ConvertError::Busy, |e| ConvertError::Write {
            path: out.to_path_buf(),
            message: e.to_string(),
        })?;
    // What a killed earlier conversion left half-written.
    crate::atomic::remove_stale_temps(out);
    let inv = ingest::scan_paths_to_convert(&[input.to_path_buf()])?;
    let mut report = ConvertReport::default();
    let image_count = inv.series.iter().filter(|s| s.is_image()).count();
    let bar = crate::report::progress::bar(image_count as u64, "convert", quiet);
    convert_inventory(&inv, input, out, gzip, quiet, &bar, &mut report);
    bar.finish_and_clear();
    finish(report, out)
}

/// Convert a de-identified tree (one folder per USUBJID) one subject per core at a time: only
/// those subjects' headers are in memory at once, so memory does not grow with the cohort.
pub fn convert_per_subject(
    root: &Path,
    out: &Path,
    gzip: bool,
    quiet: bool,
) -> Result<ConvertReport, ConvertError> {
    convert_per_subject_with(root, out, gzip, quiet, None)
}

/// What a caller remembers of subjects converted before (the pipeline's per-subject state), so
/// a subject whose files have not changed is not converted again.
pub trait Remembered: Sync {
    /// The report part of `subject` (a folder of the input), when its outputs are up to date.
    fn recall(&self, subject: &str) -> Option<ConvertReport>;
    /// Forget `subject`: its outputs are about to be rewritten.
    fn forget(&self, subject: &str);
    /// Remember the report part of `subject`, whose outputs were just written whole.
    fn remember(&self, subject: &str, part: &ConvertReport);
}

/// `convert_per_subject`, passing over the subjects `remembered` recalls (their report parts
/// taken as they were); each other subject's output folder is written anew.
pub fn convert_per_subject_with(
    root: &Path,
    out: &Path,
    gzip: bool,
    quiet: bool,
    remembered: Option<&dyn Remembered>,
) -> Result<ConvertReport, ConvertError> {
    let mut subjects: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| ConvertError::Write {
            path: root.to_path_buf(),
            message: e.to_string(),
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subjects.sort();
    let bar = crate::report::progress::bar(subjects.len() as u64, "convert", quiet);
    let hidden = crate::report::progress::bar(0, "convert", true);
    let mut report = ConvertReport::default();
    // Two subjects (one per core) under way at a time, reported in subject order.
    crate::memory::in_order_on_workers(
        &subjects,
        rayon::current_num_threads(),
        |dir| {
            let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
            if let (Some(r), Some(name)) = (remembered, &name) {
                if let Some(mut part) = r.recall(name) {
                    part.recalled = 1;
                    return Ok(part);
                }
                // Written anew: nothing of an earlier conversion of the subject stays.
                r.forget(name);
                let _ = std::fs::remove_dir_all(out.join(name));
            }
            let inv = ingest::scan_paths_to_convert(std::slice::from_ref(dir))?;
            let mut part = ConvertReport::default();
            convert_inventory(&inv, root, out, gzip, quiet, &hidden, &mut part);
            drop(inv);
            crate::memory::release_freed_memory();
            if let (Some(r), Some(name)) = (remembered, &name) {
                if part.unwritten.is_empty() {
                    r.remember(name, &part);
                }
            }
            Ok::<_, ConvertError>(part)
        },
        |_, part| {
            let mut part = part?;
            report.converted.append(&mut part.converted);
            report.not_converted.append(&mut part.not_converted);
            report.not_images.append(&mut part.not_images);
            report.unwritten.append(&mut part.unwritten);
            report.files_rejected += part.files_rejected;
            report.add_rejected_by_reason(part.rejected_by_reason);
            report.recalled += part.recalled;
            bar.inc(1);
            Ok::<(), ConvertError>(())
        },
    )?;
    bar.finish_and_clear();
    finish(report, out)
}

/// The name every NIfTI file of a series starts with: its series number (or, without one,
/// `idx` + 1, its place among the subject's image series), modality and kind, e.g. `003_pt_pet`.
/// A series made of phase (real, imaginary) images only ends in `_ph` (`_real`, `_imaginary`),
/// as dcm2niix names it (a series of several components has the suffix on each part's label).
fn series_stem(s: &Series, idx: usize) -> String {
    let mut components = s
        .files
        .iter()
        .flat_map(|f| f.images.iter().map(|im| f.component_of(im)));
    let first = components.next();
    let suffix = first
        .filter(|c| components.all(|other| other == *c))
        .and_then(|c| c.suffix())
        .map(|x| format!("_{x}"))
        .unwrap_or_default();
    format!(
        "{:03}_{}_{}{suffix}",
        s.series_number.unwrap_or(idx as i64 + 1).max(0),
        s.modality.to_ascii_lowercase(),
        s.kind.as_str()
    )
}

/// The file stems of image series (`series_stem`), made unique per subject: series of one subject
/// that would share a name (the same number, modality and kind in two studies, or twice in one)
/// get `_1`, `_2`, … in inventory order, so none overwrites another.
pub fn unique_stems(images: &[&Series]) -> Vec<String> {
    let base: Vec<String> = images
        .iter()
        .enumerate()
        .map(|(idx, s)| series_stem(s, idx))
        .collect();
    let mut total: std::collections::HashMap<(&str, &str), usize> = Default::default();
    for (s, stem) in images.iter().zip(&base) {
        *total.entry((&*s.patient_id, stem.as_str())).or_default() += 1;
    }
    let mut seen: std::collections::HashMap<(&str, &str), usize> = Default::default();
    images
        .iter()
        .zip(&base)
        .map(|(s, stem)| {
            let key = (&*s.patient_id, stem.as_str());
            if total[&key] == 1 {
                return stem.clone();
            }
            let k = seen.entry(key).or_default();
            *k += 1;
            format!("{stem}_{k}")
        })
        .collect()
}

/// Convert one image series into `out/<subject>/<stem>...`: its volumes (3D acquisitions
/// turned as dcm2niix turns them, derived DWI volumes split off, stacks of several written
/// apart), each NIfTI file with its sidecar, PET with its SUVbw copy, DWI with its b-values.
fn convert_series(
    s: &Series,
    subject: &str,
    out: &Path,
    stem: &str,
    gzip: bool,
) -> Result<Vec<Converted>, Failure> {
    let mut vols = assemble::load_series_images(s).map_err(|e| match e {
        assemble::AssembleError::Geometry(g) => Failure::Input(g),
        other => Failure::Input(other.to_string()),
    })?;
    // 3D acquisitions written as 3D files have their axes closest to RAS, as
    // dcm2niix writes them (its default rotation; 2D acquisitions and 4D files keep
    // DICOM's layout, as in dcm2niix).
    let stacked = in_four_d(&vols);
    let acquisition_3d = s.modality == "MR"
        && s.files.first().is_some_and(|f| f.acquisition_3d)
        && stacked.iter().any(|x| !x);
    // Without an orientation to rotate by, dcm2niix keeps a 3D acquisition's rows
    // in DICOM's order (it rotates those instead of flipping their rows); the
    // writer reverses rows, so they are reversed here first.
    let unplaced_3d = acquisition_3d && vols.iter().all(|v| !v.placed && v.volume.dims()[0] > 1);
    if unplaced_3d {
        for (v, _) in vols.iter_mut().zip(&stacked).filter(|(_, s)| !**s) {
            v.volume.data.invert_axis(ndarray::Axis(1));
        }
    }
    if acquisition_3d && vols.iter().all(|v| v.placed) {
        // A lone slice is left as it is (so does dcm2niix).
        for (v, _) in vols
            .iter_mut()
            .zip(&stacked)
            .filter(|(v, s)| !**s && v.volume.dims()[0] > 1)
        {
            if let Some(rotated) = crate::volume::reorient::as_3d_acquisition(&v.volume) {
                v.volume = rotated;
            }
        }
    }
    let dir = out.join(subject);
    // 4D: dcm2niix's time between volumes; 3D: the repetition time, which dcm2niix
    // writes in pixdim[4] too.
    let header = first_header(s);
    let timing = four_d(&vols)
        .then(|| timing::volume_timing(s, header.as_ref(), None))
        .flatten();
    // (An enhanced file's TR is in its functional groups: the flattened header's.)
    let step = timing.as_ref().map(|t| t.step_s).or_else(|| {
        s.files
            .first()
            .and_then(|f| f.repetition_time)
            .or_else(|| {
                header.as_ref().and_then(|h| {
                    crate::ingest::values::f64_of(h, dicom_dictionary_std::tags::REPETITION_TIME)
                })
            })
            .filter(|t| t.is_finite() && *t > 0.0)
            .map(|t| t / 1000.0)
    });
    let (dim_info, slice_code) = slice_info(s, header.as_ref());
    let meta = NiftiMeta {
        description: "ancilla".into(),
        time_step_s: step,
        dim_info,
        slice_code,
        tilt_shear: single_tilted_slice(&vols, header.as_ref()),
        bvec_lengths_kept: header
            .as_ref()
            .is_some_and(crate::ingest::diffusion::in_image_frame),
    };
    // Derived isotropic (trace) or ADC volumes of a DWI: the 4D file, its b-values
    // and sidecar go without them; `_ADC` holds every volume, as dcm2niix writes
    // them. GE DTI's b = 0 images labelled with the nominal b-value get b 0, Canon's
    // without a b-value too.
    let stored = Stored::of(s);
    derived_dwi::canon_unlabelled_b0(&mut vols, header.as_ref());
    let adc = derived_dwi::split_off(&mut vols, header.as_ref());
    let mut written = Vec::new();
    if !adc.is_empty() {
        let adc_stem = format!("{stem}_ADC");
        written.extend(write_series(
            &adc, &dir, &adc_stem, gzip, &meta, stored, false,
        )?);
    }
    // Stacks of several (a plane, a complex component or an echo, each of them
    // repeated) are files of their own, each timed by its own volumes.
    let groups = by_stack(vols);
    let several = groups.len() > 1;
    for (first, vols) in groups {
        let is_4d = four_d(&vols);
        let (timing, meta) = if several {
            let t = is_4d
                .then(|| timing::volume_timing(s, header.as_ref(), Some(&vols[0].stack)))
                .flatten();
            let step = t.as_ref().map(|t| t.step_s).or(meta.time_step_s);
            let m = NiftiMeta {
                time_step_s: step,
                ..meta.clone()
            };
            (t, m)
        } else {
            (timing.clone(), meta.clone())
        };
        let stem = &if is_4d {
            volume_stem(stem, &vols[0].stack)
        } else {
            stem.to_string()
        };
        let rows_as_stored = unplaced_3d && !is_4d;
        // A sidecar beside every file written, named as it is (dcm2niix's layout):
        // one for a 4D file, one a volume for volumes written apart (echoes, planes).
        let mut sides: Vec<(String, Value)> = if is_4d {
            vec![(
                stem.clone(),
                sidecar::sidecar(s, &vols, first, timing.as_ref()),
            )]
        } else {
            vols.iter()
                .enumerate()
                .map(|(i, v)| {
                    let name = volume_stem(stem, &v.label);
                    let side = sidecar::sidecar(s, std::slice::from_ref(v), first + i, None);
                    (name, side)
                })
                .collect()
        };
        // PET: its SUVbw copy is written beside it at the same time (a file's gzip stream is
        // deflated a block per thread, `gzip_parallel`: a small file is one block).
        let (series, suv) = rayon::join(
            || write_series(&vols, &dir, stem, gzip, &meta, stored, rows_as_stored),
            || match (s.modality == "PT", sides.first_mut()) {
                (true, Some((_, side))) => {
                    write_suv(s, &vols, &dir, stem, gzip, meta.time_step_s, side)
                }
                _ => Ok(Vec::new()),
            },
        );
        written.extend(series?);
        let suv = suv?;
        // The SUVbw copy has its own sidecar (every file has one): the PET's, in SUV's unit.
        if let Some((_, pet_side)) = sides.first() {
            let suv_sides: Vec<(String, Value)> = suv
                .iter()
                .map(|(name, _)| {
                    let mut side = pet_side.clone();
                    if let Value::Object(m) = &mut side {
                        m.insert("Units".into(), json!("g/ml"));
                    }
                    let stem = name.trim_end_matches(".gz").trim_end_matches(".nii");
                    (stem.to_string(), side)
                })
                .collect();
            sides.extend(suv_sides);
        }
        written.extend(suv);
        if let Some(with_bvec) = lone_diffusion(s, &vols) {
            let lone = volume_stem(stem, &vols[0].label);
            write_diffusion(&vols, &dir, &lone, &meta, with_bvec)?;
        }
        for (name, side) in &sides {
            let path = dir.join(format!("{name}.json"));
            crate::atomic::write_json_unsynced(&path, side)
                .map_err(|e| Failure::writing(&path, e))?;
        }
    }
    Ok(written
        .into_iter()
        .map(|(n, dims)| Converted {
            subject: subject.to_string(),
            modality: s.modality.clone(),
            kind: s.kind.as_str().into(),
            nifti: format!("{subject}/{n}"),
            dims,
        })
        .collect())
}

/// Convert every image series of `inv` into `out`, adding to `report`.
fn convert_inventory(
    inv: &ingest::Inventory,
    input: &Path,
    out: &Path,
    gzip: bool,
    quiet: bool,
    bar: &indicatif::ProgressBar,
    report: &mut ConvertReport,
) {
    let names = subject_names(&inv.series);
    if !quiet
        && inv
            .series
            .iter()
            .any(|s| !s.files.iter().all(|f| f.deidentified))
    {
        crate::say!(
            "convert: input is not de-identified; subjects are numbered S001... in output names"
        );
    }
    for s in inv.series.iter().filter(|s| !s.is_image()) {
        report.not_images.push(json!({
            "subject": names.get(&s.patient_id),
            "modality": s.modality,
            "kind": s.kind.as_str(),
            "what": not_an_image(s),
        }));
    }
    let image_series: Vec<&Series> = inv.series.iter().filter(|s| s.is_image()).collect();
    let stems = unique_stems(&image_series);
    let results: Vec<(usize, Result<Vec<Converted>, Failure>)> = {
        let convert_one = |(idx, s): (usize, &&Series)| {
            let subject = names
                .get(&s.patient_id)
                .cloned()
                .unwrap_or_else(|| "unknown".into());
            let attempt = || convert_series(s, &subject, out, &stems[idx], gzip);
            // A defect of ancilla on one series costs that series, not the conversion.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(attempt))
                .unwrap_or_else(|_| Err(Failure::Input(crate::INTERNAL_ERROR.into())));
            bar.inc(1);
            (idx, r)
        };
        // PET series (the largest volumes, each with its SUV copy) one at a time, then the others.
        crate::memory::heavy_alone_then_parallel(
            &image_series,
            |s| s.modality == "PT",
            |idx, s| convert_one((idx, s)),
        )
    };
    report.files_rejected += inv.files_rejected();
    report.add_rejected_by_reason(inv.rejected_by_reason());
    for (idx, r) in results {
        let s = image_series[idx];
        // Named as in the output (S001..., or the de-identified subject), never by the site's
        // PatientID or paths: the same words as the report file.
        let subject = names.get(&s.patient_id).map_or("unknown", String::as_str);
        let say = |what: &str, why: &str| {
            if !quiet {
                crate::say!(
                    "convert: {subject} series {} ({} {}) {what}: {why}",
                    s.series_number.unwrap_or(0),
                    s.modality,
                    s.kind.as_str()
                );
            }
        };
        match r {
            Ok(c) => report.converted.extend(c),
            Err(Failure::Output(why)) => {
                say("could not be written", &why);
                report.unwritten.push(why);
            }
            Err(Failure::Input(why)) => {
                let why = strip_paths(&why, input);
                say("not converted", &why);
                report.not_converted.push(json!({
                    "subject": names.get(&s.patient_id),
                    "modality": s.modality,
                    "kind": s.kind.as_str(),
                    "reason": why,
                }));
            }
        }
    }
}

/// Report entries in subject order, stable (the order a merge of shards gives too).
pub(crate) fn sort_by_subject(entries: &mut [Value]) {
    entries.sort_by(|a, b| {
        let s = |x: &Value| x["subject"].as_str().unwrap_or_default().to_string();
        s(a).cmp(&s(b))
    });
}

/// Sort the report as every entry point does, and write it.
fn finish(mut report: ConvertReport, out: &Path) -> Result<ConvertReport, ConvertError> {
    if let Some(first) = report.unwritten.first() {
        return Err(ConvertError::Unwritten {
            count: report.unwritten.len(),
            first: first.clone(),
        });
    }
    report.converted.sort_by(|a, b| a.nifti.cmp(&b.nifti));
    // Stable, by subject: the order a merge of shards gives too.
    sort_by_subject(&mut report.not_converted);
    sort_by_subject(&mut report.not_images);
    crate::atomic::write_json(&out.join("convert-report.json"), &report).map_err(|e| {
        ConvertError::Write {
            path: out.join("convert-report.json"),
            message: e.to_string(),
        }
    })?;
    Ok(report)
}

/// Remove the input root from a message so no site path reaches an output file.
fn strip_paths(msg: &str, input: &Path) -> String {
    crate::redact::input_root(msg, input)
}

/// `ancilla convert`.
pub fn convert_command(
    input: &Path,
    out: &Path,
    gzip: bool,
    quiet: bool,
) -> Result<(), ConvertError> {
    let start = std::time::Instant::now();
    let r = convert(input, out, gzip, quiet)?;
    // The final summary, also under --quiet (which hides progress only).
    {
        let not_images = match r.not_images.len() {
            0 => String::new(),
            n => format!(", {n} series not images (see convert-report.json)"),
        };
        let rejected = if r.rejected_by_reason.is_empty() {
            String::new()
        } else {
            let kinds: Vec<String> = r
                .rejected_by_reason
                .iter()
                .map(|(kind, n)| match kind.as_str() {
                    "series_geometry" => format!("{n} in series that make no volume"),
                    _ => format!("{n} {}", kind.replace('_', " ")),
                })
                .collect();
            format!(" ({}; `ancilla scan` names each)", kinds.join(", "))
        };
        crate::say!(
            "convert: {} in {:.2} s, {} series not converted{not_images}, {} rejected{rejected}",
            crate::plural::count(r.converted.len(), "NIfTI file"),
            start.elapsed().as_secs_f64(),
            r.not_converted.len(),
            crate::plural::count(r.files_rejected, "file")
        );
    }
    // Files that are not DICOM at all: not DICOM, archives, entries not read as files. The line
    // above has said which (an archive is to be unpacked first).
    let not_dicom = ["not_dicom", "empty", "archive", "not_read"];
    if r.converted.is_empty()
        && r.not_converted.is_empty()
        && r.not_images.is_empty()
        && r.rejected_by_reason
            .keys()
            .all(|k| not_dicom.contains(&k.as_str()))
    {
        return Err(ConvertError::NoDicom {
            files: r.files_rejected,
            archives: r.rejected_by_reason.get("archive").copied().unwrap_or(0),
        });
    }
    Ok(())
}
