/* Reference kernels: 2-D convolution and its gradients (ops_list.h, CONV2D),
 * each output element summed in double straight from the definition. */
#include "backends/cpu/ref/ref_common.h"

/* The forward geometry: x [N, C, H, W], w [O, Cg, KH, KW], y [N, O, OH, OW],
 * G groups of Cg input and Og output channels. */
typedef struct conv_geo {
    int64_t C, H, W, O, Cg, Og, KH, KW, OH, OW;
    int64_t sh, sw, pt, pl, dh, dw;
} conv_geo;

static conv_geo geo_of(const hwa_tensor *dst, const hwa__rt *x, const hwa__rt *w, const hwa__rt *y) {
    const int32_t *i = dst->p.i;
    conv_geo g = {
        .C = x->ne[1], .H = x->ne[2], .W = x->ne[3], .O = w->ne[0], .Cg = w->ne[1], .KH = w->ne[2], .KW = w->ne[3],
        .OH = y->ne[2], .OW = y->ne[3], .sh = i[0], .sw = i[1], .pt = i[2], .pl = i[3], .dh = i[6], .dw = i[7]};
    g.Og = g.O / dst->p.l[0];
    return g;
}

static inline int64_t off4(const hwa__rt *t, int64_t a, int64_t b, int64_t c, int64_t d) {
    return a * t->st[0] + b * t->st[1] + c * t->st[2] + d * t->st[3];
}

hwa_status hwa__ref_CONV2D(hwa_tensor *dst) {
    const hwa__rt y = hwa__rt_of(dst), x = hwa__rt_of(dst->src[0]), w = hwa__rt_of(dst->src[1]);
    const conv_geo g = geo_of(dst, &x, &w, &y);
    int64_t idx[4];
    for (int64_t e = 0; e < y.n; e++) {
        hwa__ref_unravel(y.ne, e, idx);
        const int64_t n = idx[0], o = idx[1], c0 = o / g.Og * g.Cg;
        double acc = 0.0;
        for (int64_t c = 0; c < g.Cg; c++)
            for (int64_t a = 0; a < g.KH; a++) {
                const int64_t ih = idx[2] * g.sh - g.pt + a * g.dh;
                if (ih < 0 || ih >= g.H) continue;
                for (int64_t b = 0; b < g.KW; b++) {
                    const int64_t iw = idx[3] * g.sw - g.pl + b * g.dw;
                    if (iw < 0 || iw >= g.W) continue;
                    acc += (double)hwa__rt_at(&x, off4(&x, n, c0 + c, ih, iw)) * hwa__rt_at(&w, off4(&w, o, c, a, b));
                }
            }
        hwa__rt_put(&y, off4(&y, idx[0], idx[1], idx[2], idx[3]), (float)acc);
    }
    return HWA_OK;
}

/* dx[n, ci, ih, iw] = sum of g[n, o, oh, ow] * w[o, c, a, b] over the output
 * positions whose window put tap (a, b) on (ih, iw): ih = oh*sh - pt + a*dh. */
hwa_status hwa__ref_CONV2D_BACK_DATA(hwa_tensor *dst) {
    const hwa__rt dx = hwa__rt_of(dst), gy = hwa__rt_of(dst->src[0]), w = hwa__rt_of(dst->src[1]);
    const conv_geo g = geo_of(dst, &dx, &w, &gy);
    int64_t idx[4];
    for (int64_t e = 0; e < dx.n; e++) {
        hwa__ref_unravel(dx.ne, e, idx);
        const int64_t n = idx[0], c = idx[1] % g.Cg, o0 = idx[1] / g.Cg * g.Og;
        double acc = 0.0;
        for (int64_t a = 0; a < g.KH; a++) {
            const int64_t th = idx[2] + g.pt - a * g.dh;
            if (th < 0 || th % g.sh != 0 || th / g.sh >= g.OH) continue;
            for (int64_t b = 0; b < g.KW; b++) {
                const int64_t tw = idx[3] + g.pl - b * g.dw;
                if (tw < 0 || tw % g.sw != 0 || tw / g.sw >= g.OW) continue;
                for (int64_t o = o0; o < o0 + g.Og; o++)
                    acc += (double)hwa__rt_at(&gy, off4(&gy, n, o, th / g.sh, tw / g.sw)) *
                           hwa__rt_at(&w, off4(&w, o, c, a, b));
            }
        }
        hwa__rt_put(&dx, off4(&dx, idx[0], idx[1], idx[2], idx[3]), (float)acc);
    }
    return HWA_OK;
}

/* dw[o, c, a, b] = sum over n, oh, ow of g[n, o, oh, ow] times the input
 * element that tap (a, b) of that window read. */
hwa_status hwa__ref_CONV2D_BACK_WEIGHT(hwa_tensor *dst) {
    const hwa__rt dw = hwa__rt_of(dst), gy = hwa__rt_of(dst->src[0]), x = hwa__rt_of(dst->src[1]);
    const conv_geo g = geo_of(dst, &x, &dw, &gy);
    const int64_t N = x.ne[0];
    int64_t idx[4];
    for (int64_t e = 0; e < dw.n; e++) {
        hwa__ref_unravel(dw.ne, e, idx);
        const int64_t o = idx[0], a = idx[2], b = idx[3], ci = o / g.Og * g.Cg + idx[1];
        double acc = 0.0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < g.OH; i++) {
                const int64_t ih = i * g.sh - g.pt + a * g.dh;
                if (ih < 0 || ih >= g.H) continue;
                for (int64_t j = 0; j < g.OW; j++) {
                    const int64_t iw = j * g.sw - g.pl + b * g.dw;
                    if (iw < 0 || iw >= g.W) continue;
                    acc += (double)hwa__rt_at(&gy, off4(&gy, n, o, i, j)) * hwa__rt_at(&x, off4(&x, n, ci, ih, iw));
                }
            }
        hwa__rt_put(&dw, off4(&dw, idx[0], idx[1], idx[2], idx[3]), (float)acc);
    }
    return HWA_OK;
}
