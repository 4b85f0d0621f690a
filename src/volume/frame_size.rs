//! The image size a compressed frame states in its own header, read before the frame is
//! decoded: the JPEG frame header (ITU-T T.81 B.2.2, SOFn; JPEG-LS's SOF55, T.87 C.2.2) and the
//! JPEG 2000 image and tile size marker (ISO/IEC 15444-1 A.5.1, SIZ; a raw codestream, or one
//! inside a JP2 file's contiguous codestream box, I.5.4). PS3.5 8.2 requires these to agree
//! with Rows, Columns and Samples per Pixel. When they do not, dicom-rs's decoders either panic
//! (a frame larger than the DICOM header says) or fill the rest of the frame with zeros, or
//! with the next row's pixels (a smaller frame): a silently wrong volume. `misfit` says why a
//! frame does not fit, its size or the bits its samples need, and the caller refuses the frame
//! with that reason.

use dicom_dictionary_std::uids::{
    HTJ2K, HTJ2K_LOSSLESS, HTJ2K_LOSSLESS_RPCL, JPEG2000, JPEG2000_LOSSLESS, JPEGLS_LOSSLESS,
    JPEGLS_NEAR_LOSSLESS, JPEG_BASELINE8_BIT, JPEG_EXTENDED12_BIT, JPEG_LOSSLESS,
    JPEG_LOSSLESS_SV1,
};

use super::jpeg12::Segments;

/// What a frame's header states: its rows (`None`: JPEG's height left to a DNL marker), columns,
/// number of components (samples a pixel) and sample precision in bits (JPEG 2000: of the first
/// component).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSize {
    pub rows: Option<u32>,
    pub columns: u32,
    pub components: u32,
    pub precision: u8,
}

impl FrameSize {
    /// Whether the frame fits Rows × Columns × Samples per Pixel.
    pub fn fits(&self, rows: u32, columns: u32, samples: u32) -> bool {
        self.rows.is_none_or(|r| r == rows) && self.columns == columns && self.components == samples
    }
}

impl std::fmt::Display for FrameSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.rows {
            Some(r) => write!(f, "{r} rows × {} columns", self.columns)?,
            None => write!(f, "{} columns", self.columns)?,
        }
        write!(
            f,
            ", {} of {} bits",
            crate::plural::count(self.components as usize, "component"),
            self.precision
        )
    }
}

/// Whether the frames of transfer syntax `ts` state their size in a header `misfit` reads.
pub fn has_frame_header(ts: &str) -> bool {
    is_jpeg(ts) || is_jpeg_ls(ts) || is_jpeg_2000(ts)
}

/// JPEG (PS3.5 A.4.1): baseline, extended, lossless and lossless SV1.
pub fn is_jpeg(ts: &str) -> bool {
    matches!(
        ts,
        JPEG_BASELINE8_BIT | JPEG_EXTENDED12_BIT | JPEG_LOSSLESS | JPEG_LOSSLESS_SV1
    )
}

/// JPEG-LS (PS3.5 A.4.3): lossless and near-lossless.
pub fn is_jpeg_ls(ts: &str) -> bool {
    matches!(ts, JPEGLS_LOSSLESS | JPEGLS_NEAR_LOSSLESS)
}

/// JPEG 2000 (PS3.5 A.4.4), and High-Throughput JPEG 2000 (lossless, lossless RPCL, lossy).
pub fn is_jpeg_2000(ts: &str) -> bool {
    matches!(
        ts,
        JPEG2000_LOSSLESS | JPEG2000 | HTJ2K_LOSSLESS | HTJ2K_LOSSLESS_RPCL | HTJ2K
    )
}

/// Why frame `stream` of transfer syntax `ts` does not fit an image of `[rows, columns,
/// samples per pixel]` whose BitsAllocated is `bits`: its header states another size, or
/// samples that do not fit BitsAllocated the way the decoders place them (JPEG: 8 bits or fewer
/// in 8, PS3.5 8.2.1, or in 16, which `pixels` reads one byte a sample; 9 to 16 in 16; JPEG 2000:
/// no more bits than allocated; JPEG-LS: likewise, its decoder gives 16-bit words). `None` when it
/// fits, or when its header cannot be read (its decoder says what is wrong then).
pub fn misfit(
    ts: &str,
    stream: &[u8],
    [rows, columns, samples]: [usize; 3],
    bits: i64,
) -> Option<String> {
    let (size, kind) = if is_jpeg_2000(ts) {
        (jpeg2000(stream)?, "JPEG 2000 SIZ marker")
    } else if is_jpeg(ts) || is_jpeg_ls(ts) {
        (jpeg(stream)?, "JPEG frame header")
    } else {
        return None;
    };
    let fits = match (
        u32::try_from(rows),
        u32::try_from(columns),
        u32::try_from(samples),
    ) {
        (Ok(r), Ok(c), Ok(s)) => size.fits(r, c, s),
        _ => false,
    };
    if !fits {
        return Some(format!(
            "its {kind} says {size}, where Rows × Columns say {rows} × {columns} and \
             SamplesPerPixel {samples}"
        ));
    }
    let p = i64::from(size.precision);
    let (held, need) = if is_jpeg(ts) {
        (
            bits == 16 || (p <= 8 && bits == 8),
            if p <= 8 { 8 } else { 16 },
        )
    } else if is_jpeg_ls(ts) {
        // Its decoder gives 16-bit words, read with BitsStored: samples of more bits than
        // allocated were cut to them (a 16-bit stream under BitsAllocated 8: 510 for 8000).
        (p <= bits, if p <= 8 { 8 } else { 16 })
    } else {
        (
            p <= bits,
            if p <= 8 {
                8
            } else if p <= 16 {
                16
            } else {
                32
            },
        )
    };
    (!held).then(|| {
        format!(
            "its {kind} gives samples of {p} bits, which need BitsAllocated {need} where the \
             header says {bits}"
        )
    })
}

/// The frame header of a JPEG stream (any process, and JPEG-LS), `None` when the stream is not
/// JPEG or has no frame header before its first scan (the decoder says what is wrong then).
pub fn jpeg(stream: &[u8]) -> Option<FrameSize> {
    for seg in Segments::new(stream).ok()? {
        let (marker, payload, _) = seg.ok()?;
        match marker {
            // SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC); SOF55 of JPEG-LS.
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => return frame_header(payload),
            0xF7 => return frame_header(payload),
            0xDA => return None,
            _ => {}
        }
    }
    None
}

/// P (1 byte), Y (2), X (2), Nf (1) of a frame header's payload.
fn frame_header(p: &[u8]) -> Option<FrameSize> {
    let b = p.get(..6)?;
    let rows = u32::from(u16::from_be_bytes([b[1], b[2]]));
    Some(FrameSize {
        rows: (rows != 0).then_some(rows),
        columns: u32::from(u16::from_be_bytes([b[3], b[4]])),
        components: u32::from(b[5]),
        precision: b[0],
    })
}

/// The SIZ of a JPEG 2000 codestream (SOC then SIZ), or of the codestream in a JP2 file's
/// `jp2c` box; `None` when neither is found.
pub fn jpeg2000(stream: &[u8]) -> Option<FrameSize> {
    const SOC_SIZ: [u8; 4] = [0xFF, 0x4F, 0xFF, 0x51];
    let codestream = if stream.starts_with(&SOC_SIZ) {
        stream
    } else {
        jp2_codestream(stream)?
    };
    siz(codestream.strip_prefix(&SOC_SIZ)?)
}

/// Lsiz (2), Rsiz (2), Xsiz, Ysiz, XOsiz, YOsiz (4 each), XTsiz … YTOsiz (16), Csiz (2), then
/// each component's Ssiz (1: precision − 1, the top bit for signed samples), XRsiz, YRsiz.
fn siz(p: &[u8]) -> Option<FrameSize> {
    let word = |at: usize| {
        p.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (x, y, x0, y0) = (word(4)?, word(8)?, word(12)?, word(16)?);
    let csiz = p.get(36..38)?;
    Some(FrameSize {
        rows: Some(y.checked_sub(y0)?),
        columns: x.checked_sub(x0)?,
        components: u32::from(u16::from_be_bytes([csiz[0], csiz[1]])),
        precision: (p.get(38)? & 0x7F) + 1,
    })
}

/// The contents of the first `jp2c` box of a JP2 file (boxes: LBox (4), TBox (4), XLBox (8)
/// when LBox is 1; LBox 0: to the end).
fn jp2_codestream(stream: &[u8]) -> Option<&[u8]> {
    let mut at = 0usize;
    while let Some(head) = stream.get(at..at + 8) {
        let lbox = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let (start, len) = match lbox {
            0 => (at + 8, stream.len() - at),
            1 => {
                let x = stream.get(at + 8..at + 16)?;
                let xl = u64::from_be_bytes(x.try_into().ok()?);
                (at + 16, usize::try_from(xl).ok()?)
            }
            n => (at + 8, n),
        };
        if len < start - at {
            return None;
        }
        if &head[4..8] == b"jp2c" {
            return stream.get(start..(at + len).min(stream.len()));
        }
        at = at.checked_add(len)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A baseline JPEG's start: SOI, a comment, then SOF0 of 48 rows, 64 columns, 1 component.
    fn jpeg_start(sof: u8, rows: u16, cols: u16, comps: u8) -> Vec<u8> {
        let mut s = vec![
            0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x04, b'h', b'i', 0xFF, sof, 0x00,
        ];
        s.push(8 + 3 * comps);
        s.push(8);
        s.extend_from_slice(&rows.to_be_bytes());
        s.extend_from_slice(&cols.to_be_bytes());
        s.push(comps);
        for c in 0..comps {
            s.extend_from_slice(&[c + 1, 0x11, 0]);
        }
        s.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x02]);
        s
    }

    #[test]
    fn jpeg_frame_headers_give_their_size() {
        for sof in [0xC0, 0xC1, 0xC3, 0xF7] {
            assert_eq!(
                jpeg(&jpeg_start(sof, 48, 64, 1)),
                Some(FrameSize {
                    rows: Some(48),
                    columns: 64,
                    components: 1,
                    precision: 8
                }),
                "SOF 0x{sof:02X}"
            );
        }
        let colour = jpeg(&jpeg_start(0xC0, 5, 7, 3)).unwrap();
        assert!(colour.fits(5, 7, 3));
        assert!(!colour.fits(5, 7, 1));
        assert!(!colour.fits(5, 8, 3));
        assert!(!colour.fits(6, 7, 3));
        // Height 0: left to a DNL marker, so any number of rows fits.
        let dnl = jpeg(&jpeg_start(0xC0, 0, 7, 1)).unwrap();
        assert_eq!(dnl.rows, None);
        assert!(dnl.fits(123, 7, 1));
        assert_eq!(dnl.to_string(), "7 columns, 1 component of 8 bits");
        // No frame header before the scan, or not JPEG at all.
        assert_eq!(jpeg(&[0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02]), None);
        assert_eq!(jpeg(b"not a jpeg"), None);
        assert_eq!(jpeg(&jpeg_start(0xC0, 48, 64, 1)[..14]), None);
    }

    /// The frame header against the image's attributes: size first, then BitsAllocated as each
    /// syntax's decoder places the samples.
    #[test]
    fn a_frame_misfits_by_size_or_by_the_bits_its_samples_need() {
        const BASELINE: &str = "1.2.840.10008.1.2.4.50";
        const LS: &str = "1.2.840.10008.1.2.4.80";
        const J2K: &str = "1.2.840.10008.1.2.4.90";
        let eight_bit = jpeg_start(0xC0, 48, 64, 1);
        assert_eq!(misfit(BASELINE, &eight_bit, [48, 64, 1], 8), None);
        // 8-bit samples in 16 bits: read one byte a sample (pixels::jpeg8_in_16_frames).
        assert_eq!(misfit(BASELINE, &eight_bit, [48, 64, 1], 16), None);
        assert_eq!(
            misfit(BASELINE, &eight_bit, [48, 65, 1], 8).unwrap(),
            "its JPEG frame header says 48 rows × 64 columns, 1 component of 8 bits, where \
             Rows × Columns say 48 × 65 and SamplesPerPixel 1"
        );
        let mut twelve_bit = jpeg_start(0xC1, 48, 64, 1);
        twelve_bit[12] = 12;
        assert_eq!(misfit(BASELINE, &twelve_bit, [48, 64, 1], 16), None);
        assert_eq!(
            misfit(BASELINE, &twelve_bit, [48, 64, 1], 8).unwrap(),
            "its JPEG frame header gives samples of 12 bits, which need BitsAllocated 16 where \
             the header says 8"
        );
        // JPEG-LS: its decoder gives 16-bit words, so 8-bit samples fit 8 or 16 bits; 12-bit
        // ones only 16 (they were cut to 8 bits without a word).
        let mut ls = jpeg_start(0xF7, 48, 64, 1);
        assert_eq!(misfit(LS, &ls, [48, 64, 1], 8), None);
        assert_eq!(misfit(LS, &ls, [48, 64, 1], 16), None);
        ls[12] = 12;
        assert_eq!(misfit(LS, &ls, [48, 64, 1], 16), None);
        assert_eq!(
            misfit(LS, &ls, [48, 64, 1], 8).unwrap(),
            "its JPEG frame header gives samples of 12 bits, which need BitsAllocated 16 where \
             the header says 8"
        );
        // JPEG 2000 (12-bit samples, 60 × 100, 1 component): no more bits than allocated.
        let cs = codestream(1);
        assert_eq!(misfit(J2K, &cs, [60, 100, 1], 16), None);
        assert_eq!(
            misfit(J2K, &cs, [60, 100, 1], 8).unwrap(),
            "its JPEG 2000 SIZ marker gives samples of 12 bits, which need BitsAllocated 16 \
             where the header says 8"
        );
        assert!(misfit(J2K, &cs, [60, 100, 3], 16).is_some());
        // No header to read, or a syntax without one: left to the decoder.
        assert_eq!(misfit(J2K, b"not a codestream", [60, 100, 1], 8), None);
        assert_eq!(
            misfit("1.2.840.10008.1.2.5", &eight_bit, [1, 1, 1], 8),
            None
        );
        assert!(has_frame_header(J2K) && has_frame_header(LS) && has_frame_header(BASELINE));
        assert!(!has_frame_header("1.2.840.10008.1.2.5"));
    }

    /// SOC, then SIZ of an image 100 wide, 60 high, offset (10, 20) on the reference grid (so
    /// Xsiz 110, Ysiz 80), with `comps` components.
    fn codestream(comps: u16) -> Vec<u8> {
        let mut s = vec![0xFF, 0x4F, 0xFF, 0x51];
        s.extend_from_slice(&(38 + 3 * comps).to_be_bytes());
        s.extend_from_slice(&[0, 0]);
        for v in [110u32, 80, 10, 20, 110, 80, 0, 0] {
            s.extend_from_slice(&v.to_be_bytes());
        }
        s.extend_from_slice(&comps.to_be_bytes());
        for _ in 0..comps {
            // 12-bit signed samples.
            s.extend_from_slice(&[0x80 | 11, 1, 1]);
        }
        s
    }

    #[test]
    fn jpeg2000_siz_gives_the_image_size_less_its_offset() {
        let want = FrameSize {
            rows: Some(60),
            columns: 100,
            components: 3,
            precision: 12,
        };
        assert_eq!(jpeg2000(&codestream(3)), Some(want));
        assert_eq!(
            want.to_string(),
            "60 rows × 100 columns, 3 components of 12 bits"
        );
        // In a JP2 file: signature box, a header box, then the codestream box.
        let mut jp2 = vec![0, 0, 0, 12, b'j', b'P', b' ', b' ', 0x0D, 0x0A, 0x87, 0x0A];
        jp2.extend_from_slice(&[0, 0, 0, 10, b'j', b'p', b'2', b'h', 1, 2]);
        let cs = codestream(1);
        jp2.extend_from_slice(&(8 + cs.len() as u32).to_be_bytes());
        jp2.extend_from_slice(b"jp2c");
        jp2.extend_from_slice(&cs);
        assert_eq!(
            jpeg2000(&jp2),
            Some(FrameSize {
                rows: Some(60),
                columns: 100,
                components: 1,
                precision: 12
            })
        );
        // A truncated SIZ, a JP2 file without a codestream box, a box length that runs back.
        assert_eq!(jpeg2000(&codestream(1)[..30]), None);
        assert_eq!(jpeg2000(&jp2[..22]), None);
        assert_eq!(jpeg2000(&[0, 0, 0, 4, b'j', b'p', b'2', b'c']), None);
    }
}
