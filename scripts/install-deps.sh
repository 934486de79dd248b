#!/usr/bin/env bash
# Installs the Debian packages that building and testing hwadapt need.
# A no-op when they are all present; when not root, prints the command to run.
set -eu

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
