//! The analysis table's codebook (`TABLE.dictionary.csv`, beside `TABLE.csv`): one row per
//! column of the table, in the table's order, saying where the column comes from (CDISC ADaM
//! ADSL or ADTTE, the pathology table, the imaging dates, or the feature table), its unit and
//! its definition; a feature column also its modality, image, region, feature and IBSI code
//! (from `features.dictionary.csv`'s entries). What a reader in R, pandas or polars needs to
//! label the wide table without the long one.

use std::path::Path;

use super::tables::{self, TableError};
use super::{endpoint_parameter, PATHOLOGY_COLUMNS};
use crate::quant::table::{dictionary_entry, dictionary_rows};

/// The codebook's columns.
pub const HEADER: [&str; 9] = [
    "column",
    "source",
    "modality",
    "image",
    "roi",
    "feature",
    "ibsi_code",
    "unit",
    "definition",
];

/// A feature column of the analysis table: the long table's fields it was made from, and the
/// unit the long table gives (empty when the table has no unit column).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureColumn {
    pub modality: String,
    pub image: String,
    pub roi: String,
    pub feature: String,
    pub unit: String,
}

/// Where a pathology column comes from and what it holds.
fn pathology_definition(column: &str) -> &'static str {
    match column {
        "HISTOLOGY" => {
            "Histological subtype of the nephrectomy specimen, as the pathology table writes it"
        }
        "ISUP" => "ISUP/WHO nucleolar grade (1-4)",
        "YPT" => "Pathological T stage after systemic therapy (ypT)",
        "YPN" => "Pathological N stage after systemic therapy (ypN)",
        "NECROSIS_PCT" => "Percent necrosis in the nephrectomy specimen",
        "SARCOMATOID" => "Sarcomatoid features, as the pathology table writes them",
        "RHABDOID" => "Rhabdoid features, as the pathology table writes them",
        "MARGIN" => "Surgical margin status, as the pathology table writes it",
        _ => "",
    }
}

/// (source, unit, definition) of a clinical column, or None for a feature column.
fn clinical(column: &str) -> Option<(&'static str, &'static str, String)> {
    let row = match column {
        "USUBJID" => (
            "ADSL",
            "",
            "Unique subject identifier of the trial".to_string(),
        ),
        "ARMCD" => ("ADSL", "", "Randomised arm code".to_string()),
        "PCR" => (
            "pathology",
            "",
            "Pathological complete response: 1 = no viable tumour in the nephrectomy specimen \
             (ypT0, or VIABLE_TUMOR_PCT 0), 0 = viable tumour, empty = unknown (neither given, \
             or the two disagree)"
                .to_string(),
        ),
        "VIABLE_TUMOR_PCT" => (
            "pathology",
            "%",
            "Percent viable tumour in the nephrectomy specimen".to_string(),
        ),
        "DAYS_RANDOMISATION_TO_IMAGING" => (
            "imaging",
            "days",
            "Days from randomisation (ADSL RANDDT) to the first imaging analysed".to_string(),
        ),
        "DAYS_IMAGING_TO_NEPHRECTOMY" => (
            "imaging",
            "days",
            "Days from the last imaging analysed to the nephrectomy".to_string(),
        ),
        _ => {
            if let Some(p) = endpoint_parameter(column) {
                return Some(if column.ends_with("_MONTHS") {
                    (
                        "ADTTE",
                        "months",
                        format!(
                            "Time to event or censoring of PARAMCD {p} (AVAL in months: \
                             converted from AVALU, DAYS / 30.4375, WEEKS × 7 / 30.4375, YEARS × \
                             12; an AVAL without AVALU taken as months, as link's warnings say)"
                        ),
                    )
                } else {
                    (
                        "ADTTE",
                        "",
                        format!("PARAMCD {p}: 1 = event, 0 = censored (ADTTE CNSR 0 is an event)"),
                    )
                });
            }
            let (name, _) = PATHOLOGY_COLUMNS.iter().find(|(c, _)| *c == column)?;
            let unit = if name.ends_with("_PCT") { "%" } else { "" };
            ("pathology", unit, pathology_definition(name).to_string())
        }
    };
    Some(row)
}

/// The codebook's row of each column of `header`; `features` gives each feature column's fields.
pub fn rows(
    header: &[String],
    features: &std::collections::BTreeMap<String, FeatureColumn>,
) -> Vec<Vec<String>> {
    let dictionary = dictionary_rows();
    header
        .iter()
        .map(|column| {
            if let Some((source, unit, definition)) = clinical(column) {
                return vec![
                    column.clone(),
                    source.into(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    unit.into(),
                    definition,
                ];
            }
            let f = features.get(column).cloned().unwrap_or_default();
            let (code, definition, dictionary_unit) = dictionary_entry(&dictionary, &f.feature)
                .map(|[_, code, unit, definition, _]| {
                    (code.clone(), definition.clone(), unit.clone())
                })
                .unwrap_or_default();
            // The long table's unit is the image's (g/ml on SUV); the dictionary's says
            // "image unit" where it depends on the image.
            let unit = if f.unit.is_empty() {
                dictionary_unit
            } else {
                f.unit.clone()
            };
            vec![
                column.clone(),
                "features".into(),
                f.modality,
                f.image,
                f.roi,
                f.feature,
                code,
                unit,
                definition,
            ]
        })
        .collect()
}

/// `TABLE.dictionary.csv` beside the analysis table `TABLE.csv`.
pub fn path_beside(table_csv: &Path) -> std::path::PathBuf {
    table_csv.with_extension("dictionary.csv")
}

/// Write the codebook of an analysis table with these columns (atomically).
pub fn write(
    table_csv: &Path,
    header: &[String],
    features: &std::collections::BTreeMap<String, FeatureColumn>,
) -> Result<(), TableError> {
    let head: Vec<String> = HEADER.iter().map(|s| s.to_string()).collect();
    tables::write_csv(&path_beside(table_csv), &head, &rows(header, features))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_has_a_source_and_feature_columns_their_fields() {
        let header: Vec<String> = [
            "USUBJID",
            "ARMCD",
            "PFS_MONTHS",
            "PFS_EVENT",
            "DOR_MONTHS",
            "PCR",
            "ISUP",
            "pt_tumor_stat_max",
            "pt_tumor_mtv_suv2p5",
        ]
        .map(String::from)
        .to_vec();
        let mut features = std::collections::BTreeMap::new();
        let column = |feature: &str, unit: &str| FeatureColumn {
            modality: "pt".into(),
            image: "suvbw".into(),
            roi: "tumor".into(),
            feature: feature.into(),
            unit: unit.into(),
        };
        features.insert("pt_tumor_stat_max".into(), column("stat_max", "g/ml"));
        features.insert("pt_tumor_mtv_suv2p5".into(), column("mtv_suv2p5", ""));
        let r = rows(&header, &features);
        assert_eq!(r.len(), header.len());
        for (row, column) in r.iter().zip(&header) {
            assert_eq!(&row[0], column);
            assert!(!row[1].is_empty() && !row[8].is_empty(), "{row:?}");
        }
        assert_eq!(r[2][1], "ADTTE");
        assert_eq!(r[2][7], "months");
        assert!(r[4][8].contains("PARAMCD DOR"), "{:?}", r[4]);
        assert_eq!(r[6][1], "pathology");
        // IBSI's code of the maximum (84IY), the unit of the long table.
        assert_eq!(
            r[7][1..8],
            ["features", "pt", "suvbw", "tumor", "stat_max", "84IY", "g/ml"]
        );
        // A fixed-threshold MTV at another SUV: its family's definition, the dictionary's unit.
        assert_eq!(r[8][7], "ml");
        assert!(r[8][8].contains("Metabolic tumour volume"), "{:?}", r[8]);
    }
}
