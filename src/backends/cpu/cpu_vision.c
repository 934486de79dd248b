/* Vision ops on contiguous f32 (cpu_vision.h). Each kernel follows its
 * reference in ref_vision.c step for step; only the split over threads is
 * new, and no result depends on it: a plane, a channel or an element is
 * always computed whole by one thread. */
#include <string.h>

#include "backends/cpu/cpu_vision.h"
#include "backends/cpu/ref/ref.h"

/* Below this many multiply-adds a kernel runs on one thread. */
#define VISION_PAR_MIN 32768

static bool f32c(const hwa_tensor *t) { return t->dtype == HWA_F32 && hwa_tensor_is_contiguous(t); }
static int threads_for(int64_t work, int nt) { return work < VISION_PAR_MIN || nt < 1 ? 1 : nt; }

/* ---- pooling ------------------------------------------------------------- */

/* The windows of every output row and column, found once per node: the
 * tap ranges take integer divisions that would otherwise cost more than
 * the taps. rows[3*oh ..] = h0, t0, t1; cols[3*ow ..] = w0, u0, u1. */
static hwa__pool_win pool_win_at(const int64_t *rows, const int64_t *cols, int64_t oh, int64_t ow) {
    const int64_t *r = rows + 3 * oh, *c = cols + 3 * ow;
    return (hwa__pool_win){r[0], c[0], r[1], r[2], c[1], c[2]};
}

static void pool_plane(const hwa__pool_geom *g, const int64_t *rows, const int64_t *cols, const float *x, float *y) {
    for (int64_t oh = 0; oh < g->OH; oh++)
        for (int64_t ow = 0; ow < g->OW; ow++) {
            const hwa__pool_win w = pool_win_at(rows, cols, oh, ow);
            if (g->kind == HWA_POOL_MAX) {
                /* the reference's rule, started at the first tap (which it keeps) */
                float best = x[(w.h0 + w.t0 * g->dh) * g->W + w.w0 + w.u0 * g->dw];
                for (int64_t t = w.t0; t < w.t1; t++) {
                    const float *row = x + (w.h0 + t * g->dh) * g->W + w.w0;
                    for (int64_t u = w.u0; u < w.u1; u++) {
                        const float v = row[u * g->dw];
                        if (v > best || (isnan(v) && !isnan(best))) best = v;
                    }
                }
                y[oh * g->OW + ow] = best;
                continue;
            }
            double sum = 0.0;
            for (int64_t t = w.t0; t < w.t1; t++) {
                const float *row = x + (w.h0 + t) * g->W + w.w0;
                for (int64_t u = w.u0; u < w.u1; u++) sum += row[u];
            }
            y[oh * g->OW + ow] = (float)(sum / (double)hwa__pool_divisor(g, &w));
        }
}

static void pool_back_plane(const hwa__pool_geom *g, const int64_t *rows, const int64_t *cols, const float *gy,
                            const float *x, float *dx) {
    memset(dx, 0, (size_t)(g->H * g->W) * sizeof *dx);
    for (int64_t oh = 0; oh < g->OH; oh++)
        for (int64_t ow = 0; ow < g->OW; ow++) {
            const hwa__pool_win w = pool_win_at(rows, cols, oh, ow);
            const float gv = gy[oh * g->OW + ow];
            if (g->kind == HWA_POOL_MAX) {
                float best = 0.0f;
                int64_t arg = -1;
                for (int64_t t = w.t0; t < w.t1; t++)
                    for (int64_t u = w.u0; u < w.u1; u++) {
                        const int64_t off = (w.h0 + t * g->dh) * g->W + w.w0 + u * g->dw;
                        const float v = x[off];
                        if (arg < 0 || v > best || (isnan(v) && !isnan(best))) {
                            best = v;
                            arg = off;
                        }
                    }
                dx[arg] += gv;
            } else {
                const float share = (float)((double)gv / (double)hwa__pool_divisor(g, &w));
                for (int64_t t = w.t0; t < w.t1; t++)
                    for (int64_t u = w.u0; u < w.u1; u++) dx[(w.h0 + t) * g->W + w.w0 + u] += share;
            }
        }
}

static bool pool(hwa_tensor *dst, int nt, hwa__cpu_scratch *scratch) {
    const bool back = dst->op == HWA_OP_POOL2D_BACK;
    const hwa_tensor *x = dst->src[back ? 1 : 0];
    if (!f32c(dst) || !f32c(x) || (back && !f32c(dst->src[0]))) return false;
    hwa__pool_geom g;
    hwa__pool_geom_of(dst, &g);
    int64_t *rows = hwa__scratch_grow(scratch->ctx, &scratch->p, &scratch->cap,
                                      (size_t)(3 * (g.OH + g.OW)) * sizeof(int64_t));
    if (!rows) {
        scratch->failure = HWA_E_NOMEM;
        return false;
    }
    int64_t *cols = rows + 3 * g.OH;
    for (int64_t i = 0; i < g.OH; i++) {
        const hwa__pool_win w = hwa__pool_window(&g, i, 0);
        rows[3 * i] = w.h0, rows[3 * i + 1] = w.t0, rows[3 * i + 2] = w.t1;
    }
    for (int64_t i = 0; i < g.OW; i++) {
        const hwa__pool_win w = hwa__pool_window(&g, 0, i);
        cols[3 * i] = w.w0, cols[3 * i + 1] = w.u0, cols[3 * i + 2] = w.u1;
    }
    const float *xp = hwa__data(x), *gp = back ? hwa__data(dst->src[0]) : NULL;
    float *yp = hwa__data(dst);
    const int64_t planes = g.N * g.C, in = g.H * g.W, out = g.OH * g.OW;
    const int th = threads_for(planes * out * g.kh * g.kw, nt);
    (void)th;
#pragma omp parallel for num_threads(th) schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        if (back) pool_back_plane(&g, rows, cols, gp + p * out, xp + p * in, yp + p * in);
        else pool_plane(&g, rows, cols, xp + p * in, yp + p * out);
    }
    return true;
}

/* ---- batch normalization ------------------------------------------------- */

typedef struct bn_dims {
    int64_t N, C, S, M;
} bn_dims;

static bn_dims bn_dims_of(const hwa_tensor *x) {
    bn_dims d;
    hwa__bn_dims(x, &d.C, &d.S);
    d.M = hwa_tensor_nelements(x) / d.C;
    d.N = d.M / d.S;
    return d;
}

/* Mean and biased variance of channel c, in the reference's order. */
static void bn_stats(const bn_dims *d, const float *x, int64_t c, double *mean, double *var) {
    double s = 0.0;
    for (int64_t n = 0; n < d->N; n++) {
        const float *r = x + (n * d->C + c) * d->S;
        for (int64_t j = 0; j < d->S; j++) s += r[j];
    }
    const double mu = s / (double)d->M;
    double q = 0.0;
    for (int64_t n = 0; n < d->N; n++) {
        const float *r = x + (n * d->C + c) * d->S;
        for (int64_t j = 0; j < d->S; j++) {
            const double e = r[j] - mu;
            q += e * e;
        }
    }
    *mean = mu;
    *var = q / (double)d->M;
}

/* y = x * a[c] + b[c] over rows (n, c) of S elements. */
static void bn_apply(const bn_dims *d, const float *x, const float *a, const float *b, float *y, int nt) {
    const int th = threads_for(d->M * d->C, nt);
    (void)th;
#pragma omp parallel for num_threads(th) schedule(static)
    for (int64_t r = 0; r < d->N * d->C; r++) {
        const float ac = a[r % d->C], bc = b[r % d->C];
        const float *xr = x + r * d->S;
        float *yr = y + r * d->S;
        for (int64_t j = 0; j < d->S; j++) yr[j] = xr[j] * ac + bc;
    }
}

static bool bn_forward(hwa_tensor *dst, int nt, float *ab) {
    const bool train = dst->op == HWA_OP_BATCHNORM_TRAIN;
    const bn_dims d = bn_dims_of(dst->src[0]);
    const float *x = hwa__data(dst->src[0]), *sc = hwa__data(dst->src[1]), *bi = hwa__data(dst->src[2]);
    float *st = hwa__data(dst->src[3]), *a = ab, *b = ab + d.C;
    const double eps = dst->p.f[0], mom = dst->p.f[1];
    const int th = threads_for(train ? d.M * d.C : 0, nt);
    (void)th;
#pragma omp parallel for num_threads(th) schedule(static)
    for (int64_t c = 0; c < d.C; c++) {
        if (!train) {
            hwa__bn_affine(st[c], st[d.C + c], sc[c], bi[c], eps, &a[c], &b[c]);
            continue;
        }
        double mean, var;
        bn_stats(&d, x, c, &mean, &var);
        hwa__bn_affine(mean, var, sc[c], bi[c], eps, &a[c], &b[c]);
        const double unbiased = d.M > 1 ? var * (double)d.M / (double)(d.M - 1) : var;
        st[c] = (float)((1.0 - mom) * st[c] + mom * mean);
        st[d.C + c] = (float)((1.0 - mom) * st[d.C + c] + mom * unbiased);
    }
    if (train) hwa__tensor_touch(dst->src[3]);
    bn_apply(&d, x, a, b, hwa__data(dst), nt);
    return true;
}

static bool bn_backward(hwa_tensor *dst, int nt) {
    const bool train = dst->op == HWA_OP_BATCHNORM_TRAIN_BACK, dscale = dst->p.i[0] == 1;
    const bn_dims d = bn_dims_of(dst->src[1]);
    const float *g = hwa__data(dst->src[0]), *x = hwa__data(dst->src[1]), *sc = hwa__data(dst->src[2]);
    const float *st = train ? NULL : hwa__data(dst->src[3]);
    float *out = hwa__data(dst);
    const double eps = dst->p.f[0], M = (double)d.M;
    const int th = threads_for(d.M * d.C, nt);
    (void)th;
#pragma omp parallel for num_threads(th) schedule(static)
    for (int64_t c = 0; c < d.C; c++) {
        double mean, var;
        if (train) {
            bn_stats(&d, x, c, &mean, &var);
        } else {
            mean = st[c];
            var = st[d.C + c];
        }
        const double r = 1.0 / sqrt(var + eps), scale = sc[c];
        double sg = 0.0, sgx = 0.0;
        if (train || dscale) {
            for (int64_t n = 0; n < d.N; n++) {
                const float *gr = g + (n * d.C + c) * d.S, *xr = x + (n * d.C + c) * d.S;
                for (int64_t j = 0; j < d.S; j++) {
                    const double gv = gr[j];
                    sg += gv;
                    sgx += gv * ((xr[j] - mean) * r);
                }
            }
        }
        if (dscale) {
            out[c] = (float)sgx;
            continue;
        }
        const float k = (float)(scale * r);
        for (int64_t n = 0; n < d.N; n++) {
            const int64_t o = (n * d.C + c) * d.S;
            for (int64_t j = 0; j < d.S; j++) {
                if (!train) {
                    out[o + j] = g[o + j] * k;
                    continue;
                }
                const double xh = (x[o + j] - mean) * r;
                out[o + j] = (float)(scale * r * (g[o + j] - sg / M - xh * (sgx / M)));
            }
        }
    }
    return true;
}

static bool bn(hwa_tensor *dst, int nt, hwa__cpu_scratch *scratch) {
    const int n_src = hwa__op_n_src(dst->op);
    if (!f32c(dst)) return false;
    for (int i = 0; i < n_src; i++)
        if (!f32c(dst->src[i])) return false;
    if (dst->op == HWA_OP_BATCHNORM_BACK || dst->op == HWA_OP_BATCHNORM_TRAIN_BACK) return bn_backward(dst, nt);
    const int64_t C = dst->src[0]->shape[1];
    float *ab = hwa__scratch_grow(scratch->ctx, &scratch->p, &scratch->cap, (size_t)(2 * C) * sizeof(float));
    if (!ab) {
        scratch->failure = HWA_E_NOMEM;
        return false;
    }
    return bn_forward(dst, nt, ab);
}

/* ---- dropout --------------------------------------------------------------- */

static bool dropout(hwa_tensor *dst, int nt) {
    const hwa_tensor *xt = dst->src[0], *seed = dst->src[1];
    if (!f32c(dst) || !f32c(xt) || !hwa_tensor_is_contiguous(seed)) return false;
    const int32_t *s = hwa__data(seed);
    const uint32_t s0 = (uint32_t)s[0], s1 = (uint32_t)s[1], thr = hwa__dropout_threshold(dst->p.f[0]);
    const float k = hwa__dropout_factor(dst->p.f[0]), *x = hwa__data(xt);
    float *y = hwa__data(dst);
    const int64_t n = hwa_tensor_nelements(dst);
    const int th = threads_for(n * 8, nt);
    (void)th;
#pragma omp parallel for num_threads(th) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const bool keep = (uint32_t)(hwa__dropout_hash(s0, s1, (uint64_t)i) >> 40) >= thr;
        y[i] = keep ? x[i] * k : 0.0f;
    }
    return true;
}

bool hwa__cpu_vision_run(hwa_tensor *dst, int nthreads, hwa__cpu_scratch *scratch) {
    switch (dst->op) {
    case HWA_OP_POOL2D:
    case HWA_OP_POOL2D_BACK: return pool(dst, nthreads, scratch);
    case HWA_OP_BATCHNORM:
    case HWA_OP_BATCHNORM_BACK:
    case HWA_OP_BATCHNORM_TRAIN:
    case HWA_OP_BATCHNORM_TRAIN_BACK: return bn(dst, nthreads, scratch);
    case HWA_OP_DROPOUT: return dropout(dst, nthreads);
    default: return false;
    }
}
