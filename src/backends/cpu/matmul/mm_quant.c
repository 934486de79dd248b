/* Products with weights in a block type (Q8_0, Q4_0, Q4_1, Q4_K, Q6_K): C =
 * A W^T with A f32 [M, K] and W [N, K] in blocks, as llama.cpp computes them.
 * Each row of A is quantized to 8 bits per 32 values on the fly (scale
 * max|x|/127, round to nearest), every weight block is widened to int8 in
 * registers' worth of scratch, and the products of a block are summed in
 * int32 (the int8 dot is the ISA's: AVX-512 VNNI dpbusd, AVX2 maddubs, or
 * scalar), then scaled
 * by the two blocks' scales in f32. The weights are read in place: no
 * dequantized copy of the matrix is made. Rows of W are split across the
 * threads. The results differ from the reference kernels' (which multiply
 * the decoded weights by f32 activations) by the activations' 8-bit
 * rounding, about 2^-8 of a row's largest value per term.
 *
 * A product with many rows of A (a prompt) would read every weight block
 * once per HWA_QROWS_MAX rows; it decodes W instead, a panel of rows at a
 * time, and multiplies the panels with the tuned dense kernels (bf16 AMX
 * tiles where active: the activations are rounded either way). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backends/cpu/cpu_isa.h"
#include "backends/cpu/matmul/mm_quant.h"
#include "core/pool.h"

static int32_t dot_i8_scalar(const int8_t *a, const int8_t *b, int n) {
    int32_t s = 0;
    for (int i = 0; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}

static float f16f(const uint8_t *p) { return hwa_f16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }

/* nb blocks of 32 values of x to 8 bits: q [32 nb], scales d [nb] (max|x|
 * / 127, nearest, halves away from zero) and sums s [nb] of q. */
static void q8_blocks(const float *x, int64_t nb, int8_t *q, float *ds, int32_t *ss) {
    for (int64_t b = 0; b < nb; b++) {
        float amax = 0.0f;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[32 * b + i]));
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int32_t s = 0;
        for (int i = 0; i < 32; i++) {
            q[32 * b + i] = (int8_t)lrintf(roundf(x[32 * b + i] * id));
            s += q[32 * b + i];
        }
        ds[b] = d;
        ss[b] = s;
    }
}

typedef struct qrow {
    const int8_t *q;   /* K int8 */
    const float *d;    /* K/32 scales */
    const int32_t *s;  /* K/32 sums of q */
} qrow;

/* Row n of W against one quantized row of A, a block at a time. */
float hwa__qrow_scalar(hwa_dtype t, const uint8_t *w, int64_t K, const int8_t *qa, const float *da, const int32_t *sa) {
    const qrow row = {qa, da, sa}, *a = &row;
    int32_t (*dot)(const int8_t *, const int8_t *, int) = dot_i8_scalar;
    int8_t u[256];
    float acc = 0.0f;
    switch (t) {
    case HWA_Q8_0:
        for (int64_t b = 0; b < K / 32; b++, w += 34)
            acc += f16f(w) * a->d[b] * (float)dot((const int8_t *)w + 2, a->q + 32 * b, 32);
        break;
    case HWA_Q4_0:
        for (int64_t b = 0; b < K / 32; b++, w += 18) {
            for (int j = 0; j < 16; j++) u[j] = (int8_t)((w[2 + j] & 15) - 8), u[j + 16] = (int8_t)((w[2 + j] >> 4) - 8);
            acc += f16f(w) * a->d[b] * (float)dot(u, a->q + 32 * b, 32);
        }
        break;
    case HWA_Q4_1:
        for (int64_t b = 0; b < K / 32; b++, w += 20) {
            for (int j = 0; j < 16; j++) u[j] = (int8_t)(w[4 + j] & 15), u[j + 16] = (int8_t)(w[4 + j] >> 4);
            acc += a->d[b] * (f16f(w) * (float)dot(u, a->q + 32 * b, 32) + f16f(w + 2) * (float)a->s[b]);
        }
        break;
    case HWA_Q4_K:
        for (int64_t kb = 0; kb < K / 256; kb++, w += 144) {
            const float d = f16f(w), dmin = f16f(w + 2);
            const uint8_t *sc = w + 4, *q = w + 16;
            for (int j = 0; j < 8; j++) {
                int s6, m6;
                hwa__q4k_scale_min(j, sc, &s6, &m6);
                const int c = j / 2, h = j % 2;
                for (int l = 0; l < 32; l++) u[l] = (int8_t)((q[32 * c + l] >> (4 * h)) & 15);
                const int64_t b = kb * 8 + j;
                acc += a->d[b] * (d * (float)s6 * (float)dot(u, a->q + 32 * b, 32) - dmin * (float)m6 * (float)a->s[b]);
            }
        }
        break;
    case HWA_Q6_K:
        for (int64_t kb = 0; kb < K / 256; kb++, w += 210) {
            const uint8_t *ql = w, *qh = w + 128;
            const int8_t *sc = (const int8_t *)(w + 192);
            const float d = f16f(w + 208);
            for (int h = 0; h < 2; h++)
                for (int r = 0; r < 128; r++)
                    u[128 * h + r] = (int8_t)((((ql[64 * h + r % 64] >> (4 * (r / 64))) & 15) |
                                               (((qh[32 * h + r % 32] >> (2 * (r / 32))) & 3) << 4)) - 32);
            for (int j = 0; j < 8; j++) {
                const int64_t b = kb * 8 + j;
                const float s = (float)sc[2 * j] * (float)dot(u + 32 * j, a->q + 32 * b, 16) +
                                (float)sc[2 * j + 1] * (float)dot(u + 32 * j + 16, a->q + 32 * b + 16, 16);
                acc += a->d[b] * d * s;
            }
        }
        break;
    default:
        break;
    }
    return acc;
}

#if defined(__x86_64__)
#define ROW_GROUP HWA_QROWS_W
#else
#define ROW_GROUP 1
#endif

typedef struct job {
    const hwa__mm_problem *p;
    const qrow *rows;
    size_t wrow; /* bytes per row of W */
    hwa__qkern kern;
} job;

static void rows_of_w(void *ctx, int64_t n0, int64_t n1, int tid) {
    (void)tid;
    const job *j = ctx;
    const hwa__mm_problem *p = j->p;
    float *c = p->c;
    const uint8_t *w0 = (const uint8_t *)p->b + (size_t)n0 * j->wrow;
#if defined(__x86_64__)
    if (j->kern != HWA_QK_SCALAR) {
        /* activation rows a few at a time: each weight block unpacked once for them */
        for (int64_t m0 = 0; m0 < p->M; m0 += HWA_QROWS_MAX) {
            const int mm = (int)(p->M - m0 < HWA_QROWS_MAX ? p->M - m0 : HWA_QROWS_MAX);
            const int8_t *qa[HWA_QROWS_MAX];
            const float *da[HWA_QROWS_MAX];
            const int32_t *sa[HWA_QROWS_MAX];
            for (int k = 0; k < mm; k++) qa[k] = j->rows[m0 + k].q, da[k] = j->rows[m0 + k].d, sa[k] = j->rows[m0 + k].s;
            float *out = c + m0 * p->ldc;
            if (j->kern == HWA_QK_VNNI) {
                hwa__qrows_vnni(p->dt_b, w0, j->wrow, n1 - n0, p->K, mm, qa, da, sa, out + n0, p->ldc);
                continue;
            }
            for (int64_t n = n0; n < n1; n++) {
                float o[HWA_QROWS_MAX];
                hwa__qrows_avx2(p->dt_b, w0 + (size_t)(n - n0) * j->wrow, p->K, mm, qa, da, sa, o);
                for (int k = 0; k < mm; k++) out[k * p->ldc + n] = o[k];
            }
        }
        return;
    }
#endif
    for (int64_t n = n0; n < n1; n++)
        for (int64_t m = 0; m < p->M; m++)
            c[m * p->ldc + n] = hwa__qrow_scalar(p->dt_b, w0 + (size_t)(n - n0) * j->wrow, p->K, j->rows[m].q,
                                                 j->rows[m].d, j->rows[m].s);
}

hwa__qkern hwa__qkern_pick(bool simd) {
#if defined(__x86_64__)
    if (!simd) return HWA_QK_SCALAR;
    return hwa__isa_active() >= HWA_ISA_AVX512 && hwa__cpu_caps_get()->avx512_vnni ? HWA_QK_VNNI : HWA_QK_AVX2;
#else
    (void)simd;
    return HWA_QK_SCALAR;
#endif
}

const char *hwa__qkern_name(hwa__qkern k) {
    return k == HWA_QK_VNNI ? "avx512vnni" : k == HWA_QK_AVX2 ? "avx2" : "scalar";
}

bool hwa__mm_quant_fits(const hwa__mm_problem *p) {
    return hwa_dtype_is_quantized(p->dt_b) && p->dt_a == HWA_F32 && p->dt_c == HWA_F32 && p->tb && !p->ta &&
           !p->bias && p->act == HWA_OP_NONE && !p->accumulate && p->K % hwa_dtype_block_size(p->dt_b) == 0 &&
           p->K % 32 == 0;
}

/* The bytes of a row of p's W; HWA_E_UNSUPPORTED unless p fits and W's
 * rows are whole rows of blocks, one after the other. */
static hwa_status w_row_bytes(const hwa__mm_problem *p, size_t *wrow) {
    if (!hwa__mm_quant_fits(p)) return HWA_E_UNSUPPORTED;
    hwa_status st = hwa_dtype_row_bytes(p->dt_b, p->K, wrow);
    if (st) return st;
    if ((size_t)p->ldb * hwa_dtype_block_bytes(p->dt_b) / (size_t)hwa_dtype_block_size(p->dt_b) != *wrow)
        return HWA_E_UNSUPPORTED;
    return HWA_OK;
}

hwa_status hwa__mm_quant_run(hwa_ctx *ctx, const hwa__mm_problem *p, hwa__qkern kern, int nthreads, void **scratch,
                             size_t *cap) {
    size_t wrow, need;
    hwa_status st = w_row_bytes(p, &wrow);
    if (st) return st;
    const int64_t nb = p->K / 32;
    if (!hwa__mul_size((size_t)p->M, (size_t)p->K + (size_t)nb * (sizeof(float) + sizeof(int32_t)), &need) ||
        !hwa__add_size(need, (size_t)p->M * sizeof(qrow) + 64, &need))
        return hwa__err(ctx, HWA_E_OVERFLOW, "quantized product: scratch size overflows");
    char *buf = hwa__scratch_grow(ctx, scratch, cap, need);
    if (!buf) return HWA_E_NOMEM;
    qrow *rows = (qrow *)buf;
    float *ds = (float *)(buf + (size_t)p->M * sizeof(qrow));
    int32_t *ss = (int32_t *)(ds + p->M * nb);
    int8_t *qs = (int8_t *)(ss + p->M * nb);
#if !defined(__x86_64__)
    kern = HWA_QK_SCALAR;
#endif
    /* each row of A to 8 bits a 32-value block at a time */
    for (int64_t m = 0; m < p->M; m++) {
        const float *x = (const float *)p->a + m * p->lda;
        int8_t *q = qs + m * p->K;
#if defined(__x86_64__)
        if (kern == HWA_QK_VNNI)
            hwa__q8_rows_avx512(x, nb, q, ds + m * nb, ss + m * nb);
        else
#endif
            q8_blocks(x, nb, q, ds + m * nb, ss + m * nb);
        rows[m] = (qrow){q, ds + m * nb, ss + m * nb};
    }
    job j = {p, rows, wrow, kern};
    const double work = (double)p->M * (double)p->N * (double)p->K;
    const int nt = work > 65536 ? nthreads : 1;
    /* chunks of whole groups of HWA_QROWS_W rows of W (the VNNI kernel's) */
    const int64_t grain = nt > 1 ? ((p->N + 4 * nt - 1) / (4 * nt) + ROW_GROUP - 1) / ROW_GROUP * ROW_GROUP : p->N;
    hwa__par_for(nt, p->N, grain, rows_of_w, &j);
    return HWA_OK;
}

/* ---- many rows of A: W decoded a panel at a time ------------------------- */

typedef struct decode_job {
    const hwa__mm_problem *p;
    size_t wrow;
    int64_t n0; /* the panel's first row of W */
    void *dst;  /* the panel: rows of K bf16 or f32 */
    bool bf16;
    const hwa__simd *simd; /* its f32 -> bf16 rounding */
} decode_job;

static void decode_rows(void *ctx, int64_t r0, int64_t r1, int tid) {
    (void)tid;
    const decode_job *j = ctx;
    const hwa__mm_problem *p = j->p;
    const int64_t bs = hwa_dtype_block_size(p->dt_b);
    const size_t bb = hwa_dtype_block_bytes(p->dt_b);
    float tmp[256]; /* a whole number of blocks of every type */
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *w = (const uint8_t *)p->b + (size_t)(j->n0 + r) * j->wrow;
        for (int64_t k = 0; k < p->K; k += 256) {
            const int64_t n = p->K - k < 256 ? p->K - k : 256;
            float *f = j->bf16 ? tmp : (float *)j->dst + r * p->K + k;
            (void)hwa_convert_to_f32(p->dt_b, w + (size_t)(k / bs) * bb, f, n);
            if (j->bf16) j->simd->f32_to_half(tmp, (uint16_t *)j->dst + r * p->K + k, n, true);
        }
    }
}

hwa_status hwa__mm_quant_gemm(hwa__mm_state *s, hwa_ctx *ctx, const hwa__mm_problem *p, const hwa__simd *simd,
                              int nthreads, void **scratch, size_t *cap, char *name, size_t name_cap) {
    size_t wrow;
    hwa_status st = w_row_bytes(p, &wrow);
    if (st) return st;
    const hwa__cpu_caps *caps = hwa__cpu_caps_get();
    const bool bf16 = hwa__isa_active() >= HWA_ISA_AMX && caps->amx_bf16 && caps->amx_permitted;
    const size_t es = bf16 ? 2 : 4;
    /* panels of about 4 MiB, whole 64-row multiples (the tile kernels' n-pairs) */
    int64_t np = (int64_t)((4u << 20) / ((size_t)p->K * es)) / 64 * 64;
    if (np < 64) np = 64;
    if (np > p->N) np = p->N;
    size_t need;
    if (!hwa__mul_size((size_t)np, (size_t)p->K * es, &need))
        return hwa__err(ctx, HWA_E_OVERFLOW, "quantized product: panel size overflows");
    void *panel = hwa__scratch_grow(ctx, scratch, cap, need);
    if (!panel) return HWA_E_NOMEM;
    char inner[96] = "";
    for (int64_t n0 = 0; n0 < p->N && st == HWA_OK; n0 += np) {
        const int64_t nn = p->N - n0 < np ? p->N - n0 : np;
        decode_job dj = {p, wrow, n0, panel, bf16, simd};
        hwa__mm_par_rows(nthreads, nn, nn * p->K, decode_rows, &dj);
        hwa__mm_problem q = *p;
        q.N = nn;
        q.b = panel;
        q.ldb = p->K;
        q.dt_b = bf16 ? HWA_BF16 : HWA_F32;
        q.c = (float *)p->c + n0;
        q.b_owner = NULL; /* a panel lives for one call: nothing to keep */
        q.b_version = 0;
        /* A is rounded anyway (to 8 bits by the block dots): bf16 tiles */
        q.precision = bf16 ? HWA_MATMUL_PRECISION_BF16 : HWA_MATMUL_PRECISION_F32;
        st = hwa__mm_run(s, &q, simd, nthreads, inner, sizeof inner);
    }
    if (st == HWA_OK) snprintf(name, name_cap, "%s>%s:%s", hwa_dtype_name(p->dt_b), bf16 ? "bf16" : "f32", inner);
    return st;
}
