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

/// A shard specification that is not `I/N` with 1 ≤ I ≤ N.
#[derive(Debug, thiserror::Error)]
#[error("expected I/N with 1 ≤ I ≤ N, found {0:?}")]
pub struct ShardError(pub String);

impl Shard {
    /// Parse `I/N`.
    pub fn parse(s: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError(s.to_string());
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

    /// The shard of a Slurm array task: `SLURM_ARRAY_TASK_ID` (0-based, as `--array=0-(N-1)`
    /// gives it) and `SLURM_ARRAY_TASK_COUNT`. `None` outside an array job.
    pub fn from_slurm(
        task_id: Option<&str>,
        task_count: Option<&str>,
    ) -> Option<Result<Shard, ShardError>> {
        let (id, n) = (task_id?, task_count?);
        let parsed = id.trim().parse::<usize>().ok().map(|i| i + 1);
        Some(match parsed {
            Some(i) => Shard::parse(&format!("{i}/{}", n.trim())),
            None => Err(ShardError(format!("SLURM_ARRAY_TASK_ID={id}"))),
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
        let s = Shard::from_slurm(Some("0"), Some("4")).unwrap().unwrap();
        assert_eq!(s, Shard { index: 1, count: 4 });
        assert!(Shard::from_slurm(Some("4"), Some("4")).unwrap().is_err());
        assert!(Shard::from_slurm(None, Some("4")).is_none());
        assert!(Shard::from_slurm(Some("x"), Some("4")).unwrap().is_err());
    }
}
