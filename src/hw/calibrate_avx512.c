/* Throughput loops for the CPU's peak with AVX-512: independent chains of
 * fused multiply-adds, more of them than the FMA units' latency times their
 * count, so the loop is limited by issue rate alone. bf16 (vdpbf16ps) and
 * int8 (vpdpbusd) need their own extensions, enabled per function; callers
 * check the CPU and OS first. Compiled with AVX-512 flags (file suffix). */
#include "hw/hw_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CHAINS 16

/* 16 chains x 16 lanes x 2 flops. */
double hwa__fma_loop_f32_avx512(int64_t n_iter, double *ops) {
    __m512 acc[CHAINS];
    for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_set1_ps(1.0f + 0.001f * (float)j);
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int64_t i = 0; i < n_iter; i++) {
        for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
    }
    __m512 s = acc[0];
    for (int j = 1; j < CHAINS; j++) s = _mm512_add_ps(s, acc[j]);
    *ops = (double)n_iter * CHAINS * 16 * 2;
    return (double)_mm512_reduce_add_ps(s);
}

/* vdpbf16ps: per f32 lane two bf16 products added to the accumulator, i.e.
 * 16 lanes x 2 pairs x 2 flops per instruction. */
__attribute__((target("avx512bf16"))) double hwa__fma_loop_bf16_avx512(int64_t n_iter, double *ops) {
    __m512 acc[CHAINS];
    for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_setzero_ps();
    const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.01f), _mm512_set1_ps(0.02f));
    const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.03f), _mm512_set1_ps(0.01f));
    for (int64_t i = 0; i < n_iter; i++) {
        for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_dpbf16_ps(acc[j], a, b);
    }
    __m512 s = acc[0];
    for (int j = 1; j < CHAINS; j++) s = _mm512_add_ps(s, acc[j]);
    *ops = (double)n_iter * CHAINS * 16 * 2 * 2;
    return (double)_mm512_reduce_add_ps(s);
}

/* vpdpbusd: per i32 lane four u8 x s8 products added, 16 x 4 x 2 ops. */
__attribute__((target("avx512vnni"))) double hwa__fma_loop_i8_avx512(int64_t n_iter, double *ops) {
    __m512i acc[CHAINS];
    for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_setzero_si512();
    const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
    for (int64_t i = 0; i < n_iter; i++) {
        for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
    }
    /* The sums wrap by design: add them as unsigned. */
    uint32_t lanes[16];
    uint64_t sum = 0;
    for (int j = 0; j < CHAINS; j++) {
        _mm512_storeu_si512(lanes, acc[j]);
        for (int k = 0; k < 16; k++) sum += lanes[k];
    }
    *ops = (double)n_iter * CHAINS * 16 * 4 * 2;
    return (double)sum;
}

#else

double hwa__fma_loop_f32_avx512(int64_t n_iter, double *ops) { (void)n_iter; *ops = 0; return 0; }
double hwa__fma_loop_bf16_avx512(int64_t n_iter, double *ops) { (void)n_iter; *ops = 0; return 0; }
double hwa__fma_loop_i8_avx512(int64_t n_iter, double *ops) { (void)n_iter; *ops = 0; return 0; }

#endif
