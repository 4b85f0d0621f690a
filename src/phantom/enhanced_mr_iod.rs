//! The descriptive attributes an Enhanced MR Image (PS3.3 A.36.2) must carry besides geometry,
//! timing and pixels, so that the phantom's enhanced T2 is a valid object (dicom3tools'
//! `dciodvfy`): the Enhanced MR Image module and its MR Image and Spectroscopy Instance macro
//! (C.8.13.1-2), MR Pulse Sequence (C.8.13.4), Multi-frame Dimension (C.7.6.17), and the
//! functional-group macros of C.8.13.5 and C.7.6.16.2 (frame anatomy, averages, modifiers, coils,
//! frame content). Values are those of a plain single-shot spin-echo T2 on a body coil; none of
//! them is one that changes how the series is converted (no partial Fourier, no parallel
//! imaging, every frame at one acquisition time).

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::dicom_out::{code, put, put_dimensions, put_seq, put_us};

/// Coded-string attributes, each put with its value.
fn put_cs(o: &mut InMemDicomObject, values: &[(Tag, &str)]) {
    for (tag, v) in values {
        put(o, *tag, VR::CS, v);
    }
}

fn put_fd(o: &mut InMemDicomObject, tag: Tag, v: f64) {
    o.put(DataElement::new(tag, VR::FD, PrimitiveValue::from(v)));
}

fn item_of(values: &[(Tag, &str)]) -> InMemDicomObject {
    let mut o = InMemDicomObject::new_empty();
    put_cs(&mut o, values);
    o
}

/// The image-level description of an original magnitude image of `contrast` (T1, T2, ...).
fn description(contrast: &str) -> [(Tag, &str); 5] {
    [
        (tags::PIXEL_PRESENTATION, "MONOCHROME"),
        (tags::VOLUMETRIC_PROPERTIES, "VOLUME"),
        (tags::VOLUME_BASED_CALCULATION_TECHNIQUE, "NONE"),
        (tags::COMPLEX_IMAGE_COMPONENT, "MAGNITUDE"),
        (tags::ACQUISITION_CONTRAST, contrast),
    ]
}

/// Top-level attributes: image description, instance macro, pulse sequence, dimensions
/// (`dimension_uid`: the Dimension Organization UID), an empty acquisition context.
pub fn image_level(o: &mut InMemDicomObject, contrast: &str, dimension_uid: &str) {
    put_cs(o, &description(contrast));
    put_cs(
        o,
        &[
            (tags::PRESENTATION_LUT_SHAPE, "IDENTITY"),
            (tags::BURNED_IN_ANNOTATION, "NO"),
            (tags::LOSSY_IMAGE_COMPRESSION, "00"),
            (tags::APPLICABLE_SAFETY_STANDARD_AGENCY, "IEC"),
            (tags::CONTENT_QUALIFICATION, "RESEARCH"),
            (tags::K_SPACE_FILTERING, "NONE"),
            (tags::RESONANT_NUCLEUS, "1H"),
            (tags::MULTIPLE_SPIN_ECHO, "NO"),
            (tags::PHASE_CONTRAST, "NO"),
            (tags::TIME_OF_FLIGHT_CONTRAST, "NO"),
            (tags::STEADY_STATE_PULSE_SEQUENCE, "NONE"),
            (tags::ECHO_PLANAR_PULSE_SEQUENCE, "NO"),
            (tags::SATURATION_RECOVERY, "NO"),
            (tags::SPECTRALLY_SELECTED_SUPPRESSION, "NONE"),
            (tags::OVERSAMPLING_PHASE, "NONE"),
            (tags::GEOMETRY_OF_K_SPACE_TRAVERSAL, "RECTILINEAR"),
            (tags::SEGMENTED_K_SPACE_TRAVERSAL, "SINGLE"),
            (tags::MULTI_PLANAR_EXCITATION, "NO"),
            // Centric: a reordering that says nothing of the phase-encoding polarity.
            (tags::RECTILINEAR_PHASE_ENCODE_REORDERING, "CENTRIC"),
        ],
    );
    put(o, tags::SOFTWARE_VERSIONS, VR::LO, "ancilla phantom");
    put(o, tags::PULSE_SEQUENCE_NAME, VR::SH, "HASTE");
    put_us(o, tags::NUMBER_OF_K_SPACE_TRAJECTORIES, 1);
    put_fd(o, tags::ACQUISITION_DURATION, 60.0);
    put_seq(o, tags::ACQUISITION_CONTEXT_SEQUENCE, vec![]);
    // Frames indexed by stack and position in the stack (Frame Content's StackID and
    // InStackPositionNumber).
    put_dimensions(
        o,
        dimension_uid,
        &[
            (tags::STACK_ID, tags::FRAME_CONTENT_SEQUENCE),
            (tags::IN_STACK_POSITION_NUMBER, tags::FRAME_CONTENT_SEQUENCE),
        ],
    );
}

/// The MR Image Frame Type item: `frame_type` and the image description of `contrast`.
pub fn frame_type_item(frame_type: &str, contrast: &str) -> InMemDicomObject {
    let mut i = item_of(&description(contrast));
    put(&mut i, tags::FRAME_TYPE, VR::CS, frame_type);
    i
}

/// The echo-train and safety attributes of the MR Timing and Related Parameters item.
pub fn timing(t: &mut InMemDicomObject) {
    put(t, tags::ECHO_TRAIN_LENGTH, VR::IS, "1");
    put_us(t, tags::RF_ECHO_TRAIN_LENGTH, 1);
    put_us(t, tags::GRADIENT_ECHO_TRAIN_LENGTH, 0);
    put_seq(
        t,
        tags::OPERATING_MODE_SEQUENCE,
        vec![item_of(&[
            (tags::OPERATING_MODE_TYPE, "STATIC FIELD"),
            (tags::OPERATING_MODE, "IEC_NORMAL"),
        ])],
    );
    let mut sar = item_of(&[(tags::SPECIFIC_ABSORPTION_RATE_DEFINITION, "IEC_WHOLE_BODY")]);
    put_fd(&mut sar, tags::SPECIFIC_ABSORPTION_RATE_VALUE, 0.5);
    put_seq(t, tags::SPECIFIC_ABSORPTION_RATE_SEQUENCE, vec![sar]);
}

/// The shared functional groups' descriptive macros: anatomy (abdomen), averages, imaging
/// modifiers, modifiers, receive and transmit coils, field of view (`rows_cols`: the matrix).
pub fn shared_groups(shared: &mut InMemDicomObject, rows_cols: (u16, u16)) {
    let mut anatomy = item_of(&[(tags::FRAME_LATERALITY, "U")]);
    put_seq(
        &mut anatomy,
        tags::ANATOMIC_REGION_SEQUENCE,
        vec![code("818981001", "SCT", "Abdomen")],
    );
    put_seq(shared, tags::FRAME_ANATOMY_SEQUENCE, vec![anatomy]);
    let mut averages = InMemDicomObject::new_empty();
    put(&mut averages, tags::NUMBER_OF_AVERAGES, VR::DS, "1");
    put_seq(shared, tags::MR_AVERAGES_SEQUENCE, vec![averages]);
    let mut imaging = item_of(&[
        (tags::MAGNETIZATION_TRANSFER, "NONE"),
        (tags::BLOOD_SIGNAL_NULLING, "NO"),
        (tags::TAGGING, "NONE"),
    ]);
    put_fd(&mut imaging, tags::TRANSMITTER_FREQUENCY, 63.68);
    put(&mut imaging, tags::PIXEL_BANDWIDTH, VR::DS, "781");
    put_seq(shared, tags::MR_IMAGING_MODIFIER_SEQUENCE, vec![imaging]);
    put_seq(
        shared,
        tags::MR_MODIFIER_SEQUENCE,
        vec![item_of(&[
            (tags::INVERSION_RECOVERY, "NO"),
            (tags::FLOW_COMPENSATION, "NONE"),
            (tags::T2_PREPARATION, "NO"),
            (tags::SPECTRALLY_SELECTED_EXCITATION, "NONE"),
            (tags::SPATIAL_PRESATURATION, "NONE"),
            (tags::PARTIAL_FOURIER, "NO"),
            (tags::PARALLEL_ACQUISITION, "NO"),
        ])],
    );
    // Body coils, maker unknown (Type 2, empty).
    let coil = |terms: &[(Tag, &str)], name: Tag, maker: Tag| {
        let mut c = item_of(terms);
        put(&mut c, name, VR::SH, "Body");
        put(&mut c, maker, VR::LO, "");
        c
    };
    put_seq(
        shared,
        tags::MR_RECEIVE_COIL_SEQUENCE,
        vec![coil(
            &[
                (tags::RECEIVE_COIL_TYPE, "BODY"),
                (tags::QUADRATURE_RECEIVE_COIL, "NO"),
            ],
            tags::RECEIVE_COIL_NAME,
            tags::RECEIVE_COIL_MANUFACTURER_NAME,
        )],
    );
    put_seq(
        shared,
        tags::MR_TRANSMIT_COIL_SEQUENCE,
        vec![coil(
            &[(tags::TRANSMIT_COIL_TYPE, "BODY")],
            tags::TRANSMIT_COIL_NAME,
            tags::TRANSMIT_COIL_MANUFACTURER_NAME,
        )],
    );
    // Field of view: phase encoded along the columns, every k-space line sampled.
    let mut fov = item_of(&[(tags::IN_PLANE_PHASE_ENCODING_DIRECTION, "COLUMN")]);
    put_us(
        &mut fov,
        tags::MR_ACQUISITION_FREQUENCY_ENCODING_STEPS,
        rows_cols.1,
    );
    put_us(
        &mut fov,
        tags::MR_ACQUISITION_PHASE_ENCODING_STEPS_IN_PLANE,
        rows_cols.0,
    );
    put(&mut fov, tags::PERCENT_SAMPLING, VR::DS, "100");
    put(&mut fov, tags::PERCENT_PHASE_FIELD_OF_VIEW, VR::DS, "100");
    put_seq(shared, tags::MRFOV_GEOMETRY_SEQUENCE, vec![fov]);
}

/// A frame's Frame Content item beyond its stack position: the dimension index values (stack 1,
/// `position`), acquisition and reference date-time `datetime` and the frame's duration.
pub fn frame_content(content: &mut InMemDicomObject, position: u32, datetime: &str) {
    content.put(DataElement::new(
        tags::DIMENSION_INDEX_VALUES,
        VR::UL,
        PrimitiveValue::U32(vec![1, position].into()),
    ));
    put(content, tags::FRAME_ACQUISITION_DATE_TIME, VR::DT, datetime);
    put(content, tags::FRAME_REFERENCE_DATE_TIME, VR::DT, datetime);
    put_fd(content, tags::FRAME_ACQUISITION_DURATION, 60_000.0);
}
