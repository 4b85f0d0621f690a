//! Regions of interest on an image grid, from three sources: NIfTI label maps with a label table;
//! DICOM Segmentation objects (`seg`, PS3.3 A.51: binary and fractional); RT Structure Sets
//! (`rtstruct`, PS3.3 A.19: contours rasterised by voxel centre inside polygon, per plane).
//! Same grid (or the same voxels in another index order, e.g. the row flip of NIfTI files) →
//! exact; another grid in the same frame of reference → nearest-neighbour resampling in physical
//! space (voxel centres), with the share of image voxels that fell outside the mask's field of
//! view reported; a DICOM mask in another frame of reference than the image → refused.

pub mod rtstruct;
pub mod seg;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::Array3;

use crate::volume::nifti_io::NiftiError;
use crate::volume::{Geometry, Volume};

/// Errors of ROI handling.
#[derive(Debug, thiserror::Error)]
pub enum RoiError {
    #[error(transparent)]
    Nifti(#[from] NiftiError),
    #[error("label table {0:?}: expected N=name pairs separated by commas, e.g. 1=tumor,2=kidney")]
    Labels(String),
    #[error("label table {table:?}: {why}")]
    LabelTable { table: String, why: String },
    #[error("mask and image do not overlap: no image voxel centre falls inside the mask's grid")]
    NoOverlap,
    #[error("cannot read the ROI file: {0}")]
    Read(String),
    #[error("the label map's {regions} regions need about {need:.1} GB for their masks (each over its bounding box), more than the {budget:.1} GB this process may give them (half of what it may use): labels scattered over the image? Name the ones to measure in the label table")]
    RegionsTooLarge {
        regions: usize,
        need: f64,
        budget: f64,
    },
    #[error("{kind}: attribute {attribute}: expected {expected}")]
    Dicom {
        kind: &'static str,
        attribute: String,
        expected: String,
    },
    #[error("the mask is not an ROI object: expected a NIfTI label map (.nii, .nii.gz), a DICOM SEG or an RTSTRUCT (Modality {0:?})")]
    NotRoi(String),
    #[error(
        "mask folder holds {0} DICOM SEG/RTSTRUCT files; expected exactly one (name the file)"
    )]
    NotOneRoiFile(usize),
    #[error("the ROI object's FrameOfReferenceUID (0020,0052) differs from the image's: it was drawn in another patient space and no registration is applied")]
    FrameOfReference,
    #[error("RTSTRUCT: a contour is not parallel to the image slices (oblique to the image grid); resample the image onto the contour planes first")]
    NotParallel,
}

impl crate::ExitCode for RoiError {
    fn exit_code(&self) -> u8 {
        match self {
            RoiError::Labels(_) | RoiError::LabelTable { .. } => 2,
            _ => 1,
        }
    }
}

/// Parse `1=tumor,2=kidney`.
pub fn parse_labels(s: &str) -> Result<BTreeMap<u32, String>, RoiError> {
    let mut m = BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| RoiError::Labels(s.into()))?;
        let k: u32 = k.trim().parse().map_err(|_| RoiError::Labels(s.into()))?;
        let v = v.trim();
        if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(RoiError::Labels(s.into()));
        }
        let v = v.to_ascii_lowercase();
        let why = if k == 0 {
            Some("0 is the background, not a region".to_string())
        } else if m.contains_key(&k) {
            Some(format!("label {k} is given twice"))
        } else if m.values().any(|n| *n == v) {
            Some(format!(
                "the name {v:?} is given twice (each names its own rows)"
            ))
        } else {
            None
        };
        if let Some(why) = why {
            return Err(RoiError::LabelTable {
                table: s.into(),
                why,
            });
        }
        m.insert(k, v);
    }
    if m.is_empty() {
        return Err(RoiError::Labels(s.into()));
    }
    Ok(m)
}

/// A label map on an image grid.
#[derive(Debug, Clone)]
pub struct LabelMap {
    pub labels: Array3<u32>,
    /// True when every image voxel centre coincided with a mask voxel centre (same voxels).
    pub exact: bool,
    /// Image voxels whose centre fell outside the mask grid (labelled 0).
    pub outside: usize,
}

/// One region on an image grid, kept within its bounding box: a thousand regions of a label map
/// each held a whole-grid mask (1.5 GB on a PET grid, and more than the address space allowed
/// on a CT grid with a few hundred lesions).
#[derive(Debug, Clone)]
pub struct Region {
    /// Label value, segment number or ROI number in the source.
    pub number: u32,
    pub name: String,
    /// The region's voxels within its bounding box, indexed from the box's first voxel
    /// ([slice, row, column]); 0 × 0 × 0 for an empty region.
    pub mask: Array3<bool>,
    /// The bounding box on the image grid ([slice, row, column] of its first and last voxels);
    /// None for an empty region.
    pub bbox: Option<[[usize; 3]; 2]>,
}

impl Region {
    /// A region from its mask over the whole image grid, kept within its bounding box.
    pub fn from_grid(number: u32, name: String, grid: ndarray::ArrayView3<bool>) -> Self {
        Region::in_box(number, name, grid, mask_box(grid), |m| *m)
    }

    /// A region of the voxels of `grid` within `bbox` (its known bounding box; None: empty)
    /// for which `marks` holds.
    fn in_box<T>(
        number: u32,
        name: String,
        grid: ndarray::ArrayView3<T>,
        bbox: Option<[[usize; 3]; 2]>,
        marks: impl Fn(&T) -> bool,
    ) -> Self {
        let mask = match bbox {
            Some([lo, hi]) => grid
                .slice(ndarray::s![lo[0]..=hi[0], lo[1]..=hi[1], lo[2]..=hi[2]])
                .map(marks),
            None => Array3::from_elem((0, 0, 0), false),
        };
        Region {
            number,
            name,
            mask,
            bbox,
        }
    }

    /// Whether the region marks at least one voxel.
    pub fn has_voxels(&self) -> bool {
        self.bbox.is_some()
    }

    /// Whether voxel [slice, row, column] of the image grid is in the region.
    pub fn contains(&self, [k, j, i]: [usize; 3]) -> bool {
        let Some([lo, _]) = self.bbox else {
            return false;
        };
        match (
            k.checked_sub(lo[0]),
            j.checked_sub(lo[1]),
            i.checked_sub(lo[2]),
        ) {
            (Some(k), Some(j), Some(i)) => self.mask.get([k, j, i]).copied().unwrap_or(false),
            _ => false,
        }
    }

    /// The region's mask over the window of the image grid from `a` (first voxel) to `b` (one
    /// past the last), false outside the region's box.
    pub fn window(&self, a: [usize; 3], b: [usize; 3]) -> Array3<bool> {
        let dims: [usize; 3] = std::array::from_fn(|x| b[x].saturating_sub(a[x]));
        let mut out = Array3::from_elem(dims, false);
        let Some([lo, hi]) = self.bbox else {
            return out;
        };
        // The overlap of the window and the box, in each one's indices.
        let from: [usize; 3] = std::array::from_fn(|x| lo[x].max(a[x]));
        let to: [usize; 3] = std::array::from_fn(|x| (hi[x] + 1).min(b[x]));
        if (0..3).any(|x| from[x] >= to[x]) {
            return out;
        }
        let in_window = ndarray::s![
            from[0] - a[0]..to[0] - a[0],
            from[1] - a[1]..to[1] - a[1],
            from[2] - a[2]..to[2] - a[2]
        ];
        let in_box = ndarray::s![
            from[0] - lo[0]..to[0] - lo[0],
            from[1] - lo[1]..to[1] - lo[1],
            from[2] - lo[2]..to[2] - lo[2]
        ];
        out.slice_mut(in_window).assign(&self.mask.slice(in_box));
        out
    }

    /// The extent of its bounding box ([slices, rows, columns]); None for an empty region.
    pub fn extent(&self) -> Option<[usize; 3]> {
        self.bbox
            .map(|[lo, hi]| std::array::from_fn(|a| hi[a] + 1 - lo[a]))
    }

    /// The number of voxels the region marks.
    pub fn voxels(&self) -> usize {
        self.mask.iter().filter(|m| **m).count()
    }
}

/// The bounding box ([slice, row, column] of its first and last voxels) of a mask; None when
/// empty.
pub fn mask_box(mask: ndarray::ArrayView3<bool>) -> Option<[[usize; 3]; 2]> {
    let (mut lo, mut hi) = ([usize::MAX; 3], [0; 3]);
    for (k, plane) in mask.outer_iter().enumerate() {
        for (j, row) in plane.outer_iter().enumerate() {
            let first = row.iter().position(|m| *m);
            let Some(first) = first else { continue };
            let last = row.len() - 1 - row.iter().rev().position(|m| *m).unwrap_or(0);
            for (a, (l, h)) in [(k, k), (j, j), (first, last)].into_iter().enumerate() {
                lo[a] = lo[a].min(l);
                hi[a] = hi[a].max(h);
            }
        }
    }
    (lo[0] != usize::MAX).then_some([lo, hi])
}

/// The regions of one ROI source on an image grid.
#[derive(Debug, Clone)]
pub struct Rois {
    pub regions: Vec<Region>,
    /// True when the source's voxels coincided with the image's (no resampling).
    pub exact: bool,
    /// Image voxels outside a label map's field of view (0 for SEG and RTSTRUCT).
    pub outside: usize,
    /// "NIfTI label map", "DICOM SEG" or "RTSTRUCT".
    pub source: &'static str,
    /// Labels (segment, ROI numbers) the source holds that the table does not name: not
    /// measured, which is to be said.
    pub unnamed: Vec<u32>,
    /// Regions the source holds that cannot be read (an RTSTRUCT ROI with a damaged contour),
    /// with why: not measured, which is to be said.
    pub unusable: Vec<(u32, String)>,
    /// Regions measured without part of what the source holds for them (an RTSTRUCT ROI's
    /// contours outside the image, cut at its edge, or of a type that bounds no volume), with
    /// what: to be said (they were left out without a word).
    pub partial: Vec<(u32, String)>,
    /// A DICOM SEG or RTSTRUCT whose FrameOfReferenceUID is not the image's, taken because it
    /// names the image's series as the one it was drawn on (`values::referenced_series`;
    /// pydicom-seg 0.4 writes a new frame of reference into every SEG): to be said.
    pub frame_from_series: bool,
}

/// What identifies a DICOM image, for the DICOM ROI objects drawn on it.
#[derive(Debug, Clone, Copy)]
pub struct DicomImage<'a> {
    /// Its FrameOfReferenceUID: a SEG or RTSTRUCT must share it, ...
    pub frame_of_reference: &'a str,
    /// ... or name this SeriesInstanceUID as the series it was drawn on. An RTSTRUCT that names
    /// it alone was drawn on the image's own slices (its planes are not filled between).
    pub series_uid: &'a str,
}

impl Rois {
    /// What the source calls one of its regions: "segment" (SEG), "ROI" (RTSTRUCT) or "label".
    pub fn region_word(&self) -> &'static str {
        match self.source {
            "DICOM SEG" => "segment",
            "RTSTRUCT" => "ROI",
            _ => "label",
        }
    }

    /// The regions as one label grid of the image's `dims` (their masks' grid): each voxel holds
    /// the number of the last region that marks it, 0 where none does.
    pub fn label_grid(&self, dims: [usize; 3]) -> Array3<u32> {
        let mut labels = Array3::<u32>::zeros(dims);
        for r in &self.regions {
            let Some([lo, hi]) = r.bbox.filter(|[_, hi]| (0..3).all(|a| hi[a] < dims[a])) else {
                continue;
            };
            let s = ndarray::s![lo[0]..=hi[0], lo[1]..=hi[1], lo[2]..=hi[2]];
            ndarray::Zip::from(labels.slice_mut(s))
                .and(&r.mask)
                .for_each(|l, &m| {
                    if m {
                        *l = r.number
                    }
                });
        }
        labels
    }

    /// These regions, read with their source's own names (a SEG's SegmentLabel, an RTSTRUCT's
    /// ROIName), named by `table`'s numbers instead: a region whose number the table lacks goes
    /// to `unnamed`. Also returns the regions whose own name is another name of the table than
    /// the one their number gets, as (number, own name, table's name): a table that numbers
    /// the object otherwise than its author did. Only names of the table are returned, never
    /// the object's other text.
    pub fn numbered_by(self, table: &BTreeMap<u32, String>) -> (Rois, Vec<(u32, String, String)>) {
        let mut misnumbered = Vec::new();
        let mut out = Rois {
            regions: Vec::new(),
            unnamed: self.unnamed,
            ..self
        };
        for mut region in self.regions {
            let Some(name) = table.get(&region.number) else {
                out.unnamed.push(region.number);
                continue;
            };
            if &region.name != name && table.values().any(|n| *n == region.name) {
                misnumbered.push((region.number, region.name.clone(), name.clone()));
            }
            region.name = name.clone();
            out.regions.push(region);
        }
        // What is not measured needs no word on what it was measured without.
        out.partial.retain(|(number, _)| table.contains_key(number));
        (out, misnumbered)
    }

    /// The labels of `table` that mark no voxel of the image, as (number, name): absent from the
    /// mask (a complete response, a region outside the scan's field of view, a mistyped label
    /// number) or outside the image. They give no features, which is to be said, not left to be
    /// noticed. Without a table: none (the regions are the labels present). Regions the source
    /// holds but cannot be read are not among them: `unusable` says why of those.
    pub fn empty_regions<'a>(
        &self,
        table: Option<&'a BTreeMap<u32, String>>,
    ) -> Vec<(u32, &'a str)> {
        let has_voxels = |number: u32| {
            self.regions
                .iter()
                .any(|r| r.number == number && r.has_voxels())
        };
        let unusable = |number: u32| self.unusable.iter().any(|(n, _)| *n == number);
        table
            .into_iter()
            .flatten()
            .filter(|(number, _)| !has_voxels(**number) && !unusable(**number))
            .map(|(number, name)| (*number, name.as_str()))
            .collect()
    }

    /// The numbers of the source's own regions that mark no voxel of the image (an RTSTRUCT's
    /// ROI contoured only on slices the image does not have, an empty segment): read without a
    /// table, they give no features, which is to be said too.
    pub fn empty_own_regions(&self) -> Vec<u32> {
        self.regions
            .iter()
            .filter(|r| !r.has_voxels())
            .map(|r| r.number)
            .collect()
    }

    /// Split a label map into regions: the table's labels, or every label present as `label<N>`.
    /// One pass finds every label's bounding box; each region's mask is then made over its box.
    /// Refused when the boxes hold more voxels than the memory budget has bytes
    /// (`memory::volume_budget_bytes`): a thousand labels spread over a whole PET grid took
    /// 1.5 GB, and a few thousand aborted the batch.
    pub fn from_label_map(
        lm: &LabelMap,
        table: Option<&BTreeMap<u32, String>>,
    ) -> Result<Self, RoiError> {
        Rois::from_labels(lm.labels.view(), lm.exact, lm.outside, table)
    }

    /// `from_label_map` of labels of any unsigned type (a NIfTI label map's own 8-bit voxels).
    pub fn from_labels<T: Copy + Into<u32>>(
        labels: ndarray::ArrayView3<T>,
        exact: bool,
        outside: usize,
        table: Option<&BTreeMap<u32, String>>,
    ) -> Result<Self, RoiError> {
        let boxes = label_boxes(labels);
        let measured = boxes
            .iter()
            .filter(|(l, _)| table.is_none_or(|t| t.contains_key(l)));
        let cells = measured
            .clone()
            .map(|(_, [lo, hi])| (0..3).map(|a| (hi[a] + 1 - lo[a]) as u64).product::<u64>())
            .fold(0u64, u64::saturating_add);
        let budget = crate::memory::volume_budget_bytes();
        if cells > budget {
            return Err(RoiError::RegionsTooLarge {
                regions: measured.count(),
                need: cells as f64 / 1e9,
                budget: budget as f64 / 1e9,
            });
        }
        let unnamed = match table {
            Some(t) => boxes
                .keys()
                .filter(|l| !t.contains_key(l))
                .copied()
                .collect(),
            None => Vec::new(),
        };
        let table = match table {
            Some(t) => t.clone(),
            None => boxes.keys().map(|&l| (l, format!("label{l}"))).collect(),
        };
        let regions = table
            .into_iter()
            .map(|(number, name)| {
                let bbox = boxes.get(&number).copied();
                Region::in_box(number, name, labels, bbox, |l| (*l).into() == number)
            })
            .collect();
        Ok(Rois {
            regions,
            exact,
            outside,
            source: "NIfTI label map",
            unnamed,
            unusable: Vec::new(),
            partial: Vec::new(),
            frame_from_series: false,
        })
    }
}

/// The bounding box ([slice, row, column] of its first and last voxels) of every non-zero label.
/// Rows are read as runs of one label (a box grows once per run, not per voxel), and most rows,
/// all background, cost one test.
fn label_boxes<T: Copy + Into<u32>>(
    labels: ndarray::ArrayView3<T>,
) -> BTreeMap<u32, [[usize; 3]; 2]> {
    let mut boxes = LabelBoxes::default();
    let mut copy: Vec<T> = Vec::new();
    for (k, plane) in labels.outer_iter().enumerate() {
        for (j, row) in plane.outer_iter().enumerate() {
            let row: &[T] = match row.as_slice() {
                Some(r) => r,
                None => {
                    copy.clear();
                    copy.extend(row.iter().copied());
                    &copy
                }
            };
            boxes.add_row(k, j, row);
        }
    }
    boxes.list.into_iter().collect()
}

/// Label boxes being grown (few labels: a list, searched from the label last seen).
#[derive(Default)]
struct LabelBoxes {
    list: Vec<(u32, [[usize; 3]; 2])>,
    last: usize,
}

impl LabelBoxes {
    fn add_row<T: Copy + Into<u32>>(&mut self, k: usize, j: usize, row: &[T]) {
        if row.iter().all(|&l| l.into() == 0) {
            return;
        }
        let mut i = 0;
        while i < row.len() {
            let l: u32 = row[i].into();
            let first = i;
            while i < row.len() && row[i].into() == l {
                i += 1;
            }
            if l != 0 {
                self.grow(l, [k, j, first], [k, j, i - 1]);
            }
        }
    }

    fn grow(&mut self, l: u32, lo: [usize; 3], hi: [usize; 3]) {
        if self.list.get(self.last).is_none_or(|b| b.0 != l) {
            match self.list.iter().position(|b| b.0 == l) {
                Some(at) => self.last = at,
                None => {
                    self.list.push((l, [lo, hi]));
                    self.last = self.list.len() - 1;
                }
            }
        }
        let b = &mut self.list[self.last].1;
        for a in 0..3 {
            b[0][a] = b[0][a].min(lo[a]);
            b[1][a] = b[1][a].max(hi[a]);
        }
    }
}

/// A region name from a DICOM label: lower case, runs of other characters → `_`; `fallback` when
/// nothing is left.
pub fn region_name(label: &str, fallback: String) -> String {
    let mut out = String::new();
    for c in label.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_').to_string();
    if out.is_empty() {
        fallback
    } else {
        out
    }
}

/// The one SEG / RTSTRUCT file of a folder (files that are not DICOM are ignored).
fn roi_file_in(dir: &Path) -> Result<PathBuf, RoiError> {
    let mut found = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| RoiError::Read(e.to_string()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    for p in entries {
        if matches!(dicom_modality(&p).as_deref(), Some("SEG" | "RTSTRUCT")) {
            found.push(p);
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        n => Err(RoiError::NotOneRoiFile(n)),
    }
}

/// The Modality of a DICOM file (None when it is not one).
fn dicom_modality(path: &Path) -> Option<String> {
    crate::ingest::header::read_header(path)
        .ok()
        .map(|r| r.modality.to_string())
}

/// Put the ROIs of `mask` (NIfTI label map, SEG or RTSTRUCT file, or a folder holding one SEG or
/// RTSTRUCT) on `image`'s grid. `dicom` identifies the image when it came from DICOM: a DICOM
/// mask must share its FrameOfReferenceUID, or name its series as the one it was drawn on (then
/// `Rois::frame_from_series`). An RTSTRUCT that names the image's series as the only one it was
/// drawn on holds each contour's own slice; any other, half its set's contouring interval either
/// side ([`rtstruct::plane_spacing`]).
/// Every region of the source is taken,
/// named after its SegmentLabel / ROIName (a label map's by its number); `Rois::numbered_by`
/// names them by a label table instead.
pub fn load_rois(image: &Volume, dicom: Option<DicomImage>, mask: &Path) -> Result<Rois, RoiError> {
    let name = mask.to_string_lossy();
    if name.ends_with(".nii") || name.ends_with(".nii.gz") {
        let lm = label_map_for(image, mask)?;
        return Rois::from_label_map(&lm, None);
    }
    let file = if mask.is_dir() {
        roi_file_in(mask)?
    } else {
        mask.to_path_buf()
    };
    let same_for = |found: &str| match dicom.map(|d| d.frame_of_reference) {
        Some(expected) if !expected.is_empty() && !found.is_empty() && expected != found => {
            Err(RoiError::FrameOfReference)
        }
        _ => Ok(()),
    };
    let named = |number: u32, label: &str| region_name(label, format!("roi{number}"));
    // Parsed once (its declared lengths checked first); its Modality says which reader it goes to.
    let obj = crate::ingest::open::open_file(&file, false)
        .map_err(|e| RoiError::NotRoi(format!("none: not a readable DICOM file: {e}")))?;
    let modality = crate::ingest::values::str_of(&obj, dicom_dictionary_std::tags::MODALITY)
        .map(|m| m.to_ascii_uppercase());
    // Whether the object names the image's series as one it was drawn on, and as the only one.
    let referenced = crate::ingest::values::referenced_series(&obj);
    let image_series = dicom.map(|d| d.series_uid).filter(|u| !u.is_empty());
    let drawn_on_image = image_series.is_some_and(|u| referenced.iter().any(|r| r == u));
    let drawn_on_image_only = drawn_on_image && referenced.len() == 1;
    // Another frame of reference is refused, unless the object was drawn on the image's series.
    let frame_ok = |found: &str| match same_for(found) {
        Err(RoiError::FrameOfReference) if drawn_on_image => Ok(true),
        other => other.map(|()| false),
    };
    match modality.as_deref() {
        Some("SEG") => {
            let s = seg::seg_from_object(&obj)?;
            let frame_from_series = frame_ok(&s.frame_of_reference)?;
            let mut regions = Vec::new();
            let mut exact = true;
            for segment in &s.segments {
                let lm = resample_nearest(image, &segment.volume)?;
                exact &= lm.exact;
                regions.push(Region::from_grid(
                    segment.number,
                    named(segment.number, &segment.label),
                    lm.labels.mapv(|l| l > 0).view(),
                ));
            }
            Ok(Rois {
                regions,
                exact,
                outside: 0,
                source: "DICOM SEG",
                unnamed: Vec::new(),
                unusable: Vec::new(),
                partial: Vec::new(),
                frame_from_series,
            })
        }
        Some("RTSTRUCT") => {
            let structures = rtstruct::rtstruct_from_object(&obj)?;
            // Each structure's contours in index space, once: for the set's contouring interval
            // (structures whose contours are damaged or not parallel to the slices passed over),
            // then for its own mask.
            let planes: Vec<_> = structures
                .iter()
                .map(|st| rtstruct::plane_contours(&st.contours, &image.geometry))
                .collect();
            let usable: Vec<&[rtstruct::PlaneContour]> = structures
                .iter()
                .zip(&planes)
                .filter(|(st, _)| st.defect.is_none())
                .filter_map(|(_, p)| p.as_deref().ok())
                .collect();
            // Drawn on this image's slices, a plane holds its own slice only; otherwise (another
            // series named too, or none) the set may have been contoured on a coarser grid,
            // whose interval its planes show.
            let spacing = if drawn_on_image_only {
                1.0
            } else {
                rtstruct::plane_spacing(&usable)
            };
            let mut regions = Vec::new();
            let mut unusable = Vec::new();
            let mut partial = Vec::new();
            let mut frame_from_series = false;
            for (st, planes) in structures.iter().zip(planes) {
                frame_from_series |= frame_ok(&st.frame_of_reference)?;
                if let Some(why) = &st.defect {
                    unusable.push((st.number, why.clone()));
                    continue;
                }
                let planes = planes?;
                partial.extend(
                    contours_left_out(st, &planes, image.dims(), spacing)
                        .into_iter()
                        .map(|why| (st.number, why)),
                );
                regions.push(Region::from_grid(
                    st.number,
                    named(st.number, &st.name),
                    rtstruct::rasterise_planes(&planes, image.dims(), spacing).view(),
                ));
            }
            Ok(Rois {
                regions,
                exact: true,
                outside: 0,
                source: "RTSTRUCT",
                unnamed: Vec::new(),
                unusable,
                partial,
                frame_from_series,
            })
        }
        Some(other) => Err(RoiError::NotRoi(other.to_string())),
        None => Err(RoiError::NotRoi("none: not a readable DICOM file".into())),
    }
}

/// What of an RTSTRUCT ROI's contours its region on a grid of `dims` leaves out, said as
/// "n of its m contours ...": those outside the grid, those cut at its edge, and (for an ROI that
/// has closed contours) those of a type that bounds no volume. The region had shrunk without a
/// word (a contour moved 1 km away, or at 1e308 mm, took 43 mm³ off a tumour).
fn contours_left_out(
    st: &rtstruct::Structure,
    planes: &[rtstruct::PlaneContour],
    dims: [usize; 3],
    spacing: f64,
) -> Vec<String> {
    let all = planes.len() + st.other_contours.values().sum::<usize>();
    let of = |n: usize, one: &str, many: &str| match (n, all) {
        (_, 1) => format!("its one contour {one}"),
        _ if n == all => format!("all {all} of its contours {many}"),
        _ => format!(
            "{n} of its {all} contours {}",
            if n == 1 { one } else { many }
        ),
    };
    let (outside, cut) = rtstruct::beyond_grid(planes, dims, spacing);
    let mut out = Vec::new();
    // All outside: the region marks no voxel, which is said as such.
    if outside > 0 && outside < planes.len() {
        out.push(format!(
            "{} outside the image: left out",
            of(outside, "lies", "lie")
        ));
    }
    if cut > 0 {
        out.push(format!(
            "{} beyond the image's edge: cut there (the region is larger than measured)",
            of(cut, "reaches", "reach")
        ));
    }
    if !planes.is_empty() {
        for (kind, n) in &st.other_contours {
            out.push(format!(
                "{} {kind}: left out (bounding no volume)",
                of(*n, "is", "are")
            ));
        }
    }
    out
}

/// Read a NIfTI label map and put it on `image`'s grid.
pub fn label_map_for(image: &Volume, mask_path: &Path) -> Result<LabelMap, RoiError> {
    let (labels, geometry) = crate::volume::nifti_io::read_labels(mask_path)?;
    label_map_on(image, labels, &geometry)
}

/// A NIfTI label map's regions found on the map's own grid, before the image they belong to has
/// loaded (the two load side by side): kept as they are when the image turns out to share that
/// grid, found again on the image's grid otherwise.
pub struct PendingRois {
    labels: crate::volume::nifti_io::Labels,
    geometry: Geometry,
    own: Rois,
}

impl PendingRois {
    /// Read the label map at `path` and find its regions (`table` as for `Rois::from_label_map`).
    pub fn read(path: &Path, table: Option<&BTreeMap<u32, String>>) -> Result<Self, RoiError> {
        use crate::volume::nifti_io::Labels;
        let (labels, geometry) = crate::volume::nifti_io::read_label_volume(path)?;
        let own = match &labels {
            Labels::U8(l) => Rois::from_labels(l.view(), true, 0, table)?,
            Labels::U32(l) => Rois::from_labels(l.view(), true, 0, table)?,
        };
        Ok(PendingRois {
            labels,
            geometry,
            own,
        })
    }

    /// The regions on the label map's own grid.
    pub fn regions(&self) -> &Rois {
        &self.own
    }

    /// The label map's grid.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The regions on `image`'s grid, and whether that is the label map's own grid (the
    /// regions of `regions()` then).
    pub fn on_image(
        self,
        image: &Volume,
        table: Option<&BTreeMap<u32, String>>,
    ) -> Result<(Rois, bool), RoiError> {
        if same_grid(image, &self.geometry, self.labels.dim()) {
            return Ok((self.own, true));
        }
        use crate::volume::nifti_io::Labels;
        // Resampled from the labels as stored (an 8-bit map is not widened first).
        let map = match &self.labels {
            Labels::U8(l) => resample_labels(image, &self.geometry, l.view(), u32::from),
            Labels::U32(l) => resample_labels(image, &self.geometry, l.view(), |l| l),
        }?;
        Ok((Rois::from_label_map(&map, table)?, false))
    }
}

/// Integer labels on grid `geometry` put on `image`'s grid (moved as they are when the grids
/// are the same).
pub fn label_map_on(
    image: &Volume,
    labels: Array3<u32>,
    geometry: &Geometry,
) -> Result<LabelMap, RoiError> {
    if same_grid(image, geometry, labels.dim()) {
        return Ok(LabelMap {
            labels,
            exact: true,
            outside: 0,
        });
    }
    resample_labels(image, geometry, labels.view(), |l| l)
}

/// Plane positions sorted with near-equal ones (within 1 µm) merged, and the smallest gap between
/// neighbours (infinite for fewer than two planes): the slice grid of a SEG or an RTSTRUCT.
fn distinct_planes(mut positions: Vec<f64>) -> (Vec<f64>, f64) {
    positions.sort_by(f64::total_cmp);
    positions.dedup_by(|a, b| (*a - *b).abs() < 1e-3);
    let gap = positions
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min);
    (positions, gap)
}

/// The range [lo, hi) of x in [0, n) where `row + x·step` lies inside [0, m) on every axis.
fn inside_range(row: [i64; 3], step: [i64; 3], m: [i64; 3], n: i64) -> (i64, i64) {
    let (mut lo, mut hi) = (0i64, n);
    for a in 0..3 {
        let (r, s) = (row[a], step[a]);
        if s == 0 {
            if r < 0 || r >= m[a] {
                return (0, 0);
            }
            continue;
        }
        // 0 ≤ r + x·s < m  ⇔  x in [ceil(−r/s), ceil((m − r)/s)) for s > 0, mirrored for s < 0.
        let (from, to) = if s > 0 {
            (div_ceil(-r, s), div_ceil(m[a] - r, s))
        } else {
            (div_ceil(r - m[a] + 1, -s), div_ceil(r + 1, -s))
        };
        lo = lo.max(from);
        hi = hi.min(to);
    }
    (lo, hi.max(lo))
}

/// `v` rounded to the nearest integer, halves away from zero (as `f64::round`, which is a libm
/// call on baseline x86-64); values beyond ±2⁵² are clamped by the cast, far outside any grid.
fn round_half_away(v: f64) -> i64 {
    let r = (v.abs() + 0.5) as i64;
    // |v| + 0.5 rounds up to the next integer for the largest f64 below one half.
    let r = if v.abs() < 0.5 { 0 } else { r };
    if v < 0.0 {
        -r
    } else {
        r
    }
}

/// ⌈a / b⌉ for b > 0.
fn div_ceil(a: i64, b: i64) -> i64 {
    a.div_euclid(b) + i64::from(a.rem_euclid(b) != 0)
}

/// Image index → mask index is affine: mask_idx = A·[i, j, k] + b, with b the mask index of the
/// image's origin and A's columns the mask-index steps of one image voxel along i, j, k. Returns
/// (b, A's columns).
fn index_map(image: &Volume, mask: &Geometry) -> [[f64; 3]; 4] {
    let b = mask.index_of(image.geometry.world(0.0, 0.0, 0.0));
    let step = |i: f64, j: f64, k: f64| {
        let p = mask.index_of(image.geometry.world(i, j, k));
        [p[0] - b[0], p[1] - b[1], p[2] - b[2]]
    };
    [
        b,
        step(1.0, 0.0, 0.0),
        step(0.0, 1.0, 0.0),
        step(0.0, 0.0, 1.0),
    ]
}

/// Whether every image voxel is the mask voxel of the same index (same grid, same dimensions).
fn same_grid(image: &Volume, mask: &Geometry, mask_dims: (usize, usize, usize)) -> bool {
    let [nk, nj, ni] = image.dims();
    let identity = [[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let map = index_map(image, mask);
    (nk, nj, ni) == mask_dims
        && map
            .iter()
            .flatten()
            .zip(identity.iter().flatten())
            .all(|(a, b)| (a - b).abs() < 1e-6)
}

/// Nearest-neighbour labels of `mask` at every voxel centre of `image`.
pub fn resample_nearest(image: &Volume, mask: &Volume) -> Result<LabelMap, RoiError> {
    resample_labels(
        image,
        &mask.geometry,
        mask.data.view(),
        crate::volume::nifti_io::label_value,
    )
}

/// Nearest-neighbour labels (`label` of each voxel of `src`, a volume on grid `mask`) at every
/// voxel centre of `image`.
fn resample_labels<T: Copy>(
    image: &Volume,
    mask: &Geometry,
    src: ndarray::ArrayView3<T>,
    label_of: impl Fn(T) -> u32,
) -> Result<LabelMap, RoiError> {
    // The very same grid: one pass over the voxels, no index arithmetic.
    if same_grid(image, mask, src.dim()) {
        return Ok(LabelMap {
            labels: src.mapv(label_of),
            exact: true,
            outside: 0,
        });
    }
    let [nk, nj, ni] = image.dims();
    let (mk, mj, mi) = src.dim();
    let mut labels = Array3::<u32>::zeros((nk, nj, ni));
    let mut exact = true;
    let mut outside = 0usize;
    let [b, ai, aj, ak] = index_map(image, mask);
    // The same voxels (possibly in another index order, e.g. NIfTI's row flip): an integer map,
    // no rounding per voxel.
    let integral = |v: &[f64; 3]| v.iter().all(|x| (x - x.round()).abs() < 1e-6);
    if integral(&b) && integral(&ai) && integral(&aj) && integral(&ak) {
        let r = |v: [f64; 3]| v.map(|x| x.round() as i64);
        let (b, ai, aj, ak) = (r(b), r(ai), r(aj), r(ak));
        let m = [mi as i64, mj as i64, mk as i64];
        let src = src.as_standard_layout();
        let src = src.as_slice().unwrap_or(&[]);
        let dst = labels.as_slice_mut().unwrap_or(&mut []);
        // Along a row of the image the mask index moves by a fixed step: the row's part inside
        // the mask is one range of i, read with one stride, no bounds test per voxel.
        let stride = ai[0] + m[0] * (ai[1] + m[1] * ai[2]);
        for k in 0..nk {
            for j in 0..nj {
                let (y, z) = (j as i64, k as i64);
                let row: [i64; 3] = std::array::from_fn(|a| b[a] + y * aj[a] + z * ak[a]);
                let out = &mut dst[(k * nj + j) * ni..(k * nj + j + 1) * ni];
                let (lo, hi) = inside_range(row, ai, m, ni as i64);
                outside += ni - (hi - lo) as usize;
                let start = row[0] + m[0] * (row[1] + m[1] * row[2]);
                for x in lo..hi {
                    out[x as usize] = label_of(src[(start + x * stride) as usize]);
                }
            }
        }
        if outside == nk * nj * ni {
            return Err(RoiError::NoOverlap);
        }
        return Ok(LabelMap {
            labels,
            exact,
            outside,
        });
    }
    // Any other grid: per voxel, the nearest mask voxel (half away from zero, as f64::round),
    // row by row over contiguous slices, without a libm call or a bounds-checked 3D index.
    let src = src.as_standard_layout();
    let src = src.as_slice().unwrap_or(&[]);
    let dst = labels.as_slice_mut().unwrap_or(&mut []);
    let m = [mi, mj, mk];
    for k in 0..nk {
        for j in 0..nj {
            let (y, z) = (j as f64, k as f64);
            let row: [f64; 3] = std::array::from_fn(|a| b[a] + y * aj[a] + z * ak[a]);
            let out = &mut dst[(k * nj + j) * ni..(k * nj + j + 1) * ni];
            for (i, l) in out.iter_mut().enumerate() {
                let x = i as f64;
                let mut at = [0usize; 3];
                let mut inside = true;
                for a in 0..3 {
                    let v = row[a] + x * ai[a];
                    let r = round_half_away(v);
                    exact &= (v - r as f64).abs() <= 1e-3;
                    // A negative index wraps to a huge one: one unsigned test per axis.
                    inside &= (r as usize) < m[a];
                    at[a] = r as usize;
                }
                if inside {
                    *l = label_of(src[at[0] + mi * (at[1] + mj * at[2])]);
                } else {
                    outside += 1;
                }
            }
        }
    }
    if outside == nk * nj * ni {
        return Err(RoiError::NoOverlap);
    }
    Ok(LabelMap {
        labels,
        exact,
        outside,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Geometry;

    /// The label grid of two overlapping regions: each voxel the later one's number where both
    /// mark it, 0 where none does; a mask reaching past the grid is left out, not a panic.
    #[test]
    fn label_grid_numbers_each_voxel_by_its_region() {
        let region = |number: u32, at: &[[usize; 3]], dims: (usize, usize, usize)| {
            let mut mask = Array3::from_elem(dims, false);
            for &[k, j, i] in at {
                mask[[k, j, i]] = true;
            }
            Region::from_grid(number, format!("r{number}"), mask.view())
        };
        let rois = Rois {
            regions: vec![
                region(1, &[[0, 0, 0], [0, 0, 1]], (1, 2, 2)),
                region(3, &[[0, 0, 1], [0, 1, 1]], (1, 2, 2)),
                region(7, &[[1, 1, 1]], (2, 2, 2)),
            ],
            exact: true,
            outside: 0,
            source: "DICOM SEG",
            unnamed: Vec::new(),
            unusable: Vec::new(),
            partial: Vec::new(),
            frame_from_series: false,
        };
        let grid = rois.label_grid([1, 2, 2]);
        assert_eq!(grid.into_raw_vec_and_offset().0, [1, 3, 0, 3]);
    }

    /// A region kept within its box answers for every voxel of the grid as the whole-grid mask
    /// it was made from does, and so does any window of it (one that cuts the box, one beside
    /// it, one past the grid's edge); an empty region has no box and no voxel.
    #[test]
    fn a_region_in_its_box_is_the_mask_it_was_made_from() {
        let dims = (5, 6, 7);
        let grid = Array3::from_shape_fn(dims, |(k, j, i)| {
            (1..4).contains(&k) && (2..5).contains(&j) && (i == 1 || i == 5) && (k + j + i) % 3 != 0
        });
        let r = Region::from_grid(4, "r".into(), grid.view());
        assert_eq!(r.bbox, Some([[1, 2, 1], [3, 4, 5]]));
        assert_eq!(r.mask.dim(), (3, 3, 5));
        assert_eq!(r.voxels(), grid.iter().filter(|m| **m).count());
        for ((k, j, i), m) in grid.indexed_iter() {
            assert_eq!(r.contains([k, j, i]), *m, "{k} {j} {i}");
        }
        assert!(!r.contains([9, 9, 9]));
        assert_eq!(r.window([0; 3], [5, 6, 7]), grid);
        for (a, b) in [
            ([2, 3, 0], [5, 6, 4]),
            ([0, 0, 6], [5, 6, 7]),
            ([2, 0, 3], [9, 9, 9]),
        ] {
            let w = r.window(a, b);
            assert_eq!(w.dim(), (b[0] - a[0], b[1] - a[1], b[2] - a[2]));
            for ((k, j, i), m) in w.indexed_iter() {
                let at = [a[0] + k, a[1] + j, a[2] + i];
                let want = at[0] < 5 && at[1] < 6 && at[2] < 7 && grid[at];
                assert_eq!(*m, want, "{at:?}");
            }
        }
        let empty = Region::from_grid(5, "e".into(), Array3::from_elem(dims, false).view());
        assert!(!empty.has_voxels() && empty.voxels() == 0 && !empty.contains([0, 0, 0]));
        assert!(!empty.window([0; 3], [2, 2, 2]).iter().any(|m| *m));
    }

    /// The label boxes found run by run equal those found voxel by voxel, on blobs of random
    /// labels (runs of one label, labels interleaved in a row, labels that come back after
    /// others), as u8 and u32 voxels and through a view whose rows are not contiguous.
    #[test]
    fn a_label_table_names_each_region_once() {
        let t = parse_labels("1=Tumor, 2=kidney").unwrap();
        assert_eq!(t[&1], "tumor");
        for (table, why) in [
            ("0=background", "0 is the background"),
            ("1=tumor,1=kidney", "label 1 is given twice"),
            ("1=tumor,2=Tumor", "\"tumor\" is given twice"),
        ] {
            let e = parse_labels(table).unwrap_err().to_string();
            assert!(e.contains(why), "{table}: {e}");
        }
    }

    #[test]
    fn label_boxes_equal_a_voxel_by_voxel_search() {
        let mut rng = crate::phantom::rng::Rng::new(7, 3);
        let mut labels = Array3::<u32>::zeros((9, 11, 13));
        for _ in 0..40 {
            let l = 1 + (rng.uniform() * 6.0) as u32;
            let at = [9, 11, 13].map(|n: usize| (rng.uniform() * n as f64) as usize % n);
            let run = 1 + (rng.uniform() * 5.0) as usize;
            for i in at[2]..(at[2] + run).min(13) {
                labels[[at[0], at[1], i]] = l;
            }
        }
        labels[[8, 10, 12]] = 300;
        let brute = |labels: ndarray::ArrayView3<u32>| {
            let mut boxes: BTreeMap<u32, [[usize; 3]; 2]> = BTreeMap::new();
            for ((k, j, i), &l) in labels.indexed_iter() {
                if l == 0 {
                    continue;
                }
                let b = boxes.entry(l).or_insert([[k, j, i], [k, j, i]]);
                for (a, x) in [k, j, i].into_iter().enumerate() {
                    b[0][a] = b[0][a].min(x);
                    b[1][a] = b[1][a].max(x);
                }
            }
            boxes
        };
        assert_eq!(label_boxes(labels.view()), brute(labels.view()));
        assert_eq!(brute(labels.view()).len(), 7);
        let bytes = labels.mapv(|l| l.min(255) as u8);
        assert_eq!(
            label_boxes(bytes.view()),
            brute(bytes.mapv(u32::from).view())
        );
        let flipped = labels.slice(ndarray::s![.., .., ..;-1]);
        assert!(flipped
            .index_axis(ndarray::Axis(0), 0)
            .row(0)
            .as_slice()
            .is_none());
        assert_eq!(label_boxes(flipped), brute(flipped));
    }

    /// An 8-bit label map read while the image loads (`PendingRois`): on the image's own grid its
    /// regions are kept; on another grid (shifted by whole voxels, rows flipped) they are found
    /// again on the image grid — both equal to reading the map as u32 labels and resampling.
    #[test]
    fn pending_regions_equal_resampled_regions_on_any_grid() {
        use crate::volume::nifti_io::{write_array, NiftiMeta};
        let geometry = Geometry {
            origin: [-10.0, 5.0, 2.0],
            spacing: [2.0, 2.0, 3.0],
            direction: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        };
        let labels = Array3::from_shape_fn((5, 7, 9), |(k, j, i)| {
            [0u8, 1, 2, 0, 3][(k + 2 * j + 3 * i) % 5] * u8::from(i > 1)
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.nii.gz");
        write_array(labels.view(), &geometry, &path, &NiftiMeta::default()).unwrap();
        let table: BTreeMap<u32, String> =
            [(1, "a".to_string()), (2, "b".into()), (3, "c".into())].into();
        let same = Volume {
            data: Array3::zeros((5, 7, 9)),
            geometry: geometry.clone(),
        };
        let shifted = Volume {
            data: Array3::zeros((4, 6, 8)),
            geometry: Geometry {
                origin: [-8.0, 19.0, 5.0],
                direction: [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]],
                ..geometry.clone()
            },
        };
        for image in [&same, &shifted] {
            let pending = PendingRois::read(&path, Some(&table))
                .unwrap()
                .on_image(image, Some(&table))
                .unwrap()
                .0;
            let expected =
                Rois::from_label_map(&label_map_for(image, &path).unwrap(), Some(&table)).unwrap();
            assert_eq!(pending.regions.len(), 3);
            for (a, b) in pending.regions.iter().zip(&expected.regions) {
                assert_eq!((a.number, &a.name, a.bbox), (b.number, &b.name, b.bbox));
                assert_eq!(a.mask, b.mask);
                assert!(a.mask.iter().any(|m| *m), "region {} is empty", a.name);
            }
            assert_eq!(pending.outside, expected.outside);
        }
        // The shifted grid really is another grid: part of it lies outside the map.
        assert!(label_map_for(&shifted, &path).unwrap().outside > 0);
    }

    /// Integer grid maps (flipped rows, swapped axes, shifted origin, partial overlap) give the
    /// label of the mask voxel whose centre each image voxel centre falls on, and count the
    /// voxels outside — checked voxel by voxel against the geometry.
    #[test]
    fn integer_grid_maps_match_voxel_by_voxel_lookup() {
        let mask_geometry = Geometry {
            origin: [-7.0, 12.0, 3.0],
            spacing: [2.0, 2.0, 3.0],
            direction: [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]],
        };
        let data = ndarray::Array3::from_shape_fn((6, 9, 11), |(k, j, i)| {
            ((k * 5 + j * 3 + i) % 4) as f32
        });
        let mask = Volume {
            data,
            geometry: mask_geometry.clone(),
        };
        let images = [
            // Rows flipped, shifted by whole voxels, partly outside.
            Geometry {
                origin: [-3.0, -6.0, 6.0],
                spacing: [2.0, 2.0, 3.0],
                direction: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            },
            // Rows and columns swapped, columns reversed.
            Geometry {
                origin: [13.0, 4.0, 3.0],
                spacing: [2.0, 2.0, 3.0],
                direction: [[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
            },
        ];
        for geometry in images {
            let image = Volume {
                data: ndarray::Array3::zeros((5, 8, 10)),
                geometry,
            };
            let lm = resample_nearest(&image, &mask).unwrap();
            let mut outside = 0;
            for ((k, j, i), got) in lm.labels.indexed_iter() {
                let w = image.geometry.world(i as f64, j as f64, k as f64);
                let p = mask_geometry.index_of(w).map(|x| x.round() as i64);
                let inside = (0..3).all(|a| p[a] >= 0 && p[a] < [11, 9, 6][a]);
                let expected = if inside {
                    mask.data[[p[2] as usize, p[1] as usize, p[0] as usize]] as u32
                } else {
                    outside += 1;
                    0
                };
                assert_eq!(*got, expected, "voxel {k},{j},{i}");
            }
            assert_eq!(lm.outside, outside);
            assert!(outside > 0 && outside < 400);
        }
    }
}
