/* Reference kernels: copies, fills, arithmetic, activations and broadcasting.
 *
 * The in-place ops (dst aliasing src0 exactly) are safe because every kernel
 * here that may run in place computes element i from the inputs' element i
 * and writes element i only, in one pass. */
#include <math.h>

#include "backends/cpu/ref/eltwise_fn.h"
#include "backends/cpu/ref/ref_common.h"

/* ---- copies and fills -------------------------------------------------- */

/* Quantized dtypes are only ever whole contiguous rows, so a copy from or to
 * one goes a row at a time through an f32 buffer. */
static hwa_status cont_quantized(hwa_tensor *dst, const hwa__rt *d, const hwa_tensor *src, const hwa__rt *s) {
    hwa_status st = HWA_OK;
    if (hwa_dtype_is_quantized(src->dtype) && (st = hwa__ref_check_quant(dst, src)) != HWA_OK) return st;
    if (hwa_dtype_is_quantized(dst->dtype) && (st = hwa__ref_check_quant(dst, dst)) != HWA_OK) return st;
    if (s->ne[3] != d->ne[3])
        return hwa__err(dst->ctx, HWA_E_SHAPE, "cont: a quantized copy needs equal row lengths (%lld and %lld)",
                        (long long)s->ne[3], (long long)d->ne[3]);
    const int64_t n = d->ne[3];
    float *row = hwa__ref_scratch(dst, n, sizeof *row);
    if (!row) return HWA_E_NOMEM;
    for (int64_t r = 0; r < d->rows && st == HWA_OK; r++) {
        if (hwa_dtype_is_quantized(s->dtype)) {
            st = hwa__ref_dequant_rows(s, r, 1, row);
        } else {
            const int64_t off = hwa__rt_row(s, r);
            for (int64_t j = 0; j < n; j++) row[j] = hwa__rt_at(s, off + j * s->st[3]);
        }
        if (st != HWA_OK) break;
        if (hwa_dtype_is_quantized(d->dtype)) {
            const size_t row_bytes = (size_t)(n / hwa_dtype_block_size(d->dtype)) * hwa_dtype_block_bytes(d->dtype);
            st = hwa_convert_from_f32(d->dtype, (char *)d->base + (size_t)r * row_bytes, row, n);
        } else {
            const int64_t off = hwa__rt_row(d, r);
            for (int64_t j = 0; j < n; j++) hwa__rt_put(d, off + j * d->st[3], row[j]);
        }
    }
    hwa__free(dst->ctx, row);
    return st;
}

hwa_status hwa__ref_CONT(hwa_tensor *dst) {
    const hwa__rt d = hwa__rt_of(dst), s = hwa__rt_of(dst->src[0]);
    if (hwa_dtype_is_quantized(s.dtype) || hwa_dtype_is_quantized(d.dtype))
        return cont_quantized(dst, &d, dst->src[0], &s);
    if (d.dtype == HWA_I32) { /* hwa_cast: exact from i32, toward zero from float */
        for (int64_t i = 0; i < d.n; i++)
            ((int32_t *)d.base)[hwa__ref_offset(d.ne, d.st, i)] =
                s.dtype == HWA_I32 ? hwa__rt_i32(&s, i) : hwa__f32_to_i32_trunc(hwa__rt_get(&s, i));
        return HWA_OK;
    }
    for (int64_t i = 0; i < d.n; i++) hwa__rt_set(&d, i, hwa__rt_get(&s, i));
    return HWA_OK;
}

hwa_status hwa__ref_FILL(hwa_tensor *dst) {
    const hwa__rt d = hwa__rt_of(dst);
    for (int64_t i = 0; i < d.n; i++) hwa__rt_set(&d, i, dst->p.f[0]);
    return HWA_OK;
}

/* ---- arithmetic -------------------------------------------------------- */

static hwa_status binary(hwa_tensor *dst) {
    const hwa__rt d = hwa__rt_of(dst), a = hwa__rt_of(dst->src[0]), b = hwa__rt_of(dst->src[1]);
    int64_t idx[4];
    for (int64_t i = 0; i < d.n; i++) {
        hwa__ref_unravel(d.ne, i, idx);
        const double x = hwa__rt_get(&a, i), y = hwa__rt_at(&b, hwa__rt_bcast_off(&b, idx));
        double v = 0.0;
        switch (dst->op) {
        case HWA_OP_ADD: v = x + y; break;
        case HWA_OP_SUB: v = x - y; break;
        case HWA_OP_MUL: v = x * y; break;
        case HWA_OP_DIV: v = x / y; break;
        default: return hwa__err(dst->ctx, HWA_E_INTERNAL, "ref: %s is not a binary op", hwa__op_name(dst->op));
        }
        hwa__rt_set(&d, i, (float)v);
    }
    return HWA_OK;
}

hwa_status hwa__ref_ADD(hwa_tensor *dst) { return binary(dst); }
hwa_status hwa__ref_SUB(hwa_tensor *dst) { return binary(dst); }
hwa_status hwa__ref_MUL(hwa_tensor *dst) { return binary(dst); }
hwa_status hwa__ref_DIV(hwa_tensor *dst) { return binary(dst); }

hwa_status hwa__ref_SCALE(hwa_tensor *dst) {
    const hwa__rt d = hwa__rt_of(dst), a = hwa__rt_of(dst->src[0]);
    for (int64_t i = 0; i < d.n; i++) hwa__rt_set(&d, i, (float)((double)hwa__rt_get(&a, i) * dst->p.f[0]));
    return HWA_OK;
}

/* ---- activations ------------------------------------------------------- */

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* f(x) and f'(x) of the activation with op code op; false if op is not one. */
static bool activation(int op, double x, double *f, double *df) {
    const double inv_sqrt2 = 0.70710678118654752440, inv_sqrt2pi = 0.39894228040143267794;
    switch (op) {
    case HWA_OP_RELU:
        *f = x > 0.0 ? x : 0.0;
        *df = x > 0.0 ? 1.0 : 0.0;
        return true;
    case HWA_OP_GELU: {
        const double cdf = 0.5 * (1.0 + erf(x * inv_sqrt2));
        *f = x * cdf;
        *df = cdf + x * inv_sqrt2pi * exp(-0.5 * x * x);
        return true;
    }
    case HWA_OP_SILU: {
        const double s = sigmoid(x);
        *f = x * s;
        *df = s * (1.0 + x * (1.0 - s));
        return true;
    }
    case HWA_OP_SIGMOID: {
        const double s = sigmoid(x);
        *f = s;
        *df = s * (1.0 - s);
        return true;
    }
    case HWA_OP_TANH: {
        const double t = tanh(x);
        *f = t;
        *df = 1.0 - t * t;
        return true;
    }
    default: return false;
    }
}

/* back = false: dst = f(src0); back = true: dst = src0 * f'(src1), with f the
 * activation whose op code is p.i[0] (UNARY_BACK). */
static hwa_status unary(hwa_tensor *dst, int op, bool back) {
    const hwa__rt d = hwa__rt_of(dst), a = hwa__rt_of(dst->src[0]);
    const hwa__rt x = back ? hwa__rt_of(dst->src[1]) : a;
    double f = 0.0, df = 0.0;
    if (!activation(op, 0.0, &f, &df))
        return hwa__err(dst->ctx, HWA_E_INVALID, "%s: op code %d is not an activation", hwa__op_name(dst->op), op);
    for (int64_t i = 0; i < d.n; i++) {
        activation(op, hwa__rt_get(&x, i), &f, &df);
        hwa__rt_set(&d, i, (float)(back ? hwa__rt_get(&a, i) * df : f));
    }
    return HWA_OK;
}

hwa_status hwa__ref_RELU(hwa_tensor *dst) { return unary(dst, HWA_OP_RELU, false); }
hwa_status hwa__ref_GELU(hwa_tensor *dst) { return unary(dst, HWA_OP_GELU, false); }
hwa_status hwa__ref_SILU(hwa_tensor *dst) { return unary(dst, HWA_OP_SILU, false); }
hwa_status hwa__ref_SIGMOID(hwa_tensor *dst) { return unary(dst, HWA_OP_SIGMOID, false); }
hwa_status hwa__ref_TANH(hwa_tensor *dst) { return unary(dst, HWA_OP_TANH, false); }
hwa_status hwa__ref_UNARY_BACK(hwa_tensor *dst) { return unary(dst, dst->p.i[0], true); }

/* ---- broadcasting ------------------------------------------------------ */

hwa_status hwa__ref_REPEAT(hwa_tensor *dst) {
    const hwa__rt d = hwa__rt_of(dst), s = hwa__rt_of(dst->src[0]);
    int64_t idx[4];
    for (int64_t i = 0; i < d.n; i++) {
        hwa__ref_unravel(d.ne, i, idx);
        hwa__rt_set(&d, i, hwa__rt_at(&s, hwa__rt_bcast_off(&s, idx)));
    }
    return HWA_OK;
}

/* Each source element lands in the dst element REPEAT would have copied it
 * from; sums are kept in double until every source element is in, so the
 * order of additions is the source's row-major order. */
hwa_status hwa__ref_SUM_TO(hwa_tensor *dst) {
    const hwa__rt d = hwa__rt_of(dst), s = hwa__rt_of(dst->src[0]);
    double *acc = hwa__ref_scratch(dst, d.n, sizeof *acc);
    if (!acc) return HWA_E_NOMEM;
    int64_t idx[4];
    for (int64_t i = 0; i < s.n; i++) {
        hwa__ref_unravel(s.ne, i, idx);
        int64_t j = 0;
        for (int k = 0; k < 4; k++) j = j * d.ne[k] + (d.ne[k] == 1 ? 0 : idx[k]);
        acc[j] += hwa__rt_get(&s, i);
    }
    for (int64_t j = 0; j < d.n; j++) hwa__rt_set(&d, j, (float)acc[j]);
    hwa__free(dst->ctx, acc);
    return HWA_OK;
}
