//! Defence in depth: every de-identified file is parsed back and checked — from the encoded bytes
//! before it is written (a failing file never reaches the disk) and again as read back from disk
//! after the write (a failing file is deleted) — no attribute the profile removes, no private
//! attribute outside the safe list, no value equal to or containing one of the subject's original
//! identifiers (person names and their parts, IDs, addresses; institution and station names
//! whole, and not in the equipment's own names), no original UID. The encoded bytes are checked
//! as a stream of raw tokens (dicom-rs `DataSetReader`, values undecoded): no data set tree is
//! built and text is decoded from its character set only where it is not plain ASCII.

use std::collections::HashSet;

use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use std::rc::Rc;

use aho_corasick::AhoCorasick;

use super::apply::{creator_text, on_safe_list};
use super::clean::Found;
use super::options::{Action, DeidOptionsSet};
use super::profile::profile;

/// Attributes ancilla adds or sets itself (allowed even where the table says X).
const ADDED: [(u16, u16); 5] = [
    (0x0012, 0x0062),
    (0x0012, 0x0063),
    (0x0012, 0x0064),
    (0x0028, 0x0303),
    (0x0010, 0x0020),
];

/// Check a data set. Returns the first problem found (without the offending value).
pub fn check(
    obj: &InMemDicomObject,
    options: &DeidOptionsSet,
    identifiers: &Found,
    original_uids: &HashSet<String>,
) -> Result<(), String> {
    walk(obj, &mut Checker::new(options, identifiers, original_uids)?)
}

/// A tag printed as (GGGG,EEEE), formatted only when an error names it.
struct TagName(Tag);

impl std::fmt::Display for TagName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({:04X},{:04X})", self.0.group(), self.0.element())
    }
}

/// The checks of one run on one data set: what every element is held against.
struct Checker<'a> {
    options: &'a DeidOptionsSet,
    /// The file's identifiers (lower-cased) in one automaton.
    ids: Rc<Automata>,
    uids: &'a HashSet<String>,
    /// Lower-cased value, reused between elements (ASCII without allocating).
    low: String,
}

thread_local! {
    /// The automaton of the last identifier list seen on this thread: the files of a series carry
    /// the same identifiers, so it is built once per series rather than once per file.
    static LAST_IDS: std::cell::RefCell<Option<(Found, Rc<Automata>)>> =
        const { std::cell::RefCell::new(None) };
}

/// A file's identifiers in one automaton: the personal ones first (patterns 0 .. `personal`),
/// then the place names. Every value is scanned once for any of them; the equipment's names,
/// where a place name may appear, for a personal one (overlapping matches, so a place name
/// cannot hide one); code strings for one holding a digit (`with_digit`).
struct Automata {
    all: AhoCorasick,
    personal: usize,
    /// Whether each pattern holds a digit (an ID, a date, a telephone number; not a name).
    with_digit: Vec<bool>,
}

/// The equipment's own names: a vendor's name may also be a site's (a demonstration site), and
/// says nothing of the patient.
const EQUIPMENT: [Tag; 3] = [
    tags::MANUFACTURER,
    tags::MANUFACTURER_MODEL_NAME,
    tags::SOFTWARE_VERSIONS,
];

/// One automaton for a file's identifiers (lower-cased; short all-digit fragments such as house
/// numbers or phone groups left out, as they would match inside any number). Fails closed: an
/// automaton that cannot be built fails the file.
fn automaton(identifiers: &Found) -> Result<Rc<Automata>, String> {
    LAST_IDS.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((ids, ac)) = last.as_ref() {
            if ids == identifiers {
                return Ok(ac.clone());
            }
        }
        let patterns = |list: &[String]| -> Vec<String> {
            list.iter()
                .filter(|s| s.len() >= 4 && !(s.len() < 6 && s.chars().all(|c| c.is_ascii_digit())))
                .map(|s| s.to_lowercase())
                .collect()
        };
        let mut all = patterns(&identifiers.personal);
        let personal = all.len();
        all.extend(patterns(&identifiers.places));
        let ac = Rc::new(Automata {
            all: super::clean::automaton(&all)
                .map_err(|e| format!("the identifier search could not be built: {e}"))?,
            personal,
            with_digit: all
                .iter()
                .map(|p| p.chars().any(|c| c.is_ascii_digit()))
                .collect(),
        });
        *last = Some((identifiers.clone(), ac.clone()));
        Ok(ac)
    })
}

impl<'a> Checker<'a> {
    fn new(
        options: &'a DeidOptionsSet,
        identifiers: &Found,
        original_uids: &'a HashSet<String>,
    ) -> Result<Self, String> {
        Ok(Checker {
            options,
            ids: automaton(identifiers)?,
            uids: original_uids,
            low: String::new(),
        })
    }

    /// May this attribute be present? `creator` gives a private creator of the same data set.
    fn tag(&self, tag: Tag, creator: impl Fn(Tag) -> Option<String>) -> Result<(), String> {
        let name = TagName(tag);
        if tag.group() % 2 == 1 {
            if !(self.options.retain_safe_private && on_safe_list(tag, creator)) {
                return Err(format!("private attribute {name} is not on the safe list"));
            }
        } else if let Some(rule) = profile().rule(tag) {
            if self.options.action(rule) == Action::X
                && !ADDED.contains(&(tag.group(), tag.element()))
            {
                return Err(format!(
                    "attribute {name} ({}) should have been removed",
                    rule.keyword
                ));
            }
        }
        Ok(())
    }

    /// Check one value (of one element, multi-valued text as written, `\`-separated).
    fn text(&mut self, tag: Tag, vr: VR, text: &str) -> Result<(), String> {
        for s in text.split('\\') {
            let t = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
            // A control character inside a public attribute's value (other than the tab, line
            // and page breaks of text and the escape of ISO 2022): a damaged length took in the
            // elements after it, names and IDs of attributes this file no longer shows as such
            // (found by benches/deid-damage.py: SeriesDescription holding the operator's and the
            // physician's names as encoded elements). Not a kept private attribute's (Siemens'
            // (0019,100E), a gradient direction, arrives as text in implicit VR), nor a value
            // of unknown VR (UN: bytes, scanned as text for identifiers only).
            if tag.group().is_multiple_of(2) && vr != VR::UN {
                if let Some(c) = t.chars().find(|&c| stray_control(c)) {
                    return Err(format!(
                        "attribute {} holds a control character (U+{:04X}) inside its value: a \
                         damaged length may have taken in the elements after it",
                        TagName(tag),
                        u32::from(c)
                    ));
                }
            }
            if vr == VR::UI {
                // UIDs are pseudonyms of digits: checked against the original UIDs only.
                if self.uids.contains(t) {
                    return Err(format!("attribute {} holds an original UID", TagName(tag)));
                }
                continue;
            }
            // An original UID written into text ("see study 1.2.…", a URL, a derivation
            // description): the UI check alone passed it.
            if t.len() >= 8
                && self
                    .uids
                    .iter()
                    .any(|u| u.len() >= 8 && t.contains(u.as_str()))
            {
                return Err(format!(
                    "attribute {} holds an original UID in its text",
                    TagName(tag)
                ));
            }
            // The profile's own CodeMeanings (Deidentification Method Code Sequence): a name
            // part such as "Patient" or "Safe" must not fail the file on them.
            if tag == dicom_dictionary_std::tags::CODE_MEANING && self.options.is_method_meaning(t)
            {
                continue;
            }
            // The dummy the profile writes (action D) is ancilla's, whatever it contains: a
            // pre-anonymised export naming its patients "Anon" must not fail every file on it.
            if t == super::apply::DUMMY_TEXT {
                continue;
            }
            if t.is_ascii() {
                self.low.clear();
                self.low.push_str(t);
                self.low.make_ascii_lowercase();
            } else {
                self.low = t.to_lowercase();
            }
            // As a reader shows it: without ISO 2022 escapes, which hid a name ("Qui␛(Bxley")
            // from the search (a PHI audit).
            if let std::borrow::Cow::Owned(plain) = super::clean::as_displayed(&self.low) {
                self.low = plain;
            }
            let found = if EQUIPMENT.contains(&tag) || tag == tags::CODE_MEANING {
                // The vendor's names and the meanings of coded concepts are the equipment's and
                // the standard's words: a name part is looked for as a whole word only (a
                // patient named Philip failed every file of a Philips scanner on "Philips", one
                // named Gall every PET on the tracer's "^68^Gallium").
                let low = self.low.as_str();
                self.ids.all.find_overlapping_iter(low).any(|m| {
                    let personal = m.pattern().as_usize() < self.ids.personal;
                    (personal || tag == tags::CODE_MEANING) && whole_word(low, m.start(), m.end())
                })
            } else if vr == VR::CS {
                // Code strings are the standard's defined terms (ImageType NORM, CorrectedImage
                // NORM, BodyPartExamined LUNG): a patient named Norm or Lung failed every file on
                // them. IDs and dates are still looked for in them.
                self.ids
                    .all
                    .find_overlapping_iter(self.low.as_str())
                    .any(|m| self.ids.with_digit[m.pattern().as_usize()])
            } else {
                self.ids.all.is_match(self.low.as_str())
            };
            if found {
                return Err(format!(
                    "attribute {} holds one of the subject's original identifiers",
                    TagName(tag)
                ));
            }
        }
        Ok(())
    }

    /// Check a binary value (numbers, bytes) for identifiers of [`BINARY_MATCH_MIN`] characters
    /// or more written into it as text. A number holds none; a value whose damaged length took
    /// in the elements after it (found by damaging phantom files: BitsAllocated holding the
    /// patient's name and a private block) holds them as they were encoded.
    fn binary(&mut self, tag: Tag, bytes: &[u8]) -> Result<(), String> {
        self.low.clear();
        self.low.push_str(&String::from_utf8_lossy(bytes));
        self.low.make_ascii_lowercase();
        let found = self
            .ids
            .all
            .find_overlapping_iter(self.low.as_str())
            .any(|m| m.end() - m.start() >= BINARY_MATCH_MIN);
        if found {
            return Err(format!(
                "attribute {} holds one of the subject's original identifiers in its binary value",
                TagName(tag)
            ));
        }
        Ok(())
    }
}

/// Whether `text[start..end]` is a word of its own: no letter or digit just before or after.
fn whole_word(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

/// A C0 control character or DEL, which no text value holds (PS3.5 6.1.3: text may use TAB,
/// LF, VT, FF, CR and, for ISO 2022 code extensions, ESC).
fn stray_control(c: char) -> bool {
    c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | '\u{1b}')
}

/// The shortest identifier looked for in binary values: shorter ones (initials, a two-letter
/// name part) could be any bytes of a number.
const BINARY_MATCH_MIN: usize = 6;

/// Whether a binary value is looked through for identifiers: every one but pixel data (bulk, in
/// which a short run of bytes could spell anything).
fn binary_checked(tag: Tag, vr: VR) -> bool {
    is_binary(vr) && vr != VR::UN && !(tag.group() == 0x7FE0 && tag.element() <= 0x0010)
}

/// Values the identifier scan reads: text, and values of unknown VR (UN: a public attribute a
/// writer did not know may hold anything, names included — read as text, bytes as they come).
fn scanned(vr: VR) -> bool {
    vr == VR::UN || !is_binary(vr)
}

/// Value representations of bulk data and binary numbers: they carry no names, and are not read.
fn is_binary(vr: VR) -> bool {
    matches!(
        vr,
        VR::OB
            | VR::OW
            | VR::OF
            | VR::OD
            | VR::OL
            | VR::OV
            | VR::UN
            | VR::US
            | VR::SS
            | VR::UL
            | VR::SL
            | VR::UV
            | VR::SV
            | VR::FL
            | VR::FD
            | VR::AT
    )
}

/// A released reduced attribute (Siemens CSA header, GE protocol block): only its safe fields
/// ([`super::csa::check`], [`super::ge_protocol::check`]), and none of the subject's identifiers
/// in its values.
fn check_reduced(
    c: &mut Checker,
    tag: Tag,
    kind: super::apply::Reduced,
    bytes: &[u8],
) -> Result<(), String> {
    let values = match kind {
        super::apply::Reduced::Csa(k) => super::csa::check(k, bytes),
        super::apply::Reduced::GeProtocol => super::ge_protocol::check(bytes),
    }
    .map_err(|why| format!("attribute {}: {why}", TagName(tag)))?;
    values.iter().try_for_each(|v| c.text(tag, VR::UN, v))
}

fn walk(obj: &InMemDicomObject, c: &mut Checker) -> Result<(), String> {
    for e in obj.iter() {
        let tag = e.header().tag;
        c.tag(tag, |t| obj.get(t).and_then(creator_text))?;
        if let Some(kind) = super::apply::reduced_kind(tag, |t| obj.get(t).and_then(creator_text)) {
            let bytes = e.to_bytes().map_err(|e| e.to_string())?;
            check_reduced(c, tag, kind, &bytes)?;
            continue;
        }
        match e.value() {
            Value::Sequence(seq) => {
                for item in seq.items() {
                    walk(item, c)?;
                }
            }
            Value::Primitive(p) if !is_binary(e.header().vr) => {
                let text = p.to_multi_str().join("\\");
                c.text(tag, e.header().vr, &text)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Every UID value of a data set (to check none survives).
pub fn uids_of(obj: &InMemDicomObject, out: &mut HashSet<String>) {
    for e in obj.iter() {
        match e.value() {
            Value::Sequence(seq) => {
                for item in seq.items() {
                    uids_of(item, out);
                }
            }
            Value::Primitive(p) if e.header().vr == VR::UI => {
                for s in p.to_multi_str().iter() {
                    note_uid(s, out);
                }
            }
            _ => {}
        }
    }
}

/// One UID value into `out` (trimmed; empty values and the standard's own UIDs left out).
pub(super) fn note_uid(s: &str, out: &mut HashSet<String>) {
    let t = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    if !t.is_empty() && !super::keyed::is_well_known(t) {
        out.insert(t.to_string());
    }
}

pub(super) use crate::ingest::values::is_private_creator as is_creator;

/// Check an encoded Part-10 file (as it will be written): its file meta group, then its data
/// set element by element at every depth, walked as the length check walks a file
/// ([`crate::ingest::preflight::walk`]: values read in place, only text values looked at). A
/// deflated data set is read through dicom-rs's tokens ([`check_tokens`]).
pub fn check_bytes(
    bytes: &[u8],
    options: &DeidOptionsSet,
    identifiers: &Found,
    original_uids: &HashSet<String>,
) -> Result<(), String> {
    use crate::ingest::preflight::{walk, LengthProblem};
    let mut visit = Walked::new(options, identifiers, original_uids)?;
    match walk(bytes, &mut visit) {
        Ok((_, true)) => Ok(()),
        Ok((_, false)) => check_tokens(bytes, options, identifiers, original_uids),
        Err(LengthProblem::Refused(why)) => Err(why),
        Err(e) => Err(format!("cannot read the encoded file back: {e}")),
    }
}

/// The check as a visitor of the walk.
struct Walked<'a> {
    c: Checker<'a>,
    /// Private creators of each open data set (the root, then one per nested item), in order.
    creators: Vec<Vec<(Tag, String)>>,
    charset: dicom_encoding::text::SpecificCharacterSet,
    /// The element whose value comes next: tag, VR, whether of the file meta group.
    current: Option<(Tag, VR, bool)>,
    /// The reduced attribute (CSA header, GE protocol block) that element is, if it is one.
    reduced: Option<super::apply::Reduced>,
}

impl<'a> Walked<'a> {
    fn new(
        options: &'a DeidOptionsSet,
        identifiers: &Found,
        original_uids: &'a HashSet<String>,
    ) -> Result<Self, String> {
        Ok(Walked {
            c: Checker::new(options, identifiers, original_uids)?,
            creators: vec![Vec::new()],
            charset: dicom_encoding::text::SpecificCharacterSet::default(),
            current: None,
            reduced: None,
        })
    }
}

fn creator_of(creators: &[Vec<(Tag, String)>], t: Tag) -> Option<String> {
    creators
        .last()
        .and_then(|set| set.iter().find(|(ct, _)| *ct == t).map(|(_, v)| v.clone()))
}

impl crate::ingest::preflight::Visit for Walked<'_> {
    fn element(&mut self, tag: Tag, vr: Option<[u8; 2]>, in_meta: bool) -> Result<bool, String> {
        if in_meta {
            // The file meta group's UIDs of the instance and its class.
            let wanted = tag == tags::MEDIA_STORAGE_SOP_INSTANCE_UID
                || tag == tags::MEDIA_STORAGE_SOP_CLASS_UID;
            self.current = Some((tag, VR::UI, true));
            return Ok(wanted);
        }
        use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
        let vr = match vr {
            Some(code) => VR::from_binary(code).ok_or_else(|| {
                format!(
                    "cannot read the encoded file back: element {} has no valid VR",
                    TagName(tag)
                )
            })?,
            // Implicit VR: the dictionary's, as dicom-rs reads it (private attributes: UN).
            None => dicom_dictionary_std::StandardDataDictionary
                .by_tag(tag)
                .map(|e| e.vr().relaxed())
                .unwrap_or(VR::UN),
        };
        // A private creator is judged by its value, which comes next.
        self.reduced = None;
        if !is_creator(tag) {
            let creators = &self.creators;
            self.c.tag(tag, |t| creator_of(creators, t))?;
            self.reduced = super::apply::reduced_kind(tag, |t| creator_of(creators, t));
        }
        self.current = Some((tag, vr, false));
        Ok(is_creator(tag)
            || scanned(vr)
            || binary_checked(tag, vr)
            || tag == tags::SPECIFIC_CHARACTER_SET
            || self.reduced.is_some())
    }

    fn value(&mut self, bytes: &[u8]) -> Result<(), String> {
        use dicom_encoding::text::{SpecificCharacterSet, TextCodec};
        let Some((tag, vr, in_meta)) = self.current.take() else {
            return Ok(());
        };
        let text = |cs: &SpecificCharacterSet| -> std::borrow::Cow<str> {
            match std::str::from_utf8(bytes) {
                Ok(t) if t.is_ascii() => t.into(),
                _ => cs
                    .decode(bytes)
                    .map(Into::into)
                    .unwrap_or_else(|_| String::from_utf8_lossy(bytes)),
            }
        };
        if in_meta {
            return self.c.text(tag, VR::UI, &text(&self.charset));
        }
        if tag == tags::SPECIFIC_CHARACTER_SET && self.creators.len() == 1 {
            let code = text(&self.charset)
                .split('\\')
                .map(str::trim)
                .find(|s| !s.is_empty())
                .map(str::to_string);
            self.charset = code
                .as_deref()
                .and_then(SpecificCharacterSet::from_code)
                .unwrap_or_default();
        }
        if is_creator(tag) {
            let name = text(&self.charset)
                .trim()
                .trim_end_matches('\0')
                .to_string();
            if let Some(set) = self.creators.last_mut() {
                set.push((tag, name));
            }
            let creators = &self.creators;
            self.c.tag(tag, |t| creator_of(creators, t))?;
        }
        if let Some(kind) = self.reduced.take() {
            return check_reduced(&mut self.c, tag, kind, bytes);
        }
        if scanned(vr) {
            let t = text(&self.charset);
            self.c.text(tag, vr, &t)?;
        } else if binary_checked(tag, vr) {
            self.c.binary(tag, bytes)?;
        }
        Ok(())
    }

    /// Bytes the walk would pass over unchecked: the file is refused.
    fn stray(&mut self, tag: Tag) -> Result<(), String> {
        Err(format!(
            "cannot read the encoded file back: {} where a data set element belongs",
            TagName(tag)
        ))
    }

    fn item(&mut self, open: bool) {
        if open {
            self.creators.push(Vec::new());
        } else {
            self.creators.pop();
        }
    }
}

/// [`check_bytes`] on dicom-rs's raw tokens of the encoded file: for a deflated data set, and
/// the reference the walk is tested against.
pub fn check_tokens(
    bytes: &[u8],
    options: &DeidOptionsSet,
    identifiers: &Found,
    original_uids: &HashSet<String>,
) -> Result<(), String> {
    use crate::ingest::preflight::Visit;
    use dicom_encoding::transfer_syntax::{Codec, TransferSyntaxIndex};
    use dicom_parser::dataset::read::{DataSetReaderOptions, ValueReadStrategy};
    use dicom_parser::dataset::{DataSetReader, DataToken};

    let mut body = bytes
        .get(128..)
        .ok_or("encoded file shorter than its preamble")?;
    let unreadable = |e: &dyn std::fmt::Display| format!("cannot read the encoded file back: {e}");
    let meta =
        dicom_object::meta::FileMetaTable::from_reader(&mut body).map_err(|e| unreadable(&e))?;
    let mut visit = Walked::new(options, identifiers, original_uids)?;
    for (tag, uid) in [
        (
            tags::MEDIA_STORAGE_SOP_INSTANCE_UID,
            meta.media_storage_sop_instance_uid(),
        ),
        (
            tags::MEDIA_STORAGE_SOP_CLASS_UID,
            meta.media_storage_sop_class_uid(),
        ),
    ] {
        if visit.element(tag, None, true)? {
            visit.value(uid.as_bytes())?;
        }
    }
    let ts_uid = meta.transfer_syntax().trim_end_matches('\0');
    let ts = dicom_transfer_syntax_registry::TransferSyntaxRegistry
        .get(ts_uid)
        .ok_or_else(|| unreadable(&format!("unknown transfer syntax {ts_uid}")))?;
    let raw = DataSetReaderOptions::default().value_read(ValueReadStrategy::Raw);
    let source: Box<dyn std::io::Read + '_> = match ts.codec() {
        Codec::Dataset(Some(adapter)) => adapter.adapt_reader(Box::new(body)),
        _ => Box::new(body),
    };
    let reader = DataSetReader::new_with_ts_options(source, ts, raw).map_err(|e| unreadable(&e))?;
    let mut in_pixel_items = false;
    let mut wanted = false;
    for token in reader {
        match token.map_err(|e| unreadable(&e))? {
            DataToken::ElementHeader(h) => {
                wanted = visit.element(h.tag, Some(h.vr.to_bytes()), false)?;
            }
            DataToken::SequenceStart { tag, .. } => {
                visit.element(tag, Some(*b"SQ"), false)?;
            }
            DataToken::PixelSequenceStart => in_pixel_items = true,
            DataToken::SequenceEnd => in_pixel_items = false,
            DataToken::ItemStart { .. } if !in_pixel_items => visit.item(true),
            DataToken::ItemEnd if !in_pixel_items => visit.item(false),
            DataToken::PrimitiveValue(v) if wanted => {
                wanted = false;
                visit.value(&v.to_bytes())?;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::value::{DataSetSequence, PrimitiveValue};
    use dicom_core::{DataElement, Length};

    fn put(o: &mut InMemDicomObject, tag: Tag, vr: VR, v: &str) {
        o.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
    }

    /// A minimal de-identified-looking data set, optionally with one more element in a nested item.
    fn file(nested: Option<(Tag, VR, &str)>, charset: &str) -> Vec<u8> {
        let mut top = InMemDicomObject::new_empty();
        put(&mut top, tags::SPECIFIC_CHARACTER_SET, VR::CS, charset);
        put(&mut top, tags::SERIES_DESCRIPTION, VR::LO, "PET renal");
        put(
            &mut top,
            Tag(0x7053, 0x0010),
            VR::LO,
            "Philips PET Private Group",
        );
        put(&mut top, Tag(0x7053, 0x1000), VR::DS, "0.000123");
        let mut item = InMemDicomObject::new_empty();
        put(&mut item, tags::CODE_VALUE, VR::SH, "113100");
        if let Some((tag, vr, v)) = nested {
            put(&mut item, tag, vr, v);
        }
        top.put(DataElement::new(
            tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
            VR::SQ,
            DataSetSequence::new(vec![item], Length::UNDEFINED),
        ));
        let meta = dicom_object::meta::FileMetaTableBuilder::new()
            .transfer_syntax("1.2.840.10008.1.2.1")
            .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.128")
            .media_storage_sop_instance_uid("2.25.7");
        let mut bytes = Vec::new();
        top.with_meta(meta).unwrap().write_all(&mut bytes).unwrap();
        bytes
    }

    fn verdict(bytes: &[u8], ids: &[&str], uids: &[&str]) -> Result<(), String> {
        let ids = Found {
            personal: ids.iter().map(|s| s.to_string()).collect(),
            ..Found::default()
        };
        let uids: HashSet<String> = uids.iter().map(|s| s.to_string()).collect();
        let walked = check_bytes(bytes, &DeidOptionsSet::default(), &ids, &uids);
        // The walk and dicom-rs's tokens come to the same verdict.
        let tokens = check_tokens(bytes, &DeidOptionsSet::default(), &ids, &uids);
        assert_eq!(walked, tokens);
        walked
    }

    /// A small encoded file: a series description and one element `tag` of VR `vr` holding the
    /// bytes `v`.
    fn file_with(tag: Tag, vr: VR, v: &[u8]) -> Vec<u8> {
        let mut o = InMemDicomObject::new_empty();
        put(&mut o, tags::SERIES_DESCRIPTION, VR::LO, "PET renal");
        o.put(DataElement::new(
            tag,
            vr,
            PrimitiveValue::U8(v.to_vec().into()),
        ));
        let meta = dicom_object::meta::FileMetaTableBuilder::new()
            .transfer_syntax("1.2.840.10008.1.2.1")
            .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.128")
            .media_storage_sop_instance_uid("2.25.7");
        let mut bytes = Vec::new();
        o.with_meta(meta).unwrap().write_all(&mut bytes).unwrap();
        bytes
    }

    /// Review finding: values of unknown VR (UN) were passed over as binary, so a public
    /// attribute a writer did not know, kept by the profile, could carry a name out unchecked.
    #[test]
    fn values_of_unknown_vr_are_scanned_for_identifiers() {
        let with = |v: &[u8]| file_with(Tag(0x0040, 0x9999), VR::UN, v);
        assert_eq!(
            verdict(&with(b"\x01\x02\x03\x04"), &["Lindqvist"], &[]),
            Ok(())
        );
        let v = verdict(&with(b"Lindqvist^Ann "), &["Lindqvist"], &[]);
        assert!(
            v.as_ref().is_err_and(|e| e.contains("(0040,9999)")),
            "{v:?}"
        );
    }

    /// Regression (found by damaging phantom files one byte at a time): BitsAllocated (US)
    /// whose length was damaged took in the elements after it, the patient's name and a private
    /// block among them, and was released: binary values were not read. They are now looked
    /// through for identifiers of six characters or more; numbers pass, as does a short name
    /// part that any two bytes could spell.
    #[test]
    fn binary_values_are_looked_through_for_identifiers() {
        let with = |v: &[u8]| file_with(tags::BITS_ALLOCATED, VR::US, v);
        assert_eq!(verdict(&with(&[16, 0]), &["Lindqvist", "Li"], &[]), Ok(()));
        assert_eq!(verdict(&with(b"Li"), &["Lindqvist", "Li"], &[]), Ok(()));
        let swallowed = with(b"\x10\x00\x10\x00PN\x0c\x00LINDQVIST^AN");
        let v = verdict(&swallowed, &["Lindqvist"], &[]);
        assert!(
            v.as_ref().is_err_and(|e| e.contains("(0028,0100)")),
            "{v:?}"
        );
    }

    /// Review finding: the walk passes over a stray item in a data set (the length check leaves
    /// it to the parser), so its contents went unchecked; the check now refuses such a file.
    #[test]
    fn a_stray_item_is_refused_not_passed_over() {
        let mut bytes = file(None, "ISO_IR 100");
        assert_eq!(
            check_bytes(
                &bytes,
                &DeidOptionsSet::default(),
                &Found::default(),
                &HashSet::new()
            ),
            Ok(())
        );
        let mut element = Vec::new();
        element.extend_from_slice(&[0x10, 0x00, 0x10, 0x00, b'P', b'N', 8, 0]);
        element.extend_from_slice(b"Doe^John");
        bytes.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        bytes.extend_from_slice(&(element.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&element);
        let ids = Found {
            personal: vec!["Doe^John".into()],
            ..Found::default()
        };
        let verdict = check_bytes(&bytes, &DeidOptionsSet::default(), &ids, &HashSet::new());
        assert!(
            verdict.as_ref().is_err_and(|e| e.contains("(FFFE,E000)")),
            "{verdict:?}"
        );
    }

    /// Regression (pydicom's test files, and any site whose name shares a word with a vendor's):
    /// "Medical" of "Leiden University Medical Center" failed every file whose Manufacturer is
    /// "GE MEDICAL SYSTEMS". A place name counts whole (not word by word), and not in the
    /// equipment's own names; elsewhere it still fails the file.
    #[test]
    fn place_names_count_whole_and_not_in_the_equipment_names() {
        let site = "Leiden University Medical Center";
        let ids = Found {
            personal: vec!["Zebulonova".to_string()],
            places: vec![site.to_string(), "TOSHIBA".to_string()],
            place_words: site.split(' ').map(String::from).collect(),
            ..Found::default()
        };
        let uids = HashSet::new();
        let verdict = |tag: Tag, value: &str| {
            check_bytes(
                &file(Some((tag, VR::LO, value)), "ISO_IR 100"),
                &DeidOptionsSet::default(),
                &ids,
                &uids,
            )
        };
        assert_eq!(verdict(tags::MANUFACTURER, "GE MEDICAL SYSTEMS"), Ok(()));
        assert_eq!(verdict(tags::MANUFACTURER, "TOSHIBA_MEC"), Ok(()));
        assert_eq!(verdict(tags::CODE_MEANING, "Medical imaging"), Ok(()));
        for (tag, value) in [
            (
                tags::CODE_MEANING,
                "read at leiden university medical center",
            ),
            (tags::CODE_MEANING, "TOSHIBA site"),
            // A person's name fails even the equipment's names (found past a place name).
            (tags::MANUFACTURER, "TOSHIBA for zebulonova"),
        ] {
            let got = verdict(tag, value);
            assert!(
                got.as_ref()
                    .is_err_and(|e| e.contains("original identifiers")),
                "{value}: {got:?}"
            );
        }
    }

    /// Code strings are checked for identifiers holding a digit (IDs, dates), not for names: a
    /// patient named Norm passes ImageType NORM; an MRN or a birth date in a code string fails.
    #[test]
    fn code_strings_are_checked_for_ids_and_dates_not_names() {
        let ids = Found {
            personal: vec!["Norm".into(), "MRN1003296".into(), "19580412".into()],
            ..Found::default()
        };
        let uids = HashSet::new();
        let verdict = |value: &str| {
            check_bytes(
                &file(Some((tags::IMAGE_TYPE, VR::CS, value)), "ISO_IR 100"),
                &DeidOptionsSet::default(),
                &ids,
                &uids,
            )
        };
        assert_eq!(verdict("ORIGINAL\\PRIMARY\\M\\NORM\\DIS2D"), Ok(()));
        for value in ["ORIGINAL\\MRN1003296", "DERIVED\\19580412"] {
            let got = verdict(value);
            assert!(
                got.as_ref()
                    .is_err_and(|e| e.contains("original identifiers")),
                "{value}: {got:?}"
            );
        }
        // The name still fails a text attribute.
        let named = check_bytes(
            &file(
                Some((tags::SERIES_DESCRIPTION, VR::LO, "for Norm")),
                "ISO_IR 100",
            ),
            &DeidOptionsSet::default(),
            &ids,
            &uids,
        );
        assert!(named.is_err(), "{named:?}");
    }

    #[test]
    fn a_clean_file_with_a_safe_private_attribute_passes() {
        assert_eq!(
            verdict(&file(None, "ISO_IR 100"), &["Zebulonova"], &["1.2.3.4"]),
            Ok(())
        );
    }

    #[test]
    fn nested_problems_are_found_in_the_encoded_bytes() {
        let cases = [
            (
                Tag(0x7053, 0x1001),
                VR::LO,
                "x",
                "private attribute (7053,1001)",
            ),
            (
                tags::PATIENT_ADDRESS,
                VR::LO,
                "1 Road",
                "(0010,1040) (PatientAddress)",
            ),
            (
                tags::CODE_MEANING,
                VR::LO,
                "seen by ZEBULONOVA",
                "original identifiers",
            ),
            (
                tags::REFERENCED_SOP_INSTANCE_UID,
                VR::UI,
                "1.2.3.4",
                "original UID",
            ),
        ];
        for (tag, vr, value, expected) in cases {
            let got = verdict(
                &file(Some((tag, vr, value)), "ISO_IR 100"),
                &["Zebulonova"],
                &["1.2.3.4"],
            );
            assert!(
                got.as_ref().is_err_and(|e| e.contains(expected)),
                "{got:?} for {expected}"
            );
        }
    }

    /// A subject whose name part is a word of the profile's own CodeMeanings (Safe, Basic,
    /// Patient) is not failed on them; the same word in any other code meaning still fails.
    /// Regression: nibabel's Siemens mosaic test file (PatientName "dft patient name") was never released
    /// ("(0008,0104) holds one of the subject's original identifiers").
    #[test]
    fn the_profiles_own_code_meanings_are_not_identifiers() {
        for (id, meaning) in [
            ("Safe", "Retain Safe Private Option"),
            ("Basic", "Basic Application Confidentiality Profile"),
            ("Patient", "Retain Patient Characteristics Option"),
        ] {
            let own = file(Some((tags::CODE_MEANING, VR::LO, meaning)), "ISO_IR 100");
            assert_eq!(verdict(&own, &[id], &[]), Ok(()), "{meaning}");
            let other = file(
                Some((tags::CODE_MEANING, VR::LO, &format!("{meaning} (reviewed)"))),
                "ISO_IR 100",
            );
            assert!(
                verdict(&other, &[id], &[]).is_err_and(|e| e.contains("original identifiers")),
                "{meaning}"
            );
        }
    }

    #[test]
    fn latin1_text_is_decoded_before_the_identifier_check() {
        // "Müller" in ISO_IR 100 is one byte 0xFC for the ü: the raw bytes are not UTF-8.
        let bytes = file(
            Some((tags::CODE_MEANING, VR::LO, "MÜLLER kidney")),
            "ISO_IR 100",
        );
        let got = verdict(&bytes, &["Müller"], &[]);
        assert!(got.is_err_and(|e| e.contains("original identifiers")));
    }

    /// Regression (a PHI audit): an ISO 2022 escape inside a kept value ("Qui␛(Bxley", which
    /// readers show as "Quixley") passed the check.
    #[test]
    fn escapes_inside_a_value_hide_no_identifier_from_the_check() {
        let escaped = file(
            Some((
                tags::DERIVATION_DESCRIPTION,
                VR::ST,
                "Qui\u{1b}(Bxley kidney",
            )),
            "ISO 2022 IR 6\\ISO 2022 IR 100",
        );
        let got = verdict(&escaped, &["Quixley"], &[]);
        assert!(got.is_err_and(|e| e.contains("original identifiers")));
        let plain = file(
            Some((tags::DERIVATION_DESCRIPTION, VR::ST, "\u{1b}(Bkidney")),
            "ISO 2022 IR 6\\ISO 2022 IR 100",
        );
        assert_eq!(verdict(&plain, &["Quixley"], &[]), Ok(()));
    }

    #[test]
    fn the_file_meta_group_is_checked_too() {
        let got = verdict(&file(None, "ISO_IR 100"), &[], &["2.25.7"]);
        assert!(got.is_err_and(|e| e.contains("(0002,0003)")));
    }
}
