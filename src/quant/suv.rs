//! SUV after the QIBA vendor-neutral pseudo-code (with the IBSI/OncoRay refinements noted in
//! docs/reference/suv.md): the factor that turns a PET series' rescaled values into body-weight
//! SUV (g/ml), every input it used, and every branch it took. Refused — with the attribute and
//! what was expected — rather than guessed. Times are compared on one clock: a DT's own UTC
//! offset (PS3.5 6.2) is moved into TimezoneOffsetFromUTC's zone. DecayCorrection NONE gives
//! each bed (frame time) its own factor, applied slice by slice by [`SuvResult::scale`].
//!
//! `compute` is a pure function of `SuvInputs` (one per image); `suv_for_files` reads the
//! headers of a series and calls it, `suv_for_series` takes them from a scan's records.

use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use serde::Serialize;

use crate::datetime::{epoch_seconds, parse_dt, parse_tm, Date};
use crate::ingest::values::{creator_element, f64_of, f64s_of, first_item, str_of, text_of};

/// Why no SUV factor can be given.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SuvError {
    #[error("not a PET series: Modality is {0:?}, expected PT")]
    NotPet(String),
    #[error("missing or invalid {attribute}: {expected}")]
    Missing {
        attribute: &'static str,
        expected: &'static str,
    },
    #[error("{attribute} is {found:?}: {expected}")]
    Unsupported {
        attribute: &'static str,
        found: String,
        expected: &'static str,
    },
    #[error("{attribute} differs between images of the series ({detail})")]
    Contradictory {
        attribute: &'static str,
        detail: String,
    },
    #[error("implausible uptake interval: {0}")]
    Implausible(String),
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("no PET series under {0}")]
    NoSeries(String),
    #[error("input {0} does not exist")]
    MissingInput(std::path::PathBuf),
}

impl crate::ExitCode for SuvError {
    /// A missing input is a bad command line (2), as in `scan` and `convert`.
    fn exit_code(&self) -> u8 {
        match self {
            SuvError::MissingInput(_) => 2,
            _ => 1,
        }
    }
}

/// What SUV needs from one image's header.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SuvInputs {
    pub modality: String,
    pub units: String,
    pub suv_type: String,
    pub decay_correction: String,
    pub corrected_image: Vec<String>,
    pub series_date: String,
    pub series_time: String,
    pub acquisition_date: String,
    pub acquisition_time: String,
    pub acquisition_datetime: String,
    pub start_datetime: String,
    pub start_time: String,
    pub total_dose: Option<f64>,
    pub half_life: Option<f64>,
    pub weight: Option<f64>,
    /// PatientSize in metres.
    pub size: Option<f64>,
    pub sex: String,
    pub frame_reference_time_ms: Option<f64>,
    pub actual_frame_duration_ms: Option<f64>,
    /// Philips (7053,1000) SUV scale factor.
    pub philips_suv_factor: Option<f64>,
    /// Philips (7053,1009) activity concentration scale factor.
    pub philips_activity_factor: Option<f64>,
    /// GE (0009,100D), creator GEMS_PETD_01: the reference date-time.
    pub ge_reference_datetime: String,
    /// TimezoneOffsetFromUTC (0008,0201): the zone of the DA/TM values and of the DT values
    /// without an offset of their own.
    pub timezone_offset: String,
    /// ImagePositionPatient and ImageOrientationPatient: where the image lies, for a factor per
    /// frame (DecayCorrection NONE, beds acquired at different times).
    pub position: Option<[f64; 3]>,
    pub orientation: Option<[f64; 6]>,
    /// An enhanced (multi-frame) PET with DecayCorrection NONE: each frame's timing and place
    /// (the fields above are the first frame's).
    pub frames: Vec<FrameTiming>,
    /// The tracer as the header names it: Radiopharmaceutical (0018,0031) and the code meaning
    /// of RadiopharmaceuticalCodeSequence, in the first radiopharmaceutical item.
    pub radiopharmaceutical: String,
}

/// Whether a tracer's name is PSMA-1007's (`PSMA-1007`, `PSMA 1007`, `18F-PSMA1007`, any case):
/// "1007" alone is not (a lot number may hold it).
pub fn names_psma_1007(name: &str) -> bool {
    let plain: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    plain.contains("psma1007")
}

/// Whether a series' header names ¹⁸F-PSMA-1007 as its tracer (its first file's SUV inputs,
/// read by a scan that keeps them).
pub fn series_psma_1007(s: &crate::ingest::Series) -> bool {
    s.files
        .first()
        .and_then(|f| f.suv.as_ref())
        .is_some_and(|suv| suv.psma_1007())
}

impl SuvInputs {
    /// Whether the tracer is ¹⁸F-PSMA-1007, whose hepatobiliary excretion makes PROMISE V2 take
    /// the spleen instead of the liver as the reference of its expression score.
    pub fn psma_1007(&self) -> bool {
        names_psma_1007(&self.radiopharmaceutical)
    }
}

impl SuvInputs {
    /// The image's own timing and place (a classic image's, or an enhanced one's first frame).
    fn timing(&self) -> FrameTiming {
        FrameTiming {
            acquisition_datetime: self.acquisition_datetime.clone(),
            duration_ms: self.actual_frame_duration_ms,
            position: self.position,
            orientation: self.orientation,
        }
    }

    /// Each frame's timing and place: an enhanced PET's frames, else the image's own.
    fn frame_timings(&self) -> Vec<FrameTiming> {
        if self.frames.is_empty() {
            vec![self.timing()]
        } else {
            self.frames.clone()
        }
    }
}

/// When and where one frame of an enhanced PET was acquired (its functional groups).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameTiming {
    /// FrameAcquisitionDateTime (0018,9074), else AcquisitionDateTime.
    pub acquisition_datetime: String,
    pub duration_ms: Option<f64>,
    pub position: Option<[f64; 3]>,
    pub orientation: Option<[f64; 6]>,
}

/// The factor of the images of one frame (a bed): those from `from_mm` to `to_mm` along the
/// slice normal (ImagePositionPatient projected on row × column cosines).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FrameFactor {
    pub from_mm: f64,
    pub to_mm: f64,
    /// Seconds from injection to the frame's decay-averaged time.
    pub decay_seconds: f64,
    pub suvbw_factor: f64,
}

impl FrameFactor {
    /// How far `at` lies outside the frame's slices (0 inside).
    fn distance(&self, at: f64) -> f64 {
        (self.from_mm - at).max(at - self.to_mm).max(0.0)
    }
}

/// The result, with every input and branch.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SuvResult {
    /// Rescaled stored value × factor = SUVbw (g/ml).
    pub suvbw_factor: f64,
    /// Rescaled stored value × factor = SUL (Janmahasatian lean body mass), when computable.
    pub sul_factor: Option<f64>,
    pub units_path: String,
    pub reference_time_source: Option<String>,
    pub injection_time_source: Option<String>,
    pub decay_seconds: Option<f64>,
    pub dose_bq: Option<f64>,
    /// None only for GML images stored as SUVbw, which need no weight.
    pub weight_kg: Option<f64>,
    pub half_life_s: Option<f64>,
    pub warnings: Vec<String>,
    /// DecayCorrection NONE with frames acquired at different times (the beds of a whole-body
    /// scan): each slice takes its own frame's factor, and `suvbw_factor` is the earliest's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub frame_factors: Vec<FrameFactor>,
}

impl SuvResult {
    /// Scales a volume assembled from the series' images to SUVbw: by the one factor, or slice
    /// by slice by the factor of the frame at that slice's position.
    pub fn scale(&self, volume: &mut crate::volume::Volume) {
        if self.frame_factors.is_empty() {
            let f = self.suvbw_factor;
            volume.data.mapv_inplace(|x| (x as f64 * f) as f32);
            return;
        }
        let g = &volume.geometry;
        let n = normal_of(g.direction[0], g.direction[1]);
        for (k, mut plane) in volume.data.outer_iter_mut().enumerate() {
            let p = g.world(0.0, 0.0, k as f64);
            let at = p[0] * n[0] + p[1] * n[1] + p[2] * n[2];
            let f = self
                .frame_factors
                .iter()
                .min_by(|a, b| a.distance(at).total_cmp(&b.distance(at)))
                .map_or(self.suvbw_factor, |ff| ff.suvbw_factor);
            plane.mapv_inplace(|x| (x as f64 * f) as f32);
        }
    }
}

/// The unit normal of a plane of row and column direction cosines.
fn normal_of(r: [f64; 3], c: [f64; 3]) -> [f64; 3] {
    let n = [
        r[1] * c[2] - r[2] * c[1],
        r[2] * c[0] - r[0] * c[2],
        r[0] * c[1] - r[1] * c[0],
    ];
    let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
    if len > 0.0 {
        n.map(|x| x / len)
    } else {
        n
    }
}

/// Lean body mass (kg), Janmahasatian et al. 2005: male 9270·W/(6680 + 216·BMI),
/// female 9270·W/(8780 + 244·BMI), BMI = W/(H[m])².
pub fn lbm_janmahasatian(weight_kg: f64, height_m: f64, sex: &str) -> Option<f64> {
    let bmi = weight_kg / (height_m * height_m);
    match sex {
        "M" => Some(9270.0 * weight_kg / (6680.0 + 216.0 * bmi)),
        "F" => Some(9270.0 * weight_kg / (8780.0 + 244.0 * bmi)),
        _ => None,
    }
}

/// Lean body mass (kg), James 1976: male 1.10·W − 128·(W/H)², female 1.07·W − 148·(W/H)², H in cm.
pub fn lbm_james(weight_kg: f64, height_cm: f64, sex: &str) -> Option<f64> {
    let r = weight_kg / height_cm;
    let v = match sex {
        "M" => 1.10 * weight_kg - 128.0 * r * r,
        "F" => 1.07 * weight_kg - 148.0 * r * r,
        _ => return None,
    };
    (v > 0.0).then_some(v)
}

/// Body surface area (m²), Du Bois: 0.007184 · H[cm]^0.725 · W[kg]^0.425.
pub fn bsa_dubois(weight_kg: f64, height_cm: f64) -> f64 {
    0.007184 * height_cm.powf(0.725) * weight_kg.powf(0.425)
}

/// Ideal body weight (kg): male 48.0 + 1.06·(H − 152), female 45.5 + 0.91·(H − 152), H in cm.
pub fn ibw(height_cm: f64, sex: &str) -> Option<f64> {
    match sex {
        "M" => Some(48.0 + 1.06 * (height_cm - 152.0)),
        "F" => Some(45.5 + 0.91 * (height_cm - 152.0)),
        _ => None,
    }
}

/// Decay-averaged time within a frame of duration T (s): (1/λ)·ln(λT / (1 − e^(−λT))).
pub fn frame_average_time(duration_s: f64, half_life_s: f64) -> f64 {
    let l = std::f64::consts::LN_2 / half_life_s;
    if duration_s <= 0.0 {
        return 0.0;
    }
    (l * duration_s / (1.0 - (-l * duration_s).exp())).ln() / l
}

fn date_time(date: &str, time: &str) -> Option<f64> {
    Some(epoch_seconds(Date::parse(date)?, parse_tm(time)?))
}

/// All images must agree on an attribute.
fn same<T: PartialEq + std::fmt::Debug + Clone>(
    imgs: &[SuvInputs],
    attribute: &'static str,
    get: impl Fn(&SuvInputs) -> T,
) -> Result<T, SuvError> {
    let first = get(&imgs[0]);
    if let Some(other) = imgs.iter().map(&get).find(|v| *v != first) {
        return Err(SuvError::Contradictory {
            attribute,
            detail: format!("{} and {}", shown(&first), shown(&other)),
        });
    }
    Ok(first)
}

/// [`same`] for a time (seconds on the series' clock, None when absent or unreadable): the
/// message says how far apart, not the times (dates).
fn same_time(
    imgs: &[SuvInputs],
    attribute: &'static str,
    get: impl Fn(&SuvInputs) -> Option<f64>,
) -> Result<Option<f64>, SuvError> {
    let first = get(&imgs[0]);
    match imgs.iter().map(&get).find(|v| *v != first) {
        None => Ok(first),
        Some(other) => Err(SuvError::Contradictory {
            attribute,
            detail: match (first, other) {
                (Some(a), Some(b)) => format!("times {:.0} s apart", (a - b).abs()),
                _ => "given on some images only, or unreadable on some".into(),
            },
        }),
    }
}

/// A value as a message shows it: an option's value, or "absent" (not `Some(1.72)`, `None`).
fn shown<T: std::fmt::Debug>(v: &T) -> String {
    let s = format!("{v:?}");
    match s.strip_prefix("Some(").and_then(|x| x.strip_suffix(')')) {
        Some(inner) => inner.to_string(),
        None if s == "None" => "absent".into(),
        None => s,
    }
}

/// The one value the images that give one agree on (None when none gives it); when they do not
/// agree, None and a warning: for attributes only the SUL or a normaliser reads.
fn agreed<T: PartialEq + Clone>(
    values: impl Iterator<Item = Option<T>>,
    attribute: &str,
    warnings: &mut Vec<String>,
) -> Option<T> {
    let given: Vec<T> = values.flatten().collect();
    let first = given.first()?.clone();
    if given.iter().all(|v| *v == first) {
        Some(first)
    } else {
        warnings.push(format!(
            "{attribute} differs between images: taken as absent (no SUL)"
        ));
        None
    }
}

/// Images in GML or CM2ML are already normalised (SUVType names the normaliser, BW when
/// empty; BSA for CM2ML): the factor that undoes it and gives SUVbw, and SUL beside it.
fn normalised_units(
    first: &SuvInputs,
    units: &str,
    weight: Option<f64>,
    size: Option<f64>,
    sex: &str,
    warnings: Vec<String>,
) -> Result<SuvResult, SuvError> {
    let suv_type = first.suv_type.trim().to_ascii_uppercase();
    let suv_type = if suv_type.is_empty() && units == "CM2ML" {
        "BSA".to_string()
    } else {
        suv_type
    };
    let need_h = || {
        size.ok_or(SuvError::Missing {
            attribute: "PatientSize (0010,1020)",
            expected: "height in metres, to undo the SUV normaliser",
        })
    };
    // SUVbw stored needs no weight (QIBA: the factor is 1); every other normaliser does.
    let need_w = || weight.ok_or_else(missing_weight);
    let (factor, path) = match suv_type.as_str() {
        "" | "BW" => (1.0, "GML (SUVbw stored)".to_string()),
        "LBM" | "LBMJAMES128" => {
            let (weight, h) = (need_w()?, need_h()?);
            if sex != "M" && sex != "F" {
                return Err(SuvError::Unsupported {
                    attribute: "PatientSex (0010,0040)",
                    found: sex.to_string(),
                    expected: "M or F for lean body mass (James)",
                });
            }
            let lbm = lbm_james(weight, h * 100.0, sex).ok_or(SuvError::Unsupported {
                attribute: "PatientWeight (0010,1030) / PatientSize (0010,1020)",
                found: format!("{weight} kg, {h} m"),
                expected: "a weight and height whose James lean body mass is above 0 (it is \
                           not for a high weight-to-height ratio: 1.10·W − 128·(W/H)² ≤ 0)",
            })?;
            (
                weight / lbm,
                format!("GML with SUVType {suv_type}: × W / LBM(James)"),
            )
        }
        "LBMJANMA" => {
            let weight = need_w()?;
            let lbm = lbm_janmahasatian(weight, need_h()?, sex).ok_or(SuvError::Unsupported {
                attribute: "PatientSex (0010,0040)",
                found: sex.to_string(),
                expected: "M or F for lean body mass (Janmahasatian)",
            })?;
            (
                weight / lbm,
                format!("GML with SUVType {suv_type}: × W / LBM(Janmahasatian)"),
            )
        }
        "IBW" => {
            let weight = need_w()?;
            let i = ibw(need_h()? * 100.0, sex).ok_or(SuvError::Unsupported {
                attribute: "PatientSex (0010,0040)",
                found: sex.to_string(),
                expected: "M or F for ideal body weight",
            })?;
            (
                weight / i,
                format!("GML with SUVType {suv_type}: × W / IBW"),
            )
        }
        "BSA" => {
            let weight = need_w()?;
            let bsa_cm2 = bsa_dubois(weight, need_h()? * 100.0) * 1e4;
            (
                weight * 1000.0 / bsa_cm2,
                format!("{units} with SUVType BSA: × W[g] / BSA[cm²] (Du Bois)"),
            )
        }
        other => {
            return Err(SuvError::Unsupported {
                attribute: "SUVType (0054,1006)",
                found: other.into(),
                expected: "BW, LBM, LBMJAMES128, LBMJANMA, IBW or BSA",
            })
        }
    };
    let sul = size
        .zip(weight)
        .and_then(|(h, weight)| Some(factor * lbm_janmahasatian(weight, h, sex)? / weight));
    Ok(SuvResult {
        suvbw_factor: factor,
        sul_factor: sul,
        units_path: path,
        reference_time_source: None,
        injection_time_source: None,
        decay_seconds: None,
        dose_bq: None,
        weight_kg: weight,
        half_life_s: None,
        warnings,
        frame_factors: Vec::new(),
    })
}

/// The decay reference of DecayCorrection START or NONE: when, what it was read from, and
/// whether that was a date-time with a UTC offset of its own (a DA/TM time has no zone).
struct Reference {
    at: f64,
    source: String,
    zoned: bool,
}

/// An injection after the decay reference by at most this much is clock skew (with a warning);
/// more is refused.
const MAX_CLOCK_SKEW_S: f64 = 600.0;

/// Plausible PatientWeight (kg) once a weight in grams is converted: a scanner bed's range.
const WEIGHT_KG: std::ops::RangeInclusive<f64> = 3.0..=300.0;

/// Plausible injected activity (Bq) once a value in MBq is converted: a diagnostic PET's.
const DOSE_BQ: std::ops::RangeInclusive<f64> = 1e6..=2e10;

fn missing_weight() -> SuvError {
    SuvError::Missing {
        attribute: "PatientWeight (0010,1030)",
        expected: "the patient's weight in kg, non-zero",
    }
}

/// +HHMM / −HHMM of an offset in minutes.
fn zone_text(minutes: i32) -> String {
    format!(
        "{}{:02}{:02}",
        if minutes < 0 { '-' } else { '+' },
        minutes.abs() / 60,
        minutes.abs() % 60
    )
}

/// The time (s) from the injection to the decay reference `reference` (none: images corrected
/// to the administration time, 0), and where the injection time was read:
/// RadiopharmaceuticalStartDateTime, else RadiopharmaceuticalStartTime on the scan date (the day
/// before when that is after the reference: a midnight crossing). More than an hour after the
/// reference, or more than 8 half-lives before it, is implausible.
fn injection_to_reference(
    imgs: &[SuvInputs],
    reference: Option<Reference>,
    tz: Option<i32>,
    half_life: f64,
    warnings: &mut Vec<String>,
) -> Result<(f64, Option<String>), SuvError> {
    let first = &imgs[0];
    match reference {
        None => Ok((0.0, None)),
        Some(Reference {
            at: reference,
            source: reference_source,
            zoned,
        }) => {
            // As times (the message says how far apart, not the dates).
            same_time(imgs, "RadiopharmaceuticalStartDateTime (0018,1078)", |i| {
                parse_dt(&i.start_datetime)
            })?;
            same_time(imgs, "RadiopharmaceuticalStartTime (0018,1072)", |i| {
                parse_tm(&i.start_time)
            })?;
            let tod = parse_tm(&first.start_time);
            let written = first.start_datetime.trim();
            let mut with_date = on_clock(written, tz);
            if !written.is_empty() && with_date.is_none() {
                warnings.push(
                    "RadiopharmaceuticalStartDateTime (0018,1078) is not a DICOM date-time: \
                     RadiopharmaceuticalStartTime used"
                        .into(),
                );
            }
            if let (Some(t), Some(tod)) = (with_date, tod) {
                // The two injection times disagree: by a whole zone when the date-time's own UTC
                // offset is not the series' (no TimezoneOffsetFromUTC to move it by, and times
                // with no offset): then the time, on the series' clock, is the one to use.
                let apart = (t.rem_euclid(86400.0) - tod).abs();
                let apart = apart.min(86400.0 - apart);
                if apart > 1.0 {
                    if tz.is_none() && !zoned && offset_of(written).is_some() {
                        warnings.push(format!(
                            "RadiopharmaceuticalStartDateTime (0018,1078) is {apart:.0} s from \
                             RadiopharmaceuticalStartTime (0018,1072) and carries a UTC offset \
                             the series' times do not (no TimezoneOffsetFromUTC): \
                             RadiopharmaceuticalStartTime used, on the series' clock"
                        ));
                        with_date = None;
                    } else {
                        warnings.push(format!(
                            "RadiopharmaceuticalStartDateTime (0018,1078) and \
                             RadiopharmaceuticalStartTime (0018,1072) are {apart:.0} s apart: \
                             the date-time used"
                        ));
                    }
                }
            } else if with_date.is_some() && tz.is_none() && !zoned {
                if let Some(own) = offset_of(written) {
                    warnings.push(format!(
                        "RadiopharmaceuticalStartDateTime (0018,1078) carries the UTC offset {}, \
                         taken as the zone of the series' times (no TimezoneOffsetFromUTC or \
                         RadiopharmaceuticalStartTime to check it by)",
                        zone_text(own)
                    ));
                }
            }
            let (injection, source) = if let Some(t) = with_date {
                (t, "RadiopharmaceuticalStartDateTime".to_string())
            } else {
                let tod = tod.ok_or(SuvError::Missing {
                    attribute: "RadiopharmaceuticalStartDateTime (0018,1078) / RadiopharmaceuticalStartTime (0018,1072)",
                    expected: "the injection time",
                })?;
                let day = (reference / 86400.0).floor();
                let t = day * 86400.0 + tod;
                if t > reference {
                    (t - 86400.0, "RadiopharmaceuticalStartTime on the scan date, moved to the previous day (midnight crossing)".to_string())
                } else {
                    (
                        t,
                        "RadiopharmaceuticalStartTime on the scan date".to_string(),
                    )
                }
            };
            let dt = reference - injection;
            // Clocks of a dose calibrator and a scanner drift apart by minutes, not more.
            if dt < -MAX_CLOCK_SKEW_S {
                return Err(SuvError::Implausible(format!(
                    "the injection ({source}) is {:.0} s after the decay reference \
                     ({reference_source}); at most {MAX_CLOCK_SKEW_S:.0} s (clock skew) is taken",
                    -dt
                )));
            }
            if dt < 0.0 {
                warnings.push(format!(
                    "the injection ({source}) is {:.0} s after the decay reference \
                     ({reference_source}): clock skew?",
                    -dt
                ));
            }
            if dt > 8.0 * half_life {
                return Err(SuvError::Implausible(format!(
                    "{dt:.0} s from the injection ({source}) to the decay reference \
                     ({reference_source}), more than 8 half-lives of RadionuclideHalfLife \
                     (0018,1075) {half_life} s"
                )));
            }
            Ok((dt, Some(source)))
        }
    }
}

/// The SUV decision procedure over the images of one series.
pub fn compute(imgs: &[SuvInputs]) -> Result<SuvResult, SuvError> {
    let Some(first) = imgs.first() else {
        return Err(SuvError::Missing {
            attribute: "images",
            expected: "at least one PET image",
        });
    };
    if first.modality != "PT" {
        return Err(SuvError::NotPet(first.modality.clone()));
    }
    let units = same(imgs, "Units (0054,1001)", |i| i.units.clone())?;
    let mut warnings = Vec::new();
    let weight = match same(imgs, "PatientWeight (0010,1030)", |i| i.weight)?.filter(|w| *w > 0.0) {
        None => None,
        Some(written) => {
            let kg = if written > 1000.0 {
                warnings.push(format!("PatientWeight {written} read as grams"));
                written / 1000.0
            } else {
                written
            };
            if !WEIGHT_KG.contains(&kg) {
                return Err(SuvError::Unsupported {
                    attribute: "PatientWeight (0010,1030)",
                    found: written.to_string(),
                    expected: "a weight in kg from 3 to 300 (a scanner bed's range; above 1000 \
                               read as grams): a unit or typing error",
                });
            }
            Some(kg)
        }
    };
    // Read only for the SUL and the normalisers: where the images disagree (or some leave it
    // out), the SUL is not given rather than the series refused.
    let sex = agreed(
        imgs.iter()
            .map(|i| Some(i.sex.trim().to_ascii_uppercase()).filter(|s| !s.is_empty())),
        "PatientSex (0010,0040)",
        &mut warnings,
    )
    .unwrap_or_default();
    let size = agreed(
        imgs.iter().map(|i| i.size.filter(|s| *s > 0.0)),
        "PatientSize (0010,1020)",
        &mut warnings,
    )
    .map(|s| {
        if s > 3.0 {
            warnings.push(format!("PatientSize {s} read as cm"));
            s / 100.0
        } else {
            s
        }
    });

    // GML / CM2ML: already normalised; undo the normaliser to report SUVbw.
    if units == "GML" || units == "CM2ML" {
        return normalised_units(first, &units, weight, size, &sex, warnings);
    }

    // CNTS (Philips): the SUV scale factor, or the activity-concentration factor then BQML.
    let mut activity_scale = 1.0;
    let units_path = match units.as_str() {
        "BQML" => "BQML".to_string(),
        "CNTS" => {
            let suv_sf = same(imgs, "Philips SUV scale factor (7053,1000)", |i| {
                i.philips_suv_factor
            })?
            .filter(|f| *f != 0.0);
            if let Some(f) = suv_sf {
                if !(f.is_finite() && f > 0.0) {
                    return Err(SuvError::Unsupported {
                        attribute: "Philips SUV scale factor (7053,1000)",
                        found: f.to_string(),
                        expected: "a positive factor",
                    });
                }
                let sul = size
                    .zip(weight)
                    .and_then(|(h, w)| Some(f * lbm_janmahasatian(w, h, &sex)? / w));
                return Ok(SuvResult {
                    suvbw_factor: f,
                    sul_factor: sul,
                    units_path: "CNTS × Philips SUV scale factor (7053,1000)".into(),
                    reference_time_source: None,
                    injection_time_source: None,
                    decay_seconds: None,
                    dose_bq: first.total_dose,
                    weight_kg: weight,
                    half_life_s: first.half_life,
                    warnings,
                    frame_factors: Vec::new(),
                });
            }
            activity_scale = same(
                imgs,
                "Philips activity concentration scale factor (7053,1009)",
                |i| i.philips_activity_factor,
            )?
            .filter(|f| *f != 0.0)
            .ok_or(SuvError::Missing {
                attribute: "Philips (7053,1000) or (7053,1009)",
                expected: "a non-zero SUV or activity-concentration scale factor for Units CNTS",
            })?;
            if !(activity_scale.is_finite() && activity_scale > 0.0) {
                return Err(SuvError::Unsupported {
                    attribute: "Philips activity concentration scale factor (7053,1009)",
                    found: activity_scale.to_string(),
                    expected: "a positive factor",
                });
            }
            "CNTS × Philips activity concentration scale factor (7053,1009), then BQML".to_string()
        }
        other => {
            return Err(SuvError::Unsupported {
                attribute: "Units (0054,1001)",
                found: other.into(),
                expected: "BQML, CNTS (Philips), GML or CM2ML",
            })
        }
    };

    let decay = same(imgs, "DecayCorrection (0054,1102)", |i| {
        i.decay_correction.trim().to_ascii_uppercase()
    })?;
    let corrected = &first.corrected_image;
    if !corrected.iter().any(|c| c == "ATTN") {
        return Err(SuvError::Unsupported {
            attribute: "CorrectedImage (0028,0051)",
            found: corrected.join("\\"),
            expected: "ATTN (attenuation-corrected images)",
        });
    }
    if decay != "NONE" && !corrected.iter().any(|c| c == "DECY") {
        return Err(SuvError::Unsupported {
            attribute: "CorrectedImage (0028,0051)",
            found: corrected.join("\\"),
            expected: "DECY when DecayCorrection is not NONE",
        });
    }
    if decay == "NONE" && corrected.iter().any(|c| c == "DECY") {
        return Err(SuvError::Unsupported {
            attribute: "CorrectedImage (0028,0051)",
            found: corrected.join("\\"),
            expected: "no DECY when DecayCorrection (0054,1102) is NONE (the two disagree on \
                       whether the images are decay-corrected)",
        });
    }
    let weight = weight.ok_or_else(missing_weight)?;
    let dose_raw = same(imgs, "RadionuclideTotalDose (0018,1074)", |i| i.total_dose)?
        .filter(|d| *d > 0.0)
        .ok_or(SuvError::Missing {
            attribute: "RadionuclideTotalDose (0018,1074)",
            expected: "the injected activity in Bq, non-zero",
        })?;
    let dose = if dose_raw < 1e5 {
        warnings.push(format!("RadionuclideTotalDose {dose_raw} read as MBq"));
        dose_raw * 1e6
    } else {
        dose_raw
    };
    if !DOSE_BQ.contains(&dose) {
        return Err(SuvError::Unsupported {
            attribute: "RadionuclideTotalDose (0018,1074)",
            found: dose_raw.to_string(),
            expected: "an injected activity in Bq from 1 MBq to 20 GBq (below 1e5 read as MBq): \
                       a unit or typing error",
        });
    }
    let half_life = same(imgs, "RadionuclideHalfLife (0018,1075)", |i| i.half_life)?
        .filter(|h| *h > 0.0)
        .ok_or(SuvError::Missing {
            attribute: "RadionuclideHalfLife (0018,1075)",
            expected: "the half-life in seconds (no default is assumed)",
        })?;

    // One clock for every time (TimezoneOffsetFromUTC, or the date-times' one offset); ADMIN
    // compares none.
    let tz = if decay == "ADMIN" {
        None
    } else {
        the_clock(imgs)?
    };
    // Reference time (DecayCorrection NONE: each frame's, at its position).
    let mut frames: Vec<(f64, f64)> = Vec::new();
    let reference = match decay.as_str() {
        "ADMIN" => None,
        "START" | "NONE" => Some(decay_reference(
            imgs,
            &decay,
            half_life,
            tz,
            &mut frames,
            &mut warnings,
        )?),
        other => {
            return Err(SuvError::Unsupported {
                attribute: "DecayCorrection (0054,1102)",
                found: other.into(),
                expected: "START, ADMIN or NONE",
            })
        }
    };
    let reference_source = reference.as_ref().map_or_else(
        || "DecayCorrection ADMIN: images decay-corrected to the administration time".to_string(),
        |r| r.source.clone(),
    );

    // Injection time and decay.
    let (decay_seconds, injection_source) =
        injection_to_reference(imgs, reference, tz, half_life, &mut warnings)?;
    let decayed = dose * (-decay_seconds / half_life).exp2();
    let factor = activity_scale * weight * 1000.0 / decayed;
    let earliest = frames.iter().map(|f| f.1).fold(f64::INFINITY, f64::min);
    let frame_factors = if frames.iter().all(|f| (f.1 - earliest).abs() < 1e-3) {
        Vec::new()
    } else {
        warnings.push(
            "DecayCorrection NONE with frames at several times: each slice scaled by its own \
             frame's factor (frame_factors); suvbw_factor is the earliest frame's"
                .into(),
        );
        // One entry per frame time, over the positions of its slices.
        let mut beds: Vec<FrameFactor> = Vec::new();
        for (p, t) in frames {
            let dt = decay_seconds + (t - earliest);
            match beds
                .iter_mut()
                .find(|b| (b.decay_seconds - dt).abs() < 1e-3)
            {
                Some(b) => (b.from_mm, b.to_mm) = (b.from_mm.min(p), b.to_mm.max(p)),
                None => beds.push(FrameFactor {
                    from_mm: p,
                    to_mm: p,
                    decay_seconds: dt,
                    suvbw_factor: activity_scale * weight * 1000.0
                        / (dose * (-dt / half_life).exp2()),
                }),
            }
        }
        beds.sort_by(|a, b| a.from_mm.total_cmp(&b.from_mm));
        if beds.windows(2).any(|w| w[1].from_mm <= w[0].to_mm) {
            return Err(SuvError::Unsupported {
                attribute: "AcquisitionTime (0008,0032)",
                found: "frames whose slices interleave".into(),
                expected: "one frame time per contiguous range of slices, for DecayCorrection NONE",
            });
        }
        beds
    };
    let sul = size
        .and_then(|h| lbm_janmahasatian(weight, h, &sex))
        .map(|l| activity_scale * l * 1000.0 / decayed);
    Ok(SuvResult {
        suvbw_factor: factor,
        sul_factor: sul,
        units_path,
        reference_time_source: Some(reference_source),
        injection_time_source: injection_source,
        decay_seconds: Some(decay_seconds),
        dose_bq: Some(dose),
        weight_kg: Some(weight),
        half_life_s: Some(half_life),
        warnings,
        frame_factors,
    })
}

/// The decay reference of DecayCorrection START or NONE (QIBA step 6), and each frame's time for
/// NONE into `frames`.
fn decay_reference(
    imgs: &[SuvInputs],
    decay: &str,
    half_life: f64,
    tz: Option<i32>,
    frames: &mut Vec<(f64, f64)>,
    warnings: &mut Vec<String>,
) -> Result<Reference, SuvError> {
    let first = &imgs[0];
    let zoned_acquisitions = imgs.iter().all(|i| {
        offset_of(&i.acquisition_datetime).is_some()
            && i.frames
                .iter()
                .all(|f| offset_of(&f.acquisition_datetime).is_some())
    });
    let ge_written = first.ge_reference_datetime.trim();
    let ge = on_clock(ge_written, tz);
    if !ge_written.is_empty() && ge.is_none() {
        warnings.push("GE private (0009,100D) is not a DICOM date-time: not used".into());
    }
    // Per-series attributes read from one image must be the series' where they are used (the
    // first image by file name changed with the order, and so after a de-identification that
    // renames files); compared as times, not as text ("142340.00" is "142340").
    if decay == "START"
        && imgs
            .iter()
            .any(|i| !i.ge_reference_datetime.trim().is_empty())
    {
        same_time(imgs, "GE private (0009,100D) GEMS_PETD_01", |i| {
            on_clock(&i.ge_reference_datetime, tz)
        })?;
    }
    if let (Some(t), "START") = (ge, decay) {
        return Ok(Reference {
            at: t,
            source: "GE private (0009,100D) GEMS_PETD_01".into(),
            zoned: offset_of(ge_written).is_some(),
        });
    }
    if decay == "NONE" {
        *frames = none_frames(imgs, half_life, tz)?;
        let earliest = frames.iter().map(|f| f.1).fold(f64::INFINITY, f64::min);
        let dur = first.actual_frame_duration_ms.unwrap_or(0.0) / 1000.0;
        let t_ave = frame_average_time(dur, half_life);
        return Ok(Reference {
            at: earliest,
            source: format!("DecayCorrection NONE: the earliest frame's AcquisitionDate/Time + its decay-averaged frame time ({t_ave:.2} s for the first image's duration)"),
            zoned: zoned_acquisitions,
        });
    }
    let acquisitions: Vec<f64> = imgs
        .iter()
        .filter_map(|i| acquisition_start(&i.acquisition_datetime, i, tz))
        .collect();
    // SeriesTime is the reference only when it is not after the acquisition, which cannot be
    // checked without one (a reprocessed series' SeriesTime is when it was reprocessed).
    if acquisitions.is_empty() {
        return Err(SuvError::Missing {
            attribute: "AcquisitionDate/AcquisitionTime (0008,0022/0032)",
            expected: "the acquisition's start, to check that SeriesDate/SeriesTime is not after \
                       it (a reprocessed series' SeriesTime is when it was reprocessed)",
        });
    }
    let earliest_acq = acquisitions.iter().copied().fold(f64::INFINITY, f64::min);
    let series = same_time(imgs, "SeriesDate/SeriesTime (0008,0021/0031)", |i| {
        date_time(&i.series_date, &i.series_time)
    })?;
    if let Some(s) = series.filter(|s| *s <= earliest_acq + 1e-6) {
        return Ok(Reference {
            at: s,
            source: "SeriesDate/SeriesTime".into(),
            zoned: false,
        });
    }
    // Reprocessed series (or no series time): back-compute the start from every image's frame
    // timing, FrameReferenceTime being from the series' start; the earliest where beds disagree
    // (a FrameReferenceTime from each bed's own start).
    let mut starts = Vec::with_capacity(imgs.len());
    for i in imgs {
        let (Some(frt), Some(dur)) = (i.frame_reference_time_ms, i.actual_frame_duration_ms) else {
            return Err(SuvError::Missing {
                attribute: "FrameReferenceTime (0054,1300) / ActualFrameDuration (0018,1242)",
                expected: "every image's frame timing to back-compute the decay reference of a \
                           series whose SeriesTime is missing or after its acquisition",
            });
        };
        let acq = acquisition_start(&i.acquisition_datetime, i, tz).ok_or(SuvError::Missing {
            attribute: "AcquisitionDate/AcquisitionTime (0008,0022/0032)",
            expected: "every image's frame start",
        })?;
        starts.push(acq + frame_average_time(dur / 1000.0, half_life) - frt / 1000.0);
    }
    let earliest = starts.iter().copied().fold(f64::INFINITY, f64::min);
    let latest = starts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    warnings.push(format!(
        "SeriesDate/SeriesTime {}: reference back-computed from FrameReferenceTime",
        if series.is_some() {
            "is after the acquisition (reprocessed series)"
        } else {
            "missing or not a date and time"
        }
    ));
    if latest - earliest > 1.0 {
        warnings.push(format!(
            "the images' back-computed references are up to {:.0} s apart (FrameReferenceTime \
             from each bed's own start?): the earliest used",
            latest - earliest
        ));
    }
    Ok(Reference {
        at: earliest,
        source: "AcquisitionDate/Time + decay-averaged frame time − FrameReferenceTime".into(),
        zoned: zoned_acquisitions,
    })
}

/// DecayCorrection NONE: each position along the slice normal with its frame's decay-averaged
/// time (frame start + T_ave of its own duration). Positions that repeat must share one time: a
/// dynamic series (frames at one position, at several times) has no factor per slice.
fn none_frames(
    imgs: &[SuvInputs],
    half_life: f64,
    tz: Option<i32>,
) -> Result<Vec<(f64, f64)>, SuvError> {
    let mut frames: Vec<(f64, f64)> = Vec::new();
    // Each classic image, or each frame of an enhanced one.
    let timings = imgs
        .iter()
        .flat_map(|i| i.frame_timings().into_iter().map(move |f| (i, f)));
    for (i, f) in timings {
        let start = acquisition_start(&f.acquisition_datetime, i, tz).ok_or(SuvError::Missing {
            attribute: "AcquisitionDate/AcquisitionTime (0008,0022/0032)",
            expected: "every frame's start time for DecayCorrection NONE",
        })?;
        let dur = f
            .duration_ms
            .filter(|d| *d > 0.0)
            .ok_or(SuvError::Missing {
                attribute: "ActualFrameDuration (0018,1242)",
                expected: "every frame's duration for DecayCorrection NONE (the decay during the \
                       frame)",
            })?
            / 1000.0;
        let t = start + frame_average_time(dur, half_life);
        let position = match (f.position, f.orientation) {
            (Some(p), Some(o)) => {
                let n = normal_of([o[0], o[1], o[2]], [o[3], o[4], o[5]]);
                p[0] * n[0] + p[1] * n[1] + p[2] * n[2]
            }
            _ => f64::NAN,
        };
        match frames.iter().find(|(q, _)| (q - position).abs() < 1e-3) {
            Some((_, other)) if (other - t).abs() >= 1e-3 => {
                return Err(SuvError::Unsupported {
                    attribute: "DecayCorrection (0054,1102)",
                    found: "NONE".into(),
                    expected: "START or ADMIN for a series with frames at one position at several \
                               times (dynamic): a factor per frame needs one time per slice",
                })
            }
            Some(_) => {}
            None => frames.push((position, t)),
        }
    }
    if frames.len() > 1 && frames.iter().any(|(p, _)| p.is_nan()) {
        return Err(SuvError::Missing {
            attribute: "ImagePositionPatient/ImageOrientationPatient (0020,0032/0037)",
            expected: "where each frame lies, to give each slice its frame's factor",
        });
    }
    Ok(frames)
}

/// The element of a private block `creator` in `group` at element offset `offset` (e.g. 0x0D).
fn private(obj: &InMemDicomObject, group: u16, creator: &str, offset: u16) -> Option<String> {
    // Private attributes of implicit VR files are of unknown VR (UN): read as text.
    text_of(obj, creator_element(obj, group, creator, offset)?)
}

/// SUV inputs from one file's header; an enhanced (multi-frame) PET's are its first frame's, its
/// functional groups' values lifted over the top level's ([`crate::ingest::flat_header`]).
pub fn inputs_from_header(obj: &InMemDicomObject) -> SuvInputs {
    use crate::ingest::flat_header::{flattened, frame_groups};
    let flat = flattened(obj, 0);
    let mut inputs = inputs_from_object(flat.as_ref().unwrap_or(obj));
    // DecayCorrection NONE: every frame has its own decay, so its own time and place (from its
    // own groups; what they lack, the header's).
    if flat.is_some() && inputs.decay_correction.trim().eq_ignore_ascii_case("NONE") {
        let n = f64_of(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1.0) as u32;
        let header = inputs.timing();
        inputs.frames = (0..n)
            .filter_map(|f| frame_groups(obj, f))
            .map(|g| FrameTiming {
                acquisition_datetime: str_of(&g, tags::FRAME_ACQUISITION_DATE_TIME)
                    .or_else(|| str_of(&g, tags::ACQUISITION_DATE_TIME))
                    .unwrap_or_else(|| header.acquisition_datetime.clone()),
                duration_ms: crate::ingest::header::frame_duration_ms(&g).or(header.duration_ms),
                position: f64s_of(&g, tags::IMAGE_POSITION_PATIENT)
                    .and_then(|v| v.try_into().ok())
                    .or(header.position),
                orientation: f64s_of(&g, tags::IMAGE_ORIENTATION_PATIENT)
                    .and_then(|v| v.try_into().ok())
                    .or(header.orientation),
            })
            .collect();
    }
    inputs
}

/// SUV inputs from one header.
pub fn inputs_from_object(obj: &InMemDicomObject) -> SuvInputs {
    let s = |t| str_of(obj, t).unwrap_or_default();
    let rp = first_item(obj, tags::RADIOPHARMACEUTICAL_INFORMATION_SEQUENCE);
    let rs = |t| rp.and_then(|r| str_of(r, t)).unwrap_or_default();
    let rf = |t| rp.and_then(|r| f64_of(r, t));
    let num = |v: Option<String>| v.and_then(|x| x.trim().parse::<f64>().ok());
    let code_meaning = rp
        .and_then(|r| first_item(r, tags::RADIOPHARMACEUTICAL_CODE_SEQUENCE))
        .and_then(|c| str_of(c, tags::CODE_MEANING))
        .unwrap_or_default();
    SuvInputs {
        radiopharmaceutical: format!("{} {code_meaning}", rs(tags::RADIOPHARMACEUTICAL))
            .trim()
            .to_string(),
        modality: s(tags::MODALITY).to_ascii_uppercase(),
        units: s(tags::UNITS).to_ascii_uppercase(),
        suv_type: s(tags::SUV_TYPE),
        decay_correction: s(tags::DECAY_CORRECTION),
        corrected_image: s(tags::CORRECTED_IMAGE)
            .split('\\')
            .map(|x| x.trim().to_ascii_uppercase())
            .filter(|x| !x.is_empty())
            .collect(),
        series_date: s(tags::SERIES_DATE),
        series_time: s(tags::SERIES_TIME),
        acquisition_date: s(tags::ACQUISITION_DATE),
        acquisition_time: s(tags::ACQUISITION_TIME),
        acquisition_datetime: s(tags::ACQUISITION_DATE_TIME),
        start_datetime: rs(tags::RADIOPHARMACEUTICAL_START_DATE_TIME),
        start_time: rs(tags::RADIOPHARMACEUTICAL_START_TIME),
        total_dose: rf(tags::RADIONUCLIDE_TOTAL_DOSE),
        half_life: rf(tags::RADIONUCLIDE_HALF_LIFE),
        weight: f64_of(obj, tags::PATIENT_WEIGHT),
        size: f64_of(obj, tags::PATIENT_SIZE),
        sex: s(tags::PATIENT_SEX),
        frame_reference_time_ms: f64_of(obj, tags::FRAME_REFERENCE_TIME),
        actual_frame_duration_ms: crate::ingest::header::frame_duration_ms(obj),
        philips_suv_factor: num(private(obj, 0x7053, "Philips PET Private Group", 0x00)),
        philips_activity_factor: num(private(obj, 0x7053, "Philips PET Private Group", 0x09)),
        ge_reference_datetime: private(obj, 0x0009, "GEMS_PETD_01", 0x0D).unwrap_or_default(),
        position: f64s_of(obj, tags::IMAGE_POSITION_PATIENT).and_then(|v| v.try_into().ok()),
        orientation: f64s_of(obj, tags::IMAGE_ORIENTATION_PATIENT).and_then(|v| v.try_into().ok()),
        frames: Vec::new(),
        timezone_offset: s(tags::TIMEZONE_OFFSET_FROM_UTC),
    }
}

/// The UTC offset (minutes) a DT value carries after its date and time (`&ZZXX`, PS3.5 6.2).
fn offset_of(value: &str) -> Option<i32> {
    let v = value.trim();
    let at = v.get(8..)?.rfind(['+', '-'])? + 8;
    utc_offset(&v[at..])
}

/// An offset from UTC written `+HHMM` or `-HHMM` (TimezoneOffsetFromUTC, a DT's suffix), in
/// minutes.
fn utc_offset(zone: &str) -> Option<i32> {
    let (sign, digits) = match zone.trim().split_at_checked(1)? {
        ("+", d) => (1, d),
        ("-", d) => (-1, d),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(sign * (digits[..2].parse::<i32>().ok()? * 60 + digits[2..].parse::<i32>().ok()?))
}

/// The clock the SUV times are compared on: TimezoneOffsetFromUTC's zone when the series gives
/// it (a DT with an offset of its own moved into that zone), else the date-times' own local
/// times, which must then agree on their offsets.
fn the_clock(imgs: &[SuvInputs]) -> Result<Option<i32>, SuvError> {
    same(imgs, "TimezoneOffsetFromUTC (0008,0201)", |i| {
        utc_offset(&i.timezone_offset)
    })?;
    // A value that is no offset (not +HHMM / -HHMM) is as good as none.
    if let Some(tz) = utc_offset(&imgs[0].timezone_offset) {
        return Ok(Some(tz));
    }
    let mut offsets: Vec<i32> = imgs
        .iter()
        .flat_map(|i| {
            let frames = i.frames.iter().map(|f| f.acquisition_datetime.as_str());
            [
                &i.acquisition_datetime,
                &i.start_datetime,
                &i.ge_reference_datetime,
            ]
            .into_iter()
            .map(String::as_str)
            .chain(frames)
            .filter_map(offset_of)
            .collect::<Vec<_>>()
        })
        .collect();
    offsets.sort_unstable();
    offsets.dedup();
    if offsets.len() > 1 {
        let shown: Vec<String> = offsets.iter().map(|m| zone_text(*m)).collect();
        return Err(SuvError::Unsupported {
            attribute: "TimezoneOffsetFromUTC (0008,0201)",
            found: format!(
                "absent, with date-times at UTC offsets {}",
                shown.join(" and ")
            ),
            expected: "the series' offset from UTC, to put its times on one clock",
        });
    }
    Ok(None)
}

/// When an acquisition started, on the series' clock: its date-time `datetime` (the image's,
/// or a frame's), else the image's AcquisitionDate and AcquisitionTime.
fn acquisition_start(datetime: &str, image: &SuvInputs, tz: Option<i32>) -> Option<f64> {
    on_clock(datetime, tz).or_else(|| date_time(&image.acquisition_date, &image.acquisition_time))
}

/// A DT value on the series' clock (see [`the_clock`]).
fn on_clock(value: &str, tz: Option<i32>) -> Option<f64> {
    let t = parse_dt(value)?;
    Some(match (offset_of(value), tz) {
        (Some(own), Some(tz)) => t + f64::from(tz - own) * 60.0,
        _ => t,
    })
}

/// The SUV factor of the series made of `files` (headers only, read in parallel; the inputs
/// keep the files' order).
pub fn suv_for_files(files: &[PathBuf]) -> Result<SuvResult, SuvError> {
    use rayon::prelude::*;
    let read: Vec<Result<SuvInputs, SuvError>> = files
        .par_iter()
        .map(|f| {
            crate::ingest::open::open_file(f, true)
                .map(|o| inputs_from_header(&o))
                .map_err(|e| SuvError::Read {
                    path: f.display().to_string(),
                    message: e.to_string(),
                })
        })
        .collect();
    // The first failing file in the series' order (the same report on every run).
    let imgs: Vec<SuvInputs> = read.into_iter().collect::<Result<_, _>>()?;
    compute(&imgs)
}

/// The SUV of a scanned series: from the inputs its files' headers gave the scan, each file read
/// again only when the scan kept none (not a PET file).
pub fn suv_for_series(s: &crate::ingest::Series) -> Result<SuvResult, SuvError> {
    let kept: Option<Vec<SuvInputs>> = s.files.iter().map(|f| f.suv.as_deref().cloned()).collect();
    match kept {
        Some(imgs) => compute(&imgs),
        None => suv_for_files(&s.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>()),
    }
}

/// `ancilla suv SERIES_DIR`: the one PET series under the folder.
pub fn suv_for_dir(dir: &Path) -> Result<SuvResult, SuvError> {
    let inv = crate::ingest::scan_paths_for_suv(&[dir.to_path_buf()]).map_err(|e| match e {
        crate::ingest::IngestError::MissingInput(p) => SuvError::MissingInput(p),
        e => SuvError::Read {
            path: dir.display().to_string(),
            message: e.to_string(),
        },
    })?;
    let pets: Vec<_> = inv.series.iter().filter(|s| s.modality == "PT").collect();
    match pets.as_slice() {
        [one] => suv_for_series(one),
        [] => Err(SuvError::NoSeries(dir.display().to_string())),
        _ => Err(SuvError::Contradictory {
            attribute: "SeriesInstanceUID",
            detail: format!("{} PET series in the folder; give one series", pets.len()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::Tag;

    /// The tracer from the header: Radiopharmaceutical (0018,0031), or the code meaning of its
    /// code sequence; ¹⁸F-PSMA-1007 told by its name.
    #[test]
    fn the_tracer_is_read_and_psma_1007_told() {
        use dicom_core::value::DataSetSequence;
        use dicom_core::{DataElement, VR};
        let with = |text: Option<&str>, meaning: Option<&str>| {
            let mut item = InMemDicomObject::new_empty();
            if let Some(t) = text {
                item.put(DataElement::new(tags::RADIOPHARMACEUTICAL, VR::LO, t));
            }
            if let Some(m) = meaning {
                let mut code = InMemDicomObject::new_empty();
                code.put(DataElement::new(tags::CODE_MEANING, VR::LO, m));
                item.put(DataElement::new(
                    tags::RADIOPHARMACEUTICAL_CODE_SEQUENCE,
                    VR::SQ,
                    DataSetSequence::from(vec![code]),
                ));
            }
            let mut o = InMemDicomObject::new_empty();
            o.put(DataElement::new(
                tags::RADIOPHARMACEUTICAL_INFORMATION_SEQUENCE,
                VR::SQ,
                DataSetSequence::from(vec![item]),
            ));
            inputs_from_object(&o)
        };
        assert!(with(Some("PSMA-1007"), None).psma_1007());
        assert!(with(None, Some("Fluorine^18^PSMA-1007")).psma_1007());
        assert!(!with(Some("Ga68 PSMA-11"), None).psma_1007());
        assert!(!with(None, None).psma_1007());
        assert!(!with(Some("Ga68 PSMA-11 lot 1007"), None).psma_1007());
        assert!(with(Some("18F-psma 1007"), None).psma_1007());
    }

    /// Regression: private attributes of implicit VR files (UN, their values undecoded bytes)
    /// were read as lists of byte values, so a Philips or GE PET exported in implicit VR lost
    /// its private SUV factor and reference time.
    #[test]
    fn private_suv_attributes_of_implicit_vr_files_are_read() {
        use dicom_core::value::PrimitiveValue;
        use dicom_core::{DataElement, VR};
        let mut o = InMemDicomObject::new_empty();
        for (tag, bytes) in [
            (Tag(0x7053, 0x0010), &b"Philips PET Private Group "[..]),
            (Tag(0x7053, 0x1000), b"0.000123"),
            (Tag(0x7053, 0x1009), b"0.5 "),
            (Tag(0x0009, 0x0010), b"GEMS_PETD_01"),
            (Tag(0x0009, 0x100D), b"20240102101500.00 "),
        ] {
            o.put(DataElement::new(
                tag,
                VR::UN,
                PrimitiveValue::U8(bytes.to_vec().into()),
            ));
        }
        let i = inputs_from_object(&o);
        assert_eq!(i.philips_suv_factor, Some(0.000123));
        assert_eq!(i.philips_activity_factor, Some(0.5));
        assert_eq!(i.ge_reference_datetime, "20240102101500.00");
    }

    /// BQML, DecayCorrection START, 80 kg, 1.80 m, male, 200 MBq of ¹⁸F (T½ 6586.2 s) injected
    /// at 10:00:00, series (= acquisition) at 11:00:00 on 2025-03-10.
    fn base() -> SuvInputs {
        SuvInputs {
            modality: "PT".into(),
            units: "BQML".into(),
            decay_correction: "START".into(),
            corrected_image: vec!["ATTN".into(), "DECY".into()],
            series_date: "20250310".into(),
            series_time: "110000".into(),
            acquisition_date: "20250310".into(),
            acquisition_time: "110000".into(),
            start_datetime: "20250310100000".into(),
            start_time: "100000".into(),
            total_dose: Some(200e6),
            half_life: Some(6586.2),
            weight: Some(80.0),
            size: Some(1.8),
            sex: "M".into(),
            ..SuvInputs::default()
        }
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-9 * b.abs(), "{a} vs {b}");
    }

    #[test]
    fn bqml_start_series_time() {
        // 80000 g / (200e6 · 2^(−3600/6586.2)) = 5.842546984887314e-4
        let r = compute(&[base()]).unwrap();
        close(r.suvbw_factor, 5.842546984887314e-4);
        assert_eq!(
            r.reference_time_source.as_deref(),
            Some("SeriesDate/SeriesTime")
        );
        assert_eq!(
            r.injection_time_source.as_deref(),
            Some("RadiopharmaceuticalStartDateTime")
        );
        assert_eq!(r.decay_seconds, Some(3600.0));
        // SUL: LBM(Janmahasatian) = 9270·80/(6680 + 216·80/1.8²) = 61.73140954495006 kg
        // → 61731.40954 g / decayed dose = 4.508358258871149e-4
        close(r.sul_factor.unwrap(), 4.508358258871149e-4);
    }

    #[test]
    fn time_only_injection_crossing_midnight() {
        // Injection 23:40 (time only), series 00:45 next day: Δt = 3900 s
        // → 80000 / (200e6 · 2^(−3900/6586.2)) = 6.029954921438517e-4
        let mut i = base();
        i.start_datetime.clear();
        i.start_time = "234000".into();
        i.series_date = "20250311".into();
        i.series_time = "004500".into();
        i.acquisition_date = "20250311".into();
        i.acquisition_time = "004500".into();
        let r = compute(&[i]).unwrap();
        close(r.suvbw_factor, 6.029954921438517e-4);
        assert!(r.injection_time_source.unwrap().contains("previous day"));
    }

    #[test]
    fn ge_private_reference_time_wins_over_a_later_series_time() {
        let mut i = base();
        i.series_time = "130000".into(); // reprocessed two hours later
        i.ge_reference_datetime = "20250310110000.00".into();
        let r = compute(&[i]).unwrap();
        close(r.suvbw_factor, 5.842546984887314e-4);
        assert!(r.reference_time_source.unwrap().contains("GE private"));
    }

    #[test]
    fn reprocessed_series_back_computes_from_frame_timing() {
        // Series 13:00 after acquisition 11:00; frame 120 s, FrameReferenceTime 60 s.
        // T_ave = ln(λT/(1−e^(−λT)))/λ = 59.936854672596176 s; reference = 11:00 + T_ave − 60 s
        // → 80000 / (200e6 · 2^(−(3600 − 0.063145327)/6586.2)) = 5.842508158003479e-4
        let mut i = base();
        i.series_time = "130000".into();
        i.frame_reference_time_ms = Some(60000.0);
        i.actual_frame_duration_ms = Some(120000.0);
        let r = compute(&[i.clone()]).unwrap();
        close(r.suvbw_factor, 5.842508158003479e-4);
        assert!(!r.warnings.is_empty());
        // Without frame timing: refused, never the earliest AcquisitionTime silently.
        i.frame_reference_time_ms = None;
        assert!(
            matches!(compute(&[i]), Err(SuvError::Missing { attribute, .. }) if attribute.contains("FrameReferenceTime"))
        );
    }

    #[test]
    fn decay_correction_admin_and_none() {
        // ADMIN: no decay of the dose → 80000 / 200e6 = 4e-4.
        let mut i = base();
        i.decay_correction = "ADMIN".into();
        close(compute(&[i]).unwrap().suvbw_factor, 4e-4);
        // NONE: decay to the decay-averaged frame time: Δt = 3600 + 59.936854672596176 s
        // → 5.879517642088207e-4 (frame 120 s starting 11:00).
        let mut i = base();
        i.decay_correction = "NONE".into();
        i.corrected_image = vec!["ATTN".into()];
        i.actual_frame_duration_ms = Some(120000.0);
        close(compute(&[i]).unwrap().suvbw_factor, 5.879517642088207e-4);
    }

    /// The factors of the two beds below (11:00:00 at `first_z`, 11:03:00 at `second_z`).
    fn two_beds_by_hand(r: &SuvResult, first_z: f64, second_z: f64) {
        assert_eq!(r.frame_factors.len(), 2, "{r:?}");
        let at = |z: f64| {
            r.frame_factors
                .iter()
                .find(|f| f.from_mm <= z && z <= f.to_mm)
                .unwrap()
                .suvbw_factor
        };
        close(at(first_z), 5.898061210549947e-4);
        close(at(second_z), 6.010856867047182e-4);
    }

    /// Two beds of a whole-body scan with DecayCorrection NONE, started at 11:00:00 (z = 0) and
    /// 11:03:00 (z = −200 mm), 180 s each. By hand: T_ave = ln(λT/(1 − e^(−λT)))/λ =
    /// 89.85792324928173 s, so Δt = 3689.857923 s and 3869.857923 s and the factors
    /// 80000 / (200e6 · 2^(−Δt/6586.2)) = 5.898061210549947e-4 and 6.010856867047182e-4.
    /// Before, both beds took the first's (the second's SUVs 1.9% low; with ⁶⁸Ga and a later
    /// bed, tens of %).
    #[test]
    fn decay_correction_none_gives_each_bed_its_factor() {
        let bed = |z: f64, time: &str| {
            let mut i = base();
            i.decay_correction = "NONE".into();
            i.corrected_image = vec!["ATTN".into()];
            i.actual_frame_duration_ms = Some(180000.0);
            i.acquisition_time = time.into();
            i.position = Some([-100.0, -120.0, z]);
            i.orientation = Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
            i
        };
        let imgs = [
            bed(0.0, "110000"),
            bed(-200.0, "110300"),
            bed(0.0, "110000"),
        ];
        let r = compute(&imgs).unwrap();
        close(r.suvbw_factor, 5.898061210549947e-4);
        two_beds_by_hand(&r, 0.0, -200.0);
        // A volume of the two beds (k = 0 at z = −200, k = 1 at z = 0): each slice its bed's.
        let mut v = crate::volume::Volume {
            data: ndarray::Array3::from_elem((2, 2, 2), 1000.0f32),
            geometry: crate::volume::Geometry::axial([-100.0, -120.0, -200.0], [4.0, 4.0, 200.0]),
        };
        r.scale(&mut v);
        close(
            v.data[[0, 1, 1]] as f64,
            (1000.0 * 6.010856867047182e-4) as f32 as f64,
        );
        close(
            v.data[[1, 0, 0]] as f64,
            (1000.0 * 5.898061210549947e-4) as f32 as f64,
        );
        // One bed at one time: one factor, as before.
        let r = compute(&[bed(0.0, "110000"), bed(-4.0, "110000")]).unwrap();
        assert!(r.frame_factors.is_empty());
        // Frames at one position at several times (dynamic): refused, not one factor for all.
        let e = compute(&[bed(0.0, "110000"), bed(0.0, "110300")]).unwrap_err();
        assert!(e.to_string().contains("dynamic"), "{e}");
        // Beds at several times but no positions: refused.
        let mut a = bed(0.0, "110000");
        let mut b = bed(-200.0, "110300");
        (a.position, b.position) = (None, None);
        let e = compute(&[a, b]).unwrap_err();
        assert!(e.to_string().contains("ImagePositionPatient"), "{e}");
    }

    /// The same two beds as one enhanced PET (four frames, each with its FrameContentSequence
    /// time and duration and its PlanePositionSequence): each bed its factor, by hand as above.
    /// Before, only the first frame's header was read: every frame took 11:00's factor.
    #[test]
    fn an_enhanced_pet_without_decay_correction_gives_each_frame_its_bed() {
        use dicom_core::value::DataSetSequence;
        use dicom_core::{DataElement, PrimitiveValue, VR};
        let put = |o: &mut InMemDicomObject, tag, vr, v: &str| {
            o.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
        };
        let nums = |o: &mut InMemDicomObject, tag, v: &[f64]| {
            o.put(DataElement::new(tag, VR::DS, PrimitiveValue::F64(v.into())));
        };
        let seq = |o: &mut InMemDicomObject, tag, items: Vec<InMemDicomObject>| {
            o.put(DataElement::new(tag, VR::SQ, DataSetSequence::from(items)));
        };
        let mut rp = InMemDicomObject::new_empty();
        put(
            &mut rp,
            tags::RADIOPHARMACEUTICAL_START_DATE_TIME,
            VR::DT,
            "20250310100000",
        );
        put(&mut rp, tags::RADIONUCLIDE_TOTAL_DOSE, VR::DS, "200000000");
        put(&mut rp, tags::RADIONUCLIDE_HALF_LIFE, VR::DS, "6586.2");
        let mut obj = InMemDicomObject::new_empty();
        seq(
            &mut obj,
            tags::RADIOPHARMACEUTICAL_INFORMATION_SEQUENCE,
            vec![rp],
        );
        for (tag, vr, v) in [
            (tags::MODALITY, VR::CS, "PT"),
            (tags::UNITS, VR::CS, "BQML"),
            (tags::DECAY_CORRECTION, VR::CS, "NONE"),
            (tags::CORRECTED_IMAGE, VR::CS, "ATTN"),
            (tags::PATIENT_WEIGHT, VR::DS, "80"),
            (tags::SERIES_DATE, VR::DA, "20250310"),
            (tags::SERIES_TIME, VR::TM, "110000"),
            (tags::ACQUISITION_DATE_TIME, VR::DT, "20250310110000"),
            (tags::NUMBER_OF_FRAMES, VR::IS, "4"),
        ] {
            put(&mut obj, tag, vr, v);
        }
        let mut orientation = InMemDicomObject::new_empty();
        nums(
            &mut orientation,
            tags::IMAGE_ORIENTATION_PATIENT,
            &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        );
        let mut shared = InMemDicomObject::new_empty();
        seq(
            &mut shared,
            tags::PLANE_ORIENTATION_SEQUENCE,
            vec![orientation],
        );
        seq(
            &mut obj,
            tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
            vec![shared],
        );
        let frames = [
            (0.0, "110000"),
            (-4.0, "110000"),
            (-200.0, "110300"),
            (-204.0, "110300"),
        ]
        .map(|(z, time)| {
            let mut content = InMemDicomObject::new_empty();
            let when = format!("20250310{time}");
            put(
                &mut content,
                tags::FRAME_ACQUISITION_DATE_TIME,
                VR::DT,
                &when,
            );
            put(
                &mut content,
                tags::FRAME_ACQUISITION_DURATION,
                VR::FD,
                "180000",
            );
            let mut position = InMemDicomObject::new_empty();
            nums(
                &mut position,
                tags::IMAGE_POSITION_PATIENT,
                &[-100.0, -120.0, z],
            );
            let mut frame = InMemDicomObject::new_empty();
            seq(&mut frame, tags::FRAME_CONTENT_SEQUENCE, vec![content]);
            seq(&mut frame, tags::PLANE_POSITION_SEQUENCE, vec![position]);
            frame
        });
        seq(
            &mut obj,
            tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
            frames.to_vec(),
        );
        two_beds_by_hand(&compute(&[inputs_from_header(&obj)]).unwrap(), -4.0, -200.0);
    }

    /// Times on one clock. The injection's date-time in UTC (+0000) with the series at 11:00
    /// local time, TimezoneOffsetFromUTC +0100: 09:00 UTC is 10:00 local, one hour of uptake, the
    /// factor of `bqml_start_series_time`. Before, the offset was dropped: two hours, a factor
    /// 2^(3600/6586.2) = 1.46 times too large.
    #[test]
    fn date_times_with_utc_offsets_are_put_on_the_series_clock() {
        let mut i = base();
        i.start_datetime = "20250310090000+0000".into();
        i.timezone_offset = "+0100".into();
        close(
            compute(&[i.clone()]).unwrap().suvbw_factor,
            5.842546984887314e-4,
        );
        // A negative zone: 15:00 UTC is 10:00 at −0500.
        i.start_datetime = "20250310150000+0000".into();
        i.timezone_offset = "-0500".into();
        close(
            compute(&[i.clone()]).unwrap().suvbw_factor,
            5.842546984887314e-4,
        );
        // No TimezoneOffsetFromUTC, one offset everywhere: local times as they are.
        i.start_datetime = "20250310100000+0100".into();
        i.timezone_offset.clear();
        close(
            compute(&[i.clone()]).unwrap().suvbw_factor,
            5.842546984887314e-4,
        );
        // No TimezoneOffsetFromUTC and two offsets: no one clock, refused.
        i.acquisition_datetime = "20250310110000+0000".into();
        let e = compute(&[i]).unwrap_err();
        assert!(e.to_string().contains("+0000 and +0100"), "{e}");
        assert_eq!(offset_of("20250310110000.5-0330"), Some(-210));
        assert_eq!(offset_of("20250310110000.5"), None);
    }

    #[test]
    fn philips_counts() {
        // (7053,1000) present: it is the factor.
        let mut i = base();
        i.units = "CNTS".into();
        i.philips_suv_factor = Some(0.000123);
        let r = compute(&[i.clone()]).unwrap();
        close(r.suvbw_factor, 0.000123);
        // Only (7053,1009) = 0.5: counts × 0.5 = Bq/ml, then BQML → 0.5 · 5.842546984887314e-4.
        i.philips_suv_factor = None;
        i.philips_activity_factor = Some(0.5);
        close(
            compute(&[i.clone()]).unwrap().suvbw_factor,
            2.921273492443657e-4,
        );
        // Neither: refused.
        i.philips_activity_factor = Some(0.0);
        assert!(matches!(compute(&[i]), Err(SuvError::Missing { .. })));
    }

    #[test]
    fn gml_undoes_each_normaliser() {
        let mut i = base();
        i.units = "GML".into();
        close(compute(&[i.clone()]).unwrap().suvbw_factor, 1.0);
        // LBM James: 1.10·80 − 128·(80/180)² = 62.71604938271605 kg → × 80/62.716… = 1.2755905511811023
        i.suv_type = "LBM".into();
        close(
            compute(&[i.clone()]).unwrap().suvbw_factor,
            1.2755905511811023,
        );
        // IBW: 48 + 1.06·(180 − 152) = 77.68 kg → × 80/77.68 = 1.0298661174047372
        i.suv_type = "IBW".into();
        close(
            compute(&[i.clone()]).unwrap().suvbw_factor,
            1.0298661174047372,
        );
        // BSA (CM2ML): Du Bois 0.007184·180^0.725·80^0.425 = 1.996421022275045 m²
        // → × 80000 g / 19964.21 cm² = 4.007170787494267
        i.units = "CM2ML".into();
        i.suv_type = "BSA".into();
        close(
            compute(&[i.clone()]).unwrap().suvbw_factor,
            4.007170787494267,
        );
        i.suv_type = "XYZ".into();
        assert!(
            matches!(compute(&[i]), Err(SuvError::Unsupported { attribute, .. }) if attribute.starts_with("SUVType"))
        );
    }

    #[test]
    fn unit_fixes_are_applied_and_recorded() {
        // Dose 200 (MBq) and weight 80000 (g): the same factor as the base, with two warnings.
        let mut i = base();
        i.total_dose = Some(200.0);
        i.weight = Some(80000.0);
        let r = compute(&[i]).unwrap();
        close(r.suvbw_factor, 5.842546984887314e-4);
        assert_eq!(r.warnings.len(), 2);
    }

    #[test]
    fn refusals_name_the_attribute() {
        let refuse = |f: &dyn Fn(&mut SuvInputs)| {
            let mut i = base();
            f(&mut i);
            compute(&[i]).unwrap_err()
        };
        assert_eq!(
            refuse(&|i| i.modality = "CT".into()),
            SuvError::NotPet("CT".into())
        );
        assert!(refuse(&|i| i.units = "PROPCPS".into())
            .to_string()
            .contains("Units (0054,1001)"));
        assert!(refuse(&|i| i.weight = None)
            .to_string()
            .contains("PatientWeight"));
        assert!(refuse(&|i| i.total_dose = Some(0.0))
            .to_string()
            .contains("RadionuclideTotalDose"));
        assert!(refuse(&|i| i.half_life = None)
            .to_string()
            .contains("RadionuclideHalfLife"));
        assert!(refuse(&|i| i.corrected_image = vec!["DECY".into()])
            .to_string()
            .contains("ATTN"));
        assert!(refuse(&|i| i.corrected_image = vec!["ATTN".into()])
            .to_string()
            .contains("DECY"));
        assert!(refuse(&|i| {
            i.start_datetime.clear();
            i.start_time.clear()
        })
        .to_string()
        .contains("RadiopharmaceuticalStartTime"));
        assert!(matches!(
            refuse(&|i| i.start_datetime = "20250310130000".into()),
            SuvError::Implausible(_)
        ));
        assert!(matches!(
            refuse(&|i| i.start_datetime = "20250309100000".into()),
            SuvError::Implausible(_)
        ));
        assert!(refuse(&|i| i.decay_correction = "LATER".into())
            .to_string()
            .contains("DecayCorrection"));
    }

    /// Regressions from a PET physicist's check against the QIBA pseudo-code (each was a
    /// silently wrong factor): no AcquisitionTime (SeriesTime of a reprocessed series taken,
    /// 3.2× too high); an injection date-time at another UTC offset than the series' times with
    /// no TimezoneOffsetFromUTC (1.85× too high); NONE without frame durations (1% low).
    #[test]
    fn what_qiba_cannot_check_is_refused_or_read_on_the_series_clock() {
        let mut i = base();
        i.acquisition_time.clear();
        i.series_time = "140000".into();
        let e = compute(&[i]).unwrap_err();
        assert!(
            e.to_string().contains("AcquisitionDate/AcquisitionTime")
                && e.to_string().contains("reprocessed"),
            "{e}"
        );
        // Injection 09:00 UTC, the time 10:00 on the series' (unzoned) clock: the time is used
        // (the factor of `bqml_start_series_time`), and said.
        for zone in ["", "CET"] {
            let mut i = base();
            i.start_datetime = "20250310090000+0000".into();
            i.timezone_offset = zone.into();
            let r = compute(&[i]).unwrap();
            close(r.suvbw_factor, 5.842546984887314e-4);
            assert!(
                r.warnings
                    .iter()
                    .any(|w| w.contains("RadiopharmaceuticalStartTime used")),
                "{:?}",
                r.warnings
            );
        }
        // No time to check the offset by: the date-time's local time, with a warning.
        let mut i = base();
        i.start_datetime = "20250310100000+0000".into();
        i.start_time.clear();
        let r = compute(&[i]).unwrap();
        close(r.suvbw_factor, 5.842546984887314e-4);
        assert!(r.warnings.iter().any(|w| w.contains("+0000")), "{r:?}");
        // An unreadable date-time falls back to the time, said.
        let mut i = base();
        i.start_datetime = "yesterday".into();
        let r = compute(&[i]).unwrap();
        close(r.suvbw_factor, 5.842546984887314e-4);
        assert!(r
            .warnings
            .iter()
            .any(|w| w.contains("not a DICOM date-time")));
        let mut i = base();
        i.decay_correction = "NONE".into();
        i.corrected_image = vec!["ATTN".into()];
        for duration in [None, Some(0.0)] {
            i.actual_frame_duration_ms = duration;
            let e = compute(&[i.clone()]).unwrap_err();
            assert!(e.to_string().contains("ActualFrameDuration"), "{e}");
        }
    }

    /// Per-series attributes taken from the first image changed the factor with the files'
    /// order (and so after de-identification renamed them): by −15% for one slice's SeriesTime.
    /// Now refused where they differ; the back-computed reference of a reprocessed multi-bed
    /// series is the earliest bed's whatever the order.
    #[test]
    fn the_factor_does_not_depend_on_the_images_order() {
        for (attribute, change) in [
            (
                "SeriesDate/SeriesTime",
                (|i: &mut SuvInputs| i.series_time = "105004".into()) as fn(&mut _),
            ),
            ("GE private", |i| {
                i.ge_reference_datetime = "20250310105900".into()
            }),
            ("TimezoneOffsetFromUTC", |i| {
                i.timezone_offset = "+0100".into()
            }),
        ] {
            let mut other = base();
            change(&mut other);
            let e = compute(&[base(), other.clone()]).unwrap_err();
            assert!(
                matches!(&e, SuvError::Contradictory { attribute: a, .. } if a.starts_with(attribute)),
                "{attribute}: {e}"
            );
            assert!(compute(&[other, base()]).is_err());
        }
        // Reprocessed (series 13:00), two beds at 11:00 and 11:03, FrameReferenceTime from each
        // bed's own start (60 s into a 120 s frame): the first bed's start, as in
        // `reprocessed_series_back_computes_from_frame_timing`, in either order.
        let bed = |time: &str| {
            let mut i = base();
            i.series_time = "130000".into();
            i.acquisition_time = time.into();
            i.frame_reference_time_ms = Some(60000.0);
            i.actual_frame_duration_ms = Some(120000.0);
            i
        };
        let (a, b) = (bed("110000"), bed("110300"));
        let forward = compute(&[a.clone(), b.clone()]).unwrap();
        close(forward.suvbw_factor, 5.842508158003479e-4);
        assert_eq!(compute(&[b, a]).unwrap(), forward);
        assert!(forward.warnings.iter().any(|w| w.contains("180 s apart")));
    }

    /// Values no scanner writes for a patient are refused, not computed: a weight or dose off
    /// by a unit, a negative Philips factor (negative SUVs), an injection half an hour after
    /// the scan started, DecayCorrection NONE on decay-corrected images.
    #[test]
    fn absurd_values_are_refused_with_the_attribute() {
        let refuse = |f: &dyn Fn(&mut SuvInputs)| {
            let mut i = base();
            f(&mut i);
            compute(&[i]).unwrap_err().to_string()
        };
        for w in [500.0, 999.0, 0.5] {
            let e = refuse(&|i| i.weight = Some(w));
            assert!(
                e.contains("PatientWeight") && e.contains("from 3 to 300"),
                "{e}"
            );
        }
        let e = refuse(&|i| i.total_dose = Some(1.83e12));
        assert!(
            e.contains("RadionuclideTotalDose") && e.contains("20 GBq"),
            "{e}"
        );
        let e = refuse(&|i| {
            i.units = "CNTS".into();
            i.philips_suv_factor = Some(-0.00062);
        });
        assert!(e.contains("(7053,1000)") && e.contains("positive"), "{e}");
        let e = refuse(&|i| i.start_datetime = "20250310113000".into());
        assert!(
            e.contains("RadiopharmaceuticalStartDateTime")
                && e.contains("1800 s after the decay reference (SeriesDate/SeriesTime)"),
            "{e}"
        );
        let e = refuse(&|i| i.start_datetime = "20250309100000".into());
        assert!(
            e.contains("RadionuclideHalfLife") && e.contains("8 half-lives"),
            "{e}"
        );
        let e = refuse(&|i| i.decay_correction = "NONE".into());
        assert!(e.contains("no DECY when DecayCorrection"), "{e}");
        // Five minutes of clock skew: computed, with a warning.
        let mut i = base();
        i.start_datetime = "20250310110500".into();
        let r = compute(&[i]).unwrap();
        assert!(r.warnings.iter().any(|w| w.contains("clock skew")));
        // James' LBM below zero names the weight and height, not the sex.
        let mut i = base();
        (i.units, i.suv_type, i.weight, i.size) =
            ("GML".into(), "LBM".into(), Some(200.0), Some(1.5));
        let e = compute(&[i]).unwrap_err().to_string();
        assert!(
            e.contains("PatientWeight") && !e.contains("PatientSex"),
            "{e}"
        );
    }

    /// Regression (a review of the agreement checks): values were compared as text, and where
    /// the chosen branch does not read them. "142340.00" is "142340"; ADMIN reads no series
    /// time; a PatientSize some images leave out, or that differs, costs the SUL only.
    #[test]
    fn agreement_is_of_values_and_of_what_is_read() {
        let mut a = base();
        a.series_time = "110000.00".into();
        close(
            compute(&[base(), a]).unwrap().suvbw_factor,
            5.842546984887314e-4,
        );
        let mut a = base();
        let mut b = base();
        (a.decay_correction, b.decay_correction) = ("ADMIN".into(), "ADMIN".into());
        b.series_time = "105004".into();
        close(compute(&[a, b]).unwrap().suvbw_factor, 4e-4);
        let mut b = base();
        b.size = None;
        let r = compute(&[base(), b]).unwrap();
        assert!(r.sul_factor.is_some() && r.warnings.is_empty(), "{r:?}");
        let mut b = base();
        b.size = Some(1.6);
        let r = compute(&[base(), b]).unwrap();
        assert!(r.sul_factor.is_none(), "{r:?}");
        assert!(r
            .warnings
            .iter()
            .any(|w| w.contains("PatientSize (0010,1020) differs")));
        // A message shows values, not Rust's `Some(…)` / `None`, and no date.
        let mut b = base();
        b.weight = None;
        let e = compute(&[base(), b]).unwrap_err().to_string();
        assert!(e.contains("(80.0 and absent)"), "{e}");
        let mut b = base();
        b.series_time = "105004".into();
        let e = compute(&[base(), b]).unwrap_err().to_string();
        assert!(e.contains("(times 596 s apart)"), "{e}");
    }

    /// GML stored as SUVbw needs no weight (QIBA's factor is 1); it was refused for want of one.
    #[test]
    fn suvbw_stored_needs_no_weight() {
        let mut i = base();
        i.units = "GML".into();
        i.weight = None;
        let r = compute(&[i.clone()]).unwrap();
        assert_eq!(
            (r.suvbw_factor, r.weight_kg, r.sul_factor),
            (1.0, None, None)
        );
        i.suv_type = "LBM".into();
        assert!(compute(&[i])
            .unwrap_err()
            .to_string()
            .contains("PatientWeight"));
    }

    #[test]
    fn slices_that_disagree_are_refused() {
        let mut other = base();
        other.total_dose = Some(210e6);
        assert!(
            matches!(compute(&[base(), other]), Err(SuvError::Contradictory { attribute, .. }) if attribute.starts_with("RadionuclideTotalDose"))
        );
        let mut other = base();
        other.weight = Some(81.0);
        assert!(matches!(
            compute(&[base(), other]),
            Err(SuvError::Contradictory { .. })
        ));
    }
}
