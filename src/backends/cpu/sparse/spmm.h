/* The CPU's fast sparse product (SPMM, core/ops_list.h): y [M, N] = x W^T
 * with W [N, K] in compressed rows. spmm.c checks the case, validates the
 * indices once per version of the index tensors, splits the rows across
 * threads by their stored values and runs the kernels of the active ISA
 * level (spmm_kern.c in plain C, spmm_avx2.c, spmm_avx512.c). */
#ifndef HWADAPT_CPU_SPMM_H
#define HWADAPT_CPU_SPMM_H

#include "core/internal.h"

/* One ISA level's kernels; each works on rows [n0, n1) of W alone. */
typedef struct hwa__spmm_kern {
    const char *name; /* "scalar", "avx2", "avx512" */
    /* One activation row (M = 1): y[n] = sum over j of val[j] x[col[j]]
     * for row_ptr[n] <= j < row_ptr[n+1], x contiguous. */
    void (*spmv)(const int32_t *row_ptr, const int32_t *col, const float *val, const float *x, int64_t n0,
                 int64_t n1, float *y);
    /* m (1..mblock) activation rows held transposed, xt[k * ldx + i] for
     * row i: y[i * ldy + n] = sum over j of val[j] xt[col[j] * ldx + i].
     * xt's lanes past m up to a whole vector are read (and must be finite). */
    void (*panel)(const int32_t *row_ptr, const int32_t *col, const float *val, const float *xt, int64_t ldx,
                  int64_t m, int64_t n0, int64_t n1, float *y, int64_t ldy);
    /* Rows [k0, k1) of xt [K, ldx] from x [M, K] with rows xs0 apart and
     * contiguous columns, lanes from M to ldx (a multiple of 8) zero; NULL
     * where the generic transposition in spmm.c does as well. */
    void (*pack)(const float *x, int64_t xs0, int64_t M, int64_t k0, int64_t k1, float *xt, int64_t ldx);
    int width;  /* floats per vector: ldx and panel starts are multiples of it */
    int mblock; /* the most rows one panel call takes */
} hwa__spmm_kern;

extern const hwa__spmm_kern hwa__spmm_kern_scalar;
#if defined(__x86_64__)
extern const hwa__spmm_kern hwa__spmm_kern_avx2;
extern const hwa__spmm_kern hwa__spmm_kern_avx512;
#endif

/* Index tensors found valid (hwa__spmm_check), kept per backend: their
 * storage's uid and version, where they start, and the shape they were
 * checked for. A new version (any write, hwa__tensor_touch) is checked
 * again. */
#define HWA_SPMM_SEEN 8
typedef struct hwa__spmm_seen {
    uint64_t rp_uid, rp_version, col_uid, col_version;
    const void *rp, *col;
    int64_t N, K, nnz;
} hwa__spmm_seen;
typedef struct hwa__spmm_memo {
    hwa__spmm_seen seen[HWA_SPMM_SEEN];
    int next; /* the slot the next new entry takes (round robin) */
    int checks; /* how many times the indices were checked (tests) */
} hwa__spmm_memo;

/* Computes SPMM node dst with nthreads threads: x f32 [M, K] (any strides),
 * row_ptr, col and vals contiguous, dst contiguous f32. scratch is the
 * backend's (cpu_fast.h; grown as needed); name (name_cap bytes) receives the
 * kernel ("spmm:avx512:gather" for M = 1, "...:panel" else). Returns
 * HWA_E_RANGE (the reference's message) for bad indices, HWA_E_NOMEM
 * without scratch, and HWA_E_UNSUPPORTED, having done nothing, for a case
 * it does not take (the reference then runs). */
struct hwa__cpu_scratch;
hwa_status hwa__cpu_spmm_run(hwa__spmm_memo *memo, hwa_tensor *dst, int nthreads, struct hwa__cpu_scratch *scratch,
                             char *name, size_t name_cap);

#endif
