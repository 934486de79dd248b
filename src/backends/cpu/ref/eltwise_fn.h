/* The scalar functions of MAP, MAP_BACK and BINARY (core/ops_list.h), shared
 * by the reference kernels and the CPU fast paths so that both compute each
 * element with the same f32 operations: the fast paths only add threads.
 * Numerics follow ONNX's numpy reference (f32 libm calls). */
#ifndef HWADAPT_CPU_ELTWISE_FN_H
#define HWADAPT_CPU_ELTWISE_FN_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "hwadapt/graph.h"

/* fn(x) with parameters a, b (hwa_map_fn). */
static inline float hwa__map_f32(int fn, float x, float a, float b) {
    switch (fn) {
    case HWA_MAP_ERF: return erff(x);
    case HWA_MAP_SQRT: return sqrtf(x);
    case HWA_MAP_EXP: return expf(x);
    case HWA_MAP_LOG: return logf(x);
    case HWA_MAP_NEG: return -x;
    case HWA_MAP_ABS: return fabsf(x);
    case HWA_MAP_RECIP: return 1.0f / x;
    case HWA_MAP_FLOOR: return floorf(x);
    case HWA_MAP_CEIL: return ceilf(x);
    case HWA_MAP_ROUND: return nearbyintf(x); /* the default rounding: half to even */
    case HWA_MAP_SIGN: return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x; /* 0, -0 and NaN stay */
    case HWA_MAP_SIN: return sinf(x);
    case HWA_MAP_COS: return cosf(x);
    case HWA_MAP_LEAKY_RELU: return x < 0.0f ? a * x : x;
    case HWA_MAP_CLIP: return x < a ? a : x > b ? b : x; /* NaN fails both tests: passes through */
    case HWA_MAP_POWC: return powf(x, a);
    case HWA_MAP_ELU: return x < 0.0f ? a * expm1f(x) : x;
    case HWA_MAP_SOFTPLUS: /* log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow */
        return (x > 0.0f ? x : 0.0f) + log1pf(expf(-fabsf(x)));
    case HWA_MAP_HARD_SIGMOID: {
        const float v = a * x + b;
        return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
    case HWA_MAP_NOT: return x == 0.0f ? 1.0f : 0.0f;
    default: return NAN;
    }
}

/* The piecewise-constant fns, whose MAP_BACK is 0 (not g * 0). */
static inline bool hwa__map_is_step(int fn) {
    return fn == HWA_MAP_FLOOR || fn == HWA_MAP_CEIL || fn == HWA_MAP_ROUND || fn == HWA_MAP_SIGN || fn == HWA_MAP_NOT;
}

/* d fn / dx at x (0 for the piecewise-constant fns). */
static inline float hwa__map_grad_f32(int fn, float x, float a, float b) {
    switch (fn) {
    case HWA_MAP_ERF: return 1.12837916709551257390f * expf(-x * x); /* 2/sqrt(pi) e^(-x^2) */
    case HWA_MAP_SQRT: return 0.5f / sqrtf(x);
    case HWA_MAP_EXP: return expf(x);
    case HWA_MAP_LOG: return 1.0f / x;
    case HWA_MAP_NEG: return -1.0f;
    case HWA_MAP_ABS: return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : 0.0f;
    case HWA_MAP_RECIP: return -1.0f / (x * x);
    case HWA_MAP_SIN: return cosf(x);
    case HWA_MAP_COS: return -sinf(x);
    case HWA_MAP_LEAKY_RELU: return x < 0.0f ? a : 1.0f;
    case HWA_MAP_CLIP: return x >= a && x <= b ? 1.0f : 0.0f;
    case HWA_MAP_POWC: return a * powf(x, a - 1.0f);
    case HWA_MAP_ELU: return x < 0.0f ? a * expf(x) : 1.0f;
    case HWA_MAP_SOFTPLUS: return 1.0f / (1.0f + expf(-x));
    case HWA_MAP_HARD_SIGMOID: {
        const float v = a * x + b;
        return v > 0.0f && v < 1.0f ? a : 0.0f;
    }
    default: return 0.0f; /* FLOOR, CEIL, ROUND, SIGN, NOT */
    }
}

/* fn(x, y) (hwa_binary_fn); 1 or 0 for comparisons and logic. */
static inline float hwa__binary_f32(int fn, float x, float y) {
    switch (fn) {
    case HWA_BIN_POW: return powf(x, y);
    case HWA_BIN_MAX: return x >= y || x != x ? x : y; /* a NaN on either side wins; ties to x */
    case HWA_BIN_MIN: return x <= y || x != x ? x : y;
    case HWA_BIN_EQ: return x == y ? 1.0f : 0.0f;
    case HWA_BIN_LT: return x < y ? 1.0f : 0.0f;
    case HWA_BIN_LE: return x <= y ? 1.0f : 0.0f;
    case HWA_BIN_GT: return x > y ? 1.0f : 0.0f;
    case HWA_BIN_GE: return x >= y ? 1.0f : 0.0f;
    case HWA_BIN_AND: return x != 0.0f && y != 0.0f ? 1.0f : 0.0f;
    case HWA_BIN_OR: return x != 0.0f || y != 0.0f ? 1.0f : 0.0f;
    case HWA_BIN_XOR: return (x != 0.0f) != (y != 0.0f) ? 1.0f : 0.0f;
    case HWA_BIN_MOD: return fmodf(x, y);
    default: return NAN;
    }
}

/* The float -> i32 conversion of hwa_cast (numpy's astype): toward zero,
 * saturating at the i32 range, NaN giving 0. */
static inline int32_t hwa__f32_to_i32_trunc(float v) {
    if (v != v) return 0;
    if (v >= 2147483648.0f) return INT32_MAX;
    if (v <= -2147483648.0f) return INT32_MIN;
    return (int32_t)v;
}

#endif
