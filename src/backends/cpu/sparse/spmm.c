/* The sparse product on the CPU: y [M, N] = x W^T, W [N, K] in compressed
 * rows (row_ptr, col, vals).
 *
 * One activation row (a decode or a request of one) is a gather-dot per row
 * of W: the row's columns index x directly. More rows are transposed once
 * per run into a panel xt [K, Mp] (Mp = M rounded up to a vector), so that
 * each stored value is one broadcast and one fused multiply-add over a
 * contiguous vector of the M rows' values, with the sums of up to
 * `mblock` rows kept in registers for a whole row of W.
 *
 * Rows of W go to the threads in chunks of about equal stored values (plus
 * a per-row cost), four chunks per thread, so that the pool's claiming
 * balances a matrix whose rows differ in density. Each result is summed by
 * one thread in a fixed order: the same bits whatever the thread count.
 *
 * The indices are checked (hwa__spmm_check, the reference's rule and
 * messages) once per version of the index tensors: the check reads every
 * column, as much memory as the product at batch 1. */
#include <stdio.h>
#include <string.h>

#include "backends/cpu/cpu_fast.h"
#include "backends/cpu/cpu_isa.h"
#include "backends/cpu/ref/ref.h"
#include "backends/cpu/sparse/spmm.h"
#include "core/checked.h"

/* Multiply-adds below this many per thread are not worth a fork. */
#define SPMM_PAR_MIN 32768
/* What one row of W costs beyond its stored values, in stored values (the
 * reduction and the store): the chunks' balance. */
#define ROW_COST 8

static const hwa__spmm_kern *kern_active(void) {
#if defined(__x86_64__)
    switch (hwa__isa_active()) {
    case HWA_ISA_AMX:
    case HWA_ISA_AVX512: return &hwa__spmm_kern_avx512;
    case HWA_ISA_AVX2: return &hwa__spmm_kern_avx2;
    default: break;
    }
#endif
    return &hwa__spmm_kern_scalar;
}

/* Whether the index tensors of dst were found valid at their current
 * versions; if not, checks them (recording them when valid). */
static hwa_status check_once(hwa__spmm_memo *memo, hwa_tensor *dst) {
    const hwa_tensor *rp = dst->src[1], *col = dst->src[2], *rps = hwa__storage(rp), *cols = hwa__storage(col);
    const hwa__spmm_seen key = {rps->uid, rps->version, cols->uid, cols->version, hwa__data(rp), hwa__data(col),
                                dst->shape[1], dst->src[0]->shape[1], col->shape[0]};
    for (int i = 0; i < HWA_SPMM_SEEN; i++)
        if (!memcmp(&memo->seen[i], &key, sizeof key)) return HWA_OK;
    memo->checks++;
    const hwa_status st = hwa__spmm_check(dst);
    if (st) return st;
    memo->seen[memo->next] = key;
    memo->next = (memo->next + 1) % HWA_SPMM_SEEN;
    return HWA_OK;
}

typedef struct spmm_job {
    const hwa__spmm_kern *k;
    const int32_t *rp, *col;
    const float *val, *x;
    float *xt, *y;
    int64_t M, N, K, Mp, xs0, xs1; /* x's strides in elements */
    int64_t chunks, total;          /* row chunks; their summed cost */
} spmm_job;

/* The first row n with row_ptr[n] + ROW_COST n >= target (N when none). */
static int64_t row_at(const int32_t *rp, int64_t N, int64_t target) {
    int64_t lo = 0, hi = N;
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if ((int64_t)rp[mid] + ROW_COST * mid >= target) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

static void chunk_rows(const spmm_job *j, int64_t c, int64_t *n0, int64_t *n1) {
    *n0 = c == 0 ? 0 : row_at(j->rp, j->N, j->total * c / j->chunks);
    *n1 = c + 1 == j->chunks ? j->N : row_at(j->rp, j->N, j->total * (c + 1) / j->chunks);
}

static void spmv_chunks(void *ctx, int64_t c0, int64_t c1, int tid) {
    const spmm_job *j = ctx;
    for (int64_t c = c0; c < c1; c++) {
        int64_t n0, n1;
        chunk_rows(j, c, &n0, &n1);
        if (n0 < n1) j->k->spmv(j->rp, j->col, j->val, j->x, n0, n1, j->y);
    }
}

/* Item i: row chunk i % chunks of the panel of rows [mblock (i / chunks), +mblock). */
static void panel_chunks(void *ctx, int64_t i0, int64_t i1, int tid) {
    const spmm_job *j = ctx;
    const int64_t mb = j->k->mblock;
    for (int64_t i = i0; i < i1; i++) {
        const int64_t m0 = i / j->chunks * mb, m = j->M - m0 < mb ? j->M - m0 : mb;
        int64_t n0, n1;
        chunk_rows(j, i % j->chunks, &n0, &n1);
        if (n0 < n1) j->k->panel(j->rp, j->col, j->val, j->xt + m0, j->Mp, m, n0, n1, j->y + m0 * j->N, j->N);
    }
}

/* xt [K, Mp] rows [k0, k1) from x [M, K] (strided), lanes past M zero. Tiles
 * of 16 values of k keep the lines written in L1 while m runs. */
static void transpose_rows(void *ctx, int64_t k0, int64_t k1, int tid) {
    const spmm_job *j = ctx;
    if (j->xs1 == 1 && j->k->pack) {
        j->k->pack(j->x, j->xs0, j->M, k0, k1, j->xt, j->Mp);
        return;
    }
    for (int64_t kt = k0; kt < k1; kt += 16) {
        const int64_t ke = k1 - kt < 16 ? k1 : kt + 16;
        for (int64_t m = 0; m < j->M; m++) {
            const float *xr = j->x + m * j->xs0;
            for (int64_t k = kt; k < ke; k++) j->xt[k * j->Mp + m] = xr[k * j->xs1];
        }
        for (int64_t k = kt; k < ke; k++) memset(j->xt + k * j->Mp + j->M, 0, (size_t)(j->Mp - j->M) * sizeof(float));
    }
}

static bool contig_of(const hwa_tensor *t, hwa_dtype dt) { return t->dtype == dt && hwa_tensor_is_contiguous(t); }

hwa_status hwa__cpu_spmm_run(hwa__spmm_memo *memo, hwa_tensor *dst, int nthreads, hwa__cpu_scratch *scratch,
                             char *name, size_t name_cap) {
    const hwa_tensor *x = dst->src[0], *rp = dst->src[1], *col = dst->src[2], *val = dst->src[3];
    if (!contig_of(dst, HWA_F32) || x->dtype != HWA_F32 || x->ndim != 2 || !contig_of(rp, HWA_I32) ||
        !contig_of(col, HWA_I32) || !contig_of(val, HWA_F32) || !hwa__data(x) || !hwa__data(rp) || !hwa__data(col) ||
        !hwa__data(val) || !hwa__data(dst))
        return HWA_E_UNSUPPORTED;
    hwa_status st = check_once(memo, dst);
    if (st) return st;
    const hwa__spmm_kern *k = kern_active();
    spmm_job j = {.k = k, .rp = hwa__data(rp), .col = hwa__data(col), .val = hwa__data(val), .x = hwa__data(x),
                  .y = hwa__data(dst), .M = dst->shape[0], .N = dst->shape[1], .K = x->shape[1],
                  .xs0 = x->stride[0], .xs1 = x->stride[1]};
    const int64_t nnz = col->shape[0];
    j.total = nnz + ROW_COST * j.N;
    const int nt = hwa__threads_over(j.total * j.M, SPMM_PAR_MIN, nthreads);
    j.chunks = nt > 1 ? 4 * nt : 1;
    if (j.M == 1 && (j.xs1 == 1 || j.K == 1)) {
        hwa__par_for(nt, j.chunks, 1, spmv_chunks, &j);
        snprintf(name, name_cap, "spmm:%s:gather", k->name);
        return HWA_OK;
    }
    /* a panel, also for one strided row (transposing it packs it) */
    j.Mp = (j.M + k->width - 1) / k->width * k->width;
    size_t bytes;
    if (!hwa__mul_size((size_t)j.K, (size_t)j.Mp * sizeof(float), &bytes)) return HWA_E_UNSUPPORTED;
    if (!(j.xt = hwa__scratch_grow(scratch->ctx, &scratch->p, &scratch->cap, bytes))) return HWA_E_NOMEM;
    hwa__par_for(hwa__threads_over(j.K * j.M, SPMM_PAR_MIN, nthreads), j.K, 64, transpose_rows, &j);
    const int64_t blocks = (j.M + k->mblock - 1) / k->mblock;
    hwa__par_for(nt, blocks * j.chunks, 1, panel_chunks, &j);
    snprintf(name, name_cap, "spmm:%s:panel", k->name);
    return HWA_OK;
}
