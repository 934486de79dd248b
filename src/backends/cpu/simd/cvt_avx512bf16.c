/* f32 -> bf16 with AVX512_BF16's VCVTNEPS2BF16, for CPUs that have it: the
 * same bits as hwa_f32_to_bf16 (cvt_bf16.h says how). Called from the
 * AVX-512 kernels' f32_to_half. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "backends/cpu/simd/cvt_bf16.h"
#include "backends/cpu/simd/simd.h"
#include "hwadapt/tensor.h"

void hwa__f32_to_bf16_avx512bf16(const float *s, uint16_t *d, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) hwa__f32_to_bf16x32(s + i, 32, d + i);
    if (i < n) {
        uint16_t t[32];
        hwa__f32_to_bf16x32(s + i, n - i, t);
        memcpy(d + i, t, (size_t)(n - i) * sizeof *t);
    }
}
#endif
