#!/usr/bin/env bash
# hwadapt on CPUs that lack what this machine has. The test programs and the
# command run under QEMU's user-mode emulation of older x86-64 CPUs, whose
# cpuid and XGETBV say what they lack and which fault on any instruction
# beyond them, so that such an instruction anywhere on a path every CPU
# takes (detection, backend set-up, the libraries' own dispatch) fails here
# rather than on a user's machine:
#   Haswell  AVX2 + FMA + F16C, no AVX-512: the avx2 level, oneDNN's and
#            OpenBLAS's AVX2 code, bf16 products widened to f32;
#   Nehalem  SSE4.2, no AVX: the scalar level for our kernels, the
#            libraries' own SSE code for the products.
# For each: the op, gradient, graph, optimizer and Llama tests pass; the
# passport lists what the emulated CPU has and not more; a bench of the
# Fashion-MNIST MLP (inference and a training step) runs in f32, bf16 and
# f16 with a matrix-product kernel in every row (never the reference); a
# greedy generation prints the same text as on this machine.
# Skipped (77) where qemu-x86_64 (Debian's qemu-user) is missing or the host
# is not x86-64. Run by ctest from the source directory.
set -euo pipefail
. "$(dirname "$0")/emulated.bash"
[ "$(uname -m)" = x86_64 ] || { echo "skipped: not an x86-64 host"; exit 77; }
. "$(dirname "$0")/skip.bash"
command -v qemu-x86_64 >/dev/null || skip_for qemu "qemu-x86_64 not found (Debian package qemu-user)"
cli=${HWA_CLI:?HWA_CLI not set}
build=$(dirname "$cli")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL [$cpu] $*"; fail=1; }

# QEMU warns about host-only cpuid bits it cannot emulate; everything else
# on stderr is kept.
emu() { qemu-x86_64 -cpu "$cpu" "$@" 2> >(grep -v "TCG doesn't support" >&2); }

want=$(story "$cli")

for cpu in Haswell Nehalem; do
  case $cpu in
    Haswell) has=avx2 lacks=avx512f ;;
    Nehalem) has=sse4_2 lacks=avx ;;
  esac
  emulated_tests "$tmp" emu -- "$build"/test_{ops_forward,ops_grad,core_graph,train_optim,nn_llama} ||
    bad "test programs (above)"

  emu "$cli" probe --json --no-calibrate >"$tmp/probe.json" || bad "probe exited with $?"
  python3 - "$tmp/probe.json" "$has" "$lacks" <<'PY' || bad "the passport's features do not match the emulated CPU"
import json, sys
f = json.load(open(sys.argv[1]))["cpu"]["features"]
if sys.argv[2] not in f or sys.argv[3] in f:
    print("features:", " ".join(f))
    sys.exit(1)
PY

  if emu "$cli" bench fmnist-mlp,fmnist-mlp-train --no-calibrate --dtype f32,bf16,f16 --batch 8 \
      --min-time 0 --min-queries 2 --warmup 0 --csv >"$tmp/bench.csv"; then
    python3 - "$tmp/bench.csv" <<'PY' || bad "bench rows: $(cat "$tmp/bench.csv")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
ok = len(rows) == 6
for r in rows:
    k = r.get("kernel", "")
    # every dtype reaches a matrix-product kernel, half ones widened to f32
    if not k or k == "ref" or (r["dtype"] != "f32" and not k.startswith(r["dtype"] + ">f32:")):
        ok = False
sys.exit(0 if ok else 1)
PY
  else
    bad "bench exited with $?"
  fi

  if [ -n "$want" ]; then
    got=$(story emu "$cli") || bad "generate exited with $?"
    [ "$got" = "$want" ] || bad "generated text differs: '$got'"
  fi
  [ $fail -eq 0 ] && echo "ok [$cpu]: tests, passport ($has, no $lacks), bench f32/bf16/f16, generate"
done
exit $fail
