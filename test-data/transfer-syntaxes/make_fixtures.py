"""Regenerates the compressed fixtures of this folder (run once; tests never call Python).

Each file is a 3-slice axial MR series (64x48 pixels, uint16, values known analytically:
v = 40*k + 2*row + col + 10) compressed with one transfer syntax by pydicom 3 (RLE: pydicom's
own encoder; JPEG 2000 lossless: pylibjpeg-openjpeg; JPEG baseline 8-bit: Pillow, lossy; JPEG-LS
lossless and near-lossless: CharLS through pyjpegls 1.5.1). The uncompressed twin is written too.
Usage: python make_fixtures.py (needs pydicom, numpy, pylibjpeg-openjpeg, pillow, pyjpegls).
"""
import io
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (ExplicitVRLittleEndian, RLELossless, JPEG2000Lossless, JPEGBaseline8Bit,
                         JPEGLSLossless, JPEGLSNearLossless, MRImageStorage)
from PIL import Image

ROWS, COLS = 48, 64


def values(k, bits):
    r, c = np.mgrid[0:ROWS, 0:COLS]
    v = 40 * k + 2 * r + c + 10
    return v.astype(np.uint8 if bits == 8 else np.uint16)


def base(k, bits, series):
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
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    return ds


def save(ds, ts, path):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ts
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)


for k in range(3):
    ds = base(k, 16, 2)
    ds.PixelData = values(k, 16).tobytes()
    save(ds, ExplicitVRLittleEndian, f"native/{k}.dcm")

    ds = base(k, 16, 3)
    ds.PixelData = values(k, 16).tobytes()
    ds.file_meta = FileMetaDataset(); ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.compress(RLELossless, values(k, 16))
    save(ds, RLELossless, f"rle/{k}.dcm")

    ds = base(k, 16, 4)
    ds.PixelData = values(k, 16).tobytes()
    ds.file_meta = FileMetaDataset(); ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.compress(JPEG2000Lossless, values(k, 16))
    save(ds, JPEG2000Lossless, f"j2k/{k}.dcm")

    ds = base(k, 8, 5)
    buf = io.BytesIO()
    Image.fromarray(values(k, 8)).save(buf, format="JPEG", quality=95)
    ds.PixelData = encapsulate([buf.getvalue()])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    save(ds, JPEGBaseline8Bit, f"jpeg-baseline/{k}.dcm")

    # JPEG-LS (CharLS): lossless 16 bit; signed 12 of 16 bits holding v - 150 (negative values);
    # near-lossless 8 bit with NEAR = 2 (every value within 2 of v).
    ds = base(k, 16, 6)
    ds.PixelData = values(k, 16).tobytes()
    ds.file_meta = FileMetaDataset(); ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.compress(JPEGLSLossless, values(k, 16), encoding_plugin="pyjpegls", generate_instance_uid=False)
    save(ds, JPEGLSLossless, f"jpeg-ls/{k}.dcm")

    ds = base(k, 16, 7)
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 1
    signed = (values(k, 16).astype(np.int16) - 150)
    ds.PixelData = signed.tobytes()
    ds.file_meta = FileMetaDataset(); ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.compress(JPEGLSLossless, signed, encoding_plugin="pyjpegls", generate_instance_uid=False)
    save(ds, JPEGLSLossless, f"jpeg-ls-signed/{k}.dcm")

    ds = base(k, 8, 8)
    ds.PixelData = values(k, 8).tobytes()
    ds.file_meta = FileMetaDataset(); ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.compress(JPEGLSNearLossless, values(k, 8), encoding_plugin="pyjpegls", jls_error=2,
                generate_instance_uid=False)
    save(ds, JPEGLSNearLossless, f"jpeg-ls-near/{k}.dcm")

# JPEG 2000 whose codestream says unsigned while the header says signed (PixelRepresentation 1,
# 12 of 16 bits stored), as pydicom's J2K_pixelrep_mismatch.dcm (pydicom issue 1149): the
# codestream holds the 12-bit two's complement pattern of v - 150 as unsigned samples
# (pylibjpeg-openjpeg 2.6.0, precision 12, unsigned). Read right, the values are v - 150.
import openjpeg  # noqa: E402
from pydicom.encaps import encapsulate as _encapsulate  # noqa: E402
for k in range(3):
    ds = base(k, 16, 11)
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 1
    pattern = ((values(k, 16).astype(np.int32) - 150) & 0xFFF).astype(np.uint16)
    stream = openjpeg.encode(pattern, bits_stored=12, photometric_interpretation=2,
                             use_mct=False, codec_format=0)
    ds.PixelData = _encapsulate([bytes(stream)])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    save(ds, JPEG2000Lossless, f"j2k-unsigned-stream/{k}.dcm")
