/* Reference kernels: the sum of squares and the optimizer updates. The
 * updates work on contiguous f32 arrays (the shape rules make sure) in
 * single precision, in the order PyTorch's single-tensor optimizers use, so
 * that the loops vectorise and the results follow PyTorch closely. */
#include "backends/cpu/ref/ref_common.h"

/* Eight running sums in a fixed order (element i goes to sum i % 8): the
 * same result on every run, and a loop the compiler can vectorise. */
hwa_status hwa__ref_SUM_SQ(hwa_tensor *dst) {
    const hwa__rt a = hwa__rt_of(dst->src[0]), d = hwa__rt_of(dst);
    double part[8] = {0};
    if (a.dtype == HWA_F32 && hwa_tensor_is_contiguous(dst->src[0])) {
        const float *x = a.base;
        int64_t i = 0;
        for (; i + 8 <= a.n; i += 8)
            for (int k = 0; k < 8; k++) part[k] += (double)x[i + k] * (double)x[i + k];
        for (; i < a.n; i++) part[i % 8] += (double)x[i] * (double)x[i];
    } else {
        for (int64_t i = 0; i < a.n; i++) {
            const double x = hwa__rt_get(&a, i);
            part[i % 8] += x * x;
        }
    }
    double sum = 0.0;
    for (int k = 0; k < 8; k++) sum += part[k];
    hwa__rt_set(&d, 0, (float)sum);
    return HWA_OK;
}

/* The clipping factor of global-norm clipping (as torch's clip_grad_norm_). */
static float clip_coef(const hwa_tensor *sum_sq, float max_norm) {
    if (!(max_norm > 0.0f)) return 1.0f;
    const float norm = sqrtf(*(const float *)hwa__data(sum_sq));
    const float c = max_norm / (norm + 1e-6f);
    return c < 1.0f ? c : 1.0f;
}

hwa_status hwa__ref_SGD_UPDATE(hwa_tensor *dst) {
    float *p = hwa__data(dst);
    const float *g = hwa__data(dst->src[1]);
    float *buf = dst->p.i[0] ? hwa__data(dst->src[3]) : NULL;
    const float lr = dst->p.f[0], mom = dst->p.f[1], wd = dst->p.f[2];
    const float c = clip_coef(dst->src[2], dst->p.f[3]);
    const bool nesterov = dst->p.i[1] != 0;
    const int64_t n = hwa_tensor_nelements(dst);
    for (int64_t i = 0; i < n; i++) {
        float d = g[i] * c;
        if (wd != 0.0f) d += wd * p[i];
        if (buf) {
            buf[i] = mom * buf[i] + d;
            d = nesterov ? d + mom * buf[i] : buf[i];
        }
        p[i] -= lr * d;
    }
    return HWA_OK;
}

hwa_status hwa__ref_ADAM_UPDATE(hwa_tensor *dst) {
    float *p = hwa__data(dst);
    const float *g = hwa__data(dst->src[1]);
    const int64_t n = hwa_tensor_nelements(dst);
    float *m = hwa__data(dst->src[3]), *v = m + n;
    const float lr = dst->p.f[0], b1 = dst->p.f[1], b2 = dst->p.f[2], eps = dst->p.f[3], wd = dst->p.f[4];
    const float c = clip_coef(dst->src[2], dst->p.f[5]);
    const float bc1 = dst->p.f[6], bc2_sqrt = dst->p.f[7];
    if (!(bc1 > 0.0f) || !(bc2_sqrt > 0.0f))
        return hwa__err(dst->ctx, HWA_E_INVALID, "adam_update: bias corrections %g and %g must be > 0", bc1, bc2_sqrt);
    const bool decoupled = dst->p.i[0] != 0;
    const float step_size = lr / bc1, decay = 1.0f - lr * wd;
    const float omb1 = (float)(1.0 - (double)b1), omb2 = (float)(1.0 - (double)b2);
    for (int64_t i = 0; i < n; i++) {
        float d = g[i] * c;
        if (decoupled) p[i] *= decay;
        else if (wd != 0.0f) d += wd * p[i];
        m[i] = b1 * m[i] + omb1 * d;
        v[i] = b2 * v[i] + omb2 * d * d;
        const float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] -= step_size * (m[i] / denom);
    }
    return HWA_OK;
}
