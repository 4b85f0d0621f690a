#!/usr/bin/env python3
"""Random NIfTI images and label maps written by nibabel in every header convention, through
`ancilla features`: the regions must land on the voxels nibabel says they cover.

Each case is one grid (5-13 voxels a side, spacing 0.5-3 mm, rotated or not, anywhere) and two
files on it, each stored its own way:

- the image holds each voxel's index as one whole number (i + 14 j + 196 k), as float32, or as
  int16 with a slope and an intercept (scl_slope, scl_inter);
- the label map: a block (label 1) and one voxel (label 2), as uint8, int16, uint16, int32 or
  float32, sometimes 4D with one volume;
- either file: axes permuted and flipped in storage (the affine follows), and its geometry in
  the sform and qform alike, in the sform alone (qform code 0), in the qform alone (sform code
  0; a flip then makes qfac -1), or in the sform with a qform 7 mm off (NIfTI: the sform wins).

Checked: label 1's mean intensity equals the mean of the stored-then-scaled indices nibabel puts
under it, and its voxel volume (IBSI morph_vol_approx) the voxel count times the voxel volume. So
the image and the mask, read through different conventions, must meet voxel for voxel.

Usage: benches/nifti-conventions.py [CASES] [SEED]   (default 200, 1)
Needs nibabel and numpy, and an ancilla build (ANCILLA_BIN, default target/release/ancilla).
A case that differs is kept as ./nifti-conventions-N/.
"""
import os
import subprocess
import sys

import nibabel as nib
import numpy as np

import cases as cases_loop  # benches/cases.py, beside this script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ANCILLA_BIN", os.path.join(ROOT, "target/release/ancilla"))
FORMS = ["both", "sform", "qform", "sform_over_qform"]


def stored(rng, data, affine, form, permute, flip, dtype, four_d=False):
    """`data` on `affine` as a NIfTI image stored another way: axes permuted and flipped (the
    affine following, so every voxel keeps its place in the world), geometry in `form`."""
    order = list(rng.permutation(3)) if permute else [0, 1, 2]
    d, a = np.transpose(data, order), affine[:, order + [3]].copy()
    for axis in range(3):
        if flip and rng.random() < 0.5:
            d = np.flip(d, axis=axis)
            a[:3, 3] += a[:3, axis] * (d.shape[axis] - 1)
            a[:3, axis] = -a[:3, axis]
    if four_d:
        d = d[..., None]
    img = nib.Nifti1Image(np.ascontiguousarray(d).astype(dtype), None)
    if form == "both":
        img.set_sform(a, 1)
        img.set_qform(a, 1)
    elif form == "sform":
        img.set_sform(a, 2)
        img.set_qform(None, 0)
    elif form == "qform":
        img.set_qform(a, 1)
        img.set_sform(None, 0)
    else:
        img.set_sform(a, 2)
        off = a.copy()
        off[:3, 3] += 7.0
        img.set_qform(off, 1)
    return img


def main():
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 1)

    def one_case(_i, case, _work):
        shape = tuple(int(x) for x in rng.integers(5, 14, size=3))
        affine = np.eye(4)
        turn = cases_loop.rotation(rng) if rng.random() < 0.7 else np.eye(3)
        affine[:3, :3] = turn * rng.uniform(0.5, 3.0, size=3)
        affine[:3, 3] = rng.uniform(-50, 50, size=3)
        i, j, k = np.indices(shape)
        code = (i + 14 * j + 196 * k).astype(np.float64)
        labels = np.zeros(shape, np.uint8)
        c, r = [s // 2 for s in shape], int(rng.integers(1, 4))
        labels[max(0, c[0] - r):c[0] + r, max(0, c[1] - r):c[1] + r,
               max(0, c[2] - r):c[2] + r] = 1
        labels[tuple(int(rng.integers(s)) for s in shape)] = 2
        scaled = rng.random() < 0.5
        slope, inter = ((float(rng.choice([0.5, 2.0, 0.25])), float(rng.choice([0.0, 3.0, -1024.0])))
                        if scaled else (1.0, 0.0))
        want_mean = float((code[labels == 1] * slope + inter).mean())
        want_volume = int((labels == 1).sum()) * abs(np.linalg.det(affine[:3, :3]))
        image_way = (str(rng.choice(FORMS)), rng.random() < 0.5, rng.random() < 0.7)
        mask_way = (str(rng.choice(FORMS)), rng.random() < 0.5, rng.random() < 0.7)
        mask_type = rng.choice([np.uint8, np.int16, np.uint16, np.int32, np.float32])
        image = stored(rng, code, affine, *image_way, np.int16 if scaled else np.float32)
        if scaled:
            image.header.set_slope_inter(slope, inter)
        image.to_filename(f"{case}/image.nii.gz")
        four_d = rng.random() < 0.2
        stored(rng, labels, affine, *mask_way, mask_type, four_d).to_filename(f"{case}/mask.nii.gz")
        title = (f"{shape}, image {image_way} {'int16 scaled' if scaled else 'float32'}, "
                 f"mask {mask_way} {mask_type.__name__}{' 4D' if four_d else ''}")
        r = subprocess.run([BIN, "--quiet", "features", "--image", f"{case}/image.nii.gz",
                            "--mask", f"{case}/mask.nii.gz", "--labels", "1=block,2=voxel"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return title, [f"exit {r.returncode}: {r.stderr.strip()[-300:]}"]
        got = {}
        for line in r.stdout.splitlines()[1:]:
            f = line.split(",")
            if f[4] == "block" and f[6]:
                got[f[5]] = float(f[6])
        problems = []
        mean, volume = got.get("stat_mean"), got.get("morph_vol_approx")
        if mean is None or abs(mean - want_mean) > 1e-6 * max(1.0, abs(want_mean)):
            problems.append(f"mean intensity {mean}, nibabel's voxels give {want_mean}")
        if volume is None or abs(volume - want_volume) > 1e-6 * want_volume:
            problems.append(f"voxel volume {volume}, nibabel's voxels give {want_volume}")
        return title, problems

    failed = cases_loop.run(cases, "nifti-conventions", one_case)
    print(f"{cases - failed} of {cases} image and mask pairs meet voxel for voxel as nibabel "
          f"places them")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
