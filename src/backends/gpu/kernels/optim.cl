/* Optimizer updates, in place: one item per element of the parameter p
 * (contiguous f32, as are its gradient g and the state s: the shape rules
 * make sure); each pointer comes with the element offset o[] of its tensor
 * in the buffer (p, g, ss, state). ss[0] is the sum of the squares of every gradient; with
 * max_norm > 0 the gradient is first scaled by
 * min(1, max_norm / (sqrt(ss) + 1e-6)). The float operations are the
 * reference's (backends/cpu/ref/ref_optim.c), in its order; the host folds
 * the constants it computes once (1 - beta, lr / bias correction). */

HWA_FN float hwa_clip_coef(HWA_GLOBAL const float *ss, float max_norm) {
    if (!(max_norm > 0.0f)) return 1.0f;
    const float c = max_norm / (sqrt(ss[0]) + 1e-6f);
    return c < 1.0f ? c : 1.0f;
}

/* SGD_UPDATE: g = c*grad + wd*p; with momentum (buf != 0) b = mom*b + g and
 * g = b, or with nesterov g + mom*b; p -= lr*g. */
HWA_KERNEL void hwa_k_sgd(HWA_GLOBAL float *p, HWA_GLOBAL const float *g, HWA_GLOBAL const float *ss,
                          HWA_GLOBAL float *b, hwa_long po, hwa_long go, hwa_long so, hwa_long bo, float lr, float mom, float wd, float max_norm, int momentum,
                          int nesterov, hwa_long n) {
    const hwa_long i = HWA_GID(0);
    if (i >= n) return;
    p += po, g += go, ss += so, b += bo;
    float d = g[i] * hwa_clip_coef(ss, max_norm);
    if (wd != 0.0f) d += wd * p[i];
    if (momentum) {
        b[i] = mom * b[i] + d;
        d = nesterov ? d + mom * b[i] : b[i];
    }
    p[i] -= lr * d;
}

/* ADAM_UPDATE: s holds the first moments then the second ([2, n]).
 * decoupled (AdamW): p *= decay (1 - lr*wd) first, else g += wd*p;
 * m = b1*m + omb1*g, v = b2*v + omb2*g*g,
 * p -= step * (m / (sqrt(v)/bc2_sqrt + eps)) with step = lr / (1 - b1^t). */
HWA_KERNEL void hwa_k_adam(HWA_GLOBAL float *p, HWA_GLOBAL const float *g, HWA_GLOBAL const float *ss,
                           HWA_GLOBAL float *s, hwa_long po, hwa_long go, hwa_long sso, hwa_long so, float step, float b1, float b2, float omb1, float omb2, float eps,
                           float wd, float decay, float bc2_sqrt, float max_norm, int decoupled, hwa_long n) {
    const hwa_long i = HWA_GID(0);
    if (i >= n) return;
    p += po, g += go, ss += sso, s += so;
    float d = g[i] * hwa_clip_coef(ss, max_norm);
    if (decoupled) p[i] *= decay;
    else if (wd != 0.0f) d += wd * p[i];
    const float m = b1 * s[i] + omb1 * d, v = b2 * s[n + i] + omb2 * d * d;
    s[i] = m;
    s[n + i] = v;
    p[i] -= step * (m / (sqrt(v) / bc2_sqrt + eps));
}
