//! Cox proportional hazards with one covariate: Efron's method for tied event times,
//! Newton–Raphson with step halving on the partial log-likelihood (covariate centred, which
//! leaves the coefficient unchanged). Reports coef, SE from the observed information, HR with
//! its 95% CI, HR per SD (sample SD), Wald and likelihood-ratio p, and Harrell's C of the
//! linear predictor, as lifelines' `CoxPHFitter` does.

use super::concordance::concordance_index;
use super::distributions::{chi2_sf, norm_ppf};

/// Fewest events for which a Cox model is fitted.
pub const MIN_EVENTS: usize = 5;

/// A fitted one-covariate Cox model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cox {
    pub coef: f64,
    pub se: f64,
    pub hr: f64,
    pub hr_ci: (f64, f64),
    pub hr_per_sd: f64,
    /// The interval of `hr_per_sd`: the model on the covariate divided by its sample SD has
    /// coefficient β·SD and standard error SE·SD (R's `coxph(Surv(t, e) ~ scale(x))`).
    pub hr_per_sd_ci: (f64, f64),
    pub p_wald: f64,
    pub lr_statistic: f64,
    pub p_lr: f64,
    pub log_likelihood: f64,
    pub concordance: f64,
    pub iterations: usize,
}

/// Why a model was not fitted.
#[derive(Debug, Clone, PartialEq)]
pub enum CoxRefusal {
    TooFewEvents(usize),
    ConstantCovariate,
    NoConvergence,
}

impl std::fmt::Display for CoxRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoxRefusal::TooFewEvents(e) => write!(
                f,
                "Cox model not fitted: {e} events, at least {MIN_EVENTS} needed"
            ),
            CoxRefusal::ConstantCovariate => write!(f, "Cox model not fitted: feature is constant"),
            CoxRefusal::NoConvergence => write!(
                f,
                "Cox model did not converge (monotone likelihood: the coefficient diverges)"
            ),
        }
    }
}

/// Efron partial log-likelihood, score and information (−second derivative) at `beta`.
/// `order` sorts subjects by time, descending; `x` is centred.
fn efron(beta: f64, times: &[f64], events: &[bool], x: &[f64], order: &[usize]) -> (f64, f64, f64) {
    let (mut ll, mut grad, mut info) = (0.0, 0.0, 0.0);
    let (mut s0, mut s1, mut s2) = (0.0, 0.0, 0.0);
    let n = order.len();
    let mut i = 0;
    while i < n {
        let t = times[order[i]];
        let (mut d0, mut d1, mut d2, mut d, mut xsum) = (0.0, 0.0, 0.0, 0usize, 0.0);
        while i < n && times[order[i]] == t {
            let k = order[i];
            let w = (beta * x[k]).exp();
            s0 += w;
            s1 += w * x[k];
            s2 += w * x[k] * x[k];
            if events[k] {
                d0 += w;
                d1 += w * x[k];
                d2 += w * x[k] * x[k];
                d += 1;
                xsum += x[k];
            }
            i += 1;
        }
        if d == 0 {
            continue;
        }
        ll += beta * xsum;
        grad += xsum;
        for l in 0..d {
            let f = l as f64 / d as f64;
            let a0 = s0 - f * d0;
            let a1 = s1 - f * d1;
            let a2 = s2 - f * d2;
            ll -= a0.ln();
            let m = a1 / a0;
            grad -= m;
            info += a2 / a0 - m * m;
        }
    }
    (ll, grad, info)
}

/// Fit; `alpha` 0.05 gives a 95% CI.
pub fn fit(times: &[f64], events: &[bool], x: &[f64], alpha: f64) -> Result<Cox, CoxRefusal> {
    let n = x.len();
    let n_events = events.iter().filter(|&&e| e).count();
    if n_events < MIN_EVENTS {
        return Err(CoxRefusal::TooFewEvents(n_events));
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    let sd = (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n as f64 - 1.0)).sqrt();
    // Constant: every value the same, to rounding. The summed mean of equal values is not
    // always that value (100 × 2805.7620817843867 / 100 is 4.5e-12 off), which left an SD of
    // rounding noise and a "fit" on it; values that differ in their last few digits only are the
    // same value computed in two orders.
    let (lo, hi) = x
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    if sd.is_nan() || hi - lo <= 1e-12 * lo.abs().max(hi.abs()) {
        return Err(CoxRefusal::ConstantCovariate);
    }
    let xc: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| times[b].total_cmp(&times[a]));

    let (ll0, _, _) = efron(0.0, times, events, &xc, &order);
    let mut beta = 0.0;
    let (mut ll, mut grad, mut info) = efron(beta, times, events, &xc, &order);
    let mut iterations = 0;
    let mut converged = false;
    while iterations < 100 {
        iterations += 1;
        if info.is_nan() || info <= 0.0 {
            break;
        }
        let mut step = grad / info;
        let mut next = efron(beta + step, times, events, &xc, &order);
        let mut halvings = 0;
        while (next.0.is_nan() || next.0 < ll - 1e-12 * ll.abs()) && halvings < 30 {
            step /= 2.0;
            next = efron(beta + step, times, events, &xc, &order);
            halvings += 1;
        }
        beta += step;
        (ll, grad, info) = next;
        // Converged when the step, per SD of the covariate, is below 1e-10 of the coefficient
        // per SD (or absolutely, for a coefficient near 0): the score's rounding noise is about
        // 1e-16 × n there, and a purely relative test on a coefficient near 0 could never pass
        // (a scaled and shifted null covariate failed to converge; proptest regression).
        if step.abs() * sd <= 1e-10 * (1.0 + (beta * sd).abs()) {
            converged = true;
            break;
        }
    }
    let se = (1.0 / info).sqrt();
    // A monotone likelihood flattens out before the coefficient runs away: the information is
    // then ~0 (an SE per SD of the covariate in the thousands or more, a hazard-ratio interval
    // of e^±2000 per SD), whatever the coefficient reached.
    let flat = se * sd > 1e3;
    if !converged
        || !beta.is_finite()
        || info.is_nan()
        || info <= 0.0
        || beta.abs() * sd > 50.0
        || flat
    {
        return Err(CoxRefusal::NoConvergence);
    }
    let z = norm_ppf(1.0 - alpha / 2.0);
    let lr_statistic = (2.0 * (ll - ll0)).max(0.0);
    // Harrell's C on the linear predictor's order, which is x's (or its reverse): ranking by
    // exp(β·(x − mean)) rounded values 1e-14 apart into ties (R's concordance ranks β·x).
    // (β = 0 ranks every subject alike: all ties, C = ½.)
    let direction = if beta == 0.0 { 0.0 } else { -beta.signum() };
    let predicted: Vec<f64> = x.iter().map(|v| direction * v).collect();
    Ok(Cox {
        coef: beta,
        se,
        hr: beta.exp(),
        hr_ci: ((beta - z * se).exp(), (beta + z * se).exp()),
        hr_per_sd: (beta * sd).exp(),
        hr_per_sd_ci: (((beta - z * se) * sd).exp(), ((beta + z * se) * sd).exp()),
        p_wald: chi2_sf((beta / se).powi(2), 1.0),
        lr_statistic,
        p_lr: chi2_sf(lr_statistic, 1.0),
        log_likelihood: ll,
        concordance: concordance_index(times, &predicted, events).unwrap_or(f64::NAN),
        iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::km::tests::{close, rossi};
    use crate::stats::lifelines_reference as r;

    fn check(col: usize, refs: [f64; 13]) {
        let rows = rossi();
        let t: Vec<f64> = rows.iter().map(|r| r[0]).collect();
        let e: Vec<bool> = rows.iter().map(|r| r[1] == 1.0).collect();
        let x: Vec<f64> = rows.iter().map(|r| r[col]).collect();
        let c = fit(&t, &e, &x, 0.05).unwrap();
        // lifelines stops Newton–Raphson at its default precision (1e-7 on the step), where the
        // score is still ~1e-6 (checked: our coefficient has score < 1e-12 and lifelines with
        // fit_options precision 1e-14 gives age coef -0.07284541928782624, 7e-15 from ours).
        // The committed figures therefore agree to ~6e-8 relative: tested at 1e-7.
        let [coef, se, hr, lo, hi, p_wald, lr, p_lr, ll, cidx, per_sd, sd_lo, sd_hi] = refs;
        close(c.coef, coef, 1e-7);
        close(c.se, se, 1e-7);
        close(c.hr, hr, 1e-7);
        close(c.hr_ci.0, lo, 1e-7);
        close(c.hr_ci.1, hi, 1e-7);
        close(c.p_wald, p_wald, 1e-6);
        close(c.lr_statistic, lr, 1e-8);
        close(c.p_lr, p_lr, 1e-6);
        close(c.log_likelihood, ll, 1e-10);
        close(c.concordance, cidx, 1e-12);
        close(c.hr_per_sd, per_sd, 1e-7);
        // lifelines fitted on the standardised covariate.
        close(c.hr_per_sd_ci.0, sd_lo, 1e-7);
        close(c.hr_per_sd_ci.1, sd_hi, 1e-7);
    }

    #[test]
    fn rossi_age_matches_lifelines() {
        check(
            3,
            [
                r::ROSSI_AGE_COEF,
                r::ROSSI_AGE_SE,
                r::ROSSI_AGE_HR,
                r::ROSSI_AGE_HR_LOWER,
                r::ROSSI_AGE_HR_UPPER,
                r::ROSSI_AGE_P_WALD,
                r::ROSSI_AGE_LR_STAT,
                r::ROSSI_AGE_P_LR,
                r::ROSSI_AGE_LOGLIK,
                r::ROSSI_AGE_CONCORDANCE,
                r::ROSSI_AGE_HR_PER_SD,
                r::ROSSI_AGE_HR_PER_SD_LOWER,
                r::ROSSI_AGE_HR_PER_SD_UPPER,
            ],
        );
    }

    #[test]
    fn rossi_prio_matches_lifelines() {
        check(
            8,
            [
                r::ROSSI_PRIO_COEF,
                r::ROSSI_PRIO_SE,
                r::ROSSI_PRIO_HR,
                r::ROSSI_PRIO_HR_LOWER,
                r::ROSSI_PRIO_HR_UPPER,
                r::ROSSI_PRIO_P_WALD,
                r::ROSSI_PRIO_LR_STAT,
                r::ROSSI_PRIO_P_LR,
                r::ROSSI_PRIO_LOGLIK,
                r::ROSSI_PRIO_CONCORDANCE,
                r::ROSSI_PRIO_HR_PER_SD,
                r::ROSSI_PRIO_HR_PER_SD_LOWER,
                r::ROSSI_PRIO_HR_PER_SD_UPPER,
            ],
        );
    }

    #[test]
    fn waltons_binary_group_with_heavy_ties_matches_lifelines() {
        let w = crate::stats::km::tests::waltons();
        let t: Vec<f64> = w.iter().map(|r| r.0).collect();
        let e: Vec<bool> = w.iter().map(|r| r.1).collect();
        let x: Vec<f64> = w
            .iter()
            .map(|r| f64::from(u8::from(r.2 == "miR-137")))
            .collect();
        let c = fit(&t, &e, &x, 0.05).unwrap();
        close(c.coef, r::WALTONS_MIR_COEF, 1e-7);
        close(c.se, r::WALTONS_MIR_SE, 1e-7);
        close(c.log_likelihood, r::WALTONS_MIR_LOGLIK, 1e-10);
        close(c.concordance, r::WALTONS_MIR_CONCORDANCE, 1e-12);
    }

    #[test]
    fn refuses_below_five_events() {
        let t = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let e = [true, true, true, true, false, false];
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(fit(&t, &e, &x, 0.05), Err(CoxRefusal::TooFewEvents(4)));
        let e = [true; 6];
        assert_eq!(
            fit(&t, &e, &[1.0; 6], 0.05),
            Err(CoxRefusal::ConstantCovariate)
        );
    }

    /// Regression: a feature of one value in every subject (the phantom's blood pool in ADC:
    /// 2805.7620817843867 mm²/s × 100) was refused as "did not converge (monotone likelihood)":
    /// its summed mean is 4.5e-12 off the value, which gave it an SD. It is constant, and so is
    /// one whose values differ in the last digits only.
    #[test]
    fn equal_values_are_constant_whatever_their_summed_mean() {
        let v = 2805.7620817843867;
        let t: Vec<f64> = (1..=100).map(f64::from).collect();
        let e: Vec<bool> = (0..100).map(|i| i % 3 != 0).collect();
        assert_ne!(vec![v; 100].iter().sum::<f64>() / 100.0, v);
        assert_eq!(
            fit(&t, &e, &[v; 100], 0.05),
            Err(CoxRefusal::ConstantCovariate)
        );
        let noisy: Vec<f64> = (0..100)
            .map(|i| v * (1.0 + f64::EPSILON * f64::from(i % 4)))
            .collect();
        assert_eq!(
            fit(&t, &e, &noisy, 0.05),
            Err(CoxRefusal::ConstantCovariate)
        );
        // A spread of 1e-6 of the value is data: fitted (the values shuffled against the times,
        // which in their order would separate the events).
        let spread: Vec<f64> = (0..100)
            .map(|i| v * (1.0 + 1e-8 * f64::from((i * 37) % 100)))
            .collect();
        assert!(fit(&t, &e, &spread, 0.05).is_ok());
    }

    #[test]
    fn separable_data_is_reported_not_fitted() {
        // Higher x always fails first: the likelihood is monotone, beta → −∞... reported.
        let t: Vec<f64> = (1..=8).map(f64::from).collect();
        let x: Vec<f64> = (1..=8).map(|v| -f64::from(v)).collect();
        let r = fit(&t, &[true; 8], &x, 0.05);
        assert_eq!(r, Err(CoxRefusal::NoConvergence));
    }

    /// Seven subjects where a higher value always fails first among those at risk (a tie at 3
    /// included): the likelihood is monotone. Newton stopped at 38.4 (43.6 per SD, under the
    /// runaway bound) with an SE of 8.5e7, and the fit was reported (Wald p 0.9999996, HR
    /// 5e16); lifelines 0.30.3 reports 17.5 with an SE of 2722. Found by
    /// benches/stats-differential.py.
    #[test]
    fn a_monotone_likelihood_that_stops_early_is_reported_not_fitted() {
        let t = [0.5, 1.19, 2.93, 4.15, 8.89, 20.0, 44.4];
        let e = [true, false, true, false, true, true, true];
        let x = [4.0, 1.0, 3.0, 3.0, 3.0, 2.0, 1.0];
        assert_eq!(fit(&t, &e, &x, 0.05), Err(CoxRefusal::NoConvergence));
    }

    /// Two covariate values one ulp apart (50 and 50 + 2⁻⁴⁷) under a tiny coefficient: ranked by
    /// exp(β·(x − mean)) they rounded into a tie and C was off by ½ pair. Reference, R 4.2.2,
    /// survival 3.5.3: `coxph(Surv(time, status) ~ x, ties = "efron")` gives coef
    /// 0.00048629230049613295 and `concordance()` 0.4375 (21 concordant, 27 discordant, 0 tied).
    #[test]
    fn concordance_ranks_values_an_ulp_apart_as_r_does() {
        let t = [
            3.0, 5.0, 6.0, 8.0, 9.0, 11.0, 12.0, 14.0, 15.0, 17.0, 18.0, 20.0,
        ];
        let e = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0].map(|v| v == 1);
        let x = [
            49.0,
            51.0,
            46.0,
            47.0,
            54.0,
            55.0,
            52.0,
            53.0,
            44.0,
            50.0,
            58.0,
            50.0 + 2f64.powi(-47),
        ];
        let c = fit(&t, &e, &x, 0.05).unwrap();
        close(c.coef, 0.00048629230049613295, 1e-6);
        assert_eq!(c.concordance, 0.4375);
    }
}
