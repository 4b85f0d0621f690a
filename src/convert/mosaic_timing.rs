//! Slice times of a Siemens mosaic series (one file a volume; each file's CSA image header gives
//! its tiles' MosaicRefAcqTimes), chosen as dcm2niix v1.0.20260724 chooses them for BIDS
//! SliceTiming (its `checkSliceTiming`, Issue870 and `rescueSliceTimingSiemens`, in
//! nii_dicom_batch.cpp). The first volume of a time series can carry wrong times (the CMRR
//! multiband sequence records single-band times or wrapped ones such as 86399.6 ms in it:
//! dcm2niix issues 272, 704, 870), so:
//!
//! - first-volume times that say nothing (all equal, e.g. all 0) give none, whatever the second's;
//! - negative times are moved up by the lowest (issue 271);
//! - a 4D series takes its second volume's times, less their lowest, when they differ from the
//!   first's and span more than nothing and less than one repetition; else the first's stay;
//! - one volume whose times exceed the repetition is moved down to start at 0 when their span
//!   fits in it, and is otherwise rebuilt from the protocol's slice order (ASCCONV
//!   `sSliceArray.ucMode`: ascending, descending or interleaved) spread over the repetition
//!   less `lDelayTimeInTR` — not for a multiband series, whose order the protocol does not say;
//!   a derived 4D series (ADC, trace) with no usable volume is rebuilt the same way;
//! - a single-band reference (SeriesDescription naming SBRef) keeps its own times.
//!
//! Each rule is a fact of dcm2niix v1.0.20260724 on nibabel's Siemens mosaics with their
//! MosaicRefAcqTimes rewritten (the unit tests below). Times are in ms, in tile (acquisition
//! index) order, as the CSA header gives them.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::ingest::siemens::{self, Csa};
use crate::ingest::values::{f64_of, str_of};
use crate::ingest::Series;

/// Two volumes' times are the same range when their lowest and highest differ by no more than
/// this (ms; dcm2niix's float comparison).
const SAME_MS: f64 = 1e-4;

/// What the protocol says of the slice order, for rebuilding times that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct SliceOrder {
    /// `sSliceArray.ucMode`: 1 ascending, 2 descending, 4 interleaved.
    pub mode: u32,
    /// `lDelayTimeInTR` (µs): the pause at the end of each repetition, no slice in it.
    pub delay_us: f64,
    /// Slices excited together (the protocol's multiband factor, or the times' own count).
    pub multiband: f64,
}

/// The series' mosaic times and what decides between them.
#[derive(Debug, Clone, Copy)]
pub(super) struct MosaicTimes<'a> {
    /// The first volume's MosaicRefAcqTimes (ms).
    pub first: &'a [f64],
    /// The second volume's, in a 4D series.
    pub second: Option<&'a [f64]>,
    /// RepetitionTime (0018,0080), ms.
    pub tr_ms: Option<f64>,
    /// SeriesDescription names a single-band reference (SBRef).
    pub sbref: bool,
    /// ImageType says DERIVED.
    pub derived: bool,
    /// The protocol's slice order, when it has one.
    pub order: Option<SliceOrder>,
    /// Slices of the volume (its tiles; the CSA header may list more times than tiles).
    pub slices: usize,
}

fn lowest(t: &[f64]) -> f64 {
    t.iter().copied().fold(f64::INFINITY, f64::min)
}

fn highest(t: &[f64]) -> f64 {
    t.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

fn less_lowest(t: &[f64]) -> Vec<f64> {
    let min = lowest(t);
    t.iter().map(|x| x - min).collect()
}

impl MosaicTimes<'_> {
    /// The slice times (ms, tile order) dcm2niix writes for the series; None for none.
    pub fn chosen(&self) -> Option<Vec<f64>> {
        let first = self.first;
        if first.len() < 2 || first.iter().any(|t| !t.is_finite()) {
            return None;
        }
        // Negative times (issue 271): moved up by the lowest.
        let first = if lowest(first) < 0.0 {
            less_lowest(first)
        } else {
            first.to_vec()
        };
        let (min0, max0) = (lowest(&first), highest(&first));
        if max0 == min0 {
            return None;
        }
        let Some(tr) = self.tr_ms.filter(|t| t.is_finite() && *t > 0.0) else {
            return Some(first);
        };
        if self.sbref {
            return Some(first);
        }
        let usable = |t: &[f64]| {
            let span = highest(t) - lowest(t);
            lowest(t) >= 0.0 && span > 0.0 && span < tr
        };
        let Some(second) = self
            .second
            .filter(|s| s.len() == first.len() && s.iter().all(|t| t.is_finite()))
        else {
            // One volume: as recorded when within the repetition, moved down when its span fits,
            // else rebuilt.
            if max0 <= tr {
                return Some(first);
            }
            if usable(&first) {
                return Some(less_lowest(&first));
            }
            return self.rebuilt(tr);
        };
        let (min1, max1) = (lowest(second), highest(second));
        let differ = (min0 - min1).abs() > SAME_MS || (max0 - max1).abs() > SAME_MS;
        if !differ && max0 <= tr {
            return Some(first);
        }
        if usable(second) {
            return Some(less_lowest(second));
        }
        if self.derived {
            return self.rebuilt(tr);
        }
        // Both volumes' times look wrong: dcm2niix keeps the first's ("Slice timing appears
        // corrupted").
        Some(first)
    }

    /// Times rebuilt from the protocol's slice order: slot k of n at k × (TR − delay) / n, in
    /// 32-bit floats as dcm2niix computes them (in double precision, slot 28 of 47 at TR 6600 ms
    /// prints 3.93191 where dcm2niix prints 3.93192). None for a multiband series or another
    /// order.
    fn rebuilt(&self, tr_ms: f64) -> Option<Vec<f64>> {
        let order = self.order?;
        let n = self.slices;
        if order.multiband > 1.0 {
            return None;
        }
        let ta_s = (tr_ms / 1000.0) as f32 - (order.delay_us / 1e6) as f32;
        let slot = |k: usize| f64::from(k as f32 * ta_s / n as f32 * 1000.0);
        let slots: Vec<usize> = match order.mode {
            1 => (0..n).collect(),
            2 => (0..n).rev().collect(),
            4 => {
                // Siemens interleaving: with an odd count the first slice goes first, then every
                // other; with an even count the second does.
                let half = n.div_ceil(2);
                let (even_start, odd_start) = if n % 2 == 1 { (0, half) } else { (n / 2, 0) };
                (0..n)
                    .map(|k| {
                        if k % 2 == 0 {
                            even_start + k / 2
                        } else {
                            odd_start + k / 2
                        }
                    })
                    .collect()
            }
            _ => return None,
        };
        Some(slots.into_iter().map(slot).collect())
    }
}

/// The slice times (ms, tile order) of volume `part` of a Siemens mosaic series written with
/// `volumes` volumes (4D when more than one): `(first, chosen)`, the first volume's
/// MosaicRefAcqTimes as recorded and the times dcm2niix writes (None: no SliceTiming). `obj`
/// and `csa` are the first volume's file header and CSA image header; the second volume's file
/// is read (headers only) when there is one.
pub(super) fn series_times(
    series: &Series,
    part: usize,
    volumes: usize,
    obj: &InMemDicomObject,
    csa: Option<&Csa>,
) -> (Vec<f64>, Option<Vec<f64>>) {
    let first = siemens::mosaic_acquisition_times(obj, csa);
    let plans = series.plan.as_ref().ok();
    let plan = plans.and_then(|p| p.get(part));
    let second = (volumes >= 2)
        .then(|| {
            let slice = plans?.get(part + 1)?.slices.first()?;
            let file = series.files.get(slice.file)?;
            let o = crate::ingest::open::open_file(&file.path, true)
                .ok()?
                .into_inner();
            let csa = siemens::csa_image_header(&o);
            Some(siemens::mosaic_acquisition_times(&o, csa.as_ref()))
        })
        .flatten();
    let protocol = siemens::phoenix_protocol(obj);
    let number = |key: &str| {
        protocol
            .as_deref()
            .and_then(|p| siemens::protocol_number(p, key))
    };
    let order = number("sSliceArray.ucMode").map(|mode| SliceOrder {
        mode: mode as u32,
        delay_us: number("lDelayTimeInTR").unwrap_or(0.0),
        multiband: siemens::multiband_factor(protocol.as_deref(), &first),
    });
    let text = |tag| str_of(obj, tag).unwrap_or_default();
    let times = MosaicTimes {
        first: &first,
        second: second.as_deref(),
        tr_ms: f64_of(obj, tags::REPETITION_TIME),
        sbref: text(tags::SERIES_DESCRIPTION).contains("SBRef"),
        derived: text(tags::IMAGE_TYPE).contains("DERIVED"),
        order,
        slices: plan.map_or(first.len(), |p| p.slices.len()),
    };
    let chosen = times.chosen();
    (first, chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The MosaicRefAcqTimes of nibabel 5.4.2's `siemens_dwi_0.dcm` (a, b = 0) and
    // `siemens_dwi_1000.dcm` (b, b = 1000), their first six tiles of 48; the series' TR is
    // 6600 ms, its protocol descending (ucMode 0x2), no delay. Every expected value is what
    // dcm2niix v1.0.20260724 wrote (SliceTiming × 1000) for the two files, or one of them, with
    // the times rewritten as each test says.
    const A: [f64; 6] = [6487.5, 6350.0, 6212.5, 6072.5, 5935.0, 5797.5];
    const B: [f64; 6] = [6490.0, 6350.0, 6212.5, 6075.0, 5937.5, 5800.0];
    const TR: f64 = 6600.0;
    const DESCENDING: SliceOrder = SliceOrder {
        mode: 2,
        delay_us: 0.0,
        multiband: 1.0,
    };

    /// The 48 tiles of a series whose first six are `six` and the rest lower than all of them
    /// (as in the files: descending, 0 at the last tile).
    fn tiles(six: &[f64]) -> Vec<f64> {
        let mut t = six.to_vec();
        t.extend((0..42).map(|k| (41 - k) as f64 * 137.5));
        t
    }

    fn times<'a>(first: &'a [f64], second: Option<&'a [f64]>) -> MosaicTimes<'a> {
        MosaicTimes {
            first,
            second,
            tr_ms: Some(TR),
            sbref: false,
            derived: false,
            order: Some(DESCENDING),
            slices: first.len(),
        }
    }

    fn scaled(t: &[f64], by: f64, plus: f64) -> Vec<f64> {
        t.iter().map(|x| x * by + plus).collect()
    }

    /// Times (ms) as dcm2niix prints them in SliceTiming: seconds, six significant digits.
    fn printed(t: &[f64]) -> Vec<f64> {
        t.iter()
            .map(|ms| crate::digits::significant6(ms / 1000.0))
            .collect()
    }

    /// The first six times, printed.
    fn head(t: Option<Vec<f64>>) -> Option<Vec<f64>> {
        t.map(|v| printed(&v[..6]))
    }

    #[test]
    fn a_time_series_takes_its_second_volumes_times() {
        let (a, b) = (tiles(&A), tiles(&B));
        assert_eq!(head(times(&a, Some(&b)).chosen()), Some(printed(&B)));
        // The second's, less their lowest (dcm2niix: 6490, not 6590).
        let b100 = scaled(&b, 1.0, 100.0);
        assert_eq!(head(times(&a, Some(&b100)).chosen()), Some(printed(&B)));
        let (a100, b200) = (scaled(&a, 1.0, 100.0), scaled(&b, 1.0, 200.0));
        assert_eq!(head(times(&a100, Some(&b200)).chosen()), Some(printed(&B)));
        // A first volume whose span exceeds the repetition gives way to a usable second.
        let a2 = scaled(&a, 2.0, 0.0);
        assert_eq!(head(times(&a2, Some(&b)).chosen()), Some(printed(&B)));
    }

    #[test]
    fn an_unusable_second_volume_leaves_the_first_volumes_times() {
        let a = tiles(&A);
        let zeros = vec![0.0; 48];
        assert_eq!(head(times(&a, Some(&zeros)).chosen()), Some(printed(&A)));
        let b2 = scaled(&tiles(&B), 2.0, 0.0);
        assert_eq!(head(times(&a, Some(&b2)).chosen()), Some(printed(&A)));
        // Both beyond the repetition: the first's stay ("appears corrupted").
        let a2 = scaled(&a, 2.0, 0.0);
        assert_eq!(
            head(times(&a2, Some(&b2)).chosen()),
            Some(printed(&scaled(&A, 2.0, 0.0)))
        );
    }

    #[test]
    fn times_that_say_nothing_give_none() {
        let zeros = vec![0.0; 48];
        assert_eq!(times(&zeros, None).chosen(), None);
        // Even beside a usable second volume.
        let b = tiles(&B);
        assert_eq!(times(&zeros, Some(&b)).chosen(), None);
    }

    #[test]
    fn one_volume_keeps_its_times_within_the_repetition_and_is_moved_or_rebuilt_beyond() {
        let a100 = scaled(&tiles(&A), 1.0, 100.0);
        assert_eq!(
            head(times(&a100, None).chosen()),
            Some(printed(&scaled(&A, 1.0, 100.0)))
        );
        let a200 = scaled(&tiles(&A), 1.0, 200.0);
        assert_eq!(head(times(&a200, None).chosen()), Some(printed(&A)));
        // Twice the span, or one time wrapped past midnight (86399.6 ms, dcm2niix issue 272):
        // TR / 48 a slot, descending.
        let rebuilt = vec![6462.5, 6325.0, 6187.5, 6050.0, 5912.5, 5775.0];
        let a2 = scaled(&tiles(&A), 2.0, 0.0);
        assert_eq!(head(times(&a2, None).chosen()), Some(printed(&rebuilt)));
        let mut wrapped = tiles(&A);
        wrapped[1] = 86399.6;
        assert_eq!(
            head(times(&wrapped, None).chosen()),
            Some(printed(&rebuilt))
        );
        // A multiband series is not rebuilt: no times.
        let mb2: Vec<f64> = (0..48).map(|k| (k % 24) as f64 * 540.0).collect();
        let order = SliceOrder {
            multiband: 2.0,
            ..DESCENDING
        };
        let t = MosaicTimes {
            order: Some(order),
            ..times(&mb2, None)
        };
        assert_eq!(t.chosen(), None);
    }

    #[test]
    fn negative_times_are_moved_up_by_the_lowest() {
        let mut t = tiles(&A);
        t[5] = -10.0;
        let want = vec![6497.5, 6360.0, 6222.5, 6082.5, 5945.0, 0.0];
        assert_eq!(head(times(&t, None).chosen()), Some(printed(&want)));
    }

    #[test]
    fn derived_and_single_band_reference_series() {
        let (a2, b2) = (scaled(&tiles(&A), 2.0, 0.0), scaled(&tiles(&B), 2.0, 0.0));
        let derived = MosaicTimes {
            derived: true,
            ..times(&a2, Some(&b2))
        };
        let rebuilt = vec![6462.5, 6325.0, 6187.5, 6050.0, 5912.5, 5775.0];
        assert_eq!(head(derived.chosen()), Some(printed(&rebuilt)));
        let sbref = MosaicTimes {
            sbref: true,
            ..times(&a2, None)
        };
        assert_eq!(head(sbref.chosen()), Some(printed(&scaled(&A, 2.0, 0.0))));
    }

    #[test]
    fn rebuilt_orders_follow_the_protocol() {
        let t = |mode, n| {
            let order = SliceOrder { mode, ..DESCENDING };
            MosaicTimes {
                order: Some(order),
                slices: n,
                ..times(&[], None)
            }
            .rebuilt(TR)
            .map(|v| printed(&v))
        };
        // dcm2niix v1.0.20260724, ucMode 0x1 and 0x4 on the 48-slice series (TR / 48 = 137.5).
        let ascending = t(1, 48).unwrap_or_default();
        assert_eq!(ascending[..4], [0.0, 0.1375, 0.275, 0.4125]);
        let interleaved = t(4, 48).unwrap_or_default();
        assert_eq!(interleaved[..6], [3.3, 0.0, 3.4375, 0.1375, 3.575, 0.275]);
        // An odd count starts with the first slice: slots 0, 3, 1, 4, 2 of 5. dcm2niix on the
        // series made 47 slices (NumberOfImagesInMosaic 47): 0, 3.37021, 0.140426, 3.51064 s, and
        // 3.93192 for slot 28 (slice 9), which double precision would print 3.93191.
        let five = t(4, 5).unwrap_or_default();
        assert_eq!(five, [0.0, 3.96, 1.32, 5.28, 2.64]);
        let odd = t(4, 47).unwrap_or_default();
        assert_eq!(odd[..4], [0.0, 3.37021, 0.140426, 3.51064]);
        assert_eq!(odd[9], 3.93192);
        // The delay in each repetition is left out of the spread.
        let delayed = SliceOrder {
            mode: 1,
            delay_us: 600_000.0,
            multiband: 1.0,
        };
        let r = MosaicTimes {
            order: Some(delayed),
            slices: 4,
            ..times(&[], None)
        }
        .rebuilt(TR)
        .map(|v| printed(&v));
        assert_eq!(r, Some(vec![0.0, 1.5, 3.0, 4.5]));
        assert_eq!(t(3, 48), None);
    }
}
