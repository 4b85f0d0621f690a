//! Stage bodies of the pipeline that combine several modules (features over a cohort).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use crate::ingest::SeriesKind;
use crate::quant::{self, FeatureContext};
use crate::roi;
use crate::volume::assemble;

/// Features of every subject's PET (SUVbw, PET mask), T2 and ADC (MR mask) of a de-identified
/// tree into `out` (long CSV + dictionary). Returns the row count and the problems met.
pub fn features(
    input: &Path,
    masks: &Path,
    labels: &BTreeMap<u32, String>,
    out: &Path,
) -> Result<(usize, Vec<Value>), String> {
    let inv = crate::ingest::scan_paths(&[input.to_path_buf()]).map_err(|e| e.to_string())?;
    use rayon::prelude::*;
    let per_series: Vec<Result<Vec<quant::FeatureRow>, Value>> = inv
        .series
        .par_iter()
        .filter(|s| s.is_image() && s.plan.is_ok())
        .filter_map(|s| {
            let mask_name = match s.kind {
                SeriesKind::Pet => "pet_labels.nii.gz",
                SeriesKind::T2 | SeriesKind::Adc => "mr_labels.nii.gz",
                _ => return None,
            };
            // De-identified input: PatientID is the USUBJID and UIDs are pseudonyms.
            if !s.files.iter().all(|f| f.deidentified) {
                return Some(Err(json!({"stage": "features", "reason": "series is not de-identified (not analysed)"})));
            }
            let usubjid = &s.patient_id;
            let r = (|| -> Result<Vec<quant::FeatureRow>, String> {
                let mut vols = assemble::load_series(s).map_err(|e| e.to_string())?;
                let sv = vols.remove(0);
                let mut image = sv.volume;
                if s.kind == SeriesKind::Pet {
                    let files: Vec<_> = s.files.iter().map(|f| f.path.clone()).collect();
                    let f = quant::suv::suv_for_files(&files).map_err(|e| e.to_string())?;
                    image.data.mapv_inplace(|x| (x as f64 * f.suvbw_factor) as f32);
                }
                let lm = roi::label_map_for(&image, &masks.join(usubjid).join(mask_name)).map_err(|e| e.to_string())?;
                let ctx = FeatureContext {
                    subject_id: usubjid.clone(),
                    modality: s.modality.to_ascii_lowercase(),
                    series_uid: s.series_uid.clone(),
                    image: quant::image_name(s.kind, &sv.label),
                };
                Ok(quant::features_for_volume(&image, &lm, labels, &ctx))
            })();
            Some(r.map_err(|why| {
                json!({"stage": "features", "subject": usubjid, "series_kind": s.kind.as_str(), "reason": why.replace(&input.display().to_string(), "<input>")})
            }))
        })
        .collect();
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for r in per_series {
        match r {
            Ok(mut r) => rows.append(&mut r),
            Err(p) => problems.push(p),
        }
    }
    let n = rows.len();
    crate::atomic::write_bytes(out, &quant::table::to_csv(&rows)).map_err(|e| e.to_string())?;
    if let Some(dir) = out.parent() {
        quant::table::write_dictionary(dir).map_err(|e| e.to_string())?;
    }
    Ok((n, problems))
}
