#!/usr/bin/env bash
# Data-parallel training under mpirun (Open MPI) on this machine: 2 ranks
# train as 1 process does (within 1e-5, and bitwise with a fixed reduction
# order), a run resumed on another number of ranks continues the same
# trajectory, a rank that is killed or hangs stops the job within 30 s with
# a message naming it and the last checkpoint still loads, and bad setups
# (more ranks than samples in a batch, an unknown host, no module) are clear
# errors.
set -u
H=${HWA_CLI:-build/hwadapt}
FM=/usr/share/datasets/fashion-mnist
. "$(dirname "$0")/skip.bash"
[ -r "$FM/train-images-idx3-ubyte.gz" ] ||
  skip_for fmnist "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)"
command -v mpirun > /dev/null || skip_for mpi "mpirun is not installed (Debian package openmpi-bin)"
[ -e "$(dirname "$H")/libhwadapt_mpi.so" ] ||
  skip_for mpi "hwadapt was built without its MPI module (Debian package libopenmpi-dev)"
# Bit-exact results need a fixed thread count (docs/threads.md).
export HWA_ADAPT_THREADS=0
# Open MPI refuses root unless told (CI runs as root).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Under the sanitizers: Open MPI leaves allocations at exit whose stacks
# LeakSanitizer cannot attribute (its plug-ins are unloaded by then), so the
# ranks run without the leak check; ASan's other checks stay on, and the
# runs of one process without mpirun keep the leak check.
MPI=(env "LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}detect_leaks=0" mpirun --oversubscribe --bind-to none)
T=$(mktemp -d /tmp/hwa_cli_mpi.XXXXXX)
cleanup() {
  pkill -CONT -f "$T/" 2> /dev/null
  pkill -KILL -f "$T/" 2> /dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
# One epoch of 6,000 samples: 93 full batches of 64 and one of 48.
SMALL=(--limit 6000 --test-limit 2000 --seed 3 --threads 1 --quiet --json)
# The same at a quarter of the width, where the model's size does not matter
# (resume, faults): fast under the sanitizers too.
MID=(--limit 6000 --test-limit 2000 --seed 3 --threads 1 --quiet --json --hidden 256,256)
field() { sed -n "${3:-1}s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" "$1"; }
rel_close() { awk -v a="$1" -v b="$2" -v tol="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= tol * b) }'; }

# ---- 2 ranks against 1 process, the same global batch
$H train "${SMALL[@]}" --epochs 1 > "$T/one.json" 2> "$T/err1"
rc1=$?
"${MPI[@]}" -np 2 $H train "${SMALL[@]}" --epochs 1 > "$T/two.json" 2> "$T/err2"
rc2=$?
a=$(field "$T/one.json" train_loss) b=$(field "$T/two.json" train_loss)
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ "$(wc -l < "$T/two.json")" -eq 1 ] && rel_close "$b" "$a" 1e-5 &&
   [ "$(field "$T/one.json" test_accuracy)" = "$(field "$T/two.json" test_accuracy)" ] &&
   grep -q '"ranks":2,"comm_seconds":' "$T/two.json"; then
  ok "2 ranks: train_loss $b against 1 process's $a (within 1e-5), the same test accuracy $(field "$T/one.json" test_accuracy)"
else bad "2 ranks against 1 process: exits $rc1 $rc2: $(cat "$T/one.json" "$T/two.json" "$T/err1" "$T/err2")"; fi

# ---- a fixed reduction order: 1 process, 2 and 3 ranks, bit for bit
$H train "${SMALL[@]}" --epochs 1 --shards 6 > "$T/f1.json" 2> "$T/err"
"${MPI[@]}" -np 2 $H train "${SMALL[@]}" --epochs 1 --shards 6 > "$T/f2.json" 2>> "$T/err"
"${MPI[@]}" -np 3 $H train "${SMALL[@]}" --epochs 1 --shards 6 > "$T/f3.json" 2>> "$T/err"
strip() { sed 's/"seconds".*"lr"/"lr"/; s/"ranks":[0-9]*,"comm_seconds":[0-9.]*,//; s/,"load":.*//' "$1"; }
if [ -s "$T/f1.json" ] && [ "$(strip "$T/f1.json")" = "$(strip "$T/f2.json")" ] &&
   [ "$(strip "$T/f1.json")" = "$(strip "$T/f3.json")" ] &&
   rel_close "$(field "$T/f1.json" train_loss)" "$a" 1e-5; then
  ok "--shards 6: 1 process, 2 and 3 ranks give the same bits (train_loss $(field "$T/f1.json" train_loss))"
else bad "--shards 6 across 1, 2, 3 ranks: $(cat "$T/f1.json" "$T/f2.json" "$T/f3.json" "$T/err")"; fi

# ---- resume a 2-rank checkpoint on 1 and on 3 ranks: the same trajectory
"${MPI[@]}" -np 2 $H train "${MID[@]}" --epochs 2 --shards 6 > "$T/ref.json" 2> "$T/err"
"${MPI[@]}" -np 2 $H train "${MID[@]}" --epochs 1 --shards 6 --checkpoint-dir "$T/ck" > /dev/null 2>> "$T/err"
rm -rf "$T/ck3" && cp -r "$T/ck" "$T/ck3"
$H train "${MID[@]}" --epochs 2 --shards 6 --checkpoint-dir "$T/ck" --resume > "$T/r1.json" 2> "$T/r1.err"
"${MPI[@]}" -np 3 $H train "${MID[@]}" --epochs 2 --shards 6 --checkpoint-dir "$T/ck3" --resume \
  > "$T/r3.json" 2> "$T/r3.err"
want=$(sed -n 2p "$T/ref.json" | sed 's/"seconds".*"lr"/"lr"/; s/"ranks":[0-9]*,"comm_seconds":[0-9.]*,//; s/,"load":.*//')
if [ -n "$want" ] && [ "$(strip "$T/r1.json")" = "$want" ] && [ "$(strip "$T/r3.json")" = "$want" ] &&
   grep -q "resumed from" "$T/r1.err" && grep -q "resumed from" "$T/r3.err" &&
   [ "$(grep -c "resumed from" "$T/r3.err")" -eq 1 ]; then
  ok "a 2-rank checkpoint resumed on 1 and on 3 ranks: epoch 2 as the 2-rank run's, bit for bit"
else bad "resume on 1 and 3 ranks: want $want: $(cat "$T/r1.json" "$T/r3.json" "$T/r1.err" "$T/r3.err")"; fi
# without a fixed order, within 1e-5 of the uninterrupted run
"${MPI[@]}" -np 2 $H train "${MID[@]}" --epochs 2 > "$T/ref0.json" 2> "$T/err"
"${MPI[@]}" -np 2 $H train "${MID[@]}" --epochs 1 --checkpoint-dir "$T/ck0" > /dev/null 2>> "$T/err"
$H train "${MID[@]}" --epochs 2 --checkpoint-dir "$T/ck0" --resume > "$T/r0.json" 2>> "$T/err"
if rel_close "$(field "$T/r0.json" train_loss)" "$(field "$T/ref0.json" train_loss 2)" 1e-5 &&
   [ "$(field "$T/r0.json" test_accuracy)" = "$(field "$T/ref0.json" test_accuracy 2)" ]; then
  ok "a 2-rank checkpoint resumed by 1 process: epoch 2 within 1e-5"
else bad "resume by 1 process: $(cat "$T/ref0.json" "$T/r0.json" "$T/err")"; fi

# ---- ranks on different devices: rank 1 on the OpenCL device (PoCL here).
# Their updates round differently; rank 0's weights are copied to every rank
# after each epoch, and the run trains as one process does, within rounding.
if [ -n "$(clinfo -l 2> /dev/null | grep -i device)" ]; then
  $H train "${MID[@]}" --limit 2000 --epochs 2 > "$T/dev1.json" 2> "$T/err"
  "${MPI[@]}" -np 2 $H train "${MID[@]}" --limit 2000 --epochs 2 --rank-devices cpu,opencl:0 > "$T/dev2.json" 2>> "$T/err"
  rc=$?
  if [ $rc -eq 0 ] && rel_close "$(field "$T/dev2.json" train_loss 2)" "$(field "$T/dev1.json" train_loss 2)" 1e-3; then
    ok "ranks on cpu and opencl:0: epoch 2's train_loss $(field "$T/dev2.json" train_loss 2) against 1 process's $(field "$T/dev1.json" train_loss 2)"
  else bad "ranks on cpu and opencl:0: exit $rc: $(cat "$T/dev1.json" "$T/dev2.json" "$T/err")"; fi
else skip_part opencl "no OpenCL device: ranks on different devices untested"; fi

# ---- a rank killed in the middle of an epoch: the job stops within 30 s,
# naming it, and the last checkpoint loads.
# kill_rank SIGNAL DIR: starts 2 ranks checkpointing into DIR, sends rank 1
# SIGNAL once epoch 1's checkpoint exists; prints the seconds until mpirun
# ended and its exit status.
kill_rank() {
  local sig=$1 dir=$2 t0 pid r
  "${MPI[@]}" -np 2 $H train --limit 12000 --test-limit 1000 --hidden 256,256 --seed 3 --threads 1 --quiet --epochs 50 \
    --checkpoint-dir "$dir" --dist-timeout 10 > "$dir.out" 2> "$dir.err" &
  local job=$!
  for _ in $(seq 600); do [ -e "$dir/ckpt-000001.safetensors" ] && break; sleep 0.1; done
  sleep 0.5
  for p in $(pgrep -f "checkpoint-dir $dir"); do
    r=$(tr '\0' '\n' < /proc/$p/environ 2> /dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
    [ "$r" = 1 ] && pid=$p
  done
  [ -n "${pid:-}" ] || { echo "no rank 1"; kill -9 $job; return; }
  t0=$(date +%s.%N)
  kill -"$sig" "$pid"
  for _ in $(seq 450); do kill -0 $job 2> /dev/null || break; sleep 0.1; done
  wait $job
  local rc=$?
  kill -CONT "$pid" 2> /dev/null
  kill -KILL "$pid" 2> /dev/null
  echo "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') $rc"
}
# newest DIR: the epoch of DIR's newest checkpoint (resuming with it as
# --epochs loads the checkpoint and trains no further)
newest() { ls "$1"/ckpt-*.safetensors 2> /dev/null | tail -1 | sed 's/.*ckpt-0*\([0-9]*\)\.safetensors/\1/'; }
read -r secs rc <<< "$(kill_rank KILL "$T/killed")"
if [ "$rc" != 0 ] && awk -v s="$secs" 'BEGIN { exit !(s <= 30) }' && grep -q "rank 1" "$T/killed.err" &&
   $H train --limit 12000 --test-limit 1000 --hidden 256,256 --seed 3 --quiet --checkpoint-dir "$T/killed" --resume --epochs "$(newest "$T/killed")" \
     > /dev/null 2> "$T/load.err" && grep -q "resumed from" "$T/load.err"; then
  ok "rank 1 killed: the job ended (status $rc) after $secs s naming rank 1; the last checkpoint loads"
else bad "rank 1 killed: $secs s, status $rc: $(cat "$T/killed.err" "$T/load.err" 2> /dev/null | tail -20)"; fi
# a rank that hangs (stopped): the others name it after --dist-timeout 10
read -r secs rc <<< "$(kill_rank STOP "$T/hung")"
if [ "$rc" != 0 ] && awk -v s="$secs" 'BEGIN { exit !(s <= 30) }' &&
   grep -Eq "rank 1 \(pid [0-9]* on [^)]*\)( \(silent since it arrived\))? did not (reach|finish) the exchange of epoch [0-9]*, step [0-9]* within 10 s" "$T/hung.err" &&
   $H train --limit 12000 --test-limit 1000 --hidden 256,256 --seed 3 --quiet --checkpoint-dir "$T/hung" --resume --epochs "$(newest "$T/hung")" \
     > /dev/null 2> "$T/load.err" && grep -q "resumed from" "$T/load.err"; then
  ok "rank 1 hung: the job ended (status $rc) after $secs s: $(grep -m1 -o 'rank 1 (pid.*within 10 s' "$T/hung.err")"
else bad "rank 1 hung: $secs s, status $rc: $(cat "$T/hung.err" "$T/load.err" 2> /dev/null | tail -20)"; fi

# ---- clear errors
"${MPI[@]}" -np 3 $H train --limit 600 --batch 2 --epochs 1 --quiet > /dev/null 2> "$T/err"
rc=$?
if [ $rc -ne 0 ] && grep -q "3 ranks but a global batch of 2: every rank needs at least one sample" "$T/err"; then
  ok "-np 3 with --batch 2: $(grep -m1 -o '3 ranks but.*' "$T/err")"
else bad "-np 3 with --batch 2: exit $rc: $(cat "$T/err")"; fi
echo "no-such-host.invalid slots=2" > "$T/hosts"
t0=$(date +%s)
timeout 60 "${MPI[@]}" --hostfile "$T/hosts" -np 2 $H train --limit 600 --epochs 1 --quiet > /dev/null 2> "$T/err"
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "no-such-host" "$T/err"; then
  ok "a hostfile naming an unknown host: exit $rc after $(($(date +%s) - t0)) s: $(grep -m1 no-such-host "$T/err")"
else bad "unknown host: exit $rc: $(head -5 "$T/err")"; fi
HWA_MPI_MODULE=/nonexistent/libhwadapt_mpi.so "${MPI[@]}" -np 1 -x HWA_MPI_MODULE $H train --limit 600 --epochs 1 \
  --quiet > /dev/null 2> "$T/err"
rc=$?
if [ $rc -ne 0 ] && grep -q "MPI module could not be opened: /nonexistent/libhwadapt_mpi.so" "$T/err"; then
  ok "no MPI module: $(grep -m1 -o "hwadapt's MPI module could not be opened[^(]*" "$T/err")"
else bad "no MPI module: exit $rc: $(cat "$T/err")"; fi
$H train --limit 600 --epochs 1 --rank-devices cpu,cpu > /dev/null 2> "$T/err"
if [ $? -eq 2 ] && grep -q "needs mpirun" "$T/err"; then ok "--rank-devices without mpirun: usage error"
else bad "--rank-devices without mpirun: $(cat "$T/err")"; fi

echo "$fails failed"
[ $fails -eq 0 ] || exit 1
finish_skips
