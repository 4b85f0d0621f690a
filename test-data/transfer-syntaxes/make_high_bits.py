"""Writes jpeg-lossless-high-bits/ (run once; tests never call Python): the 3-slice series of
make_fixtures.py (64x48, v = 40*k + 2*row + col + 10), 12 of 16 bits stored (HighBit 11,
unsigned), in JPEG Lossless SV1 (1.2.840.10008.1.2.4.70) whose 16-bit samples also carry bits
12-15 (v | 0xA000), which are not the value's (PS3.5 8.1.1): read right, the values are v.
Encoded by libjpeg-turbo through imagecodecs (lossless, predictor 1, 16 bits a sample).
Usage: python make_high_bits.py (needs pydicom, numpy, imagecodecs).
"""
import os

import imagecodecs
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGLosslessSV1, MRImageStorage

ROWS, COLS = 48, 64


def values(k):
    r, c = np.mgrid[0:ROWS, 0:COLS]
    return (40 * k + 2 * r + c + 10).astype(np.uint16)


def dataset(k):
    """As make_fixtures.py's base(k, 16, 13), with 12 of 16 bits stored."""
    ds = Dataset()
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = f"1.2.826.0.1.3680043.10.999.13.{k + 1}"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.999.1"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.999.13"
    ds.Modality = "MR"
    ds.PatientID = "FIXTURE"
    ds.SeriesNumber = 13
    ds.InstanceNumber = k + 1
    ds.ImagePositionPatient = [0, 0, 5 * k]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [1, 1]
    ds.SliceThickness = 5
    ds.Rows, ds.Columns = ROWS, COLS
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    return ds

os.makedirs("jpeg-lossless-high-bits", exist_ok=True)
for k in range(3):
    ds = dataset(k)
    stream = imagecodecs.jpeg8_encode(values(k) | 0xA000, lossless=True, predictor=1,
                                      bitspersample=16)
    ds.PixelData = encapsulate([bytes(stream)])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = JPEGLosslessSV1
    ds.file_meta = meta
    ds.save_as(f"jpeg-lossless-high-bits/{k}.dcm", enforce_file_format=True)
