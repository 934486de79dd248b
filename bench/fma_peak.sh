#!/usr/bin/env bash
# Compares hwadapt's calibration (hwadapt probe --recalibrate, with a
# throw-away cache) with bench/fma_peak.c, an independent FMA-loop
# measurement built here with its own flags, in the same run:
#   - the passport's FMA-loop f32 figure (fma_peak_gflops.f32) measures the
#     same thing: fails when they differ by more than 15%;
#   - the calibrated f32 peak (peak_gflops.f32, method "matmul": hwadapt's
#     own sgemm) is printed as a fraction of the FMA loop, the share of the
#     instructions' limit that hwadapt's f32 kernel reaches; with
#     HWA_FMA_PEAK_STRICT=1 it too must be within 15%.
# Run by `make bench` after the build (BUILD=build by default).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build}
case $build in /*) ;; *) build=$root/$build ;; esac
cli=${HWA_CLI:-$build/hwadapt}
[ -x "$cli" ] || { echo "fma_peak: $cli not built" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

${CC:-cc} -O2 -pthread -o "$tmp/fma_peak" "$here/fma_peak.c"
set +e
ref_line=$("$tmp/fma_peak")
rc=$?
set -e
if [ $rc -eq 77 ]; then echo "$ref_line"; exit 0; fi
[ $rc -eq 0 ] || exit $rc
ref=$(echo "$ref_line" | awk '{print $2}')

XDG_CACHE_HOME=$tmp/cache "$cli" probe --json --recalibrate > "$tmp/passport.json"
read -r method ours fma bf16 i8 bw < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["devices"][0]
p, f, b = d["peak_gflops"], d["fma_peak_gflops"], d["bandwidth"]
r = lambda x: "%.1f" % x if isinstance(x, (int, float)) else x
print(d["peak_method"], r(p["f32"]), r(f["f32"]), r(p.get("bf16", "n/a")), r(p.get("i8", "n/a")),
      "read_%.1f_copy_%.1f_triad_%.1f_GB/s" % (b["read"], b["copy"], b["triad"]))' "$tmp/passport.json")

ratio_fma=$(awk -v a="$fma" -v b="$ref" 'BEGIN { printf "%.3f", a / b }')
ratio=$(awk -v a="$ours" -v b="$ref" 'BEGIN { printf "%.3f", a / b }')
echo "independent FMA loop (bench/fma_peak.c): $ref_line"
echo "hwadapt probe FMA-loop f32:              $fma GFLOP/s  (ratio $ratio_fma)"
echo "hwadapt probe calibrated f32 peak:       $ours GFLOP/s  (method $method; ratio $ratio)"
echo "hwadapt probe calibrated bf16 / i8:      $bf16 GFLOP/s / $i8 GOP/s"
echo "hwadapt probe memory bandwidth:          ${bw//_/ }"
rc=0
awk -v r="$ratio_fma" 'BEGIN { exit (r >= 0.85 && r <= 1.15) ? 0 : 1 }' || {
    echo "fma_peak: the passport's FMA-loop figure differs from the independent measurement by more than 15%" >&2
    rc=1
}
if ! awk -v r="$ratio" 'BEGIN { exit (r >= 0.85 && r <= 1.15) ? 0 : 1 }'; then
    echo "fma_peak: note: hwadapt's f32 matmul reaches $ratio of the FMA loop's rate (more than 15% away)" >&2
    [ "${HWA_FMA_PEAK_STRICT:-0}" = 1 ] && rc=1
fi
exit $rc
