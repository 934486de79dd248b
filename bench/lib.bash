# Shared by the bench scripts: source it (named .bash so that `make bench`, which runs bench/*.sh, passes it by).

# hwa_python MODULE...: prints the first python3 that imports every MODULE:
# $PYTHON when set, else python3 on the PATH, else /usr/bin/python3 (Debian's
# python3-torch and python3-numpy live in the system python, which a pyenv
# shim may hide). Prints nothing and fails when none does.
hwa_python() {
  local p mods
  mods=$(IFS=,; echo "$*")
  for p in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c "import $mods" 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# hwa_cli ROOT: prints the hwadapt command to run: $HWA_CLI when set, else
# $BUILD/hwadapt ($BUILD relative to ROOT, default build), configured and
# built first (progress on stderr) when it is not there.
hwa_cli() {
  local root=$1 build=${BUILD:-build}
  case $build in /*) ;; *) build=$root/$build ;; esac
  if [ -n "${HWA_CLI:-}" ]; then echo "$HWA_CLI"; return 0; fi
  if [ ! -x "$build/hwadapt" ]; then
    echo "building $build/hwadapt" >&2
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >&2 && cmake --build "$build" -j "$(nproc)" --target hwadapt_cli >&2 || return 1
  fi
  echo "$build/hwadapt"
}

# hwa_llama110m PY OUT: writes the synthetic 110M-parameter Llama checkpoint
# the decode benches share (dim 768, 12 layers, 12 heads, vocab 32000, random
# f32 weights; about 450 MB) to OUT with python PY (numpy).
hwa_llama110m() {
  "$1" bench/make_llama_checkpoint.py "$2" --dim 768 --hidden 2048 --layers 12 --heads 12 \
    --kv-heads 12 --vocab 32000 --seq-len 1024
}

# hwa_have_pjrt0 CLI: whether CLI's probe lists pjrt:0; when not, says so on
# stderr (the pjrt bench scripts then exit 0: nothing to measure).
hwa_have_pjrt0() {
  if ! "$1" probe --list 2>/dev/null | grep -q "^pjrt:0 "; then
    echo "note: no pjrt:0 (scripts/install-deps.sh installs the XLA CPU plugin); skipping" >&2
    return 1
  fi
}

# hwa_ggml_build: builds ggml, the CPU tensor library of llama.cpp (the peer
# for quantized products and decoding), from the llama.cpp sources that
# PyPI's llama-cpp-python sdist vendors, into a cache folder, once; prints
# that llama.cpp folder (with build/ inside). Built statically, with OpenMP
# threads and every x86 extension this CPU has (as GGML_NATIVE would) except
# AMX: ggml 0.25.3's AMX path dies with SIGILL on its first tile load here
# (its llama-bench on an AMX Xeon), so ggml is measured as it runs on CPUs
# without AMX (its AVX-512 VNNI/BF16 kernels). Builds ggml and llama-bench.
# Progress on stderr; fails when pip or cmake cannot. HWA_GGML_VERSION picks
# the sdist (default 0.3.36).
hwa_ggml_build() {
  local ver=${HWA_GGML_VERSION:-0.3.36}
  local cache=${XDG_CACHE_HOME:-$HOME/.cache}/hwadapt/bench/ggml-$ver
  local src=$cache/llama_cpp_python-$ver/vendor/llama.cpp
  if [ ! -f "$src/build/.hwa-built" ]; then
    mkdir -p "$cache"
    if [ ! -d "$src" ]; then
      echo "fetching llama-cpp-python $ver (the llama.cpp sources) from PyPI into $cache" >&2
      PIP_ROOT_USER_ACTION=ignore python3 -m pip download --quiet --no-deps --no-binary :all: \
        -d "$cache" "llama-cpp-python==$ver" >&2 || return 1
      tar -xzf "$cache/llama_cpp_python-$ver.tar.gz" -C "$cache" || return 1
    fi
    echo "building ggml and llama-bench in $src/build (a few minutes, once)" >&2
    local flags isa=() f
    flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null) "
    for f in avx:AVX avx2:AVX2 fma:FMA f16c:F16C bmi2:BMI2 avx_vnni:AVX_VNNI avx512f:AVX512 \
             avx512vbmi:AVX512_VBMI avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16; do
      [[ $flags == *" ${f%%:*} "* ]] && isa+=("-DGGML_${f#*:}=ON")
    done
    cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF "${isa[@]}" \
      -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >&2 || return 1
    cmake --build "$src/build" -j "$(nproc)" --target ggml llama-bench >&2 || return 1
    touch "$src/build/.hwa-built"
  fi
  echo "$src"
}
