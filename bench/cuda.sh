#!/usr/bin/env bash
# The CUDA backend against its peers in one run, on cuda:0:
#   GEMM 8192^3 bf16: hwadapt's graph (one MATMUL node) vs a direct
#     cublasLtMatmul (bench/cuda_bench.c)                       target >= 95 %
#   the seed Linear (linear1000, batch 64): `hwadapt bench` p50 latency vs
#     PyTorch's nn.Linear on the same GPU (bench/cuda_torch.py) target <= 1x
#   a 1.04B-parameter synthetic Llama decoding in bf16: `hwadapt bench MODEL`
#     tokens/s, against the HBM bound (weight bytes per token / the GPU's
#     memory bandwidth)                                         target >= 75 %
#     and against PyTorch eager decoding the same weights
#   energy per sample (J) and idle power (W) of the hwadapt rows, from NVML's
#     energy counter of the same GPU (n/a, with the reason, without one)
# Every result is validated before it is timed; the two sides of each
# comparison run interleaved (in one process for the GEMM, process after
# process for the others) and the figures are medians. Prints a Markdown
# table and writes it to $BUILD/bench/cuda/cuda.md (the raw rows beside it).
# Without a CUDA device it stops at once: "no CUDA device: <reason>", exit 2.
# A comparison that fails is marked FAILED in the table and the script goes
# on; the exit status is then 1.
#   BENCH_QUICK=1   small sizes, one round (a smoke run; the targets are not judged)
#   ROUNDS=N        process-level rounds of each side (default 3 linear, 2 decode)
#   CALIBRATE=1     let hwadapt calibrate (the HBM bound then uses its measured
#                   bandwidth when it has one; default --no-calibrate)
#   DEVICE=SPEC     the hwadapt device of the linear and decode rows (default
#                   cuda:0; DEVICE=cpu dry-runs the script on a machine without a GPU)
#   HWA_CLI, BUILD, PYTHON as for the other bench scripts (bench/lib.bash)
set -uo pipefail
cd "$(dirname "$0")/.."
. bench/lib.bash
BUILD=${BUILD:-build}
out="$BUILD/bench/cuda"
mkdir -p "$out"
quick=${BENCH_QUICK:+quick}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cli=$(hwa_cli "$PWD") || { echo "cuda.sh: cannot build hwadapt" >&2; exit 1; }
dev=${DEVICE:-cuda:0}
if ! "$cli" probe --list >"$tmp/list" 2>"$tmp/list.err" || ! grep -q "^$dev " "$tmp/list"; then
  why=$(sed -n 's/^cuda: none found: //p' "$tmp/list.err" | head -1)
  echo "no CUDA device: ${why:-hwadapt probe lists no $dev ($(head -c 300 "$tmp/list.err"))}" >&2
  exit 2
fi
gpu=$(sed -n "s/^$dev *//p" "$tmp/list" | sed 's/ ([a-z]*[ a-z]*, [0-9]* units.*//' | head -1)
calib=--no-calibrate
[ "${CALIBRATE:-0}" = 1 ] && calib=
rounds_lin=${ROUNDS:-3}
rounds_dec=${ROUNDS:-2}
[ -n "$quick" ] && rounds_lin=1 rounds_dec=1
failed=0
py=$(hwa_python json) || py=python3
torch_py=$(hwa_python torch,numpy) || torch_py=
numpy_py=$(hwa_python numpy) || numpy_py=
echo "cuda.sh: $dev = $gpu; hwadapt $cli; PyTorch: ${torch_py:-not importable}" >&2

# json_str TEXT: TEXT as a JSON string.
json_str() { "$py" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }

# hw_side JSONL ARGS...: one `hwadapt bench ARGS --json` process; its report,
# tagged "side": "hwadapt", is appended to JSONL, or its error line is.
hw_side() {
  local jsonl=$1
  shift
  if timeout 180 "$cli" bench "$@" --json --quiet $calib -o "$tmp/hw.json" 2>"$tmp/hw.err"; then
    "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["side"]="hwadapt"; print(json.dumps(d))' \
      "$tmp/hw.json" >>"$jsonl"
  else
    failed=1
    printf '{"side": "hwadapt", "error": %s}\n' "$(json_str "$(tail -1 "$tmp/hw.err")")" >>"$jsonl"
  fi
}

# torch_side JSONL ARGS...: one `cuda_torch.py ARGS` process appending its
# line to JSONL; a skip (exit 3: no torch, or torch without CUDA) or a
# failure appends a line that says so (only a failure fails the script).
torch_side() {
  local jsonl=$1 rc
  shift
  [ -n "$torch_py" ] || return 0
  timeout 180 "$torch_py" bench/cuda_torch.py "$@" >>"$jsonl" 2>"$tmp/torch.err"
  rc=$?
  [ $rc -eq 0 ] && return 0
  printf '{"side": "pytorch", "skip": %s, "error": %s}\n' "$([ $rc -eq 3 ] && echo true || echo false)" \
    "$(json_str "$(tail -1 "$tmp/torch.err")")" >>"$jsonl"
  [ $rc -eq 3 ] || failed=1
}

# ---- GEMM --------------------------------------------------------------------------
: >"$tmp/gemm.tsv"
bin="$BUILD/bench/cuda_bench"
cmake --build "$BUILD" -j "$(nproc)" --target cuda_bench >"$tmp/build.log" 2>&1 || true
if [ -x "$bin" ]; then
  "$bin" props >"$out/props.tsv" 2>"$tmp/props.err" || : >"$out/props.tsv"
  echo "cuda.sh: GEMM (cuda_bench gemm $quick)" >&2
  if ! timeout 240 "$bin" gemm $quick >"$tmp/gemm.tsv" 2>"$tmp/gemm.err"; then
    failed=1
    echo "gemm	FAILED	$(tail -1 "$tmp/gemm.err")" >"$tmp/gemm.tsv"
  fi
  cat "$tmp/gemm.err" >&2
else
  : >"$out/props.tsv"
  echo "gemm	n/a	cuda_bench is not built (it needs the CUDA toolkit at build time: $(tail -1 "$tmp/build.log"))" >"$tmp/gemm.tsv"
fi
cp "$tmp/gemm.tsv" "$out/gemm.tsv"

# ---- the seed Linear ----------------------------------------------------------------
# hwadapt bench's rows and cuda_torch.py's lines, one process of each per round.
: >"$out/linear.jsonl"
for r in $(seq "$rounds_lin"); do
  echo "cuda.sh: linear1000, round $r of $rounds_lin" >&2
  hw_side "$out/linear.jsonl" linear1000 --device "$dev" --batch 64 -r 3
  torch_side "$out/linear.jsonl" linear --rounds $([ -n "$quick" ] && echo 200 || echo 2000)
done

# ---- the 1B Llama decode --------------------------------------------------------------
: >"$out/decode.jsonl"
model_dir=${CUDA_BENCH_MODELS:-$BUILD/bench/cuda/models}
mkdir -p "$model_dir"
if [ -n "$quick" ]; then
  ckpt=$model_dir/llama-1b-2layers.bin
  shape=(--preset 1b --layers 2)
else
  ckpt=$model_dir/llama-1b.bin
  shape=(--preset 1b)
fi
gguf=${ckpt%.bin}-bf16.gguf
# Both files are kept between runs (and scripts/gpu-check.sh writes the
# checkpoint while it builds); each is written under a temporary name first.
if [ ! -s "$ckpt" ] && [ -z "$numpy_py" ]; then
  echo '{"side": "setup", "error": "no python3 with numpy to write the synthetic checkpoint"}' >>"$out/decode.jsonl"
  failed=1
elif [ ! -s "$ckpt" ] || [ ! -s "$gguf" ]; then
  echo "cuda.sh: writing the synthetic checkpoint ${shape[*]} to $ckpt, then its bf16 GGUF" >&2
  if { [ -s "$ckpt" ] || { timeout 300 "$numpy_py" bench/make_llama_checkpoint.py "$ckpt.part" "${shape[@]}" 2>"$tmp/mk.err" &&
         mv "$ckpt.part" "$ckpt"; }; } &&
     timeout 300 "$cli" quantize "$ckpt" "$gguf.part" --type bf16 >"$tmp/q.log" 2>&1 && mv "$gguf.part" "$gguf"; then
    :
  else
    printf '{"side": "setup", "error": %s}\n' "$(json_str "$(cat "$tmp/mk.err" "$tmp/q.log" 2>/dev/null | tail -1)")" \
      >>"$out/decode.jsonl"
    failed=1
    rm -f "$ckpt.part" "$gguf.part"
  fi
fi
# The PyTorch forward is checked first: its greedy text on stories260K (on
# the GPU, f32) must be hwadapt's on the CPU.
data=${HWA_DATA_DIR:-../shared/data}
[ -d "$data/stories260K" ] || data=shared/data
s260=$data/stories260K
: >"$out/torch_check.txt"
if [ -n "$torch_py" ] && [ -f "$s260/stories260K.bin" ] && [ -f "$s260/tok512.bin" ]; then
  "$cli" generate "$s260/stories260K.bin" --tokenizer "$s260/tok512.bin" --temperature 0 --steps 100 \
    >"$tmp/g-hw.txt" 2>/dev/null
  timeout 120 "$torch_py" bench/cuda_torch.py greedy "$s260/stories260K.bin" "$s260/tok512.bin" --steps 100 \
    >"$tmp/g-torch.txt" 2>"$tmp/g-torch.err"
  case $? in
    0) if [ -s "$tmp/g-hw.txt" ] && cmp -s "$tmp/g-hw.txt" "$tmp/g-torch.txt"; then
         echo "same" >"$out/torch_check.txt"
       else
         echo "differs" >"$out/torch_check.txt"
       fi ;;
    3) ;; # no torch with CUDA: the PyTorch columns say so
    *) echo "failed: $(tail -1 "$tmp/g-torch.err")" >"$out/torch_check.txt" ;;
  esac
fi
if [ -s "$gguf" ]; then
  for r in $(seq "$rounds_dec"); do
    echo "cuda.sh: decode, round $r of $rounds_dec" >&2
    hw_side "$out/decode.jsonl" "$gguf" --device "$dev" --dtype bf16 -r 3 --min-time 2
    [ -s "$ckpt" ] && torch_side "$out/decode.jsonl" decode "$ckpt" --dtype bf16 --steps $([ -n "$quick" ] && echo 32 || echo 128)
  done
fi

# ---- the table ------------------------------------------------------------------------
"$py" bench/cuda_report.py --device "$dev" --gpu "$gpu" --out "$out" --ckpt "$ckpt" ${quick:+--quick} ${torch_py:+--torch "$torch_py"} | tee "$out/cuda.md"
[ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
exit $failed
