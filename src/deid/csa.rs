//! Siemens CSA headers through de-identification: PS3.15 Annex E option 113111 (Retain Safe
//! Private) applied inside the two private attributes syngo MR writes under the creator
//! "SIEMENS CSA HEADER" — the image header (0029,xx10) and the series header (0029,xx20). Kept
//! whole they would leak (they hold the station name, the serial number and free text); removed,
//! a de-identified series loses what conversion reads from them (a mosaic's slice times and
//! normal, the phase-encoding polarity, the bandwidth behind TotalReadoutTime, the protocol's
//! acceleration and readout numbers). So each is rewritten (SV10 layout) with only the fields
//! dcm2niix reads for conversion — every other field, and every protocol line, is dropped:
//!
//! - image header: the fields of [`IMAGE_FIELDS`];
//! - series header: only MrPhoenixProtocol, cut to its `### ASCCONV BEGIN` block and, within it,
//!   to the `key = value` lines whose key starts with one of [`PROTOCOL_KEYS`] and whose value is
//!   a number — or, for the few keys of [`PROTOCOL_TEXT_KEYS`], a quoted text with none of the
//!   subject's identifiers.
//!
//! Siemens XA scanners write no CSA headers: their protocol is (0021,xx19) of "SIEMENS MR SDS
//! 01" (in an enhanced file, nested in the functional groups), the ASCCONV text itself or a CSA
//! header holding it. It is reduced by the series header's rule, and released in the form it came
//! in (text: the kept block's lines; CSA: as the series header).
//!
//! The verifier holds the released bytes to the same rule ([`check`]).

use dicom_core::Tag;

use crate::ingest::siemens::{csa_elements, encode_csa, nul_terminated, CsaElement};

/// The private creator of both headers.
pub const CREATOR: &str = "SIEMENS CSA HEADER";

/// The private creator of XA's protocol (0021,xx19).
pub const XA_CREATOR: &str = "SIEMENS MR SDS 01";

/// Which CSA header an attribute is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// (0029,xx10): per image.
    Image,
    /// (0029,xx20): per series (the scanner protocol).
    Series,
    /// XA's protocol (0021,xx19 of [`XA_CREATOR`]): its text, or a CSA header holding it.
    XaProtocol,
}

/// Image header fields kept: the ones dcm2niix reads from it for conversion (numbers of the
/// acquisition: mosaic layout and slice times, diffusion encoding, readout, table position).
pub const IMAGE_FIELDS: [&str; 14] = [
    "NumberOfImagesInMosaic",
    "SliceNormalVector",
    "MosaicRefAcqTimes",
    "B_value",
    "B_matrix",
    "DiffusionGradientDirection",
    "DiffusionDirectionality",
    "PhaseEncodingDirectionPositive",
    "BandwidthPerPixelPhaseEncode",
    "SliceMeasurementDuration",
    "RealDwellTime",
    "ProtocolSliceNumber",
    "ImaRelTablePosition",
    "ICE_Dims",
];

/// Protocol (ASCCONV) keys kept, by prefix: the ones dcm2niix and ancilla read for the sidecar
/// (k-space, parallel imaging, EPI timing, diffusion scheme, slice order, echo and inversion
/// times, shims and gradient offsets, transmitter reference, ASL, coil combination).
pub const PROTOCOL_KEYS: [&str; 28] = [
    "sKSpace.",
    "sPat.",
    "sSliceArray.ucMode",
    "sSliceArray.ucImageNumb",
    "sSliceArray.lConc",
    "sSliceArray.lSize",
    "sFastImaging.",
    "sDiffusion.",
    "sSliceAcceleration.",
    "alTE[",
    "alTI[",
    "alTR[",
    "lContrasts",
    "lInvContrasts",
    "lDelayTimeInTR",
    "dAveragesDouble",
    "lAverages",
    "lRepetitions",
    "ucReadOutMode",
    "ucCoilCombineMode",
    "sPrepPulses.ucMTC",
    "sTXSPEC.asNucleusInfo[0].flReferenceAmplitude",
    "sGRADSPEC.",
    "sRSatArray.",
    "sAsl.",
    "sProtConsistencyInfo.ulConvFromVersion",
    "sWipMemBlock.alFree[",
    "sWipMemBlock.adFree[",
];

/// Protocol keys kept with a text value: the sequence file (PulseSequenceDetails), the coil
/// names (ReceiveCoilName, CoilString) and the software baseline.
pub const PROTOCOL_TEXT_KEYS: [&str; 6] = [
    "tSequenceFileName",
    "asCoilSelectMeas[0].asList[0].sCoilElementID.tCoilID",
    "sCoilSelectMeas.aRxCoilSelectData[0].asList[0].sCoilElementID.tCoilID",
    "sCoilSelectMeas.sCoilStringForConversion",
    "sProtConsistencyInfo.tBaselineString",
    "sProtConsistencyInfo.tMeasuredBaselineString",
];

const PROTOCOL: &str = "MrPhoenixProtocol";
const BEGIN: &str = "### ASCCONV BEGIN ###";
const END: &str = "### ASCCONV END ###";

/// The CSA header (or XA protocol) `tag` is, given its private creator (None: not one).
pub fn kind(tag: Tag, creator: Option<&str>) -> Option<Kind> {
    if tag.element() < 0x1000 {
        return None;
    }
    match (tag.group(), creator?, tag.element() & 0xFF) {
        (0x0029, CREATOR, 0x10) => Some(Kind::Image),
        (0x0029, CREATOR, 0x20) => Some(Kind::Series),
        (0x0021, XA_CREATOR, 0x19) => Some(Kind::XaProtocol),
        _ => None,
    }
}

/// The header reduced to what is kept; None when it does not parse or nothing would be kept
/// (then the attribute is removed). `clean` is asked about each kept protocol text (the subject's
/// identifiers: false drops the line).
pub fn reduce(kind: Kind, bytes: &[u8], clean: impl Fn(&str) -> bool) -> Option<Vec<u8>> {
    let Some(elements) = csa_elements(bytes) else {
        // XA's protocol as its text: the kept lines, as text.
        if kind != Kind::XaProtocol {
            return None;
        }
        let lines = protocol_lines(&String::from_utf8_lossy(bytes), &clean);
        if lines.is_empty() {
            return None;
        }
        let mut text = format!("{BEGIN}\n{}\n{END}\n", lines.join("\n")).into_bytes();
        // An even length, as every DICOM value (the padding byte of OB).
        if text.len() % 2 == 1 {
            text.push(0);
        }
        return Some(text);
    };
    let kept: Vec<CsaElement> = match kind {
        Kind::Image => elements
            .into_iter()
            .filter(|e| IMAGE_FIELDS.contains(&e.name.as_str()))
            .collect(),
        Kind::Series | Kind::XaProtocol => {
            let e = elements.into_iter().find(|e| e.name == PROTOCOL)?;
            let text = e.values().into_iter().next()?;
            let lines = protocol_lines(&text, &clean);
            if lines.is_empty() {
                return None;
            }
            let mut item = format!("{BEGIN}\n{}\n{END}\n", lines.join("\n")).into_bytes();
            item.push(0);
            vec![CsaElement {
                name: PROTOCOL.into(),
                vm: 1,
                vr: e.vr,
                syngo_dt: e.syngo_dt,
                items: vec![item],
            }]
        }
    };
    (!kept.is_empty()).then(|| encode_csa(&kept))
}

/// The kept `key = value` lines of a protocol's ASCCONV block (comments dropped).
fn protocol_lines(text: &str, clean: &impl Fn(&str) -> bool) -> Vec<String> {
    crate::ingest::siemens::ascconv_lines(text)
        .filter(|(k, v)| allowed(k, v, clean))
        .map(|(k, v)| format!("{k} = {v}"))
        .collect()
}

/// May the protocol line `key = value` be released?
fn allowed(key: &str, value: &str, clean: &impl Fn(&str) -> bool) -> bool {
    if PROTOCOL_TEXT_KEYS.contains(&key) {
        let text = value.trim_matches('"');
        return value.starts_with('"')
            && !text.contains('"')
            && text.chars().all(|c| c.is_ascii_graphic() || c == ' ')
            && clean(text);
    }
    PROTOCOL_KEYS.iter().any(|p| key.starts_with(p)) && is_number(value)
}

/// A decimal number (sign, digits, point, exponent) or `0x` hex, as ASCCONV writes them.
fn is_number(v: &str) -> bool {
    if let Some(hex) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    !v.is_empty() && v.parse::<f64>().is_ok_and(f64::is_finite)
}

/// The verifier's rule for released bytes of a CSA header: they parse, and hold only what
/// [`reduce`] keeps. Returns the values to scan for identifiers (the field values, the values of
/// the protocol lines; names and keys are the fixed words of the lists above).
pub fn check(kind: Kind, bytes: &[u8]) -> Result<Vec<String>, String> {
    let what = match kind {
        Kind::Image => "CSA image header",
        Kind::Series => "CSA series header",
        Kind::XaProtocol => "XA protocol",
    };
    let Some(elements) = csa_elements(bytes) else {
        if kind != Kind::XaProtocol {
            return Err(format!("{what} does not parse"));
        }
        // The text form: the block's lines and nothing else (a padding NUL at most).
        let text = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        let text = std::str::from_utf8(text).map_err(|_| format!("{what} is not text"))?;
        let mut values = Vec::new();
        protocol_values(text, what, &mut values)?;
        return Ok(values);
    };
    let mut values = Vec::new();
    for e in &elements {
        match kind {
            Kind::Image if IMAGE_FIELDS.contains(&e.name.as_str()) => {
                values.extend(e.items.iter().map(|i| nul_terminated(i)));
            }
            Kind::Series | Kind::XaProtocol if e.name == PROTOCOL => {
                for item in &e.items {
                    protocol_values(&nul_terminated(item), what, &mut values)?;
                }
            }
            _ => return Err(format!("{what} holds a field not on the safe list")),
        }
    }
    Ok(values)
}

/// The values of a released protocol's lines (into `values`); an error for any line other than
/// the block's two markers and `key = value` lines [`reduce`] keeps.
fn protocol_values(text: &str, what: &str, values: &mut Vec<String>) -> Result<(), String> {
    for line in text.lines() {
        if line == BEGIN || line == END || line.is_empty() {
            continue;
        }
        match line.split_once(" = ") {
            Some((k, v)) if allowed(k, v, &|_| true) => values.push(v.to_string()),
            _ => return Err(format!("{what} holds a protocol line not on the safe list")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::siemens::{csa_element as element, parse_csa};

    /// The image header keeps its acquisition fields, values and all, and drops the rest (free
    /// fields such as ImageHistory, which may name the station or an operator).
    #[test]
    fn image_header_keeps_only_its_acquisition_fields() {
        let b = encode_csa(&[
            element("NumberOfImagesInMosaic", 1, &["36"]),
            element("ImageHistory", 1, &["ChannelMixing MRC35131 Smith"]),
            element("MosaicRefAcqTimes", 3, &["0", "72.5", "145"]),
            element("PhaseEncodingDirectionPositive", 1, &["0"]),
        ]);
        let reduced = reduce(Kind::Image, &b, |_| true).expect("kept");
        let csa = parse_csa(&reduced).expect("parses");
        assert_eq!(csa.first("NumberOfImagesInMosaic"), Some("36"));
        assert_eq!(csa.numbers("MosaicRefAcqTimes"), [0.0, 72.5, 145.0]);
        assert_eq!(csa.first("PhaseEncodingDirectionPositive"), Some("0"));
        assert_eq!(csa.first("ImageHistory"), None);
        assert!(!String::from_utf8_lossy(&reduced).contains("MRC35131"));
        assert_eq!(
            check(Kind::Image, &reduced).map(|v| v.join(",")),
            Ok("36,,,,,,0,72.5,145,,,,0,,,,,".into())
        );
        assert!(check(Kind::Image, &b).is_err());
        // Nothing to keep, or not a CSA header: removed.
        let other = encode_csa(&[element("ImageHistory", 1, &["x"])]);
        assert_eq!(reduce(Kind::Image, &other, |_| true), None);
        assert_eq!(reduce(Kind::Image, b"not a header", |_| true), None);
    }

    /// The protocol keeps the numbers of its listed keys and the listed texts the identifier
    /// check passes; protocol name, free texts, other keys and the XProtocol part go.
    #[test]
    fn series_header_keeps_listed_protocol_numbers_and_clean_texts() {
        let protocol = "<XProtocol> { <Name> \"PhoenixMetaProtocol\" SerialNumber 35131 }\n\
            ### ASCCONV BEGIN object=MrProtDataImpl@MrProtocolData version=51130001 ###\n\
            ulVersion\t = 51130001\n\
            tProtocolName\t = \"\"ep2d_bold_Smith\"\"\n\
            tSequenceFileName\t = \"\"%SiemensSeq%\\ep2d_bold\"\"\n\
            sKSpace.lBaseResolution\t = 64\n\
            sPat.lAccelFactPE\t = 2  # comment\n\
            sPat.ucPATMode\t = 0x2\n\
            sWipMemBlock.tFree\t = \"\"Dr Smith\"\"\n\
            asCoilSelectMeas[0].asList[0].sCoilElementID.tCoilID\t = \"\"HeadMatrix\"\"\n\
            sCoilSelectMeas.sCoilStringForConversion\t = \"\"Smith\"\"\n\
            ### ASCCONV END ###\nmore binary";
        let b = encode_csa(&[
            element("UsedPatientWeight", 1, &["70"]),
            element("MrPhoenixProtocol", 1, &[protocol]),
        ]);
        let reduced = reduce(Kind::Series, &b, |t| !t.contains("Smith")).expect("kept");
        let csa = parse_csa(&reduced).expect("parses");
        assert_eq!(csa.first("UsedPatientWeight"), None);
        let p = csa.first("MrPhoenixProtocol").expect("protocol");
        use crate::ingest::siemens::{protocol_number, protocol_text};
        assert_eq!(protocol_number(p, "sKSpace.lBaseResolution"), Some(64.0));
        assert_eq!(protocol_number(p, "sPat.lAccelFactPE"), Some(2.0));
        assert_eq!(protocol_number(p, "sPat.ucPATMode"), Some(2.0));
        assert_eq!(
            protocol_text(p, "tSequenceFileName").as_deref(),
            Some("%SiemensSeq%\\ep2d_bold")
        );
        assert_eq!(
            protocol_text(p, "asCoilSelectMeas[0].asList[0].sCoilElementID.tCoilID").as_deref(),
            Some("HeadMatrix")
        );
        for gone in ["Smith", "35131", "ulVersion", "tProtocolName", "XProtocol"] {
            assert!(!p.contains(gone), "{gone} released");
        }
        let values = check(Kind::Series, &reduced).expect("passes");
        assert!(
            values.contains(&"\"\"HeadMatrix\"\"".to_string()),
            "{values:?}"
        );
        assert!(check(Kind::Series, &b).is_err());
    }

    /// XA's protocol (0021,xx19) as text keeps the listed lines, as text (even length), which
    /// ingest reads as it reads the original; as a CSA header, it is reduced as the series
    /// header. The check passes what is released and refuses the original.
    #[test]
    fn xa_protocol_is_reduced_in_the_form_it_came_in() {
        let text = "<XProtocol> { <Name> \"PhoenixMetaProtocol\" SerialNumber 35131 }\n\
            ### ASCCONV BEGIN object=MrProtDataImpl@MrProtocolData version=61130001 ###\n\
            tProtocolName\t = \t\"\"fmri_Smith\"\"\n\
            sKSpace.lBaseResolution\t = \t64\n\
            sPat.lAccelFactPE\t = \t2\n\
            sCoilSelectMeas.sCoilStringForConversion\t = \t\"\"Smith\"\"\n\
            sTXSPEC.asNucleusInfo[0].flReferenceAmplitude\t = \t245.5\n\
            ### ASCCONV END ###\n";
        let reduced =
            reduce(Kind::XaProtocol, text.as_bytes(), |t| !t.contains("Smith")).expect("kept");
        assert_eq!(reduced.len() % 2, 0);
        let released = String::from_utf8_lossy(&reduced);
        use crate::ingest::siemens::protocol_number;
        assert_eq!(
            protocol_number(&released, "sKSpace.lBaseResolution"),
            Some(64.0)
        );
        assert_eq!(protocol_number(&released, "sPat.lAccelFactPE"), Some(2.0));
        assert_eq!(
            protocol_number(&released, "sTXSPEC.asNucleusInfo[0].flReferenceAmplitude"),
            Some(245.5)
        );
        for gone in ["Smith", "35131", "tProtocolName", "XProtocol"] {
            assert!(!released.contains(gone), "{gone} released");
        }
        assert_eq!(
            check(Kind::XaProtocol, &reduced),
            Ok(vec!["64".into(), "2".into(), "245.5".into()])
        );
        assert!(check(Kind::XaProtocol, text.as_bytes()).is_err());
        assert_eq!(
            reduce(Kind::XaProtocol, b"no protocol here", |_| true),
            None
        );
        // The CSA form: released as a CSA header holding the reduced protocol.
        let csa = encode_csa(&[element("MrPhoenixProtocol", 1, &[text])]);
        let reduced = reduce(Kind::XaProtocol, &csa, |t| !t.contains("Smith")).expect("kept");
        let p = parse_csa(&reduced).expect("a CSA header");
        let p = p.first("MrPhoenixProtocol").expect("protocol");
        assert_eq!(protocol_number(p, "sPat.lAccelFactPE"), Some(2.0));
        assert!(!p.contains("Smith"));
        assert!(check(Kind::XaProtocol, &reduced).is_ok());
        assert!(check(Kind::XaProtocol, &csa).is_err());
        // The text form of the CSA rule does not apply to the CSA headers themselves.
        assert_eq!(reduce(Kind::Series, text.as_bytes(), |_| true), None);
    }

    #[test]
    fn only_the_csa_creators_two_headers_are_recognised() {
        assert_eq!(kind(Tag(0x0029, 0x1010), Some(CREATOR)), Some(Kind::Image));
        assert_eq!(kind(Tag(0x0029, 0x1120), Some(CREATOR)), Some(Kind::Series));
        assert_eq!(kind(Tag(0x0029, 0x1018), Some(CREATOR)), None);
        assert_eq!(
            kind(Tag(0x0029, 0x1010), Some("SIEMENS MEDCOM HEADER")),
            None
        );
        assert_eq!(kind(Tag(0x0029, 0x0010), Some(CREATOR)), None);
        assert_eq!(kind(Tag(0x0019, 0x1010), Some(CREATOR)), None);
        assert_eq!(
            kind(Tag(0x0021, 0x1119), Some(XA_CREATOR)),
            Some(Kind::XaProtocol)
        );
        assert_eq!(kind(Tag(0x0021, 0x1119), Some(CREATOR)), None);
        assert_eq!(kind(Tag(0x0021, 0x1105), Some(XA_CREATOR)), None);
        assert_eq!(kind(Tag(0x0029, 0x1020), None), None);
    }

    /// Damaged headers (every truncation, bit flips in every byte) are removed or reduced,
    /// never a panic; whatever `reduce` releases passes `check`.
    #[test]
    fn damaged_headers_never_panic_and_what_is_released_passes_the_check() {
        let protocol = "### ASCCONV BEGIN ###\nsKSpace.lBaseResolution = 64\n\
            tSequenceFileName = \"\"%SiemensSeq%\\ep2d\"\"\n### ASCCONV END ###\n";
        let headers = [
            (
                Kind::Image,
                encode_csa(&[
                    element("NumberOfImagesInMosaic", 1, &["36"]),
                    element("ImageHistory", 1, &["x"]),
                ]),
            ),
            (
                Kind::Series,
                encode_csa(&[element("MrPhoenixProtocol", 1, &[protocol])]),
            ),
            (Kind::XaProtocol, protocol.as_bytes().to_vec()),
        ];
        for (kind, b) in headers {
            let mut damaged: Vec<Vec<u8>> = (0..b.len()).map(|cut| b[..cut].to_vec()).collect();
            for at in 0..b.len() {
                let mut f = b.clone();
                f[at] ^= 0x5A;
                damaged.push(f);
            }
            for d in damaged {
                if let Some(r) = reduce(kind, &d, |_| true) {
                    assert!(check(kind, &r).is_ok(), "{kind:?}");
                }
                let _ = check(kind, &d);
            }
        }
    }
}
