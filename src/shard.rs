//! Scale-out: which subjects a shard `I/N` owns. The subjects (trial USUBJIDs) are sorted and
//! dealt round-robin, so every shard of one run agrees without talking to the others, shard sizes
//! differ by at most one, and N = number of subjects gives one subject per job (the Slurm array
//! layout). Files that belong to no subject of the map (not DICOM, unreadable, unknown subject)
//! are reported by shard 1 only, so a merge counts each of them once.

use std::collections::BTreeSet;

/// Shard `index` of `count` (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// A shard that cannot be run: `--shard` not `I/N` with 1 ≤ I ≤ N, or a Slurm array task that
/// is not one shard of N.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("--shard: expected I/N with 1 ≤ I ≤ N, found {0:?}")]
    Spec(String),
    /// The task's variables, and why they give no shard.
    #[error("Slurm array task ({0}): {1}")]
    Slurm(String, String),
}

impl Shard {
    /// This shard's own copy of a file every shard of a run would write (the site log, named
    /// once in the config): `deid-site-log.tsv` → `deid-site-log.shard-2-of-8.tsv`, so shards do
    /// not overwrite each other's.
    pub fn own_file(&self, path: &std::path::Path) -> std::path::PathBuf {
        let stem = path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        let name = match path.extension() {
            Some(ext) => format!(
                "{stem}.shard-{}-of-{}.{}",
                self.index,
                self.count,
                ext.to_string_lossy()
            ),
            None => format!("{stem}.shard-{}-of-{}", self.index, self.count),
        };
        path.with_file_name(name)
    }

    /// Parse `I/N`.
    pub fn parse(s: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError::Spec(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The shard of a Slurm array task, from the variables Slurm sets in every task of an array
    /// job: `SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_COUNT`, and the array's lowest index and
    /// step (`SLURM_ARRAY_TASK_MIN`, `SLURM_ARRAY_TASK_STEP`), so `--array=0-(N-1)`,
    /// `--array=1-N` and `--array=1-(2N-1):2` all give shards 1..N. Without the lowest index,
    /// the ID counts from 0. `None` outside an array job; an error when the task is not one of
    /// N evenly spaced indices (a list such as `--array=1,2,7`), or the one task of an array whose
    /// index is neither 0 nor 1: what a failed task of a larger array submitted again alone
    /// (`--array=3`) looks like, which as the one task of one would run every subject into that
    /// task's folder (`--shard I/N` says which shard it is).
    pub fn from_slurm(task: &SlurmArray) -> Option<Result<Shard, ShardError>> {
        // Slurm sets both in every array task: one alone is a hand-set environment, which would
        // have run every subject in each task (the merge then refuses the overlap).
        let (id, n) = match (task.id.as_deref(), task.count.as_deref()) {
            (None, None) => return None,
            (Some(id), Some(n)) => (id, n),
            (id, n) => {
                let (set, unset) = if id.is_some() {
                    ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT")
                } else {
                    ("SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_ID")
                };
                let value = id.or(n).unwrap_or_default();
                return Some(Err(ShardError::Slurm(
                    format!("{set}={value}"),
                    format!(
                        "{set} without {unset}: Slurm sets both in an array task; set both, or \
                         give the shard with --shard I/N"
                    ),
                )));
            }
        };
        let number = |v: Option<&str>, default: usize| match v {
            None => Some(default),
            Some(v) => v.trim().parse::<usize>().ok(),
        };
        for (name, v) in [
            ("ID", Some(id)),
            ("COUNT", Some(n)),
            ("MIN", task.min.as_deref()),
            ("STEP", task.step.as_deref()),
            ("MAX", task.max.as_deref()),
        ] {
            if let Some(v) = v.filter(|v| v.trim().parse::<usize>().is_err()) {
                return Some(Err(ShardError::Slurm(
                    format!("SLURM_ARRAY_TASK_{name}={v}"),
                    "not a whole number".into(),
                )));
            }
        }
        let (id_n, count, min, step) = (
            number(Some(id), 0),
            number(Some(n), 0),
            number(task.min.as_deref(), 0),
            number(task.step.as_deref(), 1),
        );
        let index = match (id_n, min, step) {
            // (Checked: an ID of 2^64 − 1 wrapped to shard 0, a finished shard of no subject.)
            (Some(i), Some(lo), Some(st)) if st > 0 && i >= lo && (i - lo) % st == 0 => {
                ((i - lo) / st).checked_add(1)
            }
            _ => None,
        };
        let described = || {
            let mut d = format!("SLURM_ARRAY_TASK_ID={id}, SLURM_ARRAY_TASK_COUNT={n}");
            for (name, v) in [("MIN", &task.min), ("STEP", &task.step), ("MAX", &task.max)] {
                if let Some(v) = v {
                    d.push_str(&format!(", SLURM_ARRAY_TASK_{name}={v}"));
                }
            }
            d
        };
        if count == Some(1) && id_n.is_some_and(|i| i > 1) {
            return Some(Err(ShardError::Slurm(
                described(),
                "a one-task array whose task is not 0 or 1, as a task of a larger array \
                 submitted again alone would be; as the only task it would run every subject. \
                 Give its shard with --shard I/N, or submit the whole array again (finished \
                 tasks are up to date)"
                    .into(),
            )));
        }
        let uneven = || {
            ShardError::Slurm(
                described(),
                "not one of N evenly spaced tasks (SLURM_ARRAY_TASK_MIN + k × STEP, k < COUNT)"
                    .into(),
            )
        };
        // The last index, where Slurm gives it, must be the COUNT-th: MIN + (COUNT − 1) × STEP.
        let max = number(task.max.as_deref(), usize::MAX);
        let last = match (min, step, count) {
            (Some(lo), Some(st), Some(c)) if c > 0 => {
                (c - 1).checked_mul(st).and_then(|x| x.checked_add(lo))
            }
            _ => None,
        };
        if task.max.is_some() && max != last {
            return Some(Err(ShardError::Slurm(
                described(),
                "SLURM_ARRAY_TASK_MAX is not the COUNT-th index (MIN + (COUNT − 1) × STEP)".into(),
            )));
        }
        Some(match (index, count) {
            (Some(index), Some(count)) if (1..=count).contains(&index) => {
                Ok(Shard { index, count })
            }
            _ => Err(uneven()),
        })
    }

    /// The whole job as one shard.
    pub fn whole() -> Shard {
        Shard { index: 1, count: 1 }
    }

    /// Whether this shard is the whole job.
    pub fn is_whole(&self) -> bool {
        self.count == 1
    }

    /// The subjects this shard owns, out of all of them (any order, duplicates ignored).
    pub fn subjects<'a, I>(&self, all: I) -> BTreeSet<String>
    where
        I: IntoIterator<Item = &'a String>,
    {
        let sorted: BTreeSet<&String> = all.into_iter().collect();
        sorted
            .into_iter()
            .enumerate()
            .filter(|(k, _)| k % self.count == self.index - 1)
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// Whether this shard reports the files that belong to no subject.
    pub fn reports_unattributed(&self) -> bool {
        self.index == 1
    }
}

/// The Slurm array variables of this process (`None` where unset).
#[derive(Debug, Clone, Default)]
pub struct SlurmArray {
    pub id: Option<String>,
    pub count: Option<String>,
    pub min: Option<String>,
    pub step: Option<String>,
    pub max: Option<String>,
}

impl SlurmArray {
    /// Read from the environment.
    pub fn from_env() -> SlurmArray {
        let var = |name: &str| std::env::var(format!("SLURM_ARRAY_TASK_{name}")).ok();
        SlurmArray {
            id: var("ID"),
            count: var("COUNT"),
            min: var("MIN"),
            step: var("STEP"),
            max: var("MAX"),
        }
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (1..=n).rev().map(|i| format!("ANC-01-{i:04}")).collect()
    }

    #[test]
    fn shards_partition_the_subjects_and_balance_them() {
        let all = ids(10);
        let mut union = BTreeSet::new();
        for i in 1..=3 {
            let s = Shard { index: i, count: 3 }.subjects(&all);
            assert!(s.len() == 3 || s.len() == 4, "{s:?}");
            assert!(union.is_disjoint(&s));
            union.extend(s);
        }
        assert_eq!(union, all.iter().cloned().collect());
        // Round-robin over the sorted IDs, whatever order they came in.
        let first = Shard { index: 1, count: 3 }.subjects(&all);
        assert!(first.contains("ANC-01-0001") && first.contains("ANC-01-0004"));
        // N = number of subjects: one each.
        for i in 1..=10 {
            assert_eq!(
                Shard {
                    index: i,
                    count: 10
                }
                .subjects(&all)
                .len(),
                1
            );
        }
        assert_eq!(Shard::whole().subjects(&all).len(), 10);
    }

    #[test]
    fn parse_and_slurm() {
        assert_eq!(Shard::parse("2/8").unwrap(), Shard { index: 2, count: 8 });
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let task = |id: &str, count: &str, min: Option<&str>, step: Option<&str>| SlurmArray {
            id: Some(id.into()),
            count: Some(count.into()),
            min: min.map(Into::into),
            step: step.map(Into::into),
            max: None,
        };
        let shard = |t: SlurmArray| Shard::from_slurm(&t).unwrap();
        let s = shard(task("0", "4", None, None)).unwrap();
        assert_eq!(s, Shard { index: 1, count: 4 });
        assert!(shard(task("4", "4", None, None)).is_err());
        assert!(Shard::from_slurm(&SlurmArray::default()).is_none());
        assert!(shard(task("x", "4", None, None)).is_err());
        // --array=0-3, --array=1-4 and --array=1-7:2 are each shards 1..4, in order.
        for (ids, min, step) in [
            (["0", "1", "2", "3"], "0", "1"),
            (["1", "2", "3", "4"], "1", "1"),
            (["1", "3", "5", "7"], "1", "2"),
        ] {
            for (k, id) in ids.iter().enumerate() {
                let s = shard(task(id, "4", Some(min), Some(step))).unwrap();
                assert_eq!(
                    s,
                    Shard {
                        index: k + 1,
                        count: 4
                    },
                    "{id} of {min}:{step}"
                );
            }
        }
        // Regression: --array=1-4 was read as 0-based, task 4 as shard 5/4 (refused) and shard
        // 1 never run.
        let last = shard(task("4", "4", Some("1"), None)).unwrap();
        assert_eq!(last, Shard { index: 4, count: 4 });
        // A one-task array: --array=0 and --array=1 are the whole job; --array=3 (a task of a
        // larger array resubmitted alone) is refused, naming --shard, not run on every subject.
        for id in ["0", "1"] {
            let s = shard(task(id, "1", Some(id), Some("1"))).unwrap();
            assert_eq!(s, Shard::whole());
        }
        let e = shard(task("3", "1", Some("3"), Some("1"))).unwrap_err();
        assert!(e.to_string().contains("--shard I/N"), "{e}");
        // Not evenly spaced (--array=1,2,7): refused, naming the variables.
        let e = shard(task("7", "3", Some("1"), Some("1"))).unwrap_err();
        assert!(e.to_string().contains("SLURM_ARRAY_TASK_MIN=1"), "{e}");
        assert!(shard(task("2", "3", Some("1"), Some("2"))).is_err());
        assert!(shard(task("0", "3", Some("1"), None)).is_err());
        // Regression (a core-lab audit): an ID of 2^64 − 1 wrapped to shard 0 of 4, a finished
        // shard of no subject, exit 0.
        let e = shard(task(&usize::MAX.to_string(), "4", Some("0"), None)).unwrap_err();
        assert!(
            e.to_string().contains("not one of N evenly spaced tasks"),
            "{e}"
        );
        // Regression: an ID without a COUNT (or a COUNT alone) ran every subject in each task,
        // exit 0; now refused, as a non-number is, by name.
        for (id, count, named) in [
            (
                Some("1"),
                None,
                "SLURM_ARRAY_TASK_ID without SLURM_ARRAY_TASK_COUNT",
            ),
            (
                None,
                Some("4"),
                "SLURM_ARRAY_TASK_COUNT without SLURM_ARRAY_TASK_ID",
            ),
        ] {
            let t = SlurmArray {
                id: id.map(Into::into),
                count: count.map(Into::into),
                ..SlurmArray::default()
            };
            let e = shard(t).unwrap_err().to_string();
            assert!(e.contains(named), "{e}");
        }
        let e = shard(task("abc", "4", None, None)).unwrap_err().to_string();
        assert!(
            e.contains("SLURM_ARRAY_TASK_ID=abc") && e.contains("not a whole number"),
            "{e}"
        );
        // MAX, where given, must be the COUNT-th index: --array=1-7:2 ends at 7, not 5.
        let with_max = |max: &str| SlurmArray {
            max: Some(max.into()),
            ..task("3", "4", Some("1"), Some("2"))
        };
        assert_eq!(shard(with_max("7")).unwrap(), Shard { index: 2, count: 4 });
        let e = shard(with_max("5")).unwrap_err().to_string();
        assert!(
            e.contains("SLURM_ARRAY_TASK_MAX is not the COUNT-th index"),
            "{e}"
        );
        // A COUNT whose last index overflows is refused, not an overflow (a panic in debug).
        let huge = SlurmArray {
            max: Some("7".into()),
            ..task("3", &usize::MAX.to_string(), Some("1"), Some("2"))
        };
        assert!(shard(huge).is_err());
    }
}
