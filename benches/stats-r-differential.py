#!/usr/bin/env python3
"""Random analysis tables through `ancilla analyze`, each number checked against R: the survival
package (survfit, coxph, survdiff, concordance) and pROC (DeLong), the tools a statistician
checks a survival analysis with. A second reference beside benches/stats-differential.py
(lifelines, scipy, exact fits), written by other people in another language.

The tables are that script's: 6-150 subjects, tied times, 0-80% censored, three features
(continuous, integer with ties, binary; 1 table in 20 with the binary one constant). Each table
is analysed twice, with the Kaplan-Meier interval on the log(-log) scale (ancilla's default) and
on the log scale (R's default), and with a log-rank cut-off on f1. Checked:

- Kaplan-Meier: times, survival, numbers at risk, both intervals (R gives none where the curve
  is 1 or 0 on the log-log scale, or 0 on the log scale: ancilla's bounds are then the curve
  itself), the 12- and 24-month rates and their intervals (beyond the last follow-up only
  where the curve has reached 0: then 0), and the median and its interval (R's rule on a
  plateau exactly at 1/2: its middle);
- Cox (Efron ties): coefficient, SE, Wald and likelihood-ratio p, hazard ratio and its
  interval, the hazard ratio per standard deviation and the concordance, against coxph. Where
  coxph warns (an infinite coefficient, a likelihood that is monotone) ancilla must fit nothing
  and say why;
- the log-rank tests of the median split (high = value > median; >= median where nothing is
  above it) and of a fixed cut-off (high = value >= cut-off, one of the values) against
  survdiff;
- Spearman (t approximation) against cor.test;
- the ROC AUC for pCR and its DeLong interval against pROC (none where pROC's has width 0);
- the q-values against p.adjust(method = "BH") over R's Wald p-values of the models ancilla
  fits.

Usage: benches/stats-r-differential.py [CASES] [SEED]   (default 200, 1)
Needs Rscript with the survival and pROC packages (Debian: r-base-core r-cran-survival
r-cran-proc), numpy, pandas, scipy and lifelines (for the table generator), and a release build
(ANCILLA_BIN, default target/release/ancilla). A case that differs is kept as
./stats-r-differential-N/.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

import cases as cases_loop  # benches/cases.py, beside this script

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.environ.get("ANCILLA_BIN", os.path.join(ROOT, "target/release/ancilla"))
_spec = importlib.util.spec_from_file_location("lifelines_check",
                                               os.path.join(HERE, "stats-differential.py"))
lifelines_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lifelines_check)
close = lifelines_check.close


def read_r(path):
    """r.tsv: key -> list of floats (None for NA)."""
    out = {}
    with open(path) as f:
        for line in f:
            key, *values = line.rstrip("\n").split("\t")
            out[key] = [None if v == "NA" else float(v) for v in values]
    return out


def first_half(curve):
    """Where a curve [(time, value)] reaches 1/2 by R's rule: the first time below it; where it
    is exactly 1/2 there, the middle of that time and the next time below (the last time where
    none is)."""
    at = lambda b: abs(b - 0.5) <= 0.5e-12
    for j, (x, b) in enumerate(curve):
        if b < 0.5 and not at(b):
            return x
        if at(b):
            end = next((y for y, c in curve[j + 1:] if c < 0.5 and not at(c)), curve[-1][0])
            return (x + end) / 2
    return None


NON_MONOTONE = [0]  # median bounds where R's quantile() reads a bound curve that rises again


def same(ours, r, rtol):
    return all(close(a, b, rtol, 1e-12) for a, b in zip(ours, r)) and len(ours) == len(r)


def check_km(km, ref, kind, t, e):
    """ancilla's curve (its timeline starts with 0 where no subject has time 0) against survfit."""
    problems = []
    start = 1 if km["timeline"][0] == 0.0 and ref[f"km.{kind}.time"][0] != 0.0 else 0
    for ours, key in (("timeline", "time"), ("survival", "surv"), ("at_risk", "n.risk")):
        if not same([float(v) for v in km[ours][start:]], ref[f"km.{kind}.{key}"], 1e-9):
            problems.append(f"Kaplan-Meier ({kind}) {ours} differs from survfit's {key}")
    surv = km["survival"][start:]
    for ours, key in (("ci_lower", "lower"), ("ci_upper", "upper")):
        for s, a, b in zip(surv, km[ours][start:], ref[f"km.{kind}.{key}"]):
            if b is None:
                # R leaves the bound out where the scale has none; ancilla's is the curve.
                if not close(a, s, 1e-12) and not (s >= 1.0 and kind == "log"):
                    problems.append(f"Kaplan-Meier ({kind}) {ours} {a} where R has none (S={s})")
                    break
            elif not close(a, b, 1e-7, 1e-12):
                problems.append(f"Kaplan-Meier ({kind}) {ours} {a} vs survfit {b}")
                break
    for rate in km["rates"]:
        want = ref.get(f"km.{kind}.rate.{rate['month']}")
        if want is None:
            if rate["survival"] is not None:
                problems.append(f"{rate['month']}-month rate given beyond the last follow-up")
            continue
        ours = [rate["survival"], *(rate["ci"] or [None, None])]
        # R's summary() leaves no bound where survfit leaves none (checked above).
        if not all(b is None or close(a, b, 1e-7, 1e-12) for a, b in zip(ours, want)):
            problems.append(f"{rate['month']}-month rate ({kind}) {ours} vs R {want}")
    if not close(km["median"], ref[f"km.{kind}.median"][0], 1e-9):
        problems.append(f"median ({kind}) {km['median']} vs R {ref[f'km.{kind}.median'][0]}")
    for name, ours, key, want in zip(("lower", "upper"), km["median_ci"], ("lower", "upper"),
                                     ref[f"km.{kind}.median"][1:]):
        # The bound of the median is where the bound curve first falls to 1/2 (Brookmeyer and
        # Crowley: the first time the test of S(t) = 1/2 rejects), read here off R's own curve
        # where R gives it.
        times, bound = ref[f"km.{kind}.time"], ref[f"km.{kind}.{key}"]
        defined = [(x, b) for x, b in zip(times, bound) if b is not None]
        first = first_half(defined)
        if not close(ours, first, 1e-12):
            problems.append(f"median {name} ({kind}) {ours}: R's {key} curve first falls to 1/2 "
                            f"at {first}")
        monotone = all(a >= b for (_, a), (_, b) in zip(defined, defined[1:]))
        # R's quantile() sorts the bound curve's values (approx()), so on a curve that rises
        # again it finds another time than the first: only a monotone curve is compared with it.
        plateau = any(abs(b - 0.5) < 1e-8 for _, b in defined)
        if monotone and not plateau and not close(ours, want, 1e-9):
            problems.append(f"median {name} ({kind}) {ours} vs R {want}")
        if not monotone and not close(ours, want, 1e-9):
            NON_MONOTONE[0] += 1
    return problems


def no_information(note, want, which):
    """survdiff's statistic is 0 (p = 1) where no event falls while both groups are at risk;
    ancilla gives no test there and says so."""
    return want[0] == 0.0 and any(which in part and "both groups are at risk" in part
                                  for part in note.split("; "))


def check_feature(f, ref, tab):
    name, note = f["feature"], f.get("note") or ""
    problems = []
    coef, se, p_wald, p_lr, hr, lo, hi, c, warned = ref[f"{name}.cox"]
    cox = f.get("cox")
    if coef is None:
        # coxph gives no coefficient (a constant feature): neither may ancilla.
        if cox is not None or "Cox model" not in note:
            problems.append(f"{name}: coxph has no coefficient, ancilla gives {cox} ({note})")
    elif warned:
        if cox is not None:
            problems.append(f"{name}: coxph warns (coefficient {coef}) but ancilla gives {cox}")
    elif cox is None:
        events = int(tab.PFS_EVENT.sum())
        if not ("Cox model" in note and (events < 5 or "monotone" in note)):
            problems.append(f"{name}: coxph fits (coefficient {coef}) but ancilla: {note}")
    else:
        for key, want, tol in (("coef", coef, 1e-6), ("se", se, 1e-6), ("p_wald", p_wald, 1e-6),
                               ("p_lr", p_lr, 1e-6), ("hr", hr, 1e-6),
                               ("concordance", c, 1e-9)):
            if not close(cox[key], want, tol, 1e-10):
                problems.append(f"{name} Cox {key} {cox[key]} vs coxph {want}")
        if not (close(cox["hr_ci"][0], lo, 1e-6, 1e-10) and close(cox["hr_ci"][1], hi, 1e-6, 1e-10)):
            problems.append(f"{name} hazard ratio interval {cox['hr_ci']} vs coxph {lo}, {hi}")
        per_sd = ref[f"{name}.hr_per_sd"]
        if not close(cox["hr_per_sd"], per_sd[0], 1e-6):
            problems.append(f"{name} HR per SD {cox['hr_per_sd']} vs {per_sd}")
        if not all(close(cox["hr_per_sd_ci"][i], per_sd[1 + i], 1e-6, 1e-10) for i in (0, 1)):
            problems.append(f"{name} HR per SD interval {cox['hr_per_sd_ci']} vs coxph {per_sd[1:]}")
    split, want = f.get("logrank_median_split"), ref.get(f"{name}.logrank")
    if split is None:
        if "log-rank" not in note:
            problems.append(f"{name}: no log-rank test and no reason")
        elif want is not None and not no_information(note, want, "median"):
            problems.append(f"{name}: survdiff tests the median split ({want}), ancilla: {note}")
    elif want is None or not (close(split["statistic"], want[0], 1e-7)
                              and close(split["p"], want[1], 1e-6, 1e-12)):
        problems.append(f"{name} log-rank {split} vs survdiff {want}")
    if name == "f1":
        ours, want = f.get("logrank_cutoff"), ref.get(f"{name}.logrank_cutoff")
        if ours is None and want is not None and not no_information(note, want, "cut-off"):
            problems.append(f"{name}: survdiff tests the cut-off ({want}), ancilla: {note}")
        elif ours is not None and (want is None or not (
                close(ours["statistic"], want[0], 1e-7) and close(ours["p"], want[1], 1e-6, 1e-12)
                and [ours["n_high"], ours["n_low"]] == want[2:])):
            problems.append(f"{name} log-rank at the cut-off {ours} vs survdiff {want}")
    sp, want = f.get("spearman_viable_tumor"), ref[f"{name}.spearman"]
    if want[0] is not None:
        if sp is None or not (close(sp["rho"], want[0], 1e-9) and close(sp["p"], want[1], 1e-6, 1e-12)):
            problems.append(f"{name} Spearman {sp} vs cor.test {want}")
    roc, want = f.get("roc_pcr"), ref[f"{name}.roc"]
    if roc is None and "ROC: the feature is constant" in note:
        # pROC gives a constant 0.5 (0.5-0.5); ancilla says "constant" and gives none.
        if want[0] is not None and not (close(want[0], 0.5, 1e-12) and close(want[1], want[2], 1e-12)):
            problems.append(f"{name}: constant for ancilla, pROC {want}")
    elif roc is None:
        # DeLong's variance needs two subjects of each kind (pROC gives an interval anyway).
        if "ROC" not in note or min(int(tab.PCR.sum()), int((tab.PCR == 0).sum())) >= 2:
            problems.append(f"{name}: no ROC ({note})")
    elif close(want[1], want[2], 1e-12) and close(roc["auc"], want[0], 1e-9):
        # Complete separation: pROC's DeLong interval has width 0; ancilla gives none.
        if roc["ci"] != [None, None]:
            problems.append(f"{name} ROC interval {roc['ci']} where pROC's has width 0")
    elif not (close(roc["auc"], want[0], 1e-9) and close(roc["ci"][0], max(want[1], 0.0), 1e-9, 1e-12)
              and close(roc["ci"][1], min(want[2], 1.0), 1e-9, 1e-12)):
        problems.append(f"{name} ROC {roc['auc']} {roc['ci']} vs pROC {want}")
    return problems


def check_q_values(features, ref):
    """Benjamini-Hochberg by R's p.adjust over R's Wald p-values of the models ancilla fits."""
    return [f"{f['feature']} q-value {f.get('q_value')} vs p.adjust {want}"
            for f, want in zip(features, ref["bh"])
            if not close(f.get("q_value"), want, 1e-6, 1e-12)]


def main():
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    work = tempfile.mkdtemp()
    try:
        dirs, tables = [], []
        for i in range(cases):
            case = os.path.join(work, f"c{i}")
            os.makedirs(case)
            tab = lifelines_check.table(rng)
            if rng.random() < 0.05:
                tab["f3"] = 1.0  # a constant feature: no model, no split, no correlation
            tab.to_csv(f"{case}/table.csv", index=False)
            # A fixed log-rank cut-off on f1: one of its values (a threshold includes itself).
            with open(f"{case}/cutoff.txt", "w") as f:
                f.write(f"f1 {float(rng.choice(tab.f1.values))!r}\n")
            dirs.append(case)
            tables.append(tab)
        # One R process for all the tables: R and its packages take a second to start.
        if subprocess.run(["Rscript", os.path.join(HERE, "stats-reference.R"), *dirs]).returncode:
            print("Rscript failed: no reference")
            return 1
        failed = 0
        for i, (case, tab) in enumerate(zip(dirs, tables)):
            ref = read_r(f"{case}/r.tsv")
            t, e = tab.PFS_MONTHS.values, tab.PFS_EVENT.values
            problems = []
            for kind in ("log-log", "log"):
                out = f"{case}/out-{kind}"
                with open(f"{case}/cutoff.txt") as f:
                    cutoff = "=".join(f.read().split())
                r = subprocess.run([BIN, "--quiet", "analyze", f"{case}/table.csv", "--out", out,
                                    "--ci", kind, "--cutoff", cutoff], capture_output=True, text=True)
                if r.returncode != 0:
                    problems.append(f"exit {r.returncode}: {r.stderr.strip()[-300:]}")
                    continue
                with open(f"{out}/stats.json") as f:
                    stats = json.load(f)
                problems += check_km(stats["km"], ref, kind, t, e)
                if kind == "log-log":
                    for feature in stats["features"]:
                        problems += check_feature(feature, ref, tab)
                    problems += check_q_values(stats["features"], ref)
            if problems:
                failed += 1
                cases_loop.keep(case, "stats-r-differential", i,
                                f"{len(tab)} subjects, {int(e.sum())} events", problems)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{cases} cases, {cases - failed} equal, {failed} differ ({NON_MONOTONE[0]} median "
          "bounds where R's quantile() sorts a bound curve that rises again: compared with the "
          "first time it falls to 1/2)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
