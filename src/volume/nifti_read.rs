//! Reading a single-file NIfTI-1 image (`.nii`, `.nii.gz`; NIfTI-1.1, magic `n+1`) straight into
//! `f32` voxels: the header is parsed by the nifti crate, the data is inflated directly into the
//! voxel buffer (float32 in native byte order: no copy at all) and rescaled by `scl_slope` /
//! `scl_inter` as the format defines (slope 0 = no scaling), exactly as the nifti crate's
//! `into_ndarray::<f32>` does, without its per-element conversion and extra buffers.
//!
//! A label map can be read straight into integer labels (`read_labels`), without the float image.
//! Anything else (header/image pairs, complex or RGB data) is left to the nifti crate's general
//! reader: `read` returns `None` for it.

use std::io::{BufReader, Read};
use std::path::Path;

use nifti::{Endianness, NiftiHeader};

use super::nifti_io::{invalid, NiftiError};

/// The header, the dimensions (`dim[1..=dim[0]]`) and the voxels in file order (first index
/// fastest), rescaled.
pub struct Raw<D> {
    pub header: NiftiHeader,
    pub dims: Vec<usize>,
    pub data: D,
}

/// Largest voxel data (bytes) read into a buffer allocated up front: 256 MiB.
const PREALLOCATE: usize = 1 << 28;

/// Stored voxel types this reader converts (NIfTI-1 datatype codes).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stored {
    U8,
    I8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
}

impl Stored {
    fn from_code(code: i16) -> Option<Stored> {
        Some(match code {
            2 => Stored::U8,
            256 => Stored::I8,
            4 => Stored::I16,
            512 => Stored::U16,
            8 => Stored::I32,
            768 => Stored::U32,
            1024 => Stored::I64,
            1280 => Stored::U64,
            16 => Stored::F32,
            64 => Stored::F64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Stored::U8 | Stored::I8 => 1,
            Stored::I16 | Stored::U16 => 2,
            Stored::I32 | Stored::U32 | Stored::F32 => 4,
            Stored::I64 | Stored::U64 | Stored::F64 => 8,
        }
    }

    /// Hand the elements of `bytes` (stored as `self`, in the given byte order) to `visitor`.
    fn visit<V: Visitor>(self, bytes: &[u8], little: bool, visitor: V) -> V::Out {
        macro_rules! go {
            ($t:ty) => {
                visitor.visit(
                    bytes
                        .chunks_exact(std::mem::size_of::<$t>())
                        .map(|b| <$t as Element>::read(b, little)),
                )
            };
        }
        match self {
            Stored::U8 => go!(u8),
            Stored::I8 => go!(i8),
            Stored::I16 => go!(i16),
            Stored::U16 => go!(u16),
            Stored::I32 => go!(i32),
            Stored::U32 => go!(u32),
            Stored::I64 => go!(i64),
            Stored::U64 => go!(u64),
            Stored::F32 => go!(f32),
            Stored::F64 => go!(f64),
        }
    }
}

/// One stored voxel type: read from its bytes in either order, its value as the nifti crate casts
/// it to `f32`, and (integer types) its label.
trait Element: Copy {
    fn read(b: &[u8], little: bool) -> Self;
    fn value(self) -> f32;
    /// The voxel as an integer label (`int_label`); None for floating-point types.
    fn label(self) -> Option<u32>;
}

macro_rules! element {
    ($t:ty, $label:expr) => {
        impl Element for $t {
            fn read(b: &[u8], little: bool) -> Self {
                let a = b.try_into().unwrap_or_default();
                if little {
                    <$t>::from_le_bytes(a)
                } else {
                    <$t>::from_be_bytes(a)
                }
            }
            fn value(self) -> f32 {
                self as f32
            }
            fn label(self) -> Option<u32> {
                let label: fn($t) -> Option<u32> = $label;
                label(self)
            }
        }
    };
}

// A negative or too large integer is no label (`nifti_io::label_value`'s rule).
element!(u8, |v| Some(u32::from(v)));
element!(i8, |v| Some(int_label(i64::from(v))));
element!(i16, |v| Some(int_label(i64::from(v))));
element!(u16, |v| Some(u32::from(v)));
element!(i32, |v| Some(int_label(i64::from(v))));
element!(u32, |v| Some(int_label(i64::from(v))));
element!(i64, |v| Some(int_label(v)));
element!(u64, |v| Some(int_label(
    i64::try_from(v).unwrap_or(i64::MAX)
)));
element!(f32, |_| None);
element!(f64, |_| None);

/// An integer voxel as a label: itself from 0 to `MAX_LABEL`, else `NOT_A_LABEL`.
fn int_label(v: i64) -> u32 {
    match u32::try_from(v) {
        Ok(l) if l <= super::nifti_io::MAX_LABEL => l,
        _ => super::nifti_io::NOT_A_LABEL,
    }
}

/// What is done with a file's elements, whatever their stored type.
trait Visitor {
    type Out;
    fn visit<E: Element>(self, elements: impl Iterator<Item = E>) -> Self::Out;
}

/// Each element's value (rescaled when `scale` is `Some((slope, intercept))`), mapped by `out`.
struct Values<T, F: Fn(f32) -> T> {
    scale: Option<(f32, f32)>,
    out: F,
}

impl<T, F: Fn(f32) -> T> Visitor for Values<T, F> {
    type Out = Vec<T>;
    fn visit<E: Element>(self, elements: impl Iterator<Item = E>) -> Vec<T> {
        match self.scale {
            None => elements.map(|e| (self.out)(e.value())).collect(),
            Some((m, c)) => elements.map(|e| (self.out)(e.value() * m + c)).collect(),
        }
    }
}

/// Each element's integer label (0 for a floating-point type, which never comes here).
struct Labels;

impl Visitor for Labels {
    type Out = Vec<u32>;
    fn visit<E: Element>(self, elements: impl Iterator<Item = E>) -> Vec<u32> {
        elements.map(|e| e.label().unwrap_or(0)).collect()
    }
}

fn io(path: &Path, source: std::io::Error) -> NiftiError {
    NiftiError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Read up to `buf.len()` bytes; the count read (short only at the end of the stream).
pub(crate) fn fill(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A file positioned at its voxel data, with what the header says about it.
struct Opened {
    reader: Box<dyn Read>,
    header: NiftiHeader,
    stored: Stored,
    dims: Vec<usize>,
    voxels: usize,
}

impl Opened {
    fn little(&self) -> bool {
        self.header.endianness == Endianness::Little
    }

    /// `Some((slope, intercept))` when the header asks for rescaling (slope 0 means none, as
    /// does the identity).
    fn scale(&self) -> Option<(f32, f32)> {
        let (m, c) = (self.header.scl_slope, self.header.scl_inter);
        (m != 0.0 && (m != 1.0 || c != 0.0)).then_some((m, c))
    }

    /// Bytes the voxel data needs.
    fn needed(&self) -> usize {
        self.voxels * self.stored.size()
    }

    /// Whether the data may be read into a buffer of its declared size allocated up front (a
    /// header can declare any size; beyond this the buffer grows as data arrives).
    fn preallocate(&self) -> bool {
        self.needed() <= PREALLOCATE
    }

    /// Fill `buf` with the voxel data; an error unless the data is exactly that long.
    fn read_data(&mut self, path: &Path, buf: &mut [u8]) -> Result<(), NiftiError> {
        let held = fill(&mut self.reader, buf).map_err(|e| io(path, e))?;
        // Data beyond what the dimensions need is as wrong as data missing.
        let extra =
            std::io::copy(&mut self.reader, &mut std::io::sink()).map_err(|e| io(path, e))?;
        self.check_size(path, held as u64 + extra)
    }

    fn check_size(&self, path: &Path, held: u64) -> Result<(), NiftiError> {
        if held == self.needed() as u64 {
            return Ok(());
        }
        Err(invalid(
            path,
            format!(
                "the data holds {held} bytes where dimensions {:?} of datatype {} need {}",
                self.dims,
                self.header.datatype,
                self.needed()
            ),
        ))
    }

    /// The voxel data's bytes, checked to be exactly as long as the dimensions need.
    fn read_bytes(&mut self, path: &Path) -> Result<Vec<u8>, NiftiError> {
        if self.preallocate() {
            let mut bytes = crate::memory::zeroed_voxels::<u8>(self.needed());
            self.read_data(path, &mut bytes)?;
            return Ok(bytes);
        }
        let mut bytes = Vec::with_capacity(PREALLOCATE);
        let limit = self.needed() as u64 + 1;
        self.reader
            .by_ref()
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|e| io(path, e))?;
        let extra =
            std::io::copy(&mut self.reader, &mut std::io::sink()).map_err(|e| io(path, e))?;
        self.check_size(path, bytes.len() as u64 + extra)?;
        Ok(bytes)
    }

    /// The voxels mapped by `out` (after the cast and rescaling).
    fn convert<T>(
        mut self,
        path: &Path,
        out: impl Fn(f32) -> T,
    ) -> Result<Raw<Vec<T>>, NiftiError> {
        let bytes = self.read_bytes(path)?;
        let values = Values {
            scale: self.scale(),
            out,
        };
        let data = self.stored.visit(&bytes, self.little(), values);
        Ok(Raw {
            header: self.header,
            dims: self.dims,
            data,
        })
    }
}

/// The name of a NIfTI-1 datatype that is not one number per voxel (colour, complex), or of the
/// 1-bit and 128-bit floating types no reader here converts.
fn not_scalar(code: i16) -> Option<&'static str> {
    Some(match code {
        1 => "binary, 1 bit",
        32 => "complex64",
        128 => "RGB24",
        1536 => "float128",
        1792 => "complex128",
        2048 => "complex256",
        2304 => "RGBA32",
        _ => return None,
    })
}

/// Read `path` when it is a single-file NIfTI-1 image of a numeric datatype; `None` when it is
/// something the nifti crate's general reader should handle.
pub fn read(path: &Path) -> Result<Option<Raw<Vec<f32>>>, NiftiError> {
    let Some(mut f) = open(path)? else {
        return Ok(None);
    };
    let native = f.stored == Stored::F32 && f.little() == cfg!(target_endian = "little");
    if !(native && f.preallocate()) {
        return f.convert(path, |v| v).map(Some);
    }
    // float32 in native byte order: inflated straight into the voxels.
    let mut data = crate::memory::zeroed_voxels::<f32>(f.voxels);
    f.read_data(path, bytemuck::cast_slice_mut(&mut data))?;
    if let Some((m, c)) = f.scale() {
        for v in &mut data {
            *v = *v * m + c;
        }
    }
    Ok(Some(Raw {
        header: f.header,
        dims: f.dims,
        data,
    }))
}

/// The voxels of a label map: unscaled 8-bit labels as stored, others as u32.
pub enum LabelVoxels {
    U8(Vec<u8>),
    U32(Vec<u32>),
}

/// Read a label map like `read`: integer voxels stored without rescaling are their own labels
/// (negative ones 0; unsigned 8-bit ones kept as bytes); any other voxel is mapped by `label`
/// from its rescaled value.
pub fn read_labels(
    path: &Path,
    label: impl Fn(f32) -> u32,
) -> Result<Option<Raw<LabelVoxels>>, NiftiError> {
    let Some(mut f) = open(path)? else {
        return Ok(None);
    };
    let wrap = |raw: Raw<Vec<u32>>| Raw {
        header: raw.header,
        dims: raw.dims,
        data: LabelVoxels::U32(raw.data),
    };
    if f.scale().is_some() || matches!(f.stored, Stored::F32 | Stored::F64) {
        return f.convert(path, label).map(|r| Some(wrap(r)));
    }
    let bytes = f.read_bytes(path)?;
    if f.stored == Stored::U8 {
        return Ok(Some(Raw {
            header: f.header,
            dims: f.dims,
            data: LabelVoxels::U8(bytes),
        }));
    }
    let data = f.stored.visit(&bytes, f.little(), Labels);
    Ok(Some(Raw {
        header: f.header,
        dims: f.dims,
        data: LabelVoxels::U32(data),
    }))
}

/// Open `path`, parse its header and move to its data; `None` for what `read` leaves to the
/// nifti crate.
fn open(path: &Path) -> Result<Option<Opened>, NiftiError> {
    let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let mut file = BufReader::with_capacity(1 << 16, file);
    let mut magic = [0u8; 2];
    let got = fill(&mut file, &mut magic).map_err(|e| io(path, e))?;
    let head = std::io::Cursor::new(magic[..got].to_vec());
    let mut reader: Box<dyn Read> = if magic == [0x1f, 0x8b] {
        Box::new(flate2::read::MultiGzDecoder::new(head.chain(file)))
    } else {
        Box::new(head.chain(file))
    };
    let mut hbuf = [0u8; 348];
    let got = fill(&mut reader, &mut hbuf).map_err(|e| io(path, e))?;
    if got < hbuf.len() {
        return Err(invalid(
            path,
            format!("the header holds {got} bytes where NIfTI-1 needs 348"),
        ));
    }
    let header = NiftiHeader::from_reader(&hbuf[..]).map_err(|source| NiftiError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let Some(stored) = Stored::from_code(header.datatype) else {
        // Colour and complex voxels are no grey levels nor labels: refused here, by name (the
        // nifti crate's reader, which the other cases go to, panicked on them).
        if let Some(kind) = not_scalar(header.datatype) {
            return Err(invalid(
                path,
                format!(
                    "datatype {} ({kind}) is not a grey-level image or a label map: not read",
                    header.datatype
                ),
            ));
        }
        return Ok(None);
    };
    if &header.magic != b"n+1\0" {
        return Ok(None);
    }
    let dims: Vec<usize> = header
        .dim()
        .map_err(|source| NiftiError::Read {
            path: path.display().to_string(),
            source,
        })?
        .iter()
        .map(|&d| d as usize)
        .collect();
    let bits = 8 * stored.size();
    if header.bitpix as usize != bits {
        return Err(invalid(
            path,
            format!(
                "bitpix {} disagrees with datatype {} ({bits} bits per voxel)",
                header.bitpix, header.datatype
            ),
        ));
    }
    let voxels = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|v| v.checked_mul(8).is_some())
        .ok_or_else(|| invalid(path, format!("dimensions {dims:?} are too large")))?;
    let offset = header.vox_offset;
    if !(offset.is_finite() && offset >= 348.0 && offset.fract() == 0.0) {
        return Err(invalid(
            path,
            format!("vox_offset {offset} is not a whole byte offset at or after the header"),
        ));
    }
    let skip = offset as u64 - 348;
    let skipped = std::io::copy(&mut reader.by_ref().take(skip), &mut std::io::sink())
        .map_err(|e| io(path, e))?;
    if skipped < skip {
        return Err(invalid(
            path,
            format!("the file ends before the data offset {offset}"),
        ));
    }
    Ok(Some(Opened {
        reader,
        header,
        stored,
        dims,
        voxels,
    }))
}
