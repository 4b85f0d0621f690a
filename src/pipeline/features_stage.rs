//! The features stage of the pipeline: every subject's series of the de-identified tree measured
//! (IBSI features, QIBA SUV on PET) in the regions of its label maps, or of the DICOM SEG or
//! RTSTRUCT that shares its frame of reference, with what could not be measured and why.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use crate::ingest::SeriesKind;
use crate::quant::{self, FeatureContext};
use crate::roi;
use crate::volume::assemble;

/// Features of every subject's PET (SUVbw, PET mask), T2 and ADC (MR mask) of a de-identified
/// tree into `out` (long CSV, the same as Parquet beside it, dictionary). A series' mask is its
/// subject's NIfTI label map under `masks` (`<USUBJID>/pet_labels.nii.gz`, `mr_labels.nii.gz`),
/// or else the one DICOM SEG (or else RTSTRUCT) of the subject's tree that shares the series'
/// frame of reference. One subject per core at a time (its series in parallel), so memory does
/// not grow with the cohort; rows grouped by subject in USUBJID order (the order a merge of
/// shards gives too). Returns the row count and the problems met.
/// One subject's part of the features stage's outputs, as written: its rows as CSV lines, how
/// many, its problems (label warnings included) and its imaging.csv lines. What the per-subject
/// state remembers of it.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct SubjectPart {
    csv: String,
    rows: usize,
    problems: Vec<Value>,
    imaging: String,
}

/// Measure one subject (`subject_features`) and render its part of the outputs.
fn subject_part(
    subject: &str,
    input: &Path,
    nifti: &Path,
    masks: Option<&Path>,
    labels: &BTreeMap<u32, String>,
    pet: &quant::FeatureSettings,
) -> Result<SubjectPart, String> {
    let (rows, mut problems, dates, images) =
        subject_features(&input.join(subject), input, nifti, masks, labels, pet)?;
    let mut imaging = String::new();
    for (modality, series, date) in dates {
        // 1 when the series was measured with the mask on its own grid, 0 when the mask was
        // resampled onto it, empty when it was not measured.
        let on_grid = images
            .iter()
            .find(|m| m.series_uid == series)
            .map_or("", |m| if m.mask_on_grid { "1" } else { "0" });
        // In the feature table's spelling ("mr", "pt"), so the two join on it.
        let modality = modality.to_ascii_lowercase();
        imaging.push_str(&format!("{subject},{modality},{series},{date},{on_grid}\n"));
    }
    problems.extend(label_warnings(subject, &images));
    let mut csv = Vec::new();
    quant::table::write_csv(&mut csv, &rows, false).map_err(|e| e.to_string())?;
    Ok(SubjectPart {
        csv: String::from_utf8(csv).map_err(|e| e.to_string())?,
        rows: rows.len(),
        problems,
        imaging,
    })
}

/// The features stage's per-subject state: where each subject's part is remembered, and the
/// key of what it is computed from now (None: not remembered).
pub type Remembered<'a> = (
    &'a super::subject_cache::SubjectCache,
    &'a (dyn Fn(&str) -> Option<String> + Sync),
);

pub fn features(
    input: &Path,
    nifti: &Path,
    masks: Option<&Path>,
    labels: &BTreeMap<u32, String>,
    pet: &quant::FeatureSettings,
    out: &Path,
    remembered: Option<Remembered>,
) -> Result<(usize, Vec<Value>, usize), String> {
    use std::io::Write;
    let mut n = 0;
    // Subjects whose part was remembered, not measured again.
    let mut recalled = 0;
    let mut problems = Vec::new();
    // The (de-identified, shifted) date of every analysed series, for the linkage's intervals
    // and its choice of series (`clinical::series_choice`).
    let mut imaging = String::from("USUBJID,MODALITY,SERIES_UID,IMAGING_DATE,MASK_ON_GRID\n");
    // The table goes to its temporary file subject by subject (memory does not grow with the
    // cohort), renamed into place when every subject is done.
    crate::atomic::write_with(out, |tmp| -> std::io::Result<()> {
        let file = std::fs::File::create(tmp)?;
        let mut w = std::io::BufWriter::new(file);
        w.write_all(&quant::table::to_csv(&[]))?;
        // One subject per core under way at a time, written in subject order.
        crate::memory::in_order_on_workers(
            &subjects_in(input),
            rayon::current_num_threads(),
            |subject| {
                let key = remembered.and_then(|(_, key)| key(subject));
                if let (Some((cache, _)), Some(key)) = (remembered, &key) {
                    if let Some(part) = cache.get::<SubjectPart>(subject, key) {
                        return Ok((part, true));
                    }
                }
                let r = subject_part(subject, input, nifti, masks, labels, pet);
                crate::memory::release_freed_memory();
                if let (Some((cache, _)), Some(key), Ok(part)) = (remembered, &key, &r) {
                    // Remembered for the next run; one that cannot be is computed again then.
                    let _ = cache.put(subject, key, part);
                }
                r.map(|part| (part, false))
            },
            |_, r| {
                let (mut part, was_recalled) = r.map_err(std::io::Error::other)?;
                recalled += usize::from(was_recalled);
                imaging.push_str(&part.imaging);
                n += part.rows;
                w.write_all(part.csv.as_bytes())?;
                problems.append(&mut part.problems);
                Ok::<(), std::io::Error>(())
            },
        )?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    })
    // Which file: "No space left on device" alone did not say (deid and convert name theirs).
    .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    quant::table::csv_to_parquet(out, &out.with_extension("parquet")).map_err(|e| e.to_string())?;
    if let Some(dir) = out.parent() {
        let dictionary = dir.join("features.dictionary.csv");
        quant::table::write_dictionary(dir)
            .map_err(|e| format!("cannot write {}: {e}", dictionary.display()))?;
        let dates = dir.join("imaging.csv");
        crate::atomic::write_bytes(&dates, imaging.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", dates.display()))?;
    }
    Ok((n, problems, recalled))
}

/// StudyDate (DA, shifted by de-identification) of a series' first file, as YYYY-MM-DD.
fn study_date(s: &crate::ingest::Series) -> Option<String> {
    let f = s.files.first()?;
    let obj = crate::ingest::open::open_file(&f.path, true).ok()?;
    let da = crate::ingest::values::str_of(&obj, dicom_dictionary_std::tags::STUDY_DATE)?;
    crate::datetime::Date::parse(&da).map(|d| d.to_iso())
}

/// One image measured, for the label warnings.
struct Measured {
    /// Its series (de-identified UID).
    series_uid: String,
    /// Whether the mask's voxels are the image's (drawn on its grid), not resampled onto it.
    mask_on_grid: bool,
    /// Its kind (`suvbw`, `t2`, ...).
    image: String,
    /// Its mask: the label map's file name, or "the DICOM SEG" / "the RTSTRUCT".
    mask: String,
    /// The labels of the table that mark none of its voxels (number, name).
    empty: Vec<(u32, String)>,
    /// The mask's labels the table does not name.
    unnamed: Vec<u32>,
    /// The mask's regions that cannot be read, with why (`Rois::unusable`).
    unusable: Vec<(u32, String)>,
    /// What the mask calls a region ("segment", "ROI", "label": `Rois::region_word`).
    region_word: &'static str,
    /// Segments / ROIs whose own label is another region of the table than the one the table
    /// gives their number: (number, what the object calls it, what the table calls it).
    misnumbered: Vec<(u32, String, String)>,
    /// A PET of ¹⁸F-PSMA-1007 without a region named spleen: its miPSMA score's reference.
    no_spleen: bool,
    /// What was done to the image that the user should know (an ADC map's unit scaled, a fit's
    /// volumes left out).
    notes: Vec<String>,
}

/// One subject's feature rows, problems, (modality, series UID, shifted study date) of its
/// analysed series, and the images measured.
type SubjectFeatures = (
    Vec<quant::FeatureRow>,
    Vec<Value>,
    Vec<(String, String, String)>,
    Vec<Measured>,
);

/// One subject's label warnings (not rejected inputs: the image was measured), one per label and
/// image: a label of the table that marks no voxel (a region outside the scan's field of view,
/// as the parotids of a renal MRI; a complete response; a mask drawn without it), and a label
/// of the mask the table does not name (a region drawn that nothing measures). The report
/// gathers the same sentence of many subjects into one line.
fn label_warnings(subject: &str, measured: &[Measured]) -> Vec<Value> {
    let warning = |image: &str, why: String| json!({"stage": "features", "subject": subject, "series_kind": image, "warning": true, "reason": why});
    let mut out = Vec::new();
    for Measured {
        image,
        mask,
        series_uid: _,
        mask_on_grid: _,
        empty,
        unnamed,
        unusable,
        region_word,
        misnumbered,
        no_spleen,
        notes,
    } in measured
    {
        for note in notes {
            out.push(warning(image, format!("{note} (the {image} image)")));
        }
        if *no_spleen {
            out.push(warning(
                image,
                format!(
                "the {image} image is of 18F-PSMA-1007, whose miPSMA score takes the spleen as its \
                 reference in the liver's place (PROMISE V2), and no region is named spleen: no \
                 miPSMA score"
            ),
            ));
        }
        for (number, why) in unusable {
            out.push(warning(image, format!(
                "{region_word} {number} of {mask} is not used: {why}; not measured on the {image} image"
            )));
        }
        for (number, own, table) in misnumbered {
            let why = format!(
                "{region_word} {number} of {mask} is labelled {own}, but [rois] labels names {number} \
                 {table}: measured as {table} on the {image} image; check the numbering"
            );
            out.push(warning(image, why));
        }
        for (number, name) in empty {
            out.push(warning(image, format!(
                "label {number} ({name}) marks no voxel of the {image} image ({mask}): no features for it"
            )));
        }
        for number in unnamed {
            out.push(warning(image, format!(
                "label {number} of {mask} is not named in [rois] labels: not measured on the {image} image"
            )));
        }
    }
    out
}

/// The feature rows and problems of one subject's folder of a de-identified tree.
fn subject_features(
    dir: &Path,
    input: &Path,
    nifti: &Path,
    masks: Option<&Path>,
    labels: &BTreeMap<u32, String>,
    pet: &quant::FeatureSettings,
) -> Result<SubjectFeatures, String> {
    let inv = crate::ingest::scan_paths_for_suv(&[dir.to_path_buf()]).map_err(|e| e.to_string())?;
    let dates: Vec<(String, String, String)> = inv
        .series
        .iter()
        .filter(|s| {
            s.is_image()
                && matches!(
                    s.kind,
                    SeriesKind::Pet | SeriesKind::T2 | SeriesKind::Adc | SeriesKind::Dwi
                )
                && s.files.iter().all(|f| f.deidentified)
        })
        .filter_map(|s| Some((s.modality.clone(), s.series_uid.clone(), study_date(s)?)))
        .collect();
    // The single-volume NIfTI convert wrote for a series (SUVbw for PET), when there is one. Its
    // name is the one convert gave it: the subject's series sort as in convert's inventory
    // (patient, study, number, UID), so two that share a stem get the same `_1`, `_2`.
    let images: Vec<&crate::ingest::Series> = inv.series.iter().filter(|s| s.is_image()).collect();
    let stems = crate::convert::unique_stems(&images);
    let converted = |s: &crate::ingest::Series| -> Option<std::path::PathBuf> {
        if s.kind == SeriesKind::Dwi {
            return None;
        }
        let idx = images.iter().position(|x| std::ptr::eq(*x, s))?;
        let stem = &stems[idx];
        let suffix = if s.kind == SeriesKind::Pet {
            "_suvbw"
        } else {
            ""
        };
        let dir = nifti.join(crate::convert::sanitize(&s.patient_id));
        ["nii.gz", "nii"]
            .iter()
            .map(|ext| dir.join(format!("{stem}{suffix}.{ext}")))
            .find(|p| p.is_file())
    };
    type Measurement = (Vec<quant::FeatureRow>, Measured);
    let run = |s: &crate::ingest::Series| -> Option<Result<Measurement, Value>> {
        // A DWI series is analysed (as its fitted ADC) only where its study has no ADC series.
        let scanner_adc = |s: &crate::ingest::Series| {
            inv.series
                .iter()
                .any(|x| x.kind == SeriesKind::Adc && x.study_uid == s.study_uid)
        };
        let mask_name = match s.kind {
            SeriesKind::Pet => "pet_labels",
            SeriesKind::T2 | SeriesKind::Adc => "mr_labels",
            SeriesKind::Dwi if !scanner_adc(s) => "mr_labels",
            _ => return None,
        };
        // De-identified input: PatientID is the USUBJID and UIDs are pseudonyms.
        if !s.files.iter().all(|f| f.deidentified) {
            return Some(Err(
                json!({"stage": "features", "reason": "series is not de-identified (not analysed)"}),
            ));
        }
        let usubjid = &s.patient_id;
        // Neither the release's folder nor the site's masks folder (its path may name a person).
        let problem = |why: String| {
            let why = crate::redact::input_root(&why, input);
            let why = match masks {
                Some(m) => crate::redact::folder(&why, m, "<masks>"),
                None => why,
            };
            json!({"stage": "features", "subject": usubjid, "series_kind": s.kind.as_str(), "reason": why})
        };
        let label_map = label_map_file(masks, usubjid, mask_name);
        let mask = match (label_map, dicom_roi(&inv, s)) {
            (Some(p), _) => p,
            (None, Ok(Some(roi))) => {
                return Some(
                    dicom_roi_features(s, &roi, converted(s), labels, pet).map_err(problem),
                )
            }
            (None, Ok(None)) => {
                // There, but not to be read: said so (it was "no ROI mask", as if absent).
                if let Some(why) = unreadable_label_map(masks, usubjid, mask_name) {
                    return Some(Err(problem(why)));
                }
                return Some(Err(problem(match masks {
                    Some(_) => format!(
                        "no ROI mask: neither <masks>/{usubjid}/{mask_name}.nii.gz (or .nii) nor a \
                         DICOM SEG or RTSTRUCT of the subject that shares the series' frame of \
                         reference"
                    ),
                    // The run has no label maps to look for: their path would be a false lead.
                    None => "no ROI mask: no DICOM SEG or RTSTRUCT of the subject shares the \
                             series' frame of reference (and the run has no [input] masks)"
                        .to_string(),
                })));
            }
            (None, Err(why)) => return Some(Err(problem(why))),
        };
        // The label map's file name, as messages name it (`pet_labels.nii.gz` or `.nii`).
        let mask_file = mask.file_name().map_or_else(
            || mask_name.to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let ctx = |image: String| FeatureContext {
            subject_id: usubjid.clone(),
            modality: s.modality.to_ascii_lowercase(),
            series_uid: s.series_uid.clone(),
            image,
            frame_of_reference: String::new(),
            source_series_uid: String::new(),
            psma_1007: quant::suv::series_psma_1007(s),
        };
        // The volume convert wrote (the PET already in SUVbw), on the label maps' grid: read
        // with the label map side by side, no DICOM parsed again and no resampling.
        if let Some(path) = converted(s) {
            let load = || Ok(converted_image(s, &path)?);
            if let Ok((image, notes, rois, shapes)) =
                quant::load_with_nifti_rois(load, &mask, Some(labels))
            {
                let ctx = ctx(quant::image_name(s.kind, ""));
                let empty = owned(rois.empty_regions(Some(labels)));
                let (rows, left_out) =
                    quant::features_for_volume_with(&image, &rois, shapes.as_deref(), &ctx, pet);
                let mut notes = notes;
                notes.extend(left_out);
                let unnamed = rois.unnamed.clone();
                return Some(Ok((
                    rows,
                    Measured {
                        series_uid: s.series_uid.clone(),
                        mask_on_grid: rois.exact,
                        image: ctx.image,
                        mask: mask_file.clone(),
                        empty,
                        unnamed,
                        unusable: Vec::new(),
                        region_word: "label",
                        misnumbered: Vec::new(),
                        no_spleen: no_spleen(s, labels),
                        notes,
                    },
                )));
            }
        }
        // Otherwise (not converted, a DWI series, or a NIfTI that does not read) from DICOM.
        let r = (|| -> Result<Measurement, String> {
            let (image, image_kind, notes) = image_from_dicom(s)?;
            let lm = roi::label_map_for(&image, &mask).map_err(|e| e.to_string())?;
            let rois = roi::Rois::from_label_map(&lm, Some(labels)).map_err(|e| e.to_string())?;
            let empty = owned(rois.empty_regions(Some(labels)));
            let (rows, left_out) =
                quant::features_for_volume(&image, &rois, &ctx(image_kind.clone()), pet);
            let mut notes = notes;
            notes.extend(left_out);
            Ok((
                rows,
                Measured {
                    series_uid: s.series_uid.clone(),
                    mask_on_grid: rois.exact,
                    image: image_kind,
                    mask: mask_file.clone(),
                    empty,
                    unnamed: rois.unnamed.clone(),
                    unusable: Vec::new(),
                    region_word: "label",
                    misnumbered: Vec::new(),
                    no_spleen: no_spleen(s, labels),
                    notes,
                },
            ))
        })();
        Some(r.map_err(problem))
    };
    // The PET (the largest volume) alone, its regions in parallel; then the MR series in parallel.
    let candidates: Vec<&crate::ingest::Series> = inv
        .series
        .iter()
        .filter(|s| s.is_image() && s.plan.is_ok())
        .collect();
    let per_series: Vec<Result<Measurement, Value>> = crate::memory::heavy_alone_then_parallel(
        &candidates,
        |s| s.kind == SeriesKind::Pet,
        |_, s| {
            // A defect of ancilla on one series' masks or image (a SEG, an RTSTRUCT, a label map
            // from the site) is that series' problem, not the batch's end.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(s))).unwrap_or_else(|_| {
                Some(Err(json!({"stage": "features", "subject": s.patient_id,
                    "series_kind": s.kind.as_str(), "reason": crate::INTERNAL_ERROR})))
            })
        },
    )
    .into_iter()
    .flatten()
    .collect();
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut measured = Vec::new();
    for r in per_series {
        match r {
            Ok((mut r, m)) => {
                rows.append(&mut r);
                measured.push(m);
            }
            Err(p) => problems.push(p),
        }
    }
    Ok((rows, problems, dates, measured))
}

/// The DICOM ROI object of `s`: the one SEG, or else the one RTSTRUCT, of the subject's tree whose
/// frame of reference is the series' (de-identification maps both UIDs with one key, so they
/// still match), or that names the series as the one it was drawn on. None when there is none;
/// an error when two of a kind do.
pub(super) fn dicom_roi(
    inv: &crate::ingest::Inventory,
    s: &crate::ingest::Series,
) -> Result<Option<std::path::PathBuf>, String> {
    let Some(frame) = s.files.first().map(|f| f.frame_of_reference.clone()) else {
        return Ok(None);
    };
    let objects: Vec<RoiObject> = inv
        .series
        .iter()
        .flat_map(|x| {
            x.files.iter().map(move |f| RoiObject {
                kind: x.kind,
                frame: &f.frame_of_reference,
                referenced_series: &f.referenced_series,
                path: &f.path,
            })
        })
        .collect();
    roi_of_frame(&objects, &frame, &s.series_uid).map(|p| p.map(Path::to_path_buf))
}

/// A file of the subject's tree, as the scan read it, that may be a DICOM ROI object.
struct RoiObject<'a> {
    kind: SeriesKind,
    frame: &'a str,
    /// The series a SEG or RTSTRUCT names as drawn on (`values::referenced_series`).
    referenced_series: &'a [String],
    path: &'a Path,
}

/// Of `objects`, the one SEG, or else the one RTSTRUCT, of frame of reference `frame` (never an
/// empty one), or that names `series` as the one it was drawn on (pydicom-seg 0.4 writes a new
/// frame of reference into every SEG it makes).
fn roi_of_frame<'a>(
    objects: &[RoiObject<'a>],
    frame: &str,
    series: &str,
) -> Result<Option<&'a Path>, String> {
    if frame.is_empty() {
        return Ok(None);
    }
    for kind in [SeriesKind::Seg, SeriesKind::Rtstruct] {
        let found: Vec<&Path> = objects
            .iter()
            .filter(|o| {
                o.kind == kind
                    && (o.frame == frame
                        || (!series.is_empty() && o.referenced_series.iter().any(|r| r == series)))
            })
            .map(|o| o.path)
            .collect();
        match found[..] {
            [] => continue,
            [one] => return Ok(Some(one)),
            _ => {
                return Err(format!(
                    "{} {} objects share the series' frame of reference (or reference the \
                     series); expected one (or a NIfTI label map under [input] masks)",
                    found.len(),
                    kind.as_str().to_uppercase()
                ))
            }
        }
    }
    Ok(None)
}

/// The image of series `s` read from DICOM, its name, and what was done to it that the user
/// should know: the ADC fitted from a DWI series (its b-values as convert writes them), the PET
/// in SUVbw, a scanner ADC map in 10⁻⁶ mm²/s, the first volume of any other.
fn image_from_dicom(
    s: &crate::ingest::Series,
) -> Result<(crate::volume::Volume, String, Vec<String>), String> {
    let mut vols = assemble::load_series(s).map_err(|e| e.to_string())?;
    if s.kind == SeriesKind::Dwi {
        crate::convert::dwi_volumes_as_converted(s, &mut vols);
        let fit = quant::adc_from_dwi(&vols).map_err(|e| e.to_string())?;
        let notes = quant::adc_fit_note(&fit).into_iter().collect();
        return Ok((fit.adc, "adc_fit".to_string(), notes));
    }
    let Some(sv) = vols.into_iter().next() else {
        return Err("the series makes no volume".to_string());
    };
    let mut image = sv.volume;
    if s.kind == SeriesKind::Pet {
        quant::suv::suv_for_series(s)
            .map_err(|e| e.to_string())?
            .scale(&mut image);
    }
    let notes = adc_unit_notes(s, &mut image);
    Ok((image, quant::image_name(s.kind, &sv.label), notes))
}

/// The NIfTI convert wrote for series `s` (refused without a position in patient space), and
/// what was done to it that the user should know (`adc_unit_notes`).
fn converted_image(
    s: &crate::ingest::Series,
    path: &Path,
) -> Result<(crate::volume::Volume, Vec<String>), crate::volume::nifti_io::NiftiError> {
    let mut image = crate::volume::nifti_io::read_placed_volume(path)?;
    let notes = adc_unit_notes(s, &mut image);
    Ok((image, notes))
}

/// A scanner ADC map of series `s` in 10⁻⁶ mm²/s (`adc::to_micro_units`): what was done, for
/// a warning (nothing for any other image).
fn adc_unit_notes(s: &crate::ingest::Series, image: &mut crate::volume::Volume) -> Vec<String> {
    if s.kind != SeriesKind::Adc {
        return Vec::new();
    }
    quant::adc::to_micro_units(image).into_iter().collect()
}

/// Features of series `s` on the regions of a DICOM SEG or RTSTRUCT (`roi`), numbered as the
/// label table numbers them; the image is the NIfTI convert wrote (`converted`, SUVbw for PET)
/// or, without one, the series read from DICOM.
fn dicom_roi_features(
    s: &crate::ingest::Series,
    roi: &Path,
    converted: Option<std::path::PathBuf>,
    labels: &BTreeMap<u32, String>,
    pet: &quant::FeatureSettings,
) -> Result<(Vec<quant::FeatureRow>, Measured), String> {
    let (image, image_kind, notes) = match converted {
        Some(path) => {
            let (image, notes) = converted_image(s, &path).map_err(|e| e.to_string())?;
            (image, quant::image_name(s.kind, ""), notes)
        }
        None => image_from_dicom(s)?,
    };
    // Read with the object's own names, then named by the table's numbers. The object was
    // chosen for this series already (`roi_of_frame`): its frame of reference is not checked
    // again, but whether it names the series as the one it was drawn on still counts.
    let drawn_on = roi::DicomImage {
        frame_of_reference: "",
        series_uid: &s.series_uid,
    };
    let (rois, misnumbered) = roi::load_rois(&image, Some(drawn_on), roi)
        .map_err(|e| e.to_string())?
        .numbered_by(labels);
    let mut notes = notes;
    notes.extend(rois.partial.iter().map(|(number, what)| {
        format!(
            "{} {number} of the {} is measured without part of it: {what}",
            rois.region_word(),
            rois.source
        )
    }));
    let empty = owned(rois.empty_regions(Some(labels)));
    let ctx = FeatureContext {
        subject_id: s.patient_id.clone(),
        modality: s.modality.to_ascii_lowercase(),
        series_uid: s.series_uid.clone(),
        image: image_kind.clone(),
        frame_of_reference: String::new(),
        source_series_uid: String::new(),
        psma_1007: quant::suv::series_psma_1007(s),
    };
    let (rows, left_out) = quant::features_for_volume(&image, &rois, &ctx, pet);
    notes.extend(left_out);
    Ok((
        rows,
        Measured {
            series_uid: s.series_uid.clone(),
            mask_on_grid: rois.exact,
            image: image_kind,
            mask: format!("the {}", rois.source),
            empty,
            region_word: rois.region_word(),
            unnamed: rois.unnamed,
            unusable: rois.unusable,
            misnumbered,
            no_spleen: no_spleen(s, labels),
            notes,
        },
    ))
}

/// Owned copies of `Rois::empty_regions`' (number, name) pairs.
fn owned(empty: Vec<(u32, &str)>) -> Vec<(u32, String)> {
    empty
        .into_iter()
        .map(|(n, name)| (n, name.to_string()))
        .collect()
}

/// Subjects (folder names) of a de-identified tree.
pub(super) fn subjects_in(deid: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(deid)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The first (in name order) NIfTI of `dir` whose name ends in `suffix` and `.nii.gz` or `.nii`:
/// convert writes either, by `[convert] gzip`.
pub(super) fn find_nifti(dir: &Path, suffix: &str) -> Option<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.to_string_lossy();
            [".nii.gz", ".nii"]
                .iter()
                .any(|ext| name.strip_suffix(ext).is_some_and(|n| n.ends_with(suffix)))
        })
        .collect();
    v.sort();
    v.into_iter().next()
}

/// A subject's label map under `[input] masks`: `<masks>/<USUBJID>/<stem>.nii.gz`, else
/// `<stem>.nii` (which `features --mask` takes too; it was passed over without a word).
pub(super) fn label_map_file(
    masks: Option<&Path>,
    usubjid: &str,
    stem: &str,
) -> Option<std::path::PathBuf> {
    let dir = masks?.join(usubjid);
    ["nii.gz", "nii"]
        .iter()
        .map(|ext| dir.join(format!("{stem}.{ext}")))
        .find(|p| p.is_file())
}

/// A PET of ¹⁸F-PSMA-1007 whose label table names no spleen (no miPSMA score then).
fn no_spleen(s: &crate::ingest::Series, labels: &BTreeMap<u32, String>) -> bool {
    s.kind == SeriesKind::Pet
        && quant::suv::series_psma_1007(s)
        && !labels.values().any(|n| n == "spleen")
}

/// Why a subject's label map that is there cannot be read: its folder unreadable (permissions),
/// or the file no regular file (a FIFO); None where there is none to read.
fn unreadable_label_map(masks: Option<&Path>, usubjid: &str, stem: &str) -> Option<String> {
    let dir = masks?.join(usubjid);
    match std::fs::read_dir(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Some(format!(
                "cannot read the mask folder {}: {e}",
                dir.display()
            ))
        }
        Err(_) => return None,
        Ok(_) => {}
    }
    ["nii.gz", "nii"].iter().find_map(|ext| {
        let p = dir.join(format!("{stem}.{ext}"));
        let m = std::fs::metadata(&p).ok()?;
        (!m.is_file()).then(|| format!("the label map {} is not a regular file", p.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PET of ¹⁸F-PSMA-1007 measured without a region named spleen: said, as its miPSMA score
    /// is left out (its reference is the spleen).
    #[test]
    fn a_psma_1007_pet_without_a_spleen_is_warned_about() {
        let measured = |no_spleen| Measured {
            series_uid: String::new(),
            mask_on_grid: true,
            image: "suvbw".into(),
            mask: "pet_labels.nii.gz".into(),
            empty: Vec::new(),
            unnamed: Vec::new(),
            unusable: Vec::new(),
            region_word: "label",
            misnumbered: Vec::new(),
            no_spleen,
            notes: Vec::new(),
        };
        let w = label_warnings("ANC-01-0001", &[measured(true)]);
        assert_eq!(w.len(), 1);
        assert!(w[0]["reason"]
            .as_str()
            .unwrap()
            .ends_with("no region is named spleen: no miPSMA score"));
        assert!(label_warnings("ANC-01-0001", &[measured(false)]).is_empty());
    }

    /// Regression (a core-lab audit): a label map that is a FIFO (or a subject's mask folder
    /// that cannot be read) was "no ROI mask", as if there were none.
    #[cfg(unix)]
    #[test]
    fn a_label_map_that_cannot_be_read_is_said_so() {
        let dir = tempfile::tempdir().unwrap();
        let subject = dir.path().join("ANC-01-0001");
        std::fs::create_dir_all(&subject).unwrap();
        assert_eq!(
            unreadable_label_map(Some(dir.path()), "ANC-01-0001", "pet_labels"),
            None
        );
        assert_eq!(
            unreadable_label_map(Some(dir.path()), "ANC-09-0009", "pet_labels"),
            None
        );
        assert!(std::process::Command::new("mkfifo")
            .arg(subject.join("pet_labels.nii.gz"))
            .status()
            .unwrap()
            .success());
        let why = unreadable_label_map(Some(dir.path()), "ANC-01-0001", "pet_labels").unwrap();
        assert!(
            why.ends_with("pet_labels.nii.gz is not a regular file"),
            "{why}"
        );
    }

    /// A series' DICOM ROI: the SEG of its frame of reference before an RTSTRUCT, an RTSTRUCT
    /// alone, none of another frame (or of an empty one), and two SEGs refused with their count.
    #[test]
    fn the_one_seg_or_else_rtstruct_of_the_frame_is_taken() {
        let (seg, seg2, rt, other) = (
            Path::new("seg.dcm"),
            Path::new("seg2.dcm"),
            Path::new("rt.dcm"),
            Path::new("other.dcm"),
        );
        let image = Path::new("pet.dcm");
        let no_series: &[String] = &[];
        let object = |kind, frame, path| RoiObject {
            kind,
            frame,
            referenced_series: no_series,
            path,
        };
        let mut objects = vec![
            object(SeriesKind::Pet, "2.25.1", image),
            object(SeriesKind::Rtstruct, "2.25.1", rt),
            object(SeriesKind::Seg, "2.25.2", other),
        ];
        assert_eq!(roi_of_frame(&objects, "2.25.1", "2.25.9"), Ok(Some(rt)));
        assert_eq!(roi_of_frame(&objects, "2.25.3", "2.25.9"), Ok(None));
        assert_eq!(roi_of_frame(&objects, "", "2.25.9"), Ok(None));
        // A SEG of another frame of reference that references the series (pydicom-seg's).
        let referencing = ["2.25.9".to_string()];
        let drawn_on = RoiObject {
            referenced_series: &referencing,
            ..object(SeriesKind::Seg, "2.25.7", other)
        };
        assert_eq!(
            roi_of_frame(&[drawn_on], "2.25.1", "2.25.9"),
            Ok(Some(other))
        );
        objects.push(object(SeriesKind::Seg, "2.25.1", seg));
        assert_eq!(roi_of_frame(&objects, "2.25.1", "2.25.9"), Ok(Some(seg)));
        objects.push(object(SeriesKind::Seg, "2.25.1", seg2));
        let refused = roi_of_frame(&objects, "2.25.1", "2.25.9").unwrap_err();
        assert!(
            refused.starts_with("2 SEG objects share the series' frame of reference"),
            "{refused}"
        );
    }

    /// The pipeline tells the RTSTRUCT reader which series it chose the object for: plastimatch's
    /// set of test-data/rtstruct-plastimatch names that series alone, so each plane holds its own
    /// slice (`pair` 18 voxels of 1.28 mm³, `spot` 4, as the fixture's script counted them), not
    /// a slice either side as for a set contoured every third slice (54 and 12).
    #[test]
    fn an_rtstruct_is_read_as_drawn_on_the_series_it_names() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data");
        let inv = crate::ingest::scan_paths(&[data.join("rtstruct-rt-utils/mr")]).unwrap();
        let labels = BTreeMap::from([(1, "spot".to_string()), (2, "pair".to_string())]);
        let (rows, _) = dicom_roi_features(
            &inv.series[0],
            &data.join("rtstruct-plastimatch/rtss.dcm"),
            None,
            &labels,
            &quant::FeatureSettings::default(),
        )
        .unwrap();
        let voxels = |roi: &str| {
            rows.iter()
                .find(|r| r.roi == roi && r.feature == "morph_vol_approx")
                .map(|r| r.value / 1.28)
        };
        assert!(
            (voxels("pair").unwrap() - 18.0).abs() < 1e-9,
            "{:?}",
            voxels("pair")
        );
        assert!(
            (voxels("spot").unwrap() - 4.0).abs() < 1e-9,
            "{:?}",
            voxels("spot")
        );
    }
}
