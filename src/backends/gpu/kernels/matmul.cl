/* The portable matrix product: C[m, n] = sum_k A[m, k] B[k, n] per batch,
 * in TILE x TILE tiles staged through local memory, one work item per
 * element of C, K in steps of TILE. The host folds trans_a / trans_b into
 * the views: A(m, k) is at a's st[2] * m + st[3] * k, B(k, n) at b's
 * st[2] * k + st[3] * n; batch dims with extent 1 in B have stride 0.
 * Work: (N, M) rounded up to TILE, times the batch count in dim 2 with
 * groups of (TILE, TILE, 1). Products add in f32 in k order. */
#define HWA_K_TILE 16

HWA_KERNEL void hwa_k_matmul(HWA_GLOBAL char *d, hwa_view dv, HWA_GLOBAL const char *a, hwa_view av,
                             HWA_GLOBAL const char *b, hwa_view bv, hwa_long K) {
    HWA_LOCAL_MEM(float, as, HWA_K_TILE * HWA_K_TILE);
    HWA_LOCAL_MEM(float, bs, HWA_K_TILE * HWA_K_TILE);
    const hwa_long M = dv.ne[2], N = dv.ne[3];
    const hwa_long ln = HWA_LID(0), lm = HWA_LID(1);
    const hwa_long n = HWA_GRP(0) * HWA_K_TILE + ln, m = HWA_GRP(1) * HWA_K_TILE + lm;
    const hwa_long z = HWA_GID(2), i1 = z % dv.ne[1], i0 = z / dv.ne[1];
    const hwa_long a0 = hwa_at4(av, i0, i1, 0, 0), b0 = hwa_at4(bv, i0, i1, 0, 0);
    const hwa_long am = HWA_GRP(1) * HWA_K_TILE + lm, bn = HWA_GRP(0) * HWA_K_TILE + ln;
    float acc = 0.0f;
    for (hwa_long k0 = 0; k0 < K; k0 += HWA_K_TILE) {
        const hwa_long ak = k0 + ln, bk = k0 + lm;
        as[lm * HWA_K_TILE + ln] = am < M && ak < K ? hwa_ld(a, av.dt, a0 + am * av.st[2] + ak * av.st[3]) : 0.0f;
        bs[lm * HWA_K_TILE + ln] = bk < K && bn < N ? hwa_ld(b, bv.dt, b0 + bk * bv.st[2] + bn * bv.st[3]) : 0.0f;
        HWA_BARRIER();
        for (int kk = 0; kk < HWA_K_TILE; kk++) acc += as[lm * HWA_K_TILE + kk] * bs[kk * HWA_K_TILE + ln];
        HWA_BARRIER();
    }
    if (m < M && n < N) hwa_st(d, dv.dt, hwa_at4(dv, i0, i1, m, n), acc);
}
