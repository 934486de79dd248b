#!/usr/bin/env bash
# Compares hwadapt's calibrated f32 peak (hwadapt probe --recalibrate, with a
# throw-away cache) with bench/fma_peak.c, an independent FMA-loop
# measurement built here with its own flags. Fails when they differ by more
# than 15%. Run by `make bench` after the build (BUILD=build by default).
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
ours=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["devices"][0]["peak_gflops"]["f32"])' "$tmp/passport.json")
bw=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); b=d["devices"][0]["bandwidth"]; print("read %.1f copy %.1f triad %.1f GB/s" % (b["read"], b["copy"], b["triad"]))' "$tmp/passport.json")

ratio=$(awk -v a="$ours" -v b="$ref" 'BEGIN { printf "%.3f", a / b }')
echo "independent FMA loop (bench/fma_peak.c): $ref_line"
echo "hwadapt probe calibrated f32 peak:        $ours GFLOP/s  (ratio $ratio)"
echo "hwadapt probe memory bandwidth:           $bw"
awk -v r="$ratio" 'BEGIN { exit (r >= 0.85 && r <= 1.15) ? 0 : 1 }' || {
    echo "fma_peak: calibrated peak differs from the independent measurement by more than 15%" >&2
    exit 1
}
