//! Spearman rank correlation as scipy.stats.spearmanr: Pearson correlation of average ranks,
//! two-sided p from Student t with n − 2 degrees of freedom.

use super::distributions::t_sf;

/// Spearman result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spearman {
    pub rho: f64,
    pub p: f64,
    pub n: usize,
}

/// Average ranks (1-based), ties get the mean rank.
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// rho and p; `None` with fewer than 3 pairs or a constant variable.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<Spearman> {
    let n = x.len();
    if n < 3 || y.len() != n {
        return None;
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let mean = (n as f64 + 1.0) / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for k in 0..n {
        let (a, b) = (rx[k] - mean, ry[k] - mean);
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    let rho = (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0);
    let df = n as f64 - 2.0;
    let p = if rho.abs() >= 1.0 {
        0.0
    } else {
        let t = rho * (df / ((1.0 - rho) * (1.0 + rho))).sqrt();
        2.0 * t_sf(t.abs(), df)
    };
    Some(Spearman { rho, p, n })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::km::tests::{close, rossi};
    use crate::stats::lifelines_reference as r;

    #[test]
    fn rossi_fixture_matches_scipy() {
        let rows = rossi();
        // VIABLE_TUMOR_PCT of the fixture: (7·age + 13·prio) mod 101.
        let v: Vec<f64> = rows
            .iter()
            .map(|r| (7.0 * r[3] + 13.0 * r[8]) % 101.0)
            .collect();
        for (col, rho, p) in [
            (3, r::ROSSI_AGE_SPEARMAN_RHO, r::ROSSI_AGE_SPEARMAN_P),
            (8, r::ROSSI_PRIO_SPEARMAN_RHO, r::ROSSI_PRIO_SPEARMAN_P),
        ] {
            let x: Vec<f64> = rows.iter().map(|r| r[col]).collect();
            let s = spearman(&x, &v).unwrap();
            close(s.rho, rho, 1e-12);
            close(s.p, p, 1e-9);
        }
    }

    #[test]
    fn average_ranks() {
        assert_eq!(ranks(&[10.0, 20.0, 10.0, 5.0]), vec![2.5, 4.0, 2.5, 1.0]);
        assert!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_none());
    }
}
