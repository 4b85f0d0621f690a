//! Statistics of the ancillary analysis: Kaplan–Meier, log-rank, Cox PH (Efron), concordance,
//! ROC/AUC with DeLong CI, Spearman, Benjamini–Hochberg. Checked against lifelines 0.30.3 and
//! scipy 1.17.1 on lifelines' rossi and waltons data sets (numbers in `lifelines_reference.rs`).

pub mod analyze;
pub mod concordance;
pub mod cox;
pub mod distributions;
pub mod km;
pub mod logrank;
pub mod multiple;
pub mod roc;
pub mod spearman;
mod summary;

#[cfg(test)]
mod lifelines_reference;
#[cfg(test)]
mod properties;

pub use analyze::{
    analyze, endpoints_differ, event_of, parse_cutoffs, Analysis, AnalyzeOptions, StatsError,
};
