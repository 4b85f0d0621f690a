//! `report.html`: one self-contained page (inline CSS, SVG plots, PNG images as data URIs; no
//! external resource) — CONSORT-style counts of the analysed arm, the Kaplan–Meier curve with its
//! confidence band, censoring marks and numbers at risk, the curves by tumour SUVmax (median
//! split), a forest plot of hazard ratios per SD, the ROC curve of tumour SUVmax for pCR, the
//! feature table, the QC gallery of every imaged subject and every warning.

use std::fmt::Write as _;

use serde_json::Value;

/// QC images of one subject: (USUBJID, PET MIP PNG, MRI slice PNG).
pub type QcImages = (String, Vec<u8>, Option<Vec<u8>>);

/// What the page shows.
pub struct ReportData<'a> {
    pub title: &'a str,
    pub stats: &'a Value,
    /// Analysis table (header, rows) for numbers at risk and the ROC curve.
    pub header: &'a [String],
    pub rows: &'a [Vec<String>],
    pub counts: &'a [(String, usize)],
    /// Sentences under the flow: subjects outside its chain (imaged outside the analysed arm).
    pub flow_aside: &'a [String],
    pub warnings: &'a [String],
    pub qc: &'a [QcImages],
    /// Imaged subjects without a QC image (no PET SUV volume, or no PET region map).
    pub qc_missing: &'a [String],
    /// Why the statistics were not run, when `stats` has none (a sentence, or several lines).
    pub not_run: &'a str,
}

/// The width in px of `s` in the figures' 11 px sans-serif, erring wide: 0.65 em a character
/// (DejaVu Sans draws digits at 0.64 em, Liberation Sans at 0.56), 0.9 em for the wider ones.
fn text_width(s: &str) -> f64 {
    s.chars()
        .map(|c| if "≤≥mwMW%".contains(c) { 0.9 } else { 0.65 })
        .sum::<f64>()
        * 11.0
}

/// The width of the widest of `texts` (`text_width`), 0 for none.
fn widest(texts: impl Iterator<Item = String>) -> f64 {
    texts.map(|t| text_width(&t)).fold(0.0, f64::max)
}

/// Escape text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn fmt(x: Option<f64>, digits: usize) -> String {
    x.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "–".into())
}

/// stats.json's entry for `feature`.
fn feature_stats<'a>(data: &'a ReportData, feature: &str) -> Option<&'a Value> {
    data.stats["features"]
        .as_array()?
        .iter()
        .find(|x| x["feature"] == feature)
}

fn column(data: &ReportData, name: &str) -> Vec<Option<f64>> {
    let Some(c) = data.header.iter().position(|h| h == name) else {
        return Vec::new();
    };
    data.rows
        .iter()
        .map(|r| {
            r.get(c)
                .and_then(|s| crate::stats::analyze::cell_number(s))
                .flatten()
        })
        .collect()
}

fn km_svg(data: &ReportData) -> String {
    let km = &data.stats["km"];
    let (Some(t), Some(s)) = (km["timeline"].as_array(), km["survival"].as_array()) else {
        return "<p>No Kaplan–Meier estimate.</p>".into();
    };
    let lo = km["ci_lower"].as_array().cloned().unwrap_or_default();
    let hi = km["ci_upper"].as_array().cloned().unwrap_or_default();
    let tmax = t.iter().filter_map(f).fold(24.0f64, f64::max).ceil();
    // At risk: the subjects of the curve, those with both a time and an event (a row without
    // its event is left out of the estimate, and so of the count).
    let ep = &data.stats["endpoint"];
    let rows: Vec<(f64, f64)> = column(data, ep["time"].as_str().unwrap_or("PFS_MONTHS"))
        .into_iter()
        .zip(column(data, ep["event"].as_str().unwrap_or("PFS_EVENT")))
        .filter_map(|(t, e)| Some((t?, e?)))
        .collect();
    let fr = KmFrame::new(tmax, &[("at risk", rows.len())]);
    let (w, h) = (KmFrame::W, KmFrame::H);
    let x = |v: f64| fr.x(v);
    let y = |v: f64| fr.y(v);
    let mut band_top = Vec::new();
    let mut band_bottom = Vec::new();
    let (mut prev_l, mut prev_h) = (1.0, 1.0);
    for (i, ti) in t.iter().enumerate() {
        let (Some(ti), Some(si)) = (f(ti), s.get(i).and_then(f)) else {
            continue;
        };
        let (li, hi_) = (
            lo.get(i).and_then(f).unwrap_or(si),
            hi.get(i).and_then(f).unwrap_or(si),
        );
        band_top.push(format!(
            "{:.1},{:.1} {:.1},{:.1}",
            x(ti),
            y(prev_h),
            x(ti),
            y(hi_)
        ));
        band_bottom.push(format!(
            "{:.1},{:.1} {:.1},{:.1}",
            x(ti),
            y(prev_l),
            x(ti),
            y(li)
        ));
        prev_l = li;
        prev_h = hi_;
    }
    band_bottom.reverse();
    let band = format!(
        "{:.1},{:.1} {} {:.1},{:.1} {:.1},{:.1} {}",
        x(0.0),
        y(1.0),
        band_top.join(" "),
        x(tmax),
        y(prev_h),
        x(tmax),
        y(prev_l),
        band_bottom
            .iter()
            .map(|p| p.split(' ').rev().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut svg = format!(
        "<svg viewBox=\"0 0 {w} {}\" width=\"{w}\" role=\"img\" aria-label=\"Kaplan-Meier curve\">",
        h + 50.0
    );
    write!(
        svg,
        "<polygon points=\"{band}\" fill=\"#9ecae1\" opacity=\"0.5\"/>"
    )
    .ok();
    let steps: Vec<(f64, f64)> = t
        .iter()
        .zip(s)
        .filter_map(|(ti, si)| Some((f(ti)?, f(si)?)))
        .collect();
    let censored: Vec<f64> = rows.iter().filter(|r| r.1 == 0.0).map(|r| r.0).collect();
    km_curve(&mut svg, &fr, &steps, tmax, &censored, "#08519c");
    let times: Vec<f64> = rows.iter().map(|r| r.0).collect();
    km_axes(&mut svg, &fr, &[("at risk", "#555", &times)]);
    svg.push_str("</svg>");
    svg
}

/// The frame of a Kaplan–Meier plot (640 × 320, a left margin of 50 px or more, 40 px under
/// the axis):
/// time ↦ x and survival ↦ y.
struct KmFrame {
    tmax: f64,
    /// Left margin: the y axis's labels, and the names of the rows of numbers at risk, which
    /// must end before the first number of their row (centred under time 0) begins.
    l: f64,
}

impl KmFrame {
    const W: f64 = 640.0;
    const H: f64 = 320.0;
    const B: f64 = 40.0;
    /// The frame of a plot over 0..`tmax` months whose rows of numbers at risk are `rows`
    /// (name, number at time 0): 50 px of left margin, more where a row's name is long.
    fn new(tmax: f64, rows: &[(&str, usize)]) -> KmFrame {
        let l = rows
            .iter()
            .map(|(name, n0)| text_width(name) + 6.0 + text_width(&n0.to_string()) / 2.0)
            .fold(50.0f64, f64::max)
            .ceil();
        KmFrame { tmax, l }
    }
    fn x(&self, v: f64) -> f64 {
        self.l + v / self.tmax * (Self::W - self.l - 20.0)
    }
    fn y(&self, v: f64) -> f64 {
        10.0 + (1.0 - v) * (Self::H - Self::B - 10.0)
    }
}

/// A survival curve: the step function of `steps` (time, survival, in time order) from 1 at 0 to
/// time `end`, and a short vertical tick at each censored time where the curve stands then
/// (events at that time come first, as in the estimate).
fn km_curve(
    svg: &mut String,
    fr: &KmFrame,
    steps: &[(f64, f64)],
    end: f64,
    censored: &[f64],
    colour: &str,
) {
    let mut path = format!("M{:.1},{:.1}", fr.x(0.0), fr.y(1.0));
    for (t, s) in steps {
        write!(path, " H{:.1} V{:.1}", fr.x(*t), fr.y(*s)).ok();
    }
    write!(path, " H{:.1}", fr.x(end)).ok();
    write!(
        svg,
        "<path d=\"{path}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>"
    )
    .ok();
    for &c in censored {
        let at = match steps.partition_point(|(t, _)| *t <= c) {
            0 => 1.0,
            i => steps[i - 1].1,
        };
        let (x, y) = (fr.x(c), fr.y(at));
        write!(
            svg,
            "<path class=\"censor\" d=\"M{x:.1},{:.1}V{:.1}\" stroke=\"{colour}\"/>",
            y - 4.0,
            y + 4.0
        )
        .ok();
    }
}

/// Axes, ticks every 6 months, and one numbers-at-risk row per (label, colour, durations) under
/// the axis (the subjects whose duration is at least the tick's time).
/// The time axis' tick step (months): 6, doubled until at most 12 ticks span `tmax` (a time of
/// 1e308 months drew a tick every 6 months, and aborted allocating them).
fn km_tick_step(tmax: f64) -> f64 {
    let mut step = 6.0;
    while tmax.is_finite() && tmax / step > 12.0 {
        step *= 2.0;
    }
    if tmax.is_finite() {
        step
    } else {
        f64::INFINITY
    }
}

fn km_axes(svg: &mut String, fr: &KmFrame, rows: &[(&str, &str, &[f64])]) {
    let (w, h, l, b) = (KmFrame::W, KmFrame::H, fr.l, KmFrame::B);
    write!(
        svg,
        "<line x1=\"{l}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>",
        h - b,
        w - 20.0,
        h - b
    )
    .ok();
    write!(
        svg,
        "<line x1=\"{l}\" y1=\"10\" x2=\"{l}\" y2=\"{}\" stroke=\"#333\"/>",
        h - b
    )
    .ok();
    for v in [0.0, 0.25, 0.5, 0.75, 1.0] {
        write!(
            svg,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{v}</text>",
            l - 5.0,
            fr.y(v) + 4.0
        )
        .ok();
    }
    let step = km_tick_step(fr.tmax);
    let mut m = 0.0;
    while m <= fr.tmax {
        write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{m}</text>",
            fr.x(m),
            h - b + 15.0
        )
        .ok();
        for (k, (_, colour, times)) in rows.iter().enumerate() {
            let at_risk = times.iter().filter(|t| **t >= m).count();
            write!(svg, "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"{colour}\">{at_risk}</text>", fr.x(m), h + 30.0 + 15.0 * k as f64).ok();
        }
        m += step;
    }
    write!(
        svg,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\">months</text>",
        w - 60.0,
        h - b + 28.0
    )
    .ok();
    for (k, (label, colour, _)) in rows.iter().enumerate() {
        write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"11\" fill=\"{colour}\">{}</text>",
            h + 30.0 + 15.0 * k as f64,
            esc(label)
        )
        .ok();
    }
}

/// Kaplan–Meier curves of the subjects at or below `feature`'s median and above it (the groups
/// of stats.json's median-split log-rank test, at its cut-off), with numbers at risk per group
/// and the test's p-value. Empty where the statistics have no such test for the feature.
fn km_groups_svg(data: &ReportData, feature: &str) -> String {
    let Some(ft) = feature_stats(data, feature) else {
        return String::new();
    };
    let split = &ft["logrank_median_split"];
    let (Some(cut), Some(p)) = (f(&split["cutoff"]), f(&split["p"])) else {
        return String::new();
    };
    let ep = &data.stats["endpoint"];
    let (times, events, values) = (
        column(data, ep["time"].as_str().unwrap_or("PFS_MONTHS")),
        column(data, ep["event"].as_str().unwrap_or("PFS_EVENT")),
        column(data, feature),
    );
    let rows: Vec<(f64, bool, f64)> = times
        .iter()
        .zip(&events)
        .zip(&values)
        .filter_map(|((t, e), v)| Some(((*t)?, (*e)? == 1.0, (*v)?)))
        .collect();
    let group = |high: bool| -> (Vec<f64>, Vec<bool>) {
        rows.iter()
            .filter(|r| (r.2 > cut) == high)
            .map(|r| (r.0, r.1))
            .unzip()
    };
    let (low, high) = (group(false), group(true));
    if low.0.is_empty() || high.0.is_empty() {
        return String::new();
    }
    let tmax = rows.iter().map(|r| r.0).fold(24.0f64, f64::max).ceil();
    let mut svg = format!(
        "<svg viewBox=\"0 0 {w} {}\" width=\"{w}\" role=\"img\" aria-label=\"Kaplan-Meier curves by group\">",
        KmFrame::H + 65.0,
        w = KmFrame::W
    );
    let groups = [
        (format!("≤ {}", fmt(Some(cut), 2)), "#2171b5", &low),
        (format!("> {}", fmt(Some(cut), 2)), "#cb181d", &high),
    ];
    let names: Vec<(&str, usize)> = groups
        .iter()
        .map(|(label, _, (t, _))| (label.as_str(), t.len()))
        .collect();
    let fr = KmFrame::new(tmax, &names);
    for (k, (label, colour, (t, e))) in groups.iter().enumerate() {
        let km = crate::stats::km::fit(t, e, crate::stats::km::CiMethod::LogLog, 0.05);
        let steps: Vec<(f64, f64)> = km.timeline.iter().cloned().zip(km.survival).collect();
        let last = t.iter().cloned().fold(0.0, f64::max);
        let censored: Vec<f64> = t.iter().zip(e).filter(|p| !*p.1).map(|p| *p.0).collect();
        km_curve(&mut svg, &fr, &steps, last, &censored, colour);
        write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{colour}\">{} (n = {})</text>",
            KmFrame::W - 170.0,
            24.0 + 15.0 * k as f64,
            esc(label),
            t.len()
        )
        .ok();
    }
    let at_risk: Vec<(&str, &str, &[f64])> = groups
        .iter()
        .map(|(label, colour, (t, _))| (label.as_str(), *colour, t.as_slice()))
        .collect();
    km_axes(&mut svg, &fr, &at_risk);
    svg.push_str("</svg>");
    format!(
        "<h2>Kaplan–Meier by {} (median split)</h2>{svg}<p>Log-rank p = {}; {} subjects at or below {}, {} above.</p>",
        esc(feature),
        if p < 1e-3 { format!("{p:.1e}") } else { format!("{p:.3}") },
        low.0.len(),
        fmt(Some(cut), 2),
        high.0.len()
    )
}

fn forest_svg(data: &ReportData) -> String {
    let mut rows: Vec<(String, f64, f64, f64, f64)> = data.stats["features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ft| {
            let cox = &ft["cox"];
            Some((
                ft["feature"].as_str().unwrap_or("").to_string(),
                f(&cox["hr_per_sd"])?,
                f(&cox["hr_per_sd_ci"][0])?,
                f(&cox["hr_per_sd_ci"][1])?,
                f(&cox["p_wald"])?,
            ))
        })
        .collect();
    rows.sort_by(|a, b| a.4.total_cmp(&b.4));
    rows.truncate(15);
    if rows.is_empty() {
        return "<p>No Cox model could be fitted.</p>".into();
    }
    let (lo, hi) = forest_axis(rows.iter().flat_map(|r| [r.2, r.3]));
    // The names' column and the intervals' column as wide as their longest text needs (260 and
    // 140 px at the least): a long ROI name or a wide interval ran off the figure's edge.
    let l = (widest(rows.iter().map(|r| r.0.clone())) + 12.0)
        .max(260.0)
        .ceil();
    let text_w = (widest(rows.iter().map(|r| hr_text(r.1, r.2, r.3))) + 16.0)
        .max(140.0)
        .ceil();
    let (row_h, plot_w) = (20.0, 360.0);
    let w = l + plot_w + text_w;
    let x = |v: f64| l + (v.log2().clamp(lo, hi) - lo) / (hi - lo) * plot_w;
    // Under the rows: the axis's labels, then its title centred under them.
    let axis_y = rows.len() as f64 * row_h + 10.0;
    let h = axis_y + 44.0;
    let mut svg = format!(
        "<svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" role=\"img\" aria-label=\"Forest plot\">"
    );
    write!(svg, "<line x1=\"{:.1}\" y1=\"0\" x2=\"{:.1}\" y2=\"{}\" stroke=\"#999\" stroke-dasharray=\"3\"/>", x(1.0), x(1.0), axis_y).ok();
    for (n, (name, hr, a, b, _)) in rows.iter().enumerate() {
        let yy = 15.0 + n as f64 * row_h;
        write!(
            svg,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            l - 8.0,
            yy + 4.0,
            esc(name)
        )
        .ok();
        write!(
            svg,
            "<line x1=\"{:.1}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#333\"/>",
            x(*a),
            x(*b)
        )
        .ok();
        // An interval that runs off the axis ends in an arrowhead, never in a plain end that
        // would read as its bound.
        for (bound, toward) in [(*a, -1.0), (*b, 1.0)] {
            let off = if toward < 0.0 {
                bound.log2() < lo
            } else {
                bound.log2() > hi
            };
            if off {
                let tip = x(bound);
                write!(
                    svg,
                    "<path d=\"M{:.1} {:.1}L{tip:.1} {yy:.1}L{:.1} {:.1}\" fill=\"none\" stroke=\"#333\"/>",
                    tip - 5.0 * toward,
                    yy - 3.5,
                    tip - 5.0 * toward,
                    yy + 3.5
                )
                .ok();
            }
        }
        write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"7\" height=\"7\" fill=\"#08519c\"/>",
            x(*hr) - 3.5,
            yy - 3.5
        )
        .ok();
        write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{}</text>",
            l + plot_w + 12.0,
            yy + 4.0,
            hr_text(*hr, *a, *b)
        )
        .ok();
    }
    // Every power of 2 on a narrow axis, every other one (1 among them) on a wide one.
    let step = if hi - lo > 8.0 { 2 } else { 1 };
    for e in (lo as i32..=hi as i32).filter(|e| e % step == 0) {
        let v = 2f64.powi(e);
        let label = if e < 0 {
            format!("1/{}", 2u64.pow(e.unsigned_abs()))
        } else {
            format!("{v}")
        };
        write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{label}</text>",
            x(v),
            axis_y + 18.0
        )
        .ok();
    }
    write!(
        svg,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">HR per SD (95% CI)</text>",
        l + plot_w / 2.0,
        axis_y + 38.0
    )
    .ok();
    svg.push_str("</svg>");
    svg
}

/// The forest plot's axis, as log2 of its ends: whole powers of 2 from 1/4 to 4 at least, widened
/// to take in every finite interval bound, but no further than 1/256 to 256 (a bound beyond that,
/// from a fit near separation, ends in an arrow).
fn forest_axis(bounds: impl Iterator<Item = f64>) -> (f64, f64) {
    const WIDEST: f64 = 8.0;
    let (lo, hi) =
        bounds
            .filter(|b| b.is_finite() && *b > 0.0)
            .fold((-2.0f64, 2.0f64), |(lo, hi), b| {
                let e = b.log2();
                (lo.min(e.floor()), hi.max(e.ceil()))
            });
    (lo.max(-WIDEST), hi.min(WIDEST))
}

/// `2.85 (1.65–4.93)`: two decimals below 10 (as the feature table's HR per SD), fewer above.
fn hr_text(hr: f64, a: f64, b: f64) -> String {
    let g = |v: f64| {
        if !v.is_finite() {
            "∞".to_string()
        } else if v >= 1e4 {
            format!("{v:.1e}")
        } else if v >= 100.0 {
            format!("{v:.0}")
        } else if v >= 10.0 {
            format!("{v:.1}")
        } else {
            format!("{v:.2}")
        }
    };
    format!("{} ({}–{})", g(hr), g(a), g(b))
}

/// The ROC curve of `feature` for pCR: a higher value predicts pCR, or, with `lower`, a lower one
/// (the curve of the negated values).
fn roc_svg(data: &ReportData, feature: &str, lower: bool) -> String {
    let (vals, pcr) = (column(data, feature), column(data, "PCR"));
    let sign = if lower { -1.0 } else { 1.0 };
    let pairs: Vec<(f64, bool)> = vals
        .iter()
        .zip(&pcr)
        .filter_map(|(v, p)| Some((sign * (*v)?, (*p)? == 1.0)))
        .collect();
    let pos = pairs.iter().filter(|p| p.1).count();
    let neg = pairs.len() - pos;
    if pos == 0 || neg == 0 {
        return "<p>No ROC curve: pCR is known for one class only.</p>".into();
    }
    let mut thresholds: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    thresholds.sort_by(|a, b| a.total_cmp(b));
    thresholds.dedup();
    thresholds.reverse();
    let mut pts = vec![(0.0, 0.0)];
    for t in &thresholds {
        let tp = pairs.iter().filter(|p| p.1 && p.0 >= *t).count() as f64 / pos as f64;
        let fp = pairs.iter().filter(|p| !p.1 && p.0 >= *t).count() as f64 / neg as f64;
        pts.push((fp, tp));
    }
    // The square of side `s` at (l, top): 1 − specificity ↦ x, sensitivity ↦ y, each axis
    // labelled at 0, 0.5 and 1, its title beyond its labels.
    let (l, top, s) = (46.0, 10.0, 240.0);
    let poly: Vec<String> = pts
        .iter()
        .map(|(fp, tp)| format!("{:.1},{:.1}", l + fp * s, top + (1.0 - tp) * s))
        .collect();
    let mut svg = format!(
        "<svg viewBox=\"0 0 {w} 290\" width=\"{w}\" role=\"img\" aria-label=\"ROC curve\"><rect x=\"{l}\" y=\"{top}\" width=\"{s}\" height=\"{s}\" fill=\"none\" stroke=\"#333\"/><line x1=\"{l}\" y1=\"{}\" x2=\"{}\" y2=\"{top}\" stroke=\"#999\" stroke-dasharray=\"3\"/><polyline points=\"{}\" fill=\"none\" stroke=\"#a50f15\" stroke-width=\"2\"/>",
        top + s,
        l + s,
        poly.join(" "),
        w = l + s + 20.0
    );
    for (v, label) in [(0.0, "0"), (0.5, "0.5"), (1.0, "1")] {
        write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{label}</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{label}</text>",
            l + v * s,
            top + s + 14.0,
            l - 5.0,
            top + (1.0 - v) * s + 4.0
        )
        .ok();
    }
    write!(
        svg,
        "<text x=\"{:.1}\" y=\"284\" font-size=\"11\" text-anchor=\"middle\">1 − specificity</text><text x=\"12\" y=\"{:.1}\" font-size=\"11\" transform=\"rotate(-90 12 {:.1})\" text-anchor=\"middle\">sensitivity</text></svg>",
        l + s / 2.0,
        top + s / 2.0,
        top + s / 2.0
    )
    .ok();
    svg
}

/// The ROC curve and its AUC, drawn the way the data point, as pROC's `direction = "auto"`:
/// stats.json's AUC takes a higher value as predicting pCR; where it is below 0.5 the curve is
/// that of lower values, with AUC 1 − AUC and the interval turned over (DeLong's normal
/// interval, clipped to [0, 1], is symmetric under that), and the page says so.
fn roc_text(data: &ReportData, feature: &str, auc: &Value) -> String {
    let (a, lo, hi) = (f(&auc["auc"]), f(&auc["ci"][0]), f(&auc["ci"][1]));
    match (a, lo, hi) {
        (Some(a), Some(lo), Some(hi)) if a < 0.5 => format!(
            "{}<p>AUC of lower values predicting pCR: {} (DeLong 95% CI {} – {}); stats.json \
             and summary.md give that of higher values: {} ({} – {}).</p>",
            roc_svg(data, feature, true),
            fmt(Some(1.0 - a), 2),
            fmt(Some(1.0 - hi), 2),
            fmt(Some(1.0 - lo), 2),
            fmt(Some(a), 2),
            fmt(Some(lo), 2),
            fmt(Some(hi), 2)
        ),
        // Complete separation: no interval (DeLong's has width 0), the curve drawn as the data
        // point all the same (a review found AUC 0 drawn unturned, "higher values predicting").
        (Some(a), None, None) => {
            let lower = a < 0.5;
            format!(
                "{}<p>AUC of {} values predicting pCR: {} (no interval: the groups are \
                 completely separated, and DeLong's has width 0){}.</p>",
                roc_svg(data, feature, lower),
                if lower { "lower" } else { "higher" },
                fmt(Some(if lower { 1.0 - a } else { a }), 2),
                if lower {
                    format!(
                        "; stats.json and summary.md give that of higher values: {}",
                        fmt(Some(a), 2)
                    )
                } else {
                    String::new()
                }
            )
        }
        _ => format!(
            "{}<p>AUC of higher values predicting pCR: {} (DeLong 95% CI {} – {}).</p>",
            roc_svg(data, feature, false),
            fmt(a, 2),
            fmt(lo, 2),
            fmt(hi, 2)
        ),
    }
}

/// The page.
pub fn render(data: &ReportData) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
    h.push_str(&esc(data.title));
    h.push_str("</title><style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td{white-space:nowrap}th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}.consort span{display:inline-block;border:1px solid #555;padding:6px 10px;margin:4px;border-radius:4px}.gallery figure{display:inline-block;margin:6px;text-align:center;font-size:12px}.warn{color:#8a4b00}</style></head><body>");
    write!(h, "<h1>{}</h1>", esc(data.title)).ok();
    h.push_str("<h2>Flow</h2><p class=\"consort\">");
    let flow: Vec<String> = data
        .counts
        .iter()
        .map(|(k, v)| format!("<span>{} <b>{v}</b></span>", esc(k)))
        .collect();
    h.push_str(&flow.join(" → "));
    h.push_str("</p>");
    for line in data.flow_aside {
        write!(h, "<p>{}</p>", esc(line)).ok();
    }
    if data.stats.get("endpoint").is_some() {
        statistics(&mut h, data);
    } else {
        h.push_str("<h2>Statistics</h2><p>Not run: ");
        for (i, line) in data.not_run.lines().enumerate() {
            if i > 0 {
                h.push_str("<br>");
            }
            h.push_str(&esc(line));
        }
        h.push_str("</p><p>The flow, QC gallery and warnings are the imaging run's.</p>");
    }
    h.push_str("<h2>QC gallery</h2>");
    if data.qc.is_empty() {
        h.push_str("<p>No QC images: each needs a subject's PET and its tumour ROI (a label map under <code>[input] masks</code>, or a DICOM SEG or RTSTRUCT of the export), which only <code>ancilla run</code> reads.</p>");
    }
    if !data.qc_missing.is_empty() {
        write!(
            h,
            "<p class=\"warn\">No QC image for {} (no PET SUV volume or no PET region map): {}.</p>",
            crate::plural::count(data.qc_missing.len(), "subject"),
            esc(&data.qc_missing.join(", "))
        )
        .ok();
    }
    h.push_str("<div class=\"gallery\">");
    for (id, pet, mr) in data.qc {
        write!(h, "<figure><img alt=\"PET MIP {0}\" src=\"data:image/png;base64,{1}\"><figcaption>{0} PET MIP, tumour outlined</figcaption></figure>", esc(id), super::qc::base64(pet)).ok();
        if let Some(mr) = mr {
            write!(h, "<figure><img alt=\"MRI {0}\" src=\"data:image/png;base64,{1}\"><figcaption>{0} T2 through the tumour</figcaption></figure>", esc(id), super::qc::base64(mr)).ok();
        }
    }
    h.push_str("</div><h2>Warnings</h2>");
    // The run's warnings, then the analysis table's columns the statistics left out.
    let not_analysed = data.stats["not_analysed"].as_array().into_iter().flatten();
    let warnings: Vec<String> = data
        .warnings
        .iter()
        .cloned()
        .chain(not_analysed.map(|c| {
            format!(
                "Not analysed: column {}: {}.",
                c["column"].as_str().unwrap_or(""),
                c["reason"].as_str().unwrap_or("")
            )
        }))
        .collect();
    if warnings.is_empty() {
        h.push_str("<p>None.</p>");
    } else {
        h.push_str("<ul>");
        for w in &warnings {
            write!(h, "<li class=\"warn\">{}</li>", esc(w)).ok();
        }
        h.push_str("</ul>");
    }
    h.push_str("</body></html>\n");
    h
}

/// A bound of the median's interval, "NE" (not estimable, as clinical tables write it) where
/// there is none.
fn median_bound(v: &Value) -> String {
    f(v).map_or("NE".into(), |x| format!("{x:.1}"))
}

/// The statistics' sections: Kaplan–Meier, hazard ratios, ROC and the feature table.
fn statistics(h: &mut String, data: &ReportData) {
    let ep = &data.stats["endpoint"];
    let km = &data.stats["km"];
    write!(
        h,
        "<h2>Kaplan–Meier: {} (n = {}, events = {}{})</h2><p>Median {} (95% CI {} – {}); CI method {}.{}</p>{}",
        esc(ep["time"].as_str().unwrap_or("")),
        ep["n"],
        ep["events"],
        match ep["left_out"].as_u64().unwrap_or(0) {
            0 => String::new(),
            k => format!("; {k} without the endpoint left out"),
        },
        f(&km["median"]).map_or("not reached".into(), |m| format!("{m:.1} months")),
        median_bound(&km["median_ci"][0]),
        median_bound(&km["median_ci"][1]),
        esc(km["ci_method"].as_str().unwrap_or("")),
        if km["median_ci"][0].is_null() || km["median_ci"][1].is_null() {
            " NE: not estimable (the bound curve stays above 0.5 where it is defined)"
        } else {
            ""
        },
        km_svg(data)
    )
    .ok();
    for r in km["rates"].as_array().into_iter().flatten() {
        write!(
            h,
            "<p>{}-month rate: {} (95% CI {} – {})</p>",
            r["month"],
            fmt(f(&r["survival"]), 2),
            fmt(f(&r["ci"][0]), 2),
            fmt(f(&r["ci"][1]), 2)
        )
        .ok();
    }
    // The study's imaging biomarker, tumour SUVmax: its curves by group and its ROC for pCR.
    let roc_feature = if data.header.iter().any(|c| c == "pt_tumor_stat_max") {
        "pt_tumor_stat_max"
    } else {
        ""
    };
    h.push_str(&km_groups_svg(data, roc_feature));
    // The fixed cut-offs (a clinical threshold set before the data), beside the median split.
    let fixed: Vec<&Value> = data.stats["features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|x| x.get("logrank_cutoff").is_some())
        .collect();
    if !fixed.is_empty() {
        h.push_str("<h2>Log-rank at fixed cut-offs (high: value ≥ cut-off)</h2><table><tr><th>feature</th><th>cut-off</th><th>n high</th><th>n low</th><th>p</th></tr>");
        for ft in fixed {
            let lr = &ft["logrank_cutoff"];
            write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(ft["feature"].as_str().unwrap_or("")),
                // The cut-off as it was given (0.0125 is not 0.01).
                f(&lr["cutoff"]).map_or("–".into(), |c| c.to_string()),
                lr["n_high"].as_u64().map_or("–".into(), |n| n.to_string()),
                lr["n_low"].as_u64().map_or("–".into(), |n| n.to_string()),
                f(&lr["p"]).map_or_else(
                    || "no test (the feature's note in summary.md says why)".to_string(),
                    |p| format!("{p:.3}")
                )
            )
            .ok();
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Hazard ratios (Cox, one feature at a time; 15 smallest p)</h2>");
    h.push_str(&forest_svg(data));
    if !roc_feature.is_empty() {
        let auc = feature_stats(data, roc_feature).map_or(&Value::Null, |x| &x["roc_pcr"]);
        write!(
            h,
            "<h2>ROC for pathologic complete response: {roc_feature}</h2>"
        )
        .ok();
        h.push_str(&roc_text(data, roc_feature, auc));
    }
    h.push_str("<h2>Features</h2><table><tr><th>feature</th><th>n</th><th>events</th><th>HR per SD (95% CI)</th><th>p (Wald)</th><th>q</th><th>C</th><th>Spearman ρ (viable %)</th><th>AUC pCR</th></tr>");
    let mut feats: Vec<&Value> = data.stats["features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|x| !x["cox"].is_null())
        .collect();
    feats.sort_by(|a, b| {
        f(&a["cox"]["p_wald"])
            .unwrap_or(1.0)
            .total_cmp(&f(&b["cox"]["p_wald"]).unwrap_or(1.0))
    });
    for ft in feats {
        write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(ft["feature"].as_str().unwrap_or("")),
            ft["n"],
            ft["events"],
            match (
                f(&ft["cox"]["hr_per_sd"]),
                f(&ft["cox"]["hr_per_sd_ci"][0]),
                f(&ft["cox"]["hr_per_sd_ci"][1])
            ) {
                (Some(hr), Some(a), Some(b)) => hr_text(hr, a, b),
                (hr, _, _) => fmt(hr, 2),
            },
            f(&ft["cox"]["p_wald"]).map(|p| format!("{p:.2e}")).unwrap_or_default(),
            f(&ft["q_value"]).map(|p| format!("{p:.2e}")).unwrap_or_default(),
            fmt(f(&ft["cox"]["concordance"]), 2),
            fmt(f(&ft["spearman_viable_tumor"]["rho"]), 2),
            fmt(f(&ft["roc_pcr"]["auc"]), 2)
        )
        .ok();
    }
    h.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_axis_has_at_most_a_dozen_ticks() {
        assert_eq!(km_tick_step(60.0), 6.0);
        assert_eq!(km_tick_step(72.0), 6.0);
        assert_eq!(km_tick_step(100.0), 12.0);
        let step = km_tick_step(1e308);
        assert!(1e308 / step <= 12.0, "{step}");
        assert!(km_tick_step(f64::INFINITY).is_infinite());
    }

    /// A page of `stats` over the analysis table (`header`, `rows`), with nothing else.
    fn page<'a>(stats: &'a Value, header: &'a [String], rows: &'a [Vec<String>]) -> ReportData<'a> {
        ReportData {
            title: "t",
            stats,
            header,
            rows,
            counts: &[],
            flow_aside: &[],
            warnings: &[],
            qc: &[],
            qc_missing: &[],
            not_run: "",
        }
    }

    fn page_with(cox: &[(&str, f64, f64, f64)]) -> String {
        // (feature, coef, se, sd): HR per SD exp(coef·sd), its interval exp((coef ± 1.96 se)·sd).
        let features: Vec<Value> = cox
            .iter()
            .map(|(name, coef, se, sd)| {
                let at = |z: f64| ((coef + z * se) * sd).exp();
                serde_json::json!({"feature": name, "cox": {
                    "hr_per_sd": at(0.0), "hr_per_sd_ci": [at(-1.96), at(1.96)],
                    "p_wald": 0.01}})
            })
            .collect();
        let stats = serde_json::json!({ "features": features });
        forest_svg(&page(&stats, &[], &[]))
    }

    /// The axis spans 1/4 to 4 at least and widens by whole powers of 2 to take in every bound;
    /// beyond 1/256 or 256 it stops.
    #[test]
    fn the_forest_axis_takes_in_every_interval() {
        assert_eq!(forest_axis([0.5, 2.0].into_iter()), (-2.0, 2.0));
        assert_eq!(forest_axis([1.65, 4.93].into_iter()), (-2.0, 3.0));
        assert_eq!(forest_axis([0.1, 1.2].into_iter()), (-4.0, 2.0));
        assert_eq!(forest_axis([1e-9, 1e9].into_iter()), (-8.0, 8.0));
        assert_eq!(
            forest_axis([f64::NAN, f64::INFINITY, 0.0].into_iter()),
            (-2.0, 2.0)
        );
    }

    /// The demo's strongest feature: HR per SD 2.85 with a 95% CI of 1.65 to 4.93. The old plot
    /// ended its axis at 4 and cut the interval there without a sign; now the axis reaches 8,
    /// the row says the interval in numbers, and no arrow is drawn (nothing runs off the axis).
    #[test]
    fn an_interval_beyond_4_is_drawn_whole_and_written_out() {
        // coef 0.16668, se 0.044609, SD 6.2812: lifelines' fit of the demo's pt_tumor_stat_max.
        let svg = page_with(&[("pt_tumor_stat_max", 0.16668, 0.044609, 6.2812)]);
        assert!(svg.contains(">8</text>"), "{svg}");
        assert!(!svg.contains(">16</text>"), "{svg}");
        assert!(svg.contains("2.85 (1.65–4.93)"), "{svg}");
        assert!(!svg.contains("<path"), "{svg}");
    }

    /// Fits near separation (HR per SD 20, interval 0.59 to 684, and its mirror) widen the axis
    /// to 1/256–256 and no further, label every other power (1 among them), and end each
    /// interval that runs off the axis in an arrow.
    #[test]
    fn an_interval_off_the_widest_axis_ends_in_an_arrow() {
        let svg = page_with(&[("up", 1.0, 0.6, 3.0), ("down", -1.0, 0.6, 3.0)]);
        assert!(
            svg.contains(">256</text>") && svg.contains(">1/256</text>"),
            "{svg}"
        );
        assert!(
            svg.contains(">1</text>") && !svg.contains(">2</text>"),
            "{svg}"
        );
        assert_eq!(svg.matches("<path").count(), 2, "{svg}");
        assert!(svg.contains("20.1 (0.59–684)"), "{svg}");
        assert!(svg.contains("0.05 (0.00–1.70)"), "{svg}");
        let huge = page_with(&[("x", 5.0, 1.0, 3.0)]);
        assert!(huge.contains("3.3e6 (9136–1.2e9)"), "{huge}");
    }

    /// pCR subjects have the two lowest values: stats.json's AUC (higher values predicting pCR)
    /// is 0. The page draws the curve of lower values, up the left edge to the top-left corner,
    /// and gives AUC 1 with the interval turned over, naming stats.json's figure beside it. An
    /// AUC of 0.75 is drawn and written as it is.
    #[test]
    fn the_roc_curve_is_drawn_the_way_the_data_point() {
        let header = ["f".to_string(), "PCR".to_string()];
        let rows: Vec<Vec<String>> = [("1", "1"), ("2", "1"), ("3", "0"), ("4", "0")]
            .iter()
            .map(|(v, p)| vec![v.to_string(), p.to_string()])
            .collect();
        let stats = serde_json::json!({});
        let data = page(&stats, &header, &rows);
        let low = roc_text(
            &data,
            "f",
            &serde_json::json!({"auc": 0.25, "ci": [0.0, 0.7]}),
        );
        assert!(
            low.contains(
                "AUC of lower values predicting pCR: 0.75 (DeLong 95% CI 0.30 – 1.00); stats.json \
                 and summary.md give that of higher values: 0.25 (0.00 – 0.70)."
            ),
            "{low}"
        );
        assert!(
            low.contains("points=\"46.0,250.0 46.0,130.0 46.0,10.0 166.0,10.0 286.0,10.0\""),
            "{low}"
        );
        // Completely separated (stats.json gives no interval): turned over all the same, and
        // said (a review found "higher values", unturned, and "CI – – –").
        let separated = roc_text(
            &data,
            "f",
            &serde_json::json!({"auc": 0.0, "ci": [null, null]}),
        );
        assert!(
            separated.contains("AUC of lower values predicting pCR: 1.00 (no interval: the groups")
                && separated.contains("stats.json and summary.md give that of higher values: 0.00"),
            "{separated}"
        );
        assert!(
            separated.contains("points=\"46.0,250.0 46.0,130.0 46.0,10.0 166.0,10.0 286.0,10.0\""),
            "{separated}"
        );
        let high = roc_text(
            &data,
            "f",
            &serde_json::json!({"auc": 0.75, "ci": [0.3, 1.0]}),
        );
        assert!(
            high.contains("AUC of higher values predicting pCR: 0.75 (DeLong 95% CI 0.30 – 1.00)."),
            "{high}"
        );
        assert!(
            high.contains("points=\"46.0,250.0 166.0,250.0 286.0,250.0 286.0,130.0 286.0,10.0\""),
            "{high}"
        );
        // Both axes labelled at 0, 0.5 and 1 (the left margin, 46 px, holds the labels).
        assert_eq!(high.matches(">0.5</text>").count(), 2, "{high}");
        assert!(
            high.contains(
                "<text x=\"286.0\" y=\"264.0\" font-size=\"11\" text-anchor=\"middle\">1</text>"
            ),
            "{high}"
        );
    }

    /// Subjects above the cut-off (values 5–7) have events at 4, 8 and 12 months; those at or
    /// below it (1–3) are censored at 10, 20 and 30. The high group's curve steps down by a
    /// third at each event (y = 10 + (1 − S)·270; x = 56 + t·18.8 on a 30-month axis, its left
    /// margin 56 px to end the row name "≤ 4.00", 45.65 px wide at 0.65 em a character and 0.9
    /// for '≤', 6 px before the half-width of its "3"), the low group's stays at 1, and each
    /// group has its own row of numbers at risk every 6 months.
    #[test]
    fn the_curves_by_group_follow_each_group() {
        let header: Vec<String> = ["PFS_MONTHS", "PFS_EVENT", "f"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let rows: Vec<Vec<String>> = [
            ("10", "0", "1"),
            ("20", "0", "2"),
            ("30", "0", "3"),
            ("4", "1", "5"),
            ("8", "1", "6"),
            ("12", "1", "7"),
        ]
        .iter()
        .map(|(t, e, v)| vec![t.to_string(), e.to_string(), v.to_string()])
        .collect();
        let stats = serde_json::json!({
            "endpoint": {"time": "PFS_MONTHS", "event": "PFS_EVENT"},
            "features": [{"feature": "f", "logrank_median_split": {"cutoff": 4.0, "p": 0.0123}}]
        });
        let data = page(&stats, &header, &rows);
        let svg = km_groups_svg(&data, "f");
        assert!(
            svg.starts_with("<h2>Kaplan–Meier by f (median split)</h2>"),
            "{svg}"
        );
        assert!(
            svg.contains("d=\"M56.0,10.0 H56.0 V10.0 H131.2 V100.0 H206.4 V190.0 H281.6 V280.0 H281.6\" fill=\"none\" stroke=\"#cb181d\""),
            "{svg}"
        );
        assert!(
            svg.contains("d=\"M56.0,10.0 H56.0 V10.0 H244.0 V10.0 H432.0 V10.0 H620.0 V10.0 H620.0\" fill=\"none\" stroke=\"#2171b5\""),
            "{svg}"
        );
        assert!(
            svg.contains("&gt; 4.00 (n = 3)") && svg.contains("≤ 4.00 (n = 3)"),
            "{svg}"
        );
        // The low group's three censored times, on its curve at 1; none in the high group.
        for x in ["244.0", "432.0", "620.0"] {
            let tick = format!("<path class=\"censor\" d=\"M{x},6.0V14.0\" stroke=\"#2171b5\"/>");
            assert!(svg.contains(&tick), "{tick} in {svg}");
        }
        assert_eq!(svg.matches("class=\"censor\"").count(), 3, "{svg}");
        let xs = ["56.0", "168.8", "281.6", "394.4", "507.2", "620.0"];
        for (y, colour, numbers) in [
            ("350", "#2171b5", [3, 3, 2, 2, 1, 1]),
            ("365", "#cb181d", [3, 2, 1, 0, 0, 0]),
        ] {
            for (x, n) in xs.iter().zip(numbers) {
                let cell = format!(
                    "<text x=\"{x}\" y=\"{y}\" font-size=\"11\" text-anchor=\"middle\" fill=\"{colour}\">{n}</text>"
                );
                assert!(svg.contains(&cell), "{cell} in {svg}");
            }
        }
        assert!(
            svg.contains("Log-rank p = 0.012; 3 subjects at or below 4.00, 3 above."),
            "{svg}"
        );
        // No split in the statistics: no section.
        let none = serde_json::json!({"features": [{"feature": "f"}]});
        let data = ReportData {
            stats: &none,
            ..data
        };
        assert!(km_groups_svg(&data, "f").is_empty());
    }

    /// The numbers at risk under the overall curve count the subjects of the estimate: a row
    /// with a time but no event is left out of it (stats.json's `left_out`), and was counted.
    #[test]
    fn at_risk_under_the_curve_leaves_out_rows_without_an_event() {
        let header: Vec<String> = ["PFS_MONTHS", "PFS_EVENT"].map(String::from).to_vec();
        let rows: Vec<Vec<String>> = [("3", "1"), ("9", "0"), ("12", "")]
            .iter()
            .map(|(t, e)| vec![t.to_string(), e.to_string()])
            .collect();
        let stats = serde_json::json!({
            "endpoint": {"time": "PFS_MONTHS", "event": "PFS_EVENT"},
            "km": {"timeline": [0.0, 3.0, 9.0], "survival": [1.0, 0.5, 0.5]}
        });
        let svg = km_svg(&page(&stats, &header, &rows));
        let cell = |x: &str, n: usize| {
            format!("<text x=\"{x}\" y=\"350\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">{n}</text>")
        };
        // 24-month axis: x = 60 + t·23.33 (the left margin 60 px: "at risk", 50.05 px wide at
        // 0.65 em a character, 6 px before the half-width of its "2").
        for (x, n) in [("60.0", 2), ("200.0", 1), ("340.0", 0)] {
            assert!(svg.contains(&cell(x, n)), "{} in {svg}", cell(x, n));
        }
        // One censoring tick: the subject censored at 9, where S = 0.5 (y = 145); the row
        // without an event has none.
        assert_eq!(svg.matches("class=\"censor\"").count(), 1, "{svg}");
        assert!(svg.contains(",141.0V149.0\""), "{svg}");
    }
}
