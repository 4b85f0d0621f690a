//! The JSON sidecar of a converted series: acquisition parameters under the BIDS names dcm2niix
//! writes (its spellings of Manufacturer and ImageType, phase encoding with Siemens' polarity,
//! slice timing of mosaics, readout timing), Philips' scaling factors, PET's radiopharmaceutical,
//! the written volume's grid. No PHI: not the descriptions, dates, institution or device
//! identity PS3.15 removes (which dcm2niix writes).

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use serde_json::{json, Map, Value};

use crate::ingest::geometry::VolumePlan;
use crate::ingest::header::{Component, FileRecord, ImageRecord};
use crate::ingest::values::{f64_of, first_item, str_of};
use crate::ingest::Series;
use crate::volume::assemble::SeriesVolume;

/// BIDS phase encoding of a 2D acquisition, as dcm2niix writes it: with the maker's polarity
/// (`positive`, see [`super::phase_polarity`]) `PhaseEncodingDirection` — the voxel axis of
/// InPlanePhaseEncodingDirection (ROW → i, COL → j), reversed ("-") for a positive column or a
/// negative row direction, since the written rows are flipped; without it `PhaseEncodingAxis`.
/// None for 3D acquisitions without an echo train or EPI readout, or spin echoes (dcm2niix writes
/// neither), or without the DICOM direction.
fn phase_encoding(
    obj: &dicom_object::InMemDicomObject,
    csa: Option<&crate::ingest::siemens::Csa>,
    positive: Option<bool>,
) -> Option<(&'static str, String)> {
    let column = crate::ingest::header::phase_encoding_along_columns(obj)?;
    // dcm2niix skips 3D acquisitions except those with an echo train or an EPI readout (a
    // phase-encoding bandwidth) that are not spin echoes (3D EPI, multi-echo GRE, Philips'
    // TFE with its echo train).
    if str_of(obj, tags::MR_ACQUISITION_TYPE).is_some_and(|t| t == "3D") {
        let spin_echo = str_of(obj, tags::SCANNING_SEQUENCE).is_some_and(|s| s.contains("SE"));
        let train = crate::ingest::readout::echo_train_length(obj).is_some_and(|n| n > 1);
        let epi = crate::ingest::siemens::bandwidth_per_pixel_phase_encode(obj, csa).is_some();
        if spin_echo || !(train || epi) {
            return None;
        }
    }
    Some(phase_encoding_key(column, positive))
}

/// The BIDS key and value of a 2D acquisition's phase encoding along columns (`column`) or rows,
/// with its polarity when known.
fn phase_encoding_key(column: bool, positive: Option<bool>) -> (&'static str, String) {
    let axis = if column { "j" } else { "i" };
    match positive {
        Some(p) => {
            let sign = if p == column { "-" } else { "" };
            ("PhaseEncodingDirection", format!("{axis}{sign}"))
        }
        None => ("PhaseEncodingAxis", axis.to_string()),
    }
}

/// Philips MR values written as its floating-point values (dcm2niix's default, `philips_float`):
/// the display value is the value × RS × SS; the three are recorded under dcm2niix's names.
fn philips_scaling_keys(m: &mut Map<String, Value>, obj: &InMemDicomObject, philips_float: bool) {
    let ss = crate::ingest::frames::philips_scale_slope(obj).filter(|_| philips_float);
    if let Some(ss) = ss {
        let num = |t| f64_of(obj, t);
        m.insert("UsePhilipsFloatNotDisplayScaling".into(), json!(1));
        // dcm2niix's digits (%g): 0.00026825 for the FL 0.00026825038, 2.10794 for the DS
        // 2.1079365079365.
        let g = |x: f64| json!(crate::digits::significant6(x));
        m.insert("PhilipsScaleSlope".into(), g(ss));
        if let Some(rs) = num(tags::RESCALE_SLOPE) {
            m.insert("PhilipsRescaleSlope".into(), g(rs));
        }
        if let Some(ri) = num(tags::RESCALE_INTERCEPT) {
            m.insert("PhilipsRescaleIntercept".into(), g(ri));
        }
    }
}

/// The acquisition's text attributes under dcm2niix's BIDS names; ImageType as its list, with the
/// complex component of the frame (`frame_component`) or of GE's private image type added.
fn text_keys(
    m: &mut Map<String, Value>,
    obj: &InMemDicomObject,
    frame_component: Option<Component>,
) {
    let strs = [
        ("ManufacturersModelName", tags::MANUFACTURER_MODEL_NAME),
        ("ScanningSequence", tags::SCANNING_SEQUENCE),
        ("SequenceVariant", tags::SEQUENCE_VARIANT),
        ("ImageType", tags::IMAGE_TYPE),
        ("ConvolutionKernel", tags::CONVOLUTION_KERNEL),
        ("Units", tags::UNITS),
        ("DecayCorrection", tags::DECAY_CORRECTION),
        ("CorrectedImage", tags::CORRECTED_IMAGE),
        ("ReconstructionMethod", tags::RECONSTRUCTION_METHOD),
        (
            "PhotometricInterpretation",
            tags::PHOTOMETRIC_INTERPRETATION,
        ),
        // Acquisition parameters under dcm2niix's BIDS names; not those PS3.15 removes
        // (its device identity: station, serial number, software versions).
        ("MRAcquisitionType", tags::MR_ACQUISITION_TYPE),
        ("PatientPosition", tags::PATIENT_POSITION),
        ("SequenceName", tags::SEQUENCE_NAME),
        (
            "InPlanePhaseEncodingDirectionDICOM",
            tags::IN_PLANE_PHASE_ENCODING_DIRECTION,
        ),
        ("BodyPart", tags::BODY_PART_EXAMINED),
        ("ScanOptions", tags::SCAN_OPTIONS),
        // What an RT Dose grid's values are (GY or RELATIVE; PHYSICAL or EFFECTIVE; PLAN,
        // BEAM, FRACTION...): its voxels are stored × DoseGridScaling.
        ("DoseUnits", tags::DOSE_UNITS),
        ("DoseType", tags::DOSE_TYPE),
        ("DoseSummationType", tags::DOSE_SUMMATION_TYPE),
    ];
    for (name, tag) in strs {
        if let Some(v) = str_of(obj, tag).filter(|v| !v.is_empty()) {
            // A list for ImageType only; other multi-valued attributes keep DICOM's
            // backslashes, as dcm2niix writes them ("SequenceVariant": "SK\\SS").
            let val = if name == "ImageType" {
                let others: Vec<_> = [crate::ingest::header::ge_image_type(obj), frame_component]
                    .into_iter()
                    .flatten()
                    .collect();
                json!(image_type_as_dcm2niix(&v, &others))
            } else {
                json!(v)
            };
            m.insert(name.into(), val);
        }
    }
}

/// The sidecar: acquisition parameters (BIDS names where BIDS has one), no PHI. The keys are
/// written in this order (a later one may replace an earlier, as dcm2niix's do): the series'
/// own, those of the first image's header (`header_keys`), the 4D timing, the written grid.
pub(super) fn sidecar(
    series: &Series,
    vols: &[SeriesVolume],
    part: usize,
    timing: Option<&super::timing::VolumeTiming>,
) -> Value {
    let mut m = Map::new();
    // None without one (a secondary capture may have it empty), as dcm2niix: not `""`.
    if !series.modality.is_empty() {
        m.insert("Modality".into(), json!(series.modality));
    }
    m.insert("SeriesKind".into(), json!(series.kind.as_str()));
    // dcm2niix writes none below 1 (it numbers such a series by a checksum of its UID).
    if let Some(n) = series.series_number.filter(|n| *n > 0) {
        m.insert("SeriesNumber".into(), json!(n));
    }
    let first = FirstImage::of(series, part);
    let (iop_dicom, ge_extra_tr_ms) = match first.header() {
        Some(obj) => {
            let keys = header_keys(&mut m, &obj, &first, series, vols, part);
            // A diffusion-weighted volume with no direction where the maker wrote one this
            // reader cannot place: its .bvec row is 0 0 0, said here (an audit: it was silent).
            let undirected = vols
                .iter()
                .any(|v| v.b_value.is_some_and(|b| b > 0.0) && v.gradient.is_none());
            if let Some(why) = undirected
                .then(|| crate::ingest::diffusion::unplaced_direction(&obj))
                .flatten()
            {
                m.insert("GradientDirectionsMissing".into(), json!(why));
            }
            keys
        }
        None => (None, None),
    };
    // A 4D file's time between volumes, then a GE multi-phase delay on top (the sidecar's
    // RepetitionTime only, as dcm2niix's).
    if let Some(t) = timing {
        t.write_into(&mut m);
    }
    if let (Some(extra), Some(tr)) = (
        ge_extra_tr_ms,
        m.get("RepetitionTime").and_then(Value::as_f64),
    ) {
        let tr = crate::digits::significant6(tr + extra / 1000.0);
        m.insert("RepetitionTime".into(), json!(tr));
    }
    grid_keys(&mut m, vols, iop_dicom);
    m.insert("ConversionSoftware".into(), json!("ancilla"));
    m.insert(
        "ConversionSoftwareVersion".into(),
        json!(env!("CARGO_PKG_VERSION")),
    );
    Value::Object(m)
}

/// What the file is described by: the volume plan of its (first) volume, and the file and image
/// of that volume's first slice. An echo or a plane of a split series is described by its own
/// images, as dcm2niix describes it.
struct FirstImage<'a> {
    plan: Option<&'a VolumePlan>,
    file: Option<&'a FileRecord>,
    /// The image of the first slice: its frame in an enhanced file, its tile in a mosaic.
    image: Option<&'a ImageRecord>,
    /// The frame whose functional groups describe it (0 for a mosaic: its tiles are one frame).
    frame: u32,
}

impl<'a> FirstImage<'a> {
    fn of(series: &'a Series, part: usize) -> Self {
        let plan = series.plan.as_ref().ok().and_then(|p| p.get(part));
        let first_slice = plan.and_then(|p| p.slices.first());
        let file = first_slice
            .and_then(|s| series.files.get(s.file))
            .or_else(|| series.files.first())
            .map(|f| &**f);
        let image = first_slice.and_then(|s| {
            let f = series.files.get(s.file)?;
            f.images.iter().find(|i| i.frame == s.frame)
        });
        let frame = first_slice
            .filter(|_| file.is_some_and(|f| f.mosaic.is_none()))
            .map_or(0, |s| s.frame);
        FirstImage {
            plan,
            file,
            image,
            frame,
        }
    }

    /// The file's header with its functional groups' attributes (of the frame) lifted to the
    /// top level, as dcm2niix reads them: EchoTime, RepetitionTime, FlipAngle...
    fn header(&self) -> Option<InMemDicomObject> {
        header_of_frame(self.file?, self.frame)
    }

    fn is_mosaic(&self) -> bool {
        self.file.is_some_and(|f| f.mosaic.is_some())
    }
}

/// The first image's header with what is read from it once: Siemens' CSA image header and the
/// maker's short name (`ingest::header::maker`).
#[derive(Clone, Copy)]
struct Header<'a> {
    obj: &'a InMemDicomObject,
    csa: Option<&'a crate::ingest::siemens::Csa>,
    maker: Option<&'a str>,
}

/// `file`'s header, the functional groups of frame `frame` lifted (an enhanced file).
fn header_of_frame(file: &FileRecord, frame: u32) -> Option<InMemDicomObject> {
    crate::ingest::open::open_file(&file.path, true)
        .ok()
        .map(|o| {
            let o = o.into_inner();
            crate::ingest::flat_header::flattened(&o, frame).unwrap_or(o)
        })
}

/// The keys read from the first image's header `obj`, in dcm2niix's order; returns DICOM's
/// ImageOrientationPatient as written (for `grid_keys`) and a GE multi-phase delay (ms) to add
/// to the repetition time after the 4D timing.
fn header_keys(
    m: &mut Map<String, Value>,
    obj: &InMemDicomObject,
    first: &FirstImage,
    series: &Series,
    vols: &[SeriesVolume],
    part: usize,
) -> (Option<Vec<f64>>, Option<f64>) {
    philips_scaling_keys(m, obj, first.image.is_some_and(|i| i.philips_float));
    if let Some(maker) = str_of(obj, tags::MANUFACTURER).filter(|v| !v.is_empty()) {
        m.insert(
            "Manufacturer".into(),
            json!(crate::ingest::header::maker_name(&maker)),
        );
    }
    // The complex component of the file's first image: ComplexImageComponent, the frame's in an
    // enhanced file.
    text_keys(m, obj, first.image.and_then(|i| i.component));
    // The attribute, else (enhanced files) the first slice's frame's PlaneOrientationSequence:
    // DICOM's directions before any rotation of a 3D acquisition, as dcm2niix reports them.
    let first_frame_orientation = first.image.and_then(|i| i.orientation).map(|o| o.to_vec());
    let iop_dicom = crate::ingest::values::f64s_of(obj, tags::IMAGE_ORIENTATION_PATIENT)
        .or(first_frame_orientation)
        .filter(|v| v.len() == 6 && v.iter().all(|x| x.is_finite()))
        .map(|v| v.into_iter().map(crate::digits::significant6).collect());
    let csa = crate::ingest::siemens::csa_image_header(obj);
    let maker = crate::ingest::header::maker(obj);
    let header = Header {
        obj,
        csa: csa.as_ref(),
        maker: maker.as_deref(),
    };
    let positive = super::phase_polarity::positive(obj, csa.as_ref(), maker.as_deref());
    if let Some((key, value)) = phase_encoding(obj, csa.as_ref(), positive) {
        m.insert(key.into(), json!(value));
    }
    if maker.as_deref() == Some("GE") {
        if let Some(p) = positive {
            let text = if p { "Unflipped" } else { "Flipped" };
            m.insert("PhaseEncodingPolarityGE".into(), json!(text));
        }
    }
    let ge_extra_tr_ms = timing_keys(m, &header, first, series, vols, part);
    let facts = super::acquisition_keys::SeriesFacts {
        siemens: maker.as_deref() == Some("Siemens"),
        phase: first.file.is_some_and(|f| f.component == Component::Phase),
        diffusion: series.kind == crate::ingest::SeriesKind::Dwi
            || vols.iter().any(|v| v.b_value.is_some_and(|b| b > 0.0)),
        multiband: m
            .get("MultibandAccelerationFactor")
            .and_then(Value::as_f64)
            .unwrap_or(1.0),
        volumes: vols.len(),
    };
    for (key, value) in super::acquisition_keys::acquisition_keys(obj, &facts) {
        m.insert(key.into(), value);
    }
    maker_keys(m, &header);
    echo_number_key(m, obj, first, series);
    numeric_keys(m, obj);
    pet_keys(m, obj, series, vols, part);
    (iop_dicom, ge_extra_tr_ms)
}

/// Slice timing (a Siemens mosaic's in the order its slices are written; a classic Siemens or
/// UIH time series' from acquisition times; GE's estimated from its protocol, with its multiband
/// factor) and the readout keys that depend on it. Returns GE's multi-phase delay (ms).
fn timing_keys(
    m: &mut Map<String, Value>,
    header: &Header,
    first: &FirstImage,
    series: &Series,
    vols: &[SeriesVolume],
    part: usize,
) -> Option<f64> {
    let Header { obj, csa, maker } = *header;
    let plan = first.plan;
    let mosaic = first.is_mosaic();
    // UIH: a time series' AcquisitionTimes, as Siemens' (dcm2niix's `sliceTimingUIH`).
    let (siemens, uih) = (maker == Some("Siemens"), maker == Some("UIH"));
    // GE: estimated from its protocol (`ge_timing`); its multiband factor and a multi-phase
    // delay come from there too.
    let ge = (maker == Some("GE"))
        .then(|| plan.map(|p| super::ge_timing::ge_timing(obj, series, p, vols.len())))
        .flatten()
        .unwrap_or_default();
    if let Some(mb) = ge.multiband {
        m.insert("MultibandAccelerationFactor".into(), json!(mb));
    }
    let classic = if !mosaic && siemens {
        plan.and_then(|p| siemens_slice_times(series, p, part, vols.len(), obj))
    } else if uih && vols.len() >= 2 {
        plan.and_then(|p| classic_slice_times(series, p))
    } else {
        ge.times_ms.clone()
    };
    // (GE's estimated times say nothing of its readout: dcm2niix reads them after it.)
    // A mosaic's times: those of the volume dcm2niix trusts (`mosaic_timing`); what it counts
    // simultaneous slices in, the first volume's when none is trusted.
    let (times, mosaic_times) = if mosaic {
        let (recorded, chosen) =
            super::mosaic_timing::series_times(series, part, vols.len(), obj, csa);
        (chosen.clone().unwrap_or(recorded), chosen)
    } else if ge.times_ms.is_some() {
        (Vec::new(), None)
    } else {
        (classic.clone().unwrap_or_default(), None)
    };
    let mosaic_tiles: Option<Vec<u32>> = plan
        .filter(|_| mosaic)
        .map(|p| p.slices.iter().map(|s| s.frame).collect());
    if let Some(timing) = mosaic_tiles
        .zip(mosaic_times)
        .and_then(|(tiles, times)| crate::ingest::siemens::slice_timing(&times, &tiles))
    {
        m.insert("SliceTiming".into(), json!(timing));
    }
    if let Some(ms) = classic {
        let timing: Vec<f64> = ms
            .iter()
            .map(|t| crate::digits::significant6(t / 1000.0))
            .collect();
        m.insert("SliceTiming".into(), json!(timing));
    }
    // The reconstructed image's size (a mosaic's tile), before any rotation.
    if let Some(plan) = plan {
        for (key, value) in
            crate::ingest::readout::readout_keys(obj, csa, plan.rows, plan.columns, &times)
        {
            m.insert(key.into(), value);
        }
    }
    ge.extra_tr_ms
}

/// Keys of one maker's attributes: GE's and Philips' TriggerTime (ms; Philips' enhanced
/// TriggerDelayTime over it, GE's of its first slice: it varies by slice), GE's private keys, and
/// the table position.
fn maker_keys(m: &mut Map<String, Value>, header: &Header) {
    let Header { obj, csa, maker } = *header;
    let trigger = match maker {
        Some("Philips") => f64_of(obj, tags::NOMINAL_CARDIAC_TRIGGER_DELAY_TIME)
            .or_else(|| f64_of(obj, tags::TRIGGER_TIME)),
        Some("GE") => f64_of(obj, tags::TRIGGER_TIME),
        _ => None,
    };
    if let Some(t) = trigger.filter(|t| t.is_finite() && *t > 0.0) {
        m.insert(
            "TriggerDelayTime".into(),
            json!(crate::digits::significant6(t)),
        );
    }
    if maker == Some("GE") {
        for (key, value) in super::ge_keys::ge_keys(obj) {
            m.insert(key.into(), value);
        }
    }
    if let Some(xyz) = super::table_position::table_position(obj, csa, maker) {
        m.insert("TablePosition".into(), json!(xyz));
    }
}

/// Every echo of a multi-echo series says which it is (dcm2niix: the first too). An enhanced
/// file has no EchoNumbers: its echo's place in TE order (the label's number, `e2`), as dcm2niix
/// numbers it. A classic series split by EchoTime alone gets none (neither from dcm2niix).
fn echo_number_key(
    m: &mut Map<String, Value>,
    obj: &InMemDicomObject,
    first: &FirstImage,
    series: &Series,
) {
    let echo_split = series
        .plan
        .as_ref()
        .is_ok_and(|p| p.len() > 1 && p.iter().all(|v| v.label.starts_with('e')));
    if !echo_split {
        return;
    }
    let enhanced = obj
        .get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .is_some();
    let from_label = || {
        let digits: String = first
            .plan?
            .label
            .strip_prefix('e')?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse::<f64>().ok()
    };
    let n = f64_of(obj, tags::ECHO_NUMBERS).or_else(|| enhanced.then(from_label).flatten());
    if let Some(n) = n.filter(|n| *n >= 1.0) {
        m.insert("EchoNumber".into(), json!(n as i64));
    }
}

/// Numeric acquisition parameters under their BIDS names and units (times in s), six
/// significant digits as dcm2niix prints them (%g); the imaging frequency as written.
fn numeric_keys(m: &mut Map<String, Value>, obj: &InMemDicomObject) {
    let nums = [
        ("MagneticFieldStrength", tags::MAGNETIC_FIELD_STRENGTH, 1.0),
        ("EchoTime", tags::ECHO_TIME, 1e-3),
        ("RepetitionTime", tags::REPETITION_TIME, 1e-3),
        ("InversionTime", tags::INVERSION_TIME, 1e-3),
        ("FlipAngle", tags::FLIP_ANGLE, 1.0),
        ("PixelBandwidth", tags::PIXEL_BANDWIDTH, 1.0),
        ("ImagingFrequency", tags::IMAGING_FREQUENCY, 1.0),
        ("PercentPhaseFOV", tags::PERCENT_PHASE_FIELD_OF_VIEW, 1.0),
        ("PercentSampling", tags::PERCENT_SAMPLING, 1.0),
        ("SAR", tags::SAR, 1.0),
        ("SliceThickness", tags::SLICE_THICKNESS, 1.0),
        ("PatientWeight", tags::PATIENT_WEIGHT, 1.0),
    ];
    for (name, tag, scale) in nums {
        let value = match tag {
            // An enhanced MR's echo time is its frame's EffectiveEchoTime (dcm2niix's TE too,
            // over a top-level EchoTime: the later element in its stream wins).
            tags::ECHO_TIME => f64_of(obj, tags::EFFECTIVE_ECHO_TIME).or_else(|| f64_of(obj, tag)),
            tags::IMAGING_FREQUENCY => crate::ingest::header::imaging_frequency(obj),
            // GE's epiRT group delay is part of its repetition time.
            tags::REPETITION_TIME => crate::ingest::ge::repetition_time_ms(obj, f64_of(obj, tag)),
            _ => f64_of(obj, tag),
        };
        if let Some(v) = value {
            let v = if name == "ImagingFrequency" {
                v * scale
            } else {
                crate::digits::significant6(v * scale)
            };
            m.insert(name.into(), json!(v));
        }
    }
}

/// The radiopharmaceutical, and a PET series' keys (`pet_keys`) from the header of each
/// volume's first image, in volume order (dynamic PET frames; an enhanced PET's with that
/// frame's functional groups lifted).
fn pet_keys(
    m: &mut Map<String, Value>,
    obj: &InMemDicomObject,
    series: &Series,
    vols: &[SeriesVolume],
    part: usize,
) {
    if let Some(rp) = first_item(obj, tags::RADIOPHARMACEUTICAL_INFORMATION_SEQUENCE) {
        if let Some(v) = str_of(rp, tags::RADIOPHARMACEUTICAL) {
            m.insert("Radiopharmaceutical".into(), json!(v));
        }
        if let Some(v) = f64_of(rp, tags::RADIONUCLIDE_HALF_LIFE) {
            m.insert("RadionuclideHalfLife".into(), json!(v));
        }
        if let Some(v) = f64_of(rp, tags::RADIONUCLIDE_TOTAL_DOSE) {
            m.insert("RadionuclideTotalDose".into(), json!(v));
        }
    }
    if series.modality != "PT" {
        return;
    }
    let plans = series.plan.as_ref().map(Vec::as_slice).unwrap_or_default();
    let frames: Vec<_> = plans
        .iter()
        .skip(part)
        .take(vols.len().max(1))
        .filter_map(|p| {
            let s = p.slices.first()?;
            header_of_frame(series.files.get(s.file)?, s.frame)
        })
        .collect();
    for (key, value) in super::pet_keys::pet_keys(obj, &frames) {
        m.insert(key.into(), value);
    }
}

/// The written grid: slice spacing, pixel spacing, DICOM's orientation (`iop_dicom` as written,
/// dcm2niix's %g, else the grid's directions; none for images without orientation, whose
/// geometry is a placeholder), dimensions, and the b-values of a diffusion series.
fn grid_keys(m: &mut Map<String, Value>, vols: &[SeriesVolume], iop_dicom: Option<Vec<f64>>) {
    if let Some(v) = vols.first() {
        let g = &v.volume.geometry;
        m.insert(
            "SpacingBetweenSlices".into(),
            json!(crate::digits::significant6(g.spacing[2])),
        );
        m.insert("PixelSpacing".into(), json!([g.spacing[1], g.spacing[0]]));
        if v.placed {
            let iop = iop_dicom.unwrap_or_else(|| {
                vec![
                    g.direction[0][0],
                    g.direction[0][1],
                    g.direction[0][2],
                    g.direction[1][0],
                    g.direction[1][1],
                    g.direction[1][2],
                ]
            });
            m.insert("ImageOrientationPatientDICOM".into(), json!(iop));
        }
        // A 4D file's too: its volumes' count (it was 3 numbers beside a 4D file; an audit).
        let d = v.volume.dims();
        let dims = match vols.len() {
            1 => json!([d[2], d[1], d[0]]),
            n => json!([d[2], d[1], d[0], n]),
        };
        m.insert("Dims".into(), dims);
    }
    let bvals: Vec<f64> = vols.iter().filter_map(|v| v.b_value).collect();
    if !bvals.is_empty() {
        m.insert("BValues".into(), json!(bvals));
    }
}

/// The slice times (ms) of a Siemens series that is not a mosaic: from TimeAfterStart on XA
/// scanners (`xa_timing`), else from AcquisitionTime (`classic_slice_times`).
fn siemens_slice_times(
    series: &Series,
    plan: &crate::ingest::geometry::VolumePlan,
    part: usize,
    volumes: usize,
    obj: &dicom_object::InMemDicomObject,
) -> Option<Vec<f64>> {
    use super::xa_timing::{is_xa, xa_slice_times, XaSliceTimes};
    let plans = series.plan.as_ref().ok()?;
    let first = series.files.get(plan.slices.first()?.file)?;
    let xa = str_of(obj, tags::SOFTWARE_VERSIONS).is_some_and(|v| is_xa(&v));
    let derived = first.image_type.iter().any(|t| t.contains("DERIVED"));
    // The time between volumes dcm2niix has settled on by then (the acquisition times'
    // spacing when they overrule the header).
    let tr_ms = super::timing::volume_timing(series, Some(obj), Some(&plan.stack))
        .map(|t| t.step_s * 1000.0)
        .filter(|t| *t > 0.0)
        .or(first.repetition_time);
    match xa_slice_times(series, plans, part, volumes, xa, tr_ms, derived) {
        XaSliceTimes::Absent => classic_slice_times(series, plan),
        XaSliceTimes::None => None,
        XaSliceTimes::Times(ms) => Some(ms),
    }
}

/// The slice times (ms) of a classic 2D MR series (one single-frame file a slice, not a 3D
/// acquisition), in written order, from the first volume's AcquisitionTime: dcm2niix's
/// SliceTiming for Siemens (`siemens::classic_slice_times_ms`). None for anything else.
fn classic_slice_times(
    series: &Series,
    plan: &crate::ingest::geometry::VolumePlan,
) -> Option<Vec<f64>> {
    if series.modality != "MR" || plan.slices.len() < 2 {
        return None;
    }
    let times: Vec<Option<&str>> = plan
        .slices
        .iter()
        .map(|s| {
            let f = series.files.get(s.file)?;
            if f.acquisition_3d || f.frames != 1 || f.mosaic.is_some() {
                return None;
            }
            f.images
                .iter()
                .find(|r| r.frame == s.frame)?
                .acquisition_time
                .as_deref()
        })
        .collect();
    crate::ingest::siemens::classic_slice_times_ms(&times)
}

/// ImageType as dcm2niix writes it: the values (split at `\\` and `_`, empty ones dropped), then
/// the complex components it finds and the values do not name, in its order (MAGNITUDE, PHASE,
/// REAL, IMAGINARY). Its tests are substring tests on the values joined by `_` (so a last value
/// `PHASE` is not `_PHASE_` and is named again); the components come from those codes (`M`,
/// `P`, `R`, `I`, `MAGNITUDE`, `PHASE`, `REAL`, `IMAGINARY`), from ComplexImageComponent
/// (0008,9208; the frame's in an enhanced file) and GE's private image type, in `others`.
fn image_type_as_dcm2niix(
    image_type: &str,
    others: &[crate::ingest::header::Component],
) -> Vec<String> {
    use crate::ingest::header::Component;
    let values: Vec<String> = image_type
        .split('\\')
        .flat_map(|v| v.split('_'))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    let joined = image_type.trim().replace('\\', "_");
    let has = |s: &str| joined.contains(s);
    let from_codes = [
        (Component::Magnitude, has("_M_") || has("_MAGNITUDE_")),
        (Component::Phase, has("_P_") || has("PHASE")),
        (Component::Real, has("_R_") || has("_REAL_")),
        (Component::Imaginary, has("_I_") || has("_IMAGINARY_")),
    ];
    let mut out = values;
    for (c, coded) in from_codes {
        let word = c.name().to_ascii_uppercase();
        if (coded || others.contains(&c)) && !has(&format!("_{word}_")) {
            out.push(word);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dcm2niix v1.0.20260724's sidecar of nibabel's philips_mprage.dcm (RS "2.1079365079365",
    /// RI "0", MR Scale Slope FL 0.00026825038): its digits (`%g`). ancilla wrote
    /// 2.1079365079365 and 0.00026825038.
    #[test]
    fn philips_scaling_keys_have_dcm2niix_digits() {
        use dicom_core::{DataElement, PrimitiveValue, VR};
        let mut o = InMemDicomObject::new_empty();
        for (tag, vr, v) in [
            (tags::MANUFACTURER, VR::LO, "Philips Medical Systems"),
            (tags::MODALITY, VR::CS, "MR"),
            (tags::RESCALE_SLOPE, VR::DS, "2.1079365079365"),
            (tags::RESCALE_INTERCEPT, VR::DS, "0"),
        ] {
            o.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
        }
        o.put(DataElement::new(
            dicom_core::Tag(0x2005, 0x100E),
            VR::FL,
            PrimitiveValue::F32(vec![0.000_268_250_38_f32].into()),
        ));
        let mut m = Map::new();
        philips_scaling_keys(&mut m, &o, true);
        assert_eq!(m["PhilipsScaleSlope"], json!(0.00026825));
        assert_eq!(m["PhilipsRescaleSlope"], json!(2.10794));
        assert_eq!(m["PhilipsRescaleIntercept"], json!(0.0));
        assert_eq!(m["UsePhilipsFloatNotDisplayScaling"], json!(1));
    }

    /// dcm2niix v1.0.20260724's keys on heudiconv's Siemens series (ROW, positive: "i"; COL,
    /// positive: "j-") and on nibabel's mosaic (COL, no polarity: PhaseEncodingAxis "j"); a
    /// negative polarity reverses the sign.
    #[test]
    fn phase_encoding_keys_follow_dcm2niix() {
        let cases = [
            (false, Some(true), "PhaseEncodingDirection", "i"),
            (true, Some(true), "PhaseEncodingDirection", "j-"),
            (true, Some(false), "PhaseEncodingDirection", "j"),
            (false, Some(false), "PhaseEncodingDirection", "i-"),
            (true, None, "PhaseEncodingAxis", "j"),
        ];
        for (column, positive, key, value) in cases {
            assert_eq!(
                phase_encoding_key(column, positive),
                (key, value.to_string()),
                "{column} {positive:?}"
            );
        }
    }

    /// dcm2niix v1.0.20260724's ImageType for MR_small with only ImageType (and Manufacturer:
    /// Siemens, GE and Philips alike) changed.
    #[test]
    fn image_type_is_written_as_dcm2niix_writes_it() {
        let cases: [(&str, &[&str]); 10] = [
            (
                "ORIGINAL\\PRIMARY\\M\\ND",
                &["ORIGINAL", "PRIMARY", "M", "ND", "MAGNITUDE"],
            ),
            (
                "ORIGINAL\\PRIMARY\\P\\ND",
                &["ORIGINAL", "PRIMARY", "P", "ND", "PHASE"],
            ),
            (
                "ORIGINAL\\PRIMARY\\R\\ND",
                &["ORIGINAL", "PRIMARY", "R", "ND", "REAL"],
            ),
            (
                "ORIGINAL\\PRIMARY\\I\\ND",
                &["ORIGINAL", "PRIMARY", "I", "ND", "IMAGINARY"],
            ),
            (
                "ORIGINAL\\PRIMARY\\OTHER",
                &["ORIGINAL", "PRIMARY", "OTHER"],
            ),
            (
                "ORIGINAL\\PRIMARY\\MAGNITUDE",
                &["ORIGINAL", "PRIMARY", "MAGNITUDE"],
            ),
            (
                "DERIVED\\PRIMARY\\PHASE",
                &["DERIVED", "PRIMARY", "PHASE", "PHASE"],
            ),
            (
                "ORIGINAL\\PRIMARY\\M_SE\\M\\SE",
                &["ORIGINAL", "PRIMARY", "M", "SE", "M", "SE", "MAGNITUDE"],
            ),
            ("ORIGINAL\\PRIMARY\\REAL", &["ORIGINAL", "PRIMARY", "REAL"]),
            (
                "DERIVED\\SECONDARY\\ADC_MAP",
                &["DERIVED", "SECONDARY", "ADC", "MAP"],
            ),
        ];
        for (dicom, dcm2niix) in cases {
            assert_eq!(image_type_as_dcm2niix(dicom, &[]), dcm2niix, "{dicom}");
        }
        // A GE image whose ImageType names no component: GE's private type (0043,xx2F) does
        // (dcm2niix on a GE magnitude/phase series of this layout).
        use crate::ingest::header::Component;
        assert_eq!(
            image_type_as_dcm2niix("ORIGINAL\\PRIMARY\\OTHER", &[Component::Phase]),
            ["ORIGINAL", "PRIMARY", "OTHER", "PHASE"]
        );
        assert_eq!(
            image_type_as_dcm2niix("ORIGINAL\\PRIMARY\\OTHER", &[Component::Magnitude]),
            ["ORIGINAL", "PRIMARY", "OTHER", "MAGNITUDE"]
        );
        // A double backslash (an empty value) is no value (dcm2niix on pydicom's MPR file).
        assert_eq!(
            image_type_as_dcm2niix("DERIVED\\SECONDARY\\\\CSAPARALLEL", &[]),
            ["DERIVED", "SECONDARY", "CSAPARALLEL"]
        );
    }
}
