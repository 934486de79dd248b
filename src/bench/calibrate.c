/* The CPU's peak matmul rate measured through the kernels hwadapt runs: a
 * square product built as a graph on the "cpu" backend, the way each dtype's
 * products run in hwadapt: f32 tensors in exact f32; bf16 tensors (the
 * benchmark's bf16 rows: our AMX tiles, else oneDNN's AMX or AVX-512 bf16
 * kernels); f32 tensors
 * with the backend's matmul precision set to int8 (int8 weights and
 * activations; see hwa_backend_set_matmul_precision), the only int8 product
 * the graph has. The passport calls it through hwa_probe_opts.matmul_bench,
 * so the roofline the benchmark's pct_of_peak divides by is one its rows can
 * reach.
 *
 * The product is checked before it is timed: sampled entries of C against a
 * double-precision dot product of the very values the kernel read (bf16
 * inputs are read back after rounding), within a tolerance that fits the
 * precision. A precision the machine cannot run (the product would stay f32
 * or fall back to the scalar reference) is HWA_E_UNSUPPORTED rather than
 * another kernel's rate reported under this dtype's name. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

/* Big enough that the O(n^2) work of a run (int8 quantization of A and
 * dequantization of C, the threads' start) is small next to the O(n^3)
 * product, which AMX needs to reach its peak (at 1024 the int8 rate is a
 * sixth of the 2048 one); small enough that one run takes tens of
 * milliseconds, so a 0.6 s budget holds several runs. */
#define PEAK_DEFAULT_N 2048
#define PEAK_DEVICE_DEFAULT_N 1024 /* a CPU OpenCL driver takes seconds for 2048 */
#define PEAK_MIN_N 16
#define PEAK_MAX_N 8192
#define CHECK_SAMPLES 64

typedef struct peak_case {
    hwa_dtype tensors;               /* dtype of A, B and C */
    hwa_matmul_precision precision;
    const char *tag;  /* in the kernel's name when it ran this precision ("onednn:bf16:brg:..."); NULL: f32 */
    double tol;       /* max |C - ref| / max |ref| over the samples */
} peak_case;

static bool case_of(hwa_dtype t, peak_case *c) {
    switch (t) {
    case HWA_F32: *c = (peak_case){HWA_F32, HWA_MATMUL_PRECISION_F32, NULL, 1e-4}; return true;
    case HWA_BF16: *c = (peak_case){HWA_BF16, HWA_MATMUL_PRECISION_F32, "bf16", 1e-2}; return true;
    case HWA_I8: *c = (peak_case){HWA_F32, HWA_MATMUL_PRECISION_INT8, "int8", 3e-2}; return true;
    default: return false;
    }
}

/* Sampled entries of C = A B^T (A [n,n], B [n,n] as a Linear's weight)
 * against double-precision dot products. */
static double sampled_error(const float *a, const float *b, const float *c, int64_t n) {
    double err = 0, scale = 0;
    for (int64_t s = 0; s < CHECK_SAMPLES; s++) {
        int64_t m = (s * 37 + 3) % n, j = (s * 101 + 7) % n;
        double ref = 0;
        for (int64_t k = 0; k < n; k++) ref += (double)a[m * n + k] * (double)b[j * n + k];
        err = fmax(err, fabs((double)c[m * n + j] - ref));
        scale = fmax(scale, fabs(ref));
    }
    return scale > 0 ? err / scale : INFINITY;
}

static hwa_status check_args(void *ud, const char *device, hwa_dtype dtype, double budget_s, double *gflops,
                             int64_t *n, int *threads, peak_case *pc) {
    if (!gflops) return hwa__err(NULL, HWA_E_MISUSE, "matmul peak: NULL output");
    if (!(budget_s > 0 && budget_s <= 60))
        return hwa__err(NULL, HWA_E_INVALID, "matmul peak: a budget of %g s is not in (0, 60]", budget_s);
    const hwa_bench_matmul_peak_opts *o = ud;
    *n = o && o->n ? o->n : strcmp(device, "cpu") ? PEAK_DEVICE_DEFAULT_N : PEAK_DEFAULT_N;
    *threads = o ? o->threads : 0;
    if (*n < PEAK_MIN_N || *n > PEAK_MAX_N || *threads < 0)
        return hwa__err(NULL, HWA_E_INVALID, "matmul peak: size %lld must be in [%d, %d] and threads %d >= 0",
                        (long long)*n, PEAK_MIN_N, PEAK_MAX_N, *threads);
    if ((unsigned)dtype >= HWA_DTYPE_COUNT || !case_of(dtype, pc))
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "matmul peak: no %s matrix product (f32, bf16 and i8 have one)",
                        (unsigned)dtype < HWA_DTYPE_COUNT ? hwa_dtype_name(dtype) : "?");
    return HWA_OK;
}

/* Uniform in [-1, 1) from a fixed linear congruential sequence. */
static void fill(float *x, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / 8388608.0f - 1.0f;
    }
}

/* Builds C = A B^T on be, runs it once and checks it. h holds three n x n
 * host arrays (A, B, C). */
static hwa_status build_and_check(hwa_ctx *ctx, hwa_backend *be, hwa_dtype dtype, int64_t n, int threads,
                                  const peak_case *pc, float *h, hwa_graph **gout) {
    /* B is a leaf that is not a parameter: its packed (and, for int8,
     * quantized) form is made once and cached, as for inference weights. */
    const int64_t nn = n * n;
    float *ha = h, *hb = h + nn, *hc = h + 2 * nn;
    hwa_tensor *a = hwa_tensor_new_2d(ctx, pc->tensors, n, n), *b = hwa_tensor_new_2d(ctx, pc->tensors, n, n);
    hwa_tensor *c = hwa_matmul_ex(ctx, a, b, false, true);
    hwa_graph *g = hwa_graph_new(ctx);
    fill(ha, (size_t)nn, 1);
    fill(hb, (size_t)nn, 2);
    hwa_status st = c && g ? HWA_OK : hwa_ctx_last_status(ctx);
    if (!st) st = hwa_graph_build_forward(g, c);
    if (!st) st = hwa_ctx_alloc_leaves(ctx, be);
    if (!st) st = hwa_tensor_set_f32(a, ha, nn);
    if (!st) st = hwa_tensor_set_f32(b, hb, nn);
    /* The reference multiplies what the kernel reads: bf16 after rounding. */
    if (!st) st = hwa_tensor_get_f32(a, ha, nn);
    if (!st) st = hwa_tensor_get_f32(b, hb, nn);
    if (!st && threads) st = hwa_backend_set_threads(be, threads);
    if (!st) st = hwa_backend_set_matmul_precision(be, pc->precision);
    if (!st) st = hwa_graph_compute(g, be);
    if (!st) st = hwa_tensor_get_f32(c, hc, nn);
    if (st) return hwa__err(NULL, st, "matmul peak: %s", hwa_ctx_last_error(ctx));

    const char *kernel = hwa_backend_kernel_name(be, c);
    /* a product widened to f32 ("bf16>f32:...") is f32's rate, not bf16's */
    if (pc->tag && (!strstr(kernel, pc->tag) || strstr(kernel, ">f32:")))
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "matmul peak: no %s matrix-product kernel on this machine (kernel %s)",
                        hwa_dtype_name(dtype), kernel[0] ? kernel : "n/a");
    double rel = sampled_error(ha, hb, hc, n);
    if (!(rel <= pc->tol))
        return hwa__err(NULL, HWA_E_DEVICE, "matmul peak: %s product of %lld x %lld is wrong (kernel %s): "
                        "max error %.3g of the largest value, tolerance %.3g", hwa_dtype_name(dtype), (long long)n,
                        (long long)n, kernel, rel, pc->tol);
    *gout = g;
    return HWA_OK;
}

hwa_status hwa_bench_matmul_peak(void *ud, hwa_dtype dtype, double budget_s, double *gflops) {
    return hwa_bench_device_matmul_peak(ud, "cpu", dtype, budget_s, gflops);
}

hwa_status hwa_bench_device_matmul_peak(void *ud, const char *device, hwa_dtype dtype, double budget_s,
                                        double *gflops) {
    if (!device) return hwa__err(NULL, HWA_E_MISUSE, "matmul peak: NULL device");
    int64_t n = 0;
    int threads = 0;
    peak_case pc = {HWA_F32, HWA_MATMUL_PRECISION_F32, NULL, 0};
    hwa_status st = check_args(ud, device, dtype, budget_s, gflops, &n, &threads, &pc);
    if (st) return st;
    float *h = malloc((size_t)(3 * n * n) * sizeof *h);
    hwa_ctx *ctx = h ? hwa_ctx_new(NULL) : NULL;
    if (!ctx) {
        free(h);
        return hwa__err(NULL, HWA_E_NOMEM, "matmul peak: out of memory for a %lld x %lld product", (long long)n,
                        (long long)n);
    }
    hwa_backend *be = hwa_backend_new(ctx, device);
    hwa_graph *g = NULL;
    st = be ? build_and_check(ctx, be, dtype, n, threads, &pc, h, &g)
            : hwa__err(NULL, hwa_ctx_last_status(ctx), "matmul peak: %s", hwa_ctx_last_error(ctx));
    free(h);
    /* The best of the timed runs: the warm-up above made the primitive and
     * packed the weights; later runs differ only by the machine's noise. */
    double best = INFINITY;
    const double t_end = hwa_bench_clock_now() + budget_s;
    for (int r = 0; !st && (r < 3 || hwa_bench_clock_now() < t_end); r++) {
        double t0 = hwa_bench_clock_now();
        st = hwa_graph_compute(g, be);
        double dt = hwa_bench_clock_now() - t0;
        if (st) st = hwa__err(NULL, st, "matmul peak: %s", hwa_ctx_last_error(ctx));
        else if (dt > 0 && dt < best) best = dt;
    }
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    if (st) return st;
    if (!isfinite(best)) return hwa__err(NULL, HWA_E_INTERNAL, "matmul peak: the clock did not advance");
    *gflops = 2.0 * (double)n * (double)n * (double)n / best * 1e-9;
    return HWA_OK;
}
