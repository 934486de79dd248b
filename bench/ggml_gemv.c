/* ggml_gemv [--n N] [--k K] [--reps R] [--threads T]
 *
 * The peer's side of bench/quant_gemv_bench: the same decode-step product,
 * y = W x with W [N, K] (default 14336 x 4096) and x one f32 row, through
 * ggml's CPU path (ggml_mul_mat computed by ggml_graph_compute_with_ctx,
 * weights in ggml's own layout, not repacked) with W in f32, f16, bf16,
 * q8_0, q4_0, q4_1, q4_k and q6_k, quantized by ggml from the same kind of
 * random weights. Validates first (every output against a float64 product
 * of ggml's own decoding of W, within 1 % of the row's absolute sum, as
 * quant_gemv_bench does), then times: R rounds, each type once per round
 * (interleaved), and prints per type the median ms and GB/s of weights read.
 * Built by bench/llm_quant.sh against the ggml that bench/lib.bash builds
 * (hwa_ggml_build); not part of the project's build. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "ggml-cpu.h"
#include "ggml.h"

/* xorshift64*: uniform in [-1, 1). */
static float uniform(uint64_t *s) {
    *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
    return (float)((double)((*s * 0x2545F4914F6CDD1Dull) >> 11) / 4503599627370496.0 - 1.0);
}

typedef struct run {
    enum ggml_type t;
    const char *name;
    struct ggml_context *ctx;
    struct ggml_cgraph *g;
    struct ggml_tensor *w, *x, *y;
    double secs[64];
} run;

int main(int argc, char **argv) {
    int64_t n = 14336, k = 4096;
    int reps = 7, threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n")) n = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--k")) k = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "ggml_gemv: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (n <= 0 || k <= 0 || k % 256 || reps < 1 || reps > 64 || threads < 1) {
        fprintf(stderr, "ggml_gemv: --n and --k must be > 0 (k a multiple of 256), --reps 1..64, --threads >= 1\n");
        return 2;
    }
    ggml_cpu_init();
    static const struct { enum ggml_type t; const char *name; } types[] = {
        {GGML_TYPE_F32, "f32"},   {GGML_TYPE_F16, "f16"},   {GGML_TYPE_BF16, "bf16"}, {GGML_TYPE_Q8_0, "q8_0"},
        {GGML_TYPE_Q4_0, "q4_0"}, {GGML_TYPE_Q4_1, "q4_1"}, {GGML_TYPE_Q4_K, "q4_k"}, {GGML_TYPE_Q6_K, "q6_k"},
    };
    enum { NT = sizeof types / sizeof types[0] };
    run runs[NT];
    memset(runs, 0, sizeof runs);

    float *wf = malloc((size_t)(n * k) * sizeof *wf), *xf = malloc((size_t)k * sizeof *xf);
    float *row = malloc((size_t)k * sizeof *row);
    if (!wf || !xf || !row) return 1;
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    for (int64_t i = 0; i < n * k; i++) wf[i] = uniform(&seed);
    for (int64_t i = 0; i < k; i++) xf[i] = uniform(&seed);

    for (int i = 0; i < NT; i++) {
        run *r = &runs[i];
        r->t = types[i].t, r->name = types[i].name;
        const size_t wbytes = ggml_row_size(r->t, k) * (size_t)n;
        struct ggml_init_params ip = {wbytes + (size_t)(k + n) * sizeof(float) + ggml_graph_overhead() + 4 * ggml_tensor_overhead() +
                                          (16u << 20) /* the product's work buffer (x converted) */,
                                      NULL, false};
        r->ctx = ggml_init(ip);
        if (!r->ctx) return 1;
        r->w = ggml_new_tensor_2d(r->ctx, r->t, k, n);
        r->x = ggml_new_tensor_2d(r->ctx, GGML_TYPE_F32, k, 1);
        memcpy(r->x->data, xf, (size_t)k * sizeof *xf);
        if (r->t == GGML_TYPE_F32) memcpy(r->w->data, wf, (size_t)(n * k) * sizeof *wf);
        else ggml_quantize_chunk(r->t, wf, r->w->data, 0, n, k, NULL);
        r->y = ggml_mul_mat(r->ctx, r->w, r->x);
        r->g = ggml_new_graph(r->ctx);
        ggml_build_forward_expand(r->g, r->y);

        /* validate: against float64 over ggml's own decoding of W */
        if (ggml_graph_compute_with_ctx(r->ctx, r->g, threads) != GGML_STATUS_SUCCESS) {
            fprintf(stderr, "ggml_gemv: %s: compute failed\n", r->name);
            return 1;
        }
        const struct ggml_type_traits *tr = ggml_get_type_traits(r->t);
        const float *y = (const float *)r->y->data;
        for (int64_t j = 0; j < n; j++) {
            const char *src = (const char *)r->w->data + (size_t)j * ggml_row_size(r->t, k);
            if (r->t == GGML_TYPE_F32) memcpy(row, src, (size_t)k * sizeof *row);
            else tr->to_float(src, row, k);
            double want = 0, mag = 0;
            for (int64_t c = 0; c < k; c++) want += (double)row[c] * xf[c], mag += fabs((double)row[c] * xf[c]);
            if (fabs(y[j] - want) > 0.01 * mag + 1e-6) {
                fprintf(stderr, "ggml_gemv: %s: row %lld is %g, want %g\n", r->name, (long long)j, y[j], want);
                return 1;
            }
        }
        ggml_graph_compute_with_ctx(r->ctx, r->g, threads); /* warm */
    }
    free(wf), free(row), free(xf);

    for (int rep = 0; rep < reps; rep++)
        for (int i = 0; i < NT; i++) {
            const double t0 = bench_now_s();
            ggml_graph_compute_with_ctx(runs[i].ctx, runs[i].g, threads);
            runs[i].secs[rep] = bench_now_s() - t0;
        }
    printf("ggml %s: GEMV %lld x %lld, %d threads, median of %d interleaved rounds\n", ggml_version(),
           (long long)n, (long long)k, threads, reps);
    printf("  %-5s %10s %10s\n", "type", "ms", "GB/s");
    for (int i = 0; i < NT; i++) {
        const double s = bench_median(runs[i].secs, reps);
        const double bytes = (double)ggml_row_size(runs[i].t, k) * (double)n;
        printf("  %-5s %10.3f %10.1f\n", runs[i].name, s * 1e3, bytes / s * 1e-9);
        ggml_free(runs[i].ctx);
    }
    return 0;
}
