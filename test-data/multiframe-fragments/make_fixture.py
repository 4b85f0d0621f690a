"""Writes a 3-frame image cut into more fragments than frames with an empty Basic Offset Table,
in four syntaxes, from ../legacy-converted/pet/lc.dcm (its headers: LC Enhanced PET, 3 frames,
per-frame positions). Its 8 x 8 frames are replaced by 48 x 64 frames of 16-bit stored values
known analytically, v = (7919 r + 104729 c + 13 k) mod 4001 (r row, c column, k frame, from 0):
noise-like, so that every compressed frame takes several 1 KiB fragments.

native.dcm: Explicit VR Little Endian (pydicom 3.0.2).
jpeg_lossless.dcm: DCMTK 3.6.7 `dcmcjpeg +fs 1 -ot` (JPEG lossless SV1, 1 KiB fragments, empty
  Basic Offset Table).
jpeg_ls.dcm: DCMTK `dcmcjpls +fs 1 -ot` (JPEG-LS lossless).
rle.dcm: DCMTK `dcmcrle +fs 1 -ot` (RLE; PS3.5 asks for one fragment a frame, DCMTK warns).
j2k.dcm: GDCM 3.0 `gdcmconv --j2k` (JPEG 2000 lossless, one fragment a frame, with a table),
  then each frame's fragment cut into 700-byte fragments and the table emptied here.
Run here with pydicom, Debian's dcmtk and libgdcm-tools."""
import struct
import subprocess

import numpy as np
import pydicom
from pydicom.encaps import generate_fragments

ds = pydicom.dcmread("../legacy-converted/pet/lc.dcm")
k, r, c = np.indices((3, 48, 64))
v = ((7919 * r + 104729 * c + 13 * k) % 4001).astype(np.uint16)
ds.Rows, ds.Columns = 48, 64
ds.BitsStored, ds.HighBit = 16, 15
ds.PixelData = v.tobytes()
ds.save_as("native.dcm", enforce_file_format=True)
for tool, out in [("dcmcjpeg", "jpeg_lossless.dcm"), ("dcmcjpls", "jpeg_ls.dcm"), ("dcmcrle", "rle.dcm")]:
    subprocess.run([tool, "+fs", "1", "-ot", "native.dcm", out], check=True)
subprocess.run(["gdcmconv", "--j2k", "native.dcm", "j2k.dcm"], check=True)
j2k = pydicom.dcmread("j2k.dcm")
items = [b"\xfe\xff\x00\xe0\x00\x00\x00\x00"]  # an empty Basic Offset Table
for frame in list(generate_fragments(j2k.PixelData))[1:]:
    for at in range(0, len(frame), 700):
        piece = frame[at:at + 700]
        piece += b"\0" * (len(piece) % 2)
        items.append(b"\xfe\xff\x00\xe0" + struct.pack("<I", len(piece)) + piece)
j2k.PixelData = b"".join(items)
j2k.save_as("j2k.dcm")
