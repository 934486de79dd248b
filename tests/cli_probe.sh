#!/usr/bin/env bash
# hwadapt probe from the command line: the readable and JSON passports, the
# fixture trees through HWA_SYSROOT, absent accelerator libraries, a fake
# NVIDIA driver (tests/fixtures/hw/fake_nvidia.c), --energy-read, bad options.
set -euo pipefail
cli=${HWA_CLI:?HWA_CLI must name the built hwadapt}
. "$(dirname "$0")/skip.bash"
src=${HWA_SOURCE_DIR:-$(pwd)}
fx=$src/tests/fixtures/hw
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=$tmp/cache
fail() { echo "FAIL: $*" >&2; exit 1; }
contains() { grep -qF -- "$2" <<<"$1" || fail "expected '$2' in:"$'\n'"$1"; }

out=$("$cli" probe --no-calibrate)
contains "$out" "hardware passport"
contains "$out" "power meters"
contains "$out" "cpu "
echo "ok: readable passport"

mkdir "$tmp/empty"
out=$(HWA_OPENCL_LIB=$tmp/empty HWA_CUDA_LIB=$tmp/empty HWA_NVML_LIB=$tmp/empty "$cli" probe --no-calibrate)
contains "$out" "opencl  none found"
contains "$out" "cuda    none found"
contains "$out" "nvml    none found"
json=$(HWA_OPENCL_LIB=$tmp/empty HWA_CUDA_LIB=/nonexistent/libcuda.so.1 "$cli" probe --json --no-calibrate)
contains "$json" '"devices": ['
[ "$(grep -c '"id": "opencl:' <<<"$json" || true)" = 0 ] || fail "an OpenCL device although the loader is absent"
echo "ok: absent libraries mean none found"

out=$(HWA_SYSROOT=$fx/container "$cli" probe --no-calibrate)
contains "$out" "cgroup v2: memory 2.0 GiB, cpu 1.50 CPUs; affinity 0-2 (3 CPUs)"
contains "$out" "2 physical, 4 logical"
out=$(HWA_SYSROOT=$fx/arm "$cli" probe --no-calibrate)
contains "$out" "ARM Neoverse-N1"
contains "$out" "asimddp sve"
echo "ok: fixture trees"

out=$("$cli" probe --energy-read 0.2 2>&1)
if ! grep -q "^rapl:" <<<"$out"; then contains "$out" "no power meter found"; fi
out=$(HWA_SYSROOT=$fx/rapl "$cli" probe --energy-read 0.2)
contains "$out" "rapl:package-0/dram"
echo "ok: energy read"

if cc -shared -fPIC -o "$tmp/libfake_nvidia.so" "$fx/fake_nvidia.c" 2>/dev/null; then
    export HWA_CUDA_LIB=$tmp/libfake_nvidia.so HWA_NVML_LIB=$tmp/libfake_nvidia.so
    out=$("$cli" probe --no-calibrate)
    contains "$out" "cuda:0    Fake H100 80GB HBM3"
    contains "$out" "compute capability 9.0, PCI 0000:3B:00.0"
    contains "$out" "100.0 W (limit 700 W), 41 C"
    contains "$out" "nvml:0"
    "$cli" probe --json --no-calibrate > "$tmp/fake.json"
    contains "$(cat "$tmp/fake.json")" '"compute_units": 132'
    out=$("$cli" probe --energy-read 0.5 --json)
    python3 - "$out" <<'PY' || fail "NVML energy over 0.5 s is not about 50 J: $out"
import json, sys
d = json.loads(sys.argv[1])
m = [x for x in d["meters"] if x["name"] == "nvml:0"][0]
sys.exit(0 if 40 <= m["joules"] <= 65 else 1)
PY
    unset HWA_CUDA_LIB HWA_NVML_LIB
    echo "ok: fake NVIDIA driver"
else
    skip_part cc "no C compiler for the fake NVIDIA library"
fi

# --list: one line per device of the passport, in milliseconds (nothing is
# measured); the runtimes that found none say why on stderr
start=$(date +%s%N)
list=$("$cli" probe --list 2>"$tmp/list.err")
ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -qE '^cpu +.+ \(cpu, [0-9]+ units, [0-9.]+ GiB\)$' <<<"$list" || fail "--list has no cpu line:"$'\n'"$list"
want=$("$cli" probe --no-calibrate | grep -cE '^(cpu|opencl:[0-9]+|cuda:[0-9]+|pjrt:[0-9]+) ')
[ "$(wc -l <<<"$list")" = "$want" ] || fail "--list: $(wc -l <<<"$list") lines for $want devices:"$'\n'"$list"
grep -q "^cuda: none found" "$tmp/list.err" || [ -n "$(grep '^cuda:' <<<"$list")" ] ||
  fail "--list says nothing of CUDA: $(cat "$tmp/list.err")"
[ "$ms" -lt 5000 ] || fail "--list took $ms ms"
echo "ok: --list, $(wc -l <<<"$list") device(s) in $ms ms"

set +e
"$cli" probe --list --json >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "--list --json gave $rc"
"$cli" probe --bogus >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "unknown option gave $rc"
"$cli" probe --energy-read -1 >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "negative --energy-read gave $rc"
HWA_SYSROOT=$tmp/empty "$cli" probe --no-calibrate >/dev/null 2>"$tmp/err"; rc=$?
set -e
[ $rc = 1 ] || fail "a sysroot without /proc/cpuinfo gave $rc"
contains "$(cat "$tmp/err")" "proc/cpuinfo"
echo "ok: errors"
finish_skips
