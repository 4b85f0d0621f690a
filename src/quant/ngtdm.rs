//! Neighbourhood grey tone difference matrix features (IBSI 1, section 3.10: the 5 `ngt_*`
//! features) in 3D: for each region voxel, the absolute difference between its grey level and the
//! mean level of its 26 neighbours inside the region (voxels with no such neighbour left out).
//! Fixed-bin-size levels as for the GLCM. Checked against the IBSI digital phantom.

use std::borrow::Cow;

use super::features::{Feature, UnitKind};
use super::glcm::discretise;
use crate::volume::Volume;

/// The 5 NGTDM features of the region (`ngt_*_3D`), grey levels of fixed bin size `bin_width`.
pub fn ngtdm_features(
    image: &Volume,
    in_roi: &dyn Fn(usize, usize, usize) -> bool,
    bin_width: f64,
) -> Vec<Feature> {
    let (levels, ng) = discretise(image, in_roi, bin_width);
    let (nk, nj, ni) = levels.dim();
    let mut s = vec![0.0f64; ng];
    let mut n = vec![0.0f64; ng];
    for ((k, j, i), &l) in levels.indexed_iter() {
        if l == 0 {
            continue;
        }
        let (mut sum, mut count) = (0.0, 0.0);
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
                    let m = levels[[a as usize, b as usize, c as usize]];
                    if m > 0 {
                        sum += m as f64;
                        count += 1.0;
                    }
                }
            }
        }
        if count > 0.0 {
            let idx = l as usize - 1;
            s[idx] += (l as f64 - sum / count).abs();
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

    /// The IBSI digital phantom: all 5 NGTDM values to IBSI's three significant digits.
    #[test]
    fn ibsi_digital_phantom_ngtdm() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/ibsi1-phantom");
        let image = read_volume(&root.join("image.nii.gz")).unwrap();
        let mask = read_volume(&root.join("mask.nii.gz")).unwrap();
        let feats = ngtdm_features(&image, &|k, j, i| mask.data[[k, j, i]] > 0.5, 1.0);
        assert_eq!(
            crate::quant::glcm::tests_support::check_against_reference(&feats),
            5
        );
    }
}
