/* Reference kernels: softmax and normalisation over rows (the last dim), and
 * their backward helpers.
 *
 * Each kernel is a function of one row. It first reduces the row in double,
 * then writes element j from the inputs' element j alone, so it stays correct
 * when dst aliases an input. */
#include <math.h>

#include "backends/cpu/ref/ref_common.h"

/* The current row of dst and of up to two same-shaped inputs: a = src0 and
 * b = src1 (the backward helpers: a = g, b = x or y). */
typedef struct row {
    hwa__rt d, a, b;
    int64_t n;          /* row length */
    int64_t od, oa, ob; /* element offsets of the current row */
    const hwa_op_params *p;
} row;

static double get_a(const row *r, int64_t j) { return hwa__rt_at(&r->a, r->oa + j * r->a.st[3]); }
static double get_b(const row *r, int64_t j) { return hwa__rt_at(&r->b, r->ob + j * r->b.st[3]); }
static void put_d(const row *r, int64_t j, double v) { hwa__rt_put(&r->d, r->od + j * r->d.st[3], (float)v); }

/* Runs fn on every row of dst. */
static hwa_status for_each_row(hwa_tensor *dst, int nsrc, void (*fn)(const row *r)) {
    row r;
    r.d = hwa__rt_of(dst);
    r.a = hwa__rt_of(dst->src[0]);
    r.b = nsrc > 1 ? hwa__rt_of(dst->src[1]) : r.a;
    r.n = r.d.ne[3];
    r.p = &dst->p;
    for (int64_t i = 0; i < r.d.rows; i++) {
        r.od = hwa__rt_row(&r.d, i);
        r.oa = hwa__rt_row(&r.a, i);
        r.ob = hwa__rt_row(&r.b, i);
        fn(&r);
    }
    return HWA_OK;
}

/* ---- softmax ----------------------------------------------------------- */

static void softmax_row(const row *r) {
    const double lse = hwa__ref_logsumexp(&r->a, r->oa, r->n);
    for (int64_t j = 0; j < r->n; j++) put_d(r, j, exp(get_a(r, j) - lse));
}

static void log_softmax_row(const row *r) {
    const double lse = hwa__ref_logsumexp(&r->a, r->oa, r->n);
    for (int64_t j = 0; j < r->n; j++) put_d(r, j, get_a(r, j) - lse);
}

/* b = y, the forward output; p.i[0] = 1 when the forward was log_softmax. */
static void softmax_back_row(const row *r) {
    const bool log_softmax = r->p->i[0] != 0;
    double s = 0.0; /* softmax: sum(g * y); log_softmax: sum(g) */
    for (int64_t j = 0; j < r->n; j++) s += log_softmax ? get_a(r, j) : get_a(r, j) * get_b(r, j);
    for (int64_t j = 0; j < r->n; j++) {
        const double g = get_a(r, j), y = get_b(r, j);
        put_d(r, j, log_softmax ? g - exp(y) * s : y * (g - s));
    }
}

hwa_status hwa__ref_SOFTMAX(hwa_tensor *dst) { return for_each_row(dst, 1, softmax_row); }
hwa_status hwa__ref_LOG_SOFTMAX(hwa_tensor *dst) { return for_each_row(dst, 1, log_softmax_row); }
hwa_status hwa__ref_SOFTMAX_BACK(hwa_tensor *dst) { return for_each_row(dst, 2, softmax_back_row); }

/* ---- layer norm (no affine part) --------------------------------------- */

/* The mean of the row of x at offset off, and its 1 / sqrt(var + eps) with
 * the biased variance (two passes, so no cancellation). */
static double norm_scale(const hwa__rt *x, int64_t off, int64_t n, double eps, double *mean) {
    double s = 0.0;
    for (int64_t j = 0; j < n; j++) s += hwa__rt_at(x, off + j * x->st[3]);
    *mean = s / (double)n;
    double v = 0.0;
    for (int64_t j = 0; j < n; j++) {
        const double c = hwa__rt_at(x, off + j * x->st[3]) - *mean;
        v += c * c;
    }
    return 1.0 / sqrt(v / (double)n + eps);
}

static void norm_row(const row *r) {
    double mean;
    const double rs = norm_scale(&r->a, r->oa, r->n, r->p->f[0], &mean);
    for (int64_t j = 0; j < r->n; j++) put_d(r, j, (get_a(r, j) - mean) * rs);
}

/* b = x: dst = rs * (g - mean(g) - xh * mean(g * xh)). */
static void norm_back_row(const row *r) {
    double mean;
    const double rs = norm_scale(&r->b, r->ob, r->n, r->p->f[0], &mean);
    double sg = 0.0, sgx = 0.0;
    for (int64_t j = 0; j < r->n; j++) {
        sg += get_a(r, j);
        sgx += get_a(r, j) * (get_b(r, j) - mean) * rs;
    }
    const double mg = sg / (double)r->n, mgx = sgx / (double)r->n;
    for (int64_t j = 0; j < r->n; j++) {
        const double xh = (get_b(r, j) - mean) * rs;
        put_d(r, j, rs * (get_a(r, j) - mg - xh * mgx));
    }
}

hwa_status hwa__ref_NORM(hwa_tensor *dst) { return for_each_row(dst, 1, norm_row); }
hwa_status hwa__ref_NORM_BACK(hwa_tensor *dst) { return for_each_row(dst, 2, norm_back_row); }

/* ---- RMS norm (no weight) ---------------------------------------------- */

/* 1 / sqrt(mean(x^2) + eps) of the row of x at offset off. */
static double rms_scale(const hwa__rt *x, int64_t off, int64_t n, double eps) {
    double s = 0.0;
    for (int64_t j = 0; j < n; j++) {
        const double v = hwa__rt_at(x, off + j * x->st[3]);
        s += v * v;
    }
    return 1.0 / sqrt(s / (double)n + eps);
}

static void rms_norm_row(const row *r) {
    const double rs = rms_scale(&r->a, r->oa, r->n, r->p->f[0]);
    for (int64_t j = 0; j < r->n; j++) put_d(r, j, get_a(r, j) * rs);
}

/* b = x: dst = rs * g - x * rs^3 * mean(g * x). */
static void rms_norm_back_row(const row *r) {
    const double rs = rms_scale(&r->b, r->ob, r->n, r->p->f[0]);
    double sgx = 0.0;
    for (int64_t j = 0; j < r->n; j++) sgx += get_a(r, j) * get_b(r, j);
    const double mgx = sgx / (double)r->n;
    for (int64_t j = 0; j < r->n; j++) put_d(r, j, rs * get_a(r, j) - get_b(r, j) * rs * rs * rs * mgx);
}

hwa_status hwa__ref_RMS_NORM(hwa_tensor *dst) { return for_each_row(dst, 1, rms_norm_row); }
hwa_status hwa__ref_RMS_NORM_BACK(hwa_tensor *dst) { return for_each_row(dst, 2, rms_norm_back_row); }
