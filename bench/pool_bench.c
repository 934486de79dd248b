/* pool_bench [--reps R] [--threads N] [--quick]
 *
 * hwa_pool2d (max 3x3, stride 2, pad 1: ResNet's stem pooling) on
 * [N, 64, 112, 112] for N = 1 and 32, forward and forward+backward (the
 * gradient of sum(y * y): POOL2D_BACK), through hwadapt's graph on the CPU
 * backend, against oneDNN's pooling primitive called directly in the same
 * process, two ways:
 *   nchw   the primitive on plain NCHW buffers, as hwadapt keeps them;
 *   blk    the primitive on a blocked layout (nChw16c), its input reordered
 *          in before and its output out after: what a blocked layout costs
 *          a caller holding NCHW tensors.
 *   blk0   the same primitive alone, input and output already blocked.
 * The forward row is validated first (bits against the nchw peer), then
 * timed: R repetitions each running every candidate for about 20 ms,
 * interleaved; medians and the spread (min..max) of hwadapt's. The backward
 * row times hwadapt only (its kernel name says which ran). Run with
 * HWA_ISA=scalar for the OpenMP kernels (the libraries are off there). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "hwadapt/hwadapt.h"

#if defined(HWA_BENCH_ONEDNN)
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#endif

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float urand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

#if defined(HWA_BENCH_ONEDNN)
typedef struct peer {
    dnnl_engine_t eng;
    dnnl_stream_t st;
    dnnl_primitive_t plain, blk, rx, ry;
    dnnl_memory_t x, y, xb, yb;
} peer;

static bool pool_prim(peer *p, const dnnl_memory_desc_t *x, const dnnl_memory_desc_t *y, dnnl_primitive_t *out) {
    dnnl_dims_t s = {2, 2}, k = {3, 3}, pad = {1, 1};
    dnnl_pooling_desc_t d;
    dnnl_primitive_desc_t pd = NULL;
    bool ok = dnnl_pooling_forward_desc_init(&d, dnnl_forward_inference, dnnl_pooling_max, x, y, s, k, pad, pad) ==
                  dnnl_success &&
              dnnl_primitive_desc_create(&pd, &d, NULL, p->eng, NULL) == dnnl_success &&
              dnnl_primitive_create(out, pd) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    return ok;
}

static bool reorder(peer *p, const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b, dnnl_primitive_t *out) {
    dnnl_primitive_desc_t pd = NULL;
    bool ok = dnnl_reorder_primitive_desc_create(&pd, a, p->eng, b, p->eng, NULL) == dnnl_success &&
              dnnl_primitive_create(out, pd) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    return ok;
}

static int peer_new(peer *p, int64_t N, int64_t OH, float *xv, float *yv) {
    memset(p, 0, sizeof *p);
    dnnl_dims_t xd = {N, 64, 112, 112}, yd = {N, 64, OH, OH};
    dnnl_memory_desc_t xp, yp, xb, yb;
    bool ok = dnnl_engine_create(&p->eng, dnnl_cpu, 0) == dnnl_success &&
              dnnl_stream_create(&p->st, p->eng, dnnl_stream_default_flags) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&xp, 4, xd, dnnl_f32, dnnl_nchw) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&yp, 4, yd, dnnl_f32, dnnl_nchw) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&xb, 4, xd, dnnl_f32, dnnl_nChw16c) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&yb, 4, yd, dnnl_f32, dnnl_nChw16c) == dnnl_success &&
              pool_prim(p, &xp, &yp, &p->plain) && pool_prim(p, &xb, &yb, &p->blk) && reorder(p, &xp, &xb, &p->rx) &&
              reorder(p, &yb, &yp, &p->ry) && dnnl_memory_create(&p->x, &xp, p->eng, xv) == dnnl_success &&
              dnnl_memory_create(&p->y, &yp, p->eng, yv) == dnnl_success &&
              dnnl_memory_create(&p->xb, &xb, p->eng, DNNL_MEMORY_ALLOCATE) == dnnl_success &&
              dnnl_memory_create(&p->yb, &yb, p->eng, DNNL_MEMORY_ALLOCATE) == dnnl_success;
    return ok ? 0 : -1;
}

static void peer_free(peer *p) {
    dnnl_primitive_t ps[4] = {p->plain, p->blk, p->rx, p->ry};
    dnnl_memory_t ms[4] = {p->x, p->y, p->xb, p->yb};
    for (int i = 0; i < 4; i++) {
        if (ps[i]) dnnl_primitive_destroy(ps[i]);
        if (ms[i]) dnnl_memory_destroy(ms[i]);
    }
    if (p->st) dnnl_stream_destroy(p->st);
    if (p->eng) dnnl_engine_destroy(p->eng);
}

static int exec2(peer *p, dnnl_primitive_t prim, int a0, dnnl_memory_t m0, int a1, dnnl_memory_t m1) {
    dnnl_exec_arg_t a[2] = {{a0, m0}, {a1, m1}};
    return dnnl_primitive_execute(prim, p->st, 2, a) == dnnl_success ? 0 : -1;
}

/* 1 nchw, 2 blk (with reorders), 3 blk0 (alone) */
static int peer_run(peer *p, int which) {
    int bad = 0;
    if (which == 1) bad = exec2(p, p->plain, DNNL_ARG_SRC, p->x, DNNL_ARG_DST, p->y);
    if (which == 2) bad = exec2(p, p->rx, DNNL_ARG_FROM, p->x, DNNL_ARG_TO, p->xb);
    if (which >= 2) bad = bad || exec2(p, p->blk, DNNL_ARG_SRC, p->xb, DNNL_ARG_DST, p->yb);
    if (which == 2) bad = bad || exec2(p, p->ry, DNNL_ARG_FROM, p->yb, DNNL_ARG_TO, p->y);
    return bad || dnnl_stream_wait(p->st) != dnnl_success ? -1 : 0;
}
#endif

typedef struct job {
    hwa_graph *g;
    hwa_backend *be;
#if defined(HWA_BENCH_ONEDNN)
    peer *p;
#endif
} job;

/* One run of what `which` names: 0 hwadapt, 1-3 oneDNN (peer_run). */
static int run_one(void *ud, int which) {
    const job *j = ud;
#if defined(HWA_BENCH_ONEDNN)
    if (which > 0) return peer_run(j->p, which);
#endif
    return which == 0 && hwa_graph_compute(j->g, j->be) != HWA_OK;
}

/* The graph of pooling x (forward, or with the backward of sum(y*y)). */
static int graph_new(hwa_ctx *ctx, hwa_tensor *x, bool backward, int threads, job *j, hwa_tensor **y) {
    const hwa_pool2d_params pp = {HWA_POOL_MAX, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, false, false};
    *y = hwa_pool2d(ctx, x, &pp);
    hwa_tensor *out = backward ? hwa_sum(ctx, hwa_mul(ctx, *y, *y)) : *y;
    j->g = hwa_graph_new(ctx);
    if (!out || !j->g || hwa_graph_build_forward(j->g, out) ||
        (backward && hwa_graph_build_backward(j->g, out)) ||
        !(j->be = hwa_backend_new(ctx, "cpu")) || (threads > 0 && hwa_backend_set_threads(j->be, threads)))
        return -1;
    return 0;
}

int main(int argc, char **argv) {
    int reps = 9, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) reps = 3;
        else {
            fprintf(stderr, "usage: pool_bench [--reps R] [--threads N] [--quick]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > 1000) reps = 9;
    static const int64_t batches[2] = {1, 32};
    printf("%-28s %10s %16s %10s %10s %10s %9s  %s\n", "max pool 3x3/2 pad 1", "hwa_ms", "hwa min..max", "nchw_ms",
           "blk_ms", "blk0_ms", "nchw/hwa", "hwadapt kernel");
    for (int bi = 0; bi < 2; bi++)
        for (int back = 0; back < 2; back++) {
            const int64_t N = batches[bi], OH = 56, nx = N * 64 * 112 * 112, ny = N * 64 * OH * OH;
            float *xv = malloc((size_t)nx * sizeof *xv), *yh = malloc((size_t)ny * sizeof *yh);
            float *yp = calloc((size_t)ny, sizeof *yp);
            if (!xv || !yh || !yp) return 1;
            for (int64_t i = 0; i < nx; i++) xv[i] = urand();
            hwa_ctx *ctx = hwa_ctx_new(NULL);
            hwa_tensor *x = hwa_tensor_new_4d(ctx, HWA_F32, N, 64, 112, 112), *y = NULL;
            job j;
            memset(&j, 0, sizeof j);
            if (!x || (back && hwa_tensor_set_param(x)) || graph_new(ctx, x, back, threads, &j, &y) ||
                hwa_ctx_alloc_leaves(ctx, j.be) || hwa_tensor_set_f32(x, xv, nx) || hwa_graph_compute(j.g, j.be) ||
                hwa_tensor_get_f32(y, yh, ny)) {
                fprintf(stderr, "pool_bench: %s\n", hwa_last_error());
                return 1;
            }
            char kname[96] = "";
            /* the pooling's kernel, and its backward's: the other node on
             * oneDNN's pooling or the OpenMP kernels (the public API does not
             * say a node's op; HWA_PROFILE=1 times each node) */
            const char *kf = hwa_backend_kernel_name(j.be, y), *kb = NULL;
            for (int i = 0; back && i < hwa_graph_n_nodes(j.g); i++) {
                const hwa_tensor *t = hwa_graph_node(j.g, i);
                const char *k = hwa_backend_kernel_name(j.be, t);
                if (t != y && k && (!strncmp(k, "onednn:pool", 11) || !strcmp(k, "openmp"))) kb = k;
            }
            snprintf(kname, sizeof kname, "%s%s%s", kf ? kf : "?", back ? " / " : "", kb ? kb : back ? "?" : "");
            int nw_run = 1;
#if defined(HWA_BENCH_ONEDNN)
            omp_set_num_threads(hwa_backend_threads(j.be));
            peer p;
            if (peer_new(&p, N, OH, xv, yp) || peer_run(&p, 1)) {
                fprintf(stderr, "pool_bench: oneDNN failed\n");
                return 1;
            }
            j.p = &p;
            if (memcmp(yp, yh, (size_t)ny * sizeof *yp) != 0) {
                fprintf(stderr, "pool_bench: batch %lld: hwadapt's max pooling differs from oneDNN's\n", (long long)N);
                return 1;
            }
            nw_run = back ? 1 : 4;
#endif
            double *t[4];
            for (int k = 0; k < 4; k++) t[k] = calloc((size_t)reps, sizeof(double));
            double med[4] = {0, 0, 0, 0};
            bench_interleave(run_one, &j, nw_run, reps, t, med);
            char row[40], spread[40];
            snprintf(row, sizeof row, "[%lld,64,112,112]%s", (long long)N, back ? " fwd+bwd" : "");
            snprintf(spread, sizeof spread, "%.3f..%.3f", t[0][0] * 1e3, t[0][reps - 1] * 1e3);
            printf("%-28s %10.3f %16s %10.3f %10.3f %10.3f %9.2f  %s\n", row, med[0] * 1e3, spread, med[1] * 1e3,
                   med[2] * 1e3, med[3] * 1e3, med[0] > 0 ? med[1] / med[0] : 0, kname);
            fflush(stdout);
            for (int k = 0; k < 4; k++) free(t[k]);
#if defined(HWA_BENCH_ONEDNN)
            peer_free(&p);
#endif
            hwa_backend_free(j.be);
            hwa_ctx_free(ctx);
            free(xv), free(yh), free(yp);
        }
    return 0;
}
