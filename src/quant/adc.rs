//! Apparent diffusion coefficient from diffusion-weighted volumes (QIBA DWI profile: the
//! mono-exponential model S(b) = S0 · exp(−b · ADC), fitted per voxel by ordinary least squares of
//! ln S on b over every b-value where the voxel's signal is positive). Output in 10⁻⁶ mm²/s (b in
//! s/mm²), as scanner ADC maps store it. A voxel with fewer than two positive signals, or a fit
//! that gives a negative ADC (noise), is 0, as scanners write it. Slices are fitted in parallel
//! (rayon).

use rayon::prelude::*;

use crate::volume::Volume;

/// Errors of the ADC fit.
#[derive(Debug, thiserror::Error)]
pub enum AdcError {
    #[error("ADC needs at least two distinct b-values; the series has {0}")]
    TooFewBValues(usize),
    #[error("the b-value volumes do not share one grid (dimensions or geometry differ)")]
    Grid,
    #[error(
        "a b-value of {0} s/mm² (DiffusionBValue (0018,9087) or its maker's own attribute): \
         b-values are 0 to {MAX_B} s/mm²"
    )]
    BValue(f64),
}

/// The largest b-value taken (s/mm²): clinical DWI goes to about 2,000, research to 10,000. A
/// negative or absurd one made every voxel's fit fail: an all-zero map, exit 0.
pub const MAX_B: f64 = 10_000.0;

/// A fitted ADC map with what went into it.
#[derive(Debug, Clone)]
pub struct AdcFit {
    pub adc: Volume,
    pub b_values: Vec<f64>,
    /// Voxels with fewer than two positive signals or a negative slope (set to 0).
    pub not_fitted: usize,
    /// Volumes of the series left out because they carry no b-value (`adc_from_dwi`).
    pub without_b_value: usize,
}

/// Fit ADC from `(b, volume)` pairs on one grid (a trace-weighted volume per b-value).
pub fn fit_adc(series: &[(f64, &Volume)]) -> Result<AdcFit, AdcError> {
    let mut b_values: Vec<f64> = series.iter().map(|(b, _)| *b).collect();
    b_values.sort_by(f64::total_cmp);
    b_values.dedup();
    if b_values.len() < 2 {
        return Err(AdcError::TooFewBValues(b_values.len()));
    }
    let first = series[0].1;
    let dims = first.dims();
    if series
        .iter()
        .any(|(_, v)| v.dims() != dims || !v.geometry.same_grid(&first.geometry, dims, dims, 1e-3))
    {
        return Err(AdcError::Grid);
    }
    let plane = dims[1] * dims[2];
    let inputs: Vec<(f64, Vec<f32>)> = series
        .iter()
        .map(|(b, v)| (*b, v.data.iter().copied().collect()))
        .collect();
    let mut out = vec![0f32; dims[0] * plane];
    let not_fitted: usize = out
        .par_chunks_mut(plane)
        .enumerate()
        .map(|(k, slice)| {
            let mut missed = 0;
            let mut bs = Vec::with_capacity(inputs.len());
            let mut ys = Vec::with_capacity(inputs.len());
            for (p, o) in slice.iter_mut().enumerate() {
                bs.clear();
                ys.clear();
                for (b, data) in &inputs {
                    let s = data[k * plane + p];
                    if s > 0.0 && s.is_finite() {
                        bs.push(*b);
                        ys.push((s as f64).ln());
                    }
                }
                match slope(&bs, &ys) {
                    Some(m) if -m >= 0.0 => *o = (-m * 1e6) as f32,
                    _ => missed += 1,
                }
            }
            missed
        })
        .sum();
    let data = ndarray::Array3::from_shape_vec((dims[0], dims[1], dims[2]), out)
        .map_err(|_| AdcError::Grid)?;
    Ok(AdcFit {
        adc: Volume {
            data,
            geometry: first.geometry.clone(),
        },
        b_values,
        not_fitted,
        without_b_value: 0,
    })
}

/// A scanner's ADC map in 10⁻⁶ mm²/s, the unit ancilla gives every ADC. DICOM has no attribute
/// for an ADC map's unit; scanners store 10⁻⁶ mm²/s, but a map stored in mm²/s (RescaleSlope
/// 1e-6) or in 10⁻³ mm²/s reads a million or a thousand times smaller, and was reported as
/// 10⁻⁶ mm²/s all the same. Tissue ADC lies between about 100 and 4,000 × 10⁻⁶ mm²/s (water
/// 3,000 at body temperature), and a map's tissue and fluid reach the top of that range: a map
/// whose values (their magnitude, the 95th percentile of those not 0, so that a few outlying
/// voxels do not decide) are below 0.1 is in mm²/s, below 10 in 10⁻³ mm²/s. Such a map is scaled
/// in place; returns what was done, for a warning (None: left as it is).
pub fn to_micro_units(adc: &mut Volume) -> Option<String> {
    let mut values: Vec<f32> = adc
        .data
        .iter()
        .filter(|v| v.is_finite() && **v != 0.0)
        .map(|v| v.abs())
        .collect();
    if values.is_empty() {
        return None;
    }
    let k = (values.len() * 95 / 100).min(values.len() - 1);
    let (_, high, _) = values.select_nth_unstable_by(k, f32::total_cmp);
    let high = *high;
    let (factor, unit) = if high < 0.1 {
        (1e6f32, "mm²/s")
    } else if high < 10.0 {
        (1e3f32, "10⁻³ mm²/s")
    } else {
        return None;
    };
    adc.data.mapv_inplace(|v| v * factor);
    Some(format!(
        "95% of the ADC map's values are below {} (tissue ADC is 100-4,000 in 10⁻⁶ mm²/s): \
         read as {unit} and scaled by {} to 10⁻⁶ mm²/s",
        crate::digits::g6(f64::from(high)),
        crate::digits::g6(f64::from(factor))
    ))
}

/// The trace-weighted image of one b-value from its volumes (one per gradient direction, and
/// perhaps the scanner's own trace beside them): their geometric mean voxel by voxel,
/// (S₁·S₂·…·Sₙ)^(1/n), as a scanner's TRACEW or isotropic image is made. Its logarithm is the
/// mean of the directions' −b·gᵀDg, so the fit gives the mean diffusivity, trace(D)/3, whatever
/// the anisotropy (the arithmetic mean is larger at high b, by Jensen's inequality, and gave an
/// ADC up to a third too low in anisotropic tissue). A trace image among the directions changes
/// nothing: it is their geometric mean already. A voxel where any volume is not positive is 0 (no
/// signal to fit at that b). The volumes share one grid (`AdcError::Grid` otherwise).
pub fn trace_weighted(volumes: &[&Volume]) -> Result<Volume, AdcError> {
    let Some(first) = volumes.first() else {
        return Err(AdcError::Grid);
    };
    let dims = first.dims();
    if volumes
        .iter()
        .any(|v| v.dims() != dims || !v.geometry.same_grid(&first.geometry, dims, dims, 1e-3))
    {
        return Err(AdcError::Grid);
    }
    let n = volumes.len() as f64;
    let mut logs = vec![0f64; first.data.len()];
    for v in volumes {
        for (l, &s) in logs.iter_mut().zip(v.data.iter()) {
            *l += if s > 0.0 && s.is_finite() {
                f64::from(s).ln()
            } else {
                f64::NEG_INFINITY
            };
        }
    }
    let data = logs
        .into_iter()
        .map(|l| {
            if l.is_finite() {
                (l / n).exp() as f32
            } else {
                0.0
            }
        })
        .collect();
    let data = ndarray::Array3::from_shape_vec((dims[0], dims[1], dims[2]), data)
        .map_err(|_| AdcError::Grid)?;
    Ok(Volume {
        data,
        geometry: first.geometry.clone(),
    })
}

/// Least-squares slope of y on x (None with fewer than two distinct x).
pub fn slope(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    if x.len() < 2 {
        return None;
    }
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    Some(sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Geometry;

    fn vol(values: [f32; 2]) -> Volume {
        Volume {
            data: ndarray::Array3::from_shape_vec((1, 1, 2), values.to_vec()).unwrap(),
            geometry: Geometry::axial([0.0; 3], [1.0; 3]),
        }
    }

    #[test]
    fn exact_mono_exponential_gives_its_adc() {
        // S0 = 1000, ADC = 1.5e-3 mm²/s: S(400) = 1000·e^−0.6, S(800) = 1000·e^−1.2.
        let s = |b: f64| (1000.0 * (-b * 1.5e-3).exp()) as f32;
        let (v0, v4, v8) = (
            vol([s(0.0), 0.0]),
            vol([s(400.0), 5.0]),
            vol([s(800.0), 4.0]),
        );
        let fit = fit_adc(&[(0.0, &v0), (400.0, &v4), (800.0, &v8)]).unwrap();
        assert!((fit.adc.data[[0, 0, 0]] - 1500.0).abs() < 0.05);
        // Second voxel: zero at b = 0, so b = 400 and 800 only: ln(5/4)/400 = 5.5786e-4 → 557.86.
        assert!((fit.adc.data[[0, 0, 1]] as f64 - (1.25f64).ln() / 400.0 * 1e6).abs() < 0.05);
        assert_eq!(fit.not_fitted, 0);
    }

    #[test]
    fn least_squares_over_three_noisy_points() {
        // ln S = (7, 6.5, 5.7) at b = (0, 400, 800): slope = Σ(b − 400)(y − ȳ)/Σ(b − 400)²
        // = (−400·0.6 + 0 + 400·(−0.7)) / (2·160000) = −520/320000 = −1.625e-3 → ADC 1625.
        let e = |x: f64| x.exp() as f32;
        let (a, b, c) = (vol([e(7.0), 1.0]), vol([e(6.5), 2.0]), vol([e(5.7), 0.0]));
        let fit = fit_adc(&[(0.0, &a), (400.0, &b), (800.0, &c)]).unwrap();
        assert!((fit.adc.data[[0, 0, 0]] - 1625.0).abs() < 0.05);
        // Signal rising with b (1 → 2, then 0): negative ADC → 0 and counted.
        assert_eq!(fit.adc.data[[0, 0, 1]], 0.0);
        assert_eq!(fit.not_fitted, 1);
    }

    #[test]
    fn anisotropic_directions_give_the_mean_diffusivity() {
        // D = diag(3.0, 0.5, 0.5) × 10⁻³ mm²/s, S0 = 2000, b = 800 along x, y and z: the mean
        // diffusivity, trace(D)/3, is 1333.3 × 10⁻⁶. The geometric mean of the three directions is
        // 2000·e^(−800·MD); their arithmetic mean, (e^−2.4 + 2·e^−0.4)/3·2000, gave 924.9.
        let s = |b: f64, d: f64| (2000.0 * (-b * d).exp()) as f32;
        let b0 = vol([s(0.0, 0.0), 0.0]);
        let (x, y, z) = (
            vol([s(800.0, 3.0e-3), 0.0]),
            vol([s(800.0, 0.5e-3), 0.0]),
            vol([s(800.0, 0.5e-3), 0.0]),
        );
        let trace = trace_weighted(&[&x, &y, &z]).unwrap();
        let fit = fit_adc(&[(0.0, &b0), (800.0, &trace)]).unwrap();
        assert!(
            (fit.adc.data[[0, 0, 0]] - 1333.33).abs() < 0.1,
            "{}",
            fit.adc.data[[0, 0, 0]]
        );
        // The scanner's own trace among the directions changes nothing.
        let with_trace = trace_weighted(&[&x, &y, &z, &trace]).unwrap();
        assert!((with_trace.data[[0, 0, 0]] - trace.data[[0, 0, 0]]).abs() < 1e-3);
        // A voxel with no signal in one direction has none at that b.
        assert_eq!(trace.data[[0, 0, 1]], 0.0);
    }

    #[test]
    fn an_adc_map_in_mm2_per_s_or_in_thousandths_is_scaled_to_millionths() {
        // 1.5e-3 mm²/s stored as mm²/s (RescaleSlope 1e-6): 1500 × 10⁻⁶ mm²/s.
        let mut a = vol([1.5e-3, 3.0e-3]);
        let note = to_micro_units(&mut a).unwrap();
        assert!((a.data[[0, 0, 0]] - 1500.0).abs() < 1e-2, "{note}");
        assert!(note.contains("mm²/s") && note.contains("0.003"), "{note}");
        // In 10⁻³ mm²/s (1.5, 3.0): × 1000.
        let mut a = vol([1.5, 3.0]);
        assert!(to_micro_units(&mut a).unwrap().contains("10⁻³"));
        assert!((a.data[[0, 0, 1]] - 3000.0).abs() < 1e-2);
        // A map in 10⁻³ mm²/s with one outlying voxel (a review: the largest value decided,
        // and one voxel of 50 left the map 1000 times too small): scaled all the same.
        let mut a = Volume {
            data: ndarray::Array3::from_shape_fn(
                (1, 1, 100),
                |(_, _, i)| {
                    if i == 0 {
                        50.0
                    } else {
                        1.5
                    }
                },
            ),
            geometry: Geometry::axial([0.0; 3], [1.0; 3]),
        };
        assert!(to_micro_units(&mut a).is_some());
        assert!((a.data[[0, 0, 1]] - 1500.0).abs() < 1e-2);
        // Already in 10⁻⁶ mm²/s (a region whose largest value is 250), or all 0: left as it is.
        let mut a = vol([250.0, 12.0]);
        assert!(to_micro_units(&mut a).is_none());
        assert_eq!(a.data[[0, 0, 0]], 250.0);
        assert!(to_micro_units(&mut vol([0.0, 0.0])).is_none());
    }

    #[test]
    fn one_b_value_is_refused() {
        let a = vol([1.0, 1.0]);
        assert!(matches!(
            fit_adc(&[(800.0, &a), (800.0, &a)]),
            Err(AdcError::TooFewBValues(1))
        ));
    }
}
