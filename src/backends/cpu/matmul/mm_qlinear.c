/* QLINEAR on the CPU: the choice between the AMX tiles, the VNNI kernels
 * and the f32 product, the kept weights, and the split across threads
 * (mm_qlinear.h). */
#include "backends/cpu/matmul/mm_qlinear.h"

#include <stdio.h>
#include <string.h>

#include "backends/cpu/cpu_fast.h"
#include "backends/cpu/cpu_isa.h"
#include "backends/cpu/ref/ref.h"

/* The forms of kept weights, and the kernels that read them. */
typedef enum ql_form { FORM_VNNI = 1, FORM_AMX = 2, FORM_F32 = 3 } ql_form;

typedef struct ql_kept {
    hwa__mm_kept key;
    hwa__ql_geom geom; /* FORM_VNNI, FORM_AMX */
    void *data;        /* FORM_VNNI, FORM_AMX: packed panels; FORM_F32: w as f32 [N, K] */
    int32_t *sums;     /* FORM_VNNI, FORM_AMX: sum_k w[n, k], [geom.NP] */
} ql_kept;

struct hwa__ql {
    hwa_ctx *ctx;
    hwa__mm_keep kept;
    void *scratch; /* the activations as u8 (VNNI) or as xq - z in f32 */
    size_t scratch_cap;
    void *params;  /* per row: s [M] floats, then z [M] ints */
    size_t params_cap;
};

/* Below this many multiply-adds a second thread costs more than it gives
 * (about a microsecond of VNNI work). */
#define QL_PAR_MIN (1 << 18)
/* The fewest rows for the AMX tiles. Measured on this project's machine
 * (one thread, 1000 -> 1000): 1 row 8.3 us on VNNI, 13.8 on tiles; 4 rows
 * 19 and 21; 8 rows 54 and 24; 64 rows 392 and 106. */
#define QL_AMX_MIN_M 5

static void drop_kept(hwa_ctx *ctx, hwa__mm_kept *k) {
    ql_kept *e = (ql_kept *)k;
    hwa__free(ctx, e->data);
    hwa__free(ctx, e->sums);
    hwa__free(ctx, e);
}

hwa__ql *hwa__ql_new(hwa_ctx *ctx) {
    hwa__ql *q = hwa__calloc(ctx, 1, sizeof *q);
    if (!q) return NULL;
    q->ctx = ctx;
    q->kept = (hwa__mm_keep){.ctx = ctx, .drop = drop_kept};
    return q;
}

void hwa__ql_free(hwa__ql *q) {
    if (!q) return;
    hwa__mm_keep_clear(&q->kept);
    hwa__free(q->ctx, q->scratch);
    hwa__free(q->ctx, q->params);
    hwa__free(q->ctx, q);
}

/* One QLINEAR node's operands, as the kernels take them. */
typedef struct ql_job {
    const hwa__ql *q;
    const float *x;
    int64_t ldx;       /* floats between rows of x */
    const int8_t *w;
    int64_t ldw;       /* bytes between rows of w */
    const float *ws;
    float *y;
    int64_t M, N, K;
    bool dynamic;
    bool avx2;         /* the f32 path's quantization with AVX2 */
    float s0, inv0;    /* static parameters */
    int z0;
    float *s;          /* per row */
    int *z;
    void *a;           /* quantized activations */
    int64_t lda;       /* their row length (bytes for u8, floats for f32) */
    const ql_kept *kept;
    int64_t mblocks, panels;
} ql_job;

/* The kernel for M rows at the active ISA level: AMX tiles from
 * QL_AMX_MIN_M rows, VNNI, or the f32 product. */
static ql_form form_for(int64_t M) {
#if defined(__x86_64__)
    const hwa__cpu_caps *caps = hwa__cpu_caps_get();
    const hwa__isa isa = hwa__isa_active();
    if (isa >= HWA_ISA_AMX && caps->amx_int8 && caps->amx_permitted && M >= QL_AMX_MIN_M) return FORM_AMX;
    if (isa >= HWA_ISA_AVX512 && caps->avx512_vnni) return FORM_VNNI;
#endif
    return FORM_F32;
}

/* The weights in form `form`, kept or made now; NULL when out of memory. */
int hwa__ql_kept_form(const hwa_tensor *dst) { return (int)form_for(dst->shape[0]); }

int64_t hwa__ql_kept_bytes(const hwa_tensor *dst) {
    const int64_t N = dst->shape[1], K = dst->src[0]->shape[1];
    const ql_form form = form_for(dst->shape[0]);
    if (form == FORM_F32) return N * K * (int64_t)sizeof(float);
    const hwa__ql_geom g = hwa__ql_geom_of(N, K, form == FORM_AMX);
    return (int64_t)hwa__ql_packed_bytes(&g) + g.NP * (int64_t)sizeof(int32_t);
}

static const ql_kept *weights(hwa__ql *q, const ql_job *j, const hwa_tensor *w, ql_form form) {
    const hwa_tensor *owner = hwa__storage(w);
    const hwa__mm_problem key = {.N = j->N, .K = j->K, .b = j->w, .ldb = j->ldw, .tb = true, .dt_b = HWA_I8,
                                 .b_owner = owner, .b_version = owner->version};
    int rewrites;
    ql_kept *e = (ql_kept *)hwa__mm_keep_find(&q->kept, &key, form, NULL, NULL, &rewrites);
    if (e) return e;
    e = hwa__calloc(q->ctx, 1, sizeof *e);
    if (!e) return NULL;
    if (form != FORM_F32) {
#if defined(__x86_64__)
        e->geom = hwa__ql_geom_of(j->N, j->K, form == FORM_AMX);
        e->data = hwa__malloc(q->ctx, hwa__ql_packed_bytes(&e->geom));
        e->sums = hwa__calloc(q->ctx, (size_t)e->geom.NP, sizeof *e->sums);
        if (e->data && e->sums) hwa__ql_pack_vnni(j->w, j->ldw, &e->geom, e->data, e->sums);
#endif
    } else {
        float *f = e->data = hwa__calloc(q->ctx, (size_t)(j->N * j->K), sizeof(float));
        for (int64_t n = 0; f && n < j->N; n++)
            for (int64_t k = 0; k < j->K; k++) f[n * j->K + k] = (float)j->w[n * j->ldw + k];
    }
    if (!e->data || (form != FORM_F32 && !e->sums)) {
        drop_kept(q->ctx, &e->key);
        return NULL;
    }
    hwa__mm_keep_add(&q->kept, &e->key, &key, form, rewrites);
    return e;
}

/* Rows [m0, m1): their parameters, and their values quantized into j->a. */
static void quantize_rows(void *ctx, int64_t m0, int64_t m1, int tid) {
    const ql_job *j = ctx;
    for (int64_t m = m0; m < m1; m++) {
        const float *x = j->x + m * j->ldx;
        float s = j->s0, inv = j->inv0;
        int z = j->z0;
#if defined(__x86_64__)
        if (j->kept->key.form != FORM_F32) {
            hwa__ql_quantize_avx512(x, j->K, j->kept->geom.K4, j->dynamic, &s, &inv, &z, (uint8_t *)j->a + m * j->lda);
            j->s[m] = s, j->z[m] = z;
            continue;
        }
#endif
        float *a = (float *)j->a + m * j->lda;
#if defined(__x86_64__)
        if (j->avx2) {
            hwa__ql_quantize_f32_avx2(x, j->K, j->dynamic, &s, &inv, &z, a);
            j->s[m] = s, j->z[m] = z;
            continue;
        }
#endif
        if (j->dynamic) hwa__qlinear_row_params(x, j->K, 1, &s, &inv, &z);
        for (int64_t k = 0; k < j->K; k++) a[k] = (float)((int)hwa__qlinear_quantize(x[k], inv, z) - z);
        j->s[m] = s, j->z[m] = z;
    }
}

#if defined(__x86_64__)
/* Tiles [t0, t1): panel-major, so that a thread's consecutive tiles share
 * the panel's weights. */
static void vnni_tiles(void *ctx, int64_t t0, int64_t t1, int tid) {
    const ql_job *j = ctx;
    const int64_t rows = (j->M + j->mblocks - 1) / j->mblocks;
    for (int64_t t = t0; t < t1; t++) {
        const int64_t p = t / j->mblocks, mb = t % j->mblocks;
        const int64_t m0 = mb * rows, m1 = m0 + rows < j->M ? m0 + rows : j->M;
        hwa__ql_gemm_vnni(j->a, j->lda, m0, m1, p, p + 1, j->kept->data, j->kept->sums, &j->kept->geom, j->z, j->s,
                          j->ws, j->y, j->N);
    }
}

/* Channel pairs [c0, c1) of every row on tiles. */
static void amx_pairs(void *ctx, int64_t c0, int64_t c1, int tid) {
    const ql_job *j = ctx;
    hwa__ql_gemm_amx(j->a, j->lda, j->M, c0, c1, j->kept->data, j->kept->sums, &j->kept->geom, j->z, j->s, j->ws,
                     j->y, j->N);
}
#endif

/* y[m, n] = acc * (s[m] ws[n]) after the f32 product left acc in y. */
static void scale_rows(void *ctx, int64_t m0, int64_t m1, int tid) {
    const ql_job *j = ctx;
    for (int64_t m = m0; m < m1; m++) {
        float *y = j->y + m * j->N;
        const float s = j->s[m];
        for (int64_t n = 0; n < j->N; n++) y[n] = y[n] * (s * j->ws[n]);
    }
}

/* Whether the node's layout is one the kernels take; fills the pointers. */
static bool layout(hwa_tensor *dst, ql_job *j) {
    const hwa_tensor *x = dst->src[0], *w = dst->src[1], *ws = dst->src[2];
    int64_t ne[4], xs[4], wst[4];
    hwa__shape4(x, ne, xs);
    hwa__shape4(w, ne, wst);
    j->M = dst->shape[0], j->N = dst->shape[1], j->K = x->shape[1];
    if (j->M < 1 || j->N < 1 || j->K < 1 || dst->dtype != HWA_F32 || !hwa_tensor_is_contiguous(dst) ||
        !hwa_tensor_is_contiguous(ws) || (xs[3] != 1 && j->K > 1) || (wst[3] != 1 && j->K > 1))
        return false;
    j->x = hwa__data(x), j->ldx = xs[2];
    j->w = hwa__data(w), j->ldw = wst[2];
    j->ws = hwa__data(ws), j->y = hwa__data(dst);
    j->dynamic = !(dst->p.f[0] > 0.0f);
    j->s0 = dst->p.f[0], j->inv0 = dst->p.f[1], j->z0 = dst->p.i[0];
    return j->x && j->w && j->ws && j->y;
}

hwa_status hwa__ql_run(hwa__ql *q, hwa__mm_state *mm, hwa_tensor *dst, const hwa__simd *simd, int nthreads,
                       char *name, size_t name_cap) {
    ql_job j = {.q = q};
    if (!layout(dst, &j)) return HWA_E_UNSUPPORTED;
    const ql_form form = form_for(j.M);
    const ql_kept *kept = weights(q, &j, dst->src[1], form);
    if (!kept) return hwa__err(q->ctx, HWA_E_NOMEM, "qlinear: out of memory keeping the weights of %s",
                               hwa__shape_fmt(dst->src[1], (char[96]){0}, 96));
    j.kept = kept;
    j.avx2 = form == FORM_F32 && simd != NULL && hwa__isa_active() >= HWA_ISA_AVX2;
    /* u8 rows of 4 K4 bytes (AMX: as many as fill whole pairs of tiles), or f32 rows */
    j.lda = form == FORM_F32 ? j.K : kept->geom.K4 * 4;
    const int64_t rows = form == FORM_AMX ? (j.M + 31) / 32 * 32 : j.M;
    const size_t abytes = (size_t)(rows * j.lda) * (form == FORM_F32 ? sizeof(float) : 1);
    if (!hwa__scratch_grow(q->ctx, &q->scratch, &q->scratch_cap, abytes) ||
        !hwa__scratch_grow(q->ctx, &q->params, &q->params_cap, (size_t)j.M * (sizeof(float) + sizeof(int))))
        return hwa__err(q->ctx, HWA_E_NOMEM, "qlinear: out of memory for the activations of %s",
                        hwa__shape_fmt(dst->src[0], (char[96]){0}, 96));
    j.a = q->scratch;
    j.s = q->params;
    j.z = (int *)(j.s + j.M);
    if (rows > j.M) memset((uint8_t *)j.a + j.M * j.lda, 0, (size_t)((rows - j.M) * j.lda));
    hwa__par_chunks(j.M, 1 + 16384 / j.K, nthreads, quantize_rows, &j);
#if defined(__x86_64__)
    const int nt = hwa__threads_over(j.M * j.N * j.K, QL_PAR_MIN, nthreads);
    if (form == FORM_AMX) {
        const int64_t pairs = kept->geom.NP / 32;
        hwa__par_for(nt, pairs, nt > 1 ? (pairs + 4 * nt - 1) / (4 * nt) : pairs, amx_pairs, &j);
        snprintf(name, name_cap, "qlinear:amx");
        return HWA_OK;
    }
    if (form == FORM_VNNI) {
        /* one block of rows for a GEMV; else blocks of rows enough for every
         * thread to have tiles */
        j.panels = (j.N + HWA_QL_PANEL - 1) / HWA_QL_PANEL;
        j.mblocks = 1;
        if (j.M >= 4)
            while (j.mblocks * j.panels < 4 * nt && j.M / (j.mblocks * 2) >= 6) j.mblocks *= 2;
        hwa__par_for(nt, j.panels * j.mblocks, 1, vnni_tiles, &j);
        snprintf(name, name_cap, "qlinear:avx512vnni:%s", j.M < 4 ? "gemv" : "gemm");
        return HWA_OK;
    }
#endif
    char inner[96] = "";
    const hwa__mm_problem p = {.M = j.M, .N = j.N, .K = j.K, .a = j.a, .lda = j.K, .dt_a = HWA_F32,
                               .b = kept->data, .ldb = j.K, .tb = true, .dt_b = HWA_F32, .c = j.y, .ldc = j.N,
                               .dt_c = HWA_F32, .dt_bias = HWA_F32, .act = HWA_OP_NONE,
                               .b_owner = hwa__storage(dst->src[1]), .b_version = hwa__storage(dst->src[1])->version,
                               .precision = HWA_MATMUL_PRECISION_F32};
    const hwa_status st = hwa__mm_run(mm, &p, simd, nthreads, inner, sizeof inner);
    if (st) return st;
    hwa__par_chunks(j.M, 1 + 65536 / j.N, nthreads, scale_rows, &j);
    snprintf(name, name_cap, "qlinear>f32:%s", inner);
    return HWA_OK;
}
