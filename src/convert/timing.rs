//! The time between the volumes of a 4D file, as dcm2niix v1.0.20260724 sets NIfTI pixdim[4]:
//! the header's RepetitionTime (0018,0080), unless the volumes' AcquisitionTime (0008,0032) — of
//! each volume's image at the first slice position — says otherwise by more than 50 ms (a sparse
//! or delayed acquisition, dynamic PET frames): then the span from the first volume to the last
//! over the volumes between, and the header's value becomes RepetitionTimeExcitation
//! (RepetitionTimeInversion for an inversion-recovery series not made by Philips). A dynamic PET
//! whose frames are not evenly spaced has no time step (0).
//!
//! The sidecar's RepetitionTime is that step, for every maker: BIDS defines it, for a 4D series,
//! as the time from the start of one volume to the start of the next. dcm2niix writes the step
//! there for Philips only; for the others it keeps the header's value, which then disagrees with
//! its own pixdim[4] (seen with synthetic series of each maker's name: volumes 2 s apart, header
//! 3000 ms).

use serde_json::{json, Map, Value};

use crate::ingest::Series;

/// dcm2niix's tolerance between the header's and the acquisition times' spacing (s).
const TOLERANCE_S: f64 = 0.05;

/// A 4D file's time step and what the header said when the times overrule it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct VolumeTiming {
    /// Seconds between volumes (pixdim[4]; 0 when unknown or uneven PET frames).
    pub step_s: f64,
    /// The header's RepetitionTime (s) when the acquisition times overrule it.
    pub header_s: Option<f64>,
    /// An inversion-recovery series (ScanningSequence IR): unless Philips made it, the header's
    /// value is the inversion repetition time.
    pub inversion: bool,
    /// The step is the sidecar's RepetitionTime too (not for PET, as dcm2niix).
    pub in_sidecar: bool,
}

impl VolumeTiming {
    /// Its keys in a sidecar: RepetitionTime, and the header's value under its name when
    /// overruled.
    pub fn write_into(&self, m: &mut Map<String, Value>) {
        if self.step_s > 0.0 && self.in_sidecar {
            let tr = crate::digits::significant6(self.step_s);
            m.insert("RepetitionTime".into(), json!(tr));
        }
        if let Some(h) = self.header_s.filter(|h| *h > 0.0) {
            let philips = m.get("Manufacturer").and_then(Value::as_str) == Some("Philips");
            let name = if self.inversion && !philips {
                "RepetitionTimeInversion"
            } else {
                "RepetitionTimeExcitation"
            };
            m.insert(name.into(), json!(crate::digits::significant6(h)));
        }
    }
}

/// The timing of a series written as one 4D file (every volume of its plan, or of one `stack`
/// of it: `VolumePlan::stack`); `header`: its first file's.
pub(super) fn volume_timing(
    series: &Series,
    header: Option<&dicom_object::InMemDicomObject>,
    stack: Option<&str>,
) -> Option<VolumeTiming> {
    let plans = series.plan.as_ref().ok()?;
    let first = series.files.first()?;
    let header_s = first
        .repetition_time
        .filter(|t| t.is_finite() && *t > 0.0)
        .map(|t| t / 1000.0);
    let pet = series.modality == "PT";
    let inversion = first
        .scanning_sequence
        .split('\\')
        .any(|w| w.trim() == "IR");
    // dcm2niix trusts GE's RepetitionTime over its acquisition times (GE's AcquisitionTime is
    // unreliable: its issue 407); PET frames are timed whoever made them.
    let maker = header.and_then(crate::ingest::header::maker);
    if !pet && maker.as_deref() == Some("GE") {
        return Some(VolumeTiming {
            step_s: header_s.unwrap_or(0.0),
            header_s: None,
            inversion,
            in_sidecar: true,
        });
    }
    let starts: Vec<Option<f64>> = plans
        .iter()
        .filter(|p| stack.is_none_or(|s| p.stack == s))
        .map(|p| {
            let s = p.slices.first()?;
            let f = series.files.get(s.file)?;
            let t = f
                .images
                .iter()
                .find(|r| r.frame == s.frame)?
                .acquisition_time
                .as_deref()?;
            crate::datetime::parse_tm(t)
        })
        .collect();
    // Volumes of a series that runs past midnight: their times of day start again at 0.
    let mut day = 0.0;
    let mut last = f64::NEG_INFINITY;
    let starts: Vec<Option<f64>> = starts
        .into_iter()
        .map(|t| {
            let mut t = t? + day;
            if t < last - 43200.0 {
                day += 86400.0;
                t += 86400.0;
            }
            last = t;
            Some(t)
        })
        .collect();
    let mut timing = estimate(header_s, &starts, pet, inversion);
    // dcm2niix writes no RepetitionTime for PET: the step is the NIfTI header's only.
    timing.in_sidecar = !pet;
    Some(timing)
}

/// dcm2niix's estimate from the header's repetition time and each volume's start (s of day).
fn estimate(
    header_s: Option<f64>,
    starts: &[Option<f64>],
    pet: bool,
    inversion: bool,
) -> VolumeTiming {
    let header = header_s.unwrap_or(0.0);
    let mut timing = VolumeTiming {
        step_s: header,
        header_s: None,
        inversion,
        in_sidecar: true,
    };
    let (Some(Some(t0)), n) = (starts.first(), starts.len()) else {
        return timing;
    };
    // Spacings between successive volumes that have a later time; the span from the first.
    let mut prev = *t0;
    let (mut min_gap, mut max_gap, mut span) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for t in starts.iter().skip(1) {
        let Some(t) = *t else { continue };
        let gap = t - prev;
        prev = t;
        if gap <= 0.0 {
            continue;
        }
        min_gap = min_gap.min(gap);
        max_gap = max_gap.max(gap);
        span = span.max(t - t0);
    }
    if n > 1 && span > 0.0 {
        let step = span / (n as f64 - 1.0);
        if (step - header).abs() > TOLERANCE_S {
            timing.header_s = header_s;
            timing.step_s = step;
        }
    }
    if pet && max_gap - min_gap > TOLERANCE_S {
        timing.step_s = 0.0;
    }
    timing
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dcm2niix v1.0.20260724 on synthetic series: volumes 2 s apart with RepetitionTime 2000 ms
    /// keep 2 s (pixdim[4] 2); volumes 1 s apart with RepetitionTime 500 ms get pixdim[4] 1 and
    /// RepetitionTimeExcitation 0.5 (and, made by Philips, RepetitionTime 1); within 50 ms the
    /// header wins.
    #[test]
    fn time_step_is_dcm2niix_s() {
        let at = |gaps: &[f64]| -> Vec<Option<f64>> {
            let mut t = 36000.0;
            let mut v = vec![Some(t)];
            for g in gaps {
                t += g;
                v.push(Some(t));
            }
            v
        };
        let e = estimate(Some(2.0), &at(&[2.0, 2.0]), false, false);
        assert_eq!((e.step_s, e.header_s), (2.0, None));
        let e = estimate(Some(0.5), &at(&[1.0, 1.0, 1.0]), false, false);
        assert_eq!((e.step_s, e.header_s), (1.0, Some(0.5)));
        let e = estimate(Some(2.0), &at(&[2.04]), false, false);
        assert_eq!((e.step_s, e.header_s), (2.0, None));
        // No header value: the acquisition times give it (dynamic PET, even frames).
        let e = estimate(None, &at(&[60.0, 60.0]), true, false);
        assert_eq!((e.step_s, e.header_s), (60.0, None));
        // Uneven PET frames: no time step.
        assert_eq!(estimate(None, &at(&[30.0, 60.0]), true, false).step_s, 0.0);
        // No times: the header's.
        assert_eq!(estimate(Some(3.0), &[None, None], false, false).step_s, 3.0);
        assert_eq!(crate::datetime::parse_tm("101523.5"), Some(36923.5));
    }
}
