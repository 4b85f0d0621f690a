//! NIfTI-1 single-file output (`.nii`, `.nii.gz`; the header layout of nifti1.h): the 348-byte
//! header serialised field by field, no extension, then the voxels streamed straight from the
//! volumes in NIfTI's order (i fastest, rows flipped: ancilla's row 0 is the top row, NIfTI's the
//! bottom one). The nifti crate's writer needs a contiguous copy of a flipped array and copies each
//! slice once more before writing it; this writes each row as it lies in memory. Float volumes of
//! whole numbers in int16's range (MR magnitude, ADC) are stored as int16, as dcm2niix stores
//! them: half the bytes, the same values. The header itself is built by `nifti_io` (the crate's
//! `NiftiHeader`), and read back by the crate in the tests.

use std::io::{self, Write};
use std::path::Path;

use ndarray::{ArrayView1, ArrayView3};
use nifti::{DataElement, NiftiHeader};

/// Where the voxels start: the header and the four bytes saying no extension follows.
pub const VOX_OFFSET: usize = 352;

/// `h` as it goes on disk (native byte order, as the nifti crate writes it): 348 header bytes
/// and an empty extension flag.
pub fn header_bytes(h: &NiftiHeader) -> Vec<u8> {
    let mut b = Vec::with_capacity(VOX_OFFSET);
    let f32s = |b: &mut Vec<u8>, v: &[f32]| v.iter().for_each(|x| b.extend(x.to_ne_bytes()));
    b.extend(h.sizeof_hdr.to_ne_bytes());
    b.extend(h.data_type);
    b.extend(h.db_name);
    b.extend(h.extents.to_ne_bytes());
    b.extend(h.session_error.to_ne_bytes());
    b.push(h.regular);
    b.push(h.dim_info);
    h.dim.iter().for_each(|d| b.extend(d.to_ne_bytes()));
    f32s(&mut b, &[h.intent_p1, h.intent_p2, h.intent_p3]);
    for v in [h.intent_code, h.datatype, h.bitpix, h.slice_start] {
        b.extend(v.to_ne_bytes());
    }
    f32s(&mut b, &h.pixdim);
    f32s(&mut b, &[h.vox_offset, h.scl_slope, h.scl_inter]);
    b.extend(h.slice_end.to_ne_bytes());
    b.push(h.slice_code);
    b.push(h.xyzt_units);
    f32s(&mut b, &[h.cal_max, h.cal_min, h.slice_duration, h.toffset]);
    b.extend(h.glmax.to_ne_bytes());
    b.extend(h.glmin.to_ne_bytes());
    // descrip is exactly 80 bytes on disk: cut or padded with NULs.
    let mut descrip = [0u8; 80];
    let n = h.descrip.len().min(80);
    descrip[..n].copy_from_slice(&h.descrip[..n]);
    b.extend(descrip);
    b.extend(h.aux_file);
    b.extend(h.qform_code.to_ne_bytes());
    b.extend(h.sform_code.to_ne_bytes());
    f32s(
        &mut b,
        &[
            h.quatern_b,
            h.quatern_c,
            h.quatern_d,
            h.quatern_x,
            h.quatern_y,
            h.quatern_z,
        ],
    );
    f32s(&mut b, &h.srow_x);
    f32s(&mut b, &h.srow_y);
    f32s(&mut b, &h.srow_z);
    b.extend(h.intent_name);
    b.extend(h.magic);
    b.extend([0u8; 4]);
    b
}

/// `reference` completed for `volumes` of element type `T` (all `[k, j, i]` of one shape): their
/// dimensions (a fourth one for several), datatype, bit depth, voxel offset, the reference's
/// rescaling when it sets a slope (else none), the single-file magic; everything else as in
/// `reference`.
pub fn header_for_volumes<T: DataElement>(
    reference: &NiftiHeader,
    shape: [usize; 3],
    volumes: usize,
) -> NiftiHeader {
    // The reference's scale when it sets one (stored values: `nifti_io::write_images`).
    let (scl_slope, scl_inter) = if reference.scl_slope != 0.0 {
        (reference.scl_slope, reference.scl_inter)
    } else {
        (1.0, 0.0)
    };
    let [nk, nj, ni] = shape;
    let mut dims: Vec<usize> = vec![ni, nj, nk];
    if volumes > 1 {
        dims.push(volumes);
    }
    let mut dim = [1u16; 8];
    dim[0] = dims.len() as u16;
    for (d, n) in dim[1..].iter_mut().zip(&dims) {
        *d = u16::try_from(*n).unwrap_or(u16::MAX);
    }
    NiftiHeader {
        dim,
        sizeof_hdr: 348,
        datatype: T::DATA_TYPE as i16,
        bitpix: (T::DATA_TYPE.size_of() * 8) as i16,
        vox_offset: VOX_OFFSET as f32,
        scl_slope,
        scl_inter,
        magic: *b"n+1\0",
        ..reference.clone()
    }
}

/// `each` row of the volumes in NIfTI's order: volume by volume, slice by slice, rows from the
/// last to the first (ancilla's row 0 is NIfTI's top row).
fn rows_in_file_order<T>(
    volumes: &[ArrayView3<T>],
    mut each: impl FnMut(ArrayView1<T>) -> io::Result<()>,
) -> io::Result<()> {
    for v in volumes {
        for plane in v.outer_iter() {
            for row in plane.outer_iter().rev() {
                each(row)?;
            }
        }
    }
    Ok(())
}

/// Write `header` and then every volume (in order; each `[k, j, i]`, rows flipped on the way)
/// to `out`.
fn write_to<T: bytemuck::Pod>(
    out: &mut (impl Write + ?Sized),
    header: &NiftiHeader,
    volumes: &[ArrayView3<T>],
) -> io::Result<()> {
    out.write_all(&header_bytes(header))?;
    let mut row_buf: Vec<T> = Vec::new();
    rows_in_file_order(volumes, |row| match row.as_slice() {
        Some(r) => out.write_all(bytemuck::cast_slice(r)),
        None => {
            row_buf.clear();
            row_buf.extend(row.iter().copied());
            out.write_all(bytemuck::cast_slice(&row_buf))
        }
    })
}

/// Write `header` and then every volume of f32 voxels as whole numbers of type `T` (each value
/// must be one `T` holds: see `all_whole`), converted by `whole`, rows flipped as in `write_to`.
fn write_as_whole_to<T: bytemuck::Pod>(
    out: &mut (impl Write + ?Sized),
    header: &NiftiHeader,
    volumes: &[ArrayView3<f32>],
    whole: fn(f32) -> T,
) -> io::Result<()> {
    out.write_all(&header_bytes(header))?;
    let mut row_buf: Vec<T> = Vec::new();
    rows_in_file_order(volumes, |row| {
        row_buf.clear();
        match row.as_slice() {
            Some(r) => row_buf.extend(r.iter().map(|&x| whole(x))),
            None => row_buf.extend(row.iter().map(|&x| whole(x))),
        }
        out.write_all(bytemuck::cast_slice(&row_buf))
    })
}

/// 1.5 × 2²³: added to an f32 of magnitude below 2²², it leaves the value rounded to a whole
/// number, held in the low mantissa bits (offset by this constant's bit pattern).
const ROUNDER: f32 = 12_582_912.0;

/// A whole number given as f32 (see `all_int16`), as the integer read from the mantissa after
/// adding `ROUNDER` (exact within ±2²²). Plain float and integer operations, so a row converts on
/// vector registers (Rust's saturating `as` casts are scalar code on baseline x86-64); each
/// `Whole` type narrows it.
fn whole_bits(x: f32) -> i32 {
    (x + ROUNDER).to_bits() as i32 - ROUNDER.to_bits() as i32
}

/// Whether every voxel is a whole number that int16 holds exactly (NaN and infinities are not),
/// so the volume can be stored as int16 without losing anything, as dcm2niix stores MR.
pub fn all_int16(volumes: &[ArrayView3<f32>]) -> bool {
    all_whole(volumes, -32768.0, 32767.0)
}

/// Whether every voxel is a whole number that uint16 holds exactly (see `all_int16`).
pub fn all_uint16(volumes: &[ArrayView3<f32>]) -> bool {
    all_whole(volumes, 0.0, 65535.0)
}

/// Whether every voxel is a whole number that uint8 holds exactly (see `all_int16`).
pub fn all_uint8(volumes: &[ArrayView3<f32>]) -> bool {
    all_whole(volumes, 0.0, 255.0)
}

/// Whether every voxel is a whole number int32 holds (as f32: exactly up to 2²⁴).
pub fn all_int32(volumes: &[ArrayView3<f32>]) -> bool {
    let one = |x: f32| (-2_147_483_648.0..2_147_483_648.0).contains(&x) && x.round() == x;
    volumes.iter().all(|v| v.iter().all(|&x| one(x)))
}

/// Whether every voxel is a whole number within `lo..=hi`.
fn all_whole(volumes: &[ArrayView3<f32>], lo: f32, hi: f32) -> bool {
    // In range, and unchanged by rounding to a whole number (`ROUNDER`); NaN fails both tests.
    // Float compares only, in blocks without an early exit inside: vector registers.
    let one = |x: f32| (lo..=hi).contains(&x) & ((x + ROUNDER) - ROUNDER == x);
    let exact = |s: &[f32]| {
        s.chunks(4096)
            .all(|c| c.iter().fold(true, |ok, &x| ok & one(x)))
    };
    volumes.iter().all(|v| match v.as_slice() {
        Some(s) => exact(s),
        None => v.iter().all(|&x| one(x)),
    })
}

/// The file `tmp`, written by `body`: gzip-compressed at `gzip_level` when one is given, on every
/// core (`gzip_parallel`).
fn write_stream(
    tmp: &Path,
    gzip_level: Option<u32>,
    body: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let file = std::fs::File::create(tmp)?;
    match gzip_level {
        Some(level) => {
            let mut gz = super::gzip_parallel::ParallelGz::new(file, level);
            body(&mut gz)?;
            gz.finish()?;
        }
        None => {
            let mut w = io::BufWriter::with_capacity(1 << 16, file);
            body(&mut w)?;
            w.into_inner().map_err(|e| e.into_error())?;
        }
    }
    Ok(())
}

/// `write_file` of f32 volumes whose every value is a whole number of type `T` (`all_int16`,
/// `all_uint16`, `all_uint8`), stored as `T` (`header` must say so: `header_for_volumes::<T>`).
pub fn write_file_as<T: bytemuck::Pod + Whole>(
    tmp: &Path,
    header: &NiftiHeader,
    volumes: &[ArrayView3<f32>],
    gzip_level: Option<u32>,
) -> io::Result<()> {
    write_stream(tmp, gzip_level, |w| {
        write_as_whole_to(w, header, volumes, T::from_whole)
    })
}

/// An integer voxel type f32 whole numbers convert to exactly (within its range).
pub trait Whole {
    fn from_whole(x: f32) -> Self;
}

impl Whole for i16 {
    fn from_whole(x: f32) -> i16 {
        whole_bits(x) as i16
    }
}

impl Whole for u16 {
    fn from_whole(x: f32) -> u16 {
        whole_bits(x) as u16
    }
}

impl Whole for i32 {
    fn from_whole(x: f32) -> i32 {
        // Beyond ±2²² `whole_bits` does not hold it; the caller checked `all_int32`.
        x as i32
    }
}

impl Whole for u8 {
    fn from_whole(x: f32) -> u8 {
        whole_bits(x) as u8
    }
}

/// Write a single-file NIfTI-1 (`header`, then `volumes`) to `tmp`, gzip-compressed at
/// `gzip_level` when one is given.
pub fn write_file<T: bytemuck::Pod>(
    tmp: &Path,
    header: &NiftiHeader,
    volumes: &[ArrayView3<T>],
    gzip_level: Option<u32>,
) -> io::Result<()> {
    write_stream(tmp, gzip_level, |w| write_to(w, header, volumes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The serialised header is 352 bytes and the nifti crate reads back every field of it.
    #[test]
    fn the_crate_reads_back_every_header_field() {
        let mut h = header_for_volumes::<f32>(&NiftiHeader::default(), [7, 5, 3], 2);
        h.srow_x = [1.5, -0.25, 0.0, 10.0];
        h.srow_y = [0.0, 2.0, 0.5, -20.0];
        h.srow_z = [0.1, 0.0, 3.0, 30.5];
        h.quatern_b = 0.25;
        h.quatern_c = -0.5;
        h.quatern_d = 0.125;
        h.quatern_x = 10.0;
        h.quatern_y = -20.0;
        h.quatern_z = 30.5;
        h.qform_code = 1;
        h.sform_code = 2;
        h.pixdim = [-1.0, 1.5, 2.0, 3.0, 0.5, 0.0, 0.0, 0.0];
        h.xyzt_units = 10;
        h.cal_max = 4.0;
        h.cal_min = -1.0;
        h.toffset = 0.75;
        h.intent_p2 = 0.5;
        h.intent_code = 1007;
        h.slice_code = 3;
        h.slice_end = 6;
        h.descrip = b"ancilla test".to_vec();
        h.aux_file[..3].copy_from_slice(b"aux");
        h.intent_name[..4].copy_from_slice(b"name");
        let bytes = header_bytes(&h);
        assert_eq!(bytes.len(), VOX_OFFSET);
        let back = NiftiHeader::from_reader(&bytes[..]).unwrap();
        let mut expected = h.clone();
        expected.descrip.resize(80, 0);
        assert_eq!(back, expected);
        assert_eq!(back.dim, [4, 3, 5, 7, 2, 1, 1, 1]);
        assert_eq!(back.datatype, 16);
        assert_eq!(back.bitpix, 32);
    }

    /// The int16 test and conversion at and beyond the range limits, on fractions, NaN and the
    /// infinities; every whole number of the range converts to itself.
    #[test]
    fn uint16_test_and_conversion_are_exact() {
        for i in [0u16, 1, 32767, 32768, 65534, 65535] {
            assert_eq!(u16::from_whole(f32::from(i)), i);
        }
        let ok = ndarray::Array3::from_elem((1, 1, 2), 65535.0f32);
        assert!(all_uint16(&[ok.view()]));
        for bad in [-1.0f32, 65536.0, 0.5, f32::NAN] {
            let a = ndarray::Array3::from_elem((1, 1, 2), bad);
            assert!(!all_uint16(&[a.view()]), "{bad}");
        }
    }

    #[test]
    fn int16_test_and_conversion_are_exact() {
        let ok = |x: f32| all_int16(&[ndarray::Array3::from_elem((1, 1, 1), x).view()]);
        for x in [-32768.0, 32767.0, 0.0, -0.0, 1.0, -1.0, 12345.0] {
            assert!(ok(x), "{x}");
        }
        for x in [
            -32769.0,
            32768.0,
            0.5,
            -0.5,
            1e-7,
            32766.5,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e9,
        ] {
            assert!(!ok(x), "{x}");
        }
        for i in -32768..=32767i32 {
            assert_eq!(i16::from_whole(i as f32), i as i16);
        }
    }

    /// Voxels come out i fastest, rows from the last to the first, slices in order, volumes one
    /// after the other; also from a view that is not contiguous.
    #[test]
    fn voxels_are_written_in_nifti_order_rows_flipped() {
        let a =
            ndarray::Array3::from_shape_fn((2, 3, 4), |(k, j, i)| (100 * k + 10 * j + i) as u16);
        let b = a.mapv(|v| v + 1000);
        let h = header_for_volumes::<u16>(&NiftiHeader::default(), [2, 3, 4], 2);
        let mut out = Vec::new();
        write_to(&mut out, &h, &[a.view(), b.view()]).unwrap();
        let voxels: Vec<u16> = bytemuck::pod_collect_to_vec(&out[VOX_OFFSET..]);
        let mut expected = Vec::new();
        for v in [&a, &b] {
            for k in 0..2 {
                for j in (0..3).rev() {
                    for i in 0..4 {
                        expected.push(v[[k, j, i]]);
                    }
                }
            }
        }
        assert_eq!(voxels, expected);
        // A strided view (every other column): the same order, from a gathered row.
        let t = a.slice(ndarray::s![.., .., ..;2]);
        let h = header_for_volumes::<u16>(&NiftiHeader::default(), [2, 3, 2], 1);
        let mut out = Vec::new();
        write_to(&mut out, &h, &[t]).unwrap();
        let voxels: Vec<u16> = bytemuck::pod_collect_to_vec(&out[VOX_OFFSET..]);
        assert_eq!(voxels[..4], [20, 22, 10, 12]);
    }
}
