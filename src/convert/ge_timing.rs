//! GE EPI slice times, as dcm2niix v1.0.20260724 estimates them (`sliceTimingGE`,
//! `sliceTimeGE`): GE writes no slice times, so they are computed from the Protocol Data Block's
//! slice order (SLICEORDER 0: sequential, else interleaved — odd slices first), multiband factor
//! (MBACCEL) and the repetition time less the group delay, spread evenly over the excitations.
//! Only for a 2D time series (two volumes or more, two slices or more; not a 3-plane localizer)
//! of an EPI dcm2niix times: real-time (fMRI), multi-phase (its protocol delay DELACQNOAV, unless
//! DELACQ is `Minimum`, lengthens the sidecar's RepetitionTime; variable delays give none),
//! ABCD pepolar, or diffusion on a scanner without gradient cycling (not a Premier, UHP or
//! 7.0T, unless its special-off mode). Multiband before software 26 gives none; before 27.0 R03
//! an even excitation count gets one more (dummy) excitation, from it on the last two
//! interleaved excitations swap. The times belong to the images (instance order within the
//! volume), so a volume written in the other spatial order has them reversed; all equal: none.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::ingest::ge::{self, EpiKind, ProtocolBlock};
use crate::ingest::geometry::VolumePlan;
use crate::ingest::Series;

/// What a GE series' protocol adds to its sidecar.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct GeTiming {
    /// Slice times (ms) in written slice order.
    pub times_ms: Option<Vec<f64>>,
    /// MultibandAccelerationFactor from the protocol (when above 1).
    pub multiband: Option<i64>,
    /// The multi-phase protocol delay (ms) the sidecar's RepetitionTime gains.
    pub extra_tr_ms: Option<f64>,
}

/// The GE timing of the file written from `plan` (its first volume) with `volumes` volumes.
pub(super) fn ge_timing(
    obj: &InMemDicomObject,
    series: &Series,
    plan: &VolumePlan,
    volumes: usize,
) -> GeTiming {
    let mut out = GeTiming::default();
    let Some(first) = plan.slices.first().and_then(|s| series.files.get(s.file)) else {
        return out;
    };
    let epi = ge::epi(obj);
    let slices = plan.slices.len();
    if first.acquisition_3d || epi.localizer || volumes < 2 || slices < 2 || series.modality != "MR"
    {
        return out;
    }
    // SoftwareVersions as dcm2niix holds it (values joined by backslashes).
    let software = crate::ingest::values::str_of(obj, tags::SOFTWARE_VERSIONS).unwrap_or_default();
    let Some(Ok(block)) = ProtocolBlock::of(obj) else {
        return out;
    };
    if software.len() < 10 {
        return out;
    }
    let release = ge::release(&software);
    let mb = block.integer("MBACCEL").unwrap_or(0).max(1);
    if mb > 1 {
        out.multiband = Some(mb);
    }
    // Times are computed in single precision, as dcm2niix's are.
    let Some(header_tr) = first.repetition_time else {
        return out;
    };
    let mut tr = header_tr as f32; // already holds an epiRT group delay (`ge::repetition_time_ms`)
    let mut delay = ge::group_delay_ms(obj).map_or(0.0, |d| d as f32);
    let protocol_delay = (block.float("DELACQNOAV") * 1000.0) as f32;
    let iopt = block.text_value("IOPT");
    let mut interleaved = true;
    let mut r27_3 = release.r27_3;
    match epi.kind {
        EpiKind::Pepolar => {}
        _ if epi.kind == EpiKind::RealTime || iopt.contains("FMRI") => {
            interleaved = block.integer("\nSLICEORDER") != Some(0);
        }
        _ if epi.kind == EpiKind::MultiPhase || iopt.contains("MPh") => {
            let minimum = iopt.contains("MPh") && block.text_value("DELACQ") == "Minimum";
            let variable = iopt.contains("MPhVar");
            let protocol_delay = if variable {
                -1.0
            } else if minimum {
                0.0
            } else {
                protocol_delay
            };
            if protocol_delay > 0.0 {
                tr += protocol_delay;
                delay = protocol_delay;
                out.extra_tr_ms = Some(f64::from(protocol_delay));
            }
            if protocol_delay < -0.5 {
                return out;
            }
        }
        _ if epi.kind == EpiKind::Diffusion || epi.internal_epi2 => {
            if !cycling_off(obj, &epi) {
                return out;
            }
            r27_3 = false;
        }
        _ => return out,
    }
    let Some(by_excitation) =
        slice_times(slices, mb, tr - delay, interleaved, release.major, r27_3)
    else {
        return out;
    };
    // Each written slice gets the time of its image's place in the volume's instance order.
    let instance = |i: usize| {
        let s = &plan.slices[i];
        let f = series.files.get(s.file)?;
        f.images
            .iter()
            .find(|r| r.frame == s.frame)?
            .instance_number
    };
    let mut order: Vec<usize> = (0..slices).collect();
    order.sort_by_key(|&i| (instance(i).unwrap_or(i64::MAX), i));
    let mut times = vec![0.0; slices];
    for (rank, &i) in order.iter().enumerate() {
        times[i] = f64::from(by_excitation[rank]);
    }
    if times.iter().all(|t| (*t - times[0]).abs() < 1e-4) {
        return out;
    }
    out.times_ms = Some(times);
    out
}

/// dcm2niix's gradient cycling mode of a GE diffusion series is off, or special-off: slice times
/// can be told.
fn cycling_off(obj: &InMemDicomObject, epi: &ge::Epi) -> bool {
    let model =
        crate::ingest::values::str_of(obj, tags::MANUFACTURER_MODEL_NAME).unwrap_or_default();
    ge::Cycling::of(&model, epi).per_tr()
}

/// dcm2niix's `sliceTimeGE`: the time (ms) of each slice in acquisition-index order, `period`
/// (TR less the group delay, ms) spread over the excitations; None where it gives none.
fn slice_times(
    slices: usize,
    mb: i64,
    period: f32,
    interleaved: bool,
    major: f32,
    r27_3: bool,
) -> Option<Vec<f32>> {
    let mb = usize::try_from(mb).ok()?.max(1);
    let mut excitations = slices.div_ceil(mb);
    if mb > 1 && major < 26.0 {
        return None;
    }
    if mb > 1 && !r27_3 && excitations % 2 == 0 {
        excitations += 1;
    }
    let per_slice = period / excitations as f32;
    let mut t: Vec<f32> = if interleaved {
        let odd = (excitations - 1) / 2;
        (0..excitations)
            .map(|i| {
                let slot = if i % 2 == 0 {
                    i / 2
                } else {
                    odd + i.div_ceil(2)
                };
                slot as f32 * per_slice
            })
            .collect()
    } else {
        (0..excitations).map(|i| i as f32 * per_slice).collect()
    };
    if mb > 1 && r27_3 && interleaved && excitations > 2 && excitations % 2 == 0 {
        t.swap(excitations - 1, excitations - 3);
    }
    Some((0..slices).map(|i| t[i % excitations]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rounded(t: &[f32]) -> Vec<f64> {
        t.iter()
            .map(|x| crate::digits::significant6(f64::from(*x) / 1000.0))
            .collect()
    }

    #[test]
    fn slice_times_follow_dcm2niix() {
        // Expected values: dcm2niix v1.0.20260724's SliceTiming on synthetic GE series with the
        // same protocol (TR 2000 ms, no delay).
        let t = slice_times(6, 1, 2000.0, true, 27.0, false).expect("times");
        assert_eq!(
            rounded(&t),
            [0.0, 1.0, 0.333333, 1.33333, 0.666667, 1.66667]
        );
        let t = slice_times(6, 1, 2000.0, false, 27.0, false).expect("times");
        assert_eq!(
            rounded(&t),
            [0.0, 0.333333, 0.666667, 1.0, 1.33333, 1.66667]
        );
        // Multiband 2 before 27.0 R03: six excitations become seven.
        let t = slice_times(12, 2, 2000.0, true, 27.0, false).expect("times");
        assert_eq!(
            rounded(&t),
            [
                0.0, 1.14286, 0.285714, 1.42857, 0.571429, 1.71429, 0.857143, 0.0, 1.14286,
                0.285714, 1.42857, 0.571429
            ]
        );
        // From 27.0 R03 on: the last two interleaved excitations swap.
        let t = slice_times(16, 3, 2000.0, true, 30.0, true).expect("times");
        assert_eq!(
            rounded(&t)[..6],
            [0.0, 1.0, 0.333333, 1.66667, 0.666667, 1.33333]
        );
        let t = slice_times(12, 3, 2000.0, true, 29.1, true).expect("times");
        assert_eq!(rounded(&t)[..4], [0.0, 1.5, 0.5, 1.0]);
        // Multiband before software 26: none.
        assert_eq!(slice_times(12, 2, 2000.0, true, 25.0, false), None);
    }
}
