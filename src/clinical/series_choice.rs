//! Which of a subject's imaging series the analysis uses, image by image (modality and kind:
//! `pt suvbw`, `mr t2`, ...). The ancillary study images arm A before the nephrectomy, but a
//! site's export holds what its archive holds for the patient: a follow-up scan after surgery, an
//! earlier baseline, a second reconstruction of the same acquisition. One value per feature and
//! subject must come from one series, chosen by a stated rule, never by table order:
//!
//! 1. series the user kept out (`exclude_series`) are not used;
//! 2. series imaged after the nephrectomy are not pre-operative, and are not used;
//! 3. of the rest, the latest imaging day is used (the pre-operative imaging, after any earlier
//!    baseline);
//! 4. of two or more series of that day (a coronal beside an axial T2, two reconstructions of a
//!    PET), the one the mask was drawn on (its voxels are the series' own, where it is resampled
//!    onto the others) is used;
//! 5. anything else (two such series, or a series without a date beside another) is ambiguous:
//!    none is used, and the warning names them so that one can be kept out.
//!
//! Messages name subjects by USUBJID and series by their de-identified UIDs (as in the feature
//! table), and intervals in days: never a date.

use std::collections::{BTreeMap, BTreeSet};

/// What the rule made of one subject's series of one image.
#[derive(Debug, Default, PartialEq)]
pub struct Choice {
    /// The series whose features are used, if any.
    pub used: Option<String>,
    /// Series kept out of the analysis, with why (rejected inputs).
    pub kept_out: Vec<String>,
    /// Series not used by the rule, and ambiguities (warnings).
    pub warnings: Vec<String>,
}

/// What the imaging table says of a series.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SeriesFacts {
    /// Its imaging day (on the scale of the nephrectomy day given to [`choose`]).
    pub day: Option<i64>,
    /// Whether it was measured with the mask on its own grid (`Some(false)`: resampled).
    pub mask_on_grid: Option<bool>,
}

/// Choose among `series` (the de-identified series UIDs with features of `image` for `subject`).
/// `facts` gives what is known of a series (its day on the scale of `nephrectomy`, the subject's
/// nephrectomy day when known); `excluded` are the series the user keeps out.
pub fn choose(
    subject: &str,
    image: &str,
    series: &BTreeSet<String>,
    facts: &dyn Fn(&str) -> SeriesFacts,
    nephrectomy: Option<i64>,
    excluded: &BTreeSet<String>,
) -> Choice {
    let mut choice = Choice::default();
    let mut left: Vec<(&str, Option<i64>)> = Vec::new();
    for s in series {
        let d = facts(s).day;
        if excluded.contains(s) {
            choice.kept_out.push(format!(
                "{subject}: {image} series {} kept out of the analysis (exclude_series)",
                shown(s)
            ));
        } else if let (Some(d), Some(n)) = (d, nephrectomy) {
            if d > n {
                choice.kept_out.push(format!(
                    "{subject}: {image} series {} imaged {} after the nephrectomy \
                     (NEPHRDT): not pre-operative, kept out of the analysis",
                    shown(s),
                    crate::plural::count((d - n) as usize, "day")
                ));
            } else {
                left.push((s, Some(d)));
            }
        } else {
            left.push((s, d));
        }
    }
    match left.as_slice() {
        [] => {}
        [(s, _)] => choice.used = Some(s.to_string()),
        _ => {
            let latest = left.iter().filter_map(|&(_, d)| d).max();
            let undated = left.iter().filter(|(_, d)| d.is_none()).count();
            let at_latest: Vec<&str> = left
                .iter()
                .filter(|&&(_, d)| d.is_some() && d == latest)
                .map(|&(s, _)| s)
                .collect();
            let on_grid: Vec<&str> = at_latest
                .iter()
                .copied()
                .filter(|s| facts(s).mask_on_grid == Some(true))
                .collect();
            let used = match (at_latest.as_slice(), on_grid.as_slice()) {
                _ if undated > 0 => None,
                ([one], _) | (_, [one]) => Some(*one),
                _ => None,
            };
            if let Some(used) = used {
                choice.used = Some(used.to_string());
                for &(s, d) in left.iter().filter(|&&(s, _)| s != used) {
                    if d == latest {
                        choice.warnings.push(format!(
                            "{subject}: {image} series {} of the same day is not used: the mask \
                             was drawn on series {} (resampled onto this one)",
                            shown(s),
                            shown(used)
                        ));
                        continue;
                    }
                    choice.warnings.push(format!(
                        "{subject}: {image} series {} imaged {} before series {} is not \
                         used (the latest pre-operative imaging is analysed)",
                        shown(s),
                        crate::plural::count(
                            (latest.unwrap_or_default() - d.unwrap_or_default()) as usize,
                            "day"
                        ),
                        shown(used)
                    ));
                }
            } else {
                // The series in question: the latest day's (an earlier one is not, whatever
                // they are), or all of them when one has no date.
                let tied: Vec<&str> = if undated > 0 {
                    left.iter().map(|&(s, _)| s).collect()
                } else {
                    at_latest.clone()
                };
                let names: Vec<String> = tied.iter().map(|s| shown(s)).collect();
                let resampled = |s: &&str| facts(s).mask_on_grid == Some(false);
                let why = if undated > 0 {
                    "not all of them have an imaging date"
                } else if on_grid.len() > 1 {
                    "of the same day, the mask on the grid of each"
                } else if tied.iter().all(resampled) {
                    "of the same day, the mask resampled onto each"
                } else {
                    "of the same day"
                };
                choice.warnings.push(format!(
                    "{subject}: {image} features left empty: {} series ({}), {why}, and which \
                     to analyse is not known; keep the others out with exclude_series \
                     ([clinical] of a pipeline, or link --exclude-series)",
                    tied.len(),
                    names.join(", ")
                ));
            }
        }
    }
    choice
}

/// A series as messages name it: its UID, or "(no UID)" for a feature table without one.
fn shown(series: &str) -> String {
    if series.is_empty() {
        "(no UID)".to_string()
    } else {
        series.to_string()
    }
}

/// The features of one subject: (modality, image) → series UID → feature column → value.
pub type SubjectSeries = BTreeMap<(String, String), BTreeMap<String, BTreeMap<String, String>>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &[&str]) -> BTreeSet<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    fn days(pairs: &'static [(&'static str, i64)]) -> impl Fn(&str) -> SeriesFacts {
        move |s| SeriesFacts {
            day: pairs.iter().find(|(k, _)| *k == s).map(|&(_, d)| d),
            mask_on_grid: None,
        }
    }

    #[test]
    fn one_series_is_used_as_it_is() {
        let none = |_: &str| SeriesFacts::default();
        let c = choose("A1", "pt suvbw", &set(&["1.2"]), &none, None, &set(&[]));
        assert_eq!(c.used.as_deref(), Some("1.2"));
        assert!(c.kept_out.is_empty() && c.warnings.is_empty());
    }

    #[test]
    fn after_the_nephrectomy_is_kept_out_and_the_latest_before_it_is_used() {
        // Baseline on day 80, pre-operative on day 100, nephrectomy on day 105, follow-up on 260.
        let day = days(&[("base", 80), ("preop", 100), ("follow", 260)]);
        let c = choose(
            "A1",
            "pt suvbw",
            &set(&["base", "preop", "follow"]),
            &day,
            Some(105),
            &set(&[]),
        );
        assert_eq!(c.used.as_deref(), Some("preop"));
        assert_eq!(c.kept_out.len(), 1);
        assert!(c.kept_out[0].contains("series follow imaged 155 days after the nephrectomy"));
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("series base imaged 20 days before series preop"));
        // Imaging on the day of the nephrectomy is pre-operative.
        let c = choose(
            "A1",
            "pt suvbw",
            &set(&["preop"]),
            &day,
            Some(100),
            &set(&[]),
        );
        assert_eq!(c.used.as_deref(), Some("preop"));
    }

    #[test]
    fn two_series_of_one_day_are_ambiguous_until_one_is_kept_out() {
        let day = days(&[("recon1", 100), ("recon2", 100)]);
        let both = set(&["recon1", "recon2"]);
        let c = choose("A1", "pt suvbw", &both, &day, Some(105), &set(&[]));
        assert_eq!(c.used, None);
        assert!(c.warnings[0].contains("2 series (recon1, recon2), of the same day, and which"));
        let c = choose("A1", "pt suvbw", &both, &day, Some(105), &set(&["recon2"]));
        assert_eq!(c.used.as_deref(), Some("recon1"));
        assert!(c.kept_out[0].contains("series recon2 kept out of the analysis"));
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn of_one_day_the_series_the_mask_was_drawn_on_is_used() {
        // An axial T2 (the mask's grid) and a coronal one (the mask resampled), one day.
        let facts = |s: &str| SeriesFacts {
            day: Some(100),
            mask_on_grid: Some(s == "axial"),
        };
        let both = set(&["axial", "coronal"]);
        let c = choose("A1", "mr t2", &both, &facts, Some(105), &set(&[]));
        assert_eq!(c.used.as_deref(), Some("axial"));
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("series coronal of the same day is not used: the mask"));
        // Two on the mask's grid (two reconstructions on one matrix): ambiguous.
        let facts = |_: &str| SeriesFacts {
            day: Some(100),
            mask_on_grid: Some(true),
        };
        let c = choose("A1", "pt suvbw", &both, &facts, Some(105), &set(&[]));
        assert_eq!(c.used, None);
        assert!(c.warnings[0].contains("the mask on the grid of each"));
        // An earlier baseline beside them is not named among the tied series.
        let facts = |s: &str| SeriesFacts {
            day: Some(if s == "base" { 50 } else { 100 }),
            mask_on_grid: None,
        };
        let three = set(&["axial", "base", "coronal"]);
        let c = choose("A1", "pt suvbw", &three, &facts, Some(105), &set(&[]));
        assert_eq!(c.used, None);
        assert!(
            c.warnings[0].contains("2 series (axial, coronal), of the same day, and which"),
            "{:?}",
            c.warnings
        );
        // The latest day first: an earlier series on the mask's grid is not preferred.
        let facts = |s: &str| SeriesFacts {
            day: Some(if s == "axial" { 90 } else { 100 }),
            mask_on_grid: Some(s == "axial"),
        };
        let c = choose("A1", "mr t2", &both, &facts, Some(105), &set(&[]));
        assert_eq!(c.used.as_deref(), Some("coronal"));
    }

    #[test]
    fn an_undated_series_beside_another_is_ambiguous() {
        let day = days(&[("dated", 100)]);
        let c = choose("A1", "mr t2", &set(&["dated", "x"]), &day, None, &set(&[]));
        assert_eq!(c.used, None);
        assert!(c.warnings[0].contains("not all of them have an imaging date"));
        let none = |_: &str| SeriesFacts::default();
        let c = choose("A1", "mr t2", &set(&["a", "b"]), &none, None, &set(&[]));
        assert_eq!(c.used, None);
    }

    #[test]
    fn nothing_is_used_when_every_series_is_after_the_nephrectomy() {
        let day = days(&[("follow", 130)]);
        let c = choose(
            "A1",
            "mr adc",
            &set(&["follow"]),
            &day,
            Some(100),
            &set(&[]),
        );
        assert_eq!(c.used, None);
        assert!(c.kept_out[0].contains("30 days after"));
    }
}
