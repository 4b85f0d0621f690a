#!/usr/bin/env bash
# De-identification speed on a phantom cohort, against two baselines measured in the same run:
# copying the same tree (cp -r) and dicognito (pip install dicognito; skipped when absent).
# Also counts the planted PHI strings each tool leaves in its output.
# Usage: benches/deid.sh [SUBJECTS] (default 20). Needs a release build: cargo build --release.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
bin=${ANCILLA_BIN:-target/release/ancilla}
[ -x "$bin" ] || cargo build --release -q
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" --quiet phantom --out "$work/c" --subjects "$n" --seed 5 >/dev/null 2>&1
files=$(find "$work/c/site-export" -type f | wc -l)
best() { # best wall time of 3 runs of "$@" (after a cleanup command in $CLEAN)
  local b=999999
  for _ in 1 2 3; do
    eval "$CLEAN"
    local s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; local e=$(date +%s.%N)
    b=$(python3 -c "print(min($b, $e - $s))")
  done
  echo "$b"
}
cat "$work/c/site-export"/*/*/*/* >/dev/null 2>&1 || true   # warm the cache
CLEAN="rm -rf $work/copy"; cp_t=$(best cp -r "$work/c/site-export" "$work/copy")
CLEAN="rm -rf $work/deid"; de_t=$(best "$bin" deid "$work/c/site-export" --out "$work/deid" --key "$work/c/key.bin" --subjects "$work/c/clinical/subject_map.csv")
leaks() { python3 - "$work/c/ground_truth.json" "$1" <<'PY'
import json, os, sys
t = json.load(open(sys.argv[1])); blob = b""
for root, _, fs in os.walk(sys.argv[2]):
    for f in fs: blob += open(os.path.join(root, f), "rb").read()
phi = {p for s in t["subjects"] for p in s["phi"] + [s["patient_id"], s["original_uid_root"]]}
print(sum(1 for p in phi if p.encode() in blob or p.upper().encode() in blob), "of", len(phi))
PY
}
printf "cohort: %s subjects, %s files\n" "$n" "$files"
printf "%-24s %9s %12s %10s\n" tool seconds files/s ratio_to_cp
printf "%-24s %9.3f %12.0f %10.2f\n" "cp -r (baseline)" "$cp_t" "$(python3 -c "print($files/$cp_t)")" 1
printf "%-24s %9.3f %12.0f %10.2f\n" "ancilla deid" "$de_t" "$(python3 -c "print($files/$de_t)")" "$(python3 -c "print($de_t/$cp_t)")"
echo "PHI strings left by ancilla: $(leaks "$work/deid")"
py=${DICOGNITO_PYTHON:-python3}
if "$py" -c "import dicognito" 2>/dev/null; then
  CLEAN="rm -rf $work/dcg"; dc_t=$(best "$py" -m dicognito --quiet -o "$work/dcg" "$work/c/site-export")
  printf "%-24s %9.3f %12.0f %10.2f\n" "dicognito" "$dc_t" "$(python3 -c "print($files/$dc_t)")" "$(python3 -c "print($dc_t/$cp_t)")"
  echo "ancilla is $(python3 -c "print(round($dc_t/$de_t, 1))")x faster than dicognito"
  echo "PHI strings left by dicognito: $(leaks "$work/dcg")"
else
  echo "dicognito not importable by $py (pip install dicognito, or set DICOGNITO_PYTHON): skipped"
fi
