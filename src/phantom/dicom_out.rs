//! Building and writing the phantom's DICOM objects (PS3.10 files, explicit VR little endian)
//! with dicom-rs, atomically.

use std::path::Path;

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, Length, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

use super::PhantomError;

/// Put a string-valued attribute.
pub fn put(o: &mut InMemDicomObject, tag: Tag, vr: VR, v: &str) {
    o.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
}

/// Put an unsigned short.
pub fn put_us(o: &mut InMemDicomObject, tag: Tag, v: u16) {
    o.put(DataElement::new(tag, VR::US, PrimitiveValue::from(v)));
}

/// Put a sequence.
pub fn put_seq(o: &mut InMemDicomObject, tag: Tag, items: Vec<InMemDicomObject>) {
    o.put(DataElement::new(
        tag,
        VR::SQ,
        DataSetSequence::new(items, Length::UNDEFINED),
    ));
}

/// A Multi-frame Dimension module (PS3.3 C.7.6.17): one organisation, `uid`, whose frames are
/// indexed by each `(attribute, functional group sequence that holds it)` of `indices` in turn.
pub fn put_dimensions(o: &mut InMemDicomObject, uid: &str, indices: &[(Tag, Tag)]) {
    let with_uid = || {
        let mut i = InMemDicomObject::new_empty();
        put(&mut i, tags::DIMENSION_ORGANIZATION_UID, VR::UI, uid);
        i
    };
    put_seq(o, tags::DIMENSION_ORGANIZATION_SEQUENCE, vec![with_uid()]);
    let items = indices
        .iter()
        .map(|&(pointer, group)| {
            let mut i = with_uid();
            for (tag, value) in [
                (tags::DIMENSION_INDEX_POINTER, pointer),
                (tags::FUNCTIONAL_GROUP_POINTER, group),
            ] {
                i.put(DataElement::new(
                    tag,
                    VR::AT,
                    PrimitiveValue::Tags(vec![value].into()),
                ));
            }
            i
        })
        .collect();
    put_seq(o, tags::DIMENSION_INDEX_SEQUENCE, items);
}

/// A code sequence item.
pub fn code(value: &str, scheme: &str, meaning: &str) -> InMemDicomObject {
    let mut c = InMemDicomObject::new_empty();
    put(&mut c, tags::CODE_VALUE, VR::SH, value);
    put(&mut c, tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme);
    put(&mut c, tags::CODE_MEANING, VR::LO, meaning);
    c
}

/// Decimal string of a number, within the 16-byte DS limit.
pub fn ds(x: f64) -> String {
    for prec in (0..=12).rev() {
        let s = format!("{x:.prec$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s.len() <= 16 {
            return s;
        }
    }
    format!("{x:.6e}")
}

/// Backslash-joined decimal strings.
pub fn ds_multi(v: &[f64]) -> String {
    v.iter().map(|x| ds(*x)).collect::<Vec<_>>().join("\\")
}

/// Pixel data element for 16-bit values.
pub fn pixel_data_16(o: &mut InMemDicomObject, values: &[u16], signed: bool) {
    put_us(o, tags::SAMPLES_PER_PIXEL, 1);
    put(o, tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2");
    put_us(o, tags::BITS_ALLOCATED, 16);
    put_us(o, tags::BITS_STORED, 16);
    put_us(o, tags::HIGH_BIT, 15);
    put_us(o, tags::PIXEL_REPRESENTATION, u16::from(signed));
    o.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U16(values.to_vec().into()),
    ));
}

/// Write `obj` as a Part-10 file at `path` (atomically).
pub fn write(obj: InMemDicomObject, path: &Path) -> Result<(), PhantomError> {
    let class = obj
        .get(tags::SOP_CLASS_UID)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.to_string())
        .unwrap_or_default();
    let inst = obj
        .get(tags::SOP_INSTANCE_UID)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.to_string())
        .unwrap_or_default();
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
                .media_storage_sop_class_uid(class)
                .media_storage_sop_instance_uid(inst)
                .implementation_class_uid("1.2.826.0.1.3680043.10.543.1")
                .implementation_version_name("ANCILLA_PHANTOM"),
        )
        .map_err(|e| PhantomError::Dicom(e.to_string()))?;
    let mut bytes = Vec::with_capacity(64 * 1024);
    file.write_all(&mut bytes)
        .map_err(|e| PhantomError::Dicom(e.to_string()))?;
    // Atomic (temp sibling + rename) but without the per-file fsync of `atomic::write_bytes`:
    // a regenerable synthetic cohort needs no durability, and 4,500 fsyncs were most of the
    // wall time of a 20-subject run.
    crate::atomic::write_with(path, |tmp| std::fs::write(tmp, &bytes)).map_err(|source| {
        PhantomError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}
