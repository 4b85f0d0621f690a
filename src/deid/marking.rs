//! The record of de-identification every release carries (PS3.15 E.1.1; PS3.3 C.7.1.1):
//! PatientIdentityRemoved, DeidentificationMethod (the tool and the options in force),
//! DeidentificationMethodCodeSequence (113100 and the options' codes, CID 7050) and
//! LongitudinalTemporalInformationModified.

use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Length, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::{options, Run};

pub(super) fn sq(
    tag: dicom_core::Tag,
    items: Vec<InMemDicomObject>,
) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::SQ, DataSetSequence::new(items, Length::UNDEFINED))
}

pub(super) fn code_item(value: &str, meaning: &str) -> InMemDicomObject {
    let mut c = InMemDicomObject::new_empty();
    c.put(DataElement::new(
        tags::CODE_VALUE,
        VR::SH,
        PrimitiveValue::from(value),
    ));
    c.put(DataElement::new(
        tags::CODING_SCHEME_DESIGNATOR,
        VR::SH,
        PrimitiveValue::from("DCM"),
    ));
    c.put(DataElement::new(
        tags::CODE_MEANING,
        VR::LO,
        PrimitiveValue::from(meaning),
    ));
    c
}

/// DeidentificationMethod: the tool and the options in force.
/// Two values when options are in force (an LO value holds 64 characters at most, PS3.5 Table
/// 6.2-1; the attribute is multi-valued): "ancilla 0.1.0: PS3.15 Annex E Basic Profile" and
/// "+113105 +113107 +113108 +113111".
pub(super) fn method(run: &Run) -> String {
    let options: Vec<String> = run
        .options
        .codes()
        .iter()
        .map(|(c, _, _)| format!("+{c}"))
        .collect();
    let mut method = format!(
        "ancilla {}: PS3.15 Annex E Basic Profile",
        env!("CARGO_PKG_VERSION")
    );
    if !options.is_empty() {
        method.push('\\');
        method.push_str(&options.join(" "));
    }
    method
}

/// DeidentificationMethodCodeSequence's codes: 113100, then each option's.
pub(super) fn method_codes(run: &Run) -> Vec<(&'static str, &'static str)> {
    let mut codes = vec![options::PROFILE_CODE];
    codes.extend(run.options.codes().iter().map(|(c, m, _)| (*c, *m)));
    codes
}

/// LongitudinalTemporalInformationModified.
pub(super) fn temporal(run: &Run) -> &'static str {
    if run.options.retain_longitudinal_modified_dates {
        "MODIFIED"
    } else {
        "REMOVED"
    }
}
