//! Writing a release: its bytes checked for PHI first (`verify`; a file that fails is never
//! written), written to a temporary sibling, read back from disk through the same handle (it must
//! be the checked bytes, byte for byte), and only then renamed into place.

use std::collections::HashSet;
use std::path::Path;

use super::{apply, clean, verify, Outcome, Release, Run};

/// Check the encoded bytes (a file that fails is never written), then write them and read the
/// written file back from disk: it must be those checked bytes, byte for byte (what is on disk
/// is what was checked), or it is deleted and reported.
pub(super) fn write_checked(
    run: &Run,
    release: &Release,
    bytes: &[u8],
    tail: Option<&[u8]>,
    identifiers: &clean::Found,
    original_uids: &HashSet<String>,
    counts: apply::Counts,
) -> Outcome {
    // The carried-over tail is one Pixel Data element of a binary VR (pixel_data_tail and the
    // byte path checked its header), which the check would skip: checking the bytes before it
    // checks the whole file.
    let withheld = || super::Withheld {
        usubjid: release.usubjid.to_string(),
        folder: release.dest.parent().unwrap_or(run.out).to_path_buf(),
    };
    if let Err(why) = verify::check_bytes(bytes, &run.options, identifiers, original_uids) {
        return Outcome::VerificationFailed(why, withheld());
    }
    let tail = tail.unwrap_or_default();
    let parent = release.dest.parent().unwrap_or(run.out);
    // Written to a temporary sibling, read back through the same handle (it must be the checked
    // bytes, byte for byte: what is on disk is what was checked), and only then renamed into
    // place; a file that reads back otherwise is removed and reported.
    let written = run.make_dir(parent).map_err(WriteError::Io).and_then(|()| {
        crate::atomic::write_in_existing_dir(&release.dest, |tmp| {
            write_and_read_back(tmp, bytes, tail)
        })
    });
    match written {
        Ok(()) => {}
        Err(WriteError::Io(e)) => {
            return Outcome::Unwritten(format!("cannot write {}: {e}", release.dest.display()))
        }
        Err(WriteError::ReadBack(why)) => return Outcome::VerificationFailed(why, withheld()),
    }
    Outcome::Released {
        usubjid: release.usubjid.clone(),
        counts,
    }
}

/// Why a released file was not written.
enum WriteError {
    Io(std::io::Error),
    /// The bytes read back differ from those checked.
    ReadBack(String),
}

impl From<std::io::Error> for WriteError {
    fn from(e: std::io::Error) -> Self {
        WriteError::Io(e)
    }
}

/// Write `head` then `tail` to a new file `path`, then read the file back through the same
/// handle: it must hold exactly those bytes.
fn write_and_read_back(path: &Path, head: &[u8], tail: &[u8]) -> Result<(), WriteError> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    // Both parts in one system call when the kernel takes them whole.
    let n = f.write_vectored(&[std::io::IoSlice::new(head), std::io::IoSlice::new(tail)])?;
    if n < head.len() {
        f.write_all(&head[n..])?;
        f.write_all(tail)?;
    } else {
        f.write_all(&tail[n - head.len()..])?;
    }
    f.seek(SeekFrom::Start(0))?;
    // The file was created empty (truncated) and written by this call: it holds exactly that
    // many bytes unless the writes went wrong, which the comparison then shows. (Read into
    // spare capacity: no zeroing first.)
    let total = head.len() + tail.len();
    let mut on_disk = Vec::with_capacity(total);
    (&mut f)
        .take(total as u64)
        .read_to_end(&mut on_disk)
        .map_err(|e| WriteError::ReadBack(format!("cannot read the written file back: {e}")))?;
    if on_disk.len() != total {
        return Err(WriteError::ReadBack(format!(
            "cannot read the written file back: {} of {total} bytes",
            on_disk.len()
        )));
    }
    let (h, t) = on_disk.split_at(head.len());
    if h == head && t == tail {
        Ok(())
    } else {
        Err(WriteError::ReadBack(
            "the file read back from disk differs from the checked bytes".into(),
        ))
    }
}
