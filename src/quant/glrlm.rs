//! Grey-level run length matrix features (IBSI 1, section 3.7: the 16 `rlm_*` features) in 3D: runs
//! of one grey level along each of the 13 directions, the matrices merged into one (`_3D_comb`,
//! the run percentage over 13 × the voxel count) or their features averaged (`_3D_avg`).
//! Fixed-bin-size levels as for the GLCM. Checked against the IBSI digital phantom.

use std::borrow::Cow;

use ndarray::Array3;

use super::features::{Feature, UnitKind};
use super::glcm::DIRECTIONS;
use super::glszm::{size_matrix, size_matrix_features};
use super::grey_levels::GreyLevels;

const NAMES: [&str; 16] = [
    "rlm_sre",
    "rlm_lre",
    "rlm_lgre",
    "rlm_hgre",
    "rlm_srlge",
    "rlm_srhge",
    "rlm_lrlge",
    "rlm_lrhge",
    "rlm_glnu",
    "rlm_glnu_norm",
    "rlm_rlnu",
    "rlm_rlnu_norm",
    "rlm_r_perc",
    "rlm_gl_var",
    "rlm_rl_var",
    "rlm_rl_entr",
];

/// (grey level, run length) of every run along direction `d`.
fn runs(levels: &Array3<u32>, d: [i64; 3]) -> Vec<(u32, usize)> {
    let (nk, nj, ni) = levels.dim();
    let mut r = Vec::new();
    let inside = |k: i64, j: i64, i: i64| {
        k >= 0 && j >= 0 && i >= 0 && k < nk as i64 && j < nj as i64 && i < ni as i64
    };
    for ((k, j, i), &l) in levels.indexed_iter() {
        if l == 0 {
            continue;
        }
        let (k, j, i) = (k as i64, j as i64, i as i64);
        // A run starts where the previous voxel along d has another level.
        let (pk, pj, pi) = (k - d[0], j - d[1], i - d[2]);
        if inside(pk, pj, pi) && levels[[pk as usize, pj as usize, pi as usize]] == l {
            continue;
        }
        let mut len = 1;
        let (mut a, mut b, mut c) = (k + d[0], j + d[1], i + d[2]);
        while inside(a, b, c) && levels[[a as usize, b as usize, c as usize]] == l {
            len += 1;
            (a, b, c) = (a + d[0], b + d[1], c + d[2]);
        }
        r.push((l, len));
    }
    r
}

/// GLRLM features of the region, 3D merged and averaged, grey levels of fixed bin size.
pub fn glrlm_features(g: &GreyLevels) -> Vec<Feature> {
    let levels = &g.levels;
    let nv = levels.iter().filter(|l| **l > 0).count() as f64;
    if nv == 0.0 {
        return Vec::new();
    }
    let per_direction: Vec<Vec<(u32, usize)>> =
        DIRECTIONS.iter().map(|d| runs(levels, *d)).collect();
    let merged = size_matrix(&per_direction.concat());
    let comb = size_matrix_features(&merged, nv * DIRECTIONS.len() as f64);
    let each: Vec<[f64; 16]> = per_direction
        .iter()
        .map(|r| size_matrix_features(&size_matrix(r), nv))
        .collect();
    let feature = |name: String, value: f64| Feature {
        name: Cow::Owned(name),
        value,
        unit_kind: UnitKind::Dimensionless,
    };
    let mut out: Vec<Feature> = NAMES
        .iter()
        .zip(comb)
        .map(|(n, v)| feature(format!("{n}_3D_comb"), v))
        .collect();
    for (idx, n) in NAMES.iter().enumerate() {
        let mean = each.iter().map(|f| f[idx]).sum::<f64>() / each.len() as f64;
        out.push(feature(format!("{n}_3D_avg"), mean));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::grey_levels::tests_support::{check_against_reference, phantom_levels};

    /// The IBSI digital phantom: all 32 GLRLM values (merged and averaged) to three digits.
    #[test]
    fn ibsi_digital_phantom_glrlm() {
        assert_eq!(
            check_against_reference(&glrlm_features(&phantom_levels())),
            32
        );
    }
}
