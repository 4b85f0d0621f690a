//! The long feature table (`subject_id,modality,series_uid,image,roi,feature,value,unit`) and
//! `features.dictionary.csv` (feature, IBSI code, unit, definition, clinical alias).

use std::path::Path;

use super::features::UnitKind;

/// One row of the long table.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureRow {
    pub subject_id: String,
    pub modality: String,
    pub series_uid: String,
    pub image: String,
    pub roi: String,
    pub feature: String,
    pub value: f64,
    pub unit: String,
}

pub const HEADER: [&str; 8] = [
    "subject_id",
    "modality",
    "series_uid",
    "image",
    "roi",
    "feature",
    "value",
    "unit",
];

/// The intensity unit of an image kind.
pub fn intensity_unit(image: &str) -> &'static str {
    match image {
        "suvbw" => "g/ml",
        "bqml" => "Bq/ml",
        "adc" | "adc_fit" => "1e-6 mm2/s",
        "ct" => "HU",
        _ => "a.u.",
    }
}

/// The unit of a feature on an image kind.
pub fn unit(kind: UnitKind, image: &str) -> String {
    let u = intensity_unit(image);
    match kind {
        UnitKind::Intensity => u.to_string(),
        UnitKind::IntensitySquared => format!("({u})^2"),
        UnitKind::Volume => "mm3".into(),
        UnitKind::Dimensionless => "1".into(),
        UnitKind::Millilitre => "ml".into(),
        UnitKind::MillilitreIntensity => format!("ml*{u}"),
        UnitKind::Area => "mm2".into(),
        UnitKind::Length => "mm".into(),
        UnitKind::PerLength => "1/mm".into(),
        UnitKind::IntegratedIntensity => format!("mm3*{u}"),
    }
}

/// CSV bytes of rows (with header); values written with full precision (shortest round-trip).
pub fn to_csv(rows: &[FeatureRow]) -> Vec<u8> {
    let mut bytes = Vec::new();
    // Writing into memory cannot fail.
    let _ = write_csv(&mut bytes, rows, true);
    bytes
}

/// Write rows as CSV to `out`, with the header line or without it (to append to a table whose
/// header is written), as [`to_csv`] does.
pub fn write_csv<W: std::io::Write>(out: W, rows: &[FeatureRow], header: bool) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    if header {
        w.write_record(HEADER)?;
    }
    for r in rows {
        w.write_record(cells(r))?;
    }
    w.flush()?;
    Ok(())
}

/// A row's cells in [`HEADER`] order; the value with full precision ([`crate::digits::shortest`]),
/// empty when it is not finite.
fn cells(r: &FeatureRow) -> [String; 8] {
    let value = crate::digits::shortest(r.value);
    [
        r.subject_id.clone(),
        r.modality.clone(),
        r.series_uid.clone(),
        r.image.clone(),
        r.roi.clone(),
        r.feature.clone(),
        value,
        r.unit.clone(),
    ]
}

/// Write rows as a Parquet long table (the layout [`csv_to_parquet`] gives).
pub fn write_parquet(
    out: &Path,
    rows: &[FeatureRow],
) -> Result<(), crate::clinical::tables::TableError> {
    let header = HEADER.map(String::from);
    let kinds = HEADER.map(column_kind);
    // Each group's cells made as it is written: never the whole table as text at once.
    let groups = rows
        .chunks(PARQUET_GROUP_ROWS)
        .map(|g| Ok(g.iter().map(|r| cells(r).to_vec()).collect()));
    crate::clinical::tables::write_parquet_groups(out, &header, &kinds, groups)
}

/// The long table's Parquet column types: `value` a number, the rest text.
fn column_kind(name: &str) -> crate::clinical::tables::ColumnKind {
    use crate::clinical::tables::ColumnKind;
    if name == "value" {
        ColumnKind::Real
    } else {
        ColumnKind::Text
    }
}

/// Rows per Parquet row group of the long table: a few MB of cells at a time, so writing it does
/// not grow with the cohort (the pipeline's memory stays flat from 10 to 100 subjects).
const PARQUET_GROUP_ROWS: usize = 16_384;

/// The long table as Parquet (DESIGN: "tidy long table in Parquet and CSV"): the CSV at `csv`
/// (as [`write_csv`] writes it) streamed into `out`, `value` a DOUBLE (empty = null), the other
/// columns text. Returns the row count.
pub fn csv_to_parquet(
    csv: &Path,
    out: &Path,
) -> Result<usize, crate::clinical::tables::TableError> {
    let err = |reason: String| crate::clinical::tables::TableError {
        path: csv.to_path_buf(),
        reason,
    };
    let mut reader = csv::Reader::from_path(csv).map_err(|e| err(e.to_string()))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| err(e.to_string()))?
        .iter()
        .map(String::from)
        .collect();
    if header != HEADER {
        return Err(err(format!(
            "not a long feature table: its header is {}, expected {}",
            header.join(","),
            HEADER.join(",")
        )));
    }
    let kinds = HEADER.map(column_kind);
    let mut records = reader.into_records();
    let mut n = 0;
    let groups = std::iter::from_fn(|| {
        let mut rows: Vec<Vec<String>> = Vec::new();
        for record in records.by_ref() {
            match record {
                Ok(r) => rows.push(r.iter().map(String::from).collect()),
                Err(e) => return Some(Err(err(e.to_string()))),
            }
            if rows.len() == PARQUET_GROUP_ROWS {
                break;
            }
        }
        n += rows.len();
        (!rows.is_empty()).then_some(Ok(rows))
    });
    crate::clinical::tables::write_parquet_groups(out, &header, &kinds, groups)?;
    Ok(n)
}

/// (feature, IBSI code, unit, definition, clinical alias)
pub const DICTIONARY: [(&str, &str, &str, &str, &str); 59] = [
    ("morph_volume", "RNU0", "mm3", "Mesh volume: marching cubes at iso 0.5 on the ROI mask, volume by the divergence theorem", "volume (mesh)"),
    ("morph_area_mesh", "C0JK", "mm2", "Mesh surface area: sum of the marching-cubes triangle areas", "surface area"),
    ("morph_av", "2PR5", "1/mm", "Surface to volume ratio A/V", ""),
    ("morph_comp_1", "SKGS", "1", "Compactness 1: V / (√π A^(3/2))", ""),
    ("morph_comp_2", "BQWJ", "1", "Compactness 2: 36π V² / A³", ""),
    ("morph_sph_dispr", "KRCK", "1", "Spherical disproportion: A / (36π V²)^(1/3)", ""),
    ("morph_sphericity", "QCFX", "1", "Sphericity: (36π V²)^(1/3) / A", "sphericity"),
    ("morph_asphericity", "25C7", "1", "Asphericity: A / (36π V²)^(1/3) − 1", ""),
    ("morph_com", "KLMA", "mm", "Centre of mass shift: distance between the ROI's geometric centre and its intensity-weighted centre", ""),
    ("morph_diam", "L0JK", "mm", "Maximum 3D diameter: largest distance between two mesh vertices", "maximum 3D diameter"),
    ("morph_pca_maj_axis", "TDIC", "mm", "Major axis length: 4√λ1 of the voxel-centre covariance", ""),
    ("morph_pca_min_axis", "P9VJ", "mm", "Minor axis length: 4√λ2", ""),
    ("morph_pca_least_axis", "7J51", "mm", "Least axis length: 4√λ3", ""),
    ("morph_pca_elongation", "Q3CK", "1", "Elongation: √(λ2/λ1)", ""),
    ("morph_pca_flatness", "N17B", "1", "Flatness: √(λ3/λ1)", ""),
    ("morph_vol_dens_aabb", "PBX1", "1", "Volume density: V / volume of the mesh's axis-aligned bounding box", ""),
    ("morph_area_dens_aabb", "R59B", "1", "Area density: A / area of the mesh's axis-aligned bounding box", ""),
    ("morph_vol_dens_aee", "6BDE", "1", "Volume density: V / volume of the approximate enclosing ellipsoid (semi-axes 2√λ)", ""),
    ("morph_area_dens_aee", "RDD2", "1", "Area density: A / area of the approximate enclosing ellipsoid (IBSI Legendre series, 20 terms)", ""),
    ("morph_vol_dens_conv_hull", "R3ER", "1", "Volume density: V / volume of the convex hull of the mesh vertices (exact, integer predicates)", ""),
    ("morph_area_dens_conv_hull", "7T7F", "1", "Area density: A / area of the convex hull of the mesh vertices", ""),
    ("morph_moran_i", "N365", "1", "Moran's I: spatial autocorrelation of the region's intensities, weights 1/distance (mm), over every pair of region voxels (exact; large regions through FFT correlations); empty for a region of one intensity (0/0)", ""),
    ("morph_geary_c", "NPT7", "1", "Geary's C: spatial autocorrelation of the region's intensities, weights 1/distance (mm), over every pair of region voxels (exact; large regions through FFT correlations); empty for a region of one intensity (0/0)", ""),
    ("morph_integ_int", "99N0", "mm3*image unit", "Integrated intensity: mean intensity × mesh volume", ""),
    ("diam_axial_max", "", "mm", "Longest diameter in the patient's axial plane: over the grid's planes normal to the axis nearest the head-foot axis (the slices of an axial series, the rows of a coronal one), largest distance between two region pixel centres of one plane + one pixel", "longest axial diameter (RECIST-like)"),
    ("morph_vol_approx", "YEKZ", "mm3", "Volume by voxel counting: number of ROI voxels × voxel volume", "volume"),
    ("stat_mean", "Q4LE", "image unit", "Mean intensity in the ROI", "SUVmean (on suvbw)"),
    ("stat_var", "ECT3", "image unit^2", "Intensity variance (population, 1/N)", ""),
    ("stat_skew", "KE2A", "1", "Intensity skewness (population moments)", ""),
    ("stat_kurt", "IPH6", "1", "Excess intensity kurtosis (m4/m2² − 3)", ""),
    ("stat_median", "Y12H", "image unit", "Median intensity", "SUVmedian (on suvbw)"),
    ("stat_min", "1GSF", "image unit", "Minimum intensity", "SUVmin (on suvbw)"),
    ("stat_p10", "QG58", "image unit", "10th intensity percentile (linear interpolation)", ""),
    ("stat_p90", "8DWT", "image unit", "90th intensity percentile (linear interpolation)", ""),
    ("stat_max", "84IY", "image unit", "Maximum intensity", "SUVmax (on suvbw)"),
    ("stat_iqr", "SALO", "image unit", "Interquartile range P75 − P25", ""),
    ("stat_range", "2OJQ", "image unit", "Intensity range max − min", ""),
    ("stat_mad", "4FUA", "image unit", "Mean absolute deviation from the mean", ""),
    ("stat_rmad", "1128", "image unit", "Robust mean absolute deviation (values within P10–P90)", ""),
    ("stat_medad", "N72L", "image unit", "Mean absolute deviation from the median", ""),
    ("stat_cov", "7TET", "1", "Coefficient of variation: SD / mean", ""),
    ("stat_qcod", "9S40", "1", "Quartile coefficient of dispersion (P75 − P25)/(P75 + P25)", ""),
    ("stat_energy", "N8CA", "image unit^2", "Energy: sum of squared intensities", ""),
    ("stat_rms", "5ZWQ", "image unit", "Root mean square intensity", ""),
    ("loc_peak_loc", "VJGA", "image unit", "Local intensity peak: mean over a 1 cm³ sphere (r 6.2035 mm, all image voxels with centres inside) centred on the ROI's maximum voxel", "SUVpeak (local)"),
    ("loc_peak_glob", "0F91", "image unit", "Global intensity peak: the highest 1 cm³-sphere mean centred on any ROI voxel", "SUVpeak"),
    ("mtv_suv3", "", "ml", "Metabolic tumour volume: ROI voxels with SUVbw ≥ 3 × voxel volume (other fixed thresholds T: mtv_suv<T>, 2.5 written 2p5; --mtv-suv, [rois] mtv_suv_thresholds)", "MTV / PSMA-TV (SUV ≥ 3)"),
    ("tl_psma_suv3", "", "ml*g/ml", "Total lesion PSMA: mtv_suv3 × SUVmean inside it (tl_psma_suv<T> likewise)", "TL-PSMA (SUV ≥ 3)"),
    ("mtv_41pct", "", "ml", "ROI voxels with SUVbw ≥ 41% of the ROI's SUVmax × voxel volume", "MTV (41% SUVmax)"),
    ("tl_psma_41pct", "", "ml*g/ml", "mtv_41pct × SUVmean inside it", "TL-PSMA (41% SUVmax)"),
    ("mtv_50pct", "", "ml", "ROI voxels with SUVbw ≥ 50% of the ROI's SUVmax × voxel volume", "MTV (50% SUVmax)"),
    ("tl_psma_50pct", "", "ml*g/ml", "mtv_50pct × SUVmean inside it", "TL-PSMA (50% SUVmax)"),
    ("threshold_liver", "", "g/ml", "Liver-based SUV threshold: 1.5 × liver SUVmean + 2 × liver SD (population SD of the liver ROI)", "PERCIST-style liver threshold"),
    ("mtv_liver", "", "ml", "ROI voxels with SUVbw ≥ threshold_liver × voxel volume (every ROI but the reference organs)", "MTV (liver-based)"),
    ("tl_psma_liver", "", "ml*g/ml", "mtv_liver × SUVmean inside it", "TL-PSMA (liver-based)"),
    ("lesions_suv3_min0p5ml", "", "1", "Lesion count: 26-connected components of the ROI at SUVbw ≥ 3 of at least 0.5 ml", "PSMA-positive lesions"),
    ("mipsma_score", "", "1", "PROMISE miPSMA expression score of the tumour: 0 SUVmax < blood-pool SUVmean, 1 ≥ blood pool, 2 ≥ liver, 3 ≥ parotid (roi tumor); for a PET whose header names ¹⁸F-PSMA-1007, 2 ≥ spleen instead of liver (PROMISE V2; no score without a region named spleen)", "miPSMA"),
    ("ratio_suvmax_to_kidney_suvmean", "", "1", "Tumour SUVmax / normal-kidney SUVmean (roi tumor)", "tumour-to-kidney ratio"),
    ("ratio_suvmax_to_liver_suvmean", "", "1", "Tumour SUVmax / liver SUVmean (roi tumor)", "tumour-to-liver ratio"),
];

/// GLCM features (IBSI tag stem, IBSI code, name); each comes as `_3D_comb` and `_3D_avg`.
pub const GLCM: [(&str, &str, &str); 25] = [
    ("cm_joint_max", "GYBY", "joint maximum"),
    ("cm_joint_avg", "60VM", "joint average"),
    ("cm_joint_var", "UR99", "joint variance"),
    ("cm_joint_entr", "TU9B", "joint entropy"),
    ("cm_diff_avg", "TF7R", "difference average"),
    ("cm_diff_var", "D3YU", "difference variance"),
    ("cm_diff_entr", "NTRS", "difference entropy"),
    ("cm_sum_avg", "ZGXS", "sum average"),
    ("cm_sum_var", "OEEB", "sum variance"),
    ("cm_sum_entr", "P6QZ", "sum entropy"),
    ("cm_energy", "8ZQL", "angular second moment"),
    ("cm_contrast", "ACUI", "contrast"),
    ("cm_dissimilarity", "8S9J", "dissimilarity"),
    ("cm_inv_diff", "IB1Z", "inverse difference"),
    ("cm_inv_diff_norm", "NDRX", "normalised inverse difference"),
    ("cm_inv_diff_mom", "WF0Z", "inverse difference moment"),
    (
        "cm_inv_diff_mom_norm",
        "1QCO",
        "normalised inverse difference moment",
    ),
    ("cm_inv_var", "E8JP", "inverse variance"),
    ("cm_corr", "NI2N", "correlation"),
    ("cm_auto_corr", "QWB0", "autocorrelation"),
    ("cm_clust_tend", "DG8W", "cluster tendency"),
    ("cm_clust_shade", "7NFM", "cluster shade"),
    ("cm_clust_prom", "AE86", "cluster prominence"),
    ("cm_info_corr1", "R8DG", "information correlation 1"),
    ("cm_info_corr2", "JN9H", "information correlation 2"),
];

/// GLRLM features (IBSI tag stem, IBSI code, name); each comes as `_3D_comb` and `_3D_avg`.
pub const GLRLM: [(&str, &str, &str); 16] = [
    ("rlm_sre", "22OV", "short runs emphasis"),
    ("rlm_lre", "W4KF", "long runs emphasis"),
    ("rlm_lgre", "V3SW", "low grey level run emphasis"),
    ("rlm_hgre", "G3QZ", "high grey level run emphasis"),
    ("rlm_srlge", "HTZT", "short run low grey level emphasis"),
    ("rlm_srhge", "GD3A", "short run high grey level emphasis"),
    ("rlm_lrlge", "IVPO", "long run low grey level emphasis"),
    ("rlm_lrhge", "3KUM", "long run high grey level emphasis"),
    ("rlm_glnu", "R5YN", "grey level non-uniformity"),
    (
        "rlm_glnu_norm",
        "OVBL",
        "normalised grey level non-uniformity",
    ),
    ("rlm_rlnu", "W92Y", "run length non-uniformity"),
    (
        "rlm_rlnu_norm",
        "IC23",
        "normalised run length non-uniformity",
    ),
    ("rlm_r_perc", "9ZK5", "run percentage"),
    ("rlm_gl_var", "8CE5", "grey level variance"),
    ("rlm_rl_var", "SXLW", "run length variance"),
    ("rlm_rl_entr", "HJ9O", "run entropy"),
];

/// GLDZM features (IBSI tag stem, IBSI code, name), 3D (`_3D`).
pub const GLDZM: [(&str, &str, &str); 16] = [
    ("dzm_sde", "0GBI", "small distance emphasis"),
    ("dzm_lde", "MB4I", "large distance emphasis"),
    ("dzm_lgze", "S1RA", "low grey level zone emphasis"),
    ("dzm_hgze", "K26C", "high grey level zone emphasis"),
    (
        "dzm_sdlge",
        "RUVG",
        "small distance low grey level emphasis",
    ),
    (
        "dzm_sdhge",
        "DKNJ",
        "small distance high grey level emphasis",
    ),
    (
        "dzm_ldlge",
        "A7WM",
        "large distance low grey level emphasis",
    ),
    (
        "dzm_ldhge",
        "KLTH",
        "large distance high grey level emphasis",
    ),
    ("dzm_glnu", "VFT7", "grey level non-uniformity"),
    (
        "dzm_glnu_norm",
        "7HP3",
        "normalised grey level non-uniformity",
    ),
    ("dzm_zdnu", "V294", "zone distance non-uniformity"),
    (
        "dzm_zdnu_norm",
        "IATH",
        "normalised zone distance non-uniformity",
    ),
    ("dzm_z_perc", "VIWW", "zone percentage"),
    ("dzm_gl_var", "QK93", "grey level variance"),
    ("dzm_zd_var", "7WT1", "zone distance variance"),
    ("dzm_zd_entr", "GBDU", "zone distance entropy"),
];

/// NGLDM features (IBSI tag stem, IBSI code, name), 3D (`_3D`).
pub const NGLDM: [(&str, &str, &str); 17] = [
    ("ngl_lde", "SODN", "low dependence emphasis"),
    ("ngl_hde", "IMOQ", "high dependence emphasis"),
    ("ngl_lgce", "TL9H", "low grey level count emphasis"),
    ("ngl_hgce", "OAE7", "high grey level count emphasis"),
    (
        "ngl_ldlge",
        "EQ3F",
        "low dependence low grey level emphasis",
    ),
    (
        "ngl_ldhge",
        "JA6D",
        "low dependence high grey level emphasis",
    ),
    (
        "ngl_hdlge",
        "NBZI",
        "high dependence low grey level emphasis",
    ),
    (
        "ngl_hdhge",
        "9QMG",
        "high dependence high grey level emphasis",
    ),
    ("ngl_glnu", "FP8K", "grey level non-uniformity"),
    (
        "ngl_glnu_norm",
        "5SPA",
        "normalised grey level non-uniformity",
    ),
    ("ngl_dcnu", "Z87G", "dependence count non-uniformity"),
    (
        "ngl_dcnu_norm",
        "OKJI",
        "normalised dependence count non-uniformity",
    ),
    ("ngl_dc_perc", "6XV8", "dependence count percentage"),
    ("ngl_gl_var", "1PFV", "grey level variance"),
    ("ngl_dc_var", "DNX2", "dependence count variance"),
    ("ngl_dc_entr", "FCBV", "dependence count entropy"),
    ("ngl_dc_energy", "CAS9", "dependence count energy"),
];

/// Discretised-intensity features (IBSI tag, IBSI code, name): intensity histogram and IVH.
pub const HISTOGRAM: [(&str, &str, &str); 29] = [
    ("ih_mean", "X6K6", "mean discretised intensity"),
    ("ih_var", "CH89", "discretised intensity variance"),
    ("ih_skew", "88K1", "discretised intensity skewness"),
    ("ih_kurt", "C3I7", "(excess) discretised intensity kurtosis"),
    ("ih_median", "WIFQ", "median discretised intensity"),
    ("ih_min", "1PR8", "minimum discretised intensity"),
    // GPMT and OZ0C as in the IBSI reference manual (arXiv:1612.07003) and DICOM PS3.16 CID
    // 7478; the online IBSI pages shift these two by one (1PR8 is the minimum's code).
    ("ih_p10", "GPMT", "10th discretised intensity percentile"),
    ("ih_p90", "OZ0C", "90th discretised intensity percentile"),
    ("ih_max", "3NCY", "maximum discretised intensity"),
    ("ih_mode", "AMMC", "intensity histogram mode"),
    (
        "ih_iqr",
        "WR0O",
        "discretised intensity interquartile range",
    ),
    ("ih_range", "5Z3W", "discretised intensity range"),
    (
        "ih_mad",
        "D2ZX",
        "intensity histogram mean absolute deviation",
    ),
    (
        "ih_rmad",
        "WRZB",
        "intensity histogram robust mean absolute deviation",
    ),
    (
        "ih_medad",
        "4RNL",
        "intensity histogram median absolute deviation",
    ),
    (
        "ih_cov",
        "CWYJ",
        "intensity histogram coefficient of variation",
    ),
    (
        "ih_qcod",
        "SLWD",
        "intensity histogram quartile coefficient of dispersion",
    ),
    ("ih_entropy", "TLU2", "discretised intensity entropy"),
    ("ih_uniformity", "BJ5W", "discretised intensity uniformity"),
    ("ih_max_grad", "12CE", "maximum histogram gradient"),
    (
        "ih_max_grad_g",
        "8E6O",
        "maximum histogram gradient intensity",
    ),
    ("ih_min_grad", "VQB3", "minimum histogram gradient"),
    (
        "ih_min_grad_g",
        "RHQZ",
        "minimum histogram gradient intensity",
    ),
    ("ivh_v10", "BC2M", "volume at intensity fraction"),
    ("ivh_v90", "BC2M", "volume at intensity fraction"),
    ("ivh_i10", "GBPN", "intensity at volume fraction"),
    ("ivh_i90", "GBPN", "intensity at volume fraction"),
    (
        "ivh_diff_v10_v90",
        "DDTU",
        "volume fraction difference between intensity fractions",
    ),
    (
        "ivh_diff_i10_i90",
        "CNV2",
        "intensity fraction difference between volume fractions",
    ),
];

/// GLSZM features (IBSI tag stem, IBSI code, name), 3D (`_3D`); codes as in the IBSI reference table.
pub const GLSZM: [(&str, &str, &str); 16] = [
    ("szm_sze", "5QRC", "small zone emphasis"),
    ("szm_lze", "48P8", "large zone emphasis"),
    ("szm_lgze", "XMSY", "low grey level zone emphasis"),
    ("szm_hgze", "5GN9", "high grey level zone emphasis"),
    ("szm_szlge", "5RAI", "small zone low grey level emphasis"),
    ("szm_szhge", "HW1V", "small zone high grey level emphasis"),
    ("szm_lzlge", "YH51", "large zone low grey level emphasis"),
    ("szm_lzhge", "J17V", "large zone high grey level emphasis"),
    ("szm_glnu", "JNSA", "grey level non-uniformity"),
    (
        "szm_glnu_norm",
        "Y1RO",
        "normalised grey level non-uniformity",
    ),
    ("szm_zsnu", "4JP3", "zone size non-uniformity"),
    (
        "szm_zsnu_norm",
        "VB3A",
        "normalised zone size non-uniformity",
    ),
    ("szm_z_perc", "P30P", "zone percentage"),
    ("szm_gl_var", "BYLV", "grey level variance"),
    ("szm_zs_var", "3NSA", "zone size variance"),
    ("szm_zs_entr", "GU8N", "zone size entropy"),
];

/// NGTDM features (IBSI tag stem, IBSI code, name), 3D (`_3D`).
pub const NGTDM: [(&str, &str, &str); 5] = [
    ("ngt_coarseness", "QCDE", "coarseness"),
    ("ngt_contrast", "65HE", "contrast"),
    ("ngt_busyness", "NQ30", "busyness"),
    ("ngt_complexity", "HDEZ", "complexity"),
    ("ngt_strength", "1X9X", "strength"),
];

/// The rows of `features.dictionary.csv`: (feature, IBSI code, unit, definition, clinical
/// alias) of every feature `features` can write, texture families expanded.
pub fn dictionary_rows() -> Vec<[String; 5]> {
    let mut rows: Vec<[String; 5]> = Vec::new();
    let mut w = |r: [&str; 5]| rows.push(r.map(String::from));
    for row in DICTIONARY {
        w([row.0, row.1, row.2, row.3, row.4]);
    }
    let per_direction = [
        (&GLCM[..], "GLCM", "3.6", "distance 1, symmetric"),
        (&GLRLM[..], "GLRLM", "3.7", "runs"),
    ];
    for (table, family, section, what) in per_direction {
        for (tag, code, name) in table {
            for (suffix, how) in [
                ("3D_comb", "one matrix merged over the 13 directions"),
                ("3D_avg", "averaged over the 13 directions' matrices"),
            ] {
                let feature = format!("{tag}_{suffix}");
                let definition = format!(
                "{family} {name} (IBSI {section}), 3D, {what}, {how}; grey levels by fixed bin size (--texture-bin-width, [rois] texture_bin_width) from --texture-min ([rois] texture_min) where set, else from the region's minimum"
            );
                w([feature.as_str(), code, "1", definition.as_str(), ""]);
            }
        }
    }
    for (tag, code, name) in HISTOGRAM {
        // The IVH's intensities: bin centres in the image's unit, grey levels on an image of
        // arbitrary unit (IBSI 3.5).
        let (unit, what) = if matches!(tag, "ivh_i10" | "ivh_i90" | "ivh_diff_i10_i90") {
            (
                "image unit",
                "; the intensity of a bin's centre, X_min + (level - 0.5) * w, in the image's unit (on an image of arbitrary unit, as T2, the grey level, unit 1)",
            )
        } else {
            ("1", "")
        };
        let definition = format!(
            "{name} (IBSI 3.4 / 3.5) of the grey levels by fixed bin size (--texture-bin-width, [rois] texture_bin_width) from --texture-min ([rois] texture_min) where set, else from the region's minimum{what}"
        );
        w([tag, code, unit, definition.as_str(), ""]);
    }
    for (family, section, table, how) in [
        (
            "GLSZM",
            "3.8",
            &GLSZM[..],
            "zones: 26-connected voxels of one grey level",
        ),
        (
            "NGTDM",
            "3.10",
            &NGTDM[..],
            "26 neighbours inside the region",
        ),
        (
            "GLDZM",
            "3.9",
            &GLDZM[..],
            "GLSZM zones at their smallest face-step distance to the region border",
        ),
        (
            "NGLDM",
            "3.11",
            &NGLDM[..],
            "dependence: 1 + same-level neighbours of 26 inside the region",
        ),
    ] {
        for (tag, code, name) in table {
            let feature = format!("{tag}_3D");
            let definition = format!(
                "{family} {name} (IBSI {section}), 3D, {how}; grey levels by fixed bin size (--texture-bin-width, [rois] texture_bin_width) from --texture-min ([rois] texture_min) where set, else from the region's minimum"
            );
            w([feature.as_str(), code, "1", definition.as_str(), ""]);
        }
    }
    rows
}

/// The entry of `feature` among the dictionary's `rows` ([`dictionary_rows`]); a
/// fixed-threshold MTV, TL-PSMA or lesion count at another threshold (`mtv_suv2p5`) gets its
/// family's entry (`mtv_suv3`), whose definition covers it.
pub fn dictionary_entry<'a>(rows: &'a [[String; 5]], feature: &str) -> Option<&'a [String; 5]> {
    let canonical = [
        ("mtv_suv", "mtv_suv3"),
        ("tl_psma_suv", "tl_psma_suv3"),
        ("lesions_suv", "lesions_suv3_min0p5ml"),
    ]
    .iter()
    .find(|(prefix, _)| feature.starts_with(prefix))
    .map_or(feature, |(_, name)| name);
    [feature, canonical]
        .iter()
        .find_map(|name| rows.iter().find(|r| r[0] == *name))
}

/// Write `features.dictionary.csv` into `dir` (the pipeline's, beside `features.csv`).
pub fn write_dictionary(dir: &Path) -> std::io::Result<()> {
    write_dictionary_to(&dir.join("features.dictionary.csv"))
}

/// Write the features dictionary to `path`.
pub fn write_dictionary_to(path: &Path) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "feature",
        "ibsi_code",
        "unit",
        "definition",
        "clinical_alias",
    ]);
    for row in dictionary_rows() {
        let _ = w.write_record(&row);
    }
    crate::atomic::write_bytes_if_changed(path, &w.into_inner().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clinical::tables::TextTable;

    fn row(i: usize, value: f64) -> FeatureRow {
        FeatureRow {
            subject_id: format!("S{:03}", i % 7),
            modality: "pt".into(),
            series_uid: "2.25.1".into(),
            image: "suvbw".into(),
            roi: "tumor, left".into(),
            feature: format!("f{i}"),
            value,
            unit: "g/ml".into(),
        }
    }

    /// Regression: the dictionary gave the intensity histogram's 10th percentile the minimum's
    /// code (1PR8) and its 90th percentile the 10th's (GPMT), copied from the online IBSI pages;
    /// a code now names one feature, except the IVH's two parameterised ones (BC2M: volume at an
    /// intensity fraction; GBPN: intensity at a volume fraction), and the percentiles carry
    /// GPMT and OZ0C.
    #[test]
    fn each_ibsi_code_names_one_feature() {
        let dir = tempfile::tempdir().unwrap();
        write_dictionary(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("features.dictionary.csv")).unwrap();
        let mut by_code: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
            Default::default();
        for r in csv::Reader::from_reader(text.as_bytes()).records() {
            let r = r.unwrap();
            let stem = r[0]
                .trim_end_matches("_3D_comb")
                .trim_end_matches("_3D_avg");
            if !r[1].is_empty() {
                by_code
                    .entry(r[1].to_string())
                    .or_default()
                    .insert(stem.to_string());
            }
        }
        let shared: Vec<_> = by_code.iter().filter(|(_, f)| f.len() > 1).collect();
        let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            shared,
            [
                (&"BC2M".to_string(), &set(&["ivh_v10", "ivh_v90"])),
                (&"GBPN".to_string(), &set(&["ivh_i10", "ivh_i90"])),
            ]
        );
        assert_eq!(by_code["GPMT"], set(&["ih_p10"]));
        assert_eq!(by_code["OZ0C"], set(&["ih_p90"]));
        assert_eq!(by_code["1PR8"], set(&["ih_min"]));
    }

    /// The Parquet long table holds the CSV's cells (over several row groups), with `value` a
    /// DOUBLE that is null where the CSV is empty; the direct writer gives the same file.
    #[test]
    fn parquet_long_table_equals_the_csv() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let dir = tempfile::tempdir().unwrap();
        let n = 2 * PARQUET_GROUP_ROWS + 5;
        let rows: Vec<FeatureRow> = (0..n)
            .map(|i| {
                row(
                    i,
                    if i % 1000 == 3 {
                        f64::NAN
                    } else {
                        i as f64 / 7.0
                    },
                )
            })
            .collect();
        let csv_path = dir.path().join("f.csv");
        std::fs::write(&csv_path, to_csv(&rows)).unwrap();
        let pq = dir.path().join("f.parquet");
        assert_eq!(csv_to_parquet(&csv_path, &pq).unwrap(), n);
        let (a, b) = (
            TextTable::read(&csv_path).unwrap(),
            TextTable::read(&pq).unwrap(),
        );
        assert_eq!(a.header, b.header);
        assert_eq!(a.rows, b.rows);
        assert_eq!(b.rows[3][6], "", "NaN: an empty cell, a null");
        assert_eq!(b.rows[4][6].parse::<f64>().unwrap(), 4.0 / 7.0);
        let reader = SerializedFileReader::new(std::fs::File::open(&pq).unwrap()).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 3);
        let types: Vec<_> = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.physical_type())
            .collect();
        assert_eq!(types[6], parquet::basic::Type::DOUBLE);
        assert_eq!(types[0], parquet::basic::Type::BYTE_ARRAY);
        let direct = dir.path().join("direct.parquet");
        write_parquet(&direct, &rows).unwrap();
        assert_eq!(std::fs::read(&direct).unwrap(), std::fs::read(&pq).unwrap());
    }

    #[test]
    fn parquet_of_an_empty_table_and_of_another_table() {
        let dir = tempfile::tempdir().unwrap();
        let csv_path = dir.path().join("f.csv");
        std::fs::write(&csv_path, to_csv(&[])).unwrap();
        let pq = dir.path().join("f.parquet");
        assert_eq!(csv_to_parquet(&csv_path, &pq).unwrap(), 0);
        let t = TextTable::read(&pq).unwrap();
        assert_eq!(t.header, HEADER);
        assert!(t.rows.is_empty());
        std::fs::write(&csv_path, "USUBJID,PFS_MONTHS\nA1,3\n").unwrap();
        let e = csv_to_parquet(&csv_path, &dir.path().join("g.parquet")).unwrap_err();
        assert!(e.reason.contains("not a long feature table"), "{e}");
        assert!(!dir.path().join("g.parquet").exists());
    }

    /// Every texture and histogram dictionary row carries the IBSI code of the reference table
    /// (test-data/ibsi1-phantom/reference-values.csv) for its tag; each tag is found there.
    #[test]
    fn dictionary_codes_are_the_reference_codes() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test-data/ibsi1-phantom/reference-values.csv");
        let mut codes = std::collections::BTreeMap::new();
        for rec in csv::Reader::from_path(path).unwrap().records() {
            let rec = rec.unwrap();
            let tag = &rec[7];
            let stem = tag
                .strip_suffix("_3D_comb")
                .or_else(|| tag.strip_suffix("_3D"))
                .unwrap_or(tag);
            codes.insert(stem.to_string(), rec[2].to_string());
        }
        let tables = [
            &GLCM[..],
            &GLRLM[..],
            &GLSZM[..],
            &NGTDM[..],
            &GLDZM[..],
            &NGLDM[..],
            &HISTOGRAM[..],
        ];
        let mut seen = 0;
        for (tag, code, _) in tables.iter().flat_map(|t| t.iter()) {
            assert_eq!(codes.get(*tag).map(String::as_str), Some(*code), "{tag}");
            seen += 1;
        }
        assert_eq!(seen, 25 + 16 + 16 + 5 + 16 + 17 + 29);
    }
}
