#!/usr/bin/env python3
"""RT Structure Sets drawn by rt-utils from random masks, through `ancilla features`: each ROI
must hold exactly the voxels of its mask.

rt-utils (Qurit, https://github.com/qurit/rt-utils; what TotalSegmentator and many research
tools export ROIs through) turns a mask into an RTSTRUCT with OpenCV's findContours: on each
slice, CLOSED_PLANAR contours through the centres of the mask's boundary voxels, around holes
too, a lone voxel as a one-point contour and a line of voxels as a two-point one. Its own reader
(fillPoly) gives the mask back. Each case:

- a classic MR series written with pydicom: square images of 6-30 voxels a side, square pixels
  of 0.5-4 mm (see `write_series`: rt-utils swaps PixelSpacing's two values, and Rows and
  Columns), slices
  1-5 mm apart, axial or turned (any rotation, or near an axis), files in either slice order;
  stored value = the voxel's index (k·rows·columns + row·columns + column, k from the series'
  first position along the normal), so a region's voxel count, mean and variance say which
  voxels it holds;
- one to three ROIs: ellipsoids (some of one voxel, or one slice thick), with holes, salt noise,
  thin lines, reaching the grid's edge;
- rt-utils draws them; the masks rt-utils reads back must be the ones it was given (a case
  where they are not is counted and skipped: the truth would be unclear). A set where no ROI
  has voxels on two adjacent slices is counted: rt-utils names the series the set was drawn on
  (RTReferencedSeriesSequence), so ancilla holds each plane to its own slice (without that
  reference it would read such a set as contoured on a coarser grid, and fill between planes);
- `ancilla features --image SERIES --mask RTSTRUCT`: for every ROI, morph_vol_approx / voxel
  volume must be the mask's voxel count, and stat_mean and stat_var the mean and variance of the
  mask's stored values (relative 1e-9); an ROI of no voxel must be said to mark none.

Usage: benches/rt-utils-differential.py [CASES] [SEED]   (default 100, 1)
Needs numpy, pydicom and rt-utils (pip install rt-utils: it brings opencv-python; CI installs
opencv-python-headless and rt-utils --no-deps, which needs no libGL), and an
ancilla build (ANCILLA_BIN, default target/release/ancilla). A case that differs is kept as
./rt-utils-differential-N/.
"""
import contextlib
import io
import logging
import os
import subprocess
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

import cases as cases_loop  # benches/cases.py, beside this script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ANCILLA_BIN", os.path.join(ROOT, "target/release/ancilla"))


def orientation(rng):
    """Row and column direction cosines (LPS): axial, or any rotation, or near an axis."""
    choice = rng.random()
    if choice < 0.3:
        turn = np.eye(3)
    elif choice < 0.65:
        turn = cases_loop.rotation(rng)
    else:
        turn = np.zeros((3, 3))
        for row, col in enumerate(rng.permutation(3)):
            turn[row, col] = rng.choice([-1.0, 1.0])
    return turn[:, 0], turn[:, 1]


def write_series(rng, folder):
    """A random classic MR series in `folder`; returns (shape (slices, rows, columns), voxel
    volume mm³)."""
    # Square images: rt-utils sizes its masks (Columns, Rows, slices) but OpenCV reads a slice's
    # first axis as its rows, so it draws a mask of a non-square image transposed.
    rows, slices = (int(x) for x in rng.integers(6, 31, 2))
    cols = rows
    # Square pixels: rt-utils takes PixelSpacing[0] (between rows) as the step along a row
    # (its get_pixel_to_patient_transformation_matrix), so its contours of a mask on
    # rectangular pixels are not where the mask is (a fault of rt-utils; ancilla reads
    # PixelSpacing as PS3.3 C.7.6.2.1.1 says).
    spacing = [float(np.round(rng.uniform(0.5, 4.0), 3))] * 2
    gap = float(np.round(rng.uniform(1.0, 5.0), 3))
    row_dir, col_dir = orientation(rng)
    normal = np.cross(row_dir, col_dir)
    origin = rng.uniform(-150, 150, 3)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    descending = rng.random() < 0.5
    os.makedirs(folder)
    r, c = np.mgrid[0:rows, 0:cols]
    for k in range(slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientID, ds.PatientName, ds.PatientSex, ds.PatientBirthDate = "RT", "RT^Case", "O", ""
        ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "", ""
        ds.StudyDate = ds.SeriesDate = "20240102"
        ds.StudyTime = ds.SeriesTime = "100000"
        ds.Modality, ds.SeriesNumber = "MR", 2
        ds.InstanceNumber = slices - k if descending else k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NORM"]
        ds.ScanningSequence, ds.SequenceVariant, ds.MRAcquisitionType = "SE", "NONE", "2D"
        ds.EchoTime, ds.RepetitionTime = 90, 4000
        ds.ImageOrientationPatient = [float(f"{v:.10f}") for v in (*row_dir, *col_dir)]
        ds.ImagePositionPatient = [float(f"{v:.6f}") for v in origin + normal * gap * k]
        ds.PixelSpacing = spacing
        ds.SliceThickness = ds.SpacingBetweenSlices = gap
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = (k * rows * cols + r * cols + c).astype(np.uint16).tobytes()
        ds.save_as(f"{folder}/{ds.InstanceNumber:03d}.dcm", enforce_file_format=True)
    return (slices, rows, cols), spacing[0] * spacing[1] * gap


def random_mask(rng, shape):
    """A random region on a (slices, rows, columns) grid, and what it is."""
    k, j, i = np.indices(shape)
    mask = np.zeros(shape, bool)
    kinds = []
    for _ in range(int(rng.integers(1, 4))):
        centre = [rng.uniform(-1, n) for n in shape]
        radii = rng.uniform(0.3, 0.6 * max(shape), 3)
        if rng.random() < 0.2:
            radii[0] = 0.4  # one slice thick
        if rng.random() < 0.15:
            radii[:] = 0.4  # one voxel
        blob = sum(((x - c0) / r0) ** 2 for x, c0, r0 in zip((k, j, i), centre, radii)) <= 1
        if rng.random() < 0.3:
            blob &= ~(sum(((x - c0) / (0.4 * r0)) ** 2
                          for x, c0, r0 in zip((k, j, i), centre, radii)) <= 1)
            kinds.append("hollow ellipsoid")
        else:
            kinds.append("ellipsoid")
        mask |= blob
    if rng.random() < 0.2:
        mask |= rng.random(shape) < 0.04
        kinds.append("salt")
    if rng.random() < 0.2:
        row = int(rng.integers(shape[1]))
        mask[int(rng.integers(shape[0])), row, : int(rng.integers(1, shape[2] + 1))] = True
        kinds.append("line")
    return mask, "+".join(kinds)


def features(series, rtstruct):
    """ancilla's rows {(roi, feature): value} and its stderr."""
    r = subprocess.run([BIN, "features", "--image", series, "--mask", rtstruct],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()[-300:]
    rows = {}
    for line in r.stdout.splitlines()[1:]:
        cells = line.split(",")
        if cells[6]:
            rows[(cells[4], cells[5])] = float(cells[6])
    return rows, r.stderr


def roi_problems(rows, masks, values, voxel):
    """Where ancilla's ROIs (`rows` of `features`) do not hold their masks' voxels: the count
    (morph_vol_approx / `voxel`), and the mean and variance of the position-coding `values`
    (relative 1e-9). `masks` and `values` share one layout."""
    problems = []
    for name, m in masks.items():
        want = values[m]
        count = rows.get((name, "morph_vol_approx"), 0.0) / voxel
        if abs(count - len(want)) > 1e-6 * len(want):
            problems.append(f"{name}: {count:.3f} voxels, the mask has {len(want)}")
            continue
        mean, var = rows[(name, "stat_mean")], rows[(name, "stat_var")]
        if abs(mean - want.mean()) > 1e-9 * max(1.0, want.mean()) or \
                abs(var - want.var()) > 1e-9 * max(1.0, want.var()):
            problems.append(f"{name}: mean {mean}, var {var}: the mask's are "
                            f"{want.mean()}, {want.var()} (other voxels)")
    return problems


def main():
    from rt_utils import RTStructBuilder
    logging.disable(logging.WARNING)
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    unclear = [0]
    rois_compared = [0]
    sparse = [0]
    empty = [0]

    def one_case(i, case, _work):
        shape, voxel = write_series(rng, f"{case}/series")
        builder = RTStructBuilder.create_new(dicom_series_path=f"{case}/series")
        images = builder.series_data  # rt-utils' slice order: its masks are (rows, columns, slices)
        values = np.stack([ds.pixel_array for ds in images], axis=-1).astype(np.float64)
        masks, titles = {}, []
        for n in range(int(rng.integers(1, 4))):
            m, what = random_mask(rng, shape)
            # From (slices in the series' own order, rows, columns) to rt-utils' layout: its
            # slice s is the series' slice values[0, 0, s] // (rows · columns).
            order = (values[0, 0, :] // (shape[1] * shape[2])).astype(int)
            masks[f"roi{n}"] = np.transpose(m[order], (1, 2, 0))
            titles.append(what)
        title = f"{shape} {' / '.join(titles)}"
        with contextlib.redirect_stdout(io.StringIO()):
            for name, m in masks.items():
                if m.any():
                    builder.add_roi(mask=m, name=name)
            builder.save(f"{case}/rtstruct.dcm")
            back = RTStructBuilder.create_from(dicom_series_path=f"{case}/series",
                                               rt_struct_path=f"{case}/rtstruct.dcm")
        drawn = {n: m for n, m in masks.items() if m.any()}
        if not drawn:
            empty[0] += 1
            return None  # rt-utils writes no ROI: nothing to compare
        if any(not np.array_equal(back.get_roi_mask_by_name(n), m) for n, m in drawn.items()):
            unclear[0] += 1
            return None
        if not any(np.diff(np.flatnonzero(m.any(axis=(0, 1)))).min(initial=2) == 1
                   for m in drawn.values()):
            # No ROI of the set has voxels on two adjacent slices: had the set not named the
            # series it was drawn on, ancilla would take it as contoured on a coarser grid and fill
            # between its planes (`rtstruct::plane_spacing`). Counted: these are the cases that
            # show the series reference is read.
            sparse[0] += 1
        rows, err = features(f"{case}/series", f"{case}/rtstruct.dcm")
        if rows is None:
            return title, [f"ancilla features failed: {err}"]
        rois_compared[0] += len(drawn)
        return title, roi_problems(rows, drawn, values, voxel)

    failed = cases_loop.run(cases, "rt-utils-differential", one_case)
    compared = cases - unclear[0] - empty[0]
    print(f"{compared - failed} of {compared} RTSTRUCTs drawn by rt-utils: every ROI "
          f"({rois_compared[0]}) holds its mask's voxels ({sparse[0]} sets where no ROI has "
          f"voxels on two adjacent slices; skipped: {unclear[0]} where rt-utils did not read its "
          f"own masks back, {empty[0]} of empty masks)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
