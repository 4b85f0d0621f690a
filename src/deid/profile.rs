//! DICOM PS3.15 Annex E, Table E.1-1 (Application Level Confidentiality Profile Attributes),
//! embedded from `ps3.15-annex-e-profile.csv` (editions 2024b–2024e; see its README) and parsed
//! once: the Basic profile action of every listed attribute and each option's replacement.

use std::sync::OnceLock;

use dicom_core::Tag;

const TABLE: &str = include_str!("ps3.15-annex-e-profile.csv");

/// The option columns of the table, in its order.
pub const OPTION_COLUMNS: [&str; 10] = [
    "retain_safe_private",
    "retain_uids",
    "retain_device_identity",
    "retain_institution_identity",
    "retain_patient_characteristics",
    "retain_longitudinal_full_dates",
    "retain_longitudinal_modified_dates",
    "clean_descriptors",
    "clean_structured_content",
    "clean_graphics",
];

/// One row of the table: the Basic action code and each option's code ("" = no change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub keyword: String,
    pub basic: String,
    pub options: [String; 10],
}

/// The parsed table.
#[derive(Debug)]
pub struct Profile {
    /// Rows by (group << 16 | element), sorted: searched by bisection (once per attribute of
    /// every file; a SipHash lookup cost three times as much).
    exact: Vec<(u32, Rule)>,
    repeating_50xx: Option<Rule>,
    overlay_data: Option<Rule>,
    overlay_comments: Option<Rule>,
    pub rows: usize,
}

fn parse() -> Profile {
    let mut reader = csv::Reader::from_reader(TABLE.as_bytes());
    let headers = reader.headers().cloned().unwrap_or_default();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (c_id, c_kw, c_basic) = (col("tag_id"), col("keyword"), col("basic_profile"));
    let opt_cols: Vec<Option<usize>> = OPTION_COLUMNS.iter().map(|c| col(c)).collect();
    let mut p = Profile {
        exact: Vec::new(),
        repeating_50xx: None,
        overlay_data: None,
        overlay_comments: None,
        rows: 0,
    };
    for rec in reader.records().flatten() {
        let get = |c: Option<usize>| c.and_then(|i| rec.get(i)).unwrap_or("").trim().to_string();
        let id = get(c_id).to_ascii_lowercase();
        let mut options: [String; 10] = Default::default();
        for (slot, c) in options.iter_mut().zip(&opt_cols) {
            *slot = get(*c);
        }
        let rule = Rule {
            keyword: get(c_kw),
            basic: get(c_basic),
            options,
        };
        p.rows += 1;
        match id.as_str() {
            "50xxxxxx" => p.repeating_50xx = Some(rule),
            "60xx3000" => p.overlay_data = Some(rule),
            "60xx4000" => p.overlay_comments = Some(rule),
            "ggggeeee" => {} // private attributes: handled by the safe-private whitelist
            _ => {
                if let Ok(v) = u32::from_str_radix(&id, 16) {
                    p.exact.push((v, rule));
                }
            }
        }
    }
    // A tag listed twice keeps its last row, as a map would.
    p.exact.reverse();
    p.exact.sort_by_key(|(k, _)| *k);
    p.exact.dedup_by_key(|(k, _)| *k);
    p
}

/// The embedded table.
pub fn profile() -> &'static Profile {
    static P: OnceLock<Profile> = OnceLock::new();
    P.get_or_init(parse)
}

impl Profile {
    /// The attributes listed by their own tag (not the repeating groups), with their rules.
    pub fn listed(&self) -> impl Iterator<Item = (Tag, &Rule)> {
        self.exact
            .iter()
            .map(|(k, rule)| (Tag((k >> 16) as u16, (k & 0xFFFF) as u16), rule))
    }

    /// The rule of a (public) attribute, if the table lists it.
    pub fn rule(&self, tag: Tag) -> Option<&Rule> {
        let key = ((tag.group() as u32) << 16) | tag.element() as u32;
        if let Ok(i) = self.exact.binary_search_by_key(&key, |(k, _)| *k) {
            return Some(&self.exact[i].1);
        }
        let g = tag.group();
        if (0x5000..=0x501E).contains(&g) && g.is_multiple_of(2) {
            return self.repeating_50xx.as_ref();
        }
        if (0x6000..=0x601E).contains(&g) && g.is_multiple_of(2) {
            return match tag.element() {
                0x3000 => self.overlay_data.as_ref(),
                0x4000 => self.overlay_comments.as_ref(),
                _ => None,
            };
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_complete_and_known_rows_read_right() {
        let p = profile();
        assert_eq!(p.rows, 621);
        let r = p.rule(Tag(0x0010, 0x0010)).unwrap();
        assert_eq!((r.keyword.as_str(), r.basic.as_str()), ("PatientName", "Z"));
        assert_eq!(p.rule(Tag(0x0020, 0x000D)).unwrap().basic, "U");
        // StudyDate: Z, cleaned (shifted) under Retain Longitudinal Modified Dates.
        let d = p.rule(Tag(0x0008, 0x0020)).unwrap();
        assert_eq!(d.basic, "Z");
        assert_eq!(d.options[6], "C");
        // PatientWeight: X, kept under Retain Patient Characteristics.
        assert_eq!(p.rule(Tag(0x0010, 0x1030)).unwrap().options[4], "K");
        assert_eq!(p.rule(Tag(0x5004, 0x3000)).unwrap().basic, "X");
        assert_eq!(p.rule(Tag(0x6002, 0x3000)).unwrap().basic, "X");
        assert!(
            p.rule(Tag(0x0054, 0x1001)).is_none(),
            "Units is not in the table"
        );
    }

    /// Compound codes resolve by the Type the attribute has in the IODs released here (dciodvfy
    /// found an emptied Referenced Performed Procedure Step Sequence and an empty Type 1 Device
    /// Serial Number in enhanced objects); the others as before.
    #[test]
    fn compound_codes_resolve_by_the_attributes_type() {
        use crate::deid::options::{Action, DeidOptionsSet};
        let p = profile();
        let o = DeidOptionsSet::default();
        let action = |g, e| o.action(p.rule(Tag(g, e)).unwrap());
        assert_eq!(p.rule(Tag(0x0008, 0x1111)).unwrap().basic, "X/Z/D");
        assert_eq!(action(0x0008, 0x1111), Action::X); // Referenced PPS Sequence
        assert_eq!(action(0x0008, 0x1110), Action::X); // Referenced Study Sequence (X/Z)
        assert_eq!(action(0x0008, 0x0082), Action::X); // Institution Code Sequence
        assert_eq!(action(0x0018, 0x1000), Action::D); // Device Serial Number
        assert_eq!(action(0x0008, 0x0080), Action::Z); // Institution Name (X/Z/D)
        assert_eq!(action(0x0008, 0x1070), Action::Z); // Operators' Name (X/Z/D)
        assert_eq!(action(0x0008, 0x0022), Action::C); // Acquisition Date (X/Z; shifted)
    }
}
