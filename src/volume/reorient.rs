//! The rotation dcm2niix applies to 3D acquisitions by default (its `-x n`: "rotate 3D
//! acquisitions"), done the way its `nii_ortho` does it: the voxel axes are reversed so that the
//! grid starts at the corner nearest the most right-posterior-inferior point of its bounding
//! box, then permuted so that the sum of the sform's diagonal (voxel sizes included) is the
//! largest; nothing is done when that is the layout already. 2D acquisitions keep DICOM's
//! layout. Every voxel keeps its world position.

use ndarray::Axis;

use super::{Geometry, Volume};

/// A signed permutation of a grid's axes (0 column, 1 row, 2 slice): axis `a` of the result is
/// axis `perm[a]`, reversed where `flip[a]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AxisMap {
    pub perm: [usize; 3],
    pub flip: [bool; 3],
}

impl AxisMap {
    pub const IDENTITY: AxisMap = AxisMap {
        perm: [0, 1, 2],
        flip: [false; 3],
    };
    /// The rows reversed (what the NIfTI writer does, as dcm2niix).
    pub const ROWS_REVERSED: AxisMap = AxisMap {
        perm: [0, 1, 2],
        flip: [false, true, false],
    };

    /// This map, then `next` on its result: one map.
    pub fn then(self, next: AxisMap) -> AxisMap {
        AxisMap {
            perm: next.perm.map(|p| self.perm[p]),
            flip: [0, 1, 2].map(|a| next.flip[a] ^ self.flip[next.perm[a]]),
        }
    }
}

impl Geometry {
    /// The geometry of a grid of `n` voxels (by axis) with its axes mapped by `m`; every voxel
    /// keeps its world position.
    pub fn reoriented(&self, n: [usize; 3], m: AxisMap) -> Geometry {
        let mut start = [0.0; 3];
        for a in 0..3 {
            if m.flip[a] {
                start[m.perm[a]] = (n[m.perm[a]] as f64 - 1.0).max(0.0);
            }
        }
        Geometry {
            origin: self.world(start[0], start[1], start[2]),
            spacing: m.perm.map(|p| self.spacing[p]),
            direction: [0, 1, 2].map(|a| {
                let s = if m.flip[a] { -1.0 } else { 1.0 };
                self.direction[m.perm[a]].map(|c| c * s)
            }),
        }
    }
}

impl Volume {
    /// Voxels per axis (column, row, slice).
    fn axis_lengths(&self) -> [usize; 3] {
        let [k, j, i] = self.dims();
        [i, j, k]
    }

    /// The same voxels on a grid with its axes mapped by `m`; every voxel keeps its world
    /// position.
    pub fn reoriented(&self, m: AxisMap) -> Volume {
        // ndarray axes are [k, j, i]: volume axis a is ndarray axis 2 − a.
        let mut view =
            self.data
                .view()
                .permuted_axes([2 - m.perm[2], 2 - m.perm[1], 2 - m.perm[0]]);
        for (a, f) in m.flip.iter().enumerate() {
            if *f {
                view.invert_axis(Axis(2 - a));
            }
        }
        Volume {
            data: view.as_standard_layout().into_owned(),
            geometry: self.geometry.reoriented(self.axis_lengths(), m),
        }
    }
}

/// The axis map dcm2niix's rotation applies to a grid of `n` voxels (by axis) shown with
/// geometry `g`.
pub fn dcm2niix_rotation(g: &Geometry, n: [usize; 3]) -> AxisMap {
    // The sform's columns (RAS, voxel sizes included).
    let ras = |v: [f64; 3]| [-v[0], -v[1], v[2]];
    let col: [[f64; 3]; 3] = [0, 1, 2].map(|a| ras(g.direction[a]).map(|c| c * g.spacing[a]));
    let origin = ras(g.origin);
    // Reversals: those that put the first voxel at the corner nearest the box's minimum
    // corner (the first such corner, in the order x, y, z reversals count up in binary).
    let corner = |bits: usize| -> [f64; 3] {
        let mut p = origin;
        for (a, c) in col.iter().enumerate() {
            if bits & (1 << a) != 0 {
                let steps = n[a].saturating_sub(1) as f64;
                for (pc, cc) in p.iter_mut().zip(c) {
                    *pc += steps * cc;
                }
            }
        }
        p
    };
    let corners: Vec<[f64; 3]> = (0..8).map(corner).collect();
    let low = [0, 1, 2].map(|c| corners.iter().map(|p| p[c]).fold(f64::INFINITY, f64::min));
    let distance = |p: &[f64; 3]| (0..3).map(|c| (p[c] - low[c]).powi(2)).sum::<f64>();
    let mut nearest = 0;
    for (bits, p) in corners.iter().enumerate().skip(1) {
        if distance(p) < distance(&corners[nearest]) {
            nearest = bits;
        }
    }
    let sign = [0, 1, 2].map(|a| if nearest & (1 << a) != 0 { -1.0 } else { 1.0 });
    // Where each source axis goes, in the order the six permutations are tried; the first with
    // the largest sum of the new diagonal wins (none above zero: no permutation).
    let mut best: Option<[usize; 3]> = None;
    let mut best_sum = 0.0;
    for to in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        let sum: f64 = (0..3).map(|k| col[k][to[k]] * sign[k]).sum();
        if sum > best_sum {
            best_sum = sum;
            best = Some(to);
        }
    }
    let Some(to) = best else {
        return AxisMap::IDENTITY;
    };
    let mut m = AxisMap::IDENTITY;
    for k in 0..3 {
        m.perm[to[k]] = k;
        m.flip[to[k]] = sign[k] < 0.0;
    }
    m
}

/// `vol` as dcm2niix writes a 3D acquisition, or None when that is its layout already. The NIfTI
/// writer reverses the rows of what it is given, so the rotation is chosen on the rows reversed
/// (the layout dcm2niix rotates), and rows reversed, rotation and rows reversed again are
/// applied as one map (one copy of the voxels).
pub fn as_3d_acquisition(vol: &Volume) -> Option<Volume> {
    let n = vol.axis_lengths();
    let shown = vol.geometry.reoriented(n, AxisMap::ROWS_REVERSED);
    let rotation = dcm2niix_rotation(&shown, n);
    (rotation != AxisMap::IDENTITY).then(|| {
        vol.reoriented(
            AxisMap::ROWS_REVERSED
                .then(rotation)
                .then(AxisMap::ROWS_REVERSED),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    fn vol(direction: [[f64; 3]; 3]) -> Volume {
        let data = Array3::from_shape_fn((4, 3, 2), |(k, j, i)| (100 * k + 10 * j + i) as f32);
        Volume {
            data,
            geometry: Geometry {
                origin: [10.0, -20.0, 30.0],
                spacing: [0.8, 0.9, 1.5],
                direction,
            },
        }
    }

    /// Every voxel value at the same world position before and after.
    fn same_world(a: &Volume, b: &Volume) {
        let [nk, nj, ni] = a.dims();
        assert_eq!(nk * nj * ni, b.data.len());
        for ((k, j, i), v) in a.data.indexed_iter() {
            let w = a.geometry.world(i as f64, j as f64, k as f64);
            let idx = b.geometry.index_of(w).map(|x| x.round() as usize);
            assert_eq!(b.data[[idx[2], idx[1], idx[0]]], *v, "voxel {k},{j},{i}");
            let back = b
                .geometry
                .world(idx[0] as f64, idx[1] as f64, idx[2] as f64);
            for c in 0..3 {
                assert!((back[c] - w[c]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn reorienting_keeps_every_voxel_in_place() {
        let sagittal = vol([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]]);
        for perm in [[0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0]] {
            for flip in [[false; 3], [true, false, true], [false, true, false]] {
                same_world(&sagittal, &sagittal.reoriented(AxisMap { perm, flip }));
            }
        }
        let rotated = as_3d_acquisition(&sagittal).expect("a sagittal grid is rotated");
        same_world(&sagittal, &rotated);
        // A map composed of two is the two applied one after the other.
        let (a, b) = (
            AxisMap {
                perm: [2, 0, 1],
                flip: [true, false, true],
            },
            AxisMap {
                perm: [1, 2, 0],
                flip: [false, true, true],
            },
        );
        let (once, twice) = (
            sagittal.reoriented(a.then(b)),
            sagittal.reoriented(a).reoriented(b),
        );
        assert_eq!(once.data, twice.data);
        assert_eq!(once.geometry, twice.geometry);
    }

    #[test]
    fn a_sagittal_acquisition_is_brought_to_ras() {
        // DICOM rows along A (LPS +y is P: row direction (0,1,0) points posterior), columns
        // down (0,0,−1), slices along +x (left).
        let sagittal = vol([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]]);
        let r = as_3d_acquisition(&sagittal).expect("rotated");
        // What the writer shows (rows reversed) points along +R, +A, +S.
        let shown = r.reoriented(AxisMap::ROWS_REVERSED);
        let ras = |v: [f64; 3]| [-v[0], -v[1], v[2]];
        for a in 0..3 {
            let d = ras(shown.geometry.direction[a]);
            assert!((d[a] - 1.0).abs() < 1e-12, "axis {a}: {d:?}");
        }
        // The slice axis (4 slices, along x) is now the first NIfTI axis, the columns (2, along
        // y) the second, the rows (3, along z) the third: [k, j, i] = [3, 2, 4].
        assert_eq!(shown.dims(), [3, 2, 4]);
    }
}
