/* AVX-512 (F/BW/VL/DQ) instances of the vector kernels (simd_impl.inc). */
#if defined(__x86_64__)
#include <immintrin.h>

#include "backends/cpu/cpu_isa.h"
#include "backends/cpu/simd/simd.h"

#define W 16
#define VF __m512
#define SFX(name) name##_avx512
#define SIMD_NAME "avx512"
/* f32 -> bf16 through AVX512_BF16 where the CPU has it (cvt_avx512bf16.c) */
#define SIMD_FAST_BF16() (hwa__cpu_caps_get()->avx512_bf16)
#define vload(p) _mm512_loadu_ps(p)
#define vstore(p, v) _mm512_storeu_ps(p, v)
#define vstream(p, v) _mm512_stream_ps(p, v)
#define vsfence() _mm_sfence()
#define vset1(x) _mm512_set1_ps(x)
#define vzero() _mm512_setzero_ps()
#define vadd _mm512_add_ps
#define vsub _mm512_sub_ps
#define vmul _mm512_mul_ps
#define vdiv _mm512_div_ps
#define vmax _mm512_max_ps
#define vmin _mm512_min_ps
#define vfma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define vround(x) _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define vcvt_i(x) _mm512_cvtps_epi32(x)
#define vexp2i(k) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(k, _mm512_set1_epi32(127)), 23))
#define vabs(x) _mm512_abs_ps(x)
#define vcopysign(m, s) \
    _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(m), _mm512_castps_si512(s), _mm512_set1_epi32(0x7fffffff), 0xe4))
#define vload_first(p, n) _mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1), p)
#define vstore_first(p, v, n) _mm512_mask_storeu_ps(p, (__mmask16)((1u << (n)) - 1), v)
#define vhsum(v) _mm512_reduce_add_ps(v)
#define vhmax(v) _mm512_reduce_max_ps(v)

#define vf16_load(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define vf16_store(p, v) _mm256_storeu_si256((__m256i *)(p), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT))
#define vbf16_load(p) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))

/* Round to nearest even; NaN becomes a quiet NaN (as hwa_f32_to_bf16). */
static inline void vbf16_store(uint16_t *p, __m512 v) {
    __m512i u = _mm512_castps_si512(v);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    __m512i q = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
    r = _mm512_mask_blend_epi32(nan, r, q);
    _mm256_storeu_si256((__m256i *)p, _mm512_cvtepi32_epi16(r));
}

#include "backends/cpu/simd/simd_impl.inc"

/* The training kernels (train_simd.h) over the same macros and these. */
#include "backends/cpu/simd/train_simd.h"

#define vsqrt _mm512_sqrt_ps
#define vgt0_one(x) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ), _mm512_set1_ps(1.0f))

/* Sums 0-7 in acc[0], one lane each. */
#define VD __m512d
#define VD_N 1
#define vd_zero() _mm512_setzero_pd()
static inline void vd_square_add(__m512d *acc, const float *x) {
    const __m512d d = _mm512_cvtps_pd(_mm256_loadu_ps(x));
    acc[0] = _mm512_add_pd(acc[0], _mm512_mul_pd(d, d));
}
static inline void vd_store(const __m512d *acc, double *s) { _mm512_storeu_pd(s, acc[0]); }

#include "backends/cpu/simd/train_simd_impl.inc"
#endif
