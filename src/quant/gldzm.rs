//! Grey-level distance zone matrix features (IBSI 1, section 3.9: the 16 `dzm_*` features) in 3D:
//! the zones of the GLSZM (26-connected, one grey level), each at the smallest distance of its
//! voxels to the region's border — 1 for a voxel face-adjacent to a voxel outside the region (or
//! to the image edge), counted in face steps (6-connectivity). The border is the morphological
//! mask's: a voxel without a number inside the region is in no zone but is no border either. Fixed-bin-size levels as for the
//! GLCM. Checked against the IBSI digital phantom.

use std::collections::VecDeque;

use ndarray::Array3;

use super::features::Feature;
use super::glszm::{size_matrix, size_matrix_features, zones};
use super::grey_levels::{texture_feature, GreyLevels};

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
pub fn border_distance(region: &Array3<bool>) -> Array3<u32> {
    let (nk, nj, ni) = region.dim();
    let mut dist = Array3::<u32>::zeros((nk, nj, ni));
    let mut queue = VecDeque::new();
    let at = |k: i64, j: i64, i: i64| -> Option<[usize; 3]> {
        (k >= 0 && j >= 0 && i >= 0 && k < nk as i64 && j < nj as i64 && i < ni as i64)
            .then_some([k as usize, j as usize, i as usize])
    };
    // Border voxels: a face neighbour outside the region or beyond the image.
    for ((k, j, i), &inside) in region.indexed_iter() {
        if !inside {
            continue;
        }
        let border = FACES.iter().any(|f| {
            at(k as i64 + f[0], j as i64 + f[1], i as i64 + f[2]).is_none_or(|p| !region[p])
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
                if region[p] && dist[p] == 0 {
                    dist[p] = d + 1;
                    queue.push_back(p);
                }
            }
        }
    }
    dist
}

/// The 16 GLDZM features of the region's grey levels (`dzm_*_3D`).
pub fn gldzm_features(g: &GreyLevels) -> Vec<Feature> {
    let nv = g.levels.iter().filter(|l| **l > 0).count();
    if nv == 0 {
        return Vec::new();
    }
    // The distance from the morphological mask, the zones from the intensity mask (IBSI 1,
    // 3.9): a voxel without a number inside the region is no border.
    let dist = border_distance(&g.morphological);
    // The GLSZM's zones, each at the smallest border distance of its voxels.
    let mut nearest: Vec<u32> = Vec::new();
    let zones = zones(&g.levels, |zone, p| {
        if zone == nearest.len() {
            nearest.push(u32::MAX);
        }
        nearest[zone] = nearest[zone].min(dist[p]);
    });
    let pairs: Vec<(u32, usize)> = zones
        .iter()
        .zip(&nearest)
        .map(|(&(l, _), &d)| (l, d as usize))
        .collect();
    NAMES
        .iter()
        .zip(size_matrix_features(&size_matrix(&pairs), nv as f64))
        .map(|(n, v)| texture_feature(format!("{n}_3D"), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::grey_levels::tests_support::{check_against_reference, phantom_levels};

    /// The IBSI digital phantom: all 16 GLDZM values to IBSI's three significant digits.
    #[test]
    fn ibsi_digital_phantom_gldzm() {
        assert_eq!(
            check_against_reference(&gldzm_features(&phantom_levels())),
            16
        );
    }

    /// IBSI 1, 3.9: the distances from the morphological mask, the zones from the intensity
    /// mask. A 7³ region of level 1 holding a 3³ block of level 2 whose centre holds no number,
    /// and one voxel of level 3: zones (1, distance 1), (2, distance 3), (3, distance 2). Taken
    /// from the intensity mask, the block's zone was at distance 1 (SDE 0.75, LDE 2).
    #[test]
    fn a_voxel_without_a_number_is_no_border() {
        use crate::quant::grey_levels::discretise;
        use crate::volume::{Geometry, Volume};
        let mut data = Array3::<f32>::from_elem((9, 9, 9), 1.0);
        data.slice_mut(ndarray::s![3..6, 3..6, 3..6]).fill(2.0);
        data[[2, 2, 6]] = 3.0;
        data[[4, 4, 4]] = f32::NAN;
        let image = Volume {
            data,
            geometry: Geometry::axial([0.0; 3], [1.0; 3]),
        };
        let inside = |k: usize, j: usize, i: usize| [k, j, i].iter().all(|x| (1..8).contains(x));
        let f = gldzm_features(&discretise(&image, &inside, 1.0, None).unwrap());
        let get = |n: &str| f.iter().find(|x| x.name == n).unwrap().value;
        assert!((get("dzm_sde_3D") - (1.0 + 1.0 / 9.0 + 0.25) / 3.0).abs() < 1e-12);
        assert!((get("dzm_lde_3D") - 14.0 / 3.0).abs() < 1e-12);
        assert!((get("dzm_zdnu_3D") - 1.0).abs() < 1e-12);
    }

    #[test]
    fn border_distance_of_a_cube() {
        // A 5×5×5 cube filling its grid: the image edge is the border; the centre is 3 steps in.
        let l = Array3::<bool>::from_elem((5, 5, 5), true);
        let d = border_distance(&l);
        assert_eq!(d[[0, 2, 2]], 1);
        assert_eq!(d[[1, 2, 2]], 2);
        assert_eq!(d[[2, 2, 2]], 3);
    }
}
