//! Read-ahead of input files (POSIX `posix_fadvise(POSIX_FADV_WILLNEED)`): a thread walks the
//! list a bounded distance ahead of the readers and asks the kernel to start reading each file,
//! so the disk has many requests in flight instead of the one or two the reader threads wait
//! on. On a cold page cache (an export read for the first time) this nearly halves the time of
//! a pass over the files here (669 MB, 21,800 files: 3.3–3.4 s → 1.8–1.9 s for a two-thread read
//! loop); on a warm one it costs an open and a cache lookup per file on a third thread. Only a
//! hint: nothing is read into the process, no file is changed, and an error is ignored (the
//! readers then read as before). Linux only; elsewhere a no-op.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// How much of each file to ask for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Span {
    /// The first 64 KiB: the header of a DICOM file (a scan stops before Pixel Data).
    Headers,
    /// Whole files, as long as the files asked for add up to no more than 1 GiB (a tree read
    /// twice, header then pixels, stays in the cache between the two); headers after that.
    WholeFiles,
    /// Whole files, every one, for readers that read each file whole once as it comes (a hash
    /// pass): no budget, the window alone bounds the read-ahead; stopped when dropped.
    Stream,
}

/// Bytes asked for per file in `Span::Headers`.
const HEADER_BYTES: u64 = 64 * 1024;
/// Whole files are asked for up to this total, so the read-ahead of a very large export does
/// not push out of the cache what it read for the files before.
const WHOLE_BUDGET: u64 = 1 << 30;
/// The most the read-ahead runs ahead of the readers (bytes asked for but not yet read).
const WINDOW: u64 = 256 << 20;

/// A running read-ahead. Dropped when its readers are done: a read-ahead of headers or of a
/// stream stops (its thread joined); one of whole files goes on by itself until its budget is
/// spent, since those files' pixels are read next.
pub struct Prefetch {
    span: Span,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Prefetch {
    /// Start reading ahead over `files`, in order. Readers call [`Prefetch::read_one`] after
    /// each file, which keeps the read-ahead at most `WINDOW` bytes ahead of them.
    pub fn start(files: Arc<[PathBuf]>, span: Span) -> Prefetch {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicUsize::new(0));
        let thread = if cfg!(target_os = "linux") && files.len() > 1 {
            let (stop, done) = (stop.clone(), done.clone());
            std::thread::Builder::new()
                .name("prefetch".into())
                .spawn(move || run(&files, span, &stop, &done))
                .ok()
        } else {
            None
        };
        Prefetch {
            span,
            stop,
            done,
            thread,
        }
    }

    /// A reader is done with one more file.
    pub fn read_one(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        match self.span {
            Span::Headers | Span::Stream => {
                self.stop.store(true, Ordering::Relaxed);
                if let Some(t) = self.thread.take() {
                    let _ = t.join();
                }
            }
            // The readers are done with the headers: no window any more; the thread ends when
            // the list or the whole-file budget does.
            Span::WholeFiles => self.done.store(usize::MAX, Ordering::Relaxed),
        }
    }
}

/// The read-ahead loop: `asked[i]` is the bytes asked for files before i, so the readers' count
/// of files done (they go roughly in list order) tells how far ahead the loop is.
fn run(files: &[PathBuf], span: Span, stop: &AtomicBool, done: &AtomicUsize) {
    let mut asked: Vec<u64> = Vec::with_capacity(files.len() + 1);
    asked.push(0);
    let mut whole_left = match span {
        Span::Headers => 0,
        Span::WholeFiles => WHOLE_BUDGET,
        Span::Stream => u64::MAX,
    };
    for f in files {
        if whole_left == 0 && done.load(Ordering::Relaxed) == usize::MAX {
            return; // whole files: the budget is spent and the headers are all read
        }
        // Wait while the files asked for and not yet read exceed the window.
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let read = done.load(Ordering::Relaxed).min(asked.len() - 1);
            let total = *asked.last().unwrap_or(&0);
            if total - asked[read] <= WINDOW {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let bytes = advise(f, &mut whole_left);
        let total = *asked.last().unwrap_or(&0);
        asked.push(total + bytes);
    }
}

/// Ask the kernel to read `f` (whole while `whole_left` allows, else its header); the bytes
/// asked for, 0 when the file cannot be opened.
#[cfg(target_os = "linux")]
fn advise(f: &std::path::Path, whole_left: &mut u64) -> u64 {
    use std::os::fd::AsRawFd;
    let Ok(file) = std::fs::File::open(f) else {
        return 0;
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let want = if len <= *whole_left {
        *whole_left -= len;
        len
    } else {
        len.min(HEADER_BYTES)
    };
    let Ok(n) = libc::off_t::try_from(want) else {
        return 0;
    };
    // SAFETY: the descriptor is open for the duration of the call (owned by `file`); the advice
    // only starts read-ahead into the page cache and changes neither the file nor our memory.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), 0, n, libc::POSIX_FADV_WILLNEED);
    }
    want
}

#[cfg(not(target_os = "linux"))]
fn advise(_: &std::path::Path, _: &mut u64) -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The read-ahead never changes a file, tolerates files that vanish or cannot be opened, and
    /// a drop before the readers are done returns (headers and stream stop; whole files finish
    /// the list on their own thread).
    #[test]
    fn read_ahead_is_harmless_and_stops_when_dropped() {
        let d = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for i in 0..50 {
            let p = d.path().join(format!("{i}.dcm"));
            std::fs::write(&p, vec![i as u8; 1000 + i]).unwrap();
            files.push(p);
        }
        files.push(d.path().join("missing"));
        files.push(d.path().to_path_buf()); // a folder
        for span in [Span::Headers, Span::WholeFiles, Span::Stream] {
            let p = Prefetch::start(files.clone().into(), span);
            for f in &files[..10] {
                let _ = std::fs::read(f);
                p.read_one();
            }
            drop(p);
        }
        for (i, f) in files.iter().take(50).enumerate() {
            assert_eq!(std::fs::read(f).unwrap(), vec![i as u8; 1000 + i]);
        }
    }

    /// Whole files are asked for until the budget is spent, then headers: the bytes asked for.
    #[cfg(target_os = "linux")]
    #[test]
    fn whole_files_until_the_budget_then_headers() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, vec![0u8; 100_000]).unwrap();
        let mut left = 150_000;
        assert_eq!(advise(&p, &mut left), 100_000);
        assert_eq!(left, 50_000);
        assert_eq!(advise(&p, &mut left), HEADER_BYTES);
        assert_eq!(left, 50_000);
        assert_eq!(advise(&d.path().join("none"), &mut left), 0);
    }
}
