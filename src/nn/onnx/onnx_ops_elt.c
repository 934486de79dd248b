/* ONNX elementwise ops: arithmetic and comparisons with numpy's
 * multidirectional broadcasting (the first operand expanded when it must
 * grow, as hwa_add broadcasts its second only), unary maps and
 * activations, Where, Clip, and the variadic Sum, Mean, Max, Min. Integer
 * values at run time are i32 tensors, which these graph ops do not take:
 * integer arithmetic happens on the host, on known values. */
#include <math.h>
#include <string.h>

#include "nn/onnx/onnx_ops_internal.h"

typedef struct bin_fn {
    const char *name;
    int kind;    /* -1: hwa_add .. -4: hwa_div; else an hwa_binary_fn */
    bool logic;  /* result is bool */
    bool comm;   /* commutative: operands may be swapped to avoid an expansion */
} bin_fn;

static const bin_fn bin_fns[] = {
    {"Add", -1, false, true},  {"Sub", -2, false, false}, {"Mul", -3, false, true},
    {"Div", -4, false, false}, {"Pow", HWA_BIN_POW, false, false}, {"Max", HWA_BIN_MAX, false, true},
    {"Min", HWA_BIN_MIN, false, true}, {"Equal", HWA_BIN_EQ, true, true}, {"Less", HWA_BIN_LT, true, false},
    {"LessOrEqual", HWA_BIN_LE, true, false}, {"Greater", HWA_BIN_GT, true, false},
    {"GreaterOrEqual", HWA_BIN_GE, true, false}, {"And", HWA_BIN_AND, true, true}, {"Or", HWA_BIN_OR, true, true},
    {"Xor", HWA_BIN_XOR, true, true}, {"Mod", HWA_BIN_MOD, false, false},
};

static const bin_fn *find_bin(const char *name) {
    for (size_t i = 0; i < sizeof bin_fns / sizeof *bin_fns; i++)
        if (!strcmp(bin_fns[i].name, name)) return &bin_fns[i];
    return NULL;
}

/* An operand: its tensor and ONNX shape. */
typedef struct operand {
    hwa_tensor *t;
    int ndim;
    int64_t dims[HWA_ONNX_MAX_DIMS];
} operand;

/* v as an operand of a float op. Integer values computed at run time are
 * refused, but for a comparison (cmp), whose i32 operands are compared as
 * f32: exact for magnitudes below 2^24 (ids, positions, masks). */
static hwa_status operand_of(hwa__onnx_op *o, hwa__oval *v, operand *x, bool cmp) {
    const bool int_in = hwa__onnx_is_int(v->type);
    if (int_in && !cmp)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED,
                                  "%s values computed at run time (integer arithmetic is host-only)",
                                  hwa_onnx_type_name(v->type));
    x->ndim = v->ndim;
    memcpy(x->dims, v->dims, sizeof x->dims);
    hwa_status st = hwa__onnx_tensor(o, v, &x->t);
    if (!st && int_in && !(x->t = hwa_cast(o->ctx, x->t, HWA_F32))) st = hwa__onnx_builder_err(o);
    return st;
}

/* x with its tensor given the rank n (leading 1s) and expanded to od. */
static hwa_status grow_to(hwa__onnx_op *o, operand *x, int n, const int64_t *od) {
    hwa_status st = HWA_OK;
    if (x->ndim < n && n > 0) {
        int64_t d1[HWA_ONNX_MAX_DIMS];
        for (int d = 0; d < n; d++) d1[d] = d < n - x->ndim ? 1 : x->dims[d - (n - x->ndim)];
        st = hwa__onnx_reshape(o, x->t, n, d1, &x->t);
        x->ndim = n;
        memcpy(x->dims, d1, sizeof d1);
    }
    if (!st) st = hwa__onnx_expand(o, x->t, n, od, &x->t);
    if (!st) memcpy(x->dims, od, sizeof x->dims);
    return st;
}

static bool same_shape(const operand *x, int n, const int64_t *od) {
    if (x->ndim != n) return false;
    for (int d = 0; d < n; d++)
        if (x->dims[d] != od[d]) return false;
    return true;
}

/* a fn b as graph ops; the result (in *a) has the broadcast shape. */
static hwa_status bin_graph(hwa__onnx_op *o, const bin_fn *f, operand *a, operand *b) {
    int64_t od[HWA_ONNX_MAX_DIMS];
    int n;
    if (!hwa__onnx_broadcast(a->ndim, a->dims, b->ndim, b->dims, &n, od))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "shapes do not broadcast");
    if (n > HWA_MAX_DIMS)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "a result of rank %d (at most %d)", n, HWA_MAX_DIMS);
    if (f->comm && !same_shape(a, n, od) && same_shape(b, n, od)) {
        const operand t = *a;
        *a = *b;
        *b = t;
    }
    hwa_status st = grow_to(o, a, n, od);
    if (st) return st;
    hwa_tensor *r;
    switch (f->kind) {
    case -1: r = hwa_add(o->ctx, a->t, b->t); break;
    case -2: r = hwa_sub(o->ctx, a->t, b->t); break;
    case -3: r = hwa_mul(o->ctx, a->t, b->t); break;
    case -4: r = hwa_div(o->ctx, a->t, b->t); break;
    default: r = hwa_binary(o->ctx, a->t, b->t, (hwa_binary_fn)f->kind); break;
    }
    if (!r) return hwa__onnx_builder_err(o);
    a->t = r;
    return HWA_OK;
}

/* Binary and variadic ops: the name of the node's op decides. */
static hwa_status map_binary(hwa__onnx_op *o) {
    const char *name = o->node->op_type;
    const bool mean = !strcmp(name, "Mean"), sum = !strcmp(name, "Sum") || mean;
    const bin_fn *f = find_bin(sum ? "Add" : name);
    if (o->n_in < 1 || (o->n_in < 2 && !sum && strcmp(name, "Max") && strcmp(name, "Min")))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "%d inputs", o->n_in);
    for (int k = 0; k < o->n_in; k++)
        if (!o->in[k]) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "input %d is missing", k);
    const bool fmod_attr = !strcmp(name, "Mod") && hwa__onnx_attr_i(o->node, "fmod", 0);
    const bool ints = hwa__onnx_is_int(o->in[0]->type) || o->in[0]->type == HWA_ONNX_BOOL;
    if (!strcmp(name, "Mod") && !ints && !fmod_attr)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_FORMAT, "Mod of floats needs fmod=1");
    if (hwa__onnx_all_known(o) && !mean && !(fmod_attr && ints)) return hwa__onnx_host_binary(o, f->name);
    if (!strcmp(name, "Mod") && !fmod_attr)
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "integer Mod at run time");
    operand acc, b;
    const bool cmp = f->kind >= HWA_BIN_EQ && f->kind <= HWA_BIN_GE;
    hwa_status st = operand_of(o, o->in[0], &acc, cmp);
    for (int k = 1; !st && k < o->n_in; k++) {
        st = operand_of(o, o->in[k], &b, cmp);
        if (!st) st = bin_graph(o, f, &acc, &b);
    }
    if (st) return st;
    if (mean && o->n_in > 1 && !(acc.t = hwa_scale(o->ctx, acc.t, 1.0f / (float)o->n_in)))
        return hwa__onnx_builder_err(o);
    return hwa__onnx_set_out(o, 0, acc.t, f->logic ? HWA_ONNX_BOOL : o->in[0]->type, acc.ndim);
}

/* ---- unary ops ------------------------------------------------------------------ */

typedef struct un_fn {
    const char *name;
    int map;           /* an hwa_map_fn, or -1: a dedicated builder (below) */
    bool host;         /* hwa__onnx_host_unary computes it */
} un_fn;

static const un_fn un_fns[] = {
    {"Relu", -1, true},  {"Sigmoid", -1, false}, {"Tanh", -1, false}, {"Gelu", -1, false},
    {"Neg", HWA_MAP_NEG, true}, {"Abs", HWA_MAP_ABS, true}, {"Sqrt", HWA_MAP_SQRT, true},
    {"Reciprocal", HWA_MAP_RECIP, true}, {"Floor", HWA_MAP_FLOOR, true}, {"Ceil", HWA_MAP_CEIL, true},
    {"Exp", HWA_MAP_EXP, true}, {"Log", HWA_MAP_LOG, true}, {"Sign", HWA_MAP_SIGN, true},
    {"Not", HWA_MAP_NOT, true}, {"Erf", HWA_MAP_ERF, false}, {"Round", HWA_MAP_ROUND, false},
    {"Sin", HWA_MAP_SIN, false}, {"Cos", HWA_MAP_COS, false}, {"LeakyRelu", HWA_MAP_LEAKY_RELU, false},
    {"Elu", HWA_MAP_ELU, false}, {"Selu", HWA_MAP_ELU, false}, {"Softplus", HWA_MAP_SOFTPLUS, false},
    {"HardSigmoid", HWA_MAP_HARD_SIGMOID, false}, {"HardSwish", HWA_MAP_HARD_SIGMOID, false},
    {"ThresholdedRelu", -1, false},
};

static const un_fn *find_un(const char *name) {
    for (size_t i = 0; i < sizeof un_fns / sizeof *un_fns; i++)
        if (!strcmp(un_fns[i].name, name)) return &un_fns[i];
    return NULL;
}

static hwa_status check_gelu(hwa_onnx_net *net, const hwa_onnx_node *n) {
    const char *a = hwa__onnx_attr_s(n, "approximate", "none");
    if (strcmp(a, "none"))
        return hwa__onnx_node_err(net->ctx, n, HWA_E_UNSUPPORTED, "approximate=%s (only the exact, erf form)", a);
    return HWA_OK;
}

static hwa_status map_unary(hwa__onnx_op *o) {
    const char *name = o->node->op_type;
    const un_fn *f = find_un(name);
    hwa__oval *x = o->in[0];
    if (x->host && f->host) return hwa__onnx_host_unary(o, name);
    operand a;
    hwa_status st = operand_of(o, x, &a, false);
    if (st) return st;
    const hwa_onnx_node *n = o->node;
    hwa_tensor *t = a.t, *r = NULL;
    if (!strcmp(name, "Relu")) r = hwa_relu(o->ctx, t);
    else if (!strcmp(name, "Sigmoid")) r = hwa_sigmoid(o->ctx, t);
    else if (!strcmp(name, "Tanh")) r = hwa_tanh(o->ctx, t);
    else if (!strcmp(name, "Gelu")) r = hwa_gelu(o->ctx, t);
    else if (!strcmp(name, "LeakyRelu"))
        r = hwa_map(o->ctx, t, HWA_MAP_LEAKY_RELU, hwa__onnx_attr_f(n, "alpha", 0.01f), 0);
    else if (!strcmp(name, "Elu")) r = hwa_map(o->ctx, t, HWA_MAP_ELU, hwa__onnx_attr_f(n, "alpha", 1.0f), 0);
    else if (!strcmp(name, "Selu"))
        r = hwa_scale(o->ctx, hwa_map(o->ctx, t, HWA_MAP_ELU, hwa__onnx_attr_f(n, "alpha", 1.67326319217681884765625f), 0),
                      hwa__onnx_attr_f(n, "gamma", 1.05070102214813232421875f));
    else if (!strcmp(name, "HardSigmoid"))
        r = hwa_map(o->ctx, t, HWA_MAP_HARD_SIGMOID, hwa__onnx_attr_f(n, "alpha", 0.2f), hwa__onnx_attr_f(n, "beta", 0.5f));
    else if (!strcmp(name, "ThresholdedRelu")) {
        hwa_tensor *alpha;
        if ((st = hwa__onnx_scalar(o, hwa__onnx_attr_f(n, "alpha", 1.0f), &alpha))) return st;
        r = hwa_mul(o->ctx, t, hwa_binary(o->ctx, t, alpha, HWA_BIN_GT));
    } else if (!strcmp(name, "HardSwish"))
        r = hwa_mul(o->ctx, t, hwa_map(o->ctx, t, HWA_MAP_HARD_SIGMOID, 1.0f / 6.0f, 0.5f));
    else r = hwa_map(o->ctx, t, (hwa_map_fn)f->map, 0, 0);
    return hwa__onnx_set_out(o, 0, r, x->type, x->ndim);
}

/* Clip: bounds as inputs from opset 11, attributes before. */
static hwa_status map_clip(hwa__onnx_op *o) {
    hwa__oval *x = o->in[0];
    double lo = -INFINITY, hi = INFINITY;
    if (o->net->opset < 11) {
        lo = hwa__onnx_attr_f(o->node, "min", -INFINITY);
        hi = hwa__onnx_attr_f(o->node, "max", INFINITY);
    }
    for (int k = 1; k < 3 && k < o->n_in; k++) {
        if (!o->in[k]) continue;
        if (!o->in[k]->host || o->in[k]->host->n != 1)
            return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "a %s bound computed at run time",
                                      k == 1 ? "min" : "max");
        *(k == 1 ? &lo : &hi) = hwa__onnx_get_f(o->in[k]->host, 0);
    }
    if (x->host) {
        hwa_onnx_array *r;
        hwa_status st = hwa__onnx_host_new(o->net, x->type, x->ndim, x->dims, &r);
        for (int64_t i = 0; !st && i < r->n; i++) {
            const double v = hwa__onnx_get_f(x->host, i);
            hwa__onnx_put_f(r, i, v < lo ? lo : (v > hi ? hi : v));
        }
        if (!st) hwa__onnx_set_known(o, 0, r);
        return st;
    }
    operand a;
    hwa_status st = operand_of(o, x, &a, false);
    if (st) return st;
    return hwa__onnx_set_out(o, 0, hwa_map(o->ctx, a.t, HWA_MAP_CLIP, (float)lo, (float)hi), x->type, x->ndim);
}

static hwa_status map_where(hwa__onnx_op *o) {
    hwa__oval *c = o->in[0], *x = o->in[1], *y = o->in[2];
    if (c->host && x->host && y->host) {
        hwa_onnx_array *r;
        hwa_status st = hwa__onnx_host_where(o, c->host, x->host, y->host, &r);
        if (!st) hwa__onnx_set_known(o, 0, r);
        return st;
    }
    operand oc, ox, oy;
    hwa_status st = operand_of(o, c, &oc, false);
    if (!st) st = operand_of(o, x, &ox, false);
    if (!st) st = operand_of(o, y, &oy, false);
    if (st) return st;
    int64_t t[HWA_ONNX_MAX_DIMS], od[HWA_ONNX_MAX_DIMS];
    int nt, n;
    if (!hwa__onnx_broadcast(c->ndim, c->dims, x->ndim, x->dims, &nt, t) ||
        !hwa__onnx_broadcast(nt, t, y->ndim, y->dims, &n, od))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "shapes do not broadcast");
    if (n > HWA_MAX_DIMS) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "a result of rank %d", n);
    st = grow_to(o, &oc, n, od);
    if (!st) st = grow_to(o, &ox, n, od);
    if (!st) st = grow_to(o, &oy, n, od);
    return st ? st : hwa__onnx_set_out(o, 0, hwa_where(o->ctx, oc.t, ox.t, oy.t), x->type, n);
}

/* PRelu: relu(x) + slope * min(x, 0), slope broadcast to x. */
static hwa_status map_prelu(hwa__onnx_op *o) {
    operand a, sl;
    hwa_status st = operand_of(o, o->in[0], &a, false);
    if (!st) st = operand_of(o, o->in[1], &sl, false);
    if (st) return st;
    int64_t od[HWA_ONNX_MAX_DIMS];
    int n;
    if (!hwa__onnx_broadcast(a.ndim, a.dims, sl.ndim, sl.dims, &n, od) || !same_shape(&a, n, od))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "slope does not broadcast to X");
    hwa_tensor *zero;
    if ((st = hwa__onnx_scalar(o, 0.0f, &zero))) return st;
    hwa_ctx *c = o->ctx;
    hwa_tensor *r = hwa_add(c, hwa_relu(c, a.t), hwa_mul(c, hwa_binary(c, a.t, zero, HWA_BIN_MIN), sl.t));
    return hwa__onnx_set_out(o, 0, r, o->in[0]->type, a.ndim);
}

/* Softsign: x / (1 + |x|). */
static hwa_status map_softsign(hwa__onnx_op *o) {
    operand a;
    hwa_tensor *one;
    hwa_status st = operand_of(o, o->in[0], &a, false);
    if (!st) st = hwa__onnx_scalar(o, 1.0f, &one);
    if (st) return st;
    hwa_ctx *c = o->ctx;
    hwa_tensor *r = hwa_div(c, a.t, hwa_add(c, hwa_map(c, a.t, HWA_MAP_ABS, 0, 0), one));
    return hwa__onnx_set_out(o, 0, r, o->in[0]->type, a.ndim);
}

/* Pow with a known scalar exponent is a map (x^2 a product). */
static hwa_status map_pow(hwa__onnx_op *o) {
    hwa__oval *x = o->in[0], *e = o->in[1];
    if (x->host || !e || !e->host || e->host->n != 1 || e->ndim > x->ndim) return map_binary(o);
    operand a;
    hwa_status st = operand_of(o, x, &a, false);
    if (st) return st;
    const double p = hwa__onnx_get_f(e->host, 0);
    hwa_tensor *r = p == 2.0 ? hwa_mul(o->ctx, a.t, a.t)
                    : p == 1.0 ? a.t
                    : p == 0.5 ? hwa_map(o->ctx, a.t, HWA_MAP_SQRT, 0, 0)
                               : hwa_map(o->ctx, a.t, HWA_MAP_POWC, (float)p, 0);
    return hwa__onnx_set_out(o, 0, r, x->type, x->ndim);
}

const hwa__onnx_opdef hwa__onnx_elt_ops[] = {
    {"Add", NULL, map_binary},       {"Sub", NULL, map_binary},
    {"Mul", NULL, map_binary},       {"Div", NULL, map_binary},
    {"Pow", NULL, map_pow},          {"Max", NULL, map_binary},
    {"Min", NULL, map_binary},       {"Sum", NULL, map_binary},
    {"Mean", NULL, map_binary},     {"Mod", NULL, map_binary},
    {"Equal", NULL, map_binary},     {"Less", NULL, map_binary},
    {"LessOrEqual", NULL, map_binary}, {"Greater", NULL, map_binary},
    {"GreaterOrEqual", NULL, map_binary}, {"And", NULL, map_binary},
    {"Or", NULL, map_binary},        {"Xor", NULL, map_binary},
    {"Relu", NULL, map_unary},       {"Sigmoid", NULL, map_unary},
    {"Tanh", NULL, map_unary},      {"Gelu", check_gelu, map_unary},
    {"Neg", NULL, map_unary},        {"Abs", NULL, map_unary},
    {"Sqrt", NULL, map_unary},       {"Reciprocal", NULL, map_unary},
    {"Floor", NULL, map_unary},      {"Ceil", NULL, map_unary},
    {"Exp", NULL, map_unary},        {"Log", NULL, map_unary},
    {"Sign", NULL, map_unary},       {"Not", NULL, map_unary},
    {"Erf", NULL, map_unary},       {"Round", NULL, map_unary},
    {"Sin", NULL, map_unary},       {"Cos", NULL, map_unary},
    {"LeakyRelu", NULL, map_unary}, {"Elu", NULL, map_unary},
    {"Selu", NULL, map_unary},      {"Softplus", NULL, map_unary},
    {"HardSigmoid", NULL, map_unary}, {"HardSwish", NULL, map_unary},
    {"ThresholdedRelu", NULL, map_unary},
    {"PRelu", NULL, map_prelu},
    {"Softsign", NULL, map_softsign},
    {"PRelu", NULL, map_prelu},        {"Softsign", NULL, map_softsign},
    {"Clip", NULL, map_clip},        {"Where", NULL, map_where},
    {NULL, NULL, NULL},
};
