//! GE's private MR attributes behind an EPI series' timing, read as dcm2niix v1.0.20260724 reads
//! them (`nii_dicom.cpp`; `geProtocolBlock`, `readSoftwareVersionsGE` in `nii_dicom_batch.cpp`):
//!
//! - the pulse sequence names (0019,xx9C) `epi` / `epiRT` / `epi2` / `epi_pepolar` and the internal
//!   one (0019,xx9E) `EPI` / `EPI2`, the series plane (0019,xx17; 256 is a 3-plane localizer) and
//!   the diffusion user data 12 and 15 (0019,xxB3 / xxB6; gradient cycling), under the private
//!   creator "GEMS_ACQU_01";
//! - the epiRT group delay (0043,xx7C of "GEMS_PARM_01"; FL, seconds), which dcm2niix adds to
//!   RepetitionTime: GE's volumes are that much further apart than the header's TR;
//! - the Protocol Data Block (0025,xx1B of "GEMS_SERS_01"): a 4-byte little-endian length, then a
//!   gzip stream of `KEY "value"` lines (SLICEORDER, MBACCEL, DELACQNOAV, IOPT...), looked up as
//!   dcm2niix looks them up (the first occurrence of the key's bytes, its line's digits);
//! - the software release in SoftwareVersions (0018,1020), e.g. `27\LX\MR Software
//!   release:RX27.0_R02_1831.a`: major version 27.0, release 2;
//! - and, for the sidecar, the diffusion gradient cycling mode ([`Cycling`]) and the numbers of
//!   GE's PET block ("GEMS_PETD_01", group 0009: [`pet_number`]).

use std::io::Read;

use dicom_core::Tag;
use dicom_object::InMemDicomObject;

use super::values::{creator_element, float_number, text_number, text_of};

/// Private creator of the acquisition block (group 0019).
pub const ACQU: &str = "GEMS_ACQU_01";
/// Private creator of the parameter block (group 0043).
pub const PARM: &str = "GEMS_PARM_01";
/// Private creator of the series block (group 0025).
pub const SERS: &str = "GEMS_SERS_01";
/// The private creator of GE's PET attributes (group 0009).
pub const PETD: &str = "GEMS_PETD_01";

/// Element bytes (low byte of gggg,xxll) of the attributes read here.
pub const PULSE_SEQUENCE_NAME: u8 = 0x9C;
pub const INTERNAL_PULSE_SEQUENCE_NAME: u8 = 0x9E;
pub const SERIES_PLANE: u8 = 0x17;
pub const USER_DATA_12: u8 = 0xB3;
pub const USER_DATA_15: u8 = 0xB6;
pub const GROUP_DELAY: u8 = 0x7C;
pub const PROTOCOL_BLOCK: u8 = 0x1B;

/// The largest protocol block inflated (the real ones are a few kB).
const MAX_BLOCK_TEXT: u64 = 1 << 22;

fn private(obj: &InMemDicomObject, group: u16, creator: &str, low: u8) -> Option<Tag> {
    creator_element(obj, group, creator, u16::from(low))
}

/// Whether GE made the file (dcm2niix reads these attributes for GE files only).
pub fn is_ge(obj: &InMemDicomObject) -> bool {
    super::header::maker(obj).as_deref() == Some("GE")
}

/// The epiRT group delay (ms) when the file has one ((0043,xx7C), seconds; any value).
pub fn group_delay_ms(obj: &InMemDicomObject) -> Option<f64> {
    if !is_ge(obj) {
        return None;
    }
    let s = float_number(obj, private(obj, 0x0043, PARM, GROUP_DELAY)?)?;
    // dcm2niix keeps it as a float, in ms.
    Some(f64::from(s as f32 * 1000.0))
}

/// RepetitionTime (ms) as dcm2niix reads it: GE's header value plus a positive group delay.
pub fn repetition_time_ms(obj: &InMemDicomObject, header_ms: Option<f64>) -> Option<f64> {
    let tr = header_ms?;
    match group_delay_ms(obj).filter(|d| *d > 0.0) {
        Some(d) => Some(f64::from(tr as f32 + d as f32)),
        None => Some(tr),
    }
}

/// Which EPI a GE series is (dcm2niix's `epiVersionGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpiKind {
    /// Not an EPI the names tell of.
    Unknown,
    /// Multi-phase EPI (`epi`).
    MultiPhase,
    /// Real-time EPI: fMRI (`epiRT`, or a group delay present).
    RealTime,
    /// Spin-echo EPI: diffusion (`epi2`).
    Diffusion,
    /// The ABCD reversed-polarity research sequence (`epi_pepolar`).
    Pepolar,
}

/// A GE series' EPI kind and what else its timing depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct Epi {
    pub kind: EpiKind,
    /// The internal pulse sequence name is `EPI2` (spin echo).
    pub internal_epi2: bool,
    /// The series plane is 3-plane: a localizer.
    pub localizer: bool,
    pub user_data_12: Option<f64>,
    pub user_data_15: Option<f64>,
}

/// GE's diffusion gradient cycling mode (dcm2niix's `diffCyclingModeGE`, its issue 635).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cycling {
    /// A scanner without cycling (not a Premier, UHP or 7.0T).
    Off,
    /// Cycling over every TR (the default of cycling scanners).
    AllTr,
    /// Over two TRs (user data 12 = 2).
    TwoTr,
    /// Over three TRs (user data 12 = 3).
    ThreeTr,
    /// The special-off mode: a Premier with user data 15 = 0.72, a UHP or 7.0T with 0.5 to 1.
    SpecialOff,
}

impl Cycling {
    /// The mode of a diffusion series (`epi`) on the scanner `model`.
    pub fn of(model: &str, epi: &Epi) -> Cycling {
        let premier = model.contains("Premier");
        let uhp = model.contains("UHP") || model.contains("7.0T");
        if !(premier || uhp) {
            return Cycling::Off;
        }
        let ud15 = epi.user_data_15.unwrap_or(0.0) as f32;
        if (premier && (ud15 - 0.72).abs() < 1e-4) || (uhp && (0.5..=1.0).contains(&ud15)) {
            return Cycling::SpecialOff;
        }
        match epi.user_data_12.map(f64::round) {
            Some(2.0) => Cycling::TwoTr,
            Some(3.0) => Cycling::ThreeTr,
            _ => Cycling::AllTr,
        }
    }

    /// The slices are acquired within each TR as without cycling (slice times can be told).
    pub fn per_tr(self) -> bool {
        matches!(self, Cycling::Off | Cycling::SpecialOff)
    }
}

/// The EPI kind of a GE file, from its names and group delay in dcm2niix's order of reading.
pub fn epi(obj: &InMemDicomObject) -> Epi {
    let text = |low| private(obj, 0x0019, ACQU, low).and_then(|t| text_of(obj, t));
    let number = |low| private(obj, 0x0019, ACQU, low).and_then(|t| text_number(obj, t));
    let mut kind = match text(PULSE_SEQUENCE_NAME) {
        Some(n) if n.contains("epi_pepolar") => EpiKind::Pepolar,
        Some(n) if n.contains("epi2") => EpiKind::Diffusion,
        Some(n) if n.contains("epiRT") => EpiKind::RealTime,
        Some(n) if n.contains("epi") => EpiKind::MultiPhase,
        _ => EpiKind::Unknown,
    };
    let internal = text(INTERNAL_PULSE_SEQUENCE_NAME);
    if kind != EpiKind::Pepolar && internal.as_deref() == Some("EPI") && kind != EpiKind::RealTime {
        kind = EpiKind::MultiPhase;
    }
    if group_delay_ms(obj).is_some() {
        kind = EpiKind::RealTime;
    }
    Epi {
        kind,
        internal_epi2: internal.as_deref() == Some("EPI2"),
        localizer: three_plane_localizer(obj),
        user_data_12: number(USER_DATA_12),
        user_data_15: number(USER_DATA_15),
    }
}

/// Whether a GE file's series plane (0019,xx17, an SS: two bytes in implicit VR) is 256, a
/// three-plane localizer.
pub fn three_plane_localizer(obj: &InMemDicomObject) -> bool {
    private(obj, 0x0019, ACQU, SERIES_PLANE)
        .and_then(|t| {
            super::values::value_as(obj, t, dicom_core::VR::SS)?
                .to_int::<i64>()
                .ok()
        })
        .is_some_and(|plane| plane == 256)
}

/// The software release of SoftwareVersions as dcm2niix parses it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Release {
    /// Major.minor (27.0, 29.1); 0 when it cannot be read.
    pub major: f32,
    /// 27.0 R03 or later (multiband slice order).
    pub r27_3: bool,
}

/// dcm2niix's `readSoftwareVersionsGE`: the version text after `SIGNA_LX1.`, else after `MR
/// Software release:`, else after the last backslash, read as two letters, major.minor, `_`, two
/// letters and a release number (`EA`: release 0).
pub fn release(software_versions: &str) -> Release {
    let start = if let Some(i) = software_versions.find("SIGNA_LX1") {
        i + "SIGNA_LX1".len() + 1
    } else if let Some(i) = software_versions.find("MR Software release") {
        i + "MR Software release".len() + 1
    } else if let Some(i) = software_versions.rfind('\\') {
        i + 1
    } else {
        0
    };
    let text: Vec<u8> = software_versions
        .as_bytes()
        .iter()
        .skip(start)
        .take(11)
        .copied()
        .collect();
    let (major, minor, release) = scan_version(&text);
    let major_f = major as f32 + 0.1 * minor as f32;
    Release {
        major: major_f,
        r27_3: major_f >= 27.1 || (major == 27 && release >= 3),
    }
}

/// `sscanf(text, "%c%c%d.%d_%c%c%d")`: (major, minor, release), each 0 where the scan stopped.
fn scan_version(text: &[u8]) -> (i64, i64, i64) {
    let mut pos = 2;
    let mut out = [0i64; 3];
    if text.len() < 2 {
        return (0, 0, 0);
    }
    let int = |pos: &mut usize| -> Option<i64> {
        while text.get(*pos).is_some_and(u8::is_ascii_whitespace) {
            *pos += 1;
        }
        let start = *pos;
        if matches!(text.get(*pos), Some(b'+' | b'-')) {
            *pos += 1;
        }
        let digits = *pos;
        while text.get(*pos).is_some_and(u8::is_ascii_digit) {
            *pos += 1;
        }
        (*pos > digits)
            .then(|| std::str::from_utf8(&text[start..*pos]).ok()?.parse().ok())
            .flatten()
    };
    let Some(major) = int(&mut pos) else {
        return (0, 0, 0);
    };
    out[0] = major;
    let literal = |pos: &mut usize, c: u8| {
        let ok = text.get(*pos) == Some(&c);
        *pos += usize::from(ok);
        ok
    };
    if !literal(&mut pos, b'.') {
        return (out[0], 0, 0);
    }
    let Some(minor) = int(&mut pos) else {
        return (out[0], 0, 0);
    };
    out[1] = minor;
    if !literal(&mut pos, b'_') || text.len() < pos + 2 {
        return (out[0], out[1], 0);
    }
    let early_access = &text[pos..pos + 2] == b"EA";
    pos += 2;
    out[2] = if early_access {
        0
    } else {
        int(&mut pos).unwrap_or(0)
    };
    (out[0], out[1], out[2])
}

/// The inflated text of a Protocol Data Block.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtocolBlock {
    text: Vec<u8>,
}

/// Why a protocol block could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("shorter than its stated length (or under 20 bytes)")]
    Short,
    #[error("not a gzip stream of deflate data")]
    NotGzip,
    #[error("its deflate stream does not inflate")]
    Inflate,
}

impl ProtocolBlock {
    /// The block of a file, if it has one: Some(Err) when it is there but unreadable.
    pub fn of(obj: &InMemDicomObject) -> Option<Result<ProtocolBlock, BlockError>> {
        if !is_ge(obj) {
            return None;
        }
        let tag = private(obj, 0x0025, SERS, PROTOCOL_BLOCK)?;
        let bytes = obj.get(tag)?.to_bytes().ok()?;
        Some(Self::from_value(&bytes))
    }

    /// The stated length of a block's value (its first four bytes, little endian).
    pub fn stated_length(value: &[u8]) -> Option<usize> {
        let b: [u8; 4] = value.get(..4)?.try_into().ok()?;
        usize::try_from(i32::from_le_bytes(b)).ok()
    }

    /// Read an attribute's value: length, then the gzip stream (dcm2niix skips FNAME and
    /// FCOMMENT, inflates what lies before the 8-byte trailer, checks no CRC).
    pub fn from_value(value: &[u8]) -> Result<ProtocolBlock, BlockError> {
        let len = Self::stated_length(value).ok_or(BlockError::Short)?;
        let gz = value
            .get(4..4 + len)
            .filter(|g| g.len() >= 20)
            .ok_or(BlockError::Short)?;
        if gz[..3] != [31, 139, 8] {
            return Err(BlockError::NotGzip);
        }
        let flags = gz[3];
        let mut start = 10;
        for flag in [0x08, 0x10] {
            if flags & flag != 0 {
                while start < gz.len() && gz[start] != 0 {
                    start += 1;
                }
                start += 1;
            }
        }
        let body = gz.get(start..gz.len() - 8).ok_or(BlockError::Short)?;
        let mut text = Vec::new();
        flate2::read::DeflateDecoder::new(body)
            .take(MAX_BLOCK_TEXT)
            .read_to_end(&mut text)
            .map_err(|_| BlockError::Inflate)?;
        Ok(ProtocolBlock { text })
    }

    /// A block's attribute value holding `text` (gzip without a name, time 0).
    pub fn encode(text: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut gz = flate2::GzBuilder::new()
            .mtime(0)
            .write(Vec::new(), flate2::Compression::default());
        // Writing to a Vec cannot fail.
        let _ = gz.write_all(text);
        let body = gz.finish().unwrap_or_default();
        let mut out = (body.len() as i32).to_le_bytes().to_vec();
        out.extend_from_slice(&body);
        if out.len() % 2 == 1 {
            out.push(0);
        }
        out
    }

    /// The inflated text.
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// What follows the first occurrence of `key`, up to the end of its line.
    fn after(&self, key: &str) -> Option<&[u8]> {
        let k = key.as_bytes();
        let at = self.text.windows(k.len()).position(|w| w == k)?;
        let rest = &self.text[at + k.len()..];
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        Some(&rest[..end])
    }

    /// dcm2niix's `readKey`: the digits after the key's first occurrence, as one number (None
    /// when absent: dcm2niix's `readKey` gives 0 then, `readKeyN1` −1).
    pub fn integer(&self, key: &str) -> Option<i64> {
        let line = self.after(key)?;
        Some(
            line.iter()
                .filter(|b| b.is_ascii_digit())
                .fold(0i64, |n, b| {
                    n.saturating_mul(10).saturating_add(i64::from(b - b'0'))
                }),
        )
    }

    /// dcm2niix's `readKeyFloat`: the digits, points and minus signs after the key, read as a
    /// number (0 when absent or unreadable).
    pub fn float(&self, key: &str) -> f64 {
        let Some(line) = self.after(key) else {
            return 0.0;
        };
        let s: String = line
            .iter()
            .filter(|b| b.is_ascii_digit() || **b == b'.' || **b == b'-')
            .map(|&b| char::from(b))
            .collect();
        atof(&s)
    }

    /// dcm2niix's `readKeyStr`: the first non-empty quoted text after the key ("" when absent).
    pub fn text_value(&self, key: &str) -> String {
        let Some(line) = self.after(key) else {
            return String::new();
        };
        let mut out = Vec::new();
        let mut quoted = false;
        for &b in line {
            if quoted && b != b'"' {
                out.push(b);
            }
            if b == b'"' {
                if !out.is_empty() {
                    break;
                }
                quoted = true;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// A 32-bit float of GE's PET block (0009,xx`low` of "GEMS_PETD_01"): its injected volume
/// (0x3A), its filter cutoff (0x8F).
pub fn pet_number(obj: &InMemDicomObject, low: u16) -> Option<f64> {
    super::values::last_private(obj, 0x0009, PETD, low, &super::values::float_number)
}

/// C's `atof`: the longest leading number (0 when none).
pub(crate) fn atof(s: &str) -> f64 {
    (1..=s.len())
        .rev()
        .find_map(|n| s.get(..n).and_then(|p| p.parse::<f64>().ok()))
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_read_as_dcm2niix_reads_them() {
        // The examples of dcm2niix's readSoftwareVersionsGE.
        let r = release("27\\LX\\MR Software release:RX27.0_R02_1831.a");
        assert_eq!((r.major, r.r27_3), (27.0, false));
        let r = release("27\\LX\\MR Software release:RX27.0_R03_1831.a");
        assert_eq!((r.major, r.r27_3), (27.0, true));
        let r = release("28\\LX\\MR29.1_EA_2039.g");
        assert_eq!((r.major, r.r27_3), (29.1, true));
        let r = release("30\\LX\\SIGNA_LX1.MR30.0_R01_2236.d");
        assert_eq!((r.major, r.r27_3), (30.0, true));
        let r = release("25\\LX\\MR Software release:DV25.0_R02_1549.b");
        assert_eq!((r.major, r.r27_3), (25.0, false));
        assert_eq!(release("27").major, 0.0);
    }

    #[test]
    fn protocol_keys_are_read_as_dcm2niix_reads_them() {
        let text = b"ENTRY \"Head First\"\nSLICEORDER \"1\"\nMBACCEL \"3\"\nDELACQNOAV \"0.25\"\n\
                     DELACQ \"Minimum\"\nIOPT \"MPh, EPI\"\n";
        let value = ProtocolBlock::encode(text);
        let b = ProtocolBlock::from_value(&value).expect("block");
        assert_eq!(b.text(), text);
        assert_eq!(b.integer("\nSLICEORDER"), Some(1));
        assert_eq!(b.integer("MBACCEL"), Some(3));
        assert_eq!(b.integer("NOSLC"), None);
        assert_eq!(b.float("DELACQNOAV"), 0.25);
        // The first occurrence: "DELACQ" finds DELACQNOAV's line, as dcm2niix's memmem does.
        assert_eq!(b.text_value("DELACQ"), "0.25");
        assert_eq!(b.text_value("IOPT"), "MPh, EPI");
        // A truncated or flipped block is an error, not a panic.
        for cut in [0, 3, 10, value.len() / 2] {
            assert!(ProtocolBlock::from_value(&value[..cut]).is_err());
        }
        let mut flipped = value.clone();
        flipped[4] ^= 0xFF;
        assert_eq!(
            ProtocolBlock::from_value(&flipped),
            Err(BlockError::NotGzip)
        );
    }
}
