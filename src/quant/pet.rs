//! PSMA PET volume metrics (../shared/reference/suv.md "Lesion metrics"): metabolic tumour volume
//! at a fixed SUV threshold (3) and at 41% / 50% of the region's SUVmax, and total lesion PSMA
//! (volume × SUVmean inside it). The threshold is part of each feature's name.

use super::features::{Feature, UnitKind};
use crate::volume::Volume;

/// MTV and TL-PSMA of one region of an SUVbw image.
pub fn volume_metrics(
    image: &Volume,
    in_roi: &dyn Fn(usize, usize, usize) -> bool,
) -> Vec<Feature> {
    let values: Vec<f64> = image
        .data
        .indexed_iter()
        .filter(|((k, j, i), _)| in_roi(*k, *j, *i))
        .map(|(_, v)| *v as f64)
        .collect();
    let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let voxel_ml = image.geometry.voxel_volume_mm3() / 1000.0;
    let mut out = Vec::new();
    for (mtv_name, tl_name, threshold) in [
        ("mtv_suv3", "tl_psma_suv3", 3.0),
        ("mtv_41pct", "tl_psma_41pct", 0.41 * max),
        ("mtv_50pct", "tl_psma_50pct", 0.50 * max),
    ] {
        let above: Vec<f64> = values.iter().copied().filter(|v| *v >= threshold).collect();
        let mtv = above.len() as f64 * voxel_ml;
        let mean = if above.is_empty() {
            0.0
        } else {
            above.iter().sum::<f64>() / above.len() as f64
        };
        out.push(Feature {
            name: mtv_name,
            value: mtv,
            unit_kind: UnitKind::Millilitre,
        });
        out.push(Feature {
            name: tl_name,
            value: mtv * mean,
            unit_kind: UnitKind::MillilitreIntensity,
        });
    }
    out
}
