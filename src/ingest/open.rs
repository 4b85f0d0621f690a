//! Opening a DICOM file as a Part 10 object (PS3.10 §7.1), including a data set stored without
//! the Part 10 header: no preamble, DICM code or file meta group (ACR-NEMA 300 files, raw exports
//! of some archives and anonymisers). Such a data set states no transfer syntax; as dcm2niix and
//! pydicom's `force` do, it is read as little endian, in explicit VR when its first element
//! carries a VR (two capital letters after the tag), else in implicit VR (PS3.5 §10.1, the
//! default syntax), with a file meta group made up for it: that syntax and the data set's own
//! SOP Class and Instance UIDs. Big-endian ACR-NEMA data sets are not guessed (none is written
//! today; they are "not DICOM"). A Part 10 file whose file meta group lacks its group length
//! (0002,0000), which PS3.10 requires and some writers leave out, is read in the transfer syntax
//! its meta group states (dicom-rs refuses it; dcm2niix and pydicom read it). A UN element of
//! undefined length (a sequence of unknown VR, PS3.5 §6.2.2), which dicom-rs does not read, is
//! read as opaque bytes of the length the length check (`preflight`) found for it. The meta
//! group is also read on its own ([`meta_group`]), to tell a DICOMDIR (PS3.10 §8) before parsing.
//!
//! Every reader of a whole file (conversion, sidecars, SUV, ROI objects, de-identification)
//! opens it here, its declared lengths checked first, so a file the scan accepts is read by each
//! of them the same way.

use std::io::Read;
use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

/// Explicit VR little endian (PS3.5 §A.2).
pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
/// Implicit VR little endian, the default transfer syntax (PS3.5 §A.1).
pub const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";

/// Why a file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot read file: {0}")]
    Io(#[from] std::io::Error),
    /// dicom-rs's reason (a Part 10 file, or a data set without its header).
    #[error("{0}")]
    Read(String),
}

/// The transfer syntax a data set without the Part 10 header is read in, from its first 8 bytes
/// (of a file of `len` bytes): a group 0008 element (identifying attributes come first in every
/// image object) in explicit VR when a VR follows its tag, else in implicit VR when its 4-byte
/// length fits in the file. None: not such a data set.
pub fn bare_syntax(head: &[u8], len: u64) -> Option<&'static str> {
    let head: &[u8; 8] = head.get(..8)?.try_into().ok()?;
    let group = u16::from_le_bytes([head[0], head[1]]);
    let element = u16::from_le_bytes([head[2], head[3]]);
    if group != 0x0008 || element >= 0x1000 {
        return None;
    }
    if head[4].is_ascii_uppercase() && head[5].is_ascii_uppercase() {
        return Some(EXPLICIT_VR_LE);
    }
    let implicit_len = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
    (implicit_len <= len.saturating_sub(8)).then_some(IMPLICIT_VR_LE)
}

/// Open `path` whole, or up to its Pixel Data when `until_pixel_data` (its header alone). Its
/// declared lengths are checked first (`preflight`: dicom-rs reserves a declared length before
/// it reads it, and a UN of undefined length made it reserve 4 GiB); a file that is not a plain
/// Part 10 file is read whole, by [`open_bytes`]'s rules.
pub fn open_file(path: &Path, until_pixel_data: bool) -> Result<DefaultDicomObject, OpenError> {
    let layout = super::preflight::check_file(path)
        .map_err(|p| OpenError::Read(super::reject::length_reject(p).to_string()))?;
    // (Zero padding: dicom-rs would fail on it, then the file be read again.)
    if layout.magic_at.is_none()
        || !layout.unknown_sequences.is_empty()
        || layout.implicit_vr_body
        || layout.padding_at.is_some()
    {
        return open_checked_bytes(&std::fs::read(path)?, &layout);
    }
    let opts = OpenFileOptions::new();
    let opts = if until_pixel_data {
        opts.read_until(tags::PIXEL_DATA)
    } else {
        opts
    };
    match opts.open_file(path) {
        Ok(obj) => Ok(obj),
        // A meta group without its group length, say; else dicom-rs's reason.
        Err(e) => open_checked_bytes(&std::fs::read(path)?, &layout)
            .map_err(|_| OpenError::Read(e.to_string())),
    }
}

/// Whether `bytes` start a Part 10 file (DICM at byte 128, or at 0 without a preamble).
fn is_part10(bytes: &[u8]) -> bool {
    bytes.get(128..132) == Some(b"DICM") || bytes.get(..4) == Some(b"DICM")
}

/// Open a whole file held in memory, its declared lengths checked first: Part 10 (DICM at byte
/// 128 or 0; a meta group without its group length too), or a data set without the Part 10
/// header (its syntax guessed by [`bare_syntax`]); UN elements of undefined length (PS3.5
/// §6.2.2, which dicom-rs does not read) are read as opaque bytes of the length the check found.
pub fn open_bytes(bytes: &[u8]) -> Result<DefaultDicomObject, OpenError> {
    let layout = super::preflight::check_bytes(bytes)
        .map_err(|p| OpenError::Read(super::reject::length_reject(p).to_string()))?;
    open_checked_bytes(bytes, &layout)
}

/// [`open_bytes`] of bytes whose check gave `layout`.
pub(crate) fn open_checked_bytes(
    bytes: &[u8],
    layout: &super::preflight::Layout,
) -> Result<DefaultDicomObject, OpenError> {
    // Zero padding after the data set is not parsed (see `Layout::padding_at`).
    let bytes = &bytes[..layout.padding_at.map_or(bytes.len(), |at| at as usize)];
    let patched;
    let bytes = if layout.unknown_sequences.is_empty() {
        bytes
    } else {
        patched = super::preflight::with_defined_lengths(bytes, &layout.unknown_sequences);
        &patched[..]
    };
    if layout.implicit_vr_body {
        return read_implicit_vr_body(bytes);
    }
    match bare_syntax(bytes, bytes.len() as u64).filter(|_| !is_part10(bytes)) {
        Some(syntax) => read_bare(bytes, syntax),
        None => OpenFileOptions::new().from_reader(bytes).or_else(|e| {
            // A meta group dicom-rs refuses but our walk reads: its data set read in the syntax
            // the group states, as pydicom and dcm2niix read it. Without its group length; or
            // with a value dicom-rs bounds (a Source AE Title of 18 bytes, from DCMTK 3.5.4).
            match meta_group(bytes).and_then(|m| Some((m.syntax?, m.data_at, m.has_group_length))) {
                Some((syntax, data_at, false)) => read_bare(&bytes[data_at..], &syntax),
                Some((syntax, data_at, true)) => read_data_set(&bytes[data_at..], &syntax, &syntax)
                    .map_err(|_| OpenError::Read(e.to_string())),
                None => Err(OpenError::Read(e.to_string())),
            }
        }),
    }
}

/// A Part 10 file whose data set is in implicit VR although its file meta group states an
/// explicit VR transfer syntax (see `preflight::Layout::implicit_vr_body`): the data set read
/// in implicit VR little endian, under the meta group's syntax (which its Pixel Data is in).
fn read_implicit_vr_body(bytes: &[u8]) -> Result<DefaultDicomObject, OpenError> {
    let meta = meta_group(bytes)
        .ok_or_else(|| OpenError::Read("file meta group (0002) not well formed".into()))?;
    let stated = meta
        .syntax
        .ok_or_else(|| OpenError::Read("missing attribute TransferSyntaxUID (0002,0010)".into()))?;
    let at = meta.data_at.min(bytes.len());
    read_data_set(&bytes[at..], IMPLICIT_VR_LE, &stated).map_err(|e| {
        OpenError::Read(format!(
            "data set in implicit VR under the explicit VR transfer syntax {stated}: {e}"
        ))
    })
}

/// What a file meta group states (PS3.10 §7.1), read by its own walk of the elements (for the
/// files dicom-rs does not read, and to tell a file's kind before any parse).
#[derive(Debug, Default, PartialEq)]
pub struct MetaGroup {
    /// Transfer Syntax UID (0002,0010).
    pub syntax: Option<String>,
    /// Media Storage SOP Class UID (0002,0002).
    pub media_class: Option<String>,
    /// Whether it starts with its group length (0002,0000).
    pub has_group_length: bool,
    /// Where the data set after it starts.
    pub data_at: usize,
}

/// The Media Storage SOP Class UID of a DICOMDIR (PS3.10 §8.6, PS3.4 Annex F).
pub const DICOMDIR_CLASS: &str = "1.2.840.10008.1.3.10";

/// The file meta group of `head` (the start of a Part 10 file, DICM at byte 128 or 0: explicit
/// VR little endian elements of group 0002). None: no DICM code, or a group that does not fit
/// in `head` or is not well formed.
pub fn meta_group(head: &[u8]) -> Option<MetaGroup> {
    let mut pos = if head.get(128..132) == Some(b"DICM") {
        132
    } else if head.get(..4) == Some(b"DICM") {
        4
    } else {
        return None;
    };
    let mut meta = MetaGroup::default();
    // The group ends at the first element of another group, or with the file.
    while pos < head.len() {
        let h = head.get(pos..pos + 8)?;
        let group = u16::from_le_bytes([h[0], h[1]]);
        let element = u16::from_le_bytes([h[2], h[3]]);
        if group != 0x0002 {
            break;
        }
        let vr = [h[4], h[5]];
        let (len, value_at) = if matches!(
            &vr,
            b"OB" | b"OW" | b"OF" | b"OD" | b"OL" | b"OV" | b"SQ" | b"UT" | b"UN" | b"UC" | b"UR"
        ) {
            let l = head.get(pos + 8..pos + 12)?;
            (
                u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize,
                pos + 12,
            )
        } else if vr[0].is_ascii_uppercase() && vr[1].is_ascii_uppercase() {
            (usize::from(u16::from_le_bytes([h[6], h[7]])), pos + 8)
        } else {
            return None;
        };
        let value = head.get(value_at..value_at.checked_add(len)?)?;
        let text = || {
            std::str::from_utf8(value)
                .ok()
                .map(|t| t.trim_end_matches(['\0', ' ']).to_string())
        };
        match element {
            0x0000 => meta.has_group_length = true,
            0x0002 => meta.media_class = text(),
            0x0010 => meta.syntax = text(),
            _ => {}
        }
        pos = value_at + len;
    }
    meta.data_at = pos;
    Some(meta)
}

/// Whether the file starting with `head` is a DICOMDIR (its file meta group says so).
pub fn is_dicomdir(head: &[u8]) -> bool {
    meta_group(head).is_some_and(|m| m.media_class.as_deref() == Some(DICOMDIR_CLASS))
}

/// A data set without the Part 10 header, in `syntax`, with the file meta group made up for it.
pub fn read_bare(src: impl Read, syntax: &str) -> Result<DefaultDicomObject, OpenError> {
    read_data_set(src, syntax, syntax)
        .map_err(|e| OpenError::Read(format!("data set without the Part 10 header: {e}")))
}

/// A data set read in the transfer syntax `read_in`, with a file meta group made up for it that
/// states `stated` (the syntax its Pixel Data is decoded in). Err: the parser's reason.
fn read_data_set(
    src: impl Read,
    read_in: &str,
    stated: &str,
) -> Result<DefaultDicomObject, String> {
    let ts = TransferSyntaxRegistry
        .get(read_in)
        .ok_or_else(|| format!("transfer syntax {read_in} unknown"))?;
    let obj = InMemDicomObject::read_dataset_with_ts(src, ts)
        .map_err(|e| super::reject::error_chain(&e))?;
    let uid = |tag| super::values::str_of(&obj, tag).unwrap_or_default();
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(stated)
        .media_storage_sop_class_uid(uid(tags::SOP_CLASS_UID))
        .media_storage_sop_instance_uid(uid(tags::SOP_INSTANCE_UID))
        .build()
        .map_err(|e| e.to_string())?;
    Ok(obj.with_exact_meta(meta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, PrimitiveValue, VR};

    /// A small image data set (one 2×1 16-bit frame) written in `syntax` without the Part 10
    /// header.
    fn bare(syntax: &str) -> Vec<u8> {
        let mut obj = InMemDicomObject::new_empty();
        let put = |o: &mut InMemDicomObject, tag, vr, v: &str| {
            o.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
        };
        put(
            &mut obj,
            tags::SOP_CLASS_UID,
            VR::UI,
            "1.2.840.10008.5.1.4.1.1.4",
        );
        put(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4.5");
        put(&mut obj, tags::MODALITY, VR::CS, "MR");
        obj.put(DataElement::new(
            tags::ROWS,
            VR::US,
            PrimitiveValue::from(2u16),
        ));
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::from(vec![1u8, 0, 2, 0, 3, 0, 4, 0]),
        ));
        let ts = TransferSyntaxRegistry.get(syntax).unwrap();
        let mut out = Vec::new();
        obj.write_dataset_with_ts(&mut out, ts).unwrap();
        out
    }

    #[test]
    fn syntax_is_guessed_from_the_first_element() {
        let e = bare(EXPLICIT_VR_LE);
        let i = bare(IMPLICIT_VR_LE);
        assert_eq!(bare_syntax(&e, e.len() as u64), Some(EXPLICIT_VR_LE));
        assert_eq!(bare_syntax(&i, i.len() as u64), Some(IMPLICIT_VR_LE));
        // An implicit length past the end, another group, a short file: not such a data set.
        assert_eq!(bare_syntax(&i, 10), None);
        assert_eq!(bare_syntax(b"\x10\x00\x10\x00PN\x04\x00", 100), None);
        assert_eq!(bare_syntax(b"\x08\x00", 100), None);
    }

    #[test]
    fn bare_data_sets_open_with_a_made_up_meta_group() {
        for syntax in [EXPLICIT_VR_LE, IMPLICIT_VR_LE] {
            let bytes = bare(syntax);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("f");
            std::fs::write(&path, &bytes).unwrap();
            for obj in [
                open_bytes(&bytes).unwrap(),
                open_file(&path, false).unwrap(),
            ] {
                assert_eq!(obj.meta().transfer_syntax(), syntax);
                assert_eq!(obj.meta().media_storage_sop_instance_uid(), "1.2.3.4.5");
                assert_eq!(
                    obj.meta().media_storage_sop_class_uid(),
                    "1.2.840.10008.5.1.4.1.1.4"
                );
                let px = obj.get(tags::PIXEL_DATA).unwrap().to_bytes().unwrap();
                assert_eq!(&px[..], [1, 0, 2, 0, 3, 0, 4, 0]);
            }
            // Asked for its header: at least everything before the Pixel Data.
            let head = open_file(&path, true).unwrap();
            assert_eq!(
                crate::ingest::values::str_of(&head, tags::MODALITY).as_deref(),
                Some("MR")
            );
        }
    }

    #[test]
    fn a_meta_group_without_its_group_length_states_the_syntax() {
        let mut obj = InMemDicomObject::new_empty();
        obj.put(DataElement::new(
            tags::MODALITY,
            VR::CS,
            PrimitiveValue::from("PT"),
        ));
        let file = obj
            .with_meta(
                FileMetaTableBuilder::new()
                    .transfer_syntax(IMPLICIT_VR_LE)
                    .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.128")
                    .media_storage_sop_instance_uid("1.2.3"),
            )
            .unwrap();
        let mut whole = Vec::new();
        file.write_all(&mut whole).unwrap();
        assert_eq!(&whole[132..136], [2, 0, 0, 0]);
        let cut = [&whole[..132], &whole[144..]].concat();
        assert!(OpenFileOptions::new().from_reader(&cut[..]).is_err());
        let meta = meta_group(&cut).unwrap();
        assert!(!meta.has_group_length);
        let at = meta.data_at;
        assert_eq!(
            (meta.syntax.as_deref(), &cut[at..at + 4]),
            (Some(IMPLICIT_VR_LE), &[8u8, 0, 0x60, 0][..])
        );
        let read = open_bytes(&cut).unwrap();
        assert_eq!(read.meta().transfer_syntax(), IMPLICIT_VR_LE);
        assert_eq!(
            super::super::values::str_of(&read, tags::MODALITY).as_deref(),
            Some("PT")
        );
        // With its group length, or cut short, it is not such a file.
        assert!(meta_group(&whole).unwrap().has_group_length);
        assert_eq!(meta_group(&cut[..150]), None);
    }

    #[test]
    fn the_meta_group_tells_a_dicomdir() {
        let meta = FileMetaTableBuilder::new()
            .transfer_syntax(EXPLICIT_VR_LE)
            .media_storage_sop_class_uid(DICOMDIR_CLASS)
            .media_storage_sop_instance_uid("1.2.3")
            .build()
            .unwrap();
        let mut head = vec![0u8; 128];
        head.extend_from_slice(b"DICM");
        meta.write(&mut head).unwrap();
        let group = meta_group(&head).unwrap();
        assert!(group.has_group_length);
        assert_eq!(group.syntax.as_deref(), Some(EXPLICIT_VR_LE));
        assert_eq!(group.data_at, head.len());
        assert!(is_dicomdir(&head));
        assert!(!is_dicomdir(&head[..140]), "cut short: not known");
        assert!(!is_dicomdir(b"not DICOM at all"));
    }

    #[test]
    fn what_is_neither_is_refused() {
        assert!(open_bytes(b"plain text, long enough to be anything at all").is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        std::fs::write(&path, b"plain text").unwrap();
        assert!(open_file(&path, true).is_err());
        assert!(open_file(&dir.path().join("missing"), true).is_err());
    }
}
