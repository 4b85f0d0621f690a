//! Regions of interest: NIfTI label maps with a label table, put onto an image grid. Same grid
//! (or the same voxels in another index order, e.g. the row flip of NIfTI files) → exact;
//! another grid → nearest-neighbour resampling in physical space (voxel centres), with the
//! share of image voxels that fell outside the mask's field of view reported.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::Array3;

use crate::volume::nifti_io::{read_volume, NiftiError};
use crate::volume::Volume;

/// Errors of ROI handling.
#[derive(Debug, thiserror::Error)]
pub enum RoiError {
    #[error(transparent)]
    Nifti(#[from] NiftiError),
    #[error("label table {0:?}: expected N=name pairs separated by commas, e.g. 1=tumor,2=kidney")]
    Labels(String),
    #[error("mask and image do not overlap: no image voxel centre falls inside the mask's grid")]
    NoOverlap,
}

impl crate::ExitCode for RoiError {
    fn exit_code(&self) -> u8 {
        match self {
            RoiError::Labels(_) => 2,
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
        m.insert(k, v.to_ascii_lowercase());
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

/// Read a NIfTI label map and put it on `image`'s grid.
pub fn label_map_for(image: &Volume, mask_path: &Path) -> Result<LabelMap, RoiError> {
    let mask = read_volume(mask_path)?;
    resample_nearest(image, &mask)
}

/// Nearest-neighbour labels of `mask` at every voxel centre of `image`.
pub fn resample_nearest(image: &Volume, mask: &Volume) -> Result<LabelMap, RoiError> {
    let [nk, nj, ni] = image.dims();
    let [mk, mj, mi] = mask.dims();
    let mut labels = Array3::<u32>::zeros((nk, nj, ni));
    let mut exact = true;
    let mut outside = 0usize;
    for ((k, j, i), l) in labels.indexed_iter_mut() {
        let idx = mask
            .geometry
            .index_of(image.geometry.world(i as f64, j as f64, k as f64));
        let r = idx.map(|x| x.round());
        if idx.iter().zip(&r).any(|(a, b)| (a - b).abs() > 1e-3) {
            exact = false;
        }
        if r[0] < 0.0
            || r[1] < 0.0
            || r[2] < 0.0
            || r[0] as usize >= mi
            || r[1] as usize >= mj
            || r[2] as usize >= mk
        {
            outside += 1;
            continue;
        }
        let v = mask.data[[r[2] as usize, r[1] as usize, r[0] as usize]];
        *l = if v.is_finite() && v > 0.0 {
            v.round() as u32
        } else {
            0
        };
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
