//! The PET sidecar keys (BIDS-PET, BEP009) under the names and by the rules of dcm2niix
//! v1.0.20260724: the radiopharmaceutical (PS3.3 C.8.9.2: Radiopharmaceutical Information
//! Sequence), the image's units and corrections (C.8.9.4: PET Image module), its
//! reconstruction's name and parameters as dcm2niix reads them from ReconstructionMethod, and
//! each volume's frame (DecayFactor, ActualFrameDuration, start after SeriesTime). Numbers are
//! printed as dcm2niix prints them (`%g`, `%.8g` for the injected activity). Not written: the
//! times of day (SeriesTime, AcquisitionTime), which the rest of the sidecar leaves out.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use serde_json::{json, Value};

use crate::digits::{significant, significant6};
use crate::ingest::values::{f64_of, first_item, str_of};

/// The keys of a PET file whose first image's header is `obj`, the file holding `frames` (the
/// header of each volume's first image, in volume order).
pub(super) fn pet_keys(
    obj: &InMemDicomObject,
    frames: &[InMemDicomObject],
) -> Vec<(&'static str, Value)> {
    let mut keys = Vec::new();
    let g = |x: f64| json!(significant6(x));
    let positive = |o: &InMemDicomObject, tag| f64_of(o, tag).filter(|v| v.is_finite() && *v > 0.0);
    let text = |tag| str_of(obj, tag).filter(|s| !s.is_empty());
    if let Some(rp) = first_item(obj, tags::RADIOPHARMACEUTICAL_INFORMATION_SEQUENCE) {
        if let Some(t) = str_of(rp, tags::RADIOPHARMACEUTICAL).filter(|s| !s.is_empty()) {
            keys.push(("TracerName", json!(t)));
        }
        // The radionuclide's code meaning without DICOM's superscript carets (^68^Gallium).
        if let Some(m) = first_item(rp, tags::RADIONUCLIDE_CODE_SEQUENCE)
            .and_then(|c| str_of(c, tags::CODE_MEANING))
            .filter(|s| !s.is_empty())
        {
            keys.push(("TracerRadionuclide", json!(m.replace('^', ""))));
        }
        if let Some(v) = positive(rp, tags::RADIONUCLIDE_POSITRON_FRACTION) {
            keys.push(("RadionuclidePositronFraction", g(v)));
        }
        // Bq → MBq, from the 32-bit float dcm2niix holds the dose in, with eight digits.
        if let Some(bq) = positive(rp, tags::RADIONUCLIDE_TOTAL_DOSE) {
            let mbq = f64::from(bq as f32) / 1e6;
            keys.push(("InjectedRadioactivity", json!(significant(mbq, 8))));
            keys.push(("InjectedRadioactivityUnits", json!("MBq")));
        }
        if let Some(v) = positive(rp, tags::RADIOPHARMACEUTICAL_SPECIFIC_ACTIVITY) {
            keys.push(("MolarActivity", json!(significant(v, 9))));
            keys.push(("MolarActivityUnits", json!("Bq/umol")));
        }
        if let Some(v) = positive(rp, tags::RADIONUCLIDE_HALF_LIFE) {
            keys.push(("RadionuclideHalfLife", g(v)));
        }
    }
    // GE's injected volume (0009,xx3A of "GEMS_PETD_01", FL; dcm2niix reads no other).
    let ge = crate::ingest::header::maker(obj).as_deref() == Some("GE");
    let injected_volume = crate::ingest::ge::pet_number(obj, 0x3A);
    if let Some(v) = injected_volume.filter(|v| ge && *v > 0.0) {
        keys.push(("InjectedVolume", g(v)));
    }
    if let Some(v) = positive(obj, tags::DOSE_CALIBRATION_FACTOR) {
        keys.push((
            "DoseCalibrationFactor",
            json!(significant(f64::from(v as f32), 8)),
        ));
    }
    if let Some(u) = text(tags::UNITS) {
        keys.push((
            "Units",
            json!(if u == "BQML" { "Bq/mL".to_string() } else { u }),
        ));
    }
    if let Some(a) = text(tags::ATTENUATION_CORRECTION_METHOD) {
        // BIDS' AttenuationCorrection: the method's token before any comma.
        let token = a.split(',').next().unwrap_or("").to_string();
        keys.push(("AttenuationCorrectionMethod", json!(a)));
        if !token.is_empty() {
            keys.push(("AttenuationCorrection", json!(token)));
        }
    }
    if let Some(r) = text(tags::RANDOMS_CORRECTION_METHOD) {
        keys.push(("RandomsCorrectionMethod", json!(r)));
    }
    if let Some(s) = text(tags::SCATTER_CORRECTION_METHOD) {
        keys.push(("ScatterCorrectionMethod", json!(s)));
    }
    if let Some(method) = text(tags::RECONSTRUCTION_METHOD) {
        let name = recon_method_name(&method);
        if !name.is_empty() {
            keys.push(("ReconMethodName", json!(name)));
        }
        if let Some((subsets, iterations)) = subsets_and_iterations(&method) {
            keys.push((
                "ReconMethodParameterLabels",
                json!(["subsets", "iterations"]),
            ));
            keys.push(("ReconMethodParameterValues", json!([subsets, iterations])));
        }
    }
    if let Some(v) = positive(obj, tags::SCATTER_FRACTION_FACTOR) {
        keys.push(("ScatterFraction", json!([significant6(v)])));
    }
    // Each volume's frame: its decay factor, its start after SeriesTime (0 when before), its
    // duration (ms → s).
    let series_s = str_of(obj, tags::SERIES_TIME).and_then(|t| crate::datetime::parse_tm(&t));
    if series_s.is_some() {
        let factors: Vec<f64> = frames
            .iter()
            .map(|f| f64_of(f, tags::DECAY_FACTOR).unwrap_or(0.0))
            .collect();
        keys.push((
            "DecayCorrectionFactor",
            json!(factors.into_iter().map(significant6).collect::<Vec<_>>()),
        ));
    }
    let decay_factor = positive(obj, tags::DECAY_FACTOR);
    if let (Some(t0), true) = (series_s, frames.len() > 1 || decay_factor.is_some()) {
        let starts: Vec<f64> = frames
            .iter()
            .map(|f| {
                let acq =
                    str_of(f, tags::ACQUISITION_TIME).and_then(|t| crate::datetime::parse_tm(&t));
                acq.map_or(0.0, |a| (a - t0).max(0.0))
            })
            .map(significant6)
            .collect();
        keys.push(("FrameTimesStart", json!(starts)));
    }
    let durations: Option<Vec<f64>> = frames
        .iter()
        .map(|f| crate::ingest::header::frame_duration_ms(f).filter(|d| *d >= 0.0))
        .map(|d| d.map(|ms| significant6(ms / 1000.0)))
        .collect();
    if let Some(d) = durations.filter(|d| !d.is_empty()) {
        keys.push(("FrameDuration", json!(d)));
    }
    // Each frame's reference time (ms → s), for a dynamic series whose frames differ in it.
    let references: Option<Vec<f64>> = frames
        .iter()
        .map(|f| f64_of(f, tags::FRAME_REFERENCE_TIME).filter(|t| *t >= 0.0))
        .collect();
    if let Some(r) = references.filter(|r| r.len() > 1 && r.iter().any(|t| *t != r[0])) {
        let seconds: Vec<f64> = r.iter().map(|t| significant6(t / 1000.0)).collect();
        keys.push(("FrameReferenceTime", json!(seconds)));
    }
    // Written only when the series is timed (SeriesTime or AcquisitionTime), as dcm2niix.
    let timed = series_s.is_some() || str_of(obj, tags::ACQUISITION_TIME).is_some();
    if timed {
        keys.push(("ScanStart", json!(0)));
    }
    if let Some(dc) = text(tags::DECAY_CORRECTION).filter(|_| timed) {
        let corrected = dc != "NONE";
        keys.push(("ImageDecayCorrected", json!(corrected)));
        if corrected && dc == "START" {
            keys.push(("ImageDecayCorrectionTime", json!(0)));
        } else if corrected && dc == "ADMIN" {
            let injected = first_item(obj, tags::RADIOPHARMACEUTICAL_INFORMATION_SEQUENCE)
                .and_then(|rp| str_of(rp, tags::RADIOPHARMACEUTICAL_START_TIME))
                .and_then(|t| crate::datetime::parse_tm(&t));
            let t0 = series_s.or_else(|| {
                str_of(obj, tags::ACQUISITION_TIME).and_then(|t| crate::datetime::parse_tm(&t))
            });
            if let (Some(i), Some(t0)) = (injected, t0) {
                keys.push(("ImageDecayCorrectionTime", g(i - t0)));
            }
        }
    }
    keys
}

/// dcm2niix's name for a ReconstructionMethod: its table of known methods, else the names of the
/// words it finds, in its order.
fn recon_method_name(method: &str) -> String {
    let has = |w: &str| method.contains(w);
    let known = [
        ("PSF+TOF3i21s", "Point-Spread Function + Time Of Flight"),
        ("PSF TOF 3D OSEM", "Point-Spread Function 3D Time Of Flight"),
        (
            "OP-OSEM",
            "Ordinary Poisson - Ordered Subset Expectation Maximization",
        ),
        (
            "OSEM3D-OP-PSF",
            "Ordinary Poisson 3D Ordered Subset Expectation Maximization + Point-Spread Function",
        ),
        (
            "LOR-RAMLA",
            "Line Of Response - Row Action Maximum Likelihood",
        ),
        ("3D-RAMLA", "3D Row Action Maximum Likelihood"),
        ("3DRP", "3DRP"),
        ("3D Kinahan-Rogers", "3D Kinahan-Rogers"),
    ];
    if let Some((_, name)) = known.iter().find(|(w, _)| has(w)) {
        return (*name).to_string();
    }
    let mut words: Vec<&str> = Vec::new();
    if has("OSEM") {
        words.push("Ordered Subset Expectation Maximization");
    } else if has("OS") {
        words.push("Ordered Subset");
    }
    let rest = [
        ("LOR", "Line Of Response"),
        ("RAMLA", "Row Action Maximum Likelihood"),
        ("OP", "Ordinary Poisson"),
        ("PSF", "Point-Spread Function modelling"),
        ("TOF", "Time Of Flight"),
        ("TF", "Time Of Flight"),
    ];
    words.extend(rest.iter().filter(|(w, _)| has(w)).map(|(_, n)| *n));
    if has("VPHD") {
        words.push("VUE Point HD");
    }
    if has("VPFX") {
        words.push("VUE Point HD using Time Of Flight");
    }
    let tail = [
        ("Q.Clear", "VUE Point HD with regularization (smoothing)"),
        ("BLOB", "3D spherically symmetric basis function"),
    ];
    words.extend(tail.iter().filter(|(w, _)| has(w)).map(|(_, n)| *n));
    if has("FilteredBack") || has("Filtered Back") {
        words.push("Filtered Back Projection");
    }
    if has("3DRP") {
        words.push("3D Kinahan-Rogers");
    }
    words.join(" ")
}

/// Subsets and iterations of a ReconstructionMethod as dcm2niix reads them: `<n>i` and `<n>s`
/// when the text ends in `s` (`OSEM 3i21s`), else `i<n>` and `s<n>` (`OSEM3D-OP-PSFi10s16`);
/// the largest n found (iterations 1–32, subsets 1–31). None unless both are found.
fn subsets_and_iterations(method: &str) -> Option<(u32, u32)> {
    let s_end = method.ends_with('s');
    let find = |letter: char, max: u32| {
        (1..=max)
            .filter(|i| {
                let pattern = if s_end {
                    format!("{i}{letter}")
                } else {
                    format!("{letter}{i}")
                };
                method.contains(&pattern)
            })
            .max()
    };
    Some((find('s', 31)?, find('i', 32)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dcm2niix v1.0.20260724 on the phantom's PET ("OSEM 3i21s"): Ordered Subset Expectation
    /// Maximization, subsets 21, iterations 3; and its parsing of the other layout.
    #[test]
    fn reconstruction_is_read_as_dcm2niix_reads_it() {
        assert_eq!(
            recon_method_name("OSEM 3i21s"),
            "Ordered Subset Expectation Maximization"
        );
        assert_eq!(subsets_and_iterations("OSEM 3i21s"), Some((21, 3)));
        assert_eq!(
            subsets_and_iterations("OSEM3D-OP-PSFi10s16"),
            Some((16, 10))
        );
        assert_eq!(subsets_and_iterations("OP-OSEM4i21s"), Some((21, 4)));
        assert_eq!(
            recon_method_name("OSEM3D-OP-PSFi10s16"),
            "Ordinary Poisson 3D Ordered Subset Expectation Maximization + Point-Spread Function"
        );
        assert_eq!(recon_method_name("FBP"), "");
        assert_eq!(subsets_and_iterations("FBP"), None);
    }

    /// The phantom's first PET subject's attributes, and the keys dcm2niix v1.0.20260724 wrote
    /// for that series (facts measured once, outside the tests).
    #[test]
    fn phantom_pet_keys_are_dcm2niix_s() {
        use dicom_core::value::DataSetSequence;
        use dicom_core::{DataElement, PrimitiveValue, VR};
        let put = |o: &mut InMemDicomObject, tag, vr, v: &str| {
            o.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
        };
        let mut code = InMemDicomObject::new_empty();
        put(&mut code, tags::CODE_MEANING, VR::LO, "^68^Gallium");
        let mut rp = InMemDicomObject::new_empty();
        put(&mut rp, tags::RADIOPHARMACEUTICAL, VR::LO, "Ga-68 PSMA-11");
        put(&mut rp, tags::RADIONUCLIDE_TOTAL_DOSE, VR::DS, "159222942");
        put(&mut rp, tags::RADIONUCLIDE_HALF_LIFE, VR::DS, "4062.6");
        put(
            &mut rp,
            tags::RADIONUCLIDE_POSITRON_FRACTION,
            VR::DS,
            "0.891",
        );
        put(
            &mut rp,
            tags::RADIOPHARMACEUTICAL_START_TIME,
            VR::TM,
            "112418.00",
        );
        rp.put(DataElement::new(
            tags::RADIONUCLIDE_CODE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![code]),
        ));
        let mut obj = InMemDicomObject::new_empty();
        obj.put(DataElement::new(
            tags::RADIOPHARMACEUTICAL_INFORMATION_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![rp]),
        ));
        for (tag, vr, v) in [
            (tags::UNITS, VR::CS, "BQML"),
            (tags::DECAY_CORRECTION, VR::CS, "START"),
            (tags::RECONSTRUCTION_METHOD, VR::LO, "OSEM 3i21s"),
            (tags::DECAY_FACTOR, VR::DS, "1"),
            (tags::FRAME_REFERENCE_TIME, VR::DS, "0"),
            (tags::ACTUAL_FRAME_DURATION, VR::IS, "120000"),
            (tags::ACQUISITION_TIME, VR::TM, "123518.00"),
            (tags::SERIES_TIME, VR::TM, "123518.00"),
        ] {
            put(&mut obj, tag, vr, v);
        }
        let keys: serde_json::Map<String, Value> = pet_keys(&obj, std::slice::from_ref(&obj))
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let dcm2niix = json!({
            "TracerName": "Ga-68 PSMA-11",
            "TracerRadionuclide": "68Gallium",
            "RadionuclidePositronFraction": 0.891,
            "InjectedRadioactivity": 159.22294,
            "InjectedRadioactivityUnits": "MBq",
            "RadionuclideHalfLife": 4062.6,
            "Units": "Bq/mL",
            "ReconMethodName": "Ordered Subset Expectation Maximization",
            "ReconMethodParameterLabels": ["subsets", "iterations"],
            "ReconMethodParameterValues": [21, 3],
            "DecayCorrectionFactor": [1.0],
            "FrameTimesStart": [0.0],
            "FrameDuration": [120.0],
            "ScanStart": 0,
            "ImageDecayCorrected": true,
            "ImageDecayCorrectionTime": 0,
        });
        assert_eq!(Value::Object(keys), dcm2niix);
    }

    /// dcm2niix's InjectedRadioactivity for the phantom's doses (159222942 and 140358279 Bq):
    /// 159.22294 and 140.35827 MBq (the dose held as a 32-bit float, eight digits).
    #[test]
    fn injected_activity_has_dcm2niix_s_digits() {
        for (bq, mbq) in [(159222942.0f64, 159.22294), (140358279.0, 140.35827)] {
            assert_eq!(significant(f64::from(bq as f32) / 1e6, 8), mbq);
        }
        assert_eq!(crate::datetime::parse_tm("123518.00"), Some(45318.0));
        assert_eq!(crate::datetime::parse_tm("12:35:18"), Some(45318.0));
        assert_eq!(crate::datetime::parse_tm("x"), None);
    }
}
