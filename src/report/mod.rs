//! Outputs for people and programs: feature tables (CSV, Parquet), report.html, QC images,
//! provenance, progress display.

pub mod progress;
