/* QLINEAR (int8 weights, u8 activations, int32 sums) against hwadapt's own
 * f32 Linear on the layers of fmnist-mlp (784 -> 1000, 1000 -> 1000,
 * 1000 -> 10) at batch 1 and 64, both with their bias, on one CPU backend.
 * Each result is checked first: the int8 layer against this file's own
 * scalar computation of the rule in core/ops_list.h (equal to the last
 * bit), the f32 one against a sum in double. Then the two are timed in
 * interleaved rounds (f32, int8, f32, int8, ...), each round the median of
 * a burst of runs, and the row gives the median over the rounds. Prints
 * one TSV row per layer and batch:
 *   layer <TAB> batch <TAB> f32_us <TAB> int8_us <TAB> speedup <TAB> f32 kernel <TAB> int8 kernel
 * Arguments: [threads] [rounds]. bench/qlinear.sh runs it at each ISA level. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "hwadapt/hwadapt.h"

static void fill(float *p, size_t n, unsigned seed, float scale) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = ((float)(seed >> 8) / 16777216.0f * 2.0f - 1.0f) * scale;
    }
}

/* The rule, written out once more: per row s, z from the row's range
 * (dynamic), xq = clamp(nearbyint(x / s) + z), sums in integers. */
static void qlinear_check(const float *x, const int8_t *w, const float *ws, const float *b, float *y, int M, int N,
                          int K) {
    for (int m = 0; m < M; m++) {
        const float *r = x + (size_t)m * K;
        float lo = 0, hi = 0;
        for (int k = 0; k < K; k++) lo = fminf(lo, r[k]), hi = fmaxf(hi, r[k]);
        const float s = hi > lo ? (hi - lo) / 255.0f : 1.0f, inv = 1.0f / s;
        const float zf = nearbyintf(-lo * inv);
        const int z = zf < 0 ? 0 : zf > 255 ? 255 : (int)zf;
        for (int n = 0; n < N; n++) {
            long long acc = 0;
            for (int k = 0; k < K; k++) {
                float q = nearbyintf(r[k] * inv) + (float)z;
                q = q < 0 ? 0 : q > 255 ? 255 : q;
                acc += (long long)((int)q - z) * w[(size_t)n * K + k];
            }
            y[(size_t)m * N + n] = (float)(int)acc * (s * ws[n]) + b[n];
        }
    }
}

typedef struct layer_run {
    hwa_ctx *ctx;
    hwa_graph *g;
    hwa_backend *be;
    hwa_tensor *y, *node;
} layer_run;

static void die(hwa_ctx *ctx, const char *what) {
    fprintf(stderr, "qlinear_bench: %s: %s\n", what, ctx ? hwa_ctx_last_error(ctx) : "out of memory");
    exit(1);
}

/* One layer, f32 (w f32 [N, K]) or int8 (w8, ws), + bias b, over x [M, K]. */
static void layer_make(layer_run *r, bool int8, int M, int N, int K, const float *x, const float *w, const int8_t *w8,
                       const float *ws, const float *b, int threads) {
    hwa_ctx *ctx = r->ctx = hwa_ctx_new(NULL);
    if (!ctx) die(NULL, "context");
    hwa_tensor *tx = hwa_tensor_new_2d(ctx, HWA_F32, M, K), *tb = hwa_tensor_new_1d(ctx, HWA_F32, N);
    hwa_tensor *tw = hwa_tensor_new_2d(ctx, int8 ? HWA_I8 : HWA_F32, N, K);
    hwa_tensor *ts = int8 ? hwa_tensor_new_1d(ctx, HWA_F32, N) : NULL;
    r->node = int8 ? hwa_qlinear(ctx, tx, tw, ts, 0.0f, 0) : hwa_matmul_ex(ctx, tx, tw, false, true);
    r->y = hwa_bias_add(ctx, r->node, tb);
    r->g = hwa_graph_new(ctx);
    r->be = hwa_backend_new(ctx, "cpu");
    if (!r->y || !r->g || !r->be || hwa_graph_build_forward(r->g, r->y) || hwa_ctx_alloc_leaves(ctx, r->be) ||
        hwa_tensor_set_f32(tx, x, (int64_t)M * K) || hwa_tensor_set_f32(tb, b, N) ||
        (int8 ? hwa_tensor_set_bytes(tw, w8, (size_t)N * K) || hwa_tensor_set_f32(ts, ws, N)
              : hwa_tensor_set_f32(tw, w, (int64_t)N * K)) ||
        hwa_backend_set_threads(r->be, threads))
        die(ctx, "setup");
}

static double layer_time_us(layer_run *r, int reps) {
    double t[64];
    for (int i = 0; i < reps; i++) {
        const double t0 = bench_now_s();
        if (hwa_graph_compute(r->g, r->be)) die(r->ctx, "compute");
        t[i] = (bench_now_s() - t0) * 1e6;
    }
    return bench_median(t, reps);
}

int main(int argc, char **argv) {
    const int threads = argc > 1 ? atoi(argv[1]) : 0, rounds = argc > 2 ? atoi(argv[2]) : 15;
    static const int shapes[3][2] = {{784, 1000}, {1000, 1000}, {1000, 10}}, batches[2] = {1, 64};
    printf("layer\tbatch\tf32_us\tint8_us\tspeedup\tf32_kernel\tint8_kernel\n");
    for (int si = 0; si < 3; si++)
        for (int bi = 0; bi < 2; bi++) {
            const int K = shapes[si][0], N = shapes[si][1], M = batches[bi];
            float *x = malloc(sizeof(float) * (size_t)M * K), *w = malloc(sizeof(float) * (size_t)N * K);
            float *ws = malloc(sizeof(float) * (size_t)N), *b = malloc(sizeof(float) * (size_t)N);
            float *want = malloc(sizeof(float) * (size_t)M * N), *got = malloc(sizeof(float) * (size_t)M * N);
            int8_t *w8 = malloc((size_t)N * K);
            if (!x || !w || !ws || !b || !want || !got || !w8) die(NULL, "buffers");
            fill(x, (size_t)M * K, 1u + (unsigned)si, 1.0f);
            fill(w, (size_t)N * K, 7u + (unsigned)si, 0.05f);
            fill(b, (size_t)N, 9u, 0.1f);
            /* per-row symmetric int8 of w, as the compressor makes it */
            for (int n = 0; n < N; n++) {
                float mx = 0;
                for (int k = 0; k < K; k++) mx = fmaxf(mx, fabsf(w[(size_t)n * K + k]));
                ws[n] = mx > 0 ? mx / 127.0f : 1.0f;
                for (int k = 0; k < K; k++) w8[(size_t)n * K + k] = (int8_t)nearbyintf(w[(size_t)n * K + k] / ws[n]);
            }
            layer_run f, q;
            layer_make(&f, false, M, N, K, x, w, NULL, NULL, b, threads);
            layer_make(&q, true, M, N, K, x, NULL, w8, ws, b, threads);
            /* validate before timing */
            layer_time_us(&q, 1);
            layer_time_us(&f, 1);
            qlinear_check(x, w8, ws, b, want, M, N, K);
            hwa_tensor_get_f32(q.y, got, (int64_t)M * N);
            for (int i = 0; i < M * N; i++)
                if (got[i] != want[i]) {
                    fprintf(stderr, "qlinear_bench: %dx%d->%d int8 result %d is %.9g, the rule gives %.9g\n", M, K, N,
                            i, got[i], want[i]);
                    return 1;
                }
            hwa_tensor_get_f32(f.y, got, (int64_t)M * N);
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) {
                    double s = b[n];
                    for (int k = 0; k < K; k++) s += (double)x[(size_t)m * K + k] * w[(size_t)n * K + k];
                    if (fabs(s - got[(size_t)m * N + n]) > 1e-4) {
                        fprintf(stderr, "qlinear_bench: %dx%d->%d f32 result wrong (%g vs %g)\n", M, K, N,
                                got[(size_t)m * N + n], s);
                        return 1;
                    }
                }
            /* a burst of runs per round: about 2 ms of work */
            const int reps = M == 1 ? 50 : 9;
            double tf[256], tq[256];
            const int R = rounds < 1 ? 1 : rounds > 256 ? 256 : rounds;
            for (int i = 0; i < R; i++) {
                tf[i] = layer_time_us(&f, reps);
                tq[i] = layer_time_us(&q, reps);
            }
            const double mf = bench_median(tf, R), mq = bench_median(tq, R);
            printf("%d->%d\t%d\t%.2f\t%.2f\t%.2f\t%s\t%s\n", K, N, M, mf, mq, mf / mq,
                   hwa_backend_kernel_name(f.be, f.node), hwa_backend_kernel_name(q.be, q.node));
            fflush(stdout);
            hwa_backend_free(f.be);
            hwa_ctx_free(f.ctx);
            hwa_backend_free(q.be);
            hwa_ctx_free(q.ctx);
            free(x), free(w), free(ws), free(b), free(want), free(got), free(w8);
        }
    return 0;
}
