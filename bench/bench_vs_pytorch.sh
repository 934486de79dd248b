#!/usr/bin/env bash
# hwadapt bench linear1000 --scenario single against PyTorch's timing loop of
# the same layer (Linear 1000 -> 1000 with bias, batch 64, f32), same thread
# count, same protocol (warm-up, then at least MIN_TIME seconds and
# MIN_QUERIES queries, one at a time), in the same run. Both sides validate
# before timing: hwadapt checks every row against f32 (and its core tests
# against an independent computation); the PyTorch side checks its output
# against a float64 product. Prints p50/p90/p99 and the ratios.
# Needs Debian's python3-torch and python3-numpy; skips without them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build}
case $build in /*) ;; *) build=$root/$build ;; esac
cli=${HWA_CLI:-$build/hwadapt}
threads=${THREADS:-1}
min_time=${MIN_TIME:-3}
min_queries=${MIN_QUERIES:-20}
[ -x "$cli" ] || { echo "bench_vs_pytorch: $cli not built" >&2; exit 1; }
. "$here/lib.bash"
if ! py=$(hwa_python torch numpy); then
  echo "bench_vs_pytorch: skipped (no python3 with torch and numpy; apt-get install python3-torch)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$cli" bench linear1000 --scenario single --threads "$threads" --min-time "$min_time" \
  --min-queries "$min_queries" --json -o "$tmp/hwadapt.json" 2>/dev/null

OMP_NUM_THREADS=$threads "$py" - "$tmp/hwadapt.json" "$threads" "$min_time" "$min_queries" <<'PY'
import json, sys, time
import numpy as np
import torch

report, threads, min_time, min_queries = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)
layer = torch.nn.Linear(1000, 1000)
x = torch.rand(64, 1000) * 2 - 1

with torch.inference_mode():
    # Validate, then time.
    y = layer(x)
    ref = x.double() @ layer.weight.double().T + layer.bias.double()
    err = (y.double() - ref).abs().max().item()
    assert err < 1e-4, f"PyTorch Linear differs from the float64 product by {err}"
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.2:
        layer(x)
    lat = []
    start = time.perf_counter()
    while len(lat) < min_queries or time.perf_counter() - start < min_time:
        t = time.perf_counter()
        layer(x)
        lat.append(time.perf_counter() - t)
lat_ms = np.array(lat) * 1e3
torch_p = {p: float(np.percentile(lat_ms, p)) for p in (50, 90, 99)}  # linear interpolation, as hwadapt

row = json.load(open(report))["results"][0]
ours = row["latency_ms"]
print(f"Linear 1000->1000 + bias, batch 64, f32, {threads} thread(s), single stream")
print(f"hwadapt: kernel {row['kernel']}, {row['queries']} queries, CV {row['cv']:.3f}; "
      f"PyTorch {torch.__version__}: {len(lat)} queries, CV {lat_ms.std(ddof=1) / lat_ms.mean():.3f}, "
      f"validated (max abs err vs float64 {err:.2e})")
print()
print(f"| latency | hwadapt ms | PyTorch ms | hwadapt / PyTorch |")
print(f"| --- | ---: | ---: | ---: |")
for p in (50, 90, 99):
    a, b = ours[f"p{p}"], torch_p[p]
    print(f"| p{p} | {a:.3f} | {b:.3f} | {a / b:.2f}x |")
sps_t = 64 / (lat_ms.mean() / 1e3)
print(f"| samples/s | {row['samples_per_s']:.0f} | {sps_t:.0f} | {row['samples_per_s'] / sps_t:.2f}x |")
PY
