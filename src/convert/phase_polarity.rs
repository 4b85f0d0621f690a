//! The polarity of a 2D acquisition's phase encoding (whether k-space was traversed along the
//! positive direction of InPlanePhaseEncodingDirection), which turns the sidecar's
//! `PhaseEncodingAxis` into a signed `PhaseEncodingDirection` (what FSL topup needs), from each
//! maker's attributes, by the rules of dcm2niix v1.0.20260724:
//!
//! - Siemens: the CSA image header's PhaseEncodingDirectionPositive, overridden by
//!   (0021,xx1C) of "SIEMENS MR SDI 02" (IS; XA scanners, which have no CSA header; nested in
//!   the functional groups of an enhanced file): 1 positive, 0 negative;
//! - UIH: (0065,xx58) of "Image Private Header" (IS): 1 flipped (negative), 0 positive;
//! - GE: RectilinearPhaseEncodeReordering (0018,9034; PS3.3 C.8.13.5.10, software RX27 on):
//!   LINEAR is flipped, REVERSE_LINEAR unflipped; without it, the EPI flags of GE's raw header
//!   in UserDefineData (0043,xx2A of "GEMS_PARM_01", OB): its phase-polarity bit, inverted
//!   when k-space is read bottom up. GE's is also written as `PhaseEncodingPolarityGE`.

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::ingest::siemens::Csa;
use crate::ingest::values::{last_private, str_of, text_number, value_as};

/// Whether the phase encoding of the file `obj` (CSA image header `csa`) made by `maker`
/// (dcm2niix's maker name) runs along the positive direction; None when unknown.
pub(super) fn positive(
    obj: &InMemDicomObject,
    csa: Option<&Csa>,
    maker: Option<&str>,
) -> Option<bool> {
    let flag = |read: Option<f64>, positive_value: f64, negative_value: f64| {
        read.and_then(|v| {
            if v == positive_value {
                Some(true)
            } else if v == negative_value {
                Some(false)
            } else {
                None
            }
        })
    };
    match maker? {
        "Siemens" => {
            let xa = last_private(obj, 0x0021, "SIEMENS MR SDI 02", 0x1C, &text_number);
            flag(xa, 1.0, 0.0).or_else(|| {
                let csa = csa?.first("PhaseEncodingDirectionPositive")?;
                flag(csa.trim().parse().ok(), 1.0, 0.0)
            })
        }
        "UIH" => flag(
            last_private(obj, 0x0065, "Image Private Header", 0x58, &text_number),
            0.0,
            1.0,
        ),
        "GE" => ge_polarity(obj),
        _ => None,
    }
}

/// GE's phase-encoding polarity: Some(true) unflipped, Some(false) flipped.
pub(super) fn ge_polarity(obj: &InMemDicomObject) -> Option<bool> {
    let reordering = str_of(obj, tags::RECTILINEAR_PHASE_ENCODE_REORDERING)
        .and_then(|v| v.chars().next())
        .map(|c| c.to_ascii_uppercase());
    match reordering {
        Some('L') => Some(false),
        Some('R') => Some(true),
        _ => {
            let read = |o: &InMemDicomObject, t: Tag| {
                Some(value_as(o, t, dicom_core::VR::OB)?.to_bytes().to_vec())
            };
            let bytes = last_private(obj, 0x0043, "GEMS_PARM_01", 0x2A, &read)?;
            raw_header_polarity(&bytes)
        }
    }
}

/// The polarity in GE's raw header (UserDefineData), as dcm2niix reads it: the header starts at
/// the offset in bytes 24–25; its first four bytes are its version (a float from 5 to 40); from
/// version 25.002 on its fields sit 0x4C bytes later and the k-space direction 0x8C earlier.
/// The EPI flag (0x800 at 0x3A) must be set; bit 0x4 at 0x30 says flipped; a k-space direction
/// of 2 (bottom up) at 0x394 inverts it.
fn raw_header_polarity(b: &[u8]) -> Option<bool> {
    let u16_at = |at: usize| -> Option<u16> {
        let s = b.get(at..at.checked_add(2)?)?;
        Some(u16::from_le_bytes([s[0], s[1]]))
    };
    const MINIMUM: usize = 916;
    if b.len() < MINIMUM {
        return None;
    }
    let offset = usize::from(u16_at(24)?);
    if b.len() < offset + MINIMUM {
        return None;
    }
    let version = f32::from_le_bytes(b.get(offset..offset + 4)?.try_into().ok()?);
    if !(5.0..=40.0).contains(&version) {
        return None;
    }
    let (mut hdr, mut ky_direction) = (offset, 0x0394);
    if version >= 25.002 {
        hdr += 0x004C;
        ky_direction -= 0x008C;
    }
    if u16_at(hdr + 0x003A)? & 0x0800 == 0 {
        return None; // not EPI
    }
    let flipped = u16_at(hdr + 0x0030)? & 0x0004 != 0;
    let bottom_up = u16_at(hdr + ky_direction)? == 2;
    Some(flipped == bottom_up)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::value::PrimitiveValue;
    use dicom_core::{DataElement, VR};

    fn put(o: &mut InMemDicomObject, tag: Tag, vr: VR, v: PrimitiveValue) {
        o.put(DataElement::new(tag, vr, v));
    }

    #[test]
    fn siemens_xa_and_uih_private_flags() {
        let mut o = InMemDicomObject::new_empty();
        put(
            &mut o,
            Tag(0x0021, 0x0011),
            VR::LO,
            "SIEMENS MR SDI 02".into(),
        );
        put(&mut o, Tag(0x0021, 0x111C), VR::IS, "0".into());
        assert_eq!(positive(&o, None, Some("Siemens")), Some(false));
        put(&mut o, Tag(0x0021, 0x111C), VR::IS, "1".into());
        assert_eq!(positive(&o, None, Some("Siemens")), Some(true));
        // Another maker's element of that number says nothing.
        assert_eq!(positive(&o, None, Some("Philips")), None);
        // UIH's flag is the other way round.
        let mut u = InMemDicomObject::new_empty();
        put(
            &mut u,
            Tag(0x0065, 0x0010),
            VR::LO,
            "Image Private Header".into(),
        );
        put(&mut u, Tag(0x0065, 0x1058), VR::IS, "1".into());
        assert_eq!(positive(&u, None, Some("UIH")), Some(false));
        put(&mut u, Tag(0x0065, 0x1058), VR::IS, "0".into());
        assert_eq!(positive(&u, None, Some("UIH")), Some(true));
        put(&mut u, Tag(0x0065, 0x1058), VR::IS, "7".into());
        assert_eq!(positive(&u, None, Some("UIH")), None);
    }

    /// A raw header of `version` at offset 0 with the EPI flag, the polarity bit and the
    /// k-space direction set as given.
    fn raw_header(version: f32, epi: bool, flipped: bool, bottom_up: bool) -> Vec<u8> {
        let mut b = vec![0u8; 1200];
        b[..4].copy_from_slice(&version.to_le_bytes());
        let (hdr, ky) = if version >= 25.002 {
            (0x4C, 0x394 - 0x8C)
        } else {
            (0, 0x394)
        };
        if epi {
            b[hdr + 0x3A + 1] = 0x08;
        }
        if flipped {
            b[hdr + 0x30] = 0x04;
        }
        if bottom_up {
            b[hdr + ky] = 2;
        }
        b
    }

    #[test]
    fn ge_polarity_from_reordering_else_raw_header() {
        let mut o = InMemDicomObject::new_empty();
        put(&mut o, Tag(0x0043, 0x0010), VR::LO, "GEMS_PARM_01".into());
        for version in [24.0, 27.0] {
            for (flipped, bottom_up, unflipped) in [
                (false, false, true),
                (true, false, false),
                (false, true, false),
                (true, true, true),
            ] {
                let b = raw_header(version, true, flipped, bottom_up);
                put(&mut o, Tag(0x0043, 0x102A), VR::OB, PrimitiveValue::from(b));
                assert_eq!(
                    positive(&o, None, Some("GE")),
                    Some(unflipped),
                    "{version} {flipped} {bottom_up}"
                );
            }
        }
        // Not EPI, a bad version, a short header: unknown.
        for b in [
            raw_header(27.0, false, true, false),
            raw_header(3.0, true, true, false),
            raw_header(27.0, true, true, false)[..900].to_vec(),
        ] {
            put(&mut o, Tag(0x0043, 0x102A), VR::OB, PrimitiveValue::from(b));
            assert_eq!(positive(&o, None, Some("GE")), None);
        }
        // The standard attribute wins over the raw header.
        put(&mut o, Tag(0x0018, 0x9034), VR::CS, "REVERSE_LINEAR".into());
        assert_eq!(positive(&o, None, Some("GE")), Some(true));
        put(&mut o, Tag(0x0018, 0x9034), VR::CS, "LINEAR".into());
        assert_eq!(positive(&o, None, Some("GE")), Some(false));
    }
}
