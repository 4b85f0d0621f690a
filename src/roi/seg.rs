//! DICOM Segmentation objects (PS3.3 A.51 Segmentation IOD, C.8.20 Segmentation Image Module,
//! C.7.6.16 Multi-frame Functional Groups): BINARY (1 bit per pixel, frames packed without
//! padding; native transfer syntaxes), FRACTIONAL (8 bits, in the segment where value ≥ half of
//! MaximumFractionalValue) and LABELMAP (8 or 16 bits, each pixel the number of its segment, 0
//! none; Supplement 243) segmentations, the last two native or in any syntax the image decoder
//! reads (RLE Lossless, as highdicom writes them, JPEG-LS, JPEG 2000, deflate). A BINARY or
//! FRACTIONAL frame belongs to the segment its Segment Identification names; a LABELMAP frame
//! holds every segment. Each frame sits in patient space by its own Plane Position (per-frame)
//! and the Plane Orientation / Pixel Measures (shared or per-frame). Every segment becomes a volume on
//! the regular grid its frames lie on (gaps — slices without that segment — are empty), ready for
//! nearest-neighbour resampling onto an image.

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use ndarray::Array3;

use super::RoiError;
use crate::ingest::values::{f64s_of, first_item, int_of, str_of};
use crate::volume::{cross, dot, Geometry, Volume};

/// One segment of a SEG, as a 0/1 volume on its frames' grid.
#[derive(Debug, Clone)]
pub struct Segment {
    pub number: u32,
    /// SegmentLabel as stored (may be empty).
    pub label: String,
    pub volume: Volume,
}

/// A read Segmentation.
#[derive(Debug, Clone)]
pub struct Segmentation {
    pub frame_of_reference: String,
    pub segments: Vec<Segment>,
}

/// The most voxels of a SEG's slice grid (one f32 volume a segment): a damaged position that
/// stays on the grid asked for 65,536 planes, and an allocation that fails aborts the process.
const MAX_GRID_VOXELS: u128 = 1 << 28;
/// The most voxels over all its segments' grids (8 GiB of f32).
const MAX_SEG_VOXELS: u128 = 1 << 31;

fn bad(attribute: &str, expected: &str) -> RoiError {
    RoiError::Dicom {
        kind: "SEG",
        attribute: attribute.into(),
        expected: expected.into(),
    }
}

/// A functional-group attribute: per-frame item first, then the shared item.
fn group_item<'a>(
    per_frame: Option<&'a InMemDicomObject>,
    shared: Option<&'a InMemDicomObject>,
    seq: Tag,
) -> Option<&'a InMemDicomObject> {
    per_frame
        .and_then(|f| first_item(f, seq))
        .or_else(|| shared.and_then(|s| first_item(s, seq)))
}

/// How a SEG's pixels say which segment a pixel is in.
#[derive(Clone, Copy, PartialEq)]
enum SegType {
    /// One bit a pixel, the frame's segment.
    Binary,
    /// A fraction of this maximum; in the frame's segment from half of it.
    Fractional(f64),
    /// The pixel's segment number (0: none).
    Labelmap,
}

/// Where one frame of a SEG lies, and its segment.
struct Frame {
    /// The frame's segment (none in a LABELMAP: its pixels name theirs).
    segment: Option<u32>,
    position: [f64; 3],
    index: usize,
}

/// The frames of a SEG and the plane they share.
struct Placements {
    frames: Vec<Frame>,
    orientation: [f64; 6],
    pixel_spacing: [f64; 2],
    /// SpacingBetweenSlices, else SliceThickness, of the first frame that has one.
    slice_gap: Option<f64>,
}

/// The segments a SEG describes (SegmentSequence): each one's number and label. A LABELMAP may
/// describe its background as segment 0 (highdicom does): not a region, not listed.
fn segment_labels(obj: &DefaultDicomObject, kind: SegType) -> Result<Vec<(u32, String)>, RoiError> {
    let mut labels: Vec<(u32, String)> = Vec::new();
    for item in obj
        .get(tags::SEGMENT_SEQUENCE)
        .and_then(|e| e.items())
        .unwrap_or(&[])
    {
        let lowest = if kind == SegType::Labelmap { 0 } else { 1 };
        let n = int_of(item, tags::SEGMENT_NUMBER)
            .filter(|n| *n >= lowest)
            .ok_or_else(|| {
                bad(
                    "SegmentNumber (0062,0004)",
                    "a positive integer per segment (0 too for a LABELMAP's background)",
                )
            })?;
        if n == 0 {
            continue;
        }
        // A number given twice: the frames of one would be taken for the other's.
        if labels.iter().any(|(l, _)| i64::from(*l) == n) {
            return Err(bad(
                "SegmentNumber (0062,0004)",
                &format!("a number given to one segment only; {n} is given twice"),
            ));
        }
        labels.push((
            n as u32,
            str_of(item, tags::SEGMENT_LABEL).unwrap_or_default(),
        ));
    }
    if labels.is_empty() {
        return Err(bad("SegmentSequence (0062,0002)", "at least one segment"));
    }
    Ok(labels)
}

/// Every frame's segment and position (per-frame functional groups, else the shared ones), and
/// the orientation, pixel spacing and slice gap they share: a frame without them, or one whose
/// orientation or spacing differs from the first's, is refused.
fn frame_placements(
    per_frame: &[&InMemDicomObject],
    shared: Option<&InMemDicomObject>,
    kind: SegType,
    frames: usize,
) -> Result<Placements, RoiError> {
    let mut orientation: Option<[f64; 6]> = None;
    let mut spacing: Option<[f64; 2]> = None;
    let mut slice_gap: Option<f64> = None;
    let mut list = Vec::with_capacity(frames);
    for (index, pf) in per_frame.iter().enumerate() {
        let segment = match kind {
            SegType::Labelmap => None,
            _ => Some(
                first_item(pf, tags::SEGMENT_IDENTIFICATION_SEQUENCE)
                    .and_then(|i| int_of(i, tags::REFERENCED_SEGMENT_NUMBER))
                    .filter(|s| *s > 0)
                    .ok_or_else(|| {
                        bad(
                            "SegmentIdentificationSequence/ReferencedSegmentNumber (0062,000A/000B)",
                            "a segment number per frame",
                        )
                    })? as u32,
            ),
        };
        let pos = group_item(Some(pf), shared, tags::PLANE_POSITION_SEQUENCE)
            .and_then(|i| f64s_of(i, tags::IMAGE_POSITION_PATIENT))
            .filter(|v| v.len() >= 3)
            .ok_or_else(|| {
                bad(
                    "PlanePositionSequence/ImagePositionPatient (0020,9113/0032)",
                    "three numbers per frame",
                )
            })?;
        let iop = group_item(Some(pf), shared, tags::PLANE_ORIENTATION_SEQUENCE)
            .and_then(|i| f64s_of(i, tags::IMAGE_ORIENTATION_PATIENT))
            .filter(|v| v.len() >= 6)
            .ok_or_else(|| {
                bad(
                    "PlaneOrientationSequence/ImageOrientationPatient (0020,9116/0037)",
                    "six numbers",
                )
            })?;
        let iop = [iop[0], iop[1], iop[2], iop[3], iop[4], iop[5]];
        let measures = group_item(Some(pf), shared, tags::PIXEL_MEASURES_SEQUENCE);
        let ps = measures
            .and_then(|i| f64s_of(i, tags::PIXEL_SPACING))
            .filter(|v| v.len() >= 2 && v[0] > 0.0 && v[1] > 0.0)
            .ok_or_else(|| {
                bad(
                    "PixelMeasuresSequence/PixelSpacing (0028,9110/0030)",
                    "two positive numbers",
                )
            })?;
        let gap = measures
            .and_then(|i| {
                f64s_of(i, tags::SPACING_BETWEEN_SLICES)
                    .or_else(|| f64s_of(i, tags::SLICE_THICKNESS))
            })
            .and_then(|v| v.first().copied())
            .filter(|g| *g > 0.0);
        match orientation {
            None => orientation = Some(iop),
            Some(o) if o.iter().zip(&iop).all(|(a, b)| (a - b).abs() < 1e-4) => {}
            Some(_) => {
                return Err(bad(
                    "ImageOrientationPatient (0020,0037)",
                    "the same orientation in every frame",
                ))
            }
        }
        match spacing {
            None => spacing = Some([ps[0], ps[1]]),
            Some(s) if (s[0] - ps[0]).abs() < 1e-4 && (s[1] - ps[1]).abs() < 1e-4 => {}
            Some(_) => {
                return Err(bad(
                    "PixelSpacing (0028,0030)",
                    "the same spacing in every frame",
                ))
            }
        }
        slice_gap = slice_gap.or(gap);
        list.push(Frame {
            segment,
            position: [pos[0], pos[1], pos[2]],
            index,
        });
    }
    let (Some(o), Some(ps)) = (orientation, spacing) else {
        return Err(bad("NumberOfFrames (0028,0008)", "at least one frame"));
    };
    Ok(Placements {
        frames: list,
        orientation: o,
        pixel_spacing: ps,
        slice_gap,
    })
}

/// The segments of an opened SEG object.
pub fn seg_from_object(obj: &DefaultDicomObject) -> Result<Segmentation, RoiError> {
    let ts = obj.meta().transfer_syntax().trim_end_matches('\0');
    let native = matches!(
        ts,
        "1.2.840.10008.1.2" | "1.2.840.10008.1.2.1" | "1.2.840.10008.1.2.1.99"
    );
    let rows = int_of(obj, tags::ROWS).filter(|r| *r > 0);
    let cols = int_of(obj, tags::COLUMNS).filter(|c| *c > 0);
    let (Some(rows), Some(cols)) = (rows, cols) else {
        return Err(bad("Rows/Columns (0028,0010/0011)", "positive integers"));
    };
    let (rows, cols) = (rows as usize, cols as usize);
    let frames = int_of(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(0) as usize;
    let seg_type = str_of(obj, tags::SEGMENTATION_TYPE).unwrap_or_default();
    let bits = int_of(obj, tags::BITS_ALLOCATED).unwrap_or(0);
    let kind = match (seg_type.as_str(), bits) {
        ("BINARY", 1) => SegType::Binary,
        ("FRACTIONAL", 8) => SegType::Fractional(
            int_of(obj, tags::MAXIMUM_FRACTIONAL_VALUE)
                .filter(|m| *m > 0)
                .ok_or_else(|| bad("MaximumFractionalValue (0062,000E)", "a positive integer"))?
                as f64,
        ),
        ("LABELMAP", 8 | 16) => SegType::Labelmap,
        _ => {
            return Err(bad(
                "SegmentationType (0062,0001) / BitsAllocated (0028,0100)",
                "BINARY with 1 bit, FRACTIONAL with 8 bits or LABELMAP with 8 or 16 bits",
            ))
        }
    };
    if kind == SegType::Binary && !native {
        return Err(bad(
            "TransferSyntaxUID (0002,0010)",
            "a native (uncompressed) little-endian syntax for BINARY SEG pixel data",
        ));
    }
    let labels = segment_labels(obj, kind)?;
    let shared = first_item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    let per_frame: Vec<&InMemDicomObject> = obj
        .get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .and_then(|e| e.items())
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    if per_frame.len() != frames {
        return Err(bad(
            "PerFrameFunctionalGroupsSequence (5200,9230)",
            "one item per frame (NumberOfFrames)",
        ));
    }
    let element = obj
        .get(tags::PIXEL_DATA)
        .ok_or_else(|| bad("PixelData (7FE0,0010)", "present"))?;
    let n = rows * cols;
    // Native pixel data is taken once and read frame by frame (BINARY: packed bits; the others
    // 8 or 16 bits a pixel, little endian), its length checked here; encapsulated frames are
    // decoded one at a time, as images are.
    let bytes_per_pixel = match kind {
        SegType::Binary => 0,
        _ => (bits / 8) as usize,
    };
    let raw = if native {
        let pixels = element.to_bytes().map_err(|_| {
            bad(
                "PixelData (7FE0,0010)",
                "native (not encapsulated) pixel data",
            )
        })?;
        let need = match bytes_per_pixel {
            0 => (n * frames).div_ceil(8),
            b => n * frames * b,
        };
        if pixels.len() < need {
            return Err(RoiError::Dicom {
                kind: "SEG",
                attribute: "PixelData (7FE0,0010)".into(),
                expected: format!(
                    "{need} bytes for {frames} frames of {rows}×{cols}, found {}",
                    pixels.len()
                ),
            });
        }
        Some(pixels)
    } else {
        None
    };
    // The value of every pixel of a frame: 1 in its segment for BINARY, the fraction for
    // FRACTIONAL, the segment number for LABELMAP.
    let frame_values = |frame: usize| -> Result<Vec<f32>, RoiError> {
        if let Some(pixels) = &raw {
            let at = frame * n;
            return Ok(match bytes_per_pixel {
                0 => (at..at + n)
                    .map(|i| f32::from(pixels[i / 8] >> (i % 8) & 1))
                    .collect(),
                1 => pixels[at..at + n].iter().map(|&v| f32::from(v)).collect(),
                _ => pixels[2 * at..2 * (at + n)]
                    .chunks_exact(2)
                    .map(|w| f32::from(u16::from_le_bytes([w[0], w[1]])))
                    .collect(),
            });
        }
        let mut v = crate::volume::pixels::decode_frames(obj, &[frame as u32])
            .map_err(|e| bad("PixelData (7FE0,0010)", &format!("decodable frames ({e})")))?;
        match v.pop() {
            Some(values) if values.len() >= n => Ok(values),
            _ => Err(bad(
                "PixelData (7FE0,0010)",
                &format!("{rows}×{cols} pixels in frame {}", frame + 1),
            )),
        }
    };

    // Geometry of every frame.
    let Placements {
        frames: list,
        orientation: o,
        pixel_spacing: ps,
        slice_gap,
    } = frame_placements(&per_frame, shared, kind, frames)?;
    let row_dir = [o[0], o[1], o[2]];
    let col_dir = [o[3], o[4], o[5]];
    let normal = cross(row_dir, col_dir);
    // Distinct plane positions along the normal → the slice grid.
    let (depths, min_gap) =
        super::distinct_planes(list.iter().map(|f| dot(f.position, normal)).collect());
    let dz = if min_gap.is_finite() {
        min_gap
    } else {
        slice_gap.unwrap_or(1.0)
    };
    let d0 = depths[0];
    let span = ((depths[depths.len() - 1] - d0) / dz).round();
    // A damaged position (or spacing) must not ask for an absurd grid.
    if !span.is_finite() || span > 65_535.0 || dz.is_nan() || dz <= 0.0 {
        return Err(bad(
            "PlanePositionSequence (0020,9113)",
            "frame positions spanning at most 65,536 planes of a positive spacing",
        ));
    }
    let nk = span as usize + 1;
    // One f32 grid a segment: a damaged position that stays on the grid (frames at 0, 0.01 and
    // 655.35 mm: 65,536 planes) asked for 68 GB a segment of 512 × 512, and an allocation that
    // fails aborts the process, past any guard.
    let grid = (nk as u128) * (rows as u128) * (cols as u128);
    if grid > MAX_GRID_VOXELS {
        return Err(bad(
            "PlanePositionSequence (0020,9113)",
            "frame positions whose slice grid holds at most 2^28 voxels (512 × 512 × 1024)",
        ));
    }
    if grid * (labels.len().max(1) as u128) > MAX_SEG_VOXELS {
        return Err(bad(
            "SegmentSequence (0062,0002)",
            "segments whose grids hold at most 2^31 voxels together (8 GiB: 16 segments of a \
             512 × 512 × 512 grid)",
        ));
    }
    for d in &depths {
        let x = (d - d0) / dz;
        if (x - x.round()).abs() > 0.05 {
            return Err(bad(
                "PlanePositionSequence (0020,9113)",
                "frames on a regular slice grid (equal spacing between planes, gaps allowed)",
            ));
        }
    }
    // The in-plane origin: the first frame's position projected onto the plane at d0 (all
    // frames must share it, i.e. be aligned in-plane).
    let first = list[0].position;
    let origin = {
        let d = dot(first, normal) - d0;
        [
            first[0] - d * normal[0],
            first[1] - d * normal[1],
            first[2] - d * normal[2],
        ]
    };
    let geometry = Geometry {
        origin,
        // PixelSpacing is [between rows, between columns]: the column step is ps[1].
        spacing: [ps[1], ps[0], dz],
        direction: [row_dir, col_dir, normal],
    };
    let mut data: Vec<Array3<f32>> = labels
        .iter()
        .map(|_| Array3::<f32>::zeros((nk, rows, cols)))
        .collect();
    let slot_of = |number: u32| labels.iter().position(|(l, _)| *l == number);
    for f in &list {
        let idx = geometry.index_of(f.position);
        if idx[0].abs() > 1e-2 || idx[1].abs() > 1e-2 {
            return Err(bad(
                "ImagePositionPatient (0020,0032)",
                "frames aligned in-plane (the same row/column origin on every plane)",
            ));
        }
        let k = idx[2].round().max(0.0) as usize;
        // A frame of a segment the SegmentSequence does not describe: refused, as a frame
        // naming segment 0 is (it was passed over without a word, and its voxels lost).
        let frame_slot = f.segment.map(slot_of);
        if let (Some(number), Some(None)) = (f.segment, frame_slot) {
            return Err(bad(
                "SegmentIdentificationSequence/ReferencedSegmentNumber (0062,000A/000B)",
                &format!(
                    "the number of a segment of the SegmentSequence in every frame; frame {} \
                     names segment {number}",
                    f.index + 1
                ),
            ));
        }
        if k >= nk {
            continue;
        }
        let values = frame_values(f.index)?;
        for (p, &v) in values.iter().take(n).enumerate() {
            let slot = match (kind, frame_slot) {
                (SegType::Fractional(max), Some(slot)) if f64::from(v) >= 0.5 * max => slot,
                (SegType::Binary, Some(slot)) if v > 0.0 => slot,
                (SegType::Labelmap, _) if v > 0.0 => slot_of(v as u32),
                _ => None,
            };
            if let Some(slot) = slot {
                data[slot][[k, p / cols, p % cols]] = 1.0;
            }
        }
    }
    let segments = labels
        .into_iter()
        .zip(data)
        .map(|((number, label), data)| Segment {
            number,
            label,
            volume: Volume {
                data,
                geometry: geometry.clone(),
            },
        })
        .collect();
    Ok(Segmentation {
        frame_of_reference: str_of(obj, tags::FRAME_OF_REFERENCE_UID).unwrap_or_default(),
        segments,
    })
}
