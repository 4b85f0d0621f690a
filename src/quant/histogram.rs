//! Features of the discretised intensities (IBSI 1, sections 3.4 and 3.5): the intensity
//! histogram family (`ih_*`: the intensity statistics of the grey levels, their mode, entropy,
//! uniformity and histogram gradients) and the intensity-volume histogram (`ivh_*`: volume at 10%
//! and 90% of the intensity range, intensity at 10% and 90% of the volume, and their
//! differences). Grey levels by fixed bin size, as for texture. The IVH follows IBSI 1, 3.5: on an
//! image of definite units (SUV, Bq/ml, ADC, HU: the continuous case) each level stands for its
//! bin's centre intensity, X_gl,min + (level − 0.5)·w, over the range [X_gl,min + w/2,
//! X_max − w/2], and the intensities at a volume fraction are in the image's unit; on arbitrary
//! units (MR signal) the levels themselves, over [1, Ng]. Checked against the IBSI digital
//! phantom (levels) and by hand (bin centres).

use super::features::{intensity_statistics, Feature, UnitKind};
use super::grey_levels::{texture_feature, GreyLevels};

fn feature(name: &str, value: f64) -> Feature {
    texture_feature(name.to_string(), value)
}

/// Intensity histogram (23) and intensity-volume histogram (6) features of the region's grey
/// levels. The histogram's are dimensionless (they count levels); the IVH's intensities are in
/// the image's unit when `definite` (see the module header).
pub fn histogram_features(g: &GreyLevels, definite: bool) -> Vec<Feature> {
    let ng = g.ng;
    let values: Vec<f64> = g
        .levels
        .iter()
        .filter(|l| **l > 0)
        .map(|l| *l as f64)
        .collect();
    if values.is_empty() {
        return Vec::new();
    }
    let n = values.len() as f64;
    let mut out: Vec<Feature> = intensity_statistics(&values)
        .into_iter()
        .filter(|f| !matches!(f.name.as_ref(), "stat_energy" | "stat_rms"))
        .map(|f| feature(&f.name.replacen("stat_", "ih_", 1), f.value))
        .collect();
    // Counts per level 1..=Ng.
    let mut h = vec![0.0f64; ng];
    for v in &values {
        h[*v as usize - 1] += 1.0;
    }
    let mean = values.iter().sum::<f64>() / n;
    let top = h.iter().cloned().fold(0.0, f64::max);
    // The most frequent level; of several, the one closest to the mean.
    let mode = (0..ng)
        .filter(|&i| h[i] == top)
        .min_by(|&a, &b| {
            ((a + 1) as f64 - mean)
                .abs()
                .total_cmp(&((b + 1) as f64 - mean).abs())
        })
        .map_or(0.0, |i| (i + 1) as f64);
    let p: Vec<f64> = h.iter().map(|c| c / n).collect();
    let entropy = -p
        .iter()
        .filter(|x| **x > 0.0)
        .map(|x| x * x.log2())
        .sum::<f64>();
    let uniformity = p.iter().map(|x| x * x).sum::<f64>();
    // Histogram gradient: one-sided at the ends, central inside.
    let grad: Vec<f64> = (0..ng)
        .map(|i| {
            if ng == 1 {
                0.0
            } else if i == 0 {
                h[1] - h[0]
            } else if i == ng - 1 {
                h[ng - 1] - h[ng - 2]
            } else {
                (h[i + 1] - h[i - 1]) / 2.0
            }
        })
        .collect();
    let (mut gmax, mut gmax_i, mut gmin, mut gmin_i) = (f64::MIN, 0, f64::MAX, 0);
    for (i, g) in grad.iter().enumerate() {
        if *g > gmax {
            (gmax, gmax_i) = (*g, i);
        }
        if *g < gmin {
            (gmin, gmin_i) = (*g, i);
        }
    }
    out.extend([
        feature("ih_mode", mode),
        feature("ih_entropy", entropy),
        feature("ih_uniformity", uniformity),
        feature("ih_max_grad", gmax),
        feature("ih_max_grad_g", (gmax_i + 1) as f64),
        feature("ih_min_grad", gmin),
        feature("ih_min_grad_g", (gmin_i + 1) as f64),
    ]);
    out.extend(intensity_volume_histogram(g, &values, definite));
    out
}

/// The six IVH features (IBSI 1, 3.5) of the region's levels `values` (each ≥ 1): ν(i), the
/// share of voxels at level i or above; the volume at intensity fraction x is ν at the first level
/// whose intensity fraction γ is at least x; the intensity at volume fraction x the lowest level's
/// intensity whose ν is at most x (undefined, NaN, when no level of the range has it: one level,
/// or a top level holding more than x of the region); γ over the range (undefined when the
/// range is empty: a region of one level).
///
/// Both searches are binary (ν falls and γ rises with the level), ν counted in the sorted levels:
/// a fine bin width (a million levels) counted every voxel at every level, for minutes.
fn intensity_volume_histogram(g: &GreyLevels, values: &[f64], definite: bool) -> Vec<Feature> {
    let n = values.len() as f64;
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at_least =
        |level: usize| (sorted.len() - sorted.partition_point(|v| *v < level as f64)) as f64 / n;
    // Each level's intensity, and the range γ is taken over.
    let (intensity, lo, hi): (Box<dyn Fn(usize) -> f64>, f64, f64) = if definite {
        let (min, w) = (g.min, g.width);
        (
            Box::new(move |l| min + (l as f64 - 0.5) * w),
            min + 0.5 * w,
            g.max - 0.5 * w,
        )
    } else {
        (Box::new(|l| l as f64), 1.0, g.ng as f64)
    };
    let volume_at = |x: f64| {
        if hi <= lo {
            return f64::NAN;
        }
        first_level(g.ng, |l| (intensity(l) - lo) / (hi - lo) >= x).map_or(0.0, at_least)
    };
    let intensity_at =
        |nu: f64| first_level(g.ng, |l| at_least(l) <= nu).map_or(f64::NAN, &intensity);
    let (v10, v90) = (volume_at(0.1), volume_at(0.9));
    let (i10, i90) = (intensity_at(0.1), intensity_at(0.9));
    let kind = if definite {
        UnitKind::Intensity
    } else {
        UnitKind::Dimensionless
    };
    let with_unit = |name: &str, value: f64| Feature {
        unit_kind: kind,
        ..feature(name, value)
    };
    vec![
        feature("ivh_v10", v10),
        feature("ivh_v90", v90),
        with_unit("ivh_i10", i10),
        with_unit("ivh_i90", i90),
        feature("ivh_diff_v10_v90", v10 - v90),
        with_unit("ivh_diff_i10_i90", i10 - i90),
    ]
}

/// The first level of 1..=ng at which `holds` (false below some level, true from it on), by
/// bisection; None when it holds at none.
fn first_level(ng: usize, holds: impl Fn(usize) -> bool) -> Option<usize> {
    let (mut lo, mut hi) = (1, ng + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if holds(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    (lo <= ng).then_some(lo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::grey_levels::tests_support::{check_against_reference, phantom_levels};

    /// The bisection finds what a walk from level 1 finds, for every threshold and none.
    #[test]
    fn first_level_is_the_first_that_holds() {
        for ng in [1, 2, 3, 10, 1000] {
            for t in 0..=ng + 1 {
                let walk = (1..=ng).find(|&l| l >= t);
                assert_eq!(first_level(ng, |l| l >= t), walk, "ng {ng} t {t}");
            }
        }
    }

    fn ivh(values: &[f32], width: f64, definite: bool) -> Vec<(String, f64)> {
        use crate::volume::{Geometry, Volume};
        let image = Volume {
            data: ndarray::Array3::from_shape_vec((1, 1, values.len()), values.to_vec()).unwrap(),
            geometry: Geometry::axial([0.0; 3], [1.0; 3]),
        };
        let g =
            crate::quant::grey_levels::discretise(&image, &|_, _, _| true, width, None).unwrap();
        histogram_features(&g, definite)
            .into_iter()
            .filter(|f| f.name.starts_with("ivh_"))
            .map(|f| (f.name.to_string(), f.value))
            .collect()
    }

    /// IBSI 1, 3.5, by hand. Ten voxels 2.25, 3.25, ..., 11.25 SUV, bin width 1: levels 1..10,
    /// one voxel each, so ν(level l) = (11 − l)/10. In SUV (continuous case) level l stands for
    /// its bin centre 2.25 + (l − 0.5) and γ runs over [2.75, 10.75]: γ(l) = (l − 1)/8. I10 is the
    /// centre of level 10 (11.75, ν 0.1), I90 of level 2 (3.75, ν 0.9); V10 is ν at level 2 (γ
    /// 0.125 ≥ 0.1: 0.9), V90 at level 9 (γ 1 ≥ 0.9: 0.2). On arbitrary units the levels
    /// themselves over [1, 10]: I10 10, I90 2, V90 at level 10 (γ (l − 1)/9): 0.1. Before, the
    /// SUV image's I10 and I90 were the levels 10 and 2.
    #[test]
    fn intensity_volume_histogram_in_the_images_unit() {
        let values: Vec<f32> = (0..10).map(|i| 2.25 + i as f32).collect();
        let close = |got: &[(String, f64)], want: [f64; 6]| {
            for ((name, g), w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-5, "{name}: {g} vs {w}");
            }
        };
        close(&ivh(&values, 1.0, true), [0.9, 0.2, 11.75, 3.75, 0.7, 8.0]);
        close(&ivh(&values, 1.0, false), [0.9, 0.1, 10.0, 2.0, 0.8, 8.0]);
        // The units follow: the image's for the intensities where it has one.
        let units = |definite| {
            let image = crate::volume::Volume {
                data: ndarray::Array3::from_shape_vec((1, 1, 10), values.clone()).unwrap(),
                geometry: crate::volume::Geometry::axial([0.0; 3], [1.0; 3]),
            };
            let g =
                crate::quant::grey_levels::discretise(&image, &|_, _, _| true, 1.0, None).unwrap();
            histogram_features(&g, definite)
                .into_iter()
                .find(|f| f.name == "ivh_i10")
                .map(|f| f.unit_kind)
        };
        assert_eq!(units(true), Some(UnitKind::Intensity));
        assert_eq!(units(false), Some(UnitKind::Dimensionless));
    }

    /// One grey level: no level has ν ≤ 0.1 or 0.9, and γ is 0/0 — undefined, not a level that
    /// does not exist (it was 2) or the whole volume (V90 was 1).
    #[test]
    fn one_grey_level_leaves_the_ivh_undefined() {
        for definite in [true, false] {
            for (name, v) in ivh(&[3.0, 3.1, 3.2], 1.0, definite) {
                assert!(v.is_nan(), "{name}: {v}");
            }
        }
    }

    /// The IBSI digital phantom: all 23 intensity-histogram and 6 IVH values to three digits.
    #[test]
    fn ibsi_digital_phantom_histograms() {
        assert_eq!(
            check_against_reference(&histogram_features(&phantom_levels(), false)),
            29
        );
    }
}
