#!/usr/bin/env bash
# --config FILE on bench, train and generate: the file's settings apply (the
# most specific section first), a flag on the command line wins wherever it
# stands, and a bad file fails with exit 2 and a message naming file:line.
# The JSON form (what hwadapt tune writes) likewise, with train's own keys
# (optimizer, lr, epochs, ...) reaching train and no other command.
set -u
H=${HWA_CLI:?}
data=${HWA_DATA_DIR:-../shared/data}
. "$(dirname "$0")/skip.bash"
T=$(mktemp -d /tmp/hwa_cli_config.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
# Short rows: the test checks what ran, not how fast.
QUICK=(--min-time 0.05 --min-queries 3 --warmup 0 --no-calibrate --json)

cat > "$T/cfg.ini" <<'EOF'
# what the main job would write
[all]
threads = 1

[bench linear1000]
dtype = bf16

[train]
dtype = bf16

[generate]
threads = 1
EOF

# The JSON report's rows as "workload dtype threads" lines.
rows() { grep -o '"workload": "[^"]*", "device": "[^"]*", "dtype": "[^"]*", "batch": [0-9]*, "threads": [0-9]*' "$1" |
  sed 's/"workload": "\([^"]*\)".*"dtype": "\([^"]*\)".*"threads": \([0-9]*\)/\1 \2 \3/'; }

# ---- bench: [bench linear1000] then [all]
$H bench linear1000 --config "$T/cfg.ini" "${QUICK[@]}" > "$T/b1.json" 2> "$T/err"; rc=$?
if [ $rc -eq 0 ] && [ "$(rows "$T/b1.json")" = "linear1000 bf16 1" ]; then ok "bench: bf16 from [bench linear1000], 1 thread from [all]"
else bad "bench --config: exit $rc: $(rows "$T/b1.json") $(cat "$T/err")"; fi
$H bench linear1000 --config "$T/cfg.ini" --dtype f32 "${QUICK[@]}" > "$T/b2.json" 2> "$T/err"; rc=$?
if [ $rc -eq 0 ] && [ "$(rows "$T/b2.json")" = "linear1000 f32 1" ]; then ok "bench: --dtype f32 after --config wins"
else bad "bench --dtype f32 after: exit $rc: $(rows "$T/b2.json") $(cat "$T/err")"; fi
$H bench linear1000 --dtype f32 --config "$T/cfg.ini" "${QUICK[@]}" > "$T/b3.json" 2> "$T/err"; rc=$?
if [ $rc -eq 0 ] && [ "$(rows "$T/b3.json")" = "linear1000 f32 1" ]; then ok "bench: --dtype f32 before --config wins too"
else bad "bench --dtype f32 before: exit $rc: $(rows "$T/b3.json") $(cat "$T/err")"; fi
# Two workloads whose sections differ: each runs with its own.
$H bench linear1000,mlp1000 --config "$T/cfg.ini" "${QUICK[@]}" > "$T/b4.json" 2> "$T/err"; rc=$?
if [ $rc -eq 0 ] && [ "$(rows "$T/b4.json" | tr '\n' ';')" = "linear1000 bf16 1;mlp1000 f32 1;" ]; then
  ok "bench: two workloads, each with its own section's settings"
else bad "bench two workloads: exit $rc: $(rows "$T/b4.json") $(cat "$T/err")"; fi

# ---- generate: [generate] threads = 1, reported on stderr
s=$data/stories260K
if [ -e "$s/stories260K.bin" ]; then
  $H generate "$s/stories260K.bin" --tokenizer "$s/tok512.bin" --config "$T/cfg.ini" --temperature 0 --steps 8 \
    > "$T/g.out" 2> "$T/g.err"; rc=$?
  if [ $rc -eq 0 ] && grep -q "f32 weights, threads 1$" "$T/g.err"; then ok "generate: 1 thread from [generate]"
  else bad "generate --config: exit $rc: $(cat "$T/g.err")"; fi
  printf '[all]\ndtype = f16\n' > "$T/f16.ini"
  $H generate "$s/stories260K.bin" --tokenizer "$s/tok512.bin" --config "$T/f16.ini" --threads 2 --temperature 0 \
    --steps 8 > "$T/g.out" 2> "$T/g.err"; rc=$?
  if [ $rc -eq 0 ] && grep -q "f16 weights (f32 in the file), threads 2$" "$T/g.err"; then
    ok "generate: dtype from [all], --threads on the command line"
  else bad "generate --config f16: exit $rc: $(cat "$T/g.err")"; fi
else
  skip_part data "generate: $s/stories260K.bin is absent (HWA_DATA_DIR, ../shared/data)"
fi

# ---- the JSON form: bench takes its keys, and none of train's own
cat > "$T/tuned.json" <<'EOF'
{"hwadapt": "tune", "version": 1,
 "tune": {"batch": [{"batch": 32, "samples_per_s": 1000.5}]},
 "all": {"threads": 1},
 "bench linear1000": {"dtype": "bf16"},
 "train": {"batch": 32, "optimizer": "sgd", "lr": 0.05, "schedule": "constant", "epochs": 2, "momentum": 0.5,
           "weight_decay": 0, "step_epochs": 1, "gamma": 0.5}}
EOF
$H bench linear1000 --config "$T/tuned.json" "${QUICK[@]}" > "$T/bj.json" 2> "$T/err"; rc=$?
if [ $rc -eq 0 ] && [ "$(rows "$T/bj.json")" = "linear1000 bf16 1" ]; then
  ok "bench: a JSON file's sections apply; train's keys stay in train"
else bad "bench --config tuned.json: exit $rc: $(rows "$T/bj.json") $(cat "$T/err")"; fi

# ---- an ill-typed JSON value: exit 2, the file and the JSON path named
printf '{"train": {"lr": "fast"}}\n' > "$T/typed.json"
for cmd in train "bench linear1000"; do
  $H $cmd --config "$T/typed.json" > /dev/null 2> "$T/err"; rc=$?
  if [ $rc -eq 2 ] &&
     grep -q "^hwadapt ${cmd%% *}: --config: $T/typed.json: train.lr: expected a number > 0, got \"fast\"$" "$T/err"; then
    ok "${cmd%% *}: an ill-typed JSON value fails with exit 2 naming file: train.lr"
  else bad "${cmd%% *} with an ill-typed JSON value: exit $rc: $(cat "$T/err")"; fi
done
printf '{"train": {"epochs": 2.5}}\n' > "$T/typed.json"
$H train --config "$T/typed.json" > /dev/null 2> "$T/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "train.epochs: expected a whole number from 1 to 1000000, got 2.5" "$T/err"; then
  ok "train: a fraction for a whole-number key fails with exit 2"
else bad "train epochs 2.5 in JSON: exit $rc: $(cat "$T/err")"; fi
printf '{"train": {"lr": 0.1,\n  "lr": 0.2}}\n' > "$T/dup.json"
$H train --config "$T/dup.json" > /dev/null 2> "$T/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "$T/dup.json:2:6: duplicate object key" "$T/err"; then ok "train: a JSON syntax error names line:column"
else bad "train duplicate JSON key: exit $rc: $(cat "$T/err")"; fi

# ---- a file's value and the flag's agree: both taken or both refused. The
# data folder does not exist, so a run that takes them stops there (exit 1).
for kv in "epochs 1" "epochs 0" "optimizer Nesterov" "optimizer rmsprop" "lr 1e-3" "lr 0" "lr 1e300" "lr 1e-400" \
          "momentum 0" "momentum 0.999" "momentum 1" "momentum 0.99999999999" "weight_decay 0" "weight_decay 1e30" \
          "weight_decay -1" "weight_decay 1e39" "schedule onecycle" "schedule linear" "step_epochs 5" \
          "step_epochs 0" "gamma 2" "gamma 0"; do
  set -- $kv
  printf '[train]\n%s = %s\n' "$1" "$2" > "$T/one.ini"
  $H train --data "$T/none" --config "$T/one.ini" > /dev/null 2> "$T/err.file"; rf=$?
  $H train --data "$T/none" "--${1//_/-}" "$2" > /dev/null 2> "$T/err.flag"; rg=$?
  if [ $rf = $rg ] && { [ $rf = 1 ] || [ $rf = 2 ]; }; then ok "$1 $2: file and flag agree (exit $rf)"
  else bad "$1 $2: the file gives exit $rf ($(cat "$T/err.file")), the flag $rg ($(cat "$T/err.flag"))"; fi
done

# ---- train: [train] dtype = bf16 in the JSON
if [ -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  SMALL=(--limit 128 --test-limit 64 --hidden 8 --batch 32 --seed 3 --quiet --epochs 1 --json)
  $H train --config "$T/cfg.ini" "${SMALL[@]}" > "$T/t.json" 2> "$T/err"; rc=$?
  if [ $rc -eq 0 ] && grep -q '"dtype":"bf16","threads":1[,}]' "$T/t.json"; then ok "train: bf16 from [train], 1 thread from [all]"
  else bad "train --config: exit $rc: $(cat "$T/t.json" "$T/err")"; fi
  $H train "${SMALL[@]}" --threads 2 --config "$T/cfg.ini" --dtype f32 > "$T/t.json" 2> "$T/err"; rc=$?
  if [ $rc -eq 0 ] && grep -q '"dtype":"f32","threads":2[,}]' "$T/t.json"; then ok "train: flags win over the file"
  else bad "train flags over --config: exit $rc: $(cat "$T/t.json" "$T/err")"; fi
  printf '[train]\nbatch = 100000\n' > "$T/big.ini"
  $H train --limit 128 --test-limit 64 --hidden 8 --quiet --drop-last --config "$T/big.ini" > /dev/null 2> "$T/err"; rc=$?
  if [ $rc -ne 0 ] && grep -q "batch 100000 exceeds the 128 training samples" "$T/err"; then
    ok "train: the file's batch reaches the trainer"
  else bad "train batch from --config: exit $rc: $(cat "$T/err")"; fi
  printf '[train]\noptimizer = SGD\nepochs = 2\nlr = 0.05\nschedule = constant\n' > "$T/hyper.ini"
  $H train --config "$T/hyper.ini" --limit 128 --test-limit 64 --hidden 8 --quiet > "$T/h.out" 2> "$T/err"; rc=$?
  if [ $rc -eq 0 ] && grep -q "^  threads [0-9]*, optimizer sgd, batch 64, 128 training samples$" "$T/h.out" &&
     [ "$(grep -c '^epoch [12]/2 ' "$T/h.out")" -eq 2 ]; then ok "train: optimizer and epochs from [train]"
  else bad "train hyper-parameters from --config: exit $rc: $(cat "$T/h.out" "$T/err")"; fi
  # The JSON file's [train]: sgd, batch 32, 2 epochs at a constant 0.05.
  TINY=(--limit 256 --test-limit 256 --hidden 8 --quiet)
  $H train --config "$T/tuned.json" "${TINY[@]}" > "$T/tj.out" 2> "$T/err"; rc=$?
  if [ $rc -eq 0 ] && grep -q "^  threads 1, optimizer sgd, batch 32, 256 training samples$" "$T/tj.out" &&
     [ "$(grep -c '^epoch [12]/2 ' "$T/tj.out")" -eq 2 ]; then
    ok "train: optimizer, batch and epochs from a JSON file"
  else bad "train --config tuned.json: exit $rc: $(cat "$T/tj.out" "$T/err")"; fi
  $H train --config "$T/tuned.json" "${TINY[@]}" --json > "$T/tj.json" 2> "$T/err"; rc=$?
  if [ $rc -eq 0 ] && [ "$(grep -c '"lr":0.05,' "$T/tj.json")" -eq 2 ]; then ok "train: lr and schedule from a JSON file"
  else bad "train --config tuned.json --json: exit $rc: $(cat "$T/tj.json" "$T/err")"; fi
  $H train --epochs 1 --optimizer adam --config "$T/tuned.json" "${TINY[@]}" --batch 64 > "$T/tj.out" 2> "$T/err"; rc=$?
  if [ $rc -eq 0 ] && grep -q "optimizer adam, batch 64, 256 training samples$" "$T/tj.out" &&
     [ "$(grep -c '^epoch 1/1 ' "$T/tj.out")" -eq 1 ]; then ok "train: flags win over a JSON file"
  else bad "train flags over tuned.json: exit $rc: $(cat "$T/tj.out" "$T/err")"; fi
  $H train --config "$T/tuned.json" "${TINY[@]}" --json --lr 0.02 > "$T/tj.json" 2> "$T/err"; rc=$?
  if [ $rc -eq 0 ] && [ "$(grep -c '"lr":0.02,' "$T/tj.json")" -eq 2 ]; then ok "train: --lr wins over the file's lr"
  else bad "train --lr over tuned.json: exit $rc: $(cat "$T/tj.json" "$T/err")"; fi
  # What the trainer refuses names the JSON path of the values that came from the file.
  printf '{"train": {"lr": 0.001, "schedule": "cosine"}}\n' > "$T/cos.json"
  $H train --config "$T/cos.json" "${TINY[@]}" --min-lr 0.5 > /dev/null 2> "$T/err"; rc=$?
  if [ $rc -ne 0 ] &&
     grep -q "min lr 0.5 must be in \[0, lr\].*--lr 0.001 at $T/cos.json:train.lr, --schedule cosine at $T/cos.json:train.schedule" "$T/err"; then
    ok "train: a refusal names the JSON path of the file's values"
  else bad "train refusal with values from JSON: exit $rc: $(cat "$T/err")"; fi
else
  skip_part fmnist "train: Fashion-MNIST is not installed (dataset-fashion-mnist)"
fi

# ---- a bad file: exit 2, file:line named, for each command
printf '[all]\nthreads = 1\n[bench]\ncolour = blue\n' > "$T/bad.ini"
for cmd in "bench linear1000" "train" "generate $s/stories260K.bin"; do
  $H $cmd --config "$T/bad.ini" > /dev/null 2> "$T/err"; rc=$?
  if [ $rc -eq 2 ] && grep -q "$T/bad.ini:4: unknown key 'colour' in \[bench\]; known there: device, dtype, threads, batch" "$T/err"; then
    ok "${cmd%% *}: a bad file fails with exit 2 naming file:line"
  else bad "${cmd%% *} with a bad file: exit $rc: $(cat "$T/err")"; fi
done
# A value the file may hold but the command refuses: the error says where it came from.
printf '[all]\nthreads = 4096\n' > "$T/many.ini"
$H bench linear1000 --config "$T/many.ini" "${QUICK[@]}" > /dev/null 2> "$T/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "threads '4096' is not available on cpu.*(from --config: --threads 4096 at $T/many.ini:2)" "$T/err"; then
  ok "bench: a refused value from the file names file:line"
else bad "bench threads 4096 from --config: exit $rc: $(cat "$T/err")"; fi
printf '[train]\ndevice = gpu7\n' > "$T/dev.ini"
$H train --config "$T/dev.ini" > /dev/null 2> "$T/err"; rc=$?
if [ $rc -ne 0 ] && grep -q "gpu7.*(from --config: --device gpu7 at $T/dev.ini:2)" "$T/err"; then
  ok "train: an unknown device from the file is refused, naming file:line"
else bad "train device from --config: exit $rc: $(cat "$T/err")"; fi
$H train --config "$T/none.ini" > /dev/null 2> "$T/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "none.ini: No such file or directory" "$T/err"; then ok "a missing file: exit 2"
else bad "missing --config file: exit $rc: $(cat "$T/err")"; fi

echo "$fails failed"
[ $fails -eq 0 ] || exit 1
finish_skips
