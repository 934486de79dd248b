#!/usr/bin/env bash
# hwadapt tune, measured (docs/tune.md), on the CPU:
#   1. memory: the planned peak of fmnist-mlp training (Adam) and mlp1000
#      inference at batch 64, 1024 and 8192 against the measured one (the
#      process's peak resident-set growth over one run of every graph),
#      `hwadapt tune --measure B`                          target: within 5 %
#   2. `hwadapt tune --budget 120 -o tuned.json` on fmnist-mlp: its batch,
#      throughput curve, range tests and search (the JSON is kept)
#   3. the learning rate: a grid of constant rates 1e-4 ... 1 in x sqrt(10)
#      steps, 2 epochs each at the tuned batch, for Adam and for SGD with
#      momentum; the best by test accuracy against the range test's
#      suggestion for the same optimizer                   target: within 3x
#   4. `hwadapt train --config tuned.json` against the default recipe
#      (`hwadapt train`: batch 64, Adam 1e-3, 10 epochs), wall time and test
#      accuracy, run one after the other      target: >= 90.0 %, no slower
# Writes build/bench/tune.txt and every run's JSON beside it.
#   BENCH_QUICK=1   the grid at 3 rates, 1 epoch, and a 30 s tune (a smoke run; targets not judged)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/bench/lib.bash"
cli=$(hwa_cli "$root")
out="$root/${BUILD:-build}/bench/tune"
mkdir -p "$out"
py=$(hwa_python json) || { echo "note: no python3; skipping" >&2; exit 0; }
if ! "$cli" train --epochs 1 --limit 64 --test-limit 64 --quiet >/dev/null 2>"$out/probe.err"; then
  echo "note: hwadapt train cannot run here ($(tail -1 "$out/probe.err")); skipping" >&2
  exit 0
fi
budget=120 grid="1e-4 3.16e-4 1e-3 3.16e-3 1e-2 3.16e-2 1e-1 3.16e-1 1" grid_epochs=2
[ -n "${BENCH_QUICK:-}" ] && budget=30 grid="1e-3 1e-2 1e-1" grid_epochs=1
now() { date +%s.%N; }
{
echo "# hwadapt tune on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs"
echo
echo "## 1. memory: planned against measured peak"
echo
echo "| target | batch | planned MiB | of which kernels' workspace MiB | measured MiB | error |"
echo "|---|---|---|---|---|---|"
for target in fmnist-mlp mlp1000; do
  for b in 64 1024 8192; do
    if [ $target = fmnist-mlp ]; then args=(--model fmnist-mlp); else args=(mlp1000); fi
    "$cli" tune "${args[@]}" --measure $b --json > "$out/measure-$target-$b.json"
    "$py" - "$out/measure-$target-$b.json" "$target" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
mib = lambda b: b / 1048576
err = 100 * (m["predicted_bytes"] / m["measured_bytes"] - 1) if m["measured_bytes"] > 0 else float("nan")
print(f"| {sys.argv[2]} {'training' if sys.argv[2] == 'fmnist-mlp' else 'inference'} | {m['batch']} | "
      f"{mib(m['predicted_bytes']):.1f} | {mib(m['workspace_bytes']):.1f} | {mib(m['measured_bytes']):.1f} | "
      f"{err:+.1f} % {'ok' if abs(err) <= 5 else 'MISSED'} |")
PY
  done
done
echo
echo "## 2. hwadapt tune --budget $budget"
echo
t0=$(now)
"$cli" tune --budget "$budget" -o "$out/tuned.json" --quiet > "$out/tune-summary.txt"
t1=$(now)
cat "$out/tune-summary.txt"
echo "(wall time $("$py" -c "print(f'{$t1 - $t0:.1f}')") s)"
batch=$("$py" -c "import json; print(json.load(open('$out/tuned.json'))['train']['batch'])")
echo
echo "## 3. learning rate: grid ($grid_epochs epochs, constant rate, batch $batch) against the range test"
echo
for opt in adam momentum; do
  for lr in $grid; do
    "$cli" train --batch "$batch" --optimizer $opt --lr "$lr" --schedule constant --epochs $grid_epochs \
      --json --quiet > "$out/grid-$opt-$lr.json" 2>"$out/grid-$opt-$lr.err" || true
  done
done
"$py" - "$out" "$grid" <<'PY'
import json, math, os, sys
out, grid = sys.argv[1], sys.argv[2].split()
tune = json.load(open(os.path.join(out, "tuned.json")))["tune"]
sugg = {r["optimizer"]: r for r in tune["lr_range"]}
print("| optimizer | " + " | ".join(grid) + " | best | range test suggests | ratio |")
print("|---|" + "---|" * len(grid) + "---|---|---|")
for opt in ("adam", "momentum"):
    acc = []
    for lr in grid:
        rows = [json.loads(l) for l in open(os.path.join(out, f"grid-{opt}-{lr}.json")) if l.strip()]
        acc.append(rows[-1]["test_accuracy"] if rows else float("nan"))
    best = max(range(len(grid)), key=lambda i: -1 if math.isnan(acc[i]) else acc[i])
    s = sugg.get(opt, {}).get("suggestion", float("nan"))
    ratio = s / float(grid[best])
    ok = "ok" if 1 / 3 <= ratio <= 3 else "MISSED"
    cells = " | ".join("diverged" if math.isnan(a) else f"{100 * a:.2f} %" for a in acc)
    print(f"| {opt} | {cells} | {grid[best]} | {s:.3g} | {ratio:.2f} {ok} |")
PY
echo
echo "## 4. the tuned recipe against the default one"
echo
t0=$(now)
"$cli" train --config "$out/tuned.json" --json --quiet > "$out/train-tuned.json"
t1=$(now)
"$cli" train --json --quiet > "$out/train-default.json"
t2=$(now)
"$py" - "$out" "$t0" "$t1" "$t2" <<'PY'
import json, os, sys
out, t0, t1, t2 = sys.argv[1], *map(float, sys.argv[2:])
tuned = [json.loads(l) for l in open(os.path.join(out, "train-tuned.json")) if l.strip()]
default = [json.loads(l) for l in open(os.path.join(out, "train-default.json")) if l.strip()]
cfg = json.load(open(os.path.join(out, "tuned.json")))["train"]
print("| recipe | settings | epochs | wall s | test accuracy |")
print("|---|---|---|---|---|")
print(f"| tuned | batch {cfg['batch']}, {cfg['optimizer']} lr {cfg['lr']:.3g}, {cfg['schedule']} | {len(tuned)} | "
      f"{t1 - t0:.1f} | {100 * tuned[-1]['test_accuracy']:.2f} % |")
print(f"| default | batch 64, adam lr 0.001, step every 3 x 0.5 | {len(default)} | {t2 - t1:.1f} | "
      f"{100 * default[-1]['test_accuracy']:.2f} % |")
acc_ok = tuned[-1]["test_accuracy"] >= 0.900
time_ok = t1 - t0 <= t2 - t1
print(f"\ntuned: {'ok' if acc_ok else 'MISSED'} >= 90.0 % accuracy; {'ok' if time_ok else 'MISSED'} no slower "
      f"({(t1 - t0) / (t2 - t1):.2f}x the default's time)")
PY
} | tee "$out/../tune.txt"
