/* The CPU reference kernels: plain, obviously correct scalar C for every op of
 * the op table (core/ops_list.h), reading and writing any float dtype through
 * f32 and honouring every input's strides. Every fast kernel and every other
 * backend is tested against these. */
#ifndef HWADAPT_CPU_REF_H
#define HWADAPT_CPU_REF_H

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

#endif
