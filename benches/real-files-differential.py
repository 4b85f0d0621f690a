#!/usr/bin/env python3
"""Real DICOM files from other projects, converted by `ancilla convert` and by dcm2niix, compared.

`dcm2niix-differential.py` writes its series itself; this script takes the files other projects
ship to test their own readers, written by scanners, planning systems and toolkits no one here
wrote for: pydicom's test corpus (`pydicom/data/test_files`: CT, MR, NM, RT Dose, secondary
captures, colour, big endian, RLE, JPEG baseline/extended, JPEG-LS, JPEG 2000, deflate, broken
and truncated files), nibabel's (`nibabel/nicom/tests/data`: Siemens mosaic DWI with its CSA
header, Philips MPRAGE, a decimal rescale) and pydicom-data's (the larger files pydicom keeps
apart: ultrasound, radiography, 16- and 32-bit colour, palette colour, a 120-frame colour
ultrasound, GDCM's and DCMTK's encodings, a SEG, an MR with overlays), heudiconv's
(`heudiconv/tests/data`: Siemens multiband mosaic DWI, a field map, a scout, a Siemens XA enhanced
MR whose frames each lie in a plane of their own, a Phoenix protocol SR) and pynetdicom's (big
endian, JPEG 2000, deflate, an RT Image), all as installed with pip (MIT licences; heudiconv's
Apache 2.0; heudiconv and pynetdicom are installed without their dependencies, for their files).

Each file is converted alone (ancilla with `--uncompressed`, dcm2niix with `-z n`) and compared as
`dcm2niix-differential.py` compares (`compare`: shape, values after scaling, sform, qform,
.bval/.bvec, a few sidecar keys both must write), and every sidecar key both tools write must
hold the same value (numbers to 1e-6, text without DICOM's padding spaces; the converter's name
and version aside). A file may differ only as DEPARTURES says, with the reason: where
ancilla refuses by design, or where dcm2niix is wrong (checked against pydicom) or leaves a file
out. A file that differs otherwise fails the run; a departure that no longer happens is reported
as stale. Where dcm2niix writes no Modality (it names only the modalities it knows), ancilla's
is not compared.

Usage: benches/real-files-differential.py
Needs pydicom, nibabel, numpy, pydicom-data, dcm2niix (pip install pydicom nibabel numpy
pydicom-data dcm2niix; pip install --no-deps heudiconv==1.5.1 pynetdicom==3.0.4) and a
release build (ANCILLA_BIN, default target/release/ancilla; DCM2NIIX, default dcm2niix).
A file that differs unexpectedly is kept as ./real-files-differential/<name>/.
"""
import glob
import gzip
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

import nibabel
import pydicom

try:
    import data_store  # pydicom-data
except ImportError:
    sys.exit("pydicom-data not found (pip install pydicom-data==1.0.0)")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
_spec = importlib.util.spec_from_file_location(
    "dcm2niix_differential", os.path.join(HERE, "dcm2niix-differential.py"))
differential = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(differential)

ANCILLA = os.environ.get("ANCILLA_BIN", "target/release/ancilla")
DCM2NIIX = os.environ.get("DCM2NIIX", "dcm2niix")

# Where the two tools differ on these files, and why (facts from the runs of pydicom 3.0.2's,
# nibabel 5.4.2's and pydicom-data 1.0.0's files with dcm2niix v1.0.20260724; values checked
# against pydicom's decoding).
NOTHING = "neither writes a volume: not an image (RT plan/struct, SR, waveform), or a file " \
          "both refuse (broken, truncated, no meta header)"
DEPARTURES = {
    # Not images, or files neither reads: both write nothing, which `compare` reports.
    **{name: NOTHING for name in [
        "csa_slice_norm.dcm", "ExplVR_BigEndNoMeta.dcm", "ExplVR_LitEndNoMeta.dcm",
        "JPEG-lossy.dcm", "JPEG2000-embedded-sequence-delimiter.dcm", "MR_truncated.dcm",
        "SC_rgb_rle_16bit.dcm", "SC_rgb_rle_16bit_2frame.dcm", "UN_sequence.dcm",
        "empty_charset_LEI.dcm", "meta_missing_tsyntax.dcm", "nested_priv_SQ.dcm", "no_meta.dcm",
        "no_meta_group_length.dcm", "priv_SQ.dcm", "reportsi.dcm",
        "reportsi_with_empty_number_tags.dcm", "rtplan.dcm", "rtplan_truncated.dcm",
        "rtstruct.dcm", "test-SR.dcm", "waveform_ecg.dcm"]},
    # Files ancilla converts and dcm2niix does not.
    **{name: "dcm2niix writes nothing; ancilla converts it (pydicom reads the same values)"
       for name in ["JPGExtended.dcm", "SC_ybr_full_422_uncompressed.dcm", "image_dfl.dcm",
                    "slicethickness_empty_string.dcm"]},
    # RT Dose: ancilla applies DoseGridScaling and stacks frames by GridFrameOffsetVector (5 mm);
    # dcm2niix writes the stored values 1 mm apart.
    **{name: "RT Dose: ancilla's values are scaled by DoseGridScaling, and its frames are "
             "GridFrameOffsetVector apart (dcm2niix: stored values, 1 mm apart)"
       for name in ["rtdose.dcm", "rtdose_1frame.dcm", "rtdose_expb.dcm",
                    "rtdose_expb_1frame.dcm", "rtdose_rle.dcm", "rtdose_rle_1frame.dcm",
                    "badVR.dcm"]},
    # Colour: NIfTI's RGB24 holds 8 bits a sample; pure_jpegls decodes one component.
    "SC_rgb_rle_32bit.dcm": "colour with 32 bits a sample: ancilla refuses (RGB24 holds 8); "
                            "dcm2niix writes one grey plane",
    **{name: "colour with 32 bits a sample: ancilla refuses (RGB24 holds 8); dcm2niix writes one "
             "grey plane a frame"
       for name in ["SC_rgb_rle_32bit_2frame.dcm", "SC_rgb_32bit.dcm", "SC_rgb_32bit_2frame.dcm",
                    "SC_rgb_expb_32bit.dcm", "SC_rgb_expb_32bit_2frame.dcm"]},
    **{name: "colour with 16 bits a sample: neither writes it (ancilla refuses: RGB24 holds 8)"
       for name in ["SC_rgb_16bit.dcm", "SC_rgb_16bit_2frame.dcm", "SC_rgb_expb_16bit.dcm",
                    "SC_rgb_expb_16bit_2frame.dcm"]},
    "SC_rgb_jls_lossy_line.dcm": "colour JPEG-LS (3 components): ancilla refuses with the "
                                 "syntax's name",
    "SC_rgb_jls_lossy_sample.dcm": "colour JPEG-LS (3 components): ancilla refuses with the "
                                   "syntax's name",
    "SC_rgb_small_odd_big_endian.dcm": "dcm2niix swaps the bytes of 8-bit samples in big "
                                       "endian; ancilla's equal pydicom's",
    # PALETTE COLOR: the stored values index a colour table.
    **{name: "PALETTE COLOR: ancilla refuses it with the reason; dcm2niix writes the colour "
             "table's indices as grey values"
       for name in ["examples_palette.dcm", "OBXXXX1A.dcm", "OBXXXX1A_2frame.dcm",
                    "OBXXXX1A_rle.dcm", "OBXXXX1A_rle_2frame.dcm", "OBXXXX1A_expb.dcm",
                    "OBXXXX1A_expb_2frame.dcm", "OT-PAL-8-face.dcm", "gdcm-US-ALOKA-16.dcm",
                    "gdcm-US-ALOKA-16_big.dcm"]},
    # Colour JPEG: decoders round YCbCr → RGB differently. ancilla is within 3 of pydicom 3.0.2
    # (Pillow 13.0.0) on each; dcm2niix up to 22 away (21 on the dcmtk n1 and np files, 22 on
    # the gdcm lossy one).
    **{name: "colour JPEG: YCbCr → RGB rounding; ancilla within 3 of pydicom, dcm2niix up to "
             "22 away"
       for name in ["SC_rgb_jpeg.dcm", "SC_rgb_jpeg_dcmtk.dcm", "SC_rgb_jpeg_lossy_gdcm.dcm",
                    "SC_jpeg_no_color_transform.dcm", "SC_jpeg_no_color_transform_2.dcm",
                    "SC_rgb_jpeg_app14_dcmd.dcm", "examples_ybr_color.dcm",
                    "SC_rgb_dcmtk_+eb+cy+n1.dcm", "SC_rgb_dcmtk_+eb+cy+n2.dcm",
                    "SC_rgb_dcmtk_+eb+cy+np.dcm", "SC_rgb_dcmtk_+eb+cy+s2.dcm",
                    "SC_rgb_dcmtk_+eb+cy+s4.dcm", "color3d_jpeg_baseline.dcm"]},
    # A segmentation: ancilla reads it as a label map (`features`), not an image to convert.
    **{name: "DICOM SEG: ancilla reads it as a mask, not as an image series"
       for name in ["liver_1frame.dcm", "liver_expb_1frame.dcm", "liver.dcm", "liver_expb.dcm"]},
    # dcm2niix also writes the overlay plane as an image of its own (`_ROI1`).
    **{name: "dcm2niix writes the overlay plane as a second image; the images agree"
       for name in ["examples_overlay.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm"]},
    # dcm2niix's sidecar leaves SliceThickness out for these single CT slices.
    **{name: "dcm2niix's sidecar has no SliceThickness for this single slice; ancilla writes "
             "the file's"
       for name in ["CT_small.dcm", "693_J2KI.dcm", "693_J2KR.dcm",
                    "693_UNCI.dcm", "693_UNCR.dcm", "bad_sequence.dcm"]},
    "J2K_pixelrep_mismatch.dcm": "a signed CT whose JPEG 2000 codestream says unsigned: ancilla "
                                 "reads two's complement, as pydicom and GDCM (-2000 ... 1896); "
                                 "dcm2niix the unsigned samples (0 ... 8191); and dcm2niix's "
                                 "sidecar has no SliceThickness",
    # Siemens mosaic DWI at b 1000, one file: dcm2niix writes bval 0 and a zero bvec
    # ("Diffusion image without gradients: assuming 1 volume B=0 series"); ancilla the file's b
    # and direction, the bvec dcm2niix writes for the file in a series with the b 0 file.
    "siemens_dwi_1000.dcm": "a lone Siemens mosaic at b 1000: dcm2niix writes bval 0 and no "
                            "direction; ancilla 1000 and the file's direction",
    # heudiconv's files (checked by hand: every file of the b0dwiForFmap series together, the
    # tools agree).
    **{name: "a lone Siemens multiband mosaic DWI (b 5 or 1500): dcm2niix writes bval 0 and no "
             "direction; ancilla the file's b and direction"
       for name in ["b0dwi_for_fmap+00001.dcm", "b0dwi_for_fmap+00002.dcm",
                    "b0dwi_for_fmap+00003.dcm"]},
    "99+PhoenixDocument+00001.dcm": NOTHING,
    "MRI_102TD_PHA_S.MR.Chen_Matthews_1.3.1.2022.11.16.15.50.20.357.31204541.dcm":
        "Siemens XA enhanced MR, three frames each in a plane of its own: dcm2niix writes "
        "nothing; ancilla three one-slice volumes (each voxel where pydicom places it)",
    # pynetdicom's files.
    **{name: "dcm2niix's sidecar has no SliceThickness for this single slice; ancilla writes "
             "the file's"
       for name in ["CTImageStorage.dcm", "CTImageStorage_bad_meta.dcm"]},
    "SCImageStorage_Deflated.dcm": "dcm2niix writes nothing; ancilla converts it (pydicom reads "
                                   "the same values)",
}


def package_folder(name):
    """Where package `name` is installed (without importing it: heudiconv and pynetdicom are
    installed without their dependencies, for their test files only), or None."""
    spec = importlib.util.find_spec(name)
    return list(spec.submodule_search_locations)[0] if spec else None


def corpus():
    """(name, path) of every file: pydicom's test files, nibabel's, pydicom-data's, then
    heudiconv's and pynetdicom's."""
    pyd = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
    nib = os.path.join(os.path.dirname(nibabel.__file__), "nicom", "tests", "data")
    paths = sorted(glob.glob(pyd + "/*.dcm")) + [pyd + "/zipMR.gz"]
    paths += sorted(glob.glob(nib + "/*.dcm")) + sorted(glob.glob(nib + "/*.dcm.gz"))
    paths += sorted(glob.glob(os.path.join(os.path.dirname(data_store.__file__), "data", "*.dcm")))
    for package, data in (("heudiconv", "tests/data/**/*.dcm"),
                          ("pynetdicom", "tests/dicom_files/*.dcm")):
        folder = package_folder(package)
        if folder is None:
            sys.exit(f"{package} not found (pip install --no-deps {package})")
        paths += sorted(glob.glob(os.path.join(folder, data), recursive=True))
    return [(os.path.basename(p).removesuffix(".gz"), p) for p in paths if os.path.exists(p)]


def convert_both(path, name, case):
    os.makedirs(f"{case}/in")
    os.makedirs(f"{case}/dcm2niix")
    target = f"{case}/in/{name if name.endswith('.dcm') else name + '.dcm'}"
    if path.endswith(".gz"):
        with gzip.open(path) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
    else:
        shutil.copy(path, target)
    a = subprocess.run([ANCILLA, "--quiet", "convert", f"{case}/in", "--out", f"{case}/ancilla",
                        "--uncompressed"], capture_output=True, text=True)
    subprocess.run([DCM2NIIX, "-z", "n", "-f", "%s_%p", "-o", f"{case}/dcm2niix", f"{case}/in"],
                   capture_output=True, text=True)
    return a


def problems_of(case):
    found = differential.compare(f"{case}/ancilla", f"{case}/dcm2niix", 1e-4,
                                 differential.CONVERTER_KEYS)
    # dcm2niix names only the modalities it knows (MR, CT, PT, ...): none is not a difference
    return [p for p in found if " Modality: None vs ancilla's " not in p]


def main():
    for tool, hint in ((ANCILLA, "cargo build --release, or set ANCILLA_BIN"),
                       (DCM2NIIX, "pip install dcm2niix, or set DCM2NIIX")):
        if shutil.which(tool) is None:
            print(f"{tool} not found ({hint})", file=sys.stderr)
            return 2
    keep_root = os.path.abspath("real-files-differential")
    shutil.rmtree(keep_root, ignore_errors=True)
    unexpected, stale, departed, agreed = [], [], 0, 0
    files = corpus()
    with tempfile.TemporaryDirectory() as work:
        for name, path in files:
            case = os.path.join(work, name)
            a = convert_both(path, name, case)
            if a.returncode != 0:
                found = [f"ancilla convert exited {a.returncode}: {a.stderr.strip()[-300:]}"]
            else:
                found = problems_of(case)
            if not found:
                agreed += 1
                if name in DEPARTURES:
                    stale.append(name)
                continue
            if name in DEPARTURES:
                departed += 1
                continue
            unexpected.append(name)
            print(f"{name}: differs")
            for p in found[:6]:
                print(f"    {p}")
            shutil.copytree(case, os.path.join(keep_root, name))
    print(f"{len(files)} real files: {agreed} agree, {departed} differ as stated "
          f"({len(DEPARTURES)} departures listed), {len(unexpected)} differ otherwise")
    for name in stale:
        print(f"stale departure (the tools now agree): {name}: {DEPARTURES[name]}")
    return 1 if unexpected or not files else 0


if __name__ == "__main__":
    sys.exit(main())
