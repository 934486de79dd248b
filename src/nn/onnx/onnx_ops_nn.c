/* ONNX layer ops: Gemm, MatMul (numpy's rules: 1-D operands, broadcast
 * batch dims), Softmax and LogSoftmax on any axis, LayerNormalization,
 * the reductions, and the vision ops (Conv, MaxPool, AveragePool,
 * GlobalAveragePool, GlobalMaxPool, BatchNormalization in inference).
 * 1-D convolutions and pools run as 2-D ones of height 1. */
#include <math.h>
#include <string.h>

#include "nn/onnx/onnx_ops_internal.h"

/* A float operand's tensor (integers at run time are refused). */
static hwa_status float_in(hwa__onnx_op *o, int k, hwa_tensor **t) {
    if (k >= o->n_in || !o->in[k]) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "input %d is missing", k);
    if (!hwa__onnx_is_float(o->in[k]->type))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "input %d is %s (float types only)", k,
                                  hwa_onnx_type_name(o->in[k]->type));
    return hwa__onnx_tensor(o, o->in[k], t);
}

static hwa_status map_gemm(hwa__onnx_op *o) {
    hwa_tensor *a, *b, *c = NULL;
    hwa_status st = float_in(o, 0, &a);
    if (!st) st = float_in(o, 1, &b);
    if (!st && o->n_in > 2 && o->in[2]) st = float_in(o, 2, &c);
    if (st) return st;
    if (o->in[0]->ndim != 2 || o->in[1]->ndim != 2)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "A and B must be matrices");
    const bool ta = hwa__onnx_attr_i(o->node, "transA", 0), tb = hwa__onnx_attr_i(o->node, "transB", 0);
    const float alpha = hwa__onnx_attr_f(o->node, "alpha", 1.0f), beta = hwa__onnx_attr_f(o->node, "beta", 1.0f);
    hwa_tensor *y = hwa_matmul_ex(o->ctx, a, b, ta, tb);
    if (y && alpha != 1.0f) y = hwa_scale(o->ctx, y, alpha);
    if (y && c && beta != 0.0f) {
        if (beta != 1.0f) c = hwa_scale(o->ctx, c, beta);
        /* C broadcasts to [M, N] by hwa_add's rule; a [1, N] row as [N] */
        if (c && o->in[2]->ndim == 2 && o->in[2]->dims[0] == 1) c = hwa_reshape(o->ctx, c, 1, &o->in[2]->dims[1]);
        y = hwa_add(o->ctx, y, c);
    }
    return hwa__onnx_set_out(o, 0, y, o->in[0]->type, 2);
}

/* Leading 1s to rank n. */
static hwa_status to_rank(hwa__onnx_op *o, hwa_tensor **t, int nd, const int64_t *dims, int n) {
    if (nd == n) return HWA_OK;
    int64_t d1[HWA_ONNX_MAX_DIMS];
    for (int d = 0; d < n; d++) d1[d] = d < n - nd ? 1 : dims[d - (n - nd)];
    return hwa__onnx_reshape(o, *t, n, d1, t);
}

static hwa_status map_matmul(hwa__onnx_op *o) {
    hwa_tensor *a, *b;
    hwa_status st = float_in(o, 0, &a);
    if (!st) st = float_in(o, 1, &b);
    if (st) return st;
    const hwa__oval *va = o->in[0], *vb = o->in[1];
    if (va->ndim == 0 || vb->ndim == 0) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "a scalar operand");
    int64_t da[HWA_ONNX_MAX_DIMS], db[HWA_ONNX_MAX_DIMS];
    int na = va->ndim, nb = vb->ndim;
    memcpy(da, va->dims, sizeof da);
    memcpy(db, vb->dims, sizeof db);
    if (na == 1) da[1] = da[0], da[0] = 1, na = 2;
    if (nb == 1) db[1] = 1, nb = 2;
    if (da[na - 1] != db[nb - 2])
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "inner dims %lld and %lld differ",
                                  (long long)da[na - 1], (long long)db[nb - 2]);
    int64_t batch[HWA_ONNX_MAX_DIMS];
    int nbatch;
    if (!hwa__onnx_broadcast(na - 2, da, nb - 2, db, &nbatch, batch))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "batch dims do not broadcast");
    const int n = nbatch + 2;
    if (n > HWA_MAX_DIMS) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "rank %d (at most %d)", n, HWA_MAX_DIMS);
    if (va->ndim == 1 && (st = hwa__onnx_reshape(o, a, 2, da, &a))) return st;
    if (vb->ndim == 1 && (st = hwa__onnx_reshape(o, b, 2, db, &b))) return st;
    if ((st = to_rank(o, &a, na, da, n)) || (st = to_rank(o, &b, nb, db, n))) return st;
    /* a takes the broadcast batch; b's batch dims may stay 1 (shared weights) */
    int64_t ea[HWA_ONNX_MAX_DIMS], eb[HWA_ONNX_MAX_DIMS];
    memcpy(ea, batch, sizeof(int64_t) * (size_t)nbatch);
    ea[n - 2] = da[na - 2], ea[n - 1] = da[na - 1];
    bool b_ok = true;
    for (int d = 0; d < nbatch; d++) {
        const int64_t x = d - (nbatch - (nb - 2)) >= 0 ? db[d - (nbatch - (nb - 2))] : 1;
        eb[d] = x;
        b_ok = b_ok && (x == 1 || x == batch[d]);
    }
    eb[n - 2] = db[nb - 2], eb[n - 1] = db[nb - 1];
    if ((st = hwa__onnx_expand(o, a, n, ea, &a))) return st;
    if (!b_ok && (st = hwa__onnx_expand(o, b, n, eb, &b))) return st;
    bool b_mixed = false; /* hwa_matmul wants b's batch dims all a's or all 1 */
    for (int d = 0; d < nbatch; d++) b_mixed = b_mixed || (eb[d] == 1 && batch[d] != 1);
    bool b_any = false;
    for (int d = 0; d < nbatch; d++) b_any = b_any || eb[d] != 1;
    if (b_mixed && b_any) {
        memcpy(eb, batch, sizeof(int64_t) * (size_t)nbatch);
        if ((st = hwa__onnx_expand(o, b, n, eb, &b))) return st;
    }
    hwa_tensor *y = hwa_matmul(o->ctx, a, b);
    if (!y) return hwa__onnx_builder_err(o);
    /* drop the dims 1-D operands added */
    int64_t od[HWA_ONNX_MAX_DIMS];
    int no = 0;
    for (int d = 0; d < nbatch; d++) od[no++] = batch[d];
    if (va->ndim > 1) od[no++] = da[na - 2];
    if (vb->ndim > 1) od[no++] = db[nb - 1];
    if (no != n && (st = hwa__onnx_reshape(o, y, no, od, &y))) return st;
    return hwa__onnx_set_out(o, 0, y, va->type, no);
}

/* Softmax and LogSoftmax: over one axis from opset 13, over the dims from
 * axis on (the input flattened to 2-D there) before. */
static hwa_status map_softmax(hwa__onnx_op *o) {
    const bool log = !strcmp(o->node->op_type, "LogSoftmax");
    const hwa__oval *x = o->in[0];
    hwa_tensor *t;
    hwa_status st = float_in(o, 0, &t);
    if (st) return st;
    const bool old = o->net->opset < 13;
    int axis;
    if ((st = hwa__onnx_axis(o, hwa__onnx_attr_i(o->node, "axis", old ? 1 : -1), x->ndim, &axis))) return st;
    if (x->ndim == 0) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "a scalar input");
    hwa_tensor *r;
    if (old && axis != x->ndim - 1) {
        int64_t d2[2];
        hwa__onnx_numel(x->dims, 0, axis, &d2[0]); /* a tensor's dims: no overflow */
        hwa__onnx_numel(x->dims, axis, x->ndim, &d2[1]);
        if ((st = hwa__onnx_reshape(o, t, 2, d2, &t))) return st;
        r = log ? hwa_log_softmax(o->ctx, t) : hwa_softmax(o->ctx, t);
        if (!r) return hwa__onnx_builder_err(o);
        if ((st = hwa__onnx_reshape(o, r, x->ndim, x->dims, &r))) return st;
    } else if (axis == x->ndim - 1) {
        r = log ? hwa_log_softmax(o->ctx, t) : hwa_softmax(o->ctx, t);
    } else {
        /* the axis swapped with the last, and back */
        int perm[HWA_MAX_DIMS];
        for (int d = 0; d < x->ndim; d++) perm[d] = d;
        perm[axis] = x->ndim - 1;
        perm[x->ndim - 1] = axis;
        t = hwa_permute(o->ctx, t, perm);
        r = log ? hwa_log_softmax(o->ctx, t) : hwa_softmax(o->ctx, t);
        r = hwa_permute(o->ctx, r, perm);
    }
    return hwa__onnx_set_out(o, 0, r, x->type, x->ndim);
}

/* v (known or a tensor) as a [count] tensor. */
static hwa_status flat_param(hwa__onnx_op *o, int k, int64_t count, hwa_tensor **t) {
    hwa__oval *v = o->in[k];
    int64_t n;
    if (!hwa__onnx_numel(v->dims, 0, v->ndim, &n) || n != count)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED,
                                  "input %d has %lld values for %lld normalized elements (broadcast parameters)", k,
                                  (long long)n, (long long)count);
    hwa_status st = float_in(o, k, t);
    if (!st && (hwa_tensor_ndim(*t) != 1)) st = hwa__onnx_reshape(o, *t, 1, &count, t);
    return st;
}

static hwa_status map_layernorm(hwa__onnx_op *o) {
    const hwa__oval *x = o->in[0];
    hwa_tensor *t, *w = NULL, *b = NULL;
    hwa_status st = float_in(o, 0, &t);
    int axis;
    if (!st) st = hwa__onnx_axis(o, hwa__onnx_attr_i(o->node, "axis", -1), x->ndim, &axis);
    if (st) return st;
    int64_t inner, lead[HWA_MAX_DIMS + 1];
    hwa__onnx_numel(x->dims, axis, x->ndim, &inner); /* a tensor's dims: no overflow */
    if (!(st = flat_param(o, 1, inner, &w)) && o->n_in > 2 && o->in[2]) st = flat_param(o, 2, inner, &b);
    if (st) return st;
    if (axis != x->ndim - 1) {
        for (int d = 0; d < axis; d++) lead[d] = x->dims[d];
        lead[axis] = inner;
        if ((st = hwa__onnx_reshape(o, t, axis + 1, lead, &t))) return st;
    }
    const float eps = hwa__onnx_attr_f(o->node, "epsilon", 1e-5f);
    hwa_tensor *x2 = t, *r = hwa_layernorm(o->ctx, t, w, b, eps);
    if (!r) return hwa__onnx_builder_err(o);
    if (axis != x->ndim - 1 && (st = hwa__onnx_reshape(o, r, x->ndim, x->dims, &r))) return st;
    if ((st = hwa__onnx_set_out(o, 0, r, x->type, x->ndim))) return st;
    if ((o->n_out < 2 || !o->out[1]) && (o->n_out < 3 || !o->out[2])) return HWA_OK;
    /* Mean and InvStdDev: x's shape with 1 from axis on */
    int64_t kd[HWA_MAX_DIMS], k2[HWA_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) kd[d] = d < axis ? x->dims[d] : 1;
    for (int d = 0; d <= axis; d++) k2[d] = d < axis ? x->dims[d] : 1;
    hwa_ctx *c = o->ctx;
    hwa_tensor *mean = hwa_reduce_to(c, x2, axis + 1, k2, true), *eps_t, *inv;
    hwa_tensor *dev = hwa_sub(c, x2, mean);
    if ((st = hwa__onnx_scalar(o, eps, &eps_t))) return st;
    inv = hwa_map(c, hwa_map(c, hwa_add(c, hwa_reduce_to(c, hwa_mul(c, dev, dev), axis + 1, k2, true), eps_t),
                             HWA_MAP_SQRT, 0, 0), HWA_MAP_RECIP, 0, 0);
    if (!mean || !inv) return hwa__onnx_builder_err(o);
    if ((st = hwa__onnx_reshape(o, mean, x->ndim, kd, &mean)) || (st = hwa__onnx_reshape(o, inv, x->ndim, kd, &inv)))
        return st;
    if (o->n_out > 1 && (st = hwa__onnx_set_out(o, 1, mean, HWA_ONNX_FLOAT, x->ndim))) return st;
    return o->n_out > 2 ? hwa__onnx_set_out(o, 2, inv, HWA_ONNX_FLOAT, x->ndim) : HWA_OK;
}

/* ReduceSum, Mean, Max, Min, SumSquare, L1, L2, LogSum, LogSumExp: axes
 * as an attribute, or an input (ReduceSum from opset 13, the others from
 * 18). */
static hwa_status map_reduce(hwa__onnx_op *o) {
    const char *name = o->node->op_type;
    const hwa__oval *x = o->in[0];
    const bool sum = !strcmp(name, "ReduceSum"), mean = !strcmp(name, "ReduceMean"), min = !strcmp(name, "ReduceMin");
    const bool axes_input = o->net->opset >= (sum ? 13 : 18);
    int64_t axes[HWA_ONNX_MAX_DIMS];
    int n = 0;
    hwa_status st = HWA_OK;
    if (axes_input) {
        if (o->n_in > 1 && o->in[1]) st = hwa__onnx_in_ints(o, 1, "axes", axes, HWA_ONNX_MAX_DIMS, &n);
    } else {
        const hwa_onnx_attr *a = hwa__onnx_attr_ints(o->node, "axes");
        if (a && a->n > HWA_ONNX_MAX_DIMS) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "too many axes");
        for (int64_t i = 0; a && i < a->n; i++) axes[n++] = a->ints[i];
    }
    if (st) return st;
    const bool keep = hwa__onnx_attr_i(o->node, "keepdims", 1) != 0;
    if (n == 0 && hwa__onnx_attr_i(o->node, "noop_with_empty_axes", 0)) {
        hwa_tensor *t;
        if ((st = hwa__onnx_tensor(o, o->in[0], &t))) return st;
        return hwa__onnx_set_out(o, 0, t, x->type, x->ndim);
    }
    bool red[HWA_ONNX_MAX_DIMS] = {false};
    for (int k = 0; k < n; k++) {
        int a;
        if ((st = hwa__onnx_axis(o, axes[k], x->ndim, &a))) return st;
        red[a] = true;
    }
    int64_t kd[HWA_ONNX_MAX_DIMS], od[HWA_ONNX_MAX_DIMS];
    int no = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (n == 0) red[d] = true;
        kd[d] = red[d] ? 1 : x->dims[d];
        if (!red[d] || keep) od[no++] = kd[d];
        if (x->dims[d] == 0) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "an empty input");
    }
    hwa_tensor *t, *r;
    if ((st = float_in(o, 0, &t))) return st;
    const int nd = x->ndim ? x->ndim : 1; /* a scalar as [1] */
    if (!x->ndim) kd[0] = 1;
    hwa_ctx *c = o->ctx;
    if (sum || mean) r = hwa_reduce_to(c, t, nd, kd, mean);
    else if (!strcmp(name, "ReduceMax") || min) r = hwa_reduce_max_to(c, t, nd, kd, min);
    else if (!strcmp(name, "ReduceSumSquare")) r = hwa_reduce_to(c, hwa_mul(c, t, t), nd, kd, false);
    else if (!strcmp(name, "ReduceL1")) r = hwa_reduce_to(c, hwa_map(c, t, HWA_MAP_ABS, 0, 0), nd, kd, false);
    else if (!strcmp(name, "ReduceL2"))
        r = hwa_map(c, hwa_reduce_to(c, hwa_mul(c, t, t), nd, kd, false), HWA_MAP_SQRT, 0, 0);
    else if (!strcmp(name, "ReduceLogSum")) r = hwa_map(c, hwa_reduce_to(c, t, nd, kd, false), HWA_MAP_LOG, 0, 0);
    else {
        /* log-sum-exp around the max, so that exp cannot overflow */
        hwa_tensor *m = hwa_reduce_max_to(c, t, nd, kd, false);
        hwa_tensor *e = hwa_map(c, hwa_sub(c, t, m), HWA_MAP_EXP, 0, 0);
        r = hwa_add(c, hwa_map(c, hwa_reduce_to(c, e, nd, kd, false), HWA_MAP_LOG, 0, 0), m);
    }
    if (!r) return hwa__onnx_builder_err(o);
    if (!keep && (st = hwa__onnx_reshape(o, r, no, od, &r))) return st;
    return hwa__onnx_set_out(o, 0, r, x->type, keep ? x->ndim : no);
}

/* ---- vision ---------------------------------------------------------------------- */

/* The spatial attributes of Conv and the pools, for 1 or 2 spatial dims. */
typedef struct spatial {
    int64_t kernel[2], stride[2], dil[2], pad[4]; /* pad: top, left, bottom, right */
} spatial;

static hwa_status check_spatial(hwa_onnx_net *net, const hwa_onnx_node *n) {
    const char *ap = hwa__onnx_attr_s(n, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID") && strcmp(ap, "SAME_UPPER") && strcmp(ap, "SAME_LOWER"))
        return hwa__onnx_node_err(net->ctx, n, HWA_E_FORMAT, "auto_pad %s", ap);
    if (hwa__onnx_attr_i(n, "storage_order", 0))
        return hwa__onnx_node_err(net->ctx, n, HWA_E_UNSUPPORTED, "storage_order 1 (column-major indices)");
    if (!strcmp(n->op_type, "MaxPool") && n->n_outputs > 1 && n->outputs[1][0])
        return hwa__onnx_node_err(net->ctx, n, HWA_E_UNSUPPORTED, "the Indices output");
    return HWA_OK;
}

/* Reads the attributes for input x of spatial rank ns (1 or 2); kernel
 * from the weights (kw) when the attribute is absent. */
static hwa_status spatial_of(hwa__onnx_op *o, const hwa__oval *x, int ns, const int64_t *kw, spatial *s) {
    const hwa_onnx_node *n = o->node;
    const hwa_onnx_attr *k = hwa__onnx_attr_ints(n, "kernel_shape"), *st = hwa__onnx_attr_ints(n, "strides"),
                        *dl = hwa__onnx_attr_ints(n, "dilations"), *pd = hwa__onnx_attr_ints(n, "pads");
    if ((k && k->n != ns) || (st && st->n != ns) || (dl && dl->n != ns) || (pd && pd->n != 2 * ns))
        return hwa__onnx_node_err(o->ctx, n, HWA_E_FORMAT, "kernel_shape, strides, dilations or pads of the wrong length");
    if (!k && !kw) return hwa__onnx_node_err(o->ctx, n, HWA_E_FORMAT, "no kernel_shape");
    /* 1-D runs as 2-D of height 1: spatial dim 0 is the width */
    const int off = 2 - ns;
    for (int d = 0; d < 2; d++) s->kernel[d] = 1, s->stride[d] = 1, s->dil[d] = 1;
    for (int d = 0; d < 4; d++) s->pad[d] = 0;
    for (int d = 0; d < ns; d++) {
        s->kernel[d + off] = k ? k->ints[d] : kw[d];
        if (st) s->stride[d + off] = st->ints[d];
        if (dl) s->dil[d + off] = dl->ints[d];
        if (pd) s->pad[d + off] = pd->ints[d], s->pad[d + off + 2] = pd->ints[d + ns];
    }
    for (int d = 0; d < 2; d++)
        if (s->kernel[d] < 1 || s->stride[d] < 1 || s->dil[d] < 1 || s->kernel[d] > (1 << 20) || s->stride[d] > (1 << 20) ||
            s->dil[d] > (1 << 20))
            return hwa__onnx_node_err(o->ctx, n, HWA_E_FORMAT, "kernel, stride or dilation out of range");
    for (int d = 0; d < 4; d++)
        if (s->pad[d] < 0 || s->pad[d] > (1 << 20)) return hwa__onnx_node_err(o->ctx, n, HWA_E_FORMAT, "pads out of range");
    const char *ap = hwa__onnx_attr_s(n, "auto_pad", "NOTSET");
    if (!strcmp(ap, "VALID")) {
        for (int d = 0; d < 4; d++) s->pad[d] = 0;
    } else if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
        for (int d = 0; d < ns; d++) {
            const int64_t in = x->dims[2 + d], sd = s->stride[d + off];
            const int64_t out = (in + sd - 1) / sd;
            int64_t total = (out - 1) * sd + (s->kernel[d + off] - 1) * s->dil[d + off] + 1 - in;
            if (total < 0) total = 0;
            const int64_t small = total / 2, big = total - small;
            const bool upper = !strcmp(ap, "SAME_UPPER");
            s->pad[d + off] = upper ? small : big;
            s->pad[d + off + 2] = upper ? big : small;
        }
    }
    return HWA_OK;
}

/* x [N, C, L] as [N, C, 1, L]; 4-D as it is; other ranks refused. */
static hwa_status as_4d(hwa__onnx_op *o, int k, hwa_tensor **t, int *ns) {
    const hwa__oval *x = o->in[k];
    hwa_status st = float_in(o, k, t);
    if (st) return st;
    if (x->ndim != 3 && x->ndim != 4)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "input %d of rank %d (1-D and 2-D only)", k,
                                  x->ndim);
    *ns = x->ndim - 2;
    if (x->ndim == 3) {
        const int64_t d4[4] = {x->dims[0], x->dims[1], 1, x->dims[2]};
        return hwa__onnx_reshape(o, *t, 4, d4, t);
    }
    return HWA_OK;
}

/* A 4-D result back to the input's rank. */
static hwa_status from_4d(hwa__onnx_op *o, hwa_tensor *r, int ns, int type) {
    if (!r) return hwa__onnx_builder_err(o);
    if (ns == 1) {
        const int64_t d3[3] = {hwa_tensor_dim(r, 0), hwa_tensor_dim(r, 1), hwa_tensor_dim(r, 3)};
        hwa_status st = hwa__onnx_reshape(o, r, 3, d3, &r);
        if (st) return st;
    }
    return hwa__onnx_set_out(o, 0, r, type, ns + 2);
}

static hwa_status map_conv(hwa__onnx_op *o) {
    hwa_tensor *x, *w, *b = NULL;
    int ns, nsw;
    hwa_status st = as_4d(o, 0, &x, &ns);
    if (!st) st = as_4d(o, 1, &w, &nsw);
    if (!st && o->n_in > 2 && o->in[2]) st = float_in(o, 2, &b);
    if (st) return st;
    if (nsw != ns) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "X and W differ in rank");
    spatial s;
    if ((st = spatial_of(o, o->in[0], ns, &o->in[1]->dims[2], &s))) return st;
    if (s.kernel[0] != hwa_tensor_dim(w, 2) || s.kernel[1] != hwa_tensor_dim(w, 3))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "kernel_shape differs from W's");
    const int64_t g = hwa__onnx_attr_i(o->node, "group", 1);
    if (g < 1 || g > (1 << 20)) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "group %lld", (long long)g);
    hwa_conv2d_params p = {.stride = {(int)s.stride[0], (int)s.stride[1]},
                           .pad = {(int)s.pad[0], (int)s.pad[1], (int)s.pad[2], (int)s.pad[3]},
                           .dilation = {(int)s.dil[0], (int)s.dil[1]},
                           .groups = (int)g};
    return from_4d(o, hwa_conv2d(o->ctx, x, w, b, &p), ns, o->in[0]->type);
}

static hwa_status map_pool(hwa__onnx_op *o) {
    const bool max = !strcmp(o->node->op_type, "MaxPool");
    hwa_tensor *x;
    int ns;
    hwa_status st = as_4d(o, 0, &x, &ns);
    if (st) return st;
    spatial s;
    if ((st = spatial_of(o, o->in[0], ns, NULL, &s))) return st;
    if (!max && (s.dil[0] != 1 || s.dil[1] != 1))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "dilated average pooling");
    hwa_pool2d_params p = {.kind = max ? HWA_POOL_MAX : HWA_POOL_AVG,
                           .kernel = {(int)s.kernel[0], (int)s.kernel[1]},
                           .stride = {(int)s.stride[0], (int)s.stride[1]},
                           .pad = {(int)s.pad[0], (int)s.pad[1], (int)s.pad[2], (int)s.pad[3]},
                           .dilation = {(int)s.dil[0], (int)s.dil[1]},
                           .ceil_mode = hwa__onnx_attr_i(o->node, "ceil_mode", 0) != 0,
                           .count_include_pad = hwa__onnx_attr_i(o->node, "count_include_pad", 0) != 0};
    return from_4d(o, hwa_pool2d(o->ctx, x, &p), ns, o->in[0]->type);
}

static hwa_status map_global_pool(hwa__onnx_op *o) {
    const bool max = !strcmp(o->node->op_type, "GlobalMaxPool");
    hwa_tensor *x;
    int ns;
    hwa_status st = as_4d(o, 0, &x, &ns);
    if (st) return st;
    hwa_tensor *r;
    if (max) {
        const int64_t kd[4] = {hwa_tensor_dim(x, 0), hwa_tensor_dim(x, 1), 1, 1};
        r = hwa_reduce_max_to(o->ctx, x, 4, kd, false);
    } else {
        r = hwa_global_avg_pool(o->ctx, x);
    }
    return from_4d(o, r, ns, o->in[0]->type);
}

static hwa_status check_batchnorm(hwa_onnx_net *net, const hwa_onnx_node *n) {
    if (hwa__onnx_attr_i(n, "training_mode", 0))
        return hwa__onnx_node_err(net->ctx, n, HWA_E_UNSUPPORTED, "training_mode 1 (inference only)");
    for (int k = 1; k < n->n_outputs; k++)
        if (n->outputs[k][0])
            return hwa__onnx_node_err(net->ctx, n, HWA_E_UNSUPPORTED, "the running statistics outputs (training)");
    return HWA_OK;
}

static hwa_status map_batchnorm(hwa__onnx_op *o) {
    hwa_tensor *x, *p[4];
    hwa_status st = float_in(o, 0, &x);
    const int64_t c = o->in[0]->ndim >= 2 ? o->in[0]->dims[1] : -1;
    if (!st && c < 0) st = hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "an input of rank %d", o->in[0]->ndim);
    for (int k = 0; !st && k < 4; k++) st = flat_param(o, k + 1, c, &p[k]);
    if (st) return st;
    hwa_tensor *r = hwa_batchnorm(o->ctx, x, p[0], p[1], p[2], p[3], hwa__onnx_attr_f(o->node, "epsilon", 1e-5f));
    return hwa__onnx_set_out(o, 0, r, o->in[0]->type, o->in[0]->ndim);
}

/* InstanceNormalization: x [N, C, ...] normalized over each (n, c)
 * plane, biased variance, then scale and bias per channel. */
static hwa_status map_instancenorm(hwa__onnx_op *o) {
    const hwa__oval *x = o->in[0];
    hwa_tensor *t, *w, *b, *eps;
    hwa_status st = float_in(o, 0, &t);
    if (!st && (x->ndim < 3 || x->ndim > HWA_MAX_DIMS))
        st = hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "an input of rank %d (3 or 4)", x->ndim);
    if (!st) st = flat_param(o, 1, x->dims[1], &w);
    if (!st) st = flat_param(o, 2, x->dims[1], &b);
    if (!st) st = hwa__onnx_scalar(o, hwa__onnx_attr_f(o->node, "epsilon", 1e-5f), &eps);
    if (st) return st;
    hwa_ctx *c = o->ctx;
    int64_t kd[HWA_MAX_DIMS], cd[HWA_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) kd[d] = d < 2 ? x->dims[d] : 1, cd[d] = d == 1 ? x->dims[1] : 1;
    hwa_tensor *dev = hwa_sub(c, t, hwa_reduce_to(c, t, x->ndim, kd, true));
    hwa_tensor *var = hwa_reduce_to(c, hwa_mul(c, dev, dev), x->ndim, kd, true);
    hwa_tensor *y = hwa_div(c, dev, hwa_map(c, hwa_add(c, var, eps), HWA_MAP_SQRT, 0, 0));
    /* scale and bias [C] as [C, 1, ...] against y [N, C, ...] */
    if (!y || (st = hwa__onnx_reshape(o, w, x->ndim - 1, cd + 1, &w)) ||
        (st = hwa__onnx_reshape(o, b, x->ndim - 1, cd + 1, &b)))
        return st ? st : hwa__onnx_builder_err(o);
    return hwa__onnx_set_out(o, 0, hwa_add(c, hwa_mul(c, y, w), b), x->type, x->ndim);
}

/* Pad, constant mode: the padding as concatenated blocks of the value
 * (pads known when built, >= 0). */
static hwa_status map_pad(hwa__onnx_op *o) {
    hwa__oval *x = o->in[0];
    const char *mode = hwa__onnx_attr_s(o->node, "mode", "constant");
    if (strcmp(mode, "constant"))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "mode %s (constant only)", mode);
    int64_t pads[2 * HWA_ONNX_MAX_DIMS];
    int n = 0;
    hwa_status st = HWA_OK;
    if (o->net->opset < 11) {
        const hwa_onnx_attr *a = hwa__onnx_attr_ints(o->node, "pads");
        if (!a || a->n != 2 * x->ndim) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "pads");
        for (int64_t i = 0; i < a->n; i++) pads[n++] = a->ints[i];
    } else if ((st = hwa__onnx_in_ints(o, 1, "pads", pads, 2 * HWA_ONNX_MAX_DIMS, &n))) {
        return st;
    }
    if (o->n_in > 3 && o->in[3]) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "the axes input");
    if (n != 2 * x->ndim) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "%d pads for rank %d", n, x->ndim);
    float value = o->net->opset < 11 ? hwa__onnx_attr_f(o->node, "value", 0.0f) : 0.0f;
    if (o->n_in > 2 && o->in[2]) {
        if (!o->in[2]->host || o->in[2]->host->n != 1)
            return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "a constant_value computed at run time");
        value = (float)hwa__onnx_get_f(o->in[2]->host, 0);
    }
    for (int d = 0; d < n; d++)
        if (pads[d] < 0 || pads[d] > (1 << 24))
            return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "pad %lld (0 .. 2^24 only)", (long long)pads[d]);
    hwa_tensor *t;
    if ((st = float_in(o, 0, &t))) return st;
    int64_t cur[HWA_MAX_DIMS];
    memcpy(cur, x->dims, sizeof(int64_t) * (size_t)x->ndim);
    for (int d = 0; d < x->ndim; d++) {
        for (int side = 0; side < 2; side++) {
            const int64_t p = pads[d + side * x->ndim];
            if (!p) continue;
            int64_t bd[HWA_MAX_DIMS];
            memcpy(bd, cur, sizeof bd);
            bd[d] = p;
            hwa_onnx_array *blk;
            if ((st = hwa__onnx_host_new(o->net, HWA_ONNX_FLOAT, x->ndim, bd, &blk))) return st;
            for (int64_t i = 0; i < blk->n; i++) ((float *)blk->data)[i] = value;
            hwa_tensor *bt;
            if ((st = hwa__onnx_const(o, blk, &bt))) return st;
            t = side ? hwa_concat(o->ctx, t, bt, d) : hwa_concat(o->ctx, bt, t, d);
            if (!t) return hwa__onnx_builder_err(o);
            cur[d] += p;
        }
    }
    return hwa__onnx_set_out(o, 0, t, x->type, x->ndim);
}

const hwa__onnx_opdef hwa__onnx_nn_ops[] = {
    {"Gemm", NULL, map_gemm},
    {"MatMul", NULL, map_matmul},
    {"Softmax", NULL, map_softmax},
    {"LogSoftmax", NULL, map_softmax},
    {"LayerNormalization", NULL, map_layernorm},
    {"ReduceSum", NULL, map_reduce},
    {"ReduceMean", NULL, map_reduce},
    {"ReduceMax", NULL, map_reduce},
    {"ReduceMin", NULL, map_reduce},
    {"ReduceSumSquare", NULL, map_reduce},
    {"ReduceL1", NULL, map_reduce},
    {"ReduceL2", NULL, map_reduce},
    {"ReduceLogSum", NULL, map_reduce},
    {"ReduceLogSumExp", NULL, map_reduce},
    {"Conv", check_spatial, map_conv},
    {"MaxPool", check_spatial, map_pool},
    {"AveragePool", check_spatial, map_pool},
    {"GlobalAveragePool", NULL, map_global_pool},
    {"GlobalMaxPool", NULL, map_global_pool},
    {"BatchNormalization", check_batchnorm, map_batchnorm},
    {"InstanceNormalization", NULL, map_instancenorm},
    {"Pad", NULL, map_pad},
    {NULL, NULL, NULL},
};
