/* The matmul provider layer: provider order, the shared epilogue and the
 * per-backend state (see mm.h). */
#include "backends/cpu/matmul/mm.h"

#include <math.h>
#include <stdio.h>
#include <strings.h>

struct hwa__mm_state {
    hwa_ctx *ctx;
    hwa__mm_onednn *onednn; /* NULL when not built or the engine failed */
    hwa__mm_f16 *f16;       /* widened f16 weights and scratch */
    hwa__mm_amx *amx;       /* our AMX kernels' packed weights and scratch */
};

static const char *const provider_names[HWA_MM_PROVIDER_COUNT] = {"onednn", "openblas", "native"};
static int override_provider = -1;

const char *hwa__mm_provider_name(hwa__mm_provider p) {
    return (unsigned)p < HWA_MM_PROVIDER_COUNT ? provider_names[p] : "?";
}

bool hwa__mm_provider_built(hwa__mm_provider p) {
    switch (p) {
#if defined(HWA_HAVE_ONEDNN)
    case HWA_MM_ONEDNN: return true;
#endif
#if defined(HWA_HAVE_OPENBLAS)
    case HWA_MM_OPENBLAS: return true;
#endif
    case HWA_MM_NATIVE: return true;
    default: return false;
    }
}

void hwa__mm_set_override(int provider) {
    override_provider = provider >= 0 && provider < HWA_MM_PROVIDER_COUNT ? provider : -1;
}

int hwa__mm_forced(void) {
    if (override_provider >= 0) return override_provider;
    static int env = -2;
    if (env == -2) {
        env = -1;
        const char *e = getenv("HWA_MATMUL");
        for (int i = 0; e && *e && i < HWA_MM_PROVIDER_COUNT; i++)
            if (strcasecmp(e, provider_names[i]) == 0) env = i;
        if (e && *e && env < 0) fprintf(stderr, "hwadapt: HWA_MATMUL=%s is not one of onednn, openblas, native; ignored\n", e);
    }
    return env;
}

hwa__mm_state *hwa__mm_state_new(hwa_ctx *ctx) {
    hwa__mm_state *s = hwa__calloc(ctx, 1, sizeof *s);
    if (!s) return NULL;
    s->ctx = ctx;
    s->f16 = hwa__mm_f16_new(ctx);
    s->amx = hwa__mm_amx_new(ctx);
    if (!s->f16 || !s->amx || hwa__mm_onednn_new(ctx, &s->onednn) != HWA_OK) {
        hwa__mm_f16_free(s->f16);
        hwa__mm_amx_free(s->amx);
        hwa__free(ctx, s);
        return NULL;
    }
    return s;
}

void hwa__mm_state_free(hwa__mm_state *s) {
    if (!s) return;
    hwa__mm_onednn_free(s->onednn);
    hwa__mm_f16_free(s->f16);
    hwa__mm_amx_free(s->amx);
    hwa__free(s->ctx, s);
}

static hwa_status run_one(hwa__mm_state *s, int prov, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads,
                          char *name, size_t cap) {
    switch (prov) {
    case HWA_MM_ONEDNN: return hwa__mm_onednn_run(s->onednn, p, simd, nthreads, name, cap);
    case HWA_MM_OPENBLAS: return hwa__mm_openblas_run(p, simd, nthreads, name, cap);
    default: {
        /* our own: the AMX kernels for bf16 and int8, else the f32 GEMM / GEMV */
        const hwa_status st = hwa__mm_amx_run(s->amx, p, simd, nthreads, name, cap);
        return st != HWA_E_UNSUPPORTED ? st : hwa__mm_native_run(s->ctx, p, simd, nthreads, name, cap);
    }
    }
}

hwa_status hwa__mm_run(hwa__mm_state *s, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads, char *name,
                       size_t name_cap) {
    if (hwa__mm_involves(p, HWA_F16)) return hwa__mm_f16_run(s, s->f16, p, HWA_F16, simd, nthreads, name, name_cap);
    const hwa_status st = hwa__mm_run_providers(s, p, simd, nthreads, name, name_cap);
    /* bf16 that no provider multiplies (oneDNN's needs AVX-512 and ours AMX:
     * an AVX2 host, or no oneDNN in the build on a host without AMX):
     * widened to f32 like f16 */
    if (st == HWA_E_UNSUPPORTED && hwa__mm_involves(p, HWA_BF16))
        return hwa__mm_f16_run(s, s->f16, p, HWA_BF16, simd, nthreads, name, name_cap);
    return st;
}

/* The provider tried first for p, or -1 for the table's order (oneDNN,
 * OpenBLAS, ours): a forced provider; else ours where it is measured
 * fastest, the GEMV for small M and the AMX kernels for bf16 and int8. */
static int first_provider(const hwa__mm_problem *p, const hwa__simd *simd) {
    const int forced = hwa__mm_forced();
    if (forced >= 0) return forced;
    return hwa__mm_gemv_fits(p, simd) || hwa__mm_amx_preferred(p) ? HWA_MM_NATIVE : -1;
}

int64_t hwa__mm_kept_bytes(hwa__mm_state *s, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads) {
    if (hwa__mm_involves(p, HWA_F16)) return 0;
    /* oneDNN keeps a copy only when it is the one that runs p: first */
    const int first = first_provider(p, simd);
    if ((first >= 0 && first != HWA_MM_ONEDNN) || !hwa__mm_provider_built(HWA_MM_ONEDNN)) return 0;
    return hwa__mm_onednn_pack_bytes(s->onednn, p, nthreads);
}

/* An int8 product by the providers that multiply in int8 (oneDNN's s8
 * kernels, our AMX tiles), ours first where first_provider puts it first;
 * HWA_E_UNSUPPORTED when neither takes p. */
static hwa_status run_int8(hwa__mm_state *s, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads, char *name,
                           size_t name_cap) {
    const bool ours_first = first_provider(p, simd) == HWA_MM_NATIVE;
    for (int i = 0; i < 2; i++) {
        const bool ours = (i == 0) == ours_first;
        if (!ours && !hwa__mm_provider_built(HWA_MM_ONEDNN)) continue;
        const hwa_status st = ours ? hwa__mm_amx_run(s->amx, p, simd, nthreads, name, name_cap)
                                   : hwa__mm_onednn_run(s->onednn, p, simd, nthreads, name, name_cap);
        if (st != HWA_E_UNSUPPORTED) return st;
    }
    return HWA_E_UNSUPPORTED;
}

hwa_status hwa__mm_run_providers(hwa__mm_state *s, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads,
                                 char *name, size_t name_cap) {
    if (p->precision == HWA_MATMUL_PRECISION_INT8 && p->dt_a == HWA_F32 && p->dt_b == HWA_F32) {
        /* int8 where a provider can; else the fastest f32 path, saying so */
        hwa_status st = run_int8(s, p, simd, nthreads, name, name_cap);
        if (st != HWA_E_UNSUPPORTED) return st;
        hwa__mm_problem f = *p;
        f.precision = HWA_MATMUL_PRECISION_F32;
        char inner[80] = "";
        st = hwa__mm_run_providers(s, &f, simd, nthreads, inner, sizeof inner);
        if (st == HWA_OK) snprintf(name, name_cap, "int8>f32:%s", inner);
        return st;
    }
    const int first = first_provider(p, simd);
    int order[HWA_MM_PROVIDER_COUNT + 1], n = 0;
    if (first >= 0) order[n++] = first;
    for (int i = 0; i < HWA_MM_PROVIDER_COUNT; i++)
        if (i != first) order[n++] = i;
    for (int i = 0; i < n; i++) {
        if (!hwa__mm_provider_built((hwa__mm_provider)order[i])) continue;
        hwa_status st = run_one(s, order[i], p, simd, nthreads, name, name_cap);
        if (st != HWA_E_UNSUPPORTED) return st;
    }
    return HWA_E_UNSUPPORTED;
}

/* ---- kept forms of weights --------------------------------------------- */

static bool keep_key_eq(const hwa__mm_kept *e, const hwa__mm_problem *p, int form) {
    return e->owner == p->b_owner && e->b == p->b && e->ldb == p->ldb && e->tb == p->tb && e->dt_b == p->dt_b &&
           e->K == p->K && e->N == p->N && e->form == form;
}

hwa__mm_kept *hwa__mm_keep_find(hwa__mm_keep *c, const hwa__mm_problem *p, int form,
                                bool (*same)(const hwa__mm_kept *e, const void *arg), const void *arg, int *rewrites) {
    if (rewrites) *rewrites = 0;
    for (hwa__mm_kept **pp = &c->head, *e; (e = *pp) != NULL; pp = &e->next) {
        if (!keep_key_eq(e, p, form) || (same && !same(e, arg))) continue;
        if (e->version == p->b_version) return e;
        if (rewrites) *rewrites = e->rewrites + 1;
        *pp = e->next; /* stale: the owner was written since */
        c->drop(c->ctx, e);
        c->n--;
        return NULL;
    }
    return NULL;
}

void hwa__mm_keep_add(hwa__mm_keep *c, hwa__mm_kept *e, const hwa__mm_problem *p, int form, int rewrites) {
    if (c->n >= HWA_MM_KEEP_MAX) {
        hwa__mm_kept **q = &c->head;
        for (int i = 0; *q && i < HWA_MM_KEEP_MAX - 1; i++) q = &(*q)->next;
        while (*q) {
            hwa__mm_kept *d = *q;
            *q = d->next;
            c->drop(c->ctx, d);
            c->n--;
        }
    }
    e->owner = p->b_owner, e->version = p->b_version, e->b = p->b, e->ldb = p->ldb, e->K = p->K, e->N = p->N;
    e->tb = p->tb, e->dt_b = p->dt_b, e->form = form, e->rewrites = rewrites;
    e->next = c->head;
    c->head = e;
    c->n++;
}

void hwa__mm_keep_clear(hwa__mm_keep *c) {
    for (hwa__mm_kept *e = c->head, *nx; e; e = nx) {
        nx = e->next;
        c->drop(c->ctx, e);
    }
    c->head = NULL;
    c->n = 0;
}

void hwa__mm_int8_col_scales(const hwa__mm_problem *p, float *scale, float *inv) {
    const float *b = p->b;
    for (int64_t n = 0; n < p->N; n++) {
        float mx = 0.0f;
        for (int64_t k = 0; k < p->K; k++) mx = fmaxf(mx, fabsf(p->tb ? b[n * p->ldb + k] : b[k * p->ldb + n]));
        scale[n] = hwa__mm_int8_scale(mx);
        inv[n] = 1.0f / scale[n];
    }
}

static float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

typedef struct epilogue_job {
    const hwa__mm_problem *p;
    const hwa__simd *simd;
} epilogue_job;

static void epilogue_rows(void *ctx, int64_t m0, int64_t m1, int tid) {
    const epilogue_job *e = ctx;
    const hwa__mm_problem *p = e->p;
    const hwa__simd *simd = e->simd;
    const float *bias = p->bias;
    for (int64_t m = m0; m < m1; m++) {
        float *row = (float *)p->c + m * p->ldc;
        if (simd) {
            if (bias) simd->binary(HWA_OP_ADD, row, bias, 1, row, p->N);
            if (p->act != HWA_OP_NONE) simd->unary(p->act, row, row, p->N, 1.0f);
            continue;
        }
        for (int64_t j = 0; j < p->N; j++) {
            float v = row[j] + (bias ? bias[j] : 0.0f);
            if (p->act == HWA_OP_RELU) v = v > 0.0f ? v : 0.0f;
            else if (p->act == HWA_OP_GELU) v = gelu_erf(v);
            row[j] = v;
        }
    }
}

void hwa__mm_epilogue(const hwa__mm_problem *p, const hwa__simd *simd, int nthreads) {
    if (!p->bias && p->act == HWA_OP_NONE) return;
    epilogue_job e = {p, simd};
    hwa__mm_par_rows(nthreads, p->M, p->M * p->N, epilogue_rows, &e);
}
