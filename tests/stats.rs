//! `ancilla analyze TABLE --out DIR` end to end: the binary on lifelines' rossi data laid out as
//! an analysis table (test-data/lifelines/rossi_analysis.csv) gives the lifelines 0.30.3 / scipy
//! 1.17.1 numbers committed in src/stats/lifelines_reference.rs; refusals carry notes; bad
//! input gives exit code 2 (bad column, unreadable table) or 1 (bad value).

#[path = "../src/stats/lifelines_reference.rs"]
mod r;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/lifelines/rossi_analysis.csv")
}

fn analyze(table: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ancilla"))
        .arg("analyze")
        .arg(table)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run ancilla")
}

/// `analyze` that must succeed: its stats.json.
fn analyze_ok(table: &Path, out: &Path, extra: &[&str]) -> Value {
    let o = analyze(table, out, extra);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&std::fs::read(out.join("stats.json")).unwrap()).unwrap()
}

fn close(v: &Value, want: f64, rel: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    assert!(
        (got - want).abs() <= rel * want.abs(),
        "{got} vs {want} (rel {})",
        ((got - want) / want).abs()
    );
}

fn feature<'a>(stats: &'a Value, name: &str) -> &'a Value {
    stats["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == name)
        .unwrap_or_else(|| panic!("no feature {name}"))
}

#[test]
fn rossi_table_matches_lifelines() {
    let dir = tempfile::tempdir().unwrap();
    let stats = analyze_ok(&fixture(), dir.path(), &[]);

    assert_eq!(stats["endpoint"]["time"], "PFS_MONTHS");
    assert_eq!(stats["endpoint"]["n"], 432);
    assert_eq!(stats["endpoint"]["events"], 114);

    let km = &stats["km"];
    assert_eq!(km["ci_method"], "log-log");
    let timeline: Vec<f64> = serde_json::from_value(km["timeline"].clone()).unwrap();
    assert_eq!(timeline, r::ROSSI_KM_TIMELINE);
    let at_risk: Vec<f64> = serde_json::from_value(km["at_risk"].clone()).unwrap();
    assert_eq!(at_risk, r::ROSSI_KM_AT_RISK);
    for (k, s) in r::ROSSI_KM_SURVIVAL.iter().enumerate() {
        close(&km["survival"][k], *s, 1e-12);
        close(&km["ci_lower"][k], r::ROSSI_KM_CI_LOWER[k], 1e-10);
        close(&km["ci_upper"][k], r::ROSSI_KM_CI_UPPER[k], 1e-10);
    }
    // lifelines: median survival inf (curve stays above 0.5) → null with a note.
    assert!(r::ROSSI_KM_MEDIAN.is_infinite());
    assert!(km["median"].is_null());
    assert!(km["median_ci"][0].is_null() && km["median_ci"][1].is_null());
    assert!(km["note"].as_str().unwrap().contains("median not reached"));
    let rates = km["rates"].as_array().unwrap();
    assert_eq!(rates[0]["month"], 12);
    assert_eq!(rates[1]["month"], 24);
    close(&rates[0]["survival"], r::ROSSI_KM_S12, 1e-12);
    close(&rates[0]["ci"][0], r::ROSSI_KM_S12_CI_LOWER, 1e-10);
    close(&rates[0]["ci"][1], r::ROSSI_KM_S12_CI_UPPER, 1e-10);
    close(&rates[1]["survival"], r::ROSSI_KM_S24, 1e-12);
    close(&rates[1]["ci"][0], r::ROSSI_KM_S24_CI_LOWER, 1e-10);
    close(&rates[1]["ci"][1], r::ROSSI_KM_S24_CI_UPPER, 1e-10);

    // Features: age and prio only (reserved columns and ARMCD are not features).
    let names: Vec<&str> = stats["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["feature"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["age", "prio"]);

    type Refs = [f64; 18];
    let age: Refs = [
        r::ROSSI_AGE_COEF,
        r::ROSSI_AGE_SE,
        r::ROSSI_AGE_HR,
        r::ROSSI_AGE_HR_LOWER,
        r::ROSSI_AGE_HR_UPPER,
        r::ROSSI_AGE_HR_PER_SD,
        r::ROSSI_AGE_P_WALD,
        r::ROSSI_AGE_P_LR,
        r::ROSSI_AGE_CONCORDANCE,
        r::ROSSI_AGE_SPLIT_LOGRANK_STAT,
        r::ROSSI_AGE_SPLIT_LOGRANK_P,
        r::ROSSI_AGE_SPEARMAN_RHO,
        r::ROSSI_AGE_SPEARMAN_P,
        r::ROSSI_AGE_AUC,
        r::ROSSI_AGE_AUC_LOWER,
        r::ROSSI_AGE_AUC_UPPER,
        r::ROSSI_AGE_HR_PER_SD_LOWER,
        r::ROSSI_AGE_HR_PER_SD_UPPER,
    ];
    let prio: Refs = [
        r::ROSSI_PRIO_COEF,
        r::ROSSI_PRIO_SE,
        r::ROSSI_PRIO_HR,
        r::ROSSI_PRIO_HR_LOWER,
        r::ROSSI_PRIO_HR_UPPER,
        r::ROSSI_PRIO_HR_PER_SD,
        r::ROSSI_PRIO_P_WALD,
        r::ROSSI_PRIO_P_LR,
        r::ROSSI_PRIO_CONCORDANCE,
        r::ROSSI_PRIO_SPLIT_LOGRANK_STAT,
        r::ROSSI_PRIO_SPLIT_LOGRANK_P,
        r::ROSSI_PRIO_SPEARMAN_RHO,
        r::ROSSI_PRIO_SPEARMAN_P,
        r::ROSSI_PRIO_AUC,
        r::ROSSI_PRIO_AUC_LOWER,
        r::ROSSI_PRIO_AUC_UPPER,
        r::ROSSI_PRIO_HR_PER_SD_LOWER,
        r::ROSSI_PRIO_HR_PER_SD_UPPER,
    ];
    for (name, refs, q) in [
        ("age", age, r::ROSSI_Q_AGE),
        ("prio", prio, r::ROSSI_Q_PRIO),
    ] {
        let f = feature(&stats, name);
        assert_eq!(f["n"], 432);
        assert_eq!(f["events"], 114);
        assert!(f.get("note").is_none(), "{f}");
        let c = &f["cox"];
        // lifelines stops Newton–Raphson at a score of ~1e-6 (see src/stats/cox.rs): 1e-7.
        close(&c["coef"], refs[0], 1e-7);
        close(&c["se"], refs[1], 1e-7);
        close(&c["hr"], refs[2], 1e-7);
        close(&c["hr_ci"][0], refs[3], 1e-7);
        close(&c["hr_ci"][1], refs[4], 1e-7);
        close(&c["hr_per_sd"], refs[5], 1e-7);
        close(&c["hr_per_sd_ci"][0], refs[16], 1e-7);
        close(&c["hr_per_sd_ci"][1], refs[17], 1e-7);
        close(&c["p_wald"], refs[6], 1e-6);
        close(&c["p_lr"], refs[7], 1e-6);
        close(&c["concordance"], refs[8], 1e-12);
        let lr = &f["logrank_median_split"];
        close(&lr["statistic"], refs[9], 1e-10);
        close(&lr["p"], refs[10], 1e-9);
        let s = &f["spearman_viable_tumor"];
        close(&s["rho"], refs[11], 1e-12);
        close(&s["p"], refs[12], 1e-9);
        let roc = &f["roc_pcr"];
        close(&roc["auc"], refs[13], 1e-12);
        close(&roc["ci"][0], refs[14], 1e-10);
        close(&roc["ci"][1], refs[15], 1e-10);
        close(&f["q_value"], q, 1e-6);
    }

    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    // No codebook beside this table: no unit.
    assert!(summary.contains("| age |  | 432 | 114 |"), "{summary}");
    assert!(summary.contains("432 subjects, 114 events"));
}

/// The codebook `link` writes beside the table gives each feature its unit in stats.json and in
/// summary.md, whose hazard ratio is per that unit (per ml of volume, not per mm³); read for a
/// Parquet table too. A column the codebook gives no unit has none.
#[test]
fn the_codebook_beside_the_table_gives_each_feature_its_unit() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv =
        String::from("USUBJID,ARMCD,PFS_MONTHS,PFS_EVENT,pt_tumor_stat_max,pt_tumor_mtv_suv3,x\n");
    for i in 0..30 {
        let (t, e) = (3.0 + (i * 7 % 29) as f64, (i % 3 != 0) as u8);
        csv += &format!(
            "S{i},A,{t},{e},{},{},{}\n",
            4.0 + (i % 11) as f64,
            (i % 5) as f64,
            i % 4
        );
    }
    std::fs::write(dir.path().join("t.csv"), &csv).unwrap();
    std::fs::write(
        dir.path().join("t.dictionary.csv"),
        "column,source,modality,image,roi,feature,ibsi_code,unit,definition\n\
         USUBJID,ADSL,,,,,,,id\n\
         pt_tumor_stat_max,features,pt,suvbw,tumor,stat_max,84IY,g/ml,Maximum intensity\n\
         pt_tumor_mtv_suv3,features,pt,suvbw,tumor,mtv_suv3,,ml,MTV\n",
    )
    .unwrap();
    let stats = analyze_ok(&dir.path().join("t.csv"), &dir.path().join("out"), &[]);
    let unit = |name: &str| {
        stats["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["feature"] == name)
            .unwrap()["unit"]
            .clone()
    };
    assert_eq!(unit("pt_tumor_stat_max"), "g/ml");
    assert_eq!(unit("pt_tumor_mtv_suv3"), "ml");
    assert!(unit("x").is_null());
    let summary = std::fs::read_to_string(dir.path().join("out/summary.md")).unwrap();
    assert!(summary.contains("| feature | unit | n | events | HR per unit (95% CI) |"));
    assert!(
        summary.contains("| pt_tumor_stat_max | g/ml | 30 | "),
        "{summary}"
    );
    assert!(summary.contains("| x |  | 30 | "), "{summary}");
    // The same table as Parquet finds the same codebook (t.dictionary.csv).
    let pq = dir.path().join("t.parquet");
    let header: Vec<String> = csv
        .lines()
        .next()
        .unwrap()
        .split(',')
        .map(String::from)
        .collect();
    let rows: Vec<Vec<String>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    use ancilla::clinical::tables::ColumnKind;
    let kinds: Vec<ColumnKind> = header
        .iter()
        .map(|h| match h.as_str() {
            "USUBJID" | "ARMCD" => ColumnKind::Text,
            _ => ColumnKind::Real,
        })
        .collect();
    ancilla::clinical::tables::write_parquet(&pq, &header, &rows, &kinds).unwrap();
    let stats = analyze_ok(&pq, &dir.path().join("out-pq"), &[]);
    let f = stats["features"].as_array().unwrap();
    assert!(f
        .iter()
        .any(|f| f["feature"] == "pt_tumor_mtv_suv3" && f["unit"] == "ml"));
}

/// `ancilla analyze TABLE --out DIR` writes report.html beside stats.json (DESIGN: statistics +
/// report.html): self-contained, with the curve, the forest plot and the feature table of the
/// statistics it wrote, and no QC gallery (that is `ancilla run`'s).
#[test]
fn analyze_writes_a_self_contained_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = analyze(&fixture(), dir.path(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    for bad in ["http://", "https://", "src=\"/", "<link", "<script", "<img"] {
        assert!(!html.contains(bad), "report.html contains {bad}");
    }
    assert!(html.contains("Kaplan–Meier: PFS_MONTHS (n = 432, events = 114)"));
    assert!(html.contains("subjects in the table <b>432</b>"));
    assert!(html.contains("aria-label=\"Forest plot\""));
    assert!(html.contains("<tr><td>prio</td><td>432</td><td>114</td>"));
    assert!(html.contains("No QC images"));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("analyze: 2 features, n = 432, 114 events")
    );
}

/// The last subject has the event, so the curve ends at 0 and the upper bound curve stays above
/// 0.5 until then. R 4.2.2, survival 3.5-3 (`quantile(survfit(Surv(t, e) ~ 1, conf.type =
/// "log-log"), 0.5)`): median 28.93, 95% CI 13.98 to NA. The upper bound was 103.52, the time
/// the curve reaches 0 (lifelines' [0, 0] interval there), where the interval has no bounds.
#[test]
fn the_median_has_no_upper_bound_where_only_a_curve_at_zero_gives_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = [
        (13.98, 1),
        (1.79, 1),
        (33.09, 1),
        (14.53, 1),
        (0.5, 0),
        (8.06, 0),
        (4.66, 0),
        (5.14, 0),
        (6.2, 0),
        (5.83, 0),
        (2.37, 0),
        (3.5, 0),
        (28.93, 1),
        (53.42, 0),
        (103.52, 1),
    ];
    let mut csv = String::from("USUBJID,ARMCD,PFS_MONTHS,PFS_EVENT,f1\n");
    for (i, (t, e)) in data.iter().enumerate() {
        csv += &format!("S{i},A,{t},{e},{i}\n");
    }
    let table = dir.path().join("t.csv");
    std::fs::write(&table, csv).unwrap();
    let stats = analyze_ok(&table, &dir.path().join("out"), &[]);
    let km = &stats["km"];
    assert_eq!(km["median"], 28.93);
    assert_eq!(km["median_ci"], serde_json::json!([13.98, null]));
    assert!(
        km["note"].as_str().unwrap().contains("interval is open"),
        "{km}"
    );
    let summary = std::fs::read_to_string(dir.path().join("out/summary.md")).unwrap();
    assert!(
        summary.contains("median 28.9 (95% CI 14.0 to NE) (NE: not estimable)"),
        "{summary}"
    );
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(html.contains("Median 28.9 months (95% CI 14.0 – NE)"));
    assert!(html.contains("NE: not estimable"));
}

/// The one subject at or above the cut-off is censored before the first event: no event falls
/// while both groups are at risk, so there is no test (R's survdiff says chisq 0, p = 1). The
/// note said "leaves an empty group or no event", which is neither.
#[test]
fn a_cut_off_without_information_says_why_not_empty_group() {
    let dir = tempfile::tempdir().unwrap();
    let data = [
        (2.07, 1, 0.211),
        (26.3, 1, -2.174),
        (10.6, 0, -0.023),
        (0.95, 0, 2.058),
        (1.56, 0, 0.888),
        (15.1, 1, 0.646),
        (0.92, 0, 1.037),
        (4.17, 0, -0.032),
        (40.75, 0, -0.277),
        (0.65, 0, -1.265),
        (1.54, 1, 1.029),
        (19.67, 1, -1.606),
        (1.49, 0, 0.051),
    ];
    let mut csv = String::from("USUBJID,ARMCD,PFS_MONTHS,PFS_EVENT,f1\n");
    for (i, (t, e, x)) in data.iter().enumerate() {
        csv += &format!("S{i},A,{t},{e},{x}\n");
    }
    let table = dir.path().join("t.csv");
    std::fs::write(&table, csv).unwrap();
    let stats = analyze_ok(&table, &dir.path().join("out"), &["--cutoff", "f1=2.058"]);
    let f1 = feature(&stats, "f1");
    assert!(f1["logrank_cutoff"].is_null());
    let note = f1["note"].as_str().unwrap();
    assert!(
        note.contains("no test at the cut-off 2.058 (1 high, 12 low): no event occurs while both groups are at risk"),
        "{note}"
    );
    assert!(!note.contains("empty group"), "{note}");
}

/// A missing endpoint column is named with the closest column and the clinical ones, not with the
/// hundreds of feature columns of an analysis table (the message ran to 28,000 characters).
#[test]
fn a_missing_column_names_the_closest_not_every_feature() {
    let dir = tempfile::tempdir().unwrap();
    let mut header = String::from("USUBJID,ARMCD,PFS_MONTHS,PFS_EVENT");
    let mut row = String::from("S1,A,3,1");
    for i in 0..300 {
        header += &format!(",pt_tumor_f{i}");
        row += ",1";
    }
    let table = dir.path().join("t.csv");
    std::fs::write(&table, format!("{header}\n{row}\n")).unwrap();
    let out = analyze(&table, &dir.path().join("out"), &["--time", "PFS_MONTH"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has no column \"PFS_MONTH\" (the closest is \"PFS_MONTHS\"; columns: USUBJID, ARMCD, PFS_MONTHS, PFS_EVENT and 300 feature columns)"),
        "{err}"
    );
    assert!(!err.contains("pt_tumor_f1"), "{err}");
}

/// The numbers R's survival 3.5.3 gives on the rossi and waltons tables
/// (test-data/r-survival/reference.csv, made by make_reference.R there): Kaplan–Meier with both
/// interval types, median and its interval, 12/24-month rates, Cox (Efron), median-split log-rank,
/// Spearman with the viable tumour % (t approximation, as `cor.test(exact = FALSE)`), ROC AUC for
/// pCR with DeLong's interval (pROC 1.18.0).
#[test]
fn rossi_and_waltons_match_r_survival() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data");
    let reference =
        ancilla::clinical::tables::TextTable::read(&root.join("r-survival/reference.csv")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut stats = std::collections::BTreeMap::new();
    for (table, path) in [
        ("rossi", root.join("lifelines/rossi_analysis.csv")),
        ("waltons", root.join("r-survival/waltons_analysis.csv")),
    ] {
        for ci in ["log-log", "log"] {
            let out = dir.path().join(format!("{table}-{ci}"));
            stats.insert((table, ci), analyze_ok(&path, &out, &["--ci", ci]));
        }
    }
    let mut compared = 0;
    for row in &reference.rows {
        let [table, ci, quantity, index, value] = &row[..] else {
            panic!("{row:?}")
        };
        let s = &stats[&(
            if table == "rossi" { "rossi" } else { "waltons" },
            if ci == "log" { "log" } else { "log-log" },
        )];
        let km = &s["km"];
        let at = |t: &str| -> usize {
            let t: f64 = t.parse().unwrap();
            let timeline = km["timeline"].as_array().unwrap();
            timeline
                .iter()
                .position(|x| x.as_f64() == Some(t))
                .unwrap_or_else(|| panic!("{table}: no time {t} in the timeline"))
        };
        let rate = |t: &str| -> &Value {
            km["rates"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["month"].as_f64() == t.parse().ok())
                .unwrap()
        };
        let got = match quantity.as_str() {
            "survival" | "ci_lower" | "ci_upper" => &km[quantity.as_str()][at(index)],
            "median" => &km["median"],
            "median_lower" => &km["median_ci"][0],
            "median_upper" => &km["median_ci"][1],
            "rate" => &rate(index)["survival"],
            "rate_lower" => &rate(index)["ci"][0],
            "rate_upper" => &rate(index)["ci"][1],
            q => {
                let f = feature(s, index);
                match q {
                    "cox_coef" => &f["cox"]["coef"],
                    "cox_se" => &f["cox"]["se"],
                    "cox_p_wald" => &f["cox"]["p_wald"],
                    "cox_p_lr" => &f["cox"]["p_lr"],
                    "cox_concordance" => &f["cox"]["concordance"],
                    "logrank_statistic" => &f["logrank_median_split"]["statistic"],
                    "logrank_p" => &f["logrank_median_split"]["p"],
                    "spearman_rho" => &f["spearman_viable_tumor"]["rho"],
                    "spearman_p" => &f["spearman_viable_tumor"]["p"],
                    "roc_auc" => &f["roc_pcr"]["auc"],
                    "roc_lower" => &f["roc_pcr"]["ci"][0],
                    "roc_upper" => &f["roc_pcr"]["ci"][1],
                    other => panic!("unknown quantity {other}"),
                }
            }
        };
        // R wrote NA where it gives no number; tables read it as a missing (empty) cell.
        if value.is_empty() && quantity.starts_with("ci_") {
            // Where the curve reaches 0 R gives no interval; ancilla gives [0, 0], as lifelines
            // 0.30.3 does (src/stats/lifelines_reference.rs, waltons).
            assert_eq!(km["survival"][at(index)], 0.0, "{row:?}");
            assert_eq!(got.as_f64(), Some(0.0), "{row:?}");
        } else if value.is_empty() {
            assert!(got.is_null(), "{row:?}: {got}");
        } else {
            // R's Cox stops its Newton steps once the log-likelihood changes by less than 1e-9
            // (coxph.control's eps), ancilla's later: its Wald p differs by 2e-7 relative. The
            // rest is closed-form and agrees to rounding.
            let rel = if quantity.starts_with("cox_") {
                1e-6
            } else {
                1e-10
            };
            close(got, value.parse().unwrap(), rel);
        }
        compared += 1;
    }
    assert_eq!(compared, 553);
}

/// A table whose first `events` subjects have an event, plus a text column and an empty feature.
fn small_table(dir: &Path, events: usize) -> PathBuf {
    let mut csv = String::from(
        "USUBJID,ARMCD,PFS_MONTHS,PFS_EVENT,OS_MONTHS,OS_EVENT,PCR,VIABLE_TUMOR_PCT,ISUP,NECROSIS_PCT,site_name,pt_tumor_stat_max,pt_empty\n",
    );
    // ISUP and NECROSIS_PCT are numbers but pathology, never features (link writes them).
    for i in 0..12 {
        csv += &format!(
            "S{i:02},A,{},{},{},0,{},{},{},{},site{},{},\n",
            3 + i,
            u8::from(i < events),
            3 + i,
            i % 2,
            10 * i,
            i % 4 + 1,
            5 * i,
            i % 3,
            f64::from(i as u32) * 1.5 + f64::from((i * 7 % 5) as u32),
        );
    }
    let path = dir.join("table.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

#[test]
fn cox_is_refused_below_five_events_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let table = small_table(dir.path(), 4);
    let out = analyze(&table, &dir.path().join("out"), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/stats.json")).unwrap()).unwrap();
    let names: Vec<&str> = stats["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["feature"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pt_tumor_stat_max"]);
    let f = feature(&stats, "pt_tumor_stat_max");
    assert_eq!(f["events"], 4);
    assert!(f["cox"].is_null());
    assert!(f["q_value"].is_null());
    assert!(
        f["note"].as_str().unwrap().contains("4 events, at least 5"),
        "{f}"
    );
    // The rest is still computed.
    assert!(f["spearman_viable_tumor"]["rho"].is_number());
    assert!(f["roc_pcr"]["auc"].is_number());

    // OS has no events: the endpoint option is honoured.
    let out = analyze(
        &table,
        &dir.path().join("os"),
        &["--time", "OS_MONTHS", "--event", "OS_EVENT"],
    );
    assert!(out.status.success());
    let stats: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("os/stats.json")).unwrap()).unwrap();
    assert_eq!(stats["endpoint"]["events"], 0);
    assert_eq!(stats["km"]["survival"][1], 1.0);
    // `--time OS_MONTHS` alone takes OS_EVENT: the same statistics (it paired OS times with PFS
    // events, without a word; a new user's audit).
    let out = analyze(
        &table,
        &dir.path().join("os-alone"),
        &["--time", "OS_MONTHS"],
    );
    assert!(out.status.success());
    assert_eq!(
        std::fs::read(dir.path().join("os-alone/stats.json")).unwrap(),
        std::fs::read(dir.path().join("os/stats.json")).unwrap()
    );
    // A time of one endpoint with the event of another is a usage error, as in a config.
    let out = analyze(
        &table,
        &dir.path().join("mixed"),
        &["--time", "OS_MONTHS", "--event", "PFS_EVENT"],
    );
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("time \"OS_MONTHS\" and event \"PFS_EVENT\" are of two endpoints"),
        "{said}"
    );
    assert!(!dir.path().join("mixed/stats.json").exists());
    // A time column of another name needs its event (it took PFS_EVENT, without a word).
    let out = analyze(&table, &dir.path().join("other"), &["--time", "ISUP"]);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("--event is needed"), "{said}");
}

/// A configured cut-off that makes the same groups as the median split (integer ages: age > median
/// ⇔ age ≥ ⌊median⌋ + 1) gives lifelines' median-split log-rank; `--ci log` switches the KM
/// interval; bad options are usage errors.
#[test]
fn cutoff_logrank_and_log_interval() {
    let dir = tempfile::tempdir().unwrap();
    let first = analyze(&fixture(), &dir.path().join("a"), &[]);
    assert!(first.status.success());
    let stats: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("a/stats.json")).unwrap()).unwrap();
    let median = feature(&stats, "age")["logrank_median_split"]["cutoff"]
        .as_f64()
        .unwrap();
    assert!(feature(&stats, "age").get("logrank_cutoff").is_none());
    let cut = format!("age={}", median.floor() + 1.0);
    let out = analyze(
        &fixture(),
        &dir.path().join("b"),
        &["--cutoff", &cut, "--cutoff", "prio=100", "--ci", "log"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("b/stats.json")).unwrap()).unwrap();
    let lr = &feature(&stats, "age")["logrank_cutoff"];
    close(&lr["statistic"], r::ROSSI_AGE_SPLIT_LOGRANK_STAT, 1e-10);
    close(&lr["p"], r::ROSSI_AGE_SPLIT_LOGRANK_P, 1e-9);
    assert_eq!(
        lr["n_high"].as_u64().unwrap() + lr["n_low"].as_u64().unwrap(),
        432
    );
    // No one has 100 prior convictions: an empty group, reported as null with a note.
    let prio = feature(&stats, "prio");
    assert!(prio["logrank_cutoff"].is_null());
    assert!(prio["note"].as_str().unwrap().contains("cut-off 100"));
    // The median split's groups are counted too: the same as this cut-off's (integer ages).
    let split = &feature(&stats, "age")["logrank_median_split"];
    assert_eq!(split["n_high"], lr["n_high"]);
    assert_eq!(split["n_low"], lr["n_low"]);
    // The fixed cut-offs have their own table in summary.md and the report (they were only in
    // stats.json).
    let summary = std::fs::read_to_string(dir.path().join("b/summary.md")).unwrap();
    assert!(
        summary.contains(&format!(
            "| age | {} | {} | {} | {:.2e} |",
            serde_json::json!(median.floor() + 1.0),
            lr["n_high"],
            lr["n_low"],
            r::ROSSI_AGE_SPLIT_LOGRANK_P
        )),
        "{summary}"
    );
    assert!(
        summary.contains("| prio | – | – | – | no test (see Notes) |"),
        "{summary}"
    );
    let html = std::fs::read_to_string(dir.path().join("b/report.html")).unwrap();
    assert!(html.contains("<h2>Log-rank at fixed cut-offs (high: value ≥ cut-off)</h2>"));
    assert!(html.contains(&format!(
        "<tr><td>age</td><td>{}</td>",
        median.floor() + 1.0
    )));
    assert!(html.contains(
        "<tr><td>prio</td><td>–</td><td>–</td><td>–</td><td>no test (the feature's note in \
         summary.md says why)</td></tr>"
    ));
    assert_eq!(stats["km"]["ci_method"], "log");
    // The log interval is S·exp(∓zσ): wider below than log-log's on this curve, never above 1.
    let (s, lo) = (&stats["km"]["survival"], &stats["km"]["ci_lower"]);
    let k = s.as_array().unwrap().len() - 1;
    assert!(lo[k].as_f64().unwrap() < s[k].as_f64().unwrap());

    for bad in [
        vec!["--cutoff", "age"],
        vec!["--cutoff", "agee=3"],
        vec!["--ci", "plain"],
    ] {
        let out = analyze(&fixture(), &dir.path().join("c"), &bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(!dir.path().join("c/stats.json").exists());
        // A mistyped column is named with the closest one.
        if bad[1] == "agee=3" {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(r#"the closest is "age""#), "{err}");
        }
        if bad[1] == "plain" {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(r#"expected log-log or log, found "plain""#),
                "{err}"
            );
        }
    }
}

#[test]
fn bad_input_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let table = small_table(dir.path(), 6);
    let out = analyze(&table, &dir.path().join("o1"), &["--time", "PFS_DAYS"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PFS_DAYS"));

    let out = analyze(&dir.path().join("missing.csv"), &dir.path().join("o2"), &[]);
    assert_eq!(out.status.code(), Some(2));

    let text = std::fs::read_to_string(&table)
        .unwrap()
        .replacen(",3,1,", ",3,2,", 1);
    std::fs::write(&table, text).unwrap();
    let out = analyze(&table, &dir.path().join("o3"), &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("row 2") && err.contains("PFS_EVENT"), "{err}");
    assert!(!dir.path().join("o3/stats.json").exists());
}

/// The same table as Parquet written by pandas 2.3.3 / pyarrow 26 (nullable PCR with one
/// unknown, float `age` with one missing value): the missing cells drop out per analysis.
#[test]
fn parquet_table_from_pandas() {
    let dir = tempfile::tempdir().unwrap();
    let table =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/lifelines/rossi_analysis.parquet");
    let out = analyze(&table, dir.path(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("stats.json")).unwrap()).unwrap();
    assert_eq!(stats["endpoint"]["n"], 432);
    assert_eq!(stats["endpoint"]["events"], 114);
    // prio is complete: identical to lifelines except the ROC, which lost one subject.
    let prio = feature(&stats, "prio");
    close(&prio["cox"]["coef"], r::ROSSI_PRIO_COEF, 1e-7);
    close(
        &prio["cox"]["concordance"],
        r::ROSSI_PRIO_CONCORDANCE,
        1e-12,
    );
    assert_eq!(
        prio["roc_pcr"]["n_pcr"].as_u64().unwrap() + prio["roc_pcr"]["n_no_pcr"].as_u64().unwrap(),
        431
    );
    let age = feature(&stats, "age");
    assert_eq!(age["n"], 431);
    assert_eq!(age["spearman_viable_tumor"]["n"], 431);
}

/// The issue-5 check on the stats side: the phantom's planted relation (log hazard of
/// progression = 0.15 × (tumour SUVbw − 10)) is found on 60 subjects. The analysis table is
/// joined here from the phantom's ADTTE, pathology and ground-truth tumour SUVbw (standing in
/// for the measured feature; the clinical linkage has its own end-to-end test).
#[test]
fn phantom_planted_relation_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let ph = dir.path().join("phantom");
    let out = Command::new(env!("CARGO_BIN_EXE_ancilla"))
        .args([
            "phantom",
            "--quiet",
            "--subjects",
            "60",
            "--seed",
            "1",
            "--out",
        ])
        .arg(&ph)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let truth: Value =
        serde_json::from_slice(&std::fs::read(ph.join("ground_truth.json")).unwrap()).unwrap();
    let read = |name: &str| -> Vec<Vec<String>> {
        let mut rdr = csv::Reader::from_path(ph.join("clinical").join(name)).unwrap();
        let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
        let mut rows = vec![header];
        rows.extend(
            rdr.records()
                .map(|r| r.unwrap().iter().map(String::from).collect()),
        );
        rows
    };
    let col = |rows: &[Vec<String>], name: &str| rows[0].iter().position(|h| h == name).unwrap();
    let (tte, path) = (read("adtte.csv"), read("pathology.csv"));
    let (tu, tp, ta, tc) = (
        col(&tte, "USUBJID"),
        col(&tte, "PARAMCD"),
        col(&tte, "AVAL"),
        col(&tte, "CNSR"),
    );
    let (pu, pv) = (col(&path, "USUBJID"), col(&path, "VIABLE_TUMOR_PCT"));
    let mut csv = String::from(
        "USUBJID,ARMCD,PFS_MONTHS,PFS_EVENT,PCR,VIABLE_TUMOR_PCT,pt_tumor_suvbw_truth\n",
    );
    let mut n = 0;
    for s in truth["subjects"].as_array().unwrap() {
        if s["armcd"] != "A" {
            continue;
        }
        let id = s["usubjid"].as_str().unwrap();
        let Some(pfs) = tte[1..].iter().find(|r| r[tu] == id && r[tp] == "PFS") else {
            continue;
        };
        let viable = path[1..]
            .iter()
            .find(|r| r[pu] == id)
            .map(|r| r[pv].clone())
            .unwrap_or_default();
        let pcr = match viable.parse::<f64>() {
            Ok(v) => u8::from(v == 0.0).to_string(),
            Err(_) => String::new(),
        };
        let event = u8::from(pfs[tc] == "0");
        let suv = s["regions"]["tumor"]["suvbw"].as_f64().unwrap();
        csv += &format!("{id},A,{},{event},{pcr},{viable},{suv}\n", pfs[ta]);
        n += 1;
    }
    assert_eq!(n, 60);
    let table = dir.path().join("table.csv");
    std::fs::write(&table, csv).unwrap();
    let out = analyze(&table, &dir.path().join("stats"), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("stats/stats.json")).unwrap())
            .unwrap();
    let f = feature(&stats, "pt_tumor_suvbw_truth");
    assert_eq!(f["n"], 60);
    let cox = &f["cox"];
    assert!(cox["hr"].as_f64().unwrap() > 1.0, "{cox}");
    assert!(cox["p_wald"].as_f64().unwrap() < 0.05, "{cox}");
    assert!(cox["p_lr"].as_f64().unwrap() < 0.05, "{cox}");
    // The planted coefficient lies inside the 95% CI of the HR.
    let planted = 0.15f64.exp();
    assert!(
        cox["hr_ci"][0].as_f64().unwrap() < planted && planted < cox["hr_ci"][1].as_f64().unwrap()
    );
}

/// Regression: a time written "NaN" (pandas' missing value) is left out of the statistics, as
/// before, and now of the report too, whose Kaplan–Meier curve looped on it until memory ran
/// out (the process was killed; stats.json was already written).
#[test]
fn a_nan_time_is_missing_in_the_statistics_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let table = small_table(dir.path(), 6);
    let text = std::fs::read_to_string(&table).unwrap();
    std::fs::write(&table, text.replacen("S00,A,3,", "S00,A,NaN,", 1)).unwrap();
    let stats = analyze_ok(&table, &dir.path().join("out"), &[]);
    assert_eq!(stats["endpoint"]["n"], 11);
    assert_eq!(stats["endpoint"]["left_out"], 1);
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(html.contains("Kaplan–Meier"), "the report is whole");
}

/// A column of numbers with one cell that is not a number (text, an infinity) was silently not
/// analysed; it is now named, with its first such row, in stats.json and summary.md. Text
/// columns (a site name) stay out without a word.
#[test]
fn a_numeric_column_with_a_cell_that_is_not_a_number_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let table = small_table(dir.path(), 6);
    let text = std::fs::read_to_string(&table).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    // Row 5 of the file (the fourth subject): its pt_tumor_stat_max is the 12th cell.
    let mut cells: Vec<String> = lines[4].split(',').map(String::from).collect();
    cells[11] = "inf".into();
    lines[4] = cells.join(",");
    std::fs::write(&table, lines.join("\n") + "\n").unwrap();
    let stats = analyze_ok(&table, &dir.path().join("out"), &[]);
    assert!(stats["features"].as_array().unwrap().is_empty());
    let na = &stats["not_analysed"];
    assert_eq!(na.as_array().unwrap().len(), 2, "{na}");
    assert_eq!(na[0]["column"], "pt_tumor_stat_max");
    assert_eq!(na[0]["row"], 5);
    // The table's column without any value is named too (it was dropped without a word).
    assert_eq!(na[1]["column"], "pt_empty");
    assert!(na[1]["row"].is_null());
    let summary = std::fs::read_to_string(dir.path().join("out/summary.md")).unwrap();
    assert!(
        summary.contains(
            "Not analysed: column pt_tumor_stat_max: row 5 is not a number (nor empty, NA, NaN \
             or .) in a column of 11 numbers."
        ),
        "{summary}"
    );
    assert!(!summary.contains("site_name"), "{summary}");
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(
        html.contains("<li class=\"warn\">Not analysed: column pt_tumor_stat_max: row 5"),
        "the report's warnings say it too"
    );
}

/// One row per subject (a subject twice counted twice in every test, n = 13 of 12), and one
/// cut-off per feature (a second `--cutoff` silently replaced the first).
#[test]
fn a_subject_twice_or_a_cut_off_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let table = small_table(dir.path(), 6);
    let text = std::fs::read_to_string(&table).unwrap();
    let first = text.lines().nth(1).unwrap().to_string();
    std::fs::write(&table, format!("{text}{first}\n")).unwrap();
    let out = analyze(&table, &dir.path().join("o1"), &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("row 14, column USUBJID: S00 is also in row 2: one row per subject"),
        "{err}"
    );
    let table = small_table(dir.path(), 6);
    let out = analyze(
        &table,
        &dir.path().join("o2"),
        &[
            "--cutoff",
            "pt_tumor_stat_max=10",
            "--cutoff",
            "pt_tumor_stat_max=8",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--cutoff gives pt_tumor_stat_max twice (10 and 8): one cut-off per feature"),
        "{err}"
    );
}
