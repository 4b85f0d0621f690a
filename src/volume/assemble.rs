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
    #[error("{dir}: expected exactly one image series, found {found}{why}")]
    NotOneSeries {
        dir: String,
        found: usize,
        /// Why nothing was found, when no file was used: the first rejection's reason.
        why: String,
    },
}

impl crate::ExitCode for AssembleError {
    /// A missing input is a bad command line (2), as in `scan` and `convert`.
    fn exit_code(&self) -> u8 {
        match self {
            AssembleError::Scan(e) => e.exit_code(),
            _ => 1,
        }
    }
}

impl AssembleError {
    /// `NotOneSeries` for `dir` and its scan: with no series, the first rejected file's reason
    /// (a text file or a NIfTI's sidecar given as the image: "not DICOM").
    pub fn not_one_series(dir: &Path, inv: &ingest::Inventory, found: usize) -> AssembleError {
        let why = match (found, inv.rejected.first()) {
            (0, Some(r)) => format!(
                " ({} rejected, the first: {})",
                crate::plural::count(inv.rejected.len(), "file"),
                r.reason
            ),
            (0, None) if inv.files_seen == 0 => " (no file there)".to_string(),
            _ => String::new(),
        };
        AssembleError::NotOneSeries {
            dir: dir.display().to_string(),
            found,
            why,
        }
    }
}

/// A volume of a series, with what downstream stages need to name it.
#[derive(Debug, Clone)]
pub struct SeriesVolume {
    pub volume: Volume,
    /// "" for a plain series; "b800", "e2"... for a part of a split series.
    pub label: String,
    pub b_value: Option<f64>,
    /// Diffusion gradient direction of the volume's images (patient coordinates, as stored).
    pub gradient: Option<[f64; 3]>,
    pub modality: String,
    pub kind: SeriesKind,
    pub patient_id: String,
    pub series_uid: String,
    /// False for images without ImageOrientationPatient (see `VolumePlan::placed`).
    pub placed: bool,
    /// Written with its siblings of the same `stack` as one 4D file (see `VolumePlan::four_d`).
    pub four_d: bool,
    /// The 4D file it joins (see `VolumePlan::stack`).
    pub stack: String,
    /// Colour images (SamplesPerPixel 3, 8 bits a sample): each voxel holds its red, green and
    /// blue samples packed as one whole number, `r·2¹⁶ + g·2⁸ + b` (exact in f32, below 2²⁴).
    pub rgb: bool,
}

/// What a volume of `series` is not, for a caller that measures: `None` for a grey-level
/// series placed in patient space.
fn not_measurable(
    series: &Series,
    plans: &[crate::ingest::geometry::VolumePlan],
) -> Option<String> {
    if is_rgb(series) {
        return Some("colour images (SamplesPerPixel 3): not a measurable volume".into());
    }
    plans.iter().any(|p| !p.placed).then(|| {
        "missing ImageOrientationPatient (0020,0037): the images have no position in patient space"
            .to_string()
    })
}

/// Whether the series holds colour images (three samples a pixel).
fn is_rgb(series: &Series) -> bool {
    series
        .files
        .first()
        .is_some_and(|f| f.samples_per_pixel == 3)
}

/// Where one image of a file goes: its slice of a volume, with the frame that holds it and the
/// slice's rescaling.
struct Destination<'a> {
    slice: usize,
    frame: u32,
    slope: f64,
    intercept: f64,
    voxels: &'a mut [f32],
}

/// Stored values → stored × slope + intercept (in f64, as PS3.3 defines it), over a slice
/// (vector registers); nothing to do for the identity.
fn rescale_in_place(values: &mut [f32], slope: f64, intercept: f64) {
    if slope == 1.0 && intercept == 0.0 {
        return;
    }
    for v in values.iter_mut() {
        *v = (*v as f64 * slope + intercept) as f32;
    }
}

/// A slice whose decoded image is not the size the plan gives it.
fn slice_size_error(d: &Destination, found: usize) -> AssembleError {
    AssembleError::Geometry(format!(
        "slice {} has {} pixels, {} expected",
        d.slice + 1,
        found,
        d.voxels.len()
    ))
}

/// Build every volume of a scanned series, for measuring: grey-level images placed in patient
/// space only (colour images and images without orientation are refused before any pixel is
/// read).
pub fn load_series(series: &Series) -> Result<Vec<SeriesVolume>, AssembleError> {
    let plans = series.plan.clone().map_err(AssembleError::Geometry)?;
    if let Some(why) = not_measurable(series, &plans) {
        return Err(AssembleError::Geometry(why));
    }
    load_planned(series, plans)
}

/// Build every volume of a scanned series as images to export, colour images and images
/// without orientation included (see `SeriesVolume::rgb` and `placed`).
pub fn load_series_images(series: &Series) -> Result<Vec<SeriesVolume>, AssembleError> {
    let plans = series.plan.clone().map_err(AssembleError::Geometry)?;
    load_planned(series, plans)
}

fn load_planned(
    series: &Series,
    plans: Vec<crate::ingest::geometry::VolumePlan>,
) -> Result<Vec<SeriesVolume>, AssembleError> {
    if plans.is_empty() {
        return Err(AssembleError::Geometry("the series has no image".into()));
    }
    let rgb = is_rgb(series);
    let bytes: u128 = plans
        .iter()
        .map(|p| (p.slices.len() as u128) * (p.rows as u128) * (p.columns as u128) * 4)
        .sum();
    let budget = crate::memory::volume_budget_bytes();
    if bytes > u128::from(budget) {
        let gb = |b: u128| b as f64 / f64::from(1u32 << 30);
        return Err(AssembleError::Geometry(format!(
            "its volumes ({} × {} pixels, {} slices) need {:.1} GB, more than the {:.1} GB one \
             series may take (half the memory this process may use)",
            plans[0].rows,
            plans[0].columns,
            plans.iter().map(|p| p.slices.len()).sum::<usize>(),
            gb(bytes),
            gb(u128::from(budget))
        )));
    }
    // Which (plan, slice index, frame) each file feeds.
    // The volumes first; then every file's pixels decoded, rescaled and written into their
    // slices in parallel (each slice is one file's: the slices are handed out as disjoint
    // mutable rows of the volumes).
    let mut vols: Vec<Array3<f32>> = plans
        .iter()
        .map(|p| {
            let shape = (p.slices.len(), p.rows, p.columns);
            let voxels = crate::memory::zeroed_voxels(shape.0 * shape.1 * shape.2);
            Array3::from_shape_vec(shape, voxels).unwrap_or_else(|_| Array3::zeros(shape))
        })
        .collect();
    let mut wanted: Vec<Vec<Destination>> = (0..series.files.len()).map(|_| Vec::new()).collect();
    for (plan, vol) in plans.iter().zip(vols.iter_mut()) {
        let n = plan.rows * plan.columns;
        let Some(voxels) = vol.as_slice_mut() else {
            return Err(AssembleError::Geometry(
                "volume buffer is not contiguous".into(),
            ));
        };
        for (k, (s, dst)) in plan
            .slices
            .iter()
            .zip(voxels.chunks_mut(n.max(1)))
            .enumerate()
        {
            let Some(list) = wanted.get_mut(s.file) else {
                return Err(AssembleError::Geometry(format!(
                    "slice {} refers to file {} of {}",
                    k + 1,
                    s.file,
                    series.files.len()
                )));
            };
            // Colour samples are not rescaled (PS3.3 C.7.6.16.2.9: the Modality LUT applies to
            // grey-level images).
            let (slope, intercept) = if rgb {
                (1.0, 0.0)
            } else {
                (s.slope, s.intercept)
            };
            list.push(Destination {
                slice: k,
                frame: s.frame,
                slope,
                intercept,
                voxels: dst,
            });
        }
    }
    let placed: Vec<Result<(), AssembleError>> = series
        .files
        .par_iter()
        .zip(wanted.into_par_iter())
        .map(|(rec, mut want)| {
            if want.is_empty() {
                return Ok(());
            }
            let pixel_error = |source| AssembleError::Pixels {
                file: rec.path.display().to_string(),
                source,
            };
            let n = rec.rows as usize * rec.columns as usize;
            if let Some(m) = rec.mosaic {
                return mosaic_tiles(rec, m, &mut want);
            }
            // Native little-endian Pixel Data at a known offset: read the bytes, no parse, and
            // decode each frame straight into its slice.
            if let (Some(at), 1) = (rec.pixel_offset, rec.samples_per_pixel) {
                let bytes = read_native(rec, at, n).map_err(pixel_error)?;
                for d in want.iter_mut() {
                    if d.voxels.len() != n {
                        return Err(slice_size_error(d, n));
                    }
                    native_into(rec, &bytes, d.frame, d.voxels).map_err(pixel_error)?;
                    rescale_in_place(d.voxels, d.slope, d.intercept);
                }
                return Ok(());
            }
            let frames: Vec<u32> = want.iter().map(|w| w.frame).collect();
            let px = decoded(rec, &frames)?;
            for (d, values) in want.iter_mut().zip(px) {
                if values.len() != d.voxels.len() {
                    return Err(slice_size_error(d, values.len()));
                }
                d.voxels.copy_from_slice(&values);
                rescale_in_place(d.voxels, d.slope, d.intercept);
            }
            Ok(())
        })
        .collect();
    // The first problem in file order (as a serial reading would meet it).
    placed.into_iter().collect::<Result<(), _>>()?;
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
            gradient: plan.gradient,
            modality: series.modality.clone(),
            kind: series.kind,
            patient_id: series.patient_id.clone(),
            series_uid: series.series_uid.clone(),
            placed: plan.placed,
            four_d: plan.four_d,
            stack: plan.stack,
            rgb,
        })
        .collect())
}

/// A Siemens mosaic's slices: its one frame decoded, then each wanted tile copied out.
fn mosaic_tiles(
    rec: &crate::ingest::FileRecord,
    m: crate::ingest::siemens::Mosaic,
    want: &mut [Destination],
) -> Result<(), AssembleError> {
    let pixel_error = |source| AssembleError::Pixels {
        file: rec.path.display().to_string(),
        source,
    };
    let n = rec.rows as usize * rec.columns as usize;
    let frame = match (rec.pixel_offset, rec.samples_per_pixel) {
        (Some(at), 1) => {
            let bytes = read_native(rec, at, n).map_err(pixel_error)?;
            let mut frame = vec![0f32; n];
            native_into(rec, &bytes, 0, &mut frame).map_err(pixel_error)?;
            frame
        }
        _ => decoded(rec, &[0])?.pop().unwrap_or_default(),
    };
    for d in want.iter_mut() {
        if !m.tile_into(&frame, rec.columns as usize, d.frame, d.voxels) {
            return Err(AssembleError::Geometry(format!(
                "slice {} is tile {} of a {}×{} mosaic of {} tiles of {}×{}, which the image does not hold",
                d.slice + 1,
                d.frame + 1,
                m.grid,
                m.grid,
                m.tiles,
                m.tile_rows,
                m.tile_columns
            )));
        }
        rescale_in_place(d.voxels, d.slope, d.intercept);
    }
    Ok(())
}

/// Frame `frame` of a file's native little-endian Pixel Data `bytes`, as stored values, into
/// `out` (one frame).
fn native_into(
    rec: &crate::ingest::FileRecord,
    bytes: &[u8],
    frame: u32,
    out: &mut [f32],
) -> Result<(), PixelError> {
    crate::volume::pixels::native_frame_into(
        bytes,
        i64::from(rec.bits_allocated),
        i64::from(rec.bits_stored),
        rec.pixel_signed,
        frame,
        out,
    )
}

/// Frames of a file decoded by dicom-rs (encapsulated, or native where the scan found no
/// offset), as stored values.
fn decoded(
    rec: &crate::ingest::FileRecord,
    frames: &[u32],
) -> Result<Vec<Vec<f32>>, AssembleError> {
    let obj =
        crate::ingest::open::open_file(&rec.path, false).map_err(|e| AssembleError::Read {
            file: rec.path.display().to_string(),
            message: e.to_string(),
        })?;
    decode_frames(&obj, frames).map_err(|source| AssembleError::Pixels {
        file: rec.path.display().to_string(),
        source,
    })
}

/// The Pixel Data bytes (every frame of `n` pixels) of a file whose native little-endian Pixel
/// Data value starts at byte `at` (found by the scan, which checked its header and length).
fn read_native(
    rec: &crate::ingest::FileRecord,
    at: u64,
    n: usize,
) -> Result<Vec<u8>, crate::volume::pixels::PixelError> {
    use std::io::{Read, Seek, SeekFrom};
    let bpp = usize::from(rec.bits_allocated / 8).max(1);
    let len = n * bpp * rec.frames as usize;
    let mut bytes = vec![0u8; len];
    let read = std::fs::File::open(&rec.path).and_then(|mut f| {
        f.seek(SeekFrom::Start(at))?;
        f.read_exact(&mut bytes)
    });
    match read {
        Ok(()) => Ok(bytes),
        Err(e) => Err(crate::volume::pixels::PixelError::Unsupported(format!(
            "cannot read Pixel Data: {e}"
        ))),
    }
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
        other => Err(AssembleError::not_one_series(
            inputs
                .first()
                .map(PathBuf::as_path)
                .unwrap_or(Path::new("")),
            &inv,
            other.len(),
        )),
    }
}
