//! `ancilla run`: the demo pipeline end to end, no-op reruns, resume after SIGKILL with
//! byte-identical outputs, and one test per class of config error.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{all_files, ancilla, ancilla_ok, ground_truth, phantom};

fn config(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("p.toml");
    std::fs::write(&p, body).unwrap();
    p
}

fn demo(dir: &Path, out: &Path, subjects: usize) -> PathBuf {
    config(
        dir,
        &format!(
            "[output]\ndir = \"{}\"\n[phantom]\nsubjects = {subjects}\nseed = 3\n",
            out.display()
        ),
    )
}

/// A one-subject demo run (seed 3) into `dir/name`, with `extra` config lines: its output
/// folder and log. The run must succeed.
/// The config (`dir/p.toml`) of a run of the phantom cohort at `cohort` as a site's export into
/// `out`: [input] its DICOM tree and masks, [deid] its key and subject map, then `extra` lines
/// (more [deid] keys, or other sections).
fn input_config(dir: &Path, cohort: &Path, out: &Path, extra: &str) -> PathBuf {
    config(
        dir,
        &format!(
            "[output]\ndir = \"{}\"\n[input]\ndicom = \"{}\"\nmasks = \"{}\"\n\
             [deid]\nkey = \"{}\"\nsubjects = \"{}\"\n{extra}",
            out.display(),
            cohort.join("site-export").display(),
            cohort.join("masks").display(),
            cohort.join("key.bin").display(),
            cohort.join("clinical/subject_map.csv").display(),
        ),
    )
}

fn one_subject_run(dir: &Path, name: &str, extra: &str) -> (PathBuf, String) {
    let out = dir.join(name);
    let cfg = config(
        dir,
        &format!(
            "[output]\ndir = \"{}\"\n[phantom]\nsubjects = 1\nseed = 3\n{extra}",
            out.display()
        ),
    );
    let o = ancilla(&["run", cfg.to_str().unwrap()]);
    let log = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{log}");
    (out, log)
}

/// Every output file (relative path → bytes), provenance aside (it holds timings), the stamps
/// folder aside (stage stamps hold the outputs' modification times; per-subject state is the
/// pipeline's own), and the site-side log (it holds this run's absolute input paths).
fn outputs(out: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.ends_with("provenance.json")
                && !p.ends_with("deid-site-log.tsv")
                && !p
                    .strip_prefix(out)
                    .unwrap()
                    .components()
                    .any(|c| c.as_os_str() == ".stamps")
            {
                v.push((
                    p.strip_prefix(out).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    v.sort();
    v
}

#[test]
fn demo_runs_every_available_stage_then_reruns_as_noop() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let cfg = demo(d.path(), &out, 2);
    let o = ancilla_ok(&["run", cfg.to_str().unwrap()]);
    assert!(out.join("nifti").is_dir() && out.join("inventory.json").is_file());
    // The features stage counts what was not measured and its warnings where it counts its rows
    // (the parotids lie outside the MRI's field of view: one warning per MR image).
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("feature rows; 0 not measured, 4 warnings (features/problems.json)"),
        "{said}"
    );
    // provenance.json has the clinical tables' HMAC-SHA256 under the study key (RFC 2104, by
    // the hmac crate here, not ancilla's code).
    let provenance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
            .unwrap();
    let key = std::fs::read(out.join("cohort/key.bin")).unwrap();
    for table in ["adsl", "adtte", "pathology"] {
        use hmac::Mac;
        let bytes = std::fs::read(out.join(format!("cohort/clinical/{table}.csv"))).unwrap();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        mac.update(b"ancilla clinical table");
        mac.update(&bytes);
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            provenance["clinical_hmac_sha256"][table],
            hex.as_str(),
            "{table}"
        );
    }
    // Imaging → nephrectomy from the de-identified (shifted) PET date and the key-shifted ADSL
    // equals the real calendar interval (the phantom's true PET date and ADSL's NEPHRDT).
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("cohort/ground_truth.json")).unwrap(),
    )
    .unwrap();
    let adsl =
        ancilla::clinical::tables::TextTable::read(&out.join("cohort/clinical/adsl.csv")).unwrap();
    let table =
        ancilla::clinical::tables::TextTable::read(&out.join("analysis/analysis_table.csv"))
            .unwrap();
    let col = |t: &ancilla::clinical::tables::TextTable, c: &str| t.col(c).unwrap();
    let mut checked = 0;
    for row in &table.rows {
        let id = &row[col(&table, "USUBJID")];
        let subj = truth["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["usubjid"] == id.as_str())
            .unwrap();
        let pet =
            ancilla::datetime::Date::parse(&subj["pet_reference_datetime"].as_str().unwrap()[..8])
                .unwrap();
        let a = adsl
            .rows
            .iter()
            .find(|r| &r[col(&adsl, "USUBJID")] == id)
            .unwrap();
        let neph = ancilla::datetime::Date::parse(&a[col(&adsl, "NEPHRDT")]).unwrap();
        assert_eq!(
            row[col(&table, "DAYS_IMAGING_TO_NEPHRECTOMY")],
            (neph.days() - pet.days()).to_string(),
            "{id}"
        );
        checked += 1;
    }
    assert!(checked > 0);
    // The features stage measures the volumes convert wrote: each subject's PET rows are, to the
    // last digit, what `ancilla features` gives on its SUVbw NIfTI and PET label map (the DICOM
    // route differs in the last bits: float32 affine, mirrored mesh).
    let table = std::fs::read_to_string(out.join("features/features.csv")).unwrap();
    // The long table also as Parquet, cell for cell (DESIGN: in Parquet and CSV).
    let read = |f: &str| ancilla::clinical::tables::TextTable::read(&out.join(f)).unwrap();
    let (csv, parquet) = (
        read("features/features.csv"),
        read("features/features.parquet"),
    );
    assert_eq!((&csv.header, &csv.rows), (&parquet.header, &parquet.rows));
    // imaging.csv joins the feature table on (subject, modality, series): its modality was the
    // DICOM "MR"/"PT" beside the table's "mr"/"pt", so the join found nothing.
    let imaging = read("features/imaging.csv");
    let measured: std::collections::BTreeSet<(String, String, String)> = csv
        .rows
        .iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect();
    let joined = imaging
        .rows
        .iter()
        .filter(|r| measured.contains(&(r[0].clone(), r[1].clone(), r[2].clone())))
        .count();
    assert_eq!(joined, measured.len(), "{:?}", &imaging.rows[..2]);
    // Every unit is the dictionary's, where it is not the image's own (a join on units failed
    // for TL-PSMA, "ml·g/ml" in the dictionary and "ml*g/ml" in the table).
    let dictionary = ancilla::quant::table::dictionary_rows();
    let (feature, unit) = (col(&csv, "feature"), col(&csv, "unit"));
    let mut fixed_units = 0;
    for r in &csv.rows {
        let entry = ancilla::quant::table::dictionary_entry(&dictionary, &r[feature])
            .unwrap_or_else(|| panic!("{} is not in the dictionary", r[feature]));
        if !entry[2].contains("image unit") {
            assert_eq!(r[unit], entry[2], "{}", r[feature]);
            fixed_units += 1;
        }
    }
    assert!(fixed_units > 0 && csv.rows.iter().any(|r| r[feature] == "tl_psma_suv3"));
    let mut compared = 0;
    for s in truth["subjects"].as_array().unwrap() {
        let id = s["usubjid"].as_str().unwrap();
        let nifti = out.join("nifti").join(id);
        let Some(image) = std::fs::read_dir(&nifti)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with("_suvbw.nii.gz"))
        else {
            continue;
        };
        let csv = d.path().join(format!("{id}.csv"));
        ancilla_ok(&[
            "features",
            "--image",
            image.to_str().unwrap(),
            "--mask",
            out.join("cohort/masks")
                .join(id)
                .join("pet_labels.nii.gz")
                .to_str()
                .unwrap(),
            "--labels",
            "1=tumor,2=kidney,3=liver,4=bloodpool,5=parotid",
            "--out",
            csv.to_str().unwrap(),
            // A NIfTI has no subject: without it the table would not link ("" is not in ADSL).
            "--subject",
            id,
        ]);
        for line in std::fs::read_to_string(&csv).unwrap().lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f[0], id);
            let (roi, feature, value) = (f[4], f[5], f[6]);
            let key = format!(",suvbw,{roi},{feature},");
            let row = table
                .lines()
                .find(|l| l.starts_with(id) && l.contains(&key))
                .unwrap_or_else(|| panic!("{id} {roi} {feature} not in the pipeline's table"));
            assert_eq!(row.split(',').nth(6), Some(value), "{id} {roi} {feature}");
            compared += 1;
        }
    }
    assert!(compared > 100, "{compared}");
    let prov: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
            .unwrap();
    assert_eq!(prov["stages"][0]["stage"], "phantom");
    // Every de-identified DICOM file is listed in released_files, and every volume, table and
    // the report in output_files, each by the SHA-256 of its bytes as `sha256sum` gives it (the
    // release's list was checked by nothing; the outputs were not fingerprinted).
    let listed = |key: &str| -> std::collections::BTreeMap<String, String> {
        prov[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let file = e["file"].as_str().unwrap().to_string();
                (file, e["sha256"].as_str().unwrap().to_string())
            })
            .collect()
    };
    let sha256 = |p: &Path| {
        use sha2::Digest;
        ancilla::hex::encode(&sha2::Sha256::digest(std::fs::read(p).unwrap()))
    };
    let released = listed("released_files");
    let deid = out.join("deid");
    let dicom: Vec<PathBuf> = all_files(&deid)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .collect();
    assert!(dicom.len() > 100, "{}", dicom.len());
    for f in &dicom {
        let rel = f
            .strip_prefix(&deid)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert_eq!(released.get(&rel), Some(&sha256(f)), "{rel}");
    }
    assert_eq!(released.len(), dicom.len(), "{:?}", released.keys());
    let fingerprinted = listed("output_files");
    let mut expected: Vec<PathBuf> = ["nifti", "features", "analysis"]
        .iter()
        .flat_map(|part| all_files(&out.join(part)))
        .collect();
    expected.extend([out.join("report.html"), out.join("inventory.json")]);
    assert!(expected
        .iter()
        .any(|p| p.to_string_lossy().ends_with(".nii.gz")));
    for f in &expected {
        let rel = f.strip_prefix(&out).unwrap().to_string_lossy().into_owned();
        assert_eq!(fingerprinted.get(&rel), Some(&sha256(f)), "{rel}");
    }
    assert_eq!(
        fingerprinted.len(),
        expected.len(),
        "{:?}",
        fingerprinted.keys()
    );
    assert_eq!(
        prov["rejected_inputs"].as_array().unwrap().len(),
        3,
        "the phantom's three defects"
    );
    // The series with a missing slice is named by its subject's USUBJID, as every later stage
    // names subjects (it was the scan's own number, S002, beside ANC-… everywhere else).
    let map = std::fs::read_to_string(out.join("cohort/clinical/subject_map.csv")).unwrap();
    let missing = prov["rejected_inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["reason"].as_str().unwrap().starts_with("missing slice"))
        .unwrap();
    let subject = missing["subject"].as_str().unwrap();
    assert!(
        map.lines().any(|l| l.ends_with(&format!(",{subject}"))),
        "{subject} is not a USUBJID of the subject map"
    );
    // No PHI of the cohort in anything the pipeline wrote outside the cohort folder.
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("cohort/ground_truth.json")).unwrap(),
    )
    .unwrap();
    let mut phi: Vec<String> = Vec::new();
    for s in truth["subjects"].as_array().unwrap() {
        phi.extend(
            s["phi"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string()),
        );
        phi.push(s["original_uid_root"].as_str().unwrap().to_string());
    }
    // The stage stamps and digest records too, in plain text and hex-encoded (the records hold
    // paths as hex: the site's folder names, which carry names and MRNs, must not be there).
    let hex = |s: &str| -> String { s.bytes().map(|b| format!("{b:02x}")).collect() };
    // Per-subject state (.stamps/convert, .stamps/features) included.
    let stamps = support::all_files(&out.join(".stamps"));
    assert!(stamps
        .iter()
        .any(|p| p.parent().unwrap().ends_with("features")));
    for entry in stamps {
        let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).into_owned();
        for p in &phi {
            assert!(
                !text.contains(p.as_str()) && !text.contains(&hex(p)),
                "{} holds {p}",
                entry.display()
            );
        }
    }
    for (path, bytes) in outputs(&out)
        .into_iter()
        .filter(|(p, _)| !p.starts_with("cohort"))
    {
        let text = String::from_utf8_lossy(&bytes);
        for p in &phi {
            assert!(
                !text.contains(p.as_str()),
                "{} contains {p}",
                path.display()
            );
        }
    }
    let again = ancilla(&["run", cfg.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("phantom: up to date") && err.contains("convert: up to date"),
        "{err}"
    );
    // Regression: stage stamps held the output folder's path as the run named it, so the same
    // folder named another way (moved, mounted elsewhere, relative vs absolute) ran every stage
    // again. Now a moved folder is up to date as it is.
    let moved = d.path().join("moved");
    std::fs::rename(&out, &moved).unwrap();
    let there = ancilla(&[
        "run",
        cfg.to_str().unwrap(),
        "--out",
        moved.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&there.stderr);
    assert!(there.status.success(), "{err}");
    assert!(!err.contains("running"), "{err}");
    assert!(err.contains("report: up to date"), "{err}");
    std::fs::rename(&moved, &out).unwrap();
    // Regression: an output deleted after a run made its stage's stamp lie ("up to date") and a
    // later stage fail on the missing file. Now the stage runs again and restores it exactly.
    let before = outputs(&out);
    let released = before
        .iter()
        .find(|(p, _)| p.starts_with("deid") && p.extension().is_some_and(|e| e == "dcm"))
        .map(|(p, _)| out.join(p))
        .unwrap();
    std::fs::remove_file(&released).unwrap();
    std::fs::remove_dir_all(out.join("features")).unwrap();
    let healed = ancilla(&["run", cfg.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&healed.stderr);
    assert!(healed.status.success(), "{err}");
    assert!(
        err.contains("deid: 1 released") && err.contains("features: running"),
        "{err}"
    );
    let after = outputs(&out);
    let names = |v: &[(PathBuf, Vec<u8>)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&after), names(&before));
    for ((p, a), (_, b)) in after.iter().zip(&before) {
        assert!(a == b, "{} differs after the rerun", p.display());
    }
}

/// Texture bin widths per image kind: texture features for the kinds given (PET here), none for
/// the others, and the PET's equal to a single width's. The `[rois]` section gives no label table:
/// it takes the default one (it was refused with "missing field `labels`").
#[test]
fn texture_bin_width_per_image_kind() {
    let d = tempfile::tempdir().unwrap();
    let features = |name: &str, width: &str| {
        let extra = format!("[rois]\ntexture_bin_width = {width}\n");
        let (out, _) = one_subject_run(d.path(), name, &extra);
        let table = std::fs::read_to_string(out.join("features/features.csv")).unwrap();
        // image kind → its texture rows (the GLCM's), as "region,feature,value".
        let mut by_image = std::collections::BTreeMap::<String, Vec<String>>::new();
        for line in table.lines() {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() > 7 && f[5].starts_with("cm_") {
                by_image
                    .entry(f[3].to_string())
                    .or_default()
                    .push(f[4..7].join(","));
            }
        }
        by_image
    };
    let every = features("every", "0.5");
    let per_kind = features("per-kind", "{ suvbw = 0.5 }");
    assert!(every.contains_key("suvbw") && every.len() > 1, "{every:?}");
    assert_eq!(per_kind.keys().collect::<Vec<_>>(), ["suvbw"]);
    assert_eq!(per_kind["suvbw"], every["suvbw"]);
}

/// Features found by region name (miPSMA, tumour-to-organ ratios), the QC outline and the ROC
/// follow the label table's names: a table without "tumor" is warned about (it lost them
/// silently), and a tumour under another label number is the one outlined (label 1 was, always).
#[test]
fn region_names_come_from_the_label_table() {
    let d = tempfile::tempdir().unwrap();
    let run = |name: &str, labels: &str| {
        one_subject_run(
            d.path(),
            name,
            &format!("[rois]\nlabels = {{ {labels} }}\n"),
        )
        .0
    };
    let standard = run(
        "standard",
        r#"1 = "tumor", 2 = "kidney", 3 = "liver", 4 = "bloodpool", 5 = "parotid""#,
    );
    let british = run(
        "british",
        r#"1 = "tumour", 2 = "kidney", 3 = "liver", 4 = "bloodpool", 5 = "parotid""#,
    );
    let swapped = run(
        "swapped",
        r#"1 = "kidney", 2 = "tumor", 3 = "liver", 4 = "bloodpool", 5 = "parotid""#,
    );
    let read = |dir: &Path, f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert!(read(&standard, "features/features.csv").contains(",mipsma_score,"));
    assert!(!read(&british, "features/features.csv").contains(",mipsma_score,"));
    assert!(!read(&standard, "provenance.json").contains("no ROI is named"));
    let warned = read(&british, "provenance.json");
    assert!(warned.contains(r#"no ROI is named \"tumor\""#), "{warned}");
    assert!(read(&british, "report.html").contains("no ROI is named"));
    // The QC gallery's first picture (the PET MIP) outlines label 2 once it is the tumour.
    let first_png = |dir: &Path| {
        let html = read(dir, "report.html");
        let start = html.find("data:image/png").unwrap();
        html[start..start + html[start..].find('"').unwrap()].to_string()
    };
    assert_ne!(first_png(&swapped), first_png(&standard));
    // And the tumour's rows are label 2's: the standard run's kidney.
    let rows = |dir: &Path, roi: &str| -> Vec<String> {
        read(dir, "features/features.csv")
            .lines()
            .filter(|l| l.split(',').nth(4) == Some(roi) && l.contains(",pt,"))
            .map(|l| l.split(',').skip(5).take(2).collect::<Vec<_>>().join(","))
            .filter(|fv| fv.starts_with("stat_"))
            .collect()
    };
    assert!(!rows(&standard, "kidney").is_empty());
    assert_eq!(rows(&swapped, "tumor"), rows(&standard, "kidney"));
}

/// A label of the table that marks no voxel of an image is said, per subject and image, as a
/// warning (provenance keeps it apart from rejected inputs): the parotids lie outside every renal
/// MRI; here one PET mask has its tumour under a label the table does not name, which is said
/// too. Both gave no features silently. (The report gathers one sentence of many subjects into one line.)
#[test]
fn labels_that_mark_no_voxel_are_reported() {
    use ancilla::volume::nifti_io::{read_volume, write_volume, NiftiMeta};
    let d = tempfile::tempdir().unwrap();
    let (cohort, out) = (d.path().join("cohort"), d.path().join("out"));
    phantom(&cohort, "3", "3", &[]);
    let cfg = input_config(
        d.path(),
        &cohort,
        &out,
        &format!(
            "site_log = \"{}\"\n",
            d.path().join("site-log.tsv").display()
        ),
    );
    ancilla_ok(&["run", cfg.to_str().unwrap()]);
    let problems = || -> Vec<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(out.join("features/problems.json")).unwrap())
            .unwrap()
    };
    let about = |p: &[serde_json::Value], what: &str| -> Vec<serde_json::Value> {
        p.iter()
            .filter(|p| p["reason"].as_str().unwrap().contains(what))
            .cloned()
            .collect()
    };
    let parotid = about(&problems(), "label 5 (parotid)");
    assert_eq!(parotid.len(), 6, "{parotid:?}"); // t2 and adc of 3 subjects
    assert!(parotid.iter().all(|p| p["warning"] == true));
    assert!(about(&problems(), "(tumor)").is_empty());
    let provenance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
            .unwrap();
    let listed = |key: &str| provenance[key].to_string().contains("(parotid)");
    assert!(listed("warnings") && !listed("rejected_inputs"));

    // One subject's PET mask has its tumour under label 6, which the table does not name.
    let masks = cohort.join("masks");
    let subject = std::fs::read_dir(&masks)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    let path = masks.join(&subject).join("pet_labels.nii.gz");
    let mut labels = read_volume(&path).unwrap();
    labels.data.mapv_inplace(|l| if l == 1.0 { 6.0 } else { l });
    write_volume(&labels, &path, &NiftiMeta::default()).unwrap();
    ancilla_ok(&["run", cfg.to_str().unwrap()]);
    let tumor = about(&problems(), "label 1 (tumor)");
    assert_eq!(tumor.len(), 1, "{tumor:?}");
    assert_eq!(tumor[0]["subject"].as_str(), subject.to_str());
    assert_eq!(tumor[0]["series_kind"], "suvbw");
    let unnamed = about(&problems(), "label 6 of pet_labels.nii.gz is not named");
    assert_eq!(unnamed.len(), 1, "{unnamed:?}");
    assert_eq!(unnamed[0]["subject"].as_str(), subject.to_str());

    // Regression: a label map that does not read was named by its full path, the site's masks
    // folder (a site's folders may name a person) copied into provenance.json and the report.
    let mr = masks.join(&subject).join("mr_labels.nii.gz");
    let bytes = std::fs::read(&mr).unwrap();
    std::fs::write(&mr, &bytes[..bytes.len() / 2]).unwrap();
    ancilla_ok(&["run", cfg.to_str().unwrap()]);
    let damaged = about(&problems(), "<masks>");
    assert!(!damaged.is_empty(), "{:?}", problems());
    let site = masks.display().to_string();
    for file in ["provenance.json", "report.html", "features/problems.json"] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(!text.contains(&site), "{file} names {site}");
    }
}

/// De-identification options that take away what the SUV needs are warned about at the deid
/// stage and in the report, with the option's name (before, only a "missing PatientWeight" per
/// subject said so, without the cause).
#[test]
fn deid_options_that_cost_features_are_warned_about() {
    let d = tempfile::tempdir().unwrap();
    let extra = "[deid]\nretain_patient_characteristics = false\n";
    let (out, err) = one_subject_run(d.path(), "out", extra);
    assert!(
        err.contains("deid: warning: [deid] retain_patient_characteristics = false"),
        "{err}"
    );
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("retain_patient_characteristics = false removes"));
    let table = std::fs::read_to_string(out.join("features/features.csv")).unwrap();
    assert!(!table.contains(",suvbw,"));
    // The warning is the config's: a no-op rerun says it again.
    let first: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
            .unwrap();
    let (_, again) = one_subject_run(d.path(), "out", extra);
    assert!(
        again.contains("up to date") && again.contains("deid: warning:"),
        "{again}"
    );
    // The rerun's provenance keeps how the run that made each stage's outputs recorded it (a
    // monitor's audit: "up to date, 0 s" was all that was left of the counts and times).
    let rerun: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
            .unwrap();
    let stage = |p: &serde_json::Value, name: &str| {
        p["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == name)
            .unwrap()
            .clone()
    };
    for name in ["scan", "deid", "convert", "features"] {
        let (made, now) = (stage(&first, name), stage(&rerun, name));
        assert_eq!(now["status"], "up to date", "{name}: {now}");
        assert_eq!(
            now["made_earlier"]["status"], made["status"],
            "{name}: {now}"
        );
        assert_eq!(
            now["made_earlier"]["seconds"], made["seconds"],
            "{name}: {now}"
        );
    }
}

/// `[convert] gzip = false`: the later stages read the `.nii` files as they read `.nii.gz` ones,
/// so features, analysis and the report's QC gallery equal a compressed run's. Regression: the
/// gallery looked for `.nii.gz` files only and was empty.
#[test]
fn uncompressed_nifti_give_the_same_features_and_qc_gallery() {
    let d = tempfile::tempdir().unwrap();
    let (gz, gz_log) = one_subject_run(d.path(), "gz", "");
    let (plain, plain_log) = one_subject_run(d.path(), "plain", "[convert]\ngzip = false\n");
    let names = |dir: &Path| {
        let subject = std::fs::read_dir(dir.join("nifti"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.is_dir())
            .unwrap();
        let mut v: Vec<String> = std::fs::read_dir(subject)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".nii") || n.ends_with(".nii.gz"))
            .collect();
        v.sort();
        v
    };
    let plain_names = names(&plain);
    assert!(
        !plain_names.is_empty() && plain_names.iter().all(|n| n.ends_with(".nii")),
        "{plain_names:?}"
    );
    let gz_names: Vec<String> = names(&gz)
        .iter()
        .map(|n| n.replace(".nii.gz", ".nii"))
        .collect();
    assert_eq!(plain_names, gz_names);
    for f in ["features/features.csv", "analysis/analysis_table.csv"] {
        assert!(
            std::fs::read(gz.join(f)).unwrap() == std::fs::read(plain.join(f)).unwrap(),
            "{f} differs"
        );
    }
    let gallery = |log: &str| {
        log.lines()
            .find_map(|l| l.split("report.html (QC of ").nth(1))
            .and_then(|r| r.split(" subject").next())
            .map(str::to_string)
    };
    assert_eq!(gallery(&gz_log).as_deref(), Some("1"), "{gz_log}");
    assert_eq!(gallery(&plain_log), gallery(&gz_log), "{plain_log}");
    let images = |dir: &Path| {
        std::fs::read_to_string(dir.join("report.html"))
            .unwrap()
            .matches("data:image/png")
            .count()
    };
    assert!(images(&gz) > 0);
    assert_eq!(images(&plain), images(&gz));
}

/// Number of files under `dir` (0 when it does not exist).
fn count_files(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            if e.path().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

/// Start a run on `cfg`, SIGKILL it the moment `when(out)` holds (polled every 2 ms), and return
/// whether it was still running then (a kill point the run never reached proves nothing).
fn kill_when(cfg: &Path, out: &Path, when: impl Fn(&Path) -> bool) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ancilla"))
        .args(["--quiet", "run", cfg.to_str().unwrap()])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while !when(out) {
        if child.try_wait().unwrap().is_some() || std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    running
}

#[test]
fn killed_run_resumes_to_identical_outputs() {
    let d = tempfile::tempdir().unwrap();
    let reference = d.path().join("reference");
    let cfg_ref = demo(d.path(), &reference, 2);
    assert!(ancilla(&["run", cfg_ref.to_str().unwrap()])
        .status
        .success());
    type When = fn(&Path) -> bool;
    let points: [(&str, When); 4] = [
        ("phantom", |o| count_files(&o.join("cohort")) > 20),
        ("deid", |o| {
            count_files(&o.join("deid")) > 20 && !o.join(".stamps/deid.sha256").exists()
        }),
        ("features", |o| o.join(".stamps/convert.sha256").exists()),
        ("report", |o| o.join(".stamps/analyze.sha256").exists()),
    ];
    for (stage, when) in points {
        let out = d.path().join(format!("killed-in-{stage}"));
        let cfg = demo(d.path(), &out, 2);
        assert!(
            kill_when(&cfg, &out, when),
            "the run ended before the {stage} kill point"
        );
        if stage == "phantom" {
            // Regression (CI, 2026-11): a temporary file a kill left outside the folder a stage
            // rewrites (a stamp being written) survived the rerun. Plant such leftovers.
            std::fs::create_dir_all(out.join(".stamps")).unwrap();
            std::fs::write(out.join(".stamps/.deid_sha256_partial-1.sha256"), "x").unwrap();
            std::fs::write(out.join(".inventory_json_partial-1.json"), "{").unwrap();
        }
        ancilla_ok(&["run", cfg.to_str().unwrap()]);
        assert_same_outputs(&out, &reference, &format!("killed in {stage}"));
    }
}

/// A stage whose outputs cannot all be written (a file where a subject's folder goes; a full
/// disk does the same) fails the run and is not stamped; the rerun once they can be written
/// finishes with the outputs of an uninterrupted run. Regression: deid and convert counted such
/// files as rejected inputs, the stage was stamped done, and the rerun left the subject out.
#[test]
fn a_stage_that_cannot_write_its_outputs_is_redone_by_the_rerun() {
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "2", "3", &[]);
    let reference = d.path().join("reference");
    let cfg = input_config(d.path(), &cohort, &reference, "");
    assert!(ancilla(&["run", cfg.to_str().unwrap()]).status.success());
    let map = std::fs::read_to_string(cohort.join("clinical/subject_map.csv")).unwrap();
    let usubjid = map.lines().nth(1).unwrap().split(',').nth(1).unwrap();
    let out = d.path().join("out");
    let cfg = input_config(d.path(), &cohort, &out, "");
    std::fs::create_dir_all(out.join("deid")).unwrap();
    std::fs::write(out.join("deid").join(usubjid), "in the way").unwrap();
    let o = ancilla(&["run", cfg.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("could not be written"), "{err}");
    assert!(!out.join(".stamps/deid.sha256").exists());
    std::fs::remove_file(out.join("deid").join(usubjid)).unwrap();
    ancilla_ok(&["run", cfg.to_str().unwrap()]);
    assert_same_outputs(&out, &reference, "rerun after a failed write");
}

#[test]
fn a_second_run_on_a_busy_output_folder_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let cfg = demo(d.path(), &out, 1);
    let mut first = Command::new(env!("CARGO_BIN_EXE_ancilla"))
        .args(["--quiet", "run", cfg.to_str().unwrap()])
        .spawn()
        .unwrap();
    // Until the lock is held (the PID is written once it is).
    while std::fs::read_to_string(out.join(".ancilla.lock")).map_or(true, |s| s.is_empty()) {
        assert!(
            first.try_wait().unwrap().is_none(),
            "first run ended before it took the lock"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let second = ancilla(&["run", cfg.to_str().unwrap()]);
    // The first run (a whole cohort) is still going when the second has already answered.
    assert!(first.try_wait().unwrap().is_none());
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(err.contains("in use by another ancilla run"), "{err}");
    assert!(first.wait().unwrap().success());
    assert!(!out.join(".ancilla.lock").exists());
}

/// `deid` of a phantom cohort's export into `out` with its key and subject map, then `extra`.
fn deid_args(cohort: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let mut args = vec![
        "deid".to_string(),
        s(&cohort.join("site-export")),
        "--out".into(),
        s(out),
        "--key".into(),
        s(&cohort.join("key.bin")),
        "--subjects".into(),
        s(&cohort.join("clinical/subject_map.csv")),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

/// `convert` and `deid` take the output folder's lock too: while another process holds it they
/// refuse (a second process's sweep of temporary files would delete the first one's files under
/// way); a lock file whose holder let go (a killed run's) is taken, and what a killed conversion
/// left half-written is swept. Regression: the lock was a PID checked for "ancilla" in its
/// command line, so a copy of the binary named otherwise took a live run's lock over.
#[test]
fn convert_and_deid_refuse_a_busy_output_folder() {
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "1", "2", &[]);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let input = s(&cohort.join("site-export"));
    let (nifti, deid) = (d.path().join("nifti"), d.path().join("deid"));
    // This test process holds both folders' locks (an OS lock, as a run takes it), with a PID
    // in the files that is no ancilla process.
    let held: Vec<std::fs::File> = [&nifti, &deid]
        .iter()
        .map(|dir| {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join(".ancilla.lock"), "1").unwrap();
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.join(".ancilla.lock"))
                .unwrap();
            f.lock().unwrap();
            f
        })
        .collect();
    std::fs::write(nifti.join(".004_mr_t2_partial-1.nii.gz"), b"half").unwrap();
    let busy = |args: &[String]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = ancilla(&args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("in use by another ancilla run (process 1)"),
            "{err}"
        );
    };
    let convert_args = vec![
        "convert".to_string(),
        input.clone(),
        "--out".into(),
        s(&nifti),
    ];
    busy(&convert_args);
    busy(&deid_args(&cohort, &deid, &[]));
    assert!(nifti.join(".004_mr_t2_partial-1.nii.gz").exists());
    // Let go, as a killed holder's locks go: the files stay, and are taken.
    drop(held);
    for args in [convert_args, deid_args(&cohort, &deid, &[])] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ancilla_ok(&args);
    }
    for dir in [&nifti, &deid] {
        assert!(!dir.join(".ancilla.lock").exists());
    }
    assert!(!nifti.join(".004_mr_t2_partial-1.nii.gz").exists());
}

/// `outputs` of a folder, the site-side log and provenance aside, as a map for comparison.
fn assert_same_outputs(got: &Path, expected: &Path, what: &str) {
    let (g, e) = (outputs(got), outputs(expected));
    let names = |v: &[(PathBuf, Vec<u8>)]| {
        v.iter()
            .map(|(p, _)| p.clone())
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (gn, en) = (names(&g), names(&e));
    assert!(
        gn == en,
        "{what}: extra {:?}, missing {:?}",
        gn.difference(&en).collect::<Vec<_>>(),
        en.difference(&gn).collect::<Vec<_>>()
    );
    for ((p, a), (_, b)) in g.iter().zip(&e) {
        assert!(a == b, "{what}: {} differs", p.display());
    }
}

/// A failed task of a Slurm array submitted again alone (`--array=3`: one task, ID 3) would run
/// every subject into that task's folder, for a merge to refuse as duplicated; it is refused
/// before any work, naming the Slurm variables and `--shard I/N`. (Found on a one-node Slurm
/// 22.05: the array.sbatch header's advice had been to rerun the failed task alone.) `--shard`
/// given on the command line still wins over the variables.
#[test]
fn a_one_task_slurm_array_of_a_later_task_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let cfg = demo(d.path(), &d.path().join("single"), 3);
    let run = |out: &Path, shard: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ancilla"));
        c.args([
            "--quiet",
            "run",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        if let Some(s) = shard {
            c.args(["--shard", s]);
        }
        c.env("SLURM_ARRAY_TASK_ID", "3")
            .env("SLURM_ARRAY_TASK_COUNT", "1")
            .env("SLURM_ARRAY_TASK_MIN", "3")
            .env("SLURM_ARRAY_TASK_STEP", "1")
            .output()
            .unwrap()
    };
    let out = d.path().join("shard-4");
    let o = run(&out, None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("Slurm array task (SLURM_ARRAY_TASK_ID=3, SLURM_ARRAY_TASK_COUNT=1")
            && err.contains("--shard I/N"),
        "{err}"
    );
    assert!(!out.exists());
    let o = run(&out, Some("3/3"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("shard.json")).unwrap()).unwrap();
    assert_eq!(m["subjects"].as_array().unwrap().len(), 1);
}

#[test]
fn shards_merge_into_what_a_single_run_writes() {
    let d = tempfile::tempdir().unwrap();
    let single = d.path().join("single");
    let cfg = demo(d.path(), &single, 3);
    assert!(ancilla(&["run", cfg.to_str().unwrap()]).status.success());
    let c = cfg.to_str().unwrap();
    let (s1, s2) = (d.path().join("s1"), d.path().join("s2"));
    ancilla_ok(&["run", c, "--out", s1.to_str().unwrap(), "--shard", "1/2"]);
    // The second shard as the last task of a Slurm array `--array=1-2` (Slurm sets all four).
    let o = Command::new(env!("CARGO_BIN_EXE_ancilla"))
        .args(["run", c, "--out", s2.to_str().unwrap()])
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .env("SLURM_ARRAY_TASK_STEP", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m1: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s1.join("shard.json")).unwrap()).unwrap();
    let m2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s2.join("shard.json")).unwrap()).unwrap();
    assert_eq!(m2["shard"]["index"], 2);
    // Round-robin over the sorted USUBJIDs: 1 and 3, then 2.
    assert_eq!(m1["subjects"].as_array().unwrap().len(), 2);
    assert_eq!(m2["subjects"].as_array().unwrap().len(), 1);
    assert!(!s1.join("report.html").exists() && !s1.join("analysis").exists());

    let merged = d.path().join("merged");
    ancilla_ok(&[
        "merge",
        s2.to_str().unwrap(),
        s1.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_same_outputs(&merged, &single, "merge of 2 shards");
    assert!(!merged.join("shard.json").exists());
    // A merge again redoes nothing downstream.
    let o = ancilla(&[
        "merge",
        s1.to_str().unwrap(),
        s2.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && err.contains("analyze: up to date"),
        "{err}"
    );
    assert_same_outputs(&merged, &single, "second merge");

    // Incomplete or mixed shard sets are refused with the reason.
    let merge_err = |dirs: &[&Path]| {
        let mut args = vec!["merge".to_string()];
        args.extend(dirs.iter().map(|p| p.to_str().unwrap().to_string()));
        args.extend([
            "--out".into(),
            d.path().join("bad").to_str().unwrap().into(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = ancilla(&args);
        assert_eq!(o.status.code(), Some(2));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    assert!(merge_err(&[&s1]).contains("missing shard 2/2"));
    assert!(merge_err(&[&s1, &s1]).contains("given twice"));
    assert!(merge_err(&[&s1, &single]).contains("not a finished"));

    // Regression (robustness audit): a shard changed after it finished was merged without a
    // word (its features table without a subject's rows: that subject analysed without
    // imaging). What the shard left is checked against its record; put back, it merges.
    let table = s1.join("features/features.csv");
    let kept = std::fs::read(&table).unwrap();
    let text = String::from_utf8(kept.clone()).unwrap();
    let first_subject = m1["subjects"][0].as_str().unwrap();
    let without: String = text
        .lines()
        .filter(|l| !l.starts_with(first_subject))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(without.len(), text.len());
    std::fs::write(&table, without).unwrap();
    let err = merge_err(&[&s1, &s2]);
    assert!(
        err.contains("shard 1/2 changed since it finished (features/features.csv changed)"),
        "{err}"
    );
    std::fs::write(&table, &kept).unwrap();
    // The de-identification report, which the scan's walk leaves out (review): checked too.
    let report = s1.join("deid/deid-report.json");
    let kept_report = std::fs::read(&report).unwrap();
    let edited = String::from_utf8(kept_report.clone()).unwrap().replacen(
        "\"files_seen\": ",
        "\"files_seen\": 9",
        1,
    );
    std::fs::write(&report, edited).unwrap();
    let err = merge_err(&[&s1, &s2]);
    assert!(err.contains("(deid/deid-report.json changed)"), "{err}");
    std::fs::write(&report, &kept_report).unwrap();
    // A released file of a subject's folder taken away: the folder is named.
    let subject_dir = s1.join("deid").join(first_subject);
    let one = all_files(&subject_dir).into_iter().next().unwrap();
    let bytes = std::fs::read(&one).unwrap();
    std::fs::remove_file(&one).unwrap();
    let err = merge_err(&[&s1, &s2]);
    assert!(
        err.contains(&format!(
            "(a file of deid/{first_subject}/ changed, was added or is gone)"
        )),
        "{err}"
    );
    std::fs::write(&one, bytes).unwrap();
    ancilla_ok(&[
        "merge",
        s1.to_str().unwrap(),
        s2.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_same_outputs(&merged, &single, "merge after the shard was put back");

    // Regression: `--shard 1/1` (a Snakemake job set of one shard, a one-task Slurm array) ran as
    // an unsharded run, without shard.json, so its merge was refused ("not a finished ...").
    let only = d.path().join("only");
    ancilla_ok(&["run", c, "--out", only.to_str().unwrap(), "--shard", "1/1"]);
    assert!(only.join("shard.json").exists() && !only.join("report.html").exists());
    let merged1 = d.path().join("merged-of-one");
    ancilla_ok(&[
        "merge",
        only.to_str().unwrap(),
        "--out",
        merged1.to_str().unwrap(),
    ]);
    assert_same_outputs(&merged1, &single, "merge of 1 shard");
}

/// Regression (a core-lab audit): after a subject left the subject map, the subjects were dealt
/// to the shards anew, and each shard rerun in its folder kept the subjects it no longer owned:
/// the merge refused them ("subject … is in s1 and in s2"). A shard's rerun takes the subjects
/// it no longer owns out of its folder (uncounted: another shard releases them); the merge
/// equals a single run with the same history (the subject that left withdrawn, and counted).
#[test]
fn shards_rerun_after_the_subjects_are_dealt_anew_merge() {
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "3", "3", &[]);
    let cfg = input_config(d.path(), &cohort, &d.path().join("single"), "");
    let run = |args: &[&str]| {
        let mut all = vec!["run", cfg.to_str().unwrap()];
        all.extend_from_slice(args);
        let o = ancilla(&all);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let (s1, s2, merged) = (d.path().join("s1"), d.path().join("s2"), d.path().join("m"));
    let shards = || {
        run(&["--out", s1.to_str().unwrap(), "--shard", "1/2"]);
        run(&["--out", s2.to_str().unwrap(), "--shard", "2/2"]);
    };
    shards();
    run(&[]);
    // The first subject leaves the map: the other two change shards.
    let map = cohort.join("clinical/subject_map.csv");
    let text = std::fs::read_to_string(&map).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(1);
    std::fs::write(&map, lines.join("\n") + "\n").unwrap();
    shards();
    let o = ancilla(&[
        "merge",
        s1.to_str().unwrap(),
        s2.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    run(&[]);
    assert_same_outputs(&merged, &d.path().join("single"), "merge after a new deal");
}

/// Regression (a core-lab audit): a link inside the site's export to the run's output folder
/// passed the "output inside input" check (it resolves the output's path, not the input's
/// links), and every rerun read the run's own outputs back: its released files as unknown
/// subjects, its NIfTI files as "a gzip archive", and never a no-op. The walk follows no link
/// into the folder the run writes; the link is reported once.
#[test]
fn a_link_in_the_export_to_the_output_folder_is_not_followed() {
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "1", "3", &[]);
    let out = d.path().join("results/out");
    std::fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink(&out, cohort.join("site-export/results")).unwrap();
    // And one to a folder above it (a review found the walk went down into the output).
    std::os::unix::fs::symlink(d.path().join("results"), cohort.join("site-export/shared"))
        .unwrap();
    let cfg = input_config(d.path(), &cohort, &out, "");
    let rejected = || -> Vec<String> {
        let p: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
                .unwrap();
        p["rejected_inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["reason"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    ancilla_ok(&["run", cfg.to_str().unwrap()]);
    let first = rejected();
    let o = ancilla(&["run", cfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let second = rejected();
    assert_eq!(first, second);
    assert!(
        second
            .iter()
            .all(|r| !r.contains("not in the subject map") && !r.contains("gzip")),
        "{second:#?}"
    );
}

/// Regression (a core-lab audit): a shard rerun that failed (or was killed) after its scan kept
/// the manifest of its earlier finished run, and the merge took the half-rerun shard as finished
/// (a series withdrawn from the export came back into the analysis). The manifest is taken away
/// when a shard run starts: the merge refuses the shard until a rerun finishes it.
#[test]
fn a_failed_shard_rerun_is_unfinished_to_the_merge() {
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "2", "3", &[]);
    let cfg = input_config(d.path(), &cohort, &d.path().join("unused"), "");
    let shard = |i: &str, out: &Path| {
        ancilla(&[
            "run",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--shard",
            i,
        ])
    };
    let (s1, s2) = (d.path().join("s1"), d.path().join("s2"));
    assert!(shard("1/2", &s1).status.success());
    assert!(shard("2/2", &s2).status.success());
    assert!(s2.join("shard.json").is_file());
    // The rerun fails at convert: its folder is now a file.
    std::fs::remove_dir_all(s2.join("nifti")).unwrap();
    std::fs::write(s2.join("nifti"), b"in the way").unwrap();
    let o = shard("2/2", &s2);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!s2.join("shard.json").exists());
    let o = ancilla(&[
        "merge",
        s1.to_str().unwrap(),
        s2.to_str().unwrap(),
        "--out",
        d.path().join("merged").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no shard.json"), "{stderr}");
    // Finished by a rerun, it merges; not into a shard folder, nor into the folder that holds
    // them (a robustness audit: `--out s1/merged` was taken).
    std::fs::remove_file(s2.join("nifti")).unwrap();
    assert!(shard("2/2", &s2).status.success());
    for (out, relation) in [
        (s1.join("merged"), "is inside"),
        (s1.join("missing/../merged"), "is inside"),
        (d.path().to_path_buf(), "holds"),
    ] {
        let o = ancilla(&[
            "merge",
            s1.to_str().unwrap(),
            s2.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success()
                && stderr.contains(&format!("{relation} the shard folder"))
                && !s1.join("merged").exists(),
            "{stderr}"
        );
    }
    let o = ancilla(&[
        "merge",
        s1.to_str().unwrap(),
        s2.to_str().unwrap(),
        "--out",
        d.path().join("merged").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Shards de-identified with two keys (the key file replaced between two array tasks; the config
/// is the same) are refused by `merge`, which names the two key ids: their pseudonyms and date
/// shifts would not agree. Before, this was checked by a unit test of the key-id comparison only.
/// A refused merge changes nothing under its output folder: a fresh one gets no file (it got the
/// inventory before), and an earlier merge there is kept whole (its trees were deleted before).
#[test]
fn shards_of_two_keys_are_not_merged() {
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "2", "3", &[]);
    let cfg = input_config(d.path(), &cohort, &d.path().join("unused"), "");
    let shard = |i: &str, out: &Path| {
        ancilla_ok(&[
            "run",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--shard",
            i,
        ]);
    };
    let merge = |a: &Path, b: &Path, out: &Path| {
        ancilla(&[
            "merge",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let (s1, s2, s2_other_key) = (
        d.path().join("s1"),
        d.path().join("s2"),
        d.path().join("s2k"),
    );
    shard("1/2", &s1);
    shard("2/2", &s2);
    let earlier = d.path().join("earlier");
    let o = merge(&s1, &s2, &earlier);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(cohort.join("key.bin"), [7u8; 32]).unwrap();
    shard("2/2", &s2_other_key);
    // Every file of a tree with its bytes, provenance and stamps included.
    let files = |dir: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        let mut v = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for p in std::fs::read_dir(&d).unwrap().flatten().map(|e| e.path()) {
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let bytes = std::fs::read(&p).unwrap();
                    v.push((p.strip_prefix(dir).unwrap().to_path_buf(), bytes));
                }
            }
        }
        v.sort();
        v
    };
    let before = files(&earlier);
    assert!(before.iter().any(|(p, _)| p.starts_with("deid")));
    for out in [d.path().join("merged"), earlier.clone()] {
        let o = merge(&s1, &s2_other_key, &out);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains("the shards were de-identified with different keys (key ids "),
            "{err}"
        );
    }
    let fresh = files(&d.path().join("merged"));
    assert!(fresh.is_empty(), "a refused merge wrote {:?}", fresh[0].0);
    assert!(
        files(&earlier) == before,
        "a refused merge changed an earlier merge"
    );
}

fn config_error(body: &str) -> String {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), body);
    let o = ancilla(&["run", cfg.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn unknown_key_names_the_line() {
    let e = config_error("[output]\ndir = \"x\"\n[phantom]\nsubjects = 2\nsubjcts = 3\n");
    assert!(e.contains("line 5") && e.contains("subjcts"), "{e}");
    // Also a key of a table-valued setting: a texture bin width for an image kind there is not.
    let e = config_error(
        "[output]\ndir = \"x\"\n[phantom]\nsubjects = 2\n[rois]\n\
         texture_bin_width = { suv = 0.25 }\n",
    );
    assert!(
        e.contains("line 6") && e.contains("\"suv\"") && e.contains("suvbw"),
        "{e}"
    );
    let e = config_error(
        "[output]\ndir = \"x\"\n[phantom]\nsubjects = 2\n[rois]\n\
         texture_bin_width = { suvbw = 0.25, t2 = -5 }\n",
    );
    assert!(e.contains("positive width, found -5"), "{e}");
    // A cut-off that is no number, as `analyze --cutoff` refuses it (it was taken: "no test at
    // the cut-off NaN").
    for value in ["nan", "inf"] {
        let e = config_error(&format!(
            "[output]\ndir = \"x\"\n[phantom]\nsubjects = 2\n[analysis]\n\
             cutoffs = {{ pt_tumor_stat_max = {value} }}\n"
        ));
        assert!(
            e.contains("[analysis] cutoffs: \"pt_tumor_stat_max\"") && e.contains("finite number"),
            "{e}"
        );
    }
    // A label table the wrong way round, or with label 0 or a name twice (it gave no features,
    // or columns that collide).
    for (labels, says) in [
        (
            r#"{ tumor = "1", kidney = "2" }"#,
            r#""kidney" is not a label number"#,
        ),
        (r#"{ 0 = "background" }"#, r#""0" is not a label number"#),
        (r#"{ 1 = "tumor", 2 = "tumor" }"#, "needs its own name"),
        (r#"{ 1 = "left kidney" }"#, "lower-case letters"),
    ] {
        let e = config_error(&format!(
            "[output]\ndir = \"x\"\n[phantom]\nsubjects = 2\n[rois]\nlabels = {labels}\n"
        ));
        assert!(e.contains(says), "{labels}: {e}");
    }
}

#[test]
fn wrong_type_names_the_line() {
    let e = config_error("[output]\ndir = \"x\"\n[phantom]\nsubjects = \"many\"\n");
    assert!(e.contains("line 4") && e.contains("invalid type"), "{e}");
    // A bare word for a switch says what a value may be (it said only "invalid string, expected
    // a quote"; a new user's audit).
    let e = config_error(
        "[output]\ndir = \"x\"\n[phantom]\nsubjects = 2\n[deid]\nretain_safe_private = yes\n",
    );
    assert!(
        e.contains("line 6") && e.contains("a switch takes true or false"),
        "{e}"
    );
    // A value of the right type that is not allowed names its line too (an operations audit:
    // none was said).
    let e = config_error(
        "[output]\ndir = \"x\"\n[phantom]\nsubjects = 2\n[rois]\n# thresholds\n\
         mtv_suv_thresholds = [-1.0]\n",
    );
    assert!(
        e.contains("line 7: [rois] mtv_suv_thresholds must be positive"),
        "{e}"
    );
    let e = config_error("[output]\ndir = \"x\"\n[phantom]\nsubjects = 0\n");
    assert!(e.contains("line 4: [phantom] subjects"), "{e}");
}

#[test]
fn missing_or_conflicting_input_is_refused() {
    assert!(config_error("[output]\ndir = \"x\"\n").contains("[input]"));
    let e =
        config_error("[output]\ndir = \"x\"\n[phantom]\nsubjects = 1\n[input]\ndicom = \".\"\n");
    assert!(e.contains("exclude each other"), "{e}");
    let e = config_error(
        "[output]\ndir = \"x\"\n[phantom]\nsubjects = 1\n[analysis]\nci = \"plain\"\n",
    );
    assert!(e.contains("[analysis] ci"), "{e}");
    let e = config_error(
        "[output]\ndir = \"x\"\n[phantom]\nsubjects = 1\n[clinical]\nadsl = \"adsl.csv\"\n",
    );
    assert!(e.contains("adtte, pathology not given"), "{e}");
    let e = config_error(
        "[output]\ndir = \"x\"\n[phantom]\nsubjects = 1\n[clinical]\nprocedures = \"pr.csv\"\n",
    );
    assert!(
        e.contains("[clinical] procedures") && e.contains("give those too"),
        "{e}"
    );
    let e =
        config_error("[output]\ndir = \"x\"\n[phantom]\nsubjects = 1\n[clinical]\narm = \" \"\n");
    assert!(e.contains("[clinical] arm"), "{e}");
    // The time of one endpoint with the event of another; a time not named <ENDPOINT>_MONTHS
    // without its event (time = "OS_MONTHS" alone takes OS_EVENT, as `analyze --time` does: it
    // was refused, the default PFS_EVENT beside it).
    let e = config_error(
        "[output]\ndir = \"x\"\n[phantom]\nsubjects = 1\n[analysis]\ntime = \"OS_MONTHS\"\n\
         event = \"PFS_EVENT\"\n",
    );
    assert!(e.contains("two endpoints") && e.contains("OS_EVENT"), "{e}");
    let e = config_error(
        "[output]\ndir = \"x\"\n[phantom]\nsubjects = 1\n[analysis]\ntime = \"OS_TIME\"\n",
    );
    assert!(e.contains("[analysis] event is needed"), "{e}");
    let cfg = ancilla::pipeline::Config::load(&config(
        tempfile::tempdir().unwrap().path(),
        "[output]\ndir = \"x\"\n[phantom]\nsubjects = 1\n[analysis]\ntime = \"OS_MONTHS\"\n",
    ))
    .unwrap();
    assert_eq!(cfg.analysis.event, "OS_EVENT");
    assert!(
        config_error("[output]\ndir = \"x\"\n[input]\ndicom = \"no/such/folder\"\n")
            .contains("does not exist")
    );
    // A mistyped masks folder ran to the end with no features and exit 0.
    let e = config_error("[output]\ndir = \"x\"\n[input]\ndicom = \".\"\nmasks = \"Masks\"\n");
    assert!(
        e.contains("[input] masks folder") && e.contains("Masks does not exist"),
        "{e}"
    );
    // A key the config names that is not there: before any stage runs (it failed the deid
    // stage with exit 1).
    let e = config_error(
        "[output]\ndir = \"x\"\n[input]\ndicom = \".\"\n[deid]\nkey = \"secrets/deid.key\"\n",
    );
    assert!(
        e.contains("[deid] key file") && e.contains("deid.key does not exist"),
        "{e}"
    );
    // A masks "folder" that is a file was said not to exist; an empty dicom path was refused as
    // an output inside the input; a site log that is a folder failed the deid stage, exit 1.
    let e = config_error("[output]\ndir = \"x\"\n[input]\ndicom = \".\"\nmasks = \"p.toml\"\n");
    assert!(e.contains("p.toml is not a folder"), "{e}");
    let e = config_error("[output]\ndir = \"x\"\n[input]\ndicom = \"\"\n");
    assert!(e.contains("[input] dicom is empty"), "{e}");
    let e =
        config_error("[output]\ndir = \"x\"\n[phantom]\nsubjects = 1\n[deid]\nsite_log = \".\"\n");
    assert!(
        e.contains("[deid] site_log") && e.contains("is a folder"),
        "{e}"
    );
}

/// A label map saved uncompressed (`pet_labels.nii`, as `features --mask` takes it) is used;
/// it was passed over, and the series said to have no mask.
#[test]
fn an_uncompressed_label_map_is_used() {
    let d = tempfile::tempdir().unwrap();
    let (cohort, out) = (d.path().join("cohort"), d.path().join("out"));
    phantom(&cohort, "1", "3", &[]);
    for entry in std::fs::read_dir(cohort.join("masks")).unwrap() {
        let dir = entry.unwrap().path();
        for stem in ["pet_labels", "mr_labels"] {
            let gz = dir.join(format!("{stem}.nii.gz"));
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap()),
                &mut bytes,
            )
            .unwrap();
            std::fs::write(dir.join(format!("{stem}.nii")), bytes).unwrap();
            std::fs::remove_file(gz).unwrap();
        }
    }
    let cfg = input_config(d.path(), &cohort, &out, "");
    ancilla_ok(&["--quiet", "run", cfg.to_str().unwrap()]);
    let features = std::fs::read_to_string(out.join("features/features.csv")).unwrap();
    for (modality, image) in [("pt", "suvbw"), ("mr", "t2")] {
        assert!(
            features.contains(&format!(",{modality},"))
                && features
                    .lines()
                    .any(|l| l.contains(&format!(",{image},tumor,stat_max,"))),
            "{modality} {image} tumour features from the .nii label maps"
        );
    }
}

/// The [clinical] section's lines naming the three tables.
fn table_lines(adsl: &Path, adtte: &Path, pathology: &Path) -> String {
    format!(
        "adsl = \"{}\"\nadtte = \"{}\"\npathology = \"{}\"\n",
        adsl.display(),
        adtte.display(),
        pathology.display()
    )
}

/// A run of the phantom cohort at `cohort` as a site's export into `dir/name`, with `clinical`
/// as the [clinical] section's lines. The run must succeed.
fn input_run(dir: &Path, cohort: &Path, name: &str, clinical: &str) -> PathBuf {
    let out = dir.join(name);
    let cfg = input_config(dir, cohort, &out, &format!("[clinical]\n{clinical}"));
    ancilla_ok(&["run", cfg.to_str().unwrap()]);
    out
}

/// The link stage's findings are kept apart in provenance.json: a subject of the other arm with
/// imaging is a rejected input; a pathology whose stage and viable tumour disagree is a warning
/// (it was listed with the rejected inputs, as every link message was).
#[test]
fn link_warnings_are_warnings_and_subjects_kept_out_are_rejected() {
    use ancilla::clinical::tables::TextTable;
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "4", "3", &[]);
    let clinical = cohort.join("clinical");
    // ADSL with every subject in arm A but the first, which is put in arm B.
    let adsl = TextTable::read(&clinical.join("adsl.csv")).unwrap();
    let (id, arm) = (adsl.col("USUBJID").unwrap(), adsl.col("ARMCD").unwrap());
    let moved = adsl.rows[0][id].clone();
    let mut w = csv::Writer::from_path(d.path().join("adsl.csv")).unwrap();
    w.write_record(&adsl.header).unwrap();
    for (r, row) in adsl.rows.iter().enumerate() {
        let mut row = row.clone();
        row[arm] = if r == 0 { "B" } else { "A" }.into();
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
    // A pathology whose stage disagrees with its viable tumour, for another subject.
    let path = TextTable::read(&clinical.join("pathology.csv")).unwrap();
    let (ypt, viable) = (
        path.col("YPT").unwrap(),
        path.col("VIABLE_TUMOR_PCT").unwrap(),
    );
    let mut w = csv::Writer::from_path(d.path().join("pathology.csv")).unwrap();
    w.write_record(&path.header).unwrap();
    for (r, row) in path.rows.iter().enumerate() {
        let mut row = row.clone();
        if r == 1 {
            row[ypt] = "ypT0".into();
            row[viable] = "40".into();
        }
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
    let out = input_run(
        d.path(),
        &cohort,
        "out",
        &table_lines(
            &d.path().join("adsl.csv"),
            &clinical.join("adtte.csv"),
            &d.path().join("pathology.csv"),
        ),
    );
    let provenance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
            .unwrap();
    let of = |key: &str| -> Vec<String> {
        provenance[key]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["stage"] == "link")
            .map(|p| p["reason"].as_str().unwrap().to_string())
            .collect()
    };
    let (rejected, warned) = (of("rejected_inputs"), of("warnings"));
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(
        rejected[0].starts_with(&format!("{moved}: arm B subject with imaging")),
        "{rejected:?}"
    );
    // ADSL's subjects put in arm A that have no imaging (the phantom's arm B) are named, in one
    // warning (a monitor's audit: counted in the report, named nowhere).
    assert_eq!(warned.len(), 2, "{warned:?}");
    assert!(
        warned[0].contains("disagree on viable tumour"),
        "{warned:?}"
    );
    assert!(
        warned[1].contains("of arm A without imaging features in features.csv"),
        "{warned:?}"
    );
    // Written into the outputs: the table's file name, not its folders (a site path may name a
    // person).
    assert!(
        warned[0].starts_with("pathology.csv row 3 column YPT: "),
        "{warned:?}"
    );
    let provenance_text = std::fs::read_to_string(out.join("provenance.json")).unwrap();
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    for text in [&provenance_text, &report] {
        assert!(!text.contains(d.path().to_str().unwrap()));
    }
}

/// A trial that codes its arms otherwise ("DNX" for the delayed nephrectomy) and dates the
/// nephrectomy in a procedures table, not in ADSL: `[clinical] arm` and `procedures` give the
/// analysis table a run on the standard tables gives (but for the arm's code), the intervals to
/// the nephrectomy included; the report counts the arm by its code. Before, neither setting
/// existed: every subject was kept out as of another arm, and no interval was computed.
#[test]
fn arm_code_and_procedures_table_from_the_config() {
    use ancilla::clinical::tables::TextTable;
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "3", "3", &[]);
    let clinical = cohort.join("clinical");
    // ADSL with other arm codes and no NEPHRDT; the nephrectomy dates in a procedures table.
    let adsl = TextTable::read(&clinical.join("adsl.csv")).unwrap();
    let (arm, neph) = (adsl.col("ARMCD").unwrap(), adsl.col("NEPHRDT").unwrap());
    let mut w = csv::Writer::from_path(d.path().join("adsl2.csv")).unwrap();
    let mut pr = String::from("USUBJID,PRTRT,PRSTDTC\n");
    let keep = |row: &[String]| -> Vec<String> {
        row.iter()
            .enumerate()
            .filter(|&(c, _)| c != neph)
            .map(|(c, v)| match (c == arm, v.as_str()) {
                (true, "A") => "DNX".to_string(),
                (true, "B") => "CONT".to_string(),
                _ => v.clone(),
            })
            .collect()
    };
    w.write_record(keep(&adsl.header)).unwrap();
    for row in &adsl.rows {
        w.write_record(keep(row)).unwrap();
        if !row[neph].is_empty() {
            pr += &format!(
                "{},Radical nephrectomy,{}T09:30\n",
                row[adsl.col("USUBJID").unwrap()],
                row[neph]
            );
        }
    }
    w.flush().unwrap();
    std::fs::write(d.path().join("pr.csv"), pr).unwrap();
    let run = |name: &str, clinical_section: &str| {
        input_run(
            d.path(),
            &cohort,
            name,
            &format!(
                "adtte = \"{}\"\npathology = \"{}\"\n{clinical_section}",
                clinical.join("adtte.csv").display(),
                clinical.join("pathology.csv").display(),
            ),
        )
    };
    let standard = run(
        "standard",
        &format!("adsl = \"{}\"\n", clinical.join("adsl.csv").display()),
    );
    let other = run(
        "other",
        &format!(
            "adsl = \"{}\"\nprocedures = \"{}\"\narm = \"DNX\"\n",
            d.path().join("adsl2.csv").display(),
            d.path().join("pr.csv").display()
        ),
    );
    let table = |out: &Path| TextTable::read(&out.join("analysis/analysis_table.csv")).unwrap();
    let (a, b) = (table(&standard), table(&other));
    assert_eq!(a.header, b.header);
    assert!(!a.rows.is_empty());
    let armcd = a.col("ARMCD").unwrap();
    for (ra, rb) in a.rows.iter().zip(&b.rows) {
        assert_eq!((ra[armcd].as_str(), rb[armcd].as_str()), ("A", "DNX"));
        let differ: Vec<&String> = a
            .header
            .iter()
            .enumerate()
            .filter(|&(c, _)| c != armcd && ra[c] != rb[c])
            .map(|(_, h)| h)
            .collect();
        assert!(differ.is_empty(), "{differ:?}");
    }
    let days = a.col("DAYS_IMAGING_TO_NEPHRECTOMY").unwrap();
    assert!(b.rows.iter().all(|r| !r[days].is_empty()));
    let html = std::fs::read_to_string(other.join("report.html")).unwrap();
    assert!(
        html.contains("arm DNX <b>") && html.contains("linked (arm DNX, analysed)"),
        "the flow counts the arm by its code"
    );
}

/// An output folder inside the folder a command reads is refused before anything is written:
/// a rerun read its own outputs back as input (`run` met its released copies as 90 series and
/// 2,503 files not released; `convert` its NIfTI files as rejected "not DICOM" files), and a
/// site's export is not to be written to.
#[test]
fn output_inside_the_input_is_refused_by_convert_deid_and_run() {
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "1", "2", &[]);
    let input = cohort.join("site-export");
    let files_before = ancilla::ingest::walk::walk(std::slice::from_ref(&input)).files;
    let refused = |args: &[&str]| {
        let o = ancilla(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("lies inside the input"), "{err}");
    };
    let inside = input.join("ancilla-out");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    refused(&["convert", &s(&input), "--out", &s(&inside)]);
    // The input itself, written through `..`.
    refused(&["convert", &s(&input), "--out", &s(&inside.join(".."))]);
    let args = deid_args(&cohort, &inside, &[]);
    refused(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let cfg = input_config(d.path(), &cohort, &inside, "");
    refused(&["run", &s(&cfg)]);
    assert_eq!(
        ancilla::ingest::walk::walk(std::slice::from_ref(&input)).files,
        files_before
    );
    // The site-side log lists input paths (PHI): never under the output folder.
    let outside = d.path().join("release");
    let args = deid_args(
        &cohort,
        &outside,
        &["--site-log", &s(&outside.join("logs/site-log.tsv"))],
    );
    let o = ancilla(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("lies inside the output folder"), "{err}");
    assert!(!outside.exists());
    // (The config's last section is [deid].)
    let body = std::fs::read_to_string(&cfg).unwrap().replace(
        &format!("dir = \"{}\"", inside.display()),
        &format!("dir = \"{}\"", outside.display()),
    ) + &format!(
        "site_log = \"{}\"\n",
        outside.join("site-log.tsv").display()
    );
    let cfg = config(d.path(), &body);
    let o = ancilla(&["run", &s(&cfg)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("deid.site_log") && err.contains("lies inside the output folder"),
        "{err}"
    );
    // Nor inside the input (a core-lab audit: it was written into the site's tree, and read
    // back by the next run as a rejected file), by `deid` or `run`.
    let args = deid_args(
        &cohort,
        &outside,
        &["--site-log", &s(&input.join("site-log.tsv"))],
    );
    let o = ancilla(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("site-side log") && err.contains("lies inside the input"),
        "{err}"
    );
    // `run` with its site log inside `tree`: refused, `tree` as it was.
    let site_log_refused = |tree: &Path| {
        let before = ancilla::ingest::walk::walk(&[tree.to_path_buf()]).files;
        let cfg = config(
            d.path(),
            &body.replace(
                &outside.join("site-log.tsv").display().to_string(),
                &tree.join("site-log.tsv").display().to_string(),
            ),
        );
        let o = ancilla(&["run", &s(&cfg)]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains("deid.site_log") && err.contains("lies inside the input"),
            "{err}"
        );
        assert_eq!(
            ancilla::ingest::walk::walk(&[tree.to_path_buf()]).files,
            before
        );
    };
    site_log_refused(&input);
    assert_eq!(
        ancilla::ingest::walk::walk(std::slice::from_ref(&input)).files,
        files_before
    );
    // The masks folder is an input of `run` too (an operations audit: outputs written into it
    // were read as masks, and no rerun was up to date), for the output and the site log alike.
    let masks = cohort.join("masks");
    let masks_before = ancilla::ingest::walk::walk(std::slice::from_ref(&masks)).files;
    let cfg = input_config(d.path(), &cohort, &masks.join("run"), "");
    refused(&["run", &s(&cfg)]);
    site_log_refused(&masks);
    assert_eq!(
        ancilla::ingest::walk::walk(std::slice::from_ref(&masks)).files,
        masks_before
    );
    // Beside the input (and the input inside the output, as the pipeline's own convert reads
    // out/deid into out/nifti) is fine.
    ancilla_ok(&["convert", &s(&input), "--out", &s(&cohort.join("nifti"))]);
}

/// Regression (an operations audit): a subject of the map whose export is missing was in no
/// output, log or report. It is a warning of the run, named by its USUBJID.
#[test]
fn a_mapped_subject_without_images_is_a_warning() {
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "1", "2", &[]);
    let map = cohort.join("clinical/subject_map.csv");
    let mut text = std::fs::read_to_string(&map).unwrap();
    text.push_str("MRN0000001,ANC-99-0099\n");
    std::fs::write(&map, text).unwrap();
    let out = d.path().join("out");
    let cfg = input_config(d.path(), &cohort, &out, "");
    let o = ancilla(&["run", cfg.to_str().unwrap()]);
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{log}");
    let said = "1 subject of the subject map has no file released: ANC-99-0099";
    assert!(log.contains(said), "{log}");
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
            .unwrap();
    assert!(
        p["warnings"].to_string().contains(said),
        "{}",
        p["warnings"]
    );
}

#[test]
fn unreadable_config_and_bad_shard_are_usage_errors() {
    let o = ancilla(&["run", "/nonexistent/p.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let d = tempfile::tempdir().unwrap();
    let cfg = demo(d.path(), &d.path().join("o"), 1);
    let o = ancilla(&["run", cfg.to_str().unwrap(), "--shard", "3/2"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn shipped_configs_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let text = std::fs::read_to_string(root.join("demo.toml")).unwrap();
    let cfg: ancilla::pipeline::Config = toml::from_str(&text).unwrap();
    assert_eq!(cfg.output.dir, PathBuf::from("demo-out"));
    let text = std::fs::read_to_string(root.join("ancillary-study.toml")).unwrap();
    let cfg: ancilla::pipeline::Config = toml::from_str(&text).unwrap();
    assert_eq!(cfg.rois.labels["1"], "tumor");
    assert_eq!(cfg.analysis.cutoffs["pt_tumor_stat_max"], 10.0);
    // Its commented texture lines, taken up, parse too.
    let texture = text
        .replace("# texture_bin_width =", "texture_bin_width =")
        .replace("# texture_min =", "texture_min =");
    let cfg: ancilla::pipeline::Config = toml::from_str(&texture).unwrap();
    assert_eq!(cfg.rois.texture_min.unwrap().for_image("suvbw"), Some(0.0));
    let text = std::fs::read_to_string(root.join("demo-small.toml")).unwrap();
    let cfg: ancilla::pipeline::Config = toml::from_str(&text).unwrap();
    assert_eq!(cfg.phantom.unwrap().subjects, 4);
}

/// `page` opened as a person would, in headless Chromium (5 s of virtual time, no network): its
/// DOM after load and Chromium's log. None, with a message, where Chromium is absent.
fn in_chromium(dir: &Path, page: &str) -> Option<(String, String)> {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        eprintln!("skipped: no chromium on this machine (apt-get install chromium)");
        return None;
    };
    let probe = dir.join("probe.html");
    std::fs::write(&probe, page).unwrap();
    let run = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("file://{}", probe.display()))
        .output()
        .unwrap();
    Some((
        String::from_utf8_lossy(&run.stdout).into_owned(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    ))
}

/// The report opened as a person would, in headless Chromium: no console error, every image
/// decoded, nothing fetched from outside. Skips (with a message) where Chromium is absent.
#[test]
fn report_opens_in_headless_chromium_with_every_image() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let cfg = demo(d.path(), &out, 6);
    ancilla_ok(&["run", cfg.to_str().unwrap()]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    // Self-contained: no external resource of any kind.
    for bad in ["http://", "https://", "src=\"/", "<link", "<script"] {
        assert!(!html.contains(bad), "report.html contains {bad}");
    }
    let images = html.matches("<img ").count();
    assert!(images >= 12, "{images} QC images");
    // The flow follows arm A (6 subjects imaged); the phantom's arm-B subject with imaging is
    // said beside it. Regression: "imaged and de-identified 7" after "arm A 6".
    assert!(
        html.contains("<span>arm A <b>6</b></span> → <span>arm A imaged and de-identified <b>6</b></span> → <span>with features <b>6</b></span>"),
        "{html}"
    );
    assert!(
        html.contains("Also imaged and de-identified: 1 subject outside arm A ("),
        "{html}"
    );
    assert!(html.contains("Kaplan–Meier"));
    // Six subjects may give fewer than 5 events: then Cox is refused and the page says so.
    assert!(
        html.contains("aria-label=\"Forest plot\"")
            || html.contains("No Cox model could be fitted")
    );
    // A copy of the page with a checker that writes its findings into the title.
    let checker = "<script>window.addEventListener('load',()=>{const i=[...document.images];document.title='LOADED '+i.filter(x=>x.complete&&x.naturalWidth>0).length+' OF '+i.length;});</script></body>";
    let Some((dom, log)) = in_chromium(d.path(), &html.replace("</body>", checker)) else {
        return;
    };
    assert!(
        dom.contains(&format!("<title>LOADED {images} OF {images}</title>")),
        "not every image loaded: {}",
        dom.lines().find(|l| l.contains("<title>")).unwrap_or("")
    );
    let console_errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") && (l.contains("Uncaught") || l.contains("ERROR")))
        .collect();
    assert!(console_errors.is_empty(), "{console_errors:?}");
}

/// Regression: the rows of numbers at risk were named from x = 0 whatever the name's length,
/// so under a median split at 14.88 the rows read "≤ 14.8820" and "> 14.8820" (the name ran
/// into the first number), the forest plot's axis title sat on its tick labels, and a feature
/// name longer than the forest plot's 260 px name column ran off its left edge. Laid out by
/// Chromium, no two texts of any figure of the report overlap, and every text is inside its
/// figure.
#[test]
fn report_figures_have_no_text_over_text_in_headless_chromium() {
    let d = tempfile::tempdir().unwrap();
    // 40 subjects, values 10.00 to 19.75 (median 14.875), times and events spread out; a
    // second feature of a long ROI name, its values in another order.
    let long = "pt_left_renal_vein_tumour_thrombus_morph_area_dens_conv_hull";
    let mut table = format!("USUBJID,PFS_MONTHS,PFS_EVENT,pt_tumor_stat_max,{long},PCR\n");
    for i in 0..40 {
        let v = 10.0 + 0.25 * i as f64;
        let t = 2 + (i * 7) % 29;
        table += &format!(
            "S{i:03},{t},{},{v:.2},{},{}\n",
            u8::from(i % 5 != 0),
            (i * 13) % 40,
            u8::from(v < 12.0)
        );
    }
    let csv = d.path().join("table.csv");
    std::fs::write(&csv, table).unwrap();
    let out = d.path().join("out");
    ancilla_ok(&[
        "analyze",
        csv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    // The figures the regression was in.
    assert!(html.contains("≤ 14.88 (n = 20)"), "{html}");
    assert!(html.contains("aria-label=\"Forest plot\""), "{html}");
    assert!(html.contains(&format!(">{long}</text>")), "{html}");
    // Every text against its figure's box, and every pair of texts in one figure, compared by
    // the boxes Chromium laid them out in.
    let checker = "<script>window.addEventListener('load',()=>{const bad=[];document.querySelectorAll('svg').forEach(s=>{const f=s.getBoundingClientRect();const t=[...s.querySelectorAll('text')].map(e=>[e.textContent,e.getBoundingClientRect()]);for(const [n,r] of t){if(r.left<f.left-0.5||r.right>f.right+0.5||r.top<f.top-0.5||r.bottom>f.bottom+0.5)bad.push(n+' | outside');}for(let a=0;a<t.length;a++)for(let b=a+1;b<t.length;b++){const p=t[a][1],q=t[b][1];if(p.left<q.right&&q.left<p.right&&p.top<q.bottom&&q.top<p.bottom)bad.push(t[a][0]+' | '+t[b][0]);}});document.title='OVERLAPS '+bad.length+': '+bad.join('; ');});</script></body>";
    let Some((dom, _)) = in_chromium(d.path(), &html.replace("</body>", checker)) else {
        return;
    };
    let title = dom.lines().find(|l| l.contains("<title>")).unwrap_or("");
    assert!(title.contains("<title>OVERLAPS 0: </title>"), "{title}");
}

#[test]
fn a_study_without_an_adc_series_gets_adc_fitted_from_its_dwi() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let ph = dir.join("ph");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    phantom(&ph, "2", "4", &[]);
    let truth = ground_truth(&ph);
    // The first subject's site exported no ADC series.
    let first = &truth["subjects"][0];
    let adc_dir = ph
        .join("site-export")
        .join(first["series_dirs"]["adc"].as_str().unwrap());
    std::fs::remove_dir_all(adc_dir).unwrap();
    let out = dir.join("out");
    let cfg = input_config(
        dir,
        &ph,
        &out,
        "[rois]\nlabels = { 1 = \"tumor\", 2 = \"kidney\" }\n",
    );
    ancilla_ok(&["run", &s(&cfg), "--quiet"]);
    let text = std::fs::read_to_string(out.join("features/features.csv")).unwrap();
    let images = |subject: &str| -> std::collections::BTreeSet<String> {
        text.lines()
            .filter(|l| l.starts_with(subject))
            .map(|l| l.split(',').nth(3).unwrap().to_string())
            .collect()
    };
    let (a, b) = (
        first["usubjid"].as_str().unwrap(),
        truth["subjects"][1]["usubjid"].as_str().unwrap(),
    );
    assert!(
        images(a).contains("adc_fit") && !images(a).contains("adc"),
        "{:?}",
        images(a)
    );
    assert!(
        images(b).contains("adc") && !images(b).contains("adc_fit"),
        "{:?}",
        images(b)
    );
    // The fitted tumour ADC is the phantom's (median; the mask is resampled from the T2 grid).
    let median = text
        .lines()
        .find(|l| l.starts_with(a) && l.contains(",adc_fit,tumor,stat_median,"))
        .unwrap()
        .split(',')
        .nth(6)
        .unwrap()
        .parse::<f64>()
        .unwrap();
    let true_adc = first["regions"]["tumor"]["adc_1e-6_mm2_s"]
        .as_f64()
        .unwrap();
    assert!((median - true_adc).abs() / true_adc < 0.01, "{median}");
}

/// The PET feature rows of a run's `features.csv`: (subject, image, roi, feature) → value.
fn pet_rows(out: &Path) -> std::collections::BTreeMap<[String; 4], String> {
    let mut rows = std::collections::BTreeMap::new();
    let mut r = csv::Reader::from_path(out.join("features/features.csv")).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        if &rec[1] == "pt" {
            let key = [&rec[0], &rec[3], &rec[4], &rec[5]].map(str::to_string);
            rows.insert(key, rec[6].to_string());
        }
    }
    rows
}

/// Without [input] masks, a series is measured on the DICOM SEG of the export that shares its
/// frame of reference (de-identified with the same key, so the two pseudonymous UIDs still
/// match): the phantom's SEG is drawn on the PET label grid, so every PET value equals the
/// label-map run's. The MR series, which no SEG or RTSTRUCT covers, are reported with their
/// reason; the report's QC gallery outlines the SEG's tumour; a label table that numbers the
/// segments otherwise than their own labels is warned about. With the SEG taken out of the
/// export, the RTSTRUCT is used: its tumour is the label map's (analytic ball, 360-vertex
/// contours) and it has no kidney.
#[test]
fn dicom_seg_or_rtstruct_of_the_export_stands_in_for_label_maps() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let cohort = dir.join("cohort");
    phantom(&cohort, "2", "5", &["--dicom-rois"]);
    let run = |out: &Path, export: &Path, masks: bool, extra: &str| {
        let masks = if masks {
            format!("masks = \"{}\"\n", cohort.join("masks").display())
        } else {
            String::new()
        };
        let cfg = config(
            dir,
            &format!(
                "[output]\ndir = \"{}\"\n[input]\ndicom = \"{}\"\n{masks}\
                 [deid]\nkey = \"{}\"\nsubjects = \"{}\"\n\
                 [clinical]\nadsl = \"{c}/adsl.csv\"\nadtte = \"{c}/adtte.csv\"\n\
                 pathology = \"{c}/pathology.csv\"\n{extra}",
                out.display(),
                export.display(),
                cohort.join("key.bin").display(),
                cohort.join("clinical/subject_map.csv").display(),
                c = cohort.join("clinical").display(),
            ),
        );
        ancilla_ok(&["run", "--quiet", cfg.to_str().unwrap()]);
    };
    let export = cohort.join("site-export");
    run(&dir.join("with-masks"), &export, true, "");
    run(&dir.join("with-seg"), &export, false, "");
    let reference = pet_rows(&dir.join("with-masks"));
    assert!(reference.len() > 100, "{}", reference.len());
    assert_eq!(pet_rows(&dir.join("with-seg")), reference);
    let problems = std::fs::read_to_string(dir.join("with-seg/features/problems.json")).unwrap();
    let problems: Vec<serde_json::Value> = serde_json::from_str(&problems).unwrap();
    let no_mask: Vec<&str> = problems
        .iter()
        .filter(|p| {
            p["reason"]
                .as_str()
                .unwrap()
                .starts_with("no ROI mask: no DICOM SEG or RTSTRUCT")
        })
        .map(|p| p["series_kind"].as_str().unwrap())
        .collect();
    assert_eq!(no_mask, ["t2", "adc", "t2", "adc"], "{problems:?}");
    // A run without [input] masks is not sent looking for label maps under a folder it has none.
    assert!(!format!("{problems:?}").contains("<masks>"), "{problems:?}");
    let provenance = std::fs::read_to_string(dir.join("with-seg/provenance.json")).unwrap();
    assert!(
        provenance.contains("no [input] masks: a series is measured only on a DICOM SEG"),
        "{provenance}"
    );
    // The report's QC gallery outlines the SEG's tumour: the PET MIPs are the label-map run's.
    let images = |out: &str| -> std::collections::BTreeMap<String, String> {
        let html = std::fs::read_to_string(dir.join(out).join("report.html")).unwrap();
        html.split("<img alt=\"")
            .skip(1)
            .map(|rest| {
                let (alt, rest) = rest.split_once("\" src=\"").unwrap();
                (alt.to_string(), rest.split('"').next().unwrap().to_string())
            })
            .filter(|(alt, _)| alt.starts_with("PET MIP"))
            .collect()
    };
    let mips = images("with-seg");
    assert_eq!(mips.len(), 2, "{:?}", mips.keys());
    assert_eq!(mips, images("with-masks"));
    // A label table that numbers the SEG's tumour and liver the other way round is warned about
    // (the segments' own labels are names of the table), once per subject and segment.
    run(
        &dir.join("swapped"),
        &export,
        false,
        "[rois]\nlabels = { 1 = \"liver\", 2 = \"kidney\", 3 = \"tumor\", 4 = \"bloodpool\", \
         5 = \"parotid\" }\n",
    );
    let provenance: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("swapped/provenance.json")).unwrap(),
    )
    .unwrap();
    let warned: Vec<&str> = provenance["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["reason"].as_str())
        .filter(|r| r.contains("check the numbering"))
        .collect();
    assert_eq!(warned.len(), 4, "{warned:#?}");
    assert!(warned.contains(
        &"segment 1 of the DICOM SEG is labelled tumor, but [rois] labels names 1 liver: \
          measured as liver on the suvbw image; check the numbering"
    ));

    // The same export without its SEG series.
    let truth = ground_truth(&cohort);
    let rt_only = dir.join("rt-only");
    copy_tree(&export, &rt_only);
    for s in truth["subjects"].as_array().unwrap() {
        let seg = rt_only.join(s["dicom_rois"]["seg"].as_str().unwrap());
        std::fs::remove_dir_all(seg.parent().unwrap()).unwrap();
    }
    run(&dir.join("with-rtstruct"), &rt_only, false, "");
    let from_rt = pet_rows(&dir.join("with-rtstruct"));
    let volume = |rows: &std::collections::BTreeMap<[String; 4], String>, roi: &str| {
        rows.iter()
            .filter(|(k, _)| k[2] == roi && k[3] == "morph_vol_approx")
            .map(|(_, v)| v.parse::<f64>().unwrap())
            .collect::<Vec<f64>>()
    };
    assert_eq!(volume(&from_rt, "tumor").len(), 2);
    assert_eq!(volume(&from_rt, "tumor"), volume(&reference, "tumor"));
    // Both against the phantom's ground truth (the tumour's voxels on the PET grid), subjects in
    // USUBJID order as the rows are.
    let mut truth_ml: Vec<(String, f64)> = truth["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let ml = s["regions"]["tumor"]["volume_ml_pet_grid"]
                .as_f64()
                .unwrap();
            (s["usubjid"].as_str().unwrap().to_string(), ml)
        })
        .collect();
    truth_ml.sort_by(|a, b| a.0.cmp(&b.0));
    for (rows, what) in [
        (&from_rt, "RTSTRUCT"),
        (&pet_rows(&dir.join("with-seg")), "SEG"),
    ] {
        for (got, (id, ml)) in volume(rows, "tumor").iter().zip(&truth_ml) {
            assert!(
                (got - ml * 1000.0).abs() < 1e-6 * ml * 1000.0,
                "{what} {id}: {got} mm3 vs {ml} ml"
            );
        }
    }
    assert!(volume(&from_rt, "kidney").is_empty());
    assert_eq!(volume(&from_rt, "liver").len(), 2);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// The QC gallery shows every imaged subject (a reviewer checks each tumour ROI), and names
/// those it cannot show. Regression: it showed the first 12 subjects and left the rest out
/// without a word; a subject without a PET region map was dropped the same way.
#[test]
fn the_qc_gallery_shows_every_subject_and_names_those_without_pictures() {
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "13", "5", &[]);
    let masks = cohort.join("masks");
    let mut ids: Vec<String> = std::fs::read_dir(&masks)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    assert!(ids.len() >= 13, "{ids:?}");
    // One subject's PET region map is missing from the core lab's delivery.
    std::fs::remove_file(masks.join(&ids[0]).join("pet_labels.nii.gz")).unwrap();
    let out = d.path().join("imaging");
    let cfg = input_config(d.path(), &cohort, &out, "");
    let o = ancilla(&["run", cfg.to_str().unwrap()]);
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{log}");
    let imaged = std::fs::read_dir(out.join("deid"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count();
    assert!(imaged >= 13, "{imaged}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<img alt=\"PET MIP").count(), imaged - 1);
    assert!(
        log.contains(&format!(
            "report: report.html (QC of {} subjects",
            imaged - 1
        )),
        "{log}"
    );
    assert!(
        html.contains(&format!(
            "No QC image for 1 subject (no PET SUV volume or no PET region map): {}.",
            ids[0]
        )),
        "{html}"
    );
    assert!(!html.contains(&format!("PET MIP {}\"", ids[0])));
}

/// A run without [clinical] tables (a core lab's imaging run before the clinical data are locked)
/// still writes report.html: the flow as far as it goes, the QC gallery and the warnings, and a
/// statement that the statistics were not run. Before, the report was skipped ("no statistics")
/// and the run left nothing a PI could open. A rerun leaves it as it is.
#[test]
fn an_imaging_only_run_writes_its_report_without_statistics() {
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "2", "5", &[]);
    let out = d.path().join("imaging");
    let cfg = input_config(d.path(), &cohort, &out, "");
    let o = ancilla(&["run", cfg.to_str().unwrap()]);
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{log}");
    assert!(
        log.contains("link: skipped (no [clinical] tables)"),
        "{log}"
    );
    assert!(
        log.contains("report: report.html (QC of 2 subjects"),
        "{log}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("Not run: the run had no clinical tables"),
        "{html}"
    );
    assert!(html.contains("imaged and de-identified <b>2</b>"), "{html}");
    assert!(html.contains("with features <b>2</b>"), "{html}");
    assert!(!html.contains("linked (arm"), "{html}");
    assert!(!html.contains("Kaplan"), "{html}");
    assert_eq!(html.matches("<img alt=\"PET MIP").count(), 2);
    assert!(!html.contains("No QC images"), "{html}");
    let again = ancilla(&["run", cfg.to_str().unwrap()]);
    let log = String::from_utf8_lossy(&again.stderr);
    assert!(log.contains("report: up to date"), "{log}");
}

/// Files the de-identification did not release are rejected inputs of the run: a secondary
/// capture (quarantined as possibly burned-in) and a file of a patient not in the subject map
/// were in deid-report.json only, absent from provenance.json and the report's warnings (a run on
/// dicognito's test files listed 3 of its 28 such files). A file the scan rejected already (the
/// phantom's truncated and non-DICOM files) is listed once.
#[test]
fn files_not_released_by_deid_are_rejected_inputs_of_the_run() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "1", "3", &[]);
    let export = cohort.join("site-export");
    let first = ancilla::ingest::walk::walk(std::slice::from_ref(&export))
        .files
        .into_iter()
        .find(|p| dicom_object::open_file(p).is_ok())
        .unwrap();
    let put = |obj: &mut dicom_object::DefaultDicomObject, tag, vr, v: &str| {
        obj.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
    };
    let mut capture = dicom_object::open_file(&first).unwrap();
    put(
        &mut capture,
        tags::SOP_CLASS_UID,
        VR::UI,
        "1.2.840.10008.5.1.4.1.1.7",
    );
    put(
        &mut capture,
        tags::SOP_INSTANCE_UID,
        VR::UI,
        "1.2.826.0.1.3680043.9.7.41",
    );
    put(
        &mut capture,
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        "1.2.826.0.1.3680043.9.7.40",
    );
    capture.meta_mut().media_storage_sop_class_uid = "1.2.840.10008.5.1.4.1.1.7".into();
    capture.meta_mut().media_storage_sop_instance_uid = "1.2.826.0.1.3680043.9.7.41".into();
    capture.write_to_file(export.join("capture.dcm")).unwrap();
    let mut stranger = dicom_object::open_file(&first).unwrap();
    put(&mut stranger, tags::PATIENT_ID, VR::LO, "NOT-IN-MAP-9");
    put(
        &mut stranger,
        tags::SOP_INSTANCE_UID,
        VR::UI,
        "1.2.826.0.1.3680043.9.7.42",
    );
    stranger.meta_mut().media_storage_sop_instance_uid = "1.2.826.0.1.3680043.9.7.42".into();
    stranger.write_to_file(export.join("stranger.dcm")).unwrap();
    let out = d.path().join("out");
    let cfg = input_config(d.path(), &cohort, &out, "");
    ancilla_ok(&["run", "--quiet", cfg.to_str().unwrap()]);
    let provenance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
            .unwrap();
    let reasons: Vec<&str> = provenance["rejected_inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    let count = |start: &str| reasons.iter().filter(|r| r.starts_with(start)).count();
    assert_eq!(count("quarantined: secondary capture"), 1, "{reasons:?}");
    assert_eq!(
        count("unknown subject: PatientID not in the subject map"),
        1,
        "{reasons:?}"
    );
    assert_eq!(count("not DICOM"), 1, "{reasons:?}");
    assert_eq!(count("truncated"), 1, "{reasons:?}");
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        report.contains("quarantined: secondary capture"),
        "{report}"
    );
    assert!(report.contains("unknown subject: PatientID not in the subject map"));
    // Numbered as deid-report.json numbers them; the paths stay at the site.
    assert!(!provenance.to_string().contains("stranger.dcm"));
}

/// Copy the series folder `from` to `to` as a new series (new series and SOP instance UIDs,
/// SeriesNumber `number`), in a new study moved `days` later when `days` is not 0, with its
/// PixelSpacing `spacing` times the original's.
fn copy_as_new_series(from: &Path, to: &Path, number: i32, days: i64, spacing: f64) {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    std::fs::create_dir_all(to).unwrap();
    let study = format!("2.25.{}", 900_000 + number);
    let series = format!("2.25.{}", 910_000 + number);
    for (i, f) in support::all_files(from).iter().enumerate() {
        let mut obj = dicom_object::open_file(f).unwrap();
        let sop = format!("2.25.{}{:04}", 920_000 + number, i);
        let put = |o: &mut dicom_object::DefaultDicomObject, tag, vr, v: &str| {
            o.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
        };
        put(&mut obj, tags::SERIES_INSTANCE_UID, VR::UI, &series);
        put(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, &sop);
        put(&mut obj, tags::SERIES_NUMBER, VR::IS, &number.to_string());
        obj.meta_mut().media_storage_sop_instance_uid = sop.clone();
        if spacing != 1.0 {
            let ps = obj
                .element(tags::PIXEL_SPACING)
                .unwrap()
                .to_multi_float64()
                .unwrap();
            let ps: Vec<String> = ps.iter().map(|v| format!("{}", v * spacing)).collect();
            put(&mut obj, tags::PIXEL_SPACING, VR::DS, &ps.join("\\"));
        }
        if days != 0 {
            put(&mut obj, tags::STUDY_INSTANCE_UID, VR::UI, &study);
            for tag in [tags::STUDY_DATE, tags::SERIES_DATE, tags::ACQUISITION_DATE] {
                let da = obj.element(tag).unwrap().to_str().unwrap().to_string();
                let later = ancilla::datetime::Date::parse(&da).unwrap().add_days(days);
                put(&mut obj, tag, VR::DA, &later.to_da());
            }
        }
        obj.write_to_file(to.join(f.file_name().unwrap())).unwrap();
    }
}

/// A site's export holds what its archive holds for a patient, not only the study's imaging: here
/// a follow-up MR study 200 days after the pre-operative one (so after the nephrectomy), a second
/// T2 of the pre-operative study on another grid (as a coronal beside an axial) and a second
/// reconstruction of the PET (same day, same grid). Before, the follow-up stopped the whole
/// analysis ("imaging ... after the nephrectomy; pre-operative imaging is expected"), and two
/// series of one image gave each feature "twice; the first value is kept" (whichever came
/// first). Now the follow-up is kept out (a rejected input, by series), the T2 the mask was drawn
/// on is used (the other named), the two PETs are named as ambiguous and their columns left
/// empty, and once the second is kept out (`exclude_series`) the analysis table is byte for byte
/// the one of the export without the extra series.
#[test]
fn imaging_after_the_nephrectomy_and_second_reconstructions_are_set_aside() {
    use ancilla::clinical::tables::TextTable;
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "3", "3", &[]);
    let clinical = cohort.join("clinical");
    let tables = table_lines(
        &clinical.join("adsl.csv"),
        &clinical.join("adtte.csv"),
        &clinical.join("pathology.csv"),
    );
    let plain = input_run(d.path(), &cohort, "plain", &tables);
    let expected = std::fs::read(plain.join("analysis/analysis_table.csv")).unwrap();

    // An arm-A subject's export folder (named ..._<patient_id>).
    let adsl = TextTable::read(&clinical.join("adsl.csv")).unwrap();
    let map = TextTable::read(&clinical.join("subject_map.csv")).unwrap();
    let (usubjid, patient) = map
        .rows
        .iter()
        .map(|r| (r[1].clone(), r[0].clone()))
        .find(|(u, _)| adsl.rows.iter().any(|a| a[1] == *u && a[4] == "A"))
        .unwrap();
    let export = cohort.join("site-export");
    let subject = std::fs::read_dir(&export)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(&format!("_{patient}")))
        .unwrap();
    let study = |prefix: &str| {
        std::fs::read_dir(&subject)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .unwrap()
    };
    let (mr, pet) = (study("MR_"), study("PET_"));
    let t2 = mr.join("004_t2_haste_ax_obl");
    copy_as_new_series(&t2, &subject.join("MR_later/004_t2"), 4, 200, 1.0);
    copy_as_new_series(&t2, &mr.join("008_t2_other_grid"), 8, 0, 1.25);
    copy_as_new_series(
        &pet.join("003_PET_WB_AC"),
        &pet.join("005_PET_RECON2"),
        5,
        0,
        1.0,
    );

    let out = input_run(d.path(), &cohort, "extra", &tables);
    let provenance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
            .unwrap();
    let of = |key: &str| -> Vec<String> {
        provenance[key]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["stage"] == "link" && p["reason"].as_str().unwrap().contains(&usubjid))
            .map(|p| p["reason"].as_str().unwrap().to_string())
            .collect()
    };
    let (rejected, warned) = (of("rejected_inputs"), of("warnings"));
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(
        rejected[0].starts_with(&format!("{usubjid}: mr t2 series 2.25."))
            && rejected[0].contains("after the nephrectomy (NEPHRDT): not pre-operative"),
        "{rejected:?}"
    );
    assert_eq!(warned.len(), 2, "{warned:?}");
    assert!(
        warned[0].starts_with(&format!("{usubjid}: mr t2 series 2.25."))
            && warned[0].contains("of the same day is not used: the mask was drawn on series"),
        "{warned:?}"
    );
    assert!(
        warned[1].starts_with(&format!(
            "{usubjid}: pt suvbw features left empty: 2 series ("
        )),
        "{warned:?}"
    );
    let table = TextTable::read(&out.join("analysis/analysis_table.csv")).unwrap();
    let row = table.rows.iter().find(|r| r[0] == usubjid).unwrap();
    let col = table.col("pt_tumor_stat_max").unwrap();
    assert_eq!(row[col], "");
    assert_ne!(row[table.col("mr_tumor_stat_mean").unwrap()], "");

    // Keep the second reconstruction out, by its de-identified UID from the feature table.
    let features = TextTable::read(&out.join("features/features.csv")).unwrap();
    let plain_features = TextTable::read(&plain.join("features/features.csv")).unwrap();
    let uid = features
        .rows
        .iter()
        .map(|r| r[2].clone())
        .find(|s| {
            s.starts_with("2.25.")
                && !plain_features.rows.iter().any(|p| p[2] == *s)
                && rejected.iter().all(|r| !r.contains(s.as_str()))
        })
        .unwrap();
    let out = input_run(
        d.path(),
        &cohort,
        "extra",
        &format!("{tables}exclude_series = [\"{uid}\"]\n"),
    );
    let used = std::fs::read_to_string(out.join("analysis/analysis_table.series.csv")).unwrap();
    let plain_used =
        std::fs::read_to_string(plain.join("analysis/analysis_table.series.csv")).unwrap();
    assert_eq!(used, plain_used);
    assert!(
        used.contains(&format!("{usubjid},pt,suvbw,2.25.")),
        "{used}"
    );
    let got = std::fs::read(out.join("analysis/analysis_table.csv")).unwrap();
    if got != expected {
        let (a, b) = (
            TextTable::read(&plain.join("analysis/analysis_table.csv")).unwrap(),
            TextTable::read(&out.join("analysis/analysis_table.csv")).unwrap(),
        );
        assert_eq!(a.header, b.header);
        let differ: Vec<String> = a
            .rows
            .iter()
            .zip(&b.rows)
            .flat_map(|(x, y)| {
                (0..x.len())
                    .filter(|&c| x[c] != y[c])
                    .map(|c| format!("{} {}: {} / {}", x[0], a.header[c], x[c], y[c]))
            })
            .take(5)
            .collect();
        panic!("analysis tables differ: {differ:?}");
    }
    // The same series kept out by the site's original SeriesInstanceUID (what its PACS shows,
    // pasted into the config): mapped to its pseudonym, said without the original, which no
    // output holds (a monitor's audit: it was copied into the report, stats.json, summary.md,
    // link-warnings.json and provenance.json, and nothing was kept out).
    let original = {
        let file = all_files(&pet.join("005_PET_RECON2"))[0].clone();
        let obj = dicom_object::open_file(&file).unwrap();
        let uid = obj
            .element(dicom_dictionary_std::tags::SERIES_INSTANCE_UID)
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches('\0')
            .to_string();
        uid
    };
    let out = input_run(
        d.path(),
        &cohort,
        "extra",
        &format!("{tables}exclude_series = [\"{original}\"]\n"),
    );
    assert_eq!(
        std::fs::read(out.join("analysis/analysis_table.csv")).unwrap(),
        got
    );
    for f in all_files(&out) {
        if f.starts_with(out.join("cohort")) {
            continue;
        }
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes
                .windows(original.len())
                .any(|w| w == original.as_bytes()),
            "{}",
            f.display()
        );
    }
    let provenance = std::fs::read_to_string(out.join("provenance.json")).unwrap();
    assert!(
        provenance.contains(&format!(
            "exclude_series entry 1 is a site's original SeriesInstanceUID (not shown: it is \
             PHI); its de-identified series {uid} is kept out"
        )),
        "{provenance}"
    );
    // link's status counts that warning with its own (a review: "0 warnings" after it).
    let p: serde_json::Value = serde_json::from_str(&provenance).unwrap();
    let warned = p["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["stage"] == "link")
        .count();
    let status = p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "link")
        .unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        status.ends_with(&format!(
            " {warned} warning{}",
            if warned == 1 { "" } else { "s" }
        )),
        "{status} / {warned}"
    );
}

/// Clinical tables that do not validate (here one negative AVAL) fail the run, as before, but no
/// longer before the imaging run's report and the provenance are written: the report says why the
/// statistics were not run (the table by file name, its row and column), provenance.json records
/// the link stage as failed, and neither names the tables' folder. Once the table is mended the
/// rerun links, analyses and reports. Before, the run stopped at link with neither file written:
/// nothing for the PI to open, and no audit trail of the imaging work done.
#[test]
fn clinical_tables_that_do_not_validate_still_leave_report_and_provenance() {
    use ancilla::clinical::tables::TextTable;
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "2", "3", &[]);
    let clinical = cohort.join("clinical");
    let sheets = d.path().join("sheets of a named person");
    std::fs::create_dir_all(&sheets).unwrap();
    let adtte = TextTable::read(&clinical.join("adtte.csv")).unwrap();
    let write_adtte = |aval: &str| {
        let c = adtte.col("AVAL").unwrap();
        let mut w = csv::Writer::from_path(sheets.join("adtte.csv")).unwrap();
        w.write_record(&adtte.header).unwrap();
        for (r, row) in adtte.rows.iter().enumerate() {
            let mut row = row.clone();
            if r == 1 {
                row[c] = aval.to_string();
            }
            w.write_record(&row).unwrap();
        }
        w.flush().unwrap();
    };
    write_adtte("-4");
    let out = d.path().join("out");
    let tables = table_lines(
        &clinical.join("adsl.csv"),
        &sheets.join("adtte.csv"),
        &clinical.join("pathology.csv"),
    );
    let cfg = input_config(d.path(), &cohort, &out, &format!("[clinical]\n{tables}"));
    let o = ancilla(&["run", cfg.to_str().unwrap()]);
    let log = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{log}");
    assert!(
        log.contains("adtte.csv row 3 column AVAL: AVAL -4 is negative"),
        "{log}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("Not run: the clinical tables did not link: 1 validation error:<br>adtte.csv row 3 column AVAL: AVAL -4 is negative"),
        "{html}"
    );
    assert!(html.contains("<img alt=\"PET MIP"), "no QC gallery");
    let provenance = std::fs::read_to_string(out.join("provenance.json")).unwrap();
    let p: serde_json::Value = serde_json::from_str(&provenance).unwrap();
    let link = p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "link")
        .unwrap();
    assert!(link["status"]
        .as_str()
        .unwrap()
        .starts_with("failed: 1 validation error:"));
    for text in [&html, &provenance] {
        assert!(!text.contains("named person"));
    }
    assert!(!out.join("analysis/stats.json").exists());

    // Mended (its own value: AVAL agrees with the record's ADT − STARTDT).
    write_adtte(&adtte.rows[1][adtte.col("AVAL").unwrap()]);
    let o = ancilla(&["run", cfg.to_str().unwrap()]);
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{log}");
    assert!(
        log.contains("features: up to date") && log.contains("analyze: stats.json"),
        "{log}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("Kaplan") && !html.contains("Not run"),
        "{html}"
    );

    // An endpoint the table lacks: analyze fails the same way, and the statistics the last run
    // left in analysis/ are withdrawn (an operations audit: a script collecting analysis/ took
    // them), the table, this run's, kept.
    let endpoint = "[analysis]\ntime = \"PFSX_MONTHS\"\nevent = \"PFSX_EVENT\"\n";
    let cfg = input_config(
        d.path(),
        &cohort,
        &out,
        &format!("[clinical]\n{tables}{endpoint}"),
    );
    let o = ancilla(&["run", cfg.to_str().unwrap()]);
    let log = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{log}");
    assert!(!out.join("analysis/stats.json").exists() && !out.join("analysis/summary.md").exists());
    assert!(out.join("analysis/analysis_table.csv").exists());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains(
            "Not run: the analysis failed: analysis table analysis/analysis_table.csv has no \
             column &quot;PFSX_MONTHS&quot;"
        ),
        "{html}"
    );
    assert!(!html.contains("Kaplan"), "{html}");
    assert!(!html.contains(out.to_str().unwrap()));
    // Nor does provenance.json fingerprint them as this run's outputs (a review found the last
    // run's stats.json listed); the report and the table, written by this run, are.
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
            .unwrap();
    let files: Vec<&str> = p["output_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"report.html"), "{files:?}");
    assert!(
        files.contains(&"analysis/analysis_table.csv") && !files.contains(&"analysis/stats.json"),
        "{files:?}"
    );

    // An imaging-only rerun (no [clinical]): nothing of the earlier link and analysis is left,
    // nor listed (an operations audit: they stayed, listed as this run's, exit 0).
    let cfg = input_config(d.path(), &cohort, &out, "");
    let o = ancilla(&["run", cfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out.join("analysis").exists());
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
            .unwrap();
    assert!(
        !p["output_files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["file"].as_str().unwrap().starts_with("analysis")),
        "{p}"
    );
}

/// A change to the cohort stages' sections ([clinical], [analysis]) after the shards ran needs a
/// new merge, not new shards: the merge takes it and equals a single run of the changed config.
/// A change to a section the shards read ([rois] here) is refused, as before. Before, any change
/// was refused ("the config changed since the shards ran"): on a cluster, a new cut-off meant a
/// new job array.
#[test]
fn a_merge_takes_changed_cohort_sections_without_new_shards() {
    let d = tempfile::tempdir().unwrap();
    let (s1, s2) = (d.path().join("s1"), d.path().join("s2"));
    let cfg = demo(d.path(), &d.path().join("unused"), 2);
    let c = cfg.to_str().unwrap().to_string();
    for (s, i) in [(&s1, "1/2"), (&s2, "2/2")] {
        ancilla_ok(&["run", &c, "--out", s.to_str().unwrap(), "--shard", i]);
    }
    let base = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        format!("{base}[analysis]\ncutoffs = {{ pt_tumor_stat_max = 8.0 }}\n"),
    )
    .unwrap();
    let single = d.path().join("single");
    ancilla_ok(&["run", &c, "--out", single.to_str().unwrap()]);
    let merged = d.path().join("merged");
    let merge = |out: &Path| {
        ancilla(&[
            "merge",
            s1.to_str().unwrap(),
            s2.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let o = merge(&merged);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_same_outputs(&merged, &single, "merge after an [analysis] change");
    let stats = std::fs::read_to_string(merged.join("analysis/stats.json")).unwrap();
    assert!(
        stats.contains("\"cutoff\": 8.0") || stats.contains("\"cutoff\":8.0"),
        "{stats}"
    );

    std::fs::write(&cfg, format!("{base}[rois]\nmtv_suv_thresholds = [2.5]\n")).unwrap();
    let o = merge(&d.path().join("refused"));
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("changed since the shards ran"), "{err}");
}

/// A trial accrues: the export of a rerun holds one subject more, or one subject's export is
/// changed. Convert and features compute those subjects only (the run says how many were up to
/// date), and the outputs equal a run from scratch on the same export. Before, any change to the
/// de-identified tree converted and measured every subject again (a new subject of a hundred cost
/// the time of a hundred).
#[test]
fn a_rerun_with_one_subject_more_computes_that_subject_only() {
    let d = tempfile::tempdir().unwrap();
    let full = d.path().join("full");
    phantom(&full, "3", "3", &[]);
    let part = d.path().join("part");
    for what in ["masks", "clinical"] {
        copy_tree(&full.join(what), &part.join(what));
    }
    std::fs::copy(full.join("key.bin"), part.join("key.bin")).unwrap();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(full.join("site-export"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    assert_eq!(folders.len(), 3);
    let export = part.join("site-export");
    for f in &folders[..2] {
        copy_tree(f, &export.join(f.file_name().unwrap()));
    }
    let out = d.path().join("out");
    let cfg = input_config(d.path(), &part, &out, "");
    let run = || {
        let o = ancilla(&["run", cfg.to_str().unwrap()]);
        let log = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{log}");
        log
    };
    run();
    // One subject more.
    copy_tree(&folders[2], &export.join(folders[2].file_name().unwrap()));
    let log = run();
    assert!(
        log.contains("series not converted; 2 subjects up to date"),
        "{log}"
    );
    assert!(log.contains("feature rows; 2 subjects up to date"), "{log}");
    let fresh = d.path().join("fresh");
    ancilla_ok(&[
        "run",
        input_config(d.path(), &part, &fresh, "").to_str().unwrap(),
    ]);
    assert_same_outputs(&out, &fresh, "a rerun with one subject more");

    // One subject's export changed (a series taken out): that subject alone is computed again.
    let series = std::fs::read_dir(export.join(folders[0].file_name().unwrap()))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("MR_"))
        .unwrap()
        .path();
    let t2 = std::fs::read_dir(&series)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().contains("t2"))
        .unwrap()
        .path();
    std::fs::remove_dir_all(&t2).unwrap();
    let cfg = input_config(d.path(), &part, &out, "");
    let o = ancilla(&["run", cfg.to_str().unwrap()]);
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{log}");
    assert!(
        log.contains("series not converted; 2 subjects up to date"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&fresh);
    ancilla_ok(&[
        "run",
        input_config(d.path(), &part, &fresh, "").to_str().unwrap(),
    ]);
    // The de-identification report of the rerun counts what it released, found done and
    // withdrew (a fresh run's, what it released): every other output is the fresh run's.
    for dir in [&out, &fresh] {
        std::fs::remove_file(dir.join("deid/deid-report.json")).unwrap();
    }
    assert_same_outputs(&out, &fresh, "a rerun with one subject changed");
}

/// Every script a README shell block runs (`benches/…`, `.ci/…`, possibly after `VAR=value`)
/// exists and is executable: five of the benches' commands failed as written with "Permission
/// denied" (their files were committed without the executable bit).
#[test]
fn the_scripts_the_readme_runs_are_executable() {
    use std::os::unix::fs::PermissionsExt;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut in_block = false;
    let mut checked = 0;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_block = line == "```sh";
            continue;
        }
        if !in_block {
            continue;
        }
        let Some(program) = line.split_whitespace().find(|w| !w.contains('=')) else {
            continue;
        };
        if program.starts_with("benches/") || program.starts_with(".ci/") {
            let meta = std::fs::metadata(root.join(program))
                .unwrap_or_else(|e| panic!("README runs {program}: {e}"));
            assert!(
                meta.permissions().mode() & 0o111 != 0,
                "README runs {program}, which is not executable"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} scripts found in the README");
}

/// Every argument of every command says what it takes in `--help`: the positional arguments
/// (`run`'s CONFIG, `convert`'s INPUT, `merge`'s SHARD_DIRS, ...) were listed bare.
#[test]
fn every_argument_of_every_command_has_help() {
    let top = Command::new(env!("CARGO_BIN_EXE_ancilla"))
        .arg("--help")
        .output()
        .unwrap();
    let top = String::from_utf8(top.stdout).unwrap();
    let commands: Vec<&str> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 11, "commands found: {commands:?}");
    for command in commands {
        let o = Command::new(env!("CARGO_BIN_EXE_ancilla"))
            .args([command, "--help"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{command} --help");
        let help = String::from_utf8(o.stdout).unwrap();
        let lines: Vec<&str> = help.lines().collect();
        let indent = |l: &str| l.len() - l.trim_start().len();
        for (i, line) in lines.iter().enumerate() {
            let words: Vec<&str> = line.split_whitespace().collect();
            // An argument (`<CONFIG>`) or option (`--out <OUT>`) line with nothing after it,
            // and no help on the lines below it either (clap's layout for long help).
            let bare = match words.as_slice() {
                [arg] => arg.starts_with('<'),
                [opt, value] => opt.starts_with("--") && value.starts_with('<'),
                _ => false,
            };
            let help_below = lines
                .get(i + 1)
                .is_some_and(|next| !next.trim().is_empty() && indent(next) > indent(line));
            assert!(
                !bare || help_below,
                "`ancilla {command} --help`: no help for `{}`",
                line.trim()
            );
        }
    }
}

/// `[deid] site_log` is relative to the config's folder, as every other path of it is: it was
/// taken from the working directory, so the site log (input paths: PHI) went wherever the run
/// was started — a code checkout under Snakemake. Each shard writes its own beside it
/// (`NAME.shard-I-of-N.tsv`): shards overwrote each other's, leaving only the last one's.
#[test]
fn the_site_log_is_beside_the_config_and_each_shard_has_its_own() {
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "3", "3", &[]);
    let cfg = input_config(
        d.path(),
        &cohort,
        &d.path().join("out"),
        "site_log = \"secrets/site-log.tsv\"\n",
    );
    let elsewhere = d.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let run = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_ancilla"))
            .args(["--quiet", "run", cfg.to_str().unwrap()])
            .args(extra)
            .current_dir(&elsewhere)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run(&[]);
    let whole = std::fs::read_to_string(d.path().join("secrets/site-log.tsv")).unwrap();
    assert!(!elsewhere.join("secrets").exists());
    // The phantom's truncated and non-DICOM files, by their input paths.
    assert!(whole.lines().count() > 1, "{whole}");
    for i in ["1", "2"] {
        let out = d.path().join(format!("shard{i}"));
        run(&["--out", out.to_str().unwrap(), "--shard", &format!("{i}/2")]);
    }
    let shard = |i: u8| {
        std::fs::read_to_string(
            d.path()
                .join(format!("secrets/site-log.shard-{i}-of-2.tsv")),
        )
        .unwrap()
    };
    // Files of no subject are shard 1's to report (so a merge counts each once).
    assert_eq!(shard(1), whole);
    assert_eq!(shard(2), "input_path\treason\n");
    assert_eq!(
        std::fs::read_to_string(d.path().join("secrets/site-log.tsv")).unwrap(),
        whole,
        "the whole run's log is left as it was"
    );
}

/// An arm-A subject of ADSL with no imaging is a row of the analysis table without features: it
/// counts in the arm's Kaplan–Meier curve (n = 3 here) but not in the flow's last box (2), and
/// the report now says why the two differ.
#[test]
fn the_flow_says_which_arm_subjects_have_no_imaging() {
    use ancilla::clinical::tables::TextTable;
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "3", "3", &[]);
    let clinical = cohort.join("clinical");
    // The export of one arm-A subject is not released: its row leaves the subject map.
    let adsl = TextTable::read(&clinical.join("adsl.csv")).unwrap();
    let map_path = clinical.join("subject_map.csv");
    let map = std::fs::read_to_string(&map_path).unwrap();
    let arm_a: Vec<&String> = adsl
        .rows
        .iter()
        .filter(|r| r[adsl.col("ARMCD").unwrap()] == "A")
        .map(|r| &r[adsl.col("USUBJID").unwrap()])
        .collect();
    let dropped = arm_a[0];
    let kept: Vec<&str> = map
        .lines()
        .filter(|l| !l.ends_with(&format!(",{dropped}")))
        .collect();
    assert_eq!(kept.len() + 1, map.lines().count());
    std::fs::write(&map_path, kept.join("\n") + "\n").unwrap();
    let tables = table_lines(
        &clinical.join("adsl.csv"),
        &clinical.join("adtte.csv"),
        &clinical.join("pathology.csv"),
    );
    let out = input_run(d.path(), &cohort, "out", &tables);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let linked = arm_a.len() - 1;
    assert!(
        html.contains(&format!("linked (arm A, analysed) <b>{linked}</b>")),
        "{html}"
    );
    assert!(
        html.contains(
            "Also in the analysis table: 1 subject of arm A without imaging features, in the \
             Kaplan–Meier curve of the arm"
        ),
        "{html}"
    );
}

/// A clinical cell quoted in a link error or warning is left out of `run`'s messages:
/// report.html, provenance.json and the log say where (file, row, column) but not what, and that
/// `ancilla link` shows it. Regression: a YPT holding a name and a date (a shifted column) was
/// copied into both outputs.
#[test]
fn a_clinical_cell_quoted_in_a_message_stays_out_of_the_outputs() {
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "3", "3", &[]);
    let clinical = cohort.join("clinical");
    let pathology = std::fs::read_to_string(clinical.join("pathology.csv")).unwrap();
    let mut lines: Vec<String> = pathology.lines().map(String::from).collect();
    let ypt = lines[0].split(',').position(|c| c == "YPT").unwrap();
    let mut cells: Vec<String> = lines[1].split(',').map(String::from).collect();
    cells[ypt] = "PLANTEDNAME John 1961-03-04".into();
    lines[1] = cells.join(",");
    let planted = d.path().join("pathology.csv");
    std::fs::write(&planted, lines.join("\n") + "\n").unwrap();
    // And an ADTTE record of a "subject" not in ADSL, whose USUBJID is a name (it was written
    // unquoted, so not left out).
    let adtte = std::fs::read_to_string(clinical.join("adtte.csv")).unwrap();
    let mut tte: Vec<String> = adtte.lines().map(String::from).collect();
    let id = tte[0].split(',').position(|c| c == "USUBJID").unwrap();
    let mut cells: Vec<String> = tte[1].split(',').map(String::from).collect();
    cells[id] = "PLANTEDSURNAME 1960-01-02".into();
    tte.push(cells.join(","));
    let planted_tte = d.path().join("adtte.csv");
    std::fs::write(&planted_tte, tte.join("\n") + "\n").unwrap();
    let out = d.path().join("out");
    let cfg = input_config(
        d.path(),
        &cohort,
        &out,
        &format!(
            "[clinical]\n{}",
            table_lines(&clinical.join("adsl.csv"), &planted_tte, &planted)
        ),
    );
    let o = ancilla(&["run", cfg.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "(cell values left out, as in every output; `ancilla link` on the same tables shows them)"
        ),
        "{err}"
    );
    assert!(!err.contains("PLANTEDNAME"), "{err}");
    assert!(!err.contains("PLANTEDSURNAME"), "{err}");
    assert!(
        err.contains("column USUBJID: USUBJID \"…\" is not in ADSL"),
        "{err}"
    );
    for file in ["report.html", "provenance.json"] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(
            text.contains("pathology.csv row 2 column YPT: \\\"…\\\" is not a renal (y)pT stage")
                || text.contains("pathology.csv row 2 column YPT: &quot;…&quot; is not a renal"),
            "{file} says where"
        );
        assert!(
            !text.contains("PLANTEDNAME")
                && !text.contains("1961-03-04")
                && !text.contains("PLANTEDSURNAME")
                && !text.contains("1960-01-02"),
            "{file}"
        );
    }
}

/// Shards run with a relative config path merge (the merge resolved the config's paths from its
/// absolute path, the shards from the relative one, and refused them as "changed").
#[test]
fn shards_of_a_relative_config_path_merge() {
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "2", "3", &[]);
    // The config names its inputs relative to its own folder (d), and is given as "p.toml".
    let cfg = input_config(d.path(), &cohort, &d.path().join("single"), "");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(&format!("{}/", d.path().display()), "");
    std::fs::write(&cfg, text).unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_ancilla"))
            .args(args)
            .current_dir(d.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    for i in ["1", "2"] {
        run(&[
            "--quiet",
            "run",
            "p.toml",
            "--out",
            &format!("s{i}"),
            "--shard",
            &format!("{i}/2"),
        ]);
    }
    run(&["--quiet", "merge", "s1", "s2", "--out", "merged"]);
    assert!(d.path().join("merged/features/features.csv").is_file());
    // The study moved (its folder on another mount on the merging node): the merge could not
    // find the config at the path the shards recorded, and had no way to be told. `--config`
    // names it; the config's paths, relative to it, still name the same files.
    let moved = d.path().join("moved");
    std::fs::create_dir(&moved).unwrap();
    std::fs::rename(d.path().join("p.toml"), moved.join("p.toml")).unwrap();
    std::fs::rename(d.path().join("cohort"), moved.join("cohort")).unwrap();
    let o = ancilla(&[
        "merge",
        d.path().join("s1").to_str().unwrap(),
        d.path().join("s2").to_str().unwrap(),
        "--out",
        d.path().join("merged2").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    run(&[
        "--quiet",
        "merge",
        "s1",
        "s2",
        "--out",
        "merged2",
        "--config",
        "moved/p.toml",
    ]);
    assert_eq!(
        std::fs::read(d.path().join("merged2/features/features.csv")).unwrap(),
        std::fs::read(d.path().join("merged/features/features.csv")).unwrap()
    );
    // Another config (its [deid] differs) is refused as not the shards'.
    // (The config's last section is [deid].)
    let other = std::fs::read_to_string(moved.join("p.toml")).unwrap()
        + "\nretain_patient_characteristics = false\n";
    std::fs::write(moved.join("other.toml"), other).unwrap();
    let o = ancilla(&[
        "merge",
        d.path().join("s1").to_str().unwrap(),
        d.path().join("s2").to_str().unwrap(),
        "--out",
        d.path().join("merged3").to_str().unwrap(),
        "--config",
        moved.join("other.toml").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("is not the one the shards ran"), "{err}");
}

/// A clinical table the link stage cannot read is named by its config key (it was named by the
/// command-line option of `ancilla link`, which a pipeline's user never typed). And it is found
/// before any stage runs (exit 2, nothing written): it failed the run at the link stage, after
/// every imaging stage.
#[test]
fn a_missing_clinical_table_of_a_pipeline_is_named_by_its_key() {
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "2", "3", &[]);
    let clinical = cohort.join("clinical");
    let out = d.path().join("out");
    let cfg = input_config(
        d.path(),
        &cohort,
        &out,
        &format!(
            "[clinical]\n{}",
            table_lines(
                &d.path().join("no-adsl.csv"),
                &clinical.join("adtte.csv"),
                &clinical.join("pathology.csv")
            )
        ),
    );
    let o = ancilla(&["run", cfg.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("[clinical] adsl file") && err.contains("no-adsl.csv does not exist"),
        "{err}"
    );
    assert!(!err.contains("--subjects"), "{err}");
    assert!(!out.join("deid").exists() && !out.join("features").exists());
}

/// Regression (a de-identification audit): one file that failed the PHI check (a false match,
/// a patient named Dixon with a Dixon sequence) failed the deid stage, and with it the whole
/// trial's run: no features, report or provenance for anyone, on every rerun. The file is now
/// withheld with its series, listed with the rejected inputs, and the run goes on.
#[test]
fn a_file_failing_the_phi_check_does_not_stop_the_run() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "2", "3", &[]);
    let export = cohort.join("site-export");
    let first = support::all_files(&export)
        .into_iter()
        .find(|p| dicom_object::open_file(p).is_ok())
        .unwrap();
    let mut obj = dicom_object::open_file(&first).unwrap();
    for (tag, vr, v) in [
        (tags::PATIENT_NAME, VR::PN, "Dixon^Mary"),
        (tags::SEQUENCE_NAME, VR::SH, "*tfl3d1_dixon"),
    ] {
        obj.put(dicom_core::DataElement::new(tag, vr, v));
    }
    obj.write_to_file(&first).unwrap();
    let out = d.path().join("out");
    let cfg = input_config(d.path(), &cohort, &out, "");
    let o = ancilla(&["run", cfg.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("1 file failed the PHI check (withheld with"),
        "{err}"
    );
    let provenance = std::fs::read_to_string(out.join("provenance.json")).unwrap();
    assert!(provenance.contains("failed the PHI check"), "{provenance}");
    assert!(provenance.contains("withheld: "), "{provenance}");
    assert!(out.join("features/features.csv").exists() && out.join("report.html").exists());
    assert!(!provenance.contains("Dixon") && !provenance.contains("dixon"));
}

/// Regression: an input the walk cannot read (a dangling link, a FIFO) was in provenance.json's
/// rejected_inputs and the report's warnings twice, once from the scan ("not read: …") and once
/// from deid (its bare reason).
#[test]
fn an_unreadable_input_is_rejected_once() {
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "1", "3", &[]);
    let export = cohort.join("site-export");
    std::os::unix::fs::symlink("/nonexistent/ancilla", export.join("dangling.dcm")).unwrap();
    let out = d.path().join("out");
    let cfg = input_config(d.path(), &cohort, &out, "");
    ancilla_ok(&["run", cfg.to_str().unwrap()]);
    let provenance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
            .unwrap();
    let dangling: Vec<&serde_json::Value> = provenance["rejected_inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.to_string().contains("No such file"))
        .collect();
    assert_eq!(dangling.len(), 1, "{dangling:?}");
}

/// A shard none of whose subjects has an image yet, on an export that also holds a file of
/// nobody in the map (a QA phantom): the map matches the export (the other shards' files), so the
/// shard runs. Regression: the files of other shards' subjects were skipped before they were
/// counted as matched, and the stray file alone made the shard fail as "a wrong subject map".
#[test]
fn a_shard_without_images_of_its_own_is_no_wrong_map() {
    use dicom_dictionary_std::tags;
    let d = tempfile::tempdir().unwrap();
    let cohort = d.path().join("cohort");
    phantom(&cohort, "1", "3", &[]);
    let export = cohort.join("site-export");
    let one = support::all_files(&export)
        .into_iter()
        .find(|p| dicom_object::open_file(p).is_ok())
        .unwrap();
    let mut obj = dicom_object::open_file(&one).unwrap();
    obj.put(dicom_core::DataElement::new(
        tags::PATIENT_ID,
        dicom_core::VR::LO,
        dicom_core::PrimitiveValue::from("QA_PHANTOM"),
    ));
    obj.write_to_file(export.join("qa.dcm")).unwrap();
    let map = std::fs::read_to_string(cohort.join("clinical/subject_map.csv")).unwrap();
    // One shard more than there are subjects: the last owns none.
    let n = map.lines().count();
    let out = d.path().join("out");
    let cfg = input_config(d.path(), &cohort, &out, "");
    ancilla_ok(&["run", cfg.to_str().unwrap(), "--shard", &format!("{n}/{n}")]);
}

/// An output folder that is the root, holds the config itself, or is empty; a phantom larger
/// than any cohort: refused with the key (a robustness audit: `dir = "/"` wrote the fake-PHI
/// cohort and every output into /; `dir = ""` blamed "another ancilla run", itself; 10¹⁰
/// subjects aborted allocating).
#[test]
fn an_output_folder_of_its_own_and_a_bounded_phantom_are_required() {
    let e = config_error("[output]\ndir = \"/\"\n[phantom]\nsubjects = 2\n");
    assert!(
        e.contains("output.dir") && e.contains("file system's root"),
        "{e}"
    );
    let e = config_error("[output]\ndir = \"\"\n[phantom]\nsubjects = 2\n");
    assert!(e.contains("[output] dir is empty"), "{e}");
    let e = config_error("[output]\ndir = \"x\"\n[phantom]\nsubjects = 10000000000\n");
    assert!(
        e.contains("more than the 10000 a phantom cohort holds"),
        "{e}"
    );
    // The folder that holds the config.
    let d = tempfile::tempdir().unwrap();
    let cfg = config(
        d.path(),
        &format!(
            "[output]\ndir = \"{}\"\n[phantom]\nsubjects = 2\n",
            d.path().display()
        ),
    );
    let o = ancilla(&["run", cfg.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("holds the config file itself"), "{stderr}");
    assert!(!d.path().join("cohort").exists());
}
