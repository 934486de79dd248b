#!/usr/bin/env bash
# hwadapt compress, eval and bench on compressed models, end to end on a
# small MLP trained on a subset of Fashion-MNIST: every method's stage in
# the report, the file eval reads giving the accuracy the report claims, the
# forms each layer runs in, bench on the file, and clear errors for bad input.
set -u
H=${HWA_CLI:-build/hwadapt}
FM=/usr/share/datasets/fashion-mnist
. "$(dirname "$0")/skip.bash"
[ -r "$FM/train-images-idx3-ubyte.gz" ] ||
  skip_for fmnist "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)"
export HWA_ADAPT_THREADS=0
T=$(mktemp -d /tmp/hwa_cli_compress.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
py=/usr/bin/python3
[ -x "$py" ] || py=python3

$H train --limit 3000 --test-limit 500 --hidden 64,64 --epochs 2 --seed 3 --quiet --export "$T/mlp.safetensors" \
  > /dev/null 2> "$T/err" || { echo "FAIL training the model: $(cat "$T/err")"; exit 1; }
SMALL=(--limit 3000 --test-limit 500 --val 500 --retrain-epochs 1 --batch-sizes 1,16 --reps 2)

# ---- prune, share, huffman: one stage each, smaller at every step, and the
# file eval reads gives the accuracy of the report's last stage
$H compress "$T/mlp.safetensors" "${SMALL[@]}" --method prune,share,huffman --sparsity 0.8 --bits 4 --json \
  -o "$T/dc.hwac" > "$T/dc.json" 2> "$T/err"
rc=$?
$H eval "$T/dc.hwac" --test-limit 500 --json > "$T/eval.json" 2>> "$T/err"
rc2=$?
if [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && $py - "$T/dc.json" "$T/eval.json" <<'PY'
import json, sys
r, e = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
st = [s for s in r["stages"] if not s["stage"].endswith(" as dense")]
names = [s["stage"] for s in st]
assert names == ["f32", "prune", "+share", "+huffman"], names
b = [s["bytes"] for s in st]
assert b[0] > b[1] > b[2] > b[3], b
assert abs(e["accuracy"] - st[-1]["test_accuracy"]) < 1e-12, (e["accuracy"], st[-1]["test_accuracy"])
assert st[-1]["test_accuracy"] > 0.5, st[-1]
dense = [s for s in r["stages"] if s["stage"].endswith(" as dense")]
assert dense and all(l["forms"] == "dense,dense,dense" for s in dense for l in s["latency"]), dense
assert all(len(s["latency"]) == 2 and s["latency"][0]["median_ms"] > 0 for s in r["stages"])
PY
then ok "prune,share,huffman: four stages, each smaller; eval gives the report's accuracy"
else bad "prune,share,huffman: exit $rc/$rc2: $(cat "$T/dc.json" "$T/eval.json" "$T/err")"; fi

# ---- the forms: a forced dense run gives the same accuracy as the chosen
# forms (the sparse product computes the same function)
$H eval "$T/dc.hwac" --test-limit 500 --form dense --json > "$T/dense.json" 2> "$T/err"
if [ $? -eq 0 ] && $py - "$T/eval.json" "$T/dense.json" <<'PY'
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert abs(a["accuracy"] - b["accuracy"]) <= 1 / 500, (a["accuracy"], b["accuracy"])
assert [l["form"] for l in b["layers"]] == ["dense"] * 3
PY
then ok "eval --form dense agrees with the chosen forms"
else bad "eval --form dense: $(cat "$T/dense.json" "$T/err")"; fi
$H eval "$T/dc.hwac" --test-limit 100 --form int8 > "$T/out" 2> "$T/err"
if [ $? -ne 0 ] && grep -q "not int8" "$T/err"; then ok "eval --form int8 on a model without int8 layers: an error"
else bad "eval --form int8: $(cat "$T/out" "$T/err")"; fi

# ---- int8 with the gate, and neurons
$H compress "$T/mlp.safetensors" "${SMALL[@]}" --method int8 --calib-method percentile --max-drop 0.01 --json \
  -o "$T/q.hwac" > "$T/q.json" 2> "$T/err"
if [ $? -eq 0 ] && $py - "$T/q.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
q = r["stages"][-1]
assert q["stage"] == "int8" and "int8" in q, q
assert q["int8"]["val_float"] - q["int8"]["val_int8"] <= 0.01 + 1e-12, q["int8"]
assert q["bytes"] * 3 < r["stages"][0]["bytes"], (q["bytes"], r["stages"][0]["bytes"])
PY
then ok "int8 with --max-drop 0.01: within the drop, under a third of the size"
else bad "int8: $(cat "$T/q.json" "$T/err")"; fi
$H compress "$T/mlp.safetensors" "${SMALL[@]}" --method neurons --keep 0.5 --no-latency -o "$T/n.hwac" \
  > "$T/n.out" 2> "$T/err"
if [ $? -eq 0 ] && $H inspect "$T/n.hwac" > "$T/inspect" 2>&1 && grep -qF "[32,784]" "$T/inspect" && grep -qF "[32,32]" "$T/inspect"; then
  ok "neurons --keep 0.5: a model of 32-unit hidden layers"
else bad "neurons: $(cat "$T/n.out" "$T/err" "$T/inspect")"; fi

# ---- bench runs the file like a workload, one row per batch
$H bench "$T/dc.hwac" --batch 1,8 --reps 1 --min-time 0.05 --no-calibrate --json > "$T/bench.json" 2> "$T/err"
if [ $? -eq 0 ] && $py - "$T/bench.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rows = r["results"]
assert len(rows) == 2, rows
assert all("compressed model" in (row.get("note") or "") and not row["skipped"] for row in rows), rows
PY
then ok "bench on a compressed file: a row per batch, the forms noted"
else bad "bench: $(head -c 2000 "$T/bench.json"; cat "$T/err")"; fi

# ---- bad input: clear errors, nothing written
$H compress "$T/mlp.safetensors" --method prune,zip -o "$T/x.hwac" > /dev/null 2> "$T/err"
if [ $? -eq 2 ] && grep -q "zip" "$T/err" && [ ! -e "$T/x.hwac" ]; then ok "unknown method: usage error"
else bad "unknown method: $(cat "$T/err")"; fi
$H compress "$T/mlp.safetensors" --method prune -o "$T/no/such/dir/x.hwac" > /dev/null 2> "$T/err"
if [ $? -eq 2 ] && grep -q "no/such/dir" "$T/err"; then ok "output folder checked before any work"
else bad "output folder: $(cat "$T/err")"; fi
head -c 100 "$T/dc.hwac" > "$T/trunc.hwac"
$H eval "$T/trunc.hwac" --test-limit 10 > /dev/null 2> "$T/err"
if [ $? -eq 1 ] && [ -s "$T/err" ]; then ok "a truncated file: $(head -1 "$T/err")"
else bad "truncated file: $(cat "$T/err")"; fi
$H compress "$T/mlp.safetensors" --method prune --sparsity 1.5 -o "$T/x.hwac" > /dev/null 2> "$T/err"
if [ $? -eq 2 ] && grep -q "sparsity" "$T/err"; then ok "--sparsity out of range: usage error"
else bad "--sparsity 1.5: $(cat "$T/err")"; fi

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
