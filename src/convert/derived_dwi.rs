//! A diffusion series' derived volumes as dcm2niix v1.0.20260724 handles them (its `nii_saveDTI`,
//! `isADCnotDTI`): a volume whose b-value is not 0 but whose gradient direction is 0, 0, 0 (or
//! absent) is an isotropic (trace) or ADC image, or for GE a b = 0 image labelled with the
//! nominal b-value. Philips: such volumes are derived and left out of the DWI. GE: they are
//! derived only in a non-DTI series (its NumberOfDiffusionDirection (0019,10E0) 0, or a
//! diffusion direction type (0043,1030) / (0021,105A) that is not DTI's); otherwise, in a series
//! where other volumes have directions, their b-value is 0 (one difference: dcm2niix zeroes them
//! in a trace-only series without those attributes too, which de-identification — ancilla's
//! included — leaves without its private attributes; ancilla keeps the b-values). Derived
//! volumes are removed only when at least two others remain (dcm2niix keeps an isotropic-only
//! series, or a b = 0 + trace pair, whole). Also Canon's (Toshiba's) b = 0 images, which carry
//! no DiffusionBValue: in a series where other volumes have one, their b-value is 0 (dcm2niix).

use dicom_core::{Tag, VR};
use dicom_object::InMemDicomObject;

use crate::ingest::values::{text_number, value_as};
use crate::volume::assemble::SeriesVolume;

/// Canon (Toshiba) leaves DiffusionBValue out of a DWI's b = 0 images: where other volumes of
/// the series have a b-value above 0, the volumes without one get b 0, as dcm2niix gives them.
pub(super) fn canon_unlabelled_b0(vols: &mut [SeriesVolume], obj: Option<&InMemDicomObject>) {
    let maker = obj.and_then(crate::ingest::header::maker);
    if !matches!(maker.as_deref(), Some("Canon" | "Toshiba"))
        || !super::four_d(vols)
        || !vols.iter().any(|v| v.b_value.is_some_and(|b| b > 0.0))
    {
        return;
    }
    for v in vols.iter_mut().filter(|v| v.b_value.is_none()) {
        v.b_value = Some(0.0);
    }
}

/// What to do with the derived volumes of one diffusion series.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Derived {
    /// Indices of volumes to leave out of the DWI (written apart to `_ADC` with the others).
    pub remove: Vec<usize>,
    /// Indices of volumes whose b-value is 0 (GE DTI's b = 0 images).
    pub zero_b: Vec<usize>,
}

/// Apply dcm2niix's handling of derived volumes to a series' volumes (`obj`: its first file's
/// header): b-values set to 0 where it sets them, derived volumes taken out. Returns what
/// dcm2niix writes to `_ADC` when it took some out — every volume, those last, without b-values
/// (no .bval/.bvec beside it) — else nothing.
pub(super) fn split_off(
    vols: &mut Vec<SeriesVolume>,
    obj: Option<&InMemDicomObject>,
) -> Vec<SeriesVolume> {
    let Derived { remove, zero_b } = derived(vols, obj);
    for &i in &zero_b {
        vols[i].b_value = Some(0.0);
    }
    if remove.is_empty() {
        return Vec::new();
    }
    let (kept, derived): (Vec<_>, Vec<_>) = std::mem::take(vols)
        .into_iter()
        .enumerate()
        .partition(|(i, _)| !remove.contains(i));
    *vols = kept.into_iter().map(|(_, v)| v).collect();
    vols.iter()
        .chain(derived.iter().map(|(_, v)| v))
        .map(|v| SeriesVolume {
            b_value: None,
            ..v.clone()
        })
        .collect()
}

/// The derived volumes of `vols` (one diffusion series written as a 4D file; `obj`: its first
/// file's header).
pub(super) fn derived(vols: &[SeriesVolume], obj: Option<&InMemDicomObject>) -> Derived {
    let maker = obj.and_then(crate::ingest::header::maker);
    let (philips, ge) = (
        maker.as_deref() == Some("Philips"),
        maker.as_deref() == Some("GE"),
    );
    if !(philips || ge) || !super::four_d(vols) || !super::is_diffusion(vols) {
        return Derived::default();
    }
    let zero = |x: f64| x.abs() <= f64::from(f32::EPSILON);
    let flagged: Vec<usize> = vols
        .iter()
        .enumerate()
        .filter(|(_, v)| {
            v.b_value.is_some_and(|b| !zero(b))
                && v.gradient.is_none_or(|g| g.iter().all(|x| zero(*x)))
        })
        .map(|(i, _)| i)
        .collect();
    if ge && !obj.is_some_and(ge_non_dti) {
        // Only in a DTI series (some volume has a direction): a GE trace-only DWI that lost its
        // (0019,10E0) to a de-identifier keeps its b-values (dcm2niix would write 0 for them).
        let dti = vols
            .iter()
            .any(|v| v.gradient.is_some_and(|g| g.iter().any(|x| !zero(*x))));
        return Derived {
            remove: Vec::new(),
            zero_b: if dti { flagged } else { Vec::new() },
        };
    }
    if vols.len() - flagged.len() < 2 {
        return Derived::default();
    }
    Derived {
        remove: flagged,
        zero_b: Vec::new(),
    }
}

/// A GE diffusion series that is not DTI, as dcm2niix tells it: NumberOfDiffusionDirection
/// (0019,10E0) 0, or an image-level diffusion direction type (0043,1030) other than 14 (initial
/// b = 0) or 16 (DTI), or a series-level one (0021,105A) other than 16.
fn ge_non_dti(obj: &InMemDicomObject) -> bool {
    let directions = text_number(obj, Tag(0x0019, 0x10E0)).map(f64::round);
    let image_type = binary_int(obj, Tag(0x0043, 0x1030)).unwrap_or(0);
    let series_type = binary_int(obj, Tag(0x0021, 0x105A)).unwrap_or(0);
    directions == Some(0.0)
        || (image_type > 0 && image_type != 16 && image_type != 14)
        || (series_type > 0 && series_type != 16)
}

/// A binary integer attribute (SS or SL; UN in an implicit VR file, read by its length).
fn binary_int(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    let len = obj.get(tag)?.value().primitive()?.to_bytes().len();
    let vr = if len == 4 { VR::SL } else { VR::SS };
    value_as(obj, tag, vr)?.to_int::<i64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, PrimitiveValue};

    fn volumes(b_and_g: &[(f64, [f64; 3])]) -> Vec<SeriesVolume> {
        b_and_g
            .iter()
            .map(|(b, g)| SeriesVolume {
                volume: crate::volume::Volume {
                    data: ndarray::Array3::zeros((1, 1, 1)),
                    geometry: crate::volume::Geometry::axial([0.0; 3], [1.0; 3]),
                },
                label: String::new(),
                b_value: Some(*b),
                gradient: Some(*g),
                modality: "MR".into(),
                kind: crate::ingest::SeriesKind::Dwi,
                patient_id: String::new(),
                series_uid: String::new(),
                placed: true,
                four_d: true,
                stack: String::new(),
                rgb: false,
            })
            .collect()
    }

    fn header(maker: &str, extra: &[DataElement<InMemDicomObject>]) -> InMemDicomObject {
        let mut o = InMemDicomObject::new_empty();
        o.put(DataElement::new(
            dicom_dictionary_std::tags::MANUFACTURER,
            VR::LO,
            PrimitiveValue::from(maker),
        ));
        for e in extra {
            o.put(e.clone());
        }
        o
    }

    const X: [f64; 3] = [1.0, 0.0, 0.0];
    const Y: [f64; 3] = [0.0, 1.0, 0.0];
    const O: [f64; 3] = [0.0, 0.0, 0.0];

    #[test]
    fn philips_traces_are_removed_when_two_volumes_remain() {
        let p = header("Philips Medical Systems", &[]);
        let v = volumes(&[(0.0, O), (1000.0, X), (1000.0, O), (1000.0, Y)]);
        assert_eq!(derived(&v, Some(&p)).remove, [2]);
        // b0 + trace: kept whole; trace-only clinical DWI (b0, b400, b800 traces): kept whole.
        let v = volumes(&[(0.0, O), (1000.0, O)]);
        assert_eq!(derived(&v, Some(&p)), Derived::default());
        let v = volumes(&[(0.0, O), (400.0, O), (800.0, O)]);
        assert_eq!(derived(&v, Some(&p)), Derived::default());
        // Another maker: nothing.
        let v = volumes(&[(0.0, O), (1000.0, X), (1000.0, O), (1000.0, Y)]);
        assert_eq!(
            derived(&v, Some(&header("SIEMENS", &[]))),
            Derived::default()
        );
    }

    #[test]
    fn ge_zero_direction_volumes_are_b0_in_dti_and_derived_otherwise() {
        let v = volumes(&[(900.0, O), (900.0, X), (900.0, Y), (900.0, O)]);
        let dti = header("GE MEDICAL SYSTEMS", &[]);
        assert_eq!(
            derived(&v, Some(&dti)),
            Derived {
                remove: vec![],
                zero_b: vec![0, 3]
            }
        );
        let n_dirs = DataElement::new(Tag(0x0019, 0x10E0), VR::DS, PrimitiveValue::from("0"));
        let non_dti = header("GE MEDICAL SYSTEMS", &[n_dirs]);
        assert_eq!(derived(&v, Some(&non_dti)).remove, [0, 3]);
        let image_type = DataElement::new(Tag(0x0043, 0x1030), VR::SS, PrimitiveValue::from(3i16));
        assert_eq!(
            derived(&v, Some(&header("GE MEDICAL SYSTEMS", &[image_type]))).remove,
            [0, 3]
        );
        // Trace-only (no volume with a direction), without GE's attributes: b-values kept.
        let trace = volumes(&[(0.0, O), (400.0, O), (800.0, O)]);
        assert_eq!(derived(&trace, Some(&dti)), Derived::default());
        let dti_type = DataElement::new(Tag(0x0043, 0x1030), VR::SS, PrimitiveValue::from(16i16));
        assert_eq!(
            derived(&v, Some(&header("GE MEDICAL SYSTEMS", &[dti_type]))).zero_b,
            [0, 3]
        );
    }
}
