//! Atomic output: every file ancilla writes goes to a temporary sibling first and is renamed into
//! place, so a killed run never leaves a half-written output and a rerun can trust what it finds.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// What marks a temporary file of ours (walks skip them, reruns may delete them).
pub const TEMP_MARK: &str = "_partial-";

/// The temporary sibling used while `path` is being written: hidden, no inner dot, and the final
/// extension kept (`x.nii.gz` → `.x_nii_gz_partial-PID.nii.gz`), so writers that rewrite
/// extensions (the nifti crate strips and re-adds them) write exactly there.
pub fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    let ext = if name.ends_with(".nii.gz") {
        ".nii.gz".to_string()
    } else {
        path.extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default()
    };
    let stem = name.replace('.', "_");
    // The process id, asked of the OS once (a syscall per file otherwise).
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let pid = PID.get_or_init(std::process::id);
    path.with_file_name(format!(".{stem}{TEMP_MARK}{pid}{ext}"))
}

/// Write `bytes` to `path` atomically (temp file in the same directory, fsync, rename).
/// Parent directories are created.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |tmp| {
        let mut f = fs::File::create(tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })
}

/// [`write_bytes`], unless `path` already holds exactly `bytes` (a fixed file such as the feature
/// dictionary, rewritten by every run otherwise).
pub fn write_bytes_if_changed(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match fs::read(path) {
        Ok(old) if old == bytes => Ok(()),
        _ => write_bytes(path, bytes),
    }
}

/// `fs::create_dir_all`, whose error where a file stands in the way names that file: it said
/// "File exists (os error 17)" beside the path of the file to be written, which did not exist
/// (an audit).
pub fn create_dirs(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir).map_err(|e| {
        let blocking = dir
            .ancestors()
            .find(|a| fs::metadata(a).is_ok_and(|m| !m.is_dir()));
        match blocking {
            Some(file) => io::Error::new(
                e.kind(),
                format!("{} is a file, where a folder is needed", file.display()),
            ),
            None => e,
        }
    })
}

/// Run `write` on a temporary sibling of `path`, then rename it into place. On error the
/// temporary file is removed and `path` is untouched.
pub fn write_with<E, F>(path: &Path, write: F) -> Result<(), E>
where
    F: FnOnce(&Path) -> Result<(), E>,
    E: From<io::Error>,
{
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            create_dirs(parent)?;
        }
    }
    write_in_existing_dir(path, write)
}

/// [`write_with`] into a folder the caller has made (no directory call per file).
pub fn write_in_existing_dir<E, F>(path: &Path, write: F) -> Result<(), E>
where
    F: FnOnce(&Path) -> Result<(), E>,
    E: From<io::Error>,
{
    let tmp = temp_sibling(path);
    match write(&tmp) {
        Ok(()) => {
            fs::rename(&tmp, path).inspect_err(|_| {
                let _ = fs::remove_file(&tmp);
            })?;
            Ok(())
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Remove temporary files left under `dir` by a killed run (hidden names with [`TEMP_MARK`]).
/// Returns how many were removed.
pub fn remove_stale_temps(dir: &Path) -> usize {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    let mut n = 0;
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        // Not through links: a link to a folder above would be swept round forever.
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            n += remove_stale_temps(&p);
        } else if name.starts_with('.') && name.contains(TEMP_MARK) && fs::remove_file(&p).is_ok() {
            n += 1;
        }
    }
    n
}

/// An output directory held by one running process: an OS lock (`flock`) on `.ancilla.lock`,
/// which holds the PID for the message. The kernel releases it when the process ends, however
/// it ends, so a killed run's lock is free again; a live one refuses the second run whatever
/// its binary is called, so two runs never write (or sweep the temporary files of) the same
/// directory at once. Across the nodes of a cluster this holds where the shared file system
/// carries `flock` (NFSv4, Lustre mounted with `flock`); a file system without locks gets a
/// warning and no lock.
#[derive(Debug)]
pub struct DirLock {
    path: PathBuf,
    /// Open while held: closing it releases the lock. None where the file system has no locks.
    file: Option<fs::File>,
    /// The folder, links resolved, as [`HELD`] lists it.
    held: PathBuf,
}

/// The folders this process holds the lock of, links resolved: a walk follows no link into
/// one (its files are this run's outputs: a link in a site's export to the output folder had
/// every rerun read its own outputs back as rejected inputs), and a lock on a folder inside one
/// is this process's own (`run` locks its folder, then `deid` its `deid/`).
static HELD: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// The folders held, a copy (empty if the list is poisoned).
fn held() -> Vec<PathBuf> {
    HELD.lock().map(|h| h.clone()).unwrap_or_default()
}

/// The folders this process holds the lock of as (device, inode) where the platform gives one:
/// a walk that reaches one by a link to a folder above it (not into it) stops there too.
pub fn held_folder_ids() -> Vec<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        held()
            .iter()
            .filter_map(|p| fs::metadata(p).ok())
            .map(|m| (m.dev(), m.ino()))
            .collect()
    }
    #[cfg(not(unix))]
    {
        Vec::new()
    }
}

/// Whether `path` (links resolved) is or lies inside a folder this process holds the lock of.
pub fn inside_a_held_folder(path: &Path) -> bool {
    let Ok(resolved) = path.canonicalize() else {
        return false;
    };
    held().iter().any(|h| resolved.starts_with(h))
}

/// A folder above `resolved` that another process holds the lock of (a standalone `deid` into a
/// running `run`'s `deid/` swept that run's temporary files away): the message, naming it.
fn busy_folder_above(dir: &Path, resolved: &Path) -> Option<String> {
    let ours = held();
    resolved.ancestors().skip(1).find_map(|above| {
        if ours.iter().any(|h| h == above) {
            return None;
        }
        let lock = above.join(LOCK_NAME);
        let file = fs::File::open(&lock).ok()?;
        match file.try_lock_shared() {
            Err(fs::TryLockError::WouldBlock) => {
                let who = fs::read_to_string(&lock)
                    .ok()
                    .and_then(|t| t.trim().parse::<u32>().ok())
                    .map(|pid| format!(" (process {pid})"))
                    .unwrap_or_default();
                Some(format!(
                    "{} lies inside {}, which another ancilla run{who} is writing; wait for it or \
                     stop it",
                    dir.display(),
                    above.display()
                ))
            }
            _ => None,
        }
    })
}

/// The lock file's name.
pub const LOCK_NAME: &str = ".ancilla.lock";

/// The file in a de-identified release's folder naming the key it was made with (its
/// `deid::key_id`), written before the first file is released.
pub const KEY_ID_NAME: &str = ".ancilla-key-id";

/// The file in a de-identified release's folder naming how its files were made (this build of
/// ancilla and the PS3.15 options), written once the release is whole: files released otherwise
/// are made again, never kept as done.
pub const RELEASE_MADE_NAME: &str = ".ancilla-release";

impl DirLock {
    /// `acquire`, its error made a caller's own: `busy` with the message naming the process that
    /// holds the lock, `other` with any other error (the folder cannot be made or written).
    pub fn acquire_or<E>(
        dir: &Path,
        busy: impl FnOnce(String) -> E,
        other: impl FnOnce(io::Error) -> E,
    ) -> Result<DirLock, E> {
        DirLock::acquire(dir).map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock => busy(e.to_string()),
            _ => other(e),
        })
    }

    /// Take the lock on `dir` (created if needed). `Err` (`WouldBlock`) names the PID that holds
    /// it.
    pub fn acquire(dir: &Path) -> io::Result<DirLock> {
        use std::io::Write;
        create_dirs(dir)?;
        let path = dir.join(LOCK_NAME);
        let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        for _ in 0..8 {
            let opened = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path);
            // A killed run of another user left its file (0644): a lock needs no write access.
            let (file, writable) = match opened {
                Ok(f) => (f, true),
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                    (fs::File::open(&path).map_err(named)?, false)
                }
                Err(e) => return Err(named(e)),
            };
            match file.try_lock() {
                Ok(()) => {
                    // The last holder removes the file as it lets go: a lock taken on the file
                    // it removed is a lock on a name no one else sees. Open the name again.
                    if !is_the_file_at(&file, &path) {
                        continue;
                    }
                    let held = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
                    if let Some(why) = busy_folder_above(dir, &held) {
                        let _ = fs::remove_file(&path);
                        return Err(io::Error::new(io::ErrorKind::WouldBlock, why));
                    }
                    if writable {
                        file.set_len(0).map_err(named)?;
                        (&file)
                            .write_all(std::process::id().to_string().as_bytes())
                            .map_err(named)?;
                    }
                    if let Ok(mut h) = HELD.lock() {
                        h.push(held.clone());
                    }
                    return Ok(DirLock {
                        path,
                        file: Some(file),
                        held,
                    });
                }
                Err(fs::TryLockError::WouldBlock) => {
                    let holder = fs::read_to_string(&path).unwrap_or_default();
                    let who = holder
                        .trim()
                        .parse::<u32>()
                        .map(|pid| format!(" (process {pid})"))
                        .unwrap_or_default();
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!(
                            "{} is in use by another ancilla run{who}; wait for it or stop it",
                            dir.display()
                        ),
                    ));
                }
                Err(fs::TryLockError::Error(e)) if no_locks_here(&e) => {
                    crate::say!(
                        "warning: {}: the file system has no file locks ({e}): nothing keeps a \
                         second run from writing this folder at the same time",
                        dir.display()
                    );
                    let held = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
                    if let Ok(mut h) = HELD.lock() {
                        h.push(held.clone());
                    }
                    return Ok(DirLock {
                        path,
                        file: None,
                        held,
                    });
                }
                Err(fs::TryLockError::Error(e)) => return Err(named(e)),
            }
        }
        Err(io::Error::other(format!(
            "cannot take the lock {}",
            path.display()
        )))
    }
}

/// Whether a lock error says the file system has no locks (Lustre without `flock`, NFS with
/// `nolock`, some FUSE file systems): ENOSYS, ENOLCK, EOPNOTSUPP.
fn no_locks_here(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Unsupported || matches!(e.raw_os_error(), Some(37 | 38 | 95))
}

/// Whether the open `file` is the one `path` names now (same device and inode).
#[cfg(unix)]
fn is_the_file_at(file: &fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn is_the_file_at(_file: &fs::File, path: &Path) -> bool {
    path.exists()
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Removed while still held; the lock goes with the file handle right after. (Without
        // locks, the file is left: it is nothing then.)
        if self.file.is_some() {
            let _ = fs::remove_file(&self.path);
        }
        if let Ok(mut h) = HELD.lock() {
            if let Some(at) = h.iter().position(|p| *p == self.held) {
                h.swap_remove(at);
            }
        }
    }
}

/// Serialize `value` as pretty JSON (with a trailing newline) and write it atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    write_bytes(path, &json_bytes(value)?)
}

/// Pretty JSON and a final newline.
fn json_bytes<T: serde::Serialize>(value: &T) -> io::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// [`write_bytes`] without the fsync: for the many small files that go with a bulk output
/// written the same way (a NIfTI's JSON sidecar and b-values, like the NIfTI itself). Atomic
/// all the same: a killed process leaves the old file or the new one, never part of one; only
/// a power cut before the kernel writes back can lose it, and the pipeline's stamps (sizes and
/// times of every output) then send the stage round again.
pub fn write_bytes_unsynced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |tmp| fs::write(tmp, bytes))
}

/// [`write_json`] without the fsync (see [`write_bytes_unsynced`]).
pub fn write_json_unsynced<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    write_bytes_unsynced(path, &json_bytes(value)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file where a folder of the path is needed is named (it was "File exists").
    #[test]
    fn a_file_in_the_way_of_a_folder_is_named() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("S001");
        fs::write(&file, b"x").unwrap();
        let e = write_bytes(&file.join("001_mr.nii.gz"), b"data").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{} is a file, where a folder is needed", file.display())
        );
        let e = DirLock::acquire(&file).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("is a file, where a folder is needed"),
            "{e}"
        );
    }

    #[test]
    fn unsynced_writes_replace_the_file_whole_and_leave_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/b.json");
        write_json_unsynced(&target, &serde_json::json!({"x": 1})).unwrap();
        write_bytes_unsynced(&target, b"second").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"second");
        assert_eq!(fs::read_dir(dir.path().join("a")).unwrap().count(), 1);
    }

    #[test]
    fn failed_write_leaves_no_file_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/out.json");
        let r: Result<(), io::Error> = write_with(&target, |tmp| {
            fs::write(tmp, b"half")?;
            Err(io::Error::other("killed"))
        });
        assert!(r.is_err());
        assert!(!target.exists());
        assert_eq!(fs::read_dir(dir.path().join("sub")).unwrap().count(), 0);
    }

    #[test]
    fn write_replaces_content_and_keeps_double_extension() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.nii.gz");
        let tmp = temp_sibling(&target);
        assert!(tmp.to_string_lossy().ends_with(".nii.gz"));
        // The nifti writer's own path rewriting must give the temp path back.
        let mut p = tmp.clone();
        p.set_extension("");
        assert_eq!(p.with_extension("nii.gz"), tmp);
        let tmp = temp_sibling(&dir.path().join("a.nii"));
        let mut p = tmp.clone();
        p.set_extension("");
        assert_eq!(p.with_extension("nii"), tmp);
        write_bytes(&target, b"one").unwrap();
        write_bytes(&target, b"two").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn lock_refuses_a_holder_and_is_free_once_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let held = DirLock::acquire(dir.path()).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join(LOCK_NAME)).unwrap(),
            std::process::id().to_string()
        );
        // Another open file description (as another process has) is refused while it is held.
        let e = DirLock::acquire(dir.path()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(e.to_string().contains(&format!(
            "is in use by another ancilla run (process {})",
            std::process::id()
        )));
        drop(held);
        assert!(!dir.path().join(LOCK_NAME).exists());
        // A killed run's file, with its PID, and no lock on it: taken.
        fs::write(dir.path().join(LOCK_NAME), "4294967295").unwrap();
        let l = DirLock::acquire(dir.path()).unwrap();
        drop(l);
        assert!(!dir.path().join(LOCK_NAME).exists());
    }

    /// Regression (a core-lab audit): a standalone `deid` into a running `run`'s `deid/` took
    /// its own lock there and swept the run's temporary files. A lock inside a folder another
    /// process holds is refused, naming it; inside one this process holds (`run`, then its
    /// stages), it is taken.
    #[test]
    fn a_lock_inside_a_folder_another_process_holds_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("run/deid");
        fs::create_dir_all(&inner).unwrap();
        // Another process's lock on run/: a file locked through its own open file description.
        let other = fs::File::create(dir.path().join("run").join(LOCK_NAME)).unwrap();
        fs::write(dir.path().join("run").join(LOCK_NAME), "4242").unwrap();
        other.lock().unwrap();
        let e = DirLock::acquire(&inner).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(
            e.to_string()
                .contains("which another ancilla run (process 4242) is writing"),
            "{e}"
        );
        assert!(!inner.join(LOCK_NAME).exists());
        drop(other);
        // Held by this process: its own stages lock inside it.
        let run = DirLock::acquire(&dir.path().join("run")).unwrap();
        let deid = DirLock::acquire(&inner).unwrap();
        assert!(inside_a_held_folder(&inner));
        drop(deid);
        drop(run);
        assert!(!inside_a_held_folder(&inner));
    }

    #[test]
    fn stale_temps_are_swept_at_any_depth_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let keep = dir.path().join("a/b/keep.json");
        write_bytes(&keep, b"x").unwrap();
        let stale = temp_sibling(&dir.path().join("a/b/c.json"));
        fs::write(&stale, b"half").unwrap();
        fs::write(dir.path().join(".hidden"), b"mine").unwrap();
        assert_eq!(remove_stale_temps(dir.path()), 1);
        assert!(keep.exists() && !stale.exists() && dir.path().join(".hidden").exists());
    }
}
