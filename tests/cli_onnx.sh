#!/usr/bin/env bash
# ONNX models from the command line: hwadapt run MODEL.onnx on .npy inputs
# writes every output as NAME.npy in its declared type (values checked
# against numpy's own arithmetic on the model's initializers), a missing
# input or a wrong dtype fails with exit 1 and a message, an unsupported
# model lists its ops, and bench and plan take the model as a workload.
set -euo pipefail
cli=${HWA_CLI:?HWA_CLI must name the built hwadapt}
src=${HWA_SOURCE_DIR:-$(pwd)}
source "$src/tests/skip.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
contains() { grep -qF -- "$2" <<<"$1" || fail "expected '$2' in:"$'\n'"$1"; }
py=/usr/bin/python3
"$py" -c 'import numpy' 2> /dev/null || skip_for python "no numpy for $py"
m=$src/tests/onnx/import

"$py" - "$tmp" <<'PY'
import sys, numpy as np
d = sys.argv[1]
np.save(d + "/x.npy", np.linspace(-2, 2, 2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4))
np.save(d + "/ids.npy", np.array([1, 0, 9, 3], dtype=np.int64))
np.save(d + "/xx.npy", np.linspace(-1, 1, 12).reshape(4, 3))        # float64: narrowed to float
np.save(d + "/big.npy", np.array([1, 0, 2**40, 3], dtype=np.int64))  # past int32
np.save(d + "/fids.npy", np.array([1, 0, 9, 3], dtype=np.float64))    # floats for ids
PY
out=$("$cli" run "$m/flat.onnx" --input x="$tmp/x.npy" --output-dir "$tmp/out")
contains "$out" "wrote $tmp/out/y.npy  float [2,5]"
out=$("$cli" run "$m/types.onnx" --input ids="$tmp/ids.npy" --input x="$tmp/xx.npy" --output-dir "$tmp/out")
contains "$out" "wrote $tmp/out/emb.npy  float [4,3]"
contains "$out" "wrote $tmp/out/pos.npy  bool [4,3]"
contains "$out" "wrote $tmp/out/n.npy  int64 [2]"
# the values (y's against its weights is tests/test_onnx_import.c's check;
# here its type, shape and the relu, and the outputs that need no weights)
"$py" - "$tmp" <<'PY'
import sys, numpy as np
d = sys.argv[1]
pos, n, y = np.load(d + "/out/pos.npy"), np.load(d + "/out/n.npy"), np.load(d + "/out/y.npy")
assert pos.dtype == np.bool_ and (pos == (np.load(d + "/xx.npy") > 0)).all(), pos
assert n.dtype == np.int64 and list(n) == [4, 3], n
assert y.dtype == np.float32 and y.shape == (2, 5) and (y >= 0).all(), y
PY
echo "ok: run writes float, bool and int64 outputs"

# errors: exit 1 with a message
set +e
err=$("$cli" run "$m/flat.onnx" --output-dir "$tmp/out" 2>&1); rc=$?
[ $rc -eq 2 ] || fail "a missing input: exit $rc"; contains "$err" "needs input 'x'"
err=$("$cli" run "$m/types.onnx" --input ids="$tmp/big.npy" --input x="$tmp/xx.npy" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "an id past int32: exit $rc"; contains "$err" "does not fit in int32"
err=$("$cli" run "$m/types.onnx" --input ids="$tmp/fids.npy" --input x="$tmp/xx.npy" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "a float for int64 ids: exit $rc"; contains "$err" "input 'ids' is int64; got double"
err=$("$cli" run "$m/unsup.onnx" --input x="$tmp/x.npy" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "unsupported ops: exit $rc"; contains "$err" "TopK x2, CumSum x1"
err=$("$cli" run "$m/flat.onnx" --input nope="$tmp/x.npy" 2>&1); rc=$?
[ $rc -eq 2 ] || fail "an unknown input name: exit $rc"; contains "$err" "has no input of that name; allowed: x"
set -e
echo "ok: run refuses missing inputs, bad types and unsupported ops"

# bench and plan take the model as a workload
out=$("$cli" bench "$m/flat.onnx" --batch 4 --min-time 0.05 --reps 1 --warmup 0 --quiet)
contains "$out" "flat.onnx · batch 4 · single"
contains "$out" "ONNX model: a query is one forward pass with every symbolic dimension set to 4"
out=$("$cli" plan "$m/flat.onnx" --batch 3 --devices cpu --no-calibrate)
contains "$out" "flat.onnx, batch 3, f32, across cpu"
contains "$out" "matmul"
echo "ok: bench and plan"
