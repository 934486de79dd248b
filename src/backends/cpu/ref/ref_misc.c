/* Reference kernels: concatenation, the slice's backward, cross-entropy, and
 * the ops that compute nothing (leaves and views). */
#include <math.h>

#include "backends/cpu/ref/ref_common.h"

/* ---- ops that compute nothing ------------------------------------------ */

/* Leaves hold data and views share their source's storage: the scheduler
 * never runs them, and running one anyway must not touch memory. */
hwa_status hwa__ref_NONE(hwa_tensor *dst) { return HWA_OK; }
hwa_status hwa__ref_RESHAPE(hwa_tensor *dst) { return HWA_OK; }
hwa_status hwa__ref_PERMUTE(hwa_tensor *dst) { return HWA_OK; }
hwa_status hwa__ref_SLICE(hwa_tensor *dst) { return HWA_OK; }

/* ---- concat and slice_back --------------------------------------------- */

static hwa_status dim_err(const hwa_tensor *dst, int dim) {
    return hwa__err(dst->ctx, HWA_E_INVALID, "%s: dim %d is outside a %d-dim tensor", hwa__op_name(dst->op), dim,
                    dst->ndim);
}

/* Along dim p.i[0]: dst's first extent-of-src0 elements come from src0, the
 * rest from src1. */
hwa_status hwa__ref_CONCAT(hwa_tensor *dst) {
    const int dim = hwa__dim4(dst, dst->p.i[0]);
    if (dim < 0) return dim_err(dst, dst->p.i[0]);
    const hwa__rt d = hwa__rt_of(dst), a = hwa__rt_of(dst->src[0]), b = hwa__rt_of(dst->src[1]);
    int64_t idx[4];
    for (int64_t i = 0; i < d.n; i++) {
        hwa__ref_unravel(d.ne, i, idx);
        float v;
        if (idx[dim] < a.ne[dim]) {
            v = hwa__rt_at(&a, hwa__rt_off4(&a, idx));
        } else {
            idx[dim] -= a.ne[dim];
            v = hwa__rt_at(&b, hwa__rt_off4(&b, idx));
        }
        hwa__rt_set(&d, i, v);
    }
    return HWA_OK;
}

/* dst has the sliced source's shape; src0 is the slice's gradient and fills
 * [p.l[0], p.l[0] + its extent) along dim p.i[0]; everything else is 0. */
hwa_status hwa__ref_SLICE_BACK(hwa_tensor *dst) {
    const int dim = hwa__dim4(dst, dst->p.i[0]);
    if (dim < 0) return dim_err(dst, dst->p.i[0]);
    const hwa__rt d = hwa__rt_of(dst), s = hwa__rt_of(dst->src[0]);
    const int64_t start = dst->p.l[0];
    int64_t idx[4];
    for (int64_t i = 0; i < d.n; i++) {
        hwa__ref_unravel(d.ne, i, idx);
        float v = 0.0f;
        if (idx[dim] >= start && idx[dim] < start + s.ne[dim]) {
            idx[dim] -= start;
            v = hwa__rt_at(&s, hwa__rt_off4(&s, idx));
        }
        hwa__rt_set(&d, i, v);
    }
    return HWA_OK;
}

/* ---- cross-entropy ----------------------------------------------------- */

/* Rows of logits [N, C] (padded: [1, 1, N, C]) and labels i32 [N]. */
typedef struct xent {
    hwa__rt logits, labels;
    int64_t N, C;
} xent;

static xent xent_of(const hwa_tensor *logits, const hwa_tensor *labels) {
    xent x;
    x.logits = hwa__rt_of(logits);
    x.labels = hwa__rt_of(labels);
    x.N = x.logits.rows;
    x.C = x.logits.ne[3];
    return x;
}

static double logit(const xent *x, int64_t off, int64_t c) { return hwa__rt_at(&x->logits, off + c * x->logits.st[3]); }

/* Every label in [0, C), checked before anything is written. */
static hwa_status xent_check_labels(const hwa_tensor *dst, const xent *x) {
    for (int64_t n = 0; n < x->N; n++) {
        const int32_t label = hwa__rt_i32(&x->labels, n);
        if (label < 0 || label >= x->C) return hwa__ref_range_err(dst, "label", label, n, x->C);
    }
    return HWA_OK;
}

hwa_status hwa__ref_CROSS_ENTROPY(hwa_tensor *dst) {
    const xent x = xent_of(dst->src[0], dst->src[1]);
    hwa_status st = xent_check_labels(dst, &x);
    if (st != HWA_OK) return st;
    double loss = 0.0;
    for (int64_t n = 0; n < x.N; n++) {
        const int64_t off = hwa__rt_row(&x.logits, n);
        loss += hwa__ref_logsumexp(&x.logits, off, x.C) - logit(&x, off, hwa__rt_i32(&x.labels, n));
    }
    const hwa__rt d = hwa__rt_of(dst);
    hwa__rt_set(&d, 0, (float)(loss / (double)x.N));
    return HWA_OK;
}

/* src0 g [1], src1 logits, src2 labels; dst [N, C] = g / N * (softmax - onehot). */
hwa_status hwa__ref_CROSS_ENTROPY_BACK(hwa_tensor *dst) {
    const xent x = xent_of(dst->src[1], dst->src[2]);
    hwa_status st = xent_check_labels(dst, &x);
    if (st != HWA_OK) return st;
    const hwa__rt g = hwa__rt_of(dst->src[0]), d = hwa__rt_of(dst);
    const double k = hwa__rt_get(&g, 0) / (double)x.N;
    for (int64_t n = 0; n < x.N; n++) {
        const int64_t off = hwa__rt_row(&x.logits, n), od = hwa__rt_row(&d, n);
        const int32_t label = hwa__rt_i32(&x.labels, n);
        const double lse = hwa__ref_logsumexp(&x.logits, off, x.C);
        for (int64_t c = 0; c < x.C; c++) {
            const double y = exp(logit(&x, off, c) - lse) - (c == label ? 1.0 : 0.0);
            hwa__rt_put(&d, od + c * d.st[3], (float)(k * y));
        }
    }
    return HWA_OK;
}

hwa_status hwa__ref_WRITE_SLICE(hwa_tensor *dst) {
    /* dst shares src0's storage: only the region that src1 covers changes. */
    const int dim = hwa__dim4(dst, dst->p.i[0]);
    if (dim < 0) return dim_err(dst, dst->p.i[0]);
    const hwa__rt d = hwa__rt_of(dst), v = hwa__rt_of(dst->src[1]);
    int64_t idx[4];
    for (int64_t i = 0; i < v.n; i++) {
        hwa__ref_unravel(v.ne, i, idx);
        float x = hwa__rt_at(&v, hwa__rt_off4(&v, idx));
        idx[dim] += dst->p.l[0];
        hwa__rt_put(&d, hwa__rt_off4(&d, idx), x);
    }
    return HWA_OK;
}
