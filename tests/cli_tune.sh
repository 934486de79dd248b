#!/usr/bin/env bash
# hwadapt tune end to end: a workload's batch under a latency bound and
# under a memory cap (the chosen batch is the largest whose plan fits; an
# allocation that fails while confirming backs off), the settings file it
# writes, fmnist-mlp's tune on a small step budget whose file `hwadapt
# train --config` takes, and clear errors for bad options.
set -u
H=${HWA_CLI:-build/hwadapt}
FM=/usr/share/datasets/fashion-mnist
. "$(dirname "$0")/skip.bash"
T=$(mktemp -d /tmp/hwa_cli_tune.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
py=$(command -v python3 || command -v /usr/bin/python3)
# json FILE EXPR: EXPR evaluated over the document d (python)
json() { "$py" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# ---- errors, each before any work
expect_usage() { # NAME WANT ARGS...
  local name=$1 want=$2; shift 2
  "$H" tune "$@" > "$T/out" 2> "$T/err"
  local rc=$?
  if [ $rc -eq 2 ] && grep -q -- "$want" "$T/err"; then ok "$name"
  else bad "$name: rc $rc: $(cat "$T/err")"; fi
}
expect_usage "budget 0" "allowed: seconds > 0" mlp1000 --budget 0
expect_usage "negative budget" "allowed: seconds > 0" mlp1000 --budget -5
expect_usage "negative bound" "--p99-ms -1: out of range; allowed: > 0" mlp1000 --inference --p99-ms -1
expect_usage "bound without inference workload" "bounds an inference" --p99-ms 5
expect_usage "bound on a training workload" "bounds an inference" mlp1000-train --p99-ms 5
expect_usage "unknown model" "--model resnet: not one of the allowed values; allowed: fmnist-mlp" --model resnet
expect_usage "unknown workload" "unknown workload 'resnet'" resnet
expect_usage "unknown device" "opencl:97" mlp1000 --device opencl:97
expect_usage "unknown optimizer" "unknown optimizer" --optimizers adam,lion
expect_usage "unwritable output" "folder $T/no/such/dir does not exist" mlp1000 -o "$T/no/such/dir/t.json"
expect_usage "bad memory size" "like 512M" mlp1000 --memory lots
expect_usage "device auto" "one device at a time" mlp1000 --device auto

# ---- inference under a latency bound: the settings file bench takes
if "$H" tune mlp1000 --inference --p99-ms 1000 --budget 3 --max-batch 64 -o "$T/inf.json" > "$T/out" 2> "$T/err" &&
   [ "$(json "$T/inf.json" 'd["bench mlp1000"]["batch"]')" -ge 1 ] &&
   [ "$(json "$T/inf.json" 'all(p["p99_ms"] > 0 for p in d["tune"]["batch"]["curve"])')" = True ] &&
   grep -q "the largest batch whose p99 latency stays under 1000 ms" "$T/out" &&
   grep -q "bench --config $T/inf.json" "$T/out"; then
  ok "inference under a bound"
else bad "inference under a bound: $(cat "$T/out" "$T/err")"; fi
# a bound no batch meets
"$H" tune linear1000 --inference --p99-ms 0.000001 --budget 2 --max-batch 4 > "$T/out" 2> "$T/err"
if [ $? -eq 1 ] && grep -q "even batch 1 misses the p99 bound" "$T/err"; then ok "bound nothing meets"
else bad "bound nothing meets: $(cat "$T/out" "$T/err")"; fi

# ---- a memory cap: the largest batch whose plan fits, and the next does not
if HWA_MEM_LIMIT=cpu=48M "$H" tune mlp1000 --inference --budget 2 --json > "$T/cap.json" 2> "$T/err" &&
   [ "$(json "$T/cap.json" 'd["tune"]["memory"]["capped"]')" = True ] &&
   [ "$(json "$T/cap.json" '(lambda m: m["max_fit_bytes"] <= m["avail_bytes"] < m["next_bytes"] and m["confirmed_batch"] == m["max_fit"] and m["max_fit"] > 1)(d["tune"]["memory"])')" = True ]; then
  ok "capped: the largest batch that fits"
else bad "capped: $(cat "$T/cap.json" "$T/err")"; fi
# planned for 2 GiB on a device capped at 48 MiB: the confirmation fails and backs off
if HWA_MEM_LIMIT=cpu=48M "$H" tune mlp1000 --inference --memory 2G --budget 2 > "$T/out" 2> "$T/err" &&
   grep -q "backed off: batch 65536 could not be allocated (.*cpu:0: .*HWA_MEM_LIMIT" "$T/out" &&
   grep -q "^confirmed: batch " "$T/out"; then
  ok "failed confirmation backs off"
else bad "failed confirmation backs off: $(cat "$T/out" "$T/err")"; fi

# ---- fmnist-mlp on a small step budget, and train --config with its file
if [ -r "$FM/train-images-idx3-ubyte.gz" ]; then
  if "$H" tune --budget 600steps --max-batch 64 --optimizers momentum,adam -o "$T/tuned.json" --quiet > "$T/out" 2> "$T/err" &&
     grep -q "^search: 6 trials" "$T/out" && grep -q "^recommended: hwadapt train" "$T/out"; then
    ok "fmnist-mlp tune"
  else bad "fmnist-mlp tune: $(cat "$T/out" "$T/err")"; fi
  opt=$(json "$T/tuned.json" 'd["train"]["optimizer"]')
  b=$(json "$T/tuned.json" 'd["train"]["batch"]')
  "$H" train --config "$T/tuned.json" --epochs 1 --limit 300 --test-limit 100 --json --quiet > "$T/train.json" 2> "$T/err"
  if [ $? -eq 0 ] && grep -q "\"epoch\":1," "$T/train.json"; then ok "train --config tuned.json"
  else bad "train --config tuned.json: $(cat "$T/train.json" "$T/err")"; fi
  "$H" train --config "$T/tuned.json" --epochs 1 --limit 300 --test-limit 100 > "$T/train.txt" 2> "$T/err"
  if grep -q "optimizer $opt, batch $b," "$T/train.txt"; then ok "the file's optimizer and batch"
  else bad "the file's optimizer and batch ($opt, $b): $(cat "$T/train.txt" "$T/err")"; fi
  "$H" train --config "$T/tuned.json" --batch 7 --epochs 1 --limit 300 --test-limit 100 > "$T/train.txt" 2> "$T/err"
  if grep -q "batch 7," "$T/train.txt"; then ok "an explicit flag wins"
  else bad "an explicit flag wins: $(cat "$T/train.txt" "$T/err")"; fi
else
  skip_part fmnist "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)"
fi

# A training workload's range test runs at the batch the search chose (the
# message says which), not at the workload's default of 1000: with
# --max-batch 64 it is over in seconds (it ran for minutes before).
out=$(timeout 120 "$H" tune mlp1000-train --budget 3 --max-batch 64 2>&1); rc=$?
b=$(sed -nE 's/.*range test of adam at batch ([0-9]+),.*/\1/p' <<<"$out" | head -1)
if [ $rc -eq 0 ] && [ -n "$b" ] && [ "$b" -le 64 ]; then ok "mlp1000-train's range test at batch $b, within --max-batch 64"
else bad "tune mlp1000-train --max-batch 64: exit $rc, range-test batch '$b': $out"; fi

[ $fails -eq 0 ] || exit 1
finish_skips
