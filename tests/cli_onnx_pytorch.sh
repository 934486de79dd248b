#!/usr/bin/env bash
# ONNX models exported by PyTorch (tests/golden/onnx, written by
# tests/reference/onnx_export.py): `hwadapt run MODEL.onnx --input
# input=FILE.npy --output-dir DIR` writes one OUTPUT.npy per graph output,
# each within 1e-4 (max absolute difference) of PyTorch's float32 output, at
# the goldens' batch (3) and at batch 1 (the symbolic batch bound anew);
# `hwadapt inspect` gives the files' opsets, inputs, outputs and op counts;
# a missing --input (a usage error, exit 2), an input of the wrong shape and
# a file that is not ONNX (exit 1) fail with a line that names what is wrong
# and write no output. The comparison uses numpy (Debian's python3-numpy).
# (tests/cli_onnx.sh covers the importer's own small models.)
set -euo pipefail
cli=${HWA_CLI:?HWA_CLI must name the built hwadapt}
here=$(cd "$(dirname "$0")" && pwd)
src=${HWA_SOURCE_DIR:-$(dirname "$here")}
golden=$src/tests/golden/onnx
. "$here/skip.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
contains() { grep -qF -- "$2" <<<"$1" || fail "expected '$2' in:"$'\n'"$1"; }
py=/usr/bin/python3
"$py" -c 'import numpy' 2>/dev/null || skip_for numpy "no numpy in /usr/bin/python3 (apt-get install python3-numpy)"

# compare DIR GOLDEN_DIR ROWS: every golden output but input.npy has its
# file in DIR with the same shape (ROWS rows of it: the golden's first ROWS)
# and dtype, within 1e-4; DIR holds no other file. Prints the differences.
compare() {
  "$py" - "$@" <<'PY'
import os, sys
import numpy as np
out, gold, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
want = sorted(f for f in os.listdir(gold) if f.endswith(".npy") and f != "input.npy")
got = sorted(os.listdir(out))
if got != want:
    sys.exit(f"{out} holds {got}, expected {want}")
for f in want:
    g = np.load(os.path.join(gold, f))[:rows]
    h = np.load(os.path.join(out, f))
    if h.dtype != g.dtype or h.shape != g.shape:
        sys.exit(f"{f}: {h.dtype} {h.shape}, expected {g.dtype} {g.shape}")
    d = float(np.max(np.abs(h.astype(np.float64) - g.astype(np.float64))))
    print(f"  {f} {list(g.shape)}: max abs diff {d:.2e}")
    if not d <= 1e-4:  # also false for NaN
        sys.exit(f"{f}: max abs diff {d:.3e} from PyTorch's output exceeds 1e-4")
PY
}

models=(mlp_opset13 mlp_opset17 cnn_opset13)
for m in "${models[@]}"; do
  model=$golden/$m/model.onnx
  # the goldens' batch of 3
  out=$("$cli" run "$model" --input "input=$golden/$m/input.npy" --output-dir "$tmp/$m" 2>&1) ||
    fail "hwadapt run $m: $out"
  for f in "$golden/$m"/*.npy; do
    o=$(basename "$f" .npy)
    [ "$o" = input ] || contains "$out" "$tmp/$m/$o.npy"
  done
  echo "$m, batch 3:"
  compare "$tmp/$m" "$golden/$m" 3 || fail "$m at batch 3 (above)"
  # the first sample alone: the same file bound to a batch of 1
  "$py" -c 'import sys, numpy as np; np.save(sys.argv[2], np.load(sys.argv[1])[:1])' \
    "$golden/$m/input.npy" "$tmp/$m-b1-input.npy"
  out=$("$cli" run "$model" --input "input=$tmp/$m-b1-input.npy" --output-dir "$tmp/$m-b1" 2>&1) ||
    fail "hwadapt run $m at batch 1: $out"
  echo "$m, batch 1:"
  compare "$tmp/$m-b1" "$golden/$m" 1 || fail "$m at batch 1 (above)"
  echo "ok: $m matches PyTorch at batch 3 and 1"
done

# inspect: the producer, the opset, the input with its symbolic batch, the
# outputs, every op type with its count (as tests/golden/onnx/README.md lists
# them, read by the exporter script's own protobuf reader)
out=$("$cli" inspect "$golden/cnn_opset13/model.onnx" 2>&1) || fail "hwadapt inspect cnn_opset13: $out"
contains "$out" "producer pytorch 1.13"
grep -qE '^opsets: ai.onnx 13$' <<<"$out" || fail "no opset 13 in:"$'\n'"$out"
grep -qE '^  input +float +\[batch,1,28,28\]$' <<<"$out" || fail "no input [batch,1,28,28] in:"$'\n'"$out"
grep -qE '^  logits +float +\[batch,10\]$' <<<"$out" || fail "no output logits in:"$'\n'"$out"
contains "$out" "ops (20 nodes): AveragePool 1, BatchNormalization 1, Concat 1, Constant 5, Conv 2, Gather 1, Gemm 1, MaxPool 1, Pad 1, Relu 2, Reshape 1, Shape 1, Unsqueeze 2"
out=$("$cli" inspect "$golden/mlp_opset17/model.onnx" 2>&1) || fail "hwadapt inspect mlp_opset17: $out"
grep -qE '^opsets: ai.onnx 17$' <<<"$out" || fail "no opset 17 in:"$'\n'"$out"
grep -qE '^  probs +float +\[batch,10\]$' <<<"$out" || fail "no output probs in:"$'\n'"$out"
contains "$out" "ops (13 nodes): Add 2, Constant 3, Div 1, Erf 1, Gemm 1, LayerNormalization 1, MatMul 1, Mul 2, Softmax 1"
echo "ok: inspect"

# expect_error WHAT RC LINES TEXT... -- ARGS: hwadapt ARGS exits RC (2: usage,
# 1: the model or its data) and writes at most LINES lines, one holding every TEXT
expect_error() {
  local what=$1 want=$2 lines=$3 rc=0 err
  shift 3
  local -a texts=()
  while [ "$1" != -- ]; do texts+=("$1"); shift; done
  shift
  err=$("$cli" "$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" = "$want" ] || fail "$what: hwadapt $* exited $rc, not $want: $err"
  [ "$(printf '%s\n' "$err" | wc -l)" -le "$lines" ] || fail "$what: more than $lines line(s):"$'\n'"$err"
  local line=$err t
  for t in "${texts[@]}"; do line=$(grep -F -- "$t" <<<"$line") || fail "$what: no line with ${texts[*]} in:"$'\n'"$err"; done
  echo "ok: $what ($line)"
}
mlp=$golden/mlp_opset13
# the usage error, then the input it lacks
expect_error "no --input" 2 2 "needs input 'input'" -- run "$mlp/model.onnx" --output-dir "$tmp/none"
[ ! -e "$tmp/none" ] || [ -z "$(ls -A "$tmp/none")" ] || fail "a failed run wrote outputs"
"$py" -c 'import sys, numpy as np; np.save(sys.argv[1], np.zeros((3, 100), np.float32))' "$tmp/wrong.npy"
expect_error "an input of the wrong shape" 1 1 "input 'input'" "784" "100" -- \
  run "$mlp/model.onnx" --input "input=$tmp/wrong.npy" --output-dir "$tmp/wrong"
[ ! -e "$tmp/wrong" ] || [ -z "$(ls -A "$tmp/wrong")" ] || fail "a failed run wrote outputs"
cp "$mlp/input.npy" "$tmp/not-a-model.onnx"
expect_error "a file that is not ONNX" 1 1 "not-a-model.onnx" "onnx.ModelProto" -- \
  run "$tmp/not-a-model.onnx" --input "input=$mlp/input.npy" --output-dir "$tmp/bad"
expect_error "inspect of a file that is not ONNX" 1 1 "not-a-model.onnx" -- inspect "$tmp/not-a-model.onnx"
