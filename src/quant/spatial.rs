//! Spatial autocorrelation of the intensities inside a region (IBSI 1, 3.1.24–25): Moran's I and
//! Geary's C with inverse-distance weights w = 1 / ‖r_k − r_l‖ (mm) over every pair of region
//! voxels. Exact up to `EXACT_LIMIT` voxels; a larger region is evaluated on a deterministic
//! evenly spaced sample of that many of its voxels (IBSI allows an approximation there: the
//! all-pairs sums grow with the square of the voxel count). Pairs in parallel (rayon), summed in
//! a fixed order so the result is the same on every run.

use rayon::prelude::*;

use super::features::{Feature, UnitKind};
use crate::volume::Volume;

/// Regions up to this many voxels are evaluated exactly.
pub const EXACT_LIMIT: usize = 6000;

/// Moran's I and Geary's C of the region.
pub fn autocorrelation(
    image: &Volume,
    in_roi: &dyn Fn(usize, usize, usize) -> bool,
) -> Vec<Feature> {
    let mut voxels: Vec<([f64; 3], f64)> = image
        .data
        .indexed_iter()
        .filter(|((k, j, i), _)| in_roi(*k, *j, *i))
        .map(|((k, j, i), v)| {
            (
                image.geometry.world(i as f64, j as f64, k as f64),
                *v as f64,
            )
        })
        .collect();
    if voxels.len() < 2 {
        return Vec::new();
    }
    if voxels.len() > EXACT_LIMIT {
        let step = voxels.len() as f64 / EXACT_LIMIT as f64;
        voxels = (0..EXACT_LIMIT)
            .map(|n| voxels[(n as f64 * step) as usize])
            .collect();
    }
    let n = voxels.len() as f64;
    let mean = voxels.iter().map(|v| v.1).sum::<f64>() / n;
    let var_sum: f64 = voxels.iter().map(|v| (v.1 - mean).powi(2)).sum();
    let undefined = |name: &'static str| Feature {
        name: name.into(),
        value: f64::NAN,
        unit_kind: UnitKind::Dimensionless,
    };
    if var_sum == 0.0 {
        // A uniform region: both are 0/0 (written as empty values); no pairs to sum.
        return vec![undefined("morph_moran_i"), undefined("morph_geary_c")];
    }
    // Σ w, Σ w (x_k − μ)(x_l − μ), Σ w (x_k − x_l)² over unordered pairs (×2 for ordered): rows
    // in parallel, their partial sums added in row order (the same bits on every run).
    let rows: Vec<(f64, f64, f64)> = (0..voxels.len())
        .into_par_iter()
        .map(|a| {
            let (pa, xa) = voxels[a];
            let mut acc = (0.0, 0.0, 0.0);
            for &(pb, xb) in &voxels[a + 1..] {
                let d =
                    ((pa[0] - pb[0]).powi(2) + (pa[1] - pb[1]).powi(2) + (pa[2] - pb[2]).powi(2))
                        .sqrt();
                let w = 1.0 / d;
                acc.0 += w;
                acc.1 += w * (xa - mean) * (xb - mean);
                acc.2 += w * (xa - xb).powi(2);
            }
            acc
        })
        .collect();
    let (w_sum, moran_sum, geary_sum) = rows
        .iter()
        .fold((0.0, 0.0, 0.0), |x, y| (x.0 + y.0, x.1 + y.1, x.2 + y.2));
    let (moran, geary) = if var_sum > 0.0 {
        (
            n / w_sum * moran_sum / var_sum,
            (n - 1.0) * geary_sum / (2.0 * w_sum * var_sum),
        )
    } else {
        (f64::NAN, f64::NAN)
    };
    vec![
        Feature {
            name: "morph_moran_i".into(),
            value: moran,
            unit_kind: UnitKind::Dimensionless,
        },
        Feature {
            name: "morph_geary_c".into(),
            value: geary,
            unit_kind: UnitKind::Dimensionless,
        },
    ]
}
