/* The OpenBLAS matmul provider: f32 sgemm, then our bias/activation
 * epilogue. */
#include "backends/cpu/matmul/mm.h"

#if defined(HWA_HAVE_OPENBLAS)
#include <cblas.h>

#include "backends/cpu/cpu_isa.h"

hwa_status hwa__mm_openblas_run(const hwa__mm_problem *p, const hwa__simd *simd, int nthreads, char *name,
                                size_t name_cap) {
    if (!hwa__isa_libraries_allowed()) return HWA_E_UNSUPPORTED;
    if (p->dt_a != HWA_F32 || p->dt_b != HWA_F32 || p->dt_c != HWA_F32 || (p->bias && p->dt_bias != HWA_F32))
        return HWA_E_UNSUPPORTED;
    if (p->M > INT32_MAX || p->N > INT32_MAX || p->K > INT32_MAX || p->lda > INT32_MAX || p->ldb > INT32_MAX ||
        p->ldc > INT32_MAX)
        return HWA_E_UNSUPPORTED;
    if (p->accumulate && (p->bias || p->act != HWA_OP_NONE)) return HWA_E_UNSUPPORTED;
    static int threads_set = 0;
    if (threads_set != nthreads) {
        openblas_set_num_threads(nthreads);
        threads_set = nthreads;
    }
    cblas_sgemm(CblasRowMajor, p->ta ? CblasTrans : CblasNoTrans, p->tb ? CblasTrans : CblasNoTrans, (int)p->M,
                (int)p->N, (int)p->K, 1.0f, p->a, (int)p->lda, p->b, (int)p->ldb, p->accumulate ? 1.0f : 0.0f, p->c, (int)p->ldc);
    hwa__mm_epilogue(p, simd, nthreads);
    snprintf(name, name_cap, "openblas:sgemm%s%s%s", p->bias ? "+bias" : "",
             p->act == HWA_OP_RELU ? "+relu" : p->act == HWA_OP_GELU ? "+gelu" : "", p->accumulate ? "+acc" : "");
    return HWA_OK;
}

#else

hwa_status hwa__mm_openblas_run(const hwa__mm_problem *p, const hwa__simd *simd, int nthreads, char *name,
                                size_t name_cap) {
    return HWA_E_UNSUPPORTED;
}

#endif
