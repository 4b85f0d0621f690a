//! `summary.md`: the analysis (`stats.json`, as `analyze` writes it) rendered as the Markdown a
//! reader opens first: the endpoint and its Kaplan–Meier estimates, the features with the
//! smallest q-values, fixed cut-offs, then every feature's Cox, log-rank, Spearman and ROC row.
//! Reads only the JSON, so it shows exactly what stats.json holds.

use serde_json::Value;

fn median_bound(v: &Value) -> String {
    if v.is_null() {
        "NE".into()
    } else {
        fmt(v, 1)
    }
}

fn fmt(v: &Value, digits: usize) -> String {
    match v.as_f64() {
        Some(x) if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e5) => format!("{x:.2e}"),
        Some(x) => format!("{x:.digits$}"),
        None => "–".into(),
    }
}

/// The HR per unit and its interval, with the decimals that tell the bounds apart: three, more
/// for a feature in small units (per mm³ an HR of 1.0000025 (1.0000012–1.0000039) reads
/// "1.000002 (1.000001–1.000004)", not "1.000 (1.000–1.000)" beside p = 0.0003); "–" where
/// there is none.
fn hr_per_unit(cox: &Value) -> String {
    let (hr, lo, hi) = (&cox["hr"], &cox["hr_ci"][0], &cox["hr_ci"][1]);
    let digits = (3..=10).find(|&d| fmt(lo, d) != fmt(hi, d)).unwrap_or(3);
    with_inner(
        hr,
        digits,
        format!("{}–{}", fmt(lo, digits), fmt(hi, digits)),
    )
}

/// `v (inner)` to `digits` decimals; a lone "–" where there is no `v` (not "– (–––)").
fn with_inner(v: &Value, digits: usize, inner: String) -> String {
    match v.as_f64() {
        Some(_) => format!("{} ({inner})", fmt(v, digits)),
        None => "–".into(),
    }
}

/// Each feature column's unit, from the codebook `link` writes beside the analysis table
/// (`TABLE.dictionary.csv`, for `TABLE.csv` or `TABLE.parquet`); none without one (a table
/// from elsewhere), or where it gives no unit.
pub(super) fn render(stats: &Value) -> String {
    let ep = &stats["endpoint"];
    let km = &stats["km"];
    let mut s = String::from("# Statistics summary\n\n");
    let left_out = match ep["left_out"].as_u64().unwrap_or(0) {
        0 => String::new(),
        1 => " (1 row without a time or an event left out)".to_string(),
        k => format!(" ({k} rows without a time or an event left out)"),
    };
    s += &format!(
        "Endpoint {} / {}: {} subjects, {} events{left_out}.\n\n",
        ep["time"].as_str().unwrap_or(""),
        ep["event"].as_str().unwrap_or(""),
        ep["n"],
        ep["events"]
    );
    s += &format!(
        "Kaplan–Meier ({} 95% CI): median {} (95% CI {} to {})",
        km["ci_method"].as_str().unwrap_or(""),
        if km["median"].is_null() {
            "not reached".to_string()
        } else {
            fmt(&km["median"], 1)
        },
        median_bound(&km["median_ci"][0]),
        median_bound(&km["median_ci"][1])
    );
    if km["median_ci"][0].is_null() || km["median_ci"][1].is_null() {
        s += " (NE: not estimable)";
    }
    for r in km["rates"].as_array().into_iter().flatten() {
        s += &format!(
            "; {}-month survival {} ({} to {})",
            r["month"],
            fmt(&r["survival"], 3),
            fmt(&r["ci"][0], 3),
            fmt(&r["ci"][1], 3)
        );
    }
    s += ".\n\n";
    for c in stats["not_analysed"].as_array().into_iter().flatten() {
        s += &format!(
            "Not analysed: column {}: {}.\n\n",
            c["column"].as_str().unwrap_or(""),
            c["reason"].as_str().unwrap_or("")
        );
    }
    s += &strongest(stats, 10);
    s += &fixed_cutoffs(stats);
    s += "| feature | unit | n | events | HR per unit (95% CI) | HR per SD | p Wald | p LR | C | log-rank p (median split) | Spearman rho (p) vs viable % | AUC pCR (95% CI) | q |\n";
    s += "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for f in stats["features"].as_array().into_iter().flatten() {
        let c = &f["cox"];
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            f["feature"].as_str().unwrap_or(""),
            f["unit"].as_str().unwrap_or(""),
            f["n"],
            f["events"],
            hr_per_unit(c),
            fmt(&c["hr_per_sd"], 3),
            fmt(&c["p_wald"], 4),
            fmt(&c["p_lr"], 4),
            fmt(&c["concordance"], 3),
            fmt(&f["logrank_median_split"]["p"], 4),
            with_inner(
                &f["spearman_viable_tumor"]["rho"],
                3,
                fmt(&f["spearman_viable_tumor"]["p"], 4)
            ),
            with_inner(
                &f["roc_pcr"]["auc"],
                3,
                // Complete separation: no interval (DeLong's has width 0; see the note).
                if f["roc_pcr"]["ci"][0].is_null() {
                    "no interval".to_string()
                } else {
                    format!(
                        "{}–{}",
                        fmt(&f["roc_pcr"]["ci"][0], 3),
                        fmt(&f["roc_pcr"]["ci"][1], 3)
                    )
                }
            ),
            fmt(&f["q_value"], 4),
        );
    }
    let notes: Vec<String> = stats["features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            Some(format!(
                "- {}: {}",
                f["feature"].as_str()?,
                f["note"].as_str()?
            ))
        })
        .collect();
    if !notes.is_empty() {
        s += "\nNotes:\n\n";
        s += &notes.join("\n");
        s += "\n";
    }
    let linked: Vec<&str> = stats["link_warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !linked.is_empty() {
        s += "\nFrom link (kept out, and warnings on the table's data):\n\n";
        if let Some(note) = stats["link_warnings_note"].as_str() {
            s += &format!("({note})\n\n");
        }
        for w in linked {
            s += &format!("- {w}\n");
        }
    }
    s += &format!(
        "\nq-values: {}. Log-rank groups: feature > median vs ≤ median (at or above the median where more than half the values equal the highest). AUC pCR: a higher value predicting pCR; below 0.5, lower values predict it (their AUC is 1 − AUC, the interval turned over). Kaplan–Meier median: the first time the curve is below 0.5, or the middle of the stretch where it is exactly 0.5 (as R's survfit). Spearman p: the t approximation (R's cor.test with exact = FALSE).\n",
        stats["q_value_method"].as_str().unwrap_or("Benjamini–Hochberg over the Cox Wald p-values")
    );
    s
}

/// The log-rank tests at fixed cut-offs (`--cutoff`, `[analysis] cutoffs`) as a table of their
/// own: they answer a question set before the data (a clinical threshold), not the median's.
/// Nothing without one.
fn fixed_cutoffs(stats: &Value) -> String {
    let rows: Vec<String> = stats["features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            let lr = f.get("logrank_cutoff")?;
            let name = f["feature"].as_str().unwrap_or("");
            Some(if lr.is_null() {
                format!("| {name} | – | – | – | no test (see Notes) |\n")
            } else {
                format!(
                    "| {name} | {} | {} | {} | {} |\n",
                    lr["cutoff"],
                    lr["n_high"],
                    lr["n_low"],
                    fmt(&lr["p"], 4)
                )
            })
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "Log-rank at fixed cut-offs (high: value ≥ cut-off):\n\n| feature | cut-off | n high | n low | p |\n|---|---|---|---|---|\n{}\n",
        rows.concat()
    )
}

/// The `most` features of smallest q-value (then p, then name) as a short table ahead of the
/// full one, which is in feature order and runs to hundreds of rows; nothing without a q-value.
fn strongest(stats: &Value, most: usize) -> String {
    let mut with_q: Vec<&Value> = stats["features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["q_value"].is_f64())
        .collect();
    if with_q.is_empty() {
        return String::new();
    }
    let key = |f: &Value, k: &str| f[k].as_f64().unwrap_or(f64::INFINITY);
    with_q.sort_by(|a, b| {
        key(a, "q_value")
            .total_cmp(&key(b, "q_value"))
            .then(key(&a["cox"], "p_wald").total_cmp(&key(&b["cox"], "p_wald")))
            .then(a["feature"].as_str().cmp(&b["feature"].as_str()))
    });
    let shown = with_q.len().min(most);
    let mut s = format!(
        "Smallest q-values ({shown} of {} features with a q-value; the full table below is in feature order):\n\n",
        with_q.len()
    );
    s += "| feature | HR per SD (95% CI) | p Wald | q | C |\n|---|---|---|---|---|\n";
    for f in &with_q[..shown] {
        let c = &f["cox"];
        s += &format!(
            "| {} | {} ({}–{}) | {} | {} | {} |\n",
            f["feature"].as_str().unwrap_or(""),
            fmt(&c["hr_per_sd"], 3),
            fmt(&c["hr_per_sd_ci"][0], 3),
            fmt(&c["hr_per_sd_ci"][1], 3),
            fmt(&c["p_wald"], 4),
            fmt(&f["q_value"], 4),
            fmt(&c["concordance"], 3),
        );
    }
    s + "\nAll features:\n\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The short table ahead of the full one: smallest q first, ties by p then name, features
    /// without a q-value left out, at most `most` rows, and the count of those with a fit.
    #[test]
    fn the_strongest_features_come_first_in_the_summary() {
        let feat = |name: &str, q: Option<f64>, p: f64| {
            serde_json::json!({"feature": name, "q_value": q,
                "cox": {"hr": 2.0, "hr_ci": [1.5, 3.0], "hr_per_sd": 2.5,
                        "hr_per_sd_ci": [1.8, 3.5], "p_wald": p,
                        "concordance": 0.7}})
        };
        let stats = serde_json::json!({"features": [
            feat("a_weak", Some(0.5), 0.4),
            feat("b_const", None, 1.0),
            feat("c_tied_later", Some(0.01), 0.002),
            feat("d_tied_first", Some(0.01), 0.001),
            feat("e_tied_name", Some(0.01), 0.002),
        ]});
        let s = strongest(&stats, 3);
        assert!(
            s.starts_with("Smallest q-values (3 of 4 features with a q-value;"),
            "{s}"
        );
        let rows: Vec<&str> = s
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| feature"))
            .collect();
        assert_eq!(rows.len(), 3, "{s}");
        assert!(
            rows[0].starts_with("| d_tied_first | 2.500 (1.800–3.500) | 0.0010 | 0.0100 | 0.700 |"),
            "{s}"
        );
        assert!(rows[1].starts_with("| c_tied_later "), "{s}");
        assert!(rows[2].starts_with("| e_tied_name "), "{s}");
        assert!(strongest(&serde_json::json!({"features": [feat("x", None, 1.0)]}), 10).is_empty());
    }

    /// Regression: per mm³ an HR of 1.0000025 (1.0000012–1.0000039), p = 0.0003, was printed
    /// "1.000 (1.000–1.000)" in summary.md.
    #[test]
    fn an_hr_near_one_keeps_the_decimals_that_tell_its_bounds_apart() {
        let cox = serde_json::json!({"hr": 1.0000026, "hr_ci": [1.0000012, 1.0000039]});
        assert_eq!(hr_per_unit(&cox), "1.000003 (1.000001–1.000004)");
        let cox = serde_json::json!({"hr": 2.5, "hr_ci": [1.8, 3.5]});
        assert_eq!(hr_per_unit(&cox), "2.500 (1.800–3.500)");
        assert_eq!(hr_per_unit(&serde_json::json!(null)), "–");
    }
}
