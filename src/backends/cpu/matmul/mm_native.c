/* The native matmul provider: our own blocked f32 GEMM for builds and hosts
 * without oneDNN and OpenBLAS; the portable compile of mm_native_impl.inc,
 * plus the AVX-512 compile when the active ISA level allows it. */
#include "backends/cpu/matmul/mm.h"

#include <stdio.h>

#include "backends/cpu/cpu_isa.h"

#define SFX(name) name##_generic
#define MR 4
#define NR 8
#define FMA(a, b, c) ((a) * (b) + (c))
#include "backends/cpu/matmul/mm_native_impl.inc"

#if defined(__x86_64__)
hwa_status hwa__mm_native_gemm_avx512(hwa_ctx *ctx, const hwa__mm_problem *p, int nthreads);
#endif

bool hwa__mm_gemv_fits(const hwa__mm_problem *p, const hwa__simd *simd) {
    return simd && p->M <= HWA_MM_GEMV_MAX_M && !p->ta && p->tb && p->dt_a == HWA_F32 &&
           (p->dt_b == HWA_F32 || p->dt_b == HWA_F16 || p->dt_b == HWA_BF16) && p->dt_c == HWA_F32 && (!p->bias || p->dt_bias == HWA_F32) && p->precision == HWA_MATMUL_PRECISION_F32;
}

/* Weight rows per thread below which a second thread costs more than it
 * saves (a fork and join is a few microseconds; 64 rows of 768 floats is
 * about 200 KB of weights, some 20 microseconds at 10 GB/s). */
#define GEMV_ROWS_MIN 64

/* The small-M product straight from B's storage (mmapped weights are read
 * in place, nothing is packed): threads own ranges of output columns, so
 * every result is the same single sum whatever the thread count. */
typedef struct gemv_job {
    const hwa__mm_problem *p;
    const hwa__simd *simd;
} gemv_job;

static void gemv_cols(void *ctx, int64_t n0, int64_t n1, int tid) {
    const gemv_job *j = ctx;
    const hwa__mm_problem *p = j->p;
    if (p->dt_b == HWA_F16) j->simd->gemv_nt_f16(p->a, p->lda, p->M, p->b, p->ldb, p->K, n0, n1, p->c, p->ldc);
    else if (p->dt_b == HWA_BF16) j->simd->gemv_nt_bf16(p->a, p->lda, p->M, p->b, p->ldb, p->K, n0, n1, p->c, p->ldc);
    else j->simd->gemv_nt(p->a, p->lda, p->M, p->b, p->ldb, p->K, n0, n1, p->c, p->ldc);
}

static void gemv(const hwa__mm_problem *p, const hwa__simd *simd, int nthreads) {
    /* weight rows of 768 as the unit: a [172, 64] product (a 260K model's
     * FFN) is 3 us of work, less than a second thread costs (stories260K
     * decode on 2 idle cores: 3,600 tokens/s on two threads split by rows
     * alone against 4,300 on one) */
    const int64_t work = p->N * (p->K > 0 ? p->K : 1);
    int nt = (int)(work / (GEMV_ROWS_MIN * 768));
    nt = nt < 1 ? 1 : nt < nthreads ? nt : nthreads;
    /* four column ranges of whole 64-byte lines per thread, at least
     * GEMV_ROWS_MIN weight rows each */
    int64_t chunk = ((p->N + 4 * nt - 1) / (4 * nt) + 15) & ~(int64_t)15;
    if (chunk < GEMV_ROWS_MIN) chunk = GEMV_ROWS_MIN;
    gemv_job j = {p, simd};
    hwa__par_for(nt, p->N, nt > 1 ? chunk : p->N, gemv_cols, &j);
}

hwa_status hwa__mm_native_run(hwa_ctx *ctx, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads, char *name,
                              size_t name_cap) {
    const bool gemv_ok = hwa__mm_gemv_fits(p, simd) && p->K > 0;
    /* f16 weights only for the GEMV; the blocked kernel takes f32. */
    if (p->dt_a != HWA_F32 || (p->dt_b != HWA_F32 && !((p->dt_b == HWA_F16 || p->dt_b == HWA_BF16) && gemv_ok)) ||
        p->dt_c != HWA_F32 ||
        (p->bias && p->dt_bias != HWA_F32) || p->accumulate)
        return HWA_E_UNSUPPORTED;
    if (gemv_ok) {
        gemv(p, simd, nthreads);
        hwa__mm_epilogue(p, simd, nthreads);
        snprintf(name, name_cap, "native:gemv-%s%s%s%s",
                 p->dt_b == HWA_F16 ? "f16w-" : p->dt_b == HWA_BF16 ? "bf16w-" : "", simd->name,
                 p->bias ? "+bias" : "",
                 p->act == HWA_OP_RELU ? "+relu" : p->act == HWA_OP_GELU ? "+gelu" : "");
        return HWA_OK;
    }
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
