/* The kernels of src/backends/cuda/cuda_fast.cu built for the CPU through
 * the emulation in this folder (cuda_runtime.h), for tests that call their
 * launchers from C (test_cuda_blas_emu.c). */
#include "backends/cuda/cuda_fast.cu"
