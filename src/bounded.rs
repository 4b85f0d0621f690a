//! Reads with a bound, of files that are small by nature (a study key, a pipeline config) or
//! made of lines (every table ancilla reads, RFC 4180 CSV): `/dev/zero` given as a key, or a
//! table with a 2 GiB line, read until an allocation failed and aborted the process (exit 134,
//! a Rust backtrace) instead of being refused with the file named.

use std::io::{self, Read};
use std::path::Path;

/// The longest line a table may have: far above any row of a clinical or feature table (a
/// 100,000-column row of empty cells is 100 kB).
pub const MAX_LINE: usize = 16 << 20;

/// The bytes of the file at `path`, refused when it holds more than `max` (`what` says what the
/// file should be, for the message).
pub fn read_at_most(path: &Path, max: u64, what: &str) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    read_rest_at_most(std::fs::File::open(path)?, &mut bytes, max, what)?;
    Ok(bytes)
}

/// The rest of `src` appended to `bytes`, refused when `bytes` would hold more than `max`.
pub fn read_rest_at_most(
    src: impl Read,
    bytes: &mut Vec<u8>,
    max: u64,
    what: &str,
) -> io::Result<()> {
    let room = max.saturating_add(1).saturating_sub(bytes.len() as u64);
    src.take(room).read_to_end(bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("more than {} bytes: {what}", max),
        ));
    }
    Ok(())
}

/// A reader that fails on a line longer than `max` bytes (counted from the last `\n`).
pub struct LineBounded<R> {
    inner: R,
    max: usize,
    run: usize,
}

impl<R: Read> LineBounded<R> {
    pub fn new(inner: R, max: usize) -> Self {
        LineBounded { inner, max, run: 0 }
    }
}

impl<R: Read> Read for LineBounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b == b'\n' {
                self.run = 0;
            } else {
                self.run += 1;
                if self.run > self.max {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "a line of more than {} MiB: not a table (its rows are far shorter)",
                            self.max >> 20
                        ),
                    ));
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_longer_than_the_bound_is_an_error_and_shorter_ones_pass() {
        let text = b"a,b\n1234\n12345\n".to_vec();
        let mut out = Vec::new();
        assert!(LineBounded::new(&text[..], 5).read_to_end(&mut out).is_ok());
        assert_eq!(out, text);
        let mut out = Vec::new();
        let e = LineBounded::new(&text[..], 4)
            .read_to_end(&mut out)
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        // Without any newline (`/dev/zero`): the bound stops it.
        let e = LineBounded::new(io::repeat(0), 1 << 20)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(e.to_string().contains("a line of more than 1 MiB"), "{e}");
    }

    #[test]
    fn a_file_larger_than_the_bound_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k");
        std::fs::write(&p, [7u8; 40]).unwrap();
        assert_eq!(read_at_most(&p, 40, "a key").unwrap().len(), 40);
        let e = read_at_most(&p, 39, "a key").unwrap_err();
        assert_eq!(e.to_string(), "more than 39 bytes: a key");
        #[cfg(unix)]
        assert!(read_at_most(Path::new("/dev/zero"), 1 << 20, "a key").is_err());
    }
}
