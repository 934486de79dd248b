/* Lowering hwadapt ops to StableHLO, as MLIR text in the generic op form
 * ("stablehlo.add"(%a, %b) : (types) -> type), the spelling every StableHLO
 * parser since 2023 reads (attribute arrays as array<i64: ...>). Each op's
 * lowering is one function in the table at the end; its semantics are
 * those of core/ops_list.h and the CPU reference kernels. All the spelling
 * of StableHLO is in this file. */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "backends/pjrt/pjrt_internal.h"

/* ---- the emitter --------------------------------------------------------- */

int hwa__pj_new_val(hwa__pj_emit *e, int ndim, const int64_t *sh, hwa__pj_et et) {
    /* sh often points into e->vals itself (a value shaped like another),
     * which the growth below may move: copy it first */
    int64_t shape[HWA__PJ_MAX_DIMS];
    if (ndim < 0 || ndim > HWA__PJ_MAX_DIMS) {
        e->oom = true; /* cannot happen for the graph's tensors; stop the module rather than overrun */
        return -1;
    }
    for (int i = 0; i < ndim; i++) shape[i] = sh[i];
    if (e->n_vals == e->cap_vals) {
        const int cap = e->cap_vals ? 2 * e->cap_vals : 256;
        hwa__pj_val *v = hwa__realloc_array(e->ctx, e->vals, (size_t)e->cap_vals, (size_t)cap, sizeof *v);
        if (!v) {
            e->oom = true;
            return -1;
        }
        e->vals = v;
        e->cap_vals = cap;
    }
    hwa__pj_val *v = &e->vals[e->n_vals];
    memset(v, 0, sizeof *v);
    v->ndim = ndim;
    for (int i = 0; i < ndim; i++) v->sh[i] = shape[i];
    v->et = et;
    return e->n_vals++;
}

void hwa__pj_printf(hwa__pj_emit *e, const char *fmt, ...) {
    if (e->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        const int n = vsnprintf(e->text ? e->text + e->len : NULL, e->text ? e->cap - e->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            e->oom = true;
            return;
        }
        if (e->text && (size_t)n < e->cap - e->len) {
            e->len += (size_t)n;
            return;
        }
        const size_t cap = (e->cap + (size_t)n + 1) * 2;
        char *t = hwa__realloc_array(e->ctx, e->text, e->cap, cap, 1);
        if (!t) {
            e->oom = true;
            return;
        }
        e->text = t;
        e->cap = cap;
    }
}

static const char *et_name(hwa__pj_et et) {
    static const char *const n[] = {"f32", "f16", "bf16", "i32", "i1", "f64"};
    return n[et];
}

hwa__pj_et hwa__pj_et_of(hwa_dtype t) {
    return t == HWA_F16 ? HWA__PJ_F16 : t == HWA_BF16 ? HWA__PJ_BF16 : t == HWA_I32 ? HWA__PJ_I32 : HWA__PJ_F32;
}

static const char *type_of(int ndim, const int64_t *sh, hwa__pj_et et, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "tensor<");
    for (int i = 0; i < ndim && n < cap; i++) n += (size_t)snprintf(buf + n, cap - n, "%lldx", (long long)sh[i]);
    if (n < cap) snprintf(buf + n, cap - n, "%s>", et_name(et));
    return buf;
}

const char *hwa__pj_type(const hwa__pj_emit *e, int id, char *buf, size_t cap) {
    const hwa__pj_val *v = &e->vals[id];
    return type_of(v->ndim, v->sh, v->et, buf, cap);
}

#define TY(id, b) hwa__pj_type(e, id, b, sizeof b)
typedef char tybuf[96];

/* "array<i64: 0, 1>" */
static const char *i64s(const int64_t *a, int n, char *buf, size_t cap) {
    size_t k = (size_t)snprintf(buf, cap, "array<i64%s", n ? ": " : "");
    for (int i = 0; i < n && k < cap; i++) k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)a[i]);
    if (k < cap) snprintf(buf + k, cap - k, ">");
    return buf;
}

static int val_like(hwa__pj_emit *e, int a, hwa__pj_et et) {
    if (a < 0) return -1;
    const hwa__pj_val v = e->vals[a];
    return hwa__pj_new_val(e, v.ndim, v.sh, et);
}

/* r = "op"(a) with a's type, or with result element type et */
static int un_et(hwa__pj_emit *e, const char *op, int a, hwa__pj_et et) {
    const int r = val_like(e, a, et);
    if (r < 0) return -1;
    tybuf ta, tr;
    hwa__pj_printf(e, "    %%v%d = \"%s\"(%%v%d) : (%s) -> %s\n", r, op, a, TY(a, ta), TY(r, tr));
    return r;
}

static int un(hwa__pj_emit *e, const char *op, int a) { return a < 0 ? -1 : un_et(e, op, a, e->vals[a].et); }

static int bin(hwa__pj_emit *e, const char *op, int a, int b) {
    const int r = val_like(e, a, a >= 0 ? e->vals[a].et : HWA__PJ_F32);
    if (r < 0 || b < 0) return -1;
    tybuf ta, tr;
    hwa__pj_printf(e, "    %%v%d = \"%s\"(%%v%d, %%v%d) : (%s, %s) -> %s\n", r, op, a, b, TY(a, ta), TY(a, ta), TY(r, tr));
    return r;
}

int hwa__pj_convert(hwa__pj_emit *e, int a, hwa__pj_et et) {
    if (a < 0 || e->vals[a].et == et) return a;
    return un_et(e, "stablehlo.convert", a, et);
}

/* A constant of shape (ndim, sh), every element v. */
static int splat(hwa__pj_emit *e, int ndim, const int64_t *sh, double v) {
    const int r = hwa__pj_new_val(e, ndim, sh, HWA__PJ_F32);
    if (r < 0) return -1;
    tybuf tr;
    float f = (float)v;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    /* as hex: exact, and infinities and NaN spell the same way */
    hwa__pj_printf(e, "    %%v%d = \"stablehlo.constant\"() {value = dense<0x%08X> : %s} : () -> %s\n", r, bits,
                   TY(r, tr), TY(r, tr));
    return r;
}

static int splat_like(hwa__pj_emit *e, int a, double v) {
    return a < 0 ? -1 : splat(e, e->vals[a].ndim, e->vals[a].sh, v);
}

static int reshape(hwa__pj_emit *e, int a, int ndim, const int64_t *sh) {
    if (a < 0) return -1;
    const hwa__pj_val *v = &e->vals[a];
    if (v->ndim == ndim && !memcmp(v->sh, sh, (size_t)ndim * sizeof *sh)) return a;
    const int r = hwa__pj_new_val(e, ndim, sh, v->et);
    if (r < 0) return -1;
    tybuf ta, tr;
    hwa__pj_printf(e, "    %%v%d = \"stablehlo.reshape\"(%%v%d) : (%s) -> %s\n", r, a, TY(a, ta), TY(r, tr));
    return r;
}

static int reshape_to(hwa__pj_emit *e, int a, const hwa_tensor *t) { return reshape(e, a, t->ndim, t->shape); }

/* a broadcast to (ndim, sh): a's dim i goes to dims[i] (extents equal or 1). */
static int bcast_dims(hwa__pj_emit *e, int a, int ndim, const int64_t *sh, const int64_t *dims) {
    if (a < 0) return -1;
    const hwa__pj_val *v = &e->vals[a];
    if (v->ndim == ndim && !memcmp(v->sh, sh, (size_t)ndim * sizeof *sh)) return a;
    const int r = hwa__pj_new_val(e, ndim, sh, v->et);
    if (r < 0) return -1;
    tybuf ta, tr;
    char d[128];
    hwa__pj_printf(e, "    %%v%d = \"stablehlo.broadcast_in_dim\"(%%v%d) {broadcast_dimensions = %s} : (%s) -> %s\n", r,
                   a, i64s(dims, e->vals[a].ndim, d, sizeof d), TY(a, ta), TY(r, tr));
    return r;
}

/* a broadcast to (ndim, sh) aligned at the last dim (ADD's rule for src1). */
static int bcast_trailing(hwa__pj_emit *e, int a, int ndim, const int64_t *sh) {
    if (a < 0) return -1;
    int64_t dims[HWA__PJ_MAX_DIMS];
    const int k = e->vals[a].ndim;
    for (int i = 0; i < k; i++) dims[i] = ndim - k + i;
    return bcast_dims(e, a, ndim, sh, dims);
}

/* a row statistic (shape without its last dim) back to full rows of `like` */
static int bcast_rows(hwa__pj_emit *e, int a, int like) {
    if (a < 0 || like < 0) return -1;
    int64_t dims[HWA__PJ_MAX_DIMS];
    const hwa__pj_val L = e->vals[like];
    for (int i = 0; i + 1 < L.ndim; i++) dims[i] = i;
    return bcast_dims(e, a, L.ndim, L.sh, dims);
}

/* a scalar (rank 0) broadcast to like's shape */
static int bcast_scalar(hwa__pj_emit *e, int a, int like) {
    if (a < 0 || like < 0) return -1;
    return bcast_dims(e, a, e->vals[like].ndim, e->vals[like].sh, NULL);
}

/* sum or max of a over dims[0..nd) (sorted) */
static int reduce(hwa__pj_emit *e, int a, const int64_t *dims, int nd, bool max) {
    if (a < 0) return -1;
    const hwa__pj_val v = e->vals[a];
    int64_t sh[HWA__PJ_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < v.ndim; i++) {
        bool red = false;
        for (int j = 0; j < nd; j++) red |= dims[j] == i;
        if (!red) sh[k++] = v.sh[i];
    }
    const int init = splat(e, 0, NULL, max ? -INFINITY : 0.0);
    const int r = hwa__pj_new_val(e, k, sh, v.et);
    if (init < 0 || r < 0) return -1;
    tybuf ta, tr, ts;
    char d[128];
    const char *op = max ? "stablehlo.maximum" : "stablehlo.add";
    TY(init, ts);
    hwa__pj_printf(e,
                   "    %%v%d = \"stablehlo.reduce\"(%%v%d, %%v%d) ({\n"
                   "    ^bb0(%%p%d: %s, %%q%d: %s):\n"
                   "      %%s%d = \"%s\"(%%p%d, %%q%d) : (%s, %s) -> %s\n"
                   "      \"stablehlo.return\"(%%s%d) : (%s) -> ()\n"
                   "    }) {dimensions = %s} : (%s, %s) -> %s\n",
                   r, a, init, r, ts, r, ts, r, op, r, r, ts, ts, ts, r, ts, i64s(dims, nd, d, sizeof d), TY(a, ta), ts,
                   TY(r, tr));
    return r;
}

static int reduce_rows(hwa__pj_emit *e, int a, bool max) {
    if (a < 0) return -1;
    const int64_t last = e->vals[a].ndim - 1;
    return reduce(e, a, &last, 1, max);
}

static int reduce_all(hwa__pj_emit *e, int a) {
    if (a < 0) return -1;
    int64_t dims[HWA__PJ_MAX_DIMS];
    for (int i = 0; i < e->vals[a].ndim; i++) dims[i] = i;
    return reduce(e, a, dims, e->vals[a].ndim, false);
}

static int compare(hwa__pj_emit *e, int a, int b, const char *dir) {
    const int r = val_like(e, a, HWA__PJ_I1);
    if (r < 0 || b < 0) return -1;
    tybuf ta, tr;
    hwa__pj_printf(e,
                   "    %%v%d = \"stablehlo.compare\"(%%v%d, %%v%d) {comparison_direction = "
                   "#stablehlo<comparison_direction %s>} : (%s, %s) -> %s\n",
                   r, a, b, dir, TY(a, ta), TY(a, ta), TY(r, tr));
    return r;
}

static int select3(hwa__pj_emit *e, int pred, int a, int b) {
    const int r = val_like(e, a, a >= 0 ? e->vals[a].et : HWA__PJ_F32);
    if (r < 0 || pred < 0 || b < 0) return -1;
    tybuf tp, ta;
    hwa__pj_printf(e, "    %%v%d = \"stablehlo.select\"(%%v%d, %%v%d, %%v%d) : (%s, %s, %s) -> %s\n", r, pred, a, b,
                   TY(pred, tp), TY(a, ta), TY(a, ta), TY(a, ta));
    return r;
}

static int iota(hwa__pj_emit *e, int ndim, const int64_t *sh, int dim, hwa__pj_et et) {
    const int r = hwa__pj_new_val(e, ndim, sh, et);
    if (r < 0) return -1;
    tybuf tr;
    hwa__pj_printf(e, "    %%v%d = \"stablehlo.iota\"() {iota_dimension = %d : i64} : () -> %s\n", r, dim, TY(r, tr));
    return r;
}

static int transpose(hwa__pj_emit *e, int a, const int64_t *perm) {
    if (a < 0) return -1;
    const hwa__pj_val v = e->vals[a];
    int64_t sh[HWA__PJ_MAX_DIMS];
    for (int i = 0; i < v.ndim; i++) sh[i] = v.sh[perm[i]];
    const int r = hwa__pj_new_val(e, v.ndim, sh, v.et);
    if (r < 0) return -1;
    tybuf ta, tr;
    char p[128];
    hwa__pj_printf(e, "    %%v%d = \"stablehlo.transpose\"(%%v%d) {permutation = %s} : (%s) -> %s\n", r, a,
                   i64s(perm, v.ndim, p, sizeof p), TY(a, ta), TY(r, tr));
    return r;
}

/* a restricted to [start, start + len) along dim */
static int slice(hwa__pj_emit *e, int a, int dim, int64_t start, int64_t len) {
    if (a < 0) return -1;
    const hwa__pj_val v = e->vals[a];
    int64_t lo[HWA__PJ_MAX_DIMS], hi[HWA__PJ_MAX_DIMS], st[HWA__PJ_MAX_DIMS], sh[HWA__PJ_MAX_DIMS];
    for (int i = 0; i < v.ndim; i++) {
        lo[i] = i == dim ? start : 0;
        hi[i] = i == dim ? start + len : v.sh[i];
        st[i] = 1;
        sh[i] = hi[i] - lo[i];
    }
    const int r = hwa__pj_new_val(e, v.ndim, sh, v.et);
    if (r < 0) return -1;
    tybuf ta, tr;
    char b1[128], b2[128], b3[128];
    hwa__pj_printf(e,
                   "    %%v%d = \"stablehlo.slice\"(%%v%d) {start_indices = %s, limit_indices = %s, strides = %s} : "
                   "(%s) -> %s\n",
                   r, a, i64s(lo, v.ndim, b1, sizeof b1), i64s(hi, v.ndim, b2, sizeof b2),
                   i64s(st, v.ndim, b3, sizeof b3), TY(a, ta), TY(r, tr));
    return r;
}

static int concat(hwa__pj_emit *e, int a, int b, int dim) {
    if (a < 0 || b < 0) return -1;
    hwa__pj_val v = e->vals[a];
    v.sh[dim] += e->vals[b].sh[dim];
    const int r = hwa__pj_new_val(e, v.ndim, v.sh, v.et);
    if (r < 0) return -1;
    tybuf ta, tb, tr;
    hwa__pj_printf(e, "    %%v%d = \"stablehlo.concatenate\"(%%v%d, %%v%d) {dimension = %d : i64} : (%s, %s) -> %s\n",
                   r, a, b, dim, TY(a, ta), TY(b, tb), TY(r, tr));
    return r;
}

/* lhs [B.., M|K, K|M] . rhs [B.., K|N, N|K] with nb batch dims on both */
static int dot(hwa__pj_emit *e, int a, int b, int nb, bool ta_, bool tb_) {
    if (a < 0 || b < 0) return -1;
    const hwa__pj_val A = e->vals[a], B = e->vals[b];
    int64_t sh[HWA__PJ_MAX_DIMS + 1], bd[HWA__PJ_MAX_DIMS] = {0};
    for (int i = 0; i < nb; i++) sh[i] = A.sh[i], bd[i] = i;
    sh[nb] = A.sh[nb + (ta_ ? 1 : 0)];
    sh[nb + 1] = B.sh[nb + (tb_ ? 0 : 1)];
    const int r = hwa__pj_new_val(e, nb + 2, sh, A.et);
    if (r < 0) return -1;
    tybuf t1, t2, tr;
    char b1[64];
    i64s(bd, nb, b1, sizeof b1);
    const char *bl = strchr(b1, ':') ? strchr(b1, ':') + 2 : "";
    char batch[80];
    snprintf(batch, sizeof batch, "%.*s", (int)(strlen(bl) ? strlen(bl) - 1 : 0), bl);
    hwa__pj_printf(e,
                   "    %%v%d = \"stablehlo.dot_general\"(%%v%d, %%v%d) {dot_dimension_numbers = #stablehlo.dot<"
                   "lhs_batching_dimensions = [%s], rhs_batching_dimensions = [%s], lhs_contracting_dimensions = [%d], "
                   "rhs_contracting_dimensions = [%d]>} : (%s, %s) -> %s\n",
                   r, a, b, batch, batch, nb + (ta_ ? 0 : 1), nb + (tb_ ? 1 : 0), TY(a, t1), TY(b, t2), TY(r, tr));
    return r;
}

static int add(hwa__pj_emit *e, int a, int b) { return bin(e, "stablehlo.add", a, b); }
static int sub(hwa__pj_emit *e, int a, int b) { return bin(e, "stablehlo.subtract", a, b); }
static int mul(hwa__pj_emit *e, int a, int b) { return bin(e, "stablehlo.multiply", a, b); }
static int dvd(hwa__pj_emit *e, int a, int b) { return bin(e, "stablehlo.divide", a, b); }
static int mulc(hwa__pj_emit *e, int a, double c) { return mul(e, a, splat_like(e, a, c)); }
static int addc(hwa__pj_emit *e, int a, double c) { return add(e, a, splat_like(e, a, c)); }

/* An i32 scalar constant. */
static int const_i32(hwa__pj_emit *e, int32_t v) {
    const int r = hwa__pj_new_val(e, 0, NULL, HWA__PJ_I32);
    if (r < 0) return -1;
    hwa__pj_printf(e, "    %%v%d = \"stablehlo.constant\"() {value = dense<%d> : tensor<i32>} : () -> tensor<i32>\n", r,
                   (int)v);
    return r;
}

/* An f64 vector constant of n values. */
static int const_f64s(hwa__pj_emit *e, const double *v, int64_t n) {
    const int r = hwa__pj_new_val(e, 1, &n, HWA__PJ_F64);
    if (r < 0) return -1;
    tybuf tr;
    hwa__pj_printf(e, "    %%v%d = \"stablehlo.constant\"() {value = dense<[", r);
    for (int64_t i = 0; i < n; i++) hwa__pj_printf(e, "%s%.17e", i ? ", " : "", v[i]);
    hwa__pj_printf(e, "]> : %s} : () -> %s\n", TY(r, tr), TY(r, tr));
    return r;
}

/* The i32 scalar held by a run-time argument i32[1]. */
static int rt_scalar(hwa__pj_emit *e, int rt) { return reshape(e, rt, 0, NULL); }

/* a padded with zeros: lo[i] before and hi[i] after along each dim */
static int pad0(hwa__pj_emit *e, int a, const int64_t *lo, const int64_t *hi) {
    if (a < 0) return -1;
    const hwa__pj_val v = e->vals[a];
    int64_t sh[HWA__PJ_MAX_DIMS], in0[HWA__PJ_MAX_DIMS] = {0};
    for (int i = 0; i < v.ndim; i++) sh[i] = v.sh[i] + lo[i] + hi[i];
    const int zero = splat(e, 0, NULL, 0.0);
    const int r = hwa__pj_new_val(e, v.ndim, sh, v.et);
    if (zero < 0 || r < 0) return -1;
    tybuf ta, tr;
    char b1[128], b2[128], b3[128];
    hwa__pj_printf(e,
                   "    %%v%d = \"stablehlo.pad\"(%%v%d, %%v%d) {edge_padding_low = %s, edge_padding_high = %s, "
                   "interior_padding = %s} : (%s, tensor<f32>) -> %s\n",
                   r, a, zero, i64s(lo, v.ndim, b1, sizeof b1), i64s(hi, v.ndim, b2, sizeof b2),
                   i64s(in0, v.ndim, b3, sizeof b3), TY(a, ta), TY(r, tr));
    return r;
}

/* a with upd written at start[dim] (an i32 scalar value) along dim, 0 along the others */
static int update_slice(hwa__pj_emit *e, int a, int upd, int dim, int start) {
    if (a < 0 || upd < 0 || start < 0) return -1;
    const int nd = e->vals[a].ndim, zero = const_i32(e, 0);
    const int r = val_like(e, a, e->vals[a].et);
    if (r < 0 || zero < 0) return -1;
    tybuf ta, tu, tr;
    hwa__pj_printf(e, "    %%v%d = \"stablehlo.dynamic_update_slice\"(%%v%d, %%v%d", r, a, upd);
    for (int i = 0; i < nd; i++) hwa__pj_printf(e, ", %%v%d", i == dim ? start : zero);
    hwa__pj_printf(e, ") : (%s, %s", TY(a, ta), TY(upd, tu));
    for (int i = 0; i < nd; i++) hwa__pj_printf(e, ", tensor<i32>");
    hwa__pj_printf(e, ") -> %s\n", TY(r, tr));
    return r;
}

/* rows ids[j] of table [V, D] (ids i32 [N]): [N, D] */
static int gather_rows(hwa__pj_emit *e, int table, int ids) {
    if (table < 0 || ids < 0) return -1;
    const int64_t N = e->vals[ids].sh[0], D = e->vals[table].sh[1], si[2] = {N, 1}, sh[2] = {N, D};
    const int idx = reshape(e, ids, 2, si);
    const int r = hwa__pj_new_val(e, 2, sh, e->vals[table].et);
    if (idx < 0 || r < 0) return -1;
    tybuf tt, ti, tr;
    hwa__pj_printf(e,
                   "    %%v%d = \"stablehlo.gather\"(%%v%d, %%v%d) {dimension_numbers = #stablehlo.gather<"
                   "offset_dims = [1], collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 1>, "
                   "slice_sizes = array<i64: 1, %lld>, indices_are_sorted = false} : (%s, %s) -> %s\n",
                   r, table, idx, (long long)D, TY(table, tt), TY(idx, ti), TY(r, tr));
    return r;
}

/* zeros [V, D] with rows g[j] (g [N, D]) added at ids[j], in order */
static int scatter_add_rows(hwa__pj_emit *e, int64_t V, int g, int ids) {
    if (g < 0 || ids < 0) return -1;
    const int64_t N = e->vals[ids].sh[0], D = e->vals[g].sh[1], si[2] = {N, 1}, sh[2] = {V, D};
    const int idx = reshape(e, ids, 2, si), zeros = splat(e, 2, sh, 0.0);
    const int r = hwa__pj_new_val(e, 2, sh, HWA__PJ_F32);
    if (idx < 0 || zeros < 0 || r < 0) return -1;
    tybuf tz, ti, tg;
    hwa__pj_printf(e,
                   "    %%v%d = \"stablehlo.scatter\"(%%v%d, %%v%d, %%v%d) ({\n"
                   "    ^bb0(%%p%d: tensor<f32>, %%q%d: tensor<f32>):\n"
                   "      %%s%d = \"stablehlo.add\"(%%p%d, %%q%d) : (tensor<f32>, tensor<f32>) -> tensor<f32>\n"
                   "      \"stablehlo.return\"(%%s%d) : (tensor<f32>) -> ()\n"
                   "    }) {scatter_dimension_numbers = #stablehlo.scatter<update_window_dims = [1], "
                   "inserted_window_dims = [0], scatter_dims_to_operand_dims = [0], index_vector_dim = 1>, "
                   "indices_are_sorted = false, unique_indices = false} : (%s, %s, %s) -> %s\n",
                   r, zeros, idx, g, r, r, r, r, r, r, TY(zeros, tz), TY(idx, ti), TY(g, tg), TY(zeros, tz));
    return r;
}

/* ---- the lowerings ------------------------------------------------------- */

#define LOWER(name) static int lw_##name(hwa__pj_emit *e, const hwa_tensor *t, const int *in, int hyper, int *state)
#define UNUSED_ARGS (void)t, (void)in, (void)hyper, (void)state

LOWER(RESHAPE) {
    UNUSED_ARGS;
    return reshape_to(e, in[0], t);
}

LOWER(PERMUTE) {
    UNUSED_ARGS;
    int64_t perm[HWA__PJ_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) perm[i] = t->p.i[i];
    return transpose(e, in[0], perm);
}

LOWER(SLICE) {
    UNUSED_ARGS;
    const int d = t->p.i[0] < 0 ? t->p.i[0] + t->src[0]->ndim : t->p.i[0];
    return slice(e, in[0], d, t->p.l[0], t->shape[d]);
}

LOWER(CONT) {
    UNUSED_ARGS;
    return reshape_to(e, in[0], t);
}

LOWER(FILL) {
    UNUSED_ARGS;
    return splat(e, t->ndim, t->shape, t->p.f[0]);
}

static int binary(hwa__pj_emit *e, const hwa_tensor *t, const int *in, const char *op) {
    return bin(e, op, bcast_trailing(e, in[0], t->ndim, t->shape), bcast_trailing(e, in[1], t->ndim, t->shape));
}

/* the elementwise ops that are one StableHLO op (with src1 broadcast) */
#define BINARY_LOWERING(name, op) \
    LOWER(name) {                 \
        UNUSED_ARGS;              \
        return binary(e, t, in, op); \
    }
BINARY_LOWERING(ADD, "stablehlo.add")
BINARY_LOWERING(SUB, "stablehlo.subtract")
BINARY_LOWERING(MUL, "stablehlo.multiply")
BINARY_LOWERING(DIV, "stablehlo.divide")

LOWER(SCALE) {
    UNUSED_ARGS;
    return mulc(e, in[0], t->p.f[0]);
}

LOWER(MATMUL) {
    UNUSED_ARGS;
    const hwa_tensor *A = t->src[0], *B = t->src[1];
    const bool ta = t->p.i[0] != 0, tb = t->p.i[1] != 0;
    const int nb = t->ndim - 2;
    int64_t batch = 1, bbatch = 1;
    for (int i = 0; i < nb; i++) batch *= t->shape[i];
    for (int i = 0; i + 2 < B->ndim; i++) bbatch *= B->shape[i];
    const int64_t sa[3] = {batch, A->shape[A->ndim - 2], A->shape[A->ndim - 1]};
    int a = reshape(e, in[0], 3, sa), b;
    if (bbatch == 1) {
        /* one right-hand matrix for every batch: no batch dims on its side */
        const int64_t sb[2] = {B->shape[B->ndim - 2], B->shape[B->ndim - 1]};
        b = reshape(e, in[1], 2, sb);
        const int64_t sa2[2] = {batch * sa[1], sa[2]};
        if (!ta) {
            const int r = dot(e, reshape(e, a, 2, sa2), b, 0, false, tb);
            return reshape_to(e, r, t);
        }
        const int64_t sb3[3] = {batch, sb[0], sb[1]}, bd[2] = {1, 2};
        b = bcast_dims(e, b, 3, sb3, bd);
    } else {
        int64_t sh[HWA__PJ_MAX_DIMS];
        for (int i = 0; i < nb; i++) sh[i] = t->shape[i];
        sh[nb] = B->shape[B->ndim - 2];
        sh[nb + 1] = B->shape[B->ndim - 1];
        b = bcast_trailing(e, in[1], nb + 2, sh);
        const int64_t sb3[3] = {batch, sh[nb], sh[nb + 1]};
        b = reshape(e, b, 3, sb3);
    }
    return reshape_to(e, dot(e, a, b, 1, ta, tb), t);
}

/* f(x) and, for UNARY_BACK, f'(x) of the activation with op code act */
static int activation(hwa__pj_emit *e, int act, int x, bool deriv) {
    switch (act) {
    case HWA_OP_RELU: {
        const int zero = splat_like(e, x, 0.0);
        if (!deriv) return select3(e, compare(e, x, zero, "GT"), x, zero);
        return select3(e, compare(e, x, zero, "GT"), splat_like(e, x, 1.0), zero);
    }
    case HWA_OP_GELU: {
        const int cdf = mulc(e, addc(e, un(e, "chlo.erf", mulc(e, x, 0.70710678118654752440)), 1.0), 0.5);
        if (!deriv) return mul(e, x, cdf);
        const int pdf = mulc(e, un(e, "stablehlo.exponential", mulc(e, mul(e, x, x), -0.5)), 0.39894228040143267794);
        return add(e, cdf, mul(e, x, pdf));
    }
    case HWA_OP_SILU: {
        const int s = un(e, "stablehlo.logistic", x);
        if (!deriv) return mul(e, x, s);
        const int one = splat_like(e, x, 1.0);
        return mul(e, s, add(e, one, mul(e, x, sub(e, one, s))));
    }
    case HWA_OP_SIGMOID: {
        const int s = un(e, "stablehlo.logistic", x);
        return deriv ? mul(e, s, sub(e, splat_like(e, x, 1.0), s)) : s;
    }
    case HWA_OP_TANH: {
        const int th = un(e, "stablehlo.tanh", x);
        return deriv ? sub(e, splat_like(e, x, 1.0), mul(e, th, th)) : th;
    }
    default: snprintf(e->why, sizeof e->why, "unary_back: op code %d is not an activation", act); return -1;
    }
}

#define ACTIVATION_LOWERING(name)                         \
    LOWER(name) {                                         \
        UNUSED_ARGS;                                      \
        return activation(e, HWA_OP_##name, in[0], false); \
    }
ACTIVATION_LOWERING(RELU)
ACTIVATION_LOWERING(GELU)
ACTIVATION_LOWERING(SILU)
ACTIVATION_LOWERING(SIGMOID)
ACTIVATION_LOWERING(TANH)
LOWER(UNARY_BACK) {
    UNUSED_ARGS;
    return mul(e, in[0], activation(e, t->p.i[0], in[1], true));
}

/* x - max_row(x) and sum_row(exp(that)) */
static int shifted(hwa__pj_emit *e, int x, int *sum) {
    const int s = sub(e, x, bcast_rows(e, reduce_rows(e, x, true), x));
    *sum = reduce_rows(e, un(e, "stablehlo.exponential", s), false);
    return s;
}

LOWER(SOFTMAX) {
    UNUSED_ARGS;
    int sum;
    const int s = shifted(e, in[0], &sum);
    return dvd(e, un(e, "stablehlo.exponential", s), bcast_rows(e, sum, s));
}

LOWER(LOG_SOFTMAX) {
    UNUSED_ARGS;
    int sum;
    const int s = shifted(e, in[0], &sum);
    return sub(e, s, bcast_rows(e, un(e, "stablehlo.log", sum), s));
}

LOWER(SOFTMAX_BACK) {
    UNUSED_ARGS;
    const int g = in[0], y = in[1];
    if (t->p.i[0] == 0) return mul(e, y, sub(e, g, bcast_rows(e, reduce_rows(e, mul(e, g, y), false), g)));
    return sub(e, g, mul(e, un(e, "stablehlo.exponential", y), bcast_rows(e, reduce_rows(e, g, false), g)));
}

LOWER(REPEAT) {
    UNUSED_ARGS;
    return bcast_trailing(e, in[0], t->ndim, t->shape);
}

LOWER(SUM_TO) {
    UNUSED_ARGS;
    const hwa_tensor *s = t->src[0];
    const int off = s->ndim - t->ndim;
    int64_t dims[HWA__PJ_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < s->ndim; i++)
        if (i < off || (t->shape[i - off] == 1 && s->shape[i] != 1)) dims[nd++] = i;
    return reshape_to(e, nd ? reduce(e, in[0], dims, nd, false) : in[0], t);
}

/* logits as [N, C] and labels as [N] */
static void rows2(hwa__pj_emit *e, const hwa_tensor *x, int *xv, int *lv) {
    const int64_t C = x->shape[x->ndim - 1], N = hwa_tensor_nelements(x) / (C ? C : 1);
    const int64_t s2[2] = {N, C}, s1[1] = {N};
    *xv = reshape(e, *xv, 2, s2);
    *lv = reshape(e, *lv, 1, s1);
}

/* 1 where column == label, else 0: [N, C] */
static int onehot(hwa__pj_emit *e, int x, int labels) {
    if (x < 0 || labels < 0) return -1;
    const int64_t dims[1] = {0};
    const int cols = iota(e, 2, e->vals[x].sh, 1, HWA__PJ_I32);
    const int lab = bcast_dims(e, labels, 2, e->vals[x].sh, dims);
    return select3(e, compare(e, cols, lab, "EQ"), splat_like(e, x, 1.0), splat_like(e, x, 0.0));
}

LOWER(CROSS_ENTROPY) {
    UNUSED_ARGS;
    int x = in[0], lab = in[1], sum;
    rows2(e, t->src[0], &x, &lab);
    const int s = shifted(e, x, &sum);
    /* logsumexp(row) - row[label] = log(sum) - (x - max)[label] */
    const int picked = reduce_rows(e, mul(e, s, onehot(e, x, lab)), false);
    const int per_row = sub(e, un(e, "stablehlo.log", sum), picked);
    const double n = x >= 0 ? (double)e->vals[x].sh[0] : 1.0;
    return reshape_to(e, mulc(e, reduce_all(e, per_row), 1.0 / n), t);
}

LOWER(CROSS_ENTROPY_BACK) {
    UNUSED_ARGS;
    int x = in[1], lab = in[2], sum;
    rows2(e, t->src[1], &x, &lab);
    const int s = shifted(e, x, &sum);
    const int p = dvd(e, un(e, "stablehlo.exponential", s), bcast_rows(e, sum, s));
    const double n = x >= 0 ? (double)e->vals[x].sh[0] : 1.0;
    const int g = mulc(e, reshape(e, in[0], 0, NULL), 1.0 / n);
    return reshape_to(e, mul(e, sub(e, p, onehot(e, x, lab)), bcast_scalar(e, g, x)), t);
}

LOWER(SUM_SQ) {
    UNUSED_ARGS;
    return reshape_to(e, reduce_all(e, mul(e, in[0], in[0])), t);
}

/* hyper-parameter k of the f32[8] vector, as a scalar broadcast to like */
static int hp(hwa__pj_emit *e, int hyper, int k, int like) {
    return bcast_scalar(e, reshape(e, slice(e, hyper, 0, k, 1), 0, NULL), like);
}

/* The gradient clipping coefficient min(1, max_norm / (sqrt(sum_sq) +
 * 1e-6)), 1 when max_norm <= 0, as a scalar broadcast to like. */
static int clip_coef(hwa__pj_emit *e, int sum_sq, int hyper, int k_max_norm, int like) {
    const int s = reshape(e, sum_sq, 0, NULL);
    const int mn = reshape(e, slice(e, hyper, 0, k_max_norm, 1), 0, NULL);
    const int c = dvd(e, mn, addc(e, un(e, "stablehlo.sqrt", s), 1e-6));
    const int one = splat(e, 0, NULL, 1.0);
    const int cmin = bin(e, "stablehlo.minimum", c, one);
    const int r = select3(e, compare(e, mn, splat(e, 0, NULL, 0.0), "GT"), cmin, one);
    return bcast_scalar(e, r, like);
}

LOWER(SGD_UPDATE) {
    const int p = in[0], g0 = reshape_to(e, in[1], t);
    int d = mul(e, g0, clip_coef(e, in[2], hyper, 3, p));
    d = add(e, d, mul(e, hp(e, hyper, 2, p), p));
    *state = -1;
    if (t->p.i[0]) {
        const int mom = hp(e, hyper, 1, p);
        const int buf = add(e, mul(e, mom, reshape_to(e, in[3], t)), d);
        d = t->p.i[1] ? add(e, d, mul(e, mom, buf)) : buf;
        *state = reshape_to(e, buf, t->src[3]);
    }
    return sub(e, p, mul(e, hp(e, hyper, 0, p), d));
}

LOWER(ADAM_UPDATE) {
    int p = in[0];
    const int g0 = reshape_to(e, in[1], t);
    const int64_t n = hwa_tensor_nelements(t), s2[2] = {2, n}, s1[2] = {1, n};
    const int st = reshape(e, in[3], 2, s2);
    const int m = reshape_to(e, slice(e, st, 0, 0, 1), t), v = reshape_to(e, slice(e, st, 0, 1, 1), t);
    int d = mul(e, g0, clip_coef(e, in[2], hyper, 5, p));
    const int lr = hp(e, hyper, 0, p), b1 = hp(e, hyper, 1, p), b2 = hp(e, hyper, 2, p), wd = hp(e, hyper, 4, p);
    const int one = splat_like(e, p, 1.0);
    if (t->p.i[0]) p = mul(e, p, sub(e, one, mul(e, lr, wd)));
    else d = add(e, d, mul(e, wd, p));
    const int m2 = add(e, mul(e, b1, m), mul(e, sub(e, one, b1), d));
    const int v2 = add(e, mul(e, b2, v), mul(e, mul(e, sub(e, one, b2), d), d));
    const int denom = add(e, dvd(e, un(e, "stablehlo.sqrt", v2), hp(e, hyper, 7, p)), hp(e, hyper, 3, p));
    const int step = dvd(e, lr, hp(e, hyper, 6, p));
    *state = reshape_to(e, concat(e, reshape(e, m2, 2, s1), reshape(e, v2, 2, s1), 0), t->src[3]);
    return sub(e, p, mul(e, step, dvd(e, m2, denom)));
}

/* ---- normalisation over rows --------------------------------------------- */

static int mean_rows(hwa__pj_emit *e, int a) {
    if (a < 0) return -1;
    const int sum = reduce_rows(e, a, false);
    return bcast_rows(e, dvd(e, sum, splat_like(e, sum, (double)e->vals[a].sh[e->vals[a].ndim - 1])), a);
}

/* 1 / sqrt(m + eps), m a row statistic already broadcast to rows */
static int inv_sqrt_eps(hwa__pj_emit *e, int m, double eps) {
    return dvd(e, splat_like(e, m, 1.0), un(e, "stablehlo.sqrt", addc(e, m, eps)));
}

/* x - mean(x) and 1 / sqrt(var(x) + eps) per row, both broadcast to rows */
static int centred(hwa__pj_emit *e, int x, double eps, int *r) {
    const int c = sub(e, x, mean_rows(e, x));
    *r = inv_sqrt_eps(e, mean_rows(e, mul(e, c, c)), eps);
    return c;
}

LOWER(NORM) {
    UNUSED_ARGS;
    int r;
    const int c = centred(e, in[0], t->p.f[0], &r);
    return mul(e, c, r);
}

LOWER(NORM_BACK) {
    UNUSED_ARGS;
    int r;
    const int c = centred(e, in[1], t->p.f[0], &r);
    const int g = in[0], xh = mul(e, c, r);
    return mul(e, r, sub(e, sub(e, g, mean_rows(e, g)), mul(e, xh, mean_rows(e, mul(e, g, xh)))));
}

LOWER(RMS_NORM) {
    UNUSED_ARGS;
    return mul(e, in[0], inv_sqrt_eps(e, mean_rows(e, mul(e, in[0], in[0])), t->p.f[0]));
}

LOWER(RMS_NORM_BACK) {
    UNUSED_ARGS;
    const int g = in[0], x = in[1], r = inv_sqrt_eps(e, mean_rows(e, mul(e, x, x)), t->p.f[0]);
    return sub(e, mul(e, r, g), mul(e, mul(e, x, mul(e, r, mul(e, r, r))), mean_rows(e, mul(e, g, x))));
}

/* ---- indexing and data movement ------------------------------------------ */

static int flat_ids(hwa__pj_emit *e, int ids) {
    if (ids < 0) return -1;
    int64_t n = 1;
    for (int i = 0; i < e->vals[ids].ndim; i++) n *= e->vals[ids].sh[i];
    return reshape(e, ids, 1, &n);
}

/* Ids out of range are not errors here (gather clamps them to the table,
 * scatter drops them): the device cannot report them. */
LOWER(EMBEDDING) {
    UNUSED_ARGS;
    return reshape_to(e, gather_rows(e, in[0], flat_ids(e, in[1])), t);
}

LOWER(EMBEDDING_BACK) {
    UNUSED_ARGS;
    const int ids = flat_ids(e, in[1]);
    const int64_t D = t->shape[t->ndim - 1], sg[2] = {ids >= 0 ? e->vals[ids].sh[0] : 0, D};
    return scatter_add_rows(e, t->shape[0], reshape(e, in[0], 2, sg), ids);
}

static int norm_dim(int d, int ndim) { return d < 0 ? d + ndim : d; }

LOWER(CONCAT) {
    UNUSED_ARGS;
    return concat(e, in[0], in[1], norm_dim(t->p.i[0], t->ndim));
}

LOWER(SLICE_BACK) {
    UNUSED_ARGS;
    const int d = norm_dim(t->p.i[0], t->ndim);
    int64_t lo[HWA__PJ_MAX_DIMS] = {0}, hi[HWA__PJ_MAX_DIMS] = {0};
    lo[d] = t->p.l[0];
    hi[d] = t->shape[d] - t->p.l[0] - t->src[0]->shape[d];
    return pad0(e, in[0], lo, hi);
}

/* The start comes at run time (HWA__PJ_RT_OFFSET); dynamic_update_slice
 * clamps a start past the end, which the shape rule has refused already. */
LOWER(WRITE_SLICE) {
    UNUSED_ARGS;
    const int start = hyper >= 0 ? rt_scalar(e, hyper) : const_i32(e, (int32_t)t->p.l[0]);
    return update_slice(e, in[0], reshape(e, in[1], t->src[1]->ndim, t->src[1]->shape), norm_dim(t->p.i[0], t->ndim),
                        start);
}

/* ---- rotary embedding ---------------------------------------------------- */

/* The angles are computed in f64 (positions times theta^(-2i/D)) and their
 * cosines and sines rounded to f32, as the reference computes them. Negative
 * positions are not errors here (the device cannot report them). */
LOWER(ROPE) {
    UNUSED_ARGS;
    const int mode = t->p.i[0];
    const int64_t D = t->shape[t->ndim - 1], H = t->shape[t->ndim - 2], T = t->shape[t->ndim - 3], half = D / 2;
    if (mode != HWA_ROPE_INTERLEAVED && mode != HWA_ROPE_HALVES) {
        snprintf(e->why, sizeof e->why, "rope: unknown mode %d", mode);
        return -1;
    }
    if (D % 2) {
        snprintf(e->why, sizeof e->why, "rope: odd head size %lld", (long long)D);
        return -1;
    }
    int64_t B = 1;
    for (int i = 0; i + 3 < t->ndim; i++) B *= t->shape[i];
    double *inv = hwa__malloc(e->ctx, (size_t)(half ? half : 1) * sizeof *inv);
    if (!inv) {
        e->oom = true;
        return -1;
    }
    const double sign = t->p.i[1] == 1 ? -1.0 : 1.0;
    for (int64_t i = 0; i < half; i++) inv[i] = sign * pow(t->p.f[0], -2.0 * (double)i / (double)D);
    const int freqs = const_f64s(e, inv, half);
    hwa__free(e->ctx, inv);
    const int64_t tf[2] = {T, half}, d0[1] = {0}, d1[1] = {1}, d13[2] = {1, 3}, s4[4] = {B, T, H, half};
    const int pos = bcast_dims(e, un_et(e, "stablehlo.convert", reshape(e, in[1], 1, &T), HWA__PJ_F64), 2, tf, d0);
    const int ang = mul(e, pos, bcast_dims(e, freqs, 2, tf, d1));
    const int c = bcast_dims(e, hwa__pj_convert(e, un(e, "stablehlo.cosine", ang), HWA__PJ_F32), 4, s4, d13);
    const int sn = bcast_dims(e, hwa__pj_convert(e, un(e, "stablehlo.sine", ang), HWA__PJ_F32), 4, s4, d13);
    int a, b, pd;
    if (mode == HWA_ROPE_INTERLEAVED) {
        const int64_t s5[5] = {B, T, H, half, 2};
        const int x5 = reshape(e, in[0], 5, s5);
        a = reshape(e, slice(e, x5, 4, 0, 1), 4, s4);
        b = reshape(e, slice(e, x5, 4, 1, 1), 4, s4);
        pd = 4;
    } else {
        const int64_t sx[4] = {B, T, H, D};
        const int x4 = reshape(e, in[0], 4, sx);
        a = slice(e, x4, 3, 0, half);
        b = slice(e, x4, 3, half, half);
        pd = 3;
    }
    int ra = sub(e, mul(e, a, c), mul(e, b, sn)), rb = add(e, mul(e, a, sn), mul(e, b, c));
    if (pd == 4) {
        const int64_t s5[5] = {B, T, H, half, 1};
        ra = reshape(e, ra, 5, s5);
        rb = reshape(e, rb, 5, s5);
    }
    return reshape_to(e, concat(e, ra, rb, pd), t);
}

/* ---- attention ------------------------------------------------------------ */

/* q [B,Hq,Tq,D] and k [B,Hkv,Tk,D] as [B*Hkv, G*Tq, D] and [B*Hkv, Tk, D]
 * (G = Hq/Hkv: query head h reads kv head h/G), so one batched product
 * serves every head of a group. */
typedef struct attn_shape {
    int64_t B, Hq, Hkv, G, Tq, Tk, D, Dv;
    double scale;
} attn_shape;

static attn_shape attn_shape_of(const hwa__pj_emit *e, const hwa_tensor *t, int q, int k, int v) {
    attn_shape a;
    const hwa__pj_val *Q = &e->vals[q], *K = &e->vals[k], *V = &e->vals[v];
    a.B = Q->sh[0], a.Hq = Q->sh[1], a.Tq = Q->sh[2], a.D = Q->sh[3];
    a.Hkv = K->sh[1], a.Tk = K->sh[2], a.Dv = V->sh[3];
    a.G = a.Hq / a.Hkv;
    a.scale = t->p.f[0] > 0.0f ? t->p.f[0] : 1.0 / sqrt((double)a.D);
    return a;
}

static int as3(hwa__pj_emit *e, int x, int64_t a, int64_t b, int64_t c) {
    const int64_t s[3] = {a, b, c};
    return reshape(e, x, 3, s);
}

/* Keys j < len (an i32 scalar) are visible, and with causal only those
 * with j <= len - Tq + i for query i: a [Tq, Tk] i1 mask. */
static int attn_mask(hwa__pj_emit *e, const attn_shape *a, int len, bool causal) {
    const int64_t sh[2] = {a->Tq, a->Tk};
    const int ii = iota(e, 2, sh, 0, HWA__PJ_I32), jj = iota(e, 2, sh, 1, HWA__PJ_I32);
    const int L = bcast_scalar(e, len, jj);
    if (!causal) return compare(e, jj, L, "LT");
    return compare(e, jj, add(e, sub(e, L, bcast_scalar(e, const_i32(e, (int32_t)a->Tq), jj)), ii), "LE");
}

/* The attention probabilities [B*Hkv, G*Tq, Tk]: a max-subtracted softmax
 * over the visible keys, 0 for the others (a query that sees none gets all
 * zeros, as the reference). len: the visible prefix (an i32 scalar), or -1
 * for all of k. */
static int attn_probs(hwa__pj_emit *e, const attn_shape *a, int q, int k, int len, bool causal) {
    const int64_t BH = a->B * a->Hkv;
    int s = mulc(e, dot(e, as3(e, q, BH, a->G * a->Tq, a->D), as3(e, k, BH, a->Tk, a->D), 1, false, true), a->scale);
    if (!causal && len < 0) {
        int sum;
        const int sh = shifted(e, s, &sum);
        return dvd(e, un(e, "stablehlo.exponential", sh), bcast_rows(e, sum, sh));
    }
    const int64_t s4[4] = {BH, a->G, a->Tq, a->Tk}, d23[2] = {2, 3};
    s = reshape(e, s, 4, s4);
    const int vis = bcast_dims(e, attn_mask(e, a, len >= 0 ? len : const_i32(e, (int32_t)a->Tk), causal), 4, s4, d23);
    const int ninf = splat_like(e, s, -INFINITY);
    s = select3(e, vis, s, ninf);
    int m = reduce_rows(e, s, true);
    m = select3(e, compare(e, m, splat_like(e, m, -INFINITY), "EQ"), splat_like(e, m, 0.0), m);
    const int p = un(e, "stablehlo.exponential", sub(e, s, bcast_rows(e, m, s)));
    int sum = reduce_rows(e, p, false);
    sum = select3(e, compare(e, sum, splat_like(e, sum, 0.0), "EQ"), splat_like(e, sum, 1.0), sum);
    return as3(e, dvd(e, p, bcast_rows(e, sum, p)), BH, a->G * a->Tq, a->Tk);
}

/* With HWA__PJ_RT_KEYS, k and v are the whole caches and the visible
 * prefix comes at run time: v's rows past it are zeroed too (a cache's
 * unwritten rows may hold anything, and 0 * NaN is NaN). */
LOWER(ATTENTION) {
    UNUSED_ARGS;
    const attn_shape a = attn_shape_of(e, t, in[0], in[1], in[2]);
    const int64_t BH = a.B * a.Hkv;
    const int len = hyper >= 0 ? rt_scalar(e, hyper) : -1;
    const int p = attn_probs(e, &a, in[0], in[1], len, t->p.i[0] != 0);
    int v = as3(e, in[2], BH, a.Tk, a.Dv);
    if (len >= 0) {
        const int64_t sv[3] = {BH, a.Tk, a.Dv};
        const int jj = iota(e, 3, sv, 1, HWA__PJ_I32);
        v = select3(e, compare(e, jj, bcast_scalar(e, len, jj), "LT"), v, splat_like(e, v, 0.0));
    }
    return reshape_to(e, dot(e, p, v, 1, false, false), t);
}

/* dS = P * (dP - rowsum(P * dP)) with dP = g . v^T; dq = scale dS . k,
 * dk = scale dS^T . q, dv = P^T . g (the group's heads and queries summed
 * by the products' contraction). */
LOWER(ATTENTION_BACK) {
    UNUSED_ARGS;
    const attn_shape a = attn_shape_of(e, t, in[1], in[2], in[3]);
    const int64_t BH = a.B * a.Hkv;
    const int which = t->p.i[1];
    if (which < 0 || which > 2) {
        snprintf(e->why, sizeof e->why, "attention_back: which is %d, not 0 (dq), 1 (dk) or 2 (dv)", which);
        return -1;
    }
    const int p = attn_probs(e, &a, in[1], in[2], -1, t->p.i[0] != 0);
    const int g = as3(e, in[0], BH, a.G * a.Tq, a.Dv);
    if (which == 2) return reshape_to(e, dot(e, p, g, 1, true, false), t);
    const int dp = dot(e, g, as3(e, in[3], BH, a.Tk, a.Dv), 1, false, true);
    const int ds = mul(e, p, sub(e, dp, bcast_rows(e, reduce_rows(e, mul(e, p, dp), false), dp)));
    if (which == 0) return reshape_to(e, mulc(e, dot(e, ds, as3(e, in[2], BH, a.Tk, a.D), 1, false, false), a.scale), t);
    return reshape_to(e, mulc(e, dot(e, ds, as3(e, in[1], BH, a.G * a.Tq, a.D), 1, true, false), a.scale), t);
}

/* ---- the table ----------------------------------------------------------- */

static const hwa__pj_lower_fn table[HWA_OP_COUNT] = {
    [HWA_OP_RESHAPE] = lw_RESHAPE,
    [HWA_OP_PERMUTE] = lw_PERMUTE,
    [HWA_OP_SLICE] = lw_SLICE,
    [HWA_OP_CONT] = lw_CONT,
    [HWA_OP_FILL] = lw_FILL,
    [HWA_OP_ADD] = lw_ADD,
    [HWA_OP_SUB] = lw_SUB,
    [HWA_OP_MUL] = lw_MUL,
    [HWA_OP_DIV] = lw_DIV,
    [HWA_OP_SCALE] = lw_SCALE,
    [HWA_OP_MATMUL] = lw_MATMUL,
    [HWA_OP_RELU] = lw_RELU,
    [HWA_OP_GELU] = lw_GELU,
    [HWA_OP_SILU] = lw_SILU,
    [HWA_OP_SIGMOID] = lw_SIGMOID,
    [HWA_OP_TANH] = lw_TANH,
    [HWA_OP_UNARY_BACK] = lw_UNARY_BACK,
    [HWA_OP_SOFTMAX] = lw_SOFTMAX,
    [HWA_OP_LOG_SOFTMAX] = lw_LOG_SOFTMAX,
    [HWA_OP_SOFTMAX_BACK] = lw_SOFTMAX_BACK,
    [HWA_OP_NORM] = lw_NORM,
    [HWA_OP_NORM_BACK] = lw_NORM_BACK,
    [HWA_OP_RMS_NORM] = lw_RMS_NORM,
    [HWA_OP_RMS_NORM_BACK] = lw_RMS_NORM_BACK,
    [HWA_OP_EMBEDDING] = lw_EMBEDDING,
    [HWA_OP_EMBEDDING_BACK] = lw_EMBEDDING_BACK,
    [HWA_OP_ROPE] = lw_ROPE,
    [HWA_OP_ATTENTION] = lw_ATTENTION,
    [HWA_OP_ATTENTION_BACK] = lw_ATTENTION_BACK,
    [HWA_OP_CONCAT] = lw_CONCAT,
    [HWA_OP_SLICE_BACK] = lw_SLICE_BACK,
    [HWA_OP_WRITE_SLICE] = lw_WRITE_SLICE,
    [HWA_OP_REPEAT] = lw_REPEAT,
    [HWA_OP_SUM_TO] = lw_SUM_TO,
    [HWA_OP_CROSS_ENTROPY] = lw_CROSS_ENTROPY,
    [HWA_OP_CROSS_ENTROPY_BACK] = lw_CROSS_ENTROPY_BACK,
    [HWA_OP_SUM_SQ] = lw_SUM_SQ,
    [HWA_OP_SGD_UPDATE] = lw_SGD_UPDATE,
    [HWA_OP_ADAM_UPDATE] = lw_ADAM_UPDATE,
};

hwa__pj_lower_fn hwa__pj_lowering(hwa_op op) { return (unsigned)op < HWA_OP_COUNT ? table[op] : NULL; }

/* x a slice of the time dim (the last but one) from 0 */
static bool prefix_slice(const hwa_tensor *x) {
    return x && x->op == HWA_OP_SLICE && x->ndim == 4 && norm_dim(x->p.i[0], x->src[0]->ndim) == 2 && x->p.l[0] == 0;
}

hwa__pj_rt hwa__pj_run_time_arg(const hwa_tensor *t) {
    switch (t->op) {
    case HWA_OP_SGD_UPDATE: case HWA_OP_ADAM_UPDATE: return HWA__PJ_RT_HYPER;
    case HWA_OP_WRITE_SLICE: return HWA__PJ_RT_OFFSET;
    case HWA_OP_ATTENTION: {
        const hwa_tensor *k = t->src[1], *v = t->src[2];
        return prefix_slice(k) && prefix_slice(v) && k->shape[2] == v->shape[2] &&
                       k->src[0]->shape[2] == v->src[0]->shape[2]
                   ? HWA__PJ_RT_KEYS
                   : HWA__PJ_RT_NONE;
    }
    default: return HWA__PJ_RT_NONE;
    }
}

void hwa__pj_attention_keys(const hwa_tensor *t, const hwa_tensor **k, const hwa_tensor **v, int32_t *len) {
    *k = t->src[1]->src[0];
    *v = t->src[2]->src[0];
    *len = (int32_t)t->src[1]->shape[2];
}

int hwa__pj_index_src(hwa_op op) {
    switch (op) {
    case HWA_OP_EMBEDDING: case HWA_OP_EMBEDDING_BACK: case HWA_OP_ROPE: case HWA_OP_CROSS_ENTROPY: return 1;
    case HWA_OP_CROSS_ENTROPY_BACK: return 2;
    default: return -1;
    }
}
