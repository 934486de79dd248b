# Sourced by the tests that run hwadapt under QEMU's user mode
# (older_cpus.sh, arm64.sh).

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
