/* 2-D pooling through oneDNN's pooling primitives (pool.h): max and average
 * (pads counted or not), forward and backward, f32, with dilation (the v2
 * descriptors).
 *
 * Layout: the tensors stay NCHW and the primitives are made on NCHW. For a
 * memory-bound op that reads each input about once, reordering into a blocked
 * layout and back costs about as much as the pooling itself, and oneDNN's
 * NCHW kernels transpose small blocks on the fly instead.
 *
 * Geometry: our ops carry explicit pads and an output size (ceil_mode makes
 * it one larger). oneDNN derives the output size from the pads, so the
 * bottom/right pad given to it is the one that yields our size exactly; that
 * changes no result (no window reaches the pad rows it adds or drops) except
 * average pooling counting pads, whose divisor is then the whole window where
 * ours stops at the pads: those cases are declined.
 *
 * Max pooling's backward needs the forward's workspace (which tap won in
 * each window). POOL2D_BACK has x, so it runs a training forward into buffers
 * the entry owns and then the backward: the forward is computed twice in a
 * training step, as the OpenMP kernel also does (it finds the winners again).
 *
 * Differences from the reference (ref_vision.c), all on non-finite inputs of
 * max pooling: oneDNN starts each window at the lowest finite float and
 * skips NaN, so a window whose taps are all -inf gives -FLT_MAX and a NaN tap
 * does not win (the reference propagates the first NaN). Average pooling
 * sums in f32 where the reference sums in double: results agree to rounding,
 * not bits (the op harness's tolerance for these cases says so). */
#include "backends/cpu/conv/pool.h"

#if defined(HWA_HAVE_ONEDNN)
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <string.h>

#include "backends/cpu/cpu_isa.h"
#include "backends/cpu/matmul/mm.h"
#include "backends/cpu/ref/ref.h"

typedef struct pool_entry {
    /* key */
    hwa_op op;
    int64_t xs[4], ys[4];
    int32_t pi[8];
    int64_t pl[2];
    float pf[2];
    int nthreads; /* oneDNN plans its split for OpenMP's count when made */
    /* value: prim NULL when oneDNN cannot do this case */
    dnnl_primitive_t prim;  /* the op's primitive */
    dnnl_primitive_t train; /* max pooling's backward: the forward that fills ws */
    dnnl_memory_t x, y;     /* x [N,C,H,W] (src or diff_src), y [N,C,OH,OW] (dst or diff_dst): handles per call */
    dnnl_memory_t fy, ws;   /* train's result and workspace, owned */
    int64_t kept_bytes;
    char impl[64];
    struct pool_entry *next;
} pool_entry;

struct hwa__dnnpool {
    hwa_ctx *ctx;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    pool_entry *entries;
};

hwa_status hwa__dnnpool_new(hwa_ctx *ctx, hwa__dnnpool **out) {
    *out = NULL;
    hwa__onednn_cap_isa();
    hwa__dnnpool *p = hwa__calloc(ctx, 1, sizeof *p);
    if (!p) return HWA_E_NOMEM;
    p->ctx = ctx;
    if (dnnl_engine_create(&p->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&p->stream, p->engine, dnnl_stream_default_flags) != dnnl_success) {
        hwa__dnnpool_free(p); /* no engine: the OpenMP kernels remain */
        return HWA_OK;
    }
    *out = p;
    return HWA_OK;
}

static void entry_free(hwa_ctx *ctx, pool_entry *e) {
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->train) dnnl_primitive_destroy(e->train);
    dnnl_memory_t m[] = {e->x, e->y, e->fy, e->ws};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (m[i]) dnnl_memory_destroy(m[i]);
    hwa__free(ctx, e);
}

void hwa__dnnpool_free(hwa__dnnpool *p) {
    if (!p) return;
    for (pool_entry *e = p->entries, *nx; e; e = nx) {
        nx = e->next;
        entry_free(p->ctx, e);
    }
    if (p->stream) dnnl_stream_destroy(p->stream);
    if (p->engine) dnnl_engine_destroy(p->engine);
    hwa__free(p->ctx, p);
}

/* x and y of dst's op: x the forward's input, y its result (or their
 * gradients in the backward). */
static void roles_of(const hwa_tensor *dst, const hwa_tensor **x, const hwa_tensor **y) {
    const bool back = dst->op == HWA_OP_POOL2D_BACK;
    *x = back ? dst : dst->src[0];
    *y = back ? dst->src[0] : dst;
}

static bool key_eq(const pool_entry *e, const hwa_tensor *dst, int nthreads) {
    const hwa_tensor *x, *y;
    roles_of(dst, &x, &y);
    return e->op == dst->op && e->nthreads == nthreads && memcmp(e->xs, x->shape, sizeof e->xs) == 0 &&
           memcmp(e->ys, y->shape, sizeof e->ys) == 0 && memcmp(e->pi, dst->p.i, sizeof e->pi) == 0 &&
           memcmp(e->pl, dst->p.l, sizeof e->pl) == 0 && memcmp(e->pf, dst->p.f, sizeof e->pf) == 0;
}

/* The bottom (or right) pad that gives oneDNN out windows: 0 where fewer
 * than one stride's worth of rows is left over at the end (oneDNN's floor
 * division then drops them as ours does). */
static int64_t end_pad(int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t pad0) {
    const int64_t pe = (out - 1) * s + d * (k - 1) + 1 - in - pad0;
    return pe > 0 ? pe : 0;
}

/* The pooling descriptor of e: forward (kind given) or backward. false when
 * oneDNN declines it or the geometry has no oneDNN equivalent. */
static bool pool_desc(const hwa__pool_geom *g, bool forward, dnnl_prop_kind_t kind,
                      const dnnl_memory_desc_t *xmd, const dnnl_memory_desc_t *ymd, dnnl_pooling_v2_desc_t *d) {
    const int64_t pb = end_pad(g->H, g->OH, g->kh, g->sh, g->dh, g->pt);
    const int64_t pr = end_pad(g->W, g->OW, g->kw, g->sw, g->dw, g->pl);
    dnnl_alg_kind_t alg = dnnl_pooling_max;
    if (g->kind == HWA_POOL_AVG) {
        /* oneDNN divides by the whole window, ours by its part inside the pads */
        if (g->count_pad && (pb > g->pb || pr > g->pr)) return false;
        alg = g->count_pad ? dnnl_pooling_avg_include_padding : dnnl_pooling_avg_exclude_padding;
    }
    /* oneDNN counts dilation from 0 (no gap) */
    dnnl_dims_t st = {g->sh, g->sw}, k = {g->kh, g->kw}, dil = {g->dh - 1, g->dw - 1}, p0 = {g->pt, g->pl},
                p1 = {pb, pr};
    if (forward) return dnnl_pooling_v2_forward_desc_init(d, kind, alg, xmd, ymd, st, k, dil, p0, p1) == dnnl_success;
    return dnnl_pooling_v2_backward_desc_init(d, alg, xmd, ymd, st, k, dil, p0, p1) == dnnl_success;
}

static bool mem_of(hwa__dnnpool *p, const dnnl_memory_desc_t *md, void *handle, dnnl_memory_t *m) {
    return dnnl_memory_create(m, md, p->engine, handle) == dnnl_success;
}

/* Makes e's primitives and memories; leaves e->prim NULL when oneDNN
 * declines (or fails: the OpenMP kernel then runs). */
static void entry_make(hwa__dnnpool *p, pool_entry *e, const hwa_tensor *dst) {
    hwa__pool_geom g;
    hwa__pool_geom_of(dst, &g);
    dnnl_memory_desc_t xmd, ymd;
    dnnl_dims_t xd = {e->xs[0], e->xs[1], e->xs[2], e->xs[3]}, yd = {e->ys[0], e->ys[1], e->ys[2], e->ys[3]};
    if (dnnl_memory_desc_init_by_tag(&xmd, 4, xd, dnnl_f32, dnnl_nchw) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&ymd, 4, yd, dnnl_f32, dnnl_nchw) != dnnl_success)
        return;
    dnnl_pooling_v2_desc_t fd, bd;
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL;
    const bool back = e->op == HWA_OP_POOL2D_BACK;
    bool ok = pool_desc(&g, true, back ? dnnl_forward_training : dnnl_forward_inference, &xmd, &ymd, &fd) &&
              dnnl_primitive_desc_create(&fpd, &fd, NULL, p->engine, NULL) == dnnl_success;
    /* the backward takes the training forward as a hint */
    ok = ok && (!back || (pool_desc(&g, false, dnnl_forward_training, &xmd, &ymd, &bd) &&
                          dnnl_primitive_desc_create(&bpd, &bd, NULL, p->engine, fpd) == dnnl_success));
    const dnnl_primitive_desc_t pd = back ? bpd : fpd;
    const char *impl = NULL;
    if (ok && dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(e->impl, sizeof e->impl, "%s", impl);
    /* oneDNN's reference kernels (its only choice for dilated pooling on
     * NCHW in 2.6) are slower than the OpenMP ones */
    ok = ok && strncmp(e->impl, "ref", 3) != 0;
    ok = ok && mem_of(p, &xmd, DNNL_MEMORY_NONE, &e->x) && mem_of(p, &ymd, DNNL_MEMORY_NONE, &e->y);
    if (ok && back && g.kind == HWA_POOL_MAX) {
        const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0);
        ok = wmd && dnnl_memory_desc_get_size(wmd) > 0 && mem_of(p, wmd, DNNL_MEMORY_ALLOCATE, &e->ws) &&
             mem_of(p, &ymd, DNNL_MEMORY_ALLOCATE, &e->fy) && dnnl_primitive_create(&e->train, fpd) == dnnl_success;
        if (ok) e->kept_bytes = (int64_t)(dnnl_memory_desc_get_size(wmd) + dnnl_memory_desc_get_size(&ymd));
    }
    ok = ok && dnnl_primitive_create(&e->prim, pd) == dnnl_success;
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (bpd) dnnl_primitive_desc_destroy(bpd);
    if (!ok && e->prim) {
        dnnl_primitive_destroy(e->prim);
        e->prim = NULL;
    }
}

static pool_entry *entry_get(hwa__dnnpool *p, const hwa_tensor *dst, int nthreads) {
    for (pool_entry *e = p->entries; e; e = e->next)
        if (key_eq(e, dst, nthreads)) return e;
    pool_entry *e = hwa__calloc(p->ctx, 1, sizeof *e);
    if (!e) return NULL;
    const hwa_tensor *x, *y;
    roles_of(dst, &x, &y);
    e->op = dst->op;
    memcpy(e->xs, x->shape, sizeof e->xs);
    memcpy(e->ys, y->shape, sizeof e->ys);
    memcpy(e->pi, dst->p.i, sizeof e->pi);
    memcpy(e->pl, dst->p.l, sizeof e->pl);
    memcpy(e->pf, dst->p.f, sizeof e->pf);
    e->nthreads = nthreads;
    entry_make(p, e, dst);
    e->next = p->entries;
    p->entries = e;
    return e;
}

/* The cases with a fast path: contiguous f32 tensors on the host. */
static bool eligible(const hwa_tensor *dst) {
    if (dst->op != HWA_OP_POOL2D && dst->op != HWA_OP_POOL2D_BACK) return false;
    if (!hwa__isa_libraries_allowed()) return false;
    const int n = dst->op == HWA_OP_POOL2D_BACK ? 2 : 1;
    for (int i = -1; i < n; i++) {
        const hwa_tensor *t = i < 0 ? dst : dst->src[i];
        if (t->dtype != HWA_F32 || !hwa_tensor_is_contiguous(t) || !hwa__data(t)) return false;
    }
    return true;
}

static bool exec(hwa__dnnpool *p, dnnl_primitive_t prim, int n, const dnnl_exec_arg_t *args) {
    return dnnl_primitive_execute(prim, p->stream, n, args) == dnnl_success &&
           dnnl_stream_wait(p->stream) == dnnl_success;
}

hwa_status hwa__dnnpool_run(hwa__dnnpool *p, hwa_tensor *dst, int nthreads, char *name, size_t name_cap) {
    if (!p || !eligible(dst)) return HWA_E_UNSUPPORTED;
    pool_entry *e = entry_get(p, dst, nthreads);
    if (!e) return HWA_E_NOMEM;
    if (!e->prim) return HWA_E_UNSUPPORTED;
    bool ok;
    if (dst->op == HWA_OP_POOL2D) {
        dnnl_memory_set_data_handle(e->x, hwa__data(dst->src[0]));
        dnnl_memory_set_data_handle(e->y, hwa__data(dst));
        const dnnl_exec_arg_t a[] = {{DNNL_ARG_SRC, e->x}, {DNNL_ARG_DST, e->y}};
        ok = exec(p, e->prim, 2, a);
    } else if (e->train) {
        /* max: the forward on x (src[1]) finds the winners, then dx gets g */
        dnnl_memory_set_data_handle(e->x, hwa__data(dst->src[1]));
        const dnnl_exec_arg_t f[] = {{DNNL_ARG_SRC, e->x}, {DNNL_ARG_DST, e->fy}, {DNNL_ARG_WORKSPACE, e->ws}};
        ok = exec(p, e->train, 3, f);
        dnnl_memory_set_data_handle(e->x, hwa__data(dst));
        dnnl_memory_set_data_handle(e->y, hwa__data(dst->src[0]));
        const dnnl_exec_arg_t b[] = {{DNNL_ARG_DIFF_DST, e->y}, {DNNL_ARG_DIFF_SRC, e->x}, {DNNL_ARG_WORKSPACE, e->ws}};
        ok = ok && exec(p, e->prim, 3, b);
    } else {
        dnnl_memory_set_data_handle(e->x, hwa__data(dst));
        dnnl_memory_set_data_handle(e->y, hwa__data(dst->src[0]));
        const dnnl_exec_arg_t b[] = {{DNNL_ARG_DIFF_DST, e->y}, {DNNL_ARG_DIFF_SRC, e->x}};
        ok = exec(p, e->prim, 2, b);
    }
    if (!ok) return hwa__err(p->ctx, HWA_E_DEVICE, "%s: oneDNN failed to run %s", hwa__op_name(dst->op), e->impl);
    snprintf(name, name_cap, "onednn:pool:%s", e->impl);
    return HWA_OK;
}

int64_t hwa__dnnpool_kept_bytes(hwa__dnnpool *p, const hwa_tensor *dst, int nthreads) {
    if (!p || !eligible(dst)) return 0;
    const pool_entry *e = entry_get(p, dst, nthreads);
    return e && e->prim ? e->kept_bytes : 0;
}

#else /* !HWA_HAVE_ONEDNN: the OpenMP kernels run every pooling */

hwa_status hwa__dnnpool_new(hwa_ctx *ctx, hwa__dnnpool **out) {
    (void)ctx;
    *out = NULL;
    return HWA_OK;
}
void hwa__dnnpool_free(hwa__dnnpool *p) { (void)p; }
hwa_status hwa__dnnpool_run(hwa__dnnpool *p, hwa_tensor *dst, int nthreads, char *name, size_t name_cap) {
    return HWA_E_UNSUPPORTED;
}
int64_t hwa__dnnpool_kept_bytes(hwa__dnnpool *p, const hwa_tensor *dst, int nthreads) { return 0; }

#endif
