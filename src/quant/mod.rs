//! Quantification: SUV after the QIBA vendor-neutral pseudo-code (`suv`), IBSI chapter 1
//! first-order and local-intensity features (`features`), PSMA volume metrics (`pet`), and the
//! long feature table with its dictionary (`table`), ADC from DWI (`adc`).

pub mod adc;
pub mod bin_width;
pub mod features;
pub mod glcm;
pub mod gldzm;
pub mod glrlm;
pub mod glszm;
pub mod grey_levels;
pub mod histogram;
pub mod hull;
pub mod morphology;
pub mod ngldm;
pub mod ngtdm;
pub mod pet;
pub mod region_memory;
pub mod spatial;
pub mod suv;
pub mod table;

use std::path::{Path, PathBuf};

use crate::ingest::SeriesKind;
use crate::roi::{self, Rois};
use crate::volume::{assemble, nifti_io, Volume};
use region_memory::RegionPlan;
pub use table::FeatureRow;

/// Errors of quantification.
#[derive(Debug, thiserror::Error)]
pub enum QuantError {
    #[error(transparent)]
    Suv(#[from] suv::SuvError),
    #[error(transparent)]
    Roi(#[from] roi::RoiError),
    #[error(transparent)]
    Image(#[from] assemble::AssembleError),
    #[error(transparent)]
    Nifti(#[from] nifti_io::NiftiError),
    #[error(transparent)]
    Adc(#[from] adc::AdcError),
    #[error("no diffusion-weighted volumes (images with a b-value) in the series")]
    NoDiffusion,
    #[error("{0}")]
    Usage(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl crate::ExitCode for QuantError {
    fn exit_code(&self) -> u8 {
        match self {
            QuantError::Roi(e) => crate::ExitCode::exit_code(e),
            QuantError::Image(e) => crate::ExitCode::exit_code(e),
            QuantError::Suv(e) => crate::ExitCode::exit_code(e),
            QuantError::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// A BIDS sidecar (dcm2niix's or ancilla's) as JSON; None where absent or unreadable.
fn read_sidecar(sidecar: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(sidecar).ok()?).ok()
}

/// The Units of a PET's sidecar (`Modality` "PT"; "" where it gives none); None where it is not
/// a PET's.
fn sidecar_pet_units(json: &serde_json::Value) -> Option<String> {
    (json["Modality"] == "PT").then(|| json["Units"].as_str().unwrap_or("").to_string())
}

/// `ancilla features` inputs.
#[derive(Debug, Clone)]
pub struct FeaturesOptions {
    pub image: PathBuf,
    pub mask: PathBuf,
    pub labels: Option<String>,
    pub out: Option<PathBuf>,
    /// Fixed SUV thresholds of MTV / TL-PSMA (default 3).
    pub suv_thresholds: Vec<f64>,
    /// Fixed bin size of the texture discretisation; GLCM features only when given.
    pub texture_bin_width: Option<f64>,
    /// The bins' fixed lower bound (else each region's minimum).
    pub texture_min: Option<f64>,
    /// The rows' subject_id (a NIfTI has none; a DICOM series gives its de-identified
    /// PatientID), so that `link` can take a table of images measured one by one.
    pub subject: Option<String>,
}

/// Names attached to every row of one image.
#[derive(Debug, Clone, Default)]
pub struct FeatureContext {
    pub subject_id: String,
    pub modality: String,
    pub series_uid: String,
    /// `suvbw`, `t2`, `adc`, `dwi_b800`, ...
    pub image: String,
    /// FrameOfReferenceUID of a DICOM image (empty for NIfTI): DICOM ROIs must share it.
    pub frame_of_reference: String,
    /// The DICOM image's own SeriesInstanceUID (empty for NIfTI), for a SEG or RTSTRUCT that names
    /// it as drawn on; never written out (`series_uid` is, from de-identified input only).
    pub source_series_uid: String,
    /// A PET of ¹⁸F-PSMA-1007 (its header says so): the miPSMA score's second reference is the
    /// spleen (PROMISE V2), not the liver. False for NIfTI (no tracer is known).
    pub psma_1007: bool,
}

impl FeatureContext {
    /// The image's FrameOfReferenceUID and series; None for NIfTI (it has none).
    pub fn dicom(&self) -> Option<roi::DicomImage<'_>> {
        (!self.frame_of_reference.is_empty()).then_some(roi::DicomImage {
            frame_of_reference: &self.frame_of_reference,
            series_uid: &self.source_series_uid,
        })
    }
}

/// Settings of the features beyond the IBSI morphology and intensity families.
#[derive(Debug, Clone)]
pub struct FeatureSettings {
    /// Fixed SUV thresholds of the MTV / TL-PSMA features (PET).
    pub suv_thresholds: Vec<f64>,
    /// Bin width (image units) of the fixed-bin-size discretisation for texture, for every
    /// image or per image kind; no texture features for an image without one.
    pub texture_bin_width: Option<bin_width::BinWidth>,
    /// The bins' fixed lower bound (image units), for every image or per image kind; the
    /// region's own minimum for an image without one.
    pub texture_min: Option<bin_width::BinWidth>,
}

impl Default for FeatureSettings {
    fn default() -> Self {
        FeatureSettings {
            suv_thresholds: vec![3.0],
            texture_bin_width: None,
            texture_min: None,
        }
    }
}

/// Features of every region of `image` (regions already on its grid), with what was left out of
/// them to keep within the memory budget (`region_memory`), for warnings.
pub fn features_for_volume(
    image: &Volume,
    rois: &Rois,
    ctx: &FeatureContext,
    pet_settings: &FeatureSettings,
) -> (Vec<FeatureRow>, Vec<String>) {
    features_for_volume_with(image, rois, None, ctx, pet_settings)
}

/// `features_for_volume`, with each region's shape measures (`region_shapes`, in region order)
/// when they are already known.
pub fn features_for_volume_with(
    image: &Volume,
    rois: &Rois,
    shapes: Option<&[Option<morphology::MaskShape>]>,
    ctx: &FeatureContext,
    pet_settings: &FeatureSettings,
) -> (Vec<FeatureRow>, Vec<String>) {
    let mut rows: Vec<FeatureRow> = Vec::new();
    // Each region is worked on in its bounding box grown by the peak sphere's reach (the only
    // feature that looks at image voxels outside the region): a small tumour does not cost a
    // whole-body volume per feature family.
    let margin = |axis: usize| {
        (features::peak_radius_mm() / image.geometry.spacing[axis]).ceil() as usize + 1
    };
    let margin = [margin(2), margin(1), margin(0)];
    use rayon::prelude::*;
    // What each region takes in memory, and what of it fits the budget (None: empty).
    let budget = crate::memory::volume_budget_bytes();
    let plans: Vec<Option<RegionPlan>> = rois
        .regions
        .par_iter()
        .map(|region| region_plan(region, image.dims(), margin, budget))
        .collect();
    // A region as notes name it: by number (an object's own ROI names are free text).
    let name_of = |region: &roi::Region| {
        format!(
            "{} {} of the {}",
            rois.region_word(),
            region.number,
            rois.source
        )
    };
    let mut notes = Vec::new();
    for (region, plan) in rois.regions.iter().zip(&plans) {
        if let (Some(plan), Some(extent)) = (plan, region.extent()) {
            notes.extend(plan.note(&name_of(region), extent, budget));
        }
    }
    let measured = |r: usize| {
        plans[r]
            .as_ref()
            .is_some_and(|p| p.scope != region_memory::Scope::Nothing)
    };
    // A region's image, cropped when it is measured (not before: a thousand regions' crops at
    // once did not fit in memory).
    let cropped = |r: usize| {
        measured(r)
            .then(|| crop(image, &rois.regions[r], margin))
            .flatten()
    };
    // What a region's image gives: its part of the morphology and intensity families, its
    // texture and its PET metrics.
    let measure = |r: usize| {
        let (sub, mask) = cropped(r)?;
        let whole = plans[r]
            .as_ref()
            .is_some_and(|p| p.scope == region_memory::Scope::All);
        let in_roi = |k: usize, j: usize, i: usize| mask[[k, j, i]];
        let (part, (texture, pet)) = rayon::join(
            || features::region_part(&sub, &in_roi, whole),
            || {
                rayon::join(
                    || {
                        let w = pet_settings
                            .texture_bin_width
                            .as_ref()?
                            .for_image(&ctx.image)?;
                        // One discretisation per region, shared by every family.
                        let lower = pet_settings
                            .texture_min
                            .as_ref()
                            .and_then(|m| m.for_image(&ctx.image));
                        let g = grey_levels::discretise(&sub, &in_roi, w, lower)?;
                        // The IVH in the image's unit where it has one.
                        let definite = table::intensity_unit(&ctx.image) != "a.u.";
                        let mut t = histogram::histogram_features(&g, definite);
                        t.extend(glcm::glcm_features(&g));
                        t.extend(glrlm::glrlm_features(&g));
                        t.extend(glszm::glszm_features(&g));
                        t.extend(ngtdm::ngtdm_features(&g));
                        t.extend(gldzm::gldzm_features(&g));
                        t.extend(ngldm::ngldm_features(&g));
                        Some(t)
                    },
                    || {
                        (ctx.image == "suvbw").then(|| {
                            pet::volume_metrics(&sub, &in_roi, &pet_settings.suv_thresholds)
                        })
                    },
                )
            },
        );
        // Nothing from an empty region.
        Some((part?, texture, pet))
    };
    let alone = |r: usize| plans[r].as_ref().is_some_and(|p| p.alone);
    // Regions in parallel (rayon), rows in region order; those too large to share the memory
    // budget with others then one at a time (each still on every core). Each region's shape
    // (from its mask alone) is measured beside everything its image gives, so a large region's
    // mesh and the image families of the others share the cores; a shape already measured
    // (while the image loaded) is used as it is.
    let known = |r: usize| shapes.and_then(|s| s.get(r)).and_then(Option::as_ref);
    let (found, parts): (Vec<Option<morphology::MaskShape>>, Vec<_>) = rayon::join(
        || {
            rois.regions
                .par_iter()
                .enumerate()
                .map(|(r, region)| match known(r) {
                    Some(_) => None,
                    None if measured(r) => region_shape(region, &image.geometry),
                    None => None,
                })
                .collect()
        },
        || {
            let mut parts: Vec<_> = (0..rois.regions.len())
                .into_par_iter()
                .map(|r| if alone(r) { None } else { measure(r) })
                .collect();
            for r in (0..rois.regions.len()).filter(|&r| alone(r)) {
                parts[r] = measure(r);
            }
            parts
        },
    );
    // Said, as a note: the region's intensities leave out voxels that hold no number (an ADC
    // map's background from another tool), which the shape counts (without a word before).
    for (region, part) in rois.regions.iter().zip(&parts) {
        let Some((voxels, holes)) = part.as_ref().map(|p| p.0.voxels()).filter(|v| v.1 > 0) else {
            continue;
        };
        let name = name_of(region);
        notes.push(if holes == voxels {
            format!(
                "{name}: none of its {voxels} voxels holds a number (NaN or infinite): no \
                 intensity or texture features, its shape only"
            )
        } else {
            format!(
                "{name}: {holes} of its {voxels} voxels hold no number (NaN or infinite): left \
                 out of its intensity and texture features, counted in its shape"
            )
        });
    }
    let per_region: Vec<Vec<features::Feature>> = parts
        .into_iter()
        .enumerate()
        .map(|(r, part)| {
            let (Some((part, texture, pet)), Some(shape)) = (part, known(r).or(found[r].as_ref()))
            else {
                return Vec::new();
            };
            let mut feats = features::region_features_from(shape, part, image);
            feats.extend(texture.unwrap_or_default());
            feats.extend(pet.unwrap_or_default());
            feats
        })
        .collect();
    for (region, feats) in rois.regions.iter().zip(per_region) {
        let roi_name = &region.name;
        for f in feats {
            rows.push(FeatureRow {
                subject_id: ctx.subject_id.clone(),
                modality: ctx.modality.clone(),
                series_uid: ctx.series_uid.clone(),
                image: ctx.image.clone(),
                roi: roi_name.clone(),
                feature: f.name.to_string(),
                value: f.value,
                unit: table::unit(f.unit_kind, &ctx.image),
            });
        }
    }
    if ctx.image == "suvbw" {
        let get = |roi: &str, feature: &str| {
            rows.iter()
                .find(|r| r.roi == roi && r.feature == feature)
                .map(|r| r.value)
        };
        let mut extra: Vec<(String, features::Feature)> =
            pet::cross_region_metrics(&get, ctx.psma_1007)
                .into_iter()
                .map(|f| ("tumor".to_string(), f))
                .collect();
        if let (Some(mean), Some(var)) = (get("liver", "stat_mean"), get("liver", "stat_var")) {
            for (r, region) in rois.regions.iter().enumerate() {
                if pet::REFERENCE_REGIONS.contains(&region.name.as_str()) {
                    continue;
                }
                let Some((sub, mask)) = cropped(r) else {
                    continue;
                };
                let in_roi = |k: usize, j: usize, i: usize| mask[[k, j, i]];
                extra.extend(
                    pet::liver_based_metrics(&sub, &in_roi, mean, var)
                        .into_iter()
                        .map(|f| (region.name.clone(), f)),
                );
            }
        }
        for (roi, f) in extra {
            rows.push(FeatureRow {
                subject_id: ctx.subject_id.clone(),
                modality: ctx.modality.clone(),
                series_uid: ctx.series_uid.clone(),
                image: ctx.image.clone(),
                roi,
                feature: f.name.to_string(),
                value: f.value,
                unit: table::unit(f.unit_kind, &ctx.image),
            });
        }
    }
    (rows, notes)
}

/// A region's memory plan (`region_memory`) on an image of `dims`, its bounding box grown by
/// `margin` voxels for its work; None for an empty region.
fn region_plan(
    region: &roi::Region,
    dims: [usize; 3],
    margin: [usize; 3],
    budget: u64,
) -> Option<RegionPlan> {
    let (a, b) = working_box(region.bbox?, dims, margin);
    Some(RegionPlan::new(
        region.voxels(),
        region.extent()?,
        std::array::from_fn(|x| b[x] - a[x]),
        budget,
        rayon::current_num_threads(),
    ))
}

/// The shape measures of the regions (in order), each over its bounding box, smallest box first,
/// until `stop()` says so: what the regions alone give, measured while their image is still
/// loading (small ones first: the one under way when the image is ready delays the rest least).
/// None for the regions not measured (and for empty ones). A region the memory plan leaves
/// unmeasured is not meshed either (it was, its shape then unused, beside the loading image).
pub fn region_shapes_until(
    rois: &Rois,
    geometry: &crate::volume::Geometry,
    stop: &dyn Fn() -> bool,
) -> RegionShapes {
    region_shapes_within(rois, geometry, crate::memory::volume_budget_bytes(), stop)
}

/// `region_shapes_until` within `budget` bytes (`region_memory`).
fn region_shapes_within(
    rois: &Rois,
    geometry: &crate::volume::Geometry,
    budget: u64,
    stop: &dyn Fn() -> bool,
) -> RegionShapes {
    let size = |r: &roi::Region| r.extent().map_or(0, |e| e.iter().product::<usize>());
    let mut order: Vec<usize> = (0..rois.regions.len()).collect();
    order.sort_by_key(|&r| size(&rois.regions[r]));
    // Measured at all (its box without the peak's margin: what the plan reckons with it is no
    // smaller).
    let measured = |region: &roi::Region| {
        region.extent().is_some_and(|e| {
            let threads = rayon::current_num_threads();
            RegionPlan::new(region.voxels(), e, e, budget, threads).scope
                != region_memory::Scope::Nothing
        })
    };
    let mut shapes: RegionShapes = rois.regions.iter().map(|_| None).collect();
    for r in order {
        if stop() {
            break;
        }
        if measured(&rois.regions[r]) {
            shapes[r] = region_shape(&rois.regions[r], geometry);
        }
    }
    shapes
}

/// The shape measures of one region over its bounding box (None when empty), on a grid of
/// `geometry`.
fn region_shape(
    r: &roi::Region,
    geometry: &crate::volume::Geometry,
) -> Option<morphology::MaskShape> {
    r.bbox?;
    let (nk, nj, ni) = r.mask.dim();
    let in_roi = |k: usize, j: usize, i: usize| r.mask[[k, j, i]];
    Some(morphology::mask_shape([nk, nj, ni], geometry, &in_roi))
}

/// The part of `image` and of `region`'s mask inside the region's bounding box grown by `margin`
/// voxels ([slices, rows, columns]), clipped to the image; the sub-volume keeps the image's
/// geometry (its origin moves to the box's first voxel). None for an empty region.
pub fn crop(
    image: &Volume,
    region: &roi::Region,
    margin: [usize; 3],
) -> Option<(Volume, ndarray::Array3<bool>)> {
    let (a, b) = working_box(region.bbox?, image.dims(), margin);
    let s = ndarray::s![a[0]..b[0], a[1]..b[1], a[2]..b[2]];
    let geometry = crate::volume::Geometry {
        origin: image.geometry.world(a[2] as f64, a[1] as f64, a[0] as f64),
        ..image.geometry.clone()
    };
    Some((
        Volume {
            data: image.data.slice(s).to_owned(),
            geometry,
        },
        region.window(a, b),
    ))
}

/// The box a region is worked on: its bounding box `[lo, hi]` grown by `margin` voxels, clipped
/// to a grid of `dims`, as its first voxel and one past its last.
fn working_box(
    [lo, hi]: [[usize; 3]; 2],
    dims: [usize; 3],
    margin: [usize; 3],
) -> ([usize; 3], [usize; 3]) {
    (
        std::array::from_fn(|x| lo[x].saturating_sub(margin[x])),
        std::array::from_fn(|x| (hi[x] + margin[x] + 1).min(dims[x])),
    )
}

/// The image kind name of a series volume.
pub fn image_name(kind: SeriesKind, label: &str) -> String {
    match (kind, label) {
        (SeriesKind::Pet, _) => "suvbw".into(),
        (SeriesKind::Dwi, l) if !l.is_empty() => format!("dwi_{l}"),
        (k, "") => k.as_str().into(),
        (k, l) => format!("{}_{l}", k.as_str()),
    }
}

/// A scanner ADC map given to `features` in 10⁻⁶ mm²/s (`adc::to_micro_units`), said so.
fn adc_in_micro_units(image: &mut Volume) {
    if let Some(note) = adc::to_micro_units(image) {
        crate::say!("features: {note}");
    }
}

/// Load an image (NIfTI file, or a DICOM series folder; PET in SUVbw; a scanner ADC map in
/// 10⁻⁶ mm²/s) with its context.
pub fn load_image(path: &Path) -> Result<(Volume, FeatureContext), QuantError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if path.is_file() && (name.ends_with(".nii") || name.ends_with(".nii.gz")) {
        let mut v = nifti_io::read_placed_volume(path)?;
        let stem = name
            .trim_end_matches(".gz")
            .trim_end_matches(".nii")
            .to_string();
        let own = read_sidecar(&path.with_file_name(format!("{stem}.json")));
        // The image by its name's ending, as ancilla names its files (`_suvbw`, `_adc`, `_t2`) in
        // either case (dcm2niix's `_ADC`), or an ADC by its BIDS sidecar's ImageType.
        let lower = stem.to_ascii_lowercase();
        let sidecar_adc = own
            .as_ref()
            .and_then(|j| j["ImageType"].as_array())
            .is_some_and(|t| {
                t.iter()
                    .any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case("ADC")))
            });
        let mut image = if lower.ends_with("_suvbw") {
            "suvbw"
        } else if lower.ends_with("_adc") || sidecar_adc {
            "adc"
        } else if lower.ends_with("_t2") {
            "t2"
        } else {
            "image"
        }
        .to_string();
        // A PET by its BIDS sidecar (dcm2niix's or ancilla's): in Bq/mL unless it is SUV.
        let pet_units = own.as_ref().and_then(sidecar_pet_units);
        if image == "image"
            && pet_units
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case("Bq/mL"))
        {
            image = "bqml".into();
        }
        // The tracer by the sidecar's TracerName (the SUV file's, or its series' beside it), as
        // the DICOM header gives it: the same PET scored against one organ either way.
        let series_own = stem
            .strip_suffix("_suvbw")
            .and_then(|s| read_sidecar(&path.with_file_name(format!("{s}.json"))));
        // Without a sidecar that says, the image's kind says: an ADC map (`ancilla adc`'s, which
        // writes none) or a T2 is MR, an SUV image PET (an ADC map's rows had no modality, and
        // `link` named their columns `_adc_…` beside the pipeline's `mr_adc_…`).
        let modality = match (
            &pet_units,
            own.as_ref().and_then(|j| j["Modality"].as_str()),
        ) {
            (Some(_), _) => "pt".to_string(),
            (None, Some(m)) if matches!(m, "MR" | "PT") => m.to_ascii_lowercase(),
            _ => match image.as_str() {
                "adc" | "t2" => "mr",
                "suvbw" | "bqml" => "pt",
                _ => "",
            }
            .to_string(),
        };
        let tracer = [own, series_own]
            .iter()
            .flatten()
            .find_map(|j| j["TracerName"].as_str().map(str::to_string))
            .unwrap_or_default();
        if image == "adc" {
            adc_in_micro_units(&mut v);
        }
        // Named SUV, but holding activity: a Bq/mL file renamed, or a sidecar lost (it was
        // measured as SUV, SUVmax 13,568). No tissue's SUV comes near 1,000.
        let largest = || {
            v.data
                .iter()
                .filter(|x| x.is_finite())
                .fold(0f32, |m, x| m.max(*x))
        };
        if image == "suvbw" && largest() > 1000.0 {
            crate::say!(
                "features: warning: {} is named SUV but holds values up to {}: no tissue's SUV \
                 comes near 1,000 (activity in Bq/mL under an SUV name?); measured as named",
                path.display(),
                crate::digits::g6(f64::from(largest()))
            );
        }
        return Ok((
            v,
            FeatureContext {
                image,
                modality,
                psma_1007: suv::names_psma_1007(&tracer),
                ..FeatureContext::default()
            },
        ));
    }
    let inv = crate::ingest::scan_paths_for_suv(&[path.to_path_buf()])
        .map_err(assemble::AssembleError::from)?;
    let series: Vec<_> = inv.series.iter().filter(|s| s.is_image()).collect();
    let [s] = series.as_slice() else {
        return Err(QuantError::Image(assemble::AssembleError::not_one_series(
            path,
            &inv,
            series.len(),
        )));
    };
    let mut vols = assemble::load_series(s)?;
    let sv = vols.remove(0);
    let deidentified = s.files.iter().all(|f| f.deidentified);
    let mut volume = sv.volume;
    if s.kind == SeriesKind::Pet {
        suv::suv_for_series(s)?.scale(&mut volume);
    }
    if s.kind == SeriesKind::Adc {
        adc_in_micro_units(&mut volume);
    }
    Ok((
        volume,
        FeatureContext {
            // Identifiers only from de-identified input: they are PHI otherwise.
            subject_id: if deidentified {
                s.patient_id.clone()
            } else {
                String::new()
            },
            series_uid: if deidentified {
                s.series_uid.clone()
            } else {
                String::new()
            },
            modality: s.modality.to_ascii_lowercase(),
            image: image_name(s.kind, &sv.label),
            frame_of_reference: s
                .files
                .first()
                .map(|f| f.frame_of_reference.to_string())
                .unwrap_or_default(),
            source_series_uid: s.series_uid.clone(),
            psma_1007: suv::series_psma_1007(s),
        },
    ))
}

/// Each region's shape measures (in region order) when known before the image's families run.
pub type RegionShapes = Vec<Option<morphology::MaskShape>>;

/// An image (`load`, with whatever it returns beside it) and the regions of the NIfTI label map
/// `mask` on its grid, read side by side on two cores: the label map's regions are found, and
/// their shapes measured, while the image loads. The shapes come back only when the label map
/// shares the image's grid (they were measured on the label map's).
pub fn load_with_nifti_rois<T: Send>(
    load: impl FnOnce() -> Result<(Volume, T), QuantError> + Send,
    mask: &Path,
    table: Option<&std::collections::BTreeMap<u32, String>>,
) -> Result<(Volume, T, Rois, Option<RegionShapes>), QuantError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let image_loaded = AtomicBool::new(false);
    let (image, pending) = rayon::join(
        || {
            let image = load();
            image_loaded.store(true, Ordering::Release);
            image
        },
        || {
            let pending = roi::PendingRois::read(mask, table)?;
            let shapes = region_shapes_until(pending.regions(), pending.geometry(), &|| {
                image_loaded.load(Ordering::Acquire)
            });
            Ok::<_, roi::RoiError>((pending, shapes))
        },
    );
    let (pending, shapes) = pending?;
    let (image, extra) = image?;
    let (rois, same_grid) = pending.on_image(&image, table)?;
    Ok((image, extra, rois, same_grid.then_some(shapes)))
}

/// The ADC fitted from the b-value volumes of a DWI series, prepared as convert writes them
/// (`convert::dwi_volumes_as_converted`): the volumes of one b-value (one per gradient direction)
/// are made one trace-weighted image, their geometric mean (`adc::trace_weighted`). Volumes
/// without a b-value are left out and counted (`AdcFit::without_b_value`).
pub fn adc_from_dwi(volumes: &[assemble::SeriesVolume]) -> Result<adc::AdcFit, QuantError> {
    let mut by_b: Vec<(f64, Vec<&Volume>)> = Vec::new();
    let mut without_b_value = 0;
    for v in volumes {
        let Some(b) = v.b_value else {
            without_b_value += 1;
            continue;
        };
        if !(b.is_finite() && (0.0..=adc::MAX_B).contains(&b)) {
            return Err(adc::AdcError::BValue(b).into());
        }
        match by_b.iter_mut().find(|(x, _)| (*x - b).abs() < 1e-6) {
            Some((_, same)) => same.push(&v.volume),
            None => by_b.push((b, vec![&v.volume])),
        }
    }
    if by_b.is_empty() {
        return Err(QuantError::NoDiffusion);
    }
    let traces = by_b
        .iter()
        .map(|(b, same)| Ok((*b, adc::trace_weighted(same)?)))
        .collect::<Result<Vec<_>, adc::AdcError>>()?;
    let pairs: Vec<(f64, &Volume)> = traces.iter().map(|(b, v)| (*b, v)).collect();
    let mut fit = adc::fit_adc(&pairs)?;
    fit.without_b_value = without_b_value;
    Ok(fit)
}

/// What an ADC fit left out, said to the user: the volumes without a b-value.
pub fn adc_fit_note(fit: &adc::AdcFit) -> Option<String> {
    (fit.without_b_value > 0).then(|| {
        format!(
            "{} of the DWI series {} no b-value (DiffusionBValue or its maker's own attribute): \
             left out of the ADC fit, which used b = {}",
            crate::plural::count(fit.without_b_value, "volume"),
            if fit.without_b_value == 1 {
                "has"
            } else {
                "have"
            },
            fit.b_values
                .iter()
                .map(|b| crate::digits::g6(*b))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// `ancilla adc DWI_SERIES --out FILE.nii.gz`: fit, write the map, summarise as JSON. The folder
/// holds one series; its parts (a Siemens DWI's directional images and, DERIVED, their TRACEW,
/// stacked apart) are fitted together: a trace image is its directions' geometric mean already.
pub fn adc_command(series: &Path, out: &Path) -> Result<serde_json::Value, QuantError> {
    // The map is not written into the series folder read (the next scan of it would find it).
    if crate::folders::lies_within(out, series) {
        return Err(QuantError::Usage(crate::folders::inside_input_message(
            out, series,
        )));
    }
    let inv = crate::ingest::scan_paths(&[series.to_path_buf()])
        .map_err(assemble::AssembleError::from)?;
    let images: Vec<&crate::ingest::Series> = inv.series.iter().filter(|s| s.is_image()).collect();
    let one_series = images
        .first()
        .is_some_and(|f| images.iter().all(|s| s.series_uid == f.series_uid));
    if !one_series {
        return Err(QuantError::Image(assemble::AssembleError::not_one_series(
            series,
            &inv,
            images.len(),
        )));
    }
    let mut vols = Vec::new();
    for s in images {
        let mut part = assemble::load_series(s)?;
        crate::convert::dwi_volumes_as_converted(s, &mut part);
        vols.append(&mut part);
    }
    let fit = adc_from_dwi(&vols)?;
    if let Some(note) = adc_fit_note(&fit) {
        crate::say!("adc: {note}");
    }
    let meta = nifti_io::NiftiMeta {
        description: "ancilla ADC fit, 1e-6 mm2/s".into(),
        ..nifti_io::NiftiMeta::default()
    };
    nifti_io::write_volume(&fit.adc, out, &meta)?;
    Ok(serde_json::json!({
        "b_values": fit.b_values,
        "unit": "1e-6 mm2/s",
        "model": "mono-exponential, least squares of ln S on b per voxel; the volumes of one b-value \
                  (its gradient directions) taken as their geometric mean, the trace-weighted image",
        "voxels": fit.adc.data.len(),
        "voxels_not_fitted": fit.not_fitted,
        "volumes_without_b_value": fit.without_b_value,
    }))
}

/// `ancilla suv SERIES_DIR`: the SUV factor and its inputs as JSON.
pub fn suv_json(series_dir: &Path) -> Result<serde_json::Value, QuantError> {
    let r = suv::suv_for_dir(series_dir)?;
    Ok(serde_json::to_value(r).unwrap_or(serde_json::Value::Null))
}

/// `ancilla features`: the long table to `--out` (and the dictionary next to it) or stdout.
pub fn features(opts: &FeaturesOptions) -> Result<(), QuantError> {
    // A malformed label table is a usage error: say so before any heavy work.
    let given = opts.labels.as_deref().map(roi::parse_labels).transpose()?;
    if let Some(w) = opts
        .texture_bin_width
        .filter(|w| !w.is_finite() || *w <= 0.0)
    {
        return Err(QuantError::Usage(format!(
            "--texture-bin-width must be a positive width in image units, found {w}"
        )));
    }
    if let Some(m) = opts.texture_min.filter(|m| !m.is_finite()) {
        return Err(QuantError::Usage(format!(
            "--texture-min must be a number in image units, found {m}"
        )));
    }
    if opts.texture_min.is_some() && opts.texture_bin_width.is_none() {
        return Err(QuantError::Usage(
            "--texture-min sets where the texture bins start: it needs --texture-bin-width".into(),
        ));
    }
    if let Some(t) = opts
        .suv_thresholds
        .iter()
        .find(|t| !t.is_finite() || **t <= 0.0)
    {
        return Err(QuantError::Usage(format!(
            "--mtv-suv thresholds must be positive SUVs, found {t}"
        )));
    }
    // Inputs that are not there are a bad command line, said before any heavy work.
    for (what, path) in [("image", &opts.image), ("mask", &opts.mask)] {
        if !path.exists() {
            return Err(QuantError::Usage(format!(
                "{what} {} does not exist",
                path.display()
            )));
        }
    }
    // The table and its dictionary never land on the image or the mask read (`--out` given the
    // mask's path overwrote it), nor inside a DICOM series folder read.
    if let Some(out) = &opts.out {
        let written = [out.clone(), out.with_extension("dictionary.csv")];
        let written: Vec<&Path> = written.iter().map(PathBuf::as_path).collect();
        let inputs = [
            ("the image (--image)", opts.image.as_path()),
            ("the mask (--mask)", opts.mask.as_path()),
        ];
        if let Some(why) = crate::folders::overwritten_input(&written, &inputs) {
            return Err(QuantError::Usage(why));
        }
        for input in [&opts.image, &opts.mask].into_iter().filter(|p| p.is_dir()) {
            if written
                .iter()
                .any(|w| crate::folders::lies_within(w, input))
            {
                return Err(QuantError::Usage(crate::folders::inside_input_message(
                    out, input,
                )));
            }
        }
    }
    let mask_name = opts.mask.to_string_lossy();
    let nifti_mask =
        opts.mask.is_file() && (mask_name.ends_with(".nii") || mask_name.ends_with(".nii.gz"));
    let (image, ctx, rois, shapes) = if nifti_mask {
        load_with_nifti_rois(|| load_image(&opts.image), &opts.mask, given.as_ref())?
    } else {
        let (image, ctx) = load_image(&opts.image)?;
        let rois = roi::load_rois(&image, ctx.dicom(), &opts.mask)?;
        if rois.frame_from_series {
            crate::say!(
                "features: the {}'s FrameOfReferenceUID is not the image's, but it names the \
                 image's series as the one it was drawn on: taken as drawn on it",
                rois.source
            );
        }
        let rois = match &given {
            // Read with the object's own names, then named by --labels.
            Some(table) => {
                let (rois, misnumbered) = rois.numbered_by(table);
                for (number, own, name) in misnumbered {
                    crate::say!(
                        "features: {} {number} of the {} is labelled {own}, but --labels names \
                         {number} {name}: measured as {name}; check the numbering",
                        rois.region_word(),
                        rois.source
                    );
                }
                rois
            }
            None => rois,
        };
        (image, ctx, rois, None)
    };
    if ctx.modality == "pt" && ctx.image != "suvbw" {
        crate::say!(
            "features: the image is a PET in {} (its JSON sidecar), not SUV: no MTV, TL-PSMA or \
             ratio to the liver; for SUV give its DICOM series folder, or the _suvbw.nii.gz \
             that `ancilla convert` writes",
            match table::intensity_unit(&ctx.image) {
                "a.u." => "its own units",
                u => u,
            }
        );
    }
    // The PET features found by region name (the miPSMA score, the ratios, the liver-based
    // threshold): said when the regions do not name them, as `run` says it of its label table.
    if ctx.image == "suvbw" && ctx.psma_1007 && !rois.regions.iter().any(|r| r.name == "spleen") {
        crate::say!(
            "features: the PET is of 18F-PSMA-1007, whose miPSMA score takes the spleen as its \
             reference in the liver's place (PROMISE V2), and no region is named spleen: no \
             miPSMA score"
        );
    }
    if ctx.image == "suvbw" {
        for why in pet::missing_region_names(rois.regions.iter().map(|r| r.name.as_str())) {
            crate::say!(
                "features: {}",
                why.replace("in the label table", "among the regions")
            );
        }
    }
    let image_for = ctx.dicom();
    for (number, name) in rois.empty_regions(given.as_ref()) {
        crate::say!(
            "features: label {number} ({name}) marks no voxel of the image: no features for it"
        );
    }
    let empty = if given.is_none() {
        rois.empty_own_regions()
    } else {
        Vec::new()
    };
    if !empty.is_empty() {
        // Numbers only: an object's own ROI names are free text.
        let list: Vec<String> = empty.iter().map(u32::to_string).collect();
        crate::say!(
            "features: the {}'s {}(s) {} mark no voxel of the image: no features for them",
            rois.source,
            rois.region_word(),
            crate::plural::listed(&list)
        );
    }
    for (number, why) in &rois.unusable {
        crate::say!(
            "features: the {}'s {} {number} is not used: {why}",
            rois.source,
            rois.region_word()
        );
    }
    for (number, what) in &rois.partial {
        crate::say!(
            "features: the {}'s {} {number} is measured without part of it: {what}",
            rois.source,
            rois.region_word()
        );
    }
    if !rois.unnamed.is_empty() {
        let list: Vec<String> = rois.unnamed.iter().map(u32::to_string).collect();
        crate::say!(
            "features: the {}'s {} {} not in --labels: not measured",
            rois.source,
            if list.len() == 1 { "label" } else { "labels" },
            if list.len() == 1 {
                format!("{} is", list[0])
            } else {
                format!("{} are", crate::plural::listed(&list))
            }
        );
    }
    // Nothing to measure, and no label table to name what is missing: said, not an empty table
    // without a word (a radiomics audit).
    if !rois.regions.iter().any(roi::Region::has_voxels) && given.is_none() {
        crate::say!(
            "features: the {} marks no voxel of the image (every label 0): no region measured",
            rois.source
        );
    }
    if !rois.exact {
        crate::say!(
            "features: {} resampled onto the image grid (nearest neighbour)",
            rois.source
        );
    }
    if rois.outside > 0 {
        crate::say!(
            "features: {} image voxels fall outside the mask's field of view (taken as background)",
            rois.outside
        );
    }
    if image_for.is_none() && rois.source != "NIfTI label map" {
        crate::say!(
            "features: the image is NIfTI (no frame of reference): the {}'s patient coordinates are taken as the image's",
            rois.source
        );
    }
    let settings = FeatureSettings {
        suv_thresholds: if opts.suv_thresholds.is_empty() {
            vec![3.0]
        } else {
            opts.suv_thresholds.clone()
        },
        texture_bin_width: opts.texture_bin_width.map(bin_width::BinWidth::Every),
        texture_min: opts.texture_min.map(bin_width::BinWidth::Every),
    };
    let mut ctx = ctx;
    if let Some(subject) = &opts.subject {
        ctx.subject_id = subject.clone();
    }
    // A table without its subject joins nothing in `link`: said (a DICOM series not
    // de-identified keeps its PatientID out, as a NIfTI file has none).
    if ctx.subject_id.is_empty() {
        crate::say!(
            "features: the table's subject_id is empty: {} names no subject ancilla may write \
             (a DICOM series not de-identified, or a NIfTI file); give --subject USUBJID for \
             `link` to join it",
            opts.image.display()
        );
    }
    let (rows, notes) = features_for_volume_with(&image, &rois, shapes.as_deref(), &ctx, &settings);
    for note in notes {
        crate::say!("features: {note}");
    }
    if let Some(w) = opts.texture_bin_width {
        // A region without the grey-level families: its levels were more than the limit.
        let mut regions: Vec<&str> = rows.iter().map(|r| r.roi.as_str()).collect();
        regions.dedup();
        for roi in regions {
            let has = |prefix: &str| {
                rows.iter()
                    .any(|r| r.roi == roi && r.feature.starts_with(prefix))
            };
            if !has("ih_") {
                // No intensity at all: every voxel of the region without a number (NaN).
                let max = rows
                    .iter()
                    .find(|r| r.roi == roi && r.feature == "stat_max")
                    .map(|r| r.value);
                if !has("stat_") {
                    // Every voxel without a number: said with the region's notes.
                } else if let Some(m) = opts.texture_min.filter(|m| max.is_some_and(|x| x < *m)) {
                    crate::say!(
                        "features: {roi}: every voxel of the region lies below --texture-min {m}: \
                         no texture"
                    );
                } else {
                    crate::say!(
                        "features: {roi}: a bin width of {w} gives more than {} grey levels: no \
                         texture",
                        grey_levels::MAX_LEVELS
                    );
                }
            }
        }
    }
    // `--out x.parquet` (or .pq): the long table as Parquet, else as CSV.
    let parquet = opts.out.as_ref().is_some_and(|p| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"))
    });
    let bytes = table::to_csv(&rows);
    match &opts.out {
        Some(p) => {
            if parquet {
                table::write_parquet(p, &rows).map_err(|e| QuantError::Write {
                    path: p.clone(),
                    source: std::io::Error::other(e.reason),
                })?;
            } else {
                // One image's table, written as convert writes one series' files: atomically,
                // with no fsync of its own (the pipeline's cohort table keeps its fsync).
                crate::atomic::write_bytes_unsynced(p, &bytes).map_err(|source| {
                    QuantError::Write {
                        path: p.clone(),
                        source,
                    }
                })?;
            }
            // Named after the table (t2.csv: t2.dictionary.csv), as link's codebook is: two
            // tables in one folder each have theirs.
            let dictionary = p.with_extension("dictionary.csv");
            table::write_dictionary_to(&dictionary).map_err(|source| QuantError::Write {
                path: dictionary.clone(),
                source,
            })?;
        }
        None => crate::console::Out::new()
            .text(&String::from_utf8_lossy(&bytes))
            .map_err(|source| QuantError::Write {
                path: PathBuf::from("standard output"),
                source,
            })?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Geometry;
    use ndarray::Array3;

    /// Regression: one -inf voxel inside a region made every finite voxel's grey level overflow
    /// (a panic in a debug build; in release every voxel fell to level 0, outside, and the texture
    /// was computed on nothing), and a NaN one was binned as level 1. Voxels that hold no number
    /// are left out of the intensity mask; the shape keeps them.
    #[test]
    fn voxels_that_hold_no_number_are_left_out_of_intensity_and_texture() {
        let dims = (6, 7, 8);
        let labels = Array3::from_shape_fn(dims, |(k, j, i)| {
            u32::from((1..5).contains(&k) && (1..6).contains(&j) && (1..7).contains(&i))
        });
        let rois = Rois::from_label_map(
            &roi::LabelMap {
                labels: labels.clone(),
                exact: true,
                outside: 0,
            },
            None,
        )
        .unwrap();
        let clean = Array3::from_shape_fn(dims, |(k, j, i)| (k * 7 + j * 3 + i) as f32);
        let mut data = clean.clone();
        data[[2, 3, 4]] = f32::NEG_INFINITY;
        data[[3, 2, 2]] = f32::NAN;
        data[[1, 1, 1]] = f32::INFINITY;
        // Outside the region, 2 mm from its hottest voxel (4, 5, 6): inside that voxel's peak
        // sphere, whose sum it spoiled.
        data[[5, 5, 6]] = f32::NAN;
        let image = Volume {
            data,
            geometry: Geometry::axial([0.0, 0.0, 0.0], [2.0, 2.0, 2.0]),
        };
        let ctx = FeatureContext {
            image: "t2".into(),
            ..FeatureContext::default()
        };
        let settings = FeatureSettings {
            suv_thresholds: vec![],
            texture_bin_width: Some(bin_width::BinWidth::Every(4.0)),
            texture_min: None,
        };
        let (rows, notes) = features_for_volume(&image, &rois, &ctx, &settings);
        // Said (it was not): the three voxels without a number.
        assert_eq!(
            notes,
            [
                "label 1 of the NIfTI label map: 3 of its 120 voxels hold no number (NaN or \
              infinite): left out of its intensity and texture features, counted in its shape"
            ]
        );
        let get = |f: &str| rows.iter().find(|r| r.feature == f).map(|r| r.value);
        // By hand: the region's finite voxels.
        let finite: Vec<f64> = clean
            .indexed_iter()
            .filter(|((k, j, i), _)| {
                labels[[*k, *j, *i]] == 1
                    && ![[2, 3, 4], [3, 2, 2], [1, 1, 1]].contains(&[*k, *j, *i])
            })
            .map(|(_, v)| f64::from(*v))
            .collect();
        assert_eq!(finite.len(), 4 * 5 * 6 - 3);
        let mean = finite.iter().sum::<f64>() / finite.len() as f64;
        assert!((get("stat_mean").unwrap() - mean).abs() < 1e-9 * mean);
        assert_eq!(
            get("stat_min"),
            Some(finite.iter().cloned().fold(f64::INFINITY, f64::min))
        );
        assert_eq!(
            get("stat_max"),
            Some(finite.iter().cloned().fold(0.0, f64::max))
        );
        // The shape is the label map's: 120 voxels of 8 mm³.
        assert_eq!(get("morph_vol_approx"), Some(120.0 * 8.0));
        // Texture over the finite voxels: the histogram's grey levels are those of the finite
        // values, (x − min) / 4 + 1, so its mean level is the values' mean level.
        let min = finite.iter().cloned().fold(f64::INFINITY, f64::min);
        let levels: Vec<f64> = finite
            .iter()
            .map(|v| ((v - min) / 4.0).floor() + 1.0)
            .collect();
        let mean_level = levels.iter().sum::<f64>() / levels.len() as f64;
        let ih_mean = get("ih_mean").expect("histogram features");
        assert!(
            (ih_mean - mean_level).abs() < 1e-9,
            "{ih_mean} {mean_level}"
        );
        assert!(rows.iter().filter(|r| r.feature.starts_with("cm_")).count() > 10);
        // The integrated intensity is the volume times the mean of the voxels with a number.
        let (volume, integ) = (
            get("morph_volume").unwrap(),
            get("morph_integ_int").unwrap(),
        );
        assert!(
            (integ - volume * mean).abs() < 1e-9 * integ,
            "{integ} {volume} {mean}"
        );
        // The local peak: the mean of the voxels with a number within the 1 ml sphere (radius
        // 6.2 mm) around the hottest voxel, by brute force.
        let r = (3.0 / (4.0 * std::f64::consts::PI)).cbrt() * 10.0;
        let near: Vec<f64> = image
            .data
            .indexed_iter()
            .filter(|((k, j, i), v)| {
                let d = [*k as f64 - 4.0, *j as f64 - 5.0, *i as f64 - 6.0];
                v.is_finite() && 2.0 * (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt() <= r
            })
            .map(|(_, v)| f64::from(*v))
            .collect();
        let peak = near.iter().sum::<f64>() / near.len() as f64;
        let local = get("loc_peak_loc").expect("a local peak");
        assert!((local - peak).abs() < 1e-9, "{local} {peak}");
        assert!(get("loc_peak_glob").is_some_and(f64::is_finite));
    }

    /// Shapes measured on the label map's grid before the image is there (over each region's
    /// bounding box) give the very rows, to the last bit, that the regions give when measured in
    /// their image crops; with and without a stop after the first region.
    #[test]
    fn shapes_measured_early_give_the_same_rows() {
        // Two blobs (one large enough to be meshed in two halves) on a 3 × 2 × 2.5 mm grid, an
        // intensity ramp, PET so that every family runs.
        let dims = (40, 48, 44);
        let labels = Array3::from_shape_fn(dims, |(k, j, i)| {
            let d = |c: [f64; 3], r: f64| {
                let p = [k as f64 * 2.5, j as f64 * 2.0, i as f64 * 3.0];
                (0..3).map(|a| (p[a] - c[a]).powi(2)).sum::<f64>() < r * r
            };
            if d([50.0, 48.0, 60.0], 30.0) {
                1u32
            } else if d([20.0, 20.0, 110.0], 9.0) {
                2
            } else {
                0
            }
        });
        let image = Volume {
            data: Array3::from_shape_fn(dims, |(k, j, i)| 1.0 + (k + 2 * j + 3 * i) as f32 / 40.0),
            geometry: Geometry::axial([-20.0, 10.0, 5.0], [3.0, 2.0, 2.5]),
        };
        let rois = Rois::from_label_map(
            &roi::LabelMap {
                labels,
                exact: true,
                outside: 0,
            },
            None,
        )
        .unwrap();
        let ctx = FeatureContext {
            image: "suvbw".into(),
            ..FeatureContext::default()
        };
        let settings = FeatureSettings::default();
        let (plain, _) = features_for_volume(&image, &rois, &ctx, &settings);
        assert!(plain.len() > 100);
        // The same shapes measured over a crop with a margin (other dimensions, other offsets)
        // and over the whole grid.
        for region in &rois.regions {
            let (sub, mask) = crop(&image, region, [3, 4, 5]).unwrap();
            let in_crop = features::region_features(&sub, &|k, j, i| mask[[k, j, i]]);
            let in_grid = features::region_features(&image, &|k, j, i| region.contains([k, j, i]));
            for f in in_crop.iter().chain(&in_grid) {
                if !f.name.starts_with("morph_") && f.name != "diam_axial_max" {
                    continue;
                }
                let row = plain
                    .iter()
                    .find(|r| r.roi == region.name && r.feature == f.name)
                    .unwrap();
                // Moments are sums over voxel positions: exact to rounding, not to the bit.
                let moments = ["pca", "com", "dens_aee"]
                    .iter()
                    .any(|m| f.name.contains(m));
                if moments {
                    assert!((row.value - f.value).abs() <= 1e-9 * row.value.abs().max(1.0));
                } else {
                    assert_eq!(row.value.to_bits(), f.value.to_bits(), "{}", f.name);
                }
            }
        }
        // Within a budget that leaves the large blob (about 7,500 voxels in a box of 14,400:
        // 0.8 MB as the plan reckons) unmeasured and measures the small one (about 200 voxels:
        // 23 kB), only the small one is meshed.
        let shapes = region_shapes_within(&rois, &image.geometry, 100_000, &|| false);
        let meshed: Vec<bool> = shapes.iter().map(Option::is_some).collect();
        assert_eq!(meshed, [false, true]);
        for stop_after in [0usize, 1, 2] {
            let calls = std::sync::atomic::AtomicUsize::new(0);
            let shapes = region_shapes_until(&rois, &image.geometry, &|| {
                calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= stop_after
            });
            assert_eq!(shapes.iter().filter(|s| s.is_some()).count(), stop_after);
            let (early, _) =
                features_for_volume_with(&image, &rois, Some(&shapes), &ctx, &settings);
            assert_eq!(plain.len(), early.len());
            for (a, b) in plain.iter().zip(&early) {
                assert_eq!(
                    (&a.roi, &a.feature, a.value.to_bits()),
                    (&b.roi, &b.feature, b.value.to_bits()),
                    "stop after {stop_after}"
                );
            }
        }
    }
}
