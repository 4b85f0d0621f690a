//! RLE Lossless (PS3.5 Annex G) frames of one sample a pixel, or of three 8-bit colour samples:
//! every RLE frame ancilla reads. dicom-rs's RLE decoder is not used: it refuses 32-bit samples
//! ("BitsAllocated other than 8 or 16 is not supported"; RT Dose grids are written so, pydicom's
//! `rtdose_rle.dcm`), decodes one fragment a frame (DCMTK's `dcmcrle +fs` cuts a frame's stream
//! into fragments of the size asked, and pydicom and GDCM read them), and panics on a segment
//! that decodes short, where this decoder says which segment and what it found. The
//! frame's segments hold its bytes from the most significant down (G.2), one segment a byte of
//! the sample (colour: one a sample), each a PackBits run-length stream (G.3.1). The frame comes
//! back as little-endian bytes, for the native reader to apply BitsStored and the sign; colour
//! as its three planes.

use thiserror::Error;

/// Why an RLE frame does not decode, with what was expected and found.
#[derive(Debug, Error, PartialEq)]
pub enum RleError {
    #[error("RLE header: {0}")]
    Header(String),
    #[error("RLE segment {segment}: {found} bytes decoded where {expected} pixels need one each")]
    SegmentLength {
        segment: usize,
        found: usize,
        expected: usize,
    },
}

/// The `pixels` samples of `width` bytes (1, 2 or 4) of one RLE frame `stream` (its 64-byte
/// header, then `width` segments), as little-endian bytes.
pub fn decode_frame(stream: &[u8], pixels: usize, width: usize) -> Result<Vec<u8>, RleError> {
    let planes = segments(
        stream,
        pixels,
        width,
        &format!("one {}-bit sample", 8 * width),
    )?;
    let mut out = vec![0u8; width * pixels];
    for (s, plane) in planes.into_iter().enumerate() {
        // Segment 1 is the most significant byte: the last of each little-endian sample.
        for (p, b) in plane.into_iter().enumerate() {
            out[width * p + width - 1 - s] = b;
        }
    }
    Ok(out)
}

/// The three 8-bit planes (all first samples, then all second, then all third) of one RLE frame
/// of colour (G.2: one segment a sample).
pub fn decode_colour_frame(stream: &[u8], pixels: usize) -> Result<Vec<u8>, RleError> {
    Ok(segments(stream, pixels, 3, "three 8-bit samples")?.concat())
}

/// The `count` segments of frame `stream`, each decoded to `pixels` bytes (`what` a pixel needs
/// them, for the error).
fn segments(
    stream: &[u8],
    pixels: usize,
    count: usize,
    what: &str,
) -> Result<Vec<Vec<u8>>, RleError> {
    let word = |at: usize| {
        stream
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| RleError::Header(format!("{} bytes, 64 expected", stream.len())))
    };
    let found = word(0)?;
    if found != count {
        return Err(RleError::Header(format!(
            "{found} segments where {what} a pixel needs {count}"
        )));
    }
    let offsets: Vec<usize> = (1..=count).map(|k| word(4 * k)).collect::<Result<_, _>>()?;
    // A replicate run makes at most 128 bytes of 2: a frame that cannot hold the image says so
    // before anything of the image's size is allocated (Rows and Columns may be damaged).
    if pixels / 64 > stream.len() {
        return Err(RleError::Header(format!(
            "{} bytes cannot hold {count} segments of {pixels} pixels",
            stream.len()
        )));
    }
    offsets
        .iter()
        .enumerate()
        .map(|(s, &start)| {
            let end = offsets.get(s + 1).copied().unwrap_or(stream.len());
            let segment = stream
                .get(start..end.max(start))
                .filter(|_| start >= 64)
                .ok_or_else(|| {
                    RleError::Header(format!(
                        "segment {} at bytes {start}..{end} of a {}-byte frame",
                        s + 1,
                        stream.len()
                    ))
                })?;
            let (mut bytes, used) = packbits(segment, pixels);
            // What the segment holds beyond the image: a pad byte (G.5), a few more from some
            // writers (pydicom reads a segment of 786,433 bytes for 786,432 pixels, with a
            // warning); more is an image that Rows × Columns do not describe (an 8 × 8 header
            // over 48 × 64 frames gave 8 × 8 slices, or a frame running on into the next one).
            let surplus = bytes.len().saturating_sub(pixels) + decoded_len(&segment[used..]);
            if bytes.len() < pixels || surplus > SURPLUS_READ {
                return Err(RleError::SegmentLength {
                    segment: s + 1,
                    found: pixels.min(bytes.len()) + surplus,
                    expected: pixels,
                });
            }
            bytes.truncate(pixels);
            Ok(bytes)
        })
        .collect()
}

/// The most bytes a segment may decode to beyond its image's pixels and still be read (the
/// surplus dropped): padding, not pixels of another shape.
const SURPLUS_READ: usize = 8;

/// A PackBits stream decoded (G.3.1), stopping once `want` bytes are out (a segment is padded
/// to an even length), and how many of its bytes that took. A header byte n of 0..=127 copies
/// the next n + 1 bytes, −1..=−127 repeats the next byte 1 − n times, −128 does nothing.
fn packbits(segment: &[u8], want: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(want);
    let mut at = 0;
    while at < segment.len() && out.len() < want {
        let n = segment[at] as i8;
        at += 1;
        match n {
            0..=127 => {
                let end = (at + n as usize + 1).min(segment.len());
                out.extend_from_slice(&segment[at..end]);
                at = end;
            }
            -127..=-1 => {
                if let Some(&b) = segment.get(at) {
                    out.extend(std::iter::repeat_n(b, (1 - i32::from(n)) as usize));
                }
                at += 1;
            }
            -128 => {}
        }
    }
    (out, at.min(segment.len()))
}

/// How many bytes a PackBits stream decodes to, without making them (a run cut by the end of
/// the stream counts what it has, as `packbits` gives it: a lone pad byte counts nothing).
fn decoded_len(segment: &[u8]) -> usize {
    let (mut at, mut n) = (0usize, 0usize);
    while at < segment.len() {
        let h = segment[at] as i8;
        at += 1;
        match h {
            0..=127 => {
                let end = (at + h as usize + 1).min(segment.len());
                n += end - at;
                at = end;
            }
            -127..=-1 => {
                if at < segment.len() {
                    n += (1 - i32::from(h)) as usize;
                }
                at += 1;
            }
            -128 => {}
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RLE frame of `segments` (each already PackBits-encoded), with its 64-byte header.
    fn frame(segments: &[Vec<u8>]) -> Vec<u8> {
        let mut header = vec![0u8; 64];
        header[..4].copy_from_slice(&(segments.len() as u32).to_le_bytes());
        let mut at = 64;
        for (k, s) in segments.iter().enumerate() {
            header[4 + 4 * k..8 + 4 * k].copy_from_slice(&(at as u32).to_le_bytes());
            at += s.len();
        }
        [header, segments.concat()].concat()
    }

    #[test]
    fn packbits_follows_g_3_1() {
        // Literal run of 3, replicate run of 4 (header −3), no-op, literal of 1.
        let seg = [2, 10, 11, 12, 0xFD, 7, 0x80, 0, 9];
        assert_eq!(packbits(&seg, 100), (vec![10, 11, 12, 7, 7, 7, 7, 9], 9));
        assert_eq!(decoded_len(&seg), 8);
        // Stops at what the frame needs (the pad byte after it is not a run).
        assert_eq!(packbits(&[0xFF, 5, 0], 2), (vec![5, 5], 2));
        assert_eq!(decoded_len(&[0]), 0);
        // A run cut by the end of the segment gives what there is.
        assert_eq!(packbits(&[4, 1, 2], 100), (vec![1, 2], 3));
        assert_eq!(decoded_len(&[4, 1, 2]), 2);
        assert_eq!(decoded_len(&[0xFF]), 0);
    }

    #[test]
    fn four_segments_make_little_endian_samples() {
        // Two pixels: 0x01020304 and 0xA0B0C0D0, most significant byte in segment 1.
        let segs = [
            vec![1, 0x01, 0xA0],
            vec![1, 0x02, 0xB0],
            vec![1, 0x03, 0xC0],
            vec![1, 0x04, 0xD0],
        ];
        let bytes = decode_frame(&frame(&segs), 2, 4).unwrap();
        assert_eq!(
            bytes,
            [0x01020304u32.to_le_bytes(), 0xA0B0C0D0u32.to_le_bytes()].concat()
        );
    }

    #[test]
    fn three_segments_make_colour_planes() {
        // Two RGB pixels (1, 2, 3) and (4, 5, 6): red in segment 1, green in 2, blue in 3.
        let segs = [vec![1, 1, 4], vec![1, 2, 5], vec![1, 3, 6]];
        assert_eq!(
            decode_colour_frame(&frame(&segs), 2).unwrap(),
            [1, 4, 2, 5, 3, 6]
        );
        assert!(matches!(
            decode_colour_frame(&frame(&segs[..2]), 2),
            Err(RleError::Header(m)) if m.contains("2 segments where three 8-bit samples")
        ));
    }

    #[test]
    fn one_and_two_segments_make_8_and_16_bit_samples() {
        // Three 16-bit pixels 0x0102, 0xA0B0, 0xA0FF: high bytes (a literal run, then a
        // replicate run of 2) in segment 1, low bytes in segment 2, padded to an even length.
        let segs = [vec![0, 0x01, 0xFF, 0xA0], vec![2, 0x02, 0xB0, 0xFF, 0]];
        let bytes = decode_frame(&frame(&segs), 3, 2).unwrap();
        assert_eq!(bytes, [0x02, 0x01, 0xB0, 0xA0, 0xFF, 0xA0]);
        let segs = [vec![0xFE, 7, 0]];
        assert_eq!(decode_frame(&frame(&segs), 3, 1).unwrap(), [7, 7, 7]);
        // A 16-bit frame is not read as 8-bit.
        assert!(matches!(
            decode_frame(&frame(&[vec![0xFE, 7, 0], vec![0xFE, 7, 0]]), 3, 1),
            Err(RleError::Header(m)) if m.contains("2 segments where one 8-bit sample")
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Whatever the segments (and a header pointing at them, its offsets then damaged), a
        /// frame decodes to `width` bytes a pixel or says why: no panic, no over-long output.
        #[test]
        fn any_frame_decodes_or_says_why(
            segments in proptest::collection::vec(proptest::collection::vec(0u8..=255, 0..40), 0..6),
            pixels in 0usize..64,
            width in proptest::sample::select(vec![1usize, 2, 4]),
            damage in proptest::collection::vec((0usize..80, 0u8..=255), 0..3),
        ) {
            let mut stream = frame(&segments);
            for (at, b) in damage {
                if let Some(x) = stream.get_mut(at) {
                    *x = b;
                }
            }
            if let Ok(bytes) = decode_frame(&stream, pixels, width) {
                proptest::prop_assert_eq!(bytes.len(), width * pixels);
            }
        }
    }

    #[test]
    fn malformed_frames_say_why() {
        let segs = [vec![1, 1, 2], vec![1, 1, 2], vec![1, 1, 2]];
        assert!(matches!(
            decode_frame(&frame(&segs), 2, 4),
            Err(RleError::Header(m)) if m.contains("3 segments")
        ));
        let short = [vec![0, 1], vec![1, 1, 2], vec![1, 1, 2], vec![1, 1, 2]];
        assert_eq!(
            decode_frame(&frame(&short), 2, 4),
            Err(RleError::SegmentLength {
                segment: 1,
                found: 1,
                expected: 2
            })
        );
        assert!(matches!(
            decode_frame(&[4, 0, 0], 2, 4),
            Err(RleError::Header(_))
        ));
        // Rows × Columns far beyond what the frame can hold.
        assert!(matches!(
            decode_frame(&frame(&short), 1 << 40, 4),
            Err(RleError::Header(m)) if m.contains("cannot hold")
        ));
        // An offset inside the header.
        let mut bad = frame(
            &segs
                .iter()
                .cloned()
                .chain([vec![1, 1, 2]])
                .collect::<Vec<_>>(),
        );
        bad[4..8].copy_from_slice(&10u32.to_le_bytes());
        assert!(matches!(decode_frame(&bad, 2, 4), Err(RleError::Header(_))));
    }

    /// Regression: a segment that decodes to more bytes than Rows × Columns was read for its
    /// first Rows × Columns bytes, the rest dropped (an 8 × 8 header over 48 × 64 frames gave
    /// 8 × 8 slices with no word). A few bytes beyond (padding, as some writers leave it) are
    /// still dropped; more are refused.
    #[test]
    fn a_segment_longer_than_its_image_is_refused_unless_by_padding() {
        // 64 pixels of one byte: a replicate run of 64, then `extra` more bytes of literal.
        let segment = |extra: usize| {
            let mut s = vec![0xC1u8, 5]; // −63: 64 copies of 5
            if extra > 0 {
                s.push((extra - 1) as u8);
                s.extend(std::iter::repeat_n(9u8, extra));
            }
            s
        };
        assert_eq!(decode_frame(&frame(&[segment(0)]), 64, 1).unwrap(), [5; 64]);
        // One byte too many (the 786,433 bytes for 786,432 of pydicom's issue 1438), or 8.
        for extra in [1, 8] {
            assert_eq!(
                decode_frame(&frame(&[segment(extra)]), 64, 1).unwrap(),
                [5; 64],
                "{extra}"
            );
        }
        // A run past the image by one byte, as a pad: read.
        assert_eq!(
            decode_frame(&frame(&[vec![0xC0, 5]]), 64, 1).unwrap(),
            [5; 64]
        );
        for extra in [9, 64 * 47] {
            assert_eq!(
                decode_frame(&frame(&[segment(extra.min(128))]), 64, 1),
                Err(RleError::SegmentLength {
                    segment: 1,
                    found: 64 + extra.min(128),
                    expected: 64
                }),
                "{extra}"
            );
        }
        // A 48 × 64 frame read as 8 × 8: refused, with the bytes it holds.
        let whole = [0x81u8, 3].repeat(24); // 24 runs of 128 copies: 3,072 bytes
        assert_eq!(
            decode_frame(&frame(&[whole]), 64, 1),
            Err(RleError::SegmentLength {
                segment: 1,
                found: 3072,
                expected: 64
            })
        );
    }
}
