#!/usr/bin/env bash
# Regenerates nm.dcm here (run once; tests never call it): XMedCon 0.23.0 (Debian's `medcon`)
# writes a NIfTI image of 7 columns x 6 rows x 5 slices, int16, voxel (i, j, k) = i + 7j + 42k,
# pixdim 1.5 x 1.2 x 3 mm, as one NM multi-frame file (ImageType ... RECON TOMO). Its
# DetectorInformationSequence holds ImagePositionPatient and ImageOrientationPatient all zero:
# XMedCon's placeholder for no geometry. Needs medcon, python3 with numpy and nibabel.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work/image.nii" <<'PY'
import sys
import nibabel as nib
import numpy as np
affine = np.diag([-1.5, 1.2, 3.0, 1.0])
data = np.arange(7 * 6 * 5, dtype=np.int16).reshape((5, 6, 7)).transpose(2, 1, 0)
nib.save(nib.Nifti1Image(data, affine), sys.argv[1])
PY
(cd "$work" && medcon -f image.nii -c dicom -o nm >/dev/null)
cp "$work/nm.dcm" nm.dcm
