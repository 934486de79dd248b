#!/usr/bin/env bash
# hwadapt train --model fmnist-cnn on a few hundred Fashion-MNIST samples:
# its loss falls and it learns; the header names the model; --export writes
# PyTorch's state_dict names with batchnorm's running statistics; fmnist-mlp
# options are refused with it; and hwadapt bench runs its two workloads.
set -u
H=${HWA_CLI:-build/hwadapt}
FM=/usr/share/datasets/fashion-mnist
. "$(dirname "$0")/skip.bash"
[ -r "$FM/train-images-idx3-ubyte.gz" ] ||
  skip_for fmnist "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)"
export HWA_ADAPT_THREADS=0 # bit-exact runs need a fixed thread count (docs/threads.md)
T=$(mktemp -d /tmp/hwa_cli_train_cnn.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
SMALL=(--model fmnist-cnn --limit 320 --test-limit 200 --batch 32 --seed 2 --quiet)

# ---- three epochs: the training loss falls epoch after epoch, and the
# test accuracy ends well above chance (10%)
$H train "${SMALL[@]}" --epochs 3 --json --export "$T/cnn.safetensors" > "$T/out.json" 2> "$T/err"
rc=$?
loss() { sed -n "$1p" "$T/out.json" | sed 's/.*"train_loss":\([0-9.e+-]*\).*/\1/'; }
acc=$(sed -n 3p "$T/out.json" | sed 's/.*"test_accuracy":\([0-9.e+-]*\).*/\1/')
if [ $rc -eq 0 ] && [ "$(wc -l < "$T/out.json")" -eq 3 ] &&
   awk -v a="$(loss 1)" -v b="$(loss 2)" -v c="$(loss 3)" -v acc="$acc" \
     'BEGIN { exit !(b < a && c < b && acc > 0.5) }'; then
  ok "fmnist-cnn learns: train loss $(loss 1) -> $(loss 2) -> $(loss 3), test accuracy $acc"
else bad "fmnist-cnn learns (exit $rc): $(cat "$T/out.json" "$T/err")"; fi

# ---- the export: the model's format, state_dict names, running statistics
if grep -qa '"format":"hwadapt-fmnist-cnn"' "$T/cnn.safetensors" &&
   grep -qa '"conv2.weight":{"dtype":"F32","shape":\[64,32,3,3\]' "$T/cnn.safetensors" &&
   grep -qa '"bn1.running_mean":{"dtype":"F32","shape":\[32\]' "$T/cnn.safetensors" &&
   grep -qa '"bn2.running_var":{"dtype":"F32","shape":\[64\]' "$T/cnn.safetensors"; then
  ok "export: hwadapt-fmnist-cnn with conv2.weight [64,32,3,3] and bn<k>.running_mean/var"
else bad "export: $(head -c 600 "$T/cnn.safetensors")"; fi

# ---- the human header names the model and its parameter count
$H train "${SMALL[@]}" --limit 64 --test-limit 64 --epochs 1 > "$T/human" 2>&1
if grep -q '^model fmnist-cnn (421738 parameters), device cpu, dtype f32' "$T/human"; then
  ok "header: $(head -1 "$T/human")"
else bad "header: $(cat "$T/human")"; fi

# ---- fmnist-mlp's options do not apply to it
$H train --model fmnist-cnn --hidden 10 > /dev/null 2> "$T/err"
rc=$?
if [ $rc -eq 2 ] && grep -q -- '--hidden: conflicts with --model fmnist-cnn' "$T/err"; then
  ok "--hidden with fmnist-cnn is refused"
else bad "--hidden with fmnist-cnn: exit $rc: $(cat "$T/err")"; fi

# ---- hwadapt bench: the forward workload and the training step
$H bench fmnist-cnn,fmnist-cnn-train --no-calibrate --min-time 0 --min-queries 1 --warmup 0 -r 1 --batch 4 --json \
  > "$T/bench.json" 2> "$T/err"
rc=$?
if [ $rc -eq 0 ] && grep -q '"workload": "fmnist-cnn", "device": "cpu"' "$T/bench.json" &&
   grep -q '"workload": "fmnist-cnn-train", "device": "cpu"' "$T/bench.json"; then
  ok "bench fmnist-cnn and fmnist-cnn-train"
else bad "bench (exit $rc): $(cat "$T/bench.json" "$T/err")"; fi

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
