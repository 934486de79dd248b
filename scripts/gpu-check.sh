#!/usr/bin/env bash
# GPU machine check, one short run: builds hwadapt (and, where nvcc is
# present, a CUDA smoke test that proves the toolchain and the driver agree),
# prints `hwadapt probe --json`, runs the OpenCL backend's tests on every GPU
# OpenCL device, then reads every power meter (NVML energy, RAPL) for 10
# seconds. On a machine without a GPU every step still runs
# and reports "none found". Output goes to stdout and, when OUT is set, to
# files under $OUT (probe.json, energy.json, gpu-check.log).
#
#   scripts/gpu-check.sh            # build in build-gpu, check
#   SECONDS_ENERGY=3 scripts/gpu-check.sh
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-gpu}
energy_s=${SECONDS_ENERGY:-10}
out=${OUT:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log() { echo "== $*"; }

log "build ($build)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" 2>&1 &&
    cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >>"$tmp/cmake.log" 2>&1 ||
    { tail -30 "$tmp/cmake.log"; echo "gpu-check: build failed" >&2; exit 1; }
cli=$build/hwadapt

nvcc=$(command -v nvcc || true)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ -n "$nvcc" ]; then
    log "CUDA toolchain: $("$nvcc" --version | tail -1)"
    cat >"$tmp/smoke.cu" <<'CU'
#include <cstdio>
__global__ void axpy(int n, float a, const float *x, float *y) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += a * x[i];
}
int main() {
    int n = 1 << 20, count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) { printf("cuda smoke: no CUDA device\n"); return 0; }
    float *x, *y;
    cudaMallocManaged(&x, n * sizeof(float));
    cudaMallocManaged(&y, n * sizeof(float));
    for (int i = 0; i < n; i++) { x[i] = 1.0f; y[i] = 2.0f; }
    axpy<<<(n + 255) / 256, 256>>>(n, 3.0f, x, y);
    cudaDeviceSynchronize();
    int bad = 0;
    for (int i = 0; i < n; i++) bad += y[i] != 5.0f;
    cudaDeviceProp p;
    cudaGetDeviceProperties(&p, 0);
    printf("cuda smoke: %d device(s), %s sm_%d%d, axpy %s\n", count, p.name, p.major, p.minor, bad ? "WRONG" : "ok");
    return bad != 0;
}
CU
    if "$nvcc" -O2 -o "$tmp/smoke" "$tmp/smoke.cu" >"$tmp/nvcc.log" 2>&1; then
        "$tmp/smoke" || echo "cuda smoke: failed (rc $?)"
    else
        echo "cuda smoke: nvcc could not build it:"; tail -5 "$tmp/nvcc.log"
    fi
else
    log "CUDA toolchain: nvcc not found; hwadapt needs none (libcuda and NVML are loaded at run time)"
fi

log "hwadapt probe --json"
"$cli" probe --json >"$tmp/probe.json" || { echo "gpu-check: probe failed" >&2; exit 1; }
cat "$tmp/probe.json"
python3 - "$tmp/probe.json" <<'PY' 2>/dev/null || true
import json, sys
d = json.load(open(sys.argv[1]))
cuda = [x for x in d["devices"] if x["kind"] == "cuda"]
print("== summary: %d device(s): %s" % (len(d["devices"]), ", ".join(x["id"] for x in d["devices"])))
for r in d["runtimes"]:
    print("   %-6s %s" % (r["name"], "%d device(s)" % r["devices"] if r["devices"] else "none found: %s" % r["note"]))
if not cuda:
    print("   no CUDA device found")
print("   power meters: %s" % (", ".join(m["name"] for m in d["power_meters"]) or "none found"))
PY

# The OpenCL backend's tests on every GPU OpenCL device: the differential
# harness (every op against the CPU's reference kernels) and the golden op
# cases against PyTorch. PoCL (a CPU device) is tested by make test.
gpus=$(python3 - "$tmp/probe.json" <<'PY' 2>/dev/null
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(x["id"] for x in d["devices"] if x["kind"] == "opencl" and x.get("type") != "cpu"))
PY
)
if [ -z "$gpus" ]; then
    log "OpenCL on a GPU: none found (no OpenCL platform with a GPU device)"
else
    for dev in $gpus; do
        log "OpenCL harness on $dev"
        (cd "$root" && HWA_TEST_OPENCL=$dev "$build/test_backend_ops" opencl 2>&1 | tee "$tmp/opencl-$dev.log" | tail -15) ||
            echo "gpu-check: test_backend_ops on $dev failed"
        (cd "$root" && HWA_TEST_OPENCL=$dev "$build/test_ops_forward" 2>&1 | tee -a "$tmp/opencl-$dev.log" | tail -3) ||
            echo "gpu-check: test_ops_forward on $dev failed"
        [ -n "$out" ] && mkdir -p "$out" && cp "$tmp/opencl-$dev.log" "$out/"
    done
fi

log "energy read, $energy_s s (hwadapt probe --energy-read $energy_s)"
"$cli" probe --energy-read "$energy_s" --json >"$tmp/energy.json" || { echo "gpu-check: energy read failed" >&2; exit 1; }
cat "$tmp/energy.json"
if [ -n "$out" ]; then
    mkdir -p "$out" && cp "$tmp/probe.json" "$tmp/energy.json" "$out/"
fi
