//! Property tests across the statistics: invariances that hold for any data (Cox under sign
//! flip and rescaling of the covariate, KM interval bracketing, C-index complement, log-rank
//! group symmetry, q ≥ p for Benjamini–Hochberg).

use proptest::prelude::*;

use super::{concordance, cox, km, logrank, multiple};

fn cohort() -> impl Strategy<Value = Vec<(f64, bool, f64)>> {
    prop::collection::vec(
        (1u32..40, prop::bool::weighted(0.7), -50i32..50)
            .prop_map(|(t, e, x)| (f64::from(t), e, f64::from(x) / 10.0)),
        12..60,
    )
}

fn split(c: &[(f64, bool, f64)]) -> (Vec<f64>, Vec<bool>, Vec<f64>) {
    (
        c.iter().map(|r| r.0).collect(),
        c.iter().map(|r| r.1).collect(),
        c.iter().map(|r| r.2).collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn cox_sign_flip_and_scale(c in cohort()) {
        let (t, e, x) = split(&c);
        if let Ok(a) = cox::fit(&t, &e, &x, 0.05) {
            let neg: Vec<f64> = x.iter().map(|v| -v).collect();
            let b = cox::fit(&t, &e, &neg, 0.05).unwrap();
            prop_assert!((a.coef + b.coef).abs() <= 1e-8 * (1.0 + a.coef.abs()));
            prop_assert!((a.se - b.se).abs() <= 1e-8 * a.se);
            prop_assert!((a.hr_per_sd * b.hr_per_sd - 1.0).abs() < 1e-8);
            prop_assert!((a.hr_per_sd_ci.0 * b.hr_per_sd_ci.1 - 1.0).abs() < 1e-8);
            prop_assert!(a.hr_per_sd_ci.0 <= a.hr_per_sd && a.hr_per_sd <= a.hr_per_sd_ci.1);
            let scaled: Vec<f64> = x.iter().map(|v| 3.0 * v + 7.0).collect();
            let s = cox::fit(&t, &e, &scaled, 0.05).unwrap();
            prop_assert!((3.0 * s.coef - a.coef).abs() <= 1e-8 * (1.0 + a.coef.abs()));
            prop_assert!((s.p_lr - a.p_lr).abs() <= 1e-8);
            // Per SD, a rescaled covariate is the same covariate.
            prop_assert!((s.hr_per_sd_ci.0 / a.hr_per_sd_ci.0 - 1.0).abs() <= 1e-6);
            prop_assert!((s.hr_per_sd_ci.1 / a.hr_per_sd_ci.1 - 1.0).abs() <= 1e-6);
            prop_assert!((s.concordance - a.concordance).abs() < 1e-12);
            prop_assert!(a.hr_ci.0 <= a.hr && a.hr <= a.hr_ci.1);
        }
    }

    #[test]
    fn km_interval_brackets_and_decreases(c in cohort()) {
        let (t, e, _) = split(&c);
        for m in [km::CiMethod::LogLog, km::CiMethod::Log] {
            let k = km::fit(&t, &e, m, 0.05);
            for i in 0..k.timeline.len() {
                prop_assert!(k.ci_lower[i] <= k.survival[i] + 1e-15);
                prop_assert!(k.survival[i] <= k.ci_upper[i] + 1e-15);
                if i > 0 {
                    prop_assert!(k.survival[i] <= k.survival[i - 1]);
                    prop_assert!(k.at_risk[i] <= k.at_risk[i - 1]);
                }
            }
        }
    }

    #[test]
    fn concordance_complement_and_logrank_symmetry(c in cohort()) {
        let (t, e, x) = split(&c);
        let neg: Vec<f64> = x.iter().map(|v| -v).collect();
        if let (Some(a), Some(b)) = (
            concordance::concordance_index(&t, &x, &e),
            concordance::concordance_index(&t, &neg, &e),
        ) {
            prop_assert!((a + b - 1.0).abs() < 1e-12);
        }
        let g: Vec<bool> = x.iter().map(|&v| v > 0.0).collect();
        let h: Vec<bool> = g.iter().map(|v| !v).collect();
        if let (Ok(a), Ok(b)) = (logrank::test(&t, &e, &g), logrank::test(&t, &e, &h)) {
            prop_assert!((a.statistic - b.statistic).abs() <= 1e-10 * (1.0 + a.statistic));
            prop_assert!((0.0..=1.0).contains(&a.p));
        }
    }

    #[test]
    fn bh_q_at_least_p(p in prop::collection::vec(0.0f64..1.0, 1..30)) {
        let q = multiple::benjamini_hochberg(&p.iter().map(|&v| Some(v)).collect::<Vec<_>>());
        for (pi, qi) in p.iter().zip(&q) {
            let qi = qi.unwrap();
            prop_assert!(qi >= *pi - 1e-15 && qi <= 1.0);
        }
    }
}
