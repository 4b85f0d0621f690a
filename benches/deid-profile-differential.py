#!/usr/bin/env python3
"""Random DICOM files through `ancilla deid`, each attribute checked row by row against DICOM
PS3.15 Annex E Table E.1-1 (the Basic Application Level Confidentiality Profile and its options),
as the project embeds it: src/deid/ps3.15-annex-e-profile.csv (621 rows; see its README).

Each case is one subject with 1-3 valid Part 10 CT or MR images (explicit or implicit VR little
endian) written by pydicom, carrying a random sample of 20-80 attributes of the table each, with
values of their VR (names, distinctive IDs and texts, dates in one window, times, UIDs of which
some are shared between the files, ages, numbers, binary values, sequences), about a quarter of
them nested in sequence items: of a sequence of the table, of public sequences the table does not
list (kept), of a private sequence that ancilla keeps ("safe") and of one it does not know; plus
private attributes with and without a private creator. Free-text descriptors are written with
identifying tokens of the same file (name parts, MRN, other IDs, addresses, birth date) among
ordinary words. A random subset of the four switchable options (`ancilla deid --config`, [options]:
retain_longitudinal_modified_dates, retain_patient_characteristics, retain_safe_private,
clean_descriptors) is switched off; the 16 combinations come in turn. The other options of the
table are never in force.

Oracle, from the table alone: an option in force whose cell is non-empty replaces the Basic
action; a compound code (X/Z, X/D, Z/D, X/Z/D, X/Z/U*) accepts any of its alternatives. In the
released file, at every depth:
- X: absent. Z: present, empty (a sequence without items), or a dummy other than the original.
  D: present, non-empty, not the original, valid for its VR. U: a valid UID other than the
  original; one original maps to one new UID in every file of the case, two originals to two.
  K: unchanged (a Patient's Age above 89 may come as 090Y: ancilla's documented HIPAA cap).
- C: a date (DA, DT, also safe private DT) valid and shifted by the same non-zero interval as every
  other date of the subject (so every difference between two dates is kept); a time (TM) valid and
  shifted by that interval modulo one day; a descriptor (LO, SH, ST, LT, UT, UC, CS, OB) holds
  no identifying token of the file; a timestamp in a binary value is no longer the original.
- a sequence kept, cleaned, replaced (U) or given a dummy: its items are checked in turn (under a
  dummy, its planted attributes may also be gone); under D, the identifying content of its items
  that the table does not list (a person's identification code, an SR text value, a graphic
  annotation's text) must not survive either.
- private attributes: none left anywhere with retain_safe_private off; those of an unknown
  creator, or without one, never. A safe private sequence of an implicit VR file may be removed
  (it arrives as bytes: nothing says a private attribute is a sequence).
- C of a binary value (OB: MakerNote, DeviceSettingDescription, FrameOriginTimestamp,
  CertifiedTimestamp) may also be X: ancilla removes what it cannot clean.
- no leak: none of the planted values that must go (names and their parts, IDs, distinctive
  strings, dates, every original UID) is in the bytes of any released file (case-insensitive).
- every file is released, or refused with a reason in deid-report.json (a refusal is reported
  here as a difference: every file is built valid).
Attributes the table does not list are outside the check (ancilla has its own policy there); the
two command-group rows (0000,xxxx) are not exercised (no data set may hold group 0000).

Usage: benches/deid-profile-differential.py [CASES] [SEED]   (default 200, 1)
Needs pydicom (pip install pydicom) and a release build (ANCILLA_BIN, default
target/release/ancilla). A case that differs is kept as ./deid-profile-differential-N/ (its input,
release, config, key and map).
"""
import csv
import datetime as dt
import glob
import itertools
import os
import random
import re
import subprocess
import sys
import warnings

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

# The options `ancilla deid --config` switches (all on by default); the table's other option
# columns are never in force.
OPTIONS = ["retain_longitudinal_modified_dates", "retain_patient_characteristics",
           "retain_safe_private", "clean_descriptors"]
TEXT_VRS = cases_loop.TEXT_VRS
WORDS = ["axial", "contrast", "baseline", "followup", "renal", "thorax", "abdomen", "pelvis",
         "routine", "delayed", "arterial", "venous", "sagittal", "coronal", "lowdose",
         "screening", "staging", "liver", "brain", "spine"]
# Attributes whose values identify the patient or a person or place (their tokens go into the
# descriptors of the same file); PN attributes count as well.
IDENTIFYING = cases_loop.IDENTIFYING | {"SpecimenAccessionNumber", "BarcodeValue"}
ENUMERATED = {"PatientSex": ["M", "F", "O"], "SmokingStatus": ["YES", "NO", "UNKNOWN"],
              "PatientSexNeutered": ["ALTERED", "UNALTERED"],
              "ReasonForTheAttributeModification": ["COERCE", "CORRECT"],
              "PregnancyStatus": [1, 2, 3, 4], "GPSAltitudeRef": [0, 1]}
# Elements of the repeating Curve group 50xx (retired): element, VR.
CURVE = [(0x0005, "US"), (0x0010, "US"), (0x0020, "CS"), (0x0022, "LO"), (0x0030, "SH"),
         (0x2500, "LO"), (0x3000, "OB")]
# Private attributes ancilla documents as safe (kept under 113111): group, creator, element, VR.
SAFE_PRIVATE = [(0x7053, "Philips PET Private Group", 0x00, "DS"),
                (0x0019, "SIEMENS MR HEADER", 0x0C, "IS"),
                (0x0009, "GEMS_PETD_01", 0x0D, "DT")]
SAFE_PRIVATE_SQ = (0x2001, "Philips Imaging DD 001", 0x5F)
UNKNOWN_CREATORS = ["ACME RESEARCH 1.0", "ZQX PRIVATE 07", "LOCAL SITE TAGS"]
# Public sequences the table does not list: kept, their items going through the profile.
UNLISTED_SQ = [(0x0054, 0x0016), (0x0008, 0x2218), (0x0040, 0x0260), (0x0008, 0x9215)]
# Base attributes of every file (always there, checked by their rows where listed).
BASE = {0x00080016, 0x00080018, 0x00080060, 0x00100010, 0x00100020, 0x0020000D, 0x0020000E,
        0x00200013, 0x00280002, 0x00280004, 0x00280010, 0x00280011, 0x00280100, 0x00280101,
        0x00280102, 0x00280103, 0x7FE00010, 0x00020003}


def load_table():
    rows = []
    with open(TABLE, newline="") as f:
        for r in csv.DictReader(f):
            rows.append(r)
    return rows


ROWS = load_table()
BY_ID = {r["tag_id"]: r for r in ROWS}


def row_of(tag):
    """The table row of a public tag, or None."""
    g, e = tag >> 16, tag & 0xFFFF
    r = BY_ID.get(f"{tag:08x}")
    if r:
        return r
    if 0x5000 <= g <= 0x501E and g % 2 == 0:
        return BY_ID["50xxxxxx"]
    if 0x6000 <= g <= 0x601E and g % 2 == 0 and e in (0x3000, 0x4000):
        return BY_ID[f"60xx{e:04x}"]
    return None


def allowed(row, opts):
    """The actions the table allows for `row` under the options in force."""
    cells = {row[o] for o in OPTIONS if opts[o] and row[o]}
    codes = cells or {row["basic_profile"]}
    acts = set()
    for c in codes:
        acts |= set(c.replace("*", "").split("/"))
    return acts


# ---------------------------------------------------------------- values


class Gen:
    """Random values of one case: distinctive tokens, dates in one window, UIDs."""

    def __init__(self, rng):
        self.rng = rng
        self.used = set()
        self.base = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randint(0, 3000))
        self.birth = self.base - dt.timedelta(days=rng.randint(20 * 365, 80 * 365))
        self.uid_pool = []

    def token(self, n=None, alpha=False):
        return cases_loop.unique_token(self.rng, self.used, n, alpha)

    def name_part(self):
        return self.token(self.rng.randint(7, 9), alpha=True).capitalize()

    def pn(self):
        parts = [self.name_part(), self.name_part()]
        return "^".join(parts), parts

    def date(self):
        return self.base + dt.timedelta(days=self.rng.randint(-60, 60))

    def da(self, birth=False):
        return (self.birth if birth else self.date()).strftime("%Y%m%d")

    def tm(self):
        r = self.rng
        h, m, s = r.randint(0, 23), r.randint(0, 59), r.randint(0, 59)
        frac = r.randint(1, 999999)
        return f"{h:02d}{m:02d}{s:02d}.{frac:06d}"

    def dt_value(self):
        r = self.rng
        d = self.da()
        kind = r.random()
        if kind < 0.05:
            return d[:4 + 2 * r.randint(0, 1)]  # reduced precision: YYYY or YYYYMM
        if kind < 0.2:
            return d
        v = d + self.tm()[:r.choice([4, 6, 13])]
        if r.random() < 0.3:
            v += r.choice(["+0100", "-0500", "+0000"])
        return v

    def uid(self, share=0.3):
        if self.uid_pool and self.rng.random() < share:
            return self.rng.choice(self.uid_pool)
        while True:
            u = "1.2.826.0.1.3680043.8.498." + "".join(
                self.rng.choice("123456789") for _ in range(30))
            if u not in self.uid_pool:
                self.uid_pool.append(u)
                return u


class Node:
    """One planted attribute (or item container) of a file."""

    def __init__(self, kind, tag, vr, row=None, keyword=""):
        self.kind = kind  # listed | unlisted_sq | dcontent | private | private_sq | base
        self.tag, self.vr, self.row = tag, vr, row
        self.keyword = keyword or (row["keyword"] if row else "")
        self.value = None
        self.items = []  # list of lists of Node, for SQ
        self.tokens = []  # distinctive strings that may go only with the value
        self.ident = []  # identifying tokens of the file written into a descriptor
        self.dates = []  # original date strings (YYYYMMDD) in the value
        self.descriptor = False
        self.creator = None  # private
        self.safe = False


def is_descriptor(row):
    """Text the table cleans under an option (Clean Descriptors, Patient Characteristics)."""
    if row["vr"] not in ("LO", "SH", "ST", "LT", "UT", "UC", "CS", "OB"):
        return False
    return any(row[o] == "C" for o in ("clean_descriptors", "retain_patient_characteristics"))


def fill(node, g, pool, deferred):
    """A value for `node` of its VR; descriptors are filled later (they take the pool)."""
    r, vr, kw = g.rng, node.vr, node.keyword
    if vr == "SQ":
        return
    if node.row is not None and is_descriptor(node.row):
        node.descriptor = True
        deferred.append(node)
        return
    if kw in ENUMERATED:
        node.value = r.choice(ENUMERATED[kw])
        return
    if vr == "PN":
        if r.random() < 0.15:
            (a, pa), (b, pb) = g.pn(), g.pn()
            node.value, node.tokens = a + "\\" + b, pa + pb
        else:
            node.value, node.tokens = g.pn()
        pool.extend((t, kw) for t in node.tokens)
    elif vr in ("LO", "SH", "AE", "CS", "ST", "LT", "UT", "UC"):
        if kw == "TimezoneOffsetFromUTC":
            node.value = r.choice(["+0100", "-0500", "+0530", "+0000"])
            return
        t = g.token(r.randint(8, 10))
        node.tokens = [t]
        if vr in ("ST", "LT", "UT", "UC") and r.random() < 0.5:
            t2 = g.token()
            node.tokens.append(t2)
            node.value = f"{t} {t2}"
        else:
            node.value = t
        if kw in IDENTIFYING:
            pool.extend((t, kw) for t in node.tokens)
    elif vr == "UR":
        t = g.token()
        node.value, node.tokens = f"https://example.org/{t}", [t]
    elif vr == "DA":
        node.value = g.da(birth=kw == "PatientBirthDate")
        node.dates = [node.value]
        if kw == "PatientBirthDate":
            pool.append((node.value, kw))
    elif vr == "DT":
        node.value = g.dt_value()
        node.dates = [node.value[:8]] if len(node.value) >= 8 else []
    elif vr == "TM":
        node.value = g.tm()
    elif vr == "AS":
        node.value = f"{r.randint(1, 89) if r.random() < 0.9 else r.randint(90, 105):03d}Y"
        if r.random() < 0.1:
            node.value = f"{r.randint(1, 30):03d}{r.choice('DWM')}"
    elif vr == "DS":
        node.value = f"{r.uniform(1, 250):.2f}"
    elif vr == "IS":
        node.value = str(r.randint(1, 9999))
    elif vr in ("US", "SS", "UL", "SL"):
        node.value = r.randint(1, 999)
    elif vr == "UI":
        node.value = g.uid()
        node.tokens = [node.value]
    elif vr in ("OB", "OW", "UN", "OB or OW", ""):
        t = g.token()
        if kw in ("FrameOriginTimestamp", "CertifiedTimestamp"):
            d = g.da()
            stamp = d + g.tm()[:6]
            node.dates = [d]
            node.value = f"TS {stamp}Z".encode()
        else:
            node.value = f"BIN {t} ".encode()
            node.tokens = [t]
        if len(node.value) % 2:
            node.value += b"\0"
    else:
        raise ValueError(f"no value for VR {vr!r} ({kw})")


def fill_descriptor(node, g, pool):
    r, vr = g.rng, node.vr
    own = g.token(8)
    ident = []
    if pool and r.random() < 0.6:
        ident = r.sample(pool, min(len(pool), r.randint(1, 2)))
    if vr == "OB" and r.random() < 0.5:
        ident = []
    if vr == "CS":
        ident = ident[:1]
        words = [r.choice(ENUMERATED["ReasonForTheAttributeModification"])] if \
            node.keyword == "ReasonForTheAttributeModification" else [own]
        words += [i.upper() for i, _ in ident]
        node.value = " ".join(words)[:16].strip()
        ident = [(i, k) for i, k in ident if i.upper() in node.value]
    elif vr == "SH":
        ident = ident[:1]
        node.value = f"{r.choice(['renal', 'liver', 'brain'])} {ident[0][0]}" if ident else own
    else:
        words = r.sample(WORDS, r.randint(1, 3)) + [own.lower()] + [i for i, _ in ident]
        r.shuffle(words)
        node.value = r.choice([" ", "_", " "]).join(words)
        if vr == "OB":
            node.value = node.value.encode()
            if len(node.value) % 2:
                node.value += b" "
    node.tokens = [own] if (own.lower() in str(node.value).lower()) else []
    node.ident = ident


# ---------------------------------------------------------------- building a file


def listed_rows():
    """Rows a random attribute is drawn from (not the command group, not the private row)."""
    out = []
    for r in ROWS:
        t = r["tag_id"]
        if t.startswith("0000") or t == "ggggeeee" or t == "00020003":
            continue
        if "x" not in t and int(t, 16) in BASE:
            continue
        out.append(r)
    return out


DRAW = listed_rows()
SQ_ROWS = [r for r in DRAW if r["vr"] == "SQ"]
LEAF_ROWS = [r for r in DRAW if r["vr"] != "SQ"]


def concrete(row, rng):
    """A tag and VR for a row (a group of the repeating rows)."""
    t = row["tag_id"]
    if t == "50xxxxxx":
        e, vr = rng.choice(CURVE)
        return ((0x5000 + 2 * rng.randint(0, 15)) << 16) | e, vr
    if t.startswith("60xx"):
        g = 0x6000 + 2 * rng.randint(0, 15)
        return (g << 16) | int(t[4:], 16), ("OW" if row["vr"] == "OB or OW" else row["vr"])
    return int(t, 16), row["vr"]


def listed_node(row, g):
    tag, vr = concrete(row, g.rng)
    return Node("listed", tag, vr, row)


def plan_file(g, n_attrs):
    """The planted attributes of one file: top-level nodes (items under SQ nodes)."""
    r = g.rng
    top = []
    seen = set()

    def add_unique(lst, node):
        key = node.tag
        if key in seen:
            return False
        seen.add(key)
        lst.append(node)
        return True

    chosen = r.sample(DRAW, min(n_attrs, len(DRAW)))
    for row in chosen:
        add_unique(top, listed_node(row, g))
    # Containers for nested attributes: the SQ nodes drawn, plus some others.
    sq_nodes = [n for n in top if n.vr == "SQ"]
    extra = []
    for tag in r.sample(UNLISTED_SQ, r.randint(0, 2)):
        n = Node("unlisted_sq", (tag[0] << 16) | tag[1], "SQ", keyword="unlisted sequence")
        if add_unique(top, n):
            extra.append(n)
    if r.random() < 0.4:
        g_, c_, e_ = SAFE_PRIVATE_SQ
        n = Node("private_sq", None, "SQ", keyword="safe private sequence")
        n.creator, n.group, n.elem, n.safe = c_, g_, e_, True
        top.append(n)
        extra.append(n)
    if r.random() < 0.4:
        n = Node("private_sq", None, "SQ", keyword="unknown private sequence")
        n.creator, n.group, n.elem = r.choice(UNKNOWN_CREATORS), 0x0033, 0x20
        top.append(n)
        extra.append(n)
    containers = sq_nodes + extra
    # Move about a quarter of the leaves into items of the containers; give every container
    # at least one item.
    leaves = [n for n in top if n.vr != "SQ" and n.kind == "listed"]
    for c in containers:
        c.items = [[] for _ in range(r.randint(1, 2))]
    if containers:
        for n in leaves:
            if r.random() < 0.25:
                top.remove(n)
                seen.discard(n.tag)
                c = r.choice(containers)
                item = r.choice(c.items)
                if all(m.tag != n.tag for m in item):
                    item.append(n)
        # A few nested sequences (depth 2) with a leaf of their own.
        for _ in range(r.randint(0, 2)):
            c = r.choice(containers)
            s = listed_node(r.choice(SQ_ROWS), g)
            item = r.choice(c.items)
            if all(m.tag != s.tag for m in item):
                s.items = [[listed_node(r.choice(LEAF_ROWS), g)]]
                item.append(s)
    # The identifying content of a D sequence the table does not list.
    def special(n):
        kw = n.keyword
        for item in n.items:
            if kw == "PersonIdentificationCodeSequence":
                item += [Node("dcontent", 0x00080100, "SH", keyword="CodeValue"),
                         Node("dcontent", 0x00080102, "SH", keyword="CodingSchemeDesignator"),
                         Node("dcontent", 0x00080104, "LO", keyword="CodeMeaning")]
            elif kw == "ContentSequence":
                item += [Node("dcontent", 0x0040A010, "CS", keyword="RelationshipType"),
                         Node("dcontent", 0x0040A040, "CS", keyword="ValueType"),
                         Node("dcontent", 0x0040A160, "UT", keyword="TextValue")]
            elif kw == "GraphicAnnotationSequence":
                inner = Node("dcontent", 0x00700008, "SQ", keyword="TextObjectSequence")
                inner.items = [[Node("dcontent", 0x00700006, "ST",
                                     keyword="UnformattedTextValue")]]
                item.append(inner)
            for m in item:
                if m.vr == "SQ":
                    special(m)
    for n in top:
        if n.vr == "SQ":
            special(n)
    # Private attributes: safe ones, unknown creators', one without a creator.
    for grp, cr, el, vr in r.sample(SAFE_PRIVATE, r.randint(0, 2)):
        n = Node("private", None, vr, keyword=f"safe private {cr}")
        n.creator, n.group, n.elem, n.safe = cr, grp, el, True
        top.append(n)
    for i in range(r.randint(0, 2)):
        n = Node("private", None, "LO", keyword="unknown private")
        n.creator, n.group, n.elem = r.choice(UNKNOWN_CREATORS), 0x0029 + 2 * i, 0x10
        top.append(n)
    if r.random() < 0.5:
        n = Node("private", None, "LO", keyword="private without creator")
        n.creator, n.group, n.elem = None, 0x0011, 0x1010
        top.append(n)
    # A private attribute of an unknown creator inside an item of a kept public sequence.
    kept = [n for n in top if n.kind == "unlisted_sq"]
    if kept and r.random() < 0.5:
        n = Node("private", None, "LO", keyword="nested unknown private")
        n.creator, n.group, n.elem = r.choice(UNKNOWN_CREATORS), 0x0035, 0x10
        kept[0].items[0].append(n)
    return top


def fill_tree(nodes, g, pool, deferred):
    for n in nodes:
        if n.kind == "dcontent":
            fill_dcontent(n, g)
        elif n.vr != "SQ":
            if n.kind == "private" and n.safe:
                n.value = {"DS": f"{g.rng.uniform(0.001, 5):.6f}", "IS": str(g.rng.randint(0, 3000)),
                           "DT": g.da() + g.tm()[:13]}[n.vr]
                n.dates = [n.value[:8]] if n.vr == "DT" else []
            elif n.kind == "private":
                t = g.token()
                n.value, n.tokens = f"PRIV {t}", [t]
            else:
                fill(n, g, pool, deferred)
        for item in n.items:
            # Tokens inside private sequences are not written into descriptors: a reader
            # without the maker's dictionary cannot be expected to know them.
            fill_tree(item, g, [] if n.kind == "private_sq" else pool, deferred)


def fill_dcontent(n, g):
    kw = n.keyword
    if kw == "CodeValue":
        t = g.token()
        n.value, n.tokens = t, [t]
    elif kw == "CodingSchemeDesignator":
        n.value = "99LOCAL"
    elif kw == "CodeMeaning":
        t = g.token()
        n.value, n.tokens = f"staff {t}", [t]
    elif kw == "RelationshipType":
        n.value = "CONTAINS"
    elif kw == "ValueType":
        n.value = "TEXT"
    elif kw in ("TextValue", "UnformattedTextValue"):
        t = g.token()
        n.value, n.tokens = f"seen by {t} today", [t]


def to_dataset(nodes, ds):
    for n in nodes:
        if n.kind in ("private", "private_sq"):
            value = Sequence([to_dataset(i, Dataset()) for i in n.items]) if n.vr == "SQ" \
                else n.value
            if n.creator is None:
                n.tag = (n.group << 16) | n.elem
                ds.add(DataElement(n.tag, n.vr, value))
            else:
                block = ds.private_block(n.group, n.creator, create=True)
                block.add_new(n.elem, n.vr, value)
                n.tag = block.get_tag(n.elem)
            continue
        if n.vr == "SQ":
            ds.add(DataElement(n.tag, "SQ", Sequence([to_dataset(i, Dataset()) for i in n.items])))
        else:
            ds.add(DataElement(n.tag, n.vr, n.value))
    return ds


def base_nodes(g, subject, uids, number):
    """The attributes every file has: (tag, VR, value); those of the table become nodes."""
    return [
        (0x00080016, "UI", subject["sop_class"]),
        (0x00080018, "UI", uids["sop"]),
        (0x00080060, "CS", subject["modality"]),
        (0x00100010, "PN", subject["name"]),
        (0x00100020, "LO", subject["mrn"]),
        (0x0020000D, "UI", uids["study"]),
        (0x0020000E, "UI", uids["series"]),
        (0x00200013, "IS", str(number)),
        (0x00280002, "US", 1),
        (0x00280004, "CS", "MONOCHROME2"),
        (0x00280010, "US", 4),
        (0x00280011, "US", 4),
        (0x00280100, "US", 16),
        (0x00280101, "US", 16),
        (0x00280102, "US", 15),
        (0x00280103, "US", 1),
    ]


def write_file(path, g, subject, uids, number, planted, implicit):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = subject["sop_class"]
    meta.MediaStorageSOPInstanceUID = uids["sop"]
    meta.TransferSyntaxUID = "1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"
    ds = Dataset()
    ds.file_meta = meta
    base = []
    for tag, vr, value in base_nodes(g, subject, uids, number):
        ds.add(DataElement(tag, vr, value))
        row = row_of(tag)
        if row is not None:
            n = Node("base", tag, vr, row)
            n.value = value
            if vr == "UI":
                n.tokens = [value]
            elif vr == "PN":
                n.tokens = value.split("^")
            else:
                n.tokens = [value]
            base.append(n)
    to_dataset(planted, ds)
    ds.add(DataElement(0x7FE00010, "OW", bytes(32)))
    ds.save_as(path, enforce_file_format=True, implicit_vr=implicit, little_endian=True)
    return base


# ---------------------------------------------------------------- judging


DA_RE = re.compile(r"^\d{8}$")
TM_RE = re.compile(r"^(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?$")
DT_RE = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,6})?([+-]\d{4})?$")
UID_RE = re.compile(r"^(0|[1-9]\d*)(\.(0|[1-9]\d*))*$")


def parse_da(v):
    try:
        return dt.datetime.strptime(v, "%Y%m%d") if DA_RE.match(v) else None
    except ValueError:
        return None


def parse_tm(v):
    m = TM_RE.match(v)
    if not m:
        return None
    h, mi, s = int(m[1]), int(m[2] or 0), int(m[3] or 0)
    if h > 23 or mi > 59 or s > 60:
        return None
    return h * 3600 + mi * 60 + s + float(m[4] or 0)


def parse_dt(v):
    """(datetime, number of digits of the date-time part, offset) or None."""
    m = DT_RE.match(v)
    if not m:
        return None
    try:
        d = dt.datetime(int(m[1]), int(m[2] or 1), int(m[3] or 1), int(m[4] or 0),
                        int(m[5] or 0), int(m[6] or 0),
                        int(round(float(m[7] or 0) * 1e6)))
    except ValueError:
        return None
    digits = len(re.sub(r"[^0-9]", "", v.split("+")[0].split("-")[0].split(".")[0]))
    return d, digits, m[8]


def valid(vr, v):
    """Whether a (non-empty) released value is valid for its VR."""
    vals = v.split("\\") if isinstance(v, str) else [v]
    for x in vals:
        if vr == "DA" and not parse_da(x):
            return False
        if vr == "TM" and parse_tm(x) is None:
            return False
        if vr == "DT" and not parse_dt(x):
            return False
        if vr == "UI" and not (UID_RE.match(x) and len(x) <= 64):
            return False
        if vr == "AS" and not re.match(r"^\d{3}[DWMY]$", x):
            return False
        if vr == "DS":
            try:
                float(x)
            except ValueError:
                return False
        if vr == "IS" and not re.match(r"^[+-]?\d+$", x.strip()):
            return False
        if vr == "CS" and not re.match(r"^[A-Z0-9 _]{0,16}$", x):
            return False
    return True


def canon(elem):
    """A released element's value as the planted value is kept: text, bytes or an int."""
    v = elem.value
    if v is None:
        return ""
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).rstrip(b"\0")
    if isinstance(v, (list, pydicom.multival.MultiValue)):
        return "\\".join(str(x).rstrip(" \0") for x in v)
    if isinstance(v, int) and not isinstance(v, bool) and elem.VR in ("US", "SS", "UL", "SL"):
        return v
    return str(v).rstrip(" \0")


def empty(v):
    return v in ("", b"", None)


def original(n):
    v = n.value
    if isinstance(v, bytes):
        return v.rstrip(b"\0")
    return v


class Case:
    """What the judging of one case gathers."""

    def __init__(self, opts):
        self.opts = opts
        self.problems = []
        self.uid_map = {}  # original -> set of new
        self.shifts = []  # (seconds, what, exact): dates' shifts
        self.time_shifts = []  # (seconds mod day, what)
        self.exercised = set()
        self.c_reason = ""


def shift_of(vr, orig, new):
    """(seconds, exact) the released date/time lies from the original; None if not a date."""
    if vr == "DA":
        a, b = parse_da(orig), parse_da(new)
        return ((b - a).total_seconds(), True) if a and b else None
    if vr == "DT":
        a, b = parse_dt(orig), parse_dt(new)
        if not (a and b):
            return None
        if a[1] != b[1] or a[2] != b[2]:
            return None
        return (b[0] - a[0]).total_seconds(), a[1] >= 8
    return None


def judge_c(n, v, case, where):
    """Whether a released value is a clean (C) one for `n`; records date shifts."""
    vr, orig, kw = n.vr, original(n), n.keyword
    if vr in ("DA", "DT"):
        if empty(v) or not valid(vr, v):
            return False
        s = shift_of(vr, orig, v)
        if s is None:
            return False
        seconds, exact = s
        if exact:
            if seconds == 0:
                return False
            case.shifts.append((seconds, f"{where} {kw}"))
        elif v == orig and len(orig) <= 6:
            return False
        return True
    if vr == "TM":
        t0, t1 = parse_tm(orig), parse_tm(v) if isinstance(v, str) else None
        if t1 is None:
            return False
        case.time_shifts.append(((t1 - t0) % 86400, f"{where} {kw}"))
        return True
    if kw == "TimezoneOffsetFromUTC":
        return isinstance(v, str) and re.match(r"^[+-]\d{4}$", v) is not None
    if kw in ("FrameOriginTimestamp", "CertifiedTimestamp"):
        return not empty(v) and v != orig and not any(d.encode() in v for d in n.dates)
    if n.descriptor or vr in TEXT_VRS or vr == "OB":
        text = v.decode("latin-1") if isinstance(v, bytes) else str(v)
        low = text.lower()
        left = [f"{i!r} (of {k})" for i, k in n.ident if i.lower() in low]
        if left:
            case.c_reason = "identifying token(s) left: " + ", ".join(left)
        return not left
    return False


def describe(v):
    if isinstance(v, bytes):
        return repr(v[:40])
    return repr(v)[:80]


def judge_nodes(nodes, rel_ds, case, where, dummy_parent, ancestors):
    for n in nodes:
        judge(n, rel_ds, case, where, dummy_parent, ancestors)


def judge(n, rel_ds, case, where, dummy_parent, ancestors):
    """Check one planted node in the released data set `rel_ds` (None: the item is gone)."""
    rel = None
    if rel_ds is not None and n.tag in rel_ds:
        rel = rel_ds[n.tag]
    name = f"{where}({n.tag >> 16:04X},{n.tag & 0xFFFF:04X}) {n.keyword}"
    if n.kind in ("private", "private_sq"):
        case.exercised.add(("(gggg,eeee)", tuple(case.opts[o] for o in OPTIONS)))
        if rel is not None and (not case.opts["retain_safe_private"] or not n.safe):
            case.problems.append(f"[private] {name}: private attribute kept "
                                 f"(retain_safe_private {case.opts['retain_safe_private']})")
        if n.safe and case.opts["retain_safe_private"]:
            # A safe private sequence in an implicit VR file arrives as bytes (nothing says a
            # private attribute is a sequence): ancilla removes it rather than keep it unread.
            unread = n.vr == "SQ" and case.implicit
            if rel is None and rel_ds is not None and not dummy_parent and not unread:
                case.problems.append(f"[private] {name}: safe private attribute (ancilla's list) removed "
                                     "under retain_safe_private")
            elif rel is not None and n.vr == "DT":
                if not judge_c(n, canon(rel), case, where):
                    case.problems.append(f"[private] {name}: safe private date-time {n.value!r} released "
                                         f"as {describe(canon(rel))}, not shifted")
            elif rel is not None and n.vr != "SQ" and str(canon(rel)) != str(n.value):
                case.problems.append(f"[private] {name}: safe private value {n.value!r} released as "
                                     f"{describe(canon(rel))}")
        if n.vr == "SQ" and rel is not None:
            for i, item in enumerate(n.items):
                sub = rel.value[i] if i < len(rel.value) else None
                judge_nodes(item, sub, case, f"{name}[{i}]/", False, ancestors + [{"K"}])
        return
    if n.kind in ("unlisted_sq", "dcontent"):
        # Outside the table: only their planted items are followed (the content of a D
        # sequence is judged by the leak search).
        if n.vr == "SQ" and rel is not None:
            for i, item in enumerate(n.items):
                sub = rel.value[i] if i < len(rel.value) else None
                judge_nodes(item, sub, case, f"{name}[{i}]/", dummy_parent, ancestors + [{"K"}])
        return
    row = n.row
    acts = allowed(row, case.opts)
    case.exercised.add((row["tag"], tuple(case.opts[o] for o in OPTIONS)))
    ok_acts = set(acts) | ({"X"} if dummy_parent else set())
    if "C" in acts and n.vr in ("OB", "OW", "UN"):
        # Clean of a binary value (MakerNote, DeviceSettingDescription, FrameOriginTimestamp,
        # CertifiedTimestamp): ancilla cannot clean one, and removes it.
        ok_acts.add("X")
    if rel_ds is None:
        return  # the item holding it is gone (a parent removed or emptied)
    orig = original(n)
    if rel is None:
        sat = {"X"}
    elif n.vr == "SQ":
        items = len(rel.value)
        sat = {"Z"} if items == 0 else {"D", "U", "C"} | ({"K"} if items == len(n.items)
                                                          else set())
    else:
        v = canon(rel)
        if empty(v):
            sat = {"Z"}
        else:
            sat = set()
            if str(v) == str(orig):
                sat.add("K")
            elif row["keyword"] == "PatientAge" and orig.endswith("Y") and \
                    int(orig[:3]) > 89 and v == "090Y":
                sat.add("K")  # ancilla's documented cap of ages above 89 (HIPAA)
            else:
                if valid(n.vr, v):
                    sat |= {"D", "Z"}
                    if n.vr == "UI":
                        sat.add("U")
            case.c_reason = ""
            if "C" in ok_acts and judge_c(n, v, case, where):
                sat.add("C")
            if "U" in sat and "U" in ok_acts:
                for a, b in zip(str(orig).split("\\"), str(v).split("\\")):
                    case.uid_map.setdefault(a, set()).add(b)
    if not sat & ok_acts:
        why = f"; {case.c_reason}" if "C" in ok_acts and case.c_reason else ""
        got = "absent" if rel is None else (
            f"a sequence of {len(rel.value)} item(s)" if n.vr == "SQ" else
            f"{describe(canon(rel))}")
        opts_on = [o for o in OPTIONS if case.opts[o] and row[o]]
        case.problems.append(
            f"[table {'/'.join(sorted(acts))}] {name} {n.vr}: table {'/'.join(sorted(acts))} (basic {row['basic_profile']}"
            f"{', ' + ', '.join(o + '=' + row[o] for o in opts_on) if opts_on else ''}), "
            f"original {describe(orig)}, released {got}{why}")
    if n.vr == "SQ" and rel is not None and len(rel.value):
        dummy = bool(acts & {"D", "Z"})
        for i, item in enumerate(n.items):
            sub = rel.value[i] if i < len(rel.value) else None
            judge_nodes(item, sub, case, f"{name}[{i}]/", dummy, ancestors + [acts])


# ---------------------------------------------------------------- what must not survive


def must_go(nodes, opts, ancestors, out, where=""):
    """(token, where it was planted, the attribute it is the value of) of every planted value
    that must not be in any released byte."""
    for n in nodes:
        name = f"{where}{n.keyword}"
        gone = any(a <= {"X", "Z"} for a in ancestors)
        own, ident = [], []
        if n.kind in ("private", "private_sq"):
            must = gone or not n.safe or not opts["retain_safe_private"]
            if must:
                own = n.tokens + n.dates
            child_acts = {"X"} if must else {"K"}
        elif n.kind == "unlisted_sq":
            child_acts = {"K"}
        elif n.kind == "dcontent":
            # In a D sequence (or one of its items): its identifying content goes with it.
            in_d = any(a <= {"X", "Z", "D"} for a in ancestors)
            if gone or in_d:
                own = n.tokens
            child_acts = {"K"}
        else:
            acts = allowed(n.row, opts)
            child_acts = acts
            if gone or not acts & {"K", "C"}:
                own, ident = n.tokens + n.dates, n.ident
            elif "C" in acts:
                own, ident = n.dates, n.ident
        out += [(t, name, n.keyword) for t in own]
        out += [(t, name, k) for t, k in ident]
        for item in n.items:
            must_go(item, opts, ancestors + [child_acts], out, name + "/")


# ---------------------------------------------------------------- one case


def one_case_factory(rng, combos):
    def one_case(i, case_dir, _work):
        opts = dict(zip(OPTIONS, combos[i]))
        g = Gen(rng)
        implicit = rng.random() < 0.3
        subject = {"sop_class": rng.choice(["1.2.840.10008.5.1.4.1.1.2",
                                            "1.2.840.10008.5.1.4.1.1.4"]),
                   "mrn": g.token(9)}
        subject["modality"] = "CT" if subject["sop_class"].endswith(".2") else "MR"
        subject["name"], name_parts = g.pn()
        study = g.uid(share=0)
        series = [g.uid(share=0) for _ in range(rng.randint(1, 2))]
        os.makedirs(f"{case_dir}/in")
        with open(f"{case_dir}/map.csv", "w") as f:
            f.write(f"patient_id,usubjid\n{subject['mrn']},ANC-99-{i:04d}\n")
        with open(f"{case_dir}/key.bin", "wb") as f:
            f.write(bytes(rng.randrange(256) for _ in range(32)))
        with open(f"{case_dir}/deid.toml", "w") as f:
            f.write("[options]\n" + "".join(f"{o} = {str(opts[o]).lower()}\n" for o in OPTIONS))
        files = []
        for k in range(rng.randint(1, 3)):
            uids = {"study": study, "series": rng.choice(series), "sop": g.uid(share=0)}
            pool = [(t, "PatientName") for t in name_parts] + [(subject["mrn"], "PatientID")]
            planted = plan_file(g, rng.randint(20, 80))
            deferred = []
            fill_tree(planted, g, pool, deferred)
            for d in deferred:
                fill_descriptor(d, g, pool)
            path = f"{case_dir}/in/f{k}.dcm"
            base = write_file(path, g, subject, uids, 1001 + k, planted, implicit)
            files.append((path, 1001 + k, planted, base, uids))
        r = subprocess.run([BIN, "--quiet", "deid", f"{case_dir}/in", "--out", f"{case_dir}/out",
                            "--key", f"{case_dir}/key.bin", "--subjects", f"{case_dir}/map.csv",
                            "--config", f"{case_dir}/deid.toml", "--site-log",
                            f"{case_dir}/site-log.tsv"], capture_output=True, text=True)
        off = [o for o in OPTIONS if not opts[o]]
        title = (f"{len(files)} file(s), {'implicit' if implicit else 'explicit'} VR, options off: "
                 f"{', '.join(off) or 'none'}")
        case = Case(opts)
        case.implicit = implicit
        if r.returncode not in (0, 1) or not os.path.exists(f"{case_dir}/out/deid-report.json"):
            case.problems.append(f"[exit] exit {r.returncode}: {r.stderr.strip()[-300:]}")
            return title, case.problems, case
        refused = {}
        if os.path.exists(f"{case_dir}/site-log.tsv"):
            for line in open(f"{case_dir}/site-log.tsv").read().splitlines()[1:]:
                p, _, why = line.partition("\t")
                refused[os.path.basename(p)] = why
        released = {}
        for p in glob.glob(f"{case_dir}/out/**/*.dcm", recursive=True):
            ds = pydicom.dcmread(p)
            released[int(ds.InstanceNumber)] = (p, ds)
        for path, number, planted, base, uids in files:
            fname = os.path.basename(path)
            if number not in released:
                why = refused.get(fname, "neither released nor reported")
                case.problems.append(f"[refused] {fname}: not released: {why}")
                continue
            p, ds = released[number]
            where = f"{fname}: "
            if not opts["retain_safe_private"]:
                odd = [e.tag for e in ds.iterall() if e.tag.group % 2 == 1]
                if odd:
                    case.problems.append(f"[private] {where}{len(odd)} private attribute(s) left with "
                                         f"retain_safe_private off, e.g. {odd[0]}")
            # The file meta group's instance UID (0002,0003): U.
            meta = Node("base", 0x00020003, "UI", BY_ID["00020003"])
            meta.value = uids["sop"]
            meta_ds = Dataset()
            meta_ds.add(DataElement(0x00020003, "UI", ds.file_meta.MediaStorageSOPInstanceUID))
            judge(meta, meta_ds, case, where + "meta ", False, [])
            judge_nodes(base + planted, ds, case, where, False, [])
            gone = [(u, "base", "StudyInstanceUID/SeriesInstanceUID/SOPInstanceUID")
                    for u in [uids["study"], uids["sop"]] + series]
            gone += [(t, "base", "PatientName") for t in name_parts]
            gone += [(subject["mrn"], "base", "PatientID")]
            must_go(planted, opts, [], gone)
            body = open(p, "rb").read().lower()
            found = {}
            for token, place, source in gone:
                if len(token) >= 6 and token.lower().encode() in body:
                    found.setdefault((token, source), []).append(place)
            for (token, source), places in found.items():
                case.problems.append(f"[leak] {where}{token!r}, the value of {source}, is in the "
                                     f"released bytes (planted in {'; '.join(sorted(set(places)))})")
        # One original UID, one new UID; two originals, two.
        for a, news in case.uid_map.items():
            if len(news) > 1:
                case.problems.append(f"[uid] UID {a} replaced by {len(news)} different UIDs")
        back = {}
        for a, news in case.uid_map.items():
            for b in news:
                back.setdefault(b, set()).add(a)
        for b, olds in back.items():
            if len(olds) > 1:
                case.problems.append(f"[uid] {len(olds)} different UIDs all replaced by {b}")
        # One shift for every date of the subject, and times shifted by it modulo a day.
        shifts = {s for s, _ in case.shifts}
        if len(shifts) > 1:
            detail = ", ".join(f"{w}: {s / 86400:+g} d" for s, w in case.shifts[:6])
            case.problems.append(f"[dates] dates shifted by {len(shifts)} different intervals: {detail}")
        if shifts:
            ref = next(iter(shifts)) % 86400
            for s, w in case.time_shifts:
                if abs(s - ref) > 1e-3 and abs(s - ref) < 86400 - 1e-3:
                    case.problems.append(f"[dates] {w}: time shifted by {s:g} s, the dates by "
                                         f"{next(iter(shifts)):g} s")
        return title, case.problems, case
    return one_case


def main():
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    rng = random.Random(seed)
    combos = []
    every = list(itertools.product([True, False], repeat=len(OPTIONS)))
    while len(combos) < cases:
        block = every[:]
        rng.shuffle(block)
        combos += block
    exercised = set()
    kinds = {}
    inner = one_case_factory(rng, combos)

    def one_case(i, case_dir, work):
        title, problems, case = inner(i, case_dir, work)
        exercised.update(case.exercised)
        for k in {re.match(r"\[([^\]]*)\]", p)[1] for p in problems}:
            kinds[k] = kinds.get(k, 0) + 1
        return title, problems

    failed = cases_loop.run(cases, "deid-profile-differential", one_case)
    rows = {r for r, _ in exercised}
    n_combos = len({c for _, c in exercised})
    for k in sorted(kinds):
        print(f"  {kinds[k]} case(s) with [{k}]")
    print(f"table rows exercised: {len(rows)} of {len(ROWS)}, under {n_combos} option "
          f"combinations ({len(exercised)} row-combination pairs)")
    print(f"{cases} cases, {cases - failed} equal, {failed} differ")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
