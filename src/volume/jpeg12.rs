//! JPEG sequential DCT with 12-bit samples (ITU-T T.81 process 4, Huffman coding): the lossy
//! 12-bit half of DICOM's JPEG Extended transfer syntax 1.2.840.10008.1.2.4.51 (PS3.5 A.4.1),
//! which jpeg-decoder (and so dicom-rs) refuses ("sample precision 12") and dcm2niix does not
//! decode either ("decompress with dcmdjpg or gdcmconv").
//!
//! One grey-scale component in one scan (how DICOM stores 12-bit images), restart intervals,
//! 8- and 16-bit quantisation tables. The inverse DCT is T.81 A.3.3's formula in double
//! precision, rounded, level-shifted by 2^(P−1) and clamped to 0..2^P − 1 (libjpeg's integer
//! transform rounds a sample one grey level apart now and then; the tests allow that much
//! against DCMTK's and libjpeg-turbo's decoders). 8-bit streams of the same process decode too,
//! so the tests can compare with more encoders; the pixel module sends only 12-bit ones here.
//! Anything else (progressive, lossless, arithmetic coding, several components, a height left to
//! a DNL marker) is refused with its name, and a damaged stream is an error, never a panic or
//! a silently short image.

/// Why a stream did not decode.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Jpeg12Error {
    #[error("not a JPEG stream (no SOI marker)")]
    NoSoi,
    #[error("the stream ends inside {0}")]
    Truncated(&'static str),
    #[error("unsupported JPEG: {0}")]
    Unsupported(String),
    #[error("malformed JPEG: {0}")]
    Malformed(String),
}

/// A decoded image: `width × height` samples, rows top to bottom, columns fastest.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub precision: u8,
    pub samples: Vec<u16>,
}

/// Natural (row-major) index of the k-th coefficient in zig-zag order (T.81 figure A.6).
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// The sample precision (bits) of a DCT stream's frame header, `None` when the stream has no
/// SOF before its scan or is not JPEG. Lossless frames (SOF3, SOF7, SOF11, SOF15) answer `None`:
/// their precision is another decoder's business.
pub fn dct_precision(stream: &[u8]) -> Option<u8> {
    for seg in Segments::new(stream).ok()? {
        let (marker, payload, _) = seg.ok()?;
        match marker {
            0xC3 | 0xC7 | 0xCB | 0xCF => return None,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return payload.first().copied()
            }
            0xDA => return None,
            _ => {}
        }
    }
    None
}

/// The marker segments of a stream from after its SOI (T.81 B.1.1.2): each marker with its
/// payload (empty for the standalone RSTn and TEM) and the position after it, up to and including
/// the first SOS or EOI. The first error ends the walk. (`frame_size` reads frame headers
/// with it.)
pub(super) struct Segments<'a> {
    stream: &'a [u8],
    at: usize,
    done: bool,
}

impl<'a> Segments<'a> {
    pub(super) fn new(stream: &'a [u8]) -> Result<Self, Jpeg12Error> {
        if stream.get(..2) != Some(&[0xFF, 0xD8]) {
            return Err(Jpeg12Error::NoSoi);
        }
        Ok(Segments {
            stream,
            at: 2,
            done: false,
        })
    }

    fn step(&mut self) -> Result<(u8, &'a [u8], usize), Jpeg12Error> {
        let (marker, after) = next_marker(self.stream, self.at)?;
        let (payload, end) = match marker {
            0xD0..=0xD9 | 0x01 => (&self.stream[after..after], after),
            _ => segment(self.stream, after)?,
        };
        self.done = matches!(marker, 0xDA | 0xD9);
        self.at = end;
        Ok((marker, payload, end))
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Result<(u8, &'a [u8], usize), Jpeg12Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step();
        self.done |= r.is_err();
        Some(r)
    }
}

/// The marker code at `at` (after any fill bytes 0xFF) and the position after it.
fn next_marker(stream: &[u8], mut at: usize) -> Result<(u8, usize), Jpeg12Error> {
    if stream.get(at) != Some(&0xFF) {
        return match stream.get(at) {
            None => Err(Jpeg12Error::Truncated("the marker segments")),
            Some(b) => Err(Jpeg12Error::Malformed(format!(
                "byte {at}: 0x{b:02X} where a marker was expected"
            ))),
        };
    }
    while stream.get(at + 1) == Some(&0xFF) {
        at += 1;
    }
    match stream.get(at + 1) {
        Some(&m) => Ok((m, at + 2)),
        None => Err(Jpeg12Error::Truncated("a marker")),
    }
}

/// The payload of the marker segment whose length field starts at `at`, and the position after
/// the segment.
fn segment(stream: &[u8], at: usize) -> Result<(&[u8], usize), Jpeg12Error> {
    let len = match stream.get(at..at + 2) {
        Some(b) => usize::from(u16::from_be_bytes([b[0], b[1]])),
        None => return Err(Jpeg12Error::Truncated("a segment length")),
    };
    if len < 2 {
        return Err(Jpeg12Error::Malformed(format!(
            "byte {at}: segment length {len}"
        )));
    }
    stream
        .get(at + 2..at + len)
        .map(|p| (p, at + len))
        .ok_or(Jpeg12Error::Truncated("a marker segment"))
}

/// A Huffman table as T.81 F.2.2.3 decodes with it: for each code length, the largest code, the
/// first code and where its values start.
struct Huffman {
    max_code: [i32; 17],
    min_code: [i32; 17],
    first_value: [usize; 17],
    values: Vec<u8>,
}

impl Huffman {
    /// From the DHT segment's 16 counts (codes of each length) and values (T.81 C.2).
    fn new(counts: &[u8], values: Vec<u8>) -> Result<Self, Jpeg12Error> {
        let mut t = Huffman {
            max_code: [-1; 17],
            min_code: [0; 17],
            first_value: [0; 17],
            values,
        };
        let (mut code, mut k) = (0i32, 0usize);
        for len in 1..=16 {
            let n = usize::from(counts[len - 1]);
            if n > 0 {
                t.first_value[len] = k;
                t.min_code[len] = code;
                code += n as i32;
                k += n;
                t.max_code[len] = code - 1;
                if code > 1 << len {
                    return Err(Jpeg12Error::Malformed(format!(
                        "Huffman table with more codes of length {len} than there are"
                    )));
                }
            }
            code <<= 1;
        }
        if k != t.values.len() {
            return Err(Jpeg12Error::Malformed(
                "Huffman table shorter than its counts".into(),
            ));
        }
        Ok(t)
    }

    /// The next value of the entropy-coded data (T.81 F.2.2.3, bit by bit).
    fn decode(&self, bits: &mut Bits) -> Result<u8, Jpeg12Error> {
        let mut code = bits.bit()? as i32;
        for len in 1..=16 {
            if code <= self.max_code[len] {
                let at = self.first_value[len] + (code - self.min_code[len]) as usize;
                return self
                    .values
                    .get(at)
                    .copied()
                    .ok_or_else(|| Jpeg12Error::Malformed("Huffman code without a value".into()));
            }
            code = (code << 1) | bits.bit()? as i32;
        }
        Err(Jpeg12Error::Malformed(
            "bits that match no Huffman code".into(),
        ))
    }
}

/// The entropy-coded data read a bit at a time: stuffed zero bytes (FF 00) dropped; a marker ends
/// the data until `restart` steps over it.
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
    byte: u32,
    left: u32,
}

impl Bits<'_> {
    fn bit(&mut self) -> Result<u32, Jpeg12Error> {
        if self.left == 0 {
            let b = *self
                .data
                .get(self.at)
                .ok_or(Jpeg12Error::Truncated("the entropy-coded data"))?;
            if b == 0xFF {
                match self.data.get(self.at + 1) {
                    Some(0) => self.at += 2,
                    Some(_) => {
                        return Err(Jpeg12Error::Malformed(format!(
                            "byte {}: a marker inside the image's entropy-coded data (fewer blocks than the frame needs)",
                            self.at
                        )))
                    }
                    None => return Err(Jpeg12Error::Truncated("the entropy-coded data")),
                }
            } else {
                self.at += 1;
            }
            self.byte = u32::from(b);
            self.left = 8;
        }
        self.left -= 1;
        Ok((self.byte >> self.left) & 1)
    }

    /// `n` bits as an unsigned number, first bit most significant (T.81 F.2.2.4 RECEIVE).
    fn receive(&mut self, n: u8) -> Result<i32, Jpeg12Error> {
        let mut v = 0i32;
        for _ in 0..n {
            v = (v << 1) | self.bit()? as i32;
        }
        Ok(v)
    }

    /// At a restart interval's end: the bits left in the byte are padding; the marker RSTm
    /// (m = `index`, counting modulo 8) must follow.
    fn restart(&mut self, index: u8) -> Result<(), Jpeg12Error> {
        self.left = 0;
        let (marker, after) = next_marker(self.data, self.at)?;
        if marker != 0xD0 + index {
            return Err(Jpeg12Error::Malformed(format!(
                "byte {}: marker 0x{marker:02X} where restart marker RST{index} was expected",
                self.at
            )));
        }
        self.at = after;
        Ok(())
    }
}

/// T.81 F.12 EXTEND: the signed value of `v` received in `t` bits.
fn extend(v: i32, t: u8) -> i32 {
    if t == 0 {
        0
    } else if v < 1 << (t - 1) {
        v - (1 << t) + 1
    } else {
        v
    }
}

/// `c(u)/2 · cos((2x + 1)uπ/16)` at `[x][u]`, c(0) = 1/√2, c(u > 0) = 1 (T.81 A.3.3).
fn idct_basis() -> [[f64; 8]; 8] {
    let mut t = [[0.0; 8]; 8];
    for (x, row) in t.iter_mut().enumerate() {
        for (u, c) in row.iter_mut().enumerate() {
            let cu = if u == 0 {
                std::f64::consts::FRAC_1_SQRT_2
            } else {
                1.0
            };
            *c = cu / 2.0 * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos();
        }
    }
    t
}

/// The inverse DCT of a block of dequantised coefficients (natural order), level-shifted and
/// clamped: its 64 samples, row-major.
fn idct(basis: &[[f64; 8]; 8], coef: &[f64; 64], precision: u8) -> [u16; 64] {
    // Rows of the horizontal transform first, then columns.
    let mut g = [0.0f64; 64];
    for v in 0..8 {
        let f = &coef[v * 8..v * 8 + 8];
        if f.iter().all(|c| *c == 0.0) {
            continue;
        }
        for x in 0..8 {
            g[v * 8 + x] = (0..8).map(|u| basis[x][u] * f[u]).sum();
        }
    }
    let shift = f64::from(1u32 << (precision - 1));
    let top = f64::from((1u32 << precision) - 1);
    let mut out = [0u16; 64];
    for y in 0..8 {
        for x in 0..8 {
            let s: f64 = (0..8).map(|v| basis[y][v] * g[v * 8 + x]).sum();
            out[y * 8 + x] = (s + shift).round().clamp(0.0, top) as u16;
        }
    }
    out
}

/// The frame header's numbers this decoder uses.
struct Frame {
    precision: u8,
    width: usize,
    height: usize,
    component: u8,
    table: usize,
}

fn parse_frame(p: &[u8]) -> Result<Frame, Jpeg12Error> {
    if p.len() < 6 {
        return Err(Jpeg12Error::Truncated("the frame header"));
    }
    let precision = p[0];
    let height = usize::from(u16::from_be_bytes([p[1], p[2]]));
    let width = usize::from(u16::from_be_bytes([p[3], p[4]]));
    let components = p[5];
    if !matches!(precision, 8 | 12) {
        return Err(Jpeg12Error::Unsupported(format!(
            "DCT sample precision {precision} (8 or 12 expected)"
        )));
    }
    if components != 1 {
        return Err(Jpeg12Error::Unsupported(format!(
            "{components} components ({precision}-bit colour; one grey-scale component expected)"
        )));
    }
    if height == 0 {
        return Err(Jpeg12Error::Unsupported(
            "image height given by a DNL marker".into(),
        ));
    }
    if width == 0 {
        return Err(Jpeg12Error::Malformed("image width 0".into()));
    }
    let c = p
        .get(6..9)
        .ok_or(Jpeg12Error::Truncated("the frame header"))?;
    if c[2] > 3 {
        return Err(Jpeg12Error::Malformed(format!(
            "quantisation table {} (0 to 3 allowed)",
            c[2]
        )));
    }
    Ok(Frame {
        precision,
        width,
        height,
        component: c[0],
        table: usize::from(c[2]),
    })
}

/// Name of a coding process this decoder does not do, by its SOF marker.
fn process_name(marker: u8) -> &'static str {
    match marker {
        0xC2 => "progressive DCT",
        0xC3 => "lossless (not DCT)",
        0xC5..=0xC7 => "hierarchical",
        0xC9 | 0xCA => "arithmetic-coded DCT",
        _ => "arithmetic-coded or hierarchical",
    }
}

/// Decodes a sequential-DCT, Huffman-coded, one-component JPEG stream of 8- or 12-bit samples,
/// whose frame must be `width × height` (the DICOM Columns and Rows: checked before any sample
/// buffer is made, so a damaged header cannot ask for gigabytes).
pub fn decode(stream: &[u8], width: usize, height: usize) -> Result<Image, Jpeg12Error> {
    let mut t = Tables::default();
    let mut frame: Option<Frame> = None;
    for seg in Segments::new(stream)? {
        let (marker, p, end) = seg?;
        match marker {
            0xC0 | 0xC1 => {
                if frame.is_some() {
                    return Err(Jpeg12Error::Malformed("two frame headers".into()));
                }
                let f = parse_frame(p)?;
                if (f.width, f.height) != (width, height) {
                    return Err(Jpeg12Error::Malformed(format!(
                        "a {}×{} image where {width}×{height} (columns × rows) was expected",
                        f.width, f.height
                    )));
                }
                frame = Some(f);
            }
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(Jpeg12Error::Unsupported(format!(
                    "{} process (SOF{})",
                    process_name(marker),
                    marker - 0xC0
                )))
            }
            0xDB => t.read_quantisation(p)?,
            0xC4 => t.read_huffman(p)?,
            0xDD => {
                let ri = p
                    .get(..2)
                    .ok_or(Jpeg12Error::Truncated("the restart interval"))?;
                t.restart = usize::from(u16::from_be_bytes([ri[0], ri[1]]));
            }
            0xDA => {
                let f = frame.as_ref().ok_or_else(|| {
                    Jpeg12Error::Malformed("a scan before the frame header".into())
                })?;
                let (td, ta) = scan_tables(p, f)?;
                let missing = |what: String| Jpeg12Error::Malformed(format!("no {what}"));
                let dc = t.dc[td]
                    .as_ref()
                    .ok_or_else(|| missing(format!("DC Huffman table {td}")))?;
                let ac = t.ac[ta]
                    .as_ref()
                    .ok_or_else(|| missing(format!("AC Huffman table {ta}")))?;
                let q = t.quant[f.table]
                    .as_ref()
                    .ok_or_else(|| missing(format!("quantisation table {}", f.table)))?;
                return scan(stream, end, f, dc, ac, q, t.restart);
            }
            0xD9 => return Err(Jpeg12Error::Malformed("EOI before any scan".into())),
            0xD8 => return Err(Jpeg12Error::Malformed("a second SOI".into())),
            _ => {}
        }
    }
    Err(Jpeg12Error::Truncated("the marker segments"))
}

/// The tables and restart interval the segments before the scan define.
#[derive(Default)]
struct Tables {
    quant: [Option<[u16; 64]>; 4],
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
    restart: usize,
}

impl Tables {
    /// A DQT segment: one or more tables, 8- or 16-bit entries in zig-zag order (T.81 B.2.4.1).
    fn read_quantisation(&mut self, mut p: &[u8]) -> Result<(), Jpeg12Error> {
        while let Some((&pq_tq, rest)) = p.split_first() {
            let (pq, tq) = (pq_tq >> 4, usize::from(pq_tq & 15));
            let size = match pq {
                0 => 64,
                1 => 128,
                _ => {
                    return Err(Jpeg12Error::Malformed(format!(
                        "quantisation table precision {pq}"
                    )))
                }
            };
            let body = rest
                .get(..size)
                .ok_or(Jpeg12Error::Truncated("a quantisation table"))?;
            let slot = self
                .quant
                .get_mut(tq)
                .ok_or_else(|| Jpeg12Error::Malformed(format!("quantisation table {tq}")))?;
            let mut q = [0u16; 64];
            for (k, v) in q.iter_mut().enumerate() {
                *v = if pq == 0 {
                    u16::from(body[k])
                } else {
                    u16::from_be_bytes([body[2 * k], body[2 * k + 1]])
                };
            }
            *slot = Some(q);
            p = &rest[size..];
        }
        Ok(())
    }

    /// A DHT segment: one or more tables, each its class and id, 16 counts and the values
    /// (T.81 B.2.4.2).
    fn read_huffman(&mut self, mut p: &[u8]) -> Result<(), Jpeg12Error> {
        while let Some((&tc_th, rest)) = p.split_first() {
            let counts = rest
                .get(..16)
                .ok_or(Jpeg12Error::Truncated("a Huffman table"))?;
            let n: usize = counts.iter().map(|c| usize::from(*c)).sum();
            let values = rest
                .get(16..16 + n)
                .ok_or(Jpeg12Error::Truncated("a Huffman table"))?;
            let th = usize::from(tc_th & 15);
            let slot = match tc_th >> 4 {
                0 => self.dc.get_mut(th),
                1 => self.ac.get_mut(th),
                _ => None,
            }
            .ok_or_else(|| {
                Jpeg12Error::Malformed(format!("Huffman table class/id 0x{tc_th:02X}"))
            })?;
            *slot = Some(Huffman::new(counts, values.to_vec())?);
            p = &rest[16 + n..];
        }
        Ok(())
    }
}

/// The scan header (T.81 B.2.3) of frame `f`'s one component: its DC and AC table ids (0 to 3).
fn scan_tables(p: &[u8], f: &Frame) -> Result<(usize, usize), Jpeg12Error> {
    if p.len() < 6 || p[0] != 1 {
        return Err(Jpeg12Error::Unsupported(format!(
            "a scan of {} components (one expected)",
            p.first().copied().unwrap_or(0)
        )));
    }
    if p[1] != f.component {
        return Err(Jpeg12Error::Malformed(format!(
            "the scan's component {} is not the frame's ({})",
            p[1], f.component
        )));
    }
    if (p[3], p[4], p[5]) != (0, 63, 0) {
        return Err(Jpeg12Error::Malformed(format!(
            "sequential scan with spectral selection {}..{} and approximation 0x{:02X}",
            p[3], p[4], p[5]
        )));
    }
    let (td, ta) = (usize::from(p[2] >> 4), usize::from(p[2] & 15));
    if td > 3 || ta > 3 {
        return Err(Jpeg12Error::Malformed(format!(
            "Huffman tables {td} and {ta} (0 to 3 allowed)"
        )));
    }
    Ok((td, ta))
}

/// The one scan's blocks, left to right and top to bottom (a one-component scan is not
/// interleaved: its MCU is one 8×8 block, T.81 A.2.2), into the image.
fn scan(
    stream: &[u8],
    data_at: usize,
    f: &Frame,
    dc: &Huffman,
    ac: &Huffman,
    q: &[u16; 64],
    restart: usize,
) -> Result<Image, Jpeg12Error> {
    let (bw, bh) = (f.width.div_ceil(8), f.height.div_ceil(8));
    let mut samples = vec![0u16; f.width * f.height];
    let basis = idct_basis();
    let mut bits = Bits {
        data: stream,
        at: data_at,
        byte: 0,
        left: 0,
    };
    // DC categories go to 11 for 8-bit samples and 15 for 12-bit; AC ones to 10 and 14.
    let (dc_max, ac_max) = if f.precision == 8 { (11, 10) } else { (15, 14) };
    let (mut pred, mut rst) = (0i64, 0u8);
    for m in 0..bw * bh {
        if restart > 0 && m > 0 && m % restart == 0 {
            bits.restart(rst)?;
            rst = (rst + 1) & 7;
            pred = 0;
        }
        let mut coef = [0.0f64; 64];
        let t = dc.decode(&mut bits)?;
        if t > dc_max {
            return Err(Jpeg12Error::Malformed(format!(
                "DC difference category {t} in a {}-bit image",
                f.precision
            )));
        }
        pred += i64::from(extend(bits.receive(t)?, t));
        coef[0] = pred as f64 * f64::from(q[0]);
        let mut k = 1;
        while k < 64 {
            let rs = ac.decode(&mut bits)?;
            let (r, s) = (usize::from(rs >> 4), rs & 15);
            if s == 0 {
                if r == 15 {
                    k += 16;
                    continue;
                }
                break;
            }
            if s > ac_max {
                return Err(Jpeg12Error::Malformed(format!(
                    "AC coefficient category {s} in a {}-bit image",
                    f.precision
                )));
            }
            k += r;
            if k > 63 {
                return Err(Jpeg12Error::Malformed(
                    "a block with more than 64 coefficients".into(),
                ));
            }
            coef[ZIGZAG[k]] = f64::from(extend(bits.receive(s)?, s)) * f64::from(q[k]);
            k += 1;
        }
        let block = idct(&basis, &coef, f.precision);
        let (bx, by) = (m % bw * 8, m / bw * 8);
        for y in 0..8.min(f.height - by) {
            let row = (by + y) * f.width + bx;
            let n = 8.min(f.width - bx);
            samples[row..row + n].copy_from_slice(&block[y * 8..y * 8 + n]);
        }
    }
    Ok(Image {
        width: f.width,
        height: f.height,
        precision: f.precision,
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// T.81 F.12: category 3 holds −7..−4 (received 0..3) and 4..7 (received 4..7).
    #[test]
    fn extend_gives_the_signed_values_of_t81_table_f1() {
        assert_eq!(extend(0, 3), -7);
        assert_eq!(extend(3, 3), -4);
        assert_eq!(extend(4, 3), 4);
        assert_eq!(extend(7, 3), 7);
        assert_eq!(extend(0, 1), -1);
        assert_eq!(extend(1, 1), 1);
        assert_eq!(extend(0, 0), 0);
        // 12-bit DC differences reach category 15: −32767..32767.
        assert_eq!(extend(0, 15), -32767);
        assert_eq!(extend(32767, 15), 32767);
    }

    /// A DC-only block is flat at DC/8 + 2^(P−1) (the DCT's gain on a constant is 8); one
    /// AC coefficient F(0,1) = a adds a·cos((2x + 1)π/16)/(4√2) along
    /// the row (¼·c(0)·c(1)·a, c(0) = 1/√2).
    #[test]
    fn idct_of_known_coefficients() {
        let basis = idct_basis();
        let mut coef = [0.0; 64];
        coef[0] = 800.0;
        assert!(idct(&basis, &coef, 12).iter().all(|s| *s == 2148));
        assert!(idct(&basis, &coef, 8).iter().all(|s| *s == 228));
        coef[1] = 400.0;
        let b = idct(&basis, &coef, 12);
        for x in 0..8 {
            let expect = 2148.0
                + 400.0 * ((2 * x + 1) as f64 * std::f64::consts::PI / 16.0).cos()
                    / (4.0 * std::f64::consts::SQRT_2);
            for y in 0..8 {
                assert_eq!(b[y * 8 + x], expect.round() as u16, "x {x} y {y}");
            }
        }
        // Clamped to the sample range.
        coef = [0.0; 64];
        coef[0] = -40000.0;
        assert!(idct(&basis, &coef, 12).iter().all(|s| *s == 0));
        coef[0] = 40000.0;
        assert!(idct(&basis, &coef, 12).iter().all(|s| *s == 4095));
    }

    /// T.81 Annex K.3's luminance DC table: codes 00 (0), 010 (1) ... 111111110 (11).
    #[test]
    fn huffman_codes_are_canonical() {
        let counts = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
        let t = Huffman::new(&counts, (0..12).collect()).unwrap();
        // 010 → 1, 00 → 0, 111111110 → 11, padded with ones to whole bytes.
        let data = [0b0100_0111, 0b1111_1011];
        let mut bits = Bits {
            data: &data,
            at: 0,
            byte: 0,
            left: 0,
        };
        assert_eq!(t.decode(&mut bits).unwrap(), 1);
        assert_eq!(t.decode(&mut bits).unwrap(), 0);
        assert_eq!(t.decode(&mut bits).unwrap(), 11);
        // Too many codes of one length is refused.
        let mut bad = [0u8; 16];
        bad[0] = 3;
        assert!(Huffman::new(&bad, vec![0, 1, 2]).is_err());
    }

    /// A stuffed FF 00 is one data byte FF; any other marker ends the data with an error that
    /// says so (a short image is never returned).
    #[test]
    fn stuffed_bytes_and_markers_in_the_data() {
        let data = [0xFF, 0x00, 0x80, 0xFF, 0xD9];
        let mut bits = Bits {
            data: &data,
            at: 0,
            byte: 0,
            left: 0,
        };
        assert_eq!(bits.receive(8).unwrap(), 0xFF);
        assert_eq!(bits.receive(8).unwrap(), 0x80);
        assert!(matches!(bits.bit(), Err(Jpeg12Error::Malformed(_))));
    }

    /// A 16×8 12-bit image of two blocks built by hand (T.81 B.2): quantisation 8 everywhere,
    /// DC codes 0 → category 0 and 1 → category 1, AC code 0 → EOB, one block a restart
    /// interval. Block 1 has DC difference +1 (bits 1 1, then EOB 0): flat 8/8 + 2048 = 2049.
    /// RST0 resets the DC prediction, so block 2 (difference 0) is 2048, not 2049.
    fn two_blocks_with_a_restart(rst: u8) -> Vec<u8> {
        let mut s = vec![0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x00];
        s.extend_from_slice(&[8; 64]);
        s.extend_from_slice(&[0xFF, 0xC1, 0x00, 0x0B, 12, 0, 8, 0, 16, 1, 1, 0x11, 0]);
        s.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x15, 0x00, 2]);
        s.extend_from_slice(&[0; 15]);
        s.extend_from_slice(&[0, 1]);
        s.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x14, 0x10, 1]);
        s.extend_from_slice(&[0; 15]);
        s.push(0x00);
        s.extend_from_slice(&[0xFF, 0xDD, 0x00, 0x04, 0x00, 0x01]);
        s.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 63, 0]);
        s.extend_from_slice(&[0b1101_1111, 0xFF, rst, 0b0011_1111, 0xFF, 0xD9]);
        s
    }

    #[test]
    fn a_restart_marker_resets_the_dc_prediction() {
        let stream = two_blocks_with_a_restart(0xD0);
        assert_eq!(dct_precision(&stream), Some(12));
        let image = decode(&stream, 16, 8).unwrap();
        assert_eq!((image.width, image.height, image.precision), (16, 8, 12));
        for (i, s) in image.samples.iter().enumerate() {
            assert_eq!(*s, if i % 16 < 8 { 2049 } else { 2048 }, "sample {i}");
        }
        // Another size than the caller's, RST1 where RST0 belongs, and a stream cut anywhere,
        // are errors.
        assert!(matches!(
            decode(&stream, 16, 16),
            Err(Jpeg12Error::Malformed(m)) if m.contains("16×8")
        ));
        assert!(matches!(
            decode(&two_blocks_with_a_restart(0xD1), 16, 8),
            Err(Jpeg12Error::Malformed(m)) if m.contains("RST0")
        ));
        for n in 0..stream.len() - 2 {
            assert!(decode(&stream[..n], 16, 8).is_err(), "cut at {n}");
        }
    }

    #[test]
    fn what_is_not_this_process_is_named() {
        assert_eq!(decode(b"GIF89a", 16, 16), Err(Jpeg12Error::NoSoi));
        let progressive = [0xFF, 0xD8, 0xFF, 0xC2, 0x00, 0x02];
        assert!(matches!(
            decode(&progressive, 16, 16),
            Err(Jpeg12Error::Unsupported(m)) if m.contains("progressive")
        ));
        // SOF1, precision 12, 16×16, three components.
        let colour = [
            0xFF, 0xD8, 0xFF, 0xC1, 0x00, 0x11, 12, 0, 16, 0, 16, 3, 1, 0x11, 0, 2, 0x11, 0, 3,
            0x11, 0,
        ];
        assert_eq!(dct_precision(&colour), Some(12));
        assert!(matches!(
            decode(&colour, 16, 16),
            Err(Jpeg12Error::Unsupported(m)) if m.contains("3 components")
        ));
        // Every prefix of it is an error, not a panic.
        for n in 0..colour.len() {
            assert!(decode(&colour[..n], 16, 16).is_err());
        }
    }
}
