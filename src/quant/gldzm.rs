//! Grey-level distance zone matrix features (IBSI 1, section 3.9: the 16 `dzm_*` features) in 3D:
//! the zones of the GLSZM (26-connected, one grey level), each at the smallest distance of its
//! voxels to the region's border — 1 for a voxel face-adjacent to a voxel outside the region (or
//! to the image edge), counted in face steps (6-connectivity). Fixed-bin-size levels as for the
//! GLCM. Checked against the IBSI digital phantom.

use std::borrow::Cow;
use std::collections::VecDeque;

use ndarray::Array3;

use super::features::{Feature, UnitKind};
use super::glcm::discretise;
use super::glszm::size_matrix_features;
use crate::volume::Volume;

const NAMES: [&str; 16] = [
    "dzm_sde",
    "dzm_lde",
    "dzm_lgze",
    "dzm_hgze",
    "dzm_sdlge",
    "dzm_sdhge",
    "dzm_ldlge",
    "dzm_ldhge",
    "dzm_glnu",
    "dzm_glnu_norm",
    "dzm_zdnu",
    "dzm_zdnu_norm",
    "dzm_z_perc",
    "dzm_gl_var",
    "dzm_zd_var",
    "dzm_zd_entr",
];

const FACES: [[i64; 3]; 6] = [
    [1, 0, 0],
    [-1, 0, 0],
    [0, 1, 0],
    [0, -1, 0],
    [0, 0, 1],
    [0, 0, -1],
];

/// Face-step distance of every region voxel to the border (0 outside the region).
pub fn border_distance(levels: &Array3<u32>) -> Array3<u32> {
    let (nk, nj, ni) = levels.dim();
    let mut dist = Array3::<u32>::zeros((nk, nj, ni));
    let mut queue = VecDeque::new();
    let at = |k: i64, j: i64, i: i64| -> Option<[usize; 3]> {
        (k >= 0 && j >= 0 && i >= 0 && k < nk as i64 && j < nj as i64 && i < ni as i64)
            .then_some([k as usize, j as usize, i as usize])
    };
    // Border voxels: a face neighbour outside the region or beyond the image.
    for ((k, j, i), &l) in levels.indexed_iter() {
        if l == 0 {
            continue;
        }
        let border = FACES.iter().any(|f| {
            at(k as i64 + f[0], j as i64 + f[1], i as i64 + f[2]).is_none_or(|p| levels[p] == 0)
        });
        if border {
            dist[[k, j, i]] = 1;
            queue.push_back([k, j, i]);
        }
    }
    while let Some([k, j, i]) = queue.pop_front() {
        let d = dist[[k, j, i]];
        for f in FACES {
            if let Some(p) = at(k as i64 + f[0], j as i64 + f[1], i as i64 + f[2]) {
                if levels[p] != 0 && dist[p] == 0 {
                    dist[p] = d + 1;
                    queue.push_back(p);
                }
            }
        }
    }
    dist
}

/// The 16 GLDZM features of the region (`dzm_*_3D`), grey levels of fixed bin size `bin_width`.
pub fn gldzm_features(
    image: &Volume,
    in_roi: &dyn Fn(usize, usize, usize) -> bool,
    bin_width: f64,
) -> Vec<Feature> {
    let (levels, ng) = discretise(image, in_roi, bin_width);
    let nv = levels.iter().filter(|l| **l > 0).count();
    if nv == 0 {
        return Vec::new();
    }
    let dist = border_distance(&levels);
    // Zones (26-connected, one level) with their smallest border distance.
    let (nk, nj, ni) = levels.dim();
    let mut seen = Array3::<bool>::from_elem((nk, nj, ni), false);
    let mut zones: Vec<(u32, u32)> = Vec::new();
    let mut stack = Vec::new();
    for ((k, j, i), &l) in levels.indexed_iter() {
        if l == 0 || seen[[k, j, i]] {
            continue;
        }
        seen[[k, j, i]] = true;
        stack.push([k, j, i]);
        let mut d_min = u32::MAX;
        while let Some([k, j, i]) = stack.pop() {
            d_min = d_min.min(dist[[k, j, i]]);
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
                            stack.push(p);
                        }
                    }
                }
            }
        }
        zones.push((l, d_min));
    }
    let max_d = zones.iter().map(|z| z.1).max().unwrap_or(1) as usize;
    let mut s = vec![vec![0.0f64; max_d]; ng];
    for &(l, d) in &zones {
        s[l as usize - 1][d as usize - 1] += 1.0;
    }
    NAMES
        .iter()
        .zip(size_matrix_features(&s, nv as f64))
        .map(|(n, value)| Feature {
            name: Cow::Owned(format!("{n}_3D")),
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

    /// The IBSI digital phantom: all 16 GLDZM values to IBSI's three significant digits.
    #[test]
    fn ibsi_digital_phantom_gldzm() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/ibsi1-phantom");
        let image = read_volume(&root.join("image.nii.gz")).unwrap();
        let mask = read_volume(&root.join("mask.nii.gz")).unwrap();
        let feats = gldzm_features(&image, &|k, j, i| mask.data[[k, j, i]] > 0.5, 1.0);
        assert_eq!(
            crate::quant::glcm::tests_support::check_against_reference(&feats),
            16
        );
    }

    #[test]
    fn border_distance_of_a_cube() {
        // A 5×5×5 cube filling its grid: the image edge is the border; the centre is 3 steps in.
        let l = Array3::<u32>::from_elem((5, 5, 5), 1);
        let d = border_distance(&l);
        assert_eq!(d[[0, 2, 2]], 1);
        assert_eq!(d[[1, 2, 2]], 2);
        assert_eq!(d[[2, 2, 2]], 3);
    }
}
