//! Quantification: `ancilla suv` and the SUVbw NIfTI of `convert` against the phantom's ground
//! truth (computed by the QIBA formula from its own inputs), for every vendor style.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{
    all_files, ancilla, ancilla_ok, convert, ground_truth, phantom, write_series, Slice,
};

#[test]
fn suv_factor_and_suv_volume_match_ground_truth_for_every_vendor_style() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // Four subjects: Siemens, GE, Philips, and the time-only injection across midnight.
    phantom(dir, "4", "9", &[]);
    let truth = ground_truth(dir);
    let inv = ancilla::ingest::scan_paths_for_suv(&[dir.join("site-export")]).unwrap();
    for subj in truth["subjects"].as_array().unwrap() {
        let pid = subj["patient_id"].as_str().unwrap();
        let pet = inv
            .series
            .iter()
            .find(|s| s.patient_id == pid && s.modality == "PT" && s.plan.is_ok())
            .unwrap();
        // The SUV inputs the scan kept are those a second read of the files gives.
        let paths: Vec<_> = pet.files.iter().map(|f| f.path.clone()).collect();
        assert!(pet.files.iter().all(|f| f.suv.is_some()));
        assert_eq!(
            ancilla::quant::suv::suv_for_series(pet).unwrap(),
            ancilla::quant::suv::suv_for_files(&paths).unwrap()
        );
        let series_dir = pet.files[0].path.parent().unwrap();
        let o = ancilla_ok(&["suv", series_dir.to_str().unwrap()]);
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
        // Its own sidecar (it had none): the PET's keys, in g/ml, with the factor it applied.
        let side: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(name.replace(".nii.gz", ".json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(side["Modality"], "PT");
        assert_eq!(side["Units"], "g/ml");
        let pet_side: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(name.replace("_suvbw.nii.gz", ".json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(side["SUV"], pet_side["SUV"]);
        assert_ne!(pet_side["Units"], "g/ml");
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
    ancilla_ok(&[
        "phantom",
        "--out",
        d.path().to_str().unwrap(),
        "--subjects",
        "1",
    ]);
    let inv = ancilla::ingest::scan_paths(&[d.path().join("site-export")]).unwrap();
    let t2 = inv.series.iter().find(|s| s.modality == "MR").unwrap();
    let o = ancilla(&["suv", t2.files[0].path.parent().unwrap().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no PET series"));
}

/// Regression: an input path that is not there was a failed run (exit 1) in `features`, `suv`
/// and `adc`, where `scan` and `convert` call it a bad command line (exit 2); a missing mask
/// read "the mask is not an ROI object ... cannot read file: No such file or directory".
#[test]
fn a_missing_input_is_a_bad_command_line_in_every_command() {
    let d = tempfile::tempdir().unwrap();
    let gone = d.path().join("gone");
    let gone = gone.to_str().unwrap();
    let here = d.path().to_str().unwrap();
    let out = d.path().join("x_adc.nii.gz");
    for (args, said) in [
        (vec!["features", "--image", gone, "--mask", here], "image"),
        (vec!["features", "--image", here, "--mask", gone], "mask"),
        (vec!["suv", gone], "input"),
        (vec!["adc", gone, "--out", out.to_str().unwrap()], "input"),
    ] {
        let o = ancilla(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&format!("{said} {gone} does not exist")),
            "{args:?}: {err}"
        );
    }
}

/// A PET NIfTI without SUV (dcm2niix's, or the activity volume `convert` writes beside the
/// SUV one) was measured in "a.u.", named "image", with no word on why no MTV came out. Its
/// BIDS sidecar says PT and Bq/mL: its features are now in Bq/ml, the image named `bqml`, with
/// a note that it is not SUV. Its values are the SUV volume's over the phantom's SUV factor.
#[test]
fn a_pet_nifti_in_bq_per_ml_is_measured_as_such_and_said_not_suv() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "3", "7", &[]);
    let truth = ground_truth(dir);
    let subject = truth["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["pet_units"] == "BQML")
        .expect("a subject with its PET in BQML");
    let pet_dir = dir
        .join("site-export")
        .join(subject["series_dirs"]["pet"].as_str().unwrap());
    let out = dir.join("nifti");
    support::convert(&pet_dir, &out);
    let files = support::all_files(&out);
    let find = |suffix: &str| {
        files
            .iter()
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .unwrap_or_else(|| panic!("no {suffix} in {files:?}"))
            .clone()
    };
    let mask = dir
        .join("masks")
        .join(subject["usubjid"].as_str().unwrap())
        .join("pet_labels.nii.gz");
    let measure = |image: &Path| {
        let o = ancilla(&[
            "features",
            "--image",
            image.to_str().unwrap(),
            "--mask",
            mask.to_str().unwrap(),
            "--labels",
            "1=tumor,3=liver",
        ]);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        (String::from_utf8_lossy(&o.stdout).into_owned(), err)
    };
    let (act, act_err) = measure(&find("_pt_pet.nii.gz"));
    let (suv, suv_err) = measure(&find("_pt_pet_suvbw.nii.gz"));
    assert!(
        act_err.contains("the image is a PET in Bq/ml (its JSON sidecar), not SUV"),
        "{act_err}"
    );
    assert!(!suv_err.contains("not SUV"), "{suv_err}");
    // (modality, image, value, unit) of the tumour's feature.
    let cell = |csv: &str, feature: &str| -> (String, String, f64, String) {
        let l = csv
            .lines()
            .find(|l| l.split(',').nth(5) == Some(feature) && l.split(',').nth(4) == Some("tumor"))
            .unwrap_or_else(|| panic!("no tumor {feature} in {csv}"));
        let c: Vec<&str> = l.split(',').collect();
        (c[1].into(), c[3].into(), c[6].parse().unwrap(), c[7].into())
    };
    let (m, image, bq, unit) = cell(&act, "stat_max");
    assert_eq!(
        (m.as_str(), image.as_str(), unit.as_str()),
        ("pt", "bqml", "Bq/ml")
    );
    let (_, image, g, unit) = cell(&suv, "stat_max");
    assert_eq!((image.as_str(), unit.as_str()), ("suvbw", "g/ml"));
    let factor = subject["suvbw_factor"].as_f64().unwrap();
    assert!(
        (bq * factor / g - 1.0).abs() < 1e-5,
        "{bq} × {factor} vs {g}"
    );
    // SUV-only features come from the SUV volume alone.
    assert!(
        suv.contains(",mtv_suv3,") && !act.contains(",mtv_"),
        "{act}"
    );
}

/// An image that is neither NIfTI nor a DICOM series (a NIfTI's JSON sidecar, an empty folder)
/// is refused with why no series was found, not only "found 0".
#[test]
fn features_on_a_file_that_is_no_image_says_why() {
    let d = tempfile::tempdir().unwrap();
    let sidecar = d.path().join("004_mr_t2.json");
    std::fs::write(&sidecar, "{\"EchoTime\": 0.1}").unwrap();
    ancilla::phantom::generate(&ancilla::phantom::PhantomOptions {
        out: d.path().join("cohort"),
        subjects: 1,
        seed: 1,
        dicom_rois: false,
    })
    .unwrap();
    let mask = std::fs::read_dir(d.path().join("cohort/masks"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("mr_labels.nii.gz");
    let empty = d.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for (image, why) in [
        (&sidecar, "found 0 (1 file rejected, the first: not DICOM"),
        (&empty, "found 0 (no file there)"),
    ] {
        let o = ancilla(&[
            "features",
            "--image",
            image.to_str().unwrap(),
            "--mask",
            mask.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(why), "{err}");
    }
}

#[test]
fn features_cli_on_phantom_pet_matches_ground_truth() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "1", "4", &[]);
    let truth = ground_truth(dir);
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
    // `ancilla features` on the PET series and its label map, with a label table and more.
    let features = |labels: &str, more: &[&str]| {
        let image = pet.files[0].path.parent().unwrap().to_str().unwrap();
        let args = [
            "features",
            "--image",
            image,
            "--mask",
            mask.to_str().unwrap(),
        ];
        ancilla(&[&args[..], &["--labels", labels], more].concat())
    };
    let o = features(
        "1=tumor,2=kidney,3=liver,4=bloodpool,5=parotid",
        &["--out", out.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("no ROI"), "every region named: {err}");
    let text = std::fs::read_to_string(&out).unwrap();
    // `--out x.parquet`: the same table as Parquet (with the dictionary beside it).
    let pq = dir.join("p/features.parquet");
    let o = features(
        "1=tumor,2=kidney,3=liver,4=bloodpool,5=parotid",
        &["--out", pq.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&pq).unwrap().starts_with(b"PAR1"));
    assert!(dir.join("p/features.dictionary.csv").is_file());
    let (from_csv, from_parquet) = (
        ancilla::clinical::tables::TextTable::read(&out).unwrap(),
        ancilla::clinical::tables::TextTable::read(&pq).unwrap(),
    );
    assert_eq!(from_csv.header, from_parquet.header);
    assert_eq!(from_csv.rows, from_parquet.rows);
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
    // of radius ≥ 1 cm): within 3% (the classic marching-cubes mesh of a voxelised ball cuts the
    // staircase's corners: 2.9% under here, as pyradiomics' mesh of the same mask); maximum 3D
    // diameter within one 4 mm voxel of the longest axis.
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
            (v - truth).abs() / truth < 0.03,
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
    // A named label the mask does not hold is said (it gave no rows, silently).
    let o = features("1=tumor,9=spleen", &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("label 9 (spleen) marks no voxel of the image")
            && err.contains("labels 2, 3, 4, 5 are not in --labels: not measured")
            && !err.contains("tumor"),
        "{err}"
    );
    // What the regions' names leave out of the PET features is said, as `run` says it of its
    // label table (the standalone command was silent).
    assert!(
        err.contains(
            "features: no ROI named bloodpool, liver, parotid among the regions: no miPSMA score"
        ) && err
            .contains("features: no ROI named liver among the regions: no liver-based threshold"),
        "{err}"
    );
    // A malformed label table is a usage error.
    assert_eq!(features("tumor", &[]).status.code(), Some(2));
}

/// (roi, feature) → value of a features CSV (an empty value, e.g. Moran's I of a uniform region,
/// is NaN).
fn feature_values(text: &str) -> Vec<(String, String, f64)> {
    text.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            let v = if c[6].is_empty() {
                f64::NAN
            } else {
                c[6].parse().unwrap()
            };
            (c[4].to_string(), c[5].to_string(), v)
        })
        .collect()
}

/// Rows compared bit for bit (NaN equals NaN).
fn bits<T: Clone>(rows: &[(T, f64)]) -> Vec<(T, u64)> {
    rows.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect()
}

fn bits3(rows: &[(String, String, f64)]) -> Vec<(String, String, u64)> {
    rows.iter()
        .map(|(a, b, v)| (a.clone(), b.clone(), v.to_bits()))
        .collect()
}

fn run_features(args: &[&str]) -> String {
    let o = ancilla(&[&["features"], args].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn dicom_seg_and_rtstruct_give_the_label_map_regions_before_and_after_deid() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "1", "4", &["--dicom-rois"]);
    let truth = ground_truth(dir);
    let subj = &truth["subjects"][0];
    let export = dir.join("site-export");
    let pet = export.join(subj["series_dirs"]["pet"].as_str().unwrap());
    let t2 = export.join(subj["series_dirs"]["t2"].as_str().unwrap());
    let seg = export.join(subj["dicom_rois"]["seg"].as_str().unwrap());
    let rt = export.join(subj["dicom_rois"]["rtstruct"].as_str().unwrap());
    let nifti = dir
        .join("masks")
        .join(subj["usubjid"].as_str().unwrap())
        .join("pet_labels.nii.gz");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let reference = feature_values(&run_features(&[
        "--image",
        &s(&pet),
        "--mask",
        &s(&nifti),
        "--labels",
        "1=tumor,2=kidney,3=liver,4=bloodpool,5=parotid",
    ]));
    // SEG: same grid, segments named by their SegmentLabel ("Tumor" → tumor): every value equal.
    let from_seg = feature_values(&run_features(&["--image", &s(&pet), "--mask", &s(&seg)]));
    assert_eq!(bits3(&from_seg), bits3(&reference));
    // RTSTRUCT (the folder holding it): the tumour polygons are the analytic ball cut at each
    // plane (360 vertices), so the rasterised tumour is the label map's; the liver within 0.5%.
    let from_rt = feature_values(&run_features(&[
        "--image",
        &s(&pet),
        "--mask",
        &s(rt.parent().unwrap()),
    ]));
    // The tumour's own features (cross-region ones need the kidney, parotid and blood pool that
    // the RTSTRUCT does not outline).
    let pick = |rows: &[(String, String, f64)], roi: &str| -> Vec<(String, f64)> {
        rows.iter()
            .filter(|r| r.0 == roi && !r.1.starts_with("ratio_") && r.1 != "mipsma_score")
            .map(|r| (r.1.clone(), r.2))
            .collect()
    };
    assert_eq!(
        bits(&pick(&from_rt, "tumor")),
        bits(&pick(&reference, "tumor"))
    );
    let vol = |rows: &[(String, String, f64)], roi: &str| {
        rows.iter()
            .find(|r| r.0 == roi && r.1 == "morph_vol_approx")
            .unwrap()
            .2
    };
    let (a, b) = (vol(&from_rt, "liver"), vol(&reference, "liver"));
    assert!((a - b).abs() / b < 0.005, "liver {a} vs {b} mm3");
    assert!(!from_rt.iter().any(|r| r.0 == "kidney"));
    // `features` on the PET and the SEG with more arguments: its stdout and stderr.
    let on_seg = |more: &[&str]| {
        let (pet, seg) = (s(&pet), s(&seg));
        let o = ancilla(&[&["features", "--image", &pet, "--mask", &seg], more].concat());
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        (String::from_utf8_lossy(&o.stdout).into_owned(), err)
    };
    // --labels that number the SEG's tumour and liver the other way round: measured as told,
    // and said (the segments' own labels are names of the table).
    let (_, said) = on_seg(&["--labels", "1=liver,3=tumor"]);
    for line in [
        "features: segment 1 of the DICOM SEG is labelled tumor, but --labels names 1 liver: measured as \
         liver; check the numbering",
        "features: segment 3 of the DICOM SEG is labelled liver, but --labels names 3 tumor: measured as \
         tumor; check the numbering",
        "features: the DICOM SEG's labels 2, 4, 5 are not in --labels: not measured",
    ] {
        assert!(said.contains(line), "{said}");
    }

    // Liver-based MTV: uniform liver (SD 0) → threshold 1.5 × liver SUV; the uniform tumour is
    // wholly above or below it.
    let get = |roi: &str, f: &str| {
        reference
            .iter()
            .find(|r| r.0 == roi && r.1 == f)
            .unwrap_or_else(|| panic!("{roi} {f}"))
            .2
    };
    let liver = subj["regions"]["liver"]["suvbw"].as_f64().unwrap();
    let tumour = subj["regions"]["tumor"]["suvbw"].as_f64().unwrap();
    assert!((get("tumor", "threshold_liver") - 1.5 * liver).abs() <= 1e-4 * liver);
    let expect = if tumour >= 1.5 * liver {
        subj["regions"]["tumor"]["volume_ml_pet_grid"]
            .as_f64()
            .unwrap()
    } else {
        0.0
    };
    assert!((get("tumor", "mtv_liver") - expect).abs() < 1e-6);
    assert!(!reference
        .iter()
        .any(|r| r.0 == "liver" && r.1 == "mtv_liver"));
    // Configurable fixed thresholds: one feature each, threshold in the name.
    let (out, err) = on_seg(&["--labels", "1=tumor", "--mtv-suv", "2.5,1000"]);
    // The segments the label table does not name are said, not dropped silently.
    assert!(
        err.contains("the DICOM SEG's labels 2, 3, 4, 5 are not in --labels"),
        "{err}"
    );
    let two = feature_values(&out);
    let names: Vec<&str> = two.iter().map(|r| r.1.as_str()).collect();
    assert!(names.contains(&"mtv_suv2p5") && names.contains(&"mtv_suv1000"));
    assert!(!names.contains(&"mtv_suv3"));
    assert_eq!(two.iter().find(|r| r.1 == "mtv_suv1000").unwrap().2, 0.0);

    // Refusals: another frame of reference (the MR), and a mask that is no ROI object.
    let o = ancilla(&["features", "--image", &s(&t2), "--mask", &s(&seg)]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("FrameOfReferenceUID"), "{e}");
    let slice = std::fs::read_dir(&pet)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let o = ancilla(&["features", "--image", &s(&pet), "--mask", &s(&slice)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("(Modality \"PT\")"));

    // De-identified: the SEG and RTSTRUCT still point at the (renamed) PET and give the same values.
    let out = dir.join("deid");
    ancilla_ok(&[
        "deid",
        &s(&export),
        "--out",
        &s(&out),
        "--key",
        &s(&dir.join("key.bin")),
        "--subjects",
        &s(&dir.join("clinical/subject_map.csv")),
    ]);
    let inv = ancilla::ingest::scan_paths(std::slice::from_ref(&out)).unwrap();
    let find = |m: &str| {
        inv.series
            .iter()
            .find(|x| x.modality == m && (m != "PT" || x.plan.is_ok()))
            .unwrap()
    };
    let (dpet, dseg, drt) = (find("PT"), find("SEG"), find("RTSTRUCT"));
    // PET instances, and the study (the RTSTRUCT's RTReferencedStudySequence names it).
    let mut pet_sops: std::collections::BTreeSet<&str> =
        dpet.files.iter().map(|f| f.sop_uid.as_str()).collect();
    pet_sops.insert(dpet.study_uid.as_str());
    for x in [dseg, drt] {
        let obj = dicom_object::open_file(&x.files[0].path).unwrap();
        let mut refs = Vec::new();
        collect_refs(&obj, &mut refs);
        assert!(refs.len() > 10);
        assert!(
            refs.iter().all(|r| pet_sops.contains(r.as_str())),
            "{}",
            x.modality
        );
        let bytes = std::fs::read(&x.files[0].path).unwrap();
        for phi in subj["phi"].as_array().unwrap() {
            let phi = phi.as_str().unwrap().as_bytes();
            assert!(!bytes.windows(phi.len()).any(|w| w == phi));
        }
    }
    let dpet_dir = s(dpet.files[0].path.parent().unwrap());
    let after = feature_values(&run_features(&[
        "--image",
        &dpet_dir,
        "--mask",
        &s(&dseg.files[0].path),
    ]));
    assert_eq!(bits3(&after), bits3(&reference));
    let after_rt = feature_values(&run_features(&[
        "--image",
        &dpet_dir,
        "--mask",
        &s(&drt.files[0].path),
    ]));
    assert_eq!(
        bits(&pick(&after_rt, "tumor")),
        bits(&pick(&reference, "tumor"))
    );
}

/// Every ReferencedSOPInstanceUID at any depth.
fn collect_refs(obj: &dicom_object::InMemDicomObject, out: &mut Vec<String>) {
    use dicom_dictionary_std::tags;
    for e in obj.iter() {
        if e.header().tag == tags::REFERENCED_SOP_INSTANCE_UID {
            if let Ok(v) = e.to_str() {
                out.push(v.trim_end_matches('\0').trim().to_string());
            }
        }
        if let Some(items) = e.items() {
            for i in items {
                collect_refs(i, out);
            }
        }
    }
}

#[test]
fn adc_fitted_from_dwi_matches_the_mono_exponential_by_hand() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    phantom(dir, "1", "4", &[]);
    let truth = ground_truth(dir);
    let subj = &truth["subjects"][0];
    let export = dir.join("site-export");
    let dwi = export.join(subj["series_dirs"]["dwi"].as_str().unwrap());
    let map = dir.join("fit_adc.nii.gz");
    let o = ancilla_ok(&["adc", &s(&dwi), "--out", &s(&map)]);
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["b_values"], serde_json::json!([0.0, 400.0, 800.0]));
    let mask = dir
        .join("masks")
        .join(subj["usubjid"].as_str().unwrap())
        .join("mr_labels.nii.gz");
    let rows = feature_values(&run_features(&[
        "--image",
        &s(&map),
        "--mask",
        &s(&mask),
        "--labels",
        "1=tumor,2=kidney,3=liver",
    ]));
    for roi in ["tumor", "kidney", "liver"] {
        // By hand: least-squares slope of ln S on b = (0, 400, 800), from the stored signals:
        // Σ(b − 400)(ln S − mean) / Σ(b − 400)² = 400·(ln S800 − ln S0) / 320000.
        let sig: Vec<f64> = subj["regions"][roi]["dwi_signal"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let expect = -(400.0 * (sig[2].ln() - sig[0].ln()) / 320000.0) * 1e6;
        let median = rows
            .iter()
            .find(|r| r.0 == roi && r.1 == "stat_median")
            .unwrap()
            .2;
        assert!(
            (median - expect).abs() < 0.05,
            "{roi}: {median} vs {expect}"
        );
        // …which is the phantom's true ADC up to the storage rounding.
        let true_adc = subj["regions"][roi]["adc_1e-6_mm2_s"].as_f64().unwrap();
        assert!((median - true_adc).abs() / true_adc < 0.01);
    }
    // The map is named adc by its file name, and is MR (`adc` writes no sidecar: its rows had
    // no modality, and `link` named their columns `_adc_…`); a table without its subject is
    // said, a given one is not; a series without b-values is refused.
    let args = [
        "--image",
        &s(&map),
        "--mask",
        &s(&mask),
        "--labels",
        "1=tumor",
    ];
    let o = ancilla_ok(&[&["features"], &args[..]].concat());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.lines().nth(1).unwrap().contains(",mr,,adc,tumor,"),
        "{text}"
    );
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("the table's subject_id is empty") && said.contains("--subject USUBJID"),
        "{said}"
    );
    let o = ancilla_ok(&[&["features"], &args[..], &["--subject", "ANC-9"]].concat());
    assert!(!String::from_utf8_lossy(&o.stderr).contains("subject_id is empty"));
    assert!(String::from_utf8_lossy(&o.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("ANC-9,mr,,adc,tumor,"));
    let t2 = export.join(subj["series_dirs"]["t2"].as_str().unwrap());
    let o = ancilla(&["adc", &s(&t2), "--out", &s(&dir.join("no.nii.gz"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no diffusion-weighted volumes"));
    assert!(!dir.join("no.nii.gz").exists());
}

/// Every kind of SEG highdicom writes: BINARY, FRACTIONAL and LABELMAP (Supplement 243: each
/// pixel its segment's number), native and RLE Lossless. Regression: LABELMAP and compressed
/// SEGs were refused ("expected BINARY with 1 bit or FRACTIONAL with 8 bits", "a native syntax").
#[test]
fn seg_written_by_highdicom_reads_to_the_voxels_it_was_made_from() {
    // test-data/seg-highdicom: 4 CT slices of 6 × 5 pixels (rows rotated 30° in-plane, voxel
    // 0.8 × 0.7 × 2.5 = 1.4 mm³), stored value = row·6 + column + 1000 + 100·slice, intercept
    // −1024. Segment "Lesion A": slices 1–2, rows 1–3, columns 2–4 (18 voxels): mean HU =
    // 6·2 + 3 + 100·1.5 + 1000 − 1024 = 141. "Lesion-B": (slice 3, row 4, column 5) = 305 HU and
    // column 0 of slice 0 (−24, −18, −12, −6, 0): mean (305 − 60) / 6 = 245/6.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/seg-highdicom");
    for file in [
        "seg_binary.dcm",
        "seg_fractional.dcm",
        "seg_fractional_rle.dcm",
        "seg_labelmap.dcm",
        "seg_labelmap_rle.dcm",
        "seg_labelmap16.dcm",
    ] {
        let text = run_features(&[
            "--image",
            root.join("ct").to_str().unwrap(),
            "--mask",
            root.join(file).to_str().unwrap(),
        ]);
        let rows = feature_values(&text);
        let get = |roi: &str, f: &str| {
            rows.iter()
                .find(|r| r.0 == roi && r.1 == f)
                .unwrap_or_else(|| panic!("{file}: {roi} {f}"))
                .2
        };
        assert!(
            (get("lesion_a", "morph_vol_approx") - 18.0 * 1.4).abs() < 1e-9,
            "{file}"
        );
        assert!(
            (get("lesion_b", "morph_vol_approx") - 6.0 * 1.4).abs() < 1e-9,
            "{file}"
        );
        assert!(
            (get("lesion_a", "stat_mean") - 141.0).abs() < 1e-9,
            "{file}"
        );
        assert!(
            (get("lesion_b", "stat_mean") - 245.0 / 6.0).abs() < 1e-9,
            "{file}"
        );
        assert!(text.contains(",HU"));
    }
}

#[test]
fn ibsi_phantom_dicom_seg_gives_the_nifti_mask_statistics() {
    // The IBSI digital phantom ships a DICOM SEG on its enhanced MR image (by D. Clunie): the
    // same 74 voxels as mask.nii.gz, so every intensity statistic equals the NIfTI pair's
    // (voxel sizes differ: 1 mm in the DICOM version, 2 mm in the NIfTI one).
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/ibsi1-phantom");
    let p = |f: &str| root.join(f).to_str().unwrap().to_string();
    let seg = feature_values(&run_features(&[
        "--image",
        &p("dicom-deprecated-image.dcm"),
        "--mask",
        &p("dicom-deprecated-mask.dcm"),
    ]));
    let nifti = feature_values(&run_features(&[
        "--image",
        &p("image.nii.gz"),
        "--mask",
        &p("mask.nii.gz"),
    ]));
    let stats = |rows: &[(String, String, f64)]| -> Vec<(String, f64)> {
        rows.iter()
            .filter(|r| r.1.starts_with("stat_"))
            .map(|r| (r.1.clone(), r.2))
            .collect()
    };
    assert_eq!(stats(&seg).len(), 18);
    // Equal up to summation order (the voxels come in another order).
    for ((a, x), (b, y)) in stats(&seg).into_iter().zip(stats(&nifti)) {
        assert_eq!(a, b);
        assert!((x - y).abs() <= 1e-12 * y.abs().max(1.0), "{a}: {x} vs {y}");
    }
    let vol = seg.iter().find(|r| r.1 == "morph_vol_approx").unwrap().2;
    assert_eq!(vol, 74.0);
}

/// `--texture-min`: the bins from a fixed lower bound (IBSI's fixed bin size from a set
/// minimum). On the digital phantom (intensities 1 to 6), from 0 with width 1 each level is one
/// higher than from the region's minimum (1): the grey-level mean and minimum rise by 1, the
/// joint probabilities are the same; a negative bound is read as a number.
#[test]
fn texture_bins_from_a_fixed_lower_bound() {
    let d = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/ibsi1-phantom");
    let p = |f: &str| root.join(f).to_str().unwrap().to_string();
    let rows = |more: &[&str], name: &str| {
        let out = d.path().join(name);
        let (image, mask) = (p("image.nii.gz"), p("mask.nii.gz"));
        let args = [
            "features",
            "--image",
            &image,
            "--mask",
            &mask,
            "--texture-bin-width",
            "1",
        ];
        let o = ancilla(&[&args[..], more, &["--out", out.to_str().unwrap()]].concat());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        feature_values(&std::fs::read_to_string(&out).unwrap())
    };
    let own = rows(&[], "own.csv");
    let fixed = rows(&["--texture-min", "0"], "fixed.csv");
    let get = |rows: &[(String, String, f64)], f: &str| rows.iter().find(|r| r.1 == f).unwrap().2;
    assert_eq!(get(&own, "ih_min"), 1.0);
    assert_eq!(get(&fixed, "ih_min"), 2.0);
    assert!((get(&fixed, "ih_mean") - get(&own, "ih_mean") - 1.0).abs() < 1e-12);
    assert_eq!(
        get(&fixed, "cm_joint_max_3D_comb"),
        get(&own, "cm_joint_max_3D_comb")
    );
    // From −1: two levels higher; from 1.5, the voxels at 1 are left out (the next intensity,
    // 3, is level ⌊3 − 1.5⌋ + 1 = 2).
    let lower = rows(&["--texture-min", "-1"], "lower.csv");
    assert_eq!(get(&lower, "ih_min"), 3.0);
    let above = rows(&["--texture-min", "1.5"], "above.csv");
    assert_eq!(get(&above, "ih_min"), 2.0);
    assert_eq!(get(&above, "stat_min"), 1.0);
    // Above every voxel: no texture, and said so (it was blamed on too many grey levels).
    let (image, mask) = (p("image.nii.gz"), p("mask.nii.gz"));
    let o = ancilla(&[
        "features",
        "--image",
        &image,
        "--mask",
        &mask,
        "--texture-bin-width",
        "1",
        "--texture-min",
        "100",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success()
            && err.contains("every voxel of the region lies below --texture-min 100"),
        "{err}"
    );
    // A bound without a bin width is a bad command line (it was taken for nothing).
    let o = ancilla(&[
        "features",
        "--image",
        &image,
        "--mask",
        &mask,
        "--texture-min",
        "0",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("it needs --texture-bin-width"), "{err}");
}

#[test]
fn texture_on_request_matches_the_ibsi_phantom_from_the_command_line() {
    let d = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/ibsi1-phantom");
    let p = |f: &str| root.join(f).to_str().unwrap().to_string();
    let out = d.path().join("f.csv");
    let with_width = |width: &str, more: &[&str]| {
        let (image, mask) = (p("image.nii.gz"), p("mask.nii.gz"));
        let args = ["features", "--image", &image, "--mask", &mask];
        ancilla(&[&args[..], &["--texture-bin-width", width], more].concat())
    };
    let o = with_width("1", &["--out", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && !err.contains("no texture"), "{err}");
    let rows = feature_values(&std::fs::read_to_string(&out).unwrap());
    let get = |f: &str| rows.iter().find(|r| r.1 == f).unwrap().2;
    // IBSI reference values (3D merged / averaged GLCM of the digital phantom).
    assert!((get("cm_joint_max_3D_comb") - 0.509).abs() < 5e-4);
    assert!((get("cm_clust_prom_3D_comb") - 147.0).abs() < 0.5);
    assert!((get("cm_joint_max_3D_avg") - 0.503).abs() < 5e-4);
    assert_eq!(rows.iter().filter(|r| r.1.starts_with("cm_")).count(), 50);
    assert!((get("szm_lze_3D") - 550.0).abs() < 0.5);
    assert!((get("ngt_strength_3D") - 0.763).abs() < 5e-4);
    assert_eq!(rows.iter().filter(|r| r.1.starts_with("szm_")).count(), 16);
    assert_eq!(rows.iter().filter(|r| r.1.starts_with("rlm_")).count(), 32);
    assert!((get("rlm_glnu_3D_comb") - 281.0).abs() < 0.5);
    assert!((get("dzm_zd_entr_3D") - 1.92).abs() < 5e-3);
    assert!((get("ngl_hdhge_3D") - 235.0).abs() < 0.5);
    assert_eq!(get("ih_min_grad"), -50.0);
    assert!((get("ivh_v10") - 0.324).abs() < 5e-4);
    assert_eq!(
        rows.iter()
            .filter(|r| r.1.starts_with("ih_") || r.1.starts_with("ivh_"))
            .count(),
        29
    );
    // Every texture family: 50 GLCM + 32 GLRLM + 16 GLSZM + 16 GLDZM + 5 NGTDM + 17 NGLDM.
    let texture = ["cm_", "rlm_", "szm_", "dzm_", "ngt_", "ngl_"];
    assert_eq!(
        rows.iter()
            .filter(|r| texture.iter().any(|t| r.1.starts_with(t)))
            .count(),
        136
    );
    assert_eq!(rows.iter().filter(|r| r.1.starts_with("ngt_")).count(), 5);
    // The option's help names every family it adds (it named GLCM only).
    let help = String::from_utf8_lossy(&ancilla(&["features", "--help"]).stdout).to_string();
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for family in [
        "GLCM",
        "GLRLM",
        "GLSZM",
        "GLDZM",
        "NGTDM",
        "NGLDM",
        "histogram",
        "IVH",
    ] {
        assert!(help.contains(family), "{family} not in: {help}");
    }
    // Named after the table (f.csv), as link's codebook is (it was features.dictionary.csv
    // whatever the table, and a second table in the folder overwrote the first one's).
    let dict = std::fs::read_to_string(d.path().join("f.dictionary.csv")).unwrap();
    assert!(!d.path().join("features.dictionary.csv").exists());
    assert!(dict.contains("cm_info_corr2_3D_avg,JN9H,1,"));
    // A width that gives more than 2²⁴ grey levels: no texture, and the terminal says why (as
    // 32-bit levels they overflowed).
    let o = with_width("1e-9", &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && err.contains("grey levels: no texture"),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&o.stdout).contains(",cm_"));
    // Without the option: no texture; a non-positive width is a usage error.
    let plain = run_features(&["--image", &p("image.nii.gz"), "--mask", &p("mask.nii.gz")]);
    assert!(!plain.contains(",cm_"));
    assert_eq!(with_width("0", &[]).status.code(), Some(2));
}

/// A minimal RTSTRUCT: ROI 1, one square contour on z = 32.5 (the CT fixture's second plane), and
/// ROI 2, the same square on z = 500 (on none of the fixture's planes).
fn small_rtstruct(path: &Path) {
    rtstruct_with(path, &[]);
}

/// [`small_rtstruct`] with more contours of ROI 1 (their ContourData; CLOSED_PLANAR, or of the
/// type before a colon: `POINT:x\y\z`).
fn rtstruct_with(path: &Path, more: &[&str]) {
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, Length, PrimitiveValue, VR};
    use dicom_dictionary_std::{tags, uids};
    use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
    let put = |o: &mut InMemDicomObject, t, vr, v: &str| {
        o.put(DataElement::new(t, vr, PrimitiveValue::from(v)))
    };
    let seq = |o: &mut InMemDicomObject, t, items: Vec<InMemDicomObject>| {
        o.put(DataElement::new(
            t,
            VR::SQ,
            DataSetSequence::new(items, Length::UNDEFINED),
        ))
    };
    let mut o = InMemDicomObject::new_empty();
    put(
        &mut o,
        tags::SOP_CLASS_UID,
        VR::UI,
        uids::RT_STRUCTURE_SET_STORAGE,
    );
    put(&mut o, tags::SOP_INSTANCE_UID, VR::UI, "2.25.77");
    put(&mut o, tags::MODALITY, VR::CS, "RTSTRUCT");
    put(&mut o, tags::STUDY_INSTANCE_UID, VR::UI, "2.25.1001");
    put(&mut o, tags::SERIES_INSTANCE_UID, VR::UI, "2.25.78");
    let mut rois = Vec::new();
    let mut contours = Vec::new();
    for (number, name, z) in [("1", "Lesion", "32.5"), ("2", "Far", "500")] {
        let mut roi = InMemDicomObject::new_empty();
        put(&mut roi, tags::ROI_NUMBER, VR::IS, number);
        put(&mut roi, tags::ROI_NAME, VR::LO, name);
        rois.push(roi);
        let mut c = InMemDicomObject::new_empty();
        put(
            &mut c,
            tags::CONTOUR_GEOMETRIC_TYPE,
            VR::CS,
            "CLOSED_PLANAR",
        );
        let square = format!("9\\-21\\{z}\\13\\-21\\{z}\\13\\-17\\{z}\\9\\-17\\{z}");
        put(&mut c, tags::CONTOUR_DATA, VR::DS, &square);
        let mut items = vec![c.clone()];
        if number == "1" {
            for data in more {
                let (kind, data) = data.split_once(':').unwrap_or(("CLOSED_PLANAR", data));
                let mut c = c.clone();
                put(&mut c, tags::CONTOUR_GEOMETRIC_TYPE, VR::CS, kind);
                put(&mut c, tags::CONTOUR_DATA, VR::DS, data);
                items.push(c);
            }
        }
        let mut rc = InMemDicomObject::new_empty();
        put(&mut rc, tags::REFERENCED_ROI_NUMBER, VR::IS, number);
        seq(&mut rc, tags::CONTOUR_SEQUENCE, items);
        contours.push(rc);
    }
    seq(&mut o, tags::STRUCTURE_SET_ROI_SEQUENCE, rois);
    seq(&mut o, tags::ROI_CONTOUR_SEQUENCE, contours);
    let file = o
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
                .media_storage_sop_class_uid(uids::RT_STRUCTURE_SET_STORAGE)
                .media_storage_sop_instance_uid("2.25.77"),
        )
        .unwrap();
    file.write_to_file(path).unwrap();
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..proptest::prelude::ProptestConfig::default() })]

    /// Truncations and bit flips of SEGs (highdicom's BINARY and RLE LABELMAP) and of an
    /// RTSTRUCT never panic the ROI readers: they give regions or a reason.
    #[test]
    fn damaged_roi_objects_never_panic(
        cut in 0usize..3000,
        flips in proptest::collection::vec((0usize..5000, 0u8..8), 0..8),
        which in 0u8..3,
    ) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/seg-highdicom");
        let image = ancilla::volume::assemble::load_series_dir(&root.join("ct")).unwrap().remove(0).volume;
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src.dcm");
        match which {
            0 => std::fs::copy(root.join("seg_binary.dcm"), &src).map(|_| ()).unwrap(),
            1 => std::fs::copy(root.join("seg_labelmap_rle.dcm"), &src).map(|_| ()).unwrap(),
            _ => small_rtstruct(&src),
        }
        let mut bytes = std::fs::read(&src).unwrap();
        for (pos, bit) in flips {
            let p = pos % bytes.len();
            bytes[p] ^= 1 << bit;
        }
        let keep = bytes.len() - (cut % bytes.len());
        let damaged = d.path().join("damaged.dcm");
        std::fs::write(&damaged, &bytes[..keep]).unwrap();
        // A panic of ancilla's own decoders (RLE) is caught as a decoder's: that reason, or an
        // internal error, is a panic here.
        if let Err(e) = ancilla::roi::load_rois(&image, None, &damaged) {
            let reason = e.to_string();
            proptest::prop_assert!(
                !reason.contains(ancilla::INTERNAL_ERROR)
                    && !reason.contains("the decoder failed on malformed pixel data"),
                "{}", reason
            );
        }
    }
}

/// The 4-slice oblique CT of `test-data/seg-highdicom`.
fn fixture_ct() -> ancilla::volume::Volume {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/seg-highdicom");
    ancilla::volume::assemble::load_series_dir(&root.join("ct"))
        .unwrap()
        .remove(0)
        .volume
}

/// `ancilla features` on the fixture CT with `mask`.
fn features_on_fixture_ct(mask: &Path) -> std::process::Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/seg-highdicom");
    ancilla(&[
        "features",
        "--image",
        root.join("ct").to_str().unwrap(),
        "--mask",
        mask.to_str().unwrap(),
    ])
}

#[test]
fn small_rtstruct_rasterises_on_the_oblique_ct() {
    // The square (9..13, −21..−17) mm on the plane z = 32.5 of the CT fixture (origin
    // (10, −20, 30), rows rotated 30° in-plane, 0.7 × 0.8 mm pixels, 2.5 mm slices): plane 1 only.
    let image = fixture_ct();
    let d = tempfile::tempdir().unwrap();
    let rt = d.path().join("rt.dcm");
    small_rtstruct(&rt);
    let rois = ancilla::roi::load_rois(&image, None, &rt).unwrap();
    assert_eq!(rois.regions.len(), 2);
    assert_eq!(rois.regions[0].name, "lesion");
    // ROI 2 lies on no plane of the image: a region without voxels, said to be so.
    assert_eq!(rois.empty_own_regions(), [2]);
    // Expected voxels computed independently: every voxel centre of plane 1 inside the square.
    let mut expect = 0;
    for j in 0..5 {
        for i in 0..6 {
            let p = image.geometry.world(i as f64, j as f64, 1.0);
            if p[0] > 9.0 && p[0] < 13.0 && p[1] > -21.0 && p[1] < -17.0 {
                expect += 1;
            }
        }
    }
    let m = rois.regions[0].window([0, 0, 0], image.dims());
    assert!(expect > 0);
    assert_eq!(m.iter().filter(|x| **x).count(), expect);
    assert!((0..5).all(|j| (0..6).all(|i| !m[[0, j, i]] && !m[[2, j, i]])));
}

/// rt-utils (and what exports through it, TotalSegmentator's RTSTRUCTs) writes a CLOSED_PLANAR
/// contour of one or two points where a mask slice holds a lone voxel or a line of them, through
/// their centres. Such a contour holds the voxels whose centres it passes through, and no other:
/// here a point at the centre of voxel (column 0, row 4) of plane 1, outside the square, adds
/// that voxel; a point and a segment through no centre add nothing. Regressions: the whole
/// RTSTRUCT was refused ("ContourData (3006,0050): expected x\y\z triples of at least three
/// points"); then such contours were taken to hold nothing.
#[test]
fn one_and_two_point_contours_hold_the_voxels_they_pass_through() {
    let image = fixture_ct();
    let d = tempfile::tempdir().unwrap();
    let (plain, more) = (d.path().join("plain.dcm"), d.path().join("more.dcm"));
    small_rtstruct(&plain);
    let c = image.geometry.world(0.0, 4.0, 1.0);
    let centre = format!("{:.6}\\{:.6}\\{:.6}", c[0], c[1], c[2]);
    rtstruct_with(
        &more,
        &[&centre, "11\\-19\\32.5", "9\\-21\\32.5\\13\\-17\\32.5"],
    );
    let a = ancilla::roi::load_rois(&image, None, &plain).unwrap();
    let b = ancilla::roi::load_rois(&image, None, &more).unwrap();
    assert_eq!(a.regions.len(), b.regions.len());
    // The masks over the whole grid (a region's own mask covers its bounding box only).
    let whole = |rois: &ancilla::roi::Rois, r: usize| rois.regions[r].window([0; 3], image.dims());
    assert!(!whole(&a, 0)[[1, 4, 0]]);
    let mut want = whole(&a, 0);
    want[[1, 4, 0]] = true;
    assert_eq!(whole(&b, 0), want);
    assert_eq!(whole(&a, 1), whole(&b, 1));
    assert!(a.regions[0].mask.iter().any(|v| *v));
}

/// An ROI with a damaged contour (ContourData that is not x\y\z triples) is not used, with the
/// attribute named, and the structure set's other ROIs are measured. Regression: the whole
/// RTSTRUCT was refused, every ROI of the image lost for one damaged contour.
#[test]
fn a_damaged_contour_costs_its_roi_not_the_others() {
    let image = fixture_ct();
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("bad.dcm");
    rtstruct_with(&bad, &["11\\-19"]);
    let rois = ancilla::roi::load_rois(&image, None, &bad).unwrap();
    let numbers: Vec<u32> = rois.regions.iter().map(|r| r.number).collect();
    assert_eq!(numbers, [2]);
    assert_eq!(rois.unusable.len(), 1);
    assert_eq!(rois.unusable[0].0, 1);
    assert!(rois.unusable[0].1.contains("ContourData (3006,0050)"));
    // Unusable, not empty: the one reason is given, not a second, wrong one.
    let table: std::collections::BTreeMap<u32, String> =
        [(1, "lesion".to_string()), (2, "far".to_string())].into();
    assert!(rois
        .empty_regions(Some(&table))
        .iter()
        .all(|(n, _)| *n != 1));
    // The command says so, by number.
    let o = features_on_fixture_ct(&bad);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("the RTSTRUCT's ROI 1 is not used: ContourData (3006,0050)"),
        "{err}"
    );
}

/// Regression (robustness audit): an RTSTRUCT ROI's contours that its region leaves out were
/// dropped without a word: one lying outside the image (moved 1 km away), one reaching beyond the
/// image's edge (cut there), one of type POINT; the tumour lost 43 mm³ of 44,752 and nothing was
/// said. Each is now said, by ROI number, and the region is measured as before. An ROI all of
/// whose contours lie outside (ROI 2) marks no voxel, said as such, not twice.
#[test]
fn contours_a_region_leaves_out_are_said() {
    let image = fixture_ct();
    let d = tempfile::tempdir().unwrap();
    let (plain, more) = (d.path().join("plain.dcm"), d.path().join("more.dcm"));
    small_rtstruct(&plain);
    rtstruct_with(
        &more,
        &[
            "1009\\-21\\32.5\\1013\\-21\\32.5\\1013\\-17\\32.5",
            "-500\\-500\\32.5\\500\\-500\\32.5\\500\\500\\32.5\\-500\\500\\32.5",
            "POINT:11\\-19\\32.5",
        ],
    );
    // The fixture CT is 6 × 5 pixels of 0.7 × 0.8 mm: the 4 mm square reaches beyond it.
    let cut = "beyond the image's edge: cut there (the region is larger than measured)";
    let a = ancilla::roi::load_rois(&image, None, &plain).unwrap();
    assert_eq!(a.partial, [(1, format!("its one contour reaches {cut}"))]);
    let b = ancilla::roi::load_rois(&image, None, &more).unwrap();
    assert_eq!(
        b.partial,
        [
            (
                1,
                "1 of its 4 contours lies outside the image: left out".into()
            ),
            (1, format!("2 of its 4 contours reach {cut}")),
            (
                1,
                "1 of its 4 contours is POINT: left out (bounding no volume)".into()
            ),
        ]
    );
    // Measured all the same (the square around the plane holds the first as a hole).
    assert!(b.regions[0].mask.iter().any(|v| *v));
    assert_eq!(b.empty_own_regions(), [2]);
    let o = features_on_fixture_ct(&more);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(
            "the RTSTRUCT's ROI 1 is measured without part of it: 1 of its 4 contours lies \
             outside the image: left out"
        ),
        "{err}"
    );
    // An ROI whose contours lie inside the image gets no word: the square on a larger grid.
    let mut larger = image.clone();
    larger.data = ndarray::Array3::zeros((3, 40, 40));
    larger.geometry.origin = image.geometry.world(-15.0, -15.0, 0.0);
    let c = ancilla::roi::load_rois(&larger, None, &plain).unwrap();
    assert_eq!(c.partial, []);
    assert!(c.regions[0].mask.iter().any(|v| *v));
}

/// Regression (robustness audit): numbers that do not name one region were taken silently: a
/// SEG frame naming a segment the SegmentSequence lacks was passed over (its voxels lost); two
/// segments numbered 1 gave one region, the other said to mark no voxel; two RTSTRUCT ROIs
/// numbered 1 were reported as a contour naming no ROI. Each is refused by its attribute now.
#[test]
fn roi_numbers_that_do_not_name_one_region_are_refused() {
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, Length, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;
    let image = fixture_ct();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/seg-highdicom");
    let d = tempfile::tempdir().unwrap();
    let items_of = |o: &InMemDicomObject, tag| -> Vec<InMemDicomObject> {
        o.element(tag).unwrap().items().unwrap().to_vec()
    };
    let sq = |items: Vec<InMemDicomObject>| DataSetSequence::new(items, Length::UNDEFINED);
    let refused = |obj: dicom_object::DefaultDicomObject, name: &str| -> String {
        let path = d.path().join(name);
        obj.write_to_file(&path).unwrap();
        ancilla::roi::load_rois(&image, None, &path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let seg = || dicom_object::open_file(root.join("seg_binary.dcm")).unwrap();
    assert!(ancilla::roi::load_rois(&image, None, &root.join("seg_binary.dcm")).is_ok());
    // Frame 1 names segment 999.
    let mut o = seg();
    let mut frames = items_of(&o, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE);
    let mut id = items_of(&frames[0], tags::SEGMENT_IDENTIFICATION_SEQUENCE);
    id[0].put(DataElement::new(
        tags::REFERENCED_SEGMENT_NUMBER,
        VR::US,
        PrimitiveValue::from(999u16),
    ));
    frames[0].put(DataElement::new(
        tags::SEGMENT_IDENTIFICATION_SEQUENCE,
        VR::SQ,
        sq(id),
    ));
    o.put(DataElement::new(
        tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
        VR::SQ,
        sq(frames),
    ));
    assert_eq!(
        refused(o, "seg999.dcm"),
        "SEG: attribute SegmentIdentificationSequence/ReferencedSegmentNumber (0062,000A/000B): \
         expected the number of a segment of the SegmentSequence in every frame; frame 1 names \
         segment 999"
    );
    // Its first segment given twice.
    let mut o = seg();
    let mut segments = items_of(&o, tags::SEGMENT_SEQUENCE);
    segments.push(segments[0].clone());
    o.put(DataElement::new(
        tags::SEGMENT_SEQUENCE,
        VR::SQ,
        sq(segments),
    ));
    assert_eq!(
        refused(o, "segdup.dcm"),
        "SEG: attribute SegmentNumber (0062,0004): expected a number given to one segment only; \
         1 is given twice"
    );
    // Two ROIs numbered 1.
    let rt = d.path().join("rt.dcm");
    small_rtstruct(&rt);
    let mut o = dicom_object::open_file(&rt).unwrap();
    let mut rois = items_of(&o, tags::STRUCTURE_SET_ROI_SEQUENCE);
    rois[1].put(DataElement::new(
        tags::ROI_NUMBER,
        VR::IS,
        PrimitiveValue::from("1"),
    ));
    o.put(DataElement::new(
        tags::STRUCTURE_SET_ROI_SEQUENCE,
        VR::SQ,
        sq(rois),
    ));
    assert_eq!(
        refused(o, "rtdup.dcm"),
        "RTSTRUCT: attribute ROINumber (3006,0022): expected a number given to one ROI of \
         StructureSetROISequence only; 1 is given twice"
    );
}

/// `features` on an RTSTRUCT without --labels says which of its ROIs mark no voxel of the image
/// (by number: the object's own names are free text); before, they were left out silently
/// (dicompyler-core's RTSTRUCT on its one CT slice: 9 of 10 ROIs, without a word).
#[test]
fn rtstruct_rois_outside_the_image_are_named_by_number() {
    let d = tempfile::tempdir().unwrap();
    let rt = d.path().join("rt.dcm");
    small_rtstruct(&rt);
    let o = features_on_fixture_ct(&rt);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("the RTSTRUCT's ROI(s) 2 mark no voxel of the image"),
        "{err}"
    );
    assert!(!err.contains("Far"), "{err}");
    let rows = String::from_utf8_lossy(&o.stdout);
    assert!(rows.contains(",lesion,"), "{rows}");
}

/// Regression (found by feeding mutated NIfTI files to `features`): the error line printed each
/// cause twice ("incomplete deflate stream: incomplete deflate stream"); now once, with the file.
#[test]
fn a_truncated_gzip_mask_is_reported_once_with_its_cause() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/ibsi1-phantom");
    let d = tempfile::tempdir().unwrap();
    let gz = std::fs::read(root.join("mask.nii.gz")).unwrap();
    let cut = d.path().join("cut.nii.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let o = ancilla(&[
        "features",
        "--image",
        root.join("image.nii.gz").to_str().unwrap(),
        "--mask",
        cut.to_str().unwrap(),
        "--labels",
        "1=roi",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(line.contains("cut.nii.gz"), "{line}");
    let words: Vec<&str> = line.split(": ").collect();
    let mut unique = words.clone();
    unique.dedup();
    assert_eq!(words, unique, "a cause repeated: {line}");
}

/// A legacy converted enhanced PET and DWI (test-data/legacy-converted, made by highdicom from
/// classic series of known values: PS3.3 A.72) keep the classic attributes their converter put in
/// no functional group in the Unassigned Shared / Per-Frame Converted Attributes Sequences. The
/// SUV is read from there: the factor is the QIBA formula by hand (70 kg, 370 MBq F-18 injected
/// 1 h before the series start, decay-corrected to it), the SUV volume holds every stored value ×
/// slope 2 × factor, and the DWI's b-values and gradient are those of its classic images.
/// Before, the PET had no Units ('""') and so no SUV, and the DWI no .bval/.bvec.
#[test]
fn legacy_converted_enhanced_images_keep_suv_and_b_values() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/legacy-converted");
    let o = ancilla_ok(&["suv", root.join("pet").to_str().unwrap()]);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let factor = 70_000.0 / (370e6 * 2f64.powf(-3600.0 / 6586.2));
    let got = r["suvbw_factor"].as_f64().unwrap();
    assert!((got - factor).abs() <= 1e-9 * factor, "{got} vs {factor}");

    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("nifti");
    support::convert(&root, &out);
    let suv =
        ancilla::volume::nifti_io::read_volume(&out.join("S001/103_pt_pet_suvbw.nii.gz")).unwrap();
    assert_eq!(suv.dims(), [3, 8, 8]);
    let mut got: Vec<f64> = suv.data.iter().map(|&v| f64::from(v)).collect();
    let mut expect: Vec<f64> = (0..3)
        .flat_map(|k| (0..8).flat_map(move |r| (0..8).map(move |c| 100 * k + 10 * r + c)))
        .map(|v| f64::from(v) * 2.0 * factor)
        .collect();
    got.sort_by(f64::total_cmp);
    expect.sort_by(f64::total_cmp);
    for (g, e) in got.iter().zip(&expect) {
        assert!((g - e).abs() <= 1e-5 * e.max(1e-3), "{g} vs {e}");
    }
    let bval = std::fs::read_to_string(out.join("S001/106_mr_dwi.bval")).unwrap();
    assert_eq!(bval.split_whitespace().collect::<Vec<_>>(), ["0", "800"]);
    let bvec = std::fs::read_to_string(out.join("S001/106_mr_dwi.bvec")).unwrap();
    let first_axis: Vec<&str> = bvec.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(first_axis.len(), 2);
    assert_eq!(first_axis[0], "0");
    assert_eq!(first_axis[1].trim_start_matches('-'), "1", "{bvec}");
}

/// An RTSTRUCT drawn by rt-utils (test-data/rtstruct-rt-utils): its contours pass through the
/// centres of each mask's boundary voxels, around a hole too, with one- and two-point contours
/// for a lone voxel and a line. Each ROI holds exactly the mask rt-utils was given: its voxel
/// count (the approximate volume, 1.28 mm³ a voxel) and the mean of voxel values that encode
/// their position, as the fixture's script printed them. Before, only centres inside by the
/// crossing count were in: the ellipsoid had 110 voxels of 138 (−20%), the ring 21 of 40, and
/// the lone voxel and the line none ("mark no voxel of the image").
#[test]
fn an_rt_utils_rtstruct_holds_the_voxels_it_was_drawn_from() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/rtstruct-rt-utils");
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("f.csv");
    ancilla_ok(&[
        "features",
        "--image",
        root.join("mr").to_str().unwrap(),
        "--mask",
        root.join("rtstruct.dcm").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_regions_hold(
        &std::fs::read_to_string(&out).unwrap(),
        &[
            ("blob", 138.0, 105228.0),
            ("ring", 40.0, 45120.0),
            ("dot", 1.0, 450.0),
            ("line", 4.0, 862.0),
        ],
    );
}

/// `ancilla features` of the position-coded MR series (test-data/rtstruct-rt-utils/mr) on the
/// regions of `mask`.
fn features_on_position_coded_mr(mask: &Path) -> std::process::Output {
    let series = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/rtstruct-rt-utils/mr");
    ancilla(&[
        "features",
        "--image",
        series.to_str().unwrap(),
        "--mask",
        mask.to_str().unwrap(),
    ])
}

/// The scan records, for a SEG or RTSTRUCT drawn on the position-coded MR series
/// (test-data/rtstruct-rt-utils/mr), that series' UID as the one it was drawn on.
fn assert_scan_reads_the_series_reference(object: &Path) {
    let series = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/rtstruct-rt-utils/mr");
    let inv = ancilla::ingest::scan_paths(&[object.to_path_buf()]).unwrap();
    let image = ancilla::ingest::scan_paths(&[series]).unwrap();
    assert_eq!(
        &*inv.series[0].files[0].referenced_series,
        [image.series[0].series_uid.clone()]
    );
}

/// `features` refused the ROI object as drawn in another patient space.
fn assert_refused_as_another_patient_space(o: &std::process::Output) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("FrameOfReferenceUID (0020,0052) differs"),
        "{err}"
    );
}

/// Each (region, voxel count, sum of its voxels' values) of `expected` against the features
/// table `text` of an image of 1.28 mm³ voxels whose values code their positions
/// (test-data/rtstruct-rt-utils/mr): the approximate volume and the mean say which voxels a
/// region holds.
fn assert_regions_hold(text: &str, expected: &[(&str, f64, f64)]) {
    let rows = feature_values(text);
    let value = |roi: &str, feature: &str| -> f64 {
        rows.iter()
            .find(|(r, f, _)| r == roi && f == feature)
            .unwrap_or_else(|| panic!("{roi} {feature}: no row"))
            .2
    };
    for &(roi, voxels, sum) in expected {
        let volume = value(roi, "morph_vol_approx");
        assert!((volume - voxels * 1.28).abs() < 1e-9, "{roi}: {volume} mm3");
        let mean = value(roi, "stat_mean");
        assert!((mean - sum / voxels).abs() < 1e-9, "{roi}: mean {mean}");
    }
}

/// A DICOM SEG written by pydicom-seg 0.4.1 (test-data/seg-pydicom-seg) carries a new
/// FrameOfReferenceUID, not the one of the series it was drawn on, and names that series in its
/// ReferencedSeriesSequence. It is taken as drawn on the series, and said so; each segment holds
/// the voxels it was made from (count and mean of position-coding values, as the fixture's script
/// printed them). The same SEG without the reference is refused as of another patient space.
/// Before, every pydicom-seg SEG was refused so.
#[test]
fn a_seg_of_another_frame_of_reference_that_references_the_series_is_taken() {
    use dicom_dictionary_std::tags;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data");
    let series = root.join("rtstruct-rt-utils/mr");
    let seg = root.join("seg-pydicom-seg/seg.dcm");
    let features = features_on_position_coded_mr;
    let o = features(&seg);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(
            "the DICOM SEG's FrameOfReferenceUID is not the image's, but it names the \
                      image's series as the one it was drawn on: taken as drawn on it"
        ),
        "{err}"
    );
    assert_regions_hold(
        &String::from_utf8_lossy(&o.stdout),
        &[
            ("box", 105.0, 61110.0),
            ("bar", 8.0, 9788.0),
            ("dot", 1.0, 141.0),
        ],
    );
    // The scan reads the reference, for the pipeline's choice of a series' ROI object.
    assert_scan_reads_the_series_reference(&seg);
    // And `scan` names the series it outlines.
    let o = ancilla(&["scan", series.to_str().unwrap(), seg.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.lines()
            .any(|l| l.contains(" SEG ") && l.ends_with("(ROIs for series 2 (MR t2))")),
        "{out}"
    );
    // Without the reference: another patient space, refused.
    let d = tempfile::tempdir().unwrap();
    let cut = d.path().join("seg.dcm");
    let mut obj = dicom_object::open_file(&seg).unwrap();
    obj.remove_element(tags::REFERENCED_SERIES_SEQUENCE);
    obj.write_to_file(&cut).unwrap();
    assert_refused_as_another_patient_space(&features(&cut));
}

/// An RTSTRUCT drawn by plastimatch (test-data/rtstruct-plastimatch) on the series of
/// test-data/rtstruct-rt-utils/mr, where no structure has planes on two adjacent slices: `pair`
/// two squares on slices 1 and 4, `spot` one on slice 4. It names the series it was drawn on
/// (RTReferencedSeriesSequence), so each plane holds its own slice: the voxel counts and value
/// sums the fixture's script printed. Before, the set was read as contoured every third slice and
/// each plane filled a slice either side (3 times the voxels). Without the reference, or with
/// another series named beside the image's, that is still how it is read; with another frame of
/// reference, the reference still makes it the image's (and it is said), and without both it is
/// refused.
#[test]
fn an_rtstruct_that_names_the_series_holds_each_plane_to_its_own_slice() {
    use dicom_core::ops::AttributeSelector;
    use dicom_dictionary_std::tags;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data");
    let rtss = root.join("rtstruct-plastimatch/rtss.dcm");
    let features = features_on_position_coded_mr;
    let o = features(&rtss);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let drawn = [("pair", 18.0, 13806.0), ("spot", 4.0, 4782.0)];
    assert_regions_hold(&String::from_utf8_lossy(&o.stdout), &drawn);
    // The scan reads the reference, for the pipeline's choice of a series' ROI object.
    assert_scan_reads_the_series_reference(&rtss);
    let d = tempfile::tempdir().unwrap();
    let variant = |name: &str, edit: &dyn Fn(&mut dicom_object::DefaultDicomObject)| {
        let mut obj = dicom_object::open_file(&rtss).unwrap();
        edit(&mut obj);
        let path = d.path().join(name);
        obj.write_to_file(&path).unwrap();
        path
    };
    let no_series = |obj: &mut dicom_object::DefaultDicomObject| {
        let at: AttributeSelector = (
            tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE,
            0,
            tags::RT_REFERENCED_STUDY_SEQUENCE,
        )
            .into();
        obj.update_value_at(at, |v| v.items_mut().unwrap().clear())
            .unwrap();
    };
    let other_frame = |obj: &mut dicom_object::DefaultDicomObject| {
        let uid = |v: &mut dicom_core::value::Value<_, _>| {
            *v = dicom_core::value::Value::from(dicom_core::dicom_value!(Str, "2.25.7"))
        };
        let at: AttributeSelector = (
            tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE,
            0,
            tags::FRAME_OF_REFERENCE_UID,
        )
            .into();
        obj.update_value_at(at, uid).unwrap();
        for i in 0..2 {
            let at: AttributeSelector = (
                tags::STRUCTURE_SET_ROI_SEQUENCE,
                i,
                tags::REFERENCED_FRAME_OF_REFERENCE_UID,
            )
                .into();
            obj.update_value_at(at, uid).unwrap();
        }
    };
    // Without the reference, or naming another series beside the image's (the contours may be
    // on that one's slices): a set contoured every third slice, each plane one slice either side.
    let another_series = |obj: &mut dicom_object::DefaultDicomObject| {
        let at: AttributeSelector = (
            tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE,
            0,
            tags::RT_REFERENCED_STUDY_SEQUENCE,
            0,
            tags::RT_REFERENCED_SERIES_SEQUENCE,
        )
            .into();
        obj.update_value_at(at, |v| {
            let items = v.items_mut().unwrap();
            let mut other = items[0].clone();
            other.put(dicom_core::DataElement::new(
                tags::SERIES_INSTANCE_UID,
                dicom_core::VR::UI,
                dicom_core::PrimitiveValue::from("2.25.8"),
            ));
            items.push(other);
        })
        .unwrap();
    };
    for (name, edit) in [
        (
            "no-series.dcm",
            &no_series as &dyn Fn(&mut dicom_object::DefaultDicomObject),
        ),
        ("two-series.dcm", &another_series),
    ] {
        let o = features(&variant(name, edit));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_regions_hold(
            &String::from_utf8_lossy(&o.stdout),
            &[("pair", 54.0, 3.0 * 13806.0), ("spot", 12.0, 3.0 * 4782.0)],
        );
    }
    // Another frame of reference, the series named: taken, and said.
    let o = features(&variant("other-frame.dcm", &other_frame));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(
            "the RTSTRUCT's FrameOfReferenceUID is not the image's, but it names the image's \
             series as the one it was drawn on"
        ),
        "{err}"
    );
    assert_regions_hold(&String::from_utf8_lossy(&o.stdout), &drawn);
    // Neither: another patient space, refused.
    assert_refused_as_another_patient_space(&features(&variant("neither.dcm", &|obj| {
        no_series(obj);
        other_frame(obj);
    })));
}

/// The classic images' private attributes, which a legacy converted enhanced PET keeps in its
/// Unassigned Shared Converted Attributes item (test-data/legacy-converted, by highdicom), are read
/// there. GE-style, a reprocessed series (SeriesTime 13:00 after its 11:00 acquisition): the
/// reference is GE's private (0009,100D), 11:00, so the factor is the QIBA formula by hand for
/// 1 h of decay. Before, it was back-computed from FrameReferenceTime 0 of a 120 s frame, about
/// 60 s later: 0.63% off. Philips-style, Units CNTS: the SUV scale factor (7053,1000), 0.000321.
/// Before, the SUV was refused as missing it.
#[test]
fn legacy_converted_pet_keeps_its_private_suv_attributes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/legacy-converted");
    let suv = |name: &str| -> Value {
        let o = ancilla_ok(&["suv", root.join(name).to_str().unwrap()]);
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let ge = suv("pet-ge");
    let factor = 70_000.0 / (370e6 * 2f64.powf(-3600.0 / 6586.2));
    let got = ge["suvbw_factor"].as_f64().unwrap();
    assert!((got - factor).abs() <= 1e-9 * factor, "{got} vs {factor}");
    assert_eq!(
        ge["reference_time_source"],
        "GE private (0009,100D) GEMS_PETD_01"
    );
    let philips = suv("pet-philips");
    assert_eq!(philips["suvbw_factor"].as_f64(), Some(0.000321));
    assert_eq!(
        philips["units_path"],
        "CNTS × Philips SUV scale factor (7053,1000)"
    );
}

/// The PET series of the first subject of `vendor_style` (Siemens, Ge, Philips) in a phantom
/// cohort of four subjects of `seed`, written into `dir`.
fn phantom_pet(dir: &Path, seed: &str, vendor_style: &str) -> ancilla::ingest::Series {
    phantom(dir, "4", seed, &[]);
    let truth = ground_truth(dir);
    let subject = truth["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["vendor_style"] == vendor_style)
        .unwrap_or_else(|| panic!("seed {seed} has a {vendor_style}-style subject"));
    let id = subject["patient_id"].as_str().unwrap();
    let inv = ancilla::ingest::scan_paths(&[dir.join("site-export")]).unwrap();
    inv.series
        .into_iter()
        .find(|s| s.patient_id == id && s.modality == "PT")
        .unwrap()
}

/// A Siemens-style phantom PET rewritten as two beds without decay correction (DecayCorrection
/// NONE, CorrectedImage ATTN): the upper half of the slices acquired at the series' time, the
/// lower half 180 s later, 180 s frames. Each slice's SUV / activity ratio is its bed's factor,
/// and the two factors differ by the decay between the beds, 2^(180 s / T½), the half-life read
/// from the files. Before, every slice took the first bed's factor.
#[test]
fn decay_correction_none_scales_each_bed_by_its_own_factor() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let pet = phantom_pet(dir, "9", "Siemens");
    let z_of = |o: &dicom_object::DefaultDicomObject| -> f64 {
        let ipp = o.element(tags::IMAGE_POSITION_PATIENT).unwrap();
        ipp.to_multi_float64().unwrap()[2]
    };
    let objs: Vec<_> = pet
        .files
        .iter()
        .map(|f| dicom_object::open_file(&f.path).unwrap())
        .collect();
    let mut zs: Vec<f64> = objs.iter().map(z_of).collect();
    zs.sort_by(f64::total_cmp);
    let split = zs[zs.len() / 2];
    let half_life = objs[0]
        .element(tags::RADIOPHARMACEUTICAL_INFORMATION_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()[0]
        .element(tags::RADIONUCLIDE_HALF_LIFE)
        .unwrap()
        .to_float64()
        .unwrap();
    let later = |t: &str| {
        let s: u32 = t[..2].parse::<u32>().unwrap() * 3600
            + t[2..4].parse::<u32>().unwrap() * 60
            + t[4..6].parse::<u32>().unwrap()
            + 180;
        format!("{:02}{:02}{:02}", s / 3600, s / 60 % 60, s % 60)
    };
    let beds = dir.join("beds");
    std::fs::create_dir_all(&beds).unwrap();
    for (n, mut o) in objs.into_iter().enumerate() {
        let t0 = o
            .element(tags::ACQUISITION_TIME)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let t = if z_of(&o) >= split {
            t0[..6].to_string()
        } else {
            later(&t0)
        };
        let mut put = |tag, vr, v: &str| o.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
        put(tags::DECAY_CORRECTION, VR::CS, "NONE");
        put(tags::CORRECTED_IMAGE, VR::CS, "ATTN");
        put(tags::ACQUISITION_TIME, VR::TM, &t);
        put(tags::ACTUAL_FRAME_DURATION, VR::IS, "180000");
        o.remove_element(tags::ACQUISITION_DATE_TIME);
        o.write_to_file(beds.join(format!("{n:03}.dcm"))).unwrap();
    }
    let out = dir.join("nifti");
    support::convert(&beds, &out);
    let find = |suffix: &str| {
        support::all_files(&out)
            .into_iter()
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .unwrap_or_else(|| panic!("no {suffix}"))
    };
    let suv_path = find("_suvbw.nii.gz");
    let act_path = std::path::PathBuf::from(
        suv_path
            .to_string_lossy()
            .replace("_suvbw.nii.gz", ".nii.gz"),
    );
    let side: Value = serde_json::from_str(
        &std::fs::read_to_string(act_path.with_extension("").with_extension("json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        side["SUV"]["frame_factors"].as_array().unwrap().len(),
        2,
        "{side}"
    );
    let suv = ancilla::volume::nifti_io::read_volume(&suv_path).unwrap();
    let act = ancilla::volume::nifti_io::read_volume(&act_path).unwrap();
    let (mut upper, mut lower) = (Vec::new(), Vec::new());
    for k in 0..act.data.shape()[0] {
        let ((j, i), a) = act
            .data
            .index_axis(ndarray::Axis(0), k)
            .indexed_iter()
            .max_by(|x, y| x.1.total_cmp(y.1))
            .map(|(ix, v)| (ix, *v))
            .unwrap();
        if a <= 0.0 {
            continue;
        }
        let ratio = suv.data[[k, j, i]] as f64 / a as f64;
        let z = act.geometry.world(0.0, 0.0, k as f64)[2];
        if z >= split - 1e-3 {
            upper.push(ratio)
        } else {
            lower.push(ratio)
        }
    }
    assert!(!upper.is_empty() && !lower.is_empty());
    let expect = (180.0 / half_life).exp2();
    // float32 voxels: ratios to 1e-6.
    for u in &upper {
        assert!((u / upper[0] - 1.0).abs() < 1e-6, "{u} vs {}", upper[0]);
    }
    for l in &lower {
        assert!(
            (l / upper[0] - expect).abs() < 1e-5,
            "{l} / {} vs {expect}",
            upper[0]
        );
    }
}

/// The phantom's GE-style PET is a reprocessed series (SeriesTime 2 h after its acquisition),
/// whose reference ancilla reads from GE's private (0009,100D). Without that private block (a
/// release without the Retain Safe Private option, or a converter that drops it) QIBA's route
/// back-computes the reference from the acquisition time, the decay-averaged frame time and
/// FrameReferenceTime. The phantom wrote FrameReferenceTime 0 for its 120 s frame, which put that
/// reference 60 s late: the factor 0.6% (F-18) to 1% (Ga-68) off. Both routes must now give one factor.
#[test]
fn a_reprocessed_phantom_pet_gives_one_factor_with_or_without_ges_private_reference() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let pet = phantom_pet(dir, "3", "Ge");
    let (with, without) = (dir.join("with"), dir.join("without"));
    for folder in [&with, &without] {
        std::fs::create_dir_all(folder).unwrap();
    }
    for (n, f) in pet.files.iter().enumerate() {
        let mut o = dicom_object::open_file(&f.path).unwrap();
        o.write_to_file(with.join(format!("{n:03}.dcm"))).unwrap();
        let private: Vec<_> = o
            .iter()
            .map(|e| e.header().tag)
            .filter(|t| t.group() == 0x0009)
            .collect();
        assert!(
            !private.is_empty(),
            "the GE-style PET has its private block"
        );
        for t in private {
            o.remove_element(t);
        }
        o.write_to_file(without.join(format!("{n:03}.dcm")))
            .unwrap();
    }
    let suv = |folder: &Path| -> Value {
        let o = ancilla_ok(&["suv", folder.to_str().unwrap()]);
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let (a, b) = (suv(&with), suv(&without));
    assert_eq!(
        a["reference_time_source"],
        "GE private (0009,100D) GEMS_PETD_01"
    );
    assert!(
        b["reference_time_source"]
            .as_str()
            .unwrap()
            .contains("FrameReferenceTime"),
        "{b}"
    );
    let (fa, fb) = (
        a["suvbw_factor"].as_f64().unwrap(),
        b["suvbw_factor"].as_f64().unwrap(),
    );
    // FrameReferenceTime is written to the microsecond: the routes meet to 1e-8.
    assert!((fb / fa - 1.0).abs() < 1e-8, "{fb} vs {fa}");
}

/// Regression: a SEG whose frame positions stay on a regular grid but span 65,536 planes (frames
/// at 30, 30.01, 35 and 685.35 mm) asked for a grid of 65,536 × 512 × 512 a segment: 137 GB for
/// the two segments, an allocation whose failure aborts the process. Refused with the reason.
#[test]
fn a_seg_whose_grid_would_not_fit_in_memory_is_refused() {
    use dicom_core::ops::AttributeSelector;
    use dicom_core::value::Value as DicomValue;
    use dicom_core::{dicom_value, DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/seg-highdicom");
    let mut obj = dicom_object::open_file(root.join("seg_binary.dcm")).unwrap();
    obj.put(DataElement::new(
        tags::ROWS,
        VR::US,
        PrimitiveValue::from(512u16),
    ));
    obj.put(DataElement::new(
        tags::COLUMNS,
        VR::US,
        PrimitiveValue::from(512u16),
    ));
    // Four frames of 512 × 512 one-bit pixels.
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::from(vec![0u8; 4 * 512 * 512 / 8]),
    ));
    for (i, z) in [30.0, 30.01, 35.0, 685.35].iter().enumerate() {
        let at: AttributeSelector = (
            tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
            i as u32,
            tags::PLANE_POSITION_SEQUENCE,
            0,
            tags::IMAGE_POSITION_PATIENT,
        )
            .into();
        obj.update_value_at(at, |v| {
            *v = DicomValue::from(dicom_value!(F64, [10.0, -20.0, *z]))
        })
        .unwrap();
    }
    let d = tempfile::tempdir().unwrap();
    let seg = d.path().join("seg.dcm");
    obj.write_to_file(&seg).unwrap();
    let err = ancilla::roi::load_rois(&fixture_ct(), None, &seg)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("grid holds at most 2^28 voxels"), "{err}");
}

/// A scanner ADC map in mm²/s (RescaleSlope 1e-6: 0.0015 for 1.5 × 10⁻³ mm²/s), converted by
/// dcm2niix under its name (`7_ep2d_diff_ADC.nii.gz`, sidecar Modality MR, ImageType ...ADC):
/// `features` names it adc (by the name's ending in any case, or the sidecar's ImageType), its
/// modality mr, and reports it in 10⁻⁶ mm²/s, scaled and said so. Regression (an MR physicist's
/// audit): `image`, `a.u.`, no modality; and a map in mm²/s was reported as 0.0015 "1e-6 mm2/s".
#[test]
fn an_adc_map_in_mm2_per_s_is_named_adc_and_scaled_to_millionths() {
    use ancilla::volume::{nifti_io, Geometry, Volume};
    let d = tempfile::tempdir().unwrap();
    let meta = nifti_io::NiftiMeta::default();
    let geometry = Geometry::axial([0.0; 3], [2.0, 2.0, 4.0]);
    let image = Volume {
        data: ndarray::Array3::from_elem((3, 4, 5), 0.0015f32),
        geometry: geometry.clone(),
    };
    let mask = Volume {
        data: ndarray::Array3::from_elem((3, 4, 5), 1.0f32),
        geometry,
    };
    for (name, sidecar) in [
        ("7_ep2d_diff_ADC", r#"{"Modality": "MR"}"#),
        (
            "7_ep2d_diff",
            r#"{"Modality": "MR", "ImageType": ["DERIVED", "PRIMARY", "DIFFUSION", "ADC"]}"#,
        ),
    ] {
        let path = d.path().join(format!("{name}.nii.gz"));
        nifti_io::write_volume(&image, &path, &meta).unwrap();
        std::fs::write(d.path().join(format!("{name}.json")), sidecar).unwrap();
        let mask_path = d.path().join("mask.nii.gz");
        nifti_io::write_volume(&mask, &mask_path, &meta).unwrap();
        let o = ancilla_ok(&[
            "features",
            "--image",
            path.to_str().unwrap(),
            "--mask",
            mask_path.to_str().unwrap(),
            "--labels",
            "1=tumor",
        ]);
        let text = String::from_utf8_lossy(&o.stdout);
        let mean = text
            .lines()
            .find(|l| l.contains(",stat_mean,"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(
            mean.starts_with(",mr,,adc,tumor,stat_mean,"),
            "{name}: {mean}"
        );
        let fields: Vec<&str> = mean.split(',').collect();
        let value: f64 = fields[6].parse().unwrap();
        assert!((value - 1500.0).abs() < 0.01, "{name}: {mean}");
        assert_eq!(fields[7], "1e-6 mm2/s");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            stderr.contains("read as mm²/s and scaled by 1e+06 to 10⁻⁶ mm²/s"),
            "{stderr}"
        );
    }
}

/// `features` refuses what it cannot measure, with the reason and exit 1: a colour NIfTI (RGB24,
/// as convert writes a colour series) as image or mask — the nifti crate's reader panicked on it,
/// exit 101 — and a NIfTI without a position in patient space (qform and sform codes 0, as
/// convert writes a series without ImageOrientationPatient), which was measured, its mask
/// resampled by a placement invented from pixdim (a robustness audit).
#[test]
fn features_refuses_colour_and_unplaced_nifti_images() {
    let d = tempfile::tempdir().unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let colour_dir = d.path().join("colour");
    convert(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/colour-jpeg"),
        &colour_dir,
    );
    let colour = all_files(&colour_dir)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(".nii.gz"))
        .unwrap();
    let o = ancilla(&["features", "--image", &s(&colour), "--mask", &s(&colour)]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("datatype 128 (RGB24) is not a grey-level image"),
        "{stderr}"
    );

    // Two slices without an orientation (six zeros): converted unplaced.
    let series = d.path().join("unplaced");
    let slices: Vec<Slice> = (0..2)
        .map(|k| {
            let mut sl = Slice::new("1.2.3.93", [0.0, 0.0, 2.0 * k as f64], vec![100; 20]);
            sl.iop = [0.0; 6];
            sl.instance = k + 1;
            sl
        })
        .collect();
    write_series(&series, &slices);
    let nifti = d.path().join("unplaced-nifti");
    convert(&series, &nifti);
    let image = all_files(&nifti)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(".nii.gz"))
        .unwrap();
    let o = ancilla(&["features", "--image", &s(&image), "--mask", &s(&image)]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no position in patient space"), "{stderr}");
}

/// A NIfTI named SUV (`_suvbw`) whose values no tissue's SUV comes near (a Bq/mL file renamed,
/// its sidecar lost) is measured as named, with a warning (a robustness audit: SUVmax 13,568
/// without a word); an SUV image of ordinary values is not warned about.
#[test]
fn an_suv_image_of_activity_values_is_warned_about() {
    use ancilla::volume::{nifti_io, Geometry, Volume};
    let d = tempfile::tempdir().unwrap();
    let meta = nifti_io::NiftiMeta::default();
    let geometry = Geometry::axial([0.0; 3], [2.0, 2.0, 4.0]);
    let mask = d.path().join("mask.nii.gz");
    nifti_io::write_volume(
        &Volume {
            data: ndarray::Array3::from_elem((3, 4, 5), 1.0f32),
            geometry: geometry.clone(),
        },
        &mask,
        &meta,
    )
    .unwrap();
    for (value, warned) in [(13_568.0f32, true), (12.5, false)] {
        let image = d.path().join("pet_suvbw.nii.gz");
        nifti_io::write_volume(
            &Volume {
                data: ndarray::Array3::from_elem((3, 4, 5), value),
                geometry: geometry.clone(),
            },
            &image,
            &meta,
        )
        .unwrap();
        let o = ancilla_ok(&[
            "features",
            "--image",
            image.to_str().unwrap(),
            "--mask",
            mask.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            stderr.contains("is named SUV but holds values up to 13568"),
            warned,
            "{value}: {stderr}"
        );
    }
}

/// `ancilla features` with its address space limited to 768 MiB (as `ulimit -v` or a Slurm
/// job's memory limit does): a memory budget of 384 MiB for one region. Expected needs from the
/// sizes alone: a 128 × 128 × 80 block's Moran's I and Geary's C take FFT grids of 256 × 256 ×
/// 160 points of 32 bytes (0.34 GB) beside 0.13 GB for its other features: measured without
/// them, said; a 170³ block's other features alone take 0.47 GB: not measured, said; 1000
/// labels strewn over an 80³ grid need 0.51 GB of masks (each label's box is the grid): the
/// label map is refused with the reason. Regressions: the first was measured whole, the others
/// aborted the process (exit 134, "memory allocation of ... bytes failed"), the batch with it.
#[test]
fn regions_beyond_the_memory_budget_are_measured_in_part_or_refused_with_the_reason() {
    use ancilla::volume::{nifti_io, Geometry, Volume};
    use std::os::unix::process::CommandExt;
    let d = tempfile::tempdir().unwrap();
    let meta = nifti_io::NiftiMeta::default();
    let write = |name: &str, data: ndarray::Array3<f32>| {
        let path = d.path().join(name);
        let geometry = Geometry::axial([0.0; 3], [2.0, 2.0, 2.0]);
        nifti_io::write_volume(&Volume { data, geometry }, &path, &meta).unwrap();
        path
    };
    let limited = |image: &Path, mask: &Path| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ancilla"));
        cmd.args(["features", "--image", image.to_str().unwrap()]);
        cmd.args(["--mask", mask.to_str().unwrap()]);
        // SAFETY: setrlimit is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: 768 << 20,
                    rlim_max: 768 << 20,
                };
                libc::setrlimit(libc::RLIMIT_AS, &limit);
                Ok(())
            });
        }
        let o = cmd.output().unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (o.status.code(), text(&o.stdout), text(&o.stderr))
    };
    let texture = |(k, j, i): (usize, usize, usize)| ((k * 7 + j * 3 + i) % 11) as f32;
    // A block of `dims` voxels, all one region, measured under the limit.
    let block = |name: &str, dims: (usize, usize, usize)| {
        let image = write(
            &format!("{name}.nii"),
            ndarray::Array3::from_shape_fn(dims, texture),
        );
        let mask = write(
            &format!("{name}_mask.nii"),
            ndarray::Array3::from_elem(dims, 1.0),
        );
        limited(&image, &mask)
    };
    let (code, table, stderr) = block("a", (80, 128, 128));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "label 1 of the NIfTI label map is measured without Moran's I and Geary's C: over \
             its 128 × 128 × 80 box their FFTs need about 0.34 GB and its other features 0.13 \
             GB, together more than the 0.40 GB one region may take here"
        ),
        "{stderr}"
    );
    assert!(!table.contains("morph_moran_i") && !table.contains("morph_geary_c"));
    // The rest is measured: the voxel count times 8 mm³.
    let volume = feature_values(&table)
        .into_iter()
        .find(|(_, f, _)| f == "morph_vol_approx")
        .map(|(_, _, v)| v);
    let expected = 80.0 * 128.0 * 128.0 * 8.0;
    assert!(
        volume.is_some_and(|v| (v / expected - 1.0).abs() < 1e-9),
        "{volume:?}"
    );

    let (code, table, stderr) = block("b", (170, 170, 170));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "label 1 of the NIfTI label map is not measured: its 170 × 170 × 170 box needs about \
             0.47 GB, more than the 0.40 GB"
        ),
        "{stderr}"
    );
    assert!(feature_values(&table).is_empty(), "{table}");

    // Labels 1..=1000 strewn over the grid (SplitMix64 of the voxel's index: every label's box
    // is the whole grid).
    let strewn = ndarray::Array3::from_shape_fn((80, 80, 80), |(k, j, i)| {
        let mut x = ((k * 80 + j) * 80 + i) as u64 + 0x9E37_79B9_7F4A_7C15;
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((x ^ (x >> 31)) % 1000 + 1) as f32
    });
    let image = write(
        "c.nii",
        ndarray::Array3::from_shape_fn((80, 80, 80), texture),
    );
    let mask = write("c_mask.nii", strewn);
    let (code, _, stderr) = limited(&image, &mask);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "the label map's 1000 regions need about 0.5 GB for their masks (each over its \
             bounding box), more than the 0.4 GB this process may give them"
        ),
        "{stderr}"
    );
    // Named in a table, one of them is measured; the 999 others are counted, eight named (all
    // 999 were listed: a review).
    let o = ancilla(&[
        "features",
        "--image",
        image.to_str().unwrap(),
        "--mask",
        mask.to_str().unwrap(),
        "--labels",
        "1=tumor",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success()
            && stderr.contains("labels 2, 3, 4, 5, 6, 7, 8, 9 and 991 more are not in --labels"),
        "{stderr}"
    );
}

/// Regression (an audit against dcm2niix): a dynamic PET (two time frames of three slices, one
/// 4D file) gave no SUVbw file and said nothing. Its frames are decay corrected to one reference
/// (DecayCorrection START): one 4D SUVbw file, each frame its stored values × slope × the QIBA
/// factor computed here by hand (70 kg, 370 MBq F-18 injected at 09:00, series start 10:00).
#[test]
fn a_dynamic_pet_gives_a_4d_suvbw_file() {
    use dicom_core::value::{DataSetSequence, PrimitiveValue};
    use dicom_core::{DataElement, Length, VR};
    use dicom_dictionary_std::{tags, uids};
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let series = "1.2.826.0.1.3680043.10.999.77";
    let stored = |f: i32, k: i32, i: i32| 100 * f + 10 * k + i;
    for f in 0..2 {
        for k in 0..3 {
            let mut s = Slice::new(
                series,
                [0.0, 0.0, 4.0 * f64::from(k)],
                (0..20).map(|i| stored(f, k, i)).collect(),
            );
            s.modality = "PT";
            s.slope = 0.5;
            s.instance = f * 3 + k + 1;
            let text = |t, vr, v: &str| (t, vr, v.to_string());
            s.extra = vec![
                text(tags::UNITS, VR::CS, "BQML"),
                text(tags::DECAY_CORRECTION, VR::CS, "START"),
                text(tags::CORRECTED_IMAGE, VR::CS, "ATTN\\DECY"),
                text(tags::PATIENT_WEIGHT, VR::DS, "70"),
                text(tags::SERIES_DATE, VR::DA, "20240101"),
                text(tags::SERIES_TIME, VR::TM, "100000"),
                text(tags::ACQUISITION_DATE, VR::DA, "20240101"),
                text(
                    tags::ACQUISITION_TIME,
                    VR::TM,
                    ["100000", "100100"][f as usize],
                ),
                text(tags::ACTUAL_FRAME_DURATION, VR::IS, "60000"),
                text(
                    tags::FRAME_REFERENCE_TIME,
                    VR::DS,
                    ["30000", "90000"][f as usize],
                ),
            ];
            let uid = format!("{series}.{}", f * 3 + k + 1);
            let mut obj = support::slice_object(&s, &uid);
            let mut drug = dicom_object::InMemDicomObject::new_empty();
            for (tag, vr, v) in [
                (tags::RADIONUCLIDE_TOTAL_DOSE, VR::DS, "370000000"),
                (tags::RADIONUCLIDE_HALF_LIFE, VR::DS, "6586.2"),
                (tags::RADIOPHARMACEUTICAL_START_TIME, VR::TM, "090000"),
            ] {
                drug.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
            }
            obj.put(DataElement::new(
                tags::RADIOPHARMACEUTICAL_INFORMATION_SEQUENCE,
                VR::SQ,
                DataSetSequence::new(vec![drug], Length::UNDEFINED),
            ));
            support::write_object(
                obj,
                &input.join(format!("{uid}.dcm")),
                uids::EXPLICIT_VR_LITTLE_ENDIAN,
            );
        }
    }
    let out = d.path().join("out");
    convert(&input, &out);
    let files = all_files(&out);
    let find = |end: &str| {
        files
            .iter()
            .find(|p| p.to_string_lossy().ends_with(end))
            .unwrap_or_else(|| panic!("no *{end} in {files:?}"))
            .clone()
    };
    use nifti::{IntoNdArray, NiftiObject};
    let suv = nifti::ReaderOptions::new()
        .read_file(find("_pt_pet_suvbw.nii.gz"))
        .unwrap()
        .into_volume()
        .into_ndarray::<f32>()
        .unwrap();
    // x (5 columns), y (4 rows), z (3 slices), t (2 frames), as both sidecars say (they said
    // 3 numbers).
    assert_eq!(suv.shape(), [5, 4, 3, 2]);
    for side in ["_pt_pet.json", "_pt_pet_suvbw.json"] {
        let side: Value =
            serde_json::from_str(&std::fs::read_to_string(find(side)).unwrap()).unwrap();
        assert_eq!(side["Dims"], serde_json::json!([5, 4, 3, 2]));
    }
    let factor = 70_000.0 / (370e6 * 2f64.powf(-3600.0 / 6586.2));
    for f in 0..2 {
        let frame = suv.index_axis(ndarray::Axis(3), f);
        let mut got: Vec<f64> = frame.iter().map(|&v| f64::from(v)).collect();
        let mut expect: Vec<f64> = (0..3)
            .flat_map(|k| (0..20).map(move |i| stored(f as i32, k, i)))
            .map(|v| f64::from(v) * 0.5 * factor)
            .collect();
        got.sort_by(f64::total_cmp);
        expect.sort_by(f64::total_cmp);
        for (g, e) in got.iter().zip(&expect) {
            assert!((g - e).abs() <= 1e-5 * e.max(1e-3), "frame {f}: {g} vs {e}");
        }
    }
}
