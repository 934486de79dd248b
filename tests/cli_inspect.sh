#!/usr/bin/env bash
# hwadapt inspect: exit 0 and a table for valid files; for invalid ones a
# non-zero exit and exactly one line naming the file and the field.
set -u
cli=${HWA_CLI:?}
data=${HWA_DATA_DIR:-../shared/data}
src=${HWA_SOURCE_DIR:-.}
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; else echo "ok: $1"; fi; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -e "$data/tiny-random-gpt2/model.safetensors" ]; then
  out=$("$cli" inspect "$data/tiny-random-gpt2/model.safetensors"); rc=$?
  check "safetensors exits 0" '[ $rc -eq 0 ]'
  check "table lists c_attn with its shape" 'grep -q "transformer.h.0.attn.c_attn.weight *F32 *\[32,96\]" <<<"$out"'
  "$cli" inspect --json "$data/tiny-random-gpt2/model.safetensors" >"$tmp/o.json"; rc=$?
  check "--json exits 0" '[ $rc -eq 0 ]'
  check "--json is valid JSON with 64 tensors" \
    'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert len(d[\"tensors\"])==64" "$tmp/o.json"'
  # same content, another name: detection is by content
  cp "$data/tiny-random-gpt2/model.safetensors" "$tmp/weights.gguf"
  out=$("$cli" inspect "$tmp/weights.gguf"); rc=$?
  check "format from content, not extension" '[ $rc -eq 0 ] && grep -q "safetensors" <<<"$out"'
fi
if [ -e "$data/stories260K/stories260K.gguf" ]; then
  "$cli" inspect "$data/stories260K/stories260K.gguf" >/dev/null; rc=$?
  check "gguf exits 0" '[ $rc -eq 0 ]'
  "$cli" inspect "$data/stories260K/stories260K.bin" >/dev/null; rc=$?
  check "llama2c exits 0" '[ $rc -eq 0 ]'
  head -c 100000 "$data/stories260K/stories260K.gguf" >"$tmp/cut.gguf"
  err=$("$cli" inspect "$tmp/cut.gguf" 2>&1 >/dev/null); rc=$?
  check "truncated gguf exits non-zero" '[ $rc -ne 0 ]'
  check "one line" '[ "$(printf "%s\n" "$err" | wc -l)" -eq 1 ]'
  check "names the file and the field" 'grep -q "cut.gguf: tensor .*: ends at byte" <<<"$err"'
fi
for f in "$src"/tests/fuzz/regress/safetensors/*.st "$src"/tests/fuzz/regress/gguf/*.gguf; do
  err=$("$cli" inspect "$f" 2>&1 >/dev/null); rc=$?
  n=$(printf "%s\n" "$err" | wc -l)
  if [ $rc -eq 0 ] || [ "$n" -ne 1 ] || ! grep -qF "$(basename "$f")" <<<"$err"; then
    echo "FAIL: $f: rc=$rc lines=$n: $err"; fail=1
  fi
done
echo "ok: regression files rejected with one line each"
# compressed models: the valid seeds list their layers, the hostile files fail with one line
cm=$src/tests/fuzz/regress/cmodel
out=$("$cli" inspect "$cm/valid_sparse_shared_huffman.hwac"); rc=$?
check "compressed model exits 0" '[ $rc -eq 0 ]'
check "lists the sparse shared layer with its bytes" 'grep -q "^0 *\[2,310\] *sparse shared *3 *2 *174 " <<<"$out"'
check "gives the total and the ratio to f32" 'grep -q "^total: 242 bytes.*f32: 2524 bytes; 10.43x smaller" <<<"$out"'
"$cli" inspect --json "$cm/valid_dense_int8_plain.hwac" >"$tmp/cm.json"; rc=$?
check "compressed model --json" '[ $rc -eq 0 ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"bytes\"]==142 and d[\"layers\"][1][\"form\"]==\"int8 dynamic\"" "$tmp/cm.json"'
while IFS=$'\t' read -r name expect; do
  [ "$expect" = "=valid" ] && continue
  err=$("$cli" inspect "$cm/$name" 2>&1 >/dev/null); rc=$?
  n=$(printf "%s\n" "$err" | wc -l)
  if [ $rc -ne 1 ] || [ "$n" -ne 1 ] || ! grep -qF "$name" <<<"$err" || ! grep -qF -- "$expect" <<<"$err"; then
    echo "FAIL: $name: rc=$rc lines=$n: $err"; fail=1
  fi
done <"$cm/MANIFEST"
echo "ok: hostile compressed models rejected with one line each"
# ONNX models (Debian libonnx-testdata): the header, the values with their
# shapes, the op counts; the regression corpus's hostile models fail with one line
onnx=/usr/share/libonnx-testdata/data/node
if [ -e "$onnx/test_conv_with_strides_padding/model.onnx" ]; then
  out=$("$cli" inspect "$onnx/test_conv_with_strides_padding/model.onnx"); rc=$?
  check "onnx exits 0" '[ $rc -eq 0 ]'
  check "onnx header" 'grep -q "model.onnx: onnx, IR version 6, producer backend-test$" <<<"$out" && grep -q "^opsets: ai.onnx 11$" <<<"$out"'
  check "onnx input with its shape" 'grep -q "^  x  *float  *\[1,1,7,5\]$" <<<"$out"'
  check "onnx op counts" 'grep -q "^ops (1 nodes): Conv 1$" <<<"$out"'
  "$cli" inspect --json "$onnx/test_gru_seq_length/model.onnx" >"$tmp/onnx.json"; rc=$?
  check "onnx --json" '[ $rc -eq 0 ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"format\"]==\"onnx\" and d[\"ops\"]==dict(GRU=1) and d[\"inputs\"][0][\"shape\"]==[2,3,3]" "$tmp/onnx.json"'
  cp "$onnx/test_conv_with_strides_padding/model.onnx" "$tmp/renamed.bin"
  out=$("$cli" inspect --format onnx "$tmp/renamed.bin"); rc=$?
  check "--format onnx" '[ $rc -eq 0 ] && grep -q "Conv 1" <<<"$out"'
  head -c 60 "$onnx/test_conv_with_strides_padding/model.onnx" >"$tmp/cut.onnx"
  err=$("$cli" inspect "$tmp/cut.onnx" 2>&1 >/dev/null); rc=$?
  check "truncated onnx exits 1 with one line naming the file" '[ $rc -eq 1 ] && [ "$(printf "%s\n" "$err" | wc -l)" -eq 1 ] && grep -q "cut.onnx: " <<<"$err"'
fi
"$cli" inspect >/dev/null 2>&1; rc=$?
check "no file is a usage error (2)" '[ $rc -eq 2 ]'
"$cli" inspect "$tmp/missing" 2>"$tmp/err"; rc=$?
check "missing file exits 1 with one line" '[ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ]'
exit $fail
