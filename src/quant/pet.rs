//! PSMA PET volume metrics (docs/reference/suv.md "Lesion metrics"): metabolic tumour volume
//! at fixed SUV thresholds (3 by default; `mtv_suv<T>`, 2.5 written `2p5`) and at 41% / 50% of the
//! region's SUVmax, and total lesion PSMA
//! (volume × SUVmean inside it), the lesion count (26-connected components of the region at SUV ≥ 3
//! of at least 0.5 ml), and across regions the PROMISE miPSMA expression score of the tumour
//! (0: SUVmax below the blood pool's SUVmean; 1: ≥ blood pool; 2: ≥ liver; 3: ≥ parotid) and the
//! tumour-to-kidney and tumour-to-liver SUVmax / SUVmean ratios; and the liver-based MTV
//! (threshold 1.5 × liver SUVmean + 2 × liver SD, the population SD of the liver ROI) of every
//! region that is not a reference organ, with its threshold as a feature of its own. The threshold
//! is part of each feature's name.

use super::features::{roi_values, Feature, UnitKind};
use crate::volume::Volume;

/// A threshold as it appears in a feature name: 3 → "3", 2.5 → "2p5".
pub fn threshold_tag(t: f64) -> String {
    format!("{t}").replace('.', "p").replace('-', "m")
}

/// MTV and TL-PSMA of one region of an SUVbw image, at each fixed SUV threshold of
/// `suv_thresholds` and at 41% / 50% of the region's SUVmax.
pub fn volume_metrics(
    image: &Volume,
    in_roi: &impl Fn(usize, usize, usize) -> bool,
    suv_thresholds: &[f64],
) -> Vec<Feature> {
    let values = roi_values(image, in_roi);
    let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let voxel_ml = image.geometry.voxel_volume_mm3() / 1000.0;
    let mut out = Vec::new();
    let mut thresholds: Vec<(String, String, f64)> = suv_thresholds
        .iter()
        .map(|t| {
            let tag = threshold_tag(*t);
            (format!("mtv_suv{tag}"), format!("tl_psma_suv{tag}"), *t)
        })
        .collect();
    // A threshold given twice (3 and 3.0) is measured once: one row per feature name.
    let mut seen = std::collections::HashSet::new();
    thresholds.retain(|(name, _, _)| seen.insert(name.clone()));
    thresholds.push(("mtv_41pct".into(), "tl_psma_41pct".into(), 0.41 * max));
    thresholds.push(("mtv_50pct".into(), "tl_psma_50pct".into(), 0.50 * max));
    for (mtv_name, tl_name, threshold) in thresholds {
        out.extend(threshold_metrics(
            &values, threshold, voxel_ml, mtv_name, tl_name,
        ));
    }
    out.push(Feature {
        name: "lesions_suv3_min0p5ml".into(),
        value: lesion_count(image, in_roi, 3.0, 0.5) as f64,
        unit_kind: UnitKind::Dimensionless,
    });
    out
}

/// MTV (ml) and TL-PSMA (MTV × SUVmean above the threshold) of `values` at `threshold`.
fn threshold_metrics(
    values: &[f64],
    threshold: f64,
    voxel_ml: f64,
    mtv_name: impl Into<std::borrow::Cow<'static, str>>,
    tl_name: impl Into<std::borrow::Cow<'static, str>>,
) -> [Feature; 2] {
    let above: Vec<f64> = values.iter().copied().filter(|v| *v >= threshold).collect();
    let mtv = above.len() as f64 * voxel_ml;
    let mean = if above.is_empty() {
        0.0
    } else {
        above.iter().sum::<f64>() / above.len() as f64
    };
    [
        Feature {
            name: mtv_name.into(),
            value: mtv,
            unit_kind: UnitKind::Millilitre,
        },
        Feature {
            name: tl_name.into(),
            value: mtv * mean,
            unit_kind: UnitKind::MillilitreIntensity,
        },
    ]
}

/// Reference organs: no liver-based MTV of their own.
pub const REFERENCE_REGIONS: [&str; 5] = ["liver", "bloodpool", "parotid", "spleen", "kidney"];

/// The liver-based threshold (1.5 × SUVmean + 2 × SD of the liver ROI) and the region's MTV and
/// TL-PSMA at it.
pub fn liver_based_metrics(
    image: &Volume,
    in_roi: &impl Fn(usize, usize, usize) -> bool,
    liver_mean: f64,
    liver_var: f64,
) -> Vec<Feature> {
    let threshold = 1.5 * liver_mean + 2.0 * liver_var.max(0.0).sqrt();
    let values = roi_values(image, in_roi);
    let voxel_ml = image.geometry.voxel_volume_mm3() / 1000.0;
    let mut out = vec![Feature {
        name: "threshold_liver".into(),
        value: threshold,
        unit_kind: UnitKind::Intensity,
    }];
    out.extend(threshold_metrics(
        &values,
        threshold,
        voxel_ml,
        "mtv_liver",
        "tl_psma_liver",
    ));
    out
}

/// Connected components (26-connectivity) of the region's voxels with SUV ≥ `threshold`, counting
/// those of at least `min_ml`.
pub fn lesion_count(
    image: &Volume,
    in_roi: &impl Fn(usize, usize, usize) -> bool,
    threshold: f32,
    min_ml: f64,
) -> usize {
    let [nk, nj, ni] = image.dims();
    // Hot voxels marked 1 in a grid padded by one voxel on every side: a neighbour is one load at
    // a fixed offset, never out of range (the padding stays 0). Visited voxels are set back to 0.
    let pd = [nk + 2, nj + 2, ni + 2];
    let mut hot = vec![0u8; pd[0] * pd[1] * pd[2]];
    for ((k, j, i), v) in image.data.indexed_iter() {
        if *v >= threshold && in_roi(k, j, i) {
            hot[((k + 1) * pd[1] + j + 1) * pd[2] + i + 1] = 1;
        }
    }
    let mut offsets = Vec::with_capacity(26);
    for dk in -1isize..=1 {
        for dj in -1isize..=1 {
            for di in -1isize..=1 {
                if (dk, dj, di) != (0, 0, 0) {
                    offsets.push((dk * pd[1] as isize + dj) * pd[2] as isize + di);
                }
            }
        }
    }
    let voxel_ml = image.geometry.voxel_volume_mm3() / 1000.0;
    let mut count = 0;
    let mut stack = Vec::new();
    for start in 0..hot.len() {
        if hot[start] == 0 {
            continue;
        }
        hot[start] = 0;
        stack.push(start);
        let mut size = 0usize;
        while let Some(p) = stack.pop() {
            size += 1;
            for &o in &offsets {
                // Within the grid: p is an inner voxel and the padding absorbs every step.
                let q = p.wrapping_add_signed(o);
                if hot[q] == 1 {
                    hot[q] = 0;
                    stack.push(q);
                }
            }
        }
        if size as f64 * voxel_ml >= min_ml {
            count += 1;
        }
    }
    count
}

/// What a label table's names leave out of the features found by region name (the tumour's
/// cross-region metrics, the liver-based threshold), one sentence each; empty when every name is
/// there. A site's table that says `tumour` or `primary` would otherwise lose them silently.
pub fn missing_region_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let names: Vec<&str> = names.into_iter().collect();
    let has = |n: &str| names.contains(&n);
    let mut out = Vec::new();
    if !has("tumor") {
        out.push(
            "no ROI is named \"tumor\" in the label table: no miPSMA score or tumour-to-organ \
             ratios, no tumour outline in the report's QC gallery and no ROC"
                .to_string(),
        );
    } else {
        let missing: Vec<&str> = ["bloodpool", "liver", "parotid"]
            .into_iter()
            .filter(|n| !has(n))
            .collect();
        if !missing.is_empty() {
            out.push(format!(
                "no ROI named {} in the label table: no miPSMA score",
                missing.join(", ")
            ));
        }
        if !has("kidney") {
            out.push(
                "no ROI named kidney in the label table: no tumour-to-kidney ratio".to_string(),
            );
        }
    }
    if !has("liver") {
        out.push(
            "no ROI named liver in the label table: no liver-based threshold, MTV or TL-PSMA"
                .to_string(),
        );
    }
    out
}

/// Cross-region PSMA metrics of the tumour, from the per-region features of one SUVbw image
/// (`(roi, feature) → value`): the miPSMA expression score and the tumour-to-organ ratios. The
/// regions are found by their names: tumor, kidney, liver, bloodpool, parotid; the spleen in
/// the liver's place in the score for ¹⁸F-PSMA-1007 (`psma_1007`: PROMISE V2; no score without a
/// region named spleen).
pub fn cross_region_metrics(
    get: &dyn Fn(&str, &str) -> Option<f64>,
    psma_1007: bool,
) -> Vec<Feature> {
    let mut out = Vec::new();
    let Some(tumor_max) = get("tumor", "stat_max") else {
        return out;
    };
    let mean = |roi: &str| get(roi, "stat_mean");
    let second = if psma_1007 { "spleen" } else { "liver" };
    if let (Some(bp), Some(liver), Some(parotid)) =
        (mean("bloodpool"), mean(second), mean("parotid"))
    {
        let score = if tumor_max >= parotid {
            3.0
        } else if tumor_max >= liver {
            2.0
        } else if tumor_max >= bp {
            1.0
        } else {
            0.0
        };
        out.push(Feature {
            name: "mipsma_score".into(),
            value: score,
            unit_kind: UnitKind::Dimensionless,
        });
    }
    for (name, roi) in [
        ("ratio_suvmax_to_kidney_suvmean", "kidney"),
        ("ratio_suvmax_to_liver_suvmean", "liver"),
    ] {
        if let Some(m) = mean(roi).filter(|m| *m > 0.0) {
            out.push(Feature {
                name: name.into(),
                value: tumor_max / m,
                unit_kind: UnitKind::Dimensionless,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Geometry;
    use ndarray::Array3;

    #[test]
    fn lesions_are_26_connected_and_small_ones_are_left_out() {
        // 2 mm voxels (0.008 ml): two diagonal-touching hot voxels are one lesion; a 4×4×4 block
        // (0.512 ml) counts, a lone voxel (0.008 ml) does not at a 0.5 ml minimum.
        let mut data = Array3::<f32>::zeros((12, 12, 12));
        for k in 0..4 {
            for j in 0..4 {
                for i in 0..4 {
                    data[[k, j, i]] = 5.0;
                }
            }
        }
        data[[4, 4, 4]] = 5.0; // touches the block's corner (26-connected)
        data[[10, 10, 10]] = 9.0;
        let img = Volume {
            data,
            geometry: Geometry::axial([0.0; 3], [2.0; 3]),
        };
        let all = |_: usize, _: usize, _: usize| true;
        assert_eq!(lesion_count(&img, &all, 3.0, 0.5), 1);
        assert_eq!(lesion_count(&img, &all, 3.0, 0.0), 2);
        assert_eq!(lesion_count(&img, &all, 6.0, 0.0), 1);
    }

    /// PROMISE V2: for ¹⁸F-PSMA-1007 the spleen takes the liver's place as the score's second
    /// reference (the liver's uptake is high through its excretion); no spleen, no score (the
    /// liver's was used whatever the tracer: a radiomics audit).
    #[test]
    fn mipsma_score_of_psma_1007_steps_at_the_spleen() {
        let organs = |tumor: f64, spleen: Option<f64>| {
            move |roi: &str, f: &str| -> Option<f64> {
                match (roi, f) {
                    ("tumor", "stat_max") => Some(tumor),
                    ("bloodpool", _) => Some(2.0),
                    ("liver", _) => Some(10.0),
                    ("spleen", _) => spleen,
                    ("parotid", _) => Some(12.0),
                    _ => None,
                }
            }
        };
        let score = |tumor, spleen, psma_1007| {
            cross_region_metrics(&organs(tumor, spleen), psma_1007)
                .into_iter()
                .find(|f| f.name == "mipsma_score")
                .map(|f| f.value)
        };
        // SUVmax 6: above the spleen (5), below the liver (10).
        assert_eq!(score(6.0, Some(5.0), true), Some(2.0));
        assert_eq!(score(6.0, Some(5.0), false), Some(1.0));
        assert_eq!(score(6.0, None, true), None);
    }

    #[test]
    fn mipsma_score_steps_at_each_reference_organ() {
        let organs = |tumor: f64| {
            move |roi: &str, f: &str| -> Option<f64> {
                match (roi, f) {
                    ("tumor", "stat_max") => Some(tumor),
                    ("bloodpool", _) => Some(2.0),
                    ("liver", _) => Some(5.0),
                    ("parotid", _) => Some(12.0),
                    ("kidney", _) => Some(20.0),
                    _ => None,
                }
            }
        };
        for (tumor, score) in [(1.0, 0.0), (2.0, 1.0), (6.0, 2.0), (12.0, 3.0)] {
            let f = cross_region_metrics(&organs(tumor), false);
            assert_eq!(f[0].name, "mipsma_score");
            assert_eq!(f[0].value, score, "tumour SUVmax {tumor}");
            assert_eq!(f[1].value, tumor / 20.0);
            assert_eq!(f[2].value, tumor / 5.0);
        }
    }

    #[test]
    fn region_names_the_features_need() {
        let standard = ["tumor", "kidney", "liver", "bloodpool", "parotid"];
        assert!(missing_region_names(standard).is_empty());
        let british = missing_region_names(["tumour", "kidney", "liver", "bloodpool", "parotid"]);
        assert_eq!(british.len(), 1);
        assert!(british[0].contains("\"tumor\"") && british[0].contains("miPSMA"));
        let few = missing_region_names(["tumor", "bloodpool"]);
        assert_eq!(few.len(), 3, "{few:?}");
        assert!(few[0].contains("liver, parotid") && few[1].contains("kidney"));
        assert!(few[2].contains("liver-based"));
    }

    #[test]
    fn a_threshold_given_twice_is_measured_once() {
        let v = Volume {
            data: ndarray::Array3::from_elem((2, 2, 2), 4.0),
            geometry: crate::volume::Geometry::axial([0.0; 3], [10.0; 3]),
        };
        let names: Vec<String> = volume_metrics(&v, &|_, _, _| true, &[3.0, 3.0, 2.5, 3.0])
            .into_iter()
            .map(|f| f.name.to_string())
            .filter(|n| n.starts_with("mtv_suv"))
            .collect();
        assert_eq!(names, ["mtv_suv3", "mtv_suv2p5"]);
    }
}
