#!/usr/bin/env bash
# hwadapt generate: the text alone on stdout and the figures on stderr; a
# prompt longer than --ctx, a tokenizer of another size, an architecture other
# than llama and --top-p 2 each give one clear line and a non-zero exit.
set -u
cli=${HWA_CLI:?}
data=${HWA_DATA_DIR:-../shared/data}
mkgguf=$(dirname "$cli")/hwa_mkgguf
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; else echo "ok: $1"; fi; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
s=$data/stories260K
. "$(dirname "$0")/skip.bash"
for f in "$s/stories260K.bin" "$s/stories260K.gguf" "$s/tok512.bin" "$data/llama-2-tiny-random/llama-2-tiny-random.gguf"; do
  [ -e "$f" ] || skip_for data "$f is absent (HWA_DATA_DIR, ../shared/data)"
done

want="Once upon a time, there was a little girl named Lily. She loved to play outsid"
"$cli" generate "$s/stories260K.bin" --tokenizer "$s/tok512.bin" --prompt "Once upon a time" --temperature 0 \
  --steps 24 >"$tmp/out" 2>"$tmp/err"; rc=$?
check "llama2.c checkpoint: exit 0" '[ $rc -eq 0 ]'
check "stdout is the prompt and the greedy text, nothing else" '[ "$(cat "$tmp/out")" = "$want" ]'
check "stderr has time to first token" 'grep -q "^time to first token: [0-9.]* s" "$tmp/err"'
check "stderr has prefill and decode tokens/s" 'grep -q "^prefill: [0-9.]* tokens/s, decode: [0-9.]* tokens/s" "$tmp/err"'
check "stderr has weight and KV cache memory" 'grep -q "^memory: weights [0-9.]* MiB (mapped), KV cache [0-9.]* MiB" "$tmp/err"'

"$cli" generate "$s/stories260K.gguf" --prompt "Once upon a time" --temperature 0 --steps 24 --threads 1 \
  >"$tmp/out2" 2>/dev/null; rc=$?
check "GGUF with its own tokenizer: the same text" '[ $rc -eq 0 ] && cmp -s "$tmp/out" "$tmp/out2"'

"$cli" generate "$s/stories260K.bin" --tokenizer "$s/tok512.bin" --temperature 0.8 --top-p 0.9 --top-k 40 \
  --seed 5 --steps 40 >"$tmp/a" 2>/dev/null; rc=$?
"$cli" generate "$s/stories260K.bin" --tokenizer "$s/tok512.bin" --temperature 0.8 --top-p 0.9 --top-k 40 \
  --seed 5 --steps 40 >"$tmp/b" 2>/dev/null
check "sampling with a seed is repeatable" '[ $rc -eq 0 ] && [ -s "$tmp/a" ] && cmp -s "$tmp/a" "$tmp/b"'

"$cli" generate "$data/llama-2-tiny-random/llama-2-tiny-random.gguf" --prompt "Hello world" --steps 12 --seed 1 \
  --ctx 64 >"$tmp/out3" 2>"$tmp/err3"; rc=$?
check "F16 32000-token GGUF generates" '[ $rc -eq 0 ] && grep -q "^Hello world" "$tmp/out3" && grep -q "f16 weights" "$tmp/err3"'

# --dtype converts the matrices once at load; the stats line names the dtype
# and threads. f16 moves stories260K's logits by at most 0.011 where the
# smallest gap between a position's two best is 0.071 (tests/test_nn_llama.c),
# so the greedy text is f32's.
"$cli" generate "$s/stories260K.bin" --tokenizer "$s/tok512.bin" --prompt "Once upon a time" --temperature 0 \
  --steps 24 --dtype f16 --threads 1 >"$tmp/f16" 2>"$tmp/f16.err"; rc=$?
check "--dtype f16: the same greedy text as f32" '[ $rc -eq 0 ] && [ "$(cat "$tmp/f16")" = "$want" ]'
check "--dtype f16: stderr names the dtype, the file's and the threads" \
  'grep -q "f16 weights (f32 in the file), threads 1$" "$tmp/f16.err" && grep -q "MiB (converted at load)" "$tmp/f16.err"'
"$cli" generate "$data/llama-2-tiny-random/llama-2-tiny-random.gguf" --prompt "Hello world" --steps 12 --seed 1 \
  --ctx 64 --dtype f32 >"$tmp/out4" 2>"$tmp/err4"; rc=$?
check "F16 GGUF with --dtype f32: the same text as in f16" \
  '[ $rc -eq 0 ] && cmp -s "$tmp/out3" "$tmp/out4" && grep -q "f32 weights (f16 in the file)" "$tmp/err4"'

# Each error: a non-zero exit and one line that says what is wrong.
refuse() { # name, expected text, command...
  local name=$1 msg=$2
  shift 2
  err=$("$@" 2>&1 >/dev/null); rc=$?
  check "$name: non-zero exit" '[ $rc -ne 0 ]'
  check "$name: says '$msg'" 'grep -qF -e "$msg" <<<"$err"'
  check "$name: one line" '[ "$(printf "%s\n" "$err" | wc -l)" -eq 1 ]'
}
refuse "prompt longer than --ctx" "the prompt is 7 tokens (BOS included) but the context holds 4" \
  "$cli" generate "$s/stories260K.bin" --tokenizer "$s/tok512.bin" --ctx 4 --prompt "Once upon a time there was"
refuse "tokenizer of another size" "the tokenizer has 32000 tokens but the model's vocabulary has 512" \
  "$cli" generate "$s/stories260K.bin" --tokenizer "$data/llama-2-tiny-random/llama-2-tiny-random.gguf"
"$mkgguf" "$tmp/gpt2.gguf" gpt2
refuse "architecture other than llama" "architecture 'gpt2' is not supported (only 'llama')" \
  "$cli" generate "$tmp/gpt2.gguf"
refuse "--top-p 2" "--top-p 2: out of range; allowed: (0, 1]" \
  "$cli" generate "$s/stories260K.bin" --tokenizer "$s/tok512.bin" --top-p 2
refuse "llama2.c checkpoint without a tokenizer" "name its tokenizer with --tokenizer FILE" \
  "$cli" generate "$s/stories260K.bin"
refuse "--ctx beyond the model" "context of 600 positions exceeds the model's 512" \
  "$cli" generate "$s/stories260K.bin" --tokenizer "$s/tok512.bin" --ctx 600
refuse "a malformed number" "--steps ten: not an integer; allowed: 1..2147483647" \
  "$cli" generate "$s/stories260K.bin" --steps ten
refuse "--dtype i32" "--dtype i32: not one of the allowed values; allowed: f32, f16, bf16, q8_0, q4_0, q4_1, q4_k, q6_k" \
  "$cli" generate "$s/stories260K.bin" --tokenizer "$s/tok512.bin" --dtype i32
exit $fail
