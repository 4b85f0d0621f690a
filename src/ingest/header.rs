//! Header-only reading of one DICOM PS3.10 file: parse up to (not into) Pixel Data, extract what
//! the inventory, the geometry plan and the classifier need, one `ImageRecord` per 2D image
//! (a frame of an Enhanced multi-frame object counts as one: PS3.3 C.7.6.16 functional groups).
//! Completeness of Pixel Data is checked from the file size, without reading it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::borrow::Cow;

use dicom_core::value::PrimitiveValue;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{InMemDicomObject, OpenFileOptions};
use serde::Serialize;

/// Why a file is not used. The reason text never carries attribute values (they may be PHI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum RejectReason {
    /// No DICM prefix, and not a data set without the Part 10 header either.
    NotDicom,
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
    /// The series could not be made into a volume (reason from the geometry plan).
    Geometry(String),
    /// Another file holds the same SOP instance (same SOPInstanceUID); the first by path is used.
    Duplicate,
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RejectReason::NotDicom => write!(f, "not DICOM (no DICM prefix at byte 128 or 0)"),
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
            RejectReason::Geometry(d) => write!(f, "{d}"),
            RejectReason::Duplicate => write!(
                f,
                "duplicate SOP instance (same SOPInstanceUID as another file, which is used)"
            ),
        }
    }
}

/// What one file is: identity of its series and its images.
#[derive(Debug, Clone)]
pub struct FileRecord {
    pub path: PathBuf,
    pub patient_id: Arc<str>,
    pub patient_name: Arc<str>,
    pub study_uid: Arc<str>,
    pub series_uid: Arc<str>,
    pub sop_uid: String,
    pub sop_class: Arc<str>,
    pub transfer_syntax: Arc<str>,
    pub modality: Arc<str>,
    pub series_number: Option<i64>,
    pub series_description: Arc<str>,
    pub image_type: Arc<[String]>,
    /// Magnitude, phase, real or imaginary (ImageType, GE's private image type).
    pub component: Component,
    pub scanning_sequence: Arc<str>,
    /// A localizer (scout): ImageType LOCALIZER, or GE's series plane 3-plane.
    pub localizer: bool,
    pub echo_time: Option<f64>,
    pub repetition_time: Option<f64>,
    /// FlipAngle (degrees), top level or the shared MR Timing item's.
    pub flip_angle: Option<f64>,
    /// Philips' TriggerTime (0018,1060, ms) outside ASL: dcm2niix stacks only images of one
    /// trigger time (its issue 384), so a cardiac series is one file per trigger time.
    pub philips_trigger_ms: Option<f64>,
    /// The protocol name dcm2niix gives the file, which the files of one stack share (its
    /// `isSameSet`): see [`stacking_name`].
    pub stacking_name: Arc<str>,
    /// A Siemens dynamic series' file ([`siemens_dynamic`]): the scanner writes each time point
    /// as a series of its own, which dcm2niix stacks as one 4D series (`ingest::scan`'s merge).
    pub siemens_dynamic: bool,
    /// An early Siemens XA file (dcm2niix's `isXA10A`, see [`xa10a`]): its series numbers count
    /// in thousands (16001, 16002 … are one series).
    pub xa10a: bool,
    /// A Siemens RF-off (noise) image ([`no_rf`]): not stacked with the others.
    pub no_rf: bool,
    pub frame_of_reference: Arc<str>,
    pub gantry_tilt: Option<f64>,
    pub rows: u32,
    pub columns: u32,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    /// PixelRepresentation 1 (two's complement).
    pub pixel_signed: bool,
    /// Native little-endian Pixel Data that ends the file: where its value starts, so volumes
    /// are read straight from these bytes without parsing the data set again.
    pub pixel_offset: Option<u64>,
    pub samples_per_pixel: u16,
    pub frames: u32,
    /// MRAcquisitionType (0018,0023) is 3D.
    pub acquisition_3d: bool,
    /// A Siemens mosaic: its one frame holds tiles, each an image of `images`.
    pub mosaic: Option<super::siemens::Mosaic>,
    pub has_pixels: bool,
    /// PatientIdentityRemoved (0012,0062) is YES.
    pub deidentified: bool,
    /// A PET image's SUV inputs (QIBA), read with the rest of the header so that the SUV of a
    /// series needs no second parse of its files; None for other modalities and for a scan
    /// that did not ask for them.
    pub suv: Option<Box<crate::quant::suv::SuvInputs>>,
    pub images: Vec<ImageRecord>,
}

impl FileRecord {
    /// Rows and columns of each image: of a tile for a mosaic, of the frame otherwise.
    pub fn image_dims(&self) -> (u32, u32) {
        match self.mosaic {
            Some(m) => (m.tile_rows, m.tile_columns),
            None => (self.rows, self.columns),
        }
    }

    /// The complex component of image `im` of this file: the frame's own (an enhanced file's
    /// per-frame ComplexImageComponent), else the file's.
    pub fn component_of(&self, im: &ImageRecord) -> Component {
        im.component.unwrap_or(self.component)
    }
}

/// The complex component an image holds: ImageType's third value and on (M / P / R / I as
/// Siemens and Philips write them, or the words), else GE's private image type (0043,xx2F: 0 to 3),
/// as dcm2niix reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Component {
    Magnitude,
    Phase,
    Real,
    Imaginary,
}

impl Component {
    pub fn name(self) -> &'static str {
        match self {
            Component::Magnitude => "magnitude",
            Component::Phase => "phase",
            Component::Real => "real",
            Component::Imaginary => "imaginary",
        }
    }

    /// The label suffix of its volumes (dcm2niix's file suffixes); none for magnitude.
    pub fn suffix(self) -> Option<&'static str> {
        match self {
            Component::Magnitude => None,
            Component::Phase => Some("ph"),
            Component::Real => Some("real"),
            Component::Imaginary => Some("imaginary"),
        }
    }
}

/// GE's private image type (0043,xx2F): 0 magnitude, 1 phase, 2 real, 3 imaginary.
pub(crate) fn ge_image_type(obj: &InMemDicomObject) -> Option<Component> {
    let v = value_as(
        obj,
        creator_element(obj, 0x0043, "GEMS_PARM_01", 0x2F)?,
        VR::SS,
    )?;
    match v.to_int::<i64>().ok()? {
        0 => Some(Component::Magnitude),
        1 => Some(Component::Phase),
        2 => Some(Component::Real),
        3 => Some(Component::Imaginary),
        _ => None,
    }
}

fn complex_component(obj: &InMemDicomObject, image_type: &[String]) -> Component {
    let ge = || ge_image_type(obj);
    image_type
        .iter()
        .skip(2)
        .find_map(|v| match v.trim() {
            "P" => Some(Component::Phase),
            "R" => Some(Component::Real),
            "I" => Some(Component::Imaginary),
            "M" => Some(Component::Magnitude),
            word => component_word(word),
        })
        .or_else(ge)
        .unwrap_or(Component::Magnitude)
}

/// One 2D image (a single-frame file, or one frame of a multi-frame file; a tile of a mosaic).
#[derive(Debug, Clone, Default)]
pub struct ImageRecord {
    /// Frame index within the file (0 for single-frame files).
    pub frame: u32,
    pub position: Option<[f64; 3]>,
    pub orientation: Option<[f64; 6]>,
    /// PixelSpacing as stored: [between rows, between columns].
    pub pixel_spacing: Option<[f64; 2]>,
    /// The slice spacing a volume of this one slice gets: SpacingBetweenSlices, else
    /// SliceThickness (of the frame's pixel measures in an enhanced file).
    pub single_slice_spacing: Option<f64>,
    pub slope: f64,
    pub intercept: f64,
    pub b_value: Option<f64>,
    /// Diffusion gradient direction in patient coordinates (LPS): DiffusionGradientOrientation
    /// (0018,9089), top level or in the frame's MR Diffusion Sequence; else the maker's private
    /// attributes (`diffusion`), or a Siemens mosaic's CSA DiffusionGradientDirection.
    pub gradient: Option<[f64; 3]>,
    pub echo_number: Option<i64>,
    /// EchoTime (ms), or the frame's EffectiveEchoTime in an enhanced file.
    pub echo_time: Option<f64>,
    pub temporal_index: Option<i64>,
    pub acquisition_time: Option<String>,
    pub instance_number: Option<i64>,
    /// ComplexImageComponent (0008,9208) of the frame's MR Image Frame Type (enhanced MR, per
    /// frame or shared), when it names one component (not MIXED): a Philips B0 map holds
    /// magnitude and phase frames in one file. `None`: the file's (`FileRecord::component`).
    pub component: Option<Component>,
    /// `slope` and `intercept` give Philips' floating-point values, not its display values
    /// (`philips_float_scaling`): the sidecar then names RS, RI and SS.
    pub philips_float: bool,
    /// DimensionIndexValues (0020,9157) of an enhanced file's frame (empty otherwise): dcm2niix
    /// orders the frames of one position by them.
    pub dimension_index: Vec<u32>,
    /// Siemens XA's TimeAfterStart (0021,xx04 of "SIEMENS MR SDI 02", usually (0021,1104);
    /// seconds from the acquisition's start): the file's, or the first one in the frame's
    /// per-frame item of an enhanced file (dcm2niix's XA slice times, `convert::xa_timing`).
    pub time_after_start: Option<f64>,
}

// Tags without a constant name in every dictionary version, spelled out.
const DIFFUSION_B_VALUE: Tag = Tag(0x0018, 0x9087);
const DIFFUSION_GRADIENT_DIRECTION_SEQ: Tag = Tag(0x0018, 0x9076);
pub(crate) const DIFFUSION_GRADIENT_ORIENTATION: Tag = Tag(0x0018, 0x9089);
const PER_FRAME: Tag = Tag(0x5200, 0x9230);
const SHARED: Tag = Tag(0x5200, 0x9229);
const PLANE_POSITION_SEQ: Tag = Tag(0x0020, 0x9113);
const PLANE_ORIENTATION_SEQ: Tag = Tag(0x0020, 0x9116);
const PIXEL_MEASURES_SEQ: Tag = Tag(0x0028, 0x9110);
const PIXEL_VALUE_TRANSFORMATION_SEQ: Tag = Tag(0x0028, 0x9145);
const MR_DIFFUSION_SEQ: Tag = Tag(0x0018, 0x9117);
const FRAME_CONTENT_SEQ: Tag = Tag(0x0020, 0x9111);
const MR_ECHO_SEQ: Tag = Tag(0x0018, 0x9114);
/// MR Timing and Related Parameters Sequence (RepetitionTime of an enhanced MR file).
const MR_TIMING_SEQ: Tag = Tag(0x0018, 0x9112);
const EFFECTIVE_ECHO_TIME: Tag = Tag(0x0018, 0x9082);
const TEMPORAL_POSITION_INDEX: Tag = Tag(0x0020, 0x9128);
const DIMENSION_INDEX_VALUES: Tag = Tag(0x0020, 0x9157);
const GE_B_VALUE: Tag = Tag(0x0043, 0x1039);
const PHILIPS_B_VALUE: Tag = Tag(0x2001, 0x1003);

/// SOP classes that carry no image and are valid without Pixel Data.
fn is_non_image_class(sop_class: &str, modality: &str) -> bool {
    matches!(modality, "RTSTRUCT" | "SR" | "PR" | "KO" | "REG" | "RTPLAN" | "RTDOSE")
        || sop_class.starts_with("1.2.840.10008.5.1.4.1.1.88") // structured reports
        || sop_class == "1.2.840.10008.5.1.4.1.1.481.3" // RT Structure Set
        || sop_class == "1.2.840.10008.5.1.4.1.1.11.1" // grayscale softcopy presentation state
}

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
fn value_of(obj: &InMemDicomObject, tag: Tag) -> Option<Cow<'_, PrimitiveValue>> {
    match dictionary_vr(tag) {
        Some(vr) => value_as(obj, tag, vr),
        None => obj.get(tag)?.value().primitive().map(Cow::Borrowed),
    }
}

/// The VR the standard dictionary gives a public attribute (None for a private one).
pub(crate) fn dictionary_vr(tag: Tag) -> Option<VR> {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
    (tag.group() % 2 == 0)
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

/// FrameOfReferenceUID (0020,0052); without it (RT Structure Sets of many writers name their
/// frame of reference only there), the first of the Referenced Frame of Reference Sequence
/// (3006,0010).
fn frame_of_reference(obj: &InMemDicomObject) -> Option<String> {
    str_of(obj, tags::FRAME_OF_REFERENCE_UID)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let item = obj
                .get(tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE)?
                .items()?
                .first()?;
            str_of(item, tags::FRAME_OF_REFERENCE_UID)
        })
}

pub(crate) fn str_of(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    value_of(obj, tag).map(|v| trimmed(&v))
}

/// A value as text — for an attribute of unknown VR (a private one in implicit VR: UN, which
/// dicom-rs holds as bytes), its bytes read as text; trimmed as [`str_of`] trims.
pub(crate) fn text_of(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    value_as(obj, tag, VR::LO).map(|v| trimmed(&v))
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

/// InPlanePhaseEncodingDirection: Some(true) for COL, Some(false) for ROW (an enhanced MR's
/// COLUMN is COL once its header is flattened, [`super::flat_header`]).
pub(crate) fn phase_encoding_along_columns(obj: &InMemDicomObject) -> Option<bool> {
    match str_of(obj, tags::IN_PLANE_PHASE_ENCODING_DIRECTION)?.as_str() {
        "COL" => Some(true),
        "ROW" => Some(false),
        _ => None,
    }
}

/// ImagingFrequency (MHz), else an enhanced MR's TransmitterFrequency (0018,9098, in its MR
/// Imaging Modifier Sequence), which dcm2niix reads as the imaging frequency.
pub(crate) fn imaging_frequency(obj: &InMemDicomObject) -> Option<f64> {
    f64_of(obj, tags::IMAGING_FREQUENCY).or_else(|| f64_of(obj, tags::TRANSMITTER_FREQUENCY))
}

/// A number at the top level (`tag`), else `inner` in the shared functional groups' item
/// `item` (an enhanced file's acquisition parameters).
fn top_or_shared(obj: &InMemDicomObject, tag: Tag, item: Tag, inner: Tag) -> Option<f64> {
    f64_of(obj, tag).or_else(|| {
        first_item(obj, SHARED)
            .and_then(|s| first_item(s, item))
            .and_then(|t| f64_of(t, inner))
    })
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
    value_of(obj, tag)?
        .to_multi_float64()
        .ok()
        .filter(|v| !v.is_empty())
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

fn arr6(v: Option<Vec<f64>>) -> Option<[f64; 6]> {
    let v = v?;
    (v.len() >= 6 && v[..6].iter().all(|x| x.is_finite()))
        .then(|| [v[0], v[1], v[2], v[3], v[4], v[5]])
}

fn arr2(v: Option<Vec<f64>>) -> Option<[f64; 2]> {
    let v = v?;
    (v.len() >= 2 && v[..2].iter().all(|x| x.is_finite() && *x > 0.0)).then(|| [v[0], v[1]])
}

/// Is `msg` the text of a read that ran out of bytes?
fn looks_truncated(msg: &str) -> bool {
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
fn archive_kind(head: &[u8]) -> Option<&'static str> {
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

/// Read the header of `path` into a `FileRecord`, or say why the file is not usable.
pub fn read_header(path: &Path) -> Result<FileRecord, RejectReason> {
    read_header_with(path, false)
}

/// `read_header`, keeping a PET image's SUV inputs in the record when `keep_suv` (about 1 KB a
/// file: asked for by what computes SUV, not by an inventory of a whole export).
pub fn read_header_with(path: &Path, keep_suv: bool) -> Result<FileRecord, RejectReason> {
    let unreadable = |e: std::io::Error| RejectReason::Unreadable(format!("cannot read file: {e}"));
    let mut file = File::open(path).map_err(unreadable)?;
    let len = file.metadata().map_err(unreadable)?.len();
    // The DICM code found, and every declared length checked against the file before dicom-rs
    // reserves it (see `preflight`).
    let layout =
        super::preflight::check(std::io::BufReader::with_capacity(16 * 1024, &mut file), len)
            .map_err(length_reject)?;
    // One open for everything: parse from the magic code on (a data set without the Part 10
    // header from its start, in the syntax the length check guessed), through a buffer.
    let parsed = match (layout.magic_at, layout.bare) {
        // A data set in implicit VR under an explicit VR syntax: read as the opening helper
        // reads it, up to its Pixel Data (the header alone, as below).
        (Some(_), _) if layout.implicit_vr_body => {
            let end = layout.pixel_data.map_or(len, |p| p.header_at);
            let mut head = Vec::new();
            file.seek(SeekFrom::Start(0))
                .and_then(|_| (&mut file).take(end).read_to_end(&mut head))
                .map_err(unreadable)?;
            super::open::open_checked_bytes(&head, &layout).map_err(|e| {
                let msg = e.to_string();
                (msg.clone(), msg)
            })
        }
        (Some(magic_at), _) => {
            file.seek(SeekFrom::Start(magic_at)).map_err(unreadable)?;
            let opts = OpenFileOptions::new()
                .read_until(tags::PIXEL_DATA)
                .read_preamble(dicom_object::file::ReadPreamble::Never);
            // UN elements of undefined length are read with the defined length the check found.
            let src = super::preflight::Patched {
                inner: std::io::BufReader::with_capacity(16 * 1024, &mut file),
                pos: magic_at,
                patches: &layout.unknown_sequences,
            };
            match opts.from_reader(src) {
                Ok(obj) => Ok(obj),
                // A meta group without its group length (read as the group states, its UN
                // sequences too): the whole file, by the opening helper's rules.
                Err(e) => match std::fs::read(path)
                    .ok()
                    .and_then(|b| super::open::open_checked_bytes(&b, &layout).ok())
                {
                    Some(obj) => Ok(obj),
                    None => Err((format!("{e}"), error_chain(&e))),
                },
            }
        }
        (None, Some(syntax)) => {
            file.seek(SeekFrom::Start(0)).map_err(unreadable)?;
            let end = layout.pixel_data.map_or(len, |p| p.header_at);
            let src = super::preflight::Patched {
                inner: std::io::BufReader::with_capacity(16 * 1024, &mut file),
                pos: 0,
                patches: &layout.unknown_sequences,
            };
            super::open::read_bare(src.take(end), syntax).map_err(|e| {
                let msg = e.to_string();
                (msg.clone(), msg)
            })
        }
        (None, None) => {
            let mut head = [0u8; 8];
            let n = file
                .seek(SeekFrom::Start(0))
                .and_then(|_| file.read(&mut head))
                .unwrap_or(0);
            return Err(match archive_kind(&head[..n]) {
                Some(kind) => RejectReason::Archive(kind.into()),
                None => RejectReason::NotDicom,
            });
        }
    };
    let obj = parsed.map_err(|(msg, chain)| {
        if looks_truncated(&chain) {
            RejectReason::Truncated(format!("header ends early ({msg})"))
        } else if chain.contains("nsupported") && chain.to_lowercase().contains("transfer syntax") {
            RejectReason::UnsupportedTransferSyntax(msg)
        } else {
            RejectReason::Unreadable(msg)
        }
    })?;
    let ts = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    let sop_class = str_of(&obj, tags::SOP_CLASS_UID).unwrap_or_else(|| {
        obj.meta()
            .media_storage_sop_class_uid()
            .trim_end_matches('\0')
            .to_string()
    });
    if sop_class == super::open::DICOMDIR_CLASS {
        return Err(RejectReason::Dicomdir);
    }
    let modality = str_of(&obj, tags::MODALITY)
        .unwrap_or_default()
        .to_ascii_uppercase();
    // Without a SeriesInstanceUID, the files of one SeriesNumber and one image size are one
    // series (dcm2niix keys such files by their series number, and splits what does not stack);
    // without a StudyInstanceUID, they belong to one study of their patient. The keys are
    // labels, never written as UIDs.
    let series_uid = str_of(&obj, tags::SERIES_INSTANCE_UID)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            let int = |tag| int_of(&obj, tag).unwrap_or(0);
            format!(
                "no-series-uid-series-{}-{}x{}x{}",
                int(tags::SERIES_NUMBER),
                int(tags::ROWS),
                int(tags::COLUMNS),
                int(tags::SAMPLES_PER_PIXEL).max(1)
            )
        });
    let study_uid = str_of(&obj, tags::STUDY_INSTANCE_UID)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "no-study-uid".to_string());
    let rows = int_of(&obj, tags::ROWS).unwrap_or(0).max(0) as u32;
    let columns = int_of(&obj, tags::COLUMNS).unwrap_or(0).max(0) as u32;
    let frames = int_of(&obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1) as u32;
    let bits_allocated = int_of(&obj, tags::BITS_ALLOCATED).unwrap_or(0).max(0) as u16;
    let samples_per_pixel = int_of(&obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1).max(1) as u16;
    // An RT Dose object is a dose grid when it has Pixel Data (PS3.3 C.8.8.3), else DVHs alone.
    let non_image = is_non_image_class(&sop_class, &modality)
        && !(modality == "RTDOSE" && layout.pixel_data.is_some());

    let has_float = obj.get(tags::FLOAT_PIXEL_DATA).is_some()
        || obj.get(tags::DOUBLE_FLOAT_PIXEL_DATA).is_some();
    let mut pixel_offset = None;
    let has_pixels = if non_image {
        false
    } else if has_float {
        true
    } else {
        // Native YBR_FULL_422 stores two samples a pixel (Y Y Cb Cr for each pair, PS3.3
        // C.7.6.3.1.2), though SamplesPerPixel says 3.
        let subsampled = samples_per_pixel == 3
            && !is_encapsulated(&ts)
            && str_of(&obj, tags::PHOTOMETRIC_INTERPRETATION)
                .is_some_and(|p| p.trim() == "YBR_FULL_422");
        let stored_samples = if subsampled { 2 } else { samples_per_pixel };
        let expected = native_pixel_bytes(rows, columns, frames, stored_samples, bits_allocated);
        match pixel_data_state(&mut file, len, &ts, expected, layout.pixel_data) {
            Ok(PixelState::Complete(at)) => {
                pixel_offset = at;
                true
            }
            // (The meta group may still name a class: DCMTK's private LUT class, say.)
            Ok(PixelState::Absent) if str_of(&obj, tags::SOP_CLASS_UID).is_none() && rows == 0 => {
                return Err(RejectReason::NotAnImageObject)
            }
            Ok(PixelState::Absent) => return Err(RejectReason::NoPixelData),
            Ok(PixelState::Truncated(d)) => return Err(RejectReason::Truncated(d)),
            Ok(PixelState::Mismatch(d)) => return Err(RejectReason::Unreadable(d)),
            Err(e) => return Err(RejectReason::Unreadable(format!("cannot read file: {e}"))),
        }
    };
    if has_pixels {
        if let Err(why) = transfer_syntax_supported(&ts) {
            return Err(RejectReason::UnsupportedTransferSyntax(why));
        }
        if rows == 0 || columns == 0 {
            return Err(RejectReason::MissingAttribute(
                "Rows/Columns (0028,0010/0011)".into(),
            ));
        }
    }

    let image_type: Vec<String> = str_of(&obj, tags::IMAGE_TYPE)
        .map(|s| {
            s.split('\\')
                .map(|p| p.trim().to_ascii_uppercase())
                .collect()
        })
        .unwrap_or_default();
    let mut mosaic = None;
    let mut images = if !has_pixels {
        Vec::new()
    } else if image_type.iter().any(|t| t == "MOSAIC") && samples_per_pixel == 1 {
        let csa = super::siemens::csa_image_header(&obj);
        // A mosaic whose slice count is unknown cannot be unpacked: not one big slice instead.
        if frames == 1 && super::siemens::images_in_mosaic(&obj, csa.as_ref()).is_none() {
            return Err(RejectReason::MissingAttribute(
                "NumberOfImagesInMosaic (0019,xx0A, or in the CSA image header) of an image whose ImageType is MOSAIC".into(),
            ));
        }
        mosaic = super::siemens::mosaic(&obj, &image_type, rows, columns, frames, csa.as_ref());
        let images = image_records(&obj, frames);
        match mosaic {
            Some(m) => mosaic_records(m, (rows, columns), csa.as_ref(), &images),
            None => images,
        }
    } else {
        image_records(&obj, frames)
    };
    let stacking = stacking_name(&obj, &image_type);
    let early_xa = xa10a(&obj);
    let dynamic = siemens_dynamic(&obj, early_xa);
    if dynamic {
        // dcm2niix numbers a dynamic's images 1000 × SeriesNumber + InstanceNumber: the merged
        // series' volumes follow its series numbers.
        let offset = int_of(&obj, tags::SERIES_NUMBER)
            .unwrap_or(0)
            .saturating_mul(1000);
        for im in &mut images {
            im.instance_number = Some(im.instance_number.unwrap_or(0).saturating_add(offset));
        }
    }
    // A localizer (scout), whatever its TE and TR.
    let localizer = image_type.iter().any(|t| t.trim() == "LOCALIZER")
        || super::ge::three_plane_localizer(&obj);
    Ok(FileRecord {
        path: path.to_path_buf(),
        patient_id: str_of(&obj, tags::PATIENT_ID).unwrap_or_default().into(),
        patient_name: str_of(&obj, tags::PATIENT_NAME).unwrap_or_default().into(),
        study_uid: study_uid.into(),
        series_uid: series_uid.into(),
        sop_uid: str_of(&obj, tags::SOP_INSTANCE_UID).unwrap_or_default(),
        sop_class: sop_class.into(),
        transfer_syntax: ts.as_str().into(),
        modality: modality.as_str().into(),
        series_number: int_of(&obj, tags::SERIES_NUMBER),
        series_description: str_of(&obj, tags::SERIES_DESCRIPTION)
            .unwrap_or_default()
            .into(),
        component: complex_component(&obj, &image_type),
        image_type: image_type.into(),
        scanning_sequence: str_of(&obj, tags::SCANNING_SEQUENCE)
            .unwrap_or_default()
            .to_ascii_uppercase()
            .into(),
        localizer,
        // An enhanced file's are in its shared functional groups (MR Echo, MR Timing items).
        echo_time: top_or_shared(&obj, tags::ECHO_TIME, MR_ECHO_SEQ, EFFECTIVE_ECHO_TIME),
        repetition_time: super::ge::repetition_time_ms(
            &obj,
            top_or_shared(
                &obj,
                tags::REPETITION_TIME,
                MR_TIMING_SEQ,
                tags::REPETITION_TIME,
            ),
        ),
        flip_angle: top_or_shared(&obj, tags::FLIP_ANGLE, MR_TIMING_SEQ, tags::FLIP_ANGLE),
        philips_trigger_ms: philips_trigger_ms(&obj),
        stacking_name: stacking.into(),
        siemens_dynamic: dynamic,
        xa10a: early_xa,
        no_rf: no_rf(&obj),
        frame_of_reference: frame_of_reference(&obj).unwrap_or_default().into(),
        gantry_tilt: f64_of(&obj, tags::GANTRY_DETECTOR_TILT),
        rows,
        columns,
        bits_allocated,
        bits_stored: int_of(&obj, tags::BITS_STORED)
            .unwrap_or(i64::from(bits_allocated))
            .clamp(1, i64::from(bits_allocated.max(1))) as u16,
        pixel_signed: int_of(&obj, tags::PIXEL_REPRESENTATION) == Some(1),
        pixel_offset,
        samples_per_pixel,
        frames,
        acquisition_3d: str_of(&obj, tags::MR_ACQUISITION_TYPE)
            .is_some_and(|t| t.eq_ignore_ascii_case("3D")),
        mosaic,
        has_pixels,
        deidentified: str_of(&obj, tags::PATIENT_IDENTITY_REMOVED)
            .is_some_and(|v| v.eq_ignore_ascii_case("YES")),
        suv: (keep_suv && modality == "PT")
            .then(|| Box::new(crate::quant::suv::inputs_from_header(&obj))),
        images,
    })
}

/// A frame's duration (ms): ActualFrameDuration (0018,1242), or in an enhanced image its Frame
/// Content's FrameAcquisitionDuration (0018,9220), the same quantity (PS3.3 C.7.6.16.2.2).
pub fn frame_duration_ms(obj: &InMemDicomObject) -> Option<f64> {
    f64_of(obj, tags::ACTUAL_FRAME_DURATION)
        .or_else(|| f64_of(obj, tags::FRAME_ACQUISITION_DURATION))
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

/// Bytes of native (uncompressed) Pixel Data, padded to even length.
pub fn native_pixel_bytes(rows: u32, cols: u32, frames: u32, spp: u16, bits: u16) -> u64 {
    let px = rows as u64 * cols as u64 * frames as u64 * spp as u64;
    let bytes = if bits == 1 {
        px.div_ceil(8)
    } else {
        px * (bits as u64 / 8)
    };
    bytes + (bytes & 1)
}

enum PixelState {
    /// Complete; for native little-endian data, the byte offset of the value in the file.
    Complete(Option<u64>),
    Absent,
    Truncated(String),
    /// Longer than the image attributes say (not a short file: a malformed one).
    Mismatch(String),
}

fn is_encapsulated(ts: &str) -> bool {
    !matches!(
        ts,
        "1.2.840.10008.1.2"
            | "1.2.840.10008.1.2.1"
            | "1.2.840.10008.1.2.2"
            | "1.2.840.10008.1.2.1.99"
    )
}

/// Why encapsulated Pixel Data whose sequence delimiter is missing is truncated (the scan's
/// reason, and de-identification's for the same file).
pub const UNDELIMITED_PIXEL_DATA: &str =
    "encapsulated Pixel Data does not end with a sequence delimitation item";

/// Check that Pixel Data is present and complete, without reading it: where the length check's
/// walk found it, native data must have the length the image attributes give and encapsulated
/// data its sequence delimitation item; where the walk did not locate it, the same is judged
/// from the tail of the file (`len` bytes): native data ending the file, encapsulated data
/// ending with the delimiter.
fn pixel_data_state(
    f: &mut File,
    len: u64,
    ts: &str,
    expected: u64,
    walked: Option<super::preflight::PixelData>,
) -> std::io::Result<PixelState> {
    if ts == "1.2.840.10008.1.2.1.99" {
        // Deflated: the tail is compressed; completeness is known only on decoding.
        return Ok(PixelState::Complete(None));
    }
    let big = ts == "1.2.840.10008.1.2.2";
    // Where the length check's walk found it (elements may follow it, such as Data Set Trailing
    // Padding (FFFC,FFFC) or a digital signature); its length already fits in the file.
    match walked {
        Some(p) if is_encapsulated(ts) && p.length.is_none() => {
            return Ok(if p.complete() {
                PixelState::Complete(None)
            } else {
                PixelState::Truncated(UNDELIMITED_PIXEL_DATA.into())
            });
        }
        Some(super::preflight::PixelData {
            value_at,
            length: Some(declared),
            ..
        }) if !is_encapsulated(ts) => {
            // Longer than the image needs: trailing padding, read past as dcm2niix and pydicom
            // read past it (pydicom's MR_small_padded.dcm).
            return Ok(if declared >= expected.saturating_sub(1) {
                PixelState::Complete((!big).then_some(value_at))
            } else {
                PixelState::Mismatch(format!(
                    "Pixel Data (7FE0,0010) holds {declared} bytes where Rows × Columns × \
                         frames × samples × BitsAllocated give {expected}"
                ))
            });
        }
        // Not found by the walk: judged from the end of the file.
        _ => {}
    }
    if is_encapsulated(ts) {
        if len < 8 {
            return Ok(PixelState::Truncated(
                "file shorter than a sequence delimiter".into(),
            ));
        }
        let mut tail = [0u8; 8];
        f.seek(SeekFrom::Start(len - 8))?;
        f.read_exact(&mut tail)?;
        return Ok(if tail == [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0] {
            PixelState::Complete(None)
        } else {
            PixelState::Truncated(UNDELIMITED_PIXEL_DATA.into())
        });
    }
    // Pixel Data header: explicit VR = tag(4) VR(2) 00 00 len(4) = 12 bytes; implicit = 8 bytes.
    for (hdr, data_len) in [(12u64, expected), (8, expected)] {
        if len < hdr + data_len {
            continue;
        }
        let at = len - data_len - hdr;
        let mut h = [0u8; 12];
        f.seek(SeekFrom::Start(at))?;
        f.read_exact(&mut h[..hdr as usize])?;
        let tag_ok = if big {
            h[..4] == [0x7F, 0xE0, 0x00, 0x10]
        } else {
            h[..4] == [0xE0, 0x7F, 0x10, 0x00]
        };
        if tag_ok {
            let l = &h[hdr as usize - 4..hdr as usize];
            let declared = if big {
                u32::from_be_bytes([l[0], l[1], l[2], l[3]])
            } else {
                u32::from_le_bytes([l[0], l[1], l[2], l[3]])
            } as u64;
            if declared == data_len || declared == data_len.saturating_sub(1) {
                return Ok(PixelState::Complete((!big).then_some(at + hdr)));
            }
        }
    }
    // Not at the expected place: search the last part of the file for the Pixel Data header to
    // tell "absent" from "shorter than declared".
    let window = (expected + 4096).min(len);
    let mut buf = vec![0u8; window as usize];
    f.seek(SeekFrom::Start(len - window))?;
    f.read_exact(&mut buf)?;
    let pat: [u8; 4] = if big {
        [0x7F, 0xE0, 0x00, 0x10]
    } else {
        [0xE0, 0x7F, 0x10, 0x00]
    };
    if let Some(pos) = buf.windows(4).rposition(|w| w == pat) {
        let held = (window - pos as u64).saturating_sub(12);
        return Ok(if held < expected {
            PixelState::Truncated(format!(
                "Pixel Data holds {held} of {expected} expected bytes"
            ))
        } else {
            PixelState::Mismatch(format!(
                "Pixel Data (7FE0,0010) is followed by {held} bytes where Rows × Columns × \
                 frames × samples × BitsAllocated give {expected}"
            ))
        });
    }
    if len < expected {
        return Ok(PixelState::Truncated(format!(
            "file has {len} bytes, Pixel Data alone needs {expected}"
        )));
    }
    Ok(PixelState::Absent)
}

/// The images of a Siemens mosaic: one per tile (its `frame` is the tile's index), each at its
/// slice's position (see [`super::siemens::tile_positions`]); the file's own record otherwise.
fn mosaic_records(
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
fn image_records(obj: &InMemDicomObject, frames: u32) -> Vec<ImageRecord> {
    let mut images = stored_scaling_records(obj, frames);
    philips_float_scaling(obj, &mut images);
    images
}

/// A Manufacturer (0008,0070) as dcm2niix names it in its sidecar, told by the first two
/// letters as dcm2niix tells them (`SIEMENS` and `CPS`: Siemens; `GE MEDICAL SYSTEMS`: GE;
/// `Philips Medical Systems`: Philips; `TOSHIBA_MEC`: Toshiba…); a maker it does not know keeps
/// its own spelling (dcm2niix leaves the key out).
pub(crate) fn maker_name(maker: &str) -> String {
    let prefix: String = maker
        .trim()
        .chars()
        .take(2)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let name = match prefix.as_str() {
        "SI" | "CP" => "Siemens",
        "GE" => "GE",
        "HI" => "Hitachi",
        "ME" => "Mediso",
        "PH" => "Philips",
        "TO" => "Toshiba",
        "CA" => "Canon",
        "UI" => "UIH",
        "BR" => "Bruker",
        "MR" => "MRSolutions",
        "HY" => "Hyperfine",
        _ => return maker.trim().to_string(),
    };
    name.to_string()
}

/// The maker of `obj` as dcm2niix names it (`maker_name` of its Manufacturer), if it has one.
pub(crate) fn maker(obj: &InMemDicomObject) -> Option<String> {
    str_of(obj, tags::MANUFACTURER).map(|m| maker_name(&m))
}

/// Philips' private MR Scale Slope (2005,100E) (FL; in implicit VR four bytes).
const PHILIPS_SCALE_SLOPE: Tag = Tag(0x2005, 0x100E);
/// Philips' private per-frame item (2005,140F) of an enhanced MR file.
const PHILIPS_FRAME_PRIVATE: Tag = Tag(0x2005, 0x140F);

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

/// The protocol name dcm2niix v1.0.20260724 gives an image (nii_dicom.cpp, after the header is
/// read): ProtocolName (0018,1030); without one, a SeriesDescription of two characters or more;
/// `_MoCo` appended for a motion-corrected image (ImageType holding MOCO between two values);
/// still none and not Siemens (whose SequenceName varies per volume), a SequenceName (0018,0024)
/// of two characters or more. Images of one series with other names are not stacked.
fn stacking_name(obj: &InMemDicomObject, image_type: &[String]) -> String {
    let longer = |t| str_of(obj, t).filter(|s| s.len() > 1);
    let mut name = str_of(obj, tags::PROTOCOL_NAME).unwrap_or_default();
    if name.is_empty() {
        name = longer(tags::SERIES_DESCRIPTION).unwrap_or_default();
    }
    let joined = image_type.join("_");
    if name.len() > 1 && joined.contains("_MOCO_") {
        name.push_str("_MoCo");
    }
    if name.is_empty() && maker(obj).as_deref() != Some("Siemens") {
        name = longer(tags::SEQUENCE_NAME).unwrap_or_default();
    }
    name
}

/// Whether an image is of a Siemens dynamic series as dcm2niix v1.0.20260724 tells them (its
/// issue 252): Siemens, SequenceName holding `fldyn3d1`, and not XA10A (`early_xa`, see
/// [`xa10a`]: those number their time points otherwise and are not merged).
fn siemens_dynamic(obj: &InMemDicomObject, early_xa: bool) -> bool {
    !early_xa
        && maker(obj).as_deref() == Some("Siemens")
        && str_of(obj, tags::SEQUENCE_NAME).is_some_and(|s| s.contains("fldyn3d1"))
}

/// A Siemens RF-off (noise) image as dcm2niix reads it (`isNoRF`): its ImageTypeText
/// (0021,1175) holds the value NOISE (values split at `\` or `_`).
fn no_rf(obj: &InMemDicomObject) -> bool {
    maker(obj).as_deref() == Some("Siemens")
        && str_of(obj, Tag(0x0021, 0x1175))
            .is_some_and(|t| t.split(['\\', '_']).any(|v| v.trim() == "NOISE"))
}

/// dcm2niix's `isXA10A`: SoftwareVersions holding XA10, XA11, XA20, XA30 or XA31, or an
/// ImplementationVersionName holding XA10A (early XA releases, whose quirks it works around).
fn xa10a(obj: &dicom_object::FileDicomObject<InMemDicomObject>) -> bool {
    str_of(obj, tags::SOFTWARE_VERSIONS).is_some_and(|v| {
        v.len() > 4
            && ["XA10", "XA11", "XA20", "XA30", "XA31"]
                .iter()
                .any(|x| v.contains(x))
    }) || obj
        .meta()
        .implementation_version_name
        .as_deref()
        .is_some_and(|v| v.len() >= 5 && v.contains("XA10A"))
}

/// Whether dcm2niix counts an image as derived (its `isDerived` from ImageType, values joined by
/// `_`): DERIVED anywhere, or an ADC, TRACEW, TRACE or FA value between two others. Derived and
/// other images of one series are not stacked.
pub fn derived_image(image_type: &[String]) -> bool {
    let joined = image_type.join("_");
    joined.contains("DERIVED")
        || ["_ADC_", "_TRACEW_", "_TRACE_", "_FA_"]
            .iter()
            .any(|v| joined.contains(v))
}

/// Philips' TriggerTime, unless the image is an ASL label or control (its MR Image Label Type,
/// 2005,xx29 of "Philips MR Imaging DD 005", says L or C), as dcm2niix reads it.
fn philips_trigger_ms(obj: &InMemDicomObject) -> Option<f64> {
    if maker(obj).as_deref() != Some("Philips") {
        return None;
    }
    let label = creator_element(obj, 0x2005, "Philips MR Imaging DD 005", 0x29)
        .and_then(|t| text_of(obj, t))
        .and_then(|v| v.chars().next())
        .is_some_and(|c| matches!(c.to_ascii_uppercase(), 'L' | 'C'));
    if label {
        return None;
    }
    f64_of(obj, tags::TRIGGER_TIME).filter(|t| t.is_finite())
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
fn philips_float_scaling(obj: &InMemDicomObject, images: &mut [ImageRecord]) {
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
    let orientation = arr6(f64s_of(obj, tags::IMAGE_ORIENTATION_PATIENT));
    let base = ImageRecord {
        frame: 0,
        position: arr3(f64s_of(obj, tags::IMAGE_POSITION_PATIENT)),
        orientation,
        pixel_spacing: arr2(f64s_of(obj, tags::PIXEL_SPACING)),
        // dcm2niix's choice for a lone slice: SpacingBetweenSlices, else SliceThickness.
        single_slice_spacing: f64_of(obj, tags::SPACING_BETWEEN_SLICES)
            .filter(|s| *s > 0.0)
            .or_else(|| f64_of(obj, tags::SLICE_THICKNESS)),
        // An RT Dose grid's stored values × DoseGridScaling are Gy (PS3.3 C.8.8.3.1).
        slope: f64_of(obj, tags::RESCALE_SLOPE)
            .or_else(|| f64_of(obj, tags::DOSE_GRID_SCALING))
            .filter(|s| *s != 0.0)
            .unwrap_or(1.0),
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
    let iop = arr6(f64s_of(detector, tags::IMAGE_ORIENTATION_PATIENT))?;
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
        .and_then(|i| arr6(f64s_of(i, tags::IMAGE_ORIENTATION_PATIENT)))
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
        if let Some(s) = f64_of(t, tags::RESCALE_SLOPE).filter(|s| *s != 0.0) {
            r.slope = s;
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
fn time_after_start(obj: &InMemDicomObject) -> Option<f64> {
    let tag =
        creator_element(obj, 0x0021, "SIEMENS MR SDI 02", 0x04).unwrap_or(Tag(0x0021, 0x1104));
    text_number(obj, tag)
}

/// The first value `read` finds in `obj` or in the items of its sequences (depth first, file
/// order, at most `depth` levels down): where Siemens XA keeps its per-frame private attributes.
fn nested(
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

/// The component a ComplexImageComponent value names (PS3.3 C.8.13.3.1.1); none for MIXED.
fn component_word(word: &str) -> Option<Component> {
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
    use dicom_core::value::PrimitiveValue;
    use dicom_core::DataElement;

    /// Regression: an RT Structure Set without a top-level FrameOfReferenceUID (as many writers
    /// make them) had no frame of reference, so `run` could not match it to its image series.
    /// Now it is the Referenced Frame of Reference Sequence's; the top-level one wins when both
    /// are there, and neither gives none.
    #[test]
    fn frame_of_reference_falls_back_to_the_referenced_sequence() {
        use dicom_core::value::DataSetSequence;
        let uid = |v: &str| DataElement::new(tags::FRAME_OF_REFERENCE_UID, VR::UI, v);
        let mut item = InMemDicomObject::new_empty();
        item.put(uid("1.2.3.4"));
        let mut rt = InMemDicomObject::new_empty();
        rt.put(DataElement::new(
            tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![item]),
        ));
        assert_eq!(frame_of_reference(&rt).as_deref(), Some("1.2.3.4"));
        rt.put(uid("1.2.3.5"));
        assert_eq!(frame_of_reference(&rt).as_deref(), Some("1.2.3.5"));
        assert_eq!(frame_of_reference(&InMemDicomObject::new_empty()), None);
    }

    /// dcm2niix v1.0.20260724's Manufacturer for each spelling, from its sidecars on MR_small
    /// with only (0008,0070) changed; the makers it does not know (it leaves the key out) keep
    /// their spelling here.
    #[test]
    fn manufacturer_is_named_as_dcm2niix_names_it() {
        let cases = [
            ("SIEMENS", "Siemens"),
            ("Siemens Healthineers", "Siemens"),
            ("CPS", "Siemens"),
            ("GE MEDICAL SYSTEMS", "GE"),
            ("Philips Medical Systems", "Philips"),
            ("TOSHIBA_MEC", "Toshiba"),
            ("Canon Medical Systems", "Canon"),
            ("UIH", "UIH"),
            ("Bruker BioSpin", "Bruker"),
            ("Hitachi Medical", "Hitachi"),
            ("Mediso", "Mediso"),
            ("MR Solutions", "MRSolutions"),
            ("Hyperfine", "Hyperfine"),
            ("G.E. Medical", "G.E. Medical"),
            ("Agfa-Gevaert AG", "Agfa-Gevaert AG"),
        ];
        for (dicom, expected) in cases {
            assert_eq!(maker_name(dicom), expected, "{dicom}");
        }
    }

    /// An object whose private attributes are as dicom-rs reads them from an implicit VR file:
    /// of unknown VR (UN), their values undecoded bytes.
    fn implicit(elements: &[(Tag, &[u8])]) -> InMemDicomObject {
        let mut o = InMemDicomObject::new_empty();
        for (tag, bytes) in elements {
            o.put(DataElement::new(
                *tag,
                VR::UN,
                PrimitiveValue::U8(bytes.to_vec().into()),
            ));
        }
        o
    }

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

    /// The complex component: from ImageType (Siemens' third value, Philips' fourth), else GE's
    /// private image type (0043,xx2F), here as an implicit VR file holds it (two undecoded bytes).
    #[test]
    fn complex_components_are_read_from_image_type_or_ge_private_type() {
        let types = |v: &[&str]| -> Vec<String> { v.iter().map(|s| s.to_string()).collect() };
        let empty = InMemDicomObject::new_empty();
        for (image_type, want) in [
            (&["ORIGINAL", "PRIMARY", "P", "ND"][..], Component::Phase),
            (
                &["ORIGINAL", "PRIMARY", "M", "ND"][..],
                Component::Magnitude,
            ),
            (
                &["ORIGINAL", "PRIMARY", "M_FFE", "M", "FFE"][..],
                Component::Magnitude,
            ),
            (
                &["ORIGINAL", "PRIMARY", "R_FFE", "R", "FFE"][..],
                Component::Real,
            ),
            (
                &["DERIVED", "PRIMARY", "IMAGINARY"][..],
                Component::Imaginary,
            ),
            (&["ORIGINAL", "PRIMARY"][..], Component::Magnitude),
        ] {
            assert_eq!(
                complex_component(&empty, &types(image_type)),
                want,
                "{image_type:?}"
            );
        }
        let other = types(&["ORIGINAL", "PRIMARY", "OTHER"]);
        let ge = implicit(&[
            (Tag(0x0043, 0x0010), b"GEMS_PARM_01"),
            (Tag(0x0043, 0x102F), &1i16.to_le_bytes()),
        ]);
        assert_eq!(complex_component(&ge, &other), Component::Phase);
        let no_creator = implicit(&[(Tag(0x0043, 0x102F), &1i16.to_le_bytes())]);
        assert_eq!(complex_component(&no_creator, &other), Component::Magnitude);
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
