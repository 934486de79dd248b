#!/usr/bin/env bash
# The main job's advice applies itself: every recommendation's printed
# command, run as printed, runs the recommended configuration (its dtype,
# threads and batch show in what it prints), and the settings file the main
# job writes makes `bench --config` and `train --config` run it too. The
# train command is run with --epochs 1 and a data limit appended, so that it
# takes seconds (those flags change how long it trains, not its
# configuration); it needs Fashion-MNIST (dataset-fashion-mnist).
set -euo pipefail
cli=${HWA_CLI:?HWA_CLI must name the built hwadapt}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
FMNIST=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
. "$(dirname "$0")/skip.bash"
SHORT=(--epochs 1 --limit 640 --test-limit 128 --json --quiet)

# The budget covers the passport too: a first calibration of the CPU and an
# OpenCL device takes about 10 s under the sanitizers, and each workload
# needs its CPU rows measured for a verdict.
out=$(cd "$tmp" && "$cli" run --budget 24 --workloads linear1000,fmnist-mlp-train -o report.json)
[ -s "$tmp/hwadapt.conf" ] || fail "the main job wrote no settings file:"$'\n'"$out"
grep -q "^settings     hwadapt.conf" <<<"$out" || fail "the main job does not say where the settings went"

# "  WORKLOAD  VERDICT  DTYPE, N thread(s) on DEVICE ..." (a device without
# threads: "DTYPE on DEVICE") then "    command  ..."
mapfile -t verdicts < <(grep -E '^  [a-z0-9-]+ +(recommended|tied|no-baseline) ' <<<"$out")
mapfile -t commands < <(sed -n 's/^    command  //p' <<<"$out")
[ "${#verdicts[@]}" -eq 2 ] && [ "${#commands[@]}" -eq 2 ] || fail "expected 2 verdicts and 2 commands:"$'\n'"$out"
ran=0
for k in 0 1; do
  read -r wl verdict dtype _ <<<"${verdicts[$k]}"
  dtype=${dtype%,}
  device=$(sed -E 's/.* on ([a-z]+(:[0-9]+)?)( .*|$)/\1/' <<<"${verdicts[$k]}")
  threads=$(sed -nE 's/.*, ([0-9]+) thread\(s\) on .*/\1/p' <<<"${verdicts[$k]}")
  cmd=${commands[$k]}
  [[ $cmd == hwadapt\ * ]] || fail "not a hwadapt command: $cmd"
  [[ $cmd == *"--device $device "* ]] || fail "'$cmd' does not name the device $device"
  if [ -n "$threads" ]; then
    json_threads=$threads table_threads=$threads
  else # no thread setting on the device: none in the command, "-" in the table, null in JSON
    [[ $cmd != *--threads* ]] || fail "'$cmd' sets threads on $device"
    json_threads=null table_threads=-
  fi
  read -r -a words <<<"${cmd#hwadapt }"
  case "$wl" in
    fmnist-mlp-train)
      [ -r "$FMNIST" ] || { skip_part fmnist "$cmd: Fashion-MNIST is not installed (dataset-fashion-mnist)"; continue; }
      got=$("$cli" "${words[@]}" "${SHORT[@]}") || fail "'$cmd' failed"
      grep -q "\"dtype\":\"$dtype\",\"threads\":$json_threads,\"device\":\"$device\"" <<<"$got" ||
        fail "'$cmd' ran another configuration: $got"
      echo "ok: $cmd -> $dtype on $device, threads $table_threads";;
    *)
      got=$("$cli" "${words[@]}" --wide) || fail "'$cmd' failed"
      grep -qE "^$wl +$device +$dtype +64 +$table_threads " <<<"$got" || fail "'$cmd' ran another configuration:"$'\n'"$got"
      echo "ok: $cmd -> $dtype on $device, threads $table_threads";;
  esac
  ran=$((ran + 1))
  # the same through the settings file
  case "$wl" in
    fmnist-mlp-train)
      got=$(cd "$tmp" && "$cli" train --config hwadapt.conf "${SHORT[@]}") || fail "train --config failed"
      grep -q "\"dtype\":\"$dtype\",\"threads\":$json_threads,\"device\":\"$device\"" <<<"$got" ||
        fail "train --config ran another configuration: $got";;
    *)
      got=$(cd "$tmp" && "$cli" bench "$wl" --config hwadapt.conf --min-time 0.2 -r 2 --wide) || fail "bench --config failed"
      grep -qE "^$wl +$device +$dtype +64 +$table_threads " <<<"$got" ||
        fail "bench --config ran another configuration:"$'\n'"$got";;
  esac
  echo "ok: --config hwadapt.conf -> $wl in $dtype on $device, threads $table_threads"
done
[ $ran -ge 1 ] || fail "no command ran"
echo "ok: $ran printed command(s) ran their configuration"
finish_skips
