//! A release folder as a whole (PS3.15 Annex E output): the key it was made with, named by a
//! public id, so that a second key is never added to it; and its files as a release lays them
//! out, so that a rerun can withdraw what it no longer releases and touch nothing else.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::DeidError;

/// The key id of the release already in `out` (its key-id file, else its report's), if any.
pub fn release_key_id(out: &Path) -> Option<String> {
    if let Ok(t) = std::fs::read_to_string(out.join(crate::atomic::KEY_ID_NAME)) {
        return Some(t.trim().to_string());
    }
    let report = std::fs::read(out.join("deid-report.json")).ok()?;
    let report: serde_json::Value = serde_json::from_slice(&report).ok()?;
    report["key_id"].as_str().map(str::to_string)
}

/// Name the release's key in `out` (before its first file is released). Returns the file.
pub fn mark_key(out: &Path, key_id: &str) -> std::io::Result<PathBuf> {
    let path = out.join(crate::atomic::KEY_ID_NAME);
    crate::atomic::write_bytes(&path, format!("{key_id}\n").as_bytes())?;
    Ok(path)
}

/// Whether `out` already holds a release, of key `ours`; refused when it holds another key's.
pub(super) fn earlier_release_of_key(out: &Path, ours: &str) -> Result<bool, DeidError> {
    match release_key_id(out) {
        Some(theirs) if theirs != ours => Err(DeidError::OtherKey {
            out: out.to_path_buf(),
            theirs,
            ours: ours.to_string(),
        }),
        found => Ok(found.is_some()),
    }
}

/// How this build of ancilla releases files under `options`: its version and commit and the
/// options, as a digest (the release marker's content).
pub(super) fn release_identity(options: &super::DeidOptionsSet) -> String {
    use sha2::Digest;
    let made = format!(
        "ancilla {} {} {options:?}",
        env!("CARGO_PKG_VERSION"),
        option_env!("ANCILLA_GIT_COMMIT").unwrap_or("unknown")
    );
    crate::hex::encode(&sha2::Sha256::digest(made.as_bytes()))
}

/// Whether the files already in `out` were released as `identity` says: the release marker
/// names it. A release made with other options (a stricter config after a first run) or by
/// another build (one with a de-identification defect fixed since), or one whose making was
/// cut short after the marker was taken away, is not: its files are made again. They had been
/// kept as "already done", with the attributes the new options remove.
pub(super) fn made_as(out: &Path, identity: &str) -> bool {
    made_identity(out).is_some_and(|t| t == identity)
}

/// What the release marker in `out` says, if there is one.
pub fn made_identity(out: &Path) -> Option<String> {
    std::fs::read_to_string(out.join(crate::atomic::RELEASE_MADE_NAME))
        .ok()
        .map(|t| t.trim().to_string())
}

/// Take the release marker away (before files are made again under another identity), so that
/// a run killed on the way leaves a release no later run keeps as done.
pub(super) fn unmark_made(out: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(out.join(crate::atomic::RELEASE_MADE_NAME)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Mark the release in `out` whole, made as `identity` says.
pub fn mark_made(out: &Path, identity: &str) -> std::io::Result<()> {
    crate::atomic::write_bytes(
        &out.join(crate::atomic::RELEASE_MADE_NAME),
        format!("{identity}\n").as_bytes(),
    )
}

/// 128 bits of the SHA-256 of an output path: how a claim names its destination.
pub(super) fn dest_id(dest: &Path) -> [u8; 16] {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(dest.as_os_str().as_encoded_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}

/// The files under `out` laid out as a release lays them out: `SUBJECT/2.25.STUDY/2.25.SERIES/
/// 2.25.SOP.dcm`, folders and files themselves (no link followed), of the subjects `in_scope`
/// accepts. Nothing else in the folder is ever taken for a released file.
fn released_files(out: &Path, in_scope: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    let entries = |dir: &Path, want_dir: bool| -> Vec<PathBuf> {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        rd.flatten()
            .filter(|e| {
                e.file_type()
                    .is_ok_and(|t| if want_dir { t.is_dir() } else { t.is_file() })
            })
            .map(|e| e.path())
            .collect()
    };
    let pseudonym = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("2.25."))
    };
    let mut files = Vec::new();
    let subject_in_scope = |p: &Path| p.file_name().and_then(|n| n.to_str()).is_some_and(in_scope);
    for subject in entries(out, true)
        .into_iter()
        .filter(|p| subject_in_scope(p))
    {
        for study in entries(&subject, true).into_iter().filter(|p| pseudonym(p)) {
            for series in entries(&study, true).into_iter().filter(|p| pseudonym(p)) {
                files.extend(
                    entries(&series, false)
                        .into_iter()
                        .filter(|p| pseudonym(p) && p.extension().is_some_and(|e| e == "dcm")),
                );
            }
        }
    }
    files
}

/// Remove the released files under `out` that `claimed` does not name (an earlier run's
/// release of an input that is gone or no longer released), then the folders left empty. Only
/// subjects `in_scope` accepts are looked at: a shard's run leaves the other shards' subjects
/// alone. Returns how many files were removed.
pub(super) fn withdraw_unclaimed(
    out: &Path,
    in_scope: &dyn Fn(&str) -> bool,
    claimed: impl Fn(&[u8; 16]) -> bool,
) -> usize {
    let mut removed = 0;
    let mut dirs = BTreeSet::new();
    for f in released_files(out, in_scope) {
        if claimed(&dest_id(&f)) {
            continue;
        }
        if std::fs::remove_file(&f).is_ok() {
            removed += 1;
            dirs.extend(
                f.ancestors()
                    .skip(1)
                    .take_while(|d| *d != out)
                    .map(Path::to_path_buf),
            );
        }
    }
    // Deepest first; a folder that still holds something stays.
    for d in dirs.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Withdrawal looks only at the subjects in scope: a shard's rerun into a folder that holds
    /// another shard's subjects leaves them (it withdrew every file it had not claimed).
    #[test]
    fn withdrawal_leaves_subjects_out_of_scope() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = |subject: &str| {
            let series = dir.path().join(subject).join("2.25.1").join("2.25.2");
            std::fs::create_dir_all(&series).expect("folders");
            let f = series.join("2.25.3.dcm");
            std::fs::write(&f, b"x").expect("file");
            f
        };
        let (mine, theirs) = (file("ANC-01"), file("ANC-02"));
        let removed = withdraw_unclaimed(dir.path(), &|s| s == "ANC-01", |_| false);
        assert_eq!(removed, 1);
        assert!(!mine.exists() && !dir.path().join("ANC-01").exists());
        assert!(theirs.exists());
    }
}
