/* The dtype table and the codecs: f16, bf16 (round to nearest even), and the
 * Q8_0 / Q4_0 / Q4_1 / Q4_K / Q6_K block formats (GGUF's). */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "core/internal.h"

typedef struct dtype_info {
    const char *name;
    int64_t block;    /* elements per block */
    size_t bytes;     /* bytes per block */
    bool is_float;
    bool is_quant;
} dtype_info;

static const dtype_info dtype_table[HWA_DTYPE_COUNT] = {
    [HWA_F32] = {"f32", 1, 4, true, false},
    [HWA_F16] = {"f16", 1, 2, true, false},
    [HWA_BF16] = {"bf16", 1, 2, true, false},
    [HWA_I8] = {"i8", 1, 1, false, false},
    [HWA_I32] = {"i32", 1, 4, false, false},
    [HWA_Q8_0] = {"q8_0", 32, 2 + 32, false, true},
    [HWA_Q4_0] = {"q4_0", 32, 2 + 16, false, true},
    [HWA_Q4_1] = {"q4_1", 32, 2 + 2 + 16, false, true},
    [HWA_Q4_K] = {"q4_k", 256, 2 + 2 + 12 + 128, false, true},
    [HWA_Q6_K] = {"q6_k", 256, 128 + 64 + 16 + 2, false, true},
};

static bool dtype_valid(hwa_dtype t) { return (unsigned)t < HWA_DTYPE_COUNT; }

const char *hwa_dtype_name(hwa_dtype t) { return dtype_valid(t) ? dtype_table[t].name : "?"; }

hwa_status hwa_dtype_from_name(const char *name, hwa_dtype *out) {
    if (!name || !out) return hwa__err(NULL, HWA_E_MISUSE, "hwa_dtype_from_name: NULL argument");
    for (int i = 0; i < HWA_DTYPE_COUNT; i++) {
        if (strcasecmp(name, dtype_table[i].name) == 0) {
            *out = (hwa_dtype)i;
            return HWA_OK;
        }
    }
    return hwa__err(NULL, HWA_E_NOTFOUND,
                    "unknown dtype '%s' (known: f32, f16, bf16, i8, i32, q8_0, q4_0, q4_1, q4_k, q6_k)", name);
}

int64_t hwa_dtype_block_size(hwa_dtype t) { return dtype_valid(t) ? dtype_table[t].block : 0; }
size_t hwa_dtype_block_bytes(hwa_dtype t) { return dtype_valid(t) ? dtype_table[t].bytes : 0; }
bool hwa_dtype_is_float(hwa_dtype t) { return dtype_valid(t) && dtype_table[t].is_float; }
bool hwa_dtype_is_quantized(hwa_dtype t) { return dtype_valid(t) && dtype_table[t].is_quant; }

hwa_dtype hwa_dtype_for_rows(hwa_dtype want, int64_t row) {
    if (!dtype_valid(want) || row < 1 || row % dtype_table[want].block == 0) return want;
    if ((want == HWA_Q4_K || want == HWA_Q6_K) && row % 32 == 0) return HWA_Q8_0;
    return HWA_F16;
}

hwa_status hwa_dtype_row_bytes(hwa_dtype t, int64_t n, size_t *out) {
    if (!dtype_valid(t) || !out) return hwa__err(NULL, HWA_E_MISUSE, "hwa_dtype_row_bytes: bad dtype or NULL output");
    int64_t blk = dtype_table[t].block;
    if (n < 0 || n % blk != 0)
        return hwa__err(NULL, HWA_E_RANGE, "%lld elements of %s: not a non-negative multiple of the block size %lld",
                        (long long)n, dtype_table[t].name, (long long)blk);
    if (!hwa__mul_size((size_t)(n / blk), dtype_table[t].bytes, out))
        return hwa__err(NULL, HWA_E_OVERFLOW, "%lld elements of %s do not fit in memory sizes", (long long)n,
                        dtype_table[t].name);
    return HWA_OK;
}

/* ---- f16 --------------------------------------------------------------- */

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* The codecs are static so that the conversion loops below inline them: a
 * call to an exported function in a -fPIC build may be interposed, so the
 * compiler does not inline it. */
static uint16_t f32_to_f16(float f) {
    /* signed 32-bit lanes (|f|'s bits fit), so that the loops vectorize
     * with the compares the baseline ISA has */
    const uint32_t x = f32_bits(f), sign = (x >> 16) & 0x8000u;
    const int32_t ax = (int32_t)(x & 0x7fffffffu);
    /* NaN: quiet, its top payload bits kept; infinity, and what rounds to
     * 65520 or more: infinity */
    const int32_t special = ax > 0x7f800000 ? 0x7e00 | ((ax >> 13) & 0x3ff) : 0x7c00;
    /* below 2^-14 (subnormal or zero): |f| + 0.5 has a unit of 2^-24 in
     * its last place, so the FPU's own round-to-nearest-even leaves the
     * subnormal's bits at the bottom of the sum */
    const int32_t sub = (int32_t)(f32_bits(bits_f32((uint32_t)ax) + 0.5f) - 0x3f000000u);
    /* normal: exponent rebiased 127 -> 15, rounded to nearest even */
    const int32_t nor = (ax - 0x38000000 + 0xfff + ((ax >> 13) & 1)) >> 13;
    /* chosen by masks: the float add above must not move into a branch */
    const int32_t big = -(int32_t)(ax >= 0x477ff000), small = -(int32_t)(ax < 0x38800000);
    return (uint16_t)(sign | (uint32_t)((special & big) | (sub & small & ~big) | (nor & ~small & ~big)));
}

static float f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const int32_t em = h & 0x7fff;
    const float sub = (float)em * 0x1p-24f;        /* exponent 0: exact */
    const int32_t nor = (em << 13) + 0x38000000;   /* exponent rebiased 15 -> 127 */
    const int32_t inf = (em << 13) | 0x7f800000;   /* exponent 31: infinity, NaN keeps its payload */
    const int32_t top = -(int32_t)(em >= 0x7c00), low = -(int32_t)(em < 0x400);
    return bits_f32(sign | (uint32_t)((inf & top) | ((int32_t)f32_bits(sub) & low) | (nor & ~low & ~top)));
}

/* ---- bf16 -------------------------------------------------------------- */

/* Without branches, so that the loops below vectorize. */
static uint16_t f32_to_bf16(float f) {
    const uint32_t x = f32_bits(f);
    const uint32_t nearest = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16; /* ties to even */
    const uint32_t quiet = (x >> 16) | 0x40u;                         /* NaN stays NaN, quiet */
    return (uint16_t)((x & 0x7fffffffu) > 0x7f800000u ? quiet : nearest);
}

static float bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t hwa_f32_to_f16(float f) { return f32_to_f16(f); }
float hwa_f16_to_f32(uint16_t h) { return f16_to_f32(h); }
uint16_t hwa_f32_to_bf16(float f) { return f32_to_bf16(f); }
float hwa_bf16_to_f32(uint16_t h) { return bf16_to_f32(h); }

/* ---- conversions ------------------------------------------------------- */

static int32_t sat_round_i32(float v) {
    if (v != v) return 0;
    if (v >= 2147483520.0f) return INT32_MAX;
    if (v <= -2147483648.0f) return INT32_MIN;
    return (int32_t)lrintf(v);
}

void hwa__store_f32_slow(void *base, hwa_dtype t, int64_t i, float v) {
    switch (t) {
    case HWA_F32: ((float *)base)[i] = v; break;
    case HWA_F16: ((uint16_t *)base)[i] = f32_to_f16(v); break;
    case HWA_BF16: ((uint16_t *)base)[i] = f32_to_bf16(v); break;
    case HWA_I8: {
        int32_t q = sat_round_i32(v);
        ((int8_t *)base)[i] = (int8_t)(q > 127 ? 127 : q < -128 ? -128 : q);
        break;
    }
    case HWA_I32: ((int32_t *)base)[i] = sat_round_i32(v); break;
    default: break;
    }
}

static void put_f16(uint8_t *p, float v) {
    uint16_t h = f32_to_f16(v);
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}
static float get_f16(const uint8_t *p) { return f16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }

/* Both quantizers follow ggml's reference quantizer (the one it uses to
 * write model files), so that a block holds the bytes llama.cpp would write
 * for the same floats; the format itself fixes only how blocks decode. The
 * scale and the products are computed in f32 and only the stored scale is
 * rounded to f16. tests/reference/gen_quant_goldens.py restates them. */

static void quantize_q8_0(const float *x, uint8_t *blk) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(blk, d);
    /* halves away from zero (roundf), whatever the FPU's rounding mode; the
     * value is integral, so lrintf only converts it */
    for (int j = 0; j < 32; j++) blk[2 + j] = (uint8_t)(int8_t)lrintf(roundf(x[j] * id));
}

static void quantize_q4_0(const float *x, uint8_t *blk) {
    /* The scale maps the element of largest magnitude to -8, so the full
     * 4-bit range [-8, 7] is used. */
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    float d = max / -8.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(blk, d);
    /* q = floor(x * id + 8.5) capped at 15 (the opposite extreme maps to
     * 16): halves round up, and the sum is rounded to f32 before the floor,
     * so a value within f32 rounding below a half rounds up too. The
     * product and the sum are separate statements so that no compiler
     * contracts them into one fused multiply-add, which would round once
     * instead of twice. The clamps keep the conversion defined for NaN. */
    for (int j = 0; j < 16; j++) {
        const float v0 = x[j] * id, v1 = x[j + 16] * id;
        const float s0 = v0 + 8.5f, s1 = v1 + 8.5f;
        const int lo = (int)fminf(fmaxf(s0, 0.0f), 15.0f), hi = (int)fminf(fmaxf(s1, 0.0f), 15.0f);
        blk[2 + j] = (uint8_t)(lo | (hi << 4));
    }
}

static void quantize_q4_1(const float *x, uint8_t *blk) {
    /* The range [min, max] in 15 steps: d = (max - min) / 15, and
     * q = trunc((x - min) / d + 0.5) capped at 15, each step in f32 in its
     * own statement (no fused multiply-add); d and min stored as f16. */
    float min = x[0], max = x[0];
    for (int j = 1; j < 32; j++) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(blk, d);
    put_f16(blk + 2, min);
    for (int j = 0; j < 16; j++) {
        const float a0 = x[j] - min, a1 = x[j + 16] - min;
        const float v0 = a0 * id, v1 = a1 * id;
        const float s0 = v0 + 0.5f, s1 = v1 + 0.5f;
        const int lo = (int)fminf(fmaxf(s0, 0.0f), 15.0f), hi = (int)fminf(fmaxf(s1, 0.0f), 15.0f);
        blk[4 + j] = (uint8_t)(lo | (hi << 4));
    }
}

/* ---- K-quant encoders ------------------------------------------------- */

/* ggml's reference quantizers for Q4_K and Q6_K (the format fixes only the
 * decoding; these are what llama.cpp writes without an importance matrix),
 * restated with every operation rounded to f32 in the order written -- no
 * fused multiply-add, left-to-right products -- which is also what
 * tests/reference/gen_kquant_goldens.py does in NumPy. */

/* Round to the nearest integer, ties to even, for |v| < 2^22: adding
 * 1.5 * 2^23 leaves the integer in the low mantissa bits. */
static int nearest_int(float v) {
    const float t = v + 12582912.0f;
    return (int)(f32_bits(t) & 0x007fffffu) - 0x00400000;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Q4_K's sub-block fit: a scale and a (non-positive) min for 32 values in
 * [0, nmax], weighted least squares over 21 trial scales around the range's
 * own. Returns the scale; *the_min gets -min. */
static float fit_scale_min(const float *x, const float *w, int nmax, uint8_t *L, float *the_min) {
    enum { N = 32, NSTEP = 20 };
    const float rmin = -1.0f, rdelta = 0.1f;
    float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < N; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        const float wx = w[i] * x[i];
        sum_w += w[i];
        sum_x += wx;
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, N);
        *the_min = -min;
        return 0.0f;
    }
    const float range = max - min;
    float iscale = (float)nmax / range, scale = 1.0f / iscale, best = 0.0f;
    for (int i = 0; i < N; i++) {
        const float t = x[i] - min;
        L[i] = (uint8_t)clampi(nearest_int(iscale * t), 0, nmax);
        const float a = scale * (float)L[i];
        const float b = a + min;
        const float diff = b - x[i];
        const float d2 = diff * diff;
        best += w[i] * d2;
    }
    uint8_t aux[N];
    for (int is = 0; is <= NSTEP; is++) {
        const float step = rdelta * (float)is;
        const float num = rmin + step;
        iscale = (num + (float)nmax) / range;
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < N; i++) {
            const float t = x[i] - min;
            const int l = clampi(nearest_int(iscale * t), 0, nmax);
            aux[i] = (uint8_t)l;
            const float wl = w[i] * (float)l;
            sum_l += wl;
            sum_l2 += wl * (float)l;
            sum_xl += wl * x[i];
        }
        const float p1 = sum_w * sum_l2, p2 = sum_l * sum_l;
        const float D = p1 - p2;
        if (D > 0) {
            const float a1 = sum_w * sum_xl, a2 = sum_x * sum_l;
            const float b1 = sum_l2 * sum_x, b2 = sum_l * sum_xl;
            float this_scale = (a1 - a2) / D, this_min = (b1 - b2) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float mad = 0;
            for (int i = 0; i < N; i++) {
                const float a = this_scale * (float)aux[i];
                const float b = a + this_min;
                const float diff = b - x[i];
                const float d2 = diff * diff;
                mad += w[i] * d2;
            }
            if (mad < best) {
                memcpy(L, aux, N);
                best = mad;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* qw: per-value importance (NULL: the reference quantizer's weights). */
static void quantize_q4_k(const float *x, const float *qw, uint8_t *blk) {
    uint8_t L[256];
    float scales[8], mins[8], w[32];
    float max_scale = 0, max_min = 0, sigma2 = 0;
    if (qw) {
        for (int l = 0; l < 256; l++) sigma2 += x[l] * x[l];
        sigma2 = 2.0f * sigma2 / 256.0f;
    }
    for (int j = 0; j < 8; j++) {
        const float *xs = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) {
            const float sq = xs[l] * xs[l];
            sum_x2 += sq;
        }
        const float av_x = sqrtf(sum_x2 / 32.0f);
        for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(xs[l]);
        if (qw)
            for (int l = 0; l < 32; l++) w[l] = qw[32 * j + l] * sqrtf(sigma2 + xs[l] * xs[l]);
        scales[j] = fit_scale_min(xs, w, 15, L + 32 * j, &mins[j]);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    uint8_t *sc = blk + 4;
    memset(sc, 0, 12);
    for (int j = 0; j < 8; j++) {
        uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]), lm = (uint8_t)nearest_int(inv_min * mins[j]);
        if (ls > 63) ls = 63;
        if (lm > 63) lm = 63;
        if (j < 4) {
            sc[j] = ls;
            sc[j + 4] = lm;
        } else {
            sc[j + 4] = (uint8_t)((ls & 0x0f) | ((lm & 0x0f) << 4));
            sc[j - 4] |= (uint8_t)((ls >> 4) << 6);
            sc[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    put_f16(blk, max_scale / 63.0f);
    put_f16(blk + 2, max_min / 63.0f);
    const float d = get_f16(blk), dmin = get_f16(blk + 2);
    for (int j = 0; j < 8; j++) {
        int s6, m6;
        hwa__q4k_scale_min(j, sc, &s6, &m6);
        const float dl = d * (float)s6;
        if (dl == 0.0f) continue; /* the fit's values stay */
        const float ml = dmin * (float)m6;
        for (int i = 0; i < 32; i++) {
            const float t = x[32 * j + i] + ml;
            L[32 * j + i] = (uint8_t)clampi(nearest_int(t / dl), 0, 15);
        }
    }
    uint8_t *q = blk + 16;
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) q[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
}

/* Q6_K's sub-block fit: a signed scale for 16 values in [-32, 31],
 * weighted by x^2 (or by qw when given), the best of 19 trial scales. */
static float fit_scale_signed(const float *x, const float *qw, int8_t *L) {
    enum { N = 16, NMAX = 32 };
    float max = 0, amax = 0;
    for (int i = 0; i < N; i++) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < 1e-15f) {
        memset(L, 0, N);
        return 0.0f;
    }
    float iscale = (float)-NMAX / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < N; i++) {
        const int l = clampi(nearest_int(iscale * x[i]), -NMAX, NMAX - 1);
        L[i] = (int8_t)(l + NMAX);
        const float w = qw ? qw[i] : x[i] * x[i];
        const float wx = w * x[i], wl = w * (float)l;
        sumlx += wx * (float)l;
        suml2 += wl * (float)l;
    }
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        const float step = 0.1f * (float)is;
        const float num = (float)NMAX + step;
        iscale = -num / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < N; i++) {
            const int l = clampi(nearest_int(iscale * x[i]), -NMAX, NMAX - 1);
            const float w = qw ? qw[i] : x[i] * x[i];
            const float wx = w * x[i], wl = w * (float)l;
            sumlx += wx * (float)l;
            suml2 += wl * (float)l;
        }
        const float lhs = sumlx * sumlx, rhs = best * suml2;
        if (suml2 > 0 && lhs > rhs) {
            for (int i = 0; i < N; i++) L[i] = (int8_t)(NMAX + clampi(nearest_int(iscale * x[i]), -NMAX, NMAX - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* qw: per-value importance (NULL: the reference quantizer's weights). */
static void quantize_q6_k(const float *x, const float *qw, uint8_t *blk) {
    int8_t L[256];
    float scales[16], w[256];
    float max_scale = 0, max_abs = 0, sigma2 = 0;
    if (qw) {
        for (int l = 0; l < 256; l++) sigma2 += x[l] * x[l];
        sigma2 /= 256.0f;
        for (int l = 0; l < 256; l++) w[l] = qw[l] * sqrtf(sigma2 + x[l] * x[l]);
    }
    for (int ib = 0; ib < 16; ib++) {
        scales[ib] = fit_scale_signed(x + 16 * ib, qw ? w + 16 * ib : NULL, L + 16 * ib);
        const float a = fabsf(scales[ib]);
        if (a > max_abs) {
            max_abs = a;
            max_scale = scales[ib];
        }
    }
    memset(blk, 0, 210);
    if (max_abs < 1e-15f) return; /* all zero: zero bytes, d = 0 */
    const float iscale = -128.0f / max_scale;
    int8_t *sc = (int8_t *)(blk + 192);
    put_f16(blk + 208, 1.0f / iscale);
    for (int ib = 0; ib < 16; ib++) {
        const int v = nearest_int(iscale * scales[ib]);
        sc[ib] = (int8_t)(v < 127 ? v : 127);
    }
    const float d = get_f16(blk + 208);
    for (int j = 0; j < 16; j++) {
        const float dl = d * (float)sc[j];
        if (dl == 0.0f) continue; /* the fit's values stay */
        for (int i = 0; i < 16; i++) L[16 * j + i] = (int8_t)(clampi(nearest_int(x[16 * j + i] / dl), -32, 31) + 32);
    }
    uint8_t *ql = blk, *qh = blk + 128;
    for (int h = 0; h < 2; h++) {
        const int8_t *Lh = L + 128 * h;
        for (int l = 0; l < 32; l++) {
            ql[64 * h + l] = (uint8_t)((Lh[l] & 0x0f) | ((Lh[l + 64] & 0x0f) << 4));
            ql[64 * h + l + 32] = (uint8_t)((Lh[l + 32] & 0x0f) | ((Lh[l + 96] & 0x0f) << 4));
            qh[32 * h + l] = (uint8_t)((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) |
                                       ((Lh[l + 96] >> 4) << 6));
        }
    }
}

hwa_status hwa_convert_from_f32(hwa_dtype dst_type, void *dst, const float *src, int64_t n) {
    if (!dtype_valid(dst_type) || (!dst && n) || (!src && n) || n < 0)
        return hwa__err(NULL, HWA_E_MISUSE, "hwa_convert_from_f32: bad dtype, count or NULL buffer");
    if (dtype_table[dst_type].is_quant) {
        const int64_t blk = dtype_table[dst_type].block;
        const size_t bytes = dtype_table[dst_type].bytes;
        if (n % blk) return hwa__err(NULL, HWA_E_RANGE, "convert to %s: %lld elements is not a multiple of %lld",
                                     dtype_table[dst_type].name, (long long)n, (long long)blk);
        uint8_t *p = dst;
        for (int64_t b = 0; b < n / blk; b++) {
            const float *x = src + b * blk;
            uint8_t *q = p + (size_t)b * bytes;
            switch (dst_type) {
            case HWA_Q8_0: quantize_q8_0(x, q); break;
            case HWA_Q4_0: quantize_q4_0(x, q); break;
            case HWA_Q4_1: quantize_q4_1(x, q); break;
            case HWA_Q4_K: quantize_q4_k(x, NULL, q); break;
            default: quantize_q6_k(x, NULL, q); break;
            }
        }
        return HWA_OK;
    }
    if (dst_type == HWA_F32) {
        memmove(dst, src, (size_t)n * sizeof(float));
        return HWA_OK;
    }
    /* the half types in loops of their own: the codecs inline (and bf16's
     * vectorizes) where the per-value switch would not */
    if (dst_type == HWA_BF16) {
        uint16_t *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = f32_to_bf16(src[i]);
    } else if (dst_type == HWA_F16) {
        uint16_t *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = f32_to_f16(src[i]);
    } else {
        for (int64_t i = 0; i < n; i++) hwa__store_f32_slow(dst, dst_type, i, src[i]);
    }
    return HWA_OK;
}

/* Decoding, as GGUF defines the blocks. Every product and sum is in f32,
 * one operation per statement (no fused multiply-add), in the order the
 * format's reference decoders use, so the floats are bit for bit theirs. */

static void dequant_q8_0(const uint8_t *blk, float *y) {
    const float d = get_f16(blk);
    for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)blk[2 + j] * d;
}

static void dequant_q4_0(const uint8_t *blk, float *y) {
    const float d = get_f16(blk);
    for (int j = 0; j < 16; j++) {
        y[j] = (float)((blk[2 + j] & 0x0f) - 8) * d;
        y[j + 16] = (float)((blk[2 + j] >> 4) - 8) * d;
    }
}

static void dequant_q4_1(const uint8_t *blk, float *y) {
    const float d = get_f16(blk), m = get_f16(blk + 2);
    for (int j = 0; j < 16; j++) {
        const float a = d * (float)(blk[4 + j] & 0x0f), b = d * (float)(blk[4 + j] >> 4);
        y[j] = a + m;
        y[j + 16] = b + m;
    }
}

static void dequant_q4_k(const uint8_t *blk, float *y) {
    const float d = get_f16(blk), dmin = get_f16(blk + 2);
    const uint8_t *scales = blk + 4, *q = blk + 16;
    /* four chunks of 64 values: 32 bytes, low nibbles the first 32 values
     * (sub-block 2i), high nibbles the next (sub-block 2i + 1) */
    for (int i = 0; i < 4; i++) {
        for (int h = 0; h < 2; h++) {
            int sc, m;
            hwa__q4k_scale_min(2 * i + h, scales, &sc, &m);
            const float dl = d * (float)sc, ml = dmin * (float)m;
            for (int l = 0; l < 32; l++) {
                const float v = dl * (float)((q[32 * i + l] >> (4 * h)) & 0x0f);
                y[64 * i + 32 * h + l] = v - ml;
            }
        }
    }
}

static void dequant_q6_k(const uint8_t *blk, float *y) {
    const uint8_t *ql = blk, *qh = blk + 128;
    const int8_t *scales = (const int8_t *)(blk + 192);
    const float d = get_f16(blk + 208);
    /* two halves of 128 values; value r of a half takes its low four bits
     * from ql[64 h + r % 64] (low nibble for r < 64, high for the rest) and
     * its top two from qh[32 h + r % 32], bits 2 (r / 32) */
    for (int h = 0; h < 2; h++) {
        for (int r = 0; r < 128; r++) {
            const int lo = (ql[64 * h + r % 64] >> (4 * (r / 64))) & 0x0f;
            const int hi = (qh[32 * h + r % 32] >> (2 * (r / 32))) & 0x03;
            const int e = 128 * h + r;
            const float dl = d * (float)scales[e / 16];
            y[e] = dl * (float)((lo | (hi << 4)) - 32);
        }
    }
}

hwa_status hwa_convert_to_f32(hwa_dtype src_type, const void *src, float *dst, int64_t n) {
    if (!dtype_valid(src_type) || (!dst && n) || (!src && n) || n < 0)
        return hwa__err(NULL, HWA_E_MISUSE, "hwa_convert_to_f32: bad dtype, count or NULL buffer");
    if (dtype_table[src_type].is_quant) {
        const int64_t blk = dtype_table[src_type].block;
        const size_t bytes = dtype_table[src_type].bytes;
        if (n % blk) return hwa__err(NULL, HWA_E_RANGE, "convert from %s: %lld elements is not a multiple of %lld",
                                     dtype_table[src_type].name, (long long)n, (long long)blk);
        const uint8_t *p = src;
        for (int64_t b = 0; b < n / blk; b++) {
            const uint8_t *q = p + (size_t)b * bytes;
            float *y = dst + b * blk;
            switch (src_type) {
            case HWA_Q8_0: dequant_q8_0(q, y); break;
            case HWA_Q4_0: dequant_q4_0(q, y); break;
            case HWA_Q4_1: dequant_q4_1(q, y); break;
            case HWA_Q4_K: dequant_q4_k(q, y); break;
            default: dequant_q6_k(q, y); break;
            }
        }
        return HWA_OK;
    }
    if (src_type == HWA_F32) {
        memmove(dst, src, (size_t)n * sizeof(float));
        return HWA_OK;
    }
    if (src_type == HWA_BF16) {
        const uint16_t *h = src;
        for (int64_t i = 0; i < n; i++) dst[i] = bf16_to_f32(h[i]);
    } else if (src_type == HWA_F16) {
        const uint16_t *h = src;
        for (int64_t i = 0; i < n; i++) dst[i] = f16_to_f32(h[i]);
    } else {
        for (int64_t i = 0; i < n; i++) dst[i] = hwa__load_f32(src, src_type, i);
    }
    return HWA_OK;
}

/* ---- encoding with an importance matrix ---------------------------------- */

/* With per-column importance (llama.cpp's imatrix: the mean square of the
 * activations that meet each column), a block's scale (and min) are chosen
 * to minimise sum imp * (x - decoded)^2 rather than the plain error. Each
 * type's weighted fit proposes a block; it is kept only where its weighted
 * error is below that of the reference encoder's block, so the result is
 * never worse than hwa_convert_from_f32 by that measure. The fits weight a
 * value by imp * sqrt(sigma^2 + x^2) (sigma^2 the block's mean square), as
 * llama.cpp does, which keeps large values from being crushed where the
 * importance is nearly flat. */

/* The weighted error of x against the decoded block y. */
static double weighted_err(const float *x, const float *y, const float *imp, int n) {
    double e = 0;
    for (int i = 0; i < n; i++) {
        const double d = (double)x[i] - (double)y[i];
        e += (double)imp[i] * d * d;
    }
    return e;
}

static float f16_round(float v) { return f16_to_f32(f32_to_f16(v)); }

/* Symmetric levels lo..hi (value = l * d), the best d over trial scales that
 * map the block's extreme to levels near lo and near hi, each refined by
 * one weighted least-squares step; d is rounded to f16 before the levels are
 * chosen and scored. Writes the levels to L and returns d. */
static float fit_symmetric(const float *x, const float *w, int n, int lo, int hi, int *L) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) amax = fabsf(x[i]), max = x[i];
    memset(L, 0, (size_t)n * sizeof *L);
    if (amax == 0.0f) return 0.0f;
    double best = INFINITY;
    float best_d = 0;
    int aux[256];
    for (int side = 0; side < 2; side++) {
        for (int is = -12; is <= 12; is++) {
            const float target = side ? (float)hi + 0.1f * (float)is : (float)lo + 0.1f * (float)is;
            if (target == 0.0f) continue;
            float d = max / target;
            for (int pass = 0; pass < 2; pass++) {
                const float df = f16_round(d);
                if (df == 0.0f || !isfinite(df)) break;
                double sxl = 0, sll = 0, err = 0;
                for (int i = 0; i < n; i++) {
                    const int l = clampi(nearest_int(x[i] / df), lo, hi);
                    aux[i] = l;
                    const double diff = (double)x[i] - (double)df * l;
                    err += (double)w[i] * diff * diff;
                    sxl += (double)w[i] * x[i] * l;
                    sll += (double)w[i] * l * l;
                }
                if (err < best) {
                    best = err;
                    best_d = df;
                    memcpy(L, aux, (size_t)n * sizeof *L);
                }
                if (sll <= 0) break;
                d = (float)(sxl / sll); /* the least-squares scale for these levels */
            }
        }
    }
    return best_d;
}

/* Levels 0..nmax with a min (value = l * d + m): trial steps across the
 * block's range, each refined by a weighted least-squares fit of d and m;
 * both rounded to f16 before the levels are chosen and scored. */
static void fit_affine(const float *x, const float *w, int n, int nmax, int *L, float *d_out, float *m_out) {
    float min = x[0], max = x[0];
    for (int i = 1; i < n; i++) min = fminf(min, x[i]), max = fmaxf(max, x[i]);
    double best = INFINITY;
    *d_out = 0, *m_out = f16_round(min);
    memset(L, 0, (size_t)n * sizeof *L);
    if (max == min) return;
    int aux[32];
    for (int is = -12; is <= 12; is++) {
        float d = (max - min) / ((float)nmax + 0.1f * (float)is), m = min;
        for (int pass = 0; pass < 2; pass++) {
            const float df = f16_round(d), mf = f16_round(m);
            if (df <= 0.0f || !isfinite(df) || !isfinite(mf)) break;
            double sw = 0, sl = 0, sll = 0, sx = 0, sxl = 0, err = 0;
            for (int i = 0; i < n; i++) {
                const int l = clampi(nearest_int((x[i] - mf) / df), 0, nmax);
                aux[i] = l;
                const double diff = (double)x[i] - ((double)df * l + mf);
                err += (double)w[i] * diff * diff;
                sw += w[i], sl += (double)w[i] * l, sll += (double)w[i] * l * l;
                sx += (double)w[i] * x[i], sxl += (double)w[i] * x[i] * l;
            }
            if (err < best) {
                best = err;
                *d_out = df, *m_out = mf;
                memcpy(L, aux, (size_t)n * sizeof *L);
            }
            const double det = sw * sll - sl * sl;
            if (!(det > 0)) break;
            d = (float)((sw * sxl - sl * sx) / det);
            m = (float)((sll * sx - sl * sxl) / det);
        }
    }
}

/* One block of t fitted to x with importance imp (both of the type's block
 * size), into blk. */
static void quantize_weighted_block(hwa_dtype t, const float *x, const float *imp, uint8_t *blk) {
    float w[256], sigma2 = 0;
    int L[256];
    const int n = (int)dtype_table[t].block;
    if (t == HWA_Q4_K || t == HWA_Q6_K) {
        if (t == HWA_Q4_K) quantize_q4_k(x, imp, blk);
        else quantize_q6_k(x, imp, blk);
        return;
    }
    for (int i = 0; i < n; i++) sigma2 += x[i] * x[i];
    sigma2 /= (float)n;
    for (int i = 0; i < n; i++) w[i] = imp[i] * sqrtf(sigma2 + x[i] * x[i]);
    if (t == HWA_Q4_1) {
        float d, m;
        fit_affine(x, w, n, 15, L, &d, &m);
        put_f16(blk, d);
        put_f16(blk + 2, m);
        for (int j = 0; j < 16; j++) blk[4 + j] = (uint8_t)(L[j] | (L[j + 16] << 4));
        return;
    }
    const bool q8 = t == HWA_Q8_0;
    const float d = fit_symmetric(x, w, n, q8 ? -127 : -8, q8 ? 127 : 7, L);
    put_f16(blk, d);
    if (q8)
        for (int j = 0; j < 32; j++) blk[2 + j] = (uint8_t)(int8_t)L[j];
    else
        for (int j = 0; j < 16; j++) blk[2 + j] = (uint8_t)((L[j] + 8) | ((L[j + 16] + 8) << 4));
}

hwa_status hwa_convert_from_f32_weighted(hwa_dtype dst_type, void *dst, const float *src, int64_t n, int64_t row,
                                         const float *imp) {
    if (!imp) return hwa_convert_from_f32(dst_type, dst, src, n);
    if (!dtype_valid(dst_type) || !dtype_table[dst_type].is_quant || (!dst && n) || (!src && n) || n < 0 || row <= 0)
        return hwa__err(NULL, HWA_E_MISUSE, "hwa_convert_from_f32_weighted: bad block type, count, row or NULL buffer");
    const int64_t blk = dtype_table[dst_type].block;
    const size_t bytes = dtype_table[dst_type].bytes;
    if (row % blk || n % row)
        return hwa__err(NULL, HWA_E_RANGE, "convert to %s: rows of %lld values in %lld elements are not whole blocks",
                        dtype_table[dst_type].name, (long long)row, (long long)n);
    uint8_t *p = dst, cand[256];
    float y[256];
    for (int64_t b = 0; b < n / blk; b++) {
        const float *x = src + b * blk, *w = imp + (b * blk) % row;
        uint8_t *q = p + (size_t)b * bytes;
        hwa_convert_from_f32(dst_type, q, x, blk); /* the reference block: counts fit, cannot fail */
        hwa_convert_to_f32(dst_type, q, y, blk);
        const double ref = weighted_err(x, y, w, (int)blk);
        quantize_weighted_block(dst_type, x, w, cand);
        hwa_convert_to_f32(dst_type, cand, y, blk);
        if (weighted_err(x, y, w, (int)blk) < ref) memcpy(q, cand, bytes);
    }
    return HWA_OK;
}
