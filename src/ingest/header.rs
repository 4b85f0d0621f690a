//! Header-only reading of one DICOM PS3.10 file (`read_header`): parse up to (not into) Pixel
//! Data, and extract what the inventory, the geometry plan and the classifier need into a
//! `FileRecord` — the file's identity, its image attributes, the keys dcm2niix v1.0.20260724
//! stacks images by (protocol name, derivedness, Siemens dynamics and RF-off images, Philips
//! trigger times), and one `ImageRecord` per 2D image (`frames`). Pixel Data's completeness is
//! judged without reading it (`pixel_presence`); a file not used gets its reason (`reject`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{InMemDicomObject, OpenFileOptions};

use super::frames::*;
use super::pixel_presence::*;
use super::reject::*;
use super::values::*;

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
    /// The series a DICOM SEG or RTSTRUCT was drawn on (`values::referenced_series`; empty
    /// for any other object).
    pub referenced_series: Box<[String]>,
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
    /// A PET image's series size: NumberOfSlices (0054,0081) × NumberOfTimeSlices (0054,0101,
    /// 1 when absent), the images its series holds (PS3.3 C.8.9.4); None elsewhere.
    pub pet_images: Option<u64>,
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
    /// RescaleSlope (or an enhanced frame's) is 0 (`slope` holds 1): read as 0, every value the
    /// intercept, as dcm2niix reads it, among images that give a number (a PET's blank slice,
    /// whose scale was made from its maximum 0; it was read with slope 1, and a slice holding
    /// values 4× too high); cleared where every image of the series says 0 (a writer's
    /// placeholder: read as 1, `ingest::make_series`).
    pub slope_zero: bool,
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

impl ImageRecord {
    /// The (slope, intercept) its stored values are read with (`slope_zero`: a slope of 0).
    pub fn rescale(&self) -> (f64, f64) {
        if self.slope_zero && !self.philips_float {
            (0.0, self.intercept)
        } else {
            (self.slope, self.intercept)
        }
    }
}

/// SOP classes that carry no image and are valid without Pixel Data.
fn is_non_image_class(sop_class: &str, modality: &str) -> bool {
    matches!(modality, "RTSTRUCT" | "SR" | "PR" | "KO" | "REG" | "RTPLAN" | "RTDOSE")
        || sop_class.starts_with("1.2.840.10008.5.1.4.1.1.88") // structured reports
        || sop_class == "1.2.840.10008.5.1.4.1.1.481.3" // RT Structure Set
        || sop_class == "1.2.840.10008.5.1.4.1.1.11.1" // grayscale softcopy presentation state
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

/// Read the header of `path` into a `FileRecord`, or say why the file is not usable.
pub fn read_header(path: &Path) -> Result<FileRecord, RejectReason> {
    read_header_with(path, false)
}

/// The data set of `file` (`len` bytes, its lengths checked: `layout`) up to its Pixel Data,
/// parsed from the magic code on — a data set without the Part 10 header from its start, in the
/// syntax the length check guessed — through a buffer; or why it is not read (not DICOM, an
/// archive, truncated, an unsupported syntax).
fn parse_until_pixels(
    path: &Path,
    file: &mut File,
    len: u64,
    layout: &super::preflight::Layout,
) -> Result<dicom_object::FileDicomObject<InMemDicomObject>, RejectReason> {
    let unreadable = |e: std::io::Error| RejectReason::Unreadable(format!("cannot read file: {e}"));
    let parsed = match (layout.magic_at, layout.bare) {
        // A data set in implicit VR under an explicit VR syntax: read as the opening helper
        // reads it, up to its Pixel Data (the header alone, as below).
        (Some(_), _) if layout.implicit_vr_body => {
            let end = layout.pixel_data.map_or(len, |p| p.header_at);
            let mut head = Vec::new();
            file.seek(SeekFrom::Start(0))
                .and_then(|_| (&mut *file).take(end).read_to_end(&mut head))
                .map_err(unreadable)?;
            super::open::open_checked_bytes(&head, layout).map_err(|e| {
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
                inner: std::io::BufReader::with_capacity(16 * 1024, &mut *file),
                pos: magic_at,
                patches: &layout.unknown_sequences,
            };
            match opts.from_reader(src) {
                Ok(obj) => Ok(obj),
                // A meta group without its group length (read as the group states, its UN
                // sequences too): the whole file, by the opening helper's rules.
                Err(e) => match std::fs::read(path)
                    .ok()
                    .and_then(|b| super::open::open_checked_bytes(&b, layout).ok())
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
                inner: std::io::BufReader::with_capacity(16 * 1024, &mut *file),
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
                None if len == 0 => RejectReason::Empty,
                None => RejectReason::NotDicom,
            });
        }
    };
    parsed.map_err(|(msg, chain)| {
        if looks_truncated(&chain) {
            RejectReason::Truncated(format!("header ends early ({msg})"))
        } else if (chain.contains("nsupported") || chain.contains("Unrecognized"))
            && chain.to_lowercase().contains("transfer syntax")
        {
            // dicom-rs knows no such syntax (a retired JPEG process, 1.2.840.10008.1.2.4.65,
            // was counted as unreadable).
            RejectReason::UnsupportedTransferSyntax(msg)
        } else {
            RejectReason::Unreadable(msg)
        }
    })
}

/// `read_header`, keeping a PET image's SUV inputs in the record when `keep_suv` (about 1 KB a
/// file: asked for by what computes SUV, not by an inventory of a whole export).
/// The PatientID, SeriesInstanceUID and SOPInstanceUID of a file rejected as truncated whose
/// header is whole up to its Pixel Data (the file ends inside the pixels): so the scan can tell
/// that its series lacks a slice. None where the damage lies before the Pixel Data.
pub fn identity_before_pixels(path: &Path) -> Option<[String; 3]> {
    use super::preflight::LengthProblem;
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    match super::preflight::check(std::io::BufReader::with_capacity(16 * 1024, &mut file), len) {
        // Every element before the Pixel Data was checked whole.
        Ok(_)
        | Err(LengthProblem::TooLong {
            group: 0x7FE0,
            element: 0x0010,
            ..
        }) => {}
        Err(_) => return None,
    }
    let obj = OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .open_file(path)
        .ok()?;
    let series = str_of(&obj, tags::SERIES_INSTANCE_UID).filter(|s| !s.is_empty())?;
    Some([
        str_of(&obj, tags::PATIENT_ID).unwrap_or_default(),
        series,
        str_of(&obj, tags::SOP_INSTANCE_UID).unwrap_or_default(),
    ])
}

pub fn read_header_with(path: &Path, keep_suv: bool) -> Result<FileRecord, RejectReason> {
    let unreadable = |e: std::io::Error| RejectReason::Unreadable(format!("cannot read file: {e}"));
    let mut file = File::open(path).map_err(unreadable)?;
    let len = file.metadata().map_err(unreadable)?.len();
    // The DICM code found, and every declared length checked against the file before dicom-rs
    // reserves it (see `preflight`).
    let layout =
        super::preflight::check(std::io::BufReader::with_capacity(16 * 1024, &mut file), len)
            .map_err(length_reject)?;
    // One open for everything: the header parsed from the same handle.
    let obj = parse_until_pixels(path, &mut file, len, &layout)?;
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
        if str_of(&obj, tags::PHOTOMETRIC_INTERPRETATION)
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("PALETTE COLOR"))
        {
            return Err(RejectReason::PaletteColour);
        }
        if let Some(why) = malformed_attribute(&obj) {
            return Err(RejectReason::MissingAttribute(why));
        }
        if let Some(why) = frame_count_problem(&obj) {
            return Err(RejectReason::MissingAttribute(why));
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
        referenced_series: if modality == "SEG" || modality == "RTSTRUCT" {
            super::values::referenced_series(&obj).into()
        } else {
            Box::default()
        },
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
        pet_images: (modality == "PT")
            .then(|| {
                let slices = int_of(&obj, tags::NUMBER_OF_SLICES).filter(|n| *n > 0)?;
                let times = int_of(&obj, tags::NUMBER_OF_TIME_SLICES)
                    .filter(|n| *n > 0)
                    .unwrap_or(1);
                u64::try_from(slices)
                    .ok()?
                    .checked_mul(u64::try_from(times).ok()?)
            })
            .flatten(),
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

/// Why NumberOfFrames cannot be the number of the file's frames: not one per item of its
/// PerFrameFunctionalGroupsSequence (PS3.3 C.7.6.16.1). NumberOfFrames 1 (or 0, read as 1, as
/// pydicom, DCMTK and GDCM read it) over a 3-frame enhanced PET gave one slice, with no word.
fn frame_count_problem(obj: &InMemDicomObject) -> Option<String> {
    let items = obj
        .get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .and_then(|e| e.items())
        .map_or(0, |i| i.len());
    let frames = int_of(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1);
    (items > 0 && items as i64 != frames).then(|| {
        let stated = str_of(obj, tags::NUMBER_OF_FRAMES)
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        format!(
            "NumberOfFrames (0028,0008) is {} where PerFrameFunctionalGroupsSequence \
             (5200,9230) has {}: one item a frame expected (PS3.3 C.7.6.16.1)",
            stated.as_deref().unwrap_or("absent (1)"),
            crate::plural::count(items, "item")
        )
    })
}

/// A present attribute the voxels' values or places rest on that is not what PS3.3 says it is:
/// RescaleSlope or RescaleIntercept not one finite number (C.11.1.1.2; an empty one is absent),
/// ImageOrientationPatient not six finite numbers (C.7.6.2; six zeros, a writer's placeholder,
/// is absent), ImagePositionPatient not three, PixelSpacing not two. Such a file was read with slope 1 (one slice of a PET 4× too high, its SUV too),
/// the first of two intercepts, or as an image without orientation (stacked by InstanceNumber,
/// z-flipped), without a word. The value is not repeated (a malformed field may hold anything).
fn malformed_attribute(obj: &InMemDicomObject) -> Option<String> {
    // A lookup table from stored values to output values (in place of RescaleSlope and
    // RescaleIntercept, PS3.3 C.11.1): not applied, so the values would be the stored ones (a CT
    // whose table doubles them was written in half its HU, as dcm2niix writes it; audit of
    // hand-made series). Only where the values are measurements (CT, MR, PET, NM): a
    // radiograph's or mammogram's table (routine there) maps to display units, converted as
    // stored as dcm2niix does.
    let quantitative =
        str_of(obj, tags::MODALITY).is_some_and(|m| matches!(m.trim(), "CT" | "MR" | "PT" | "NM"));
    if quantitative
        && obj
            .get(tags::MODALITY_LUT_SEQUENCE)
            .and_then(|e| e.items())
            .is_some_and(|items| !items.is_empty())
    {
        return Some(
            "Modality LUT Sequence (0028,3000) maps the stored values through a lookup table \
             (PS3.3 C.11.1), which ancilla does not apply: its values would be the stored ones"
                .into(),
        );
    }
    // Present: a value that is not empty. Read as the reader reads it (`f64s_of`: an empty last
    // value, a trailing backslash, left out).
    let present = |tag| str_of(obj, tag).is_some_and(|t| !t.trim().is_empty());
    for (tag, name) in [
        (tags::RESCALE_SLOPE, "RescaleSlope (0028,1053)"),
        (tags::RESCALE_INTERCEPT, "RescaleIntercept (0028,1052)"),
    ] {
        if present(tag) && !matches!(f64s_of(obj, tag).as_deref(), Some([v]) if v.is_finite()) {
            return Some(format!(
                "{name} is not one finite number (PS3.3 C.11.1.1.2): the stored values \
                 cannot be rescaled"
            ));
        }
    }
    let iop = tags::IMAGE_ORIENTATION_PATIENT;
    if present(iop) {
        let values = f64s_of(obj, iop);
        let placeholder = values.as_deref() == Some(&[0.0; 6][..]);
        // What the reader takes (`orientation6`) from exactly six values, or else refused:
        // never read as none, nor from the first six of more values.
        let well_formed =
            values.as_ref().is_some_and(|v| v.len() == 6) && orientation6(values).is_some();
        if !placeholder && !well_formed {
            return Some(
                "ImageOrientationPatient (0020,0037) is not six finite numbers (PS3.3 C.7.6.2): \
                 the image cannot be placed"
                    .into(),
            );
        }
    }
    // Position and pixel spacing with more (or fewer) values than they hold, or one that is no
    // finite number: read from their first values, or as absent, without a word before.
    for (tag, count, what) in [
        (
            tags::IMAGE_POSITION_PATIENT,
            3,
            "ImagePositionPatient (0020,0032) is not three finite numbers (PS3.3 C.7.6.2.1.1): \
             the image cannot be placed",
        ),
        (
            tags::PIXEL_SPACING,
            2,
            "PixelSpacing (0028,0030) is not two finite numbers (PS3.3 10.7.1.3): the pixels \
             have no size",
        ),
    ] {
        let values = f64s_of(obj, tag);
        let well_formed = values
            .as_ref()
            .is_some_and(|v| v.len() == count && v.iter().all(|x| x.is_finite()));
        if present(tag) && !well_formed {
            return Some(what.into());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
