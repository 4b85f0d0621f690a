//! Two-group log-rank test (hypergeometric variance), as lifelines' `logrank_test`:
//! statistic (O₁ − E₁)² / V with 1 degree of freedom.

use super::distributions::chi2_sf;

/// Log-rank result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogRank {
    pub statistic: f64,
    pub p: f64,
}

/// Why there is no test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("a group is empty")]
    EmptyGroup,
    #[error("no event occurs")]
    NoEvent,
    /// Every event falls where only one group is still at risk (say, the one subject of a
    /// group censored before the first event): the variance is 0. (R's survdiff reports a
    /// statistic of 0 there, p = 1.)
    #[error("no event occurs while both groups are at risk (the variance is 0)")]
    NoInformation,
}

/// Compare group `true` with group `false`.
pub fn test(times: &[f64], events: &[bool], group: &[bool]) -> Result<LogRank, Refusal> {
    let n = times.len();
    let n1_total = group.iter().filter(|&&g| g).count();
    if n1_total == 0 || n1_total == n {
        return Err(Refusal::EmptyGroup);
    }
    if !events.iter().any(|&e| e) {
        return Err(Refusal::NoEvent);
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
        return Err(Refusal::NoInformation);
    }
    let statistic = o_minus_e * o_minus_e / var;
    Ok(LogRank {
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
        let refusal = test(&[1.0, 2.0], &[true, true], &[true, true]);
        assert_eq!(refusal, Err(Refusal::EmptyGroup));
        let refusal = test(&[1.0, 2.0], &[false, false], &[true, false]);
        assert_eq!(refusal, Err(Refusal::NoEvent));
    }

    /// The one high subject is censored before the first event: no event while both groups
    /// are at risk. R 4.2.2 survdiff gives chisq 0 (p = 1) on these data; the test is not
    /// informative, and the reason must not say a group is empty.
    #[test]
    fn a_group_gone_before_the_first_event_is_not_testable() {
        let t = [
            2.07, 26.3, 10.6, 0.95, 1.56, 15.1, 0.92, 4.17, 40.75, 0.65, 1.54, 19.67, 1.49,
        ];
        let e = [1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0].map(|v| v == 1);
        let mut high = [false; 13];
        high[3] = true;
        let refusal = test(&t, &e, &high);
        assert_eq!(refusal, Err(Refusal::NoInformation));
        assert!(refusal
            .unwrap_err()
            .to_string()
            .contains("both groups are at risk"));
    }
}
