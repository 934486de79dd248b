#!/usr/bin/env bash
# The main job (hwadapt run) on a short budget: the passport summary, a row
# per precision with p50/p99, a recommendation, the report written where -o
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
contains "$out" "p50 ms"
contains "$out" "p99 ms"
for t in f32 f16 bf16; do grep -qE "^linear1000 +cpu +$t " <<<"$out" || fail "no $t row:"$'\n'"$out"; done
contains "$out" "recommendation (fastest with max abs error vs f32 <= 0.01):"
contains "$out" "report       $tmp/report.json"
[ -s "$tmp/report.json" ] || fail "no report"
if /usr/bin/python3 -c 'import jsonschema' 2>/dev/null; then
  /usr/bin/python3 -c 'import json, sys; jsonschema = __import__("jsonschema"); jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))' \
    "$tmp/report.json" "$src/docs/bench-report.schema.json" || fail "report does not validate"
fi
grep -q '"recommendations": \[$' "$tmp/report.json" || fail "no recommendation in the report"
echo "ok: main job on a 4 s budget, ${took} s of wall time (not asserted: load and sanitizers vary it)"

rc=0
"$cli" run --budget -3 2>"$tmp/err" || rc=$?
[ "$rc" = 2 ] || fail "--budget -3 exited $rc"
contains "$(cat "$tmp/err")" "bad option or value '--budget' -3"
echo "ok: bad option"
