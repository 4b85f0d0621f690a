//! IBSI chapter 1 features of one region (Zwanenburg et al., The Image Biomarker
//! Standardization Initiative, Radiology 2020; reference manual section 3): the intensity
//! statistics family (`stat_*`, population moments, percentiles by linear interpolation), local
//! intensity (`loc_peak_loc`, `loc_peak_glob`: mean over a 1 cm³ sphere, radius 6.2035 mm, of all
//! image voxels whose centres lie inside it), and voxel-counting volume (`morph_vol_approx`).
//! Checked against the IBSI digital phantom's reference values.

use crate::volume::Volume;

/// One computed feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// IBSI tag or ancilla name; thresholds are part of it (`mtv_suv2p5`).
    pub name: std::borrow::Cow<'static, str>,
    pub value: f64,
    /// "intensity", "intensity²", "mm3", "1" (dimensionless).
    pub unit_kind: UnitKind,
}

/// How a feature's unit relates to the image unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    Intensity,
    IntensitySquared,
    Volume,
    Dimensionless,
    /// Millilitres (metabolic volumes).
    Millilitre,
    /// Millilitres × intensity (total lesion uptake).
    MillilitreIntensity,
    /// mm² (mesh area).
    Area,
    /// mm (diameters, axes, distances).
    Length,
    /// mm⁻¹ (surface to volume ratio).
    PerLength,
    /// mm³ × intensity (integrated intensity).
    IntegratedIntensity,
}

/// Linear-interpolation percentile (Hyndman & Fan type 7) of sorted values, `p` in [0, 1].
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The intensity statistics family of the values of one region.
pub fn intensity_statistics(values: &[f64]) -> Vec<Feature> {
    use UnitKind::*;
    let n = values.len() as f64;
    if values.is_empty() {
        return Vec::new();
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let mean = values.iter().sum::<f64>() / n;
    let m = |k: i32| values.iter().map(|x| (x - mean).powi(k)).sum::<f64>() / n;
    let (m2, m3, m4) = (m(2), m(3), m(4));
    let median = percentile(&sorted, 0.5);
    let (p10, p25, p75, p90) = (
        percentile(&sorted, 0.1),
        percentile(&sorted, 0.25),
        percentile(&sorted, 0.75),
        percentile(&sorted, 0.9),
    );
    let robust: Vec<f64> = values
        .iter()
        .copied()
        .filter(|x| *x >= p10 && *x <= p90)
        .collect();
    let rmean = robust.iter().sum::<f64>() / robust.len().max(1) as f64;
    let energy: f64 = values.iter().map(|x| x * x).sum();
    let f = |name: &'static str, value, unit_kind| Feature {
        name: name.into(),
        value,
        unit_kind,
    };
    vec![
        f("stat_mean", mean, Intensity),
        f("stat_var", m2, IntensitySquared),
        f(
            "stat_skew",
            if m2 > 0.0 { m3 / m2.powf(1.5) } else { 0.0 },
            Dimensionless,
        ),
        f(
            "stat_kurt",
            if m2 > 0.0 { m4 / (m2 * m2) - 3.0 } else { 0.0 },
            Dimensionless,
        ),
        f("stat_median", median, Intensity),
        f("stat_min", sorted[0], Intensity),
        f("stat_p10", p10, Intensity),
        f("stat_p90", p90, Intensity),
        f("stat_max", sorted[sorted.len() - 1], Intensity),
        f("stat_iqr", p75 - p25, Intensity),
        f(
            "stat_range",
            sorted[sorted.len() - 1] - sorted[0],
            Intensity,
        ),
        f(
            "stat_mad",
            values.iter().map(|x| (x - mean).abs()).sum::<f64>() / n,
            Intensity,
        ),
        f(
            "stat_rmad",
            // No value between P10 and P90 (two voxels): undefined, not 0.
            if robust.is_empty() {
                f64::NAN
            } else {
                robust.iter().map(|x| (x - rmean).abs()).sum::<f64>() / robust.len() as f64
            },
            Intensity,
        ),
        f(
            "stat_medad",
            values.iter().map(|x| (x - median).abs()).sum::<f64>() / n,
            Intensity,
        ),
        f(
            "stat_cov",
            if mean != 0.0 {
                m2.sqrt() / mean
            } else {
                f64::NAN
            },
            Dimensionless,
        ),
        f(
            "stat_qcod",
            if p75 + p25 != 0.0 {
                (p75 - p25) / (p75 + p25)
            } else {
                f64::NAN
            },
            Dimensionless,
        ),
        f("stat_energy", energy, IntensitySquared),
        f("stat_rms", (energy / n).sqrt(), Intensity),
    ]
}

/// Radius (mm) of a 1 cm³ sphere: (3 / 4π)^(1/3) · 10.
pub fn peak_radius_mm() -> f64 {
    (3.0 / (4.0 * std::f64::consts::PI)).cbrt() * 10.0
}

/// Local and global intensity peaks of the region `in_roi` of `image` (IBSI 3.2).
pub fn local_intensity(
    image: &Volume,
    in_roi: &impl Fn(usize, usize, usize) -> bool,
) -> Vec<Feature> {
    local_intensity_of(image, &roi_voxels(image, in_roi))
}

/// The sphere of the peak as row segments: for each (dk, dj), the range lo..=hi of di whose
/// voxel centres lie within the peak radius of the centre voxel's, in physical space (a sphere's
/// row is one run, being convex, whatever the axes' spacing and shear).
fn peak_segments(image: &Volume) -> Vec<(i64, i64, i64, i64)> {
    let g = &image.geometry;
    let r = peak_radius_mm();
    let ext = |axis: usize| (r / g.spacing[axis]).floor() as i64;
    let m = g.matrix();
    let mut segments = Vec::new();
    for dk in -ext(2)..=ext(2) {
        for dj in -ext(1)..=ext(1) {
            let inside = |di: i64| {
                let v = [di as f64, dj as f64, dk as f64];
                let w: f64 = (0..3)
                    .map(|row| (m[row][0] * v[0] + m[row][1] * v[1] + m[row][2] * v[2]).powi(2))
                    .sum();
                w.sqrt() <= r + 1e-9
            };
            let run: Vec<i64> = (-ext(0)..=ext(0)).filter(|&di| inside(di)).collect();
            if let (Some(&lo), Some(&hi)) = (run.first(), run.last()) {
                debug_assert_eq!(run.len() as i64, hi - lo + 1);
                segments.push((dk, dj, lo, hi));
            }
        }
    }
    segments
}

/// The magnitude of a row's sum past which its prefix sums are not used (see
/// [`local_intensity_of`]): f64's rounding of the prefix then stays under 10⁻⁶.
const WIDE_ROW: f64 = 4_294_967_296.0;

/// `local_intensity` of a region given as its voxels (`roi_voxels`, in index order). A sphere's
/// sum is one difference of row prefix sums per segment of the sphere; the sums of a row's run
/// of region voxels are made segment by segment over the whole run (one vector loop per segment
/// where no segment reaches past the image's edge), each voxel's in the same order as one voxel
/// at a time.
pub fn local_intensity_of(image: &Volume, voxels: &[([usize; 3], f64)]) -> Vec<Feature> {
    let [nk, nj, ni] = image.dims();
    let segments = peak_segments(image);
    // prefix[(k, j)][i] = sum of the row's first i values (f64). A voxel that holds no number
    // (NaN, ±inf: an ADC map's background) is left out of the sums, and then the spheres count
    // the voxels that hold one (`finite[(k, j)][i]`, their number among the row's first i):
    // one NaN spoiled every peak whose sphere reached its row.
    let partial = image.data.iter().any(|v| !v.is_finite());
    let mut prefix = vec![0.0f64; nk * nj * (ni + 1)];
    let mut finite = if partial {
        vec![0i64; nk * nj * (ni + 1)]
    } else {
        Vec::new()
    };
    // A row whose values add up (in magnitude) past 2³² loses ordinary values in the difference
    // of two prefix sums (a −3.4e38 "no data" fill beside the region made every peak 0, though
    // no sphere held it): its spheres' segments are summed one by one instead.
    let mut wide = vec![false; nk * nj];
    for (r, (p, row)) in prefix
        .chunks_exact_mut(ni + 1)
        .zip(image.data.rows())
        .enumerate()
    {
        let (mut acc, mut held, mut magnitude) = (0.0, 0i64, 0.0f64);
        for (x, v) in row.iter().enumerate() {
            if v.is_finite() {
                acc += *v as f64;
                magnitude += v.abs() as f64;
                held += 1;
            }
            p[x + 1] = acc;
            if partial {
                finite[r * (ni + 1) + x + 1] = held;
            }
        }
        wide[r] = magnitude > WIDE_ROW;
    }
    let (mut sums, mut counts): (Vec<f64>, Vec<i64>) = (Vec::new(), Vec::new());
    let mut max_val = f64::NEG_INFINITY;
    let mut local = f64::NEG_INFINITY;
    let mut global = f64::NEG_INFINITY;
    let ni_ = ni as i64;
    for run in voxels.chunk_by(|a, b| a.0[..2] == b.0[..2]) {
        let [k, j, i0] = run[0].0;
        let i1 = run[run.len() - 1].0[2];
        let len = i1 - i0 + 1;
        sums.clear();
        sums.resize(len, 0.0);
        counts.clear();
        counts.resize(len, 0);
        for &(dk, dj, lo, hi) in &segments {
            let (kk, jj) = (k as i64 + dk, j as i64 + dj);
            if kk < 0 || jj < 0 || kk as usize >= nk || jj as usize >= nj {
                continue;
            }
            let row = kk as usize * nj + jj as usize;
            if wide[row] {
                let values = image.data.slice(ndarray::s![kk as usize, jj as usize, ..]);
                for i in i0 as i64..=i1 as i64 {
                    let (from, to) = ((i + lo).max(0), (i + hi).min(ni_ - 1));
                    let at = (i - i0 as i64) as usize;
                    for v in (from..=to).map(|x| values[x as usize]) {
                        if v.is_finite() {
                            sums[at] += v as f64;
                            counts[at] += 1;
                        }
                    }
                }
                continue;
            }
            let row_at = row * (ni + 1);
            let p = &prefix[row_at..][..ni + 1];
            let held = partial.then(|| &finite[row_at..][..ni + 1]);
            // Voxels i whose segment i + lo ..= i + hi lies inside the row: a ≤ i ≤ b.
            let a = (i0 as i64).max(-lo);
            let b = (i1 as i64).min(ni_ - 1 - hi);
            let one = |i: i64, sums: &mut [f64], counts: &mut [i64]| {
                let from = (i + lo).max(0);
                let to = (i + hi).min(ni_ - 1);
                if from <= to {
                    let at = (i - i0 as i64) as usize;
                    sums[at] += p[to as usize + 1] - p[from as usize];
                    counts[at] += match held {
                        Some(h) => h[to as usize + 1] - h[from as usize],
                        None => to - from + 1,
                    };
                }
            };
            if a > b {
                for i in i0 as i64..=i1 as i64 {
                    one(i, &mut sums, &mut counts);
                }
                continue;
            }
            for i in i0 as i64..a {
                one(i, &mut sums, &mut counts);
            }
            let (from, to) = ((a - i0 as i64) as usize, (b - i0 as i64) as usize);
            let upper = &p[(a + hi + 1) as usize..=(b + hi + 1) as usize];
            let lower = &p[(a + lo) as usize..=(b + lo) as usize];
            for ((s, u), l) in sums[from..=to].iter_mut().zip(upper).zip(lower) {
                *s += u - l;
            }
            match held {
                Some(h) => {
                    let upper = &h[(a + hi + 1) as usize..=(b + hi + 1) as usize];
                    let lower = &h[(a + lo) as usize..=(b + lo) as usize];
                    for ((c, u), l) in counts[from..=to].iter_mut().zip(upper).zip(lower) {
                        *c += u - l;
                    }
                }
                None => {
                    for c in &mut counts[from..=to] {
                        *c += hi - lo + 1;
                    }
                }
            }
            for i in b + 1..=i1 as i64 {
                one(i, &mut sums, &mut counts);
            }
        }
        for &([_, _, i], v) in run {
            let at = i - i0;
            let peak = sums[at] / counts[at].max(1) as f64;
            global = global.max(peak);
            if v > max_val {
                max_val = v;
                local = peak;
            } else if v == max_val {
                local = local.max(peak);
            }
        }
    }
    if !global.is_finite() {
        return Vec::new();
    }
    vec![
        Feature {
            name: "loc_peak_loc".into(),
            value: local,
            unit_kind: UnitKind::Intensity,
        },
        Feature {
            name: "loc_peak_glob".into(),
            value: global,
            unit_kind: UnitKind::Intensity,
        },
    ]
}

/// A region's voxels: [k, j, i] and image value, in index order.
pub type RoiVoxels = Vec<([usize; 3], f64)>;

/// Each voxel of the region `in_roi` of `image` ([k, j, i] and value), in index order, row by
/// row (ndarray's indexed iterator costs several times as much per voxel).
fn each_roi_voxel(
    image: &Volume,
    in_roi: &impl Fn(usize, usize, usize) -> bool,
    mut f: impl FnMut([usize; 3], f64),
) {
    for (k, plane) in image.data.outer_iter().enumerate() {
        for (j, row) in plane.outer_iter().enumerate() {
            for (i, v) in row.iter().enumerate() {
                if in_roi(k, j, i) {
                    f([k, j, i], *v as f64);
                }
            }
        }
    }
}

/// The voxels of the region `in_roi` of `image`, in index order.
pub fn roi_voxels(image: &Volume, in_roi: &impl Fn(usize, usize, usize) -> bool) -> RoiVoxels {
    let mut out = Vec::new();
    each_roi_voxel(image, in_roi, |at, v| out.push((at, v)));
    out
}

/// The image values of a region's voxels, in index order.
pub fn roi_values(image: &Volume, in_roi: &impl Fn(usize, usize, usize) -> bool) -> Vec<f64> {
    let mut out = Vec::new();
    each_roi_voxel(image, in_roi, |_, v| out.push(v));
    out
}

/// Every implemented feature of one region: its shape (`MaskShape`) beside what the image gives
/// (`region_part`), as rayon tasks.
pub fn region_features(
    image: &Volume,
    in_roi: &(impl Fn(usize, usize, usize) -> bool + Sync),
) -> Vec<Feature> {
    let (shape, part) = rayon::join(
        || super::morphology::mask_shape(image.dims(), &image.geometry, in_roi),
        || region_part(image, in_roi, true),
    );
    match part {
        Some(part) => region_features_from(&shape, part, image),
        None => Vec::new(),
    }
}

/// What one region's features take from the image: the morphology moments, the voxel count,
/// and the spatial, intensity and local-intensity families.
pub struct RegionPart {
    moments: super::morphology::Moments,
    voxels: usize,
    /// Of `voxels`, those that hold no number (NaN, ±inf): left out of the intensities.
    without_number: usize,
    rest: Vec<Feature>,
}

impl RegionPart {
    /// The region's voxels, and how many of them hold no number.
    pub fn voxels(&self) -> (usize, usize) {
        (self.voxels, self.without_number)
    }
}

/// The `RegionPart` of the region `in_roi` of `image`, with its spatial autocorrelation (Moran's
/// I, Geary's C) when `autocorrelation` (`region_memory` leaves it out of a region whose FFTs
/// would not fit in memory); None for an empty region.
pub fn region_part(
    image: &Volume,
    in_roi: &(impl Fn(usize, usize, usize) -> bool + Sync),
    autocorrelation: bool,
) -> Option<RegionPart> {
    // The region's voxels found once, for every family here.
    let voxels = roi_voxels(image, in_roi);
    if voxels.is_empty() {
        return None;
    }
    // The intensity mask (IBSI 2.1: re-segmentation) leaves out voxels that hold no number (NaN
    // or ±inf, in an ADC map from another tool); the morphological mask, which the volume and the
    // shape's moments count, keeps them. A copy only where there is one.
    let intensity: std::borrow::Cow<[([usize; 3], f64)]> = if voxels.iter().all(|v| v.1.is_finite())
    {
        std::borrow::Cow::Borrowed(&voxels)
    } else {
        std::borrow::Cow::Owned(voxels.iter().filter(|v| v.1.is_finite()).copied().collect())
    };
    let (moments, rest) = rayon::join(
        || super::morphology::moments_of(image, &voxels),
        || {
            if intensity.is_empty() {
                return Vec::new();
            }
            let mut out = if autocorrelation {
                super::spatial::autocorrelation_of(image, &intensity)
            } else {
                Vec::new()
            };
            let values: Vec<f64> = intensity.iter().map(|v| v.1).collect();
            out.extend(intensity_statistics(&values));
            out.extend(local_intensity_of(image, &intensity));
            out
        },
    );
    Some(RegionPart {
        moments,
        voxels: voxels.len(),
        without_number: voxels.len() - intensity.len(),
        rest,
    })
}

/// A region's features, in table order (morphology, voxel volume, then the image families),
/// from its shape and its image part (`image` for the grid spacing).
pub fn region_features_from(
    shape: &super::morphology::MaskShape,
    part: RegionPart,
    image: &Volume,
) -> Vec<Feature> {
    let mut out = super::morphology::morphology_from(shape, &part.moments, image.geometry.spacing);
    out.push(Feature {
        name: "morph_vol_approx".into(),
        value: part.voxels as f64 * image.geometry.voxel_volume_mm3(),
        unit_kind: UnitKind::Volume,
    });
    out.extend(part.rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::nifti_io::read_volume;
    use crate::volume::Geometry;
    use std::path::Path;

    /// The local peaks made row run by row run equal the mean over every voxel whose centre lies
    /// within the peak radius, found voxel by voxel in world coordinates: on a sheared (oblique)
    /// grid and an axial one, with the region touching the image's edges (spheres cut off) and
    /// rows of region voxels with gaps.
    #[test]
    fn local_peaks_equal_a_brute_force_sphere_mean() {
        let mut rng = crate::phantom::rng::Rng::new(3, 9);
        let c = std::f64::consts::FRAC_1_SQRT_2;
        let oblique = [[c, c, 0.0], [-c, c, 0.0], [0.0, 0.0, 1.0]];
        let sheared = [[1.0, 0.0, 0.0], [0.3, 0.954, 0.0], [0.0, 0.2, 0.98]];
        for direction in [
            Geometry::axial([0.0; 3], [1.0; 3]).direction,
            oblique,
            sheared,
        ] {
            let geometry = Geometry {
                origin: [5.0, -3.0, 2.0],
                spacing: [2.5, 3.0, 4.0],
                direction,
            };
            let (nk, nj, ni) = (7, 9, 11);
            let data = ndarray::Array3::from_shape_fn((nk, nj, ni), |_| rng.uniform() as f32);
            let image = Volume { data, geometry };
            let in_roi =
                |k: usize, j: usize, i: usize| !(k * 7 + j * 3 + i).is_multiple_of(4) && j < 8;
            let got = local_intensity(&image, &in_roi);
            let (local, global) = brute_force_peaks(&image, &in_roi);
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
            assert!(
                close(got[0].value, local),
                "{direction:?}: {} vs {local}",
                got[0].value
            );
            assert!(
                close(got[1].value, global),
                "{direction:?}: {} vs {global}",
                got[1].value
            );
        }
    }

    /// Regression (a radiomics audit): with no value between P10 and P90 (two voxels, 1 and 2:
    /// P10 1.1, P90 1.9) the robust mean absolute deviation was 0; it is undefined.
    #[test]
    fn the_robust_deviation_of_an_empty_robust_set_is_undefined() {
        let f = intensity_statistics(&[1.0, 2.0]);
        let rmad = f.iter().find(|f| f.name == "stat_rmad").unwrap().value;
        assert!(rmad.is_nan(), "{rmad}");
        let f = intensity_statistics(&[1.0, 2.0, 3.0]);
        let rmad = f.iter().find(|f| f.name == "stat_rmad").unwrap().value;
        assert_eq!(rmad, 0.0);
    }

    /// The local and global peaks (IBSI 3.2) by brute force: every voxel's distance to every
    /// region voxel, sums in f64 of the voxels in each sphere.
    fn brute_force_peaks(
        image: &Volume,
        in_roi: &impl Fn(usize, usize, usize) -> bool,
    ) -> (f64, f64) {
        let g = &image.geometry;
        let r = peak_radius_mm();
        let (mut global, mut local, mut max_val) = (f64::MIN, f64::MIN, f64::MIN);
        for ((k, j, i), v) in image.data.indexed_iter() {
            if !in_roi(k, j, i) {
                continue;
            }
            let centre = g.world(i as f64, j as f64, k as f64);
            let (mut sum, mut n) = (0.0, 0);
            for ((kk, jj, ii), w) in image.data.indexed_iter() {
                let p = g.world(ii as f64, jj as f64, kk as f64);
                let d2: f64 = (0..3).map(|a| (p[a] - centre[a]).powi(2)).sum();
                if d2.sqrt() <= r + 1e-9 {
                    sum += *w as f64;
                    n += 1;
                }
            }
            let peak = sum / n as f64;
            global = global.max(peak);
            let v = *v as f64;
            if v > max_val {
                (max_val, local) = (v, peak);
            }
        }
        (local, global)
    }

    /// Regression: a huge finite value in the region's rows but in no sphere (a −3.4e38 "no
    /// data" fill 8 mm from the region, the spheres reaching 6.2 mm) made both peaks 0: the
    /// difference of two prefix sums past 10¹⁷ lost every ordinary value.
    #[test]
    fn a_huge_value_outside_every_sphere_leaves_the_peaks_alone() {
        let mut rng = crate::phantom::rng::Rng::new(5, 1);
        for fill in [1e12f32, 1e17, -3.4e38] {
            let mut data = ndarray::Array3::from_shape_fn((12, 12, 30), |_| {
                (2.0 + 3.0 * rng.uniform()) as f32
            });
            data.slice_mut(ndarray::s![.., .., 16]).fill(fill);
            let image = Volume {
                data,
                geometry: Geometry::axial([0.0; 3], [2.0; 3]),
            };
            let in_roi = |k: usize, j: usize, i: usize| {
                (4..8).contains(&k) && (4..8).contains(&j) && (20..24).contains(&i)
            };
            let got = local_intensity(&image, &in_roi);
            let (local, global) = brute_force_peaks(&image, &in_roi);
            assert!(
                (got[0].value - local).abs() <= 1e-12 * local,
                "{fill}: {} vs {local}",
                got[0].value
            );
            assert!(
                (got[1].value - global).abs() <= 1e-12 * global,
                "{fill}: {} vs {global}",
                got[1].value
            );
        }
    }

    /// The IBSI digital phantom: every implemented feature equals its reference value
    /// (test-data/ibsi1-phantom/reference-values.csv) within its tolerance, or to the three
    /// significant digits printed where the tolerance is 0.
    #[test]
    fn ibsi_digital_phantom_reference_values() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/ibsi1-phantom");
        let image = read_volume(&root.join("image.nii.gz")).unwrap();
        let mask = read_volume(&root.join("mask.nii.gz")).unwrap();
        let feats = region_features(&image, &|k, j, i| mask.data[[k, j, i]] > 0.5);
        let mut reader = csv::Reader::from_path(root.join("reference-values.csv")).unwrap();
        let mut checked = 0;
        let mut failures = Vec::new();
        for rec in reader.records() {
            let rec = rec.unwrap();
            let Some(f) = feats.iter().find(|f| f.name == rec[7]) else {
                continue;
            };
            let reference: f64 = rec[3].parse().unwrap();
            let tol: f64 = rec[4].parse().unwrap();
            let ok = if tol > 0.0 {
                (f.value - reference).abs() <= tol
            } else {
                // Three significant digits.
                let scale = 10f64.powf(reference.abs().log10().floor() - 2.0);
                (f.value - reference).abs() <= 0.5 * scale + 1e-12
            };
            if !ok {
                failures.push(format!(
                    "{}: {} vs IBSI {} ± {}",
                    f.name, f.value, reference, tol
                ));
            }
            checked += 1;
        }
        assert!(failures.is_empty(), "{failures:#?}");
        assert_eq!(
            checked,
            feats.len() - 1,
            "every implemented feature but diam_axial_max (not IBSI) has an IBSI reference"
        );
        assert_eq!(checked, 45);
    }

    #[test]
    fn percentiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.5), 2.5);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 1.0), 4.0);
    }
}
