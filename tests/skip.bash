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

# skip_part KIND MESSAGE: a part of the test did not run for want of KIND;
# the test goes on, and finish_skips ends it as skipped (77), or as failed
# when HWA_REQUIRE lists KIND.
skipped_parts=""
skip_part_failed=0
skip_part() {
  if hwa_required "$1"; then
    echo "FAIL: HWA_REQUIRE lists $1, so this is a failure: $2"
    skip_part_failed=1
    return 0
  fi
  echo "skipped: $1: $2"
  skipped_parts="${skipped_parts:+$skipped_parts; }$1: $2"
}

# finish_skips: exits for a test whose own checks passed: 1 after a required
# part was missing, 77 after a skipped part, else 0.
finish_skips() {
  [ "$skip_part_failed" = 0 ] || exit 1
  if [ -n "$skipped_parts" ]; then
    echo "skipped: $skipped_parts"
    exit 77
  fi
  exit 0
}

# need_opencl_device CLI: sets dev to the first OpenCL device `CLI probe`
# lists and ndevs to how many it lists, or skips for "opencl" without one.
need_opencl_device() {
  local -a found
  mapfile -t found < <("$1" probe | sed -n 's/^\(opencl:[0-9]*\)  .*/\1/p')
  [ "${#found[@]}" -gt 0 ] || skip_for opencl "hwadapt probe finds no OpenCL device"
  dev=${found[0]}
  ndevs=${#found[@]}
}

# smollm2_path: prints SmolLM2-135M-Instruct.Q4_1.gguf's path ($HWA_SMOLLM2,
# else in $HWA_MODELS_DIR or the cache folder scripts/install-deps.sh fills)
# when the file exists; fails otherwise.
smollm2_path() {
  local f="${HWA_SMOLLM2:-${HWA_MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hwadapt/models}/SmolLM2-135M-Instruct.Q4_1.gguf}"
  [ -f "$f" ] && echo "$f"
}
