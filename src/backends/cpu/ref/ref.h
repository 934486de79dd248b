/* The CPU reference kernels: plain, obviously correct scalar C for every op of
 * the op table (core/ops_list.h), reading and writing any float dtype through
 * f32 and honouring every input's strides. Every fast kernel and every other
 * backend is tested against these. */
#ifndef HWADAPT_CPU_REF_H
#define HWADAPT_CPU_REF_H

#include <math.h>

#include "core/internal.h"

/* hwa__ref_<NAME>(dst): computes dst from dst->src[] and dst->p. dst is
 * contiguous unless it is a view; inputs may be strided views. Returns HWA_OK,
 * or an error recorded with hwa__err(dst->ctx, ...) (index out of range). */
#define HWA__DECL_REF(name, str, nsrc, diff) hwa_status hwa__ref_##name(hwa_tensor *dst);
HWA_OP_LIST(HWA__DECL_REF)
#undef HWA__DECL_REF

/* The gradient scale of global-norm clipping (as torch's clip_grad_norm_):
 * min(1, max_norm / (sqrt(*sum_sq) + 1e-6)), or 1 when max_norm <= 0 (and
 * sum_sq is then not read). Shared by the updates' fast paths. */
float hwa__ref_clip_coef(const hwa_tensor *sum_sq, float max_norm);

/* SPMM's index check (row_ptr from 0 to nnz, non-decreasing; columns in
 * [0, K)): HWA_E_RANGE naming the row. Shared by the fast kernels. */
hwa_status hwa__spmm_check(const hwa_tensor *dst);
/* The same rule on host arrays row_ptr [N + 1] and col [nnz] (a device
 * backend's indices read back), its message recorded in ctx. */
hwa_status hwa__spmm_check_rows(hwa_ctx *ctx, const int32_t *rp, const int32_t *col, int64_t N, int64_t K,
                                int64_t nnz);
/* QLINEAR's dynamic activation parameters of one row of K values at the
 * given stride (ops_list.h), and the quantization of one value: the rule
 * every QLINEAR kernel follows. */
void hwa__qlinear_row_params(const float *x, int64_t K, int64_t stride, float *s, float *inv, int *z);
uint8_t hwa__qlinear_quantize(float x, float inv, int z);
/* The second half of hwa__qlinear_row_params: s, inv and z of a row whose
 * values lie in [lo, hi] (lo = min(0, min x), hi = max(0, max x)), for
 * kernels that find the range their own way. */
void hwa__qlinear_range_params(float lo, float hi, float *s, float *inv, int *z);

/* Iteration helper: the element offset (in elements, using strides) of the
 * flat row-major index i of a tensor with padded shape ne[4], strides st[4]. */
static inline int64_t hwa__ref_offset(const int64_t ne[4], const int64_t st[4], int64_t i) {
    int64_t i3 = i % ne[3];
    i /= ne[3];
    int64_t i2 = i % ne[2];
    i /= ne[2];
    int64_t i1 = i % ne[1];
    int64_t i0 = i / ne[1];
    return i0 * st[0] + i1 * st[1] + i2 * st[2] + i3 * st[3];
}

/* DROPOUT's counter-based hash: a pure function of the seed and the element
 * index, so every kernel (and every thread split) draws the same mask. Two
 * rounds of the splitmix64 finalizer over the index mixed with the seed. */
static inline uint64_t hwa__dropout_hash(uint32_t s0, uint32_t s1, uint64_t i) {
    uint64_t z = i + (((uint64_t)s1 << 32) | s0) * 0x9e3779b97f4a7c15ull;
    for (int r = 0; r < 2; r++) {
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        z += 0x9e3779b97f4a7c15ull;
    }
    return z;
}

/* POOL2D / POOL2D_BACK geometry (ops_list.h), from the node's params and x
 * (src0 of POOL2D, src1 of POOL2D_BACK). */
typedef struct hwa__pool_geom {
    int64_t N, C, H, W, OH, OW;
    int64_t kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
    int kind;            /* hwa_pool_kind */
    bool count_pad;      /* count_include_pad */
} hwa__pool_geom;
void hwa__pool_geom_of(const hwa_tensor *dst, hwa__pool_geom *g);

/* One window: its first row and column (may be in the padding) and the
 * range of its taps [t0, t1) x [u0, u1) that land in the image. */
typedef struct hwa__pool_win {
    int64_t h0, w0, t0, t1, u0, u1;
} hwa__pool_win;

static inline int64_t hwa__pool_first_tap(int64_t start, int64_t d) { return start >= 0 ? 0 : (-start + d - 1) / d; }
static inline int64_t hwa__pool_end_tap(int64_t start, int64_t d, int64_t k, int64_t in) {
    const int64_t e = (in - start + d - 1) / d; /* taps with start + t*d < in */
    return e < k ? e : k;
}
static inline hwa__pool_win hwa__pool_window(const hwa__pool_geom *g, int64_t oh, int64_t ow) {
    hwa__pool_win w;
    w.h0 = oh * g->sh - g->pt;
    w.w0 = ow * g->sw - g->pl;
    w.t0 = hwa__pool_first_tap(w.h0, g->dh);
    w.t1 = hwa__pool_end_tap(w.h0, g->dh, g->kh, g->H);
    w.u0 = hwa__pool_first_tap(w.w0, g->dw);
    w.u1 = hwa__pool_end_tap(w.w0, g->dw, g->kw, g->W);
    return w;
}
/* Average pooling's divisor of window w. */
static inline int64_t hwa__pool_divisor(const hwa__pool_geom *g, const hwa__pool_win *w) {
    if (!g->count_pad) return (w->t1 - w->t0) * (w->u1 - w->u0);
    const int64_t he = w->h0 + g->kh < g->H + g->pb ? w->h0 + g->kh : g->H + g->pb;
    const int64_t we = w->w0 + g->kw < g->W + g->pr ? w->w0 + g->kw : g->W + g->pr;
    return (he - w->h0) * (we - w->w0);
}

/* Batch normalization: x's channel count C and the extent S of everything
 * after the channel dim. */
static inline void hwa__bn_dims(const hwa_tensor *x, int64_t *C, int64_t *S) {
    *C = x->shape[1];
    *S = 1;
    for (int d = 2; d < x->ndim; d++) *S *= x->shape[d];
}
/* BATCHNORM's per-channel affine from mean, variance, scale and bias. */
static inline void hwa__bn_affine(double mean, double var, double scale, double bias, double eps, float *a, float *b) {
    const double r = 1.0 / sqrt(var + eps), ad = scale * r;
    *a = (float)ad;
    *b = (float)(bias - mean * ad);
}
/* DROPOUT's keep threshold on hash >> 40 and the kept values' factor. */
static inline uint32_t hwa__dropout_threshold(float ratio) { return (uint32_t)floor((double)ratio * 16777216.0); }
static inline float hwa__dropout_factor(float ratio) { return (float)(1.0 / (1.0 - (double)ratio)); }

#endif
