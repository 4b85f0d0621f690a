//! One `ImageRecord` per 2D image of a file: a single-frame image's own attributes; each frame of
//! an enhanced multi-frame object from its shared and per-frame functional groups (PS3.3
//! C.7.6.16); the slices of an NM tomographic reconstruction (C.8.4.7) and the frames of an RT
//! Dose grid (C.8.8.3.2), placed along their normal; a Siemens mosaic's tiles; Philips'
//! floating-point scaling, as dcm2niix v1.0.20260724 applies it.

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::header::{maker, Component, ImageRecord};
use super::values::*;

// Tags without a constant name in every dictionary version, spelled out.
pub(super) const DIFFUSION_B_VALUE: Tag = Tag(0x0018, 0x9087);
pub(super) const DIFFUSION_GRADIENT_DIRECTION_SEQ: Tag = Tag(0x0018, 0x9076);
pub(crate) const DIFFUSION_GRADIENT_ORIENTATION: Tag = Tag(0x0018, 0x9089);
pub(super) const PER_FRAME: Tag = Tag(0x5200, 0x9230);
const SHARED: Tag = Tag(0x5200, 0x9229);
const PLANE_POSITION_SEQ: Tag = Tag(0x0020, 0x9113);
const PLANE_ORIENTATION_SEQ: Tag = Tag(0x0020, 0x9116);
const PIXEL_MEASURES_SEQ: Tag = Tag(0x0028, 0x9110);
const PIXEL_VALUE_TRANSFORMATION_SEQ: Tag = Tag(0x0028, 0x9145);
pub(super) const MR_DIFFUSION_SEQ: Tag = Tag(0x0018, 0x9117);
const FRAME_CONTENT_SEQ: Tag = Tag(0x0020, 0x9111);
pub(super) const MR_ECHO_SEQ: Tag = Tag(0x0018, 0x9114);
/// MR Timing and Related Parameters Sequence (RepetitionTime of an enhanced MR file).
pub(super) const MR_TIMING_SEQ: Tag = Tag(0x0018, 0x9112);
pub(super) const EFFECTIVE_ECHO_TIME: Tag = Tag(0x0018, 0x9082);
const TEMPORAL_POSITION_INDEX: Tag = Tag(0x0020, 0x9128);
const DIMENSION_INDEX_VALUES: Tag = Tag(0x0020, 0x9157);
const GE_B_VALUE: Tag = Tag(0x0043, 0x1039);
const PHILIPS_B_VALUE: Tag = Tag(0x2001, 0x1003);

/// A number at the top level (`tag`), else `inner` in the shared functional groups' item
/// `item` (an enhanced file's acquisition parameters).
pub(super) fn top_or_shared(
    obj: &InMemDicomObject,
    tag: Tag,
    item: Tag,
    inner: Tag,
) -> Option<f64> {
    f64_of(obj, tag).or_else(|| {
        first_item(obj, SHARED)
            .and_then(|s| first_item(s, item))
            .and_then(|t| f64_of(t, inner))
    })
}

/// The images of a Siemens mosaic: one per tile (its `frame` is the tile's index), each at its
/// slice's position (see [`super::siemens::tile_positions`]); the file's own record otherwise.
pub(super) fn mosaic_records(
    m: super::siemens::Mosaic,
    dims: (u32, u32),
    csa: Option<&super::siemens::Csa>,
    images: &[ImageRecord],
) -> Vec<ImageRecord> {
    let [base] = images else {
        return images.to_vec();
    };
    let (Some(corner), Some(o), Some(ps)) = (base.position, base.orientation, base.pixel_spacing)
    else {
        return images.to_vec();
    };
    let row = [o[0], o[1], o[2]];
    let col = [o[3], o[4], o[5]];
    let normal = csa
        .and_then(|c| c.slice_normal())
        .unwrap_or_else(|| crate::volume::cross(row, col));
    // SpacingBetweenSlices, else SliceThickness.
    let spacing = base
        .single_slice_spacing
        .filter(|s| *s > 0.0)
        .unwrap_or(1.0);
    let plane = super::siemens::Plane {
        corner,
        row,
        col,
        pixel_spacing: ps,
    };
    super::siemens::tile_positions(&m, dims, &plane, normal, spacing)
        .into_iter()
        .enumerate()
        .map(|(k, position)| ImageRecord {
            frame: k as u32,
            position: Some(position),
            gradient: base
                .gradient
                .or_else(|| csa.and_then(|c| c.vector("DiffusionGradientDirection"))),
            ..base.clone()
        })
        .collect()
}

/// Per-image records: one for a single-frame file; one per frame (functional groups) otherwise.
pub(super) fn image_records(obj: &InMemDicomObject, frames: u32) -> Vec<ImageRecord> {
    let mut images = stored_scaling_records(obj, frames);
    philips_float_scaling(obj, &mut images);
    images
}

/// Philips' private MR Scale Slope (2005,100E) (FL; in implicit VR four bytes).
pub(super) const PHILIPS_SCALE_SLOPE: Tag = Tag(0x2005, 0x100E);
/// Philips' private per-frame item (2005,140F) of an enhanced MR file.
pub(super) const PHILIPS_FRAME_PRIVATE: Tag = Tag(0x2005, 0x140F);

/// The Philips MR Scale Slope of a file's first image, when it is a Philips MR file that has one.
pub fn philips_scale_slope(obj: &InMemDicomObject) -> Option<f64> {
    philips_mr(obj).then(|| frame_scale_slope(obj, 0))?
}

/// The MR Scale Slope of frame `frame` (its per-frame private item in an enhanced file), else
/// the file's; only a positive one.
fn frame_scale_slope(obj: &InMemDicomObject, frame: usize) -> Option<f64> {
    obj.get(PER_FRAME)
        .and_then(|e| e.items())
        .and_then(|items| items.get(frame))
        .and_then(|g| first_item(g, PHILIPS_FRAME_PRIVATE))
        .and_then(|p| float_number(p, PHILIPS_SCALE_SLOPE))
        .or_else(|| float_number(obj, PHILIPS_SCALE_SLOPE))
        .filter(|s| s.is_finite() && *s > 0.0)
}

fn philips_mr(obj: &InMemDicomObject) -> bool {
    str_of(obj, tags::MODALITY).is_some_and(|m| m.eq_ignore_ascii_case("MR"))
        && maker(obj).as_deref() == Some("Philips")
}

/// Philips MR values as the scanner's floating-point values rather than its display values, as
/// dcm2niix writes them by default (its `-p y`; Chenevert et al., PMC3998685): with RescaleSlope
/// RS, RescaleIntercept RI and the private MR Scale Slope SS, value = (stored × RS + RI) / (RS × SS).
/// The display values are stored × RS + RI; the sidecar names all three. Not when the frames of
/// one complex component of an enhanced file differ in RS, RI or SS: dcm2niix then writes the
/// display values (its issue 363) — and so does this.
pub(super) fn philips_float_scaling(obj: &InMemDicomObject, images: &mut [ImageRecord]) {
    if !philips_mr(obj) || scale_varies(obj, images) {
        return;
    }
    for im in images.iter_mut() {
        if let Some(ss) = frame_scale_slope(obj, im.frame as usize) {
            let (rs, ri) = (im.slope, im.intercept);
            im.intercept = ri / (rs * ss);
            im.slope = 1.0 / ss;
            im.philips_float = true;
        }
    }
}

/// Whether the frames of one complex component of a file differ in RescaleSlope,
/// RescaleIntercept or MR Scale Slope (records with the attributes' rescale).
fn scale_varies(obj: &InMemDicomObject, images: &[ImageRecord]) -> bool {
    type Scale = (f64, f64, Option<f64>);
    let mut first: Vec<(Option<Component>, Scale)> = Vec::new();
    images.iter().any(|im| {
        let scale = (
            im.slope,
            im.intercept,
            frame_scale_slope(obj, im.frame as usize),
        );
        match first.iter().find(|(c, _)| *c == im.component) {
            Some((_, f)) => *f != scale,
            None => {
                first.push((im.component, scale));
                false
            }
        }
    })
}

/// Per-image records with the rescale the attributes give (RescaleSlope/Intercept).
fn stored_scaling_records(obj: &InMemDicomObject, frames: u32) -> Vec<ImageRecord> {
    let orientation = orientation6(f64s_of(obj, tags::IMAGE_ORIENTATION_PATIENT));
    // An RT Dose grid's stored values × DoseGridScaling are Gy (PS3.3 C.8.8.3.1).
    let slope = f64_of(obj, tags::RESCALE_SLOPE).or_else(|| f64_of(obj, tags::DOSE_GRID_SCALING));
    let base = ImageRecord {
        frame: 0,
        position: arr3(f64s_of(obj, tags::IMAGE_POSITION_PATIENT)),
        orientation,
        pixel_spacing: arr2(f64s_of(obj, tags::PIXEL_SPACING)),
        // dcm2niix's choice for a lone slice: SpacingBetweenSlices, else SliceThickness.
        single_slice_spacing: f64_of(obj, tags::SPACING_BETWEEN_SLICES)
            .filter(|s| *s > 0.0)
            .or_else(|| f64_of(obj, tags::SLICE_THICKNESS)),
        slope: slope.filter(|s| *s != 0.0).unwrap_or(1.0),
        slope_zero: slope == Some(0.0),
        intercept: f64_of(obj, tags::RESCALE_INTERCEPT).unwrap_or(0.0),
        b_value: super::diffusion::ge_shell_b_value(
            obj,
            f64_of(obj, DIFFUSION_B_VALUE)
                .or_else(|| super::siemens::b_value(obj))
                .or_else(|| float_number(obj, PHILIPS_B_VALUE))
                .or_else(|| text_number(obj, GE_B_VALUE).map(|b| b % 1_000_000_000.0)),
        ),
        gradient: super::diffusion::gradient(obj, orientation),
        echo_number: int_of(obj, tags::ECHO_NUMBERS),
        echo_time: f64_of(obj, tags::ECHO_TIME),
        temporal_index: int_of(obj, tags::TEMPORAL_POSITION_IDENTIFIER),
        acquisition_time: str_of(obj, tags::ACQUISITION_TIME),
        instance_number: int_of(obj, tags::INSTANCE_NUMBER),
        // Enhanced MR's top-level value (MIXED when its frames differ: read per frame).
        component: str_of(obj, tags::COMPLEX_IMAGE_COMPONENT).and_then(|w| component_word(&w)),
        // Set by `philips_float_scaling`.
        philips_float: false,
        time_after_start: time_after_start(obj),
        dimension_index: Vec::new(),
    };
    let per_frame = obj
        .get(PER_FRAME)
        .and_then(|e| e.items())
        .map(|items| items.to_vec());
    let Some(per_frame) = per_frame else {
        let dose_grid = str_of(obj, tags::MODALITY).as_deref() == Some("RTDOSE");
        let tomo = if dose_grid {
            dose_grid_frames(obj, &base, frames)
        } else {
            nm_tomo_frames(obj, &base, frames)
        };
        // A dose grid's frames without usable offsets are not all at ImagePositionPatient: left
        // unplaced, for the plan to refuse the grid with the reason (`geometry::plan_series`).
        let unplaced_grid = dose_grid && tomo.is_none() && frames > 1;
        return (0..frames)
            .map(|f| {
                let mut r = ImageRecord {
                    frame: f,
                    ..base.clone()
                };
                if let Some((orientation, positions)) = &tomo {
                    r.orientation = Some(*orientation);
                    r.position = positions.get(f as usize).copied();
                }
                if unplaced_grid {
                    r.position = None;
                }
                r
            })
            .collect();
    };
    let shared = first_item(obj, SHARED);
    let mut base = base;
    if let Some(sh) = shared {
        apply_groups(&mut base, sh);
    }
    per_frame
        .iter()
        .enumerate()
        .take(frames as usize)
        .map(|(f, item)| {
            let mut r = ImageRecord {
                frame: f as u32,
                ..base.clone()
            };
            apply_groups(&mut r, item);
            r
        })
        .collect()
}

/// Detector Information Sequence (0054,0022) of an NM image.
const DETECTOR_INFORMATION_SEQ: Tag = Tag(0x0054, 0x0022);

/// The orientation and per-frame positions of an NM tomographic reconstruction (ImageType
/// RECON TOMO / RECON GATED TOMO, PS3.3 C.8.4.7), whose plane is given in its Detector Information
/// Sequence rather than at the top level: frame k lies at ImagePositionPatient + k × spacing along
/// the row × column normal, spacing being SpacingBetweenSlices, else SliceThickness — as dcm2niix
/// places them. `None` for anything else (planar NM frames are views, not slices).
fn nm_tomo_frames(
    obj: &InMemDicomObject,
    base: &ImageRecord,
    frames: u32,
) -> Option<([f64; 6], Vec<[f64; 3]>)> {
    if base.orientation.is_some() || str_of(obj, tags::MODALITY).is_none_or(|m| m != "NM") {
        return None;
    }
    let image_type = str_of(obj, tags::IMAGE_TYPE).unwrap_or_default();
    if !image_type.split('\\').any(|v| v.trim().ends_with("TOMO")) {
        return None;
    }
    let detector = first_item(obj, DETECTOR_INFORMATION_SEQ)?;
    let iop = orientation6(f64s_of(detector, tags::IMAGE_ORIENTATION_PATIENT))?;
    let ipp = arr3(f64s_of(detector, tags::IMAGE_POSITION_PATIENT))?;
    let spacing = f64_of(obj, tags::SPACING_BETWEEN_SLICES)
        .filter(|s| *s > 0.0)
        .or_else(|| f64_of(obj, tags::SLICE_THICKNESS).filter(|s| *s > 0.0))?;
    let normal = crate::volume::cross([iop[0], iop[1], iop[2]], [iop[3], iop[4], iop[5]]);
    let positions = (0..frames)
        .map(|k| {
            let d = f64::from(k) * spacing;
            [
                ipp[0] + d * normal[0],
                ipp[1] + d * normal[1],
                ipp[2] + d * normal[2],
            ]
        })
        .collect();
    Some((iop, positions))
}

/// The orientation and frame positions of an RT Dose grid (PS3.3 C.8.8.3.2): each frame lies
/// along the normal of ImageOrientationPatient at its GridFrameOffsetVector value. Offsets are
/// relative to ImagePositionPatient when the first is 0; when the first is the position's z,
/// they are absolute z (an axial grid). Anything else (or not one offset a frame) places no
/// frame: the grid is reported, not converted.
fn dose_grid_frames(
    obj: &InMemDicomObject,
    base: &ImageRecord,
    frames: u32,
) -> Option<([f64; 6], Vec<[f64; 3]>)> {
    let (iop, ipp) = (base.orientation?, base.position?);
    let offsets = f64s_of(obj, tags::GRID_FRAME_OFFSET_VECTOR)?;
    if offsets.len() != frames as usize {
        return None;
    }
    let first = *offsets.first()?;
    let normal = crate::volume::cross([iop[0], iop[1], iop[2]], [iop[3], iop[4], iop[5]]);
    let along = |d: f64| {
        [
            ipp[0] + d * normal[0],
            ipp[1] + d * normal[1],
            ipp[2] + d * normal[2],
        ]
    };
    let positions = if first.abs() < 1e-6 {
        offsets.iter().map(|&d| along(d)).collect()
    } else if (first - ipp[2]).abs() < 1e-3 && normal[2].abs() > 1.0 - 1e-6 {
        offsets.iter().map(|&z| [ipp[0], ipp[1], z]).collect()
    } else {
        return None;
    };
    Some((iop, positions))
}

/// Fill an image record from one functional-groups item (shared or per-frame).
fn apply_groups(r: &mut ImageRecord, g: &InMemDicomObject) {
    if let Some(p) = first_item(g, PLANE_POSITION_SEQ)
        .and_then(|i| arr3(f64s_of(i, tags::IMAGE_POSITION_PATIENT)))
    {
        r.position = Some(p);
    }
    if let Some(o) = first_item(g, PLANE_ORIENTATION_SEQ)
        .and_then(|i| orientation6(f64s_of(i, tags::IMAGE_ORIENTATION_PATIENT)))
    {
        r.orientation = Some(o);
    }
    if let Some(m) = first_item(g, PIXEL_MEASURES_SEQ) {
        if let Some(ps) = arr2(f64s_of(m, tags::PIXEL_SPACING)) {
            r.pixel_spacing = Some(ps);
        }
        if let Some(t) = f64_of(m, tags::SLICE_THICKNESS) {
            r.single_slice_spacing = Some(t);
        }
    }
    if let Some(t) = first_item(g, PIXEL_VALUE_TRANSFORMATION_SEQ) {
        match f64_of(t, tags::RESCALE_SLOPE) {
            Some(s) if s != 0.0 => {
                r.slope = s;
                r.slope_zero = false;
            }
            Some(_) => r.slope_zero = true,
            None => {}
        }
        if let Some(i) = f64_of(t, tags::RESCALE_INTERCEPT) {
            r.intercept = i;
        }
    }
    // A legacy converted image keeps the classic attributes its converter put in no functional
    // group in Unassigned Shared / Per-Frame Converted Attributes (PS3.3 C.7.6.16.2.25): a DWI's
    // b-value and gradient (an MR Diffusion item, where there is one, has the last word).
    for tag in super::flat_header::UNASSIGNED_CONVERTED {
        if let Some(u) = first_item(g, tag) {
            if let Some(b) = f64_of(u, DIFFUSION_B_VALUE) {
                r.b_value = Some(b);
            }
            if let Some(v) = arr3(f64s_of(u, DIFFUSION_GRADIENT_ORIENTATION)) {
                r.gradient = Some(v);
            }
        }
    }
    if let Some(d) = first_item(g, MR_DIFFUSION_SEQ) {
        if let Some(b) = f64_of(d, DIFFUSION_B_VALUE) {
            r.b_value = Some(b);
        }
        if let Some(v) = first_item(d, DIFFUSION_GRADIENT_DIRECTION_SEQ)
            .and_then(|i| arr3(f64s_of(i, DIFFUSION_GRADIENT_ORIENTATION)))
        {
            r.gradient = Some(v);
        }
    }
    if let Some(t) = first_item(g, MR_ECHO_SEQ).and_then(|e| f64_of(e, EFFECTIVE_ECHO_TIME)) {
        r.echo_time = Some(t);
    }
    if let Some(fc) = first_item(g, FRAME_CONTENT_SEQ) {
        if let Some(t) = int_of(fc, TEMPORAL_POSITION_INDEX) {
            r.temporal_index = Some(t);
        }
        if let Some(v) = value_of(fc, DIMENSION_INDEX_VALUES).and_then(|v| v.to_multi_int().ok()) {
            r.dimension_index = v;
        }
    }
    if let Some(c) = first_item(g, tags::MR_IMAGE_FRAME_TYPE_SEQUENCE)
        .and_then(|t| str_of(t, tags::COMPLEX_IMAGE_COMPONENT))
        .and_then(|word| component_word(&word))
    {
        r.component = Some(c);
    }
    if let Some(t) = nested(g, 4, &time_after_start) {
        r.time_after_start = Some(t);
    }
}

/// Siemens XA's TimeAfterStart: element 0x04 of the private block "SIEMENS MR SDI 02" in group
/// 0x0021, at (0021,1104) when the block's creator is missing (as dcm2niix reads it).
pub(super) fn time_after_start(obj: &InMemDicomObject) -> Option<f64> {
    let tag =
        creator_element(obj, 0x0021, "SIEMENS MR SDI 02", 0x04).unwrap_or(Tag(0x0021, 0x1104));
    text_number(obj, tag)
}

/// The component a ComplexImageComponent value names (PS3.3 C.8.13.3.1.1); none for MIXED.
pub(super) fn component_word(word: &str) -> Option<Component> {
    match word.trim() {
        "MAGNITUDE" => Some(Component::Magnitude),
        "PHASE" => Some(Component::Phase),
        "REAL" => Some(Component::Real),
        "IMAGINARY" => Some(Component::Imaginary),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::values::implicit;
    use dicom_core::value::PrimitiveValue;
    use dicom_core::{DataElement, VR};

    /// Regression (nibabel's Siemens DWI): b-values of implicit VR files were the first byte of
    /// their text ("1000" read as 49).
    #[test]
    fn vendor_b_values_in_implicit_vr_are_read_as_their_encoding_says() {
        let b = |o: &InMemDicomObject| image_records(o, 1)[0].b_value;
        let siemens = implicit(&[
            (Tag(0x0019, 0x0010), b"SIEMENS MR HEADER "),
            (Tag(0x0019, 0x100C), b"1000"),
        ]);
        assert_eq!(b(&siemens), Some(1000.0));
        // The creator in another block: the value is found under it.
        let moved = implicit(&[
            (Tag(0x0019, 0x0011), b"SIEMENS MR HEADER "),
            (Tag(0x0019, 0x110C), b"800 "),
        ]);
        assert_eq!(b(&moved), Some(800.0));
        let ge = implicit(&[(Tag(0x0043, 0x1039), b"1000\\8\\0\\0 ")]);
        assert_eq!(b(&ge), Some(1000.0));
        let philips = implicit(&[(Tag(0x2001, 0x1003), &600f32.to_le_bytes())]);
        assert_eq!(b(&philips), Some(600.0));
        assert_eq!(b(&implicit(&[])), None);
        assert_eq!(
            text_of(&siemens, Tag(0x0019, 0x0010)).as_deref(),
            Some("SIEMENS MR HEADER")
        );
    }

    /// Public attributes that came as UN (a tool that did not know them wrote their bytes
    /// undecoded) are read by the dictionary's VR, as text or little-endian numbers.
    #[test]
    fn public_attributes_written_as_un_are_decoded_by_their_dictionary_vr() {
        let o = implicit(&[
            (tags::MODALITY, b"MR"),
            (tags::ROWS, &64u16.to_le_bytes()),
            (tags::IMAGE_POSITION_PATIENT, b"-83.9\\-91.2\\6.6 "),
            (DIFFUSION_B_VALUE, &800f64.to_le_bytes()),
        ]);
        assert_eq!(str_of(&o, tags::MODALITY).as_deref(), Some("MR"));
        assert_eq!(int_of(&o, tags::ROWS), Some(64));
        assert_eq!(
            f64s_of(&o, tags::IMAGE_POSITION_PATIENT),
            Some(vec![-83.9, -91.2, 6.6])
        );
        assert_eq!(image_records(&o, 1)[0].b_value, Some(800.0));
    }

    /// The gradient direction of each frame of an enhanced file comes from its MR Diffusion
    /// Sequence (DiffusionGradientDirectionSequence → DiffusionGradientOrientation); a classic
    /// file's from the top-level attribute, or Siemens' (0019,xx0E) under its creator.
    #[test]
    fn gradient_directions_are_read_per_frame_and_per_vendor() {
        use dicom_core::value::DataSetSequence;
        let item = |b: f64, g: Option<[f64; 3]>| {
            let mut d = InMemDicomObject::new_empty();
            d.put(DataElement::new(
                DIFFUSION_B_VALUE,
                VR::FD,
                PrimitiveValue::from(b),
            ));
            if let Some(g) = g {
                let mut dir = InMemDicomObject::new_empty();
                dir.put(DataElement::new(
                    DIFFUSION_GRADIENT_ORIENTATION,
                    VR::FD,
                    PrimitiveValue::F64(g.to_vec().into()),
                ));
                d.put(DataElement::new(
                    DIFFUSION_GRADIENT_DIRECTION_SEQ,
                    VR::SQ,
                    DataSetSequence::from(vec![dir]),
                ));
            }
            let mut frame = InMemDicomObject::new_empty();
            frame.put(DataElement::new(
                MR_DIFFUSION_SEQ,
                VR::SQ,
                DataSetSequence::from(vec![d]),
            ));
            frame
        };
        let mut o = InMemDicomObject::new_empty();
        o.put(DataElement::new(
            PER_FRAME,
            VR::SQ,
            DataSetSequence::from(vec![item(0.0, None), item(1000.0, Some([0.0, 0.6, 0.8]))]),
        ));
        let r = image_records(&o, 2);
        assert_eq!((r[0].b_value, r[0].gradient), (Some(0.0), None));
        assert_eq!(
            (r[1].b_value, r[1].gradient),
            (Some(1000.0), Some([0.0, 0.6, 0.8]))
        );

        let mut classic = InMemDicomObject::new_empty();
        classic.put(DataElement::new(
            DIFFUSION_GRADIENT_ORIENTATION,
            VR::FD,
            PrimitiveValue::F64(vec![1.0, 0.0, 0.0].into()),
        ));
        assert_eq!(
            image_records(&classic, 1)[0].gradient,
            Some([1.0, 0.0, 0.0])
        );

        // Siemens' private gradient, as an implicit VR file holds it (24 undecoded bytes), only
        // under its creator.
        let bytes: Vec<u8> = [0.6f64, -0.8, 0.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let siemens = implicit(&[
            (Tag(0x0019, 0x0011), b"SIEMENS MR HEADER "),
            (Tag(0x0019, 0x110E), &bytes),
        ]);
        assert_eq!(
            image_records(&siemens, 1)[0].gradient,
            Some([0.6, -0.8, 0.0])
        );
        let other = implicit(&[(Tag(0x0019, 0x100E), &bytes)]);
        assert_eq!(image_records(&other, 1)[0].gradient, None);
    }

    /// Philips MR: the floating-point value (stored × RS + RI) / (RS × SS), as dcm2niix writes
    /// it by default; other makers and modalities keep stored × RS + RI.
    #[test]
    fn philips_mr_values_are_its_floating_point_values() {
        let object = |maker: &str, modality: &str| {
            let mut o = InMemDicomObject::new_empty();
            for (tag, vr, v) in [
                (tags::MANUFACTURER, VR::LO, maker),
                (tags::MODALITY, VR::CS, modality),
                (tags::RESCALE_SLOPE, VR::DS, "2"),
                (tags::RESCALE_INTERCEPT, VR::DS, "3"),
            ] {
                o.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
            }
            o.put(DataElement::new(
                PHILIPS_SCALE_SLOPE,
                VR::FL,
                PrimitiveValue::F32(vec![0.25f32].into()),
            ));
            o
        };
        let scaling = |o: &InMemDicomObject| {
            let r = &image_records(o, 1)[0];
            (r.slope, r.intercept)
        };
        // (stored × 2 + 3) / (2 × 0.25) = stored × 4 + 6.
        assert_eq!(
            scaling(&object("Philips Medical Systems", "MR")),
            (4.0, 6.0)
        );
        assert_eq!(
            philips_scale_slope(&object("Philips Medical Systems", "MR")),
            Some(0.25)
        );
        assert_eq!(scaling(&object("SIEMENS", "MR")), (2.0, 3.0));
        assert_eq!(scaling(&object("Philips", "PT")), (2.0, 3.0));
        // In implicit VR, four bytes.
        let mut implicit_vr = object("Philips", "MR");
        implicit_vr.put(DataElement::new(
            PHILIPS_SCALE_SLOPE,
            VR::UN,
            PrimitiveValue::U8(0.5f32.to_le_bytes().to_vec().into()),
        ));
        assert_eq!(scaling(&implicit_vr), (2.0, 3.0));
    }

    /// An enhanced Philips MR file whose frames share RS, RI and SS gets the floating-point
    /// values; one whose frames differ in SS (or RS, RI) keeps the display values, as dcm2niix
    /// writes it (its issue 363; checked with dcm2niix v1.0.20260724 on such a file: display
    /// values, no PhilipsScaleSlope in its sidecar).
    #[test]
    fn philips_frames_of_differing_scale_keep_their_display_values() {
        use dicom_core::value::DataSetSequence;
        let file = |ss: [f32; 2]| {
            let mut o = InMemDicomObject::new_empty();
            for (tag, vr, v) in [
                (tags::MANUFACTURER, VR::LO, "Philips Medical Systems"),
                (tags::MODALITY, VR::CS, "MR"),
                (tags::RESCALE_SLOPE, VR::DS, "4"),
                (tags::RESCALE_INTERCEPT, VR::DS, "0"),
                (tags::NUMBER_OF_FRAMES, VR::IS, "2"),
            ] {
                o.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
            }
            let frames: Vec<InMemDicomObject> = ss
                .iter()
                .map(|ss| {
                    let mut private = InMemDicomObject::new_empty();
                    private.put(DataElement::new(
                        PHILIPS_SCALE_SLOPE,
                        VR::FL,
                        PrimitiveValue::F32(vec![*ss].into()),
                    ));
                    let mut frame = InMemDicomObject::new_empty();
                    frame.put(DataElement::new(
                        PHILIPS_FRAME_PRIVATE,
                        VR::SQ,
                        DataSetSequence::from(vec![private]),
                    ));
                    frame
                })
                .collect();
            o.put(DataElement::new(
                PER_FRAME,
                VR::SQ,
                DataSetSequence::from(frames),
            ));
            o
        };
        let slopes = |o: &InMemDicomObject| -> Vec<f64> {
            image_records(o, 2).iter().map(|r| r.slope).collect()
        };
        let float = |o: &InMemDicomObject| -> Vec<bool> {
            image_records(o, 2)
                .iter()
                .map(|r| r.philips_float)
                .collect()
        };
        // (stored × 4 + 0) / (4 × 0.5) = stored × 2.
        let same = file([0.5, 0.5]);
        assert_eq!(slopes(&same), [2.0, 2.0]);
        assert_eq!(float(&same), [true, true]);
        // Display values: stored × 4 (the floating-point ones would be stored × 2 and × 4).
        let differ = file([0.5, 0.25]);
        assert_eq!(slopes(&differ), [4.0, 4.0]);
        assert_eq!(float(&differ), [false, false]);
    }
}
