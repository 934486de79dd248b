/* The CUDA backend's CUDA-only kernels: warp-level row ops and attention.
 * They sit beside the portable kernels of backends/gpu/kernels (which
 * define what each op computes, with the CPU reference) and take only the
 * shapes below; the host side (cuda_blas.c, hwa__cu_fast_run) declines the
 * rest and the portable kernel runs them.
 *
 * Taken (every tensor of a node in one dtype: f32, f16 or bf16; arithmetic
 * and accumulation in f32, as the portable kernels):
 *  - SOFTMAX, LOG_SOFTMAX, NORM, RMS_NORM forward over rows whose elements
 *    are adjacent (any strides between rows): rows up to 1024 wide by
 *    hwa_cu_rows_warp (one warp per row, the row held in registers, read
 *    once), wider ones by hwa_cu_rows_block (a block of 512 per row, three
 *    passes over the row in global memory);
 *  - ATTENTION with D and Dv up to 256, the last dim of q, k, v and the
 *    output adjacent (any strides for batch, head and position): Tq > 1 by
 *    hwa_cu_flash_attention (16 queries of one head per block, tiles of 32
 *    keys and values in shared memory, online softmax, causal mask, GQA);
 *    Tq == 1 (decode) by hwa_cu_attn_split_k over chunks of keys, then
 *    hwa_cu_attn_combine per (batch, head).
 * Declined: the backward ops, mixed dtypes, rows or heads whose last dim is
 * strided, heads wider than 256, flash attention where the device's shared
 * memory per block is smaller than it needs (D = Dv = 256: 84 KiB).
 *
 * The attention kernels run on CUDA cores (f32 FMA), not tensor cores.
 *
 * Compiled by nvcc 13 for sm_80 and sm_90, and run on the CPU by
 * tests/test_cuda_fast_emu.cpp through an emulation of the CUDA features
 * used here; it has not yet run on a GPU (the machine it was written on has
 * none). */
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "core/ops_list.h"
#include "backends/gpu/kernels/hwa_gpu.h"
#include "backends/cuda/cuda_fast_kernels.h"

/* Seams for tests/test_cuda_fast_emu.cpp, which runs these kernels on the
 * CPU through an emulation of the CUDA features they use (its
 * cuda_runtime.h defines both). */
#ifndef HWA_CU_LAUNCH
#define HWA_CU_LAUNCH(kernel, grid, block, smem, stream, arg) kernel<<<grid, block, smem, stream>>>(arg)
#endif
#ifndef HWA_CU_DYNAMIC_SHARED
#define HWA_CU_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

static_assert(HWA__CU_F32 == HWA_K_F32 && HWA__CU_F16 == HWA_K_F16 && HWA__CU_BF16 == HWA_K_BF16,
              "the launchers' dtype codes are the kernels'");

namespace {

constexpr unsigned FULL = 0xffffffffu;

/* Loads and stores through f32 with the portable kernels' conversions
 * (hwa_gpu.h); DT is a constant, so the dtype dispatch folds away. */
template <int DT> __device__ __forceinline__ float ld(const void *p, int64_t i) {
    return hwa_ld(static_cast<const char *>(p), DT, i);
}
template <int DT> __device__ __forceinline__ void st(void *p, int64_t i, float v) {
    hwa_st(static_cast<char *>(p), DT, i, v);
}

/* Butterfly reductions: every lane ends with the same bits, because each
 * step adds (or compares) the same two values on both lanes of a pair. */
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL, v, o));
    return v;
}

/* Over the whole block (a multiple of 32 threads) through shm[32]; every
 * thread gets the same result. The first barrier keeps the previous call's
 * readers of shm ahead of this call's writers. */
__device__ __forceinline__ float block_reduce(float v, bool max, float *shm) {
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = max ? warp_max(v) : warp_sum(v);
    __syncthreads();
    if (lane == 0) shm[w] = v;
    __syncthreads();
    const float r = lane < nw ? shm[lane] : max ? -INFINITY : 0.0f;
    return max ? warp_max(r) : warp_sum(r);
}

/* ---- row ops ------------------------------------------------------------- */

constexpr int ROW_WARPS = 4;    /* rows per block of the warp kernel */
constexpr int ROW_BLOCK = 512;  /* threads per row of the block kernel */

/* Element offsets of row r's first element in x and y. */
__device__ __forceinline__ void row_offsets(const hwa__cu_rows &a, int64_t r, int64_t *xo, int64_t *yo) {
    const int64_t i2 = r % a.ne2, i01 = r / a.ne2, i1 = i01 % a.ne1, i0 = i01 / a.ne1;
    *xo = i0 * a.xs[0] + i1 * a.xs[1] + i2 * a.xs[2];
    *yo = i0 * a.ys[0] + i1 * a.ys[1] + i2 * a.ys[2];
}

/* One warp per row of n <= 32 * VPT elements: lane l holds elements
 * l, l + 32, ... in v, so the row is read once and written once. */
template <int DT, int VPT>
__global__ void __launch_bounds__(32 * ROW_WARPS) hwa_cu_rows_warp(hwa__cu_rows a) {
    const int64_t r = (int64_t)blockIdx.x * ROW_WARPS + threadIdx.y;
    if (r >= a.rows) return; /* the whole warp: r is the warp's */
    const int lane = threadIdx.x, n = (int)a.n;
    int64_t xo, yo;
    row_offsets(a, r, &xo, &yo);
    float v[VPT];
#pragma unroll
    for (int e = 0; e < VPT; e++) {
        const int j = lane + 32 * e;
        v[e] = j < n ? ld<DT>(a.x, xo + j) : 0.0f;
    }
    const float fn = (float)n;
    if (a.op == HWA__CU_SOFTMAX || a.op == HWA__CU_LOG_SOFTMAX) {
        float m = -INFINITY;
#pragma unroll
        for (int e = 0; e < VPT; e++)
            if (lane + 32 * e < n) m = fmaxf(m, v[e]);
        m = warp_max(m);
        float s = 0.0f;
#pragma unroll
        for (int e = 0; e < VPT; e++)
            if (lane + 32 * e < n) {
                v[e] -= m;
                s += expf(v[e]);
            }
        s = warp_sum(s);
        const float inv = 1.0f / s, ls = logf(s);
#pragma unroll
        for (int e = 0; e < VPT; e++) {
            const int j = lane + 32 * e;
            if (j < n) st<DT>(a.y, yo + j, a.op == HWA__CU_SOFTMAX ? expf(v[e]) * inv : v[e] - ls);
        }
    } else if (a.op == HWA__CU_NORM) { /* two passes for the variance (no cancellation) */
        float s = 0.0f;
#pragma unroll
        for (int e = 0; e < VPT; e++) s += v[e]; /* lanes past n hold 0 */
        const float mean = warp_sum(s) / fn;
        float q = 0.0f;
#pragma unroll
        for (int e = 0; e < VPT; e++)
            if (lane + 32 * e < n) {
                v[e] -= mean;
                q += v[e] * v[e];
            }
        const float rs = 1.0f / sqrtf(warp_sum(q) / fn + a.eps);
#pragma unroll
        for (int e = 0; e < VPT; e++) {
            const int j = lane + 32 * e;
            if (j < n) st<DT>(a.y, yo + j, v[e] * rs);
        }
    } else { /* RMS_NORM */
        float q = 0.0f;
#pragma unroll
        for (int e = 0; e < VPT; e++) q += v[e] * v[e];
        const float rs = 1.0f / sqrtf(warp_sum(q) / fn + a.eps);
#pragma unroll
        for (int e = 0; e < VPT; e++) {
            const int j = lane + 32 * e;
            if (j < n) st<DT>(a.y, yo + j, v[e] * rs);
        }
    }
}

/* One block per row of any width: each pass strides over the row in global
 * memory (L1/L2 keep it between passes); the last pass reads and writes
 * element j in the same thread, so y may be x. */
template <int DT>
__global__ void __launch_bounds__(ROW_BLOCK) hwa_cu_rows_block(hwa__cu_rows a) {
    __shared__ float shm[32];
    const int64_t n = a.n, t = threadIdx.x, step = blockDim.x;
    int64_t xo, yo;
    row_offsets(a, blockIdx.x, &xo, &yo);
    const float fn = (float)n;
    if (a.op == HWA__CU_SOFTMAX || a.op == HWA__CU_LOG_SOFTMAX) {
        float m = -INFINITY;
        for (int64_t j = t; j < n; j += step) m = fmaxf(m, ld<DT>(a.x, xo + j));
        m = block_reduce(m, true, shm);
        float s = 0.0f;
        for (int64_t j = t; j < n; j += step) s += expf(ld<DT>(a.x, xo + j) - m);
        s = block_reduce(s, false, shm);
        const float inv = 1.0f / s, ls = logf(s);
        for (int64_t j = t; j < n; j += step) {
            const float c = ld<DT>(a.x, xo + j) - m;
            st<DT>(a.y, yo + j, a.op == HWA__CU_SOFTMAX ? expf(c) * inv : c - ls);
        }
    } else if (a.op == HWA__CU_NORM) {
        float s = 0.0f;
        for (int64_t j = t; j < n; j += step) s += ld<DT>(a.x, xo + j);
        const float mean = block_reduce(s, false, shm) / fn;
        float q = 0.0f;
        for (int64_t j = t; j < n; j += step) {
            const float c = ld<DT>(a.x, xo + j) - mean;
            q += c * c;
        }
        const float rs = 1.0f / sqrtf(block_reduce(q, false, shm) / fn + a.eps);
        for (int64_t j = t; j < n; j += step) st<DT>(a.y, yo + j, (ld<DT>(a.x, xo + j) - mean) * rs);
    } else { /* RMS_NORM */
        float q = 0.0f;
        for (int64_t j = t; j < n; j += step) {
            const float c = ld<DT>(a.x, xo + j);
            q += c * c;
        }
        const float rs = 1.0f / sqrtf(block_reduce(q, false, shm) / fn + a.eps);
        for (int64_t j = t; j < n; j += step) st<DT>(a.y, yo + j, ld<DT>(a.x, xo + j) * rs);
    }
}

template <int DT> cudaError_t rows_launch(const hwa__cu_rows &a, cudaStream_t s, const char **kernel) {
    if (a.n > HWA__CU_WARP_ROW_MAX) {
        *kernel = "hwa_cu_rows_block";
        HWA_CU_LAUNCH(hwa_cu_rows_block<DT>, (unsigned)a.rows, ROW_BLOCK, 0, s, a);
        return cudaGetLastError();
    }
    void (*k)(hwa__cu_rows) = a.n <= 32    ? hwa_cu_rows_warp<DT, 1>
                              : a.n <= 64  ? hwa_cu_rows_warp<DT, 2>
                              : a.n <= 128 ? hwa_cu_rows_warp<DT, 4>
                              : a.n <= 256 ? hwa_cu_rows_warp<DT, 8>
                              : a.n <= 512 ? hwa_cu_rows_warp<DT, 16>
                                           : hwa_cu_rows_warp<DT, 32>;
    static_assert(32 * 32 == HWA__CU_WARP_ROW_MAX, "the widest warp kernel holds HWA__CU_WARP_ROW_MAX elements");
    *kernel = "hwa_cu_rows_warp";
    const unsigned blocks = (unsigned)((a.rows + ROW_WARPS - 1) / ROW_WARPS);
    HWA_CU_LAUNCH(k, blocks, dim3(32, ROW_WARPS), 0, s, a);
    return cudaGetLastError();
}

/* ---- attention ----------------------------------------------------------- */

/* How many keys query i sees (as hwa_attn_seen of the portable kernels). */
__device__ __forceinline__ int64_t attn_seen(int64_t Tq, int64_t Tk, int64_t i, int causal) {
    const int64_t n = causal ? Tk - Tq + i + 1 : Tk;
    return n < 0 ? 0 : n > Tk ? Tk : n;
}

/* One step of the online softmax: the running max m becomes max(m, mt);
 * returns the factor that rescales what was summed under the old max (1
 * while the max is still -inf, so that no -inf - -inf makes a NaN). */
__device__ __forceinline__ float online_rescale(float &m, float mt) {
    const float mn = fmaxf(m, mt);
    const float alpha = mn == -INFINITY ? 1.0f : expf(m - mn);
    m = mn;
    return alpha;
}

/* exp(s - m) of a key that is seen, 0 for one that is not. */
__device__ __forceinline__ float online_p(bool seen, float s, float m) {
    return seen && m != -INFINITY ? expf(s - m) : 0.0f;
}

constexpr int FA_WARPS = 8;                /* warps per block */
constexpr int FA_QPW = 2;                  /* queries per warp */
constexpr int FA_BQ = FA_WARPS * FA_QPW;   /* queries per block */
constexpr int FA_BK = 32;                  /* keys per tile: one per lane */

/* Shared memory of one flash block, in floats: the key tile (rows padded
 * to D + 1 so that the 32 lanes, one key each, read 32 banks), the value
 * tile, the block's queries, and each query's probabilities of the tile. */
__host__ __device__ constexpr int64_t flash_floats(int64_t D, int64_t Dv) {
    return FA_BK * (D + 1) + FA_BK * Dv + FA_BQ * D + FA_BQ * FA_BK;
}

/* Block (query block qb, head h, batch b): warp w owns queries
 * q0 + w * FA_QPW + r (r < FA_QPW), with its running max m, its lanes'
 * partial sums l and output columns lane + 32 d in registers. Per tile,
 * lane j scores key j0 + j against the warp's queries, then every lane
 * adds the tile's probabilities times its columns of the values, in key
 * order. */
template <int DT, int DVL>
__global__ void __launch_bounds__(32 * FA_WARPS) hwa_cu_flash_attention(hwa__cu_attn a) {
    HWA_CU_DYNAMIC_SHARED(float, smem);
    const int D = (int)a.D, Dv = (int)a.Dv, kst = D + 1;
    float *ks = smem, *vs = ks + FA_BK * kst, *qsm = vs + FA_BK * Dv, *ps = qsm + FA_BQ * D;
    const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5;
    const int64_t nqb = (a.Tq + FA_BQ - 1) / FA_BQ;
    const int64_t qb = blockIdx.x % nqb, bh = blockIdx.x / nqb, h = bh % a.Hq, b = bh / a.Hq;
    const int64_t kh = h / (a.Hq / a.Hkv), q0 = qb * FA_BQ;
    const int64_t kbase = b * a.ks[0] + kh * a.ks[1], vbase = b * a.vs[0] + kh * a.vs[1];

    for (int e = tid; e < FA_BQ * D; e += blockDim.x) {
        const int r = e / D, c = e - r * D;
        const int64_t i = q0 + r;
        qsm[e] = i < a.Tq ? ld<DT>(a.q, b * a.qs[0] + h * a.qs[1] + i * a.qs[2] + c) : 0.0f;
    }
    /* the keys the block's last query sees: the most any of them sees */
    const int64_t qlast = (q0 + FA_BQ < a.Tq ? q0 + FA_BQ : a.Tq) - 1;
    const int64_t kend = attn_seen(a.Tq, a.Tk, qlast, a.causal);

    float m[FA_QPW], l[FA_QPW], o[FA_QPW][DVL];
    int64_t seen[FA_QPW];
#pragma unroll
    for (int r = 0; r < FA_QPW; r++) {
        const int64_t i = q0 + w * FA_QPW + r;
        seen[r] = i < a.Tq ? attn_seen(a.Tq, a.Tk, i, a.causal) : 0;
        m[r] = -INFINITY;
        l[r] = 0.0f;
#pragma unroll
        for (int d = 0; d < DVL; d++) o[r][d] = 0.0f;
    }
    const float *qw = qsm + w * FA_QPW * D, *kr = ks + lane * kst;
    float *pw = ps + w * FA_QPW * FA_BK;

    for (int64_t j0 = 0; j0 < kend; j0 += FA_BK) {
        const int nj = (int)(kend - j0 < FA_BK ? kend - j0 : FA_BK);
        __syncthreads(); /* the queries are staged; nobody reads the previous tile */
        for (int e = tid; e < FA_BK * D; e += blockDim.x) {
            const int jj = e / D, c = e - jj * D;
            ks[jj * kst + c] = jj < nj ? ld<DT>(a.k, kbase + (j0 + jj) * a.ks[2] + c) : 0.0f;
        }
        for (int e = tid; e < FA_BK * Dv; e += blockDim.x) {
            const int jj = e / Dv, c = e - jj * Dv;
            vs[e] = jj < nj ? ld<DT>(a.v, vbase + (j0 + jj) * a.vs[2] + c) : 0.0f;
        }
        __syncthreads();

        float dot[FA_QPW];
#pragma unroll
        for (int r = 0; r < FA_QPW; r++) dot[r] = 0.0f;
        for (int c = 0; c < D; c++) {
            const float kc = kr[c];
#pragma unroll
            for (int r = 0; r < FA_QPW; r++) dot[r] += qw[r * D + c] * kc;
        }
        const int64_t j = j0 + lane;
#pragma unroll
        for (int r = 0; r < FA_QPW; r++) {
            const bool ok = j < seen[r];
            const float s = ok ? a.scale * dot[r] : -INFINITY;
            const float alpha = online_rescale(m[r], warp_max(s));
            const float p = online_p(ok, s, m[r]);
            l[r] = l[r] * alpha + p;
            pw[r * FA_BK + lane] = p;
#pragma unroll
            for (int d = 0; d < DVL; d++) o[r][d] *= alpha;
        }
        __syncwarp();
        for (int jj = 0; jj < nj; jj++) {
            float pj[FA_QPW];
#pragma unroll
            for (int r = 0; r < FA_QPW; r++) pj[r] = pw[r * FA_BK + jj];
#pragma unroll
            for (int d = 0; d < DVL; d++) {
                const int c = lane + 32 * d;
                if (c < Dv) {
                    const float vc = vs[jj * Dv + c];
#pragma unroll
                    for (int r = 0; r < FA_QPW; r++) o[r][d] += pj[r] * vc;
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < FA_QPW; r++) {
        const float total = warp_sum(l[r]);
        const int64_t i = q0 + w * FA_QPW + r;
        if (i >= a.Tq) continue;
        const int64_t oo = b * a.os[0] + h * a.os[1] + i * a.os[2];
#pragma unroll
        for (int d = 0; d < DVL; d++) {
            const int c = lane + 32 * d;
            if (c < Dv) st<DT>(a.o, oo + c, seen[r] > 0 ? o[r][d] / total : 0.0f);
        }
    }
}

constexpr int SK_WARPS = 4;        /* warps per split block */
constexpr int SK_KPI = 4;          /* keys a warp scores at once (independent loads) */
constexpr int SK_COMBINE = 128;    /* threads of a combining block */

/* Block (chunk sp of the keys, query row (b, h)): warp w takes keys
 * j, ..., j + SK_KPI - 1 for j = begin + w * SK_KPI, stepping by
 * SK_WARPS * SK_KPI; its lanes split each dot product over D and own the
 * output columns lane + 32 d, so a warp's running max, sum and output are
 * the same on every lane. The block's warps are then merged into one
 * partial: part[(row * n_split + sp) * (Dv + 2) + {0, 1, 2 + c}] = max, sum,
 * output column c (not yet divided by the sum). */
template <int DT, int DVL>
__global__ void __launch_bounds__(32 * SK_WARPS) hwa_cu_attn_split_k(hwa__cu_attn a) {
    __shared__ float qsm[HWA__CU_ATT_MAX_D];
    __shared__ float wm[SK_WARPS], wl[SK_WARPS];
    __shared__ float wo[SK_WARPS][HWA__CU_ATT_MAX_D];
    const int D = (int)a.D, Dv = (int)a.Dv, tid = threadIdx.x, lane = tid & 31, w = tid >> 5;
    const int64_t row = blockIdx.x / a.n_split, sp = blockIdx.x % a.n_split, h = row % a.Hq, b = row / a.Hq;
    const int64_t kh = h / (a.Hq / a.Hkv);
    const int64_t kbase = b * a.ks[0] + kh * a.ks[1], vbase = b * a.vs[0] + kh * a.vs[1];
    const int64_t begin = sp * a.chunk, end = begin + a.chunk < a.Tk ? begin + a.chunk : a.Tk;
    for (int c = tid; c < D; c += blockDim.x) qsm[c] = ld<DT>(a.q, b * a.qs[0] + h * a.qs[1] + c);
    __syncthreads();

    float m = -INFINITY, l = 0.0f, o[DVL];
#pragma unroll
    for (int d = 0; d < DVL; d++) o[d] = 0.0f;
    for (int64_t j = begin + w * SK_KPI; j < end; j += SK_WARPS * SK_KPI) {
        float s[SK_KPI];
#pragma unroll
        for (int u = 0; u < SK_KPI; u++) {
            float part = 0.0f;
            if (j + u < end)
                for (int c = lane; c < D; c += 32) part += qsm[c] * ld<DT>(a.k, kbase + (j + u) * a.ks[2] + c);
            s[u] = part;
        }
        float mt = -INFINITY;
#pragma unroll
        for (int u = 0; u < SK_KPI; u++) {
            s[u] = j + u < end ? a.scale * warp_sum(s[u]) : -INFINITY;
            mt = fmaxf(mt, s[u]);
        }
        const float alpha = online_rescale(m, mt);
        l *= alpha;
#pragma unroll
        for (int d = 0; d < DVL; d++) o[d] *= alpha;
#pragma unroll
        for (int u = 0; u < SK_KPI; u++) {
            if (j + u >= end) continue;
            const float p = online_p(true, s[u], m);
            l += p;
#pragma unroll
            for (int d = 0; d < DVL; d++) {
                const int c = lane + 32 * d;
                if (c < Dv) o[d] += p * ld<DT>(a.v, vbase + (j + u) * a.vs[2] + c);
            }
        }
    }
    if (lane == 0) {
        wm[w] = m;
        wl[w] = l;
    }
#pragma unroll
    for (int d = 0; d < DVL; d++) {
        const int c = lane + 32 * d;
        if (c < Dv) wo[w][c] = o[d];
    }
    __syncthreads();
    float mx = -INFINITY, f[SK_WARPS], sum = 0.0f;
#pragma unroll
    for (int x = 0; x < SK_WARPS; x++) mx = fmaxf(mx, wm[x]);
#pragma unroll
    for (int x = 0; x < SK_WARPS; x++) {
        f[x] = wm[x] == -INFINITY ? 0.0f : expf(wm[x] - mx);
        sum += wl[x] * f[x];
    }
    float *out = a.part + (row * a.n_split + sp) * (a.Dv + 2);
    if (tid == 0) {
        out[0] = mx;
        out[1] = sum;
    }
    for (int c = tid; c < Dv; c += blockDim.x) {
        float acc = 0.0f;
#pragma unroll
        for (int x = 0; x < SK_WARPS; x++) acc += wo[x][c] * f[x];
        out[2 + c] = acc;
    }
}

/* Block (b, h): the chunks' partials merged under their common max, the
 * output divided by the merged sum. */
template <int DT>
__global__ void __launch_bounds__(SK_COMBINE) hwa_cu_attn_combine(hwa__cu_attn a) {
    __shared__ float f[HWA__CU_SPLIT_MAX];
    const int64_t row = blockIdx.x, h = row % a.Hq, b = row / a.Hq, w = a.Dv + 2;
    const int ns = a.n_split, tid = threadIdx.x;
    const float *p = a.part + row * ns * w;
    float mx = -INFINITY;
    for (int s = 0; s < ns; s++) mx = fmaxf(mx, p[s * w]);
    for (int s = tid; s < ns; s += blockDim.x) f[s] = p[s * w] == -INFINITY ? 0.0f : expf(p[s * w] - mx);
    __syncthreads();
    float sum = 0.0f;
    for (int s = 0; s < ns; s++) sum += p[s * w + 1] * f[s];
    const int64_t oo = b * a.os[0] + h * a.os[1];
    for (int64_t c = tid; c < a.Dv; c += blockDim.x) {
        float acc = 0.0f;
        for (int s = 0; s < ns; s++) acc += p[s * w + 2 + c] * f[s];
        st<DT>(a.o, oo + c, sum > 0.0f ? acc / sum : 0.0f);
    }
}

/* The kernel instances for heads of Dv columns: DVL = ceil(Dv / 32)
 * columns per lane, rounded up to a power of two. */
static_assert(32 * 8 == HWA__CU_ATT_MAX_D, "the widest instances hold HWA__CU_ATT_MAX_D columns");
template <int DT> void (*flash_of(int64_t Dv))(hwa__cu_attn) {
    return Dv <= 32    ? hwa_cu_flash_attention<DT, 1>
           : Dv <= 64  ? hwa_cu_flash_attention<DT, 2>
           : Dv <= 128 ? hwa_cu_flash_attention<DT, 4>
                       : hwa_cu_flash_attention<DT, 8>;
}
template <int DT> void (*split_of(int64_t Dv))(hwa__cu_attn) {
    return Dv <= 32    ? hwa_cu_attn_split_k<DT, 1>
           : Dv <= 64  ? hwa_cu_attn_split_k<DT, 2>
           : Dv <= 128 ? hwa_cu_attn_split_k<DT, 4>
                       : hwa_cu_attn_split_k<DT, 8>;
}

template <int DT> cudaError_t flash_launch(const hwa__cu_attn &a, cudaStream_t s, const char **kernel) {
    void (*k)(hwa__cu_attn) = flash_of<DT>(a.Dv);
    const size_t smem = hwa__cu_flash_smem(a.D, a.Dv);
    *kernel = "hwa_cu_flash_attention";
    const int64_t blocks = (a.Tq + FA_BQ - 1) / FA_BQ * a.Hq * a.B;
    HWA_CU_LAUNCH(k, (unsigned)blocks, 32 * FA_WARPS, smem, s, a);
    return cudaGetLastError();
}

template <int DT> cudaError_t splitk_launch(const hwa__cu_attn &a, cudaStream_t s, const char **kernel) {
    *kernel = "hwa_cu_attn_split_k";
    HWA_CU_LAUNCH(split_of<DT>(a.Dv), (unsigned)(a.B * a.Hq * a.n_split), 32 * SK_WARPS, 0, s, a);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
    *kernel = "hwa_cu_attn_combine";
    HWA_CU_LAUNCH(hwa_cu_attn_combine<DT>, (unsigned)(a.B * a.Hq), SK_COMBINE, 0, s, a);
    return cudaGetLastError();
}

/* Lets every flash instance of dtype DT have the shared memory its widest
 * heads take (D = HWA__CU_ATT_MAX_D), or cap if less: the default is
 * 48 KiB. */
template <int DT> cudaError_t flash_opt_in(size_t cap) {
    for (int64_t dv = 32; dv <= HWA__CU_ATT_MAX_D; dv *= 2) {
        const size_t want = hwa__cu_flash_smem(HWA__CU_ATT_MAX_D, dv), n = want < cap ? want : cap;
        if (n <= 48 * 1024) continue;
        const cudaError_t e = cudaFuncSetAttribute(flash_of<DT>(dv), cudaFuncAttributeMaxDynamicSharedMemorySize, (int)n);
        if (e != cudaSuccess) return e;
    }
    return cudaSuccess;
}

/* Loads every kernel of dtype DT now (CUDA loads modules lazily, at a
 * kernel's first use, which may otherwise fall inside a stream capture),
 * and lets the flash instances have their shared memory. */
template <int DT> cudaError_t kernels_init(size_t smem_cap, const char **kernel) {
    void (*const rows[])(hwa__cu_rows) = {hwa_cu_rows_warp<DT, 1>,  hwa_cu_rows_warp<DT, 2>,
                                          hwa_cu_rows_warp<DT, 4>,  hwa_cu_rows_warp<DT, 8>,
                                          hwa_cu_rows_warp<DT, 16>, hwa_cu_rows_warp<DT, 32>,
                                          hwa_cu_rows_block<DT>};
    cudaFuncAttributes fa;
    *kernel = "hwa_cu_rows_warp";
    for (auto k : rows)
        if (const cudaError_t e = cudaFuncGetAttributes(&fa, k)) return e;
    void (*const attn[])(hwa__cu_attn) = {flash_of<DT>(32),  flash_of<DT>(64),  flash_of<DT>(128),
                                          flash_of<DT>(256), split_of<DT>(32),  split_of<DT>(64),
                                          split_of<DT>(128), split_of<DT>(256), hwa_cu_attn_combine<DT>};
    *kernel = "hwa_cu_flash_attention";
    for (auto k : attn)
        if (const cudaError_t e = cudaFuncGetAttributes(&fa, k)) return e;
    return flash_opt_in<DT>(smem_cap);
}

} // namespace

/* ---- launchers (cuda_fast_kernels.h) ------------------------------------- */

extern "C" int hwa__cu_rows_launch(const hwa__cu_rows *a, void *stream, const char **kernel) {
    const cudaStream_t s = static_cast<cudaStream_t>(stream);
    switch (a->dt) {
    case HWA__CU_F32: return (int)rows_launch<HWA_K_F32>(*a, s, kernel);
    case HWA__CU_F16: return (int)rows_launch<HWA_K_F16>(*a, s, kernel);
    default: return (int)rows_launch<HWA_K_BF16>(*a, s, kernel);
    }
}

extern "C" int hwa__cu_kernels_init(size_t smem_cap, const char **kernel) {
    cudaError_t e = kernels_init<HWA_K_F32>(smem_cap, kernel);
    if (e == cudaSuccess) e = kernels_init<HWA_K_F16>(smem_cap, kernel);
    if (e == cudaSuccess) e = kernels_init<HWA_K_BF16>(smem_cap, kernel);
    return (int)e;
}

extern "C" size_t hwa__cu_flash_smem(int64_t D, int64_t Dv) {
    return (size_t)flash_floats(D, Dv) * sizeof(float);
}

extern "C" int hwa__cu_flash_queries(void) { return FA_BQ; }

extern "C" int hwa__cu_flash_attention(const hwa__cu_attn *a, void *stream, const char **kernel) {
    const cudaStream_t s = static_cast<cudaStream_t>(stream);
    switch (a->dt) {
    case HWA__CU_F32: return (int)flash_launch<HWA_K_F32>(*a, s, kernel);
    case HWA__CU_F16: return (int)flash_launch<HWA_K_F16>(*a, s, kernel);
    default: return (int)flash_launch<HWA_K_BF16>(*a, s, kernel);
    }
}

extern "C" int hwa__cu_attention_splitk(const hwa__cu_attn *a, void *stream, const char **kernel) {
    const cudaStream_t s = static_cast<cudaStream_t>(stream);
    if (a->n_split < 1 || a->n_split > HWA__CU_SPLIT_MAX) {
        *kernel = "hwa_cu_attn_split_k";
        return (int)cudaErrorInvalidValue;
    }
    switch (a->dt) {
    case HWA__CU_F32: return (int)splitk_launch<HWA_K_F32>(*a, s, kernel);
    case HWA__CU_F16: return (int)splitk_launch<HWA_K_F16>(*a, s, kernel);
    default: return (int)splitk_launch<HWA_K_BF16>(*a, s, kernel);
    }
}
