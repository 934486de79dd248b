/* The sparse product's kernels with AVX2 and FMA (spmm.h): 8-wide gathers
 * for one activation row, the panel kernel (spmm_panel.inc) over 32 rows. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "backends/cpu/sparse/spmm.h"

#define W 8
#define VF __m256
#define SFX(name) name##_avx2
#define vzero() _mm256_setzero_ps()
#define vset1(x) _mm256_set1_ps(x)
#define vload(p) _mm256_loadu_ps(p)
#define vstore(p, v) _mm256_storeu_ps(p, v)
#define vadd _mm256_add_ps
#define vfma(a, b, c) _mm256_fmadd_ps(a, b, c)
#include "backends/cpu/sparse/spmm_panel.inc"

static float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* Two chains of 8 lanes; the row's last values one at a time. */
static void spmv_avx2(const int32_t *rp, const int32_t *col, const float *val, const float *x, int64_t n0,
                      int64_t n1, float *y) {
    for (int64_t n = n0; n < n1; n++) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        int64_t j = rp[n];
        const int64_t e = rp[n + 1];
        for (; j + 16 <= e; j += 16) {
            const __m256i i0 = _mm256_loadu_si256((const __m256i *)(col + j));
            const __m256i i1 = _mm256_loadu_si256((const __m256i *)(col + j + 8));
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(val + j), _mm256_i32gather_ps(x, i0, 4), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(val + j + 8), _mm256_i32gather_ps(x, i1, 4), a1);
        }
        for (; j + 8 <= e; j += 8) {
            const __m256i i0 = _mm256_loadu_si256((const __m256i *)(col + j));
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(val + j), _mm256_i32gather_ps(x, i0, 4), a0);
        }
        float s = hsum8(_mm256_add_ps(a0, a1));
        for (; j < e; j++) s += val[j] * x[col[j]];
        y[n] = s;
    }
}

const hwa__spmm_kern hwa__spmm_kern_avx2 = {"avx2", spmv_avx2, panel_avx2, pack_avx2, W, 4 * W};
#endif
