//! Diffusion gradient direction of an image, in patient coordinates (LPS), from wherever its maker
//! put it: DiffusionGradientOrientation (0018,9089; PS3.3 C.8.13.5.9) at the top level; Siemens'
//! (0019,xx0E) (see `siemens`); Philips' (2005,xxB0-B2) (right-left, anterior-posterior,
//! feet-head: LPS already); GE's (0019,xxBB-BD), which are given in the frame of the image and
//! its phase-encoding direction, turned into patient coordinates so that the `.bvec` of
//! `volume::bvec` holds the numbers dcm2niix writes for them (its `geCorrectBvecs`, with the sign
//! changes it makes for sagittal and coronal slices; measured against dcm2niix v1.0.20260724 on 40
//! synthetic GE series of every orientation and both phase-encoding directions). The per-frame
//! directions of enhanced files are read with their functional groups (`header`). Also GE's
//! lower b-value shells, encoded as directions shorter than 1 (`ge_shell_b_value`).

use dicom_object::InMemDicomObject;

use super::frames::DIFFUSION_GRADIENT_ORIENTATION;
use super::header::phase_encoding_along_columns;
use super::values::{arr3, creator_element, f64s_of, float_number, text_number};
use crate::volume::{cross, dot};

/// The gradient direction of a classic (one image per file) object; `orientation` is its
/// ImageOrientationPatient (GE's directions need it).
pub fn gradient(obj: &InMemDicomObject, orientation: Option<[f64; 6]>) -> Option<[f64; 3]> {
    arr3(f64s_of(obj, DIFFUSION_GRADIENT_ORIENTATION))
        .or_else(|| super::siemens::gradient(obj))
        .or_else(|| philips(obj))
        .or_else(|| ge(obj, orientation?))
        .or_else(|| canon(obj, orientation?))
        .filter(|v| v.iter().all(|x| x.is_finite()))
}

/// Whether a series' directions are GE's or Canon's in the image's frame (a classic file of
/// either maker without DiffusionGradientOrientation): dcm2niix turns them without making them
/// unit vectors (its `geCorrectBvecs`), where it normalises every other maker's.
pub fn in_image_frame(obj: &InMemDicomObject) -> bool {
    use dicom_dictionary_std::tags;
    matches!(
        super::header::maker(obj).as_deref(),
        Some("GE" | "Canon" | "Toshiba")
    ) && arr3(f64s_of(obj, DIFFUSION_GRADIENT_ORIENTATION)).is_none()
        && obj
            .get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
            .is_none()
        && super::values::int_of(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1) <= 1
}

/// Canon's (Toshiba's) classic DWI: no DiffusionGradientOrientation, the direction written in
/// ImageComments after the b-value, `b=1000(0.707,0,0.707)`, in the image's frame. dcm2niix
/// reads the three numbers after `b=` + the rounded DiffusionBValue + `(` (any character but a
/// digit, `.` or `-` a separator), swaps the first two and turns them as GE's (`ge_to_patient`);
/// so does this. Only for a b-value above 0.
fn canon(obj: &InMemDicomObject, orientation: [f64; 6]) -> Option<[f64; 3]> {
    use dicom_dictionary_std::tags;
    let maker = super::header::maker(obj)?;
    if maker != "Canon" && maker != "Toshiba" {
        return None;
    }
    let b = super::values::f64_of(obj, tags::DIFFUSION_B_VALUE).filter(|b| *b > 0.0)?;
    let comments = super::values::str_of(obj, tags::IMAGE_COMMENTS)?;
    let key = format!("b={}(", b.round() as i64);
    let rest = &comments[comments.find(&key)? + key.len()..];
    let numbers: String = rest
        .chars()
        .map(|c| match c {
            '0'..='9' | '.' | '-' => c,
            _ => ' ',
        })
        .collect();
    let v: Vec<f64> = numbers
        .split_whitespace()
        .take(3)
        .map(|t| t.parse::<f64>().ok())
        .collect::<Option<_>>()?;
    let [x, y, z] = v[..] else {
        return None;
    };
    let column = phase_encoding_along_columns(obj)?;
    Some(ge_to_patient([y, x, z], column, orientation))
}

/// Philips' (2005,xxB0), (2005,xxB1), (2005,xxB2) (FL; in implicit VR four bytes each).
fn philips(obj: &InMemDicomObject) -> Option<[f64; 3]> {
    let component = |low: u16| {
        float_number(
            obj,
            creator_element(obj, 0x2005, "Philips MR Imaging DD 001", low)?,
        )
    };
    Some([component(0xB0)?, component(0xB1)?, component(0xB2)?])
}

/// GE's (0019,xxBB), (0019,xxBC), (0019,xxBD) (DS), with InPlanePhaseEncodingDirection.
fn ge(obj: &InMemDicomObject, orientation: [f64; 6]) -> Option<[f64; 3]> {
    let column = phase_encoding_along_columns(obj)?;
    Some(ge_to_patient(ge_raw(obj)?, column, orientation))
}

/// Why a classic GE image's direction, written in its private (0019,xxBB-BD), is not placed in
/// patient coordinates: its InPlanePhaseEncodingDirection (0018,1312), which GE's frame needs,
/// is missing (dcm2niix warns "Unable to determine DTI gradients" and writes them unturned);
/// None otherwise.
pub fn unplaced_direction(obj: &InMemDicomObject) -> Option<&'static str> {
    let ge = super::header::maker(obj).as_deref() == Some("GE");
    (ge && arr3(f64s_of(obj, DIFFUSION_GRADIENT_ORIENTATION)).is_none()
        && ge_raw(obj).is_some()
        && phase_encoding_along_columns(obj).is_none())
    .then_some(
        "GE's gradient directions (0019,xxBB-BD) are given in the image's frame and its phase \
         encoding direction, and InPlanePhaseEncodingDirection (0018,1312) is missing: the \
         .bvec holds 0 0 0 for the diffusion-weighted volumes",
    )
}

/// GE's three numbers (0019,xxBB-BD) as stored, in the image's frame.
fn ge_raw(obj: &InMemDicomObject) -> Option<[f64; 3]> {
    let component = |low: u16| text_number(obj, creator_element(obj, 0x0019, "GEMS_ACQU_01", low)?);
    Some([component(0xBB)?, component(0xBC)?, component(0xBD)?])
}

/// The b-value of a GE image whose private direction (0019,xxBB-BD; no DiffusionGradientOrientation)
/// is shorter than 1: GE encodes a lower shell of a multi-shell acquisition by scaling the
/// nominal b-value's direction, b = nominal × |g|². Rounded to a multiple of 5 (5 at least), for
/// lengths between 0.03 and 0.97, as dcm2niix computes it (its `geCorrectBvecs`); `b` otherwise.
pub(super) fn ge_shell_b_value(obj: &InMemDicomObject, b: Option<f64>) -> Option<f64> {
    let nominal = b?;
    let ge = super::header::maker(obj).as_deref() == Some("GE");
    if !ge
        || nominal <= f64::from(f32::EPSILON)
        || obj.get(DIFFUSION_GRADIENT_ORIENTATION).is_some()
    {
        return b;
    }
    let Some([x, y, z]) = ge_raw(obj) else {
        return b;
    };
    let length = (x * x + y * y + z * z).sqrt();
    if !(length > 0.03 && length < 0.97) {
        return b;
    }
    // dcm2niix's 32-bit arithmetic: (int)((b·|g|² + 2.5) / 5) × 5.
    let scaled = (nominal as f32) * (length as f32) * (length as f32);
    let shell = if scaled > 0.0 && scaled < 5.0 {
        5.0
    } else {
        (((scaled + 2.5) / 5.0) as i64 * 5) as f64
    };
    Some(shell)
}

/// GE's three numbers → patient coordinates: in the voxel axes of the written file (columns,
/// flipped rows, slices along the normal) they are (−a, b, c) for column phase encoding and
/// (−b, −a, c) for row, after a sagittal slice has all three negated and a coronal one b.
fn ge_to_patient(raw: [f64; 3], column: bool, orientation: [f64; 6]) -> [f64; 3] {
    let row = [orientation[0], orientation[1], orientation[2]];
    let col = [orientation[3], orientation[4], orientation[5]];
    let normal = cross(row, col);
    let plane = (0..3)
        .max_by(|&x, &y| normal[x].abs().total_cmp(&normal[y].abs()))
        .unwrap_or(2);
    let [a, b, c] = match plane {
        0 => raw.map(|x| -x),
        1 => [raw[0], -raw[1], raw[2]],
        _ => raw,
    };
    let voxel = if column { [-a, b, c] } else { [-b, -a, c] };
    // Voxel axes in LPS: i along the rows' direction, j against the columns', k along the normal.
    let unit = |v: [f64; 3]| {
        let n = dot(v, v).sqrt();
        v.map(|x| x / n)
    };
    let (i, j, k) = (unit(row), unit(col).map(|x| -x), unit(normal));
    [0, 1, 2].map(|p| voxel[0] * i[p] + voxel[1] * j[p] + voxel[2] * k[p])
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::value::PrimitiveValue;
    use dicom_core::{DataElement, Tag, VR};

    fn put(o: &mut InMemDicomObject, tag: Tag, vr: VR, v: PrimitiveValue) {
        o.put(DataElement::new(tag, vr, v));
    }

    /// Directions in the written file's voxel axes (columns, flipped rows, normal).
    fn voxel(g: [f64; 3], orientation: [f64; 6]) -> [f64; 3] {
        let row = [orientation[0], orientation[1], orientation[2]];
        let col = [orientation[3], orientation[4], orientation[5]];
        let j = col.map(|x| -x);
        [dot(g, row), dot(g, j), dot(g, cross(row, col))]
    }

    fn close(a: [f64; 3], b: [f64; 3]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
    }

    const AXIAL: [f64; 6] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
    const SAGITTAL: [f64; 6] = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0];
    const CORONAL: [f64; 6] = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0];

    /// A GE object with private directions `g` (and optionally DiffusionGradientOrientation).
    fn ge_object(maker: &str, g: [f64; 3], standard: bool) -> InMemDicomObject {
        let mut o = InMemDicomObject::new_empty();
        put(
            &mut o,
            dicom_dictionary_std::tags::MANUFACTURER,
            VR::LO,
            PrimitiveValue::from(maker),
        );
        put(
            &mut o,
            Tag(0x0019, 0x0010),
            VR::LO,
            PrimitiveValue::from("GEMS_ACQU_01"),
        );
        for (low, x) in [0x10BB, 0x10BC, 0x10BD].into_iter().zip(g) {
            put(
                &mut o,
                Tag(0x0019, low),
                VR::DS,
                PrimitiveValue::from(format!("{x}")),
            );
        }
        if standard {
            put(
                &mut o,
                DIFFUSION_GRADIENT_ORIENTATION,
                VR::FD,
                PrimitiveValue::F64(g.to_vec().into()),
            );
        }
        o
    }

    /// GE's lower shells: b × |g|², rounded to 5. Facts: dcm2niix v1.0.20260724 on a synthetic GE
    /// series, nominal b 1000, directions (1,0,0), (0,0.7071068,0), (0,0.5,0.5), (0.3,0.4,0):
    /// bval 1000 500 500 250 (ancilla wrote 1000 for all before). Unit directions, directions
    /// in DiffusionGradientOrientation, or another maker: the nominal b.
    #[test]
    fn ge_shorter_directions_scale_the_b_value_as_dcm2niix() {
        let ge = "GE MEDICAL SYSTEMS";
        for (g, want) in [
            ([1.0, 0.0, 0.0], 1000.0),
            ([0.0, std::f64::consts::FRAC_1_SQRT_2, 0.0], 500.0),
            ([0.0, 0.5, 0.5], 500.0),
            ([0.3, 0.4, 0.0], 250.0),
            ([0.0, 0.05, 0.0], 5.0),
        ] {
            assert_eq!(
                ge_shell_b_value(&ge_object(ge, g, false), Some(1000.0)),
                Some(want),
                "{g:?}"
            );
        }
        let half = [0.0, std::f64::consts::FRAC_1_SQRT_2, 0.0];
        assert_eq!(
            ge_shell_b_value(&ge_object(ge, half, true), Some(1000.0)),
            Some(1000.0)
        );
        assert_eq!(
            ge_shell_b_value(&ge_object("SIEMENS", half, false), Some(1000.0)),
            Some(1000.0)
        );
        assert_eq!(
            ge_shell_b_value(&ge_object(ge, half, false), Some(0.0)),
            Some(0.0)
        );
    }

    /// The voxel-axis numbers dcm2niix writes for GE's (a, b, c) = (0.6, 0.0, 0.8) and
    /// (0.0, 0.6, 0.8), as the rule measured on its output says.
    #[test]
    fn ge_directions_give_dcm2niix_voxel_numbers() {
        let cases = [
            (AXIAL, true, [0.6, 0.0, 0.8], [-0.6, 0.0, 0.8]),
            (AXIAL, false, [0.0, 0.6, 0.8], [-0.6, 0.0, 0.8]),
            (SAGITTAL, true, [0.6, 0.0, 0.8], [0.6, 0.0, -0.8]),
            (CORONAL, true, [0.0, 0.6, 0.8], [0.0, -0.6, 0.8]),
            (CORONAL, false, [0.0, 0.6, 0.8], [0.6, 0.0, 0.8]),
        ];
        for (orientation, column, raw, want) in cases {
            let g = ge_to_patient(raw, column, orientation);
            assert!(
                close(voxel(g, orientation), want),
                "{orientation:?} {column}: {:?}",
                voxel(g, orientation)
            );
        }
    }

    #[test]
    fn ge_needs_its_creator_and_the_phase_encoding_direction() {
        let mut o = InMemDicomObject::new_empty();
        put(&mut o, Tag(0x0019, 0x0010), VR::LO, "GEMS_ACQU_01".into());
        for (low, v) in [(0xBB, "0.6"), (0xBC, "0"), (0xBD, "0.8")] {
            put(&mut o, Tag(0x0019, 0x1000 | low), VR::DS, v.into());
        }
        assert_eq!(gradient(&o, Some(AXIAL)), None);
        put(
            &mut o,
            dicom_dictionary_std::tags::IN_PLANE_PHASE_ENCODING_DIRECTION,
            VR::CS,
            "COL".into(),
        );
        let g = gradient(&o, Some(AXIAL)).unwrap();
        assert!(close(voxel(g, AXIAL), [-0.6, 0.0, 0.8]), "{g:?}");
        assert_eq!(gradient(&o, None), None);
    }

    #[test]
    fn philips_directions_are_patient_coordinates() {
        let mut o = InMemDicomObject::new_empty();
        put(
            &mut o,
            Tag(0x2005, 0x0010),
            VR::LO,
            "Philips MR Imaging DD 001".into(),
        );
        for (low, v) in [(0xB0, 0.6f32), (0xB1, -0.8), (0xB2, 0.0)] {
            put(
                &mut o,
                Tag(0x2005, 0x1000 | low),
                VR::FL,
                PrimitiveValue::from(v),
            );
        }
        let g = gradient(&o, Some(AXIAL)).unwrap();
        assert!(close(g, [0.6f32 as f64, -0.8f32 as f64, 0.0]), "{g:?}");
    }
}
