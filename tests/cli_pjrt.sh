#!/usr/bin/env bash
# PJRT plugins: probe --list shows pjrt:0 with the XLA CPU plugin; bench
# linear1000 and a training step on pjrt:0 within 1e-4 of the CPU's f32;
# one short training epoch with the CPU's loss; and each way a plugin can be
# wrong (missing file, no GetPjrtApi, another major version) reported by
# probe (--json and --list) with the path named, and --device refused. Skips without a plugin.
set -euo pipefail
cli=${HWA_CLI:?HWA_CLI must name the built hwadapt}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
. "$(dirname "$0")/skip.bash"

# the bad plugins first: they need no real one
printf 'int not_pjrt(void) { return 0; }\n' >"$tmp/np.c"
printf 'struct v { unsigned long s; void *e; int major, minor; };\nstruct api { unsigned long s; void *e; struct v ver; };\nstatic struct api a = {sizeof a, 0, {sizeof(struct v), 0, 7, 1}};\nconst void *GetPjrtApi(void) { return &a; }\n' >"$tmp/v.c"
if command -v cc >/dev/null && cc -shared -fPIC -o "$tmp/notpjrt.so" "$tmp/np.c" && cc -shared -fPIC -o "$tmp/major7.so" "$tmp/v.c"; then
  check_bad() { # plugin, expected message
    out=$(HWA_PJRT_PLUGIN=$1 "$cli" probe --json) || fail "probe with HWA_PJRT_PLUGIN=$1 failed"
    grep -q "$2" <<<"$out" || fail "probe with $1: no note '$2':"$'\n'"$(grep -A4 '"pjrt"' <<<"$out")"
    HWA_PJRT_PLUGIN=$1 "$cli" probe --list >/dev/null 2>"$tmp/e" || fail "probe --list with $1 failed"
    grep -q "pjrt.*$2" "$tmp/e" || fail "probe --list with $1 does not say '$2': $(cat "$tmp/e")"
    if HWA_PJRT_PLUGIN=$1 "$cli" bench linear1000 --device pjrt:0 --min-time 0 -r 1 >"$tmp/o" 2>"$tmp/e"; then
      fail "--device pjrt:0 with $1 succeeded"
    fi
    echo "ok: $2"
  }
  check_bad "$tmp/missing.so" "$tmp/missing.so: no such file"
  check_bad "$tmp/notpjrt.so" "$tmp/notpjrt.so is not a PJRT plugin: it has no GetPjrtApi"
  check_bad "$tmp/major7.so" "$tmp/major7.so has API version 7.1; this build speaks 0\."
else
  skip_part cc "no C compiler to build the bad plugins"
fi

list=$("$cli" probe --list 2>"$tmp/list.err") || fail "probe --list failed"
if ! grep -q "^pjrt:0 " <<<"$list"; then
  skip_for pjrt "no PJRT device: $(grep pjrt "$tmp/list.err" || echo "(pjrt not mentioned)")"
fi
echo "ok: probe --list shows pjrt:0"

"$cli" bench linear1000,fmnist-mlp-train --device pjrt:0 --min-time 0 --min-queries 2 -r 2 --csv >"$tmp/b.csv" ||
  fail "bench on pjrt:0 failed"
for wl in linear1000 fmnist-mlp-train; do
  line=$(grep "^$wl,pjrt:0,f32,64,," "$tmp/b.csv") || fail "no $wl f32 row on pjrt:0:"$'\n'"$(cat "$tmp/b.csv")"
  err=$(cut -d, -f25 <<<"$line")
  awk -v e="$err" 'BEGIN { exit !(e != "" && e <= 1e-4) }' || fail "$wl on pjrt:0: max abs error vs f32 '$err' > 1e-4"
  echo "ok: bench $wl on pjrt:0, max abs error vs the CPU's f32 $err"
done

if [ -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  t=(train --epochs 1 --limit 2000 --test-limit 256 --json --quiet)
  "$cli" "${t[@]}" --device pjrt:0 >"$tmp/t.json" || fail "train on pjrt:0 failed"
  "$cli" "${t[@]}" >"$tmp/c.json" || fail "train on cpu failed"
  loss() { sed -E 's/.*"train_loss":([0-9.]+).*/\1/' "$1"; }
  awk -v a="$(loss "$tmp/t.json")" -v b="$(loss "$tmp/c.json")" 'BEGIN { d = a - b; exit !(d < 1e-3 && d > -1e-3) }' ||
    fail "train on pjrt:0: loss $(loss "$tmp/t.json"), the CPU's $(loss "$tmp/c.json")"
  echo "ok: train on pjrt:0: one epoch, loss $(loss "$tmp/t.json") (the CPU's $(loss "$tmp/c.json"))"
else
  skip_part fmnist "Fashion-MNIST is not installed (dataset-fashion-mnist)"
fi
finish_skips
