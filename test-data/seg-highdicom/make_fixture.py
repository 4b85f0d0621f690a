"""Write the SEG fixture of tests/quant.rs with an independent implementation (highdicom 0.28,
pydicom 3): a 4-slice CT series of 6 x 5 pixels (30 pixels per frame, so binary SEG frames start
inside a byte), oblique rows, and SEGs on it, two segments each: BINARY, FRACTIONAL (native and
RLE Lossless) and LABELMAP (native and RLE Lossless; its segment 0 the background; and, widened
by pydicom, in 16 bits).

Run once: python make_fixture.py  (pip install highdicom). The expected voxel counts it prints are
committed in the test as facts. Synthetic data, no PHI; CC0.
"""
import os
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, CTImageStorage, generate_uid
import highdicom as hd

here = os.path.dirname(os.path.abspath(__file__))
ct_dir = os.path.join(here, "ct")
os.makedirs(ct_dir, exist_ok=True)

rows, cols, nslices = 5, 6, 4
study, series, frame = "2.25.1001", "2.25.1002", "2.25.1003"
# Rows along (cos 30°, sin 30°, 0), columns along (-sin 30°, cos 30°, 0): in-plane rotation.
c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
iop = [c, s, 0.0, -s, c, 0.0]
spacing = [0.8, 0.7]  # between rows, between columns
dz = 2.5
images = []
for k in range(nslices):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = f"2.25.1100{k}"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
    ds.PatientID, ds.PatientName = "PHANTOM-SEG", "PHANTOM^SEG"
    ds.PatientBirthDate, ds.PatientSex = "", "O"
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20000101", "000000", "1", ""
    ds.ReferringPhysicianName = ""
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 1, k + 1
    ds.Manufacturer = "ancilla fixture"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ImageOrientationPatient = [f"{v:.6f}" for v in iop]
    ds.ImagePositionPatient = [10.0, -20.0, 30.0 + k * dz]
    ds.PixelSpacing, ds.SliceThickness = spacing, dz
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    px = (np.arange(rows * cols, dtype=np.int16).reshape(rows, cols) + 1000 + 100 * k)
    ds.PixelData = px.tobytes()
    ds.save_as(os.path.join(ct_dir, f"CT{k + 1:02d}.dcm"), enforce_file_format=True)
    images.append(ds)

# Masks [slice, row, col]: segment 1 a block on slices 1-2, segment 2 a single voxel on slice 3
# and a column on slice 0.
m1 = np.zeros((nslices, rows, cols), bool)
m1[1:3, 1:4, 2:5] = True
m2 = np.zeros((nslices, rows, cols), bool)
m2[3, 4, 5] = True
m2[0, :, 0] = True
mask = np.stack([m1, m2], axis=-1)
desc = [
    hd.seg.SegmentDescription(
        segment_number=i + 1,
        segment_label=label,
        segmented_property_category=hd.sr.CodedConcept("91723000", "SCT", "Anatomical Structure"),
        segmented_property_type=hd.sr.CodedConcept("123037004", "SCT", "Anatomical Structure"),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    for i, label in enumerate(["Lesion A", "Lesion-B"])
]
# Fractional: 0.6 → in the segment, 0.4 → out (threshold 0.5).
fractional = np.where(mask, 0.6, 0.0) + np.where(np.roll(mask, 1, axis=2) & ~mask, 0.4, 0.0)
types = hd.seg.SegmentationTypeValues
for name, kind, pixels, syntax in [
    ("seg_binary.dcm", types.BINARY, mask, ExplicitVRLittleEndian),
    ("seg_fractional.dcm", types.FRACTIONAL, fractional, ExplicitVRLittleEndian),
    ("seg_fractional_rle.dcm", types.FRACTIONAL, fractional, RLELossless),
    ("seg_labelmap.dcm", types.LABELMAP, mask, ExplicitVRLittleEndian),
    ("seg_labelmap_rle.dcm", types.LABELMAP, mask, RLELossless),
]:
    seg = hd.seg.Segmentation(
        source_images=images,
        pixel_array=pixels.astype(np.float32) if kind.value == "FRACTIONAL" else pixels,
        segmentation_type=kind,
        segment_descriptions=desc,
        series_instance_uid="2.25.1200" + str(len(name)),
        series_number=2,
        sop_instance_uid="2.25.1300" + str(len(name)),
        instance_number=1,
        manufacturer="ancilla fixture",
        manufacturer_model_name="highdicom",
        software_versions=hd.__version__,
        device_serial_number="0",
        max_fractional_value=255,
        omit_empty_frames=True,
        transfer_syntax_uid=syntax,
    )
    seg.save_as(os.path.join(here, name))
# LABELMAP in 16 bits (what highdicom writes past 255 segments), made from the 8-bit one by
# pydicom: the same frames, each pixel widened to two bytes.
lm = pydicom.dcmread(os.path.join(here, "seg_labelmap.dcm"))
wide = lm.pixel_array.astype(np.uint16)
lm.BitsAllocated, lm.BitsStored, lm.HighBit = 16, 16, 15
lm.PixelData = wide.tobytes()
lm["PixelData"].VR = "OW"
lm.SOPInstanceUID = lm.file_meta.MediaStorageSOPInstanceUID = "2.25.130016"
lm.save_as(os.path.join(here, "seg_labelmap16.dcm"))
print("segment 1 voxels", int(m1.sum()), "segment 2 voxels", int(m2.sum()))
