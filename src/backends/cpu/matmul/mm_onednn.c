/* The oneDNN matmul provider: f32, bf16 (AMX or AVX512-BF16) and int8 (AMX
 * or VNNI) products, with the bias and activation fused as post-ops where
 * oneDNN does them.
 *
 * Per-call overhead matters at the seed's sizes (a Linear 1000 -> 1000 on a
 * batch of 64 runs in well under a millisecond), so everything that can be
 * is made once and kept: the primitive per (shape, strides, dtypes, fusion,
 * precision), its memory objects (only the data handles change per call),
 * and the weights reordered into the layout the primitive prefers, keyed by
 * the tensor that owns them and its version (bumped on every write). */
#include "backends/cpu/matmul/mm.h"

#if defined(HWA_HAVE_ONEDNN)
#include <math.h>
#include <pthread.h>
#include <oneapi/dnnl/dnnl.h>
#include <string.h>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/cpu_isa.h"

/* What the product computes in. */
typedef enum ctype { CT_F32, CT_BF16, CT_S8 } ctype;

typedef struct prim_entry {
    /* key */
    int64_t M, N, K, lda, ldb, ldc;
    bool ta, tb, packed, has_bias, accumulate;
    hwa_dtype dt_a, dt_c, dt_bias;
    hwa_op act;
    ctype ct;
    int nthreads;          /* OpenMP's thread count when it was made: oneDNN plans its
                            * split for it and runs that many threads, whatever
                            * omp_set_num_threads says later */
    /* value: NULL prim means oneDNN cannot do this case */
    dnnl_primitive_t prim;
    dnnl_memory_desc_t wei_md;
    dnnl_memory_t src, wei, bias, dst;
    char impl[64];
    struct prim_entry *next;
} prim_entry;

typedef struct pack_entry {
    hwa__mm_kept key;      /* form: the ctype packed for; also keyed by md */
    dnnl_memory_desc_t md; /* the layout and type packed into */
    dnnl_memory_t mem;     /* owns the packed data */
    float *scales;         /* int8: per output channel */
} pack_entry;

struct hwa__mm_onednn {
    hwa_ctx *ctx;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    prim_entry *prims;
    hwa__mm_keep packs;
    void *scratch; /* converted / quantized activations */
    size_t scratch_cap;
    void *row_scales;
    size_t row_scales_cap;
};

static dnnl_data_type_t dnnl_dt(hwa_dtype t) {
    switch (t) {
    case HWA_F32: return dnnl_f32;
    case HWA_BF16: return dnnl_bf16;
    case HWA_F16: return dnnl_f16;
    case HWA_I8: return dnnl_s8;
    case HWA_I32: return dnnl_s32;
    default: return dnnl_data_type_undef;
    }
}

static void drop_pack(hwa_ctx *ctx, hwa__mm_kept *k) {
    pack_entry *p = (pack_entry *)k;
    if (p->mem) dnnl_memory_destroy(p->mem);
    hwa__free(ctx, p->scales);
    hwa__free(ctx, p);
}

/* HWA_ISA below the host's level caps oneDNN's own dispatch too (AVX2 code
 * for avx2, AVX-512 without AMX for avx512), so that the whole backend runs
 * as on such a CPU. oneDNN takes the cap once per process, before its first
 * primitive; its own ONEDNN_MAX_CPU_ISA / DNNL_MAX_CPU_ISA, when set, win.
 * The tests' run-time override cannot reach it (the providers' own checks
 * of the active level still apply). */
static void cap_isa(void) {
    const int env = hwa__isa_env();
    if (env < 0 || env == HWA_ISA_SCALAR || getenv("ONEDNN_MAX_CPU_ISA") || getenv("DNNL_MAX_CPU_ISA")) return;
    dnnl_set_max_cpu_isa(env == HWA_ISA_AVX2 ? dnnl_cpu_isa_avx2 : dnnl_cpu_isa_avx512_core_bf16);
}

void hwa__onednn_cap_isa(void) {
    static pthread_once_t capped = PTHREAD_ONCE_INIT;
    pthread_once(&capped, cap_isa);
}

hwa_status hwa__mm_onednn_new(hwa_ctx *ctx, hwa__mm_onednn **out) {
    *out = NULL;
    hwa__onednn_cap_isa();
    hwa__mm_onednn *o = hwa__calloc(ctx, 1, sizeof *o);
    if (!o) return HWA_E_NOMEM;
    o->ctx = ctx;
    o->packs = (hwa__mm_keep){.ctx = ctx, .drop = drop_pack};
    if (dnnl_engine_create(&o->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&o->stream, o->engine, dnnl_stream_default_flags) != dnnl_success) {
        hwa__mm_onednn_free(o); /* no engine: the other providers remain */
        return HWA_OK;
    }
    *out = o;
    return HWA_OK;
}

void hwa__mm_onednn_free(hwa__mm_onednn *o) {
    if (!o) return;
    for (prim_entry *e = o->prims, *nx; e; e = nx) {
        nx = e->next;
        if (e->prim) dnnl_primitive_destroy(e->prim);
        dnnl_memory_t mems[4] = {e->src, e->wei, e->bias, e->dst};
        for (int i = 0; i < 4; i++)
            if (mems[i]) dnnl_memory_destroy(mems[i]);
        hwa__free(o->ctx, e);
    }
    hwa__mm_keep_clear(&o->packs);
    if (o->stream) dnnl_stream_destroy(o->stream);
    if (o->engine) dnnl_engine_destroy(o->engine);
    hwa__free(o->ctx, o->scratch);
    hwa__free(o->ctx, o->row_scales);
    hwa__free(o->ctx, o);
}

/* A 2-D [rows, cols] descriptor of a matrix stored row-major with leading
 * dimension ld, read transposed when trans. */
static bool md_2d(dnnl_memory_desc_t *md, int64_t rows, int64_t cols, int64_t ld, bool trans, dnnl_data_type_t dt) {
    dnnl_dims_t dims = {rows, cols}, strides;
    strides[0] = trans ? 1 : ld;
    strides[1] = trans ? ld : 1;
    return dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides) == dnnl_success;
}

static bool key_eq(const prim_entry *e, const hwa__mm_problem *p, ctype ct, bool packed, int nthreads) {
    return e->M == p->M && e->N == p->N && e->K == p->K && e->lda == p->lda && e->ldb == p->ldb &&
           e->ldc == p->ldc && e->ta == p->ta && e->tb == p->tb && e->packed == packed &&
           e->has_bias == (p->bias != NULL) && e->dt_a == p->dt_a && e->dt_c == p->dt_c &&
           (!p->bias || e->dt_bias == p->dt_bias) && e->act == p->act && e->ct == ct &&
           e->accumulate == p->accumulate && e->nthreads == nthreads;
}

/* Creates the primitive for p; leaves e->prim NULL when oneDNN declines. */
static void prim_create(hwa__mm_onednn *o, prim_entry *e, const hwa__mm_problem *p) {
    const dnnl_data_type_t dt_in = e->ct == CT_F32 ? dnnl_f32 : e->ct == CT_BF16 ? dnnl_bf16 : dnnl_s8;
    /* int8 writes raw int32 sums into C (same size as f32); the scales,
     * bias and activation follow in our epilogue. */
    const dnnl_data_type_t dt_c = e->ct == CT_S8 ? dnnl_s32 : dnnl_dt(p->dt_c);
    /* Activations that we convert ourselves are packed rows [M, K]. */
    const bool converted = e->ct != CT_F32 && p->dt_a == HWA_F32;
    dnnl_memory_desc_t a_md, b_md, c_md, bias_md;
    bool ok = md_2d(&a_md, p->M, p->K, converted ? p->K : p->lda, converted ? false : p->ta, dt_in) &&
              md_2d(&c_md, p->M, p->N, p->ldc, false, dt_c);
    if (e->packed) {
        dnnl_dims_t wd = {p->K, p->N};
        ok = ok && dnnl_memory_desc_init_by_tag(&b_md, 2, wd, dt_in, dnnl_format_tag_any) == dnnl_success;
    } else {
        ok = ok && md_2d(&b_md, p->K, p->N, p->ldb, p->tb, dt_in);
    }
    const bool fuse = e->ct != CT_S8;
    if (fuse && p->bias) {
        dnnl_dims_t bd = {1, p->N};
        ok = ok && dnnl_memory_desc_init_by_tag(&bias_md, 2, bd, dnnl_dt(p->dt_bias), dnnl_ab) == dnnl_success;
    }
    dnnl_matmul_desc_t desc;
    ok = ok && dnnl_matmul_desc_init(&desc, &a_md, &b_md, fuse && p->bias ? &bias_md : NULL, &c_md) == dnnl_success;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    ok = ok && dnnl_primitive_attr_create(&attr) == dnnl_success;
    if (ok && fuse && p->act != HWA_OP_NONE) {
        ok = dnnl_post_ops_create(&po) == dnnl_success &&
             dnnl_post_ops_append_eltwise(po, 1.0f, p->act == HWA_OP_RELU ? dnnl_eltwise_relu : dnnl_eltwise_gelu_erf,
                                          0.0f, 0.0f) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    }
    if (ok && p->accumulate) {
        /* C = A B + 1.0 * C */
        ok = e->ct != CT_S8 && !p->bias && p->act == HWA_OP_NONE && dnnl_post_ops_create(&po) == dnnl_success &&
             dnnl_post_ops_append_sum(po, 1.0f) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    }
    dnnl_primitive_desc_t pd = NULL;
    ok = ok && dnnl_primitive_desc_create(&pd, &desc, attr, o->engine, NULL) == dnnl_success;
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (!ok) return;
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(e->impl, sizeof e->impl, "%s", impl);
    /* The reference implementations are slower than our own fallbacks. */
    if (strstr(e->impl, "ref") != NULL) {
        dnnl_primitive_desc_destroy(pd);
        return;
    }
    e->wei_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    ok = dnnl_memory_create(&e->src, &a_md, o->engine, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&e->wei, &e->wei_md, o->engine, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&e->dst, &c_md, o->engine, DNNL_MEMORY_NONE) == dnnl_success &&
         (!(fuse && p->bias) || dnnl_memory_create(&e->bias, &bias_md, o->engine, DNNL_MEMORY_NONE) == dnnl_success) &&
         dnnl_primitive_create(&e->prim, pd) == dnnl_success;
    dnnl_primitive_desc_destroy(pd);
    if (!ok) e->prim = NULL;
}

static prim_entry *prim_get(hwa__mm_onednn *o, const hwa__mm_problem *p, ctype ct, bool packed, int nthreads) {
    for (prim_entry *e = o->prims; e; e = e->next)
        if (key_eq(e, p, ct, packed, nthreads)) return e;
    prim_entry *e = hwa__calloc(o->ctx, 1, sizeof *e);
    if (!e) return NULL;
    e->M = p->M, e->N = p->N, e->K = p->K, e->lda = p->lda, e->ldb = p->ldb, e->ldc = p->ldc;
    e->ta = p->ta, e->tb = p->tb, e->packed = packed, e->has_bias = p->bias != NULL;
    e->dt_a = p->dt_a, e->dt_c = p->dt_c, e->dt_bias = p->bias ? p->dt_bias : HWA_F32;
    e->act = p->act, e->ct = ct, e->accumulate = p->accumulate, e->nthreads = nthreads;
    prim_create(o, e, p);
    e->next = o->prims;
    o->prims = e;
    return e;
}

/* Runs a one-off reorder src -> dst (with output scales when scales). */
static bool reorder(hwa__mm_onednn *o, dnnl_memory_t src, dnnl_memory_t dst, const float *scales, int64_t n) {
    const dnnl_memory_desc_t *smd, *dmd;
    dnnl_memory_get_memory_desc(src, &smd);
    dnnl_memory_get_memory_desc(dst, &dmd);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t r = NULL;
    bool ok = dnnl_primitive_attr_create(&attr) == dnnl_success;
    if (ok && scales) ok = dnnl_primitive_attr_set_output_scales(attr, n, 1 << 1, scales) == dnnl_success;
    ok = ok && dnnl_reorder_primitive_desc_create(&pd, smd, o->engine, dmd, o->engine, attr) == dnnl_success;
    ok = ok && dnnl_primitive_create(&r, pd) == dnnl_success;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    ok = ok && dnnl_primitive_execute(r, o->stream, 2, args) == dnnl_success && dnnl_stream_wait(o->stream) == dnnl_success;
    if (r) dnnl_primitive_destroy(r);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return ok;
}

static bool same_layout(const hwa__mm_kept *e, const void *md) {
    return dnnl_memory_desc_equal(&((const pack_entry *)e)->md, md);
}

/* The weights of p in the layout md, from the cache or packed now. NULL
 * with *nomem set when out of memory, with it clear when oneDNN failed. */
static pack_entry *pack_get(hwa__mm_onednn *o, const hwa__mm_problem *p, const dnnl_memory_desc_t *md, ctype ct,
                            bool *nomem) {
    *nomem = false;
    int rewrites;
    pack_entry *e = (pack_entry *)hwa__mm_keep_find(&o->packs, p, ct, same_layout, md, &rewrites);
    if (e) return e;
    e = hwa__calloc(o->ctx, 1, sizeof *e);
    if (!e) {
        *nomem = true;
        return NULL;
    }
    e->md = *md;
    dnnl_memory_desc_t plain;
    dnnl_memory_t src = NULL;
    bool ok = md_2d(&plain, p->K, p->N, p->ldb, p->tb, dnnl_dt(p->dt_b)) &&
              dnnl_memory_create(&src, &plain, o->engine, (void *)p->b) == dnnl_success &&
              dnnl_memory_create(&e->mem, md, o->engine, DNNL_MEMORY_ALLOCATE) == dnnl_success;
    if (ok && ct == CT_S8) {
        /* Symmetric per output channel, quantized here to plain s8 [K, N]
         * and then reordered s8 -> s8: oneDNN 2.6 has no f32 -> s8 reorder
         * with output scales into the layouts with s8s8 compensation that
         * its VNNI (not AMX) kernels ask for, but reorders s8 into them. */
        e->scales = hwa__calloc(o->ctx, (size_t)p->N, sizeof *e->scales);
        float *inv = hwa__calloc(o->ctx, (size_t)p->N, sizeof *inv);
        int8_t *q8 = hwa__malloc(o->ctx, (size_t)(p->K * p->N));
        dnnl_memory_desc_t q8md;
        dnnl_memory_t q8mem = NULL;
        ok = e->scales && inv && q8;
        *nomem = !ok;
        if (ok) {
            hwa__mm_int8_col_scales(p, e->scales, inv);
            const float *b = p->b;
            for (int64_t k = 0; k < p->K; k++)
                for (int64_t n = 0; n < p->N; n++)
                    q8[k * p->N + n] = (int8_t)nearbyintf((p->tb ? b[n * p->ldb + k] : b[k * p->ldb + n]) * inv[n]);
        }
        ok = ok && md_2d(&q8md, p->K, p->N, p->N, false, dnnl_s8) &&
             dnnl_memory_create(&q8mem, &q8md, o->engine, q8) == dnnl_success && reorder(o, q8mem, e->mem, NULL, 0);
        if (q8mem) dnnl_memory_destroy(q8mem);
        hwa__free(o->ctx, q8);
        hwa__free(o->ctx, inv);
    } else if (ok) {
        ok = reorder(o, src, e->mem, NULL, 0);
    }
    if (src) dnnl_memory_destroy(src);
    if (!ok) {
        drop_pack(o->ctx, &e->key);
        return NULL;
    }
    hwa__mm_keep_add(&o->packs, &e->key, p, ct, rewrites);
    return e;
}

/* Whether B's owner is written between runs again and again (a batch of
 * inputs, not weights): packing it anew before every product would cost an
 * allocation and a copy each time, so f32 reads it where it is. */
static bool rewritten_every_run(const hwa__mm_onednn *o, const hwa__mm_problem *p) {
    for (const hwa__mm_kept *e = o->packs.head; e; e = e->next)
        if (e->owner == p->b_owner && e->b == p->b) return e->rewrites >= 2 && e->version != p->b_version;
    return false;
}

static void *scratch(hwa__mm_onednn *o, size_t n) { return hwa__scratch_grow(o->ctx, &o->scratch, &o->scratch_cap, n); }

/* Rows of A converted or quantized, or rows of C dequantized. */
typedef struct rows_job {
    const hwa__mm_problem *p;
    const hwa__simd *simd;
    void *q;                 /* A's rows as bf16 or int8 [M, K] */
    float *sx;               /* per-row scales */
    const float *sw;         /* per-column scales */
} rows_job;

static void bf16_rows(void *ctx, int64_t m0, int64_t m1, int tid) {
    const rows_job *j = ctx;
    const hwa__mm_problem *p = j->p;
    const float *a = p->a;
    uint16_t *q = j->q;
    for (int64_t m = m0; m < m1; m++) {
        if (j->simd) j->simd->f32_to_half(a + m * p->lda, q + m * p->K, p->K, true);
        else for (int64_t k = 0; k < p->K; k++) q[m * p->K + k] = hwa_f32_to_bf16(a[m * p->lda + k]);
    }
}

static void quantize_row_range(void *ctx, int64_t m0, int64_t m1, int tid) {
    const rows_job *j = ctx;
    const hwa__mm_problem *p = j->p;
    const int64_t K = p->K;
    for (int64_t m = m0; m < m1; m++) {
        const float *x = (const float *)p->a + m * p->lda;
        float mx = 0.0f;
#pragma omp simd reduction(max : mx)
        for (int64_t k = 0; k < K; k++) mx = fmaxf(mx, fabsf(x[k]));
        const float s = hwa__mm_int8_scale(mx), inv = 1.0f / s;
        j->sx[m] = s;
        int8_t *qm = (int8_t *)j->q + m * K;
#pragma omp simd
        for (int64_t k = 0; k < K; k++) qm[k] = (int8_t)nearbyintf(x[k] * inv);
    }
}

static void dequantize_rows(void *ctx, int64_t m0, int64_t m1, int tid) {
    const rows_job *j = ctx;
    const hwa__mm_problem *p = j->p;
    const float *sw = j->sw;
    for (int64_t m = m0; m < m1; m++) {
        char *row = (char *)p->c + (size_t)(m * p->ldc) * 4;
        const float s = j->sx[m];
#pragma omp simd
        for (int64_t n = 0; n < p->N; n++) {
            int32_t v;
            memcpy(&v, row + 4 * n, 4);
            float f = (float)v * s * sw[n];
            memcpy(row + 4 * n, &f, 4);
        }
    }
}

/* Rows of A (f32, not transposed) to bf16 [M, K]. */
static bool convert_bf16(hwa__mm_onednn *o, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads) {
    uint16_t *q = scratch(o, (size_t)(p->M * p->K) * sizeof(uint16_t));
    if (!q) return false;
    rows_job j = {p, simd, q, NULL, NULL};
    hwa__mm_par_rows(nthreads, p->M, p->M * p->K, bf16_rows, &j);
    return true;
}

/* Dynamic symmetric per-row quantization of A (f32, not transposed). */
static bool quantize_rows(hwa__mm_onednn *o, const hwa__mm_problem *p, int nthreads) {
    int8_t *q = scratch(o, (size_t)(p->M * p->K));
    if (!q || !hwa__scratch_grow(o->ctx, &o->row_scales, &o->row_scales_cap, (size_t)p->M * sizeof(float)))
        return false;
    rows_job j = {p, NULL, q, o->row_scales, NULL};
    hwa__mm_par_rows(nthreads, p->M, p->M * p->K, quantize_row_range, &j);
    return true;
}

/* int32 sums in C -> f32: C[m,n] = acc * sx[m] * sw[n], in place. */
static void dequantize(const hwa__mm_problem *p, float *sx, const float *sw, int nthreads) {
    rows_job j = {p, NULL, NULL, sx, sw};
    hwa__mm_par_rows(nthreads, p->M, p->M * p->N, dequantize_rows, &j);
}

/* What p computes in through oneDNN; false when oneDNN does not take it. */
static bool choose_ctype(const hwa__mm_problem *p, ctype *out) {
    const hwa__cpu_caps *caps = hwa__cpu_caps_get();
    const hwa__isa isa = hwa__isa_active();
    ctype ct;
    if (p->dt_a == HWA_F32 && p->dt_b == HWA_F32) {
        ct = CT_F32;
        if (p->precision == HWA_MATMUL_PRECISION_BF16 && !p->ta && isa >= HWA_ISA_AVX512 &&
            (caps->avx512_bf16 || caps->amx_bf16))
            ct = CT_BF16;
        if (p->precision == HWA_MATMUL_PRECISION_INT8 && !p->ta && p->dt_c == HWA_F32 && p->b_owner &&
            isa >= HWA_ISA_AVX512 && (caps->avx512_vnni || caps->amx_int8))
            ct = CT_S8;
    } else if (p->dt_a == HWA_BF16 && p->dt_b == HWA_BF16 && isa >= HWA_ISA_AVX512) {
        ct = CT_BF16;
    } else {
        return false;
    }
    if (p->dt_c != HWA_F32 && !(ct == CT_BF16 && p->dt_c == HWA_BF16)) return false;
    if (p->bias && p->dt_bias != HWA_F32 && p->dt_bias != HWA_BF16) return false;
    *out = ct;
    return true;
}

int64_t hwa__mm_onednn_pack_bytes(hwa__mm_onednn *o, const hwa__mm_problem *p, int nthreads) {
    ctype ct;
    if (!o || !hwa__isa_libraries_allowed() || !p->b_owner || !choose_ctype(p, &ct)) return 0;
    const prim_entry *e = prim_get(o, p, ct, true, nthreads);
    return e && e->prim ? (int64_t)dnnl_memory_desc_get_size(&e->wei_md) : 0;
}

hwa_status hwa__mm_onednn_run(hwa__mm_onednn *o, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads,
                              char *name, size_t name_cap) {
    if (!o || !hwa__isa_libraries_allowed()) return HWA_E_UNSUPPORTED;
    ctype ct;
    /* an int8 product that oneDNN cannot make int8 is the caller's to
     * send down the f32 path (hwa__mm_run_providers) */
    if (!choose_ctype(p, &ct) || (p->precision == HWA_MATMUL_PRECISION_INT8 && p->dt_a == HWA_F32 && p->dt_b == HWA_F32 && ct != CT_S8))
        return HWA_E_UNSUPPORTED;
    /* Weights packed once only when they outlive the run (leaves). */
    const bool packed = p->b_owner != NULL && !(ct == CT_F32 && rewritten_every_run(o, p));
    prim_entry *e = prim_get(o, p, ct, packed, nthreads);
    if (!e) return HWA_E_NOMEM;
    if (!e->prim) return HWA_E_UNSUPPORTED;

    const void *wei = p->b;
    pack_entry *pk = NULL;
    if (packed) {
        bool nomem;
        pk = pack_get(o, p, &e->wei_md, ct, &nomem);
        if (!pk) return nomem ? HWA_E_NOMEM : HWA_E_UNSUPPORTED;
        dnnl_memory_get_data_handle(pk->mem, (void **)&wei);
    } else if (ct != CT_F32 && p->dt_b != HWA_BF16) {
        return HWA_E_UNSUPPORTED;
    }
    const void *src = p->a;
    if (ct == CT_BF16 && p->dt_a == HWA_F32) {
        if (!convert_bf16(o, p, simd, nthreads)) return HWA_E_NOMEM;
        src = o->scratch;
    } else if (ct == CT_S8) {
        if (!quantize_rows(o, p, nthreads)) return HWA_E_NOMEM;
        src = o->scratch;
    }
    dnnl_memory_set_data_handle(e->src, (void *)src);
    dnnl_memory_set_data_handle(e->wei, (void *)wei);
    dnnl_memory_set_data_handle(e->dst, p->c);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, e->wei}, {DNNL_ARG_DST, e->dst}};
    int nargs = 3;
    if (e->bias) {
        dnnl_memory_set_data_handle(e->bias, (void *)p->bias);
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, e->bias};
    }
    if (dnnl_primitive_execute(e->prim, o->stream, nargs, args) != dnnl_success ||
        dnnl_stream_wait(o->stream) != dnnl_success)
        return hwa__err(o->ctx, HWA_E_DEVICE, "matmul: oneDNN failed to run %s", e->impl);
    if (ct == CT_S8) {
        dequantize(p, o->row_scales, pk->scales, nthreads);
        hwa__mm_epilogue(p, simd, nthreads);
    }
    snprintf(name, name_cap, "onednn:%s%s%s%s%s", ct == CT_BF16 ? "bf16:" : ct == CT_S8 ? "int8:" : "", e->impl,
             packed ? "+packed" : "", p->bias ? "+bias" : "",
             p->act == HWA_OP_RELU ? "+relu" : p->act == HWA_OP_GELU ? "+gelu" : p->accumulate ? "+acc" : "");
    return HWA_OK;
}

void hwa__cpu_drop_library_caches(void) {
    /* Setting the capacity evicts what is over it; the primitives we keep
     * ourselves (prim_entry) stay alive, their scratch with them. */
    int cap = 0;
    if (dnnl_get_primitive_cache_capacity(&cap) != dnnl_success) return;
    dnnl_set_primitive_cache_capacity(0);
    dnnl_set_primitive_cache_capacity(cap);
}

#else /* !HWA_HAVE_ONEDNN */

void hwa__cpu_drop_library_caches(void) {}

hwa_status hwa__mm_onednn_new(hwa_ctx *ctx, hwa__mm_onednn **out) {
    *out = NULL;
    return HWA_OK;
}
void hwa__mm_onednn_free(hwa__mm_onednn *o) {}
hwa_status hwa__mm_onednn_run(hwa__mm_onednn *o, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads,
                              char *name, size_t name_cap) {
    return HWA_E_UNSUPPORTED;
}
int64_t hwa__mm_onednn_pack_bytes(hwa__mm_onednn *o, const hwa__mm_problem *p, int nthreads) { return 0; }

#endif
