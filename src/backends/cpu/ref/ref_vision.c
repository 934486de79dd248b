/* Reference kernels of the vision ops: 2-D pooling and its backward, batch
 * normalization (inference and training, and their backward helpers), and
 * dropout. Plain loops in the order ops_list.h gives, which the fast kernels
 * (cpu_vision.c) follow so that both give the same bits. */
#include <string.h>

#include "backends/cpu/ref/ref_common.h"

void hwa__pool_geom_of(const hwa_tensor *dst, hwa__pool_geom *g) {
    const hwa_tensor *x = dst->src[dst->op == HWA_OP_POOL2D_BACK ? 1 : 0];
    const hwa_tensor *y = dst->op == HWA_OP_POOL2D_BACK ? dst->src[0] : dst;
    const hwa_op_params *p = &dst->p;
    *g = (hwa__pool_geom){
        .N = x->shape[0], .C = x->shape[1], .H = x->shape[2], .W = x->shape[3],
        .OH = y->shape[2], .OW = y->shape[3],
        .kh = p->i[1], .kw = p->i[2], .sh = p->i[3], .sw = p->i[4],
        .pt = p->i[5], .pl = p->i[6], .pb = p->l[0], .pr = p->l[1],
        .dh = (int64_t)p->f[0], .dw = (int64_t)p->f[1],
        .kind = p->i[0], .count_pad = (p->i[7] & 1) != 0,
    };
}

/* ---- pooling ------------------------------------------------------------- */

hwa_status hwa__ref_POOL2D(hwa_tensor *dst) {
    hwa__pool_geom g;
    hwa__pool_geom_of(dst, &g);
    const hwa__rt x = hwa__rt_of(dst->src[0]), y = hwa__rt_of(dst);
    int64_t o = 0;
    for (int64_t n = 0; n < g.N; n++)
        for (int64_t c = 0; c < g.C; c++)
            for (int64_t oh = 0; oh < g.OH; oh++)
                for (int64_t ow = 0; ow < g.OW; ow++, o++) {
                    const hwa__pool_win w = hwa__pool_window(&g, oh, ow);
                    const int64_t base = n * x.st[0] + c * x.st[1];
                    float best = 0.0f;
                    double sum = 0.0;
                    bool found = false;
                    for (int64_t t = w.t0; t < w.t1; t++)
                        for (int64_t u = w.u0; u < w.u1; u++) {
                            const float v = hwa__rt_at(&x, base + (w.h0 + t * g.dh) * x.st[2] +
                                                                (w.w0 + u * g.dw) * x.st[3]);
                            if (!found || v > best || (isnan(v) && !isnan(best))) best = v;
                            found = true;
                            sum += v;
                        }
                    hwa__rt_set(&y, o, g.kind == HWA_POOL_MAX ? best
                                                              : (float)(sum / (double)hwa__pool_divisor(&g, &w)));
                }
    return HWA_OK;
}

hwa_status hwa__ref_POOL2D_BACK(hwa_tensor *dst) {
    hwa__pool_geom g;
    hwa__pool_geom_of(dst, &g);
    const hwa__rt gy = hwa__rt_of(dst->src[0]), x = hwa__rt_of(dst->src[1]), dx = hwa__rt_of(dst);
    for (int64_t i = 0; i < dx.n; i++) hwa__rt_set(&dx, i, 0.0f);
    int64_t o = 0;
    for (int64_t n = 0; n < g.N; n++)
        for (int64_t c = 0; c < g.C; c++)
            for (int64_t oh = 0; oh < g.OH; oh++)
                for (int64_t ow = 0; ow < g.OW; ow++, o++) {
                    const hwa__pool_win w = hwa__pool_window(&g, oh, ow);
                    const float gv = hwa__rt_get(&gy, o);
                    /* dx is contiguous [N, C, H, W]. */
                    const int64_t xb = n * x.st[0] + c * x.st[1], db = (n * g.C + c) * g.H * g.W;
                    if (g.kind == HWA_POOL_MAX) {
                        float best = 0.0f;
                        int64_t arg = -1;
                        for (int64_t t = w.t0; t < w.t1; t++)
                            for (int64_t u = w.u0; u < w.u1; u++) {
                                const int64_t r = w.h0 + t * g.dh, q = w.w0 + u * g.dw;
                                const float v = hwa__rt_at(&x, xb + r * x.st[2] + q * x.st[3]);
                                if (arg < 0 || v > best || (isnan(v) && !isnan(best))) {
                                    best = v;
                                    arg = r * g.W + q;
                                }
                            }
                        hwa__rt_put(&dx, db + arg, hwa__rt_at(&dx, db + arg) + gv);
                    } else {
                        const float share = (float)((double)gv / (double)hwa__pool_divisor(&g, &w));
                        for (int64_t t = w.t0; t < w.t1; t++)
                            for (int64_t u = w.u0; u < w.u1; u++) {
                                const int64_t off = db + (w.h0 + t) * g.W + (w.w0 + u);
                                hwa__rt_put(&dx, off, hwa__rt_at(&dx, off) + share);
                            }
                    }
                }
    return HWA_OK;
}

/* ---- batch normalization ------------------------------------------------- */

/* x's values of channel c in flat order (n, then the dims after C). */
typedef struct bn_iter {
    const hwa__rt *t;
    int64_t C, S, M;
} bn_iter;

static inline float bn_at(const bn_iter *b, int64_t c, int64_t m) {
    const int64_t n = m / b->S, s = m % b->S;
    return hwa__rt_get(b->t, (n * b->C + c) * b->S + s);
}

/* Mean and biased variance of channel c (two passes, in double). */
static void bn_stats(const bn_iter *b, int64_t c, double *mean, double *var) {
    double s = 0.0;
    for (int64_t m = 0; m < b->M; m++) s += bn_at(b, c, m);
    const double mu = s / (double)b->M;
    double q = 0.0;
    for (int64_t m = 0; m < b->M; m++) {
        const double d = bn_at(b, c, m) - mu;
        q += d * d;
    }
    *mean = mu;
    *var = q / (double)b->M;
}

static bn_iter bn_iter_of(const hwa__rt *t, const hwa_tensor *x) {
    bn_iter b = {.t = t};
    hwa__bn_dims(x, &b.C, &b.S);
    b.M = hwa_tensor_nelements(x) / b.C;
    return b;
}

/* y = x * a[c] + b[c] over every element. */
static void bn_apply(const bn_iter *bx, const hwa__rt *y, int64_t c, float a, float b) {
    for (int64_t m = 0; m < bx->M; m++) {
        const int64_t n = m / bx->S, s = m % bx->S;
        hwa__rt_set(y, (n * bx->C + c) * bx->S + s, bn_at(bx, c, m) * a + b);
    }
}

hwa_status hwa__ref_BATCHNORM(hwa_tensor *dst) {
    const hwa__rt x = hwa__rt_of(dst->src[0]), sc = hwa__rt_of(dst->src[1]), bi = hwa__rt_of(dst->src[2]),
                  st = hwa__rt_of(dst->src[3]), y = hwa__rt_of(dst);
    const bn_iter bx = bn_iter_of(&x, dst->src[0]);
    for (int64_t c = 0; c < bx.C; c++) {
        float a, b;
        hwa__bn_affine(hwa__rt_get(&st, c), hwa__rt_get(&st, bx.C + c), hwa__rt_get(&sc, c), hwa__rt_get(&bi, c),
                       dst->p.f[0], &a, &b);
        bn_apply(&bx, &y, c, a, b);
    }
    return HWA_OK;
}

hwa_status hwa__ref_BATCHNORM_TRAIN(hwa_tensor *dst) {
    const hwa__rt x = hwa__rt_of(dst->src[0]), sc = hwa__rt_of(dst->src[1]), bi = hwa__rt_of(dst->src[2]),
                  run = hwa__rt_of(dst->src[3]), y = hwa__rt_of(dst);
    const bn_iter bx = bn_iter_of(&x, dst->src[0]);
    const float mom = dst->p.f[1];
    for (int64_t c = 0; c < bx.C; c++) {
        double mean, var;
        bn_stats(&bx, c, &mean, &var);
        float a, b;
        hwa__bn_affine(mean, var, hwa__rt_get(&sc, c), hwa__rt_get(&bi, c), dst->p.f[0], &a, &b);
        bn_apply(&bx, &y, c, a, b);
        const double unbiased = bx.M > 1 ? var * (double)bx.M / (double)(bx.M - 1) : var;
        hwa__rt_set(&run, c, (float)((1.0 - mom) * hwa__rt_get(&run, c) + mom * mean));
        hwa__rt_set(&run, bx.C + c, (float)((1.0 - mom) * hwa__rt_get(&run, bx.C + c) + mom * unbiased));
    }
    hwa__tensor_touch(dst->src[3]);
    return HWA_OK;
}

/* The backward helpers: g (src0), x (src1), scale (src2); mean and r per
 * channel from stats (BATCHNORM_BACK) or the batch (BATCHNORM_TRAIN_BACK). */
static hwa_status bn_back(hwa_tensor *dst, bool train) {
    const hwa__rt g = hwa__rt_of(dst->src[0]), x = hwa__rt_of(dst->src[1]), sc = hwa__rt_of(dst->src[2]),
                  out = hwa__rt_of(dst);
    const bn_iter bx = bn_iter_of(&x, dst->src[1]), bg = bn_iter_of(&g, dst->src[0]);
    const double eps = dst->p.f[0], M = (double)bx.M;
    for (int64_t c = 0; c < bx.C; c++) {
        double mean, var;
        if (train) {
            bn_stats(&bx, c, &mean, &var);
        } else {
            const hwa__rt st = hwa__rt_of(dst->src[3]);
            mean = hwa__rt_get(&st, c);
            var = hwa__rt_get(&st, bx.C + c);
        }
        const double r = 1.0 / sqrt(var + eps), scale = hwa__rt_get(&sc, c);
        double sg = 0.0, sgx = 0.0;
        for (int64_t m = 0; m < bx.M; m++) {
            const double gv = bn_at(&bg, c, m);
            sg += gv;
            sgx += gv * ((bn_at(&bx, c, m) - mean) * r);
        }
        if (dst->p.i[0] == 1) {
            hwa__rt_set(&out, c, (float)sgx);
            continue;
        }
        const float k = (float)(scale * r);
        for (int64_t m = 0; m < bx.M; m++) {
            const int64_t n = m / bx.S, s = m % bx.S, i = (n * bx.C + c) * bx.S + s;
            if (!train) {
                hwa__rt_set(&out, i, bn_at(&bg, c, m) * k);
                continue;
            }
            const double xh = (bn_at(&bx, c, m) - mean) * r;
            hwa__rt_set(&out, i, (float)(scale * r * (bn_at(&bg, c, m) - sg / M - xh * (sgx / M))));
        }
    }
    return HWA_OK;
}

hwa_status hwa__ref_BATCHNORM_BACK(hwa_tensor *dst) { return bn_back(dst, false); }
hwa_status hwa__ref_BATCHNORM_TRAIN_BACK(hwa_tensor *dst) { return bn_back(dst, true); }

/* ---- dropout --------------------------------------------------------------- */

hwa_status hwa__ref_DROPOUT(hwa_tensor *dst) {
    const hwa__rt x = hwa__rt_of(dst->src[0]), seed = hwa__rt_of(dst->src[1]), y = hwa__rt_of(dst);
    const uint32_t s0 = (uint32_t)hwa__rt_i32(&seed, 0), s1 = (uint32_t)hwa__rt_i32(&seed, 1);
    const uint32_t thr = hwa__dropout_threshold(dst->p.f[0]);
    const float k = hwa__dropout_factor(dst->p.f[0]);
    for (int64_t i = 0; i < y.n; i++) {
        const bool keep = (uint32_t)(hwa__dropout_hash(s0, s1, (uint64_t)i) >> 40) >= thr;
        hwa__rt_set(&y, i, keep ? hwa__rt_get(&x, i) * k : 0.0f);
    }
    return HWA_OK;
}
