/* The native GEMM (mm_native_impl.inc) compiled for AVX-512 with FMA. */
#if defined(__x86_64__)
#include <math.h>

#include "backends/cpu/matmul/mm.h"

#define SFX(name) name##_avx512
#define MR 8
#define NR 32
#define FMA(a, b, c) fmaf(a, b, c)
#include "backends/cpu/matmul/mm_native_impl.inc"

hwa_status hwa__mm_native_gemm_avx512(hwa_ctx *ctx, const hwa__mm_problem *p, int nthreads) {
    return native_gemm_avx512(ctx, p, nthreads);
}
#endif
