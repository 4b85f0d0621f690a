//! Attribute values of a parsed data set as text and numbers: each VR's value read as PS3.5
//! Table 6.2-1 says; an attribute that came as UN (a private one in implicit VR, or a public one
//! written by a tool that did not know it: PS3.5 6.2.2) read by the dictionary's VR; private
//! blocks found by their creator (PS3.5 7.8.1); sequences searched item by item. An absent, empty
//! or malformed value is `None`, never a panic: these read files from anywhere.

use std::borrow::Cow;

use dicom_core::value::PrimitiveValue;
use dicom_core::{Tag, VR};
use dicom_object::InMemDicomObject;

/// VRs whose values are text (PS3.5 Table 6.2-1); the others are numbers or bytes.
pub(crate) fn is_text_vr(vr: VR) -> bool {
    matches!(
        vr,
        VR::AE
            | VR::AS
            | VR::CS
            | VR::DA
            | VR::DS
            | VR::DT
            | VR::IS
            | VR::LO
            | VR::LT
            | VR::PN
            | VR::SH
            | VR::ST
            | VR::TM
            | VR::UC
            | VR::UI
            | VR::UR
            | VR::UT
    )
}

/// Little-endian words of `N` bytes, each turned into a number by `f`.
fn words<const N: usize, T>(bytes: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .filter_map(|w| w.try_into().ok().map(f))
        .collect()
}

/// Undecoded bytes — a value of unknown VR (UN), little endian — as a value of `vr`: text as
/// UTF-8 (else Latin-1), binary numbers word by word; None for VRs that stay bytes.
pub(crate) fn decode_as(bytes: &[u8], vr: VR) -> Option<PrimitiveValue> {
    Some(match vr {
        vr if is_text_vr(vr) => {
            let text: String = match std::str::from_utf8(bytes) {
                Ok(t) => t.to_string(),
                Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
            };
            PrimitiveValue::Strs(text.split('\\').map(str::to_string).collect())
        }
        VR::US => PrimitiveValue::U16(words(bytes, u16::from_le_bytes).into()),
        VR::SS => PrimitiveValue::I16(words(bytes, i16::from_le_bytes).into()),
        VR::UL => PrimitiveValue::U32(words(bytes, u32::from_le_bytes).into()),
        VR::SL => PrimitiveValue::I32(words(bytes, i32::from_le_bytes).into()),
        VR::FL => PrimitiveValue::F32(words(bytes, f32::from_le_bytes).into()),
        VR::FD => PrimitiveValue::F64(words(bytes, f64::from_le_bytes).into()),
        _ => return None,
    })
}

/// An attribute's value, read as `vr` when it came as UN (a private attribute of an implicit VR
/// file, or a public one written by a tool that did not know it: PS3.5 6.2.2).
pub(crate) fn value_as(
    obj: &InMemDicomObject,
    tag: Tag,
    vr: VR,
) -> Option<Cow<'_, PrimitiveValue>> {
    let e = obj.get(tag)?;
    let value = e.value().primitive()?;
    if e.vr() != VR::UN {
        return Some(Cow::Borrowed(value));
    }
    Some(match decode_as(&value.to_bytes(), vr) {
        Some(decoded) => Cow::Owned(decoded),
        None => Cow::Borrowed(value),
    })
}

/// A public attribute's value, read by the dictionary's VR when it came as UN; a private one's
/// as it is (see [`text_of`] and [`text_number`] for those).
pub(super) fn value_of(obj: &InMemDicomObject, tag: Tag) -> Option<Cow<'_, PrimitiveValue>> {
    match dictionary_vr(tag) {
        Some(vr) => value_as(obj, tag, vr),
        None => obj.get(tag)?.value().primitive().map(Cow::Borrowed),
    }
}

/// The VR the standard dictionary gives a public attribute (None for a private one).
pub(crate) fn dictionary_vr(tag: Tag) -> Option<VR> {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
    tag.group()
        .is_multiple_of(2)
        .then(|| dicom_dictionary_std::StandardDataDictionary.by_tag(tag))
        .flatten()
        .map(|e| e.vr().relaxed())
}

/// A value's text, trimmed of padding and surrounding spaces.
fn trimmed(v: &PrimitiveValue) -> String {
    v.to_str()
        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_string()
}

pub(crate) fn str_of(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    value_of(obj, tag).map(|v| trimmed(&v))
}

/// A value as text — for an attribute of unknown VR (a private one in implicit VR: UN, which
/// dicom-rs holds as bytes), its bytes read as text; trimmed as [`str_of`] trims.
pub(crate) fn text_of(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    value_as(obj, tag, VR::LO).map(|v| trimmed(&v))
}

/// A private creator element (gggg,0010-00FF) of an odd group (PS3.5 7.8.1).
pub(crate) fn is_private_creator(tag: Tag) -> bool {
    tag.group() % 2 == 1 && (0x0010..=0x00FF).contains(&tag.element())
}

/// The series an ROI object was drawn on: the SeriesInstanceUIDs its ReferencedSeriesSequence
/// (0008,1115) names (a SEG's, PS3.3 C.7.4.2.1.2 via the Common Instance Reference module), and
/// those of an RTSTRUCT's ReferencedFrameOfReferenceSequence > RTReferencedStudySequence >
/// RTReferencedSeriesSequence (PS3.3 C.8.8.5).
pub(crate) fn referenced_series(obj: &InMemDicomObject) -> Vec<String> {
    use dicom_dictionary_std::tags;
    fn items(o: &InMemDicomObject, tag: Tag) -> &[InMemDicomObject] {
        o.get(tag).and_then(|e| e.items()).unwrap_or(&[])
    }
    let rt = items(obj, tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE)
        .iter()
        .flat_map(|frame| items(frame, tags::RT_REFERENCED_STUDY_SEQUENCE))
        .flat_map(|study| items(study, tags::RT_REFERENCED_SERIES_SEQUENCE));
    let mut uids: Vec<String> = items(obj, tags::REFERENCED_SERIES_SEQUENCE)
        .iter()
        .chain(rt)
        .filter_map(|item| str_of(item, tags::SERIES_INSTANCE_UID))
        .filter(|uid| !uid.is_empty())
        .collect();
    uids.sort_unstable();
    uids.dedup();
    uids
}

/// The block (xx of gggg,xx00) a private creator reserves in `group` (PS3.5 7.8.1), found
/// among the data set's creator elements (gggg,0010-00FF).
pub(crate) fn private_block(obj: &InMemDicomObject, group: u16, creator: &str) -> Option<u16> {
    obj.iter()
        .map(|e| e.header().tag)
        .skip_while(|t| *t < Tag(group, 0x0010))
        .take_while(|t| *t <= Tag(group, 0x00FF))
        .find(|t| text_of(obj, *t).is_some_and(|s| s == creator))
        .map(|t| t.element())
}

/// Element `low` (e.g. 0x0E) of the block `creator` reserves in `group`: gggg,xxll (PS3.5 7.8.1).
pub(crate) fn creator_element(
    obj: &InMemDicomObject,
    group: u16,
    creator: &str,
    low: u16,
) -> Option<Tag> {
    private_block(obj, group, creator).map(|block| Tag(group, (block << 8) | low))
}

/// The first number of a value held as text (IS, DS), also when its VR is unknown (UN).
pub(crate) fn text_number(obj: &InMemDicomObject, tag: Tag) -> Option<f64> {
    first_finite(&*value_as(obj, tag, VR::DS)?)
}

/// A 32-bit float (FL), also when its VR is unknown (UN: four little-endian bytes).
pub(crate) fn float_number(obj: &InMemDicomObject, tag: Tag) -> Option<f64> {
    first_finite(&*value_as(obj, tag, VR::FL)?)
}

fn first_finite(v: &PrimitiveValue) -> Option<f64> {
    v.to_multi_float64()
        .ok()?
        .first()
        .copied()
        .filter(|x| x.is_finite())
}

pub(crate) fn f64s_of(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    let v = value_of(obj, tag)?;
    match v.to_multi_float64() {
        Ok(v) => Some(v),
        // An empty value among them (a writer's trailing backslash, `1\0\0\0\1\0\`): the
        // others, when each is a number (the orientation was read as none).
        Err(_) => v
            .to_str()
            .split('\\')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| t.parse::<f64>().ok())
            .collect(),
    }
    .filter(|v: &Vec<f64>| !v.is_empty())
}

pub(crate) fn f64_of(obj: &InMemDicomObject, tag: Tag) -> Option<f64> {
    first_finite(&*value_of(obj, tag)?)
}

pub(crate) fn int_of(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    value_of(obj, tag)?.to_int::<i64>().ok()
}

pub(crate) fn first_item(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    obj.get(tag)?.items()?.first()
}

pub(crate) fn arr3(v: Option<Vec<f64>>) -> Option<[f64; 3]> {
    let v = v?;
    (v.len() >= 3 && v[..3].iter().all(|x| x.is_finite())).then(|| [v[0], v[1], v[2]])
}

/// An ImageOrientationPatient: six finite values, not all zero. All zero is a writer's
/// placeholder for no orientation (XMedCon writes one into every NM image's
/// DetectorInformationSequence), not an orientation that is wrong: the image is taken as not
/// placed in patient space, as one without the attribute.
pub(super) fn orientation6(v: Option<Vec<f64>>) -> Option<[f64; 6]> {
    let v = v?;
    (v.len() >= 6 && v[..6].iter().all(|x| x.is_finite()) && v[..6].iter().any(|x| *x != 0.0))
        .then(|| [v[0], v[1], v[2], v[3], v[4], v[5]])
}

pub(super) fn arr2(v: Option<Vec<f64>>) -> Option<[f64; 2]> {
    let v = v?;
    (v.len() >= 2 && v[..2].iter().all(|x| x.is_finite() && *x > 0.0)).then(|| [v[0], v[1]])
}

/// The first value `read` finds in `obj` or in the items of its sequences (depth first, file
/// order, at most `depth` levels down): where Siemens XA keeps its per-frame private attributes.
pub(super) fn nested(
    obj: &InMemDicomObject,
    depth: usize,
    read: &dyn Fn(&InMemDicomObject) -> Option<f64>,
) -> Option<f64> {
    if let Some(v) = read(obj) {
        return Some(v);
    }
    if depth == 0 {
        return None;
    }
    obj.iter()
        .filter_map(|e| e.items())
        .flatten()
        .find_map(|item| nested(item, depth - 1, read))
}

/// The last value `read` gives for element `low` of `creator`'s block in `group`, in `obj` or in
/// the items of its sequences (depth first, file order, at most four levels down); the block is
/// looked up in each data set (PS3.5 7.8.1), and is 0x10 in one that names no creator for it.
pub(crate) fn last_private<T>(
    obj: &InMemDicomObject,
    group: u16,
    creator: &str,
    low: u16,
    read: &dyn Fn(&InMemDicomObject, Tag) -> Option<T>,
) -> Option<T> {
    fn walk<T>(
        obj: &InMemDicomObject,
        depth: usize,
        key: (u16, &str, u16),
        read: &dyn Fn(&InMemDicomObject, Tag) -> Option<T>,
        found: &mut Option<T>,
    ) {
        let (group, creator, low) = key;
        let tag = match private_block(obj, group, creator) {
            Some(_) => creator_element(obj, group, creator, low),
            None => Some(Tag(group, 0x1000 | low)),
        };
        for e in obj.iter() {
            if Some(e.header().tag) == tag {
                if let Some(v) = read(obj, e.header().tag) {
                    *found = Some(v);
                }
            }
            if depth > 0 {
                for item in e.items().into_iter().flatten() {
                    walk(item, depth - 1, key, read, found);
                }
            }
        }
    }
    let mut found = None;
    walk(obj, 4, (group, creator, low), read, &mut found);
    found
}

/// An object whose private attributes are as dicom-rs reads them from an implicit VR file:
/// of unknown VR (UN), their values undecoded bytes.
#[cfg(test)]
pub(crate) fn implicit(elements: &[(Tag, &[u8])]) -> InMemDicomObject {
    let mut o = InMemDicomObject::new_empty();
    for (tag, bytes) in elements {
        o.put(dicom_core::DataElement::new(
            *tag,
            VR::UN,
            PrimitiveValue::U8(bytes.to_vec().into()),
        ));
    }
    o
}
