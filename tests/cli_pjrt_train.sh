#!/usr/bin/env bash
# fmnist-mlp trained through pjrt:0 (the XLA CPU plugin) on all of
# Fashion-MNIST to >= 89.5 % test accuracy: 7 epochs of batch 128, Adam at
# 1e-3, seed 1 (the cheapest run found; bench/pjrt_train.sh runs the CPU
# backend beside it). About 80 s on 2 idle CPUs. Skips without a plugin or
# the dataset, and in a sanitized build (the plugin's own code is not
# instrumented and the run would take several minutes for nothing more).
set -euo pipefail
cli=${HWA_CLI:?HWA_CLI must name the built hwadapt}
B=$(cd "$(dirname "$cli")" && pwd)
. "$(dirname "$0")/skip.bash"
syms=$(nm -D "$B/libhwadapt.so" 2>/dev/null || true) # whole, before grep: pipefail and grep -q's early exit
if grep -q __asan_init <<<"$syms"; then
  echo "skipped: a sanitized build: tests/cli_pjrt.sh covers pjrt:0 there"
  exit 77
fi
[ -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] ||
  skip_for fmnist "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)"
"$cli" probe --list 2>/dev/null | grep -q "^pjrt:0 " || skip_for pjrt "no PJRT device (hwadapt probe --list)"
start=$(date +%s)
out=$("$cli" train --device pjrt:0 --epochs 7 --batch 128 --seed 1 --json --quiet) || { echo "FAIL: training on pjrt:0 failed"; exit 1; }
took=$(( $(date +%s) - start ))
acc=$(tail -1 <<<"$out" | sed -E 's/.*"test_accuracy":([0-9.]+).*/\1/')
grep -q '"device":"pjrt:0"' <<<"$out" || { echo "FAIL: the epochs do not name pjrt:0: $out"; exit 1; }
awk -v a="$acc" 'BEGIN { exit !(a >= 0.895) }' || { echo "FAIL: pjrt:0 ends at test accuracy $acc < 0.895"; exit 1; }
echo "ok: fmnist-mlp on pjrt:0, 7 epochs: test accuracy $acc in $took s"
