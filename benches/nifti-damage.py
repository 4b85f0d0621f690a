#!/usr/bin/env python3
"""Damage NIfTI images and label maps and run `ancilla features` on them: bad input is refused
with a reason, never a panic, a hang or an internal error (the NIfTI-1 header, gzip and the voxel
data as any tool may leave them).

Each case takes the converted T2 or SUVbw PET of a one-subject phantom, or its label map, and
flips 1 to 8 bits anywhere, overwrites 1 to 4 bytes of the 352-byte header (dimensions, datatype,
scaling, vox_offset, qform/sform), or cuts the file short; it is written gzipped or not, then
measured against its undamaged partner (texture included). Passed: exit code 0, 1 or 2 with no
"internal error" and no panic, within 60 s.

Usage: benches/nifti-damage.py [CASES] [SEED]   (default 300, 1)
Needs a release build (ANCILLA_BIN, default target/release/ancilla); nothing else. A failing
case copies its damaged file to ./nifti-damage-N.nii[.gz].
"""
import glob
import gzip
import os
import random
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ANCILLA_BIN", os.path.join(ROOT, "target/release/ancilla"))


def run(args, timeout=60):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def one(pattern):
    found = sorted(glob.glob(pattern, recursive=True))
    if not found:
        sys.exit(f"nifti-damage: no file matches {pattern}")
    return found[0]


def damage(raw, rng):
    raw = bytearray(raw)
    kind = rng.choice(["bits", "header", "cut"])
    if kind == "bits":
        for _ in range(rng.randint(1, 8)):
            p = rng.randrange(len(raw))
            raw[p] ^= 1 << rng.randrange(8)
    elif kind == "header":
        for _ in range(rng.randint(1, 4)):
            raw[rng.randrange(352)] = rng.randrange(256)
    else:
        raw = raw[: rng.randrange(len(raw))]
    return kind, bytes(raw)


def main():
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="nifti-damage-")
    try:
        cohort = os.path.join(work, "cohort")
        run([BIN, "--quiet", "phantom", "--out", cohort, "--subjects", "1", "--seed", str(seed)])
        nifti = os.path.join(work, "nifti")
        run([BIN, "--quiet", "convert", os.path.join(cohort, "site-export"), "--out", nifti])
        pairs = {
            "t2": (one(f"{nifti}/**/*_t2.nii.gz"), one(f"{cohort}/masks/*/mr_labels.nii.gz")),
            "pet": (
                one(f"{nifti}/**/*_suvbw.nii.gz"),
                one(f"{cohort}/masks/*/pet_labels.nii.gz"),
            ),
        }
        # The undamaged pairs measure: a failure below is the damage's.
        for name, (image, mask) in pairs.items():
            r = run([BIN, "--quiet", "features", "--image", image, "--mask", mask,
                     "--labels", "1=tumor,2=kidney"])
            if r.returncode != 0:
                sys.exit(f"nifti-damage: the undamaged {name} pair fails: {r.stderr[-400:]}")
        raws = {p: gzip.open(p).read() for pair in pairs.values() for p in pair}
        bad = 0
        kinds = {}
        codes = {}
        for n in range(cases):
            name = rng.choice(sorted(pairs))
            image, mask = pairs[name]
            target = rng.choice(["image", "mask"])
            kind, raw = damage(raws[image if target == "image" else mask], rng)
            zipped = rng.random() < 0.5
            path = os.path.join(work, f"damaged-{n}.nii" + (".gz" if zipped else ""))
            with open(path, "wb") as f:
                f.write(gzip.compress(raw, 1) if zipped else raw)
            args = [BIN, "--quiet", "features",
                    "--image", path if target == "image" else image,
                    "--mask", path if target == "mask" else mask,
                    "--labels", "1=tumor,2=kidney", "--texture-bin-width", "25",
                    "--out", os.path.join(work, "features.csv")]
            key = f"{name} {target} {kind}"
            kinds[key] = kinds.get(key, 0) + 1
            try:
                r = run(args)
                codes[r.returncode] = codes.get(r.returncode, 0) + 1
                failed = (r.returncode not in (0, 1, 2)
                          or "internal error" in r.stderr.lower()
                          or "panick" in r.stderr.lower())
                why = f"exit {r.returncode}: {r.stderr.strip()[-300:]}"
            except subprocess.TimeoutExpired:
                failed, why = True, "no answer within 60 s"
            if failed:
                bad += 1
                keep = f"nifti-damage-{n}.nii" + (".gz" if zipped else "")
                shutil.copy(path, keep)
                print(f"case {n} ({key}): {why} (kept as {keep})")
            os.remove(path)
        print("; ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        print("exit codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(codes.items())))
        print(f"{cases} damaged NIfTI files through ancilla features (seed {seed}): "
              f"{bad} panics, hangs or internal errors")
        sys.exit(1 if bad else 0)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
