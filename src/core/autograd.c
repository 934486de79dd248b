/* The backward rules of the op table, and the pass that appends a graph's
 * backward pass. Each rule builds the gradients of a node's inputs out of
 * ordinary graph ops, so the backward pass is planned, placed and run like
 * any other part of the graph. */
#include <string.h>

#include "core/internal.h"

/* Rules build a gradient only for inputs that depend on a parameter
 * (NEED(i)): nothing else would read it. */
#define NEED(i) (node->src[(i)]->needs_grad)

static hwa_tensor *cont_if_needed(hwa_ctx *ctx, hwa_tensor *t) {
    return (t && !hwa_tensor_is_contiguous(t)) ? hwa_cont(ctx, t) : t;
}

static hwa_tensor *op_with(hwa_ctx *ctx, hwa_op op, hwa_tensor *const *srcs, int32_t i0, int32_t i1, float f0,
                           const hwa_tensor *shape_like) {
    hwa_op_params p = {0};
    p.i[0] = i0;
    p.i[1] = i1;
    p.f[0] = f0;
    return hwa__op_new(ctx, op, srcs, &p, shape_like ? shape_like->dtype : HWA_F32, shape_like ? shape_like->ndim : 0,
                       shape_like ? shape_like->shape : NULL);
}

/* Ops whose rule is never called: leaves and fills have no inputs to
 * differentiate, and the *_BACK helpers are not differentiated again. */
#define NO_BACKWARD(name)                                                                       \
    static hwa_status hwa__back_##name(hwa_ctx *ctx, hwa_tensor *node, hwa_tensor *g, hwa_tensor **grads) { \
        return hwa__err(ctx, HWA_E_UNSUPPORTED, "%s: not differentiable", hwa__op_name(node->op));   \
    }
NO_BACKWARD(NONE)
NO_BACKWARD(FILL)
NO_BACKWARD(UNARY_BACK)
NO_BACKWARD(SOFTMAX_BACK)
NO_BACKWARD(NORM_BACK)
NO_BACKWARD(RMS_NORM_BACK)
NO_BACKWARD(EMBEDDING_BACK)
NO_BACKWARD(ATTENTION_BACK)
NO_BACKWARD(SLICE_BACK)
NO_BACKWARD(CROSS_ENTROPY_BACK)
NO_BACKWARD(WRITE_SLICE)
NO_BACKWARD(SUM_SQ)
NO_BACKWARD(CACHE_WRITE)
NO_BACKWARD(SPMM)
NO_BACKWARD(QLINEAR)
NO_BACKWARD(CONV2D_BACK_DATA)
NO_BACKWARD(CONV2D_BACK_WEIGHT)
NO_BACKWARD(CACHE_ATTENTION)
NO_BACKWARD(SGD_UPDATE)
NO_BACKWARD(ADAM_UPDATE)
NO_BACKWARD(MAP_BACK)
NO_BACKWARD(GATHER_BACK)
NO_BACKWARD(POOL2D_BACK)
NO_BACKWARD(BATCHNORM_BACK)
NO_BACKWARD(BATCHNORM_TRAIN_BACK)

#define BACK(name) static hwa_status hwa__back_##name(hwa_ctx *ctx, hwa_tensor *node, hwa_tensor *g, hwa_tensor **grads)

BACK(RESHAPE) {
    grads[0] = hwa_reshape(ctx, cont_if_needed(ctx, g), node->src[0]->ndim, node->src[0]->shape);
    return HWA_OK;
}

BACK(PERMUTE) {
    int inv[HWA_MAX_DIMS] = {0, 1, 2, 3};
    for (int i = 0; i < node->ndim; i++) inv[node->p.i[i]] = i;
    grads[0] = hwa_permute(ctx, g, inv);
    return HWA_OK;
}

BACK(SLICE) {
    hwa_op_params p = {0};
    p.i[0] = node->p.i[0];
    p.l[0] = node->p.l[0];
    const hwa_tensor *a = node->src[0];
    grads[0] = hwa__op_new(ctx, HWA_OP_SLICE_BACK, (hwa_tensor *[]){g}, &p, g->dtype, a->ndim, a->shape);
    return HWA_OK;
}

BACK(CONT) {
    hwa_tensor *a = node->src[0];
    grads[0] = g->dtype == a->dtype ? g : hwa_cast(ctx, g, a->dtype);
    return HWA_OK;
}

BACK(ADD) {
    grads[0] = g;
    if (NEED(1)) grads[1] = hwa__sum_to(ctx, g, node->src[1]);
    return HWA_OK;
}

BACK(SUB) {
    grads[0] = g;
    if (NEED(1)) grads[1] = hwa__sum_to(ctx, hwa_scale(ctx, g, -1.0f), node->src[1]);
    return HWA_OK;
}

BACK(MUL) {
    if (NEED(0)) grads[0] = hwa_mul(ctx, g, node->src[1]);
    if (NEED(1)) grads[1] = hwa__sum_to(ctx, hwa_mul(ctx, g, node->src[0]), node->src[1]);
    return HWA_OK;
}

BACK(DIV) {
    /* d(a/b)/db = -(a/b)/b: reuses the forward result. */
    hwa_tensor *b = node->src[1];
    if (NEED(0)) grads[0] = hwa_div(ctx, g, b);
    if (NEED(1)) grads[1] = hwa__sum_to(ctx, hwa_scale(ctx, hwa_div(ctx, hwa_mul(ctx, g, node), b), -1.0f), b);
    return HWA_OK;
}

BACK(SCALE) {
    grads[0] = hwa_scale(ctx, g, node->p.f[0]);
    return HWA_OK;
}

BACK(MATMUL) {
    /* With A' = op(A) [M,K] and B' = op(B) [K,N]: dA' = g B'^T, dB' = A'^T g;
     * a transposed operand gets the transpose of its gradient. */
    hwa_tensor *a = node->src[0], *b = node->src[1];
    bool ta = node->p.i[0] != 0, tb = node->p.i[1] != 0;
    if (hwa_dtype_is_float(b->dtype)) {
        if (NEED(0)) {
            hwa_tensor *da = hwa_matmul_ex(ctx, g, b, false, !tb);
            grads[0] = ta ? hwa_transpose(ctx, da) : da;
        }
        if (NEED(1)) {
            /* With tb the gradient of the stored [N,K] operand is
             * (A'^T g)^T = g^T A', computed as such so that it is contiguous
             * (a transposed view would be accumulated element by element). */
            hwa_tensor *db = tb ? hwa_matmul_ex(ctx, g, a, true, ta) : hwa_matmul_ex(ctx, a, g, !ta, false);
            grads[1] = hwa__sum_to(ctx, db, b);
        }
    } else if (a->needs_grad) {
        return hwa__err(ctx, HWA_E_UNSUPPORTED, "matmul: no gradient through %s weights", hwa_dtype_name(b->dtype));
    }
    return HWA_OK;
}

static hwa_status back_unary(hwa_ctx *ctx, hwa_tensor *node, hwa_tensor *g, hwa_tensor **grads) {
    grads[0] = op_with(ctx, HWA_OP_UNARY_BACK, (hwa_tensor *[]){g, node->src[0]}, (int32_t)node->op, 0, 0.0f, NULL);
    return HWA_OK;
}
BACK(RELU) { return back_unary(ctx, node, g, grads); }
BACK(GELU) { return back_unary(ctx, node, g, grads); }
BACK(SILU) { return back_unary(ctx, node, g, grads); }
BACK(SIGMOID) { return back_unary(ctx, node, g, grads); }
BACK(TANH) { return back_unary(ctx, node, g, grads); }

BACK(SOFTMAX) {
    grads[0] = op_with(ctx, HWA_OP_SOFTMAX_BACK, (hwa_tensor *[]){g, node}, 0, 0, 0.0f, NULL);
    return HWA_OK;
}
BACK(LOG_SOFTMAX) {
    grads[0] = op_with(ctx, HWA_OP_SOFTMAX_BACK, (hwa_tensor *[]){g, node}, 1, 0, 0.0f, NULL);
    return HWA_OK;
}
BACK(NORM) {
    grads[0] = op_with(ctx, HWA_OP_NORM_BACK, (hwa_tensor *[]){g, node->src[0]}, 0, 0, node->p.f[0], NULL);
    return HWA_OK;
}
BACK(RMS_NORM) {
    grads[0] = op_with(ctx, HWA_OP_RMS_NORM_BACK, (hwa_tensor *[]){g, node->src[0]}, 0, 0, node->p.f[0], NULL);
    return HWA_OK;
}

BACK(EMBEDDING) {
    hwa_tensor *table = node->src[0];
    if (hwa_dtype_is_float(table->dtype))
        grads[0] = hwa__op_new(ctx, HWA_OP_EMBEDDING_BACK, (hwa_tensor *[]){g, node->src[1]}, NULL, g->dtype, 2,
                               table->shape);
    return HWA_OK;
}

BACK(ROPE) {
    hwa_op_params p = node->p;
    p.i[1] = !p.i[1];
    grads[0] = hwa__op_new(ctx, HWA_OP_ROPE, (hwa_tensor *[]){g, node->src[1]}, &p, g->dtype, 0, NULL);
    return HWA_OK;
}

BACK(ATTENTION) {
    for (int which = 0; which < 3; which++) {
        if (!NEED(which)) continue;
        hwa_op_params p = node->p;
        p.i[1] = which;
        grads[which] = hwa__op_new(ctx, HWA_OP_ATTENTION_BACK,
                                   (hwa_tensor *[]){g, node->src[0], node->src[1], node->src[2]}, &p, g->dtype, 0,
                                   NULL);
    }
    return HWA_OK;
}

BACK(CONV2D) {
    /* dx from g and w, dw from g and x, each with the forward's geometry
     * (node->p) and the shape of the input it is the gradient of. */
    hwa_tensor *x = node->src[0], *w = node->src[1];
    if (NEED(0))
        grads[0] = hwa__op_new(ctx, HWA_OP_CONV2D_BACK_DATA, (hwa_tensor *[]){g, w}, &node->p, g->dtype, x->ndim,
                               x->shape);
    if (NEED(1))
        grads[1] = hwa__op_new(ctx, HWA_OP_CONV2D_BACK_WEIGHT, (hwa_tensor *[]){g, x}, &node->p, g->dtype, w->ndim,
                               w->shape);
    return HWA_OK;
}

BACK(CONCAT) {
    int dim = node->p.i[0];
    int64_t na = node->src[0]->shape[dim], nb = node->src[1]->shape[dim];
    if (NEED(0)) grads[0] = hwa_slice(ctx, g, dim, 0, na);
    if (NEED(1)) grads[1] = hwa_slice(ctx, g, dim, na, nb);
    return HWA_OK;
}

BACK(REPEAT) {
    grads[0] = hwa__sum_to(ctx, g, node->src[0]);
    return HWA_OK;
}

BACK(SUM_TO) {
    grads[0] = hwa__repeat(ctx, g, node->src[0]);
    return HWA_OK;
}

BACK(CROSS_ENTROPY) {
    grads[0] = hwa__op_new(ctx, HWA_OP_CROSS_ENTROPY_BACK, (hwa_tensor *[]){g, node->src[0], node->src[1]}, NULL,
                           g->dtype, 0, NULL);
    return HWA_OK;
}

/* ---- elementwise and indexing ops for ONNX models ----------------------- */

static hwa_tensor *zeros_like(hwa_ctx *ctx, const hwa_tensor *t) {
    return hwa__fill(ctx, t->dtype, t->ndim, t->shape, 0.0f);
}

BACK(MAP) {
    grads[0] = hwa__op_new(ctx, HWA_OP_MAP_BACK, (hwa_tensor *[]){g, node->src[0]}, &node->p, g->dtype, 0, NULL);
    return HWA_OK;
}

/* pow: d/da = b a^(b-1), d/db = a^b log a (NaN for a < 0, as the real
 * logarithm); max / min: the gradient goes where the mask of the chosen
 * side says (ties to a); comparisons, logic and mod: zero. */
BACK(BINARY) {
    hwa_tensor *a = node->src[0], *b = node->src[1];
    const int fn = node->p.i[0];
    if (fn == HWA_BIN_POW) {
        if (NEED(0)) {
            const int64_t one = 1;
            hwa_tensor *bm1 = hwa_add(ctx, b, hwa__fill(ctx, b->dtype, 1, &one, -1.0f));
            grads[0] = hwa_mul(ctx, hwa_mul(ctx, g, hwa_binary(ctx, a, bm1, HWA_BIN_POW)), b);
        }
        if (NEED(1))
            grads[1] = hwa__sum_to(ctx, hwa_mul(ctx, hwa_mul(ctx, g, node), hwa_map(ctx, a, HWA_MAP_LOG, 0, 0)), b);
    } else if (fn == HWA_BIN_MAX || fn == HWA_BIN_MIN) {
        const bool max = fn == HWA_BIN_MAX;
        if (NEED(0)) grads[0] = hwa_mul(ctx, g, hwa_binary(ctx, a, b, max ? HWA_BIN_GE : HWA_BIN_LE));
        if (NEED(1)) grads[1] = hwa__sum_to(ctx, hwa_mul(ctx, g, hwa_binary(ctx, a, b, max ? HWA_BIN_LT : HWA_BIN_GT)), b);
    } else {
        /* a step function of its inputs: zero almost everywhere */
        if (NEED(0)) grads[0] = zeros_like(ctx, a);
        if (NEED(1)) grads[1] = zeros_like(ctx, b);
    }
    return HWA_OK;
}

BACK(WHERE) {
    hwa_tensor *zero = zeros_like(ctx, g);
    if (NEED(0)) grads[0] = zeros_like(ctx, node->src[0]); /* the condition: a step */
    if (NEED(1)) grads[1] = hwa_where(ctx, node->src[0], g, zero);
    if (NEED(2)) grads[2] = hwa_where(ctx, node->src[0], zero, g);
    return HWA_OK;
}

BACK(GATHER) {
    const hwa_tensor *data = node->src[0];
    if (!hwa_dtype_is_float(data->dtype)) return HWA_OK;
    hwa_op_params p = {0};
    p.i[0] = node->p.i[0];
    grads[0] = hwa__op_new(ctx, HWA_OP_GATHER_BACK, (hwa_tensor *[]){g, node->src[1]}, &p, g->dtype, data->ndim,
                           data->shape);
    return HWA_OK;
}

/* g (the reduced shape) broadcast over the mask of each group's first
 * winner. */
BACK(REDUCE_MAX) {
    hwa_tensor *a = node->src[0];
    hwa_op_params p = node->p;
    p.i[1] = 1;
    int64_t ne[4], st[4];
    hwa__shape4(node, ne, st);
    for (int k = 0; k < 4; k++) p.i[2] |= ne[k] == 1 ? 1 << k : 0;
    hwa_tensor *mask = hwa__op_new(ctx, HWA_OP_REDUCE_MAX, (hwa_tensor *[]){a}, &p, a->dtype, a->ndim, a->shape);
    grads[0] = hwa_mul(ctx, mask, g);
    return HWA_OK;
}

/* ---- vision -------------------------------------------------------------- */

BACK(POOL2D) {
    grads[0] = hwa__op_new(ctx, HWA_OP_POOL2D_BACK, (hwa_tensor *[]){g, node->src[0]}, &node->p, g->dtype, 0, NULL);
    return HWA_OK;
}

/* The per-channel sum of g [N, C, ...] as a [C] tensor like proto. */
static hwa_tensor *channel_sum(hwa_ctx *ctx, hwa_tensor *g, const hwa_tensor *proto) {
    int64_t shape[HWA_MAX_DIMS] = {1, 1, 1, 1};
    shape[1] = g->shape[1];
    hwa_tensor *s = hwa__op_new(ctx, HWA_OP_SUM_TO, (hwa_tensor *[]){g}, NULL, HWA_F32, g->ndim, shape);
    s = hwa_reshape(ctx, s, 1, &shape[1]);
    return s && s->dtype != proto->dtype ? hwa_cast(ctx, s, proto->dtype) : s;
}

/* BATCHNORM and BATCHNORM_TRAIN: dx and dscale from the op's backward
 * helper (which = 0, 1), dbias the channel sum of g. */
static hwa_status back_bn(hwa_ctx *ctx, hwa_tensor *node, hwa_tensor *g, hwa_tensor **grads, hwa_op back, int n_src) {
    if (node->op == HWA_OP_BATCHNORM && NEED(3))
        return hwa__err(ctx, HWA_E_UNSUPPORTED, "batchnorm: not differentiable in the mean and variance");
    hwa_tensor *srcs[4] = {g, node->src[0], node->src[1], n_src == 4 ? node->src[3] : NULL};
    hwa_op_params p = node->p;
    for (int which = 0; which < 2; which++) {
        if (!NEED(which)) continue;
        p.i[0] = which;
        grads[which] = hwa__op_new(ctx, back, srcs, &p, which ? node->src[1]->dtype : g->dtype, 0, NULL);
        if (!grads[which]) return ctx->last_status;
    }
    if (NEED(2)) grads[2] = channel_sum(ctx, g, node->src[2]);
    return HWA_OK;
}

BACK(BATCHNORM) { return back_bn(ctx, node, g, grads, HWA_OP_BATCHNORM_BACK, 4); }
BACK(BATCHNORM_TRAIN) { return back_bn(ctx, node, g, grads, HWA_OP_BATCHNORM_TRAIN_BACK, 3); }

BACK(DROPOUT) {
    /* The same mask: dropout of g with x's seed and ratio. */
    grads[0] = hwa__op_new(ctx, HWA_OP_DROPOUT, (hwa_tensor *[]){g, node->src[1]}, &node->p, g->dtype, 0, NULL);
    return HWA_OK;
}

hwa__back_fn hwa__op_backward(hwa_op op) {
    static const hwa__back_fn table[HWA_OP_COUNT] = {
#define HWA__OP_BACK(name, str, nsrc, diff) [HWA_OP_##name] = hwa__back_##name,
        HWA_OP_LIST(HWA__OP_BACK)
#undef HWA__OP_BACK
    };
    return (unsigned)op < HWA_OP_COUNT ? table[op] : NULL;
}

/* ---- the backward pass ------------------------------------------------- */

hwa_status hwa__graph_append(hwa_graph *g, hwa_tensor *t); /* graph.c */
hwa_status hwa__graph_add_param(hwa_graph *g, hwa_tensor *p);

static bool same_shape(const hwa_tensor *a, const hwa_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

static hwa_status accumulate(hwa_ctx *ctx, hwa_tensor *t, hwa_tensor *grad, const hwa_tensor *from) {
    if (!grad) return ctx->last_status != HWA_OK ? ctx->last_status : HWA_E_INTERNAL;
    if (!same_shape(grad, t)) {
        char a[64], b[64];
        return hwa__err(ctx, HWA_E_INTERNAL, "backward of %s: gradient %s for an input of shape %s",
                        hwa__op_name(from->op), hwa__shape_fmt(grad, a, sizeof a), hwa__shape_fmt(t, b, sizeof b));
    }
    t->bw_grad = t->bw_grad ? hwa_add(ctx, t->bw_grad, grad) : grad;
    return t->bw_grad ? HWA_OK : ctx->last_status;
}

hwa_status hwa_graph_build_backward(hwa_graph *g, hwa_tensor *loss) {
    return hwa_graph_build_backward_ex(g, loss, HWA_GRAD_ACCUMULATE);
}

hwa_status hwa_graph_build_backward_ex(hwa_graph *g, hwa_tensor *loss, hwa_grad_mode mode) {
    if (mode != HWA_GRAD_ACCUMULATE && mode != HWA_GRAD_OVERWRITE)
        return hwa__err(g ? g->ctx : NULL, HWA_E_INVALID, "build_backward: unknown gradient mode %d", (int)mode);
    if (!g || !loss) return hwa__err(g ? g->ctx : NULL, HWA_E_MISUSE, "build_backward: NULL graph or loss");
    hwa_ctx *ctx = g->ctx;
    if (g->has_backward) return hwa__err(ctx, HWA_E_MISUSE, "build_backward: the graph already has a backward pass");
    if (hwa_tensor_nelements(loss) != 1 || !hwa_dtype_is_float(loss->dtype)) {
        char s[64];
        return hwa__err(ctx, HWA_E_SHAPE, "build_backward: the loss %s must be a single float element",
                        hwa__shape_fmt(loss, s, sizeof s));
    }
    bool in_graph = false;
    for (int i = 0; i < g->n_nodes; i++) in_graph |= g->nodes[i] == loss;
    if (!in_graph) return hwa__err(ctx, HWA_E_MISUSE, "build_backward: the loss is not a node of the graph");

    /* Which tensors depend on a parameter. */
    for (int i = 0; i < g->n_leaves; i++) {
        hwa_tensor *l = g->leaves[i];
        l->needs_grad = (l->flags & HWA_TF_PARAM) != 0;
        l->bw_grad = NULL;
    }
    int n_fwd = g->n_nodes;
    for (int i = 0; i < n_fwd; i++) {
        hwa_tensor *n = g->nodes[i];
        n->bw_grad = NULL;
        n->needs_grad = false;
        for (int j = 0; j < hwa__op_n_src(n->op); j++) n->needs_grad |= n->src[j]->needs_grad;
    }
    if (!loss->needs_grad) return hwa__err(ctx, HWA_E_MISUSE, "build_backward: the loss depends on no parameter");

    int64_t ones[HWA_MAX_DIMS] = {1, 1, 1, 1};
    loss->bw_grad = hwa__fill(ctx, loss->dtype, loss->ndim, ones, 1.0f);
    if (!loss->bw_grad) return ctx->last_status;

    for (int i = n_fwd - 1; i >= 0; i--) {
        hwa_tensor *n = g->nodes[i];
        if (!n->needs_grad || !n->bw_grad) continue;
        hwa_tensor *grads[HWA_MAX_SRC] = {NULL};
        hwa_status st = hwa__op_backward(n->op)(ctx, n, n->bw_grad, grads);
        if (st) return st;
        for (int j = 0; j < hwa__op_n_src(n->op); j++) {
            hwa_tensor *s = n->src[j];
            if (!s->needs_grad) continue;
            if ((st = accumulate(ctx, s, grads[j], n))) return st;
        }
    }

    /* Each parameter's gradient is a persistent tensor; this run's share is
     * added into it in place, or (overwrite) copied into it. The copies are
     * appended from the last parameter reached to the first, each after
     * only what it needs: the backward pass then runs layer by layer from
     * the output, each layer's gradients final as soon as they are computed
     * (what lets a data-parallel step send them while the rest still runs,
     * and ends each partial gradient's lifetime early). */
    int n_leaves = g->n_leaves;
    for (int i = n_leaves - 1; i >= 0; i--) {
        hwa_tensor *p = g->leaves[i];
        if (!(p->flags & HWA_TF_PARAM) || !p->bw_grad) continue;
        if (!p->grad) {
            p->grad = hwa__tensor_alloc(ctx, p->dtype, p->ndim, p->shape);
            if (!p->grad) return HWA_E_NOMEM;
            p->grad->flags |= HWA_TF_GRAD;
            snprintf(p->grad->name, sizeof p->grad->name, "grad:%.58s", p->name);
        }
        hwa_tensor *acc = mode == HWA_GRAD_OVERWRITE
                              ? hwa__op_new(ctx, HWA_OP_CONT, (hwa_tensor *[]){p->bw_grad}, NULL, p->grad->dtype, 0, NULL)
                              : hwa_add(ctx, p->grad, p->bw_grad);
        if (!acc) return ctx->last_status;
        acc->flags |= HWA_TF_INPLACE;
        acc->view_src = p->grad;
        acc->view_offs = 0;
        hwa_status st = hwa__graph_append(g, acc);
        if (st) return st;
    }
    for (int i = 0; i < n_leaves; i++) { /* the parameters in the order they were reached */
        hwa_tensor *p = g->leaves[i];
        hwa_status st = (p->flags & HWA_TF_PARAM) && p->bw_grad ? hwa__graph_add_param(g, p) : HWA_OK;
        if (st) return st;
    }
    for (int i = 0; i < g->n_nodes; i++) g->nodes[i]->bw_grad = NULL;
    for (int i = 0; i < g->n_leaves; i++) g->leaves[i]->bw_grad = NULL;
    g->has_backward = true;
    return HWA_OK;
}
