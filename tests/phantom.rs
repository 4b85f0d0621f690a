//! `ancilla phantom`: the synthetic cohort every other test stands on. Checked against its own
//! analytic definition (region concentrations, sphere volumes, the QIBA SUV formula) through the
//! real reading path (scan → volume), and for determinism.

mod support;

use std::path::Path;

use ancilla::ingest::{self, RejectReason, SeriesKind};
use ancilla::volume::assemble::load_series;
use ancilla::volume::nifti_io::read_volume;
use serde_json::Value;
use support::ancilla;

fn generate(dir: &Path, n: &str, seed: &str) {
    let o = ancilla(&[
        "phantom",
        "--out",
        dir.to_str().unwrap(),
        "--subjects",
        n,
        "--seed",
        seed,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn truth(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("ground_truth.json")).unwrap()).unwrap()
}

fn all_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path())
            } else {
                v.push(e.path())
            }
        }
    }
    v.sort();
    v
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let d = tempfile::tempdir().unwrap();
    let (a, b, c) = (d.path().join("a"), d.path().join("b"), d.path().join("c"));
    generate(&a, "2", "11");
    generate(&b, "2", "11");
    generate(&c, "2", "12");
    let fa = all_files(&a);
    assert!(fa.len() > 300);
    for f in &fa {
        let rel = f.strip_prefix(&a).unwrap();
        assert_eq!(
            std::fs::read(f).unwrap(),
            std::fs::read(b.join(rel)).unwrap(),
            "{}",
            rel.display()
        );
    }
    assert_eq!(fa.len(), all_files(&b).len());
    assert_ne!(
        std::fs::read(a.join("ground_truth.json")).unwrap(),
        std::fs::read(c.join("ground_truth.json")).unwrap()
    );
}

/// One cohort of three subjects (Siemens-, GE- and Philips-style PET) for the checks below.
#[test]
fn cohort_reads_back_as_its_ground_truth() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    generate(dir, "3", "5");
    let t = truth(dir);
    let inv = ingest::scan_paths(&[dir.join("site-export")]).unwrap();

    // Every planted defect is reported with its reason; every primary series is usable.
    let kinds: Vec<&RejectReason> = inv.rejected.iter().map(|r| &r.reason).collect();
    assert!(
        kinds.iter().any(|r| matches!(r, RejectReason::NotDicom)),
        "{kinds:?}"
    );
    assert!(
        kinds
            .iter()
            .any(|r| matches!(r, RejectReason::Truncated(_))),
        "{kinds:?}"
    );
    let gapped: Vec<_> = inv.series.iter().filter(|s| s.plan.is_err()).collect();
    assert_eq!(gapped.len(), 1);
    assert!(gapped[0]
        .plan
        .as_ref()
        .unwrap_err()
        .contains("missing slice"));
    assert_eq!(t["defects"].as_array().unwrap().len(), 3);
    for kind in [
        SeriesKind::Pet,
        SeriesKind::T2,
        SeriesKind::Dwi,
        SeriesKind::Adc,
    ] {
        assert_eq!(
            inv.series
                .iter()
                .filter(|s| s.kind == kind && s.plan.is_ok())
                .count(),
            3,
            "{kind:?}"
        );
    }

    for subj in t["subjects"].as_array().unwrap() {
        let usubjid = subj["usubjid"].as_str().unwrap();
        let pid = subj["patient_id"].as_str().unwrap();
        // PET values: stored × slope (× the Philips activity-concentration factor 0.5 for CNTS)
        // equal the region concentrations exactly, at the places the label mask says.
        let pet = inv
            .series
            .iter()
            .find(|s| s.patient_id == pid && s.kind == SeriesKind::Pet)
            .unwrap();
        let vol = &load_series(pet).unwrap()[0].volume;
        let to_bqml = if subj["vendor_style"] == "Philips" {
            0.5
        } else {
            1.0
        };
        let mask = read_volume(&dir.join("masks").join(usubjid).join("pet_labels.nii.gz")).unwrap();
        let regions = subj["regions"].as_object().unwrap();
        let mut seen = [0usize; 6];
        for ((k, j, i), v) in vol.data.indexed_iter() {
            let idx = mask
                .geometry
                .index_of(vol.geometry.world(i as f64, j as f64, k as f64));
            let r = idx.map(|x| x.round());
            assert!(
                idx.iter().zip(&r).all(|(a, b)| (a - b).abs() < 1e-6),
                "grids differ"
            );
            let label = mask.data[[r[2] as usize, r[1] as usize, r[0] as usize]] as usize;
            if label == 0 {
                continue;
            }
            let name = ["", "tumor", "kidney", "liver", "bloodpool", "parotid"][label];
            let expect = regions[name]["activity_bqml"].as_f64().unwrap();
            assert!(
                ((*v as f64) * to_bqml - expect).abs() <= 1e-9 * expect,
                "{usubjid} {name}: {v} vs {expect}"
            );
            seen[label] += 1;
        }
        assert!(seen[1..].iter().all(|&n| n > 0), "{seen:?}");
        // Truth SUV follows the QIBA formula from the truth's own inputs.
        let decayed = subj["dose_bq"].as_f64().unwrap()
            * (-subj["uptake_s"].as_f64().unwrap() / subj["half_life_s"].as_f64().unwrap()).exp2();
        let tumor = &regions["tumor"];
        let suv =
            tumor["activity_bqml"].as_f64().unwrap() * subj["weight_kg"].as_f64().unwrap() * 1000.0
                / decayed;
        assert!((suv - tumor["suvbw"].as_f64().unwrap()).abs() < 1e-9 * suv);
        // Tumour sphere: voxel-count volumes on both grids within 3% of 4/3·π·r³.
        let analytic = tumor["volume_ml_analytic"].as_f64().unwrap();
        let r = subj["tumor_diameter_mm"].as_f64().unwrap() / 2.0;
        assert!((analytic - 4.0 / 3.0 * std::f64::consts::PI * r.powi(3) / 1000.0).abs() < 1e-9);
        for grid in ["volume_ml_pet_grid", "volume_ml_mr_grid"] {
            let v = tumor[grid].as_f64().unwrap();
            assert!(
                (v - analytic).abs() < 0.03 * analytic,
                "{usubjid} {grid}: {v} vs {analytic}"
            );
        }
        // The MR mask sits on the oblique T2 grid.
        let t2 = inv
            .series
            .iter()
            .find(|s| s.patient_id == pid && s.kind == SeriesKind::T2)
            .unwrap();
        let t2v = &load_series(t2).unwrap()[0].volume;
        let mrmask =
            read_volume(&dir.join("masks").join(usubjid).join("mr_labels.nii.gz")).unwrap();
        assert!(
            (t2v.geometry.direction[0][1] - 12f64.to_radians().sin()).abs() < 1e-6,
            "T2 is oblique"
        );
        let tumour_signal = ancilla::phantom::mri::T2_SIGNAL[1] as f32;
        for ((k, j, i), l) in mrmask.data.indexed_iter() {
            if *l == 1.0 {
                let w = mrmask.geometry.world(i as f64, j as f64, k as f64);
                let x = t2v.geometry.index_of(w).map(|x| x.round() as usize);
                assert_eq!(t2v.data[[x[2], x[1], x[0]]], tumour_signal);
            }
        }
        // DWI splits into three b-values whose ratio gives the region ADC back.
        let dwi = inv
            .series
            .iter()
            .find(|s| s.patient_id == pid && s.kind == SeriesKind::Dwi)
            .unwrap();
        let parts = load_series(dwi).unwrap();
        assert_eq!(
            parts.iter().map(|p| p.b_value.unwrap()).collect::<Vec<_>>(),
            [0.0, 400.0, 800.0]
        );
    }

    // Clinical tables follow the contract; arm-B subjects are there.
    let adsl = std::fs::read_to_string(dir.join("clinical/adsl.csv")).unwrap();
    assert!(adsl.starts_with("STUDYID,USUBJID,SITEID,ARM,ARMCD,RANDDT,NEPHRDT,AGE,SEX\n"));
    assert!(adsl.lines().any(|l| l.contains(",B,")));
    let map = std::fs::read_to_string(dir.join("clinical/subject_map.csv")).unwrap();
    for subj in t["subjects"].as_array().unwrap() {
        assert!(map.contains(&format!(
            "{},{}",
            subj["patient_id"].as_str().unwrap(),
            subj["usubjid"].as_str().unwrap()
        )));
        assert!(subj["phi"].as_array().unwrap().len() >= 15);
    }
    assert_eq!(std::fs::read(dir.join("key.bin")).unwrap().len(), 32);
}

#[test]
fn zero_subjects_is_a_usage_error() {
    let d = tempfile::tempdir().unwrap();
    let o = ancilla(&[
        "phantom",
        "--out",
        d.path().to_str().unwrap(),
        "--subjects",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
}
