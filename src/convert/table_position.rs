//! The sidecar's `TablePosition` (mm, x y z): where the scanner's table stood for the series, from
//! each maker's private attributes, by the rules of dcm2niix v1.0.20260724 (its issues 726 and
//! 890), which writes the key for Siemens, Philips and GE MR only:
//!
//! - Siemens: ImaRelTablePosition, (0019,xx14) of "SIEMENS MR HEADER" (IS, three values), on XA
//!   scanners RelTablePosition (0021,xx05) of "SIEMENS MR SDS 01", nested in the functional
//!   groups of an enhanced file; the CSA image header's ImaRelTablePosition, read after them,
//!   overrides. z is negated (the table moves against the patient axis);
//! - Philips: MRStackTablePosLong (2005,xx3C) of "Philips MR Imaging DD 005" (FL, in the stack
//!   sequence's items), negated, as z; x and y 0;
//! - GE: the third number of MR Table Position Information (0043,xxB2) of "GEMS_PARM_01" (LO,
//!   "960.5\400\17.9108\0\-9999\-9999") minus the table delta (0019,xx7F) of "GEMS_ACQU_01"
//!   (DS), in 32-bit arithmetic, as z; x and y 0.
//!
//! Where an attribute occurs more than once in a file (items of a sequence), the last one read
//! in file order wins, as in dcm2niix's flat reading of the header. Values are 32-bit floats
//! printed with six significant digits (`%g`).

use dicom_core::Tag;
use dicom_object::InMemDicomObject;

use crate::digits::significant6;
use crate::ingest::siemens::Csa;
use crate::ingest::values::{float_number, last_private, text_of};

/// The table position of a file whose header is `obj` (and CSA image header `csa`), made by
/// `maker` (dcm2niix's maker name); None when the maker writes none or the file lacks it.
pub(super) fn table_position(
    obj: &InMemDicomObject,
    csa: Option<&Csa>,
    maker: Option<&str>,
) -> Option<[f64; 3]> {
    let xyz = match maker? {
        "Siemens" => {
            let from_csa = csa.and_then(|c| c.vector("ImaRelTablePosition"));
            let private = || {
                let v5 = last_private(obj, 0x0019, "SIEMENS MR HEADER", 0x14, &numbers);
                let xa = last_private(obj, 0x0021, "SIEMENS MR SDS 01", 0x05, &numbers);
                xa.or(v5)
            };
            let v = from_csa
                .map(|v| v.map(|x| x as f32))
                .or_else(|| private().and_then(|v| v.get(..3)?.try_into().ok()))?;
            [v[0], v[1], -v[2]]
        }
        "Philips" => {
            let z = last_private(obj, 0x2005, "Philips MR Imaging DD 005", 0x3C, &|o, t| {
                float_number(o, t).map(|v| v as f32)
            })?;
            [0.0, 0.0, -z]
        }
        "GE" => {
            let info = last_private(obj, 0x0043, "GEMS_PARM_01", 0xB2, &numbers)?;
            let delta = last_private(obj, 0x0019, "GEMS_ACQU_01", 0x7F, &numbers)
                .and_then(|v| v.first().copied())
                .unwrap_or(0.0);
            [0.0, 0.0, *info.get(2)? - delta]
        }
        _ => return None,
    };
    xyz.iter()
        .all(|v| v.is_finite())
        .then(|| xyz.map(|v| significant6(f64::from(v))))
}

/// The numbers of a text value, as dcm2niix's `dcmMultiFloat` finds them: tokens separated by
/// backslashes, slashes or spaces, those holding a digit; each a 32-bit float.
fn numbers(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f32>> {
    let text = text_of(obj, tag)?;
    let v: Vec<f32> = text
        .split(['\\', '/', ' '])
        .filter(|t| t.bytes().any(|b| b.is_ascii_digit()))
        .filter_map(|t| t.trim().parse::<f32>().ok())
        .collect();
    (!v.is_empty()).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::value::{DataSetSequence, PrimitiveValue};
    use dicom_core::{DataElement, Length, VR};

    fn put(o: &mut InMemDicomObject, tag: Tag, vr: VR, v: PrimitiveValue) {
        o.put(DataElement::new(tag, vr, v));
    }

    fn creator(o: &mut InMemDicomObject, group: u16, block: u16, name: &str) {
        put(o, Tag(group, block), VR::LO, name.into());
    }

    #[test]
    fn siemens_position_is_read_from_its_header_with_z_negated() {
        let mut o = InMemDicomObject::new_empty();
        // The creator in block 0x11: the element is (0019,1114).
        creator(&mut o, 0x0019, 0x11, "SIEMENS MR HEADER");
        put(&mut o, Tag(0x0019, 0x1114), VR::IS, "0\\-3\\-1253".into());
        assert_eq!(
            table_position(&o, None, Some("Siemens")),
            Some([0.0, -3.0, 1253.0])
        );
        // Not another maker's.
        assert_eq!(table_position(&o, None, Some("GE")), None);
        assert_eq!(table_position(&o, None, None), None);
        // The CSA image header's value wins (dcm2niix reads it after).
        let csa = crate::ingest::siemens::parse_csa(&crate::ingest::siemens::encode_csa(&[
            crate::ingest::siemens::csa_element("ImaRelTablePosition", 3, &["1", "2", "-40"]),
        ]));
        assert_eq!(
            table_position(&o, csa.as_ref(), Some("Siemens")),
            Some([1.0, 2.0, 40.0])
        );
    }

    #[test]
    fn siemens_xa_position_is_found_in_nested_items() {
        let mut item = InMemDicomObject::new_empty();
        creator(&mut item, 0x0021, 0x10, "SIEMENS MR SDS 01");
        put(&mut item, Tag(0x0021, 0x1005), VR::IS, "0\\0\\-88".into());
        let mut shared = InMemDicomObject::new_empty();
        creator(&mut shared, 0x0021, 0x11, "SIEMENS MR SDS 01");
        shared.put(DataElement::new(
            Tag(0x0021, 0x11FE),
            VR::SQ,
            DataSetSequence::new(vec![item], Length::UNDEFINED),
        ));
        let mut o = InMemDicomObject::new_empty();
        o.put(DataElement::new(
            Tag(0x5200, 0x9229),
            VR::SQ,
            DataSetSequence::new(vec![shared], Length::UNDEFINED),
        ));
        assert_eq!(
            table_position(&o, None, Some("Siemens")),
            Some([0.0, 0.0, 88.0])
        );
    }

    #[test]
    fn philips_and_ge_give_z_only() {
        // Philips: the last stack item's value, negated.
        let stack = |z: f32| {
            let mut s = InMemDicomObject::new_empty();
            creator(&mut s, 0x2005, 0x14, "Philips MR Imaging DD 005");
            put(&mut s, Tag(0x2005, 0x143C), VR::FL, PrimitiveValue::from(z));
            s
        };
        let mut o = InMemDicomObject::new_empty();
        o.put(DataElement::new(
            Tag(0x2001, 0x105F),
            VR::SQ,
            DataSetSequence::new(vec![stack(10.5), stack(-23.25)], Length::UNDEFINED),
        ));
        assert_eq!(
            table_position(&o, None, Some("Philips")),
            Some([0.0, 0.0, 23.25])
        );
        // GE: the third number minus the table delta, in 32-bit floats (17.9108 - 1.1 prints
        // 16.8108 with %g).
        let mut g = InMemDicomObject::new_empty();
        creator(&mut g, 0x0019, 0x10, "GEMS_ACQU_01");
        put(&mut g, Tag(0x0019, 0x107F), VR::DS, "1.1".into());
        creator(&mut g, 0x0043, 0x10, "GEMS_PARM_01");
        put(
            &mut g,
            Tag(0x0043, 0x10B2),
            VR::LO,
            "960.5\\400\\17.9108\\0\\-9999\\-9999".into(),
        );
        assert_eq!(
            table_position(&g, None, Some("GE")),
            Some([0.0, 0.0, 16.8108])
        );
        // Without the delta: the number itself; with two numbers only: none.
        g.remove_element(Tag(0x0019, 0x107F));
        assert_eq!(
            table_position(&g, None, Some("GE")),
            Some([0.0, 0.0, 17.9108])
        );
        put(&mut g, Tag(0x0043, 0x10B2), VR::LO, "960.5\\400".into());
        assert_eq!(table_position(&g, None, Some("GE")), None);
    }
}
