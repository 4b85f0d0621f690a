#!/usr/bin/env python3
"""Series written and encoded by other toolkits, through `ancilla convert`, against ground truth.

dcm2niix-differential.py writes its series with pydicom, and compares with dcm2niix. This script
takes the writers and encoders a site's archive runs through, none of them written here:

1. Written by vtk-dicom (`niftitodicom`, Debian `vtk-dicom-tools`): a random NIfTI image (3-29
   voxels a side, int16, uint8 or float32 values, 3D or 4D, any rotation and voxel size, axes
   flipped, anywhere) becomes an MR or CT series, in the NIfTI's slice order or turned into axial,
   coronal or sagittal slices. ancilla's sform and qform must place every voxel on the grid the
   DICOM headers state (computed here with pydicom from ImagePositionPatient, ImageOrientation-
   Patient and PixelSpacing), and every voxel must hold the NIfTI's value at that place: integer
   images exactly; float32 images up to the one linear scaling niftitodicom documents (it scales
   floats into 16 bits), within one stored unit. The tolerances are in `against_truth`.
   dcm2niix converts the same series; how often it meets the NIfTI is printed, not required.
2. Encoded by GDCM (`gdcmconv`: JPEG lossless, JPEG 2000 whole or in tiles, JPEG-LS, RLE,
   deflate, implicit VR, an icon image beside the image, plain or JPEG) and DCMTK (`dcmcjpeg` SV1
   and process 14, `dcmcrle`, `dcmcjpls` with and without line interleave, each of the three
   also with a frame cut into fragments of 1 KiB; `dcmconv` to big endian, deflate, implicit VR),
   Debian `libgdcm-tools` and `dcmtk`: each case's series is re-encoded by two of them (all of
   them in turn over the cases), and once by every one the phantom's PET (a rescale slope per
   slice) and diffusion series. The volume must equal, voxel for voxel, the one ancilla writes
   for the series as it was, with the same affine. An encoder that fails on a random series is
   counted and left out (GDCM 3.0.21's JPEG 2000 encoder failed on 7 of the 800 re-encodings
   of seeds 1 and 2; the ones looked at crashed on images under 8 pixels a side); on the
   phantom's, it fails the run.
3. Lossy, the phantom's PET and diffusion series only: GDCM's JPEG 2000 with the irreversible
   9/7 and with the 5/3 wavelet (PSNR 30), and JPEG-LS near-lossless (error 2). The volumes must
   equal those of the same files decoded by GDCM (`gdcmconv --raw`, with OpenJPEG and CharLS),
   and differ from those of the series as written.

4. Converted by highdicom (`highdicom.legacy`, 0.28) and by PixelMed's MultiFrameImageFactory
   (Debian `pixelmed-apps`, 20220618; optional) into one Legacy Converted Enhanced MR, CT or PET
   image (PS3.3 A.70-A.72: per-frame functional groups; the classic attributes placed in no
   group in the Unassigned Shared / Per-Frame Converted Attributes Sequences, with their private
   blocks by highdicom, without the top level's by PixelMed): every case's series, and the
   phantom's PET (a Siemens-, a GE- and a Philips-style one), T2, DWI and ADC. The volumes
   (names, so kind and series number, affine and voxels), the .bval/.bvec and the PET's SUV
   (factor, and the route QIBA's procedure took) must equal those of the classic series; where
   PixelMed dropped the private attribute the SUV took, the route QIBA gives without it
   (`suv_route_departure`). A series a converter refuses is counted, not compared.
5. Written by PixelMed's NIfTI1ToDicom (optional): the case's NIfTI as one Legacy Converted
   Enhanced MR, CT or PET (integer images) or Parametric Map (float32, Float Pixel Data), in the
   NIfTI's own grid: every voxel where the NIfTI has it, with its value (`pixelmed_from_nifti`).
6. Written by plastimatch (Debian `plastimatch` 1.9.4, optional; 3D images): the case's NIfTI as
   a classic CT series in its own grid, as part 1 checks it (`plastimatch_from_nifti`).
7. Written by SimpleITK 2.5 (ITK's GDCMImageIO; 3D images), as its DicomSeriesFromArray example
   writes a series: the case's NIfTI as a classic CT series in its own grid, as part 1 checks it
   (`sitk_from_nifti`).

Usage: benches/other-writers.py [CASES] [SEED]   (default 100, 1)
Needs nibabel, numpy, pydicom, highdicom and SimpleITK, niftitodicom, gdcmconv and DCMTK's tools (apt-get install
vtk-dicom-tools libgdcm-tools dcmtk; pixelmed-apps for parts 4 and 5, plastimatch for part 6), an ancilla build (ANCILLA_BIN, default
target/release/ancilla) and, optionally, dcm2niix (DCM2NIIX). A case that differs is kept as
./other-writers-N/.
"""
import glob
import json
import locale
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zlib

import nibabel as nib
import numpy as np
import pydicom

import cases as cases_loop  # benches/cases.py, beside this script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ANCILLA_BIN", os.path.join(ROOT, "target/release/ancilla"))
DCM2NIIX = os.environ.get("DCM2NIIX", "dcm2niix")
# (name, command before the input and output file names), all lossless.
ENCODERS = [
    ("gdcm JPEG lossless", ["gdcmconv", "--jpeg"]),
    ("gdcm JPEG 2000", ["gdcmconv", "--j2k"]),
    ("gdcm JPEG-LS", ["gdcmconv", "--jpegls"]),
    ("gdcm RLE", ["gdcmconv", "--rle"]),
    ("gdcm deflate", ["gdcmconv", "--deflated"]),
    ("gdcm implicit VR", ["gdcmconv", "--implicit"]),
    ("dcmtk JPEG lossless SV1", ["dcmcjpeg"]),
    ("dcmtk JPEG lossless process 14", ["dcmcjpeg", "+el"]),
    ("dcmtk RLE", ["dcmcrle"]),
    ("dcmtk JPEG-LS", ["dcmcjpls"]),
    ("dcmtk JPEG-LS line interleave", ["dcmcjpls", "+il"]),
    ("dcmtk big endian", ["dcmconv", "+tb"]),
    ("dcmtk deflate", ["dcmconv", "+td"]),
    ("dcmtk implicit VR", ["dcmconv", "+ti"]),
    # Less common layouts: a frame's stream over several fragments (non-standard for RLE, PS3.5
    # A.4.2, but DCMTK writes it when asked, and pydicom and GDCM read it), an icon image in its
    # own sequence beside Pixel Data, a JPEG 2000 stream in tiles.
    ("dcmtk RLE in 1 KiB fragments", ["dcmcrle", "+fs", "1"]),
    ("dcmtk JPEG lossless in 1 KiB fragments", ["dcmcjpeg", "+fs", "1"]),
    ("dcmtk JPEG-LS in 1 KiB fragments", ["dcmcjpls", "+fs", "1"]),
    ("gdcm with an icon", ["gdcmconv", "--generate-icon"]),
    ("gdcm JPEG with a JPEG icon", ["gdcmconv", "--jpeg", "--generate-icon", "--compress-icon"]),
    ("gdcm JPEG 2000 in 32x32 tiles", ["gdcmconv", "--j2k", "-t", "32,32"]),
]
# Lossy encodings, whose volumes must equal those of GDCM's own decoding of the same files
# (`gdcmconv --raw`: OpenJPEG and CharLS, the codecs ancilla's decoders follow).
LOSSY = [
    ("gdcm JPEG 2000, 9/7 wavelet, PSNR 30", ["gdcmconv", "--j2k", "--lossy", "--irreversible",
                                              "-q", "30"]),
    ("gdcm JPEG 2000, 5/3 wavelet, PSNR 30", ["gdcmconv", "--j2k", "--lossy", "-q", "30"]),
    ("gdcm JPEG-LS near-lossless, error 2", ["gdcmconv", "--jpegls", "--lossy", "-e", "2"]),
]
LAYOUTS = [[], [], ["--no-reordering"], ["--axial"], ["--coronal"], ["--sagittal"]]


def near_axis(rng):
    """A rotation close to one that maps axes onto axes (the slices scanners usually take)."""
    turn = np.zeros((3, 3))
    for row, col in enumerate(rng.permutation(3)):
        turn[row, col] = rng.choice([-1.0, 1.0])
    small = np.radians(rng.uniform(-8, 8, 3)) * (rng.random() < 0.5)
    x, y, z = small
    rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    return rx @ ry @ rz @ turn


def source_image(rng):
    """A random NIfTI image and a description of it."""
    shape = tuple(int(x) for x in rng.integers(3, 30, size=3))
    if rng.random() < 0.2:
        shape += (int(rng.integers(2, 4)),)
    kind = str(rng.choice(["int16", "int16", "uint8", "float32"]))
    if kind == "float32":
        data = (rng.random(shape) * float(rng.choice([1.5, 100.0, 40000.0]))).astype(np.float32)
    elif kind == "uint8":
        data = rng.integers(0, 256, size=shape).astype(np.uint8)
    else:
        data = rng.integers(-1024, 3000, size=shape).astype(np.int16)
    affine = np.eye(4)
    turn = cases_loop.rotation(rng) if rng.random() < 0.5 else near_axis(rng)
    affine[:3, :3] = turn @ np.diag(rng.uniform(0.3, 4.0, 3) * rng.choice([-1.0, 1.0], 3))
    affine[:3, 3] = rng.uniform(-150, 150, 3)
    img = nib.Nifti1Image(data, affine)
    img.set_sform(affine, 1)
    img.set_qform(affine, 1)
    return img, f"{shape} {kind}"


def volumes(folder):
    """The NIfTI files under `folder`, by path relative to it."""
    return {os.path.relpath(p, folder): p for p in sorted(glob.glob(f"{folder}/**/*.nii",
                                                                      recursive=True))}


def dicom_grid(folder):
    """The RAS affine (column, row, slice) and shape of the slices in `folder`, from their
    ImagePositionPatient, ImageOrientationPatient and PixelSpacing (PS3.3 C.7.6.2.1.1)."""
    positions, first = set(), None
    for name in sorted(os.listdir(folder)):
        ds = pydicom.dcmread(os.path.join(folder, name), stop_before_pixels=True)
        first = first or ds
        positions.add(tuple(round(float(v), 4) for v in ds.ImagePositionPatient))
    iop = np.array([float(v) for v in first.ImageOrientationPatient])
    row_step, col_step = (float(v) for v in first.PixelSpacing)
    normal = np.cross(iop[:3], iop[3:])
    ordered = sorted((np.array(p) for p in positions), key=lambda p: float(p @ normal))
    lps = np.eye(4)
    lps[:3, 0] = iop[:3] * col_step
    lps[:3, 1] = iop[3:] * row_step
    lps[:3, 2] = ((ordered[-1] - ordered[0]) / (len(ordered) - 1) if len(ordered) > 1
                  else normal * float(first.get("SpacingBetweenSlices", 1) or 1))
    lps[:3, 3] = ordered[0]
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps, (int(first.Columns), int(first.Rows),
                                                   len(ordered))


def onto(grid, shape, affine, got_shape, turn):
    """Each voxel of an image of `got_shape` on `affine`, as an index on `grid` (of `shape`), or
    a problem: off the grid's points by more than 0.001 mm plus what a turn of `turn` radians
    moves the far end of the grid, or outside the grid."""
    to_grid = np.linalg.inv(grid) @ affine
    ijk = to_grid[:3, :3] @ np.indices(got_shape[:3]).reshape(3, -1) + to_grid[:3, 3:4]
    nearest = np.round(ijk)
    steps = np.linalg.norm(grid[:3, :3], axis=0)
    off = float(np.linalg.norm((ijk - nearest) * steps[:, None], axis=0).max())
    extent = float(np.linalg.norm(steps * np.array(shape[:3])))
    if off > 1e-3 + turn * extent:
        return None, f"{off:.4f} mm off its grid's points (extent {extent:.1f} mm)"
    nearest = nearest.astype(int)
    if any((nearest[a] < 0).any() or (nearest[a] >= shape[a]).any() for a in range(3)):
        return None, "voxels outside its grid"
    return nearest, None


def against_truth(source, dicom, path, integer, unit=1.0):
    """Problems with the volume at `path`. Its sform must place its voxels on the grid the DICOM
    series states, within 0.001 mm (and 1e-5 of the grid's extent: DS values hold 10 digits),
    and its qform within 0.001 of the extent: NIfTI-1 stores the qform's rotation as a float32
    quaternion, which near a half turn recovers the rotation to about 1e-3 radians only
    (dcm2niix's qform is the same). Every voxel must hold the value of the NIfTI voxel there
    (integer images: exactly; float ones: up to one linear scaling, within `unit`, the writer's
    one stored unit: niftitodicom's 1, plastimatch's RescaleSlope). The NIfTI's grid
    is met within 5e-4 of its extent: niftitodicom's reslicing tilts its planes by up to 0.015
    degree (2.6e-4 radians)."""
    img = nib.load(path)
    got = img.get_fdata()
    got = got if got.ndim == 4 else got[..., None]
    src = np.asarray(source.dataobj, dtype=np.float64)
    src = src if src.ndim == 4 else src[..., None]
    name = os.path.basename(path)
    if got.shape[3] != src.shape[3] or np.prod(got.shape[:3]) != np.prod(src.shape[:3]):
        return [f"{name}: {got.shape}, the NIfTI is {src.shape}"]
    grid, shape = dicom_grid(dicom)
    problems = []
    for form, affine, turn in (("sform", img.header.get_sform(), 1e-5),
                               ("qform", img.header.get_qform(), 1e-3)):
        _, problem = onto(grid, shape, affine, got.shape, turn)
        if problem:
            problems.append(f"{name}: {form} against the DICOM's geometry: {problem}")
    at, problem = onto(source.affine, src.shape, img.affine, got.shape, 5e-4)
    if problem:
        return problems + [f"{name}: against the NIfTI's grid: {problem}"]
    want = src[at[0], at[1], at[2], :]
    have = got.reshape(-1, got.shape[3])
    if integer:
        worst = float(np.abs(want - have).max())
        if worst != 0:
            problems.append(f"{name}: values differ from the NIfTI's by up to {worst}")
    else:
        scale = float((want * have).sum() / max((want * want).sum(), 1e-30))
        worst = float(np.abs(want * scale - have).max())
        if worst > unit + 1e-6 * np.abs(have).max():
            problems.append(f"{name}: values differ from the NIfTI's by up to {worst} after "
                            f"scaling by {scale:.6g}")
    return problems


def convert(dicom, out):
    """ancilla's volumes of the series in `dicom` (exit code, stderr)."""
    r = subprocess.run([BIN, "--quiet", "convert", dicom, "--out", out, "--uncompressed"],
                       capture_output=True, text=True)
    return r.returncode, r.stderr.strip()[-300:]


def encode(command, source, target):
    """Every file of `source` encoded by `command` into `target`; False when the encoder fails."""
    os.makedirs(target)
    for name in sorted(os.listdir(source)):
        r = subprocess.run(command + [os.path.join(source, name), os.path.join(target, name)],
                           capture_output=True)
        if r.returncode != 0:
            return False
    return True


def same_volumes(reference, folder, label, ignore=()):
    """Problems where ancilla's volumes in `folder` differ from those in `reference` (but for
    those whose names end with one of `ignore`)."""
    want, have = volumes(reference), volumes(folder)
    want = {k: v for k, v in want.items() if not k.endswith(tuple(ignore))}
    have = {k: v for k, v in have.items() if not k.endswith(tuple(ignore))}
    if set(want) != set(have):
        return [f"{label}: volumes {sorted(have)}, the series as written gives {sorted(want)}"]
    problems = []
    for name, path in want.items():
        a, b = nib.load(path), nib.load(have[name])
        if not np.allclose(a.affine, b.affine, atol=1e-5):
            problems.append(f"{label}: {name}: affine differs")
        if a.shape != b.shape or not np.array_equal(a.get_fdata(), b.get_fdata()):
            problems.append(f"{label}: {name}: voxels differ")
    return problems


def transcoded(series, work, label, encoders, skipped=None):
    """Problems where `series` (a folder of DICOM files) converts differently after re-encoding
    by each of `encoders`. An encoder that fails is a problem, unless `skipped` (a list) is
    given: then its name is added to it."""
    problems = []
    code, err = convert(series, f"{work}/as-written")
    if code != 0 or not volumes(f"{work}/as-written"):
        return [f"{label}: as written: exit {code}, no volume: {err}"]
    for name, command in encoders:
        folder = f"{work}/{name.replace(' ', '-')}"
        if not encode(command, series, f"{folder}/in"):
            if skipped is None:
                problems.append(f"{label}: {name} failed to encode")
            else:
                skipped.append(name)
            continue
        code, err = convert(f"{folder}/in", f"{folder}/out")
        if code != 0:
            problems.append(f"{label}: {name}: exit {code}: {err}")
            continue
        problems += same_volumes(f"{work}/as-written", f"{folder}/out", f"{label}, {name}")
    return problems


def lossy_transcoded(series, work, label, as_written):
    """Problems where `series` encoded by each of `LOSSY` converts differently from the same
    encoded files decoded by GDCM, or the same as `as_written` (ancilla's volumes of the series
    itself: an encoding that loses nothing tests no lossy decoding)."""
    problems = []
    for name, command in LOSSY:
        folder = f"{work}/{name.replace(' ', '-').replace(',', '')}"
        if not (encode(command, series, f"{folder}/in")
                and encode(["gdcmconv", "--raw"], f"{folder}/in", f"{folder}/gdcm-decoded")):
            problems.append(f"{label}: {name} failed to encode or decode")
            continue
        results = [convert(f"{folder}/{part}", f"{folder}/{part}-out")
                   for part in ("in", "gdcm-decoded")]
        if any(code != 0 for code, _ in results) or not volumes(f"{folder}/in-out"):
            problems.append(f"{label}: {name}: {results}")
            continue
        problems += same_volumes(f"{folder}/gdcm-decoded-out", f"{folder}/in-out",
                                 f"{label}, {name}")
        if not same_volumes(as_written, f"{folder}/in-out", ""):
            problems.append(f"{label}: {name} changed no voxel (not lossy)")
    return problems


PIXELMED = "/usr/share/java/pixelmed.jar"  # Debian pixelmed-apps (libpixelmed-java)


def pixelmed(main_class, *args):
    """Run one of PixelMed's command-line classes; True when it exits 0."""
    r = subprocess.run(["java", "-cp", PIXELMED, main_class, *args], capture_output=True)
    return r.returncode == 0


def highdicom_lc(series, target):
    """highdicom's legacy conversion of the classic files in `series` into `target`/lc.dcm."""
    from highdicom.legacy import (LegacyConvertedEnhancedCTImage, LegacyConvertedEnhancedMRImage,
                                  LegacyConvertedEnhancedPETImage)
    from highdicom.uid import UID
    classes = {"MR": LegacyConvertedEnhancedMRImage, "CT": LegacyConvertedEnhancedCTImage,
               "PT": LegacyConvertedEnhancedPETImage}
    logging.getLogger("highdicom").setLevel(logging.ERROR)  # its notes on absent VOI windows
    images = [pydicom.dcmread(os.path.join(series, n)) for n in sorted(os.listdir(series))]
    lc = classes[images[0].Modality](images, series_instance_uid=UID(),
                                     series_number=images[0].SeriesNumber,
                                     sop_instance_uid=UID(), instance_number=1)
    lc.save_as(f"{target}/lc.dcm", enforce_file_format=True)


def pixelmed_lc(series, target):
    """PixelMed's MultiFrameImageFactory (the classic files in `series` → `target`)."""
    if not pixelmed("com.pixelmed.dicom.MultiFrameImageFactory", series, target) \
            or not os.listdir(target):
        raise RuntimeError("MultiFrameImageFactory failed")


def numbered(series, work):
    """`series`, or a copy of it with SeriesNumber 1 where it has none (highdicom requires one;
    the classic copy gets it too, so volume names compare)."""
    images = [pydicom.dcmread(os.path.join(series, n)) for n in sorted(os.listdir(series))]
    if images[0].get("SeriesNumber") not in (None, ""):
        return series
    os.makedirs(f"{work}/classic")
    for n, ds in enumerate(images):
        ds.SeriesNumber = 1
        ds.save_as(f"{work}/classic/{n:04d}.dcm")
    return f"{work}/classic"


def suv_route_departure(writer, want, have):
    """None when the SUV `have` of a series converted by `writer` is what QIBA's procedure gives
    for what that writer keeps, else a problem. PixelMed drops the classic images' top-level
    private attributes: without Philips' (7053,1000) and (7053,1009) the SUV of a CNTS series is
    refused, naming them; without GE's (0009,100D) the reference of a reprocessed series is
    back-computed from FrameReferenceTime. Every other SUV must equal the series as written."""
    a, b = want.get("SUV") or {}, have.get("SUV") or {}
    if writer == "PixelMed" and "Philips" in str(a.get("units_path")):
        return None if "(7053,1000)" in str(have.get("SUVRefused")) else \
            f"PixelMed dropped (7053,1000): SUV {b or have.get('SUVRefused')}, not refused"
    if writer == "PixelMed" and "GE private" in str(a.get("reference_time_source")):
        return None if "FrameReferenceTime" in str(b.get("reference_time_source")) else \
            f"PixelMed dropped (0009,100D): reference {b.get('reference_time_source')}"
    for key in ("SUV", "SUVRefused"):
        if want.get(key) != have.get(key):
            return f"{key} {have.get(key)}, the series as written gives {want.get(key)}"
    return None


LEGACY_CONVERTERS = [("highdicom", highdicom_lc), ("PixelMed", pixelmed_lc)]


def legacy_converted(series, work, label, refused, converters=None):
    """Problems where `series` (a folder of classic DICOM files) converts differently after
    each converter's legacy conversion into one enhanced image (`LEGACY_CONVERTERS`, PixelMed's
    where Java and its jar are installed): its volumes (`same_volumes`), its .bval/.bvec text and
    its PET's SUV in the sidecar (`suv_route_departure`). A series a converter refuses is added
    to `refused` (with the error) and not compared."""
    converters = converters or [c for c in LEGACY_CONVERTERS
                                if c[0] != "PixelMed" or has_pixelmed()]
    series = numbered(series, work)
    code, err = convert(series, f"{work}/as-written-out")
    if code != 0:
        return [f"{label}: as written: exit {code}: {err}"]
    want = f"{work}/as-written-out"
    problems = []
    for writer, make in converters:
        folder = f"{work}/{writer}"
        os.makedirs(f"{folder}/in")
        try:
            make(series, f"{folder}/in")
        except Exception as e:  # the converter's own checks (e.g. a SOP class it does not take)
            refused.append(f"{label}: {writer}: {type(e).__name__}: {str(e)[:120]}")
            continue
        code, err = convert(f"{folder}/in", f"{folder}/out")
        if code != 0:
            problems.append(f"{label}: {writer}: exit {code}: {err}")
            continue
        have = f"{folder}/out"
        tag = f"{label}, legacy converted by {writer}"
        # Where PixelMed dropped the private attribute the SUV took, the SUV volume is not the
        # one as written (refused, or another route): `suv_route_departure` checks which.
        classic_suvs = [json.load(open(p, encoding="utf-8")).get("SUV") or {}
                        for p in glob.glob(f"{want}/**/*_pt_*.json", recursive=True)]
        private_suv = writer == "PixelMed" and any(
            "Philips" in str(suv.get("units_path"))
            or "GE private" in str(suv.get("reference_time_source")) for suv in classic_suvs)
        problems += same_volumes(want, have, tag, ["_suvbw.nii"] if private_suv else [])
        for path in sorted(glob.glob(f"{want}/**/*.bval", recursive=True)
                           + glob.glob(f"{want}/**/*.bvec", recursive=True)):
            other = os.path.join(have, os.path.relpath(path, want))
            if not os.path.exists(other) or open(path).read() != open(other).read():
                problems.append(f"{tag}: {os.path.relpath(path, want)} differs")
        # The PET's own sidecars (an SUVbw copy's repeats its PET's SUV, and is not there when
        # the SUV is refused).
        for path in sorted(p for p in glob.glob(f"{want}/**/*_pt_*.json", recursive=True)
                           if not p.endswith("_suvbw.json")):
            other = os.path.join(have, os.path.relpath(path, want))
            problem = suv_route_departure(
                writer, json.load(open(path, encoding="utf-8")),
                json.load(open(other, encoding="utf-8")) if os.path.exists(other) else {})
            if problem:
                problems.append(f"{tag}: {problem}")
    return problems


def has_pixelmed():
    return shutil.which("java") is not None and os.path.exists(PIXELMED)


def pixelmed_from_nifti(source, case, modality, title):
    """Problems where ancilla's volume of the series PixelMed's NIfTI1ToDicom writes from the
    case's NIfTI (one Legacy Converted Enhanced MR, CT or PET file, or a float Parametric Map,
    frames in the NIfTI's own grid) does not place every voxel where the NIfTI has it, within
    1e-5 of the extent (sform; qform 1e-3, its float32 quaternion), with the NIfTI's values:
    integer images exactly, float ones within 1e-6 of the largest."""
    os.makedirs(f"{case}/pixelmed")
    if not pixelmed("com.pixelmed.convert.NIfTI1ToDicom", f"{case}/source.nii",
                    f"{case}/pixelmed/x.dcm", "Phantom^P", "P1", "S1", "5", "1", modality):
        return [f"{title}: PixelMed's NIfTI1ToDicom failed"]
    code, err = convert(f"{case}/pixelmed", f"{case}/pixelmed-out")
    written = volumes(f"{case}/pixelmed-out")
    if code != 0 or len(written) != 1:
        return [f"PixelMed: exit {code}, volumes {sorted(written)}: {err}"]
    img = nib.load(next(iter(written.values())))
    got = img.get_fdata()
    got = got if got.ndim == 4 else got[..., None]
    src = np.asarray(source.dataobj, dtype=np.float64)
    src = src if src.ndim == 4 else src[..., None]
    if got.shape[3] != src.shape[3] or np.prod(got.shape[:3]) != np.prod(src.shape[:3]):
        return [f"PixelMed: {got.shape}, the NIfTI is {src.shape}"]
    problems = []
    for form, affine, turn in (("sform", img.header.get_sform(), 1e-5),
                               ("qform", img.header.get_qform(), 1e-3)):
        at, problem = onto(source.affine, src.shape, affine, got.shape, turn)
        if problem:
            problems.append(f"PixelMed: {form} against the NIfTI's grid: {problem}")
        elif form == "sform":
            want, have = src[at[0], at[1], at[2], :], got.reshape(-1, got.shape[3])
            worst = float(np.abs(want - have).max())
            if worst > 1e-6 * max(1.0, float(np.abs(want).max())):
                problems.append(f"PixelMed: values differ from the NIfTI's by up to {worst}")
    return problems


def plastimatch_from_nifti(source, case, title):
    """Problems where ancilla's volume of the CT series plastimatch writes from the case's 3D
    NIfTI (`plastimatch convert --input NIFTI --output-dicom DIR`: classic slices in the NIfTI's
    own grid, float images scaled into int16 by one RescaleSlope) does not meet the NIfTI as
    `against_truth` says, floats within one stored unit (the slope)."""
    w = subprocess.run(["plastimatch", "convert", "--input", f"{case}/source.nii",
                        "--output-dicom", f"{case}/plastimatch"], capture_output=True, text=True)
    if w.returncode != 0 or not glob.glob(f"{case}/plastimatch/*.dcm"):
        return [f"{title}: plastimatch failed: {w.stderr.strip()[-200:]}"]
    code, err = convert(f"{case}/plastimatch", f"{case}/plastimatch-out")
    written = volumes(f"{case}/plastimatch-out")
    if code != 0 or len(written) != 1:
        return [f"plastimatch: exit {code}, volumes {sorted(written)}: {err}"]
    slope = max(float(pydicom.dcmread(f, stop_before_pixels=True).get("RescaleSlope", 1))
                for f in glob.glob(f"{case}/plastimatch/*.dcm"))
    integer = source.get_data_dtype().kind in "iu"
    return [f"plastimatch: {p}" for p in against_truth(
        source, f"{case}/plastimatch", next(iter(written.values())), integer, slope)]


def sitk_from_nifti(source, case, title):
    """Problems where ancilla's volume of the CT series SimpleITK (ITK's GDCMImageIO) writes from
    the case's 3D NIfTI, as SimpleITK's DicomSeriesFromArray example writes one (a file a slice,
    ImagePositionPatient from the image's own geometry, ImageOrientationPatient from its
    direction; float images as int16 with a RescaleSlope of the largest value / 30000), does not
    meet the NIfTI as `against_truth` says. As in the example, StudyInstanceUID and
    FrameOfReferenceUID are left to the writer, which makes one per file: dcm2niix then writes
    several volumes of a few slices each; ancilla one series, by its SeriesInstanceUID."""
    import SimpleITK as sitk
    image = sitk.ReadImage(f"{case}/source.nii")
    src = np.asarray(source.dataobj)
    floating = src.dtype.kind == "f"
    if floating:
        image = sitk.Cast(image, sitk.sitkFloat32)
    elif src.dtype == np.uint8:
        image = sitk.Cast(image, sitk.sitkInt16)
    slope = (float(np.abs(src).max()) / 30000 or 1.0) if floating else 1.0
    d = image.GetDirection()
    uid = f"1.2.826.0.1.3680043.10.999.{zlib.crc32(case.encode())}"
    tags = [("0008|0031", "120000"), ("0008|0021", "20240102"),
            ("0008|0008", "DERIVED\\SECONDARY"), ("0020|000e", f"{uid}.2"),
            ("0020|0037", "\\".join(str(v) for v in (d[0], d[3], d[6], d[1], d[4], d[7]))),
            ("0008|103e", "SimpleITK"), ("0008|0060", "CT")]
    if floating:
        tags += [("0028|1053", f"{slope:.6g}"), ("0028|1052", "0"), ("0028|0100", "16"),
                 ("0028|0101", "16"), ("0028|0102", "15"), ("0028|0103", "1")]
    os.makedirs(f"{case}/sitk")
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(image.GetDepth()):
        one = image[:, :, k]
        for tag, value in tags:
            one.SetMetaData(tag, value)
        one.SetMetaData("0020|0032", "\\".join(
            str(v) for v in image.TransformIndexToPhysicalPoint((0, 0, k))))
        one.SetMetaData("0020|0013", str(k + 1))
        one.SetMetaData("0008|0018", f"{uid}.2.{k + 1}")
        writer.SetFileName(f"{case}/sitk/{k:03d}.dcm")
        writer.Execute(one)
    # ITK's DICOM writer leaves the process in the C locale (open()'s default encoding ASCII).
    locale.setlocale(locale.LC_ALL, "")
    code, err = convert(f"{case}/sitk", f"{case}/sitk-out")
    written = volumes(f"{case}/sitk-out")
    if code != 0 or len(written) != 1:
        return [f"SimpleITK: exit {code}, volumes {sorted(written)}: {err}"]
    return [f"SimpleITK: {p}" for p in against_truth(
        source, f"{case}/sitk", next(iter(written.values())), not floating, slope)]


def main():
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    missing = [t for t in ("niftitodicom", "gdcmconv", "dcmcjpls", BIN) if not shutil.which(t)]
    if missing:
        print(f"not found: {', '.join(missing)} (apt-get install vtk-dicom-tools libgdcm-tools "
              f"dcmtk; cargo build --release, or set ANCILLA_BIN)", file=sys.stderr)
        sys.exit(2)
    try:
        import highdicom  # noqa: F401 (part 4)
        import SimpleITK  # noqa: F401 (part 7)
    except ImportError:
        print("not found: highdicom or SimpleITK (pip install highdicom SimpleITK)",
              file=sys.stderr)
        sys.exit(2)
    with_dcm2niix = shutil.which(DCM2NIIX) is not None
    with_plastimatch = shutil.which("plastimatch") is not None
    dcm2niix_met = [0, 0]
    encoder_failed = []
    lc_refused = []

    def one_case(i, case, _work):
        source, title = source_image(rng)
        source.to_filename(f"{case}/source.nii")
        modality = str(rng.choice(["MR", "CT"]))
        layout = LAYOUTS[int(rng.integers(len(LAYOUTS)))]
        title = f"{title} {modality} {' '.join(layout) or 'default layout'}"
        w = subprocess.run(["niftitodicom", "-s", "-o", f"{case}/dicom", f"{case}/source.nii",
                            "--modality", modality] + layout, capture_output=True, text=True)
        if w.returncode != 0 or not os.listdir(f"{case}/dicom"):
            return title, [f"niftitodicom failed: {w.stderr.strip()[-200:]}"]
        code, err = convert(f"{case}/dicom", f"{case}/ancilla")
        written = volumes(f"{case}/ancilla")
        if code != 0 or len(written) != 1:
            return title, [f"exit {code}, volumes {sorted(written)}: {err}"]
        integer = source.get_data_dtype().kind in "iu"
        problems = against_truth(source, f"{case}/dicom", next(iter(written.values())), integer)
        if with_dcm2niix:
            os.makedirs(f"{case}/dcm2niix")
            subprocess.run([DCM2NIIX, "-z", "n", "-o", f"{case}/dcm2niix", f"{case}/dicom"],
                           capture_output=True)
            theirs = list(volumes(f"{case}/dcm2niix").values())
            dcm2niix_met[0] += 1
            dcm2niix_met[1] += len(theirs) == 1 and not against_truth(
                source, f"{case}/dicom", theirs[0], integer)
        pair = [ENCODERS[i % len(ENCODERS)], ENCODERS[(i + len(ENCODERS) // 2) % len(ENCODERS)]]
        problems += transcoded(f"{case}/dicom", f"{case}/transcoded", "re-encoded", pair,
                               encoder_failed)
        problems += legacy_converted(f"{case}/dicom", f"{case}/legacy", title, lc_refused)
        if has_pixelmed():
            problems += pixelmed_from_nifti(source, case, ("MR", "CT", "PT")[i % 3], title)
        if with_plastimatch and len(source.shape) == 3:
            problems += plastimatch_from_nifti(source, case, title)
        if len(source.shape) == 3:
            problems += sitk_from_nifti(source, case, title)
        return title, problems

    failed = cases_loop.run(cases, "other-writers", one_case)
    print(f"{cases - failed} of {cases} series written by vtk-dicom's niftitodicom: every voxel "
          f"where the NIfTI has it, and the same volume after re-encoding by GDCM and DCMTK "
          f"and after legacy conversion by highdicom" + (" and PixelMed; and PixelMed's "
          f"NIfTI1ToDicom's series of the same NIfTI" if has_pixelmed() else "")
          + (" and plastimatch's (3D ones)" if with_plastimatch else "")
          + "; and SimpleITK's series of the 3D ones")
    if lc_refused:
        print(f"(a legacy converter refused {len(lc_refused)} of these series: not compared; "
              f"the first: {lc_refused[0]})")
    if with_dcm2niix:
        print(f"(dcm2niix met the NIfTI in {dcm2niix_met[1]} of {dcm2niix_met[0]})")
    for name in sorted(set(encoder_failed)):
        print(f"({name} failed to encode {encoder_failed.count(name)} of these series: not "
              f"compared)")

    # The phantom's PET (one rescale slope a slice) and diffusion series, by every encoder.
    work = tempfile.mkdtemp()
    phantom_failed = 0
    try:
        subprocess.run([BIN, "--quiet", "phantom", "--out", f"{work}/phantom", "--subjects", "1",
                        "--seed", "3"], check=True, capture_output=True)
        export = f"{work}/phantom/site-export"
        for pattern, label in (("*/PET_*/*_PET_WB_AC", "phantom PET"),
                               ("*/MR_*/*_ep2d_diff", "phantom DWI")):
            found = sorted(glob.glob(f"{export}/{pattern}"))
            if not found:
                print(f"{label}: no series matching {pattern} in the phantom")
                phantom_failed += 1
                continue
            folder = f"{work}/{label.replace(' ', '-')}"
            problems = transcoded(found[0], folder, label, ENCODERS)
            problems += lossy_transcoded(found[0], f"{folder}/lossy", label,
                                         f"{folder}/as-written")
            if problems:
                phantom_failed += 1
                cases_loop.keep(found[0], "other-writers", label.replace(" ", "-"), label,
                                problems)
            else:
                print(f"{label}: the same volumes after each of {len(ENCODERS)} lossless "
                      f"encodings; after each of {len(LOSSY)} lossy ones, GDCM's decoding's")
        # Part 4: the phantom's series of three subjects (a Siemens-, a GE- and a Philips-style
        # PET), each as one legacy converted enhanced image.
        subprocess.run([BIN, "--quiet", "phantom", "--out", f"{work}/phantom3", "--subjects", "3",
                        "--seed", "7"], check=True, capture_output=True)
        compared, refused, differed = 0, [], 0
        for series in sorted(glob.glob(f"{work}/phantom3/site-export/*/*/*")):
            kind = os.path.basename(series).split("_", 1)[1]
            if kind not in ("PET_WB_AC", "ep2d_diff", "ep2d_diff_ADC", "t2_haste_ax_obl"):
                continue  # the planted defects
            first = pydicom.dcmread(sorted(glob.glob(f"{series}/*"))[0], stop_before_pixels=True)
            if "NumberOfFrames" in first:
                continue  # already enhanced (the Philips-style T2)
            label = f"phantom {len(glob.glob(f'{work}/lc-*'))} {kind}"
            folder = f"{work}/lc-{len(glob.glob(f'{work}/lc-*'))}"
            problems = legacy_converted(series, folder, label, refused)
            compared += 1
            if problems:
                differed += 1
                cases_loop.keep(series, "other-writers", os.path.basename(folder), label,
                                problems)
        phantom_failed += differed
        if not any("PET" in r for r in refused):
            print(f"phantom, {compared} series legacy converted by highdicom"
                  + (" and by PixelMed" if has_pixelmed() else "") + f": {compared - differed} "
                  f"give the same volumes, .bval/.bvec and SUV as written (where PixelMed "
                  f"dropped a private SUV input, QIBA's route without it), {differed} not"
                  + (f"; {len(refused)} conversions refused ({refused[0]})" if refused else ""))
        else:
            phantom_failed += 1
            print(f"phantom, legacy converted: a converter refused a PET series: {refused}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed or phantom_failed else 0)


if __name__ == "__main__":
    main()
