/* f16 matrix products through the f32 providers, and bf16 ones that no
 * provider multiplies (oneDNN's bf16 needs AVX-512 and our tiles AMX: an
 * AVX2 host, or a build without oneDNN on a host without AMX).
 *
 * No matmul library here multiplies f16 (oneDNN 2.6 has no CPU f16 matmul
 * at all, not even a reference one; OpenBLAS has no hgemm), so an f16
 * product is widened: f16 -> f32 (like bf16 -> f32) is exact, so the f32
 * product of the widened operands accumulates in f32 exactly as the
 * reference does, and only the order of the sums differs. Activations (A)
 * and half biases are widened per call into scratch; weights (B) once per
 * tensor version and kept, keyed like oneDNN's packed-weight cache by the
 * tensor that owns them (trainable parameters are not kept: cpu_backend.c
 * gives no owner for them, as they change through hwa_tensor_data without a
 * version). A half result is computed in f32 scratch, with the fused bias
 * and activation, and rounded once (an accumulated one starts from its
 * widened values). Small-M products with weights stored [N, K] keep the
 * weights in f16 and go to the GEMV, which widens them in registers (an
 * mmapped f16 model is then read in place, at half the bytes of f32). */
#include "backends/cpu/matmul/mm.h"

#include <string.h>

#include "core/checked.h"

typedef struct cvt_entry {
    hwa__mm_kept key;
    float *data; /* B widened, stored as B was ([N, K] when tb) with dense rows */
} cvt_entry;

enum { BUF_A, BUF_B, BUF_C, BUF_BIAS, BUF_COUNT };

struct hwa__mm_f16 {
    hwa_ctx *ctx;
    hwa__mm_keep kept; /* widened weights */
    void *buf[BUF_COUNT];
    size_t cap[BUF_COUNT];
};

static void drop_entry(hwa_ctx *ctx, hwa__mm_kept *k) {
    cvt_entry *e = (cvt_entry *)k;
    hwa__free(ctx, e->data);
    hwa__free(ctx, e);
}

hwa__mm_f16 *hwa__mm_f16_new(hwa_ctx *ctx) {
    hwa__mm_f16 *f = hwa__calloc(ctx, 1, sizeof *f);
    if (f) f->ctx = ctx, f->kept = (hwa__mm_keep){.ctx = ctx, .drop = drop_entry};
    return f;
}

void hwa__mm_f16_free(hwa__mm_f16 *f) {
    if (!f) return;
    hwa__mm_keep_clear(&f->kept);
    for (int i = 0; i < BUF_COUNT; i++) hwa__free(f->ctx, f->buf[i]);
    hwa__free(f->ctx, f);
}

bool hwa__mm_involves(const hwa__mm_problem *p, hwa_dtype t) {
    return p->dt_a == t || p->dt_b == t || p->dt_c == t || (p->bias && p->dt_bias == t);
}

/* n floats of scratch slot i (contents not kept); NULL when out of memory. */
static float *scratch(hwa__mm_f16 *f, int i, int64_t n) {
    size_t bytes;
    if (!hwa__mul_size((size_t)(n > 0 ? n : 1), sizeof(float), &bytes)) return NULL;
    return hwa__scratch_grow(f->ctx, &f->buf[i], &f->cap[i], bytes);
}

/* The half matrix [rows, cols] (bf16 or f16) with leading dimension ld to
 * dense f32. */
typedef struct cvt_job {
    const uint16_t *h;  /* widen: the source; narrow: NULL */
    uint16_t *hd;       /* narrow: the destination */
    const float *f;     /* narrow: the source */
    float *fd;          /* widen: the destination */
    int64_t cols, ld_half, ld_f32;
    bool bf16;
    const hwa__simd *simd;
} cvt_job;

static void widen_rows(void *ctx, int64_t r0, int64_t r1, int tid) {
    const cvt_job *j = ctx;
    const int64_t cols = j->cols;
    for (int64_t r = r0; r < r1; r++) {
        const uint16_t *s = j->h + r * j->ld_half;
        float *d = j->fd + r * j->ld_f32;
        if (j->simd) j->simd->half_to_f32(s, d, cols, j->bf16);
        else for (int64_t c = 0; c < cols; c++) d[c] = j->bf16 ? hwa_bf16_to_f32(s[c]) : hwa_f16_to_f32(s[c]);
    }
}

static void narrow_rows(void *ctx, int64_t r0, int64_t r1, int tid) {
    const cvt_job *j = ctx;
    const int64_t cols = j->cols;
    for (int64_t r = r0; r < r1; r++) {
        const float *s = j->f + r * j->ld_f32;
        uint16_t *d = j->hd + r * j->ld_half;
        if (j->simd) j->simd->f32_to_half(s, d, cols, j->bf16);
        else for (int64_t c = 0; c < cols; c++) d[c] = j->bf16 ? hwa_f32_to_bf16(s[c]) : hwa_f32_to_f16(s[c]);
    }
}

static void widen(const uint16_t *s, int64_t rows, int64_t cols, int64_t ld, bool bf16, float *d,
                  const hwa__simd *simd, int nthreads) {
    cvt_job j = {.h = s, .fd = d, .cols = cols, .ld_half = ld, .ld_f32 = cols, .bf16 = bf16, .simd = simd};
    hwa__mm_par_rows(nthreads, rows, rows * cols, widen_rows, &j);
}

/* C (f32, dense [M, N]) rounded into the half result. */
static void narrow(const float *s, const hwa__mm_problem *p, bool bf16, const hwa__simd *simd, int nthreads) {
    cvt_job j = {.hd = p->c, .f = s, .cols = p->N, .ld_half = p->ldc, .ld_f32 = p->N, .bf16 = bf16, .simd = simd};
    hwa__mm_par_rows(nthreads, p->M, p->M * p->N, narrow_rows, &j);
}

/* B widened: from the cache, widened now and kept, or (no owner) widened
 * into scratch. NULL when out of memory. */
static const float *weights(hwa__mm_f16 *f, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads) {
    const int64_t rows = p->tb ? p->N : p->K, cols = p->tb ? p->K : p->N;
    const bool bf16 = p->dt_b == HWA_BF16;
    if (!p->b_owner) {
        float *d = scratch(f, BUF_B, rows * cols);
        if (d) widen(p->b, rows, cols, p->ldb, bf16, d, simd, nthreads);
        return d;
    }
    cvt_entry *e = (cvt_entry *)hwa__mm_keep_find(&f->kept, p, 0, NULL, NULL, NULL);
    if (e) return e->data;
    e = hwa__calloc(f->ctx, 1, sizeof *e);
    float *d = e ? hwa__calloc(f->ctx, (size_t)(rows * cols > 0 ? rows * cols : 1), sizeof(float)) : NULL;
    if (!d) {
        hwa__free(f->ctx, e);
        return NULL;
    }
    widen(p->b, rows, cols, p->ldb, bf16, d, simd, nthreads);
    e->data = d;
    hwa__mm_keep_add(&f->kept, &e->key, p, 0, 0);
    return d;
}

hwa_status hwa__mm_f16_run(hwa__mm_state *s, hwa__mm_f16 *f, const hwa__mm_problem *p, hwa_dtype h,
                           const hwa__simd *simd, int nthreads, char *name, size_t name_cap) {
#define F32_OR_H(t) ((t) == HWA_F32 || (t) == h)
    if (!f || (h != HWA_F16 && h != HWA_BF16) || !F32_OR_H(p->dt_a) || !F32_OR_H(p->dt_b) || !F32_OR_H(p->dt_c) ||
        (p->bias && !F32_OR_H(p->dt_bias)))
        return HWA_E_UNSUPPORTED;
#undef F32_OR_H
    const bool bf16 = h == HWA_BF16;
    hwa__mm_problem q = *p;
    const char *what = "activations";
    if (p->dt_a == h) {
        const int64_t rows = p->ta ? p->K : p->M, cols = p->ta ? p->M : p->K;
        float *a = scratch(f, BUF_A, rows * cols);
        if (!a) goto nomem;
        widen(p->a, rows, cols, p->lda, bf16, a, simd, nthreads);
        q.a = a, q.lda = cols, q.dt_a = HWA_F32;
    }
    if (p->bias && p->dt_bias == h) {
        what = "bias";
        float *b = scratch(f, BUF_BIAS, p->N);
        if (!b) goto nomem;
        widen(p->bias, 1, p->N, p->N, bf16, b, simd, 1);
        q.bias = b, q.dt_bias = HWA_F32;
    }
    if (p->dt_c == h) {
        what = "result";
        float *c = scratch(f, BUF_C, p->M * p->N);
        if (!c) goto nomem;
        /* C += A B: the sums start from C's current values */
        if (p->accumulate) widen(p->c, p->M, p->N, p->ldc, bf16, c, simd, nthreads);
        q.c = c, q.ldc = p->N, q.dt_c = HWA_F32;
    }
    /* The GEMV reads half weights itself, unless a provider is forced. */
    const int forced = hwa__mm_forced();
    const bool keep_b = p->dt_b == h && p->K > 0 && hwa__mm_gemv_fits(&q, simd) &&
                        (forced < 0 || forced == HWA_MM_NATIVE);
    if (p->dt_b == h && !keep_b) {
        what = "weights";
        const float *b = weights(f, p, simd, nthreads);
        if (!b) goto nomem;
        q.b = b, q.ldb = p->tb ? p->K : p->N, q.dt_b = HWA_F32;
    }
    char inner[96];
    hwa_status st = hwa__mm_run_providers(s, &q, simd, nthreads, inner, sizeof inner);
    if (st) return st;
    if (p->dt_c == h) narrow(q.c, p, bf16, simd, nthreads);
    /* Whether anything was widened outside the GEMV's registers. */
    const bool widened = q.dt_b != p->dt_b || p->dt_a == h || p->dt_c == h || q.dt_bias != p->dt_bias;
    snprintf(name, name_cap, "%s%s", widened ? (bf16 ? "bf16>f32:" : "f16>f32:") : "", inner);
    return HWA_OK;
nomem:
    return hwa__err(f->ctx, HWA_E_NOMEM, "matmul: out of memory widening the %s %s to f32", hwa_dtype_name(h), what);
}
