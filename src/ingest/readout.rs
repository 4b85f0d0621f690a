//! Phase-encoding matrix and EPI readout timing of an MR series, under the BIDS sidecar names and
//! by the formulas dcm2niix uses (BIDS "Echo Spacing & Readout Time"): what distortion correction
//! of a DWI series (FSL topup/eddy) needs.
//!
//! - AcquisitionMatrixPE: the phase-encoding lines of AcquisitionMatrix (0018,1310) (PS3.3
//!   C.8.3.1: frequency rows \ frequency columns \ phase rows \ phase columns; one phase entry
//!   is 0).
//! - ReconMatrixPE: the reconstructed image's size along the phase-encoding axis (rows when
//!   InPlanePhaseEncodingDirection is COL, columns when ROW; a mosaic's tile).
//! - BandwidthPerPixelPhaseEncode (Hz): Siemens' CSA image header, else its MR header's
//!   (0019,xx28).
//! - EffectiveEchoSpacing = 1 / (BandwidthPerPixelPhaseEncode × ReconMatrixPE) (s);
//!   TotalReadoutTime = EffectiveEchoSpacing × (ReconMatrixPE − 1) (s);
//!   DerivedVendorReportedEchoSpacing = EffectiveEchoSpacing × ParallelReductionFactorInPlane
//!   (1 when the protocol does not say).
//! - ParallelReductionFactorInPlane and MultibandAccelerationFactor: Siemens' protocol
//!   (`sPat.lAccelFactPE`, `sSliceAcceleration.lMultiBandFactor` in the MrPhoenixProtocol text of
//!   the CSA series header); GE's ASSET factor (0043,xx83).
//! - GE (no phase-encoding bandwidth): EffectiveEchoSpacing estimated from its recorded echo
//!   spacing (0043,xx2C), the acquired lines and ASSET factor (dcm2niix's
//!   NotPhysicalTotalReadOutTimeGE), TotalReadoutTime from it as above.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use serde_json::{json, Value};

use super::header::phase_encoding_along_columns;
use super::siemens::{bandwidth_per_pixel_phase_encode, phoenix_protocol, protocol_number, Csa};
use super::values::{f64_of, int_of};
use crate::digits::significant6;

/// The keys this module knows for a file's header (`obj`, its CSA image header `csa`), for
/// reconstructed images of `rows` × `columns` (a mosaic's tile) whose slices were acquired at
/// `slice_times_ms` (a mosaic's MosaicRefAcqTimes; empty when unknown), in the order dcm2niix
/// writes them. Keys without a value in the header are left out.
pub fn readout_keys(
    obj: &InMemDicomObject,
    csa: Option<&Csa>,
    rows: usize,
    columns: usize,
    slice_times_ms: &[f64],
) -> Vec<(&'static str, Value)> {
    let mut keys = Vec::new();
    let positive = |v: Option<f64>| v.filter(|x| x.is_finite() && *x > 0.0);
    let protocol = phoenix_protocol(obj);
    let protocol_value = |key: &str| protocol.as_deref().and_then(|p| protocol_number(p, key));
    // The enhanced MR attribute (MR FOV/Geometry) when there is one, as dcm2niix reads it last.
    let steps = int_of(obj, tags::MR_ACQUISITION_PHASE_ENCODING_STEPS_IN_PLANE)
        .filter(|n| *n > 0)
        .or_else(|| int_of(obj, tags::NUMBER_OF_PHASE_ENCODING_STEPS).filter(|n| *n > 0));
    // The maker as dcm2niix tells it (first two letters of Manufacturer).
    let maker = crate::ingest::header::maker(obj).unwrap_or_default();
    // Philips' steps with partial Fourier are those a full acquisition would take (its issue
    // 377): dcm2niix names them so.
    if let Some(n) = steps {
        if maker == "Philips" && partial_fourier(obj) {
            keys.push(("PartialFourierEnabled", json!("YES")));
            keys.push(("PhaseEncodingStepsNoPartialFourier", json!(n)));
        } else {
            keys.push(("PhaseEncodingSteps", json!(n)));
        }
    }
    let along_columns = phase_encoding_along_columns(obj);
    let acquisition_pe = acquisition_matrix_pe(obj);
    if let Some(pe) = acquisition_pe {
        keys.push(("AcquisitionMatrixPE", json!(pe)));
    }
    // Without the direction, a square MR image's size is its size along either axis (dcm2niix).
    let mr = crate::ingest::values::str_of(obj, tags::MODALITY).is_some_and(|m| m == "MR");
    let recon_pe = along_columns
        .map(|c| if c { rows } else { columns })
        .or_else(|| (mr && rows == columns).then_some(rows));
    if let Some(pe) = recon_pe {
        keys.push(("ReconMatrixPE", json!(pe)));
    }
    let bandwidth = bandwidth_per_pixel_phase_encode(obj, csa);
    if let Some(b) = bandwidth {
        keys.push(("BandwidthPerPixelPhaseEncode", json!(b)));
    }
    // Siemens' from its protocol; the others' from the enhanced MR attribute (0018,9069), which
    // dcm2niix reads for every maker but Siemens, and writes from 1 up.
    let accel = if maker == "Siemens" {
        positive(protocol_value("sPat.lAccelFactPE"))
    } else if maker == "GE" {
        ge_acceleration(obj)
    } else {
        f64_of(obj, tags::PARALLEL_REDUCTION_FACTOR_IN_PLANE).filter(|a| *a >= 1.0)
    };
    if let Some(a) = accel {
        keys.push(("ParallelReductionFactorInPlane", json!(a)));
    }
    // GE's from its echo spacing, acquired lines and ASSET factor.
    let ge_spacing = (maker == "GE")
        .then(|| ge_effective_echo_spacing(obj, acquisition_pe?, accel?))
        .flatten();
    if let (Some(b), Some(pe)) = (bandwidth, recon_pe.filter(|pe| *pe > 1)) {
        let spacing = effective_echo_spacing(b, pe);
        if ge_spacing.is_none() {
            keys.push(("EffectiveEchoSpacing", json!(significant6(spacing))));
        }
        // The spacing before in-plane acceleration (none known: none).
        let a = accel.unwrap_or(1.0);
        keys.push((
            "DerivedVendorReportedEchoSpacing",
            json!(significant6(spacing * a)),
        ));
        if ge_spacing.is_none() {
            keys.push((
                "TotalReadoutTime",
                json!(significant6(total_readout_time(spacing, pe))),
            ));
        }
    }
    if let (Some(spacing), Some(pe)) = (ge_spacing, recon_pe.filter(|pe| *pe > 1)) {
        keys.push(("EffectiveEchoSpacing", json!(significant6(spacing))));
        let total = significant6(total_readout_time(spacing, pe));
        keys.push(("TotalReadoutTime", json!(total)));
    }
    // Philips: the water-fat shift (2001,xx22, pixels) and, without a phase-encoding bandwidth,
    // the echo spacing and readout time dcm2niix estimates from it (its 32-bit arithmetic):
    // actual spacing = WFS / (ImagingFrequency × 3.4 × (EchoTrainLength + 1)).
    if maker == "Philips" {
        let wfs =
            crate::ingest::values::creator_element(obj, 0x2001, "Philips Imaging DD 001", 0x22)
                .and_then(|t| crate::ingest::values::f64s_of(obj, t))
                .and_then(|v| v.first().copied())
                .filter(|w| w.is_finite() && *w != 0.0);
        if let Some(w) = wfs {
            keys.push(("WaterFatShift", json!(significant6(w))));
            let freq = positive(super::header::imaging_frequency(obj));
            let etl = echo_train_length(obj).filter(|n| *n > 0);
            if let (None, Some(f), Some(etl), Some(pe)) =
                (bandwidth, freq, etl, recon_pe.filter(|pe| *pe > 1))
            {
                let actual = w as f32 / (f as f32 * 3.4 * (etl as f32 + 1.0));
                let total = actual * etl as f32;
                let effective = total / (pe as f32 - 1.0);
                keys.push((
                    "EstimatedEffectiveEchoSpacing",
                    json!(significant6(f64::from(effective))),
                ));
                keys.push((
                    "EstimatedTotalReadoutTime",
                    json!(significant6(f64::from(total))),
                ));
            }
        }
    }
    let multiband = super::siemens::multiband_factor(protocol.as_deref(), slice_times_ms);
    if multiband > 1.0 {
        keys.push(("MultibandAccelerationFactor", json!(multiband)));
    }
    // One echo, one echo train: nothing to say (dcm2niix writes both only above 1).
    if let Some(n) = echo_train_length(obj).filter(|n| *n > 1) {
        keys.push(("EchoTrainLength", json!(n)));
    }
    if let Some(n) = int_of(obj, tags::ECHO_NUMBERS).filter(|n| *n > 1) {
        keys.push(("EchoNumber", json!(n)));
    }
    if let Some(n) = positive(f64_of(obj, tags::ACQUISITION_NUMBER)) {
        keys.push(("AcquisitionNumber", json!(n as i64)));
    }
    keys
}

/// GE's in-plane acceleration as dcm2niix reads it: the reciprocal of the first ASSET factor
/// (0043,xx83 of "GEMS_PARM_01", DS `0.5\1`), unless ParallelReductionFactorInPlane (0018,9069)
/// is larger and above 1; written from 1 up.
fn ge_acceleration(obj: &InMemDicomObject) -> Option<f64> {
    let standard = f64_of(obj, tags::PARALLEL_REDUCTION_FACTOR_IN_PLANE);
    let asset = super::values::last_private(obj, 0x0043, super::ge::PARM, 0x83, &|o, t| {
        let v = super::values::text_of(o, t)?;
        let f = v.split('\\').next()?.trim().parse::<f32>().ok()?;
        (f > 0.0).then(|| f64::from(1.0 / f))
    });
    let a = match (asset, standard) {
        (Some(a), Some(s)) if s > a && s > 1.0 => s,
        (Some(a), _) => a,
        (None, s) => s?,
    };
    (a >= 1.0).then_some(significant6(a))
}

/// GE's effective echo spacing (s), dcm2niix's estimate from the echo spacing it records
/// (0043,xx2C, µs) — the lines acquired, `lines` / `accel` rounded up to a multiple of 2 (of 4
/// with partial Fourier: ScanOptions PFF or PartialFourier YES), less one, times the spacing,
/// spread over the acquisition matrix's `lines` − 1 — in its 32-bit arithmetic.
fn ge_effective_echo_spacing(obj: &InMemDicomObject, lines: u32, accel: f64) -> Option<f64> {
    let spacing_us = super::values::last_private(obj, 0x0043, super::ge::PARM, 0x2C, &|o, t| {
        super::values::value_as(o, t, dicom_core::VR::SS)?
            .to_int::<i64>()
            .ok()
    })
    .filter(|us| *us > 0)?;
    if lines < 2 || accel <= 0.0 {
        return None;
    }
    let round: f32 = if partial_fourier(obj) { 4.0 } else { 2.0 };
    let acquired = (1.0 / round * lines as f32 / accel as f32).ceil() * round;
    let total = ((f64::from(acquired) - 1.0) * spacing_us as f64 * 0.000001) as f32;
    Some(f64::from(total) / f64::from(lines - 1))
}

/// Partial Fourier acquisition, as dcm2niix tells it: PartialFourier (0018,9081) YES, ScanOptions
/// holding PFF (GE), or Philips' partial matrix scanned (2001,xx19 of "Philips Imaging DD 001")
/// YES.
fn partial_fourier(obj: &InMemDicomObject) -> bool {
    let yes = |v: Option<String>| v.is_some_and(|v| v.to_ascii_uppercase().starts_with('Y'));
    let philips = super::values::last_private(
        obj,
        0x2001,
        "Philips Imaging DD 001",
        0x19,
        &super::values::text_of,
    );
    super::values::str_of(obj, tags::SCAN_OPTIONS).is_some_and(|o| o.contains("PFF"))
        || yes(super::values::str_of(obj, tags::PARTIAL_FOURIER))
        || (super::header::maker(obj).as_deref() == Some("Philips") && yes(philips))
}

/// The phase-encoding lines of AcquisitionMatrix: its non-zero phase entry (rows or columns).
fn acquisition_matrix_pe(obj: &InMemDicomObject) -> Option<u32> {
    let m = obj
        .get(tags::ACQUISITION_MATRIX)?
        .to_multi_int::<u32>()
        .ok()?;
    let (rows, columns) = (*m.get(2)?, *m.get(3)?);
    Some(rows.max(columns)).filter(|n| *n > 0)
}

/// Seconds between the centres of two echoes in k-space as the reconstructed image sees them.
fn effective_echo_spacing(bandwidth_per_pixel_pe: f64, recon_matrix_pe: usize) -> f64 {
    1.0 / (bandwidth_per_pixel_pe * recon_matrix_pe as f64)
}

/// Seconds from the centre of the first echo to the centre of the last (FSL's definition).
fn total_readout_time(effective_echo_spacing: f64, recon_matrix_pe: usize) -> f64 {
    effective_echo_spacing * (recon_matrix_pe as f64 - 1.0)
}

/// The echo train length as dcm2niix reads it: an enhanced MR's GradientEchoTrainLength
/// (0018,9241) from 2 up, else EchoTrainLength (0018,0091).
pub fn echo_train_length(obj: &InMemDicomObject) -> Option<i64> {
    int_of(obj, tags::GRADIENT_ECHO_TRAIN_LENGTH)
        .filter(|n| *n >= 2)
        .or_else(|| int_of(obj, tags::ECHO_TRAIN_LENGTH))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(keys: &[(&'static str, Value)], name: &str) -> Option<Value> {
        keys.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }

    /// Slices excited together share the first slice's time (heudiconv's `dMRI_mb3` mosaic: three
    /// slices at 0 ms, dcm2niix's MultibandAccelerationFactor 3); single-band times say nothing.
    #[test]
    fn multiband_factor_is_the_count_of_slices_sharing_the_first_time() {
        let obj = InMemDicomObject::new_empty();
        let times = [0.0, 152.5, 305.0, 0.0, 152.5, 305.0, 0.0, 152.5, 305.0];
        let keys = readout_keys(&obj, None, 4, 4, &times);
        assert_eq!(key(&keys, "MultibandAccelerationFactor"), Some(json!(3.0)));
        let keys = readout_keys(&obj, None, 4, 4, &[0.0, 70.0, 140.0]);
        assert_eq!(key(&keys, "MultibandAccelerationFactor"), None);
        // Without InPlanePhaseEncodingDirection there is no phase-encoding axis: no matrix, no
        // spacing.
        assert_eq!(key(&keys, "ReconMatrixPE"), None);
        assert_eq!(key(&keys, "EffectiveEchoSpacing"), None);
    }

    /// dcm2niix v1.0.20260724 on series built with pydicom (120 phase-encoding steps): a Philips
    /// partial matrix scanned (2001,1019 Y) or PartialFourier YES gives PartialFourierEnabled YES
    /// and PhaseEncodingStepsNoPartialFourier 120; N, or another maker, PhaseEncodingSteps 120.
    #[test]
    fn philips_partial_fourier_steps_are_named_as_dcm2niix_names_them() {
        use dicom_core::{DataElement, Tag, VR};
        let mut o = InMemDicomObject::new_empty();
        o.put(DataElement::new(
            tags::MANUFACTURER,
            VR::LO,
            "Philips Medical Systems",
        ));
        o.put(DataElement::new(
            tags::NUMBER_OF_PHASE_ENCODING_STEPS,
            VR::IS,
            "120",
        ));
        o.put(DataElement::new(
            Tag(0x2001, 0x0010),
            VR::LO,
            "Philips Imaging DD 001",
        ));
        o.put(DataElement::new(Tag(0x2001, 0x1019), VR::CS, "Y"));
        let keys = readout_keys(&o, None, 8, 8, &[]);
        assert_eq!(key(&keys, "PartialFourierEnabled"), Some(json!("YES")));
        assert_eq!(
            key(&keys, "PhaseEncodingStepsNoPartialFourier"),
            Some(json!(120))
        );
        assert_eq!(key(&keys, "PhaseEncodingSteps"), None);
        o.put(DataElement::new(Tag(0x2001, 0x1019), VR::CS, "N"));
        let keys = readout_keys(&o, None, 8, 8, &[]);
        assert_eq!(key(&keys, "PhaseEncodingSteps"), Some(json!(120)));
        o.put(DataElement::new(tags::PARTIAL_FOURIER, VR::CS, "YES"));
        let keys = readout_keys(&o, None, 8, 8, &[]);
        assert_eq!(
            key(&keys, "PhaseEncodingStepsNoPartialFourier"),
            Some(json!(120))
        );
        o.put(DataElement::new(tags::MANUFACTURER, VR::LO, "SIEMENS"));
        let keys = readout_keys(&o, None, 8, 8, &[]);
        assert_eq!(key(&keys, "PhaseEncodingSteps"), Some(json!(120)));
    }

    /// dcm2niix v1.0.20260724 on heudiconv's test series: `28_dMRI_mb3_AP_1.5` (bandwidth
    /// 9.398 Hz, 152 lines: 0.000700037 s and 0.105706 s) and `6_ax_asc_35sl` (55.804 Hz,
    /// 64 lines: 0.000279998 s and 0.0176399 s), printed to six digits.
    #[test]
    fn echo_spacing_and_readout_time_are_dcm2niix_s() {
        for (bandwidth, pe, spacing, readout) in [
            (9.398, 152, 0.000700037, 0.105706),
            (55.804, 64, 0.000279998, 0.0176399),
        ] {
            let s = effective_echo_spacing(bandwidth, pe);
            assert!((s - spacing).abs() / spacing < 5e-6, "{s} vs {spacing}");
            let t = total_readout_time(s, pe);
            assert!((t - readout).abs() / readout < 5e-6, "{t} vs {readout}");
        }
    }
}
