/* The C side of bench/opencl.sh: hwadapt's opencl:0 against its peers in one
 * process: GEMM against a direct CLBlast call on the same device, add and
 * relu against the device's own copy bandwidth, the seed Linear against the
 * CPU backend. Each result is checked before it is timed; the two sides of
 * a comparison run interleaved (one of each per round), and the rows give
 * the median, min and max of the rounds:
 *   case <TAB> impl <TAB> median_ms <TAB> min_ms <TAB> max_ms <TAB> work <TAB> unit <TAB> max_abs_err <TAB> kernel
 * (work / median is the rate: GFLOP for products, GB for memory).
 *   opencl_bench all [quick]       the three comparisons
 *   opencl_bench first relu|linear  seconds from a new opencl:0 backend to
 *                                   the first result of that graph (one line)
 * The direct calls link OpenCL and CLBlast, as a peer's client would; the
 * hwadapt side opens them at run time like any hwadapt program. */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwadapt/hwadapt.h"

static double now_ms(void) { return hwa_bench_clock_now() * 1e3; }

static void die(const char *what, const char *why) {
    fprintf(stderr, "opencl_bench: %s: %s\n", what, why);
    exit(1);
}

#define CL_OK(call)                                                    \
    do {                                                               \
        cl_int rc_ = (call);                                           \
        if (rc_ != CL_SUCCESS) {                                       \
            char b_[32];                                               \
            snprintf(b_, sizeof b_, "error %d", (int)rc_);             \
            die(#call, b_);                                            \
        }                                                              \
    } while (0)

static void fill(float *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / 8388608.0f - 1.0f;
    }
}

/* ---- the sides of a comparison -------------------------------------------- */

typedef struct side {
    const char *impl;
    void (*run)(void *);
    void *arg;
    double work; /* in the case's unit, per run */
    double err;  /* max abs error of the validated result */
    const char *kernel;
    double t[64];
} side;

/* rounds rounds of one run of each side after a warm-up of each; prints
 * one row per side. */
static void interleaved(const char *cas, side *s, int n, int rounds, const char *unit) {
    if (rounds > 64) rounds = 64;
    for (int i = 0; i < n; i++) s[i].run(s[i].arg);
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++) {
            const double t0 = now_ms();
            s[i].run(s[i].arg);
            s[i].t[r] = now_ms() - t0;
        }
    for (int i = 0; i < n; i++) {
        hwa_bench_stats st;
        if (hwa_bench_stats_compute(s[i].t, rounds, &st)) die(cas, hwa_last_error());
        printf("%s\t%s\t%.4f\t%.4f\t%.4f\t%.6g\t%s\t%.3g\t%s\n", cas, s[i].impl, st.p50, st.min, st.max, s[i].work,
               unit, s[i].err, s[i].kernel);
    }
    fflush(stdout);
}

/* ---- hwadapt graphs ---------------------------------------------------------- */

typedef struct hw_run {
    hwa_backend *be;
    hwa_graph *g;
} hw_run;

static void hw_compute(void *arg) {
    hw_run *h = arg;
    if (hwa_graph_compute(h->g, h->be) != HWA_OK) die("hwa_graph_compute", hwa_last_error());
}

static hwa_backend *backend(hwa_ctx *ctx, const char *spec) {
    hwa_backend *be = hwa_backend_new(ctx, spec);
    if (!be) die(spec, hwa_ctx_last_error(ctx));
    return be;
}

static void hw_check(hwa_ctx *ctx, hwa_status st, const char *what) {
    if (st) die(what, hwa_ctx_last_error(ctx));
}

/* ---- the direct OpenCL side -------------------------------------------------------- */

typedef struct direct {
    cl_context cx;
    cl_command_queue q;
    cl_device_id dev;
} direct;

/* The first device of the first platform: opencl:0 in hwadapt's numbering
 * when the first platform has a device. */
static void direct_open(direct *d) {
    cl_platform_id pl;
    cl_uint n = 0;
    CL_OK(clGetPlatformIDs(1, &pl, &n));
    CL_OK(clGetDeviceIDs(pl, CL_DEVICE_TYPE_ALL, 1, &d->dev, &n));
    cl_int rc;
    d->cx = clCreateContext(NULL, 1, &d->dev, NULL, NULL, &rc);
    CL_OK(rc);
    d->q = clCreateCommandQueue(d->cx, d->dev, 0, &rc);
    CL_OK(rc);
}

static cl_mem direct_buf(direct *d, size_t bytes, const void *init) {
    cl_int rc;
    cl_mem m = clCreateBuffer(d->cx, CL_MEM_READ_WRITE, bytes, NULL, &rc);
    CL_OK(rc);
    if (init) CL_OK(clEnqueueWriteBuffer(d->q, m, CL_TRUE, 0, bytes, init, 0, NULL, NULL));
    return m;
}

/* ---- GEMM: hwadapt vs CLBlast ------------------------------------------------------------ */

typedef struct gemm_direct {
    direct *d;
    cl_mem a, b, c;
    size_t n;
} gemm_direct;

static void clblast_run(void *arg) {
    gemm_direct *g = arg;
    CLBlastStatusCode rc = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, g->n, g->n,
                                        g->n, 1.0f, g->a, 0, g->n, g->b, 0, g->n, 0.0f, g->c, 0, g->n, &g->d->q, NULL);
    if (rc != CLBlastSuccess) {
        char b[32];
        snprintf(b, sizeof b, "status %d", (int)rc);
        die("CLBlastSgemm", b);
    }
    CL_OK(clFinish(g->d->q));
}

static void bench_gemm(direct *d, int64_t n, int rounds) {
    const size_t nn = (size_t)(n * n);
    float *a = malloc(nn * 4), *b = malloc(nn * 4), *c_hw = malloc(nn * 4), *c_cb = malloc(nn * 4);
    if (!a || !b || !c_hw || !c_cb) die("gemm", "out of memory");
    fill(a, nn, 1);
    fill(b, nn, 2);
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hw_run h = {backend(ctx, "opencl:0"), hwa_graph_new(ctx)};
    hwa_tensor *ta = hwa_tensor_new_2d(ctx, HWA_F32, n, n), *tb = hwa_tensor_new_2d(ctx, HWA_F32, n, n);
    hwa_tensor *tc = hwa_matmul_ex(ctx, ta, tb, false, false);
    hw_check(ctx, tc ? hwa_graph_build_forward(h.g, tc) : hwa_ctx_last_status(ctx), "gemm graph");
    hw_check(ctx, hwa_ctx_alloc_leaves(ctx, h.be), "gemm alloc");
    hw_check(ctx, hwa_tensor_set_f32(ta, a, (int64_t)nn), "gemm set");
    hw_check(ctx, hwa_tensor_set_f32(tb, b, (int64_t)nn), "gemm set");
    hw_compute(&h);
    hw_check(ctx, hwa_tensor_get_f32(tc, c_hw, (int64_t)nn), "gemm get");
    gemm_direct g = {d, direct_buf(d, nn * 4, a), direct_buf(d, nn * 4, b), direct_buf(d, nn * 4, NULL), (size_t)n};
    clblast_run(&g);
    CL_OK(clEnqueueReadBuffer(d->q, g.c, CL_TRUE, 0, nn * 4, c_cb, 0, NULL, NULL));
    /* validate both: sampled entries against double dot products */
    double err[2] = {0, 0}, scale = 0;
    for (int s = 0; s < 64; s++) {
        const int64_t i = (s * 37 + 3) % n, j = (s * 101 + 7) % n;
        double ref = 0;
        for (int64_t k = 0; k < n; k++) ref += (double)a[i * n + k] * (double)b[k * n + j];
        err[0] = fmax(err[0], fabs(c_hw[i * n + j] - ref));
        err[1] = fmax(err[1], fabs(c_cb[i * n + j] - ref));
        scale = fmax(scale, fabs(ref));
    }
    if (err[0] > 1e-4 * scale || err[1] > 1e-4 * scale) die("gemm", "a product is wrong");
    const double work = 2e-9 * (double)n * (double)n * (double)n;
    side s[2] = {{"hwadapt", hw_compute, &h, work, err[0], hwa_backend_kernel_name(h.be, tc), {0}},
                 {"clblast-direct", clblast_run, &g, work, err[1], "CLBlastSgemm", {0}}};
    char cas[64];
    snprintf(cas, sizeof cas, "gemm %lldx%lldx%lld", (long long)n, (long long)n, (long long)n);
    interleaved(cas, s, 2, rounds, "GFLOP");
    clReleaseMemObject(g.a), clReleaseMemObject(g.b), clReleaseMemObject(g.c);
    hwa_backend_free(h.be);
    hwa_ctx_free(ctx);
    free(a), free(b), free(c_hw), free(c_cb);
}

/* ---- add / relu vs the device's copy bandwidth --------------------------------------------- */

typedef struct copy_direct {
    direct *d;
    cl_mem src, dst;
    size_t bytes;
    cl_kernel k; /* NULL: clEnqueueCopyBuffer */
} copy_direct;

static void copy_run(void *arg) {
    copy_direct *c = arg;
    if (c->k) {
        const size_t g = c->bytes / 16;
        CL_OK(clEnqueueNDRangeKernel(c->d->q, c->k, 1, NULL, &g, NULL, 0, NULL, NULL));
    } else {
        CL_OK(clEnqueueCopyBuffer(c->d->q, c->src, c->dst, 0, 0, c->bytes, 0, NULL, NULL));
    }
    CL_OK(clFinish(c->d->q));
}

static cl_kernel copy_kernel(direct *d, cl_mem src, cl_mem dst) {
    static const char *src_text =
        "__kernel void copy4(__global const float4 *a, __global float4 *b) { b[get_global_id(0)] = a[get_global_id(0)]; }";
    cl_int rc;
    cl_program p = clCreateProgramWithSource(d->cx, 1, &src_text, NULL, &rc);
    CL_OK(rc);
    CL_OK(clBuildProgram(p, 1, &d->dev, "", NULL, NULL));
    cl_kernel k = clCreateKernel(p, "copy4", &rc);
    CL_OK(rc);
    CL_OK(clSetKernelArg(k, 0, sizeof src, &src));
    CL_OK(clSetKernelArg(k, 1, sizeof dst, &dst));
    clReleaseProgram(p);
    return k;
}

static void bench_eltwise(direct *d, int64_t n, int rounds) {
    const size_t bytes = (size_t)n * 4;
    float *x = malloc(bytes), *y = malloc(bytes), *out = malloc(bytes);
    if (!x || !y || !out) die("eltwise", "out of memory");
    fill(x, (size_t)n, 3);
    fill(y, (size_t)n, 4);
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = backend(ctx, "opencl:0");
    hwa_tensor *tx = hwa_tensor_new(ctx, HWA_F32, 1, &n), *ty = hwa_tensor_new(ctx, HWA_F32, 1, &n);
    hwa_tensor *sum = hwa_add(ctx, tx, ty), *rl = hwa_relu(ctx, tx);
    hw_run add = {be, hwa_graph_new(ctx)}, relu = {be, hwa_graph_new(ctx)};
    hw_check(ctx, sum && rl ? hwa_graph_build_forward(add.g, sum) : hwa_ctx_last_status(ctx), "add graph");
    hw_check(ctx, hwa_graph_build_forward(relu.g, rl), "relu graph");
    hw_check(ctx, hwa_ctx_alloc_leaves(ctx, be), "eltwise alloc");
    hw_check(ctx, hwa_tensor_set_f32(tx, x, n), "eltwise set");
    hw_check(ctx, hwa_tensor_set_f32(ty, y, n), "eltwise set");
    double err[3] = {0, 0, 0};
    char k_add[64], k_relu[64];
    hw_compute(&add);
    snprintf(k_add, sizeof k_add, "%s", hwa_backend_kernel_name(be, sum));
    hw_check(ctx, hwa_tensor_get_f32(sum, out, n), "add get");
    for (int64_t i = 0; i < n; i++) err[0] = fmax(err[0], fabs((double)out[i] - (double)(x[i] + y[i])));
    hw_compute(&relu);
    snprintf(k_relu, sizeof k_relu, "%s", hwa_backend_kernel_name(be, rl));
    hw_check(ctx, hwa_tensor_get_f32(rl, out, n), "relu get");
    for (int64_t i = 0; i < n; i++) err[1] = fmax(err[1], fabs((double)out[i] - (x[i] > 0 ? x[i] : 0.0)));
    if (err[0] != 0 || err[1] != 0) die("eltwise", "add or relu is wrong");
    copy_direct cb = {d, direct_buf(d, bytes, x), direct_buf(d, bytes, NULL), bytes, NULL}, ck = cb;
    ck.k = copy_kernel(d, ck.src, ck.dst);
    for (int pass = 0; pass < 2; pass++) {
        copy_direct *c = pass ? &ck : &cb;
        copy_run(c);
        CL_OK(clEnqueueReadBuffer(d->q, c->dst, CL_TRUE, 0, bytes, out, 0, NULL, NULL));
        if (memcmp(out, x, bytes)) die("copy", "the copy differs from its source");
        CL_OK(clEnqueueFillBuffer(d->q, c->dst, &(float){0}, 4, 0, bytes, 0, NULL, NULL));
    }
    char cas[64];
    const double gb = 1e-9 * (double)bytes;
    /* bytes moved: add reads two arrays and writes one, relu and copy read one and write one */
    side s[4] = {{"hwadapt add", hw_compute, &add, 3 * gb, err[0], k_add, {0}},
                 {"hwadapt relu", hw_compute, &relu, 2 * gb, err[1], k_relu, {0}},
                 {"copy-buffer", copy_run, &cb, 2 * gb, 0, "clEnqueueCopyBuffer", {0}},
                 {"copy-kernel", copy_run, &ck, 2 * gb, 0, "float4 copy kernel", {0}}};
    snprintf(cas, sizeof cas, "eltwise %lld f32", (long long)n);
    interleaved(cas, s, 4, rounds, "GB");
    clReleaseKernel(ck.k);
    clReleaseMemObject(cb.src), clReleaseMemObject(cb.dst);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    free(x), free(y), free(out);
}

/* ---- the seed Linear: opencl:0 vs cpu ---------------------------------------------------------- */

enum { LIN_BATCH = 64, LIN_IN = 1000, LIN_OUT = 1000 };

typedef struct linear {
    hwa_ctx *ctx;
    hw_run h;
    hwa_tensor *x, *w, *b, *mm, *y;
} linear;

/* linear1000 (y = x W^T + b, x [64, 1000], W [1000, 1000]) on spec, with
 * its inputs set. */
static void linear_make(linear *l, const char *spec) {
    l->ctx = hwa_ctx_new(NULL);
    l->h.be = backend(l->ctx, spec);
    l->h.g = hwa_graph_new(l->ctx);
    l->x = hwa_tensor_new_2d(l->ctx, HWA_F32, LIN_BATCH, LIN_IN);
    l->w = hwa_tensor_new_2d(l->ctx, HWA_F32, LIN_OUT, LIN_IN);
    l->b = hwa_tensor_new(l->ctx, HWA_F32, 1, (const int64_t[]){LIN_OUT});
    l->mm = hwa_matmul_ex(l->ctx, l->x, l->w, false, true);
    l->y = hwa_bias_add(l->ctx, l->mm, l->b);
    hw_check(l->ctx, l->y ? hwa_graph_build_forward(l->h.g, l->y) : hwa_ctx_last_status(l->ctx), "linear graph");
    hw_check(l->ctx, hwa_ctx_alloc_leaves(l->ctx, l->h.be), "linear alloc");
    static float buf[LIN_OUT * LIN_IN];
    fill(buf, LIN_BATCH * LIN_IN, 5);
    hw_check(l->ctx, hwa_tensor_set_f32(l->x, buf, LIN_BATCH * LIN_IN), "linear set");
    fill(buf, LIN_OUT * LIN_IN, 6);
    hw_check(l->ctx, hwa_tensor_set_f32(l->w, buf, LIN_OUT * LIN_IN), "linear set");
    fill(buf, LIN_OUT, 7);
    hw_check(l->ctx, hwa_tensor_set_f32(l->b, buf, LIN_OUT), "linear set");
}

static void linear_free(linear *l) {
    hwa_backend_free(l->h.be);
    hwa_ctx_free(l->ctx);
}

static void bench_linear(int rounds) {
    linear cl, cpu;
    linear_make(&cl, "opencl:0");
    linear_make(&cpu, "cpu");
    static float yc[LIN_BATCH * LIN_OUT], yo[LIN_BATCH * LIN_OUT];
    hw_compute(&cl.h);
    hw_compute(&cpu.h);
    hw_check(cl.ctx, hwa_tensor_get_f32(cl.y, yo, LIN_BATCH * LIN_OUT), "linear get");
    hw_check(cpu.ctx, hwa_tensor_get_f32(cpu.y, yc, LIN_BATCH * LIN_OUT), "linear get");
    double err[2] = {0, 0};
    for (int i = 0; i < LIN_BATCH * LIN_OUT; i++) err[0] = fmax(err[0], fabs((double)yo[i] - yc[i]));
    if (err[0] > 1e-4) die("linear1000", "opencl:0 differs from the cpu by more than 1e-4");
    const double work = 2e-9 * LIN_BATCH * LIN_IN * LIN_OUT;
    side s[2] = {{"opencl:0", hw_compute, &cl.h, work, err[0], hwa_backend_kernel_name(cl.h.be, cl.mm), {0}},
                 {"cpu", hw_compute, &cpu.h, work, 0, hwa_backend_kernel_name(cpu.h.be, cpu.mm), {0}}};
    interleaved("linear1000 batch 64", s, 2, rounds, "GFLOP");
    linear_free(&cl);
    linear_free(&cpu);
}

/* ---- start-up -------------------------------------------------------------------------------- */

static int first_result(const char *what) {
    const double t0 = now_ms();
    if (!strcmp(what, "linear")) {
        linear l;
        linear_make(&l, "opencl:0");
        static float y[LIN_BATCH * LIN_OUT];
        hw_compute(&l.h);
        hw_check(l.ctx, hwa_tensor_get_f32(l.y, y, LIN_BATCH * LIN_OUT), "linear get");
        linear_free(&l);
    } else {
        hwa_ctx *ctx = hwa_ctx_new(NULL);
        hw_run h = {backend(ctx, "opencl:0"), hwa_graph_new(ctx)};
        hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, 2, 3), *y = hwa_relu(ctx, x);
        const float in[6] = {1, -1, 2, -2, 0, 3};
        float out[6];
        hw_check(ctx, y ? hwa_graph_build_forward(h.g, y) : hwa_ctx_last_status(ctx), "relu graph");
        hw_check(ctx, hwa_ctx_alloc_leaves(ctx, h.be), "relu alloc");
        hw_check(ctx, hwa_tensor_set_f32(x, in, 6), "relu set");
        hw_compute(&h);
        hw_check(ctx, hwa_tensor_get_f32(y, out, 6), "relu get");
        if (out[0] != 1 || out[1] != 0 || out[5] != 3) die("first result", "relu is wrong");
        hwa_backend_free(h.be);
        hwa_ctx_free(ctx);
    }
    printf("%.4f\n", (now_ms() - t0) * 1e-3);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "first")) return first_result(argv[2]);
    if (argc < 2 || strcmp(argv[1], "all")) {
        fprintf(stderr, "usage: opencl_bench all [quick] | first relu|linear\n");
        return 2;
    }
    const bool quick = argc >= 3 && !strcmp(argv[2], "quick");

    direct d;
    direct_open(&d);
    bench_gemm(&d, quick ? 512 : 2048, quick ? 3 : 7);
    bench_eltwise(&d, quick ? (1 << 20) : (16 << 20), quick ? 3 : 11);
    bench_linear(quick ? 5 : 31);
    clReleaseCommandQueue(d.q);
    clReleaseContext(d.cx);
    return 0;
}
