/* The AMX tile kernels of our own bf16 and int8 products (driven by
 * mm_amx_plan.c, which packs the weights and decides who runs what).
 *
 * One job is C[M,N] = A[M,K] B[K,N] with both operands in 1 KB tiles:
 *   bf16: 16 rows x 32 values (TDPBF16PS, f32 sums),
 *   int8: 16 rows x 64 values (TDPBSSD, int32 sums).
 * Tiles come in pairs: the A tiles of rows [32i, 32i+32) for k-tile kb are
 * adjacent ("m-pair" i), and so are the B tiles of columns [32j, 32j+32)
 * ("n-pair" j). One step of the inner loop loads two A and two B tiles and
 * issues four products into the 2 x 2 block of C tiles held in tmm0-3, so
 * every tile load feeds one product.
 *
 * What was measured on this machine (Sapphire Rapids class, 2 cores, 48 KB
 * L1 and 2 MB L2 each): with everything in L1 the loop runs at the
 * TDPBF16PS rate (16 cycles; with both cores busy on real data the clock
 * drops and a product takes about 6 ns). Fed from L2 it is bound by L2
 * bandwidth (some 64-80 GB/s a core), so the loop order is chosen to cut
 * L2 traffic: each thread owns a slice of B's columns (packed once, kept in
 * its L2) and its own copy of a block of A's rows (converted per call, no
 * sharing between cores and no barrier); K comes in chunks whose B tiles
 * stay in L1 while every m-pair of the block uses them. Storing a C tile
 * and reading it back with vector loads at once costs about as much as
 * the products of a block, so full C tiles are stored straight into C, a
 * bias is loaded into the accumulators up front (a tile load with stride
 * 0), only edge tiles go through a small staging buffer, and an activation,
 * the int8 rescale or the rounding to bf16 is one pass over each thread's
 * part of C after its products. */
#include "backends/cpu/matmul/mm.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "backends/cpu/simd/cvt_bf16.h"

typedef struct tile_cfg {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_cfg;

#define TILE_BYTES HWA_AMX_TILE_BYTES

/* A constant in memory: GCC does not count _tile_loadconfig as a read of
 * its operand, and drops the stores that would fill one on the stack once
 * the function is not inlined. */
static const tile_cfg tiles_16x64 = {.palette = 1,
                                     .colsb = {64, 64, 64, 64, 64, 64, 64, 64},
                                     .rows = {16, 16, 16, 16, 16, 16, 16, 16}};

void hwa__amx_tiles_on(void) { _tile_loadconfig(&tiles_16x64); }

/* Masks of the first n lanes (any n: all of them past 16 or 32, none below 1). */
static inline __mmask16 lanes16(int64_t n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}
static inline __mmask32 lanes32(int64_t n) {
    return n >= 32 ? (__mmask32)0xffffffffu : n <= 0 ? (__mmask32)0 : (__mmask32)((1u << n) - 1);
}

/* ---- A into tiles ------------------------------------------------------ */

/* Rows [m0, m0 + rows) of row-major A into a block of bf16 tiles, each 32
 * values of a row rounded (f32) or copied (bf16) straight into its 64-byte
 * row of a tile, zeros past K and in rows past M. */
static void a_block_bf16(const hwa__amx_job *j, int64_t m0, int64_t rows, char *blk) {
    const hwa__mm_problem *p = j->p;
    for (int64_t r = 0; r < rows; r++) {
        const int64_t m = m0 + r, mt = r / 16;
        char *d = blk + hwa__amx_tile(j->KB, mt, 0) * TILE_BYTES + (r % 16) * 64;
        if (m >= p->M) {
            for (int64_t kb = 0; kb < j->KB; kb++) memset(d + kb * 2 * TILE_BYTES, 0, 64);
            continue;
        }
        if (p->dt_a == HWA_F32) {
            /* VCVTNE2PS2BF16 alone: it rounds as the codec does but reads a
             * denormal as zero, and so does TDPBF16PS (input denormals are
             * zero to it): the products are the codec's. */
            const float *x = (const float *)p->a + m * p->lda;
            const int64_t full = p->K / 32;
            for (int64_t kb = 0; kb < full; kb++)
                _mm512_storeu_si512(d + kb * 2 * TILE_BYTES,
                                    (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + kb * 32 + 16), _mm512_loadu_ps(x + kb * 32)));
            if (full < j->KB) {
                const int64_t n = p->K - full * 32;
                const __m512 lo = _mm512_maskz_loadu_ps(lanes16(n), x + full * 32);
                const __m512 hi = _mm512_maskz_loadu_ps(lanes16(n - 16), x + full * 32 + 16);
                _mm512_storeu_si512(d + full * 2 * TILE_BYTES, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
            }
            continue;
        }
        /* bf16: 64-byte pieces of the row, the last one masked */
        const uint16_t *x = (const uint16_t *)p->a + m * p->lda;
        const int64_t full = p->K / 32, n = p->K - full * 32;
        for (int64_t kb = 0; kb < full; kb++)
            _mm512_storeu_si512(d + kb * 2 * TILE_BYTES, _mm512_loadu_si512(x + kb * 32));
        if (full < j->KB)
            _mm512_storeu_si512(d + full * 2 * TILE_BYTES, _mm512_maskz_loadu_epi16(lanes32(n), x + full * 32));
    }
}

/* Row m of A (f32) quantized symmetrically with its own scale into row
 * `row` of a block of int8 tiles: q = nearest(x / s), s = max |x| / 127
 * (1 for a zero row), kept in *scale. */
static void a_row_s8(const hwa__amx_job *j, int64_t m, char *blk, int64_t row, float *scale) {
    const hwa__mm_problem *p = j->p;
    const int64_t mt = row / 16, r = row % 16;
    char *base = blk + hwa__amx_tile(j->KB, mt, 0) * TILE_BYTES + r * 64;
    if (m >= p->M) {
        for (int64_t kb = 0; kb < j->KB; kb++) memset(base + kb * 2 * TILE_BYTES, 0, 64);
        *scale = 1.0f;
        return;
    }
    const float *x = (const float *)p->a;
    const int64_t step = p->ta ? p->lda : 1, at0 = p->ta ? m : m * p->lda;
    float mx = 0.0f;
    if (step == 1) {
        __m512 v = _mm512_setzero_ps();
        int64_t k = 0;
        for (; k + 16 <= p->K; k += 16) v = _mm512_max_ps(v, _mm512_abs_ps(_mm512_loadu_ps(x + at0 + k)));
        v = _mm512_max_ps(v, _mm512_abs_ps(_mm512_maskz_loadu_ps(lanes16(p->K - k), x + at0 + k)));
        mx = _mm512_reduce_max_ps(v);
    } else {
        for (int64_t k = 0; k < p->K; k++) mx = fmaxf(mx, fabsf(x[at0 + k * step]));
    }
    const float s = hwa__mm_int8_scale(mx);
    *scale = s;
    const __m512 vinv = _mm512_set1_ps(1.0f / s);
    for (int64_t kb = 0; kb < j->KB; kb++) {
        int8_t *d = (int8_t *)(base + kb * 2 * TILE_BYTES);
        for (int q = 0; q < 4; q++) {
            const int64_t kq = kb * 64 + 16 * q, n = p->K - kq;
            __m512 v;
            if (step == 1) {
                v = _mm512_maskz_loadu_ps(lanes16(n), x + at0 + kq);
            } else {
                float t[16] = {0};
                for (int64_t e = 0; e < 16 && e < n; e++) t[e] = x[at0 + (kq + e) * step];
                v = _mm512_loadu_ps(t);
            }
            /* cvtps rounds to nearest even, as nearbyintf does */
            _mm_store_si128((__m128i *)(d + 16 * q), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v, vinv))));
        }
    }
}

/* ---- B into tiles ------------------------------------------------------ */

/* The 16 x 16 32-bit words in r transposed in place (word j of r[i] to word
 * i of r[j]): four rounds of interleaving. */
static inline void transpose16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    /* now r[4q + j] holds, in each 128-bit lane l, words j of rows 4q..4q+3
     * of lane l's columns; gather the lanes */
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0x88);      /* lanes 0,2 of each */
        t[i + 4] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0xdd);  /* lanes 1,3 */
        t[i + 8] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xdd);
        r[i + 4] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

/* A row-major matrix of f32 or bf16 values, rows x cols with rows ld
 * apart, read as bf16 (f32 rounded as the codec does). */
typedef struct mat {
    const void *base;
    hwa_dtype dt;
    int64_t ld, rows, cols;
} mat;

/* 16 values of row r (columns c0..) in the low 256 bits; zeros past the
 * matrix. */
static inline __m256i row16(const mat *x, int64_t r, int64_t c0) {
    const int64_t n = r < x->rows ? x->cols - c0 : 0;
    if (x->dt == HWA_BF16) return _mm256_maskz_loadu_epi16(lanes16(n), (const uint16_t *)x->base + r * x->ld + c0);
    uint16_t t[32];
    hwa__f32_to_bf16x32((const float *)x->base + r * x->ld + c0, n < 16 ? n : 16, t);
    return _mm256_loadu_si256((const __m256i *)t);
}

/* 32 values of row r (columns c0..): 16 words of pairs; zeros past the
 * matrix. */
static inline __m512i row32(const mat *x, int64_t r, int64_t c0) {
    const int64_t m = r < x->rows ? x->cols - c0 : 0;
    if (x->dt == HWA_BF16) return _mm512_maskz_loadu_epi16(lanes32(m), (const uint16_t *)x->base + r * x->ld + c0);
    uint16_t t[32];
    hwa__f32_to_bf16x32((const float *)x->base + r * x->ld + c0, m < 32 ? m : 32, t);
    return _mm512_loadu_si512(t);
}

/* r[q] = rows r0 + 2q and r0 + 2q + 1 (columns c0..c0+16) interleaved: word
 * c holds the pair of column c0 + c. */
static inline void row_pairs(const mat *x, int64_t r0, int64_t c0, __m512i r[16]) {
    const __m512i pairs = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                                           21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int q = 0; q < 16; q++) {
        const __m512i two = _mm512_inserti64x4(_mm512_castsi256_si512(row16(x, r0 + 2 * q, c0)),
                                               row16(x, r0 + 2 * q + 1, c0), 1);
        r[q] = _mm512_permutexvar_epi16(pairs, two);
    }
}

static inline void tile_store(char *d, const __m512i r[16]) {
    for (int q = 0; q < 16; q++) _mm512_storeu_si512(d + q * 64, r[q]);
}

typedef struct pack_job {
    const hwa__mm_problem *p;
    mat w;
    int64_t KB;
    void *tiles;
} pack_job;

static void pack_units(void *ctx, int64_t u0, int64_t u1, int tid) {
    const pack_job *j = ctx;
    const int64_t KB = j->KB;
    for (int64_t u = u0; u < u1; u++) { /* in the tiles' own order: writes in sequence */
        const int64_t nt = (u / (2 * KB)) * 2 + u % 2, kb = (u / 2) % KB;
        __m512i r[16];
        if (j->p->tb) {
            for (int c = 0; c < 16; c++) r[c] = row32(&j->w, nt * 16 + c, kb * 32);
            transpose16(r);
        } else {
            row_pairs(&j->w, kb * 32, nt * 16, r);
        }
        tile_store((char *)j->tiles + (size_t)u * TILE_BYTES, r);
    }
}

void hwa__amx_pack_bf16(const hwa__mm_problem *p, int64_t KB, int64_t NP, void *tiles, int nthreads) {
    const int64_t units = NP * 2 * KB;
    /* B^T = W [N, K] rows: each tile the transpose of 16 rows x 16 words of
     * W; B [K, N] rows: each tile row two rows of B interleaved */
    pack_job j = {p, {p->b, p->dt_b, p->ldb, p->tb ? p->N : p->K, p->tb ? p->K : p->N}, KB, tiles};
    const int nt = nthreads > 1 && units >= 64 ? nthreads : 1;
    hwa__par_for(nt, units, nt > 1 ? (units + 4 * nt - 1) / (4 * nt) : units, pack_units, &j);
}

/* Rows [m0, m0 + rows) of A = S^T (S [K, M] row-major, as a transposed A is
 * stored) into a block of bf16 tiles: tile (mt, kb) is the transpose of
 * S's rows 32 kb.. paired, columns 16 mt..; zeros past K and M. */
static void a_block_t_bf16(const hwa__amx_job *j, int64_t m0, int64_t rows, char *blk) {
    const hwa__mm_problem *p = j->p;
    const mat st = {p->a, p->dt_a, p->lda, p->K, p->M};
    for (int64_t mt = 0; mt * 16 < rows; mt++)
        for (int64_t kb = 0; kb < j->KB; kb++) {
            __m512i r[16];
            row_pairs(&st, kb * 32, m0 + mt * 16, r);
            transpose16(r);
            tile_store(blk + hwa__amx_tile(j->KB, mt, kb) * TILE_BYTES, r);
        }
}

/* ---- one n-pair of C over a block of m-pairs --------------------------- */

/* K is taken in chunks of this many k-tiles when it is longer: the chunk of
 * the n-pair's B tiles (16 KB) stays in L1 while every m-pair of the block
 * uses it, and the partial sums wait in a per-thread stage (in L1 too).
 * Measured on this machine, 2 threads, 64 x 1000 x 1000: about 12% faster
 * than one pass over all of K per m-pair. */
#define KCHUNK HWA_AMX_KCHUNK
/* At most this many m-pairs share a chunk of B (their partial sums: 4 KB
 * each). */
#define MCB_CHUNKED HWA_AMX_MCB_CHUNKED

typedef struct thread_ctx {
    const hwa__amx_job *j;
    const char *ablk;   /* this thread's A tiles of the current block */
    int64_t mp0;        /* the block's first m-pair */
    int64_t np0;        /* this thread's first n-pair */
    float *sums;        /* bf16 C: this thread's f32 sums, [block rows, its columns] */
    int64_t sums_ld;    /* their row length in floats */
    float (*edge)[256]; /* 4 tiles: edge tiles of C */
    float (*part)[256]; /* MCB_CHUNKED x 4 tiles: partial sums */
} thread_ctx;

/* Where C tile (mt, nt) is loaded and stored in place, with its row
 * stride in bytes: in C (f32 or int32 sums) when all of it lies inside C,
 * in the thread's sums (bf16 C, padded to whole tiles); NULL when it goes
 * through the edge stage. */
static char *tile_in_place(const thread_ctx *b, int64_t mt, int64_t nt, int64_t *ld_bytes) {
    const hwa__mm_problem *p = b->j->p;
    if (b->sums) {
        *ld_bytes = b->sums_ld * 4;
        return (char *)(b->sums + ((mt - 2 * b->mp0) * 16 * b->sums_ld + (nt - 2 * b->np0) * 16));
    }
    *ld_bytes = p->ldc * 4;
    if (mt * 16 + 16 > p->M || nt * 16 + 16 > p->N) return NULL;
    return (char *)p->c + (mt * 16 * p->ldc + nt * 16) * 4;
}

/* An edge tile's stage holding C's current values (accumulate), zeros
 * elsewhere. */
static void edge_from_c(const hwa__amx_job *j, int64_t mt, int64_t nt, float *st) {
    const hwa__mm_problem *p = j->p;
    memset(st, 0, 256 * sizeof *st);
    for (int64_t r = 0; r < 16 && mt * 16 + r < p->M; r++)
        for (int64_t c = 0; c < 16 && nt * 16 + c < p->N; c++)
            st[r * 16 + c] = ((const float *)p->c)[(mt * 16 + r) * p->ldc + nt * 16 + c];
}

/* An edge tile's stage into C (f32 or int32 bits): the rows and columns
 * inside C. */
static void edge_to_c(const hwa__amx_job *j, int64_t mt, int64_t nt, const float *st) {
    const hwa__mm_problem *p = j->p;
    const int64_t rows = p->M - mt * 16 < 16 ? p->M - mt * 16 : 16, cols = p->N - nt * 16 < 16 ? p->N - nt * 16 : 16;
    for (int64_t r = 0; r < rows && cols > 0; r++)
        memcpy((float *)p->c + (mt * 16 + r) * p->ldc + nt * 16, st + r * 16, (size_t)cols * 4);
}

/* Tile T (C tile q of the 2 x 2 block) before the first chunk: C itself
 * (accumulate), the bias in every row (a tile load with stride 0) or zeros. */
#define TILE_INIT(T, q)                                                                                   \
    do {                                                                                                  \
        if (p->accumulate) { /* never with int8 (hwa__mm_amx_takes) */                                  \
            if (dst[q]) {                                                                                 \
                _tile_loadd(T, dst[q], ld_b[q]);                                                          \
            } else {                                                                                      \
                edge_from_c(j, mt[q], nt[q], b->edge[q]);                                                 \
                _tile_loadd(T, b->edge[q], 64);                                                           \
            }                                                                                             \
        } else if (!j->int8 && j->bias_pad) {                                                             \
            _tile_loadd(T, j->bias_pad + nt[q] * 16, 0);                                                  \
        } else {                                                                                          \
            _tile_zero(T);                                                                                \
        }                                                                                                 \
    } while (0)

/* Tile T after the last chunk: into C, or into its edge stage. */
#define TILE_DONE(T, q)                                                                                   \
    do {                                                                                                  \
        if (dst[q]) {                                                                                     \
            _tile_stored(T, dst[q], ld_b[q]);                                                             \
        } else {                                                                                          \
            _tile_stored(T, b->edge[q], 64);                                                              \
        }                                                                                                 \
    } while (0)

/* Sums over k-tiles [k0, k1) into tmm0-3 for A tiles a and B tiles bt (both
 * at k-tile k0). */
static inline void products(const char *a, const char *bt, int64_t k0, int64_t k1, bool int8) {
    a += k0 * 2 * TILE_BYTES;
    bt += k0 * 2 * TILE_BYTES;
#define PRODUCTS(DP)                                                                 \
    for (int64_t kb = k0; kb < k1; kb++, a += 2 * TILE_BYTES, bt += 2 * TILE_BYTES) { \
        _tile_loadd(4, a, 64);                                                       \
        _tile_loadd(5, a + TILE_BYTES, 64);                                          \
        _tile_loadd(6, bt, 64);                                                      \
        _tile_loadd(7, bt + TILE_BYTES, 64);                                         \
        DP(0, 4, 6);                                                                 \
        DP(1, 4, 7);                                                                 \
        DP(2, 5, 6);                                                                 \
        DP(3, 5, 7);                                                                 \
    }
    if (int8) {
        PRODUCTS(_tile_dpbssd)
    } else {
        PRODUCTS(_tile_dpbf16ps)
    }
#undef PRODUCTS
}

/* C tiles of n-pair np for the m-pairs [b->mp0, mp1) of the current block. */
static void npair(const thread_ctx *b, int64_t np, int64_t mp1) {
    const hwa__amx_job *j = b->j;
    const hwa__mm_problem *p = j->p;
    const int64_t KB = j->KB, kc = KB > KCHUNK ? KCHUNK : KB > 0 ? KB : 1;
    const char *bt = (const char *)j->b_tiles + np * KB * 2 * TILE_BYTES;
    int64_t k0 = 0;
    do { /* once when K is 0: the bias (or zeros) into C */
        const int64_t k1 = k0 + kc < KB ? k0 + kc : KB;
        for (int64_t mp = b->mp0; mp < mp1; mp++) {
            const int64_t mt[4] = {2 * mp, 2 * mp, 2 * mp + 1, 2 * mp + 1};
            const int64_t nt[4] = {2 * np, 2 * np + 1, 2 * np, 2 * np + 1};
            char *dst[4];
            int64_t ld_b[4];
            for (int q = 0; q < 4; q++) dst[q] = tile_in_place(b, mt[q], nt[q], &ld_b[q]);
            float(*part)[256] = b->part + (mp - b->mp0) * 4;
            if (k0 == 0) {
                TILE_INIT(0, 0);
                TILE_INIT(1, 1);
                TILE_INIT(2, 2);
                TILE_INIT(3, 3);
            } else {
                _tile_loadd(0, part[0], 64);
                _tile_loadd(1, part[1], 64);
                _tile_loadd(2, part[2], 64);
                _tile_loadd(3, part[3], 64);
            }
            products(b->ablk + (mp - b->mp0) * KB * 2 * TILE_BYTES, bt, k0, k1, j->int8);
            if (k1 < KB) {
                _tile_stored(0, part[0], 64);
                _tile_stored(1, part[1], 64);
                _tile_stored(2, part[2], 64);
                _tile_stored(3, part[3], 64);
                continue;
            }
            TILE_DONE(0, 0);
            TILE_DONE(1, 1);
            TILE_DONE(2, 2);
            TILE_DONE(3, 3);
            for (int q = 0; q < 4; q++)
                if (!dst[q]) edge_to_c(j, mt[q], nt[q], b->edge[q]);
        }
        k0 = k1;
    } while (k0 < KB);
}

/* A bf16 C accumulated: the thread's f32 sums start as C's rows [m0, m1) x
 * columns [n0, n1), zeros in the padding. */
static void sums_from_c(const thread_ctx *b, int64_t m0, int64_t rows, int64_t n0, int64_t n1, const hwa__simd *simd) {
    const hwa__mm_problem *p = b->j->p;
    for (int64_t r = 0; r < rows; r++) {
        float *row = b->sums + r * b->sums_ld;
        const int64_t m = m0 + r, w = m < p->M ? n1 - n0 : 0;
        if (w > 0) simd->half_to_f32((const uint16_t *)p->c + m * p->ldc + n0, row, w, true);
        memset(row + w, 0, (size_t)(b->sums_ld - w) * sizeof *row);
    }
}

/* ---- after the products ------------------------------------------------ */

/* Rows [m0, m1) x columns [n0, n1) of C after their sums: int8 sums
 * rescaled (row scales from rs, indexed from m0) plus the bias; bf16 C
 * rounded from the thread's f32 sums; then the activation (before the
 * rounding). */
static void finish(const thread_ctx *b, int64_t m0, int64_t m1, int64_t n0, int64_t n1, const float *rs,
                   const hwa__simd *simd) {
    const hwa__amx_job *j = b->j;
    const hwa__mm_problem *p = j->p;
    if (!j->int8 && !b->sums && p->act == HWA_OP_NONE) return;
    const int64_t w = n1 - n0;
    for (int64_t m = m0; m < m1; m++) {
        /* the sums of row m, columns n0.. */
        float *row = b->sums ? b->sums + (m - m0) * b->sums_ld + (n0 - 32 * b->np0) : (float *)p->c + m * p->ldc + n0;
        if (j->int8) {
            const __m512 sx = _mm512_set1_ps(rs[m - m0]);
            for (int64_t i = 0; i < w; i += 16) {
                const __mmask16 k = lanes16(w - i);
                const __m512i acc = _mm512_maskz_loadu_epi32(k, row + i);
                __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc),
                                         _mm512_mul_ps(sx, _mm512_maskz_loadu_ps(k, j->col_scales + n0 + i)));
                if (j->bias_pad) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, j->bias_pad + n0 + i));
                _mm512_mask_storeu_ps(row + i, k, v);
            }
        }
        if (p->act != HWA_OP_NONE) simd->unary(p->act, row, row, w, 1.0f);
        if (b->sums) simd->f32_to_half(row, (uint16_t *)p->c + m * p->ldc + n0, w, true);
    }
}

/* ---- the job ----------------------------------------------------------- */

typedef struct run_ctx {
    const hwa__amx_job *j;
    const hwa__simd *simd;
} run_ctx;

/* Parts [t0, t1) of the job's T = nthreads parts, on thread tid's tiles and
 * scratch. A part is what one thread did under a static split: the pool
 * hands parts out one at a time, so a thread the scheduler delays leaves
 * its part to the others instead of holding the product up. */
static void run_parts(void *ctx, int64_t t0, int64_t t1, int tid) {
    const run_ctx *rc = ctx;
    const hwa__amx_job *j = rc->j;
    const hwa__simd *simd = rc->simd;
    const hwa__mm_problem *p = j->p;
    const int64_t MP = j->MP, NP = j->NP, mcb = j->mcb, T = j->nthreads > 1 ? j->nthreads : 1;
    const size_t a_stride = hwa__amx_a_bytes(j);
    for (int64_t t = t0; t < t1; t++) {
        /* np-split: every m-pair, this part's n-pairs; else the other way. */
        const int64_t n0 = j->split_n ? NP * t / T : 0, n1 = j->split_n ? NP * (t + 1) / T : NP;
        const int64_t m0 = j->split_n ? 0 : MP * t / T, m1 = j->split_n ? MP : MP * (t + 1) / T;
        const int64_t c0 = n0 * 32, c1 = n1 * 32 < p->N ? n1 * 32 : p->N;
        float edge[4][256] __attribute__((aligned(64)));
        float part[MCB_CHUNKED * 4][256] __attribute__((aligned(64)));
        char *ablk = (char *)j->a_tiles + (size_t)tid * a_stride;
        float *rs = j->row_scales ? j->row_scales + (size_t)tid * (size_t)(mcb * 32) : NULL;
        float *sums = j->c_sums ? j->c_sums + (size_t)tid * j->c_sums_per_thread : NULL;
        thread_ctx b = {j, ablk, 0, n0, sums, (n1 - n0) * 32, edge, part};
        const bool work = n0 < n1 && m0 < m1;
        if (work) hwa__amx_tiles_on();
        for (int64_t mb = m0; mb < m1 && work; mb += mcb) {
            const int64_t me = mb + mcb < m1 ? mb + mcb : m1;
            /* this block of A into this thread's own tiles: no sharing
             * between cores and no barrier (converting a block together
             * into one copy halves the conversion, but the products then
             * fetch half of A from the other core: measured slower for
             * 64 x 1000 x 1000) */
            if (j->int8)
                for (int64_t row = 0; row < (me - mb) * 32; row++) a_row_s8(j, mb * 32 + row, ablk, row, &rs[row]);
            else if (p->ta)
                a_block_t_bf16(j, mb * 32, (me - mb) * 32, ablk);
            else
                a_block_bf16(j, mb * 32, (me - mb) * 32, ablk);
            b.mp0 = mb;
            if (sums && p->accumulate) sums_from_c(&b, mb * 32, (me - mb) * 32, c0, c1, simd);
            for (int64_t np = n0; np < n1; np++) npair(&b, np, me);
            const int64_t r0 = mb * 32, r1 = me * 32 < p->M ? me * 32 : p->M;
            if (r0 < r1 && c0 < c1) finish(&b, r0, r1, c0, c1, rs, simd);
        }
        if (work) _tile_release();
    }
}

void hwa__amx_run_job(const hwa__amx_job *j, const hwa__simd *simd) {
    const int T = j->nthreads > 1 ? j->nthreads : 1;
    run_ctx rc = {j, simd};
    hwa__par_for(T, T, 1, run_parts, &rc);
}

#endif
