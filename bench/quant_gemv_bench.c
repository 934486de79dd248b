/* quant_gemv_bench [--n N] [--k K] [--reps R] [--threads T]
 *
 * The decode-step product of a Llama feed-forward layer, y = x W^T with W
 * [N, K] (default 14336 x 4096) and x one row, through hwadapt's CPU
 * backend with W in each type: f32, f16, bf16, and the block types q8_0,
 * q4_0, q4_1, q4_k, q6_k. A GEMV reads every weight once, so its bound is
 * the weights' bytes over the memory bandwidth, measured here with the same
 * threads by summing a buffer larger than the caches. Validates first (every
 * output against a float64 product of the decoded weights, within 1 % of
 * the row's absolute sum: the block kernels round the activations to 8
 * bits), then times; medians of R interleaved rounds. */
#include <math.h>
#include <stdint.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwadapt/hwadapt.h"

/* The median of v[0..n) (the library's statistics: p50). */
static double median(const double *v, int n) {
    hwa_bench_stats st;
    return hwa_bench_stats_compute(v, n, &st) ? NAN : st.p50;
}

/* Read bandwidth in GB/s: the fastest of 7 passes summing 1 GiB as 64-bit
 * integers (integer sums vectorize; a float sum would be bound by its add
 * latency, not by memory). */
static double read_bandwidth(int threads) {
    const size_t n = (size_t)1 << 27;
    uint64_t *buf = malloc(n * sizeof *buf);
    if (!buf) return NAN;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) buf[i] = i & 1023;
    double best = 0;
    volatile uint64_t sink = 0;
    for (int r = 0; r < 7; r++) {
        double t0 = hwa_bench_clock_now();
        uint64_t s = 0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : s)
        for (size_t i = 0; i < n; i++) s += buf[i];
        const double gbs = (double)n * sizeof *buf / (hwa_bench_clock_now() - t0) * 1e-9;
        sink += s;
        if (gbs > best) best = gbs;
    }
    (void)sink;
    free(buf);
    return best;
}

typedef struct run {
    hwa_dtype t;
    hwa_ctx *ctx;
    hwa_backend *be;
    hwa_graph *g;
    hwa_tensor *y;
    size_t bytes;
    double secs[64];
    const char *kernel;
} run;

int main(int argc, char **argv) {
    int64_t N = 14336, K = 4096;
    int reps = 9, threads = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const long v = atol(argv[i + 1]);
        if (!strcmp(argv[i], "--n")) N = v;
        else if (!strcmp(argv[i], "--k")) K = v;
        else if (!strcmp(argv[i], "--reps")) reps = (int)v;
        else if (!strcmp(argv[i], "--threads")) threads = (int)v;
    }
    if (N < 1 || K < 256 || K % 256 || reps < 1 || reps > 64) {
        fprintf(stderr, "usage: quant_gemv_bench [--n N] [--k K (a multiple of 256)] [--reps 1..64] [--threads T]\n");
        return 2;
    }
    static const hwa_dtype types[] = {HWA_F32, HWA_F16, HWA_BF16, HWA_Q8_0, HWA_Q4_0, HWA_Q4_1, HWA_Q4_K, HWA_Q6_K};
    enum { NT = sizeof types / sizeof types[0] };
    float *wf = malloc((size_t)(N * K) * sizeof *wf), *x = malloc((size_t)K * sizeof *x), *dec = malloc((size_t)K * sizeof *dec);
    float *y = malloc((size_t)N * sizeof *y);
    if (!wf || !x || !dec || !y) return 1;
    uint64_t r = 88172645463325252ull;
    for (int64_t i = 0; i < N * K; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        wf[i] = (float)((double)(r >> 11) / 9007199254740992.0 * 2 - 1) * 0.05f;
    }
    for (int64_t i = 0; i < K; i++) x[i] = sinf((float)i * 0.37f);
    run runs[NT];
    memset(runs, 0, sizeof runs);
    for (int k = 0; k < NT; k++) {
        run *u = &runs[k];
        u->t = types[k];
        u->ctx = hwa_ctx_new(NULL);
        u->be = hwa_backend_new(u->ctx, "cpu");
        if (!u->be) return fprintf(stderr, "%s\n", hwa_last_error()), 1;
        if (threads > 0) hwa_backend_set_threads(u->be, threads);
        hwa_tensor *xt = hwa_tensor_new_2d(u->ctx, HWA_F32, 1, K), *w = hwa_tensor_new_2d(u->ctx, u->t, N, K);
        u->y = hwa_matmul_ex(u->ctx, xt, w, false, true);
        u->g = hwa_graph_new(u->ctx);
        if (hwa_graph_build_forward(u->g, u->y) || hwa_ctx_alloc_leaves(u->ctx, u->be) || hwa_tensor_set_f32(xt, x, K) ||
            hwa_tensor_set_f32(w, wf, N * K) || hwa_graph_compute(u->g, u->be))
            return fprintf(stderr, "%s: %s\n", hwa_dtype_name(u->t), hwa_last_error()), 1;
        u->bytes = hwa_tensor_nbytes(w);
        u->kernel = hwa_backend_kernel_name(u->be, u->y);
        /* validate: every output against the decoded weights in float64 */
        hwa_tensor_get_f32(u->y, y, N);
        const void *wd = hwa_tensor_data(w);
        size_t row;
        hwa_dtype_row_bytes(u->t, K, &row);
        double worst = 0;
        for (int64_t n = 0; n < N; n++) {
            hwa_convert_to_f32(u->t, (const char *)wd + (size_t)n * row, dec, K);
            double s = 0, a = 0;
            for (int64_t i = 0; i < K; i++) s += (double)dec[i] * x[i], a += fabs((double)dec[i] * x[i]);
            const double e = fabs(y[n] - s) / a;
            if (e > worst) worst = e;
        }
        if (worst > 0.01) return fprintf(stderr, "%s: output off by %.3g of its absolute sum\n", hwa_dtype_name(u->t), worst), 1;
        fprintf(stderr, "  %-5s validated (worst error %.2g of a row's absolute sum), kernel %s\n", hwa_dtype_name(u->t),
                worst, u->kernel);
    }
    const int nt = hwa_backend_threads(runs[0].be);
    const double bw = read_bandwidth(nt);
    for (int rep = 0; rep < reps; rep++)
        for (int k = 0; k < NT; k++) {
            run *u = &runs[k];
            const int inner = u->bytes > ((size_t)64 << 20) ? 3 : 10;
            const double t0 = hwa_bench_clock_now();
            for (int q = 0; q < inner; q++) hwa_graph_compute(u->g, u->be);
            u->secs[rep] = (hwa_bench_clock_now() - t0) / inner;
        }
    /* The bound: the faster of the read pass and the fastest product's own
     * rate (every product reads its weights once, so none can beat the
     * memory; a read pass the compiler did not vectorize would understate it). */
    double bound = bw;
    for (int k = 0; k < NT; k++) {
        const double gbs = (double)runs[k].bytes / median(runs[k].secs, reps) * 1e-9;
        if (gbs > bound) bound = gbs;
    }
    double f32_ms = 0;
    printf("GEMV [1, %lld] x [%lld, %lld]^T, %d thread(s); bandwidth bound %.1f GB/s (read pass %.1f GB/s, best of 7 "
           "over 1 GiB, or the fastest product's rate when higher); median of %d interleaved rounds\n\n",
           (long long)K, (long long)N, (long long)K, nt, bound, bw, reps);
    printf("  %-5s %9s %9s %9s %10s %9s  %s\n", "type", "MiB", "ms", "GB/s", "% of bound", "vs f32", "kernel");
    for (int k = 0; k < NT; k++) {
        run *u = &runs[k];
        const double ms = median(u->secs, reps) * 1e3, gbs = (double)u->bytes / (ms * 1e-3) * 1e-9;
        if (k == 0) f32_ms = ms;
        printf("  %-5s %9.1f %9.3f %9.1f %9.0f%% %8.2fx  %s\n", hwa_dtype_name(u->t), u->bytes / 1048576.0, ms, gbs,
               gbs / bound * 100, f32_ms / ms, u->kernel);
    }
    for (int k = 0; k < NT; k++) {
        hwa_backend_free(runs[k].be);
        hwa_ctx_free(runs[k].ctx);
    }
    free(wf);
    free(x);
    free(dec);
    free(y);
    return 0;
}
