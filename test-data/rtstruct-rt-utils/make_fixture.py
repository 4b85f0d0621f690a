"""Regenerates this folder (run once; tests never call Python): a small MR series written with
pydicom and an RTSTRUCT drawn on it by rt-utils 1.2.7 (`RTStructBuilder.add_roi`: each mask
slice traced with OpenCV's findContours, through the centres of the mask's boundary voxels,
around holes too; a lone voxel as a one-point contour, a line of voxels as a two-point one).

Series `mr/`: 6 axial slices of 16 x 16, pixel spacing 0.8 mm, 2 mm apart, files written in
descending position; stored value 256*k + 16*row + column (k = slice from the lowest), so each
voxel's value says where it is. ROIs: `blob` an ellipsoid of 3 slices, `ring` a 7 x 7 square with
a 3 x 3 hole on one slice, `dot` one voxel, `line` four voxels in a row. The script prints each
ROI's voxel count and the sum of its voxels' values (read back through rt-utils' own series
order), which README.md and the test state; rt-utils reads every mask back unchanged.
Usage: python make_fixture.py (needs pydicom 3, numpy, rt-utils 1.2.7 with opencv-python).
"""
import os

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage
from rt_utils import RTStructBuilder

ROOT = "1.2.826.0.1.3680043.10.999.78"
N, SLICES = 16, 6
os.makedirs("mr", exist_ok=True)
r, c = np.mgrid[0:N, 0:N]
for k in range(SLICES):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{ROOT}.2.{k + 1}"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = f"{ROOT}.1", f"{ROOT}.2"
    ds.FrameOfReferenceUID = f"{ROOT}.9"
    ds.PatientID, ds.PatientName, ds.PatientSex, ds.PatientBirthDate = "RT-01", "RT^Phantom", "O", ""
    ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "", ""
    ds.StudyDate, ds.StudyTime, ds.SeriesDate, ds.SeriesTime = "20240102", "100000", "20240102", "100000"
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "MR", 2, SLICES - k
    ds.Manufacturer, ds.SeriesDescription = "SIEMENS", "t2_tse_ax"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NORM"]
    ds.ScanningSequence, ds.SequenceVariant, ds.MRAcquisitionType = "SE", "SK", "2D"
    ds.EchoTime, ds.RepetitionTime = 90, 4000
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [-6.0, -6.0, 10.0 + 2.0 * k]
    ds.PixelSpacing, ds.SliceThickness, ds.SpacingBetweenSlices = [0.8, 0.8], 2, 2
    ds.Rows = ds.Columns = N
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation = 15, 0
    ds.PixelData = (256 * k + 16 * r + c).astype(np.uint16).tobytes()
    ds.save_as(f"mr/{SLICES - k:02d}.dcm", enforce_file_format=True)

builder = RTStructBuilder.create_new(dicom_series_path="mr")
images = builder.series_data  # rt-utils' own slice order: masks are (rows, columns, its slices)
z = np.array([float(ds.ImagePositionPatient[2]) for ds in images])
k_of = np.round((z - 10.0) / 2.0).astype(int)  # slice index from the lowest, per mask slice
masks = {}
kk, rr, cc = np.meshgrid(k_of, np.arange(N), np.arange(N), indexing="ij")
blob = ((kk - 2.5) / 1.6) ** 2 + ((rr - 7.2) / 5.1) ** 2 + ((cc - 8.4) / 4.3) ** 2 <= 1
masks["blob"] = np.transpose(blob, (1, 2, 0))
ring = np.zeros((N, N, len(images)), bool)
at = int(np.where(k_of == 4)[0][0])
ring[3:10, 5:12, at] = True
ring[5:8, 7:10, at] = False
masks["ring"] = ring
dot = np.zeros_like(ring)
dot[12, 2, int(np.where(k_of == 1)[0][0])] = True
masks["dot"] = dot
line = np.zeros_like(ring)
line[13, 6:10, int(np.where(k_of == 0)[0][0])] = True
masks["line"] = line
for name, mask in masks.items():
    builder.add_roi(mask=mask, name=name)
builder.save("rtstruct.dcm")
back = RTStructBuilder.create_from(dicom_series_path="mr", rt_struct_path="rtstruct.dcm")
values = np.stack([ds.pixel_array for ds in images], axis=-1).astype(np.int64)
for name, mask in masks.items():
    assert np.array_equal(back.get_roi_mask_by_name(name), mask), name
    print(f"{name}: {int(mask.sum())} voxels, values summing to {int(values[mask].sum())}")
