//! Sidecar keys from GE's private MR attributes, under the names and by the rules of dcm2niix
//! v1.0.20260724's BIDS sidecar: InternalPulseSequenceName (0019,xx9E: `EPI`, `EPI2`),
//! ShimSetting (0043,xx02–04, SS), PrescanReuseString (0043,xx95), NumberOfExcitations
//! (0027,xx62 of "GEMS_IMAG_01", FL, above 1), ParallelReductionFactorOutOfPlane (the ASSET
//! factors' second number, 0043,xx83: its reciprocal) and, for diffusion EPI (`epi2` / `EPI2`),
//! NumberOfDiffusionDirectionGE (0019,xxE0), NumberOfDiffusionT2GE (0019,xxDF),
//! TensorFileNumberGE (user data 11, 0019,xxB2; 2 or 3 in those cycling modes when 0) and
//! DiffGradientCyclingGE (ALLTR, 2TR, 3TR, SPOFF; see [`ge::Cycling`]). GE's readout timing is
//! in [`crate::ingest::readout`].

use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use serde_json::{json, Value};

use crate::digits::significant6;
use crate::ingest::ge::{self, Cycling, EpiKind};
use crate::ingest::values::{float_number, last_private, str_of, text_number, text_of, value_as};

/// The keys of a GE file `obj`, each only when its source holds a value.
pub(super) fn ge_keys(obj: &InMemDicomObject) -> Vec<(&'static str, Value)> {
    let mut keys = Vec::new();
    let epi = ge::epi(obj);
    let acqu = |low| last_private(obj, 0x0019, ge::ACQU, low, &text_of);
    let acqu_number = |low| last_private(obj, 0x0019, ge::ACQU, low, &text_number);
    let parm = |low, read: &dyn Fn(&InMemDicomObject, Tag) -> Option<Value>| {
        last_private(obj, 0x0043, ge::PARM, low, read)
    };
    match acqu(u16::from(ge::INTERNAL_PULSE_SEQUENCE_NAME)).as_deref() {
        Some("EPI") if epi.kind != EpiKind::Pepolar => {
            keys.push(("InternalPulseSequenceName", json!("EPI")));
        }
        Some("EPI2") => keys.push(("InternalPulseSequenceName", json!("EPI2"))),
        _ => {}
    }
    let short = |o: &InMemDicomObject, t: Tag| {
        value_as(o, t, VR::SS)?
            .to_int::<i64>()
            .ok()
            .map(|v| json!(v))
    };
    let shims: Vec<Value> = (0x02..=0x04).filter_map(|low| parm(low, &short)).collect();
    if shims.len() == 3 {
        keys.push(("ShimSetting", json!(shims)));
    }
    let text =
        |o: &InMemDicomObject, t: Tag| text_of(o, t).filter(|v| !v.is_empty()).map(Value::from);
    if let Some(v) = parm(0x95, &text) {
        keys.push(("PrescanReuseString", v));
    }
    if let Some(nex) =
        last_private(obj, 0x0027, "GEMS_IMAG_01", 0x62, &float_number).filter(|n| *n > 1.0)
    {
        keys.push(("NumberOfExcitations", json!(significant6(nex))));
    }
    let asset = |o: &InMemDicomObject, t: Tag| {
        let v = text_of(o, t)?;
        let factor = v.split('\\').nth(1)?.trim().parse::<f32>().ok()?;
        (factor > 0.0).then(|| json!(significant6(f64::from(1.0 / factor))))
    };
    if let Some(v) = parm(0x83, &asset).filter(|v| v.as_f64().is_some_and(|f| f >= 1.0)) {
        keys.push(("ParallelReductionFactorOutOfPlane", v));
    }
    if epi.kind == EpiKind::Diffusion || epi.internal_epi2 {
        let count = |low: u16| acqu_number(low).map(f64::round).filter(|n| *n > 0.0);
        if let Some(n) = count(0xE0) {
            keys.push(("NumberOfDiffusionDirectionGE", json!(n as i64)));
        }
        if let Some(n) = count(0xDF) {
            keys.push(("NumberOfDiffusionT2GE", json!(n as i64)));
        }
        let model = str_of(obj, tags::MANUFACTURER_MODEL_NAME).unwrap_or_default();
        let cycling = Cycling::of(&model, &epi);
        let tensor = match (count(0xB2), cycling) {
            (Some(n), _) => Some(n as i64),
            (None, Cycling::TwoTr) => Some(2),
            (None, Cycling::ThreeTr) => Some(3),
            (None, _) => None,
        };
        if let Some(n) = tensor {
            keys.push(("TensorFileNumberGE", json!(n)));
        }
        let mode = match cycling {
            Cycling::Off => None,
            Cycling::AllTr => Some("ALLTR"),
            Cycling::TwoTr => Some("2TR"),
            Cycling::ThreeTr => Some("3TR"),
            Cycling::SpecialOff => Some("SPOFF"),
        };
        if let Some(m) = mode {
            keys.push(("DiffGradientCyclingGE", json!(m)));
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::value::PrimitiveValue;
    use dicom_core::DataElement;

    fn put(o: &mut InMemDicomObject, tag: Tag, vr: VR, v: PrimitiveValue) {
        o.put(DataElement::new(tag, vr, v));
    }

    fn key(keys: &[(&'static str, Value)], name: &str) -> Option<Value> {
        keys.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }

    #[test]
    fn ge_private_keys_as_dcm2niix_names_them() {
        let mut o = InMemDicomObject::new_empty();
        put(
            &mut o,
            tags::MANUFACTURER_MODEL_NAME,
            VR::LO,
            "SIGNA Premier".into(),
        );
        put(&mut o, Tag(0x0019, 0x0010), VR::LO, ge::ACQU.into());
        put(&mut o, Tag(0x0019, 0x109C), VR::LO, "epi2".into());
        put(&mut o, Tag(0x0019, 0x109E), VR::LO, "EPI2".into());
        put(&mut o, Tag(0x0019, 0x10B3), VR::DS, "3".into());
        put(&mut o, Tag(0x0019, 0x10DF), VR::DS, "2.0".into());
        put(&mut o, Tag(0x0019, 0x10E0), VR::DS, "30".into());
        put(&mut o, Tag(0x0027, 0x0010), VR::LO, "GEMS_IMAG_01".into());
        put(
            &mut o,
            Tag(0x0027, 0x1062),
            VR::FL,
            PrimitiveValue::from(2.0f32),
        );
        put(&mut o, Tag(0x0043, 0x0010), VR::LO, ge::PARM.into());
        for (low, v) in [(0x02u16, 12i16), (0x03, -7), (0x04, 30)] {
            put(
                &mut o,
                Tag(0x0043, 0x1000 | low),
                VR::SS,
                PrimitiveValue::from(v),
            );
        }
        put(&mut o, Tag(0x0043, 0x1083), VR::DS, "0.5\\0.5".into());
        put(&mut o, Tag(0x0043, 0x1095), VR::LO, "RN/s4".into());
        let keys = ge_keys(&o);
        for (name, value) in [
            ("InternalPulseSequenceName", json!("EPI2")),
            ("ShimSetting", json!([12, -7, 30])),
            ("PrescanReuseString", json!("RN/s4")),
            ("NumberOfExcitations", json!(2.0)),
            ("ParallelReductionFactorOutOfPlane", json!(2.0)),
            ("NumberOfDiffusionDirectionGE", json!(30)),
            ("NumberOfDiffusionT2GE", json!(2)),
            ("TensorFileNumberGE", json!(3)),
            ("DiffGradientCyclingGE", json!("3TR")),
        ] {
            assert_eq!(key(&keys, name), Some(value), "{name}");
        }
        // Special-off on a Premier; no cycling keys on an MR750 (its mode is off).
        put(&mut o, Tag(0x0019, 0x10B6), VR::DS, "0.72".into());
        assert_eq!(
            key(&ge_keys(&o), "DiffGradientCyclingGE"),
            Some(json!("SPOFF"))
        );
        assert_eq!(key(&ge_keys(&o), "TensorFileNumberGE"), None);
        put(
            &mut o,
            tags::MANUFACTURER_MODEL_NAME,
            VR::LO,
            "DISCOVERY MR750".into(),
        );
        assert_eq!(key(&ge_keys(&o), "DiffGradientCyclingGE"), None);
        // Not a diffusion EPI: none of its keys.
        put(&mut o, Tag(0x0019, 0x109C), VR::LO, "epiRT".into());
        put(&mut o, Tag(0x0019, 0x109E), VR::LO, "EPI".into());
        let keys = ge_keys(&o);
        assert_eq!(key(&keys, "InternalPulseSequenceName"), Some(json!("EPI")));
        assert_eq!(key(&keys, "NumberOfDiffusionDirectionGE"), None);
    }
}
