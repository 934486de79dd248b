#!/usr/bin/env bash
# hwadapt quantize: stories260K.gguf to Q4_0 and Q8_0 (sizes printed, the
# files inspected and run: Q8_0 generates the f32 model's greedy text), and
# bad usage refused before any work: an unknown --type (exit 2), a missing
# output folder (exit 2, nothing written), a file that is not GGUF (exit 1).
# hwadapt perplexity: the Q4_0 file against the f32 one on tinyshakespeare
# (JSON with perplexity, KL divergence and top-1 agreement), a bad --ctx
# refused (exit 2). hwadapt imatrix on part of tinyshakespeare, quantize
# --imatrix with it (the matrices it weighs counted, the embedding warned
# about), another model's imatrix and a file that is none refused (exit 1).
set -euo pipefail
cli=${HWA_CLI:?HWA_CLI must name the built hwadapt}
data=${HWA_DATA_DIR:-../shared/data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
. "$(dirname "$0")/skip.bash"

s=$data/stories260K
[ -e "$s/stories260K.gguf" ] || skip_for data "$s/stories260K.gguf is absent"
for t in q4_0 q8_0; do
  "$cli" quantize "$s/stories260K.gguf" "$tmp/$t.gguf" --type "$t" >"$tmp/q.out" 2>&1 || fail "quantize $t: $(cat "$tmp/q.out")"
  grep -q "48 tensors" "$tmp/q.out" || fail "quantize $t: no summary: $(cat "$tmp/q.out")"
  "$cli" inspect "$tmp/$t.gguf" >"$tmp/i.txt" || fail "inspect $t failed"
  grep -qi " $t " "$tmp/i.txt" || fail "inspect does not show $t tensors: $(head -30 "$tmp/i.txt")"
  echo "ok: quantize $t: $(tail -1 "$tmp/q.out")"
done
g=(generate --temperature 0 --steps 40 --prompt "Once upon a time")
"$cli" "${g[0]}" "$s/stories260K.gguf" "${g[@]:1}" >"$tmp/f32.txt" 2>/dev/null || fail "generate f32"
"$cli" "${g[0]}" "$tmp/q8_0.gguf" "${g[@]:1}" >"$tmp/q8.txt" 2>/dev/null || fail "generate q8_0"
cmp -s "$tmp/f32.txt" "$tmp/q8.txt" || fail "q8_0's greedy text differs from f32's: $(cat "$tmp/q8.txt")"
"$cli" "${g[0]}" "$tmp/q4_0.gguf" "${g[@]:1}" >"$tmp/q4.txt" 2>/dev/null || fail "generate q4_0"
grep -q "Once upon a time" "$tmp/q4.txt" || fail "q4_0 did not continue the prompt"
echo "ok: q8_0 generates the f32 model's greedy text; q4_0: $(head -c 80 "$tmp/q4.txt")"

rc=0; "$cli" quantize "$s/stories260K.gguf" "$tmp/x.gguf" --type q9_9 2>"$tmp/e" || rc=$?
[ "$rc" = 2 ] && grep -q -- "--type q9_9: not one of the allowed values; allowed: q8_0" "$tmp/e" || fail "--type q9_9: exit $rc: $(cat "$tmp/e")"
rc=0; "$cli" quantize "$s/stories260K.gguf" "$tmp/nosuch/x.gguf" --type q8_0 2>"$tmp/e" || rc=$?
[ "$rc" = 2 ] && grep -q "folder $tmp/nosuch does not exist" "$tmp/e" || fail "missing folder: exit $rc: $(cat "$tmp/e")"
rc=0; "$cli" quantize "$s/tok512.bin" "$tmp/x.gguf" --type q8_0 2>"$tmp/e" || rc=$?
[ "$rc" = 1 ] && grep -q "is not a model quantize reads" "$tmp/e" || fail "a tokenizer as input: exit $rc: $(cat "$tmp/e")"
[ ! -e "$tmp/x.gguf" ] || fail "a refused run left a file"
echo "ok: bad --type, a missing folder and a tokenizer file as the model refused"

# llama2.c input with its tokenizer: the GGUF generates the checkpoint's greedy text
"$cli" quantize "$s/stories260K.bin" "$tmp/bin.gguf" --type f32 --tokenizer "$s/tok512.bin" >"$tmp/q.out" ||
  fail "quantize from llama2.c: $(cat "$tmp/q.out")"
"$cli" "${g[0]}" "$tmp/bin.gguf" "${g[@]:1}" >"$tmp/bin.txt" 2>/dev/null || fail "generate from the converted GGUF"
cmp -s "$tmp/f32.txt" "$tmp/bin.txt" || fail "the converted GGUF's greedy text differs: $(cat "$tmp/bin.txt")"
rc=0; "$cli" quantize "$s/stories260K.gguf" "$tmp/x.gguf" --type q8_0 --tokenizer "$s/tok512.bin" 2>"$tmp/e" || rc=$?
[ "$rc" = 2 ] && grep -q "carries its own tokenizer" "$tmp/e" || fail "--tokenizer with GGUF input: exit $rc: $(cat "$tmp/e")"
echo "ok: llama2.c checkpoint + tokenizer -> GGUF generates the same text; --tokenizer refused for GGUF input"

# every type the command writes, from stories260K and from llama-2-tiny-random:
# the file loads and generates; stories260K's text is still English (at least
# three of its common words after the prompt: a model whose products went
# wrong writes none)
t=$data/llama-2-tiny-random/llama-2-tiny-random.gguf
for ty in f16 bf16 q8_0 q6_k q4_k q4_1 q4_0; do
  "$cli" quantize "$s/stories260K.gguf" "$tmp/all-$ty.gguf" --type "$ty" >/dev/null 2>&1 || fail "quantize $ty"
  "$cli" "${g[0]}" "$tmp/all-$ty.gguf" "${g[@]:1}" >"$tmp/all.txt" 2>/dev/null || fail "generate $ty"
  words=$(sed '1s/^Once upon a time//' "$tmp/all.txt" | tr -cs 'A-Za-z' '\n' | grep -cxE 'the|a|was|to|and|she|he|her|his|they|it|in|with' || true)
  [ "$words" -ge 3 ] || fail "stories260K in $ty writes no English: $(cat "$tmp/all.txt")"
  if [ -e "$t" ]; then
    "$cli" quantize "$t" "$tmp/tiny-$ty.gguf" --type "$ty" >/dev/null 2>&1 || fail "quantize llama-2-tiny-random $ty"
    "$cli" generate "$tmp/tiny-$ty.gguf" --temperature 0 --steps 16 --prompt "Hello" >"$tmp/tiny.txt" 2>/dev/null ||
      fail "generate llama-2-tiny-random $ty"
  fi
  echo "ok: $ty: stories260K writes $words common words: $(head -c 60 "$tmp/all.txt" | tr '\n' ' ')"
done
[ -e "$t" ] || skip_part data "$t is absent"

if [ -e "$data/tinyshakespeare.txt" ]; then
  "$cli" perplexity "$tmp/q4_0.gguf" --text "$data/tinyshakespeare.txt" --ctx 64 --chunks 8 \
    --reference "$s/stories260K.gguf" --json >"$tmp/p.json" || fail "perplexity failed"
  /usr/bin/python3 - "$tmp/p.json" <<'PY' || fail "perplexity JSON: $(cat "$tmp/p.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["scored"] == 8 * 31 and r["ppl"] > 1 and r["ref_ppl"] > 1, r
assert 0 < r["kl_mean"] < 1 and 0.5 < r["top1"] <= 1, r
print(f"ok: perplexity q4_0 {r['ppl']:.3f} against f32 {r['ref_ppl']:.3f}, KL {r['kl_mean']:.4f}, top-1 {100 * r['top1']:.1f}%")
PY
  rc=0; "$cli" perplexity "$s/stories260K.gguf" --text "$data/tinyshakespeare.txt" --ctx 2 2>"$tmp/e" || rc=$?
  [ "$rc" = 2 ] || fail "--ctx 2: exit $rc"
  echo "ok: perplexity refuses --ctx 2"
  # an importance matrix from text, then quantize weighted by it
  head -c 60000 "$data/tinyshakespeare.txt" >"$tmp/calib.txt"
  "$cli" imatrix "$s/stories260K.gguf" --text "$tmp/calib.txt" -o "$tmp/s.imatrix" --ctx 64 --chunks 20 >"$tmp/m.out" ||
    fail "imatrix: $(cat "$tmp/m.out")"
  grep -q "36 matrices over 20 chunks of 64 tokens" "$tmp/m.out" || fail "imatrix summary: $(cat "$tmp/m.out")"
  "$cli" inspect "$tmp/s.imatrix" >"$tmp/i.txt" || fail "inspect imatrix"
  grep -q "blk.4.ffn_down.weight.in_sum2 *F32 *\[1,172\]" "$tmp/i.txt" && grep -q "imatrix.chunk_count *u32 *20" "$tmp/i.txt" ||
    fail "imatrix contents: $(head -20 "$tmp/i.txt")"
  "$cli" quantize "$s/stories260K.gguf" "$tmp/q4w.gguf" --type q4_0 --imatrix "$tmp/s.imatrix" >"$tmp/q.out" 2>"$tmp/e" ||
    fail "quantize --imatrix: $(cat "$tmp/q.out" "$tmp/e")"
  grep -q "31 matrices weighted by it" "$tmp/q.out" && grep -q "warning: 1 matrices in block types have no entry" "$tmp/e" ||
    fail "quantize --imatrix summary: $(cat "$tmp/q.out" "$tmp/e")"
  cmp -s "$tmp/q4w.gguf" "$tmp/q4_0.gguf" && fail "the imatrix changed no byte"
  echo "ok: imatrix written and read; quantize --imatrix: $(grep weighted "$tmp/q.out")"
  t=$data/llama-2-tiny-random/llama-2-tiny-random.gguf
  if [ -e "$t" ]; then
    rc=0; "$cli" quantize "$t" "$tmp/x.gguf" --type q8_0 --imatrix "$tmp/s.imatrix" 2>"$tmp/e" >/dev/null || rc=$?
    [ "$rc" = 1 ] && grep -q "this model's" "$tmp/e" || fail "another model's imatrix: exit $rc: $(cat "$tmp/e")"
    echo "ok: another model's imatrix refused: $(cat "$tmp/e")"
  else
    skip_part data "$t is absent"
  fi
  rc=0; "$cli" quantize "$s/stories260K.gguf" "$tmp/x.gguf" --type q4_0 --imatrix "$tmp/calib.txt" 2>"$tmp/e" || rc=$?
  [ "$rc" = 1 ] && grep -q "calib.txt" "$tmp/e" || fail "a text as imatrix: exit $rc: $(cat "$tmp/e")"
  [ ! -e "$tmp/x.gguf" ] || fail "a refused run left a file"
else
  skip_part data "$data/tinyshakespeare.txt is absent"
fi
finish_skips
