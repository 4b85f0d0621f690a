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
}

/// A fitted ADC map with what went into it.
#[derive(Debug, Clone)]
pub struct AdcFit {
    pub adc: Volume,
    pub b_values: Vec<f64>,
    /// Voxels with fewer than two positive signals or a negative slope (set to 0).
    pub not_fitted: usize,
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
    fn one_b_value_is_refused() {
        let a = vol([1.0, 1.0]);
        assert!(matches!(
            fit_adc(&[(800.0, &a), (800.0, &a)]),
            Err(AdcError::TooFewBValues(1))
        ));
    }
}
