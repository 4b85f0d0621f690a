//! A de-identification run's totals, folded from the outcomes of its input files: the summary,
//! the profile's actions, files per subject, the PHI-free list of files not released (numbered,
//! not named) and the site-side log (input paths, for the site only).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use super::{apply, DeidSummary, Outcome};

/// The run's totals, folded from the outcomes of its input files.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) summary: DeidSummary,
    pub(super) counts: BTreeMap<String, usize>,
    pub(super) per_subject: BTreeMap<String, usize>,
    pub(super) not_released: Vec<serde_json::Value>,
    pub(super) site_log: String,
    pub(super) files_seen: usize,
    /// Why each release that could not be written was not.
    pub(super) unwritten: Vec<String>,
    /// The input files not released because another file of their SOP instance was (by number):
    /// logged once the run has settled which file that is ([`super::settle_duplicates`]), as
    /// the race of the parallel run named the wrong ones, differently from run to run.
    pub(super) duplicates: BTreeMap<usize, std::path::PathBuf>,
    /// The series of the files that failed the PHI check, by input number: withheld whole once
    /// the run has settled its duplicates (a failing copy that won the race for a SOP instance's
    /// output is taken back, [`Tally::take_back_failure`]).
    pub(super) failed_series: BTreeMap<usize, super::Withheld>,
}

impl Tally {
    /// Fold the outcome of input file number `index`, at `path`.
    pub(super) fn add(&mut self, index: usize, path: &Path, o: Outcome) {
        if !matches!(o, Outcome::OtherShard) {
            self.files_seen += 1;
        }
        match o {
            Outcome::OtherShard => {}
            Outcome::Released { usubjid, counts } => {
                self.summary.released += 1;
                *self.per_subject.entry(usubjid).or_default() += 1;
                self.actions(&counts, true);
            }
            Outcome::AlreadyDone { usubjid, counts } => {
                self.summary.already_done += 1;
                *self.per_subject.entry(usubjid).or_default() += 1;
                self.actions(&counts, true);
            }
            Outcome::Duplicate => {
                self.summary.duplicates += 1;
                self.duplicates.insert(index, path.to_path_buf());
            }
            Outcome::NotReleased(reason) => {
                self.summary.not_released += 1;
                self.site_log
                    .push_str(&format!("{}\t{reason}\n", crate::path_text::shown(path)));
                self.not_released
                    .push(json!({"file": index + 1, "reason": reason}));
            }
            Outcome::Unwritten(reason) => {
                self.site_log.push_str(&format!(
                    "{}\tnot written: {reason}\n",
                    crate::path_text::shown(path)
                ));
                self.unwritten.push(reason);
            }
            Outcome::VerificationFailed(reason, series) => {
                self.summary.verification_failures += 1;
                self.failed_series.insert(index, series);
                self.site_log.push_str(&format!(
                    "{}\tfailed verification: {reason}\n",
                    crate::path_text::shown(path)
                ));
                self.not_released.push(json!({"file": index + 1, "reason": format!("failed the PHI check and was not released (deleted if written): {reason}")}));
            }
        }
    }

    /// Remove the released files of every series one of whose files failed the PHI check (this
    /// run's and an earlier run's releases alike): a series one file short looks whole at its
    /// ends. Said in the site log, by the release folder (pseudonyms only).
    pub(super) fn withhold_failed_series(&mut self, out: &Path) {
        let series: std::collections::BTreeSet<super::Withheld> =
            std::mem::take(&mut self.failed_series)
                .into_values()
                .collect();
        for series in series {
            let Ok(entries) = std::fs::read_dir(&series.folder) else {
                continue;
            };
            let mut removed = 0;
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "dcm") && std::fs::remove_file(&p).is_ok() {
                    removed += 1;
                }
            }
            let _ = std::fs::remove_dir(&series.folder);
            if removed == 0 {
                continue;
            }
            self.summary.withheld += removed;
            // They were counted released (by this run or an earlier one).
            let from_this_run = removed.min(self.summary.released);
            self.summary.released -= from_this_run;
            self.summary.already_done = self
                .summary
                .already_done
                .saturating_sub(removed - from_this_run);
            if let Some(n) = self.per_subject.get_mut(&series.usubjid) {
                *n = n.saturating_sub(removed);
            }
            let shown = series.folder.strip_prefix(out).unwrap_or(&series.folder);
            self.site_log.push_str(&format!(
                "<release>/{}\twithheld: {} of a series one of whose files failed the PHI \
                 check (a series one file short would look whole)\n",
                shown.display(),
                crate::plural::count(removed, "released file")
            ));
            self.not_released
                .push(json!({"file": null, "reason": format!(
                    "withheld: {} of a series one of whose files failed the PHI check",
                    crate::plural::count(removed, "released file")
                )}));
        }
    }

    /// Input file number `index` (at `path`) failed the PHI check as the first copy of its SOP
    /// instance to finish, but the first copy in input order is the one released: its failure is
    /// taken back (it is a duplicate, logged as one), so the release, the report and the exit
    /// status do not depend on which copy finished first.
    /// Whether there was one to take back.
    pub(super) fn take_back_failure(&mut self, index: usize, path: &Path) -> bool {
        if self.failed_series.remove(&index).is_none() {
            return false;
        }
        self.summary.verification_failures = self.summary.verification_failures.saturating_sub(1);
        self.not_released.retain(|v| {
            v["file"] != json!(index + 1)
                || !v["reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("failed the PHI check"))
        });
        let line = format!("{}\tfailed verification: ", crate::path_text::shown(path));
        self.site_log = std::mem::take(&mut self.site_log)
            .split_inclusive('\n')
            .filter(|l| !l.starts_with(&line))
            .collect();
        true
    }

    /// The duplicates into the site log, once settled.
    pub(super) fn log_duplicates(&mut self) {
        for path in std::mem::take(&mut self.duplicates).values() {
            self.site_log.push_str(&format!(
                "{}\tsame SOP instance as another input file: released once, from the first in \
                 input order\n",
                crate::path_text::shown(path)
            ));
        }
    }

    /// Add a released file's actions to the totals, or take them back.
    pub(super) fn actions(&mut self, counts: &apply::Counts, add: bool) {
        for (k, v) in counts.iter() {
            let c = self.counts.entry(k.to_string()).or_default();
            *c = if add { *c + v } else { c.saturating_sub(v) };
        }
    }
}
