#!/usr/bin/env bash
# Opening a 1 GiB safetensors file of 1,000 tensors must validate in <= 50 ms
# (median) without reading the data (mmap): peak RSS far below the file size.
# Needs ./build (make build) and about 1.1 GB free in ${TMPDIR:-/tmp}.
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
omp=$(echo 'int main(void){return 0;}' | cc -x c -fopenmp - -o "$tmp/omp" 2>/dev/null && echo -fopenmp || true)
cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude bench/io_open_bench.c "$build/libhwadapt.a" -ljansson -lz -lm -ldl -lpthread $omp \
   -o "$tmp/io_open_bench"
"$tmp/io_open_bench" write "$tmp/1gb.safetensors"
sync
"$tmp/io_open_bench" open "$tmp/1gb.safetensors"
