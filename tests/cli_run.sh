#!/usr/bin/env bash
# The main job (hwadapt run) on a short budget: the passport summary, a row
# per precision with p50/p99, its repetitions and speed-up interval, a
# verdict with its interval, command and C calls, the report written where -o
# says and valid against docs/bench-report.schema.json; bad options rejected.
set -euo pipefail
cli=${HWA_CLI:?HWA_CLI must name the built hwadapt}
src=${HWA_SOURCE_DIR:-$(pwd)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
contains() { grep -qF -- "$2" <<<"$1" || fail "expected '$2' in:"$'\n'"$1"; }

start=$(date +%s)
out=$(cd "$tmp" && "$cli" run --budget 4 --workloads linear1000 -o report.json)
took=$(( $(date +%s) - start ))
contains "$out" "machine "
contains "$out" "roofline "
contains "$out" "calibration "
# the rows under their workload's title, in readable units
contains "$out" "linear1000 · batch 64 · single"
grep -qE "^  device +dtype +thr +samples/s +speedup +p50 +p99 " <<<"$out" || fail "no column heads:"$'\n'"$out"
for t in f32 f16 bf16; do grep -qE "^  cpu +$t +[0-9]+ +([0-9.]+[kM]? ±[0-9.]+%|skipped) " <<<"$out" || fail "no $t row:"$'\n'"$out"; done
# every device of the passport has its rows: opencl:N too, with no thread count
for d in $("$cli" probe --list | sed -n 's/^\(opencl:[0-9]*\) .*/\1/p'); do
  grep -qE "^  $d +f32 +- " <<<"$out" || fail "no $d row:"$'\n'"$out"
done
# every line fits 100 columns
long=$(/usr/bin/python3 -c 'import sys; [print(l, end="") for l in sys.stdin if len(l.rstrip("\n")) > 100]' <<<"$out")
[ -z "$long" ] || fail "lines over 100 columns:"$'\n'"$long"
contains "$out" "verdict per workload (max abs error vs f32 <= 0.01; recommended only when the 95% interval"
grep -qE '^  linear1000 +(recommended|tied) +(f32|f16|bf16)(, [0-9]+ thread\(s\) on cpu| on opencl:[0-9]+) ' <<<"$out" ||
  fail "no verdict:"$'\n'"$out"
grep -qE '[0-9.]+x \[[0-9.]+, [0-9.]+\]' <<<"$out" || fail "no interval:"$'\n'"$out"
grep -qE '^    command  hwadapt bench linear1000 (--device cpu --dtype (f32|f16|bf16) --threads [0-9]+|--device opencl:[0-9]+ --dtype (f32|f16|bf16)) --batch 64$' <<<"$out" ||
  fail "no command:"$'\n'"$out"
# the C calls, their wrapped lines joined
calls=$(awk '/^    C        / { on = 1; printf "%s", $0; next } on && /^             [^ ]/ { printf " %s", substr($0, 14); next }
             on { print ""; on = 0 }' <<<"$out")
grep -qE '^    C        be = hwa_backend_new\(ctx, "(cpu"\); hwa_backend_set_threads\(be, [0-9]+\);|opencl:[0-9]+"\);) .*HWA_(F32|F16|BF16)' <<<"$calls" ||
  fail "no C calls:"$'\n'"$out"
if grep -qE '^  linear1000 +tied +f32' <<<"$out"; then contains "$out" "the f32 baseline"; fi
contains "$out" "report       $tmp/report.json"
[ -s "$tmp/report.json" ] || fail "no report"
if /usr/bin/python3 -c 'import jsonschema' 2>/dev/null; then
  /usr/bin/python3 -c 'import json, sys; jsonschema = __import__("jsonschema"); jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))' \
    "$tmp/report.json" "$src/docs/bench-report.schema.json" || fail "report does not validate"
fi
grep -q '"recommendations": \[$' "$tmp/report.json" || fail "no recommendation in the report"
grep -qE '"verdict": "(recommended|tied)"' "$tmp/report.json" || fail "no verdict in the report"
grep -qE '"reps": 10, "samples_per_s_reps": \[' "$tmp/report.json" || fail "no repetitions in the report"
echo "ok: main job on a 4 s budget, ${took} s of wall time (not asserted: load and sanitizers vary it)"

# A budget spent before the last rows (a slow or busy machine) caps or skips
# them with a note; it is not an error.
(cd "$tmp" && "$cli" run --budget 0.2 --workloads linear1000,fmnist-mlp-train --no-settings -o spent.json > spent.txt) ||
  fail "the main job failed when its budget ran out: $(cat "$tmp/spent.txt")"
echo "ok: a spent budget caps or skips rows"

rc=0
"$cli" run --budget -3 2>"$tmp/err" || rc=$?
[ "$rc" = 2 ] || fail "--budget -3 exited $rc"
contains "$(cat "$tmp/err")" "hwadapt run: --budget -3: out of range; allowed: > 0 (see hwadapt run --help)"
echo "ok: bad option"
