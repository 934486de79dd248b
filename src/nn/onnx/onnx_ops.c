/* The ONNX op table: for each op of the default domain, the checks that
 * need no shapes (run once by hwa_onnx_net_new) and the mapping of a node
 * onto graph ops, or onto host arrays when its inputs are all known.
 * Structural and elementwise ops are here; the layers (Gemm, MatMul,
 * normalisation, reductions, convolution, pooling) in onnx_ops_nn.c. */
#include <math.h>
#include <string.h>

#include "nn/onnx/onnx_ops_internal.h"

/* ---- attributes and inputs ------------------------------------------------- */

int64_t hwa__onnx_attr_i(const hwa_onnx_node *n, const char *name, int64_t def) {
    const hwa_onnx_attr *a = hwa_onnx_node_attr(n, name);
    return a && a->kind == HWA_ONNX_ATTR_INT ? a->i : def;
}

float hwa__onnx_attr_f(const hwa_onnx_node *n, const char *name, float def) {
    const hwa_onnx_attr *a = hwa_onnx_node_attr(n, name);
    if (a && a->kind == HWA_ONNX_ATTR_FLOAT) return a->f;
    if (a && a->kind == HWA_ONNX_ATTR_INT) return (float)a->i;
    return def;
}

const char *hwa__onnx_attr_s(const hwa_onnx_node *n, const char *name, const char *def) {
    const hwa_onnx_attr *a = hwa_onnx_node_attr(n, name);
    return a && a->kind == HWA_ONNX_ATTR_STRING ? a->s : def;
}

const hwa_onnx_attr *hwa__onnx_attr_ints(const hwa_onnx_node *n, const char *name) {
    const hwa_onnx_attr *a = hwa_onnx_node_attr(n, name);
    return a && a->kind == HWA_ONNX_ATTR_INTS ? a : NULL;
}

bool hwa__onnx_all_known(const hwa__onnx_op *o) {
    for (int k = 0; k < o->n_in; k++)
        if (o->in[k] && !o->in[k]->host) return false;
    return true;
}

hwa_status hwa__onnx_in_tensor(hwa__onnx_op *o, int k, hwa_tensor **t) {
    if (k >= o->n_in || !o->in[k]) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "input %d is missing", k);
    return hwa__onnx_tensor(o, o->in[k], t);
}

hwa_status hwa__onnx_in_ints(hwa__onnx_op *o, int k, const char *what, int64_t *v, int max, int *n) {
    const hwa__oval *x = k < o->n_in ? o->in[k] : NULL;
    if (!x) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "input %d (%s) is missing", k, what);
    if (!x->host)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED,
                                  "%s ('%s') must be known when the graph is built (computed at run time here)", what,
                                  o->node->inputs[k]);
    if (!hwa__onnx_is_int(x->host->type))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "%s is %s, not an integer", what,
                                  hwa_onnx_type_name(x->host->type));
    if (x->host->n > max)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "%s has %lld values (at most %d)", what,
                                  (long long)x->host->n, max);
    for (int64_t i = 0; i < x->host->n; i++) v[i] = hwa__onnx_get_i(x->host, i);
    *n = (int)x->host->n;
    return HWA_OK;
}

hwa_status hwa__onnx_axis(hwa__onnx_op *o, int64_t axis, int rank, int *out) {
    if (axis < -rank || axis >= (rank ? rank : 1))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "axis %lld out of range for rank %d",
                                  (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return HWA_OK;
}

/* The tensor t (of ONNX shape ndim/dims) broadcast to out's shape. */
hwa_status hwa__onnx_expand(hwa__onnx_op *o, hwa_tensor *t, int ndim, const int64_t *dims, hwa_tensor **out) {
    if (ndim > HWA_MAX_DIMS)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "rank %d (at most %d)", ndim, HWA_MAX_DIMS);
    bool same = hwa_tensor_ndim(t) == (ndim ? ndim : 1);
    for (int d = 0; same && d < ndim; d++) same = hwa_tensor_dim(t, d) == dims[d];
    if (same) {
        *out = t;
        return HWA_OK;
    }
    const int64_t one = 1;
    *out = hwa_expand(o->ctx, t, ndim ? ndim : 1, ndim ? dims : &one);
    return *out ? HWA_OK : hwa__onnx_builder_err(o);
}

/* A contiguous tensor reshaped to ONNX shape (rank 0: [1]). */
hwa_status hwa__onnx_reshape(hwa__onnx_op *o, hwa_tensor *t, int ndim, const int64_t *dims, hwa_tensor **out) {
    if (ndim > HWA_MAX_DIMS)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "a result of rank %d (graph tensors have at most %d)",
                                  ndim, HWA_MAX_DIMS);
    if (!hwa_tensor_is_contiguous(t) && !(t = hwa_cont(o->ctx, t))) return hwa__onnx_builder_err(o);
    const int64_t one = 1;
    *out = hwa_reshape(o->ctx, t, ndim ? ndim : 1, ndim ? dims : &one);
    return *out ? HWA_OK : hwa__onnx_builder_err(o);
}

/* Output k is input value v's data in a new ONNX shape: a host reshape
 * when known, else a graph reshape. */
static hwa_status out_reshaped(hwa__onnx_op *o, int k, hwa__oval *v, int ndim, const int64_t *dims) {
    int64_t n, have;
    if (!hwa__onnx_numel(dims, 0, ndim, &n) || !hwa__onnx_numel(v->dims, 0, v->ndim, &have) || n != have)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "%lld elements cannot take a shape of %lld",
                                  (long long)have, (long long)n);
    if (v->host) {
        hwa_onnx_array *r;
        hwa_status st = hwa__onnx_host_reshape(o->net, v->host, ndim, dims, &r);
        if (st) return st;
        hwa__onnx_set_known(o, k, r);
        return HWA_OK;
    }
    hwa_tensor *t, *r;
    hwa_status st = hwa__onnx_tensor(o, v, &t);
    if (!st) st = hwa__onnx_reshape(o, t, ndim, dims, &r);
    return st ? st : hwa__onnx_set_out(o, k, r, v->type, ndim);
}

/* Output k is v itself. */
static hwa_status out_same(hwa__onnx_op *o, int k, hwa__oval *v) {
    if (v->host) {
        hwa__onnx_set_known(o, k, v->host);
        if (o->out[k] && v->t) o->out[k]->t = v->t;
        return HWA_OK;
    }
    hwa_tensor *t;
    hwa_status st = hwa__onnx_tensor(o, v, &t);
    return st ? st : hwa__onnx_set_out(o, k, t, v->type, v->ndim);
}

/* ---- structural ops --------------------------------------------------------- */

static hwa_status map_identity(hwa__onnx_op *o) { return out_same(o, 0, o->in[0]); }

static hwa_status map_dropout(hwa__onnx_op *o) {
    /* inference: the identity, and a mask of ones when asked for */
    if (o->n_in > 2 && o->in[2] && (!o->in[2]->host || hwa__onnx_get_i(o->in[2]->host, 0)))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED,
                                  "training_mode is true or computed at run time (inference only)");
    hwa_status st = out_same(o, 0, o->in[0]);
    if (!st && o->n_out > 1 && o->out[1]) {
        hwa_onnx_array *mask;
        st = hwa__onnx_host_new(o->net, HWA_ONNX_BOOL, o->in[0]->ndim, o->in[0]->dims, &mask);
        for (int64_t i = 0; !st && i < mask->n; i++) hwa__onnx_put_i(mask, i, 1);
        if (!st) hwa__onnx_set_known(o, 1, mask);
    }
    return st;
}

static hwa_status check_constant(hwa_onnx_net *net, const hwa_onnx_node *n) {
    if (n->n_attrs != 1) return hwa__onnx_node_err(net->ctx, n, HWA_E_FORMAT, "%d attributes (one expected)", n->n_attrs);
    const char *a = n->attrs[0].name;
    if (strcmp(a, "value") && strcmp(a, "value_float") && strcmp(a, "value_floats") && strcmp(a, "value_int") &&
        strcmp(a, "value_ints"))
        return hwa__onnx_node_err(net->ctx, n, HWA_E_UNSUPPORTED, "attribute %s", a);
    if (!strcmp(a, "value") && n->attrs[0].kind != HWA_ONNX_ATTR_TENSOR)
        return hwa__onnx_node_err(net->ctx, n, HWA_E_FORMAT, "value is not a tensor");
    return HWA_OK;
}

static hwa_status map_constant(hwa__onnx_op *o) {
    const hwa_onnx_attr *a = &o->node->attrs[0];
    if (a->kind == HWA_ONNX_ATTR_TENSOR) {
        hwa__onnx_set_known(o, 0, a->t);
        return HWA_OK;
    }
    const bool list = a->kind == HWA_ONNX_ATTR_FLOATS || a->kind == HWA_ONNX_ATTR_INTS;
    const bool flt = a->kind == HWA_ONNX_ATTR_FLOAT || a->kind == HWA_ONNX_ATTR_FLOATS;
    const int64_t n = list ? a->n : 1;
    hwa_onnx_array *r;
    hwa_status st = hwa__onnx_host_new(o->net, flt ? HWA_ONNX_FLOAT : HWA_ONNX_INT64, list ? 1 : 0, &n, &r);
    for (int64_t i = 0; !st && i < n; i++) {
        if (flt) hwa__onnx_put_f(r, i, list ? a->floats[i] : a->f);
        else hwa__onnx_put_i(r, i, list ? a->ints[i] : a->i);
    }
    if (!st) hwa__onnx_set_known(o, 0, r);
    return st;
}

static hwa_status map_constant_of_shape(hwa__onnx_op *o) {
    int64_t dims[HWA_ONNX_MAX_DIMS];
    int n;
    hwa_status st = hwa__onnx_in_ints(o, 0, "shape", dims, HWA_ONNX_MAX_DIMS, &n);
    if (st) return st;
    const hwa_onnx_attr *v = hwa_onnx_node_attr(o->node, "value");
    if (v && (v->kind != HWA_ONNX_ATTR_TENSOR || v->t->n != 1))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "value is not a one-element tensor");
    for (int d = 0; d < n; d++)
        if (dims[d] < 0) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "dim %d is negative", d);
    hwa_onnx_array *r;
    st = hwa__onnx_host_new(o->net, v ? v->t->type : HWA_ONNX_FLOAT, n, dims, &r);
    if (st) return st;
    const size_t es = hwa_onnx_type_size(r->type);
    for (int64_t i = 0; v && i < r->n; i++) memcpy((uint8_t *)r->data + (size_t)i * es, v->t->data, es);
    hwa__onnx_set_known(o, 0, r);
    return HWA_OK;
}

static hwa_status map_shape(hwa__onnx_op *o) {
    const hwa__oval *x = o->in[0];
    int64_t s = hwa__onnx_attr_i(o->node, "start", 0), e = hwa__onnx_attr_i(o->node, "end", x->ndim);
    if (s < 0) s += x->ndim;
    if (e < 0) e += x->ndim;
    s = s < 0 ? 0 : (s > x->ndim ? x->ndim : s);
    e = e < 0 ? 0 : (e > x->ndim ? x->ndim : e);
    const int64_t n = e > s ? e - s : 0;
    hwa_onnx_array *r;
    hwa_status st = hwa__onnx_host_new(o->net, HWA_ONNX_INT64, 1, &n, &r);
    for (int64_t i = 0; !st && i < n; i++) hwa__onnx_put_i(r, i, x->dims[s + i]);
    if (!st) hwa__onnx_set_known(o, 0, r);
    return st;
}

static hwa_status map_size(hwa__onnx_op *o) {
    int64_t n;
    if (!hwa__onnx_numel(o->in[0]->dims, 0, o->in[0]->ndim, &n))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_OVERFLOW, "the element count overflows");
    hwa_onnx_array *r;
    hwa_status st = hwa__onnx_host_new(o->net, HWA_ONNX_INT64, 0, NULL, &r);
    if (!st) hwa__onnx_put_i(r, 0, n);
    if (!st) hwa__onnx_set_known(o, 0, r);
    return st;
}

static hwa_status map_reshape(hwa__onnx_op *o) {
    const hwa__oval *x = o->in[0];
    int64_t dims[HWA_ONNX_MAX_DIMS];
    int n;
    hwa_status st = hwa__onnx_in_ints(o, 1, "shape", dims, HWA_ONNX_MAX_DIMS, &n);
    if (st) return st;
    const bool allowzero = hwa__onnx_attr_i(o->node, "allowzero", 0) != 0;
    int infer = -1;
    int64_t known = 1, total;
    if (!hwa__onnx_numel(x->dims, 0, x->ndim, &total))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_OVERFLOW, "the input's element count overflows");
    for (int d = 0; d < n; d++) {
        if (dims[d] == 0 && !allowzero) {
            if (d >= x->ndim) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "dim %d copies a missing dim", d);
            dims[d] = x->dims[d];
        }
        if (dims[d] == -1) {
            if (infer >= 0) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "two dims are -1");
            infer = d;
            continue;
        }
        if (dims[d] < 0) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "dim %d is %lld", d, (long long)dims[d]);
        if (!hwa__mul_i64(known, dims[d], &known))
            return hwa__onnx_node_err(o->ctx, o->node, HWA_E_OVERFLOW, "the shape's element count overflows");
    }
    if (infer >= 0) {
        if (known == 0 || total % known)
            return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "cannot infer dim %d: %lld elements over %lld",
                                      infer, (long long)total, (long long)known);
        dims[infer] = total / known;
    }
    return out_reshaped(o, 0, o->in[0], n, dims);
}

static hwa_status map_flatten(hwa__onnx_op *o) {
    const hwa__oval *x = o->in[0];
    /* axis in [-r, r]: the output's first dim holds the dims before it */
    int64_t axis = hwa__onnx_attr_i(o->node, "axis", 1);
    if (axis < 0) axis += x->ndim;
    if (axis < 0 || axis > x->ndim)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "axis %lld out of range for rank %d",
                                  (long long)hwa__onnx_attr_i(o->node, "axis", 1), x->ndim);
    int64_t dims[2];
    if (!hwa__onnx_numel(x->dims, 0, (int)axis, &dims[0]) || !hwa__onnx_numel(x->dims, (int)axis, x->ndim, &dims[1]))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_OVERFLOW, "element counts overflow");
    return out_reshaped(o, 0, o->in[0], 2, dims);
}

/* The axes of Squeeze/Unsqueeze: an attribute before opset 13, an input after. */
static hwa_status squeeze_axes(hwa__onnx_op *o, int64_t *axes, int *n) {
    if (o->net->opset < 13) {
        const hwa_onnx_attr *a = hwa__onnx_attr_ints(o->node, "axes");
        *n = 0;
        if (!a) return HWA_OK;
        if (a->n > HWA_ONNX_MAX_DIMS) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "too many axes");
        for (int64_t i = 0; i < a->n; i++) axes[i] = a->ints[i];
        *n = (int)a->n;
        return HWA_OK;
    }
    if (o->n_in < 2 || !o->in[1]) {
        *n = 0;
        return HWA_OK;
    }
    return hwa__onnx_in_ints(o, 1, "axes", axes, HWA_ONNX_MAX_DIMS, n);
}

static hwa_status map_squeeze(hwa__onnx_op *o) {
    const hwa__oval *x = o->in[0];
    int64_t axes[HWA_ONNX_MAX_DIMS], dims[HWA_ONNX_MAX_DIMS];
    int n, nd = 0;
    bool drop[HWA_ONNX_MAX_DIMS] = {false};
    hwa_status st = squeeze_axes(o, axes, &n);
    for (int k = 0; !st && k < n; k++) {
        int a;
        st = hwa__onnx_axis(o, axes[k], x->ndim, &a);
        if (!st && x->dims[a] != 1)
            st = hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "dim %d is %lld, not 1", a, (long long)x->dims[a]);
        if (!st) drop[a] = true;
    }
    if (st) return st;
    for (int d = 0; d < x->ndim; d++)
        if (!(n ? drop[d] : x->dims[d] == 1)) dims[nd++] = x->dims[d];
    return out_reshaped(o, 0, o->in[0], nd, dims);
}

static hwa_status map_unsqueeze(hwa__onnx_op *o) {
    const hwa__oval *x = o->in[0];
    int64_t axes[HWA_ONNX_MAX_DIMS], dims[HWA_ONNX_MAX_DIMS];
    int n;
    hwa_status st = squeeze_axes(o, axes, &n);
    if (st) return st;
    const int nd = x->ndim + n;
    if (nd > HWA_ONNX_MAX_DIMS) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "rank %d", nd);
    bool ins[HWA_ONNX_MAX_DIMS] = {false};
    for (int k = 0; k < n; k++) {
        int a;
        if ((st = hwa__onnx_axis(o, axes[k], nd, &a))) return st;
        if (ins[a]) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "axis %d repeated", a);
        ins[a] = true;
    }
    for (int d = 0, j = 0; d < nd; d++) dims[d] = ins[d] ? 1 : x->dims[j++];
    return out_reshaped(o, 0, o->in[0], nd, dims);
}

static hwa_status map_transpose(hwa__onnx_op *o) {
    hwa__oval *x = o->in[0];
    int perm[HWA_ONNX_MAX_DIMS];
    const hwa_onnx_attr *a = hwa__onnx_attr_ints(o->node, "perm");
    if (a && a->n != x->ndim)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "perm has %lld entries for rank %d", (long long)a->n,
                                  x->ndim);
    bool seen[HWA_ONNX_MAX_DIMS] = {false};
    for (int d = 0; d < x->ndim; d++) {
        const int64_t p = a ? a->ints[d] : x->ndim - 1 - d;
        if (p < 0 || p >= x->ndim || seen[p])
            return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "perm is not a permutation");
        seen[p] = true;
        perm[d] = (int)p;
    }
    if (x->host) {
        hwa_onnx_array *r;
        hwa_status st = hwa__onnx_host_transpose(o->net, x->host, perm, &r);
        if (!st) hwa__onnx_set_known(o, 0, r);
        return st;
    }
    if (x->ndim > HWA_MAX_DIMS)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "rank %d (at most %d)", x->ndim, HWA_MAX_DIMS);
    hwa_tensor *t;
    hwa_status st = hwa__onnx_tensor(o, x, &t);
    if (st) return st;
    if (x->ndim <= 1) return hwa__onnx_set_out(o, 0, t, x->type, x->ndim);
    return hwa__onnx_set_out(o, 0, hwa_permute(o->ctx, t, perm), x->type, x->ndim);
}

static hwa_status map_concat(hwa__onnx_op *o) {
    if (o->n_in < 1) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "no inputs");
    const hwa__oval *x = o->in[0];
    int axis;
    hwa_status st = hwa__onnx_axis(o, hwa__onnx_attr_i(o->node, "axis", 0), x->ndim, &axis);
    if (st) return st;
    for (int k = 1; k < o->n_in; k++) {
        const hwa__oval *y = o->in[k];
        bool ok = y && y->ndim == x->ndim && y->type == x->type;
        for (int d = 0; ok && d < x->ndim; d++) ok = d == axis || y->dims[d] == x->dims[d];
        if (!ok) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "input %d does not fit input 0", k);
    }
    if (hwa__onnx_all_known(o)) {
        const hwa_onnx_array *arr[HWA__ONNX_MAX_IN];
        for (int k = 0; k < o->n_in; k++) arr[k] = o->in[k]->host;
        hwa_onnx_array *r;
        st = hwa__onnx_host_concat(o->net, arr, o->n_in, axis, &r);
        if (!st) hwa__onnx_set_known(o, 0, r);
        return st;
    }
    hwa_tensor *acc = NULL;
    for (int k = 0; k < o->n_in; k++) {
        if (o->in[k]->dims[axis] == 0) continue; /* an empty piece adds nothing */
        hwa_tensor *t;
        if ((st = hwa__onnx_tensor(o, o->in[k], &t))) return st;
        if (acc && !(acc = hwa_concat(o->ctx, acc, t, axis))) return hwa__onnx_builder_err(o);
        if (!acc) acc = t;
    }
    return hwa__onnx_set_out(o, 0, acc, x->type, x->ndim);
}

static hwa_status map_slice(hwa__onnx_op *o) {
    hwa__oval *x = o->in[0];
    int64_t starts[HWA_ONNX_MAX_DIMS], ends[HWA_ONNX_MAX_DIMS], axes[HWA_ONNX_MAX_DIMS], steps[HWA_ONNX_MAX_DIMS];
    int ns, ne, na = 0, nst = 0;
    hwa_status st = HWA_OK;
    if (o->net->opset < 10) {
        const hwa_onnx_attr *s = hwa__onnx_attr_ints(o->node, "starts"), *e = hwa__onnx_attr_ints(o->node, "ends"),
                            *a = hwa__onnx_attr_ints(o->node, "axes");
        if (!s || !e || s->n > HWA_ONNX_MAX_DIMS || e->n != s->n || (a && a->n != s->n))
            return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "bad starts/ends/axes");
        ns = ne = (int)s->n;
        for (int i = 0; i < ns; i++) starts[i] = s->ints[i], ends[i] = e->ints[i];
        if (a) {
            na = (int)a->n;
            for (int i = 0; i < na; i++) axes[i] = a->ints[i];
        }
    } else {
        st = hwa__onnx_in_ints(o, 1, "starts", starts, HWA_ONNX_MAX_DIMS, &ns);
        if (!st) st = hwa__onnx_in_ints(o, 2, "ends", ends, HWA_ONNX_MAX_DIMS, &ne);
        if (!st && o->n_in > 3 && o->in[3]) st = hwa__onnx_in_ints(o, 3, "axes", axes, HWA_ONNX_MAX_DIMS, &na);
        if (!st && o->n_in > 4 && o->in[4]) st = hwa__onnx_in_ints(o, 4, "steps", steps, HWA_ONNX_MAX_DIMS, &nst);
        if (st) return st;
        if (ne != ns || (na && na != ns) || (nst && nst != ns))
            return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "starts, ends, axes, steps differ in length");
    }
    int64_t s0[HWA_ONNX_MAX_DIMS], len[HWA_ONNX_MAX_DIMS];
    bool seen[HWA_ONNX_MAX_DIMS] = {false};
    for (int d = 0; d < x->ndim; d++) s0[d] = 0, len[d] = x->dims[d];
    for (int i = 0; i < ns; i++) {
        int a = i;
        if (na && (st = hwa__onnx_axis(o, axes[i], x->ndim, &a))) return st;
        if (a >= x->ndim || seen[a]) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "bad axes");
        seen[a] = true;
        if (nst && steps[i] != 1)
            return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "step %lld on axis %d (only steps of 1)",
                                      (long long)steps[i], a);
        const int64_t ext = x->dims[a];
        int64_t b = starts[i], e = ends[i];
        if (b < 0) b += ext;
        if (e < 0) e += ext;
        b = b < 0 ? 0 : (b > ext ? ext : b);
        e = e < 0 ? 0 : (e > ext ? ext : e);
        s0[a] = b;
        len[a] = e > b ? e - b : 0;
    }
    bool empty = false;
    for (int d = 0; d < x->ndim; d++) empty = empty || len[d] == 0;
    if (x->host || empty) {
        /* an empty result holds no values: it is known whatever x is */
        hwa_onnx_array *r;
        if (empty) st = hwa__onnx_host_new(o->net, x->type, x->ndim, len, &r);
        else st = hwa__onnx_host_slice(o->net, x->host, s0, len, &r);
        if (!st) hwa__onnx_set_known(o, 0, r);
        return st;
    }
    hwa_tensor *t;
    if ((st = hwa__onnx_tensor(o, x, &t))) return st;
    for (int d = 0; d < x->ndim; d++) {
        if (s0[d] == 0 && len[d] == x->dims[d]) continue;
        if (!(t = hwa_slice(o->ctx, t, d, s0[d], len[d]))) return hwa__onnx_builder_err(o);
    }
    return hwa__onnx_set_out(o, 0, t, x->type, x->ndim);
}

static hwa_status map_gather(hwa__onnx_op *o) {
    hwa__oval *x = o->in[0], *idx = o->in[1];
    int axis;
    hwa_status st = hwa__onnx_axis(o, hwa__onnx_attr_i(o->node, "axis", 0), x->ndim, &axis);
    if (st) return st;
    if (!hwa__onnx_is_int(idx->type))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "indices are %s", hwa_onnx_type_name(idx->type));
    if (x->host && idx->host) {
        hwa_onnx_array *r;
        st = hwa__onnx_host_gather(o, x->host, idx->host, axis, &r);
        if (!st) hwa__onnx_set_known(o, 0, r);
        return st;
    }
    const int nd = x->ndim - 1 + idx->ndim;
    int64_t od[HWA_ONNX_MAX_DIMS];
    for (int d = 0, k = 0; d < x->ndim; d++) {
        if (d != axis) od[k++] = x->dims[d];
        else
            for (int j = 0; j < idx->ndim; j++) od[k++] = idx->dims[j];
    }
    hwa_tensor *t, *it;
    if ((st = hwa__onnx_tensor(o, x, &t))) return st;
    if (idx->host && idx->ndim == 0) {
        /* one index: a slice, its axis dropped */
        int64_t i = hwa__onnx_get_i(idx->host, 0);
        if (i < 0) i += x->dims[axis];
        if (i < 0 || i >= x->dims[axis])
            return hwa__onnx_node_err(o->ctx, o->node, HWA_E_RANGE, "index %lld out of range for extent %lld",
                                      (long long)hwa__onnx_get_i(idx->host, 0), (long long)x->dims[axis]);
        if (!(t = hwa_slice(o->ctx, t, axis, i, 1))) return hwa__onnx_builder_err(o);
        hwa_tensor *r;
        st = hwa__onnx_reshape(o, t, nd, od, &r);
        return st ? st : hwa__onnx_set_out(o, 0, r, x->type, nd);
    }
    if (nd > HWA_MAX_DIMS) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "a result of rank %d", nd);
    if ((st = hwa__onnx_tensor(o, idx, &it))) return st;
    hwa_tensor *r = hwa_gather(o->ctx, t, it, axis);
    if (r && idx->ndim == 0 && !(r = hwa_reshape(o->ctx, r, nd ? nd : 1, od))) return hwa__onnx_builder_err(o);
    return hwa__onnx_set_out(o, 0, r, x->type, nd);
}

static hwa_status map_expand(hwa__onnx_op *o) {
    hwa__oval *x = o->in[0];
    int64_t shape[HWA_ONNX_MAX_DIMS], od[HWA_ONNX_MAX_DIMS];
    int n, no;
    hwa_status st = hwa__onnx_in_ints(o, 1, "shape", shape, HWA_ONNX_MAX_DIMS, &n);
    if (st) return st;
    if (!hwa__onnx_broadcast(x->ndim, x->dims, n, shape, &no, od))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "the shape does not broadcast");
    if (x->host) {
        hwa_onnx_array *r;
        st = hwa__onnx_host_expand(o->net, x->host, no, od, &r);
        if (!st) hwa__onnx_set_known(o, 0, r);
        return st;
    }
    hwa_tensor *t, *r;
    if ((st = hwa__onnx_tensor(o, x, &t))) return st;
    if (x->ndim < no) {
        /* leading 1s first, so the tensor has the result's rank */
        int64_t d1[HWA_ONNX_MAX_DIMS];
        for (int d = 0; d < no; d++) d1[d] = d < no - x->ndim ? 1 : x->dims[d - (no - x->ndim)];
        if ((st = hwa__onnx_reshape(o, t, no, d1, &t))) return st;
    }
    st = hwa__onnx_expand(o, t, no, od, &r);
    return st ? st : hwa__onnx_set_out(o, 0, r, x->type, no);
}

static hwa_status map_range(hwa__onnx_op *o) {
    if (!hwa__onnx_all_known(o))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "inputs computed at run time");
    const hwa_onnx_array *s = o->in[0]->host, *l = o->in[1]->host, *dl = o->in[2]->host;
    const bool ints = hwa__onnx_is_int(s->type);
    const double fs = hwa__onnx_get_f(s, 0), fl = hwa__onnx_get_f(l, 0), fd = hwa__onnx_get_f(dl, 0);
    if (fd == 0) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_RANGE, "delta is 0");
    double cnt = ceil((fl - fs) / fd);
    int64_t n = cnt > 0 ? (int64_t)cnt : 0;
    if (ints) {
        const int64_t is = hwa__onnx_get_i(s, 0), il = hwa__onnx_get_i(l, 0), id = hwa__onnx_get_i(dl, 0);
        n = id > 0 ? (il > is ? (il - is + id - 1) / id : 0) : (is > il ? (is - il - id - 1) / -id : 0);
    }
    hwa_onnx_array *r;
    hwa_status st = hwa__onnx_host_new(o->net, s->type, 1, &n, &r);
    for (int64_t i = 0; !st && i < n; i++) {
        if (ints) hwa__onnx_put_i(r, i, hwa__onnx_get_i(s, 0) + i * hwa__onnx_get_i(dl, 0));
        else hwa__onnx_put_f(r, i, fs + (double)i * fd);
    }
    if (!st) hwa__onnx_set_known(o, 0, r);
    return st;
}

static hwa_status check_cast(hwa_onnx_net *net, const hwa_onnx_node *n) {
    const int64_t to = hwa__onnx_attr_i(n, "to", 0);
    /* bfloat16 is left out: exporters and the conformance data disagree on
     * how its values are stored (as bfloat16 or as their uint16 bits) */
    if (!hwa_onnx_type_size((int)to) || to == HWA_ONNX_STRING || to == HWA_ONNX_BFLOAT16)
        return hwa__onnx_node_err(net->ctx, n, HWA_E_UNSUPPORTED, "cast to %s", hwa_onnx_type_name((int)to));
    return HWA_OK;
}

/* Cast to type `to`: floats and bools share f32 tensors and integers i32
 * ones, so only a change of tensor dtype, a narrowing to a smaller float
 * or a test against zero (to bool) needs an op. */
static hwa_status cast_to(hwa__onnx_op *o, int to) {
    hwa__oval *x = o->in[0];
    if (x->host) {
        hwa_onnx_array *r;
        hwa_status st = hwa__onnx_host_cast(o->net, x->host, to, &r);
        if (!st) hwa__onnx_set_known(o, 0, r);
        return st;
    }
    hwa_dtype from, dst;
    if (!hwa__onnx_graph_dtype(x->type, &from) || !hwa__onnx_graph_dtype(to, &dst) || to == HWA_ONNX_BFLOAT16 ||
        x->type == HWA_ONNX_BFLOAT16)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "cast from %s to %s",
                                  hwa_onnx_type_name(x->type), hwa_onnx_type_name(to));
    /* i32 holds the integer types: a narrower or unsigned one would need
     * wrapping the graph does not do */
    if (dst == HWA_I32 && to != HWA_ONNX_INT32 && to != HWA_ONNX_INT64)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "cast to %s at run time (int32 and int64 only)",
                                  hwa_onnx_type_name(to));
    hwa_tensor *t;
    hwa_status st = hwa__onnx_tensor(o, x, &t);
    if (st) return st;
    if (from != dst) t = hwa_cast(o->ctx, t, dst);
    if (to == HWA_ONNX_BOOL && x->type != HWA_ONNX_BOOL)
        t = hwa_map(o->ctx, hwa_map(o->ctx, t, HWA_MAP_NOT, 0, 0), HWA_MAP_NOT, 0, 0);
    else if (to == HWA_ONNX_FLOAT16 && x->type != HWA_ONNX_FLOAT16)
        t = hwa_cast(o->ctx, hwa_cast(o->ctx, t, HWA_F16), HWA_F32);
    return hwa__onnx_set_out(o, 0, t, to, x->ndim);
}

static hwa_status map_cast(hwa__onnx_op *o) { return cast_to(o, (int)hwa__onnx_attr_i(o->node, "to", 0)); }

static hwa_status map_castlike(hwa__onnx_op *o) {
    if (o->n_in < 2 || !o->in[1]) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "no target_type input");
    return cast_to(o, o->in[1]->type);
}

/* Split: sizes from the split input (opset 13) or attribute, else equal
 * parts (the last smaller from opset 18, num_outputs). */
static hwa_status map_split(hwa__onnx_op *o) {
    hwa__oval *x = o->in[0];
    int axis;
    hwa_status st = hwa__onnx_axis(o, hwa__onnx_attr_i(o->node, "axis", 0), x->ndim, &axis);
    if (st) return st;
    int64_t sizes[HWA__ONNX_MAX_OUT];
    int n = o->n_out;
    if (o->n_in > 1 && o->in[1]) {
        if ((st = hwa__onnx_in_ints(o, 1, "split", sizes, HWA__ONNX_MAX_OUT, &n))) return st;
    } else if (hwa__onnx_attr_ints(o->node, "split")) {
        const hwa_onnx_attr *a = hwa__onnx_attr_ints(o->node, "split");
        if (a->n > HWA__ONNX_MAX_OUT)
            return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "%lld parts", (long long)a->n);
        n = (int)a->n;
        for (int k = 0; k < n; k++) sizes[k] = a->ints[k];
    } else {
        const int64_t ext = x->dims[axis], part = (ext + n - 1) / n;
        for (int k = 0; k < n; k++) sizes[k] = ext - part * k < part ? ext - part * k : part;
    }
    int64_t total = 0;
    for (int k = 0; k < n; k++) total += sizes[k] > 0 ? sizes[k] : 0;
    if (n != o->n_out || total != x->dims[axis])
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "%d parts of %lld for %d outputs and an extent of %lld",
                                  n, (long long)total, o->n_out, (long long)x->dims[axis]);
    hwa_tensor *t = NULL;
    if (!x->host && (st = hwa__onnx_tensor(o, x, &t))) return st;
    int64_t at = 0;
    for (int k = 0; k < n; at += sizes[k], k++) {
        if (x->host) {
            int64_t s0[HWA_ONNX_MAX_DIMS] = {0}, len[HWA_ONNX_MAX_DIMS];
            memcpy(len, x->dims, sizeof len);
            s0[axis] = at, len[axis] = sizes[k];
            hwa_onnx_array *r;
            if ((st = hwa__onnx_host_slice(o->net, x->host, s0, len, &r))) return st;
            hwa__onnx_set_known(o, k, r);
            continue;
        }
        if (sizes[k] <= 0) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "an empty part (%d)", k);
        if ((st = hwa__onnx_set_out(o, k, hwa_slice(o->ctx, t, axis, at, sizes[k]), x->type, x->ndim))) return st;
    }
    return HWA_OK;
}

/* ---- the table -------------------------------------------------------------- */

static const hwa__onnx_opdef struct_ops[] = {
    /* structural */
    {"Identity", NULL, map_identity},
    {"Dropout", NULL, map_dropout},
    {"Constant", check_constant, map_constant},
    {"ConstantOfShape", NULL, map_constant_of_shape},
    {"Shape", NULL, map_shape},
    {"Size", NULL, map_size},
    {"Reshape", NULL, map_reshape},
    {"Flatten", NULL, map_flatten},
    {"Squeeze", NULL, map_squeeze},
    {"Unsqueeze", NULL, map_unsqueeze},
    {"Transpose", NULL, map_transpose},
    {"Concat", NULL, map_concat},
    {"Slice", NULL, map_slice},
    {"Gather", NULL, map_gather},
    {"Expand", NULL, map_expand},
    {"Range", NULL, map_range},
    {"Cast", check_cast, map_cast},
    {"CastLike", NULL, map_castlike},
    {"Split", NULL, map_split},
    {NULL, NULL, NULL},
};

/* The tables: this file's, onnx_ops_elt.c's, onnx_ops_nn.c's and onnx_ops_loss.c's. */
static const hwa__onnx_opdef *const tables[] = {struct_ops, hwa__onnx_elt_ops, hwa__onnx_nn_ops, hwa__onnx_loss_ops};

const hwa__onnx_opdef *hwa__onnx_find_op(const char *op_type) {
    for (size_t k = 0; k < sizeof tables / sizeof *tables; k++)
        for (const hwa__onnx_opdef *d = tables[k]; d->name; d++)
            if (!strcmp(d->name, op_type)) return d;
    return NULL;
}

const char *hwa__onnx_op_name(int i) {
    for (size_t k = 0; k < sizeof tables / sizeof *tables; k++)
        for (const hwa__onnx_opdef *d = tables[k]; d->name; d++)
            if (i-- == 0) return d->name;
    return NULL;
}
