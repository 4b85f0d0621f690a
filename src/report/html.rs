//! `report.html`: one self-contained page (inline CSS, SVG plots, PNG images as data URIs; no
//! external resource) — CONSORT-style counts, the Kaplan–Meier curve with its confidence band and
//! numbers at risk, a forest plot of hazard ratios per SD, the ROC curve of the strongest PET
//! feature for pCR, the feature table, the QC gallery and every warning.

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
    pub warnings: &'a [String],
    pub qc: &'a [QcImages],
    /// Why the statistics were not run, when `stats` has none (a sentence, or several lines).
    pub not_run: &'a str,
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

fn column(data: &ReportData, name: &str) -> Vec<Option<f64>> {
    let Some(c) = data.header.iter().position(|h| h == name) else {
        return Vec::new();
    };
    data.rows
        .iter()
        .map(|r| r.get(c).and_then(|s| s.parse::<f64>().ok()))
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
    let (w, h, l, b) = (640.0, 320.0, 50.0, 40.0);
    let x = |v: f64| l + v / tmax * (w - l - 20.0);
    let y = |v: f64| 10.0 + (1.0 - v) * (h - b - 10.0);
    let mut path = format!("M{:.1},{:.1}", x(0.0), y(1.0));
    let mut band_top = Vec::new();
    let mut band_bottom = Vec::new();
    let (mut prev_s, mut prev_l, mut prev_h) = (1.0, 1.0, 1.0);
    for (i, ti) in t.iter().enumerate() {
        let (Some(ti), Some(si)) = (f(ti), s.get(i).and_then(f)) else {
            continue;
        };
        let (li, hi_) = (
            lo.get(i).and_then(f).unwrap_or(si),
            hi.get(i).and_then(f).unwrap_or(si),
        );
        write!(path, " H{:.1} V{:.1}", x(ti), y(si)).ok();
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
        prev_s = si;
        prev_l = li;
        prev_h = hi_;
    }
    write!(path, " H{:.1}", x(tmax)).ok();
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
    let _ = prev_s;
    let mut svg = format!(
        "<svg viewBox=\"0 0 {w} {}\" width=\"{w}\" role=\"img\" aria-label=\"Kaplan-Meier curve\">",
        h + 50.0
    );
    write!(
        svg,
        "<polygon points=\"{band}\" fill=\"#9ecae1\" opacity=\"0.5\"/>"
    )
    .ok();
    write!(
        svg,
        "<path d=\"{path}\" fill=\"none\" stroke=\"#08519c\" stroke-width=\"2\"/>"
    )
    .ok();
    // Axes and ticks.
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
            y(v) + 4.0
        )
        .ok();
    }
    let times = column(
        data,
        data.stats["endpoint"]["time"]
            .as_str()
            .unwrap_or("PFS_MONTHS"),
    );
    let mut m = 0.0;
    while m <= tmax {
        write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{m}</text>",
            x(m),
            h - b + 15.0
        )
        .ok();
        let at_risk = times.iter().flatten().filter(|t| **t >= m).count();
        write!(svg, "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">{at_risk}</text>", x(m), h + 30.0).ok();
        m += 6.0;
    }
    write!(
        svg,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\">months</text>",
        w - 60.0,
        h - b + 28.0
    )
    .ok();
    write!(
        svg,
        "<text x=\"0\" y=\"{}\" font-size=\"11\" fill=\"#555\">at risk</text>",
        h + 30.0
    )
    .ok();
    svg.push_str("</svg>");
    svg
}

fn forest_svg(data: &ReportData) -> String {
    let mut rows: Vec<(String, f64, f64, f64, f64)> = data.stats["features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ft| {
            let cox = &ft["cox"];
            let (coef, se, hr_sd, p) = (
                f(&cox["coef"])?,
                f(&cox["se"])?,
                f(&cox["hr_per_sd"])?,
                f(&cox["p_wald"])?,
            );
            if coef == 0.0 {
                return None;
            }
            let sd = hr_sd.ln() / coef;
            Some((
                ft["feature"].as_str().unwrap_or("").to_string(),
                hr_sd,
                ((coef - 1.96 * se) * sd).exp(),
                ((coef + 1.96 * se) * sd).exp(),
                p,
            ))
        })
        .collect();
    rows.sort_by(|a, b| a.4.total_cmp(&b.4));
    rows.truncate(15);
    if rows.is_empty() {
        return "<p>No Cox model could be fitted.</p>".into();
    }
    let (w, row_h, l) = (640.0, 20.0, 260.0);
    let (lo, hi) = (0.25f64.ln(), 4.0f64.ln());
    let x = |v: f64| l + (v.ln().clamp(lo, hi) - lo) / (hi - lo) * (w - l - 20.0);
    let h = rows.len() as f64 * row_h + 40.0;
    let mut svg = format!(
        "<svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" role=\"img\" aria-label=\"Forest plot\">"
    );
    write!(svg, "<line x1=\"{:.1}\" y1=\"0\" x2=\"{:.1}\" y2=\"{}\" stroke=\"#999\" stroke-dasharray=\"3\"/>", x(1.0), x(1.0), h - 30.0).ok();
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
        write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"7\" height=\"7\" fill=\"#08519c\"/>",
            x(*hr) - 3.5,
            yy - 3.5
        )
        .ok();
    }
    for v in [0.25, 0.5, 1.0, 2.0, 4.0] {
        write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{v}</text>",
            x(v),
            h - 12.0
        )
        .ok();
    }
    write!(
        svg,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\">HR per SD (95% CI)</text>",
        l,
        h - 1.0
    )
    .ok();
    svg.push_str("</svg>");
    svg
}

fn roc_svg(data: &ReportData, feature: &str) -> String {
    let (vals, pcr) = (column(data, feature), column(data, "PCR"));
    let pairs: Vec<(f64, bool)> = vals
        .iter()
        .zip(&pcr)
        .filter_map(|(v, p)| Some((((*v)?), (*p)? == 1.0)))
        .collect();
    let pos = pairs.iter().filter(|p| p.1).count();
    let neg = pairs.len() - pos;
    if pos == 0 || neg == 0 {
        return "<p>No ROC curve: pCR is known for one class only.</p>".into();
    }
    // As the AUC of stats.json: a higher value predicts pCR (AUC < 0.5: lower values do).
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
    let s = 240.0;
    let poly: Vec<String> = pts
        .iter()
        .map(|(fp, tp)| format!("{:.1},{:.1}", 30.0 + fp * s, 10.0 + (1.0 - tp) * s))
        .collect();
    format!(
        "<svg viewBox=\"0 0 290 290\" width=\"290\" role=\"img\" aria-label=\"ROC curve\"><rect x=\"30\" y=\"10\" width=\"{s}\" height=\"{s}\" fill=\"none\" stroke=\"#333\"/><line x1=\"30\" y1=\"{}\" x2=\"{}\" y2=\"10\" stroke=\"#999\" stroke-dasharray=\"3\"/><polyline points=\"{}\" fill=\"none\" stroke=\"#a50f15\" stroke-width=\"2\"/><text x=\"150\" y=\"280\" font-size=\"11\" text-anchor=\"middle\">1 − specificity</text><text x=\"12\" y=\"140\" font-size=\"11\" transform=\"rotate(-90 12 140)\" text-anchor=\"middle\">sensitivity</text></svg>",
        10.0 + s,
        30.0 + s,
        poly.join(" ")
    )
}

/// The page.
pub fn render(data: &ReportData) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
    h.push_str(&esc(data.title));
    h.push_str("</title><style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}.consort span{display:inline-block;border:1px solid #555;padding:6px 10px;margin:4px;border-radius:4px}.gallery figure{display:inline-block;margin:6px;text-align:center;font-size:12px}.warn{color:#8a4b00}</style></head><body>");
    write!(h, "<h1>{}</h1>", esc(data.title)).ok();
    h.push_str("<h2>Flow</h2><p class=\"consort\">");
    let flow: Vec<String> = data
        .counts
        .iter()
        .map(|(k, v)| format!("<span>{} <b>{v}</b></span>", esc(k)))
        .collect();
    h.push_str(&flow.join(" → "));
    h.push_str("</p>");
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
    h.push_str("<div class=\"gallery\">");
    for (id, pet, mr) in data.qc {
        write!(h, "<figure><img alt=\"PET MIP {0}\" src=\"data:image/png;base64,{1}\"><figcaption>{0} PET MIP, tumour outlined</figcaption></figure>", esc(id), super::qc::base64(pet)).ok();
        if let Some(mr) = mr {
            write!(h, "<figure><img alt=\"MRI {0}\" src=\"data:image/png;base64,{1}\"><figcaption>{0} T2 through the tumour</figcaption></figure>", esc(id), super::qc::base64(mr)).ok();
        }
    }
    h.push_str("</div><h2>Warnings</h2>");
    if data.warnings.is_empty() {
        h.push_str("<p>None.</p>");
    } else {
        h.push_str("<ul>");
        for w in data.warnings {
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
    h.push_str("<h2>Hazard ratios (Cox, one feature at a time; 15 smallest p)</h2>");
    h.push_str(&forest_svg(data));
    let roc_feature = if data.header.iter().any(|c| c == "pt_tumor_stat_max") {
        "pt_tumor_stat_max"
    } else {
        ""
    };
    if !roc_feature.is_empty() {
        let auc = data.stats["features"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|x| x["feature"] == roc_feature)
            .map(|x| x["roc_pcr"].clone())
            .unwrap_or(Value::Null);
        write!(
            h,
            "<h2>ROC for pathologic complete response: {roc_feature}</h2>{}<p>AUC {} (DeLong 95% CI {} – {}); a higher value predicts pCR, so AUC below 0.5 means lower values do.</p>",
            roc_svg(data, roc_feature),
            fmt(f(&auc["auc"]), 2),
            fmt(f(&auc["ci"][0]), 2),
            fmt(f(&auc["ci"][1]), 2)
        )
        .ok();
    }
    h.push_str("<h2>Features</h2><table><tr><th>feature</th><th>n</th><th>events</th><th>HR per SD</th><th>p (Wald)</th><th>q</th><th>C</th><th>Spearman ρ (viable %)</th><th>AUC pCR</th></tr>");
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
            fmt(f(&ft["cox"]["hr_per_sd"]), 2),
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
