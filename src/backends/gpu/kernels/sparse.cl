/* The sparse product (SPMM): dst [M, N] = x [M, K] W^T, W [N, K] in
 * compressed rows (row_ptr [N + 1], col and vals [nnz]). The host checks
 * row_ptr and col before a launch, so the kernel never reads outside x,
 * col or vals. One item per result: the stored values of its row of W in
 * their order, summed in f32. */
HWA_KERNEL void hwa_k_spmm(HWA_GLOBAL char *d, hwa_view dv, HWA_GLOBAL const char *x, hwa_view xv,
                           HWA_GLOBAL const char *rp, hwa_view rv, HWA_GLOBAL const char *col, hwa_view cv,
                           HWA_GLOBAL const char *val, hwa_view vv) {
    const hwa_long N = dv.ne[3], i = HWA_GID(0);
    if (i >= dv.ne[2] * N) return;
    const hwa_long m = i / N, n = i % N;
    const hwa_long a = hwa_ld_i32(rp, rv.off + n * rv.st[3]), b = hwa_ld_i32(rp, rv.off + (n + 1) * rv.st[3]);
    float s = 0.0f;
    for (hwa_long j = a; j < b; j++) {
        const hwa_long k = hwa_ld_i32(col, cv.off + j * cv.st[3]);
        s += hwa_ld(val, vv.dt, vv.off + j * vv.st[3]) * hwa_ld(x, xv.dt, hwa_at4(xv, 0, 0, m, k));
    }
    hwa_st(d, dv.dt, hwa_at4(dv, 0, 0, m, n), s);
}
