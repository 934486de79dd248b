/* f32 -> bf16 with AVX512_BF16's VCVTNEPS2BF16, for CPUs that have it: the
 * same bits as hwa_f32_to_bf16 (round to nearest even, NaN made quiet the
 * same way). The instruction treats denormal inputs as zero, where the
 * scalar codec rounds them; a block of 16 with a denormal in it takes the
 * scalar codec instead. Called from the AVX-512 kernels' f32_to_half. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "backends/cpu/simd/simd.h"
#include "hwadapt/tensor.h"

void hwa__f32_to_bf16_avx512bf16(const float *s, uint16_t *d, int64_t n) {
    const __m512i exp_mask = _mm512_set1_epi32(0x7f800000), abs_mask = _mm512_set1_epi32(0x7fffffff);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(s + i);
        const __m512i u = _mm512_castps_si512(v);
        /* denormal: exponent bits 0, magnitude not 0 */
        const __mmask16 den = _mm512_mask_test_epi32_mask(_mm512_test_epi32_mask(u, abs_mask), u, exp_mask) ^
                              _mm512_test_epi32_mask(u, abs_mask);
        if (den) {
            for (int e = 0; e < 16; e++) d[i + e] = hwa_f32_to_bf16(s[i + e]);
            continue;
        }
        _mm256_storeu_si256((__m256i *)(d + i), (__m256i)_mm512_cvtneps_pbh(v));
    }
    for (; i < n; i++) d[i] = hwa_f32_to_bf16(s[i]);
}
#endif
