#!/usr/bin/env bash
# hwadapt compress on fmnist-mlp (784-1000-1000-10, trained by
# `hwadapt train --epochs 10 --seed 1`), every stage measured in one run of
# the command (sizes, test accuracy, latency at batch 1 and 64 with the
# stages' nets timed in interleaved rounds, medians):
#   1. Deep Compression: prune,share,huffman        goals: >= 40x (stretch 50x), <= 0.5 points lost
#      and each pruned stage's chosen kernels against the same model decoded
#      to dense, in the same rounds                 goal: never slower
#   2. int8 (static min-max calibration)            goals: <= 0.2 points lost; >= 2.5x f32 at batch 64,
#      on this CPU and as a CPU with VNNI but no AMX       >= 1.5x at batch 1 (HWA_ISA=avx512)
#   3. neurons --keep 0.5 (half the hidden units)   goals: <= 0.5 points lost, >= 1.8x at batch 64
#   4. `hwadapt eval` on each file                  goal: the accuracy the report gives
# Writes build/bench/compress/compress.txt and every run's JSON beside it.
#   BENCH_QUICK=1   fewer training samples and epochs (a smoke run; goals not judged)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/bench/lib.bash"
cli=$(hwa_cli "$root")
out="$root/${BUILD:-build}/bench/compress"
mkdir -p "$out"
py=$(hwa_python json) || { echo "note: no python3; skipping" >&2; exit 0; }
if ! "$cli" train --epochs 1 --limit 64 --test-limit 64 --quiet >/dev/null 2>"$out/probe.err"; then
  echo "note: hwadapt train cannot run here ($(tail -1 "$out/probe.err")); skipping" >&2
  exit 0
fi
epochs=10 extra=() reps=7
if [ -n "${BENCH_QUICK:-}" ]; then epochs=1 extra=(--limit 5000 --test-limit 2000 --retrain-epochs 1) reps=3; fi
base="$out/fmnist-mlp-e$epochs-s1.safetensors"
[ -s "$base" ] || "$cli" train --epochs "$epochs" --seed 1 --export "$base" --quiet > "$out/train.txt"

run() { # NAME ISA ARGS...: one compress run (HWA_ISA=ISA when ISA is not empty) and eval of its file
  local name=$1 isa=$2; shift 2
  env ${isa:+HWA_ISA=$isa} "$cli" compress "$base" "$@" "${extra[@]}" --reps "$reps" --json -o "$out/$name.hwac" \
    > "$out/$name.json" 2> "$out/$name.err"
  env ${isa:+HWA_ISA=$isa} "$cli" eval "$out/$name.hwac" --json ${BENCH_QUICK:+--test-limit 2000} \
    > "$out/$name.eval.json"
}
run dc "" --method prune,share,huffman
run int8 "" --method int8 --calib-method minmax
run int8-vnni avx512 --method int8 --calib-method minmax
run neurons "" --method neurons --keep 0.5

{
echo "# hwadapt compress on fmnist-mlp, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs"
echo
"$py" - "$out" "${BENCH_QUICK:-}" <<'PY'
import json, sys, os
out, quick = sys.argv[1], sys.argv[2]
def load(n): return json.load(open(os.path.join(out, n + ".json")))
def lat(stage, batch, dev="cpu"):
    for l in stage["latency"]:
        if l["device"] == dev and l["batch"] == batch: return l["median_ms"]
def ok(c): return "" if quick else (" ok" if c else " MISSED")
def table(r, title):
    print(f"## {title}\n")
    print("| stage | bytes | ratio to f32 | test accuracy | points lost | batch 1 ms | batch 64 ms | forms at batch 64 |")
    print("|---|---|---|---|---|---|---|---|")
    for s in r["stages"]:
        f64 = next((l["forms"] for l in s["latency"] if l["batch"] == 64), "")
        print(f"| {s['stage']} | {s['bytes']:,} | {s['ratio']:.1f}x | {100*s['test_accuracy']:.2f} % | "
              f"{s['accuracy_drop_points']:.2f} | {lat(s,1):.4f} | {lat(s,64):.4f} | {f64} |")
    print()
def check_eval(name, r):
    e = load(name + ".eval")
    last = [s for s in r["stages"] if not s["stage"].endswith(" as dense")][-1]
    same = abs(e["accuracy"] - last["test_accuracy"]) < 1e-12
    print(f"- `hwadapt eval {name}.hwac`: {100*e['accuracy']:.2f} %, the report gave {100*last['test_accuracy']:.2f} %"
          f"{ok(same)}")
    return last

dc = load("dc"); table(dc, "1. Deep Compression: prune, share, huffman")
last = check_eval("dc", dc)
print(f"- size: {last['ratio']:.1f}x smaller (goal >= 40x, stretch 50x){ok(last['ratio'] >= 40)}; "
      f"{last['accuracy_drop_points']:.2f} points lost (goal <= 0.5){ok(last['accuracy_drop_points'] <= 0.5)}")
by = {s["stage"]: s for s in dc["stages"]}
for s in dc["stages"]:
    d = by.get(s["stage"] + " as dense")
    if not d: continue
    for b in (1, 64):
        a, z = lat(s, b), lat(d, b)
        print(f"- {s['stage']} at batch {b}: chosen kernels {a:.4f} ms, decoded to dense {z:.4f} ms "
              f"({z/a:.2f}x; goal: never slower, within the rounds' spread){ok(a <= z * 1.05)}")
print()
for name, title in (("int8", "2. int8 on this CPU"), ("int8-vnni", "2b. int8 as a CPU with VNNI and no AMX (HWA_ISA=avx512)")):
    r = load(name); table(r, title)
    f32, q = r["stages"][0], r["stages"][-1]
    check_eval(name, r)
    print(f"- {q['accuracy_drop_points']:.2f} points lost (goal <= 0.2){ok(q['accuracy_drop_points'] <= 0.2)}")
    for b, goal in ((64, 2.5), (1, 1.5)):
        sp = lat(f32, b) / lat(q, b)
        print(f"- batch {b}: int8 {sp:.2f}x f32 (goal >= {goal}x){ok(sp >= goal)}")
    k = next((l["kernels"] for l in q["latency"] if l["batch"] == 64), "")
    print(f"- kernels at batch 64: {k}")
    print()
r = load("neurons"); table(r, "3. neurons: half the hidden units removed, retrained")
full, half = r["stages"][0], r["stages"][-1]
check_eval("neurons", r)
sp = lat(full, 64) / lat(half, 64)
print(f"- {half['accuracy_drop_points']:.2f} points lost (goal <= 0.5){ok(half['accuracy_drop_points'] <= 0.5)}; "
      f"batch 64: {sp:.2f}x the full model (goal >= 1.8x){ok(sp >= 1.8)}")
PY
} | tee "$out/compress.txt"
