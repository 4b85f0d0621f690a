#!/usr/bin/env python3
"""SIGKILL ancilla at random moments, rerun it, and compare with a run that was never killed.

The promise checked: outputs are written atomically, so a run killed at any moment leaves no
half-written file, and a rerun finishes the job with outputs byte-identical to an uninterrupted
run's. tests/pipeline.rs kills `run` at four chosen points; this script kills anywhere, in every
command that writes a folder:

- `run` of the demo config (3 phantom subjects, every stage from the phantom to the report);
- `run` over a site export (a phantom cohort generated beforehand, with its site-side log);
- `deid` and `convert` of that export, and `merge` of its two shards.

Each case starts one command in a fresh output folder and kills it (SIGKILL) after a random
time, up to the whole of an uninterrupted run; one case in three kills the rerun too. The last
run must then succeed, and its folder must hold exactly the reference's files with the same
bytes: no temporary file, no lock left, nothing missing. Stage stamps and the site-side log
(modification times, absolute paths) are left out, and provenance.json is compared without
its timings and stage summaries (a resumed stage says what it found already done). The input
tree must be unchanged at the end.

Usage: benches/kill-anywhere.py [CASES] [SEED]   (default 60, 1)
Needs a release build (ANCILLA_BIN, default target/release/ancilla). A failing case's output
folder is kept as ./kill-anywhere-N/.
"""
import hashlib
import json
import os
import random
import subprocess
import sys
import time

import cases as cases_loop  # benches/cases.py, beside this script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ANCILLA_BIN", os.path.join(ROOT, "target/release/ancilla"))


def tree(root, skip=lambda rel: False):
    """Relative path -> SHA-256 of every file under root (hidden ones too)."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root)
            if not skip(rel):
                with open(p, "rb") as fh:
                    out[rel] = hashlib.sha256(fh.read()).hexdigest()
    return out


def unstable(rel):
    """Files whose bytes legitimately differ between runs (see the module doc)."""
    parts = rel.split(os.sep)
    return ".stamps" in parts or parts[-1] in ("deid-site-log.tsv", "provenance.json")


def provenance(root):
    """provenance.json without timings and stage summaries, or None when there is none."""
    path = os.path.join(root, "provenance.json")
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        p = json.load(fh)
    p.pop("total_seconds", None)
    # The config file as written names its output folder, which is another for each case than
    # for the reference (config_sha256 leaves the folder out, and is compared).
    p.pop("config_file_sha256", None)
    p["stages"] = [s.get("stage") for s in p.get("stages", [])]
    return p


def snapshot(root):
    return tree(root, unstable), provenance(root)


class Command:
    """One kind of case: the argv that writes `out`, its reference output and wall time."""

    def __init__(self, name, argv):
        self.name, self.argv = name, argv

    def args(self, out):
        return [BIN, "--quiet"] + self.argv(out)

    def reference(self, work):
        out = os.path.join(work, f"ref-{self.name}")
        t = time.monotonic()
        r = subprocess.run(self.args(out), capture_output=True)
        self.seconds = time.monotonic() - t
        if r.returncode != 0:
            sys.exit(f"{self.name}: the reference run failed: {r.stderr.decode()[-2000:]}")
        self.expected = snapshot(out)


def config(path, body):
    with open(path, "w") as fh:
        fh.write(body)
    return path


def commands(work):
    """The commands under test, with what they read made once in `work`."""
    cohort = os.path.join(work, "cohort")
    subprocess.run([BIN, "--quiet", "phantom", "--out", cohort, "--subjects", "3", "--seed", "2"],
                   check=True, capture_output=True)
    export = os.path.join(cohort, "site-export")
    key = os.path.join(cohort, "key.bin")
    subjects = os.path.join(cohort, "clinical", "subject_map.csv")

    def site_config(out):
        # One site-side log for every run: its path is part of the config's hash.
        name = out.strip("/").replace("/", "_")
        return config(os.path.join(work, f"{name}.toml"), f"""[output]
dir = "{out}"
[input]
dicom = "{export}"
masks = "{cohort}/masks"
[deid]
key = "{key}"
subjects = "{subjects}"
site_log = "{work}/site-log.tsv"
[clinical]
adsl = "{cohort}/clinical/adsl.csv"
adtte = "{cohort}/clinical/adtte.csv"
pathology = "{cohort}/clinical/pathology.csv"
""")

    def demo_config(out):
        name = out.strip("/").replace("/", "_")
        return config(os.path.join(work, f"{name}.toml"), f"""[output]
dir = "{out}"
[phantom]
subjects = 3
seed = 3
""")

    # One config for both shards (merge refuses shards of different configs), each its --out.
    shards = [os.path.join(work, f"shard-{i}") for i in (1, 2)]
    sharded = site_config(os.path.join(work, "shards"))
    for i, s in enumerate(shards, 1):
        subprocess.run([BIN, "--quiet", "run", sharded, "--out", s, "--shard", f"{i}/2"],
                       check=True, capture_output=True)
    return cohort, [
        Command("run-demo", lambda out: ["run", demo_config(out)]),
        Command("run-site", lambda out: ["run", site_config(out)]),
        Command("deid", lambda out: ["deid", export, "--out", out, "--key", key,
                                     "--subjects", subjects]),
        Command("convert", lambda out: ["convert", export, "--out", out]),
        Command("merge", lambda out: ["merge", *shards, "--out", out]),
    ]


def kill_after(argv, seconds):
    """Start argv, SIGKILL it after `seconds`; whether it was still running then."""
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        p.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return True


def one_case(rng, command, out):
    """Kill `command` once or twice, finish it, compare. Returns (title, problems, kills)."""
    kills = []
    times = [rng.uniform(0, command.seconds)]
    if rng.random() < 1 / 3:
        times.append(rng.uniform(0, command.seconds))
    for t in times:
        kills.append((round(t, 3), kill_after(command.args(out), t)))
    title = f"{command.name}, killed after {', then '.join(f'{t} s' for t, _ in kills)}"
    r = subprocess.run(command.args(out), capture_output=True)
    problems = []
    if r.returncode != 0:
        problems.append(f"the rerun failed ({r.returncode}): {r.stderr.decode()[-1500:]}")
        return title, problems, kills
    files, prov = snapshot(out)
    want, want_prov = command.expected
    for rel in sorted(set(files) - set(want)):
        problems.append(f"extra file {rel}")
    for rel in sorted(set(want) - set(files)):
        problems.append(f"missing file {rel}")
    for rel in sorted(set(files) & set(want)):
        if files[rel] != want[rel]:
            problems.append(f"{rel} differs from the uninterrupted run's")
    if prov != want_prov:
        problems.append("provenance.json differs (timings aside)")
    return title, problems, kills


def main():
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    rng = random.Random(seed)
    state = {}

    def case(i, folder, work):
        if not state:
            cohort, cmds = commands(work)
            for c in cmds:
                c.reference(work)
            state.update(cohort=cohort, before=tree(cohort), cmds=cmds,
                         hit={c.name: 0 for c in cmds}, ran={c.name: 0 for c in cmds})
        command = rng.choice(state["cmds"])
        title, problems, kills = one_case(rng, command, os.path.join(folder, "out"))
        state["ran"][command.name] += 1
        state["hit"][command.name] += any(k for _, k in kills)
        if i == cases - 1 and tree(state["cohort"]) != state["before"]:
            problems.append("the input cohort changed")
        return title, problems

    failed = cases_loop.run(cases, "kill-anywhere", case)
    if state:
        print("command      cases  killed while running  reference run (s)")
        for c in state["cmds"]:
            print(f"{c.name:<12} {state['ran'][c.name]:>5} {state['hit'][c.name]:>21}"
                  f" {c.seconds:>18.2f}")
    print(f"{cases - failed} of {cases} killed runs finished identical to an uninterrupted run")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
