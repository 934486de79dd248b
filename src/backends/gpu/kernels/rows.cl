/* Row ops: one work group per row (rows are the last dim), the group's
 * items striding along it and reducing through local memory. The group size
 * is a power of two up to HWA_K_ROW_GROUP. a, b and dst have the same shape.
 *
 *  SOFTMAX, LOG_SOFTMAX (a = x), max-subtracted;
 *  SOFTMAX_BACK (a = g, b = y): mode 0 softmax, mode 1 log_softmax;
 *  NORM, RMS_NORM (a = x; eps); NORM_BACK, RMS_NORM_BACK (a = g, b = x). */
HWA_KERNEL void hwa_k_rows(HWA_GLOBAL char *d, hwa_view dv, HWA_GLOBAL const char *a, hwa_view av,
                           HWA_GLOBAL const char *b, hwa_view bv, int op, int mode, float eps) {
    HWA_LOCAL_MEM(float, buf, HWA_K_ROW_GROUP);
    hwa_long r = HWA_GRP(0);
    const hwa_long i2 = r % dv.ne[2];
    r /= dv.ne[2];
    const hwa_long i1 = r % dv.ne[1], i0 = r / dv.ne[1];
    const hwa_long n = dv.ne[3], l = HWA_LID(0), step = HWA_LSIZE(0);
    const hwa_long od = hwa_at4(dv, i0, i1, i2, 0), oa = hwa_at4(av, i0, i1, i2, 0), ob = hwa_at4(bv, i0, i1, i2, 0);
    const hwa_long sd = dv.st[3], sa = av.st[3], sb = bv.st[3];
    const float fn = (float)n;
    if (op == HWA_OP_SOFTMAX || op == HWA_OP_LOG_SOFTMAX) {
        float m = -INFINITY;
        for (hwa_long j = l; j < n; j += step) m = fmax(m, hwa_ld(a, av.dt, oa + j * sa));
        m = hwa_group_max(buf, m);
        float s = 0.0f;
        for (hwa_long j = l; j < n; j += step) s += exp(hwa_ld(a, av.dt, oa + j * sa) - m);
        s = hwa_group_sum(buf, s);
        const float ls = log(s), inv = 1.0f / s;
        for (hwa_long j = l; j < n; j += step) {
            const float c = hwa_ld(a, av.dt, oa + j * sa) - m;
            hwa_st(d, dv.dt, od + j * sd, op == HWA_OP_SOFTMAX ? exp(c) * inv : c - ls);
        }
    } else if (op == HWA_OP_SOFTMAX_BACK) {
        float s = 0.0f;
        for (hwa_long j = l; j < n; j += step) {
            const float g = hwa_ld(a, av.dt, oa + j * sa);
            s += mode ? g : g * hwa_ld(b, bv.dt, ob + j * sb);
        }
        s = hwa_group_sum(buf, s);
        for (hwa_long j = l; j < n; j += step) {
            const float g = hwa_ld(a, av.dt, oa + j * sa), y = hwa_ld(b, bv.dt, ob + j * sb);
            hwa_st(d, dv.dt, od + j * sd, mode ? g - exp(y) * s : y * (g - s));
        }
    } else if (op == HWA_OP_RMS_NORM || op == HWA_OP_RMS_NORM_BACK) {
        HWA_GLOBAL const char *x = op == HWA_OP_RMS_NORM ? a : b;
        const hwa_view xv = op == HWA_OP_RMS_NORM ? av : bv;
        const hwa_long ox = op == HWA_OP_RMS_NORM ? oa : ob;
        float s = 0.0f, sgx = 0.0f;
        for (hwa_long j = l; j < n; j += step) {
            const float v = hwa_ld(x, xv.dt, ox + j * xv.st[3]);
            s += v * v;
            if (op == HWA_OP_RMS_NORM_BACK) sgx += v * hwa_ld(a, av.dt, oa + j * sa);
        }
        const float rs = 1.0f / sqrt(hwa_group_sum(buf, s) / fn + eps);
        const float k = op == HWA_OP_RMS_NORM_BACK ? rs * rs * rs * hwa_group_sum(buf, sgx) / fn : 0.0f;
        for (hwa_long j = l; j < n; j += step) {
            const float v = hwa_ld(x, xv.dt, ox + j * xv.st[3]);
            hwa_st(d, dv.dt, od + j * sd, op == HWA_OP_RMS_NORM ? v * rs : rs * hwa_ld(a, av.dt, oa + j * sa) - v * k);
        }
    } else { /* NORM, NORM_BACK: two passes for the variance (no cancellation) */
        HWA_GLOBAL const char *x = op == HWA_OP_NORM ? a : b;
        const hwa_view xv = op == HWA_OP_NORM ? av : bv;
        const hwa_long ox = op == HWA_OP_NORM ? oa : ob;
        float s = 0.0f;
        for (hwa_long j = l; j < n; j += step) s += hwa_ld(x, xv.dt, ox + j * xv.st[3]);
        const float mean = hwa_group_sum(buf, s) / fn;
        float v = 0.0f;
        for (hwa_long j = l; j < n; j += step) {
            const float c = hwa_ld(x, xv.dt, ox + j * xv.st[3]) - mean;
            v += c * c;
        }
        const float rs = 1.0f / sqrt(hwa_group_sum(buf, v) / fn + eps);
        float mg = 0.0f, mgx = 0.0f;
        if (op == HWA_OP_NORM_BACK) {
            float sg = 0.0f, sgx = 0.0f;
            for (hwa_long j = l; j < n; j += step) {
                const float g = hwa_ld(a, av.dt, oa + j * sa);
                sg += g;
                sgx += g * (hwa_ld(x, xv.dt, ox + j * xv.st[3]) - mean) * rs;
            }
            mg = hwa_group_sum(buf, sg) / fn;
            mgx = hwa_group_sum(buf, sgx) / fn;
        }
        for (hwa_long j = l; j < n; j += step) {
            const float xh = (hwa_ld(x, xv.dt, ox + j * xv.st[3]) - mean) * rs;
            hwa_st(d, dv.dt, od + j * sd,
                   op == HWA_OP_NORM ? xh : rs * (hwa_ld(a, av.dt, oa + j * sa) - mg - xh * mgx));
        }
    }
}
