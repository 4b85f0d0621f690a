#!/usr/bin/env python3
"""Random clinical and feature tables through `ancilla link`, the analysis table checked against
the series-choice rule (src/clinical/series_choice.rs, README "Statistics") written here again
from its text, and against the tables' own values.

Each case is 3-15 arm-A subjects (and half the time an arm-B subject with features, imaging,
ADTTE and pathology, which must be left out), each with RANDDT and NEPHRDT (NEPHRDT empty for
about 1 in 7), a PFS record (AVALU MONTHS or DAYS, CNSR 0 or 1; sometimes none) and pathology
(YPT and VIABLE_TUMOR_PCT, agreeing or one of them empty); 1-3 images per subject among
`pt suvbw`, `mr t2` and `mr adc`, each of 1-4 series with random UIDs; each series a few
features (ROI tumor or kidney, a value no other series has; now and then a feature missing from
one series), an IMAGING_DAY drawn from a few days around the nephrectomy's (before it, on it,
after it; ties frequent) or none (no imaging row: undated), and, when the imaging table has
MASK_ON_GRID, 1, 0 or empty. The feature table's rows are shuffled. A third of the cases keep
one or two random series out with --exclude-series.

The rule: a series kept out by --exclude-series, or imaged after the nephrectomy (day > the
nephrectomy's), is not used; one left is used; of more, an undated one makes them ambiguous;
else the latest day's, if it is one series, or of that day's the one with MASK_ON_GRID 1, if
exactly one; anything else is ambiguous (nothing used).

Checked, for every subject: arm A only, once each; every feature column (pt_ROI_FEATURE,
mr_ROI_FEATURE, mr_adc_ROI_FEATURE) is exactly the text of the chosen series' value, or empty
when nothing is chosen or the series lacks the feature, and the columns are exactly the arm-A
features'; TABLE.series.csv lists exactly the chosen series (with their day from randomisation,
empty when undated); DAYS_RANDOMISATION_TO_IMAGING and DAYS_IMAGING_TO_NEPHRECTOMY from the
first and last day of the series used (empty without one, or without NEPHRDT); PFS_MONTHS as
AVAL or AVAL / 30.4375 (365.25 / 12) for DAYS, exactly, PFS_EVENT = 1 - CNSR; PCR and
VIABLE_TUMOR_PCT.

Usage: benches/link-differential.py [CASES] [SEED]   (default 200, 1)
Needs numpy and a release build (ANCILLA_BIN, default target/release/ancilla). A case that
differs is kept as ./link-differential-N/ (its command in cmd.txt).
"""
import csv
import datetime as dt
import os
import shlex
import subprocess
import sys

import numpy as np

import cases as cases_loop  # benches/cases.py, beside this script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ANCILLA_BIN", os.path.join(ROOT, "target/release/ancilla"))
IMAGES = [("pt", "suvbw"), ("mr", "t2"), ("mr", "adc")]
FEATURES = ["stat_max", "stat_mean", "glcm_contrast", "shape_volume"]
DAYS_PER_MONTH = 365.25 / 12


def wide_name(modality, image, roi, feature):
    """The README's column names: the primary image of a modality (PET SUVbw, T2) without its
    kind, every other with it."""
    if (modality, image) in (("pt", "suvbw"), ("mr", "t2"), ("ct", "ct")):
        return f"{modality}_{roi}_{feature}"
    return f"{modality}_{image}_{roi}_{feature}"


def choose(series, nephrectomy, excluded):
    """The series used of one subject's image (its dict), or None. `series`: dicts with uid,
    day (None: undated) and grid ("1", "0" or "")."""
    left = [s for s in series if s["uid"] not in excluded
            and not (s["day"] is not None and nephrectomy is not None and s["day"] > nephrectomy)]
    if len(left) <= 1:
        return left[0] if left else None
    if any(s["day"] is None for s in left):
        return None
    latest = max(s["day"] for s in left)
    on_day = [s for s in left if s["day"] == latest]
    if len(on_day) == 1:
        return on_day[0]
    on_grid = [s for s in on_day if s["grid"] == "1"]
    return on_grid[0] if len(on_grid) == 1 else None


class Values:
    """Feature values as text, none twice in a case."""

    def __init__(self, rng):
        self.rng, self.seen = rng, set()

    def __call__(self):
        while True:
            digits = int(self.rng.integers(0, 7))
            v = f"{self.rng.uniform(-50, 5000):.{digits}f}"
            if v not in self.seen and v != "-0":
                self.seen.add(v)
                return v


def subject(rng, sid, arm, uids, value):
    rand = dt.date(2024, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365)))
    neph = None if rng.random() < 0.15 else int(rng.integers(20, 60))
    s = {"id": sid, "arm": arm, "rand": rand, "neph": neph, "images": {}}
    # A few days each series of an image may fall on: ties are frequent.
    around = neph if neph is not None else int(rng.integers(20, 60))
    picked = rng.permutation(len(IMAGES))[:int(rng.integers(1, 4))]
    for k in sorted(picked):
        modality, image = IMAGES[k]
        pool = sorted({around + int(d) for d in rng.integers(-25, 20, size=int(rng.integers(1, 4)))}
                      | ({around} if rng.random() < 0.4 else set()))
        names = [(str(rng.choice(["tumor", "tumor", "kidney"])), f) for f in
                 rng.permutation(FEATURES)[:int(rng.integers(1, 4))]]
        names = sorted(set(names))
        series = []
        for _ in range(int(rng.integers(1, 5))):
            uid = f"1.2.826.0.1.3680043.10.{int(rng.integers(1, 10**9))}"
            while uid in uids:
                uid += str(int(rng.integers(0, 10)))
            uids.add(uid)
            day = None if rng.random() < 0.1 else int(rng.choice(pool))
            grid = str(rng.choice(["1", "0", ""]))
            # Now and then a feature missing (a series has at least one: the feature table is
            # where series come from).
            keep = [n for n in names if rng.random() > 0.1] or names[:1]
            feats = {n: value() for n in keep}
            series.append({"uid": uid, "day": day, "grid": grid, "features": feats})
        s["images"][(modality, image)] = series
    # PFS: months or days, event or censored; sometimes no record.
    if rng.random() < 0.9:
        unit = str(rng.choice(["MONTHS", "DAYS"]))
        aval = (f"{rng.uniform(0.3, 60):.{int(rng.integers(0, 3))}f}" if unit == "MONTHS"
                else str(int(rng.integers(1, 1800))) + str(rng.choice(["", ".5"])))
        s["pfs"] = (aval, unit, int(rng.integers(0, 2)))
    else:
        s["pfs"] = None
    # Pathology: stage and viable tumour agree, or one is empty.
    ypt = str(rng.choice(["ypT0", "ypT1a", "ypT2", "ypT3a", "ypTX", ""]))
    if ypt == "ypT0":
        viable = str(rng.choice(["0", ""]))
    elif ypt in ("ypTX", ""):
        viable = str(rng.choice(["0", "15", "60", ""]))
    else:
        viable = str(rng.choice(["5", "40", "100", ""]))
    s["path"] = (ypt, viable)
    return s


def expected_pcr(ypt, viable):
    if ypt == "ypT0":
        return "1"
    if ypt in ("ypT1a", "ypT2", "ypT3a"):
        return "0"
    return "" if viable == "" else ("1" if float(viable) == 0 else "0")


def write_case(case, subjects, with_grid, rng):
    def write(name, header, rows):
        with open(os.path.join(case, name), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)

    write("adsl.csv", ["STUDYID", "USUBJID", "ARMCD", "RANDDT", "NEPHRDT"],
          [["S", s["id"], s["arm"], s["rand"].isoformat(),
            "" if s["neph"] is None else (s["rand"] + dt.timedelta(days=s["neph"])).isoformat()]
           for s in subjects])
    write("adtte.csv", ["USUBJID", "PARAMCD", "AVAL", "AVALU", "CNSR"],
          [[s["id"], "PFS", *s["pfs"]] for s in subjects if s["pfs"]])
    write("path.csv", ["USUBJID", "YPT", "VIABLE_TUMOR_PCT"],
          [[s["id"], *s["path"]] for s in subjects])
    feats = [[s["id"], m, x["uid"], i, roi, f, v, "u"]
             for s in subjects for (m, i), series in s["images"].items()
             for x in series for (roi, f), v in x["features"].items()]
    feats = [feats[k] for k in rng.permutation(len(feats))]
    write("features.csv",
          ["subject_id", "modality", "series_uid", "image", "roi", "feature", "value", "unit"],
          feats)
    imaging = [[s["id"], x["uid"], x["day"]] + ([x["grid"]] if with_grid else [])
               for s in subjects for series in s["images"].values() for x in series
               if x["day"] is not None]
    imaging = [imaging[k] for k in rng.permutation(len(imaging))]
    write("imaging.csv", ["USUBJID", "SERIES_UID", "IMAGING_DAY"]
          + (["MASK_ON_GRID"] if with_grid else []), imaging)


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def check(case, subjects, excluded):
    """The problems of one case's outputs."""
    problems = []
    header, table = read(os.path.join(case, "out/table.csv"))
    arm_a = [s for s in subjects if s["arm"] == "A"]
    ids = [r["USUBJID"] for r in table]
    if sorted(ids) != sorted(s["id"] for s in arm_a):
        problems.append(f"subjects {ids} vs arm A {[s['id'] for s in arm_a]}")
    clinical = {"USUBJID", "ARMCD", "PFS_MONTHS", "PFS_EVENT", "OS_MONTHS", "OS_EVENT", "PCR",
                "VIABLE_TUMOR_PCT", "YPT", "DAYS_RANDOMISATION_TO_IMAGING",
                "DAYS_IMAGING_TO_NEPHRECTOMY"}
    columns = {wide_name(m, i, roi, f) for s in arm_a for (m, i), series in s["images"].items()
               for x in series for (roi, f) in x["features"]}
    if set(header) - clinical != columns:
        problems.append(f"feature columns {sorted(set(header) - clinical)} vs {sorted(columns)}")
    if not clinical <= set(header):
        problems.append(f"missing columns {sorted(clinical - set(header))}")
        return problems
    by_id = {r["USUBJID"]: r for r in table}
    want_series = set()
    for s in arm_a:
        row = by_id.get(s["id"])
        if row is None:
            continue
        want = {c: "" for c in columns}
        days = []
        for (m, i), series in s["images"].items():
            used = choose(series, s["neph"], excluded)
            if used is None:
                continue
            want_series.add((s["id"], m, i, used["uid"],
                             "" if used["day"] is None else str(used["day"])))
            if used["day"] is not None:
                days.append(used["day"])
            for (roi, f), v in used["features"].items():
                want[wide_name(m, i, roi, f)] = v
        for c in sorted(columns):
            # A value as the same number (link writes each in its shortest form: 1876.9089 for
            # the feature table's 1876.90890), an empty cell as empty.
            got, w = row.get(c), want[c]
            same = got == w or (got not in (None, "") and w != "" and float(got) == float(w))
            if not same:
                problems.append(f"{s['id']} {c}: {got!r}, expected {w!r}")
        want["DAYS_RANDOMISATION_TO_IMAGING"] = str(min(days)) if days else ""
        want["DAYS_IMAGING_TO_NEPHRECTOMY"] = (str(s["neph"] - max(days))
                                               if days and s["neph"] is not None else "")
        if s["pfs"]:
            aval, unit, cnsr = s["pfs"]
            want["PFS_MONTHS"] = float(aval) / (DAYS_PER_MONTH if unit == "DAYS" else 1)
            want["PFS_EVENT"] = str(1 - cnsr)
        else:
            want["PFS_MONTHS"] = want["PFS_EVENT"] = ""
        want["PCR"] = expected_pcr(*s["path"])
        want["VIABLE_TUMOR_PCT"] = s["path"][1]
        want["ARMCD"] = "A"
        for c in ("ARMCD", "DAYS_RANDOMISATION_TO_IMAGING", "DAYS_IMAGING_TO_NEPHRECTOMY",
                  "PFS_MONTHS", "PFS_EVENT", "PCR", "VIABLE_TUMOR_PCT"):
            got, w = row[c], want[c]
            same = (got == w) if not isinstance(w, float) else (got != "" and float(got) == w)
            if not same:
                problems.append(f"{s['id']} {c}: {got!r}, expected {w!r}")
    _, used_rows = read(os.path.join(case, "out/table.series.csv"))
    got_series = [(r["USUBJID"], r["MODALITY"], r["IMAGE"], r["SERIES_UID"],
                   r["DAYS_RANDOMISATION_TO_IMAGING"]) for r in used_rows]
    if len(got_series) != len(set(got_series)) or set(got_series) != want_series:
        for extra in sorted(set(got_series) - want_series):
            problems.append(f"table.series.csv has {extra}, not chosen")
        for missing in sorted(want_series - set(got_series)):
            problems.append(f"table.series.csv lacks chosen {missing}")
        if len(got_series) != len(set(got_series)):
            problems.append("table.series.csv lists a series twice")
    return problems


def main():
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 1)

    def one_case(_i, case, _work):
        uids, value = set(), Values(rng)
        subjects = [subject(rng, f"A{k + 1:02d}", "A", uids, value)
                    for k in range(int(rng.integers(3, 16)))]
        if rng.random() < 0.5:
            subjects.append(subject(rng, "B01", "B", uids, value))
        with_grid = rng.random() < 0.7
        if not with_grid:
            for s in subjects:
                for x in (x for series in s["images"].values() for x in series):
                    x["grid"] = ""
        write_case(case, subjects, with_grid, rng)
        excluded = set()
        if rng.random() < 0.33:
            every = sorted(x["uid"] for s in subjects for series in s["images"].values()
                           for x in series)
            excluded = {str(u) for u in rng.choice(every, size=min(len(every), int(rng.integers(1, 3))),
                                                    replace=False)}
        p = lambda n: os.path.join(case, n)
        cmd = [BIN, "link", "--quiet", "--features", p("features.csv"), "--subjects", p("adsl.csv"),
               "--tte", p("adtte.csv"), "--pathology", p("path.csv"), "--imaging", p("imaging.csv"),
               "--out", p("out/table.csv")]
        for u in sorted(excluded):
            cmd += ["--exclude-series", u]
        with open(p("cmd.txt"), "w") as f:
            f.write(shlex.join(cmd) + "\n")
        r = subprocess.run(cmd, capture_output=True, text=True)
        with open(p("stderr.txt"), "w") as f:
            f.write(r.stderr)
        n_series = sum(len(x) for s in subjects for x in s["images"].values())
        title = (f"{len(subjects)} subjects, {n_series} series"
                 + (f", {len(excluded)} excluded" if excluded else ""))
        if r.returncode != 0:
            return title, [f"exit {r.returncode}: {r.stderr.strip()[-300:]}"]
        return title, check(case, subjects, excluded)

    failed = cases_loop.run(cases, "link-differential", one_case)
    print(f"{cases} cases, {cases - failed} equal, {failed} differ")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
