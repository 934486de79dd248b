/* Values known at build time, computed on the host: the shape arithmetic
 * exporters emit (Shape, Gather, Concat, Unsqueeze, arithmetic on int64)
 * and every other op of onnx_ops.c that declares a host form, when all of
 * its inputs are known. Integers are computed in int64 (exactly, wrapping
 * as the C types of the result do), floats in double and stored in the
 * result's type. Arrays here are small; clarity wins over speed. */
#include <math.h>
#include <string.h>

#include "nn/onnx/onnx_net_internal.h"

bool hwa__onnx_broadcast(int na, const int64_t *a, int nb, const int64_t *b, int *nout, int64_t *out) {
    const int n = na > nb ? na : nb;
    for (int d = 0; d < n; d++) {
        const int ia = d - (n - na), ib = d - (n - nb);
        const int64_t x = ia >= 0 ? a[ia] : 1, y = ib >= 0 ? b[ib] : 1;
        if (x != y && x != 1 && y != 1) return false;
        out[d] = x == 1 ? y : x;
    }
    *nout = n;
    return true;
}

/* Strides (in elements) of an array of shape dims (nd) read as the out
 * shape (no dims, trailing-aligned): 0 where it is broadcast. */
static void bcast_strides(int nd, const int64_t *dims, int no, const int64_t *odims, int64_t *st) {
    int64_t s = 1;
    for (int d = no - 1; d >= 0; d--) {
        const int k = d - (no - nd);
        if (k < 0) {
            st[d] = 0;
            continue;
        }
        st[d] = dims[k] == 1 && odims[d] != 1 ? 0 : s;
        s *= dims[k];
    }
}

/* The source offset of flat output index i. */
static int64_t offset_of(int64_t i, int no, const int64_t *odims, const int64_t *st) {
    int64_t off = 0;
    for (int d = no - 1; d >= 0; d--) {
        const int64_t e = odims[d] ? i % odims[d] : 0;
        i = odims[d] ? i / odims[d] : 0;
        off += e * st[d];
    }
    return off;
}

static void copy_elem(hwa_onnx_array *dst, int64_t i, const hwa_onnx_array *src, int64_t j) {
    const size_t es = hwa_onnx_type_size(src->type);
    memcpy((uint8_t *)dst->data + (size_t)i * es, (const uint8_t *)src->data + (size_t)j * es, es);
}

static int result_type(const char *fn, int ta) {
    static const char *const cmp[] = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or",
                                      "Xor"};
    for (size_t k = 0; k < sizeof cmp / sizeof *cmp; k++)
        if (!strcmp(fn, cmp[k])) return HWA_ONNX_BOOL;
    return ta;
}

static int64_t ipow(int64_t b, int64_t e) {
    if (e < 0) return b == 1 ? 1 : (b == -1 ? (e % 2 ? -1 : 1) : 0);
    uint64_t r = 1, x = (uint64_t)b;
    for (; e; e >>= 1, x *= x)
        if (e & 1) r *= x;
    return (int64_t)r;
}

/* fn on integers; *ok false for division by zero. */
static int64_t int_op(const char *fn, int64_t x, int64_t y, bool *ok) {
    if (!strcmp(fn, "Add")) return (int64_t)((uint64_t)x + (uint64_t)y);
    if (!strcmp(fn, "Sub")) return (int64_t)((uint64_t)x - (uint64_t)y);
    if (!strcmp(fn, "Mul")) return (int64_t)((uint64_t)x * (uint64_t)y);
    if (!strcmp(fn, "Div") || !strcmp(fn, "Mod")) {
        if (y == 0 || (x == INT64_MIN && y == -1)) {
            *ok = false;
            return 0;
        }
        if (!strcmp(fn, "Div")) return x / y;
        /* ONNX Mod with fmod=0 takes the divisor's sign (Python's %) */
        int64_t r = x % y;
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        return r;
    }
    if (!strcmp(fn, "Pow")) return ipow(x, y);
    if (!strcmp(fn, "Max")) return x > y ? x : y;
    if (!strcmp(fn, "Min")) return x < y ? x : y;
    if (!strcmp(fn, "Equal")) return x == y;
    if (!strcmp(fn, "Less")) return x < y;
    if (!strcmp(fn, "Greater")) return x > y;
    if (!strcmp(fn, "LessOrEqual")) return x <= y;
    if (!strcmp(fn, "GreaterOrEqual")) return x >= y;
    if (!strcmp(fn, "And")) return x && y;
    if (!strcmp(fn, "Or")) return x || y;
    if (!strcmp(fn, "Xor")) return !x != !y;
    *ok = false;
    return 0;
}

static double float_op(const char *fn, double x, double y) {
    if (!strcmp(fn, "Add")) return x + y;
    if (!strcmp(fn, "Sub")) return x - y;
    if (!strcmp(fn, "Mul")) return x * y;
    if (!strcmp(fn, "Div")) return x / y;
    if (!strcmp(fn, "Mod")) return fmod(x, y);
    if (!strcmp(fn, "Pow")) return pow(x, y);
    if (!strcmp(fn, "Max")) return x != x || y != y ? NAN : (x > y ? x : y);
    if (!strcmp(fn, "Min")) return x != x || y != y ? NAN : (x < y ? x : y);
    if (!strcmp(fn, "Equal")) return x == y;
    if (!strcmp(fn, "Less")) return x < y;
    if (!strcmp(fn, "Greater")) return x > y;
    if (!strcmp(fn, "LessOrEqual")) return x <= y;
    if (!strcmp(fn, "GreaterOrEqual")) return x >= y;
    if (!strcmp(fn, "And")) return x != 0 && y != 0;
    if (!strcmp(fn, "Or")) return x != 0 || y != 0;
    if (!strcmp(fn, "Xor")) return (x != 0) != (y != 0);
    return NAN;
}

hwa_status hwa__onnx_host_binary(hwa__onnx_op *o, const char *fn) {
    /* Max, Min, Sum and Mean take any number of inputs: fold left */
    const hwa_onnx_array *acc = o->in[0]->host;
    for (int k = 1; k < o->n_in || k == 1; k++) {
        const hwa_onnx_array *b = k < o->n_in ? o->in[k]->host : acc;
        if (k >= o->n_in) break;
        int64_t od[HWA_ONNX_MAX_DIMS];
        int no;
        if (!hwa__onnx_broadcast(acc->ndim, acc->dims, b->ndim, b->dims, &no, od))
            return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "shapes do not broadcast");
        if (no > HWA_ONNX_MAX_DIMS) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "rank %d", no);
        hwa_onnx_array *r;
        hwa_status st = hwa__onnx_host_new(o->net, result_type(fn, acc->type), no, od, &r);
        if (st) return st;
        int64_t sa[HWA_ONNX_MAX_DIMS], sb[HWA_ONNX_MAX_DIMS];
        bcast_strides(acc->ndim, acc->dims, no, od, sa);
        bcast_strides(b->ndim, b->dims, no, od, sb);
        const bool ints = hwa__onnx_is_int(acc->type) || acc->type == HWA_ONNX_BOOL;
        for (int64_t i = 0; i < r->n; i++) {
            const int64_t ia = offset_of(i, no, od, sa), ib = offset_of(i, no, od, sb);
            if (ints) {
                bool ok = true;
                const int64_t v = int_op(fn, hwa__onnx_get_i(acc, ia), hwa__onnx_get_i(b, ib), &ok);
                if (!ok)
                    return hwa__onnx_node_err(o->ctx, o->node, HWA_E_RANGE, "integer %s by zero (element %lld)", fn,
                                              (long long)i);
                hwa__onnx_put_i(r, i, v);
            } else {
                hwa__onnx_put_f(r, i, float_op(fn, hwa__onnx_get_f(acc, ia), hwa__onnx_get_f(b, ib)));
            }
        }
        acc = r;
    }
    hwa__onnx_set_known(o, 0, acc);
    return HWA_OK;
}

hwa_status hwa__onnx_host_unary(hwa__onnx_op *o, const char *fn) {
    const hwa_onnx_array *a = o->in[0]->host;
    const bool not = !strcmp(fn, "Not");
    hwa_onnx_array *r;
    hwa_status st = hwa__onnx_host_new(o->net, a->type, a->ndim, a->dims, &r);
    if (st) return st;
    const bool ints = hwa__onnx_is_int(a->type) || a->type == HWA_ONNX_BOOL;
    for (int64_t i = 0; i < a->n; i++) {
        if (ints) {
            const int64_t x = hwa__onnx_get_i(a, i);
            int64_t y = x;
            if (not) y = !x;
            else if (!strcmp(fn, "Neg")) y = (int64_t)(0 - (uint64_t)x);
            else if (!strcmp(fn, "Abs")) y = x < 0 ? (int64_t)(0 - (uint64_t)x) : x;
            else if (!strcmp(fn, "Sign")) y = (x > 0) - (x < 0);
            else if (!strcmp(fn, "Relu")) y = x > 0 ? x : 0;
            else if (strcmp(fn, "Identity") && strcmp(fn, "Floor") && strcmp(fn, "Ceil"))
                return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "%s of %s", fn,
                                          hwa_onnx_type_name(a->type));
            hwa__onnx_put_i(r, i, y);
            continue;
        }
        const double x = hwa__onnx_get_f(a, i);
        double y = x;
        if (!strcmp(fn, "Neg")) y = -x;
        else if (!strcmp(fn, "Abs")) y = fabs(x);
        else if (!strcmp(fn, "Sqrt")) y = sqrt(x);
        else if (!strcmp(fn, "Reciprocal")) y = 1.0 / x;
        else if (!strcmp(fn, "Floor")) y = floor(x);
        else if (!strcmp(fn, "Ceil")) y = ceil(x);
        else if (!strcmp(fn, "Relu")) y = x > 0 ? x : 0;
        else if (!strcmp(fn, "Exp")) y = exp(x);
        else if (!strcmp(fn, "Log")) y = log(x);
        else if (!strcmp(fn, "Sign")) y = (x > 0) - (x < 0);
        else if (strcmp(fn, "Identity"))
            return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "%s of %s", fn, hwa_onnx_type_name(a->type));
        hwa__onnx_put_f(r, i, y);
    }
    hwa__onnx_set_known(o, 0, r);
    return HWA_OK;
}

hwa_status hwa__onnx_host_transpose(hwa_onnx_net *net, const hwa_onnx_array *a, const int *perm,
                                    hwa_onnx_array **out) {
    int64_t od[HWA_ONNX_MAX_DIMS], ast[HWA_ONNX_MAX_DIMS], st2[HWA_ONNX_MAX_DIMS];
    int64_t s = 1;
    for (int d = a->ndim - 1; d >= 0; d--) ast[d] = s, s *= a->dims[d];
    for (int d = 0; d < a->ndim; d++) od[d] = a->dims[perm[d]], st2[d] = ast[perm[d]];
    hwa_status st = hwa__onnx_host_new(net, a->type, a->ndim, od, out);
    for (int64_t i = 0; !st && i < (*out)->n; i++) copy_elem(*out, i, a, offset_of(i, a->ndim, od, st2));
    return st;
}

hwa_status hwa__onnx_host_reshape(hwa_onnx_net *net, const hwa_onnx_array *a, int ndim, const int64_t *dims,
                                  hwa_onnx_array **out) {
    hwa_status st = hwa__onnx_host_new(net, a->type, ndim, dims, out);
    if (st) return st;
    if ((*out)->n != a->n) return hwa__err(net->ctx, HWA_E_SHAPE, "reshape of %lld elements to %lld",
                                           (long long)a->n, (long long)(*out)->n);
    if (a->n) memcpy((void *)(*out)->data, a->data, (size_t)a->n * hwa_onnx_type_size(a->type));
    return HWA_OK;
}

hwa_status hwa__onnx_host_cast(hwa_onnx_net *net, const hwa_onnx_array *a, int type, hwa_onnx_array **out) {
    hwa_status st = hwa__onnx_host_new(net, type, a->ndim, a->dims, out);
    if (st) return st;
    const bool from_float = hwa__onnx_is_float(a->type);
    for (int64_t i = 0; i < a->n; i++) {
        if (from_float) hwa__onnx_put_f(*out, i, hwa__onnx_get_f(a, i));
        else hwa__onnx_put_i(*out, i, hwa__onnx_get_i(a, i));
    }
    return HWA_OK;
}

hwa_status hwa__onnx_host_slice(hwa_onnx_net *net, const hwa_onnx_array *a, const int64_t *starts,
                                const int64_t *lens, hwa_onnx_array **out) {
    int64_t ast[HWA_ONNX_MAX_DIMS], s = 1;
    for (int d = a->ndim - 1; d >= 0; d--) ast[d] = s, s *= a->dims[d];
    hwa_status st = hwa__onnx_host_new(net, a->type, a->ndim, lens, out);
    int64_t base = 0;
    for (int d = 0; d < a->ndim; d++) base += starts[d] * ast[d];
    for (int64_t i = 0; !st && i < (*out)->n; i++) copy_elem(*out, i, a, base + offset_of(i, a->ndim, lens, ast));
    return st;
}

hwa_status hwa__onnx_host_concat(hwa_onnx_net *net, const hwa_onnx_array *const *a, int n, int axis,
                                 hwa_onnx_array **out) {
    int64_t od[HWA_ONNX_MAX_DIMS];
    memcpy(od, a[0]->dims, sizeof od);
    od[axis] = 0;
    for (int k = 0; k < n; k++) od[axis] += a[k]->dims[axis];
    hwa_status st = hwa__onnx_host_new(net, a[0]->type, a[0]->ndim, od, out);
    if (st) return st;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= od[d];
    for (int d = axis + 1; d < a[0]->ndim; d++) inner *= od[d];
    int64_t i = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < n; k++) {
            const int64_t run = a[k]->dims[axis] * inner;
            for (int64_t j = 0; j < run; j++) copy_elem(*out, i++, a[k], o * run + j);
        }
    return HWA_OK;
}

hwa_status hwa__onnx_host_gather(hwa__onnx_op *o, const hwa_onnx_array *data, const hwa_onnx_array *idx, int axis,
                                 hwa_onnx_array **out) {
    int64_t od[HWA_ONNX_MAX_DIMS];
    const int no = data->ndim - 1 + idx->ndim;
    if (no > HWA_ONNX_MAX_DIMS) return hwa__onnx_node_err(o->ctx, o->node, HWA_E_UNSUPPORTED, "rank %d", no);
    int k = 0;
    for (int d = 0; d < axis; d++) od[k++] = data->dims[d];
    for (int d = 0; d < idx->ndim; d++) od[k++] = idx->dims[d];
    for (int d = axis + 1; d < data->ndim; d++) od[k++] = data->dims[d];
    hwa_status st = hwa__onnx_host_new(o->net, data->type, no, od, out);
    if (st) return st;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= data->dims[d];
    for (int d = axis + 1; d < data->ndim; d++) inner *= data->dims[d];
    const int64_t ext = data->dims[axis];
    int64_t i = 0;
    for (int64_t ou = 0; ou < outer; ou++)
        for (int64_t j = 0; j < idx->n; j++) {
            int64_t x = hwa__onnx_get_i(idx, j);
            if (x < 0) x += ext;
            if (x < 0 || x >= ext)
                return hwa__onnx_node_err(o->ctx, o->node, HWA_E_RANGE, "index %lld out of range for extent %lld",
                                          (long long)hwa__onnx_get_i(idx, j), (long long)ext);
            for (int64_t in = 0; in < inner; in++) copy_elem(*out, i++, data, (ou * ext + x) * inner + in);
        }
    return HWA_OK;
}

hwa_status hwa__onnx_host_expand(hwa_onnx_net *net, const hwa_onnx_array *a, int ndim, const int64_t *dims,
                                 hwa_onnx_array **out) {
    int64_t st2[HWA_ONNX_MAX_DIMS];
    bcast_strides(a->ndim, a->dims, ndim, dims, st2);
    hwa_status st = hwa__onnx_host_new(net, a->type, ndim, dims, out);
    for (int64_t i = 0; !st && i < (*out)->n; i++) copy_elem(*out, i, a, offset_of(i, ndim, dims, st2));
    return st;
}

hwa_status hwa__onnx_host_where(hwa__onnx_op *o, const hwa_onnx_array *c, const hwa_onnx_array *x,
                                const hwa_onnx_array *y, hwa_onnx_array **out) {
    int64_t t[HWA_ONNX_MAX_DIMS], od[HWA_ONNX_MAX_DIMS];
    int nt, no;
    if (!hwa__onnx_broadcast(c->ndim, c->dims, x->ndim, x->dims, &nt, t) ||
        !hwa__onnx_broadcast(nt, t, y->ndim, y->dims, &no, od))
        return hwa__onnx_node_err(o->ctx, o->node, HWA_E_SHAPE, "shapes do not broadcast");
    int64_t sc[HWA_ONNX_MAX_DIMS], sx[HWA_ONNX_MAX_DIMS], sy[HWA_ONNX_MAX_DIMS];
    bcast_strides(c->ndim, c->dims, no, od, sc);
    bcast_strides(x->ndim, x->dims, no, od, sx);
    bcast_strides(y->ndim, y->dims, no, od, sy);
    hwa_status st = hwa__onnx_host_new(o->net, x->type, no, od, out);
    for (int64_t i = 0; !st && i < (*out)->n; i++) {
        if (hwa__onnx_get_i(c, offset_of(i, no, od, sc))) copy_elem(*out, i, x, offset_of(i, no, od, sx));
        else copy_elem(*out, i, y, offset_of(i, no, od, sy));
    }
    return st;
}
