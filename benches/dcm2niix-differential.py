#!/usr/bin/env python3
"""Random series, converted by `ancilla convert` and by dcm2niix, compared voxel for voxel.

A differential check of series → volume (issue 2, points 3-4) on series no one wrote a test for.
Each case is one series written with pydicom from random parameters:

- geometry: axial, sagittal, coronal (each possibly flipped) or a random oblique orientation;
  3-24 rows and columns, unequal pixel spacings, 1-13 slices in ascending or descending order
  along the normal, file names and InstanceNumbers shuffled;
- pixels: 8, 16 (all or 12 bits stored, signed or not) and 32-bit samples;
- rescale: none, one slope and intercept, or a slope that varies per slice;
- storage: classic single-frame (MR, CT, PT) or enhanced multi-frame MR, CT or PET (per-frame
  positions);
  classic series with 2-3 images at each position (echoes, or time points) or 4 (two echoes, or
  magnitude and phase, at two time points each); diffusion series of several b-values, or of one
  (directional or trace-weighted); three-plane localizers; MONOCHROME1 and
  RGB (interleaved or by plane) besides MONOCHROME2;
- transfer syntax: explicit or implicit VR little endian, explicit big endian, RLE, JPEG-LS
  lossless (with pyjpegls); not deflate, which dcm2niix does not read.

dcm2niix reads a compressed series decompressed by pydicom (see uncompressed_copy); ancilla the
series as written. Both write uncompressed NIfTI. Every dcm2niix volume must have an ancilla
volume of the same shape with the same values (after scl_slope and scl_inter; to 1e-3, or to
1e-4 of the largest value, 1e-3 for Philips: see main), sform and qform (to 1e-3), and every ancilla volume
must have a dcm2niix volume of its shape; beside each, the same .bval and .bvec, and the same
sidecar value for every key both write (those of SIDECAR_KEYS both must write), but the few
NOT_COMPARED lists with the reason.

Not generated, where ancilla departs from dcm2niix by design or dcm2niix is wrong: gantry tilt
and missing slices (refused by ancilla); an enhanced MR file of one slice and several echoes
or b-values (dcm2niix stacks them as slices); a Philips MR series whose rescale differs per file
(dcm2niix's values are then neither the display nor the floating-point ones); a three-plane
series whose InstanceNumbers do not follow the slice positions (dcm2niix stacks each plane in
InstanceNumber order, its slices then out of place), and likewise a classic diffusion series.
Also generated: Philips MR with its private MR Scale Slope (values are Philips' floating-point
values, dcm2niix's default) and three-plane localizers (one series, three orientations).

Usage: benches/dcm2niix-differential.py [CASES] [SEED]   (default 200, 1)
Needs pydicom, numpy, nibabel, dcm2niix (pip install pydicom numpy nibabel dcm2niix pyjpegls) and
a release build (ANCILLA_BIN, default target/release/ancilla; DCM2NIIX, default dcm2niix).
A case that differs is kept as ./differential-N/ (its DICOM files and both outputs).
"""
import glob
import json
import math
import os
import random
import shutil
import subprocess
import sys
import warnings

import nibabel as nb
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

import cases as cases_loop  # benches/cases.py, beside this script

warnings.simplefilter("ignore")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ANCILLA_BIN", os.path.join(ROOT, "target/release/ancilla"))
DCM2NIIX = os.environ.get("DCM2NIIX", "dcm2niix")
CLASSES = {"MR": "1.2.840.10008.5.1.4.1.1.4", "CT": "1.2.840.10008.5.1.4.1.1.2",
           "PT": "1.2.840.10008.5.1.4.1.1.128", "EMR": "1.2.840.10008.5.1.4.1.1.4.1"}
ENHANCED = {"MR": "1.2.840.10008.5.1.4.1.1.4.1", "CT": "1.2.840.10008.5.1.4.1.1.2.1",
            "PT": "1.2.840.10008.5.1.4.1.1.130"}


def ds_str(x):
    """A decimal string of at most 16 characters."""
    s = f"{x:.6f}".rstrip("0").rstrip(".")
    return s if len(s) <= 16 else f"{x:.8g}"


def orientation(rng):
    kind = rng.choice(["axial", "sagittal", "coronal", "oblique", "oblique"])
    if kind == "oblique":
        q = np.array([rng.gauss(0, 1) for _ in range(4)])
        a, b, c, d = q / np.linalg.norm(q)
        m = np.array([[a*a+b*b-c*c-d*d, 2*(b*c-a*d), 2*(b*d+a*c)],
                      [2*(b*c+a*d), a*a-b*b+c*c-d*d, 2*(c*d-a*b)],
                      [2*(b*d-a*c), 2*(c*d+a*b), a*a-b*b-c*c+d*d]])
        row, col = m[:, 0], m[:, 1]
        # as a scanner writes them: six decimals, each vector renormalised
        row = np.round(row / np.linalg.norm(row), 6)
        col = np.round(col / np.linalg.norm(col), 6)
    else:
        row, col = {"axial": ([1, 0, 0], [0, 1, 0]), "sagittal": ([0, 1, 0], [0, 0, -1]),
                    "coronal": ([1, 0, 0], [0, 0, -1])}[kind]
        row, col = np.array(row, float), np.array(col, float)
        if rng.random() < 0.3:
            row = -row
        if rng.random() < 0.3:
            col = -col
    return kind, row, col


def unit(rng):
    v = np.array([rng.gauss(0, 1) for _ in range(3)])
    return [round(float(x), 6) for x in v / np.linalg.norm(v)]


def diffusion_item(p, v):
    """The MR Diffusion item of image set v (b-value, directionality, direction)."""
    item = Dataset()
    b = p["bvalues"][v]
    item.DiffusionBValue = float(b)
    isotropic = p.get("isotropic", False)  # a trace-weighted image: b-value, no direction
    item.DiffusionDirectionality = ("ISOTROPIC" if isotropic else "DIRECTIONAL") if b else "NONE"
    if b and not isotropic:
        g = Dataset()
        g.DiffusionGradientOrientation = p["directions"][v]
        item.DiffusionGradientDirectionSequence = [g]
    return item


def params(rng):
    p = {}
    p["storage"] = rng.choice(["MR", "CT", "PT", "EMR"])
    p["rows"], p["cols"] = rng.randint(3, 24), rng.randint(3, 24)
    p["slices"] = rng.choice([1, 2, 3, 4, 5, 8, 13])
    p["kind"], p["row"], p["col"] = orientation(rng)
    p["spacing"] = (round(rng.uniform(0.2, 4), 4), round(rng.uniform(0.2, 4), 4))
    p["step"] = round(rng.uniform(0.5, 6), 4) * rng.choice([1, -1])
    p["origin"] = [round(rng.uniform(-200, 200), 3) for _ in range(3)]
    p["bits"] = rng.choice([(8, 8, 0), (16, 16, 0), (16, 16, 1), (16, 12, 0), (16, 12, 1),
                            (32, 32, 0), (32, 32, 1)])
    p["rescale"] = rng.choice(["none", "same", "varies"])
    if p["storage"] == "CT" and p["rescale"] == "none":
        p["rescale"] = "same"
    syntaxes = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]  # dcm2niix reads no deflate
    if p["bits"][0] <= 16:  # pydicom's RLE encoder takes 8 and 16 bits
        syntaxes += [ExplicitVRBigEndian, JPEGLSLossless, RLELossless]
    p["syntax"] = rng.choice(syntaxes)
    p["instance_order"] = rng.choice(["position", "reverse", "random"])
    p["photometric"] = "MONOCHROME2"
    p["repeats"] = rng.choice([1, 1, 1, 2, 3])
    p["repeat_kind"] = rng.choice(["echo", "time"]) if p["repeats"] > 1 else None
    if p["storage"] == "MR" and rng.random() < 0.2:
        # two echoes, or magnitude and phase images, each at two time points: a 4D file each
        p["repeats"], p["repeat_kind"] = 4, rng.choice(["echo×time", "phase×time"])
    if p["storage"] in ("MR", "EMR") and rng.random() < 0.2:
        # diffusion: b = 0, then b-values with random directions (one b-value repeated or not)
        p["repeat_kind"] = "dwi"
        p["bvalues"] = [0] + rng.choice([[1000, 1000, 1000], [500, 1000], [800] * 6])
        if rng.random() < 0.4:  # acquired in another order: b = 0 last (as Philips), or mixed
            p["bvalues"] = rng.choice([p["bvalues"][1:] + [0], [1000, 0, 500], [500, 0, 1000]])
        # dcm2niix takes a classic DWI's volume order from InstanceNumber (no volume number):
        # shuffled across positions, its slices are out of place
        if p["instance_order"] == "random":
            p["instance_order"] = "position"
        if rng.random() < 0.25:  # one b-value exported as a series of its own
            p["bvalues"] = [rng.choice([0, 800, 1000])]
            p["isotropic"] = rng.random() < 0.5
        p["repeats"] = len(p["bvalues"])
        p["directions"] = [unit(rng) for _ in p["bvalues"]]
    p["frame_order"] = rng.choice(["instance", "shuffled"])
    # an enhanced file is MR, or (a third of them) CT or PET, with time points if repeated
    p["emod"] = "MR"
    if p["storage"] == "EMR" and rng.random() < 0.33:
        p["emod"] = rng.choice(["CT", "PT"])
        if p["repeat_kind"] not in (None, "time"):
            p["repeats"], p["repeat_kind"] = 1, None
    if p["storage"] == "EMR" and p["slices"] == 1 and p["repeat_kind"] in ("echo", "dwi"):
        # dcm2niix stacks such echoes or b-values as slices 1 slice-thickness apart ("Unable to
        # determine slice direction"); ancilla writes one volume per echo, or a 4D file of
        # one-slice volumes, as dcm2niix does for classic MR
        p["slices"] = 2
    p["vendor"], p["planes"] = "SYNTHETIC", 1
    if p["storage"] == "MR" and rng.random() < 0.25:
        p["vendor"] = "Philips"  # private MR Scale Slope: dcm2niix's floating-point values
        p["philips_ss"] = rng.choice([0.0123, 0.5, 2.75, 1e-3])
        # one rescale for the series: when it varies per file, dcm2niix's values are neither the
        # display nor the floating-point ones (its intercept is off by a constant); ancilla's are
        # each file's floating-point values
        p["rescale"] = "same"
    if p["storage"] == "MR" and p["repeats"] == 1 and p["repeat_kind"] is None \
            and rng.random() < 0.15:
        p["planes"] = 3  # a three-plane localizer: one series, three orientations
        # dcm2niix stacks each orientation's images in InstanceNumber order: shuffled, its
        # slices are out of place (ancilla's are in place)
        if p["instance_order"] == "random":
            p["instance_order"] = "position"
    if p["storage"] != "EMR" and p["repeat_kind"] != "phase×time":
        colour = rng.random()
        if colour < 0.15:
            p["photometric"], p["bits"], p["rescale"] = "RGB", (8, 8, 0), "none"
            p["vendor"] = "SYNTHETIC"
            p["planar"] = rng.choice([0, 1])
            if p["syntax"] == JPEGLSLossless:
                p["syntax"] = ExplicitVRLittleEndian
        elif colour < 0.3 and p["bits"][2] == 0:
            p["photometric"] = "MONOCHROME1"
    return p


def pixel_values(rng, p, n):
    ba, bs, pr = p["bits"]
    lo, hi = (-(1 << (bs - 1)), (1 << (bs - 1)) - 1) if pr else (0, (1 << bs) - 1)
    if ba == 32:  # keep the scaled values inside float32's exact integers
        lo, hi = max(lo, -(1 << 20)), min(hi, 1 << 20)
    dtype = {8: np.uint8, 16: np.int16 if pr else np.uint16, 32: np.int32 if pr else np.uint32}[ba]
    nr = np.random.default_rng(rng.randrange(1 << 30))
    shape = (n, p["rows"], p["cols"]) + ((3,) if p["photometric"] == "RGB" else ())
    return nr.integers(lo, hi + 1, size=shape).astype(dtype)


def rescales(rng, p):
    n = p["slices"]
    if p["rescale"] == "none":
        return [None] * n
    if p["rescale"] == "same":
        s = (rng.choice([1, 0.5, 2, 0.25, 3]), rng.choice([0, -1024, 10, -3]))
        return [s] * n
    return [(rng.choice([0.5, 1, 2, 4, 0.125]), rng.choice([0, -8, 16])) for _ in range(n)]


def base(p, modality, sop_class, sop_uid, study, series, frame_of_ref):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.FrameOfReferenceUID = frame_of_ref
    ds.Modality = modality
    ds.PatientID, ds.PatientName = "DIFF", "Differential^Case"
    ds.StudyDate, ds.SeriesDate, ds.StudyTime, ds.SeriesTime = "20000101", "20000101", "120000", "120000"
    ds.AcquisitionTime = "120000"
    ds.SeriesNumber = 7
    ds.SeriesDescription = "differential"
    ds.Manufacturer = "Philips Medical Systems" if p["vendor"] == "Philips" else "SYNTHETIC"
    if modality == "MR":
        ds.ScanningSequence, ds.SequenceVariant = "SE", "NONE"
        ds.EchoTime, ds.RepetitionTime, ds.MagneticFieldStrength = "80", "3000", "3"
    if modality == "PT":
        ds.Units, ds.DecayCorrection, ds.CorrectedImage = "BQML", "START", ["ATTN", "DECY"]
    return ds


def set_pixels(ds, arr, p):
    ba, bs, pr = p["bits"]
    ds.SamplesPerPixel = 3 if p["photometric"] == "RGB" else 1
    ds.PhotometricInterpretation = p["photometric"]
    if p["photometric"] == "RGB":
        ds.PlanarConfiguration = p["planar"]
        if p["planar"] == 1 and p["syntax"] != RLELossless:  # colour by plane
            arr = np.ascontiguousarray(np.moveaxis(arr, -1, 1))
    ds.Rows, ds.Columns = p["rows"], p["cols"]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = ba, bs, bs - 1, pr
    if arr.shape[0] > 1 or p["storage"] == "EMR":
        ds.NumberOfFrames = arr.shape[0]
    data = arr if arr.shape[0] > 1 or p["storage"] == "EMR" else arr[0]
    syntax = p["syntax"]
    if syntax in (RLELossless, JPEGLSLossless):
        ds.PixelData = np.ascontiguousarray(data).tobytes()
        ds["PixelData"].VR = "OB" if ba == 8 else "OW"
        ds.compress(syntax, data, encoding_plugin="pyjpegls" if syntax == JPEGLSLossless else "")
        return
    if syntax == ExplicitVRBigEndian:
        ds.PixelData = np.ascontiguousarray(data).astype(data.dtype.newbyteorder(">")).tobytes()
    else:
        ds.PixelData = np.ascontiguousarray(data).tobytes()
    ds["PixelData"].VR = "OB" if ba == 8 else "OW"
    ds.file_meta.TransferSyntaxUID = syntax


def save(ds, path, syntax):
    little = syntax != ExplicitVRBigEndian
    implicit = syntax == ImplicitVRLittleEndian
    if syntax in (RLELossless, JPEGLSLossless):
        ds.save_as(path, enforce_file_format=True)
    elif syntax == DeflatedExplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = syntax
        ds.save_as(path, enforce_file_format=True)
    else:
        ds.save_as(path, implicit_vr=implicit, little_endian=little, enforce_file_format=True)


def write_enhanced(rng, p, folder, uids, positions, arr, scales, order, iop, spacing):
    """One enhanced MR, CT or PET file: frames in instance order (stack positions, then
    repeats), with per-frame positions, optional per-frame rescale and a dimension index."""
    ds = base(p, p["emod"], ENHANCED[p["emod"]], generate_uid(), *uids)
    ds.ImageType = (["ORIGINAL", "PRIMARY", "M", "NONE"] if p["emod"] == "MR"
                    else ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"])
    shared = Dataset()
    pm = Dataset()
    pm.PixelSpacing, pm.SliceThickness = spacing, ds_str(abs(p["step"]))
    po = Dataset()
    po.ImageOrientationPatient = iop
    shared.PixelMeasuresSequence, shared.PlaneOrientationSequence = [pm], [po]
    if scales[0] is not None and p["rescale"] == "same":
        pv = Dataset()
        pv.RescaleSlope, pv.RescaleIntercept = ds_str(scales[0][0]), ds_str(scales[0][1])
        pv.RescaleType = "US"
        shared.PixelValueTransformationSequence = [pv]
    ds.SharedFunctionalGroupsSequence = [shared]
    pointers = [(0x00209056, 0x00209111), (0x00209057, 0x00209111)]
    if p["repeat_kind"] == "time":
        pointers.append((0x00209128, 0x00209111))
    elif p["repeat_kind"] == "echo":
        pointers.append((0x00189082, 0x00189114))
    elif p["repeat_kind"] == "dwi":
        pointers.append((0x00189087, 0x00189117))
    index = []
    for pointer, group in pointers:
        item = Dataset()
        item.DimensionIndexPointer, item.FunctionalGroupPointer = pointer, group
        index.append(item)
    ds.DimensionIndexSequence = index
    reps = p["repeats"]
    arrs = [arr] + [pixel_values(rng, p, len(positions)) for _ in range(reps - 1)]
    frame_keys = [(v, k) for v in range(reps) for k in order]
    if p["frame_order"] == "shuffled":
        rng.shuffle(frame_keys)
    frames = []
    for v, k in frame_keys:
        f = Dataset()
        pp = Dataset()
        pp.ImagePositionPatient = [ds_str(x) for x in positions[k]]
        fc = Dataset()
        fc.StackID, fc.InStackPositionNumber = "1", k + 1
        fc.DimensionIndexValues = [1, k + 1] + ([v + 1] if reps > 1 else [])
        if p["repeat_kind"] == "time":
            fc.TemporalPositionIndex = v + 1
            fc.FrameAcquisitionDateTime = f"200001011200{v * 2:02d}"
        f.PlanePositionSequence, f.FrameContentSequence = [pp], [fc]
        if p["repeat_kind"] == "echo":
            echo = Dataset()
            echo.EffectiveEchoTime = 10.0 * (v + 1)
            f.MREchoSequence = [echo]
        elif p["repeat_kind"] == "dwi":
            f.MRDiffusionSequence = [diffusion_item(p, v)]
        if scales[k] is not None and p["rescale"] == "varies":
            pv = Dataset()
            pv.RescaleSlope, pv.RescaleIntercept = ds_str(scales[k][0]), ds_str(scales[k][1])
            pv.RescaleType = "US"
            f.PixelValueTransformationSequence = [pv]
        frames.append(f)
    ds.PerFrameFunctionalGroupsSequence = frames
    ds.InstanceNumber = 1
    ds.ContentDate, ds.ContentTime = "20000101", "120000"
    ds.AcquisitionDateTime = "20000101120000"
    set_pixels(ds, np.stack([arrs[v][k] for v, k in frame_keys]), p)
    save(ds, os.path.join(folder, "im0001.dcm"), p["syntax"])


def write_series(rng, p, folder):
    n = p["slices"]
    row, col = p["row"], p["col"]
    normal = np.cross(row, col)
    positions = [np.array(p["origin"]) + k * p["step"] * normal for k in range(n)]
    arr = pixel_values(rng, p, n)
    scales = rescales(rng, p)
    order = list(range(n))
    if p["instance_order"] == "reverse":
        order.reverse()
    elif p["instance_order"] == "random":
        rng.shuffle(order)
    study, series, frame_of_ref = generate_uid(), generate_uid(), generate_uid()
    iop = [ds_str(v) for v in list(row) + list(col)]
    spacing = [ds_str(v) for v in p["spacing"]]
    if p["storage"] == "EMR":
        write_enhanced(rng, p, folder, (study, series, frame_of_ref), positions, arr, scales,
                       order, iop, spacing)
        return
    modality = p["storage"]
    reps = p["repeats"] * p["planes"]  # each plane of a localizer as a repeat, in its orientation
    names = list(range(n * reps))
    rng.shuffle(names)
    arrs = [arr] + [pixel_values(rng, p, n) for _ in range(reps - 1)]
    planes = [(iop, positions)]
    for prow, pcol in [([0, 1, 0], [0, 0, -1]), ([1, 0, 0], [0, 0, -1])][: p["planes"] - 1]:
        pnormal = np.cross(prow, pcol)
        planes.append(([ds_str(x) for x in prow + pcol],
                       [np.array(p["origin"]) + k * p["step"] * pnormal for k in range(n)]))
    for rank, (v, k) in enumerate((v, k) for v in range(reps) for k in order):
        iop, positions = planes[v] if p["planes"] > 1 else planes[0]
        ds = base(p, modality, CLASSES[modality], generate_uid(), study, series, frame_of_ref)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = rank + 1
        if p["repeat_kind"] == "echo":
            ds.EchoNumbers, ds.EchoTime = v + 1, str(10 * (v + 1))
        elif p["repeat_kind"] == "time":
            ds.TemporalPositionIdentifier, ds.AcquisitionNumber = v + 1, v + 1
            ds.AcquisitionTime = f"1200{v * 2:02d}"
        elif p["repeat_kind"] == "dwi":
            item = diffusion_item(p, v)
            ds.DiffusionBValue = item.DiffusionBValue
            ds.DiffusionDirectionality = item.DiffusionDirectionality
            if "DiffusionGradientDirectionSequence" in item:
                ds.DiffusionGradientOrientation = p["directions"][v]
            ds.ScanningSequence, ds.SequenceVariant = "EP", "SK"
        elif p["repeat_kind"] in ("echo×time", "phase×time"):
            inner, t = v % 2, v // 2
            ds.TemporalPositionIdentifier, ds.AcquisitionNumber = t + 1, t + 1
            ds.AcquisitionTime = f"1200{t * 2:02d}"
            if p["repeat_kind"] == "echo×time":
                ds.EchoNumbers, ds.EchoTime = inner + 1, str(10 * (inner + 1))
            else:
                ds.ImageType = ["ORIGINAL", "PRIMARY", "P" if inner else "M", "ND"]
        ds.ImagePositionPatient = [ds_str(v) for v in positions[k]]
        ds.ImageOrientationPatient = iop
        ds.PixelSpacing = spacing
        ds.SliceThickness = ds_str(abs(p["step"]))
        if scales[k] is not None:
            ds.RescaleSlope, ds.RescaleIntercept = ds_str(scales[k][0]), ds_str(scales[k][1])
            if modality == "CT":
                ds.RescaleType = "HU"
        if p["vendor"] == "Philips":
            block = ds.private_block(0x2005, "Philips MR Imaging DD 001", create=True)
            block.add_new(0x0E, "FL", p["philips_ss"])
        set_pixels(ds, arrs[v][k:k + 1], p)
        save(ds, os.path.join(folder, f"f{names[rank]:03d}.dcm"), p["syntax"])


def uncompressed_copy(case, p):
    """The folder dcm2niix reads: the series itself, or decompressed by pydicom when compressed.

    dcm2niix neither reorders the frames of a compressed enhanced file nor applies their
    per-frame rescale (v1.0.20260724); on the same file decompressed it does both."""
    if p["syntax"] not in (RLELossless, JPEGLSLossless):
        return f"{case}/in"
    os.makedirs(f"{case}/plain")
    for path in glob.glob(f"{case}/in/*.dcm"):
        ds = pydicom.dcmread(path)
        ds.decompress()
        ds.save_as(f"{case}/plain/{os.path.basename(path)}", enforce_file_format=True)
    return f"{case}/plain"


def load(root):
    out = {}
    for path in sorted(glob.glob(root + "/**/*.nii*", recursive=True)):
        img = nb.load(path)
        a = np.asarray(img.dataobj)  # nibabel applies scl_slope and scl_inter
        if a.dtype.names:  # RGB24
            a = np.stack([a[n] for n in a.dtype.names], -1)
        a = a.astype(float)
        out[os.path.relpath(path, root)] = (np.squeeze(a), img.get_sform(), img.get_qform())
    return out


def compare(a_dir, d_dir, relative, not_compared=None):
    """Problems: each dcm2niix volume without an ancilla volume of equal shape and values, and
    the sidecar keys where the two differ (`compare_sidecar`, skipping `not_compared`)."""
    a, d = load(a_dir), load(d_dir)
    if not d:
        return ["dcm2niix wrote nothing"]
    problems = []
    for dn, (dv, ds_, dq) in d.items():
        # values to 1e-3, or to `relative` of the largest value
        tolerance = max(1e-3, relative * float(np.max(np.abs(dv)))) if dv.size else 1e-3
        best = None
        for an, (av, as_, aq) in a.items():
            if av.shape != dv.shape:
                continue
            diff = float(np.max(np.abs(av - dv))) if av.size else 0.0
            key = (diff / tolerance, float(np.max(np.abs(as_ - ds_))) / 1e-3,
                   float(np.max(np.abs(aq - dq))) / 1e-3)
            if best is None or key < best[1]:
                best = (an, key, diff)
        if best is None:
            problems.append(f"{dn} {dv.shape}: no ancilla volume of that shape "
                            f"({[v[0].shape for v in a.values()]})")
        elif max(best[1]) > 1:
            problems.append(f"{dn} {dv.shape} vs {best[0]}: values {best[2]:.4g} apart, "
                            f"sform {best[1][1] * 1e-3:.3g}, qform {best[1][2] * 1e-3:.3g}")
        if best is not None:
            a_nii, d_nii = os.path.join(a_dir, best[0]), os.path.join(d_dir, dn)
            problems += compare_diffusion(a_nii, d_nii) + compare_sidecar(a_nii, d_nii,
                                                                          not_compared)
    for an, (av, _s, _q) in a.items():
        if not any(v[0].shape == av.shape for v in d.values()):
            problems.append(f"ancilla's {an} {av.shape}: no dcm2niix volume of that shape")
    return problems


# Sidecar keys one tool must write when the other does, with the same value: both write each
# from the same attributes. Every other key both sidecars hold must hold the same value too, but
# those of NOT_COMPARED. (ancilla leaves out some keys dcm2niix writes on purpose: free text,
# the device's identity, times of day.)
SIDECAR_KEYS = ("EchoTime", "EchoNumber", "SliceThickness", "MagneticFieldStrength",
                "ImageOrientationPatientDICOM", "Modality")

# Keys that name the converter.
CONVERTER_KEYS = ("ConversionSoftware", "ConversionSoftwareVersion")

# Keys not compared on this script's series, and why (facts from dcm2niix v1.0.20260724 on them).
NOT_COMPARED = {
    **{key: "the converter's name and version" for key in CONVERTER_KEYS},
    "Manufacturer": "dcm2niix names a maker it does not know (here SYNTHETIC) Philips when its "
                    "files hold a DiffusionBValue (0018,9087); ancilla writes the attribute",
    "ImageType": "dcm2niix adds no MAGNITUDE in an enhanced multi-echo file though it does in "
                 "others",
    "RepetitionTime": "when the volumes' acquisition times overrule the header's repetition "
                      "time (by over 50 ms), dcm2niix writes their time step in pixdim[4] for "
                      "every maker but in the sidecar for Philips only, the header's value for "
                      "the others, so that the two disagree; ancilla the step in both. And "
                      "dcm2niix writes one for a PET time series without frame durations, "
                      "ancilla none",
}


def same_value(dv, av):
    """Equal, numbers to 1e-6, text without the padding spaces of DICOM's values."""
    if isinstance(dv, str) and isinstance(av, str):
        return dv.strip() == av.strip()
    if isinstance(dv, list) and isinstance(av, list) and len(dv) == len(av) \
            and any(isinstance(x, str) for x in dv + av):
        return all(same_value(x, y) for x, y in zip(dv, av))
    try:
        return dv == av or (dv is not None and av is not None
                            and np.allclose(np.asarray(dv, float), np.asarray(av, float),
                                            rtol=1e-6, atol=1e-9))
    except (TypeError, ValueError):
        return False


def compare_sidecar(a_nii, d_nii, not_compared=None):
    """Problems: a key of SIDECAR_KEYS in one sidecar and not the other; a key both hold (of
    SIDECAR_KEYS or not) with different values, unless in `not_compared` (NOT_COMPARED when
    None)."""
    try:
        with open(d_nii[:-4] + ".json") as f:
            d = json.load(f)
        with open(a_nii[:-4] + ".json") as f:
            a = json.load(f)
    except OSError as e:
        return [f"sidecar: {e}"]
    skip = NOT_COMPARED if not_compared is None else not_compared
    keys = list(SIDECAR_KEYS) + [k for k in d if k in a and k not in SIDECAR_KEYS]
    problems = []
    for key in (k for k in keys if k not in skip):
        dv, av = d.get(key), a.get(key)
        if not same_value(dv, av):
            problems.append(f"{os.path.basename(d_nii)[:-4]}.json {key}: {dv} vs ancilla's {av}")
    return problems


def compare_diffusion(a_nii, d_nii):
    """Problems: FSL's .bval and .bvec beside dcm2niix's file, missing or different beside
    ancilla's (b-values to 0.5, directions to 1e-3)."""
    problems = []
    for ext, tol in (("bval", 0.5), ("bvec", 1e-3)):
        d_path, a_path = d_nii[:-4] + "." + ext, a_nii[:-4] + "." + ext
        if not os.path.exists(d_path):
            if os.path.exists(a_path):
                problems.append(f"{os.path.basename(a_path)}: dcm2niix writes none")
            continue
        if not os.path.exists(a_path):
            problems.append(f"{os.path.basename(d_path)}: ancilla writes none")
            continue
        dv, av = np.loadtxt(d_path, ndmin=2), np.loadtxt(a_path, ndmin=2)
        if dv.shape != av.shape or np.max(np.abs(dv - av)) > tol:
            problems.append(f"{os.path.basename(d_path)}: {dv.tolist()} vs ancilla's {av.tolist()}")
    return problems


def describe(p):
    return (f"{p['storage']}{'' if p['emod'] == 'MR' else '-' + p['emod']} {p['rows']}x{p['cols']}x{p['slices']} {p['kind']} step {p['step']} "
            f"bits {p['bits']} rescale {p['rescale']} {UID(p['syntax']).name} "
            f"order {p['instance_order']} {p['photometric']} repeats {p['repeats']} "
            f"{p['repeat_kind']} {p['vendor']} planes {p['planes']}")


def main():
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    tally = {}

    def one_case(i, case, _work):
        p = params(rng)
        for key in ("storage", "emod", "kind", "bits", "rescale", "syntax", "photometric",
                    "repeat_kind", "vendor", "planes"):
            name = UID(p[key]).name if key == "syntax" else str(p[key])
            tally.setdefault(key, {}).setdefault(name, 0)
            tally[key][name] += 1
        os.makedirs(f"{case}/in")
        try:
            write_series(rng, p, f"{case}/in")
        except (RuntimeError, ValueError):  # an encoder refused (pyjpegls on tiny frames)
            p["syntax"] = ExplicitVRLittleEndian
            shutil.rmtree(f"{case}/in")
            os.makedirs(f"{case}/in")
            write_series(rng, p, f"{case}/in")
        ra = subprocess.run([BIN, "--quiet", "convert", f"{case}/in", "--out", f"{case}/a",
                             "--uncompressed"], capture_output=True, text=True)
        os.makedirs(f"{case}/d")
        subprocess.run([DCM2NIIX, "-o", f"{case}/d", "-f", "%s_%d", "-z", "n",
                        uncompressed_copy(case, p)], capture_output=True, text=True)
        # dcm2niix computes Philips' scale (1 / MR Scale Slope, RI / (RS × SS)) in float32
        # steps: up to 1.5e-4 of the range from the exact value (ancilla: float32 rounding)
        relative = 1e-3 if p["vendor"] == "Philips" else 1e-4
        problems = compare(f"{case}/a", f"{case}/d", relative)
        if ra.returncode != 0 and not glob.glob(f"{case}/a/**/*.nii", recursive=True):
            problems.append("ancilla: " + (ra.stderr.strip().splitlines() or ["?"])[-1])
        return describe(p), problems

    failed = cases_loop.run(cases, "differential", one_case)
    for key, counts in tally.items():
        print(f"{key}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"{cases} cases, {cases - failed} equal, {failed} differ")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
