/* QLINEAR's activations for the f32 product (mm_qlinear.c) with AVX2: the
 * reference's quantization, a row at a time, as the f32 values xq - z. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "backends/cpu/matmul/mm_qlinear.h"
#include "backends/cpu/ref/ref.h"

/* The first n (< 8) lanes. */
static inline __m256i lanes8(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline float hmin(__m256 v) {
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_min_ss(m, _mm_movehdup_ps(m)));
}

static inline float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

void hwa__ql_quantize_f32_avx2(const float *x, int64_t K, bool dynamic, float *s, float *inv, int *z, float *a) {
    const int64_t K8 = K / 8 * 8;
    if (dynamic) {
        /* zeros in the masked tail leave min(0, .) and max(0, .) as they are;
         * a NaN is passed over, as fminf / fmaxf do */
        __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
        for (int64_t k = 0; k < K8; k += 8) {
            const __m256 v = _mm256_loadu_ps(x + k);
            lo = _mm256_min_ps(v, lo);
            hi = _mm256_max_ps(v, hi);
        }
        if (K8 < K) {
            const __m256 v = _mm256_maskload_ps(x + K8, lanes8(K - K8));
            lo = _mm256_min_ps(v, lo);
            hi = _mm256_max_ps(v, hi);
        }
        hwa__qlinear_range_params(hmin(lo), hmax(hi), s, inv, z);
    }
    /* min(max(nearbyint(x inv) + z, 0), 255) - z: hwa__qlinear_quantize's
     * float operations, then the zero point off (exact in f32) */
    const __m256 vinv = _mm256_set1_ps(*inv), vz = _mm256_set1_ps((float)*z), zero = _mm256_setzero_ps(),
                 top = _mm256_set1_ps(255.0f);
    for (int64_t k = 0; k < K; k += 8) {
        const __m256i live = lanes8(K - k < 8 ? K - k : 8);
        const __m256 xv = K - k >= 8 ? _mm256_loadu_ps(x + k) : _mm256_maskload_ps(x + k, live);
        __m256 v = _mm256_round_ps(_mm256_mul_ps(xv, vinv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm256_sub_ps(_mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v, vz), zero), top), vz);
        if (K - k >= 8) _mm256_storeu_ps(a + k, v);
        else _mm256_maskstore_ps(a + k, live, v);
    }
}

#endif
