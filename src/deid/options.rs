//! De-identification options (PS3.15 Annex E profile options, CID 7050 codes) and the config
//! file that switches them; the effective action of a table rule under the options in force.

use serde::Deserialize;

use super::profile::Rule;

/// An action of Table E.1-1 after compound codes are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Action {
    /// Remove.
    X,
    /// Zero-length value.
    Z,
    /// Dummy value.
    D,
    /// Keep.
    K,
    /// Clean (dates shifted, descriptors cleaned, sequences recursed).
    C,
    /// Replace UIDs consistently.
    U,
}

/// The options, each switchable in the config (all on by default for this study).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeidOptionsSet {
    /// 113107 Retain Longitudinal Temporal Information with Modified Dates.
    pub retain_longitudinal_modified_dates: bool,
    /// 113108 Retain Patient Characteristics.
    pub retain_patient_characteristics: bool,
    /// 113111 Retain Safe Private.
    pub retain_safe_private: bool,
    /// 113105 Clean Descriptors.
    pub clean_descriptors: bool,
}

impl DeidOptionsSet {
    /// What the later stages lose to the options switched off, one sentence each (the
    /// pipeline's warnings): the SUV needs the patient's weight (113108) and the injection and
    /// acquisition times (113107); the imaging intervals need the dates.
    pub fn what_is_lost(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.retain_patient_characteristics {
            out.push(
                "[deid] retain_patient_characteristics = false removes the patient's weight \
                 and size (option 113108): no SUV, so no PET features"
                    .to_string(),
            );
        }
        if !self.retain_longitudinal_modified_dates {
            out.push(
                "[deid] retain_longitudinal_modified_dates = false removes dates and times \
                 (option 113107): no SUV where the injection time is needed, no imaging \
                 intervals in the analysis table"
                    .to_string(),
            );
        }
        out
    }
}

impl Default for DeidOptionsSet {
    fn default() -> Self {
        DeidOptionsSet {
            retain_longitudinal_modified_dates: true,
            retain_patient_characteristics: true,
            retain_safe_private: true,
            clean_descriptors: true,
        }
    }
}

/// CID 7050 code and meaning of the Basic Application Confidentiality Profile itself.
pub const PROFILE_CODE: (&str, &str) = ("113100", "Basic Application Confidentiality Profile");

impl DeidOptionsSet {
    /// Whether `text` is a CodeMeaning this profile writes (its own or an option's): a constant
    /// of the standard, never a subject's identifier, even when a name part is a word in it.
    pub fn is_method_meaning(&self, text: &str) -> bool {
        text == PROFILE_CODE.1 || self.codes().iter().any(|(_, m, _)| *m == text)
    }

    /// (CID 7050 code, meaning, option column index) of each option in force.
    pub fn codes(&self) -> Vec<(&'static str, &'static str, usize)> {
        let mut v = Vec::new();
        if self.clean_descriptors {
            v.push(("113105", "Clean Descriptors Option", 7));
        }
        if self.retain_longitudinal_modified_dates {
            v.push((
                "113107",
                "Retain Longitudinal Temporal Information Modified Dates Option",
                6,
            ));
        }
        if self.retain_patient_characteristics {
            v.push(("113108", "Retain Patient Characteristics Option", 4));
        }
        if self.retain_safe_private {
            v.push(("113111", "Retain Safe Private Option", 0));
        }
        v
    }

    /// The action for a rule: an option in force with a non-empty cell replaces the Basic action;
    /// compound codes resolve to the choice that keeps an IOD valid without identifying content
    /// (X/Z → Z, X/D → D, X/Z/D → Z, Z/D → Z, X/Z/U* → U: the sequence kept, its UIDs replaced),
    /// but for the attributes whose Type decides otherwise in the IODs released here
    /// ([`REMOVED_WHEN_COMPOUND`], [`DUMMY_WHEN_COMPOUND`]).
    pub fn action(&self, rule: &Rule) -> Action {
        let mut code = rule.basic.as_str();
        // The options in the order `codes` lists them (a later one's cell wins), without the
        // list: this runs once per attribute.
        for (on, col) in [
            (self.clean_descriptors, 7),
            (self.retain_longitudinal_modified_dates, 6),
            (self.retain_patient_characteristics, 4),
            (self.retain_safe_private, 0),
        ] {
            if on && !rule.options[col].is_empty() {
                code = rule.options[col].as_str();
            }
        }
        let keyword = rule.keyword.as_str();
        match code {
            "X/Z" | "X/Z/D" if REMOVED_WHEN_COMPOUND.contains(&keyword) => Action::X,
            "X/Z/D" if DUMMY_WHEN_COMPOUND.contains(&keyword) => Action::D,
            "X" => Action::X,
            "Z" | "X/Z" | "X/Z/D" | "Z/D" => Action::Z,
            "D" | "X/D" => Action::D,
            "K" => Action::K,
            "C" => Action::C,
            "U" | "X/Z/U*" => Action::U,
            _ => Action::X,
        }
    }
}

/// Sequences of a compound code (X/Z, X/Z/D) that are Type 3 wherever they occur in the image and
/// segmentation IODs (General Study, General Series, General Equipment modules, PS3.3 C.7): they
/// are removed, as an emptied one breaks its module ("Only a single Item shall be included":
/// dciodvfy reported "Bad Sequence number of Items 0" on every released file).
pub const REMOVED_WHEN_COMPOUND: [&str; 3] = [
    "ReferencedPerformedProcedureStepSequence",
    "ReferencedStudySequence",
    "InstitutionCodeSequence",
];

/// Attributes of code X/Z/D that are Type 1 in some IOD released here: Device Serial Number in
/// the Enhanced General Equipment module (PS3.3 C.7.5.2) of every multi-frame functional-group
/// IOD (enhanced MR, CT, PET, segmentations), where an empty one is invalid; a dummy value is
/// valid wherever the attribute occurs.
pub const DUMMY_WHEN_COMPOUND: [&str; 1] = ["DeviceSerialNumber"];

/// The config file of `ancilla deid --config FILE`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DeidConfig {
    #[serde(default)]
    pub options: DeidOptionsSet,
}

/// The keys of a pipeline config's `[deid]` table that are not profile options (its
/// `DeidSection`: the command line gives them to `ancilla deid`).
const PIPELINE_DEID_KEYS: [&str; 3] = ["key", "subjects", "site_log"];

impl DeidConfig {
    /// A config as `deid --config` reads it: a file of one `[options]` table, or a pipeline
    /// config, whose `[deid]` table holds the same options beside its key, subject map and site
    /// log (a core lab passing its pipeline config was told "unknown field `output`, expected
    /// `options`"; a new user's audit).
    pub fn parse(text: &str) -> Result<DeidConfig, String> {
        let value: toml::Table =
            toml::from_str(text).map_err(|e| crate::toml_hint::explained(&e))?;
        // A pipeline config by its tables (`[output]` is the one every one has); without a
        // `[deid]`, its options are the defaults (the demo config has none).
        let pipeline = !value.contains_key("options")
            && (value.contains_key("output") || value.contains_key("deid"));
        let empty = toml::Table::new();
        match value.get("deid").and_then(toml::Value::as_table) {
            Some(deid) if pipeline => Self::pipeline_options(deid),
            None if pipeline => Self::pipeline_options(&empty),
            _ => toml::from_str::<DeidConfig>(text).map_err(|e| e.to_string()),
        }
    }

    /// The options of a pipeline config's `[deid]` table.
    fn pipeline_options(deid: &toml::Table) -> Result<DeidConfig, String> {
        let options: toml::Table = deid
            .iter()
            .filter(|(k, _)| !PIPELINE_DEID_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let options: DeidOptionsSet = toml::Value::Table(options)
            .try_into()
            .map_err(|e| format!("[deid] of a pipeline config: {e}"))?;
        Ok(DeidConfig { options })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `deid --config` reads a file of one `[options]` table, or a pipeline config's `[deid]`
    /// options (its key, subject map and site log left to the command line; its other tables
    /// ignored); an unknown option is refused either way.
    #[test]
    fn a_pipeline_config_gives_its_deid_options() {
        let own = DeidConfig::parse("[options]\nclean_descriptors = false\n").unwrap();
        assert!(!own.options.clean_descriptors && own.options.retain_safe_private);
        let pipeline = "[output]\ndir = \"out\"\n[deid]\nkey = \"k.bin\"\nsubjects = \"m.csv\"\n\
                        retain_safe_private = false\n[analysis]\ntime = \"OS_MONTHS\"\n";
        let read = DeidConfig::parse(pipeline).unwrap();
        assert!(!read.options.retain_safe_private && read.options.clean_descriptors);
        let typo = DeidConfig::parse("[deid]\nretain_safe_privat = false\n").unwrap_err();
        assert!(
            typo.contains("[deid] of a pipeline config") && typo.contains("retain_safe_privat")
        );
        // The demo config has no [deid]: the default options (it was refused).
        let demo = DeidConfig::parse("[output]\ndir = \"x\"\n[phantom]\nsubjects = 2\n").unwrap();
        assert_eq!(demo.options, DeidOptionsSet::default());
        assert!(DeidConfig::parse("[opts]\nclean_descriptors = false\n").is_err());
        // A bare word for a switch is told what a value may be, as `run` tells it.
        let bare = DeidConfig::parse("[options]\nclean_descriptors = no\n").unwrap_err();
        assert!(
            bare.contains("line 2") && bare.contains("a switch takes true or false"),
            "{bare}"
        );
    }
}
