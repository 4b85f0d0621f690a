//! Defence in depth: every de-identified file is parsed back and checked — from the encoded bytes
//! before it is written (a failing file never reaches the disk) and again as read back from disk
//! after the write (a failing file is deleted) — no attribute the profile removes, no private
//! attribute outside the safe list, no value equal to or containing one of the subject's original
//! identifiers, no original UID.

use std::collections::HashSet;

use dicom_core::value::Value;
use dicom_core::VR;
use dicom_object::InMemDicomObject;
use memchr::memmem::Finder;

use super::apply::is_safe_private;
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

/// Check a written data set. Returns the first problem found (without the offending value).
pub fn check(
    obj: &InMemDicomObject,
    options: &DeidOptionsSet,
    identifiers: &[String],
    original_uids: &HashSet<String>,
) -> Result<(), String> {
    // Short all-digit fragments (house numbers, phone groups) would match inside any number.
    let lowered: Vec<String> = identifiers
        .iter()
        .filter(|s| s.len() >= 4 && !(s.len() < 6 && s.chars().all(|c| c.is_ascii_digit())))
        .map(|s| s.to_lowercase())
        .collect();
    let finders: Vec<Finder> = lowered.iter().map(|s| Finder::new(s.as_bytes())).collect();
    let mut buf = String::new();
    walk(obj, options, &finders, original_uids, &mut buf)
}

/// A tag printed as (GGGG,EEEE), formatted only when an error names it.
struct TagName(dicom_core::Tag);

impl std::fmt::Display for TagName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({:04X},{:04X})", self.0.group(), self.0.element())
    }
}

fn walk(
    obj: &InMemDicomObject,
    options: &DeidOptionsSet,
    ids: &[Finder],
    uids: &HashSet<String>,
    low: &mut String,
) -> Result<(), String> {
    for e in obj.iter() {
        let tag = e.header().tag;
        let name = TagName(tag);
        if tag.group() % 2 == 1 {
            if !(options.retain_safe_private && is_safe_private(obj, tag)) {
                return Err(format!("private attribute {name} is not on the safe list"));
            }
        } else if let Some(rule) = profile().rule(tag) {
            if options.action(rule) == Action::X && !ADDED.contains(&(tag.group(), tag.element())) {
                return Err(format!(
                    "attribute {name} ({}) should have been removed",
                    rule.keyword
                ));
            }
        }
        match e.value() {
            Value::Sequence(seq) => {
                for item in seq.items() {
                    walk(item, options, ids, uids, low)?;
                }
            }
            // Text only: bulk data and binary numbers (US, UL, FL, FD, ...) carry no names.
            Value::Primitive(p)
                if !matches!(
                    e.header().vr,
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
                ) =>
            {
                for s in p.to_multi_str().iter() {
                    let t = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
                    if e.header().vr == VR::UI {
                        // UIDs are pseudonyms of digits: checked against the original UIDs only.
                        if uids.contains(t) {
                            return Err(format!("attribute {name} holds an original UID"));
                        }
                        continue;
                    }
                    // Lower-cased into one reused buffer (ASCII without allocating).
                    if t.is_ascii() {
                        low.clear();
                        low.push_str(t);
                        low.make_ascii_lowercase();
                    } else {
                        *low = t.to_lowercase();
                    }
                    if ids.iter().any(|id| id.find(low.as_bytes()).is_some()) {
                        return Err(format!(
                            "attribute {name} holds one of the subject's original identifiers"
                        ));
                    }
                }
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
                    let t = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
                    if !t.is_empty() && !super::keyed::is_well_known(t) {
                        out.insert(t.to_string());
                    }
                }
            }
            _ => {}
        }
    }
}

/// Parse an encoded Part-10 file (as it will be written) and check it.
pub fn check_bytes(
    bytes: &[u8],
    options: &DeidOptionsSet,
    identifiers: &[String],
    original_uids: &HashSet<String>,
) -> Result<(), String> {
    let body = bytes
        .get(128..)
        .ok_or("encoded file shorter than its preamble")?;
    let obj = dicom_object::OpenFileOptions::new()
        .read_preamble(dicom_object::file::ReadPreamble::Never)
        .from_reader(body)
        .map_err(|e| format!("cannot read the encoded file back: {e}"))?;
    check(&obj, options, identifiers, original_uids)
}
