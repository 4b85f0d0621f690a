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

/// A size (run-length, distance) matrix, sparse: its non-zero cells `(level, size, count)`, both
/// 1-based, in row-major order. Memory follows the zones (runs), not Ng × the largest size: a
/// large zone with a fine bin width costs no more than with a coarse one.
pub type SizeCells = Vec<(u32, usize, f64)>;

/// How many of `pairs` have each (grey level, size (distance)).
pub fn size_matrix(pairs: &[(u32, usize)]) -> SizeCells {
    let mut sorted = pairs.to_vec();
    sorted.sort_unstable();
    let mut out: SizeCells = Vec::new();
    for (l, size) in sorted {
        match out.last_mut() {
            Some(last) if last.0 == l && last.1 == size => last.2 += 1.0,
            _ => out.push((l, size, 1.0)),
        }
    }
    out
}

/// The 16 features shared by the size-zone and run-length matrices (IBSI 3.7, 3.8), in IBSI
/// order: `s` counts zones (runs) by grey level and size (length); `nv` is the voxel count the
/// percentage divides by. Sums run over the non-zero cells in row-major order, as a dense loop
/// adds them (zero cells add nothing), so the values do not depend on the representation.
pub fn size_matrix_features(s: &SizeCells, nv: f64) -> [f64; 16] {
    let ns: f64 = s.iter().map(|c| c.2).sum();
    let max_level = s.iter().map(|c| c.0 as usize).max().unwrap_or(0);
    let max_size = s.iter().map(|c| c.1).max().unwrap_or(0);
    let mut row = vec![0.0; max_level];
    let mut col = vec![0.0; max_size];
    for &(l, size, c) in s {
        row[l as usize - 1] += c;
        col[size - 1] += c;
    }
    let (mut szlge, mut szhge, mut lzlge, mut lzhge) = (0.0, 0.0, 0.0, 0.0);
    let (mut mu_i, mut mu_j, mut entr) = (0.0, 0.0, 0.0);
    for &(l, size, c) in s {
        let (a, b) = (l as f64, size as f64);
        szlge += c / (a * a * b * b);
        szhge += c * a * a / (b * b);
        lzlge += c * b * b / (a * a);
        lzhge += c * a * a * b * b;
        let p = c / ns;
        mu_i += a * p;
        mu_j += b * p;
        entr -= p * p.log2();
    }
    let (mut gl_var, mut zs_var) = (0.0, 0.0);
    for &(l, size, c) in s {
        let p = c / ns;
        gl_var += (l as f64 - mu_i).powi(2) * p;
        zs_var += (size as f64 - mu_j).powi(2) * p;
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
        .zip(size_matrix_features(&size_matrix(&zs), nv))
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
