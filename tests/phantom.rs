//! `ancilla phantom`: the synthetic cohort every other test stands on. Checked against its own
//! analytic definition (region concentrations, sphere volumes, the QIBA SUV formula) through the
//! real reading path (scan → volume), and for determinism.

mod support;

use std::path::Path;

use ancilla::ingest::{self, RejectReason, SeriesKind};
use ancilla::volume::assemble::load_series;
use ancilla::volume::nifti_io::read_volume;
use support::{all_files, ancilla, ground_truth, phantom};

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let d = tempfile::tempdir().unwrap();
    let (a, b, c) = (d.path().join("a"), d.path().join("b"), d.path().join("c"));
    phantom(&a, "2", "11", &[]);
    phantom(&b, "2", "11", &[]);
    phantom(&c, "2", "12", &[]);
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
    phantom(dir, "3", "5", &[]);
    let t = ground_truth(dir);
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
        // Every region with an analytic volume: the PET-grid count within 3%, and the MR-grid
        // count too where the region lies inside the renal MR field of view.
        for (name, r) in regions.iter().filter(|(n, _)| *n != "background") {
            let Some(analytic) = r["volume_ml_analytic"].as_f64() else {
                continue;
            };
            let pet_v = r["volume_ml_pet_grid"].as_f64().unwrap();
            assert!(
                (pet_v - analytic).abs() < 0.03 * analytic,
                "{name}: {pet_v} vs {analytic}"
            );
            if r["inside_mr_fov"].as_bool().unwrap() {
                let mr_v = r["volume_ml_mr_grid"].as_f64().unwrap();
                assert!(
                    (mr_v - analytic).abs() < 0.03 * analytic,
                    "{name}: {mr_v} vs {analytic}"
                );
            }
        }
        assert!(regions["tumor"]["inside_mr_fov"].as_bool().unwrap());
        assert!(!regions["parotid"]["inside_mr_fov"].as_bool().unwrap());
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
        // At the tumour centre the b-values give the truth signal and ADC = ln(S0/S800)/800.
        let c: Vec<f64> = subj["anatomy"]["tumor"]["centre"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let at = |v: &ancilla::volume::Volume| {
            let x = v
                .geometry
                .index_of([c[0], c[1], c[2]])
                .map(|x| x.round() as usize);
            v.data[[x[2], x[1], x[0]]] as f64
        };
        let s: Vec<f64> = parts.iter().map(|p| at(&p.volume)).collect();
        let want: Vec<f64> = tumor["dwi_signal"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(s, want, "{usubjid} DWI");
        let adc_truth = tumor["adc_1e-6_mm2_s"].as_f64().unwrap();
        let adc = (s[0] / s[2]).ln() / 800.0 * 1e6;
        assert!(
            (adc - adc_truth).abs() < 0.002 * adc_truth,
            "{adc} vs {adc_truth}"
        );
        let adc_series = inv
            .series
            .iter()
            .find(|s| s.patient_id == pid && s.kind == SeriesKind::Adc)
            .unwrap();
        assert_eq!(at(&load_series(adc_series).unwrap()[0].volume), adc_truth);
        // Subject 2's T2 is one Enhanced MR multi-frame file (checked above like the others).
        let t2_files = all_files(
            &dir.join("site-export")
                .join(subj["series_dirs"]["t2"].as_str().unwrap()),
        );
        let enhanced = subj["t2_enhanced_multiframe"].as_bool().unwrap();
        assert_eq!(enhanced, usubjid.ends_with("0003"));
        assert_eq!(t2_files.len(), if enhanced { 1 } else { 30 });
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

// ---- Headers read back with dicom-rs, SUV by hand (QIBA) -------------------------------------

fn open(p: &Path) -> dicom_object::DefaultDicomObject {
    dicom_object::open_file(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn text(o: &dicom_object::InMemDicomObject, tag: dicom_core::Tag) -> Option<String> {
    o.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim().to_string())
}

fn num(o: &dicom_object::InMemDicomObject, tag: dicom_core::Tag) -> f64 {
    text(o, tag)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{tag:?} missing"))
}

/// Seconds since 1970-01-01 of a DICOM DA + TM (civil-from-days, Howard Hinnant's algorithm).
fn epoch(da: &str, tm: &str) -> f64 {
    let (y, m, d): (i64, i64, i64) = (
        da[0..4].parse().unwrap(),
        da[4..6].parse().unwrap(),
        da[6..8].parse().unwrap(),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs = tm[0..2].parse::<f64>().unwrap() * 3600.0
        + tm[2..4].parse::<f64>().unwrap() * 60.0
        + tm[4..].parse::<f64>().unwrap();
    days as f64 * 86400.0 + secs
}

/// Subjects 0–3: Siemens, GE, Philips, Siemens with a time-only injection at 23:40 the day before.
#[test]
fn pet_headers_per_vendor_give_the_truth_suv_by_hand() {
    use dicom_dictionary_std::tags;
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "4", "3", &[]);
    let t = ground_truth(dir);
    let subjects = t["subjects"].as_array().unwrap();
    assert_eq!(subjects.len(), 4);
    let styles: Vec<&str> = subjects
        .iter()
        .map(|s| s["vendor_style"].as_str().unwrap())
        .collect();
    assert_eq!(styles, ["Siemens", "Ge", "Philips", "Siemens"]);
    for (idx, subj) in subjects.iter().enumerate() {
        let usubjid = subj["usubjid"].as_str().unwrap();
        assert_eq!(usubjid, format!("ANC-{:02}-{:04}", 1 + idx % 3, idx + 1));
        let pet_dir = dir
            .join("site-export")
            .join(subj["series_dirs"]["pet"].as_str().unwrap());
        let files = all_files(&pet_dir);
        assert!(files.len() >= 80, "{}", files.len());
        // The slice through the tumour centre.
        let c: Vec<f64> = subj["anatomy"]["tumor"]["centre"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let objs: Vec<_> = files.iter().map(|f| open(f)).collect();
        let ipp = |o: &dicom_object::DefaultDicomObject| -> Vec<f64> {
            text(o, tags::IMAGE_POSITION_PATIENT)
                .unwrap()
                .split('\\')
                .map(|x| x.trim().parse().unwrap())
                .collect()
        };
        // No slice saturates int16 (heavy F-18 doses, light patients).
        for o in &objs {
            let px = o.get(tags::PIXEL_DATA).unwrap().to_bytes().unwrap();
            assert!(px
                .chunks_exact(2)
                .all(|b| i16::from_le_bytes([b[0], b[1]]) < i16::MAX));
        }
        let o = objs
            .iter()
            .min_by(|a, b| {
                (ipp(a)[2] - c[2])
                    .abs()
                    .partial_cmp(&(ipp(b)[2] - c[2]).abs())
                    .unwrap()
            })
            .unwrap();
        // Attributes every style carries.
        assert_eq!(text(o, tags::MODALITY).unwrap(), "PT");
        assert_eq!(
            o.meta().media_storage_sop_class_uid(),
            "1.2.840.10008.5.1.4.1.1.128"
        );
        assert_eq!(o.meta().transfer_syntax(), "1.2.840.10008.1.2.1");
        assert_eq!(text(o, tags::PIXEL_SPACING).unwrap(), "4\\4");
        assert_eq!(text(o, tags::SLICE_THICKNESS).unwrap(), "4");
        assert_eq!(
            text(o, tags::IMAGE_ORIENTATION_PATIENT).unwrap(),
            "1\\0\\0\\0\\1\\0"
        );
        assert_eq!(text(o, tags::DECAY_CORRECTION).unwrap(), "START");
        let corrected = text(o, tags::CORRECTED_IMAGE).unwrap();
        assert!(corrected.contains("ATTN") && corrected.contains("DECY"));
        assert!(text(o, tags::PATIENT_SEX).is_some());
        assert!(num(o, tags::PATIENT_SIZE) > 1.0);
        let slope = num(o, tags::RESCALE_SLOPE);
        assert_eq!(slope.log2().fract(), 0.0, "slope {slope} is a power of two");
        let rp = o
            .get(tags::RADIOPHARMACEUTICAL_INFORMATION_SEQUENCE)
            .unwrap()
            .items()
            .unwrap()[0]
            .clone();
        assert!(
            text(&rp, tags::RADIOPHARMACEUTICAL)
                .unwrap()
                .contains("PSMA")
                || text(&rp, tags::RADIOPHARMACEUTICAL).unwrap() == "F-18 DCFPyL"
        );
        assert!(rp.get(tags::RADIONUCLIDE_CODE_SEQUENCE).is_some());
        let dose = num(&rp, tags::RADIONUCLIDE_TOTAL_DOSE);
        let half_life = num(&rp, tags::RADIONUCLIDE_HALF_LIFE);
        let weight_g = num(o, tags::PATIENT_WEIGHT) * 1000.0;
        let series_date = text(o, tags::SERIES_DATE).unwrap();
        // Reference time per style.
        let reference = match styles[idx] {
            "Ge" => {
                assert_eq!(
                    text(o, dicom_core::Tag(0x0009, 0x0010)).unwrap(),
                    "GEMS_PETD_01"
                );
                let dt = text(o, dicom_core::Tag(0x0009, 0x100D)).unwrap();
                let series = epoch(&series_date, &text(o, tags::SERIES_TIME).unwrap());
                let r = epoch(&dt[0..8], &dt[8..]);
                assert!(series > r, "GE SeriesTime is after the true reference");
                r
            }
            _ => epoch(&series_date, &text(o, tags::SERIES_TIME).unwrap()),
        };
        let injection = match text(&rp, tags::RADIOPHARMACEUTICAL_START_DATE_TIME) {
            Some(dt) => {
                assert_ne!(idx, 3);
                epoch(&dt[0..8], &dt[8..])
            }
            None => {
                // Time only: injected the evening before a scan after midnight.
                assert_eq!(idx, 3);
                let tm = text(&rp, tags::RADIOPHARMACEUTICAL_START_TIME).unwrap();
                assert!(tm.starts_with("2340"), "{tm}");
                let same_day = epoch(&series_date, &tm);
                assert!(same_day > reference);
                same_day - 86400.0
            }
        };
        let decayed = dose * (-(reference - injection) / half_life).exp2();
        // Tumour centre voxel.
        let p = ipp(o);
        let (i, j) = (
            ((c[0] - p[0]) / 4.0).round() as usize,
            ((c[1] - p[1]) / 4.0).round() as usize,
        );
        let px = o.get(tags::PIXEL_DATA).unwrap().to_bytes().unwrap();
        let at = 2 * (j * 128 + i);
        let stored = i16::from_le_bytes([px[at], px[at + 1]]) as f64;
        let bqml = match styles[idx] {
            "Philips" => {
                assert_eq!(text(o, tags::UNITS).unwrap(), "CNTS");
                assert_eq!(
                    text(o, dicom_core::Tag(0x7053, 0x0010)).unwrap(),
                    "Philips PET Private Group"
                );
                let suv_direct = stored * slope * num(o, dicom_core::Tag(0x7053, 0x1000));
                let bqml = stored * slope * num(o, dicom_core::Tag(0x7053, 0x1009));
                let want = subj["regions"]["tumor"]["suvbw"].as_f64().unwrap();
                assert!(
                    (suv_direct - want).abs() < 1e-4 * want,
                    "{suv_direct} {want}"
                );
                bqml
            }
            _ => {
                assert_eq!(text(o, tags::UNITS).unwrap(), "BQML");
                stored * slope
            }
        };
        let tumour = &subj["regions"]["tumor"];
        assert_eq!(bqml, tumour["activity_bqml"].as_f64().unwrap(), "{usubjid}");
        let suv = bqml * weight_g / decayed;
        let want = tumour["suvbw"].as_f64().unwrap();
        assert!(
            (suv - want).abs() < 1e-4 * want,
            "{usubjid}: {suv} vs {want}"
        );
        assert!((4.0..=26.0).contains(&suv), "{suv}");
        assert!(subj["tumor_diameter_mm"].as_f64().unwrap() >= 30.0);

        // Every planted PHI string is really in this subject's export (so a leak check on it is
        // meaningful).
        let mut hay = Vec::new();
        let subject_root = pet_dir.parent().unwrap().parent().unwrap();
        for f in all_files(subject_root) {
            hay.extend_from_slice(&std::fs::read(&f).unwrap());
            hay.extend_from_slice(f.to_string_lossy().as_bytes());
        }
        for phi in subj["phi"].as_array().unwrap() {
            let phi = phi.as_str().unwrap();
            assert!(
                hay.windows(phi.len()).any(|w| w == phi.as_bytes()),
                "{usubjid}: planted PHI {phi:?} not found"
            );
        }
    }
}
