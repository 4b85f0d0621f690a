//! The phantom's renal MRI study (one frame of reference): an oblique axial T2 (rotated 12° about
//! the S axis), a DWI series with b = 0/400/800 s/mm² at the same slice positions (one series, as
//! scanners export it) with S = S0·exp(−b·ADC), and a scanner-style ADC map in 10⁻⁶ mm²/s
//! (ImageType DERIVED\PRIMARY\DIFFUSION\ADC). Values are uniform per region.

use std::path::Path;

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use ndarray::Array3;

use super::dicom_out::{ds, ds_multi, pixel_data_16, put, put_seq, put_us, write};
use super::enhanced_mr_iod;
use super::headers::{common, Study};
use super::pet::label_grid;
use super::{PhantomError, Subject};
use crate::datetime::format_tm;
use crate::volume::{cross, Geometry};

/// T2 grid: 160×160×30, 2.2 mm in plane, 5 mm slices, rotated 12° about S.
pub const T2_DIMS: [usize; 3] = [30, 160, 160];
/// DWI / ADC grid: 96×96×24, 3.6 mm in plane, 6 mm slices, axial.
pub const DWI_DIMS: [usize; 3] = [24, 96, 96];
/// Series folders inside the MR study folder.
pub const T2_DIR: &str = "004_t2_haste_ax_obl";
pub const DWI_DIR: &str = "006_ep2d_diff";
pub const ADC_DIR: &str = "007_ep2d_diff_ADC";
pub const B_VALUES: [f64; 3] = [0.0, 400.0, 800.0];

/// Region values: [body, tumour, kidney, liver, blood pool, parotid].
pub const T2_SIGNAL: [f64; 6] = [180.0, 620.0, 480.0, 260.0, 90.0, 400.0];
pub const S0: [f64; 6] = [700.0, 900.0, 1100.0, 600.0, 300.0, 800.0];
/// ADC in 10⁻⁶ mm²/s.
pub const ADC: [f64; 6] = [1600.0, 1100.0, 2000.0, 1200.0, 2900.0, 1500.0];

/// Stored DWI units per signal unit (the series' RescaleSlope is its inverse).
pub const DWI_SCALE: f64 = 16.0;

/// Ideal DWI signal of region `l` (0 = body) at b (s/mm²): S0·exp(−b·ADC).
pub fn dwi_signal(l: usize, b: f64) -> f64 {
    S0[l] * (-b * ADC[l] * 1e-6).exp()
}

/// DWI signal as stored × RescaleSlope (what a reader gets back).
pub fn dwi_signal_stored(l: usize, b: f64) -> f64 {
    (DWI_SCALE * dwi_signal(l, b)).round() / DWI_SCALE
}

fn centred(
    dims: [usize; 3],
    spacing: [f64; 3],
    row: [f64; 3],
    col: [f64; 3],
    centre: [f64; 3],
) -> Geometry {
    let n = cross(row, col);
    let half = |d: usize, s: f64| (d as f64 - 1.0) / 2.0 * s;
    let mut origin = centre;
    for a in 0..3 {
        origin[a] -= half(dims[2], spacing[0]) * row[a]
            + half(dims[1], spacing[1]) * col[a]
            + half(dims[0], spacing[2]) * n[a];
    }
    Geometry {
        origin,
        spacing,
        direction: [row, col, n],
    }
}

/// The oblique T2 grid.
pub fn t2_geometry() -> Geometry {
    let a = 12f64.to_radians();
    centred(
        T2_DIMS,
        [2.2, 2.2, 5.0],
        [a.cos(), a.sin(), 0.0],
        [-a.sin(), a.cos(), 0.0],
        [0.0, 40.0, 0.0],
    )
}

/// The DWI / ADC grid.
pub fn dwi_geometry() -> Geometry {
    centred(
        DWI_DIMS,
        [3.6, 3.6, 6.0],
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 40.0, 0.0],
    )
}

fn values(
    labels: &Array3<u8>,
    body: &Array3<bool>,
    table: impl Fn(usize) -> f64,
    k: usize,
) -> Vec<u16> {
    labels
        .index_axis(ndarray::Axis(0), k)
        .iter()
        .zip(body.index_axis(ndarray::Axis(0), k).iter())
        .map(|(&l, &b)| {
            if l > 0 {
                table(l as usize)
            } else if b {
                table(0)
            } else {
                0.0
            }
        })
        .map(|v| v.round().clamp(0.0, 65535.0) as u16)
        .collect()
}

struct SeriesSpec<'a> {
    number: u32,
    uid_part: &'a str,
    description: String,
    image_type: &'a str,
    geometry: Geometry,
    dims: [usize; 3],
    echo_ms: f64,
    repetition_ms: f64,
    sequence: &'a str,
}

fn series_base(s: &Subject, study: &Study, spec: &SeriesSpec) -> InMemDicomObject {
    let mut o = common(s, study);
    put(&mut o, tags::SOP_CLASS_UID, VR::UI, uids::MR_IMAGE_STORAGE);
    put(&mut o, tags::MODALITY, VR::CS, "MR");
    put(
        &mut o,
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        &s.uid(spec.uid_part),
    );
    put(
        &mut o,
        tags::SERIES_NUMBER,
        VR::IS,
        &spec.number.to_string(),
    );
    put(&mut o, tags::SERIES_DATE, VR::DA, &study.date);
    put(&mut o, tags::SERIES_TIME, VR::TM, &study.time);
    put(&mut o, tags::ACQUISITION_DATE, VR::DA, &study.date);
    put(&mut o, tags::SERIES_DESCRIPTION, VR::LO, &spec.description);
    put(&mut o, tags::PROTOCOL_NAME, VR::LO, &spec.description);
    put(&mut o, tags::IMAGE_TYPE, VR::CS, spec.image_type);
    put(&mut o, tags::SCANNING_SEQUENCE, VR::CS, spec.sequence);
    put(&mut o, tags::SEQUENCE_VARIANT, VR::CS, "SK\\SP");
    put(&mut o, tags::MR_ACQUISITION_TYPE, VR::CS, "2D");
    // Type 2 attributes of the MR Image and General Series modules, present and empty (unknown),
    // as PS3.3 allows: the series are valid MR Image objects (dciodvfy).
    put(&mut o, tags::SCAN_OPTIONS, VR::CS, "");
    put(&mut o, tags::ECHO_TRAIN_LENGTH, VR::IS, "");
    put(&mut o, tags::LATERALITY, VR::CS, "");
    put(&mut o, tags::ECHO_TIME, VR::DS, &ds(spec.echo_ms));
    put(
        &mut o,
        tags::REPETITION_TIME,
        VR::DS,
        &ds(spec.repetition_ms),
    );
    put(&mut o, tags::MAGNETIC_FIELD_STRENGTH, VR::DS, "1.5");
    put(&mut o, tags::FLIP_ANGLE, VR::DS, "90");
    let g = &spec.geometry;
    let iop = [g.direction[0], g.direction[1]].concat();
    put(
        &mut o,
        tags::IMAGE_ORIENTATION_PATIENT,
        VR::DS,
        &ds_multi(&iop),
    );
    put(
        &mut o,
        tags::PIXEL_SPACING,
        VR::DS,
        &ds_multi(&[g.spacing[1], g.spacing[0]]),
    );
    put(&mut o, tags::SLICE_THICKNESS, VR::DS, &ds(g.spacing[2]));
    put(
        &mut o,
        tags::SPACING_BETWEEN_SLICES,
        VR::DS,
        &ds(g.spacing[2]),
    );
    put_us(&mut o, tags::ROWS, spec.dims[1] as u16);
    put_us(&mut o, tags::COLUMNS, spec.dims[2] as u16);
    o
}

fn slice(
    base: &InMemDicomObject,
    s: &Subject,
    spec: &SeriesSpec,
    k: usize,
    instance: usize,
    pixels: &[u16],
) -> InMemDicomObject {
    let mut o = base.clone();
    put(
        &mut o,
        tags::SOP_INSTANCE_UID,
        VR::UI,
        &s.uid(&format!("{}.{instance}", spec.uid_part)),
    );
    put(&mut o, tags::INSTANCE_NUMBER, VR::IS, &instance.to_string());
    put(
        &mut o,
        tags::IMAGE_POSITION_PATIENT,
        VR::DS,
        &ds_multi(&spec.geometry.world(0.0, 0.0, k as f64)),
    );
    pixel_data_16(&mut o, pixels, false);
    o
}

/// What the MRI writer produced.
pub struct MriOut {
    pub files: usize,
    pub t2_labels: Array3<u8>,
}

/// Write the MRI study of subject `s` under `dir` (one folder per series).
pub fn write_mri(s: &Subject, dir: &Path) -> Result<MriOut, PhantomError> {
    let study = Study {
        uid: s.uid("2.1"),
        date: s.mri_date.to_da(),
        time: format_tm(9.0 * 3600.0 + 15.0 * 60.0),
        accession: &s.id.accession_mr,
        description: if s.describe_with_name {
            format!("MRI KIDNEYS {}", s.id.surname)
        } else {
            "MRI RENAL".into()
        },
        frame_of_reference: s.uid("2.9"),
        manufacturer: s.vendor.manufacturer(),
        model: s.vendor.mr_model(),
    };
    let mut files = 0;
    // T2.
    let t2 = SeriesSpec {
        number: 4,
        uid_part: "2.2",
        description: if s.describe_with_name {
            format!("t2_haste_obl {}", s.id.given)
        } else {
            "t2_haste_ax_obl".into()
        },
        image_type: "ORIGINAL\\PRIMARY\\M\\NORM\\DIS2D",
        geometry: t2_geometry(),
        dims: T2_DIMS,
        echo_ms: 95.0,
        repetition_ms: 4500.0,
        sequence: "SE",
    };
    let (t2_labels, t2_body) = label_grid(s, &t2.geometry, T2_DIMS);
    if s.enhanced_t2 {
        files += write_enhanced_t2(s, &study, &t2, &t2_labels, &t2_body, &dir.join(T2_DIR))?;
        return write_dwi_adc(s, &study, dir, files, t2_labels);
    }
    let base = series_base(s, &study, &t2);
    for k in 0..T2_DIMS[0] {
        let px = values(&t2_labels, &t2_body, |l| T2_SIGNAL[l], k);
        write(
            slice(&base, s, &t2, k, k + 1, &px),
            &dir.join(T2_DIR).join(format!("IM{:05}.dcm", k + 1)),
        )?;
        files += 1;
    }
    write_dwi_adc(s, &study, dir, files, t2_labels)
}

/// The DWI (b = 0/400/800 in one series) and ADC series.
fn write_dwi_adc(
    s: &Subject,
    study: &Study,
    dir: &Path,
    mut files: usize,
    t2_labels: Array3<u8>,
) -> Result<MriOut, PhantomError> {
    // DWI: three b-values in one series.
    let dwi = SeriesSpec {
        number: 6,
        uid_part: "2.3",
        description: "ep2d_diff_b0_400_800".into(),
        image_type: "ORIGINAL\\PRIMARY\\DIFFUSION\\NONE",
        geometry: dwi_geometry(),
        dims: DWI_DIMS,
        echo_ms: 70.0,
        repetition_ms: 5200.0,
        sequence: "EP",
    };
    let (dwi_labels, dwi_body) = label_grid(s, &dwi.geometry, DWI_DIMS);
    let mut base = series_base(s, study, &dwi);
    // Stored in 1/16 units (RescaleSlope 0.0625, exact in binary) so that ADC computed from the
    // b-values is within 0.2% of the truth even in the dark blood pool.
    put(&mut base, tags::RESCALE_SLOPE, VR::DS, "0.0625");
    put(&mut base, tags::RESCALE_INTERCEPT, VR::DS, "0");
    put(&mut base, tags::RESCALE_TYPE, VR::LO, "US");
    for (bi, b) in B_VALUES.iter().enumerate() {
        for k in 0..DWI_DIMS[0] {
            let instance = bi * DWI_DIMS[0] + k + 1;
            let px = values(&dwi_labels, &dwi_body, |l| DWI_SCALE * dwi_signal(l, *b), k);
            let mut o = slice(&base, s, &dwi, k, instance, &px);
            o.put(dicom_core::DataElement::new(
                dicom_core::Tag(0x0018, 0x9087),
                VR::FD,
                dicom_core::PrimitiveValue::from(*b),
            ));
            write(o, &dir.join(DWI_DIR).join(format!("IM{instance:05}.dcm")))?;
            files += 1;
        }
    }
    // ADC map, derived by the scanner.
    let adc = SeriesSpec {
        number: 7,
        uid_part: "2.4",
        description: "ep2d_diff_ADC".into(),
        image_type: "DERIVED\\PRIMARY\\DIFFUSION\\ADC",
        ..dwi
    };
    let base = series_base(s, study, &adc);
    for k in 0..DWI_DIMS[0] {
        let px = values(&dwi_labels, &dwi_body, |l| ADC[l], k);
        write(
            slice(&base, s, &adc, k, k + 1, &px),
            &dir.join(ADC_DIR).join(format!("IM{:05}.dcm", k + 1)),
        )?;
        files += 1;
    }
    Ok(MriOut { files, t2_labels })
}

fn item(tag: Tag, vr: VR, v: &str) -> InMemDicomObject {
    let mut o = InMemDicomObject::new_empty();
    put(&mut o, tag, vr, v);
    o
}

/// The T2 as one Enhanced MR Image (PS3.3 C.8.13, multi-frame functional groups): geometry in
/// the shared PixelMeasures / PlaneOrientation and per-frame PlanePosition items, frames stored
/// head-to-feet (reverse of the slice index), and a per-frame PixelValueTransformation whose
/// slope alternates 1 and 0.5 (stored values doubled on odd frames) so a reader that ignores
/// per-frame rescale gets visibly wrong values.
fn write_enhanced_t2(
    s: &Subject,
    study: &Study,
    spec: &SeriesSpec,
    labels: &Array3<u8>,
    body: &Array3<bool>,
    dir: &Path,
) -> Result<usize, PhantomError> {
    let g = &spec.geometry;
    let n = spec.dims[0];
    let mut o = common(s, study);
    put(
        &mut o,
        tags::SOP_CLASS_UID,
        VR::UI,
        uids::ENHANCED_MR_IMAGE_STORAGE,
    );
    put(&mut o, tags::SOP_INSTANCE_UID, VR::UI, &s.uid("2.2.1"));
    put(&mut o, tags::MODALITY, VR::CS, "MR");
    put(
        &mut o,
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        &s.uid(spec.uid_part),
    );
    put(
        &mut o,
        tags::SERIES_NUMBER,
        VR::IS,
        &spec.number.to_string(),
    );
    put(&mut o, tags::INSTANCE_NUMBER, VR::IS, "1");
    put(&mut o, tags::SERIES_DATE, VR::DA, &study.date);
    put(&mut o, tags::SERIES_TIME, VR::TM, &study.time);
    put(&mut o, tags::CONTENT_DATE, VR::DA, &study.date);
    put(&mut o, tags::CONTENT_TIME, VR::TM, &study.time);
    put(
        &mut o,
        tags::ACQUISITION_DATE_TIME,
        VR::DT,
        &format!("{}{}", study.date, study.time),
    );
    put(&mut o, tags::SERIES_DESCRIPTION, VR::LO, &spec.description);
    put(&mut o, tags::PROTOCOL_NAME, VR::LO, &spec.description);
    put(
        &mut o,
        tags::IMAGE_TYPE,
        VR::CS,
        "ORIGINAL\\PRIMARY\\T2\\NONE",
    );
    put(&mut o, tags::ECHO_PULSE_SEQUENCE, VR::CS, "SPIN");
    put(&mut o, tags::MR_ACQUISITION_TYPE, VR::CS, "2D");
    put(&mut o, tags::MAGNETIC_FIELD_STRENGTH, VR::DS, "1.5");
    put(&mut o, tags::NUMBER_OF_FRAMES, VR::IS, &n.to_string());
    let frame_time = format!("{}{}", study.date, study.time);
    enhanced_mr_iod::image_level(&mut o, "T2", &s.uid("2.2.9"));
    put_us(&mut o, tags::ROWS, spec.dims[1] as u16);
    put_us(&mut o, tags::COLUMNS, spec.dims[2] as u16);
    // Shared functional groups.
    let mut shared = InMemDicomObject::new_empty();
    let mut measures = item(
        tags::PIXEL_SPACING,
        VR::DS,
        &ds_multi(&[g.spacing[1], g.spacing[0]]),
    );
    put(
        &mut measures,
        tags::SLICE_THICKNESS,
        VR::DS,
        &ds(g.spacing[2]),
    );
    put(
        &mut measures,
        tags::SPACING_BETWEEN_SLICES,
        VR::DS,
        &ds(g.spacing[2]),
    );
    put_seq(&mut shared, tags::PIXEL_MEASURES_SEQUENCE, vec![measures]);
    let iop = [g.direction[0], g.direction[1]].concat();
    put_seq(
        &mut shared,
        tags::PLANE_ORIENTATION_SEQUENCE,
        vec![item(
            tags::IMAGE_ORIENTATION_PATIENT,
            VR::DS,
            &ds_multi(&iop),
        )],
    );
    let mut timing = InMemDicomObject::new_empty();
    // DS, as the dictionary has them (an FD here is unreadable once the file is implicit VR).
    timing.put(DataElement::new(
        tags::REPETITION_TIME,
        VR::DS,
        PrimitiveValue::from(format!("{}", spec.repetition_ms)),
    ));
    timing.put(DataElement::new(
        tags::FLIP_ANGLE,
        VR::DS,
        PrimitiveValue::from("90"),
    ));
    enhanced_mr_iod::timing(&mut timing);
    put_seq(
        &mut shared,
        tags::MR_TIMING_AND_RELATED_PARAMETERS_SEQUENCE,
        vec![timing],
    );
    let mut echo = InMemDicomObject::new_empty();
    echo.put(DataElement::new(
        tags::EFFECTIVE_ECHO_TIME,
        VR::FD,
        PrimitiveValue::from(spec.echo_ms),
    ));
    put_seq(&mut shared, tags::MR_ECHO_SEQUENCE, vec![echo]);
    put_seq(
        &mut shared,
        tags::MR_IMAGE_FRAME_TYPE_SEQUENCE,
        vec![enhanced_mr_iod::frame_type_item(
            "ORIGINAL\\PRIMARY\\T2\\NONE",
            "T2",
        )],
    );
    enhanced_mr_iod::shared_groups(&mut shared, (spec.dims[1] as u16, spec.dims[2] as u16));
    put_seq(
        &mut o,
        tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
        vec![shared],
    );
    // Per-frame groups and pixels, frames in reverse slice order.
    let mut per_frame = Vec::with_capacity(n);
    let mut pixels: Vec<u16> = Vec::with_capacity(n * spec.dims[1] * spec.dims[2]);
    for (f, k) in (0..n).rev().enumerate() {
        let scale = if f % 2 == 1 { 2.0 } else { 1.0 };
        let mut fg = InMemDicomObject::new_empty();
        let mut content = InMemDicomObject::new_empty();
        content.put(DataElement::new(
            tags::IN_STACK_POSITION_NUMBER,
            VR::UL,
            PrimitiveValue::from((k + 1) as u32),
        ));
        put(&mut content, tags::STACK_ID, VR::SH, "1");
        enhanced_mr_iod::frame_content(&mut content, (k + 1) as u32, &frame_time);
        put_seq(&mut fg, tags::FRAME_CONTENT_SEQUENCE, vec![content]);
        put_seq(
            &mut fg,
            tags::PLANE_POSITION_SEQUENCE,
            vec![item(
                tags::IMAGE_POSITION_PATIENT,
                VR::DS,
                &ds_multi(&g.world(0.0, 0.0, k as f64)),
            )],
        );
        let mut pvt = item(tags::RESCALE_INTERCEPT, VR::DS, "0");
        put(&mut pvt, tags::RESCALE_SLOPE, VR::DS, &ds(1.0 / scale));
        put(&mut pvt, tags::RESCALE_TYPE, VR::LO, "US");
        put_seq(
            &mut fg,
            tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
            vec![pvt],
        );
        per_frame.push(fg);
        pixels.extend(values(labels, body, |l| scale * T2_SIGNAL[l], k));
    }
    put_seq(
        &mut o,
        tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
        per_frame,
    );
    pixel_data_16(&mut o, &pixels, false);
    write(o, &dir.join("IM00001.dcm"))?;
    Ok(1)
}

/// Planted defect: an extra axial T1 series (12 slices of 4 mm) with slice 6 missing.
pub fn write_gapped_t1(s: &Subject, dir: &Path) -> Result<usize, PhantomError> {
    let study = Study {
        uid: s.uid("2.1"),
        date: s.mri_date.to_da(),
        time: format_tm(9.0 * 3600.0 + 15.0 * 60.0),
        accession: &s.id.accession_mr,
        description: "MRI RENAL".into(),
        frame_of_reference: s.uid("2.9"),
        manufacturer: s.vendor.manufacturer(),
        model: s.vendor.mr_model(),
    };
    let dims = [12, 64, 64];
    let spec = SeriesSpec {
        number: 9,
        uid_part: "2.5",
        description: "t1_vibe_ax".into(),
        image_type: "ORIGINAL\\PRIMARY\\M\\NORM",
        geometry: centred(
            dims,
            [5.0, 5.0, 4.0],
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 40.0, 0.0],
        ),
        dims,
        echo_ms: 2.4,
        repetition_ms: 5.1,
        sequence: "GR",
    };
    let (labels, body) = label_grid(s, &spec.geometry, dims);
    let base = series_base(s, &study, &spec);
    let mut n = 0;
    for k in (0..dims[0]).filter(|k| *k != 5) {
        let px = values(
            &labels,
            &body,
            |l| [120.0, 300.0, 350.0, 420.0, 500.0, 380.0][l],
            k,
        );
        write(
            slice(&base, s, &spec, k, k + 1, &px),
            &dir.join("009_t1_vibe_ax")
                .join(format!("IM{:05}.dcm", k + 1)),
        )?;
        n += 1;
    }
    Ok(n)
}
