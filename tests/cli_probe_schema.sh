#!/usr/bin/env bash
# `hwadapt probe --json` validates against docs/passport.schema.json: on this
# machine (calibrated, then from the cache), on the fixture trees, and with a
# fake NVIDIA driver. Needs python3 with jsonschema; skips (77) without it.
set -euo pipefail
cli=${HWA_CLI:?HWA_CLI must name the built hwadapt}
src=${HWA_SOURCE_DIR:-$(pwd)}
# Debian's python3-jsonschema (scripts/install-deps.sh) lives with /usr/bin/python3.
py=""
for c in /usr/bin/python3 python3; do
  if "$c" -c 'import jsonschema' 2>/dev/null; then py=$c; break; fi
done
. "$(dirname "$0")/skip.bash"
[ -n "$py" ] || skip_for python "no python3 with jsonschema (Debian package python3-jsonschema)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=$tmp/cache

"$cli" probe --json > "$tmp/here.json"
"$cli" probe --json > "$tmp/here-cached.json"
for f in container arm rapl; do HWA_SYSROOT=$src/tests/fixtures/hw/$f "$cli" probe --json --no-calibrate > "$tmp/$f.json"; done
files=("$tmp"/here.json "$tmp"/here-cached.json "$tmp"/container.json "$tmp"/arm.json "$tmp"/rapl.json)
if cc -shared -fPIC -o "$tmp/libfake_nvidia.so" "$src/tests/fixtures/hw/fake_nvidia.c" 2>/dev/null; then
    HWA_CUDA_LIB=$tmp/libfake_nvidia.so HWA_NVML_LIB=$tmp/libfake_nvidia.so "$cli" probe --json > "$tmp/fake-cuda.json"
    files+=("$tmp/fake-cuda.json")
fi
"$py" - "$src/docs/passport.schema.json" "${files[@]}" <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
for path in sys.argv[2:]:
    doc = json.load(open(path))
    errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
    for e in errors:
        print("%s: %s at %s" % (path, e.message, "/".join(map(str, e.path))))
    if errors:
        sys.exit(1)
    print("ok:", path.rsplit("/", 1)[-1])
here = json.load(open(sys.argv[2]))
cached = json.load(open(sys.argv[3]))
cpu, cpu_cached = here["devices"][0], cached["devices"][0]
assert cpu["peak_gflops"]["f32"] > 0, "no calibrated f32 peak"
assert cpu["peak_method"] == "matmul", "hwadapt probe calibrates through its matmul kernels, got %r" % cpu["peak_method"]
assert cpu["fma_peak_gflops"]["f32"] > 0, "no FMA-loop f32 figure beside the matmul peak"
assert not cpu["calibration_cached"] and cpu_cached["calibration_cached"], "cache not reused"
assert cpu_cached["peak_gflops"] == cpu["peak_gflops"]
assert cpu_cached["fma_peak_gflops"] == cpu["fma_peak_gflops"]
# every OpenCL device is calibrated too (PoCL here), and cached like the CPU
for d, dc in zip(here["devices"][1:], cached["devices"][1:]):
    if not d["id"].startswith("opencl:"):
        continue
    assert d["peak_method"] == "fma-loop" and d["peak_gflops"]["f32"] > 0, (d["id"], d["peak_gflops"])
    assert d["bandwidth"]["copy"] > 0 and d["bandwidth_gbs"] > 0, d["id"]
    assert d["transfer_gbs"]["to_device"] > 0 and d["transfer_gbs"]["from_device"] > 0, d["id"]
    assert d["launch_us"] > 0, d["id"]
    assert ("f16" in d["peak_gflops"]) == d["fp16"], "an f16 peak exactly where the device has cl_khr_fp16"
    assert not d["calibration_cached"] and dc["calibration_cached"], "%s: cache not reused" % d["id"]
    for k in ("peak_gflops", "bandwidth", "transfer_gbs", "launch_us"):
        assert dc[k] == d[k], (d["id"], k)
    print("ok: %s calibrated (f32 %.1f GFLOP/s, launch %.1f us) and cached" % (d["id"], d["peak_gflops"]["f32"], d["launch_us"]))
for f in sys.argv[4:7]:  # the --no-calibrate fixtures
    d = json.load(open(f))["devices"][0]
    assert d["peak_method"] is None and d["peak_gflops"] == {} and d["fma_peak_gflops"] == {}, f
    assert d["transfer_gbs"] is None and d["launch_us"] is None, f
PY
