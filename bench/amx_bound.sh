#!/usr/bin/env bash
# How close hwadapt's bf16 Linear (batch 64, 1000 -> 1000, on AMX) comes to
# what its pieces cost at best on this machine, in one run:
#   - bench/amx_bound.c (independent of libhwadapt, built here with its own
#     flags): the tile products with every operand in L1 (the instruction's
#     rate), the same products streaming the weights' tiles from L2 in the
#     loop order hwadapt uses, those products over half the weights (time
#     doubled: the same loop when a thread's share sits in L2 with room to
#     spare), the f32 -> bf16 conversion of x, and both;
#   - build/bench/cpu_matmul_bench, batch 64 only: hwadapt's f32 and bf16
#     Linear, and the direct oneDNN calls.
# Prints the figures and the ratios to hwadapt's f32 Linear: what the bf16
# Linear reaches and what the pieces would allow. Skips (exit 0, with the
# reason) where the CPU or the OS offers no AMX. Run by `make bench`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build}
case $build in /*) ;; *) build=$root/$build ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

${CC:-cc} -O2 -mamx-tile -mamx-bf16 -mavx512f -mavx512bf16 -pthread -o "$tmp/amx_bound" "$here/amx_bound.c"
set +e
"$tmp/amx_bound" >"$tmp/pieces.txt"
rc=$?
set -e
if [ $rc -eq 77 ]; then cat "$tmp/pieces.txt"; exit 0; fi
[ $rc -eq 0 ] || exit $rc
threads=$(awk '$2 == "threads" { print $3 }' "$tmp/pieces.txt")
cmake --build "$build" -j2 --target cpu_matmul_bench >/dev/null
"$build/bench/cpu_matmul_bench" "$threads" full 64 >"$tmp/linear.tsv"
python3 - "$tmp/pieces.txt" "$tmp/linear.tsv" <<'PY'
import sys
p = {l.split()[1]: float(l.split()[2]) for l in open(sys.argv[1]) if l.startswith("amx_bound ")}
rows = {}
for l in open(sys.argv[2]):
    f = l.rstrip("\n").split("\t")
    rows[f[1]] = (float(f[2]) * 1000.0, f[8])
f32 = rows["hwadapt"][0]
print("bf16 Linear 64 x 1000 x 1000 on %d threads (medians, microseconds)" % p["threads"])
for name in ("hwadapt", "onednn", "onednn-bf16", "hwadapt-bf16"):
    if name in rows:
        t, kern = rows[name]
        print("  %-34s %8.1f   f32/this %5.2fx   %s" % (name, t, f32 / t, kern))
print("  pieces (bench/amx_bound.c, independent of hwadapt):")
for name, what in (("l1", "tile products, operands in L1"), ("stream", "tile products, weights from L2"),
                   ("half", "stream, half the weights, doubled"),
                   ("convert", "x f32 -> bf16 tiles"), ("both", "convert, then stream")):
    print("  %-34s %8.1f   f32/this %5.2fx" % (what, p[name], f32 / p[name]))
print("  %-34s %8.1f   f32/this %5.2fx" % ("floor: l1 + convert", p["l1"] + p["convert"], f32 / (p["l1"] + p["convert"])))
print("  8x hwadapt f32 needs at most %.1f us" % (f32 / 8.0))
PY
