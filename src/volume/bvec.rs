//! FSL `.bval` / `.bvec` files of a 4D diffusion series (the FSL convention, as dcm2niix writes
//! them): one line of b-values (s/mm²), three lines of gradient directions, one column per volume.
//! A direction is given in the voxel axes of the NIfTI file as written (`nifti_io`'s layout:
//! columns as in DICOM, rows flipped, slices along the normal), unit length, with its x component
//! negated when the affine's determinant is positive (FSL reads vectors in radiological voxel
//! order). DICOM gives the direction in patient coordinates (LPS; DiffusionGradientOrientation
//! (0018,9089), PS3.3 C.8.13.5.9); an unweighted volume (b = 0) or one whose direction is unknown
//! (a trace image) gets 0 0 0.

use super::{dot, Geometry};
use crate::digits;

/// The direction of gradient `g` (patient LPS) in the voxel axes of `geometry`'s stored NIfTI
/// layout, as FSL reads it; zeros for b = 0 or no direction.
pub fn voxel_direction(g: Option<[f64; 3]>, b: f64, geometry: &Geometry) -> [f64; 3] {
    voxel_direction_as(g, b, geometry, false)
}

/// `voxel_direction`, its length kept when `keep_length` (GE's and Canon's directions, as
/// dcm2niix writes them: turned, not normalised), except a length between 0.03 and 0.97: a GE
/// lower shell's direction, whose b-value is already scaled by the length squared
/// (`ingest::diffusion`), made a unit vector as dcm2niix's `geCorrectBvecs` makes it (kept, it
/// counted the length twice for a reader that scales b by |g|², MRtrix's default).
fn voxel_direction_as(
    g: Option<[f64; 3]>,
    b: f64,
    geometry: &Geometry,
    keep_length: bool,
) -> [f64; 3] {
    let Some(g) = g else { return [0.0; 3] };
    let d = &geometry.direction;
    // Slices against the row × column normal: det(d0, d1, d2) < 0 (a stack is never tilted).
    let reversed = dot(super::cross(d[0], d[1]), d[2]) < 0.0;
    // In single precision, as dcm2niix computes them, so that the printed digits agree.
    let dot32 = |a: [f32; 3], b: [f32; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let unit = |v: [f32; 3]| v.map(|x| x / dot32(v, v).sqrt());
    let (r, c) = (unit(d[0].map(|x| x as f32)), unit(d[1].map(|x| x as f32)));
    let normal = unit([
        r[1] * c[2] - r[2] * c[1],
        r[2] * c[0] - r[0] * c[2],
        r[0] * c[1] - r[1] * c[0],
    ]);
    let k = if reversed { normal.map(|x| -x) } else { normal };
    let g = g.map(|x| x as f32);
    // Stored axes in LPS: i along the rows' direction, j against the columns' (rows are
    // flipped), k along the slices.
    let v = [dot32(g, r), -dot32(g, c), dot32(g, k)];
    let norm = dot32(v, v).sqrt();
    if b <= 0.0 || !norm.is_finite() || norm < 1e-6 {
        return [0.0; 3];
    }
    let shell = norm > 0.03 && norm < 0.97;
    let scale = if keep_length && !shell { 1.0 } else { norm };
    let mut v = v.map(|x| f64::from(x / scale));
    // det(RAS affine) = det(diag(−1, −1, 1)) · det(i, j, k) · spacing > 0 ⇔ reversed: FSL reads
    // x negated, (−g·r, −g·c, −g·n). dcm2niix writes that axis with the opposite sign
    // (g·r, g·c, g·n: its y negated for a mosaic of "negative determinant"), the same direction
    // for diffusion; its digits are kept.
    if reversed {
        v[1] = -v[1];
        v[2] = -v[2];
    }
    v
}

/// The `.bval` text of volumes with these b-values.
pub fn bval_text(b_values: &[f64]) -> String {
    let values: Vec<String> = b_values.iter().map(|b| digits::g6(*b)).collect();
    format!("{}\n", values.join(" "))
}

/// The `.bvec` text of volumes with these (b-value, gradient) pairs, all of one geometry.
/// Unit vectors unless `keep_lengths` (see `voxel_direction_as`).
pub fn bvec_text(
    volumes: &[(f64, Option<[f64; 3]>)],
    geometry: &Geometry,
    keep_lengths: bool,
) -> String {
    let dirs: Vec<[f64; 3]> = volumes
        .iter()
        .map(|(b, g)| voxel_direction_as(*g, *b, geometry, keep_lengths))
        .collect();
    (0..3)
        .map(|axis| {
            let line: Vec<String> = dirs.iter().map(|d| digits::g6(d[axis])).collect();
            format!("{}\n", line.join(" "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(row: [f64; 3], col: [f64; 3], normal: [f64; 3]) -> Geometry {
        Geometry {
            origin: [0.0; 3],
            spacing: [1.0, 1.0, 1.0],
            direction: [row, col, normal],
        }
    }

    #[test]
    fn an_axial_series_takes_x_as_is_and_y_negated() {
        // Axial: rows along +x (L), columns along +y (P); stored rows flipped, so the j axis
        // points anterior and a posterior gradient has j = −1.
        let g = geometry([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]);
        assert_eq!(
            voxel_direction(Some([0.0, 1.0, 0.0]), 1000.0, &g),
            [0.0, -1.0, 0.0]
        );
        assert_eq!(
            voxel_direction(Some([2.0, 0.0, 0.0]), 1000.0, &g),
            [1.0, 0.0, 0.0]
        );
        assert_eq!(
            voxel_direction(Some([0.0, 0.0, 0.5]), 1000.0, &g),
            [0.0, 0.0, 1.0]
        );
    }

    #[test]
    fn unweighted_and_unknown_directions_are_zero() {
        let g = geometry([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]);
        assert_eq!(voxel_direction(Some([1.0, 0.0, 0.0]), 0.0, &g), [0.0; 3]);
        assert_eq!(voxel_direction(None, 1000.0, &g), [0.0; 3]);
        assert_eq!(voxel_direction(Some([0.0; 3]), 1000.0, &g), [0.0; 3]);
    }

    /// Slices against the row × column normal (a mosaic whose SliceNormalVector points the
    /// other way): det(d0, d1, d2) < 0, the NIfTI affine's > 0. dcm2niix v1.0.20260724 wrote
    /// 0.999974, 0.00505012, -0.00505012 for nibabel's axial mosaic (gradient (0.99997449,
    /// 0.00505012, −0.00505012) in LPS) given SliceNormalVector (0, 0, −1): (g·r, g·c, g·n).
    #[test]
    fn slices_against_the_normal_give_dcm2niix_s_signs() {
        let g = geometry([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]);
        assert_eq!(
            voxel_direction(Some([1.0, 0.0, 0.0]), 800.0, &g),
            [1.0, 0.0, 0.0]
        );
        assert_eq!(
            voxel_direction(Some([0.0, 1.0, 0.0]), 800.0, &g),
            [0.0, 1.0, 0.0]
        );
        assert_eq!(
            voxel_direction(Some([0.0, 0.0, 1.0]), 800.0, &g),
            [0.0, 0.0, 1.0]
        );
    }

    #[test]
    fn files_have_one_column_per_volume() {
        let g = geometry([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]);
        let vols = [(0.0, None), (1000.0, Some([0.0, 1.0, 0.0]))];
        assert_eq!(bval_text(&[0.0, 1000.0]), "0 1000\n");
        assert_eq!(bvec_text(&vols, &g, false), "0 0\n0 -1\n0 0\n");
    }

    #[test]
    fn a_ge_lower_shell_direction_is_made_unit_length_and_others_keep_theirs() {
        // dcm2niix (geCorrectBvecs): a GE direction 0.03-0.97 long is a lower shell's, its b
        // scaled by |g|² and the vector normalised; one near unit length keeps its length.
        let g = geometry([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]);
        let h = std::f64::consts::FRAC_1_SQRT_2;
        let vols = [
            (500.0, Some([h, 0.0, 0.0])),
            (1000.0, Some([0.0, 0.0, 0.98])),
        ];
        assert_eq!(bvec_text(&vols, &g, true), "1 0\n0 0\n0 0.98\n");
    }
}
