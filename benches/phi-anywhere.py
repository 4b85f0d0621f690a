#!/usr/bin/env python3
"""PHI anywhere: identifying values planted across a whole site export must not come out of
`ancilla run`, in any file it writes or anything it prints.

Each case writes a small phantom cohort (`ancilla phantom`, 2-3 subjects, a random seed; now
and then with `--dicom-rois`, run without label maps so the export's SEG / RTSTRUCT are used)
and rewrites its site export with pydicom, planting distinctive random values (8-10 character
upper-case + digit tokens, fake names of random parts, dates of 1935-2012, new UIDs):
- into attributes of DICOM PS3.15 Table E.1-1 (src/deid/ps3.15-annex-e-profile.csv) whose
  action under the study's default options (113105, 113107, 113108, 113111 on) is not K: X, Z,
  D, U, and C of dates; the same values through a whole series (as a real export repeats an
  accession number) or in single files, at the top level and in sequence items (sequences of the
  table, kept public sequences, sequences given a dummy, a content item's text);
- into descriptors cleaned under 113105 (SeriesDescription, ProtocolName, StudyDescription,
  ImageComments, ... any C text row), which repeat the file's own identifiers (name parts,
  PatientID, planted IDs) among ordinary words, and now and then its StudyDate or
  PatientBirthDate as people write dates (05/03/2024, 5/3/2024, 05/03/24, 05MAR2024,
  Mar 5, 2024, ...); a descriptor's own random word is not PHI;
- into private attributes: unknown creators, no creator, an unknown block inside a kept public
  sequence; GE's protocol data block (kept reduced) and a Siemens XA protocol (kept reduced),
  whose kept text lines repeat the file's identifiers and whose other lines hold tokens;
- into kept text attributes the profile does not clean (ReceiveCoilName, SequenceName, a DICOM
  SEG's SegmentLabel, ...): the file's own name parts, which ancilla's verification must catch;
- into the export's folder and file names and its own folder's name (site paths are PHI),
  with broken files: truncated,
  not DICOM, empty, a damaged length, no PatientID, a PatientID missing from the subject map
  (a planted MRN), no SOPClassUID, BurnedInAnnotation YES, a duplicate SOP instance, a DICOMDIR
  naming a patient, a zip archive, a dangling link, a link loop, a FIFO;
- into clinical cells the pipeline reads and never releases: ADSL and ADTTE free text
  (ARM, PARAM, EVNTDESC), extra columns (investigator and pathologist names, a birth date,
  comments), an extra subject-map row of a patient without images, and now and then a real
  date written in a form the tables do not accept (RANDDT), which fails the link stage.

Then `ancilla run` on a config that points at that export (as pipelines/ancillary-study.toml:
[input] dicom and masks, [deid] key, subject map and sometimes a site log, [clinical]), stdout
and stderr captured; in about a third of the cases a second run follows after a series was
removed from the export and another renamed (a token more in a path). Every byte of every file
under the output folder, every output file name, stdout and stderr are searched, case-insensitively, for: every planted token and name part (also
hex-encoded, as .stamps records keep paths), every planted or original date of the export or of
the clinical tables in the forms of DATE_FORMS (20240305, 2024-03-05, 05/03/2024, 5/3/2024,
05/03/24, 05MAR2024, 05-MAR-2024, Mar 5, 2024, ...; not inside a longer number; a date that is
another date of the case moved by a subject's date shift, which ancilla computes from the key
as src/deid/keyed.rs does, is left out), every original UID of the export (its
per-subject roots and every planted UID; not inside a longer number), and the phantom's own PHI
(ground_truth.json). .nii.gz files are searched also gunzipped, DICOM files also with their gzip
streams inflated (GE's protocol block), Parquet files also with their pages decoded (Snappy,
in pure Python: pyarrow is not needed; the footer's statistics are in the raw bytes).

Not searched, by design (README): the site export itself, and what stays at the site - the
site-side log (`[deid] site_log`, written outside the output folder: it lists input paths) and
the config, key, subject map, masks and clinical tables (the user's own inputs, outside it too).
A leak is reported with the output file, the planted value and where it was planted.

Usage: benches/phi-anywhere.py [CASES] [SEED]   (default 20, 1)
Needs pydicom (pip install pydicom) and a release build (ANCILLA_BIN, default
target/release/ancilla). A case with a leak is kept as ./phi-anywhere-N/ (its cohort, config,
outputs, stdout, stderr, planted.tsv and leaks.txt). PHI_ANYWHERE_CONTROL=1 also searches the
site export and the clinical tables (the control: every case must then report leaks).
PHI_ANYWHERE_SKIP=descriptor-dates,kept-cs leaves out those plantings, to look past a kind of
leak already known. kept-cs is one by design: a code string is checked for IDs and dates only
(a patient named Norm must not fail every ImageType NORM), so a name written as a code string
value (BodyPartExamined "MARCHETTI") is released; CI skips it. A file that ancilla's own PHI check refuses is not a leak (the run then stops
after deid, exit 1, as README says); the summary counts exit codes and leak kinds.
"""
import csv
import datetime as dt
import gzip
import hashlib
import hmac
import os
import random
import re
import shutil
import subprocess
import sys
import warnings
import zipfile
import zlib

import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence

import cases as cases_loop  # benches/cases.py, beside this script

warnings.simplefilter("ignore")
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
pydicom.config.settings.writing_validation_mode = pydicom.config.IGNORE
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ANCILLA_BIN", os.path.join(ROOT, "target/release/ancilla"))
TABLE = os.path.join(ROOT, "src/deid/ps3.15-annex-e-profile.csv")
CONTROL = os.environ.get("PHI_ANYWHERE_CONTROL") == "1"
# Kinds of planting to leave out (comma-separated), to look past a leak already known:
# descriptor-dates (a file's dates written into its descriptors), kept-cs (a name in a kept
# code string).
SKIP = set(filter(None, os.environ.get("PHI_ANYWHERE_SKIP", "").split(",")))

# The options of the study (all on by default in `ancilla run`).
OPTIONS = ["retain_longitudinal_modified_dates", "retain_patient_characteristics",
           "retain_safe_private", "clean_descriptors"]
TEXT_VRS = cases_loop.TEXT_VRS
WORDS = ["axial", "contrast", "baseline", "followup", "renal", "thorax", "abdomen", "pelvis",
         "routine", "delayed", "arterial", "venous", "staging", "liver", "kidney"]
# Attributes whose values identify the patient or a person or place (ancilla cleans their
# values out of the same file's descriptors); PN attributes count as well.
IDENTIFYING = cases_loop.IDENTIFYING
# Attributes every file keeps for its structure, or that place it (planted elsewhere or not).
STRUCTURAL = {0x00080016, 0x00080018, 0x0020000D, 0x0020000E, 0x00100020, 0x7FE00010,
              0x00200052, 0x00080005}
# Kept public sequences (not in the table) whose items go through the profile.
KEPT_SQ = [0x00540016, 0x00082218, 0x00400260, 0x00089215]
UNKNOWN_CREATORS = ["ACME RESEARCH 1.0", "ZQX PRIVATE 07", "LOCAL SITE TAGS"]
# Kept text attributes the table does not list (or keeps): the verifier must catch identifiers.
KEPT_TEXT = [(0x00181250, "SH", "ReceiveCoilName"), (0x00180024, "SH", "SequenceName"),
             (0x00181251, "SH", "TransmitCoilName"), (0x00180015, "CS", "BodyPartExamined")]
if "kept-cs" in SKIP:
    KEPT_TEXT = [k for k in KEPT_TEXT if k[1] != "CS"]
# Planted UIDs: a root of their own, so that one prefix finds them all.
PLANT_UID_ROOT = "1.2.826.0.1.3680043.8.498.4242."


def load_table():
    with open(TABLE, newline="") as f:
        return list(csv.DictReader(f))


ROWS = load_table()


def actions(row):
    """The actions the table allows for `row` with the study's four options in force."""
    cells = [row[o] for o in OPTIONS if row[o]]
    acts = set()
    for c in cells or [row["basic_profile"]]:
        acts |= set(c.replace("*", "").split("/"))
    return acts


def plantable():
    """Rows a planted value may go into: (row, tag, VR, how) with how 'gone' (X/Z/D/U: the
    value must go), 'date' (C of a date: it must be shifted) or 'descriptor' (C of a text:
    the file's identifiers must be cleaned out of it), 'sq' (a container)."""
    leaves, seqs = [], []
    for r in ROWS:
        t = r["tag_id"]
        if not re.match(r"^[0-9a-f]{8}$", t) or t[:4] in ("0000", "0002", "0004"):
            continue
        tag = int(t, 16)
        if tag in STRUCTURAL or tag >> 16 in (0x0028, 0x7FE0, 0xFFFE):
            continue
        acts, vr = actions(r), r["vr"]
        if "K" in acts:
            continue
        if vr == "SQ":
            seqs.append((r, tag, vr, "sq"))
        elif acts == {"C"}:
            if vr in ("DA", "DT"):
                leaves.append((r, tag, vr, "date"))
            elif vr in ("LO", "SH", "ST", "LT", "UT", "UC"):
                leaves.append((r, tag, vr, "descriptor"))
        elif vr in TEXT_VRS or vr in ("DA", "DT", "UI", "OB", "UN", "OB or OW", ""):
            leaves.append((r, tag, vr, "gone"))
    return leaves, seqs


LEAVES, SEQS = plantable()


# ---------------------------------------------------------------- planted values


class Gen:
    """Random planted values of one case, each recorded with where it was planted."""

    def __init__(self, rng):
        self.rng = rng
        self.used = set()
        self.planted = []  # (value, kind, origin); kind: token | date | uid

    def token(self, n=None, alpha=False):
        return cases_loop.unique_token(self.rng, self.used, n, alpha)

    def name(self):
        """A fake person name 'Family^Given' of two random parts."""
        parts = [self.token(self.rng.randint(7, 9), alpha=True).capitalize() for _ in range(2)]
        return "^".join(parts), parts

    def date(self):
        while True:
            d = dt.date(1935, 1, 1) + dt.timedelta(days=self.rng.randint(0, 28000))
            if d.year <= 2012 and d.strftime("%Y%m%d") not in self.used:
                self.used.add(d.strftime("%Y%m%d"))
                return d

    def uid(self):
        return PLANT_UID_ROOT + "".join(self.rng.choice("123456789") for _ in range(24))

    def note(self, value, kind, origin):
        self.planted.append((value, kind, origin))


def value_for(g, vr, keyword, origin):
    """A planted value of a VR, recorded: (value, identifying tokens it holds)."""
    r = g.rng
    if vr == "PN":
        v, parts = g.name()
        for p in parts:
            g.note(p, "token", f"{origin} (name part)")
        return v, parts
    if vr in ("LO", "SH", "AE", "CS", "ST", "LT", "UT", "UC"):
        t = g.token(10 if vr != "AE" else 9)
        g.note(t, "token", origin)
        v = t if vr in ("CS", "AE", "SH") or keyword in IDENTIFYING or r.random() < 0.5 \
            else f"{r.choice(WORDS)} {t}"
        return v, [t]
    if vr == "UR":
        t = g.token()
        g.note(t, "token", origin)
        return f"https://example.org/{t}", [t]
    if vr == "DA":
        d = g.date()
        g.note(d, "date", origin)
        return d.strftime("%Y%m%d"), [d.strftime("%Y%m%d")]
    if vr == "DT":
        d = g.date()
        g.note(d, "date", origin)
        return d.strftime("%Y%m%d") + f"{r.randint(0, 23):02d}{r.randint(0, 59):02d}00", \
            [d.strftime("%Y%m%d")]
    if vr == "UI":
        u = g.uid()
        g.note(u, "uid", origin)
        return u, []
    # binary: OB, UN, OW
    t = g.token()
    g.note(t, "token", origin)
    v = f"BIN {t} ".encode()
    return (v + b"\0" if len(v) % 2 else v), [t]


def descriptor_value(g, vr, idents):
    """Ordinary words, a random word of its own, and 1-2 of the file's identifiers."""
    r = g.rng
    picked = r.sample(idents, min(len(idents), r.randint(1, 2))) if idents else []
    own = g.token(8).lower()
    if vr == "SH":
        picked = picked[:1]
        words = [r.choice(["renal", "liver"])] + picked
    else:
        words = r.sample(WORDS, r.randint(1, 2)) + [own] + picked
        r.shuffle(words)
    return r.choice([" ", "_"]).join(words)[: 16 if vr == "SH" else 200], picked


def identifiers(ds, extra):
    """Identifiers of a file ancilla must clean out of its descriptors: name parts, IDs."""
    out = []
    pn = str(ds.get("PatientName", "") or "")
    out += [p for p in re.split(r"[\^ ]", pn) if len(p) >= 5]
    if ds.get("PatientID"):
        out.append(str(ds.PatientID))
    return out + extra


def plant_set(g, label, n_attrs, idents_pool, kept_text=False):
    """A list of planting operations (applied to every file of a scope: a series or one file).
    Each op is (path, tag, VR, value) where path lists (sequence tag) containers from the top;
    identifying tokens go into idents_pool (for descriptors). Origins name `label`."""
    r = g.rng
    ops = []
    gone = [x for x in LEAVES if x[3] != "descriptor"]
    descriptors = [x for x in LEAVES if x[3] == "descriptor"]
    # Containers for nested plantings: a listed sequence, or a kept public one.
    containers = [[]]
    for _ in range(r.randint(0, 2)):
        if r.random() < 0.5:
            row, tag, _, _ = r.choice(SEQS)
            containers.append([(tag, row["keyword"])])
        else:
            tag = r.choice(KEPT_SQ)
            containers.append([(tag, pydicom.datadict.keyword_for_tag(tag))])
    if r.random() < 0.3:
        outer = r.choice(containers[1:] or
                         [[(KEPT_SQ[0], "RadiopharmaceuticalInformationSequence")]])
        row, tag, _, _ = r.choice(SEQS)
        containers.append(outer + [(tag, row["keyword"])])
    for row, tag, vr, how in r.sample(gone, min(n_attrs, len(gone))):
        path = r.choice(containers) if r.random() < 0.3 else []
        where = "".join(f"{kw} > " for _, kw in path)
        origin = f"{label}: {where}{row['keyword'] or row['name']} ({row['tag']}, {how})"
        vr = "OB" if vr in ("", "OB or OW") else vr
        value, idents = value_for(g, vr, row["keyword"], origin)
        if how == "gone" and (row["keyword"] in IDENTIFYING or vr == "PN"):
            idents_pool.extend(i for i in idents if not re.match(r"^\d{8}$", i))
        ops.append(([t for t, _ in path], tag, vr, value))
    # Descriptors (filled in `apply`, once the file's identifiers are known).
    for row, tag, vr, _ in r.sample(descriptors, r.randint(1, 3)):
        ops.append(([], tag, vr, ("descriptor", row["keyword"], label)))
    for tag, vr, kw in [(0x0008103E, "LO", "SeriesDescription"),
                        (0x00181030, "LO", "ProtocolName"),
                        (0x00081030, "LO", "StudyDescription"),
                        (0x00204000, "LT", "ImageComments")]:
        if r.random() < 0.5:
            ops.append(([], tag, vr, ("descriptor", kw, label)))
    # Content a dummy sequence must not keep.
    if r.random() < 0.3:
        t = g.token()
        g.note(t, "token", f"{label}: ContentSequence (0040,A730, D) > TextValue")
        ops.append(([0x0040A730], 0x0040A160, "UT", f"seen by {t} today"))
        ops.append(([0x0040A730], 0x0040A040, "CS", "TEXT"))
    if r.random() < 0.3:
        t = g.token()
        g.note(t, "token",
               f"{label}: PersonIdentificationCodeSequence (0040,1101, D) > CodeMeaning")
        ops.append(([0x00401101], 0x00080104, "LO", f"staff {t}"))
        ops.append(([0x00401101], 0x00080100, "SH", g.token(8)))
    # Private attributes.
    for k in range(r.randint(0, 2)):
        t = g.token()
        cr = r.choice(UNKNOWN_CREATORS)
        g.note(t, "token", f"{label}: private (00{0x31 + 2 * k:02X},xx10) of creator {cr!r}")
        ops.append(([], ("private", 0x0031 + 2 * k, cr, 0x10), "LO", f"PRIV {t}"))
    if r.random() < 0.4:
        t = g.token()
        g.note(t, "token", f"{label}: private (0011,1010) without a creator")
        ops.append(([], 0x00111010, "LO", f"PRIV {t}"))
    if r.random() < 0.3:
        t = g.token()
        cr = r.choice(UNKNOWN_CREATORS)
        g.note(t, "token", f"{label}: RadiopharmaceuticalInformationSequence > private of {cr!r}")
        ops.append(([0x00540016], ("private", 0x0035, cr, 0x10), "LO", f"PRIV {t}"))
    # A kept text attribute holding the file's name part: the verifier's business.
    if kept_text:
        tag, vr, kw = r.choice(KEPT_TEXT)
        ops.append(([], tag, vr, ("ident", kw, label)))
    return ops


def ge_block(text):
    """GE's protocol data block value: length, then a gzip stream of `text`."""
    gz = gzip.compress(text.encode(), mtime=0)
    v = len(gz).to_bytes(4, "little") + gz
    return v + b"\0" if len(v) % 2 else v


def apply(ds, ops, g, extra_idents, notes, cache):
    """Apply planting ops to one data set; a descriptor's value is drawn once per scope (`cache`),
    so the files of one series keep one SeriesDescription and ProtocolName."""
    for k, (path, tag, vr, value) in enumerate(ops):
        target = ds
        for sq_tag in path:
            if sq_tag not in target or target[sq_tag].VR != "SQ" or not target[sq_tag].value:
                target[sq_tag] = DataElement(sq_tag, "SQ", Sequence([Dataset()]))
            target = target[sq_tag].value[0]
        if isinstance(value, tuple) and value[0] in ("descriptor", "ident") and k in cache:
            value = cache[k]
        elif isinstance(value, tuple) and value[0] in ("descriptor", "ident"):
            kind, kw, label = value
            idents = identifiers(ds, extra_idents)
            if kind == "descriptor":
                value, picked = descriptor_value(g, vr, idents)
                dates = [str(ds.get(k) or "") for k in ("StudyDate", "PatientBirthDate")]
                dates = [x for x in dates if re.match(r"^\d{8}$", x)]
                if dates and vr != "SH" and "descriptor-dates" not in SKIP and g.rng.random() < 0.3:
                    d = dt.datetime.strptime(g.rng.choice(dates), "%Y%m%d").date()
                    form = g.rng.choice(DATE_FORMS + PARTIAL_DATE_FORMS)
                    if form in PARTIAL_DATE_FORMS:
                        # the month and year alone, or the date with a time joined to it (and
                        # to the word before it): searched for as written
                        text, joined = partial_date_text(g, d, form)
                        value = f"{value}{joined}{text}"
                        notes.append((text, f"{label}: {kw} (descriptor, 113105) repeats the "
                                            f"file's date as {form!r}"))
                    else:
                        value = f"{value} {date_text(d, form)}"
                        notes.append((d, f"{label}: {kw} (descriptor, 113105) repeats the "
                                         f"file's date as {form!r}"))
            else:
                picked = [p for p in idents if p.isalpha()][:1] or idents[:1]
                value = f"coil {picked[0]}"[:16] if picked else "coil"
                if vr == "CS":
                    value = value.upper().replace("COIL ", "")
            for p in picked:
                what = "descriptor, 113105" if kind == "descriptor" else "kept text"
                notes.append((p, f"{label}: {kw} ({what}) repeats the file's identifier"))
            cache[k] = value
        if isinstance(tag, tuple):
            _, group, creator, elem = tag
            target.private_block(group, creator, create=True).add_new(elem, vr, value)
        else:
            target[tag] = DataElement(tag, vr, value)


# ---------------------------------------------------------------- the case's export


def walk_uids(ds, out):
    for e in ds.iterall():
        if e.VR == "UI" and e.value:
            vals = e.value if isinstance(e.value, (list, pydicom.multival.MultiValue)) else [e.value]
            for v in vals:
                v = str(v).strip("\0 ")
                if v and not v.startswith("1.2.840.10008"):
                    out.add(v)


def walk_dates(ds, out):
    for e in ds.iterall():
        if e.VR in ("DA", "DT") and e.value:
            vals = e.value if isinstance(e.value, (list, pydicom.multival.MultiValue)) else [e.value]
            for v in vals:
                m = re.match(r"^(\d{4})(\d{2})(\d{2})", str(v))
                if m:
                    try:
                        out.add(dt.date(int(m[1]), int(m[2]), int(m[3])))
                    except ValueError:
                        pass


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def note_real_dates(table, h, rows, columns, notes_dates):
    """Each date of `columns` in a clinical table (header `h`, `rows`) into `notes_dates`: the
    real dates no output may hold unshifted."""
    for c in columns:
        if c in h:
            for row in rows:
                if row[h.index(c)]:
                    notes_dates.append((dt.date.fromisoformat(row[h.index(c)][:10]),
                                        f"{table} {c} (a real clinical date)"))


def plant_clinical(g, clinical, notes_dates):
    r = g.rng
    # ADSL: free text and extra columns the pipeline does not release.
    h, rows = read_csv(f"{clinical}/adsl.csv")
    note_real_dates("adsl.csv", h, rows, ("RANDDT", "NEPHRDT"), notes_dates)
    h += ["INVNAM", "BRTHDTC", "SITENAME"]
    for k, row in enumerate(rows):
        if "ARM" in h and r.random() < 0.5:
            t = g.token()
            g.note(t, "token", f"adsl.csv row {k + 2} ARM (free text)")
            row[h.index("ARM")] += f" {t}"
        name, parts = g.name()
        for p in parts:
            g.note(p, "token", f"adsl.csv row {k + 2} INVNAM (extra column: investigator)")
        d = g.date()
        g.note(d, "date", f"adsl.csv row {k + 2} BRTHDTC (extra column)")
        t = g.token()
        g.note(t, "token", f"adsl.csv row {k + 2} SITENAME (extra column)")
        row += [name.replace("^", ", "), d.isoformat(), f"Hospital {t}"]
    if r.random() < 0.1 and "RANDDT" in h:
        k = r.randrange(len(rows))
        d = dt.date.fromisoformat(rows[k][h.index("RANDDT")][:10])
        form = r.choice(["%d/%m/%Y", "%d.%m.%Y", "%m/%d/%Y %H"])
        rows[k][h.index("RANDDT")] = d.strftime(form)
        g.note(d, "date",
               f"adsl.csv row {k + 2} RANDDT written {form!r} (not a form the tables accept)")
    write_csv(f"{clinical}/adsl.csv", h, rows)
    # ADTTE: PARAM and EVNTDESC.
    h, rows = read_csv(f"{clinical}/adtte.csv")
    note_real_dates("adtte.csv", h, rows, ("STARTDT", "ADT"), notes_dates)
    for k, row in enumerate(rows):
        for c in ("EVNTDESC", "PARAM"):
            if c in h and r.random() < 0.4:
                t = g.token()
                g.note(t, "token", f"adtte.csv row {k + 2} {c} (free text)")
                row[h.index(c)] += f" {t}"
    write_csv(f"{clinical}/adtte.csv", h, rows)
    # Pathology: extra columns.
    h, rows = read_csv(f"{clinical}/pathology.csv")
    h += ["PATHOLOGIST", "COMMENT"]
    for k, row in enumerate(rows):
        name, parts = g.name()
        for p in parts:
            g.note(p, "token", f"pathology.csv row {k + 2} PATHOLOGIST (extra column)")
        t = g.token()
        g.note(t, "token", f"pathology.csv row {k + 2} COMMENT (extra column)")
        row += [name.replace("^", " "), f"reviewed {t}"]
    write_csv(f"{clinical}/pathology.csv", h, rows)
    # Subject map: a patient without images.
    with open(f"{clinical}/subject_map.csv", "a") as f:
        t = g.token()
        g.note(t, "token", "subject_map.csv: patient_id of a patient without images")
        f.write(f"{t},ANC-77-{g.rng.randint(1000, 9999)}\n")


def break_files(g, export, files):
    """0-2 files made unreleasable or unreadable, and junk beside them; names carry tokens."""
    r = g.rng
    done = []
    for _ in range(r.randint(0, 2)):
        path = r.choice(files)
        if not os.path.exists(path):
            continue
        what = r.choice(["truncate", "no PatientID", "unknown PatientID", "no SOPClassUID",
                         "burned in", "damaged length", "duplicate", "not DICOM", "empty",
                         "zip", "DICOMDIR", "dangling link", "loop link", "fifo", "no Rows"])
        folder = os.path.dirname(path)
        t = g.token()
        rel = os.path.relpath(path, export)
        if what in ("truncate", "damaged length", "no PatientID", "unknown PatientID",
                    "no SOPClassUID", "burned in", "no Rows", "duplicate"):
            new = os.path.join(folder, f"IM_{t}.dcm")
            g.note(t, "token", f"file name of {rel} ({what})")
            if what == "duplicate":
                shutil.copyfile(path, new)
            else:
                os.rename(path, new)
            if what == "truncate":
                size = os.path.getsize(new)
                with open(new, "r+b") as f:
                    f.truncate(r.randint(200, max(201, size - 10)))
            elif what == "damaged length":
                b = bytearray(open(new, "rb").read())
                i = b.find(b"\x10\x00\x10\x00PN")  # PatientName's length
                if i > 0:
                    b[i + 6:i + 8] = (0xFFF0).to_bytes(2, "little")
                open(new, "wb").write(bytes(b))
            elif what != "duplicate":
                ds = pydicom.dcmread(new)
                if what == "no PatientID":
                    del ds.PatientID
                elif what == "unknown PatientID":
                    u = g.token()
                    g.note(u, "token", f"{rel}: PatientID not in the subject map")
                    ds.PatientID = u
                elif what == "no SOPClassUID":
                    del ds.SOPClassUID
                elif what == "burned in":
                    ds.BurnedInAnnotation = "YES"
                elif what == "no Rows":
                    del ds.Rows
                ds.save_as(new)
        elif what == "not DICOM":
            name, parts = g.name()
            for p in parts:
                g.note(p, "token", f"content of a text file beside {rel}")
            g.note(t, "token", f"name of a text file beside {rel}")
            open(os.path.join(folder, f"notes_{t}.txt"), "w").write(f"Patient {name}\n")
        elif what == "empty":
            g.note(t, "token", f"name of an empty file beside {rel}")
            open(os.path.join(folder, f"{t}.dcm"), "w").close()
        elif what == "zip":
            g.note(t, "token", f"name of a zip archive beside {rel}")
            with zipfile.ZipFile(os.path.join(folder, f"{t}.zip"), "w") as z:
                z.write(path, os.path.basename(path))
        elif what == "DICOMDIR":
            name, parts = g.name()
            for p in parts:
                g.note(p, "token", f"DICOMDIR beside {rel}: patient record PatientName")
            u = g.token()
            g.note(u, "token", f"DICOMDIR beside {rel}: patient record PatientID")
            rec = Dataset()
            rec.DirectoryRecordType = "PATIENT"
            rec.PatientName = name
            rec.PatientID = u
            ds = Dataset()
            ds.FileSetID = "SITE"
            ds.DirectoryRecordSequence = Sequence([rec])
            ds.file_meta = FileMetaDataset()
            ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
            ds.file_meta.MediaStorageSOPInstanceUID = g.uid()
            ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
            ds.save_as(os.path.join(folder, "DICOMDIR"), enforce_file_format=True)
        elif what == "dangling link":
            u = g.token()
            g.note(t, "token", f"name of a dangling link beside {rel}")
            g.note(u, "token", f"target of a dangling link beside {rel}")
            os.symlink(f"/nonexistent/{u}/IM1.dcm", os.path.join(folder, f"{t}.dcm"))
        elif what == "loop link":
            g.note(t, "token", f"name of a link to its own folder's parent beside {rel}")
            os.symlink("..", os.path.join(folder, f"loop_{t}"))
        elif what == "fifo":
            g.note(t, "token", f"name of a FIFO beside {rel}")
            os.mkfifo(os.path.join(folder, f"{t}.dcm"))
        done.append(what)
    return done


def rename_paths(g, export):
    """Tokens into a subject folder's, a series folder's and a file's name (site paths)."""
    r = g.rng
    done = []
    subjects = sorted(d for d in os.listdir(export) if os.path.isdir(os.path.join(export, d)))
    if r.random() < 0.5:
        s = r.choice(subjects)
        t = g.token()
        g.note(t, "token", f"subject folder name ({s})")
        os.rename(os.path.join(export, s), os.path.join(export, f"{t}_{s}"))
        done.append("subject folder")
    series = sorted(os.path.join(dp, d) for dp, dn, _ in os.walk(export) for d in dn
                    if os.listdir(os.path.join(dp, d)) and
                    all(os.path.isfile(os.path.join(dp, d, f)) for f in os.listdir(os.path.join(dp, d))))
    if series and r.random() < 0.5:
        s = r.choice(series)
        t = g.token()
        g.note(t, "token", f"series folder name ({os.path.relpath(s, export)})")
        os.rename(s, f"{s}_{t}")
        done.append("series folder")
    files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(export) for f in fs
                   if f.endswith(".dcm"))
    if files and r.random() < 0.5:
        f = r.choice(files)
        t = g.token()
        g.note(t, "token", f"file name ({os.path.relpath(f, export)})")
        os.rename(f, os.path.join(os.path.dirname(f), f"{t}.dcm"))
        done.append("file name")
    return done


# ---------------------------------------------------------------- reading outputs


def varint(b, i):
    shift = n = 0
    while True:
        x = b[i]
        i += 1
        n |= (x & 0x7F) << shift
        shift += 7
        if not x & 0x80:
            return n, i


def unsnappy(b):
    """Snappy (raw block format) in pure Python."""
    _, i = varint(b, 0)
    out = bytearray()
    while i < len(b):
        tag = b[i]
        i += 1
        t = tag & 3
        if t == 0:
            ln = tag >> 2
            if ln >= 60:
                nb = ln - 59
                ln = int.from_bytes(b[i:i + nb], "little")
                i += nb
            ln += 1
            out += b[i:i + ln]
            i += ln
            continue
        if t == 1:
            ln = ((tag >> 2) & 7) + 4
            off = ((tag >> 5) << 8) | b[i]
            i += 1
        elif t == 2:
            ln = (tag >> 2) + 1
            off = int.from_bytes(b[i:i + 2], "little")
            i += 2
        else:
            ln = (tag >> 2) + 1
            off = int.from_bytes(b[i:i + 4], "little")
            i += 4
        if off <= 0 or off > len(out):
            raise ValueError("bad snappy offset")
        start = len(out) - off
        if off >= ln:
            out += out[start:start + ln]
        else:
            for k in range(ln):
                out.append(out[start + k])
    return bytes(out)


def thrift_struct(b, i):
    """A Thrift compact struct: {field id: value} (nested structs as dicts; lists skipped)."""
    fields, last = {}, 0
    while True:
        h = b[i]
        i += 1
        if h == 0:
            return fields, i
        typ, delta = h & 0x0F, h >> 4
        if delta:
            fid = last + delta
        else:
            z, i = varint(b, i)
            fid = (z >> 1) ^ -(z & 1)
        last = fid
        v, i = thrift_value(b, i, typ)
        fields[fid] = v


def thrift_value(b, i, typ):
    if typ in (1, 2):
        return typ == 1, i
    if typ == 3:
        return b[i], i + 1
    if typ in (4, 5, 6):
        z, i = varint(b, i)
        return (z >> 1) ^ -(z & 1), i
    if typ == 7:
        return None, i + 8
    if typ == 8:
        n, i = varint(b, i)
        return b[i:i + n], i + n
    if typ in (9, 10):
        h = b[i]
        i += 1
        n, et = h >> 4, h & 0x0F
        if n == 15:
            n, i = varint(b, i)
        for _ in range(n):
            _, i = thrift_value(b, i, et) if et not in (1, 2) else (None, i + 1)
        return None, i
    if typ == 11:
        n, i = varint(b, i)
        if n:
            kv = b[i]
            i += 1
            for _ in range(n):
                _, i = thrift_value(b, i, kv >> 4)
                _, i = thrift_value(b, i, kv & 0x0F)
        return None, i
    if typ == 12:
        return thrift_struct(b, i)
    raise ValueError(f"thrift type {typ}")


def parquet_pages(b):
    """The decoded pages of a Parquet file (Snappy or uncompressed), walked from its start."""
    out = []
    if b[:4] != b"PAR1" or b[-4:] != b"PAR1":
        return out
    end = len(b) - 8 - int.from_bytes(b[-8:-4], "little")
    i = 4
    while i < end:
        try:
            h, j = thrift_struct(b, i)
            size = h[3]
            data = b[j:j + size]
            v2 = h.get(8)
            try:
                if v2:
                    levels = v2.get(5, 0) + v2.get(6, 0)
                    body = data[levels:]
                    out.append(data[:levels] + (unsnappy(body) if v2.get(7, True) else body))
                else:
                    out.append(unsnappy(data) if h[2] != size else data)
            except Exception:
                out.append(data)
            i = j + size
        except Exception:
            break
    return out


def gzip_streams(b):
    """The inflated gzip streams inside a (DICOM) file."""
    out = []
    i = b.find(b"\x1f\x8b\x08")
    while i >= 0 and len(out) < 64:
        try:
            out.append(zlib.decompressobj(16 + 15).decompress(b[i:], 1 << 24))
        except zlib.error:
            pass
        i = b.find(b"\x1f\x8b\x08", i + 3)
    return out


def corpus(out_dir, stdout, stderr, extra_trees=()):
    """(name, bytes) of everything searched."""
    items = [("stdout", stdout), ("stderr", stderr)]
    names = []
    for tree in (out_dir,) + tuple(extra_trees):
        if not os.path.isdir(tree):
            continue
        for dp, dn, fs in os.walk(tree):
            for n in dn + fs:
                names.append(os.path.relpath(os.path.join(dp, n), tree))
            for f in fs:
                p = os.path.join(dp, f)
                if not os.path.isfile(p) or os.path.islink(p):
                    continue
                rel = os.path.relpath(p, out_dir)
                b = open(p, "rb").read()
                items.append((rel, b))
                if f.endswith(".gz"):
                    try:
                        items.append((rel + " (gunzipped)", gzip.decompress(b)))
                    except Exception as e:
                        items.append((rel + f" (does not gunzip: {e})", b""))
                elif f.endswith(".parquet"):
                    items += [(rel + f" (page {k})", pg) for k, pg in enumerate(parquet_pages(b))]
                elif b[128:132] == b"DICM" or f.endswith(".dcm"):
                    items += [(rel + f" (gzip stream {k})", s) for k, s in enumerate(gzip_streams(b))]
    items.append(("(output file and folder names)", "\n".join(names).encode()))
    return items


DATE_FORMS = ["%Y%m%d", "%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d%b%Y",
              "%d-%b-%Y", "%d/%m/%y", "%m/%d/%y", "%d %b %Y", "{d}/{m}/%Y", "{m}/{d}/%Y",
              "{d}.{m}.%Y", "%Y-{m}-{d}", "%b {d}, %Y", "{d} %b %y", "%d-%b-%y"]


# Written into descriptors too, and searched for as planted (not in every date's forms: a shifted
# date of the same month has the same month and year): the month and year alone, and the date
# with a time of day joined to it, after an underscore or glued to a word.
PARTIAL_DATE_FORMS = ["%b %Y", "%B %Y", "%m/%Y", "%Y-%m", "datetime_", "datetime_glued"]


def partial_date_text(g, d, form):
    """(text, what joins it to the descriptor) of `d` in a form of PARTIAL_DATE_FORMS."""
    if form.startswith("datetime"):
        hms = f"{g.rng.randrange(24):02d}{g.rng.randrange(60):02d}{g.rng.randrange(60):02d}"
        text = d.strftime("%Y%m%d") + hms
        return text, ("_" if form == "datetime_" else " scan")
    return d.strftime(form).upper(), " "


def date_text(d, form):
    """`d` written in `form` (strftime, with {d} and {m}: day and month without a zero)."""
    return d.strftime(form.replace("{d}", str(d.day)).replace("{m}", str(d.month))).upper()


def date_offsets(key, usubjids):
    """ancilla's per-subject date shift (src/deid/keyed.rs, date_offset_days), in days."""
    out = []
    for u in usubjids:
        h = hmac.new(key, b"ancilla-date-shift\0" + u.encode(), hashlib.sha256).digest()
        out.append(-(365 + int.from_bytes(h[:8], "big") % 1461))
    return out


def needles(planted, real_dates, uid_roots, phantom_phi, offsets):
    """(needle, label, origin, boundary, hex too). A date that is another date of the case
    shifted by a subject's offset is left out: the release rightly holds it."""
    out = []
    every = [v for v, k, _ in planted if k == "date"] + [d for d, _ in real_dates]
    shifted = {d + dt.timedelta(days=o) for d in every for o in offsets}
    planted = [p for p in planted if not (p[1] == "date" and p[0] in shifted)]
    real_dates = [p for p in real_dates if p[0] not in shifted]
    for value, kind, origin in planted:
        if kind == "token":
            out.append((value.lower().encode(), value, origin, False, True))
        elif kind == "date":
            for f in DATE_FORMS:
                s = date_text(value, f)
                out.append((s.lower().encode(), s, f"{origin} (date {value.isoformat()})", True, False))
        elif kind == "uid":
            out.append((value.encode(), value, origin, True, False))
    for d, origin in real_dates:
        for f in DATE_FORMS:
            s = date_text(d, f)
            out.append((s.lower().encode(), s, f"{origin} (date {d.isoformat()})", True, False))
    for root, origin in uid_roots:
        out.append((root.encode(), root, origin, True, False))
    for s, origin in phantom_phi:
        out.append((s.lower().encode(), s, origin, False, False))
    merged = {}
    for needle, label, origin, boundary, hexed in out:
        if len(needle) < 5:
            continue
        if needle in merged:
            if origin not in merged[needle][2]:
                merged[needle][2].append(origin)
        else:
            merged[needle] = [needle, label, [origin], boundary, hexed]
    return [(n, label, "; ".join(o[:2]) + (f" (+{len(o) - 2} more)" if len(o) > 2 else ""), b, h,
             o) for n, label, o, b, h in merged.values()]


PRINTABLE_RUN = re.compile(rb"[\x20-\x7e]{5,}")


def search(items, ndl):
    """Leaks: (item, label, origin, context). Every needle is printable ASCII of 5 characters or
    more, so each item is searched through its runs of printable bytes (as `strings` lists them:
    the same matches, a fraction of the bytes of voxel data), all needles in one pass."""
    info = {}
    for needle, label, origin, boundary, hexed, every in ndl:
        info.setdefault(needle, (label, origin, boundary, "", every))
        if hexed:
            for h in (needle.hex().encode(), label.encode().hex().encode()):
                info.setdefault(h, (label + " (hex-encoded)", origin, False, "hex", every))
    alternatives = sorted(info, key=len, reverse=True)
    pattern = re.compile(b"(?=(" + b"|".join(re.escape(n) for n in alternatives) + b"))")
    found = []
    for name, raw in items:
        runs = PRINTABLE_RUN.findall(raw)
        hay = b"\n".join(runs)
        low = hay.lower()
        binary = name.endswith((".nii.gz", ".nii", ".dcm", "(gunzipped)"))
        seen = set()
        for m in pattern.finditer(low):
            n = m.group(1)
            if n in seen:
                continue
            label, origin, boundary, how, every = info[n]
            if how == "hex" and binary:
                continue
            i = m.start()
            before = low[i - 1:i] if i else b""
            after = low[i + len(n):i + len(n) + 1]
            if boundary and (before.isdigit() or before == b"." or
                             (after.isdigit() and not n.endswith(b"."))):
                continue
            seen.add(n)
            ctx = hay[max(0, i - 50):i + len(n) + 50].replace(b"\n", b" ").decode()
            found.append((name, label, origin, ctx, every))
    return found


def leak_class(origins):
    """A leak's kind, for the summary, from every place its value was planted."""
    if any("repeats the file's date as" in o for o in origins):
        return "a date written otherwise in a descriptor"
    if any("BodyPartExamined (kept text)" in o for o in origins):
        return "a name in a kept code string"
    return "other"


# ---------------------------------------------------------------- one case


def one_case_factory(rng):
    def one_case(i, case_dir, _work):
        g = Gen(rng)
        n_subjects = rng.choice([2, 3])
        pseed = rng.randint(1, 10 ** 6)
        rois = rng.random() < 0.25
        cohort = f"{case_dir}/cohort"
        r = subprocess.run([BIN, "phantom", "--out", cohort, "--subjects", str(n_subjects),
                            "--seed", str(pseed), "--quiet"] + (["--dicom-rois"] if rois else []),
                           capture_output=True, text=True)
        title = f"phantom --subjects {n_subjects} --seed {pseed}{' --dicom-rois' if rois else ''}"
        if r.returncode != 0:
            return title, [f"[phantom] exit {r.returncode}: {r.stderr[-300:]}"]
        export = f"{cohort}/site-export"
        # Every DICOM file of the export, by series folder; the original UIDs and dates.
        series = {}
        uids, dates = set(), set()
        for dp, _, fs in os.walk(export):
            for f in sorted(fs):
                p = os.path.join(dp, f)
                try:
                    ds = pydicom.dcmread(p, stop_before_pixels=True)
                except Exception:
                    continue
                if "SOPInstanceUID" not in ds:
                    continue
                series.setdefault(dp, []).append(p)
                walk_uids(ds, uids)
                walk_dates(ds, dates)
        truth = __import__("json").load(open(f"{cohort}/ground_truth.json"))
        roots = [(s["original_uid_root"] + ".", f"original UID of the export (root of {s['patient_id']})")
                 for s in truth["subjects"]]
        loose = sorted(u for u in uids if not any(u.startswith(rt) for rt, _ in roots))
        uid_roots = roots + [(u, "original UID of the export") for u in loose]
        uid_roots.append((PLANT_UID_ROOT, "a planted UID"))
        phantom_phi = []
        for s in truth["subjects"]:
            for v in s["phi"] + [s["patient_id"]]:
                phantom_phi.append((v, f"the phantom's own PHI of {s['patient_id']}"))
                if "^" in v:
                    phantom_phi += [(p, f"the phantom's own PHI of {s['patient_id']} (name part)")
                                    for p in v.split("^") if len(p) >= 6]
        real_dates = [(d, "an original date of the export") for d in sorted(dates)]
        # Series-wide plantings (1-3 image series) and single-file ones (1-4 files).
        kinds = []
        notes = []  # (identifier repeated, origin)
        image_series = [s for s in sorted(series) if len(series[s]) > 1]
        chosen = rng.sample(image_series, min(len(image_series), rng.randint(1, 3)))
        plans = {}
        # Now and then one scope gets a kept text holding the patient's name (a file
        # failing ancilla's PHI check stops the run after deid: not more often).
        probe = rng.randrange(len(chosen) + 4) if rng.random() < 0.15 else -1
        for k, s in enumerate(chosen):
            label = f"series {os.path.relpath(s, export)}"
            pool = []
            ops = plant_set(g, label, rng.randint(3, 10), pool, kept_text=k == probe)
            if rng.random() < 0.5:
                name, parts = g.name()
                for p in parts:
                    g.note(p, "token", f"{label}: PatientName (0010,0010) (name part)")
                ops.insert(0, ([], 0x00100010, "PN", name))
            ds0 = pydicom.dcmread(series[s][0], stop_before_pixels=True)
            if ds0.get("Modality") == "MR" and rng.random() < 0.4:
                # GE's protocol data block: kept lines repeat identifiers, others hold tokens.
                t1, t2 = g.token(), g.token()
                g.note(t1, "token", f"{label}: GE protocol block (0025,xx1B) line PATNAME (not kept)")
                g.note(t2, "token", f"{label}: GE protocol block (0025,xx1B) line SERIESDESC (not kept)")
                ops.append(([], ("geblock", t1, t2), "OB", None))
            if ds0.get("Modality") == "MR" and rng.random() < 0.3:
                t1 = g.token()
                g.note(t1, "token", f"{label}: XA protocol (0021,xx19) line tPatientName (not kept)")
                ops.append(([], ("xa", t1), "OB", None))
            plans[s] = (label, ops, pool)
            kinds.append(f"series x{len(ops)}")
        # (from other series: a file's own plantings would overwrite its series' identifiers,
        # which the series' descriptors repeat)
        pool_files = [p for s in series if s not in chosen for p in series[s]]
        singles = rng.sample(pool_files, min(len(pool_files), rng.randint(1, 4)))
        for k, p in enumerate(singles):
            label = f"file {os.path.relpath(p, export)}"
            pool = []
            plans.setdefault(p, (label, plant_set(g, label, rng.randint(3, 12), pool,
                                                  kept_text=len(chosen) + k == probe), pool))
        # A planted series now and then in implicit VR (de-identified through dicom-rs' object,
        # not on its bytes).
        implicit = {s for s in chosen if rng.random() < 0.2}
        if implicit:
            kinds.append(f"{len(implicit)} implicit VR")
        for key, (label, ops, pool) in plans.items():
            paths = series[key] if key in series else [key]
            cache = {}
            for p in paths:
                ds = pydicom.dcmread(p)
                plain = [op for op in ops if not (isinstance(op[1], tuple) and op[1][0] in ("geblock", "xa"))]
                apply(ds, plain, g, pool, notes, cache)
                for op in ops:
                    path, tag, vr, value = op
                    if isinstance(tag, tuple) and tag[0] == "geblock":
                        idents = identifiers(ds, pool)
                        ident = idents[0] if idents else "NONE"
                        notes.append((ident, f"{label}: GE protocol block line PSEQ repeats the file's identifier"))
                        text = (f'SLICEORDER "1"\nPATNAME "{tag[1]}"\nPSEQ "{ident}"\n'
                                f'SERIESDESC "renal {tag[2]}"\nMBACCEL "1"\n')
                        ds.private_block(0x0025, "GEMS_SERS_01", create=True).add_new(
                            0x1B, "OB", ge_block(text))
                    elif isinstance(tag, tuple) and tag[0] == "xa":
                        idents = identifiers(ds, pool)
                        ident = idents[0] if idents else "NONE"
                        notes.append((ident, f"{label}: XA protocol line sCoilStringForConversion repeats the file's identifier"))
                        text = ("### ASCCONV BEGIN ###\n"
                                f'tSequenceFileName = "%SiemensSeq%\\ep2d_diff"\n'
                                f'sCoilSelectMeas.sCoilStringForConversion = "{ident}"\n'
                                f'tPatientName = "{tag[1]}"\n'
                                "sKSpace.lBaseResolution = 96\n### ASCCONV END ###\n").encode()
                        if len(text) % 2:
                            text += b"\0"
                        ds.private_block(0x0021, "SIEMENS MR SDS 01", create=True).add_new(
                            0x19, "OB", text)
                if key in implicit:
                    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2"
                    ds.save_as(p, implicit_vr=True, little_endian=True)
                else:
                    ds.save_as(p)
        for ident, origin in dict.fromkeys(notes):
            if isinstance(ident, dt.date):
                g.note(ident, "date", origin)
            elif not re.match(r"^\d{8}$", ident):
                g.note(ident, "token", origin)
        kinds.append(f"{len(singles)} single files")
        # The export's SEG and RTSTRUCT (--dicom-rois): a name part in an ROI name (cleaned under
        # 113105) or in a SegmentLabel (kept text: the verifier's business).
        for s in sorted(series):
            for p in series[s]:
                ds = pydicom.dcmread(p)
                label = f"file {os.path.relpath(p, export)}"
                fam = str(ds.get("PatientName", "")).split("^")[0]
                if len(fam) < 5:
                    continue
                if "StructureSetROISequence" in ds and rng.random() < 0.5:
                    item = rng.choice(list(ds.StructureSetROISequence))
                    item.ROIName = f"{item.get('ROIName', 'roi')} {fam}"
                    g.note(fam, "token", f"{label}: StructureSetROISequence > ROIName (descriptor, 113105) repeats the patient's name")
                    ds.save_as(p)
                elif "SegmentSequence" in ds and rng.random() < 0.08:
                    item = rng.choice(list(ds.SegmentSequence))
                    item.SegmentLabel = f"{item.get('SegmentLabel', 'seg')} {fam}"
                    g.note(fam, "token", f"{label}: SegmentSequence > SegmentLabel (kept text) repeats the patient's name")
                    ds.save_as(p)
        plant_clinical(g, f"{cohort}/clinical", real_dates)
        files = [p for s in series for p in series[s]]
        broken = break_files(g, export, files)
        renamed = rename_paths(g, export)
        if rng.random() < 0.4:
            t = g.token()
            g.note(t, "token", "the export's own folder name (the config's [input] dicom)")
            os.rename(export, f"{export}-{t}")
            export = f"{export}-{t}"
            renamed.append("export folder")
        # The run.
        out = f"{case_dir}/out"
        os.makedirs(f"{case_dir}/secrets", exist_ok=True)
        site_log = rng.random() < 0.7
        masks = not rois or rng.random() < 0.3
        with open(f"{case_dir}/p.toml", "w") as f:
            f.write(f'[output]\ndir = "{out}"\n[input]\ndicom = "{export}"\n')
            if masks:
                f.write(f'masks = "{cohort}/masks"\n')
            f.write(f'[deid]\nkey = "{cohort}/key.bin"\nsubjects = "{cohort}/clinical/subject_map.csv"\n')
            if site_log:
                f.write(f'site_log = "{case_dir}/secrets/deid-site-log.tsv"\n')
            f.write(f'[clinical]\nadsl = "{cohort}/clinical/adsl.csv"\n'
                    f'adtte = "{cohort}/clinical/adtte.csv"\n'
                    f'pathology = "{cohort}/clinical/pathology.csv"\n')
        def run():
            try:
                r = subprocess.run([BIN, "run", f"{case_dir}/p.toml"], capture_output=True,
                                   timeout=600)
                return r.returncode, r.stdout, r.stderr
            except subprocess.TimeoutExpired as e:
                return "timeout", e.stdout or b"", e.stderr or b""
        rc, so, se = run()
        # Now and then a rerun after the export changed: a series withdrawn, another renamed.
        if rng.random() < 0.3:
            folders = sorted({os.path.dirname(os.path.join(dp, f)) for dp, _, fs in os.walk(export)
                              for f in fs if f.endswith(".dcm")})
            if len(folders) > 2:
                gone, moved = rng.sample(folders, 2)
                shutil.rmtree(gone)
                t = g.token()
                g.note(t, "token", f"series folder name, renamed before a rerun ({os.path.relpath(moved, export)})")
                os.rename(moved, f"{moved}_{t}")
                rc2, so2, se2 = run()
                so, se = so + b"\n--- rerun ---\n" + so2, se + b"\n--- rerun ---\n" + se2
                renamed.append(f"second run (export changed) exit {rc2}")
        open(f"{case_dir}/stdout.txt", "wb").write(so)
        open(f"{case_dir}/stderr.txt", "wb").write(se)
        with open(f"{case_dir}/planted.tsv", "w") as f:
            for value, kind, origin in g.planted:
                f.write(f"{value}\t{kind}\t{origin}\n")
        title += (f"; planted {len(g.planted)} values ({', '.join(kinds)}); broken: "
                  f"{', '.join(broken) or 'none'}; renamed: {', '.join(renamed) or 'none'}; "
                  f"{'site log' if site_log else 'no site log'}; "
                  f"{'masks' if masks else 'no masks'}; run exit {rc}")
        if rc == 1:
            err = [l for l in se.decode(errors="replace").splitlines() if l.startswith("error:")]
            title += f" ({re.sub(r'[0-9]+', 'N', err[-1][7:60]) if err else '?'})"
        try:
            report = __import__("json").load(open(f"{out}/deid/deid-report.json"))
            refused = sorted({re.sub(r".*attribute (\S+) .*", r"\1", x["reason"])
                              for x in report.get("not_released", [])
                              if "failed the PHI check" in x["reason"]})
            if refused:
                title += f"; PHI check refused files for {', '.join(refused)}"
        except (OSError, ValueError):
            pass
        problems = []
        if rc not in (0, 1):
            problems.append(f"[exit] run exit {rc}: {se.decode(errors='replace')[-400:]}")
        items = corpus(out, so, se, (export, f"{cohort}/clinical") if CONTROL else ())
        key = open(f"{cohort}/key.bin", "rb").read()
        _, smap = read_csv(f"{cohort}/clinical/subject_map.csv")
        ndl = needles(g.planted, real_dates, uid_roots, phantom_phi,
                      date_offsets(key, [row[1] for row in smap if len(row) > 1]))
        # Links and FIFOs have done their part: gone before a kept case is copied.
        for dp, dn, fs in os.walk(export):
            for n in dn + fs:
                q = os.path.join(dp, n)
                if os.path.islink(q) or not (os.path.isdir(q) or os.path.isfile(q)):
                    os.unlink(q)
        found = search(items, ndl)
        leaks = [f"[leak] {name}: {label!r} ({origin}); context: {ctx!r}"
                 for name, label, origin, ctx, _ in found]
        classes = sorted({leak_class(every) for *_, every in found})
        if classes:
            title += f"; leaks: {', '.join(classes)}"
        if leaks:
            with open(f"{case_dir}/leaks.txt", "w") as f:
                f.write("\n".join(leaks) + "\n")
        shown = 25
        problems += leaks[:shown]
        if len(leaks) > shown:
            problems.append(f"[leak] ... and {len(leaks) - shown} more (leaks.txt)")
        return title, problems
    return one_case


def main():
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    rng = random.Random(seed)
    inner = one_case_factory(rng)
    leaks = [0]
    other = [0]
    stats = {}

    def one_case(i, case_dir, work):
        title, problems = inner(i, case_dir, work)
        for part in ("run exit ", "broken: ", "renamed: ", "leaks: "):
            if part in title:
                for v in title.split(part, 1)[1].split(";")[0].split(", "):
                    stats[part + v] = stats.get(part + v, 0) + 1
        if any(p.startswith("[leak]") for p in problems):
            leaks[0] += 1
        elif problems:
            other[0] += 1
        return title, problems

    failed = cases_loop.run(cases, "phi-anywhere", one_case)
    print("exercised: " + "; ".join(f"{k} x{v}" for k, v in sorted(stats.items())))
    extra = f" ({other[0]} with other problems)" if other[0] else ""
    print(f"{cases} cases, {cases - failed} clean, {leaks[0]} leak{extra}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
