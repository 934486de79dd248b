#!/usr/bin/env bash
# CUDA devices from the command line. Where there is no GPU (or no driver,
# or no CUDA module in the build), probe says why under "accelerator
# runtimes" and `bench --device cuda:0` exits non-zero naming the reason; a
# module path that names nothing, or a file that is no backend module, is
# refused with its reason. Where a GPU is present, bench runs linear1000 on
# it and validates it against the CPU.
set -euo pipefail
cli=${HWA_CLI:?HWA_CLI must name the built hwadapt}
src=${HWA_SOURCE_DIR:-$(pwd)}
source "$src/tests/skip.bash"
fail() { echo "FAIL: $*" >&2; exit 1; }
contains() { grep -qF -- "$2" <<<"$1" || fail "expected '$2' in:"$'\n'"$1"; }
build=$(dirname "$cli")

probe=$("$cli" probe)
contains "$probe" "hwadapt_cuda"
json=$("$cli" probe --json)
contains "$json" '"name": "hwadapt_cuda"'

if grep -q '^  cuda    [1-9]' <<<"$probe" && grep -q '^  hwadapt_cuda [1-9]' <<<"$probe"; then
    # a GPU and a module that opens it
    out=$("$cli" bench linear1000 --device cpu,cuda:0 -r 2 --min-time 0.2)
    contains "$out" "cuda:0"
else
    set +e
    out=$("$cli" bench linear1000 --device cuda:0 2>&1)
    rc=$?
    set -e
    [ "$rc" -ne 0 ] || fail "bench on cuda:0 without a CUDA device exited 0"
    contains "$out" "no device 'cuda:0': no cuda device: "
    # the reason is one of: no module in this build, no driver, no device
    grep -qE "this build has no cuda module|no NVIDIA driver|cudaGetDeviceCount|sees no device" <<<"$out" \
        || fail "no reason given: $out"
fi

# a module path that names nothing
set +e
out=$(HWA_CUDA_MODULE=/nonexistent/libhwadapt_cuda.so "$cli" bench linear1000 --device cuda:0 2>&1)
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "bench with a missing module exited 0"
contains "$out" "HWA_CUDA_MODULE names /nonexistent/libhwadapt_cuda.so, which does not exist"

# a shared object that is no backend module
if [ -f "$build/libhwadapt_mpi.so" ]; then
    set +e
    out=$(HWA_CUDA_MODULE="$build/libhwadapt_mpi.so" "$cli" bench linear1000 --device cuda:0 2>&1)
    rc=$?
    set -e
    [ "$rc" -ne 0 ] || fail "bench with a foreign module exited 0"
    contains "$out" "exports no hwa_backend_module_v1: not an hwadapt backend module"
fi
echo "cli_cuda: ok"
