//! Command-line definitions (clap). The contract is docs/DESIGN.md's "Command line" section.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ancilla",
    version,
    about = "Imaging ancillary-study pipeline: DICOM scan, de-identification, volumes, SUV and IBSI features, clinical linkage, survival statistics"
)]
pub struct Cli {
    /// No progress output: errors, warnings and the final summary only.
    #[arg(long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a synthetic cohort: DICOM with fake PHI, masks, clinical tables, ground truth.
    Phantom {
        /// Folder to write the cohort into (site-export/, masks/, clinical/, key.bin,
        /// ground_truth.json).
        #[arg(long)]
        out: PathBuf,
        /// Number of imaged arm-A subjects. The cohort adds arm-B subjects: in the clinical tables
        /// only (N/2, at least 1), and from N = 5 one with images too (to be reported and kept
        /// out of the analysis).
        #[arg(long, default_value_t = 20)]
        subjects: usize,
        /// Random seed: the same seed gives the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also write a DICOM SEG (all labels) and an RTSTRUCT (tumour, liver) on each PET.
        #[arg(long)]
        dicom_rois: bool,
    },
    /// Inventory of DICOM inputs: one line per series, every rejected file with its reason.
    Scan {
        /// DICOM files or folders (walked recursively; links followed, loops reported).
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Write the inventory as JSON (no site paths or names in it).
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// De-identify a DICOM tree (PS3.15 Annex E) with trial pseudonyms.
    Deid {
        /// The site's DICOM export: a folder (walked recursively) or one file. Only read.
        input: PathBuf,
        /// Folder of the release (outside the input).
        #[arg(long)]
        out: PathBuf,
        /// File with at least 32 secret bytes.
        #[arg(long)]
        key: PathBuf,
        /// CSV with columns patient_id,usubjid.
        #[arg(long)]
        subjects: PathBuf,
        /// TOML switching the PS3.15 options: [options] with retain_longitudinal_modified_dates,
        /// retain_patient_characteristics, retain_safe_private, clean_descriptors = true/false.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Site-side log of input paths of files not released (stays at the site).
        #[arg(long)]
        site_log: Option<PathBuf>,
    },
    /// Every image series → NIfTI (.nii.gz) + JSON sidecar; PET also as SUVbw.
    Convert {
        /// DICOM folder (walked recursively, every series converted) or one file. Only read.
        input: PathBuf,
        /// Folder of the NIfTI files and sidecars (outside the input).
        #[arg(long)]
        out: PathBuf,
        /// Write .nii instead of .nii.gz.
        #[arg(long)]
        uncompressed: bool,
    },
    /// The SUV factor of a PET series and every input it used, as JSON.
    Suv {
        /// Folder holding one PET series (its DICOM files).
        series_dir: PathBuf,
    },
    /// ADC map (10⁻⁶ mm²/s) fitted from a DWI series' b-values (mono-exponential least squares
    /// per voxel) to a NIfTI file; end its name in `_adc.nii.gz` and `features` names it adc.
    Adc {
        /// Folder holding one DWI series of two b-values or more.
        series_dir: PathBuf,
        /// The ADC map's NIfTI file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Per-ROI features (IBSI names) of an image (DICOM series folder or NIfTI) and a mask
    /// (NIfTI label map, DICOM SEG or RTSTRUCT file, or a folder holding one SEG/RTSTRUCT).
    Features {
        /// A DICOM series folder or a NIfTI file (PET: SUVbw when its headers allow).
        #[arg(long)]
        image: PathBuf,
        /// NIfTI label map on the image's grid, DICOM SEG or RTSTRUCT, or a folder holding one.
        #[arg(long)]
        mask: PathBuf,
        /// Label table, e.g. 1=tumor,2=kidney (for SEG/RTSTRUCT: segment / ROI numbers; without
        /// it every segment or ROI is taken, named after its label).
        #[arg(long)]
        labels: Option<String>,
        /// The long table's file: CSV, or Parquet when it ends in .parquet (its dictionary is
        /// written beside it, FILE.dictionary.csv); without it, CSV on standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Fixed SUV thresholds of MTV / TL-PSMA, comma-separated (default 3).
        #[arg(long, value_delimiter = ',')]
        mtv_suv: Vec<f64>,
        /// Texture and discretised-intensity features on grey levels of this fixed bin size in
        /// image units (e.g. 0.25 for SUV; 1 keeps integer images' levels): IBSI GLCM and GLRLM
        /// (3D merged and averaged), GLSZM, GLDZM, NGTDM, NGLDM, intensity histogram and IVH.
        #[arg(long)]
        texture_bin_width: Option<f64>,
        /// The bins' fixed lower bound in image units (e.g. 0 for SUV), as IBSI recommends on
        /// calibrated units, voxels below it left out of the grey levels; needs
        /// --texture-bin-width. Without it, each region's own minimum (one voxel's value then
        /// moves every bin edge).
        #[arg(long, allow_hyphen_values = true)]
        texture_min: Option<f64>,
        /// The rows' subject_id (USUBJID): a NIfTI image has none, nor a DICOM series not
        /// de-identified (its PatientID is kept out), so its table would not link.
        #[arg(long)]
        subject: Option<String>,
    },
    /// Link features with ADSL, ADTTE and pathology into the analysis table.
    Link {
        /// The long feature table (features.csv or .parquet).
        #[arg(long)]
        features: PathBuf,
        /// ADSL: USUBJID, ARMCD, and RANDDT/NEPHRDT for the intervals (CSV, Parquet or SAS
        /// transport .xpt, as every table here).
        #[arg(long)]
        subjects: PathBuf,
        /// ADTTE: USUBJID, PARAMCD (PFS, OS, ...), AVAL, AVALU, CNSR (0 = event).
        #[arg(long)]
        tte: PathBuf,
        /// Pathology by USUBJID: YPT, VIABLE_TUMOR_PCT (for pCR), HISTOLOGY, ISUP, ...
        #[arg(long)]
        pathology: PathBuf,
        /// The analysis table: FILE.csv and FILE.parquet are written, with FILE.series.csv (the
        /// series used) and FILE.dictionary.csv (each column's source, unit and definition).
        #[arg(long)]
        out: PathBuf,
        /// Imaging dates: CSV/Parquet with USUBJID and IMAGING_DATE (as in the de-identified
        /// DICOM) or IMAGING_DAY (days from randomisation), optionally SERIES_UID and
        /// MASK_ON_GRID (1: the mask was drawn on the series' grid, 0: resampled onto it). Adds
        /// DAYS_RANDOMISATION_TO_IMAGING and DAYS_IMAGING_TO_NEPHRECTOMY. A series imaged after
        /// the nephrectomy is kept out; of several, the latest is analysed, and of one day's the
        /// one on the mask's grid. Imaging after the nephrectomy that names no series is
        /// refused.
        #[arg(long)]
        imaging: Option<PathBuf>,
        /// The de-identification key: ADSL's RANDDT/NEPHRDT are shifted by each subject's
        /// de-identification offset before they meet the (shifted) imaging dates.
        #[arg(long)]
        key: Option<PathBuf>,
        /// Procedures table (USUBJID, PRTRT or PRDECOD, PRSTDTC or PRDT): the nephrectomy date
        /// when ADSL has no NEPHRDT column.
        #[arg(long)]
        procedures: Option<PathBuf>,
        /// ADSL's ARMCD of the analysed (imaged) arm; the other arms are kept out.
        #[arg(long, default_value = "A", value_name = "CODE")]
        arm: String,
        /// A series (the feature table's series_uid) kept out of the analysis, e.g. the second
        /// reconstruction of a PET; repeatable.
        #[arg(long = "exclude-series", value_name = "SERIES_UID")]
        exclude_series: Vec<String>,
    },
    /// Statistics on the analysis table: stats.json and a summary.
    Analyze {
        /// The analysis table `link` wrote (CSV or Parquet): one row per subject.
        table: PathBuf,
        /// Folder for stats.json, summary.md and report.html.
        #[arg(long)]
        out: PathBuf,
        /// The endpoint's time column (months), e.g. OS_MONTHS.
        #[arg(long, default_value = "PFS_MONTHS")]
        time: String,
        /// The endpoint's event column (1 = event, 0 = censored), e.g. OS_EVENT [default: the
        /// time column's endpoint's, <ENDPOINT>_EVENT for <ENDPOINT>_MONTHS].
        #[arg(long)]
        event: Option<String>,
        /// Kaplan–Meier confidence interval: log-log (default, as lifelines and R's
        /// conf.type="log-log") or log (R's default conf.type="log").
        #[arg(long, default_value = "log-log", value_parser = ci_method)]
        ci: ancilla::stats::km::CiMethod,
        /// A log-rank split at a fixed value, FEATURE=NUMBER (high = value ≥ NUMBER), reported
        /// as logrank_cutoff next to the median split; repeatable.
        #[arg(long = "cutoff", value_name = "FEATURE=NUMBER")]
        cutoffs: Vec<String>,
    },
    /// Run every stage from a pipeline config; resumable.
    Run {
        /// Pipeline config (TOML), e.g. pipelines/demo.toml; every key is documented in
        /// pipelines/ancillary-study.toml.
        config: PathBuf,
        /// Output folder instead of the config's [output] dir.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run scan → deid → convert → features on shard I of N (1-based, e.g. 2/8): the sorted
        /// subjects dealt round-robin. Default in a Slurm array job: the task's place in the
        /// array (SLURM_ARRAY_TASK_ID from SLURM_ARRAY_TASK_MIN by SLURM_ARRAY_TASK_STEP; 0-based
        /// without them) of SLURM_ARRAY_TASK_COUNT. Then `ancilla merge` the N shard folders.
        #[arg(long)]
        shard: Option<String>,
    },
    /// Merge the folders of `run --shard I/N` (all N) into what one run writes, then run
    /// link → analyze → report on it.
    Merge {
        /// The output folders of every shard's `run --shard I/N`.
        #[arg(required = true)]
        shard_dirs: Vec<PathBuf>,
        /// Folder of the merged result (not one of the shard folders).
        #[arg(long)]
        out: PathBuf,
        /// The pipeline config, where it is not at the path the shards recorded (the study
        /// moved, or another mount path on this node); it must be theirs but for [clinical] and
        /// [analysis], which the merge reads.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// `--ci`: the library's names for the Kaplan–Meier interval (the config's `[analysis] ci` too).
fn ci_method(s: &str) -> Result<ancilla::stats::km::CiMethod, String> {
    ancilla::stats::km::CiMethod::parse(s)
        .ok_or_else(|| format!("expected log-log or log, found {s:?}"))
}
