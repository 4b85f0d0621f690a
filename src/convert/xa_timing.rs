//! Slice times (BIDS SliceTiming) of Siemens XA series, as dcm2niix v1.0.20260724 derives them
//! (`sliceTimingXA`, `checkSliceTiming` in its nii_dicom_batch.cpp): XA scanners (SoftwareVersions
//! XA10 … XA7x) record each image's TimeAfterStart ("SIEMENS MR SDI 02" (0021,xx04), seconds;
//! `ImageRecord::time_after_start`) and dcm2niix reads it
//! instead of AcquisitionTime (which Siemens' own de-identification can corrupt). The times of
//! a 4D series are those of its second volume (the first can be wrong, dcm2niix issue 875),
//! less their minimum; a volume of single-frame files gets none, one enhanced file holding a
//! volume its frames' times when they fit in one repetition. Single-frame files that have
//! TimeAfterStart but are not from an XA scanner get none either (dcm2niix then skips the
//! AcquisitionTime rule too), nor does an XA time series without it (de-identified).

use crate::ingest::geometry::VolumePlan;
use crate::ingest::Series;

/// What the series' TimeAfterStart says of its slice times.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum XaSliceTimes {
    /// No TimeAfterStart: the AcquisitionTime rule applies (`sidecar::classic_slice_times`).
    Absent,
    /// TimeAfterStart present, but dcm2niix writes no SliceTiming.
    None,
    /// Times in ms (32-bit float arithmetic, as dcm2niix), one per written slice.
    Times(Vec<f64>),
}

/// SoftwareVersions (0018,1020) of a Siemens XA scanner, by dcm2niix's substring tests.
pub(super) fn is_xa(software_versions: &str) -> bool {
    software_versions.len() > 4
        && ["XA10", "XA11", "XA20", "XA30", "XA31", "XA5", "XA6", "XA7"]
            .iter()
            .any(|v| software_versions.contains(v))
}

/// What a Siemens series' file holds about its slice times: `plans[part]` is the file's first
/// volume, followed by the other `volumes - 1` of a 4D file; `tr_ms` its time between volumes
/// (RepetitionTime, or what the acquisition times say: `timing::volume_timing`);
/// `derived` its ImageType says DERIVED.
pub(super) fn xa_slice_times(
    series: &Series,
    plans: &[VolumePlan],
    part: usize,
    volumes: usize,
    xa: bool,
    tr_ms: Option<f64>,
    derived: bool,
) -> XaSliceTimes {
    let Some(plan) = plans.get(part) else {
        return XaSliceTimes::Absent;
    };
    let time_of = |file: usize, frame: u32| {
        series
            .files
            .get(file)?
            .images
            .iter()
            .find(|i| i.frame == frame)?
            .time_after_start
    };
    let Some(first) = plan.slices.first() else {
        return XaSliceTimes::Absent;
    };
    let dim3 = plan.slices.len();
    let four_d = xa && volumes >= 2 && dim3 >= 2;
    if time_of(first.file, first.frame).is_none() {
        // An XA time series without them: dcm2niix takes the second volume's missing times
        // over the AcquisitionTime ones, and writes none.
        return if four_d {
            XaSliceTimes::None
        } else {
            XaSliceTimes::Absent
        };
    }
    // A file's times in frame order (the order dcm2niix meets them), its first `dim3`.
    let file_times = |file: usize| -> Option<Vec<f64>> {
        let f = series.files.get(file)?;
        let mut images: Vec<_> = f.images.iter().collect();
        images.sort_by_key(|i| i.frame);
        images
            .iter()
            .take(dim3)
            .map(|i| i.time_after_start)
            .collect::<Option<Vec<f64>>>()
            .filter(|t| t.len() == dim3)
    };
    if !four_d {
        // One enhanced file holding the whole volume: its frames' times less their minimum, when
        // they span more than nothing and less than one repetition (checkSliceTiming on the
        // file alone); none otherwise, and none for a volume of single-frame files.
        let one_file =
            volumes == 1 && dim3 >= 2 && plan.slices.iter().all(|s| s.file == first.file);
        return match one_file.then(|| file_times(first.file)).flatten() {
            Some(seconds) => {
                let (ms, range) = relative_ms(&seconds);
                if range > 0.0 && tr_ms.is_some_and(|tr| f64::from(range) < tr) {
                    XaSliceTimes::Times(ms)
                } else {
                    XaSliceTimes::None
                }
            }
            None => XaSliceTimes::None,
        };
    }
    let set = plans.get(part..part + volumes).unwrap_or_default();
    let mut files: Vec<usize> = set
        .iter()
        .flat_map(|p| p.slices.iter().map(|s| s.file))
        .collect();
    files.sort_unstable();
    files.dedup();
    let seconds: Option<Vec<f64>> = if files.len() == dim3 * volumes {
        // One image a file: each slice of the second volume.
        set.get(1)
            .and_then(|second| {
                second
                    .slices
                    .iter()
                    .map(|s| time_of(s.file, s.frame))
                    .collect()
            })
            .filter(|t: &Vec<f64>| t.len() == dim3)
    } else if files.len() == volumes {
        // One file a volume (enhanced): the second file's.
        set.get(1)
            .and_then(|second| second.slices.first())
            .and_then(|s| file_times(s.file))
    } else {
        file_times(first.file)
    };
    let Some(seconds) = seconds else {
        return XaSliceTimes::None;
    };
    let (ms, range) = relative_ms(&seconds);
    // Derived images whose times do not fit one repetition are left without (checkSliceTiming).
    let fits = range > 0.0 && tr_ms.is_some_and(|tr| f64::from(range) <= tr);
    if derived && !fits {
        return XaSliceTimes::None;
    }
    XaSliceTimes::Times(ms)
}

/// Times (s) as ms from the earliest, in dcm2niix's 32-bit floats, and their span (ms).
fn relative_ms(seconds: &[f64]) -> (Vec<f64>, f32) {
    let ms: Vec<f32> = seconds.iter().map(|s| *s as f32 * 1000.0).collect();
    let min = ms.iter().copied().fold(f32::INFINITY, f32::min);
    let ms: Vec<f32> = ms.iter().map(|t| t - min).collect();
    let range = ms.iter().copied().fold(0.0f32, f32::max);
    (ms.into_iter().map(f64::from).collect(), range)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dcm2niix's substring tests on SoftwareVersions (0018,1020).
    #[test]
    fn xa_software_versions_are_told_by_dcm2niix_substrings() {
        assert!(is_xa("syngo MR XA30"));
        assert!(is_xa("syngo MR XA60A"));
        assert!(is_xa("syngo MR XA20A"));
        assert!(!is_xa("syngo MR E11"));
        assert!(!is_xa("XA30"), "four characters are too short for dcm2niix");
        assert!(!is_xa("syngo MR XA40"));
    }
}
