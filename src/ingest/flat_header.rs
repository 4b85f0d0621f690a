//! An enhanced multi-frame header seen as a classic one (PS3.3 C.7.6.16, Multi-frame Functional
//! Groups): the top-level attributes, overridden by those nested in the Shared Functional Groups
//! Sequence, overridden by those nested in one frame's Per-frame Functional Groups item — the
//! values dcm2niix reads from such a file (its parser walks nested items as a flat stream, the
//! later value winning). RepetitionTime, FlipAngle and EchoTrainLength of an enhanced MR sit in its
//! MR Timing and Related Parameters Sequence, EffectiveEchoTime in the frame's MR Echo Sequence,
//! InPlanePhaseEncodingDirection in the MR FOV/Geometry Sequence: the sidecar reads them all from
//! the flattened header as from a classic file's.
//!
//! Only standard (even-group) data elements are lifted, never sequences themselves, the file meta
//! group, ImageType or Pixel Data: private blocks are reserved per data set, so a nested private
//! element is not the top level's. The exception: a legacy converted enhanced image (PS3.3
//! C.7.6.16.2.25, Unassigned Shared / Per-Frame Converted Attributes) holds there the classic
//! images' attributes its converter placed in no functional group, sequences among them (a PET's
//! Units, DecayCorrection and RadiopharmaceuticalInformationSequence, say); those are lifted whole,
//! as the classic header had them.

use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemElement;
use dicom_object::InMemDicomObject;

use super::values::first_item;

/// `obj` with the functional groups' attributes lifted (frame `frame` of the per-frame groups);
/// None when `obj` has no functional groups (a classic file: nothing to lift).
pub fn flattened(obj: &InMemDicomObject, frame: u32) -> Option<InMemDicomObject> {
    lifted_over(obj, frame, obj.clone())
}

/// Only the functional groups' attributes of frame `frame`, lifted into an empty data set: what
/// that frame has of its own, without a copy of the whole header (which holds every frame's
/// groups: copying it for each frame costs the square of the frame count). None as `flattened`.
pub fn frame_groups(obj: &InMemDicomObject, frame: u32) -> Option<InMemDicomObject> {
    lifted_over(obj, frame, InMemDicomObject::new_empty())
}

/// `out` with the shared groups' and frame `frame`'s attributes lifted over it.
fn lifted_over(
    obj: &InMemDicomObject,
    frame: u32,
    mut out: InMemDicomObject,
) -> Option<InMemDicomObject> {
    let shared = first_item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    let per_frame = obj
        .get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .and_then(|e| e.items())
        .and_then(|items| items.get(frame as usize));
    if shared.is_none() && per_frame.is_none() {
        return None;
    }
    for group in [shared, per_frame].into_iter().flatten() {
        lift(group, &mut out);
    }
    Some(out)
}

/// Put every standard leaf element nested in `item` (depth first, first item of each sequence,
/// in tag order, so a later one wins as in dcm2niix's stream) into `out`.
fn lift(item: &InMemDicomObject, out: &mut InMemDicomObject) {
    for e in item.iter() {
        let tag = e.header().tag;
        match e.value() {
            Value::Sequence(seq) if UNASSIGNED_CONVERTED.contains(&tag) => {
                if let Some(first) = seq.items().first() {
                    for inner in first.iter().filter(|i| liftable(i.header().tag)) {
                        out.put(inner.clone());
                    }
                }
            }
            Value::Sequence(seq) => {
                if let Some(first) = seq.items().first() {
                    lift(first, out);
                }
            }
            _ if liftable(tag) => {
                out.put(classic_term(e));
            }
            _ => {}
        }
    }
}

/// `e` with the enhanced MR's term for its value replaced by the classic header's where the two
/// differ: InPlanePhaseEncodingDirection COLUMN (MR FOV/Geometry, PS3.3 C.8.13.5.4) is a classic
/// file's COL, as dcm2niix reads it.
fn classic_term(e: &InMemElement) -> InMemElement {
    let tag = e.header().tag;
    if tag == tags::IN_PLANE_PHASE_ENCODING_DIRECTION
        && e.to_str()
            .is_ok_and(|v| v.trim_end_matches(['\0', ' ']) == "COLUMN")
    {
        return InMemElement::new(tag, e.vr(), PrimitiveValue::from("COL"));
    }
    e.clone()
}

/// Unassigned Shared Converted Attributes Sequence (0020,9170) and Unassigned Per-Frame Converted
/// Attributes Sequence (0020,9171): whole classic attributes, lifted as they are.
pub(crate) const UNASSIGNED_CONVERTED: [Tag; 2] = [Tag(0x0020, 0x9170), Tag(0x0020, 0x9171)];

/// A standard data element other than the file meta group, group lengths, Pixel Data and
/// ImageType (a Philips private item's copy says `M_FFE` where the file's says `M`; dcm2niix
/// keeps the file's).
fn liftable(tag: Tag) -> bool {
    tag.group() % 2 == 0
        && tag.group() != 0x0002
        && tag.element() != 0
        && tag.group() < 0x7FE0
        && tag != tags::IMAGE_TYPE
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, PrimitiveValue, VR};

    fn item(elements: Vec<DataElement<InMemDicomObject>>) -> InMemDicomObject {
        InMemDicomObject::from_element_iter(elements)
    }

    fn seq(tag: Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
        DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
    }

    fn ds(tag: Tag, v: &str) -> DataElement<InMemDicomObject> {
        DataElement::new(tag, VR::DS, PrimitiveValue::from(v))
    }

    /// The layout of an enhanced MR (pydicom-data's Philips MPRAGE): PixelBandwidth at the top
    /// level and in the shared MR Imaging Modifier Sequence (dcm2niix reports the nested one),
    /// RepetitionTime in the shared MR Timing Sequence, EchoTime per frame in a private sequence.
    #[test]
    fn nested_values_override_the_top_level_frame_last() {
        let shared = item(vec![
            seq(
                Tag(0x0018, 0x9006),
                vec![item(vec![ds(tags::PIXEL_BANDWIDTH, "192.559")])],
            ),
            seq(
                Tag(0x0018, 0x9112),
                vec![item(vec![ds(tags::REPETITION_TIME, "7.5693")])],
            ),
        ]);
        let frames: Vec<InMemDicomObject> = ["3.5", "4.5"]
            .iter()
            .map(|te| {
                item(vec![
                    seq(
                        Tag(0x2005, 0x140F),
                        vec![item(vec![ds(tags::ECHO_TIME, te)])],
                    ),
                    DataElement::new(Tag(0x2005, 0x0010), VR::LO, PrimitiveValue::from("X")),
                ])
            })
            .collect();
        let obj = item(vec![
            ds(tags::PIXEL_BANDWIDTH, "193"),
            DataElement::new(Tag(0x2005, 0x0010), VR::LO, PrimitiveValue::from("Philips")),
            seq(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, vec![shared]),
            seq(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, frames),
        ]);
        let text = |o: &InMemDicomObject, t| {
            o.element(t)
                .ok()
                .and_then(|e| e.to_str().ok())
                .map(|s| s.trim().to_string())
        };
        let f1 = flattened(&obj, 1).expect("enhanced");
        assert_eq!(text(&f1, tags::PIXEL_BANDWIDTH).as_deref(), Some("192.559"));
        assert_eq!(text(&f1, tags::REPETITION_TIME).as_deref(), Some("7.5693"));
        assert_eq!(text(&f1, tags::ECHO_TIME).as_deref(), Some("4.5"));
        assert_eq!(
            text(&flattened(&obj, 0).expect("enhanced"), tags::ECHO_TIME).as_deref(),
            Some("3.5")
        );
        // The top level's private creator is not replaced by a nested one.
        assert_eq!(text(&f1, Tag(0x2005, 0x0010)).as_deref(), Some("Philips"));
        // A classic file has nothing to lift.
        assert!(flattened(&item(vec![ds(tags::ECHO_TIME, "3")]), 0).is_none());
    }
}
