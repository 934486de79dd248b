#!/usr/bin/env bash
# SmolLM2-135M-Instruct's quality across weight types, with hwadapt alone:
#   1. its Q4_1 file dequantized to f32 (hwadapt quantize --type f32): the
#      reference, since the Q4_1 values are all the model there is here;
#   2. that f32 model requantized by hwadapt quantize to q8_0, q6_k, q4_k,
#      q4_1 and q4_0 (the file as published too, as "file");
#   3. hwadapt perplexity over tinyshakespeare for each, against the f32 one
#      (--reference): perplexity +- its standard error, the change against
#      f32, the mean KL divergence of the next-token distributions from
#      f32's, and top-1 agreement;
#   4. a few greedy tokens of each, to see that each still writes sense.
# The perplexity runs take CHUNKS chunks of CTX tokens (default 4 x 256,
# about 5 minutes on two contended cores; the figures' spread is wide at
# that size: the KL and top-1 columns are the steadier ones).
# Needs ./build and the model (scripts/install-deps.sh fetches it; HWA_SMOLLM2
# names another copy); about 800 MB in ${TMPDIR:-/tmp}.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.bash
cli=$(hwa_cli "$PWD")
model=${HWA_SMOLLM2:-${XDG_CACHE_HOME:-$HOME/.cache}/hwadapt/models/SmolLM2-135M-Instruct.Q4_1.gguf}
text=${TEXT:-../shared/data/tinyshakespeare.txt}
ctx=${CTX:-256} chunks=${CHUNKS:-4}
prompt="The capital of France is"
if [ ! -f "$model" ]; then
  echo "smollm2_ppl: $model is absent (scripts/install-deps.sh fetches it): skipped"
  exit 0
fi
[ -f "$text" ] || { echo "smollm2_ppl: $text is absent (TEXT names another)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$cli" quantize "$model" "$tmp/f32.gguf" --type f32 >/dev/null
types=(q8_0 q6_k q4_k q4_1 q4_0)
for t in "${types[@]}"; do "$cli" quantize "$tmp/f32.gguf" "$tmp/$t.gguf" --type "$t" >/dev/null; done
ln -s "$model" "$tmp/file.gguf"

# field NAME JSON: a number of the one-line JSON object perplexity --json prints
field() { sed -n "s/.*\"$1\": \([-0-9.eE+naif]*\).*/\1/p" <<<"$2"; }

echo "SmolLM2-135M-Instruct on $(basename "$text"): $chunks chunks of $ctx tokens, against its f32 dequantization"
printf '%-6s %8s %18s %9s %10s %8s\n' type MiB "perplexity" "vs f32" "KL mean" "top-1"
rows=()
for t in "${types[@]}" file; do
  json=$("$cli" perplexity "$tmp/$t.gguf" --reference "$tmp/f32.gguf" --text "$text" --ctx "$ctx" --chunks "$chunks" --json)
  ppl=$(field ppl "$json") se=$(field ppl_se "$json") ref=$(field ref_ppl "$json")
  kl=$(field kl_mean "$json") top1=$(field top1 "$json")
  mib=$(awk -v b="$(stat -L -c %s "$tmp/$t.gguf")" 'BEGIN { printf "%.1f", b / 1048576 }')
  if [ ${#rows[@]} -eq 0 ]; then
    f32mib=$(awk -v b="$(stat -c %s "$tmp/f32.gguf")" 'BEGIN { printf "%.1f", b / 1048576 }')
    printf '%-6s %8s %9.4f %8s %9s %10s %8s\n' f32 "$f32mib" "$ref" "" "" "" ""
  fi
  rows+=("$t")
  printf '%-6s %8s %9.4f +- %-5.3f %+8.2f%% %10.6f %7.2f%%\n' "$t" "$mib" "$ppl" "$se" \
    "$(awk -v a="$ppl" -v b="$ref" 'BEGIN { print (a / b - 1) * 100 }')" "$kl" "$(awk -v a="$top1" 'BEGIN { print a * 100 }')"
done
echo
echo "greedy continuations of \"$prompt\" (12 tokens):"
for t in f32 "${types[@]}" file; do
  out=$("$cli" generate "$tmp/$t.gguf" --prompt "$prompt" --temperature 0 --steps 17 --ctx 32 2>/dev/null | tr '\n' ' ')
  printf '  %-5s %s\n' "$t" "$out"
done
