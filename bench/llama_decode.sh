#!/usr/bin/env bash
# Decode tokens/s of a synthetic 110M-parameter Llama (dim 768, 12 layers, 12
# heads, vocab 32000, f32, random weights) against the bound this machine's
# memory bandwidth sets, and prefill tokens/s for a 256-token prompt.
# Needs ./build (make build), Debian's python3-numpy
# and about 450 MB free in ${TMPDIR:-/tmp}.
#   HWA_BENCH_THREADS=N   threads (default: all the backend sees)
#   HWA_BENCH_DECODE=N    decode steps timed (default 32)
#   On a shared machine, OMP_WAIT_POLICY=passive avoids libgomp spin-waits that
#   take the CPU the working threads need (see hwa_backend_set_threads).
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
. bench/lib.bash
if ! py=$(hwa_python numpy); then
  echo "llama_decode: skipped (no python3 with numpy; apt-get install python3-numpy)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
hwa_llama110m "$py" "$tmp/llama110m.bin"
"$build/bench/llama_bench" "$tmp/llama110m.bin" --prefill 256 --decode "${HWA_BENCH_DECODE:-32}" \
  --threads "${HWA_BENCH_THREADS:-0}"
