//! The phantom's PSMA PET series: 128×128×90, 4 mm, int16 with per-slice RescaleSlope, Units
//! BQML (CNTS + Philips private factors for the Philips style), DecayCorrection START,
//! CorrectedImage ATTN\DECY, a full RadiopharmaceuticalInformationSequence. Activities are
//! uniform per region and exactly representable: each region's concentration is a multiple of
//! 8 Bq/ml and every slice's slope is 2^-n Bq/ml with n ∈ {-3 … 2}, so stored × slope gives it
//! back exactly and SUV can be checked to 1e-4 (QIBA formula: SUVbw = C · W[g] / decayed dose).

use std::path::Path;

use dicom_core::{Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use ndarray::Array3;

use super::anatomy::Tissue;
use super::dicom_out::{code, ds, ds_multi, pixel_data_16, put, put_seq, put_us, write};
use super::headers::{common, Study};
use super::{PhantomError, Subject, Vendor};
use crate::datetime::{format_dt, format_tm, split_epoch};
use crate::quant::suv::frame_average_time;
use crate::volume::Geometry;

pub const DIMS: [usize; 3] = [90, 128, 128];
/// The one static frame's duration (ms).
const FRAME_MS: u32 = 120_000;
pub const SPACING: f64 = 4.0;
/// The PET series folder inside the PET study folder.
pub const SERIES_DIR: &str = "003_PET_WB_AC";

/// The PET grid (axial, LPS).
pub fn geometry() -> Geometry {
    Geometry::axial([-254.0, -244.0, -178.0], [SPACING, SPACING, SPACING])
}

/// Labels on a grid: 0 air/body, 1–5 regions; `body` marks voxels inside the body.
pub fn label_grid(s: &Subject, g: &Geometry, dims: [usize; 3]) -> (Array3<u8>, Array3<bool>) {
    let mut labels = Array3::<u8>::zeros((dims[0], dims[1], dims[2]));
    let mut body = Array3::<bool>::from_elem((dims[0], dims[1], dims[2]), false);
    for ((k, j, i), l) in labels.indexed_iter_mut() {
        match s.anatomy.tissue(g.world(i as f64, j as f64, k as f64)) {
            Tissue::Air => {}
            Tissue::Body => body[[k, j, i]] = true,
            Tissue::Region(r) => {
                *l = r;
                body[[k, j, i]] = true;
            }
        }
    }
    (labels, body)
}

/// Concentrations are multiples of this (Bq/ml), the largest slice slope: every stored value
/// times its slice's slope gives the concentration back exactly.
pub const CONCENTRATION_QUANTUM: f64 = 8.0;

/// Region concentrations (Bq/ml) per label 0 (body) … 5: the ideal SUV times the decayed dose
/// per gram, rounded to a multiple of [`CONCENTRATION_QUANTUM`].
pub fn concentrations(s: &Subject) -> [f64; 6] {
    let mut conc = [0.0; 6];
    for (l, c) in conc.iter_mut().enumerate() {
        let ideal = s.suv_ideal[l] * s.decayed_dose_bq() / (s.weight_kg * 1000.0);
        *c = CONCENTRATION_QUANTUM * (ideal / CONCENTRATION_QUANTUM).round();
    }
    conc
}

/// The smallest power-of-two slope (0.25 … 8 Bq/ml per unit) that keeps a slice whose maximum
/// is `max` Bq/ml within int16.
pub fn slice_slope(max: f64) -> f64 {
    [0.25, 0.5, 1.0, 2.0, 4.0, CONCENTRATION_QUANTUM]
        .into_iter()
        .find(|sl| max / sl <= 32767.0)
        .unwrap_or(CONCENTRATION_QUANTUM)
}

/// What the PET writer produced.
pub struct PetOut {
    pub files: usize,
    pub labels: Array3<u8>,
    /// Concentration (Bq/ml) per label 0 (body background) … 5.
    pub concentration: [f64; 6],
}

/// The PET study's shared attributes (also used by the phantom's SEG and RTSTRUCT).
pub fn study(s: &Subject) -> Study<'_> {
    let (ref_date, ref_tod) = split_epoch(s.reference_epoch);
    Study {
        uid: s.uid("1.1"),
        date: ref_date.to_da(),
        time: format_tm(ref_tod - 600.0),
        accession: &s.id.accession_pet,
        description: if s.describe_with_name {
            format!("PSMA PET {}", s.id.surname.to_uppercase())
        } else {
            "PSMA PET-CT WB".into()
        },
        frame_of_reference: s.uid("1.9"),
        manufacturer: s.vendor.manufacturer(),
        model: s.vendor.pet_model(),
    }
}

/// Write the PET series of subject `s` under `dir`: one file a slice, each with its own
/// RescaleSlope (the activity of its regions, `concentrations`, quantised to 16 bits).
pub fn write_pet(s: &Subject, dir: &Path) -> Result<PetOut, PhantomError> {
    let g = geometry();
    let (labels, body) = label_grid(s, &g, DIMS);
    let conc = concentrations(s);
    let base = series_header(s);
    for k in 0..DIMS[0] {
        let values = slice_activity(&labels, &body, &conc, k);
        write_slice(s, &base, &g, k, &values, dir)?;
    }
    Ok(PetOut {
        files: DIMS[0],
        labels,
        concentration: conc,
    })
}

/// The attributes every slice of subject `s`'s PET series shares: the study's and patient's
/// (`common`, with their fake PHI), the series' (dates by vendor, description, grid), the PET
/// modules (`pet_modules`), the radiopharmaceutical and the vendor's private block.
fn series_header(s: &Subject) -> InMemDicomObject {
    let (ref_date, ref_tod) = split_epoch(s.reference_epoch);
    let (series_date, series_tod) = match s.vendor {
        // GE: a reprocessed series, SeriesTime two hours after the scan; the true reference time is
        // in the GEMS_PETD_01 private block.
        Vendor::Ge => split_epoch(s.reference_epoch + 7200.0),
        _ => (ref_date, ref_tod),
    };
    let study = study(s);
    let mut base = common(s, &study);
    put(
        &mut base,
        tags::SOP_CLASS_UID,
        VR::UI,
        uids::POSITRON_EMISSION_TOMOGRAPHY_IMAGE_STORAGE,
    );
    put(&mut base, tags::MODALITY, VR::CS, "PT");
    put(&mut base, tags::SERIES_INSTANCE_UID, VR::UI, &s.uid("1.2"));
    put(&mut base, tags::SERIES_NUMBER, VR::IS, "3");
    put(&mut base, tags::SERIES_DATE, VR::DA, &series_date.to_da());
    put(&mut base, tags::SERIES_TIME, VR::TM, &format_tm(series_tod));
    put(&mut base, tags::ACQUISITION_DATE, VR::DA, &ref_date.to_da());
    put(
        &mut base,
        tags::ACQUISITION_TIME,
        VR::TM,
        &format_tm(ref_tod),
    );
    put(&mut base, tags::CONTENT_DATE, VR::DA, &series_date.to_da());
    put(
        &mut base,
        tags::CONTENT_TIME,
        VR::TM,
        &format_tm(series_tod),
    );
    let description = if s.describe_with_name {
        format!("PET AC {}", s.id.surname)
    } else {
        "PET WB AC".into()
    };
    put(&mut base, tags::SERIES_DESCRIPTION, VR::LO, &description);
    put(&mut base, tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY");
    put(
        &mut base,
        tags::IMAGE_ORIENTATION_PATIENT,
        VR::DS,
        "1\\0\\0\\0\\1\\0",
    );
    put(
        &mut base,
        tags::PIXEL_SPACING,
        VR::DS,
        &ds_multi(&[SPACING, SPACING]),
    );
    put(&mut base, tags::SLICE_THICKNESS, VR::DS, &ds(SPACING));
    put_us(&mut base, tags::ROWS, DIMS[1] as u16);
    put_us(&mut base, tags::COLUMNS, DIMS[2] as u16);
    put(&mut base, tags::RESCALE_INTERCEPT, VR::DS, "0");
    pet_modules(&mut base, s);
    put_seq(
        &mut base,
        tags::RADIOPHARMACEUTICAL_INFORMATION_SEQUENCE,
        vec![radiopharmaceutical(s)],
    );
    vendor_private(&mut base, s);
    base
}

/// The PET Image, PET Series and NM/PET Patient Orientation attributes: units by vendor, decay
/// correction, corrections, reconstruction, frame timing.
fn pet_modules(base: &mut InMemDicomObject, s: &Subject) {
    put(
        base,
        tags::RESCALE_TYPE,
        VR::LO,
        if s.vendor == Vendor::Philips {
            "CNTS"
        } else {
            "BQML"
        },
    );
    put(
        base,
        tags::UNITS,
        VR::CS,
        if s.vendor == Vendor::Philips {
            "CNTS"
        } else {
            "BQML"
        },
    );
    put(base, tags::DECAY_CORRECTION, VR::CS, "START");
    put(
        base,
        tags::CORRECTED_IMAGE,
        VR::CS,
        "NORM\\DTIM\\ATTN\\SCAT\\DECY\\RAN",
    );
    put(base, tags::SERIES_TYPE, VR::CS, "WHOLE BODY\\IMAGE");
    put(base, tags::COUNTS_SOURCE, VR::CS, "EMISSION");
    // The PET Series and NM/PET Patient Orientation modules' Type 2 attributes (PS3.3 C.8.9.1,
    // C.8.4.6): no collimator; the patient's position (feet first, supine) as codes (SNOMED CT,
    // CIDs 19-21), which a PET image gives instead of Patient Position (C.7.3.1: not present
    // where the Patient Orientation Code Sequence is).
    put(base, tags::COLLIMATOR_TYPE, VR::CS, "NONE");
    base.remove_element(tags::PATIENT_POSITION);
    let mut recumbent = code("102538003", "SCT", "recumbent");
    put_seq(
        &mut recumbent,
        tags::PATIENT_ORIENTATION_MODIFIER_CODE_SEQUENCE,
        vec![code("40199007", "SCT", "supine")],
    );
    put_seq(
        base,
        tags::PATIENT_ORIENTATION_CODE_SEQUENCE,
        vec![recumbent],
    );
    put_seq(
        base,
        tags::PATIENT_GANTRY_RELATIONSHIP_CODE_SEQUENCE,
        vec![code("102541007", "SCT", "feet-first")],
    );
    put(base, tags::LATERALITY, VR::CS, "");
    put(base, tags::RECONSTRUCTION_METHOD, VR::LO, "OSEM 3i21s");
    put_us(base, tags::NUMBER_OF_SLICES, DIMS[0] as u16);
    put(
        base,
        tags::ACTUAL_FRAME_DURATION,
        VR::IS,
        &FRAME_MS.to_string(),
    );
    // When in the frame the pixel values occurred, from its start (PS3.3's PET Image module): the
    // decay-averaged time, so that a reader back-computing the start from it (QIBA, for a
    // reprocessed series) finds the acquisition time again.
    let reference_ms =
        frame_average_time(f64::from(FRAME_MS) / 1000.0, s.tracer.half_life_s()) * 1000.0;
    put(
        base,
        tags::FRAME_REFERENCE_TIME,
        VR::DS,
        &format!("{reference_ms:.3}"),
    );
    put(base, tags::DECAY_FACTOR, VR::DS, "1");
}

/// The Radiopharmaceutical Information Sequence's item: tracer, injection time (time only for a
/// subject whose injection crosses midnight that way), dose, half-life, and a private block
/// naming who injected (PHI nested in a sequence).
fn radiopharmaceutical(s: &Subject) -> InMemDicomObject {
    let mut rp = dicom_object::InMemDicomObject::new_empty();
    put(&mut rp, tags::RADIOPHARMACEUTICAL, VR::LO, s.tracer.name());
    let (_, inj_tod) = split_epoch(s.injection_epoch);
    put(
        &mut rp,
        tags::RADIOPHARMACEUTICAL_START_TIME,
        VR::TM,
        &format_tm(inj_tod),
    );
    if !s.time_only_injection {
        put(
            &mut rp,
            tags::RADIOPHARMACEUTICAL_START_DATE_TIME,
            VR::DT,
            &format_dt(s.injection_epoch),
        );
    }
    put(
        &mut rp,
        tags::RADIONUCLIDE_TOTAL_DOSE,
        VR::DS,
        &ds(s.dose_bq),
    );
    put(
        &mut rp,
        tags::RADIONUCLIDE_HALF_LIFE,
        VR::DS,
        &ds(s.tracer.half_life_s()),
    );
    put(
        &mut rp,
        tags::RADIONUCLIDE_POSITRON_FRACTION,
        VR::DS,
        &ds(s.tracer.positron_fraction()),
    );
    put_seq(
        &mut rp,
        tags::RADIONUCLIDE_CODE_SEQUENCE,
        vec![s.tracer.code()],
    );
    put(
        &mut rp,
        tags::RADIOPHARMACEUTICAL_ROUTE,
        VR::LO,
        "Intravenous",
    );
    // PHI nested in the radiopharmaceutical item: a private block naming who injected.
    put(&mut rp, Tag(0x0011, 0x0010), VR::LO, "ANCILLA HOTLAB");
    put(&mut rp, Tag(0x0011, 0x1001), VR::PN, &s.id.operator);
    put(&mut rp, Tag(0x0011, 0x1002), VR::LO, &s.id.patient_id);
    rp
}

/// Vendor private blocks (the safe-private attributes SUV needs).
fn vendor_private(base: &mut InMemDicomObject, s: &Subject) {
    match s.vendor {
        Vendor::Ge => {
            put(base, Tag(0x0009, 0x0010), VR::LO, "GEMS_PETD_01");
            put(
                base,
                Tag(0x0009, 0x100D),
                VR::DT,
                &format_dt(s.reference_epoch),
            );
        }
        Vendor::Philips => {
            put(
                base,
                Tag(0x7053, 0x0010),
                VR::LO,
                "Philips PET Private Group",
            );
            // counts × slope × 0.5 = Bq/ml; counts × slope × SUV factor = SUVbw.
            put(
                base,
                Tag(0x7053, 0x1000),
                VR::DS,
                &ds(0.5 * s.weight_kg * 1000.0 / s.decayed_dose_bq()),
            );
            put(base, Tag(0x7053, 0x1009), VR::DS, "0.5");
        }
        Vendor::Siemens => {
            put(base, Tag(0x0071, 0x0010), VR::LO, "SIEMENS MED PT");
            put(
                base,
                Tag(0x0071, 0x1022),
                VR::DT,
                &format_dt(s.reference_epoch),
            );
        }
    }
}

/// The activity (Bq/ml) of every voxel of slice `k`: its region's, the background's inside the
/// body, 0 outside.
fn slice_activity(labels: &Array3<u8>, body: &Array3<bool>, conc: &[f64], k: usize) -> Vec<f64> {
    let slice_labels = labels.index_axis(ndarray::Axis(0), k);
    let slice_body = body.index_axis(ndarray::Axis(0), k);
    slice_labels
        .iter()
        .zip(slice_body.iter())
        .map(|(&l, &b)| {
            if l > 0 {
                conc[l as usize]
            } else if b {
                conc[0]
            } else {
                0.0
            }
        })
        .collect()
}

/// Slice `k` of the series (`values`: its activity) written as a file: its instance (1 at the
/// head end, so the files are not in position order), position and RescaleSlope.
fn write_slice(
    s: &Subject,
    base: &InMemDicomObject,
    g: &Geometry,
    k: usize,
    values: &[f64],
    dir: &Path,
) -> Result<(), PhantomError> {
    let n = DIMS[1] * DIMS[2];
    let instance = DIMS[0] - k;
    let z = g.world(0.0, 0.0, k as f64);
    let max = values.iter().cloned().fold(0.0, f64::max);
    let slope = slice_slope(max);
    let stored: Vec<u16> = values
        .iter()
        .map(|v| ((v / slope).round() as i16) as u16)
        .collect();
    debug_assert_eq!(stored.len(), n);
    let mut o = base.clone();
    put(
        &mut o,
        tags::SOP_INSTANCE_UID,
        VR::UI,
        &s.uid(&format!("1.3.{instance}")),
    );
    put(&mut o, tags::INSTANCE_NUMBER, VR::IS, &instance.to_string());
    put_us(&mut o, tags::IMAGE_INDEX, instance as u16);
    put(&mut o, tags::IMAGE_POSITION_PATIENT, VR::DS, &ds_multi(&z));
    put(&mut o, tags::SLICE_LOCATION, VR::DS, &ds(z[2]));
    let file_slope = if s.vendor == Vendor::Philips {
        slope * 2.0
    } else {
        slope
    };
    put(&mut o, tags::RESCALE_SLOPE, VR::DS, &ds(file_slope));
    pixel_data_16(&mut o, &stored, true);
    write(o, &dir.join(format!("IM{instance:05}.dcm")))
}

#[cfg(test)]
mod tests {
    use super::super::Subject;
    use super::*;

    /// Over many subjects (both tracers, light and heavy patients), every region of every slice is
    /// stored without saturation and read back exactly, whatever the slice maximum is.
    #[test]
    fn every_concentration_is_exact_in_int16_for_any_slice_maximum() {
        for seed in 0..5 {
            for index in 0..60 {
                let s = Subject::new(seed, index, "A");
                let conc = concentrations(&s);
                for max in conc {
                    let slope = slice_slope(max);
                    for c in conc.iter().filter(|c| **c <= max) {
                        let stored = c / slope;
                        assert_eq!(stored.fract(), 0.0, "{c} / {slope}");
                        assert!(stored <= 32767.0, "{seed}/{index}: {c} / {slope}");
                        assert_eq!(stored * slope, *c);
                    }
                }
                // The rounding keeps the truth close to the ideal SUV.
                let f = s.suvbw_factor();
                assert!((conc[1] * f - s.suv_ideal[1]).abs() < 0.01 * s.suv_ideal[1]);
            }
        }
    }
}
