/* The C side of bench/cuda.sh's GEMM row: hwadapt's cuda:0 against a direct
 * cuBLASLt call on the same GPU, in one process. hwadapt computes a graph of
 * one MATMUL node on bf16 tensors; the peer is cublasLtMatmul with the
 * heuristic's first algorithm and a 32 MiB workspace, as a cuBLASLt client
 * would call it. Both products are checked (sampled entries against double
 * dot products of the same bf16 inputs, and the two results against each
 * other) before anything is timed; then the sides run interleaved, one visit
 * of each per round, and the rows give the median, min and max of the
 * rounds:
 *   case <TAB> impl <TAB> median_ms <TAB> min_ms <TAB> max_ms <TAB> work <TAB> unit <TAB> max_abs_err <TAB> kernel
 * (work / median is the rate, in TFLOP). A visit runs `inner` products back
 * to back and waits for them; its time per product is the wall time over
 * inner (hwadapt's side, and the peer's "wall" row, timed alike) or, for the
 * peer's "events" row, cudaEvents around the same products (GPU time only).
 *   cuda_bench gemm [N] [quick]     N defaults to 8192 (quick: 2048, few rounds)
 *   cuda_bench props                GPU 0's name, peak memory clock (kHz) and bus
 *                                   width (bits) as the driver gives them, and the
 *                                   memory bandwidth they make (GB/s: two transfers
 *                                   a clock, DDR), tab-separated on one line
 * This binary links cuBLASLt and the CUDA runtime directly (the peer's way);
 * the hwadapt side opens its CUDA module at run time like any hwadapt
 * program. Without a usable GPU it stops at once with the reason (exit 2). */
#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "hwadapt/hwadapt.h"

static void die(const char *what, const char *why) {
    fprintf(stderr, "cuda_bench: %s: %s\n", what, why);
    exit(1);
}

#define CUDA_OK(call)                                                           \
    do {                                                                        \
        cudaError_t rc_ = (call);                                               \
        if (rc_ != cudaSuccess) die(#call, cudaGetErrorString(rc_));            \
    } while (0)

#define LT_OK(call)                                                             \
    do {                                                                        \
        cublasStatus_t rc_ = (call);                                            \
        if (rc_ != CUBLAS_STATUS_SUCCESS) {                                     \
            char b_[48];                                                        \
            snprintf(b_, sizeof b_, "cublasStatus %d", (int)rc_);               \
            die(#call, b_);                                                     \
        }                                                                       \
    } while (0)

/* bf16 by round-to-nearest-even (the inputs are finite), and back. */
static uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float from_bf16(uint16_t h) {
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Values uniform in [-1, 1) from seed, already rounded to bf16 (so that
 * both sides and the double reference see the same numbers); bits gets
 * their bf16 encodings. */
static void fill(float *p, uint16_t *bits, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        bits[i] = to_bf16((float)(seed >> 8) / 8388608.0f - 1.0f);
        p[i] = from_bf16(bits[i]);
    }
}

/* ---- the sides of the comparison -------------------------------------------- */

typedef struct side {
    const char *impl;
    double (*run)(void *, int inner); /* ms per product: wall, or GPU time by events */
    void *arg;
    double err;
    const char *kernel;
    double t[64];
} side;

/* A warm-up visit of each side, then rounds rounds of one visit each;
 * prints one row per side. */
static void interleaved(const char *cas, side *s, int n, int rounds, int inner, double work) {
    if (rounds > 64) rounds = 64;
    for (int i = 0; i < n; i++) s[i].run(s[i].arg, inner);
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++) s[i].t[r] = s[i].run(s[i].arg, inner);
    for (int i = 0; i < n; i++) {
        double sorted[64];
        memcpy(sorted, s[i].t, sizeof(double) * (size_t)rounds);
        const double med = bench_median(sorted, rounds);
        printf("%s\t%s\t%.4f\t%.4f\t%.4f\t%.6g\tTFLOP\t%.3g\t%s\n", cas, s[i].impl, med, sorted[0], sorted[rounds - 1],
               work, s[i].err, s[i].kernel);
    }
    fflush(stdout);
}

/* ---- hwadapt: one MATMUL node on cuda:0 --------------------------------------- */

typedef struct hw_side {
    hwa_ctx *ctx;
    hwa_backend *be;
    hwa_graph *g;
    hwa_tensor *a, *b, *c;
} hw_side;

static void hw_check(hwa_ctx *ctx, hwa_status st, const char *what) {
    if (st) die(what, hwa_ctx_last_error(ctx));
}

static double hw_run(void *arg, int inner) {
    hw_side *h = arg;
    const double t0 = bench_now_s();
    for (int i = 0; i < inner; i++) hw_check(h->ctx, hwa_graph_compute(h->g, h->be), "hwa_graph_compute");
    hw_check(h->ctx, hwa_backend_synchronize(h->be), "hwa_backend_synchronize");
    return (bench_now_s() - t0) * 1e3 / inner;
}

/* C [n, n] = A [n, n] B [n, n], every tensor bf16, rows contiguous. */
static void hw_make(hw_side *h, int64_t n, const float *a, const float *b) {
    h->ctx = hwa_ctx_new(NULL);
    if (!h->ctx) die("hwa_ctx_new", hwa_last_error());
    h->be = hwa_backend_new(h->ctx, "cuda:0");
    if (!h->be) die("cuda:0", hwa_ctx_last_error(h->ctx));
    h->g = hwa_graph_new(h->ctx);
    h->a = hwa_tensor_new_2d(h->ctx, HWA_BF16, n, n);
    h->b = hwa_tensor_new_2d(h->ctx, HWA_BF16, n, n);
    h->c = h->a && h->b ? hwa_matmul_ex(h->ctx, h->a, h->b, false, false) : NULL;
    hw_check(h->ctx, h->c && h->g ? hwa_graph_build_forward(h->g, h->c) : hwa_ctx_last_status(h->ctx), "gemm graph");
    hw_check(h->ctx, hwa_ctx_alloc_leaves(h->ctx, h->be), "gemm alloc");
    hw_check(h->ctx, hwa_tensor_set_f32(h->a, a, n * n), "gemm set A");
    hw_check(h->ctx, hwa_tensor_set_f32(h->b, b, n * n), "gemm set B");
}

/* ---- the peer: cublasLtMatmul ---------------------------------------------------- */

#define WORKSPACE_BYTES ((size_t)32 << 20)

typedef struct lt_side {
    cublasLtHandle_t lt;
    cudaStream_t stream;
    cudaEvent_t e0, e1;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
    void *a, *b, *c, *ws; /* device memory: A, B, C as bf16, the workspace */
} lt_side;

static void lt_enqueue(lt_side *l, int inner) {
    const float one = 1.0f, zero = 0.0f;
    /* column-major cuBLASLt computes C^T = B^T A^T: the row-major B is its
     * first operand (see lt_make) */
    for (int i = 0; i < inner; i++)
        LT_OK(cublasLtMatmul(l->lt, l->desc, &one, l->b, l->la, l->a, l->lb, &zero, l->c, l->lc, l->c, l->lc, &l->algo,
                             l->ws, WORKSPACE_BYTES, l->stream));
}

static double lt_run_wall(void *arg, int inner) {
    lt_side *l = arg;
    const double t0 = bench_now_s();
    lt_enqueue(l, inner);
    CUDA_OK(cudaStreamSynchronize(l->stream));
    return (bench_now_s() - t0) * 1e3 / inner;
}

static double lt_run_events(void *arg, int inner) {
    lt_side *l = arg;
    float ms = 0;
    CUDA_OK(cudaEventRecord(l->e0, l->stream));
    lt_enqueue(l, inner);
    CUDA_OK(cudaEventRecord(l->e1, l->stream));
    CUDA_OK(cudaEventSynchronize(l->e1));
    CUDA_OK(cudaEventElapsedTime(&ms, l->e0, l->e1));
    return (double)ms / inner;
}

/* Row-major C [n, n] = A B is, read column-major, C^T = B^T A^T: an
 * (n x n) by (n x n) product whose first operand is B's memory, its second
 * A's, all with leading dimension n, no transposes. */
static void lt_make(lt_side *l, int64_t n, const uint16_t *a, const uint16_t *b) {
    const size_t bytes = (size_t)(n * n) * 2;
    LT_OK(cublasLtCreate(&l->lt));
    CUDA_OK(cudaStreamCreateWithFlags(&l->stream, cudaStreamNonBlocking));
    CUDA_OK(cudaEventCreate(&l->e0));
    CUDA_OK(cudaEventCreate(&l->e1));
    CUDA_OK(cudaMalloc(&l->a, bytes));
    CUDA_OK(cudaMalloc(&l->b, bytes));
    CUDA_OK(cudaMalloc(&l->c, bytes));
    CUDA_OK(cudaMalloc(&l->ws, WORKSPACE_BYTES));
    CUDA_OK(cudaMemcpy(l->a, a, bytes, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(l->b, b, bytes, cudaMemcpyHostToDevice));
    LT_OK(cublasLtMatmulDescCreate(&l->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t no = CUBLAS_OP_N;
    LT_OK(cublasLtMatmulDescSetAttribute(l->desc, CUBLASLT_MATMUL_DESC_TRANSA, &no, sizeof no));
    LT_OK(cublasLtMatmulDescSetAttribute(l->desc, CUBLASLT_MATMUL_DESC_TRANSB, &no, sizeof no));
    LT_OK(cublasLtMatrixLayoutCreate(&l->la, CUDA_R_16BF, (uint64_t)n, (uint64_t)n, n));
    LT_OK(cublasLtMatrixLayoutCreate(&l->lb, CUDA_R_16BF, (uint64_t)n, (uint64_t)n, n));
    LT_OK(cublasLtMatrixLayoutCreate(&l->lc, CUDA_R_16BF, (uint64_t)n, (uint64_t)n, n));
    cublasLtMatmulPreference_t pref;
    LT_OK(cublasLtMatmulPreferenceCreate(&pref));
    const size_t ws = WORKSPACE_BYTES;
    LT_OK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    cublasLtMatmulHeuristicResult_t heur;
    int found = 0;
    LT_OK(cublasLtMatmulAlgoGetHeuristic(l->lt, l->desc, l->la, l->lb, l->lc, l->lc, pref, 1, &heur, &found));
    cublasLtMatmulPreferenceDestroy(pref);
    if (found < 1) die("cublasLtMatmulAlgoGetHeuristic", "no algorithm for a bf16 product of this shape");
    l->algo = heur.algo;
}

static void lt_free(lt_side *l) {
    cublasLtMatrixLayoutDestroy(l->la);
    cublasLtMatrixLayoutDestroy(l->lb);
    cublasLtMatrixLayoutDestroy(l->lc);
    cublasLtMatmulDescDestroy(l->desc);
    cudaFree(l->a), cudaFree(l->b), cudaFree(l->c), cudaFree(l->ws);
    cudaEventDestroy(l->e0), cudaEventDestroy(l->e1);
    cudaStreamDestroy(l->stream);
    cublasLtDestroy(l->lt);
}

/* ---- GEMM ------------------------------------------------------------------------ */

static void bench_gemm(int64_t n, int rounds, int inner) {
    const size_t nn = (size_t)(n * n);
    float *a = malloc(nn * 4), *b = malloc(nn * 4), *c_hw = malloc(nn * 4), *c_lt = malloc(nn * 4);
    uint16_t *a16 = malloc(nn * 2), *b16 = malloc(nn * 2), *c16 = malloc(nn * 2);
    if (!a || !b || !c_hw || !c_lt || !a16 || !b16 || !c16) die("gemm", "out of host memory");
    fill(a, a16, nn, 1);
    fill(b, b16, nn, 2);

    hw_side h;
    hw_make(&h, n, a, b);
    lt_side l;
    lt_make(&l, n, a16, b16);

    /* validate: one product on each side, read back */
    hw_run(&h, 1);
    hw_check(h.ctx, hwa_tensor_get_f32(h.c, c_hw, (int64_t)nn), "gemm get");
    char kernel[128];
    const char *k = hwa_backend_kernel_name(h.be, h.c);
    snprintf(kernel, sizeof kernel, "%s", k && k[0] ? k : "n/a");
    lt_run_wall(&l, 1);
    CUDA_OK(cudaMemcpy(c16, l.c, nn * 2, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < nn; i++) c_lt[i] = from_bf16(c16[i]);
    /* Sampled entries against double dot products: each side's output is
     * rounded to bf16 (8 significant bits), so an entry may be off by half
     * an ulp of bf16, 2^-9 of its size, plus f32 accumulation error. */
    double err[2] = {0, 0}, worst_rel[2] = {0, 0};
    for (int s = 0; s < 256; s++) {
        const int64_t i = (s * 37 + 3) % n, j = (s * 101 + 7) % n;
        double ref = 0;
        for (int64_t q = 0; q < n; q++) ref += (double)a[i * n + q] * (double)b[q * n + j];
        const double e0 = fabs(c_hw[i * n + j] - ref), e1 = fabs(c_lt[i * n + j] - ref);
        const double tol = fabs(ref) * 0x1p-8 + 1e-3 * sqrt((double)n);
        err[0] = fmax(err[0], e0), err[1] = fmax(err[1], e1);
        worst_rel[0] = fmax(worst_rel[0], e0 / tol), worst_rel[1] = fmax(worst_rel[1], e1 / tol);
    }
    if (worst_rel[0] > 1) die("gemm", "hwadapt's product on cuda:0 is wrong (sampled entries vs double)");
    if (worst_rel[1] > 1) die("gemm", "cuBLASLt's product is wrong (sampled entries vs double)");
    const double nmse = bench_nmse(c_lt, c_hw, (int64_t)nn);
    if (!(nmse < 1e-4)) {
        char b_[64];
        snprintf(b_, sizeof b_, "the two products differ: nmse %.3g", nmse);
        die("gemm", b_);
    }
    fprintf(stderr, "cuda_bench: gemm %lld^3 bf16 validated (max abs err vs double: hwadapt %.3g, cuBLASLt %.3g; "
            "nmse between them %.3g)\n", (long long)n, err[0], err[1], nmse);

    const double work = 2e-12 * (double)n * (double)n * (double)n;
    side s[3] = {{"hwadapt cuda:0", hw_run, &h, err[0], kernel, {0}},
                 {"cublaslt-direct wall", lt_run_wall, &l, err[1], "cublasLtMatmul (heuristic's first algo)", {0}},
                 {"cublaslt-direct events", lt_run_events, &l, err[1], "cublasLtMatmul (cudaEvent time)", {0}}};
    char cas[64];
    snprintf(cas, sizeof cas, "gemm %lld^3 bf16", (long long)n);
    interleaved(cas, s, 3, rounds, inner, work);

    lt_free(&l);
    hwa_backend_free(h.be);
    hwa_ctx_free(h.ctx);
    free(a), free(b), free(c_hw), free(c_lt), free(a16), free(b16), free(c16);
}

/* GPU 0's memory bandwidth from its clock and bus width (the theoretical
 * peak the HBM bound of a decode is taken against). */
static int props(void) {
    struct cudaDeviceProp p;
    int clock_khz = 0, bus_bits = 0;
    CUDA_OK(cudaGetDeviceProperties(&p, 0));
    CUDA_OK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, 0));
    CUDA_OK(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0));
    printf("%s\t%d\t%d\t%.1f\n", p.name, clock_khz, bus_bits, 2.0 * clock_khz * 1e3 * (bus_bits / 8.0) * 1e-9);
    return 0;
}

int main(int argc, char **argv) {
    const bool is_props = argc == 2 && !strcmp(argv[1], "props");
    if (argc < 2 || (strcmp(argv[1], "gemm") && !is_props)) {
        fprintf(stderr, "usage: cuda_bench gemm [N] [quick] | props\n");
        return 2;
    }
    int64_t n = 8192;
    bool quick = false;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "quick")) {
            quick = true;
            n = 2048;
        } else {
            char *end;
            const long long v = strtoll(argv[i], &end, 10);
            if (*end || v < 16 || v > 32768) {
                fprintf(stderr, "cuda_bench: N '%s': not an integer in 16..32768\n", argv[i]);
                return 2;
            }
            n = v;
        }
    }
    int count = 0;
    const cudaError_t rc = cudaGetDeviceCount(&count);
    if (rc != cudaSuccess || count < 1) {
        fprintf(stderr, "cuda_bench: no CUDA device: %s\n", rc != cudaSuccess ? cudaGetErrorString(rc) : "none found");
        return 2;
    }
    CUDA_OK(cudaSetDevice(0));
    if (is_props) return props();
    bench_gemm(n, quick ? 5 : 21, quick ? 2 : 10);
    return 0;
}
