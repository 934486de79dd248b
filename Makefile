# hwadapt — the entry points a user and CI need. CMake does the building.
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
# PoCL's compiled kernels (CLBlast's take minutes to compile for a CPU
# device), kept between runs and shared by the release and sanitized tests.
export POCL_CACHE_DIR ?= $(CURDIR)/build-pocl-cache

.PHONY: all deps build test run test-asan bench fuzz install clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

run: build
	./$(BUILD)/hwadapt

test-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DHWA_SANITIZE=ON $(CMAKE_ARGS)
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir $(BUILD_ASAN) --output-on-failure -j $(JOBS)

bench: build
	@# bench/cuda.sh exits 2 where there is no CUDA device (it says why): not a failure here
	@for b in bench/*.sh; do [ -e "$$b" ] || continue; echo "== $$b"; bash "$$b"; rc=$$?; \
	  [ $$rc -eq 0 ] || { [ "$$b" = bench/cuda.sh ] && [ $$rc -eq 2 ]; } || exit 1; done

# The command, headers, libhwadapt.a/.so, the MPI module and hwadapt.pc
# under PREFIX (README: "Using the library").
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

fuzz: deps
	@scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) build-fuzz build-pocl-cache
