//! Retired attributes of free text (DICOM PS3.6, Table 6-1: the data elements marked RET, of VR
//! LO, SH, ST, LT, UT, UC or PN, groups other than the command group). dicom-rs's dictionary does
//! not say which attributes are retired; this list was read from pydicom 3.0.2's copy of PS3.6
//! (`pydicom._dicom_dict`, MIT licence) and is sorted by tag.
//!
//! De-identification removes those of them PS3.15 Table E.1-1 does not list (see
//! `apply::action_for`): current equipment writes none of them, their text may identify (retired
//! placer and filler order numbers, a trial document's author, free descriptions), and a header
//! damaged in one bit turns an identifying attribute into one (InstitutionName (0008,0080) into
//! Data Set Subtype (0008,0041), both LO, found by `benches/deid-damage.py`: the institution's
//! name was released). Conversion reads none of them.

use dicom_core::Tag;

/// The retired free-text attributes, sorted by tag (92).
pub(super) const RETIRED_FREE_TEXT: [Tag; 92] = [
    Tag(0x0008, 0x0010), // SH Recognition Code
    Tag(0x0008, 0x0041), // LO Data Set Subtype
    Tag(0x0008, 0x2256), // ST Anatomic Perspective Description (Trial)
    Tag(0x0008, 0x2258), // ST Anatomic Location Of Examining Instrument Description (Trial)
    Tag(0x0008, 0x4000), // LT Identifying Comments
    Tag(0x0010, 0x1000), // LO Other Patient IDs
    Tag(0x0010, 0x1050), // LO Insurance Plan Identification
    Tag(0x0010, 0x1090), // LO Medical Record Locator
    Tag(0x0014, 0x0023), // ST CAD File Format
    Tag(0x0014, 0x0024), // ST Component Reference System
    Tag(0x0014, 0x0045), // ST Material Properties File Format (Retired)
    Tag(0x0018, 0x0030), // LO Radionuclide
    Tag(0x0018, 0x1011), // LO Hardcopy Creation Device ID
    Tag(0x0018, 0x1017), // LO Hardcopy Device Manufacturer
    Tag(0x0018, 0x101A), // LO Hardcopy Device Software Version
    Tag(0x0018, 0x101B), // LO Hardcopy Device Manufacturer's Model Name
    Tag(0x0018, 0x4000), // LT Acquisition Comments
    Tag(0x0018, 0x5021), // LO Postprocessing Function
    Tag(0x0020, 0x0070), // LO Image Geometry Type
    Tag(0x0020, 0x1020), // LO Reference
    Tag(0x0020, 0x3404), // LO Modifying Device Manufacturer
    Tag(0x0020, 0x3406), // LO Modified Image Description
    Tag(0x0020, 0x5002), // LO Original Image Identification Nomenclature
    Tag(0x0022, 0x1094), // LO Lens Constant Description
    Tag(0x0022, 0x1273), // LO Ophthalmic Axial Length Quality Metric Type Description
    Tag(0x0028, 0x0050), // LO Manipulated Image
    Tag(0x0028, 0x005F), // LO Compression Recognition Code
    Tag(0x0028, 0x0061), // SH Compression Originator
    Tag(0x0028, 0x0062), // LO Compression Label
    Tag(0x0028, 0x0063), // SH Compression Description
    Tag(0x0028, 0x0400), // LO Transform Label
    Tag(0x0028, 0x0401), // LO Transform Version Number
    Tag(0x0028, 0x0403), // LO Sequence of Compressed Data
    Tag(0x0028, 0x0700), // LO DCT Label
    Tag(0x0028, 0x4000), // LT Image Presentation Comments
    Tag(0x0032, 0x0012), // LO Study ID Issuer
    Tag(0x0032, 0x1020), // LO Scheduled Study Location
    Tag(0x0032, 0x1030), // LO Reason for Study
    Tag(0x0032, 0x4000), // LT Study Comments
    Tag(0x0038, 0x0011), // LO Issuer of Admission ID
    Tag(0x0038, 0x001E), // LO Scheduled Patient Institution Residence
    Tag(0x0038, 0x0040), // LO Discharge Diagnosis Description
    Tag(0x0038, 0x0061), // LO Issuer of Service Episode ID
    Tag(0x0040, 0x050A), // LO Specimen Accession Number
    Tag(0x0040, 0x0553), // ST Specimen Description (Trial)
    Tag(0x0040, 0x06FA), // LO Slide Identifier
    Tag(0x0040, 0x1006), // SH Placer Order Number / Procedure
    Tag(0x0040, 0x1007), // SH Filler Order Number / Procedure
    Tag(0x0040, 0x1060), // LO Requested Procedure Description (Trial)
    Tag(0x0040, 0x2001), // LO Reason for the Imaging Service Request
    Tag(0x0040, 0x2006), // SH Placer Order Number / Imaging Service Request (Retired)
    Tag(0x0040, 0x2007), // SH Filler Order Number / Imaging Service Request (Retired)
    Tag(0x0040, 0xA047), // LO Measurement Precision Description (Trial)
    Tag(0x0040, 0xA060), // LO Sequencing Indicator (Trial)
    Tag(0x0040, 0xA067), // PN Document Author (Trial)
    Tag(0x0040, 0xA16A), // ST Bibliographic Citation (Trial)
    Tag(0x0040, 0xA224), // ST Identification Description (Trial)
    Tag(0x0040, 0xA297), // ST Algorithm Description (Trial)
    Tag(0x0040, 0xA307), // PN Current Observer (Trial)
    Tag(0x0040, 0xA33A), // ST Report Status Comment (Trial)
    Tag(0x0040, 0xA352), // PN Verbal Source (Trial)
    Tag(0x0040, 0xA353), // ST Address (Trial)
    Tag(0x0040, 0xA354), // LO Telephone Number (Trial)
    Tag(0x0040, 0xA992), // ST Uniform Resource Locator (Trial)
    Tag(0x0074, 0x1222), // LO Procedure Step Relationship Type
    Tag(0x0088, 0x0904), // LO Topic Title
    Tag(0x0088, 0x0906), // ST Topic Subject
    Tag(0x0088, 0x0910), // LO Topic Author
    Tag(0x0088, 0x0912), // LO Topic Keywords
    Tag(0x2100, 0x0010), // SH Print Job ID
    Tag(0x2110, 0x0099), // SH Print Queue ID
    Tag(0x3006, 0x0085), // SH ROI Observation Label
    Tag(0x3006, 0x0088), // ST ROI Observation Description
    Tag(0x3008, 0x002B), // SH Treatment Termination Code
    Tag(0x300A, 0x000B), // LO Treatment Sites
    Tag(0x4000, 0x0010), // LT Arbitrary
    Tag(0x4000, 0x4000), // LT Text Comments
    Tag(0x4008, 0x0040), // SH Results ID
    Tag(0x4008, 0x0042), // LO Results ID Issuer
    Tag(0x4008, 0x0102), // PN Interpretation Recorder
    Tag(0x4008, 0x0103), // LO Reference to Recorded Sound
    Tag(0x4008, 0x010A), // PN Interpretation Transcriber
    Tag(0x4008, 0x010B), // ST Interpretation Text
    Tag(0x4008, 0x010C), // PN Interpretation Author
    Tag(0x4008, 0x0114), // PN Physician Approving Interpretation
    Tag(0x4008, 0x0115), // LT Interpretation Diagnosis Description
    Tag(0x4008, 0x0119), // PN Distribution Name
    Tag(0x4008, 0x011A), // LO Distribution Address
    Tag(0x4008, 0x0200), // SH Interpretation ID
    Tag(0x4008, 0x0202), // LO Interpretation ID Issuer
    Tag(0x4008, 0x0300), // ST Impressions
    Tag(0x4008, 0x4000), // ST Results Comments
];

/// Whether `tag` is a retired attribute of free text.
pub(super) fn is_retired_free_text(tag: Tag) -> bool {
    RETIRED_FREE_TEXT.binary_search(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_and_holds_what_the_damage_found() {
        assert!(RETIRED_FREE_TEXT.windows(2).all(|w| w[0] < w[1]));
        assert!(is_retired_free_text(Tag(0x0008, 0x0041)));
        assert!(is_retired_free_text(Tag(0x0040, 0x2006)));
        // current attributes are not in it
        assert!(!is_retired_free_text(Tag(0x0008, 0x0080)));
        assert!(!is_retired_free_text(Tag(0x0008, 0x103E)));
    }
}
