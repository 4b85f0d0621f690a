//! Pipeline configuration (TOML). Unknown keys and wrong types are errors that name the line;
//! relative paths are taken relative to the config file's folder, except `output.dir`, which is
//! relative to the working directory (so `cargo run -- run pipelines/demo.toml` writes
//! `./demo-out`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The whole config.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub output: Output,
    /// Synthesise a phantom cohort and use it as input (the demo).
    pub phantom: Option<PhantomSection>,
    /// A real site export.
    pub input: Option<InputSection>,
    #[serde(default)]
    pub deid: DeidSection,
    #[serde(default)]
    pub convert: ConvertSection,
    #[serde(default)]
    pub rois: RoiSection,
    #[serde(default)]
    pub clinical: ClinicalSection,
    #[serde(default)]
    pub analysis: AnalysisSection,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// Output folder (relative to the working directory).
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PhantomSection {
    pub subjects: usize,
    #[serde(default = "one")]
    pub seed: u64,
}

/// What a path that should name a `kind` (folder, file) names instead: "is not a folder", or
/// "does not exist".
pub(super) fn not_a(p: &Path, kind: &str) -> String {
    if p.exists() {
        format!("is not a {kind}")
    } else {
        "does not exist".to_string()
    }
}

fn one() -> u64 {
    1
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InputSection {
    /// The site's DICOM export.
    pub dicom: PathBuf,
    /// Folder of ROI masks: `<masks>/<USUBJID>/{pet,mr}_labels.nii.gz`. A series without one is
    /// measured on the DICOM SEG / RTSTRUCT of the export that shares its frame of reference.
    pub masks: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct DeidSection {
    /// Secret key file (≥ 32 bytes); the phantom's demo key when absent in the demo.
    pub key: Option<PathBuf>,
    /// CSV `patient_id,usubjid`.
    pub subjects: Option<PathBuf>,
    /// Site-side log of input paths not released (keep it outside the output folder).
    pub site_log: Option<PathBuf>,
    /// Profile options (PS3.15 Annex E, CID 7050), all on by default.
    pub retain_longitudinal_modified_dates: Option<bool>,
    pub retain_patient_characteristics: Option<bool>,
    pub retain_safe_private: Option<bool>,
    pub clean_descriptors: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConvertSection {
    #[serde(default = "yes")]
    pub gzip: bool,
}

impl Default for ConvertSection {
    fn default() -> Self {
        ConvertSection { gzip: true }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoiSection {
    /// Label table, e.g. `{1 = "tumor", 2 = "kidney"}`; the phantom's five when left out.
    #[serde(default = "default_labels")]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Fixed SUV thresholds of MTV / TL-PSMA (`mtv_suv<T>`); 41%, 50% of SUVmax and the
    /// liver-based threshold are always computed.
    #[serde(default = "default_mtv_suv_thresholds")]
    pub mtv_suv_thresholds: Vec<f64>,
    /// Fixed bin size (image units) for the texture families: one width for every image, or a
    /// table by image kind (`{ suvbw = 0.25, t2 = 25, adc = 50 }`; a kind left out gets none).
    /// No texture without it.
    #[serde(default)]
    pub texture_bin_width: Option<crate::quant::bin_width::BinWidth>,
    /// The texture bins' fixed lower bound (image units): one for every image, or a table by
    /// image kind (`{ suvbw = 0 }`), as IBSI recommends on calibrated units; a kind left out
    /// bins from each region's own minimum.
    #[serde(default)]
    pub texture_min: Option<crate::quant::bin_width::BinWidth>,
}

fn default_mtv_suv_thresholds() -> Vec<f64> {
    vec![3.0]
}

impl RoiSection {
    /// The label table by label number (`Config::load` has checked every key is one).
    pub fn label_table(&self) -> std::collections::BTreeMap<u32, String> {
        self.labels
            .iter()
            .filter_map(|(k, v)| Some((k.parse().ok()?, v.clone())))
            .collect()
    }
}

fn default_labels() -> std::collections::BTreeMap<String, String> {
    [
        ("1", "tumor"),
        ("2", "kidney"),
        ("3", "liver"),
        ("4", "bloodpool"),
        ("5", "parotid"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

impl Default for RoiSection {
    fn default() -> Self {
        RoiSection {
            labels: default_labels(),
            mtv_suv_thresholds: vec![3.0],
            texture_bin_width: None,
            texture_min: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClinicalSection {
    pub adsl: Option<PathBuf>,
    pub adtte: Option<PathBuf>,
    pub pathology: Option<PathBuf>,
    /// Procedures (USUBJID, PRTRT/PRDECOD, PRSTDTC/PRDT): the nephrectomy date when ADSL has no
    /// NEPHRDT.
    pub procedures: Option<PathBuf>,
    /// ADSL's ARMCD of the arm analysed (the imaged arm; "A" by default).
    #[serde(default = "arm_a")]
    pub arm: String,
    /// Series (de-identified series UIDs, as in features.csv) kept out of the analysis: of two
    /// series of one subject, image and day (two reconstructions), the one not to analyse.
    #[serde(default)]
    pub exclude_series: Vec<String>,
}

impl Default for ClinicalSection {
    fn default() -> Self {
        ClinicalSection {
            adsl: None,
            adtte: None,
            pathology: None,
            procedures: None,
            arm: arm_a(),
            exclude_series: Vec::new(),
        }
    }
}

fn arm_a() -> String {
    "A".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AnalysisSection {
    #[serde(default = "pfs_time")]
    pub time: String,
    /// The time's endpoint's (`stats::event_of`) where not given.
    #[serde(default)]
    pub event: String,
    /// Kaplan–Meier interval: "log-log" (default, as lifelines) or "log".
    #[serde(default = "log_log")]
    pub ci: String,
    /// Log-rank cut-offs by feature column, e.g. `{ pt_tumor_stat_max = 10.0 }`.
    #[serde(default)]
    pub cutoffs: std::collections::BTreeMap<String, f64>,
}

fn log_log() -> String {
    "log-log".into()
}

fn pfs_time() -> String {
    "PFS_MONTHS".into()
}

fn pfs_event() -> String {
    "PFS_EVENT".into()
}

impl Default for AnalysisSection {
    fn default() -> Self {
        AnalysisSection {
            time: pfs_time(),
            event: pfs_event(),
            ci: log_log(),
            cutoffs: Default::default(),
        }
    }
}

/// A config error, with the place when TOML gives one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config {path}, line {line}, column {column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The line of the key a message about a value names ("[rois] mtv_suv_thresholds must be ..."):
/// the first line of that table (or of a table within it) that sets the key; None when the
/// message names no key, or the file sets it nowhere (a default).
fn line_of(text: &str, message: &str) -> Option<usize> {
    let rest = message.strip_prefix('[')?;
    let (table, rest) = rest.split_once(']')?;
    let key: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if key.is_empty() {
        return None;
    }
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(header) = t.strip_prefix('[') {
            let name = header
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim();
            inside = name == table || name.starts_with(&format!("{table}."));
            continue;
        }
        let sets = t
            .strip_prefix(key.as_str())
            .is_some_and(|after| after.trim_start().starts_with('='));
        if inside && sets {
            return Some(i + 1);
        }
    }
    None
}

impl Config {
    /// Read and check a config file; relative input paths are resolved against its folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let read = || -> std::io::Result<String> {
            let bytes =
                crate::bounded::read_at_most(path, 16 << 20, "a pipeline config is a few kB")?;
            String::from_utf8(bytes)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        };
        let text = read().map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg: Config = toml::from_str(&text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| {
                    let before = &text[..s.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before
                        .rfind('\n')
                        .map(|p| s.start - p)
                        .unwrap_or(s.start + 1);
                    (line, column)
                })
                .unwrap_or((0, 0));
            let mut message = e.message().trim_end().to_string();
            if let Some(hint) = crate::toml_hint::value_hint(&message) {
                message.push_str(&format!(" ({hint})"));
            }
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        })?;
        // A value's error names its line, as a parse error does (an operations audit: "[rois]
        // mtv_suv_thresholds must be positive SUVs" said none).
        let invalid = |m: &str| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: match line_of(&text, m) {
                Some(line) => format!("line {line}: {m}"),
                None => m.to_string(),
            },
        };
        match (&cfg.phantom, &cfg.input) {
            (None, None) => {
                return Err(invalid(
                    "give either [phantom] (synthetic cohort) or [input] dicom = \"...\"",
                ))
            }
            (Some(_), Some(_)) => return Err(invalid("[phantom] and [input] exclude each other")),
            _ => {}
        }
        // The link stage reads the three tables together: some without the others would
        // only skip it, with the analysis and the report.
        let c = &cfg.clinical;
        let given = [
            ("adsl", &c.adsl),
            ("adtte", &c.adtte),
            ("pathology", &c.pathology),
        ];
        let missing: Vec<&str> = given
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(n, _)| *n)
            .collect();
        if !missing.is_empty() && missing.len() < given.len() {
            return Err(invalid(&format!(
                "[clinical] needs adsl, adtte and pathology together (the link stage reads all \
                 three), or none of them: {} not given",
                missing.join(", ")
            )));
        }
        if c.procedures.is_some() && !missing.is_empty() {
            return Err(invalid(
                "[clinical] procedures gives the nephrectomy dates to adsl, adtte and pathology: \
                 give those too",
            ));
        }
        if c.arm.trim().is_empty() {
            return Err(invalid(
                "[clinical] arm is the ARMCD of the analysed arm in ADSL (e.g. \"A\"), not empty",
            ));
        }
        // The link stage's endpoint columns are <PARAMCD>_MONTHS and <PARAMCD>_EVENT: a time of
        // one endpoint with the event of another (time = "OS_MONTHS" left with the default
        // event) would analyse neither.
        // An event not given is the time's endpoint's, as `analyze --time` alone takes it
        // (the default PFS_EVENT beside time = "OS_MONTHS" was refused as two endpoints).
        if cfg.analysis.event.is_empty() {
            cfg.analysis.event = crate::stats::event_of(&cfg.analysis.time, "[analysis] event")
                .map_err(|why| invalid(&why))?;
        }
        if let Some(why) = crate::stats::endpoints_differ(&cfg.analysis.time, &cfg.analysis.event) {
            return Err(invalid(&format!("[analysis] {why}")));
        }
        if crate::stats::km::CiMethod::parse(&cfg.analysis.ci).is_none() {
            return Err(invalid(&format!(
                "[analysis] ci must be \"log-log\" or \"log\", found {:?}",
                cfg.analysis.ci
            )));
        }
        // Label numbers are keys, names values: a table written the other way round would
        // match no voxel and give no features at all.
        let mut names = std::collections::BTreeSet::new();
        for (number, name) in &cfg.rois.labels {
            if !number.parse::<u32>().is_ok_and(|n| n > 0) {
                return Err(invalid(&format!(
                    "[rois] labels: {number:?} is not a label number (a whole number from 1; \
                     0 is the background): write labels = {{ 1 = \"tumor\", 2 = \"kidney\" }}"
                )));
            }
            let word = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !word || !names.insert(name.as_str()) {
                return Err(invalid(&format!(
                    "[rois] labels: label {number} has the name {name:?}; each label needs its \
                     own name of lower-case letters, digits and _ (it names its features' \
                     columns)"
                )));
            }
        }
        if let Some(t) = cfg
            .rois
            .mtv_suv_thresholds
            .iter()
            .find(|t| !t.is_finite() || **t <= 0.0)
        {
            return Err(invalid(&format!(
                "[rois] mtv_suv_thresholds must be positive SUVs, found {t}"
            )));
        }
        if let Some(w) = cfg
            .rois
            .texture_bin_width
            .iter()
            .flat_map(|w| w.widths())
            .find(|w| !w.is_finite() || *w <= 0.0)
        {
            return Err(invalid(&format!(
                "[rois] texture_bin_width must be a positive width, found {w}"
            )));
        }
        if let Some(m) = cfg
            .rois
            .texture_min
            .iter()
            .flat_map(|m| m.widths())
            .find(|m| !m.is_finite())
        {
            return Err(invalid(&format!(
                "[rois] texture_min must be a number, found {m}"
            )));
        }
        // As `analyze --cutoff` refuses them: a cut-off of NaN or infinity splits no one.
        if let Some((feature, v)) = cfg
            .analysis
            .cutoffs
            .iter()
            .find(|(k, v)| k.trim().is_empty() || !v.is_finite())
        {
            return Err(invalid(&format!(
                "[analysis] cutoffs: {feature:?} = {v}: each cut-off is a feature column's name \
                 and a finite number (e.g. pt_tumor_stat_max = 10)"
            )));
        }
        // A bound for an image kind without a bin width would be taken for nothing.
        if let Some(kind) = cfg.rois.texture_min.as_ref().and_then(|m| {
            crate::quant::bin_width::BinWidth::KINDS
                .into_iter()
                .find(|k| {
                    m.for_image(k).is_some()
                        && cfg
                            .rois
                            .texture_bin_width
                            .as_ref()
                            .and_then(|w| w.for_image(k))
                            .is_none()
                        && !matches!(m, crate::quant::bin_width::BinWidth::Every(_))
                })
                .or_else(|| cfg.rois.texture_bin_width.is_none().then_some("any image"))
        }) {
            return Err(invalid(&format!(
                "[rois] texture_min gives where the texture bins of {kind} start, but \
                 texture_bin_width gives {kind} no bin width: set one, or leave the bound out"
            )));
        }
        if cfg.phantom.as_ref().is_some_and(|p| p.subjects == 0) {
            return Err(invalid("[phantom] subjects must be at least 1"));
        }
        if let Some(p) = cfg
            .phantom
            .as_ref()
            .filter(|p| p.subjects > crate::phantom::MAX_SUBJECTS)
        {
            return Err(invalid(&format!(
                "[phantom] subjects {} is more than the {} a phantom cohort holds",
                p.subjects,
                crate::phantom::MAX_SUBJECTS
            )));
        }
        // An empty folder named the working folder: the run wrote there, and then called itself
        // "another ancilla run" writing it.
        if cfg.output.dir.as_os_str().is_empty() {
            return Err(invalid(
                "[output] dir is empty: name the run's output folder",
            ));
        }
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        // What a path that should name a folder or a file names instead.
        if let Some(i) = cfg.input.as_mut() {
            // An empty path is the config's own folder once resolved, which a run then refused
            // as "the output lies inside the input".
            if i.dicom.as_os_str().is_empty() {
                return Err(invalid(
                    "[input] dicom is empty: give the site export's folder",
                ));
            }
            resolve(&mut i.dicom);
            if let Some(m) = i.masks.as_mut() {
                resolve(m);
            }
            if !i.dicom.exists() {
                return Err(invalid(&format!(
                    "[input] dicom folder {} does not exist",
                    i.dicom.display()
                )));
            }
            // A mistyped masks folder gave a run with no features and exit 0.
            if let Some(m) = i.masks.as_ref().filter(|m| !m.is_dir()) {
                return Err(invalid(&format!(
                    "[input] masks folder {} {}",
                    m.display(),
                    not_a(m, "folder")
                )));
            }
        }
        for p in [
            &mut cfg.deid.key,
            &mut cfg.deid.subjects,
            &mut cfg.deid.site_log,
            &mut cfg.clinical.adsl,
            &mut cfg.clinical.adtte,
            &mut cfg.clinical.pathology,
            &mut cfg.clinical.procedures,
        ]
        .into_iter()
        .flatten()
        {
            resolve(p);
        }
        // The key and subject map, which every run needs, must be there before any stage runs
        // (a missing key surfaced at the deid stage). Not the clinical tables: shards never read
        // them, and they may come after the imaging (a new merge reads them).
        for (key, p) in [
            ("[deid] key", &cfg.deid.key),
            ("[deid] subjects", &cfg.deid.subjects),
        ] {
            if let Some(p) = p.as_ref().filter(|p| !p.is_file()) {
                return Err(invalid(&format!(
                    "{key} file {} {}",
                    p.display(),
                    not_a(p, "file")
                )));
            }
        }
        // The site log is written at the deid stage: a folder there failed the run only then.
        if let Some(log) = cfg.deid.site_log.as_ref().filter(|p| p.is_dir()) {
            return Err(invalid(&format!(
                "[deid] site_log {} is a folder: give the log file's path",
                log.display()
            )));
        }
        Ok(cfg)
    }
}
