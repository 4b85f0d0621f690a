//! ancilla: the imaging pipeline of a kidney-cancer trial's ancillary study.
//!
//! One module per stage, in the order data flows: `ingest` (scan, inventory) → `deid` (PS3.15
//! Annex E) → `volume` (series → volumes, NIfTI) → `roi` (masks) → `quant` (QIBA SUV, IBSI
//! features) → `convert` (series → NIfTI files) → `clinical` (CDISC ADaM tables, linkage) →
//! `stats` (survival, ROC) → `report` → `pipeline`. The order is the data's, not a strict
//! layering: where two stages need one reading, the later one's reader serves both (the scan
//! takes a PET's SUV inputs from `quant::suv`, and the Siemens ASCCONV reading of `ingest` serves
//! `deid`; `quant` writes its tables with `clinical::tables`; `deid` names folders as `convert`
//! does), so that they cannot drift apart.
//! `phantom` writes the synthetic cohort every test and demo uses. `atomic` writes files;
//! `folders` keeps outputs out of inputs; `csv_text` reads delimited text as spreadsheets save it;
//! `plural` counts and lists in messages; `digits` prints numbers (as dcm2niix does, and in full
//! for tables); `redact` keeps site folders and clinical cells out of outputs; `toml_hint` words
//! config parse errors.
//!
//! Every stage reports bad input with a reason and goes on; no stage writes PHI.

pub mod atomic;
pub mod bounded;
pub mod clinical;
pub mod console;
pub mod convert;
pub mod csv_text;
pub mod datetime;
pub mod deid;
pub mod digits;
pub mod folders;
pub mod hex;
pub mod ingest;
pub mod memory;
pub mod panic_guard;
pub mod path_text;
pub mod phantom;
pub mod pipeline;
pub mod plural;
pub mod quant;
pub mod redact;
pub mod report;
pub mod roi;
pub mod shard;
pub mod stats;
pub mod toml_hint;
pub mod volume;

/// The reason given for a file (scan, deid) or a series (convert) on which ancilla itself failed:
/// a panic, caught there so the batch goes on. The panic's own message is never shown: it may
/// quote the file's values.
pub const INTERNAL_ERROR: &str =
    "internal error of ancilla (a defect: please report it); skipped, the rest goes on";

/// How a failure maps to the process exit code (docs/DESIGN.md: 1 the run failed, 2 bad command
/// line or config). Every module error implements it.
pub trait ExitCode {
    /// 2 for a bad command line or config, 1 for anything else.
    fn exit_code(&self) -> u8 {
        1
    }
}
