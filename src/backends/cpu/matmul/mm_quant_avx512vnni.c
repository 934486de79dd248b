/* A row of block weights against up to HWA_QROWS_MAX 8-bit activation rows
 * with AVX-512 VNNI: vpdpbusd multiplies 64 unsigned by 64 signed bytes and
 * sums them four at a time into 16 int32 lanes, so one instruction covers
 * two 32-value blocks (or two sub-blocks of a K-quant).
 *
 * Unsigned weights (the 4-bit nibbles, Q6_K's 6-bit values) go in as they
 * are stored, and their offset (8 for Q4_0, 32 for Q6_K) or min (Q4_1,
 * Q4_K) is taken off afterwards with the activations' block sums. Q8_0's
 * signed weights go in as |w| with w's sign moved onto the activations.
 *
 * The per-block float scales are made a vector at a time: for the 32-value
 * types sixteen blocks' f16 scales are gathered and widened in one go, for
 * Q4_K the eight 6-bit scales and mins of a super-block are unpacked with
 * 32-bit integer operations, for Q6_K its sixteen int8 scales are widened
 * at once. Each pair of blocks' int32 lanes is then converted and multiplied
 * by its blocks' scales spread over the lanes with a permute.
 *
 * The integer sums of a block are exact, as in the scalar row (mm_quant.c);
 * only the order of the f32 additions differs. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "backends/cpu/matmul/mm_quant.h"

#define INLINE static inline __attribute__((always_inline))

/* The lanes of block 2p (0-7) and 2p+1 (8-15) of a group of 16: indexes of
 * a 16-float vector that hold those blocks' scales. */
INLINE __m512i pair_idx(int p) {
    return _mm512_add_epi32(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), _mm512_set1_epi32(2 * p));
}

/* The 32-bit words at offset 0 of the live ones of 16 blocks of `stride`
 * bytes (zeros for the others, which are not read). */
INLINE __m512i gather16(const uint8_t *w, int stride, __mmask16 live) {
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(stride));
    return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, idx, (const void *)w, 1);
}

/* The low (or high) f16 of each of 16 words as f32. */
INLINE __m512 f16_lo(__m512i v) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v)); }
INLINE __m512 f16_hi(__m512i v) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16))); }

static inline float f16f(const uint8_t *p) { return _cvtsh_ss((unsigned short)(p[0] | (p[1] << 8))); }

/* 32 bytes of nibbles, twice: the low nibbles (0-31) then the high ones. */
INLINE __m512i nibbles64(__m256i b) {
    __m512i z = _mm512_broadcast_i64x4(b);
    z = _mm512_mask_srli_epi16(z, 0xFFFF0000u, z, 4);
    return _mm512_and_si512(z, _mm512_set1_epi8(15));
}

/* 16 bytes of nibbles of two blocks: lo0 hi0 lo1 hi1, 16 values each. */
INLINE __m512i nibbles_pair(const uint8_t *q0, const uint8_t *q1) {
    const __m256i y0 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)q0));
    const __m256i y1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)q1));
    __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(y0), y1, 1);
    z = _mm512_mask_srli_epi16(z, 0xFF00FF00u, z, 4);
    return _mm512_and_si512(z, _mm512_set1_epi8(15));
}

/* nblk (1..16) blocks of a 32-value type T (Q8_0, Q4_0, Q4_1) from block
 * b0 for M rows: acc[m] receives the scaled dots, corr[m] the offset or
 * min terms. A short group's missing blocks get zero scales, and its odd
 * last block is paired with itself (no read past the row). */
INLINE void group32(hwa_dtype T, int M, const uint8_t *w, int64_t b0, int nblk, const int8_t *const *qa,
                    const float *const *da, const int32_t *const *sa, __m512 *acc, __m512 *corr) {
    const int bs = T == HWA_Q8_0 ? 34 : T == HWA_Q4_0 ? 18 : 20;
    const int qo = T == HWA_Q4_1 ? 4 : 2;
    const __m512i zero = _mm512_setzero_si512();
    const __mmask16 live = (__mmask16)((1u << nblk) - 1);
    const __m512i words = gather16(w, bs, live);
    const __m512 dw = f16_lo(words);
    __m512 s[HWA_QROWS_MAX];
    for (int m = 0; m < M; m++) {
        const __m512 dam = _mm512_maskz_loadu_ps(live, da[m] + b0);
        s[m] = _mm512_mul_ps(dw, dam);
        if (T != HWA_Q8_0) {
            const __m512 as = _mm512_mul_ps(dam, _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(live, sa[m] + b0)));
            corr[m] = _mm512_fmadd_ps(T == HWA_Q4_0 ? dw : f16_hi(words), as, corr[m]);
        }
    }
    for (int p = 0; 2 * p < nblk; p++) {
        const bool single = 2 * p + 1 == nblk;
        const uint8_t *w0 = w + 2 * p * bs + qo, *w1 = single ? w0 : w0 + bs;
        __m512i q;
        __mmask64 neg = 0;
        if (T == HWA_Q8_0) {
            const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)w0)),
                                                 _mm256_loadu_si256((const __m256i *)w1), 1);
            neg = _mm512_movepi8_mask(v);
            q = _mm512_abs_epi8(v);
        } else {
            q = nibbles_pair(w0, w1);
        }
        const __m512i idx = pair_idx(p);
        for (int m = 0; m < M; m++) {
            const int8_t *a0 = qa[m] + 32 * (b0 + 2 * p);
            __m512i a = single ? _mm512_maskz_loadu_epi8(0xFFFFFFFFull, a0) : _mm512_loadu_si512(a0);
            if (T == HWA_Q8_0) a = _mm512_mask_sub_epi8(a, neg, zero, a);
            const __m512i d = _mm512_dpbusd_epi32(zero, q, a);
            acc[2 * m + (p & 1)] =
                _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_permutexvar_ps(idx, s[m]), acc[2 * m + (p & 1)]);
        }
    }
}

/* Q4_K super-blocks: 8 sub-blocks of 32 nibbles with 6-bit scales and mins. */
INLINE void super_q4k(int M, const uint8_t *w, int64_t nsb, const int8_t *const *qa, const float *const *da,
                      const int32_t *const *sa, __m512 *acc, __m512 *corr) {
    const __m512i zero = _mm512_setzero_si512();
    for (int64_t kb = 0; kb < nsb; kb++, w += 144) {
        uint32_t u[3];
        memcpy(u, w + 4, 12);
        const uint32_t s_lo = u[0] & 0x3f3f3f3fu, m_lo = u[1] & 0x3f3f3f3fu;
        const uint32_t s_hi = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);
        const uint32_t m_hi = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);
        const __m256 sc = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_setr_epi32((int)s_lo, (int)s_hi, 0, 0))),
                                        _mm256_set1_ps(f16f(w)));
        const __m256 mn = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_setr_epi32((int)m_lo, (int)m_hi, 0, 0))),
                                        _mm256_set1_ps(f16f(w + 2)));
        __m512 s[HWA_QROWS_MAX];
        for (int m = 0; m < M; m++) {
            const __m256 dam = _mm256_loadu_ps(da[m] + 8 * kb);
            s[m] = _mm512_castps256_ps512(_mm256_mul_ps(sc, dam));
            const __m256 as = _mm256_mul_ps(dam, _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(sa[m] + 8 * kb))));
            corr[m] = _mm512_insertf32x8(corr[m], _mm256_fmadd_ps(mn, as, _mm512_castps512_ps256(corr[m])), 0);
        }
        for (int c = 0; c < 4; c++) {
            const __m512i q = nibbles64(_mm256_loadu_si256((const __m256i *)(w + 16 + 32 * c)));
            const __m512i idx = pair_idx(c);
            for (int m = 0; m < M; m++) {
                const __m512i d = _mm512_dpbusd_epi32(zero, q, _mm512_loadu_si512(qa[m] + 256 * kb + 64 * c));
                acc[2 * m + (c & 1)] =
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_permutexvar_ps(idx, s[m]), acc[2 * m + (c & 1)]);
            }
        }
    }
}

/* Q6_K super-blocks: 256 6-bit values (offset 32) with an int8 scale per 16. */
INLINE void super_q6k(int M, const uint8_t *w, int64_t nsb, const int8_t *const *qa, const float *const *da,
                      __m512 *acc) {
    const __m512i zero = _mm512_setzero_si512(), k32 = _mm512_set1_epi8(32), m4 = _mm512_set1_epi8(15),
                  m2 = _mm512_set1_epi8(3);
    const __m512i quads = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    for (int64_t kb = 0; kb < nsb; kb++, w += 210) {
        const __m512 sc = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(w + 192)))),
                                        _mm512_set1_ps(f16f(w + 208)));
        __m512 dam[HWA_QROWS_MAX];
        for (int m = 0; m < M; m++) dam[m] = _mm512_castps256_ps512(_mm256_loadu_ps(da[m] + 8 * kb));
        for (int h = 0; h < 2; h++) {
            const __m512i l = _mm512_loadu_si512(w + 64 * h);
            const __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(w + 128 + 32 * h)));
            const __m512i h01 = _mm512_and_si512(_mm512_mask_srli_epi16(hb, 0xFFFF0000u, hb, 2), m2);
            __m512i h23 = _mm512_srli_epi16(hb, 4);
            h23 = _mm512_and_si512(_mm512_mask_srli_epi16(h23, 0xFFFF0000u, h23, 2), m2);
            const __m512i v[2] = {
                _mm512_or_si512(_mm512_and_si512(l, m4), _mm512_slli_epi16(h01, 4)),
                _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4), _mm512_slli_epi16(h23, 4)),
            };
            for (int e = 0; e < 2; e++) {
                const int z = 2 * h + e; /* values 64z .. 64z + 63 */
                const __m512 scz = _mm512_permutexvar_ps(_mm512_add_epi32(quads, _mm512_set1_epi32(4 * z)), sc);
                const __m512i idx = pair_idx(z);
                for (int m = 0; m < M; m++) {
                    const __m512i a = _mm512_loadu_si512(qa[m] + 256 * kb + 64 * z);
                    const __m512i d = _mm512_sub_epi32(_mm512_dpbusd_epi32(zero, v[e], a), _mm512_dpbusd_epi32(zero, k32, a));
                    acc[2 * m + e] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d),
                                                     _mm512_mul_ps(scz, _mm512_permutexvar_ps(idx, dam[m])), acc[2 * m + e]);
                }
            }
        }
    }
}

/* One instance per type and row count, so that the row loops unroll and
 * the accumulators stay in registers. */
INLINE void rows(hwa_dtype T, int M, const uint8_t *w, int64_t K, const int8_t *const *qa, const float *const *da,
                 const int32_t *const *sa, float *out) {
    __m512 acc[2 * HWA_QROWS_MAX], corr[HWA_QROWS_MAX];
    for (int m = 0; m < M; m++) acc[2 * m] = acc[2 * m + 1] = corr[m] = _mm512_setzero_ps();
    if (T == HWA_Q4_K) {
        super_q4k(M, w, K / 256, qa, da, sa, acc, corr);
    } else if (T == HWA_Q6_K) {
        super_q6k(M, w, K / 256, qa, da, acc);
    } else {
        const int bs = T == HWA_Q8_0 ? 34 : T == HWA_Q4_0 ? 18 : 20;
        const int64_t nb = K / 32;
        int64_t b0 = 0;
        for (; b0 + 16 <= nb; b0 += 16) group32(T, M, w + b0 * bs, b0, 16, qa, da, sa, acc, corr);
        if (b0 < nb) group32(T, M, w + b0 * bs, b0, (int)(nb - b0), qa, da, sa, acc, corr);
    }
    /* the offsets' or mins' terms folded in before the one horizontal sum */
    const float cf = T == HWA_Q4_0 ? -8.0f : T == HWA_Q4_1 ? 1.0f : -1.0f;
    for (int m = 0; m < M; m++) {
        __m512 v = _mm512_add_ps(acc[2 * m], acc[2 * m + 1]);
        if (T != HWA_Q8_0 && T != HWA_Q6_K) v = _mm512_fmadd_ps(_mm512_set1_ps(cf), corr[m], v);
        out[m] = _mm512_reduce_add_ps(v);
    }
}

#define FOR_M(T)                                                         \
    switch (M) {                                                         \
    case 1: rows(T, 1, w, K, qa, da, sa, out); break;                    \
    case 2: rows(T, 2, w, K, qa, da, sa, out); break;                    \
    case 3: rows(T, 3, w, K, qa, da, sa, out); break;                    \
    default: rows(T, HWA_QROWS_MAX, w, K, qa, da, sa, out); break;       \
    }

void hwa__qrows_vnni(hwa_dtype t, const uint8_t *w, int64_t K, int M, const int8_t *const *qa, const float *const *da,
                     const int32_t *const *sa, float *out) {
    switch (t) {
    case HWA_Q8_0: FOR_M(HWA_Q8_0) break;
    case HWA_Q4_0: FOR_M(HWA_Q4_0) break;
    case HWA_Q4_1: FOR_M(HWA_Q4_1) break;
    case HWA_Q4_K: FOR_M(HWA_Q4_K) break;
    case HWA_Q6_K: FOR_M(HWA_Q6_K) break;
    default: break;
    }
}
#endif
