//! `ancilla link`: the analysis table from ADaM-style tables and the long feature table, and one
//! test per validation error (each names the file, row and column).

mod support;

use std::path::PathBuf;

use ancilla::clinical::tables::TextTable;
use support::{ancilla, ancilla_ok};

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

const ADSL: &str = "STUDYID,USUBJID,SITEID,ARM,ARMCD,RANDDT,NEPHRDT,AGE,SEX\nS,A1,01,Nx,A,2024-01-01,2024-02-01,60,M\nS,A2,01,Nx,A,2024-01-02,2024-02-02,61,F\nS,B1,02,Cont,B,2024-01-03,,62,M\n";
const ADTTE: &str = "USUBJID,PARAMCD,PARAM,AVAL,AVALU,CNSR,STARTDT,ADT,EVNTDESC\nA1,PFS,p,12.5,MONTHS,0,,,\nA1,OS,o,30,MONTHS,1,,,\nA2,PFS,p,365.25,DAYS,1,,,\nA2,OS,o,24,MONTHS,2,,,\nB1,PFS,p,5,MONTHS,0,,,\n";
const PATH: &str = "USUBJID,HISTOLOGY,ISUP,YPT,YPN,VIABLE_TUMOR_PCT,NECROSIS_PCT,SARCOMATOID,RHABDOID,MARGIN\nA1,ccRCC,2,ypT1a,ypN0,40,20,N,N,R0\nA2,ccRCC,,ypT0,ypN0,0,80,N,N,R0\n";
const FEATS: &str = "subject_id,modality,series_uid,image,roi,feature,value,unit\nA1,pt,,suvbw,tumor,stat_max,9.5,g/ml\nA2,pt,,suvbw,tumor,stat_max,4.25,g/ml\nA1,mr,,adc,tumor,stat_mean,1100,1e-6 mm2/s\nB1,pt,,suvbw,tumor,stat_max,7,g/ml\n";

fn fixture(adsl: &str, adtte: &str, path: &str, feats: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    for (n, t) in [
        ("adsl.csv", adsl),
        ("adtte.csv", adtte),
        ("path.csv", path),
        ("features.csv", feats),
    ] {
        std::fs::write(root.join(n), t).unwrap();
    }
    Fixture { _dir: dir, root }
}

fn link(f: &Fixture, extra: &[&str]) -> std::process::Output {
    link_to(f, "out/table.csv", extra)
}

/// `link` writing its table to `out` (under the fixture).
fn link_to(f: &Fixture, out: &str, extra: &[&str]) -> std::process::Output {
    let p = |n: &str| f.root.join(n).to_str().unwrap().to_string();
    let (features, adsl, adtte, path, out) = (
        p("features.csv"),
        p("adsl.csv"),
        p("adtte.csv"),
        p("path.csv"),
        p(out),
    );
    let args = [
        "link",
        "--features",
        &features,
        "--subjects",
        &adsl,
        "--tte",
        &adtte,
        "--pathology",
        &path,
        "--out",
        &out,
    ];
    ancilla(&[&args[..], extra].concat())
}

/// `link` that must succeed: what it said.
fn link_ok(f: &Fixture, extra: &[&str]) -> String {
    let o = link(f, extra);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    err
}

fn cell(t: &TextTable, row: usize, col: &str) -> String {
    t.rows[row][t.col(col).unwrap_or_else(|| panic!("column {col}"))].clone()
}

/// Regression: a clinical table that is not there was named by its path alone ("adtte.csv: No
/// such file or directory"); the message now says which table it was given as.
#[test]
fn a_missing_clinical_table_is_named_by_its_role() {
    for (file, role) in [
        ("adsl.csv", "ADSL (--subjects)"),
        ("adtte.csv", "ADTTE (--tte)"),
        ("path.csv", "pathology (--pathology)"),
    ] {
        let f = fixture(ADSL, ADTTE, PATH, FEATS);
        std::fs::remove_file(f.root.join(file)).unwrap();
        let o = link(&f, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        let said = format!("{role} {}:", f.root.join(file).display());
        assert!(err.contains(&said), "{said} in {err}");
    }
    // The optional tables by theirs too (they were named by the path alone).
    let f = fixture(ADSL, ADTTE, PATH, FEATS);
    let missing = f.root.join("no-imaging.csv");
    let o = link(&f, &["--imaging", missing.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let said = format!("imaging dates (--imaging) {}:", missing.display());
    assert!(err.contains(&said), "{said} in {err}");
}

#[test]
fn analysis_table_columns_values_and_parquet() {
    let f = fixture(ADSL, ADTTE, PATH, FEATS);
    let err = link_ok(&f, &[]);
    assert!(err.contains("B1: arm B subject with imaging, kept out"));
    for t in [
        TextTable::read(&f.root.join("out/table.csv")).unwrap(),
        TextTable::read(&f.root.join("out/table.parquet")).unwrap(),
    ] {
        assert_eq!(
            t.header,
            [
                "USUBJID",
                "ARMCD",
                "PFS_MONTHS",
                "PFS_EVENT",
                "OS_MONTHS",
                "OS_EVENT",
                "PCR",
                "VIABLE_TUMOR_PCT",
                "HISTOLOGY",
                "ISUP",
                "YPT",
                "YPN",
                "NECROSIS_PCT",
                "SARCOMATOID",
                "RHABDOID",
                "MARGIN",
                "mr_adc_tumor_stat_mean",
                "pt_tumor_stat_max"
            ]
        );
        // The pathology as given (ISUP empty: a complete response is not graded).
        assert_eq!(cell(&t, 0, "HISTOLOGY"), "ccRCC");
        assert_eq!(cell(&t, 0, "ISUP").parse::<f64>().unwrap(), 2.0);
        assert_eq!(cell(&t, 1, "ISUP"), "");
        assert_eq!(cell(&t, 0, "YPT"), "ypT1a");
        assert_eq!(cell(&t, 1, "NECROSIS_PCT").parse::<f64>().unwrap(), 80.0);
        assert_eq!(cell(&t, 0, "MARGIN"), "R0");
        assert_eq!(t.rows.len(), 2, "arm A only");
        assert_eq!(cell(&t, 0, "USUBJID"), "A1");
        assert_eq!(cell(&t, 0, "PFS_EVENT"), "1"); // CNSR 0 = event
        assert_eq!(cell(&t, 1, "PFS_EVENT"), "0"); // CNSR 1 = censored
        assert_eq!(cell(&t, 1, "OS_EVENT"), "0"); // CNSR 2 = censored too
                                                  // 365.25 days = 12 months (30.4375 days per month).
        assert!((cell(&t, 1, "PFS_MONTHS").parse::<f64>().unwrap() - 12.0).abs() < 1e-12);
        assert_eq!(cell(&t, 0, "PCR"), "0");
        assert_eq!(cell(&t, 1, "PCR"), "1"); // ypT0 / 0% viable
        assert_eq!(
            cell(&t, 0, "pt_tumor_stat_max").parse::<f64>().unwrap(),
            9.5
        );
        assert_eq!(cell(&t, 1, "mr_adc_tumor_stat_mean"), "");
    }
}

/// A grade written as pandas writes an integer column with a gap (`2.0`) is the grade 2, in the
/// CSV as in the Parquet's INT64.
#[test]
fn an_isup_grade_written_as_a_float_is_a_whole_grade() {
    let f = fixture(
        ADSL,
        ADTTE,
        &PATH.replace(",ccRCC,2,", ",ccRCC,2.0,"),
        FEATS,
    );
    link_ok(&f, &[]);
    for table in ["out/table.csv", "out/table.parquet"] {
        let t = TextTable::read(&f.root.join(table)).unwrap();
        assert_eq!(cell(&t, 0, "ISUP"), "2", "{table}");
    }
}

/// Regression: `--out NAME` without an extension wrote the CSV to a file named NAME, with no
/// extension, beside NAME.parquet.
#[test]
fn an_out_without_an_extension_gets_the_csv_one() {
    let f = fixture(ADSL, ADTTE, PATH, FEATS);
    let o = link_to(&f, "bare", &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    // The summary names the file written.
    assert!(err.trim_end().ends_with("bare.csv"), "{err}");
    for name in [
        "bare.csv",
        "bare.parquet",
        "bare.series.csv",
        "bare.dictionary.csv",
    ] {
        assert!(f.root.join(name).is_file(), "{name}");
    }
    assert!(!f.root.join("bare").exists());
}

/// Beside the analysis table, its codebook: one row per column in the table's order, each with
/// its source and definition; a feature column also its modality, image, region, feature, IBSI
/// code (the features dictionary's) and unit (the long table's: g/ml on SUV, not "image unit").
#[test]
fn the_analysis_table_has_a_codebook_of_its_columns() {
    let f = fixture(ADSL, ADTTE, PATH, FEATS);
    link_ok(&f, &[]);
    let table = TextTable::read(&f.root.join("out/table.csv")).unwrap();
    let book = TextTable::read(&f.root.join("out/table.dictionary.csv")).unwrap();
    let columns: Vec<String> = book.rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(columns, table.header);
    let row = |column: &str| {
        let r = columns.iter().position(|c| c == column).unwrap();
        let get = |field: &str| cell(&book, r, field);
        (get("source"), get("unit"), get("definition"), r)
    };
    for column in &table.header {
        let (source, _, definition, _) = row(column);
        assert!(!source.is_empty() && !definition.is_empty(), "{column}");
    }
    assert_eq!(row("USUBJID").0, "ADSL");
    assert_eq!(row("PFS_MONTHS").0, "ADTTE");
    assert_eq!(row("PFS_MONTHS").1, "months");
    assert!(
        row("OS_EVENT").2.contains("1 = event"),
        "{:?}",
        row("OS_EVENT")
    );
    assert_eq!(row("NECROSIS_PCT").0, "pathology");
    assert_eq!(row("NECROSIS_PCT").1, "%");
    let (source, unit, definition, r) = row("pt_tumor_stat_max");
    assert_eq!((source.as_str(), unit.as_str()), ("features", "g/ml"));
    assert_eq!(definition, "Maximum intensity");
    for (field, want) in [
        ("modality", "pt"),
        ("image", "suvbw"),
        ("roi", "tumor"),
        ("feature", "stat_max"),
        ("ibsi_code", "84IY"),
    ] {
        assert_eq!(cell(&book, r, field), want, "{field}");
    }
    let (_, unit, _, r) = row("mr_adc_tumor_stat_mean");
    assert_eq!(unit, "1e-6 mm2/s");
    assert_eq!(cell(&book, r, "ibsi_code"), "Q4LE");
}

/// The physical type of each column of a Parquet file, by name: pandas, polars and R arrow type
/// their columns from it.
fn parquet_types(path: &std::path::Path) -> Vec<(String, parquet::basic::Type)> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let r = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    r.metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), c.physical_type()))
        .collect()
}

/// The pathology's coded findings are text in the Parquet file, its grade and percentages
/// numbers (a reader must not get ISUP as text, nor HISTOLOGY as a column of NaN).
#[test]
fn parquet_types_pathology_text_as_text_whole_numbers_as_integers_and_others_as_doubles() {
    use parquet::basic::Type;
    let f = fixture(ADSL, ADTTE, PATH, FEATS);
    link_ok(&f, &[]);
    let types = parquet_types(&f.root.join("out/table.parquet"));
    let of = |name: &str| types.iter().find(|(n, _)| n == name).unwrap().1;
    for text in [
        "USUBJID",
        "ARMCD",
        "HISTOLOGY",
        "YPT",
        "YPN",
        "SARCOMATOID",
        "RHABDOID",
        "MARGIN",
    ] {
        assert_eq!(of(text), Type::BYTE_ARRAY, "{text}");
    }
    for number in [
        "PFS_MONTHS",
        "VIABLE_TUMOR_PCT",
        "NECROSIS_PCT",
        "pt_tumor_stat_max",
    ] {
        assert_eq!(of(number), Type::DOUBLE, "{number}");
    }
    // Whole numbers are INT64 (they were DOUBLE: polars failed to concatenate a table read from
    // the CSV, PFS_EVENT i64, with one read from the Parquet, f64).
    for whole in ["PFS_EVENT", "OS_EVENT", "PCR", "ISUP"] {
        assert_eq!(of(whole), Type::INT64, "{whole}");
    }
}

/// A pathology table with only the columns pCR needs gives no other pathology column.
#[test]
fn pathology_columns_follow_the_table() {
    let f = fixture(ADSL, ADTTE, "USUBJID,YPT\nA1,ypT3a\nA2,ypT0\n", FEATS);
    link_ok(&f, &[]);
    let t = TextTable::read(&f.root.join("out/table.csv")).unwrap();
    assert_eq!(
        t.header[6..],
        [
            "PCR",
            "VIABLE_TUMOR_PCT",
            "YPT",
            "mr_adc_tumor_stat_mean",
            "pt_tumor_stat_max"
        ]
    );
    assert_eq!(cell(&t, 0, "PCR"), "0");
    assert_eq!(cell(&t, 1, "PCR"), "1");
    assert_eq!(cell(&t, 1, "VIABLE_TUMOR_PCT"), "");
}

/// pCR from ypT0 or 0 % viable tumour, whichever is known: a TX stage says nothing (it was taken
/// for viable tumour), and a stage that disagrees with the percentage leaves pCR unknown, with a
/// warning naming the row (before: ypT0 won over 40 % viable tumour, silently).
#[test]
fn pcr_from_stage_or_percentage_and_unknown_when_they_disagree() {
    let path = "USUBJID,YPT,VIABLE_TUMOR_PCT\nA1,ypT0,40\nA2,pTX,0\n";
    let f = fixture(ADSL, ADTTE, path, FEATS);
    let err = link_ok(&f, &[]);
    assert!(
        err.contains(
            "path.csv row 2 column YPT: A1: YPT \"ypT0\" and VIABLE_TUMOR_PCT \"40\" disagree on viable tumour; PCR left empty (unknown)"
        ),
        "{err}"
    );
    let t = TextTable::read(&f.root.join("out/table.csv")).unwrap();
    assert_eq!(cell(&t, 0, "PCR"), "");
    assert_eq!(cell(&t, 1, "PCR"), "1", "pTX: from the 0 % viable tumour");
}

#[test]
fn isup_grade_and_necrosis_out_of_range() {
    let bad = PATH
        .replace("A1,ccRCC,2,", "A1,ccRCC,G2,")
        .replace("ypN0,0,80,", "ypN0,0,180,");
    let e = error_of(ADSL, ADTTE, &bad, FEATS);
    assert!(
        e.contains("path.csv row 2 column ISUP: \"G2\" is not an ISUP grade (1, 2, 3 or 4; empty when not graded)"),
        "{e}"
    );
    assert!(
        e.contains("path.csv row 3 column NECROSIS_PCT: \"180\" is not a percentage"),
        "{e}"
    );
}

/// Arms coded otherwise than A/B: `--arm` names the analysed one; without it the link is refused
/// with the codes ADSL has (before, every subject was kept out as "arm B", silently but for a
/// warning per imaged subject, and the table was empty).
#[test]
fn the_analysed_arm_is_named_by_its_code() {
    let adsl = ADSL
        .replace(",Nx,A,", ",Nx,DNX,")
        .replace(",Cont,B,", ",Cont,CONT,");
    let f = fixture(&adsl, ADTTE, PATH, FEATS);
    let o = link(&f, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no subject has ARMCD A, the analysed arm (its codes: CONT, DNX)")
            && err.contains("--arm CODE"),
        "{err}"
    );
    assert!(!f.root.join("out/table.csv").exists());
    let err = link_ok(&f, &["--arm", "dnx"]);
    assert!(err.contains("B1: arm CONT subject with imaging, kept out of the analysis (the ancillary study is arm DNX)"), "{err}");
    assert!(err.contains("link: 2 arm-DNX subjects"), "{err}");
    let t = TextTable::read(&f.root.join("out/table.csv")).unwrap();
    assert_eq!(t.rows.len(), 2);
    assert_eq!(cell(&t, 0, "ARMCD"), "DNX");
}

/// Every ADTTE parameter gets its own endpoint columns after PFS and OS (an investigator-assessed
/// PFSINV, a DOR), so `analyze --time PFSINV_MONTHS --event PFSINV_EVENT` can take it; without
/// any PFS record the link says so and names the parameters it has (before: PFS_MONTHS empty
/// throughout, and analyze failed with "no subject with PFS_MONTHS and PFS_EVENT"). A PARAMCD
/// that cannot name a column is said and left out.
#[test]
fn every_adtte_parameter_has_its_endpoint_columns() {
    let adtte = "USUBJID,PARAMCD,AVAL,AVALU,CNSR\nA1,PFSINV,12.5,MONTHS,0\nA1,OS,30,MONTHS,1\nA2,PFSINV,6,MONTHS,1\nA2,DOR,3,MONTHS,0\nA2,tt p,3,MONTHS,0\n";
    let f = fixture(ADSL, adtte, PATH, FEATS);
    let err = link_ok(&f, &[]);
    assert!(
        err.contains("no PARAMCD \"PFS\" record, so PFS_MONTHS and PFS_EVENT are empty (ADTTE's parameters: \"DOR\", \"OS\", \"PFSINV\", \"TT P\"")
            && !err.contains("no PARAMCD \"OS\""),
        "{err}"
    );
    assert!(
        err.contains("PARAMCD \"TT P\" cannot name a column"),
        "{err}"
    );
    let t = TextTable::read(&f.root.join("out/table.csv")).unwrap();
    assert_eq!(
        t.header[2..12],
        [
            "PFS_MONTHS",
            "PFS_EVENT",
            "OS_MONTHS",
            "OS_EVENT",
            "DOR_MONTHS",
            "DOR_EVENT",
            "PFSINV_MONTHS",
            "PFSINV_EVENT",
            "PCR",
            "VIABLE_TUMOR_PCT"
        ]
    );
    assert_eq!(cell(&t, 0, "PFSINV_MONTHS"), "12.5");
    assert_eq!(cell(&t, 0, "PFSINV_EVENT"), "1");
    assert_eq!(cell(&t, 1, "PFSINV_EVENT"), "0");
    assert_eq!(cell(&t, 0, "DOR_MONTHS"), "");
    assert_eq!(cell(&t, 1, "PFS_MONTHS"), "");
    // analyze takes the other endpoint and no endpoint column as a feature.
    let out = f.root.join("an");
    ancilla_ok(&[
        "analyze",
        f.root.join("out/table.csv").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--time",
        "PFSINV_MONTHS",
        "--event",
        "PFSINV_EVENT",
    ]);
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("stats.json")).unwrap()).unwrap();
    assert_eq!(stats["endpoint"]["n"], 2);
    assert_eq!(stats["endpoint"]["events"], 1);
    let features: Vec<&str> = stats["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["feature"].as_str().unwrap())
        .collect();
    assert_eq!(features, ["mr_adc_tumor_stat_mean", "pt_tumor_stat_max"]);
}

/// Column names without their case (SAS variable names have none; R and Excel users write
/// `usubjid`, `Isup`): the tables link as the upper-case ones. Before, `ypT` and `isup` were
/// silently not found (no pCR from the stage, no ISUP column) and `usubjid` was "missing".
#[test]
fn column_names_are_read_without_case() {
    let lower = |t: &str| {
        let (head, rest) = t.split_once('\n').unwrap();
        format!(
            "{}\n{rest}",
            head.to_ascii_lowercase().replace("ypt", " ypT")
        )
    };
    let table = |f: &Fixture| TextTable::read(&f.root.join("out/table.csv")).unwrap();
    let upper = fixture(ADSL, ADTTE, PATH, FEATS);
    link_ok(&upper, &[]);
    let mixed = fixture(&lower(ADSL), &lower(ADTTE), &lower(PATH), FEATS);
    link_ok(&mixed, &[]);
    let (a, b) = (table(&upper), table(&mixed));
    assert_eq!((a.header, a.rows), (b.header, b.rows));
}

/// Integers written as floats, as pandas writes an integer column that has a missing value
/// (CNSR 1.0, ISUP 2.0): read as the integers they are (they were refused as "not a non-negative
/// integer"); a fraction is still refused.
#[test]
fn integers_written_as_floats_are_integers() {
    let float = |t: &str| {
        t.replace(",MONTHS,0,", ",MONTHS,0.0,")
            .replace(",MONTHS,1,", ",MONTHS,1.0,")
            .replace(",MONTHS,2,", ",MONTHS,2.0,")
    };
    let table = |f: &Fixture| TextTable::read(&f.root.join("out/table.csv")).unwrap();
    let ints = fixture(ADSL, ADTTE, PATH, FEATS);
    link_ok(&ints, &[]);
    let floats = fixture(
        ADSL,
        &float(ADTTE),
        &PATH.replace("A1,ccRCC,2,", "A1,ccRCC,2.0,"),
        FEATS,
    );
    link_ok(&floats, &[]);
    let (a, b) = (table(&ints), table(&floats));
    assert_eq!(a.header, b.header);
    for c in 0..a.header.len() {
        for r in 0..a.rows.len() {
            let (x, y) = (&a.rows[r][c], &b.rows[r][c]);
            assert!(
                x == y || x.parse::<f64>().ok() == y.parse::<f64>().ok(),
                "{}: {x} vs {y}",
                a.header[c]
            );
        }
    }
    let e = error_of(
        ADSL,
        &ADTTE.replace(",MONTHS,0,", ",MONTHS,0.5,"),
        PATH,
        FEATS,
    );
    assert!(
        e.contains("CNSR \"0.5\" is not a non-negative integer"),
        "{e}"
    );
    let e = error_of(
        ADSL,
        ADTTE,
        &PATH.replace("A1,ccRCC,2,", "A1,ccRCC,2.5,"),
        FEATS,
    );
    assert!(
        e.contains("column ISUP: \"2.5\" is not an ISUP grade"),
        "{e}"
    );
}

/// Dates as a SAS export to CSV writes them (DATE9 `17JAN2024`; DATETIME in a procedures table)
/// give the intervals ISO dates give; they were "not a date".
#[test]
fn sas_date9_and_datetime_are_dates() {
    let imaging = "USUBJID,IMAGING_DAY\nA1,10\nA2,12\n";
    let with = |adsl: &str, extra: &[&str]| {
        let f = fixture(adsl, ADTTE, PATH, FEATS);
        std::fs::write(f.root.join("imaging.csv"), imaging).unwrap();
        std::fs::write(
            f.root.join("pr.csv"),
            "USUBJID,PRTRT,PRSTDTC\nA1,Nephrectomy,01FEB2024:08:15:00\nA2,NEPHRECTOMY,02FEB2024:10:00:00\n",
        )
        .unwrap();
        let p = |n: &str| f.root.join(n).to_str().unwrap().to_string();
        let (im, pr) = (p("imaging.csv"), p("pr.csv"));
        let mut args = vec!["--imaging", im.as_str()];
        if extra.contains(&"procedures") {
            args.extend(["--procedures", pr.as_str()]);
        }
        link_ok(&f, &args);
        TextTable::read(&f.root.join("out/table.csv")).unwrap()
    };
    let iso = with(ADSL, &[]);
    let sas = with(
        &ADSL
            .replace("2024-01-01,2024-02-01", "01JAN2024,01FEB2024")
            .replace("2024-01-02,2024-02-02", "02JAN2024,02FEB2024")
            .replace("2024-01-03,", "03JAN2024,"),
        &[],
    );
    let procedures = with(
        &ADSL
            .replace(",NEPHRDT,", ",")
            .replace(",2024-02-01,", ",")
            .replace(",2024-02-02,", ",")
            .replace(",2024-01-03,,", ",2024-01-03,"),
        &["procedures"],
    );
    for t in [&sas, &procedures] {
        assert_eq!(iso.header, t.header);
        assert_eq!(iso.rows, t.rows);
    }
    assert_eq!(cell(&iso, 0, "DAYS_IMAGING_TO_NEPHRECTOMY"), "21");
}

fn error_of(adsl: &str, adtte: &str, path: &str, feats: &str) -> String {
    let f = fixture(adsl, adtte, path, feats);
    let o = link(&f, &[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        !f.root.join("out/table.csv").exists(),
        "no table on invalid input"
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn duplicate_usubjid_in_adsl() {
    let e = error_of(
        &format!("{ADSL}S,A1,01,Nx,A,2024-01-01,,60,M\n"),
        ADTTE,
        PATH,
        FEATS,
    );
    assert!(
        e.contains("adsl.csv row 5 column USUBJID: duplicate USUBJID \"A1\""),
        "{e}"
    );
}

#[test]
fn cnsr_not_an_integer_and_negative_aval() {
    let bad = ADTTE
        .replace("A1,PFS,p,12.5,MONTHS,0", "A1,PFS,p,-3,MONTHS,0")
        .replace("A1,OS,o,30,MONTHS,1", "A1,OS,o,30,MONTHS,yes");
    let e = error_of(ADSL, &bad, PATH, FEATS);
    assert!(
        e.contains("adtte.csv row 2 column AVAL: AVAL -3 is negative"),
        "{e}"
    );
    assert!(e.contains("adtte.csv row 3 column CNSR"), "{e}");
    assert!(e.contains("2 validation errors:"), "{e}");
}

#[test]
fn unknown_subjects_are_errors() {
    let e = error_of(
        ADSL,
        &format!("{ADTTE}Z9,PFS,p,1,MONTHS,0,,,\n"),
        PATH,
        FEATS,
    );
    assert!(
        e.contains("adtte.csv row 7 column USUBJID: USUBJID \"Z9\" is not in ADSL"),
        "{e}"
    );
    let e = error_of(
        ADSL,
        ADTTE,
        PATH,
        &format!("{FEATS}Q7,pt,,suvbw,tumor,stat_max,1,g/ml\n"),
    );
    assert!(e.contains("features.csv row 6 column subject_id"), "{e}");
}

/// Regression (a 1000-subject run whose ADSL lacked one imaged subject): each of the subject's
/// 639 feature rows was an error of its own and the message ran to 645 lines. A subject not in
/// ADSL is now one error (its first row and the count), and a message lists at most 50 errors
/// and how many more.
#[test]
fn errors_are_one_per_unknown_subject_and_at_most_fifty_listed() {
    let mut feats = FEATS.to_string();
    for i in 0..300 {
        feats.push_str(&format!("Q7,pt,,suvbw,tumor,f{i},1,g/ml\n"));
    }
    let e = error_of(ADSL, ADTTE, PATH, &feats);
    assert!(
        e.contains(
            "features.csv row 6 column subject_id: subject \"Q7\" is not in ADSL (300 rows)"
        ),
        "{e}"
    );
    assert!(e.contains("1 validation error:"), "{e}");
    // 80 unknown subjects in ADTTE: 80 errors, 50 of them listed.
    let mut adtte = ADTTE.to_string();
    for i in 0..80 {
        adtte.push_str(&format!("Z{i},PFS,p,1,MONTHS,0,,,\n"));
    }
    let e = error_of(ADSL, &adtte, PATH, FEATS);
    assert!(e.contains("80 validation errors:"), "{e}");
    assert!(e.contains("USUBJID \"Z49\" is not in ADSL"), "{e}");
    assert!(!e.contains("USUBJID \"Z50\" is not in ADSL"), "{e}");
    assert!(e.contains("... and 30 more"), "{e}");
}

#[test]
fn missing_pathology_for_an_imaged_subject() {
    let e = error_of(
        ADSL,
        ADTTE,
        &PATH.lines().take(2).collect::<Vec<_>>().join("\n"),
        FEATS,
    );
    assert!(
        e.contains("no pathology for imaged arm-A subject A2"),
        "{e}"
    );
}

/// A SAS data set file (.sas7bdat) is refused with advice; a damaged transport file with what is
/// wrong with it.
#[test]
fn sas_data_sets_and_damaged_transport_files_are_refused_with_a_reason() {
    let f = fixture(ADSL, ADTTE, PATH, FEATS);
    std::fs::write(f.root.join("adsl.xpt"), b"HEADER RECORD").unwrap();
    std::fs::write(f.root.join("adsl.sas7bdat"), b"\0\0\0\0").unwrap();
    let p = |n: &str| f.root.join(n).to_str().unwrap().to_string();
    for (file, reason) in [
        ("adsl.xpt", "not a SAS transport file"),
        ("adsl.sas7bdat", "export the table as SAS transport"),
    ] {
        let o = ancilla(&[
            "link",
            "--features",
            &p("features.csv"),
            "--subjects",
            &p(file),
            "--tte",
            &p("adtte.csv"),
            "--pathology",
            &p("path.csv"),
            "--out",
            &p("o.csv"),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(file) && err.contains(reason), "{err}");
    }
}

/// Imaging dates: shifted as de-identification shifts them (same key), the intervals come out as
/// on the real calendar — A1 randomised 2024-01-01, imaged 2024-01-20, nephrectomy 2024-02-01:
/// 19 and 12 days (by hand). The same from IMAGING_DAY without a key. Imaging after the
/// nephrectomy is an error naming the row, with no date in the message.
#[test]
fn imaging_dates_give_intervals_and_late_imaging_is_refused() {
    use ancilla::datetime::Date;
    let f = fixture(ADSL, ADTTE, PATH, FEATS);
    let key: Vec<u8> = (0u8..32).collect();
    std::fs::write(f.root.join("key.bin"), &key).unwrap();
    let shifted = |id: &str, y: i32, m: u32, d: u32| {
        Date::new(y, m, d)
            .add_days(ancilla::clinical::date_shift_days(&key, id))
            .to_iso()
    };
    let run = |imaging: &str, with_key: bool| {
        std::fs::write(f.root.join("imaging.csv"), imaging).unwrap();
        let p = |n: &str| f.root.join(n).to_str().unwrap().to_string();
        let mut args = vec![
            "link".to_string(),
            "--features".into(),
            p("features.csv"),
            "--subjects".into(),
            p("adsl.csv"),
            "--tte".into(),
            p("adtte.csv"),
            "--pathology".into(),
            p("path.csv"),
            "--out".into(),
            p("out/table.csv"),
            "--imaging".into(),
            p("imaging.csv"),
        ];
        if with_key {
            args.extend(["--key".into(), p("key.bin")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ancilla(&args)
    };
    // Two rows for A1 (MR then PET): first and last imaging.
    let csv = format!(
        "USUBJID,MODALITY,IMAGING_DATE\nA1,MR,{}\nA1,PT,{}\nA2,PT,{}\n",
        shifted("A1", 2024, 1, 18),
        shifted("A1", 2024, 1, 20),
        shifted("A2", 2024, 1, 30)
    );
    let o = run(&csv, true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t = TextTable::read(&f.root.join("out/table.csv")).unwrap();
    assert_eq!(cell(&t, 0, "DAYS_RANDOMISATION_TO_IMAGING"), "17");
    assert_eq!(cell(&t, 0, "DAYS_IMAGING_TO_NEPHRECTOMY"), "12");
    assert_eq!(cell(&t, 1, "DAYS_RANDOMISATION_TO_IMAGING"), "28");
    assert_eq!(cell(&t, 1, "DAYS_IMAGING_TO_NEPHRECTOMY"), "3");
    // Without the key the shifted imaging dates would meet unshifted ADSL dates: intervals
    // off by years. Refused (it gave them with "0 warnings").
    let o = run(&csv, false);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("IMAGING_DATE holds de-identified (shifted) dates: give --key"),
        "{err}"
    );
    // Relative days need no key.
    let o = run("USUBJID,IMAGING_DAY\nA1,17\nA1,19\nA2,28\n", false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t = TextTable::read(&f.root.join("out/table.csv")).unwrap();
    assert_eq!(cell(&t, 0, "DAYS_IMAGING_TO_NEPHRECTOMY"), "12");
    assert_eq!(cell(&t, 1, "DAYS_RANDOMISATION_TO_IMAGING"), "28");
    // A2 imaged three days after its nephrectomy (2024-02-02): refused, row 3, no date shown.
    let late = format!(
        "USUBJID,IMAGING_DATE\nA1,{}\nA2,{}\n",
        shifted("A1", 2024, 1, 20),
        shifted("A2", 2024, 2, 5)
    );
    let o = run(&late, true);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("row 3 column IMAGING_DATE") && err.contains("3 days after the nephrectomy"),
        "{err}"
    );
    assert!(!err.contains("2024") && !err.contains("-02-"), "{err}");
    let o = run("USUBJID,IMAGING_DATE\nZ9,2024-01-01\n", true);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Z9 is not in ADSL"), "{err}");
    // What it most often means, said (in a run the imaging table is ancilla's own).
    assert!(err.contains("is ADSL an earlier data cut"), "{err}");
}

/// Without NEPHRDT in ADSL the nephrectomy date comes from a procedures table (the earliest
/// nephrectomy row; other procedures ignored): the same intervals as with NEPHRDT (by hand:
/// A1 2024-01-20 → 2024-02-01 = 12 days; A2 2024-01-30 → 2024-02-02 = 3 days).
#[test]
fn nephrectomy_date_from_a_procedures_table() {
    let adsl = "STUDYID,USUBJID,SITEID,ARM,ARMCD,RANDDT,AGE,SEX\nS,A1,01,Nx,A,2024-01-01,60,M\nS,A2,01,Nx,A,2024-01-02,61,F\nS,B1,02,Cont,B,2024-01-03,62,M\n";
    let f = fixture(adsl, ADTTE, PATH, FEATS);
    std::fs::write(
        f.root.join("pr.csv"),
        "USUBJID,PRTRT,PRSTDTC\nA1,Biopsy,2023-12-20\nA1,Radical nephrectomy,2024-02-01T09:30\nA2,Partial NEPHRECTOMY,2024-02-02\nA2,Completion nephrectomy,2024-03-01\n",
    )
    .unwrap();
    std::fs::write(
        f.root.join("imaging.csv"),
        "USUBJID,IMAGING_DAY\nA1,19\nA2,28\n",
    )
    .unwrap();
    let p = |n: &str| f.root.join(n).to_str().unwrap().to_string();
    ancilla_ok(&[
        "link",
        "--features",
        &p("features.csv"),
        "--subjects",
        &p("adsl.csv"),
        "--tte",
        &p("adtte.csv"),
        "--pathology",
        &p("path.csv"),
        "--out",
        &p("out/table.csv"),
        "--imaging",
        &p("imaging.csv"),
        "--procedures",
        &p("pr.csv"),
    ]);
    let t = TextTable::read(&f.root.join("out/table.csv")).unwrap();
    assert_eq!(cell(&t, 0, "DAYS_IMAGING_TO_NEPHRECTOMY"), "12");
    assert_eq!(cell(&t, 1, "DAYS_IMAGING_TO_NEPHRECTOMY"), "3");
}

/// Tables as spreadsheets write them: ADSL and ADTTE separated by `;` (Excel where the decimal
/// mark is a comma: a quoted ARM holds a comma, AVAL is `12,5`), pathology by tabs and in
/// Windows-1252 (Excel's CSV on Windows: "à", "–"). They link to the same analysis table, byte
/// for byte, as comma-separated UTF-8 tables of the same content. Before, each was one column
/// ("missing column USUBJID", or a field-count error) or stopped at its first accent.
#[test]
fn semicolon_tab_and_windows_1252_tables_link_as_comma_utf8_ones() {
    let arm = "\"Delayed nephrectomy, stop ICI\"";
    let adsl = ADSL.replace(",Nx,", &format!(",{arm},"));
    let histology = "Carcinome à cellules claires – grade 2";
    let path = PATH.replace("ccRCC", histology);
    let plain = fixture(&adsl, ADTTE, &path, FEATS);
    let o = link(&plain, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let sheet = fixture(
        &adsl.replace(',', ";").replace(
            "\"Delayed nephrectomy; stop ICI\"",
            "\"Delayed nephrectomy, stop ICI\"",
        ),
        &ADTTE
            .replace(',', ";")
            .replace("12.5", "12,5")
            .replace("365.25", "365,25"),
        "",
        FEATS,
    );
    let cp1252: Vec<u8> = path
        .replace(',', "\t")
        .chars()
        .map(|c| match c {
            'à' => 0xE0,
            '–' => 0x96,
            c => c as u8,
        })
        .collect();
    std::fs::write(sheet.root.join("path.csv"), cp1252).unwrap();
    let o = link(&sheet, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = |f: &Fixture| std::fs::read(f.root.join("out/table.csv")).unwrap();
    assert_eq!(table(&sheet), table(&plain));
    // The text columns the analysis table leaves out are read whole too.
    let t = TextTable::read(&sheet.root.join("path.csv")).unwrap();
    assert_eq!(cell(&t, 0, "HISTOLOGY"), histology);
    let t = TextTable::read(&sheet.root.join("adsl.csv")).unwrap();
    assert_eq!(cell(&t, 0, "ARM"), "Delayed nephrectomy, stop ICI");
}

/// Regression (a biostatistics audit, then a review): in a `;` table (a spreadsheet's where the
/// decimal mark is a comma) a day count grouped in thousands, `1.206`, was read as 1.206 days.
/// It is read by the decimal mark the table's numbers show (1206 where they show commas), and
/// refused where they show none; an identifier such as `101.001` stays as written (the first fix
/// made it `101001`).
#[test]
fn a_day_count_grouped_in_thousands_is_read_by_the_tables_decimal_mark() {
    let adsl = ADSL.replace("A1", "101.001");
    let feats = FEATS.replace("A1", "101.001");
    let comma = ADTTE
        .replace("A1", "101.001")
        .replace(',', ";")
        .replace("12.5", "12,5")
        .replace("365.25;DAYS", "1.206;DAYS");
    // The feature table too (a review found its values read 1000 times too small).
    let feats = feats
        .replace(',', ";")
        .replace("9.5", "9,5")
        .replace("4.25", "4,25")
        .replace(";1100;", ";1.100;");
    let f = fixture(&adsl.replace(',', ";"), &comma, PATH, &feats);
    std::fs::write(f.root.join("path.csv"), PATH.replace("A1", "101.001")).unwrap();
    let err = link_ok(&f, &[]);
    let t = TextTable::read(&f.root.join("out/table.csv")).unwrap();
    assert_eq!(cell(&t, 0, "USUBJID"), "101.001", "{err}");
    let months: f64 = cell(&t, 1, "PFS_MONTHS").parse().unwrap();
    assert!((months - 1206.0 / 30.4375).abs() < 1e-9, "{months}");
    assert_eq!(cell(&t, 0, "mr_adc_tumor_stat_mean"), "1100");
    assert_eq!(cell(&t, 0, "pt_tumor_stat_max"), "9.5");
    // No decimal mark to tell by: refused, naming the row.
    let neither = comma.replace("12,5", "12");
    std::fs::write(f.root.join("adtte.csv"), neither).unwrap();
    let o = link(&f, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("row 4 column AVAL: AVAL \"1.206\" reads as 1206")
            && err.contains("or as 1.206"),
        "{err}"
    );
}

/// SAS transport files (the format ADaM is submitted in) written by pyreadstat, XPORT versions 5
/// and 8, read to the source table's values (`test-data/xpt/expected.csv`, written from the
/// source data): numbers exactly, missing values empty, DATE9./DATETIME20./TIME8. numbers as ISO
/// dates, date-times and times. Before, `.xpt` was refused ("export the table as CSV").
#[test]
fn sas_transport_tables_read_as_their_source_values() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/xpt");
    let expected = TextTable::read(&root.join("expected.csv")).unwrap();
    for (file, last) in [
        ("table_v5.xpt", "HISTOLOG"),
        ("table_v8.xpt", "HISTOLOGY_SUBTYPE_TX"),
    ] {
        let t = TextTable::read(&root.join(file)).unwrap();
        let mut header = expected.header.clone();
        *header.last_mut().unwrap() = last.to_string();
        assert_eq!(t.header, header, "{file}");
        assert_eq!(t.rows.len(), expected.rows.len(), "{file}");
        for (r, (got, want)) in t.rows.iter().zip(&expected.rows).enumerate() {
            for (c, (g, w)) in got.iter().zip(want).enumerate() {
                let same = match (g.parse::<f64>(), w.parse::<f64>()) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => g == w,
                };
                assert!(
                    same,
                    "{file} row {r} column {}: {g:?}, expected {w:?}",
                    header[c]
                );
            }
        }
    }
}

/// `ancilla link` on ADSL and ADTTE as XPORT version 5 files (dates as DATE9. numbers) and the
/// pathology table as version 8 writes the same analysis table as on the CSV tables they were
/// made from.
#[test]
fn link_reads_adam_tables_as_sas_transport_files() {
    let adam = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/xpt/adam");
    let f = fixture(ADSL, ADTTE, PATH, FEATS);
    let run = |ext: &str, out: &str| {
        let p = |name: &str| {
            adam.join(format!("{name}.{ext}"))
                .to_str()
                .unwrap()
                .to_string()
        };
        let out = f.root.join(out);
        let o = ancilla(&[
            "link",
            "--features",
            f.root.join("features.csv").to_str().unwrap(),
            "--subjects",
            &p("adsl"),
            "--tte",
            &p("adtte"),
            "--pathology",
            &p("pathology"),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(
            o.status.success(),
            "{ext}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::fs::read(out).unwrap()
    };
    assert_eq!(run("csv", "from_csv.csv"), run("xpt", "from_xpt.csv"));
}

/// Tables exported by R (`write.csv`, readr: a missing value is `NA`) or by SAS (PROC EXPORT: a
/// missing number is `.`) link as the same tables with empty cells do. Regression: each such
/// cell was refused ("\"NA\" is not an ISUP grade").
#[test]
fn missing_values_written_as_na_or_a_dot_are_missing() {
    let link_of = |adsl: &str, adtte: &str, path: &str| {
        let f = fixture(adsl, adtte, path, FEATS);
        link_ok(&f, &[]);
        std::fs::read(f.root.join("out/table.csv")).unwrap()
    };
    let plain = link_of(ADSL, ADTTE, PATH);
    let with = |text: &str, mark: &str| {
        // Every empty cell of the table written as `mark`.
        text.lines()
            .map(|l| {
                l.split(',')
                    .map(|c| if c.is_empty() { mark } else { c })
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    };
    for mark in ["NA", "."] {
        assert!(with(PATH, mark).contains(&format!(",{mark},")));
        let marked = link_of(&with(ADSL, mark), &with(ADTTE, mark), &with(PATH, mark));
        assert!(marked == plain, "missing values written {mark}");
    }
}

/// A subject with two PET series (`s1` and `s2`): with an imaging table that gives each series
/// its day (SERIES_UID), a series imaged after the nephrectomy is kept out and the other's
/// features and day are used (A1: randomised 2024-01-01, nephrectomy 2024-02-01, day 31; `s1`
/// on day 17, so 14 days before it, by hand). Two series of one day are ambiguous: their
/// columns are left empty, until `--exclude-series` keeps one out. Before, each feature was
/// "given twice" and the first row's value was kept, and late imaging failed the whole link.
#[test]
fn of_two_series_the_pre_operative_one_is_used_and_a_tie_is_left_empty() {
    let feats = "subject_id,modality,series_uid,image,roi,feature,value,unit\n\
                 A1,pt,s2,suvbw,tumor,stat_max,30,g/ml\nA1,pt,s1,suvbw,tumor,stat_max,9.5,g/ml\n\
                 A2,pt,s3,suvbw,tumor,stat_max,4.25,g/ml\n";
    let f = fixture(ADSL, ADTTE, PATH, feats);
    let imaging = |s2_day: i64| {
        std::fs::write(
            f.root.join("imaging.csv"),
            format!("USUBJID,SERIES_UID,IMAGING_DAY\nA1,s1,17\nA1,s2,{s2_day}\nA2,s3,28\n"),
        )
        .unwrap();
    };
    let im = f.root.join("imaging.csv").to_str().unwrap().to_string();
    let table = || TextTable::read(&f.root.join("out/table.csv")).unwrap();

    imaging(200);
    let err = link_ok(&f, &["--imaging", &im]);
    assert!(
        err.contains(
            "A1: pt suvbw series s2 imaged 169 days after the nephrectomy (NEPHRDT): not \
             pre-operative, kept out of the analysis"
        ),
        "{err}"
    );
    assert!(err.contains("1 kept out, 0 warnings"), "{err}");
    let t = table();
    assert_eq!(cell(&t, 0, "pt_tumor_stat_max"), "9.5");
    assert_eq!(cell(&t, 0, "DAYS_IMAGING_TO_NEPHRECTOMY"), "14");
    assert_eq!(cell(&t, 0, "DAYS_RANDOMISATION_TO_IMAGING"), "17");
    assert_eq!(cell(&t, 1, "pt_tumor_stat_max"), "4.25");
    // Which series each subject's columns come from, beside the table.
    assert_eq!(
        std::fs::read_to_string(f.root.join("out/table.series.csv")).unwrap(),
        "USUBJID,MODALITY,IMAGE,SERIES_UID,DAYS_RANDOMISATION_TO_IMAGING\n\
         A1,pt,suvbw,s1,17\nA2,pt,suvbw,s3,28\n"
    );

    // An earlier baseline beside the pre-operative series: the latest is used, and said so.
    imaging(10);
    let err = link_ok(&f, &["--imaging", &im]);
    assert!(
        err.contains("A1: pt suvbw series s2 imaged 7 days before series s1 is not used"),
        "{err}"
    );
    assert_eq!(cell(&table(), 0, "pt_tumor_stat_max"), "9.5");
    assert_eq!(cell(&table(), 0, "DAYS_RANDOMISATION_TO_IMAGING"), "17");

    // Two series of one day: neither, until one is kept out.
    imaging(17);
    let err = link_ok(&f, &["--imaging", &im]);
    assert!(
        err.contains("A1: pt suvbw features left empty: 2 series (s1, s2), of the same day"),
        "{err}"
    );
    assert_eq!(cell(&table(), 0, "pt_tumor_stat_max"), "");
    assert_eq!(cell(&table(), 1, "pt_tumor_stat_max"), "4.25");
    let used = std::fs::read_to_string(f.root.join("out/table.series.csv")).unwrap();
    assert!(!used.contains("A1,"), "{used}");
    let err = link_ok(&f, &["--imaging", &im, "--exclude-series", "s1"]);
    assert!(
        err.contains("A1: pt suvbw series s1 kept out of the analysis (exclude_series)"),
        "{err}"
    );
    assert_eq!(cell(&table(), 0, "pt_tumor_stat_max"), "30");
    assert!(!err.contains("a typo?"), "{err}");
    // A UID that is no series of the table (mistyped) was ignored without a word.
    let err = link_ok(&f, &["--imaging", &im, "--exclude-series", "2.25.9"]);
    assert!(
        err.contains(
            "exclude_series 2.25.9 is no series of the analysed arm in features.csv (a typo?)"
        ),
        "{err}"
    );
    // One not of the de-identified form (a site's original UID pasted in, PHI: a monitor's
    // audit found it copied into five released files) is not repeated.
    let err = link_ok(
        &f,
        &["--imaging", &im, "--exclude-series", "1.2.826.0.1.99"],
    );
    assert!(
        !err.contains("1.2.826.0.1.99")
            && err.contains("not shown: perhaps a site's original) is no series"),
        "{err}"
    );

    // Of one day's, the series the mask was drawn on (MASK_ON_GRID 1; resampled onto the other).
    let on_grid = |s1: &str| {
        std::fs::write(
            f.root.join("imaging.csv"),
            format!(
                "USUBJID,SERIES_UID,IMAGING_DAY,MASK_ON_GRID\nA1,s1,17,{s1}\nA1,s2,17,0\n\
                 A2,s3,28,1\n"
            ),
        )
        .unwrap();
    };
    on_grid("1");
    let err = link_ok(&f, &["--imaging", &im]);
    assert!(
        err.contains(
            "A1: pt suvbw series s2 of the same day is not used: the mask was drawn on series s1"
        ),
        "{err}"
    );
    assert_eq!(cell(&table(), 0, "pt_tumor_stat_max"), "9.5");
    on_grid("yes");
    let o = link(&f, &["--imaging", &im]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("row 2 column MASK_ON_GRID: \"yes\" is not 1"),
        "{err}"
    );

    // Without an imaging table there is no day to choose by.
    let err = link_ok(&f, &[]);
    assert!(
        err.contains("not all of them have an imaging date"),
        "{err}"
    );
    assert_eq!(cell(&table(), 0, "pt_tumor_stat_max"), "");
}

/// A feature table written by another tool need not have a series_uid column: each subject's
/// rows of an image are then one series, linked as before (the same table as with an empty
/// series_uid column). Before this column was optional, such a table was refused ("missing
/// column series_uid").
#[test]
fn a_feature_table_without_series_uids_links_as_one_series_per_image() {
    let without: String = FEATS
        .lines()
        .map(|l| {
            let mut cells: Vec<&str> = l.split(',').collect();
            cells.remove(2);
            cells.join(",") + "\n"
        })
        .collect();
    assert!(!without.contains("series_uid"));
    let a = fixture(ADSL, ADTTE, PATH, FEATS);
    let b = fixture(ADSL, ADTTE, PATH, &without);
    link_ok(&a, &[]);
    link_ok(&b, &[]);
    let table = |f: &Fixture| std::fs::read(f.root.join("out/table.csv")).unwrap();
    assert_eq!(table(&a), table(&b));
    assert_eq!(
        cell(
            &TextTable::read(&b.root.join("out/table.csv")).unwrap(),
            0,
            "pt_tumor_stat_max"
        ),
        "9.5"
    );
}

/// AVAL with no unit (no AVALU column, or an empty cell) is taken as months, as before, but no
/// longer silently: ADaM ADTTE is often in days, and days read as months made a median of 585
/// "months" with "0 warnings".
#[test]
fn aval_without_a_unit_is_taken_as_months_and_said() {
    let no_column = ADTTE
        .replace(",AVALU,", ",")
        .replace(",MONTHS,", ",")
        .replace(",DAYS,", ",")
        .replace("365.25", "200");
    let f = fixture(ADSL, &no_column, PATH, FEATS);
    let err = link_ok(&f, &[]);
    assert!(
        err.contains(
            "adtte.csv has no AVALU column: AVAL is taken as months; give AVALU (DAYS, WEEKS, \
             MONTHS or YEARS) if it is not. The longest is 200 \"months\": are these days?"
        ),
        "{err}"
    );
    let t = TextTable::read(&f.root.join("out/table.csv")).unwrap();
    assert_eq!(cell(&t, 1, "PFS_MONTHS"), "200");
    // Regression (a biostatistics audit): said on the terminal only, while the summary gave the
    // median in "months". Now also beside the table, and in analyze's stats.json and summary.
    let beside: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.root.join("out/table.warnings.json")).unwrap())
            .unwrap();
    assert!(
        beside
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["warning"] == true
                && w["reason"]
                    .as_str()
                    .unwrap()
                    .contains("has no AVALU column")),
        "{beside}"
    );
    let out = f.root.join("an");
    ancilla_ok(&[
        "analyze",
        f.root.join("out/table.csv").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("From link (kept out, and warnings on the table's data):")
            && summary.contains("has no AVALU column: AVAL is taken as months"),
        "{summary}"
    );
    // Past 20 years it is refused, with or without a unit
    // (days read as months made a median PFS of 555 "months").
    for adtte in [
        no_column.replace(",200,", ",365.25,"),
        ADTTE.replace("365.25,DAYS", "365.25,MONTHS"),
    ] {
        let f = fixture(ADSL, &adtte, PATH, FEATS);
        let o = link(&f, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("row 4 column AVAL: AVAL 365.25")
                && err.contains("is 365 months, over 20 years from the start: is AVAL in days?"),
            "{err}"
        );
    }
    // One empty cell: its row is named; a plausible time gets no question.
    let one_blank = ADTTE.replace("A1,OS,o,30,MONTHS,1", "A1,OS,o,30,,1");
    let f = fixture(ADSL, &one_blank, PATH, FEATS);
    let err = link_ok(&f, &[]);
    assert!(
        err.contains("adtte.csv has no AVALU in 1 row (3): AVAL is taken as months;"),
        "{err}"
    );
    assert!(!err.contains("are these days"), "{err}");
    // Every unit given: nothing said.
    assert!(!link_ok(&fixture(ADSL, ADTTE, PATH, FEATS), &[]).contains("AVALU"));
}

/// AVAL that is not a finite number is called so (NaN was "negative"), and a time that is
/// finite only before its unit's conversion is refused (1e308 years was written as "inf",
/// which `analyze` then refused).
#[test]
fn aval_not_finite_before_or_after_conversion() {
    for (aval, said) in [
        ("NaN", "AVAL \"NaN\" is not a finite number"),
        ("inf", "AVAL \"inf\" is not a finite number"),
    ] {
        let adtte = ADTTE.replace("A1,PFS,p,12.5,", &format!("A1,PFS,p,{aval},"));
        let err = error_of(ADSL, &adtte, PATH, FEATS);
        assert!(
            err.contains(&format!("adtte.csv row 2 column AVAL: {said}")),
            "{err}"
        );
    }
    let adtte = ADTTE.replace("A1,PFS,p,12.5,MONTHS", "A1,PFS,p,1e308,YEARS");
    let err = error_of(ADSL, &adtte, PATH, FEATS);
    assert!(
        err.contains("row 2 column AVAL: AVAL 1e308 YEARS is too large to be a time"),
        "{err}"
    );
}

/// A feature value is a finite number or missing. Text or an infinity in one cell made its
/// whole column text, and `analyze` dropped the feature without a word; NaN (as pandas and
/// polars write a missing value) was copied as "NaN" into the CSV and as NaN into the Parquet.
#[test]
fn feature_values_are_finite_numbers_or_missing() {
    for bad in ["abc", "inf", "-Infinity"] {
        let feats = FEATS.replace(
            "A2,pt,,suvbw,tumor,stat_max,4.25",
            &format!("A2,pt,,suvbw,tumor,stat_max,{bad}"),
        );
        let err = error_of(ADSL, ADTTE, PATH, &feats);
        assert!(
            err.contains(&format!(
                "features.csv row 3 column value: {bad:?} (A2 pt_tumor_stat_max) is not a finite number"
            )),
            "{err}"
        );
    }
    let feats = FEATS.replace(
        "A2,pt,,suvbw,tumor,stat_max,4.25",
        "A2,pt,,suvbw,tumor,stat_max,NaN",
    );
    let f = fixture(ADSL, ADTTE, PATH, &feats);
    link_ok(&f, &[]);
    let csv = TextTable::read(&f.root.join("out/table.csv")).unwrap();
    let pq = TextTable::read(&f.root.join("out/table.parquet")).unwrap();
    assert_eq!(cell(&csv, 1, "pt_tumor_stat_max"), "");
    assert_eq!(cell(&pq, 1, "pt_tumor_stat_max"), "", "null in the Parquet");
    assert_eq!(cell(&csv, 0, "pt_tumor_stat_max"), "9.5");
}

/// Regression (robustness audit): a table of 100,000 columns took minutes (every column compared
/// with all before it for a repeated name: 160 s); a table with a line of gigabytes, or
/// `/dev/zero` given as a table, key or config, was read until an allocation failed and aborted
/// the process (exit 134). The wide table links at once; the others are refused, naming the file.
#[test]
fn wide_tables_link_and_endless_lines_are_refused() {
    let header = PATH.lines().next().unwrap();
    let extra: String = (0..100_000).map(|k| format!(",C{k}")).collect();
    let commas = ",".repeat(100_000);
    let wide: String = PATH
        .lines()
        .enumerate()
        .map(|(r, l)| {
            if r == 0 {
                format!("{header}{extra}\n")
            } else {
                format!("{l}{commas}\n")
            }
        })
        .collect();
    let reference = {
        let f = fixture(ADSL, ADTTE, PATH, FEATS);
        link_ok(&f, &[]);
        std::fs::read(f.root.join("out/table.csv")).unwrap()
    };
    let f = fixture(ADSL, ADTTE, &wide, FEATS);
    link_ok(&f, &[]);
    assert_eq!(
        std::fs::read(f.root.join("out/table.csv")).unwrap(),
        reference
    );
    // A cell of 17 MiB: its line is beyond any table's.
    let long = PATH.replacen("ccRCC", &"x".repeat(17 << 20), 1);
    let o = link(&fixture(ADSL, ADTTE, &long, FEATS), &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("path.csv: after line 1: a line of more than 16 MiB"),
        "{err}"
    );
    #[cfg(unix)]
    {
        let f = fixture(ADSL, ADTTE, PATH, FEATS);
        let p = |n: &str| f.root.join(n).to_str().unwrap().to_string();
        let o = ancilla(&[
            "link",
            "--features",
            "/dev/zero",
            "--subjects",
            &p("adsl.csv"),
            "--tte",
            &p("adtte.csv"),
            "--pathology",
            &p("path.csv"),
            "--out",
            &p("out/t.csv"),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.code() == Some(2) && err.contains("/dev/zero: a line of more than 16 MiB"),
            "{err}"
        );
        let o = ancilla(&["analyze", "/dev/zero", "--out", &p("a")]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.code() == Some(2) && err.contains("a line of more than"),
            "{err}"
        );
        let o = ancilla(&["run", "/dev/zero"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.code() == Some(2) && err.contains("a pipeline config is a few kB"),
            "{err}"
        );
        let o = ancilla(&[
            "deid",
            &p("out"),
            "--out",
            &p("d"),
            "--key",
            "/dev/zero",
            "--subjects",
            &p("adsl.csv"),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("a key is 32 to a few hundred bytes"),
            "{err}"
        );
    }
}

/// Tables as Excel saves them: formatted empty rows (`,,,,`) and a line of spaces after the
/// data are no rows (they were "USUBJID  is not in ADSL" or a parser error); a blank row
/// inside is named as such; a column named twice is refused (the first was silently used);
/// "Unicode text" (UTF-16 with its byte order mark) reads as UTF-8 does.
#[test]
fn excel_blank_rows_repeated_columns_and_utf16() {
    let reference = {
        let f = fixture(ADSL, ADTTE, PATH, FEATS);
        link_ok(&f, &[]);
        std::fs::read(f.root.join("out/table.csv")).unwrap()
    };
    let trailing = format!("{ADTTE},,,,,,,,\r\n,,,,,,,,\r\n   \r\n");
    let path_trailing = format!("{PATH},,,,,,,,,\n");
    let f = fixture(ADSL, &trailing, &path_trailing, FEATS);
    link_ok(&f, &[]);
    assert_eq!(
        std::fs::read(f.root.join("out/table.csv")).unwrap(),
        reference
    );
    // Inside the table: named by its row, as a blank row.
    let inside = ADTTE.replacen("A1,OS,", ",,,,,,,,\nA1,OS,", 1);
    let err = error_of(ADSL, &inside, PATH, FEATS);
    assert!(
        err.contains("adtte.csv row 3 column USUBJID: empty USUBJID (a blank row?)"),
        "{err}"
    );
    // A row cut short is still an error, with its row.
    let short = ADTTE.replacen("A1,OS,o,30,MONTHS,1,,,", "A1,OS,o,30", 1);
    let o = link(&fixture(ADSL, &short, PATH, FEATS), &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("row 3: 4 fields, but the header has 9"),
        "{err}"
    );
    // A column named twice.
    let twice = ADTTE.replacen("EVNTDESC", "cnsr", 1);
    let o = link(&fixture(ADSL, &twice, PATH, FEATS), &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("column \"cnsr\" appears twice (columns 6 and 9); name each column once"),
        "{err}"
    );
    // UTF-16, little- and big-endian, with tabs as Excel writes "Unicode text".
    for big_endian in [false, true] {
        let f = fixture(ADSL, ADTTE, PATH, FEATS);
        let text = ADSL.replace(',', "\t").replace('\n', "\r\n");
        let mut bytes: Vec<u8> = if big_endian {
            vec![0xFE, 0xFF]
        } else {
            vec![0xFF, 0xFE]
        };
        for unit in text.encode_utf16() {
            bytes.extend(if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        std::fs::write(f.root.join("adsl.csv"), bytes).unwrap();
        link_ok(&f, &[]);
        assert_eq!(
            std::fs::read(f.root.join("out/table.csv")).unwrap(),
            reference
        );
    }
}

/// YPT must be a renal (y)pT stage: "xyz" or Tis (no kidney category) said nothing about
/// response and left PCR empty with "0 warnings". A pathology table with neither YPT nor the
/// viable tumour % cannot give PCR at all, which is said.
#[test]
fn ypt_is_a_renal_stage_and_pcr_needs_a_source() {
    for bad in ["xyz", "ypTis"] {
        let path = PATH.replace("ypT1a", bad);
        let err = error_of(ADSL, ADTTE, &path, FEATS);
        assert!(
            err.contains(&format!(
                "path.csv row 2 column YPT: {bad:?} is not a renal (y)pT stage"
            )),
            "{err}"
        );
    }
    for fine in ["TX", "pT3b", "ypt2", ""] {
        link_ok(
            &fixture(ADSL, ADTTE, &PATH.replace("ypT1a", fine), FEATS),
            &[],
        );
    }
    let bare = "USUBJID,HISTOLOGY\nA1,ccRCC\nA2,ccRCC\n";
    let err = link_ok(&fixture(ADSL, ADTTE, bare, FEATS), &[]);
    assert!(
        err.contains("path.csv has neither VIABLE_TUMOR_PCT nor YPT: PCR (pathologic complete response) is empty for every subject"),
        "{err}"
    );
    // A table with no pathology column at all (ADSL given as the pathology) is refused: it ran
    // to the end with that one warning (a new user's audit).
    let err = error_of(ADSL, ADTTE, ADSL, FEATS);
    assert!(
        err.contains("path.csv has no pathology column (VIABLE_TUMOR_PCT, HISTOLOGY, ISUP")
            && err.contains("another table given as the pathology?"),
        "{err}"
    );
}

/// An arm-A subject without its PFS (or OS) record got empty endpoint columns with "0
/// warnings"; it is now named. Dates are checked also when no interval needs them, and a
/// nephrectomy before randomisation is said (by its day count, never its date).
#[test]
fn missing_endpoints_and_implausible_dates_are_said() {
    let adtte = ADTTE.replace("A2,PFS,p,365.25,DAYS,1,,,\n", "");
    let err = link_ok(&fixture(ADSL, &adtte, PATH, FEATS), &[]);
    assert!(
        err.contains("adtte.csv: no PFS record for 1 subject of arm A (A2): PFS_MONTHS and PFS_EVENT are empty"),
        "{err}"
    );
    assert!(!err.contains("no OS record"), "{err}");
    let adsl = ADSL.replace("2024-01-01,2024-02-01", "2024-01-01,garbage");
    let err = error_of(&adsl, ADTTE, PATH, FEATS);
    assert!(
        err.contains("adsl.csv row 2 column NEPHRDT: not a date"),
        "{err}"
    );
    let adsl = ADSL.replace("2024-01-01,2024-02-01", "2024-01-08,2024-01-01");
    let err = link_ok(&fixture(&adsl, ADTTE, PATH, FEATS), &[]);
    assert!(
        err.contains(
            "adsl.csv: A1: the nephrectomy (NEPHRDT) is 7 days before randomisation (RANDDT)"
        ),
        "{err}"
    );
    assert!(!err.contains("2024"), "{err}");
    // Randomised in year 1 (a date in the wrong century): the nephrectomy is 738,916 days after
    // it (Python: date(2024, 2, 1) − date(1, 1, 1)); a PET imaging day as far before it, the MR
    // on day 20 (the first day of the series used is checked too: a review). Both are said
    // (they passed without a word); no date is shown.
    let adsl = ADSL.replace("2024-01-01,2024-02-01", "0001-01-01,2024-02-01");
    let feats = FEATS
        .replace("A1,pt,,", "A1,pt,s1,")
        .replace("A2,pt,,", "A2,pt,s2,")
        .replace("A1,mr,,", "A1,mr,s3,");
    let f = fixture(&adsl, ADTTE, PATH, &feats);
    let imaging = f.root.join("imaging.csv");
    std::fs::write(
        &imaging,
        "USUBJID,SERIES_UID,IMAGING_DAY\nA1,s1,-738000\nA1,s3,20\nA2,s2,28\n",
    )
    .unwrap();
    let err = link_ok(&f, &["--imaging", imaging.to_str().unwrap()]);
    for what in [
        "imaging analysed on day -738000",
        "nephrectomy (NEPHRDT) on day 738916",
    ] {
        assert!(err.contains(&format!("adsl.csv: A1: {what}")), "{err}");
    }
    assert!(err.contains("from randomisation (RANDDT): more than five years from it"));
    assert!(!err.contains("A2: imaging") && !err.contains("2024") && !err.contains("0001"));
    // Imaging days without any nephrectomy date: the check against the nephrectomy is not made,
    // which is said (it was silent).
    let adsl = ADSL
        .replace(",NEPHRDT,", ",")
        .replace(",2024-02-01,", ",")
        .replace(",2024-02-02,", ",")
        .replace(",2024-01-03,,", ",2024-01-03,");
    let f = fixture(&adsl, ADTTE, PATH, FEATS);
    std::fs::write(
        f.root.join("imaging.csv"),
        "USUBJID,IMAGING_DAY\nA1,17\nA2,28\n",
    )
    .unwrap();
    let imaging = f.root.join("imaging.csv");
    let err = link_ok(&f, &["--imaging", imaging.to_str().unwrap()]);
    assert!(
        err.contains(
            "adsl.csv has no NEPHRDT column: DAYS_IMAGING_TO_NEPHRECTOMY is empty and imaging is \
             not checked against the nephrectomy (give NEPHRDT or --procedures)"
        ),
        "{err}"
    );
}

/// ADSL as Parquet the way the tools write it (test-data/parquet-clinical, written by pandas,
/// pyarrow and polars): dates typed as nanosecond or millisecond timestamps, and gzip or LZ4
/// compression, link as the CSV does (timestamps were "not a date", gzip and LZ4 "Disabled
/// feature at compile time"); polars' default zstd is refused saying what to write instead.
#[test]
fn parquet_tables_as_pandas_pyarrow_and_polars_write_them() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/parquet-clinical");
    let f = fixture(ADSL, ADTTE, PATH, FEATS);
    std::fs::write(
        f.root.join("imaging.csv"),
        "USUBJID,IMAGING_DAY\nA1,17\nA2,28\n",
    )
    .unwrap();
    let p = |n: &str| f.root.join(n).to_str().unwrap().to_string();
    let run = |adsl: &std::path::Path| {
        let out = f.root.join("out/table.csv");
        let _ = std::fs::remove_file(&out);
        let o = ancilla(&[
            "link",
            "--features",
            &p("features.csv"),
            "--subjects",
            adsl.to_str().unwrap(),
            "--tte",
            &p("adtte.csv"),
            "--pathology",
            &p("path.csv"),
            "--imaging",
            &p("imaging.csv"),
            "--out",
            out.to_str().unwrap(),
        ]);
        (o, std::fs::read(out).unwrap_or_default())
    };
    let (o, reference) = run(&f.root.join("adsl.csv"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t = TextTable::read(&f.root.join("out/table.csv")).unwrap();
    assert_eq!(cell(&t, 0, "DAYS_IMAGING_TO_NEPHRECTOMY"), "14");
    for name in [
        "adsl_pandas_ns_snappy.parquet",
        "adsl_gzip.parquet",
        "adsl_lz4.parquet",
        "adsl_ms_datetime.parquet",
        "adsl_tz_utc.parquet",
    ] {
        let (o, table) = run(&dir.join(name));
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(table, reference, "{name}");
        // The dates themselves (a shift of both would leave the intervals as they were).
        let adsl = TextTable::read(&dir.join(name)).unwrap();
        assert_eq!(
            cell(&adsl, 0, "RANDDT").get(..10),
            Some("2024-01-01"),
            "{name}"
        );
        assert_eq!(cell(&adsl, 1, "NEPHRDT"), "2024-02-02", "{name}");
        assert_eq!(cell(&adsl, 2, "NEPHRDT"), "", "{name}");
    }
    // Local midnight in Paris is 23:00 UTC the day before: refused, not read a day early.
    let (o, _) = run(&dir.join("adsl_tz_paris.parquet"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "row 2 column RANDDT: a time-zone-aware timestamp that is not at UTC midnight"
        ),
        "{err}"
    );
    assert!(!err.contains("2023-12-31"), "{err}");
    let (o, _) = run(&dir.join("adsl_polars_zstd.parquet"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "the file is compressed with zstd (polars' default), which ancilla does not read"
        ),
        "{err}"
    );
}

/// Rows are named by their line, as an editor shows them: a blank line (which the CSV reader
/// skips) or a quoted cell over two lines made every later row number too low.
#[test]
fn rows_are_named_by_their_line_after_blank_lines_and_multi_line_cells() {
    let adtte = "USUBJID,PARAMCD,PARAM,AVAL,AVALU,CNSR,STARTDT,ADT,EVNTDESC\n\
                 A1,PFS,p,12.5,MONTHS,0,,,\n\
                 \n\
                 A1,OS,o,30,MONTHS,1,,,\"died,\nat home\"\n\
                 A2,PFS,p,x,DAYS,1,,,\n\
                 A2,OS,o,24,MONTHS,2,,,\n";
    let err = error_of(ADSL, adtte, PATH, FEATS);
    assert!(
        err.contains("adtte.csv row 6 column AVAL: AVAL \"x\" is not a number"),
        "{err}"
    );
    // A row cut short, after them: its line too.
    let short = adtte
        .replace("A2,PFS,p,x,DAYS,1,,,", "A2,PFS,p,365.25,DAYS,1,,,")
        .replace("A2,OS,o,24,MONTHS,2,,,", "A2,OS,o");
    let o = link(&fixture(ADSL, &short, PATH, FEATS), &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("row 7: 3 fields, but the header has 9"),
        "{err}"
    );
}

/// An arm code shows as it is, but a cell that only looks like one (an upper-case surname, of
/// one subject, in a shifted ARMCD column) is quoted, so that run's outputs leave it out.
#[test]
fn an_arm_cell_that_is_no_code_is_quoted() {
    let f = fixture(
        &ADSL.replace(",Cont,B,", ",Cont,OKONKWO,"),
        ADTTE,
        PATH,
        FEATS,
    );
    let err = link_ok(&f, &[]);
    assert!(
        err.contains("B1: arm \"OKONKWO\" subject with imaging, kept out"),
        "{err}"
    );
    let f = fixture(ADSL, ADTTE, PATH, FEATS);
    assert!(link_ok(&f, &[]).contains("B1: arm B subject with imaging, kept out"));
}
