#!/usr/bin/env bash
# Conversion of one clinical-size CT series (512 × 512 × 240, int16: 121 MB of DICOM) against
# dcm2niix, with the read of the same files as the floor, all timed in the same run.
# The phantom cohort of `cargo bench --bench scan_convert` has small images (128 × 128 PET, MRI
# of 256 × 256 at most); this is the size of a diagnostic CT. The series is written by vtk-dicom's
# niftitodicom (not by ancilla) from a NIfTI image made here with numpy: smooth structure plus
# noise, 0.7 × 0.7 × 1.25 mm.
# Timed, best of 3 each, alternating: the read (cat of every file), `ancilla convert
# --uncompressed` and `dcm2niix -z n`, then `ancilla convert` and `dcm2niix -z y` (gzip).
# Usage: benches/large-series.sh   (TMPDIR=/dev/shm to keep the disk out of it)
# Needs niftitodicom (apt-get install vtk-dicom-tools), python3 with numpy and nibabel, dcm2niix
# (pip install dcm2niix); ANCILLA_BIN, or a release build made here.
set -euo pipefail
cd "$(dirname "$0")/.."
# Builds the release binary unless ANCILLA_BIN is set (as benches/pipeline.sh does).
if [ -z "${ANCILLA_BIN:-}" ]; then
  cargo build --release --quiet
  ANCILLA_BIN="${CARGO_TARGET_DIR:-target}/release/ancilla"
fi
bin=$(realpath "$ANCILLA_BIN")
for tool in niftitodicom dcm2niix; do
  command -v "$tool" >/dev/null || { echo "$tool not found (see the header of $0)"; exit 2; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work/ct.nii" <<'PY'
import sys
import nibabel as nib
import numpy as np
rng = np.random.default_rng(0)
i, j, k = np.indices((512, 512, 240), dtype=np.float32)
data = (1000 * np.sin(i / 17) + 800 * np.cos(j / 23) + 3 * k
        + rng.normal(0, 30, i.shape)).astype(np.int16)
affine = np.diag([0.7, 0.7, 1.25, 1.0])
affine[:3, 3] = [-180, -180, -300]
img = nib.Nifti1Image(data, affine)
img.set_sform(affine, 1)
img.set_qform(affine, 1)
img.to_filename(sys.argv[1])
PY
niftitodicom -s -o "$work/dicom" "$work/ct.nii" --modality CT
rm "$work/ct.nii"
files=$(ls "$work/dicom" | wc -l)
mb=$(du -sm "$work/dicom" | cut -f1)
timed() { # timed CMD...: wall seconds of CMD (OUT replaced by a fresh directory)
  local out
  out=$(mktemp -d -p "$work")
  local args=("${@//OUT/$out}")
  sync
  local s e
  s=$(date +%s.%N); "${args[@]}" >/dev/null 2>&1; e=$(date +%s.%N)
  python3 -c "print($e - $s)"
}
min() { python3 -c "import sys; print(min(map(float, sys.argv[1:])))" "$@"; }
cat "$work"/dicom/* >/dev/null   # warm the cache
read_ts=(); raw_ts=(); d_raw_ts=(); gz_ts=(); d_gz_ts=()
for _ in 1 2 3; do
  read_ts+=("$(timed sh -c "cat $work/dicom/* > /dev/null")")
  raw_ts+=("$(timed "$bin" --quiet convert "$work/dicom" --out OUT/a --uncompressed)")
  d_raw_ts+=("$(timed dcm2niix -z n -o OUT "$work/dicom")")
  gz_ts+=("$(timed "$bin" --quiet convert "$work/dicom" --out OUT/a)")
  d_gz_ts+=("$(timed dcm2niix -z y -o OUT "$work/dicom")")
done
python3 - "$files" "$mb" "$(min "${read_ts[@]}")" "$(min "${raw_ts[@]}")" \
  "$(min "${d_raw_ts[@]}")" "$(min "${gz_ts[@]}")" "$(min "${d_gz_ts[@]}")" <<'PY'
import sys
files, mb = int(sys.argv[1]), int(sys.argv[2])
read, raw, d_raw, gz, d_gz = map(float, sys.argv[3:])
print(f"one CT series: {files} files, {mb} MB (512 x 512 x 240, int16), best of 3, warm cache")
print(f"read (cat)                  {read:7.3f} s")
print(f"ancilla convert (.nii)      {raw:7.3f} s  {raw / read:5.1f}x the read, "
      f"{d_raw / raw:4.2f}x faster than dcm2niix")
print(f"dcm2niix -z n               {d_raw:7.3f} s")
print(f"ancilla convert (.nii.gz)   {gz:7.3f} s  {d_gz / gz:4.2f}x faster than dcm2niix")
print(f"dcm2niix -z y               {d_gz:7.3f} s")
PY
