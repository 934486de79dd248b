/* 2-D convolution and its two gradients (core/ops_list.h, CONV2D), direct:
 * one item per result element, summed in f32 from the definition, any
 * strides on every tensor. which: 0 forward (a = x, b = w, d = y), 1 the
 * data gradient (a = g, b = w, d = dx), 2 the weight gradient (a = g, b = x,
 * d = dw). Geometry as the op's params: strides sh, sw, pads top pt and left
 * pl, dilations dh, dw, and the group count G. */
HWA_KERNEL void hwa_k_conv2d(HWA_GLOBAL char *d, hwa_view dv, HWA_GLOBAL const char *a, hwa_view av,
                             HWA_GLOBAL const char *b, hwa_view bv, int which, int sh, int sw, int pt, int pl,
                             int dh, int dw, hwa_long G) {
    const hwa_long n_out = dv.ne[0] * dv.ne[1] * dv.ne[2] * dv.ne[3];
    hwa_long i = HWA_GID(0);
    if (i >= n_out) return;
    const hwa_long i3 = i % dv.ne[3];
    i /= dv.ne[3];
    const hwa_long i2 = i % dv.ne[2];
    i /= dv.ne[2];
    const hwa_long i1 = i % dv.ne[1], i0 = i / dv.ne[1];
    float s = 0.0f;
    if (which == 0) {
        /* y[n, o, i2, i3]: x a [N, C, H, W], w b [O, Cg, KH, KW] */
        const hwa_long Cg = bv.ne[1], c0 = i1 / (bv.ne[0] / G) * Cg;
        for (hwa_long c = 0; c < Cg; c++)
            for (hwa_long p = 0; p < bv.ne[2]; p++) {
                const hwa_long ih = i2 * sh - pt + p * dh;
                if (ih < 0 || ih >= av.ne[2]) continue;
                for (hwa_long q = 0; q < bv.ne[3]; q++) {
                    const hwa_long iw = i3 * sw - pl + q * dw;
                    if (iw < 0 || iw >= av.ne[3]) continue;
                    s += hwa_ld(a, av.dt, hwa_at4(av, i0, c0 + c, ih, iw)) * hwa_ld(b, bv.dt, hwa_at4(bv, i1, c, p, q));
                }
            }
    } else if (which == 1) {
        /* dx[n, ci, i2, i3]: g a [N, O, OH, OW], w b [O, Cg, KH, KW] */
        const hwa_long Cg = bv.ne[1], Og = bv.ne[0] / G, c = i1 % Cg, o0 = i1 / Cg * Og;
        for (hwa_long p = 0; p < bv.ne[2]; p++) {
            const hwa_long th = i2 + pt - p * dh;
            if (th < 0 || th % sh != 0 || th / sh >= av.ne[2]) continue;
            for (hwa_long q = 0; q < bv.ne[3]; q++) {
                const hwa_long tw = i3 + pl - q * dw;
                if (tw < 0 || tw % sw != 0 || tw / sw >= av.ne[3]) continue;
                for (hwa_long o = o0; o < o0 + Og; o++)
                    s += hwa_ld(a, av.dt, hwa_at4(av, i0, o, th / sh, tw / sw)) * hwa_ld(b, bv.dt, hwa_at4(bv, o, c, p, q));
            }
        }
    } else {
        /* dw[o, c, i2, i3]: g a [N, O, OH, OW], x b [N, C, H, W] */
        const hwa_long ci = i0 / (dv.ne[0] / G) * dv.ne[1] + i1;
        for (hwa_long n = 0; n < bv.ne[0]; n++)
            for (hwa_long y = 0; y < av.ne[2]; y++) {
                const hwa_long ih = y * sh - pt + i2 * dh;
                if (ih < 0 || ih >= bv.ne[2]) continue;
                for (hwa_long x = 0; x < av.ne[3]; x++) {
                    const hwa_long iw = x * sw - pl + i3 * dw;
                    if (iw < 0 || iw >= bv.ne[3]) continue;
                    s += hwa_ld(a, av.dt, hwa_at4(av, n, i0, y, x)) * hwa_ld(b, bv.dt, hwa_at4(bv, n, ci, ih, iw));
                }
            }
    }
    hwa_st(d, dv.dt, hwa_at4(dv, i0, i1, i2, i3), s);
}
