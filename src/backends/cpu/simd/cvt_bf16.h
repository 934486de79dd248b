/* f32 -> bf16 pieces for code built with AVX512_BF16 (cvt_avx512bf16.c, the
 * AMX kernels): VCVTNEPS2BF16 rounds to nearest even and makes NaN quiet as
 * hwa_f32_to_bf16 does, but treats denormal inputs as zero where the scalar
 * codec rounds them, so a block holding a denormal takes the scalar codec. */
#ifndef HWA_CPU_CVT_BF16_H
#define HWA_CPU_CVT_BF16_H

#if defined(__x86_64__) && defined(__AVX512BF16__)
#include <immintrin.h>
#include <stdint.h>

#include "hwadapt/tensor.h"

/* Lanes of v holding a denormal (exponent bits 0, magnitude not 0). */
static inline __mmask16 hwa__f32_denormals(__m512 v) {
    const __m512i u = _mm512_castps_si512(v);
    const __mmask16 nonzero = _mm512_test_epi32_mask(u, _mm512_set1_epi32(0x7fffffff));
    return nonzero & ~_mm512_test_epi32_mask(u, _mm512_set1_epi32(0x7f800000));
}

/* The first n (0..32) values of s into d[0..32) as bf16, zeros past n;
 * reads nothing of s past n. */
static inline void hwa__f32_to_bf16x32(const float *s, int64_t n, uint16_t *d) {
    const __mmask16 m0 = n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
    const __mmask16 m1 = n >= 32 ? (__mmask16)0xffff : n <= 16 ? (__mmask16)0 : (__mmask16)((1u << (n - 16)) - 1);
    const __m512 lo = _mm512_maskz_loadu_ps(m0, s), hi = _mm512_maskz_loadu_ps(m1, s + 16);
    if (hwa__f32_denormals(lo) | hwa__f32_denormals(hi)) {
        for (int64_t e = 0; e < 32; e++) d[e] = e < n ? hwa_f32_to_bf16(s[e]) : 0;
        return;
    }
    _mm512_storeu_si512(d, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}
#endif

#endif
