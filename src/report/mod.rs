//! Outputs for people: report.html (`html`) with QC images (`qc`), progress display
//! (`progress`).

pub mod html;
pub mod progress;
pub mod qc;
