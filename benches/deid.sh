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
# Each timed run writes into a fresh directory and nothing is deleted while timing: ext4 (without
# a journal, as here) will not reuse an inode freed in the last 60 s (300 s more while its table
# block is dirty; kernel `recently_deleted`), and creating files after a big `rm -rf` scans past
# every such inode — either tool then ran 2-10x slower at random. So: sync, wait out the window,
# then alternate the tools, best of 3 each.
timed() { # timed NAME CMD...: wall seconds of CMD with OUT replaced by the fresh directory NAME
  local out="$work/$1"; shift
  local args=("${@//OUT/$out}")
  sync   # start each run with no write-back pending from the previous one
  local s=$(date +%s.%N); "${args[@]}" >/dev/null 2>&1 || true; local e=$(date +%s.%N)
  python3 -c "print($e - $s)"
}
min() { python3 -c "import sys; print(min(map(float, sys.argv[1:])))" "$@"; }
cat "$work/c/site-export"/*/*/*/* >/dev/null 2>&1 || true   # warm the cache
sync; sleep 61   # let any recent deletion age out of ext4's window (see above)
cp_ts=(); de_ts=()
for i in 1 2 3; do
  cp_ts+=("$(timed "cp-$i" cp -r "$work/c/site-export" OUT)")
  de_ts+=("$(timed "deid-$i" "$bin" deid "$work/c/site-export" --out OUT --key "$work/c/key.bin" --subjects "$work/c/clinical/subject_map.csv")")
done
cp_t=$(min "${cp_ts[@]}"); de_t=$(min "${de_ts[@]}")
echo "runs (s): cp ${cp_ts[*]}; deid ${de_ts[*]}" | sed -E "s/([0-9]+\.[0-9]{3})[0-9]*/\1/g"
deid_out="$work/deid-3"
leaks() { python3 - "$work/c/ground_truth.json" "$1" <<'PY'
import json, os, sys
t = json.load(open(sys.argv[1])); parts = []
for root, _, fs in os.walk(sys.argv[2]):
    for f in fs: parts.append(open(os.path.join(root, f), "rb").read())
blob = b"\n".join(parts)
phi = {p for s in t["subjects"] for p in s["phi"] + [s["patient_id"], s["original_uid_root"]]}
print(sum(1 for p in phi if p.encode() in blob or p.upper().encode() in blob), "of", len(phi))
PY
}
printf "cohort: %s subjects, %s files\n" "$n" "$files"
printf "%-24s %9s %12s %10s\n" tool seconds files/s ratio_to_cp
printf "%-24s %9.3f %12.0f %10.2f\n" "cp -r (baseline)" "$cp_t" "$(python3 -c "print($files/$cp_t)")" 1
printf "%-24s %9.3f %12.0f %10.2f\n" "ancilla deid" "$de_t" "$(python3 -c "print($files/$de_t)")" "$(python3 -c "print($de_t/$cp_t)")"
echo "PHI strings left by ancilla: $(leaks "$deid_out")"
py=${DICOGNITO_PYTHON:-python3}
if "$py" -c "import dicognito" 2>/dev/null; then
  dc_ts=(); for i in 1 2 3; do dc_ts+=("$(timed "dcg-$i" "$py" -m dicognito --quiet -o OUT "$work/c/site-export")"); done
  dc_t=$(min "${dc_ts[@]}"); dcg_out="$work/dcg-3"
  printf "%-24s %9.3f %12.0f %10.2f\n" "dicognito" "$dc_t" "$(python3 -c "print($files/$dc_t)")" "$(python3 -c "print($dc_t/$cp_t)")"
  echo "ancilla is $(python3 -c "print(round($dc_t/$de_t, 1))")x faster than dicognito"
  echo "PHI strings left by dicognito: $(leaks "$dcg_out")"
else
  echo "dicognito not importable by $py (pip install dicognito, or set DICOGNITO_PYTHON): skipped"
fi
