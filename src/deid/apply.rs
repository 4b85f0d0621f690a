//! Applying the profile to one data set, at every sequence depth: each attribute gets the action
//! of its Table E.1-1 row under the options in force; attributes the table does not list are kept,
//! except that UIDs are always replaced, dates always shifted, person names always emptied, and
//! private attributes removed unless on the safe-private whitelist.

use dicom_core::dictionary::DataDictionary;
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::{tags, StandardDataDictionary};
use dicom_object::mem::InMemElement;
use dicom_object::InMemDicomObject;

use super::clean::{clean_text, Identifiers};
use super::csa;
use super::ge_protocol;
use super::keyed::UidMapper;
use super::options::{Action, DeidOptionsSet};
use super::profile::profile;
use crate::datetime::Date;

/// Safe private attributes kept under option 113111: (group, private creator, element byte).
/// The PET ones SUV needs (and GE's injected volume and filter cutoff), and the MR acquisition
/// numbers conversion needs where the maker puts them in private attributes only: classic DWI
/// b-values and gradient directions, a mosaic's image count, Philips' floating-point scale and
/// partial Fourier, GE's image type, Siemens XA's time after the acquisition's start (its slice
/// times), GE's EPI names, group delay and cycling mode (its slice times), GE's echo spacing and
/// ASSET factor (its readout time), the table's position (TablePosition), the phase-encoding
/// polarity of XA and UIH, Philips' water-fat shift (its readout time). Numbers and code strings
/// of the acquisition, no identity — without them a de-identified DWI has no b-values. XA's
/// enhanced files nest the SDS and SDI attributes in a private sequence of each creator
/// (0021,xxFE), Philips its stack's table position in its stack sequence (2001,xx5F): the
/// sequences are kept, their items going through the profile (only the attributes of this list
/// stay in them). GE's raw header
/// (UserDefineData), which its older EPIs' polarity comes from, is not on it: a binary block of
/// the whole exam. The two Siemens CSA headers, XA's protocol and GE's protocol data block are on
/// it, but never kept whole: [`super::csa`] and [`super::ge_protocol`] rewrite them with their
/// acquisition fields only.
pub const SAFE_PRIVATE: [(u16, &str, u8); 56] = [
    (0x7053, "Philips PET Private Group", 0x00), // SUV scale factor
    (0x7053, "Philips PET Private Group", 0x09), // activity concentration scale factor
    (0x0009, "GEMS_PETD_01", 0x0D),              // scan start (decay reference) date-time
    (0x0009, "GEMS_PETD_01", 0x3A),              // injected volume (InjectedVolume)
    (0x0009, "GEMS_PETD_01", 0x8F),              // filter cutoff (ReconFilterSize)
    (0x0071, "SIEMENS MED PT", 0x22),            // decay correction date-time
    (0x0019, "SIEMENS MR HEADER", 0x0A),         // NumberOfImagesInMosaic
    (0x0019, "SIEMENS MR HEADER", 0x0C),         // B_value
    (0x0019, "SIEMENS MR HEADER", 0x0D),         // DiffusionDirectionality
    (0x0019, "SIEMENS MR HEADER", 0x0E),         // DiffusionGradientDirection
    (0x0019, "SIEMENS MR HEADER", 0x27),         // B_matrix
    (0x0019, "SIEMENS MR HEADER", 0x18),         // RealDwellTime (DwellTime)
    (0x0019, "SIEMENS MR HEADER", 0x14),         // ImaRelTablePosition (table, mm)
    (0x0021, "SIEMENS MR SDS 01", 0x05),         // RelTablePosition (XA: table, mm)
    (0x0051, "SIEMENS MR HEADER", 0x0E),         // ImageOrientationText ("Tra>Cor(-6.2)")
    (0x0051, "SIEMENS MR HEADER", 0x0F),         // coil string ("T:HEA;HEP")
    (0x0051, "SIEMENS MR HEADER", 0x11),         // ImaPATModeText (acceleration, "p2")
    (0x0021, "SIEMENS MR SDI 02", 0x04),         // TimeAfterStart (s; XA slice times)
    (0x0021, "SIEMENS MR SDI 02", 0x1C),         // phase-encoding direction positive (XA)
    (0x0021, "SIEMENS MR SDI 02", 0x53),         // bandwidth per pixel phase encode (XA)
    (0x0065, "Image Private Header", 0x58),      // phase-encoding polarity (UIH)
    (0x0029, super::csa::CREATOR, 0x10),         // CSA image header (reduced)
    (0x0029, super::csa::CREATOR, 0x20),         // CSA series header (reduced)
    (0x0021, super::csa::XA_CREATOR, 0x19),      // XA protocol (reduced)
    (0x0021, super::csa::XA_CREATOR, 0xFE),      // XA's nested SDS attributes (a sequence)
    (0x0021, "SIEMENS MR SDI 02", 0xFE),         // XA's nested SDI attributes (a sequence)
    (0x0019, "GEMS_ACQU_01", 0x17),              // series plane (3-plane: localizer)
    (0x0019, "GEMS_ACQU_01", 0x7F),              // table delta (mm)
    (0x0019, "GEMS_ACQU_01", 0x9C),              // pulse sequence name (epi, epiRT, epi2)
    (0x0019, "GEMS_ACQU_01", 0x9E),              // internal pulse sequence name (EPI, EPI2)
    (0x0019, "GEMS_ACQU_01", 0xB3),              // user data 12 (diffusion gradient cycling)
    (0x0019, "GEMS_ACQU_01", 0xB6),              // user data 15 (cycling special-off mode)
    (0x0019, "GEMS_ACQU_01", 0xB2),              // user data 11 (diffusion tensor file)
    (0x0019, "GEMS_ACQU_01", 0xBB),              // diffusion direction (user data 20)
    (0x0019, "GEMS_ACQU_01", 0xBC),              // diffusion direction (user data 21)
    (0x0019, "GEMS_ACQU_01", 0xBD),              // diffusion direction (user data 22)
    (0x0019, "GEMS_ACQU_01", 0xDF),              // number of diffusion T2 (b = 0) images
    (0x0019, "GEMS_ACQU_01", 0xE0),              // number of diffusion directions
    (0x0043, "GEMS_PARM_01", 0x2C),              // effective echo spacing (µs; readout time)
    (0x0043, "GEMS_PARM_01", 0x2F),              // image type (magnitude, phase, ...)
    (0x0043, "GEMS_PARM_01", 0x30),              // diffusion direction type (DTI or not)
    (0x0043, "GEMS_PARM_01", 0x39),              // b-value (slop_int_6..9)
    (0x0043, "GEMS_PARM_01", 0x7C),              // epiRT group delay (s; part of the TR)
    (0x0043, "GEMS_PARM_01", 0x83),              // ASSET factors (acceleration)
    (0x0043, "GEMS_PARM_01", 0xB2),              // table position information (mm)
    (0x0025, "GEMS_SERS_01", 0x1B),              // protocol data block (reduced)
    (0x2001, "Philips Imaging DD 001", 0x03),    // diffusion b-factor
    (0x2001, "Philips Imaging DD 001", 0x19),    // partial matrix scanned (partial Fourier)
    (0x2001, "Philips Imaging DD 001", 0x22),    // water-fat shift (pixels; readout time)
    (0x2001, "Philips Imaging DD 001", 0x5F),    // stack sequence (its table position)
    (0x2005, "Philips MR Imaging DD 001", 0x0E), // MR scale slope (floating-point values)
    (0x2005, "Philips MR Imaging DD 001", 0xB0), // diffusion direction RL
    (0x2005, "Philips MR Imaging DD 001", 0xB1), // diffusion direction AP
    (0x2005, "Philips MR Imaging DD 001", 0xB2), // diffusion direction FH
    (0x2005, "Philips MR Imaging DD 005", 0x0F), // per-frame private item (its scale slope)
    (0x2005, "Philips MR Imaging DD 005", 0x3C), // MR stack table position (mm)
];

/// What one run needs to transform a data set.
pub struct Context<'a> {
    pub uids: &'a UidMapper,
    pub options: DeidOptionsSet,
    pub date_offset_days: i64,
    pub identifiers: &'a Identifiers,
    /// Counts per action, for the report.
    pub counts: Counts,
}

/// What the report counts, by name.
const COUNTED: [&str; 8] = [
    "private_kept",
    "private_removed",
    "X",
    "Z",
    "D",
    "K",
    "C",
    "U",
];

/// Attributes per action (and private attributes kept or removed), for the report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts([usize; COUNTED.len()]);

impl Counts {
    pub(super) fn private(&mut self, kept: bool) {
        self.0[if kept { 0 } else { 1 }] += 1;
    }

    pub fn action(&mut self, a: Action) {
        let i = match a {
            Action::X => 2,
            Action::Z => 3,
            Action::D => 4,
            Action::K => 5,
            Action::C => 6,
            Action::U => 7,
        };
        self.0[i] += 1;
    }

    /// The non-zero counts by name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, usize)> + '_ {
        COUNTED
            .iter()
            .zip(self.0)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (*k, n))
    }
}

/// `e` as an element of VR `vr` when it came as UN (a private attribute of an implicit VR file, or
/// one its writer did not know: PS3.5 6.2.2): its bytes decoded (text, or little-endian numbers),
/// so that a date is shifted, a text cleaned and a UID replaced as that VR says, not copied as
/// opaque bytes (before, a GE reference date-time in an implicit VR PET came out as backslashes
/// and its SUV changed). Itself when it is not UN or its bytes do not decode as `vr`.
fn with_known_vr(e: InMemElement, vr: VR) -> InMemElement {
    if e.vr() != VR::UN || vr == VR::UN {
        return e;
    }
    let decoded = e
        .value()
        .primitive()
        .and_then(|p| crate::ingest::values::decode_as(&p.to_bytes(), vr));
    match decoded {
        Some(v) => InMemElement::new(e.header().tag, vr, v),
        None => e,
    }
}

fn strs(e: &InMemElement) -> Vec<String> {
    match e.value() {
        Value::Primitive(p) => p.to_multi_str().iter().map(|s| s.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn string_element(tag: Tag, vr: VR, values: &[String]) -> InMemElement {
    InMemElement::new(tag, vr, PrimitiveValue::from(values.join("\\")))
}

/// `d` moved by `days`, as a DA, when it stays within the years a DA holds (0001-9999); `None`
/// otherwise (a date early in year 1 shifted back was written `-0020826`).
fn shifted(d: Date, days: i64) -> Option<String> {
    let s = d.add_days(days);
    (1..=9999).contains(&s.year).then(|| s.to_da())
}

/// Shift a DA value by whole days; `None` when it does not parse, or leaves the years a DA holds
/// (then it is emptied).
pub fn shift_da(v: &str, days: i64) -> Option<String> {
    let t = v.trim();
    if t.is_empty() {
        return Some(String::new());
    }
    Date::parse(t).and_then(|d| shifted(d, days))
}

/// Shift the date part of a DT value (`YYYYMMDD…`), keeping time and offset. A value of reduced
/// precision (PS3.5 §6.2: `YYYY` or `YYYYMM`, with an optional offset) is shifted from the first
/// day of its year or month and keeps its precision.
pub fn shift_dt(v: &str, days: i64) -> Option<String> {
    let t = v.trim();
    if t.is_empty() {
        return Some(String::new());
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 4 || digits == 6 {
        let (period, offset) = t.split_at(digits);
        if !offset.is_empty() && !offset.starts_with(['+', '-']) {
            return None;
        }
        let first = if digits == 4 { "0101" } else { "01" };
        let moved = shifted(Date::parse(&format!("{period}{first}"))?, days)?;
        return Some(format!("{}{offset}", &moved[..digits]));
    }
    // `get`: a damaged value may hold a multi-byte character across byte 8.
    let (date, rest) = (t.get(..8)?, t.get(8..)?);
    let d = Date::parse(date)?;
    Some(format!("{}{rest}", shifted(d, days)?))
}

/// A text value as a private creator is compared: trimmed of spaces and padding.
pub(crate) fn creator_text(e: &InMemElement) -> Option<String> {
    e.to_str()
        .ok()
        .map(|s| s.trim().trim_end_matches('\0').to_string())
}

/// The private creator `t` among those of a data set met so far.
pub(super) fn creator_in(creators: &[(Tag, String)], t: Tag) -> Option<String> {
    creators
        .iter()
        .find(|(ct, _)| *ct == t)
        .map(|(_, c)| c.clone())
}

/// Is this private attribute (or private creator) on the safe list? `creator` gives the value of
/// a private creator attribute of the same data set by its tag.
pub fn on_safe_list(tag: Tag, creator: impl Fn(Tag) -> Option<String>) -> bool {
    in_private_list(&SAFE_PRIVATE, tag, creator)
}

/// The safe private attributes that hold numbers (counts, b-values, directions, times, factors,
/// table positions): the list deems them safe as numbers.
const NUMERIC_SAFE: [(u16, &str, u8); 33] = [
    (0x7053, "Philips PET Private Group", 0x00),
    (0x7053, "Philips PET Private Group", 0x09),
    (0x0009, "GEMS_PETD_01", 0x3A),
    (0x0009, "GEMS_PETD_01", 0x8F),
    (0x0019, "SIEMENS MR HEADER", 0x0A),
    (0x0019, "SIEMENS MR HEADER", 0x0C),
    (0x0019, "SIEMENS MR HEADER", 0x0E),
    (0x0019, "SIEMENS MR HEADER", 0x27),
    (0x0019, "SIEMENS MR HEADER", 0x18),
    (0x0019, "SIEMENS MR HEADER", 0x14),
    (0x0021, "SIEMENS MR SDS 01", 0x05),
    (0x0021, "SIEMENS MR SDI 02", 0x04),
    (0x0021, "SIEMENS MR SDI 02", 0x53),
    (0x0019, "GEMS_ACQU_01", 0x7F),
    (0x0019, "GEMS_ACQU_01", 0xB3),
    (0x0019, "GEMS_ACQU_01", 0xB6),
    (0x0019, "GEMS_ACQU_01", 0xBB),
    (0x0019, "GEMS_ACQU_01", 0xBC),
    (0x0019, "GEMS_ACQU_01", 0xBD),
    (0x0019, "GEMS_ACQU_01", 0xDF),
    (0x0019, "GEMS_ACQU_01", 0xE0),
    (0x0043, "GEMS_PARM_01", 0x2C),
    (0x0043, "GEMS_PARM_01", 0x39),
    (0x0043, "GEMS_PARM_01", 0x7C),
    (0x0043, "GEMS_PARM_01", 0x83),
    (0x0043, "GEMS_PARM_01", 0xB2),
    (0x2001, "Philips Imaging DD 001", 0x03),
    (0x2001, "Philips Imaging DD 001", 0x22),
    (0x2005, "Philips MR Imaging DD 001", 0x0E),
    (0x2005, "Philips MR Imaging DD 001", 0xB0),
    (0x2005, "Philips MR Imaging DD 001", 0xB1),
    (0x2005, "Philips MR Imaging DD 001", 0xB2),
    (0x2005, "Philips MR Imaging DD 005", 0x3C),
];

/// Whether a safe private attribute is kept with this value (`bytes`, as encoded): one of
/// [`NUMERIC_SAFE`] in a text VR must hold numbers only (`\`-separated; padding aside), as text
/// there is not the attribute the list deems safe (a PHI audit: "Dr Thistle ward 7 bed 3" in
/// Siemens' B_value, LO, was released). Binary VRs, and UN (an implicit VR file: its bytes may
/// be binary numbers), pass.
pub fn safe_value(tag: Tag, vr: VR, creator: impl Fn(Tag) -> Option<String>, bytes: &[u8]) -> bool {
    const TEXT: [VR; 8] = [
        VR::IS,
        VR::DS,
        VR::LO,
        VR::SH,
        VR::LT,
        VR::ST,
        VR::UT,
        VR::CS,
    ];
    if (0x0010..=0x00FF).contains(&tag.element())
        || !TEXT.contains(&vr)
        || !in_private_list(&NUMERIC_SAFE, tag, creator)
    {
        return true;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    text.split('\\').all(|v| {
        let v = v.trim_matches(|c: char| c == '\0' || c.is_whitespace());
        v.is_empty() || v.parse::<f64>().is_ok_and(f64::is_finite)
    })
}

/// Is this private attribute (or the private creator of one) in `list`? `creator` as for
/// [`on_safe_list`].
fn in_private_list(
    list: &[(u16, &str, u8)],
    tag: Tag,
    creator: impl Fn(Tag) -> Option<String>,
) -> bool {
    let (g, e) = (tag.group(), tag.element());
    let is_creator = (0x0010..=0x00FF).contains(&e);
    let block = e >> 8;
    let creator_tag = match (is_creator, block) {
        (true, _) => tag,
        (false, 0x10..) => Tag(g, block),
        _ => return false,
    };
    let Some(name) = creator(creator_tag) else {
        return false;
    };
    list.iter()
        .any(|(sg, sc, se)| *sg == g && *sc == name && (is_creator || (e & 0xFF) as u8 == *se))
}

/// The safe private attributes that are sequences: their items go through the profile. One that
/// arrives as bytes (an implicit VR file, where nothing says a private attribute is a sequence,
/// or VR UN) cannot be: it is removed, never kept whole.
const SAFE_SEQUENCES: [(u16, &str, u8); 4] = [
    (0x0021, super::csa::XA_CREATOR, 0xFE),
    (0x0021, "SIEMENS MR SDI 02", 0xFE),
    (0x2001, "Philips Imaging DD 001", 0x5F),
    (0x2005, "Philips MR Imaging DD 005", 0x0F),
];

/// Is this private attribute one of [`SAFE_SEQUENCES`]? (`creator` as for [`on_safe_list`].)
pub(super) fn is_safe_sequence(tag: Tag, creator: impl Fn(Tag) -> Option<String>) -> bool {
    // A private creator is never one (its value is its name).
    tag.element() >> 8 >= 0x10 && in_private_list(&SAFE_SEQUENCES, tag, creator)
}

/// A private attribute released reduced, never whole: a Siemens CSA header ([`csa`]) or GE's
/// Protocol Data Block ([`ge_protocol`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduced {
    Csa(csa::Kind),
    GeProtocol,
}

/// The reduced attribute `tag` is, if it is one (`creator` gives a private creator of the same
/// data set by its tag).
pub(super) fn reduced_kind(tag: Tag, creator: impl Fn(Tag) -> Option<String>) -> Option<Reduced> {
    let block = tag.element() >> 8;
    if tag.group().is_multiple_of(2) || block < 0x10 {
        return None;
    }
    let name = creator(Tag(tag.group(), block));
    if ge_protocol::is_block(tag, name.as_deref()) {
        return Some(Reduced::GeProtocol);
    }
    csa::kind(tag, name.as_deref()).map(Reduced::Csa)
}

/// A reduced attribute's value as released: its safe fields or lines (texts holding none of the
/// subject's identifiers), or None (removed) when option 113111 is off or nothing is kept.
pub(super) fn reduced_value(kind: Reduced, bytes: &[u8], ctx: &Context) -> Option<Vec<u8>> {
    if !ctx.options.retain_safe_private {
        return None;
    }
    let ids = ctx.identifiers;
    let clean = |t: &str| clean_text(t, ids) == t;
    match kind {
        Reduced::Csa(k) => csa::reduce(k, bytes, clean),
        Reduced::GeProtocol => ge_protocol::reduce(bytes, clean),
    }
}

/// Transform one data set (recursively), consuming it: kept values move, nothing is copied.
pub fn transform(obj: InMemDicomObject, ctx: &mut Context) -> InMemDicomObject {
    let mut out = InMemDicomObject::new_empty();
    // Elements come in tag order, so a private block's creator comes before its elements.
    let mut creators: Vec<(Tag, String)> = Vec::new();
    for e in obj {
        // A public attribute that came as UN is handled as the VR the dictionary gives it.
        let known = (e.vr() == VR::UN)
            .then(|| crate::ingest::values::dictionary_vr(e.header().tag))
            .flatten();
        let e = match known {
            Some(vr) => with_known_vr(e, vr),
            None => e,
        };
        let tag = e.header().tag;
        let vr = e.header().vr;
        if tag.group() % 2 == 1 {
            if (0x0010..=0x00FF).contains(&tag.element()) {
                if let Some(c) = creator_text(&e) {
                    creators.push((tag, c));
                }
            }
            if let Some(kind) = reduced_kind(tag, |t| creator_in(&creators, t)) {
                let reduced = e.to_bytes().ok().and_then(|b| reduced_value(kind, &b, ctx));
                ctx.counts.private(reduced.is_some());
                if let Some(b) = reduced {
                    out.put(InMemElement::new(tag, vr, PrimitiveValue::from(b)));
                }
                continue;
            }
            let safe = on_safe_list(tag, |t| creator_in(&creators, t));
            let unread = !matches!(e.value(), Value::Sequence(_))
                && is_safe_sequence(tag, |t| creator_in(&creators, t));
            let valued = match e.value() {
                Value::Primitive(_) => e
                    .to_bytes()
                    .is_ok_and(|b| safe_value(tag, vr, |t| creator_in(&creators, t), &b)),
                _ => true,
            };
            if ctx.options.retain_safe_private && safe && !unread && valued {
                ctx.counts.private(true);
                // Safe private date-times are shifted like every other date.
                if let Value::Sequence(_) = e.value() {
                    // A safe private sequence: its items go through the profile too.
                    out.put(transformed_sequence(e, ctx));
                } else if shifted_private(tag, vr, |t| creator_in(&creators, t)) {
                    // (In an implicit VR file its value is bytes of unknown VR: read as DT.)
                    let e = with_known_vr(e, VR::DT);
                    let vals: Vec<String> = strs(&e)
                        .iter()
                        .map(|v| shift_dt(v, ctx.date_offset_days).unwrap_or_default())
                        .collect();
                    out.put(string_element(tag, e.vr(), &vals));
                } else {
                    out.put(e);
                }
            } else {
                ctx.counts.private(false);
            }
            continue;
        }
        let action = action_for(tag, vr, &ctx.options);
        ctx.counts.action(action);
        match (action, e.value()) {
            (Action::X, _) => {}
            (Action::Z, Value::Sequence(_)) => {
                out.put(DataElement::new(
                    tag,
                    VR::SQ,
                    DataSetSequence::new(Vec::new(), Length::UNDEFINED),
                ));
            }
            (Action::D, Value::Sequence(seq)) => {
                out.put(dummy_sequence(tag, seq.items().len()));
            }
            (_, Value::Sequence(_)) => {
                out.put(transformed_sequence(e, ctx));
            }
            (_, Value::PixelSequence(_)) => {
                out.put(e);
            }
            (Action::Z, _) => {
                out.put(InMemElement::new(tag, vr, PrimitiveValue::Empty));
            }
            (Action::D, _) => {
                out.put(dummy(tag, vr, ctx));
            }
            (Action::U, _) => {
                let vals: Vec<String> = strs(&e).iter().map(|u| ctx.uids.map(u)).collect();
                out.put(string_element(tag, VR::UI, &vals));
            }
            (Action::K, _) => {
                if vr == VR::UI {
                    let vals: Vec<String> = strs(&e).iter().map(|u| ctx.uids.map(u)).collect();
                    out.put(string_element(tag, VR::UI, &vals));
                } else {
                    out.put(e);
                }
            }
            (Action::C, _) => {
                out.put(clean(e, ctx));
            }
        }
    }
    out
}

/// A sequence element with each of its items transformed.
fn transformed_sequence(e: InMemElement, ctx: &mut Context) -> InMemElement {
    let tag = e.header().tag;
    let items: Vec<InMemDicomObject> = match e.into_value() {
        Value::Sequence(seq) => seq
            .into_items()
            .into_iter()
            .map(|i| transform(i, ctx))
            .collect(),
        _ => Vec::new(),
    };
    DataElement::new(tag, VR::SQ, DataSetSequence::new(items, Length::UNDEFINED))
}

/// A sequence whose action is D (PersonIdentificationCodeSequence, OperatorIdentificationSequence,
/// ContentSequence, GraphicAnnotationSequence, ...): as many items as it had, each empty. Its
/// items' content is what the attribute identifies (an operator's badge number is a code value
/// the table does not list), so none of it is carried over, not even what the table would keep.
fn dummy_sequence(tag: Tag, items: usize) -> InMemElement {
    let empty = vec![InMemDicomObject::new_empty(); items];
    DataElement::new(tag, VR::SQ, DataSetSequence::new(empty, Length::UNDEFINED))
}

fn dummy(tag: Tag, vr: VR, ctx: &Context) -> InMemElement {
    InMemElement::new(tag, vr, PrimitiveValue::from(dummy_text(vr, ctx)))
}

/// The dummy text (action D) of a text attribute.
pub(super) const DUMMY_TEXT: &str = "ANONYMIZED";

/// The dummy value (action D) of an attribute of this VR, as text (binary VRs get "0").
pub(super) fn dummy_text(vr: VR, ctx: &Context) -> String {
    match vr {
        // Not shifted: a dummy moved by the subject's offset gave the offset away, and with it
        // every real date of the subject's releases under the same key.
        VR::DA => "19000101".into(),
        VR::DT => "19000101000000".into(),
        VR::TM => "000000".into(),
        VR::UI => ctx.uids.map("0"),
        VR::US | VR::SS | VR::UL | VR::SL | VR::FL | VR::FD | VR::IS | VR::DS => "0".into(),
        VR::AS => "000Y".into(),
        _ => DUMMY_TEXT.into(),
    }
}

/// The action for a public attribute: removed for a group length; else its Table E.1-1 row under
/// the options in force; for one the table does not list, removed when the data dictionary
/// does not know it, else by its VR (UIDs replaced, dates shifted or removed, names emptied, the
/// rest kept). Free text where the dictionary gives another VR is removed rather than kept.
pub(super) fn action_for(tag: Tag, vr: VR, options: &DeidOptionsSet) -> Action {
    // Group lengths are retired outside the file meta group (PS3.5 §7.2), and would be wrong
    // once attributes of their group are removed.
    if tag.element() == 0x0000 {
        return Action::X;
    }
    // An overlay whose Overlay Data (60xx,3000) goes, goes whole: its rows, columns, origin and
    // bits alone make an invalid Overlay Plane module (PS3.3 C.9.2: Overlay Data is Type 1;
    // dciodvfy: "Missing attribute Type 1 OverlayData"), and its description and label
    // (60xx,0022/1500), which Table E.1-1 does not list, are free text.
    let g = tag.group();
    if (0x6000..=0x601E).contains(&g) && g.is_multiple_of(2) && tag.element() != 0x3000 {
        let data = profile().rule(Tag(g, 0x3000)).map(|r| options.action(r));
        if data == Some(Action::X) {
            return Action::X;
        }
    }
    // Free text written where the dictionary gives another VR is not the attribute its tag
    // names: what would be kept of it goes (PatientAddress's tag damaged into PatientSex, CS,
    // arrived as LO holding the address; InstitutionName's into Query/Retrieve View). Numbers of
    // another VR are kept (a b-value written DS where the dictionary says FD is still the
    // b-value conversion needs), as is Pixel Data (of another VR, it is checked as what it
    // claims to be).
    let action = listed_or_unlisted(tag, vr, options);
    // Clean (C) of a binary value (MakerNote and DeviceSettingDescription under Clean
    // Descriptors, FrameOriginTimestamp and CertifiedTimestamp under Retain Longitudinal Modified
    // Dates: all OB) cannot be done here: nothing reads an EXIF block or a timestamp's encoding,
    // and kept whole they carried identifiers and real dates. They are removed.
    if action == Action::C && binary(vr) {
        return Action::X;
    }
    if matches!(action, Action::K | Action::C)
        && g != 0x7FE0
        && free_text(vr)
        && !dictionary_vr_allows(tag, vr)
    {
        return Action::X;
    }
    action
}

/// [`action_for`] by Table E.1-1, or for an attribute it does not list.
fn listed_or_unlisted(tag: Tag, vr: VR, options: &DeidOptionsSet) -> Action {
    match profile().rule(tag) {
        // A kept Patient's Age goes through Clean, which caps it (see [`cap_age`]).
        Some(rule) if tag == tags::PATIENT_AGE && options.action(rule) == Action::K => Action::C,
        Some(rule) => options.action(rule),
        None if UNLISTED_REMOVED.contains(&tag) => Action::X,
        // Retired free text (`retired`): nothing current writes it, and it may identify.
        None if super::retired::is_retired_free_text(tag) => Action::X,
        // Not in the data dictionary (PS3.6, as dicom-rs has it): nothing says what it holds.
        // Kept, a damaged tag released its value: InstitutionName (0008,0080) with one bit
        // flipped is (0008,4080).
        None if StandardDataDictionary.by_tag(tag).is_none() => Action::X,
        None => match vr {
            VR::UI => Action::U,
            VR::DA | VR::DT => {
                if options.retain_longitudinal_modified_dates {
                    Action::C
                } else {
                    Action::X
                }
            }
            VR::PN => Action::Z,
            // A URL (RetrieveURL, 0008,1190, and the like) names the site's host and, in its
            // path, original UIDs.
            VR::UR => Action::X,
            _ => Action::K,
        },
    }
}

/// Value representations of bytes that are not text.
fn binary(vr: VR) -> bool {
    matches!(
        vr,
        VR::OB | VR::OD | VR::OF | VR::OL | VR::OV | VR::OW | VR::UN
    )
}

/// Value representations of free text, where names and places are written.
fn free_text(vr: VR) -> bool {
    matches!(
        vr,
        VR::LO | VR::LT | VR::PN | VR::SH | VR::ST | VR::UC | VR::UT
    )
}

/// Whether `vr` is a VR the data dictionary gives the attribute `tag`: its own, or one of its
/// alternatives (US or SS, OB or OW, US or OW for LUT data). UN passes: a writer that did not
/// know the attribute (implicit VR gives the dictionary's own).
fn dictionary_vr_allows(tag: Tag, vr: VR) -> bool {
    use dicom_core::dictionary::{DataDictionaryEntry, VirtualVr};
    if vr == VR::UN {
        return true;
    }
    match StandardDataDictionary.by_tag(tag).map(|e| e.vr()) {
        None => false,
        Some(VirtualVr::Exact(v)) => v == vr,
        Some(VirtualVr::Xs) => matches!(vr, VR::US | VR::SS),
        Some(VirtualVr::Ox | VirtualVr::Px) => matches!(vr, VR::OB | VR::OW),
        Some(VirtualVr::Lt) => matches!(vr, VR::US | VR::SS | VR::OW),
        // A kind of entry this version of dicom-rs does not have: not judged.
        Some(_) => true,
    }
}

/// Public attributes Table E.1-1 (editions 2024b-2024e) does not list that are removed all the
/// same: the issuers of the accession number (0008,0051), of the patient ID (0010,0024, its
/// qualifiers) and of the order numbers (0040,0026/0027) name the site (a local namespace or a
/// universal entity ID, kept as unlisted text); the patient's birth and death dates in an
/// alternative calendar (0010,0033/0034: free text such as a Hijri date, which neither the date
/// shift nor the PHI check can read) and that calendar's name (0010,0035); a device's own
/// identifier (DeviceID, 0018,1003: device identity is not retained); an HL7 document's
/// identifier (0040,E001) and the namespace and entity IDs of an issuer (0040,0031/0032), which
/// name the site's systems.
pub(super) const UNLISTED_REMOVED: [Tag; 11] = [
    Tag(0x0008, 0x0051),
    Tag(0x0018, 0x1003),
    Tag(0x0040, 0x0031),
    Tag(0x0040, 0x0032),
    Tag(0x0040, 0xE001),
    Tag(0x0010, 0x0024),
    Tag(0x0010, 0x0033),
    Tag(0x0010, 0x0034),
    Tag(0x0010, 0x0035),
    Tag(0x0040, 0x0026),
    Tag(0x0040, 0x0027),
];

/// The safe private attributes that are date-times without saying so (DS or LO, or bytes in
/// implicit VR): shifted like every other date.
const SHIFTED_PRIVATE: [(u16, &str, u8); 2] = [
    (0x0009, "GEMS_PETD_01", 0x0D), // GE's scan start (decay reference) date-time
    (0x0071, "SIEMENS MED PT", 0x22), // Siemens' decay correction date-time
];

/// Whether a kept safe private attribute is a date-time to shift like every other date: DT, and
/// those of [`SHIFTED_PRIVATE`] by their creator. (By element number alone, Siemens'
/// DiffusionDirectionality (0019,xx0D) "DIRECTIONAL" was read as a date-time and emptied.)
pub(super) fn shifted_private(tag: Tag, vr: VR, creator: impl Fn(Tag) -> Option<String>) -> bool {
    let is_creator = (0x0010..=0x00FF).contains(&tag.element());
    vr == VR::DT || (!is_creator && in_private_list(&SHIFTED_PRIVATE, tag, creator))
}

/// What Clean (action C) does to a value, by its VR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cleaning {
    /// Dates shifted by the subject's offset (DA).
    ShiftDate,
    /// The date part of date-times shifted (DT).
    ShiftDateTime,
    /// Free text with the data set's identifiers removed (Clean Descriptors).
    Descriptor,
    /// Person names emptied.
    Empty,
    /// UIDs replaced by their pseudonyms.
    Uid,
    /// An age (AS) above 89 years written as 090Y ([`cap_age`]).
    CapAge,
    /// Kept as it is (times, numbers, binary values).
    Keep,
}

/// An age string (PS3.5 AS: `nnnD`, `nnnW`, `nnnM`, `nnnY`) as released: above 89 years it is
/// `090Y`, as HIPAA's Safe Harbor method aggregates ages over 89 into one category ("90 or
/// older"): with the trial's other data, a very old patient is identifiable. Kept otherwise.
pub(super) fn cap_age(v: &str) -> String {
    let t = v.trim();
    match t.strip_suffix('Y').and_then(|n| n.parse::<u32>().ok()) {
        Some(years) if years > 89 => "090Y".into(),
        _ => v.to_string(),
    }
}

/// How Clean treats a value of `vr` (both de-identification paths follow this).
pub(super) fn cleaning(vr: VR) -> Cleaning {
    match vr {
        VR::DA => Cleaning::ShiftDate,
        VR::DT => Cleaning::ShiftDateTime,
        VR::LO | VR::SH | VR::ST | VR::LT | VR::UT | VR::UC | VR::CS => Cleaning::Descriptor,
        VR::PN => Cleaning::Empty,
        VR::UI => Cleaning::Uid,
        VR::AS => Cleaning::CapAge,
        _ => Cleaning::Keep,
    }
}

fn clean(e: InMemElement, ctx: &Context) -> InMemElement {
    let tag = e.header().tag;
    let vr = e.header().vr;
    let each = |f: &dyn Fn(&str) -> String| {
        let v: Vec<String> = strs(&e).iter().map(|s| f(s)).collect();
        string_element(tag, vr, &v)
    };
    let days = ctx.date_offset_days;
    match cleaning(vr) {
        Cleaning::ShiftDate => each(&|s| shift_da(s, days).unwrap_or_default()),
        Cleaning::ShiftDateTime => each(&|s| shift_dt(s, days).unwrap_or_default()),
        Cleaning::Descriptor => each(&|s| super::clean::clean_descriptor(s, ctx.identifiers)),
        Cleaning::Empty => InMemElement::new(tag, vr, PrimitiveValue::Empty),
        Cleaning::Uid => each(&|u| ctx.uids.map(u)),
        Cleaning::CapAge => each(&|s| cap_age(s)),
        Cleaning::Keep => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (a PHI audit): free text in a safe private slot that holds numbers (Siemens'
    /// B_value written as LO "Dr Thistle ward 7 bed 3") was kept as safe; numbers are kept as
    /// before, as are a slot of text (the coil string), a binary value and a creator.
    #[test]
    fn a_numeric_safe_slot_keeps_numbers_only() {
        // The numeric slots are safe ones (a slot added to one list only would be checked, or
        // kept, unlike its kind).
        for entry in NUMERIC_SAFE {
            assert!(
                SAFE_PRIVATE.contains(&entry),
                "{entry:?} is not on the safe list"
            );
        }
        let creator = |t: Tag| (t == Tag(0x0019, 0x0010)).then(|| "SIEMENS MR HEADER".to_string());
        let b_value = Tag(0x0019, 0x100C);
        assert!(!safe_value(
            b_value,
            VR::LO,
            creator,
            b"Dr Thistle ward 7 bed 3"
        ));
        assert!(!safe_value(b_value, VR::IS, creator, b"1000 bed 3"));
        assert!(safe_value(b_value, VR::IS, creator, b"1000 "));
        assert!(safe_value(b_value, VR::LO, creator, b"0.5\\-1E+02\\+3\0"));
        assert!(safe_value(
            b_value,
            VR::UN,
            creator,
            &[0x1F, 0x85, 0xEB, 0x51]
        ));
        assert!(safe_value(Tag(0x0019, 0x1027), VR::FD, creator, &[0xFF; 8]));
        assert!(safe_value(
            Tag(0x0019, 0x0010),
            VR::LO,
            creator,
            b"SIEMENS MR HEADER"
        ));
        let coils = |t: Tag| (t == Tag(0x0051, 0x0010)).then(|| "SIEMENS MR HEADER".to_string());
        assert!(safe_value(Tag(0x0051, 0x100F), VR::LO, coils, b"T:HEA;HEP"));
    }

    /// A date shifted out of the years a DA holds is emptied (a robustness audit: 0001-01-01
    /// shifted back 860 days was released as `-0020826`).
    #[test]
    fn a_date_shifted_past_year_one_is_emptied() {
        assert_eq!(shift_da("00010101", -860), None);
        assert_eq!(shift_dt("00010101000000", -860), None);
        assert_eq!(shift_dt("0001", -860), None);
        assert_eq!(shift_da("99991231", -860).unwrap(), "99970823");
        assert_eq!(shift_da("00040101", -365).unwrap(), "00030101");
    }

    /// Regression (found by damaging phantom files one byte at a time): a DT value with a
    /// two-byte character across byte 8 (`2024021ÿ123518.00`) panicked the whole deid run
    /// ("end byte index 8 is not a char boundary"). It does not parse, so it is emptied.
    #[test]
    fn a_damaged_date_time_does_not_parse() {
        assert_eq!(shift_dt("2024021\u{ff}123518.00", 3), None);
        assert_eq!(
            shift_dt("20240210123518.00", 3).unwrap(),
            "20240213123518.00"
        );
        assert_eq!(shift_dt("20240210", -10).unwrap(), "20240131");
    }

    /// A DT of reduced precision (PS3.5 §6.2: YYYY, YYYYMM, with an optional offset) is shifted
    /// from the first day of its year or month and keeps its precision; it was emptied (found
    /// by benches/deid-profile-differential.py). By hand: 2024-01-01 − 400 days = 2022-11-27;
    /// 2024-03-01 + 30 = 2024-03-31; + 31 = 2024-04-01.
    #[test]
    fn a_date_time_of_reduced_precision_is_shifted_at_its_precision() {
        assert_eq!(shift_dt("2024", -400).as_deref(), Some("2022"));
        assert_eq!(shift_dt("202403", 30).as_deref(), Some("202403"));
        assert_eq!(shift_dt("202403+0100", 31).as_deref(), Some("202404+0100"));
        assert_eq!(shift_dt("2024x", 1), None);
        assert_eq!(
            shift_dt("20240310093015", 1).as_deref(),
            Some("20240311093015")
        );
    }

    #[test]
    fn ages_above_89_years_are_capped_at_90() {
        for (given, released) in [
            ("094Y", "090Y"),
            ("105Y", "090Y"),
            ("090Y", "090Y"),
            ("089Y", "089Y"),
            ("060Y", "060Y"),
            ("120M", "120M"),
            ("003W", "003W"),
            ("", ""),
            ("junk", "junk"),
        ] {
            assert_eq!(cap_age(given), released, "{given}");
        }
    }

    #[test]
    fn patient_age_kept_by_its_option_goes_through_clean() {
        let on = DeidOptionsSet {
            retain_longitudinal_modified_dates: true,
            retain_patient_characteristics: true,
            retain_safe_private: true,
            clean_descriptors: true,
        };
        assert_eq!(action_for(tags::PATIENT_AGE, VR::AS, &on), Action::C);
        assert_eq!(cleaning(VR::AS), Cleaning::CapAge);
        let off = DeidOptionsSet {
            retain_patient_characteristics: false,
            ..on
        };
        assert_eq!(action_for(tags::PATIENT_AGE, VR::AS, &off), Action::X);
    }
}
