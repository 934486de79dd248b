#!/usr/bin/env bash
# The opencl backend against its peers in one run, on opencl:0 (PoCL here):
#   GEMM 2048^3 through hwadapt vs a direct CLBlast call     target >= 95 %
#   add / relu over 16M f32 vs the device's copy bandwidth   target >= 70 %
#   the seed Linear (linear1000, batch 64) on opencl:0 vs cpu
#   start-up: a new process to its first result, with an empty kernel
#   cache (cold) and with hwadapt's cache filled (warm)       target cold/warm >= 5
# Every result is validated before it is timed; the sides of each comparison
# run interleaved and the figures are medians. Prints a table and writes it to
# build/bench/opencl.txt.
#   BENCH_QUICK=1   small sizes, few rounds (a smoke run; the targets are not judged)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
out="$BUILD/bench"
mkdir -p "$out"
if ! cmake --build "$BUILD" -j2 --target opencl_bench >/dev/null 2>&1; then
  echo "note: opencl_bench not built (it needs libclblast-dev and ocl-icd-opencl-dev); skipping" >&2
  exit 0
fi
bin="$BUILD/bench/opencl_bench"
quick=${BENCH_QUICK:+quick}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Start-up first: the other runs would warm the caches. Cold: an empty
# hwadapt cache and PoCL's own kernel cache off (POCL_KERNEL_CACHE=0), as a
# driver without such a cache behaves; warm: the same process again, with
# the program binary hwadapt cached the time before.
rounds=3
[ -n "$quick" ] && rounds=1
if ! XDG_CACHE_HOME="$tmp/probe" "$bin" first relu >/dev/null 2>"$tmp/err"; then
  echo "note: no usable opencl:0 ($(tail -1 "$tmp/err")); skipping" >&2
  exit 0
fi
: >"$tmp/startup.tsv"
for r in $(seq "$rounds"); do
  dir="$tmp/cache$r"
  c=$(XDG_CACHE_HOME="$dir" POCL_KERNEL_CACHE=0 "$bin" first relu)
  w=$(XDG_CACHE_HOME="$dir" POCL_KERNEL_CACHE=0 "$bin" first relu)
  printf 'relu\t%s\t%s\n' "$c" "$w" >>"$tmp/startup.tsv"
done
# The first Linear also compiles CLBlast's kernels, which only PoCL's cache
# keeps between processes: cold is both caches empty, warm both filled.
if [ -z "$quick" ]; then
  dir="$tmp/lin"
  c=$(XDG_CACHE_HOME="$dir" POCL_CACHE_DIR="$dir/pocl" "$bin" first linear)
  w=$(XDG_CACHE_HOME="$dir" POCL_CACHE_DIR="$dir/pocl" "$bin" first linear)
  printf 'linear\t%s\t%s\n' "$c" "$w" >>"$tmp/startup.tsv"
fi

"$bin" all $quick >"$tmp/rows.tsv"

{
  echo "opencl:0 = $(clinfo --list 2>/dev/null | sed -n 's/.*Device #0: //p' | head -1); $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  awk -F'\t' -v quick="$quick" '
    function verdict(x, target) { return quick ? "" : (x >= target ? "  ok" : "  MISS") }
    FILENAME ~ /startup/ {
      n[$1]++; cold[$1, n[$1]] = $2; warm[$1, n[$1]] = $3; next
    }
    {
      rate = $6 / ($3 / 1e3)
      printf "%-22s %-15s %10.3f ms  (min %.3f, max %.3f)  %8.2f %s/s  err %-8s %s\n", $1, $2, $3, $4, $5, rate, $7, $8, $9
      r[$1, $2] = rate
      if ($1 ~ /^eltwise/) elt = $1
      if ($1 ~ /^gemm/) gemm = $1
      if ($1 ~ /^linear/) lin = $1
    }
    function median(name, which,   a, i, j, k, t, m) {
      m = n[name]
      for (i = 1; i <= m; i++) a[i] = (which == "c" ? cold[name, i] : warm[name, i])
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return a[int((m + 1) / 2)]
    }
    END {
      print ""
      g = r[gemm, "hwadapt"] / r[gemm, "clblast-direct"]
      printf "%-44s %6.1f %%   (target >= 95 %%)%s\n", gemm ": hwadapt / direct CLBlast", 100 * g, verdict(g, 0.95)
      copy = r[elt, "copy-buffer"] > r[elt, "copy-kernel"] ? r[elt, "copy-buffer"] : r[elt, "copy-kernel"]
      a = r[elt, "hwadapt add"] / copy; b = r[elt, "hwadapt relu"] / copy
      printf "%-44s %6.1f %%   (target >= 70 %%)%s\n", "add: GB/s / the device copy bandwidth", 100 * a, verdict(a, 0.70)
      printf "%-44s %6.1f %%   (target >= 70 %%)%s\n", "relu: GB/s / the device copy bandwidth", 100 * b, verdict(b, 0.70)
      printf "%-44s %6.2f x  (opencl:0 / cpu, no target)\n", "linear1000 speed", r[lin, "opencl:0"] / r[lin, "cpu"]
      for (k in n) {
        c = median(k, "c"); w = median(k, "w")
        printf "%-44s %6.1f x  (cold %.3f s, warm %.3f s, %d rounds)%s\n", "first " k " result: cold / warm start", c / w, c, w, n[k],
               k == "relu" ? "  (target >= 5)" verdict(c / w, 5) : "  (CLBlast included, no target)"
      }
    }' "$tmp/startup.tsv" "$tmp/rows.tsv"
} | tee "$out/opencl.txt"
