//! Grey-level co-occurrence matrix features (IBSI 1, section 3.6: the 25 `cm_*` features) in 3D:
//! the 13 neighbour directions at distance 1, symmetric matrices, either merged into one matrix
//! (`_3D_comb`) or computed per direction and averaged (`_3D_avg`). Grey levels come from a fixed
//! bin size discretisation (IBSI 2.7.1: level = ⌊(x − min) / w⌋ + 1, with min the region's
//! minimum); integer images with w = 1 keep their levels, as the IBSI digital phantom needs.
//! Checked against the digital phantom's reference values.

use std::borrow::Cow;

use ndarray::Array3;

use super::features::{Feature, UnitKind};
use super::grey_levels::GreyLevels;

/// The 13 directions (dk, dj, di) of a 26-neighbourhood, one of each opposite pair.
pub const DIRECTIONS: [[i64; 3]; 13] = [
    [0, 0, 1],
    [0, 1, 0],
    [0, 1, 1],
    [0, 1, -1],
    [1, 0, 0],
    [1, 0, 1],
    [1, 0, -1],
    [1, 1, 0],
    [1, -1, 0],
    [1, 1, 1],
    [1, 1, -1],
    [1, -1, 1],
    [1, -1, -1],
];

/// Symmetric co-occurrence counts (Ng × Ng, row-major) of one direction.
fn counts(levels: &Array3<u32>, ng: usize, d: [i64; 3]) -> Vec<f64> {
    let (nk, nj, ni) = levels.dim();
    let mut m = vec![0.0; ng * ng];
    for ((k, j, i), &a) in levels.indexed_iter() {
        if a == 0 {
            continue;
        }
        let (k2, j2, i2) = (k as i64 + d[0], j as i64 + d[1], i as i64 + d[2]);
        if k2 < 0 || j2 < 0 || i2 < 0 || k2 >= nk as i64 || j2 >= nj as i64 || i2 >= ni as i64 {
            continue;
        }
        let b = levels[[k2 as usize, j2 as usize, i2 as usize]];
        if b == 0 {
            continue;
        }
        let (a, b) = (a as usize - 1, b as usize - 1);
        m[a * ng + b] += 1.0;
        m[b * ng + a] += 1.0;
    }
    m
}

/// The 25 IBSI features of a (count) matrix, in IBSI order, named `cm_<name>`.
fn matrix_features(m: &[f64], ng: usize) -> Option<Vec<(&'static str, f64)>> {
    let total: f64 = m.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let p: Vec<f64> = m.iter().map(|c| c / total).collect();
    let at = |i: usize, j: usize| p[i * ng + j];
    let lg = |x: f64| if x > 0.0 { x * x.log2() } else { 0.0 };
    let px: Vec<f64> = (0..ng).map(|i| (0..ng).map(|j| at(i, j)).sum()).collect();
    let mut pdiff = vec![0.0; ng];
    let mut psum = vec![0.0; 2 * ng + 1];
    for i in 0..ng {
        for j in 0..ng {
            pdiff[i.abs_diff(j)] += at(i, j);
            psum[i + j + 2] += at(i, j);
        }
    }
    // Levels are 1-based in the formulas.
    let lv = |i: usize| (i + 1) as f64;
    let mu: f64 = (0..ng).map(|i| lv(i) * px[i]).sum();
    let var_i: f64 = (0..ng).map(|i| (lv(i) - mu).powi(2) * px[i]).sum();
    let (mut joint_max, mut joint_avg, mut joint_var, mut hxy) = (0.0f64, 0.0, 0.0, 0.0);
    let (mut energy, mut contrast, mut dissim) = (0.0, 0.0, 0.0);
    let (mut idiff, mut idn, mut idm, mut idmn) = (0.0, 0.0, 0.0, 0.0);
    let (mut cov, mut auto, mut tend, mut shade, mut prom) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut hxy1, mut hxy2) = (0.0, 0.0);
    let n = ng as f64;
    for i in 0..ng {
        for j in 0..ng {
            let v = at(i, j);
            let (a, b) = (lv(i), lv(j));
            let d = (a - b).abs();
            joint_max = joint_max.max(v);
            joint_avg += a * v;
            hxy -= lg(v);
            energy += v * v;
            contrast += d * d * v;
            dissim += d * v;
            idiff += v / (1.0 + d);
            idn += v / (1.0 + d / n);
            idm += v / (1.0 + d * d);
            idmn += v / (1.0 + d * d / (n * n));
            cov += (a - mu) * (b - mu) * v;
            auto += a * b * v;
            let c = a + b - 2.0 * mu;
            tend += c * c * v;
            shade += c * c * c * v;
            prom += c * c * c * c * v;
            let q = px[i] * px[j];
            if q > 0.0 {
                hxy1 -= v * q.log2();
                hxy2 -= q * q.log2();
            }
        }
    }
    for i in 0..ng {
        for j in 0..ng {
            joint_var += (lv(i) - joint_avg).powi(2) * at(i, j);
        }
    }
    let diff_avg: f64 = (0..ng).map(|k| k as f64 * pdiff[k]).sum();
    let diff_var: f64 = (0..ng)
        .map(|k| (k as f64 - diff_avg).powi(2) * pdiff[k])
        .sum();
    let diff_entr: f64 = -pdiff.iter().map(|x| lg(*x)).sum::<f64>();
    let sum_avg: f64 = (2..=2 * ng).map(|k| k as f64 * psum[k]).sum();
    let sum_var: f64 = (2..=2 * ng)
        .map(|k| (k as f64 - sum_avg).powi(2) * psum[k])
        .sum();
    let sum_entr: f64 = -psum.iter().map(|x| lg(*x)).sum::<f64>();
    let inv_var: f64 = (1..ng).map(|k| pdiff[k] / (k * k) as f64).sum();
    let hx: f64 = -px.iter().map(|x| lg(*x)).sum::<f64>();
    let corr = if var_i > 0.0 { cov / var_i } else { f64::NAN };
    let info1 = if hx > 0.0 {
        (hxy - hxy1) / hx
    } else {
        f64::NAN
    };
    let info2 = (1.0 - (-2.0 * (hxy2 - hxy)).exp()).max(0.0).sqrt();
    Some(vec![
        ("cm_joint_max", joint_max),
        ("cm_joint_avg", joint_avg),
        ("cm_joint_var", joint_var),
        ("cm_joint_entr", hxy),
        ("cm_diff_avg", diff_avg),
        ("cm_diff_var", diff_var),
        ("cm_diff_entr", diff_entr),
        ("cm_sum_avg", sum_avg),
        ("cm_sum_var", sum_var),
        ("cm_sum_entr", sum_entr),
        ("cm_energy", energy),
        ("cm_contrast", contrast),
        ("cm_dissimilarity", dissim),
        ("cm_inv_diff", idiff),
        ("cm_inv_diff_norm", idn),
        ("cm_inv_diff_mom", idm),
        ("cm_inv_diff_mom_norm", idmn),
        ("cm_inv_var", inv_var),
        ("cm_corr", corr),
        ("cm_auto_corr", auto),
        ("cm_clust_tend", tend),
        ("cm_clust_shade", shade),
        ("cm_clust_prom", prom),
        ("cm_info_corr1", info1),
        ("cm_info_corr2", info2),
    ])
}

/// GLCM features of the region's grey levels, 3D merged (`_3D_comb`) and 3D averaged
/// (`_3D_avg`). Dimensionless.
pub fn glcm_features(g: &GreyLevels) -> Vec<Feature> {
    let (levels, ng) = (&g.levels, g.ng);
    if ng == 0 {
        return Vec::new();
    }
    let per_direction: Vec<Vec<f64>> = DIRECTIONS.iter().map(|d| counts(levels, ng, *d)).collect();
    let mut merged = vec![0.0; ng * ng];
    for m in &per_direction {
        for (a, b) in merged.iter_mut().zip(m) {
            *a += b;
        }
    }
    let mut out = Vec::new();
    if let Some(f) = matrix_features(&merged, ng) {
        out.extend(f.into_iter().map(|(name, value)| Feature {
            name: Cow::Owned(format!("{name}_3D_comb")),
            value,
            unit_kind: UnitKind::Dimensionless,
        }));
    }
    let each: Vec<Vec<(&str, f64)>> = per_direction
        .iter()
        .filter_map(|m| matrix_features(m, ng))
        .collect();
    if let Some(first) = each.first() {
        for (idx, (name, _)) in first.iter().enumerate() {
            let mean = each.iter().map(|f| f[idx].1).sum::<f64>() / each.len() as f64;
            out.push(Feature {
                name: Cow::Owned(format!("{name}_3D_avg")),
                value: mean,
                unit_kind: UnitKind::Dimensionless,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::grey_levels::tests_support::{check_against_reference, phantom_levels};

    /// The IBSI digital phantom: all 50 GLCM values (3D merged and averaged) to the three
    /// significant digits IBSI gives.
    #[test]
    fn ibsi_digital_phantom_glcm() {
        let feats = glcm_features(&phantom_levels());
        assert_eq!(feats.len(), 50);
        assert_eq!(check_against_reference(&feats), 50);
    }
}
