//! Pixel-data decoding (PS3.5 section 8): native (uncompressed) data read straight from the
//! element bytes — 8, 16 and 32 bits, signed or unsigned with Bits Stored honoured, Float and
//! Double Float Pixel Data — and encapsulated syntaxes through dicom-pixeldata (RLE, JPEG
//! baseline/extended/lossless, JPEG 2000 via openjp2). Values are stored values, not rescaled.

use dicom_core::value::{DicomValueType, PrimitiveValue, Value};
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::{ConvertOptions, ModalityLutOption, PixelDecoder};

use crate::ingest::header::{int_of, str_of};

/// Errors of pixel decoding.
#[derive(Debug, thiserror::Error)]
pub enum PixelError {
    #[error("no Pixel Data (7FE0,0010)")]
    Missing,
    #[error("unsupported pixel layout: {0}")]
    Unsupported(String),
    #[error("Pixel Data too short: {found} bytes, {expected} expected for frame {frame}")]
    Short {
        found: usize,
        expected: usize,
        frame: u32,
    },
    #[error("pixel decoding failed ({syntax}): {message}")]
    Decode { syntax: String, message: String },
}

fn is_native(ts: &str) -> bool {
    matches!(
        ts,
        "1.2.840.10008.1.2"
            | "1.2.840.10008.1.2.1"
            | "1.2.840.10008.1.2.2"
            | "1.2.840.10008.1.2.1.99"
    )
}

/// Decode the given frames of `obj` into stored values (row-major, columns fastest).
pub fn decode_frames(
    obj: &DefaultDicomObject,
    frames: &[u32],
) -> Result<Vec<Vec<f32>>, PixelError> {
    let rows = int_of(obj, tags::ROWS).unwrap_or(0).max(0) as usize;
    let cols = int_of(obj, tags::COLUMNS).unwrap_or(0).max(0) as usize;
    let spp = int_of(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    if spp != 1 {
        return Err(PixelError::Unsupported(format!(
            "SamplesPerPixel {spp} (colour images are not volumes)"
        )));
    }
    let n = rows * cols;
    if let Some(e) = obj.get(tags::FLOAT_PIXEL_DATA) {
        let v = e
            .to_multi_float32()
            .map_err(|e| PixelError::Unsupported(e.to_string()))?;
        return frames
            .iter()
            .map(|&f| frame_slice(&v, f, n).map(<[f32]>::to_vec))
            .collect();
    }
    if let Some(e) = obj.get(tags::DOUBLE_FLOAT_PIXEL_DATA) {
        let v = e
            .to_multi_float64()
            .map_err(|e| PixelError::Unsupported(e.to_string()))?;
        return frames
            .iter()
            .map(|&f| frame_slice(&v, f, n).map(|s| s.iter().map(|x| *x as f32).collect()))
            .collect();
    }
    let ts = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    if is_native(&ts) {
        decode_native(obj, frames, n)
    } else {
        decode_encapsulated(obj, frames, &ts)
    }
}

fn frame_slice<T>(v: &[T], frame: u32, n: usize) -> Result<&[T], PixelError> {
    let start = frame as usize * n;
    v.get(start..start + n).ok_or(PixelError::Short {
        found: v.len(),
        expected: start + n,
        frame,
    })
}

fn decode_native(
    obj: &DefaultDicomObject,
    frames: &[u32],
    n: usize,
) -> Result<Vec<Vec<f32>>, PixelError> {
    let bits = int_of(obj, tags::BITS_ALLOCATED).unwrap_or(16);
    let stored = int_of(obj, tags::BITS_STORED)
        .unwrap_or(bits)
        .clamp(1, bits.max(1));
    let signed = int_of(obj, tags::PIXEL_REPRESENTATION).unwrap_or(0) == 1;
    let elem = obj.get(tags::PIXEL_DATA).ok_or(PixelError::Missing)?;
    let Value::Primitive(value) = elem.value() else {
        return Err(PixelError::Unsupported(
            "native Pixel Data stored as fragments".into(),
        ));
    };
    // Little-endian bytes of the element as stored (dicom-rs gives OW as native-order words).
    let bytes: std::borrow::Cow<[u8]> = match value {
        PrimitiveValue::U8(b) => std::borrow::Cow::Borrowed(&b[..]),
        PrimitiveValue::U16(w) => {
            std::borrow::Cow::Owned(w.iter().flat_map(|x| x.to_le_bytes()).collect())
        }
        PrimitiveValue::I16(w) => {
            std::borrow::Cow::Owned(w.iter().flat_map(|x| x.to_le_bytes()).collect())
        }
        PrimitiveValue::U32(w) => {
            std::borrow::Cow::Owned(w.iter().flat_map(|x| x.to_le_bytes()).collect())
        }
        PrimitiveValue::I32(w) => {
            std::borrow::Cow::Owned(w.iter().flat_map(|x| x.to_le_bytes()).collect())
        }
        PrimitiveValue::F32(w) => {
            std::borrow::Cow::Owned(w.iter().flat_map(|x| x.to_le_bytes()).collect())
        }
        other => {
            return Err(PixelError::Unsupported(format!(
                "Pixel Data value of type {:?}",
                other.value_type()
            )))
        }
    };
    native_frames(&bytes, bits, stored, signed, frames, n)
}

/// Stored values of `frames` (of `n` pixels each) from native little-endian Pixel Data bytes:
/// 8, 16 or 32 bits allocated, `stored` of them used, two's complement when `signed`.
pub fn native_frames(
    bytes: &[u8],
    bits: i64,
    stored: i64,
    signed: bool,
    frames: &[u32],
    n: usize,
) -> Result<Vec<Vec<f32>>, PixelError> {
    frames
        .iter()
        .map(|&f| {
            let mut v = vec![0.0; n];
            native_frame_into(bytes, bits, stored, signed, f, &mut v)?;
            Ok(v)
        })
        .collect()
}

/// The stored values of frame `frame` (of `out.len()` pixels) of native little-endian Pixel
/// Data bytes into `out` (as `native_frames`).
pub fn native_frame_into(
    bytes: &[u8],
    bits: i64,
    stored: i64,
    signed: bool,
    frame: u32,
    out: &mut [f32],
) -> Result<(), PixelError> {
    let bpp = match bits {
        8 => 1,
        16 => 2,
        32 => 4,
        b => return Err(PixelError::Unsupported(format!("BitsAllocated {b}"))),
    };
    let n = out.len();
    let shift = (bpp * 8) as u32 - stored as u32;
    let start = frame as usize * n * bpp;
    let chunk = bytes.get(start..start + n * bpp).ok_or(PixelError::Short {
        found: bytes.len(),
        expected: start + n * bpp,
        frame,
    })?;
    let o = out.iter_mut();
    match (bpp, signed) {
        (1, false) => o
            .zip(chunk)
            .for_each(|(d, &b)| *d = ((b << shift) >> shift) as f32),
        (1, true) => o
            .zip(chunk)
            .for_each(|(d, &b)| *d = (((b << shift) as i8) >> shift) as f32),
        (2, false) => o
            .zip(chunk.chunks_exact(2))
            .for_each(|(d, c)| *d = ((u16::from_le_bytes([c[0], c[1]]) << shift) >> shift) as f32),
        (2, true) => o.zip(chunk.chunks_exact(2)).for_each(|(d, c)| {
            *d = (((u16::from_le_bytes([c[0], c[1]]) << shift) as i16) >> shift) as f32
        }),
        (4, false) => o.zip(chunk.chunks_exact(4)).for_each(|(d, c)| {
            *d = ((u32::from_le_bytes([c[0], c[1], c[2], c[3]]) << shift) >> shift) as f32
        }),
        (_, _) => o.zip(chunk.chunks_exact(4)).for_each(|(d, c)| {
            *d = (((u32::from_le_bytes([c[0], c[1], c[2], c[3]]) << shift) as i32) >> shift) as f32
        }),
    }
    Ok(())
}

fn decode_encapsulated(
    obj: &DefaultDicomObject,
    frames: &[u32],
    ts: &str,
) -> Result<Vec<Vec<f32>>, PixelError> {
    let opts = ConvertOptions::new().with_modality_lut(ModalityLutOption::None);
    let syntax = || {
        let name = str_of(obj, tags::TRANSFER_SYNTAX_UID).unwrap_or_default();
        if name.is_empty() {
            ts.to_string()
        } else {
            name
        }
    };
    frames
        .iter()
        .map(|&f| {
            let decoded = obj
                .decode_pixel_data_frame(f)
                .map_err(|e| PixelError::Decode {
                    syntax: syntax(),
                    message: e.to_string(),
                })?;
            decoded
                .to_vec_frame_with_options::<f32>(0, &opts)
                .map_err(|e| PixelError::Decode {
                    syntax: syntax(),
                    message: e.to_string(),
                })
        })
        .collect()
}
