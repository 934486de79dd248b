/* The sparse product's kernels in plain C (spmm.h): the scalar ISA level,
 * and every CPU the vector files do not cover. */
#include "backends/cpu/sparse/spmm.h"

/* Four partial sums, so that the adds do not wait on one another. */
static void spmv_scalar(const int32_t *rp, const int32_t *col, const float *val, const float *x, int64_t n0,
                        int64_t n1, float *y) {
    for (int64_t n = n0; n < n1; n++) {
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        int64_t j = rp[n];
        const int64_t e = rp[n + 1];
        for (; j + 4 <= e; j += 4) {
            s0 += val[j] * x[col[j]];
            s1 += val[j + 1] * x[col[j + 1]];
            s2 += val[j + 2] * x[col[j + 2]];
            s3 += val[j + 3] * x[col[j + 3]];
        }
        for (; j < e; j++) s0 += val[j] * x[col[j]];
        y[n] = (s0 + s1) + (s2 + s3);
    }
}

#define MBLOCK 16

static void panel_scalar(const int32_t *rp, const int32_t *col, const float *val, const float *xt, int64_t ldx,
                         int64_t m, int64_t n0, int64_t n1, float *y, int64_t ldy) {
    for (int64_t n = n0; n < n1; n++) {
        float acc[MBLOCK] = {0};
        for (int64_t j = rp[n]; j < rp[n + 1]; j++) {
            const float v = val[j], *p = xt + (int64_t)col[j] * ldx;
            for (int64_t i = 0; i < m; i++) acc[i] += v * p[i];
        }
        for (int64_t i = 0; i < m; i++) y[i * ldy + n] = acc[i];
    }
}

const hwa__spmm_kern hwa__spmm_kern_scalar = {"scalar", spmv_scalar, panel_scalar, NULL, 1, MBLOCK};
