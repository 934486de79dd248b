/* AVX2 + FMA + F16C instances of the vector kernels (simd_impl.inc). */
#if defined(__x86_64__)
#include <immintrin.h>

#include "backends/cpu/simd/simd.h"

#define W 8
#define VF __m256
#define SFX(name) name##_avx2
#define SIMD_NAME "avx2"
#define vload(p) _mm256_loadu_ps(p)
#define vstore(p, v) _mm256_storeu_ps(p, v)
#define vstream(p, v) _mm256_stream_ps(p, v)
#define vsfence() _mm_sfence()
#define vset1(x) _mm256_set1_ps(x)
#define vzero() _mm256_setzero_ps()
#define vadd _mm256_add_ps
#define vsub _mm256_sub_ps
#define vmul _mm256_mul_ps
#define vdiv _mm256_div_ps
#define vmax _mm256_max_ps
#define vmin _mm256_min_ps
#define vfma(a, b, c) _mm256_fmadd_ps(a, b, c)
#define vround(x) _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define vcvt_i(x) _mm256_cvtps_epi32(x)
#define vexp2i(k) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23))
#define vabs(x) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x)
#define vcopysign(m, s) _mm256_or_ps(vabs(m), _mm256_and_ps(_mm256_set1_ps(-0.0f), s))
#define vfirst_mask(n) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define vload_first(p, n) _mm256_maskload_ps(p, vfirst_mask(n))
#define vstore_first(p, v, n) _mm256_maskstore_ps(p, vfirst_mask(n), v)

static inline float hsum128(__m128 v) {
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    v = _mm_add_ss(v, _mm_movehdup_ps(v));
    return _mm_cvtss_f32(v);
}
static inline float vhsum(__m256 v) { return hsum128(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1))); }
static inline float vhmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

#define vf16_load(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define vf16_store(p, v) _mm_storeu_si128((__m128i *)(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT))
#define vbf16_load(p) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))

/* Round to nearest even; NaN becomes a quiet NaN (as hwa_f32_to_bf16). */
static inline void vbf16_store(uint16_t *p, __m256 v) {
    __m256i u = _mm256_castps_si256(v);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
    __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
    r = _mm256_blendv_epi8(r, q, nan);
    __m128i lo = _mm256_castsi256_si128(r), hi = _mm256_extracti128_si256(r, 1);
    _mm_storeu_si128((__m128i *)p, _mm_packus_epi32(lo, hi));
}

#include "backends/cpu/simd/simd_impl.inc"

/* The training kernels (train_simd.h) over the same macros and these. */
#include "backends/cpu/simd/train_simd.h"

#define vsqrt _mm256_sqrt_ps
#define vgt0_one(x) _mm256_and_ps(_mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ), _mm256_set1_ps(1.0f))

/* Sums 0-3 in acc[0], 4-7 in acc[1]. */
#define VD __m256d
#define VD_N 2
#define vd_zero() _mm256_setzero_pd()
static inline void vd_square_add(__m256d *acc, const float *x) {
    const __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(x)), hi = _mm256_cvtps_pd(_mm_loadu_ps(x + 4));
    acc[0] = _mm256_add_pd(acc[0], _mm256_mul_pd(lo, lo));
    acc[1] = _mm256_add_pd(acc[1], _mm256_mul_pd(hi, hi));
}
static inline void vd_store(const __m256d *acc, double *s) {
    _mm256_storeu_pd(s, acc[0]);
    _mm256_storeu_pd(s + 4, acc[1]);
}

#include "backends/cpu/simd/train_simd_impl.inc"
#endif
