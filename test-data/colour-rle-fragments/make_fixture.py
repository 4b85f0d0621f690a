"""Writes native.dcm (pydicom 3.0.2) and, through DCMTK 3.6.7 (`dcmcrle +fs 1`, Debian dcmtk),
rle_fragments.dcm: one 64 x 48 RGB Secondary Capture image whose samples are known
analytically, R = (3c + 5r) mod 256, G = 7r mod 256, B = c^2 mod 256 (r row, c column).
Then the same samples as YBR_FULL: ybr_full_native.dcm, and ybr_full_rle.dcm (`dcmcrle`, one
fragment)."""
import subprocess

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

rows, cols = 48, 64
r, c = np.indices((rows, cols))
rgb = np.stack([(3 * c + 5 * r) % 256, (7 * r) % 256, (c * c) % 256], axis=-1).astype(np.uint8)
ds = Dataset()
ds.file_meta = FileMetaDataset()
ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.543.9.1.1"
ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds.SOPClassUID = SecondaryCaptureImageStorage
ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.543.9.1.2"
ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.543.9.1.3"
ds.Modality = "OT"
ds.PatientID = "RLE-FIXTURE"
ds.SeriesNumber = 1
ds.InstanceNumber = 1
ds.SamplesPerPixel = 3
ds.PhotometricInterpretation = "RGB"
ds.PlanarConfiguration = 0
ds.Rows, ds.Columns = rows, cols
ds.BitsAllocated = ds.BitsStored = 8
ds.HighBit = 7
ds.PixelRepresentation = 0
ds.PixelData = rgb.tobytes()
ds.save_as("native.dcm", enforce_file_format=True)
subprocess.run(["dcmcrle", "+fs", "1", "native.dcm", "rle_fragments.dcm"], check=True)
ds.PhotometricInterpretation = "YBR_FULL"
ds.save_as("ybr_full_native.dcm", enforce_file_format=True)
subprocess.run(["dcmcrle", "ybr_full_native.dcm", "ybr_full_rle.dcm"], check=True)
