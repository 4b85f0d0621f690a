//! Neighbouring grey level dependence matrix features (IBSI 1, section 3.11: the 17 `ngl_*`
//! features) in 3D: for each region voxel, its dependence is 1 + the number of its 26 neighbours
//! inside the region with the same grey level (coarseness α = 0, distance 1). Fixed-bin-size
//! levels as for the GLCM. Checked against the IBSI digital phantom.

use std::borrow::Cow;

use super::features::{Feature, UnitKind};
use super::glcm::discretise;
use super::glszm::size_matrix_features;
use crate::volume::Volume;

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

/// The 17 NGLDM features of the region (`ngl_*_3D`), grey levels of fixed bin size `bin_width`.
pub fn ngldm_features(
    image: &Volume,
    in_roi: &dyn Fn(usize, usize, usize) -> bool,
    bin_width: f64,
) -> Vec<Feature> {
    let (levels, ng) = discretise(image, in_roi, bin_width);
    let (nk, nj, ni) = levels.dim();
    let mut s = vec![vec![0.0f64; 27]; ng];
    let mut nv = 0.0;
    for ((k, j, i), &l) in levels.indexed_iter() {
        if l == 0 {
            continue;
        }
        nv += 1.0;
        let mut dep = 1;
        for dk in -1i64..=1 {
            for dj in -1i64..=1 {
                for di in -1i64..=1 {
                    if dk == 0 && dj == 0 && di == 0 {
                        continue;
                    }
                    let (a, b, c) = (k as i64 + dk, j as i64 + dj, i as i64 + di);
                    if a < 0 || b < 0 || c < 0 || a >= nk as i64 || b >= nj as i64 || c >= ni as i64
                    {
                        continue;
                    }
                    if levels[[a as usize, b as usize, c as usize]] == l {
                        dep += 1;
                    }
                }
            }
        }
        s[l as usize - 1][dep - 1] += 1.0;
    }
    if nv == 0.0 {
        return Vec::new();
    }
    let energy: f64 = s.iter().flatten().map(|c| (c / nv) * (c / nv)).sum();
    let feature = |name: String, value: f64| Feature {
        name: Cow::Owned(name),
        value,
        unit_kind: UnitKind::Dimensionless,
    };
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
    use crate::volume::nifti_io::read_volume;
    use std::path::Path;

    /// The IBSI digital phantom: all 17 NGLDM values to IBSI's three significant digits.
    #[test]
    fn ibsi_digital_phantom_ngldm() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/ibsi1-phantom");
        let image = read_volume(&root.join("image.nii.gz")).unwrap();
        let mask = read_volume(&root.join("mask.nii.gz")).unwrap();
        let feats = ngldm_features(&image, &|k, j, i| mask.data[[k, j, i]] > 0.5, 1.0);
        assert_eq!(
            crate::quant::glcm::tests_support::check_against_reference(&feats),
            17
        );
    }
}
