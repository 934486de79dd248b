/* Helpers shared by the reference kernels (backends/cpu/ref/ref_*.c only).
 *
 * Every kernel sees its tensors through hwa__rt: the host address, the dtype
 * and the shape and strides padded to 4 dims on the left, so one set of loops
 * serves every rank and every strided view. */
#ifndef HWADAPT_CPU_REF_COMMON_H
#define HWADAPT_CPU_REF_COMMON_H

#include <math.h>

#include "backends/cpu/ref/ref.h"

typedef struct hwa__rt {
    void *base;     /* element 0 (views included) */
    hwa_dtype dtype;
    int64_t ne[4];  /* padded shape, outermost first */
    int64_t st[4];  /* padded strides, in elements */
    int64_t n;      /* element count */
    int64_t rows;   /* ne[0] * ne[1] * ne[2]: the rows of length ne[3] */
} hwa__rt;

static inline hwa__rt hwa__rt_of(const hwa_tensor *t) {
    hwa__rt r;
    r.base = hwa__data(t);
    r.dtype = t->dtype;
    hwa__shape4(t, r.ne, r.st);
    r.rows = r.ne[0] * r.ne[1] * r.ne[2];
    r.n = r.rows * r.ne[3];
    return r;
}

/* Element at flat row-major index i. */
static inline float hwa__rt_get(const hwa__rt *t, int64_t i) {
    return hwa__load_f32(t->base, t->dtype, hwa__ref_offset(t->ne, t->st, i));
}
static inline void hwa__rt_set(const hwa__rt *t, int64_t i, float v) {
    hwa__store_f32(t->base, t->dtype, hwa__ref_offset(t->ne, t->st, i), v);
}
/* Element at element offset off (from hwa__rt_row / hwa__rt_off4). */
static inline float hwa__rt_at(const hwa__rt *t, int64_t off) { return hwa__load_f32(t->base, t->dtype, off); }
static inline void hwa__rt_put(const hwa__rt *t, int64_t off, float v) { hwa__store_f32(t->base, t->dtype, off, v); }

/* Index inputs (ids, labels, positions) are i32; i is a flat index. */
static inline int32_t hwa__rt_i32(const hwa__rt *t, int64_t i) {
    return ((const int32_t *)t->base)[hwa__ref_offset(t->ne, t->st, i)];
}

/* Element offset of the first element of row r (rows are the last dim);
 * element j of that row is at + j * st[3]. */
static inline int64_t hwa__rt_row(const hwa__rt *t, int64_t r) { return hwa__ref_offset(t->ne, t->st, r * t->ne[3]); }

/* The 4-index of flat row-major index i of shape ne. */
static inline void hwa__ref_unravel(const int64_t ne[4], int64_t i, int64_t idx[4]) {
    for (int d = 3; d >= 0; d--) {
        idx[d] = i % ne[d];
        i /= ne[d];
    }
}

static inline int64_t hwa__rt_off4(const hwa__rt *t, const int64_t idx[4]) {
    return idx[0] * t->st[0] + idx[1] * t->st[1] + idx[2] * t->st[2] + idx[3] * t->st[3];
}

/* Offset in src of the element that broadcasts to index idx of a larger
 * shape: extents of 1 repeat their only element (ADD's src1, REPEAT). */
static inline int64_t hwa__rt_bcast_off(const hwa__rt *src, const int64_t idx[4]) {
    int64_t off = 0;
    for (int d = 0; d < 4; d++) off += (src->ne[d] == 1 ? 0 : idx[d]) * src->st[d];
    return off;
}

/* Quantized sources are read a whole number of rows at a time; that needs
 * them contiguous with rows made of whole blocks. */
static inline hwa_status hwa__ref_check_quant(const hwa_tensor *dst, const hwa_tensor *t) {
    char buf[64];
    if (!hwa_tensor_is_contiguous(t) || t->shape[t->ndim - 1] % hwa_dtype_block_size(t->dtype) != 0)
        return hwa__err(dst->ctx, HWA_E_DTYPE,
                        "%s: %s input '%s' %s must be contiguous with rows of whole %lld-element blocks",
                        hwa__op_name(dst->op), hwa_dtype_name(t->dtype), t->name, hwa__shape_fmt(t, buf, sizeof buf),
                        (long long)hwa_dtype_block_size(t->dtype));
    return HWA_OK;
}

/* Dequantizes rows [r0, r0 + nrows) of a quantized tensor that passed
 * hwa__ref_check_quant into out (nrows * ne[3] floats). */
static inline hwa_status hwa__ref_dequant_rows(const hwa__rt *t, int64_t r0, int64_t nrows, float *out) {
    const size_t row_bytes = (size_t)(t->ne[3] / hwa_dtype_block_size(t->dtype)) * hwa_dtype_block_bytes(t->dtype);
    return hwa_convert_to_f32(t->dtype, (const char *)t->base + (size_t)r0 * row_bytes, out, nrows * t->ne[3]);
}

/* log sum_j exp(x_j) over the row of x at element offset off (n elements),
 * max-subtracted, in double. */
static inline double hwa__ref_logsumexp(const hwa__rt *x, int64_t off, int64_t n) {
    double max = -INFINITY, sum = 0.0;
    for (int64_t j = 0; j < n; j++) max = fmax(max, hwa__rt_at(x, off + j * x->st[3]));
    for (int64_t j = 0; j < n; j++) sum += exp(hwa__rt_at(x, off + j * x->st[3]) - max);
    return max + log(sum);
}

/* Scratch memory; NULL (HWA_E_NOMEM recorded on dst's context) on failure. */
static inline void *hwa__ref_scratch(const hwa_tensor *dst, int64_t n, size_t elem) {
    return hwa__calloc(dst->ctx, (size_t)(n > 0 ? n : 1), elem);
}

/* The HWA_E_RANGE error for an index input outside [0, bound). */
static inline hwa_status hwa__ref_range_err(const hwa_tensor *dst, const char *what, int32_t v, int64_t at,
                                            int64_t bound) {
    return hwa__err(dst->ctx, HWA_E_RANGE, "%s: %s %d at index %lld is outside [0, %lld)", hwa__op_name(dst->op), what,
                    (int)v, (long long)at, (long long)bound);
}

#endif
