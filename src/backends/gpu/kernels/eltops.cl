/* The elementwise ops for ONNX models: MAP, MAP_BACK, BINARY and WHERE, one
 * work item per element of dst, any rank, any strides, f32/f16/bf16 storage.
 * The functions are those of the CPU's backends/cpu/ref/eltwise_fn.h, in the
 * dialect's generic math (float overloads), computed in f32. */

/* hwa_map_fn and hwa_binary_fn of hwadapt/graph.h, in their order (the
 * differential test on the device catches a drift). */
enum {
    HWA_G_ERF, HWA_G_SQRT, HWA_G_EXP, HWA_G_LOG, HWA_G_NEG, HWA_G_ABS, HWA_G_RECIP, HWA_G_FLOOR, HWA_G_CEIL,
    HWA_G_ROUND, HWA_G_SIGN, HWA_G_SIN, HWA_G_COS, HWA_G_LEAKY_RELU, HWA_G_CLIP, HWA_G_POWC, HWA_G_ELU,
    HWA_G_SOFTPLUS, HWA_G_HARD_SIGMOID, HWA_G_NOT
};
enum {
    HWA_G_POW, HWA_G_MAX, HWA_G_MIN, HWA_G_EQ, HWA_G_LT, HWA_G_LE, HWA_G_GT, HWA_G_GE, HWA_G_AND, HWA_G_OR,
    HWA_G_XOR, HWA_G_MOD
};

HWA_FN float hwa_map_f(int fn, float x, float a, float b) {
    switch (fn) {
    case HWA_G_ERF: return erf(x);
    case HWA_G_SQRT: return sqrt(x);
    case HWA_G_EXP: return exp(x);
    case HWA_G_LOG: return log(x);
    case HWA_G_NEG: return -x;
    case HWA_G_ABS: return fabs(x);
    case HWA_G_RECIP: return 1.0f / x;
    case HWA_G_FLOOR: return floor(x);
    case HWA_G_CEIL: return ceil(x);
    case HWA_G_ROUND: return rint(x); /* half to even */
    case HWA_G_SIGN: return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x;
    case HWA_G_SIN: return sin(x);
    case HWA_G_COS: return cos(x);
    case HWA_G_LEAKY_RELU: return x < 0.0f ? a * x : x;
    case HWA_G_CLIP: return x < a ? a : x > b ? b : x;
    case HWA_G_POWC: return pow(x, a);
    case HWA_G_ELU: return x < 0.0f ? a * expm1(x) : x;
    case HWA_G_SOFTPLUS: return (x > 0.0f ? x : 0.0f) + log1p(exp(-fabs(x)));
    case HWA_G_HARD_SIGMOID: {
        const float v = a * x + b;
        return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
    default: return x == 0.0f ? 1.0f : 0.0f; /* NOT */
    }
}

/* d fn / dx; 0 for the piecewise-constant fns. */
HWA_FN float hwa_map_df(int fn, float x, float a, float b) {
    switch (fn) {
    case HWA_G_ERF: return 1.12837916709551257390f * exp(-x * x);
    case HWA_G_SQRT: return 0.5f / sqrt(x);
    case HWA_G_EXP: return exp(x);
    case HWA_G_LOG: return 1.0f / x;
    case HWA_G_NEG: return -1.0f;
    case HWA_G_ABS: return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : 0.0f;
    case HWA_G_RECIP: return -1.0f / (x * x);
    case HWA_G_SIN: return cos(x);
    case HWA_G_COS: return -sin(x);
    case HWA_G_LEAKY_RELU: return x < 0.0f ? a : 1.0f;
    case HWA_G_CLIP: return x >= a && x <= b ? 1.0f : 0.0f;
    case HWA_G_POWC: return a * pow(x, a - 1.0f);
    case HWA_G_ELU: return x < 0.0f ? a * exp(x) : 1.0f;
    case HWA_G_SOFTPLUS: return 1.0f / (1.0f + exp(-x));
    case HWA_G_HARD_SIGMOID: {
        const float v = a * x + b;
        return v > 0.0f && v < 1.0f ? a : 0.0f;
    }
    default: return 0.0f;
    }
}

HWA_FN bool hwa_map_is_step(int fn) {
    return fn == HWA_G_FLOOR || fn == HWA_G_CEIL || fn == HWA_G_ROUND || fn == HWA_G_SIGN || fn == HWA_G_NOT;
}

HWA_FN float hwa_binary_f(int fn, float x, float y) {
    switch (fn) {
    case HWA_G_POW: return pow(x, y);
    case HWA_G_MAX: return x >= y || x != x ? x : y;
    case HWA_G_MIN: return x <= y || x != x ? x : y;
    case HWA_G_EQ: return x == y ? 1.0f : 0.0f;
    case HWA_G_LT: return x < y ? 1.0f : 0.0f;
    case HWA_G_LE: return x <= y ? 1.0f : 0.0f;
    case HWA_G_GT: return x > y ? 1.0f : 0.0f;
    case HWA_G_GE: return x >= y ? 1.0f : 0.0f;
    case HWA_G_AND: return x != 0.0f && y != 0.0f ? 1.0f : 0.0f;
    case HWA_G_OR: return x != 0.0f || y != 0.0f ? 1.0f : 0.0f;
    case HWA_G_XOR: return (x != 0.0f) != (y != 0.0f) ? 1.0f : 0.0f;
    default: return fmod(x, y); /* MOD */
    }
}

/* op MAP: dst = fn(a); MAP_BACK: dst = a * fn'(b) (a the gradient, b the
 * forward input); BINARY: dst = fn(a, b), b broadcast by the host; WHERE:
 * dst = c != 0 ? a : b (c the condition). pa, pb: the map's parameters. */
HWA_KERNEL void hwa_k_eltops(HWA_GLOBAL char *d, hwa_view dv, HWA_GLOBAL const char *a, hwa_view av,
                             HWA_GLOBAL const char *b, hwa_view bv, HWA_GLOBAL const char *c, hwa_view cv, int op,
                             int fn, float pa, float pb, hwa_long n) {
    const hwa_long i = HWA_GID(0);
    if (i >= n) return;
    const float x = hwa_ld(a, av.dt, hwa_at_flat(av, av.ne, i));
    float r;
    if (op == HWA_OP_MAP) {
        r = hwa_map_f(fn, x, pa, pb);
    } else {
        const float y = hwa_ld(b, bv.dt, hwa_at_flat(bv, bv.ne, i));
        if (op == HWA_OP_MAP_BACK) r = hwa_map_is_step(fn) ? 0.0f : x * hwa_map_df(fn, y, pa, pb);
        else if (op == HWA_OP_BINARY) r = hwa_binary_f(fn, x, y);
        else r = hwa_ld(c, cv.dt, hwa_at_flat(cv, cv.ne, i)) != 0.0f ? x : y;
    }
    hwa_st(d, dv.dt, hwa_at_flat(dv, dv.ne, i), r);
}
