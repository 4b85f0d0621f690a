//! Grey-level size zone matrix features (IBSI 1, section 3.8: the 16 `szm_*` features) in 3D:
//! zones are 26-connected groups of region voxels with one grey level (fixed-bin-size levels, as
//! for the GLCM). Checked against the IBSI digital phantom's reference values.

use std::borrow::Cow;

use ndarray::Array3;

use super::features::{Feature, UnitKind};
use super::glcm::discretise;
use crate::volume::Volume;

/// (grey level, zone size) of every 26-connected zone of `levels` (0 = outside the region).
pub fn zones(levels: &Array3<u32>) -> Vec<(u32, usize)> {
    let (nk, nj, ni) = levels.dim();
    let mut seen = Array3::<bool>::from_elem((nk, nj, ni), false);
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for ((k, j, i), &l) in levels.indexed_iter() {
        if l == 0 || seen[[k, j, i]] {
            continue;
        }
        seen[[k, j, i]] = true;
        stack.push((k, j, i));
        let mut size = 0;
        while let Some((k, j, i)) = stack.pop() {
            size += 1;
            for dk in -1i64..=1 {
                for dj in -1i64..=1 {
                    for di in -1i64..=1 {
                        let (a, b, c) = (k as i64 + dk, j as i64 + dj, i as i64 + di);
                        if a < 0
                            || b < 0
                            || c < 0
                            || a >= nk as i64
                            || b >= nj as i64
                            || c >= ni as i64
                        {
                            continue;
                        }
                        let p = [a as usize, b as usize, c as usize];
                        if !seen[p] && levels[p] == l {
                            seen[p] = true;
                            stack.push((p[0], p[1], p[2]));
                        }
                    }
                }
            }
        }
        out.push((l, size));
    }
    out
}

/// The 16 features shared by the size-zone and run-length matrices (IBSI 3.7, 3.8), in IBSI
/// order: `s[i][j]` counts zones (runs) of grey level i + 1 and size (length) j + 1; `nv` is the
/// voxel count the percentage divides by.
pub fn size_matrix_features(s: &[Vec<f64>], nv: f64) -> [f64; 16] {
    let ns: f64 = s.iter().flatten().sum();
    let max_size = s.first().map_or(0, Vec::len);
    let row: Vec<f64> = s.iter().map(|r| r.iter().sum()).collect();
    let col: Vec<f64> = (0..max_size)
        .map(|j| s.iter().map(|r| r[j]).sum())
        .collect();
    let (mut szlge, mut szhge, mut lzlge, mut lzhge) = (0.0, 0.0, 0.0, 0.0);
    let (mut mu_i, mut mu_j, mut entr) = (0.0, 0.0, 0.0);
    for (i, r) in s.iter().enumerate() {
        for (j, &c) in r.iter().enumerate() {
            if c == 0.0 {
                continue;
            }
            let (a, b) = ((i + 1) as f64, (j + 1) as f64);
            szlge += c / (a * a * b * b);
            szhge += c * a * a / (b * b);
            lzlge += c * b * b / (a * a);
            lzhge += c * a * a * b * b;
            let p = c / ns;
            mu_i += a * p;
            mu_j += b * p;
            entr -= p * p.log2();
        }
    }
    let (mut gl_var, mut zs_var) = (0.0, 0.0);
    for (i, r) in s.iter().enumerate() {
        for (j, &c) in r.iter().enumerate() {
            let p = c / ns;
            gl_var += ((i + 1) as f64 - mu_i).powi(2) * p;
            zs_var += ((j + 1) as f64 - mu_j).powi(2) * p;
        }
    }
    let by_size = |f: &dyn Fn(f64) -> f64| -> f64 {
        col.iter()
            .enumerate()
            .map(|(j, c)| c * f((j + 1) as f64))
            .sum::<f64>()
            / ns
    };
    let by_level = |f: &dyn Fn(f64) -> f64| -> f64 {
        row.iter()
            .enumerate()
            .map(|(i, c)| c * f((i + 1) as f64))
            .sum::<f64>()
            / ns
    };
    let glnu = row.iter().map(|x| x * x).sum::<f64>();
    let zsnu = col.iter().map(|x| x * x).sum::<f64>();
    [
        by_size(&|j| 1.0 / (j * j)),
        by_size(&|j| j * j),
        by_level(&|i| 1.0 / (i * i)),
        by_level(&|i| i * i),
        szlge / ns,
        szhge / ns,
        lzlge / ns,
        lzhge / ns,
        glnu / ns,
        glnu / (ns * ns),
        zsnu / ns,
        zsnu / (ns * ns),
        ns / nv,
        gl_var,
        zs_var,
        entr,
    ]
}

/// The 16 GLSZM features of the region (`szm_*_3D`), grey levels of fixed bin size `bin_width`.
pub fn glszm_features(
    image: &Volume,
    in_roi: &dyn Fn(usize, usize, usize) -> bool,
    bin_width: f64,
) -> Vec<Feature> {
    let (levels, ng) = discretise(image, in_roi, bin_width);
    let zs = zones(&levels);
    if zs.is_empty() {
        return Vec::new();
    }
    let nv = levels.iter().filter(|l| **l > 0).count() as f64;
    let max_size = zs.iter().map(|z| z.1).max().unwrap_or(1);
    // s[i][j]: zones of level i + 1 and size j + 1.
    let mut s = vec![vec![0.0f64; max_size]; ng];
    for &(l, size) in &zs {
        s[l as usize - 1][size - 1] += 1.0;
    }
    let names = [
        "szm_sze",
        "szm_lze",
        "szm_lgze",
        "szm_hgze",
        "szm_szlge",
        "szm_szhge",
        "szm_lzlge",
        "szm_lzhge",
        "szm_glnu",
        "szm_glnu_norm",
        "szm_zsnu",
        "szm_zsnu_norm",
        "szm_z_perc",
        "szm_gl_var",
        "szm_zs_var",
        "szm_zs_entr",
    ];
    let values = names.into_iter().zip(size_matrix_features(&s, nv));
    values
        .into_iter()
        .map(|(name, value)| Feature {
            name: Cow::Owned(format!("{name}_3D")),
            value,
            unit_kind: UnitKind::Dimensionless,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::nifti_io::read_volume;
    use std::path::Path;

    /// The IBSI digital phantom: all 16 GLSZM values to IBSI's three significant digits.
    #[test]
    fn ibsi_digital_phantom_glszm() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/ibsi1-phantom");
        let image = read_volume(&root.join("image.nii.gz")).unwrap();
        let mask = read_volume(&root.join("mask.nii.gz")).unwrap();
        let feats = glszm_features(&image, &|k, j, i| mask.data[[k, j, i]] > 0.5, 1.0);
        assert_eq!(
            crate::quant::glcm::tests_support::check_against_reference(&feats),
            16
        );
    }
}
