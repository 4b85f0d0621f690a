//! Why a file is not used (`RejectReason`), and the reasons told from what a read found: a
//! transfer syntax without a pure-Rust decoder here (PS3.5 Annex A), a declared length running
//! past the end of the file, an archive's magic number, a parser's error chain. A reason's text
//! never carries attribute values (they may be PHI).

use serde::Serialize;

/// Why a file is not used. The reason text never carries attribute values (they may be PHI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum RejectReason {
    /// No DICM prefix, and not a data set without the Part 10 header either.
    NotDicom,
    /// A file of 0 bytes (a copy cut off before its first byte).
    Empty,
    /// A compressed archive (gzip, ZIP, 7z, tar...): its DICOM files are read once it is unpacked.
    Archive(String),
    /// The file ends before its declared content.
    Truncated(String),
    /// Parse error other than a short file.
    Unreadable(String),
    /// An entry of the tree that is not read as a file: a broken link, a link loop, a FIFO or
    /// device, a folder that cannot be listed.
    NotRead(String),
    /// Transfer syntax without a pure-Rust decoder here.
    UnsupportedTransferSyntax(String),
    /// An image SOP class without Pixel Data.
    NoPixelData,
    /// A data set with no SOP Class UID, no Rows and no Pixel Data: not an image object at all
    /// (DICOMscope's presentation LUT files hold a PresentationLUTSequence alone, under DCMTK's
    /// private media storage class).
    NotAnImageObject,
    /// A DICOMDIR: the media's index (PS3.10 §8), no image; the files it lists are read on
    /// their own.
    Dicomdir,
    /// A required attribute is missing or malformed.
    MissingAttribute(String),
    /// PhotometricInterpretation PALETTE COLOR: the stored values are indices into a colour
    /// table, not intensities (dcm2niix writes the indices as grey values).
    PaletteColour,
    /// The series could not be made into a volume (reason from the geometry plan).
    Geometry(String),
    /// Another file holds the same SOP instance (same SOPInstanceUID); the first by path is used.
    Duplicate,
    /// As [`RejectReason::Duplicate`], but the files' bytes differ: a re-send with a corrected
    /// header (a PET's weight) or another export's copy, of which the first by path is used,
    /// which may not be the right one.
    DuplicateDiffers,
}

impl RejectReason {
    /// Its kind, as the inventory and the conversion report count them ("truncated",
    /// "not_dicom", ...): the serialised tag.
    pub fn kind(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("kind").and_then(|k| k.as_str().map(str::to_string)))
            .unwrap_or_else(|| "other".into())
    }
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RejectReason::NotDicom => write!(f, "not DICOM (no DICM prefix at byte 128 or 0)"),
            RejectReason::Empty => write!(f, "empty file (0 bytes)"),
            RejectReason::Archive(kind) => write!(
                f,
                "a {kind} archive, not a DICOM file: unpack it (its DICOM files are then read)"
            ),
            RejectReason::Truncated(d) => write!(f, "truncated: {d}"),
            RejectReason::Unreadable(d) => write!(f, "unreadable DICOM: {d}"),
            RejectReason::NotRead(d) => write!(f, "not read: {d}"),
            RejectReason::UnsupportedTransferSyntax(d) => {
                write!(f, "unsupported transfer syntax {d}")
            }
            RejectReason::NoPixelData => write!(f, "image object without Pixel Data (7FE0,0010)"),
            RejectReason::NotAnImageObject => write!(
                f,
                "not an image: no SOPClassUID (0008,0016), Rows (0028,0010) or Pixel Data \
                 (7FE0,0010) in its data set"
            ),
            RejectReason::Dicomdir => write!(
                f,
                "a DICOMDIR (the media's index, no image: the files it lists are read on their own)"
            ),
            RejectReason::MissingAttribute(d) => write!(f, "missing or malformed attribute {d}"),
            RejectReason::PaletteColour => write!(
                f,
                "PhotometricInterpretation (0028,0004) PALETTE COLOR: the stored values index a \
                 colour table, they are no intensities (MONOCHROME1/2, RGB or YBR expected; \
                 not converted)"
            ),
            RejectReason::Geometry(d) => write!(f, "{d}"),
            RejectReason::Duplicate => write!(
                f,
                "duplicate SOP instance (same SOPInstanceUID as another file, which is used)"
            ),
            RejectReason::DuplicateDiffers => write!(
                f,
                "duplicate SOP instance whose content differs (same SOPInstanceUID as another \
                 file, which is used, the first by path): a re-send with a corrected header, or \
                 another export's copy? check which is right, and leave the other out"
            ),
        }
    }
}

/// Is `msg` the text of a read that ran out of bytes?
pub(super) fn looks_truncated(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("eof")
        || m.contains("end of file")
        || m.contains("unexpected end")
        || m.contains("fill whole buffer")
}

/// Transfer syntaxes whose pixel data ancilla decodes (pure Rust: dicom-rs, and pure_jpegls for
/// JPEG-LS).
pub fn transfer_syntax_supported(uid: &str) -> Result<(), String> {
    match uid {
        "1.2.840.10008.1.2"
        | "1.2.840.10008.1.2.1"
        | "1.2.840.10008.1.2.2"
        | "1.2.840.10008.1.2.1.99" => Ok(()),
        "1.2.840.10008.1.2.5" => Ok(()), // RLE lossless
        "1.2.840.10008.1.2.4.50" | "1.2.840.10008.1.2.4.51" => Ok(()), // JPEG baseline / extended
        "1.2.840.10008.1.2.4.57" | "1.2.840.10008.1.2.4.70" => Ok(()), // JPEG lossless
        "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91" => Ok(()), // JPEG 2000 (openjp2)
        "1.2.840.10008.1.2.4.80" | "1.2.840.10008.1.2.4.81" => Ok(()), // JPEG-LS (pure_jpegls)
        "1.2.840.10008.1.2.4.100"
        | "1.2.840.10008.1.2.4.101"
        | "1.2.840.10008.1.2.4.102"
        | "1.2.840.10008.1.2.4.103" => Err(format!(
            "{uid} (MPEG video): not an image series ancilla converts"
        )),
        "1.2.840.10008.1.2.4.201" | "1.2.840.10008.1.2.4.202" | "1.2.840.10008.1.2.4.203" => {
            Err(format!("{uid} (HTJ2K): no pure-Rust decoder in dicom-rs"))
        }
        other => Err(format!("{other} (unknown to ancilla)")),
    }
}

/// The reason a file fails the length check (`preflight`): a value longer than the rest of the
/// file is what a truncated file looks like.
pub fn length_reject(p: super::preflight::LengthProblem) -> RejectReason {
    use super::preflight::LengthProblem;
    match p {
        LengthProblem::TooLong { .. } => RejectReason::Truncated(p.to_string()),
        LengthProblem::Io(e) => RejectReason::Unreadable(format!("cannot read file: {e}")),
        other => RejectReason::Unreadable(other.to_string()),
    }
}

/// The kind of compressed archive a file starting with `head` is, by its magic number (what a
/// site's export may hold besides DICOM files); None for anything else.
pub(super) fn archive_kind(head: &[u8]) -> Option<&'static str> {
    const KINDS: [(&[u8], &str); 6] = [
        (&[0x1F, 0x8B], "gzip"),
        (b"PK\x03\x04", "ZIP"),
        (b"7z\xBC\xAF\x27\x1C", "7z"),
        (b"BZh", "bzip2"),
        (&[0xFD, b'7', b'z', b'X', b'Z', 0], "xz"),
        (&[0x28, 0xB5, 0x2F, 0xFD], "zstd"),
    ];
    KINDS
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|(_, kind)| *kind)
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
