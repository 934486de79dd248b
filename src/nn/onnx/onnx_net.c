/* The ONNX importer: a net over a model (value names interned, nodes
 * checked once, float initializers as leaves), builds for concrete input
 * shapes, constant leaves and their loading, and the conversions between
 * host arrays and graph tensors at the inputs and outputs. The op table is
 * onnx_ops.c; values known at build time are computed by onnx_host.c. */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "nn/onnx/onnx_net_internal.h"

/* ---- small helpers ------------------------------------------------------- */

hwa_status hwa__onnx_node_err(hwa_ctx *ctx, const hwa_onnx_node *n, hwa_status s, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hwa__err(ctx, s, "node '%s' (%s): %s", n->name[0] || !n->n_outputs ? n->name : n->outputs[0], n->op_type,
                    msg);
}

bool hwa__onnx_is_int(int type) {
    switch (type) {
    case HWA_ONNX_UINT8: case HWA_ONNX_INT8: case HWA_ONNX_UINT16: case HWA_ONNX_INT16: case HWA_ONNX_INT32:
    case HWA_ONNX_INT64: case HWA_ONNX_UINT32: case HWA_ONNX_UINT64: return true;
    default: return false;
    }
}

bool hwa__onnx_is_float(int type) {
    return type == HWA_ONNX_FLOAT || type == HWA_ONNX_DOUBLE || type == HWA_ONNX_FLOAT16 || type == HWA_ONNX_BFLOAT16;
}

bool hwa__onnx_graph_dtype(int type, hwa_dtype *out) {
    if (hwa__onnx_is_float(type) || type == HWA_ONNX_BOOL) *out = HWA_F32;
    else if (hwa__onnx_is_int(type)) *out = HWA_I32;
    else return false;
    return true;
}

double hwa__onnx_get_f(const hwa_onnx_array *a, int64_t i) {
    const void *d = a->data;
    switch (a->type) {
    case HWA_ONNX_FLOAT: return ((const float *)d)[i];
    case HWA_ONNX_DOUBLE: return ((const double *)d)[i];
    case HWA_ONNX_FLOAT16: return hwa_f16_to_f32(((const uint16_t *)d)[i]);
    case HWA_ONNX_BFLOAT16: return hwa_bf16_to_f32(((const uint16_t *)d)[i]);
    case HWA_ONNX_UINT64: return (double)((const uint64_t *)d)[i];
    default: return (double)hwa__onnx_get_i(a, i);
    }
}

int64_t hwa__onnx_get_i(const hwa_onnx_array *a, int64_t i) {
    const void *d = a->data;
    switch (a->type) {
    case HWA_ONNX_UINT8: case HWA_ONNX_BOOL: return ((const uint8_t *)d)[i];
    case HWA_ONNX_INT8: return ((const int8_t *)d)[i];
    case HWA_ONNX_UINT16: return ((const uint16_t *)d)[i];
    case HWA_ONNX_INT16: return ((const int16_t *)d)[i];
    case HWA_ONNX_INT32: return ((const int32_t *)d)[i];
    case HWA_ONNX_INT64: return ((const int64_t *)d)[i];
    case HWA_ONNX_UINT32: return ((const uint32_t *)d)[i];
    case HWA_ONNX_UINT64: {
        const uint64_t u = ((const uint64_t *)d)[i];
        return u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u;
    }
    default: {
        /* a float read as an integer: truncated, saturated, NaN as 0 */
        const double f = hwa__onnx_get_f(a, i);
        if (f != f) return 0;
        if (f >= 9.2e18) return INT64_MAX;
        if (f <= -9.2e18) return INT64_MIN;
        return (int64_t)f;
    }
    }
}

void hwa__onnx_put_f(hwa_onnx_array *a, int64_t i, double v) {
    void *d = (void *)a->data;
    switch (a->type) {
    case HWA_ONNX_FLOAT: ((float *)d)[i] = (float)v; return;
    case HWA_ONNX_DOUBLE: ((double *)d)[i] = v; return;
    case HWA_ONNX_FLOAT16: ((uint16_t *)d)[i] = hwa_f32_to_f16((float)v); return;
    case HWA_ONNX_BFLOAT16: ((uint16_t *)d)[i] = hwa_f32_to_bf16((float)v); return;
    case HWA_ONNX_BOOL: ((uint8_t *)d)[i] = v != 0; return;
    default: {
        int64_t x = 0;
        if (v != v) x = 0;
        else if (v >= 9.2e18) x = INT64_MAX;
        else if (v <= -9.2e18) x = INT64_MIN;
        else x = (int64_t)v;
        hwa__onnx_put_i(a, i, x);
    }
    }
}

void hwa__onnx_put_i(hwa_onnx_array *a, int64_t i, int64_t v) {
    void *d = (void *)a->data;
    switch (a->type) {
    case HWA_ONNX_UINT8: ((uint8_t *)d)[i] = (uint8_t)v; return;
    case HWA_ONNX_BOOL: ((uint8_t *)d)[i] = v != 0; return;
    case HWA_ONNX_INT8: ((int8_t *)d)[i] = (int8_t)v; return;
    case HWA_ONNX_UINT16: ((uint16_t *)d)[i] = (uint16_t)v; return;
    case HWA_ONNX_INT16: ((int16_t *)d)[i] = (int16_t)v; return;
    case HWA_ONNX_INT32: ((int32_t *)d)[i] = (int32_t)v; return;
    case HWA_ONNX_INT64: ((int64_t *)d)[i] = v; return;
    case HWA_ONNX_UINT32: ((uint32_t *)d)[i] = (uint32_t)v; return;
    case HWA_ONNX_UINT64: ((uint64_t *)d)[i] = (uint64_t)v; return;
    default: hwa__onnx_put_f(a, i, (double)v); return;
    }
}

bool hwa__onnx_numel(const int64_t *dims, int lo, int hi, int64_t *n) {
    *n = 1;
    for (int d = lo; d < hi; d++)
        if (dims[d] < 0 || !hwa__mul_i64(*n, dims[d], n)) return false;
    return true;
}

static bool grow(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return true;
    int nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return false;
    *p = q;
    *cap = nc;
    return true;
}

hwa_status hwa__onnx_host_new(hwa_onnx_net *net, int type, int ndim, const int64_t *dims, hwa_onnx_array **out) {
    *out = NULL;
    if (!grow((void **)&net->owned, &net->cap_owned, net->n_owned + 1, sizeof *net->owned))
        return hwa__err(net->ctx, HWA_E_NOMEM, "onnx: out of memory for a computed value");
    hwa_status st = hwa_onnx_array_new("", type, ndim, dims, NULL, out);
    if (st) return hwa__err(net->ctx, st, "onnx: %s", hwa_last_error());
    net->owned[net->n_owned++] = *out;
    return HWA_OK;
}

/* ---- value names ---------------------------------------------------------- */

static uint32_t name_hash(const char *s) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* The id of name, or -1. */
static int find_val(const hwa_onnx_net *net, const char *name) {
    for (uint32_t i = name_hash(name) & (net->hash_cap - 1);; i = (i + 1) & (net->hash_cap - 1)) {
        const uint32_t s = net->hash_slots[i];
        if (!s) return -1;
        if (!strcmp(net->names[s - 1], name)) return (int)s - 1;
    }
}

/* The id of name, interned when new. */
static int intern(hwa_onnx_net *net, const char *name) {
    int id = find_val(net, name);
    if (id >= 0) return id;
    id = net->n_vals++;
    net->names[id] = name;
    uint32_t i = name_hash(name) & (net->hash_cap - 1);
    while (net->hash_slots[i]) i = (i + 1) & (net->hash_cap - 1);
    net->hash_slots[i] = (uint32_t)id + 1;
    return id;
}

static hwa_status intern_all(hwa_onnx_net *net) {
    const hwa_onnx *m = net->m;
    const int nn = hwa_onnx_n_nodes(m);
    size_t most = (size_t)hwa_onnx_n_inputs(m) + (size_t)hwa_onnx_n_initializers(m) + 1, n_in = 0, n_out = 0;
    for (int i = 0; i < nn; i++) {
        n_in += (size_t)hwa_onnx_node_at(m, i)->n_inputs;
        n_out += (size_t)hwa_onnx_node_at(m, i)->n_outputs;
    }
    most += n_out + (size_t)hwa_onnx_n_outputs(m);
    if (most > (1u << 28)) return hwa__err(net->ctx, HWA_E_UNSUPPORTED, "onnx: %zu values: too many", most);
    net->hash_cap = 16;
    while (net->hash_cap < 2 * most) net->hash_cap *= 2;
    net->names = calloc(most, sizeof *net->names);
    net->hash_slots = calloc(net->hash_cap, sizeof *net->hash_slots);
    net->node_in = calloc(n_in + 1, sizeof *net->node_in);
    net->node_out = calloc(n_out + 1, sizeof *net->node_out);
    net->node_in_at = calloc((size_t)nn + 1, sizeof *net->node_in_at);
    net->node_out_at = calloc((size_t)nn + 1, sizeof *net->node_out_at);
    if (!net->names || !net->hash_slots || !net->node_in || !net->node_out || !net->node_in_at || !net->node_out_at)
        return hwa__err(net->ctx, HWA_E_NOMEM, "onnx: out of memory for %zu value names", most);
    for (int i = 0; i < hwa_onnx_n_inputs(m); i++) intern(net, hwa_onnx_input(m, i)->name);
    for (int i = 0; i < hwa_onnx_n_initializers(m); i++) intern(net, hwa_onnx_initializer(m, i)->name);
    size_t ki = 0, ko = 0;
    for (int i = 0; i < nn; i++) {
        const hwa_onnx_node *n = hwa_onnx_node_at(m, i);
        net->node_in_at[i] = (int)ki;
        net->node_out_at[i] = (int)ko;
        for (int k = 0; k < n->n_inputs; k++) net->node_in[ki++] = n->inputs[k][0] ? intern(net, n->inputs[k]) : -1;
        for (int k = 0; k < n->n_outputs; k++)
            net->node_out[ko++] = n->outputs[k][0] ? intern(net, n->outputs[k]) : -1;
    }
    net->node_in_at[nn] = (int)ki;
    net->node_out_at[nn] = (int)ko;
    for (int i = 0; i < hwa_onnx_n_outputs(m); i++) intern(net, hwa_onnx_output(m, i)->name);
    net->init = calloc((size_t)net->n_vals, sizeof *net->init);
    net->init_leaf = calloc((size_t)net->n_vals, sizeof *net->init_leaf);
    net->vals = calloc((size_t)net->n_vals, sizeof *net->vals);
    if (!net->init || !net->init_leaf || !net->vals) return hwa__err(net->ctx, HWA_E_NOMEM, "onnx: out of memory");
    for (int i = 0; i < hwa_onnx_n_initializers(m); i++) {
        const hwa_onnx_array *a = hwa_onnx_initializer(m, i);
        net->init[find_val(net, a->name)] = a;
    }
    return HWA_OK;
}

/* ---- leaves ---------------------------------------------------------------- */

static hwa_status add_leaf(hwa_onnx_net *net, hwa_tensor *t, const hwa_onnx_array *a) {
    if (!grow((void **)&net->leaves, &net->cap_leaves, net->n_leaves + 1, sizeof *net->leaves))
        return hwa__err(net->ctx, HWA_E_NOMEM, "onnx: out of memory");
    net->leaves[net->n_leaves++] = (hwa__onnx_leaf){.t = t, .a = a, .loaded = false};
    return HWA_OK;
}

/* A leaf of a's graph dtype and shape (rank 0: [1]); err names where it is needed. */
static hwa_status make_leaf(hwa_onnx_net *net, const hwa_onnx_array *a, const char *what, hwa_tensor **out) {
    hwa_dtype dt;
    if (!hwa__onnx_graph_dtype(a->type, &dt))
        return hwa__err(net->ctx, HWA_E_UNSUPPORTED, "%s: %s values cannot be graph tensors", what,
                        hwa_onnx_type_name(a->type));
    if (a->ndim > HWA_MAX_DIMS)
        return hwa__err(net->ctx, HWA_E_UNSUPPORTED, "%s: %d dims (graph tensors have at most %d)", what, a->ndim,
                        HWA_MAX_DIMS);
    if (a->n == 0) return hwa__err(net->ctx, HWA_E_UNSUPPORTED, "%s: an empty tensor cannot be a graph tensor", what);
    const int64_t one = 1;
    hwa_tensor *t = hwa_tensor_new(net->ctx, dt, a->ndim ? a->ndim : 1, a->ndim ? a->dims : &one);
    if (!t) return hwa_ctx_last_status(net->ctx);
    if (a->name && a->name[0]) hwa_tensor_set_name(t, a->name);
    hwa_status st = add_leaf(net, t, a);
    if (!st) *out = t;
    return st;
}

hwa_status hwa__onnx_tensor(hwa__onnx_op *o, hwa__oval *v, hwa_tensor **out) {
    hwa_onnx_net *net = o->net;
    if (!v->t && net->init[v->id] && net->init_leaf[v->id]) v->t = net->init_leaf[v->id];
    if (!v->t) {
        if (!v->host) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_INTERNAL, "value '%s' has no tensor",
                                                net->names[v->id]);
        char what[160];
        snprintf(what, sizeof what, "node '%s' (%s): input '%.60s'", o->node->name, o->node->op_type,
                 net->names[v->id]);
        hwa_status st = make_leaf(net, v->host, what, &v->t);
        if (st) return st;
        if (net->init[v->id]) net->init_leaf[v->id] = v->t;
    }
    *out = v->t;
    return HWA_OK;
}

hwa_status hwa__onnx_const(hwa__onnx_op *o, const hwa_onnx_array *a, hwa_tensor **out) {
    char what[120];
    snprintf(what, sizeof what, "node '%.60s' (%s): a constant", o->node->name, o->node->op_type);
    return make_leaf(o->net, a, what, out);
}

hwa_status hwa__onnx_scalar(hwa__onnx_op *o, float v, hwa_tensor **out) {
    hwa_onnx_array *a;
    hwa_status st = hwa__onnx_host_new(o->net, HWA_ONNX_FLOAT, 0, NULL, &a);
    if (st) return st;
    ((float *)a->data)[0] = v;
    return hwa__onnx_const(o, a, out);
}

hwa_status hwa__onnx_set_out(hwa__onnx_op *o, int k, hwa_tensor *t, int type, int ndim) {
    if (!t) return hwa__onnx_builder_err(o);
    hwa__oval *v = o->out[k];
    if (!v) return HWA_OK; /* an output nobody reads */
    v->t = t;
    v->host = NULL;
    v->type = type;
    v->ndim = ndim;
    if (ndim > 0 && ndim != hwa_tensor_ndim(t))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_INTERNAL, "rank %d for a tensor of rank %d", ndim,
                                  hwa_tensor_ndim(t));
    for (int d = 0; d < ndim; d++) v->dims[d] = hwa_tensor_dim(t, d);
    v->ready = true;
    return HWA_OK;
}

void hwa__onnx_set_known(hwa__onnx_op *o, int k, const hwa_onnx_array *a) {
    hwa__oval *v = o->out[k];
    if (!v) return;
    v->host = a;
    v->t = NULL;
    v->type = a->type;
    v->ndim = a->ndim;
    memcpy(v->dims, a->dims, sizeof v->dims);
    v->ready = true;
}

hwa_status hwa__onnx_builder_err(hwa__onnx_op *o) {
    hwa_status st = hwa_ctx_last_status(o->ctx);
    if (!st) st = HWA_E_INTERNAL;
    char prev[400];
    snprintf(prev, sizeof prev, "%s", hwa_ctx_last_error(o->ctx));
    return hwa__onnx_node_err(o->ctx, o->node, st, "%s", prev);
}

/* ---- the net ----------------------------------------------------------------- */

/* Unsupported op types, counted, for the one message that lists them all. */
typedef struct missing_op {
    const char *domain, *op;
    int count;
} missing_op;

/* The model's inputs and outputs must be tensors of a type a graph tensor
 * can hold (not sequences, optionals or maps, which the reader leaves
 * without an element type; not strings). */
static hwa_status check_io_types(hwa_onnx_net *net) {
    const hwa_onnx *m = net->m;
    hwa_dtype dt;
    for (int i = 0; i < hwa_onnx_n_inputs(m) + hwa_onnx_n_outputs(m); i++) {
        const bool in = i < hwa_onnx_n_inputs(m);
        const hwa_onnx_value *v = in ? hwa_onnx_input(m, i) : hwa_onnx_output(m, i - hwa_onnx_n_inputs(m));
        if (v->type == HWA_ONNX_UNDEFINED)
            return hwa__err(net->ctx, HWA_E_UNSUPPORTED, "%s: %s '%s' is not a tensor (sequence, optional and map values are not supported)",
                            hwa_onnx_path(m), in ? "input" : "output", v->name);
        if (!hwa__onnx_graph_dtype(v->type, &dt) || v->type == HWA_ONNX_BFLOAT16)
            return hwa__err(net->ctx, HWA_E_UNSUPPORTED, "%s: %s '%s' is %s", hwa_onnx_path(m),
                            in ? "input" : "output", v->name, hwa_onnx_type_name(v->type));
    }
    return HWA_OK;
}

static hwa_status check_nodes(hwa_onnx_net *net) {
    const hwa_onnx *m = net->m;
    const int nn = hwa_onnx_n_nodes(m);
    missing_op *miss = calloc((size_t)nn + 1, sizeof *miss);
    if (!miss) return hwa__err(net->ctx, HWA_E_NOMEM, "onnx: out of memory");
    int n_miss = 0, n_kinds = 0;
    hwa_status first = HWA_OK;
    char first_msg[512] = "";
    for (int i = 0; i < nn; i++) {
        const hwa_onnx_node *n = hwa_onnx_node_at(m, i);
        const hwa__onnx_opdef *d = n->domain[0] ? NULL : hwa__onnx_find_op(n->op_type);
        if (!d) {
            int k = 0;
            while (k < n_kinds && (strcmp(miss[k].op, n->op_type) || strcmp(miss[k].domain, n->domain))) k++;
            if (k == n_kinds) miss[n_kinds++] = (missing_op){n->domain, n->op_type, 0};
            miss[k].count++;
            n_miss++;
            continue;
        }
        if (n->n_inputs > HWA__ONNX_MAX_IN || n->n_outputs > HWA__ONNX_MAX_OUT) {
            if (!first) {
                first = hwa__onnx_node_err(net->ctx, n, HWA_E_UNSUPPORTED, "%d inputs and %d outputs", n->n_inputs,
                                           n->n_outputs);
                snprintf(first_msg, sizeof first_msg, "%s", hwa_ctx_last_error(net->ctx));
            }
            continue;
        }
        if (!first && d->check) {
            first = d->check(net, n);
            if (first) snprintf(first_msg, sizeof first_msg, "%s", hwa_ctx_last_error(net->ctx));
        }
    }
    hwa_status st = HWA_OK;
    if (n_miss) {
        char msg[1024];
        size_t at = (size_t)snprintf(msg, sizeof msg, "%s: %d node(s) of unsupported ops:", hwa_onnx_path(m), n_miss);
        for (int k = 0; k < n_kinds && at < sizeof msg; k++)
            at += (size_t)snprintf(msg + at, sizeof msg - at, "%s %s%s%s x%d", k ? "," : "", miss[k].domain,
                                   miss[k].domain[0] ? "/" : "", miss[k].op, miss[k].count);
        st = hwa__err(net->ctx, HWA_E_UNSUPPORTED, "%s", msg);
    } else if (first) {
        st = hwa__err(net->ctx, first, "%s: %s", hwa_onnx_path(m), first_msg);
    }
    free(miss);
    return st;
}

hwa_status hwa_onnx_net_new(const hwa_onnx *model, hwa_ctx *ctx, const hwa_onnx_net_opts *opts,
                            hwa_onnx_net **out) {
    if (out) *out = NULL;
    if (!model || !ctx || !out) return hwa__err(ctx, HWA_E_MISUSE, "hwa_onnx_net_new: NULL argument");
    hwa_onnx_net *net = calloc(1, sizeof *net);
    if (!net) return hwa__err(ctx, HWA_E_NOMEM, "onnx: out of memory");
    net->m = model;
    net->ctx = ctx;
    if (opts) net->opts = *opts;
    net->opset = hwa_onnx_opset(model, "");
    hwa_status st = intern_all(net);
    if (!st) st = check_nodes(net);
    if (!st) st = check_io_types(net);
    /* the float initializers' leaves, made once for every build */
    for (int i = 0; !st && i < hwa_onnx_n_initializers(model); i++) {
        const hwa_onnx_array *a = hwa_onnx_initializer(model, i);
        if (!hwa__onnx_is_float(a->type) || a->ndim > HWA_MAX_DIMS || a->n == 0) continue;
        const int id = find_val(net, a->name);
        char what[120];
        snprintf(what, sizeof what, "initializer '%.80s'", a->name);
        st = make_leaf(net, a, what, &net->init_leaf[id]);
        if (!st && net->opts.trainable) st = hwa_tensor_set_param(net->init_leaf[id]);
    }
    if (st) {
        hwa_onnx_net_free(net);
        return st;
    }
    *out = net;
    return HWA_OK;
}

void hwa_onnx_net_free(hwa_onnx_net *net) {
    if (!net) return;
    for (int i = 0; i < net->n_owned; i++) hwa_onnx_array_free(net->owned[i]);
    for (int i = 0; i < net->n_ios; i++) free(net->ios[i]);
    free(net->owned);
    free(net->ios);
    free(net->leaves);
    free(net->names);
    free(net->hash_slots);
    free(net->node_in);
    free(net->node_out);
    free(net->node_in_at);
    free(net->node_out_at);
    free(net->init);
    free(net->init_leaf);
    free(net->vals);
    free(net);
}

/* ---- builds ------------------------------------------------------------------- */

static hwa_onnx_io *new_ios(hwa_onnx_net *net, int n) {
    if (!grow((void **)&net->ios, &net->cap_ios, net->n_ios + 1, sizeof *net->ios)) return NULL;
    hwa_onnx_io *io = calloc((size_t)n + 1, sizeof *io);
    if (io) net->ios[net->n_ios++] = io;
    return io;
}

/* Input i's concrete shape: the one given (checked against the
 * declaration), or the declared one with batch for its symbolic dims. */
static hwa_status input_shape(hwa_onnx_net *net, int i, const hwa_onnx_shape *given, int64_t batch,
                              hwa_onnx_shape *sh) {
    const hwa_onnx_value *d = hwa_onnx_input(net->m, i);
    if (given) {
        *sh = *given;
        if (sh->ndim < 0 || sh->ndim > HWA_ONNX_MAX_DIMS)
            return hwa__err(net->ctx, HWA_E_INVALID, "input '%s': rank %d", d->name, sh->ndim);
        if (d->ndim >= 0 && d->ndim != sh->ndim)
            return hwa__err(net->ctx, HWA_E_INVALID, "input '%s' has rank %d; the shape given has %d", d->name,
                            d->ndim, sh->ndim);
        for (int k = 0; k < sh->ndim; k++) {
            if (sh->dims[k] < 0)
                return hwa__err(net->ctx, HWA_E_INVALID, "input '%s': dim %d is %lld", d->name, k,
                                (long long)sh->dims[k]);
            if (d->ndim >= 0 && d->dims[k] >= 0 && !d->dim_param[k] && d->dims[k] != sh->dims[k])
                return hwa__err(net->ctx, HWA_E_INVALID, "input '%s': dim %d is fixed at %lld; got %lld", d->name, k,
                                (long long)d->dims[k], (long long)sh->dims[k]);
        }
        return HWA_OK;
    }
    if (d->ndim < 0)
        return hwa__err(net->ctx, HWA_E_INVALID, "input '%s' has no declared rank: give its shape", d->name);
    sh->ndim = d->ndim;
    for (int k = 0; k < d->ndim; k++) {
        if (d->dims[k] >= 0 && !d->dim_param[k]) {
            sh->dims[k] = d->dims[k];
            continue;
        }
        if (batch < 1)
            return hwa__err(net->ctx, HWA_E_INVALID, "input '%s': dim %d is symbolic (%s): give a batch >= 1",
                            d->name, k, d->dim_param[k] ? d->dim_param[k] : "unknown");
        sh->dims[k] = batch;
    }
    return HWA_OK;
}

/* Input i fixed to value a: checked against the declaration, copied. */
static hwa_status fix_input(hwa_onnx_net *net, int i, const hwa_onnx_array *a, hwa__oval *v, hwa_onnx_io *io) {
    const hwa_onnx_value *d = hwa_onnx_input(net->m, i);
    hwa_onnx_shape given = {.ndim = a->ndim}, sh;
    memcpy(given.dims, a->dims, sizeof given.dims);
    hwa_status st = input_shape(net, i, &given, 0, &sh);
    if (st) return st;
    if (a->type != d->type)
        return hwa__err(net->ctx, HWA_E_DTYPE, "input '%s' is %s; the value fixed is %s", d->name,
                        hwa_onnx_type_name(d->type), hwa_onnx_type_name(a->type));
    hwa_onnx_array *c;
    if ((st = hwa__onnx_host_new(net, a->type, a->ndim, a->dims, &c))) return st;
    if (a->n) memcpy((void *)c->data, a->data, (size_t)a->n * hwa_onnx_type_size(a->type));
    v->host = c;
    io->fixed = c;
    return HWA_OK;
}

static hwa_status build_inputs(hwa_onnx_net *net, const hwa_onnx_shape *shapes, int64_t batch,
                               const hwa_onnx_array *const *fixed, hwa_onnx_io *io) {
    for (int i = 0; i < hwa_onnx_n_inputs(net->m); i++) {
        const hwa_onnx_value *d = hwa_onnx_input(net->m, i);
        hwa_onnx_shape sh;
        hwa_status st;
        if (fixed && fixed[i]) {
            sh.ndim = fixed[i]->ndim;
            memcpy(sh.dims, fixed[i]->dims, sizeof sh.dims);
        } else if ((st = input_shape(net, i, shapes ? &shapes[i] : NULL, batch, &sh))) {
            return st;
        }
        hwa__oval *v = &net->vals[find_val(net, d->name)];
        v->type = d->type == HWA_ONNX_UNDEFINED ? HWA_ONNX_FLOAT : d->type;
        v->ndim = sh.ndim;
        memcpy(v->dims, sh.dims, sizeof v->dims);
        v->ready = true;
        io[i] = (hwa_onnx_io){.name = d->name, .type = v->type, .ndim = sh.ndim};
        memcpy(io[i].dims, sh.dims, sizeof io[i].dims);
        if (fixed && fixed[i]) {
            if ((st = fix_input(net, i, fixed[i], v, &io[i]))) return st;
            continue;
        }
        hwa_dtype dt;
        if (!hwa__onnx_graph_dtype(v->type, &dt))
            return hwa__err(net->ctx, HWA_E_UNSUPPORTED, "input '%s': %s inputs are not supported", d->name,
                            hwa_onnx_type_name(v->type));
        int64_t n;
        if (!hwa__onnx_numel(sh.dims, 0, sh.ndim, &n))
            return hwa__err(net->ctx, HWA_E_OVERFLOW, "input '%s': the shape's element count overflows", d->name);
        if (n == 0) {
            /* an empty input holds no data: it is known now (an op may
             * take it as "no axes", say), and has no tensor */
            hwa_onnx_array *a;
            if ((st = hwa__onnx_host_new(net, v->type, sh.ndim, sh.dims, &a))) return st;
            v->host = a;
            continue;
        }
        if (sh.ndim > HWA_MAX_DIMS)
            return hwa__err(net->ctx, HWA_E_UNSUPPORTED, "input '%s': %d dims (graph tensors have at most %d)",
                            d->name, sh.ndim, HWA_MAX_DIMS);
        const int64_t one = 1;
        v->t = hwa_tensor_new(net->ctx, dt, sh.ndim ? sh.ndim : 1, sh.ndim ? sh.dims : &one);
        if (!v->t) return hwa_ctx_last_status(net->ctx);
        hwa_tensor_set_name(v->t, d->name);
        io[i].t = v->t;
    }
    return HWA_OK;
}

static hwa_status map_node(hwa_onnx_net *net, int i) {
    const hwa_onnx_node *n = hwa_onnx_node_at(net->m, i);
    hwa__onnx_op o = {.net = net, .ctx = net->ctx, .node = n, .index = i, .n_in = n->n_inputs,
                      .n_out = n->n_outputs};
    for (int k = 0; k < n->n_inputs; k++) {
        const int id = net->node_in[net->node_in_at[i] + k];
        o.in[k] = id >= 0 ? &net->vals[id] : NULL;
        if (o.in[k] && !o.in[k]->ready)
            return hwa__onnx_node_err(net->ctx, n, HWA_E_FORMAT, "input '%s' is not computed before it",
                                      n->inputs[k]);
    }
    for (int k = 0; k < n->n_outputs; k++) {
        const int id = net->node_out[net->node_out_at[i] + k];
        o.out[k] = id >= 0 ? &net->vals[id] : NULL;
    }
    const hwa__onnx_opdef *d = hwa__onnx_find_op(n->op_type);
    if (!d) return hwa__onnx_node_err(net->ctx, n, HWA_E_UNSUPPORTED, "unsupported op");
    hwa_status st = d->map(&o);
    for (int k = 0; !st && k < n->n_outputs; k++)
        if (o.out[k] && !o.out[k]->ready)
            st = hwa__onnx_node_err(net->ctx, n, HWA_E_UNSUPPORTED, "output %d ('%s') is not produced", k,
                                    n->outputs[k]);
    return st;
}

hwa_status hwa_onnx_net_build(hwa_onnx_net *net, const hwa_onnx_shape *shapes, int64_t batch,
                              hwa_onnx_io **inputs, hwa_onnx_io **outputs) {
    return hwa_onnx_net_build_fixed(net, shapes, batch, NULL, inputs, outputs);
}

hwa_status hwa_onnx_net_build_fixed(hwa_onnx_net *net, const hwa_onnx_shape *shapes, int64_t batch,
                                    const hwa_onnx_array *const *fixed, hwa_onnx_io **inputs,
                                    hwa_onnx_io **outputs) {
    if (!net || !inputs || !outputs) return hwa__err(net ? net->ctx : NULL, HWA_E_MISUSE, "hwa_onnx_net_build: NULL");
    *inputs = *outputs = NULL;
    const hwa_onnx *m = net->m;
    hwa_onnx_io *in = new_ios(net, hwa_onnx_n_inputs(m)), *out = new_ios(net, hwa_onnx_n_outputs(m));
    if (!in || !out) return hwa__err(net->ctx, HWA_E_NOMEM, "onnx: out of memory");
    memset(net->vals, 0, (size_t)net->n_vals * sizeof *net->vals);
    for (int i = 0; i < net->n_vals; i++) net->vals[i].id = i;
    /* initializers: known values, but float ones of a trainable net are
     * parameters and must stay tensors (a folded copy would not train) */
    for (int i = 0; i < hwa_onnx_n_initializers(m); i++) {
        const hwa_onnx_array *a = hwa_onnx_initializer(m, i);
        hwa__oval *v = &net->vals[find_val(net, a->name)];
        v->type = a->type;
        v->ndim = a->ndim;
        memcpy(v->dims, a->dims, sizeof v->dims);
        v->t = net->init_leaf[v->id];
        v->host = net->opts.trainable && v->t ? NULL : a;
        v->ready = true;
    }
    hwa_status st = build_inputs(net, shapes, batch, fixed, in);
    for (int i = 0; !st && i < hwa_onnx_n_nodes(m); i++) st = map_node(net, i);
    for (int i = 0; !st && i < hwa_onnx_n_outputs(m); i++) {
        const hwa_onnx_value *d = hwa_onnx_output(m, i);
        hwa__oval *v = &net->vals[find_val(net, d->name)];
        if (!v->ready) {
            st = hwa__err(net->ctx, HWA_E_FORMAT, "output '%s' is computed by no node", d->name);
            break;
        }
        if (!v->t && v->host->n > 0) {
            char what[120];
            snprintf(what, sizeof what, "output '%.80s'", d->name);
            st = make_leaf(net, v->host, what, &v->t);
            if (st) break;
        }
        /* outputs are read back contiguous (a Transpose is a view); an
         * empty one has no tensor */
        if (v->t && !hwa_tensor_is_contiguous(v->t) && !(v->t = hwa_cont(net->ctx, v->t))) {
            st = hwa_ctx_last_status(net->ctx);
            break;
        }
        out[i] = (hwa_onnx_io){.name = d->name, .type = v->type, .ndim = v->ndim, .t = v->t};
        memcpy(out[i].dims, v->dims, sizeof out[i].dims);
    }
    if (st) {
        if (hwa_ctx_last_error(net->ctx)[0]) hwa__err(net->ctx, st, "%s", hwa_ctx_last_error(net->ctx));
        return st;
    }
    *inputs = in;
    *outputs = out;
    return HWA_OK;
}

/* ---- loading, inputs and outputs ------------------------------------------------ */

/* Writes array a into t (f32 or i32, same element count). */
static hwa_status write_array(hwa_ctx *ctx, hwa_tensor *t, const hwa_onnx_array *a, const char *what) {
    if (hwa_tensor_dtype(t) == HWA_F32 && a->type == HWA_ONNX_FLOAT)
        return hwa_tensor_set_bytes(t, a->data, (size_t)a->n * sizeof(float));
    if (hwa_tensor_dtype(t) == HWA_I32 && a->type == HWA_ONNX_INT32)
        return hwa_tensor_set_bytes(t, a->data, (size_t)a->n * sizeof(int32_t));
    size_t bytes;
    if (!hwa__mul_size((size_t)a->n, 4, &bytes)) return hwa__err(ctx, HWA_E_OVERFLOW, "%s: too large", what);
    void *buf = malloc(bytes ? bytes : 1);
    if (!buf) return hwa__err(ctx, HWA_E_NOMEM, "%s: out of memory for %zu bytes", what, bytes);
    hwa_status st = HWA_OK;
    if (hwa_tensor_dtype(t) == HWA_F32) {
        for (int64_t i = 0; i < a->n; i++) ((float *)buf)[i] = (float)hwa__onnx_get_f(a, i);
    } else {
        for (int64_t i = 0; i < a->n && !st; i++) {
            const int64_t x = hwa__onnx_get_i(a, i);
            if (x < INT32_MIN || x > INT32_MAX || (a->type == HWA_ONNX_UINT64 && x == INT64_MAX))
                st = hwa__err(ctx, HWA_E_RANGE, "%s: element %lld (%lld) does not fit in int32", what, (long long)i,
                              (long long)x);
            else ((int32_t *)buf)[i] = (int32_t)x;
        }
    }
    if (!st) st = hwa_tensor_set_bytes(t, buf, bytes);
    free(buf);
    return st;
}

hwa_status hwa_onnx_net_load_params(hwa_onnx_net *net) {
    if (!net) return hwa__err(NULL, HWA_E_MISUSE, "hwa_onnx_net_load_params: NULL net");
    for (int i = 0; i < net->n_leaves; i++) {
        hwa__onnx_leaf *l = &net->leaves[i];
        if (l->loaded) continue;
        if (!hwa__storage(l->t)->buffer)
            return hwa__err(net->ctx, HWA_E_MISUSE, "onnx: leaf '%s' has no data: call hwa_ctx_alloc_leaves first",
                            hwa_tensor_name(l->t));
        char what[120];
        snprintf(what, sizeof what, "constant '%.80s'", hwa_tensor_name(l->t));
        hwa_status st = write_array(net->ctx, l->t, l->a, what);
        if (st) return st;
        l->loaded = true;
    }
    return HWA_OK;
}

hwa_status hwa_onnx_io_set(const hwa_onnx_io *in, const hwa_onnx_array *a) {
    if (!in || !a) return hwa__err(NULL, HWA_E_MISUSE, "hwa_onnx_io_set: NULL argument");
    if (in->fixed) {
        /* the value the graph was built for, or nothing */
        const hwa_onnx_array *f = in->fixed;
        bool same = a->type == f->type && a->ndim == f->ndim && a->n == f->n;
        for (int d = 0; same && d < a->ndim; d++) same = a->dims[d] == f->dims[d];
        if (same && a->n) same = !memcmp(a->data, f->data, (size_t)a->n * hwa_onnx_type_size(a->type));
        return same ? HWA_OK
                    : hwa__err(NULL, HWA_E_INVALID, "input '%s' was fixed when the graph was built: another value "
                               "needs another build", in->name);
    }
    if (!in->t) {
        /* an empty input: nothing to write, but the shape must be the one built for */
        bool same = a->ndim == in->ndim && a->n == 0;
        for (int d = 0; same && d < a->ndim; d++) same = a->dims[d] == in->dims[d];
        return same ? HWA_OK : hwa__err(NULL, HWA_E_SHAPE, "input '%s' was built empty; got another shape", in->name);
    }
    hwa_ctx *ctx = in->t->ctx;
    const bool want_int = hwa_tensor_dtype(in->t) == HWA_I32;
    const bool is_int = hwa__onnx_is_int(a->type), is_float = hwa__onnx_is_float(a->type) || a->type == HWA_ONNX_BOOL;
    if ((want_int && !is_int) || (!want_int && !is_float))
        return hwa__err(ctx, HWA_E_DTYPE, "input '%s' is %s; got %s", in->name, hwa_onnx_type_name(in->type),
                        hwa_onnx_type_name(a->type));
    bool same = a->ndim == in->ndim;
    for (int d = 0; same && d < a->ndim; d++) same = a->dims[d] == in->dims[d];
    if (!same) {
        char want[128] = "[", got[128] = "[";
        for (int d = 0; d < in->ndim; d++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? "," : "", (long long)in->dims[d]);
        for (int d = 0; d < a->ndim; d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? "," : "", (long long)a->dims[d]);
        return hwa__err(ctx, HWA_E_SHAPE, "input '%s' is %s]; got %s]", in->name, want, got);
    }
    char what[120];
    snprintf(what, sizeof what, "input '%.80s'", in->name);
    return write_array(ctx, in->t, a, what);
}

hwa_status hwa_onnx_io_get(const hwa_onnx_io *out, hwa_onnx_array **res) {
    if (!out || !res) return hwa__err(NULL, HWA_E_MISUSE, "hwa_onnx_io_get: NULL argument");
    *res = NULL;
    if (!out->t) return hwa_onnx_array_new(out->name, out->type, out->ndim, out->dims, NULL, res); /* empty */
    hwa_ctx *ctx = out->t->ctx;
    const int64_t n = hwa_tensor_nelements(out->t);
    hwa_onnx_array *a = NULL;
    hwa_status st = hwa_onnx_array_new(out->name, out->type, out->ndim, out->dims, NULL, &a);
    if (st) return hwa__err(ctx, st, "output '%s': %s", out->name, hwa_last_error());
    if (a->n != n) {
        hwa_onnx_array_free(a);
        return hwa__err(ctx, HWA_E_INTERNAL, "output '%s': %lld elements for a tensor of %lld", out->name,
                        (long long)a->n, (long long)n);
    }
    void *buf = malloc((size_t)n * 4 + 4);
    if (!buf) st = hwa__err(ctx, HWA_E_NOMEM, "output '%s': out of memory", out->name);
    const bool i32 = hwa_tensor_dtype(out->t) == HWA_I32;
    if (!st && i32) st = hwa_tensor_get_bytes(out->t, buf, (size_t)n * 4);
    else if (!st) st = hwa_tensor_get_f32(out->t, buf, n);
    for (int64_t i = 0; !st && i < n; i++) {
        if (i32) hwa__onnx_put_i(a, i, ((const int32_t *)buf)[i]);
        else if (hwa__onnx_is_int(a->type)) hwa__onnx_put_i(a, i, (int64_t)nearbyint(((const float *)buf)[i]));
        else hwa__onnx_put_f(a, i, ((const float *)buf)[i]);
    }
    free(buf);
    if (st) {
        hwa_onnx_array_free(a);
        return st;
    }
    *res = a;
    return HWA_OK;
}
