//! Neighbourhood grey tone difference matrix features (IBSI 1, section 3.10: the 5 `ngt_*`
//! features) in 3D: for each region voxel, the absolute difference between its grey level and the
//! mean level of its 26 neighbours inside the region (voxels with no such neighbour left out).
//! Fixed-bin-size levels as for the GLCM. Checked against the IBSI digital phantom.

use super::features::Feature;
use super::grey_levels::{neighbours26, texture_feature, GreyLevels};

/// The 5 NGTDM features of the region's grey levels (`ngt_*_3D`).
pub fn ngtdm_features(g: &GreyLevels) -> Vec<Feature> {
    let (levels, ng) = (&g.levels, g.ng);
    let mut s = vec![0.0f64; ng];
    let mut n = vec![0.0f64; ng];
    for ((k, j, i), &l) in levels.indexed_iter() {
        if l == 0 {
            continue;
        }
        let around: Vec<f64> = neighbours26(levels.dim(), [k, j, i])
            .map(|q| levels[q])
            .filter(|m| *m > 0)
            .map(f64::from)
            .collect();
        if !around.is_empty() {
            let idx = l as usize - 1;
            s[idx] += (l as f64 - around.iter().sum::<f64>() / around.len() as f64).abs();
            n[idx] += 1.0;
        }
    }
    let nvc: f64 = n.iter().sum();
    if nvc == 0.0 {
        return Vec::new();
    }
    let p: Vec<f64> = n.iter().map(|x| x / nvc).collect();
    let present: Vec<usize> = (0..ng).filter(|&i| p[i] > 0.0).collect();
    let ngp = present.len() as f64;
    let lv = |i: usize| (i + 1) as f64;
    let ps: f64 = (0..ng).map(|i| p[i] * s[i]).sum();
    let s_total: f64 = s.iter().sum();
    let (mut contrast, mut busy_den, mut complexity, mut strength) = (0.0, 0.0, 0.0, 0.0);
    for &i in &present {
        for &j in &present {
            let d = lv(i) - lv(j);
            contrast += p[i] * p[j] * d * d;
            busy_den += (lv(i) * p[i] - lv(j) * p[j]).abs();
            complexity += d.abs() * (p[i] * s[i] + p[j] * s[j]) / (p[i] + p[j]);
            strength += (p[i] + p[j]) * d * d;
        }
    }
    let contrast = if ngp > 1.0 {
        contrast / (ngp * (ngp - 1.0)) * s_total / nvc
    } else {
        0.0
    };
    let values = [
        ("ngt_coarseness", if ps > 0.0 { 1.0 / ps } else { 1e6 }),
        ("ngt_contrast", contrast),
        (
            "ngt_busyness",
            if busy_den > 0.0 { ps / busy_den } else { 0.0 },
        ),
        ("ngt_complexity", complexity / nvc),
        (
            "ngt_strength",
            if s_total > 0.0 {
                strength / s_total
            } else {
                0.0
            },
        ),
    ];
    values
        .into_iter()
        .map(|(name, value)| texture_feature(format!("{name}_3D"), value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::grey_levels::tests_support::{check_against_reference, phantom_levels};

    /// The IBSI digital phantom: all 5 NGTDM values to IBSI's three significant digits.
    #[test]
    fn ibsi_digital_phantom_ngtdm() {
        assert_eq!(
            check_against_reference(&ngtdm_features(&phantom_levels())),
            5
        );
    }
}
