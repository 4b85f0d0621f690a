//! Grey-level size zone matrix features (IBSI 1, section 3.8: the 16 `szm_*` features) in 3D:
//! zones are 26-connected groups of region voxels with one grey level (fixed-bin-size levels, as
//! for the GLCM). Checked against the IBSI digital phantom's reference values.

use ndarray::Array3;

use super::features::Feature;
use super::grey_levels::{neighbours26, texture_feature, GreyLevels};

/// (grey level, zone size) of every 26-connected zone of `levels` (0 = outside the region);
/// `visit(zone, voxel)` sees every voxel of zone number `zone` (the zone's index in the result).
pub fn zones(levels: &Array3<u32>, mut visit: impl FnMut(usize, [usize; 3])) -> Vec<(u32, usize)> {
    let dims = levels.dim();
    let mut seen = Array3::<bool>::from_elem(dims, false);
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for ((k, j, i), &l) in levels.indexed_iter() {
        if l == 0 || seen[[k, j, i]] {
            continue;
        }
        seen[[k, j, i]] = true;
        stack.push([k, j, i]);
        let mut size = 0;
        while let Some(p) = stack.pop() {
            size += 1;
            visit(out.len(), p);
            for q in neighbours26(dims, p) {
                if !seen[q] && levels[q] == l {
                    seen[q] = true;
                    stack.push(q);
                }
            }
        }
        out.push((l, size));
    }
    out
}

/// `s[i][j]`: how many of `pairs` have grey level i + 1 and size (distance) j + 1.
pub fn size_matrix(pairs: &[(u32, usize)], ng: usize) -> Vec<Vec<f64>> {
    let max = pairs.iter().map(|z| z.1).max().unwrap_or(1);
    let mut s = vec![vec![0.0f64; max]; ng];
    for &(l, size) in pairs {
        s[l as usize - 1][size - 1] += 1.0;
    }
    s
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

const NAMES: [&str; 16] = [
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

/// The 16 GLSZM features of the region's grey levels (`szm_*_3D`).
pub fn glszm_features(g: &GreyLevels) -> Vec<Feature> {
    let zs = zones(&g.levels, |_, _| {});
    if zs.is_empty() {
        return Vec::new();
    }
    let nv = g.levels.iter().filter(|l| **l > 0).count() as f64;
    NAMES
        .iter()
        .zip(size_matrix_features(&size_matrix(&zs, g.ng), nv))
        .map(|(n, v)| texture_feature(format!("{n}_3D"), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::grey_levels::tests_support::{check_against_reference, phantom_levels};

    /// The IBSI digital phantom: all 16 GLSZM values to IBSI's three significant digits.
    #[test]
    fn ibsi_digital_phantom_glszm() {
        assert_eq!(
            check_against_reference(&glszm_features(&phantom_levels())),
            16
        );
    }
}
