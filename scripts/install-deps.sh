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

packages=(
  build-essential cmake pkg-config
  zlib1g-dev libjansson-dev
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
