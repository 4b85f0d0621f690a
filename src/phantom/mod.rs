//! The synthetic cohort (`ancilla phantom`): per subject a PSMA PET series and a renal MRI study
//! as real DICOM Part-10 files full of fake PHI, NIfTI label masks on the PET and T2 grids,
//! CDISC-style clinical tables with a planted relation (higher tumour SUV → shorter PFS), and
//! ground truth (region volumes, activities, SUVbw by the QIBA formula, ADC, tumour diameter,
//! every planted PHI string). Vendor conventions vary (Siemens-, GE-, Philips-style PET headers;
//! one time-only injection that crosses midnight) and defects are planted (a truncated file, a
//! non-DICOM file, a series with a missing slice). Deterministic: same seed, same bytes.
//!
//! Variants by subject index i: PET style Siemens / GE / Philips for i % 3 = 0 / 1 / 2; tracer
//! F-18 DCFPyL when i % 4 = 3, else Ga-68 PSMA-11; i = 3 time-only injection across midnight;
//! i = 2 T2 as one Enhanced MR multi-frame file; odd i: descriptions carry the surname. Defects:
//! not-DICOM file (i = 0), truncated PET copy (i = 1), T1 series with a missing slice (i = 2).
//!
//! Layout: `site-export/<name>_<MRN>/{PET_<date>,MR_<date>}/<series>/IM*.dcm`,
//! `masks/<USUBJID>/{pet,mr}_labels.nii.gz`, `clinical/*.csv`, `key.bin`, `ground_truth.json`.

pub mod anatomy;
mod clinical;
mod dicom_out;
pub mod dicom_rois;
mod enhanced_mr_iod;
mod headers;
pub mod identity;
pub mod mri;
pub mod pet;
pub mod rng;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::{json, Value};

use crate::datetime::{epoch_seconds, Date};
use crate::volume::nifti_io::{write_array, NiftiMeta};
use anatomy::{Anatomy, LABELS};
use identity::Identity;
use rng::Rng;

/// Errors of the phantom generator.
#[derive(Debug, thiserror::Error)]
pub enum PhantomError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("DICOM encoding failed: {0}")]
    Dicom(String),
    #[error("NIfTI: {0}")]
    Nifti(String),
    #[error("--subjects must be at least 1")]
    NoSubjects,
    #[error("--subjects {0} is more than the {MAX_SUBJECTS} a phantom cohort holds")]
    TooManySubjects(usize),
}

/// The largest phantom cohort (some 220 files and 7 MB a subject: 70 GB at this bound). A
/// larger number was taken, and aborted allocating the cohort's records (exit 134).
pub const MAX_SUBJECTS: usize = 10_000;

impl crate::ExitCode for PhantomError {
    fn exit_code(&self) -> u8 {
        match self {
            PhantomError::NoSubjects | PhantomError::TooManySubjects(_) => 2,
            _ => 1,
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct PhantomOptions {
    pub out: PathBuf,
    pub subjects: usize,
    pub seed: u64,
    /// Also write a DICOM SEG and an RTSTRUCT on each subject's PET (core-lab style ROIs).
    pub dicom_rois: bool,
}

/// What was generated.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PhantomSummary {
    pub subjects: usize,
    pub files: usize,
}

/// PET header conventions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Vendor {
    Siemens,
    Ge,
    Philips,
}

impl Vendor {
    fn manufacturer(self) -> &'static str {
        match self {
            Vendor::Siemens => "SIEMENS",
            Vendor::Ge => "GE MEDICAL SYSTEMS",
            Vendor::Philips => "Philips Medical Systems",
        }
    }
    fn pet_model(self) -> &'static str {
        match self {
            Vendor::Siemens => "Biograph Vision 600",
            Vendor::Ge => "Discovery MI",
            Vendor::Philips => "Vereos",
        }
    }
    fn mr_model(self) -> &'static str {
        match self {
            Vendor::Siemens => "MAGNETOM Sola",
            Vendor::Ge => "SIGNA Artist",
            Vendor::Philips => "Ingenia",
        }
    }
}

/// PSMA tracers (half-lives as headers carry them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Tracer {
    Ga68Psma11,
    F18Dcfpyl,
}

impl Tracer {
    fn name(self) -> &'static str {
        match self {
            Tracer::Ga68Psma11 => "Ga-68 PSMA-11",
            Tracer::F18Dcfpyl => "F-18 DCFPyL",
        }
    }
    pub fn half_life_s(self) -> f64 {
        match self {
            Tracer::Ga68Psma11 => 4062.6,
            Tracer::F18Dcfpyl => 6586.2,
        }
    }
    fn positron_fraction(self) -> f64 {
        match self {
            Tracer::Ga68Psma11 => 0.891,
            Tracer::F18Dcfpyl => 0.967,
        }
    }
    fn code(self) -> dicom_object::InMemDicomObject {
        match self {
            Tracer::Ga68Psma11 => dicom_out::code("C-131A3", "SRT", "^68^Gallium"),
            Tracer::F18Dcfpyl => dicom_out::code("C-111A1", "SRT", "^18^Fluorine"),
        }
    }
}

/// The trial site (SITEID, 1–3) of subject `index`; it is also the middle part of the USUBJID.
pub fn site_of(index: usize) -> usize {
    1 + index % 3
}

/// The subject (0-based index) whose T2 is written as an Enhanced MR Image multi-frame file.
pub const ENHANCED_T2_SUBJECT: usize = 2;

/// One phantom subject.
#[derive(Debug, Clone)]
pub struct Subject {
    pub index: usize,
    pub usubjid: String,
    pub armcd: &'static str,
    pub id: Identity,
    pub vendor: Vendor,
    pub anatomy: Anatomy,
    pub sex: &'static str,
    pub age: u32,
    pub weight_kg: f64,
    pub height_m: f64,
    pub tracer: Tracer,
    pub dose_bq: f64,
    pub injection_epoch: f64,
    pub reference_epoch: f64,
    pub time_only_injection: bool,
    /// The T2 is one Enhanced MR Image (multi-frame) file instead of one file per slice.
    pub enhanced_t2: bool,
    pub describe_with_name: bool,
    pub rand_date: Date,
    pub mri_date: Date,
    pub pet_date: Date,
    pub neph_date: Date,
    /// Ideal SUVbw per label 0 (body) … 5 before quantisation.
    pub suv_ideal: [f64; 6],
    uid_root: String,
}

impl Subject {
    fn new(seed: u64, index: usize, armcd: &'static str) -> Self {
        let mut rng = Rng::new(seed, index as u64 + 1);
        let id = Identity::random(&mut rng, index);
        let vendor = [Vendor::Siemens, Vendor::Ge, Vendor::Philips][index % 3];
        let tracer = if index % 4 == 3 {
            Tracer::F18Dcfpyl
        } else {
            Tracer::Ga68Psma11
        };
        let sex = if rng.uniform() < 0.7 { "M" } else { "F" };
        let rand_date = Date::new(2024, 1, 15).add_days(9 * index as i64 + rng.below(5) as i64);
        let mri_date = rand_date.add_days(10 + rng.below(10) as i64);
        let pet_date = mri_date.add_days(2 + rng.below(4) as i64);
        let neph_date = pet_date.add_days(7 + rng.below(14) as i64);
        // Subject 3 (when present): injection 23:40, scan 00:45 the next day, time-only injection.
        let time_only_injection = index == 3;
        let (injection_epoch, reference_epoch) = if time_only_injection {
            let inj = epoch_seconds(pet_date.add_days(-1), 23.0 * 3600.0 + 40.0 * 60.0);
            (inj, inj + 65.0 * 60.0)
        } else {
            let inj = epoch_seconds(
                pet_date,
                9.0 * 3600.0 + rng.range(0.0, 3.0 * 3600.0).round(),
            );
            (inj, inj + rng.range(55.0, 75.0).round() * 60.0)
        };
        let dose_bq = match tracer {
            Tracer::Ga68Psma11 => rng.range(130e6, 190e6).round(),
            Tracer::F18Dcfpyl => rng.range(280e6, 360e6).round(),
        };
        // Tumour SUV spread log-uniformly over 4–25 (the planted relation uses it).
        let tumor_suv = (4f64.ln() + rng.uniform() * (25f64.ln() - 4f64.ln())).exp();
        let suv_ideal = [
            0.6,
            tumor_suv,
            rng.range(22.0, 32.0),
            rng.range(4.0, 7.0),
            rng.range(1.4, 2.2),
            rng.range(10.0, 16.0),
        ];
        Subject {
            index,
            usubjid: format!("ANC-{:02}-{:04}", site_of(index), index + 1),
            armcd,
            anatomy: Anatomy::random(&mut rng),
            sex,
            age: 45 + rng.below(35) as u32,
            weight_kg: (rng.range(55.0, 110.0) * 10.0).round() / 10.0,
            height_m: (rng.range(1.55, 1.95) * 100.0).round() / 100.0,
            tracer,
            dose_bq,
            injection_epoch,
            reference_epoch,
            time_only_injection,
            enhanced_t2: index == ENHANCED_T2_SUBJECT,
            describe_with_name: index % 2 == 1,
            rand_date,
            mri_date,
            pet_date,
            neph_date,
            suv_ideal,
            uid_root: format!(
                "1.2.826.0.1.3680043.10.543.{}.{}",
                seed % 100_000,
                index + 1
            ),
            id,
            vendor,
        }
    }

    /// A UID under this subject's fake root.
    pub fn uid(&self, part: &str) -> String {
        format!("{}.{part}", self.uid_root)
    }

    /// Dose decayed from injection to the PET reference time (QIBA: D · 2^(−Δt/T½)).
    pub fn decayed_dose_bq(&self) -> f64 {
        let dt = self.reference_epoch - self.injection_epoch;
        self.dose_bq * (-dt / self.tracer.half_life_s()).exp2()
    }

    /// SUVbw factor (g/ml per Bq/ml) of the QIBA formula: W[g] / decayed dose.
    pub fn suvbw_factor(&self) -> f64 {
        self.weight_kg * 1000.0 / self.decayed_dose_bq()
    }

    fn folder(&self) -> String {
        format!(
            "{}_{}_{}",
            self.id.surname.to_uppercase(),
            self.id.given,
            self.id.patient_id
        )
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PhantomError + '_ {
    move |source| PhantomError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Generate one subject: DICOM, masks; returns (files, truth).
fn generate_subject(
    s: &Subject,
    out: &Path,
    defects: &[Defect],
    dicom_rois: bool,
) -> Result<(usize, Value), PhantomError> {
    let patient_dir = out.join("site-export").join(s.folder());
    let pet_dir = patient_dir
        .join(format!("PET_{}", s.pet_date.to_da()))
        .join(pet::SERIES_DIR);
    let mr_dir = patient_dir.join(format!("MR_{}", s.mri_date.to_da()));
    let pet_out = pet::write_pet(s, &pet_dir)?;
    let mri_out = mri::write_mri(s, &mr_dir)?;
    // DICOM files plus the two masks.
    let mut files = pet_out.files + mri_out.files + 2;
    if dicom_rois {
        let study_dir = patient_dir.join(format!("PET_{}", s.pet_date.to_da()));
        files += dicom_rois::write_seg(s, &pet_out.labels, &study_dir.join(dicom_rois::SEG_DIR))?;
        files += dicom_rois::write_rtstruct(s, &study_dir.join(dicom_rois::RTSTRUCT_DIR))?;
    }
    let masks = out.join("masks").join(&s.usubjid);
    let meta = NiftiMeta {
        description: "ancilla phantom labels".into(),
        time_step_s: None,
        dim_info: 0,
        slice_code: 0,
        tilt_shear: false,
        bvec_lengths_kept: false,
    };
    let nerr = |e: crate::volume::nifti_io::NiftiError| PhantomError::Nifti(e.to_string());
    write_array(
        pet_out.labels.view(),
        &pet::geometry(),
        &masks.join("pet_labels.nii.gz"),
        &meta,
    )
    .map_err(nerr)?;
    write_array(
        mri_out.t2_labels.view(),
        &mri::t2_geometry(),
        &masks.join("mr_labels.nii.gz"),
        &meta,
    )
    .map_err(nerr)?;
    for d in defects.iter().filter(|d| d.subject == s.index) {
        files += write_defect(s, d, &patient_dir, &pet_dir)?;
    }
    // Ground truth.
    let factor = s.suvbw_factor();
    let pet_voxel_ml = pet::SPACING.powi(3) / 1000.0;
    let t2_voxel_ml = mri::t2_geometry().voxel_volume_mm3() / 1000.0;
    let mut regions = serde_json::Map::new();
    for (label, name) in LABELS {
        let l = label as usize;
        let pet_count = pet_out.labels.iter().filter(|&&x| x == label).count();
        let mr_count = mri_out.t2_labels.iter().filter(|&&x| x == label).count();
        regions.insert(
            name.to_string(),
            json!({
                "label": label,
                "volume_ml_analytic": s.anatomy.analytic_volume_ml(label),
                "volume_ml_pet_grid": pet_count as f64 * pet_voxel_ml,
                "volume_ml_mr_grid": mr_count as f64 * t2_voxel_ml,
                // The MR field of view is renal: liver, blood pool and parotids may be cut.
                "inside_mr_fov": s.anatomy.inside_grid(label, &mri::t2_geometry(), mri::T2_DIMS),
                "activity_bqml": pet_out.concentration[l],
                "suvbw": pet_out.concentration[l] * factor,
                "adc_1e-6_mm2_s": mri::ADC[l],
                "dwi_signal": mri::B_VALUES.iter().map(|&b| mri::dwi_signal_stored(l, b)).collect::<Vec<_>>(),
                "t2_signal": mri::T2_SIGNAL[l],
            }),
        );
    }
    regions.insert("background".into(), json!({"activity_bqml": pet_out.concentration[0], "suvbw": pet_out.concentration[0] * factor, "adc_1e-6_mm2_s": mri::ADC[0]}));
    let mut phi = s.id.phi_strings();
    phi.retain(|p| p.len() >= 6);
    let truth = json!({
        "usubjid": s.usubjid,
        "armcd": s.armcd,
        "patient_id": s.id.patient_id,
        "vendor_style": s.vendor,
        "tracer": s.tracer,
        "half_life_s": s.tracer.half_life_s(),
        "dose_bq": s.dose_bq,
        "weight_kg": s.weight_kg,
        "height_m": s.height_m,
        "sex": s.sex,
        "uptake_s": s.reference_epoch - s.injection_epoch,
        "time_only_injection": s.time_only_injection,
        "t2_enhanced_multiframe": s.enhanced_t2,
        "decayed_dose_bq": s.decayed_dose_bq(),
        "suvbw_factor": factor,
        "tumor_diameter_mm": 2.0 * s.anatomy.tumor.radii[0],
        // The analytic regions (ellipsoids, LPS mm): tumour, kidneys, liver, blood pool, parotids.
        "anatomy": s.anatomy,
        "regions": regions,
        "phi": phi,
        "phi_dates": [s.pet_date.to_da(), s.mri_date.to_da(), s.id.birth_date],
        "original_uid_root": s.uid_root,
        "series": {"pet": 1, "t2": 1, "dwi": 1, "adc": 1},
        "dicom_rois": if dicom_rois {
            json!({
                "seg": format!("{}/PET_{}/{}/SEG00001.dcm", s.folder(), s.pet_date.to_da(), dicom_rois::SEG_DIR),
                "rtstruct": format!("{}/PET_{}/{}/RS00001.dcm", s.folder(), s.pet_date.to_da(), dicom_rois::RTSTRUCT_DIR),
            })
        } else {
            Value::Null
        },
        // Series folders relative to site-export (they carry PHI: ground truth stays at the site).
        "series_dirs": {
            "pet": format!("{}/PET_{}/{}", s.folder(), s.pet_date.to_da(), pet::SERIES_DIR),
            "t2": format!("{}/MR_{}/{}", s.folder(), s.mri_date.to_da(), mri::T2_DIR),
            "dwi": format!("{}/MR_{}/{}", s.folder(), s.mri_date.to_da(), mri::DWI_DIR),
            "adc": format!("{}/MR_{}/{}", s.folder(), s.mri_date.to_da(), mri::ADC_DIR),
        },
        "pet_units": if s.vendor == Vendor::Philips { "CNTS" } else { "BQML" },
        "pet_reference_source": match s.vendor {
            Vendor::Siemens => "SeriesDate/SeriesTime",
            Vendor::Ge => "(0009,100D) GEMS_PETD_01 (SeriesTime is 2 h later)",
            Vendor::Philips => "SeriesDate/SeriesTime",
        },
        "pet_reference_datetime": crate::datetime::format_dt(s.reference_epoch),
        "injection_datetime": crate::datetime::format_dt(s.injection_epoch),
    });
    Ok((files, truth))
}

/// A planted defect.
#[derive(Debug, Clone)]
struct Defect {
    subject: usize,
    kind: &'static str,
}

fn write_defect(
    s: &Subject,
    d: &Defect,
    patient_dir: &Path,
    pet_dir: &Path,
) -> Result<usize, PhantomError> {
    match d.kind {
        "not_dicom" => {
            let p = patient_dir.join("export_notes.txt");
            crate::atomic::write_bytes(
                &p,
                format!(
                    "Export for {} ({}), burned to disc by PACS.\n",
                    s.id.name(),
                    s.id.patient_id
                )
                .as_bytes(),
            )
            .map_err(io_err(&p))?;
            Ok(1)
        }
        "truncated" => {
            // A lone copy of a PET slice in its own series, cut inside Pixel Data.
            let src = pet_dir.join("IM00045.dcm");
            let bytes = std::fs::read(&src).map_err(io_err(&src))?;
            let p = patient_dir
                .join(format!("PET_{}", s.pet_date.to_da()))
                .join("099_PET_COPY")
                .join("IM00001.dcm");
            crate::atomic::write_bytes(&p, &bytes[..bytes.len() * 3 / 5]).map_err(io_err(&p))?;
            Ok(1)
        }
        _ => mri::write_gapped_t1(s, &patient_dir.join(format!("MR_{}", s.mri_date.to_da()))),
    }
}

/// The subjects with images in a cohort of `n`: n arm-A, plus one arm-B when n ≥ 5 (to be
/// reported and excluded).
fn imaged_subjects(seed: u64, n: usize) -> Vec<Subject> {
    (0..n + usize::from(n >= 5))
        .map(|i| Subject::new(seed, i, if i < n { "A" } else { "B" }))
        .collect()
}

/// The arm-B subjects known only to the clinical tables of a cohort of `n` (`imaged` subjects
/// with images): n/2 of them, indexed from the first thousand above every imaged subject's
/// (1000 while fewer than 1000 are imaged), so no two subjects share an index.
fn clinical_only_subjects(seed: u64, n: usize, imaged: usize) -> Vec<Subject> {
    let first = imaged.max(1000).next_multiple_of(1000);
    (0..(n / 2).max(1))
        .map(|i| Subject::new(seed, first + i, "B"))
        .collect()
}

/// Generate the cohort under `opts.out`.
pub fn generate(opts: &PhantomOptions) -> Result<PhantomSummary, PhantomError> {
    if opts.subjects == 0 {
        return Err(PhantomError::NoSubjects);
    }
    if opts.subjects > MAX_SUBJECTS {
        return Err(PhantomError::TooManySubjects(opts.subjects));
    }
    let n = opts.subjects;
    let imaged = imaged_subjects(opts.seed, n);
    let defects = vec![
        Defect {
            subject: 0,
            kind: "not_dicom",
        },
        Defect {
            subject: 1.min(imaged.len() - 1),
            kind: "truncated",
        },
        Defect {
            subject: 2.min(imaged.len() - 1),
            kind: "missing_slice",
        },
    ];
    let results: Vec<Result<(usize, Value), PhantomError>> = imaged
        .par_iter()
        .map(|s| generate_subject(s, &opts.out, &defects, opts.dicom_rois))
        .collect();
    let mut files = 0;
    let mut truths = Vec::new();
    for r in results {
        let (f, t) = r?;
        files += f;
        truths.push(t);
    }
    let clinical_only = clinical_only_subjects(opts.seed, n, imaged.len());
    files += clinical::write_tables(
        &opts.out.join("clinical"),
        &imaged,
        &clinical_only,
        opts.seed,
    )?;
    // A demo key (never use it for real data).
    let mut rng = Rng::new(opts.seed, 0xC0FFEE);
    let key: Vec<u8> = (0..32).map(|_| rng.next_u64() as u8).collect();
    let key_path = opts.out.join("key.bin");
    crate::atomic::write_bytes(&key_path, &key).map_err(io_err(&key_path))?;
    let defect_list: Vec<Value> = defects
        .iter()
        .map(|d| {
            let s = &imaged[d.subject];
            let path = match d.kind {
                "not_dicom" => format!("{}/export_notes.txt", s.folder()),
                "truncated" => format!(
                    "{}/PET_{}/099_PET_COPY/IM00001.dcm",
                    s.folder(),
                    s.pet_date.to_da()
                ),
                _ => format!("{}/MR_{}/009_t1_vibe_ax", s.folder(), s.mri_date.to_da()),
            };
            json!({"kind": d.kind, "usubjid": s.usubjid, "path": path})
        })
        .collect();
    let truth = json!({
        "generator": "ancilla phantom",
        "version": env!("CARGO_PKG_VERSION"),
        "seed": opts.seed,
        "labels": LABELS.iter().map(|(l, n)| json!({"label": l, "name": n})).collect::<Vec<_>>(),
        "subjects": truths,
        "defects": defect_list,
    });
    let truth_path = opts.out.join("ground_truth.json");
    crate::atomic::write_json(&truth_path, &truth).map_err(io_err(&truth_path))?;
    Ok(PhantomSummary {
        subjects: imaged.len(),
        files: files + 2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Column `name` of a CSV file written by the phantom.
    fn column(path: &Path, name: &str) -> Vec<String> {
        let mut r = csv::Reader::from_path(path).unwrap();
        let at = r.headers().unwrap().iter().position(|h| h == name).unwrap();
        r.records()
            .map(|row| row.unwrap()[at].to_string())
            .collect()
    }

    /// Regression (a 1000-subject cohort): the imaged arm-B subject (index 1000) and the first
    /// clinical-only subject (then also index 1000) were one USUBJID twice in ADSL and ADTTE, the
    /// imaged one's own USUBJID in none, and `ancilla run` stopped at link. Every ADSL USUBJID is
    /// now unique and every imaged subject is in ADSL, below and above a thousand subjects.
    #[test]
    fn every_subject_has_its_own_usubjid_in_adsl() {
        for n in [20, 999, 1000] {
            let imaged = imaged_subjects(1, n);
            let clinical_only = clinical_only_subjects(1, n, imaged.len());
            let dir = tempfile::tempdir().unwrap();
            clinical::write_tables(dir.path(), &imaged, &clinical_only, 1).unwrap();
            let adsl = column(&dir.path().join("adsl.csv"), "USUBJID");
            let unique: std::collections::BTreeSet<&String> = adsl.iter().collect();
            assert_eq!(
                unique.len(),
                adsl.len(),
                "{n} subjects: a USUBJID twice in ADSL"
            );
            assert_eq!(adsl.len(), imaged.len() + clinical_only.len());
            for u in column(&dir.path().join("subject_map.csv"), "usubjid") {
                assert!(
                    unique.contains(&u),
                    "{n} subjects: {u} imaged but not in ADSL"
                );
            }
        }
    }
}
