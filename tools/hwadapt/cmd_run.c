/* hwadapt run — the main job. Until the benchmark harness lands it runs the
 * seed's first example, Linear 1000 -> 1000 on a batch of 64, through the
 * library and prints the result's checksum and the time it took. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "hwadapt/hwadapt.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int fail(hwa_ctx *ctx, const char *what) {
    fprintf(stderr, "hwadapt run: %s: %s\n", what, ctx ? hwa_ctx_last_error(ctx) : hwa_last_error());
    return 1;
}

static bool parse_pos(const char *s, long max, long *out) {
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!s[0] || *end || v < 1 || v > max) return false;
    *out = v;
    return true;
}

int cmd_run(int argc, char **argv) {
    long batch = 64, reps = 20, in = 1000, out = 1000;
    const char *device = "cpu";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: hwadapt run [--device SPEC] [--batch N] [--reps N]\n\n"
                   "Runs Linear %ld -> %ld (weights and bias) on a batch of N (default 64) through\n"
                   "libhwadapt and prints the output's checksum and the median time of the runs.\n",
                   in, out);
            return 0;
        } else if (!strcmp(a, "--batch") && v && parse_pos(v, 1 << 20, &batch)) {
            i++;
        } else if (!strcmp(a, "--reps") && v && parse_pos(v, 100000, &reps)) {
            i++;
        } else if (!strcmp(a, "--device") && v) {
            device = v;
            i++;
        } else {
            fprintf(stderr, "hwadapt run: bad option or value '%s'%s%s (see hwadapt run --help)\n", a,
                    v ? " " : "", v ? v : "");
            return 2;
        }
    }

    hwa_ctx *ctx = hwa_ctx_new(&(hwa_ctx_params){.seed = 42});
    if (!ctx) return fail(NULL, "context");
    int rc = 1;
    hwa_backend *be = NULL;
    hwa_tensor *x = hwa_tensor_set_name(hwa_tensor_new_2d(ctx, HWA_F32, batch, in), "x");
    hwa_tensor *w = hwa_tensor_set_name(hwa_tensor_new_2d(ctx, HWA_F32, out, in), "weight");
    hwa_tensor *b = hwa_tensor_set_name(hwa_tensor_new_1d(ctx, HWA_F32, out), "bias");
    hwa_tensor *y = hwa_bias_add(ctx, hwa_matmul_ex(ctx, x, w, false, true), b);
    hwa_graph *g = hwa_graph_new(ctx);
    if (!y || !g || hwa_graph_build_forward(g, y)) {
        fail(ctx, "building the graph");
        goto done;
    }
    be = hwa_backend_new(ctx, device);
    if (!be) {
        fail(ctx, "device");
        goto done;
    }
    hwa_plan_stats ps;
    if (hwa_ctx_alloc_leaves(ctx, be) || hwa_tensor_fill_uniform(x, -1, 1) || hwa_tensor_fill_uniform(w, -0.03f, 0.03f) ||
        hwa_tensor_fill_uniform(b, -0.1f, 0.1f) || hwa_graph_alloc(g, be, HWA_PLAN_REUSE, &ps)) {
        fail(ctx, "allocating");
        goto done;
    }
    double *times = calloc((size_t)reps, sizeof *times);
    float *res = malloc((size_t)(batch * out) * sizeof *res);
    if (!times || !res) {
        fprintf(stderr, "hwadapt run: out of memory\n");
        free(times);
        free(res);
        goto done;
    }
    hwa_status st = hwa_graph_compute(g, be); /* warm-up */
    for (long r = 0; r < reps && !st; r++) {
        double t0 = now_s();
        st = hwa_graph_compute(g, be);
        times[r] = now_s() - t0;
    }
    if (st || hwa_tensor_get_f32(y, res, batch * out)) {
        fail(ctx, "computing");
        free(times);
        free(res);
        goto done;
    }
    double sum = 0, asum = 0;
    for (long i = 0; i < batch * out; i++) {
        sum += res[i];
        asum += res[i] < 0 ? -res[i] : res[i];
    }
    qsort(times, (size_t)reps, sizeof *times, cmp_double);
    double med = times[reps / 2];
    double flops = 2.0 * (double)batch * (double)in * (double)out;
    printf("workload   linear1000: Linear %ld -> %ld with bias, batch %ld, f32\n", in, out, batch);
    printf("device     %s (%s backend, %d thread(s))\n", device, hwa_backend_name(be), hwa_backend_threads(be));
    for (int i = 0; i < hwa_graph_n_nodes(g); i++) {
        hwa_tensor *nd = hwa_graph_node(g, i);
        printf("kernel     node %d: %s\n", i, hwa_backend_kernel_name(be, nd));
    }
    printf("memory     planned arena %zu bytes for %d intermediate(s)\n", ps.arena_bytes, ps.n_intermediates);
    printf("checksum   sum %.6f  abs-sum %.6f  (%ld outputs)\n", sum, asum, batch * out);
    printf("time       median %.3f ms over %ld runs (min %.3f, max %.3f), %.2f GFLOP/s\n", med * 1e3, reps,
           times[0] * 1e3, times[reps - 1] * 1e3, flops / med * 1e-9);
    free(times);
    free(res);
    rc = 0;
done:
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    return rc;
}
