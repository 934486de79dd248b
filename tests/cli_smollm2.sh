#!/usr/bin/env bash
# SmolLM2-135M-Instruct (Q4_1 GGUF, byte-level BPE) through the commands a
# user runs: generate answers a chat prompt, written with its special tokens
# and printed back as written (no BOS added); perplexity tokenizes the whole
# of tinyshakespeare into the 341094 tokens Hugging Face tokenizers gives
# (tests/reference/gen_bpe_goldens.py's tokenizer); inspect shows the
# tokenizer's keys; bench times its decode steps. Skips (kind smollm2)
# without the file.
set -u
cli=${HWA_CLI:?}
data=${HWA_DATA_DIR:-../shared/data}
. "$(dirname "$0")/skip.bash"
model=$(smollm2_path) || skip_for smollm2 "SmolLM2-135M-Instruct.Q4_1.gguf is absent (scripts/install-deps.sh fetches it; HWA_SMOLLM2 names another copy)"
[ -e "$data/tinyshakespeare.txt" ] || skip_for data "$data/tinyshakespeare.txt is absent (HWA_DATA_DIR, ../shared/data)"
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; else echo "ok: $1"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

prompt=$'<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n'
rc=0
"$cli" generate "$model" --prompt "$prompt" --temperature 0 --steps 40 --ctx 64 >"$tmp/out" 2>"$tmp/err" || rc=$?
check "generate exits 0: $(tail -1 "$tmp/err")" '[ $rc -eq 0 ]'
printf '%s' "$prompt" >"$tmp/want"
check "the prompt is printed as written, special tokens included" 'cmp -s -n "$(wc -c <"$tmp/want")" "$tmp/want" "$tmp/out"'
check "the answer names Paris" 'grep -q "Paris" "$tmp/out"'
# tokenizers gives these 16 ids for the prompt; BOS would make 17
check "the prompt is 16 tokens (no BOS)" 'grep -q "prompt: 16 tokens" "$tmp/err"'

"$cli" perplexity "$model" --text "$data/tinyshakespeare.txt" --ctx 64 --chunks 2 --json >"$tmp/p.json" 2>"$tmp/err"
check "perplexity runs: $(cat "$tmp/err")" '[ -s "$tmp/p.json" ]'
check "the whole text is 341094 tokens" 'grep -q "\"text_tokens\": 341094," "$tmp/p.json"'
check "perplexity is finite and plausible" \
  'awk -F"\"ppl\": " "{ split(\$2, a, \",\"); exit !(a[1] > 1 && a[1] < 1000) }" "$tmp/p.json"'

"$cli" inspect "$model" >"$tmp/inspect" 2>&1
check "inspect shows the byte-level tokenizer" 'grep -q "tokenizer.ggml.pre  *string \"smollm\"" "$tmp/inspect"'

"$cli" bench "$model" -r 1 --min-time 0.1 --min-queries 2 --no-calibrate --quiet >"$tmp/bench" 2>&1
check "bench MODEL times q4_1 decode steps: $(tail -3 "$tmp/bench")" 'grep -qE "^  cpu +q4_1 " "$tmp/bench"'
exit $fail
