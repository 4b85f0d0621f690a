//! Whether a file's Pixel Data (7FE0,0010) is present and complete, judged without reading it:
//! native data must hold Rows × Columns × frames × samples × BitsAllocated bytes (PS3.5 8.1.1,
//! PS3.3 C.7.6.3), encapsulated data its fragments and sequence delimitation item (PS3.5 A.4);
//! where the length check's walk (`preflight`) found the element, from there, else from the end
//! of the file.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// Bytes of native (uncompressed) Pixel Data, padded to even length.
pub fn native_pixel_bytes(rows: u32, cols: u32, frames: u32, spp: u16, bits: u16) -> u64 {
    let px = rows as u64 * cols as u64 * frames as u64 * spp as u64;
    let bytes = if bits == 1 {
        px.div_ceil(8)
    } else {
        px * (bits as u64 / 8)
    };
    bytes + (bytes & 1)
}

pub(super) enum PixelState {
    /// Complete; for native little-endian data, the byte offset of the value in the file.
    Complete(Option<u64>),
    Absent,
    Truncated(String),
    /// Longer than the image attributes say (not a short file: a malformed one).
    Mismatch(String),
}

pub(super) fn is_encapsulated(ts: &str) -> bool {
    !matches!(
        ts,
        "1.2.840.10008.1.2"
            | "1.2.840.10008.1.2.1"
            | "1.2.840.10008.1.2.2"
            | "1.2.840.10008.1.2.1.99"
    )
}

/// Why encapsulated Pixel Data whose sequence delimiter is missing is truncated (the scan's
/// reason, and de-identification's for the same file).
pub const UNDELIMITED_PIXEL_DATA: &str =
    "encapsulated Pixel Data does not end with a sequence delimitation item";

/// Check that Pixel Data is present and complete, without reading it: where the length check's
/// walk found it, native data must have the length the image attributes give and encapsulated
/// data its sequence delimitation item; where the walk did not locate it, the same is judged
/// from the tail of the file (`len` bytes): native data ending the file, encapsulated data
/// ending with the delimiter.
pub(super) fn pixel_data_state(
    f: &mut File,
    len: u64,
    ts: &str,
    expected: u64,
    walked: Option<super::preflight::PixelData>,
) -> std::io::Result<PixelState> {
    if ts == "1.2.840.10008.1.2.1.99" {
        // Deflated: the tail is compressed; completeness is known only on decoding.
        return Ok(PixelState::Complete(None));
    }
    let big = ts == "1.2.840.10008.1.2.2";
    // Where the length check's walk found it (elements may follow it, such as Data Set Trailing
    // Padding (FFFC,FFFC) or a digital signature); its length already fits in the file.
    match walked {
        Some(p) if is_encapsulated(ts) && p.length.is_none() => {
            return Ok(if p.complete() {
                PixelState::Complete(None)
            } else {
                PixelState::Truncated(UNDELIMITED_PIXEL_DATA.into())
            });
        }
        Some(super::preflight::PixelData {
            value_at,
            length: Some(declared),
            ..
        }) if !is_encapsulated(ts) => {
            // Longer than the image needs: trailing padding, read past as dcm2niix and pydicom
            // read past it (pydicom's MR_small_padded.dcm).
            return Ok(if declared >= expected.saturating_sub(1) {
                PixelState::Complete((!big).then_some(value_at))
            } else {
                PixelState::Mismatch(format!(
                    "Pixel Data (7FE0,0010) holds {declared} bytes where Rows × Columns × \
                         frames × samples × BitsAllocated give {expected}"
                ))
            });
        }
        // Not found by the walk: judged from the end of the file.
        _ => {}
    }
    if is_encapsulated(ts) {
        if len < 8 {
            return Ok(PixelState::Truncated(
                "file shorter than a sequence delimiter".into(),
            ));
        }
        let mut tail = [0u8; 8];
        f.seek(SeekFrom::Start(len - 8))?;
        f.read_exact(&mut tail)?;
        return Ok(if tail == [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0] {
            PixelState::Complete(None)
        } else {
            PixelState::Truncated(UNDELIMITED_PIXEL_DATA.into())
        });
    }
    // Pixel Data header: explicit VR = tag(4) VR(2) 00 00 len(4) = 12 bytes; implicit = 8 bytes.
    for (hdr, data_len) in [(12u64, expected), (8, expected)] {
        if len < hdr + data_len {
            continue;
        }
        let at = len - data_len - hdr;
        let mut h = [0u8; 12];
        f.seek(SeekFrom::Start(at))?;
        f.read_exact(&mut h[..hdr as usize])?;
        let tag_ok = if big {
            h[..4] == [0x7F, 0xE0, 0x00, 0x10]
        } else {
            h[..4] == [0xE0, 0x7F, 0x10, 0x00]
        };
        if tag_ok {
            let l = &h[hdr as usize - 4..hdr as usize];
            let declared = if big {
                u32::from_be_bytes([l[0], l[1], l[2], l[3]])
            } else {
                u32::from_le_bytes([l[0], l[1], l[2], l[3]])
            } as u64;
            if declared == data_len || declared == data_len.saturating_sub(1) {
                return Ok(PixelState::Complete((!big).then_some(at + hdr)));
            }
        }
    }
    // Not at the expected place: search the last part of the file for the Pixel Data header to
    // tell "absent" from "shorter than declared".
    let window = (expected + 4096).min(len);
    let mut buf = vec![0u8; window as usize];
    f.seek(SeekFrom::Start(len - window))?;
    f.read_exact(&mut buf)?;
    let pat: [u8; 4] = if big {
        [0x7F, 0xE0, 0x00, 0x10]
    } else {
        [0xE0, 0x7F, 0x10, 0x00]
    };
    if let Some(pos) = buf.windows(4).rposition(|w| w == pat) {
        let held = (window - pos as u64).saturating_sub(12);
        return Ok(if held < expected {
            PixelState::Truncated(format!(
                "Pixel Data holds {held} of {expected} expected bytes"
            ))
        } else {
            PixelState::Mismatch(format!(
                "Pixel Data (7FE0,0010) is followed by {held} bytes where Rows × Columns × \
                 frames × samples × BitsAllocated give {expected}"
            ))
        });
    }
    if len < expected {
        return Ok(PixelState::Truncated(format!(
            "file has {len} bytes, Pixel Data alone needs {expected}"
        )));
    }
    Ok(PixelState::Absent)
}
