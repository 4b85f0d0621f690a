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
//! as the classic header had them, private blocks too (each under its creator, in a block of the
//! flattened header's own: Philips' SUV scale factor, GE's PET reference date-time).

use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemElement;
use dicom_object::InMemDicomObject;

use super::values::{first_item, is_private_creator, private_block, text_of};

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
                    lift_private_blocks(first, out);
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

/// The private blocks of a legacy converted image's Unassigned Converted Attributes item, each
/// put into `out` under its creator (PS3.5 7.8.1: a block is found by its creator, never by its
/// number): into the block `out` already reserves for that creator in the group, else the first
/// free one. The classic images' private attributes (Philips' SUV scale factor (7053,1000), GE's
/// PET reference date-time (0009,100D)) are where the classic header had them; a block whose
/// creator finds no free block in `out` is left out.
fn lift_private_blocks(item: &InMemDicomObject, out: &mut InMemDicomObject) {
    let creators: Vec<(Tag, String)> = item
        .iter()
        .map(|e| e.header().tag)
        .filter(|t| is_private_creator(*t))
        .filter_map(|t| Some((t, text_of(item, t)?)))
        .collect();
    for (creator_tag, creator) in creators {
        let group = creator_tag.group();
        let Some(block) = private_block(out, group, &creator).or_else(|| free_block(out, group))
        else {
            continue;
        };
        out.put(InMemElement::new(
            Tag(group, block),
            VR::LO,
            PrimitiveValue::from(creator.as_str()),
        ));
        let own = creator_tag.element();
        for e in item.iter() {
            let t = e.header().tag;
            if t.group() == group && t.element() >> 8 == own {
                let at = Tag(group, (block << 8) | (t.element() & 0xFF));
                out.put(InMemElement::new(at, e.vr(), e.value().clone()));
            }
        }
    }
}

/// The first block number (0x10-0xFF) no creator reserves in `group` of `obj`.
fn free_block(obj: &InMemDicomObject, group: u16) -> Option<u16> {
    (0x10..=0xFF).find(|b| obj.get(Tag(group, *b)).is_none())
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
    tag.group().is_multiple_of(2)
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

    /// A legacy converted PET (highdicom's layout): the classic images' private blocks sit in the
    /// Unassigned Shared Converted Attributes item. GE's block is lifted under its creator into
    /// the block the top level already gives it; Philips', whose number the top level gives to
    /// another creator, into the first free block; a nested private sequence's inner blocks
    /// (PS3.5 7.8.1: reserved per data set) are not.
    #[test]
    fn private_blocks_of_unassigned_converted_attributes_are_lifted_under_their_creator() {
        let lo = |t, v: &str| DataElement::new(t, VR::LO, PrimitiveValue::from(v));
        let unassigned = item(vec![
            lo(Tag(0x0009, 0x0010), "GEMS_PETD_01"),
            DataElement::new(
                Tag(0x0009, 0x100D),
                VR::DT,
                PrimitiveValue::from("20240102110000"),
            ),
            lo(Tag(0x0011, 0x0010), "OTHER"),
            seq(
                Tag(0x0011, 0x1001),
                vec![item(vec![
                    lo(Tag(0x0013, 0x0010), "INNER"),
                    lo(Tag(0x0013, 0x1001), "inner"),
                ])],
            ),
            lo(Tag(0x7053, 0x0010), "Philips PET Private Group"),
            ds(Tag(0x7053, 0x1000), "0.000123"),
            ds(Tag(0x7053, 0x1009), "1.5"),
        ]);
        let shared = item(vec![seq(Tag(0x0020, 0x9170), vec![unassigned])]);
        let obj = item(vec![
            lo(Tag(0x0009, 0x0011), "GEMS_PETD_01"),
            lo(Tag(0x7053, 0x0010), "SOMEONE ELSE"),
            ds(Tag(0x7053, 0x1000), "9"),
            seq(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, vec![shared]),
        ]);
        let f = flattened(&obj, 0).expect("enhanced");
        let text = |t| text_of(&f, t);
        assert_eq!(text(Tag(0x0009, 0x110D)).as_deref(), Some("20240102110000"));
        assert!(f.get(Tag(0x0009, 0x0010)).is_none());
        assert_eq!(text(Tag(0x7053, 0x0010)).as_deref(), Some("SOMEONE ELSE"));
        assert_eq!(text(Tag(0x7053, 0x1000)).as_deref(), Some("9"));
        assert_eq!(
            text(Tag(0x7053, 0x0011)).as_deref(),
            Some("Philips PET Private Group")
        );
        assert_eq!(text(Tag(0x7053, 0x1100)).as_deref(), Some("0.000123"));
        assert_eq!(text(Tag(0x7053, 0x1109)).as_deref(), Some("1.5"));
        assert_eq!(text(Tag(0x0011, 0x0010)).as_deref(), Some("OTHER"));
        assert!(f.get(Tag(0x0011, 0x1001)).is_some());
        assert!(f.get(Tag(0x0013, 0x0010)).is_none());
        // Frame groups alone: the blocks keep their numbers.
        let g = frame_groups(&obj, 0).expect("enhanced");
        assert_eq!(
            text_of(&g, Tag(0x7053, 0x1000)).as_deref(),
            Some("0.000123")
        );
    }
}
