#!/usr/bin/env bash
# Placement across cpu and the first OpenCL device from the command line:
# hwadapt plan for linear1000, mlp1000-train, fmnist-mlp-train and
# stories260K prints every node's device and reason, the devices' time and
# memory and the rejected alternatives, and its --json validates against
# docs/plan.schema.json; with the OpenCL device capped (HWA_MEM_LIMIT) a
# single-device plan there is refused naming the shortfall while auto still
# plans, and with every device capped nothing runs (exit 1); bench --device
# auto notes the placement and predicted against measured time; a fault
# injected on the OpenCL device fails a run by its name, and --fallback
# re-plans without it; generate --device auto gives the CPU's greedy text.
set -euo pipefail
cli=${HWA_CLI:?HWA_CLI must name the built hwadapt}
data=${HWA_DATA_DIR:-../shared/data}
src=${HWA_SOURCE_DIR:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
. "$(dirname "$0")/skip.bash"

need_opencl_device "$cli"
both=cpu,$dev

py=""
for c in /usr/bin/python3 python3; do
  if "$c" -c 'import jsonschema' 2>/dev/null; then py=$c; break; fi
done

for wl in linear1000 mlp1000-train fmnist-mlp-train; do
  "$cli" plan "$wl" --devices "$both" >"$tmp/p.txt" 2>"$tmp/p.err" || fail "plan $wl: $(cat "$tmp/p.err")"
  grep -q "^placement: " "$tmp/p.txt" || fail "plan $wl: no placement line"
  grep -qE "^  cpu:0 .* needs [0-9.]+ MiB of " "$tmp/p.txt" || fail "plan $wl: no memory line for cpu:0"
  grep -qE "^  $dev .* needs [0-9.]+ MiB of " "$tmp/p.txt" || fail "plan $wl: no memory line for $dev"
  grep -q "^alternatives:" "$tmp/p.txt" || fail "plan $wl: no alternatives"
  grep -qE "^ +0  matmul .*(faster|follows|single|stage): " "$tmp/p.txt" || fail "plan $wl: node 0 has no reason:"$'\n'"$(cat "$tmp/p.txt")"
  "$cli" plan "$wl" --devices "$both" --json -o "$tmp/$wl.json" 2>/dev/null || fail "plan $wl --json failed"
  echo "ok: plan $wl across $both: $(sed -n 's/^placement: //p' "$tmp/p.txt")"
done
s=$data/stories260K
if [ -e "$s/stories260K.bin" ]; then
  "$cli" plan "$s/stories260K.bin" --devices "$both" >"$tmp/m.txt" || fail "plan stories260K failed"
  grep -q "writes 'blk.0.k_cache' in place, which lives on cpu:0" "$tmp/m.txt" || fail "plan stories260K: the KV-cache write's reason is missing"
  "$cli" plan "$s/stories260K.bin" --devices "$both" --json -o "$tmp/stories.json" 2>/dev/null || fail "plan stories260K --json failed"
  echo "ok: plan stories260K: $(sed -n 's/^placement: //p' "$tmp/m.txt")"
else
  skip_part data "$s/stories260K.bin is absent"
fi
if [ -n "$py" ]; then
  for f in "$tmp"/*.json; do
    "$py" - "$src/docs/plan.schema.json" "$f" <<'EOF' || fail "$f does not validate against docs/plan.schema.json"
import json, sys, jsonschema
jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))
EOF
  done
  echo "ok: every plan's JSON validates against docs/plan.schema.json"
else
  skip_part python "no python3 with jsonschema (Debian package python3-jsonschema)"
fi

# memory caps: the device refused by name and shortfall; auto plans around it;
# nothing fits with both capped
if HWA_MEM_LIMIT="$dev=2M" "$cli" plan fmnist-mlp --devices "$both" --mode "single:$dev" >"$tmp/c.txt" 2>"$tmp/c.err"; then
  fail "a plan on $dev capped at 2 MiB was accepted"
fi
grep -q "$dev is [0-9.]* MiB short" "$tmp/c.err" || fail "the refusal does not name the shortfall: $(cat "$tmp/c.err")"
HWA_MEM_LIMIT="$dev=2M" "$cli" plan fmnist-mlp --devices "$both" --brief >"$tmp/c.txt" || fail "auto with $dev capped failed"
grep -q "(capped by HWA_MEM_LIMIT)" "$tmp/c.txt" || fail "the capped device is not marked"
rc=0
HWA_MEM_LIMIT="$dev=1M,cpu=1M" "$cli" plan fmnist-mlp --devices "$both" >/dev/null 2>"$tmp/c.err" || rc=$?
[ "$rc" = 1 ] || fail "with both devices capped: exit $rc, not 1"
grep -q "no placement fits" "$tmp/c.err" || fail "no 'no placement fits': $(cat "$tmp/c.err")"
echo "ok: caps: $(head -c 160 "$tmp/c.err")..."

# bench --device auto: the placement and predicted against measured time
"$cli" bench linear1000 --device auto --devices "$both" --min-time 0 --min-queries 3 -r 2 --csv >"$tmp/b.csv" ||
  fail "bench --device auto failed"
grep -q "placed by the scheduler across $both" "$tmp/b.csv" || fail "the auto row does not say where it ran"
grep -qE "predicted [0-9.e+-]+ ms a query, measured [0-9.e+-]+ ms" "$tmp/b.csv" || fail "no predicted against measured time"
echo "ok: bench --device auto notes its placement and predicted against measured time"

# faults: the device's error by name, and --fallback re-plans without it
# (a layer split, so that the device has work to fail at)
rc=0
HWA_FAULT_DEVICE=$dev "$cli" bench linear1000 --device auto --devices "$both" --place layers --min-time 0 \
  --min-queries 2 -r 1 >/dev/null 2>"$tmp/f.err" || rc=$?
[ "$rc" != 0 ] || fail "a failed device did not fail the run"
grep -q "$dev: injected fault" "$tmp/f.err" || fail "the failure does not name $dev: $(cat "$tmp/f.err")"
HWA_FAULT_DEVICE=$dev "$cli" bench linear1000 --device auto --devices "$both" --place layers --fallback --min-time 0 \
  --min-queries 2 -r 1 --csv >"$tmp/f.csv" 2>"$tmp/f.err" || fail "--fallback did not recover: $(cat "$tmp/f.err")"
grep -q "re-planned without $dev" "$tmp/f.err" || fail "--fallback did not say so on stderr"
grep -q "re-planned without $dev" "$tmp/f.csv" || fail "the row does not say it was re-planned"
echo "ok: a fault on $dev fails the run by name; --fallback re-plans without it"

# generate --device auto: the CPU's greedy text, and where it ran
if [ -e "$s/stories260K.bin" ] && [ -e "$s/tok512.bin" ]; then
  g=(generate "$s/stories260K.bin" --tokenizer "$s/tok512.bin" --prompt "Once upon a time" --temperature 0 --steps 32)
  "$cli" "${g[@]}" >"$tmp/cpu.txt" 2>/dev/null || fail "generate on cpu failed"
  "$cli" "${g[@]}" --device auto --devices "$both" >"$tmp/auto.txt" 2>"$tmp/auto.err" || fail "generate auto failed: $(cat "$tmp/auto.err")"
  cmp -s "$tmp/cpu.txt" "$tmp/auto.txt" || fail "generate --device auto differs from the CPU's text"
  grep -q "^placement: across $both" "$tmp/auto.err" || fail "generate --device auto does not say where it ran"
  echo "ok: generate --device auto: the CPU's greedy text; $(grep '^placement:' "$tmp/auto.err")"
fi
finish_skips
