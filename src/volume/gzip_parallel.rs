//! One gzip member (RFC 1952) whose deflate stream (RFC 1951) is compressed on every core, as pigz
//! compresses: the input is cut into blocks of `BLOCK` bytes, each block is deflated on its own
//! (no back-reference into the previous block) and ends with a sync flush, an empty stored block
//! that brings the stream to a byte boundary, the last one with the final block instead. The
//! blocks, written one after another, are one valid deflate stream, so any gzip reader reads the
//! file (one member: flate2's single-member `GzDecoder` as well). The cut does not depend on the
//! number of threads, so the bytes are the same on any machine.

use std::io::{self, Write};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use rayon::prelude::*;

/// Bytes of input deflated as one block: large against deflate's 32 KiB window, so that cutting
/// the stream costs a fraction of a percent of the output size.
pub const BLOCK: usize = 1 << 20;

/// A `Write` that gzips what it is given, `BLOCK` bytes at a time, several blocks at once.
/// `finish` writes the last block and the trailer, and returns the inner writer.
pub struct ParallelGz<W: Write> {
    inner: W,
    level: Compression,
    /// Whole blocks waiting to be deflated together.
    full: Vec<Vec<u8>>,
    /// The block being filled.
    current: Vec<u8>,
    crc: Crc,
    header_written: bool,
}

impl<W: Write> ParallelGz<W> {
    pub fn new(inner: W, level: u32) -> Self {
        ParallelGz {
            inner,
            level: Compression::new(level),
            full: Vec::new(),
            current: Vec::with_capacity(BLOCK),
            crc: Crc::new(),
            header_written: false,
        }
    }

    /// How many whole blocks are deflated at once: enough to keep every thread busy.
    fn batch() -> usize {
        2 * rayon::current_num_threads().max(1)
    }

    fn header(&mut self) -> io::Result<()> {
        if !self.header_written {
            // ID1 ID2, deflate, no flags, no mtime, XFL as flate2 sets it, OS unknown (255).
            let xfl = match self.level.level() {
                9 => 2,
                1 => 4,
                _ => 0,
            };
            self.inner
                .write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255])?;
            self.header_written = true;
        }
        Ok(())
    }

    /// Deflate the waiting blocks (the last of them ending the stream when `last`) and write them
    /// in order.
    fn drain(&mut self, last: bool) -> io::Result<()> {
        self.header()?;
        let level = self.level;
        let n = self.full.len();
        let out: Vec<io::Result<Vec<u8>>> = self
            .full
            .par_iter()
            .enumerate()
            .map(|(i, block)| deflate_block(level, block, last && i + 1 == n))
            .collect();
        for block in out {
            self.inner.write_all(&block?)?;
        }
        self.full.clear();
        Ok(())
    }

    /// The last block, the trailer (CRC-32 and length, little-endian), and the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        let current = std::mem::take(&mut self.current);
        self.full.push(current);
        self.drain(true)?;
        let crc = self.crc.sum();
        let len = self.crc.amount();
        self.inner.write_all(&crc.to_le_bytes())?;
        self.inner.write_all(&len.to_le_bytes())?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ParallelGz<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = BLOCK - self.current.len();
        let take = room.min(buf.len());
        self.current.extend_from_slice(&buf[..take]);
        self.crc.update(&buf[..take]);
        if self.current.len() == BLOCK {
            let block = std::mem::replace(&mut self.current, Vec::with_capacity(BLOCK));
            self.full.push(block);
            if self.full.len() >= Self::batch() {
                self.drain(false)?;
            }
        }
        Ok(take)
    }

    /// Blocks are written whole, so a flush writes nothing before `finish`.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `data` as raw deflate, ending with a sync flush, or with the final block when `last`.
fn deflate_block(level: Compression, data: &[u8], last: bool) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(level, false);
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        let done = c.total_in() as usize;
        let status = c
            .compress_vec(&data[done..], &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = c.total_in() as usize == data.len();
        // zlib: a sync flush is complete when output room is left; a finish, at StreamEnd.
        let complete = if last {
            status == Status::StreamEnd
        } else {
            all_in && out.len() < out.capacity()
        };
        if complete {
            return Ok(out);
        }
        out.reserve(out.capacity().max(1024));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Bytes that compress somewhat, as voxels do: a slow ramp with noise from an LCG.
    fn sample(n: usize) -> Vec<u8> {
        let mut x: u32 = 12345;
        (0..n)
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                ((i / 4096) as u8).wrapping_add((x >> 28) as u8)
            })
            .collect()
    }

    fn gzip(data: &[u8], level: u32, piece: usize) -> Vec<u8> {
        let mut gz = ParallelGz::new(Vec::new(), level);
        for part in data.chunks(piece.max(1)) {
            gz.write_all(part).unwrap();
        }
        gz.finish().unwrap()
    }

    fn gunzip_single_member(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn many_blocks_read_back_as_one_member() {
        // 5.3 blocks, written in odd pieces: a single-member reader gets every byte back (it would
        // stop at the first member's end if the blocks were members of their own).
        let data = sample(5 * BLOCK + 300_017);
        for piece in [7919, BLOCK + 1, data.len()] {
            let gz = gzip(&data, 2, piece);
            assert_eq!(gunzip_single_member(&gz), data);
            // The trailer: CRC-32 and length of the whole input (RFC 1952 2.3.1).
            let tail = &gz[gz.len() - 8..];
            let mut crc = Crc::new();
            crc.update(&data);
            assert_eq!(tail[..4], crc.sum().to_le_bytes());
            assert_eq!(tail[4..], (data.len() as u32).to_le_bytes());
        }
    }

    #[test]
    fn same_bytes_whatever_the_pieces_and_threads() {
        let data = sample(3 * BLOCK + 5);
        let one = gzip(&data, 2, 1000);
        assert_eq!(gzip(&data, 2, BLOCK * 2 + 3), one);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| gzip(&data, 2, 4096)), one);
    }

    #[test]
    fn short_inputs_are_one_final_block() {
        for (n, level) in [(0, 2), (1, 2), (70_000, 2), (BLOCK - 1, 6), (BLOCK, 1)] {
            let data = sample(n);
            let gz = gzip(&data, level, 4096);
            assert_eq!(gunzip_single_member(&gz), data, "{n} bytes");
            // The header flate2 writes: no name, no mtime, XFL from the level, OS unknown.
            let xfl = [0, 4, 0, 0, 0, 0, 0][level as usize];
            assert_eq!(
                gz[..10],
                [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255],
                "{n} bytes"
            );
        }
    }

    #[test]
    fn cutting_costs_little_size() {
        let data = sample(4 * BLOCK);
        let mut whole = flate2::write::GzEncoder::new(Vec::new(), Compression::new(2));
        whole.write_all(&data).unwrap();
        let whole = whole.finish().unwrap().len() as f64;
        let cut = gzip(&data, 2, 65536).len() as f64;
        assert!(cut < whole * 1.01, "{cut} against {whole}");
    }
}
