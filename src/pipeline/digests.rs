//! SHA-256 of every file of a tree, remembered between uses: a digest is read again only for a
//! file whose stat data (size, modification and change times, inode) differ from those it was
//! computed with, as git's index does. The remembered digests live in one file per tree (a line
//! a file, in the tree's path order), streamed in step with the tree's walk, so memory does not
//! grow with the number of files. The pipeline hashes its input, its de-identified tree (for
//! the later stages' keys) and, for `provenance.json`, that tree once more: with the record,
//! the last of these reads no file. The input tree's paths and file times are the site's
//! (patient names in folder names, real dates), which nothing under the output folder may hold:
//! its record names each digest by an HMAC of them under the study key instead.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// What a file's digest was computed with (path relative to the tree's root, as its bytes;
/// size, mtime and ctime in ns, inode), and the digest. One line of the record:
/// `hex(path) size mtime ctime inode hex(digest)`, tab-separated (hex: any name, unambiguous).
#[derive(PartialEq, Debug)]
struct Entry {
    path: Vec<u8>,
    stat: Stat,
    digest: [u8; 32],
}

impl Entry {
    fn parse(line: &str) -> Option<Entry> {
        let mut f = line.split('\t');
        let path = unhex(f.next()?)?;
        let stat = (
            f.next()?.parse().ok()?,
            f.next()?.parse().ok()?,
            f.next()?.parse().ok()?,
            f.next()?.parse().ok()?,
        );
        let digest = unhex(f.next()?)?.try_into().ok()?;
        f.next().is_none().then_some(Entry { path, stat, digest })
    }

    fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        let (s, m, c, i) = self.stat;
        writeln!(
            out,
            "{}\t{s}\t{m}\t{c}\t{i}\t{}",
            hex(&self.path),
            hex(&self.digest)
        )
    }
}

/// The stat data a digest is valid for: (size, mtime ns, ctime ns, inode).
type Stat = (u64, i128, i128, u64);

/// A file's size and SHA-256.
type Digest32 = (u64, [u8; 32]);

/// A file of the walk: its path relative to the tree, its stat data, and the digest the record
/// holds for exactly that stat data.
struct Known<'a> {
    rel: &'a Path,
    stat: Option<Stat>,
    remembered: Option<[u8; 32]>,
}

/// The stat data of `path`.
fn stat(path: &Path) -> Option<Stat> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Some((
            m.len(),
            ns(m.mtime(), m.mtime_nsec()),
            ns(m.ctime(), m.ctime_nsec()),
            m.ino(),
        ))
    }
    #[cfg(not(unix))]
    {
        // No change time or inode to trust: nothing is remembered (every digest is computed).
        let _ = m;
        None
    }
}

use crate::hex::encode as hex;

/// The bytes of lower- or upper-case hex; None for anything else.
fn unhex(s: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks_exact(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// A relative path from its recorded bytes.
fn path_of(bytes: &[u8]) -> Option<PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Some(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(bytes).ok().map(PathBuf::from)
    }
}

/// The recorded entries of `record`, in order (unreadable lines skipped: a digest missing from
/// the record is computed).
fn recorded(record: &Path) -> impl Iterator<Item = Entry> {
    let lines = std::fs::File::open(record)
        .ok()
        .map(|f| std::io::BufReader::new(f).lines());
    lines
        .into_iter()
        .flatten()
        .map_while(Result::ok)
        .filter_map(|l| Entry::parse(&l))
}

/// Call `each` in path order with every file under `dir` (relative path, and its size and
/// SHA-256; None when it cannot be read), and return the files' count. Digests are taken from
/// `record` where the stat data match, computed otherwise (in parallel, a block at a time), and
/// the record is rewritten (temporary file and rename) with what holds now. The record is an
/// aid only: when it cannot be read or written, every digest is computed, nothing fails.
/// Without a record (a tree whose paths must not be written down: a site's export, whose
/// folder names are PHI), every digest is computed.
pub fn for_each_file_digest(
    dir: &Path,
    record: Option<&Path>,
    mut each: impl FnMut(&Path, Option<Digest32>) -> std::io::Result<()>,
) -> std::io::Result<usize> {
    use rayon::prelude::*;
    let mut files = crate::ingest::walk::walk(&[dir.to_path_buf()]).files;
    files.sort();
    let files: std::sync::Arc<[PathBuf]> = files.into();
    // Files are read ahead of the hashing (on a cold cache, the disk has many reads in flight);
    // with a record, most are not read at all, so only a tree hashed without one is.
    let read_ahead = match record {
        None => Some(crate::ingest::prefetch::Prefetch::start(
            files.clone(),
            crate::ingest::prefetch::Span::Stream,
        )),
        Some(_) => None,
    };
    let mut old = record.into_iter().flat_map(recorded).peekable();
    let tmp = record.map(crate::atomic::temp_sibling);
    let mut out = match (&tmp, record) {
        (Some(tmp), Some(record)) => open_record(tmp, record),
        _ => None,
    };
    for block in files.chunks(256) {
        // Stat data in parallel; then, in order, any remembered digest (the record is in the
        // same order as the walk).
        let stats: Vec<Option<Stat>> = block.par_iter().map(|f| stat(f)).collect();
        let known: Vec<Known> = block
            .iter()
            .zip(stats)
            .map(|(f, st)| {
                let rel = f.strip_prefix(dir).unwrap_or(f);
                let bytes = rel.as_os_str().as_encoded_bytes();
                // Entries of files gone since are passed over (in path order, as the walk's).
                while old
                    .next_if(|e| {
                        e.path != bytes && path_of(&e.path).is_some_and(|p| p.as_path() < rel)
                    })
                    .is_some()
                {}
                let remembered = old
                    .next_if(|e| e.path == bytes)
                    .filter(|e| st == Some(e.stat))
                    .map(|e| e.digest);
                Known {
                    rel,
                    stat: st,
                    remembered,
                }
            })
            .collect();
        // Computed digests, each with whether the file kept its stat data while it was read
        // (only such a digest is remembered; without a record, not asked).
        let remember = out.is_some();
        let digests: Vec<(Option<Digest32>, bool)> = block
            .par_iter()
            .zip(&known)
            .map(|(f, k)| match (&k.remembered, &k.stat) {
                (Some(d), Some(st)) => (Some((st.0, *d)), true),
                // Without a record, nothing to remember: no stat data to check again.
                _ => digest_file(f, k.stat.filter(|_| remember), read_ahead.as_ref()),
            })
            .collect();
        for (Known { rel, stat: st, .. }, (digest, steady)) in known.iter().zip(digests) {
            if let (Some(w), Some(st), Some((_, d)), true) = (out.as_mut(), st, &digest, steady) {
                let e = Entry {
                    path: rel.as_os_str().as_encoded_bytes().to_vec(),
                    stat: *st,
                    digest: *d,
                };
                if e.write(w).is_err() {
                    out = None;
                }
            }
            each(rel, digest)?;
        }
    }
    if let (Some(tmp), Some(record)) = (tmp, record) {
        keep_record(out, &tmp, record);
    }
    Ok(files.len())
}

/// Size and SHA-256 of `f` (None when it cannot be read), and whether it kept the stat data
/// `st` while it was read (only such a digest may be remembered). Tells `read_ahead` it is read.
fn digest_file(
    f: &Path,
    st: Option<Stat>,
    read_ahead: Option<&crate::ingest::prefetch::Prefetch>,
) -> (Option<Digest32>, bool) {
    let bytes = std::fs::read(f);
    if let Some(r) = read_ahead {
        r.read_one();
    }
    let Ok(bytes) = bytes else {
        return (None, false);
    };
    let len = bytes.len() as u64;
    let d: [u8; 32] = Sha256::digest(&bytes).into();
    let steady = st.is_some_and(|st| len == st.0 && stat(f) == Some(st));
    (Some((len, d)), steady)
}

/// A new record's temporary file (beside `record`, its folder made); None when it cannot be.
fn open_record(tmp: &Path, record: &Path) -> Option<std::io::BufWriter<std::fs::File>> {
    record
        .parent()
        .and_then(|p| std::fs::create_dir_all(p).ok())
        .and_then(|()| std::fs::File::create(tmp).ok())
        .map(std::io::BufWriter::new)
}

/// Rename the new record into place when all of it was written (`out` still there), else drop it.
fn keep_record(out: Option<std::io::BufWriter<std::fs::File>>, tmp: &Path, record: &Path) {
    let kept = out
        .and_then(|w| w.into_inner().ok())
        .is_some_and(|_| std::fs::rename(tmp, record).is_ok());
    if !kept {
        let _ = std::fs::remove_file(tmp);
    }
}

/// [`for_each_file_digest`] for a tree whose paths and file times must not be written down (a
/// site's export: folder names and times are PHI), with a record all the same: a digest is
/// remembered under HMAC-SHA256(key, relative path, stat data) — an opaque name that holds
/// neither, and that only the same file with the same stat data gives again — so a rerun reads
/// only the files that changed. The record's lines (`hex(name) hex(digest)`) are looked up by
/// bisection, 64 bytes a file while the tree is hashed; only the files to be read are read ahead.
pub fn for_each_file_digest_keyed(
    dir: &Path,
    record: &Path,
    key: &[u8],
    mut each: impl FnMut(&Path, Option<Digest32>) -> std::io::Result<()>,
) -> std::io::Result<usize> {
    use rayon::prelude::*;
    let mut files = crate::ingest::walk::walk(&[dir.to_path_buf()]).files;
    files.sort();
    let files: std::sync::Arc<[PathBuf]> = files.into();
    let mut old: Vec<([u8; 32], [u8; 32])> = std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (name, digest) = l.split_once('\t')?;
            Some((
                unhex(name)?.try_into().ok()?,
                unhex(digest)?.try_into().ok()?,
            ))
        })
        .collect();
    old.sort_unstable();
    // Each file's opaque name (None without stat data: always read, never remembered).
    let named: Vec<(Option<Stat>, Option<[u8; 32]>)> = files
        .par_iter()
        .map(|f| {
            let st = stat(f);
            let name = st.map(|(size, mtime, ctime, inode)| {
                let rel = f.strip_prefix(dir).unwrap_or(f).as_os_str();
                crate::deid::keyed::hmac(
                    key,
                    &[
                        b"ancilla-digest-record\0",
                        rel.as_encoded_bytes(),
                        b"\0",
                        &size.to_le_bytes(),
                        &mtime.to_le_bytes(),
                        &ctime.to_le_bytes(),
                        &inode.to_le_bytes(),
                    ],
                )
            });
            (st, name)
        })
        .collect();
    let remembered: Vec<Option<[u8; 32]>> = named
        .iter()
        .map(|(_, n)| {
            let n = n.as_ref()?;
            let at = old.binary_search_by(|(k, _)| k.cmp(n)).ok()?;
            Some(old[at].1)
        })
        .collect();
    // The files to read ahead: all of them (shared, not copied) when none is remembered.
    let to_read: std::sync::Arc<[PathBuf]> = if old.is_empty() {
        files.clone()
    } else {
        files
            .iter()
            .zip(&remembered)
            .filter(|(_, r)| r.is_none())
            .map(|(f, _)| f.clone())
            .collect()
    };
    drop(old);
    let read_ahead =
        crate::ingest::prefetch::Prefetch::start(to_read, crate::ingest::prefetch::Span::Stream);
    let tmp = crate::atomic::temp_sibling(record);
    let mut out = open_record(&tmp, record);
    for (start, block) in (0..files.len())
        .step_by(256)
        .map(|i| (i, &files[i..(i + 256).min(files.len())]))
    {
        let digests: Vec<(Option<Digest32>, bool)> = block
            .par_iter()
            .enumerate()
            .map(|(j, f)| {
                let ((st, _), known) = (&named[start + j], remembered[start + j]);
                match (known, st) {
                    (Some(d), Some(st)) => (Some((st.0, d)), true),
                    _ => digest_file(f, *st, Some(&read_ahead)),
                }
            })
            .collect();
        for (j, (f, (digest, steady))) in block.iter().zip(digests).enumerate() {
            if let (Some(w), Some(name), Some((_, d)), true) =
                (out.as_mut(), named[start + j].1, &digest, steady)
            {
                if writeln!(w, "{}\t{}", hex(&name), hex(d)).is_err() {
                    out = None;
                }
            }
            each(f.strip_prefix(dir).unwrap_or(f), digest)?;
        }
    }
    drop(read_ahead);
    keep_record(out, &tmp, record);
    Ok(files.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digests(dir: &Path, record: &Path) -> Vec<(PathBuf, Option<Digest32>)> {
        let mut v = Vec::new();
        for_each_file_digest(dir, Some(record), |p, d| {
            v.push((p.to_path_buf(), d));
            Ok(())
        })
        .unwrap();
        v
    }

    /// The keyed record: digests equal SHA-256 of the bytes; the record holds no path, name or
    /// time of the tree; a remembered digest is used without reading the file (a digest planted
    /// in the record comes back); a changed file is read again; another key remembers nothing.
    #[test]
    fn keyed_record_holds_no_path_and_is_used() {
        let d = tempfile::tempdir().unwrap();
        let tree = d.path().join("SMITH^JOHN_MRN123");
        let record = d.path().join("record.tsv");
        std::fs::create_dir_all(tree.join("CT_20240101")).unwrap();
        std::fs::write(tree.join("CT_20240101/IM1"), "one").unwrap();
        std::fs::write(tree.join("IM2"), "two").unwrap();
        let key = [7u8; 32];
        let run = |key: &[u8]| {
            let mut v = Vec::new();
            for_each_file_digest_keyed(&tree, &record, key, |p, dg| {
                v.push((p.to_path_buf(), dg));
                Ok(())
            })
            .unwrap();
            v
        };
        let sha = |s: &str| -> [u8; 32] { Sha256::digest(s.as_bytes()).into() };
        let first = run(&key);
        assert_eq!(
            first,
            [
                (PathBuf::from("CT_20240101/IM1"), Some((3, sha("one")))),
                (PathBuf::from("IM2"), Some((3, sha("two")))),
            ]
        );
        let text = std::fs::read_to_string(&record).unwrap();
        assert_eq!(text.lines().count(), 2);
        for secret in ["SMITH", "MRN", "CT_", "2024", "IM1", "IM2"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let mtime = std::fs::metadata(tree.join("IM2"))
            .unwrap()
            .modified()
            .unwrap();
        let secs = mtime
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(!text.contains(&secs.to_string()));
        // Plant a digest for IM2: it is returned as remembered (the file was not read).
        let planted = hex(&[0xab; 32]);
        let im2 = hex(&sha("two"));
        std::fs::write(&record, text.replace(&im2, &planted)).unwrap();
        assert_eq!(run(&key)[1].1, Some((3, [0xab; 32])));
        // Changed (same size): read again. Another key: nothing remembered.
        std::fs::write(tree.join("IM2"), "TWO").unwrap();
        assert_eq!(run(&key)[1].1, Some((3, sha("TWO"))));
        std::fs::write(
            &record,
            std::fs::read_to_string(&record)
                .unwrap()
                .replace(&hex(&sha("one")), &planted),
        )
        .unwrap();
        assert_eq!(run(&[8u8; 32])[0].1, Some((3, sha("one"))));
    }

    /// Digests equal SHA-256 of the bytes, remembered or not; a changed file (even to the same
    /// size) is read again; added and removed files are followed; a damaged record only costs
    /// reading again.
    #[test]
    fn remembered_digests_equal_fresh_ones_and_follow_changes() {
        let d = tempfile::tempdir().unwrap();
        let tree = d.path().join("t");
        let record = d.path().join("record.tsv");
        for (p, b) in [
            ("a/1.dcm", "one"),
            ("a.b/2", "two"),
            ("c\tweird\nname", "three"),
        ] {
            std::fs::create_dir_all(tree.join(p).parent().unwrap()).unwrap();
            std::fs::write(tree.join(p), b).unwrap();
        }
        let sha = |s: &str| -> [u8; 32] { Sha256::digest(s.as_bytes()).into() };
        let first = digests(&tree, &record);
        assert_eq!(first.len(), 3);
        for (p, dg) in &first {
            let text = std::fs::read_to_string(tree.join(p)).unwrap();
            assert_eq!(*dg, Some((text.len() as u64, sha(&text))));
        }
        assert_eq!(std::fs::read_to_string(&record).unwrap().lines().count(), 3);
        assert_eq!(digests(&tree, &record), first);
        // Same size, new content: read again.
        std::fs::write(tree.join("a/1.dcm"), "ONE").unwrap();
        std::fs::remove_file(tree.join("a.b/2")).unwrap();
        std::fs::write(tree.join("a/0"), "zero").unwrap();
        let now = digests(&tree, &record);
        let names: Vec<String> = now
            .iter()
            .map(|(p, _)| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a/0", "a/1.dcm", "c\tweird\nname"]);
        assert_eq!(now[1].1, Some((3, sha("ONE"))));
        assert_eq!(now[0].1, Some((4, sha("zero"))));
        std::fs::write(&record, "not a record\nzz\t1\t2\t3\t4\tab\n").unwrap();
        assert_eq!(digests(&tree, &record), now);
        // A record that cannot be written (its folder is a file): the digests all the same.
        let blocked = d.path().join("record.tsv").join("inside");
        assert_eq!(digests(&tree, &blocked), now);
    }
}
