//! NIfTI-1 input/output (NIfTI-1.1 header, `.nii` / `.nii.gz`) with the geometry written twice,
//! as sform (code 1, scanner) and qform (code 1), both in RAS as the format requires.
//!
//! Layout follows dcm2niix: columns stay as in DICOM, rows are flipped (the first stored row is
//! the last DICOM row) and slices run along the row × column normal, so for an axial series the
//! affine is `diag(-dx, dy, dz)` with qfac = −1. Whatever the layout, every voxel keeps the LPS
//! position it had in DICOM: world(RAS) = diag(−1, −1, 1) · world(LPS).
//!
//! The nifti crate's writer fills the header from a reference header (it writes an identity
//! affine otherwise), so every header written here is built from the volume's `Geometry`.
//! Files are written through `crate::atomic`.

use std::path::Path;

use ndarray::{Array3, ArrayView3};
use nifti::{DataElement, IntoNdArray, NiftiHeader, NiftiObject, NiftiVolume, ReaderOptions};

use super::{dot, Geometry, Volume};

/// Errors of NIfTI reading and writing.
#[derive(Debug, thiserror::Error)]
pub enum NiftiError {
    #[error("cannot read NIfTI file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: nifti::NiftiError,
    },
    #[error("cannot write NIfTI file {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("NIfTI file {path}: {what}")]
    Invalid { path: String, what: String },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<std::io::Error> for NiftiError {
    fn from(source: std::io::Error) -> Self {
        NiftiError::Io {
            path: String::new(),
            source,
        }
    }
}

/// Optional header content for a written file.
#[derive(Debug, Clone, Default)]
pub struct NiftiMeta {
    /// `descrip` field (≤ 79 bytes; must not carry PHI).
    pub description: String,
    /// Repetition time / time step in seconds for 4D files (`pixdim[4]`).
    pub time_step_s: Option<f64>,
    /// `dim_info`: the frequency, phase and slice axes (1-based; bits 0-1, 2-3, 4-5), 0 when
    /// unknown (`dim_info_for`).
    pub dim_info: u8,
    /// `slice_code`: the slice acquisition order (NIFTI_SLICE_*), 0 when unknown
    /// (`siemens::slice_order_code`).
    pub slice_code: u8,
    /// The sform of a single slice whose GantryDetectorTilt is not 0, as dcm2niix writes it:
    /// its slice column without the tilt (y 0, z the slice spacing); the qform keeps the normal.
    pub tilt_shear: bool,
    /// The `.bvec` beside a diffusion series keeps each direction's length instead of making
    /// it a unit vector: GE's and Canon's directions in the image's frame, which dcm2niix
    /// (`geCorrectBvecs`) turns without normalising (`bvec::bvec_text`).
    pub bvec_lengths_kept: bool,
}

/// NIfTI `dim_info` from DICOM's InPlanePhaseEncodingDirection, as dcm2niix sets it: ROW →
/// phase along i (1), frequency along j (2); COL → phase along j, frequency along i; slices
/// along k (3). 0 without a direction. (dcm2niix keeps it when it rotates a 3D acquisition.)
pub fn dim_info_for(phase_along_columns: Option<bool>) -> u8 {
    match phase_along_columns {
        Some(false) => (3 << 4) | (1 << 2) | 2,
        Some(true) => (3 << 4) | (2 << 2) | 1,
        None => 0,
    }
}

/// The 4×4 RAS affine (rows) of the dcm2niix-style stored layout of a volume with `rows` rows.
/// Returns (affine rows, spacing).
fn ras_affine(g: &Geometry, rows: usize) -> [[f64; 4]; 3] {
    // Row flip: stored row j' = rows − 1 − j.
    let origin = g.world(0.0, (rows.saturating_sub(1)) as f64, 0.0);
    let dirs = [
        g.direction[0],
        [-g.direction[1][0], -g.direction[1][1], -g.direction[1][2]],
        g.direction[2],
    ];
    let lps_to_ras = [-1.0, -1.0, 1.0];
    let mut a = [[0.0; 4]; 3];
    for r in 0..3 {
        for (axis, dir) in dirs.iter().enumerate() {
            a[r][axis] = lps_to_ras[r] * dir[r] * g.spacing[axis];
        }
        a[r][3] = lps_to_ras[r] * origin[r];
    }
    a
}

/// Quaternion parameters (b, c, d, qfac) of the rotation part of an affine, as
/// `nifti_mat44_to_quatern` of the NIfTI reference library defines them.
fn quaternion(a: &[[f64; 4]; 3], spacing: [f64; 3]) -> (f64, f64, f64, f64) {
    let mut r = [[0.0; 3]; 3];
    for row in 0..3 {
        for col in 0..3 {
            r[row][col] = a[row][col] / spacing[col];
        }
    }
    let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1])
        - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
        + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    let qfac = if det < 0.0 {
        for row in r.iter_mut() {
            row[2] = -row[2];
        }
        -1.0
    } else {
        1.0
    };
    let trace = r[0][0] + r[1][1] + r[2][2] + 1.0;
    let (mut qa, mut qb, mut qc, mut qd);
    if trace > 0.5 {
        qa = 0.5 * trace.sqrt();
        qb = 0.25 * (r[2][1] - r[1][2]) / qa;
        qc = 0.25 * (r[0][2] - r[2][0]) / qa;
        qd = 0.25 * (r[1][0] - r[0][1]) / qa;
    } else {
        let xd = 1.0 + r[0][0] - (r[1][1] + r[2][2]);
        let yd = 1.0 + r[1][1] - (r[0][0] + r[2][2]);
        let zd = 1.0 + r[2][2] - (r[0][0] + r[1][1]);
        if xd > 1.0 {
            qb = 0.5 * xd.sqrt();
            qc = 0.25 * (r[0][1] + r[1][0]) / qb;
            qd = 0.25 * (r[0][2] + r[2][0]) / qb;
            qa = 0.25 * (r[2][1] - r[1][2]) / qb;
        } else if yd > 1.0 {
            qc = 0.5 * yd.sqrt();
            qb = 0.25 * (r[0][1] + r[1][0]) / qc;
            qd = 0.25 * (r[1][2] + r[2][1]) / qc;
            qa = 0.25 * (r[0][2] - r[2][0]) / qc;
        } else {
            qd = 0.5 * zd.sqrt();
            qb = 0.25 * (r[0][2] + r[2][0]) / qd;
            qc = 0.25 * (r[1][2] + r[2][1]) / qd;
            qa = 0.25 * (r[1][0] - r[0][1]) / qd;
        }
        if qa < 0.0 {
            qb = -qb;
            qc = -qc;
            qd = -qd;
            qa = -qa;
        }
    }
    let _ = qa;
    (qb, qc, qd, qfac)
}

/// A header carrying `g` as sform and qform for an image with `rows` rows.
pub fn header_for(g: &Geometry, rows: usize, meta: &NiftiMeta) -> NiftiHeader {
    let mut a = ras_affine(g, rows);
    let (b, c, d, qfac) = quaternion(&a, g.spacing);
    if meta.tilt_shear {
        (a[1][2], a[2][2]) = (0.0, g.spacing[2]);
    }
    let h = NiftiHeader {
        sform_code: 1,
        qform_code: 1,
        srow_x: [
            a[0][0] as f32,
            a[0][1] as f32,
            a[0][2] as f32,
            a[0][3] as f32,
        ],
        srow_y: [
            a[1][0] as f32,
            a[1][1] as f32,
            a[1][2] as f32,
            a[1][3] as f32,
        ],
        srow_z: [
            a[2][0] as f32,
            a[2][1] as f32,
            a[2][2] as f32,
            a[2][3] as f32,
        ],
        quatern_b: b as f32,
        quatern_c: c as f32,
        quatern_d: d as f32,
        quatern_x: a[0][3] as f32,
        quatern_y: a[1][3] as f32,
        quatern_z: a[2][3] as f32,
        // NIFTI_UNITS_MM (2) | NIFTI_UNITS_SEC (8)
        xyzt_units: 2 | 8,
        ..NiftiHeader::default()
    };
    with_spacing_and_description(h, qfac, g, meta)
}

/// `h` with `pixdim` (qfac, the spacing of `g`, the time step of `meta`) and `descrip` set.
fn with_spacing_and_description(
    mut h: NiftiHeader,
    qfac: f64,
    g: &Geometry,
    meta: &NiftiMeta,
) -> NiftiHeader {
    h.pixdim = [
        qfac as f32,
        g.spacing[0] as f32,
        g.spacing[1] as f32,
        g.spacing[2] as f32,
        meta.time_step_s.unwrap_or(0.0) as f32,
        0.0,
        0.0,
        0.0,
    ];
    let mut desc = meta.description.as_bytes().to_vec();
    desc.truncate(79);
    h.descrip = desc;
    h.dim_info = meta.dim_info;
    h.slice_code = meta.slice_code;
    h
}

/// A header for images that have no place in patient space (no ImageOrientationPatient):
/// qform and sform codes 0 (NIFTI_XFORM_UNKNOWN, so readers fall back on pixdim alone), the
/// spacing of `g` as pixdim, and the placeholder transform dcm2niix writes beside those codes
/// (identity rotation, rows flipped: y offset −(rows − 1)), so the files agree field by field.
///
/// `rows_as_stored`: the rows are written in DICOM's order (dcm2niix's layout of a 3D acquisition,
/// which it rotates instead of flipping, and which keeps DICOM's order when there is no
/// orientation to rotate by): the placeholder is then diag(1, −1, 1) at the origin (qfac −1).
pub fn header_without_orientation(
    g: &Geometry,
    rows: usize,
    meta: &NiftiMeta,
    rows_as_stored: bool,
) -> NiftiHeader {
    if rows_as_stored {
        let h = NiftiHeader {
            sform_code: 0,
            qform_code: 0,
            srow_x: [1.0, 0.0, 0.0, 0.0],
            srow_y: [0.0, -1.0, 0.0, 0.0],
            srow_z: [0.0, 0.0, 1.0, 0.0],
            quatern_b: 1.0,
            quatern_c: 0.0,
            quatern_d: 0.0,
            xyzt_units: 2 | 8,
            ..NiftiHeader::default()
        };
        return with_spacing_and_description(h, -1.0, g, meta);
    }
    let y0 = -(rows.saturating_sub(1) as f32);
    let h = NiftiHeader {
        sform_code: 0,
        qform_code: 0,
        srow_x: [1.0, 0.0, 0.0, 0.0],
        srow_y: [0.0, 1.0, 0.0, y0],
        srow_z: [0.0, 0.0, 1.0, 0.0],
        quatern_b: 0.0,
        quatern_c: 0.0,
        quatern_d: 0.0,
        quatern_x: 0.0,
        quatern_y: y0,
        quatern_z: 0.0,
        xyzt_units: 2 | 8,
        ..NiftiHeader::default()
    };
    with_spacing_and_description(h, 1.0, g, meta)
}

/// How exported images are written (`write_images`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageForm {
    /// In patient space (sform and qform set), else without orientation
    /// (`header_without_orientation`).
    pub placed: bool,
    /// Without orientation, rows in DICOM's order (see `header_without_orientation`); the
    /// volumes given have their rows reversed already.
    pub rows_as_stored: bool,
    /// float32 whatever the values: the images' rescale (or bits allocated) differ from one to
    /// the next, where dcm2niix writes float32 (its `intensityScaleVaries`).
    pub float: bool,
    /// Packed colour voxels (`pixels::pack_rgb`), written as NIfTI RGB24 (datatype 128).
    pub rgb: bool,
    /// Stored unsigned in DICOM (PixelRepresentation 0), in `bits` bits allocated of which
    /// `bits_stored` used: written as dcm2niix writes it (its default `-l n`): 8-bit unsigned
    /// as uint8; 16-bit unsigned using all 16 bits as uint16; otherwise int16; each only when
    /// every value is one the type holds, else the next that does (uint16 for unsigned values
    /// beyond int16), float32 last.
    pub unsigned: bool,
    pub bits: u16,
    pub bits_stored: u16,
    /// The one (RescaleSlope, RescaleIntercept) of every image, (1, 0) when none or when they
    /// vary. Not the identity: the stored values are written with it as `scl_slope` /
    /// `scl_inter`, as dcm2niix writes them (the volumes hold stored × slope + intercept).
    pub scale: (f64, f64),
}

/// Write exported images of one shape (several make a 4D file) in the form `form` says.
pub fn write_images(
    vols: &[Volume],
    path: &Path,
    meta: &NiftiMeta,
    form: ImageForm,
) -> Result<(), NiftiError> {
    let Some(first) = vols.first() else {
        return Err(invalid(path, "no volume to write"));
    };
    let rows = first.dims()[1];
    let header = if form.placed {
        header_for(&first.geometry, rows, meta)
    } else {
        header_without_orientation(&first.geometry, rows, meta, form.rows_as_stored)
    };
    let views: Vec<ArrayView3<f32>> = vols.iter().map(|v| v.data.view()).collect();
    if form.float && !form.rgb {
        return write_volumes(&views, path, header);
    }
    if !form.rgb {
        if let Some(written) = write_as_stored(&views, path, &header, &form) {
            return written;
        }
        return match whole_type(&views, &form) {
            Some(whole) => write_whole_as(whole, &views, path, &header),
            None => write_volumes(&views, path, header),
        };
    }
    let shape = common_shape(&views, path)?;
    let colours: Vec<Array3<[u8; 3]>> = views
        .iter()
        .map(|v| v.mapv(super::pixels::unpack_rgb))
        .collect();
    let colour_views: Vec<ArrayView3<[u8; 3]>> = colours.iter().map(|c| c.view()).collect();
    let mut header = super::nifti_write::header_for_volumes::<u8>(&header, shape, vols.len());
    // NIFTI_TYPE_RGB24: three bytes a voxel, red first.
    header.datatype = 128;
    header.bitpix = 24;
    write_atomically(path, |tmp| {
        super::nifti_write::write_file(tmp, &header, &colour_views, gzip_level(path))
    })
}

/// The integer NIfTI type whole-number voxels are written as, by dcm2niix's rules for a
/// series' stored type (its default `-l n`): 8-bit unsigned as uint8; 16-bit unsigned using all
/// 16 bits as uint16; 32-bit as int32; otherwise int16; each only when every value is one the
/// type holds, else the next that does (uint16 for unsigned values beyond int16). None: float32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WholeType {
    U8,
    I16,
    U16,
    I32,
}

fn whole_type(views: &[ArrayView3<f32>], form: &ImageForm) -> Option<WholeType> {
    use super::nifti_write::{all_int16, all_int32, all_uint16, all_uint8};
    if form.bits == 32 && all_int32(views) {
        return Some(WholeType::I32);
    }
    if form.unsigned && form.bits == 8 && all_uint8(views) {
        return Some(WholeType::U8);
    }
    let full_u16 = form.unsigned && form.bits == 16 && form.bits_stored >= 16;
    if (full_u16 || (form.unsigned && !all_int16(views))) && all_uint16(views) {
        return Some(WholeType::U16);
    }
    all_int16(views).then_some(WholeType::I16)
}

/// Volumes rescaled with `form.scale` (not the identity) written as their stored whole numbers,
/// the scale in `scl_slope` / `scl_inter`, as dcm2niix writes them; None when the scale is the
/// identity or the values are not such whole numbers of a type `whole_type` allows.
fn write_as_stored(
    views: &[ArrayView3<f32>],
    path: &Path,
    header: &NiftiHeader,
    form: &ImageForm,
) -> Option<Result<(), NiftiError>> {
    if form.scale == (1.0, 0.0) {
        return None;
    }
    let stored = stored_values(views, form.scale)?;
    let stored_views: Vec<ArrayView3<f32>> = stored.iter().map(|v| v.view()).collect();
    let whole = whole_type(&stored_views, form)?;
    let header = NiftiHeader {
        scl_slope: form.scale.0 as f32,
        scl_inter: form.scale.1 as f32,
        ..header.clone()
    };
    Some(write_whole_as(whole, &stored_views, path, &header))
}

/// `write_whole` of the type `whole`.
fn write_whole_as(
    whole: WholeType,
    views: &[ArrayView3<f32>],
    path: &Path,
    header: &NiftiHeader,
) -> Result<(), NiftiError> {
    match whole {
        WholeType::U8 => write_whole::<u8>(views, path, header),
        WholeType::I16 => write_whole::<i16>(views, path, header),
        WholeType::U16 => write_whole::<u16>(views, path, header),
        WholeType::I32 => write_whole::<i32>(views, path, header),
    }
}

/// 1.5 × 2⁵²: added to an f64 of magnitude below 2⁵¹, leaves it rounded to a whole number.
const ROUND_F64: f64 = 6_755_399_441_055_744.0;

/// The stored values of rescaled volumes (value = stored × slope + intercept, in f64 then f32,
/// as `assemble` computed them): each value's whole number that gives back the very same f32.
/// None when one does not (the values were not made by this rescale from whole numbers).
fn stored_values(
    views: &[ArrayView3<f32>],
    (slope, inter): (f64, f64),
) -> Option<Vec<Array3<f32>>> {
    if slope == 0.0 || !slope.is_finite() || !inter.is_finite() {
        return None;
    }
    let mut out = Vec::with_capacity(views.len());
    for v in views {
        let mut ok = true;
        let stored = v.mapv(|x| {
            // Rounded to the nearest whole number by adding and removing 1.5 × 2⁵² (exact below
            // 2⁵¹; plain float arithmetic, where `round` is a library call per voxel).
            let s = ((x as f64 - inter) / slope + ROUND_F64) - ROUND_F64;
            ok &= (s * slope + inter) as f32 == x;
            s as f32
        });
        if !ok {
            return None;
        }
        out.push(stored);
    }
    Some(out)
}

/// The gzip level for `path`: 2 for `.nii.gz` (with flate2's zlib-rs backend, level 2 writes the
/// phantom's volumes 19% smaller than miniz_oxide's level 1, the nifti crate's default, in the
/// same time; zlib-rs' level 1 is 31% larger), none for `.nii`.
fn gzip_level(path: &Path) -> Option<u32> {
    path.to_string_lossy().ends_with(".gz").then_some(2)
}

/// The one `[k, j, i]` shape of the volumes to be written into one file.
fn common_shape<A>(volumes: &[ArrayView3<A>], path: &Path) -> Result<[usize; 3], NiftiError> {
    let Some(first) = volumes.first() else {
        return Err(invalid(path, "no volume to write"));
    };
    let (nk, nj, ni) = first.dim();
    match volumes.iter().find(|v| v.dim() != (nk, nj, ni)) {
        Some(other) => Err(invalid(
            path,
            format!(
                "4D parts differ in size: {:?} vs {:?}",
                other.dim(),
                (nk, nj, ni)
            ),
        )),
        None => Ok([nk, nj, ni]),
    }
}

/// Write `volumes` (one shape, `[k, j, i]`; several make a 4D file) as NIfTI with the header
/// `reference` (its geometry and description) completed for them, atomically.
fn write_volumes<A>(
    volumes: &[ArrayView3<A>],
    path: &Path,
    reference: NiftiHeader,
) -> Result<(), NiftiError>
where
    A: DataElement + bytemuck::Pod,
{
    let shape = common_shape(volumes, path)?;
    let header = super::nifti_write::header_for_volumes::<A>(&reference, shape, volumes.len());
    write_atomically(path, |tmp| {
        super::nifti_write::write_file(tmp, &header, volumes, gzip_level(path))
    })
}

/// Run `write` on a temporary sibling of `path` and rename it into place; its error names `path`.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), NiftiError> {
    crate::atomic::write_with(path, |tmp| {
        write(tmp).map_err(|source| NiftiError::Write {
            path: path.display().to_string(),
            source,
        })
    })
}

/// Write a 3D array (`[k, j, i]`) on `geometry` as NIfTI (gzip when the name ends in `.gz`).
pub fn write_array<A>(
    data: ArrayView3<A>,
    geometry: &Geometry,
    path: &Path,
    meta: &NiftiMeta,
) -> Result<(), NiftiError>
where
    A: DataElement + bytemuck::Pod,
{
    let header = header_for(geometry, data.shape()[1], meta);
    write_volumes(&[data], path, header)
}

/// Write f32 volumes (one shape; several make a 4D file) with the header `reference`: as int16
/// when every value is a whole number int16 holds (nothing is lost), as float32 otherwise.
fn write_f32_volumes(
    volumes: &[ArrayView3<f32>],
    path: &Path,
    reference: NiftiHeader,
) -> Result<(), NiftiError> {
    if !super::nifti_write::all_int16(volumes) {
        return write_volumes(volumes, path, reference);
    }
    write_whole::<i16>(volumes, path, &reference)
}

/// Write f32 volumes whose every value is a whole number `T` holds (the caller has checked:
/// `all_int16`, `all_uint16`, `all_uint8`, `all_int32`) as a NIfTI file of `T`, atomically.
fn write_whole<T: bytemuck::Pod + super::nifti_write::Whole + nifti::DataElement>(
    volumes: &[ArrayView3<f32>],
    path: &Path,
    reference: &NiftiHeader,
) -> Result<(), NiftiError> {
    use super::nifti_write::{header_for_volumes, write_file_as};
    let shape = common_shape(volumes, path)?;
    let header = header_for_volumes::<T>(reference, shape, volumes.len());
    write_atomically(path, |tmp| {
        write_file_as::<T>(tmp, &header, volumes, gzip_level(path))
    })
}

/// Write an f32 volume (as int16 when its values allow it without loss).
pub fn write_volume(vol: &Volume, path: &Path, meta: &NiftiMeta) -> Result<(), NiftiError> {
    let header = header_for(&vol.geometry, vol.dims()[1], meta);
    write_f32_volumes(&[vol.data.view()], path, header)
}

/// Write several volumes on one grid as one 4D file (the 4th axis in the given order).
pub fn write_4d(vols: &[Volume], path: &Path, meta: &NiftiMeta) -> Result<(), NiftiError> {
    let Some(first) = vols.first() else {
        return Err(invalid(path, "no volume to write"));
    };
    let header = header_for(&first.geometry, first.dims()[1], meta);
    let views: Vec<ArrayView3<f32>> = vols.iter().map(|v| v.data.view()).collect();
    write_f32_volumes(&views, path, header)
}

/// Affine (RAS rows) of a header: sform when its code is set, else qform, else pixdim scaling.
fn header_affine(h: &NiftiHeader) -> [[f64; 4]; 3] {
    if h.sform_code > 0 {
        let r = |v: [f32; 4]| [v[0] as f64, v[1] as f64, v[2] as f64, v[3] as f64];
        return [r(h.srow_x), r(h.srow_y), r(h.srow_z)];
    }
    let sp = [h.pixdim[1] as f64, h.pixdim[2] as f64, h.pixdim[3] as f64];
    if h.qform_code > 0 {
        let (b, c, d) = (h.quatern_b as f64, h.quatern_c as f64, h.quatern_d as f64);
        let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
        let rot = [
            [
                a * a + b * b - c * c - d * d,
                2.0 * (b * c - a * d),
                2.0 * (b * d + a * c),
            ],
            [
                2.0 * (b * c + a * d),
                a * a + c * c - b * b - d * d,
                2.0 * (c * d - a * b),
            ],
            [
                2.0 * (b * d - a * c),
                2.0 * (c * d + a * b),
                a * a + d * d - c * c - b * b,
            ],
        ];
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let off = [h.quatern_x as f64, h.quatern_y as f64, h.quatern_z as f64];
        let mut m = [[0.0; 4]; 3];
        for r in 0..3 {
            m[r][0] = rot[r][0] * sp[0];
            m[r][1] = rot[r][1] * sp[1];
            m[r][2] = rot[r][2] * sp[2] * qfac;
            m[r][3] = off[r];
        }
        return m;
    }
    [
        [sp[0], 0.0, 0.0, 0.0],
        [0.0, sp[1], 0.0, 0.0],
        [0.0, 0.0, sp[2], 0.0],
    ]
}

pub(super) fn invalid(path: &Path, what: impl Into<String>) -> NiftiError {
    NiftiError::Invalid {
        path: path.display().to_string(),
        what: what.into(),
    }
}

/// The `[slices, rows, columns]` shape of a 3D image with NIfTI dimensions `dims` (a 4D image
/// with one time point and a 2D image are accepted).
fn voxel_shape(path: &Path, dims: &[usize]) -> Result<(usize, usize, usize), NiftiError> {
    match *dims {
        [ni, nj, nk] | [ni, nj, nk, 1] => Ok((nk, nj, ni)),
        [ni, nj] => Ok((1, nj, ni)),
        _ => Err(invalid(
            path,
            format!(
                "expected a 3D image, found {} dimensions {dims:?}",
                dims.len()
            ),
        )),
    }
}

/// What `nifti_read` leaves to the nifti crate (header/image pairs, other datatypes): its
/// header and the voxels as `[slices, rows, columns]`.
fn read_with_crate(path: &Path) -> Result<(NiftiHeader, Array3<f32>), NiftiError> {
    let obj = ReaderOptions::new()
        .read_file(path)
        .map_err(|source| NiftiError::Read {
            path: path.display().to_string(),
            source,
        })?;
    let header = obj.header().clone();
    let dims: Vec<usize> = obj.volume().dim().iter().map(|&d| d as usize).collect();
    // The nifti crate panics when the data does not fill the header's dimensions: checked here.
    let voxels = dims.iter().product::<usize>();
    let needed = voxels.saturating_mul(obj.volume().data_type().size_of());
    let held = obj.volume().raw_data().len();
    if held != needed {
        return Err(invalid(
            path,
            format!(
                "the data holds {held} bytes where dimensions {dims:?} of {:?} need {needed}",
                obj.volume().data_type()
            ),
        ));
    }
    let shape = voxel_shape(path, &dims)?;
    let arr = obj
        .into_volume()
        .into_ndarray::<f32>()
        .map_err(|source| NiftiError::Read {
            path: path.display().to_string(),
            source,
        })?;
    // NIfTI's column-major data is `[i, j, k]` in Fortran order: reversed, it is `[k, j, i]` in
    // standard order (copied only when the crate gave another layout).
    let arr = arr.reversed_axes();
    let arr = if arr.is_standard_layout() {
        arr
    } else {
        arr.as_standard_layout().into_owned()
    };
    let data = arr
        .into_shape_with_order(shape)
        .map_err(|e| invalid(path, e.to_string()))?;
    Ok((header, data))
}

/// Read a 3D NIfTI file (a 4D file with one time point is accepted) into a `Volume` in LPS.
/// The stored axis order is kept; the geometry carries the file's affine.
pub fn read_volume(path: &Path) -> Result<Volume, NiftiError> {
    read_volume_checked(path, false)
}

/// `read_volume` for an image to be measured: one with no position in patient space (qform_code
/// and sform_code both 0, as convert writes a series without ImageOrientationPatient) is refused
/// (it was measured, a label map resampled onto a placement invented from pixdim).
pub fn read_placed_volume(path: &Path) -> Result<Volume, NiftiError> {
    read_volume_checked(path, true)
}

fn read_volume_checked(path: &Path, placed: bool) -> Result<Volume, NiftiError> {
    let (header, data) = match super::nifti_read::read(path)? {
        Some(raw) => (raw.header, to_array(path, &raw.dims, raw.data)?),
        None => read_with_crate(path)?,
    };
    if placed && header.qform_code == 0 && header.sform_code == 0 {
        return Err(invalid(
            path,
            "the image has no position in patient space (qform_code and sform_code both 0, as \
             written for images without ImageOrientationPatient): not measured",
        ));
    }
    Ok(Volume {
        geometry: header_geometry(path, &header)?,
        data,
    })
}

/// The largest label a label map may hold (f32 holds every whole number up to it exactly).
pub const MAX_LABEL: u32 = 1 << 24;

/// What [`label_value`] gives a voxel whose value is no label.
pub const NOT_A_LABEL: u32 = u32::MAX;

/// The label of a label-map voxel: its value, a whole number from 0 to [`MAX_LABEL`] (within
/// 0.001: float rounding); 0 (background) for NaN, a float mask's "no data"; [`NOT_A_LABEL`] for a
/// fractional, negative, infinite or larger value, which `read_label_volume` refuses. (1.5 was
/// rounded into label 2, −2 and inf taken for background, 1e30 named label 4294967295: a mask
/// resampled with interpolation, or an image given as the mask, measured without a word.)
pub fn label_value(v: f32) -> u32 {
    if v.is_nan() {
        return 0;
    }
    let r = v.round();
    if v.is_finite() && (v - r).abs() <= 1e-3 && r >= 0.0 && r <= MAX_LABEL as f32 {
        r as u32
    } else {
        NOT_A_LABEL
    }
}

/// The voxels of a label map: 8-bit labels as stored, any other type as u32.
pub enum Labels {
    U8(Array3<u8>),
    U32(Array3<u32>),
}

impl Labels {
    pub fn dim(&self) -> (usize, usize, usize) {
        match self {
            Labels::U8(a) => a.dim(),
            Labels::U32(a) => a.dim(),
        }
    }

    pub fn into_u32(self) -> Array3<u32> {
        match self {
            Labels::U8(a) => a.mapv(u32::from),
            Labels::U32(a) => a,
        }
    }
}

/// Read a 3D NIfTI label map (as `read_volume`) as integer labels (`label_value` of each voxel),
/// with its geometry; no float image is made on the way.
pub fn read_labels(path: &Path) -> Result<(Array3<u32>, Geometry), NiftiError> {
    let (labels, geometry) = read_label_volume(path)?;
    Ok((labels.into_u32(), geometry))
}

/// `read_labels`, an unscaled 8-bit label map kept as its bytes (a quarter of the memory).
pub fn read_label_volume(path: &Path) -> Result<(Labels, Geometry), NiftiError> {
    use super::nifti_read::LabelVoxels;
    let (labels, geometry) = match super::nifti_read::read_labels(path, label_value)? {
        Some(raw) => {
            let labels = match raw.data {
                LabelVoxels::U8(v) => Labels::U8(to_array(path, &raw.dims, v)?),
                LabelVoxels::U32(v) => Labels::U32(to_array(path, &raw.dims, v)?),
            };
            (labels, header_geometry(path, &raw.header)?)
        }
        None => {
            let v = read_volume(path)?;
            (Labels::U32(v.data.mapv(label_value)), v.geometry)
        }
    };
    if let Labels::U32(a) = &labels {
        let bad = a.iter().filter(|l| **l == NOT_A_LABEL).count();
        if bad > 0 {
            return Err(invalid(
                path,
                format!(
                    "values that are no labels (fractional, negative, infinite or above \
                     {MAX_LABEL}) in {}: a label map holds whole numbers from 0 (a mask \
                     resampled with interpolation, or an image given as the mask?)",
                    crate::plural::count(bad, "voxel")
                ),
            ));
        }
    }
    Ok((labels, geometry))
}

/// Voxels in file order (first index fastest) as a `[slices, rows, columns]` array.
fn to_array<T>(path: &Path, dims: &[usize], data: Vec<T>) -> Result<Array3<T>, NiftiError> {
    Array3::from_shape_vec(voxel_shape(path, dims)?, data).map_err(|e| invalid(path, e.to_string()))
}

/// The LPS geometry of a header's affine (sform, else qform, else pixdim).
fn header_geometry(path: &Path, header: &NiftiHeader) -> Result<Geometry, NiftiError> {
    let a = header_affine(header);
    let ras_to_lps = [-1.0, -1.0, 1.0];
    let mut spacing = [0.0; 3];
    let mut direction = [[0.0; 3]; 3];
    for axis in 0..3 {
        let col = [
            ras_to_lps[0] * a[0][axis],
            ras_to_lps[1] * a[1][axis],
            ras_to_lps[2] * a[2][axis],
        ];
        let norm = dot(col, col).sqrt();
        if !(norm > 0.0 && norm.is_finite()) {
            return Err(invalid(
                path,
                format!("affine column {axis} is zero or not finite"),
            ));
        }
        spacing[axis] = norm;
        direction[axis] = [col[0] / norm, col[1] / norm, col[2] / norm];
    }
    // Columns in one plane (a corrupt or hand-edited affine) map no voxel back: a label map of
    // one made every image voxel take mask voxel (0, 0, 0)'s label, with no error.
    if crate::volume::invert3(&direction).is_none() {
        return Err(invalid(
            path,
            "the affine's columns are not independent (a singular matrix: no voxel grid)"
                .to_string(),
        ));
    }
    // Axes not at right angles (a sheared affine: a gantry tilt written as a shear, which NIfTI
    // allows) make voxels that are no boxes: every volume, area and distance here takes the
    // voxel as spacing[0] × spacing[1] × spacing[2] (10% too much at a 25° shear). Float32
    // rounding of an oblique affine stays far below the tolerance (0.06°).
    for (a, b) in [(0, 1), (0, 2), (1, 2)] {
        let cos = dot(direction[a], direction[b]).abs();
        // A single slice of a tilted gantry, as dcm2niix writes it (and convert: `tilt_shear`):
        // its sform's slice column sheared back to the gantry's axis. Its origin and in-plane
        // axes are the sform's; its normal is theirs, at the slice thickness (pixdim[3]). (A
        // review found convert's own such file refused; reading it by the qform instead took a
        // qform that disagreed with the sform.)
        if cos > 1e-3 && header.dim[3] <= 1 && b == 2 {
            let n = crate::volume::cross(direction[0], direction[1]);
            let len = dot(n, n).sqrt();
            if len > 0.0 {
                let sign = if dot(n, direction[2]) < 0.0 {
                    -1.0
                } else {
                    1.0
                };
                direction[2] = n.map(|x| sign * x / len);
                let thickness = f64::from(header.pixdim[3]);
                if thickness.is_finite() && thickness > 0.0 {
                    spacing[2] = thickness;
                }
                break;
            }
        }
        if cos > 1e-3 {
            return Err(invalid(
                path,
                format!(
                    "the affine's axes {a} and {b} are at {:.2}° where 90° was expected (a sheared \
                     grid, as a gantry tilt written as a shear): its voxels are not boxes; \
                     resample the image onto a grid of right angles first",
                    cos.clamp(0.0, 1.0).acos().to_degrees()
                ),
            ));
        }
    }
    Ok(Geometry {
        origin: [-a[0][3], -a[1][3], a[2][3]],
        spacing,
        direction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dcm2niix v1.0.20260724's dim_info on heudiconv's Siemens series: 54 where the phase is
    /// encoded along rows (ROW), 57 along columns (COL); 0 without the attribute.
    #[test]
    fn dim_info_is_dcm2niix_s() {
        assert_eq!(dim_info_for(Some(false)), 54);
        assert_eq!(dim_info_for(Some(true)), 57);
        assert_eq!(dim_info_for(None), 0);
    }

    /// Regression (found by feeding mutated masks to `features`): a NIfTI header whose bitpix
    /// disagrees with its datatype made the nifti crate read no data and then panic; it is now an
    /// error naming the bytes held and needed.
    #[test]
    fn data_shorter_than_the_datatype_needs_is_an_error_not_a_panic() {
        // As an 8-bit label map (datatype 2) whose bitpix says 0 bits per voxel: the crate then
        // reads no data, and converting the empty buffer to an array panicked.
        let err = damaged_mask_error(|raw| {
            raw[70..72].copy_from_slice(&2i16.to_le_bytes());
            raw[72..74].copy_from_slice(&0i16.to_le_bytes());
        });
        assert!(err.contains("bitpix 0 disagrees"), "{err}");
    }

    /// The error of reading the IBSI phantom's mask with its decompressed bytes damaged by
    /// `damage` (it must not read as a volume).
    fn damaged_mask_error(damage: impl Fn(&mut Vec<u8>)) -> String {
        match read_damaged_mask(damage) {
            Ok(_) => panic!("read as a volume"),
            Err(e) => e,
        }
    }

    fn read_damaged_mask(damage: impl Fn(&mut Vec<u8>)) -> Result<Volume, String> {
        use std::io::{Read, Write};
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(ibsi("mask.nii.gz")).unwrap())
            .read_to_end(&mut raw)
            .unwrap();
        damage(&mut raw);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("damaged.nii.gz");
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(&raw).unwrap();
        gz.finish().unwrap();
        read_volume(&path).map_err(|e| e.to_string())
    }

    /// Regression: an sform whose first two columns are parallel read as a grid (spacing and
    /// directions, no error), and a label map of it gave every voxel mask voxel (0, 0, 0)'s label.
    #[test]
    fn a_singular_affine_is_an_error() {
        // sform_code 1; srow_x = srow_y = (1, 1, 0, 0), srow_z = (0, 0, 1, 0).
        let err = damaged_mask_error(|raw| {
            raw[254..256].copy_from_slice(&1i16.to_le_bytes());
            for (at, row) in [
                (280, [1.0f32, 1.0, 0.0, 0.0]),
                (296, [1.0, 1.0, 0.0, 0.0]),
                (312, [0.0, 0.0, 1.0, 0.0]),
            ] {
                for (k, v) in row.iter().enumerate() {
                    raw[at + 4 * k..at + 4 * k + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
        });
        assert!(err.contains("not independent"), "{err}");
    }

    /// Regression: a sheared sform (slices moved along y by 2·tan 25° each, a gantry tilt) was
    /// read as a box grid of its column lengths, every volume 10% (1/cos 25°) too large.
    #[test]
    fn a_sheared_affine_is_an_error() {
        let shear = 2.0 * 25f32.to_radians().tan();
        let err = damaged_mask_error(|raw| {
            raw[254..256].copy_from_slice(&1i16.to_le_bytes());
            for (at, row) in [
                (280, [1.0f32, 0.0, 0.0, 0.0]),
                (296, [0.0, 1.0, shear, 0.0]),
                (312, [0.0, 0.0, 2.0, 0.0]),
            ] {
                for (k, v) in row.iter().enumerate() {
                    raw[at + 4 * k..at + 4 * k + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
        });
        assert!(err.contains("axes 1 and 2 are at 65.00°"), "{err}");
        // A rotation (oblique, no shear) in float32 reads.
        let (s, c) = 30f32.to_radians().sin_cos();
        let rotated = read_damaged_mask(|raw| {
            raw[254..256].copy_from_slice(&1i16.to_le_bytes());
            for (at, row) in [
                (280, [c, -s, 0.0, 0.0]),
                (296, [s, c, 0.0, 0.0]),
                (312, [0.0, 0.0, 3.3, 0.0]),
            ] {
                for (k, v) in row.iter().enumerate() {
                    raw[at + 4 * k..at + 4 * k + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
        });
        assert!(rotated.is_ok(), "{:?}", rotated.err());
    }

    /// Regression (a review of the shear check): a single slice of a tilted gantry, written as
    /// dcm2niix and convert write it (sform sheared back to the gantry's axis), was refused; it
    /// reads by its sform's origin and in-plane axes with their normal, a grid of right angles
    /// (the qform is not needed: one that disagreed was taken by the first fix).
    #[test]
    fn a_single_tilted_slice_reads_by_its_in_plane_axes() {
        let (s, c) = 15f64.to_radians().sin_cos();
        let geometry = Geometry {
            origin: [0.0; 3],
            spacing: [0.5, 0.5, 2.0],
            direction: [[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]],
        };
        let vol = Volume {
            data: Array3::from_elem((1, 4, 4), 7.0f32),
            geometry: geometry.clone(),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tilted.nii.gz");
        let meta = NiftiMeta {
            description: String::new(),
            time_step_s: None,
            dim_info: 0,
            slice_code: 0,
            tilt_shear: true,
            bvec_lengths_kept: false,
        };
        write_volume(&vol, &path, &meta).unwrap();
        let back = read_volume(&path).unwrap();
        // Every voxel where the slice has one (the rows come back in the file's order).
        let centres = |g: &Geometry| -> Vec<[f64; 3]> {
            let mut v: Vec<[f64; 3]> = (0..4)
                .flat_map(|j| (0..4).map(move |i| (i, j)))
                .map(|(i, j)| g.world(i as f64, j as f64, 0.0))
                .collect();
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            v
        };
        for (a, b) in centres(&back.geometry).iter().zip(centres(&geometry)) {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-3, "{a:?} vs {b:?}");
            }
        }
        // Right angles, the slice normal the true one.
        let d = back.geometry.direction;
        assert!(dot(d[0], d[1]).abs() < 1e-6 && dot(d[0], d[2]).abs() < 1e-6);
        assert!(
            (dot(d[2], geometry.direction[2]).abs() - 1.0).abs() < 1e-6,
            "{d:?}"
        );
    }

    /// A little-endian NIfTI-1 header made big-endian: every numeric field (offset, size) of the
    /// NIfTI-1 layout byte-swapped.
    fn swap_header(h: &mut [u8]) {
        let mut fields = vec![(0, 4), (32, 4), (36, 2), (68, 2), (70, 2), (72, 2), (74, 2)];
        fields.extend((40..56).step_by(2).map(|o| (o, 2)));
        fields.extend([56, 60, 64].map(|o| (o, 4)));
        fields.extend((76..120).step_by(4).map(|o| (o, 4)));
        fields.push((120, 2));
        fields.extend((124..148).step_by(4).map(|o| (o, 4)));
        fields.extend([(252, 2), (254, 2)]);
        fields.extend((256..328).step_by(4).map(|o| (o, 4)));
        for (o, n) in fields {
            h[o..o + n].reverse();
        }
    }

    /// Raw NIfTI-1 bytes of the IBSI phantom's image (int16, 5 × 4 × 4, data at 352).
    fn phantom_bytes() -> Vec<u8> {
        use std::io::Read;
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(ibsi("image.nii.gz")).unwrap())
            .read_to_end(&mut raw)
            .unwrap();
        raw
    }

    /// Data shorter or longer than the dimensions need is an error naming both sizes.
    #[test]
    fn data_of_the_wrong_length_is_an_error() {
        let raw = phantom_bytes();
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            ("short.nii", raw[..raw.len() - 4].to_vec()),
            ("long.nii", [raw.clone(), vec![0; 4]].concat()),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let Err(err) = read_volume(&path) else {
                panic!("{name} read as a volume");
            };
            assert!(err.to_string().contains("need 160"), "{name}: {err}");
        }
    }

    fn test_meta() -> NiftiMeta {
        NiftiMeta::default()
    }

    /// A voxel value is a label when it is a whole number from 0 to 2²⁴ (NaN is background);
    /// anything else is no label, and a label map holding one is refused (a robustness audit:
    /// 1.5 was rounded into label 2, −2 and inf taken for background, 1e30 named label
    /// 4294967295).
    #[test]
    fn only_whole_numbers_are_labels() {
        assert_eq!(label_value(2.0), 2);
        assert_eq!(label_value(2.0004), 2);
        assert_eq!(label_value(f32::NAN), 0);
        assert_eq!(label_value(-0.0), 0);
        for v in [1.5, -2.0, f32::INFINITY, 1e30, 16_777_218.0] {
            assert_eq!(label_value(v), NOT_A_LABEL, "{v}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frac.nii.gz");
        let mut vol = Volume {
            data: ndarray::Array3::from_elem((2, 2, 2), 0.0f32),
            geometry: Geometry::axial([0.0; 3], [1.0; 3]),
        };
        vol.data[[0, 0, 0]] = 1.5;
        vol.data[[1, 1, 1]] = 2.0;
        write_volume(&vol, &path, &test_meta()).unwrap();
        let err = read_labels(&path).unwrap_err().to_string();
        assert!(err.contains("values that are no labels"), "{err}");
        assert!(err.contains(") in 1 voxel:"), "{err}");
        vol.data[[0, 0, 0]] = 1.0;
        write_volume(&vol, &path, &test_meta()).unwrap();
        let labels = read_labels(&path).unwrap().0;
        assert_eq!(labels.iter().filter(|l| **l == 2).count(), 1);
        assert_eq!(labels.iter().filter(|l| **l == 1).count(), 1);
    }

    /// The direct reader gives what the nifti crate gives, for every stored type this study
    /// meets, in both byte orders, with and without rescaling; label maps read as integers give
    /// `label_value` of those values.
    #[test]
    fn direct_reader_matches_the_nifti_crate() {
        let raw = phantom_bytes();
        let values: Vec<f32> = raw[352..]
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes(b.try_into().unwrap()) as f32)
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let mut checked = 0;
        // (datatype, bitpix, encode one value)
        type Enc = fn(f32, bool) -> Vec<u8>;
        let types: [(i16, i16, Enc); 5] = [
            (2, 8, |v, _| vec![v.max(0.0) as u8]),
            (4, 16, |v, le| {
                let x = (v * 3.0 - 5.0) as i16;
                if le { x.to_le_bytes() } else { x.to_be_bytes() }.to_vec()
            }),
            (512, 16, |v, le| {
                let x = v as u16;
                if le { x.to_le_bytes() } else { x.to_be_bytes() }.to_vec()
            }),
            (16, 32, |v, le| {
                if le { v.to_le_bytes() } else { v.to_be_bytes() }.to_vec()
            }),
            (64, 64, |v, le| {
                let x = v as f64 - 0.25;
                if le { x.to_le_bytes() } else { x.to_be_bytes() }.to_vec()
            }),
        ];
        for (datatype, bitpix, enc) in types {
            for little in [true, false] {
                for (slope, inter) in [(0.0f32, 0.0f32), (1.0, 0.0), (2.5, -1.0)] {
                    let mut bytes = raw[..352].to_vec();
                    bytes[70..72].copy_from_slice(&datatype.to_le_bytes());
                    bytes[72..74].copy_from_slice(&bitpix.to_le_bytes());
                    bytes[112..116].copy_from_slice(&slope.to_le_bytes());
                    bytes[116..120].copy_from_slice(&inter.to_le_bytes());
                    if !little {
                        swap_header(&mut bytes);
                    }
                    bytes.extend(values.iter().flat_map(|&v| enc(v, little)));
                    let path = dir.path().join(format!("t{datatype}_{little}_{slope}.nii"));
                    std::fs::write(&path, &bytes).unwrap();
                    let (_, expected) = read_with_crate(&path).unwrap();
                    let got = read_volume(&path).unwrap();
                    assert_eq!(got.data, expected, "{path:?}");
                    let want = expected.mapv(label_value);
                    if want.iter().any(|l| *l == NOT_A_LABEL) {
                        // Negative or fractional values: no label map.
                        let err = read_labels(&path).unwrap_err().to_string();
                        assert!(err.contains("values that are no labels"), "{path:?}: {err}");
                    } else {
                        let (labels, _) = read_labels(&path).unwrap();
                        assert_eq!(labels, want, "{path:?}");
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 30);
    }

    fn ibsi(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test-data/ibsi1-phantom")
            .join(name)
    }

    /// The IBSI phantom's stored values (README of test-data/ibsi1-phantom, from the IBSI manual).
    const Z0_ROWS: [[f32; 5]; 4] = [
        [1., 4., 4., 1., 1.],
        [1., 4., 6., 1., 1.],
        [4., 1., 6., 4., 1.],
        [4., 4., 6., 4., 1.],
    ];

    #[test]
    fn reads_ibsi_phantom_in_stored_order_with_its_affine() {
        let v = read_volume(&ibsi("image.nii.gz")).unwrap();
        assert_eq!(v.dims(), [4, 4, 5]);
        for (j, row) in Z0_ROWS.iter().enumerate() {
            for (i, &x) in row.iter().enumerate() {
                assert_eq!(v.data[[0, j, i]], x, "z0 y{j} x{i}");
            }
        }
        assert_eq!(v.data[[2, 2, 2]], 9.0);
        // srow = diag(-2, -2, 2) in RAS → LPS directions +x, +y, +z with 2 mm spacing.
        assert_eq!(v.geometry.spacing, [2.0, 2.0, 2.0]);
        assert_eq!(v.geometry.direction[0], [1.0, 0.0, 0.0]);
        assert_eq!(v.geometry.direction[1], [0.0, 1.0, 0.0]);
        let m = read_volume(&ibsi("mask.nii.gz")).unwrap();
        assert_eq!(m.data.iter().filter(|&&x| x > 0.5).count(), 74);
    }

    #[test]
    fn write_then_read_keeps_every_world_coordinate_on_oblique_grid() {
        let (s, c) = (0.5_f64, 3f64.sqrt() / 2.0);
        let g = Geometry {
            origin: [-120.5, 33.0, -7.25],
            spacing: [0.75, 0.8, 4.0],
            direction: [[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]],
        };
        let data = Array3::from_shape_fn((3, 4, 5), |(k, j, i)| (100 * k + 10 * j + i) as f32);
        let vol = Volume {
            data,
            geometry: g.clone(),
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.nii.gz");
        write_volume(&vol, &p, &NiftiMeta::default()).unwrap();
        let back = read_volume(&p).unwrap();
        // Every voxel value must sit at the same LPS point as before.
        for k in 0..3 {
            for j in 0..4 {
                for i in 0..5 {
                    let w = g.world(i as f64, j as f64, k as f64);
                    let idx = back.geometry.index_of(w);
                    let (bi, bj, bk) = (
                        idx[0].round() as usize,
                        idx[1].round() as usize,
                        idx[2].round() as usize,
                    );
                    assert!((idx[0] - bi as f64).abs() < 1e-3 && (idx[1] - bj as f64).abs() < 1e-3);
                    assert_eq!(back.data[[bk, bj, bi]], vol.data[[k, j, i]]);
                }
            }
        }
        // Rows are flipped like dcm2niix: stored row 0 is DICOM row 3.
        assert_eq!(back.data[[0, 0, 0]], 30.0);
        // qform agrees with sform.
        let h = NiftiHeader::from_file(&p).unwrap();
        let mut q = h.clone();
        q.sform_code = 0;
        let (a, b) = (header_affine(&h), header_affine(&q));
        for r in 0..3 {
            for col in 0..4 {
                assert!(
                    (a[r][col] - b[r][col]).abs() < 1e-4,
                    "sform {a:?} qform {b:?}"
                );
            }
        }
        assert_eq!(h.pixdim[0], -1.0);
    }

    /// Whole numbers in int16's range are stored as int16 (half the bytes, as dcm2niix stores
    /// MR), anything else as float32; both read back to the very values, 3D and 4D.
    #[test]
    fn whole_number_volumes_are_stored_as_int16_and_read_back_exactly() {
        let g = Geometry::axial([-10.0, 20.0, 5.0], [0.9, 0.9, 3.0]);
        let dir = tempfile::tempdir().unwrap();
        let whole = Array3::from_shape_fn((3, 4, 5), |(k, j, i)| {
            [-32768.0f32, 32767.0, 0.0, -1.0, 1234.0][(k + j + i) % 5]
        });
        let cases = [
            ("whole", whole.clone(), 4, 16),
            ("half", whole.mapv(|v| v + 0.5), 16, 32),
            ("too_large", whole.mapv(|v| v.abs() + 1.0), 16, 32),
            (
                "nan",
                whole.mapv(|v| if v == 0.0 { f32::NAN } else { v }),
                16,
                32,
            ),
        ];
        for (name, data, datatype, bitpix) in cases {
            for gz in [false, true] {
                let p = dir
                    .path()
                    .join(format!("{name}.{}", if gz { "nii.gz" } else { "nii" }));
                let vol = Volume {
                    data: data.clone(),
                    geometry: g.clone(),
                };
                write_volume(&vol, &p, &NiftiMeta::default()).unwrap();
                let h = NiftiHeader::from_file(&p).unwrap();
                assert_eq!((h.datatype, h.bitpix), (datatype, bitpix), "{name}");
                let back = read_volume(&p).unwrap();
                // Read in stored order: rows flipped (the geometry says so).
                let flipped = data.slice(ndarray::s![.., ..;-1, ..]);
                assert_eq!(back.data.dim(), flipped.dim());
                for (a, b) in back.data.iter().zip(flipped.iter()) {
                    assert!(a == b || (a.is_nan() && b.is_nan()), "{name}: {a} vs {b}");
                }
                // 4D: int16 only when every volume allows it.
                let p4 = dir.path().join(format!("{name}_4d.nii"));
                let parts = [
                    Volume {
                        data: whole.clone(),
                        geometry: g.clone(),
                    },
                    vol,
                ];
                write_4d(&parts, &p4, &NiftiMeta::default()).unwrap();
                let h = NiftiHeader::from_file(&p4).unwrap();
                assert_eq!(h.datatype, datatype, "{name} 4D");
                assert_eq!(&h.dim[..5], &[4, 5, 4, 3, 2]);
            }
        }
    }

    #[test]
    fn axial_affine_matches_dcm2niix_form() {
        // Axial series, 0.9 mm pixels, 3 mm slices: dcm2niix writes diag(-0.9, 0.9, 3) (LAS storage).
        let g = Geometry::axial([-100.0, -120.0, 50.0], [0.9, 0.9, 3.0]);
        let a = ras_affine(&g, 256);
        assert_eq!([a[0][0], a[1][1], a[2][2]], [-0.9, 0.9, 3.0]);
        // Origin is the last DICOM row's first voxel, in RAS: (100, 120 − 255·0.9, 50).
        assert!((a[0][3] - 100.0).abs() < 1e-9);
        assert!((a[1][3] - (120.0 - 255.0 * 0.9)).abs() < 1e-9);
        assert!((a[2][3] - 50.0).abs() < 1e-9);
    }
}
