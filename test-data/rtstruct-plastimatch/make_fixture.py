"""Regenerates `rtss.dcm` here (run once; tests never call Python): an RTSTRUCT drawn by
plastimatch 1.9.4 (Debian's `plastimatch`) from two masks on the MR series of
`../rtstruct-rt-utils/mr` (6 axial slices of 16 x 16, 0.8 mm pixels, 2 mm apart; stored value
256*k + 16*row + column, k the slice from the lowest).

plastimatch traces each mask slice by marching squares: CLOSED_PLANAR contours through the
midpoints between a region's voxel centres and its neighbours'. Its RTSTRUCT names the series it
was drawn on (RTReferencedSeriesSequence), and holds planes only where a mask has voxels. Here
no structure has voxels on two adjacent slices: `pair` two 3 x 3 squares on slices 1 and 4,
`spot` a 2 x 2 square on slice 4. Read as a set contoured on a coarser grid (every third slice),
its planes would be filled between; drawn on this series, each plane holds its own slice.

The script prints each ROI's voxel count and the sum of its voxels' values, which README.md and
the test state; plastimatch reads every mask back unchanged.
Usage: python make_fixture.py (needs plastimatch, nibabel, numpy, pydicom 3).
"""
import glob
import os
import shutil
import subprocess
import tempfile

import nibabel as nib
import numpy as np
import pydicom

N, SLICES = 16, 6
SERIES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rtstruct-rt-utils", "mr")
# voxel (column, row, k) -> RAS: the series' LPS geometry (IPP -6, -6, 10 + 2k; 0.8 mm pixels)
AFFINE = np.array([[-0.8, 0, 0, 6.0], [0, -0.8, 0, 6.0], [0, 0, 2.0, 10.0], [0, 0, 0, 1]])
masks = {name: np.zeros((SLICES, N, N), bool) for name in ("pair", "spot")}  # (k, row, column)
masks["pair"][1, 4:7, 4:7] = True
masks["pair"][4, 9:12, 8:11] = True
masks["spot"][4, 10:12, 3:5] = True
k, r, c = np.indices((SLICES, N, N))
values = 256 * k + 16 * r + c
with tempfile.TemporaryDirectory() as work:
    os.makedirs(f"{work}/masks")
    for name, m in masks.items():
        nib.save(nib.Nifti1Image(np.transpose(m, (2, 1, 0)).astype(np.uint8), AFFINE),
                 f"{work}/masks/{name}.nii.gz")
    subprocess.run(["plastimatch", "convert", "--input-prefix", f"{work}/masks",
                    "--referenced-ct", SERIES, "--output-dicom", f"{work}/out"], check=True)
    (rtss,) = glob.glob(f"{work}/out/rtss_*.dcm")
    subprocess.run(["plastimatch", "convert", "--input", rtss, "--referenced-ct", SERIES,
                    "--output-prefix", f"{work}/back", "--prefix-format", "nii.gz"], check=True)
    for name, m in masks.items():
        back = np.asarray(nib.load(f"{work}/back/{name}.nii.gz").dataobj) > 0
        assert np.array_equal(np.transpose(back, (2, 1, 0)), m), name
        print(f"{name}: {int(m.sum())} voxels, values summing to {int(values[m].sum())}")
    shutil.copy(rtss, "rtss.dcm")
names = [s.ROIName for s in pydicom.dcmread("rtss.dcm").StructureSetROISequence]
assert sorted(names) == sorted(masks), names
