#!/usr/bin/env bash
# The whole pipeline at two cohort sizes (default 10 and 100 subjects): wall time and peak RSS of
# `ancilla run` on a phantom site export (scan → deid → convert → features → link → analyze →
# report; the phantom itself is generated beforehand, outside the timing), against a baseline
# measured in the same run: `cp -r` of the same DICOM tree (best of 3, warm cache).
# Targets (issue 6): peak RSS at 100 subjects within 1.3× of 10 subjects (the work streams per
# subject); 100 subjects end to end within 3× the cp -r of its tree.
# Both are timed 3 times (fresh output folders), best time kept; peak RSS is the largest of the 3.
# With ANCILLA_BENCH_COLD=1 (root: it empties the machine's page cache) the cache is dropped
# before every timed step, so the tree is read from the disk as a site's export is on a first run.
# Run: benches/pipeline.sh [SMALL] [LARGE]   (builds the release binary unless ANCILLA_BIN is set)
set -euo pipefail
SMALL="${1:-10}"
LARGE="${2:-100}"
cd "$(dirname "$0")/.."
if [ -z "${ANCILLA_BIN:-}" ]; then
  cargo build --release --quiet
  ANCILLA_BIN="${CARGO_TARGET_DIR:-target}/release/ancilla"
fi
ANCILLA_BIN=$(realpath "$ANCILLA_BIN")
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Nothing is deleted while timing, and each timed step starts after a sync: ext4 (without a
# journal, as here) will not reuse an inode freed in the last 60 s, and creating files after a big
# `rm -rf` scans past every such inode (kernel `recently_deleted`) — runs after a deletion were
# 2-10x slower at random, for cp as for ancilla. So every copy goes to a fresh directory, the
# cohorts are generated first, and the timing starts 61 s after the last write.
settle() { # before a timed step: write back what is dirty; with ANCILLA_BENCH_COLD=1, drop the cache
  sync
  if [ "${ANCILLA_BENCH_COLD:-0}" = 1 ]; then
    echo 3 > /proc/sys/vm/drop_caches
  fi
}

best_cp() { # best wall time (s) of 3 copies of $1 into fresh directories named after $2
  local b=""
  for i in 1 2 3; do
    settle
    local t0 t1
    t0=$(date +%s.%N); cp -r "$1" "$work/copy-$2-$i"; t1=$(date +%s.%N)
    b=$(echo "$t0 $t1 $b" | awk '{d=$2-$1; if ($3=="" || d<$3) print d; else print $3}')
  done
  echo "$b"
}

generate() { # N: the phantom cohort and its pipeline config
  local n=$1 c="$work/cohort-$1"
  "$ANCILLA_BIN" --quiet phantom --out "$c" --subjects "$n" --seed 1
  cat > "$work/p$n.toml" <<TOML
[output]
dir = "OUT"
[input]
dicom = "$c/site-export"
masks = "$c/masks"
[deid]
key = "$c/key.bin"
subjects = "$c/clinical/subject_map.csv"
site_log = "$work/site-log-$n.tsv"
[clinical]
adsl = "$c/clinical/adsl.csv"
adtte = "$c/clinical/adtte.csv"
pathology = "$c/clinical/pathology.csv"
TOML
}

measure() { # N → "wall_s rss_kb cp_s files mb"
  local n=$1 c="$work/cohort-$1"
  local cp_s files mb
  cp_s=$(best_cp "$c/site-export" "$n")
  files=$(find "$c/site-export" -type f | wc -l)
  mb=$(du -sm "$c/site-export" | cut -f1)
  local wall="" rss=0
  for i in 1 2 3; do
    settle
    /usr/bin/time -f "%e %M" -o "$work/time-$n-$i" \
      "$ANCILLA_BIN" --quiet run "$work/p$n.toml" --out "$work/out-$n-$i"
    read -r w r < "$work/time-$n-$i"
    wall=$(echo "$w $wall" | awk '{if ($2=="" || $1<$2) print $1; else print $2}')
    rss=$(( r > rss ? r : rss ))
  done
  echo "$wall $rss $cp_s $files $mb"
}

generate "$SMALL"
generate "$LARGE"
sync
sleep 61
read -r s_wall s_rss s_cp s_files s_mb <<<"$(measure "$SMALL")"
read -r l_wall l_rss l_cp l_files l_mb <<<"$(measure "$LARGE")"
echo "page cache: $([ "${ANCILLA_BENCH_COLD:-0}" = 1 ] && echo "cold (dropped before every timed step)" || echo warm)"
awk -v sn="$SMALL" -v ln="$LARGE" \
  -v sw="$s_wall" -v sr="$s_rss" -v sc="$s_cp" -v sf="$s_files" -v sm="$s_mb" \
  -v lw="$l_wall" -v lr="$l_rss" -v lc="$l_cp" -v lf="$l_files" -v lm="$l_mb" 'BEGIN {
  printf "%3d subjects (%d files, %d MB): run %.2f s, peak RSS %.0f MB; cp -r %.2f s; run / cp = %.2f\n", sn, sf, sm, sw, sr/1024, sc, sw/sc;
  printf "%3d subjects (%d files, %d MB): run %.2f s, peak RSS %.0f MB; cp -r %.2f s; run / cp = %.2f\n", ln, lf, lm, lw, lr/1024, lc, lw/lc;
  printf "peak RSS %d / %d subjects = %.2f (target <= 1.3); run / cp at %d subjects = %.2f (target <= 3)\n", ln, sn, lr/sr, ln, lw/lc }'
