/* The f32 peak loop with AVX2 + FMA (12 chains of 8 lanes: enough to hide the
 * FMA latency on two units, few enough to stay in the 16 ymm registers).
 * Compiled with AVX2 flags (file suffix); callers check the CPU first. */
#include "hw/hw_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CHAINS 12

double hwa__fma_loop_f32_avx2(int64_t n_iter, double *ops) {
    __m256 acc[CHAINS];
    for (int j = 0; j < CHAINS; j++) acc[j] = _mm256_set1_ps(1.0f + 0.001f * (float)j);
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int64_t i = 0; i < n_iter; i++) {
        for (int j = 0; j < CHAINS; j++) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
    }
    __m256 s = acc[0];
    for (int j = 1; j < CHAINS; j++) s = _mm256_add_ps(s, acc[j]);
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    double sum = 0;
    for (int j = 0; j < 8; j++) sum += lanes[j];
    *ops = (double)n_iter * CHAINS * 8 * 2;
    return sum;
}

#else

double hwa__fma_loop_f32_avx2(int64_t n_iter, double *ops) { (void)n_iter; *ops = 0; return 0; }

#endif
