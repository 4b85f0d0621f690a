//! Quantification: SUV after the QIBA vendor-neutral pseudo-code (`suv`), IBSI chapter 1
//! first-order and local-intensity features (`features`), PSMA volume metrics (`pet`), and the
//! long feature table with its dictionary (`table`).

pub mod features;
pub mod morphology;
pub mod pet;
pub mod suv;
pub mod table;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::ingest::SeriesKind;
use crate::roi::{self, LabelMap};
use crate::volume::{assemble, nifti_io, Volume};
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
            _ => 1,
        }
    }
}

/// `ancilla features` inputs.
#[derive(Debug, Clone)]
pub struct FeaturesOptions {
    pub image: PathBuf,
    pub mask: PathBuf,
    pub labels: Option<String>,
    pub out: Option<PathBuf>,
}

/// Names attached to every row of one image.
#[derive(Debug, Clone, Default)]
pub struct FeatureContext {
    pub subject_id: String,
    pub modality: String,
    pub series_uid: String,
    /// `suvbw`, `t2`, `adc`, `dwi_b800`, ...
    pub image: String,
}

/// Features of every labelled region of `image` (labels already on its grid).
pub fn features_for_volume(
    image: &Volume,
    labels: &LabelMap,
    table: &BTreeMap<u32, String>,
    ctx: &FeatureContext,
) -> Vec<FeatureRow> {
    let mut rows: Vec<FeatureRow> = Vec::new();
    for (&label, roi_name) in table {
        let in_roi = |k: usize, j: usize, i: usize| labels.labels[[k, j, i]] == label;
        let mut feats = features::region_features(image, &in_roi);
        if ctx.image == "suvbw" && !feats.is_empty() {
            feats.extend(pet::volume_metrics(image, &in_roi));
        }
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
        let extra = pet::cross_region_metrics(&get);
        for f in extra {
            rows.push(FeatureRow {
                subject_id: ctx.subject_id.clone(),
                modality: ctx.modality.clone(),
                series_uid: ctx.series_uid.clone(),
                image: ctx.image.clone(),
                roi: "tumor".into(),
                feature: f.name.to_string(),
                value: f.value,
                unit: table::unit(f.unit_kind, &ctx.image),
            });
        }
    }
    rows
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

/// Load an image (NIfTI file, or a DICOM series folder; PET in SUVbw) with its context.
pub fn load_image(path: &Path) -> Result<(Volume, FeatureContext), QuantError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if path.is_file() && (name.ends_with(".nii") || name.ends_with(".nii.gz")) {
        let v = nifti_io::read_volume(path)?;
        let stem = name
            .trim_end_matches(".gz")
            .trim_end_matches(".nii")
            .to_string();
        let image = if stem.ends_with("_suvbw") {
            "suvbw".to_string()
        } else {
            "image".to_string()
        };
        return Ok((
            v,
            FeatureContext {
                image,
                ..FeatureContext::default()
            },
        ));
    }
    let inv =
        crate::ingest::scan_paths(&[path.to_path_buf()]).map_err(assemble::AssembleError::from)?;
    let series: Vec<_> = inv.series.iter().filter(|s| s.is_image()).collect();
    let [s] = series.as_slice() else {
        return Err(QuantError::Image(assemble::AssembleError::NotOneSeries {
            dir: path.display().to_string(),
            found: series.len(),
        }));
    };
    let mut vols = assemble::load_series(s)?;
    let sv = vols.remove(0);
    let deidentified = s.files.iter().all(|f| f.deidentified);
    let mut volume = sv.volume;
    if s.kind == SeriesKind::Pet {
        let files: Vec<PathBuf> = s.files.iter().map(|f| f.path.clone()).collect();
        let r = suv::suv_for_files(&files)?;
        volume
            .data
            .mapv_inplace(|x| (x as f64 * r.suvbw_factor) as f32);
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
        },
    ))
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
    let (image, ctx) = load_image(&opts.image)?;
    let labels = roi::label_map_for(&image, &opts.mask)?;
    let table = match given {
        Some(t) => t,
        None => {
            let mut present: Vec<u32> = labels.labels.iter().copied().filter(|l| *l > 0).collect();
            present.sort_unstable();
            present.dedup();
            present
                .into_iter()
                .map(|l| (l, format!("label{l}")))
                .collect()
        }
    };
    if !labels.exact {
        eprintln!("features: mask resampled onto the image grid (nearest neighbour)");
    }
    let rows = features_for_volume(&image, &labels, &table, &ctx);
    let bytes = table::to_csv(&rows);
    match &opts.out {
        Some(p) => {
            crate::atomic::write_bytes(p, &bytes).map_err(|source| QuantError::Write {
                path: p.clone(),
                source,
            })?;
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            table::write_dictionary(dir).map_err(|source| QuantError::Write {
                path: dir.join("features.dictionary.csv"),
                source,
            })?;
        }
        None => print!("{}", String::from_utf8_lossy(&bytes)),
    }
    Ok(())
}
