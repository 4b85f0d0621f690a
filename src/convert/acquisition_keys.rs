//! Sidecar keys that describe the acquisition beyond its geometry and readout, under the names
//! and by the rules of dcm2niix v1.0.20260724's BIDS sidecar: the Siemens protocol's keys (the
//! ASCCONV block of the CSA series header's MrPhoenixProtocol, and Siemens private attributes)
//! and the sequence descriptions dcm2niix derives from standard attributes (PS3.3 C.8.3.1:
//! ScanningSequence, SequenceVariant, ImageType; C.8.13.5.1: SpoilingState... as (0018,9016)).
//! Numbers are printed as dcm2niix prints them (`%g`: six significant digits). Left out, as
//! the rest of the sidecar leaves them out: the software baseline (ConsistencyInfo), which
//! PS3.15 removes with the device's identity.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use serde_json::{json, Value};

use crate::digits::significant6;
use crate::ingest::siemens::{phoenix_protocol, protocol_number, protocol_text};
use crate::ingest::values::{creator_element, f64_of, str_of, text_number, text_of};

/// What the series is, as far as these keys depend on it.
pub(super) struct SeriesFacts {
    /// Siemens made it (dcm2niix's maker name).
    pub siemens: bool,
    /// Its images hold phase (EchoTime1 and EchoTime2 of a field map).
    pub phase: bool,
    /// A diffusion series (DiffusionScheme).
    pub diffusion: bool,
    /// Slices excited together (MultibandAccelerationFactor), 1 when none.
    pub multiband: f64,
    /// Volumes in the file the sidecar describes (its 4th dimension; 1 for a 3D file).
    pub volumes: usize,
}

/// ReconFilterType and ReconFilterSize, as dcm2niix reads them (its issue 983): GE PET's filter
/// cutoff (0009,xx8F of "GEMS_PETD_01", FL) as the size; else ConvolutionKernel split where its
/// trailing number starts ("XYZ Gauss4.00": "XYZ Gauss" and 4; none when letters follow the
/// digits, as in "B30f").
fn recon_filter(obj: &InMemDicomObject) -> Vec<(&'static str, Value)> {
    let ge_cutoff = crate::ingest::ge::pet_number(obj, 0x8F);
    if crate::ingest::header::maker(obj).as_deref() == Some("GE") {
        if let Some(size) = ge_cutoff {
            return vec![("ReconFilterSize", json!(significant6(size)))];
        }
    }
    let Some(kernel) = str_of(obj, tags::CONVOLUTION_KERNEL) else {
        return Vec::new();
    };
    let mut split: Option<usize> = None;
    for (i, c) in kernel.char_indices() {
        if c.is_ascii_digit() || c == '.' {
            split = split.or(Some(i));
        } else if c != ' ' {
            split = None;
        }
    }
    let Some(at) = split.filter(|at| *at > 0) else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    let name = kernel[..at].trim_end_matches(' ');
    if !name.is_empty() {
        keys.push(("ReconFilterType", json!(name)));
    }
    let size = crate::ingest::ge::atof(&kernel[at..]);
    if size > 0.0 {
        keys.push(("ReconFilterSize", json!(significant6(size))));
    }
    keys
}

/// The keys of a series' first file `obj`, each only when its source holds a value.
pub(super) fn acquisition_keys(
    obj: &InMemDicomObject,
    facts: &SeriesFacts,
) -> Vec<(&'static str, Value)> {
    let mut keys = Vec::new();
    // Any modality: a derived image is no raw image; the de-identification's description; CT's
    // exposure (ms → s, mA, mAs).
    if str_of(obj, tags::IMAGE_TYPE).is_some_and(|t| t.split('\\').any(|w| w.trim() == "DERIVED")) {
        keys.push(("RawImage", json!(false)));
    }
    // Every value, whole: dcm2niix reads the first 65 characters of the joined values (its string
    // buffer), which cut ancilla's own record, "...Basic Profile\+113105 +113107 +1131", and
    // dropped two of the options applied (a monitor's audit).
    if let Some(m) = str_of(obj, tags::DEIDENTIFICATION_METHOD).filter(|m| !m.is_empty()) {
        let words: Vec<&str> = m.split('\\').map(str::trim).collect();
        keys.push(("DeidentificationMethod", json!(words)));
    }
    let number = |tag| f64_of(obj, tag).filter(|v| v.is_finite() && *v > 0.0);
    if let Some(ms) = number(tags::EXPOSURE_TIME) {
        keys.push(("ExposureTime", json!(significant6(ms / 1000.0))));
    }
    if let Some(ma) = number(tags::X_RAY_TUBE_CURRENT) {
        keys.push(("XRayTubeCurrent", json!(significant6(ma))));
    }
    if let Some(mas) = number(tags::EXPOSURE) {
        keys.push(("XRayExposure", json!(significant6(mas))));
    }
    // From ImageType whatever the modality (dcm2niix writes it for a CT saying ND too).
    if let Some(c) = nonlinear_gradient_correction(obj) {
        keys.push(("NonlinearGradientCorrection", json!(c)));
    }
    keys.extend(recon_filter(obj));
    let mr = str_of(obj, tags::MODALITY).is_some_and(|m| m == "MR");
    if !mr {
        return keys;
    }
    if str_of(obj, tags::VARIABLE_FLIP_ANGLE_FLAG)
        .is_some_and(|f| f.to_ascii_uppercase().starts_with('Y'))
    {
        keys.push(("VariableFlipAngleFlag", json!(true)));
    }
    let direction = str_of(obj, tags::PARTIAL_FOURIER_DIRECTION)
        .and_then(|d| d.chars().next())
        .and_then(|c| match c.to_ascii_uppercase() {
            'P' => Some("PHASE"),
            'F' => Some("FREQUENCY"),
            'S' => Some("SLICE_SELECT"),
            'C' => Some("COMBINATION"),
            _ => None,
        });
    if let Some(d) = direction {
        keys.push(("PartialFourierDirection", json!(d)));
    }
    if let Some(n) = number(tags::NUMBER_OF_AVERAGES).filter(|n| *n > 1.0) {
        keys.push(("NumberOfAverages", json!(significant6(n))));
    }
    if let Some(t) = pulse_sequence_type(obj, facts.multiband) {
        keys.push(("PulseSequenceType", json!(t)));
    }
    if let Some(s) = spoiling_state(obj) {
        keys.push(("SpoilingState", json!(s)));
    }
    enhanced_mr_keys(obj, facts, &mut keys);
    if facts.siemens {
        siemens_keys(obj, facts, &mut keys);
    } else if let Some(c) = str_of(obj, tags::RECEIVE_COIL_NAME).filter(|c| !c.is_empty()) {
        // Without a Siemens protocol dcm2niix names the coil CoilString (ReceiveCoilName is
        // its protocol's coil).
        keys.push(("CoilString", json!(c)));
    }
    keys
}

/// dcm2niix's keys from the standard attributes of enhanced MR (PS3.3 C.8.13.5: MR Modifier,
/// MR FOV/Geometry and MR Pulse Sequence modules; in a classic header when a scanner writes them
/// there, in an enhanced one lifted from its functional groups by `flat_header`).
fn enhanced_mr_keys(
    obj: &InMemDicomObject,
    facts: &SeriesFacts,
    keys: &mut Vec<(&'static str, Value)>,
) {
    let text = |tag| str_of(obj, tag).filter(|s| !s.is_empty());
    let count = |tag| crate::ingest::values::int_of(obj, tag).filter(|n| *n > 0);
    // SequenceName: (0018,0024), else the enhanced PulseSequenceName, which is also written
    // under its own name beside a SequenceName.
    if let Some(p) = text(tags::PULSE_SEQUENCE_NAME) {
        if text(tags::SEQUENCE_NAME).is_some() {
            keys.push(("PulseSequenceName", json!(p)));
        } else {
            keys.push(("SequenceName", json!(p)));
        }
    }
    // MTState: MagnetizationTransfer OFF_RESONANCE → true; ON_RESONANCE and NONE → false (as
    // dcm2niix reads the first letters).
    if let Some(m) = text(tags::MAGNETIZATION_TRANSFER) {
        if m.starts_with("OF") {
            keys.push(("MTState", json!(true)));
        } else if m.starts_with("ON") || m.starts_with("NO") {
            keys.push(("MTState", json!(false)));
        }
    }
    // SpoilingType: dcm2niix names every Spoiling holding "RF" COMBINED (RF, RF_AND_GRADIENT).
    if let Some(s) = text(tags::SPOILING) {
        if s.contains("RF") {
            keys.push(("SpoilingType", json!("COMBINED")));
        } else if s.contains("GRADIENT") {
            keys.push(("SpoilingType", json!("GRADIENT")));
        }
    }
    if let Some(n) = count(tags::MR_ACQUISITION_FREQUENCY_ENCODING_STEPS) {
        keys.push(("FrequencyEncodingSteps", json!(n)));
    }
    if let Some(n) = count(tags::MR_ACQUISITION_PHASE_ENCODING_STEPS_OUT_OF_PLANE) {
        keys.push(("PhaseEncodingStepsOutOfPlane", json!(n)));
    }
    if let Some(t) = text(tags::PARALLEL_ACQUISITION_TECHNIQUE) {
        keys.push(("ParallelAcquisitionTechnique", json!(t)));
    }
    // Siemens' comes from its protocol (dcm2niix ignores this attribute there).
    if !facts.siemens {
        if let Some(f) =
            f64_of(obj, tags::PARALLEL_REDUCTION_FACTOR_OUT_OF_PLANE).filter(|f| *f >= 1.0)
        {
            keys.push(("ParallelReductionFactorOutOfPlane", json!(significant6(f))));
        }
    }
    if let Some(d) = f64_of(obj, tags::ACQUISITION_DURATION).filter(|d| d.is_finite() && *d != 0.0)
    {
        keys.push(("AcquisitionDuration", json!(significant6(d))));
    }
    if let Some(n) = count(tags::NUMBER_OF_K_SPACE_TRAJECTORIES) {
        keys.push(("NumberOfKSpaceTrajectories", json!(n)));
    }
}

/// dcm2niix's name for the sequence, from ScanningSequence and SequenceVariant (its
/// `PulseSequenceType`): EPI (spin or gradient echo, "Multiband " first when slices are excited
/// together), MPRAGE, spoiled or plain gradient echo, (inversion recovery) spin echo.
fn pulse_sequence_type(obj: &InMemDicomObject, multiband: f64) -> Option<String> {
    let words = |tag| -> Vec<String> {
        str_of(obj, tag)
            .unwrap_or_default()
            .split('\\')
            .map(|w| w.trim().to_string())
            .collect()
    };
    let seq = words(tags::SCANNING_SEQUENCE);
    let var = words(tags::SEQUENCE_VARIANT);
    let has = |v: &[String], w: &str| v.iter().any(|x| x == w);
    let t = if has(&seq, "EP") {
        let mb = if multiband > 1.0 { "Multiband " } else { "" };
        let echo = if has(&seq, "SE") {
            "Spin Echo"
        } else {
            "Gradient Echo"
        };
        format!("{mb}{echo} EPI")
    } else if has(&seq, "GR") {
        if has(&var, "MP") && has(&seq, "IR") {
            "MPRAGE".into()
        } else if has(&var, "SP") {
            "Spoiled Gradient Echo".into()
        } else {
            "Gradient Echo".into()
        }
    } else if has(&seq, "SE") {
        if has(&seq, "IR") {
            "Inversion Recovery Spin Echo".into()
        } else {
            "Spin Echo".into()
        }
    } else {
        return None;
    };
    Some(t)
}

/// SpoilingState: (0018,9016) Spoiling (NONE → false, RF / GRADIENT / RF_AND_GRADIENT → true),
/// else true when SequenceVariant says SP (spoiled).
fn spoiling_state(obj: &InMemDicomObject) -> Option<bool> {
    if let Some(s) = str_of(obj, tags::SPOILING).filter(|s| !s.is_empty()) {
        return Some(s != "NONE");
    }
    str_of(obj, tags::SEQUENCE_VARIANT)?
        .split('\\')
        .any(|w| w.trim() == "SP")
        .then_some(true)
}

/// NonlinearGradientCorrection: ImageType says DIS2D or DIS3D (distortion corrected: true) or
/// ND (not: false), as Siemens writes it.
fn nonlinear_gradient_correction(obj: &InMemDicomObject) -> Option<bool> {
    let image_type = str_of(obj, tags::IMAGE_TYPE)?;
    let words: Vec<&str> = image_type.split('\\').map(str::trim).collect();
    if words.iter().any(|w| *w == "DIS2D" || *w == "DIS3D") {
        Some(true)
    } else if words.contains(&"ND") {
        Some(false)
    } else {
        None
    }
}

/// The Siemens keys: from the protocol (ASCCONV) when the file carries one, and from private
/// attributes of the MR header (0019) and the CSA non-image header (0051).
fn siemens_keys(
    obj: &InMemDicomObject,
    facts: &SeriesFacts,
    keys: &mut Vec<(&'static str, Value)>,
) {
    let g = |x: f64| json!(significant6(x));
    // DwellTime: (0019,xx18) in ns.
    if let Some(ns) = creator_element(obj, 0x0019, "SIEMENS MR HEADER", 0x18)
        .and_then(|t| text_number(obj, t))
        .filter(|ns| *ns > 0.0)
    {
        keys.push(("DwellTime", g(ns * 1e-9)));
    }
    // ImageOrientationText: (0051,xx0E), e.g. "Tra>Cor(-6.2)".
    if let Some(t) = creator_element(obj, 0x0051, "SIEMENS MR HEADER", 0x0E)
        .and_then(|t| text_of(obj, t))
        .filter(|t| !t.is_empty())
    {
        keys.push((
            "ImageOrientationText",
            json!(t.chars().take(65).collect::<String>()),
        ));
    }
    // CoilString: (0051,xx0F), else the DICOM ReceiveCoilName.
    let coil_string = creator_element(obj, 0x0051, "SIEMENS MR HEADER", 0x0F)
        .and_then(|t| text_of(obj, t))
        .filter(|s| !s.is_empty())
        .or_else(|| str_of(obj, tags::RECEIVE_COIL_NAME).filter(|s| !s.is_empty()));
    let Some(p) = phoenix_protocol(obj) else {
        // No protocol (XA enhanced files): the coil string alone, as dcm2niix writes it.
        if let Some(c) = coil_string {
            keys.push(("CoilString", json!(c)));
        }
        return;
    };
    keys.extend(protocol_keys(&p, facts, coil_string));
    keys.extend(asl_keys(&p, obj, facts));
}

/// The BIDS ASL keys dcm2niix writes for Siemens' product pulsed ASL sequences (PICORE
/// `ep2d_pasl`, FAIR QII `tgse_pasl`), from the protocol `p`: BolusDuration and InversionTime
/// (alTI[0] and alTI[2], µs → s), ArterialSpinLabelingType, AcquisitionVoxelSize (the pixel
/// spacing and SliceThickness, without in-plane interpolation) and M0Type "Included" when one
/// volume more than whole label/control pairs was acquired (its test: (volumes − 1) divisible by
/// 2 × lContrasts). Other ASL sequences (pCASL, research sequences) are not emulated.
fn asl_keys(p: &str, obj: &InMemDicomObject, facts: &SeriesFacts) -> Vec<(&'static str, Value)> {
    let mut keys = Vec::new();
    let details = protocol_text(p, "tSequenceFileName").unwrap_or_default();
    let pasl_type = if details.contains("ep2d_pasl") {
        "PICORE"
    } else if details.contains("tgse_pasl") {
        "FAIR QII"
    } else {
        return keys;
    };
    let g = |x: f64| json!(significant6(x));
    keys.push(("PASLType", json!(pasl_type)));
    if let Some(t) = protocol_number(p, "alTI[0]") {
        keys.push(("BolusDuration", g(t / 1e6)));
    }
    if let Some(t) = protocol_number(p, "alTI[2]") {
        keys.push(("InversionTime", g(t / 1e6)));
    }
    keys.push(("ArterialSpinLabelingType", json!("PASL")));
    let interpolated = protocol_number(p, "sKSpace.uc2DInterpolation").is_some_and(|v| v > 0.0);
    let spacing = crate::ingest::values::f64s_of(obj, tags::PIXEL_SPACING).filter(|v| v.len() == 2);
    if let (false, Some(ps), Some(thick)) =
        (interpolated, spacing, f64_of(obj, tags::SLICE_THICKNESS))
    {
        keys.push((
            "AcquisitionVoxelSize",
            json!([g(ps[1]), g(ps[0]), g(thick)]),
        ));
    }
    let contrasts = protocol_number(p, "lContrasts").map_or(1, |c| (c as usize).max(1));
    let pairs = 2 * contrasts;
    if !facts.volumes.is_multiple_of(pairs)
        && facts.volumes >= 1
        && (facts.volumes - 1).is_multiple_of(pairs)
    {
        keys.push(("M0Type", json!("Included")));
    }
    keys
}

/// The keys of a Siemens protocol's ASCCONV block `p` (with the file's coil string, written
/// when it says more than the protocol's active coil elements).
fn protocol_keys(
    p: &str,
    facts: &SeriesFacts,
    coil_string: Option<String>,
) -> Vec<(&'static str, Value)> {
    let mut keys = Vec::new();
    let g = |x: f64| json!(significant6(x));
    let num = |key: &str| protocol_number(p, key);
    let positive = |key: &str| num(key).filter(|v| *v > 0.0);
    let text = |key: &str| protocol_text(p, key);
    if let Some(t) = text("tSequenceFileName") {
        keys.push(("PulseSequenceDetails", json!(t)));
    }
    if let Some(v) = positive("sKSpace.lBaseResolution") {
        keys.push(("BaseResolution", json!(v as i64)));
    }
    if let Some(v) = positive("sKSpace.dPhaseResolution") {
        keys.push(("PhaseResolution", g(v)));
    }
    if let Some(v) = positive("sTXSPEC.asNucleusInfo[0].flReferenceAmplitude") {
        keys.push(("TxRefAmp", g(v)));
    }
    // The gradient offsets (X, Y, Z; older protocols without asGPAData) and five shim currents.
    let offset = |axis: &str| {
        num(&format!("sGRADSPEC.asGPAData[0].lOffset{axis}"))
            .filter(|v| *v != 0.0)
            .or_else(|| num(&format!("sGRADSPEC.lOffset{axis}")))
            .unwrap_or(0.0)
    };
    let x = offset("X");
    if x != 0.0 {
        let mut shim = vec![x, offset("Y"), offset("Z")];
        shim.extend((0..5).map(|i| num(&format!("sGRADSPEC.alShimCurrent[{i}]")).unwrap_or(0.0)));
        keys.push((
            "ShimSetting",
            json!(shim.into_iter().map(significant6).collect::<Vec<_>>()),
        ));
    }
    // The first receive coil element's coil (VD and later; VB's list is asCoilSelectMeas).
    if let Some(c) = text("sCoilSelectMeas.aRxCoilSelectData[0].asList[0].sCoilElementID.tCoilID")
        .or_else(|| text("asCoilSelectMeas[0].asList[0].sCoilElementID.tCoilID"))
    {
        keys.push(("ReceiveCoilName", json!(c)));
    }
    let active = text("sCoilSelectMeas.sCoilStringForConversion");
    if let Some(a) = &active {
        keys.push(("ReceiveCoilActiveElements", json!(a)));
    }
    if let Some(c) = coil_string.filter(|c| Some(c) != active.as_ref()) {
        keys.push(("CoilString", json!(c)));
    }
    match num("ucCoilCombineMode").map(|v| v as i64) {
        Some(1) => keys.push(("CoilCombinationMethod", json!("Sum of Squares"))),
        Some(2) => keys.push(("CoilCombinationMethod", json!("Adaptive Combine"))),
        _ => {}
    }
    let mode = match num("sPat.ucPATMode").map(|v| v as i64) {
        Some(1) => "SENSE",
        Some(2) => "GRAPPA",
        _ => "None",
    };
    keys.push(("MatrixCoilMode", json!(mode)));
    if let Some(v) = num("sPat.lAccelFact3D").filter(|v| *v >= 1.0) {
        keys.push(("ParallelReductionFactorOutOfPlane", g(v)));
    }
    let fraction = match num("sKSpace.ucPhasePartialFourier").map(|v| v as i64) {
        Some(1) => Some(0.5),
        Some(2) => Some(0.625),
        Some(4) => Some(0.75),
        Some(8) => Some(0.875),
        _ => None,
    };
    if let Some(f) = fraction {
        keys.push(("PartialFourier", json!(f)));
    }
    if let Some(v) = positive("sPat.lRefLinesPE") {
        keys.push(("RefLinesPE", json!(v as i64)));
    }
    if facts.diffusion {
        let scheme = num("sDiffusion.dsScheme")
            .filter(|v| *v != 0.0)
            .or_else(|| num("ucReadOutMode").map(|v| 3.0 - v));
        match scheme.map(|v| v as i64) {
            Some(1) => keys.push(("DiffusionScheme", json!("Bipolar"))),
            Some(2) => keys.push(("DiffusionScheme", json!("Monopolar"))),
            _ => {}
        }
    }
    if let Some(us) = positive("lDelayTimeInTR") {
        keys.push(("DelayTime", g(us / 1e6)));
    }
    if facts.phase {
        if let (Some(te1), Some(te2)) = (positive("alTE[0]"), positive("alTE[1]")) {
            keys.push(("EchoTime1", g(te1 / 1e6)));
            keys.push(("EchoTime2", g(te2 / 1e6)));
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(phase: bool) -> SeriesFacts {
        SeriesFacts {
            siemens: true,
            phase,
            diffusion: false,
            multiband: 1.0,
            volumes: 1,
        }
    }

    /// Siemens' product PICORE PASL: the ASCCONV lines of Debian dicomnifti's example 0001.dcm
    /// (`ep2d_pasl`, one volume, 3 × 3 mm pixels, 5 mm slices) and the ASL keys dcm2niix
    /// v1.0.20260724 wrote for it (facts measured once); with 90 volumes (45 label/control pairs)
    /// it writes no M0Type, with 91 "Included".
    #[test]
    fn pulsed_asl_keys_are_dcm2niix_s() {
        use dicom_core::{DataElement, PrimitiveValue, VR};
        let p = "### ASCCONV BEGIN ###\n\
                 tSequenceFileName\t = \t\"\"%SiemensSeq%\\ep2d_pasl\"\"\n\
                 lContrasts\t = \t1\n\
                 alTI[0]\t = \t800000\n\
                 alTI[2]\t = \t2000000\n\
                 alTI[3]\t = \t100000\n\
                 ### ASCCONV END ###";
        let obj = InMemDicomObject::from_element_iter([
            DataElement::new(
                tags::PIXEL_SPACING,
                VR::DS,
                PrimitiveValue::Strs(["3".to_string(), "3".to_string()].into_iter().collect()),
            ),
            DataElement::new(tags::SLICE_THICKNESS, VR::DS, PrimitiveValue::from("5")),
        ]);
        let keys = asl_keys(p, &obj, &facts(false));
        let want = json!({
            "PASLType": "PICORE",
            "BolusDuration": 0.8,
            "InversionTime": 2.0,
            "ArterialSpinLabelingType": "PASL",
            "AcquisitionVoxelSize": [3.0, 3.0, 5.0],
            "M0Type": "Included",
        });
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(&key(&keys, k), v, "{k}");
        }
        let with = |volumes| {
            asl_keys(
                p,
                &obj,
                &SeriesFacts {
                    volumes,
                    ..facts(false)
                },
            )
        };
        assert_eq!(key(&with(90), "M0Type"), Value::Null);
        assert_eq!(key(&with(91), "M0Type"), json!("Included"));
        // Not a pulsed ASL sequence: none of them.
        assert!(asl_keys(
            "tSequenceFileName\t = \t\"\"%SiemensSeq%\\ep2d_bold\"\"",
            &obj,
            &facts(false)
        )
        .is_empty());
    }

    fn key(keys: &[(&'static str, Value)], name: &str) -> Value {
        keys.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null)
    }

    /// The ASCCONV lines of heudiconv's `01-anat-scout` (Siemens VE11C) that these keys read,
    /// and what dcm2niix v1.0.20260724 wrote for that series (facts measured once, outside the
    /// tests); the phase echo times of its `01-fmap_acq-3mm` phase series likewise.
    #[test]
    fn protocol_keys_are_dcm2niix_s() {
        let p = "### ASCCONV BEGIN object=MrProtDataImpl@MrProtocolData version=51130001 ###\n\
                 tSequenceFileName\t = \t\"\"%SiemensSeq%\\AALScout\"\"\n\
                 sKSpace.lBaseResolution\t = \t160\n\
                 sKSpace.dPhaseResolution\t = \t1.0\n\
                 sKSpace.ucPhasePartialFourier\t = \t4\n\
                 sTXSPEC.asNucleusInfo[0].flReferenceAmplitude\t = \t224.660522461\n\
                 sGRADSPEC.asGPAData[0].lOffsetX\t = \t4153\n\
                 sGRADSPEC.asGPAData[0].lOffsetY\t = \t-7690\n\
                 sGRADSPEC.asGPAData[0].lOffsetZ\t = \t-7492\n\
                 sGRADSPEC.alShimCurrent[0]\t = \t214\n\
                 sGRADSPEC.alShimCurrent[1]\t = \t-60\n\
                 sGRADSPEC.alShimCurrent[2]\t = \t-87\n\
                 sGRADSPEC.alShimCurrent[3]\t = \t-47\n\
                 sGRADSPEC.alShimCurrent[4]\t = \t60\n\
                 sCoilSelectMeas.aRxCoilSelectData[0].asList[0].sCoilElementID.tCoilID\t = \t\"\"Head_32\"\"\n\
                 sCoilSelectMeas.sCoilStringForConversion\t = \t\"\"HEA;HEP\"\"\n\
                 ucCoilCombineMode\t = \t2\n\
                 sPat.ucPATMode\t = \t2\n\
                 sPat.lAccelFact3D\t = \t1\n\
                 sPat.lRefLinesPE\t = \t24\n\
                 alTE[0]\t = \t4920\n\
                 alTE[1]\t = \t7380\n\
                 ### ASCCONV END ###";
        let keys = protocol_keys(p, &facts(false), Some("HEA;HEP".into()));
        let expect = serde_json::json!({
            "PulseSequenceDetails": "%SiemensSeq%\\AALScout",
            "BaseResolution": 160,
            "PhaseResolution": 1.0,
            "TxRefAmp": 224.661,
            "ShimSetting": [4153.0, -7690.0, -7492.0, 214.0, -60.0, -87.0, -47.0, 60.0],
            "ReceiveCoilName": "Head_32",
            "ReceiveCoilActiveElements": "HEA;HEP",
            "CoilCombinationMethod": "Adaptive Combine",
            "MatrixCoilMode": "GRAPPA",
            "ParallelReductionFactorOutOfPlane": 1.0,
            "PartialFourier": 0.75,
            "RefLinesPE": 24,
        });
        for (name, value) in expect.as_object().unwrap() {
            assert_eq!(&key(&keys, name), value, "{name}");
        }
        // The coil string equals the active elements: not repeated. Magnitude: no echo times.
        for absent in ["CoilString", "EchoTime1", "EchoTime2", "DelayTime"] {
            assert_eq!(key(&keys, absent), Value::Null, "{absent}");
        }
        let phase = protocol_keys(p, &facts(true), Some("T:HEA;HEP".into()));
        assert_eq!(key(&phase, "EchoTime1"), serde_json::json!(0.00492));
        assert_eq!(key(&phase, "EchoTime2"), serde_json::json!(0.00738));
        assert_eq!(key(&phase, "CoilString"), serde_json::json!("T:HEA;HEP"));
    }

    /// dcm2niix's PulseSequenceType on heudiconv's series: a spoiled FLASH scout (GR, SP), a
    /// BOLD EPI (EP, SK), a multiband diffusion EPI (EP, multiband 3).
    /// dcm2niix v1.0.20260724's ReconFilterType/ReconFilterSize on series built with pydicom with
    /// these kernels: "XYZ Gauss4.00" (Siemens PET) → "XYZ Gauss", 4; "Gauss 5.5 " → "Gauss",
    /// 5.5; "FC13" → "FC", 13; "B30f", "STANDARD" and "12" → none; a GE PET's filter cutoff
    /// (0009,108F) 5.5 → size 5.5 only (another maker's is not read).
    #[test]
    fn recon_filter_is_split_from_the_kernel_as_dcm2niix_splits_it() {
        use dicom_core::{DataElement, Tag, VR};
        let with = |maker: &str, kernel: &str| {
            let mut o = InMemDicomObject::new_empty();
            o.put(DataElement::new(tags::MANUFACTURER, VR::LO, maker));
            o.put(DataElement::new(tags::CONVOLUTION_KERNEL, VR::SH, kernel));
            o
        };
        let split = |o: &InMemDicomObject| {
            let k = recon_filter(o);
            let get = |n: &str| k.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
            (get("ReconFilterType"), get("ReconFilterSize"))
        };
        for (kernel, name, size) in [
            ("XYZ Gauss4.00", Some("XYZ Gauss"), Some(4.0)),
            ("Gauss 5.5 ", Some("Gauss"), Some(5.5)),
            ("FC13", Some("FC"), Some(13.0)),
            ("B30f", None, None),
            ("STANDARD", None, None),
            ("12", None, None),
        ] {
            assert_eq!(
                split(&with("SIEMENS", kernel)),
                (name.map(|n| json!(n)), size.map(|s| json!(s))),
                "{kernel}"
            );
        }
        let mut ge = with("GE MEDICAL SYSTEMS", "Gauss3.0");
        ge.put(DataElement::new(
            Tag(0x0009, 0x0010),
            VR::LO,
            "GEMS_PETD_01",
        ));
        ge.put(DataElement::new(
            Tag(0x0009, 0x108F),
            VR::FL,
            dicom_core::value::PrimitiveValue::from(5.5f32),
        ));
        assert_eq!(split(&ge), (None, Some(json!(5.5))));
        ge.put(DataElement::new(tags::MANUFACTURER, VR::LO, "SIEMENS"));
        assert_eq!(split(&ge), (Some(json!("Gauss")), Some(json!(3.0))));
    }

    /// dcm2niix's VariableFlipAngleFlag (0018,1315 Y only) and PartialFourierDirection (0018,9036
    /// by its first letter) on series built with pydicom.
    #[test]
    fn flip_angle_flag_and_partial_fourier_direction_are_dcm2niix_s() {
        use dicom_core::{DataElement, VR};
        let mut o = InMemDicomObject::new_empty();
        o.put(DataElement::new(tags::MODALITY, VR::CS, "MR"));
        o.put(DataElement::new(
            tags::VARIABLE_FLIP_ANGLE_FLAG,
            VR::CS,
            "Y",
        ));
        o.put(DataElement::new(
            tags::PARTIAL_FOURIER_DIRECTION,
            VR::CS,
            "COMBINATION",
        ));
        let keys = acquisition_keys(&o, &facts(false));
        assert_eq!(key(&keys, "VariableFlipAngleFlag"), json!(true));
        assert_eq!(key(&keys, "PartialFourierDirection"), json!("COMBINATION"));
        o.put(DataElement::new(
            tags::VARIABLE_FLIP_ANGLE_FLAG,
            VR::CS,
            "N",
        ));
        let keys = acquisition_keys(&o, &facts(false));
        assert!(!keys.iter().any(|(k, _)| *k == "VariableFlipAngleFlag"));
    }

    #[test]
    fn pulse_sequence_types_are_dcm2niix_s() {
        use dicom_core::{DataElement, PrimitiveValue, VR};
        let obj = |seq: &str, var: &str| {
            let mut o = InMemDicomObject::new_empty();
            o.put(DataElement::new(
                tags::SCANNING_SEQUENCE,
                VR::CS,
                PrimitiveValue::from(seq),
            ));
            o.put(DataElement::new(
                tags::SEQUENCE_VARIANT,
                VR::CS,
                PrimitiveValue::from(var),
            ));
            o
        };
        let t = |seq, var, mb| pulse_sequence_type(&obj(seq, var), mb);
        assert_eq!(
            t("GR", "SP\\OSP", 1.0).as_deref(),
            Some("Spoiled Gradient Echo")
        );
        assert_eq!(t("EP", "SK", 1.0).as_deref(), Some("Gradient Echo EPI"));
        assert_eq!(
            t("EP", "SK\\SS", 3.0).as_deref(),
            Some("Multiband Gradient Echo EPI")
        );
        assert_eq!(t("GR\\IR", "SK\\SP\\MP", 1.0).as_deref(), Some("MPRAGE"));
        assert_eq!(t("RM", "NONE", 1.0), None);
        assert_eq!(spoiling_state(&obj("GR", "SP\\OSP")), Some(true));
        assert_eq!(spoiling_state(&obj("EP", "SK")), None);
    }
}
