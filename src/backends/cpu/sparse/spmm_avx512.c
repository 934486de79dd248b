/* The sparse product's kernels with AVX-512 (spmm.h): 16-wide gathers for
 * one activation row, the panel kernel (spmm_panel.inc) over 64 rows. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "backends/cpu/sparse/spmm.h"

#define W 16
#define VF __m512
#define SFX(name) name##_avx512
#define vzero() _mm512_setzero_ps()
#define vset1(x) _mm512_set1_ps(x)
#define vload(p) _mm512_loadu_ps(p)
#define vstore(p, v) _mm512_storeu_ps(p, v)
#define vadd _mm512_add_ps
#define vfma(a, b, c) _mm512_fmadd_ps(a, b, c)
#include "backends/cpu/sparse/spmm_panel.inc"

/* Two chains of 16 lanes; the row's last values under a mask. */
static void spmv_avx512(const int32_t *rp, const int32_t *col, const float *val, const float *x, int64_t n0,
                        int64_t n1, float *y) {
    for (int64_t n = n0; n < n1; n++) {
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        int64_t j = rp[n];
        const int64_t e = rp[n + 1];
        for (; j + 32 <= e; j += 32) {
            const __m512i i0 = _mm512_loadu_si512(col + j), i1 = _mm512_loadu_si512(col + j + 16);
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(val + j), _mm512_i32gather_ps(i0, x, 4), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(val + j + 16), _mm512_i32gather_ps(i1, x, 4), a1);
        }
        for (; j + 16 <= e; j += 16) {
            const __m512i i0 = _mm512_loadu_si512(col + j);
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(val + j), _mm512_i32gather_ps(i0, x, 4), a0);
        }
        if (j < e) {
            const __mmask16 k = (__mmask16)((1u << (e - j)) - 1);
            const __m512i i0 = _mm512_maskz_loadu_epi32(k, col + j);
            const __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, i0, x, 4);
            a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, val + j), g, a1);
        }
        y[n] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    }
}

const hwa__spmm_kern hwa__spmm_kern_avx512 = {"avx512", spmv_avx512, panel_avx512, pack_avx512, W, 4 * W};
#endif
