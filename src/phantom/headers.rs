//! Header content shared by the phantom's series: patient, study and equipment attributes, full
//! of fake PHI where a real site export has it (PS3.15 Table E.1-1 lists every one of them),
//! including a private block and a nested request sequence.

use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::dicom_out::{put, put_seq};
use super::Subject;

/// What differs between the PET and the MRI study.
pub struct Study<'a> {
    pub uid: String,
    pub date: String,
    pub time: String,
    pub accession: &'a str,
    pub description: String,
    pub frame_of_reference: String,
    pub manufacturer: &'a str,
    pub model: &'a str,
}

/// Patient, study, equipment and request attributes of one study.
pub fn common(s: &Subject, st: &Study) -> InMemDicomObject {
    let id = &s.id;
    let mut o = InMemDicomObject::new_empty();
    put(&mut o, tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100");
    put(&mut o, tags::PATIENT_NAME, VR::PN, &id.name());
    put(&mut o, tags::PATIENT_ID, VR::LO, &id.patient_id);
    let mut other = InMemDicomObject::new_empty();
    put(&mut other, tags::PATIENT_ID, VR::LO, &id.other_id);
    put(&mut other, tags::TYPE_OF_PATIENT_ID, VR::CS, "TEXT");
    put_seq(&mut o, tags::OTHER_PATIENT_I_DS_SEQUENCE, vec![other]);
    put(&mut o, tags::PATIENT_BIRTH_DATE, VR::DA, &id.birth_date);
    put(&mut o, tags::PATIENT_SEX, VR::CS, s.sex);
    put(&mut o, tags::PATIENT_AGE, VR::AS, &format!("{:03}Y", s.age));
    put(
        &mut o,
        tags::PATIENT_WEIGHT,
        VR::DS,
        &super::dicom_out::ds(s.weight_kg),
    );
    put(
        &mut o,
        tags::PATIENT_SIZE,
        VR::DS,
        &super::dicom_out::ds(s.height_m),
    );
    put(&mut o, tags::PATIENT_ADDRESS, VR::LO, &id.address);
    put(&mut o, tags::PATIENT_TELEPHONE_NUMBERS, VR::SH, &id.phone);
    put(&mut o, tags::STUDY_INSTANCE_UID, VR::UI, &st.uid);
    put(&mut o, tags::STUDY_DATE, VR::DA, &st.date);
    put(&mut o, tags::STUDY_TIME, VR::TM, &st.time);
    put(&mut o, tags::STUDY_ID, VR::SH, &id.study_id);
    put(&mut o, tags::ACCESSION_NUMBER, VR::SH, st.accession);
    put(
        &mut o,
        tags::REFERRING_PHYSICIAN_NAME,
        VR::PN,
        &id.referring,
    );
    put(&mut o, tags::STUDY_DESCRIPTION, VR::LO, &st.description);
    put(&mut o, tags::INSTITUTION_NAME, VR::LO, &id.institution);
    put(
        &mut o,
        tags::INSTITUTION_ADDRESS,
        VR::ST,
        &id.institution_address,
    );
    put(&mut o, tags::STATION_NAME, VR::SH, &id.station);
    put(&mut o, tags::DEVICE_SERIAL_NUMBER, VR::LO, &id.serial);
    put(&mut o, tags::MANUFACTURER, VR::LO, st.manufacturer);
    put(&mut o, tags::MANUFACTURER_MODEL_NAME, VR::LO, st.model);
    put(&mut o, tags::OPERATORS_NAME, VR::PN, &id.operator);
    put(
        &mut o,
        tags::PERFORMING_PHYSICIAN_NAME,
        VR::PN,
        &id.performing,
    );
    put(
        &mut o,
        tags::FRAME_OF_REFERENCE_UID,
        VR::UI,
        &st.frame_of_reference,
    );
    put(&mut o, tags::POSITION_REFERENCE_INDICATOR, VR::LO, "");
    put(&mut o, tags::PATIENT_POSITION, VR::CS, "FFS");
    // A nested sequence with PHI, as RIS-fed exports carry it.
    let mut req = InMemDicomObject::new_empty();
    put(&mut req, tags::REQUESTED_PROCEDURE_ID, VR::SH, st.accession);
    put(
        &mut req,
        tags::SCHEDULED_PROCEDURE_STEP_ID,
        VR::SH,
        &id.study_id,
    );
    put(&mut req, tags::ACCESSION_NUMBER, VR::SH, st.accession);
    let mut who = InMemDicomObject::new_empty();
    put(&mut who, tags::PATIENT_NAME, VR::PN, &id.name());
    put(&mut who, tags::PATIENT_ID, VR::LO, &id.patient_id);
    put_seq(&mut req, tags::REFERENCED_PATIENT_SEQUENCE, vec![who]);
    put_seq(&mut o, tags::REQUEST_ATTRIBUTES_SEQUENCE, vec![req]);
    // The performed procedure step, referenced by a UID under the site's root.
    let mut pps = InMemDicomObject::new_empty();
    put(
        &mut pps,
        tags::REFERENCED_SOP_CLASS_UID,
        VR::UI,
        "1.2.840.10008.3.1.2.3.3",
    );
    put(
        &mut pps,
        tags::REFERENCED_SOP_INSTANCE_UID,
        VR::UI,
        &format!("{}.7", st.uid),
    );
    put_seq(
        &mut o,
        tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE,
        vec![pps],
    );
    // A site private block with identifying text.
    put(&mut o, Tag(0x0029, 0x0010), VR::LO, "ANCILLA SITE NOTES");
    put(&mut o, Tag(0x0029, 0x1001), VR::LO, &id.private_note);
    put(&mut o, Tag(0x0029, 0x1002), VR::LO, &id.patient_id);
    o
}
