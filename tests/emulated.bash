# Sourced by the tests that run hwadapt under QEMU's user mode
# (older_cpus.sh, arm64.sh).

# The command re-executes itself to set libgomp's spin (tools/hwadapt/main.c);
# an exec from inside qemu-user is the kernel's, so the new image would run
# natively, on this machine's CPU, and no longer under the emulated one.
export HWA_OMP_REEXEC=0

# The emulated CPUs lack this machine's ISA levels by design, and the
# cross-built arm64 tests have no arm64 jansson or OpenCL: of the
# requirements (HWA_REQUIRE, .ci/run), only the data ones hold here.
HWA_REQUIRE=$(echo "${HWA_REQUIRE:-}" | tr ',' '\n' | { grep -xE 'data|fmnist' || true; } | paste -sd, -)
export HWA_REQUIRE

# No OpenCL under emulation: PoCL would compile its kernels with LLVM inside
# QEMU (minutes per program, past the test's time limit) for a CPU model it
# may not match; the native run tests the OpenCL backend.
export HWA_OPENCL_LIB=/nonexistent

# emulated_tests LOGDIR RUNNER... -- PROGRAM...: runs each test program under
# RUNNER (a command or a function), its output in LOGDIR/<name>.log; prints
# the end of the log of each that neither passes nor skips (exit 77).
# Returns non-zero when any failed.
emulated_tests() {
  local logs=$1 runner=() t rc bad=0
  shift
  while [ "$1" != -- ]; do runner+=("$1"); shift; done
  shift
  for t in "$@"; do
    set +e
    "${runner[@]}" "$t" >"$logs/$(basename "$t").log" 2>&1
    rc=$?
    set -e
    if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
      echo "FAIL $(basename "$t") exited with $rc"
      tail -20 "$logs/$(basename "$t").log"
      bad=1
    fi
  done
  return $bad
}

# story COMMAND...: the greedy generation both tests compare with this
# machine's, stories260K's first 24 steps, printed by COMMAND (hwadapt, or an
# emulator running it) with "generate ..." appended; prints nothing and
# succeeds when HWA_DATA_DIR lacks the model.
story() {
  local d=${HWA_DATA_DIR:-}/stories260K
  [ -f "$d/stories260K.bin" ] || return 0
  "$@" generate "$d/stories260K.bin" --tokenizer "$d/tok512.bin" --prompt "Once upon a time" --temperature 0 \
    --steps 24 2>/dev/null
}
