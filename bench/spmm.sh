#!/usr/bin/env bash
# The sparse product (hwa_spmm) against hwadapt's dense f32 product of the
# same layer, on the pruned fmnist-mlp's layers (1000x784, 1000x1000) at
# batch 1 and 64 and densities 0.02-0.5: once with the default matmul
# provider (oneDNN where built; our GEMV at batch 1), once with our own
# dense kernels alone (HWA_MATMUL=native). Each table ends with the highest
# density at which the sparse product still pays. Writes
# build/bench/spmm.txt. Run by `make bench`.
#   HWA_NUM_THREADS=N  threads (default: the CPUs this process may use)
#   BENCH_QUICK=1      3 repetitions (a smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
cmake --build "$BUILD" -j2 --target spmm_bench >/dev/null
args=()
[ -n "${BENCH_QUICK:-}" ] && args+=(--quick)
[ -n "${HWA_NUM_THREADS:-}" ] && args+=(--threads "$HWA_NUM_THREADS")
out="$BUILD/bench/spmm.txt"
{
  echo "== dense: the default provider"
  "$BUILD/bench/spmm_bench" "${args[@]}"
  echo "== dense: HWA_MATMUL=native (hwadapt's own kernels)"
  HWA_MATMUL=native "$BUILD/bench/spmm_bench" "${args[@]}"
} | tee "$out"
