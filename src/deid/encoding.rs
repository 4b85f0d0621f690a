//! The bytes of a released file (PS3.10): preamble, DICM and a new file meta group, then the data
//! set through dicom-rs's writer; or, where native Pixel Data ends the input file, the rewritten
//! data set before it and the Pixel Data element carried over as its bytes (PS3.5 7.1).

use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::DataElement;
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

use super::Release;
use crate::ingest::open::{EXPLICIT_VR_LE, IMPLICIT_VR_LE};
use crate::ingest::preflight::Layout;

/// Native 16-bit Pixel Data held as its little-endian bytes: the same bytes on disk, written in
/// one copy instead of word by word (dicom-rs encodes a U16 value one word at a time: 13% of a
/// de-identification). Only for little-endian transfer syntaxes.
pub(super) fn words_as_bytes(obj: &mut InMemDicomObject) {
    let Some(e) = obj.get(tags::PIXEL_DATA) else {
        return;
    };
    let (vr, bytes) = match e.value() {
        Value::Primitive(PrimitiveValue::U16(words)) => (
            e.header().vr,
            words
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .collect::<Vec<u8>>(),
        ),
        _ => return,
    };
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        vr,
        PrimitiveValue::U8(bytes.into()),
    ));
}

/// A Part-10 file of `obj` (preamble, meta group, data set): dicom-rs's writer, fed the data set's
/// elements by value (`FileDicomObject::write_all` clones every value on the way to the writer).
pub(super) fn encode(
    obj: InMemDicomObject,
    meta: &dicom_object::FileMetaTable,
    capacity: usize,
) -> Result<Vec<u8>, String> {
    use dicom_encoding::transfer_syntax::{Codec, TransferSyntaxIndex};
    use dicom_parser::dataset::{DataSetWriter, IntoTokens};
    let mut bytes = file_start(meta, capacity)?;
    let ts_uid = meta.transfer_syntax().trim_end_matches('\0');
    let ts = dicom_transfer_syntax_registry::TransferSyntaxRegistry
        .get(ts_uid)
        .ok_or_else(|| format!("unknown transfer syntax {ts_uid}"))?;
    let to: Box<dyn std::io::Write + '_> = match ts.codec() {
        Codec::Dataset(Some(adapter)) => adapter.adapt_writer(Box::new(&mut bytes)),
        Codec::Dataset(None) => return Err(format!("cannot write transfer syntax {ts_uid}")),
        _ => Box::new(&mut bytes),
    };
    let mut writer = DataSetWriter::with_ts(to, ts).map_err(|e| e.to_string())?;
    writer
        .write_sequence(obj.into_tokens())
        .and_then(|()| writer.flush())
        .map_err(|e| e.to_string())?;
    drop(writer);
    Ok(bytes)
}

/// Where the Pixel Data element starts (its header) when it ends the file as native data of a
/// defined length, as the length check's walk found it, and the little-endian syntax its header
/// is written in: explicit VR (OB or OW, 12-byte header) or implicit VR (8-byte header). The
/// caller parses the bytes before it, which must make a complete data set in that syntax.
pub(super) fn pixel_data_tail(layout: &Layout, bytes: &[u8]) -> Option<(usize, &'static str)> {
    let p = layout.pixel_data?;
    if p.value_at + p.length? != bytes.len() as u64 {
        return None;
    }
    let at = p.header_at as usize;
    match p.value_at - p.header_at {
        12 if matches!(bytes.get(at + 4..at + 8)?, b"OW\0\0" | b"OB\0\0") => {
            Some((at, EXPLICIT_VR_LE))
        }
        8 => Some((at, IMPLICIT_VR_LE)),
        _ => None,
    }
}

/// The new file meta group.
pub(super) fn file_meta(
    ts: &str,
    release: &Release,
) -> Result<dicom_object::FileMetaTable, String> {
    FileMetaTableBuilder::new()
        .transfer_syntax(ts)
        .media_storage_sop_class_uid(release.sop_class.clone())
        .media_storage_sop_instance_uid(release.sop.clone())
        .implementation_class_uid("2.25.302228434012094712350394857467219573915")
        .implementation_version_name("ANCILLA_DEID")
        .build()
        .map_err(|e| e.to_string())
}

/// Preamble, DICM and the file meta group, in a buffer of `capacity`.
pub(super) fn file_start(
    meta: &dicom_object::FileMetaTable,
    capacity: usize,
) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::with_capacity(capacity);
    bytes.extend_from_slice(&[0u8; 128]);
    bytes.extend_from_slice(b"DICM");
    meta.write(&mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// Buffer sizes: the header alone when the Pixel Data is carried over (glibc consolidates its
/// free lists on every free of 64 KiB or more: 5% of a run with a 64 KiB buffer per file).
pub(super) fn capacity(carried_over: bool) -> usize {
    if carried_over {
        16 * 1024
    } else {
        64 * 1024
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file's start (preamble, DICM, a file meta group naming the syntax of `explicit`).
    fn head(explicit: bool) -> Vec<u8> {
        let uid: &[u8] = if explicit {
            b"1.2.840.10008.1.2.1\0"
        } else {
            b"1.2.840.10008.1.2\0"
        };
        let mut b = vec![0u8; 128];
        b.extend(b"DICM");
        b.extend([0x02, 0x00, 0x10, 0x00, b'U', b'I', uid.len() as u8, 0]);
        b.extend(uid);
        b
    }

    /// Where the length check finds the tail of `bytes`.
    fn tail(bytes: &[u8]) -> Option<(usize, &'static str)> {
        let layout = crate::ingest::preflight::check_bytes(bytes).unwrap();
        pixel_data_tail(&layout, bytes)
    }

    /// `head`, then a Pixel Data element of `value` in the given header form.
    fn with_pixels(head: &[u8], explicit: bool, value: &[u8]) -> Vec<u8> {
        let mut b = head.to_vec();
        b.extend([0xE0, 0x7F, 0x10, 0x00]);
        if explicit {
            b.extend(b"OW\0\0");
        }
        b.extend((value.len() as u32).to_le_bytes());
        b.extend(value);
        b
    }

    #[test]
    fn pixel_data_that_ends_the_file_is_found_in_either_vr_form() {
        let (explicit, implicit) = (head(true), head(false));
        let value = vec![1u8; 64];
        let e = with_pixels(&explicit, true, &value);
        assert_eq!(tail(&e), Some((explicit.len(), EXPLICIT_VR_LE)));
        let i = with_pixels(&implicit, false, &value);
        assert_eq!(tail(&i), Some((implicit.len(), IMPLICIT_VR_LE)));
        // The tag inside the pixel values, with a length that does not reach the end: skipped.
        let mut tricky = value.clone();
        tricky[8..12].copy_from_slice(&[0xE0, 0x7F, 0x10, 0x00]);
        assert_eq!(
            tail(&with_pixels(&explicit, true, &tricky)),
            Some((explicit.len(), EXPLICIT_VR_LE))
        );
    }

    #[test]
    fn pixel_data_followed_by_anything_or_of_undefined_length_is_not_carried_over() {
        let mut padded = with_pixels(&head(true), true, &[1u8; 64]);
        // Data Set Trailing Padding (FFFC,FFFC) after Pixel Data.
        padded.extend([0xFC, 0xFF, 0xFC, 0xFF, b'O', b'B', 0, 0, 2, 0, 0, 0, 0, 0]);
        assert_eq!(tail(&padded), None);
        let mut encapsulated = head(true);
        encapsulated.extend([
            0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        encapsulated.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        assert_eq!(tail(&encapsulated), None);
    }
}
