"""Regenerates the 12-bit lossy JPEG fixtures (JPEG Extended, process 4, 1.2.840.10008.1.2.4.51).

Run once; tests never call Python or the encoders. Needs pydicom 3, numpy, imagecodecs (its
libjpeg-turbo 3.1 encodes and decodes 12-bit JPEG) and DCMTK (Debian `dcmtk`: dcmcjpeg,
dcmdjpeg 3.6.7). Each folder is a 3-slice axial MR series of 64x48 pixels, 12 of 16 bits stored,
whose values before compression are known analytically:
    v = 13 * (40*k + 2*row + col + 10) + 800 * (10 <= row < 26 and 20 <= col < 41)
(k = slice; the square's edges make large AC coefficients). Beside each series, the stored values
another decoder gives for its files, as raw little-endian uint16 (slice, row, column order):
  jpeg-extended-12/        encoded by DCMTK's dcmcjpeg +ee (IJG 6b, 12-bit), its reference
                           dcmtk-decoded.u16 from dcmdjpeg;
  jpeg-extended-12-turbo/  encoded by libjpeg-turbo 3.1.3 through imagecodecs (optimised Huffman
                           tables), its reference turbo-decoded.u16 from imagecodecs.jpeg8_decode.
Usage: python make_jpeg12.py  (from this folder)
"""
import os
import subprocess
import tempfile

import imagecodecs
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, JPEGExtended12Bit, MRImageStorage

ROWS, COLS = 48, 64


def values(k):
    r, c = np.mgrid[0:ROWS, 0:COLS]
    v = 13 * (40 * k + 2 * r + c + 10) + 800 * ((r >= 10) & (r < 26) & (c >= 20) & (c < 41))
    return v.astype(np.uint16)


def dataset(k, series):
    ds = Dataset()
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = f"1.2.826.0.1.3680043.10.999.{series}.{k + 1}"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.999.1"
    ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.10.999.{series}"
    ds.Modality = "MR"
    ds.PatientID = "FIXTURE"
    ds.SeriesNumber = series
    ds.InstanceNumber = k + 1
    ds.ImagePositionPatient = [0, 0, 5 * k]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [1, 1]
    ds.SliceThickness = 5
    ds.Rows, ds.Columns = ROWS, COLS
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    return ds


def save(ds, ts, path):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ts
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)


os.makedirs("jpeg-extended-12", exist_ok=True)
os.makedirs("jpeg-extended-12-turbo", exist_ok=True)
dcmtk, turbo = [], []
with tempfile.TemporaryDirectory() as tmp:
    for k in range(3):
        v = values(k)
        # DCMTK: a native twin, then dcmcjpeg +ee, then dcmdjpeg's values of the result.
        ds = dataset(k, 51)
        ds.PixelData = v.tobytes()
        native = os.path.join(tmp, f"{k}.dcm")
        save(ds, ExplicitVRLittleEndian, native)
        out = os.path.join("jpeg-extended-12", f"{k}.dcm")
        subprocess.run(["dcmcjpeg", "+ee", native, out], check=True)
        back = os.path.join(tmp, f"{k}-back.dcm")
        subprocess.run(["dcmdjpeg", out, back], check=True)
        dcmtk.append(pydicom.dcmread(back).pixel_array.astype("<u2"))
        # libjpeg-turbo through imagecodecs, encapsulated by pydicom.
        stream = imagecodecs.jpeg8_encode(v, level=90, bitspersample=12, optimize=True)
        turbo.append(imagecodecs.jpeg8_decode(stream).astype("<u2"))
        ds = dataset(k, 52)
        ds.PixelData = encapsulate([stream])
        ds["PixelData"].VR = "OB"
        save(ds, JPEGExtended12Bit, os.path.join("jpeg-extended-12-turbo", f"{k}.dcm"))
np.stack(dcmtk).tofile(os.path.join("jpeg-extended-12", "dcmtk-decoded.u16"))
np.stack(turbo).tofile(os.path.join("jpeg-extended-12-turbo", "turbo-decoded.u16"))
