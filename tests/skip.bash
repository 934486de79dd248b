# Sourced by the shell tests: skip_for KIND MESSAGE exits 77 (skipped, to
# ctest) for want of something a machine may lack, or 1 (failed) when
# HWA_REQUIRE lists KIND (comma-separated; "all" lists every kind), as the C
# tests' SKIP_FOR does (tests/harness.h). CI sets HWA_REQUIRE for what its
# machine has (.ci/run).
hwa_required() {
  local k
  for k in $(echo "${HWA_REQUIRE:-}" | tr ',' ' '); do
    [ "$k" = "$1" ] || [ "$k" = all ] && return 0
  done
  return 1
}

skip_for() {
  if hwa_required "$1"; then
    echo "FAIL: HWA_REQUIRE lists $1, so this is a failure: $2"
    exit 1
  fi
  echo "skipped: $1: $2"
  exit 77
}
