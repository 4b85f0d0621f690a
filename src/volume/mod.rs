//! Volumes in DICOM patient space: `Volume` = f32 voxels (`ndarray::Array3`, indexed
//! `[k, j, i]` = slice, row, column, column fastest as in DICOM memory) + `Geometry` (origin,
//! spacing, direction cosines, all LPS millimetres as PS3.3 C.7.6.2 defines them).
//!
//! Submodules: `nifti_io` (NIfTI-1 read/write with sform + qform in RAS, dcm2niix's layout;
//! `nifti_write` streams the voxels, `gzip_parallel` deflates them on every core),
//! `assemble` (DICOM series → volumes: slice ordering, geometry checks, splitting, rescale),
//! `pixels` (pixel-data decoding with the fallbacks dicom-rs lacks; `jpeg12` and `rle` are
//! two of them; `fragments` tells which fragments make a frame, `frame_size` checks a
//! compressed frame's own header first), `reorient` (axes permuted and reversed, world positions kept: dcm2niix's
//! rotation of 3D acquisitions).

pub mod assemble;
pub mod bvec;
pub mod fragments;
pub mod frame_size;
pub mod gzip_parallel;
pub mod jpeg12;
pub mod nifti_io;
pub mod nifti_read;
pub mod nifti_write;
pub mod pixels;
pub mod reorient;
pub mod rle;

use ndarray::Array3;
use serde::{Deserialize, Serialize};

/// Where voxels sit in patient space (LPS, mm).
///
/// World position of voxel (i, j, k), with i the column, j the row and k the slice index:
/// `origin + i·spacing[0]·direction[0] + j·spacing[1]·direction[1] + k·spacing[2]·direction[2]`.
/// `direction[0]` is the DICOM row direction (ImageOrientationPatient[0..3]), `direction[1]` the
/// column direction (IOP[3..6]), `direction[2]` the slice direction (the row × column normal for
/// volumes built by `assemble`, whose slices are sorted ascending along it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geometry {
    pub origin: [f64; 3],
    pub spacing: [f64; 3],
    pub direction: [[f64; 3]; 3],
}

impl Geometry {
    /// Axis-aligned geometry (identity direction cosines).
    pub fn axial(origin: [f64; 3], spacing: [f64; 3]) -> Self {
        Geometry {
            origin,
            spacing,
            direction: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        }
    }

    /// LPS position (mm) of the centre of voxel (i, j, k); fractional indices allowed.
    pub fn world(&self, i: f64, j: f64, k: f64) -> [f64; 3] {
        let idx = [i, j, k];
        let mut p = self.origin;
        for (axis, &n) in idx.iter().enumerate() {
            for (c, pc) in p.iter_mut().enumerate() {
                *pc += n * self.spacing[axis] * self.direction[axis][c];
            }
        }
        p
    }

    /// Continuous voxel index (i, j, k) of an LPS point; the inverse of [`Geometry::world`].
    /// Exact for orthonormal directions; otherwise solved through the 3×3 inverse.
    pub fn index_of(&self, p: [f64; 3]) -> [f64; 3] {
        let m = self.matrix();
        let d = [
            p[0] - self.origin[0],
            p[1] - self.origin[1],
            p[2] - self.origin[2],
        ];
        let inv = invert3(&m).unwrap_or([[0.0; 3]; 3]);
        let mut out = [0.0; 3];
        for (r, o) in out.iter_mut().enumerate() {
            *o = inv[r][0] * d[0] + inv[r][1] * d[1] + inv[r][2] * d[2];
        }
        out
    }

    /// The 3×3 matrix M with world = origin + M·[i, j, k]ᵀ (columns are spacing·direction).
    pub fn matrix(&self) -> [[f64; 3]; 3] {
        let mut m = [[0.0; 3]; 3];
        for (axis, dir) in self.direction.iter().enumerate() {
            for (r, row) in m.iter_mut().enumerate() {
                row[axis] = dir[r] * self.spacing[axis];
            }
        }
        m
    }

    /// Volume of one voxel in mm³.
    pub fn voxel_volume_mm3(&self) -> f64 {
        self.spacing[0] * self.spacing[1] * self.spacing[2]
    }

    /// True when both grids put the same voxels at the same places (within `tol_mm`).
    pub fn same_grid(
        &self,
        other: &Geometry,
        dims: [usize; 3],
        other_dims: [usize; 3],
        tol_mm: f64,
    ) -> bool {
        if dims != other_dims {
            return false;
        }
        let corners = [
            [0.0, 0.0, 0.0],
            [
                (dims[2] - 1) as f64,
                (dims[1] - 1) as f64,
                (dims[0] - 1) as f64,
            ],
            [(dims[2] - 1) as f64, 0.0, 0.0],
            [0.0, (dims[1] - 1) as f64, 0.0],
            [0.0, 0.0, (dims[0] - 1) as f64],
        ];
        corners.iter().all(|c| {
            let a = self.world(c[0], c[1], c[2]);
            let b = other.world(c[0], c[1], c[2]);
            dist(a, b) <= tol_mm
        })
    }
}

/// A 3D image: voxels `data[[k, j, i]]` in `geometry`.
#[derive(Debug, Clone)]
pub struct Volume {
    pub data: Array3<f32>,
    pub geometry: Geometry,
}

impl Volume {
    /// Dimensions as `[slices, rows, columns]` (the array shape).
    pub fn dims(&self) -> [usize; 3] {
        let s = self.data.shape();
        [s[0], s[1], s[2]]
    }
}

/// Euclidean distance between two points.
pub fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Cross product.
pub fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Dot product.
pub fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Inverse of a 3×3 matrix, `None` when singular.
pub fn invert3(m: &[[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if det.abs() < 1e-12 {
        return None;
    }
    let mut inv = [[0.0; 3]; 3];
    for (r, row) in inv.iter_mut().enumerate() {
        for (c, x) in row.iter_mut().enumerate() {
            // Adjugate: cofactor of (c, r) over the determinant.
            let (r1, r2) = ((c + 1) % 3, (c + 2) % 3);
            let (c1, c2) = ((r + 1) % 3, (r + 2) % 3);
            *x = (m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]) / det;
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_and_index_are_inverse_on_oblique_grid() {
        // 30° rotation about the S axis; columns of the rotation computed by hand.
        let (s, c) = (0.5_f64, 3f64.sqrt() / 2.0);
        let g = Geometry {
            origin: [-100.0, 20.0, 5.0],
            spacing: [0.8, 0.9, 3.0],
            direction: [[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]],
        };
        let p = g.world(10.0, 20.0, 3.0);
        // origin + 10·0.8·(c, s, 0) + 20·0.9·(−s, c, 0) + 3·3·(0, 0, 1)
        let expect = [
            -100.0 + 8.0 * c - 18.0 * s,
            20.0 + 8.0 * s + 18.0 * c,
            5.0 + 9.0,
        ];
        assert!(dist(p, expect) < 1e-9);
        let idx = g.index_of(p);
        assert!(dist(idx, [10.0, 20.0, 3.0]) < 1e-9);
    }
}
