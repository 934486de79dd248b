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

/* The kernels below take R rows of W against M rows of A at once (R * M <=
 * HWA_QROWS_W): pair j = r * M + m (row r of W, row m of A) sums into
 * acc[2j] and acc[2j + 1] (alternate block pairs, two chains of additions)
 * and corr[j] (offset or min terms). Activation bytes and scales are
 * loaded once for all R rows. */

/* nblk (1..16) blocks of a 32-value type T (Q8_0, Q4_0, Q4_1) from block
 * b0 for R rows of W (wrow bytes apart, w at block b0 of the first) and M
 * rows of A. A short group's missing blocks get zero scales, and its odd
 * last block is paired with itself (no read past the row). */
INLINE void group32(hwa_dtype T, int R, int M, const uint8_t *w, size_t wrow, int64_t b0, int nblk,
                    const int8_t *const *qa, const float *const *da, const int32_t *const *sa, __m512 *acc,
                    __m512 *corr) {
    const int bs = T == HWA_Q8_0 ? 34 : T == HWA_Q4_0 ? 18 : 20;
    const int qo = T == HWA_Q4_1 ? 4 : 2;
    const __m512i zero = _mm512_setzero_si512();
    const __mmask16 live = (__mmask16)((1u << nblk) - 1);
    __m512 dw[HWA_QROWS_W], dm[HWA_QROWS_W], s[HWA_QROWS_W];
    for (int r = 0; r < R; r++) {
        const __m512i words = gather16(w + r * wrow, bs, live);
        dw[r] = f16_lo(words);
        dm[r] = T == HWA_Q4_1 ? f16_hi(words) : dw[r];
    }
    for (int m = 0; m < M; m++) {
        const __m512 dam = _mm512_maskz_loadu_ps(live, da[m] + b0);
        const __m512 as = T == HWA_Q8_0 ? dam
                                        : _mm512_mul_ps(dam, _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(live, sa[m] + b0)));
        for (int r = 0; r < R; r++) {
            s[r * M + m] = _mm512_mul_ps(dw[r], dam);
            if (T != HWA_Q8_0) corr[r * M + m] = _mm512_fmadd_ps(dm[r], as, corr[r * M + m]);
        }
    }
    for (int p = 0; 2 * p < nblk; p++) {
        const bool single = 2 * p + 1 == nblk;
        __m512i q[HWA_QROWS_W];
        __mmask64 neg[HWA_QROWS_W];
        for (int r = 0; r < R; r++) {
            const uint8_t *w0 = w + r * wrow + 2 * p * bs + qo, *w1 = single ? w0 : w0 + bs;
            if (T == HWA_Q8_0) {
                const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)w0)),
                                                     _mm256_loadu_si256((const __m256i *)w1), 1);
                neg[r] = _mm512_movepi8_mask(v);
                q[r] = _mm512_abs_epi8(v);
            } else {
                q[r] = nibbles_pair(w0, w1);
            }
        }
        const __m512i idx = pair_idx(p);
        for (int m = 0; m < M; m++) {
            const int8_t *a0 = qa[m] + 32 * (b0 + 2 * p);
            const __m512i a = single ? _mm512_maskz_loadu_epi8(0xFFFFFFFFull, a0) : _mm512_loadu_si512(a0);
            for (int r = 0; r < R; r++) {
                const int j = r * M + m;
                const __m512i ar = T == HWA_Q8_0 ? _mm512_mask_sub_epi8(a, neg[r], zero, a) : a;
                const __m512i d = _mm512_dpbusd_epi32(zero, q[r], ar);
                acc[2 * j + (p & 1)] =
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_permutexvar_ps(idx, s[j]), acc[2 * j + (p & 1)]);
            }
        }
    }
}

/* Q4_K super-blocks: 8 sub-blocks of 32 nibbles with 6-bit scales and mins. */
INLINE void super_q4k(int R, int M, const uint8_t *w, size_t wrow, int64_t nsb, const int8_t *const *qa,
                      const float *const *da, const int32_t *const *sa, __m512 *acc, __m512 *corr) {
    const __m512i zero = _mm512_setzero_si512();
    for (int64_t kb = 0; kb < nsb; kb++, w += 144) {
        __m256 sc[HWA_QROWS_W], mn[HWA_QROWS_W];
        for (int r = 0; r < R; r++) {
            const uint8_t *wr = w + r * wrow;
            uint32_t u[3];
            memcpy(u, wr + 4, 12);
            const uint32_t s_lo = u[0] & 0x3f3f3f3fu, m_lo = u[1] & 0x3f3f3f3fu;
            const uint32_t s_hi = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);
            const uint32_t m_hi = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);
            sc[r] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_setr_epi32((int)s_lo, (int)s_hi, 0, 0))),
                                  _mm256_set1_ps(f16f(wr)));
            mn[r] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_setr_epi32((int)m_lo, (int)m_hi, 0, 0))),
                                  _mm256_set1_ps(f16f(wr + 2)));
        }
        __m512 s[HWA_QROWS_W];
        for (int m = 0; m < M; m++) {
            const __m256 dam = _mm256_loadu_ps(da[m] + 8 * kb);
            const __m256 as = _mm256_mul_ps(dam, _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(sa[m] + 8 * kb))));
            for (int r = 0; r < R; r++) {
                const int j = r * M + m;
                s[j] = _mm512_castps256_ps512(_mm256_mul_ps(sc[r], dam));
                corr[j] = _mm512_insertf32x8(corr[j], _mm256_fmadd_ps(mn[r], as, _mm512_castps512_ps256(corr[j])), 0);
            }
        }
        for (int c = 0; c < 4; c++) {
            __m512i q[HWA_QROWS_W];
            for (int r = 0; r < R; r++) q[r] = nibbles64(_mm256_loadu_si256((const __m256i *)(w + r * wrow + 16 + 32 * c)));
            const __m512i idx = pair_idx(c);
            for (int m = 0; m < M; m++) {
                const __m512i a = _mm512_loadu_si512(qa[m] + 256 * kb + 64 * c);
                for (int r = 0; r < R; r++) {
                    const int j = r * M + m;
                    const __m512i d = _mm512_dpbusd_epi32(zero, q[r], a);
                    acc[2 * j + (c & 1)] =
                        _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_permutexvar_ps(idx, s[j]), acc[2 * j + (c & 1)]);
                }
            }
        }
    }
}

/* Q6_K super-blocks: 256 6-bit values (offset 32) with an int8 scale per
 * 16. The offset's dot (32 times the activations) is made once per row of
 * A for all R rows of W. */
INLINE void super_q6k(int R, int M, const uint8_t *w, size_t wrow, int64_t nsb, const int8_t *const *qa,
                      const float *const *da, __m512 *acc) {
    const __m512i zero = _mm512_setzero_si512(), k32 = _mm512_set1_epi8(32), m4 = _mm512_set1_epi8(15),
                  m2 = _mm512_set1_epi8(3);
    const __m512i quads = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    for (int64_t kb = 0; kb < nsb; kb++, w += 210) {
        __m512 sc[HWA_QROWS_W];
        for (int r = 0; r < R; r++)
            sc[r] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(w + r * wrow + 192)))),
                                  _mm512_set1_ps(f16f(w + r * wrow + 208)));
        __m512 dam[HWA_QROWS_MAX];
        for (int m = 0; m < M; m++) dam[m] = _mm512_castps256_ps512(_mm256_loadu_ps(da[m] + 8 * kb));
        for (int h = 0; h < 2; h++) {
            __m512i v[HWA_QROWS_W][2];
            for (int r = 0; r < R; r++) {
                const uint8_t *wr = w + r * wrow;
                const __m512i l = _mm512_loadu_si512(wr + 64 * h);
                const __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(wr + 128 + 32 * h)));
                const __m512i h01 = _mm512_and_si512(_mm512_mask_srli_epi16(hb, 0xFFFF0000u, hb, 2), m2);
                __m512i h23 = _mm512_srli_epi16(hb, 4);
                h23 = _mm512_and_si512(_mm512_mask_srli_epi16(h23, 0xFFFF0000u, h23, 2), m2);
                v[r][0] = _mm512_or_si512(_mm512_and_si512(l, m4), _mm512_slli_epi16(h01, 4));
                v[r][1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4), _mm512_slli_epi16(h23, 4));
            }
            for (int e = 0; e < 2; e++) {
                const int z = 2 * h + e; /* values 64z .. 64z + 63 */
                const __m512i sidx = _mm512_add_epi32(quads, _mm512_set1_epi32(4 * z)), idx = pair_idx(z);
                for (int m = 0; m < M; m++) {
                    const __m512i a = _mm512_loadu_si512(qa[m] + 256 * kb + 64 * z);
                    const __m512i off = _mm512_dpbusd_epi32(zero, k32, a);
                    const __m512 dz = _mm512_permutexvar_ps(idx, dam[m]);
                    for (int r = 0; r < R; r++) {
                        const int j = r * M + m;
                        const __m512i d = _mm512_sub_epi32(_mm512_dpbusd_epi32(zero, v[r][e], a), off);
                        acc[2 * j + e] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d),
                                                         _mm512_mul_ps(_mm512_permutexvar_ps(sidx, sc[r]), dz), acc[2 * j + e]);
                    }
                }
            }
        }
    }
}

/* The lane sums of up to four vectors v[0..n-1] in one reduction: lane i
 * of the result is the sum of v[i]'s 16 lanes. */
INLINE __m128 hsum4(const __m512 *v, int n) {
    const __m512 z = _mm512_setzero_ps();
    const __m512 v0 = v[0], v1 = n > 1 ? v[1] : z, v2 = n > 2 ? v[2] : z, v3 = n > 3 ? v[3] : z;
    /* per 128-bit lane: v0 v1 v0 v1 partial pairs, then v0 v1 v2 v3 */
    const __m512 x01 = _mm512_add_ps(_mm512_unpacklo_ps(v0, v1), _mm512_unpackhi_ps(v0, v1));
    const __m512 x23 = _mm512_add_ps(_mm512_unpacklo_ps(v2, v3), _mm512_unpackhi_ps(v2, v3));
    const __m512 y = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(x01), _mm512_castps_pd(x23))),
                                   _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(x01), _mm512_castps_pd(x23))));
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(y), _mm512_extractf32x8_ps(y, 1));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* One instance per type and (R, M), so that the loops unroll and the
 * accumulators stay in registers: R rows of W (wrow bytes apart) against
 * M rows of A, R * M <= HWA_QROWS_W. */
INLINE void rows(hwa_dtype T, int R, int M, const uint8_t *w, size_t wrow, int64_t K, const int8_t *const *qa,
                 const float *const *da, const int32_t *const *sa, float *out, int64_t ldo) {
    __m512 acc[2 * HWA_QROWS_W], corr[HWA_QROWS_W];
    const int J = R * M;
    for (int j = 0; j < J; j++) acc[2 * j] = acc[2 * j + 1] = corr[j] = _mm512_setzero_ps();
    if (T == HWA_Q4_K) {
        super_q4k(R, M, w, wrow, K / 256, qa, da, sa, acc, corr);
    } else if (T == HWA_Q6_K) {
        super_q6k(R, M, w, wrow, K / 256, qa, da, acc);
    } else {
        const int bs = T == HWA_Q8_0 ? 34 : T == HWA_Q4_0 ? 18 : 20;
        const int64_t nb = K / 32;
        int64_t b0 = 0;
        for (; b0 + 16 <= nb; b0 += 16) group32(T, R, M, w + b0 * bs, wrow, b0, 16, qa, da, sa, acc, corr);
        if (b0 < nb) group32(T, R, M, w + b0 * bs, wrow, b0, (int)(nb - b0), qa, da, sa, acc, corr);
    }
    /* the offsets' or mins' terms folded in before one horizontal sum for all pairs */
    const float cf = T == HWA_Q4_0 ? -8.0f : T == HWA_Q4_1 ? 1.0f : -1.0f;
    __m512 v[HWA_QROWS_W];
    for (int j = 0; j < J; j++) {
        v[j] = _mm512_add_ps(acc[2 * j], acc[2 * j + 1]);
        if (T != HWA_Q8_0 && T != HWA_Q6_K) v[j] = _mm512_fmadd_ps(_mm512_set1_ps(cf), corr[j], v[j]);
    }
    float o[4];
    _mm_storeu_ps(o, hsum4(v, J));
    for (int r = 0; r < R; r++)
        for (int m = 0; m < M; m++) out[m * ldo + r] = o[r * M + m];
}

/* Rows of W up to this long are taken several at a time: past it the
 * per-row costs are spread over enough blocks, and one row at a time was
 * faster (q4_0 at K = 4096, one thread: about 15 % with four). */
#define SHORT_K 2048

/* n rows of W of type T against M rows of A: short rows as many at a time
 * as fit HWA_QROWS_W accumulator sets, the rest one at a time. */
INLINE void rows_of(hwa_dtype T, const uint8_t *w, size_t wrow, int64_t n, int64_t K, int M, const int8_t *const *qa,
                    const float *const *da, const int32_t *const *sa, float *out, int64_t ldo) {
    int64_t r = 0;
    const bool several = K <= SHORT_K;
    switch (M) {
    case 1:
        for (; several && r + 4 <= n; r += 4) rows(T, 4, 1, w + r * wrow, wrow, K, qa, da, sa, out + r, ldo);
        for (; r < n; r++) rows(T, 1, 1, w + r * wrow, wrow, K, qa, da, sa, out + r, ldo);
        break;
    case 2:
        for (; several && r + 2 <= n; r += 2) rows(T, 2, 2, w + r * wrow, wrow, K, qa, da, sa, out + r, ldo);
        for (; r < n; r++) rows(T, 1, 2, w + r * wrow, wrow, K, qa, da, sa, out + r, ldo);
        break;
    case 3:
        for (; r < n; r++) rows(T, 1, 3, w + r * wrow, wrow, K, qa, da, sa, out + r, ldo);
        break;
    default:
        for (; r < n; r++) rows(T, 1, HWA_QROWS_MAX, w + r * wrow, wrow, K, qa, da, sa, out + r, ldo);
        break;
    }
}

void hwa__q8_rows_avx512(const float *x, int64_t nb, int8_t *q, float *d, int32_t *s) {
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
    for (int64_t b = 0; b < nb; b++, x += 32, q += 32) {
        const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
        /* max_ps gives its second operand where the first is NaN, as fmaxf skips a NaN */
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x1), _mm512_max_ps(_mm512_abs_ps(x0), _mm512_setzero_ps())));
        const float db = amax / 127.0f, id = db != 0.0f ? 1.0f / db : 0.0f;
        __m512i qi[2];
        for (int h = 0; h < 2; h++) {
            const __m512 t = _mm512_mul_ps(h ? x1 : x0, _mm512_set1_ps(id));
            /* roundf: the truncation, and one more away from zero where the (exact) fraction is at least a half */
            const __m512 tr = _mm512_roundscale_ps(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            const __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(t, tr)), half, _CMP_GE_OQ);
            const __m512 r = _mm512_mask_add_ps(tr, up, tr, _mm512_or_ps(one, _mm512_and_ps(t, _mm512_set1_ps(-0.0f))));
            qi[h] = _mm512_cvtps_epi32(r);
        }
        _mm_storeu_si128((__m128i *)q, _mm512_cvtsepi32_epi8(qi[0]));
        _mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtsepi32_epi8(qi[1]));
        d[b] = db;
        s[b] = _mm512_reduce_add_epi32(_mm512_add_epi32(qi[0], qi[1]));
    }
}

void hwa__qrows_vnni(hwa_dtype t, const uint8_t *w, size_t wrow, int64_t n, int64_t K, int M, const int8_t *const *qa,
                     const float *const *da, const int32_t *const *sa, float *out, int64_t ldo) {
    switch (t) {
    case HWA_Q8_0: rows_of(HWA_Q8_0, w, wrow, n, K, M, qa, da, sa, out, ldo); break;
    case HWA_Q4_0: rows_of(HWA_Q4_0, w, wrow, n, K, M, qa, da, sa, out, ldo); break;
    case HWA_Q4_1: rows_of(HWA_Q4_1, w, wrow, n, K, M, qa, da, sa, out, ldo); break;
    case HWA_Q4_K: rows_of(HWA_Q4_K, w, wrow, n, K, M, qa, da, sa, out, ldo); break;
    case HWA_Q6_K: rows_of(HWA_Q6_K, w, wrow, n, K, M, qa, da, sa, out, ldo); break;
    default: break;
    }
}
#endif
