#!/usr/bin/env bash
# What data-parallel training over MPI costs here, in one run (docs/scaling.md):
#   a. MPI_Allreduce (float sum, 4 B .. 64 MiB) between 2 ranks on this
#      machine, by bench/mpi_allreduce.c (independent of libhwadapt, built
#      with mpicc -O2 into the cache folder): over shared memory (Open MPI's
#      vader BTL) and over TCP on the loopback interface;
#   b. the same between two "hosts": two network namespaces made here, joined
#      by a veth pair (10.231.0.1/24 - 10.231.0.2/24), one rank and one CPU
#      in each, each with its own host name (a UTS namespace), TCP only. mpirun
#      runs in the first namespace and starts the remote daemon through an rsh
#      agent that enters the second one (no ssh). The veth's byte counters,
#      before and after, show that the traffic crossed it. Needs root (or
#      CAP_SYS_ADMIN and CAP_NET_ADMIN): skipped, with the reason, otherwise;
#   c. the alpha-beta model fitted to each transport: a ring allreduce over p
#      nodes takes 2(p-1)*alpha + 2(p-1)/p * n * beta for n bytes, so with
#      p = 2 the medians follow T(n) = 2*alpha + n*beta. alpha comes from the
#      small messages (the median of T/2 over 4 .. 256 B), then beta from the
#      large ones (least squares on relative residuals of T - 2*alpha = n*beta
#      over 1 .. 64 MiB, each size counting alike). One straight line fitted
#      to every size (least squares on relative residuals) is printed beside
#      it, with each model's worst relative residual, as a check;
#   d. `hwadapt train --limit 12000 --epochs 1` (fmnist-mlp) as 1 rank x 2
#      threads and as `mpirun -np 2` x 1 thread, interleaved, REPS runs each
#      (default 5): ms per optimizer step, samples/s and the share of the
#      epoch rank 0 spent in MPI (comm_seconds / seconds), medians; "n/a"
#      where the epoch's JSON lacks a field;
#   e. the ring-allreduce projection of fmnist-mlp's step time (7,184,040 B
#      of f32 gradients) on 2..64 nodes, from c's alpha and beta and d's
#      1-rank step time.
# Writes every run's output to build/bench/mpi/. Needs mpirun and mpicc
# (Debian's openmpi-bin, libopenmpi-dev) and iproute2; skips (exit 0) without
# MPI. HWADAPT=path picks the hwadapt binary (default build/hwadapt).
# Every namespace, veth and process it starts is removed on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. bench/lib.bash

reps=${REPS:-5}
grad_bytes=7184040 # fmnist-mlp: 1,796,010 f32 parameters
for tool in mpirun mpicc; do
  command -v $tool >/dev/null 2>&1 || { echo "note: no $tool (Debian: openmpi-bin, libopenmpi-dev); skipping" >&2; exit 0; }
done
cli=${HWADAPT:-$(hwa_cli "$root")}
build=${BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
out=$build/bench/mpi
mkdir -p "$out"
rm -f "$out"/*.jsonl "$out"/*.txt "$out"/*.err "$out"/*.tsv

# Open MPI refuses to run as root unless told twice.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# The two "hosts" of part b. The namespace and veth names carry this shell's
# pid, so that two runs never touch each other's.
ns_a=hwa-mpi-a-$$ ns_b=hwa-mpi-b-$$ veth_a=hwa$$a veth_b=hwa$$b
ip_a=10.231.0.1 ip_b=10.231.0.2 net=10.231.0.0/24

tmp=$(mktemp -d)
made_ns=()
drop_namespaces() {
  local ns pid
  for ns in "${made_ns[@]}"; do
    # Processes still inside a namespace are ours (nothing else enters it).
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  made_ns=()
}
cleanup() { drop_namespaces; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers
# jfield LINE KEY: the value of "KEY" in a JSON line (the first match, quotes
# dropped), or n/a when the line has no such key.
jfield() {
  awk -v k="$2" '{
    if (match($0, "\"" k "\":[^,}]*")) { v = substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3); gsub(/"/, "", v); print v }
    else print "n/a" }' <<<"$1"
}
# median: the median of the numbers on stdin, one a line ("n/a" lines are
# dropped; n/a when none is left).
median() {
  { grep -v '^n/a$' || true; } | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# calc EXPR [VAR=VALUE...]: awk arithmetic; n/a when a named value is n/a.
calc() {
  local expr=$1 a vars=()
  shift
  for a in "$@"; do
    [ "${a#*=}" = n/a ] && { echo n/a; return; }
    vars+=(-v "$a")
  done
  awk "${vars[@]}" "BEGIN { printf \"%.4g\\n\", $expr }" </dev/null
}
# pct FRACTION: a percentage with one decimal, or n/a.
pct() { [ "$1" = n/a ] && echo n/a || awk -v f="$1" 'BEGIN { printf "%.1f %%\n", 100 * f }'; }
# show FILE: the allreduce table of one transport.
show() {
  awk '/"bytes"/ {
    n = 0; t = 0; lo = 0; hi = 0
    if (match($0, /"bytes":[0-9]+/)) n = substr($0, RSTART + 8, RLENGTH - 8) + 0
    if (match($0, /"median_us":[0-9.]+/)) t = substr($0, RSTART + 12, RLENGTH - 12) + 0
    if (match($0, /"p10_us":[0-9.]+/)) lo = substr($0, RSTART + 9, RLENGTH - 9) + 0
    if (match($0, /"p90_us":[0-9.]+/)) hi = substr($0, RSTART + 9, RLENGTH - 9) + 0
    printf "  %10d B  %12.2f us  (p10 %10.2f, p90 %10.2f)  %8.3f GB/s\n", n, t, lo, hi, n / t / 1e3
  }' "$1"
}
# fit FILE: "alpha_us gbps worst alpha_us gbps worst" of the ring model on
# 2 ranks, T(n) = 2 alpha + n beta: first alpha from the small messages and
# beta from the large (the figures used), then one line through every size
# (the check), both as described in the header.
fit() {
  awk '/"bytes"/ {
    match($0, /"bytes":[0-9]+/); n = substr($0, RSTART + 8, RLENGTH - 8) + 0
    match($0, /"median_us":[0-9.]+/); t = substr($0, RSTART + 12, RLENGTH - 12) + 0
    k++; N[k] = n / 1e6; T[k] = t                                    # MB, us
    w = 1 / (t * t); s0 += w; s1 += w * N[k]; s2 += w * N[k] * N[k]; sy += w * t; sny += w * N[k] * t
    if (n <= 256) half[++ns] = t / 2
  } END {
    if (k < 3 || ns == 0) { print "n/a n/a n/a n/a n/a n/a"; exit }
    # alpha: the median of T/2 over the small messages (insertion sort).
    for (i = 2; i <= ns; i++) { v = half[i]; for (j = i - 1; j >= 1 && half[j] > v; j--) half[j + 1] = half[j]; half[j + 1] = v }
    a2 = ns % 2 ? half[(ns + 1) / 2] : (half[ns / 2] + half[ns / 2 + 1]) / 2
    # beta: minimise sum(((T - 2 alpha) - N beta) / T)^2 over N >= 1 MiB.
    for (i = 1; i <= k; i++) if (N[i] >= 1.048576) { w = 1 / (T[i] * T[i]); num += w * N[i] * (T[i] - 2 * a2); den += w * N[i] * N[i] }
    if (den == 0 || num <= 0) { print "n/a n/a n/a n/a n/a n/a"; exit }
    b2 = num / den                                                 # us per MB
    # The check: one line T = a + b N through every size, relative residuals.
    det = s0 * s2 - s1 * s1
    a = (s2 * sy - s1 * sny) / det; b = (s0 * sny - s1 * sy) / det
    for (i = 1; i <= k; i++) {
      r = (2 * a2 + b2 * N[i] - T[i]) / T[i]; if (r < 0) r = -r; if (r > w2) w2 = r
      r = (a + b * N[i] - T[i]) / T[i]; if (r < 0) r = -r; if (r > w1) w1 = r
    }
    printf "%.3f %.3f %.2f %.3f %s %.2f\n", a2, 1e3 / b2, w2, a / 2, (b > 0 ? sprintf("%.3f", 1e3 / b) : "n/a"), w1
  }' "$1"
}
# allreduce NAME LABEL [PREFIX...] -- MPIRUN-ARGS...: runs the measurement and
# keeps its lines in $out/allreduce-NAME.jsonl. PREFIX runs mpirun (a
# namespace, a CPU); the mpirun arguments come after --.
sizes=(--min-bytes 4 --max-bytes 64M --factor 2)
allreduce() {
  local name=$1 label=$2; shift 2
  local prefix=()
  while [ "$1" != -- ]; do prefix+=("$1"); shift; done
  shift
  echo "$label"
  echo "  mpirun $*"
  local rc=0
  timeout 240 "${prefix[@]}" mpirun "$@" "$bin" "${sizes[@]}" >"$out/allreduce-$name.jsonl" 2>"$out/allreduce-$name.err" || rc=$?
  if [ $rc != 0 ]; then
    echo "  FAILED (exit $rc): $(tail -3 "$out/allreduce-$name.err" | tr '\n' ' ')"
    rm -f "$out/allreduce-$name.jsonl"
    return 1
  fi
  echo "  ranks on hosts: $(grep -m1 '"hosts"' "$out/allreduce-$name.jsonl" | sed 's/.*"hosts":\[\(.*\)\].*/\1/')"
  show "$out/allreduce-$name.jsonl"
}
# payload FILE: bytes one rank sends at least in the timed calls (a 2-rank
# allreduce of n bytes sends n bytes each way, whatever the algorithm).
payload() {
  awk '/"bytes"/ { match($0, /"bytes":[0-9]+/); n = substr($0, RSTART + 8, RLENGTH - 8)
    match($0, /"reps":[0-9]+/); r = substr($0, RSTART + 7, RLENGTH - 7)
    match($0, /"iters":[0-9]+/); i = substr($0, RSTART + 8, RLENGTH - 8); s += n * r * i } END { printf "%.0f\n", s }' "$1"
}
# counters NS DEV: "rx_bytes tx_bytes" of DEV inside namespace NS.
counters() {
  ip netns exec "$1" sh -c "cat /sys/class/net/$2/statistics/rx_bytes /sys/class/net/$2/statistics/tx_bytes" | tr '\n' ' '
}

# ---------------------------------------------------------------- the benchmark
src_hash=$(sha256sum bench/mpi_allreduce.c | cut -c1-12)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/hwadapt-bench
bin=$cache/mpi_allreduce-$src_hash
if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  mpicc -O2 -std=c11 -Wall -Wextra -o "$tmp/mpi_allreduce" bench/mpi_allreduce.c -lm
  mv "$tmp/mpi_allreduce" "$bin"
fi

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
echo "# bench/mpi.sh, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# $cpu, $(nproc) CPUs; $(mpirun --version 2>/dev/null | head -1); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# allreduce: $bin (mpi_allreduce.c $src_hash), medians of repetitions, each the slowest rank's time per call"
echo

echo "== a. allreduce, 2 ranks on this machine"
ok_vader=0 ok_lo=0 ok_veth=0
allreduce vader "shared memory (vader)" -- -np 2 --oversubscribe --mca pml ob1 --mca btl vader,self && ok_vader=1
allreduce tcp-lo "TCP over lo" -- -np 2 --oversubscribe --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include lo && ok_lo=1
echo

echo "== b. allreduce, 2 ranks on two network namespaces joined by a veth pair, TCP"
veth_why=""
veth_note=""
if [ "$(id -u)" != 0 ]; then
  veth_why="not root: creating network namespaces needs CAP_SYS_ADMIN and CAP_NET_ADMIN"
elif ! ip netns add "$ns_a" 2>"$tmp/ns.err"; then
  veth_why="ip netns add failed: $(head -1 "$tmp/ns.err")"
else
  made_ns+=("$ns_a")
  if ! { ip netns add "$ns_b" && made_ns+=("$ns_b") &&
         ip link add "$veth_a" netns "$ns_a" type veth peer name "$veth_b" netns "$ns_b" &&
         ip -n "$ns_a" addr add "$ip_a/24" dev "$veth_a" && ip -n "$ns_b" addr add "$ip_b/24" dev "$veth_b" &&
         ip -n "$ns_a" link set lo up && ip -n "$ns_b" link set lo up &&
         ip -n "$ns_a" link set "$veth_a" up && ip -n "$ns_b" link set "$veth_b" up; } 2>"$tmp/ns.err"; then
    veth_why="setting up the namespaces failed: $(head -1 "$tmp/ns.err")"
  elif ! ip netns exec "$ns_a" unshare --uts true 2>"$tmp/ns.err"; then
    veth_why="unshare --uts failed (the two namespaces would share one host name): $(head -1 "$tmp/ns.err")"
  fi
fi
if [ -z "$veth_why" ]; then
  # One CPU per "host": Open MPI binds each node's first rank to that node's
  # first core, which would put both ranks on CPU 0 (they then take turns at
  # the scheduler's tick, milliseconds per message). So binding is off and
  # each side is pinned with taskset to its own CPU of this process's set.
  cpus=$(awk '/^Cpus_allowed_list/ { n = split($2, r, ","); for (i = 1; i <= n; i++) {
    m = split(r[i], e, "-"); for (c = e[1]; c <= e[m]; c++) printf "%d ", c } }' /proc/self/status)
  read -r cpu_a cpu_b _ <<<"$cpus $cpus"
  [ "$cpu_a" = "$cpu_b" ] && veth_note="  (one CPU only: both sides share CPU $cpu_a)"
  # The rsh agent: Open MPI runs "AGENT [options] HOST COMMAND" to start its
  # daemon on HOST; this one runs COMMAND inside HOST's namespace, on its CPU,
  # under its host name, instead of through ssh.
  cat >"$tmp/rsh-agent" <<EOF
#!/bin/sh
while [ \$# -gt 0 ] && [ "\${1#-}" != "\$1" ]; do shift; done
host=\$1; shift
case \$host in
  $ip_a) ns=$ns_a name=hwa-node-a cpu=$cpu_a ;;
  $ip_b) ns=$ns_b name=hwa-node-b cpu=$cpu_b ;;
  *) echo "rsh-agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" taskset -c "\$cpu" unshare --uts sh -c 'hostname "\$0" && exec sh -c "\$1"' "\$name" "\$*"
EOF
  chmod +x "$tmp/rsh-agent"
  echo "  namespaces $ns_a ($ip_a, $veth_a, CPU $cpu_a, host name hwa-node-a) and $ns_b ($ip_b, $veth_b, CPU $cpu_b, hwa-node-b)$veth_note"
  read -r rx0 tx0 <<<"$(counters "$ns_a" "$veth_a")"
  read -r lo_a0 _ <<<"$(counters "$ns_a" lo)"
  read -r lo_b0 _ <<<"$(counters "$ns_b" lo)"
  echo "  ip -s link, $veth_a before:"; ip -n "$ns_a" -s link show dev "$veth_a" | sed 's/^/    /'
  if allreduce veth "TCP over the veth pair" ip netns exec "$ns_a" taskset -c "$cpu_a" unshare --uts \
       sh -c 'hostname hwa-node-a && exec "$@"' sh -- \
       -np 2 --host "$ip_a,$ip_b" --oversubscribe --bind-to none --mca plm_rsh_agent "$tmp/rsh-agent" \
       --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include "$net" --mca oob_tcp_if_include "$net"; then
    ok_veth=1
  fi
  read -r rx1 tx1 <<<"$(counters "$ns_a" "$veth_a")"
  read -r lo_a1 _ <<<"$(counters "$ns_a" lo)"
  read -r lo_b1 _ <<<"$(counters "$ns_b" lo)"
  echo "  ip -s link, $veth_a after:"; ip -n "$ns_a" -s link show dev "$veth_a" | sed 's/^/    /'
  if [ $ok_veth = 1 ]; then
    need=$(payload "$out/allreduce-veth.jsonl")
    hosts=$(grep -m1 '"hosts"' "$out/allreduce-veth.jsonl")
    echo "  $veth_a: sent $((tx1 - tx0)) B, received $((rx1 - rx0)) B; the timed calls alone send at least $need B each way;"
    echo "  lo inside the namespaces: $((lo_a1 - lo_a0)) B ($ns_a), $((lo_b1 - lo_b0)) B ($ns_b)"
    if [ $((tx1 - tx0)) -ge "$need" ] && [ $((rx1 - rx0)) -ge "$need" ] && grep -q 'hwa-node-a.*hwa-node-b' <<<"$hosts"; then
      echo "  check: the ranks ran on two host names and the traffic crossed the veth: yes"
    else
      echo "  check: FAILED (too few bytes on the veth, or the ranks did not run on hwa-node-a and hwa-node-b: $hosts)"
      ok_veth=0
    fi
  fi
fi
drop_namespaces
[ -n "$veth_why" ] && echo "  skipped: $veth_why"
echo

echo "== c. alpha-beta fit: T(n) = 2(p-1) alpha + 2(p-1)/p n beta, p = 2"
echo "  used: alpha = median of T/2 over 4 .. 256 B; beta = least squares (relative) of T - 2 alpha = n beta over 1 .. 64 MiB"
echo "  check: one line T = 2 alpha + n beta through all 25 sizes (least squares, relative residuals)"
echo "  (worst: the largest |relative residual| of that model over all sizes)"
declare -A A B
for t in vader tcp-lo veth; do
  f=$out/allreduce-$t.jsonl
  if [ -s "$f" ]; then read -r a b w a1 b1 w1 <<<"$(fit "$f")"; else a=n/a b=n/a w=n/a a1=n/a b1=n/a w1=n/a; fi
  A[$t]=$a B[$t]=$b
  printf "  %-7s used: alpha %8s us, 1/beta %7s GB/s (worst %s)   check: alpha %8s us, 1/beta %7s GB/s (worst %s)\n" \
    "$t" "$a" "$b" "$w" "$a1" "$b1" "$w1"
done
echo

echo "== d. hwadapt train --limit 12000 --epochs 1 (fmnist-mlp), $reps runs each, interleaved"
train_args=(train --limit 12000 --epochs 1 --json --quiet)
one=("$cli" "${train_args[@]}" --threads 2)
two=(mpirun -np 2 --oversubscribe --tag-output "$cli" "${train_args[@]}" --threads 1)
echo "  1 rank:  ${one[*]}"
echo "  2 ranks: ${two[*]}"
: >"$out/train.tsv"
train_why=""
if [ ! -x "$cli" ]; then
  train_why="$cli is not built"
else
  for i in $(seq "$reps"); do
    for cfg in 1 2; do
      if [ $cfg = 1 ]; then cmd=("${one[@]}"); else cmd=("${two[@]}"); fi
      if ! timeout 240 "${cmd[@]}" >"$out/train-$cfg-$i.txt" 2>"$out/train-$cfg-$i.err"; then
        echo "  run $i, $cfg rank(s): FAILED: $(tail -2 "$out/train-$cfg-$i.err" | tr '\n' ' ')"
        continue
      fi
      # Rank 0's last epoch line (mpirun tags each line with [job,rank]).
      if [ $cfg = 1 ]; then line=$(grep '"epoch"' "$out/train-$cfg-$i.txt" | tail -1 || true)
      else line=$(grep '^\[[0-9]*,0\]<stdout>:.*"epoch"' "$out/train-$cfg-$i.txt" | tail -1 | sed 's/^[^{]*//' || true); fi
      [ -n "$line" ] || { echo "  run $i, $cfg rank(s): no epoch line"; continue; }
      s=$(jfield "$line" seconds) st=$(jfield "$line" step) rk=$(jfield "$line" ranks) cs=$(jfield "$line" comm_seconds)
      sps=$(jfield "$line" samples_per_s) acc=$(jfield "$line" test_accuracy) oth=$(jfield "$line" others_share)
      ms=$(calc '1000 * s / st' s="$s" st="$st")
      share=$(calc 'cs / s' cs="$cs" s="$s")
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$cfg" "$ms" "$share" "$sps" "$rk" "$acc" "$oth" "$s" "$st" >>"$out/train.tsv"
      printf "  run %d, %d rank(s): %s s, %s steps, %s ms/step, comm %s s (%s), %s samples/s, ranks %s, accuracy %s, others took %s of the CPUs\n" \
        "$i" "$cfg" "$s" "$st" "$ms" "$cs" "$(pct "$share")" "$sps" "$rk" "$acc" "$(pct "$oth")"
    done
  done
fi
[ -n "$train_why" ] && echo "  skipped: $train_why"
col() { awk -F'\t' -v c="$1" -v k="$2" '$1 == c { print $k }' "$out/train.tsv" | median; }
for cfg in 1 2; do
  declare "ms_$cfg=$(col $cfg 2)" "share_$cfg=$(col $cfg 3)" "sps_$cfg=$(col $cfg 4)" "acc_$cfg=$(col $cfg 6)" "oth_$cfg=$(col $cfg 7)"
  declare "ranks_$cfg=$(awk -F'\t' -v c=$cfg '$1 == c { print $5 }' "$out/train.tsv" | sort -u | tr '\n' ' ' | sed 's/ $//')"
done
step_ratio=$(calc 'a / b' a="$ms_1" b="$ms_2")
sps_ratio=$(calc 'b / a' a="$sps_1" b="$sps_2")
echo "  medians: 1 rank x 2 threads $ms_1 ms/step, $sps_1 samples/s, comm share $(pct "$share_1");"
echo "           2 ranks x 1 thread $ms_2 ms/step, $sps_2 samples/s, comm share $(pct "$share_2") (ranks reported: ${ranks_2:-n/a})"
[ "${ranks_2:-n/a}" = 2 ] || [ ! -s "$out/train.tsv" ] ||
  echo "  note: the mpirun runs reported ranks '${ranks_2:-n/a}', not 2: each process trained alone (no data-parallel hwadapt, or no build/libhwadapt_mpi.so)"
echo "  2 ranks against 1 rank: step rate x$step_ratio (1-rank ms/step over 2-rank), samples/s x$sps_ratio"
echo

echo "== e. projection: fmnist-mlp step on p nodes = t1/p + 2(p-1) alpha + 2(p-1)/p * $grad_bytes B * beta"
# The Ethernet rows take the veth's alpha (TCP between two network stacks),
# else TCP over lo's.
proj_alpha=${A[veth]} proj_from=veth
[ "$proj_alpha" = n/a ] && proj_alpha=${A[tcp-lo]} proj_from="TCP over lo"
echo "  t1 = d's 1-rank step time ($ms_1 ms), divided among the nodes; Ethernet rows at line rate, with the $proj_from alpha ($proj_alpha us)"
printf "  %-22s %5s %12s %12s %10s %9s\n" link p "step ms" "comm ms" "comm share" speed-up
links=("veth (measured):${A[veth]}:${B[veth]}" "1 Gb/s Ethernet:$proj_alpha:0.125" "10 Gb/s Ethernet:$proj_alpha:1.25"
       "25 Gb/s Ethernet:$proj_alpha:3.125" "100 Gb/s Ethernet:$proj_alpha:12.5")
for l in "${links[@]}"; do
  IFS=: read -r name al gb <<<"$l"
  for p in 2 4 8 16 32 64; do
    if [ "$ms_1" = n/a ] || [ "$al" = n/a ] || [ "$gb" = n/a ]; then
      printf "  %-22s %5d %12s %12s %10s %9s\n" "$name" $p n/a n/a n/a n/a; continue
    fi
    awk -v t1="$ms_1" -v a="$al" -v g="$gb" -v p=$p -v n=$grad_bytes -v name="$name" 'BEGIN {
      comm = (2 * (p - 1) * a + 2 * (p - 1) / p * n / (g * 1e3)) / 1e3   # ms (g GB/s = g*1e3 B/us)
      step = t1 / p + comm
      printf "  %-22s %5d %12.2f %12.2f %9.1f%% %8.2fx\n", name, p, step, comm, 100 * comm / step, t1 / step }'
  done
done
echo

echo "== summary ($(date -u '+%Y-%m-%d %H:%M UTC'); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
printf "  %-26s %12s %14s %11s %12s\n" "allreduce, 2 ranks" "4 B (us)" "64 MiB (GB/s)" "alpha (us)" "1/beta GB/s"
for t in vader tcp-lo veth; do
  case $t in vader) label="shared memory (vader)" ;; tcp-lo) label="TCP over lo" ;; veth) label="TCP over veth (2 netns)" ;; esac
  f=$out/allreduce-$t.jsonl
  if [ -s "$f" ]; then
    small=$(grep -m1 '"bytes":4,' "$f" | sed 's/.*"median_us":\([0-9.]*\).*/\1/')
    big=$(grep '"bytes":67108864,' "$f" | sed 's/.*"median_us":\([0-9.]*\).*/\1/')
    big=$(calc '67108864 / t / 1e3' t="${big:-n/a}")
    printf "  %-26s %12s %14s %11s %12s\n" "$label" "$small" "$big" "${A[$t]}" "${B[$t]}"
  else
    printf "  %-26s %12s %14s %11s %12s\n" "$label" n/a n/a n/a n/a
  fi
done
[ -n "$veth_why" ] && echo "  (veth skipped: $veth_why)"
printf "  %-26s %12s %12s %11s %9s %9s\n" "train, fmnist-mlp 12000" "ms/step" "samples/s" "comm share" accuracy "others"
printf "  %-26s %12s %12s %11s %9s %9s\n" "1 rank x 2 threads" "$ms_1" "$sps_1" "$(pct "$share_1")" "$acc_1" "$(pct "$oth_1")"
printf "  %-26s %12s %12s %11s %9s %9s\n" "2 ranks x 1 thread (shm)" "$ms_2" "$sps_2" "$(pct "$share_2")" "$acc_2" "$(pct "$oth_2")"
printf "  %-26s %12s %12s\n" "2 ranks against 1 (x)" "$step_ratio" "$sps_ratio"
echo "  (x: 1-rank ms/step over 2-rank ms/step, and 2-rank samples/s over 1-rank: above 1 means 2 ranks are faster)"
echo "  (others: the share of the CPUs other processes took during the epoch, as hwadapt train reports it)"
echo "  raw output: $out"
[ $ok_vader = 1 ] && [ $ok_lo = 1 ] || exit 1
