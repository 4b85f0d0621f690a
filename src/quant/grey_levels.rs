//! Grey levels for the discretised-intensity and texture families (IBSI 1, 2.7.1 fixed bin size:
//! level = ⌊(x − min) / w⌋ + 1, min a fixed lower bound where one is set (IBSI's recommendation
//! on calibrated units: the bins then do not move with a region's lowest voxel; a voxel below it
//! is left out, as IBSI's re-segmentation leaves it out), else the region's minimum; 0 outside
//! the region), computed once per region and shared by every family, and the 26-neighbourhood
//! they walk.

use std::borrow::Cow;

use ndarray::Array3;

use super::features::{Feature, UnitKind};
use crate::volume::Volume;

/// A region's grey levels (0 outside it) and their number Ng, with what the intensity-volume
/// histogram and the distance zones need besides: the morphological mask (the region whole,
/// voxels without a number too: IBSI 1, 3.1.1), and the lowest and highest intensity and the bin
/// width the levels were made with.
pub struct GreyLevels {
    pub levels: Array3<u32>,
    pub ng: usize,
    pub morphological: Array3<bool>,
    /// The region's lowest intensity, the first bin's lower edge (X_gl,min).
    pub min: f64,
    /// The region's highest intensity.
    pub max: f64,
    pub width: f64,
}

/// The most grey levels a region may have: 2²⁴. The matrices are sparse, but the marginal
/// vectors are Ng long; a bin width that small against the range (10⁻⁹ on a range of 1,000
/// gives 10¹² levels) would also overflow the 32-bit levels.
pub const MAX_LEVELS: f64 = 16_777_216.0;

/// Fixed-bin-size grey levels of the region, from `lower` (a fixed lower bound) or else the
/// region's minimum; None when they would be more than [`MAX_LEVELS`] (no texture for the region
/// then). A voxel that holds no number (NaN, ±inf), or one below `lower`, is outside, level 0, as
/// the features stage's intensity mask leaves it out.
pub fn discretise(
    image: &Volume,
    in_roi: &impl Fn(usize, usize, usize) -> bool,
    bin_width: f64,
    lower: Option<f64>,
) -> Option<GreyLevels> {
    let inside = |k: usize, j: usize, i: usize| {
        let v = image.data[[k, j, i]];
        in_roi(k, j, i) && v.is_finite() && lower.is_none_or(|l| v as f64 >= l)
    };
    let (min, max) = image
        .data
        .indexed_iter()
        .filter(|((k, j, i), _)| inside(*k, *j, *i))
        .map(|(_, v)| *v as f64)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let min = lower.unwrap_or(min);
    if min.is_finite() && max.is_finite() && ((max - min) / bin_width).floor() + 1.0 > MAX_LEVELS {
        return None;
    }
    let mut ng = 0usize;
    let levels = Array3::from_shape_fn(image.data.dim(), |(k, j, i)| {
        if !inside(k, j, i) {
            return 0;
        }
        let l = ((image.data[[k, j, i]] as f64 - min) / bin_width).floor() as u32 + 1;
        ng = ng.max(l as usize);
        l
    });
    let morphological = Array3::from_shape_fn(image.data.dim(), |(k, j, i)| in_roi(k, j, i));
    Some(GreyLevels {
        levels,
        ng,
        morphological,
        min,
        max,
        width: bin_width,
    })
}

/// A texture feature (texture features are dimensionless).
pub fn texture_feature(name: String, value: f64) -> Feature {
    Feature {
        name: Cow::Owned(name),
        value,
        unit_kind: UnitKind::Dimensionless,
    }
}

/// The (up to 26) neighbours of voxel `p` inside a grid of `dims`, the voxel itself left out.
pub fn neighbours26(
    dims: (usize, usize, usize),
    p: [usize; 3],
) -> impl Iterator<Item = [usize; 3]> {
    let (nk, nj, ni) = (dims.0 as i64, dims.1 as i64, dims.2 as i64);
    (0..27).filter_map(move |n| {
        let d = [n / 9 - 1, n / 3 % 3 - 1, n % 3 - 1];
        let q = [p[0] as i64 + d[0], p[1] as i64 + d[1], p[2] as i64 + d[2]];
        let inside =
            d != [0, 0, 0] && q.iter().all(|x| *x >= 0) && q[0] < nk && q[1] < nj && q[2] < ni;
        inside.then(|| q.map(|x| x as usize))
    })
}

/// Test support shared by the texture modules: the IBSI digital phantom as grey levels (its
/// integer values, bin width 1), and a comparison of features with its reference values (three
/// significant digits) that returns how many were checked.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::{discretise, GreyLevels};
    use crate::quant::features::Feature;
    use crate::volume::nifti_io::read_volume;
    use std::path::Path;

    fn root() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/ibsi1-phantom")
    }

    pub fn phantom_levels() -> GreyLevels {
        let image = read_volume(&root().join("image.nii.gz")).unwrap();
        let mask = read_volume(&root().join("mask.nii.gz")).unwrap();
        discretise(&image, &|k, j, i| mask.data[[k, j, i]] > 0.5, 1.0, None).unwrap()
    }

    pub fn check_against_reference(feats: &[Feature]) -> usize {
        let mut reader = csv::Reader::from_path(root().join("reference-values.csv")).unwrap();
        let mut failures = Vec::new();
        let mut checked = 0;
        for rec in reader.records() {
            let rec = rec.unwrap();
            let Some(f) = feats.iter().find(|f| f.name == rec[7]) else {
                continue;
            };
            let reference: f64 = rec[3].parse().unwrap();
            let scale = 10f64.powf(reference.abs().log10().floor() - 2.0);
            if (f.value - reference).abs() > 0.5 * scale + 1e-12 {
                failures.push(format!("{}: {} vs IBSI {}", f.name, f.value, reference));
            }
            checked += 1;
        }
        assert!(failures.is_empty(), "{failures:#?}");
        checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_bin_size_levels() {
        // Values 0.5, 0.625, 0.75, 1.5 with w = 0.25 from min 0.5: ⌊0/0.25⌋+1 = 1,
        // ⌊0.125/0.25⌋+1 = 1, ⌊0.25/0.25⌋+1 = 2, ⌊1/0.25⌋+1 = 5.
        let v = Volume {
            data: Array3::from_shape_vec((1, 1, 4), vec![0.5, 0.625, 0.75, 1.5]).unwrap(),
            geometry: crate::volume::Geometry::axial([0.0; 3], [1.0; 3]),
        };
        let g = discretise(&v, &|_, _, _| true, 0.25, None).unwrap();
        assert_eq!(
            g.levels.iter().copied().collect::<Vec<_>>(),
            vec![1, 1, 2, 5]
        );
        assert_eq!(g.ng, 5);
    }

    /// A fixed lower bound (IBSI's fixed bin size from a set minimum): the bins are multiples
    /// of the width from it, whatever the region's lowest voxel (from the region's minimum, moving
    /// that voxel from 2.05 to 2.20 SUV moved every bin edge: a radiomics audit); a voxel below
    /// it is left out.
    #[test]
    fn fixed_bin_size_from_a_set_lower_bound() {
        let levels = |values: Vec<f32>, lower: Option<f64>| {
            let v = Volume {
                data: Array3::from_shape_vec((1, 1, values.len()), values).unwrap(),
                geometry: crate::volume::Geometry::axial([0.0; 3], [1.0; 3]),
            };
            let g = discretise(&v, &|_, _, _| true, 0.25, lower).unwrap();
            (g.levels.iter().copied().collect::<Vec<_>>(), g.ng, g.min)
        };
        // From 0: ⌊x / 0.25⌋ + 1.
        let (a, ng, min) = levels(vec![2.05, 2.6, 3.1, -0.1], Some(0.0));
        assert_eq!((a, ng, min), (vec![9, 11, 13, 0], 13, 0.0));
        // The lowest voxel moved within its bin: every level the same.
        assert_eq!(
            levels(vec![2.20, 2.6, 3.1, -0.1], Some(0.0)).0,
            vec![9, 11, 13, 0]
        );
        // From the region's minimum: they move.
        assert_eq!(levels(vec![2.05, 2.6, 3.1], None).0, vec![1, 3, 5]);
        assert_eq!(levels(vec![2.20, 2.6, 3.1], None).0, vec![1, 2, 4]);
    }

    /// A region whose levels span 0.4 million bins (a fine bin width on a wide-ranged image):
    /// every texture family costs what its voxels do. Dense matrices (Ng² cells for the GLCM,
    /// Ng × the largest zone for the size matrices) needed terabytes here.
    #[test]
    fn every_texture_family_takes_a_wide_level_range() {
        use crate::quant::{glcm, gldzm, glrlm, glszm, histogram, ngldm, ngtdm};
        let data = Array3::from_shape_fn((4, 5, 6), |(k, j, i)| {
            if (k + j + i) % 5 == 0 {
                400_000.0
            } else {
                (k + j) as f32
            }
        });
        let v = Volume {
            data,
            geometry: crate::volume::Geometry::axial([0.0; 3], [1.0; 3]),
        };
        let g = discretise(&v, &|_, _, _| true, 1.0, None).unwrap();
        assert_eq!(g.ng, 400_001);
        // Past 2²⁴ levels (here 4·10¹¹; as 32-bit levels they overflowed): no texture.
        assert!(discretise(&v, &|_, _, _| true, 1e-6, None).is_none());
        let families = [
            histogram::histogram_features(&g, true),
            glcm::glcm_features(&g),
            glrlm::glrlm_features(&g),
            glszm::glszm_features(&g),
            ngtdm::ngtdm_features(&g),
            gldzm::gldzm_features(&g),
            ngldm::ngldm_features(&g),
        ];
        for f in &families {
            assert!(!f.is_empty());
            assert!(
                f.iter().filter(|f| f.value.is_finite()).count() * 2 > f.len(),
                "{:?}",
                f.first().map(|f| &f.name)
            );
        }
    }

    #[test]
    fn neighbours_stay_in_the_grid() {
        // A corner has 7 neighbours, an interior voxel 26.
        assert_eq!(neighbours26((3, 3, 3), [0, 0, 0]).count(), 7);
        assert_eq!(neighbours26((3, 3, 3), [1, 1, 1]).count(), 26);
        assert!(neighbours26((3, 3, 3), [1, 1, 1]).all(|q| q != [1, 1, 1]));
    }
}
