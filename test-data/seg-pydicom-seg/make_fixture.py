"""Regenerates seg.dcm here (run once; tests never call Python): a DICOM SEG written by
pydicom-seg 0.4.1 (MultiClassWriter, with SimpleITK 2.5 and pydicom 2.4: pydicom-seg does not
run with pydicom 3) on the MR series of ../rtstruct-rt-utils/mr. pydicom-seg copies the source
images' FrameOfReferenceUID and then overwrites it with a new one (its segmentation_dataset.py),
so the SEG's frame of reference is not the series'; its ReferencedSeriesSequence names the
series. Labels (on the series' grid, k = slice from the lowest, values 256*k + 16*row + column):
1 `box` rows 2-6, columns 3-9 on slices 1-3; 2 `bar` row 12, columns 4-11 on slice 4; 3 `dot`
row 8, column 13 on slice 0. The script prints each label's voxel count and the sum of its
voxels' values, which README.md and the test state.
Usage: python make_fixture.py (needs pydicom<3, pydicom-seg 0.4.1, SimpleITK, numpy).
"""
import glob
import json

import numpy as np
import pydicom
import pydicom_seg
import SimpleITK as sitk

reader = sitk.ImageSeriesReader()
files = reader.GetGDCMSeriesFileNames("../rtstruct-rt-utils/mr")
reader.SetFileNames(files)
image = reader.Execute()
values = sitk.GetArrayFromImage(image).astype(np.int64)  # (slices, rows, columns), SimpleITK's order
k_of = (values[:, 0, 0] // 256).astype(int)  # each array slice's k
labels = np.zeros(values.shape, np.uint8)
at = {k: int(np.where(k_of == k)[0][0]) for k in range(len(k_of))}
for k in (1, 2, 3):
    labels[at[k], 2:7, 3:10] = 1
labels[at[4], 12, 4:12] = 2
labels[at[0], 8, 13] = 3
seg_image = sitk.GetImageFromArray(labels)
seg_image.CopyInformation(image)
names = {1: "box", 2: "bar", 3: "dot"}
meta = {
    "ContentCreatorName": "Reader1", "ClinicalTrialSeriesID": "Session1",
    "ClinicalTrialTimePointID": "1", "SeriesDescription": "Segmentation", "SeriesNumber": "300",
    "InstanceNumber": "1", "ContentLabel": "SEGMENTATION", "ContentDescription": "fixture",
    "ClinicalTrialCoordinatingCenterName": "fixture", "BodyPartExamined": "",
    "segmentAttributes": [[{
        "labelID": n, "SegmentDescription": name, "SegmentLabel": name,
        "SegmentAlgorithmType": "MANUAL",
        "SegmentedPropertyCategoryCodeSequence": {"CodeValue": "49755003", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Morphologically Altered Structure"},
        "SegmentedPropertyTypeCodeSequence": {"CodeValue": "4147007", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Mass"},
    } for n, name in names.items()]],
}
with open("/tmp/seg-meta.json", "w") as f:
    json.dump(meta, f)
template = pydicom_seg.template.from_dcmqi_metainfo("/tmp/seg-meta.json")
writer = pydicom_seg.MultiClassWriter(template=template, inplane_cropping=False,
                                      skip_empty_slices=True, skip_missing_segment=False)
seg = writer.write(seg_image, [pydicom.dcmread(f) for f in files])
source = pydicom.dcmread(files[0])
assert seg.FrameOfReferenceUID != source.FrameOfReferenceUID
assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == source.SeriesInstanceUID
seg.save_as("seg.dcm")
for n, name in names.items():
    mask = labels == n
    print(f"{name}: {int(mask.sum())} voxels, values summing to {int(values[mask].sum())}")
