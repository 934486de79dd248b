/* Fast paths for the hot non-matmul ops: they check that the case is one
 * the vector kernels cover (contiguous f32 and the broadcasts that matter),
 * split the work across threads, and leave everything else to the
 * reference kernels. */
#include "backends/cpu/cpu_fast.h"

#include <string.h>

static bool contig(const hwa_tensor *t, hwa_dtype dt) { return t->dtype == dt && hwa_tensor_is_contiguous(t); }

/* Work below this many elements per thread is not worth a fork. */
#define PAR_MIN 32768

static int threads_for(int64_t work, int nthreads) { return hwa__threads_over(work, PAR_MIN, nthreads); }

#define PAR_CHUNKS(n, nthreads, BODY) HWA__PAR_CHUNKS(n, PAR_MIN, nthreads, BODY)

static bool binary(const hwa__simd *k, hwa_tensor *dst, int nt) {
    const hwa_tensor *a = dst->src[0], *b = dst->src[1];
    if (!contig(dst, HWA_F32) || !contig(a, HWA_F32) || !contig(b, HWA_F32)) return false;
    const int64_t n = hwa_tensor_nelements(dst), nb = hwa_tensor_nelements(b);
    const float *pa = hwa__data(a), *pb = hwa__data(b);
    float *pd = hwa__data(dst);
    const int op = dst->op;
    if (nb == n || nb == 1) {
        const int64_t step = nb == 1 ? 0 : 1;
        PAR_CHUNKS(n, nt, k->binary(op, pa + i0, pb + i0 * step, step, pd + i0, len));
        return true;
    }
    /* b one row broadcast over every row of a: b's padded shape [1,1,1,N] */
    int64_t ne[4], st[4], dne[4], dst4[4];
    hwa__shape4(b, ne, st);
    hwa__shape4(dst, dne, dst4);
    if (ne[0] != 1 || ne[1] != 1 || ne[2] != 1 || ne[3] != dne[3]) return false;
    const int64_t row = dne[3], rows = n / row;
    const int ntr = threads_for(n, nt);
#pragma omp parallel for num_threads(ntr) schedule(static) if (ntr > 1)
    for (int64_t r = 0; r < rows; r++) k->binary(op, pa + r * row, pb, 1, pd + r * row, row);
    return true;
}

static bool unary(const hwa__simd *k, hwa_tensor *dst, int nt) {
    const hwa_tensor *a = dst->src[0];
    if (!contig(dst, HWA_F32) || !contig(a, HWA_F32)) return false;
    const int64_t n = hwa_tensor_nelements(dst);
    const float *pa = hwa__data(a);
    float *pd = hwa__data(dst);
    const int op = dst->op;
    const float s = dst->op == HWA_OP_SCALE ? dst->p.f[0] : 1.0f;
    PAR_CHUNKS(n, nt, k->unary(op, pa + i0, pd + i0, len, s));
    return true;
}

static bool rows_op(const hwa__simd *k, hwa_tensor *dst, int nt) {
    const hwa_tensor *a = dst->src[0];
    if (!contig(dst, HWA_F32) || !contig(a, HWA_F32)) return false;
    const int64_t row = dst->shape[dst->ndim - 1], rows = hwa_tensor_nelements(dst) / row;
    const float *pa = hwa__data(a);
    float *pd = hwa__data(dst);
    const int op = dst->op;
    const float eps = dst->p.f[0];
    const int ntr = threads_for(rows * row * 4, nt);
#pragma omp parallel for num_threads(ntr) schedule(static) if (ntr > 1)
    for (int64_t r = 0; r < rows; r++) {
        if (op == HWA_OP_SOFTMAX || op == HWA_OP_LOG_SOFTMAX)
            k->softmax_row(pa + r * row, pd + r * row, row, op == HWA_OP_LOG_SOFTMAX);
        else
            k->norm_row(pa + r * row, pd + r * row, row, eps, op == HWA_OP_RMS_NORM);
    }
    return true;
}

static bool cont(const hwa__simd *k, hwa_tensor *dst, int nt) {
    const hwa_tensor *a = dst->src[0];
    if (!hwa_tensor_is_contiguous(a) || !hwa_tensor_is_contiguous(dst)) return false;
    const int64_t n = hwa_tensor_nelements(dst);
    const void *s = hwa__data(a);
    void *d = hwa__data(dst);
    const hwa_dtype ta = a->dtype, td = dst->dtype;
    if (ta == td && !hwa_dtype_is_quantized(ta)) {
        if (d != s) memmove(d, s, hwa_tensor_nbytes(dst));
        return true;
    }
    if (td == HWA_F32 && (ta == HWA_F16 || ta == HWA_BF16)) {
        PAR_CHUNKS(n, nt, k->half_to_f32((const uint16_t *)s + i0, (float *)d + i0, len, ta == HWA_BF16));
        return true;
    }
    if (ta == HWA_F32 && (td == HWA_F16 || td == HWA_BF16)) {
        PAR_CHUNKS(n, nt, k->f32_to_half((const float *)s + i0, (uint16_t *)d + i0, len, td == HWA_BF16));
        return true;
    }
    return false;
}

/* SUM_TO from [rows, N] down to [N] (column sums, the bias gradient) or to
 * [rows, 1] (row sums). */
static bool sum_to(const hwa__simd *k, hwa_tensor *dst, int nt) {
    const hwa_tensor *a = dst->src[0];
    if (!contig(dst, HWA_F32) || !contig(a, HWA_F32)) return false;
    int64_t sne[4], sst[4], dne[4], dst4[4];
    hwa__shape4(a, sne, sst);
    hwa__shape4(dst, dne, dst4);
    const int64_t N = sne[3], rows = sne[0] * sne[1] * sne[2];
    const float *ps = hwa__data(a);
    float *pd = hwa__data(dst);
    if (dne[0] == 1 && dne[1] == 1 && dne[2] == 1 && dne[3] == N) {
        /* Columns split across threads: each owns a range of d. */
        const int ntc = threads_for(rows * N, nt);
        const int64_t chunk = ((N + ntc - 1) / ntc + 15) & ~(int64_t)15;
#pragma omp parallel for num_threads(ntc) schedule(static) if (ntc > 1)
        for (int t = 0; t < ntc; t++) {
            const int64_t j0 = (int64_t)t * chunk;
            if (j0 >= N) continue;
            const int64_t len = N - j0 < chunk ? N - j0 : chunk;
            memset(pd + j0, 0, (size_t)len * sizeof(float));
            /* column block [j0, j0 + len) of every row: rows of stride N */
            for (int64_t r = 0; r < rows; r++) k->binary(HWA_OP_ADD, pd + j0, ps + r * N + j0, 1, pd + j0, len);
        }
        return true;
    }
    if (dne[0] == sne[0] && dne[1] == sne[1] && dne[2] == sne[2] && dne[3] == 1) {
        k->row_sum(ps, rows, N, pd);
        return true;
    }
    return false;
}

bool hwa__cpu_fast_run(const hwa__simd *k, hwa_tensor *dst, int nthreads) {
    if (!k) return false;
    switch (dst->op) {
    case HWA_OP_ADD:
    case HWA_OP_SUB:
    case HWA_OP_MUL:
    case HWA_OP_DIV: return binary(k, dst, nthreads);
    case HWA_OP_SCALE:
    case HWA_OP_RELU:
    case HWA_OP_GELU:
    case HWA_OP_SILU:
    case HWA_OP_SIGMOID:
    case HWA_OP_TANH: return unary(k, dst, nthreads);
    case HWA_OP_SOFTMAX:
    case HWA_OP_LOG_SOFTMAX:
    case HWA_OP_NORM:
    case HWA_OP_RMS_NORM: return rows_op(k, dst, nthreads);
    case HWA_OP_CONT: return cont(k, dst, nthreads);
    case HWA_OP_SUM_TO: return sum_to(k, dst, nthreads);
    default: return false;
    }
}
