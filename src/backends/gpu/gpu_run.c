/* The host side of the portable device kernels (gpu_run.h): one dispatcher
 * for every backend that runs backends/gpu/kernels. It is compiled into
 * libhwadapt (for opencl) and into the CUDA module, so it reaches the device
 * only through the backend's hwa__gpu_dev slots and calls only the core
 * functions that the module forwards (gpu_run.h's users list them). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backends/cpu/ref/ref.h"
#include "backends/fuse.h"
#include "backends/gpu/gpu_run.h"

typedef hwa__gpu_view view;
typedef hwa__gpu_mem mem;
typedef hwa__gpu_arg arg;
_Static_assert(HWA_F32 == 0 && HWA_F16 == 1 && HWA_BF16 == 2 && HWA_I32 == 4, "kernel dtype codes");

#define TILE 16       /* HWA_K_TILE of matmul.cl */
#define ROW_GROUP 256 /* HWA_K_ROW_GROUP of hwa_gpu.h */
#define ATT_MAX_D 512 /* HWA_K_ATT_MAX_D of hwa_gpu.h */

const char *hwa__gpu_kernel_str(hwa__gpu_kernel id) {
    static const char *const names[HWA__GPUK_COUNT] = {
#define HWA__GPU_K_NAME(id, name) name,
        HWA__GPU_KERNELS(HWA__GPU_K_NAME)
#undef HWA__GPU_K_NAME
    };
    return (unsigned)id < HWA__GPUK_COUNT ? names[id] : "?";
}

void hwa__gpu_state_init(hwa__gpu_state *s, const hwa__gpu_dev *dev, const char *prefix) {
    memset(s, 0, sizeof *s);
    s->dev = dev;
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix);
    for (int i = 0; i < HWA__GPUK_COUNT; i++)
        snprintf(s->names[i], sizeof s->names[i], "%s:%s", s->prefix, hwa__gpu_kernel_str((hwa__gpu_kernel)i));
}

void hwa__gpu_state_free(hwa_ctx *ctx, hwa__gpu_state *s) {
    hwa__free(ctx, s->ran);
    s->ran = NULL;
    s->n_ran = s->cap_ran = 0;
}

/* ---- what runs here ---------------------------------------------------- */

static bool float_storage(hwa_dtype t) { return t == HWA_F32 || t == HWA_F16 || t == HWA_BF16; }

/* The sources of op that hold i32 indices (ids, positions, labels, a
 * sparse matrix's rows and columns), one bit each. */
static unsigned index_srcs_of(hwa_op op) {
    switch (op) {
    case HWA_OP_EMBEDDING: case HWA_OP_EMBEDDING_BACK: case HWA_OP_ROPE: case HWA_OP_CROSS_ENTROPY: return 1u << 1;
    case HWA_OP_CROSS_ENTROPY_BACK: return 1u << 2;
    case HWA_OP_SPMM: return 1u << 1 | 1u << 2;
    default: return 0;
    }
}

static hwa__gpu_kernel kernel_of(hwa_op op) {
    switch (op) {
    case HWA_OP_CONT: case HWA_OP_REPEAT: case HWA_OP_SCALE: case HWA_OP_FILL:
    case HWA_OP_RELU: case HWA_OP_GELU: case HWA_OP_SILU: case HWA_OP_SIGMOID: case HWA_OP_TANH:
        return HWA__GPUK_UNARY;
    case HWA_OP_ADD: case HWA_OP_SUB: case HWA_OP_MUL: case HWA_OP_DIV: case HWA_OP_UNARY_BACK:
        return HWA__GPUK_BINARY;
    case HWA_OP_SUM_TO: return HWA__GPUK_SUM_TO;
    case HWA_OP_SOFTMAX: case HWA_OP_LOG_SOFTMAX: case HWA_OP_SOFTMAX_BACK: case HWA_OP_NORM:
    case HWA_OP_NORM_BACK: case HWA_OP_RMS_NORM: case HWA_OP_RMS_NORM_BACK:
        return HWA__GPUK_ROWS;
    case HWA_OP_MATMUL: return HWA__GPUK_MATMUL;
    /* copies into regions of dst, through the unary kernel's CONT and FILL */
    case HWA_OP_CONCAT: case HWA_OP_SLICE_BACK: case HWA_OP_WRITE_SLICE: return HWA__GPUK_UNARY;
    case HWA_OP_EMBEDDING: return HWA__GPUK_EMBED;
    case HWA_OP_EMBEDDING_BACK: return HWA__GPUK_EMBED_BACK;
    case HWA_OP_ROPE: return HWA__GPUK_ROPE;
    case HWA_OP_ATTENTION: return HWA__GPUK_ATTN;
    case HWA_OP_ATTENTION_BACK: return HWA__GPUK_ATTN_BACK;
    case HWA_OP_CROSS_ENTROPY: return HWA__GPUK_XENT;
    case HWA_OP_CROSS_ENTROPY_BACK: return HWA__GPUK_XENT_BACK;
    case HWA_OP_SUM_SQ: return HWA__GPUK_SUM_SQ;
    case HWA_OP_SGD_UPDATE: return HWA__GPUK_SGD;
    case HWA_OP_ADAM_UPDATE: return HWA__GPUK_ADAM;
    case HWA_OP_SPMM: return HWA__GPUK_SPMM;
    case HWA_OP_MAP: case HWA_OP_MAP_BACK: case HWA_OP_BINARY: case HWA_OP_WHERE: return HWA__GPUK_ELTOPS;
    case HWA_OP_CONV2D: case HWA_OP_CONV2D_BACK_DATA: case HWA_OP_CONV2D_BACK_WEIGHT: return HWA__GPUK_CONV2D;
    default: return HWA__GPUK_COUNT;
    }
}

const char *hwa__gpu_why_not(hwa__gpu_state *s, const hwa_tensor *node) {
    if ((unsigned)node->op >= HWA_OP_COUNT || kernel_of(node->op) == HWA__GPUK_COUNT) {
        snprintf(s->why, sizeof s->why, "%s: no device kernel for %s yet", s->prefix,
                 (unsigned)node->op < HWA_OP_COUNT ? hwa__op_name(node->op) : "?");
        return s->why;
    }
    const hwa_tensor *bad = float_storage(node->dtype) ? NULL : node;
    const unsigned index_srcs = index_srcs_of(node->op);
    for (int i = 0; i < hwa__op_n_src(node->op) && !bad; i++)
        if ((index_srcs >> i & 1u) ? node->src[i]->dtype != HWA_I32 : !float_storage(node->src[i]->dtype))
            bad = node->src[i];
    if (bad) {
        snprintf(s->why, sizeof s->why, "%s: %s on %s data (the kernels take f32, f16 and bf16, and i32 indices)",
                 s->prefix, hwa__op_name(node->op), hwa_dtype_name(bad->dtype));
        return s->why;
    }
    if (node->op == HWA_OP_ATTENTION || node->op == HWA_OP_ATTENTION_BACK) {
        const bool fwd = node->op == HWA_OP_ATTENTION;
        const hwa_tensor *q = node->src[fwd ? 0 : 1], *v = node->src[fwd ? 2 : 3];
        const int64_t D = q->shape[q->ndim - 1], Dv = v->shape[v->ndim - 1];
        if (D > ATT_MAX_D || Dv > ATT_MAX_D) {
            snprintf(s->why, sizeof s->why, "%s: %s with heads of %lld and %lld (the kernel takes up to %d)",
                     s->prefix, hwa__op_name(node->op), (long long)D, (long long)Dv, ATT_MAX_D);
            return s->why;
        }
    }
    return NULL;
}

const char *hwa__gpu_kernel_name(const hwa__gpu_state *s, const hwa_tensor *node) {
    for (int i = 0; i < s->n_ran; i++)
        if (s->ran[i].node == node) return s->ran[i].name;
    const hwa__gpu_kernel k = (unsigned)node->op < HWA_OP_COUNT ? kernel_of(node->op) : HWA__GPUK_COUNT;
    return k < HWA__GPUK_COUNT && node->op != HWA_OP_NONE ? s->names[k] : NULL;
}

/* ---- views and helpers ------------------------------------------------- */

/* t's view and memory object; HWA_E_MISUSE when its data is not on be's
 * device. */
static hwa_status view_of(hwa_backend *be, const hwa__gpu_state *s, const hwa_tensor *t, view *v, mem *m) {
    const hwa_tensor *o = hwa__storage(t);
    const size_t esize = hwa_dtype_block_bytes(t->dtype);
    const size_t off = o->buf_offs + (t->view_src ? t->view_offs : 0);
    if (!o->buffer || s->dev->mem_of(be, o->buffer, m) != HWA_OK)
        return hwa__err(be->ctx, HWA_E_MISUSE, "%s: tensor '%s' has no data on this device", be->spec, t->name);
    if (off % esize)
        return hwa__err(be->ctx, HWA_E_INTERNAL, "%s: tensor '%s' starts at byte %zu, not a whole element", be->spec,
                        t->name, off);
    memset(v, 0, sizeof *v);
    hwa__shape4(t, v->ne, v->st);
    v->off = (int64_t)(off / esize);
    v->dt = (int32_t)t->dtype;
    return HWA_OK;
}

/* v read at dst's extents: stride 0 along the dims it repeats. */
static void broadcast_to(view *v, const view *dst) {
    for (int d = 0; d < 4; d++) {
        if (v->ne[d] == 1) v->st[d] = 0;
        v->ne[d] = dst->ne[d];
    }
}

/* Whether the n views are f32 and stored row-major over v[0]'s extents:
 * the elementwise kernels then index them as off + i, with no division or
 * dtype dispatch per element (on PoCL ten times faster). */
static int32_t flat_f32(const view *v, int n) {
    for (int k = 0; k < n; k++) {
        int64_t want = 1;
        if (v[k].dt != HWA_F32) return 0;
        for (int d = 3; d >= 0; d--) {
            if (v[k].ne[d] != v[0].ne[d] || (v[k].ne[d] > 1 && v[k].st[d] != want)) return 0;
            want *= v[k].ne[d];
        }
    }
    return 1;
}

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/* The largest power-of-two work group up to ROW_GROUP that kernel id allows
 * on be and that n items can use. */
static size_t pow2_group(const hwa_backend *be, const hwa__gpu_state *s, hwa__gpu_kernel id, int64_t n) {
    size_t group = 1;
    const size_t allowed = s->dev->group_cap(be, id), cap = allowed < ROW_GROUP ? allowed : ROW_GROUP;
    while (group * 2 <= cap && (int64_t)group < n) group *= 2;
    return group;
}

/* Records that a library or a fast kernel (name: "opencl:clblast:sgemm"), or
 * a fast path of the portable kernels, ran node t, for hwa__gpu_kernel_name. */
static hwa_status note_ran(hwa_backend *be, hwa__gpu_state *s, const hwa_tensor *t, const char *name) {
    if (s->n_ran == s->cap_ran) {
        const int cap = s->cap_ran ? 2 * s->cap_ran : 16;
        struct hwa__gpu_ran *r = hwa__realloc_array(be->ctx, s->ran, (size_t)s->cap_ran, (size_t)cap, sizeof *r);
        if (!r) return HWA_E_NOMEM;
        s->ran = r;
        s->cap_ran = cap;
    }
    s->ran[s->n_ran].node = t;
    s->ran[s->n_ran++].name = name;
    return HWA_OK;
}

/* ---- indices, checked on the host -------------------------------------- */

/* The n i32 values of index tensor t (view v in m), in flat order, read
 * back to the host (blocking: after every earlier node) into a new array
 * *out (hwa__free). The kernels trust indices, so the host checks them
 * here, with the reference's messages. */
static hwa_status read_indices(hwa_backend *be, hwa__gpu_state *s, const view *v, mem m, int32_t **out, int64_t *n) {
    int64_t count = 1, hi = v->off, lo = v->off;
    for (int k = 0; k < 4; k++) {
        count *= v->ne[k];
        if (v->ne[k] > 1) {
            if (v->st[k] >= 0) hi += (v->ne[k] - 1) * v->st[k];
            else lo += (v->ne[k] - 1) * v->st[k];
        }
    }
    *out = NULL;
    *n = count;
    if (count == 0) return HWA_OK;
    s->host_read = true;
    const size_t span = (size_t)(hi - lo + 1);
    int32_t *raw = hwa__malloc(be->ctx, span * sizeof *raw), *vals = hwa__malloc(be->ctx, (size_t)count * sizeof *vals);
    hwa_status st = raw && vals ? HWA_OK : HWA_E_NOMEM;
    if (!st) st = s->dev->read(be, m, (size_t)lo * sizeof *raw, raw, span * sizeof *raw);
    if (st) {
        hwa__free(be->ctx, raw);
        hwa__free(be->ctx, vals);
        return st;
    }
    for (int64_t i = 0; i < count; i++) {
        int64_t r = i, off = v->off - lo;
        for (int k = 3; k >= 0; k--) {
            off += (r % v->ne[k]) * v->st[k];
            r /= v->ne[k];
        }
        vals[i] = raw[off];
    }
    hwa__free(be->ctx, raw);
    *out = vals;
    return HWA_OK;
}

/* HWA_E_RANGE unless every index of v (in m) is in [0, bound). */
static hwa_status check_indices(hwa_backend *be, hwa__gpu_state *s, const hwa_tensor *node, const char *what,
                                const view *v, mem m, int64_t bound) {
    int32_t *vals;
    int64_t n;
    hwa_status st = read_indices(be, s, v, m, &vals, &n);
    for (int64_t i = 0; i < n && !st; i++)
        if (vals[i] < 0 || vals[i] >= bound)
            st = hwa__err(be->ctx, HWA_E_RANGE, "%s: %s %d at index %lld is outside [0, %lld)", hwa__op_name(node->op),
                          what, (int)vals[i], (long long)i, (long long)bound);
    hwa__free(be->ctx, vals);
    return st;
}

/* ---- copies ------------------------------------------------------------ */

/* hwa_k_unary_flat: v[0] = op(v[1]) in the memory objects dm and sm. */
static hwa_status launch_unary_flat(hwa_backend *be, const hwa__gpu_state *s, const view *v, mem dm, mem sm,
                                    int32_t op, float p, int64_t n) {
    const arg a[] = {{sizeof(mem), &dm}, {sizeof v[0].off, &v[0].off}, {sizeof(mem), &sm},
                     {sizeof v[1].off, &v[1].off}, {sizeof op, &op}, {sizeof p, &p}, {sizeof n, &n}};
    const size_t g = (size_t)n;
    return s->dev->launch(be, HWA__GPUK_UNARY_FLAT, a, 7, 1, &g, NULL);
}

/* dst = src (same extents) through the unary kernel's CONT; with fill, dst =
 * value and src is not read. */
static hwa_status copy_into(hwa_backend *be, const hwa__gpu_state *s, const view *dst, mem dm, const view *src, mem sm,
                            bool fill, float value) {
    const int32_t op = fill ? HWA_OP_FILL : HWA_OP_CONT;
    const int64_t n = dst->ne[0] * dst->ne[1] * dst->ne[2] * dst->ne[3];
    const view pair[2] = {*dst, fill ? *dst : *src};
    if (flat_f32(pair, 2)) return launch_unary_flat(be, s, pair, dm, fill ? dm : sm, op, value, n);
    const arg a[] = {{sizeof(mem), &dm}, {sizeof(view), dst}, {sizeof(mem), fill ? &dm : &sm},
                     {sizeof(view), fill ? dst : src}, {sizeof op, &op}, {sizeof value, &value}, {sizeof n, &n}};
    const size_t g = (size_t)n;
    return s->dev->launch(be, HWA__GPUK_UNARY, a, 7, 1, &g, NULL);
}

/* v narrowed to [start, start + len) along dim. */
static view region(const view *v, int dim, int64_t start, int64_t len) {
    view r = *v;
    r.off += start * v->st[dim];
    r.ne[dim] = len;
    return r;
}

/* CONCAT, SLICE_BACK and WRITE_SLICE: copies into regions of dst (v[0]). */
static hwa_status run_copies(hwa_backend *be, const hwa__gpu_state *s, const hwa_tensor *t, view *v, mem *m) {
    const int dim = hwa__dim4(t, t->p.i[0]);
    if (dim < 0)
        return hwa__err(be->ctx, HWA_E_INVALID, "%s: dim %d is outside a %d-dim tensor", hwa__op_name(t->op), t->p.i[0],
                        t->ndim);
    hwa_status st;
    switch (t->op) {
    case HWA_OP_CONCAT: {
        const view a = region(&v[0], dim, 0, v[1].ne[dim]), b = region(&v[0], dim, v[1].ne[dim], v[2].ne[dim]);
        if ((st = copy_into(be, s, &a, m[0], &v[1], m[1], false, 0.0f))) return st;
        return copy_into(be, s, &b, m[0], &v[2], m[2], false, 0.0f);
    }
    case HWA_OP_SLICE_BACK: {
        const view r = region(&v[0], dim, t->p.l[0], v[1].ne[dim]);
        if ((st = copy_into(be, s, &v[0], m[0], NULL, NULL, true, 0.0f))) return st;
        return copy_into(be, s, &r, m[0], &v[1], m[1], false, 0.0f);
    }
    default: { /* WRITE_SLICE: dst is src0's storage; src1 goes into its region */
        const view r = region(&v[0], dim, t->p.l[0], v[2].ne[dim]);
        return copy_into(be, s, &r, m[0], &v[2], m[2], false, 0.0f);
    }
    }
}

/* ---- ops with more than one launch or host work ------------------------ */

/* ROPE: the host reads the positions, checks them and computes every
 * angle's cos and sin in double (as the CPU's kernels do) into the scratch
 * memory; the kernel rotates the pairs. */
static hwa_status run_rope(hwa_backend *be, hwa__gpu_state *s, const hwa_tensor *t, view *v, mem *m) {
    const int mode = t->p.i[0];
    if (mode != HWA_ROPE_INTERLEAVED && mode != HWA_ROPE_HALVES)
        return hwa__err(be->ctx, HWA_E_INVALID, "rope: unknown mode %d", mode);
    int32_t *pos;
    int64_t T;
    hwa_status st = read_indices(be, s, &v[2], m[2], &pos, &T);
    if (st) return st;
    const int64_t D = v[1].ne[3], half = D / 2;
    const double theta = t->p.f[0], sign = t->p.i[1] == 1 ? -1.0 : 1.0;
    float *tab = hwa__malloc(be->ctx, (size_t)(2 * T * half + 1) * sizeof *tab);
    for (int64_t i = 0; i < T && !st; i++)
        if (pos[i] < 0)
            st = hwa__err(be->ctx, HWA_E_RANGE, "rope: position %d at index %lld is negative (must be >= 0)",
                          (int)pos[i], (long long)i);
    if (!tab && !st) st = HWA_E_NOMEM;
    for (int64_t i = 0; i < T && !st; i++)
        for (int64_t k = 0; k < half; k++) {
            const double angle = sign * (double)pos[i] * pow(theta, -2.0 * (double)k / (double)D);
            tab[i * half + k] = (float)cos(angle);
            tab[T * half + i * half + k] = (float)sin(angle);
        }
    mem cs = NULL;
    const size_t bytes = (size_t)(2 * T * half) * sizeof *tab;
    if (!st) st = s->dev->scratch(be, bytes, &cs);
    if (!st && bytes) st = s->dev->write(be, cs, 0, tab, bytes);
    hwa__free(be->ctx, tab);
    hwa__free(be->ctx, pos);
    if (st) return st;
    const int32_t md = mode;
    const int64_t n = v[1].ne[0] * v[1].ne[1] * v[1].ne[2] * half;
    const arg a[] = {{sizeof(mem), &m[0]}, {sizeof(view), &v[0]}, {sizeof(mem), &m[1]},
                     {sizeof(view), &v[1]}, {sizeof(mem), &cs}, {sizeof md, &md}, {sizeof n, &n}};
    const size_t g = (size_t)n;
    return s->dev->launch(be, HWA__GPUK_ROPE, a, 7, 1, &g, NULL);
}

/* SPMM: the host reads row_ptr and col back and checks them with the CPU
 * reference's rule and messages; one item per result. */
static hwa_status run_spmm(hwa_backend *be, hwa__gpu_state *s, const view *v, const mem *m, int64_t n) {
    int32_t *rp = NULL, *col = NULL;
    int64_t nr = 0, nc = 0;
    hwa_status st = read_indices(be, s, &v[2], m[2], &rp, &nr);
    if (!st) st = read_indices(be, s, &v[3], m[3], &col, &nc);
    if (!st) st = hwa__spmm_check_rows(be->ctx, rp, col, nr - 1, v[1].ne[3], nc);
    hwa__free(be->ctx, rp);
    hwa__free(be->ctx, col);
    if (st) return st;
    const arg a[] = {{sizeof(mem), &m[0]}, {sizeof(view), &v[0]}, {sizeof(mem), &m[1]},
                     {sizeof(view), &v[1]}, {sizeof(mem), &m[2]}, {sizeof(view), &v[2]},
                     {sizeof(mem), &m[3]}, {sizeof(view), &v[3]}, {sizeof(mem), &m[4]},
                     {sizeof(view), &v[4]}};
    const size_t g = (size_t)n;
    return s->dev->launch(be, HWA__GPUK_SPMM, a, 10, 1, &g, NULL);
}

/* ATTENTION and ATTENTION_BACK (the latter: stats into the scratch memory,
 * then dq, dk or dv). v[1..] are the node's sources. */
static hwa_status run_attention(hwa_backend *be, const hwa__gpu_state *s, const hwa_tensor *t, view *v, mem *m) {
    const bool back = t->op == HWA_OP_ATTENTION_BACK;
    const view *q = &v[back ? 2 : 1], *k = &v[back ? 3 : 2], *vv = &v[back ? 4 : 3];
    const mem *qm = &m[back ? 2 : 1], *km = &m[back ? 3 : 2], *vm = &m[back ? 4 : 3];
    const int64_t B = q->ne[0], Hq = q->ne[1], Tq = q->ne[2], D = q->ne[3], Hkv = k->ne[1], Tk = k->ne[2];
    const float scale = t->p.f[0] > 0.0f ? t->p.f[0] : (float)(1.0 / sqrt((double)D));
    const int32_t causal = t->p.i[0] != 0, which = back ? t->p.i[1] : 0;
    if (Hkv <= 0 || Hq % Hkv)
        return hwa__err(be->ctx, HWA_E_SHAPE, "%s: %lld query heads are not a multiple of %lld kv heads",
                        hwa__op_name(t->op), (long long)Hq, (long long)Hkv);
    const int64_t queries = B * Hq * Tq;
    if (!back) {
        const size_t group = pow2_group(be, s, HWA__GPUK_ATTN, Tk > v[3].ne[3] ? Tk : v[3].ne[3]);
        const arg a[] = {{sizeof(mem), &m[0]}, {sizeof(view), &v[0]}, {sizeof(mem), qm},
                         {sizeof(view), q},     {sizeof(mem), km},     {sizeof(view), k},
                         {sizeof(mem), vm},     {sizeof(view), vv},    {sizeof scale, &scale},
                         {sizeof causal, &causal}};
        const size_t g = (size_t)queries * group;
        return s->dev->launch(be, HWA__GPUK_ATTN, a, 10, 1, &g, &group);
    }
    if (which < 0 || which > 2)
        return hwa__err(be->ctx, HWA_E_INVALID, "attention_back: which is %d, not 0 (dq), 1 (dk) or 2 (dv)", (int)which);
    mem stats;
    hwa_status st = s->dev->scratch(be, (size_t)queries * 2 * sizeof(float), &stats);
    if (st) return st;
    size_t group = pow2_group(be, s, HWA__GPUK_ATTN_STATS, Tk);
    const arg sa[] = {{sizeof(mem), &stats}, {sizeof(mem), &m[1]}, {sizeof(view), &v[1]},
                      {sizeof(mem), qm},     {sizeof(view), q},     {sizeof(mem), km},
                      {sizeof(view), k},     {sizeof(mem), vm},     {sizeof(view), vv},
                      {sizeof scale, &scale}, {sizeof causal, &causal}};
    size_t g = (size_t)queries * group;
    if ((st = s->dev->launch(be, HWA__GPUK_ATTN_STATS, sa, 11, 1, &g, &group))) return st;
    const int64_t width = which == 2 ? vv->ne[3] : D, items = which == 0 ? Tk : (Hq / Hkv) * Tq;
    group = pow2_group(be, s, HWA__GPUK_ATTN_BACK, items > width ? items : width);
    const arg ba[] = {{sizeof(mem), &m[0]}, {sizeof(view), &v[0]}, {sizeof(mem), &stats},
                      {sizeof(mem), &m[1]}, {sizeof(view), &v[1]}, {sizeof(mem), qm},
                      {sizeof(view), q},     {sizeof(mem), km},     {sizeof(view), k},
                      {sizeof(mem), vm},     {sizeof(view), vv},    {sizeof scale, &scale},
                      {sizeof causal, &causal}, {sizeof which, &which}};
    g = (size_t)(which == 0 ? queries : B * Hkv * Tk) * group;
    return s->dev->launch(be, HWA__GPUK_ATTN_BACK, ba, 14, 1, &g, &group);
}

/* SGD_UPDATE and ADAM_UPDATE, in place on the parameter (v[0] is its
 * storage); the constants folded on the host as the reference folds them. */
static hwa_status run_update(hwa_backend *be, const hwa__gpu_state *s, const hwa_tensor *t, view *v, mem *m) {
    const int64_t n = hwa_tensor_nelements(t);
    const size_t g = (size_t)n;
    const float *f = t->p.f;
    if (t->op == HWA_OP_SGD_UPDATE) {
        const int32_t momentum = t->p.i[0] != 0, nesterov = t->p.i[1] != 0;
        const arg a[] = {{sizeof(mem), &m[0]},    {sizeof(mem), &m[2]},         {sizeof(mem), &m[3]},
                         {sizeof(mem), &m[4]},    {8, &v[0].off},               {8, &v[2].off},
                         {8, &v[3].off},          {8, &v[4].off},               {sizeof(float), &f[0]},
                         {sizeof(float), &f[1]},  {sizeof(float), &f[2]},       {sizeof(float), &f[3]},
                         {sizeof momentum, &momentum}, {sizeof nesterov, &nesterov}, {sizeof n, &n}};
        return s->dev->launch(be, HWA__GPUK_SGD, a, 15, 1, &g, NULL);
    }
    const float lr = f[0], b1 = f[1], b2 = f[2], eps = f[3], wd = f[4], max_norm = f[5], bc1 = f[6], bc2 = f[7];
    if (!(bc1 > 0.0f) || !(bc2 > 0.0f))
        return hwa__err(be->ctx, HWA_E_INVALID, "adam_update: bias corrections %g and %g must be > 0", bc1, bc2);
    const float step = lr / bc1, decay = 1.0f - lr * wd;
    const float omb1 = (float)(1.0 - (double)b1), omb2 = (float)(1.0 - (double)b2);
    const int32_t decoupled = t->p.i[0] != 0;
    const arg a[] = {{sizeof(mem), &m[0]}, {sizeof(mem), &m[2]}, {sizeof(mem), &m[3]},
                     {sizeof(mem), &m[4]}, {8, &v[0].off},       {8, &v[2].off},
                     {8, &v[3].off},       {8, &v[4].off},       {sizeof step, &step},
                     {sizeof b1, &b1},     {sizeof b2, &b2},     {sizeof omb1, &omb1},
                     {sizeof omb2, &omb2}, {sizeof eps, &eps},   {sizeof wd, &wd},
                     {sizeof decay, &decay}, {sizeof bc2, &bc2}, {sizeof max_norm, &max_norm},
                     {sizeof decoupled, &decoupled}, {sizeof n, &n}};
    return s->dev->launch(be, HWA__GPUK_ADAM, a, 20, 1, &g, NULL);
}

/* MATMUL by the tiled portable kernel. */
static hwa_status run_matmul(hwa_backend *be, const hwa__gpu_state *s, const hwa_tensor *t, view *v, mem *m) {
    const size_t allowed = s->dev->group_cap(be, HWA__GPUK_MATMUL);
    if (allowed < TILE * TILE)
        return hwa__err(be->ctx, HWA_E_UNSUPPORTED, "%s: the matmul kernel needs work groups of %d, the device "
                        "allows %zu", be->spec, TILE * TILE, allowed);
    /* A as [M, K] and B as [K, N] whatever their storage order */
    if (t->p.i[0]) {
        int64_t x = v[1].st[2];
        v[1].st[2] = v[1].st[3], v[1].st[3] = x;
    }
    if (t->p.i[1]) {
        int64_t x = v[2].st[2];
        v[2].st[2] = v[2].st[3], v[2].st[3] = x;
    }
    const int64_t K = t->p.i[0] ? v[1].ne[2] : v[1].ne[3];
    for (int d = 0; d < 2; d++)
        if (v[2].ne[d] == 1) v[2].st[d] = 0;
    const arg a[] = {{sizeof(mem), &m[0]}, {sizeof(view), &v[0]}, {sizeof(mem), &m[1]},
                     {sizeof(view), &v[1]}, {sizeof(mem), &m[2]}, {sizeof(view), &v[2]},
                     {sizeof K, &K}};
    const size_t g[3] = {round_up((size_t)v[0].ne[3], TILE), round_up((size_t)v[0].ne[2], TILE),
                         (size_t)(v[0].ne[0] * v[0].ne[1])};
    const size_t l[3] = {TILE, TILE, 1};
    return s->dev->launch(be, HWA__GPUK_MATMUL, a, 7, 3, g, l);
}

/* ---- one node ---------------------------------------------------------- */

static hwa_status run_node(hwa_backend *be, hwa__gpu_state *s, hwa_tensor *t) {
    const hwa__gpu_dev *dev = s->dev;
    const hwa_op op = t->op;
    const int nsrc = hwa__op_n_src(op);
    view v[5];
    mem m[5];
    hwa_status st = view_of(be, s, t, &v[0], &m[0]);
    for (int i = 0; i < nsrc && i < 4 && !st; i++) st = view_of(be, s, t->src[i], &v[1 + i], &m[1 + i]);
    if (st) return st;
    if (nsrc == 0) v[1] = v[0], m[1] = m[0]; /* FILL reads nothing; any valid argument */
    if (dev->fast) {
        const char *fast_name = NULL;
        if ((st = dev->fast(be, t, v, m, &fast_name))) return st;
        if (fast_name) return note_ran(be, s, t, fast_name);
    }
    const int32_t opc = (int32_t)op;
    const int64_t n = hwa_tensor_nelements(t);
    const hwa__gpu_kernel kid = kernel_of(op);
    if (op == HWA_OP_CONCAT || op == HWA_OP_SLICE_BACK || op == HWA_OP_WRITE_SLICE) return run_copies(be, s, t, v, m);
    switch (kid) {
    case HWA__GPUK_EMBED:
    case HWA__GPUK_EMBED_BACK: {
        const bool fwd = kid == HWA__GPUK_EMBED;
        const int64_t V = fwd ? v[1].ne[2] : v[0].ne[2], D = fwd ? v[1].ne[3] : v[0].ne[3];
        if ((st = check_indices(be, s, t, "id", &v[2], m[2], V))) return st;
        const int64_t count = fwd ? n : hwa_tensor_nelements(t->src[1]);
        const arg a[] = {{sizeof(mem), &m[0]}, {sizeof(view), &v[0]}, {sizeof(mem), &m[1]},
                         {sizeof(view), &v[1]}, {sizeof(mem), &m[2]}, {sizeof(view), &v[2]},
                         {sizeof count, &count}};
        const size_t g = (size_t)(fwd ? n : D);
        return dev->launch(be, kid, a, 7, 1, &g, NULL);
    }
    case HWA__GPUK_ROPE: return run_rope(be, s, t, v, m);
    case HWA__GPUK_SPMM: return run_spmm(be, s, v, m, n);
    case HWA__GPUK_CONV2D: {
        /* the direct kernel (conv.cl): one item per result element */
        const int32_t *pi = t->p.i;
        const int32_t which = op == HWA_OP_CONV2D ? 0 : op == HWA_OP_CONV2D_BACK_DATA ? 1 : 2;
        const int32_t geo[6] = {pi[0], pi[1], pi[2], pi[3], pi[6], pi[7]};
        const int64_t G = t->p.l[0];
        const arg a[] = {{sizeof(mem), &m[0]}, {sizeof(view), &v[0]}, {sizeof(mem), &m[1]},
                         {sizeof(view), &v[1]}, {sizeof(mem), &m[2]}, {sizeof(view), &v[2]},
                         {sizeof which, &which}, {sizeof geo[0], &geo[0]}, {sizeof geo[1], &geo[1]},
                         {sizeof geo[2], &geo[2]}, {sizeof geo[3], &geo[3]}, {sizeof geo[4], &geo[4]},
                         {sizeof geo[5], &geo[5]}, {sizeof G, &G}};
        const size_t g = (size_t)n;
        return dev->launch(be, kid, a, 14, 1, &g, NULL);
    }
    case HWA__GPUK_ATTN:
    case HWA__GPUK_ATTN_BACK: return run_attention(be, s, t, v, m);
    case HWA__GPUK_XENT:
    case HWA__GPUK_XENT_BACK: {
        const bool fwd = kid == HWA__GPUK_XENT;
        const view *x = &v[fwd ? 1 : 2];
        const int64_t C = x->ne[3], N = x->ne[0] * x->ne[1] * x->ne[2];
        if ((st = check_indices(be, s, t, "label", &v[fwd ? 2 : 3], m[fwd ? 2 : 3], C))) return st;
        const size_t group = pow2_group(be, s, kid, fwd ? N : C), g = fwd ? group : (size_t)N * group;
        const arg a[] = {{sizeof(mem), &m[0]}, {sizeof(view), &v[0]}, {sizeof(mem), &m[1]},
                         {sizeof(view), &v[1]}, {sizeof(mem), &m[2]}, {sizeof(view), &v[2]},
                         {sizeof(mem), &m[3]}, {sizeof(view), &v[3]}};
        return dev->launch(be, kid, a, fwd ? 6 : 8, 1, &g, &group);
    }
    case HWA__GPUK_SUM_SQ: {
        const int64_t count = hwa_tensor_nelements(t->src[0]);
        const size_t group = pow2_group(be, s, kid, count);
        const arg a[] = {{sizeof(mem), &m[0]}, {sizeof(view), &v[0]}, {sizeof(mem), &m[1]},
                         {sizeof(view), &v[1]}, {sizeof count, &count}};
        return dev->launch(be, kid, a, 5, 1, &group, &group);
    }
    case HWA__GPUK_SGD:
    case HWA__GPUK_ADAM: return run_update(be, s, t, v, m);
    case HWA__GPUK_UNARY: {
        if (op == HWA_OP_REPEAT) broadcast_to(&v[1], &v[0]);
        const float p = op == HWA_OP_FILL || op == HWA_OP_SCALE ? t->p.f[0] : 0.0f;
        if ((op == HWA_OP_CONT || op == HWA_OP_SCALE || op == HWA_OP_FILL || op == HWA_OP_RELU) && flat_f32(v, 2)) {
            if ((st = launch_unary_flat(be, s, v, m[0], m[1], opc, p, n))) return st;
            return note_ran(be, s, t, s->names[HWA__GPUK_UNARY_FLAT]);
        }
        const arg a[] = {{sizeof(mem), &m[0]}, {sizeof(view), &v[0]}, {sizeof(mem), &m[1]},
                         {sizeof(view), &v[1]}, {sizeof opc, &opc}, {sizeof p, &p}, {sizeof n, &n}};
        const size_t g = (size_t)n;
        return dev->launch(be, kid, a, 7, 1, &g, NULL);
    }
    case HWA__GPUK_BINARY: {
        broadcast_to(&v[2], &v[0]);
        if (op != HWA_OP_UNARY_BACK && flat_f32(v, 3)) {
            const arg a[] = {{sizeof(mem), &m[0]}, {sizeof v[0].off, &v[0].off}, {sizeof(mem), &m[1]},
                             {sizeof v[1].off, &v[1].off}, {sizeof(mem), &m[2]}, {sizeof v[2].off, &v[2].off},
                             {sizeof opc, &opc}, {sizeof n, &n}};
            const size_t g = (size_t)n;
            if ((st = dev->launch(be, HWA__GPUK_BINARY_FLAT, a, 8, 1, &g, NULL))) return st;
            return note_ran(be, s, t, s->names[HWA__GPUK_BINARY_FLAT]);
        }
        const int32_t act = op == HWA_OP_UNARY_BACK ? t->p.i[0] : 0;
        if (op == HWA_OP_UNARY_BACK && (act < HWA_OP_RELU || act > HWA_OP_TANH))
            return hwa__err(be->ctx, HWA_E_INVALID, "unary_back: op code %d is not an activation", (int)act);
        const arg a[] = {{sizeof(mem), &m[0]}, {sizeof(view), &v[0]}, {sizeof(mem), &m[1]},
                         {sizeof(view), &v[1]}, {sizeof(mem), &m[2]}, {sizeof(view), &v[2]},
                         {sizeof opc, &opc}, {sizeof act, &act}, {sizeof n, &n}};
        const size_t g = (size_t)n;
        return dev->launch(be, kid, a, 9, 1, &g, NULL);
    }
    case HWA__GPUK_ELTOPS: {
        /* a, b, c: MAP's x (read once); MAP_BACK's g, x; BINARY's a, b; WHERE's a, b and its condition */
        const int ia = op == HWA_OP_WHERE ? 2 : 1, ib = op == HWA_OP_WHERE ? 3 : op == HWA_OP_MAP ? 1 : 2;
        if (op == HWA_OP_BINARY) broadcast_to(&v[2], &v[0]);
        const int32_t fn = t->p.i[0];
        const float pa = t->p.f[0], pb = t->p.f[1];
        const arg a[] = {{sizeof(mem), &m[0]},  {sizeof(view), &v[0]}, {sizeof(mem), &m[ia]},
                         {sizeof(view), &v[ia]}, {sizeof(mem), &m[ib]}, {sizeof(view), &v[ib]},
                         {sizeof(mem), &m[1]},  {sizeof(view), &v[1]}, {sizeof opc, &opc},
                         {sizeof fn, &fn},      {sizeof pa, &pa},      {sizeof pb, &pb},
                         {sizeof n, &n}};
        const size_t g = (size_t)n;
        return dev->launch(be, kid, a, 13, 1, &g, NULL);
    }
    case HWA__GPUK_SUM_TO: {
        const arg a[] = {{sizeof(mem), &m[0]}, {sizeof(view), &v[0]}, {sizeof(mem), &m[1]},
                         {sizeof(view), &v[1]}, {sizeof n, &n}};
        const size_t g = (size_t)n;
        return dev->launch(be, kid, a, 5, 1, &g, NULL);
    }
    case HWA__GPUK_ROWS: {
        if (nsrc == 1) v[2] = v[1], m[2] = m[1];
        const int32_t mode = op == HWA_OP_SOFTMAX_BACK ? t->p.i[0] : 0;
        const float eps = op == HWA_OP_SOFTMAX_BACK ? 0.0f : t->p.f[0];
        const size_t group = pow2_group(be, s, kid, v[0].ne[3]);
        const arg a[] = {{sizeof(mem), &m[0]}, {sizeof(view), &v[0]}, {sizeof(mem), &m[1]},
                         {sizeof(view), &v[1]}, {sizeof(mem), &m[2]}, {sizeof(view), &v[2]},
                         {sizeof opc, &opc}, {sizeof mode, &mode}, {sizeof eps, &eps}};
        const size_t rows = (size_t)(v[0].ne[0] * v[0].ne[1] * v[0].ne[2]), g = rows * group;
        return dev->launch(be, kid, a, 9, 1, &g, &group);
    }
    case HWA__GPUK_MATMUL: return run_matmul(be, s, t, v, m);
    default:
        return hwa__err(be->ctx, HWA_E_UNSUPPORTED, "%s: %s", be->spec, hwa__gpu_why_not(s, t));
    }
}

/* Product nodes[i] with the nodes after it that it can take (fuse.h),
 * through the device's fast_fused slot; *used the nodes it ran (0: none,
 * the caller runs nodes[i] alone). */
static hwa_status run_fused(hwa_backend *be, hwa__gpu_state *s, hwa_tensor *const *nodes, int i, int n, int *used) {
    *used = 0;
    const hwa_tensor *bias = NULL;
    hwa_op act = HWA_OP_NONE;
    const int nf = hwa__mm_fusable(nodes, i, n, n, false, &bias, &act);
    if (nf == 0) return HWA_OK;
    hwa_tensor *t = nodes[i], *out = nodes[i + nf];
    view v[3], bv;
    mem m[3], bm;
    hwa_status st = view_of(be, s, out, &v[0], &m[0]);
    for (int k = 0; k < 2 && !st; k++) st = view_of(be, s, t->src[k], &v[1 + k], &m[1 + k]);
    if (!st) st = view_of(be, s, bias, &bv, &bm);
    const char *name = NULL;
    if (!st) st = s->dev->fast_fused(be, t, v, m, &bv, bm, act == HWA_OP_RELU, &name);
    if (st || !name) return st;
    if ((st = note_ran(be, s, t, name))) return st;
    for (int k = 1; k <= nf; k++)
        if ((st = note_ran(be, s, nodes[i + k], "fused into the product before it"))) return st;
    *used = 1 + nf;
    return HWA_OK;
}

hwa_status hwa__gpu_compute(hwa_backend *be, hwa__gpu_state *s, hwa_tensor *const *nodes, int n) {
    s->n_ran = 0;
    s->host_read = false;
    for (int i = 0; i < n; i++) {
        hwa_tensor *t = nodes[i];
        if (t->op == HWA_OP_NONE || hwa__op_is_view(t->op)) continue;
        if (t->op == HWA_OP_MATMUL && s->dev->fast_fused) {
            int used = 0;
            hwa_status st = run_fused(be, s, nodes, i, n, &used);
            if (st) return st;
            for (int k = 0; k < used; k++) hwa__tensor_touch(nodes[i + k]);
            if (used) {
                i += used - 1;
                continue;
            }
        }
        hwa_status st = run_node(be, s, t);
        if (st) return st;
        hwa__tensor_touch(t);
    }
    return HWA_OK;
}
