#!/usr/bin/env python3
"""De-identification changes nothing conversion reads: each random series of
benches/dcm2niix-differential.py is converted as written and after `ancilla deid`, and the two
conversions must be identical (every voxel, sform and qform, .bval and .bvec).

PS3.15's profile removes and replaces attributes; a rule that reached a geometry, rescale,
diffusion or private scaling attribute (Philips' MR Scale Slope, say) would change the released
volumes silently. This checks every attribute the differential generator writes.

Usage: benches/deid-preserves-conversion.py [CASES] [SEED]   (default 100, 1)
Needs what the differential check needs (pydicom, numpy, nibabel; not dcm2niix) and a release
build (ANCILLA_BIN). A case that differs is kept as ./deid-preserves-N/.
"""
import glob
import importlib.util
import os
import random
import subprocess
import sys

import nibabel as nb
import numpy as np

import cases as cases_loop  # benches/cases.py, beside this script

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "differential", os.path.join(HERE, "dcm2niix-differential.py"))
differential = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(differential)
BIN = differential.BIN


def voxels(path):
    img = nb.load(path)
    v = np.asarray(img.dataobj)
    if v.dtype.names:  # RGB24
        v = np.stack([v[n] for n in v.dtype.names], -1)
    return v.astype(float), img.affine


def compare(plain, released):
    a = sorted(glob.glob(f"{plain}/**/*.nii", recursive=True))
    b = sorted(glob.glob(f"{released}/**/*.nii", recursive=True))
    if not a or len(a) != len(b):
        return [f"{len(a)} NIfTI files converted as written, {len(b)} after deid"]
    problems = []
    for x, y in zip(a, b):
        (vx, ax), (vy, ay) = voxels(x), voxels(y)
        name = os.path.basename(x)
        if vx.shape != vy.shape or not np.array_equal(vx, vy):
            problems.append(f"{name}: values differ")
        if np.max(np.abs(ax - ay)) > 1e-6:
            problems.append(f"{name}: affine differs")
        for ext in ("bval", "bvec"):
            fx, fy = x[:-3] + ext, y[:-3] + ext
            if os.path.exists(fx) != os.path.exists(fy) or (
                    os.path.exists(fx) and open(fx).read() != open(fy).read()):
                problems.append(f"{name}: .{ext} differs")
    return problems


def main():
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)

    def run(*args):
        return subprocess.run([BIN, "--quiet", *args], capture_output=True, text=True)

    def one_case(_i, case, work):
        key, subjects = f"{work}/key.bin", f"{work}/subjects.csv"
        if not os.path.exists(key):
            with open(key, "wb") as f:
                f.write(os.urandom(32))
            with open(subjects, "w") as f:
                f.write("patient_id,usubjid\nDIFF,TRIAL-001\n")  # the generator's PatientID
        p = differential.params(rng)
        os.makedirs(f"{case}/in")
        try:
            differential.write_series(rng, p, f"{case}/in")
        except (RuntimeError, ValueError):  # an encoder refused (pyjpegls on tiny frames)
            return None
        d = run("deid", f"{case}/in", "--out", f"{case}/released", "--key", key,
                "--subjects", subjects)
        run("convert", f"{case}/in", "--out", f"{case}/plain", "--uncompressed")
        run("convert", f"{case}/released", "--out", f"{case}/deid", "--uncompressed")
        problems = compare(f"{case}/plain", f"{case}/deid")
        return differential.describe(p), problems + ([d.stderr.strip()[-300:]] if problems else [])

    failed = cases_loop.run(cases, "deid-preserves", one_case)
    print(f"{cases} cases, {cases - failed} identical after deid, {failed} differ")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
