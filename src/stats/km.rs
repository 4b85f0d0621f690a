//! Kaplan–Meier estimator as lifelines' `KaplanMeierFitter` computes it: timeline of every
//! distinct duration (with 0 prepended), Greenwood variance, log(−log) confidence interval by
//! default ("log" as an option), median and its CI by the first time the curve (or the CI
//! bound) is at or below 0.5 (`median_survival_times` / `qth_survival_time`), survival at a
//! time by the step function, numbers at risk.

use super::distributions::norm_ppf;

/// How the pointwise confidence interval is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiMethod {
    /// exp(−exp(log(−log S) ∓ z·σ/log S)) with σ² the Greenwood sum (lifelines, R "log-log").
    LogLog,
    /// S·exp(±z·σ), capped at 1 (R "log").
    Log,
}

impl CiMethod {
    /// `log-log` (the default, as lifelines) or `log`.
    pub fn parse(s: &str) -> Option<CiMethod> {
        match s.trim().to_ascii_lowercase().as_str() {
            "log-log" | "loglog" => Some(CiMethod::LogLog),
            "log" => Some(CiMethod::Log),
            _ => None,
        }
    }

    /// Name written to stats.json.
    pub fn name(self) -> &'static str {
        match self {
            CiMethod::LogLog => "log-log",
            CiMethod::Log => "log",
        }
    }
}

/// A fitted Kaplan–Meier curve; all vectors are indexed by `timeline`.
#[derive(Debug, Clone)]
pub struct KaplanMeier {
    pub timeline: Vec<f64>,
    pub survival: Vec<f64>,
    pub ci_lower: Vec<f64>,
    pub ci_upper: Vec<f64>,
    /// Subjects with duration ≥ t.
    pub at_risk: Vec<usize>,
    /// Events at t.
    pub events: Vec<usize>,
    /// Greenwood sum Σ d/(n(n−d)) up to t (the variance of log S).
    pub greenwood: Vec<f64>,
    pub ci_method: CiMethod,
}

/// Fit the curve. `times` and `events` have equal length; `events[i]` true = event observed.
/// `alpha` is 0.05 for a 95% interval.
pub fn fit(times: &[f64], events: &[bool], method: CiMethod, alpha: f64) -> KaplanMeier {
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by(|&a, &b| times[a].total_cmp(&times[b]));
    let z = norm_ppf(1.0 - alpha / 2.0);
    let n = times.len();
    let mut km = KaplanMeier {
        timeline: Vec::new(),
        survival: Vec::new(),
        ci_lower: Vec::new(),
        ci_upper: Vec::new(),
        at_risk: Vec::new(),
        events: Vec::new(),
        greenwood: Vec::new(),
        ci_method: method,
    };
    if times.is_empty() || order.first().is_some_and(|&i| times[i] > 0.0) {
        km.timeline.push(0.0);
        km.at_risk.push(n);
        km.events.push(0);
    }
    let mut i = 0;
    while i < n {
        let t = times[order[i]];
        let mut j = i;
        let mut d = 0;
        // total_cmp: a NaN time (which callers leave out) groups with itself, never loops.
        while j < n && times[order[j]].total_cmp(&t).is_eq() {
            d += usize::from(events[order[j]]);
            j += 1;
        }
        km.timeline.push(t);
        km.at_risk.push(n - i);
        km.events.push(d);
        i = j;
    }
    // lifelines: S = exp(cumsum(log(1 − d/n))), Greenwood = cumsum(d / (n (n − d))).
    let (mut log_s, mut gw) = (0.0f64, 0.0f64);
    for (&r, &d) in km.at_risk.iter().zip(&km.events) {
        if d > 0 {
            let (r, d) = (r as f64, d as f64);
            log_s += (1.0 - d / r).ln();
            gw += d / (r * (r - d));
        }
        let s = log_s.exp();
        let (lo, hi) = bounds(s, gw, z, method);
        km.survival.push(s);
        km.greenwood.push(gw);
        km.ci_lower.push(lo);
        km.ci_upper.push(hi);
    }
    km
}

fn bounds(s: f64, gw: f64, z: f64, method: CiMethod) -> (f64, f64) {
    if s >= 1.0 {
        return (1.0, 1.0);
    }
    if s <= 0.0 || !gw.is_finite() {
        // lifelines reports [0, 0] once the curve reaches 0.
        return (0.0, 0.0);
    }
    let sd = gw.sqrt();
    match method {
        CiMethod::LogLog => {
            let v = s.ln();
            let lo = (-((-v).ln() - z * sd / v).exp()).exp();
            let hi = (-((-v).ln() + z * sd / v).exp()).exp();
            (lo, hi)
        }
        CiMethod::Log => (s * (-z * sd).exp(), (s * (z * sd).exp()).min(1.0)),
    }
}

/// The time the curve reaches `q`, as R's `quantile.survfit` gives it: the first timeline point
/// where `curve` is below `q`; where the curve is exactly `q` there, the middle of that time and
/// the next time the curve falls below `q` (the last time of the timeline where it never does);
/// `None` if it never reaches `q` (lifelines: inf). "Exactly" allows for the rounding of the
/// product: a curve that is 0.5 in exact arithmetic (12 subjects, 6 events) can come out of it
/// as 0.5000000000000001. (lifelines takes a plateau's first time, or the next event's; the
/// first time was ancilla's rule until an audit compared with R: 10 where R gives 10.5.)
pub fn qth_time(timeline: &[f64], curve: &[f64], q: f64) -> Option<f64> {
    let at = |s: f64| (s - q).abs() <= q * 1e-12;
    let k = curve.iter().position(|&s| s < q || at(s))?;
    if !at(curve[k]) {
        return Some(timeline[k]);
    }
    let end = (k + 1..curve.len())
        .find(|&j| curve[j] < q && !at(curve[j]))
        .map_or(*timeline.last()?, |j| timeline[j]);
    Some((timeline[k] + end) / 2.0)
}

impl KaplanMeier {
    /// Median survival time; `None` when the curve stays above 0.5.
    pub fn median(&self) -> Option<f64> {
        qth_time(&self.timeline, &self.survival, 0.5)
    }

    /// CI of the median: the median of the lower and of the upper bound curve, over the times
    /// where the interval is defined. Where the curve reaches 0 the Greenwood variance is
    /// infinite and the interval has no bounds: R's survfit leaves them out (NA) and so gives
    /// no bound of the median from there. lifelines writes [0, 0] there and took that time as
    /// the upper bound (the last subject's event time when the last subject has the event);
    /// ancilla follows R: such a bound is `None`, not estimable.
    pub fn median_ci(&self) -> (Option<f64>, Option<f64>) {
        let defined = |bound: &[f64]| {
            let (t, b): (Vec<f64>, Vec<f64>) = self
                .timeline
                .iter()
                .zip(bound)
                .zip(&self.survival)
                .filter(|(_, &s)| s > 0.0)
                .map(|((&t, &b), _)| (t, b))
                .unzip();
            qth_time(&t, &b, 0.5)
        };
        (defined(&self.ci_lower), defined(&self.ci_upper))
    }

    /// (survival, lower, upper) at time `t` by the step function; `None` before the timeline
    /// starts or after its end (not estimable beyond the last follow-up), unless the curve has
    /// reached 0 there (the last time an event): then 0 at every later time, as R and lifelines
    /// give it, with the interval of the last time ([0, 0], as at the curve's 0 itself: R gives
    /// none there).
    pub fn at(&self, t: f64) -> Option<(f64, f64, f64)> {
        let last = *self.timeline.last()?;
        if t > last {
            let k = self.survival.len() - 1;
            return (self.survival[k] == 0.0).then(|| (0.0, self.ci_lower[k], self.ci_upper[k]));
        }
        let k = self.timeline.iter().rposition(|&x| x <= t)?;
        Some((self.survival[k], self.ci_lower[k], self.ci_upper[k]))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::stats::lifelines_reference as r;

    /// The last subject has the event, so the curve ends at 0, and the upper bound curve stays
    /// above 0.5 until then. R 4.2.2, survival 3.5-3 (`quantile(survfit(Surv(t, e) ~ 1,
    /// conf.type = ...), 0.5)`): median 28.93; log-log 95% CI 13.98 to NA, log 14.53 to NA.
    /// lifelines 0.30.3 gives 103.52 as the upper bound, from its [0, 0] interval where the
    /// curve is 0.
    #[test]
    fn median_upper_bound_is_not_taken_where_the_curve_reaches_zero() {
        let data = [
            (13.98, true),
            (1.79, true),
            (33.09, true),
            (14.53, true),
            (0.5, false),
            (8.06, false),
            (4.66, false),
            (5.14, false),
            (6.2, false),
            (5.83, false),
            (2.37, false),
            (3.5, false),
            (28.93, true),
            (53.42, false),
            (103.52, true),
        ];
        let (t, e): (Vec<f64>, Vec<bool>) = data.iter().copied().unzip();
        for (method, lower) in [(CiMethod::LogLog, 13.98), (CiMethod::Log, 14.53)] {
            let km = fit(&t, &e, method, 0.05);
            assert_eq!(km.median(), Some(28.93));
            assert_eq!(km.median_ci(), (Some(lower), None), "{method:?}");
        }
    }

    pub fn close(a: f64, b: f64, rel: f64) {
        assert!(
            (a - b).abs() <= rel * b.abs().max(1e-300),
            "{a} vs {b} (rel {})",
            ((a - b) / b).abs()
        );
    }

    /// (time, event, group) rows of lifelines' waltons data set.
    pub fn waltons() -> Vec<(f64, bool, String)> {
        include_str!("../../test-data/lifelines/waltons.csv")
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[0].parse().unwrap(), f[1] == "1", f[2].to_string())
            })
            .collect()
    }

    /// Rows of lifelines' rossi data set as integers (week, arrest, fin, age, …, prio).
    pub fn rossi() -> Vec<Vec<f64>> {
        include_str!("../../test-data/lifelines/rossi.csv")
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
            .collect()
    }

    /// Twelve subjects whose curve is exactly 0.5 from 3.8 to 5.4 months (7 at risk at 3.8,
    /// one event): the median is the plateau's middle, 4.6, as R 4.x survival 3.5.3's
    /// `quantile(survfit(...), 0.5)` gives it (lifelines 0.30.3 gives its first time, 3.8: its
    /// curve there is 0.49999999999999994; found by benches/stats-differential.py). Regression:
    /// ancilla's product came out a hair above 0.5 and the median was 5.4.
    #[test]
    fn median_on_a_plateau_at_one_half_is_its_middle() {
        let rows = [
            (46.1, true),
            (2.5, true),
            (5.4, true),
            (31.7, false),
            (1.9, true),
            (3.8, true),
            (24.7, false),
            (0.9, true),
            (0.9, true),
            (12.1, false),
            (27.7, false),
            (1.6, true),
        ];
        let (times, events): (Vec<f64>, Vec<bool>) = rows.iter().copied().unzip();
        let km = fit(&times, &events, CiMethod::LogLog, 0.05);
        assert!(
            (km.median().unwrap() - 4.6).abs() < 1e-12,
            "{:?}",
            km.median()
        );
    }

    fn check_curve(
        km: &KaplanMeier,
        timeline: &[f64],
        s: &[f64],
        lo: &[f64],
        hi: &[f64],
        at_risk: &[f64],
    ) {
        assert_eq!(km.timeline, timeline);
        let risk: Vec<f64> = km.at_risk.iter().map(|&x| x as f64).collect();
        assert_eq!(risk, at_risk);
        for k in 0..timeline.len() {
            close(km.survival[k], s[k], 1e-12);
            close(km.ci_lower[k], lo[k], 1e-10);
            close(km.ci_upper[k], hi[k], 1e-10);
            assert_eq!(km.survival[k] == 0.0, s[k] == 0.0);
        }
    }

    #[test]
    fn waltons_matches_lifelines() {
        let w = waltons();
        let t: Vec<f64> = w.iter().map(|r| r.0).collect();
        let e: Vec<bool> = w.iter().map(|r| r.1).collect();
        let km = fit(&t, &e, CiMethod::LogLog, 0.05);
        check_curve(
            &km,
            r::WALTONS_KM_TIMELINE,
            r::WALTONS_KM_SURVIVAL,
            r::WALTONS_KM_CI_LOWER,
            r::WALTONS_KM_CI_UPPER,
            r::WALTONS_KM_AT_RISK,
        );
        assert_eq!(km.median(), Some(r::WALTONS_KM_MEDIAN));
        assert_eq!(
            km.median_ci(),
            (
                Some(r::WALTONS_KM_MEDIAN_CI_LOWER),
                Some(r::WALTONS_KM_MEDIAN_CI_UPPER)
            )
        );
        let (s, lo, hi) = km.at(12.0).unwrap();
        close(s, r::WALTONS_KM_S12, 1e-12);
        close(lo, r::WALTONS_KM_S12_CI_LOWER, 1e-10);
        close(hi, r::WALTONS_KM_S12_CI_UPPER, 1e-10);
        let (s, lo, hi) = km.at(24.0).unwrap();
        close(s, r::WALTONS_KM_S24, 1e-12);
        close(lo, r::WALTONS_KM_S24_CI_LOWER, 1e-10);
        close(hi, r::WALTONS_KM_S24_CI_UPPER, 1e-10);
    }

    #[test]
    fn waltons_control_group_matches_lifelines() {
        let w: Vec<_> = waltons().into_iter().filter(|r| r.2 == "control").collect();
        let t: Vec<f64> = w.iter().map(|r| r.0).collect();
        let e: Vec<bool> = w.iter().map(|r| r.1).collect();
        let km = fit(&t, &e, CiMethod::LogLog, 0.05);
        check_curve(
            &km,
            r::WALTONS_CONTROL_KM_TIMELINE,
            r::WALTONS_CONTROL_KM_SURVIVAL,
            r::WALTONS_CONTROL_KM_CI_LOWER,
            r::WALTONS_CONTROL_KM_CI_UPPER,
            r::WALTONS_CONTROL_KM_AT_RISK,
        );
        assert_eq!(km.median(), Some(r::WALTONS_CONTROL_KM_MEDIAN));
        assert_eq!(
            km.median_ci(),
            (
                Some(r::WALTONS_CONTROL_KM_MEDIAN_CI_LOWER),
                Some(r::WALTONS_CONTROL_KM_MEDIAN_CI_UPPER)
            )
        );
        let (s, lo, hi) = km.at(24.0).unwrap();
        close(s, r::WALTONS_CONTROL_KM_S24, 1e-12);
        close(lo, r::WALTONS_CONTROL_KM_S24_CI_LOWER, 1e-10);
        close(hi, r::WALTONS_CONTROL_KM_S24_CI_UPPER, 1e-10);
    }

    #[test]
    fn rossi_matches_lifelines_and_median_not_reached() {
        let rows = rossi();
        let t: Vec<f64> = rows.iter().map(|r| r[0]).collect();
        let e: Vec<bool> = rows.iter().map(|r| r[1] == 1.0).collect();
        let km = fit(&t, &e, CiMethod::LogLog, 0.05);
        check_curve(
            &km,
            r::ROSSI_KM_TIMELINE,
            r::ROSSI_KM_SURVIVAL,
            r::ROSSI_KM_CI_LOWER,
            r::ROSSI_KM_CI_UPPER,
            r::ROSSI_KM_AT_RISK,
        );
        assert!(r::ROSSI_KM_MEDIAN.is_infinite());
        assert_eq!(km.median(), None);
        assert_eq!(km.median_ci(), (None, None));
        let (s, lo, hi) = km.at(24.0).unwrap();
        close(s, r::ROSSI_KM_S24, 1e-12);
        close(lo, r::ROSSI_KM_S24_CI_LOWER, 1e-10);
        close(hi, r::ROSSI_KM_S24_CI_UPPER, 1e-10);
    }

    /// The median on a plateau exactly at 0.5, against R 4.x survival 3.5.3's
    /// `quantile(survfit(Surv(t, e) ~ 1), 0.5)` on the same data (run 2026-12-07): the middle of
    /// the plateau's first time and the next time the curve falls, or the last time where it
    /// never does. ancilla gave the first time (10, 4, 2, 2).
    #[test]
    fn the_median_on_a_plateau_at_one_half_is_rs() {
        let median = |t: &[f64], e: &[u8]| {
            let e: Vec<bool> = e.iter().map(|&x| x == 1).collect();
            fit(t, &e, CiMethod::LogLog, 0.05).median()
        };
        let t: Vec<f64> = (1..=20).map(f64::from).collect();
        let e: Vec<u8> = (1..=20).map(|i| u8::from(i <= 14)).collect();
        assert_eq!(median(&t, &e), Some(10.5));
        // A censored time inside the plateau does not end it.
        let t = [1.0, 2.0, 3.0, 4.0, 5.5, 7.0, 8.0, 9.0];
        assert_eq!(median(&t, &[1, 1, 1, 1, 0, 1, 0, 0]), Some(5.5));
        // To the end of follow-up.
        assert_eq!(median(&[1.0, 2.0, 3.0, 10.0], &[1, 1, 0, 0]), Some(6.0));
        assert_eq!(median(&[1.0, 2.0, 2.5, 9.0], &[1, 1, 0, 0]), Some(5.5));
        // Below 0.5 at once: the first time, as before.
        assert_eq!(median(&[1.0, 2.0, 3.0], &[1, 1, 1]), Some(2.0));
    }

    /// Regression (a biostatistics audit): the 24-month survival was null, "beyond the last
    /// follow-up", where the last time is an event and the curve is 0 (R's summary(survfit,
    /// times = 24, extend = TRUE) and lifelines give 0). A curve that ends censored stays
    /// unknown beyond its end.
    #[test]
    fn survival_after_the_curve_reaches_zero_is_zero() {
        let km = fit(
            &[1.0, 2.0, 3.0, 4.0, 12.24],
            &[true; 5],
            CiMethod::LogLog,
            0.05,
        );
        assert_eq!(km.at(24.0), Some((0.0, 0.0, 0.0)));
        let km = fit(
            &[1.0, 2.0, 12.24],
            &[true, true, false],
            CiMethod::LogLog,
            0.05,
        );
        assert_eq!(km.at(24.0), None);
    }

    /// By hand, five deaths at t = 1..5, no censoring. At t = 2: S = (4/5)(3/4) = 0.6; Greenwood
    /// Σ d/(n(n−d)) = 1/(5·4) + 1/(4·3) = 0.1333…; "log" interval S·exp(∓z·√Σ) with
    /// z = 1.959963984540054: lower 0.6 / exp(1.95996·0.365148) = 0.2933164316383263, upper
    /// 0.6 · 2.04557 = 1.2273 capped at 1 (R survival `survfit(conf.type = "log")` caps it too).
    #[test]
    fn log_interval_by_hand() {
        let t = [1.0, 2.0, 3.0, 4.0, 5.0];
        let km = fit(&t, &[true; 5], CiMethod::Log, 0.05);
        let (s, lo, hi) = km.at(2.0).unwrap();
        close(s, 0.6, 1e-15);
        close(lo, 0.2933164316383263, 1e-12);
        assert_eq!(hi, 1.0);
        assert_eq!(CiMethod::parse("LOG"), Some(CiMethod::Log));
        assert_eq!(CiMethod::parse("log-log"), Some(CiMethod::LogLog));
        assert_eq!(CiMethod::parse("plain"), None);
    }

    #[test]
    fn log_interval_brackets_and_is_capped() {
        let w = waltons();
        let t: Vec<f64> = w.iter().map(|r| r.0).collect();
        let e: Vec<bool> = w.iter().map(|r| r.1).collect();
        let km = fit(&t, &e, CiMethod::Log, 0.05);
        for k in 1..km.timeline.len() - 1 {
            assert!(km.ci_lower[k] <= km.survival[k] && km.survival[k] <= km.ci_upper[k]);
            assert!(km.ci_upper[k] <= 1.0);
            // exp(±zσ) about S.
            let f = (1.959963984540054 * km.greenwood[k].sqrt()).exp();
            close(km.ci_lower[k], km.survival[k] / f, 1e-12);
        }
    }
}
