//! The study's secrets and identities that a de-identification run is given: the key (at least
//! 32 secret bytes: keyed UIDs and date shifts, `keyed`) and the subject map (`patient_id,usubjid`
//! as a spreadsheet saves it), each refused with the reason and row when unusable — never with the
//! value, which may be a PatientID.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::DeidError;

/// Read the key (at least 32 bytes).
pub fn read_key(path: &Path) -> Result<Vec<u8>, DeidError> {
    // A key is 32 to a few hundred bytes: `/dev/zero` given as one was read until the
    // allocation failed (exit 134).
    let key = crate::bounded::read_at_most(path, 1 << 20, "a key is 32 to a few hundred bytes")
        .map_err(|e| DeidError::Key {
            path: path.into(),
            what: if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                "{e}; a new study makes its key once, e.g. `head -c 32 /dev/urandom > {}`, and \
                 keeps it at the core lab (every later run needs the same key)",
                path.display()
            )
            } else {
                e.to_string()
            },
        })?;
    if key.len() < 32 {
        return Err(DeidError::Key {
            path: path.into(),
            what: format!("{} bytes; at least 32 secret bytes are required", key.len()),
        });
    }
    Ok(key)
}

/// Read the subject map (`patient_id,usubjid`).
pub fn read_subject_map(path: &Path) -> Result<BTreeMap<String, String>, DeidError> {
    let err = |what: String| DeidError::SubjectMap {
        path: path.into(),
        what,
    };
    // As a spreadsheet saves it: `;` or tabs, Windows-1252 (`csv_text`); identifiers are text,
    // so no decimal comma is read.
    let (mut r, _) = crate::csv_text::reader(path).map_err(|e| err(e.to_string()))?;
    let h = crate::csv_text::header(&mut r).map_err(|e| err(e.to_string()))?;
    let (Some(pi), Some(ui)) = (
        h.iter().position(|c| c == "patient_id"),
        h.iter().position(|c| c == "usubjid"),
    ) else {
        return Err(err("expected columns patient_id,usubjid".into()));
    };
    let mut m = BTreeMap::new();
    let mut line = 1;
    for rec in r.byte_records() {
        let rec = rec.map_err(|e| err(format!("after line {line}: {e}")))?;
        line = crate::csv_text::line_of(&rec, line);
        if crate::csv_text::is_blank(&rec) {
            continue;
        }
        crate::csv_text::check_width(&rec, h.len())
            .map_err(|e| err(format!("row {}: {e}", line)))?;
        let cell = |i: usize| crate::csv_text::cell_text(rec.get(i).unwrap_or_default(), false);
        let (p, u) = (cell(pi), cell(ui));
        let (p, u) = (p.as_str(), u.as_str());
        if p.is_empty() || u.is_empty() {
            return Err(err(format!("row {}: empty patient_id or usubjid", line)));
        }
        if !usable_usubjid(u) {
            // The value is not printed: with the columns swapped it would be a PatientID.
            return Err(err(format!(
                "row {}: usubjid must be at most 64 letters, digits, '-', '_' or '.', not \
                 starting with '.' (it becomes the released PatientID and a folder name)",
                line
            )));
        }
        if m.insert(p.to_string(), u.to_string()).is_some() {
            return Err(err(format!("row {}: patient_id appears twice", line)));
        }
    }
    Ok(m)
}

/// What to say of the USUBJIDs the subject map gives to more than one patient_id: their images
/// are released, converted and measured as one subject. That is right for one patient known by
/// two IDs (two sites, a merged record), and a copy slip otherwise (two people's images under one
/// pseudonym, one of them measured on the other's mask): said, by the USUBJID and how many IDs,
/// not the IDs (PHI).
pub fn shared_usubjids(path: &Path) -> Vec<String> {
    let Ok(map) = read_subject_map(path) else {
        return Vec::new();
    };
    let mut by_usubjid: BTreeMap<&str, usize> = BTreeMap::new();
    for u in map.values() {
        *by_usubjid.entry(u.as_str()).or_default() += 1;
    }
    by_usubjid
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(u, n)| {
            format!(
                "the subject map gives USUBJID {u} to {n} patient IDs: their images are \
                 released, converted and measured as one subject (right for one patient \
                 known at two sites; a copy slip in the map otherwise)"
            )
        })
        .collect()
}

/// The subjects of the map at `path` that `owned` keeps (a shard's; all without one) and of
/// which nothing was released (`released` holds the subjects with a file in the release), said
/// once: a patient of the map whose export is missing was in no output (an operations audit).
pub fn mapped_but_not_released(
    path: &Path,
    owned: impl Fn(&BTreeSet<String>) -> BTreeSet<String>,
    released: &BTreeSet<String>,
) -> Option<String> {
    let map = read_subject_map(path).ok()?;
    let all: BTreeSet<String> = map.into_values().collect();
    let missing: Vec<String> = owned(&all)
        .into_iter()
        .filter(|u| !released.contains(u))
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "{} of the subject map {} no file released: {} (no images in the export, or none \
             released: see the rejected inputs)",
            crate::plural::count(missing.len(), "subject"),
            if missing.len() == 1 { "has" } else { "have" },
            crate::plural::listed(&missing)
        )
    })
}

/// Whether a USUBJID can be the released PatientID (LO: at most 64 characters, no backslash or
/// control character) and a folder name on every system (no separator, not `.` or `..`).
fn usable_usubjid(u: &str) -> bool {
    u.len() <= 64
        && !u.starts_with('.')
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A USUBJID given to two patient IDs (a monitor's audit: a copy slip merged two patients'
    /// images, exit 0, without a word) is said, with the USUBJID and not the IDs.
    #[test]
    fn a_usubjid_given_to_two_patient_ids_is_said() {
        let dir = tempfile::tempdir().expect("temp dir");
        let map = dir.path().join("map.csv");
        std::fs::write(
            &map,
            "patient_id,usubjid\nMRN1,ANC-01-0001\nMRN2,ANC-01-0002\nMRN3,ANC-01-0001\n",
        )
        .expect("write map");
        let said = shared_usubjids(&map);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].contains("USUBJID ANC-01-0001 to 2 patient IDs"),
            "{}",
            said[0]
        );
        assert!(!said[0].contains("MRN"), "{}", said[0]);
        std::fs::write(&map, "patient_id,usubjid\nMRN1,ANC-01-0001\n").expect("write map");
        assert!(shared_usubjids(&map).is_empty());
    }

    /// A subject map saved by a spreadsheet (a BOM, `;`, CRLF) reads as the comma file does.
    #[test]
    fn subject_map_as_a_spreadsheet_saves_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let map = dir.path().join("map.csv");
        std::fs::write(
            &map,
            b"\xef\xbb\xbfpatient_id;usubjid\r\nMRN 0012;ANC-01-0001\r\n12,5;ANC-01-0002\r\n",
        )
        .expect("write map");
        let m = read_subject_map(&map).expect("read");
        assert_eq!(m["MRN 0012"], "ANC-01-0001");
        // An identifier is text: no decimal comma is read in it.
        assert_eq!(m["12,5"], "ANC-01-0002");
    }

    /// A USUBJID that cannot be a PatientID and a folder name is refused with its row, without
    /// its value; it was released as a folder named `______evil` for `../../evil`.
    #[test]
    fn subject_map_refuses_unusable_usubjids() {
        let dir = tempfile::tempdir().expect("temp dir");
        let map = dir.path().join("map.csv");
        let read = |body: &str| {
            std::fs::write(&map, format!("patient_id,usubjid\n{body}")).expect("write map");
            read_subject_map(&map).map_err(|e| e.to_string())
        };
        assert!(read("MRN1,ANC-01-0001\nMRN2,ANC_01.0002\n").is_ok());
        for bad in [
            "../../evil",
            "a/b",
            ".hidden",
            "ANC 01",
            "ANC\\01",
            &"A".repeat(65),
        ] {
            let e = read(&format!("MRN1,ANC-01-0001\nMRN2,{bad}\n")).unwrap_err();
            assert!(e.contains("row 3: usubjid must be"), "{bad}: {e}");
            assert!(!e.contains(bad), "{e}");
        }
        // Two PatientIDs of one subject (two hospitals' numbers) stay allowed.
        assert_eq!(
            read("MRN1,ANC-01-0001\nX9,ANC-01-0001\n").map(|m| m.len()),
            Ok(2)
        );
    }
}
