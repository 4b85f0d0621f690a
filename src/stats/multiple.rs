//! Benjamini–Hochberg q-values (as scipy.stats.false_discovery_control, method "bh"):
//! q₍ᵢ₎ = min over j ≥ i of p₍ⱼ₎·m/j, capped at 1. Missing p-values are skipped (m counts the
//! present ones) and get no q-value.

/// q-values in the order of `p`.
pub fn benjamini_hochberg(p: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut idx: Vec<usize> = (0..p.len())
        .filter(|&i| p[i].is_some_and(f64::is_finite))
        .collect();
    idx.sort_by(|&a, &b| p[a].unwrap_or(1.0).total_cmp(&p[b].unwrap_or(1.0)));
    let m = idx.len() as f64;
    let mut q = vec![None; p.len()];
    let mut running = 1.0f64;
    for (rank, &i) in idx.iter().enumerate().rev() {
        let v = p[i].unwrap_or(1.0) * m / (rank as f64 + 1.0);
        running = running.min(v);
        q[i] = Some(running.min(1.0));
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::km::tests::close;
    use crate::stats::lifelines_reference as r;

    #[test]
    fn matches_scipy() {
        let p: Vec<Option<f64>> = r::BH_P.iter().map(|&x| Some(x)).collect();
        let q = benjamini_hochberg(&p);
        for (a, b) in q.iter().zip(r::BH_Q) {
            close(a.unwrap(), *b, 1e-14);
        }
    }

    #[test]
    fn missing_values_are_skipped() {
        let q = benjamini_hochberg(&[Some(0.02), None, Some(0.04)]);
        assert_eq!(q, vec![Some(0.04), None, Some(0.04)]);
    }
}
