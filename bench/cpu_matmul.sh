#!/usr/bin/env bash
# CPU backend against its peers in one run: hwadapt vs a direct oneDNN call,
# OpenBLAS and PyTorch (nn.Linear, matmul, add/relu/softmax) at the same
# thread count, plus add/relu over 16M f32 against the machine's copy
# bandwidth. Prints a table and writes it to build/bench/cpu_matmul.txt.
#   HWA_NUM_THREADS=N  threads for everyone (default: the CPUs this process may use)
#   BENCH_QUICK=1      a few repetitions only (a smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
cmake --build "$BUILD" -j2 --target cpu_matmul_bench >/dev/null
threads=${HWA_NUM_THREADS:-$(nproc)}
quick=${BENCH_QUICK:+quick}
out="$BUILD/bench"
mkdir -p "$out"
"$BUILD/bench/cpu_matmul_bench" "$threads" $quick >"$out/cpu_matmul_c.tsv"
# PyTorch side (skipped with a note when python3 or torch is missing).
. bench/lib.bash
if py=$(hwa_python torch); then
  "$py" bench/cpu_matmul_torch.py "$threads" $quick >"$out/cpu_matmul_torch.tsv"
else
  echo "note: python3 with torch not found; PyTorch columns left out" >&2
  : >"$out/cpu_matmul_torch.tsv"
fi
python3 bench/cpu_matmul_report.py "$threads" "$out/cpu_matmul_c.tsv" "$out/cpu_matmul_torch.tsv" | tee "$out/cpu_matmul.txt"
