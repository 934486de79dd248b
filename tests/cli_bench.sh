#!/usr/bin/env bash
# hwadapt bench from the command line: bad input exits non-zero with a
# message that says what is wrong and what is available; a quick run's JSON,
# CSV and Markdown; -o writes the file.
set -euo pipefail
cli=${HWA_CLI:?HWA_CLI must name the built hwadapt}
. "$(dirname "$0")/skip.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
contains() { grep -qF -- "$2" <<<"$1" || fail "expected '$2' in:"$'\n'"$1"; }
quick=(--no-calibrate --min-time 0 --min-queries 2 --warmup 0 --batch 4)

# expect_error WHAT_IS_WRONG WHAT_IS_AVAILABLE ARGS...: non-zero exit, both in the message.
expect_error() {
  local wrong=$1 avail=$2 out rc=0
  shift 2
  out=$("$cli" bench "$@" 2>&1) || rc=$?
  [ "$rc" -ne 0 ] || fail "hwadapt bench $* exited 0"
  contains "$out" "$wrong"
  contains "$out" "$avail"
}
expect_error "unknown workload 'linear999'" "available: linear1000, mlp1000, mlp1000-train, fmnist-mlp" linear999 --no-calibrate
expect_error "no device 'cuda:3'" "available: cpu" linear1000 --device cuda:3 --no-calibrate
expect_error "cannot run q8_0" "available: f32, f16, bf16" linear1000 --dtype q8_0 --no-calibrate
expect_error "unknown precision 'f8'" "available on cpu: f32, f16, bf16" linear1000 --dtype f8 --no-calibrate
expect_error "batch '0' is not a whole number" "1..16777216" linear1000 --batch 0 --no-calibrate
expect_error "threads '-1' is not available on cpu" "available: 1.." linear1000 --threads -1 --no-calibrate
expect_error "unknown scenario 'stream'" "available: single, offline, server" linear1000 --scenario stream --no-calibrate
expect_error "needs a rate" "--find-peak" linear1000 --scenario server --no-calibrate
expect_error "--min-time -2: out of range" "allowed: >= 0" linear1000 --min-time -2
expect_error "-r 0: out of range" "allowed: 1..32" linear1000 -r 0
expect_error "--reps 33: out of range" "allowed: 1..32" linear1000 --reps 33
# --optimizer: an unknown name, and one given for forward workloads alone,
# are usage errors (exit 2) that say what is available.
expect_error "unknown optimizer 'lion'" "sgd, momentum, nesterov, adam, adamw" mlp1000-train --optimizer lion --no-calibrate
expect_error "optimizer 'sgd' applies to training workloads" "(mlp1000-train, fmnist-mlp-train, fmnist-cnn-train); linear1000 runs forward only" \
  linear1000 --optimizer sgd --no-calibrate
for bad in "mlp1000-train --optimizer lion" "linear1000,mlp1000 --optimizer adam"; do
  rc=0
  # shellcheck disable=SC2086
  "$cli" bench $bad --no-calibrate >/dev/null 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "hwadapt bench $bad exited $rc, not 2"
done
echo "ok: bad input says what is wrong and what is available"

# Training rows name their optimizer: adam by default, the one asked for
# otherwise; forward rows have none. (That each optimizer really updates,
# by its own rule, is test_bench_report's.)
q1=(--no-calibrate --min-time 0 --min-queries 1 --warmup 0 -r 1 --batch 4)
json=$("$cli" bench linear1000,mlp1000-train "${q1[@]}" --json)
contains "$json" '"workload": "linear1000", "device": "cpu", "dtype": "f32"'
grep -q '"scenario": "single", "optimizer": null,' <<<"$json" || fail "a forward row has an optimizer:"$'\n'"$json"
[ "$(grep -c '"optimizer": "adam"' <<<"$json")" = 1 ] || fail "the training row is not adam by default:"$'\n'"$json"
json=$("$cli" bench mlp1000-train "${q1[@]}" --optimizer sgd --dtype f32,bf16 --json)
[ "$(grep -c '"optimizer": "sgd"' <<<"$json")" = 2 ] || fail "expected two sgd rows:"$'\n'"$json"
# the bf16 row's loss is still compared with f32's
err=$(grep -o '"max_abs_error_vs_f32": [^,}]*' <<<"$json" | sed -n 2p | sed 's/.*: //')
awk -v e="$err" 'BEGIN { exit !(e ~ /^[0-9][0-9.]*([eE][-+]?[0-9]+)?$/ && e + 0 > 0 && e + 0 < 0.05) }' ||
  fail "the bf16 training row's max_abs_error_vs_f32 is '$err'"
csv=$("$cli" bench mlp1000-train "${q1[@]}" --optimizer nesterov --csv)
head -1 <<<"$csv" | grep -q '^workload,device,dtype,batch,threads,kernel,scenario,optimizer,' || fail "CSV header: $csv"
sed -n 2p <<<"$csv" | grep -q '^mlp1000-train,cpu,f32,4,[0-9]*,[^,]*,single,nesterov,' || fail "CSV row: $csv"
help=$("$cli" bench --help) # whole: grep -q would close the pipe early (SIGPIPE under pipefail)
grep -q "mlp1000-train .*backward, Adam update" <<<"$help" || fail "the help does not say the update"
echo "ok: training rows name their optimizer (adam by default, --optimizer sgd, nesterov)"

json=$("$cli" bench linear1000 "${quick[@]}" --dtype f32,bf16 --scenario single,offline --json)
contains "$json" '"schema": "hwadapt-bench-report/2"'
[ "$(grep -c '"workload": "linear1000"' <<<"$json")" = 4 ] || fail "expected 4 rows:"$'\n'"$json"
# Five repetitions by default, each row's throughput per repetition; bf16
# compared with the f32 row of its scenario (rows 0 and 1 are f32).
[ "$(grep -cE '"reps": 5, "samples_per_s_reps": \[([0-9.e+]+, ){4}[0-9.e+]+\]' <<<"$json")" = 4 ] ||
  fail "expected 5 repetitions a row:"$'\n'"$json"
contains "$json" '"speedup": {"baseline_row": 0, "ratio": '
contains "$json" '"speedup": {"baseline_row": 1, "ratio": '
contains "$json" '"energy_j_per_sample": null'
contains "$json" '"command_line": "bench linear1000'
if command -v /usr/bin/python3 >/dev/null && /usr/bin/python3 -c 'import jsonschema' 2>/dev/null; then
  src=${HWA_SOURCE_DIR:-$(pwd)}
  /usr/bin/python3 -c 'import json, sys, jsonschema; jsonschema.validate(json.load(sys.stdin), json.load(open(sys.argv[1])))' \
    "$src/docs/bench-report.schema.json" <<<"$json" || fail "JSON does not validate"
  echo "ok: JSON validates (python3-jsonschema)"
else
  skip_part python "JSON schema check: no /usr/bin/python3 with jsonschema (python3-jsonschema)"
fi
echo "ok: quick run with --json"

# A model file as the workload: a nonexistent or non-model file fails with a
# message; stories260K (when the data is here) gives one f32 row whose JSON
# validates.
expect_error "workload file '$tmp/none.gguf': no such file" "no such file" "$tmp/none.gguf" --no-calibrate
echo "not a model" >"$tmp/bad.gguf"
expect_error "workload file $tmp/bad.gguf" "$tmp/bad.gguf" "$tmp/bad.gguf" --no-calibrate
model=${HWA_DATA_DIR:-}/stories260K/stories260K.gguf
if [ -n "${HWA_DATA_DIR:-}" ] && [ -f "$model" ]; then
  expect_error "holds f32 weights, cannot run f16" "available: f32" "$model" --dtype f16 --no-calibrate
  json=$("$cli" bench "$model" --no-calibrate --min-time 0.2 --json)
  [ "$(grep -c '"workload": "stories260K.gguf"' <<<"$json")" = 1 ] || fail "expected 1 model row:"$'\n'"$json"
  # The f32 row's error is measured: its first query's logits against the
  # same query through the CPU's scalar reference kernels, within 1e-4 (the
  # bound the llama tests hold our logits to against PyTorch; the logits of
  # stories260K reach 22, where one f32 unit is 1.9e-6).
  err=$(grep -o '"max_abs_error_vs_f32": [^,}]*' <<<"$json" | head -1 | sed 's/.*: //')
  awk -v e="$err" 'BEGIN { exit !(e ~ /^[0-9][0-9.]*([eE][-+]?[0-9]+)?$/ && e + 0 <= 1e-4) }' ||
    fail "the f32 model row's max_abs_error_vs_f32 is '$err', not a measured number <= 1e-4"
  contains "$json" "error vs f32: the first query's logits against the same query through the CPU's scalar reference kernels"
  contains "$json" 'one decode step'
  if command -v /usr/bin/python3 >/dev/null && /usr/bin/python3 -c 'import jsonschema' 2>/dev/null; then
    /usr/bin/python3 -c 'import json, sys, jsonschema; jsonschema.validate(json.load(sys.stdin), json.load(open(sys.argv[1])))' \
      "${HWA_SOURCE_DIR:-$(pwd)}/docs/bench-report.schema.json" <<<"$json" || fail "model JSON does not validate"
  fi
  json=$("$cli" bench "$model" --no-calibrate --min-time 0 --min-queries 2 --warmup 0 --batch 16 --csv)
  contains "$json" 'prefill of 16 tokens'
  echo "ok: model file workload"
  # Sequences decoded in one batch: batch is their count, the row says how
  # many and each one's tokens/s (all of them / 3); its first sequence's
  # logits are checked against the scalar reference like a decode step's.
  json=$("$cli" bench "$model" --no-calibrate --min-time 0 --min-queries 3 --warmup 0 --sequences 3 --json)
  contains "$json" '"batch": 3,'
  contains "$json" '"sequences": 3'
  contains "$json" 'one decode step of 3 sequences in one batch'
  all=$(grep -o '"samples_per_s": [^,}]*' <<<"$json" | head -1 | sed 's/.*: //')
  each=$(grep -o '"tokens_per_s_per_sequence": [^,}]*' <<<"$json" | head -1 | sed 's/.*: //')
  err=$(grep -o '"max_abs_error_vs_f32": [^,}]*' <<<"$json" | head -1 | sed 's/.*: //')
  awk -v a="$all" -v e="$each" -v x="$err" 'BEGIN { d = e * 3 - a; if (d < 0) d = -d
    exit !(a > 0 && d <= 1e-6 * a && x ~ /^[0-9]/ && x + 0 <= 1e-4) }' ||
    fail "sequences row: tokens/s $all, per sequence $each, error $err"
  if command -v /usr/bin/python3 >/dev/null && /usr/bin/python3 -c 'import jsonschema' 2>/dev/null; then
    /usr/bin/python3 -c 'import json, sys, jsonschema; jsonschema.validate(json.load(sys.stdin), json.load(open(sys.argv[1])))' \
      "${HWA_SOURCE_DIR:-$(pwd)}/docs/bench-report.schema.json" <<<"$json" || fail "sequences JSON does not validate"
  fi
  expect_error "sequences (2) set the batch" "give no batches" "$model" --sequences 2 --batch 4 --no-calibrate
  expect_error "sequences apply to language model files" "linear1000 is a built-in" linear1000 --sequences 2 --no-calibrate
  expect_error "--sequences" "1..256" "$model" --sequences 0 --no-calibrate
  echo "ok: sequences decoded in one batch"
else
  skip_part data "model file workload: $model is absent (HWA_DATA_DIR, ../shared/data)"
fi

# With a power meter (the RAPL fixture tree) the energy fields are numbers;
# without one (above) they are null.
src=${HWA_SOURCE_DIR:-$(pwd)}
json=$(HWA_SYSROOT=$src/tests/fixtures/hw/rapl "$cli" bench linear1000 "${quick[@]}" --json)
contains "$json" '"power_meter": "rapl:package-0'
grep -q '"energy_j_per_sample": [0-9]' <<<"$json" || fail "no energy with a meter:"$'\n'"$json"
grep -q '"idle_power_w": [0-9]' <<<"$json" || fail "no idle power with a meter"
echo "ok: energy per sample from a power meter"

"$cli" bench linear1000 "${quick[@]}" --csv -o "$tmp/out.csv" 2>/dev/null
[ "$(wc -l <"$tmp/out.csv")" = 2 ] || fail "CSV should have a header and one row"
head -1 "$tmp/out.csv" | grep -q '^workload,device,dtype,batch,threads' || fail "CSV header"
md=$("$cli" bench linear1000 "${quick[@]}" --md)
contains "$md" "| workload | device | dtype |"
contains "$md" "| linear1000 | cpu | f32 | 4 |"
table=$("$cli" bench linear1000 "${quick[@]}" --dtype f32,bf16 -r 3 --wide)
contains "$table" "p99 ms"
contains "$table" "reps"
contains "$table" " ± "
grep -qE 'bf16 .* 3 +[0-9]+ .* [0-9.]+x \[[0-9.]+, [0-9.]+\]' <<<"$table" || fail "no speed-up with its interval:"$'\n'"$table"
# the default table: under the workload's title, readable units, 100 columns
table=$("$cli" bench linear1000 "${quick[@]}" --dtype f32,bf16 -r 3 2>"$tmp/summary")
contains "$table" "linear1000 · batch 4 · single"
grep -qE '^  cpu +bf16 +[0-9]+ +[0-9.]+[kM]? ±[0-9.]+% +[0-9.]+x \[[0-9.]+,[0-9.]+\] +[0-9.]+ (µs|ms) ' <<<"$table" ||
  fail "no compact bf16 row:"$'\n'"$table"
long=$(/usr/bin/python3 -c 'import sys; [print(l, end="") for l in sys.stdin if len(l.rstrip("\n")) > 100]' <<<"$table")
[ -z "$long" ] || fail "lines over 100 columns:"$'\n'"$long"
grep -qE '^hwadapt bench: 2 row\(s\) measured, 0 skipped, in [0-9]+ s$' "$tmp/summary" || fail "no summary: $(cat "$tmp/summary")"
grep -qE '^  fastest linear1000: (f32|bf16), [0-9]+ thread\(s\) on cpu, batch 4: ' "$tmp/summary" || fail "no best row: $(cat "$tmp/summary")"
"$cli" bench linear1000 "${quick[@]}" --quiet > /dev/null 2>"$tmp/quiet"
[ ! -s "$tmp/quiet" ] || fail "--quiet printed: $(cat "$tmp/quiet")"
# On a terminal (script(1) gives it one) stderr carries a progress line with
# the time left; --quiet silences it there too.
if command -v script > /dev/null; then
  script -qc "$cli bench linear1000,mlp1000 ${quick[*]} -r 3 > /dev/null" /dev/null > "$tmp/tty" 2>&1
  grep -qE '\[[0-9]+/2\] ~[0-9]+ s left  (linear1000|mlp1000) on cpu' "$tmp/tty" || fail "no progress on a terminal: $(cat -v "$tmp/tty")"
  script -qc "$cli bench linear1000 ${quick[*]} --quiet > /dev/null" /dev/null > "$tmp/tty" 2>&1
  ! grep -q 'left' "$tmp/tty" || fail "--quiet showed progress on a terminal: $(cat -v "$tmp/tty")"
fi
echo "ok: CSV to a file, Markdown, wide table with repetitions and intervals, a table in 100 columns, summary"

out=$("$cli" bench linear1000 "${quick[@]}" --scenario server --p99-ms 1000 --find-peak --json)
contains "$out" '"peak_qps": '
contains "$out" '"meets_bound": true'
echo "ok: server scenario with --find-peak"

# The peak search never reports its own ceiling as the peak without saying
# so: either a tested rate violated the bound (upper_qps) or the note says
# the peak is at least the ceiling.
out=$("$cli" bench linear1000 --no-calibrate --min-time 0.3 --warmup 0.05 --scenario server --find-peak --p99-ms 5 --json)
if grep -q '"at_ceiling": true' <<<"$out"; then
  contains "$out" "no tested rate violated the bound; the peak is at least"
  contains "$out" "(the search's ceiling)"
  echo "ok: peak search at its ceiling says so"
else
  contains "$out" '"at_ceiling": false'
  grep -qE '"upper_qps": [0-9]' <<<"$out" || fail "no rate violated the bound, yet no note:"$'\n'"$out"
  echo "ok: peak search found a rate that violates the bound"
fi

# HWA_ISA below the host's level caps the matrix-product libraries' own code
# too: no AVX-512 kernel under avx2, no AMX under avx512 (where the host has
# them; batch 64, where oneDNN takes the products).
isa_rows() { HWA_ISA=$1 "$cli" bench linear1000,fmnist-mlp-train --no-calibrate --min-time 0 --min-queries 2 --warmup 0 \
  --dtype f32,bf16 --csv | cut -d, -f1,3,6; }
if grep -qw avx512f /proc/cpuinfo; then
  rows=$(isa_rows avx2)
  ! grep -q avx512 <<<"$rows" || fail "HWA_ISA=avx2 ran AVX-512 kernels:"$'\n'"$rows"
  echo "ok: HWA_ISA=avx2 runs no AVX-512 kernel"
fi
if grep -qw amx_bf16 /proc/cpuinfo; then
  rows=$(isa_rows avx512)
  ! grep -q amx <<<"$rows" || fail "HWA_ISA=avx512 ran AMX kernels:"$'\n'"$rows"
  echo "ok: HWA_ISA=avx512 runs no AMX kernel"
fi

# A row measured while another process keeps a CPU busy says so: the share
# the others took (hwa_load_*) in its JSON, flagged contended, and a note.
# One busy loop on a machine of n CPUs takes 1/n of them; the bound is half
# that, so other noise cannot fail it and a machine of many CPUs skips it.
ncpu=$(nproc)
if [ "$ncpu" -le 8 ]; then
  bash -c 'while :; do :; done' &
  busy=$!
  trap 'kill $busy 2>/dev/null || true; rm -rf "$tmp"' EXIT # even when this test is stopped midway
  sleep 0.3
  "$cli" bench linear1000 --no-calibrate --min-time 0.6 -r 3 --json > "$tmp/busy.json" || { kill $busy; fail "bench under load failed"; }
  HWA_ADAPT_THREADS=0 "$cli" bench linear1000 --no-calibrate --min-time 0.3 -r 1 --json > "$tmp/fixed.json" ||
    { kill $busy; fail "bench under load with HWA_ADAPT_THREADS=0 failed"; }
  kill $busy; wait $busy 2>/dev/null || true
  python3 - "$tmp/busy.json" "$ncpu" <<'PY' || fail "a row measured beside a busy process is not flagged: $(cat "$tmp/busy.json")"
import json, sys
row = json.load(open(sys.argv[1]))["results"][0]
load, n = row["load"], int(sys.argv[2])
assert load["others_share"] is not None and load["others_share"] >= 0.5 / n, load
assert load["contended"] is True, load
assert "contended: " in row["note"] and "other processes took" in row["note"], row["note"]
# a CPU held by the busy loop: after the first look (100 ms) computes ask for one thread fewer
assert load["threads_cut_share"] is not None and load["threads_cut_share"] > 0.3, load
fixed = json.load(open(sys.argv[1].replace("busy.json", "fixed.json")))["results"][0]["load"]
assert fixed["threads_cut_share"] == 0, fixed
PY
  echo "ok: a row measured beside a busy process is flagged with the share others took, and ran on fewer threads"
  echo "    unless HWA_ADAPT_THREADS=0"
fi
finish_skips
