/* Elementwise kernels: one work item per element of dst, any rank, any
 * strides, f32/f16/bf16 storage (hwa_gpu.h). A source with fewer elements
 * than dst is broadcast by the host giving it dst's extents and stride 0
 * along the dims it repeats. */

/* f(x) of activation op, and f'(x) into *df. */
HWA_FN float hwa_activation(int op, float x, float *df) {
    if (op == HWA_OP_RELU) {
        *df = x > 0.0f ? 1.0f : 0.0f;
        return x > 0.0f ? x : 0.0f;
    }
    if (op == HWA_OP_GELU) {
        const float cdf = 0.5f * (1.0f + erf(x * 0.70710678118654752f));
        *df = cdf + x * 0.39894228040143267794f * exp(-0.5f * x * x);
        return x * cdf;
    }
    if (op == HWA_OP_SILU) {
        const float s = 1.0f / (1.0f + exp(-x));
        *df = s * (1.0f + x * (1.0f - s));
        return x * s;
    }
    if (op == HWA_OP_SIGMOID) {
        const float s = 1.0f / (1.0f + exp(-x));
        *df = s * (1.0f - s);
        return s;
    }
    /* HWA_OP_TANH */
    const float t = tanh(x);
    *df = 1.0f - t * t;
    return t;
}

/* dst = f(a): op CONT and REPEAT copy (converting the storage type), SCALE
 * multiplies by p, FILL writes p (a is not read), an activation applies it. */
HWA_KERNEL void hwa_k_unary(HWA_GLOBAL char *d, hwa_view dv, HWA_GLOBAL const char *a, hwa_view av, int op, float p,
                            hwa_long n) {
    const hwa_long i = HWA_GID(0);
    if (i >= n) return;
    float y = p;
    if (op != HWA_OP_FILL) {
        const float x = hwa_ld(a, av.dt, hwa_at_flat(av, av.ne, i));
        float df;
        if (op == HWA_OP_CONT || op == HWA_OP_REPEAT) y = x;
        else if (op == HWA_OP_SCALE) y = x * p;
        else y = hwa_activation(op, x, &df);
    }
    hwa_st(d, dv.dt, hwa_at_flat(dv, dv.ne, i), y);
}

/* dst = a op b (ADD, SUB, MUL, DIV), b broadcast; UNARY_BACK: dst = a *
 * f'(b) for the activation act (a the gradient, b the forward input). */
HWA_KERNEL void hwa_k_binary(HWA_GLOBAL char *d, hwa_view dv, HWA_GLOBAL const char *a, hwa_view av,
                             HWA_GLOBAL const char *b, hwa_view bv, int op, int act, hwa_long n) {
    const hwa_long i = HWA_GID(0);
    if (i >= n) return;
    const float x = hwa_ld(a, av.dt, hwa_at_flat(av, av.ne, i)), y = hwa_ld(b, bv.dt, hwa_at_flat(bv, bv.ne, i));
    float r, df = 0.0f;
    if (op == HWA_OP_ADD) r = x + y;
    else if (op == HWA_OP_SUB) r = x - y;
    else if (op == HWA_OP_MUL) r = x * y;
    else if (op == HWA_OP_DIV) r = x / y;
    else {
        hwa_activation(act, y, &df);
        r = x * df;
    }
    hwa_st(d, dv.dt, hwa_at_flat(dv, dv.ne, i), r);
}

/* SUM_TO: every dst element is the sum of the a elements that REPEAT would
 * copy it to: the box of a's extents along the dims where dst's is 1, added
 * in a's row-major order. */
HWA_KERNEL void hwa_k_sum_to(HWA_GLOBAL char *d, hwa_view dv, HWA_GLOBAL const char *a, hwa_view av, hwa_long n) {
    const hwa_long i = HWA_GID(0);
    if (i >= n) return;
    hwa_long idx[4], r = i;
    for (int k = 3; k >= 0; k--) {
        idx[k] = r % dv.ne[k];
        r /= dv.ne[k];
    }
    hwa_long lo[4], hi[4];
    for (int k = 0; k < 4; k++) {
        const int whole = dv.ne[k] == 1 && av.ne[k] != 1;
        lo[k] = whole ? 0 : idx[k];
        hi[k] = whole ? av.ne[k] : idx[k] + 1;
    }
    float s = 0.0f;
    for (hwa_long i0 = lo[0]; i0 < hi[0]; i0++)
        for (hwa_long i1 = lo[1]; i1 < hi[1]; i1++)
            for (hwa_long i2 = lo[2]; i2 < hi[2]; i2++)
                for (hwa_long i3 = lo[3]; i3 < hi[3]; i3++) s += hwa_ld(a, av.dt, hwa_at4(av, i0, i1, i2, i3));
    hwa_st(d, dv.dt, hwa_at_flat(dv, dv.ne, i), s);
}

/* Fast paths of hwa_k_unary and hwa_k_binary for the common case, which the
 * host picks: every view f32 and stored row-major over dst's extents (so
 * element i is at off + i), and an op without a transcendental function.
 * Bodies this plain are vectorized across work items by drivers that do so
 * (PoCL): the general kernels' index arithmetic and dtype dispatch cost
 * several times the memory traffic there. unary: CONT, SCALE (by p), FILL
 * (p; a is not read), RELU; binary: ADD, SUB, MUL, DIV. */
HWA_KERNEL void hwa_k_unary_flat(HWA_GLOBAL float *d, hwa_long d_off, HWA_GLOBAL const float *a, hwa_long a_off,
                                 int op, float p, hwa_long n) {
    const hwa_long i = HWA_GID(0);
    if (i >= n) return;
    const float x = op == HWA_OP_FILL ? p : a[a_off + i];
    d[d_off + i] = op == HWA_OP_SCALE ? x * p : op == HWA_OP_RELU ? (x > 0.0f ? x : 0.0f) : x;
}

HWA_KERNEL void hwa_k_binary_flat(HWA_GLOBAL float *d, hwa_long d_off, HWA_GLOBAL const float *a, hwa_long a_off,
                                  HWA_GLOBAL const float *b, hwa_long b_off, int op, hwa_long n) {
    const hwa_long i = HWA_GID(0);
    if (i >= n) return;
    const float x = a[a_off + i], y = b[b_off + i];
    d[d_off + i] = op == HWA_OP_ADD ? x + y : op == HWA_OP_SUB ? x - y : op == HWA_OP_MUL ? x * y : x / y;
}
