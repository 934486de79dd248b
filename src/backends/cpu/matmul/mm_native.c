/* The native matmul provider: our own blocked f32 GEMM for builds and hosts
 * without oneDNN and OpenBLAS; the portable compile of mm_native_impl.inc,
 * plus the AVX-512 compile when the active ISA level allows it. */
#include "backends/cpu/matmul/mm.h"

#include <stdio.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "backends/cpu/cpu_isa.h"

#define SFX(name) name##_generic
#define MR 4
#define NR 8
#define FMA(a, b, c) ((a) * (b) + (c))
#include "backends/cpu/matmul/mm_native_impl.inc"

#if defined(__x86_64__)
hwa_status hwa__mm_native_gemm_avx512(hwa_ctx *ctx, const hwa__mm_problem *p, int nthreads);
#endif

hwa_status hwa__mm_native_run(hwa_ctx *ctx, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads, char *name,
                              size_t name_cap) {
    if (p->dt_a != HWA_F32 || p->dt_b != HWA_F32 || p->dt_c != HWA_F32 || (p->bias && p->dt_bias != HWA_F32) ||
        p->accumulate)
        return HWA_E_UNSUPPORTED;
    hwa_status st;
    const char *variant = "generic";
#if defined(__x86_64__)
    if (hwa__isa_active() >= HWA_ISA_AVX512) {
        variant = "avx512";
        st = hwa__mm_native_gemm_avx512(ctx, p, nthreads);
    } else
#endif
        st = native_gemm_generic(ctx, p, nthreads);
    if (st) return hwa__err(ctx, st, "matmul: out of memory for the native kernel's packing buffers");
    hwa__mm_epilogue(p, simd, nthreads);
    snprintf(name, name_cap, "native:%s%s%s", variant, p->bias ? "+bias" : "",
             p->act == HWA_OP_RELU ? "+relu" : p->act == HWA_OP_GELU ? "+gelu" : "");
    return HWA_OK;
}
