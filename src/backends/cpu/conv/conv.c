/* 2-D convolutions through oneDNN's convolution primitives: forward,
 * backward data and backward weights, f32 (bf16 and f16 where every tensor of
 * the op has that dtype and oneDNN has a kernel for it).
 *
 * The graph keeps NCHW / OIHW at the op boundary; oneDNN's fast kernels want
 * blocked layouts (nChw16c and friends on AVX-512). Each primitive is made
 * with format_tag_any, and every operand whose chosen layout differs from
 * the plain one goes through a reorder into (or, for the result, out of) a
 * buffer the entry owns. All of it is made once per (op, shapes, geometry,
 * dtype, thread count) and kept: per call only the data handles change. An
 * input reordered at the last call and unchanged since (same storage,
 * address and version: the weights between optimizer steps, or always in
 * inference) is not reordered again. */
#include "backends/cpu/conv/conv.h"

#if defined(HWA_HAVE_ONEDNN)
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <string.h>

#include "backends/cpu/cpu_isa.h"
#include "backends/cpu/matmul/mm.h"

/* The three tensors of every conv op, by the role they play in the forward
 * convolution: x [N, C, H, W], w [O, C/G, KH, KW], y [N, O, OH, OW]. */
enum { R_X, R_W, R_Y, R_COUNT };

typedef struct conv_arg {
    int dnnl_arg;             /* DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, ... */
    bool out;                 /* the op's result */
    dnnl_memory_t user;       /* the graph's tensor, plain layout (handle set per call) */
    dnnl_memory_t inner;      /* in the primitive's layout; NULL when that is the plain one */
    dnnl_primitive_t reorder; /* user -> inner (inputs) or inner -> user (the result) */
    /* the input last reordered into inner: skipped while unchanged */
    const hwa_tensor *kept_owner;
    const void *kept_data;
    uint64_t kept_version;
} conv_arg;

typedef struct conv_entry {
    /* key */
    hwa_op op;
    hwa_dtype dt;
    int64_t shape[R_COUNT][4];
    int32_t pi[8];
    int64_t groups;
    int nthreads; /* oneDNN plans its split for OpenMP's count when made */
    bool bias, relu; /* forward only: a bias [O] added and a ReLU applied in the primitive */
    /* value: prim NULL when oneDNN cannot do this case */
    dnnl_primitive_t prim;
    dnnl_memory_t bias_mem; /* the bias [O] (handle set per call) */
    conv_arg a[R_COUNT];
    int64_t kept_bytes; /* the inner buffers */
    char impl[64];
    struct conv_entry *next;
} conv_entry;

struct hwa__conv {
    hwa_ctx *ctx;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    conv_entry *entries;
};

static dnnl_data_type_t dnnl_dt(hwa_dtype t) {
    return t == HWA_F32 ? dnnl_f32 : t == HWA_BF16 ? dnnl_bf16 : t == HWA_F16 ? dnnl_f16 : dnnl_data_type_undef;
}

hwa_status hwa__conv_new(hwa_ctx *ctx, hwa__conv **out) {
    *out = NULL;
    hwa__onednn_cap_isa();
    hwa__conv *c = hwa__calloc(ctx, 1, sizeof *c);
    if (!c) return HWA_E_NOMEM;
    c->ctx = ctx;
    if (dnnl_engine_create(&c->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags) != dnnl_success) {
        hwa__conv_free(c); /* no engine: the reference kernels remain */
        return HWA_OK;
    }
    *out = c;
    return HWA_OK;
}

static void entry_free(hwa_ctx *ctx, conv_entry *e) {
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->bias_mem) dnnl_memory_destroy(e->bias_mem);
    for (int r = 0; r < R_COUNT; r++) {
        conv_arg *a = &e->a[r];
        if (a->reorder) dnnl_primitive_destroy(a->reorder);
        if (a->user) dnnl_memory_destroy(a->user);
        if (a->inner) dnnl_memory_destroy(a->inner);
    }
    hwa__free(ctx, e);
}

void hwa__conv_free(hwa__conv *c) {
    if (!c) return;
    for (conv_entry *e = c->entries, *nx; e; e = nx) {
        nx = e->next;
        entry_free(c->ctx, e);
    }
    if (c->stream) dnnl_stream_destroy(c->stream);
    if (c->engine) dnnl_engine_destroy(c->engine);
    hwa__free(c->ctx, c);
}

/* The tensor of each role in dst's op, and which of them is the result. */
static void roles_of(const hwa_tensor *dst, const hwa_tensor *t[R_COUNT]) {
    switch (dst->op) {
    case HWA_OP_CONV2D: t[R_X] = dst->src[0], t[R_W] = dst->src[1], t[R_Y] = dst; break;
    case HWA_OP_CONV2D_BACK_DATA: t[R_X] = dst, t[R_W] = dst->src[1], t[R_Y] = dst->src[0]; break;
    default: t[R_X] = dst->src[1], t[R_W] = dst, t[R_Y] = dst->src[0]; break;
    }
}

static bool key_eq(const conv_entry *e, const hwa_tensor *dst, const hwa_tensor *const t[R_COUNT], int nthreads,
                   bool bias, bool relu) {
    if (e->op != dst->op || e->dt != dst->dtype || e->groups != dst->p.l[0] || e->nthreads != nthreads ||
        e->bias != bias || e->relu != relu ||
        memcmp(e->pi, dst->p.i, sizeof e->pi) != 0)
        return false;
    for (int r = 0; r < R_COUNT; r++)
        if (memcmp(e->shape[r], t[r]->shape, sizeof e->shape[r]) != 0) return false;
    return true;
}

/* Role r's descriptor: plain (NCHW, or for the weights OIHW with one group
 * and GOIHW, the same bytes split by group, with several), or with any
 * layout, the primitive's to choose. */
static bool role_md(dnnl_memory_desc_t *md, const conv_entry *e, int r, dnnl_data_type_t dt, bool plain) {
    const int64_t *s = e->shape[r];
    if (r == R_W && e->groups > 1) {
        dnnl_dims_t d = {e->groups, s[0] / e->groups, s[1], s[2], s[3]};
        return dnnl_memory_desc_init_by_tag(md, 5, d, dt, plain ? dnnl_goihw : dnnl_format_tag_any) == dnnl_success;
    }
    dnnl_dims_t d = {s[0], s[1], s[2], s[3]};
    const dnnl_format_tag_t tag = !plain ? dnnl_format_tag_any : r == R_W ? dnnl_oihw : dnnl_nchw;
    return dnnl_memory_desc_init_by_tag(md, 4, d, dt, tag) == dnnl_success;
}

static bool reorder_make(hwa__conv *c, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                         dnnl_primitive_t *out) {
    dnnl_primitive_desc_t pd = NULL;
    bool ok = dnnl_reorder_primitive_desc_create(&pd, from, c->engine, to, c->engine, NULL) == dnnl_success &&
              dnnl_primitive_create(out, pd) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    return ok;
}

/* The operation descriptor of e's op with the given operand layouts. */
static bool op_desc(const conv_entry *e, dnnl_convolution_desc_t *d, dnnl_prop_kind_t fwd_kind,
                    const dnnl_memory_desc_t md[R_COUNT], const dnnl_memory_desc_t *bias, bool forward) {
    const int32_t *i = e->pi;
    /* oneDNN counts dilation from 0 (no gap) */
    dnnl_dims_t strides = {i[0], i[1]}, dil = {i[6] - 1, i[7] - 1}, pl = {i[2], i[3]}, pr = {i[4], i[5]};
    const dnnl_alg_kind_t alg = dnnl_convolution_direct;
    if (forward)
        return dnnl_dilated_convolution_forward_desc_init(d, fwd_kind, alg, &md[R_X], &md[R_W], bias, &md[R_Y],
                                                          strides, dil, pl, pr) == dnnl_success;
    if (e->op == HWA_OP_CONV2D_BACK_DATA)
        return dnnl_dilated_convolution_backward_data_desc_init(d, alg, &md[R_X], &md[R_W], &md[R_Y], strides, dil,
                                                                pl, pr) == dnnl_success;
    return dnnl_dilated_convolution_backward_weights_desc_init(d, alg, &md[R_X], &md[R_W], NULL, &md[R_Y], strides,
                                                               dil, pl, pr) == dnnl_success;
}

/* Makes e's primitive, memories and reorders; leaves e->prim NULL when
 * oneDNN declines (or fails: the reference then runs). */
static void entry_make(hwa__conv *c, conv_entry *e) {
    const dnnl_data_type_t dt = dnnl_dt(e->dt);
    dnnl_memory_desc_t any[R_COUNT], plain[R_COUNT];
    bool ok = true;
    for (int r = 0; r < R_COUNT && ok; r++) ok = role_md(&any[r], e, r, dt, false) && role_md(&plain[r], e, r, dt, true);
    if (!ok) return;
    /* An input of few channels stays plain: a blocked layout pads the
     * channels to 16, so an RGB or grey image would cost 5-16x the work,
     * while oneDNN has kernels for a plain source (measured on
     * fmnist-cnn's first layer, 1 -> 32 channels at batch 64: 1017 us with
     * the blocked input and its reorder). */
    if (e->groups == 1 && e->shape[R_X][1] <= 4) any[R_X] = plain[R_X];
    dnnl_convolution_desc_t fd, bd;
    dnnl_primitive_desc_t hint = NULL, pd = NULL;
    if (e->op == HWA_OP_CONV2D) {
        dnnl_memory_desc_t bmd;
        const dnnl_dims_t bd1 = {e->shape[R_Y][1]};
        dnnl_primitive_attr_t attr = NULL;
        dnnl_post_ops_t po = NULL;
        ok = (!e->bias || (dnnl_memory_desc_init_by_tag(&bmd, 1, bd1, dt, dnnl_x) == dnnl_success &&
                           dnnl_memory_create(&e->bias_mem, &bmd, c->engine, DNNL_MEMORY_NONE) == dnnl_success)) &&
             (!e->relu || (dnnl_primitive_attr_create(&attr) == dnnl_success &&
                           dnnl_post_ops_create(&po) == dnnl_success &&
                           dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f) == dnnl_success &&
                           dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success)) &&
             op_desc(e, &fd, dnnl_forward_inference, any, e->bias ? &bmd : NULL, true) &&
             dnnl_primitive_desc_create(&pd, &fd, attr, c->engine, NULL) == dnnl_success;
        if (po) dnnl_post_ops_destroy(po);
        if (attr) dnnl_primitive_attr_destroy(attr);
    } else {
        /* the backward primitives take the forward one as a hint */
        ok = op_desc(e, &fd, dnnl_forward_training, any, NULL, true) &&
             dnnl_primitive_desc_create(&hint, &fd, NULL, c->engine, NULL) == dnnl_success &&
             op_desc(e, &bd, dnnl_forward_training, any, NULL, false) &&
             dnnl_primitive_desc_create(&pd, &bd, NULL, c->engine, hint) == dnnl_success;
    }
    if (hint) dnnl_primitive_desc_destroy(hint);
    if (!ok) {
        if (pd) dnnl_primitive_desc_destroy(pd);
        return;
    }
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(e->impl, sizeof e->impl, "%s", impl);
    static const int args[3][R_COUNT] = {
        {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
        {DNNL_ARG_DIFF_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_DST},
        {DNNL_ARG_SRC, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_DST},
    };
    const int k = e->op == HWA_OP_CONV2D ? 0 : e->op == HWA_OP_CONV2D_BACK_DATA ? 1 : 2;
    const int out_role = k == 0 ? R_Y : k == 1 ? R_X : R_W;
    for (int r = 0; r < R_COUNT && ok; r++) {
        conv_arg *a = &e->a[r];
        a->dnnl_arg = args[k][r];
        a->out = r == out_role;
        const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, a->dnnl_arg);
        ok = want && dnnl_memory_create(&a->user, &plain[r], c->engine, DNNL_MEMORY_NONE) == dnnl_success;
        if (!ok || dnnl_memory_desc_equal(want, &plain[r])) continue;
        ok = dnnl_memory_create(&a->inner, want, c->engine, DNNL_MEMORY_ALLOCATE) == dnnl_success &&
             (a->out ? reorder_make(c, want, &plain[r], &a->reorder) : reorder_make(c, &plain[r], want, &a->reorder));
        e->kept_bytes += (int64_t)dnnl_memory_desc_get_size(want);
    }
    ok = ok && dnnl_primitive_create(&e->prim, pd) == dnnl_success;
    dnnl_primitive_desc_destroy(pd);
    if (!ok) e->prim = NULL;
}

static conv_entry *entry_get(hwa__conv *c, const hwa_tensor *dst, int nthreads, bool bias, bool relu) {
    const hwa_tensor *t[R_COUNT];
    roles_of(dst, t);
    for (conv_entry *e = c->entries; e; e = e->next)
        if (key_eq(e, dst, t, nthreads, bias, relu)) return e;
    conv_entry *e = hwa__calloc(c->ctx, 1, sizeof *e);
    if (!e) return NULL;
    e->op = dst->op;
    e->dt = dst->dtype;
    for (int r = 0; r < R_COUNT; r++) memcpy(e->shape[r], t[r]->shape, sizeof e->shape[r]);
    memcpy(e->pi, dst->p.i, sizeof e->pi);
    e->groups = dst->p.l[0];
    e->nthreads = nthreads;
    e->bias = bias;
    e->relu = relu;
    entry_make(c, e);
    e->next = c->entries;
    c->entries = e;
    return e;
}

/* The cases with a fast path: the three ops on contiguous tensors of one
 * float dtype that oneDNN knows, with storage on the host. */
static bool eligible(const hwa_tensor *dst) {
    if (dst->op != HWA_OP_CONV2D && dst->op != HWA_OP_CONV2D_BACK_DATA && dst->op != HWA_OP_CONV2D_BACK_WEIGHT)
        return false;
    if (dnnl_dt(dst->dtype) == dnnl_data_type_undef || !hwa__isa_libraries_allowed()) return false;
    const hwa_tensor *t[R_COUNT];
    roles_of(dst, t);
    for (int r = 0; r < R_COUNT; r++)
        if (t[r]->dtype != dst->dtype || !hwa_tensor_is_contiguous(t[r]) || !hwa__data(t[r])) return false;
    return true;
}

static bool exec(hwa__conv *c, dnnl_primitive_t p, int n, const dnnl_exec_arg_t *args) {
    return dnnl_primitive_execute(p, c->stream, n, args) == dnnl_success && dnnl_stream_wait(c->stream) == dnnl_success;
}

hwa_status hwa__conv_run(hwa__conv *c, hwa_tensor *dst, int nthreads, char *name, size_t name_cap) {
    return hwa__conv_run_fused(c, dst, NULL, false, dst, nthreads, name, name_cap);
}

hwa_status hwa__conv_run_fused(hwa__conv *c, hwa_tensor *dst, const hwa_tensor *bias, bool relu, hwa_tensor *out,
                               int nthreads, char *name, size_t name_cap) {
    if (!c || !eligible(dst)) return HWA_E_UNSUPPORTED;
    if (out != dst && (dst->op != HWA_OP_CONV2D || out->dtype != dst->dtype || !hwa_tensor_is_contiguous(out) ||
                       !hwa__data(out)))
        return HWA_E_UNSUPPORTED;
    if (bias && (bias->dtype != dst->dtype || !hwa_tensor_is_contiguous(bias) || !hwa__data(bias) ||
                 hwa_tensor_nelements(bias) != dst->shape[1]))
        return HWA_E_UNSUPPORTED;
    conv_entry *e = entry_get(c, dst, nthreads, bias != NULL, relu);
    if (!e) return HWA_E_NOMEM;
    if (!e->prim) return HWA_E_UNSUPPORTED;
    const hwa_tensor *t[R_COUNT];
    roles_of(dst, t);
    if (dst->op == HWA_OP_CONV2D) t[R_Y] = out; /* the backward ops read y's role (the gradient) */
    dnnl_exec_arg_t args[R_COUNT + 1];
    bool ok = true;
    for (int r = 0; r < R_COUNT && ok; r++) {
        conv_arg *a = &e->a[r];
        void *data = hwa__data(t[r]);
        dnnl_memory_set_data_handle(a->user, data);
        args[r] = (dnnl_exec_arg_t){a->dnnl_arg, a->inner ? a->inner : a->user};
        if (!a->inner || a->out) continue;
        const hwa_tensor *owner = hwa__storage(t[r]);
        if (a->kept_owner == owner && a->kept_data == data && a->kept_version == owner->version) continue;
        dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, a->user}, {DNNL_ARG_TO, a->inner}};
        ok = exec(c, a->reorder, 2, ra);
        a->kept_owner = ok ? owner : NULL;
        a->kept_data = data;
        a->kept_version = owner->version;
    }
    int n_args = R_COUNT;
    if (e->bias_mem) {
        dnnl_memory_set_data_handle(e->bias_mem, hwa__data(bias));
        args[n_args++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, e->bias_mem};
    }
    ok = ok && exec(c, e->prim, n_args, args);
    for (int r = 0; r < R_COUNT && ok; r++) {
        conv_arg *a = &e->a[r];
        if (!a->inner || !a->out) continue;
        dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, a->inner}, {DNNL_ARG_TO, a->user}};
        ok = exec(c, a->reorder, 2, ra);
    }
    if (!ok) return hwa__err(c->ctx, HWA_E_DEVICE, "%s: oneDNN failed to run %s", hwa__op_name(dst->op), e->impl);
    snprintf(name, name_cap, "onednn:%s%s%s", e->impl, bias ? "+bias" : "", relu ? "+relu" : "");
    return HWA_OK;
}

int64_t hwa__conv_kept_bytes(hwa__conv *c, const hwa_tensor *dst, int nthreads) {
    if (!c || !eligible(dst)) return 0;
    const conv_entry *e = entry_get(c, dst, nthreads, false, false);
    return e && e->prim ? e->kept_bytes : 0;
}

#else /* !HWA_HAVE_ONEDNN: the reference kernels run every convolution */

hwa_status hwa__conv_new(hwa_ctx *ctx, hwa__conv **out) {
    (void)ctx;
    *out = NULL;
    return HWA_OK;
}
void hwa__conv_free(hwa__conv *c) { (void)c; }
hwa_status hwa__conv_run(hwa__conv *c, hwa_tensor *dst, int nthreads, char *name, size_t name_cap) {
    return HWA_E_UNSUPPORTED;
}
hwa_status hwa__conv_run_fused(hwa__conv *c, hwa_tensor *dst, const hwa_tensor *bias, bool relu, hwa_tensor *out,
                               int nthreads, char *name, size_t name_cap) {
    return HWA_E_UNSUPPORTED;
}
int64_t hwa__conv_kept_bytes(hwa__conv *c, const hwa_tensor *dst, int nthreads) { return 0; }

#endif
