//! Test support: small DICOM files built with dicom-rs, and a runner for the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

/// Run the ancilla binary.
pub fn ancilla(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ancilla"))
        .args(args)
        .output()
        .expect("run ancilla")
}

/// Run the ancilla binary and require success; a failure shows the command and its stderr.
pub fn ancilla_ok(args: &[&str]) -> Output {
    let out = ancilla(args);
    assert!(
        out.status.success(),
        "ancilla {} failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A DICOMDIR (the media's index, PS3.10 §8) written to `path`, with one patient record naming
/// `patient` (PatientName and PatientID).
pub fn write_dicomdir(path: &Path, patient: &str) {
    use dicom_core::value::{DataSetSequence, Value};
    let mut record = InMemDicomObject::new_empty();
    for (tag, vr, v) in [
        (tags::DIRECTORY_RECORD_TYPE, VR::CS, "PATIENT"),
        (tags::PATIENT_NAME, VR::PN, patient),
        (tags::PATIENT_ID, VR::LO, patient),
    ] {
        record.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
    }
    let mut obj = InMemDicomObject::new_empty();
    obj.put(DataElement::new(
        tags::FILE_SET_ID,
        VR::CS,
        PrimitiveValue::from("SITE"),
    ));
    obj.put(DataElement::new(
        tags::DIRECTORY_RECORD_SEQUENCE,
        VR::SQ,
        Value::from(DataSetSequence::from(vec![record])),
    ));
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
                .media_storage_sop_class_uid("1.2.840.10008.1.3.10")
                .media_storage_sop_instance_uid("1.2.3.4.10"),
        )
        .unwrap();
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    file.write_to_file(path).unwrap();
}

/// Every file below `dir`, sorted.
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
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

/// `ancilla convert INPUT --out OUT`, which must succeed.
pub fn convert(input: &Path, out: &Path) {
    ancilla_ok(&[
        "convert",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
}

/// Generate the phantom cohort into `dir`; `extra` are further `ancilla phantom` options. Fails
/// the test with ancilla's stderr when generation fails.
pub fn phantom(dir: &Path, subjects: &str, seed: &str, extra: &[&str]) {
    let out = dir.to_str().expect("UTF-8 temp path");
    let mut args = vec![
        "phantom",
        "--out",
        out,
        "--subjects",
        subjects,
        "--seed",
        seed,
    ];
    args.extend_from_slice(extra);
    ancilla_ok(&args);
}

/// The ground truth JSON of a phantom cohort generated into `dir`.
pub fn ground_truth(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("ground_truth.json")).unwrap()).unwrap()
}

/// One slice to write.
#[derive(Clone)]
pub struct Slice {
    pub rows: u16,
    pub cols: u16,
    pub ipp: [f64; 3],
    pub iop: [f64; 6],
    /// [between rows, between columns]
    pub ps: [f64; 2],
    pub values: Vec<i32>,
    pub slope: f64,
    pub intercept: f64,
    pub modality: &'static str,
    pub series_uid: String,
    pub instance: i32,
    pub bits: u16,
    pub signed: bool,
    pub b_value: Option<f64>,
    pub extra: Vec<(Tag, VR, String)>,
}

impl Slice {
    pub fn new(series_uid: &str, ipp: [f64; 3], values: Vec<i32>) -> Self {
        Slice {
            rows: 4,
            cols: 5,
            ipp,
            iop: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            ps: [0.8, 0.7],
            values,
            slope: 1.0,
            intercept: 0.0,
            modality: "MR",
            series_uid: series_uid.to_string(),
            instance: 1,
            bits: 16,
            signed: false,
            b_value: None,
            extra: Vec::new(),
        }
    }
}

fn ds(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x}"))
        .collect::<Vec<_>>()
        .join("\\")
}

fn put(obj: &mut InMemDicomObject, tag: Tag, vr: VR, v: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
}

/// The data set of a slice (without file meta).
pub fn slice_object(s: &Slice, sop_uid: &str) -> InMemDicomObject {
    let mut o = InMemDicomObject::new_empty();
    let sop_class = if s.modality == "PT" {
        uids::POSITRON_EMISSION_TOMOGRAPHY_IMAGE_STORAGE
    } else if s.modality == "CT" {
        uids::CT_IMAGE_STORAGE
    } else {
        uids::MR_IMAGE_STORAGE
    };
    put(&mut o, tags::SOP_CLASS_UID, VR::UI, sop_class);
    put(&mut o, tags::SOP_INSTANCE_UID, VR::UI, sop_uid);
    put(&mut o, tags::MODALITY, VR::CS, s.modality);
    put(&mut o, tags::PATIENT_ID, VR::LO, "TESTPAT");
    put(&mut o, tags::PATIENT_NAME, VR::PN, "Doe^Jane");
    put(&mut o, tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3.4.1");
    put(&mut o, tags::SERIES_INSTANCE_UID, VR::UI, &s.series_uid);
    put(&mut o, tags::SERIES_NUMBER, VR::IS, "3");
    put(
        &mut o,
        tags::INSTANCE_NUMBER,
        VR::IS,
        &s.instance.to_string(),
    );
    put(&mut o, tags::IMAGE_POSITION_PATIENT, VR::DS, &ds(&s.ipp));
    put(&mut o, tags::IMAGE_ORIENTATION_PATIENT, VR::DS, &ds(&s.iop));
    put(&mut o, tags::PIXEL_SPACING, VR::DS, &ds(&s.ps));
    put(&mut o, tags::SLICE_THICKNESS, VR::DS, "2");
    put(&mut o, tags::ROWS, VR::US, &s.rows.to_string());
    put(&mut o, tags::COLUMNS, VR::US, &s.cols.to_string());
    o.put(DataElement::new(
        tags::ROWS,
        VR::US,
        PrimitiveValue::from(s.rows),
    ));
    o.put(DataElement::new(
        tags::COLUMNS,
        VR::US,
        PrimitiveValue::from(s.cols),
    ));
    o.put(DataElement::new(
        tags::SAMPLES_PER_PIXEL,
        VR::US,
        PrimitiveValue::from(1u16),
    ));
    put(
        &mut o,
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        "MONOCHROME2",
    );
    o.put(DataElement::new(
        tags::BITS_ALLOCATED,
        VR::US,
        PrimitiveValue::from(s.bits),
    ));
    o.put(DataElement::new(
        tags::BITS_STORED,
        VR::US,
        PrimitiveValue::from(s.bits),
    ));
    o.put(DataElement::new(
        tags::HIGH_BIT,
        VR::US,
        PrimitiveValue::from(s.bits - 1),
    ));
    o.put(DataElement::new(
        tags::PIXEL_REPRESENTATION,
        VR::US,
        PrimitiveValue::from(u16::from(s.signed)),
    ));
    put(&mut o, tags::RESCALE_SLOPE, VR::DS, &format!("{}", s.slope));
    put(
        &mut o,
        tags::RESCALE_INTERCEPT,
        VR::DS,
        &format!("{}", s.intercept),
    );
    if let Some(b) = s.b_value {
        put(&mut o, Tag(0x0018, 0x9087), VR::FD, "0");
        o.put(DataElement::new(
            Tag(0x0018, 0x9087),
            VR::FD,
            PrimitiveValue::from(b),
        ));
    }
    for (t, vr, v) in &s.extra {
        if *vr == VR::FD || *vr == VR::FL {
            // Binary numbers: the text holds them separated by backslashes.
            let numbers: Vec<f64> = v.split('\\').filter_map(|x| x.parse().ok()).collect();
            let value = if *vr == VR::FD {
                PrimitiveValue::F64(numbers.into())
            } else {
                PrimitiveValue::F32(numbers.iter().map(|x| *x as f32).collect())
            };
            o.put(DataElement::new(*t, *vr, value));
        } else if *vr == VR::US || *vr == VR::SS {
            // Binary integers, as the floats above.
            let numbers: Vec<i64> = v.split('\\').filter_map(|x| x.parse().ok()).collect();
            let value = if *vr == VR::US {
                PrimitiveValue::U16(numbers.iter().map(|x| *x as u16).collect())
            } else {
                PrimitiveValue::I16(numbers.iter().map(|x| *x as i16).collect())
            };
            o.put(DataElement::new(*t, *vr, value));
        } else if *vr == VR::OB {
            // Bytes: the text holds them in hex.
            let bytes: Vec<u8> = (0..v.len() / 2)
                .filter_map(|i| u8::from_str_radix(&v[2 * i..2 * i + 2], 16).ok())
                .collect();
            o.put(DataElement::new(*t, *vr, PrimitiveValue::from(bytes)));
        } else {
            put(&mut o, *t, *vr, v);
        }
    }
    let bytes: Vec<u8> = match s.bits {
        8 => s.values.iter().map(|v| *v as u8).collect(),
        16 => s
            .values
            .iter()
            .flat_map(|v| (*v as i16).to_le_bytes())
            .collect(),
        _ => s.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    };
    o.put(DataElement::new(
        tags::PIXEL_DATA,
        if s.bits == 8 { VR::OB } else { VR::OW },
        PrimitiveValue::U8(bytes.into()),
    ));
    o
}

/// Write a data set as a Part-10 file (explicit VR little endian unless `ts` says otherwise).
pub fn write_object(obj: InMemDicomObject, path: &Path, ts: &str) {
    let class = obj
        .element(tags::SOP_CLASS_UID)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let inst = obj
        .element(tags::SOP_INSTANCE_UID)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(ts)
                .media_storage_sop_class_uid(class)
                .media_storage_sop_instance_uid(inst),
        )
        .unwrap();
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    file.write_to_file(path).unwrap();
}

/// A Part 10 file's data set alone: what follows its preamble, DICM code and file meta group (an
/// ACR-NEMA-style file, or a raw export), in the transfer syntax the file states.
pub fn without_part10_header(part10: &[u8]) -> Vec<u8> {
    assert_eq!(&part10[128..132], b"DICM");
    // (0002,0000) UL, 4 bytes: the meta group's length after it.
    assert_eq!(&part10[132..138], [2, 0, 0, 0, b'U', b'L']);
    let meta = u32::from_le_bytes(part10[140..144].try_into().unwrap()) as usize;
    part10[144 + meta..].to_vec()
}

/// A Part 10 file (explicit VR little endian, native Pixel Data) whose data set is rewritten in
/// implicit VR, its file meta group unchanged: still stating explicit VR, a writer's fault.
pub fn with_implicit_vr_body(part10: &[u8]) -> Vec<u8> {
    use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
    assert_eq!(&part10[132..138], [2, 0, 0, 0, b'U', b'L']);
    let meta = u32::from_le_bytes(part10[140..144].try_into().unwrap()) as usize;
    let obj = dicom_object::OpenFileOptions::new()
        .from_reader(part10)
        .unwrap();
    let implicit = dicom_transfer_syntax_registry::TransferSyntaxRegistry
        .get(dicom_dictionary_std::uids::IMPLICIT_VR_LITTLE_ENDIAN)
        .unwrap();
    let mut out = part10[..144 + meta].to_vec();
    obj.write_dataset_with_ts(&mut out, implicit).unwrap();
    assert_ne!(&out[144 + meta..], &part10[144 + meta..], "re-encoded");
    out
}

/// A Part 10 file without the group length (0002,0000) of its file meta group (which some
/// writers leave out).
pub fn without_meta_group_length(part10: &[u8]) -> Vec<u8> {
    assert_eq!(&part10[132..138], [2, 0, 0, 0, b'U', b'L']);
    [&part10[..132], &part10[144..]].concat()
}

/// A Part 10 file with a Source Application Entity Title (0002,0016) of 18 bytes added at the end
/// of its file meta group (its group length counting it), as DCMTK 3.5.4 wrote one GE localizer
/// (npm `dicomweb-client`'s testData/sample3.dcm): dicom-rs bounds the title to 16 bytes.
pub fn with_long_source_ae_title(part10: &[u8]) -> Vec<u8> {
    assert_eq!(&part10[132..138], [2, 0, 0, 0, b'U', b'L']);
    let len = u32::from_le_bytes(part10[140..144].try_into().unwrap()) as usize;
    let mut element = vec![2, 0, 0x16, 0, b'A', b'E', 18, 0];
    element.extend_from_slice(b"                \x13 ");
    let mut out = [&part10[..144 + len], &element, &part10[144 + len..]].concat();
    out[140..144].copy_from_slice(&((len + element.len()) as u32).to_le_bytes());
    assert!(dicom_object::OpenFileOptions::new()
        .from_reader(&out[..])
        .is_err());
    out
}

/// A Part 10 file (explicit VR little endian, its Pixel Data last) with a private sequence of
/// unknown VR inserted before its Pixel Data, as a converter that did not know the sequence's VR
/// writes it (PS3.5 §6.2.2: UN of undefined length, items in implicit VR): private creator
/// (0029,0010) "ACME 1", then (0029,1010) UN holding one item with PatientName `name` and a
/// nested sequence of undefined length (ReferencedImageSequence, one item of defined length).
pub fn with_unknown_sequence(part10: &[u8], name: &str) -> Vec<u8> {
    let mut inserted = Vec::new();
    inserted.extend_from_slice(&[0x29, 0x00, 0x10, 0x00, b'L', b'O', 6, 0]);
    inserted.extend_from_slice(b"ACME 1");
    inserted.extend_from_slice(&unknown_sequence(0x0029, 0x1010, name));
    before_pixel_data(part10, &inserted)
}

/// `bytes` inserted into a Part 10 file (explicit VR little endian) before its Pixel Data.
pub fn before_pixel_data(part10: &[u8], bytes: &[u8]) -> Vec<u8> {
    let at = part10
        .windows(6)
        .rposition(|w| w[..4] == [0xE0, 0x7F, 0x10, 0x00] && (&w[4..] == b"OW" || &w[4..] == b"OB"))
        .expect("Pixel Data");
    [&part10[..at], bytes, &part10[at..]].concat()
}

/// The element (group, element) as UN of undefined length (explicit VR), its value one item in
/// implicit VR (PS3.5 §6.2.2) with PatientName `name` and a nested sequence of undefined length.
pub fn unknown_sequence(group: u16, element: u16, name: &str) -> Vec<u8> {
    let implicit = |out: &mut Vec<u8>, group: u16, element: u16, value: &[u8]| {
        out.extend_from_slice(&group.to_le_bytes());
        out.extend_from_slice(&element.to_le_bytes());
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value);
    };
    let mut name = name.as_bytes().to_vec();
    if name.len() % 2 == 1 {
        name.push(b' ');
    }
    let mut item = Vec::new();
    implicit(&mut item, 0x0010, 0x0010, &name);
    // ReferencedImageSequence of undefined length, one item of defined length.
    let mut inner = Vec::new();
    implicit(&mut inner, 0x0008, 0x1155, b"1.2.3.4.5.6\0");
    item.extend_from_slice(&[0x08, 0x00, 0x40, 0x11, 0xFF, 0xFF, 0xFF, 0xFF]);
    implicit(&mut item, 0xFFFE, 0xE000, &inner);
    item.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    let mut out = Vec::new();
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&element.to_le_bytes());
    out.extend_from_slice(&[b'U', b'N', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
    out.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    out.extend_from_slice(&item);
    out.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
    out.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    out
}

/// `ancilla convert` of `a` and of `b` (into `scratch/converted-a`, `scratch/converted-b`) give
/// the same files, byte for byte.
pub fn assert_converts_the_same(a: &Path, b: &Path, scratch: &Path) {
    let (na, nb) = (scratch.join("converted-a"), scratch.join("converted-b"));
    convert(a, &na);
    convert(b, &nb);
    assert_same_trees(&na, &nb);
}

/// The files of two trees (relative paths and bytes) are the same.
pub fn assert_same_trees(a: &Path, b: &Path) {
    let list = |d: &Path| {
        let mut v: Vec<(PathBuf, Vec<u8>)> = ancilla::ingest::walk::walk(&[d.to_path_buf()])
            .files
            .into_iter()
            .map(|f| {
                (
                    f.strip_prefix(d).unwrap().to_path_buf(),
                    std::fs::read(&f).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let (la, lb) = (list(a), list(b));
    let names = |l: &[(PathBuf, Vec<u8>)]| l.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&la), names(&lb));
    for ((name, x), (_, y)) in la.iter().zip(&lb) {
        assert!(x == y, "{} differs", name.display());
    }
}

/// Write slices as files `name_{n}.dcm` in `dir` (n = order given, not position order).
pub fn write_series(dir: &Path, slices: &[Slice]) -> Vec<PathBuf> {
    slices
        .iter()
        .enumerate()
        .map(|(n, s)| {
            let p = dir.join(format!("im_{n:03}.dcm"));
            let uid = format!("{}.{}", s.series_uid, n + 1);
            write_object(slice_object(s, &uid), &p, uids::EXPLICIT_VR_LITTLE_ENDIAN);
            p
        })
        .collect()
}

/// World position of pixel (i = column, j = row) of a slice: IPP + i·Δc·row + j·Δr·col,
/// straight from PS3.3 C.7.6.2.1.1 (independent of ancilla's Geometry).
pub fn pixel_world(s: &Slice, i: usize, j: usize) -> [f64; 3] {
    let r = [s.iop[0], s.iop[1], s.iop[2]];
    let c = [s.iop[3], s.iop[4], s.iop[5]];
    let mut p = s.ipp;
    for a in 0..3 {
        p[a] += i as f64 * s.ps[1] * r[a] + j as f64 * s.ps[0] * c[a];
    }
    p
}

/// A GE EPI time series of 2 volumes × 6 axial slices 4 mm apart (`descending`: instance order
/// from the top down), RepetitionTime 2000 ms, with the private attributes GE's slice times come
/// from (creators in block 0x10): pulse sequence name `pulse` (0019,109C), an epiRT group delay
/// of 0.1 s (0043,107C) when `group_delay`, and a Protocol Data Block (0025,101B: a 4-byte
/// length, then a gzip stream) of `protocol`'s lines when given.
pub fn ge_epi_series(
    series_uid: &str,
    pulse: &str,
    group_delay: bool,
    protocol: Option<&str>,
    descending: bool,
) -> Vec<Slice> {
    use std::io::Write;
    let block = protocol.map(|text| {
        let mut gz = flate2::GzBuilder::new()
            .mtime(0)
            .write(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let mut value = (gz.len() as u32).to_le_bytes().to_vec();
        value.extend_from_slice(&gz);
        value.iter().map(|b| format!("{b:02x}")).collect::<String>()
    });
    let mut out = Vec::new();
    for t in 0..2 {
        for k in 0..6 {
            let z = if descending { 5 - k } else { k };
            let values = (0..20).map(|i| i + 30 * z + 7 * t).collect();
            let mut s = Slice::new(series_uid, [0.0, 0.0, 4.0 * z as f64], values);
            s.instance = t * 6 + k + 1;
            s.extra.extend([
                (tags::MANUFACTURER, VR::LO, "GE MEDICAL SYSTEMS".into()),
                (
                    tags::SOFTWARE_VERSIONS,
                    VR::LO,
                    "27\\LX\\MR Software release:RX27.0_R02_1831.a".into(),
                ),
                (tags::MR_ACQUISITION_TYPE, VR::CS, "2D".into()),
                (tags::REPETITION_TIME, VR::DS, "2000".into()),
                (Tag(0x0019, 0x0010), VR::LO, "GEMS_ACQU_01".into()),
                (Tag(0x0019, 0x109C), VR::LO, pulse.into()),
            ]);
            if let Some(b) = &block {
                s.extra
                    .push((Tag(0x0025, 0x0010), VR::LO, "GEMS_SERS_01".into()));
                s.extra.push((Tag(0x0025, 0x101B), VR::OB, b.clone()));
            }
            if group_delay {
                s.extra
                    .push((Tag(0x0043, 0x0010), VR::LO, "GEMS_PARM_01".into()));
                s.extra.push((Tag(0x0043, 0x107C), VR::FL, "0.1".into()));
                // Table position information and the table delta: dcm2niix's TablePosition z is
                // 17.9108 - 1.1 = 16.8108.
                s.extra.push((
                    Tag(0x0043, 0x10B2),
                    VR::LO,
                    "960.5\\400\\17.9108\\0\\-9999\\-9999".into(),
                ));
                s.extra.push((Tag(0x0019, 0x107F), VR::DS, "1.1".into()));
                // Echo spacing (µs) and ASSET factors: GE's readout time.
                s.extra.push((Tag(0x0043, 0x102C), VR::SS, "560".into()));
                s.extra.push((Tag(0x0043, 0x1083), VR::DS, "0.5\\1".into()));
            }
            out.push(s);
        }
    }
    out
}
