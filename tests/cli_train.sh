#!/usr/bin/env bash
# hwadapt train end to end on small subsets of Fashion-MNIST: JSON lines,
# bf16/f16 compute with the dtype and threads reported, bit-exact resume, crash safety of checkpoint writes (SIGKILL at several
# points of the atomic write), and clear errors for bad input.
set -u
H=${HWA_CLI:-build/hwadapt}
FM=/usr/share/datasets/fashion-mnist
. "$(dirname "$0")/skip.bash"
[ -r "$FM/train-images-idx3-ubyte.gz" ] ||
  skip_for fmnist "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)"
# Bit-exact results need a fixed thread count: beside other tests (ctest -j)
# the backend would otherwise run some computes on fewer threads while they
# hold CPUs (docs/threads.md).
export HWA_ADAPT_THREADS=0
T=$(mktemp -d /tmp/hwa_cli_train.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
# Small and fast: 250 samples (the last batch of 32 is partial), hidden 16.
SMALL=(--limit 250 --test-limit 100 --hidden 16 --batch 32 --seed 5 --quiet)

# ---- one JSON line per epoch with the documented fields
$H train "${SMALL[@]}" --epochs 2 --json > "$T/out.json" 2> "$T/err"
if [ $? -eq 0 ] && [ "$(wc -l < "$T/out.json")" -eq 2 ] &&
   grep -q '"epoch":2,.*"train_loss":.*"test_loss":.*"test_accuracy":.*"seconds":.*"samples_per_s":' "$T/out.json"; then
  ok "json lines"
else bad "json lines: $(cat "$T/out.json" "$T/err")"; fi

# ---- lower precision: bf16 products and activations over f32 master weights.
# The JSON names what ran, and the loss falls from epoch 1 to epoch 2.
$H train "${SMALL[@]}" --epochs 2 --dtype bf16 --threads 1 --json > "$T/bf16.json" 2> "$T/err"
rc=$?
l1=$(sed -n '1s/.*"train_loss":\([0-9.]*\).*/\1/p' "$T/bf16.json")
l2=$(sed -n '2s/.*"train_loss":\([0-9.]*\).*/\1/p' "$T/bf16.json")
if [ $rc -eq 0 ] && [ "$(grep -c '"dtype":"bf16","threads":1' "$T/bf16.json")" -eq 2 ] &&
   awk -v a="$l1" -v b="$l2" 'BEGIN { exit !(a > 0 && b < a) }'; then
  ok "bf16 training on 1 thread: the JSON says so, train_loss $l1 -> $l2"
else bad "bf16 training: exit $rc: $(cat "$T/bf16.json" "$T/err")"; fi
$H train "${SMALL[@]}" --epochs 1 --dtype f16 --threads 2 > "$T/f16.out" 2> "$T/err"
if [ $? -eq 0 ] && grep -q '^model fmnist-mlp (hidden 16, relu, 12730 parameters), device cpu, dtype f16$' "$T/f16.out" &&
   grep -q '^  threads 2, optimizer ' "$T/f16.out" &&
   grep -q '^epoch 1/1 ' "$T/f16.out"; then
  ok "f16 training: the header names dtype and threads"
else bad "f16 header: $(cat "$T/f16.out" "$T/err")"; fi
$H train "${SMALL[@]}" --epochs 1 --dtype q8_0 > "$T/out" 2> "$T/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "training cannot compute in dtype 'q8_0'; available: f32, bf16, f16" "$T/err"; then
  ok "an unsupported dtype: exit 2, the available ones listed"
else bad "--dtype q8_0: exit $rc: $(cat "$T/err")"; fi

# ---- bit-exact resume: --epochs 2 == --epochs 1, then --epochs 2 --resume
for opt in "adam" "nesterov --clip 1"; do
  rm -rf "$T/d"
  $H train "${SMALL[@]}" --optimizer $opt --epochs 2 --export "$T/a.safetensors" > /dev/null 2>&1 &&
  $H train "${SMALL[@]}" --optimizer $opt --epochs 1 --checkpoint-dir "$T/d" > /dev/null 2>&1 &&
  $H train "${SMALL[@]}" --optimizer $opt --epochs 2 --checkpoint-dir "$T/d" --resume --export "$T/b.safetensors" \
    > "$T/out" 2> "$T/err"
  if [ $? -eq 0 ] && cmp -s "$T/a.safetensors" "$T/b.safetensors" && grep -q "resumed from" "$T/err" &&
     [ "$(grep -c '^epoch' "$T/out")" -eq 1 ]; then
    ok "resume is bit-exact ($opt)"
  else bad "resume ($opt): $(cat "$T/out" "$T/err")"; fi
done
# Schedules span the whole run (--epochs), so a run cut short is resumed with
# the same --epochs: its schedule state (the step) must carry over exactly.
for opt in "adamw --schedule cosine" "momentum --schedule onecycle" "sgd --schedule step --step-epochs 1"; do
  rm -rf "$T/d"
  $H train "${SMALL[@]}" --optimizer $opt --epochs 3 --checkpoint-dir "$T/d" --export "$T/a.safetensors" \
    > /dev/null 2>&1 && rm "$T/d/ckpt-000003.safetensors" "$T/d/ckpt-000002.safetensors" &&
  $H train "${SMALL[@]}" --optimizer $opt --epochs 3 --checkpoint-dir "$T/d" --resume --export "$T/b.safetensors" \
    > "$T/out" 2> "$T/err"
  if [ $? -eq 0 ] && cmp -s "$T/a.safetensors" "$T/b.safetensors" && [ "$(grep -c '^epoch' "$T/out")" -eq 2 ]; then
    ok "resume mid-schedule is bit-exact ($opt)"
  else bad "resume mid-schedule ($opt): $(cat "$T/out" "$T/err")"; fi
done
# A checkpoint with more epochs done than --epochs asks for is refused (the
# last one above has 3).
$H train "${SMALL[@]}" --optimizer sgd --schedule step --step-epochs 1 --epochs 2 --checkpoint-dir "$T/d" --resume \
  > /dev/null 2> "$T/err"; rc=$?
if [ $rc -ne 0 ] && grep -q "the checkpoint has 3 epochs done, more than --epochs 2" "$T/err"; then
  ok "a checkpoint past --epochs is refused"
else bad "resume past --epochs: exit $rc: $(cat "$T/err")"; fi

# ---- the export reads with an independent safetensors parser into PyTorch
# nn.Linear layers and gives the same test accuracy
if /usr/bin/python3 -c 'import torch' 2> /dev/null; then
  $H train "${SMALL[@]}" --epochs 2 --json --export "$T/e.safetensors" > "$T/out.json" 2> /dev/null
  want=$(tail -1 "$T/out.json" | sed 's/.*"test_accuracy":\([0-9.]*\).*/\1/')
  got=$(/usr/bin/python3 tests/reference/check_export.py "$T/e.safetensors" 100 2>&1)
  if [ "$got" = "$want" ]; then ok "export loads in PyTorch with the same accuracy ($got)"
  else bad "export: PyTorch says $got, hwadapt $want"; fi
else
  skip_part torch "the export check needs /usr/bin/python3 with torch (Debian package python3-torch)"
fi

# ---- reproducible: the same seed gives the same bits
$H train "${SMALL[@]}" --epochs 2 --export "$T/a2.safetensors" > /dev/null 2>&1
$H train "${SMALL[@]}" --epochs 2 --export "$T/a3.safetensors" > /dev/null 2>&1
$H train "${SMALL[@]}" --epochs 2 --seed 6 --export "$T/a4.safetensors" > /dev/null 2>&1
if cmp -s "$T/a2.safetensors" "$T/a3.safetensors" && ! cmp -s "$T/a2.safetensors" "$T/a4.safetensors"; then
  ok "same seed, same bits; another seed, other bits"
else bad "determinism"; fi

# ---- keep the newest k checkpoints
rm -rf "$T/k"
$H train "${SMALL[@]}" --epochs 3 --checkpoint-dir "$T/k" --keep 2 > /dev/null 2>&1
if [ "$(ls "$T/k")" = "$(printf 'ckpt-000002.safetensors\nckpt-000003.safetensors')" ]; then ok "keep 2"
else bad "keep 2: $(ls "$T/k")"; fi

# ---- crash safety: SIGKILL during the epoch-2 checkpoint write, at several points
$H train "${SMALL[@]}" --epochs 2 --export "$T/ref.safetensors" > /dev/null 2>&1
for point in byte:7 byte:200 byte:4000 byte:20000 fsync rename dirsync; do
  rm -rf "$T/c"
  $H train "${SMALL[@]}" --epochs 1 --checkpoint-dir "$T/c" > /dev/null 2>&1
  HWA_TEST_KILL_AT=$point $H train "${SMALL[@]}" --epochs 2 --checkpoint-dir "$T/c" --resume > /dev/null 2>&1
  rc=$?
  if [ $rc -ne 137 ]; then bad "kill at $point: exit $rc, expected 137 (SIGKILL)"; continue; fi
  if ! $H inspect "$T/c/ckpt-000001.safetensors" > /dev/null 2>&1; then
    bad "kill at $point: the epoch-1 checkpoint no longer loads"; continue
  fi
  $H train "${SMALL[@]}" --epochs 2 --checkpoint-dir "$T/c" --resume --export "$T/r.safetensors" > /dev/null 2> "$T/err"
  if [ $? -eq 0 ] && cmp -s "$T/r.safetensors" "$T/ref.safetensors"; then
    ok "kill at $point: previous checkpoint intact, resume gives the same weights ($(ls "$T/c" | tr '\n' ' '))"
  else bad "kill at $point: resume failed: $(cat "$T/err")"; fi
done

# ---- device auto: the graphs placed across cpu and opencl:0 by the scheduler.
# The line "placed across" comes before training; a layer split trains as
# the CPU does (losses within 1e-4); a device that fails ends the run by
# name, or with --fallback is left out, said on stderr, and the run completes.
if $H probe 2> /dev/null | grep -q '^opencl:0 '; then
  AUTO=(--device auto --devices cpu,opencl:0)
  $H train "${SMALL[@]}" --epochs 1 "${AUTO[@]}" > "$T/out" 2> "$T/err"
  if [ $? -eq 0 ] && grep -q '^placed across cpu:0,opencl:0: .* (hwadapt plan fmnist-mlp-train says why); estimate per step: cpu:0 ' "$T/out" &&
     [ "$(grep -n -m1 '^placed across' "$T/out" | cut -d: -f1)" -lt "$(grep -n -m1 '^epoch 1/1 ' "$T/out" | cut -d: -f1)" ]; then
    ok "device auto across cpu,opencl:0: $(grep '^placed across' "$T/out")"
  else bad "device auto: $(cat "$T/out" "$T/err")"; fi
  $H train "${SMALL[@]}" --epochs 2 --json > "$T/cpu.json" 2> /dev/null
  $H train "${SMALL[@]}" --epochs 2 --json "${AUTO[@]}" --mode layers --split 0.5 > "$T/auto.json" 2> "$T/err"
  rc=$?
  a=$(sed 's/.*"train_loss":\([0-9.]*\).*"test_loss":\([0-9.]*\).*/\1 \2/' "$T/cpu.json" | tr '\n' ' ')
  b=$(sed 's/.*"train_loss":\([0-9.]*\).*"test_loss":\([0-9.]*\).*/\1 \2/' "$T/auto.json" | tr '\n' ' ')
  if [ $rc -eq 0 ] && [ "$(grep -c '"device":"auto","placement":"layers cpu:0 | opencl:0 at node ' "$T/auto.json")" -eq 2 ] &&
     grep -q '^placed across cpu:0,opencl:0: layers ' "$T/err" &&
     awk -v a="$a" -v b="$b" 'BEGIN { n = split(a, x, " "); if (n != 4 || split(b, y, " ") != n) exit 1
       for (i = 1; i <= n; i++) { d = x[i] - y[i]; if (d < 0) d = -d; if (d > 1e-4 * x[i]) exit 1 } }'; then
    ok "a layer split across cpu and opencl:0 trains as the CPU does (losses $b)"
  else bad "layer split: exit $rc: cpu $a, auto $b: $(cat "$T/auto.json" "$T/err")"; fi
  HWA_FAULT_DEVICE=opencl:0 $H train "${SMALL[@]}" --epochs 1 "${AUTO[@]}" --mode single:opencl:0 > "$T/out" 2> "$T/err"
  rc=$?
  if [ $rc -eq 1 ] && grep -q 'opencl:0: injected fault' "$T/err"; then ok "a failing device ends the run, named"
  else bad "failing device: exit $rc: $(cat "$T/err")"; fi
  HWA_FAULT_DEVICE=opencl:0 $H train "${SMALL[@]}" --epochs 1 "${AUTO[@]}" --mode single:opencl:0 --fallback \
    > "$T/out" 2> "$T/err"
  rc=$?
  if [ $rc -eq 0 ] && grep -q '^epoch 1/1 ' "$T/out" &&
     grep -q '^hwadapt train: --fallback: opencl:0: injected fault (HWA_FAULT_DEVICE); re-planned without opencl:0 as cpu:0$' "$T/err"; then
    ok "--fallback leaves the failing device out and completes: $(cat "$T/err")"
  else bad "--fallback: exit $rc: $(cat "$T/out" "$T/err")"; fi
else
  skip_part opencl "device auto across cpu,opencl:0: hwadapt probe finds no opencl:0"
fi

# ---- bad input: clear message, non-zero exit, no crash
expect_fail() { # name, expected text, command...
  local name=$1 want=$2
  shift 2
  "$@" > "$T/out" 2> "$T/err"
  local rc=$?
  if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q -- "$want" "$T/err"; then ok "$name"
  else bad "$name: exit $rc: $(cat "$T/err")"; fi
}
expect_fail "missing dataset names the package" "dataset-fashion-mnist" $H train --data "$T/nothing"
mkdir -p "$T/corrupt"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-labels-idx1-ubyte.gz; do ln -s "$FM/$f" "$T/corrupt/$f"; done
head -c 100000 "$FM/t10k-images-idx3-ubyte.gz" > "$T/corrupt/t10k-images-idx3-ubyte.gz"
expect_fail "truncated IDX" "truncated" $H train --data "$T/corrupt" "${SMALL[@]}"
printf 'this is not an IDX file' | gzip > "$T/corrupt/t10k-images-idx3-ubyte.gz"
expect_fail "corrupt IDX" "t10k-images-idx3-ubyte.gz" $H train --data "$T/corrupt" "${SMALL[@]}"
rm -rf "$T/s"
$H train "${SMALL[@]}" --epochs 1 --checkpoint-dir "$T/s" > /dev/null 2>&1
expect_fail "checkpoint of another model shape" "layers" \
  $H train "${SMALL[@]}" --hidden 8 --epochs 2 --checkpoint-dir "$T/s" --resume
expect_fail "checkpoint of another optimizer" "optimizer" \
  $H train "${SMALL[@]}" --optimizer sgd --epochs 2 --checkpoint-dir "$T/s" --resume
expect_fail "--lr -1" "--lr -1: the learning rate is out of range; allowed: > 0" $H train --lr -1
expect_fail "--batch 0" "batch" $H train --batch 0
expect_fail "unknown optimizer" "unknown optimizer 'adagrad'" $H train --optimizer adagrad
expect_fail "unknown schedule" "unknown schedule" $H train --schedule linear
expect_fail "--hidden garbage" "hidden" $H train --hidden 10,x
expect_fail "--devices without --device auto" "need --device auto" $H train --devices cpu,opencl:0
expect_fail "--devices naming no device" "--device nosuch:0" $H train --device auto --devices cpu,nosuch
expect_fail "--mode naming a device not listed" "opencl:7 is not among the devices cpu" $H train --device auto --devices cpu --mode single:opencl:7
rm -rf "$T/n"
$H train "${SMALL[@]}" --optimizer sgd --epochs 1 --checkpoint-dir "$T/n" > /dev/null 2>&1
expect_fail "NaN loss stops and keeps the last checkpoint" "epoch 1) is kept" \
  $H train "${SMALL[@]}" --optimizer sgd --lr 1e6 --epochs 3 --checkpoint-dir "$T/n" --resume
if [ "$(ls "$T/n")" = "ckpt-000001.safetensors" ] && $H inspect "$T/n/ckpt-000001.safetensors" > /dev/null; then
  ok "after the NaN stop the epoch-1 checkpoint is still the newest and loads"
else bad "after NaN: $(ls "$T/n")"; fi

# ---- the files a run will write are checked before it trains
t0=$(date +%s%N)
$H train "${SMALL[@]}" --epochs 50 --export /nonexistent/w.safetensors > /dev/null 2> "$T/err"
rc=$?
t1=$(date +%s%N)
touch "$T/a-file"
$H train "${SMALL[@]}" --epochs 50 --checkpoint-dir "$T/a-file" > /dev/null 2> "$T/err2"
rc2=$?
t2=$(date +%s%N)
if [ $rc -eq 2 ] && grep -q -- "--export /nonexistent/w.safetensors: folder /nonexistent does not exist" "$T/err" &&
   [ $rc2 -eq 2 ] && grep -q -- "--checkpoint-dir $T/a-file: not a folder" "$T/err2" &&
   [ $(((t1 - t0) / 1000000)) -lt 1000 ] && [ $(((t2 - t1) / 1000000)) -lt 1000 ]; then
  ok "--export into a missing folder and --checkpoint-dir on a file: exit 2 before training ($(((t1 - t0) / 1000000)) and $(((t2 - t1) / 1000000)) ms)"
else bad "bad output paths: exits $rc $rc2: $(cat "$T/err" "$T/err2")"; fi

# On a terminal (script(1) gives it one): the progress bar with the time
# left on stderr, and the summary at the end.
if command -v script > /dev/null; then
  script -qc "$H train --epochs 2 --limit 1280 --test-limit 128 --hidden 16 --batch 32 --export $T/tty.safetensors" \
    /dev/null > "$T/tty" 2>&1
  if grep -qE 'epoch 1/2 \[#* *\] [0-9]+/40 loss [0-9.]+, ~[0-9]+ s left' "$T/tty" &&
     grep -qE '^summary      2 epoch\(s\), [0-9]+ s on cpu in f32: test accuracy [0-9.]+% \(best [0-9.]+%, epoch [12]\)' "$T/tty" &&
     grep -q "^weights      $T/tty.safetensors" "$T/tty"; then ok "a terminal gets the progress bar with the time left, and a summary"
  else bad "progress or summary on a terminal: $(cat -v "$T/tty")"; fi
fi

echo "$fails failed"
[ $fails -eq 0 ] || exit 1
finish_skips
