/* Reference kernels of the compressed forms of a linear layer: a sparse
 * matrix in compressed rows (SPMM) and int8 weights with u8 activations
 * (QLINEAR). The index checks and the activations' quantization rule live
 * here once; the fast kernels call them, so that both compute the same. */
#include <math.h>

#include "backends/cpu/ref/ref_common.h"

hwa_status hwa__spmm_check_rows(hwa_ctx *ctx, const int32_t *rp, const int32_t *col, int64_t N, int64_t K,
                                int64_t nnz) {
    if (rp[0] != 0) return hwa__err(ctx, HWA_E_RANGE, "spmm: row_ptr[0] is %d, not 0", rp[0]);
    for (int64_t n = 0; n < N; n++) {
        const int64_t a = rp[n], b = rp[n + 1];
        if (b < a || b > nnz)
            return hwa__err(ctx, HWA_E_RANGE, "spmm: row %lld ends at %lld, before its start %lld or past the "
                            "%lld stored values", (long long)n, (long long)b, (long long)a, (long long)nnz);
        for (int64_t j = a; j < b; j++)
            if (col[j] < 0 || col[j] >= K)
                return hwa__err(ctx, HWA_E_RANGE, "spmm: row %lld has column %d, outside [0, %lld)", (long long)n,
                                col[j], (long long)K);
    }
    if (rp[N] != nnz)
        return hwa__err(ctx, HWA_E_RANGE, "spmm: row_ptr[%lld] is %d, not the %lld stored values", (long long)N, rp[N],
                        (long long)nnz);
    return HWA_OK;
}

/* Strided index tensors are copied first. */
hwa_status hwa__spmm_check(const hwa_tensor *dst) {
    const hwa_tensor *rp = dst->src[1], *col = dst->src[2];
    const int64_t N = dst->shape[1], K = dst->src[0]->shape[1], nnz = col->shape[0];
    if (hwa_tensor_is_contiguous(rp) && hwa_tensor_is_contiguous(col))
        return hwa__spmm_check_rows(dst->ctx, hwa__data(rp), hwa__data(col), N, K, nnz);
    int32_t *copy = hwa__malloc(dst->ctx, (size_t)(N + 1 + nnz) * sizeof *copy);
    if (!copy) return HWA_E_NOMEM;
    const hwa__rt r = hwa__rt_of(rp), c = hwa__rt_of(col);
    for (int64_t i = 0; i <= N; i++) copy[i] = hwa__rt_i32(&r, i);
    for (int64_t j = 0; j < nnz; j++) copy[N + 1 + j] = hwa__rt_i32(&c, j);
    const hwa_status st = hwa__spmm_check_rows(dst->ctx, copy, copy + N + 1, N, K, nnz);
    hwa__free(dst->ctx, copy);
    return st;
}

hwa_status hwa__ref_SPMM(hwa_tensor *dst) {
    const hwa_status st = hwa__spmm_check(dst);
    if (st) return st;
    const hwa__rt d = hwa__rt_of(dst), x = hwa__rt_of(dst->src[0]), r = hwa__rt_of(dst->src[1]),
                  c = hwa__rt_of(dst->src[2]), v = hwa__rt_of(dst->src[3]);
    const int64_t M = dst->shape[0], N = dst->shape[1];
    for (int64_t m = 0; m < M; m++) {
        const int64_t xr = hwa__rt_row(&x, m);
        for (int64_t n = 0; n < N; n++) {
            double s = 0.0;
            for (int64_t j = hwa__rt_i32(&r, n); j < hwa__rt_i32(&r, n + 1); j++)
                s += (double)hwa__rt_get(&v, j) * hwa__rt_at(&x, xr + hwa__rt_i32(&c, j) * x.st[3]);
            hwa__rt_set(&d, m * N + n, (float)s);
        }
    }
    return HWA_OK;
}

void hwa__qlinear_row_params(const float *x, int64_t K, int64_t stride, float *s, float *inv, int *z) {
    float lo = 0.0f, hi = 0.0f;
    for (int64_t k = 0; k < K; k++) {
        lo = fminf(lo, x[k * stride]);
        hi = fmaxf(hi, x[k * stride]);
    }
    hwa__qlinear_range_params(lo, hi, s, inv, z);
}

void hwa__qlinear_range_params(float lo, float hi, float *s, float *inv, int *z) {
    *s = hi > lo ? (hi - lo) / 255.0f : 1.0f;
    *inv = 1.0f / *s;
    const float zf = nearbyintf(-lo * *inv);
    *z = zf < 0.0f ? 0 : zf > 255.0f ? 255 : (int)zf;
}

uint8_t hwa__qlinear_quantize(float x, float inv, int z) {
    const float q = nearbyintf(x * inv) + (float)z;
    /* NaN (not > 0) quantizes to 0, as the SIMD kernels' max(q, 0) does */
    return (uint8_t)(!(q > 0.0f) ? 0.0f : q > 255.0f ? 255.0f : q);
}

hwa_status hwa__ref_QLINEAR(hwa_tensor *dst) {
    const hwa__rt d = hwa__rt_of(dst), x = hwa__rt_of(dst->src[0]), w = hwa__rt_of(dst->src[1]),
                  ws = hwa__rt_of(dst->src[2]);
    const int64_t M = dst->shape[0], N = dst->shape[1], K = dst->src[0]->shape[1];
    const float *xb = x.base;
    for (int64_t m = 0; m < M; m++) {
        const float *row = xb + hwa__rt_row(&x, m);
        float s = dst->p.f[0], inv = dst->p.f[1];
        int z = dst->p.i[0];
        if (!(s > 0.0f)) hwa__qlinear_row_params(row, K, x.st[3], &s, &inv, &z);
        for (int64_t n = 0; n < N; n++) {
            const int64_t wr = hwa__rt_row(&w, n);
            int64_t acc = 0;
            for (int64_t k = 0; k < K; k++)
                acc += (int64_t)((int)hwa__qlinear_quantize(row[k * x.st[3]], inv, z) - z) *
                       (int64_t)((const int8_t *)w.base)[wr + k * w.st[3]];
            hwa__rt_set(&d, m * N + n, (float)(int32_t)acc * (s * hwa__rt_get(&ws, n)));
        }
    }
    return HWA_OK;
}
