/* The pjrt backend: devices of a PJRT plugin ("pjrt:N", the plugin's
 * addressable devices in its order), opened at run time (hw/pjrt_api.c).
 *
 * A compute lowers its whole node list to one StableHLO function
 * (pjrt_lower.c), compiles it once per signature of the list (ops, shapes,
 * dtypes, params, wiring) and runs it. Arguments are the tensors the list
 * reads but does not make; results are the nodes whose storage no later
 * node of the list overwrites (the planner only reuses the storage of dead
 * tensors), including the tensors written in place (optimizer updates, the
 * optimizer state, gradient accumulation).
 *
 * Buffers are host staging memory plus device-resident regions: a region
 * is a byte range of the buffer whose current value is a PJRT buffer. The
 * device copy is the truth: a read copies regions back to the host first,
 * a write from the host drops the regions it overlaps, and a compute's
 * results become regions. Weights thus stay on the device from step to
 * step, and only what the caller reads comes back. */
#include <string.h>

#include "backends/pjrt/pjrt_internal.h"
#include "hw/pjrt_api.h"

hwa_status hwa__pjrt_backend_init(hwa_ctx *ctx, int index, hwa_backend **out);

static long n_compiles, n_cache_hits;

void hwa__pjrt_compile_counts(long *compiles, long *cache_hits) {
    *compiles = n_compiles;
    *cache_hits = n_cache_hits;
}

#if !HWA_HAVE_PJRT
hwa_status hwa__pjrt_backend_init(hwa_ctx *ctx, int index, hwa_backend **out) {
    (void)out;
    return hwa__err(ctx, HWA_E_UNSUPPORTED, "device 'pjrt:%d': %s", index, HWA__PJRT_NOT_BUILT);
}
#else

/* ---- buffers and their device regions ------------------------------------ */

typedef struct region {
    size_t off, n;
    PJRT_Buffer *buf;
    bool host_stale; /* the device has the newer value */
    hwa_dtype dtype;
    int ndim;
    int64_t dims[HWA_MAX_DIMS];
} region;

typedef struct pj_buf {
    hwa__pjrt *pj;
    PJRT_Device *dev;
    unsigned char *host;
    region *r;
    int n_r, cap_r;
} pj_buf;

static void region_drop(pj_buf *pb, int i) {
    PJRT_Buffer_Destroy_Args a = {.struct_size = PJRT_Buffer_Destroy_Args_STRUCT_SIZE, .buffer = pb->r[i].buf};
    hwa__pjrt_check(NULL, pb->pj, pb->pj->api->PJRT_Buffer_Destroy(&a), "PJRT_Buffer_Destroy");
    pb->r[i] = pb->r[--pb->n_r];
}

/* Copies region i's device value into the staging memory. */
static hwa_status region_to_host(pj_buf *pb, int i) {
    region *r = &pb->r[i];
    if (!r->host_stale) return HWA_OK;
    PJRT_Buffer_ToHostBuffer_Args a = {.struct_size = PJRT_Buffer_ToHostBuffer_Args_STRUCT_SIZE,
                                       .src = r->buf, .dst = pb->host + r->off, .dst_size = r->n};
    hwa_status st = hwa__pjrt_check(NULL, pb->pj, pb->pj->api->PJRT_Buffer_ToHostBuffer(&a), "PJRT_Buffer_ToHostBuffer");
    if (!st) st = hwa__pjrt_await(NULL, pb->pj, a.event, "PJRT_Buffer_ToHostBuffer");
    if (!st) r->host_stale = false;
    return st;
}

static bool overlaps(const region *r, size_t off, size_t n) { return r->off < off + n && off < r->off + r->n; }

/* Before the host writes [off, off + n): regions it covers entirely are
 * dropped; ones it overlaps in part come back to the host first. */
static hwa_status drop_range(pj_buf *pb, size_t off, size_t n) {
    for (int i = pb->n_r - 1; i >= 0; i--) {
        region *r = &pb->r[i];
        if (!overlaps(r, off, n)) continue;
        if (!(r->off >= off && r->off + r->n <= off + n)) {
            hwa_status st = region_to_host(pb, i);
            if (st) return st;
        }
        region_drop(pb, i);
    }
    return HWA_OK;
}

static hwa_status range_ok(const hwa_buffer *b, size_t off, size_t n, const char *what) {
    if (off > b->size || n > b->size - off)
        return hwa__err(NULL, HWA_E_RANGE, "pjrt: buffer %s past the end (%zu + %zu > %zu)", what, off, n, b->size);
    return HWA_OK;
}

static hwa_status buf_write(hwa_buffer *b, size_t off, const void *src, size_t n) {
    pj_buf *pb = b->impl;
    hwa_status st = range_ok(b, off, n, "write");
    if (st || n == 0 || (st = drop_range(pb, off, n))) return st;
    memcpy(pb->host + off, src, n);
    return HWA_OK;
}

static hwa_status buf_memset0(hwa_buffer *b, size_t off, size_t n) {
    pj_buf *pb = b->impl;
    hwa_status st = range_ok(b, off, n, "clear");
    if (st || n == 0 || (st = drop_range(pb, off, n))) return st;
    memset(pb->host + off, 0, n);
    return HWA_OK;
}

static hwa_status buf_read(hwa_buffer *b, size_t off, void *dst, size_t n) {
    pj_buf *pb = b->impl;
    hwa_status st = range_ok(b, off, n, "read");
    for (int i = 0; i < pb->n_r && !st; i++)
        if (overlaps(&pb->r[i], off, n)) st = region_to_host(pb, i);
    if (!st && n) memcpy(dst, pb->host + off, n);
    return st;
}

static void buf_free(hwa_buffer *b) {
    pj_buf *pb = b->impl;
    hwa_allocator a = b->alloc;
    if (pb) {
        while (pb->n_r) region_drop(pb, pb->n_r - 1);
        a.free(a.ud, pb->r);
        a.free(a.ud, pb->host);
        a.free(a.ud, pb);
    }
    a.free(a.ud, b);
}

/* ---- the backend's state --------------------------------------------------- */

typedef struct exe_entry {
    uint64_t hash;
    uint64_t *sig;
    size_t n_sig;
    PJRT_LoadedExecutable *exe;
    size_t n_out;
} exe_entry;

/* One step of the lowered list: an argument, or a node (view or op). */
typedef struct step {
    const hwa_tensor *t;
    int out;            /* value number */
    int in[HWA_MAX_SRC];
    int state;          /* value number of the state written in place, or -1 */
    int rt;             /* the value number of the node's run-time argument, or -1 */
    hwa__pj_rt rt_kind; /* an argument: what it passes at run time (NONE: a tensor) */
    int32_t rt_i32;     /* HWA__PJ_RT_OFFSET and _KEYS: the value passed */
    bool is_arg;
} step;

typedef struct result {
    int val;               /* value number */
    const hwa_tensor *as;  /* the tensor whose dtype and shape it has */
    hwa_buffer *buffer;
    size_t off;
} result;

typedef struct pj_state {
    hwa__pjrt *pj;
    PJRT_Device *dev;
    int index;
    char why[192];
    exe_entry *cache;
    int n_cache, cap_cache;
    /* scratch of one compute, kept between computes */
    step *steps;
    int n_steps, cap_steps;
    result *res;
    int n_res, cap_res;
    uint64_t *sig;
    size_t n_sig, cap_sig;
    struct {
        const hwa_tensor *t;
        int val;
    } *map;
    int n_map, cap_map;
    int n_vals;
    int compiles, hits;
} pj_state;

#define GROW(ctx, arr, n, cap, ret)                                                                      \
    do {                                                                                                 \
        if ((n) == (cap)) {                                                                              \
            const size_t nc_ = (cap) ? 2 * (size_t)(cap) : 64;                                          \
            void *p_ = hwa__realloc_array((ctx), (arr), (size_t)(cap), nc_, sizeof *(arr));             \
            if (!p_) return (ret);                                                                       \
            (arr) = p_;                                                                                  \
            (cap) = nc_;                                                                                 \
        }                                                                                                \
    } while (0)

static PJRT_Buffer_Type pjrt_type(hwa_dtype t) {
    switch (t) {
    case HWA_F32: return PJRT_Buffer_Type_F32;
    case HWA_F16: return PJRT_Buffer_Type_F16;
    case HWA_BF16: return PJRT_Buffer_Type_BF16;
    case HWA_I32: return PJRT_Buffer_Type_S32;
    default: return PJRT_Buffer_Type_INVALID;
    }
}

static bool float_type(hwa_dtype t) { return t == HWA_F32 || t == HWA_F16 || t == HWA_BF16; }

static hwa_status pj_buffer_alloc(hwa_backend *be, size_t size, hwa_buffer **out) {
    hwa_ctx *ctx = be->ctx;
    pj_state *s = be->impl;
    hwa_buffer *b = hwa__host_buffer_new(ctx, be, NULL, size, buf_free);
    pj_buf *pb = hwa__calloc(ctx, 1, sizeof *pb);
    unsigned char *host = pb ? hwa__calloc(ctx, size ? size : 1, 1) : NULL;
    if (!b || !pb || !host) {
        hwa__free(ctx, b);
        hwa__free(ctx, pb);
        hwa__free(ctx, host);
        return hwa__err(ctx, HWA_E_NOMEM, "%s: out of memory for a buffer of %zu bytes", be->spec, size);
    }
    pb->pj = s->pj;
    pb->dev = s->dev;
    pb->host = host;
    b->impl = pb;
    b->write = buf_write;
    b->read = buf_read;
    b->memset0 = buf_memset0;
    *out = b;
    return HWA_OK;
}

/* ---- what runs here ---------------------------------------------------------- */

static const char *pj_why_not(const hwa_backend *be, const hwa_tensor *node) {
    pj_state *s = be->impl;
    const char *name = (unsigned)node->op < HWA_OP_COUNT ? hwa__op_name(node->op) : "?";
    if (!hwa__pj_lowering(node->op)) {
        snprintf(s->why, sizeof s->why, "not supported by pjrt: %s (no StableHLO lowering yet)", name);
        return s->why;
    }
    const int index_src = hwa__pj_index_src(node->op);
    const hwa_tensor *bad = float_type(node->dtype) ? NULL : node;
    for (int i = 0; i < hwa__op_n_src(node->op) && !bad; i++) {
        const hwa_tensor *x = node->src[i];
        if (!x) continue;
        if (i == index_src ? x->dtype != HWA_I32 : !float_type(x->dtype)) bad = x;
    }
    if (bad) {
        snprintf(s->why, sizeof s->why, "not supported by pjrt: %s on %s data (f32, f16, bf16 and i32 indices)", name,
                 hwa_dtype_name(bad->dtype));
        return s->why;
    }
    /* XLA CPU turns an f16 division computed in f32 back into a half
     * division that is not correctly rounded (several ulps off the
     * reference, measured): left to a backend that divides exactly */
    if (node->op == HWA_OP_DIV && node->dtype != HWA_F32) {
        snprintf(s->why, sizeof s->why, "not supported by pjrt: div on %s data (not correctly rounded by XLA)",
                 hwa_dtype_name(node->dtype));
        return s->why;
    }
    return NULL;
}

static bool pj_supports_op(const hwa_backend *be, const hwa_tensor *node) { return pj_why_not(be, node) == NULL; }

/* ---- analysis: arguments, steps, results, signature ------------------------- */

static int map_find(const pj_state *s, const hwa_tensor *t) {
    for (int i = s->n_map - 1; i >= 0; i--)
        if (s->map[i].t == t) return s->map[i].val;
    return -1;
}

static hwa_status map_set(hwa_ctx *ctx, pj_state *s, const hwa_tensor *t, int val) {
    GROW(ctx, s->map, s->n_map, s->cap_map, HWA_E_NOMEM);
    s->map[s->n_map].t = t;
    s->map[s->n_map++].val = val;
    return HWA_OK;
}

static hwa_status sig_push(hwa_ctx *ctx, pj_state *s, uint64_t v) {
    GROW(ctx, s->sig, s->n_sig, s->cap_sig, HWA_E_NOMEM);
    s->sig[s->n_sig++] = v;
    return HWA_OK;
}

static hwa_status sig_tensor(hwa_ctx *ctx, pj_state *s, const hwa_tensor *t) {
    hwa_status st = sig_push(ctx, s, (uint64_t)t->op | (uint64_t)t->dtype << 16 | (uint64_t)t->ndim << 32);
    for (int i = 0; i < t->ndim && !st; i++) st = sig_push(ctx, s, (uint64_t)t->shape[i]);
    return st;
}

static step *new_step(hwa_ctx *ctx, pj_state *s) {
    GROW(ctx, s->steps, s->n_steps, s->cap_steps, NULL);
    step *p = &s->steps[s->n_steps++];
    memset(p, 0, sizeof *p);
    p->state = p->rt = -1;
    for (int i = 0; i < HWA_MAX_SRC; i++) p->in[i] = -1;
    return p;
}

static hwa_status value_of(hwa_backend *be, const hwa_tensor *t, int *out);

/* The step computing view or op node t from its sources. */
static hwa_status add_node(hwa_backend *be, const hwa_tensor *t) {
    pj_state *s = be->impl;
    hwa_ctx *ctx = be->ctx;
    int in[HWA_MAX_SRC] = {-1, -1, -1, -1}, rt = -1;
    const hwa__pj_rt rt_kind = hwa__pj_run_time_arg(t);
    const hwa_tensor *src[HWA_MAX_SRC];
    memcpy(src, t->src, sizeof src);
    int32_t rt_i32 = (int32_t)t->p.l[0];
    if (rt_kind == HWA__PJ_RT_KEYS) hwa__pj_attention_keys(t, &src[1], &src[2], &rt_i32);
    hwa_status st = HWA_OK;
    for (int i = 0; i < hwa__op_n_src(t->op) && !st; i++) {
        if (!src[i] || (t->op == HWA_OP_SGD_UPDATE && i == 3 && !t->p.i[0])) continue;
        st = value_of(be, src[i], &in[i]);
    }
    if (st) return st;
    if (rt_kind != HWA__PJ_RT_NONE) {
        step *h = new_step(ctx, s);
        if (!h) return HWA_E_NOMEM;
        h->t = t;
        h->is_arg = true;
        h->rt_kind = rt_kind;
        h->rt_i32 = rt_i32;
        h->out = rt = s->n_vals++;
        if ((st = sig_push(ctx, s, 0x52554e54494d45ull << 4 | (uint64_t)rt_kind))) return st; /* "RUNTIME" */
    }
    step *p = new_step(ctx, s);
    if (!p) return HWA_E_NOMEM;
    p->t = t;
    memcpy(p->in, in, sizeof in);
    p->rt = rt;
    p->out = s->n_vals++;
    const bool has_state = (t->op == HWA_OP_SGD_UPDATE && t->p.i[0]) || t->op == HWA_OP_ADAM_UPDATE;
    if (has_state) p->state = s->n_vals++;
    if ((st = sig_tensor(ctx, s, t))) return st;
    for (int i = 0; i < HWA_MAX_SRC && !st; i++) st = sig_push(ctx, s, (uint64_t)(int64_t)in[i]);
    for (int i = 0; i < HWA_MAX_PARAMS && !st; i++) st = sig_push(ctx, s, (uint64_t)(uint32_t)t->p.i[i]);
    for (int i = rt_kind == HWA__PJ_RT_OFFSET; i < 2 && !st; i++) st = sig_push(ctx, s, (uint64_t)t->p.l[i]);
    for (int i = 0; i < 8 && !st && rt_kind != HWA__PJ_RT_HYPER; i++) {
        uint32_t bits;
        memcpy(&bits, &t->p.f[i], sizeof bits);
        st = sig_push(ctx, s, bits);
    }
    if (st || (st = map_set(ctx, s, t, p->out))) return st;
    /* later reads of storage written in place see the new value */
    if (t->view_src && !hwa__op_is_view(t->op)) st = map_set(ctx, s, t->view_src, p->out);
    if (!st && has_state && t->src[3]) st = map_set(ctx, s, hwa__storage(t->src[3]), p->state);
    return st;
}

/* The value of t: a node of the list, a view lowered from its source, or
 * an argument (storage of its own that the list reads). */
static hwa_status value_of(hwa_backend *be, const hwa_tensor *t, int *out) {
    pj_state *s = be->impl;
    if ((*out = map_find(s, t)) >= 0) return HWA_OK;
    hwa_status st;
    if (hwa__op_is_view(t->op)) {
        if ((st = add_node(be, t))) return st;
        *out = map_find(s, t);
        return HWA_OK;
    }
    if (!hwa_tensor_is_contiguous(t))
        return hwa__err(be->ctx, HWA_E_UNSUPPORTED, "%s: input '%s' is not contiguous", be->spec, t->name);
    step *p = new_step(be->ctx, s);
    if (!p) return HWA_E_NOMEM;
    p->t = t;
    p->is_arg = true;
    p->out = *out = s->n_vals++;
    if ((st = sig_push(be->ctx, s, 0x415247ull)) || (st = sig_tensor(be->ctx, s, t))) return st; /* "ARG" */
    return map_set(be->ctx, s, t, p->out);
}

/* t's storage: buffer and byte offset. */
static void storage_of(const hwa_tensor *t, hwa_buffer **b, size_t *off) {
    const hwa_tensor *o = hwa__storage(t);
    *b = o->buffer;
    *off = o->buf_offs + (t->view_src ? t->view_offs : 0);
}

static hwa_status add_result(hwa_backend *be, int val, const hwa_tensor *as) {
    pj_state *s = be->impl;
    GROW(be->ctx, s->res, s->n_res, s->cap_res, HWA_E_NOMEM);
    result *r = &s->res[s->n_res];
    r->val = val;
    r->as = as;
    storage_of(as, &r->buffer, &r->off);
    /* dead when a later result overwrites its storage */
    const size_t n = hwa_tensor_nbytes(as);
    for (int i = 0; i < s->n_res; i++)
        if (s->res[i].buffer == r->buffer && s->res[i].off < r->off + n &&
            r->off < s->res[i].off + hwa_tensor_nbytes(s->res[i].as))
            return HWA_OK;
    s->n_res++;
    return sig_push(be->ctx, s, 0x524553ull << 32 | (uint64_t)val); /* "RES" */
}

static hwa_status analyse(hwa_backend *be, hwa_tensor *const *nodes, int n) {
    pj_state *s = be->impl;
    s->n_steps = s->n_res = s->n_map = s->n_vals = 0;
    s->n_sig = 0;
    hwa_status st = HWA_OK;
    for (int i = 0; i < n && !st; i++) {
        const hwa_tensor *t = nodes[i];
        /* views are lowered where a node reads them (attention over a
         * prefix of the caches reads none of its slices) */
        if (t->op == HWA_OP_NONE || hwa__op_is_view(t->op) || map_find(s, t) >= 0) continue;
        st = add_node(be, t);
    }
    /* results, last writer first */
    for (int i = s->n_steps - 1; i >= 0 && !st; i--) {
        const step *p = &s->steps[i];
        if (p->is_arg || hwa__op_is_view(p->t->op)) continue;
        if (!hwa__storage(p->t)->buffer)
            return hwa__err(be->ctx, HWA_E_MISUSE, "%s: node '%s' has no storage", be->spec, p->t->name);
        if (p->state >= 0) st = add_result(be, p->state, p->t->src[3]);
        if (!st) st = add_result(be, p->out, p->t);
    }
    return st;
}

/* ---- emission and compilation ---------------------------------------------- */

/* Rounds an f32 value to dtype's precision and back (f16 and bf16 nodes). */
static int round_to(hwa__pj_emit *e, int v, hwa_dtype t) {
    if (t == HWA_F32 || t == HWA_I32) return v;
    return hwa__pj_convert(e, hwa__pj_convert(e, v, hwa__pj_et_of(t)), HWA__PJ_F32);
}

static hwa_status emit_module(hwa_backend *be, char **text, size_t *len) {
    pj_state *s = be->impl;
    hwa_ctx *ctx = be->ctx;
    hwa__pj_emit e = {.ctx = ctx};
    int *ssa = hwa__malloc(ctx, (size_t)(s->n_vals ? s->n_vals : 1) * sizeof *ssa);
    if (!ssa) return HWA_E_NOMEM;
    char ty[96];
    /* the signature line, then the body */
    hwa__pj_printf(&e, "module @hwadapt attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {\n"
                       "  func.func @main(");
    int n_args = 0;
    for (int i = 0; i < s->n_steps; i++) {
        const step *p = &s->steps[i];
        if (!p->is_arg) continue;
        const int64_t hsh[1] = {8}, ish[1] = {1};
        const int id = p->rt_kind == HWA__PJ_RT_HYPER  ? hwa__pj_new_val(&e, 1, hsh, HWA__PJ_F32)
                       : p->rt_kind != HWA__PJ_RT_NONE ? hwa__pj_new_val(&e, 1, ish, HWA__PJ_I32)
                                                       : hwa__pj_new_val(&e, p->t->ndim, p->t->shape, hwa__pj_et_of(p->t->dtype));
        if (id < 0) break;
        hwa__pj_printf(&e, "%s%%v%d: %s", n_args++ ? ", " : "", id, hwa__pj_type(&e, id, ty, sizeof ty));
        ssa[p->out] = id;
    }
    hwa__pj_printf(&e, ") -> (");
    const size_t ret_types_at = e.len;
    hwa__pj_printf(&e, "%*s", 1, ""); /* placeholder; the result types are written below */
    hwa__pj_printf(&e, ") {\n");
    for (int i = 0; i < s->n_steps && !e.oom; i++) {
        const step *p = &s->steps[i];
        if (p->is_arg) {
            if (p->rt_kind == HWA__PJ_RT_NONE && float_type(p->t->dtype)) ssa[p->out] = hwa__pj_convert(&e, ssa[p->out], HWA__PJ_F32);
            continue;
        }
        int in[HWA_MAX_SRC];
        for (int k = 0; k < HWA_MAX_SRC; k++) in[k] = p->in[k] >= 0 ? ssa[p->in[k]] : -1;
        int state = -1;
        const int v = hwa__pj_lowering(p->t->op)(&e, p->t, in, p->rt >= 0 ? ssa[p->rt] : -1, &state);
        if (v < 0) {
            hwa__free(ctx, ssa);
            hwa__free(ctx, e.vals);
            hwa__free(ctx, e.text);
            return e.oom ? HWA_E_NOMEM
                         : hwa__err(ctx, HWA_E_INVALID, "%s: %s", be->spec, e.why[0] ? e.why : "lowering failed");
        }
        ssa[p->out] = hwa__op_is_view(p->t->op) ? v : round_to(&e, v, p->t->dtype);
        if (p->state >= 0) ssa[p->state] = state;
    }
    /* results in their storage types */
    char *types = NULL;
    size_t types_len = 0;
    {
        hwa__pj_emit te = {.ctx = ctx};
        int *rv = hwa__malloc(ctx, (size_t)(s->n_res ? s->n_res : 1) * sizeof *rv);
        if (!rv) e.oom = true;
        for (int i = 0; i < s->n_res && !e.oom; i++) {
            const result *r = &s->res[i];
            rv[i] = hwa__pj_convert(&e, ssa[r->val], hwa__pj_et_of(r->as->dtype));
            hwa__pj_printf(&te, "%s%s", i ? ", " : "", hwa__pj_type(&e, rv[i], ty, sizeof ty));
        }
        hwa__pj_printf(&e, "    func.return ");
        for (int i = 0; i < s->n_res && !e.oom; i++) hwa__pj_printf(&e, "%s%%v%d", i ? ", " : "", rv[i]);
        hwa__pj_printf(&e, " : %s\n  }\n}\n", te.text ? te.text : "");
        types = te.text;
        types_len = te.len;
        hwa__free(ctx, te.vals);
        hwa__free(ctx, rv);
        if (te.oom) e.oom = true;
    }
    hwa__free(ctx, ssa);
    hwa__free(ctx, e.vals);
    if (e.oom) {
        hwa__free(ctx, types);
        hwa__free(ctx, e.text);
        return hwa__err(ctx, HWA_E_NOMEM, "%s: out of memory writing the StableHLO module", be->spec);
    }
    /* splice the result types in at the placeholder */
    char *out = hwa__malloc(ctx, e.len + types_len + 1);
    if (!out) {
        hwa__free(ctx, types);
        hwa__free(ctx, e.text);
        return HWA_E_NOMEM;
    }
    memcpy(out, e.text, ret_types_at);
    memcpy(out + ret_types_at, types ? types : "", types_len);
    memcpy(out + ret_types_at + types_len, e.text + ret_types_at + 1, e.len - ret_types_at - 1);
    *len = e.len - 1 + types_len;
    out[*len] = '\0';
    hwa__free(ctx, types);
    hwa__free(ctx, e.text);
    *text = out;
    return HWA_OK;
}

/* The serialized xla.CompileOptionsProto: field 3, executable_build_options
 * { device_ordinal (1) = -1, num_replicas (4) = 1, num_partitions (5) = 1 }.
 * Empty options are refused by XLA ("Invalid (replica_count,
 * computation_count) pair: (0,0)"), and these are all a one-device program
 * needs; written by hand (varints) so that hwadapt needs no protobuf. */
static const char compile_options[] = {
    0x1a, 15,                                                       /* field 3, length 15 */
    0x08, (char)0xff, (char)0xff, (char)0xff, (char)0xff, (char)0xff, /* field 1 = -1 (ten-byte varint) */
    (char)0xff, (char)0xff, (char)0xff, (char)0xff, 0x01,
    0x20, 0x01,                                                     /* field 4 = 1 */
    0x28, 0x01,                                                     /* field 5 = 1 */
};

static uint64_t sig_hash(const uint64_t *v, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ v[i]) * 1099511628211ull;
    return h;
}

static void exe_destroy(const hwa__pjrt *pj, PJRT_LoadedExecutable *x) {
    PJRT_LoadedExecutable_Destroy_Args a = {.struct_size = PJRT_LoadedExecutable_Destroy_Args_STRUCT_SIZE,
                                            .executable = x};
    hwa__pjrt_check(NULL, pj, pj->api->PJRT_LoadedExecutable_Destroy(&a), "PJRT_LoadedExecutable_Destroy");
}

/* The executable for the analysed list: from the cache, or compiled now. */
static hwa_status executable(hwa_backend *be, exe_entry **out) {
    pj_state *s = be->impl;
    hwa_ctx *ctx = be->ctx;
    const uint64_t h = sig_hash(s->sig, s->n_sig);
    for (int i = 0; i < s->n_cache; i++)
        if (s->cache[i].hash == h && s->cache[i].n_sig == s->n_sig &&
            !memcmp(s->cache[i].sig, s->sig, s->n_sig * sizeof *s->sig)) {
            s->hits++;
            n_cache_hits++;
            *out = &s->cache[i];
            return HWA_OK;
        }
    char *text = NULL;
    size_t len = 0;
    hwa_status st = emit_module(be, &text, &len);
    if (st) return st;
    if (getenv("HWA_PJRT_DUMP")) fprintf(stderr, "%s", text);
    PJRT_Program prog = {.struct_size = PJRT_Program_STRUCT_SIZE, .code = text, .code_size = len,
                         .format = "mlir", .format_size = 4};
    PJRT_Client_Compile_Args ca = {.struct_size = PJRT_Client_Compile_Args_STRUCT_SIZE, .client = s->pj->client,
                                   .program = &prog, .compile_options = compile_options,
                                   .compile_options_size = sizeof compile_options};
    char what[96];
    snprintf(what, sizeof what, "%s: PJRT_Client_Compile", be->spec);
    st = hwa__pjrt_check(ctx, s->pj, s->pj->api->PJRT_Client_Compile(&ca), what);
    hwa__free(ctx, text);
    if (st) return st;
    s->compiles++;
    n_compiles++;
    PJRT_LoadedExecutable_GetExecutable_Args ga = {.struct_size = PJRT_LoadedExecutable_GetExecutable_Args_STRUCT_SIZE,
                                                   .loaded_executable = ca.executable};
    PJRT_Executable_NumOutputs_Args na = {.struct_size = PJRT_Executable_NumOutputs_Args_STRUCT_SIZE};
    st = hwa__pjrt_check(ctx, s->pj, s->pj->api->PJRT_LoadedExecutable_GetExecutable(&ga), "GetExecutable");
    if (!st) {
        na.executable = ga.executable;
        st = hwa__pjrt_check(ctx, s->pj, s->pj->api->PJRT_Executable_NumOutputs(&na), "PJRT_Executable_NumOutputs");
        PJRT_Executable_Destroy_Args da = {.struct_size = PJRT_Executable_Destroy_Args_STRUCT_SIZE,
                                           .executable = ga.executable};
        hwa__pjrt_check(NULL, s->pj, s->pj->api->PJRT_Executable_Destroy(&da), "PJRT_Executable_Destroy");
    }
    if (!st && na.num_outputs != (size_t)s->n_res)
        st = hwa__err(ctx, HWA_E_INTERNAL, "%s: the executable has %zu outputs, %d expected", be->spec, na.num_outputs,
                      s->n_res);
    uint64_t *sig = st ? NULL : hwa__malloc(ctx, (s->n_sig ? s->n_sig : 1) * sizeof *sig);
    if (!st && !sig) st = HWA_E_NOMEM;
    if (!st && s->n_cache == s->cap_cache) {
        const int cap = s->cap_cache ? 2 * s->cap_cache : 8;
        exe_entry *c = hwa__realloc_array(ctx, s->cache, (size_t)s->cap_cache, (size_t)cap, sizeof *c);
        if (!c) st = HWA_E_NOMEM;
        else s->cache = c, s->cap_cache = cap;
    }
    if (st) {
        hwa__free(ctx, sig);
        exe_destroy(s->pj, ca.executable);
        return st;
    }
    memcpy(sig, s->sig, s->n_sig * sizeof *sig);
    exe_entry *x = &s->cache[s->n_cache++];
    *x = (exe_entry){.hash = h, .sig = sig, .n_sig = s->n_sig, .exe = ca.executable, .n_out = na.num_outputs};
    *out = x;
    return HWA_OK;
}

/* ---- running ------------------------------------------------------------------ */

static hwa_status upload(hwa_backend *be, const void *data, hwa_dtype t, int ndim, const int64_t *dims,
                         PJRT_Buffer **out) {
    pj_state *s = be->impl;
    PJRT_Client_BufferFromHostBuffer_Args a = {
        .struct_size = PJRT_Client_BufferFromHostBuffer_Args_STRUCT_SIZE, .client = s->pj->client, .data = data,
        .type = pjrt_type(t), .dims = dims, .num_dims = (size_t)ndim,
        .host_buffer_semantics = PJRT_HostBufferSemantics_kImmutableUntilTransferCompletes, .device = s->dev};
    char what[96];
    snprintf(what, sizeof what, "%s: PJRT_Client_BufferFromHostBuffer", be->spec);
    hwa_status st = hwa__pjrt_check(be->ctx, s->pj, s->pj->api->PJRT_Client_BufferFromHostBuffer(&a), what);
    if (!st) st = hwa__pjrt_await(be->ctx, s->pj, a.done_with_host_buffer, what);
    if (st) return st;
    *out = a.buffer;
    return HWA_OK;
}

/* The device buffer holding argument t: its region when one matches, else
 * uploaded from the staging memory (regions it overlaps come back first)
 * and kept as a region. */
static hwa_status arg_buffer(hwa_backend *be, const hwa_tensor *t, PJRT_Buffer **out) {
    hwa_buffer *b;
    size_t off;
    storage_of(t, &b, &off);
    if (!b || b->free_fn != buf_free)
        return hwa__err(be->ctx, HWA_E_MISUSE, "%s: tensor '%s' has no data on this device", be->spec, t->name);
    pj_buf *pb = b->impl;
    const size_t n = hwa_tensor_nbytes(t);
    for (int i = 0; i < pb->n_r; i++) {
        region *r = &pb->r[i];
        if (r->off == off && r->n == n && r->dtype == t->dtype && r->ndim == t->ndim &&
            !memcmp(r->dims, t->shape, (size_t)t->ndim * sizeof *t->shape)) {
            *out = r->buf;
            return HWA_OK;
        }
    }
    hwa_status st = HWA_OK;
    for (int i = pb->n_r - 1; i >= 0 && !st; i--)
        if (overlaps(&pb->r[i], off, n)) {
            if (!(st = region_to_host(pb, i))) region_drop(pb, i);
        }
    if (st || (st = upload(be, pb->host + off, t->dtype, t->ndim, t->shape, out))) return st;
    GROW(be->ctx, pb->r, pb->n_r, pb->cap_r, HWA_E_NOMEM);
    region *r = &pb->r[pb->n_r++];
    *r = (region){.off = off, .n = n, .buf = *out, .dtype = t->dtype, .ndim = t->ndim};
    memcpy(r->dims, t->shape, (size_t)t->ndim * sizeof *t->shape);
    return HWA_OK;
}

/* Result k's device buffer becomes the region of its storage. */
static hwa_status keep_result(hwa_backend *be, const result *res, PJRT_Buffer *buf) {
    pj_buf *pb = res->buffer->impl;
    const size_t n = hwa_tensor_nbytes(res->as);
    for (int i = pb->n_r - 1; i >= 0; i--) {
        region *r = &pb->r[i];
        if (!overlaps(r, res->off, n)) continue;
        if (!(r->off >= res->off && r->off + r->n <= res->off + n)) {
            hwa_status st = region_to_host(pb, i);
            if (st) return st;
        }
        region_drop(pb, i);
    }
    if (pb->n_r == pb->cap_r) {
        const int cap = pb->cap_r ? 2 * pb->cap_r : 16;
        region *r = hwa__realloc_array(be->ctx, pb->r, (size_t)pb->cap_r, (size_t)cap, sizeof *r);
        if (!r) return HWA_E_NOMEM;
        pb->r = r;
        pb->cap_r = cap;
    }
    region *r = &pb->r[pb->n_r++];
    *r = (region){.off = res->off, .n = n, .buf = buf, .host_stale = true, .dtype = res->as->dtype,
                  .ndim = res->as->ndim};
    memcpy(r->dims, res->as->shape, (size_t)res->as->ndim * sizeof *res->as->shape);
    return HWA_OK;
}

/* Host checks the reference kernels make on run-time values the device
 * cannot report: the optimizers' bias corrections. */
static hwa_status check_hyper(hwa_backend *be, const hwa_tensor *t) {
    if (t->op == HWA_OP_ADAM_UPDATE && (!(t->p.f[6] > 0.0f) || !(t->p.f[7] > 0.0f)))
        return hwa__err(be->ctx, HWA_E_INVALID, "adam_update: bias corrections %g and %g must be > 0", t->p.f[6],
                        t->p.f[7]);
    return HWA_OK;
}

static hwa_status run(hwa_backend *be, exe_entry *x) {
    pj_state *s = be->impl;
    hwa_ctx *ctx = be->ctx;
    int n_args = 0;
    for (int i = 0; i < s->n_steps; i++) n_args += s->steps[i].is_arg;
    PJRT_Buffer **args = hwa__calloc(ctx, (size_t)(n_args ? n_args : 1), sizeof *args);
    PJRT_Buffer **outs = hwa__calloc(ctx, x->n_out ? x->n_out : 1, sizeof *outs);
    bool *temp = hwa__calloc(ctx, (size_t)(n_args ? n_args : 1), sizeof *temp);
    hwa_status st = args && outs && temp ? HWA_OK : HWA_E_NOMEM;
    int k = 0;
    for (int i = 0; i < s->n_steps && !st; i++) {
        const step *p = &s->steps[i];
        if (!p->is_arg) continue;
        if (p->rt_kind == HWA__PJ_RT_HYPER) {
            const int64_t eight = 8;
            if (!(st = check_hyper(be, p->t))) st = upload(be, p->t->p.f, HWA_F32, 1, &eight, &args[k]);
            temp[k] = true;
        } else if (p->rt_kind != HWA__PJ_RT_NONE) {
            const int64_t one = 1;
            st = upload(be, &p->rt_i32, HWA_I32, 1, &one, &args[k]);
            temp[k] = true;
        } else {
            st = arg_buffer(be, p->t, &args[k]);
        }
        k++;
    }
    if (!st) {
        PJRT_ExecuteOptions opts = {.struct_size = PJRT_ExecuteOptions_STRUCT_SIZE};
        PJRT_Buffer *const *arg_list = args;
        PJRT_Buffer **out_list = outs;
        PJRT_Event *done = NULL;
        PJRT_LoadedExecutable_Execute_Args ea = {.struct_size = PJRT_LoadedExecutable_Execute_Args_STRUCT_SIZE,
                                                 .executable = x->exe, .options = &opts,
                                                 .argument_lists = &arg_list, .num_devices = 1,
                                                 .num_args = (size_t)n_args, .output_lists = &out_list,
                                                 .device_complete_events = &done,
                                                 .execute_device = s->index ? s->dev : NULL};
        char what[96];
        snprintf(what, sizeof what, "%s: PJRT_LoadedExecutable_Execute", be->spec);
        st = hwa__pjrt_check(ctx, s->pj, s->pj->api->PJRT_LoadedExecutable_Execute(&ea), what);
        /* waited for here: a compute ends when the device is done (so that
         * timings are honest, and no executable is destroyed while it runs) */
        if (!st) st = hwa__pjrt_await(ctx, s->pj, done, what);
    }
    for (int i = 0; i < k; i++)
        if (temp && temp[i] && args[i]) {
            PJRT_Buffer_Destroy_Args d = {.struct_size = PJRT_Buffer_Destroy_Args_STRUCT_SIZE, .buffer = args[i]};
            hwa__pjrt_check(NULL, s->pj, s->pj->api->PJRT_Buffer_Destroy(&d), "PJRT_Buffer_Destroy");
        }
    for (size_t i = 0; outs && i < x->n_out; i++) {
        if (!outs[i]) continue;
        hwa_status st2 = st ? st : keep_result(be, &s->res[i], outs[i]);
        if (st2) {
            PJRT_Buffer_Destroy_Args d = {.struct_size = PJRT_Buffer_Destroy_Args_STRUCT_SIZE, .buffer = outs[i]};
            hwa__pjrt_check(NULL, s->pj, s->pj->api->PJRT_Buffer_Destroy(&d), "PJRT_Buffer_Destroy");
            if (!st) st = st2;
        }
    }
    hwa__free(ctx, args);
    hwa__free(ctx, outs);
    hwa__free(ctx, temp);
    return st;
}

static hwa_status pj_compute(hwa_backend *be, hwa_tensor *const *nodes, int n) {
    for (int i = 0; i < n; i++)
        if (nodes[i]->op != HWA_OP_NONE && !hwa__op_is_view(nodes[i]->op) && !pj_supports_op(be, nodes[i]))
            return hwa__err(be->ctx, HWA_E_UNSUPPORTED, "%s: %s", be->spec, pj_why_not(be, nodes[i]));
    hwa_status st = analyse(be, nodes, n);
    if (st || ((pj_state *)be->impl)->n_res == 0) return st;
    exe_entry *x;
    if ((st = executable(be, &x)) || (st = run(be, x))) return st;
    for (int i = 0; i < n; i++)
        if (nodes[i]->op != HWA_OP_NONE && !hwa__op_is_view(nodes[i]->op)) hwa__tensor_touch(nodes[i]);
    return HWA_OK;
}

static const char *pj_kernel_name(const hwa_backend *be, const hwa_tensor *node) {
    (void)be;
    return node->op != HWA_OP_NONE && hwa__pj_lowering(node->op) ? "pjrt:stablehlo" : NULL;
}

static void pj_free(hwa_backend *be) {
    pj_state *s = be->impl;
    for (int i = 0; i < s->n_cache; i++) {
        exe_destroy(s->pj, s->cache[i].exe);
        hwa__free(be->ctx, s->cache[i].sig);
    }
    hwa__free(be->ctx, s->cache);
    hwa__free(be->ctx, s->steps);
    hwa__free(be->ctx, s->res);
    hwa__free(be->ctx, s->sig);
    hwa__free(be->ctx, s->map);
    hwa__free(be->ctx, s);
    hwa__free(be->ctx, be);
}

static const hwa_backend_iface pj_iface = {
    .api_version = HWA_BACKEND_API_VERSION,
    .name = "pjrt",
    .kind = HWA_DEVICE_ACCEL,
    .supports_op = pj_supports_op,
    .buffer_alloc = pj_buffer_alloc,
    .compute = pj_compute,
    .free = pj_free,
    .kernel_name = pj_kernel_name,
    .unsupported_reason = pj_why_not,
};

hwa_status hwa__pjrt_backend_init(hwa_ctx *ctx, int index, hwa_backend **out) {
    char path[512], why[512];
    if (!hwa__pjrt_plugin_path(path, sizeof path, why, sizeof why))
        return hwa__err(ctx, HWA_E_NOTFOUND, "device 'pjrt:%d': %s", index, why);
    hwa__pjrt *pj;
    hwa_status st = hwa__pjrt_open(ctx, path, &pj);
    if (st) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", hwa_ctx_last_error(ctx));
        return hwa__err(ctx, st, "device 'pjrt:%d': %s", index, msg);
    }
    if (index >= pj->n_devs)
        return hwa__err(ctx, HWA_E_NOTFOUND, "device 'pjrt:%d': the PJRT plugin %s has %d device%s", index, path,
                        pj->n_devs, pj->n_devs == 1 ? "" : "s");
    hwa_backend *be = hwa__calloc(ctx, 1, sizeof *be);
    pj_state *s = hwa__calloc(ctx, 1, sizeof *s);
    if (!be || !s) {
        hwa__free(ctx, be);
        hwa__free(ctx, s);
        return HWA_E_NOMEM;
    }
    s->pj = pj;
    s->dev = pj->devs[index];
    s->index = index;
    be->iface = &pj_iface;
    be->ctx = ctx;
    be->impl = s;
    *out = be;
    return HWA_OK;
}
#endif
