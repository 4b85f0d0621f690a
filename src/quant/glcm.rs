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

/// A symmetric co-occurrence matrix, sparse: its non-zero cells `(i, j, count)` (0-based levels)
/// in row-major order. Cost and memory follow the region's voxel pairs, not Ng²: a fine bin
/// width on a wide-ranged image (thousands of levels) stays as cheap as a coarse one.
type Sparse = Vec<(u32, u32, f64)>;

/// Below this many cells (Ng²), counts are gathered in a dense matrix; above, by sorting the
/// voxel pairs. Both give the same cells in the same order.
const DENSE_CELLS: usize = 1 << 16;

/// The level pairs (0-based, both orders) of region voxels `d` apart, as `i * ng + j` keys.
fn pairs(levels: &Array3<u32>, ng: usize, d: [i64; 3], mut put: impl FnMut(usize)) {
    let (nk, nj, ni) = levels.dim();
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
        put(a * ng + b);
        put(b * ng + a);
    }
}

/// The non-zero cells of sorted `i * ng + j` keys, counted.
fn cells_of_sorted(keys: &[usize], ng: usize) -> Sparse {
    let mut out: Sparse = Vec::new();
    for &key in keys {
        let (i, j) = ((key / ng) as u32, (key % ng) as u32);
        match out.last_mut() {
            Some(last) if last.0 == i && last.1 == j => last.2 += 1.0,
            _ => out.push((i, j, 1.0)),
        }
    }
    out
}

/// Symmetric co-occurrence counts of one direction.
fn counts(levels: &Array3<u32>, ng: usize, d: [i64; 3]) -> Sparse {
    if ng * ng <= DENSE_CELLS {
        let mut m = vec![0.0; ng * ng];
        pairs(levels, ng, d, |key| m[key] += 1.0);
        return m
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0.0)
            .map(|(key, &c)| ((key / ng) as u32, (key % ng) as u32, c))
            .collect();
    }
    let mut keys = Vec::new();
    pairs(levels, ng, d, |key| keys.push(key));
    keys.sort_unstable();
    cells_of_sorted(&keys, ng)
}

/// The cell-wise sum of sparse matrices (counts are whole numbers: exact in any order).
fn merge(matrices: &[Sparse]) -> Sparse {
    let mut all: Sparse = matrices.iter().flatten().copied().collect();
    all.sort_unstable_by_key(|c| (c.0, c.1));
    let mut out: Sparse = Vec::with_capacity(all.len());
    for c in all {
        match out.last_mut() {
            Some(last) if last.0 == c.0 && last.1 == c.1 => last.2 += c.2,
            _ => out.push(c),
        }
    }
    out
}

/// The 25 IBSI features of a (count) matrix, in IBSI order, named `cm_<name>`.
/// Sums run over the non-zero cells in row-major order, as a dense loop adds them (a zero cell
/// adds nothing to any of them), so the values do not depend on the representation.
fn matrix_features(m: &Sparse, ng: usize) -> Option<Vec<(&'static str, f64)>> {
    let total: f64 = m.iter().map(|c| c.2).sum();
    if total <= 0.0 {
        return None;
    }
    let p: Vec<(usize, usize, f64)> = m
        .iter()
        .map(|&(i, j, c)| (i as usize, j as usize, c / total))
        .collect();
    let lg = |x: f64| if x > 0.0 { x * x.log2() } else { 0.0 };
    let mut px = vec![0.0; ng];
    let mut pdiff = vec![0.0; ng];
    let mut psum = vec![0.0; 2 * ng + 1];
    for &(i, j, v) in &p {
        px[i] += v;
        pdiff[i.abs_diff(j)] += v;
        psum[i + j + 2] += v;
    }
    // Levels are 1-based in the formulas.
    let lv = |i: usize| (i + 1) as f64;
    let mu: f64 = (0..ng).map(|i| lv(i) * px[i]).sum();
    let var_i: f64 = (0..ng).map(|i| (lv(i) - mu).powi(2) * px[i]).sum();
    let (mut joint_max, mut joint_avg, mut joint_var, mut hxy) = (0.0f64, 0.0, 0.0, 0.0);
    let (mut energy, mut contrast, mut dissim) = (0.0, 0.0, 0.0);
    let (mut idiff, mut idn, mut idm, mut idmn) = (0.0, 0.0, 0.0, 0.0);
    let (mut cov, mut auto, mut tend, mut shade, mut prom) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut hxy1 = 0.0;
    let n = ng as f64;
    for &(i, j, v) in &p {
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
        // v > 0, so both marginals are.
        hxy1 -= v * (px[i] * px[j]).log2();
    }
    for &(i, _, v) in &p {
        joint_var += (lv(i) - joint_avg).powi(2) * v;
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
    // HXY2 = −Σᵢⱼ pₓ(i) pₓ(j) log₂(pₓ(i) pₓ(j)) over every cell, zero or not; it separates into
    // 2 · HX · Σ pₓ (the matrix is symmetric), which needs no Ng² loop.
    let hxy2 = 2.0 * hx * px.iter().sum::<f64>();
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
    let per_direction: Vec<Sparse> = DIRECTIONS.iter().map(|d| counts(levels, ng, *d)).collect();
    let merged = merge(&per_direction);
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

    /// Levels 0..=ng (0 outside) spread over a small grid, the same for any run.
    fn scattered_levels(ng: usize) -> Array3<u32> {
        Array3::from_shape_fn((6, 7, 8), |(k, j, i)| {
            ((k * 7919 + j * 104_729 + i * 1_299_709) % (ng + 1)) as u32
        })
    }

    /// Gathering counts in a dense matrix (few levels) and sorting voxel pairs (many) give the
    /// same cells in the same order, in every direction.
    #[test]
    fn dense_and_sorted_counts_agree() {
        for ng in [40, 300] {
            let levels = scattered_levels(ng);
            for d in DIRECTIONS {
                let mut dense = vec![0.0; ng * ng];
                pairs(&levels, ng, d, |key| dense[key] += 1.0);
                let mut keys = Vec::new();
                pairs(&levels, ng, d, |key| keys.push(key));
                keys.sort_unstable();
                let from_dense: Sparse = dense
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0.0)
                    .map(|(key, &c)| ((key / ng) as u32, (key % ng) as u32, c))
                    .collect();
                assert!(!from_dense.is_empty());
                assert_eq!(cells_of_sorted(&keys, ng), from_dense, "ng {ng}, {d:?}");
                assert_eq!(counts(&levels, ng, d), from_dense, "ng {ng}, {d:?}");
            }
        }
    }

    /// Information correlation 2 from HXY2 = 2 · HX, against the definition's Ng² sum over
    /// every cell (IBSI 3.6.25), on a matrix with empty rows and cells.
    #[test]
    fn info_corr2_equals_the_sum_over_every_cell() {
        let ng = 200;
        let m = counts(&scattered_levels(ng), ng, [0, 1, 1]);
        let total: f64 = m.iter().map(|c| c.2).sum();
        let mut dense = vec![0.0; ng * ng];
        for &(i, j, c) in &m {
            dense[i as usize * ng + j as usize] = c / total;
        }
        let px: Vec<f64> = (0..ng)
            .map(|i| (0..ng).map(|j| dense[i * ng + j]).sum())
            .collect();
        assert!(px.contains(&0.0));
        let (mut hxy, mut hxy2) = (0.0, 0.0);
        for i in 0..ng {
            for j in 0..ng {
                let (p, q) = (dense[i * ng + j], px[i] * px[j]);
                if p > 0.0 {
                    hxy -= p * p.log2();
                }
                if q > 0.0 {
                    hxy2 -= q * q.log2();
                }
            }
        }
        let expected = (1.0 - (-2.0 * (hxy2 - hxy)).exp()).sqrt();
        let got = matrix_features(&m, ng)
            .unwrap()
            .into_iter()
            .find(|f| f.0 == "cm_info_corr2")
            .unwrap()
            .1;
        assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
        assert!(got > 0.0 && got < 1.0);
    }
}
