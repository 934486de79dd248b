#!/usr/bin/env bash
# Placement across devices, predicted against measured, on cpu and opencl:0
# (PoCL here). For linear1000, mlp1000-train and fmnist-mlp-train:
#   `hwadapt plan W --devices cpu,opencl:0 --measure` runs every placement the
#   planner weighs (each device alone, the best layer cuts, a mixed one), each
#   validated by its first run, times its nodes for the profile cache, then
#   measures all of them interleaved (medians of 5 repetitions) and re-plans:
#   predicted (roofline, cold) and predicted (timed nodes, warm) against
#   measured, per placement; the automatic choice against the fastest
#   measured placement                                   target: within 10 %
#   the prediction error per device (its single-device placement, warm)
#                                                         goal: within 25 %
# stories260K: `hwadapt plan MODEL` (a decode step), then greedy generation
# of 256 tokens on cpu, on opencl:0 and on auto (which times its nodes at the
# first decode step): tokens/s side by side, auto's predicted against
# measured step time, and the three texts compared.
# The profile cache starts empty (a fresh XDG_CACHE_HOME; the calibration is
# copied from the usual cache when there is one). Writes build/bench/sched.txt
# and the JSON of every run beside it.
#   BENCH_QUICK=1   small batches, 3 repetitions (a smoke run; targets not judged)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/bench/lib.bash"
cli=$(hwa_cli "$root")
out="$root/${BUILD:-build}/bench"
mkdir -p "$out"
py=$(hwa_python json) || { echo "note: no python3; skipping" >&2; exit 0; }
if ! "$cli" plan linear1000 --devices cpu,opencl:0 --brief >/dev/null 2>"$out/sched.err"; then
  echo "note: no usable opencl:0 ($(tail -1 "$out/sched.err")); skipping" >&2
  exit 0
fi
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
mkdir -p "$cache/hwadapt"
src=${XDG_CACHE_HOME:-$HOME/.cache}/hwadapt
cp "$src"/calibration-*.json "$cache/hwadapt/" 2>/dev/null || true
export XDG_CACHE_HOME=$cache
reps=5 quick=""
[ -n "${BENCH_QUICK:-}" ] && reps=3 quick=1

for w in linear1000 mlp1000-train fmnist-mlp-train; do
  batch=()
  [ -n "$quick" ] && [ "$w" = mlp1000-train ] && batch=(--batch 128)
  echo "== $w" >&2
  "$cli" plan "$w" --devices cpu,opencl:0 "${batch[@]}" >"$out/sched-$w-plan.txt"
  "$cli" plan "$w" --devices cpu,opencl:0 "${batch[@]}" --json -o "$out/sched-$w-plan.json" 2>/dev/null
  "$cli" plan "$w" --devices cpu,opencl:0 "${batch[@]}" --measure --reps "$reps" --json -o "$out/sched-$w.json"
done

data=${HWA_DATA_DIR:-$root/../shared/data}
model="$data/stories260K/stories260K.bin" tok="$data/stories260K/tok512.bin"
: >"$out/sched-stories.tsv"
if [ -f "$model" ]; then
  echo "== stories260K" >&2
  "$cli" plan "$model" --devices cpu,opencl:0 >"$out/sched-stories260K-plan.txt"
  "$cli" plan "$model" --devices cpu,opencl:0 --json -o "$out/sched-stories260K-plan.json" 2>/dev/null
  for r in 1 2 3; do
    for dev in cpu opencl:0 auto; do
      extra=()
      [ "$dev" = auto ] && extra=(--devices cpu,opencl:0)
      "$cli" generate "$model" --tokenizer "$tok" --temperature 0 --steps 256 --prompt "Once upon a time" \
        --device "$dev" "${extra[@]}" >"$out/sched-stories-$dev.txt" 2>"$out/sched-stories-$dev.err"
      tps=$(sed -n 's/.*decode: \([0-9.]*\) tokens\/s.*/\1/p' "$out/sched-stories-$dev.err")
      pred=$(sed -n 's/.*predicted \([0-9.]*\) ms of compute a step.*/\1/p' "$out/sched-stories-$dev.err")
      printf '%s\t%s\t%s\t%s\n' "$r" "$dev" "$tps" "${pred:-}" >>"$out/sched-stories.tsv"
    done
  done
  same=yes
  cmp -s "$out/sched-stories-cpu.txt" "$out/sched-stories-opencl:0.txt" || same=no
  cmp -s "$out/sched-stories-cpu.txt" "$out/sched-stories-auto.txt" || same=no
  echo "$same" >"$out/sched-stories-same.txt"
fi

"$py" - "$out" "$quick" <<'EOF' | tee "$out/sched.txt"
import json, os, statistics, sys
out, quick = sys.argv[1], sys.argv[2] == "1"
print(f"placement across cpu,opencl:0 ({os.cpu_count()} CPUs; load average {open('/proc/loadavg').read().split()[0]})")
dev_err = {}
for w in ["linear1000", "mlp1000-train", "fmnist-mlp-train"]:
    m = json.load(open(f"{out}/sched-{w}.json"))
    print(f"\n{w}, batch {m['batch']}: {m['reps']} interleaved repetitions, median ms per query")
    print(f"  {'placement':44s} {'pred. cold':>10s} {'pred. warm':>10s} {'measured':>10s} {'error':>7s}")
    for p in m["placements"]:
        tag = ("  <- auto" if p["auto"] else "") + ("  (fastest)" if p["best"] else "")
        print(f"  {p['placement']:44s} {p['predicted_s_before']*1e3:10.3f} {p['predicted_s']*1e3:10.3f} "
              f"{p['measured_s']*1e3:10.3f} {p['prediction_error']*100:+6.0f}%{tag}")
        if " " not in p["placement"] and p["placement"] != "mixed":
            dev_err.setdefault(p["placement"], []).append(abs(p["prediction_error"]))
    r = m["auto_vs_best"]
    verdict = "" if quick or r is None else ("  ok" if r <= 1.10 else "  MISS")
    print(f"  auto (warm) chose {m['auto_after']}: " +
          (f"{r:.2f}x the fastest measured placement (target <= 1.10){verdict}" if r is not None else "not measured"))
print("\nprediction error per device (its whole-graph placement, warm cache; goal <= 25 %):")
for d, e in dev_err.items():
    verdict = "" if quick else ("  ok" if max(e) <= 0.25 else "  over")
    print(f"  {d:10s} median {statistics.median(e)*100:5.1f} %, worst {max(e)*100:5.1f} % over {len(e)} workloads{verdict}")
path = f"{out}/sched-stories.tsv"
if os.path.getsize(path):
    rows = [l.rstrip("\n").split("\t") for l in open(path)]
    print("\nstories260K, 256 greedy tokens (decode tokens/s, median of 3 interleaved runs):")
    for d in ["cpu", "opencl:0", "auto"]:
        tps = statistics.median(float(r[2]) for r in rows if r[1] == d)
        line = f"  {d:9s} {tps:9.1f} tok/s"
        if d == "auto":
            pred = statistics.median(float(r[3]) for r in rows if r[1] == d and r[3])
            line += f"   predicted {pred:.3f} ms a step, measured {1e3/tps:.3f} ms"
        print(line)
    print(f"  the same text on all three: {open(f'{out}/sched-stories-same.txt').read().strip()}")
EOF
