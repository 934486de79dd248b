#!/usr/bin/env bash
# QLINEAR (int8 weights, u8 activations) against hwadapt's f32 Linear on the
# layers of fmnist-mlp (784 -> 1000, 1000 -> 1000, 1000 -> 10) at batch 1 and
# 64, at the host's ISA level and at each level below it that the host has
# (HWA_ISA=avx512: VNNI without AMX; avx2: no int8 dot product, the f32
# product). Each row is validated first (the int8 result bit for bit against
# the rule), then timed in interleaved rounds; the end-to-end line sums the
# three layers (the model's ReLUs left out). Writes build/bench/qlinear.txt.
#   HWA_NUM_THREADS=N  threads (default: the CPUs this process may use)
#   BENCH_ROUNDS=N     interleaved rounds per row (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
cmake --build "$BUILD" -j2 --target qlinear_bench >/dev/null
threads=${HWA_NUM_THREADS:-0}
rounds=${BENCH_ROUNDS:-15}
out="$BUILD/bench"
mkdir -p "$out"
levels=(host)
grep -qw avx512_vnni /proc/cpuinfo && grep -qw amx_int8 /proc/cpuinfo && levels+=(avx512)
grep -qw avx2 /proc/cpuinfo && levels+=(avx2)
for isa in "${levels[@]}"; do
  echo "== ISA level: $isa"
  if [ "$isa" = host ]; then rows=$("$BUILD/bench/qlinear_bench" "$threads" "$rounds")
  else rows=$(HWA_ISA=$isa "$BUILD/bench/qlinear_bench" "$threads" "$rounds"); fi
  echo "$rows" | column -t -s $'\t'
  echo "$rows" | awk -F'\t' 'NR > 1 { f[$2] += $3; q[$2] += $4 }
    END { for (b in f) printf "end to end, batch %s: f32 %.1f us, int8 %.1f us, %.2fx\n", b, f[b], q[b], f[b] / q[b] }' | sort
done | tee "$out/qlinear.txt"
