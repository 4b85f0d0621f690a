//! RT Structure Sets (PS3.3 A.19 RT Structure Set IOD; C.8.8.5 Structure Set Module, C.8.8.6
//! ROI Contour Module): CLOSED_PLANAR contours in patient coordinates (mm), rasterised onto an
//! image grid. A voxel belongs to a structure when its centre lies inside the structure's
//! contours on the nearest contour plane (even–odd rule, so a contour drawn inside another is a
//! hole, as most planning systems export them), or on one of those contours: a contour is the
//! structure's boundary, and a tool that traces a mask through the centres of its boundary voxels
//! (rt-utils, with OpenCV's findContours) draws it through voxels of the structure, around a hole
//! too; its contours of one or two points (a lone voxel, a line of them) hold the voxels they
//! pass through. A centre within [`ON_CONTOUR`] of a voxel from a contour is on it. Contour
//! planes must be parallel to the image slices. A contour plane reaches the image slices within
//! half the structure set's contouring interval (at least half a slice): a set drawn on a
//! coarser grid fills the slices between its planes, and one drawn on the image's own slices
//! fills each plane's slice only, also for a structure whose planes lie far apart.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use ndarray::Array3;

use super::RoiError;
use crate::ingest::values::{f64s_of, int_of, str_of};
use crate::volume::Geometry;

/// One structure (ROI) with its closed planar contours.
#[derive(Debug, Clone)]
pub struct Structure {
    pub number: u32,
    pub name: String,
    /// Frame of reference named for this ROI (or the structure set's).
    pub frame_of_reference: String,
    /// Closed polygons, LPS mm.
    pub contours: Vec<Vec<[f64; 3]>>,
    /// Why this ROI cannot be used (a contour whose data is not x\y\z triples): the others
    /// still are.
    pub defect: Option<String>,
    /// Its contours of another type than CLOSED_PLANAR (POINT, OPEN_PLANAR...), by type: left
    /// out, as they bound no volume.
    pub other_contours: std::collections::BTreeMap<String, usize>,
}

fn bad(attribute: &str, expected: &str) -> RoiError {
    RoiError::Dicom {
        kind: "RTSTRUCT",
        attribute: attribute.into(),
        expected: expected.into(),
    }
}

/// The structures of an opened RTSTRUCT object (POINT and OPEN_PLANAR contours are skipped: they
/// bound no volume. CLOSED_PLANAR contours of one or two points, which rt-utils writes where a
/// mask slice holds a lone voxel or a line of them, are kept: they hold the voxels they pass
/// through).
pub fn rtstruct_from_object(obj: &InMemDicomObject) -> Result<Vec<Structure>, RoiError> {
    let set_for = obj
        .get(tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE)
        .and_then(|e| e.items())
        .and_then(|v| v.first())
        .and_then(|i| str_of(i, tags::FRAME_OF_REFERENCE_UID))
        .unwrap_or_default();
    let mut out: Vec<Structure> = Vec::new();
    for item in obj
        .get(tags::STRUCTURE_SET_ROI_SEQUENCE)
        .and_then(|e| e.items())
        .unwrap_or(&[])
    {
        let number = int_of(item, tags::ROI_NUMBER)
            .filter(|n| *n >= 0)
            .ok_or_else(|| bad("ROINumber (3006,0022)", "an integer per ROI"))?
            as u32;
        out.push(Structure {
            number,
            name: str_of(item, tags::ROI_NAME).unwrap_or_default(),
            frame_of_reference: str_of(item, tags::REFERENCED_FRAME_OF_REFERENCE_UID)
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| set_for.clone()),
            contours: Vec::new(),
            defect: None,
            other_contours: Default::default(),
        });
    }
    // A number given twice: the contours of one would be taken for the other's.
    for (k, s) in out.iter().enumerate() {
        if out[..k].iter().any(|o| o.number == s.number) {
            return Err(bad(
                "ROINumber (3006,0022)",
                &format!(
                    "a number given to one ROI of StructureSetROISequence only; {} is given twice",
                    s.number
                ),
            ));
        }
    }
    if out.is_empty() {
        return Err(bad(
            "StructureSetROISequence (3006,0020)",
            "at least one ROI",
        ));
    }
    for item in obj
        .get(tags::ROI_CONTOUR_SEQUENCE)
        .and_then(|e| e.items())
        .unwrap_or(&[])
    {
        let Some(number) = int_of(item, tags::REFERENCED_ROI_NUMBER) else {
            return Err(bad(
                "ReferencedROINumber (3006,0084)",
                "an integer in every ROIContourSequence item",
            ));
        };
        let Some(s) = out.iter_mut().find(|s| i64::from(s.number) == number) else {
            return Err(bad(
                "ReferencedROINumber (3006,0084)",
                "the number of an ROI in StructureSetROISequence",
            ));
        };
        for c in item
            .get(tags::CONTOUR_SEQUENCE)
            .and_then(|e| e.items())
            .unwrap_or(&[])
        {
            if s.defect.is_some() {
                continue;
            }
            let kind = str_of(c, tags::CONTOUR_GEOMETRIC_TYPE).unwrap_or_default();
            if kind != "CLOSED_PLANAR" {
                let kind = if kind.is_empty() {
                    "untyped".to_string()
                } else {
                    kind
                };
                *s.other_contours.entry(kind).or_default() += 1;
                continue;
            }
            let v = f64s_of(c, tags::CONTOUR_DATA).unwrap_or_default();
            if v.is_empty() || !v.len().is_multiple_of(3) || v.iter().any(|x| !x.is_finite()) {
                // This ROI only: a damaged contour must not cost the others.
                s.defect = Some(
                    "ContourData (3006,0050): expected x\\y\\z triples of finite numbers, \
                     a point or more"
                        .into(),
                );
                s.contours.clear();
                continue;
            }
            s.contours
                .push(v.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect());
        }
    }
    Ok(out)
}

/// How near (in voxels, in the image plane) a voxel centre must be to a contour to be on it:
/// above the rounding of a coordinate computed in single precision (rt-utils' transformation
/// matrix is float32: 6e-8 of a coordinate, 3e-5 mm at 500 mm, 6e-5 of a 0.5 mm voxel) and
/// written as a decimal string (DS, up to 16 characters); far below any drawing's precision, so
/// a contour drawn around a region (a planning system's, or the phantom's 360-point polygons of
/// its analytic ellipsoids) gains no voxel it merely passes near. At 1e-3 it did: a phantom PET
/// voxel whose centre lies just outside the tumour ellipsoid came within reach of its polygon.
pub const ON_CONTOUR: f64 = 1e-4;

/// An edge of a closed polygon: a vertex and the one before it.
type Edge = ([f64; 2], [f64; 2]);

/// The edges of the closed polygon `poly` (of one point: that point; of two: the segment, twice).
fn edges(poly: &[[f64; 2]]) -> impl Iterator<Item = Edge> + '_ {
    let n = poly.len();
    (0..n).map(move |i| (poly[i], poly[(i + n - 1) % n]))
}

/// Whether (x, y) lies within [`ON_CONTOUR`] of the edge.
fn near_edge((a, b): Edge, x: f64, y: f64) -> bool {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let length2 = dx * dx + dy * dy;
    let t = if length2 > 0.0 {
        (((x - a[0]) * dx + (y - a[1]) * dy) / length2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (a[0] + t * dx - x).hypot(a[1] + t * dy - y) <= ON_CONTOUR
}

/// Whether the ray from (x, y) towards +x crosses the edge (the crossing count's half-open rule).
fn crosses((a, b): Edge, x: f64, y: f64) -> bool {
    (a[1] > y) != (b[1] > y) && x < (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0]
}

/// A contour in image index space: its plane k, and its polygon in (i, j).
pub type PlaneContour = (f64, Vec<[f64; 2]>);

/// Every contour of one structure in image index space on `g`. A contour whose points do not
/// share a plane parallel to the slices is refused.
pub fn plane_contours(
    contours: &[Vec<[f64; 3]>],
    g: &Geometry,
) -> Result<Vec<PlaneContour>, RoiError> {
    let mut planes: Vec<PlaneContour> = Vec::with_capacity(contours.len());
    for c in contours {
        let idx: Vec<[f64; 3]> = c.iter().map(|p| g.index_of(*p)).collect();
        let ks: Vec<f64> = idx.iter().map(|p| p[2]).collect();
        let (lo, hi) = ks
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), k| {
                (l.min(*k), h.max(*k))
            });
        if hi - lo > 0.05 {
            return Err(RoiError::NotParallel);
        }
        planes.push((0.5 * (lo + hi), idx.iter().map(|p| [p[0], p[1]]).collect()));
    }
    Ok(planes)
}

/// The structure set's contouring interval, in slices: the smallest gap between two contour
/// planes of one structure ([`plane_contours`]), over all its structures (infinite when none has
/// two planes). A structure drawn on a coarser grid (a CT's slices on a finer MR) has planes that
/// far apart; one with a lone plane or planes far apart (a mask of separate parts, as rt-utils
/// draws it on the image's own slices) takes the set's interval, not its own.
pub fn plane_spacing(structures: &[&[PlaneContour]]) -> f64 {
    structures
        .iter()
        .map(|p| super::distinct_planes(p.iter().map(|x| x.0).collect()).1)
        .fold(f64::INFINITY, f64::min)
}

/// How far (in slices) a contour plane reaches: half the contouring interval `spacing`, at
/// least half a slice (infinite: half a slice).
fn plane_reach(spacing: f64) -> f64 {
    if spacing.is_finite() {
        (0.5 * spacing).max(0.5)
    } else {
        0.5
    }
}

/// Of one structure's contours in index space, how many give the grid of `dims` no voxel (their
/// plane beyond the reach of every slice, or their polygon short of every voxel centre:
/// `outside`) and how many reach a voxel centre beyond the grid's edge (`cut`: the grid holds
/// part of the region they bound). Judged by voxel centres, as the rasterisation is: a contour
/// drawn on the edge voxels' outer boundary, its coordinates rounded to 0.01 mm as planning
/// systems write them, was said to be cut (review).
pub fn beyond_grid(planes: &[PlaneContour], dims: [usize; 3], spacing: f64) -> (usize, usize) {
    let [nk, nj, ni] = dims.map(|n| n as f64);
    let reach = plane_reach(spacing) + 1e-6;
    let (mut outside, mut cut) = (0, 0);
    for (k, poly) in planes {
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for p in poly {
            for a in 0..2 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
        // Voxel centres run from 0 to n − 1; the first centres beyond the grid are −1 and n.
        let beside = |a: usize, n: f64| hi[a] < -ON_CONTOUR || lo[a] > n - 1.0 + ON_CONTOUR;
        let beyond = |a: usize, n: f64| lo[a] <= -1.0 + ON_CONTOUR || hi[a] >= n - ON_CONTOUR;
        if *k < -reach || *k > nk - 1.0 + reach || beside(0, ni) || beside(1, nj) {
            outside += 1;
        } else if beyond(0, ni) || beyond(1, nj) {
            cut += 1;
        }
    }
    (outside, cut)
}

/// Rasterise one structure's contours in index space onto a grid of `dims` = [slices, rows,
/// columns]. Each contour plane reaches half the contouring interval `spacing` (in slices; at
/// least half a slice; infinite: half a slice) either side: the structure set's
/// ([`plane_spacing`]), or 1 for a set drawn on the image's own slices.
pub fn rasterise_planes(planes: &[PlaneContour], dims: [usize; 3], spacing: f64) -> Array3<bool> {
    let [nk, nj, ni] = dims;
    let mut mask = Array3::<bool>::from_elem((nk, nj, ni), false);
    // Centres on a contour: in the structure whatever the even–odd count says.
    let mut on = Array3::<bool>::from_elem((nk, nj, ni), false);
    if planes.is_empty() {
        return mask;
    }
    let (ks, _) = super::distinct_planes(planes.iter().map(|p| p.0).collect());
    let reach = plane_reach(spacing);
    for k in 0..nk {
        let kf = k as f64;
        let Some(&nearest) = ks
            .iter()
            .min_by(|a, b| (*a - kf).abs().total_cmp(&(*b - kf).abs()))
        else {
            continue;
        };
        if (nearest - kf).abs() > reach + 1e-6 {
            continue;
        }
        let polys: Vec<&Vec<[f64; 2]>> = planes
            .iter()
            .filter(|p| (p.0 - nearest).abs() < 1e-3)
            .map(|p| &p.1)
            .collect();
        for poly in polys {
            // Bounding box of the polygon, clipped to the grid.
            let (mut i0, mut i1, mut j0, mut j1) = (
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
            );
            for p in poly {
                i0 = i0.min(p[0]);
                i1 = i1.max(p[0]);
                j0 = j0.min(p[1]);
                j1 = j1.max(p[1]);
            }
            let lo = |x: f64| (x - ON_CONTOUR).ceil().max(0.0) as usize;
            let hi = |x: f64, n: usize| {
                ((x + ON_CONTOUR).floor().max(-1.0) + 1.0).min(n as f64) as usize
            };
            for j in lo(j0)..hi(j1, nj) {
                let y = j as f64;
                // The edges that reach row j: the only ones a centre of the row can be on or
                // whose crossing it can count (the others give the same answers by skipping).
                let row: Vec<Edge> = edges(poly)
                    .filter(|(a, b)| {
                        a[1].min(b[1]) - ON_CONTOUR <= y && y <= a[1].max(b[1]) + ON_CONTOUR
                    })
                    .collect();
                for i in lo(i0)..hi(i1, ni) {
                    let x = i as f64;
                    if row.iter().any(|e| near_edge(*e, x, y)) {
                        on[[k, j, i]] = true;
                    } else if row.iter().filter(|e| crosses(**e, x, y)).count() % 2 == 1 {
                        // Even–odd across the plane's contours: a hole flips back.
                        mask[[k, j, i]] = !mask[[k, j, i]];
                    }
                }
            }
        }
    }
    mask.zip_mut_with(&on, |m, o| *m |= *o);
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Contours judged by the voxel centres they hold, on a grid of 3 slices of 5 × 4: on the
    /// edge voxels' outer boundary, rounded off by 0.02 voxel, nothing is lost (the review found
    /// such a contour said to be cut); one reaching the next centre beyond the edge is cut; one
    /// short of every centre, or on a plane beyond the slices' reach, lies outside.
    #[test]
    fn contours_are_outside_cut_or_whole_by_the_voxel_centres_they_reach() {
        let square = |k: f64, (i0, j0): (f64, f64), (i1, j1): (f64, f64)| -> PlaneContour {
            (k, vec![[i0, j0], [i1, j0], [i1, j1], [i0, j1]])
        };
        let dims = [3, 4, 5];
        let on_edge = square(1.0, (-0.52, -0.52), (4.52, 3.52));
        assert_eq!(beyond_grid(&[on_edge], dims, 1.0), (0, 0));
        let past = square(1.0, (-1.0, 0.0), (2.0, 2.0));
        assert_eq!(beyond_grid(&[past], dims, 1.0), (0, 1));
        let past_far_side = square(1.0, (2.0, 1.0), (5.0, 2.0));
        assert_eq!(beyond_grid(&[past_far_side], dims, 1.0), (0, 1));
        let beside = square(1.0, (-0.9, 0.0), (-0.1, 2.0));
        let far_plane = square(3.6, (0.0, 0.0), (2.0, 2.0));
        let near_plane = square(2.4, (0.0, 0.0), (2.0, 2.0));
        assert_eq!(
            beyond_grid(&[beside, far_plane, near_plane], dims, 1.0),
            (2, 0)
        );
    }

    /// `contours` of one structure rasterised onto the grid `g` of `dims` = [slices, rows,
    /// columns], its planes reaching half `spacing`, or when None half the structure's own
    /// interval (a set of that one structure).
    fn rasterise(
        contours: &[Vec<[f64; 3]>],
        g: &Geometry,
        dims: [usize; 3],
        spacing: Option<f64>,
    ) -> Result<Array3<bool>, RoiError> {
        let planes = plane_contours(contours, g)?;
        let spacing = spacing.unwrap_or_else(|| plane_spacing(&[&planes]));
        Ok(rasterise_planes(&planes, dims, spacing))
    }

    #[test]
    fn square_with_hole_rasterises_by_even_odd() {
        // 1 mm axial grid 10×10×3 at the origin; a 6×6 mm square (x, y from 1.5 to 7.5) on the
        // middle plane with a 2×2 mm hole (3.5 to 5.5). Voxel centres are integers, so the square
        // covers centres 2..=7 (36 voxels) and the hole 4..=5 (4 voxels): 32 voxels.
        let g = Geometry::axial([0.0; 3], [1.0; 3]);
        let sq = |a: f64, b: f64| vec![[a, a, 1.0], [b, a, 1.0], [b, b, 1.0], [a, b, 1.0]];
        let m = rasterise(&[sq(1.5, 7.5), sq(3.5, 5.5)], &g, [3, 10, 10], None).unwrap();
        // A single plane reaches half a slice: only slice 1.
        assert_eq!(m.iter().filter(|x| **x).count(), 32);
        assert!(m[[1, 2, 2]] && !m[[1, 4, 4]] && !m[[0, 2, 2]] && !m[[2, 2, 2]]);
    }

    /// Contours as rt-utils draws a mask (OpenCV's findContours: through the centres of its
    /// boundary voxels, around a hole too; a lone voxel as one point, a line of them as two)
    /// give the mask back: a 6×6 square of voxels 2..=7 with a 2×2 hole at 4..=5, a lone voxel
    /// and a line of four. Before, only centres inside by the crossing count counted: 16 of the
    /// square's 32 (the half-open edges of both contours), and nothing of the other two.
    #[test]
    fn contours_through_voxel_centres_hold_those_voxels() {
        let g = Geometry::axial([0.0; 3], [1.0; 3]);
        let sq = |a: f64, b: f64| vec![[a, a, 1.0], [b, a, 1.0], [b, b, 1.0], [a, b, 1.0]];
        let m = rasterise(
            &[
                sq(2.0, 7.0),
                sq(3.0, 6.0),
                vec![[9.0, 9.0, 1.0]],
                vec![[0.0, 0.0, 1.0], [0.0, 3.0, 1.0]],
            ],
            &g,
            [3, 10, 10],
            None,
        )
        .unwrap();
        let plane = m.index_axis(ndarray::Axis(0), 1);
        let want = |j: usize, i: usize| {
            let square = (2..=7).contains(&i) && (2..=7).contains(&j);
            let hole = (4..=5).contains(&i) && (4..=5).contains(&j);
            (square && !hole) || (i, j) == (9, 9) || (i == 0 && j <= 3)
        };
        for ((j, i), got) in plane.indexed_iter() {
            assert_eq!(*got, want(j, i), "voxel row {j} column {i}");
        }
        assert_eq!(m.iter().filter(|x| **x).count(), 32 + 1 + 4);
        // A centre a rounding error off the contour is on it; a hundredth of a voxel is not.
        let near = |d: f64| {
            let c = rasterise(&[vec![[5.0 + d, 5.0, 1.0]]], &g, [3, 10, 10], None).unwrap();
            c[[1, 5, 5]]
        };
        assert!(near(1e-9) && near(-1e-9) && !near(0.01));
    }

    #[test]
    fn planes_reach_half_their_spacing() {
        // Contours every 3 mm on a 1 mm grid: each plane fills its slice and the one either side.
        let g = Geometry::axial([0.0; 3], [1.0; 3]);
        let sq = |z: f64| vec![[1.5, 1.5, z], [3.5, 1.5, z], [3.5, 3.5, z], [1.5, 3.5, z]];
        let per_slice = |m: Array3<bool>| -> Vec<usize> {
            m.outer_iter()
                .map(|slice| slice.iter().filter(|x| **x).count())
                .collect()
        };
        let m = rasterise(&[sq(2.0), sq(5.0)], &g, [9, 6, 6], None).unwrap();
        assert_eq!(per_slice(m), vec![0, 4, 4, 4, 4, 4, 4, 0, 0]);
        // The structure set's interval: beside a structure contoured on adjacent slices (drawn on
        // this grid, as rt-utils draws a mask of separate parts), the same two planes fill their
        // own slices only. Before, each structure took its own interval: 6 slices, not 2.
        let planes = |c: &[Vec<[f64; 3]>]| plane_contours(c, &g).unwrap();
        let (two, other) = (
            planes(&[sq(2.0), sq(5.0)]),
            planes(&[sq(1.0), sq(2.0), sq(3.0)]),
        );
        let set: [&[PlaneContour]; 2] = [&two, &other];
        let spacing = plane_spacing(&set);
        assert!((spacing - 1.0).abs() < 1e-9, "{spacing}");
        let m = rasterise(&[sq(2.0), sq(5.0)], &g, [9, 6, 6], Some(spacing)).unwrap();
        assert_eq!(per_slice(m), vec![0, 0, 4, 0, 0, 4, 0, 0, 0]);
        assert!(plane_spacing(&set[..1]) > 2.9);
    }

    #[test]
    fn oblique_contour_is_refused() {
        let g = Geometry::axial([0.0; 3], [1.0; 3]);
        let tilted = vec![[1.0, 1.0, 1.0], [5.0, 1.0, 2.0], [5.0, 5.0, 2.0]];
        assert!(matches!(
            rasterise(&[tilted], &g, [4, 8, 8], None),
            Err(RoiError::NotParallel)
        ));
    }
}
