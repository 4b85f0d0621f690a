//! Quantification: `ancilla suv` and the SUVbw NIfTI of `convert` against the phantom's ground
//! truth (computed by the QIBA formula from its own inputs), for every vendor style.

mod support;

use std::path::Path;

use serde_json::Value;
use support::ancilla;

#[test]
fn suv_factor_and_suv_volume_match_ground_truth_for_every_vendor_style() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // Four subjects: Siemens, GE, Philips, and the time-only injection across midnight.
    let o = ancilla(&[
        "phantom",
        "--out",
        dir.to_str().unwrap(),
        "--subjects",
        "4",
        "--seed",
        "9",
    ]);
    assert!(o.status.success());
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ground_truth.json")).unwrap())
            .unwrap();
    let inv = ancilla::ingest::scan_paths(&[dir.join("site-export")]).unwrap();
    for subj in truth["subjects"].as_array().unwrap() {
        let pid = subj["patient_id"].as_str().unwrap();
        let pet = inv
            .series
            .iter()
            .find(|s| s.patient_id == pid && s.modality == "PT" && s.plan.is_ok())
            .unwrap();
        let series_dir = pet.files[0].path.parent().unwrap();
        let o = ancilla(&["suv", series_dir.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        // Philips style stores counts: its factor applies to counts × slope = 2 × Bq/ml.
        let philips = subj["vendor_style"] == "Philips";
        let expect = subj["suvbw_factor"].as_f64().unwrap() * if philips { 0.5 } else { 1.0 };
        let got = r["suvbw_factor"].as_f64().unwrap();
        assert!(
            (got - expect).abs() <= 1e-6 * expect,
            "{}: {got} vs {expect}",
            subj["usubjid"]
        );
        if subj["time_only_injection"] == true {
            assert!(r["injection_time_source"]
                .as_str()
                .unwrap()
                .contains("previous day"));
            assert_eq!(r["decay_seconds"], 3900.0);
        }
        if subj["vendor_style"] == "Ge" {
            assert!(r["reference_time_source"]
                .as_str()
                .unwrap()
                .contains("GE private"));
        }
    }
    // convert writes the SUVbw volume: every uniform region equals its true SUV to 1e-4.
    let out = dir.join("nifti");
    assert!(ancilla(&[
        "convert",
        dir.join("site-export").to_str().unwrap(),
        "--out",
        out.to_str().unwrap()
    ])
    .status
    .success());
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("convert-report.json")).unwrap())
            .unwrap();
    let suv_files: Vec<&str> = report["converted"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["nifti"].as_str())
        .filter(|n| n.ends_with("_suvbw.nii.gz"))
        .collect();
    assert_eq!(suv_files.len(), 4);
    // Subjects are numbered S001… in the order of their site PatientIDs.
    let mut subjects: Vec<&Value> = truth["subjects"].as_array().unwrap().iter().collect();
    subjects.sort_by_key(|s| s["patient_id"].as_str().unwrap().to_string());
    for (n, subj) in subjects.iter().enumerate() {
        let name = suv_files
            .iter()
            .find(|f| f.starts_with(&format!("S{:03}/", n + 1)))
            .unwrap();
        let suv = ancilla::volume::nifti_io::read_volume(&out.join(name)).unwrap();
        let mask = ancilla::volume::nifti_io::read_volume(
            &dir.join("masks")
                .join(subj["usubjid"].as_str().unwrap())
                .join("pet_labels.nii.gz"),
        )
        .unwrap();
        check_regions(&suv, &mask, subj, Path::new(name));
    }
}

fn check_regions(
    suv: &ancilla::volume::Volume,
    mask: &ancilla::volume::Volume,
    subj: &Value,
    name: &Path,
) {
    let names = ["", "tumor", "kidney", "liver", "bloodpool", "parotid"];
    for ((k, j, i), v) in suv.data.indexed_iter() {
        let idx = mask
            .geometry
            .index_of(suv.geometry.world(i as f64, j as f64, k as f64))
            .map(|x| x.round() as usize);
        let l = mask.data[[idx[2], idx[1], idx[0]]] as usize;
        if l > 0 {
            let t = subj["regions"][names[l]]["suvbw"].as_f64().unwrap();
            assert!(
                (*v as f64 - t).abs() <= 1e-4 * t,
                "{}: {} {v} vs {t}",
                name.display(),
                names[l]
            );
        }
    }
}

#[test]
fn suv_refusal_exits_non_zero_with_the_attribute() {
    let d = tempfile::tempdir().unwrap();
    let o = ancilla(&[
        "phantom",
        "--out",
        d.path().to_str().unwrap(),
        "--subjects",
        "1",
    ]);
    assert!(o.status.success());
    let inv = ancilla::ingest::scan_paths(&[d.path().join("site-export")]).unwrap();
    let t2 = inv.series.iter().find(|s| s.modality == "MR").unwrap();
    let o = ancilla(&["suv", t2.files[0].path.parent().unwrap().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no PET series"));
}

#[test]
fn features_cli_on_phantom_pet_matches_ground_truth() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    assert!(ancilla(&[
        "phantom",
        "--out",
        dir.to_str().unwrap(),
        "--subjects",
        "1",
        "--seed",
        "4"
    ])
    .status
    .success());
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ground_truth.json")).unwrap())
            .unwrap();
    let subj = &truth["subjects"][0];
    let inv = ancilla::ingest::scan_paths(&[dir.join("site-export")]).unwrap();
    let pet = inv
        .series
        .iter()
        .find(|s| s.modality == "PT" && s.plan.is_ok())
        .unwrap();
    let mask = dir
        .join("masks")
        .join(subj["usubjid"].as_str().unwrap())
        .join("pet_labels.nii.gz");
    let out = dir.join("f/features.csv");
    let o = ancilla(&[
        "features",
        "--image",
        pet.files[0].path.parent().unwrap().to_str().unwrap(),
        "--mask",
        mask.to_str().unwrap(),
        "--labels",
        "1=tumor,2=kidney,3=liver,4=bloodpool,5=parotid",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    let get = |roi: &str, feature: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.contains(&format!(",{roi},{feature},")))
            .unwrap_or_else(|| panic!("{roi} {feature}"));
        line.split(',').nth(6).unwrap().parse().unwrap()
    };
    for roi in ["tumor", "liver"] {
        let t = &subj["regions"][roi];
        let suv = t["suvbw"].as_f64().unwrap();
        // Uniform region: SUVmean = SUVmax = true SUV (1e-4); volume = voxel count × 64 mm³.
        assert!((get(roi, "stat_mean") - suv).abs() <= 1e-4 * suv);
        assert!((get(roi, "stat_max") - suv).abs() <= 1e-4 * suv);
        assert!(
            (get(roi, "morph_vol_approx") - t["volume_ml_pet_grid"].as_f64().unwrap() * 1000.0)
                .abs()
                < 1e-6
        );
    }
    // Mesh volume against the analytic volume of the phantom's ellipsoids (the tumour is a ball
    // of radius ≥ 1 cm): within 2%; maximum 3D diameter within one 4 mm voxel of the longest axis.
    for roi in ["tumor", "liver"] {
        let r: Vec<f64> = subj["anatomy"][roi]["radii"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let truth = 4.0 / 3.0 * std::f64::consts::PI * r[0] * r[1] * r[2];
        let v = get(roi, "morph_volume");
        assert!(
            (v - truth).abs() / truth < 0.02,
            "{roi}: mesh {v} vs {truth} mm3"
        );
        let longest = 2.0 * r.iter().cloned().fold(0.0, f64::max);
        let d = get(roi, "morph_diam");
        assert!(
            (d - longest).abs() <= 4.0,
            "{roi}: diameter {d} vs {longest} mm"
        );
    }
    // Cross-region PSMA metrics from the true uniform SUVs: the miPSMA step and the ratios.
    let true_suv = |roi: &str| subj["regions"][roi]["suvbw"].as_f64().unwrap();
    let t = true_suv("tumor");
    let score = if t >= true_suv("parotid") {
        3.0
    } else if t >= true_suv("liver") {
        2.0
    } else if t >= true_suv("bloodpool") {
        1.0
    } else {
        0.0
    };
    assert_eq!(get("tumor", "mipsma_score"), score);
    let ratio = get("tumor", "ratio_suvmax_to_liver_suvmean");
    assert!((ratio - t / true_suv("liver")).abs() <= 1e-4 * ratio);
    // The ball's longest axial diameter: within one 4 mm voxel of 2r.
    let r = subj["anatomy"]["tumor"]["radii"][0].as_f64().unwrap();
    let d = get("tumor", "diam_axial_max");
    assert!(
        (d - 2.0 * r).abs() <= 4.0,
        "axial diameter {d} vs {}",
        2.0 * r
    );
    // One ball-shaped tumour: one lesion.
    assert_eq!(get("tumor", "lesions_suv3_min0p5ml"), 1.0);
    // Tumour SUV ≥ 4 everywhere: MTV(SUV ≥ 3) is the whole tumour; TL-PSMA = MTV × SUVmean.
    let mtv = get("tumor", "mtv_suv3");
    assert!(
        (mtv - subj["regions"]["tumor"]["volume_ml_pet_grid"]
            .as_f64()
            .unwrap())
        .abs()
            < 1e-6
    );
    assert!((get("tumor", "tl_psma_suv3") - mtv * get("tumor", "stat_mean")).abs() < 1e-3);
    assert!(
        text.lines().next().unwrap()
            == "subject_id,modality,series_uid,image,roi,feature,value,unit"
    );
    // Not de-identified input: no site identifier in the table.
    assert!(!text.contains(subj["patient_id"].as_str().unwrap()));
    assert!(dir.join("f/features.dictionary.csv").is_file());
    // A malformed label table is a usage error.
    let o = ancilla(&[
        "features",
        "--image",
        out.to_str().unwrap(),
        "--mask",
        mask.to_str().unwrap(),
        "--labels",
        "tumor",
    ]);
    assert_eq!(o.status.code(), Some(2));
}
