//! The inventory as JSON for `scan --json`: counts, series and rejection reasons, with no PHI —
//! subjects are numbered or named by their trial pseudonym, studies and series numbered; no
//! paths, IDs, names or UIDs.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::Inventory;

/// Build the PHI-free inventory document.
pub fn to_json(inv: &Inventory) -> Value {
    to_json_named(inv, |_| None)
}

/// The inventory with each subject named by `name` (its trial pseudonym, given its PatientID)
/// where that gives one, else numbered (`S001`, …, in order of first appearance).
pub fn to_json_named(inv: &Inventory, name: impl Fn(&str) -> Option<String>) -> Value {
    let mut subjects: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &inv.series {
        let n = subjects.len() + 1;
        subjects.entry(s.patient_id.as_str()).or_insert(n);
    }
    let mut studies: BTreeMap<&str, usize> = BTreeMap::new();
    let series: Vec<Value> = inv
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let n = studies.len() + 1;
            let study = *studies.entry(s.study_uid.as_str()).or_insert(n);
            let (volumes, problem) = match &s.plan {
                Ok(plans) => (
                    plans
                        .iter()
                        .map(|p| {
                            json!({
                                "label": p.label,
                                "dims": [p.columns, p.rows, p.slices.len()],
                                "spacing_mm": p.geometry.spacing,
                            })
                        })
                        .collect::<Vec<_>>(),
                    Value::Null,
                ),
                Err(why) => (Vec::new(), Value::String(why.clone())),
            };
            json!({
                "series": i + 1,
                "subject": name(&s.patient_id).unwrap_or_else(|| format!("S{:03}", subjects.get(s.patient_id.as_str()).copied().unwrap_or(0))),
                "study": study,
                "modality": s.modality,
                "kind": s.kind.as_str(),
                "kind_from_description": s.kind_from_description,
                "part": s.part.map(|(i, n)| json!([i, n])),
                // StudyInstanceUIDs its files carry (more than 1: a writer's fault, said).
                "study_uids": s.studies,
                "files": s.files.len(),
                "images": s.image_count(),
                "volumes": volumes,
                "problem": problem,
            })
        })
        .collect();
    // Each with its subject where its header told the patient (a truncated file's, say), named
    // as the series are: a monitor can then query the site about it (they were anonymous).
    let rejected: Vec<Value> = inv
        .rejected
        .iter()
        .map(|r| {
            let subject = r
                .patient_id
                .as_deref()
                .and_then(|p| name(p).or_else(|| subjects.get(p).map(|n| format!("S{n:03}"))));
            let mut v = json!({ "reason": r.reason.to_string(), "kind": r.reason.kind() });
            if let Some(subject) = subject {
                v["subject"] = json!(subject);
            }
            v
        })
        .collect();
    json!({
        "files": inv.files_seen,
        "files_used": inv.files_used(),
        "files_rejected": inv.files_rejected(),
        "subjects": subjects.len(),
        "rejected_by_reason": inv.rejected_by_reason(),
        "series": series,
        "rejected_files": rejected,
    })
}
