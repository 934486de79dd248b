#!/usr/bin/env bash
# The CUDA backend's check on a GPU machine, in one run of at most 8 minutes
# from a clean checkout (an H100 or H200; no network needed):
#   0. nvidia-smi -L, the driver, the toolkit;
#   1. a Release build with -DHWA_WERROR=ON of only what the steps run
#      (hwadapt_cli, the CUDA module hwadapt_cuda, test_backend_ops, test_cuda,
#      cuda_bench), CUDA code for this GPU's architecture only;
#   then each step with its own time limit and log, going on after a failure:
#   a. test_backend_ops on cuda:0: every op case against the scalar reference;
#   b. test_cuda, the CUDA backend's own tests;
#   c. stories260K's greedy text on cuda:0 against the CPU's (hwadapt generate);
#   d. fmnist-mlp trained on cuda:0 for 10 epochs: test accuracy >= 89.5 %;
#   e. bench/cuda.sh: GEMM vs cuBLASLt, linear1000 vs PyTorch, a 1B Llama's
#      decode vs the HBM bound and PyTorch, NVML energy.
# Results go under $OUT (default $BUILD/gpu-check): one log per step, the
# bench's table, and summary.md (pass/fail per step and the key figures, in
# the form docs/gpu-results.md takes). Without an NVIDIA GPU it stops at
# once, says why and exits 2; otherwise it exits 1 when a step failed.
#
#   scripts/gpu-check.sh
#   OUT=/tmp/out BUILD=build-gpu scripts/gpu-check.sh
# Environment: BUILD (default build), OUT, BUDGET_S (seconds for everything,
# default 460), JOBS (build jobs, default 16), HWA_CUDA_ARCHS (default: the GPU's compute capability, else
# 90), FMNIST_DIR and HWA_DATA_DIR (else the usual places, see below),
# SKIP_BUILD=1 (use the binaries already in BUILD, e.g. when this machine has
# no CUDA toolkit and the build folder was carried over).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
out=${OUT:-$build/gpu-check}
budget=${BUDGET_S:-460}
jobs=${JOBS:-16}
mkdir -p "$out" || { echo "gpu-check: cannot create $out" >&2; exit 1; }
out=$(cd "$out" && pwd)
summary=$out/summary.md
t_start=$SECONDS
declare -a rows=()
failed=0
log() { echo "== [$((SECONDS - t_start)) s] $*"; }

# result NAME STATUS DETAIL: a row of the summary (STATUS pass, FAIL or skip)
result() {
  rows+=("| $1 | $2 | $3 |")
  [ "$2" = FAIL ] && failed=1
  log "$1: $2${3:+ ($3)}"
}

write_summary() {
  {
    echo "## GPU check, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- GPU: ${gpu_line:-none}"
    echo "- driver: ${driver:-n/a}; CUDA toolkit: ${toolkit:-none}; PyTorch: ${torch_ver:-n/a}"
    echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo n/a)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)'); $(nproc) CPUs; $((SECONDS - t_start)) s in all"
    echo
    echo "| step | result | detail |"
    echo "|---|---|---|"
    printf '%s\n' "${rows[@]}"
    if [ -s "$out/cuda.md" ]; then
      echo
      echo "### bench/cuda.sh"
      echo
      cat "$out/cuda.md"
    fi
  } >"$summary"
}

# limit CAP: seconds a step may take: CAP, or less when the budget runs out
# (at least 10, so that a step still says what it could not do).
limit() {
  local left=$((budget - (SECONDS - t_start)))
  [ "$left" -lt "$1" ] && { [ "$left" -gt 10 ] && echo "$left" || echo 10; } || echo "$1"
}

# timed_out RC: whether RC is timeout's.
timed_out() { [ "$1" -eq 124 ] || [ "$1" -eq 137 ]; }

# ---- 0. the machine ---------------------------------------------------------------
log "the machine"
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu-check: no NVIDIA GPU: nvidia-smi is not installed (no NVIDIA driver)" | tee "$out/nvidia-smi.txt" >&2
  result "GPU" FAIL "nvidia-smi is not installed (no NVIDIA driver)"
  write_summary
  exit 2
fi
if ! nvidia-smi -L >"$out/nvidia-smi-L.txt" 2>&1 || ! grep -q '^GPU ' "$out/nvidia-smi-L.txt"; then
  echo "gpu-check: no NVIDIA GPU: nvidia-smi -L says: $(head -1 "$out/nvidia-smi-L.txt")" >&2
  result "GPU" FAIL "nvidia-smi -L: $(head -1 "$out/nvidia-smi-L.txt")"
  write_summary
  exit 2
fi
nvidia-smi >"$out/nvidia-smi.txt" 2>&1
gpu_line=$(head -1 "$out/nvidia-smi-L.txt")
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
ccap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
case $ccap in [0-9][0-9] | [0-9][0-9][0-9]) ;; *) ccap= ;; esac
archs=${HWA_CUDA_ARCHS:-${ccap:-90}}
nvcc=$(command -v nvcc || true)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
toolkit=$([ -n "$nvcc" ] && "$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p' | head -1)
. bench/lib.bash
torch_py=$(hwa_python torch) || torch_py=
numpy_py=$(hwa_python numpy) || numpy_py=
torch_ver=$([ -n "$torch_py" ] && timeout 60 "$torch_py" -c 'import torch; print(torch.__version__, "with CUDA" if torch.cuda.is_available() else "without a CUDA device", torch.version.cuda)' 2>/dev/null || echo "not importable")
cat "$out/nvidia-smi-L.txt"
log "driver $driver, compute capability ${ccap:-unknown}, CUDA archs $archs, toolkit ${toolkit:-none} ($nvcc), PyTorch $torch_ver"

# The decode bench's checkpoint (4.2 GB of f32, numpy) is written while the
# build runs; bench/cuda.sh finds it there.
models=$build/bench/cuda/models
mkdir -p "$models"
ckpt=$models/llama-1b.bin
if [ ! -s "$ckpt" ] && [ -n "$numpy_py" ]; then
  (timeout 300 "$numpy_py" bench/make_llama_checkpoint.py "$ckpt.part" --preset 1b >"$out/checkpoint.log" 2>&1 &&
    mv "$ckpt.part" "$ckpt") &
  ckpt_pid=$!
fi

# ---- 1. build -----------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" = 1 ]; then
  result "build" skip "SKIP_BUILD=1: the binaries in $build as they are"
else
  log "build ($build, CUDA archs $archs)"
  if ! command -v cmake >/dev/null 2>&1 || ! command -v cc >/dev/null 2>&1; then
    result "build" FAIL "cmake or cc is not installed (SKIP_BUILD=1 with a carried build folder runs the rest)"
  else
    cuda_flags=(-DHWA_CUDA_ARCHS="$archs" -DCMAKE_CUDA_ARCHITECTURES="$archs")
    [ -n "$nvcc" ] && cuda_flags+=(-DCMAKE_CUDA_COMPILER="$nvcc")
    t0=$SECONDS
    timeout "$(limit 120)" cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DHWA_WERROR=ON "${cuda_flags[@]}" \
      >"$out/build.log" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
      result "build" FAIL "cmake configure failed (rc $rc): $(grep -m1 -i 'error' "$out/build.log")"
    else
      # only the targets this configuration has (the CUDA ones need the toolkit)
      targets=()
      have=$(cmake --build "$build" --target help 2>/dev/null)
      for t in hwadapt_cli hwadapt_cuda hwadapt_fakecuda test_backend_ops test_cuda test_cuda_gpu cuda_bench; do
        grep -qE "(^|[ .])$t($|[ :])" <<<"$have" && targets+=("$t")
      done
      missing=$(for t in hwadapt_cli hwadapt_cuda hwadapt_fakecuda test_backend_ops test_cuda test_cuda_gpu cuda_bench; do
        [[ " ${targets[*]} " == *" $t "* ]] || printf '%s ' "$t"; done)
      timeout "$(limit 240)" cmake --build "$build" -j "$jobs" --target "${targets[@]}" >>"$out/build.log" 2>&1
      rc=$?
      if [ $rc -ne 0 ]; then
        result "build" FAIL "$(timed_out $rc && echo "timed out after $((SECONDS - t0)) s" || grep -m1 -E 'error|Error' "$out/build.log")"
      else
        result "build" "$([ -z "$missing" ] && echo pass || echo FAIL)" \
          "$((SECONDS - t0)) s, -j $jobs: ${targets[*]}${missing:+; not in this configuration: $missing(no CUDA toolkit found, or the CUDA module is not merged yet)}"
      fi
    fi
  fi
fi
cli=$build/hwadapt
"$cli" probe --list >"$out/probe-list.txt" 2>&1
"$cli" probe --json --no-calibrate >"$out/probe.json" 2>"$out/probe.err"
if ! grep -q '^cuda:0 ' "$out/probe-list.txt"; then
  result "hwadapt sees cuda:0" FAIL "$(grep -m1 '^cuda' "$out/probe-list.txt" || echo "hwadapt probe failed")"
fi

export HWA_SOURCE_DIR=$root XDG_CACHE_HOME=$build/test-cache
# the model data: HWA_DATA_DIR, else shared/data in the tree, else ../shared/data
data=${HWA_DATA_DIR:-}
for d in "$root/shared/data" "$root/../shared/data"; do [ -z "$data" ] && [ -d "$d/stories260K" ] && data=$d; done
export HWA_DATA_DIR=${data:-$root/../shared/data}

# ---- a. every op on cuda:0 ------------------------------------------------------------
# The test's argument picks the tests whose name holds "cuda"
# (every_op_on_cuda_matches_the_reference, ...); HWA_TEST_CASES is left unset:
# every case. HWA_REQUIRE=cuda turns a skip into a failure on this machine.
run_test() { # NAME CAP BINARY ARGS...
  local name=$1 cap=$2 bin=$3 rc
  shift 3
  if [ ! -x "$bin" ]; then
    result "$name" FAIL "$(basename "$bin") was not built"
    return
  fi
  log "$name"
  HWA_TEST_CUDA=cuda:0 HWA_REQUIRE=cuda timeout "$(limit "$cap")" "$bin" "$@" >"$out/$(basename "$bin").log" 2>&1
  rc=$?
  local last
  last=$(grep -E '^[0-9]+ passed' "$out/$(basename "$bin").log" | tail -1)
  if timed_out $rc; then
    result "$name" FAIL "timed out; ${last:-no summary line}"
  elif [ $rc -eq 0 ] && [[ ${last:-0 passed, 0 failed} == "0 passed, 0 failed"* ]]; then
    result "$name" FAIL "no test ran (${last:-no summary line}): the CUDA tests are not in this build"
  elif [ $rc -ne 0 ]; then
    result "$name" FAIL "rc $rc; ${last:-no summary line}; $(grep -m3 -E 'FAIL' "$out/$(basename "$bin").log" | tr '\n' ' ' | cut -c1-300)"
  else
    result "$name" pass "$last; $(grep -m1 -E 'case x variant runs|cases? (on|compared)' "$out/$(basename "$bin").log" | sed 's/^ *//')"
  fi
}
run_test "a. test_backend_ops on cuda:0" 90 "$build/test_backend_ops" _cuda_
run_test "b. test_cuda (the fake module)" 60 "$build/test_cuda"
run_test "b. test_cuda_gpu on cuda:0" 60 "$build/test_cuda_gpu"

# ---- c. greedy tokens: cuda:0 against the CPU -------------------------------------------
s=$HWA_DATA_DIR/stories260K
if [ ! -f "$s/stories260K.bin" ] || [ ! -f "$s/tok512.bin" ]; then
  result "c. stories260K greedy, cuda:0 = cpu" FAIL "no $s/stories260K.bin (set HWA_DATA_DIR, or carry shared/data)"
else
  log "c. stories260K greedy text, cuda:0 and cpu"
  gen() { timeout "$(limit 30)" "$cli" generate "$s/stories260K.bin" --tokenizer "$s/tok512.bin" \
    --prompt "Once upon a time" --temperature 0 --steps 200 --device "$1" >"$out/generate-${1/:/}.txt" 2>"$out/generate-${1/:/}.err"; }
  gen cpu; rc_cpu=$?
  gen cuda:0; rc_gpu=$?
  if [ $rc_cpu -ne 0 ] || [ $rc_gpu -ne 0 ]; then
    result "c. stories260K greedy, cuda:0 = cpu" FAIL "rc cpu $rc_cpu, cuda:0 $rc_gpu: $(tail -1 "$out/generate-cuda0.err")"
  elif cmp -s "$out/generate-cpu.txt" "$out/generate-cuda0.txt"; then
    result "c. stories260K greedy, cuda:0 = cpu" pass "the same $(wc -c <"$out/generate-cpu.txt") bytes of text over 200 positions; cuda:0 $(grep -m1 '^prefill' "$out/generate-cuda0.err")"
  else
    result "c. stories260K greedy, cuda:0 = cpu" FAIL "the texts differ after $(cmp "$out/generate-cpu.txt" "$out/generate-cuda0.txt" | sed -n 's/.*byte \([0-9]*\).*/\1/p') bytes (generate-*.txt)"
  fi
fi

# ---- d. fmnist-mlp training on cuda:0 --------------------------------------------------------
fm=${FMNIST_DIR:-}
for d in /usr/share/datasets/fashion-mnist "$HWA_DATA_DIR/fashion-mnist" "$root/shared/data/fashion-mnist"; do
  [ -z "$fm" ] && [ -f "$d/train-images-idx3-ubyte.gz" ] && fm=$d
done
if [ -z "$fm" ]; then
  result "d. fmnist-mlp on cuda:0, 10 epochs >= 89.5 %" FAIL "no Fashion-MNIST (FMNIST_DIR, /usr/share/datasets/fashion-mnist or \$HWA_DATA_DIR/fashion-mnist)"
else
  log "d. fmnist-mlp training on cuda:0 ($fm)"
  t0=$SECONDS
  timeout "$(limit 150)" "$cli" train --model fmnist-mlp --device cuda:0 --epochs 10 --seed 1 --data "$fm" --json \
    >"$out/train.jsonl" 2>"$out/train.err"
  rc=$?
  acc=$(python3 -c 'import json,sys; print("%.2f" % (100 * json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["test_accuracy"]))' \
    "$out/train.jsonl" 2>/dev/null)
  epochs=$(grep -c test_accuracy "$out/train.jsonl")
  secs=$(python3 -c 'import json,sys; print("%.1f" % sum(json.loads(l)["seconds"] for l in open(sys.argv[1]) if l.strip()))' \
    "$out/train.jsonl" 2>/dev/null)
  if [ $rc -ne 0 ]; then
    result "d. fmnist-mlp on cuda:0, 10 epochs >= 89.5 %" FAIL "$(timed_out $rc && echo "timed out" || echo "rc $rc") after $epochs epoch(s) (${acc:-n/a} %): $(tail -1 "$out/train.err")"
  elif python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 89.5 else 1)' "${acc:-0}"; then
    result "d. fmnist-mlp on cuda:0, 10 epochs >= 89.5 %" pass "test accuracy $acc %, ${secs} s of training ($((SECONDS - t0)) s in all)"
  else
    result "d. fmnist-mlp on cuda:0, 10 epochs >= 89.5 %" FAIL "test accuracy ${acc:-n/a} % after $epochs epoch(s)"
  fi
fi

# ---- e. bench/cuda.sh -----------------------------------------------------------------------
if [ -n "${ckpt_pid:-}" ]; then
  log "e. waiting for the checkpoint writer"
  wait "$ckpt_pid" || echo "gpu-check: the checkpoint writer failed: $(tail -1 "$out/checkpoint.log")"
fi
log "e. bench/cuda.sh"
t0=$SECONDS
BUILD=$build HWA_CLI=$cli ROUNDS=2 CUDA_BENCH_MODELS=$models timeout "$(limit 300)" bash bench/cuda.sh >"$out/bench.log" 2>&1
rc=$?
[ -s "$build/bench/cuda/cuda.md" ] && cp "$build/bench/cuda/cuda.md" "$out/cuda.md"
cp "$build"/bench/cuda/*.tsv "$build"/bench/cuda/*.jsonl "$out/" 2>/dev/null
if timed_out $rc; then
  result "e. bench/cuda.sh" FAIL "timed out after $((SECONDS - t0)) s (bench.log)"
elif [ $rc -ne 0 ]; then
  result "e. bench/cuda.sh" FAIL "rc $rc, $((SECONDS - t0)) s: $(grep -m1 -E 'FAILED|no CUDA device' "$out/bench.log" | cut -c1-300)"
else
  result "e. bench/cuda.sh" pass "$((SECONDS - t0)) s; the table below"
fi

log "energy read, 2 s (hwadapt probe --energy-read 2)"
"$cli" probe --energy-read 2 >"$out/energy.txt" 2>&1 || true
write_summary
log "done: $summary"
cat "$summary"
exit $failed
