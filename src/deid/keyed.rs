//! Keyed pseudonyms: UIDs mapped through HMAC-SHA256 with the study key to `2.25.<decimal>` (a
//! UUID-derived UID, PS3.5 B.2) — the same input UID gives the same output everywhere, another key
//! gives others, and no table of originals is kept; and the per-subject date shift (whole days,
//! from the key and the USUBJID), which the linkage step reuses for clinical dates.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why making the MAC cannot fail (what `expect` says if a change of MAC type ever made it).
const HMAC_KEY: &str = "HMAC-SHA256 takes a key of any length";

pub(crate) fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes a key of any length (RFC 2104: a long one is hashed first); the caller checks
    // the 32-byte minimum. Never a fallback key: a known one would make pseudonyms reversible.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect(HMAC_KEY);
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// A public name of the key (16 hex digits of an HMAC of a fixed text): two releases made with
/// one key have the same, releases of two keys differ; nothing of the key can be learnt from it.
pub fn key_id(key: &[u8]) -> String {
    crate::hex::encode(&hmac(key, &[b"ancilla release key id"])[..8])
}

/// UIDs that name standard things (SOP classes, transfer syntaxes, coding schemes), not instances.
pub fn is_well_known(uid: &str) -> bool {
    // The standard's own, and HL7's registry of coding schemes (SNOMED CT's CodingSchemeUID
    // 2.16.840.1.113883.6.96, LOINC's …6.1): they name vocabularies, not instances.
    uid.starts_with("1.2.840.10008.") || uid.starts_with("2.16.840.1.113883.6.")
}

/// The pseudonymous UID of `uid` under `key`.
pub fn map_uid(key: &[u8], uid: &str) -> String {
    UidMapper::new(key).map(uid)
}

/// How many recent mappings each thread keeps: a file's study, series and frame of reference
/// UIDs are the previous file's, and its SOP Instance UID is mapped twice (to place the file, and
/// in its data set): without them a file cost eight HMACs.
const RECENT_UIDS: usize = 16;

thread_local! {
    /// (mapper, original UID, pseudonym) of the last UIDs mapped on this thread.
    static RECENT: std::cell::RefCell<std::collections::VecDeque<(u64, String, String)>> =
        const { std::cell::RefCell::new(std::collections::VecDeque::new()) };
}

/// [`map_uid`] for one key, many UIDs: the HMAC state after the key and the domain prefix is
/// computed once and cloned per UID (two SHA-256 blocks fewer per UID).
#[derive(Clone)]
pub struct UidMapper {
    /// Tells this mapper's entries in the per-thread cache from another's (another key).
    id: u64,
    keyed: HmacSha256,
}

impl UidMapper {
    pub fn new(key: &[u8]) -> UidMapper {
        let mut keyed = <HmacSha256 as Mac>::new_from_slice(key).expect(HMAC_KEY);
        keyed.update(b"ancilla-uid\0");
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        UidMapper { id, keyed }
    }

    /// The pseudonymous UID of `uid` (standard UIDs and empty values unchanged).
    pub fn map(&self, uid: &str) -> String {
        let uid = uid.trim_end_matches('\0').trim();
        if uid.is_empty() || is_well_known(uid) {
            return uid.to_string();
        }
        RECENT.with(|recent| {
            let mut recent = recent.borrow_mut();
            if let Some((_, _, mapped)) = recent
                .iter()
                .find(|(id, original, _)| *id == self.id && original == uid)
            {
                return mapped.clone();
            }
            let mut mac = self.keyed.clone();
            mac.update(uid.as_bytes());
            let h: [u8; 32] = mac.finalize().into_bytes().into();
            let mut b = [0u8; 16];
            b.copy_from_slice(&h[..16]);
            let mapped = format!("2.25.{}", u128::from_be_bytes(b));
            if recent.len() == RECENT_UIDS {
                recent.pop_front();
            }
            recent.push_back((self.id, uid.to_string(), mapped.clone()));
            mapped
        })
    }
}

/// The whole-day date shift of a subject: between −1825 and −365 days (one to five years back).
pub fn date_offset_days(key: &[u8], usubjid: &str) -> i64 {
    let h = hmac(key, &[b"ancilla-date-shift\0", usubjid.as_bytes()]);
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    -(365 + (u64::from_be_bytes(b) % 1461) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_mapping_is_keyed_consistent_and_valid() {
        let k1 = [7u8; 32];
        let k2 = [8u8; 32];
        let a = map_uid(&k1, "1.2.826.0.1.3680043.10.543.1.1.1");
        assert_eq!(a, map_uid(&k1, "1.2.826.0.1.3680043.10.543.1.1.1\0"));
        assert_ne!(a, map_uid(&k2, "1.2.826.0.1.3680043.10.543.1.1.1"));
        assert_ne!(a, map_uid(&k1, "1.2.826.0.1.3680043.10.543.1.1.2"));
        assert!(
            a.starts_with("2.25.") && a.len() <= 64 && a[5..].chars().all(|c| c.is_ascii_digit())
        );
        // Computed independently: Python `hmac.new(bytes([7]*32), b"ancilla-uid\x00" + uid,
        // hashlib.sha256)`, first 16 bytes as a big-endian integer (released UIDs must not change
        // between versions).
        assert_eq!(a, "2.25.221855678614542146541533640610687317108");
        // The reusable mapper gives the one-shot mapping.
        let m = UidMapper::new(&k1);
        assert_eq!(m.map("1.2.826.0.1.3680043.10.543.1.1.1"), a);
        assert_eq!(
            m.map("1.2.826.0.1.3680043.10.543.1.1.2"),
            map_uid(&k1, "1.2.826.0.1.3680043.10.543.1.1.2")
        );
        assert_eq!(
            map_uid(&k1, "1.2.840.10008.5.1.4.1.1.128"),
            "1.2.840.10008.5.1.4.1.1.128"
        );
    }

    #[test]
    fn date_offset_is_per_subject_and_per_key() {
        let k = [1u8; 32];
        let a = date_offset_days(&k, "ANC-01-0001");
        assert!((-1825..=-365).contains(&a));
        assert_eq!(a, date_offset_days(&k, "ANC-01-0001"));
        let others: Vec<i64> = (2..20)
            .map(|i| date_offset_days(&k, &format!("ANC-01-{i:04}")))
            .collect();
        assert!(others.iter().any(|o| *o != a));
        assert_ne!(date_offset_days(&[2u8; 32], "ANC-01-0001"), a);
    }
}
