#!/usr/bin/env bash
# The pjrt backend (pjrt:0, XLA's CPU plugin here) against hwadapt's own CPU
# backend in one run:
#   linear1000, mlp1000 and one mlp1000-train step (Adam), samples/s on
#   pjrt:0 and cpu, each row validated by hwadapt bench (max abs error
#   against the CPU's f32 <= 1e-4) before its time counts
#   compiling: a new pjrt:0 backend's first result (lowering, compiling,
#   running) against a run from its executable cache (bench/pjrt_bench.c)
# The two devices run interleaved, alternating which goes first, and the
# figures are medians of the rounds. Prints a table and writes it to
# build/bench/pjrt.txt.
#   BENCH_QUICK=1   few rounds (a smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.bash
BUILD=${BUILD:-build}
cli=$(hwa_cli "$PWD")
hwa_have_pjrt0 "$cli" || exit 0
out="$BUILD/bench"
mkdir -p "$out"
cmake --build "$BUILD" -j2 --target pjrt_bench >/dev/null
rounds=5 min_time=1 cached=21
[ -n "${BENCH_QUICK:-}" ] && rounds=1 min_time=0.2 cached=5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
wl=linear1000,mlp1000,mlp1000-train
: >"$tmp/rows.csv"
for r in $(seq "$rounds"); do
  order="cpu pjrt:0"
  [ $((r % 2)) -eq 0 ] && order="pjrt:0 cpu"
  for d in $order; do
    "$cli" bench "$wl" --device "$d" --min-time "$min_time" --csv --quiet >"$tmp/r.csv"
    # validate first: every row within 1e-4 of the CPU's f32
    awk -F, 'NR > 1 && !($25 != "" && $25 <= 1e-4) { print "FAIL: " $1 " on " $2 ": max abs error " $25; bad = 1 }
             END { exit bad }' "$tmp/r.csv"
    awk -F, -v r="$r" 'NR > 1 { print r "," $1 "," $2 "," $11 }' "$tmp/r.csv" >>"$tmp/rows.csv"
  done
done
"$BUILD/bench/pjrt_bench" "$cached" >"$tmp/compile.tsv"

{
  echo "$(date -u +%F); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); $(nproc) CPUs;" \
       "load average $(cut -d' ' -f1-3 /proc/loadavg); $rounds rounds"
  awk -F, '
    function median(k,   a, i, j, t, m) {
      m = n[k]
      for (i = 1; i <= m; i++) a[i] = v[k, i]
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return a[int((m + 1) / 2)]
    }
    { k = $2 SUBSEP $3; n[k]++; v[k, n[k]] = $4; if (!($2 in seen)) { seen[$2] = 1; order[++nw] = $2 } }
    END {
      printf "%-16s %14s %14s %10s\n", "workload", "cpu samples/s", "pjrt:0", "pjrt / cpu"
      for (i = 1; i <= nw; i++) {
        w = order[i]; c = median(w SUBSEP "cpu"); p = median(w SUBSEP "pjrt:0")
        printf "%-16s %14.0f %14.0f %9.2f x\n", w, c, p, p / c
      }
    }' "$tmp/rows.csv"
  echo
  awk -F'\t' '{ printf "%-12s first result %8.1f ms, cached %7.2f ms (min %.2f, max %.2f): %6.0f x; max abs error %s\n",
                       $1, $2, $3, $4, $5, $2 / $3, $6 }' "$tmp/compile.tsv"
} | tee "$out/pjrt.txt"
