#!/usr/bin/env bash
# hwadapt report end to end: a short main job (which writes its HTML beside
# its JSON), a batch and thread sweep, a passport, a one-epoch training
# log, a placement plan and a measured one, a short inference tune and a
# training tune kept from a real run (tests/fixtures/report: its range test
# and trials take 20 s to make), all in one page; usage and input errors;
# then the page rendered in
# headless Chromium (tests/report_check.py): no console error, no exception,
# no request but the page itself, every chart with a title, both axis labels
# and data marks with tooltips. The screenshot is left in the build folder
# (report-screenshot.png).
set -euo pipefail
cli=${HWA_CLI:?HWA_CLI must name the built hwadapt}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/skip.bash"
build=$(cd "$(dirname "$cli")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
contains() { grep -qF -- "$2" <<<"$1" || fail "expected '$2' in:"$'\n'"$1"; }
t0=$SECONDS

# expect_rc RC TEXT ARGS...: hwadapt report ARGS exits RC and says TEXT.
expect_rc() {
  local want=$1 text=$2 out rc=0
  shift 2
  out=$("$cli" report "$@" 2>&1) || rc=$?
  [ "$rc" = "$want" ] || fail "hwadapt report $* exited $rc, not $want: $out"
  contains "$out" "$text"
}

# ---- the inputs --------------------------------------------------------
(cd "$tmp" && "$cli" run --budget 6 --workloads linear1000,fmnist-mlp-train --no-settings -o main.json > run.txt 2>&1) ||
  fail "hwadapt run: $(tail -5 "$tmp/run.txt")"
[ -s "$tmp/main.html" ] || fail "the main job wrote no main.html beside main.json"
contains "$(cat "$tmp/run.txt")" "html         $tmp/main.html"
grep -q '"passport": {' "$tmp/main.json" || fail "main.json carries no passport"
"$cli" bench linear1000 --batch 1,8,64 --threads 1,2 --min-time 0.05 --reps 2 --json > "$tmp/sweep.json" 2> "$tmp/err" ||
  fail "bench sweep: $(cat "$tmp/err")"
"$cli" probe --json > "$tmp/passport.json" 2> "$tmp/err" || fail "probe: $(cat "$tmp/err")"
"$cli" plan linear1000 --json > "$tmp/plan.json" 2> "$tmp/err" || fail "plan: $(cat "$tmp/err")"
"$cli" plan linear1000 --measure --reps 1 --json -o "$tmp/plan-measured.json" 2> "$tmp/err" ||
  fail "plan --measure: $(cat "$tmp/err")"
"$cli" tune mlp1000 --inference --budget 3 --max-batch 64 --quiet --json > "$tmp/tune.json" 2> "$tmp/err" ||
  fail "tune: $(cat "$tmp/err")"
fm=/usr/share/datasets/fashion-mnist
inputs=("$tmp/main.json" "$tmp/sweep.json" "$tmp/passport.json" "$tmp/plan.json" "$tmp/plan-measured.json"
  "$tmp/tune.json" "$here/fixtures/report/tune-fmnist-mlp.json")
if [ -r "$fm/train-images-idx3-ubyte.gz" ]; then
  "$cli" train --limit 250 --test-limit 100 --hidden 16 --batch 32 --seed 5 --quiet --epochs 1 --json \
    > "$tmp/train.jsonl" 2> "$tmp/err" || fail "train: $(cat "$tmp/err")"
  inputs+=("$tmp/train.jsonl")
else
  skip_part fmnist "Fashion-MNIST is not installed: no training curves in the page"
fi

# ---- errors ------------------------------------------------------------
expect_rc 2 "FILE: missing" -o "$tmp/x.html"
expect_rc 2 "--frobnicate: unknown option" --frobnicate "$tmp/main.json"
expect_rc 2 "-o: missing its value" "$tmp/main.json" -o
expect_rc 2 "-o $tmp/no/such/dir/x.html: folder $tmp/no/such/dir does not exist" "$tmp/main.json" -o "$tmp/no/such/dir/x.html"
expect_rc 1 "$tmp/missing.json" "$tmp/missing.json" -o "$tmp/x.html"
head -c 300 "$tmp/main.json" > "$tmp/cut.json"
expect_rc 1 "$tmp/cut.json: not valid JSON" "$tmp/cut.json" -o "$tmp/x.html"
if [ -s "$tmp/train.jsonl" ]; then
  { cat "$tmp/train.jsonl"; echo '{"epoch": 2, "train_loss": nan}'; } > "$tmp/bad.jsonl"
  expect_rc 1 "$tmp/bad.jsonl:2: not a training log line" "$tmp/bad.jsonl" -o "$tmp/x.html"
fi
head -c 400 "$tmp/plan.json" > "$tmp/cut-plan.json"
expect_rc 1 "$tmp/cut-plan.json: not valid JSON" "$tmp/cut-plan.json" -o "$tmp/x.html"
echo '{"schema": "hwadapt.plan/1", "devices": []}' > "$tmp/bad-plan.json"
expect_rc 1 "$tmp/bad-plan.json: a plan without" "$tmp/bad-plan.json" -o "$tmp/x.html"
echo '{"hwadapt": "tune", "version": 1, "tune": {}}' > "$tmp/bad-tune.json"
expect_rc 1 "$tmp/bad-tune.json: a tune result without" "$tmp/bad-tune.json" -o "$tmp/x.html"
echo '{"hello": 1}' > "$tmp/other.json"
expect_rc 1 "$tmp/other.json: JSON, but neither a bench report" "$tmp/other.json" -o "$tmp/x.html"
[ ! -e "$tmp/x.html" ] || fail "a failed report left $tmp/x.html"
out=$("$cli" report --help)
contains "$out" "default hwadapt-report.html"

# ---- the page ----------------------------------------------------------
out=$("$cli" report "${inputs[@]}" "$tmp/main.json" --title 'All <inputs> & "more"' -o "$tmp/report.html" 2>&1) ||
  fail "hwadapt report: $out"
contains "$out" "report       $tmp/report.html"
page=$(cat "$tmp/report.html")
contains "$page" "<title>All &lt;inputs&gt; &amp; &quot;more&quot;</title>"
contains "$page" "Content-Security-Policy"
contains "$page" "read once"
if grep -qi '<script\|src="http\|href="http' "$tmp/report.html"; then fail "the page has a script or an outside link"; fi
for want in "Roofline of cpu" "Latency of linear1000" "Throughput of linear1000, per repetition" \
  "linear1000: throughput vs batch size" "linear1000: p50 latency vs threads" "Recommendations" \
  "Placement plan: $tmp/plan.json" "Estimated time per run, per device" "Memory per device: needed against" \
  "Where each node runs" "Predicted against measured time per run, per placement" "Tune result: $tmp/tune.json" \
  "Throughput per batch size" "Latency per batch size" "Planned memory per batch, against the limit" \
  "Learning-rate range test: loss per rate, per optimizer" "Optimizer trials: validation loss per rate"; do
  contains "$page" "$want"
done
[ ! -s "$tmp/train.jsonl" ] || contains "$page" "Loss per epoch"

chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || skip_for chromium "no chromium to render the page in (Debian package chromium)"
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 || true)
[ -n "$py" ] || skip_for python "no python3 to drive chromium"
"$py" "$here/report_check.py" "$chromium" "$tmp/report.html" "$build/report-screenshot.png" 1200 ||
  fail "the page in Chromium (above)"
[ -s "$build/report-screenshot.png" ] || fail "no screenshot"
"$py" "$here/report_check.py" "$chromium" "$tmp/main.html" "$tmp/main.png" 1200 || fail "main.html in Chromium (above)"
echo "ok: hwadapt report, the main job's page, Chromium's checks ($((SECONDS - t0)) s)"
finish_skips
