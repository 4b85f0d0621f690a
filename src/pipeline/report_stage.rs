//! The report stage of the pipeline: `report.html` from the run's outputs (the flow counts of
//! the analysed arm, the QC gallery of PET MIPs and MRI slices with the tumour outlined, the
//! statistics' figures and tables, every warning grouped by reason), and the QC images it
//! draws from each subject's NIfTI files and masks.

use std::path::Path;

use serde_json::Value;

use crate::ingest::SeriesKind;
use crate::roi;

use super::features_stage::{dicom_roi, find_nifti, label_map_file, subjects_in};

/// QC images of one subject: PET MIP with the tumour (label `tumor`) outlined, T2 slice through
/// the tumour. Without a tumour label: the MIP alone. The regions come from the subject's NIfTI
/// label maps under `masks`, or else from the DICOM SEG / RTSTRUCT the features stage used.
fn qc_images(
    out: &Path,
    masks: Option<&Path>,
    id: &str,
    tumor: Option<u32>,
) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    use crate::report::qc;
    // A label no mask holds: nothing outlined, no slice to go through.
    let tumor = tumor.unwrap_or(u32::MAX);
    let nifti = out.join("nifti").join(id);
    // The subject's de-identified tree, scanned when a DICOM ROI is needed, once.
    let inv = std::cell::OnceCell::new();
    let labels_for = |image: &crate::volume::Volume, file: &str, kind: SeriesKind| {
        if let Some(p) = label_map_file(masks, id, file) {
            return roi::label_map_for(image, &p).ok().map(|lm| lm.labels);
        }
        let inv = inv
            .get_or_init(|| crate::ingest::scan_paths_for_suv(&[out.join("deid").join(id)]).ok())
            .as_ref()?;
        let s = inv.series.iter().find(|s| s.kind == kind && s.is_image())?;
        let path = dicom_roi(inv, s).ok()??;
        roi::load_rois(image, None, &path)
            .ok()
            .map(|rois| rois.label_grid(image.dims()))
    };
    let suv = crate::volume::nifti_io::read_volume(&find_nifti(&nifti, "_suvbw")?).ok()?;
    let labels = labels_for(&suv, "pet_labels", SeriesKind::Pet)?;
    let pet = qc::png(&qc::coronal_mip(&suv, &labels, tumor), 0.0, 10.0, true, 2);
    let mr = (|| {
        let t2 = crate::volume::nifti_io::read_volume(&find_nifti(&nifti, "_mr_t2")?).ok()?;
        let labels = labels_for(&t2, "mr_labels", SeriesKind::T2)?;
        let pic = qc::slice_through(&t2, &labels, tumor)?;
        let hi = pic.grey.iter().cloned().fold(0.0f32, f32::max);
        Some(qc::png(&pic, 0.0, hi, false, 1))
    })();
    Some((pet, mr))
}

/// The report's warning lines: one per reason, in first-seen order, naming its subjects once
/// each (the first 8, then how many more) and how many series or files it concerns when that is
/// more than one a subject. The same sentence for many subjects (a region outside every MRI's
/// field of view, a weight removed by de-identification) is one line, not one a subject.
fn grouped_warnings(problems: &[Value]) -> Vec<String> {
    struct Group<'a> {
        what: &'a str,
        subjects: Vec<&'a str>,
        count: usize,
        unit: &'static str,
    }
    let mut order: Vec<Group> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for p in problems {
        let what = p
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("rejected");
        // A series' problem names its kind; a rejected input file, its kind of rejection.
        let unit = if p.get("series_kind").is_some() {
            "series"
        } else if p.get("kind").is_some() {
            "files"
        } else {
            "times"
        };
        let i = *index.entry(what).or_insert_with(|| {
            order.push(Group {
                what,
                subjects: Vec::new(),
                count: 0,
                unit,
            });
            order.len() - 1
        });
        let g = &mut order[i];
        g.count += 1;
        if g.unit != unit {
            g.unit = "times";
        }
        if let Some(s) = p.get("subject").and_then(Value::as_str) {
            if !g.subjects.contains(&s) {
                g.subjects.push(s);
            }
        }
    }
    order
        .into_iter()
        .map(|g| {
            let what = g.what;
            let (count, unit) = (g.count, g.unit);
            let n = g.subjects.len();
            // How many, when the subjects alone do not say it.
            let many = (count > n.max(1)).then(|| format!("{count} {unit}"));
            match (n, many) {
                (0, None) => what.to_string(),
                (0, Some(many)) => format!("{many}: {what}"),
                (1, None) => format!("{}: {what}", g.subjects[0]),
                (1, Some(many)) => format!("{} ({many}): {what}", g.subjects[0]),
                (n, many) => {
                    let names = crate::plural::listed(&g.subjects);
                    let many = many.map(|m| format!(", {m}")).unwrap_or_default();
                    format!("{n} subjects ({names}){many}: {what}")
                }
            }
        })
        .collect()
}

/// Write `report.html` into `out`; `adsl` is the subjects table with the ARMCD analysed.
pub fn report(
    out: &Path,
    analysis: Option<(&Path, &Path)>,
    adsl: Option<(&Path, &str)>,
    masks: Option<&Path>,
    tumor: Option<u32>,
    rejected: &[Value],
    not_run: &str,
) -> Result<String, String> {
    use crate::clinical::tables::TextTable;
    // The statistics and the analysis table, when the run had clinical tables: else the report is
    // the imaging run's (flow, QC gallery, warnings) and says the statistics were not run.
    let (stats, t) = match analysis {
        Some((stats, table)) => {
            let stats: Value =
                serde_json::from_str(&std::fs::read_to_string(stats).map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?;
            (
                stats,
                Some(TextTable::read(table).map_err(|e| e.to_string())?),
            )
        }
        None => (Value::Null, None),
    };
    let subjects = subjects_in(&out.join("deid"));
    let (counts, flow_aside) = flow(out, adsl, t.as_ref(), &subjects);
    let warnings = grouped_warnings(rejected);
    let (qc, qc_missing) = qc_gallery(out, masks, &subjects, tumor);
    let (header, rows) = t.as_ref().map_or((&[][..], &[][..]), |t| {
        (t.header.as_slice(), t.rows.as_slice())
    });
    let page = crate::report::html::render(&crate::report::html::ReportData {
        title: "ancilla — imaging ancillary study report",
        stats: &stats,
        header,
        rows,
        counts: &counts,
        warnings: &warnings,
        qc: &qc,
        qc_missing: &qc_missing,
        flow_aside: &flow_aside,
        not_run,
    });
    let html = out.join("report.html");
    crate::atomic::write_bytes(&html, page.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", html.display()))?;
    Ok(format!(
        "report.html (QC of {}, {})",
        crate::plural::count(qc.len(), "subject"),
        crate::plural::count(warnings.len(), "warning")
    ))
}

/// The report's flow, CONSORT-style: randomised, the analysed arm, imaged (`subjects`, the
/// de-identified tree's), with features, linked; and sentences beside it on the subjects outside
/// its chain. With ADSL's ARMCD and USUBJID the chain follows the analysed arm alone.
fn flow(
    out: &Path,
    adsl: Option<(&Path, &str)>,
    t: Option<&crate::clinical::tables::TextTable>,
    subjects: &[String],
) -> (Vec<(String, usize)>, Vec<String>) {
    use crate::clinical::tables::TextTable;
    let mut counts = Vec::new();
    // The analysed arm's subjects (USUBJIDs), where ADSL names them.
    let mut arm_ids: Option<(String, std::collections::BTreeSet<String>)> = None;
    if let Some((a, arm)) = adsl.and_then(|(p, arm)| Some((TextTable::read(p).ok()?, arm))) {
        counts.push(("randomised".to_string(), a.rows.len()));
        if let Some(c) = a.col("ARMCD") {
            let in_arm: Vec<&Vec<String>> = a
                .rows
                .iter()
                .filter(|r| r[c].trim().eq_ignore_ascii_case(arm.trim()))
                .collect();
            counts.push((format!("arm {arm}"), in_arm.len()));
            if let Some(u) = a.col("USUBJID") {
                arm_ids = Some((
                    arm.to_string(),
                    in_arm.iter().map(|r| r[u].trim().to_string()).collect(),
                ));
            }
        }
    }
    let in_arm = |id: &str| arm_ids.as_ref().is_none_or(|(_, ids)| ids.contains(id));
    let imaged_in_arm = subjects.iter().filter(|s| in_arm(s)).count();
    let mut flow_aside = Vec::new();
    match &arm_ids {
        Some((arm, _)) => {
            counts.push((format!("arm {arm} imaged and de-identified"), imaged_in_arm));
            let others = subjects.len() - imaged_in_arm;
            if others > 0 {
                flow_aside.push(format!(
                    "Also imaged and de-identified: {} outside arm {arm} \
                     (QC gallery below; kept out of the analysis).",
                    crate::plural::count(others, "subject")
                ));
            }
        }
        None => counts.push(("imaged and de-identified".to_string(), subjects.len())),
    }
    // Subjects with features, read row by row (the table is the largest file of a run; it is
    // never held whole). An unreadable table counts none.
    let mut with_features = std::collections::BTreeSet::new();
    let _ = TextTable::for_each_row(
        &out.join("features").join("features.csv"),
        &["subject_id"],
        |_, row| {
            if !row[0].is_empty() {
                with_features.insert(row[0].to_string());
            }
        },
    );
    counts.push((
        "with features".to_string(),
        with_features.iter().filter(|s| in_arm(s)).count(),
    ));
    if let Some(t) = t {
        let arm = adsl.map_or("A", |(_, arm)| arm);
        let linked = with_feature_values(t);
        counts.push((format!("linked (arm {arm}, analysed)"), linked));
        // The table has every subject of the arm: those without imaging count in the curve of
        // the whole arm, which the flow's last box did not say.
        let without = t.rows.len().saturating_sub(linked);
        if without > 0 {
            flow_aside.push(format!(
                "Also in the analysis table: {} of arm {arm} without imaging features, in the \
                 Kaplan–Meier curve of the arm (where they have the endpoint) but in no \
                 feature's statistics.",
                crate::plural::count(without, "subject")
            ));
        }
    }
    (counts, flow_aside)
}

/// Every imaged subject's QC pictures (a QC reviewer checks each ROI), subjects in parallel, and
/// the subjects that have none.
fn qc_gallery(
    out: &Path,
    masks: Option<&Path>,
    subjects: &[String],
    tumor: Option<u32>,
) -> (Vec<crate::report::html::QcImages>, Vec<String>) {
    let pictures: Vec<_> = {
        use rayon::prelude::*;
        subjects
            .par_iter()
            .map(|id| qc_images(out, masks, id, tumor))
            .collect()
    };
    let mut qc: Vec<crate::report::html::QcImages> = Vec::new();
    let mut qc_missing = Vec::new();
    for (id, pictures) in subjects.iter().zip(pictures) {
        match pictures {
            Some((pet, mr)) => qc.push((id.clone(), pet, mr)),
            None => qc_missing.push(id.clone()),
        }
    }
    (qc, qc_missing)
}

/// Rows of an analysis table with a value in a feature column (not in the clinical and pathology
/// columns, which an arm-A subject without imaging has too).
fn with_feature_values(t: &crate::clinical::tables::TextTable) -> usize {
    let feature_columns: Vec<usize> = (0..t.header.len())
        .filter(|&c| !crate::clinical::is_clinical_column(&t.header[c]))
        .collect();
    t.rows
        .iter()
        .filter(|r| {
            feature_columns
                .iter()
                .any(|&c| r.get(c).is_some_and(|v| !v.is_empty()))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Regression: the count took every cell after the eighth column for a feature, so with the
    /// pathology (and the imaging intervals) in the table, an arm-A subject without imaging
    /// counted as analysed.
    #[test]
    fn analysed_subjects_are_those_with_a_feature_value() {
        let table = |rows: &[&str]| {
            crate::clinical::tables::TextTable {
            path: "t.csv".into(),
            header: "USUBJID,ARMCD,PFS_MONTHS,PFS_EVENT,OS_MONTHS,OS_EVENT,PCR,VIABLE_TUMOR_PCT,HISTOLOGY,ISUP,DAYS_RANDOMISATION_TO_IMAGING,pt_tumor_stat_max"
                .split(',')
                .map(String::from)
                .collect(),
            rows: rows
                .iter()
                .map(|r| r.split(',').map(String::from).collect())
                .collect(),
            ..Default::default()
        }
        };
        let t = table(&[
            "A1,A,3,1,5,0,0,40,ccRCC,2,10,7.5",
            "A2,A,4,0,6,0,1,0,ccRCC,,12,",
            "A3,A,5,1,7,1,0,30,papillary,3,,",
        ]);
        assert_eq!(with_feature_values(&t), 1);
    }

    #[test]
    fn one_warning_line_per_reason_naming_its_subjects() {
        let mut problems = vec![json!({"reason": "config says so"})];
        for i in 1..=10 {
            problems.push(json!({"subject": format!("S{i:02}"), "reason": "outside the scan"}));
        }
        problems.push(json!({"subject": "S03", "reason": "no weight"}));
        // One subject's three series, two subjects' five, and 19 rejected files (a run on
        // dicognito's test files listed "3 subjects (S-002, S-002, S-002)").
        let no_mask = |s: &str| json!({"subject": s, "series_kind": "t2", "reason": "no mask"});
        problems.extend([no_mask("S04"), no_mask("S04"), no_mask("S04")]);
        for s in ["S05", "S06", "S05", "S06", "S05"] {
            problems.push(json!({"subject": s, "series_kind": "adc", "reason": "no ADC mask"}));
        }
        for _ in 0..19 {
            problems.push(json!({"kind": "duplicate", "reason": "duplicate SOP instance"}));
        }
        problems.push(json!({"kind": "not_dicom", "reason": "not DICOM"}));
        assert_eq!(
            grouped_warnings(&problems),
            [
                "config says so",
                "10 subjects (S01, S02, S03, S04, S05, S06, S07, S08 and 2 more): outside the scan",
                "S03: no weight",
                "S04 (3 series): no mask",
                "2 subjects (S05, S06), 5 series: no ADC mask",
                "19 files: duplicate SOP instance",
                "not DICOM",
            ]
        );
    }
}
