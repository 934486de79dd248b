#!/usr/bin/env bash
# The command-line convention of docs/cli.md, for every command: a usage
# error (unknown option, missing value, number out of range, a word not
# allowed, conflicting flags, a missing or extra argument) exits 2 with one
# line on stderr that names the option and ends "(see hwadapt CMD --help)";
# an output path that cannot be written fails with exit 2 in under a second;
# every --help exits 0, names every option the command takes and fits in
# 100 columns. No dataset, no model file: every case fails before any work.
set -u
H=${HWA_CLI:-build/hwadapt}
DOC=${HWA_SOURCE_DIR:-.}/docs/cli.md
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# usage CMD WANT ARGS...: `hwadapt ARGS` exits 2 with one stderr line that
# contains WANT and ends with the pointer to CMD's help.
usage() {
  local cmd=$1 want=$2
  shift 2
  "$H" "$@" > "$T/out" 2> "$T/err"
  local rc=$? help="(see hwadapt${cmd:+ $cmd} --help)"
  if [ $rc -eq 2 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -qF -- "$want" "$T/err" &&
     grep -qF -- "$help" "$T/err"; then
    ok "hwadapt $*: $(cat "$T/err")"
  else bad "hwadapt $*: exit $rc, expected 2 and one line with '$want' and '$help': $(cat "$T/err")"; fi
}

# ---- the main job (hwadapt with options and no command is `hwadapt run`)
usage run "--bogus: unknown option" --bogus
usage run "--bogus: unknown option" run --bogus
usage run "--budget: missing its value" --budget
usage run "--budget -3: out of range; allowed: > 0" --budget -3
usage run "--budget x: not a number; allowed: > 0" run --budget x
usage run "--tolerance -1: out of range; allowed: >= 0" --tolerance -1
usage run "--no-settings: conflicts with --settings" --settings "$T/a.conf" --no-settings
usage run "--settings: conflicts with --no-settings" run --no-settings --settings "$T/a.conf"
usage run "-o $T/b.json: given twice (first $T/a.json)" -o "$T/a.json" -o "$T/b.json"
usage run "extra: extra argument" run extra
# ---- hwadapt run MODEL.onnx (the model need not exist: the options fail first)
usage run "--input: applies to an ONNX model" run --input x=a.npy
usage run "--input x: not NAME=FILE" run m.onnx --input x
usage run "--input x=b.npy: input given twice" run m.onnx --input x=a.npy --input x=b.npy
usage run "--input: missing its value" run m.onnx --input
usage run "--bogus: unknown option" run m.onnx --bogus
usage run "extra: extra argument" run m.onnx extra
usage run "--device b: given twice (first a)" run m.onnx --device a --device b
usage "" "COMMAND nosuch: unknown command; allowed: run, bench" nosuch

# ---- bench
usage bench "--bogus: unknown option" bench --bogus
usage bench "--dtype: missing its value" bench linear1000 --dtype
usage bench "--reps 33: out of range; allowed: 1..32" bench linear1000 --reps 33
usage bench "-r x: not an integer; allowed: 1..32" bench linear1000 -r x
usage bench "--rate 0: out of range; allowed: > 0" bench linear1000 --rate 0
usage bench "--min-time -2: out of range; allowed: >= 0" bench --min-time -2
usage bench "--sequences 257: out of range; allowed: 1..256" bench m.gguf --sequences 257
usage bench "--csv: conflicts with --json" bench --json --csv
usage bench "--json: conflicts with --md" bench --md --json
usage bench "mlp1000: extra argument after linear1000" bench linear1000 mlp1000
usage bench "--wide: conflicts with --csv" bench --csv --wide

# ---- probe
usage probe "--bogus: unknown option" probe --bogus
usage probe "--energy-read: missing its value" probe --energy-read
usage probe "--energy-read -1: out of range; allowed: (0, 86400]" probe --energy-read -1
usage probe "--energy-read x: not a number" probe --energy-read x
usage probe "--no-calibrate: conflicts with --recalibrate" probe --recalibrate --no-calibrate
usage probe "--recalibrate: conflicts with --energy-read" probe --energy-read 1 --recalibrate
usage probe "extra: extra argument" probe extra
usage probe "--list: conflicts with --json" probe --json --list
usage probe "--list: conflicts with --recalibrate" probe --recalibrate --list

# ---- report
usage report "--bogus: unknown option" report --bogus
usage report "-o: missing its value" report a.json -o
usage report "--title: missing its value" report a.json --title
usage report "FILE: missing" report -o "$T/x.html"
usage report "-o $T/b.html: given twice" report a.json -o "$T/a.html" -o "$T/b.html"

# ---- inspect
usage inspect "--bogus: unknown option" inspect --bogus x
usage inspect "--format: missing its value; allowed: safetensors, gguf" inspect x --format
usage inspect "--format zip: unknown format; allowed: safetensors, gguf, llama2c" inspect x --format zip
usage inspect "FILE: missing" inspect
usage inspect "b: extra argument after a" inspect a b

# ---- generate
usage generate "--bogus: unknown option" generate m --bogus 1
usage generate "--steps: missing its value" generate m --steps
usage generate "--steps ten: not an integer; allowed: 1..2147483647" generate m --steps ten
usage generate "--top-p 2: out of range; allowed: (0, 1]" generate m --top-p 2
usage generate "--temperature -1: out of range; allowed: >= 0" generate m --temperature -1
usage generate "--threads 0: out of range; allowed: 1..4096" generate m --threads 0
usage generate "--dtype i32: not one of the allowed values; allowed: f32, f16, bf16, q8_0" generate m --dtype i32
usage generate "--devices cpu: without --device auto" generate m --devices cpu
usage generate "--tokenizer b: given twice (first a)" generate m --tokenizer a --tokenizer b
usage generate "MODEL: missing" generate --steps 3
usage generate "n: extra argument after m" generate m n

# ---- quantize
usage quantize "--bogus: unknown option" quantize a b --type q8_0 --bogus
usage quantize "--type: missing its value; allowed: q8_0" quantize a b --type
usage quantize "--type q9_9: not one of the allowed values; allowed: q8_0, q4_0" quantize a b --type q9_9
usage quantize "--type q4_0: given twice (first q8_0)" quantize a b --type q8_0 --type q4_0
usage quantize "IN: missing" quantize --type q8_0
usage quantize "OUT.gguf: missing" quantize a --type q8_0
usage quantize "--type: missing; allowed: q8_0" quantize a b
usage quantize "c: extra argument" quantize a b c --type q8_0

# ---- imatrix
usage imatrix "--bogus: unknown option" imatrix m --text t -o o --bogus
usage imatrix "--ctx 0: out of range; allowed: 1..1048576" imatrix m --text t -o o --ctx 0
usage imatrix "--output b: given twice (first a)" imatrix m --text t -o a --output b
usage imatrix "--output: missing" imatrix m --text t
usage imatrix "--text: missing" imatrix m -o o
usage imatrix "MODEL: missing" imatrix --text t -o o
usage imatrix "--dtype q2: not one of the allowed values; allowed: f32" imatrix m --text t -o o --dtype q2
usage quantize "--imatrix: missing its value" quantize a b --type q8_0 --imatrix
usage quantize "--imatrix b: given twice (first a)" quantize a b --type q8_0 --imatrix a --imatrix b
usage quantize "--tokenizer: missing its value" quantize a b --type q8_0 --tokenizer

# ---- perplexity
usage perplexity "--bogus: unknown option" perplexity m --text t --bogus
usage perplexity "--ctx: missing its value" perplexity m --text t --ctx
usage perplexity "--ctx 2: out of range; allowed: 4..1048576" perplexity m --text t --ctx 2
usage perplexity "--chunks 0: out of range" perplexity m --text t --chunks 0
usage perplexity "--ref-dtype q2: not one of the allowed values; allowed: f32" perplexity m --text t --ref-dtype q2
usage perplexity "--text b: given twice (first a)" perplexity m --text a --text b
usage perplexity "--text: missing" perplexity m
usage perplexity "MODEL: missing" perplexity --text t
usage perplexity "n: extra argument after m" perplexity m n --text t

# ---- plan
usage plan "--bogus: unknown option" plan linear1000 --bogus
usage plan "--batch: missing its value" plan linear1000 --batch
usage plan "--batch 0: out of range" plan linear1000 --batch 0
usage plan "--split 2: out of range; allowed: (0, 1)" plan linear1000 --mode layers --split 2
usage plan "--reps 51: out of range; allowed: 1..50" plan linear1000 --measure --reps 51
usage plan "--dtype f8: unknown dtype; allowed: f32, f16, bf16" plan linear1000 --dtype f8
usage plan "--reps 3: without --measure" plan linear1000 --reps 3
usage plan "--split 0.5: without --mode layers" plan linear1000 --split 0.5
usage plan "WORKLOAD: missing" plan --json
usage plan "mlp1000: extra argument after linear1000" plan linear1000 mlp1000

# ---- train (no dataset needed: every case fails before it is read)
usage train "--bogus: unknown option" train --bogus
usage train "--epochs: missing its value" train --epochs
usage train "--epochs 0: not an integer in range; allowed: an integer >= 1" train --epochs 0
usage train "--lr -1: the learning rate is out of range; allowed: > 0" train --lr -1
usage train "--split 1: out of range; allowed: (0, 1)" train --split 1
usage train "--model resnet: unknown model; allowed: fmnist-mlp" train --model resnet
usage train "--rank-devices: conflicts with --device" train --rank-devices cpu --device cpu
usage train "--export $T/b: given twice" train --export "$T/a" --export "$T/b"
usage train "extra: extra argument" train extra

# ---- compress
usage compress "--bogus: unknown option" compress m --method prune -o x --bogus
usage compress "--method: missing; allowed: prune, share" compress m -o x
usage compress "-o: missing" compress m --method prune
usage compress "--method zip: not one of the allowed values; allowed: prune, share, huffman, int8, neurons" \
  compress m --method prune,zip -o x
usage compress "--sparsity 1: out of range; allowed: [0, 1)" compress m --method prune --sparsity 1 -o x
usage compress "--bits 9: out of range" compress m --method share --bits 5,9 -o x
usage compress "--layer-sparsity: conflicts with --sparsity" compress m --method prune --sparsity 0.5 \
  --layer-sparsity 0.9,0.8 -o x
usage compress "--calib-method kl: not one of the allowed values" compress m --method int8 --calib-method kl -o x
usage compress "--keep 0: out of range; allowed: (0, 1]" compress m --method neurons --keep 0 -o x
usage compress "MODEL: missing" compress --method prune -o x

# ---- eval
usage eval "--bogus: unknown option" eval m --bogus
usage eval "--form sparce: not one of the allowed values; allowed: auto, dense, sparse, int8" eval m --form sparce
usage eval "--test-limit -1: out of range" eval m --test-limit -1
usage eval "MODEL: missing" eval --form dense
usage eval "b: extra argument" eval a b

# ---- tune
usage tune "--bogus: unknown option" tune --bogus
usage tune "--budget: missing its value" tune mlp1000 --budget
usage tune "--budget 0: not a budget; allowed: seconds > 0" tune mlp1000 --budget 0
usage tune "--margin 0.95: out of range; allowed: [0, 0.9]" tune mlp1000 --margin 0.95
usage tune "--model resnet: not one of the allowed values; allowed: fmnist-mlp" tune --model resnet
usage tune "--model fmnist-mlp: conflicts with WORKLOAD mlp1000" tune mlp1000 --model fmnist-mlp
usage tune "--measure: conflicts with --optimizers" tune --measure 8 --optimizers adam
usage tune "mlp1000: extra argument after linear1000" tune linear1000 mlp1000

# ---- output paths: exit 2 in under a second, before any work
# fast CMD ARGS...: exit 2 within 1 s, and the message names the path.
fast() {
  local t0 t1 rc want=$1
  shift
  t0=$(date +%s.%N)
  "$H" "$@" > /dev/null 2> "$T/err"
  rc=$?
  t1=$(date +%s.%N)
  local ms
  ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
  if [ $rc -eq 2 ] && [ "$ms" -lt 1000 ] && grep -qF -- "$want" "$T/err"; then ok "hwadapt $*: exit 2 in $ms ms"
  else bad "hwadapt $*: exit $rc in $ms ms, expected 2 in under 1000 ms naming '$want': $(cat "$T/err")"; fi
}
touch "$T/a-file"
fast "-o /nonexistent/x.json: folder /nonexistent does not exist" --budget 15 -o /nonexistent/x.json
fast "-o /nonexistent/x.json: folder /nonexistent does not exist" run -o /nonexistent/x.json
fast "--settings /nonexistent/x.conf: folder /nonexistent does not exist" run --settings /nonexistent/x.conf
fast "-o $T: is a folder" run -o "$T"
fast "-o /nonexistent/x.json: folder /nonexistent does not exist" bench linear1000 -o /nonexistent/x.json
fast "-o /nonexistent/x.json: folder /nonexistent does not exist" plan linear1000 -o /nonexistent/x.json
fast "-o /nonexistent/x.json: folder /nonexistent does not exist" tune mlp1000 -o /nonexistent/x.json
fast "-o /nonexistent/x.html: folder /nonexistent does not exist" report "$T/in.json" -o /nonexistent/x.html
fast "OUT.gguf /nonexistent/x.gguf: folder /nonexistent does not exist" quantize "$T/in.gguf" /nonexistent/x.gguf --type q8_0
fast "-o /nonexistent/x.hwac: folder /nonexistent does not exist" compress m --method int8 -o /nonexistent/x.hwac
fast "--output /nonexistent/x.gguf: folder /nonexistent does not exist" imatrix m --text t -o /nonexistent/x.gguf
fast "--export /nonexistent/w.safetensors: folder /nonexistent does not exist" \
  train --data "$T/none" --export /nonexistent/w.safetensors
fast "--checkpoint-dir $T/a-file: not a folder" train --data "$T/none" --checkpoint-dir "$T/a-file"
fast "--export $T/a-file/w.safetensors: folder $T/a-file is not a folder" \
  train --data "$T/none" --export "$T/a-file/w.safetensors"

# ---- an input that is not there is a runtime failure: exit 1, not 2
for args in "inspect $T/missing" "eval $T/missing" "quantize $T/missing.gguf $T/out.gguf --type q8_0" "perplexity m --text $T/missing" \
  "imatrix m --text $T/missing -o $T/o.gguf" "quantize $T/a-file $T/out.gguf --type q8_0 --tokenizer $T/missing" \
  "quantize $T/a-file $T/out.gguf --type q8_0 --imatrix $T/missing"; do
  # shellcheck disable=SC2086
  "$H" $args > /dev/null 2> "$T/err"
  rc=$?
  if [ $rc -eq 1 ] && grep -qF "$T/missing" "$T/err"; then ok "hwadapt $args: exit 1: $(cat "$T/err")"
  else bad "hwadapt $args: exit $rc, expected 1 naming the file: $(cat "$T/err")"; fi
done

# ---- --help: exit 0, every option named, at most 100 columns
# help_names CMD OPTION...: `hwadapt CMD --help` names each OPTION at the
# start of a line of the two-column list ("  --opt", "  -o").
help_names() {
  local cmd=$1 o missing=""
  shift
  "$H" $cmd --help > "$T/help" 2> "$T/err"
  local rc=$?
  [ $rc -eq 0 ] || { bad "hwadapt $cmd --help: exit $rc"; return; }
  for o in "$@"; do
    grep -qE -- "^  (-[a-z], )?$o( |$)" "$T/help" || missing="$missing $o"
  done
  # docs/cli.md's reference section for the command names each one too
  sed -n "/^### hwadapt $cmd\$/,/^### /p" "$DOC" > "$T/doc"
  for o in "$@"; do
    grep -qE -- "^  (-[a-z], )?$o( |$)" "$T/doc" || missing="$missing $o(docs/cli.md)"
  done
  local wide
  wide=$(LC_ALL=C.UTF-8 awk 'length($0) > 100 { print NR ": " length($0) }' "$T/help")
  if [ -z "$missing" ] && [ -z "$wide" ]; then ok "hwadapt $cmd --help: $# options, each on its own line, within 100 columns"
  else bad "hwadapt $cmd --help: not listed:${missing:- none}; lines over 100 columns: ${wide:-none}"; fi
}
help_names run --budget --workloads --tolerance --devices -o --settings --no-settings --wide --quiet --profile \
  --input --output-dir --device
help_names bench --device --devices --fallback --place --dtype --batch --sequences --optimizer --threads \
  --scenario --rate \
  --p99-ms --find-peak --reps --min-time --min-queries --max-time --warmup --seed --no-calibrate --config --json \
  --csv --md --wide --quiet --profile -o
help_names probe --json --list --recalibrate --no-calibrate --energy-read
help_names report -o --title
help_names inspect --json --format
help_names generate --tokenizer --prompt --temperature --top-p --top-k --seed --steps --ctx --threads --dtype \
  --device --devices --config
help_names quantize --type --keep-output-f16 --override --imatrix --tokenizer
help_names imatrix --text --output --ctx --chunks --tokenizer --dtype --threads
help_names perplexity --text --ctx --chunks --tokenizer --dtype --reference --ref-dtype --threads --json
help_names plan --devices --batch --dtype --mode --split --json -o --brief --measure --reps --no-calibrate
help_names train --hidden --activation --data --limit --test-limit --val-fraction --device --devices --mode --split \
  --fallback --dtype --threads --config --epochs --batch --drop-last --seed --optimizer --lr --momentum --beta1 \
  --beta2 --eps --weight-decay --clip --schedule --step-epochs --gamma --warmup-steps --min-lr --pct-start \
  --checkpoint-dir --keep --resume --export --json --quiet --profile --rank-devices --shards --bucket-mb \
  --dist-timeout
help_names compress --method -o --data --limit --test-limit --val --sparsity --layer-sparsity --global --rounds \
  --bits --keep --retrain-epochs --lr --batch --seed --calib-method --calib --percentile --max-drop --device \
  --batch-sizes --reps --no-latency --threads --json
help_names eval --data --test-limit --device --form --threads --json
help_names tune --model --device --budget --inference --p99-ms --memory --margin --max-batch --measure --optimizers \
  --threads --data --val-fraction --seed -o --json --quiet
"$H" --help > "$T/help" && [ -z "$(LC_ALL=C.UTF-8 awk 'length($0) > 100' "$T/help")" ] &&
  ok "hwadapt --help within 100 columns" || bad "hwadapt --help: exit or width"

# An option a command accepts but its list above lacks: every "  --opt" the
# help names is accepted (not "unknown option").
for cmd in run bench probe inspect generate quantize imatrix perplexity plan train tune report eval compress; do
  for o in $("$H" $cmd --help | grep -oE '^  (-[a-z], )?--?[a-z0-9-]+' | sed 's/.*, //; s/^ *//'); do
    "$H" $cmd "$o" x --bogus-after > /dev/null 2> "$T/err"
    if grep -qF -- "$o: unknown option" "$T/err"; then bad "hwadapt $cmd --help lists $o, which it refuses"; fi
  done
done
ok "every option a --help lists is one its command accepts"

echo "$fails failed"
[ $fails -eq 0 ]
