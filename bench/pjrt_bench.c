/* The C side of bench/pjrt.sh: what compiling costs on pjrt:0. For each
 * case, a new pjrt:0 backend runs the graph once (lowered to StableHLO and
 * compiled by the plugin, then run) and then again from its executable
 * cache; the result is first checked against the CPU backend's. One line
 * per case:
 *   case <TAB> first_ms <TAB> cached_median_ms <TAB> cached_min_ms <TAB> cached_max_ms <TAB> max_abs_err
 *   pjrt_bench [rounds]   (cached runs per case, default 21) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "hwadapt/hwadapt.h"

enum { BATCH = 64, WIDTH = 1000 };

static void check(hwa_ctx *ctx, hwa_status st, const char *what) {
    if (st == HWA_OK) return;
    fprintf(stderr, "pjrt_bench: %s: %s\n", what, hwa_ctx_last_error(ctx));
    exit(1);
}

/* layers Linear layers of WIDTH (relu between them) on x [BATCH, WIDTH],
 * built and given deterministic inputs on spec */
typedef struct net {
    hwa_ctx *ctx;
    hwa_backend *be;
    hwa_graph *g;
    hwa_tensor *y;
} net;

static void net_make(net *n, const char *spec, int layers) {
    n->ctx = hwa_ctx_new(NULL);
    n->be = hwa_backend_new(n->ctx, spec);
    if (!n->be) check(n->ctx, hwa_ctx_last_status(n->ctx), spec);
    hwa_tensor *leaves[16];
    int nl = 0;
    hwa_tensor *x = leaves[nl++] = hwa_tensor_new_2d(n->ctx, HWA_F32, BATCH, WIDTH);
    for (int l = 0; l < layers; l++) {
        hwa_tensor *w = leaves[nl++] = hwa_tensor_new_2d(n->ctx, HWA_F32, WIDTH, WIDTH);
        hwa_tensor *b = leaves[nl++] = hwa_tensor_new(n->ctx, HWA_F32, 1, (const int64_t[]){WIDTH});
        x = hwa_bias_add(n->ctx, hwa_matmul_ex(n->ctx, x, w, false, true), b);
        if (l + 1 < layers) x = hwa_relu(n->ctx, x);
    }
    n->y = x;
    n->g = hwa_graph_new(n->ctx);
    check(n->ctx, x ? hwa_graph_build_forward(n->g, x) : hwa_ctx_last_status(n->ctx), "graph");
    check(n->ctx, hwa_ctx_alloc_leaves(n->ctx, n->be), "alloc");
    float *buf = malloc((size_t)WIDTH * WIDTH * sizeof *buf);
    if (!buf) check(n->ctx, HWA_E_NOMEM, "buffer");
    unsigned seed = 12345;
    for (int i = 0; i < nl; i++) {
        const int64_t k = hwa_tensor_nelements(leaves[i]);
        for (int64_t j = 0; j < k; j++) {
            seed = seed * 1664525u + 1013904223u;
            buf[j] = ((float)(seed >> 8) / 8388608.0f - 1.0f) * 0.05f;
        }
        check(n->ctx, hwa_tensor_set_f32(leaves[i], buf, k), "set");
    }
    free(buf);
}

static void net_free(net *n) {
    hwa_backend_free(n->be);
    hwa_ctx_free(n->ctx);
}

static int cmp(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void one_case(const char *name, int layers, int rounds) {
    static float ref[BATCH * WIDTH], got[BATCH * WIDTH];
    net c, p;
    net_make(&c, "cpu", layers);
    check(c.ctx, hwa_graph_compute(c.g, c.be), "cpu compute");
    check(c.ctx, hwa_tensor_get_f32(c.y, ref, BATCH * WIDTH), "cpu get");
    net_free(&c);
    net_make(&p, "pjrt:0", layers);
    const double t0 = hwa_bench_clock_now();
    check(p.ctx, hwa_graph_compute(p.g, p.be), "pjrt compute");
    check(p.ctx, hwa_tensor_get_f32(p.y, got, BATCH * WIDTH), "pjrt get");
    const double first = hwa_bench_clock_now() - t0;
    double err = 0;
    for (int i = 0; i < BATCH * WIDTH; i++) err = fmax(err, fabs((double)ref[i] - got[i]));
    if (!(err <= 1e-4)) {
        fprintf(stderr, "pjrt_bench: %s: max abs error %g against the CPU\n", name, err);
        exit(1);
    }
    double *t = malloc((size_t)rounds * sizeof *t);
    for (int r = 0; r < rounds && t; r++) {
        const double s = hwa_bench_clock_now();
        check(p.ctx, hwa_graph_compute(p.g, p.be), "pjrt compute");
        check(p.ctx, hwa_tensor_get_f32(p.y, got, BATCH * WIDTH), "pjrt get");
        t[r] = hwa_bench_clock_now() - s;
    }
    if (!t) check(p.ctx, HWA_E_NOMEM, "times");
    qsort(t, (size_t)rounds, sizeof *t, cmp);
    printf("%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3g\n", name, first * 1e3, t[rounds / 2] * 1e3, t[0] * 1e3,
           t[rounds - 1] * 1e3, err);
    free(t);
    net_free(&p);
}

int main(int argc, char **argv) {
    const int rounds = argc > 1 ? atoi(argv[1]) : 21;
    if (rounds < 1 || rounds > 10000) {
        fprintf(stderr, "usage: pjrt_bench [rounds 1..10000]\n");
        return 2;
    }
    one_case("linear1000", 1, rounds);
    one_case("mlp 3x1000", 3, rounds);
    return 0;
}
