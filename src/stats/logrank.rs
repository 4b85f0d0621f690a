//! Two-group log-rank test (hypergeometric variance), as lifelines' `logrank_test`:
//! statistic (O₁ − E₁)² / V with 1 degree of freedom.

use super::distributions::chi2_sf;

/// Log-rank result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogRank {
    pub statistic: f64,
    pub p: f64,
}

/// Compare group `true` with group `false`. `None` when a group is empty or no event occurs.
pub fn test(times: &[f64], events: &[bool], group: &[bool]) -> Option<LogRank> {
    let n = times.len();
    let n1_total = group.iter().filter(|&&g| g).count();
    if n1_total == 0 || n1_total == n || !events.iter().any(|&e| e) {
        return None;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| times[a].total_cmp(&times[b]));
    let (mut o_minus_e, mut var) = (0.0, 0.0);
    let (mut at_risk, mut at_risk1) = (n as f64, n1_total as f64);
    let mut i = 0;
    while i < n {
        let t = times[order[i]];
        let (mut d, mut d1, mut removed, mut removed1) = (0.0, 0.0, 0.0, 0.0);
        while i < n && times[order[i]] == t {
            let k = order[i];
            removed += 1.0;
            if group[k] {
                removed1 += 1.0;
            }
            if events[k] {
                d += 1.0;
                if group[k] {
                    d1 += 1.0;
                }
            }
            i += 1;
        }
        if d > 0.0 {
            let frac = at_risk1 / at_risk;
            o_minus_e += d1 - d * frac;
            if at_risk > 1.0 {
                var += d * frac * (1.0 - frac) * (at_risk - d) / (at_risk - 1.0);
            }
        }
        at_risk -= removed;
        at_risk1 -= removed1;
    }
    if var <= 0.0 {
        return None;
    }
    let statistic = o_minus_e * o_minus_e / var;
    Some(LogRank {
        statistic,
        p: chi2_sf(statistic, 1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::km::tests::{close, rossi, waltons};
    use crate::stats::lifelines_reference as r;

    #[test]
    fn waltons_groups_match_lifelines() {
        let w = waltons();
        let t: Vec<f64> = w.iter().map(|r| r.0).collect();
        let e: Vec<bool> = w.iter().map(|r| r.1).collect();
        let g: Vec<bool> = w.iter().map(|r| r.2 == "control").collect();
        let lr = test(&t, &e, &g).unwrap();
        close(lr.statistic, r::WALTONS_LOGRANK_STAT, 1e-10);
        close(lr.p, r::WALTONS_LOGRANK_P, 1e-8);
        // Symmetric in the groups.
        let g2: Vec<bool> = g.iter().map(|x| !x).collect();
        close(test(&t, &e, &g2).unwrap().statistic, lr.statistic, 1e-12);
    }

    #[test]
    fn rossi_by_fin_matches_lifelines() {
        let rows = rossi();
        let t: Vec<f64> = rows.iter().map(|r| r[0]).collect();
        let e: Vec<bool> = rows.iter().map(|r| r[1] == 1.0).collect();
        let g: Vec<bool> = rows.iter().map(|r| r[2] == 1.0).collect();
        let lr = test(&t, &e, &g).unwrap();
        close(lr.statistic, r::ROSSI_FIN_LOGRANK_STAT, 1e-10);
        close(lr.p, r::ROSSI_FIN_LOGRANK_P, 1e-10);
    }

    #[test]
    fn one_group_is_not_testable() {
        assert!(test(&[1.0, 2.0], &[true, true], &[true, true]).is_none());
    }
}
