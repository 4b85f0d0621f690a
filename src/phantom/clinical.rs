//! The phantom's clinical tables in CDISC ADaM style: subject map (site patient_id → USUBJID),
//! ADSL, ADTTE (PFS and OS in months, CNSR 0 = event) and pathology. The planted relation:
//! log hazard of progression = 0.15 × (tumour SUVbw − 10), from the nephrectomy on in arm A,
//! baseline median PFS 20 months, administrative censoring uniform over 12–36 months; viable
//! tumour % rises with tumour SUV.

use std::path::Path;

use super::rng::Rng;
use super::{PhantomError, Subject};

/// Days per month used to turn AVAL months into calendar dates (365.25 / 12).
const DAYS_PER_MONTH: f64 = 30.4375;

fn csv(rows: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        let _ = w.write_record(r);
    }
    w.into_inner().unwrap_or_default()
}

fn write(dir: &Path, name: &str, rows: &[Vec<String>]) -> Result<(), PhantomError> {
    let p = dir.join(name);
    crate::atomic::write_bytes(&p, &csv(rows))
        .map_err(|source| PhantomError::Io { path: p, source })
}

/// Write subject_map.csv, adsl.csv, adtte.csv and pathology.csv; returns the file count.
pub fn write_tables(
    dir: &Path,
    imaged: &[Subject],
    clinical_only: &[Subject],
    seed: u64,
) -> Result<usize, PhantomError> {
    let mut map = vec![vec!["patient_id".to_string(), "usubjid".to_string()]];
    for s in imaged {
        map.push(vec![s.id.patient_id.clone(), s.usubjid.clone()]);
    }
    let mut adsl = vec![[
        "STUDYID", "USUBJID", "SITEID", "ARM", "ARMCD", "RANDDT", "NEPHRDT", "AGE", "SEX",
    ]
    .map(String::from)
    .to_vec()];
    let mut adtte = vec![[
        "USUBJID", "PARAMCD", "PARAM", "AVAL", "AVALU", "CNSR", "STARTDT", "ADT", "EVNTDESC",
    ]
    .map(String::from)
    .to_vec()];
    let mut path = vec![[
        "USUBJID",
        "HISTOLOGY",
        "ISUP",
        "YPT",
        "YPN",
        "VIABLE_TUMOR_PCT",
        "NECROSIS_PCT",
        "SARCOMATOID",
        "RHABDOID",
        "MARGIN",
    ]
    .map(String::from)
    .to_vec()];
    // Clinical-only subjects are numbered from 9000 (from the first thousand above the imaged
    // subjects' numbers in a cohort that reaches 9000), so their USUBJIDs never meet an imaged
    // subject's.
    let first_clinical_only = (imaged.len() + 1).next_multiple_of(1000).max(9000);
    let subjects = imaged.iter().map(|s| (s, None)).chain(
        clinical_only
            .iter()
            .enumerate()
            .map(|(i, s)| (s, Some(first_clinical_only + i))),
    );
    for (s, clinical_only_number) in subjects {
        let mut rng = Rng::new(seed, 5000 + s.index as u64);
        let arm_a = s.armcd == "A";
        let arm = if arm_a {
            "Delayed nephrectomy, stop ICI"
        } else {
            "Continue ICI"
        };
        let usubjid = match clinical_only_number {
            Some(number) => format!("ANC-{:02}-{number:04}", super::site_of(s.index)),
            None => s.usubjid.clone(),
        };
        adsl.push(vec![
            "ANCILLA-RCC".into(),
            usubjid.clone(),
            format!("{:02}", super::site_of(s.index)),
            arm.into(),
            s.armcd.into(),
            s.rand_date.to_iso(),
            if arm_a {
                s.neph_date.to_iso()
            } else {
                String::new()
            },
            s.age.to_string(),
            s.sex.into(),
        ]);
        // Planted relation through the tumour's true SUV (clinical-only subjects: baseline).
        let suv = if clinical_only_number.is_none() {
            s.suv_ideal[1]
        } else {
            10.0
        };
        let rate = 2f64.ln() / 20.0 * (0.15 * (suv - 10.0)).exp();
        // The trial randomises patients whose disease responded: progression is drawn from the
        // nephrectomy on (the pre-operative imaging, the surgery and every event then in the
        // order a real record has them; a draw from randomisation gave a progression before the
        // imaging analysed, and a death before the surgery).
        let operated = if arm_a {
            (s.neph_date.days() - s.rand_date.days()) as f64 / DAYS_PER_MONTH
        } else {
            0.0
        };
        let t_event = operated - rng.uniform().max(1e-12).ln() / rate;
        let t_censor = rng.range(12.0, 36.0);
        let (pfs, pfs_event) = if t_event <= t_censor {
            (t_event, true)
        } else {
            (t_censor, false)
        };
        let t_death = pfs + (-rng.uniform().max(1e-12).ln()) * 18.0;
        let os_censor = t_censor + 6.0;
        let (os, os_event) = if t_death <= os_censor {
            (t_death, true)
        } else {
            (os_censor, false)
        };
        for (code, name, aval, event, desc) in [
            (
                "PFS",
                "Progression-free survival (months)",
                pfs,
                pfs_event,
                "Progression (RECIST 1.1)",
            ),
            ("OS", "Overall survival (months)", os, os_event, "Death"),
        ] {
            let aval = (aval * 100.0).round() / 100.0;
            adtte.push(vec![
                usubjid.clone(),
                code.into(),
                name.into(),
                format!("{aval:.2}"),
                "MONTHS".into(),
                if event { "0".into() } else { "1".into() },
                s.rand_date.to_iso(),
                s.rand_date
                    .add_days((aval * DAYS_PER_MONTH).round() as i64)
                    .to_iso(),
                if event {
                    desc.into()
                } else {
                    "Censored at last assessment".into()
                },
            ]);
        }
        if arm_a {
            let viable = ((suv - 5.0) * 4.0 + rng.normal() * 8.0)
                .clamp(0.0, 95.0)
                .round();
            let viable = if suv < 6.0 && rng.uniform() < 0.6 {
                0.0
            } else {
                viable
            };
            let necrosis = ((100.0 - viable) * rng.range(0.2, 0.7)).round();
            let ypt = if viable == 0.0 {
                "ypT0"
            } else {
                *rng.pick(&["ypT1a", "ypT1b", "ypT2a", "ypT3a"])
            };
            path.push(vec![
                usubjid.clone(),
                "Clear cell RCC".into(),
                if viable == 0.0 {
                    String::new()
                } else {
                    (1 + rng.below(4)).to_string()
                },
                ypt.into(),
                if rng.uniform() < 0.85 {
                    "ypN0".into()
                } else {
                    "ypNX".into()
                },
                format!("{viable}"),
                format!("{necrosis}"),
                if suv > 20.0 && rng.uniform() < 0.3 {
                    "Y".into()
                } else {
                    "N".into()
                },
                "N".into(),
                if rng.uniform() < 0.9 {
                    "R0".into()
                } else {
                    "R1".into()
                },
            ]);
        }
    }
    write(dir, "subject_map.csv", &map)?;
    write(dir, "adsl.csv", &adsl)?;
    write(dir, "adtte.csv", &adtte)?;
    write(dir, "pathology.csv", &path)?;
    Ok(4)
}
