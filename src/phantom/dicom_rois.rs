//! The phantom's DICOM ROI objects on the PET (`ancilla phantom --dicom-rois`): a binary DICOM
//! Segmentation (PS3.3 A.51) of all five labels, frame by frame from the PET label grid, and an RT
//! Structure Set (PS3.3 A.19) whose tumour and liver contours are the analytic ellipsoids cut at
//! each PET slice plane (polygons of many vertices), so the rasterised ROI can be checked against
//! the label grid. Both reference the PET series and carry the subject's fake PHI (reader names,
//! dates) for de-identification to remove.

use std::path::Path;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use ndarray::Array3;

use super::anatomy::{Ellipsoid, LABELS};
use super::dicom_out::{code, ds, ds_multi, put, put_dimensions, put_seq, put_us, write};
use super::headers::common;
use super::{pet, PhantomError, Subject};

/// The ROI series folders inside the PET study folder.
pub const SEG_DIR: &str = "900_SEG_CORELAB";
pub const RTSTRUCT_DIR: &str = "901_RTSTRUCT_CORELAB";
/// Vertices per RTSTRUCT contour polygon.
pub const CONTOUR_POINTS: usize = 360;

fn sop_of_slice(s: &Subject, k: usize) -> String {
    // As `pet::write_pet` numbers its instances: instance 1 is the head end.
    s.uid(&format!("1.3.{}", pet::DIMS[0] - k))
}

fn reference(class: &str, instance: &str) -> InMemDicomObject {
    let mut o = InMemDicomObject::new_empty();
    put(&mut o, tags::REFERENCED_SOP_CLASS_UID, VR::UI, class);
    put(&mut o, tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, instance);
    o
}

fn base(s: &Subject, class: &str, modality: &str, series: &str, number: &str) -> InMemDicomObject {
    let study = pet::study(s);
    let mut o = common(s, &study);
    put(&mut o, tags::SOP_CLASS_UID, VR::UI, class);
    put(&mut o, tags::MODALITY, VR::CS, modality);
    put(&mut o, tags::SERIES_INSTANCE_UID, VR::UI, &s.uid(series));
    put(
        &mut o,
        tags::SOP_INSTANCE_UID,
        VR::UI,
        &s.uid(&format!("{series}.1")),
    );
    put(&mut o, tags::SERIES_NUMBER, VR::IS, number);
    put(&mut o, tags::INSTANCE_NUMBER, VR::IS, "1");
    put(&mut o, tags::SERIES_DATE, VR::DA, &study.date);
    put(&mut o, tags::CONTENT_DATE, VR::DA, &study.date);
    put(&mut o, tags::CONTENT_TIME, VR::TM, "120000");
    o
}

/// Write the SEG of the PET labels; returns the number of files (1).
pub fn write_seg(s: &Subject, labels: &Array3<u8>, dir: &Path) -> Result<usize, PhantomError> {
    let g = pet::geometry();
    let [nk, rows, cols] = pet::DIMS;
    let mut o = base(s, uids::SEGMENTATION_STORAGE, "SEG", "1.4", "900");
    put(&mut o, tags::SERIES_DESCRIPTION, VR::LO, "Core lab ROIs");
    put(&mut o, tags::IMAGE_TYPE, VR::CS, "DERIVED\\PRIMARY");
    put(&mut o, tags::CONTENT_LABEL, VR::CS, "ROIS");
    put(&mut o, tags::CONTENT_DESCRIPTION, VR::LO, "Core lab ROIs");
    put(&mut o, tags::SOFTWARE_VERSIONS, VR::LO, "ancilla phantom");
    // Frames indexed by segment, then position (PS3.3 C.8.20.2).
    put_dimensions(
        &mut o,
        &s.uid("1.4.9"),
        &[
            (
                tags::REFERENCED_SEGMENT_NUMBER,
                tags::SEGMENT_IDENTIFICATION_SEQUENCE,
            ),
            (tags::IMAGE_POSITION_PATIENT, tags::PLANE_POSITION_SEQUENCE),
        ],
    );
    put(&mut o, tags::CONTENT_CREATOR_NAME, VR::PN, &s.id.performing);
    put(&mut o, tags::SEGMENTATION_TYPE, VR::CS, "BINARY");
    put(&mut o, tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00");
    put_us(&mut o, tags::SAMPLES_PER_PIXEL, 1);
    put(
        &mut o,
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        "MONOCHROME2",
    );
    put_us(&mut o, tags::ROWS, rows as u16);
    put_us(&mut o, tags::COLUMNS, cols as u16);
    put_us(&mut o, tags::BITS_ALLOCATED, 1);
    put_us(&mut o, tags::BITS_STORED, 1);
    put_us(&mut o, tags::HIGH_BIT, 0);
    put_us(&mut o, tags::PIXEL_REPRESENTATION, 0);
    let segments: Vec<InMemDicomObject> = LABELS
        .iter()
        .map(|(l, name)| {
            let mut it = InMemDicomObject::new_empty();
            put_us(&mut it, tags::SEGMENT_NUMBER, u16::from(*l));
            // Display-style labels ("Bloodpool"): readers lower-case them.
            let mut label = name.to_string();
            label[..1].make_ascii_uppercase();
            put(&mut it, tags::SEGMENT_LABEL, VR::LO, &label);
            put(&mut it, tags::SEGMENT_ALGORITHM_TYPE, VR::CS, "MANUAL");
            put_seq(
                &mut it,
                tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE,
                vec![code("91723000", "SCT", "Anatomical Structure")],
            );
            put_seq(
                &mut it,
                tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE,
                vec![code("123037004", "SCT", "Anatomical Structure")],
            );
            it
        })
        .collect();
    put_seq(&mut o, tags::SEGMENT_SEQUENCE, segments);
    let mut orient = InMemDicomObject::new_empty();
    put(
        &mut orient,
        tags::IMAGE_ORIENTATION_PATIENT,
        VR::DS,
        "1\\0\\0\\0\\1\\0",
    );
    let mut measures = InMemDicomObject::new_empty();
    put(
        &mut measures,
        tags::PIXEL_SPACING,
        VR::DS,
        &ds_multi(&[pet::SPACING, pet::SPACING]),
    );
    put(
        &mut measures,
        tags::SLICE_THICKNESS,
        VR::DS,
        &ds(pet::SPACING),
    );
    put(
        &mut measures,
        tags::SPACING_BETWEEN_SLICES,
        VR::DS,
        &ds(pet::SPACING),
    );
    let mut shared = InMemDicomObject::new_empty();
    put_seq(&mut shared, tags::PLANE_ORIENTATION_SEQUENCE, vec![orient]);
    put_seq(&mut shared, tags::PIXEL_MEASURES_SEQUENCE, vec![measures]);
    put_seq(
        &mut o,
        tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
        vec![shared],
    );
    // Frames: per segment, every slice the label touches.
    let mut per_frame = Vec::new();
    let mut bits: Vec<bool> = Vec::new();
    let mut referenced = Vec::new();
    for (l, _) in LABELS {
        for k in 0..nk {
            let slice = labels.index_axis(ndarray::Axis(0), k);
            if !slice.iter().any(|x| *x == l) {
                continue;
            }
            bits.extend(slice.iter().map(|x| *x == l));
            let mut f = InMemDicomObject::new_empty();
            let mut pos = InMemDicomObject::new_empty();
            put(
                &mut pos,
                tags::IMAGE_POSITION_PATIENT,
                VR::DS,
                &ds_multi(&g.world(0.0, 0.0, k as f64)),
            );
            put_seq(&mut f, tags::PLANE_POSITION_SEQUENCE, vec![pos]);
            let mut id = InMemDicomObject::new_empty();
            put_us(&mut id, tags::REFERENCED_SEGMENT_NUMBER, u16::from(l));
            put_seq(&mut f, tags::SEGMENT_IDENTIFICATION_SEQUENCE, vec![id]);
            // Frame Content: indexed by segment and slice (as the dimensions above declare).
            let mut content = InMemDicomObject::new_empty();
            content.put(DataElement::new(
                tags::DIMENSION_INDEX_VALUES,
                VR::UL,
                PrimitiveValue::U32(vec![u32::from(l), k as u32 + 1].into()),
            ));
            put_seq(&mut f, tags::FRAME_CONTENT_SEQUENCE, vec![content]);
            // Derived from its PET slice by segmentation (DCM 113076), which is the source
            // image of the operation (DCM 121322).
            let mut derivation = InMemDicomObject::new_empty();
            put_seq(
                &mut derivation,
                tags::DERIVATION_CODE_SEQUENCE,
                vec![code("113076", "DCM", "Segmentation")],
            );
            let mut source = reference(
                uids::POSITRON_EMISSION_TOMOGRAPHY_IMAGE_STORAGE,
                &sop_of_slice(s, k),
            );
            put_seq(
                &mut source,
                tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE,
                vec![code(
                    "121322",
                    "DCM",
                    "Source image for image processing operation",
                )],
            );
            put_seq(&mut derivation, tags::SOURCE_IMAGE_SEQUENCE, vec![source]);
            put_seq(&mut f, tags::DERIVATION_IMAGE_SEQUENCE, vec![derivation]);
            per_frame.push(f);
            if l == 1 {
                referenced.push(reference(
                    uids::POSITRON_EMISSION_TOMOGRAPHY_IMAGE_STORAGE,
                    &sop_of_slice(s, k),
                ));
            }
        }
    }
    put(
        &mut o,
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        &per_frame.len().to_string(),
    );
    put_seq(
        &mut o,
        tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
        per_frame,
    );
    let mut series = InMemDicomObject::new_empty();
    put(
        &mut series,
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        &s.uid("1.2"),
    );
    put_seq(&mut series, tags::REFERENCED_INSTANCE_SEQUENCE, referenced);
    put_seq(&mut o, tags::REFERENCED_SERIES_SEQUENCE, vec![series]);
    // Pack the bits: frame after frame without padding, least significant bit first.
    let mut packed = vec![0u8; bits.len().div_ceil(8)];
    for (i, b) in bits.iter().enumerate() {
        if *b {
            packed[i / 8] |= 1 << (i % 8);
        }
    }
    if packed.len() % 2 == 1 {
        packed.push(0);
    }
    o.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::U8(packed.into()),
    ));
    write(o, &dir.join("SEG00001.dcm"))?;
    Ok(1)
}

/// The polygon where the plane z = `z` cuts `e` (None when it misses).
fn ellipse_at(e: &Ellipsoid, z: f64) -> Option<Vec<[f64; 3]>> {
    let t = (z - e.centre[2]) / e.radii[2];
    if t.abs() >= 1.0 {
        return None;
    }
    let f = (1.0 - t * t).sqrt();
    let (a, b) = (e.radii[0] * f, e.radii[1] * f);
    Some(
        (0..CONTOUR_POINTS)
            .map(|n| {
                let th = 2.0 * std::f64::consts::PI * n as f64 / CONTOUR_POINTS as f64;
                [e.centre[0] + a * th.cos(), e.centre[1] + b * th.sin(), z]
            })
            .collect(),
    )
}

/// Write the RTSTRUCT (tumour and liver contours on the PET planes); returns the number of files.
pub fn write_rtstruct(s: &Subject, dir: &Path) -> Result<usize, PhantomError> {
    let g = pet::geometry();
    let study = pet::study(s);
    let mut o = base(s, uids::RT_STRUCTURE_SET_STORAGE, "RTSTRUCT", "1.5", "901");
    put(
        &mut o,
        tags::SERIES_DESCRIPTION,
        VR::LO,
        "Core lab contours",
    );
    put(&mut o, tags::STRUCTURE_SET_LABEL, VR::SH, "CORELAB");
    put(&mut o, tags::STRUCTURE_SET_DATE, VR::DA, &study.date);
    put(&mut o, tags::STRUCTURE_SET_TIME, VR::TM, "120000");
    let contour_images: Vec<InMemDicomObject> = (0..pet::DIMS[0])
        .map(|k| {
            reference(
                uids::POSITRON_EMISSION_TOMOGRAPHY_IMAGE_STORAGE,
                &sop_of_slice(s, k),
            )
        })
        .collect();
    let mut rt_series = InMemDicomObject::new_empty();
    put(
        &mut rt_series,
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        &s.uid("1.2"),
    );
    put_seq(&mut rt_series, tags::CONTOUR_IMAGE_SEQUENCE, contour_images);
    let mut rt_study = InMemDicomObject::new_empty();
    put(
        &mut rt_study,
        tags::REFERENCED_SOP_CLASS_UID,
        VR::UI,
        "1.2.840.10008.3.1.2.3.1",
    );
    put(
        &mut rt_study,
        tags::REFERENCED_SOP_INSTANCE_UID,
        VR::UI,
        &study.uid,
    );
    put_seq(
        &mut rt_study,
        tags::RT_REFERENCED_SERIES_SEQUENCE,
        vec![rt_series],
    );
    let mut frame = InMemDicomObject::new_empty();
    put(
        &mut frame,
        tags::FRAME_OF_REFERENCE_UID,
        VR::UI,
        &study.frame_of_reference,
    );
    put_seq(
        &mut frame,
        tags::RT_REFERENCED_STUDY_SEQUENCE,
        vec![rt_study],
    );
    put_seq(
        &mut o,
        tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE,
        vec![frame],
    );
    let rois: [(u16, &str, Ellipsoid, &str); 2] = [
        (1, "Tumor", s.anatomy.tumor, "GTV"),
        (3, "Liver", s.anatomy.liver, "ORGAN"),
    ];
    let mut set_rois = Vec::new();
    let mut contours = Vec::new();
    let mut observations = Vec::new();
    for (number, name, e, kind) in rois {
        let mut r = InMemDicomObject::new_empty();
        put(&mut r, tags::ROI_NUMBER, VR::IS, &number.to_string());
        put(
            &mut r,
            tags::REFERENCED_FRAME_OF_REFERENCE_UID,
            VR::UI,
            &study.frame_of_reference,
        );
        put(&mut r, tags::ROI_NAME, VR::LO, name);
        put(&mut r, tags::ROI_GENERATION_ALGORITHM, VR::CS, "MANUAL");
        set_rois.push(r);
        let mut items = Vec::new();
        for k in 0..pet::DIMS[0] {
            let z = g.world(0.0, 0.0, k as f64)[2];
            let Some(poly) = ellipse_at(&e, z) else {
                continue;
            };
            let mut c = InMemDicomObject::new_empty();
            put_seq(
                &mut c,
                tags::CONTOUR_IMAGE_SEQUENCE,
                vec![reference(
                    uids::POSITRON_EMISSION_TOMOGRAPHY_IMAGE_STORAGE,
                    &sop_of_slice(s, k),
                )],
            );
            put(
                &mut c,
                tags::CONTOUR_GEOMETRIC_TYPE,
                VR::CS,
                "CLOSED_PLANAR",
            );
            put(
                &mut c,
                tags::NUMBER_OF_CONTOUR_POINTS,
                VR::IS,
                &poly.len().to_string(),
            );
            let flat: Vec<f64> = poly.iter().flatten().copied().collect();
            put(&mut c, tags::CONTOUR_DATA, VR::DS, &ds_multi(&flat));
            items.push(c);
        }
        let mut rc = InMemDicomObject::new_empty();
        put(&mut rc, tags::ROI_DISPLAY_COLOR, VR::IS, "255\\0\\0");
        put(
            &mut rc,
            tags::REFERENCED_ROI_NUMBER,
            VR::IS,
            &number.to_string(),
        );
        put_seq(&mut rc, tags::CONTOUR_SEQUENCE, items);
        contours.push(rc);
        let mut ob = InMemDicomObject::new_empty();
        put(
            &mut ob,
            tags::OBSERVATION_NUMBER,
            VR::IS,
            &number.to_string(),
        );
        put(
            &mut ob,
            tags::REFERENCED_ROI_NUMBER,
            VR::IS,
            &number.to_string(),
        );
        put(&mut ob, tags::RTROI_INTERPRETED_TYPE, VR::CS, kind);
        put(&mut ob, tags::ROI_INTERPRETER, VR::PN, &s.id.performing);
        observations.push(ob);
    }
    put_seq(&mut o, tags::STRUCTURE_SET_ROI_SEQUENCE, set_rois);
    put_seq(&mut o, tags::ROI_CONTOUR_SEQUENCE, contours);
    put_seq(&mut o, tags::RTROI_OBSERVATIONS_SEQUENCE, observations);
    write(o, &dir.join("RS00001.dcm"))?;
    Ok(1)
}
