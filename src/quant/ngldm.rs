//! Neighbouring grey level dependence matrix features (IBSI 1, section 3.11: the 17 `ngl_*`
//! features) in 3D: for each region voxel, its dependence is 1 + the number of its 26 neighbours
//! inside the region with the same grey level (coarseness α = 0, distance 1). Fixed-bin-size
//! levels as for the GLCM. Checked against the IBSI digital phantom.

use super::features::Feature;
use super::glszm::{size_matrix, size_matrix_features};
use super::grey_levels::{neighbours26, texture_feature, GreyLevels};

const NAMES: [&str; 16] = [
    "ngl_lde",
    "ngl_hde",
    "ngl_lgce",
    "ngl_hgce",
    "ngl_ldlge",
    "ngl_ldhge",
    "ngl_hdlge",
    "ngl_hdhge",
    "ngl_glnu",
    "ngl_glnu_norm",
    "ngl_dcnu",
    "ngl_dcnu_norm",
    "ngl_dc_perc",
    "ngl_gl_var",
    "ngl_dc_var",
    "ngl_dc_entr",
];

/// The 17 NGLDM features of the region's grey levels (`ngl_*_3D`).
pub fn ngldm_features(g: &GreyLevels) -> Vec<Feature> {
    let levels = &g.levels;
    // (grey level, dependence): the voxel itself and its neighbours of the same level.
    let mut pairs = Vec::new();
    let mut nv = 0.0;
    for ((k, j, i), &l) in levels.indexed_iter() {
        if l == 0 {
            continue;
        }
        nv += 1.0;
        let same = neighbours26(levels.dim(), [k, j, i])
            .filter(|q| levels[*q] == l)
            .count();
        pairs.push((l, same + 1));
    }
    if nv == 0.0 {
        return Vec::new();
    }
    let s = size_matrix(&pairs);
    let energy: f64 = s.iter().map(|&(_, _, c)| (c / nv) * (c / nv)).sum();
    let feature = texture_feature;
    let mut out: Vec<Feature> = NAMES
        .iter()
        .zip(size_matrix_features(&s, nv))
        .map(|(n, v)| feature(format!("{n}_3D"), v))
        .collect();
    out.push(feature("ngl_dc_energy_3D".into(), energy));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::grey_levels::tests_support::{check_against_reference, phantom_levels};

    /// The IBSI digital phantom: all 17 NGLDM values to IBSI's three significant digits.
    #[test]
    fn ibsi_digital_phantom_ngldm() {
        assert_eq!(
            check_against_reference(&ngldm_features(&phantom_levels())),
            17
        );
    }
}
