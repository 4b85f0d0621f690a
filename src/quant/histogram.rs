//! Features of the discretised intensities (IBSI 1, sections 3.4 and 3.5): the intensity
//! histogram family (`ih_*`: the intensity statistics of the grey levels, their mode, entropy,
//! uniformity and histogram gradients) and the intensity-volume histogram (`ivh_*`: volume at 10%
//! and 90% of the level range, level at 10% and 90% of the volume, and their differences). Grey
//! levels by fixed bin size, as for texture. Checked against the IBSI digital phantom.

use super::features::{intensity_statistics, Feature};
use super::grey_levels::{texture_feature, GreyLevels};

fn feature(name: &str, value: f64) -> Feature {
    texture_feature(name.to_string(), value)
}

/// Intensity histogram (23) and intensity-volume histogram (6) features of the region's grey
/// levels (dimensionless: they count levels, not image units).
pub fn histogram_features(g: &GreyLevels) -> Vec<Feature> {
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
    // Intensity-volume histogram over the levels 1..=Ng: V(i) = share of voxels at level ≥ i.
    let at_least = |t: f64| values.iter().filter(|v| **v >= t).count() as f64 / n;
    let (lo, hi) = (1.0, ng as f64);
    let v10 = at_least(lo + 0.1 * (hi - lo));
    let v90 = at_least(lo + 0.9 * (hi - lo));
    // The lowest level whose volume fraction is at most ν.
    let level_at = |nu: f64| {
        (1..=ng + 1)
            .map(|i| i as f64)
            .find(|&i| at_least(i) <= nu)
            .unwrap_or(hi + 1.0)
    };
    let (i10, i90) = (level_at(0.1), level_at(0.9));
    out.extend([
        feature("ivh_v10", v10),
        feature("ivh_v90", v90),
        feature("ivh_i10", i10),
        feature("ivh_i90", i90),
        feature("ivh_diff_v10_v90", v10 - v90),
        feature("ivh_diff_i10_i90", i10 - i90),
    ]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::grey_levels::tests_support::{check_against_reference, phantom_levels};

    /// The IBSI digital phantom: all 23 intensity-histogram and 6 IVH values to three digits.
    #[test]
    fn ibsi_digital_phantom_histograms() {
        assert_eq!(
            check_against_reference(&histogram_features(&phantom_levels())),
            29
        );
    }
}
