//! Clean Descriptors (PS3.15 Annex E option 113105): free-text descriptors keep their meaning but
//! lose identifying words — at least every name part and identifier found elsewhere in the same
//! data set (patient, physicians, operators, institution, IDs, accession numbers), and its
//! dates as DICOM and people write them (20240305, 2024-03-05, 05/03/2024, ...).

use dicom_core::value::Value;
use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

/// A data set's identifying strings (its own values, at every depth), by kind. Tokens shorter
/// than 3 characters are left out (they would match anything).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// Person names (whole and each part), IDs, accession numbers, dates of birth, addresses and
    /// telephone numbers (whole and each part): cleaned out of descriptors, and no kept value may
    /// hold one.
    pub personal: Vec<String>,
    /// Institution and station names, whole: cleaned out, and no kept value may hold one, except
    /// the equipment's own names (a vendor's demonstration site is named after the vendor).
    pub places: Vec<String>,
    /// The words of institution and station names: cleaned out of descriptors, but not checked
    /// alone ("Medical" of a "University Medical Center" is also in "GE MEDICAL SYSTEMS").
    pub place_words: Vec<String>,
    /// The values of the other identifiers Table E.1-1 removes ([`removed_identifier`]: IDs and
    /// their issuers, order and serial numbers, addresses, telephone numbers, locations), whole
    /// and word by word (a barcode of two codes), and person names' parts joined
    /// ([`name_variants`]): cleaned out of descriptors. Not checked in kept
    /// values (the profile removes the attributes themselves; a location's word such as "Ward"
    /// may be any text's).
    pub removed: Vec<String>,
    /// The patient's family and given names of two letters ("Ng", "Li", a CJK given name):
    /// cleaned out of descriptors as whole words, not checked alone (two letters could be any
    /// text's).
    pub short_names: Vec<String>,
}

impl Found {
    /// Every string Clean Descriptors removes, sorted.
    pub fn for_cleaning(&self) -> Vec<String> {
        let mut all: Vec<String> = [
            &self.personal,
            &self.places,
            &self.place_words,
            &self.removed,
            &self.short_names,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        all.sort();
        all.dedup();
        all
    }

    /// Keep only the strings `keep` accepts (e.g. not the subject's new pseudonym).
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        for list in [
            &mut self.personal,
            &mut self.places,
            &mut self.place_words,
            &mut self.removed,
            &mut self.short_names,
        ] {
            list.retain(|s| keep(s));
        }
    }
}

/// The identifying strings of a data set, by kind.
pub fn identifiers(obj: &InMemDicomObject) -> Found {
    notes(obj).found()
}

/// The identifying values of a data set ([`Notes`]), at every depth.
pub(super) fn notes(obj: &InMemDicomObject) -> Notes {
    let mut out = Notes::default();
    collect(obj, &mut out);
    out
}

/// `s` trimmed, whole into `whole` and each part (split at `^`, `=`, `,` and spaces) into `parts`.
fn push_str(whole: &mut Vec<String>, parts: Option<&mut Vec<String>>, s: &str) {
    let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    if s.is_empty() {
        return;
    }
    whole.push(s.to_string());
    let parts = match parts {
        Some(p) => p,
        None => whole,
    };
    for part in s.split(|c: char| c == '^' || c == '=' || c == ',' || c.is_whitespace()) {
        let p = part.trim();
        if !p.is_empty() && p != s {
            parts.push(p.to_string());
        }
    }
}

/// More ways a person's name is written in free text (found by a de-identification audit, each
/// kept in a description): the parts of a double-barrelled name ("Smith-Jones" → "Smith",
/// "Jones"); a name without its apostrophe ("O'Brien" → "OBrien"); a name with its accents and
/// umlauts written in ASCII ("García" → "Garcia", "Müller" → "Muller" and "Mueller"). Into
/// `out`, beside what [`push_str`] wrote. The family and given names joined, each way, into
/// `joined`: as Japanese and Chinese names are written ("山田太郎" of 山田^太郎, "やまだたろう"; a
/// PHI audit found them kept), and as a name is glued in an ID-like text ("QuixleyZebedee").
/// Cleaned out as words, not looked for inside kept values: two short parts joined ("MaLi" of
/// Ma^Li) are in ordinary words ("normalized"; a review found such files withheld).
fn name_variants(value: &str, out: &mut Vec<String>, joined: &mut Vec<String>) {
    let value = value.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    let mut words: Vec<String> = Vec::new();
    for group in value.split('=') {
        let mut parts = group.split('^').map(str::trim);
        if let (Some(family), Some(given)) = (parts.next(), parts.next()) {
            if !family.is_empty() && !given.is_empty() {
                joined.push(format!("{family}{given}"));
                joined.push(format!("{given}{family}"));
            }
        }
    }
    for part in value.split(|c: char| c == '^' || c == '=' || c == ',' || c.is_whitespace()) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        words.push(part.to_string());
        let pieces: Vec<&str> = part
            .split(['-', '\'', '\u{2019}', '.'])
            .filter(|p| !p.is_empty())
            .collect();
        if pieces.len() > 1 {
            words.extend(pieces.iter().map(|p| p.to_string()));
            words.push(pieces.concat());
        }
    }
    for w in words {
        for folded in ascii_forms(&w) {
            if folded != w {
                out.push(folded);
            }
        }
        out.push(w);
    }
}

/// The family and given names (the first two components of each group) of a patient's name
/// that are two letters long.
fn short_names(value: &str, out: &mut Vec<String>) {
    for group in value.split('=') {
        for component in group.split('^').take(2) {
            for word in component.split(|c: char| c == ',' || c.is_whitespace()) {
                if word.chars().count() == 2 && word.chars().all(char::is_alphabetic) {
                    out.push(word.to_string());
                }
            }
        }
    }
}

/// `word` with its letters written in ASCII, letter by letter: the accents of its canonical
/// decomposition (NFD) dropped (García, Nguyễn, Şahin, Țepeș), a few letters with no
/// decomposition spelt out (ı ł đ ø ß æ œ þ ð), and for the letters with a second spelling each
/// spelling: umlauts both German ways ("Müller": "Muller", "Mueller"), å, ø also as the Nordic
/// languages write them without (aa, oe: "Ødegård": "Odegard", "Odegaard", "Oedegaard"; a PHI
/// audit found those kept). Every combination of spellings, up to 16 forms (then the two where
/// every letter is spelt one way). A letter with no ASCII form (CJK, Cyrillic) stays as it is.
fn ascii_forms(word: &str) -> Vec<String> {
    use unicode_normalization::UnicodeNormalization;
    if word.is_ascii() {
        return vec![word.to_string()];
    }
    // The second spelling of a letter that has one.
    let second = |c: char| -> Option<String> {
        match c {
            'ä' | 'ö' | 'ü' | 'Ä' | 'Ö' | 'Ü' => {
                Some(c.nfd().filter(char::is_ascii).chain(['e']).collect())
            }
            'å' => Some("aa".into()),
            'Å' => Some("Aa".into()),
            'ø' => Some("oe".into()),
            'Ø' => Some("Oe".into()),
            _ => None,
        }
    };
    let twofold = word.chars().filter(|&c| second(c).is_some()).count();
    // Bit k of `mask`: the k-th letter with two spellings is spelt its second way.
    let fold = |mask: u32| -> String {
        let mut s = String::with_capacity(word.len());
        let mut k = 0;
        for c in word.chars() {
            if let Some(other) = second(c) {
                k += 1;
                // (u32::MAX: every letter its second way, past the 32nd too.)
                let bit = 1u32.checked_shl(k - 1).unwrap_or(0);
                if mask == u32::MAX || mask & bit != 0 {
                    s.push_str(&other);
                    continue;
                }
            }
            let spelt = match c {
                'ı' => "i",
                'ł' => "l",
                'Ł' => "L",
                'đ' | 'ð' => "d",
                'Đ' | 'Ð' => "D",
                'ø' => "o",
                'Ø' => "O",
                'ß' => "ss",
                'æ' => "ae",
                'Æ' => "Ae",
                'œ' => "oe",
                'Œ' => "Oe",
                'þ' => "th",
                'Þ' => "Th",
                _ => "",
            };
            if !spelt.is_empty() {
                s.push_str(spelt);
                continue;
            }
            let base: String = c.nfd().filter(|d| d.is_ascii()).collect();
            if base.is_empty() {
                s.push(c);
            } else {
                s.push_str(&base);
            }
        }
        s
    };
    let masks: Vec<u32> = if twofold <= 4 {
        (0..1u32 << twofold).collect()
    } else {
        vec![0, u32::MAX]
    };
    let mut forms: Vec<String> = masks.into_iter().map(fold).collect();
    forms.sort();
    forms.dedup();
    forms
}

fn collect(obj: &InMemDicomObject, out: &mut Notes) {
    for e in obj.iter() {
        match e.value() {
            Value::Sequence(seq) => {
                for item in seq.items() {
                    collect(item, out);
                }
            }
            Value::Primitive(p) => {
                let (tag, vr) = (e.header().tag, e.header().vr);
                if let Some(kind) = identifying(tag, vr) {
                    for s in p.to_multi_str().iter() {
                        out.add(kind, s);
                    }
                }
            }
            Value::PixelSequence(_) => {}
        }
    }
}

/// What an identifying attribute's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// An ID, an address or a telephone number.
    Personal,
    /// A person's name (PN): also written as people write names ([`name_variants`]).
    Name,
    /// The patient's own name: as [`Kind::Name`], and its family and given names of two
    /// letters too ("Ng", "Li", 小明).
    PatientName,
    /// An institution or station name.
    Place,
    /// A date (DA, or the date of a DT): the patient's dates are PHI wherever they are written.
    Date,
    /// Another identifier the profile removes (see [`removed_identifier`]).
    Removed,
}

/// Whether an attribute's values identify, and as what.
pub(super) fn identifying(tag: dicom_core::Tag, vr: VR) -> Option<Kind> {
    const ID_TAGS: [dicom_core::Tag; 6] = [
        tags::PATIENT_ID,
        tags::ACCESSION_NUMBER,
        tags::STUDY_ID,
        tags::DEVICE_SERIAL_NUMBER,
        tags::PATIENT_BIRTH_DATE,
        tags::REQUESTED_PROCEDURE_ID,
    ];
    const PLACE_TAGS: [dicom_core::Tag; 2] = [tags::INSTITUTION_NAME, tags::STATION_NAME];
    if PLACE_TAGS.contains(&tag) {
        Some(Kind::Place)
    } else if matches!(vr, VR::DA | VR::DT) {
        // The birth date among them, in every written form.
        Some(Kind::Date)
    } else if tag == tags::PATIENT_NAME {
        Some(Kind::PatientName)
    } else if vr == VR::PN {
        Some(Kind::Name)
    } else if ID_TAGS.contains(&tag)
        || tag == tags::PATIENT_ADDRESS
        || tag == tags::PATIENT_TELEPHONE_NUMBERS
    {
        Some(Kind::Personal)
    } else {
        removed_identifier(tag, vr)
    }
}

/// Attributes of Table E.1-1 that hold an identifier (keyword ending in ID, IDs, Identifier,
/// Number(s), Address, Residence, Location, Locator or TelecomInformation, an order number,
/// BarcodeValue, or an issuer's), in text VRs, whose Basic action removes or replaces them and which no option
/// here keeps or cleans: OtherPatientIDs, IssuerOfPatientID, MedicalRecordLocator, AdmissionID,
/// ServiceEpisodeID, order numbers, PerformedProcedureStepID, SpecimenAccessionNumber,
/// InstitutionAddress, PersonAddress, RegionOfResidence, ... A descriptor that repeats one of
/// them still identifies the patient (found on random data sets: `CT abdomen H7K3PQ2Z`, the
/// file's OtherPatientIDs, was released as it was).
fn removed_identifier(tag: dicom_core::Tag, vr: VR) -> Option<Kind> {
    static TAGS: std::sync::OnceLock<std::collections::HashSet<dicom_core::Tag>> =
        std::sync::OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        super::profile::profile()
            .listed()
            .filter(|(_, rule)| {
                !matches!(rule.basic.as_str(), "K" | "C" | "U" | "X/Z/U*")
                    // The options this study can switch on: safe private, patient
                    // characteristics, modified dates, clean descriptors.
                    && [0, 4, 6, 7]
                        .iter()
                        .all(|&i| !matches!(rule.options[i].as_str(), "K" | "C"))
            })
            .filter(|(_, rule)| {
                let k = rule.keyword.as_str();
                [
                    "ID",
                    "IDs",
                    "Identifier",
                    "Number",
                    "Numbers",
                    "Locator",
                    "Address",
                    "Residence",
                    "Location",
                    "TelecomInformation",
                    "Issuer",
                ]
                .iter()
                .any(|w| k.ends_with(w))
                    || k.contains("OrderNumber")
                    || k == "BarcodeValue"
                    || k.starts_with("IssuerOf")
            })
            .map(|(t, _)| t)
            .collect()
    });
    if !matches!(vr, VR::LO | VR::SH | VR::ST | VR::LT | VR::UT | VR::UC) {
        return None;
    }
    tags.contains(&tag).then_some(Kind::Removed)
}

/// One value of an identifying attribute (see [`identifying`]) into `out`. A date goes in as it
/// is written in DICOM (YYYYMMDD) and in the ways people write dates into descriptions
/// (2024-03-05, 2024.03.05, 2024/03/05, 05.03.2024, 05/03/2024, 03/05/2024, 05-03-2024).
pub(super) fn note(kind: Kind, value: &str, out: &mut Found) {
    match kind {
        Kind::Place => push_str(&mut out.places, Some(&mut out.place_words), value),
        Kind::Personal => push_str(&mut out.personal, None, value),
        Kind::Name => {
            push_str(&mut out.personal, None, value);
            name_variants(value, &mut out.personal, &mut out.removed);
        }
        Kind::PatientName => {
            push_str(&mut out.personal, None, value);
            name_variants(value, &mut out.personal, &mut out.removed);
            short_names(value, &mut out.short_names);
        }
        Kind::Removed => push_str(&mut out.removed, None, value),
        Kind::Date => {
            let v = value.trim_matches(|c: char| c == '\0' || c.is_whitespace());
            let Some(d) = v.get(..8).filter(|d| d.bytes().all(|b| b.is_ascii_digit())) else {
                return;
            };
            let (y, m, dd) = (&d[..4], &d[4..6], &d[6..8]);
            out.personal.push(d.to_string());
            for sep in ["-", ".", "/"] {
                out.personal.push(format!("{y}{sep}{m}{sep}{dd}"));
            }
            for (a, b, sep) in [(dd, m, "."), (dd, m, "/"), (m, dd, "/"), (dd, m, "-")] {
                out.personal.push(format!("{a}{sep}{b}{sep}{y}"));
            }
            written_dates(y, m, dd, &mut out.removed);
        }
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// More ways people write a date (YYYY, MM, DD as in DICOM) into a description: without leading
/// zeros (17.2.2024, 2024-2-15, 1/31/2024), with a two-digit year (04/02/24, 05 Feb 24), with
/// the month's name or its three letters (29 OCT 1991, 08FEB2024, 02-JUN-1961, JUL 2, 1969,
/// 4 February 2024), and its month and year alone (Feb 2024, 02/2024, 2024-02). Found on random
/// descriptors (benches/phi-anywhere.py): only the zero-padded numeric forms were cleaned.
/// Cleaned out of descriptors only: short forms such as 2/6/24 are not checked alone in kept
/// values.
fn written_dates(y: &str, m: &str, dd: &str, out: &mut Vec<String>) {
    let (Ok(month), Ok(day)) = (m.parse::<usize>(), dd.parse::<usize>()) else {
        return;
    };
    let Some(name) = month.checked_sub(1).and_then(|i| MONTHS.get(i)) else {
        return;
    };
    let (m1, d1, yy) = (month.to_string(), day.to_string(), &y[2..]);
    let days = [dd, d1.as_str()];
    let months = [m, m1.as_str()];
    for year in [y, yy] {
        for sep in [".", "/", "-"] {
            for d in days {
                for mo in months {
                    out.push(format!("{d}{sep}{mo}{sep}{year}"));
                    out.push(format!("{mo}{sep}{d}{sep}{year}"));
                }
            }
        }
    }
    for sep in [".", "/", "-"] {
        out.push(format!("{y}{sep}{m1}{sep}{d1}"));
    }
    for month_name in [&name[..3], name] {
        for d in days {
            for sep in ["", " ", "-"] {
                out.push(format!("{d}{sep}{month_name}{sep}{y}"));
            }
            for sep in ["", " ", "-"] {
                out.push(format!("{d}{sep}{month_name}{sep}{yy}"));
            }
            out.push(format!("{month_name} {d}, {y}"));
            out.push(format!("{month_name} {d} {y}"));
        }
        // The month and year alone ("Feb 2024", "FEB-24", "February 2024"): under HIPAA's Safe
        // Harbor every element of a date but the year identifies.
        for sep in ["", " ", "-"] {
            out.push(format!("{month_name}{sep}{y}"));
            out.push(format!("{month_name}{sep}{yy}"));
        }
    }
    for mo in months {
        for sep in [".", "/", "-"] {
            out.push(format!("{mo}{sep}{y}"));
            out.push(format!("{y}{sep}{mo}"));
        }
    }
}

/// A data set's identifying values as [`note`] takes them, each once, in the order met: the
/// input of its [`Found`], cheap to compare with the previous file's (the files of a series
/// carry the same). A date is kept as its day (YYYYMMDD), all `note` reads of it, so a day
/// held in several attributes (StudyDate, SeriesDate, a DT's date) is written out in its
/// hundred forms once, and the files of a series whose DT attributes differ in their times
/// still compare equal.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Notes(Vec<(Kind, String)>);

impl Notes {
    /// One value of an identifying attribute of `kind` (see [`identifying`]).
    pub(super) fn add(&mut self, kind: Kind, value: &str) {
        let plain = as_displayed(value);
        let value = plain.as_ref();
        let value = if kind == Kind::Date {
            let v = value.trim_matches(|c: char| c == '\0' || c.is_whitespace());
            match v.get(..8).filter(|d| d.bytes().all(|b| b.is_ascii_digit())) {
                Some(day) => day,
                None => return,
            }
        } else {
            value
        };
        if !self.0.iter().any(|(k, v)| *k == kind && v == value) {
            self.0.push((kind, value.to_string()));
        }
    }

    /// The [`Found`] of these values: what [`note`] of each, then [`finish`], gives.
    pub(super) fn found(&self) -> Found {
        let mut found = Found::default();
        for (kind, value) in &self.0 {
            note(*kind, value, &mut found);
        }
        finish(found)
    }
}

thread_local! {
    /// The last file's notes on this thread, its subject's pseudonym, and what was made of them.
    static LAST_NOTES: std::cell::RefCell<Option<(Notes, String, Prepared)>> =
        const { std::cell::RefCell::new(None) };
}

/// A file's identifiers, less its subject's new pseudonym, and their prepared form.
pub(super) type Prepared = (std::sync::Arc<Found>, Identifiers);

/// The identifiers of a file with these `notes`, less `pseudonym` (the subject's USUBJID, which
/// the release carries), and their prepared form: made once per series on a thread, not once
/// per file (every date written in its hundred forms, sorted, deduplicated).
pub(super) fn prepared(notes: Notes, pseudonym: &str) -> Prepared {
    LAST_NOTES.with(|last| {
        if let Some((n, p, prepared)) = last.borrow().as_ref() {
            if *n == notes && p == pseudonym {
                return prepared.clone();
            }
        }
        let mut found = notes.found();
        // Nor any piece of it: the release carries it (a site ID "SCR-ANC01-017" mapped to
        // "ANC01-017" failed every file on the pseudonym's own "ANC01").
        let pseudonym_lower = pseudonym.to_lowercase();
        found.retain(|i| !pseudonym_lower.contains(&i.to_lowercase()));
        let ids = Identifiers::of(&found);
        let made = (std::sync::Arc::new(found), ids);
        *last.borrow_mut() = Some((notes, pseudonym.to_string(), made.clone()));
        made
    })
}

/// `found` as [`identifiers`] returns it: short tokens left out (under three letters or digits;
/// but the patient's two-letter names, [`Found::short_names`]), sorted, without duplicates.
pub(super) fn finish(mut found: Found) -> Found {
    for (short, list) in [
        (false, &mut found.personal),
        (false, &mut found.places),
        (false, &mut found.place_words),
        (false, &mut found.removed),
        (true, &mut found.short_names),
    ] {
        list.retain(|s| {
            let n = s.chars().filter(|c| c.is_alphanumeric()).count();
            n >= 3 || (short && n == 2)
        });
        list.sort();
        list.dedup();
    }
    found
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// A data set's identifying strings, prepared once for cleaning its descriptors: lower-cased,
/// longest first (so a full name goes before its parts), and one automaton that finds any of
/// them (so a value holding none is passed over in one scan).
#[derive(Debug, Clone, Default)]
pub struct Identifiers {
    longest_first_lowered: std::sync::Arc<[String]>,
    /// The personal identifiers the release check looks for anywhere in a kept value (`verify`:
    /// four characters or more, a digit among them, not an all-digit fragment under six: IDs,
    /// dates, telephone numbers), lower-cased, longest first: removed wherever they stand, also
    /// joined to other characters ("DWI_20240315120000", "scan20240315"), where a whole-word
    /// search leaves them and the check then refuses the series. A date goes with the time
    /// joined to it.
    glued_longest_first: std::sync::Arc<[String]>,
    any: Option<std::sync::Arc<aho_corasick::AhoCorasick>>,
    /// The digits of each ID that has six or more ("1000283" of MRN1000283, "2525877422" of
    /// NHN2525877422): removed from a descriptor wherever a run of digits holds them, whatever
    /// separates the digits ("MRN 1000283", "mrn-1000283", "NHS 252 587 7422" were kept).
    digit_cores: std::sync::Arc<[String]>,
}

/// An automaton over a file's identifiers. A contiguous NFA: built in a tenth of the time of the
/// DFA the crate would choose for a few dozen patterns, and these automata serve one series each.
pub(super) fn automaton<P: AsRef<[u8]>>(
    patterns: &[P],
) -> Result<aho_corasick::AhoCorasick, aho_corasick::BuildError> {
    aho_corasick::AhoCorasick::builder()
        .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
        .build(patterns)
}

impl Identifiers {
    /// Prepare `identifiers` (any order), each removed as whole words only (`of` also removes
    /// the release check's IDs and dates where they are joined to other characters).
    pub fn new(identifiers: &[String]) -> Identifiers {
        let mut ids: Vec<&String> = identifiers.iter().filter(|i| !i.is_empty()).collect();
        ids.sort_by_key(|i| std::cmp::Reverse(i.len()));
        let lowered: Vec<String> = ids.into_iter().map(|i| i.to_lowercase()).collect();
        // Without an automaton every identifier is searched for one by one.
        let any = automaton(&lowered).ok().map(std::sync::Arc::new);
        Identifiers {
            longest_first_lowered: lowered.into(),
            glued_longest_first: Vec::new().into(),
            any,
            digit_cores: Vec::new().into(),
        }
    }

    /// Every string Clean Descriptors removes from a data set with these identifiers, prepared
    /// (its automaton built). De-identification prepares them once per series ([`prepared`]).
    pub fn of(found: &Found) -> Identifiers {
        let mut ids = Identifiers::new(&found.for_cleaning());
        let mut glued: Vec<String> = found
            .personal
            .iter()
            .filter(|p| is_glued_identifier(p))
            .map(|p| p.to_lowercase())
            .collect();
        glued.sort_by_key(|g| std::cmp::Reverse(g.len()));
        glued.dedup();
        ids.glued_longest_first = glued.into();
        // Not of dates, whose forms are cleaned as dates (a number holding a birth date's digits,
        // "b 341970", is no date): only of an ID with a letter, or of an all-digit one of other
        // than a date's 6 or 8 digits.
        let mut cores: Vec<String> = found
            .personal
            .iter()
            .chain(&found.removed)
            .filter_map(|id| {
                let digits: String = id.chars().filter(char::is_ascii_digit).collect();
                let lettered = id.chars().any(|c| c.is_alphabetic());
                (digits.len() >= 6 && (lettered || !matches!(digits.len(), 6 | 8)))
                    .then_some(digits)
            })
            .collect();
        cores.sort();
        cores.dedup();
        ids.digit_cores = cores.into();
        ids
    }
}

/// Remove every whole-word, case-insensitive occurrence of each identifier from `text`, then tidy
/// the separators and spaces the removal left; a text that held none comes back unchanged.
pub fn clean_text(text: &str, identifiers: &Identifiers) -> String {
    if let Some(cleaned) = cleaned_as_displayed(text, |t| clean_text(t, identifiers)) {
        return cleaned;
    }
    let mut s = text.to_string();
    let mut lower = s.to_lowercase();
    // Most descriptors hold no identifier at all: one scan says so.
    let holds_none = identifiers
        .any
        .as_ref()
        .is_some_and(|ac| !ac.is_match(lower.as_str()));
    let ids: &[String] = if holds_none {
        &[]
    } else {
        &identifiers.longest_first_lowered
    };
    let glued: &[String] = if holds_none {
        &[]
    } else {
        &identifiers.glued_longest_first
    };
    let mut removed = false;
    // Byte positions are the same in the lower-cased copy for ASCII; the whole text goes when
    // case folding changed lengths (`cut`).
    for lower_id in glued {
        while let Some(pos) = lower.find(lower_id.as_str()) {
            removed = true;
            let mut end = pos + lower_id.len();
            if is_date_form(lower_id) {
                end += joined_time(&lower[end..]);
            }
            if !cut(&mut s, &mut lower, pos, end) {
                return String::new();
            }
        }
    }
    for lower_id in ids {
        while let Some(pos) = find_word(&lower, lower_id) {
            removed = true;
            if !cut(&mut s, &mut lower, pos, pos + lower_id.len()) {
                return String::new();
            }
        }
    }
    if let Some(kept) = without_digit_cores(&s, &identifiers.digit_cores) {
        s = kept;
        removed = true;
    }
    // A value that held none is kept as it was, spacing included.
    if !removed {
        return s;
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` without the digits of any of `cores` written in it with or without separators
/// between them (up to three of ' ', '-', '.', '/', '_', ',': "NHS 252 - 587 - 7422",
/// "MRN 1,000,283"), from the first of those digits to the last (the text around stays: "MRN
/// 1000283 3.0T" keeps its "3.0T"); None when it holds none.
fn without_digit_cores(text: &str, cores: &[String]) -> Option<String> {
    if cores.is_empty() {
        return None;
    }
    let bytes = text.as_bytes();
    let separator = |b: u8| matches!(b, b' ' | b'-' | b'.' | b'/' | b'_' | b',');
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // A run: digits, with at most three separators between two of them.
        let mut at = Vec::new();
        let mut j = i;
        loop {
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                at.push(j);
                j += 1;
            }
            let gap = bytes[j..]
                .iter()
                .take(4)
                .take_while(|b| separator(**b))
                .count();
            if gap > 0 && gap <= 3 && bytes.get(j + gap).is_some_and(u8::is_ascii_digit) {
                j += gap;
            } else {
                break;
            }
        }
        let digits: String = at.iter().map(|&p| char::from(bytes[p])).collect();
        for core in cores {
            let mut from = 0;
            while let Some(k) = digits[from..].find(core.as_str()) {
                let start = from + k;
                spans.push((at[start], at[start + core.len() - 1] + 1));
                from = start + core.len();
            }
        }
        i = j.max(i + 1);
    }
    if spans.is_empty() {
        return None;
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        if start >= at {
            out.push_str(&text[at..start]);
            at = end;
        } else {
            at = at.max(end);
        }
    }
    out.push_str(&text[at..]);
    Some(out)
}

/// A descriptor cleaned (Clean Descriptors): [`clean_text`], then any calendar date written in it
/// removed, the file's or not. An earlier exam's date ("comparison 2023-11-02") beside its
/// shifted release gave the subject's shift away, and with it every real date; only the file's
/// own dates had been looked for.
pub fn clean_descriptor(text: &str, identifiers: &Identifiers) -> String {
    if let Some(cleaned) = cleaned_as_displayed(text, |t| clean_descriptor(t, identifiers)) {
        return cleaned;
    }
    let capped = ages_capped(text);
    let text = capped.as_ref();
    // Dates first: an identifier cut out of one ("2023" of an accession number MR-2023-0042)
    // left its day and month behind.
    let spans = written_dates_in(text);
    if spans.is_empty() {
        return clean_text(text, identifiers);
    }
    // Each with a time joined to it ("20240305T0930") and the separators that joined it to the
    // text, as `cut` takes an identifier's; from the last, so the spans before stay in place.
    // (`cut` reads separators and word characters only, which case does not change: the text
    // is its own lower-cased copy.)
    let mut out = text.to_string();
    let mut copy = out.clone();
    for (start, end) in spans.into_iter().rev() {
        let end = end + joined_time(&text[end..].to_ascii_lowercase());
        if !cut(&mut out, &mut copy, start, end) {
            return String::new();
        }
    }
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    clean_text(&out, identifiers)
}

/// `text` with every age over 89 written in it ("97 year old", "97-year-old", "97 yrs", "97yo",
/// "97 y/o", "97Y", "aged 97", "age: 97") made "90+": HIPAA's Safe Harbor groups the ages over 89
/// as PatientAge is capped (090Y); a PHI audit found "97 year old" kept beside a capped
/// PatientAge. A number joined to a word or another number ("T97", "1.97"), or without an age's
/// unit or word, is no age.
fn ages_capped(text: &str) -> std::borrow::Cow<'_, str> {
    const UNITS: [&str; 7] = ["years", "year", "yrs", "yr", "y/o", "y.o", "yo"];
    let bytes = text.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let joined =
            start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'.');
        let age = text[start..i]
            .parse::<u32>()
            .is_ok_and(|n| (90..=130).contains(&n));
        if joined || !age {
            continue;
        }
        let rest = text[i..].to_ascii_lowercase();
        let rest = rest.strip_prefix([' ', '-']).unwrap_or(&rest);
        // A unit ends where the letters do ("97 years", "97Y,"; not "97 young").
        let ends = |u: &str| !rest[u.len()..].starts_with(|c: char| c.is_ascii_alphabetic());
        let unit = UNITS.iter().any(|u| rest.starts_with(u) && ends(u))
            || (rest.starts_with('y') && ends("y"));
        let before = text[..start]
            .trim_end_matches([' ', ':', '='])
            .to_ascii_lowercase();
        let word = before
            .rsplit(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or("");
        if unit || word == "age" || word == "aged" {
            spans.push((start, i));
        }
    }
    if spans.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        out.push_str(&text[at..start]);
        out.push_str("90+");
        at = end;
    }
    out.push_str(&text[at..]);
    std::borrow::Cow::Owned(out)
}

/// The month named by `word` (lower case: a full name, or its first three letters, or "sept").
fn month_of(word: &str) -> Option<u32> {
    let i = MONTHS.iter().position(|m| {
        let m = m.to_ascii_lowercase();
        word == m || word == &m[..3] || (word == "sept" && m == "september")
    })?;
    Some(i as u32 + 1)
}

/// ISO 2022's escape (PS3.5 6.1.2.5.3).
const ESC: char = '\u{1b}';

/// Characters a reader does not show: the soft hyphen, zero-width spaces and joiners, the word
/// joiner, the byte-order mark. One inside a name ("Taka\u{ad}hashi") hid it from the search as
/// an escape did (a review).
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}'
    )
}

/// `text` as a reader shows it: without its ISO 2022 escape sequences (ISO/IEC 2022 13.2: ESC,
/// any intermediate characters 0x20-0x2F, a final character 0x30-0x7E; a lone ESC goes too) and
/// without [`invisible`] characters. An escape that designates ASCII again (`ESC ( B`) inside a
/// value changes nothing a reader shows: "Qui␛(Bxley" reads as "Quixley", which no search for
/// the name found (a PHI audit: a name, an MRN and an unshifted date released in descriptors,
/// past the release check).
pub(crate) fn as_displayed(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(|c: char| c == ESC || invisible(c)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if invisible(c) {
            continue;
        }
        if c != ESC {
            out.push(c);
            continue;
        }
        while chars
            .next_if(|c| ('\u{20}'..='\u{2f}').contains(c))
            .is_some()
        {}
        chars.next_if(|c| ('\u{30}'..='\u{7e}').contains(c));
    }
    std::borrow::Cow::Owned(out)
}

/// For a text holding ISO 2022 escapes or invisible characters: `clean` of it without them when
/// that removes something (they go with it), else the text as it was; None for a text without
/// one, or with an escape to a multi-byte set (`ESC $`: JIS X 0208, KS X 1001, GB 2312), whose
/// bytes after it are no ASCII (written back without it, "腎臓" came out as "?UB!"; a review):
/// left to the release check, which withholds the file if it holds an identifier.
fn cleaned_as_displayed(text: &str, clean: impl Fn(&str) -> String) -> Option<String> {
    if !text.contains(|c: char| c == ESC || invisible(c)) || text.contains("\u{1b}$") {
        return None;
    }
    let plain = as_displayed(text);
    let cleaned = clean(&plain);
    Some(if cleaned == plain {
        text.to_string()
    } else {
        cleaned
    })
}

/// The byte spans of the calendar dates written in `text` (ASCII digits and English month
/// names): 2023-11-02, 2023.11.2, 02/11/2023, 11-2-2023, 02.11.23, 20231102 (a year 1900-2099,
/// a valid month and day), 2 Nov 2023, 2nd November 2023, Nov 2, 2023, November 2nd, 5th March.
/// Sorted, not overlapping.
fn written_dates_in(text: &str) -> Vec<(usize, usize)> {
    // Tokens: runs of ASCII digits, runs of letters, and single other characters.
    #[derive(Clone, Copy, PartialEq)]
    enum T {
        Num,
        Word,
        Other(char),
    }
    let mut toks: Vec<(T, usize, usize)> = Vec::new();
    let mut it = text.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let kind = if c.is_ascii_digit() {
            T::Num
        } else if c.is_alphabetic() {
            T::Word
        } else {
            toks.push((T::Other(c), i, i + c.len_utf8()));
            continue;
        };
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = it.peek() {
            let same = match kind {
                T::Num => d.is_ascii_digit(),
                _ => d.is_alphabetic(),
            };
            if !same {
                break;
            }
            end = j + d.len_utf8();
            it.next();
        }
        toks.push((kind, i, end));
    }
    let text_of = |k: usize| &text[toks[k].1..toks[k].2];
    let num = |k: usize| -> Option<u32> {
        (toks.get(k)?.0 == T::Num && text_of(k).len() <= 4)
            .then(|| text_of(k).parse().ok())
            .flatten()
    };
    let year = |k: usize| -> Option<u32> {
        let y = num(k)?;
        match text_of(k).len() {
            4 if (1900..2100).contains(&y) => Some(y),
            2 => Some(y),
            _ => None,
        }
    };
    let four_digit_year = |k: usize| year(k).filter(|_| text_of(k).len() == 4);
    let day = |k: usize| num(k).filter(|d| (1..=31).contains(d) && text_of(k).len() <= 2);
    let month_num = |k: usize| num(k).filter(|m| (1..=12).contains(m) && text_of(k).len() <= 2);
    let month_word = |k: usize| -> Option<u32> {
        (toks.get(k)?.0 == T::Word)
            .then(|| month_of(&text_of(k).to_ascii_lowercase()))
            .flatten()
    };
    let ordinal = |k: usize| -> bool {
        toks.get(k).is_some_and(|t| t.0 == T::Word)
            && matches!(
                text_of(k).to_ascii_lowercase().as_str(),
                "st" | "nd" | "rd" | "th"
            )
    };
    let is = |k: usize, c: char| toks.get(k).is_some_and(|t| t.0 == T::Other(c));
    let space = |k: usize| is(k, ' ');
    // A digit run stands alone: no digit token right before a match's first.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut k = 0;
    while k < toks.len() {
        // The last token of a date starting at k.
        let mut found: Option<usize> = None;
        // Numeric with one separator twice; a two-digit year only after two-digit day and
        // month (1.25.12 is a version).
        if let Some(sep @ ('.' | '/' | '-' | '_')) = match toks.get(k + 1).map(|t| t.0) {
            Some(T::Other(c)) => Some(c),
            _ => None,
        } {
            if is(k + 3, sep) && toks.get(k + 4).is_some() {
                let ymd = four_digit_year(k).is_some()
                    && month_num(k + 2).is_some()
                    && day(k + 4).is_some();
                let two_digit = text_of(k).len() == 2 && text_of(k + 2).len() == 2;
                let dmy_or_mdy = sep != '_'
                    && year(k + 4).is_some()
                    && ((day(k).is_some() && month_num(k + 2).is_some())
                        || (month_num(k).is_some() && day(k + 2).is_some()))
                    && (text_of(k + 4).len() == 4 || (sep != '-' && two_digit));
                if ymd || dmy_or_mdy {
                    found = Some(k + 4);
                }
            }
        }
        // YYYYMMDD (also the date of a DICOM DT: 12 or 14 digits), or DDMMYYYY.
        if found.is_none() && toks[k].0 == T::Num && matches!(text_of(k).len(), 8 | 12 | 14) {
            let d = text_of(k);
            let n = |r: std::ops::Range<usize>| d[r].parse::<u32>().unwrap_or(0);
            let valid = |y: u32, m: u32, dd: u32| {
                (1900..2100).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&dd)
            };
            if valid(n(0..4), n(4..6), n(6..8))
                || (d.len() == 8 && valid(n(4..8), n(2..4), n(0..2)))
            {
                found = Some(k);
            }
        }
        // 2 Nov 2023, 2nd November 2023, 2-Nov-2023, 02-Nov-23, 2. November 2023, 5th March,
        // 2nd of March.
        if found.is_none() && day(k).is_some() {
            let mut j = k + 1;
            let ord = ordinal(j) || (is(j, '.') && space(j + 1));
            if ord {
                j += 1;
            }
            if space(j) || is(j, '-') {
                j += 1;
            }
            if text_of_is(j, "of", &toks, text) && space(j + 1) {
                j += 2;
            }
            if month_word(j).is_some() {
                let mut e = j;
                let mut y = j + 1;
                if space(y) || is(y, '-') {
                    y += 1;
                }
                if four_digit_year(y).is_some() || (year(y).is_some() && text_of(y).len() == 2) {
                    e = y;
                }
                if e > j || ord {
                    found = Some(e);
                }
            }
        }
        // Nov 2, 2023, Nov. 2, 2023, November 2nd, March 5th.
        let after = if is(k + 1, '.') { k + 2 } else { k + 1 };
        if found.is_none() && month_word(k).is_some() && space(after) && day(after + 1).is_some() {
            let mut e = after + 1;
            let ord = ordinal(e + 1);
            if ord {
                e += 1;
            }
            let mut y = e + 1;
            if is(y, ',') {
                y += 1;
            }
            if space(y) && four_digit_year(y + 1).is_some() {
                found = Some(y + 1);
            } else if ord {
                found = Some(e);
            }
        }
        // Not inside a longer number: a digit, or a digit and a point (4.1.2.10), either side.
        let digit_before = k > 0
            && (toks[k - 1].0 == T::Num
                || (k > 1 && toks[k - 2].0 == T::Num && toks[k - 1].0 == T::Other('.')));
        let digit_after = |e: usize| {
            toks.get(e + 1).is_some_and(|t| t.0 == T::Num)
                || (toks.get(e + 1).is_some_and(|t| t.0 == T::Other('.'))
                    && toks.get(e + 2).is_some_and(|t| t.0 == T::Num))
        };
        match found {
            Some(e) if !digit_before && !digit_after(e) => {
                spans.push((toks[k].1, toks[e].2));
                k = e + 1;
            }
            _ => k += 1,
        }
    }
    spans
}

/// Whether token `k` is the word `word` (lower case).
fn text_of_is(k: usize, word: &str, toks: &[(impl Copy, usize, usize)], text: &str) -> bool {
    toks.get(k)
        .is_some_and(|t| text[t.1..t.2].eq_ignore_ascii_case(word))
}

/// Remove bytes `pos..end` of `s` (an identifier; `lower` is its lower-cased copy, changed
/// alike) with the separators that joined it to the text: those before it, or when there are
/// none, those after it ("renal_20210305" → "renal", "Smith^John" → "John"). Separators
/// elsewhere are the value's own ("-0500"). False (nothing cut) when `lower` is not byte for
/// byte aligned with `s`: the caller then removes the whole text (fail closed).
fn cut(s: &mut String, lower: &mut String, pos: usize, end: usize) -> bool {
    if lower.len() != s.len() {
        return false;
    }
    let (mut start, mut end) = (pos, end);
    // An identifier joined to a word on one side keeps the separators on the other:
    // "scan20240315 late" → "scan late", "renal_PID48213x" → "renal_x".
    let word_before = lower[..start].chars().next_back().is_some_and(is_word_char);
    let word_after = lower[end..].chars().next().is_some_and(is_word_char);
    let before = lower[..start].len() - lower[..start].trim_end_matches(is_separator).len();
    if word_after {
        // joined to the word after it: the separators before it are the value's own
    } else if before > 0 {
        start -= before;
    } else if !word_before {
        end += lower[end..].len() - lower[end..].trim_start_matches(is_separator).len();
    }
    // Equal lengths do not make equal character boundaries (one character folding longer,
    // another shorter): fail closed rather than cut a character.
    if !s.is_char_boundary(start) || !s.is_char_boundary(end) {
        return false;
    }
    s.replace_range(start..end, "");
    lower.replace_range(start..end, "");
    true
}

/// Whether the release check looks for `id` (a personal identifier) anywhere in a kept value:
/// the test `verify` applies (four characters or more, not an all-digit fragment under six), for
/// one holding a digit.
fn is_glued_identifier(id: &str) -> bool {
    id.len() >= 4
        && id.chars().any(|c| c.is_ascii_digit())
        && !(id.len() < 6 && id.chars().all(|c| c.is_ascii_digit()))
}

/// A date as `note` writes it: eight digits, with or without '-', '.' or '/' between them.
fn is_date_form(id: &str) -> bool {
    id.chars().filter(|c| c.is_ascii_digit()).count() == 8
        && id
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '.' | '/'))
}

/// The length of a time of day joined to a date at the start of `rest` (lower-cased): digits,
/// ':' and '.', after a 't' or straight after the date (DICOM's DT, ISO 8601: "120000",
/// "t12:30:00.5"); 0 when none is.
fn joined_time(rest: &str) -> usize {
    let body = rest.strip_prefix('t').unwrap_or(rest);
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return 0;
    }
    let time = body.len()
        - body
            .trim_start_matches(|c: char| c.is_ascii_digit() || matches!(c, ':' | '.'))
            .len();
    rest.len() - body.len() + time
}

/// A character joining words of a descriptor: '_', '-', '^' or a space.
fn is_separator(c: char) -> bool {
    matches!(c, '_' | '-' | '^' | ' ')
}

/// A character of a script written without spaces between words (Han ideographs, hiragana,
/// katakana): a word boundary is no boundary there ("山田さん", "患者山田").
fn unspaced(c: char) -> bool {
    matches!(u32::from(c),
        0x3040..=0x30FF | 0x31F0..=0x31FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF
        | 0xFF66..=0xFF9F | 0x20000..=0x3134F)
}

/// Where `needle` stands in `hay` as a word of its own: no letter or digit joined to it, except
/// on the side where it or its neighbour is of a script written without spaces ([`unspaced`]).
fn find_word(hay: &str, needle: &str) -> Option<usize> {
    let (first, last) = (needle.chars().next(), needle.chars().next_back());
    let apart = |edge: Option<char>, neighbour: Option<char>| match neighbour {
        None => true,
        Some(n) => !is_word_char(n) || unspaced(n) || edge.is_some_and(unspaced),
    };
    let mut start = 0;
    while let Some(p) = hay[start..].find(needle) {
        let at = start + p;
        let before = hay[..at].chars().next_back();
        let after = hay[at + needle.len()..].chars().next();
        if apart(first, before) && apart(last, after) {
            return Some(at);
        }
        start = at + needle.len().max(1);
        if start >= hay.len() {
            break;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IDs and dates the release check finds anywhere are cleaned out wherever they stand,
    /// a date with the time joined to it; names only as whole words. Before, a descriptor such
    /// as `DWI_20240315120000` kept the date, and the check then refused the whole series.
    #[test]
    fn ids_and_dates_joined_to_other_characters_are_cleaned_out() {
        let found = Found {
            personal: vec![
                "20240315".into(),
                "2024-03-15".into(),
                "PID48213".into(),
                "Lindqvist".into(),
                "1234".into(),
            ],
            ..Found::default()
        };
        let ids = Identifiers::of(&found);
        for (text, clean) in [
            ("DWI_20240315120000", "DWI"),
            ("DWI_20240315120000.5_b800", "DWI_b800"),
            ("scan20240315 late", "scan late"),
            ("scan20240315T1230 late", "scan late"),
            ("t2 2024-03-15T12:30:00 ax", "t2 ax"),
            ("renal_PID48213x", "renal_x"),
            ("20240315 kidney", "kidney"),
            // a name joined to another word is left (the check refuses it; no name is cut
            // out of a word), and so is an all-digit fragment under six digits
            ("Lindqvistian protocol", "Lindqvistian protocol"),
            ("series 71234", "series 71234"),
            ("2024031 kidney", "2024031 kidney"),
        ] {
            assert_eq!(clean_text(text, &ids), clean, "{text}");
        }
    }

    /// An ID written another way — its digits with a space, a dash or none of its letters — is
    /// cleaned out by its digits (a robustness audit: "MRN 1000283", "mrn-1000283", "1000283",
    /// "NHS 252 587 7422", "ACC 48884904" were released); runs of digits holding none stay.
    #[test]
    fn an_id_written_with_other_separators_is_cleaned_out_by_its_digits() {
        let found = Found {
            personal: vec![
                "MRN1000283".into(),
                "NHN2525877422".into(),
                "19700403".into(),
                "3.4.1970".into(),
            ],
            removed: vec!["ACC48884904".into()],
            ..Found::default()
        };
        let ids = Identifiers::of(&found);
        for (text, clean) in [
            ("MRN 1000283", "MRN"),
            ("PET mrn-1000283", "PET mrn-"),
            ("1000283 case mrn_variant", "case mrn_variant"),
            ("NHS 252 587 7422", "NHS"),
            ("ACC 48884904 renal", "ACC renal"),
            ("ep2d_diff_b50_400_800", "ep2d_diff_b50_400_800"),
            ("series 1000 283", "series"),
            ("dose 100028", "dose 100028"),
            // Wider separators; the text around the ID stays (a review).
            ("NHS 252  587  7422", "NHS"),
            ("NHS 252 - 587 - 7422 x", "NHS x"),
            ("MRN 1,000,283", "MRN"),
            ("MRN 1000283 3.0T", "MRN 3.0T"),
            // A number that holds a birth date's digits is no date (a review).
            ("b 341970", "b 341970"),
        ] {
            assert_eq!(clean_text(text, &ids), clean, "{text}");
        }
    }

    /// A date noted again (the study date in SeriesDate, a DT of the same day) adds nothing; a
    /// second date adds its own forms.
    #[test]
    fn a_date_noted_twice_is_written_out_once() {
        let mut once = Notes::default();
        once.add(Kind::Date, "20240215");
        let mut twice = once.clone();
        twice.add(Kind::Date, "20240215");
        twice.add(Kind::Date, "20240215093000.00");
        assert_eq!(twice, once);
        assert_eq!(twice.found(), once.found());
        let mut two = once.clone();
        two.add(Kind::Date, "19590124");
        let two = two.found();
        assert!(two.personal.iter().any(|s| s == "1959-01-24"));
        assert!(two.personal.iter().any(|s| s == "2024-02-15"));
        assert!(two.removed.iter().any(|s| s == "24 Jan 1959"));
    }

    /// Notes give what `note` of each value gives; the files of a series, whose times differ,
    /// give equal notes, and their prepared identifiers are made once (less the pseudonym).
    #[test]
    fn notes_give_what_note_gives_and_are_prepared_once_per_series() {
        let values = [
            (Kind::Personal, "Lindqvist^Maren"),
            (Kind::Date, "20240215"),
            (Kind::Date, "20240215101818.00"),
            (Kind::Place, "Hospital of the North"),
            (Kind::Personal, "ANC-01-0001"),
            (Kind::Date, "not a date"),
        ];
        let mut by_note = Found::default();
        let mut notes = Notes::default();
        for (kind, value) in values {
            note(kind, value, &mut by_note);
            notes.add(kind, value);
        }
        assert_eq!(notes.found(), finish(by_note));
        // the next slice: another acquisition time, the same day
        let mut next = Notes::default();
        for (kind, value) in values {
            let value = if value == "20240215101818.00" {
                "20240215101822.50"
            } else {
                value
            };
            next.add(kind, value);
        }
        assert_eq!(next, notes);
        let (found, _) = prepared(notes.clone(), "ANC-01-0001");
        assert!(found.personal.iter().any(|s| s == "Lindqvist"));
        assert!(!found.personal.iter().any(|s| s == "ANC-01-0001"));
        let (again, _) = prepared(next, "ANC-01-0001");
        assert!(std::sync::Arc::ptr_eq(&found, &again));
        let (other, _) = prepared(notes, "ANC-01-0002");
        assert!(!std::sync::Arc::ptr_eq(&found, &other));
        assert!(other.personal.iter().any(|s| s == "ANC-01-0001"));
    }

    /// A month and year of the file's date, in the ways people write them, are cleaned out of
    /// descriptors (found: "kidney Feb 2024" was released as it was).
    #[test]
    fn the_month_and_year_of_a_date_are_cleaned_out() {
        let mut found = Found::default();
        note(Kind::Date, "20240215", &mut found);
        let ids = Identifiers::of(&finish(found));
        for text in [
            "kidney Feb 2024 late",
            "kidney FEB-24 late",
            "kidney February 2024 late",
            "kidney 02/2024 late",
            "kidney 2/2024 late",
            "kidney 2024-02 late",
            "kidney feb2024 late",
        ] {
            assert_eq!(clean_text(text, &ids), "kidney late", "{text}");
        }
        // another month, or the year alone, stays
        for text in [
            "kidney Mar 2024 late",
            "kidney 2024 late",
            "kidney 03/2024 late",
        ] {
            assert_eq!(clean_text(text, &ids), text, "{text}");
        }
    }

    #[test]
    fn a_time_joined_to_a_date_is_measured() {
        assert_eq!(joined_time("120000 x"), 6);
        assert_eq!(joined_time("t12:30:00.5_x"), 11);
        assert_eq!(joined_time("_120000"), 0);
        assert_eq!(joined_time("tx"), 0);
        assert_eq!(joined_time(""), 0);
    }

    /// Regression (a de-identification audit, each kept in a description): a double-barrelled
    /// name's parts, a name without its apostrophe or written in ASCII, two-letter name parts
    /// and a two-character CJK given name are cleaned out.
    #[test]
    fn names_as_people_write_them_are_cleaned_out() {
        let cleaned = |name: &str, text: &str| {
            let mut found = Found::default();
            note(Kind::PatientName, name, &mut found);
            clean_text(text, &Identifiers::of(&finish(found)))
        };
        for (name, text, left) in [
            ("Smith-Jones^Anna", "liver Smith", "liver"),
            ("Smith-Jones^Anna", "Jones T2", "T2"),
            ("O'Brien^Kate", "OBrien liver", "liver"),
            ("Müller^Hans", "liver Mueller", "liver"),
            ("Müller^Hans", "liver Muller", "liver"),
            ("García López^Ana", "Garcia Lopez liver", "liver"),
            ("Ng^Li", "Ng Li liver", "liver"),
            ("Nguyễn^Văn", "Nguyen Van liver", "liver"),
            ("王^小明", "小明 T2 肝脏", "T2 肝脏"),
            // From a PHI audit: a Japanese name as it is written (family and given joined),
            // in its phonetic group too, and in a text without spaces; Nordic spellings.
            (
                "Yamada^Tarou=山田^太郎=やまだ^たろう",
                "山田太郎 kidney",
                "kidney",
            ),
            (
                "Yamada^Tarou=山田^太郎=やまだ^たろう",
                "やまだたろう kidney",
                "kidney",
            ),
            (
                "Yamada^Tarou=山田^太郎=やまだ^たろう",
                "患者山田さん T2",
                "患者さん T2",
            ),
            ("Quixley^Zebedee", "ID QuixleyZebedee", "ID"),
            ("Ødegård^Zoë", "Odegaard kidney; Oedegaard", "kidney;"),
            ("Ødegård^Zoë", "Odegard Ødegård Oedegard", ""),
        ] {
            assert_eq!(cleaned(name, text), left, "{name}: {text}");
        }
        // Latin words joined to others stay (a name inside a longer word is not the name).
        assert_eq!(cleaned("Lung^Ann", "Lungs T2"), "Lungs T2");
        // Two short parts joined are cleaned out as a word, not looked for inside kept values
        // (a review: "MaLi" of Ma^Li failed every "ADC normalized" file).
        assert_eq!(cleaned("Ma^Li", "normalized MaLi T2"), "normalized T2");
        let mut found = Found::default();
        note(Kind::PatientName, "Ma^Li", &mut found);
        let found = finish(found);
        assert!(!found.personal.iter().any(|p| p == "MaLi"), "{found:?}");
        assert!(found.removed.iter().any(|p| p == "MaLi"), "{found:?}");
        // More letters of two spellings than a mask has bits: no overflow (a review).
        let long: String = "ø".repeat(40);
        assert_eq!(ascii_forms(&long), ["oe".repeat(40), "o".repeat(40)]);
        // Letters with no ASCII form here are kept as written.
        assert_eq!(ascii_forms("Иванов"), ["Иванов"]);
        assert_eq!(ascii_forms("Øre"), ["Oere", "Ore"]);
        assert_eq!(
            ascii_forms("Ødegård"),
            ["Odegaard", "Odegard", "Oedegaard", "Oedegard"]
        );
        // From a review: letters the first table did not have made the whole word unfoldable.
        assert_eq!(ascii_forms("Nguyễn"), ["Nguyen"]);
        assert_eq!(ascii_forms("Yılmaz"), ["Yilmaz"]);
        assert_eq!(ascii_forms("Şahin"), ["Sahin"]);
        assert_eq!(ascii_forms("Đặng"), ["Dang"]);
        assert_eq!(ascii_forms("Müller"), ["Mueller", "Muller"]);
    }

    /// Regression (a PHI audit): an age over 89 in free text ("97 year old") was kept while
    /// PatientAge was capped at 090Y; it reads "90+" now. Numbers that are no age stay.
    #[test]
    fn ages_over_89_in_a_descriptor_read_90_plus() {
        let ids = Identifiers::of(&Found::default());
        for (text, kept) in [
            ("97 year old, frail", "90+ year old, frail"),
            ("a 97-year-old man", "a 90+-year-old man"),
            ("pt 104 yrs", "pt 90+ yrs"),
            ("93yo F", "90+yo F"),
            ("95 y/o", "90+ y/o"),
            ("AGE 97Y", "AGE 90+Y"),
            ("aged 91; 92 years", "aged 90+; 90+ years"),
            ("age: 99", "age: 90+"),
            ("89 year old", "89 year old"),
            ("b 100 dir 96", "b 100 dir 96"),
            ("T97 image 95 mm", "T97 image 95 mm"),
            ("97 young", "97 young"),
            ("1.97 years", "1.97 years"),
        ] {
            assert_eq!(clean_descriptor(text, &ids), kept, "{text}");
        }
    }

    /// Regression (a PHI audit): an ISO 2022 escape that designates ASCII again inside a value
    /// ("Qui␛(Bxley", read as "Quixley" by every reader) hid a name, an MRN and an unshifted
    /// date from Clean Descriptors. They go, with the escapes; a value holding none keeps its
    /// escapes as written.
    #[test]
    fn escapes_inside_a_value_hide_no_identifier() {
        let mut notes = Notes::default();
        notes.add(Kind::PatientName, "Quixley^Zebedee");
        notes.add(Kind::Personal, "MRN7734521");
        let ids = Identifiers::of(&notes.found());
        assert_eq!(clean_descriptor("Qui\u{1b}(Bxley T2", &ids), "T2");
        assert_eq!(clean_descriptor("MRN77\u{1b}(B34521 Ze", &ids), "Ze");
        assert_eq!(clean_descriptor("2024\u{1b}(B0305 PET", &ids), "PET");
        assert_eq!(clean_text("Qui\u{1b}(Bxley", &ids), "");
        let kept = "\u{1b}$B;3ED\u{1b}(B T2";
        assert_eq!(clean_descriptor(kept, &ids), kept);
        // A text with an escape to a multi-byte set keeps its escapes ("腎臓" came out as "?UB!";
        // a review): cleaned as written, a name hidden by an escape left to the check.
        let jis = "Quixley \u{1b}$B?UB!\u{1b}(B T2";
        assert_eq!(clean_descriptor(jis, &ids), "\u{1b}$B?UB!\u{1b}(B T2");
        // Invisible characters hide nothing either (a review: a soft hyphen).
        assert_eq!(clean_descriptor("Quix\u{ad}ley T2", &ids), "T2");
        assert_eq!(clean_text("Qui\u{200b}xley T2", &ids), "T2");
        // An identifier noted with an escape inside is noted as read.
        let mut escaped = Notes::default();
        escaped.add(Kind::PatientName, "Qui\u{1b}(Bxley^Zebedee");
        assert!(escaped.found().personal.contains(&"Quixley".to_string()));
        assert_eq!(as_displayed("a\u{1b}$(Db\u{1b}"), "ab");
    }

    /// Regression (a de-identification audit): an earlier exam's date in a description
    /// ("comparison 2023-11-02") was released as written beside the shifted dates, which gave
    /// the subject's shift away. Any calendar date goes from a descriptor; what only looks like
    /// one (a version, a b-value, a matrix, a year alone) stays.
    #[test]
    fn any_calendar_date_goes_from_a_descriptor() {
        let none = Identifiers::default();
        for (text, left) in [
            ("comparison 2023-11-02", "comparison"),
            ("prior 02/11/2023 liver", "prior liver"),
            ("prior 11-2-2023", "prior"),
            ("prior 02.11.23 T2", "prior T2"),
            ("DWI_20231102", "DWI"),
            ("seen Nov 2 2023", "seen"),
            ("seen Nov 2, 2023 again", "seen again"),
            ("seen 2 Nov 2023", "seen"),
            ("seen 2-NOV-2023", "seen"),
            ("scan 5th March 2024", "scan"),
            ("scan 5th March", "scan"),
            ("scan March 5th", "scan"),
            ("the 2nd of March", "the"),
            // From a review: more forms, and a date an identifier had been cut out of.
            ("PET_2023_11_02", "PET"),
            ("prior 20231102103000", "prior"),
            ("seen 02112023", "seen"),
            ("seen 02-Nov-23", "seen"),
            ("prior 2. November 2023", "prior"),
            ("seen Nov. 2, 2023", "seen"),
        ] {
            assert_eq!(clean_descriptor(text, &none), left, "{text}");
        }
        for kept in [
            "VB17 2.3.1",
            "b800 1.5T",
            "t2_tse 256x256 3.0mm",
            "protocol 2023",
            "March protocol",
            "ep2d 12345678",
            "1/2/3",
            "PET 5 min",
            "v11-2-20231",
            "recon 1.25.12",
            "kernel 3.1.15",
            "b 1/5/10",
            "ver 4.1.2.10",
        ] {
            assert_eq!(clean_descriptor(kept, &none), kept, "{kept}");
        }
        // An identifier holding the year ("2023" of an accession number) was cut out first,
        // leaving "seen 11/02/".
        let year = Identifiers::new(&["2023".to_string()]);
        assert_eq!(clean_descriptor("seen 11/02/2023", &year), "seen");
    }

    /// Regression (a review): a site ID "SCR-ANC01-017" mapped to the USUBJID "ANC01-017" was
    /// split into "ANC01", which the release's own PatientName then held: every file of the
    /// subject failed the PHI check. IDs are not split as names are, and no identifier that the
    /// pseudonym contains is looked for.
    #[test]
    fn no_piece_of_the_pseudonym_is_an_identifier() {
        let mut notes = Notes::default();
        notes.add(Kind::Personal, "SCR-ANC01-017");
        notes.add(Kind::Name, "Doe-ANC01^Jane");
        let (found, _) = prepared(notes, "ANC01-017");
        assert!(
            found
                .personal
                .iter()
                .all(|i| !"anc01-017".contains(&i.to_lowercase())),
            "{:?}",
            found.personal
        );
        assert!(found.personal.iter().any(|i| i == "SCR-ANC01-017"));
        assert!(found.personal.iter().any(|i| i == "Jane"));
    }

    /// The one-scan shortcut changes nothing: with and without the automaton, the same text.
    #[test]
    fn the_automaton_only_skips_values_without_identifiers() {
        let ids = Identifiers::new(&["Lindqvist".to_string(), "Ann".to_string(), "12".to_string()]);
        let plain = Identifiers {
            any: None,
            ..ids.clone()
        };
        assert!(ids.any.is_some());
        for text in [
            "PSMA PET LINDQVIST",
            "  t2  haste__ ",
            "Ann's scan 12",
            "Lindqvistian protocol",
            "ann ANN Ann",
            "",
            "Ångström Ann",
        ] {
            assert_eq!(clean_text(text, &ids), clean_text(text, &plain), "{text}");
        }
    }

    /// Whatever characters surround an identifier (some fold to more bytes in lower case, some
    /// to fewer: 'İ' 2 → 3, 'Ω' 3 → 2, the Kelvin sign 3 → 1), cleaning neither panics nor
    /// leaves the identifier as a word: texts built from every sequence of up to four pieces.
    #[test]
    fn case_folding_that_changes_byte_lengths_fails_closed() {
        let ids = Identifiers::new(&["Lindqvist".to_string()]);
        let pieces = ["İ", "Ω", "\u{212A}", "ẞ", "é", " ", "_", "Lindqvist", "x"];
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = texts
                .iter()
                .flat_map(|t| pieces.iter().map(move |p| format!("{t}{p}")))
                .collect();
            texts.extend(longer);
        }
        for text in &texts {
            let cleaned = clean_text(text, &ids);
            assert_eq!(
                find_word(&cleaned.to_lowercase(), "lindqvist"),
                None,
                "{text:?} → {cleaned:?}"
            );
        }
    }

    /// A value holding no identifier is not tidied: "-0500" (Timezone Offset From UTC) was
    /// released as "0500".
    #[test]
    fn values_without_identifiers_come_back_unchanged() {
        let ids = Identifiers::new(&["Lindqvist".to_string(), "MRN1234567".to_string()]);
        for text in ["-0500", "+0100", "  t2  haste__ ", "-ADC-", "^x^"] {
            assert_eq!(clean_text(text, &ids), text);
        }
        assert_eq!(clean_text("-0500 Lindqvist", &ids), "-0500");
    }

    #[test]
    fn descriptors_lose_names_and_keep_meaning() {
        let ids = Identifiers::new(&[
            "Lindqvist".to_string(),
            "Annelise".to_string(),
            "MRN1234567".to_string(),
        ]);
        assert_eq!(clean_text("PSMA PET LINDQVIST", &ids), "PSMA PET");
        assert_eq!(clean_text("t2_haste_obl Annelise", &ids), "t2_haste_obl");
        assert_eq!(clean_text("MRN1234567 renal MRI", &ids), "renal MRI");
        // Not inside other words.
        assert_eq!(
            clean_text("Lindqvistian protocol", &ids),
            "Lindqvistian protocol"
        );
    }
}
