//! Parallel directory walk: every regular file under the inputs, in a stable (sorted) order.
//! Directories are read in parallel with rayon; unreadable entries are reported, not skipped.
//! Symbolic links are followed, except a link to a folder that contains it (a loop), which is
//! reported once instead of being walked until the system's link limit, and a link into an
//! output folder this process is writing (`atomic::inside_a_held_folder`), reported too.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

/// Files found, and entries that could not be read (path, reason).
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Vec<PathBuf>,
    pub errors: Vec<(PathBuf, String)>,
}

/// Files of ancilla's own that are never inputs: temporary files of a run in progress (or
/// killed), an output folder's lock, and the de-identification report, key id and release
/// marker that sit beside the released files they describe (so a de-identified tree scans
/// clean).
fn is_our_temp(name: &str) -> bool {
    (name.starts_with('.') && name.contains(crate::atomic::TEMP_MARK))
        || name == crate::atomic::LOCK_NAME
        || name == crate::atomic::KEY_ID_NAME
        || name == crate::atomic::RELEASE_MADE_NAME
        || name == "deid-report.json"
}

/// Identity of a directory (device, inode) where the platform gives one.
fn dir_id(dir: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

/// The files under `dir`; `above` holds the identities of the folders it lies in (a link back to
/// one of them is a loop), `held` those of the output folders this process writes (reached below
/// the walk's root, through a link to a folder above one, they are not walked: a review found a
/// rerun reading its own outputs back that way).
fn walk_dir(dir: &Path, above: &[(u64, u64)], held: &[(u64, u64)]) -> Walk {
    let id = dir_id(dir);
    if !above.is_empty() && id.is_some_and(|id| held.contains(&id)) {
        return Walk {
            files: Vec::new(),
            errors: vec![(
                dir.to_path_buf(),
                "this run's output folder, reached through a link (not followed: its files are \
                 outputs, not input)"
                    .into(),
            )],
        };
    }
    if id.is_some_and(|id| above.contains(&id)) {
        return Walk {
            files: Vec::new(),
            errors: vec![(
                dir.to_path_buf(),
                "link loop: a link to a folder that contains it (not followed)".into(),
            )],
        };
    }
    let mut chain = above.to_vec();
    chain.extend(id);
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            return Walk {
                files: Vec::new(),
                errors: vec![(dir.to_path_buf(), format!("cannot read directory: {e}"))],
            }
        }
    };
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let mut errors = Vec::new();
    for entry in rd {
        match entry {
            Ok(e) => {
                let path = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                match e.file_type() {
                    Ok(t) if t.is_dir() => dirs.push(path),
                    Ok(t) if t.is_file() => {
                        if !is_our_temp(&name) {
                            files.push(path)
                        }
                    }
                    Ok(_) => match std::fs::metadata(&path) {
                        // Follow symlinks to files and directories, but not into this run's
                        // output folder.
                        Ok(m) if m.is_dir() && crate::atomic::inside_a_held_folder(&path) => errors
                            .push((
                                path,
                                "a link into this run's output folder (not followed: its files \
                                 are outputs, not input)"
                                    .into(),
                            )),
                        Ok(m) if m.is_dir() => dirs.push(path),
                        Ok(m) if m.is_file() => files.push(path),
                        Ok(_) => errors.push((path, "not a regular file".into())),
                        Err(err) => errors.push((path, format!("broken link: {err}"))),
                    },
                    Err(err) => errors.push((path, format!("cannot stat: {err}"))),
                }
            }
            Err(err) => errors.push((dir.to_path_buf(), format!("cannot read entry: {err}"))),
        }
    }
    let sub: Vec<Walk> = dirs.par_iter().map(|d| walk_dir(d, &chain, held)).collect();
    for w in sub {
        files.extend(w.files);
        errors.extend(w.errors);
    }
    Walk { files, errors }
}

/// Walk every input (a file or a directory).
pub fn walk(inputs: &[PathBuf]) -> Walk {
    let mut out = Walk::default();
    let held = crate::atomic::held_folder_ids();
    for input in inputs {
        match std::fs::metadata(input) {
            Ok(m) if m.is_dir() => {
                let w = walk_dir(input, &[], &held);
                out.files.extend(w.files);
                out.errors.extend(w.errors);
            }
            Ok(m) if m.is_file() => out.files.push(input.clone()),
            // A FIFO given as an input blocked its reader for ever.
            Ok(_) => out
                .errors
                .push((input.clone(), "not a regular file".into())),
            Err(e) => out
                .errors
                .push((input.clone(), format!("cannot open: {e}"))),
        }
    }
    out.files.sort();
    out.files.dedup();
    out.errors.sort();
    out
}
