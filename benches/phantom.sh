#!/usr/bin/env bash
# Phantom generation speed: `ancilla phantom --subjects N` (default 20) against a baseline measured
# in the same run: copying the generated tree (`cp -r`, the same bytes and files written). Best of 3.
# Run: benches/phantom.sh [N]   (builds the release binary unless ANCILLA_BIN is set)
set -euo pipefail
N="${1:-20}"
cd "$(dirname "$0")/.."
if [ -z "${ANCILLA_BIN:-}" ]; then
  cargo build --release --quiet
  ANCILLA_BIN="${CARGO_TARGET_DIR:-target}/release/ancilla"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
best() { # best wall time (s) of 3 runs of "$@", with $work/out removed before each
  local b=""
  for _ in 1 2 3; do
    rm -rf "$work/out"
    local t0 t1
    t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N)
    b=$(echo "$t0 $t1 $b" | awk '{d=$2-$1; if ($3=="" || d<$3) print d; else print $3}')
  done
  echo "$b"
}
gen=$(best "$ANCILLA_BIN" --quiet phantom --out "$work/out" --subjects "$N" --seed 1)
"$ANCILLA_BIN" --quiet phantom --out "$work/src" --subjects "$N" --seed 1
files=$(find "$work/src" -type f | wc -l)
mb=$(du -sm "$work/src" | cut -f1)
copy=$(best cp -r "$work/src" "$work/out")
awk -v n="$N" -v f="$files" -v mb="$mb" -v g="$gen" -v c="$copy" 'BEGIN {
  printf "phantom: %d subjects, %d files, %d MB in %.2f s (%.0f files/s, %.0f MB/s)\n", n, f, mb, g, f/g, mb/g;
  printf "baseline cp -r of the same tree: %.2f s; phantom / cp = %.2f\n", c, g/c }'
