/* Whole-tensor reductions: cross-entropy and its backward, and the sum of
 * squares the optimizers clip with. The host checks the labels before a
 * launch. Work groups have a power-of-two size up to HWA_K_ROW_GROUP. */

/* log sum_c exp(x_c) over the row of n elements at offset o (stride s) of
 * x, max-subtracted, by one item. */
HWA_FN float hwa_row_logsumexp(HWA_GLOBAL const char *x, int dt, hwa_long o, hwa_long s, hwa_long n) {
    float m = -INFINITY, sum = 0.0f;
    for (hwa_long c = 0; c < n; c++) m = fmax(m, hwa_ld(x, dt, o + c * s));
    for (hwa_long c = 0; c < n; c++) sum += exp(hwa_ld(x, dt, o + c * s) - m);
    return m + log(sum);
}

/* CROSS_ENTROPY: dst [1] = mean over the N rows of logits [N, C] of
 * logsumexp(row) - row[label]. One work group; item l takes rows l,
 * l + size, ...; the group adds their losses in a fixed order. */
HWA_KERNEL void hwa_k_xent(HWA_GLOBAL char *d, hwa_view dv, HWA_GLOBAL const char *x, hwa_view xv,
                           HWA_GLOBAL const char *lab, hwa_view lv) {
    HWA_LOCAL_MEM(float, buf, HWA_K_ROW_GROUP);
    const hwa_long C = xv.ne[3], N = xv.ne[0] * xv.ne[1] * xv.ne[2];
    float loss = 0.0f;
    for (hwa_long n = HWA_LID(0); n < N; n += HWA_LSIZE(0)) {
        const hwa_long o = hwa_at_flat(xv, xv.ne, n * C);
        const int label = hwa_ld_i32(lab, hwa_at_flat(lv, lv.ne, n));
        loss += hwa_row_logsumexp(x, xv.dt, o, xv.st[3], C) - hwa_ld(x, xv.dt, o + label * xv.st[3]);
    }
    loss = hwa_group_sum(buf, loss);
    if (HWA_LID(0) == 0) hwa_st(d, dv.dt, dv.off, loss / (float)N);
}

/* CROSS_ENTROPY_BACK: dst [N, C] = g[0] / N * (softmax(row) - onehot(label)).
 * One work group per row, reducing its max and sum. */
HWA_KERNEL void hwa_k_xent_back(HWA_GLOBAL char *d, hwa_view dv, HWA_GLOBAL const char *g, hwa_view gv,
                                HWA_GLOBAL const char *x, hwa_view xv, HWA_GLOBAL const char *lab, hwa_view lv) {
    HWA_LOCAL_MEM(float, buf, HWA_K_ROW_GROUP);
    const hwa_long C = xv.ne[3], N = xv.ne[0] * xv.ne[1] * xv.ne[2], n = HWA_GRP(0);
    const hwa_long l = HWA_LID(0), step = HWA_LSIZE(0);
    const hwa_long o = hwa_at_flat(xv, xv.ne, n * C), od = hwa_at_flat(dv, dv.ne, n * C);
    const int label = hwa_ld_i32(lab, hwa_at_flat(lv, lv.ne, n));
    float m = -INFINITY;
    for (hwa_long c = l; c < C; c += step) m = fmax(m, hwa_ld(x, xv.dt, o + c * xv.st[3]));
    m = hwa_group_max(buf, m);
    float s = 0.0f;
    for (hwa_long c = l; c < C; c += step) s += exp(hwa_ld(x, xv.dt, o + c * xv.st[3]) - m);
    const float lse = m + log(hwa_group_sum(buf, s));
    const float k = hwa_ld(g, gv.dt, gv.off) / (float)N;
    for (hwa_long c = l; c < C; c += step) {
        const float y = exp(hwa_ld(x, xv.dt, o + c * xv.st[3]) - lse) - (c == label ? 1.0f : 0.0f);
        hwa_st(d, dv.dt, od + c * dv.st[3], k * y);
    }
}

/* SUM_SQ: dst [1] = the sum of the squares of the n elements of a. One work
 * group; each item adds its elements (l, l + size, ...) with a compensated
 * (Kahan) sum, standing in for the reference's double, then the group adds
 * the items' sums in a fixed order. */
HWA_KERNEL void hwa_k_sum_sq(HWA_GLOBAL char *d, hwa_view dv, HWA_GLOBAL const char *a, hwa_view av, hwa_long n) {
    HWA_LOCAL_MEM(float, buf, HWA_K_ROW_GROUP);
    float s = 0.0f, comp = 0.0f;
    for (hwa_long i = HWA_LID(0); i < n; i += HWA_LSIZE(0)) {
        const float x = hwa_ld(a, av.dt, hwa_at_flat(av, av.ne, i));
        const float y = x * x - comp, t = s + y;
        comp = (t - s) - y;
        s = t;
    }
    s = hwa_group_sum(buf, s);
    if (HWA_LID(0) == 0) hwa_st(d, dv.dt, dv.off, s);
}
