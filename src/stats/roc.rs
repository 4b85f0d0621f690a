//! ROC AUC (Mann–Whitney, ties ½) with DeLong's variance and a normal 95% CI clipped to
//! [0, 1]. Positives are the `true` labels; a higher score predicts a positive.

use super::distributions::norm_ppf;

/// AUC and its CI.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Auc {
    pub auc: f64,
    pub ci: (f64, f64),
    pub n_pos: usize,
    pub n_neg: usize,
}

/// AUC with DeLong CI at level 1 − `alpha`; `None` with fewer than 2 positives or negatives.
pub fn auc_delong(scores: &[f64], labels: &[bool], alpha: f64) -> Option<Auc> {
    let pos: Vec<f64> = scores
        .iter()
        .zip(labels)
        .filter(|p| *p.1)
        .map(|p| *p.0)
        .collect();
    let neg: Vec<f64> = scores
        .iter()
        .zip(labels)
        .filter(|p| !*p.1)
        .map(|p| *p.0)
        .collect();
    let (m, n) = (pos.len(), neg.len());
    if m < 2 || n < 2 {
        return None;
    }
    let psi = |x: f64, y: f64| {
        if x > y {
            1.0
        } else if x == y {
            0.5
        } else {
            0.0
        }
    };
    let v10: Vec<f64> = pos
        .iter()
        .map(|&x| neg.iter().map(|&y| psi(x, y)).sum::<f64>() / n as f64)
        .collect();
    let v01: Vec<f64> = neg
        .iter()
        .map(|&y| pos.iter().map(|&x| psi(x, y)).sum::<f64>() / m as f64)
        .collect();
    let auc = v10.iter().sum::<f64>() / m as f64;
    let var = sample_var(&v10) / m as f64 + sample_var(&v01) / n as f64;
    let half = norm_ppf(1.0 - alpha / 2.0) * var.sqrt();
    Some(Auc {
        auc,
        ci: ((auc - half).max(0.0), (auc + half).min(1.0)),
        n_pos: m,
        n_neg: n,
    })
}

fn sample_var(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::km::tests::{close, rossi};
    use crate::stats::lifelines_reference as r;

    #[test]
    fn rossi_fin_by_age_and_prio_matches_direct_formula() {
        let rows = rossi();
        let fin: Vec<bool> = rows.iter().map(|r| r[2] == 1.0).collect();
        for (col, auc, lo, hi) in [
            (
                3,
                r::ROSSI_AGE_AUC,
                r::ROSSI_AGE_AUC_LOWER,
                r::ROSSI_AGE_AUC_UPPER,
            ),
            (
                8,
                r::ROSSI_PRIO_AUC,
                r::ROSSI_PRIO_AUC_LOWER,
                r::ROSSI_PRIO_AUC_UPPER,
            ),
        ] {
            let x: Vec<f64> = rows.iter().map(|r| r[col]).collect();
            let a = auc_delong(&x, &fin, 0.05).unwrap();
            close(a.auc, auc, 1e-12);
            close(a.ci.0, lo, 1e-10);
            close(a.ci.1, hi, 1e-10);
        }
    }

    #[test]
    fn separable_scores_give_one() {
        let a = auc_delong(&[1.0, 2.0, 3.0, 4.0], &[false, false, true, true], 0.05).unwrap();
        assert_eq!(a.auc, 1.0);
        assert!(auc_delong(&[1.0, 2.0], &[true, false], 0.05).is_none());
    }
}
