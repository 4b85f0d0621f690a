//! `ancilla scan` and the inventory: every file accounted for, one test per rejection reason,
//! enhanced multi-frame, no PHI in the JSON inventory, no panic on damaged files.

mod support;

use std::path::Path;

use ancilla::ingest::{self, RejectReason, SeriesKind};
use ancilla::volume::assemble::{load_series, load_series_dir};
use dicom_core::value::{DataSetSequence, PixelFragmentSequence, Value};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::InMemDicomObject;
use proptest::prelude::*;
use support::*;

fn one_slice_series(dir: &Path, uid: &str) -> Vec<std::path::PathBuf> {
    let slices: Vec<Slice> = (0..3)
        .map(|k| Slice::new(uid, [0.0, 0.0, 2.0 * k as f64], (0..20).collect()))
        .collect();
    write_series(dir, &slices)
}

fn reasons(dir: &Path) -> Vec<RejectReason> {
    let inv = ingest::scan_paths(&[dir.to_path_buf()]).unwrap();
    inv.rejected.into_iter().map(|r| r.reason).collect()
}

#[test]
fn not_dicom_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("notes.txt"),
        "a text file, long enough to hold a preamble ".repeat(10),
    )
    .unwrap();
    std::fs::write(dir.path().join("empty"), b"").unwrap();
    // An empty file is said as such (an audit: it was "no DICM prefix at byte 128 or 0").
    let r = reasons(dir.path());
    assert_eq!(r, [RejectReason::Empty, RejectReason::NotDicom]);
    assert_eq!(r[0].to_string(), "empty file (0 bytes)");
    assert_eq!(r[0].kind(), "empty");
}

/// A transfer syntax dicom-rs does not know (a retired JPEG process, 1.2.840.10008.1.2.4.65) is
/// an unsupported syntax, named; it was counted as "unreadable" (an audit).
#[test]
fn a_syntax_dicom_rs_does_not_know_is_unsupported_and_named() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test-data/transfer-syntaxes/jpeg-baseline/0.dcm");
    let mut bytes = std::fs::read(src).unwrap();
    let (from, to) = (b"1.2.840.10008.1.2.4.50", b"1.2.840.10008.1.2.4.65");
    let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
    bytes[at..at + to.len()].copy_from_slice(to);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("0.dcm"), bytes).unwrap();
    let r = reasons(dir.path());
    assert!(
        matches!(&r[..], [RejectReason::UnsupportedTransferSyntax(d)] if d.contains("1.2.840.10008.1.2.4.65")),
        "{r:?}"
    );
}

/// A compressed archive in the export (a site's ZIP, a gzipped file) is named as such, with what
/// to do, not as "not DICOM".
#[test]
fn archives_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let files = one_slice_series(dir.path(), "1.2.3.34");
    let dicom = std::fs::read(&files[0]).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &dicom).unwrap();
    std::fs::write(dir.path().join("slice.dcm.gz"), gz.finish().unwrap()).unwrap();
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend_from_slice(&[0u8; 200]);
    std::fs::write(dir.path().join("export.zip"), zip).unwrap();
    let mut r: Vec<String> = reasons(dir.path()).iter().map(|r| r.to_string()).collect();
    r.sort();
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(
        r[0].starts_with("a ZIP archive") && r[1].starts_with("a gzip archive"),
        "{r:?}"
    );
    assert!(r[0].contains("unpack it"));
}

/// A data set written without the Part 10 header (ACR-NEMA files, raw exports: no preamble, DICM
/// code or file meta group) is read as dcm2niix reads it: little endian, explicit VR when its
/// first element has a VR, else implicit. A series of such files (one explicit, two implicit)
/// scans and converts to the same NIfTI file and sidecar, byte for byte, as the Part 10 files;
/// so does a series whose file meta groups lack their group length (0002,0000).
#[test]
fn data_set_without_part10_header_is_read_as_dcm2niix_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let (part10, bare) = (dir.path().join("part10"), dir.path().join("bare"));
    let files = one_slice_series(&part10, "1.2.3.31");
    std::fs::create_dir_all(&bare).unwrap();
    let no_length = dir.path().join("no-group-length");
    std::fs::create_dir_all(&no_length).unwrap();
    for f in &files {
        let bytes = without_meta_group_length(&std::fs::read(f).unwrap());
        std::fs::write(no_length.join(f.file_name().unwrap()), bytes).unwrap();
    }
    for (n, f) in files.iter().enumerate() {
        let bytes = if n == 0 {
            std::fs::read(f).unwrap()
        } else {
            // The same data set in implicit VR.
            let obj = dicom_object::open_file(f).unwrap().into_inner();
            let implicit = dir.path().join(format!("implicit_{n}.dcm"));
            write_object(obj, &implicit, uids::IMPLICIT_VR_LITTLE_ENDIAN);
            std::fs::read(&implicit).unwrap()
        };
        let body = without_part10_header(&bytes);
        assert_eq!(&body[..2], [8, 0], "the data set starts with group 0008");
        std::fs::write(bare.join(f.file_name().unwrap()), body).unwrap();
    }
    for input in [&bare, &no_length] {
        assert_eq!(reasons(input), []);
        let inv = ingest::scan_paths(std::slice::from_ref(input)).unwrap();
        assert_eq!(inv.files_used(), 3);
    }
    let (a, b) = (
        dir.path().join("nifti-part10"),
        dir.path().join("nifti-bare"),
    );
    convert(&part10, &a);
    convert(&bare, &b);
    assert_same_trees(&a, &b);
    let c = dir.path().join("nifti-no-group-length");
    convert(&no_length, &c);
    assert_same_trees(&a, &c);
    assert!(
        ingest::walk::walk(std::slice::from_ref(&b))
            .files
            .iter()
            .any(|f| f.to_string_lossy().ends_with(".nii.gz")),
        "a NIfTI file was written"
    );
}

/// A data set written in implicit VR under a meta group that states explicit VR little endian
/// (highdicom 0.1.0 wrote such files; pydicom and dcm2niix read them with a warning) was rejected
/// as "truncated: element (…) declares … bytes", its VR bytes read as a length. It is now read
/// in implicit VR: the series scans and converts to the same NIfTI files, byte for byte, as the
/// well-formed one.
#[test]
fn data_set_in_implicit_vr_under_an_explicit_syntax_is_read() {
    let plain = assert_altered_series_reads_as_plain("1.2.3.34", |bytes| {
        let odd = with_implicit_vr_body(bytes);
        assert!(
            ingest::preflight::check_bytes(&odd)
                .unwrap()
                .implicit_vr_body
        );
        odd
    });
    assert!(
        !ingest::preflight::check_bytes(&plain)
            .unwrap()
            .implicit_vr_body
    );
}

/// A one-slice series whose files go through `alter` scans with every file used and converts
/// to the same NIfTI files, byte for byte, as the unaltered series; the first unaltered file.
fn assert_altered_series_reads_as_plain(uid: &str, alter: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let (plain, odd) = (dir.path().join("plain"), dir.path().join("odd"));
    let files = one_slice_series(&plain, uid);
    std::fs::create_dir_all(&odd).unwrap();
    for f in &files {
        let bytes = alter(&std::fs::read(f).unwrap());
        std::fs::write(odd.join(f.file_name().unwrap()), bytes).unwrap();
    }
    assert_eq!(reasons(&odd), []);
    let inv = ingest::scan_paths(std::slice::from_ref(&odd)).unwrap();
    assert_eq!(inv.files_used(), files.len());
    assert_converts_the_same(&plain, &odd, dir.path());
    std::fs::read(&files[0]).unwrap()
}

/// Regression: a file meta group with a value dicom-rs bounds (a Source Application Entity Title
/// of 18 bytes, from DCMTK 3.5.4 on a GE localizer; pydicom and dcm2niix read it) was rejected
/// as "unreadable DICOM: Could not parse meta group data set". Its data set is now read in the
/// syntax the group states: the series scans and converts to the same NIfTI files, byte for
/// byte, as the well-formed one.
#[test]
fn meta_group_dicom_rs_refuses_is_read_as_it_states() {
    assert_altered_series_reads_as_plain("1.2.3.35", with_long_source_ae_title);
}

/// A private sequence written as UN of undefined length (PS3.5 §6.2.2: a converter that did not
/// know its VR; dicom-rs does not read it) no longer costs the file: the series scans and
/// converts to the same NIfTI file and sidecar, byte for byte, as without it (one file's meta
/// group without its group length as well).
#[test]
fn sequence_of_unknown_vr_is_read_past() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, un) = (dir.path().join("plain"), dir.path().join("un"));
    let files = one_slice_series(&plain, "1.2.3.33");
    std::fs::create_dir_all(&un).unwrap();
    for (n, f) in files.iter().enumerate() {
        let mut bytes = with_unknown_sequence(&std::fs::read(f).unwrap(), "DOE^JANE");
        let layout = ingest::preflight::check_bytes(&bytes).unwrap();
        assert_eq!(layout.unknown_sequences.len(), 1);
        if n == 0 {
            // Without its meta group's length too.
            bytes = without_meta_group_length(&bytes);
        }
        std::fs::write(un.join(f.file_name().unwrap()), bytes).unwrap();
    }
    assert_eq!(reasons(&un), []);
    let inv = ingest::scan_paths(std::slice::from_ref(&un)).unwrap();
    assert_eq!(inv.files_used(), 3);
    let (a, b) = (dir.path().join("nifti-plain"), dir.path().join("nifti-un"));
    convert(&plain, &a);
    convert(&un, &b);
    assert_same_trees(&a, &b);
}

/// A DICOMDIR (a site's CD export holds one) is named as such, not "image object without Pixel
/// Data"; the series beside it is used.
#[test]
fn dicomdir_is_named() {
    let dir = tempfile::tempdir().unwrap();
    one_slice_series(dir.path(), "1.2.3.32");
    write_dicomdir(&dir.path().join("DICOMDIR"), "DOE^JANE");
    let r = reasons(dir.path());
    assert_eq!(r, [RejectReason::Dicomdir]);
    assert!(r[0].to_string().contains("DICOMDIR"));
    let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(inv.files_used(), 3);
}

#[test]
fn truncated_pixel_data_and_truncated_header_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let files = one_slice_series(dir.path(), "1.2.3.30");
    let whole = std::fs::read(&files[0]).unwrap();
    std::fs::write(&files[0], &whole[..whole.len() - 11]).unwrap(); // pixel data cut
    std::fs::write(&files[1], &whole[..300]).unwrap(); // header cut
    let r = reasons(dir.path());
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(
        r.iter().all(|x| matches!(x, RejectReason::Truncated(_))),
        "{r:?}"
    );
    // The batch goes on; the remaining file's series is incomplete, not a one-slice volume
    // (the file cut in its pixels is known to be the series'; the one cut in its header is not).
    let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(inv.series.len(), 1);
    let why = inv.series[0].plan.as_ref().unwrap_err();
    assert!(
        why.starts_with("incomplete: 1 file of the series is truncated"),
        "{why}"
    );
    // The inventory names the subject of the file cut in its pixels (a monitor's audit: a
    // truncated file was traced to no subject), not of the one cut in its header (unknown).
    let doc = ingest::inventory_json(&inv);
    let subjects: Vec<Option<&str>> = doc["rejected_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["subject"].as_str())
        .collect();
    assert_eq!(
        subjects.iter().filter(|s| **s == Some("S001")).count(),
        1,
        "{doc}"
    );
    assert_eq!(subjects.iter().filter(|s| s.is_none()).count(), 1, "{doc}");
}

/// Regression (a core-lab audit): a terminal line that could not be written crashed ancilla:
/// `scan | head` (the reader gone) was an "internal error" (exit 101), and a summary line to a
/// log on a full disk aborted a finished command (exit 134). A reader gone ends the listing
/// quietly; a full disk for the listing is an error (exit 1); for the messages on standard error,
/// nothing.
#[test]
fn a_terminal_line_that_cannot_be_written_fails_nothing() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    phantom(dir.path(), "1", "5", &[]);
    let export = dir.path().join("site-export");
    let bin = env!("CARGO_BIN_EXE_ancilla");
    let mut child = Command::new(bin)
        .args(["scan", export.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(!stderr.contains("internal error"), "{stderr}");
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let o = Command::new(bin)
        .args(["scan", export.to_str().unwrap()])
        .stdout(full())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot write the listing to standard output: No space left on device"),
        "{stderr}"
    );
    let o = Command::new(bin)
        .args([
            "phantom",
            "--out",
            dir.path().join("again").to_str().unwrap(),
            "--subjects",
            "1",
        ])
        .stderr(full())
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", o.status);
}

/// Regression (a core-lab audit): a run started while the export was still being copied stacked
/// the first 28 of a PET's 90 slices as a whole, shorter volume (slices missing at an end leave
/// no gap to find). A PET series with fewer images than NumberOfSlices says is incomplete.
#[test]
fn a_pet_series_short_of_its_number_of_slices_is_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    phantom(dir.path(), "1", "5", &[]);
    let export = dir.path().join("site-export");
    let pet = |inv: &ingest::Inventory| {
        inv.series
            .iter()
            .find(|s| s.modality == "PT" && s.plan.is_ok())
            .map(|s| s.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>())
    };
    let inv = ingest::scan_paths(std::slice::from_ref(&export)).unwrap();
    let files = pet(&inv).expect("a whole PET series");
    let z = |p: &std::path::PathBuf| {
        let obj = dicom_object::open_file(p).unwrap();
        obj.element(tags::IMAGE_POSITION_PATIENT)
            .unwrap()
            .to_multi_float64()
            .unwrap()[2]
    };
    let mut by_z: Vec<(f64, &std::path::PathBuf)> = files.iter().map(|p| (z(p), p)).collect();
    by_z.sort_by(|a, b| a.0.total_cmp(&b.0));
    // The last three slices at the top are not there yet.
    for (_, p) in by_z.iter().rev().take(3) {
        std::fs::remove_file(p).unwrap();
    }
    let inv = ingest::scan_paths(std::slice::from_ref(&export)).unwrap();
    assert!(pet(&inv).is_none());
    let short = inv
        .series
        .iter()
        .find(|s| s.modality == "PT" && s.files.len() == files.len() - 3)
        .unwrap();
    let why = short.plan.as_ref().unwrap_err();
    assert!(
        why.starts_with(&format!(
            "incomplete: {} of the {} images that NumberOfSlices",
            files.len() - 3,
            files.len()
        )),
        "{why}"
    );
}

/// Regression (found by mutating phantom files): Pixel Data longer than the image attributes say
/// was reported as "truncated"; it is trailing padding, read past as dcm2niix and pydicom read
/// past it (pydicom's MR_small_padded.dcm), so the file is used.
#[test]
fn pixel_data_longer_than_the_image_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let files = one_slice_series(dir.path(), "1.2.3.31");
    let mut whole = std::fs::read(&files[0]).unwrap();
    // Pixel Data declared and written 24 bytes longer than Rows × Columns × 2.
    let at = whole
        .windows(4)
        .rposition(|w| w == [0xE0, 0x7F, 0x10, 0x00])
        .unwrap();
    let len = u32::from_le_bytes(whole[at + 8..at + 12].try_into().unwrap());
    whole[at + 8..at + 12].copy_from_slice(&(len + 24).to_le_bytes());
    whole.extend(std::iter::repeat_n(0u8, 24));
    std::fs::write(&files[0], &whole).unwrap();
    let r = reasons(dir.path());
    assert!(r.is_empty(), "{r:?}");
    let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(inv.files_used(), files.len());
}

/// Regression (pydicom's test corpus): a header value declaring about 4 GiB in a small file made
/// the DICOM reader reserve and zero-fill it before failing (3 s of page faults per file, and
/// gigabytes per scan worker). The length is now checked against the file first: the file is
/// rejected as truncated, naming the element, and the rest of the series goes on.
#[test]
fn a_header_value_longer_than_the_file_is_rejected_by_its_element() {
    let dir = tempfile::tempdir().unwrap();
    let files = one_slice_series(dir.path(), "1.2.3.32");
    let s = Slice::new("1.2.3.32", [0.0, 0.0, 6.0], (0..20).collect());
    let mut obj = slice_object(&s, "1.2.3.32.9");
    obj.put(DataElement::new(
        dicom_core::Tag(0x0040, 0xA160),
        VR::UT,
        dicom_core::PrimitiveValue::from("text"),
    ));
    let path = dir.path().join("long.dcm");
    write_object(obj, &path, uids::EXPLICIT_VR_LITTLE_ENDIAN);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(6)
        .position(|w| w == [0x40, 0x00, 0x60, 0xA1, b'U', b'T'])
        .unwrap();
    bytes[at + 8..at + 12].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let r = reasons(dir.path());
    assert_eq!(r.len(), 1, "{r:?}");
    let text = r[0].to_string();
    assert!(
        matches!(r[0], RejectReason::Truncated(_)) && text.contains("(0040,A160)"),
        "{text}"
    );
    // The length itself is not said: a damaged one is four bytes of a value (a PHI audit).
    assert!(
        text.contains("declares a value longer than the") && !text.contains("4294967280"),
        "{text}"
    );
    let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(inv.files_used(), files.len());
}

/// Regression (pydicom's `examples_rgb_color.dcm`): elements after Pixel Data — Data Set
/// Trailing Padding (FFFC,FFFC) here, a digital signature elsewhere — made the file read as "Pixel
/// Data followed by more bytes than the image needs" and rejected. Where Pixel Data is, and how
/// long, now comes from the element walk: the file is used and its voxels are unchanged.
#[test]
fn elements_after_pixel_data_are_no_reason_to_reject() {
    let plain = tempfile::tempdir().unwrap();
    let padded = tempfile::tempdir().unwrap();
    one_slice_series(plain.path(), "1.2.3.34");
    let files = one_slice_series(padded.path(), "1.2.3.34");
    for f in &files {
        let mut bytes = std::fs::read(f).unwrap();
        // (FFFC,FFFC) OB, 6 bytes of padding (explicit VR little endian).
        bytes.extend([0xFC, 0xFF, 0xFC, 0xFF, b'O', b'B', 0, 0, 6, 0, 0, 0]);
        bytes.extend([0u8; 6]);
        std::fs::write(f, &bytes).unwrap();
    }
    assert_eq!(reasons(padded.path()), []);
    let a = load_series_dir(plain.path()).unwrap();
    let b = load_series_dir(padded.path()).unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].volume.data, b[0].volume.data);
}

#[test]
fn image_without_pixel_data_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let s = Slice::new("1.2.3.31", [0.0; 3], (0..20).collect());
    let mut obj = slice_object(&s, "1.2.3.31.1");
    obj.remove_element(tags::PIXEL_DATA);
    write_object(
        obj,
        &dir.path().join("a.dcm"),
        uids::EXPLICIT_VR_LITTLE_ENDIAN,
    );
    assert_eq!(reasons(dir.path()), [RejectReason::NoPixelData]);
}

/// A data set that is no image object at all (DICOMscope's presentation LUT files, Debian
/// `dicomscope`: a PresentationLUTSequence alone, no SOP class in the data set, DCMTK's private
/// class in the meta group) is named so; it was "image object without Pixel Data".
#[test]
fn data_set_that_is_no_image_object_is_named_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut item = InMemDicomObject::new_empty();
    item.put(DataElement::new(
        tags::PRESENTATION_LUT_SHAPE,
        VR::CS,
        PrimitiveValue::from("IDENTITY"),
    ));
    let mut obj = InMemDicomObject::new_empty();
    obj.put(DataElement::new(
        tags::PRESENTATION_LUT_SEQUENCE,
        VR::SQ,
        DataSetSequence::from(vec![item]),
    ));
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
                .media_storage_sop_class_uid("1.2.276.0.7230010.3.1.0.1")
                .media_storage_sop_instance_uid("1.2.3.36"),
        )
        .unwrap();
    file.write_to_file(dir.path().join("lut.dcm")).unwrap();
    assert_eq!(reasons(dir.path()), [RejectReason::NotAnImageObject]);
}

#[test]
fn unsupported_transfer_syntax_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let s = Slice::new("1.2.3.32", [0.0; 3], (0..20).collect());
    let mut obj = slice_object(&s, "1.2.3.32.1");
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        Value::PixelSequence(PixelFragmentSequence::new(
            Vec::<u32>::new(),
            vec![vec![0xFFu8, 0xD8, 0xFF, 0xF7]],
        )),
    ));
    write_object(obj, &dir.path().join("a.dcm"), "1.2.840.10008.1.2.4.201");
    let r = reasons(dir.path());
    match &r[..] {
        [RejectReason::UnsupportedTransferSyntax(why)] => assert!(
            why.contains("1.2.840.10008.1.2.4.201") && why.contains("HTJ2K"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn deflated_explicit_little_endian_is_read() {
    let dir = tempfile::tempdir().unwrap();
    for k in 0..3 {
        let mut s = Slice::new(
            "1.2.3.33",
            [0.0, 0.0, 3.0 * k as f64],
            (0..20).map(|p| p * (k + 1)).collect(),
        );
        s.slope = 2.0;
        write_object(
            slice_object(&s, &format!("1.2.3.33.{k}")),
            &dir.path().join(format!("{k}.dcm")),
            "1.2.840.10008.1.2.1.99",
        );
    }
    let v = &load_series_dir(dir.path()).unwrap()[0];
    assert_eq!(v.volume.dims(), [3, 4, 5]);
    assert_eq!(v.volume.data[[2, 3, 4]], 19.0 * 3.0 * 2.0);
}

/// The IBSI digital phantom's legacy-converted enhanced MR (one file, 4 frames, per-frame
/// functional groups) gives the voxel values the IBSI manual prints (test-data/ibsi1-phantom).
#[test]
fn enhanced_multiframe_ibsi_phantom() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/ibsi1-phantom");
    let vols =
        ancilla::volume::assemble::load_series_files(&[root.join("dicom-deprecated-image.dcm")])
            .unwrap();
    assert_eq!(vols.len(), 1);
    let v = &vols[0].volume;
    assert_eq!(v.dims(), [4, 4, 5]);
    // The DICOM version is coronal (IOP 1\0\0\0\0\-1) with its frames stored at descending y
    // (PlanePosition y = 3, 2, 1, 0): sorted along the normal (0, 1, 0), slice k is y = k and
    // row j is the NIfTI's z index j, so dicom[k][j][i] = nifti[j][k][i].
    assert_eq!(v.geometry.direction[1], [0.0, 0.0, -1.0]);
    assert_eq!(v.geometry.direction[2], [0.0, 1.0, 0.0]);
    assert_eq!(v.geometry.origin, [0.0, 0.0, 0.0]);
    let nifti = ancilla::volume::nifti_io::read_volume(&root.join("image.nii.gz")).unwrap();
    for k in 0..4 {
        for j in 0..4 {
            for i in 0..5 {
                assert_eq!(
                    v.data[[k, j, i]],
                    nifti.data[[j, k, i]],
                    "voxel {k},{j},{i}"
                );
            }
        }
    }
    assert_eq!(v.data[[2, 2, 2]], 9.0);
}

/// A scanner's ADC map converted into a legacy converted enhanced MR by highdicom
/// (test-data/legacy-converted/adc) has ImageType DERIVED\\PRIMARY\\DIFFUSION\\NONE: the ADC
/// value is gone, and no image has a b-value. It is an ADC series, from its SeriesDescription
/// ("ep2d_diff_ADC"), and says so; the legacy converted DWI beside it, with b-values, stays DWI.
/// Before, the map was a one-volume DWI series, and the pipeline took no ADC for the subject.
#[test]
fn a_legacy_converted_adc_map_without_its_image_type_is_adc_by_its_description() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/legacy-converted");
    let inv = ingest::scan_paths(&[root.join("adc"), root.join("dwi")]).unwrap();
    let kinds: Vec<(i64, SeriesKind, bool)> = inv
        .series
        .iter()
        .map(|s| {
            (
                s.files[0].series_number.unwrap(),
                s.kind,
                s.kind_from_description,
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [(106, SeriesKind::Dwi, false), (107, SeriesKind::Adc, true)],
        "{kinds:?}"
    );
    let o = ancilla_ok(&["scan", root.join("adc").to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains(" adc ") && stdout.contains("(kind from SeriesDescription)"),
        "{stdout}"
    );
}

#[test]
fn scan_cli_prints_series_and_rejections_and_json_has_no_phi() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("Doe_Jane_TESTPAT");
    one_slice_series(&input.join("series1"), "1.2.3.34");
    std::fs::write(input.join("thumbs.db"), b"junk").unwrap();
    let json = dir.path().join("out/inventory.json");
    let o = ancilla_ok(&[
        "scan",
        input.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].contains("TESTPAT") && lines[0].contains("5x4x3") && lines[0].ends_with("ok"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("rejected ")
            && lines[1].contains("thumbs.db")
            && lines[1].contains("not DICOM")
    );
    let text = std::fs::read_to_string(&json).unwrap();
    for phi in [
        "TESTPAT",
        "Doe",
        "Jane",
        "1.2.3.34",
        "1.2.3.4.1",
        "thumbs",
        dir.path().to_str().unwrap(),
    ] {
        assert!(!text.contains(phi), "inventory contains {phi}");
    }
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["files"], 4);
    assert_eq!(doc["files_used"], 3);
    assert_eq!(doc["rejected_by_reason"]["not_dicom"], 1);
    // An inventory inside the input was written into the site's tree (and listed as a rejected
    // file by the next scan): refused, exit 2, nothing written.
    let inside = input.join("inventory.json");
    let o = ancilla(&[
        "scan",
        input.to_str().unwrap(),
        "--json",
        inside.to_str().unwrap(),
    ]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("lies inside the input"), "{e}");
    assert!(!inside.exists());
}

/// Links are followed, but a link to a folder that contains it is a loop: reported once, not
/// walked down until the system's limit (it was: 40 levels, every file of the tree seen again at
/// each, 8,764 "duplicates" for a 216-file subject). A FIFO is reported without being opened
/// (reading it would block the scan); a dangling link is reported.
#[cfg(unix)]
#[test]
fn link_loops_fifos_and_dangling_links_are_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("series1");
    one_slice_series(&series, "1.2.3.36");
    std::os::unix::fs::symlink("..", series.join("up")).unwrap();
    std::os::unix::fs::symlink("series1", dir.path().join("z_alias")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/ancilla", dir.path().join("dangling")).unwrap();
    let fifo = dir.path().join("pipe.dcm");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
    let mut r: Vec<String> = inv
        .rejected
        .iter()
        .map(|r| {
            let rel = r.path.strip_prefix(dir.path()).unwrap();
            format!("{}: {}", rel.display(), r.reason)
        })
        .collect();
    r.sort();
    // The three files seen again through `z_alias` (after series1 by path) are duplicates of the ones used; the loop is
    // met once under each way into series1.
    assert_eq!(inv.files_seen, 3 + 3 + 2 + 2, "{r:#?}");
    assert_eq!(inv.series.iter().map(|s| s.files.len()).sum::<usize>(), 3);
    let expected_prefixes = [
        "dangling: not read: broken link",
        "pipe.dcm: not read: not a regular file",
        "series1/up: not read: link loop",
        "z_alias/im_000.dcm: duplicate SOP instance",
        "z_alias/im_001.dcm: duplicate SOP instance",
        "z_alias/im_002.dcm: duplicate SOP instance",
        "z_alias/up: not read: link loop",
    ];
    assert_eq!(r.len(), expected_prefixes.len(), "{r:#?}");
    for (line, want) in r.iter().zip(expected_prefixes) {
        assert!(line.starts_with(want), "{line} (expected {want}…)");
    }
    // Regression (a core-lab audit): the FIFO given itself as the input blocked the scan for
    // ever; it is reported as in a tree.
    let inv = ingest::scan_paths(std::slice::from_ref(&fifo)).unwrap();
    assert_eq!(inv.rejected.len(), 1);
    assert!(
        inv.rejected[0]
            .reason
            .to_string()
            .contains("not a regular file"),
        "{}",
        inv.rejected[0].reason
    );
}

#[test]
fn scan_of_missing_input_is_a_usage_error() {
    let o = ancilla(&["scan", "/nonexistent/ancilla-input"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Truncations and bit flips of a valid file never panic scan or volume building.
    #[test]
    fn damaged_files_never_panic(cut in 0usize..2000, flips in proptest::collection::vec((0usize..2000, 0u8..8), 0..6)) {
        let dir = tempfile::tempdir().unwrap();
        let files = one_slice_series(dir.path(), "1.2.3.35");
        let mut bytes = std::fs::read(&files[1]).unwrap();
        for (pos, bit) in flips {
            let p = pos % bytes.len();
            bytes[p] ^= 1 << bit;
        }
        let keep = bytes.len() - (cut % bytes.len());
        std::fs::write(&files[1], &bytes[..keep]).unwrap();
        let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
        prop_assert_eq!(inv.files_seen, 3);
        // scan catches a panic per file (the batch goes on) and calls it an internal error: a
        // rejection for that reason is a panic here.
        for r in &inv.rejected {
            prop_assert!(!r.reason.to_string().contains(ancilla::INTERNAL_ERROR), "{}", r.reason);
        }
        for s in &inv.series {
            if let Err(e) = load_series(s) {
                prop_assert!(!e.to_string().contains(ancilla::INTERNAL_ERROR), "{}", e);
            }
        }
    }
}

/// Part 10 files of several layouts, read once: a small native image (explicit VR little
/// endian), encapsulated JPEG, a SEG (multi-frame, nested sequences), a legacy converted
/// enhanced PET, and a data set in implicit VR under an explicit syntax.
fn layouts() -> &'static [Vec<u8>] {
    static FILES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let files = one_slice_series(dir.path(), "1.2.3.36");
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data");
        let mut all = vec![std::fs::read(&files[1]).unwrap()];
        for f in [
            "transfer-syntaxes/jpeg-baseline/0.dcm",
            "seg-highdicom/seg_binary.dcm",
            "legacy-converted/pet/lc.dcm",
            "colour-jpeg/SC_rgb_jpeg.dcm",
        ] {
            all.push(std::fs::read(fixtures.join(f)).unwrap());
        }
        all
    })
}

/// The first length dicom-rs would read and reserve that is longer than the file (element
/// values and pixel fragments, token by token, stopped before each value is read), for a file
/// whose length check gave `layout`. None: every length fits, or the parser stops first.
fn length_past_the_end(bytes: &[u8], layout: &ingest::preflight::Layout) -> Option<u64> {
    use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
    use dicom_parser::dataset::read::{DataSetReaderOptions, ValueReadStrategy};
    use dicom_parser::dataset::{DataSetReader, DataToken};
    // As the opening helper reads it: a data set in implicit VR under an explicit syntax from
    // where the meta group's elements end, else where dicom-rs's meta reader stops.
    let (body, syntax) = if layout.implicit_vr_body {
        let at = ingest::open::meta_group(bytes)?.data_at;
        (
            bytes.get(at..)?,
            uids::IMPLICIT_VR_LITTLE_ENDIAN.to_string(),
        )
    } else {
        let mut body = bytes.get(layout.magic_at? as usize..)?;
        let meta = dicom_object::meta::FileMetaTable::from_reader(&mut body).ok()?;
        (
            body,
            meta.transfer_syntax().trim_end_matches('\0').to_string(),
        )
    };
    let ts = dicom_transfer_syntax_registry::TransferSyntaxRegistry.get(&syntax)?;
    let raw = DataSetReaderOptions::default().value_read(ValueReadStrategy::Raw);
    let reader = DataSetReader::new_with_ts_options(body, ts, raw).ok()?;
    for token in reader.take(10_000) {
        let declared = match token.ok()? {
            DataToken::ElementHeader(h) => h.len.get(),
            DataToken::ItemStart { len } => len.get(),
            _ => None,
        };
        if let Some(n) = declared.filter(|&n| n as usize > bytes.len()) {
            return Some(u64::from(n));
        }
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// A file the length check passes declares no length, as dicom-rs reads its headers, that
    /// runs past its end: the check and the parser agree on how every header is encoded (bytes
    /// overwritten anywhere: tags, VR codes, lengths). They disagreed on VR codes PS3.5 does
    /// not define, and dicom-rs reserved a 4-byte length the check had never read.
    #[test]
    fn what_the_check_passes_dicom_rs_reads_within_the_file(
        which in 0usize..5,
        writes in proptest::collection::vec((0usize..4000, any::<u8>()), 1..6)
    ) {
        let mut bytes = layouts()[which].clone();
        for (pos, value) in writes {
            let p = 132 + pos % (bytes.len() - 132);
            bytes[p] = value;
        }
        if let Ok(layout) = ingest::preflight::check_bytes(&bytes) {
            if layout.unknown_sequences.is_empty() {
                prop_assert_eq!(length_past_the_end(&bytes, &layout), None);
            }
        }
    }
}

/// Regression (dcm2niix refuses these too: "stored as 51 fragments: decompress with gdcmconv"):
/// a multi-frame image cut into more fragments than frames, with an empty Basic Offset Table
/// (DCMTK's `+fs 1 -ot`; PS3.5 A.4 allows it), was refused: JPEG and JPEG 2000 with "Could
/// not decode pixel data" (dicom-rs joined every fragment into frame 0 and found no offset for
/// frame 1), JPEG-LS and RLE with "no Basic Offset Table entry for frame 2". The frames are now
/// found where their streams start (`volume::fragments`). Each encoding of
/// test-data/multiframe-fragments must give the analytic values, stored v = (7919 r + 104729 c
/// + 13 k) mod 4001 times the fixture's RescaleSlope 2, as the native file does.
#[test]
fn multiframe_images_without_offset_table_are_split_at_their_frames_starts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/multiframe-fragments");
    for name in ["native", "jpeg_lossless", "jpeg_ls", "rle", "j2k"] {
        let inv = ingest::scan_paths(&[root.join(format!("{name}.dcm"))]).unwrap();
        assert_eq!(inv.series.len(), 1, "{name}");
        let vols = load_series(&inv.series[0]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let v = &vols[0].volume;
        assert_eq!(v.dims(), [3, 48, 64], "{name}");
        // lc.dcm's frames descend along the slice normal: slice s is frame 2 − s.
        for ((s, r, c), x) in v.data.indexed_iter() {
            let k = 2 - s;
            let stored = (7919 * r + 104729 * c + 13 * k) % 4001;
            assert_eq!(
                *x,
                2.0 * stored as f32,
                "{name}: frame {k} row {r} column {c}"
            );
        }
    }
}

/// Regression (an audit against dcm2niix): a JPEG Lossless stream of 16-bit samples for an image
/// of 12 bits stored, its bits 12-15 set (test-data/transfer-syntaxes/jpeg-lossless-high-bits,
/// v | 0xA000), was read with those bits: every voxel v + 40960. Only the stored bits are the
/// value (PS3.5 8.1.1), as native, RLE, JPEG-LS and JPEG 2000 data were already read, and as
/// dcm2niix and pydicom read it: v = 40 k + 2 row + column + 10.
#[test]
fn bits_above_bits_stored_in_a_jpeg_lossless_stream_are_not_the_value() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test-data/transfer-syntaxes/jpeg-lossless-high-bits");
    let inv = ingest::scan_paths(&[dir]).unwrap();
    assert_eq!(inv.series.len(), 1);
    let vols = load_series(&inv.series[0]).unwrap();
    let v = &vols[0].volume;
    assert_eq!(v.dims(), [3, 48, 64]);
    for ((k, r, c), x) in v.data.indexed_iter() {
        assert_eq!(
            *x,
            (40 * k + 2 * r + c + 10) as f32,
            "slice {k} row {r} column {c}"
        );
    }
}

/// Regression (robustness audit): a series-level refusal ("PixelSpacing differs between
/// images", "missing ImagePositionPatient on some images", "missing slice between slices 3 and
/// 4") named no file, and one bad slice of 90 was left to be found by hand. The reason now
/// names the image by its InstanceNumber (in every output), and the terminal line the file.
#[test]
fn a_series_refusal_names_the_file_that_shows_it() {
    type Alter = fn(usize, &mut Slice) -> bool;
    let cases: [(&str, Alter, &str, &str); 4] = [
        (
            "ipp",
            |k, s| {
                // Empty: absent (a malformed one rejects its file alone).
                if k == 2 {
                    s.extra
                        .push((tags::IMAGE_POSITION_PATIENT, VR::DS, String::new()));
                }
                true
            },
            "missing or malformed ImagePositionPatient (0020,0032) on some images: three finite \
             numbers expected (first seen on the image of InstanceNumber 3)",
            "im_002.dcm",
        ),
        (
            "spacing",
            |k, s| {
                if k == 3 {
                    s.ps = [2.0, 2.0];
                }
                true
            },
            "PixelSpacing differs between images: 0.8\\0.7 and 2\\2 mm (first seen on the \
             image of InstanceNumber 4)",
            "im_003.dcm",
        ),
        // The first image the odd one: it is named, not the second (review).
        (
            "first-spacing",
            |k, s| {
                if k == 0 {
                    s.ps = [2.0, 2.0];
                }
                true
            },
            "PixelSpacing differs between images: 2\\2 and 0.8\\0.7 mm (first seen on the \
             image of InstanceNumber 1)",
            "im_000.dcm",
        ),
        (
            "gap",
            |k, _| k != 3,
            "missing slice: 4 mm between slices 3 and 4 (InstanceNumbers 3 and 5) where 2 mm is \
             expected (1 slice absent)",
            // The fourth file written: the slice after the gap.
            "im_003.dcm",
        ),
    ];
    for (name, alter, reason, file) in cases {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let slices: Vec<Slice> = (0..6)
            .filter_map(|k| {
                let mut s = Slice::new("2.25.4242", [0.0, 0.0, 2.0 * k as f64], vec![k; 20]);
                s.instance = k + 1;
                alter(k as usize, &mut s).then_some(s)
            })
            .collect();
        write_series(&dir, &slices);
        let json = d.path().join("inventory.json");
        let o = ancilla(&[
            "scan",
            dir.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{name}");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let line = format!("REJECTED: {reason} [{}]", dir.join(file).display());
        assert!(said.contains(&line), "{name}: {line}\n{said}");
        // The inventory gives the reason, and no path.
        let inventory = std::fs::read_to_string(&json).unwrap();
        let quoted = serde_json::to_string(reason).unwrap();
        assert!(
            inventory.contains(quoted.trim_matches('"')),
            "{name}: {inventory}"
        );
        assert!(!inventory.contains("im_0"), "{name}: {inventory}");
    }
    // A CT slice among MR slices (robustness audit: it was stacked into the volume), in a
    // file whose name holds a newline: named, escaped, on the one line.
    let d = tempfile::tempdir().unwrap();
    let slices: Vec<Slice> = (0..4)
        .map(|k| {
            let mut s = Slice::new("2.25.4244", [0.0, 0.0, 2.0 * k as f64], vec![k; 20]);
            s.instance = k + 1;
            if k == 2 {
                s.modality = "CT";
            }
            s
        })
        .collect();
    let files = write_series(d.path(), &slices);
    let odd = d.path().join("im\n002.dcm");
    std::fs::rename(&files[2], &odd).unwrap();
    let o = ancilla(&["scan", d.path().to_str().unwrap()]);
    let said = String::from_utf8_lossy(&o.stdout);
    let line = format!(
        "REJECTED: Modality differs within the series: MR and CT [{}/im\\x0a002.dcm]",
        ancilla::path_text::shown(d.path())
    );
    assert!(said.contains(&line), "{line}\n{said}");
    // Two echoes at every position but the first: that position, the odd one, is named (the
    // review found a complete one named).
    let d = tempfile::tempdir().unwrap();
    let slices: Vec<Slice> = (0..6)
        .flat_map(|k| (1..=2).map(move |e| (k, e)))
        .filter(|&(k, e)| k > 0 || e == 1)
        .map(|(k, e)| {
            let mut s = Slice::new("2.25.4243", [0.0, 0.0, 2.0 * k as f64], vec![k; 20]);
            s.instance = 10 * k + e;
            s.extra.push((tags::ECHO_NUMBERS, VR::IS, e.to_string()));
            s
        })
        .collect();
    write_series(d.path(), &slices);
    let o = ancilla(&["scan", d.path().to_str().unwrap()]);
    let said = String::from_utf8_lossy(&o.stdout);
    let line = format!(
        "REJECTED: uneven number of images per slice position (2 and 1): an incomplete \
         multi-volume series (first seen on the image of InstanceNumber 1) [{}]",
        d.path().join("im_000.dcm").display()
    );
    assert!(said.contains(&line), "{line}\n{said}");
}

/// `test-data/multiframe-fragments/<name>.dcm` (a 3-frame enhanced PET) with `alter` applied,
/// converted alone: the reason the conversion report gives for it, whether its series was not
/// converted or its file rejected.
fn convert_altered_multiframe(name: &str, alter: impl FnOnce(&mut InMemDicomObject)) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/multiframe-fragments");
    let mut obj = dicom_object::open_file(root.join(format!("{name}.dcm"))).unwrap();
    alter(&mut obj);
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    obj.write_to_file(input.join("bad.dcm")).unwrap();
    let out = tmp.path().join("out");
    let run = ancilla(&[
        "--quiet",
        "convert",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let report = read(&out.join("convert-report.json"));
    assert_eq!(report["converted"], serde_json::json!([]), "{report}");
    // A rejected file is named by the scan (the conversion report counts it).
    let inventory = tmp.path().join("inventory.json");
    let scan = ancilla(&[
        "--quiet",
        "scan",
        input.to_str().unwrap(),
        "--json",
        inventory.to_str().unwrap(),
    ]);
    assert!(scan.status.success());
    let inventory = read(&inventory);
    let reasons: Vec<String> = [&report["not_converted"], &inventory["rejected_files"]]
        .iter()
        .flat_map(|list| list.as_array().into_iter().flatten())
        .filter_map(|r| r["reason"].as_str().map(str::to_string))
        .collect();
    assert_eq!(reasons.len(), 1, "{report}\n{inventory}");
    reasons[0].clone()
}

/// Regression (robustness audit): encapsulated multi-frame images whose header does not
/// describe their pixel data were converted with no word, into wrong volumes: a 16-bit JPEG-LS
/// stream under BitsAllocated 8 (values cut to 8 bits: 510 for 8000); RLE frames of 48 × 64
/// under Rows × Columns 8 × 8 (8 × 8 slices); NumberOfFrames 0, or 1 over three frames (one
/// slice). Each is refused with what the header says and what the data hold.
#[test]
fn multiframe_pixel_data_the_header_does_not_describe_is_refused() {
    let us = |obj: &mut InMemDicomObject, tag, v: u16| {
        obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(v)));
    };
    let reason = convert_altered_multiframe("jpeg_ls", |obj| {
        us(obj, tags::BITS_ALLOCATED, 8);
        us(obj, tags::BITS_STORED, 8);
        us(obj, tags::HIGH_BIT, 7);
    });
    assert!(
        reason.ends_with(
            "pixel decoding failed (1.2.840.10008.1.2.4.80): frame 2: its JPEG frame header \
             gives samples of 16 bits, which need BitsAllocated 16 where the header says 8"
        ),
        "{reason}"
    );
    let reason = convert_altered_multiframe("rle", |obj| {
        us(obj, tags::ROWS, 8);
        us(obj, tags::COLUMNS, 8);
    });
    assert!(
        reason.ends_with(
            "pixel decoding failed (1.2.840.10008.1.2.5): RLE segment 1: 3072 bytes decoded \
             where 64 pixels need one each"
        ),
        "{reason}"
    );
    for name in ["rle", "jpeg_ls", "jpeg_lossless", "j2k"] {
        let reason = convert_altered_multiframe(name, |obj| {
            obj.put(DataElement::new(tags::NUMBER_OF_FRAMES, VR::IS, "0"));
        });
        assert_eq!(
            reason,
            "missing or malformed attribute NumberOfFrames (0028,0008) is 0 where \
             PerFrameFunctionalGroupsSequence (5200,9230) has 3 items: one item a frame \
             expected (PS3.3 C.7.6.16.1)",
            "{name}"
        );
        let reason = convert_altered_multiframe(name, |obj| {
            obj.put(DataElement::new(tags::NUMBER_OF_FRAMES, VR::IS, "1"));
        });
        assert_eq!(
            reason,
            "missing or malformed attribute NumberOfFrames (0028,0008) is 1 where \
             PerFrameFunctionalGroupsSequence (5200,9230) has 3 items: one item a frame \
             expected (PS3.3 C.7.6.16.1)",
            "{name}"
        );
    }
}

/// `test-data/transfer-syntaxes/<dir>/0.dcm` with `alter` applied to its bytes, converted alone;
/// the binary's stderr and the reason the report gives for the file.
fn convert_damaged_fixture(dir: &str, alter: impl FnOnce(&mut Vec<u8>)) -> (String, String) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test-data/transfer-syntaxes")
        .join(dir)
        .join("0.dcm");
    let mut bytes = std::fs::read(src).unwrap();
    alter(&mut bytes);
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("0.dcm"), bytes).unwrap();
    let out = tmp.path().join("out");
    let run = ancilla(&[
        "--quiet",
        "convert",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let report = std::fs::read_to_string(out.join("convert-report.json")).unwrap();
    (String::from_utf8_lossy(&run.stderr).into_owned(), report)
}

/// Regression: a JPEG frame whose own header disagrees with the DICOM header made dicom-rs's
/// decoding panic when the frame was larger (65 columns where Columns says 64): the panic was
/// caught, but the binary also printed "internal error … a defect: please report it", and the
/// reason said only "the decoder failed on malformed pixel data". A smaller frame (47 rows, or
/// 63 columns) gave a volume with no error, its last row zeros or its rows shifted. Each is
/// now refused with both sizes in the reason, before anything is decoded.
#[test]
fn a_jpeg_frame_that_disagrees_with_its_dicom_header_is_refused_with_both_sizes() {
    // SOF0: FF C0, length (2), precision (1), rows (2), columns (2), components (1).
    let sof = |bytes: &[u8]| {
        let at = bytes
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("SOF0 marker");
        assert_eq!(
            bytes[at + 4..at + 10],
            [8, 0, 48, 0, 64, 1],
            "the fixture's SOF0"
        );
        at
    };
    for (at, value, says) in [
        (8, 65, "48 rows × 65 columns, 1 component of 8 bits"),
        (8, 63, "48 rows × 63 columns, 1 component of 8 bits"),
        (6, 47, "47 rows × 64 columns, 1 component of 8 bits"),
        (9, 3, "48 rows × 64 columns, 3 components of 8 bits"),
    ] {
        let (stderr, report) = convert_damaged_fixture("jpeg-baseline", |bytes| {
            let s = sof(bytes);
            bytes[s + at] = value;
        });
        assert!(!stderr.contains("internal error"), "{stderr}");
        let reason = format!(
            "pixel decoding failed (1.2.840.10008.1.2.4.50): frame 0: its JPEG frame header says \
             {says}, where Rows × Columns say 48 × 64 and SamplesPerPixel 1"
        );
        assert!(report.contains(&reason), "{reason}\n{report}");
        assert!(report.contains("\"converted\": []"), "{report}");
    }
    // JPEG 2000: SOC, SIZ, Lsiz (2), Rsiz (2), Xsiz (4): the image 65 columns wide.
    let (stderr, report) = convert_damaged_fixture("j2k", |bytes| {
        let at = bytes
            .windows(4)
            .position(|w| w == [0xFF, 0x4F, 0xFF, 0x51])
            .expect("SOC, SIZ");
        assert_eq!(bytes[at + 8..at + 12], [0, 0, 0, 64], "Xsiz");
        bytes[at + 11] = 65;
    });
    assert!(!stderr.contains("internal error"), "{stderr}");
    assert!(
        report.contains(
            "pixel decoding failed (1.2.840.10008.1.2.4.90): frame 0: its JPEG 2000 SIZ marker \
             says 48 rows × 65 columns, 1 component of 16 bits, where Rows × Columns say \
             48 × 64 and SamplesPerPixel 1"
        ),
        "{report}"
    );
}

/// Regression: 8-bit JPEG samples in a file whose BitsAllocated is 16 (PS3.5 8.2.1 asks for 8;
/// pydicom and GDCM read such files) came out of dicom-rs's decoder two to a 16-bit word, with
/// no error: zeros and values up to 42918 where the image holds 10 to 167. They are now decoded
/// one byte a sample: the same voxels as the file as written, whose BitsAllocated is 8.
#[test]
fn an_8_bit_jpeg_in_a_16_bit_file_gives_its_samples() {
    let mut bytes = fixture_file("jpeg-baseline");
    // BitsAllocated (0028,0100) US 8 → 16, the JPEG's samples still of 8 bits.
    let at = bytes
        .windows(8)
        .position(|w| w == [0x28, 0, 0x00, 0x01, b'U', b'S', 2, 0])
        .expect("BitsAllocated");
    assert_eq!(bytes[at + 8..at + 10], [8, 0]);
    bytes[at + 8] = 16;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("0.dcm");
    std::fs::write(&f, &bytes).unwrap();
    let volume = |path: &Path| {
        let inv = ingest::scan_paths(&[path.to_path_buf()]).unwrap();
        load_series(&inv.series[0]).unwrap().remove(0).volume.data
    };
    let original = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test-data/transfer-syntaxes/jpeg-baseline/0.dcm");
    let (got, want) = (volume(&f), volume(&original));
    assert_eq!(got, want);
    // Slice 0 of the analytic image, v = 2·row + column + 10, within JPEG's loss.
    for ((_, r, c), x) in got.indexed_iter() {
        assert!(
            (x - (2 * r + c + 10) as f32).abs() <= 3.0,
            "row {r} column {c}: {x}"
        );
    }
}

/// Regression: an RLE segment that decodes short (the second segment's offset moved from byte
/// 64 + n to 70, so the first holds 6 bytes) made dicom-rs's RLE decoder panic; the binary
/// printed "internal error …" (until `panic_guard`), and the file's reason said only "the
/// decoder failed on malformed pixel data". Every RLE frame is now read by
/// `volume::rle`, whose reason names the segment and what it decoded: the 6 bytes give 192
/// pixels of the 64 × 48 = 3072 a segment must hold.
#[test]
fn a_short_rle_segment_is_named_in_the_reason() {
    let (stderr, report) = convert_damaged_fixture("rle", |bytes| {
        // The RLE header: 2 segments, the first at byte 64, then the second's offset.
        let at = bytes
            .windows(8)
            .position(|w| w == [2, 0, 0, 0, 64, 0, 0, 0])
            .expect("RLE header");
        bytes[at + 8..at + 12].copy_from_slice(&70u32.to_le_bytes());
    });
    assert!(!stderr.contains("internal error"), "{stderr}");
    assert!(
        report.contains("pixel decoding failed (1.2.840.10008.1.2.5): RLE segment 1: 192 bytes decoded where 3072 pixels need one each"),
        "{report}"
    );
}

/// Compressed syntaxes decode to the analytic values of test-data/transfer-syntaxes
/// (v = 40·k + 2·row + col + 10; JPEG baseline is lossy: within 3 grey levels at quality 95).
#[test]
fn compressed_transfer_syntaxes_decode_to_known_values() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/transfer-syntaxes");
    for (dir, tol) in [
        ("native", 0.0),
        ("rle", 0.0),
        // Regression (DCMTK's `dcmcrle +fs 1`, found by benches/other-writers.py's encoders):
        // a frame's RLE stream over four fragments was decoded from its first fragment, and
        // dicom-rs's decoder panicked ("the decoder failed on malformed pixel data").
        ("rle-fragments", 0.0),
        ("j2k", 0.0),
        ("jpeg-baseline", 3.0),
        ("jpeg-ls", 0.0),
        ("jpeg-ls-dcmtk", 0.0),
        ("jpeg-ls-near", 2.0),
    ] {
        let vols = load_series_dir(&root.join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        let v = &vols[0].volume;
        assert_eq!(v.dims(), [3, 48, 64], "{dir}");
        let mut worst = 0.0f32;
        for ((k, r, c), x) in v.data.indexed_iter() {
            let expect = (40 * k + 2 * r + c + 10) as f32;
            worst = worst.max((x - expect).abs());
        }
        assert!(worst <= tol, "{dir}: max error {worst}");
    }
}

/// The series of `dir` under test-data/transfer-syntaxes, each file's tail altered by `alter`
/// (given the file and the length of its last fragment's item value), in a temporary folder.
fn altered_fixture(dir: &str, alter: impl Fn(&mut Vec<u8>, usize)) -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/transfer-syntaxes");
    let out = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(root.join(dir)).unwrap() {
        let path = e.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        let obj = dicom_object::open_file(&path).unwrap();
        let pixels = obj.element(tags::PIXEL_DATA).unwrap();
        let last = pixels.value().fragments().unwrap().last().unwrap().len();
        let n = bytes.len();
        assert_eq!(
            bytes[n - 8..],
            [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0],
            "{path:?}"
        );
        assert_eq!(
            bytes[n - 16 - last..n - 12 - last],
            [0xFE, 0xFF, 0x00, 0xE0]
        );
        alter(&mut bytes, last);
        std::fs::write(out.path().join(path.file_name().unwrap()), bytes).unwrap();
    }
    out
}

/// Regression (pydicom-data's emri_small_jpeg_2k_lossless_too_short.dcm: a whole JPEG 2000 image
/// without the 8 bytes of its sequence delimiter, which dicom-rs, pydicom and dcm2niix read):
/// the file was rejected as truncated. Encapsulated Pixel Data whose items are whole to the end
/// of the file, a fragment for each frame and the last ending its image (FFD9; RLE: one fragment
/// a frame), is now read, and gives the values of the delimited file. Cut further it is still
/// truncated: its last fragment gone, or the last fragment shortened to a whole item that does
/// not end its image (a frame cut at a fragment boundary).
#[test]
fn encapsulated_pixel_data_whole_but_for_its_delimiter_is_read() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/transfer-syntaxes");
    for dir in ["j2k", "rle", "jpeg-baseline", "jpeg-ls", "jpeg-ls-dcmtk"] {
        let expect = load_series_dir(&root.join(dir)).unwrap();
        let cut = altered_fixture(dir, |b, _| b.truncate(b.len() - 8));
        assert!(reasons(cut.path()).is_empty(), "{dir}");
        let got = load_series_dir(cut.path()).unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert_eq!(got[0].volume.data, expect[0].volume.data, "{dir}");
        // The last fragment gone: the file ends after the offset table.
        let cut = altered_fixture(dir, |b, last| b.truncate(b.len() - 16 - last));
        let r = reasons(cut.path());
        assert_eq!(r.len(), 3, "{dir}: {r:?}");
        assert!(
            r.iter().all(|x| x.to_string()
                == "truncated: encapsulated Pixel Data does not end with a sequence delimitation item"),
            "{dir}: {r:?}"
        );
    }
    // A JPEG 2000 frame whose end is cut off, its item length shortened to match: a whole item
    // that does not end the image.
    let cut = altered_fixture("j2k", |b, last| {
        let n = b.len();
        let at = n - 12 - last;
        b[at..at + 4].copy_from_slice(&(last as u32 - 2).to_le_bytes());
        b.truncate(n - 10);
    });
    let r = reasons(cut.path());
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(
        r.iter().all(|x| matches!(x, RejectReason::Truncated(_))),
        "{r:?}"
    );
}

/// Every cut of an encapsulated file, from its first byte to its last, walked: Pixel Data is
/// complete only in the whole file and in the file without its sequence delimiter (its last 8
/// bytes); a cut anywhere else (inside the delimiter, a fragment, an item header, between
/// frames of a multi-frame RLE SEG) is not, or fails the length check. Exhaustive, on one file
/// of each encapsulated syntax.
#[test]
fn only_the_whole_file_or_the_one_without_its_delimiter_is_complete() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data");
    for name in [
        "transfer-syntaxes/j2k/0.dcm",
        "transfer-syntaxes/rle/0.dcm",
        "transfer-syntaxes/jpeg-baseline/0.dcm",
        "transfer-syntaxes/jpeg-ls-dcmtk/2.dcm",
        "seg-highdicom/seg_labelmap_rle.dcm",
    ] {
        let bytes = std::fs::read(root.join(name)).unwrap();
        let n = bytes.len();
        let mut complete = Vec::new();
        for cut in 0..=n {
            let layout = ingest::preflight::check_bytes(&bytes[..cut]);
            if let Some(p) = layout.ok().and_then(|l| l.pixel_data) {
                if p.complete() {
                    complete.push(n - cut);
                }
            }
        }
        assert_eq!(
            complete,
            [8, 0],
            "{name}: bytes cut off where Pixel Data is complete"
        );
    }
}

/// 12-bit lossy JPEG (JPEG Extended, process 4), which dicom-rs and dcm2niix do not decode,
/// gives the stored values DCMTK's dcmdjpeg and libjpeg-turbo 3.1.3 give for the same files
/// (test-data/transfer-syntaxes/make_jpeg12.py), within the one grey level their integer inverse
/// DCT rounds differently, and the series' analytic values within what the quality-90 encoding
/// lost.
#[test]
fn twelve_bit_lossy_jpeg_decodes_as_dcmtk_and_libjpeg_turbo_do() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/transfer-syntaxes");
    for (dir, reference) in [
        ("jpeg-extended-12", "dcmtk-decoded.u16"),
        ("jpeg-extended-12-turbo", "turbo-decoded.u16"),
    ] {
        let vols = load_series_dir(&root.join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        let v = &vols[0].volume;
        assert_eq!(v.dims(), [3, 48, 64], "{dir}");
        let expect = reference_values(&root.join(dir).join(reference));
        let (mut worst, mut off) = (0.0f32, 0);
        for (x, e) in v.data.iter().zip(&expect) {
            worst = worst.max((x - e).abs());
            off += usize::from(x != e);
        }
        assert!(worst <= 1.0, "{dir}: {worst} grey levels from {reference}");
        // A decoder that rounded differently everywhere would be a different decoder.
        assert!(off * 20 < expect.len(), "{dir}: {off} samples differ");
        assert!(
            expect.iter().any(|x| *x > 2000.0),
            "{dir}: 12-bit values expected"
        );
    }
    // libjpeg-turbo's stream holds the analytic values, 10 grey levels lost at most.
    let vols = load_series_dir(&root.join("jpeg-extended-12-turbo")).unwrap();
    for ((k, r, c), x) in vols[0].volume.data.indexed_iter() {
        let square = if (10..26).contains(&r) && (20..41).contains(&c) {
            800
        } else {
            0
        };
        let expect = (13 * (40 * k + 2 * r + c + 10) + square) as f32;
        assert!(
            (x - expect).abs() <= 11.0,
            "slice {k} row {r} column {c}: {x} vs {expect}"
        );
    }
}

/// The stored values another decoder gave for a fixture (`.u16`: raw little-endian uint16,
/// slice, row, column order; test-data/transfer-syntaxes/make_jpeg12.py).
fn reference_values(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    bytes
        .chunks(2)
        .map(|b| f32::from(u16::from_le_bytes([b[0], b[1]])))
        .collect()
}

/// From the command line: `ancilla convert` of the DCMTK-encoded 12-bit series converts it (it
/// was "not converted: pixel decoding failed"), its NIfTI within a grey level of dcmdjpeg's.
#[test]
fn convert_writes_12_bit_lossy_jpeg_series() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/transfer-syntaxes");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nifti");
    convert(&root.join("jpeg-extended-12"), &out);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("convert-report.json")).unwrap())
            .unwrap();
    let converted = report["converted"].as_array().unwrap();
    assert_eq!(converted.len(), 1, "{report}");
    let nifti = out.join(converted[0]["nifti"].as_str().unwrap());
    let v = ancilla::volume::nifti_io::read_volume(&nifti).unwrap();
    let expect = reference_values(&root.join("jpeg-extended-12/dcmtk-decoded.u16"));
    assert_eq!(v.data.len(), expect.len());
    // The file keeps dcm2niix's layout, rows flipped; the .u16 file is in DICOM's order.
    assert_eq!(v.dims(), [3, 48, 64]);
    for ((k, r, c), x) in v.data.indexed_iter() {
        let e = expect[(k * 48 + (47 - r)) * 64 + c];
        assert!(
            (x - e).abs() <= 1.0,
            "slice {k} row {r} column {c}: {x} vs dcmdjpeg's {e}"
        );
    }
}

/// A signed JPEG-LS series (12 of 16 bits, two's complement in the stream, as CharLS encodes
/// it) comes back negative where it is: v − 150 exactly (test-data/transfer-syntaxes).
#[test]
fn signed_jpeg_ls_keeps_its_negative_values() {
    assert_signed_fixture("jpeg-ls-signed");
}

/// The fixture `folder` of test-data/transfer-syntaxes holds v − 150 exactly, v = 40·k + 2·row
/// + col + 10 (its README).
fn assert_signed_fixture(folder: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/transfer-syntaxes");
    let vols = load_series_dir(&root.join(folder)).unwrap();
    let v = &vols[0].volume;
    assert_eq!(v.dims(), [3, 48, 64]);
    for ((k, r, c), x) in v.data.indexed_iter() {
        let expect = (40 * k + 2 * r + c + 10) as f32 - 150.0;
        assert_eq!(*x, expect, "{folder}: slice {k} row {r} column {c}");
    }
}

/// A JPEG 2000 whose codestream says unsigned in an image whose header says signed (as
/// pydicom's J2K_pixelrep_mismatch.dcm, pydicom issue 1149) holds two's complement: v − 150
/// exactly, as pydicom and GDCM read it. The decoder's 0 … 4095 had gone through (air +6192 HU
/// in pydicom's CT; dcm2niix does the same).
#[test]
fn jpeg_2000_with_an_unsigned_stream_in_a_signed_image_is_read_signed() {
    assert_signed_fixture("j2k-unsigned-stream");
}

/// Truncations and bit flips of a JPEG-LS file never panic the scan or the decoder: each either
/// decodes or is reported (pure_jpegls runs behind a guard, the rest is ancilla's own checks).
#[test]
fn damaged_jpeg_ls_files_are_reported_not_panicked_on() {
    damaged_files_are_reported_not_panicked_on(
        "jpeg-ls",
        flips_and_truncations(fixture_file("jpeg-ls")),
    );
}

/// The same for 12-bit lossy JPEG, whose decoder is ancilla's own (`volume::jpeg12`).
#[test]
fn damaged_12_bit_jpeg_files_are_reported_not_panicked_on() {
    damaged_files_are_reported_not_panicked_on(
        "jpeg-extended-12-turbo",
        flips_and_truncations(fixture_file("jpeg-extended-12-turbo")),
    );
}

/// The same for baseline JPEG and JPEG 2000, decoded by dicom-rs, with each of the first 200
/// bytes of the compressed stream (the JPEG's tables and frame header; the SIZ and coding
/// marker segments) one more and one less: no damage may reach a panic of its decoders (the
/// helper refuses the reason a caught panic gives). Frames whose own header said one column
/// more than Columns did (`volume::frame_size` now refuses them first).
#[test]
fn damaged_jpeg_and_jpeg2000_headers_are_reported_not_panicked_on() {
    for fixture in ["jpeg-baseline", "j2k"] {
        let bytes = fixture_file(fixture);
        // The stream starts after the pixel sequence's tag (8 bytes with its VR and length),
        // the Basic Offset Table item (8) and the first fragment's item header (8).
        let stream = bytes
            .windows(4)
            .rposition(|w| w == [0xE0, 0x7F, 0x10, 0x00])
            .expect("Pixel Data")
            + 12
            + 8
            + 8;
        let damages = (stream..stream + 200).flat_map(|at| {
            [1u8, 255].map(|d| {
                let mut b = bytes.clone();
                b[at] = b[at].wrapping_add(d);
                b
            })
        });
        damaged_files_are_reported_not_panicked_on(fixture, damages);
    }
}

/// The first file of a transfer-syntax fixture.
fn fixture_file(fixture: &str) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/transfer-syntaxes");
    std::fs::read(root.join(fixture).join("0.dcm")).unwrap()
}

/// Truncations and bit flips of a file, every 7th byte in turn.
fn flips_and_truncations(bytes: Vec<u8>) -> impl Iterator<Item = Vec<u8>> {
    (0..bytes.len()).step_by(7).enumerate().map(move |(i, at)| {
        let mut b = bytes.clone();
        if i % 2 == 0 {
            b[at] ^= 1 << (i % 8);
        } else {
            b.truncate(at);
        }
        b
    })
}

/// Damaged copies of a file of a transfer-syntax fixture, each scanned and built into volumes:
/// some must decode and some be refused, none panic, and no decoder's panic is caught on the way
/// (its reason: "the decoder failed on malformed pixel data").
fn damaged_files_are_reported_not_panicked_on(
    fixture: &str,
    damaged: impl Iterator<Item = Vec<u8>>,
) {
    let dir = tempfile::tempdir().unwrap();
    let (mut decoded, mut refused) = (0, 0);
    for (i, b) in damaged.enumerate() {
        let f = dir.path().join(format!("{i}.dcm"));
        std::fs::write(&f, &b).unwrap();
        let inv = ingest::scan_paths(std::slice::from_ref(&f)).unwrap();
        // A panic of scan is caught per file and given as an internal error.
        for r in &inv.rejected {
            let reason = r.reason.to_string();
            assert!(
                !reason.contains(ancilla::INTERNAL_ERROR),
                "{fixture}, damage {i}: {reason}"
            );
        }
        for s in &inv.series {
            match load_series(s) {
                Ok(_) => decoded += 1,
                Err(e) => {
                    let reason = e.to_string();
                    assert!(
                        !reason.contains("the decoder failed on malformed pixel data"),
                        "{fixture}, damage {i}: {reason}"
                    );
                    refused += 1
                }
            }
        }
        std::fs::remove_file(&f).unwrap();
    }
    assert!(
        decoded > 0 && refused > 0,
        "{fixture}: {decoded} decoded, {refused} refused"
    );
}

#[test]
fn duplicate_sop_instances_are_rejected_not_stacked() {
    let dir = tempfile::tempdir().unwrap();
    let files = one_slice_series(&dir.path().join("a"), "1.2.3.36");
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    for f in &files {
        std::fs::copy(f, dir.path().join("b").join(f.file_name().unwrap())).unwrap();
    }
    let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(inv.series.len(), 1);
    assert_eq!(
        inv.series[0].plan.as_ref().unwrap().len(),
        1,
        "one volume, not two"
    );
    assert_eq!(inv.rejected.len(), 3);
    assert!(inv
        .rejected
        .iter()
        .all(|r| r.reason == RejectReason::Duplicate && r.path.starts_with(dir.path().join("b"))));
    assert_eq!(inv.files_used() + inv.files_rejected(), inv.files_seen);
    // A copy whose bytes differ (a re-send with a corrected header) is said apart: the first by
    // path is used, which may not be the right one. Regression: it was one more "duplicate".
    let resent = dir.path().join("b").join(files[1].file_name().unwrap());
    let mut bytes = std::fs::read(&resent).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&resent, bytes).unwrap();
    let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
    let differs: Vec<_> = inv
        .rejected
        .iter()
        .filter(|r| r.reason == RejectReason::DuplicateDiffers)
        .collect();
    assert_eq!(differs.len(), 1);
    assert_eq!(differs[0].path, resent);
    assert!(differs[0].reason.to_string().contains("content differs"));
    assert_eq!(inv.rejected.len(), 3);
}

/// A SEG or RTSTRUCT line names the image series that share its frame of reference (those
/// `run` measures on it): the phantom's SEG and RTSTRUCT are on its PET (series 3), not on the
/// MRI (another frame of reference).
#[test]
fn roi_objects_name_the_series_they_outline() {
    let d = tempfile::tempdir().unwrap();
    phantom(d.path(), "1", "4", &["--dicom-rois"]);
    let o = ancilla_ok(&["scan", d.path().join("site-export").to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    let roi_lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(" SEG ") || l.contains(" RTSTRUCT "))
        .collect();
    assert_eq!(roi_lines.len(), 2, "{out}");
    for line in roi_lines {
        assert!(line.ends_with("(ROIs for series 3 (PT pet))"), "{line}");
        // One file, not "1 files".
        assert!(line.contains("    1 file  "), "{line}");
    }
    // Image series lines say nothing of it.
    assert_eq!(out.matches("(ROIs for").count(), 2, "{out}");
}

/// `convert` said only "13 files rejected": which kinds, it left to `scan`. The phantom's planted
/// defects (a non-DICOM file, a truncated file, a series with a missing slice), as its ground
/// truth lists them, are now counted by kind in convert-report.json (no paths) and on the
/// terminal, summing to the files rejected.
#[test]
fn convert_counts_its_rejected_files_by_kind() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    support::phantom(dir, "3", "5", &[]);
    let out = dir.join("nifti");
    let o = ancilla_ok(&[
        "convert",
        dir.join("site-export").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("convert-report.json")).unwrap())
            .unwrap();
    let kinds = report["rejected_by_reason"].as_object().unwrap();
    let count = |k: &str| kinds.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    // What the phantom planted: each file of a missing-slice series is in no volume.
    let mut planted: std::collections::BTreeMap<String, u64> = Default::default();
    for d in ground_truth(dir)["defects"].as_array().unwrap() {
        let (kind, n) = match d["kind"].as_str().unwrap() {
            "missing_slice" => {
                let series = dir.join("site-export").join(d["path"].as_str().unwrap());
                (
                    "series_geometry",
                    std::fs::read_dir(series).unwrap().count() as u64,
                )
            }
            other => (other, 1),
        };
        *planted.entry(kind.to_string()).or_default() += n;
    }
    assert_eq!(
        planted.len(),
        3,
        "the phantom plants three kinds: {planted:?}"
    );
    let by_convert: std::collections::BTreeMap<String, u64> = kinds
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(by_convert, planted);
    let total: u64 = planted.values().sum();
    assert_eq!(report["files_rejected"].as_u64(), Some(total), "{report}");
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("files rejected"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains(&format!("{} not dicom", count("not_dicom")))
            && line.contains(&format!("{} truncated", count("truncated")))
            && line.contains(&format!(
                "{} in series that make no volume",
                count("series_geometry")
            ))
            && line.contains("`ancilla scan` names each"),
        "{line}"
    );
}

/// An input with no DICOM file at all (an empty folder, or the wrong one) made `convert` succeed
/// with nothing written ("0 NIfTI files"), which a batch script takes for done. It now fails
/// with exit 2 and says so, as dcm2niix does ("Unable to find any DICOM images"). A damaged
/// DICOM file beside them is DICOM: reported, and the conversion succeeds.
#[test]
fn convert_of_an_input_without_dicom_fails() {
    let d = tempfile::tempdir().unwrap();
    let run = |input: &Path| {
        ancilla(&[
            "convert",
            input.to_str().unwrap(),
            "--out",
            d.path().join("out").to_str().unwrap(),
        ])
    };
    let empty = d.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = run(&empty);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no DICOM file in the input (it holds no file): nothing to convert"),
        "{err}"
    );
    let text = d.path().join("text");
    std::fs::create_dir_all(&text).unwrap();
    std::fs::write(text.join("notes.txt"), "not an image").unwrap();
    std::fs::write(text.join("more.txt"), "nor this").unwrap();
    let o = run(&text);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("(2 files, none DICOM)"), "{err}");
    // A compressed archive is said apart: its DICOM files are read once it is unpacked.
    let zipped = d.path().join("zipped");
    std::fs::create_dir_all(&zipped).unwrap();
    std::fs::write(zipped.join("export.zip"), b"PK\x03\x04 a zip's first bytes").unwrap();
    let o = run(&zipped);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("1 file rejected (1 archive;")
            && err.contains("(its one file is a compressed archive: unpack it first)"),
        "{err}"
    );
    // A truncated DICOM file beside them.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/transfer-syntaxes/rle/0.dcm");
    let bytes = std::fs::read(src).unwrap();
    std::fs::write(text.join("cut.dcm"), &bytes[..bytes.len() / 2]).unwrap();
    let o = run(&text);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("3 files rejected (2 not dicom, 1 truncated"),
        "{err}"
    );
}

/// `--quiet` hides progress, not the final summary (its help: "errors and the final summary
/// only"). Regression: `convert`, `scan`, `phantom` and `run` printed nothing under it, so a
/// cluster job's log did not say what it had done.
#[test]
fn quiet_commands_still_print_their_final_summary() {
    let d = tempfile::tempdir().unwrap();
    let quiet = |args: &[&str]| {
        let o = support::ancilla(&[&["--quiet"], args].concat());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let cohort = d.path().join("cohort");
    let c = cohort.to_str().unwrap();
    assert!(quiet(&["phantom", "--out", c, "--subjects", "1"]).starts_with("phantom: "));
    let export = cohort.join("site-export");
    let e = export.to_str().unwrap();
    let said = quiet(&["scan", e]);
    assert!(
        said.contains("scan: ") && said.contains(" rejected"),
        "{said}"
    );
    let out = d.path().join("nifti");
    let said = quiet(&["convert", e, "--out", out.to_str().unwrap()]);
    assert!(
        said.starts_with("convert: ") && said.lines().count() <= 2,
        "{said}"
    );
}

/// A file name that is not UTF-8 is listed with its other bytes escaped, so that the site can
/// find the file. Regression: the listing and the site log wrote U+FFFD, which names no file.
#[test]
#[cfg(unix)]
fn a_name_that_is_not_utf8_is_listed_so_the_file_can_be_found() {
    use std::os::unix::ffi::OsStrExt;
    let d = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"junk_\xff\xfe.txt");
    std::fs::write(d.path().join(name), b"not DICOM").unwrap();
    let o = support::ancilla(&["scan", d.path().to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("junk_\\xff\\xfe.txt: not DICOM"), "{out}");
}

/// Maps computed from a diffusion series, as an MR physicist's audit wrote them (pydicom, three
/// slices each): Siemens' FA and exponential ADC (`DERIVED\PRIMARY\DIFFUSION\FA\ND`, `...\EXP\ND`,
/// no b-value) are no DWI (no ADC can be fitted from them); an ADC map whose ImageType lost its
/// ADC value (`DERIVED\SECONDARY`), described as one, with its source DWI's TE 80 / TR 6000, is an
/// ADC, not a T2. Regression: dwi, dwi, t2, t2. The plain cases stay as they were.
#[test]
fn derived_diffusion_maps_are_classified_by_what_they_are() {
    let kind_of = |image_type: &str, desc: &str, uid: &str| -> SeriesKind {
        let d = tempfile::tempdir().unwrap();
        let slices: Vec<Slice> = (0..3)
            .map(|k| {
                let mut s = Slice::new(uid, [0.0, 0.0, 4.0 * k as f64], vec![100; 20]);
                s.instance = k + 1;
                s.extra.extend([
                    (tags::IMAGE_TYPE, VR::CS, image_type.to_string()),
                    (tags::SERIES_DESCRIPTION, VR::LO, desc.to_string()),
                    (tags::ECHO_TIME, VR::DS, "80".to_string()),
                    (tags::REPETITION_TIME, VR::DS, "6000".to_string()),
                    (tags::SCANNING_SEQUENCE, VR::CS, "EP".to_string()),
                ]);
                s
            })
            .collect();
        write_series(d.path(), &slices);
        let inv = ingest::scan_paths(&[d.path().to_path_buf()]).unwrap();
        assert_eq!(inv.series.len(), 1);
        inv.series[0].kind
    };
    let cases = [
        (
            "DERIVED\\PRIMARY\\DIFFUSION\\FA\\ND",
            "ep2d_diff_FA",
            SeriesKind::Mr,
        ),
        (
            "DERIVED\\PRIMARY\\DIFFUSION\\EXP\\ND",
            "ep2d_diff_EXP",
            SeriesKind::Mr,
        ),
        (
            "DERIVED\\SECONDARY",
            "Apparent Diffusion Coefficient (mm2/s)",
            SeriesKind::Adc,
        ),
        ("DERIVED\\SECONDARY", "ADC_map", SeriesKind::Adc),
        // GE's exponential ADC (a review: taken for an ADC by its "Apparent Diffusion" and
        // scaled 1000 times): no ADC.
        (
            "DERIVED\\PRIMARY\\DIFFUSION\\EADC",
            "Exponential Apparent Diffusion Coefficient",
            SeriesKind::Mr,
        ),
        (
            "DERIVED\\SECONDARY",
            "Exponential Apparent Diffusion Coefficient",
            SeriesKind::Mr,
        ),
        // Unchanged: an ADC by its ImageType; a trace-weighted DWI; a T2 described as ADC but
        // not derived (its TE and TR are its own).
        ("DERIVED\\PRIMARY\\DIFFUSION\\ADC\\ND", "", SeriesKind::Adc),
        (
            "DERIVED\\PRIMARY\\DIFFUSION\\TRACEW\\ND",
            "",
            SeriesKind::Dwi,
        ),
        ("ORIGINAL\\PRIMARY\\M\\ND", "ep2d_diff_ADC", SeriesKind::T2),
    ];
    for (i, (image_type, desc, expected)) in cases.into_iter().enumerate() {
        let uid = format!("1.2.3.88.{i}");
        assert_eq!(
            kind_of(image_type, desc, &uid),
            expected,
            "{image_type} {desc}"
        );
    }
}

/// A RescaleSlope of 0 is what the header says among images that give a number: that image's
/// values are its intercept, as dcm2niix reads it (a PET's blank slice, its scale made from its
/// maximum 0; a robustness audit found such a slice read with slope 1, its values 4× too high).
/// A series whose every image says 0 is read with slope 1 (a writer's placeholder), its
/// intercept kept: a CT's -1024 still gives HU (dcm2niix's file drops it: its scl_slope 0).
#[test]
fn a_zero_slope_is_read_as_the_header_says() {
    let d = tempfile::tempdir().unwrap();
    let mut slices: Vec<Slice> = (0..4)
        .map(|k| {
            let mut s = Slice::new("1.2.3.90.1", [0.0, 0.0, 2.0 * k as f64], vec![100; 20]);
            s.instance = k + 1;
            s.slope = 0.25;
            s.intercept = 1.0;
            s
        })
        .collect();
    slices[2].slope = 0.0;
    write_series(d.path(), &slices);
    let inv = ingest::scan_paths(&[d.path().to_path_buf()]).unwrap();
    assert!(inv.rejected.is_empty(), "{:?}", inv.rejected);
    let volume = &ancilla::volume::assemble::load_series(&inv.series[0]).unwrap()[0].volume;
    let along: Vec<f32> = (0..4).map(|k| volume.data[[k, 0, 0]]).collect();
    assert_eq!(along, [26.0, 26.0, 1.0, 26.0]);
    // Every slope 0: slope 1, the intercept kept.
    let d = tempfile::tempdir().unwrap();
    for s in slices.iter_mut() {
        s.slope = 0.0;
        s.intercept = -1024.0;
        s.modality = "CT";
        s.series_uid = "1.2.3.90.2".into();
    }
    write_series(d.path(), &slices);
    let inv = ingest::scan_paths(&[d.path().to_path_buf()]).unwrap();
    let volume = &ancilla::volume::assemble::load_series(&inv.series[0]).unwrap()[0].volume;
    assert!(volume.data.iter().all(|v| *v == -924.0));
}

/// Images at one slice position that lie apart within their plane are no repeats of one slice:
/// two stacks side by side at one height (200 mm apart), images stepping along their plane at
/// one height, a repeat after a table shift of 5 mm. The series is refused with the distance;
/// they were the volumes of one 4D file placed by the first (an audit of hand-made series).
/// Repeats less than half a pixel (at least 0.5 mm) apart are repeats (0.3 mm on 1 mm pixels
/// were refused at a quarter pixel; a review).
#[test]
fn images_at_one_position_apart_in_their_plane_are_refused() {
    type Place = fn(i32) -> [f64; 3];
    let cases: [(&str, Place, Option<&str>); 4] = [
        (
            "side by side",
            |k| [200.0 * f64::from(k / 6), 0.0, 2.0 * f64::from(k % 6)],
            Some("200"),
        ),
        (
            "stepping in plane",
            |k| [0.0, 2.5 * f64::from(k), 0.0],
            Some("2.5"),
        ),
        (
            "table shift",
            |k| [5.0 * f64::from(k / 6), 0.0, 2.0 * f64::from(k % 6)],
            Some("5"),
        ),
        (
            "within half a pixel",
            |k| [0.45 * f64::from(k / 6), 0.0, 2.0 * f64::from(k % 6)],
            None,
        ),
    ];
    for (i, (what, place, apart)) in cases.into_iter().enumerate() {
        let d = tempfile::tempdir().unwrap();
        let uid = format!("1.2.3.91.{i}");
        let slices: Vec<Slice> = (0..if what == "stepping in plane" { 6 } else { 12 })
            .map(|k| {
                let mut s = Slice::new(&uid, place(k), vec![k; 20]);
                s.instance = k + 1;
                s
            })
            .collect();
        write_series(d.path(), &slices);
        let inv = ingest::scan_paths(&[d.path().to_path_buf()]).unwrap();
        let plan = inv.series[0].plan.as_ref();
        match apart {
            Some(mm) => {
                let why = plan.unwrap_err();
                assert!(
                    why.starts_with(&format!(
                        "images at one slice position lie {mm} mm apart within their plane"
                    )),
                    "{what}: {why}"
                );
            }
            None => assert_eq!(plan.unwrap().len(), 2, "{what}"),
        }
    }
}

/// Two acquisitions of the same slices, the second 0.02 mm further along the normal, are said to
/// be positions that make no evenly spaced stack, not "missing slice ... (123 slices absent)".
#[test]
fn near_pairs_of_positions_are_not_said_as_missing_slices() {
    let d = tempfile::tempdir().unwrap();
    let slices: Vec<Slice> = (0..12)
        .map(|k| {
            let z = 2.5 * f64::from(k % 6) + 0.02 * f64::from(k / 6);
            let mut s = Slice::new("1.2.3.92", [0.0, 0.0, z], vec![k; 20]);
            s.instance = k + 1;
            s
        })
        .collect();
    write_series(d.path(), &slices);
    let inv = ingest::scan_paths(&[d.path().to_path_buf()]).unwrap();
    let why = inv.series[0].plan.as_ref().unwrap_err();
    assert!(
        why.starts_with(
            "slice positions are not one evenly spaced stack: 2.48 mm between slices 2 and 3"
        ),
        "{why}"
    );
    // One gap of a few slices is still a missing slice.
    let d = tempfile::tempdir().unwrap();
    let slices: Vec<Slice> = [0.0, 2.0, 4.0, 6.0, 8.0, 14.0]
        .iter()
        .enumerate()
        .map(|(k, z)| {
            let mut s = Slice::new("1.2.3.93", [0.0, 0.0, *z], vec![1; 20]);
            s.instance = k as i32 + 1;
            s
        })
        .collect();
    write_series(d.path(), &slices);
    let inv = ingest::scan_paths(&[d.path().to_path_buf()]).unwrap();
    let why = inv.series[0].plan.as_ref().unwrap_err();
    assert!(why.starts_with("missing slice: 6 mm"), "{why}");
}

/// A present RescaleSlope or RescaleIntercept that is not one finite number, an
/// ImageOrientationPatient that is not six finite numbers, an ImagePositionPatient not three or a
/// PixelSpacing not two rejects its file with the attribute named (a robustness audit: a slice's
/// NaN slope was read as 1, its values and SUV 4× too high; an intercept `0.25\7` as 0.25; a NaN
/// orientation as none, the series stacked by InstanceNumber and z-flipped; a position
/// `0\0\4\4\4` or a spacing `4\4\4` from their first values). An absent or empty slope is 1, six zeros no orientation, as
/// before; the other slices of the series are read.
#[test]
fn a_malformed_slope_intercept_or_orientation_rejects_its_file() {
    type Alter = fn(&mut Slice);
    let cases: [(&str, Alter, &str); 8] = [
        (
            "nan slope",
            |s| s.slope = f64::NAN,
            "RescaleSlope (0028,1053)",
        ),
        (
            "two intercepts",
            |s| {
                s.extra
                    .push((tags::RESCALE_INTERCEPT, VR::DS, "0.25\\7".into()))
            },
            "RescaleIntercept (0028,1052)",
        ),
        (
            "text slope",
            |s| s.extra.push((tags::RESCALE_SLOPE, VR::DS, "abc".into())),
            "RescaleSlope (0028,1053)",
        ),
        (
            "nan orientation",
            |s| s.iop = [f64::NAN, 0.0, 0.0, 0.0, 1.0, 0.0],
            "ImageOrientationPatient (0020,0037)",
        ),
        (
            "seven orientation values",
            |s| {
                s.extra.push((
                    tags::IMAGE_ORIENTATION_PATIENT,
                    VR::DS,
                    "1\\0\\0\\0\\1\\0\\1".into(),
                ))
            },
            "ImageOrientationPatient (0020,0037)",
        ),
        (
            "five position values",
            |s| {
                s.extra
                    .push((tags::IMAGE_POSITION_PATIENT, VR::DS, "0\\0\\4\\4\\4".into()))
            },
            "ImagePositionPatient (0020,0032)",
        ),
        (
            "nan position",
            |s| s.ipp = [0.0, f64::NAN, 2.0],
            "ImagePositionPatient (0020,0032)",
        ),
        (
            "three spacings",
            |s| {
                s.extra
                    .push((tags::PIXEL_SPACING, VR::DS, "4\\4\\4".into()))
            },
            "PixelSpacing (0028,0030)",
        ),
    ];
    for (i, (what, alter, attribute)) in cases.into_iter().enumerate() {
        let d = tempfile::tempdir().unwrap();
        let uid = format!("1.2.3.89.{i}");
        let mut slices: Vec<Slice> = (0..4)
            .map(|k| {
                let mut s = Slice::new(&uid, [0.0, 0.0, 2.0 * k as f64], vec![100; 20]);
                s.instance = k + 1;
                s.slope = 0.25;
                s
            })
            .collect();
        alter(&mut slices[1]);
        write_series(d.path(), &slices);
        let inv = ingest::scan_paths(&[d.path().to_path_buf()]).unwrap();
        assert_eq!(inv.rejected.len(), 1, "{what}");
        let said = inv.rejected[0].reason.to_string();
        assert!(
            matches!(inv.rejected[0].reason, RejectReason::MissingAttribute(_))
                && said.contains(attribute),
            "{what}: {said}"
        );
    }
    // A trailing backslash (an empty last value) is no reason: the slope read, the series placed
    // (a review: such a slope was refused; such an orientation read as none); five zeros are no
    // placeholder.
    let d = tempfile::tempdir().unwrap();
    let slices: Vec<Slice> = (0..3)
        .map(|k| {
            let mut s = Slice::new("1.2.3.89.8", [0.0, 0.0, 2.0 * k as f64], vec![100; 20]);
            s.instance = k + 1;
            s.extra.push((tags::RESCALE_SLOPE, VR::DS, "0.5\\".into()));
            s.extra.push((
                tags::IMAGE_ORIENTATION_PATIENT,
                VR::DS,
                "1\\0\\0\\0\\1\\0\\".into(),
            ));
            s
        })
        .collect();
    write_series(d.path(), &slices);
    let inv = ingest::scan_paths(&[d.path().to_path_buf()]).unwrap();
    assert!(inv.rejected.is_empty(), "{:?}", inv.rejected);
    let plans = inv.series[0].plan.as_ref().unwrap();
    assert!(plans[0].placed, "read as no orientation");
    let d = tempfile::tempdir().unwrap();
    let mut five = Slice::new("1.2.3.89.7", [0.0; 3], vec![100; 20]);
    five.extra.push((
        tags::IMAGE_ORIENTATION_PATIENT,
        VR::DS,
        "0\\0\\0\\0\\0".into(),
    ));
    write_series(d.path(), &[five]);
    assert_eq!(reasons(d.path()).len(), 1);
    // Absent and empty slopes, and a placeholder orientation of six zeros, are no reason.
    let d = tempfile::tempdir().unwrap();
    let mut slices: Vec<Slice> = (0..2)
        .map(|k| Slice::new("1.2.3.89.9", [0.0, 0.0, 2.0 * k as f64], vec![100; 20]))
        .collect();
    slices[0]
        .extra
        .push((tags::RESCALE_SLOPE, VR::DS, String::new()));
    for (k, s) in slices.iter_mut().enumerate() {
        s.iop = [0.0; 6];
        s.instance = k as i32 + 1;
    }
    write_series(d.path(), &slices);
    assert!(reasons(d.path()).is_empty());
}
