/* QLINEAR's AVX-512 VNNI kernels (the layout is mm_qlinear.h's): packing,
 * the activations' quantization, and a register-blocked product of up to
 * MR_MAX rows by a panel of up to four 16-channel blocks. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "backends/cpu/matmul/mm_qlinear.h"
#include "backends/cpu/ref/ref.h"

#define INLINE static inline __attribute__((always_inline))
#define MR_MAX 6

void hwa__ql_pack_vnni(const int8_t *w, int64_t ldw, const hwa__ql_geom *g, uint8_t *packed, int32_t *sums) {
    const int64_t K4 = g->K4, NP = g->NP;
    memset(packed, 0, hwa__ql_packed_bytes(g));
    for (int64_t n = 0; n < NP; n++) sums[n] = 0;
    for (int64_t n = 0; n < g->N; n++) {
        const int64_t n0 = n / HWA_QL_PANEL * HWA_QL_PANEL;
        const int64_t nr = (NP - n0 < HWA_QL_PANEL ? NP - n0 : HWA_QL_PANEL) / 16;
        const int64_t j = (n - n0) / 16, lane = n % 16;
        uint8_t *base = packed + (size_t)(n0 * K4 * 4);
        const int8_t *row = w + n * ldw;
        int32_t sum = 0;
        for (int64_t k = 0; k < g->K; k++) {
            base[((k / 4) * nr + j) * 64 + lane * 4 + k % 4] = (uint8_t)row[k];
            sum += row[k];
        }
        sums[n] = sum;
    }
}

/* The 16 floats of x at k (fewer, zeros after, at the end). */
INLINE __m512 load16(const float *x, int64_t k, int64_t K) {
    const int64_t r = K - k;
    if (r >= 16) return _mm512_loadu_ps(x + k);
    return r > 0 ? _mm512_maskz_loadu_ps((__mmask16)((1u << r) - 1), x + k) : _mm512_setzero_ps();
}

void hwa__ql_quantize_avx512(const float *x, int64_t K, int64_t K4, bool dynamic, float *s, float *inv, int *z,
                             uint8_t *q) {
    if (dynamic) {
        /* zeros in a short last vector leave min(0, .) and max(0, .) as they
         * are; four chains of each hide the latency; a NaN is passed over,
         * as fminf / fmaxf do (vminps returns its second operand then) */
        __m512 lo[4], hi[4];
        for (int i = 0; i < 4; i++) lo[i] = hi[i] = _mm512_setzero_ps();
        int64_t k = 0;
        for (; k + 64 <= K; k += 64)
            for (int i = 0; i < 4; i++) {
                const __m512 v = _mm512_loadu_ps(x + k + 16 * i);
                lo[i] = _mm512_min_ps(v, lo[i]);
                hi[i] = _mm512_max_ps(v, hi[i]);
            }
        for (; k < K; k += 16) {
            const __m512 v = load16(x, k, K);
            lo[0] = _mm512_min_ps(v, lo[0]);
            hi[0] = _mm512_max_ps(v, hi[0]);
        }
        const __m512 l = _mm512_min_ps(_mm512_min_ps(lo[0], lo[1]), _mm512_min_ps(lo[2], lo[3]));
        const __m512 h = _mm512_max_ps(_mm512_max_ps(hi[0], hi[1]), _mm512_max_ps(hi[2], hi[3]));
        hwa__qlinear_range_params(_mm512_reduce_min_ps(l), _mm512_reduce_max_ps(h), s, inv, z);
    }
    const __m512 vinv = _mm512_set1_ps(*inv), vz = _mm512_set1_ps((float)*z), zero = _mm512_setzero_ps(),
                 top = _mm512_set1_ps(255.0f);
    const int64_t KQ = K4 * 4;
    for (int64_t k = 0; k < KQ; k += 16) {
        /* nearbyint(x inv) + z, clamped to [0, 255]: the same float operations
         * as hwa__qlinear_quantize */
        __m512 v = _mm512_roundscale_ps(_mm512_mul_ps(load16(x, k, K), vinv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(v, vz), zero), top);
        __m128i b = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v));
        const int64_t live = K - k;
        if (live < 16) b = _mm_maskz_mov_epi8(live > 0 ? (__mmask16)((1u << live) - 1) : 0, b);
        const int64_t room = KQ - k;
        if (room >= 16) _mm_storeu_si128((__m128i *)(q + k), b);
        else _mm_mask_storeu_epi8(q + k, (__mmask16)((1u << room) - 1), b);
    }
}

/* acc[m][j] += rows m < MR of q against blocks j < NR of the panel at w,
 * for all K4 groups. One or two rows leave the dependency chains short:
 * they run two sets of sums over alternate groups. */
INLINE void tile(int MR, int NR, const uint8_t *q, int64_t ldq, const uint8_t *w, int64_t K4,
                 __m512i acc[MR_MAX][4]) {
    __m512i acc2[MR_MAX][4];
    const bool twin = MR <= 2;
    for (int m = 0; m < MR; m++)
        for (int j = 0; j < NR; j++) acc[m][j] = acc2[m][j] = _mm512_setzero_si512();
    int64_t g = 0;
    if (twin) {
        for (; g + 2 <= K4; g += 2) {
            __m512i b0[4], b1[4];
            for (int j = 0; j < NR; j++) {
                b0[j] = _mm512_loadu_si512((const void *)(w + (g * NR + j) * 64));
                b1[j] = _mm512_loadu_si512((const void *)(w + ((g + 1) * NR + j) * 64));
            }
            for (int m = 0; m < MR; m++) {
                int32_t a0, a1;
                memcpy(&a0, q + m * ldq + 4 * g, 4);
                memcpy(&a1, q + m * ldq + 4 * g + 4, 4);
                const __m512i v0 = _mm512_set1_epi32(a0), v1 = _mm512_set1_epi32(a1);
                for (int j = 0; j < NR; j++) {
                    acc[m][j] = _mm512_dpbusd_epi32(acc[m][j], v0, b0[j]);
                    acc2[m][j] = _mm512_dpbusd_epi32(acc2[m][j], v1, b1[j]);
                }
            }
        }
    }
    for (; g < K4; g++) {
        __m512i b[4];
        for (int j = 0; j < NR; j++) b[j] = _mm512_loadu_si512((const void *)(w + (g * NR + j) * 64));
        for (int m = 0; m < MR; m++) {
            int32_t a;
            memcpy(&a, q + m * ldq + 4 * g, 4);
            const __m512i v = _mm512_set1_epi32(a);
            for (int j = 0; j < NR; j++) acc[m][j] = _mm512_dpbusd_epi32(acc[m][j], v, b[j]);
        }
    }
    if (twin)
        for (int m = 0; m < MR; m++)
            for (int j = 0; j < NR; j++) acc[m][j] = _mm512_add_epi32(acc[m][j], acc2[m][j]);
}

void hwa__ql_store16(const int32_t *acc, int64_t r, int64_t n, int64_t N, const int32_t *sums, const int *z,
                     const float *s, const float *ws, float *y, int64_t ldy) {
    const int64_t live = N - n;
    const __mmask16 mk = live >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << live) - 1);
    const __m512i sw = _mm512_loadu_si512((const void *)(sums + n));
    const __m512 vws = _mm512_maskz_loadu_ps(mk, ws + n);
    /* (float)(acc - z sum w) * (s ws[n]), as the reference */
    const __m512i a = _mm512_sub_epi32(_mm512_loadu_si512((const void *)acc),
                                       _mm512_mullo_epi32(_mm512_set1_epi32(z[r]), sw));
    const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_mul_ps(_mm512_set1_ps(s[r]), vws));
    _mm512_mask_storeu_ps(y + r * ldy + n, mk, v);
}

/* Rows m0.. (MR of them) by panel p (NR blocks from channel n0). */
INLINE void block(int MR, int NR, const uint8_t *q, int64_t ldq, int64_t m0, int64_t n0, const uint8_t *w,
                  const int32_t *sums, int64_t N, int64_t K4, const int *z, const float *s, const float *ws, float *y,
                  int64_t ldy) {
    __m512i acc[MR_MAX][4];
    tile(MR, NR, q + m0 * ldq, ldq, w, K4, acc);
    for (int j = 0; j < NR; j++)
        for (int m = 0; m < MR; m++) {
            int32_t a[16];
            _mm512_storeu_si512((void *)a, acc[m][j]);
            hwa__ql_store16(a, m0 + m, n0 + 16 * j, N, sums, z, s, ws, y, ldy);
        }
}

#define NR_CASES(MR)                                                                                         \
    switch (nr) {                                                                                            \
    case 1: block(MR, 1, q, ldq, m, n0, w, sums, N, K4, z, s, ws, y, ldy); break;                            \
    case 2: block(MR, 2, q, ldq, m, n0, w, sums, N, K4, z, s, ws, y, ldy); break;                            \
    case 3: block(MR, 3, q, ldq, m, n0, w, sums, N, K4, z, s, ws, y, ldy); break;                            \
    default: block(MR, 4, q, ldq, m, n0, w, sums, N, K4, z, s, ws, y, ldy); break;                           \
    }

void hwa__ql_gemm_vnni(const uint8_t *q, int64_t ldq, int64_t m0, int64_t m1, int64_t p0, int64_t p1,
                       const uint8_t *packed, const int32_t *sums, const hwa__ql_geom *g, const int *z, const float *s,
                       const float *ws, float *y, int64_t ldy) {
    const int64_t K4 = g->K4, NP = g->NP, N = g->N;
    for (int64_t p = p0; p < p1; p++) {
        const int64_t n0 = p * HWA_QL_PANEL;
        const int nr = (int)((NP - n0 < HWA_QL_PANEL ? NP - n0 : HWA_QL_PANEL) / 16);
        const uint8_t *w = packed + (size_t)(n0 * K4 * 4);
        for (int64_t m = m0; m < m1;) {
            const int64_t left = m1 - m;
            const int mr = left >= MR_MAX ? MR_MAX : (int)left;
            switch (mr) {
            case 1: NR_CASES(1); break;
            case 2: NR_CASES(2); break;
            case 3: NR_CASES(3); break;
            case 4: NR_CASES(4); break;
            case 5: NR_CASES(5); break;
            default: NR_CASES(6); break;
            }
            m += mr;
        }
    }
}

#endif
