//! What the per-subject stages (convert, features) computed for each subject, kept between runs
//! so that a rerun after subjects were added, removed or changed (a trial accruing, a site
//! re-exporting one patient) computes only those subjects: `.stamps/<stage>/<USUBJID>.json`,
//! each with the key of what it was computed from (the build, the stage's settings, the
//! subject's de-identified files). An entry is written (temporary file and rename) after the
//! subject's outputs are complete, so a killed run leaves none for a subject it did not finish.
//! The stamps folder is the pipeline's own state: never an output, never compared.

use std::path::{Path, PathBuf};

use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// One stage's per-subject entries.
pub struct SubjectCache {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Entry<T> {
    key: String,
    value: T,
}

impl SubjectCache {
    /// The entries of `stage` under the run's output folder `out`.
    pub fn new(out: &Path, stage: &str) -> Self {
        SubjectCache {
            dir: out.join(".stamps").join(stage),
        }
    }

    fn path(&self, subject: &str) -> PathBuf {
        self.dir.join(format!("{subject}.json"))
    }

    /// The value remembered for `subject`, when it was computed with `key`.
    pub fn get<T: DeserializeOwned>(&self, subject: &str, key: &str) -> Option<T> {
        let text = std::fs::read(self.path(subject)).ok()?;
        let entry: Entry<T> = serde_json::from_slice(&text).ok()?;
        (entry.key == key).then_some(entry.value)
    }

    /// Remember `value` for `subject`, computed with `key`. A cache that cannot be written costs
    /// the next run time, not a result: the error is the caller's to ignore.
    pub fn put<T: Serialize>(&self, subject: &str, key: &str, value: &T) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let entry = Entry {
            key: key.to_string(),
            value,
        };
        crate::atomic::write_json(&self.path(subject), &entry)
    }

    /// Forget `subject` (before its outputs are rewritten).
    pub fn forget(&self, subject: &str) {
        let _ = std::fs::remove_file(self.path(subject));
    }

    /// Forget every subject `keep` does not keep: a subject withdrawn from the release leaves
    /// nothing of its own here (its feature table stayed after its images were withdrawn).
    pub fn forget_all_but(&self, keep: impl Fn(&str) -> bool) {
        for e in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(subject) = name.strip_suffix(".json") {
                if !keep(subject) {
                    self.forget(subject);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_comes_back_only_under_its_key() {
        let d = tempfile::tempdir().expect("temp dir");
        let c = SubjectCache::new(d.path(), "features");
        assert_eq!(c.get::<String>("ANC-1", "k1"), None);
        c.put("ANC-1", "k1", &"rows".to_string()).expect("put");
        assert_eq!(c.get::<String>("ANC-1", "k1").as_deref(), Some("rows"));
        assert_eq!(c.get::<String>("ANC-1", "k2"), None);
        assert_eq!(c.get::<String>("ANC-2", "k1"), None);
        c.forget("ANC-1");
        assert_eq!(c.get::<String>("ANC-1", "k1"), None);
        // A withdrawn subject's entry goes; the others stay.
        c.put("ANC-1", "k1", &"rows".to_string()).expect("put");
        c.put("ANC-2", "k1", &"rows".to_string()).expect("put");
        c.forget_all_but(|s| s == "ANC-2");
        assert_eq!(c.get::<String>("ANC-1", "k1"), None);
        assert!(c.get::<String>("ANC-2", "k1").is_some());
    }
}
