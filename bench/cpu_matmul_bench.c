/* The C side of bench/cpu_matmul.sh: hwadapt against a direct oneDNN call and
 * OpenBLAS, in one process with one thread count. Every result is checked
 * against an independent computation before it is timed. Prints one TSV row
 * per measurement:
 *   case <TAB> impl <TAB> median_ms <TAB> min_ms <TAB> max_ms <TAB> work <TAB> unit <TAB> max_abs_err <TAB> kernel
 * where work / median is the rate (GFLOP for products, GB for memory).
 * Arguments: threads, "quick" or "full", and optionally a batch (1, 64 or
 * 256) to run that Linear's rows alone. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hwadapt/hwadapt.h"

#if defined(HWA_BENCH_ONEDNN)
#include <oneapi/dnnl/dnnl.h>
#endif
#if defined(HWA_BENCH_OPENBLAS)
#include <cblas.h>
#endif

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef void (*run_fn)(void *arg);

/* Times fn: warm-up, then reps runs (capped at budget_ms); prints the row. */
static void timed(const char *cas, const char *impl, run_fn fn, void *arg, int reps, double work, const char *unit,
                  double err, const char *kernel) {
    double t[512];
    if (reps > 512) reps = 512;
    fn(arg);
    int n = 0;
    const double start = now_ms();
    for (; n < reps; n++) {
        double t0 = now_ms();
        fn(arg);
        t[n] = now_ms() - t0;
        if (n >= 4 && now_ms() - start > 4000) {
            n++;
            break;
        }
    }
    qsort(t, (size_t)n, sizeof t[0], cmp_d);
    printf("%s\t%s\t%.4f\t%.4f\t%.4f\t%.6g\t%s\t%.3g\t%s\n", cas, impl, t[n / 2], t[0], t[n - 1], work, unit, err,
           kernel ? kernel : "");
    fflush(stdout);
}

static void fill(float *p, size_t n, unsigned seed, float scale) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = ((float)(seed >> 8) / 16777216.0f * 2.0f - 1.0f) * scale;
    }
}

static double max_abs(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - (double)b[i]));
    return m;
}

/* y = x W^T + b in double, the independent check. */
static void linear_ref(const float *x, const float *w, const float *b, float *y, int M, int N, int K) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = b ? b[n] : 0;
            for (int k = 0; k < K; k++) s += (double)x[m * K + k] * w[n * K + k];
            y[m * N + n] = (float)s;
        }
}

/* ---- hwadapt ------------------------------------------------------------ */

typedef struct hw_run {
    hwa_graph *g;
    hwa_backend *be;
} hw_run;

static void hw_compute(void *arg) {
    hw_run *r = arg;
    if (hwa_graph_compute(r->g, r->be)) {
        fprintf(stderr, "hwadapt compute failed: %s\n", hwa_last_error());
        exit(1);
    }
}

/* Linear through hwadapt at a precision; out receives y. */
static void hw_linear(const char *cas, int M, int N, int K, const float *x, const float *w, const float *b, int threads,
                      hwa_matmul_precision prec, const char *impl, float *out, const float *want, int reps) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *tx = hwa_tensor_new_2d(ctx, HWA_F32, M, K), *tw = hwa_tensor_new_2d(ctx, HWA_F32, N, K);
    hwa_tensor *tb = b ? hwa_tensor_new_1d(ctx, HWA_F32, N) : NULL;
    hwa_tensor *y = hwa_matmul_ex(ctx, tx, tw, false, true);
    if (b) y = hwa_bias_add(ctx, y, tb);
    hw_run r = {hwa_graph_new(ctx), hwa_backend_new(ctx, "cpu")};
    if (!y || !r.be || hwa_graph_build_forward(r.g, y) || hwa_ctx_alloc_leaves(ctx, r.be) ||
        hwa_tensor_set_f32(tx, x, (int64_t)M * K) || hwa_tensor_set_f32(tw, w, (int64_t)N * K) ||
        (b && hwa_tensor_set_f32(tb, b, N)) || hwa_backend_set_threads(r.be, threads) ||
        hwa_backend_set_matmul_precision(r.be, prec)) {
        fprintf(stderr, "hwadapt setup failed: %s\n", hwa_ctx_last_error(ctx));
        exit(1);
    }
    hw_compute(&r);
    hwa_tensor_get_f32(y, out, (int64_t)M * N);
    const double err = max_abs(out, want, (size_t)M * N);
    const char *kern = hwa_backend_kernel_name(r.be, hwa_graph_node(r.g, 0));
    char kbuf[128];
    snprintf(kbuf, sizeof kbuf, "%s", kern);
    if (prec == HWA_MATMUL_PRECISION_F32 && err > 1e-3 * K / 1000.0 + 1e-4) {
        fprintf(stderr, "%s %s: max abs error %g: wrong result\n", cas, impl, err);
        exit(1);
    }
    timed(cas, impl, hw_compute, &r, reps, 2.0 * M * N * K * 1e-9, "GFLOP", err, kbuf);
    hwa_backend_free(r.be);
    hwa_ctx_free(ctx);
}

/* Elementwise op over [R, C] through hwadapt. */
static void hw_elementwise(const char *cas, const char *op, int64_t R, int64_t C, int threads, int reps) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *a = hwa_tensor_new_2d(ctx, HWA_F32, R, C), *b = hwa_tensor_new_2d(ctx, HWA_F32, R, C);
    hwa_tensor *y = !strcmp(op, "add") ? hwa_add(ctx, a, b) : !strcmp(op, "relu") ? hwa_relu(ctx, a) : hwa_softmax(ctx, a);
    hw_run r = {hwa_graph_new(ctx), hwa_backend_new(ctx, "cpu")};
    if (!y || !r.be || hwa_graph_build_forward(r.g, y) || hwa_ctx_alloc_leaves(ctx, r.be) ||
        hwa_tensor_fill_uniform(a, -1, 1) || hwa_tensor_fill_uniform(b, -1, 1) || hwa_backend_set_threads(r.be, threads)) {
        fprintf(stderr, "hwadapt setup failed: %s\n", hwa_ctx_last_error(ctx));
        exit(1);
    }
    hw_compute(&r);
    /* check: a few rows against a direct computation */
    const float *pa = hwa_tensor_data(a), *pb = hwa_tensor_data(b), *py = hwa_tensor_data(y);
    double err = 0;
    for (int64_t i = 0; i < (R < 4 ? R : 4); i++) {
        const int64_t rr = i * (R - 1) / 3;
        double mx = -INFINITY, s = 0;
        for (int64_t j = 0; j < C; j++) mx = fmax(mx, pa[rr * C + j]);
        for (int64_t j = 0; j < C; j++) s += exp(pa[rr * C + j] - mx);
        for (int64_t j = 0; j < C; j++) {
            const int64_t k = rr * C + j;
            double want = !strcmp(op, "add") ? (double)pa[k] + pb[k] : !strcmp(op, "relu") ? fmax(pa[k], 0.0) : exp(pa[k] - mx) / s;
            err = fmax(err, fabs(want - py[k]));
        }
    }
    if (err > 1e-5) {
        fprintf(stderr, "%s: max abs error %g: wrong result\n", cas, err);
        exit(1);
    }
    const double bytes = (double)R * C * 4 * (!strcmp(op, "add") ? 3 : 2);
    timed(cas, "hwadapt", hw_compute, &r, reps, bytes * 1e-9, "GB", err, hwa_backend_kernel_name(r.be, y));
    hwa_backend_free(r.be);
    hwa_ctx_free(ctx);
}

/* ---- direct oneDNN ------------------------------------------------------ */

#if defined(HWA_BENCH_ONEDNN)
typedef struct dn_run {
    dnnl_engine_t eng;
    dnnl_stream_t s;
    dnnl_primitive_t prim;
    dnnl_exec_arg_t args[4];
    int nargs;
} dn_run;

static void dn_exec(void *arg) {
    dn_run *r = arg;
    dnnl_primitive_execute(r->prim, r->s, r->nargs, r->args);
    dnnl_stream_wait(r->s);
}

#define DN(call)                                                         \
    do {                                                                 \
        if ((call) != dnnl_success) {                                    \
            fprintf(stderr, "oneDNN call failed: %s\n", #call);          \
            exit(1);                                                     \
        }                                                                \
    } while (0)

/* The way oneDNN's own examples do inference: the primitive made once with
 * weights in the layout it prefers, reordered once; bias fused. */
/* With dt == dnnl_bf16 the activations and weights are handed over already
 * in bf16 (converted before timing), bias and result in f32: the best a
 * direct caller can do with AMX. */
static void dn_linear(const char *cas, int M, int N, int K, const float *x, const float *w, const float *b, float *y,
                      const float *want, int reps, dnnl_data_type_t dt) {
    dn_run r = {0};
    uint16_t *x16 = NULL, *w16 = NULL;
    const void *xa = x, *wa = w;
    if (dt == dnnl_bf16) {
        x16 = malloc(sizeof *x16 * (size_t)M * K);
        w16 = malloc(sizeof *w16 * (size_t)N * K);
        if (!x16 || !w16) {
            fprintf(stderr, "%s onednn bf16: out of memory\n", cas);
            exit(1);
        }
        for (size_t i = 0; i < (size_t)M * K; i++) x16[i] = hwa_f32_to_bf16(x[i]);
        for (size_t i = 0; i < (size_t)N * K; i++) w16[i] = hwa_f32_to_bf16(w[i]);
        xa = x16;
        wa = w16;
    }
    DN(dnnl_engine_create(&r.eng, dnnl_cpu, 0));
    DN(dnnl_stream_create(&r.s, r.eng, dnnl_stream_default_flags));
    dnnl_memory_desc_t a_md, w_any, w_plain, b_md, c_md;
    dnnl_dims_t ad = {M, K}, wd = {K, N}, bd = {1, N}, cd = {M, N}, wstr = {1, K};
    DN(dnnl_memory_desc_init_by_tag(&a_md, 2, ad, dt, dnnl_ab));
    DN(dnnl_memory_desc_init_by_tag(&w_any, 2, wd, dt, dnnl_format_tag_any));
    DN(dnnl_memory_desc_init_by_strides(&w_plain, 2, wd, dt, wstr));
    DN(dnnl_memory_desc_init_by_tag(&b_md, 2, bd, dnnl_f32, dnnl_ab));
    DN(dnnl_memory_desc_init_by_tag(&c_md, 2, cd, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t desc;
    DN(dnnl_matmul_desc_init(&desc, &a_md, &w_any, b ? &b_md : NULL, &c_md));
    dnnl_primitive_desc_t pd;
    DN(dnnl_primitive_desc_create(&pd, &desc, NULL, r.eng, NULL));
    const dnnl_memory_desc_t *w_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_memory_t ma, mw_plain, mw, mb = NULL, mc;
    DN(dnnl_memory_create(&ma, &a_md, r.eng, (void *)xa));
    DN(dnnl_memory_create(&mw_plain, &w_plain, r.eng, (void *)wa));
    DN(dnnl_memory_create(&mw, w_md, r.eng, DNNL_MEMORY_ALLOCATE));
    if (b) DN(dnnl_memory_create(&mb, &b_md, r.eng, (void *)b));
    DN(dnnl_memory_create(&mc, &c_md, r.eng, y));
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t rp;
    DN(dnnl_reorder_primitive_desc_create(&rpd, &w_plain, r.eng, w_md, r.eng, NULL));
    DN(dnnl_primitive_create(&rp, rpd));
    dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, mw_plain}, {DNNL_ARG_TO, mw}};
    DN(dnnl_primitive_execute(rp, r.s, 2, rargs));
    DN(dnnl_stream_wait(r.s));
    DN(dnnl_primitive_create(&r.prim, pd));
    const char *impl = "";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    char kbuf[64];
    snprintf(kbuf, sizeof kbuf, "%s", impl);
    r.args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, ma};
    r.args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, mw};
    r.args[2] = (dnnl_exec_arg_t){DNNL_ARG_DST, mc};
    r.nargs = 3;
    if (b) r.args[r.nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, mb};
    dn_exec(&r);
    const double err = max_abs(y, want, (size_t)M * N);
    /* bf16 keeps 8 bits of mantissa: its products are checked loosely, and
     * the error is reported like hwadapt's bf16 rows. */
    const double tol = dt == dnnl_bf16 ? 0.05 : 1e-3 * K / 1000.0 + 1e-4;
    if (err > tol) {
        fprintf(stderr, "%s onednn: max abs error %g: wrong result\n", cas, err);
        exit(1);
    }
    timed(cas, dt == dnnl_bf16 ? "onednn-bf16" : "onednn", dn_exec, &r, reps, 2.0 * M * N * K * 1e-9, "GFLOP", err,
          kbuf);
    free(x16);
    free(w16);
    dnnl_primitive_destroy(rp);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_primitive_destroy(r.prim);
    dnnl_primitive_desc_destroy(pd);
    dnnl_memory_t ms[5] = {ma, mw_plain, mw, mb, mc};
    for (int i = 0; i < 5; i++)
        if (ms[i]) dnnl_memory_destroy(ms[i]);
    dnnl_stream_destroy(r.s);
    dnnl_engine_destroy(r.eng);
}
#endif

/* ---- OpenBLAS ----------------------------------------------------------- */

#if defined(HWA_BENCH_OPENBLAS)
typedef struct ob_run {
    int M, N, K;
    const float *x, *w, *b;
    float *y;
} ob_run;

static void ob_exec(void *arg) {
    ob_run *r = arg;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r->M, r->N, r->K, 1.0f, r->x, r->K, r->w, r->K, 0.0f, r->y, r->N);
    if (r->b)
        for (int m = 0; m < r->M; m++)
            for (int n = 0; n < r->N; n++) r->y[(size_t)m * r->N + n] += r->b[n];
}

static void ob_linear(const char *cas, int M, int N, int K, const float *x, const float *w, const float *b, float *y,
                      const float *want, int threads, int reps) {
    openblas_set_num_threads(threads);
    ob_run r = {M, N, K, x, w, b, y};
    ob_exec(&r);
    const double err = max_abs(y, want, (size_t)M * N);
    if (err > 1e-3 * K / 1000.0 + 1e-4) {
        fprintf(stderr, "%s openblas: max abs error %g: wrong result\n", cas, err);
        exit(1);
    }
    timed(cas, "openblas", ob_exec, &r, reps, 2.0 * M * N * K * 1e-9, "GFLOP", err, "sgemm");
}
#endif

/* ---- memory bandwidth --------------------------------------------------- */

typedef struct copy_run {
    float *d;
    const float *s;
    size_t n;
    int threads;
} copy_run;

/* STREAM's copy, split across the threads: read n floats, write n floats. */
static void copy_exec(void *arg) {
    copy_run *r = arg;
    const size_t chunk = (r->n / (size_t)r->threads + 15) & ~(size_t)15;
#pragma omp parallel for num_threads(r->threads)
    for (int t = 0; t < r->threads; t++) {
        const size_t i0 = (size_t)t * chunk;
        if (i0 < r->n) memcpy(r->d + i0, r->s + i0, (r->n - i0 < chunk ? r->n - i0 : chunk) * sizeof(float));
    }
}

int main(int argc, char **argv) {
    const int threads = argc > 1 ? atoi(argv[1]) : 2;
    const int quick = argc > 2 && !strcmp(argv[2], "quick");
    /* a third argument, a batch (1, 64 or 256): that Linear's rows alone */
    const int only = argc > 3 ? atoi(argv[3]) : 0;
    /* Linear 1000 -> 1000 at batch 1, 64, 256 */
    const int batches[3] = {1, 64, 256};
    const int K = 1000, N = 1000;
    float *w = malloc(sizeof(float) * N * K), *b = malloc(sizeof(float) * N);
    fill(w, (size_t)N * K, 7, 0.03f);
    fill(b, N, 9, 0.1f);
    for (int bi = 0; bi < 3; bi++) {
        const int M = batches[bi];
        if (only && M != only) continue;
        const int reps = quick ? 10 : M == 1 ? 400 : M == 64 ? 200 : 60;
        char cas[64];
        snprintf(cas, sizeof cas, "linear1000 b%d", M);
        float *x = malloc(sizeof(float) * M * K), *want = malloc(sizeof(float) * M * N), *y = malloc(sizeof(float) * M * N);
        float *y32 = malloc(sizeof(float) * M * N);
        fill(x, (size_t)M * K, 3 + M, 1.0f);
        linear_ref(x, w, b, want, M, N, K);
        hw_linear(cas, M, N, K, x, w, b, threads, HWA_MATMUL_PRECISION_F32, "hwadapt", y32, want, reps);
#if defined(HWA_BENCH_ONEDNN)
        dn_linear(cas, M, N, K, x, w, b, y, want, reps, dnnl_f32);
        dn_linear(cas, M, N, K, x, w, b, y, want, reps, dnnl_bf16);
#endif
#if defined(HWA_BENCH_OPENBLAS)
        ob_linear(cas, M, N, K, x, w, b, y, want, threads, reps);
#endif
        /* lower precisions: error against hwadapt's own f32 result */
        hw_linear(cas, M, N, K, x, w, b, threads, HWA_MATMUL_PRECISION_BF16, "hwadapt-bf16", y, y32, reps);
        hw_linear(cas, M, N, K, x, w, b, threads, HWA_MATMUL_PRECISION_INT8, "hwadapt-int8", y, y32, reps);
        free(x), free(want), free(y), free(y32);
    }
    free(w), free(b);
    if (only) return 0;

    /* GEMM 2048^3 (as a Linear without bias: y = x w^T) */
    {
        const int M = 2048, G = 2048;
        const int reps = quick ? 3 : 7;
        float *x = malloc(sizeof(float) * M * G), *wg = malloc(sizeof(float) * G * G), *y = malloc(sizeof(float) * M * G);
        float *want = malloc(sizeof(float) * M * G);
        fill(x, (size_t)M * G, 11, 1.0f);
        fill(wg, (size_t)G * G, 13, 0.02f);
        /* the check: a full product by OpenBLAS or oneDNN is what is timed, so
         * compare a sample of rows against double sums */
        memset(want, 0, sizeof(float) * M * G);
        for (int m = 0; m < M; m += 511) linear_ref(x + (size_t)m * G, wg, NULL, want + (size_t)m * G, 1, G, G);
        float *y2 = malloc(sizeof(float) * M * G);
        hw_linear("gemm2048", M, G, G, x, wg, NULL, threads, HWA_MATMUL_PRECISION_F32, "hwadapt", y2,
                  y2 /* checked below */, reps);
        for (int m = 0; m < M; m += 511) {
            double e = max_abs(y2 + (size_t)m * G, want + (size_t)m * G, G);
            if (e > 1e-3) {
                fprintf(stderr, "gemm2048 hwadapt: row %d max abs error %g\n", m, e);
                return 1;
            }
        }
#if defined(HWA_BENCH_ONEDNN)
        dn_linear("gemm2048", M, G, G, x, wg, NULL, y, y2, reps, dnnl_f32);
#endif
#if defined(HWA_BENCH_OPENBLAS)
        ob_linear("gemm2048", M, G, G, x, wg, NULL, y, y2, threads, reps);
#endif
        free(x), free(wg), free(y), free(y2), free(want);
    }

    /* elementwise and softmax */
    const char *ops[3] = {"add", "relu", "softmax"};
    for (int o = 0; o < 3; o++) {
        char cas[64];
        snprintf(cas, sizeof cas, "%s 64x1000", ops[o]);
        hw_elementwise(cas, ops[o], 64, 1000, threads, quick ? 10 : 300);
        snprintf(cas, sizeof cas, "%s 4096x4096", ops[o]);
        hw_elementwise(cas, ops[o], 4096, 4096, threads, quick ? 3 : 15);
    }
    /* add/relu over 16M f32 against the machine's copy bandwidth */
    {
        const size_t n = (size_t)1 << 24;
        float *s = malloc(n * sizeof(float)), *d = malloc(n * sizeof(float));
        fill(s, n, 5, 1.0f);
        memset(d, 0, n * sizeof(float));
        copy_run r = {d, s, n, threads};
        copy_exec(&r);
        if (memcmp(d, s, n * sizeof(float)) != 0) return 1;
        timed("copy 16M", "memcpy", copy_exec, &r, quick ? 3 : 15, 2.0 * n * 4 * 1e-9, "GB", 0, "read+write");
        free(s), free(d);
        hw_elementwise("add 16M", "add", 4096, 4096, threads, quick ? 3 : 15);
        hw_elementwise("relu 16M", "relu", 4096, 4096, threads, quick ? 3 : 15);
    }
    return 0;
}
