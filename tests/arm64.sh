#!/usr/bin/env bash
# hwadapt on a CPU that is not x86: the library, the command and a set of
# tests cross-built for 64-bit ARM (Debian's gcc-aarch64-linux-gnu, Release
# flags, warnings as errors; without oneDNN, OpenBLAS, jansson and zlib, which
# have no arm64 packages on this host) and run under QEMU's user-mode
# emulation. The op, gradient, graph, differential-harness, optimizer, Llama, file
# format and passport tests pass; the passport lists the ARM features; a
# greedy generation prints the same text as on this machine. No arm64
# protobuf-c either: the build has no ONNX reader, and test_io_onnx checks
# that it says so (and reads .npy files, which need none).
# Skipped (77) without aarch64-linux-gnu-gcc (gcc-aarch64-linux-gnu) or
# qemu-aarch64 (qemu-user), or off x86-64. Run by ctest from the source
# directory; builds into <build>/arm64.
set -euo pipefail
. "$(dirname "$0")/emulated.bash"
[ "$(uname -m)" = x86_64 ] || { echo "skipped: not an x86-64 host"; exit 77; }
for t in aarch64-linux-gnu-gcc qemu-aarch64; do
  command -v $t >/dev/null || skip_for qemu "$t not found (gcc-aarch64-linux-gnu, qemu-user)"
done
src=$(pwd)
cli=${HWA_CLI:?HWA_CLI not set}
out=$(dirname "$cli")/arm64
tests=(test_ops_forward test_ops_grad test_core_graph test_backend_ops test_train_optim test_nn_llama test_io_gguf
  test_io_safetensors test_hw test_io_onnx)

# No pkg-config or find_library result may come from the x86 system.
PKG_CONFIG_LIBDIR=/nonexistent cmake -S "$src" -B "$out" -DCMAKE_BUILD_TYPE=Release -DHWA_WERROR=ON \
  -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 -DCMAKE_C_COMPILER=aarch64-linux-gnu-gcc \
  -DCMAKE_FIND_ROOT_PATH=/usr/aarch64-linux-gnu -DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER \
  -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY \
  -DCMAKE_FIND_ROOT_PATH_MODE_PACKAGE=ONLY >"$out.configure.log" 2>&1 || { cat "$out.configure.log"; exit 1; }
cmake --build "$out" -j "$(nproc)" --target hwadapt_cli "${tests[@]}" >"$out.build.log" 2>&1 ||
  { grep -E "error|warning" "$out.build.log" | head -40; exit 1; }

run() { qemu-aarch64 -L /usr/aarch64-linux-gnu "$@"; }
fail=0
emulated_tests "$out" run -- "${tests[@]/#/$out/}" || fail=1

# The text passport (JSON output needs jansson). QEMU's user mode shows the
# host's /proc/cpuinfo, so the identity is the host's; the ARM features come
# from the auxiliary vector, which QEMU emulates.
run "$out/hwadapt" probe --no-calibrate >"$out/probe.txt" || { echo "FAIL probe"; fail=1; }
# (the features line wraps at 100 columns: its block runs to the blank line)
sed -n '/^  features /,/^$/p' "$out/probe.txt" | grep -qw asimd ||
  { echo "FAIL no ARM features in the passport"; cat "$out/probe.txt"; fail=1; }

want=$(story "$cli")
if [ -n "$want" ]; then
  got=$(story run "$out/hwadapt") || { echo "FAIL generate"; fail=1; }
  [ "$got" = "$want" ] || { echo "FAIL generated text differs: '$got'"; fail=1; }
fi
[ $fail -eq 0 ] && echo "ok: ${#tests[@]} test programs, passport (ARM features), generate"
exit $fail
