/* spmm_bench [--reps R] [--threads N] [--quick]
 *
 * The sparse product (hwa_spmm, W in compressed rows) against hwadapt's
 * dense f32 product of the same layer (hwa_matmul_ex with trans_b, the
 * provider HWA_MATMUL picks or the default, oneDNN where built) on the
 * layers of the pruned fmnist-mlp (1000x784, 1000x1000) at batch 1 and 64,
 * for densities 0.02 to 0.5 (each weight kept with that probability, as
 * magnitude pruning leaves them). Each pair is validated first (the sparse
 * result against the dense one, by normalised mean squared error), then
 * timed: R repetitions, each running sparse then dense for about 2 ms
 * apiece (interleaved, so that a machine's drift reaches both); medians
 * and the ratio dense / sparse. The last lines say, per layer and batch,
 * the highest density at which the sparse product is still faster. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "hwadapt/hwadapt.h"

typedef struct pair {
    hwa_ctx *ctx;
    hwa_backend *be;
    hwa_graph *gs, *gd;
    hwa_tensor *ys, *yd;
} pair;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double urand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* The graphs of one layer [N, K] at batch M and density d, filled. */
static int pair_new(pair *p, int64_t M, int64_t N, int64_t K, double d, int threads) {
    memset(p, 0, sizeof *p);
    float *w = calloc((size_t)(N * K), sizeof *w), *vals = NULL, *xv = malloc((size_t)(M * K) * sizeof *xv);
    int32_t *rp = malloc((size_t)(N + 1) * sizeof *rp), *col = NULL;
    int64_t nnz = 0;
    if (!w || !xv || !rp) goto fail;
    for (int64_t i = 0; i < N * K; i++)
        if (urand() < d) w[i] = (float)(2.0 * urand() - 1.0), nnz++;
    if (nnz == 0) w[0] = 1.0f, nnz = 1; /* a tensor of no values cannot be made */
    vals = malloc((size_t)nnz * sizeof *vals), col = malloc((size_t)nnz * sizeof *col);
    if (!vals || !col) goto fail;
    rp[0] = 0;
    for (int64_t n = 0, j = 0; n < N; n++) {
        for (int64_t k = 0; k < K; k++)
            if (w[n * K + k] != 0.0f) vals[j] = w[n * K + k], col[j++] = (int32_t)k;
        rp[n + 1] = (int32_t)j;
    }
    for (int64_t i = 0; i < M * K; i++) xv[i] = (float)(2.0 * urand() - 1.0);
    p->ctx = hwa_ctx_new(NULL);
    hwa_tensor *x = hwa_tensor_new_2d(p->ctx, HWA_F32, M, K), *wd = hwa_tensor_new_2d(p->ctx, HWA_F32, N, K);
    hwa_tensor *trp = hwa_tensor_new_1d(p->ctx, HWA_I32, N + 1), *tcol = hwa_tensor_new_1d(p->ctx, HWA_I32, nnz);
    hwa_tensor *tval = hwa_tensor_new_1d(p->ctx, HWA_F32, nnz);
    p->ys = hwa_spmm(p->ctx, x, trp, tcol, tval);
    p->yd = hwa_matmul_ex(p->ctx, x, wd, false, true);
    p->gs = hwa_graph_new(p->ctx), p->gd = hwa_graph_new(p->ctx);
    if (!p->ys || !p->yd || !p->gs || !p->gd || hwa_graph_build_forward(p->gs, p->ys) ||
        hwa_graph_build_forward(p->gd, p->yd) || !(p->be = hwa_backend_new(p->ctx, "cpu")) ||
        (threads > 0 && hwa_backend_set_threads(p->be, threads)) || hwa_ctx_alloc_leaves(p->ctx, p->be) ||
        hwa_tensor_set_f32(x, xv, M * K) || hwa_tensor_set_f32(wd, w, N * K) ||
        hwa_tensor_set_bytes(trp, rp, (size_t)(N + 1) * sizeof *rp) ||
        hwa_tensor_set_bytes(tcol, col, (size_t)nnz * sizeof *col) || hwa_tensor_set_f32(tval, vals, nnz))
        goto fail;
    free(w), free(vals), free(xv), free(rp), free(col);
    return 0;
fail:
    fprintf(stderr, "spmm_bench: %s\n", hwa_last_error());
    free(w), free(vals), free(xv), free(rp), free(col);
    return -1;
}

static void pair_free(pair *p) {
    hwa_backend_free(p->be);
    hwa_ctx_free(p->ctx);
}

/* Seconds per compute of g over `iters` computes. */
static double timed(pair *p, hwa_graph *g, int iters) {
    const double t0 = bench_now_s();
    for (int i = 0; i < iters; i++)
        if (hwa_graph_compute(g, p->be)) return -1;
    return (bench_now_s() - t0) / iters;
}

int main(int argc, char **argv) {
    int reps = 15, threads = 0;
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) quick = true;
        else {
            fprintf(stderr, "usage: spmm_bench [--reps R] [--threads N] [--quick]\n");
            return 2;
        }
    }
    if (quick) reps = 3;
    if (reps < 1 || reps > 1000) reps = 15;
    static const int64_t shapes[2][2] = {{1000, 784}, {1000, 1000}}, batches[2] = {1, 64};
    static const double dens[] = {0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5};
    enum { ND = sizeof dens / sizeof dens[0] };
    double ratio[2][2][ND];
    printf("%-10s %5s %7s %12s %12s %8s  %-22s %s\n", "layer", "batch", "density", "dense_us", "sparse_us",
           "speedup", "sparse kernel", "dense kernel");
    for (int s = 0; s < 2; s++)
        for (int b = 0; b < 2; b++)
            for (int di = 0; di < ND; di++) {
                const int64_t N = shapes[s][0], K = shapes[s][1], M = batches[b];
                pair p;
                if (pair_new(&p, M, N, K, dens[di], threads)) return 1;
                float *a = malloc((size_t)(M * N) * sizeof *a), *c = malloc((size_t)(M * N) * sizeof *c);
                char ks[64] = "", kd[64] = ""; /* the kernels of the last compute */
                hwa_status st = !a || !c ? HWA_E_NOMEM : hwa_graph_compute(p.gs, p.be);
                if (!st) snprintf(ks, sizeof ks, "%s", hwa_backend_kernel_name(p.be, p.ys));
                if (!st && !(st = hwa_graph_compute(p.gd, p.be)))
                    snprintf(kd, sizeof kd, "%s", hwa_backend_kernel_name(p.be, p.yd));
                if (st || hwa_tensor_get_f32(p.ys, a, M * N) || hwa_tensor_get_f32(p.yd, c, M * N)) {
                    fprintf(stderr, "spmm_bench: %s\n", hwa_last_error());
                    return 1;
                }
                const double e = bench_nmse(c, a, M * N);
                if (!(e < 1e-10)) {
                    fprintf(stderr, "spmm_bench: %lldx%lld batch %lld density %.2f: sparse differs from dense "
                                    "(nmse %.3g)\n", (long long)N, (long long)K, (long long)M, dens[di], e);
                    return 1;
                }
                /* iterations for about 2 ms of the slower */
                const double t1 = fmax(timed(&p, p.gs, 3), timed(&p, p.gd, 3));
                const int iters = t1 > 0 ? (int)fmin(2000.0, fmax(1.0, 2e-3 / t1)) : 1;
                double *ts = malloc(2 * (size_t)reps * sizeof *ts), *td = ts + reps;
                for (int r = 0; r < reps; r++) {
                    ts[r] = timed(&p, p.gs, iters);
                    td[r] = timed(&p, p.gd, iters);
                }
                const double ms = bench_median(ts, reps), md = bench_median(td, reps);
                ratio[s][b][di] = md / ms;
                char layer[32];
                snprintf(layer, sizeof layer, "%lldx%lld", (long long)N, (long long)K);
                printf("%-10s %5lld %7.2f %12.1f %12.1f %7.2fx  %-22s %s\n", layer, (long long)M, dens[di], md * 1e6,
                       ms * 1e6, md / ms, ks, kd);
                fflush(stdout);
                free(ts), free(a), free(c);
                pair_free(&p);
            }
    for (int s = 0; s < 2; s++)
        for (int b = 0; b < 2; b++) {
            int last = -1;
            while (last + 1 < ND && ratio[s][b][last + 1] > 1.0) last++;
            printf("%lldx%lld batch %lld: sparse ", (long long)shapes[s][0], (long long)shapes[s][1],
                   (long long)batches[b]);
            if (last < 0) printf("never pays (slower already at density %.2f)\n", dens[0]);
            else if (last == ND - 1) printf("pays at every density measured (to %.2f)\n", dens[ND - 1]);
            else printf("pays up to density %.2f, not from %.2f\n", dens[last], dens[last + 1]);
        }
    return 0;
}
