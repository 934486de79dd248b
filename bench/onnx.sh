#!/usr/bin/env bash
# hwadapt against ONNX Runtime on the same ONNX files: a Fashion-MNIST MLP
# (784-1000-1000-10, as the built-in fmnist-mlp) and CNN (as fmnist-cnn),
# exported by PyTorch (tests/reference/onnx_export.py --bench) into
# build/bench/onnx/, at batch 1 and 64, f32, on the CPU, single stream. Each
# row is validated first (hwadapt run's outputs against ONNX Runtime's on
# the same input, within 1e-5 + 1e-4 x the outputs' largest), then both
# sides are timed in interleaved rounds (bench/onnx_ort.py says how); prints
# a table of medians, spreads and hwadapt/ORT ratios and writes it to
# build/bench/onnx/onnx.md (every round in onnx.json).
#   THREADS=N        threads on both sides (default: the CPUs this process may use)
#   ROUNDS=N         interleaved rounds per row (default 7)
#   MIN_TIME=S       seconds per side and round (default 0.5)
#   MIN_QUERIES=N    queries per side and round, at least (default 20)
#   BATCHES=LIST     (default 1,64)
#   MODELS="A B"     other .onnx files instead (one symbolic batch dimension)
# Needs Debian's python3-torch and python3-numpy (skips without them).
# ONNX Runtime comes from PyPI, once, into
# ${XDG_CACHE_HOME:-~/.cache}/hwadapt/bench-py (pip install --target, without
# its dependencies: numpy is Debian's).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
. "$here/lib.bash"
cli=$(hwa_cli "$root")
build=$(cd "$(dirname "$cli")" && pwd)
out=$build/bench/onnx
mkdir -p "$out"
if ! py=$(hwa_python torch numpy); then
  echo "onnx: skipped (no python3 with torch and numpy; apt-get install python3-torch python3-numpy)"
  exit 0
fi
pydir=${XDG_CACHE_HOME:-$HOME/.cache}/hwadapt/bench-py
if ! PYTHONPATH=$pydir "$py" -c 'import onnxruntime' 2>/dev/null; then
  echo "installing onnxruntime from PyPI into $pydir" >&2
  if ! PIP_ROOT_USER_ACTION=ignore "$py" -m pip install --quiet --no-deps --upgrade --target "$pydir" onnxruntime >&2 ||
     ! PYTHONPATH=$pydir "$py" -c 'import onnxruntime' 2>/dev/null; then
    echo "onnx: skipped (onnxruntime could not be installed from PyPI into $pydir)"
    exit 0
  fi
fi

if [ -n "${MODELS:-}" ]; then
  read -r -a models <<<"$MODELS"
else
  "$py" "$root/tests/reference/onnx_export.py" --bench "$out" >&2
  models=("$out/fmnist-mlp.onnx" "$out/fmnist-cnn.onnx")
fi
threads=${THREADS:-$(nproc)}
PYTHONPATH=$pydir "$py" "$here/onnx_ort.py" "$cli" "$out" "$threads" "${ROUNDS:-7}" "${MIN_TIME:-0.5}" \
  "${MIN_QUERIES:-20}" "${BATCHES:-1,64}" "${models[@]}"
echo "written: $out/onnx.md, $out/onnx.json"
