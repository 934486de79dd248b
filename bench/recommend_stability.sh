#!/usr/bin/env bash
# Is the main job's verdict stable? Runs `hwadapt run` RUNS times (5) back to
# back, each with --budget BUDGET (50 s) to its own JSON report, and prints per
# workload the verdicts side by side -- verdict, dtype/threads, and the
# interval behind it (the recommended row's speed-up over f32, or for a tie
# the fastest row's) -- then "stable" when every run recommends the same
# configuration with the same verdict, else "unstable". Also each run's wall
# time against the budget and the load average before it: on a machine
# shared with other work, read the verdicts with the load next to them.
# Builds the command first when it is not built. Reports are kept in OUT_DIR
# when set.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.bash"
budget=${BUDGET:-50}
runs=${RUNS:-5}
if ! py=$(hwa_python json); then
  echo "recommend_stability: skipped (no python3 to read the reports)"
  exit 0
fi
cli=$(hwa_cli "$(dirname "$here")")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=${OUT_DIR:-$tmp}
mkdir -p "$out"

for i in $(seq 1 "$runs"); do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  start=$(date +%s%N)
  "$cli" run --budget "$budget" -o "$out/run$i.json" --settings "$out/run$i.conf" >"$out/run$i.txt"
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf 'run %d: %d.%d s of wall time (budget %s s), load average before it %s\n' "$i" $((ms / 1000)) \
    $((ms % 1000 / 100)) "$budget" "$load"
done
echo

"$py" - "$out" "$runs" <<'PY'
import json, sys

out, runs = sys.argv[1], int(sys.argv[2])
reports = [json.load(open(f"{out}/run{i}.json")) for i in range(1, runs + 1)]
workloads = []
for rep in reports:
    for row in rep["results"]:
        if row["workload"] not in workloads:
            workloads.append(row["workload"])

def fmt(x):
    return "n/a" if x is None else f"{x:.2f}"

def cells(rep, wl):
    recs = [r for r in rep["recommendations"] if r["workload"] == wl]
    if not recs:
        return ("none measured", ""), None
    r = recs[0]
    row = rep["results"][r["row"]]
    key = (r["verdict"], row["dtype"], row["threads"])
    what = f'{r["verdict"]} {row["dtype"]}/{row["threads"]}t'
    if r["verdict"] == "tied" and r["fastest_row"] != r["row"]:
        what += f' ({rep["results"][r["fastest_row"]]["dtype"]})'
    iv = f'{fmt(r["speedup"])}x [{fmt(r["lo"])}, {fmt(r["hi"])}]'
    return (what, iv), key

w = 26
print(f'{"workload":<18}' + "".join(f'{"run " + str(i + 1):<{w}}' for i in range(runs)))
for wl in workloads:
    got = [cells(rep, wl) for rep in reports]
    keys = {k for _, k in got}
    verdict = "stable" if len(keys) == 1 and None not in keys else "unstable"
    print(f"{wl:<18}" + "".join(f"{c[0]:<{w}}" for c, _ in got) + verdict)
    print(f'{"":<18}' + "".join(f"{c[1]:<{w}}" for c, _ in got))
PY
