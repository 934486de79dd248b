#!/usr/bin/env bash
# --device opencl:N wherever a device can be named: bench (a built-in and a
# training step, f32 within 1e-4 of the CPU's f32; --device all has a row per
# device), generate (the CPU's greedy text), train (one short epoch, the
# device reported, the CPU's loss); an index past the last device refused by
# each with the devices listed, exit 2. Skips without an OpenCL device.
set -euo pipefail
cli=${HWA_CLI:?HWA_CLI must name the built hwadapt}
data=${HWA_DATA_DIR:-../shared/data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
. "$(dirname "$0")/skip.bash"

need_opencl_device "$cli"
bad=opencl:$ndevs

# bench: f32 against the CPU's f32 (max_abs_err, CSV column 25), threads empty
"$cli" bench linear1000,fmnist-mlp-train --device "$dev" --min-time 0 --min-queries 2 -r 2 --csv >"$tmp/b.csv" ||
  fail "bench on $dev failed"
for wl in linear1000 fmnist-mlp-train; do
  line=$(grep "^$wl,$dev,f32,64,," "$tmp/b.csv") || fail "no $wl f32 row on $dev (threads empty):"$'\n'"$(cat "$tmp/b.csv")"
  err=$(cut -d, -f25 <<<"$line")
  awk -v e="$err" 'BEGIN { exit !(e != "" && e <= 1e-4) }' || fail "$wl on $dev: max abs error vs f32 '$err' > 1e-4"
  echo "ok: bench $wl on $dev, f32, max abs error vs the CPU's f32 $err"
done
grep -q "error vs f32: against the same inputs in f32 on cpu" "$tmp/b.csv" || fail "the rows do not say what the error is against"
out=$("$cli" bench linear1000 --device all --min-time 0 --min-queries 2 -r 2 --wide) || fail "bench --device all failed"
grep -qE "^linear1000 +cpu +f32 +64 +[0-9]+ " <<<"$out" || fail "--device all: no cpu row:"$'\n'"$out"
grep -qE "^linear1000 +$dev +f32 +64 +- " <<<"$out" || fail "--device all: no $dev row:"$'\n'"$out"
echo "ok: bench --device all has cpu and $dev rows"

# generate: the CPU's greedy text
s=$data/stories260K
if [ -e "$s/stories260K.bin" ] && [ -e "$s/tok512.bin" ]; then
  g=(generate "$s/stories260K.bin" --tokenizer "$s/tok512.bin" --prompt "Once upon a time" --temperature 0 --steps 24)
  "$cli" "${g[@]}" >"$tmp/cpu.txt" 2>/dev/null || fail "generate on cpu failed"
  "$cli" "${g[@]}" --device "$dev" >"$tmp/dev.txt" 2>"$tmp/dev.err" || fail "generate on $dev failed: $(cat "$tmp/dev.err")"
  cmp -s "$tmp/cpu.txt" "$tmp/dev.txt" || fail "generate on $dev: '$(cat "$tmp/dev.txt")' is not the CPU's '$(cat "$tmp/cpu.txt")'"
  grep -q "f32 weights, device $dev$" "$tmp/dev.err" || fail "generate does not name $dev: $(cat "$tmp/dev.err")"
  grep -q "MiB (copied to $dev)" "$tmp/dev.err" || fail "generate does not say the weights were copied"
  echo "ok: generate on $dev: the CPU's 24 greedy steps"
else
  skip_part data "stories260K is absent (HWA_DATA_DIR, ../shared/data)"
fi

# train: one epoch on 640 samples; the device reported; the loss the CPU's
if [ -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  t=(train --epochs 1 --limit 640 --test-limit 128 --json --quiet)
  "$cli" "${t[@]}" --device "$dev" >"$tmp/t.json" || fail "train on $dev failed"
  grep -q "\"threads\":null,\"device\":\"$dev\"" "$tmp/t.json" || fail "train does not report $dev: $(cat "$tmp/t.json")"
  "$cli" "${t[@]}" >"$tmp/c.json" || fail "train on cpu failed"
  loss() { sed -E 's/.*"train_loss":([0-9.]+).*/\1/' "$1"; }
  awk -v a="$(loss "$tmp/t.json")" -v b="$(loss "$tmp/c.json")" 'BEGIN { d = a - b; exit !(d < 1e-3 && d > -1e-3) }' ||
    fail "train on $dev: loss $(loss "$tmp/t.json"), the CPU's $(loss "$tmp/c.json")"
  echo "ok: train on $dev: one epoch, loss $(loss "$tmp/t.json") (the CPU's $(loss "$tmp/c.json"))"
else
  skip_part fmnist "Fashion-MNIST is not installed (dataset-fashion-mnist)"
fi

# an index past the last device: refused with the devices listed, exit 2
for c in "bench linear1000" "train --epochs 1 --limit 64" "generate $s/stories260K.bin --tokenizer $s/tok512.bin"; do
  rc=0
  # shellcheck disable=SC2086
  "$cli" $c --device "$bad" >/dev/null 2>"$tmp/err" || rc=$?
  [ "$rc" = 2 ] || fail "$c --device $bad exited $rc: $(cat "$tmp/err")"
  grep -q "$bad" "$tmp/err" && grep -q "cpu, $dev" "$tmp/err" || fail "$c --device $bad: no list: $(cat "$tmp/err")"
done
echo "ok: --device $bad refused by bench, train and generate: $(cat "$tmp/err")"
finish_skips
