/* The op table's names and shape rules, and the public builders.
 *
 * A builder fills a scratch node (op, inputs, parameters, requested shape),
 * runs the op's shape rule on it, and only then allocates the node: a failed
 * build leaves the context as it was, apart from the recorded message. */
#include <math.h>
#include <string.h>

#include "core/internal.h"

typedef struct op_info {
    const char *name;
    int n_src;
    bool differentiable;
} op_info;

static const op_info op_table[HWA_OP_COUNT] = {
#define HWA__OP_INFO(name, str, nsrc, diff) [HWA_OP_##name] = {str, nsrc, diff},
    HWA_OP_LIST(HWA__OP_INFO)
#undef HWA__OP_INFO
};

typedef hwa_status (*infer_fn)(hwa_ctx *ctx, hwa_tensor *dst);
static const infer_fn infer_table[HWA_OP_COUNT] = {
#define HWA__OP_INFER(name, str, nsrc, diff) [HWA_OP_##name] = hwa__infer_##name,
    HWA_OP_LIST(HWA__OP_INFER)
#undef HWA__OP_INFER
};

const char *hwa__op_name(hwa_op op) { return (unsigned)op < HWA_OP_COUNT ? op_table[op].name : "?"; }
int hwa__op_n_src(hwa_op op) { return (unsigned)op < HWA_OP_COUNT ? op_table[op].n_src : 0; }
bool hwa__op_is_view(hwa_op op) { return op == HWA_OP_RESHAPE || op == HWA_OP_PERMUTE || op == HWA_OP_SLICE; }

/* ---- helpers for shape rules ------------------------------------------- */

#define SHAPE(t) hwa__shape_fmt((t), (char[96]){0}, 96)

static const char *const src_names[HWA_MAX_SRC] = {"a", "b", "c", "d"};

static hwa_status need_float(hwa_ctx *ctx, const hwa_tensor *dst, int i) {
    const hwa_tensor *t = dst->src[i];
    if (hwa_dtype_is_float(t->dtype)) return HWA_OK;
    return hwa__err(ctx, HWA_E_DTYPE, "%s: input %s %s has dtype %s; a float dtype (f32, f16, bf16) is required",
                    hwa__op_name(dst->op), src_names[i], SHAPE(t), hwa_dtype_name(t->dtype));
}

static hwa_status need_i32(hwa_ctx *ctx, const hwa_tensor *dst, int i, const char *what) {
    const hwa_tensor *t = dst->src[i];
    if (t->dtype == HWA_I32) return HWA_OK;
    return hwa__err(ctx, HWA_E_DTYPE, "%s: %s %s has dtype %s; i32 is required", hwa__op_name(dst->op), what,
                    SHAPE(t), hwa_dtype_name(t->dtype));
}

static bool same_shape(const hwa_tensor *a, const hwa_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

static void copy_shape(hwa_tensor *dst, const hwa_tensor *src) {
    dst->ndim = src->ndim;
    memcpy(dst->shape, src->shape, sizeof dst->shape);
}

/* b broadcasts to a: aligned at the last dimension, b's extents equal or 1. */
static bool broadcasts_to(const hwa_tensor *b, const hwa_tensor *a) {
    if (b->ndim > a->ndim) return false;
    for (int i = 1; i <= b->ndim; i++) {
        int64_t eb = b->shape[b->ndim - i], ea = a->shape[a->ndim - i];
        if (eb != ea && eb != 1) return false;
    }
    return true;
}

static hwa_status need_same_shape(hwa_ctx *ctx, const hwa_tensor *dst, int i, int j) {
    if (same_shape(dst->src[i], dst->src[j])) return HWA_OK;
    return hwa__err(ctx, HWA_E_SHAPE, "%s: shapes %s and %s must be equal", hwa__op_name(dst->op),
                    SHAPE(dst->src[i]), SHAPE(dst->src[j]));
}

static hwa_status same_as_src0(hwa_ctx *ctx, hwa_tensor *dst) {
    (void)ctx;
    copy_shape(dst, dst->src[0]);
    dst->dtype = dst->src[0]->dtype;
    return HWA_OK;
}

/* ---- shape rules ------------------------------------------------------- */

hwa_status hwa__infer_NONE(hwa_ctx *ctx, hwa_tensor *dst) { return HWA_OK; }

static void make_view_of(hwa_tensor *dst, const hwa_tensor *src, size_t extra_offs) {
    dst->view_src = hwa__storage(src);
    dst->view_offs = (src->view_src ? src->view_offs : 0) + extra_offs;
    dst->dtype = src->dtype;
}

hwa_status hwa__infer_RESHAPE(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *a = dst->src[0];
    if (!hwa_tensor_is_contiguous(a))
        return hwa__err(ctx, HWA_E_SHAPE, "reshape: input %s is not contiguous (use hwa_cont first)", SHAPE(a));
    if (hwa_tensor_nelements(dst) != hwa_tensor_nelements(a))
        return hwa__err(ctx, HWA_E_SHAPE, "reshape: %s has %lld elements, %s has %lld", SHAPE(a),
                        (long long)hwa_tensor_nelements(a), SHAPE(dst), (long long)hwa_tensor_nelements(dst));
    if (hwa_dtype_is_quantized(a->dtype) && dst->shape[dst->ndim - 1] % hwa_dtype_block_size(a->dtype))
        return hwa__err(ctx, HWA_E_SHAPE, "reshape: last extent of %s splits %s blocks", SHAPE(dst),
                        hwa_dtype_name(a->dtype));
    make_view_of(dst, a, 0);
    hwa__set_contiguous_strides(dst);
    return HWA_OK;
}

hwa_status hwa__infer_PERMUTE(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *a = dst->src[0];
    if (hwa_dtype_is_quantized(a->dtype))
        return hwa__err(ctx, HWA_E_DTYPE, "permute: %s tensors cannot be permuted", hwa_dtype_name(a->dtype));
    bool seen[HWA_MAX_DIMS] = {false};
    for (int i = 0; i < a->ndim; i++) {
        int p = dst->p.i[i];
        if (p < 0 || p >= a->ndim || seen[p])
            return hwa__err(ctx, HWA_E_INVALID, "permute: axes are not a permutation of 0..%d for %s", a->ndim - 1,
                            SHAPE(a));
        seen[p] = true;
    }
    dst->ndim = a->ndim;
    for (int i = 0; i < HWA_MAX_DIMS; i++) {
        dst->shape[i] = i < a->ndim ? a->shape[dst->p.i[i]] : 1;
        dst->stride[i] = i < a->ndim ? a->stride[dst->p.i[i]] : 1;
    }
    make_view_of(dst, a, 0);
    return HWA_OK;
}

hwa_status hwa__infer_SLICE(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *a = dst->src[0];
    int dim = dst->p.i[0];
    int64_t start = dst->p.l[0], len = dst->p.l[1];
    if (dim < 0 || dim >= a->ndim)
        return hwa__err(ctx, HWA_E_RANGE, "slice: dimension %d out of range for %s", dim, SHAPE(a));
    if (hwa_dtype_is_quantized(a->dtype))
        return hwa__err(ctx, HWA_E_DTYPE, "slice: %s tensors cannot be sliced", hwa_dtype_name(a->dtype));
    int64_t end;
    if (start < 0 || len < 1 || !hwa__add_i64(start, len, &end) || end > a->shape[dim])
        return hwa__err(ctx, HWA_E_RANGE, "slice: elements [%lld, %lld+%lld) of dimension %d are outside %s",
                        (long long)start, (long long)start, (long long)len, dim, SHAPE(a));
    copy_shape(dst, a);
    dst->shape[dim] = len;
    memcpy(dst->stride, a->stride, sizeof dst->stride);
    make_view_of(dst, a, (size_t)(start * a->stride[dim]) * hwa_dtype_block_bytes(a->dtype));
    return HWA_OK;
}

hwa_status hwa__infer_CONT(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *a = dst->src[0];
    bool ok = hwa_dtype_is_float(dst->dtype) &&
              (hwa_dtype_is_float(a->dtype) || (hwa_dtype_is_quantized(a->dtype) && hwa_tensor_is_contiguous(a)));
    if (!ok && a->dtype == dst->dtype && !hwa_dtype_is_quantized(a->dtype)) ok = true;
    /* ONNX Cast between float and i32 (hwa_cast documents the rounding) */
    if (!ok && ((dst->dtype == HWA_I32 && hwa_dtype_is_float(a->dtype)) ||
                (a->dtype == HWA_I32 && hwa_dtype_is_float(dst->dtype))))
        ok = true;
    if (!ok)
        return hwa__err(ctx, HWA_E_DTYPE, "cont: cannot convert %s %s to %s", hwa_dtype_name(a->dtype), SHAPE(a),
                        hwa_dtype_name(dst->dtype));
    copy_shape(dst, a);
    return HWA_OK;
}

hwa_status hwa__infer_FILL(hwa_ctx *ctx, hwa_tensor *dst) {
    if (!hwa_dtype_is_float(dst->dtype))
        return hwa__err(ctx, HWA_E_DTYPE, "fill: dtype %s is not float", hwa_dtype_name(dst->dtype));
    return HWA_OK;
}

static hwa_status infer_binary(hwa_ctx *ctx, hwa_tensor *dst) {
    hwa_status st;
    if ((st = need_float(ctx, dst, 0)) || (st = need_float(ctx, dst, 1))) return st;
    if (!broadcasts_to(dst->src[1], dst->src[0]))
        return hwa__err(ctx, HWA_E_SHAPE,
                        "%s: shapes %s and %s do not match (b's extents must equal a's or be 1, aligned at the end)",
                        hwa__op_name(dst->op), SHAPE(dst->src[0]), SHAPE(dst->src[1]));
    return same_as_src0(ctx, dst);
}
hwa_status hwa__infer_ADD(hwa_ctx *ctx, hwa_tensor *dst) { return infer_binary(ctx, dst); }
hwa_status hwa__infer_SUB(hwa_ctx *ctx, hwa_tensor *dst) { return infer_binary(ctx, dst); }
hwa_status hwa__infer_MUL(hwa_ctx *ctx, hwa_tensor *dst) { return infer_binary(ctx, dst); }
hwa_status hwa__infer_DIV(hwa_ctx *ctx, hwa_tensor *dst) { return infer_binary(ctx, dst); }

static hwa_status infer_unary(hwa_ctx *ctx, hwa_tensor *dst) {
    hwa_status st = need_float(ctx, dst, 0);
    return st ? st : same_as_src0(ctx, dst);
}
hwa_status hwa__infer_SCALE(hwa_ctx *ctx, hwa_tensor *dst) { return infer_unary(ctx, dst); }
hwa_status hwa__infer_RELU(hwa_ctx *ctx, hwa_tensor *dst) { return infer_unary(ctx, dst); }
hwa_status hwa__infer_GELU(hwa_ctx *ctx, hwa_tensor *dst) { return infer_unary(ctx, dst); }
hwa_status hwa__infer_SILU(hwa_ctx *ctx, hwa_tensor *dst) { return infer_unary(ctx, dst); }
hwa_status hwa__infer_SIGMOID(hwa_ctx *ctx, hwa_tensor *dst) { return infer_unary(ctx, dst); }
hwa_status hwa__infer_TANH(hwa_ctx *ctx, hwa_tensor *dst) { return infer_unary(ctx, dst); }
hwa_status hwa__infer_SOFTMAX(hwa_ctx *ctx, hwa_tensor *dst) { return infer_unary(ctx, dst); }
hwa_status hwa__infer_LOG_SOFTMAX(hwa_ctx *ctx, hwa_tensor *dst) { return infer_unary(ctx, dst); }

static hwa_status infer_eps(hwa_ctx *ctx, hwa_tensor *dst) {
    if (!(dst->p.f[0] >= 0.0f))
        return hwa__err(ctx, HWA_E_INVALID, "%s: eps %g must be >= 0", hwa__op_name(dst->op), dst->p.f[0]);
    return infer_unary(ctx, dst);
}
hwa_status hwa__infer_NORM(hwa_ctx *ctx, hwa_tensor *dst) { return infer_eps(ctx, dst); }
hwa_status hwa__infer_RMS_NORM(hwa_ctx *ctx, hwa_tensor *dst) { return infer_eps(ctx, dst); }

/* Backward helpers taking (g, x-like): both float, same shape; result like g. */
static hwa_status infer_back_pair(hwa_ctx *ctx, hwa_tensor *dst) {
    hwa_status st;
    if ((st = need_float(ctx, dst, 0)) || (st = need_float(ctx, dst, 1)) || (st = need_same_shape(ctx, dst, 0, 1)))
        return st;
    return same_as_src0(ctx, dst);
}
hwa_status hwa__infer_UNARY_BACK(hwa_ctx *ctx, hwa_tensor *dst) { return infer_back_pair(ctx, dst); }
hwa_status hwa__infer_SOFTMAX_BACK(hwa_ctx *ctx, hwa_tensor *dst) { return infer_back_pair(ctx, dst); }
hwa_status hwa__infer_NORM_BACK(hwa_ctx *ctx, hwa_tensor *dst) { return infer_back_pair(ctx, dst); }
hwa_status hwa__infer_RMS_NORM_BACK(hwa_ctx *ctx, hwa_tensor *dst) { return infer_back_pair(ctx, dst); }

hwa_status hwa__infer_MATMUL(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *a = dst->src[0], *b = dst->src[1];
    bool ta = dst->p.i[0] != 0, tb = dst->p.i[1] != 0;
    hwa_status st = need_float(ctx, dst, 0);
    if (st) return st;
    if (hwa_dtype_is_quantized(b->dtype)) {
        if (!tb || !hwa_tensor_is_contiguous(b))
            return hwa__err(ctx, HWA_E_UNSUPPORTED,
                            "matmul: %s weights %s must be contiguous and used transposed ([N, K] rows)",
                            hwa_dtype_name(b->dtype), SHAPE(b));
    } else if ((st = need_float(ctx, dst, 1))) {
        return st;
    }
    if (a->ndim < 2 || b->ndim < 2)
        return hwa__err(ctx, HWA_E_SHAPE, "matmul: shapes %s and %s need at least 2 dimensions each", SHAPE(a),
                        SHAPE(b));
    int64_t m = a->shape[a->ndim - (ta ? 1 : 2)], k = a->shape[a->ndim - (ta ? 2 : 1)];
    int64_t kb = b->shape[b->ndim - (tb ? 1 : 2)], n = b->shape[b->ndim - (tb ? 2 : 1)];
    if (k != kb)
        return hwa__err(ctx, HWA_E_SHAPE, "matmul: shapes %s%s and %s%s do not match (inner dimensions %lld and %lld)",
                        SHAPE(a), ta ? "^T" : "", SHAPE(b), tb ? "^T" : "", (long long)k, (long long)kb);
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    dst->ndim = nd;
    for (int i = 3; i <= nd; i++) { /* batch dimensions, counted from the end */
        int64_t ea = a->ndim >= i ? a->shape[a->ndim - i] : 1;
        int64_t eb = b->ndim >= i ? b->shape[b->ndim - i] : 1;
        if (eb != ea && eb != 1)
            return hwa__err(ctx, HWA_E_SHAPE,
                            "matmul: batch dimensions of %s and %s do not match (b's must equal a's or be 1)",
                            SHAPE(a), SHAPE(b));
        dst->shape[nd - i] = ea;
    }
    dst->shape[nd - 2] = m;
    dst->shape[nd - 1] = n;
    for (int d = nd; d < HWA_MAX_DIMS; d++) dst->shape[d] = 1;
    dst->dtype = a->dtype == b->dtype ? a->dtype : HWA_F32;
    return HWA_OK;
}

hwa_status hwa__infer_EMBEDDING(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *table = dst->src[0], *ids = dst->src[1];
    hwa_status st = need_i32(ctx, dst, 1, "ids");
    if (st) return st;
    if (!hwa_dtype_is_float(table->dtype) &&
        !(hwa_dtype_is_quantized(table->dtype) && hwa_tensor_is_contiguous(table)))
        return hwa__err(ctx, HWA_E_DTYPE, "embedding: table %s has dtype %s", SHAPE(table),
                        hwa_dtype_name(table->dtype));
    if (table->ndim != 2)
        return hwa__err(ctx, HWA_E_SHAPE, "embedding: table %s must be [V, D]", SHAPE(table));
    if (ids->ndim > HWA_MAX_DIMS - 1)
        return hwa__err(ctx, HWA_E_SHAPE, "embedding: ids %s have too many dimensions", SHAPE(ids));
    dst->ndim = ids->ndim + 1;
    for (int d = 0; d < HWA_MAX_DIMS; d++) dst->shape[d] = d < ids->ndim ? ids->shape[d] : 1;
    dst->shape[ids->ndim] = table->shape[1];
    dst->dtype = hwa_dtype_is_float(table->dtype) ? table->dtype : HWA_F32;
    return HWA_OK;
}

hwa_status hwa__infer_EMBEDDING_BACK(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *g = dst->src[0], *ids = dst->src[1];
    hwa_status st;
    if ((st = need_float(ctx, dst, 0)) || (st = need_i32(ctx, dst, 1, "ids"))) return st;
    if (dst->ndim != 2 || g->ndim != ids->ndim + 1 || g->shape[g->ndim - 1] != dst->shape[1])
        return hwa__err(ctx, HWA_E_SHAPE, "embedding_back: gradient %s, ids %s and table %s do not fit", SHAPE(g),
                        SHAPE(ids), SHAPE(dst));
    dst->dtype = g->dtype;
    return HWA_OK;
}

hwa_status hwa__infer_ROPE(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *x = dst->src[0], *pos = dst->src[1];
    hwa_status st;
    if ((st = need_float(ctx, dst, 0)) || (st = need_i32(ctx, dst, 1, "positions"))) return st;
    if (x->ndim < 3 || x->shape[x->ndim - 1] % 2)
        return hwa__err(ctx, HWA_E_SHAPE, "rope: input %s must be [..., T, H, D] with D even", SHAPE(x));
    if (pos->ndim != 1 || pos->shape[0] != x->shape[x->ndim - 3])
        return hwa__err(ctx, HWA_E_SHAPE, "rope: positions %s must be [T] for input %s", SHAPE(pos), SHAPE(x));
    if (dst->p.i[0] != HWA_ROPE_INTERLEAVED && dst->p.i[0] != HWA_ROPE_HALVES)
        return hwa__err(ctx, HWA_E_INVALID, "rope: unknown mode %d", dst->p.i[0]);
    if (!(dst->p.f[0] > 0.0f))
        return hwa__err(ctx, HWA_E_INVALID, "rope: theta %g must be > 0", dst->p.f[0]);
    return same_as_src0(ctx, dst);
}

static hwa_status check_attention(hwa_ctx *ctx, const char *op, const hwa_tensor *q, const hwa_tensor *k,
                                  const hwa_tensor *v, bool causal) {
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4)
        return hwa__err(ctx, HWA_E_SHAPE, "%s: q %s, k %s, v %s must be 4-D [B, H, T, D]", op, SHAPE(q), SHAPE(k),
                        SHAPE(v));
    if (q->shape[0] != k->shape[0] || k->shape[0] != v->shape[0] || k->shape[1] != v->shape[1] ||
        k->shape[2] != v->shape[2] || q->shape[3] != k->shape[3] || q->shape[1] % k->shape[1] != 0)
        return hwa__err(ctx, HWA_E_SHAPE,
                        "%s: q %s, k %s, v %s do not fit (batch, kv heads and key lengths must agree, q and k "
                        "share D, and query heads must be a multiple of kv heads)",
                        op, SHAPE(q), SHAPE(k), SHAPE(v));
    if (causal && q->shape[2] > k->shape[2])
        return hwa__err(ctx, HWA_E_SHAPE, "%s: causal with %lld queries but only %lld keys (%s, %s)", op,
                        (long long)q->shape[2], (long long)k->shape[2], SHAPE(q), SHAPE(k));
    return HWA_OK;
}

/* Attention's result: [B, Hq, Tq, Dv] of q [B, Hq, Tq, D] and v [., ., ., Dv]. */
static hwa_status attention_result(hwa_tensor *dst, const hwa_tensor *q, const hwa_tensor *v) {
    dst->ndim = 4;
    dst->shape[0] = q->shape[0];
    dst->shape[1] = q->shape[1];
    dst->shape[2] = q->shape[2];
    dst->shape[3] = v->shape[3];
    dst->dtype = q->dtype;
    return HWA_OK;
}

hwa_status hwa__infer_ATTENTION(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *q = dst->src[0], *k = dst->src[1], *v = dst->src[2];
    hwa_status st;
    for (int i = 0; i < 3; i++)
        if ((st = need_float(ctx, dst, i))) return st;
    if ((st = check_attention(ctx, "attention", q, k, v, dst->p.i[0] != 0))) return st;
    return attention_result(dst, q, v);
}

hwa_status hwa__infer_ATTENTION_BACK(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *g = dst->src[0], *q = dst->src[1], *k = dst->src[2], *v = dst->src[3];
    hwa_status st;
    for (int i = 0; i < 4; i++)
        if ((st = need_float(ctx, dst, i))) return st;
    if ((st = check_attention(ctx, "attention_back", q, k, v, dst->p.i[0] != 0))) return st;
    if (g->ndim != 4 || g->shape[0] != q->shape[0] || g->shape[1] != q->shape[1] || g->shape[2] != q->shape[2] ||
        g->shape[3] != v->shape[3])
        return hwa__err(ctx, HWA_E_SHAPE, "attention_back: gradient %s does not fit q %s and v %s", SHAPE(g),
                        SHAPE(q), SHAPE(v));
    int which = dst->p.i[1];
    if (which < 0 || which > 2) return hwa__err(ctx, HWA_E_INVALID, "attention_back: which = %d", which);
    const hwa_tensor *like = which == 0 ? q : which == 1 ? k : v;
    copy_shape(dst, like);
    dst->dtype = like->dtype;
    return HWA_OK;
}

hwa_status hwa__infer_CONCAT(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *a = dst->src[0], *b = dst->src[1];
    int dim = dst->p.i[0];
    if (a->dtype != b->dtype || hwa_dtype_is_quantized(a->dtype))
        return hwa__err(ctx, HWA_E_DTYPE, "concat: dtypes %s and %s must be equal and not quantized",
                        hwa_dtype_name(a->dtype), hwa_dtype_name(b->dtype));
    if (a->ndim != b->ndim || dim < 0 || dim >= a->ndim)
        return hwa__err(ctx, HWA_E_SHAPE, "concat: shapes %s and %s along dimension %d do not fit", SHAPE(a), SHAPE(b),
                        dim);
    for (int d = 0; d < a->ndim; d++)
        if (d != dim && a->shape[d] != b->shape[d])
            return hwa__err(ctx, HWA_E_SHAPE, "concat: shapes %s and %s differ outside dimension %d", SHAPE(a),
                            SHAPE(b), dim);
    copy_shape(dst, a);
    dst->shape[dim] = a->shape[dim] + b->shape[dim];
    dst->dtype = a->dtype;
    return HWA_OK;
}

hwa_status hwa__infer_SLICE_BACK(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *g = dst->src[0];
    int dim = dst->p.i[0];
    hwa_status st = need_float(ctx, dst, 0);
    if (st) return st;
    bool ok = g->ndim == dst->ndim && dim >= 0 && dim < dst->ndim && dst->p.l[0] >= 0 &&
              dst->p.l[0] + g->shape[dim] <= dst->shape[dim];
    for (int d = 0; ok && d < g->ndim; d++)
        if (d != dim && g->shape[d] != dst->shape[d]) ok = false;
    if (!ok)
        return hwa__err(ctx, HWA_E_SHAPE, "slice_back: gradient %s does not fit into %s at offset %lld of dim %d",
                        SHAPE(g), SHAPE(dst), (long long)dst->p.l[0], dim);
    dst->dtype = g->dtype;
    return HWA_OK;
}

hwa_status hwa__infer_REPEAT(hwa_ctx *ctx, hwa_tensor *dst) {
    hwa_status st = need_float(ctx, dst, 0);
    if (st) return st;
    if (!broadcasts_to(dst->src[0], dst))
        return hwa__err(ctx, HWA_E_SHAPE, "repeat: %s does not broadcast to %s", SHAPE(dst->src[0]), SHAPE(dst));
    dst->dtype = dst->src[0]->dtype;
    return HWA_OK;
}

hwa_status hwa__infer_SUM_TO(hwa_ctx *ctx, hwa_tensor *dst) {
    hwa_status st = need_float(ctx, dst, 0);
    if (st) return st;
    if (!broadcasts_to(dst, dst->src[0]))
        return hwa__err(ctx, HWA_E_SHAPE, "sum_to: %s cannot be reduced to %s", SHAPE(dst->src[0]), SHAPE(dst));
    dst->dtype = dst->src[0]->dtype;
    return HWA_OK;
}

hwa_status hwa__infer_CROSS_ENTROPY(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *logits = dst->src[0], *labels = dst->src[1];
    hwa_status st;
    if ((st = need_float(ctx, dst, 0)) || (st = need_i32(ctx, dst, 1, "labels"))) return st;
    if (logits->ndim != 2 || labels->ndim != 1 || labels->shape[0] != logits->shape[0])
        return hwa__err(ctx, HWA_E_SHAPE, "cross_entropy: logits %s must be [N, C] and labels %s [N]", SHAPE(logits),
                        SHAPE(labels));
    dst->ndim = 1;
    for (int d = 0; d < HWA_MAX_DIMS; d++) dst->shape[d] = 1;
    dst->dtype = logits->dtype;
    return HWA_OK;
}

hwa_status hwa__infer_CROSS_ENTROPY_BACK(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *g = dst->src[0], *logits = dst->src[1], *labels = dst->src[2];
    hwa_status st;
    if ((st = need_float(ctx, dst, 0)) || (st = need_float(ctx, dst, 1)) || (st = need_i32(ctx, dst, 2, "labels")))
        return st;
    if (hwa_tensor_nelements(g) != 1 || logits->ndim != 2 || labels->ndim != 1 ||
        labels->shape[0] != logits->shape[0])
        return hwa__err(ctx, HWA_E_SHAPE, "cross_entropy_back: gradient %s, logits %s, labels %s do not fit", SHAPE(g),
                        SHAPE(logits), SHAPE(labels));
    copy_shape(dst, logits);
    dst->dtype = logits->dtype;
    return HWA_OK;
}

hwa_status hwa__infer_WRITE_SLICE(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *a = dst->src[0], *v = dst->src[1];
    int dim = dst->p.i[0];
    hwa_status st;
    if ((st = need_float(ctx, dst, 0)) || (st = need_float(ctx, dst, 1))) return st;
    if (a->op != HWA_OP_NONE || a->view_src)
        return hwa__err(ctx, HWA_E_MISUSE, "write_slice: destination %s must be a leaf tensor, not a view or result",
                        SHAPE(a));
    int64_t end;
    bool ok = a->ndim == v->ndim && dim >= 0 && dim < a->ndim && dst->p.l[0] >= 0 &&
              hwa__add_i64(dst->p.l[0], v->shape[dim < 0 || dim >= v->ndim ? 0 : dim], &end) &&
              end <= a->shape[dim];
    for (int d = 0; ok && d < a->ndim; d++)
        if (d != dim && a->shape[d] != v->shape[d]) ok = false;
    if (!ok)
        return hwa__err(ctx, HWA_E_SHAPE, "write_slice: values %s do not fit into %s at %lld along dimension %d",
                        SHAPE(v), SHAPE(a), (long long)dst->p.l[0], dim);
    return same_as_src0(ctx, dst);
}

/* at must be i32 [B, 2] for B rows of values or queries. */
static hwa_status check_cache_at(hwa_ctx *ctx, const hwa_tensor *dst, int i, int64_t rows) {
    hwa_status st = need_i32(ctx, dst, i, "at");
    if (st) return st;
    const hwa_tensor *at = dst->src[i];
    if (at->ndim != 2 || at->shape[0] != rows || at->shape[1] != 2)
        return hwa__err(ctx, HWA_E_SHAPE, "%s: at %s must be [%lld, 2] (a sequence and a position per row)",
                        hwa__op_name(dst->op), SHAPE(at), (long long)rows);
    return HWA_OK;
}

hwa_status hwa__infer_CACHE_WRITE(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *c = dst->src[0], *v = dst->src[1];
    hwa_status st;
    if ((st = need_float(ctx, dst, 0)) || (st = need_float(ctx, dst, 1))) return st;
    if (c->op != HWA_OP_NONE || c->view_src)
        return hwa__err(ctx, HWA_E_MISUSE, "cache_write: destination %s must be a leaf tensor, not a view or result",
                        SHAPE(c));
    if (c->ndim != 4 || v->ndim != 4 || v->shape[1] != c->shape[1] || v->shape[3] != c->shape[3] ||
        v->shape[2] > c->shape[2])
        return hwa__err(ctx, HWA_E_SHAPE, "cache_write: values %s do not fit a cache %s (both [., H, T, D])", SHAPE(v),
                        SHAPE(c));
    if ((st = check_cache_at(ctx, dst, 2, v->shape[0]))) return st;
    return same_as_src0(ctx, dst);
}

hwa_status hwa__infer_CACHE_ATTENTION(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *q = dst->src[0], *k = dst->src[1], *v = dst->src[2];
    hwa_status st;
    for (int i = 0; i < 3; i++)
        if ((st = need_float(ctx, dst, i))) return st;
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4 || k->shape[0] != v->shape[0] || k->shape[1] != v->shape[1] ||
        k->shape[2] != v->shape[2] || q->shape[3] != k->shape[3] || q->shape[1] % k->shape[1] != 0 ||
        q->shape[2] > k->shape[2])
        return hwa__err(ctx, HWA_E_SHAPE,
                        "cache_attention: q %s, k %s, v %s do not fit (the caches share their shape but D, q and k "
                        "share D, query heads are a multiple of kv heads, no more queries than positions)",
                        SHAPE(q), SHAPE(k), SHAPE(v));
    if ((st = check_cache_at(ctx, dst, 3, q->shape[0]))) return st;
    return attention_result(dst, q, v);
}

/* x [M, K] times the transpose of a sparse [N, K] matrix in compressed rows:
 * row_ptr i32 [N + 1], col i32 [nnz], vals f32 [nnz]. The indices' values
 * are checked by the kernels (they live on the device). */
hwa_status hwa__infer_SPMM(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *x = dst->src[0], *rp = dst->src[1], *col = dst->src[2], *val = dst->src[3];
    hwa_status st;
    if ((st = need_float(ctx, dst, 0)) || (st = need_i32(ctx, dst, 1, "row_ptr")) || (st = need_i32(ctx, dst, 2, "col")))
        return st;
    if (val->dtype != HWA_F32)
        return hwa__err(ctx, HWA_E_DTYPE, "spmm: vals %s has dtype %s; f32 is required", SHAPE(val),
                        hwa_dtype_name(val->dtype));
    if (x->ndim != 2 || rp->ndim != 1 || rp->shape[0] < 2 || col->ndim != 1 || val->ndim != 1 ||
        col->shape[0] != val->shape[0])
        return hwa__err(ctx, HWA_E_SHAPE,
                        "spmm: x %s, row_ptr %s, col %s, vals %s do not fit (x [M, K], row_ptr [N + 1] with N >= 1, "
                        "col and vals [nnz])",
                        SHAPE(x), SHAPE(rp), SHAPE(col), SHAPE(val));
    dst->ndim = 2;
    dst->shape[0] = x->shape[0];
    dst->shape[1] = rp->shape[0] - 1;
    for (int d = 2; d < HWA_MAX_DIMS; d++) dst->shape[d] = 1;
    dst->dtype = HWA_F32;
    return HWA_OK;
}

/* x f32 [M, K], w i8 [N, K], w_scale f32 [N]. */
hwa_status hwa__infer_QLINEAR(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *x = dst->src[0], *w = dst->src[1], *ws = dst->src[2];
    if (x->dtype != HWA_F32 || w->dtype != HWA_I8 || ws->dtype != HWA_F32)
        return hwa__err(ctx, HWA_E_DTYPE, "qlinear: x %s, w %s, w_scale %s have dtypes %s, %s, %s; f32, i8, f32 are "
                        "required", SHAPE(x), SHAPE(w), SHAPE(ws), hwa_dtype_name(x->dtype),
                        hwa_dtype_name(w->dtype), hwa_dtype_name(ws->dtype));
    if (x->ndim != 2 || w->ndim != 2 || ws->ndim != 1 || x->shape[1] != w->shape[1] || ws->shape[0] != w->shape[0])
        return hwa__err(ctx, HWA_E_SHAPE, "qlinear: x %s, w %s, w_scale %s do not fit (x [M, K], w [N, K], "
                        "w_scale [N])", SHAPE(x), SHAPE(w), SHAPE(ws));
    const float s = dst->p.f[0];
    if (!(s >= 0.0f) || !isfinite(s) || (s > 0.0f && !(dst->p.f[1] > 0.0f && isfinite(dst->p.f[1]))) ||
        dst->p.i[0] < 0 || dst->p.i[0] > 255)
        return hwa__err(ctx, HWA_E_INVALID, "qlinear: activation scale %g and zero point %d (a finite scale >= 0, "
                        "0 for dynamic; a zero point in [0, 255])", (double)s, dst->p.i[0]);
    dst->ndim = 2;
    dst->shape[0] = x->shape[0];
    dst->shape[1] = w->shape[0];
    for (int d = 2; d < HWA_MAX_DIMS; d++) dst->shape[d] = 1;
    dst->dtype = HWA_F32;
    return HWA_OK;
}

/* ---- 2-D convolution (CONV2D and its two backward ops) ---------------------
 * All three share the geometry of the forward op: x [N, C, H, W], w [O, C/G,
 * KH, KW], y [N, O, OH, OW]; conv_geometry checks it and gives y's shape. */
static hwa_status conv_geometry(hwa_ctx *ctx, const hwa_tensor *dst, const int64_t *x, const int64_t *w,
                                int64_t y[4]) {
    const char *op = hwa__op_name(dst->op);
    const int32_t *i = dst->p.i;
    const int64_t G = dst->p.l[0];
    if (i[0] < 1 || i[1] < 1 || i[2] < 0 || i[3] < 0 || i[4] < 0 || i[5] < 0 || i[6] < 1 || i[7] < 1 || G < 1)
        return hwa__err(ctx, HWA_E_INVALID,
                        "%s: stride %dx%d, pads %d,%d,%d,%d, dilation %dx%d, groups %lld (strides, dilations and "
                        "groups >= 1, pads >= 0)",
                        op, i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], (long long)G);
    if (x[1] % G != 0 || w[0] % G != 0)
        return hwa__err(ctx, HWA_E_SHAPE, "%s: %lld groups do not divide %lld input channels and %lld output channels",
                        op, (long long)G, (long long)x[1], (long long)w[0]);
    if (w[1] * G != x[1])
        return hwa__err(ctx, HWA_E_SHAPE,
                        "%s: x has %lld channels but w [%lld, %lld, %lld, %lld] with %lld groups expects %lld", op,
                        (long long)x[1], (long long)w[0], (long long)w[1], (long long)w[2], (long long)w[3],
                        (long long)G, (long long)(w[1] * G));
    /* extents are < 2^62 (hwa_dtype_row_bytes) and params < 2^31: no overflow */
    const int64_t eh = x[2] + i[2] + i[4] - (int64_t)i[6] * (w[2] - 1) - 1;
    const int64_t ew = x[3] + i[3] + i[5] - (int64_t)i[7] * (w[3] - 1) - 1;
    if (eh < 0 || ew < 0)
        return hwa__err(ctx, HWA_E_SHAPE,
                        "%s: a %lldx%lld kernel (dilation %dx%d) does not fit a %lldx%lld image with pads %d,%d,%d,%d "
                        "(the output would have fewer than 1 row or column)",
                        op, (long long)w[2], (long long)w[3], i[6], i[7], (long long)x[2], (long long)x[3], i[2], i[3],
                        i[4], i[5]);
    y[0] = x[0];
    y[1] = w[0];
    y[2] = eh / i[0] + 1;
    y[3] = ew / i[1] + 1;
    return HWA_OK;
}

static hwa_status need_4d(hwa_ctx *ctx, const hwa_tensor *dst, const hwa_tensor *t, const char *what) {
    if (t->ndim == 4) return HWA_OK;
    return hwa__err(ctx, HWA_E_SHAPE, "%s: %s %s must be 4-D", hwa__op_name(dst->op), what, SHAPE(t));
}

static void set_shape4(hwa_tensor *dst, const int64_t s[4]) {
    dst->ndim = 4;
    for (int d = 0; d < 4; d++) dst->shape[d] = s[d];
}

hwa_status hwa__infer_CONV2D(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *x = dst->src[0], *w = dst->src[1];
    hwa_status st;
    int64_t y[4];
    if ((st = need_float(ctx, dst, 0)) || (st = need_float(ctx, dst, 1)) || (st = need_4d(ctx, dst, x, "x [N, C, H, W]")) ||
        (st = need_4d(ctx, dst, w, "w [O, C/groups, KH, KW]")) || (st = conv_geometry(ctx, dst, x->shape, w->shape, y)))
        return st;
    set_shape4(dst, y);
    dst->dtype = x->dtype;
    return HWA_OK;
}

/* The backward ops: g must be the forward result of x and w, one of which is
 * src1 and the other dst's requested shape (x for BACK_DATA, w for
 * BACK_WEIGHT). */
static hwa_status infer_conv_back(hwa_ctx *ctx, hwa_tensor *dst, bool data) {
    const hwa_tensor *g = dst->src[0], *x = data ? dst : dst->src[1], *w = data ? dst->src[1] : dst;
    hwa_status st;
    int64_t y[4];
    if ((st = need_float(ctx, dst, 0)) || (st = need_float(ctx, dst, 1)) || (st = need_4d(ctx, dst, g, "gradient")) ||
        (st = need_4d(ctx, dst, x, "x")) || (st = need_4d(ctx, dst, w, "w")) ||
        (st = conv_geometry(ctx, dst, x->shape, w->shape, y)))
        return st;
    for (int d = 0; d < 4; d++)
        if (g->shape[d] != y[d])
            return hwa__err(ctx, HWA_E_SHAPE, "%s: gradient %s does not fit x %s and w %s", hwa__op_name(dst->op),
                            SHAPE(g), SHAPE(x), SHAPE(w));
    dst->dtype = g->dtype;
    return HWA_OK;
}
hwa_status hwa__infer_CONV2D_BACK_DATA(hwa_ctx *ctx, hwa_tensor *dst) { return infer_conv_back(ctx, dst, true); }
hwa_status hwa__infer_CONV2D_BACK_WEIGHT(hwa_ctx *ctx, hwa_tensor *dst) { return infer_conv_back(ctx, dst, false); }

hwa_status hwa__infer_SUM_SQ(hwa_ctx *ctx, hwa_tensor *dst) {
    hwa_status st = need_float(ctx, dst, 0);
    if (st) return st;
    dst->ndim = 1;
    for (int d = 0; d < HWA_MAX_DIMS; d++) dst->shape[d] = 1;
    dst->dtype = HWA_F32;
    return HWA_OK;
}

/* Optimizer updates: src0 a persistent f32 parameter, src1 its gradient,
 * src2 the [1] sum of squares of all gradients, src3 the state of
 * state_rows * n elements (n = the parameter's element count). */
static hwa_status infer_update(hwa_ctx *ctx, hwa_tensor *dst, int64_t state_rows) {
    const hwa_tensor *p = dst->src[0], *g = dst->src[1], *ss = dst->src[2], *s = dst->src[3];
    const char *name = hwa__op_name(dst->op);
    if (p->op != HWA_OP_NONE || p->view_src)
        return hwa__err(ctx, HWA_E_MISUSE, "%s: parameter %s must be a leaf tensor, not a view or result", name,
                        SHAPE(p));
    for (int i = 0; i < 4; i++)
        if (dst->src[i]->dtype != HWA_F32)
            return hwa__err(ctx, HWA_E_DTYPE, "%s: input %s %s has dtype %s; f32 is required", name, src_names[i],
                            SHAPE(dst->src[i]), hwa_dtype_name(dst->src[i]->dtype));
    hwa_status st = need_same_shape(ctx, dst, 0, 1);
    if (st) return st;
    if (!hwa_tensor_is_contiguous(p) || !hwa_tensor_is_contiguous(g))
        return hwa__err(ctx, HWA_E_SHAPE, "%s: parameter %s and gradient must be contiguous", name, SHAPE(p));
    if (hwa_tensor_nelements(ss) != 1)
        return hwa__err(ctx, HWA_E_SHAPE, "%s: the sum of squares %s must have one element", name, SHAPE(ss));
    int64_t want;
    if (state_rows > 0 && (!hwa__mul_i64(state_rows, hwa_tensor_nelements(p), &want) ||
                           hwa_tensor_nelements(s) != want || !hwa_tensor_is_contiguous(s)))
        return hwa__err(ctx, HWA_E_SHAPE, "%s: state %s must be contiguous with %lld x %lld elements for parameter %s",
                        name, SHAPE(s), (long long)state_rows, (long long)hwa_tensor_nelements(p), SHAPE(p));
    return same_as_src0(ctx, dst);
}

hwa_status hwa__infer_SGD_UPDATE(hwa_ctx *ctx, hwa_tensor *dst) {
    return infer_update(ctx, dst, dst->p.i[0] ? 1 : 0);
}

hwa_status hwa__infer_ADAM_UPDATE(hwa_ctx *ctx, hwa_tensor *dst) { return infer_update(ctx, dst, 2); }

/* ---- elementwise and indexing ops for ONNX models ----------------------- */

static hwa_status need_fn(hwa_ctx *ctx, const hwa_tensor *dst, int count) {
    if (dst->p.i[0] >= 0 && dst->p.i[0] < count) return HWA_OK;
    return hwa__err(ctx, HWA_E_INVALID, "%s: unknown function %d (0 to %d)", hwa__op_name(dst->op), dst->p.i[0],
                    count - 1);
}

hwa_status hwa__infer_MAP(hwa_ctx *ctx, hwa_tensor *dst) {
    hwa_status st = need_fn(ctx, dst, HWA_MAP_COUNT);
    return st ? st : infer_unary(ctx, dst);
}

hwa_status hwa__infer_MAP_BACK(hwa_ctx *ctx, hwa_tensor *dst) {
    hwa_status st = need_fn(ctx, dst, HWA_MAP_COUNT);
    return st ? st : infer_back_pair(ctx, dst);
}

hwa_status hwa__infer_BINARY(hwa_ctx *ctx, hwa_tensor *dst) {
    hwa_status st = need_fn(ctx, dst, HWA_BIN_COUNT);
    return st ? st : infer_binary(ctx, dst);
}

hwa_status hwa__infer_WHERE(hwa_ctx *ctx, hwa_tensor *dst) {
    hwa_status st;
    for (int i = 0; i < 3; i++)
        if ((st = need_float(ctx, dst, i))) return st;
    if ((st = need_same_shape(ctx, dst, 0, 1)) || (st = need_same_shape(ctx, dst, 1, 2))) return st;
    copy_shape(dst, dst->src[1]);
    dst->dtype = dst->src[1]->dtype;
    return HWA_OK;
}

/* GATHER's result shape from data, idx and axis into *out; false when it
 * would have more than HWA_MAX_DIMS dimensions. */
static bool gather_shape(const hwa_tensor *data, const hwa_tensor *idx, int axis, hwa_tensor *out) {
    const int nd = data->ndim - 1 + idx->ndim;
    if (nd > HWA_MAX_DIMS) return false;
    int64_t sh[HWA_MAX_DIMS] = {1, 1, 1, 1};
    int k = 0;
    for (int d = 0; d < axis; d++) sh[k++] = data->shape[d];
    for (int d = 0; d < idx->ndim; d++) sh[k++] = idx->shape[d];
    for (int d = axis + 1; d < data->ndim; d++) sh[k++] = data->shape[d];
    out->ndim = nd;
    memcpy(out->shape, sh, sizeof sh);
    return true;
}

static hwa_status check_gather(hwa_ctx *ctx, const hwa_tensor *dst, const hwa_tensor *data, hwa_tensor *out) {
    const hwa_tensor *idx = dst->src[1];
    const int axis = dst->p.i[0];
    hwa_status st = need_i32(ctx, dst, 1, "indices");
    if (st) return st;
    if (axis < 0 || axis >= data->ndim)
        return hwa__err(ctx, HWA_E_RANGE, "%s: axis %d out of range for data %s", hwa__op_name(dst->op), axis,
                        SHAPE(data));
    if (!gather_shape(data, idx, axis, out))
        return hwa__err(ctx, HWA_E_SHAPE, "%s: data %s with indices %s along axis %d gives %d dimensions (at most %d)",
                        hwa__op_name(dst->op), SHAPE(data), SHAPE(idx), axis, data->ndim - 1 + idx->ndim,
                        HWA_MAX_DIMS);
    return HWA_OK;
}

hwa_status hwa__infer_GATHER(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *data = dst->src[0];
    if (!hwa_dtype_is_float(data->dtype) && data->dtype != HWA_I32)
        return hwa__err(ctx, HWA_E_DTYPE, "gather: data %s has dtype %s; float or i32 is required", SHAPE(data),
                        hwa_dtype_name(data->dtype));
    hwa_status st = check_gather(ctx, dst, data, dst);
    if (st) return st;
    dst->dtype = data->dtype;
    return HWA_OK;
}

/* dst has the data's shape (requested by the backward rule). */
hwa_status hwa__infer_GATHER_BACK(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *g = dst->src[0];
    hwa_tensor want;
    hwa_status st = need_float(ctx, dst, 0);
    if (st || (st = check_gather(ctx, dst, dst, &want))) return st;
    if (!same_shape(&want, g))
        return hwa__err(ctx, HWA_E_SHAPE, "gather_back: gradient %s does not fit data %s and indices %s", SHAPE(g),
                        SHAPE(dst), SHAPE(dst->src[1]));
    dst->dtype = g->dtype;
    return HWA_OK;
}

hwa_status hwa__infer_REDUCE_MAX(hwa_ctx *ctx, hwa_tensor *dst) {
    hwa_status st = need_float(ctx, dst, 0);
    if (st) return st;
    if (dst->p.i[1]) return same_as_src0(ctx, dst); /* the arg-max mask */
    if (!broadcasts_to(dst, dst->src[0]))
        return hwa__err(ctx, HWA_E_SHAPE, "reduce_max: %s cannot be reduced to %s", SHAPE(dst->src[0]), SHAPE(dst));
    dst->dtype = dst->src[0]->dtype;
    return HWA_OK;
}

/* ---- node creation ----------------------------------------------------- */

hwa_tensor *hwa__op_new(hwa_ctx *ctx, hwa_op op, hwa_tensor *const *srcs, const hwa_op_params *p, hwa_dtype dtype,
                        int ndim, const int64_t *shape) {
    if (!ctx) {
        hwa__err(NULL, HWA_E_MISUSE, "%s: NULL context", hwa__op_name(op));
        return NULL;
    }
    int n = op_table[op].n_src;
    for (int i = 0; i < n; i++) {
        if (!srcs[i]) {
            /* Nested builders: keep the cause that produced the NULL. */
            if (ctx->last_status != HWA_OK && ctx->errmsg[0]) {
                char prev[sizeof ctx->errmsg];
                memcpy(prev, ctx->errmsg, sizeof prev);
                hwa__err(ctx, ctx->last_status, "%s: input %s is NULL (after: %.400s)", hwa__op_name(op),
                         src_names[i], prev);
            } else {
                hwa__err(ctx, HWA_E_MISUSE, "%s: input %s is NULL", hwa__op_name(op), src_names[i]);
            }
            return NULL;
        }
        if (srcs[i]->ctx != ctx) {
            hwa__err(ctx, HWA_E_MISUSE, "%s: input %s belongs to another context", hwa__op_name(op), src_names[i]);
            return NULL;
        }
    }
    hwa_tensor tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.ctx = ctx;
    tmp.op = op;
    tmp.dtype = dtype;
    if (p) tmp.p = *p;
    for (int i = 0; i < n; i++) tmp.src[i] = srcs[i];
    if (shape) {
        if (ndim < 1 || ndim > HWA_MAX_DIMS) {
            hwa__err(ctx, HWA_E_SHAPE, "%s: %d dimensions (1 to %d supported)", hwa__op_name(op), ndim, HWA_MAX_DIMS);
            return NULL;
        }
        tmp.ndim = ndim;
        for (int d = 0; d < HWA_MAX_DIMS; d++) {
            tmp.shape[d] = d < ndim ? shape[d] : 1;
            if (tmp.shape[d] < 1) {
                hwa__err(ctx, HWA_E_SHAPE, "%s: requested extent %lld at dimension %d", hwa__op_name(op),
                         (long long)tmp.shape[d], d);
                return NULL;
            }
        }
    } else if (n > 0) {
        copy_shape(&tmp, srcs[0]);
    }
    hwa__set_contiguous_strides(&tmp);
    if (infer_table[op](ctx, &tmp) != HWA_OK) return NULL;
    if (!hwa__op_is_view(op)) {
        size_t bytes;
        hwa__set_contiguous_strides(&tmp);
        if (hwa_dtype_row_bytes(tmp.dtype, hwa_tensor_nelements(&tmp), &bytes) != HWA_OK) {
            hwa__err(ctx, HWA_E_OVERFLOW, "%s: result %s is too large", hwa__op_name(op), SHAPE(&tmp));
            return NULL;
        }
    }
    hwa_tensor *t = hwa__tensor_alloc(ctx, tmp.dtype, tmp.ndim, tmp.shape);
    if (!t) return NULL;
    hwa_tensor *keep_next = t->ctx_next;
    *t = tmp;
    t->ctx_next = keep_next;
    t->plan_id = -1;
    return t;
}

static hwa_tensor *op1(hwa_ctx *ctx, hwa_op op, hwa_tensor *a, const hwa_op_params *p) {
    return hwa__op_new(ctx, op, (hwa_tensor *[]){a}, p, HWA_F32, 0, NULL);
}
static hwa_tensor *op2(hwa_ctx *ctx, hwa_op op, hwa_tensor *a, hwa_tensor *b, const hwa_op_params *p) {
    return hwa__op_new(ctx, op, (hwa_tensor *[]){a, b}, p, HWA_F32, 0, NULL);
}

/* ---- public builders --------------------------------------------------- */

hwa_tensor *hwa_reshape(hwa_ctx *ctx, hwa_tensor *a, int ndim, const int64_t *shape) {
    if (!shape) {
        hwa__err(ctx, HWA_E_MISUSE, "reshape: NULL shape");
        return NULL;
    }
    return hwa__op_new(ctx, HWA_OP_RESHAPE, (hwa_tensor *[]){a}, NULL, HWA_F32, ndim, shape);
}

hwa_tensor *hwa_permute(hwa_ctx *ctx, hwa_tensor *a, const int *perm) {
    hwa_op_params p = {0};
    if (!perm) {
        hwa__err(ctx, HWA_E_MISUSE, "permute: NULL axes");
        return NULL;
    }
    for (int i = 0; a && i < a->ndim; i++) p.i[i] = perm[i];
    return op1(ctx, HWA_OP_PERMUTE, a, &p);
}

hwa_tensor *hwa_transpose(hwa_ctx *ctx, hwa_tensor *a) {
    if (a && a->ndim < 2) {
        hwa__err(ctx, HWA_E_SHAPE, "transpose: %s has fewer than 2 dimensions", SHAPE(a));
        return NULL;
    }
    int perm[HWA_MAX_DIMS] = {0, 1, 2, 3};
    if (a) {
        perm[a->ndim - 2] = a->ndim - 1;
        perm[a->ndim - 1] = a->ndim - 2;
    }
    return hwa_permute(ctx, a, perm);
}

hwa_tensor *hwa_slice(hwa_ctx *ctx, hwa_tensor *a, int dim, int64_t start, int64_t len) {
    hwa_op_params p = {0};
    p.i[0] = (a && dim < 0) ? dim + a->ndim : dim;
    p.l[0] = start;
    p.l[1] = len;
    return op1(ctx, HWA_OP_SLICE, a, &p);
}

hwa_tensor *hwa_cont(hwa_ctx *ctx, hwa_tensor *a) {
    return hwa__op_new(ctx, HWA_OP_CONT, (hwa_tensor *[]){a}, NULL, a ? a->dtype : HWA_F32, 0, NULL);
}

hwa_tensor *hwa_cast(hwa_ctx *ctx, hwa_tensor *a, hwa_dtype t) {
    if (!hwa_dtype_is_float(t) && t != HWA_I32) {
        hwa__err(ctx, HWA_E_DTYPE, "cast: target dtype %s is neither float nor i32", hwa_dtype_name(t));
        return NULL;
    }
    return hwa__op_new(ctx, HWA_OP_CONT, (hwa_tensor *[]){a}, NULL, t, 0, NULL);
}

hwa_tensor *hwa_add(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b) { return op2(ctx, HWA_OP_ADD, a, b, NULL); }
hwa_tensor *hwa_sub(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b) { return op2(ctx, HWA_OP_SUB, a, b, NULL); }
hwa_tensor *hwa_mul(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b) { return op2(ctx, HWA_OP_MUL, a, b, NULL); }
hwa_tensor *hwa_div(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b) { return op2(ctx, HWA_OP_DIV, a, b, NULL); }

hwa_tensor *hwa_scale(hwa_ctx *ctx, hwa_tensor *a, float s) {
    hwa_op_params p = {0};
    p.f[0] = s;
    return op1(ctx, HWA_OP_SCALE, a, &p);
}

hwa_tensor *hwa_bias_add(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *bias) {
    if (a && bias && (bias->ndim != 1 || bias->shape[0] != a->shape[a->ndim - 1])) {
        hwa__err(ctx, HWA_E_SHAPE, "bias_add: bias %s must be [N] for input %s", SHAPE(bias), SHAPE(a));
        return NULL;
    }
    return op2(ctx, HWA_OP_ADD, a, bias, NULL);
}

hwa_tensor *hwa_matmul_ex(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b, bool trans_a, bool trans_b) {
    hwa_op_params p = {0};
    p.i[0] = trans_a;
    p.i[1] = trans_b;
    return op2(ctx, HWA_OP_MATMUL, a, b, &p);
}
hwa_tensor *hwa_matmul(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b) { return hwa_matmul_ex(ctx, a, b, false, false); }

hwa_tensor *hwa_relu(hwa_ctx *ctx, hwa_tensor *a) { return op1(ctx, HWA_OP_RELU, a, NULL); }
hwa_tensor *hwa_gelu(hwa_ctx *ctx, hwa_tensor *a) { return op1(ctx, HWA_OP_GELU, a, NULL); }
hwa_tensor *hwa_silu(hwa_ctx *ctx, hwa_tensor *a) { return op1(ctx, HWA_OP_SILU, a, NULL); }
hwa_tensor *hwa_sigmoid(hwa_ctx *ctx, hwa_tensor *a) { return op1(ctx, HWA_OP_SIGMOID, a, NULL); }
hwa_tensor *hwa_tanh(hwa_ctx *ctx, hwa_tensor *a) { return op1(ctx, HWA_OP_TANH, a, NULL); }
hwa_tensor *hwa_softmax(hwa_ctx *ctx, hwa_tensor *a) { return op1(ctx, HWA_OP_SOFTMAX, a, NULL); }
hwa_tensor *hwa_log_softmax(hwa_ctx *ctx, hwa_tensor *a) { return op1(ctx, HWA_OP_LOG_SOFTMAX, a, NULL); }

/* w (and b) must be [N] for x [..., N]. */
static bool affine_fits(hwa_ctx *ctx, const char *op, const hwa_tensor *x, const hwa_tensor *w, const char *which) {
    if (!x || !w) return true;
    if (w->ndim == 1 && w->shape[0] == x->shape[x->ndim - 1]) return true;
    hwa__err(ctx, HWA_E_SHAPE, "%s: %s %s must be [N] for input %s", op, which, SHAPE(w), SHAPE(x));
    return false;
}

hwa_tensor *hwa_layernorm(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *w, hwa_tensor *b, float eps) {
    if (!affine_fits(ctx, "layernorm", x, w, "weight") || !affine_fits(ctx, "layernorm", x, b, "bias")) return NULL;
    hwa_op_params p = {0};
    p.f[0] = eps;
    hwa_tensor *y = op1(ctx, HWA_OP_NORM, x, &p);
    if (w) y = hwa_mul(ctx, y, w);
    if (b) y = hwa_add(ctx, y, b);
    return y;
}

hwa_tensor *hwa_rmsnorm(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *w, float eps) {
    if (!affine_fits(ctx, "rmsnorm", x, w, "weight")) return NULL;
    hwa_op_params p = {0};
    p.f[0] = eps;
    hwa_tensor *y = op1(ctx, HWA_OP_RMS_NORM, x, &p);
    return w ? hwa_mul(ctx, y, w) : y;
}

hwa_tensor *hwa_embedding(hwa_ctx *ctx, hwa_tensor *table, hwa_tensor *ids) {
    return op2(ctx, HWA_OP_EMBEDDING, table, ids, NULL);
}

hwa_tensor *hwa_rope(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *pos, float theta, hwa_rope_mode mode) {
    hwa_op_params p = {0};
    p.f[0] = theta;
    p.i[0] = (int32_t)mode;
    return op2(ctx, HWA_OP_ROPE, x, pos, &p);
}

/* scale <= 0: 1/sqrt(D) of q [.., D]. */
static float attention_scale(const hwa_tensor *q, float scale) {
    return scale > 0.0f ? scale : (q ? 1.0f / sqrtf((float)q->shape[q->ndim - 1]) : 1.0f);
}

hwa_tensor *hwa_attention(hwa_ctx *ctx, hwa_tensor *q, hwa_tensor *k, hwa_tensor *v, bool causal, float scale) {
    hwa_op_params p = {0};
    p.i[0] = causal;
    p.f[0] = attention_scale(q, scale);
    return hwa__op_new(ctx, HWA_OP_ATTENTION, (hwa_tensor *[]){q, k, v}, &p, HWA_F32, 0, NULL);
}

hwa_tensor *hwa_concat(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b, int dim) {
    hwa_op_params p = {0};
    p.i[0] = (a && dim < 0) ? dim + a->ndim : dim;
    return op2(ctx, HWA_OP_CONCAT, a, b, &p);
}

hwa_tensor *hwa_write_slice(hwa_ctx *ctx, hwa_tensor *dest, int dim, int64_t start, hwa_tensor *values) {
    hwa_op_params p = {0};
    p.i[0] = (dest && dim < 0) ? dim + dest->ndim : dim;
    p.l[0] = start;
    hwa_tensor *t = op2(ctx, HWA_OP_WRITE_SLICE, dest, values, &p);
    if (t) {
        t->flags |= HWA_TF_INPLACE;
        t->view_src = dest;
        t->view_offs = 0;
    }
    return t;
}

hwa_tensor *hwa_cache_write(hwa_ctx *ctx, hwa_tensor *cache, hwa_tensor *values, hwa_tensor *at) {
    hwa_tensor *t = hwa__op_new(ctx, HWA_OP_CACHE_WRITE, (hwa_tensor *[]){cache, values, at}, NULL, HWA_F32, 0, NULL);
    if (t) {
        t->flags |= HWA_TF_INPLACE;
        t->view_src = cache;
        t->view_offs = 0;
    }
    return t;
}

hwa_tensor *hwa_spmm(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *row_ptr, hwa_tensor *col, hwa_tensor *vals) {
    return hwa__op_new(ctx, HWA_OP_SPMM, (hwa_tensor *[]){x, row_ptr, col, vals}, NULL, HWA_F32, 0, NULL);
}

hwa_tensor *hwa_qlinear(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *w, hwa_tensor *w_scale, float act_scale,
                        int act_zero) {
    hwa_op_params p = {0};
    p.f[0] = act_scale;
    p.f[1] = act_scale > 0.0f ? 1.0f / act_scale : 0.0f;
    p.i[0] = act_scale > 0.0f ? act_zero : 0;
    return hwa__op_new(ctx, HWA_OP_QLINEAR, (hwa_tensor *[]){x, w, w_scale}, &p, HWA_F32, 0, NULL);
}

static void conv2d_params_pack(const hwa_conv2d_params *c, hwa_op_params *p) {
    memset(p, 0, sizeof *p);
    p->i[0] = c && c->stride[0] ? c->stride[0] : 1;
    p->i[1] = c && c->stride[1] ? c->stride[1] : 1;
    for (int k = 0; k < 4; k++) p->i[2 + k] = c ? c->pad[k] : 0;
    p->i[6] = c && c->dilation[0] ? c->dilation[0] : 1;
    p->i[7] = c && c->dilation[1] ? c->dilation[1] : 1;
    p->l[0] = c && c->groups ? c->groups : 1;
}

/* The bias is added by a broadcast ADD of b viewed as [O, 1, 1] rather than
 * by a third input of CONV2D: the op table has a fixed arity, and ADD brings
 * its gradient (SUM_TO over N, OH, OW) and every backend's kernel with it.
 * It costs one more pass over the output; the CPU backend could fuse it into
 * oneDNN's primitive later without changing the graph's meaning. */
hwa_tensor *hwa_conv2d(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *w, hwa_tensor *b, const hwa_conv2d_params *p) {
    hwa_op_params op;
    conv2d_params_pack(p, &op);
    hwa_tensor *y = hwa__op_new(ctx, HWA_OP_CONV2D, (hwa_tensor *[]){x, w}, &op, HWA_F32, 0, NULL);
    if (!y || !b) return y;
    if (b->ctx != ctx) {
        hwa__err(ctx, HWA_E_MISUSE, "conv2d: bias belongs to another context");
        return NULL;
    }
    if (b->ndim != 1 || b->shape[0] != y->shape[1]) {
        char buf[96];
        hwa__err(ctx, HWA_E_SHAPE, "conv2d: bias %s must be [O] = [%lld]", hwa__shape_fmt(b, buf, sizeof buf),
                 (long long)y->shape[1]);
        return NULL;
    }
    const int64_t bs[3] = {b->shape[0], 1, 1};
    return hwa_add(ctx, y, hwa_reshape(ctx, hwa_tensor_is_contiguous(b) ? b : hwa_cont(ctx, b), 3, bs));
}

hwa_tensor *hwa_cache_attention(hwa_ctx *ctx, hwa_tensor *q, hwa_tensor *k_cache, hwa_tensor *v_cache, hwa_tensor *at,
                                float scale) {
    hwa_op_params p = {0};
    p.f[0] = attention_scale(q, scale);
    return hwa__op_new(ctx, HWA_OP_CACHE_ATTENTION, (hwa_tensor *[]){q, k_cache, v_cache, at}, &p, HWA_F32, 0, NULL);
}

hwa_tensor *hwa__fill(hwa_ctx *ctx, hwa_dtype t, int ndim, const int64_t *shape, float value) {
    hwa_op_params p = {0};
    p.f[0] = value;
    return hwa__op_new(ctx, HWA_OP_FILL, NULL, &p, t, ndim, shape);
}

hwa_tensor *hwa__repeat(hwa_ctx *ctx, hwa_tensor *a, const hwa_tensor *like) {
    return hwa__op_new(ctx, HWA_OP_REPEAT, (hwa_tensor *[]){a}, NULL, HWA_F32, like->ndim, like->shape);
}

hwa_tensor *hwa__sum_to(hwa_ctx *ctx, hwa_tensor *a, const hwa_tensor *like) {
    if (a && same_shape(a, like)) return a;
    return hwa__op_new(ctx, HWA_OP_SUM_TO, (hwa_tensor *[]){a}, NULL, HWA_F32, like->ndim, like->shape);
}

static hwa_tensor *reduce_all(hwa_ctx *ctx, hwa_tensor *a, bool mean) {
    if (!a) return op1(ctx, HWA_OP_SUM_TO, a, NULL); /* records the NULL input */
    int64_t ones[HWA_MAX_DIMS] = {1, 1, 1, 1};
    hwa_tensor *s = hwa__op_new(ctx, HWA_OP_SUM_TO, (hwa_tensor *[]){a}, NULL, HWA_F32, a->ndim, ones);
    if (s && a->ndim != 1) s = hwa_reshape(ctx, s, 1, ones);
    if (s && mean) s = hwa_scale(ctx, s, (float)(1.0 / (double)hwa_tensor_nelements(a)));
    return s;
}

hwa_tensor *hwa_sum(hwa_ctx *ctx, hwa_tensor *a) { return reduce_all(ctx, a, false); }
hwa_tensor *hwa_mean(hwa_ctx *ctx, hwa_tensor *a) { return reduce_all(ctx, a, true); }

static hwa_tensor *reduce_dim(hwa_ctx *ctx, hwa_tensor *a, int dim, bool mean) {
    if (!a) return op1(ctx, HWA_OP_SUM_TO, a, NULL);
    int d = dim < 0 ? dim + a->ndim : dim;
    if (d < 0 || d >= a->ndim) {
        hwa__err(ctx, HWA_E_RANGE, "%s: dimension %d out of range for %s", mean ? "mean_dim" : "sum_dim", dim,
                 SHAPE(a));
        return NULL;
    }
    int64_t shape[HWA_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[d] = 1;
    hwa_tensor *s = hwa__op_new(ctx, HWA_OP_SUM_TO, (hwa_tensor *[]){a}, NULL, HWA_F32, a->ndim, shape);
    if (s && mean) s = hwa_scale(ctx, s, (float)(1.0 / (double)a->shape[d]));
    return s;
}

hwa_tensor *hwa_sum_dim(hwa_ctx *ctx, hwa_tensor *a, int dim) { return reduce_dim(ctx, a, dim, false); }
hwa_tensor *hwa_mean_dim(hwa_ctx *ctx, hwa_tensor *a, int dim) { return reduce_dim(ctx, a, dim, true); }

hwa_tensor *hwa_cross_entropy(hwa_ctx *ctx, hwa_tensor *logits, hwa_tensor *labels) {
    return op2(ctx, HWA_OP_CROSS_ENTROPY, logits, labels, NULL);
}

hwa_tensor *hwa_mse(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b) {
    if (a && b && !same_shape(a, b)) {
        hwa__err(ctx, HWA_E_SHAPE, "mse: shapes %s and %s must be equal", SHAPE(a), SHAPE(b));
        return NULL;
    }
    hwa_tensor *d = hwa_sub(ctx, a, b);
    return hwa_mean(ctx, hwa_mul(ctx, d, d));
}

/* ---- elementwise and indexing ops for ONNX models ----------------------- */

hwa_tensor *hwa_map(hwa_ctx *ctx, hwa_tensor *x, hwa_map_fn fn, float a, float b) {
    hwa_op_params p = {0};
    p.i[0] = (int32_t)fn;
    p.f[0] = a;
    p.f[1] = b;
    return op1(ctx, HWA_OP_MAP, x, &p);
}

hwa_tensor *hwa_binary(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b, hwa_binary_fn fn) {
    hwa_op_params p = {0};
    p.i[0] = (int32_t)fn;
    return op2(ctx, HWA_OP_BINARY, a, b, &p);
}

hwa_tensor *hwa_where(hwa_ctx *ctx, hwa_tensor *cond, hwa_tensor *a, hwa_tensor *b) {
    return hwa__op_new(ctx, HWA_OP_WHERE, (hwa_tensor *[]){cond, a, b}, NULL, HWA_F32, 0, NULL);
}

hwa_tensor *hwa_gather(hwa_ctx *ctx, hwa_tensor *data, hwa_tensor *idx, int axis) {
    hwa_op_params p = {0};
    p.i[0] = (data && axis < 0) ? axis + data->ndim : axis;
    return op2(ctx, HWA_OP_GATHER, data, idx, &p);
}

/* A target shape for expand / reduce: NULL is a misuse. */
static bool shape_given(hwa_ctx *ctx, const char *op, const int64_t *shape) {
    if (shape) return true;
    hwa__err(ctx, HWA_E_MISUSE, "%s: NULL shape", op);
    return false;
}

hwa_tensor *hwa_expand(hwa_ctx *ctx, hwa_tensor *a, int ndim, const int64_t *shape) {
    if (!shape_given(ctx, "expand", shape)) return NULL;
    return hwa__op_new(ctx, HWA_OP_REPEAT, (hwa_tensor *[]){a}, NULL, HWA_F32, ndim, shape);
}

hwa_tensor *hwa_reduce_to(hwa_ctx *ctx, hwa_tensor *a, int ndim, const int64_t *shape, bool mean) {
    if (!shape_given(ctx, "reduce_to", shape)) return NULL;
    hwa_tensor *s = hwa__op_new(ctx, HWA_OP_SUM_TO, (hwa_tensor *[]){a}, NULL, HWA_F32, ndim, shape);
    if (s && mean)
        s = hwa_scale(ctx, s, (float)((double)hwa_tensor_nelements(s) / (double)hwa_tensor_nelements(a)));
    return s;
}

hwa_tensor *hwa_reduce_max_to(hwa_ctx *ctx, hwa_tensor *a, int ndim, const int64_t *shape, bool min) {
    if (!shape_given(ctx, "reduce_max_to", shape)) return NULL;
    hwa_op_params p = {0};
    p.i[0] = min;
    return hwa__op_new(ctx, HWA_OP_REDUCE_MAX, (hwa_tensor *[]){a}, &p, HWA_F32, ndim, shape);
}

/* ---- vision: pooling, batch normalization, dropout --------------------- */

/* Pool geometry along one axis from POOL2D's params (ops_list.h). */
typedef struct pool_axis {
    int64_t in, k, s, p0, p1, d, out;
} pool_axis;

static void pool_axes(const hwa_tensor *dst, pool_axis *h, pool_axis *w) {
    const hwa_op_params *p = &dst->p;
    const hwa_tensor *x = dst->src[0];
    *h = (pool_axis){x->shape[2], p->i[1], p->i[3], p->i[5], p->l[0], (int64_t)p->f[0], 0};
    *w = (pool_axis){x->shape[3], p->i[2], p->i[4], p->i[6], p->l[1], (int64_t)p->f[1], 0};
}

/* The output extent of one axis (ceil_mode as PyTorch: a last window that
 * would start in the bottom/right padding is dropped); false when the
 * window does not fit or some window has no in-image tap. */
static bool pool_axis_out(pool_axis *a, bool ceil_mode) {
    const int64_t span = a->d * (a->k - 1) + 1, padded = a->in + a->p0 + a->p1;
    if (span > padded) return false;
    int64_t o = (padded - span) / a->s + 1;
    if (ceil_mode && (padded - span) % a->s != 0) {
        o++;
        if ((o - 1) * a->s >= a->in + a->p0) o--;
    }
    a->out = o;
    for (int64_t i = 0; i < o; i++) {
        bool hit = false;
        for (int64_t t = 0; t < a->k && !hit; t++) {
            const int64_t r = i * a->s - a->p0 + t * a->d;
            hit = r >= 0 && r < a->in;
        }
        if (!hit) return false;
    }
    return true;
}

hwa_status hwa__infer_POOL2D(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *x = dst->src[0];
    const hwa_op_params *p = &dst->p;
    hwa_status st = need_float(ctx, dst, 0);
    if (st) return st;
    if (x->ndim != 4) return hwa__err(ctx, HWA_E_SHAPE, "pool2d: input %s must be [N, C, H, W]", SHAPE(x));
    if (p->i[0] != HWA_POOL_MAX && p->i[0] != HWA_POOL_AVG)
        return hwa__err(ctx, HWA_E_INVALID, "pool2d: unknown kind %d", p->i[0]);
    const int64_t lim = 1 << 20;
    const int64_t v[] = {p->i[1], p->i[2], p->i[3], p->i[4], p->i[5], p->i[6], p->l[0], p->l[1]};
    const char *const what[] = {"kernel h", "kernel w", "stride h", "stride w",
                                "pad top", "pad left", "pad bottom", "pad right"};
    for (int j = 0; j < 8; j++)
        if (v[j] < (j < 4 ? 1 : 0) || v[j] > lim)
            return hwa__err(ctx, HWA_E_INVALID, "pool2d: %s %lld out of range (%d to %lld)", what[j], (long long)v[j],
                            j < 4 ? 1 : 0, (long long)lim);
    for (int j = 0; j < 2; j++)
        if (!(p->f[j] >= 1.0f && p->f[j] <= (float)lim && p->f[j] == floorf(p->f[j])))
            return hwa__err(ctx, HWA_E_INVALID, "pool2d: dilation %g out of range (1 to %lld)", p->f[j],
                            (long long)lim);
    if (p->i[0] == HWA_POOL_AVG && (p->f[0] != 1.0f || p->f[1] != 1.0f))
        return hwa__err(ctx, HWA_E_INVALID, "pool2d: average pooling needs dilation 1 (got %g, %g)", p->f[0],
                        p->f[1]);
    pool_axis h, w;
    pool_axes(dst, &h, &w);
    const bool ceil_mode = (p->i[7] & 2) != 0;
    if (!pool_axis_out(&h, ceil_mode) || !pool_axis_out(&w, ceil_mode))
        return hwa__err(ctx, HWA_E_SHAPE,
                        "pool2d: window %dx%d (stride %d,%d, pads %d,%d,%lld,%lld, dilation %g,%g) does not fit %s "
                        "with an in-image element in every window",
                        p->i[1], p->i[2], p->i[3], p->i[4], p->i[5], p->i[6], (long long)p->l[0],
                        (long long)p->l[1], p->f[0], p->f[1], SHAPE(x));
    dst->ndim = 4;
    dst->shape[0] = x->shape[0];
    dst->shape[1] = x->shape[1];
    dst->shape[2] = h.out;
    dst->shape[3] = w.out;
    dst->dtype = x->dtype;
    return HWA_OK;
}

hwa_status hwa__infer_POOL2D_BACK(hwa_ctx *ctx, hwa_tensor *dst) {
    /* The forward rule on x gives the shape g must have. */
    hwa_tensor fwd = *dst;
    fwd.op = HWA_OP_POOL2D;
    fwd.src[0] = dst->src[1];
    hwa_status st = hwa__infer_POOL2D(ctx, &fwd);
    if (st || (st = need_float(ctx, dst, 0))) return st;
    if (!same_shape(&fwd, dst->src[0]))
        return hwa__err(ctx, HWA_E_SHAPE, "pool2d_back: gradient %s must be %s", SHAPE(dst->src[0]), SHAPE(&fwd));
    copy_shape(dst, dst->src[1]);
    dst->dtype = dst->src[0]->dtype;
    return HWA_OK;
}

/* x [N, C, ...] (2 to 4 dims) with per-channel vectors [C] at srcs 1 and 2
 * (when c_srcs > 1) and, at stats_src (when >= 0), a [2, C] tensor. */
static hwa_status infer_bn_common(hwa_ctx *ctx, hwa_tensor *dst, int xi, int c_first, int c_last, int stats_src) {
    const char *name = hwa__op_name(dst->op);
    const hwa_tensor *x = dst->src[xi];
    hwa_status st = need_float(ctx, dst, xi);
    if (st) return st;
    if (x->ndim < 2) return hwa__err(ctx, HWA_E_SHAPE, "%s: input %s must be [N, C, ...]", name, SHAPE(x));
    const int64_t C = x->shape[1];
    for (int i = c_first; i <= c_last; i++) {
        const hwa_tensor *t = dst->src[i];
        if ((st = need_float(ctx, dst, i))) return st;
        if (t->ndim != 1 || t->shape[0] != C)
            return hwa__err(ctx, HWA_E_SHAPE, "%s: input %s %s must be [%lld] for x %s", name, src_names[i], SHAPE(t),
                            (long long)C, SHAPE(x));
    }
    if (stats_src >= 0) {
        const hwa_tensor *t = dst->src[stats_src];
        if ((st = need_float(ctx, dst, stats_src))) return st;
        if (t->ndim != 2 || t->shape[0] != 2 || t->shape[1] != C)
            return hwa__err(ctx, HWA_E_SHAPE, "%s: statistics %s must be [2, %lld] for x %s", name, SHAPE(t),
                            (long long)C, SHAPE(x));
    }
    if (!(dst->p.f[0] >= 0.0f) || !isfinite(dst->p.f[0]))
        return hwa__err(ctx, HWA_E_INVALID, "%s: eps %g must be finite and >= 0", name, dst->p.f[0]);
    return HWA_OK;
}

hwa_status hwa__infer_BATCHNORM(hwa_ctx *ctx, hwa_tensor *dst) {
    hwa_status st = infer_bn_common(ctx, dst, 0, 1, 2, 3);
    return st ? st : same_as_src0(ctx, dst);
}

hwa_status hwa__infer_BATCHNORM_TRAIN(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *r = dst->src[3];
    hwa_status st = infer_bn_common(ctx, dst, 0, 1, 2, 3);
    if (st) return st;
    if (r->op != HWA_OP_NONE || r->view_src || r->dtype != HWA_F32)
        return hwa__err(ctx, HWA_E_MISUSE, "batchnorm_train: running statistics %s must be an f32 leaf tensor",
                        SHAPE(r));
    if (!(dst->p.f[1] >= 0.0f && dst->p.f[1] <= 1.0f))
        return hwa__err(ctx, HWA_E_INVALID, "batchnorm_train: momentum %g must be in [0, 1]", dst->p.f[1]);
    return same_as_src0(ctx, dst);
}

/* g like x; p.i[0] = 1 gives the per-channel [C] sum. */
static hwa_status infer_bn_back(hwa_ctx *ctx, hwa_tensor *dst, int stats_src) {
    hwa_status st = infer_bn_common(ctx, dst, 1, 2, 2, stats_src);
    if (st || (st = need_float(ctx, dst, 0)) || (st = need_same_shape(ctx, dst, 0, 1))) return st;
    if (dst->p.i[0] == 0) return same_as_src0(ctx, dst);
    if (dst->p.i[0] != 1) return hwa__err(ctx, HWA_E_INVALID, "%s: unknown output %d", hwa__op_name(dst->op), dst->p.i[0]);
    dst->ndim = 1;
    for (int d = 0; d < HWA_MAX_DIMS; d++) dst->shape[d] = d == 0 ? dst->src[1]->shape[1] : 1;
    dst->dtype = dst->src[2]->dtype;
    return HWA_OK;
}

hwa_status hwa__infer_BATCHNORM_BACK(hwa_ctx *ctx, hwa_tensor *dst) { return infer_bn_back(ctx, dst, 3); }
hwa_status hwa__infer_BATCHNORM_TRAIN_BACK(hwa_ctx *ctx, hwa_tensor *dst) { return infer_bn_back(ctx, dst, -1); }

hwa_status hwa__infer_DROPOUT(hwa_ctx *ctx, hwa_tensor *dst) {
    const hwa_tensor *seed = dst->src[1];
    hwa_status st = need_float(ctx, dst, 0);
    if (st || (st = need_i32(ctx, dst, 1, "seed"))) return st;
    if (hwa_tensor_nelements(seed) != 2)
        return hwa__err(ctx, HWA_E_SHAPE, "dropout: seed %s must have 2 elements", SHAPE(seed));
    if (!(dst->p.f[0] >= 0.0f && dst->p.f[0] < 1.0f))
        return hwa__err(ctx, HWA_E_INVALID, "dropout: ratio %g must be in [0, 1)", dst->p.f[0]);
    return same_as_src0(ctx, dst);
}

hwa_tensor *hwa_pool2d(hwa_ctx *ctx, hwa_tensor *x, const hwa_pool2d_params *pp) {
    if (!pp) {
        hwa__err(ctx, HWA_E_MISUSE, "pool2d: NULL params");
        return NULL;
    }
    hwa_op_params p = {0};
    p.i[0] = (int32_t)pp->kind;
    p.i[1] = pp->kernel[0];
    p.i[2] = pp->kernel[1];
    p.i[3] = pp->stride[0] ? pp->stride[0] : 1;
    p.i[4] = pp->stride[1] ? pp->stride[1] : 1;
    p.i[5] = pp->pad[0];
    p.i[6] = pp->pad[1];
    p.i[7] = (pp->count_include_pad ? 1 : 0) | (pp->ceil_mode ? 2 : 0);
    p.l[0] = pp->pad[2];
    p.l[1] = pp->pad[3];
    for (int j = 0; j < 2; j++) {
        const int d = pp->dilation[j] ? pp->dilation[j] : 1;
        /* Out-of-range values stay out of range for the shape rule's check. */
        p.f[j] = d < 0 || d > (1 << 20) ? -1.0f : (float)d;
    }
    return op1(ctx, HWA_OP_POOL2D, x, &p);
}

hwa_tensor *hwa_global_avg_pool(hwa_ctx *ctx, hwa_tensor *x) {
    if (x && x->ndim != 4) {
        hwa__err(ctx, HWA_E_SHAPE, "global_avg_pool: input %s must be [N, C, H, W]", SHAPE(x));
        return NULL;
    }
    if (!x) return op1(ctx, HWA_OP_SUM_TO, x, NULL); /* records the NULL input */
    const int64_t shape[4] = {x->shape[0], x->shape[1], 1, 1};
    hwa_tensor *s = hwa__op_new(ctx, HWA_OP_SUM_TO, (hwa_tensor *[]){x}, NULL, HWA_F32, 4, shape);
    return hwa_scale(ctx, s, (float)(1.0 / (double)(x->shape[2] * x->shape[3])));
}

static hwa_tensor *cont_1d(hwa_ctx *ctx, hwa_tensor *t) { return hwa_tensor_is_contiguous(t) ? t : hwa_cont(ctx, t); }

/* [C] vectors a and b as one [2, C] tensor (a first). */
static hwa_tensor *stack_rows(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b) {
    if (!a || !b || a->ndim != 1 || b->ndim != 1) {
        if (a && b)
            hwa__err(ctx, HWA_E_SHAPE, "batchnorm: mean %s and variance %s must be [C]", SHAPE(a), SHAPE(b));
        else
            hwa__err(ctx, HWA_E_MISUSE, "batchnorm: NULL mean or variance");
        return NULL;
    }
    const int64_t sa[2] = {1, a->shape[0]}, sb[2] = {1, b->shape[0]};
    return hwa_concat(ctx, hwa_reshape(ctx, cont_1d(ctx, a), 2, sa), hwa_reshape(ctx, cont_1d(ctx, b), 2, sb), 0);
}

hwa_tensor *hwa_batchnorm(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *scale, hwa_tensor *bias, hwa_tensor *mean,
                          hwa_tensor *var, float eps) {
    hwa_op_params p = {0};
    p.f[0] = eps;
    hwa_tensor *stats = stack_rows(ctx, mean, var);
    if (!stats) return NULL;
    return hwa__op_new(ctx, HWA_OP_BATCHNORM, (hwa_tensor *[]){x, scale, bias, stats}, &p, HWA_F32, 0, NULL);
}

hwa_tensor *hwa_batchnorm_train(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *scale, hwa_tensor *bias,
                                hwa_tensor *running, float eps, float momentum) {
    hwa_op_params p = {0};
    p.f[0] = eps;
    p.f[1] = momentum;
    return hwa__op_new(ctx, HWA_OP_BATCHNORM_TRAIN, (hwa_tensor *[]){x, scale, bias, running}, &p, HWA_F32, 0, NULL);
}

hwa_tensor *hwa_dropout(hwa_ctx *ctx, hwa_tensor *x, float ratio, hwa_tensor *seed) {
    hwa_op_params p = {0};
    p.f[0] = ratio;
    return op2(ctx, HWA_OP_DROPOUT, x, seed, &p);
}
