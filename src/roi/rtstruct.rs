//! RT Structure Sets (PS3.3 A.19 RT Structure Set IOD; C.8.8.5 Structure Set Module, C.8.8.6
//! ROI Contour Module): CLOSED_PLANAR contours in patient coordinates (mm), rasterised onto an
//! image grid. A voxel belongs to a structure when its centre lies inside the structure's
//! contours on the nearest contour plane (even–odd rule, so a contour drawn inside another is a
//! hole, as most planning systems export them). Contour planes must be parallel to the image
//! slices; a contour plane farther than half its plane spacing (at least half an image slice) from
//! an image slice does not reach it.

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
}

fn bad(attribute: &str, expected: &str) -> RoiError {
    RoiError::Dicom {
        kind: "RTSTRUCT",
        attribute: attribute.into(),
        expected: expected.into(),
    }
}

/// The structures of an opened RTSTRUCT object (POINT and OPEN_PLANAR contours are skipped: they
/// enclose no volume; so are CLOSED_PLANAR contours of one or two points, which rt-utils writes
/// where a mask slice holds a voxel or two: they enclose no area, so no voxel centre).
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
        });
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
            if s.defect.is_some()
                || str_of(c, tags::CONTOUR_GEOMETRIC_TYPE).as_deref() != Some("CLOSED_PLANAR")
            {
                continue;
            }
            let v = f64s_of(c, tags::CONTOUR_DATA).unwrap_or_default();
            if v.is_empty() || v.len() % 3 != 0 || v.iter().any(|x| !x.is_finite()) {
                // This ROI only: a damaged contour must not cost the others.
                s.defect = Some(
                    "ContourData (3006,0050): expected x\\y\\z triples of finite numbers, \
                     a point or more"
                        .into(),
                );
                s.contours.clear();
                continue;
            }
            if v.len() < 9 {
                continue;
            }
            s.contours
                .push(v.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect());
        }
    }
    Ok(out)
}

/// Is (x, y) inside the polygon (even–odd rule, crossing count)?
pub fn inside(poly: &[[f64; 2]], x: f64, y: f64) -> bool {
    let mut c = false;
    let n = poly.len();
    let mut j = n - 1;
    for i in 0..n {
        let (a, b) = (poly[i], poly[j]);
        if (a[1] > y) != (b[1] > y) && x < (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0] {
            c = !c;
        }
        j = i;
    }
    c
}

/// Rasterise `contours` onto the grid `g` of `dims` = [slices, rows, columns].
pub fn rasterise(
    contours: &[Vec<[f64; 3]>],
    g: &Geometry,
    dims: [usize; 3],
) -> Result<Array3<bool>, RoiError> {
    let [nk, nj, ni] = dims;
    let mut mask = Array3::<bool>::from_elem((nk, nj, ni), false);
    // Every contour in image index space: (plane k, polygon in (i, j)).
    let mut planes: Vec<(f64, Vec<[f64; 2]>)> = Vec::with_capacity(contours.len());
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
    if planes.is_empty() {
        return Ok(mask);
    }
    // Half the contour-plane spacing (at least half an image slice) is a plane's reach.
    let (ks, gap) = super::distinct_planes(planes.iter().map(|p| p.0).collect());
    let reach = if gap.is_finite() {
        (0.5 * gap).max(0.5)
    } else {
        0.5
    };
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
            let lo = |x: f64| x.ceil().max(0.0) as usize;
            let hi = |x: f64, n: usize| (x.floor().max(-1.0) + 1.0).min(n as f64) as usize;
            for j in lo(j0)..hi(j1, nj) {
                for i in lo(i0)..hi(i1, ni) {
                    if inside(poly, i as f64, j as f64) {
                        // Even–odd across the plane's contours: a hole flips back.
                        mask[[k, j, i]] = !mask[[k, j, i]];
                    }
                }
            }
        }
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_with_hole_rasterises_by_even_odd() {
        // 1 mm axial grid 10×10×3 at the origin; a 6×6 mm square (x, y from 1.5 to 7.5) on the
        // middle plane with a 2×2 mm hole (3.5 to 5.5). Voxel centres are integers, so the square
        // covers centres 2..=7 (36 voxels) and the hole 4..=5 (4 voxels): 32 voxels.
        let g = Geometry::axial([0.0; 3], [1.0; 3]);
        let sq = |a: f64, b: f64| vec![[a, a, 1.0], [b, a, 1.0], [b, b, 1.0], [a, b, 1.0]];
        let m = rasterise(&[sq(1.5, 7.5), sq(3.5, 5.5)], &g, [3, 10, 10]).unwrap();
        // A single plane reaches half a slice: only slice 1.
        assert_eq!(m.iter().filter(|x| **x).count(), 32);
        assert!(m[[1, 2, 2]] && !m[[1, 4, 4]] && !m[[0, 2, 2]] && !m[[2, 2, 2]]);
    }

    #[test]
    fn planes_reach_half_their_spacing() {
        // Contours every 3 mm on a 1 mm grid: each plane fills its slice and the one either side.
        let g = Geometry::axial([0.0; 3], [1.0; 3]);
        let sq = |z: f64| vec![[1.5, 1.5, z], [3.5, 1.5, z], [3.5, 3.5, z], [1.5, 3.5, z]];
        let m = rasterise(&[sq(2.0), sq(5.0)], &g, [9, 6, 6]).unwrap();
        let per_slice: Vec<usize> = (0..9)
            .map(|k| {
                m.index_axis(ndarray::Axis(0), k)
                    .iter()
                    .filter(|x| **x)
                    .count()
            })
            .collect();
        assert_eq!(per_slice, vec![0, 4, 4, 4, 4, 4, 4, 0, 0]);
    }

    #[test]
    fn oblique_contour_is_refused() {
        let g = Geometry::axial([0.0; 3], [1.0; 3]);
        let tilted = vec![[1.0, 1.0, 1.0], [5.0, 1.0, 2.0], [5.0, 5.0, 2.0]];
        assert!(matches!(
            rasterise(&[tilted], &g, [4, 8, 8]),
            Err(RoiError::NotParallel)
        ));
    }
}
