#!/usr/bin/env bash
# Features of the phantom PET (SUVbw, 5 ROIs) and T2 MRI (tumour, kidney): `ancilla features` vs
# pyradiomics (shape + firstorder only, the classes that overlap IBSI's morphology and intensity
# statistics) on the same NIfTI images and masks, same run; wall time of each (best of 5 for
# ancilla; one pyradiomics pass, its import excluded) and the largest relative difference per
# shared feature. Target (issue 4): ≥ 20× faster, equal values on the shared features.
# Needs pyradiomics: python3 -m venv v && v/bin/pip install numpy versioneer &&
#   v/bin/pip install --no-build-isolation pyradiomics   (PYTHON=v/bin/python benches/pyradiomics.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c "import radiomics" 2>/dev/null; then
  echo "pyradiomics not importable by $PYTHON; see the header of this script" >&2
  exit 1
fi
if [ -z "${ANCILLA_BIN:-}" ]; then
  cargo build --release --quiet
  ANCILLA_BIN="${CARGO_TARGET_DIR:-target}/release/ancilla"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$ANCILLA_BIN" --quiet phantom --out "$work/ph" --subjects 1 --seed 4
"$ANCILLA_BIN" --quiet convert "$work/ph/site-export" --out "$work/nii"
pet=$(ls "$work"/nii/*/*_suvbw.nii.gz | head -1)
t2=$(ls "$work"/nii/*/*_t2*.nii.gz | grep -v json | head -1)
masks=$(ls -d "$work"/ph/masks/* | head -1)
# Copies named for the image kind (ancilla names NIfTI images by their suffix).
cp "$t2" "$work/t2.nii.gz"
pet_labels="1=tumor,2=kidney,3=liver,4=bloodpool,5=parotid"
# A heterogeneous region too (box around tumour and kidney): the phantom's regions are uniform.
"$PYTHON" benches/pyradiomics_compare.py box "$masks/pet_labels.nii.gz" "$work/box.nii.gz"
# Both commands timed from Python (time.perf_counter around each process, best of 5): the same
# clock as pyradiomics' own timing below, and none of a shell's `date` processes in the interval.
best=$("$PYTHON" - "$ANCILLA_BIN" "$pet" "$masks" "$work" "$pet_labels" <<'PY'
import subprocess, sys, time
bin, pet, masks, work, labels = sys.argv[1:]
runs = [
    [bin, "features", "--image", pet, "--mask", f"{masks}/pet_labels.nii.gz", "--labels", labels, "--out", f"{work}/pet.csv"],
    [bin, "features", "--image", f"{work}/t2.nii.gz", "--mask", f"{masks}/mr_labels.nii.gz", "--labels", "1=tumor,2=kidney", "--out", f"{work}/t2.csv"],
]
best = float("inf")
for _ in range(5):
    t0 = time.perf_counter()
    for r in runs:
        subprocess.run(r, check=True)
    best = min(best, time.perf_counter() - t0)
print(f"{best:.4f}")
PY
)
# The box is for the value comparison only (not timed, on either side).
"$ANCILLA_BIN" features --image "$pet" --mask "$work/box.nii.gz" --labels 1=box --out "$work/box.csv"
{ cat "$work/pet.csv"; tail -n +2 "$work/t2.csv"; tail -n +2 "$work/box.csv"; } > "$work/ours.csv"
t0=$(date +%s.%N)
out=$("$PYTHON" benches/pyradiomics_compare.py "$work/ours.csv" \
  suvbw "$pet" "$masks/pet_labels.nii.gz" 1=tumor 2=kidney 3=liver 4=bloodpool 5=parotid -- \
  image "$work/t2.nii.gz" "$masks/mr_labels.nii.gz" 1=tumor 2=kidney -- \
  suvbw "$pet" "$work/box.nii.gz" 1=box)
t1=$(date +%s.%N)
py_wall=$(echo "$t0 $t1" | awk '{print $2-$1}')
py=$(echo "$out" | awk '/pyradiomics_seconds/ {print $2}')
echo "ancilla features (2 processes: PET 5 ROIs, T2 2 ROIs; all its features): ${best} s"
echo "pyradiomics (same 7 ROIs; shape + firstorder only; import excluded):    ${py} s"
echo "pyradiomics whole process (Python start + import + 8 ROIs incl. the box): ${py_wall} s"
awk -v a="$best" -v p="$py" -v w="$py_wall" 'BEGIN {
  printf "pyradiomics / ancilla = %.1f extraction only, %.1f whole process (target >= 20)\n", p/a, w/a }'
echo "$out" | grep -v pyradiomics_seconds
