/* conv_bench [--reps R] [--threads N] [--quick]
 *
 * hwa_conv2d (f32, no bias) on three ResNet-50 layers (3x3 64->64 at 56x56,
 * 3x3 256->256 at 14x14, 1x1 1024->256 at 14x14; batch 1 and 32) through
 * hwadapt's graph on the CPU backend, against oneDNN called directly in the
 * same process, two ways:
 *   prim   the convolution primitive alone, its input, weights and output
 *          already in the layouts it chose (format_tag::any): the best a
 *          caller who keeps oneDNN's layouts throughout can get;
 *   nchw   the same primitive fed from and back to plain NCHW buffers (a
 *          reorder of x before, of y after; weights reordered once): what
 *          a caller holding NCHW tensors, as hwadapt's graph does, pays.
 * Each layer is validated first (hwadapt's result against the peer's, by
 * normalised mean squared error), then timed: R repetitions, each running
 * hwadapt, prim and nchw for about 20 ms apiece (interleaved, so a machine's
 * drift reaches all three); medians, the spread (min..max) of hwadapt's, and
 * the ratios peer / hwadapt (1.00 = as fast as the peer; the goal is >= 0.95
 * against prim). Without oneDNN in the build it prints hwadapt's times only. */
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

typedef struct layer {
    const char *name;
    int64_t C, H, W, O, K;
    int stride, pad;
} layer;

static const layer layers[] = {
    {"res2 3x3 64->64 56x56", 64, 56, 56, 64, 3, 1, 1},
    {"res4 3x3 256->256 14x14", 256, 14, 14, 256, 3, 1, 1},
    {"res4 1x1 1024->256 14x14", 1024, 14, 14, 256, 1, 1, 0},
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float urand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

#if defined(HWA_BENCH_ONEDNN)
/* The direct oneDNN peer of one layer. */
typedef struct peer {
    dnnl_engine_t eng;
    dnnl_stream_t st;
    dnnl_primitive_t conv, rx, ry;        /* rx / ry NULL when the layout is plain */
    dnnl_memory_t x_user, y_user, x, w, y; /* x, w, y in the primitive's layouts */
} peer;

static int peer_new(peer *p, int64_t N, const layer *l, int64_t OH, float *xv, const float *wv, float *yv) {
    memset(p, 0, sizeof *p);
    dnnl_dims_t xd = {N, l->C, l->H, l->W}, wd = {l->O, l->C, l->K, l->K}, yd = {N, l->O, OH, OH};
    dnnl_dims_t s = {l->stride, l->stride}, pad = {l->pad, l->pad};
    dnnl_memory_desc_t xa, wa, ya, xp, wp, yp;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL, r = NULL;
    bool ok = dnnl_engine_create(&p->eng, dnnl_cpu, 0) == dnnl_success &&
              dnnl_stream_create(&p->st, p->eng, dnnl_stream_default_flags) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&xa, 4, xd, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&wa, 4, wd, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&ya, 4, yd, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&xp, 4, xd, dnnl_f32, dnnl_nchw) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&wp, 4, wd, dnnl_f32, dnnl_oihw) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&yp, 4, yd, dnnl_f32, dnnl_nchw) == dnnl_success &&
              dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &xa, &wa, NULL,
                                                 &ya, s, pad, pad) == dnnl_success &&
              dnnl_primitive_desc_create(&pd, &cd, NULL, p->eng, NULL) == dnnl_success &&
              dnnl_primitive_create(&p->conv, pd) == dnnl_success;
    const dnnl_memory_desc_t *xm = ok ? dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0) : NULL;
    const dnnl_memory_desc_t *wm = ok ? dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0) : NULL;
    const dnnl_memory_desc_t *ym = ok ? dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0) : NULL;
    dnnl_memory_t w_user = NULL;
    ok = ok && dnnl_memory_create(&p->x_user, &xp, p->eng, xv) == dnnl_success &&
         dnnl_memory_create(&p->y_user, &yp, p->eng, yv) == dnnl_success &&
         dnnl_memory_create(&w_user, &wp, p->eng, (void *)wv) == dnnl_success &&
         dnnl_memory_create(&p->x, xm, p->eng, DNNL_MEMORY_ALLOCATE) == dnnl_success &&
         dnnl_memory_create(&p->w, wm, p->eng, DNNL_MEMORY_ALLOCATE) == dnnl_success &&
         dnnl_memory_create(&p->y, ym, p->eng, DNNL_MEMORY_ALLOCATE) == dnnl_success;
    /* the reorders: x in, y out, and the weights once, here */
    dnnl_primitive_t rw = NULL;
    ok = ok && dnnl_reorder_primitive_desc_create(&r, &wp, p->eng, wm, p->eng, NULL) == dnnl_success &&
         dnnl_primitive_create(&rw, r) == dnnl_success;
    if (r) dnnl_primitive_desc_destroy(r), r = NULL;
    dnnl_exec_arg_t wa2[2] = {{DNNL_ARG_FROM, w_user}, {DNNL_ARG_TO, p->w}};
    ok = ok && dnnl_primitive_execute(rw, p->st, 2, wa2) == dnnl_success && dnnl_stream_wait(p->st) == dnnl_success;
    if (rw) dnnl_primitive_destroy(rw);
    if (w_user) dnnl_memory_destroy(w_user);
    if (ok && !dnnl_memory_desc_equal(xm, &xp))
        ok = dnnl_reorder_primitive_desc_create(&r, &xp, p->eng, xm, p->eng, NULL) == dnnl_success &&
             dnnl_primitive_create(&p->rx, r) == dnnl_success;
    if (r) dnnl_primitive_desc_destroy(r), r = NULL;
    if (ok && !dnnl_memory_desc_equal(ym, &yp))
        ok = dnnl_reorder_primitive_desc_create(&r, ym, p->eng, &yp, p->eng, NULL) == dnnl_success &&
             dnnl_primitive_create(&p->ry, r) == dnnl_success;
    if (r) dnnl_primitive_desc_destroy(r);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return ok ? 0 : -1;
}

static void peer_free(peer *p) {
    dnnl_primitive_t ps[3] = {p->conv, p->rx, p->ry};
    dnnl_memory_t ms[5] = {p->x_user, p->y_user, p->x, p->w, p->y};
    for (int i = 0; i < 3; i++)
        if (ps[i]) dnnl_primitive_destroy(ps[i]);
    for (int i = 0; i < 5; i++)
        if (ms[i]) dnnl_memory_destroy(ms[i]);
    if (p->st) dnnl_stream_destroy(p->st);
    if (p->eng) dnnl_engine_destroy(p->eng);
}

static int run_reorder(peer *p, dnnl_primitive_t r, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    return dnnl_primitive_execute(r, p->st, 2, a) == dnnl_success ? 0 : -1;
}

/* One run: the primitive alone, or with the plain layouts' reorders. */
static int peer_run(peer *p, bool nchw) {
    if (nchw && p->rx && run_reorder(p, p->rx, p->x_user, p->x)) return -1;
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_SRC, nchw && !p->rx ? p->x_user : p->x},
                            {DNNL_ARG_WEIGHTS, p->w},
                            {DNNL_ARG_DST, nchw && !p->ry ? p->y_user : p->y}};
    if (dnnl_primitive_execute(p->conv, p->st, 3, a) != dnnl_success) return -1;
    if (nchw && p->ry && run_reorder(p, p->ry, p->y, p->y_user)) return -1;
    return dnnl_stream_wait(p->st) == dnnl_success ? 0 : -1;
}
#endif

typedef struct job {
    hwa_graph *g;
    hwa_backend *be;
#if defined(HWA_BENCH_ONEDNN)
    peer *p;
#endif
} job;

/* One run of what `which` names: 0 hwadapt, 1 the primitive, 2 it with
 * the NCHW reorders. */
static int run_one(void *ud, int which) {
    const job *j = ud;
#if defined(HWA_BENCH_ONEDNN)
    if (which > 0) return peer_run(j->p, which == 2);
#endif
    return which == 0 && hwa_graph_compute(j->g, j->be) != HWA_OK;
}

int main(int argc, char **argv) {
    int reps = 9, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) reps = 3;
        else {
            fprintf(stderr, "usage: conv_bench [--reps R] [--threads N] [--quick]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > 1000) reps = 9;
    static const int64_t batches[2] = {1, 32};
    const int nwhich = 3;
    printf("%-26s %5s %8s %10s %16s %10s %10s %8s %8s  %s\n", "layer", "batch", "GFLOP", "hwa_ms", "hwa min..max",
           "prim_ms", "nchw_ms", "prim/hwa", "nchw/hwa", "hwadapt kernel");
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++)
        for (int bi = 0; bi < 2; bi++) {
            const layer *l = &layers[li];
            const int64_t N = batches[bi], OH = (l->H + 2 * l->pad - l->K) / l->stride + 1;
            const int64_t nx = N * l->C * l->H * l->W, nw = l->O * l->C * l->K * l->K, ny = N * l->O * OH * OH;
            float *xv = malloc((size_t)nx * sizeof *xv), *wv = malloc((size_t)nw * sizeof *wv);
            float *yh = malloc((size_t)ny * sizeof *yh), *yp = calloc((size_t)ny, sizeof *yp);
            if (!xv || !wv || !yh || !yp) return 1;
            for (int64_t i = 0; i < nx; i++) xv[i] = urand();
            for (int64_t i = 0; i < nw; i++) wv[i] = urand() * 0.1f;
            hwa_ctx *ctx = hwa_ctx_new(NULL);
            hwa_tensor *x = hwa_tensor_new_4d(ctx, HWA_F32, N, l->C, l->H, l->W);
            hwa_tensor *w = hwa_tensor_new_4d(ctx, HWA_F32, l->O, l->C, l->K, l->K);
            const hwa_conv2d_params cp = {{l->stride, l->stride}, {l->pad, l->pad, l->pad, l->pad}, {1, 1}, 1};
            hwa_tensor *y = hwa_conv2d(ctx, x, w, NULL, &cp);
            job j;
            memset(&j, 0, sizeof j);
            j.g = hwa_graph_new(ctx);
            if (!y || !j.g || hwa_graph_build_forward(j.g, y) || !(j.be = hwa_backend_new(ctx, "cpu")) ||
                (threads > 0 && hwa_backend_set_threads(j.be, threads)) || hwa_ctx_alloc_leaves(ctx, j.be) ||
                hwa_tensor_set_f32(x, xv, nx) || hwa_tensor_set_f32(w, wv, nw) || hwa_graph_compute(j.g, j.be) ||
                hwa_tensor_get_f32(y, yh, ny)) {
                fprintf(stderr, "conv_bench: %s\n", hwa_last_error());
                return 1;
            }
            char kname[64];
            snprintf(kname, sizeof kname, "%s", hwa_backend_kernel_name(j.be, y));
            int nw_run = 1;
#if defined(HWA_BENCH_ONEDNN)
            /* the peer plans for the threads hwadapt runs */
            omp_set_num_threads(hwa_backend_threads(j.be));
            peer p;
            if (peer_new(&p, N, l, OH, xv, wv, yp) || peer_run(&p, true)) {
                fprintf(stderr, "conv_bench: %s: oneDNN failed\n", l->name);
                return 1;
            }
            j.p = &p;
            const double e = bench_nmse(yp, yh, ny);
            if (!(e < 1e-10)) {
                fprintf(stderr, "conv_bench: %s batch %lld: hwadapt differs from oneDNN (nmse %.3g)\n", l->name,
                        (long long)N, e);
                return 1;
            }
            nw_run = nwhich;
#endif
            double *t[3];
            for (int k = 0; k < 3; k++) t[k] = calloc((size_t)reps, sizeof(double));
            double med[3] = {0, 0, 0};
            bench_interleave(run_one, &j, nw_run, reps, t, med); /* sorts: t[k][0] is the min */
            const double gflop = 2.0 * (double)ny * (double)(l->C * l->K * l->K) * 1e-9;
            char spread[32];
            snprintf(spread, sizeof spread, "%.3f..%.3f", t[0][0] * 1e3, t[0][reps - 1] * 1e3);
            printf("%-26s %5lld %8.2f %10.3f %16s %10.3f %10.3f %8.2f %8.2f  %s\n", l->name, (long long)N, gflop,
                   med[0] * 1e3, spread, med[1] * 1e3, med[2] * 1e3, med[0] > 0 ? med[1] / med[0] : 0,
                   med[0] > 0 ? med[2] / med[0] : 0, kname);
            fflush(stdout);
            for (int k = 0; k < 3; k++) free(t[k]);
#if defined(HWA_BENCH_ONEDNN)
            peer_free(&p);
#endif
            hwa_backend_free(j.be);
            hwa_ctx_free(ctx);
            free(xv), free(wv), free(yh), free(yp);
        }
    return 0;
}
