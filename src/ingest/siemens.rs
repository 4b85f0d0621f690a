//! Siemens private attributes and the mosaic layout. The CSA image header ((0029,xx10) under the
//! private creator "SIEMENS CSA HEADER"), in its SV10 and older CSA1 layouts as nibabel's
//! `nicom.csareader` documents them; the MR header's NumberOfImagesInMosaic (0019,xx0A) and
//! B_value (0019,xx0C), which implicit VR files hold as undecoded bytes; and Siemens mosaics —
//! the slices of an EPI volume tiled into one frame (ImageType MOSAIC) — unpacked as dcm2niix
//! and nibabel unpack them: tiles in row-major order, ImagePositionPatient moved from the
//! mosaic's corner to the first tile's, slices along the CSA SliceNormalVector (or the image
//! normal) at SpacingBetweenSlices.

use std::collections::BTreeMap;

use dicom_core::{Tag, VR};
use dicom_object::InMemDicomObject;

use super::values::{arr3, creator_element, text_number, value_as};
use crate::digits::significant6;

/// The tiles of a mosaic frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mosaic {
    /// Slices in the mosaic.
    pub tiles: u32,
    /// Tiles per row and per column of the mosaic (ceil √tiles).
    pub grid: u32,
    pub tile_rows: u32,
    pub tile_columns: u32,
}

impl Mosaic {
    /// The layout of a `rows` × `columns` frame holding `tiles` slices; None when it cannot be
    /// one (no tile, or tiles of no pixel).
    pub fn new(tiles: u32, rows: u32, columns: u32) -> Option<Mosaic> {
        // More tiles than pixels is a damaged header (and 2³² − 1 tiles overflowed the grid's
        // square: a scan that never ended).
        if tiles < 2 || u64::from(tiles) > u64::from(rows) * u64::from(columns) {
            return None;
        }
        let tiles64 = u64::from(tiles);
        let mut grid = (f64::from(tiles).sqrt().ceil()) as u64;
        // Guard the float rounding of a perfect square.
        while grid > 1 && (grid - 1) * (grid - 1) >= tiles64 {
            grid -= 1;
        }
        while grid * grid < tiles64 {
            grid += 1;
        }
        let grid = u32::try_from(grid).ok()?;
        let (tile_rows, tile_columns) = (rows / grid, columns / grid);
        (tile_rows > 0 && tile_columns > 0).then_some(Mosaic {
            tiles,
            grid,
            tile_rows,
            tile_columns,
        })
    }

    /// Copy tile `k` of a mosaic frame (`columns` wide, row-major) into `out` (one tile).
    ///
    /// A row of tiles starts every `frame.len() / grid` pixels, as dcm2niix (`nii_demosaic`)
    /// counts them: the same as `tile_rows` rows when the frame's rows divide by the grid (every
    /// Siemens mosaic), and dcm2niix's tiles when they do not (nibabel's downsampled 0.dcm).
    pub fn tile_into(&self, frame: &[f32], columns: usize, k: u32, out: &mut [f32]) -> bool {
        let (tr, tc) = (self.tile_rows as usize, self.tile_columns as usize);
        if k >= self.tiles || out.len() != tr * tc {
            return false;
        }
        let (gr, gc) = ((k / self.grid) as usize, (k % self.grid) as usize);
        let tile_row_stride = frame.len() / self.grid as usize;
        for (r, dst) in out.chunks_mut(tc).enumerate() {
            let start = gr * tile_row_stride + r * columns + gc * tc;
            match frame.get(start..start + tc) {
                Some(src) => dst.copy_from_slice(src),
                None => return false,
            }
        }
        true
    }
}

/// A private attribute (element `low` of the creator's block in `group`); the usual block 0x10
/// when the creator is not named.
fn private_tag(obj: &InMemDicomObject, group: u16, creator: &str, low: u16) -> Tag {
    creator_element(obj, group, creator, low).unwrap_or(Tag(group, 0x1000 | low))
}

/// Siemens' B_value (0019,xx0C).
pub fn b_value(obj: &InMemDicomObject) -> Option<f64> {
    text_number(obj, private_tag(obj, 0x0019, "SIEMENS MR HEADER", 0x0C))
}

/// Siemens' DiffusionGradientDirection (0019,xx0E): FD × 3 in patient coordinates (in implicit VR
/// 24 little-endian bytes). Only under the creator "SIEMENS MR HEADER": other vendors' (0019,100E)
/// is something else.
pub fn gradient(obj: &InMemDicomObject) -> Option<[f64; 3]> {
    let v = value_as(
        obj,
        creator_element(obj, 0x0019, "SIEMENS MR HEADER", 0x0E)?,
        VR::FD,
    )?;
    arr3(v.to_multi_float64().ok()).filter(|v| v.iter().all(|x| x.is_finite()))
}

/// The acquisition time (ms) of each tile of a mosaic: the CSA image header's MosaicRefAcqTimes,
/// else the MR header's copy (0019,xx29) (FD; in implicit VR undecoded bytes).
pub fn mosaic_acquisition_times(obj: &InMemDicomObject, csa: Option<&Csa>) -> Vec<f64> {
    let from_csa = csa
        .map(|c| c.numbers("MosaicRefAcqTimes"))
        .unwrap_or_default();
    if !from_csa.is_empty() {
        return from_csa;
    }
    creator_element(obj, 0x0019, "SIEMENS MR HEADER", 0x29)
        .and_then(|tag| value_as(obj, tag, VR::FD))
        .and_then(|v| v.to_multi_float64().ok())
        .unwrap_or_default()
}

/// The bandwidth per pixel in the phase-encoding direction (Hz): the CSA image header's
/// BandwidthPerPixelPhaseEncode, else the MR header's (0019,xx28) (FD; bytes in implicit VR),
/// else (XA) the SDI block's (0021,xx53).
pub fn bandwidth_per_pixel_phase_encode(obj: &InMemDicomObject, csa: Option<&Csa>) -> Option<f64> {
    let double = |o: &InMemDicomObject, t: Tag| {
        value_as(o, t, VR::FD)?
            .to_multi_float64()
            .ok()?
            .first()
            .copied()
    };
    csa.and_then(|c| c.numbers("BandwidthPerPixelPhaseEncode").first().copied())
        .or_else(|| {
            creator_element(obj, 0x0019, "SIEMENS MR HEADER", 0x28).and_then(|tag| double(obj, tag))
        })
        .or_else(|| {
            // XA: (0021,xx53) of "SIEMENS MR SDI 02", per frame in an enhanced file.
            let siemens = super::header::maker(obj).as_deref() == Some("Siemens");
            siemens
                .then(|| {
                    super::values::last_private(obj, 0x0021, "SIEMENS MR SDI 02", 0x53, &double)
                })
                .flatten()
        })
        .filter(|b| b.is_finite() && *b > 0.0)
}

/// BIDS SliceTiming (s) of a mosaic's slices as written — `tiles[k]` is the tile of written
/// slice k — from the tiles' acquisition times (ms), as dcm2niix writes it (six significant
/// digits). None without a time for every tile.
pub fn slice_timing(times_ms: &[f64], tiles: &[u32]) -> Option<Vec<f64>> {
    tiles
        .iter()
        .map(|&t| times_ms.get(t as usize).map(|ms| significant6(ms / 1000.0)))
        .collect()
}

/// The slice times (ms, relative to the earliest) of a classic Siemens 2D series — one slice a
/// file, `times[k]` the AcquisitionTime (0008,0032) of written slice k — as dcm2niix derives
/// them, in its 32-bit floats: each HHMMSS.FFFFFF held as a float (so in steps of 1/128 s, of
/// 1/64 s after 13:10:72) and turned into seconds through its text with five decimals (hours,
/// minutes, seconds), held as a float; less the earliest; that difference through the same text
/// again; in ms as a float. A volume that spans midnight (times more than 12 h apart) has its
/// times after noon moved a day back first. None when a slice has no time, or when every slice
/// has the same (nothing to tell). UIH time series get the same (dcm2niix's `sliceTimingUIH`).
pub fn classic_slice_times_ms(times: &[Option<&str>]) -> Option<Vec<f64>> {
    const NOON_S: f32 = 43_200.0;
    const DAY_S: f32 = 86_400.0;
    let mut secs: Vec<f32> = times
        .iter()
        .map(|t| {
            let hhmmss = (*t)?.trim().parse::<f32>().ok().filter(|x| x.is_finite())?;
            Some(dicom_time_to_sec(hhmmss)? as f32)
        })
        .collect::<Option<_>>()?;
    let first = *secs.first()?;
    if secs.iter().all(|s| *s == first) {
        return None;
    }
    let lowest = |secs: &[f32]| secs.iter().copied().fold(f32::INFINITY, f32::min);
    let highest = secs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if highest - lowest(&secs) > NOON_S {
        for s in secs.iter_mut().filter(|s| **s > NOON_S) {
            *s -= DAY_S;
        }
    }
    let min = lowest(&secs);
    secs.iter()
        .map(|s| Some(f64::from((dicom_time_to_sec(s - min)? * 1000.0) as f32)))
        .collect()
}

/// Seconds of a time of day written as the number HHMMSS.FFFFFF, read as dcm2niix reads it:
/// printed with a sign, zero-padded to 13 characters and five decimals (`%+013.5f`), then hours
/// from the first three characters, minutes from the next two, seconds from the rest.
fn dicom_time_to_sec(hhmmss: f32) -> Option<f64> {
    let text = format!("{:+013.5}", f64::from(hhmmss));
    let h: f64 = text.get(..3)?.parse().ok()?;
    let m: f64 = text.get(3..5)?.parse().ok()?;
    let s: f64 = text.get(5..)?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// NIfTI's slice_code of a mosaic from its tiles' acquisition times (ms, tile order), as
/// dcm2niix reads MosaicRefAcqTimes: by where the earliest slice is and how the next ones
/// follow — 1 sequential increasing, 2 sequential decreasing, 3 alternating increasing, 4
/// alternating decreasing, 5 and 6 their variants starting at the second (or second to last)
/// slice; 0 when unknown, or for multiband (several slices at time 0).
pub fn slice_order_code(times: &[f64]) -> u8 {
    let n = times.len();
    if n < 3 || times.iter().filter(|t| **t == 0.0).count() >= 2 {
        return 0;
    }
    let mut min_at = 0;
    for (i, t) in times.iter().enumerate() {
        if *t < times[min_at] {
            min_at = i;
        }
    }
    if min_at == 1 {
        5
    } else if min_at == n - 2 {
        6
    } else if min_at == 0 && times[1] < times[2] {
        1
    } else if min_at == 0 && times[1] > times[2] {
        3
    } else if min_at == n - 1 && times[n - 3] > times[n - 2] {
        2
    } else if min_at == n - 1 && times[n - 3] < times[n - 2] {
        4
    } else {
        0
    }
}

/// NumberOfImagesInMosaic: from the CSA image header, else (0019,xx0A) (US; in implicit VR two
/// little-endian bytes).
pub fn images_in_mosaic(obj: &InMemDicomObject, csa: Option<&Csa>) -> Option<u32> {
    if let Some(n) = csa
        .and_then(|c| c.first("NumberOfImagesInMosaic"))
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|n| *n >= 1.0 && *n <= 65535.0)
    {
        return Some(n as u32);
    }
    let e = obj.get(private_tag(obj, 0x0019, "SIEMENS MR HEADER", 0x0A))?;
    if e.vr() == VR::UN {
        let b = e.to_bytes().ok()?;
        return (b.len() == 2).then(|| u32::from(u16::from_le_bytes([b[0], b[1]])));
    }
    e.to_int::<u32>().ok().filter(|n| (1..=65535).contains(n))
}

/// The CSA image header's elements: name → values (as text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Csa(BTreeMap<String, Vec<String>>);

impl Csa {
    pub fn first(&self, name: &str) -> Option<&str> {
        self.0.get(name)?.first().map(String::as_str)
    }

    /// The first three numbers of an element (a vector), when it holds three finite ones.
    pub fn vector(&self, name: &str) -> Option<[f64; 3]> {
        let v: Vec<f64> = self
            .0
            .get(name)?
            .iter()
            .filter_map(|s| s.trim().parse::<f64>().ok())
            .filter(|x| x.is_finite())
            .collect();
        v.get(..3)?.try_into().ok()
    }

    /// The numbers of an element (those that parse; empty items skipped).
    pub fn numbers(&self, name: &str) -> Vec<f64> {
        self.0
            .get(name)
            .map(|v| {
                v.iter()
                    .filter_map(|s| s.trim().parse::<f64>().ok())
                    .filter(|x| x.is_finite())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The slice normal of the acquisition (unit length), if given.
    pub fn slice_normal(&self) -> Option<[f64; 3]> {
        let [x, y, z] = self.vector("SliceNormalVector")?;
        let n = (x * x + y * y + z * z).sqrt();
        (n.is_finite() && n > 0.5).then(|| [x / n, y / n, z / n])
    }
}

/// The CSA image header of a file, if it has one that parses.
pub fn csa_image_header(obj: &InMemDicomObject) -> Option<Csa> {
    let tag = creator_element(obj, 0x0029, "SIEMENS CSA HEADER", 0x10)?;
    let bytes = obj.get(tag)?.to_bytes().ok()?;
    parse_csa(&bytes)
}

/// The MrPhoenixProtocol text of a file's CSA series header (0029,xx20): the scanner's protocol,
/// whose `### ASCCONV BEGIN` … `### ASCCONV END` block lists `key = value` lines.
///
/// XA scanners write no CSA headers: their protocol is (0021,xx19) of "SIEMENS MR SDS 01" (in an
/// enhanced file, nested in the shared functional groups), which dcm2niix reads as the series
/// header — the protocol's text, or a CSA header holding it.
pub fn phoenix_protocol(obj: &InMemDicomObject) -> Option<String> {
    let from_csa = || {
        let tag = creator_element(obj, 0x0029, "SIEMENS CSA HEADER", 0x20)?;
        let bytes = obj.get(tag)?.to_bytes().ok()?;
        parse_csa(&bytes)?
            .first("MrPhoenixProtocol")
            .map(str::to_string)
    };
    from_csa().or_else(|| {
        let read = |o: &InMemDicomObject, t: Tag| Some(value_as(o, t, VR::OB)?.to_bytes().to_vec());
        let bytes = super::values::last_private(obj, 0x0021, "SIEMENS MR SDS 01", 0x19, &read)?;
        let text = parse_csa(&bytes)
            .and_then(|c| c.first("MrPhoenixProtocol").map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        text.contains("### ASCCONV BEGIN").then_some(text)
    })
}

/// The `key = value` lines of a protocol's ASCCONV block, in order, each trimmed and its value
/// cut at a `#` comment: the one reading of the block, for conversion ([`protocol_number`]) and
/// for de-identification (`deid::csa`, which keeps a line only where conversion reads it).
pub fn ascconv_lines(protocol: &str) -> impl Iterator<Item = (&str, &str)> {
    let block = protocol.find("### ASCCONV BEGIN").map_or("", |start| {
        let block = &protocol[start..];
        // The BEGIN line itself holds no `key = value`.
        let block = block.split_once('\n').map_or("", |(_, rest)| rest);
        &block[..block.find("### ASCCONV END").unwrap_or(block.len())]
    });
    block.lines().filter_map(|line| {
        let (k, v) = line.split_once('=')?;
        Some((k.trim(), v.split('#').next().unwrap_or("").trim()))
    })
}

/// The value text a protocol's ASCCONV block gives `key` (up to a `#` comment), if it has one.
fn protocol_value<'a>(protocol: &'a str, key: &str) -> Option<&'a str> {
    ascconv_lines(protocol).find_map(|(k, v)| (k == key).then_some(v))
}

/// The number a protocol's ASCCONV block gives `key` (decimal, or hex as `0x…`), if it has one.
pub fn protocol_number(protocol: &str, key: &str) -> Option<f64> {
    let v = protocol_value(protocol, key)?;
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok().map(|n| n as f64),
        None => v.parse::<f64>().ok(),
    }
}

/// Slices excited together: as many as share the first slice's acquisition time (dcm2niix's
/// count over `slice_times_ms`), or the protocol's `sSliceAcceleration.lMultiBandFactor` when it
/// says more; 1 when neither says more.
pub fn multiband_factor(protocol: Option<&str>, slice_times_ms: &[f64]) -> f64 {
    let sharing_first = slice_times_ms
        .first()
        .map(|t0| slice_times_ms.iter().filter(|t| *t == t0).count() as f64);
    let declared = protocol.and_then(|p| protocol_number(p, "sSliceAcceleration.lMultiBandFactor"));
    [declared, sharing_first]
        .into_iter()
        .flatten()
        .fold(1.0, f64::max)
}

/// The text a protocol's ASCCONV block gives `key`, its doubled quotes removed
/// (`""Head_32""` is `Head_32`); None when absent or empty.
pub fn protocol_text(protocol: &str, key: &str) -> Option<String> {
    let v = protocol_value(protocol, key)?.replace('"', "");
    (!v.is_empty()).then_some(v)
}

fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(i32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Text up to its first NUL.
pub(crate) fn nul_terminated(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// One element of a CSA header as encoded: its name, VM, VR (four bytes, NUL-padded), syngo
/// data type, and the raw bytes of each of its items (text, NUL-terminated).
#[derive(Debug, Clone, PartialEq)]
pub struct CsaElement {
    pub name: String,
    pub vm: i32,
    pub vr: [u8; 4],
    pub syngo_dt: i32,
    pub items: Vec<Vec<u8>>,
}

impl CsaElement {
    /// The element's values as text: its first VM items (every item when VM is 0), empty
    /// ones left out.
    pub fn values(&self) -> Vec<String> {
        let n = usize::try_from(self.vm)
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or(self.items.len());
        self.items
            .iter()
            .take(n)
            .filter(|i| !i.is_empty())
            .map(|i| nul_terminated(i))
            .collect()
    }
}

/// The elements of a CSA header (SV10, or the older CSA1 layout), in their order. None when it
/// is malformed.
pub fn csa_elements(b: &[u8]) -> Option<Vec<CsaElement>> {
    const MAX_ITEMS: i32 = 1000;
    let csa2 = b.starts_with(b"SV10");
    let mut p = if csa2 { 8 } else { 0 };
    let n_tags = i32_at(b, p)?;
    if !(1..=128).contains(&n_tags) {
        return None;
    }
    p += 8; // the count, and a check word (77)
    let mut out = Vec::new();
    let mut tag0_items = 0;
    for tag_no in 0..n_tags {
        let name = nul_terminated(b.get(p..p + 64)?);
        let vm = i32_at(b, p + 64)?;
        let vr: [u8; 4] = b.get(p + 68..p + 72)?.try_into().ok()?;
        let syngo_dt = i32_at(b, p + 72)?;
        let n_items = i32_at(b, p + 76)?;
        p += 84;
        if !(0..=MAX_ITEMS).contains(&n_items) {
            return None;
        }
        if tag_no == 1 {
            tag0_items = n_items;
        }
        let mut items = Vec::new();
        for _ in 0..n_items {
            let x0 = i32_at(b, p)?;
            let x1 = i32_at(b, p + 4)?;
            p += 16;
            let len = if csa2 { x1 } else { x0 - tag0_items };
            let len = usize::try_from(len).ok()?;
            items.push(b.get(p..p.checked_add(len)?)?.to_vec());
            p += len.div_ceil(4) * 4;
        }
        out.push(CsaElement {
            name,
            vm,
            vr,
            syngo_dt,
            items,
        });
    }
    Some(out)
}

/// `elements` encoded as an SV10 CSA header, as syngo writes one: each item's header
/// `[len, len, 77, len]`, its bytes padded with NULs to a multiple of four.
pub fn encode_csa(elements: &[CsaElement]) -> Vec<u8> {
    let n = |x: usize| i32::try_from(x).unwrap_or(i32::MAX).to_le_bytes();
    let mut b = b"SV10\x04\x03\x02\x01".to_vec();
    b.extend_from_slice(&n(elements.len()));
    b.extend_from_slice(&77i32.to_le_bytes());
    for e in elements {
        let mut name = [0u8; 64];
        let len = e.name.len().min(63);
        name[..len].copy_from_slice(&e.name.as_bytes()[..len]);
        b.extend_from_slice(&name);
        b.extend_from_slice(&e.vm.to_le_bytes());
        b.extend_from_slice(&e.vr);
        b.extend_from_slice(&e.syngo_dt.to_le_bytes());
        b.extend_from_slice(&n(e.items.len()));
        b.extend_from_slice(&77i32.to_le_bytes());
        for item in &e.items {
            for x in [
                n(item.len()),
                n(item.len()),
                77i32.to_le_bytes(),
                n(item.len()),
            ] {
                b.extend_from_slice(&x);
            }
            b.extend_from_slice(item);
            b.resize(b.len() + (4 - item.len() % 4) % 4, 0);
        }
    }
    b
}

/// Parse a CSA header (SV10, or the older CSA1 layout). None when it is malformed.
pub fn parse_csa(b: &[u8]) -> Option<Csa> {
    let map = csa_elements(b)?
        .into_iter()
        .map(|e| {
            let values = e.values();
            (e.name, values)
        })
        .collect();
    Some(Csa(map))
}

/// The mosaic of a single-frame Siemens image (ImageType MOSAIC), if it is one.
pub fn mosaic(
    obj: &InMemDicomObject,
    image_type: &[String],
    rows: u32,
    columns: u32,
    frames: u32,
    csa: Option<&Csa>,
) -> Option<Mosaic> {
    if frames != 1 || !image_type.iter().any(|t| t == "MOSAIC") {
        return None;
    }
    Mosaic::new(images_in_mosaic(obj, csa)?, rows, columns)
}

/// The image plane of a mosaic frame (PS3.3 C.7.6.2): ImagePositionPatient (its corner),
/// the direction cosines along a row and down a column, and PixelSpacing (between rows, between
/// columns).
#[derive(Debug, Clone, Copy)]
pub struct Plane {
    pub corner: [f64; 3],
    pub row: [f64; 3],
    pub col: [f64; 3],
    pub pixel_spacing: [f64; 2],
}

/// The position of each tile's first pixel (patient coordinates) in a `rows` × `columns` frame,
/// the slices `spacing` apart along `normal`.
pub fn tile_positions(
    m: &Mosaic,
    (rows, columns): (u32, u32),
    plane: &Plane,
    normal: [f64; 3],
    spacing: f64,
) -> Vec<[f64; 3]> {
    let Plane {
        corner,
        row,
        col,
        pixel_spacing: ps,
    } = *plane;
    // The mosaic's corner is off the first tile's by half the unused rows and columns; a frame
    // whose size does not divide by the grid counts fractional tiles there, as dcm2niix does.
    let grid = f64::from(m.grid);
    let down = (f64::from(rows) - f64::from(rows) / grid) / 2.0 * ps[0];
    let across = (f64::from(columns) - f64::from(columns) / grid) / 2.0 * ps[1];
    let first = [0, 1, 2].map(|i| corner[i] + col[i] * down + row[i] * across);
    (0..m.tiles)
        .map(|k| [0, 1, 2].map(|i| first[i] + normal[i] * spacing * f64::from(k)))
        .collect()
}

/// A CSA element of text values as Siemens writes one (six items whatever the VM, the unused
/// ones empty), for tests.
#[cfg(test)]
pub(crate) fn csa_element(name: &str, vm: i32, values: &[&str]) -> CsaElement {
    CsaElement {
        name: name.to_string(),
        vm,
        vr: *b"DS\0\0",
        syngo_dt: 3,
        items: (0..6.max(values.len()))
            .map(|i| {
                values
                    .get(i)
                    .map(|s| format!("{s}\0").into_bytes())
                    .unwrap_or_default()
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block as Siemens writes it: the BEGIN line (which holds `=` of its own) is no line of
    /// it, comments are cut, nothing after END or without BEGIN is read.
    #[test]
    fn ascconv_lines_are_the_block_s_key_value_pairs() {
        let text = "ulVersion = 1\n### ASCCONV BEGIN object=MrProtDataImpl@MrProtocolData version=51130001 ###\n\
                    sPat.lAccelFactPE\t = \t3 # parallel\n\
                    tProtocolName = \"t2_haste\"\n\
                    ### ASCCONV END ###\nlAfter = 9\n";
        let lines: Vec<(&str, &str)> = ascconv_lines(text).collect();
        assert_eq!(
            lines,
            [
                ("sPat.lAccelFactPE", "3"),
                ("tProtocolName", "\"t2_haste\"")
            ]
        );
        assert_eq!(ascconv_lines("a = 1\nb = 2").count(), 0);
        assert_eq!(protocol_number(text, "sPat.lAccelFactPE"), Some(3.0));
        assert_eq!(protocol_number(text, "lAfter"), None);
    }

    /// ASCCONV lines as Siemens writes them (tab or space padding, hex values, `#` comments), in
    /// the form of heudiconv's test series (`sPat.lAccelFactPE\t = \t3`).
    #[test]
    fn protocol_numbers_are_read_from_the_ascconv_block() {
        let protocol = "### ASCCONV BEGIN object=MrProtDataImpl@MrProtocolData ###\n\
                        sPat.lAccelFactPE\t = \t3\n\
                        sPat.lAccelFactPE3D                      = 1\n\
                        sSliceAcceleration.lMultiBandFactor = 0x3  # comment\n\
                        ### ASCCONV END ###\n\
                        sPat.lRefLinesPE = 24\n";
        assert_eq!(protocol_number(protocol, "sPat.lAccelFactPE"), Some(3.0));
        assert_eq!(protocol_number(protocol, "sPat.lAccelFactPE3D"), Some(1.0));
        assert_eq!(
            protocol_number(protocol, "sSliceAcceleration.lMultiBandFactor"),
            Some(3.0)
        );
        // Outside the block, or absent: nothing.
        assert_eq!(protocol_number(protocol, "sPat.lRefLinesPE"), None);
        assert_eq!(
            protocol_number("sPat.lAccelFactPE = 2", "sPat.lAccelFactPE"),
            None
        );
    }

    /// XA files have no CSA headers: the protocol is (0021,xx19) of "SIEMENS MR SDS 01" (raw
    /// text, here nested in an item as in an enhanced file's shared functional groups) and the
    /// phase-encoding bandwidth (0021,xx53) of "SIEMENS MR SDI 02", as dcm2niix reads them
    /// (checked: dcm2niix v1.0.20260724 writes the same 36 sidecar keys for synthetic XA30
    /// files with these attributes as ancilla).
    #[test]
    fn xa_protocol_and_bandwidth_come_from_the_sds_and_sdi_blocks() {
        use dicom_core::value::{DataSetSequence, PrimitiveValue};
        use dicom_core::{DataElement, Length};
        let text = "<XProtocol> {}\n### ASCCONV BEGIN ###\nsPat.lAccelFactPE\t = \t2\n### ASCCONV END ###\n";
        let mut item = InMemDicomObject::new_empty();
        item.put(DataElement::new(
            Tag(0x0021, 0x0010),
            VR::LO,
            "SIEMENS MR SDS 01",
        ));
        item.put(DataElement::new(
            Tag(0x0021, 0x1019),
            VR::OB,
            PrimitiveValue::from(text.as_bytes().to_vec()),
        ));
        let mut o = InMemDicomObject::new_empty();
        o.put(DataElement::new(
            tags_manufacturer(),
            VR::LO,
            "Siemens Healthineers",
        ));
        o.put(DataElement::new(
            Tag(0x0021, 0x0011),
            VR::LO,
            "SIEMENS MR SDI 02",
        ));
        o.put(DataElement::new(
            Tag(0x0021, 0x1153),
            VR::FD,
            PrimitiveValue::from(28.935f64),
        ));
        o.put(DataElement::new(
            Tag(0x0021, 0x11FE),
            VR::SQ,
            DataSetSequence::new(vec![item], Length::UNDEFINED),
        ));
        let p = phoenix_protocol(&o).expect("the XA protocol");
        assert_eq!(protocol_number(&p, "sPat.lAccelFactPE"), Some(2.0));
        assert_eq!(bandwidth_per_pixel_phase_encode(&o, None), Some(28.935));
        // Another maker's (0021,xx53) is not read as a bandwidth.
        o.put(DataElement::new(
            tags_manufacturer(),
            VR::LO,
            "GE MEDICAL SYSTEMS",
        ));
        assert_eq!(bandwidth_per_pixel_phase_encode(&o, None), None);
    }

    fn tags_manufacturer() -> Tag {
        dicom_dictionary_std::tags::MANUFACTURER
    }

    /// An SV10 header with the given (name, VM, values) elements, laid out as Siemens writes it.
    fn sv10(elements: &[(&str, i32, &[&str])]) -> Vec<u8> {
        let elements: Vec<CsaElement> = elements
            .iter()
            .map(|(name, vm, values)| csa_element(name, *vm, values))
            .collect();
        encode_csa(&elements)
    }

    /// SliceTiming follows the written slices (a tile order reversed on writing reverses it),
    /// in seconds; a tile without a time gives none.
    #[test]
    fn mosaic_slice_timing_is_in_written_slice_order() {
        let csa = parse_csa(&sv10(&[(
            "MosaicRefAcqTimes",
            3,
            &["0.00000000", "2142.50000000", "152.50000000"],
        )]))
        .unwrap();
        let times = csa.numbers("MosaicRefAcqTimes");
        assert_eq!(
            slice_timing(&times, &[0, 1, 2]),
            Some(vec![0.0, 2.1425, 0.1525])
        );
        assert_eq!(
            slice_timing(&times, &[2, 1, 0]),
            Some(vec![0.1525, 2.1425, 0.0])
        );
        assert_eq!(slice_timing(&times, &[0, 1, 2, 3]), None);
    }

    /// dcm2niix v1.0.20260724 on a synthetic classic Siemens 2D series (slices acquired
    /// 0.3525 s apart in the order 0, 2, 4, 1, 3, 5, the first at 10:15:23.4575) wrote
    /// SliceTiming [0, 1.05469, 0.35156, 1.40625, 0.70312, 1.75781]: the times as 32-bit floats.
    /// The same with the first at 14:30:00.0025, acquired in the order 5, 4, …, 0 (1/64 s steps):
    /// [1.76562, 1.40625, 1.0625, 0.70312, 0.35938, 0].
    #[test]
    fn classic_slice_times_are_dcm2niix_s() {
        let at = |start: f64, order: &[usize]| -> Vec<String> {
            (0..order.len())
                .map(|k| {
                    let t = start + order.iter().position(|&o| o == k).unwrap() as f64 * 0.3525;
                    format!(
                        "{:02}{:02}{:09.6}",
                        (t / 3600.0) as u32,
                        (t % 3600.0 / 60.0) as u32,
                        t % 60.0
                    )
                })
                .collect()
        };
        // dcm2niix prints each time (s) with %g: six significant digits.
        let check = |times: Vec<String>, dcm2niix: [f64; 6]| {
            let refs: Vec<Option<&str>> = times.iter().map(|t| Some(t.as_str())).collect();
            let ms = classic_slice_times_ms(&refs).unwrap();
            let s: Vec<f64> = ms.iter().map(|x| significant6(x / 1000.0)).collect();
            assert_eq!(s, dcm2niix);
        };
        let t0 = 10.0 * 3600.0 + 15.0 * 60.0 + 23.4575;
        check(
            at(t0, &[0, 2, 4, 1, 3, 5]),
            [0.0, 1.05469, 0.35156, 1.40625, 0.70312, 1.75781],
        );
        let t1 = 14.0 * 3600.0 + 30.0 * 60.0 + 0.0025;
        check(
            at(t1, &[5, 4, 3, 2, 1, 0]),
            [1.76562, 1.40625, 1.0625, 0.70312, 0.35938, 0.0],
        );
        assert_eq!(
            classic_slice_times_ms(&[Some("101010"), Some("101010")]),
            None
        );
        assert_eq!(classic_slice_times_ms(&[Some("101010"), None]), None);
    }

    /// A volume that spans midnight (23:59:59.0, .8, .4, then 00:00:00.2, .6): dcm2niix
    /// v1.0.20260724 wrote SliceTiming [0, 0.79688, 0.40625, 1.2, 1.6] for this Siemens series
    /// (and the same for a UIH one). Regression: the slices before midnight got times of about
    /// a day.
    #[test]
    fn slice_times_across_midnight_are_dcm2niix_s() {
        let times = [
            "235959.000000",
            "235959.800000",
            "235959.400000",
            "000000.200000",
            "000000.600000",
        ];
        let refs: Vec<Option<&str>> = times.iter().map(|t| Some(*t)).collect();
        let ms = classic_slice_times_ms(&refs).unwrap();
        let s: Vec<f64> = ms.iter().map(|x| significant6(x / 1000.0)).collect();
        assert_eq!(s, [0.0, 0.79688, 0.40625, 1.2, 1.6]);
    }

    /// dcm2niix's slice_code for the orders its comments name (1,2,3,4 → 1; 1,3,2,4 → 3;
    /// 3,1,4,2 → 5; 4,3,2,1 → 2; 4,2,3,1 → 4; 2,4,1,3 → 6), and heudiconv's ascending 35-slice
    /// BOLD mosaic, for which dcm2niix wrote 1.
    #[test]
    fn slice_order_codes_are_dcm2niix_s() {
        // Times (ms) of slices 0..n acquired in the given order.
        let times = |order: &[usize]| -> Vec<f64> {
            (0..order.len())
                .map(|k| order.iter().position(|&o| o == k).unwrap() as f64 * 100.0)
                .collect()
        };
        assert_eq!(slice_order_code(&times(&[0, 1, 2, 3])), 1);
        assert_eq!(slice_order_code(&times(&[0, 2, 1, 3])), 3);
        assert_eq!(slice_order_code(&times(&[1, 3, 0, 2])), 5);
        assert_eq!(slice_order_code(&times(&[3, 2, 1, 0])), 2);
        assert_eq!(slice_order_code(&times(&[3, 1, 2, 0])), 4);
        assert_eq!(slice_order_code(&times(&[2, 0, 3, 1])), 6);
        let ascending: Vec<f64> = (0..35).map(|k| k as f64 * 57.0).collect();
        assert_eq!(slice_order_code(&ascending), 1);
        assert_eq!(slice_order_code(&[0.0, 0.0, 50.0, 50.0]), 0);
    }

    #[test]
    fn csa_elements_are_read_by_name() {
        let b = sv10(&[
            ("NumberOfImagesInMosaic", 1, &["48"]),
            (
                "SliceNormalVector",
                3,
                &["0.0", "-0.00523596", "0.99998629"],
            ),
            ("B_value", 1, &["1000"]),
        ]);
        let csa = parse_csa(&b).expect("parses");
        assert_eq!(csa.first("NumberOfImagesInMosaic"), Some("48"));
        assert_eq!(csa.first("B_value"), Some("1000"));
        let n = csa.slice_normal().expect("normal");
        assert!((n[1] + 0.005_235_96).abs() < 1e-6 && (n[2] - 0.999_986).abs() < 1e-5);
        // Cut anywhere: no panic, and no header where an element is cut.
        for cut in 0..b.len() {
            let _ = parse_csa(&b[..cut]);
        }
        assert!(parse_csa(&b[..b.len() - 30]).is_none());
    }

    #[test]
    fn mosaic_layout_and_tiles() {
        // 48 slices of 128×128 in a 7×7 grid of an 896×896 frame (Siemens EPI).
        let m = Mosaic::new(48, 896, 896).expect("mosaic");
        assert_eq!((m.grid, m.tile_rows, m.tile_columns), (7, 128, 128));
        // 9 slices: 3×3; 256/7 leaves unused pixels (36 per tile).
        assert_eq!(Mosaic::new(9, 96, 96).map(|m| m.grid), Some(3));
        assert_eq!(Mosaic::new(48, 256, 256).map(|m| m.tile_rows), Some(36));
        assert!(Mosaic::new(1, 96, 96).is_none());
        // Regression: 2³² − 1 tiles (a damaged NumberOfImagesInMosaic) overflowed grid × grid,
        // and the scan looped for ever; more tiles than pixels is no mosaic.
        assert!(Mosaic::new(u32::MAX, 96, 96).is_none());
        assert!(Mosaic::new(u32::MAX, u32::MAX, u32::MAX).is_some_and(|m| m.grid == 65536));
        assert!(Mosaic::new(9217, 96, 96).is_none());
        // The private count is held to the CSA's range, as the CSA one is.
        let mut obj = InMemDicomObject::new_empty();
        obj.put(dicom_core::DataElement::new(
            dicom_core::Tag(0x0019, 0x0010),
            VR::LO,
            dicom_core::PrimitiveValue::from("SIEMENS MR HEADER"),
        ));
        for (n, expected) in [(u32::MAX, None), (65536, None), (0, None), (48, Some(48))] {
            obj.put(dicom_core::DataElement::new(
                dicom_core::Tag(0x0019, 0x100A),
                VR::UL,
                dicom_core::PrimitiveValue::from(n),
            ));
            assert_eq!(images_in_mosaic(&obj, None), expected, "{n}");
        }
        assert_eq!(Mosaic::new(9216, 96, 96).map(|m| m.tile_rows), Some(1));
        // Tile k holds the values k*100 + r*10 + c.
        let m = Mosaic::new(4, 4, 6).expect("2×2 of 2×3");
        let mut frame = vec![0f32; 24];
        for k in 0..4u32 {
            for r in 0..2 {
                for c in 0..3 {
                    let (gr, gc) = ((k / 2) as usize, (k % 2) as usize);
                    frame[(gr * 2 + r) * 6 + gc * 3 + c] = (k * 100) as f32 + (r * 10 + c) as f32;
                }
            }
        }
        let mut tile = vec![0f32; 6];
        for k in 0..4 {
            assert!(m.tile_into(&frame, 6, k, &mut tile));
            let want: Vec<f32> = (0..2)
                .flat_map(|r| (0..3).map(move |c| (k * 100) as f32 + (r * 10 + c) as f32))
                .collect();
            assert_eq!(tile, want);
        }
        assert!(!m.tile_into(&frame, 6, 4, &mut tile));
    }

    /// A frame whose rows do not divide by the grid (nibabel's 0.dcm: 48 tiles of 36×36 in a
    /// 256×256 frame): a row of tiles starts every rows × columns / grid pixels, as in dcm2niix's
    /// `nii_demosaic` (its output equals this on 0.dcm; counting whole tile rows did not).
    #[test]
    fn tiles_of_a_frame_the_grid_does_not_divide_start_where_dcm2niix_starts_them() {
        // 4 tiles of 2×2 in a 5×5 frame: grid 2, a row of tiles every 25 / 2 = 12 pixels.
        let m = Mosaic::new(4, 5, 5).expect("2×2 of 2×2");
        let frame: Vec<f32> = (0..25).map(|v| v as f32).collect();
        let mut tile = vec![0f32; 4];
        assert!(m.tile_into(&frame, 5, 0, &mut tile));
        assert_eq!(tile, [0.0, 1.0, 5.0, 6.0]);
        assert!(m.tile_into(&frame, 5, 1, &mut tile));
        assert_eq!(tile, [2.0, 3.0, 7.0, 8.0]);
        assert!(m.tile_into(&frame, 5, 2, &mut tile));
        assert_eq!(tile, [12.0, 13.0, 17.0, 18.0]);
        assert!(m.tile_into(&frame, 5, 3, &mut tile));
        assert_eq!(tile, [14.0, 15.0, 19.0, 20.0]);
    }

    #[test]
    fn tile_positions_of_a_frame_the_grid_does_not_divide_follow_dcm2niix() {
        // nibabel's 0.dcm: 256×256 frame, 48 tiles of 36×36 (7×7 grid), 1.796875 mm pixels.
        // dcm2niix (v1.0.20260724) puts its first voxel (the first tile's last row) at RAS
        // (607.857117, 564.989197, -76.459175): the corner moved by (256 - 256/7) / 2 pixels.
        let m = Mosaic::new(48, 256, 256).expect("mosaic");
        let row = [1.0, 0.0, 0.0];
        let col = [0.0, 0.999986, -0.005236];
        let plane = Plane {
            corner: [-805.0, -825.019119, -75.097641],
            row,
            col,
            pixel_spacing: [1.796875, 1.796875],
        };
        let pos = tile_positions(&m, (256, 256), &plane, crate::volume::cross(row, col), 3.0);
        let last_row = [0, 1, 2].map(|i| pos[0][i] + col[i] * 35.0 * 1.796875);
        let ras = [-last_row[0], -last_row[1], last_row[2]];
        for (got, want) in ras.iter().zip([607.857117, 564.989197, -76.459175]) {
            assert!((got - want).abs() < 1e-3, "{ras:?}");
        }
    }

    #[test]
    fn tile_positions_follow_dcm2niix() {
        // nibabel's siemens_dwi_0.dcm: 896×896 mosaic of 48 slices of 128×128, 1.796875 mm
        // pixels, 3 mm apart. dcm2niix (v1.0.20260724) writes its NIfTI with the sform
        // [[-1.796875, 0, 0, 115], [0, 1.79685, -0.015708, -93.171478],
        //  [0, 0.009408, 2.999959, -79.90535]]: its first voxel (the first tile's last row, rows
        // being flipped) at RAS (115, -93.171478, -79.90535), slices 3 mm along the normal.
        let m = Mosaic::new(48, 896, 896).expect("mosaic");
        let row = [1.0, 0.0, 0.0];
        let col = [0.0, 0.999986, -0.005236];
        let normal = crate::volume::cross(row, col);
        let plane = Plane {
            corner: [-805.0, -825.019119, -75.097641],
            row,
            col,
            pixel_spacing: [1.796875, 1.796875],
        };
        let pos = tile_positions(&m, (896, 896), &plane, normal, 3.0);
        assert_eq!(pos.len(), 48);
        // The first tile's last row, in RAS.
        let last_row = [0, 1, 2].map(|i| pos[0][i] + col[i] * 127.0 * 1.796875);
        let ras = [-last_row[0], -last_row[1], last_row[2]];
        // Within 0.001 mm: ImageOrientationPatient holds 6 decimals (0.999986) and the first
        // tile is 918 mm from the corner, so ancilla lands 0.0003 mm from dcm2niix, whose
        // directions carry more digits (the CSA header's 0.99998629, most likely).
        for (got, want) in ras.iter().zip([115.0, -93.171478, -79.90535]) {
            assert!((got - want).abs() < 1e-3, "{ras:?}");
        }
        let step = [0, 1, 2].map(|i| pos[1][i] - pos[0][i]);
        for (got, want) in [-step[0], -step[1], step[2]]
            .iter()
            .zip([0.0, -0.015708, 2.999959])
        {
            assert!((got - want).abs() < 1e-5, "{step:?}");
        }
    }
}
