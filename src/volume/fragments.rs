//! Which fragments of encapsulated Pixel Data (PS3.5 A.4) make which frame: every fragment of a
//! single-frame image; one fragment a frame when there are as many as frames; otherwise the
//! fragments from each offset of the Basic Offset Table to the next. A multi-frame image with
//! more fragments than frames and an empty table is allowed by A.4 (DCMTK writes one with
//! `dcmcjpeg +fs 1 -ot`): the frames are then found where their streams start, as pydicom and
//! GDCM find them. A JPEG or JPEG-LS stream starts with SOI (T.81 B.1.1.3; neither coding can
//! put FF D8 in entropy-coded data), a JPEG 2000 codestream with SOC then SIZ (15444-1 A.4.1,
//! A.5.1), an RLE frame with its header (PS3.5 G.3.1: the number of segments, 1 to 15, then the
//! first segment's offset, 64). The starts found are used only when they number the frames.

use dicom_dictionary_std::uids::RLE_LOSSLESS;
use thiserror::Error;

/// Why a frame's fragments cannot be told.
#[derive(Debug, Error, PartialEq)]
pub enum FragmentError {
    #[error("{} where frame {frame} needs at least {needed}", crate::plural::count(*.found, "fragment"))]
    Short {
        found: usize,
        frame: u32,
        needed: usize,
    },
    #[error(
        "{fragments} fragments for {frames} frames, no Basic Offset Table entry for frame \
         {frame}, and the fragments do not show where each frame starts"
    )]
    NoOffset {
        fragments: usize,
        frames: usize,
        frame: u32,
    },
}

/// The stream of frame `frame` of a pixel sequence of `frames` frames: its fragments joined.
pub fn frame_of(
    fragments: &[Vec<u8>],
    table: &[u32],
    frames: usize,
    frame: u32,
) -> Result<Vec<u8>, FragmentError> {
    let k = frame as usize;
    let short = || FragmentError::Short {
        found: fragments.len(),
        frame,
        needed: k + 1,
    };
    if frames == 1 {
        return Ok(fragments.concat());
    }
    if fragments.len() == frames {
        return fragments.get(k).cloned().ok_or_else(short);
    }
    // Offsets count from the first fragment's item tag; each item has an 8-byte header.
    let (Some(&start), end) = (table.get(k), table.get(k + 1).copied()) else {
        return Err(FragmentError::NoOffset {
            fragments: fragments.len(),
            frames,
            frame,
        });
    };
    let mut at = 0u64;
    let mut stream = Vec::new();
    for f in fragments {
        if at >= u64::from(start) && end.is_none_or(|e| at < u64::from(e)) {
            stream.extend_from_slice(f);
        }
        at += 8 + f.len() as u64;
    }
    if stream.is_empty() {
        return Err(short());
    }
    Ok(stream)
}

/// The Basic Offset Table a pixel sequence of `frames` frames lacks, from where its frames'
/// streams start (`starts_frame`): `None` unless the sequence has an empty table and more
/// fragments than frames, and exactly `frames` fragments start a stream, the first among them.
pub fn found_offsets(
    fragments: &[Vec<u8>],
    table: &[u32],
    frames: usize,
    starts_frame: fn(&[u8]) -> bool,
) -> Option<Vec<u32>> {
    if frames < 2 || !table.is_empty() || fragments.len() <= frames {
        return None;
    }
    let mut offsets = Vec::with_capacity(frames);
    let mut at = 0u64;
    for f in fragments {
        if starts_frame(f) {
            offsets.push(u32::try_from(at).ok()?);
        }
        at += 8 + f.len() as u64;
    }
    (offsets.len() == frames && offsets.first() == Some(&0)).then_some(offsets)
}

/// How a frame's stream starts in transfer syntax `ts`, for the syntaxes whose streams say so.
pub fn start_of_frame(ts: &str) -> Option<fn(&[u8]) -> bool> {
    use super::frame_size::{is_jpeg, is_jpeg_2000, is_jpeg_ls};
    if is_jpeg(ts) || is_jpeg_ls(ts) {
        Some(|f| f.starts_with(&[0xFF, 0xD8]))
    } else if is_jpeg_2000(ts) {
        Some(|f| f.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]))
    } else if ts == RLE_LOSSLESS {
        Some(|f| {
            f.get(..8).is_some_and(|h| {
                (1..=15).contains(&h[0]) && h[1..4] == [0, 0, 0] && h[4..8] == [64, 0, 0, 0]
            })
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_found_among_fragments() {
        let f: Vec<Vec<u8>> = vec![vec![1, 1], vec![2], vec![3, 3, 3], vec![4], vec![5, 5]];
        let table = [0, 8 + 2 + 8 + 1, 8 + 2 + 8 + 1 + 8 + 3];
        let frame = |k| frame_of(&f, &table, 3, k).unwrap();
        assert_eq!(frame(0), [1, 1, 2]);
        assert_eq!(frame(1), [3, 3, 3]);
        assert_eq!(frame(2), [4, 5, 5]);
        assert_eq!(
            frame_of(&f, &[], 1, 0).unwrap(),
            [1, 1, 2, 3, 3, 3, 4, 5, 5]
        );
        assert_eq!(frame_of(&f[..3], &[], 3, 2).unwrap(), [3, 3, 3]);
        assert_eq!(
            frame_of(&f, &[], 3, 1),
            Err(FragmentError::NoOffset {
                fragments: 5,
                frames: 3,
                frame: 1
            })
        );
        assert!(frame_of(&f, &table, 4, 3).is_err());
        assert_eq!(
            frame_of(&f[..2], &[], 3, 2).unwrap_err().to_string(),
            "2 fragments for 3 frames, no Basic Offset Table entry for frame 2, and the \
             fragments do not show where each frame starts"
        );
    }

    /// Three JPEG frames cut into fragments (SOI starting the first fragment of each): the
    /// offsets found are those of the Basic Offset Table DCMTK would have written, and give
    /// each frame back whole.
    #[test]
    fn jpeg_frames_are_found_by_their_start_of_image() {
        let jpeg = start_of_frame("1.2.840.10008.1.2.4.70").unwrap();
        let f: Vec<Vec<u8>> = vec![
            vec![0xFF, 0xD8, 1, 1],
            vec![1, 0xFF, 0xD9, 0],
            vec![0xFF, 0xD8, 2, 0xFF, 0xD9, 0],
            vec![0xFF, 0xD8, 3, 3],
            // FF D8 inside a fragment is not a start.
            vec![3, 0xFF, 0xD8, 0xD9],
        ];
        let offsets = found_offsets(&f, &[], 3, jpeg).unwrap();
        assert_eq!(offsets, [0, 8 + 4 + 8 + 4, 8 + 4 + 8 + 4 + 8 + 6]);
        assert_eq!(
            frame_of(&f, &offsets, 3, 0).unwrap(),
            [0xFF, 0xD8, 1, 1, 1, 0xFF, 0xD9, 0]
        );
        assert_eq!(
            frame_of(&f, &offsets, 3, 1).unwrap(),
            [0xFF, 0xD8, 2, 0xFF, 0xD9, 0]
        );
        assert_eq!(
            frame_of(&f, &offsets, 3, 2).unwrap(),
            [0xFF, 0xD8, 3, 3, 3, 0xFF, 0xD8, 0xD9]
        );
        // Not when the starts do not number the frames, when the first fragment starts none,
        // when a table is there, or when each frame is one fragment already.
        assert_eq!(found_offsets(&f, &[], 4, jpeg), None);
        assert_eq!(found_offsets(&f[1..], &[], 2, jpeg), None);
        assert_eq!(found_offsets(&f, &[0, 24, 46], 3, jpeg), None);
        assert_eq!(found_offsets(&f[..3], &[], 3, jpeg), None);
    }

    #[test]
    fn jpeg_2000_and_rle_frames_start_as_their_standards_say() {
        let j2k = start_of_frame("1.2.840.10008.1.2.4.90").unwrap();
        assert!(j2k(&[0xFF, 0x4F, 0xFF, 0x51, 0, 41]));
        assert!(!j2k(&[0xFF, 0x4F, 0xFF, 0x52]));
        let rle = start_of_frame("1.2.840.10008.1.2.5").unwrap();
        assert!(rle(&[2, 0, 0, 0, 64, 0, 0, 0, 0x10, 0x20]));
        assert!(!rle(&[0, 0, 0, 0, 64, 0, 0, 0]));
        assert!(!rle(&[16, 0, 0, 0, 64, 0, 0, 0]));
        assert!(!rle(&[2, 0, 0, 0, 65, 0, 0, 0]));
        assert!(!rle(&[2, 0, 0, 0, 64]));
        assert!(start_of_frame("1.2.840.10008.1.2.1").is_none());
    }
}
