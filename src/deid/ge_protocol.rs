//! GE's Protocol Data Block through de-identification: PS3.15 Annex E option 113111 (Retain Safe
//! Private) applied inside the private attribute (0025,xx1B) of the creator "GEMS_SERS_01" — a
//! gzip stream of the scanner protocol's `KEY "value"` lines. Kept whole it could leak (the
//! protocol holds free texts: series and protocol descriptions); removed, a de-identified GE
//! EPI series loses the slice order, multiband factor and delay its slice times are estimated
//! from (`convert::ge_timing`). So it is rewritten with only the lines of [`KEYS`] — a number
//! for the numeric ones, a text without the subject's identifiers for [`TEXT_KEYS`] — every
//! other line dropped. The verifier holds the released bytes to the same rule ([`check`]).

use dicom_core::Tag;

use crate::ingest::ge::{ProtocolBlock, PROTOCOL_BLOCK, SERS};

/// Protocol keys kept: those dcm2niix reads for GE slice timing.
pub const KEYS: [&str; 8] = [
    "SLICEORDER",
    "VIEWORDER",
    "MBACCEL",
    "NOSLC",
    "DELACQNOAV",
    "DELACQ",
    "PSEQ",
    "IOPT",
];

/// Keys whose value is a text (the others are numbers).
pub const TEXT_KEYS: [&str; 3] = ["DELACQ", "PSEQ", "IOPT"];

/// Whether `tag` is the Protocol Data Block, given its private creator.
pub fn is_block(tag: Tag, creator: Option<&str>) -> bool {
    tag.group() == 0x0025
        && creator == Some(SERS)
        && tag.element() >= 0x1000
        && tag.element() & 0xFF == u16::from(PROTOCOL_BLOCK)
}

/// A line's key and quoted value, when it is `KEY "value"`.
fn key_value(line: &str) -> Option<(&str, &str)> {
    let (key, rest) = line.trim_end_matches('\r').split_once([' ', '\t'])?;
    let value = rest.trim().strip_prefix('"')?.strip_suffix('"')?;
    (!value.contains('"')).then_some((key, value))
}

/// May the line `key "value"` be released?
fn allowed(key: &str, value: &str, clean: &impl Fn(&str) -> bool) -> bool {
    if !KEYS.contains(&key) {
        return false;
    }
    if TEXT_KEYS.contains(&key) {
        return value.chars().all(|c| c.is_ascii_graphic() || c == ' ') && clean(value);
    }
    !value.is_empty() && value.parse::<f64>().is_ok_and(f64::is_finite)
}

/// The block reduced to its kept lines, in their order (after a leading newline, as dcm2niix
/// looks SLICEORDER up after one); None when it does not read or nothing would be kept (then the
/// attribute is removed). `clean` is asked about each kept text.
pub fn reduce(bytes: &[u8], clean: impl Fn(&str) -> bool) -> Option<Vec<u8>> {
    let block = ProtocolBlock::from_value(bytes).ok()?;
    let text = String::from_utf8_lossy(block.text());
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| key_value(line).is_some_and(|(k, v)| allowed(k, v, &clean)))
        .collect();
    if kept.is_empty() {
        return None;
    }
    let out = format!("\n{}\n", kept.join("\n"));
    Some(ProtocolBlock::encode(out.as_bytes()))
}

/// The verifier's rule for a released block: it reads, and holds only what [`reduce`] keeps.
/// Returns its values, to scan for identifiers.
pub fn check(bytes: &[u8]) -> Result<Vec<String>, String> {
    let block = ProtocolBlock::from_value(bytes)
        .map_err(|e| format!("GE protocol data block does not read: {e}"))?;
    let text = String::from_utf8_lossy(block.text());
    let mut values = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        match key_value(line) {
            Some((k, v)) if allowed(k, v, &|_| true) => values.push(v.to_string()),
            _ => return Err("GE protocol data block holds a line not on the safe list".into()),
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROTOCOL: &[u8] = b"ENTRY \"Head First\"\nSEDESC \"fMRI Doe John\"\nSLICEORDER \"1\"\n\
        MBACCEL \"2\"\nNOSLC \"36\"\nDELACQNOAV \"0.5\"\nIOPT \"MPh, EPI\"\nPSEQ \"Doe\"\n\
        COIL \"8HRBRAIN\"\n";

    #[test]
    fn only_the_timing_lines_are_kept_and_they_read_as_before() {
        let value = ProtocolBlock::encode(PROTOCOL);
        let released = reduce(&value, |t| !t.contains("Doe")).expect("kept");
        let block = ProtocolBlock::from_value(&released).expect("reads");
        let text = String::from_utf8_lossy(block.text()).into_owned();
        assert_eq!(
            text,
            "\nSLICEORDER \"1\"\nMBACCEL \"2\"\nNOSLC \"36\"\nDELACQNOAV \"0.5\"\nIOPT \"MPh, EPI\"\n"
        );
        // What the slice timing reads is unchanged.
        let original = ProtocolBlock::from_value(&value).expect("reads");
        for key in ["\nSLICEORDER", "MBACCEL", "NOSLC"] {
            assert_eq!(block.integer(key), original.integer(key));
        }
        assert_eq!(block.float("DELACQNOAV"), original.float("DELACQNOAV"));
        assert_eq!(block.text_value("IOPT"), original.text_value("IOPT"));
        assert_eq!(
            check(&released).expect("passes"),
            ["1", "2", "36", "0.5", "MPh, EPI"]
        );
        // The original fails the verifier; so do a truncation and a block of nothing kept.
        assert!(check(&value).is_err());
        assert!(check(&released[..released.len() / 2]).is_err());
        assert_eq!(
            reduce(&ProtocolBlock::encode(b"SEDESC \"x\"\n"), |_| true),
            None
        );
    }
}
