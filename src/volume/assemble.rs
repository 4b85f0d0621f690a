//! DICOM series → volumes, after the geometry plan of `ingest::geometry`: pixels decoded per file
//! in parallel, rescaled per slice (or per frame) in floating point
//! (value = stored × RescaleSlope + RescaleIntercept, PS3.3 C.7.6.16.2.9 / C.11.1.1.2), placed at
//! their sorted slice index.

use std::path::{Path, PathBuf};

use ndarray::Array3;
use rayon::prelude::*;

use crate::ingest::{self, Series, SeriesKind};

use super::pixels::{decode_frames, PixelError};
use super::Volume;

/// Errors of volume assembly.
#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    #[error(transparent)]
    Scan(#[from] ingest::IngestError),
    #[error("series does not make a volume: {0}")]
    Geometry(String),
    #[error("{file}: {source}")]
    Pixels {
        file: String,
        #[source]
        source: PixelError,
    },
    #[error("{file}: cannot read DICOM: {message}")]
    Read { file: String, message: String },
    #[error("{dir}: expected exactly one image series, found {found}")]
    NotOneSeries { dir: String, found: usize },
}

impl crate::ExitCode for AssembleError {}

/// A volume of a series, with what downstream stages need to name it.
#[derive(Debug, Clone)]
pub struct SeriesVolume {
    pub volume: Volume,
    /// "" for a plain series; "b800", "e2"... for a part of a split series.
    pub label: String,
    pub b_value: Option<f64>,
    pub modality: String,
    pub kind: SeriesKind,
    pub patient_id: String,
    pub series_uid: String,
}

/// (plan index, slice index, stored values) of one decoded image.
type DecodedSlice = (usize, usize, Vec<f32>);

/// Build every volume of a scanned series.
pub fn load_series(series: &Series) -> Result<Vec<SeriesVolume>, AssembleError> {
    let plans = series.plan.clone().map_err(AssembleError::Geometry)?;
    if plans.is_empty() {
        return Err(AssembleError::Geometry("the series has no image".into()));
    }
    // Which (plan, slice index, frame) each file feeds.
    let mut wanted: Vec<Vec<(usize, usize, u32)>> = vec![Vec::new(); series.files.len()];
    for (pi, plan) in plans.iter().enumerate() {
        for (k, s) in plan.slices.iter().enumerate() {
            wanted[s.file].push((pi, k, s.frame));
        }
    }
    let decoded: Vec<Result<Vec<DecodedSlice>, AssembleError>> = series
        .files
        .par_iter()
        .zip(wanted.par_iter())
        .map(|(rec, want)| {
            if want.is_empty() {
                return Ok(Vec::new());
            }
            let frames: Vec<u32> = want.iter().map(|w| w.2).collect();
            // Native little-endian Pixel Data at a known offset: read the bytes, no parse.
            if let (Some(at), 1) = (rec.pixel_offset, rec.samples_per_pixel) {
                let n = rec.rows as usize * rec.columns as usize;
                let px =
                    read_native(rec, at, &frames, n).map_err(|source| AssembleError::Pixels {
                        file: rec.path.display().to_string(),
                        source,
                    })?;
                return Ok(want.iter().zip(px).map(|(w, v)| (w.0, w.1, v)).collect());
            }
            let obj = dicom_object::open_file(&rec.path).map_err(|e| AssembleError::Read {
                file: rec.path.display().to_string(),
                message: e.to_string(),
            })?;
            let px = decode_frames(&obj, &frames).map_err(|source| AssembleError::Pixels {
                file: rec.path.display().to_string(),
                source,
            })?;
            Ok(want.iter().zip(px).map(|(w, v)| (w.0, w.1, v)).collect())
        })
        .collect();
    let mut vols: Vec<Array3<f32>> = plans
        .iter()
        .map(|p| {
            let shape = (p.slices.len(), p.rows, p.columns);
            let voxels = crate::memory::zeroed_voxels(shape.0 * shape.1 * shape.2);
            Array3::from_shape_vec(shape, voxels).unwrap_or_else(|_| Array3::zeros(shape))
        })
        .collect();
    for part in decoded {
        for (pi, k, values) in part? {
            let plan = &plans[pi];
            let s = plan.slices[k];
            let n = plan.rows * plan.columns;
            if values.len() != n {
                return Err(AssembleError::Geometry(format!(
                    "slice {} has {} pixels, {} expected",
                    k + 1,
                    values.len(),
                    n
                )));
            }
            let mut dst = vols[pi].index_axis_mut(ndarray::Axis(0), k);
            for (d, v) in dst.iter_mut().zip(values) {
                *d = (v as f64 * s.slope + s.intercept) as f32;
            }
        }
    }
    Ok(plans
        .into_iter()
        .zip(vols)
        .map(|(plan, data)| SeriesVolume {
            volume: Volume {
                data,
                geometry: plan.geometry,
            },
            label: plan.label,
            b_value: plan.b_value,
            modality: series.modality.clone(),
            kind: series.kind,
            patient_id: series.patient_id.clone(),
            series_uid: series.series_uid.clone(),
        })
        .collect())
}

/// The stored values of `frames` of a file whose native little-endian Pixel Data value starts at
/// byte `at` (found by the scan, which checked its header and length).
fn read_native(
    rec: &crate::ingest::FileRecord,
    at: u64,
    frames: &[u32],
    n: usize,
) -> Result<Vec<Vec<f32>>, crate::volume::pixels::PixelError> {
    use std::io::{Read, Seek, SeekFrom};
    let bpp = usize::from(rec.bits_allocated / 8).max(1);
    let len = n * bpp * rec.frames as usize;
    let mut bytes = vec![0u8; len];
    let read = std::fs::File::open(&rec.path).and_then(|mut f| {
        f.seek(SeekFrom::Start(at))?;
        f.read_exact(&mut bytes)
    });
    if let Err(e) = read {
        return Err(crate::volume::pixels::PixelError::Unsupported(format!(
            "cannot read Pixel Data: {e}"
        )));
    }
    crate::volume::pixels::native_frames(
        &bytes,
        i64::from(rec.bits_allocated),
        i64::from(rec.bits_stored),
        rec.pixel_signed,
        frames,
        n,
    )
}

/// Scan `dir` (one series folder) and build its volumes.
pub fn load_series_dir(dir: &Path) -> Result<Vec<SeriesVolume>, AssembleError> {
    load_series_files(&[dir.to_path_buf()])
}

/// Scan the given files or folders (one series) and build its volumes.
pub fn load_series_files(inputs: &[PathBuf]) -> Result<Vec<SeriesVolume>, AssembleError> {
    let inv = ingest::scan_paths(inputs)?;
    let images: Vec<&Series> = inv.series.iter().filter(|s| s.is_image()).collect();
    match images.as_slice() {
        [one] => load_series(one),
        other => Err(AssembleError::NotOneSeries {
            dir: inputs
                .first()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            found: other.len(),
        }),
    }
}
