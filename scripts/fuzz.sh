#!/usr/bin/env bash
# Builds one libFuzzer target per parser (tests/fuzz/fuzz_*.c) with
# clang -fsanitize=fuzzer,address,undefined, seeds each from ../shared/data and
# the regression corpus, runs each for N seconds (default 60), one at a time,
# and prints the executions each made. A crash stops the script with its
# reproducer in build-fuzz/<target>/; add it to tests/fuzz/regress/.
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors gguf llama2c idx settings imatrix cmodel onnx npy)
out=build-fuzz
data=../shared/data
mkdir -p "$out"
cflags=(-g -O1 -std=c11 -D_GNU_SOURCE -DHWA_HAVE_JANSSON=1 -DHWA_HAVE_ZLIB=1 -Iinclude -Isrc -Itests/fuzz
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
srcs=(src/core/status.c src/core/dtype.c src/core/file.c src/io/*.c src/nn/tokenizer.c src/nn/tokenizer_bpe.c
      src/compress/model.c src/compress/huffman.c src/compress/format.c)
# the ONNX reader: onnx.proto compiled by protoc-c (as CMake does) into the fuzz build
mkdir -p "$out/onnx"
protoc-c --proto_path=/usr/include/onnx --c_out="$out/onnx" /usr/include/onnx/onnx.proto
srcs+=(src/io/onnx/model.c src/io/onnx/graph.c src/io/onnx/npy.c src/io/onnx/pb_*.c "$out/onnx/onnx.pb-c.c")
cflags+=(-I"$out/onnx")

seed() { # seed <target> <dir>
  local d=$2
  mkdir -p "$d"
  case $1 in
    safetensors) cp -f $data/tiny-random-gpt2/model.safetensors "$d/" 2>/dev/null || true ;;
    gguf) cp -f $data/stories260K/stories260K.gguf $data/llama-2-tiny-random/llama-2-tiny-random.gguf "$d/" 2>/dev/null || true ;;
    llama2c) cp -f $data/stories260K/stories260K.bin $data/stories260K/tok512.bin "$d/" 2>/dev/null || true ;;
    idx) for f in /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz; do [ -e "$f" ] && cp -f "$f" "$d/"; done
         [ -e /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] && gzip -dc /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz > "$d/t10k-labels.idx" || true ;;
    settings) printf '# a valid file\n[all]\ndevice = cpu\nthreads = 2\ndtype = f32\n[train]\nbatch = 64\n[generate]\ndtype = f16\n[bench]\nbatch = 8\n[bench linear1000]  # one workload\ndtype = bf16\r\n' > "$d/valid.ini"
              printf '{"hwadapt": "tune", "version": 1, "tune": {"lr": [1e-4, 0.5]},\n "all": {"threads": 2},\n "train": {"batch": 64, "optimizer": "adamw", "lr": 0.001, "momentum": 0.9, "weight_decay": 0.01,\n  "schedule": "cosine", "epochs": 3, "step_epochs": 1, "gamma": 0.5, "dtype": "bf16"},\n "bench linear1000": {"dtype": "f16", "batch": 8}}\n' > "$d/valid.json" ;;
    imatrix) [ -e build/hwadapt ] && [ -e $data/stories260K/stories260K.gguf ] && [ -e $data/tinyshakespeare.txt ] &&
             head -c 20000 $data/tinyshakespeare.txt > "$d/calib.txt" &&
             build/hwadapt imatrix $data/stories260K/stories260K.gguf --text "$d/calib.txt" -o "$d/stories.imatrix" \
               --ctx 32 --chunks 2 > /dev/null && rm -f "$d/calib.txt" || true ;;
  esac
  for r in tests/fuzz/regress/$1*/*; do [ "$(basename "$r")" = MANIFEST ] || cp -f "$r" "$d/"; done
}

for t in "${targets[@]}"; do
  bin=$out/fuzz_$t
  clang "${cflags[@]}" "${srcs[@]}" tests/fuzz/fuzz_$t.c -ljansson -lz -lprotobuf-c -lm -o "$bin"
  seed "$t" "$out/$t/seeds"
  mkdir -p "$out/$t/corpus"
  log=$out/$t/log.txt
  echo "== fuzz_$t: ${secs}s"
  (cd "$out/$t" && ../fuzz_$t -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 corpus seeds) >"$log" 2>&1 || { echo "fuzz_$t: FAILED, see $log"; tail -40 "$log"; exit 1; }
  execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  echo "fuzz_$t: ${execs:-?} executions in ${secs}s, no findings"
done
