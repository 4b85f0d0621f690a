//! Pixel-data decoding (PS3.5 section 8): native (uncompressed) data read straight from the
//! element bytes — 8, 16 and 32 bits, signed or unsigned with Bits Stored honoured, Float and
//! Double Float Pixel Data — and encapsulated syntaxes (PS3.5 A.4) through dicom-pixeldata (JPEG
//! baseline/extended/lossless, JPEG 2000 via openjp2), for RLE (PS3.5 Annex G) through `rle`,
//! for JPEG-LS (ITU-T T.87, PS3.5 A.4.3) through pure_jpegls, and for 12-bit lossy JPEG (T.81
//! process 4) through `jpeg12`.
//! Values are stored values, not rescaled.

use dicom_core::value::{DicomValueType, PixelFragmentSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use dicom_dictionary_std::uids::{
    JPEG_BASELINE8_BIT as JPEG_BASELINE, JPEG_EXTENDED12_BIT as JPEG_EXTENDED, RLE_LOSSLESS,
};
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::{ConvertOptions, ModalityLutOption, PixelDecoder};

use crate::ingest::values::{int_of, str_of};

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
    #[error("encapsulated Pixel Data: {0}")]
    Fragments(#[from] super::fragments::FragmentError),
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

/// The number of frames NumberOfFrames gives (1 without it, or for 0: read as pydicom, DCMTK and
/// GDCM read it).
fn stated_frames(obj: &DefaultDicomObject) -> usize {
    int_of(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1) as usize
}

/// Decode the given frames of `obj` into stored values (row-major, columns fastest). A
/// third-party decoder that panics on malformed data (dicom-rs's RLE decoder indexed past a
/// damaged segment table: found by the property test `damaged_roi_objects_never_panic` on a SEG
/// with one bit flipped; RLE is now `super::rle`'s) gives a decoding error for the file, never a
/// panic of its caller, and no "internal error" message ([`third_party`]). ancilla's own
/// decoding (native, RLE, 12-bit JPEG) is not guarded here: a panic there is a defect of
/// ancilla, announced as one by the caller's guard.
pub fn decode_frames(
    obj: &DefaultDicomObject,
    frames: &[u32],
) -> Result<Vec<Vec<f32>>, PixelError> {
    frames_as_stated(obj)?;
    let with_table = with_found_offsets(obj);
    let obj = with_table.as_ref().unwrap_or(obj);
    decode_frames_unguarded(obj, frames)
}

/// Refuses encapsulated Pixel Data that holds more frames than NumberOfFrames (1 without it)
/// says: a Basic Offset Table of another length (PS3.5 A.4: one offset a frame), or more
/// fragments starting a JPEG or JPEG-LS stream than frames (their start of image cannot occur
/// inside a stream; an RLE header or a JPEG 2000 SOC can, by chance, so those are left to the
/// decoding, where RLE's segments that run on into the next frame are refused). With
/// NumberOfFrames 1 over three frames, the three were read as one and the volume had one
/// slice.
fn frames_as_stated(obj: &DefaultDicomObject) -> Result<(), PixelError> {
    let Some(Value::PixelSequence(seq)) = obj.get(tags::PIXEL_DATA).map(|e| e.value()) else {
        return Ok(());
    };
    let frames = stated_frames(obj);
    let says = || format!("NumberOfFrames (0028,0008) says {frames}");
    let table = seq.offset_table().len();
    if table > 0 && table != frames {
        return Err(PixelError::Unsupported(format!(
            "the Basic Offset Table of the Pixel Data has {} where {}",
            crate::plural::count(table, "offset"),
            says()
        )));
    }
    let ts = obj.meta().transfer_syntax().trim_end_matches('\0');
    let unambiguous = super::frame_size::is_jpeg(ts) || super::frame_size::is_jpeg_ls(ts);
    if let Some(starts) = super::fragments::start_of_frame(ts).filter(|_| unambiguous) {
        let found = seq.fragments().iter().filter(|f| starts(f)).count();
        if found > frames {
            return Err(PixelError::Unsupported(format!(
                "the Pixel Data holds {found} frames (fragments that start a frame's stream) \
                 where {}",
                says()
            )));
        }
    }
    Ok(())
}

/// A third-party decoder's work behind `crate::panic_guard::catch_decoder`: its panic on a
/// malformed stream is the file's decoding error.
fn third_party<T>(
    ts: &str,
    decode: impl FnOnce() -> Result<T, PixelError>,
) -> Result<T, PixelError> {
    crate::panic_guard::catch_decoder(decode).unwrap_or_else(|_| {
        Err(PixelError::Decode {
            syntax: ts.to_string(),
            message: "the decoder failed on malformed pixel data".into(),
        })
    })
}

/// A copy of `obj` whose empty Basic Offset Table is filled in from where its frames' streams
/// start (`super::fragments::found_offsets`), when its frames are cut into more fragments than
/// frames: then every decoder, dicom-rs's too, finds each frame's fragments by the table.
/// `None` when the object needs no table or its fragments do not show the frames' starts (the
/// frames are then refused with that reason).
fn with_found_offsets(obj: &DefaultDicomObject) -> Option<DefaultDicomObject> {
    let starts =
        super::fragments::start_of_frame(obj.meta().transfer_syntax().trim_end_matches('\0'))?;
    let Value::PixelSequence(seq) = obj.get(tags::PIXEL_DATA)?.value() else {
        return None;
    };
    let frames = stated_frames(obj);
    let table =
        super::fragments::found_offsets(seq.fragments(), seq.offset_table(), frames, starts)?;
    let fragments = seq.fragments().to_vec();
    let mut copy = obj.clone();
    copy.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        Value::PixelSequence(PixelFragmentSequence::new(table, fragments)),
    ));
    Some(copy)
}

fn decode_frames_unguarded(
    obj: &DefaultDicomObject,
    frames: &[u32],
) -> Result<Vec<Vec<f32>>, PixelError> {
    let rows = int_of(obj, tags::ROWS).unwrap_or(0).max(0) as usize;
    let cols = int_of(obj, tags::COLUMNS).unwrap_or(0).max(0) as usize;
    let spp = int_of(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    let n = rows * cols;
    check_frame_sizes(obj, frames, [rows, cols, spp.max(0) as usize])?;
    let ts = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    match spp {
        1 => {}
        // Native and RLE colour are ancilla's; encapsulated colour goes to dicom-rs's decoders.
        3 => return third_party(&ts, || colour_frames(obj, frames, n)),
        _ => {
            return Err(PixelError::Unsupported(format!(
                "SamplesPerPixel {spp} (1 or 3 expected)"
            )))
        }
    }
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
    if is_native(&ts) {
        decode_native(obj, frames, n)
    } else if super::frame_size::is_jpeg_ls(&ts) {
        // Guarded inside, around pure_jpegls.
        jpeg_ls_frames(obj, frames, rows, cols, &ts)
    } else if matches!(ts.as_str(), JPEG_BASELINE | JPEG_EXTENDED) && is_12_bit_dct(obj) {
        jpeg12_frames(obj, frames, rows, cols, &ts)
    } else if ts == RLE_LOSSLESS {
        rle_frames(obj, frames, n)
    } else if is_8_bit_jpeg_in_16(obj, &ts) {
        third_party(&ts, || jpeg8_in_16_frames(obj, frames, n, &ts))
    } else {
        third_party(&ts, || decode_encapsulated(obj, frames, &ts))
    }
}

/// Refuses a JPEG, JPEG-LS or JPEG 2000 frame whose own header does not fit the image's
/// attributes (`super::frame_size::misfit`): dicom-rs's decoders would panic on it, or give a
/// wrong volume with no error.
fn check_frame_sizes(
    obj: &DefaultDicomObject,
    frames: &[u32],
    image: [usize; 3],
) -> Result<(), PixelError> {
    let ts = obj.meta().transfer_syntax().trim_end_matches('\0');
    if !super::frame_size::has_frame_header(ts) {
        return Ok(());
    }
    let bits = int_of(obj, tags::BITS_ALLOCATED).unwrap_or(0);
    for &f in frames {
        // A frame whose fragments cannot be told is refused by its decoder, with that reason.
        let Ok(stream) = frame_stream(obj, f) else {
            continue;
        };
        if let Some(why) = super::frame_size::misfit(ts, &stream, image, bits) {
            return Err(PixelError::Decode {
                syntax: ts.to_string(),
                message: format!("frame {f}: {why}"),
            });
        }
    }
    Ok(())
}

/// Whether `obj` is a grey JPEG image (baseline, extended or lossless) whose samples are of 8
/// bits or fewer while BitsAllocated is 16: PS3.5 8.2.1 asks for 8, but such files are written
/// (pydicom and GDCM read them). dicom-rs's decoder would write the 8-bit samples two to a
/// 16-bit word. Told from the first fragment's frame header.
fn is_8_bit_jpeg_in_16(obj: &DefaultDicomObject, ts: &str) -> bool {
    let jpeg = super::frame_size::is_jpeg(ts);
    let first = || match obj.get(tags::PIXEL_DATA).map(|e| e.value()) {
        Some(Value::PixelSequence(seq)) => seq.fragments().first().and_then(|f| {
            let size = super::frame_size::jpeg(f)?;
            Some(size.precision <= 8 && size.components == 1)
        }),
        _ => None,
    };
    jpeg && int_of(obj, tags::BITS_ALLOCATED) == Some(16) && first() == Some(true)
}

/// Stored values of 8-bit grey JPEG frames in a file whose BitsAllocated is 16
/// (`is_8_bit_jpeg_in_16`), decoded by jpeg-decoder itself into one byte a sample, then read as
/// native 8-bit samples with Bits Stored (at most 8) and Pixel Representation honoured.
fn jpeg8_in_16_frames(
    obj: &DefaultDicomObject,
    frames: &[u32],
    n: usize,
    ts: &str,
) -> Result<Vec<Vec<f32>>, PixelError> {
    let (stored, signed) = stored_and_sign(obj, 8);
    let error = |message: String| PixelError::Decode {
        syntax: ts.to_string(),
        message,
    };
    frames
        .iter()
        .map(|&f| {
            let stream = frame_stream(obj, f)?;
            let bytes = jpeg_decoder::Decoder::new(&stream[..])
                .decode()
                .map_err(|e| error(format!("frame {f}: {e}")))?;
            if bytes.len() != n {
                return Err(error(format!(
                    "frame {f}: {} samples decoded where {n} are expected",
                    bytes.len()
                )));
            }
            let mut v = vec![0.0; n];
            native_frame_into(&bytes, 8, stored.min(8), signed, 0, &mut v)?;
            Ok(v)
        })
        .collect()
}

/// One colour pixel packed as a whole number, `r·2¹⁶ + g·2⁸ + b` (exact in f32): how colour
/// volumes carry their samples (`assemble::SeriesVolume::rgb`).
pub fn pack_rgb(r: u8, g: u8, b: u8) -> f32 {
    ((u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b)) as f32
}

/// The red, green and blue samples of a packed colour voxel (see `pack_rgb`).
pub fn unpack_rgb(v: f32) -> [u8; 3] {
    let x = v as u32;
    [(x >> 16) as u8, (x >> 8) as u8, x as u8]
}

/// YCbCr (YBR_FULL, PS3.3 C.7.6.3.1.2) to RGB with the inverse of the standard's equations
/// (ITU-R BT.601 full range), rounded and clamped to 0-255.
fn ybr_full_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let (y, cb, cr) = (f32::from(y), f32::from(cb) - 128.0, f32::from(cr) - 128.0);
    let r = y + 1.402 * cr;
    let g = y - (0.114 * 1.772 / 0.587) * cb - (0.299 * 1.402 / 0.587) * cr;
    let b = y + 1.772 * cb;
    let q = |v: f32| (v + 0.5).floor().clamp(0.0, 255.0) as u8;
    [q(r), q(g), q(b)]
}

/// Colour frames (three samples a pixel, 8 bits each) as packed voxels (`pack_rgb`): native
/// data interleaved (PlanarConfiguration 0) or planar (1), in RGB or YBR_FULL; RLE by
/// `super::rle` (planes, RGB or YBR_FULL); other encapsulated data as the decoder gives it
/// (interleaved RGB: JPEG and JPEG 2000 decoders undo the colour transform); native
/// YBR_FULL_422 (chroma shared by each pair of pixels) as its pixels' RGB.
/// 16-bit samples are refused with their reason: NIfTI's RGB24 holds 8 bits a sample.
fn colour_frames(
    obj: &DefaultDicomObject,
    frames: &[u32],
    n: usize,
) -> Result<Vec<Vec<f32>>, PixelError> {
    let bits = int_of(obj, tags::BITS_ALLOCATED).unwrap_or(8);
    if bits != 8 {
        return Err(PixelError::Unsupported(format!(
            "colour image with BitsAllocated {bits} (8 expected: NIfTI's RGB24 holds 8 bits a sample)"
        )));
    }
    let ts = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    let photometric = str_of(obj, tags::PHOTOMETRIC_INTERPRETATION).unwrap_or_default();
    if ts == RLE_LOSSLESS {
        // By ancilla's decoder (`rle`), each frame's stream whole (it may span fragments, which
        // dicom-rs's decoder does not follow), its planes as stored: RLE keeps YBR_FULL
        // samples as they are, and they are turned into RGB here, as for native data
        // (dicom-rs's decoder left them as YCbCr: every sample wrong).
        let ybr = photometric.trim() == "YBR_FULL";
        return frames
            .iter()
            .map(|&f| {
                let bytes =
                    super::rle::decode_colour_frame(&frame_stream(obj, f)?, n).map_err(|e| {
                        PixelError::Decode {
                            syntax: RLE_LOSSLESS.into(),
                            message: e.to_string(),
                        }
                    })?;
                planes(&bytes, 0, n, ybr)
            })
            .collect();
    }
    if !is_native(&ts) {
        if matches!(ts.as_str(), JPEG_BASELINE | JPEG_EXTENDED) && photometric.trim() == "RGB" {
            if let Some(decoded) = frames
                .iter()
                .map(|&f| jpeg_without_colour_marker(obj, f, n, &ts))
                .collect::<Option<Result<Vec<_>, _>>>()
            {
                return decoded;
            }
        }
        return frames
            .iter()
            .map(|&f| {
                let decoded = obj
                    .decode_pixel_data_frame(f)
                    .map_err(|e| PixelError::Decode {
                        syntax: ts.clone(),
                        message: e.to_string(),
                    })?;
                let bytes = decoded.frame_data(0).map_err(|e| PixelError::Decode {
                    syntax: ts.clone(),
                    message: e.to_string(),
                })?;
                interleaved(bytes, 0, n, false)
            })
            .collect();
    }
    let ybr = match photometric.trim() {
        "RGB" => false,
        "YBR_FULL" => true,
        "YBR_FULL_422" => {
            let columns = int_of(obj, tags::COLUMNS).unwrap_or(0);
            if columns % 2 != 0 {
                return Err(PixelError::Unsupported(format!(
                    "YBR_FULL_422 image with {columns} columns (an even number expected: \
                     each pair of pixels shares its Cb and Cr)"
                )));
            }
            let bytes = native_bytes(obj, false)?;
            return frames.iter().map(|&f| pairs_422(&bytes, f, n)).collect();
        }
        other => {
            return Err(PixelError::Unsupported(format!(
                "uncompressed colour image in PhotometricInterpretation {other} \
                 (RGB, YBR_FULL or YBR_FULL_422 expected)"
            )))
        }
    };
    let planar = int_of(obj, tags::PLANAR_CONFIGURATION).unwrap_or(0) == 1;
    let bytes = native_bytes(obj, false)?;
    frames
        .iter()
        .map(|&f| {
            if planar {
                planes(&bytes, f, n, ybr)
            } else {
                interleaved(&bytes, f, n, ybr)
            }
        })
        .collect()
}

/// RLE frames, by [`super::rle`] on each frame's whole stream (`frame_stream`), then read as
/// native little-endian bytes (BitsStored, sign). Not by dicom-rs's decoder: it refuses 32-bit
/// samples, reads only the first fragment of a frame over several, and panics on a segment that
/// decodes short; `super::rle` reads all three and says what it found.
fn rle_frames(
    obj: &DefaultDicomObject,
    frames: &[u32],
    n: usize,
) -> Result<Vec<Vec<f32>>, PixelError> {
    let bits = int_of(obj, tags::BITS_ALLOCATED).unwrap_or(16);
    let width = match bits {
        8 => 1,
        16 => 2,
        32 => 4,
        b => return Err(PixelError::Unsupported(format!("BitsAllocated {b}"))),
    };
    let stored = int_of(obj, tags::BITS_STORED)
        .unwrap_or(bits)
        .clamp(1, bits);
    let signed = int_of(obj, tags::PIXEL_REPRESENTATION).unwrap_or(0) == 1;
    frames
        .iter()
        .map(|&f| {
            let bytes = super::rle::decode_frame(&frame_stream(obj, f)?, n, width as usize)
                .map_err(|e| PixelError::Decode {
                    syntax: RLE_LOSSLESS.into(),
                    message: e.to_string(),
                })?;
            let mut v = vec![0.0; n];
            native_frame_into(&bytes, bits, stored, signed, 0, &mut v)?;
            Ok(v)
        })
        .collect()
}

/// Frame `frame` of a JPEG colour image whose PhotometricInterpretation is RGB, when its stream
/// says nothing of its colour space (no Adobe APP14, no JFIF APP0, components not named R, G, B):
/// decoded without a colour transform, as the DICOM attribute says the samples are RGB (PS3.5
/// 8.2.1; pydicom decodes these so). A JPEG decoder left to itself assumes YCbCr there. `None`
/// when the stream does carry a marker (the decoder follows it) or the frame's fragments are not
/// one-to-one with frames.
fn jpeg_without_colour_marker(
    obj: &DefaultDicomObject,
    frame: u32,
    n: usize,
    ts: &str,
) -> Option<Result<Vec<f32>, PixelError>> {
    let stream = frame_stream(obj, frame).ok()?;
    if jpeg_names_its_colours(&stream) {
        return None;
    }
    let mut decoder = jpeg_decoder::Decoder::new(&stream[..]);
    decoder.set_color_transform(jpeg_decoder::ColorTransform::RGB);
    let decode_error = |message: String| PixelError::Decode {
        syntax: ts.to_string(),
        message,
    };
    Some(match decoder.decode() {
        Ok(bytes) if bytes.len() == 3 * n => interleaved(&bytes, 0, n, false),
        Ok(bytes) => Err(decode_error(format!(
            "{} decoded bytes where {} pixels need {}",
            bytes.len(),
            n,
            3 * n
        ))),
        Err(e) => Err(decode_error(e.to_string())),
    })
}

/// The compressed stream of frame `frame` of encapsulated Pixel Data (PS3.5 A.4), its fragments
/// as `super::fragments` tells them.
fn frame_stream(obj: &DefaultDicomObject, frame: u32) -> Result<Vec<u8>, PixelError> {
    let elem = obj.get(tags::PIXEL_DATA).ok_or(PixelError::Missing)?;
    let Value::PixelSequence(seq) = elem.value() else {
        return Err(PixelError::Unsupported(
            "encapsulated transfer syntax with native (unfragmented) Pixel Data".into(),
        ));
    };
    let frames = stated_frames(obj);
    Ok(super::fragments::frame_of(
        seq.fragments(),
        seq.offset_table(),
        frames,
        frame,
    )?)
}

/// Whether the image's JPEG stream is 12-bit DCT (JPEG process 4), which dicom-rs's JPEG decoder
/// refuses. Read from the first fragment, where frame 0's headers are (every frame of a file has
/// the same Bits Stored), without gathering a frame's fragments.
fn is_12_bit_dct(obj: &DefaultDicomObject) -> bool {
    match obj.get(tags::PIXEL_DATA).map(|e| e.value()) {
        Some(Value::PixelSequence(seq)) => seq
            .fragments()
            .first()
            .is_some_and(|f| crate::volume::jpeg12::dct_precision(f) == Some(12)),
        _ => false,
    }
}

/// Stored values of 12-bit lossy JPEG frames (JPEG Extended, process 4) through ancilla's own
/// decoder (`jpeg12`), read as native 16-bit words with Bits Stored and Pixel Representation
/// honoured, as the JPEG-LS frames are.
fn jpeg12_frames(
    obj: &DefaultDicomObject,
    frames: &[u32],
    rows: usize,
    cols: usize,
    ts: &str,
) -> Result<Vec<Vec<f32>>, PixelError> {
    let error = |message: String| PixelError::Decode {
        syntax: ts.to_string(),
        message,
    };
    let bits = int_of(obj, tags::BITS_ALLOCATED).unwrap_or(16);
    if bits != 16 {
        return Err(PixelError::Unsupported(format!(
            "12-bit JPEG image with BitsAllocated {bits} (16 expected)"
        )));
    }
    let (stored, signed) = stored_and_sign(obj, 12);
    frames
        .iter()
        .map(|&f| {
            let stream = frame_stream(obj, f)?;
            let image = crate::volume::jpeg12::decode(&stream, cols, rows)
                .map_err(|e| error(format!("frame {f}: {e}")))?;
            words_as_stored(&image.samples, stored, signed)
        })
        .collect()
}

/// Bits Stored (`default` when absent, at most 16) and whether Pixel Representation is signed, of
/// a grey-scale image whose decoder gives 16-bit words.
fn stored_and_sign(obj: &DefaultDicomObject, default: i64) -> (i64, bool) {
    let stored = int_of(obj, tags::BITS_STORED)
        .unwrap_or(default)
        .clamp(1, 16);
    (
        stored,
        int_of(obj, tags::PIXEL_REPRESENTATION).unwrap_or(0) == 1,
    )
}

/// A decoder's 16-bit words read as native Pixel Data: the `stored` low bits, sign-extended when
/// `signed` (two's complement in the stream, PS3.5 A.4.3).
fn words_as_stored(words: &[u16], stored: i64, signed: bool) -> Result<Vec<f32>, PixelError> {
    let bytes: Vec<u8> = words.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut out = vec![0.0; words.len()];
    native_frame_into(&bytes, 16, stored, signed, 0, &mut out)?;
    Ok(out)
}

/// Stored values of JPEG-LS frames (single-component, as DICOM grey-scale images store them):
/// each frame's stream decoded by pure_jpegls, its samples then read as native 16-bit words with
/// Bits Stored and Pixel Representation honoured (signed images hold their two's complement
/// bit pattern in the stream, PS3.5 A.4.3). A malformed stream is a decoding error, never a
/// panic: the decoder runs behind `panic_guard::catch_decoder` as a last guard.
fn jpeg_ls_frames(
    obj: &DefaultDicomObject,
    frames: &[u32],
    rows: usize,
    cols: usize,
    ts: &str,
) -> Result<Vec<Vec<f32>>, PixelError> {
    let error = |message: String| PixelError::Decode {
        syntax: ts.to_string(),
        message,
    };
    let bits = int_of(obj, tags::BITS_ALLOCATED).unwrap_or(16);
    if !(1..=16).contains(&bits) {
        return Err(PixelError::Unsupported(format!(
            "JPEG-LS image with BitsAllocated {bits} (8 or 16 expected)"
        )));
    }
    let (stored, signed) = stored_and_sign(obj, bits);
    let (w, h) = (
        u32::try_from(cols).map_err(|_| error(format!("{cols} columns")))?,
        u32::try_from(rows).map_err(|_| error(format!("{rows} rows")))?,
    );
    frames
        .iter()
        .map(|&f| {
            let mut stream = frame_stream(obj, f)?;
            drop_fill_before_eoi(&mut stream);
            let decoded = crate::panic_guard::catch_decoder(|| jpegls::decode(&stream, w, h))
                .map_err(|_| {
                    error(format!(
                        "frame {f}: the JPEG-LS decoder failed on a malformed stream"
                    ))
                })?;
            let (samples, _, _) = decoded.map_err(|e| error(format!("frame {f}: {e}")))?;
            if samples.len() != rows * cols {
                return Err(error(format!(
                    "frame {f}: {} samples decoded where {rows} × {cols} are expected",
                    samples.len()
                )));
            }
            words_as_stored(&samples, stored, signed)
        })
        .collect()
}

/// Removes the fill bytes (0xFF) in front of a JPEG-LS stream's closing EOI marker. Any marker
/// may follow fill bytes (ISO/IEC 10918-1 B.1.1.2, kept by 14495-1); DCMTK's encoder writes one to
/// make an odd-length stream fill an even fragment (its default "extended EOI" padding), and
/// pure_jpegls expects EOI straight after the scan ("expected EOI, got 0xFFFF"). In JPEG-LS scan
/// data a 0xFF byte is always followed by a byte below 0x80 (bit stuffing, 14495-1 A.1), so 0xFF
/// bytes just before the final FF D9 can only be fill. Zero padding after EOI is left alone.
fn drop_fill_before_eoi(stream: &mut Vec<u8>) {
    let end = stream.len() - stream.iter().rev().take_while(|&&b| b == 0).count();
    if end < 2 || stream[end - 2..end] != [0xFF, 0xD9] {
        return;
    }
    let eoi = end - 2;
    let fill = stream[..eoi]
        .iter()
        .rev()
        .take_while(|&&b| b == 0xFF)
        .count();
    stream.drain(eoi - fill..eoi);
}

/// Whether a JPEG stream says what its colour samples are: an Adobe APP14 or a JFIF APP0 segment,
/// or a frame header naming its three components 'R', 'G', 'B' (the markers a JPEG decoder
/// follows). Segments are walked from SOI to the start of scan. An APP14 segment too short to
/// hold Adobe's transform flag (12 bytes) is no marker: jpeg-decoder and libjpeg pass over it
/// (pydicom's SC_rgb_jpeg.dcm, written by highdicom 0.1.0, has a 10-byte one).
fn jpeg_names_its_colours(stream: &[u8]) -> bool {
    let mut at = 2; // after SOI (FF D8)
    while let (Some(&0xFF), Some(&marker)) = (stream.get(at), stream.get(at + 1)) {
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        let Some(len) = stream
            .get(at + 2..at + 4)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            return false;
        };
        let body = stream
            .get(at + 4..(at + 2 + len).min(stream.len()))
            .unwrap_or(&[]);
        match marker {
            0xE0 if body.starts_with(b"JFIF\0") => return true,
            0xEE if body.len() >= 12 && body.starts_with(b"Adobe\0") => return true,
            // SOF0..SOF3: precision, height, width, component count, then 3 bytes a component.
            0xC0..=0xC3
                if body.len() >= 15 && body[5] == 3 && [body[6], body[9], body[12]] == *b"RGB" =>
            {
                return true
            }
            0xDA => return false, // start of scan: no marker before it
            _ => {}
        }
        at += 2 + len;
    }
    false
}

/// The three bytes of frame `frame` (of `n` pixels) of interleaved colour data, packed.
fn interleaved(bytes: &[u8], frame: u32, n: usize, ybr: bool) -> Result<Vec<f32>, PixelError> {
    let chunk = frame_bytes(bytes, frame, 3 * n)?;
    Ok(chunk
        .chunks_exact(3)
        .map(|p| packed([p[0], p[1], p[2]], ybr))
        .collect())
}

/// Frame `frame` (of `n` pixels) of planar colour data (all first samples, then all second,
/// then all third), packed.
fn planes(bytes: &[u8], frame: u32, n: usize, ybr: bool) -> Result<Vec<f32>, PixelError> {
    let chunk = frame_bytes(bytes, frame, 3 * n)?;
    let (a, rest) = chunk.split_at(n);
    let (b, c) = rest.split_at(n);
    Ok(a.iter()
        .zip(b)
        .zip(c)
        .map(|((&x, &y), &z)| packed([x, y, z], ybr))
        .collect())
}

/// Frame `frame` (of `n` pixels, `n` even) of native YBR_FULL_422 data: for each horizontal pair
/// of pixels, their two Y samples then the Cb and Cr they share (PS3.3 C.7.6.3.1.2), packed.
fn pairs_422(bytes: &[u8], frame: u32, n: usize) -> Result<Vec<f32>, PixelError> {
    let chunk = frame_bytes(bytes, frame, 2 * n)?;
    Ok(chunk
        .chunks_exact(4)
        .flat_map(|p| {
            [
                packed([p[0], p[2], p[3]], true),
                packed([p[1], p[2], p[3]], true),
            ]
        })
        .collect())
}

fn packed(p: [u8; 3], ybr: bool) -> f32 {
    let [r, g, b] = if ybr {
        ybr_full_to_rgb(p[0], p[1], p[2])
    } else {
        p
    };
    pack_rgb(r, g, b)
}

/// Bytes `[frame·len, (frame+1)·len)` of `bytes`, or the shortfall.
fn frame_bytes(bytes: &[u8], frame: u32, len: usize) -> Result<&[u8], PixelError> {
    let start = frame as usize * len;
    bytes.get(start..start + len).ok_or(PixelError::Short {
        found: bytes.len(),
        expected: start + len,
        frame,
    })
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
    // Explicit VR big endian (retired, still written).
    let big_endian = obj.meta().transfer_syntax().trim_end_matches('\0') == "1.2.840.10008.1.2.2";
    let bytes = native_bytes(obj, big_endian && bits == 32)?;
    native_frames(&bytes, bits, stored, signed, frames, n)
}

/// The little-endian bytes of native Pixel Data as stored (dicom-rs gives OW as native-order
/// words, and implicit VR or big-endian files as words too). `swap_word_pairs`: 32-bit values
/// read as OW words from a big-endian file, whose high word comes first (pydicom's
/// `rtdose_expb.dcm`: every dose was wrong by the words' swap).
fn native_bytes(
    obj: &DefaultDicomObject,
    swap_word_pairs: bool,
) -> Result<std::borrow::Cow<'_, [u8]>, PixelError> {
    let elem = obj.get(tags::PIXEL_DATA).ok_or(PixelError::Missing)?;
    let Value::Primitive(value) = elem.value() else {
        return Err(PixelError::Unsupported(
            "native Pixel Data stored as fragments".into(),
        ));
    };
    let words = |mut w: Vec<u8>| -> std::borrow::Cow<'_, [u8]> {
        if swap_word_pairs {
            w.chunks_exact_mut(4).for_each(|value| value.rotate_left(2));
        }
        std::borrow::Cow::Owned(w)
    };
    Ok(match value {
        PrimitiveValue::U8(b) => std::borrow::Cow::Borrowed(&b[..]),
        PrimitiveValue::U16(w) => words(w.iter().flat_map(|x| x.to_le_bytes()).collect()),
        PrimitiveValue::I16(w) => words(w.iter().flat_map(|x| x.to_le_bytes()).collect()),
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
    })
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
            let mut values = decoded
                .to_vec_frame_with_options::<f32>(0, &opts)
                .map_err(|e| PixelError::Decode {
                    syntax: syntax(),
                    message: e.to_string(),
                })?;
            within_bits_stored(obj, &mut values);
            signed_as_pixel_representation(obj, &mut values);
            Ok(values)
        })
        .collect()
}

/// Values a decoder gave above what Bits Stored holds: the bits above it are not the value's
/// (PS3.5 8.1.1; a writer may leave anything there), so only the low `BitsStored` bits are kept,
/// as native data are read. A JPEG Lossless stream of 16-bit precision for a 12-bit image, its
/// top bits set, gave every voxel + 40960 (an audit against dcm2niix, which masks); JPEG-LS and
/// RLE are read through the native reader already.
fn within_bits_stored(obj: &DefaultDicomObject, values: &mut [f32]) {
    let (stored, _) = stored_and_sign(obj, 16);
    if stored >= 16 {
        return;
    }
    let full = (1i64 << stored) as f32;
    let mask = (1u32 << stored) - 1;
    for v in values.iter_mut().filter(|v| **v >= full) {
        *v = ((*v as u32) & mask) as f32;
    }
}

/// A signed image (PixelRepresentation 1) whose codestream says unsigned (a JPEG 2000 written
/// so, as pydicom's J2K_pixelrep_mismatch.dcm): the decoder gives 0 … 2^BitsStored − 1, where
/// the image holds two's complement. A value of 2^(BitsStored−1) or more cannot be signed, so
/// such values are read as two's complement (pydicom and GDCM do the same); a signed decode has
/// none and is left as it is. It gave air +6192 HU, not −2000.
fn signed_as_pixel_representation(obj: &DefaultDicomObject, values: &mut [f32]) {
    let (stored, signed) = stored_and_sign(obj, 16);
    if !signed {
        return;
    }
    let half = (1i64 << (stored - 1)) as f32;
    let full = (1i64 << stored) as f32;
    if values.iter().any(|v| *v >= half) {
        for v in values.iter_mut().filter(|v| **v >= half && **v < full) {
            *v -= full;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RLE object of 2 × 2 pixels of 8 bits whose Pixel Data holds `fragments` (each frame
    /// one fragment, all 7s) with Basic Offset Table `table`, and NumberOfFrames `frames`.
    fn rle_object(fragments: usize, table: Vec<u32>, frames: &str) -> DefaultDicomObject {
        // One segment: its header (1 segment, at 64), then a replicate run of four 7s.
        let mut frame = vec![0u8; 64];
        frame[0] = 1;
        frame[4] = 64;
        frame.extend([0xFD, 7]);
        object_of(RLE_LOSSLESS, [2, 2], vec![frame; fragments], table, frames)
    }

    /// An object of transfer syntax `ts` and `[rows, columns]` pixels of 8 bits whose Pixel
    /// Data holds `fragments`.
    fn object_of(
        ts: &str,
        [rows, columns]: [u16; 2],
        fragments: Vec<Vec<u8>>,
        table: Vec<u32>,
        frames: &str,
    ) -> DefaultDicomObject {
        let meta = dicom_object::meta::FileMetaTableBuilder::new()
            .transfer_syntax(ts)
            .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.7")
            .media_storage_sop_instance_uid("2.25.1")
            .build()
            .unwrap();
        let mut obj = dicom_object::FileDicomObject::new_empty_with_meta(meta);
        for (tag, v) in [
            (tags::ROWS, rows),
            (tags::COLUMNS, columns),
            (tags::BITS_ALLOCATED, 8),
            (tags::BITS_STORED, 8),
            (tags::SAMPLES_PER_PIXEL, 1),
        ] {
            obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(v)));
        }
        obj.put(DataElement::new(tags::NUMBER_OF_FRAMES, VR::IS, frames));
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            Value::PixelSequence(PixelFragmentSequence::new(table, fragments)),
        ));
        obj
    }

    /// Regression: encapsulated Pixel Data holding more frames than NumberOfFrames says was
    /// read as that many (three RLE frames under NumberOfFrames 1: one slice, its segment running
    /// into the next frames). Refused now, by the offset table or by the decoding.
    #[test]
    fn encapsulated_frames_beyond_number_of_frames_are_refused() {
        let three = decode_frames(&rle_object(3, vec![], "3"), &[0, 1, 2]).unwrap();
        assert_eq!(three, vec![vec![7.0; 4]; 3]);
        // RLE: read as one frame, its segment runs on into the others, and is refused there.
        let err = decode_frames(&rle_object(3, vec![], "1"), &[0]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pixel decoding failed (1.2.840.10008.1.2.5): RLE segment 1: 77 bytes decoded where 4 \
             pixels need one each"
        );
        let err = decode_frames(&rle_object(3, vec![0, 74, 148], "2"), &[0]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported pixel layout: the Basic Offset Table of the Pixel Data has 3 offsets \
             where NumberOfFrames (0028,0008) says 2"
        );
        // JPEG: a fragment that starts a stream starts a frame (its SOI cannot occur inside one).
        let soi = vec![0xFF, 0xD8, 0xFF, 0xD9];
        let jpeg = object_of(JPEG_BASELINE, [2, 2], vec![soi; 2], vec![], "1");
        let err = decode_frames(&jpeg, &[0]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported pixel layout: the Pixel Data holds 2 frames (fragments that start a \
             frame's stream) where NumberOfFrames (0028,0008) says 1"
        );
        // Fewer frames than stated: the missing frame is refused by its decoding, as before.
        assert!(decode_frames(&rle_object(2, vec![], "3"), &[0, 1, 2]).is_err());
    }

    /// A one-frame RLE image in two fragments whose second begins with bytes that read as an
    /// RLE header (its pixels 1, 0, 0, 0, 64, 0, 0, 0): one frame, decoded (the review found it
    /// refused as two frames; DCMTK, GDCM and pydicom read it).
    #[test]
    fn a_fragment_that_looks_like_an_rle_header_is_not_taken_for_a_frame() {
        let mut head = vec![0u8; 64];
        head[0] = 1;
        head[4] = 64;
        head.push(7); // a literal run of 8 bytes, in the next fragment
        let pixels = vec![1u8, 0, 0, 0, 64, 0, 0, 0];
        let obj = object_of(
            RLE_LOSSLESS,
            [2, 4],
            vec![head, pixels.clone()],
            vec![],
            "1",
        );
        let want: Vec<f32> = pixels.iter().map(|&b| f32::from(b)).collect();
        assert_eq!(decode_frames(&obj, &[0]).unwrap(), vec![want]);
    }

    /// Pure red, green and blue and a grey through the PS3.3 C.7.6.3.1.2 forward equations
    /// (Y = .299R + .587G + .114B, Cb = 128 − .1687R − .3313G + .5B,
    /// Cr = 128 + .5R − .4187G − .0813B), rounded to bytes by hand, and back: pure red
    /// (255, 0, 0) gives Y 76, Cb 85, Cr 255 (255.5 clamped), which comes back as (254, 0, 0),
    /// what pydicom gives for the same bytes in its YBR_FULL test files.
    #[test]
    fn ybr_full_comes_back_to_rgb() {
        assert_eq!(ybr_full_to_rgb(76, 85, 255), [254, 0, 0]);
        // Green (0, 255, 0): Y 149.685, Cb 43.52, Cr 21.23.
        assert_eq!(ybr_full_to_rgb(150, 44, 21), [0, 255, 1]);
        // Blue (0, 0, 255): Y 29.07, Cb 255.5 → 255, Cr 107.27.
        assert_eq!(ybr_full_to_rgb(29, 255, 107), [0, 0, 254]);
        // A grey has no chroma: Cb = Cr = 128.
        assert_eq!(ybr_full_to_rgb(97, 128, 128), [97, 97, 97]);
    }

    /// Two pairs of YBR_FULL_422 pixels (Y1 Y2 Cb Cr each): greys with no chroma keep their Y,
    /// in order; a pair shares its chroma (pure red's Cb 85, Cr 255 from the test above).
    #[test]
    fn ybr_full_422_pairs_share_their_chroma() {
        let bytes = [10, 200, 128, 128, 76, 76, 85, 255];
        let rgb: Vec<[u8; 3]> = pairs_422(&bytes, 0, 4)
            .unwrap()
            .into_iter()
            .map(unpack_rgb)
            .collect();
        assert_eq!(rgb, [[10; 3], [200; 3], [254, 0, 0], [254, 0, 0]]);
        // The second frame of these bytes would need 8 more.
        assert!(pairs_422(&bytes, 1, 4).is_err());
    }

    /// JPEG segments built by hand (ITU T.81 B.1): SOI, one segment, then SOS.
    #[test]
    fn jpeg_colour_markers_are_found_before_the_scan() {
        let stream = |segment: &[u8]| {
            let mut s = vec![0xFF, 0xD8];
            s.extend_from_slice(segment);
            s.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x02]);
            s
        };
        let jfif = [0xFF, 0xE0, 0x00, 0x07, b'J', b'F', b'I', b'F', 0];
        // APP14: "Adobe", version, two flag words, the transform (1: YCbCr).
        let adobe = [
            0xFF, 0xEE, 0x00, 0x0E, b'A', b'd', b'o', b'b', b'e', 0, 0, 100, 0, 0, 0, 0, 1,
        ];
        // SOF0: length 17, precision 8, 1×1, 3 components (id, sampling, table).
        let sof = |ids: [u8; 3]| {
            let mut s = vec![0xFF, 0xC0, 0x00, 0x11, 8, 0, 1, 0, 1, 3];
            for id in ids {
                s.extend_from_slice(&[id, 0x11, 0]);
            }
            s
        };
        assert!(jpeg_names_its_colours(&stream(&jfif)));
        assert!(jpeg_names_its_colours(&stream(&adobe)));
        // An APP14 without its transform flag (SC_rgb_jpeg.dcm's, length 12) says nothing.
        let short = [
            0xFF, 0xEE, 0x00, 0x0C, b'A', b'd', b'o', b'b', b'e', 0, 0, 0, 0, 0,
        ];
        assert!(!jpeg_names_its_colours(&stream(&short)));
        assert!(jpeg_names_its_colours(&stream(&sof(*b"RGB"))));
        assert!(!jpeg_names_its_colours(&stream(&sof([0, 1, 2]))));
        assert!(!jpeg_names_its_colours(&stream(&sof([1, 2, 3]))));
        // A marker after the scan starts is not looked for; a cut stream is no marker.
        let mut late = stream(&sof([1, 2, 3]));
        late.extend_from_slice(&adobe);
        assert!(!jpeg_names_its_colours(&late));
        assert!(!jpeg_names_its_colours(&[0xFF, 0xD8, 0xFF]));
    }

    /// Three frames in five fragments (2 + 1 + 2): the Basic Offset Table's byte offsets (item
    /// headers of 8 bytes counted) pick each frame's fragments; one fragment a frame needs no
    /// table; without a table, fragments that are not one a frame are refused.
    #[test]
    fn fill_bytes_before_the_closing_eoi_are_dropped() {
        // DCMTK's extended EOI: one fill byte, then FF D9, then the fragment's zero padding.
        let mut s = vec![0xFF, 0xD8, 0x12, 0xFF, 0x7F, 0xF0, 0xFF, 0xFF, 0xD9, 0x00];
        drop_fill_before_eoi(&mut s);
        assert_eq!(s, [0xFF, 0xD8, 0x12, 0xFF, 0x7F, 0xF0, 0xFF, 0xD9, 0x00]);
        // Several fill bytes.
        let mut s = vec![0x12, 0xFF, 0xFF, 0xFF, 0xD9];
        drop_fill_before_eoi(&mut s);
        assert_eq!(s, [0x12, 0xFF, 0xD9]);
        // Nothing to drop: a stuffed FF 7F stays, a stream without EOI stays.
        for s in [
            vec![0x12, 0xFF, 0x7F, 0xFF, 0xD9],
            vec![0xFF, 0xFF],
            vec![0xD9],
            vec![],
        ] {
            let mut t = s.clone();
            drop_fill_before_eoi(&mut t);
            assert_eq!(t, s);
        }
    }

    #[test]
    fn packed_colours_are_exact_in_f32() {
        for rgb in [[0, 0, 0], [255, 255, 255], [1, 2, 3], [255, 0, 128]] {
            let v = pack_rgb(rgb[0], rgb[1], rgb[2]);
            assert_eq!(unpack_rgb(v), rgb);
        }
        assert_eq!(pack_rgb(255, 255, 255), 16_777_215.0);
    }

    /// Interleaved (R1 G1 B1 R2 G2 B2) and planar (R1 R2 G1 G2 B1 B2) bytes of the same two
    /// pixels give the same colours; the second frame starts after the first's 3·n bytes.
    #[test]
    fn interleaved_and_planar_layouts_agree() {
        let inter = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        let planar = [1, 4, 2, 5, 3, 6, 7, 10, 8, 11, 9, 12];
        for frame in 0..2 {
            let a = interleaved(&inter, frame, 2, false).unwrap();
            let b = planes(&planar, frame, 2, false).unwrap();
            assert_eq!(a, b);
        }
        assert_eq!(
            interleaved(&inter, 1, 2, false).unwrap(),
            [pack_rgb(7, 8, 9), pack_rgb(10, 11, 12)]
        );
        assert!(matches!(
            planes(&planar, 2, 2, false),
            Err(PixelError::Short { .. })
        ));
    }
}
