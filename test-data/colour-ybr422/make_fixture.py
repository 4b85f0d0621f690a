"""Makes ybr422_distinct_y.dcm and pydicom_rgb.json (run with pydicom 3.0.2 and numpy).

pydicom's SC_ybr_full_422_uncompressed.dcm has Y1 == Y2 in every pair of pixels, so it cannot
tell a reader that swaps the two. ybr422_distinct_y.dcm is the same file with the second Y of
each pair replaced by a ramp (column + row, mod 256) and its identifiers blanked; the reference
for both files is pydicom's own pixel_array (YCbCr converted to RGB).
"""
import json

import numpy as np
import pydicom

SOURCE = "SC_ybr_full_422_uncompressed.dcm"
MADE = "ybr422_distinct_y.dcm"

ds = pydicom.dcmread(SOURCE)
pairs = np.frombuffer(ds.PixelData, np.uint8).reshape(ds.Rows, ds.Columns // 2, 4).copy()
rows, half = np.indices((ds.Rows, ds.Columns // 2))
pairs[:, :, 1] = (2 * half + 1 + rows) % 256
ds.PixelData = pairs.tobytes()
for keyword in ("PatientName", "PatientID", "ReferringPhysicianName", "StudyDate"):
    if keyword in ds:
        setattr(ds, keyword, "")
ds.save_as(MADE, enforce_file_format=True)

reference = {}
for name in (SOURCE, MADE):
    a = pydicom.dcmread(name).pixel_array
    assert a.shape == (100, 100, 3)
    rgb = [[a[r, c].tolist() for c in range(0, 100, 3)] for r in range(0, 100, 3)]
    reference[name] = {"every": 3, "rgb": rgb}
with open("pydicom_rgb.json", "w") as f:
    json.dump(reference, f, separators=(",", ":"))
