#!/usr/bin/env bash
# One (or more) epochs of fmnist-mlp training, PyTorch vs `hwadapt train`,
# side by side: same model, batch 64, Adam lr 1e-3, the same data and
# normalisation, every core. Prints a Markdown table with the epoch times,
# the ratio, and each side's share of the machine's f32 FLOP bound.
#   bench/train_vs_pytorch.sh [--epochs N] [--limit N] [--hidden 1000,1000]
# Both sides use libgomp, so OMP_WAIT_POLICY (and GOMP_SPINCOUNT) in the
# environment applies to both; the header says which policy ran. On cores
# shared with other work the policy can change either side's time several
# times over (docs/train.md), so compare rows run with the same one.
set -eu
cd "$(dirname "$0")/.."
H=${HWA_CLI:-build/hwadapt}
EPOCHS=1 LIMIT=0 HIDDEN=1000,1000
while [ $# -gt 0 ]; do
  case $1 in
    --epochs) EPOCHS=$2; shift 2 ;;
    --limit) LIMIT=$2; shift 2 ;;
    --hidden) HIDDEN=$2; shift 2 ;;
    *) echo "usage: $0 [--epochs N] [--limit N] [--hidden A,B]" >&2; exit 2 ;;
  esac
done
. bench/lib.bash
if ! py=$(hwa_python torch); then
  echo "train_vs_pytorch: skipped (no python3 with torch; apt-get install python3-torch)"
  exit 0
fi
[ -x "$H" ] || { echo "build hwadapt first ($H)" >&2; exit 2; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
LIM=(); [ "$LIMIT" -gt 0 ] && LIM=(--limit "$LIMIT")
"$py" bench/train_pytorch.py --epochs "$EPOCHS" --hidden "$HIDDEN" "${LIM[@]}" > "$T/torch.json"
"$H" train --optimizer adam --lr 1e-3 --schedule constant --batch 64 --seed 1 --epochs "$EPOCHS" --hidden "$HIDDEN" "${LIM[@]}" \
  --json --quiet > "$T/hwa.json"
"$py" - "$T/torch.json" "$T/hwa.json" "$HIDDEN" "$LIMIT" <<'PY'
import json, os, re, subprocess, sys
torch_rows = [json.loads(l) for l in open(sys.argv[1])]
hwa_rows = [json.loads(l) for l in open(sys.argv[2])]
dims = [784] + [int(h) for h in sys.argv[3].split(",")] + [10]
n = int(sys.argv[4]) or 60000
macs = sum(dims[i] * dims[i + 1] for i in range(len(dims) - 1))
flops = 6.0 * n * macs  # forward 2, backward 4 FLOPs per multiply-add and sample
# The f32 bound: cores x clock x FLOPs per cycle of the widest FMA the CPU has.
flags = open("/proc/cpuinfo").read()
fpc = 64 if " avx512f" in flags else 32 if " fma" in flags and " avx2" in flags else 8
mhz = None
try:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    m = re.search(r"CPU max MHz:\s*([\d.]+)", out)
    mhz = float(m.group(1)) if m else None
except OSError:
    pass
if not mhz:
    mhz = max(float(x) for x in re.findall(r"cpu MHz\s*:\s*([\d.]+)", flags))
peak = os.cpu_count() * mhz * 1e6 * fpc
print(f"fmnist-mlp {dims}, batch 64, Adam lr 1e-3, {n} samples per epoch, {os.cpu_count()} threads, "
      f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY') or 'unset (libgomp default)'}")
print(f"f32 bound: {os.cpu_count()} cores x {mhz:.0f} MHz x {fpc} FLOP/cycle = {peak / 1e9:.0f} GFLOP/s; "
      f"one epoch = {flops / 1e9:.1f} GFLOP\n")
print("| epoch | PyTorch s | hwadapt s | hwadapt / PyTorch | PyTorch % of bound | hwadapt % of bound | PyTorch acc | hwadapt acc |")
print("|---|---|---|---|---|---|---|---|")
for t, h in zip(torch_rows, hwa_rows):
    print(f"| {t['epoch']} | {t['seconds']:.2f} | {h['seconds']:.2f} | {h['seconds'] / t['seconds']:.2f}x | "
          f"{100 * flops / t['seconds'] / peak:.1f} | {100 * flops / h['seconds'] / peak:.1f} | "
          f"{t['test_accuracy']:.4f} | {h['test_accuracy']:.4f} |")
PY
