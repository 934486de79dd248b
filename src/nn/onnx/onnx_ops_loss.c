/* ONNX losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss
 * (NLL of the log-softmax over dim 1), as graph ops: the target picks its
 * class through a one-hot mask (target == class, compared in f32: exact
 * for class ids below 2^24), so any rank up to 4 works the same way.
 * Weights per class, ignore_index, and the none / sum / mean reductions
 * (mean divides by the summed weights of the targets not ignored). */
#include <string.h>

#include "nn/onnx/onnx_ops_internal.h"

static hwa_status check_loss(hwa_onnx_net *net, const hwa_onnx_node *n) {
    const char *r = hwa__onnx_attr_s(n, "reduction", "mean");
    if (strcmp(r, "none") && strcmp(r, "sum") && strcmp(r, "mean"))
        return hwa__onnx_node_err(net->ctx, n, HWA_E_FORMAT, "reduction %s", r);
    return HWA_OK;
}

/* The NLL of logp [N, C, d...] (a tensor of ONNX rank r) at the targets of
 * input 1 (weights: input 2 or none), into output 0. */
static hwa_status nll(hwa__onnx_op *o, hwa_tensor *logp, int r, const int64_t *dims) {
    hwa_ctx *c = o->ctx;
    const hwa__oval *tv = o->in[1];
    if (r < 2 || r > HWA_MAX_DIMS || tv->ndim != r - 1)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "input of rank %d, target of rank %d (ranks 2..4)",
                                  r, tv->ndim);
    if (!hwa__onnx_is_int(tv->type))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "target is %s", hwa_onnx_type_name(tv->type));
    const int64_t C = dims[1];
    hwa_tensor *tgt;
    hwa_status st = hwa__onnx_in_tensor(o, 1, &tgt);
    if (st) return st;
    /* the target as f32 [N, 1, d...], expanded to [N, C, d...] */
    int64_t one_d[HWA_MAX_DIMS], cls_d[HWA_MAX_DIMS];
    for (int d = 0; d < r; d++) one_d[d] = d == 1 ? 1 : dims[d];
    for (int d = 0; d < r - 1; d++) cls_d[d] = d == 0 ? C : 1;
    tgt = hwa_cast(c, tgt, HWA_F32);
    if (!tgt || (st = hwa__onnx_reshape(o, tgt, r, one_d, &tgt)) || (st = hwa__onnx_expand(o, tgt, r, dims, &tgt)))
        return st ? st : hwa__onnx_builder_err(o);
    /* the classes 0 .. C-1 as [C, 1, ...], broadcast against it */
    hwa_onnx_array *cls;
    hwa_tensor *cls_t;
    if ((st = hwa__onnx_host_new(o->net, HWA_ONNX_FLOAT, r - 1, cls_d, &cls))) return st;
    for (int64_t k = 0; k < C; k++) ((float *)cls->data)[k] = (float)k;
    if ((st = hwa__onnx_const(o, cls, &cls_t))) return st;
    hwa_tensor *mask = hwa_binary(c, tgt, cls_t, HWA_BIN_EQ);
    hwa_tensor *wmask = mask;
    if (o->n_in > 2 && o->in[2]) {
        hwa_tensor *w;
        if (o->in[2]->ndim != 1 || o->in[2]->dims[0] != C)
            return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "weight is not [C]");
        if ((st = hwa__onnx_in_tensor(o, 2, &w)) || (st = hwa__onnx_reshape(o, w, r - 1, cls_d, &w))) return st;
        wmask = hwa_mul(c, mask, w);
    }
    const hwa_onnx_attr *ig = hwa_onnx_node_attr(o->node, "ignore_index");
    if (ig && ig->kind == HWA_ONNX_ATTR_INT && ig->i >= 0 && ig->i < C) {
        /* a class that is ignored weighs nothing (one outside 0..C-1 matches no class anyway) */
        hwa_onnx_array *keep;
        hwa_tensor *keep_t;
        if ((st = hwa__onnx_host_new(o->net, HWA_ONNX_FLOAT, r - 1, cls_d, &keep))) return st;
        for (int64_t k = 0; k < C; k++) ((float *)keep->data)[k] = k != ig->i;
        if ((st = hwa__onnx_const(o, keep, &keep_t))) return st;
        wmask = hwa_mul(c, wmask, keep_t);
    }
    /* per element: -logp[target] * weight[target], and that weight */
    hwa_tensor *loss = hwa_scale(c, hwa_reduce_to(c, hwa_mul(c, logp, wmask), r, one_d, false), -1.0f);
    hwa_tensor *wsum = hwa_reduce_to(c, wmask, r, one_d, false);
    if (!loss || !wsum) return hwa__onnx_builder_err(o);
    const char *red = hwa__onnx_attr_s(o->node, "reduction", "mean");
    if (!strcmp(red, "none")) {
        int64_t od[HWA_MAX_DIMS];
        for (int d = 0, k = 0; d < r; d++)
            if (d != 1) od[k++] = dims[d];
        if ((st = hwa__onnx_reshape(o, loss, r - 1, od, &loss))) return st;
        return hwa__onnx_set_out(o, 0, loss, o->in[0]->type, r - 1);
    }
    int64_t all1[HWA_MAX_DIMS] = {1, 1, 1, 1};
    hwa_tensor *total = hwa_reduce_to(c, loss, r, all1, false);
    if (!strcmp(red, "mean")) total = hwa_div(c, total, hwa_reduce_to(c, wsum, r, all1, false));
    if (!total || (st = hwa__onnx_reshape(o, total, 0, NULL, &total))) return st ? st : hwa__onnx_builder_err(o);
    return hwa__onnx_set_out(o, 0, total, o->in[0]->type, 0);
}

static hwa_status map_nll(hwa__onnx_op *o) {
    hwa_tensor *x;
    if (!hwa__onnx_is_float(o->in[0]->type))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "input is %s", hwa_onnx_type_name(o->in[0]->type));
    hwa_status st = hwa__onnx_in_tensor(o, 0, &x);
    return st ? st : nll(o, x, o->in[0]->ndim, o->in[0]->dims);
}

static hwa_status map_sce(hwa__onnx_op *o) {
    const hwa__oval *s = o->in[0];
    hwa_tensor *x;
    if (!hwa__onnx_is_float(s->type))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "scores are %s", hwa_onnx_type_name(s->type));
    hwa_status st = hwa__onnx_in_tensor(o, 0, &x);
    if (st) return st;
    if (s->ndim < 2 || s->ndim > HWA_MAX_DIMS)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "scores of rank %d (2..4)", s->ndim);
    /* log-softmax over dim 1: swapped with the last and back */
    hwa_tensor *logp;
    if (s->ndim == 2) {
        logp = hwa_log_softmax(o->ctx, x);
    } else {
        int perm[HWA_MAX_DIMS];
        for (int d = 0; d < s->ndim; d++) perm[d] = d;
        perm[1] = s->ndim - 1;
        perm[s->ndim - 1] = 1;
        logp = hwa_cont(o->ctx, hwa_permute(o->ctx, hwa_log_softmax(o->ctx, hwa_permute(o->ctx, x, perm)), perm));
    }
    if (!logp) return hwa__onnx_builder_err(o);
    if ((st = nll(o, logp, s->ndim, s->dims))) return st;
    return o->n_out > 1 ? hwa__onnx_set_out(o, 1, logp, s->type, s->ndim) : HWA_OK;
}

const hwa__onnx_opdef hwa__onnx_loss_ops[] = {
    {"NegativeLogLikelihoodLoss", check_loss, map_nll},
    {"SoftmaxCrossEntropyLoss", check_loss, map_sce},
    {NULL, NULL, NULL},
};
