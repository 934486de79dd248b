#!/usr/bin/env bash
# libtpu (PyPI `libtpu`, Google's TPU runtime, a PJRT plugin) on a machine
# without a TPU: hwadapt probe names the plugin and says there is no TPU
# device, with the plugin's own message, within 10 s (hwadapt sets
# TPU_SKIP_MDS_QUERY=1, so libtpu does not wait on a metadata server that
# only Cloud TPU VMs have; docs/pjrt.md). The wheel (about 140 MB) goes into
# a cache folder, once. Fails when the probe takes 10 s or more or does not
# say why there is no device. On a TPU VM it lists the TPU devices instead.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.bash
cli=$(hwa_cli "$PWD")
cache=${HWA_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hwadapt/bench}/libtpu
so=$cache/libtpu/libtpu.so
if [ ! -e "$so" ]; then
  echo "installing libtpu into $cache" >&2
  python3 -m pip install --quiet --no-deps --target "$cache" libtpu >&2 ||
    { echo "note: pip could not install libtpu; skipping" >&2; exit 0; }
fi
start=$(date +%s.%N)
HWA_PJRT_PLUGIN=$so "$cli" probe --list >"$cache.list" 2>"$cache.err" || { echo "FAIL: probe --list failed: $(cat "$cache.err")"; exit 1; }
end=$(date +%s.%N)
took=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }')
if grep -q "^pjrt:0 " "$cache.list"; then
  echo "libtpu: TPU devices found in $took s:"
  grep "^pjrt:" "$cache.list"
  exit 0
fi
msg=$(grep "^pjrt: none found" "$cache.err" || true)
echo "libtpu $(python3 -c 'import importlib.metadata as m, sys; sys.path.insert(0, sys.argv[1]); print(m.version("libtpu"))' "$cache" 2>/dev/null || echo '?'): probe --list in $took s"
echo "  $msg"
[ -n "$msg" ] || { echo "FAIL: the probe does not say why there is no TPU: $(cat "$cache.err")"; exit 1; }
awk -v t="$took" 'BEGIN { exit !(t < 10) }' || { echo "FAIL: $took s, not under 10 s"; exit 1; }
echo "ok: no TPU, said in $took s (goal: under 10 s)"
