#!/usr/bin/env bash
# hwa_conv2d through hwadapt's graph against oneDNN's convolution primitive
# called directly, in the same process and interleaved, on three ResNet-50
# layers at batch 1 and 32 (bench/conv_bench.c says how), then max pooling
# 3x3/2 pad 1 against oneDNN's pooling primitive (bench/pool_bench.c). Writes
# build/bench/conv.txt. Run by `make bench`.
#   HWA_NUM_THREADS=N  threads (default: the CPUs this process may use)
#   BENCH_QUICK=1      3 repetitions (a smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
cmake --build "$BUILD" -j2 --target conv_bench pool_bench >/dev/null
args=()
[ -n "${BENCH_QUICK:-}" ] && args+=(--quick)
[ -n "${HWA_NUM_THREADS:-}" ] && args+=(--threads "$HWA_NUM_THREADS")
out="$BUILD/bench/conv.txt"
{ "$BUILD/bench/conv_bench" "${args[@]}" && echo && "$BUILD/bench/pool_bench" "${args[@]}"; } | tee "$out"
