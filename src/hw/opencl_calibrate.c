/* Calibration of the passport's OpenCL devices, through the ICD loader
 * (opencl_api.h) and a few kernels of its own: device memory bandwidth
 * (read, copy and triad over arrays beyond any cache, STREAM's byte counts),
 * host-to-device and device-to-host transfer rates, the latency of an empty
 * kernel (enqueue to clFinish), and the peak rate per dtype from a loop of
 * independent fused multiply-adds per work item (f32; f16 where the device
 * has cl_khr_fp16), the same method ("fma-loop") as the CPU's without a
 * matmul benchmark. With hwa_probe_opts.device_matmul_bench the peaks come
 * from hwadapt's own products on the device instead (method "matmul"):
 * the bench layer runs them through the backend, which hw/ cannot call.
 *
 * Why here and not in the opencl backend: these are properties of the
 * device and its driver, which the passport reports even where hwadapt's
 * own kernels would not build, and hw/ may depend on core only (DESIGN.md);
 * the loader is already hw/'s. The kernels are a few lines each and are not
 * hwadapt's compute kernels (backends/gpu/kernels), so nothing is shared.
 *
 * Results are cached per device like the CPU's (cache.c), under a
 * fingerprint of the device's name, vendor, platform, driver version,
 * compute units, clock and memory. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "hw/hw_internal.h"
#include "hw/opencl_api.h"

#define MAX_DEVICES 64
#define BW_BYTES (INT64_C(64) << 20) /* per array; less where the device allows less */
#define REPS 5
#define LAUNCHES 64
#define FMA_ITEMS (1u << 16)
#define FMA_MIN_SECONDS 0.02

static const char cal_src[] =
    "__kernel void cal_empty(void) {}\n"
    "__kernel void cal_copy(__global const float4 *a, __global float4 *c) {\n"
    "    const size_t i = get_global_id(0);\n"
    "    c[i] = a[i];\n"
    "}\n"
    "__kernel void cal_triad(__global float4 *a, __global const float4 *b, __global const float4 *c, float s) {\n"
    "    const size_t i = get_global_id(0);\n"
    "    a[i] = b[i] + s * c[i];\n"
    "}\n"
    /* each item reads 16 float4, a global size apart (neighbours read neighbours) */
    "__kernel void cal_read(__global const float4 *a, __global float *out) {\n"
    "    const size_t i = get_global_id(0), n = get_global_size(0);\n"
    "    float4 s = (float4)(0.0f);\n"
    "    for (int r = 0; r < 16; r++) s += a[i + r * n];\n"
    "    out[i] = s.x + s.y + s.z + s.w;\n"
    "}\n"
    /* 8 independent chains of iters FMAs on 8-wide vectors per item (SIMD
     * lanes on a CPU device, independent instructions on a GPU):
     * 128 * iters flops */
    "#define FMA_BODY(T, V)                                                  \\\n"
    "    const V g = (V)((T)(get_global_id(0) & 7));                             \\\n"
    "    V a0 = g, a1 = g + (T)1, a2 = g + (T)2, a3 = g + (T)3, a4 = g + (T)4,   \\\n"
    "      a5 = g + (T)5, a6 = g + (T)6, a7 = g + (T)7;                          \\\n"
    "    const V vx = (V)(x), vy = (V)(y);                                       \\\n"
    "    for (int k = 0; k < iters; k++) {                                       \\\n"
    "        a0 = fma(a0, vx, vy); a1 = fma(a1, vx, vy); a2 = fma(a2, vx, vy);   \\\n"
    "        a3 = fma(a3, vx, vy); a4 = fma(a4, vx, vy); a5 = fma(a5, vx, vy);   \\\n"
    "        a6 = fma(a6, vx, vy); a7 = fma(a7, vx, vy);                         \\\n"
    "    }                                                                       \\\n"
    "    const V s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;                      \\\n"
    "    out[get_global_id(0)] = (float)(s.s0 + s.s1 + s.s2 + s.s3 + s.s4 + s.s5 + s.s6 + s.s7);\n"
    "__kernel void cal_fma_f32(__global float *out, float x, float y, int iters) { FMA_BODY(float, float8) }\n"
    "#ifdef HWA_CAL_F16\n"
    "#pragma OPENCL EXTENSION cl_khr_fp16 : enable\n"
    "__kernel void cal_fma_f16(__global float *out, float xf, float yf, int iters) {\n"
    "    const half x = (half)xf, y = (half)yf;\n"
    "    FMA_BODY(half, half8)\n"
    "}\n"
    "#endif\n";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct cal {
    const hwa__cl_api *cl;
    cl_device_id dev;
    cl_context cx;
    cl_command_queue q;
    cl_program prog;
    const char *failed; /* the call that failed, for the warning */
    cl_int rc;
} cal;

static bool ok(cal *c, cl_int rc, const char *call) {
    if (rc == CL_SUCCESS) return true;
    if (!c->failed) c->failed = call, c->rc = rc;
    return false;
}

static cl_kernel kernel(cal *c, const char *name) {
    cl_int rc = CL_SUCCESS;
    cl_kernel k = c->cl->CreateKernel(c->prog, name, &rc);
    return ok(c, rc, "clCreateKernel") ? k : NULL;
}

/* Seconds of the fastest of reps runs of k over global items (after one
 * untimed run); a negative value when it fails. */
static double best_run(cal *c, cl_kernel k, size_t global, int reps) {
    double best = INFINITY;
    for (int r = 0; r <= reps; r++) {
        const double t0 = now_s();
        if (!ok(c, c->cl->EnqueueNDRangeKernel(c->q, k, 1, NULL, &global, NULL, 0, NULL, NULL),
                "clEnqueueNDRangeKernel") ||
            !ok(c, c->cl->Finish(c->q), "clFinish"))
            return -1;
        const double t = now_s() - t0;
        if (r > 0 && t < best) best = t;
    }
    return best;
}

static bool args(cal *c, cl_kernel k, int n, const cl_mem *m) {
    for (int i = 0; i < n; i++)
        if (!ok(c, c->cl->SetKernelArg(k, (cl_uint)i, sizeof m[i], &m[i]), "clSetKernelArg")) return false;
    return true;
}

/* Read, copy and triad over arrays of bytes each, and the transfers. */
static void memory(cal *c, int64_t bytes, hwa_device_info *d) {
    const hwa__cl_api *cl = c->cl;
    cl_mem m[3] = {NULL, NULL, NULL};
    cl_int rc = CL_SUCCESS;
    for (int i = 0; i < 3 && ok(c, rc, "clCreateBuffer"); i++)
        m[i] = cl->CreateBuffer(c->cx, CL_MEM_READ_WRITE, (size_t)bytes, NULL, &rc);
    ok(c, rc, "clCreateBuffer");
    float *host = malloc((size_t)bytes);
    cl_kernel kc = kernel(c, "cal_copy"), kt = kernel(c, "cal_triad"), kr = kernel(c, "cal_read");
    const size_t n4 = (size_t)bytes / 16;
    if (host && m[2] && kc && kt && kr) {
        memset(host, 0, (size_t)bytes);
        double up = INFINITY, down = INFINITY;
        for (int r = 0; r < REPS; r++) {
            double t0 = now_s();
            if (!ok(c, cl->EnqueueWriteBuffer(c->q, m[0], CL_TRUE, 0, (size_t)bytes, host, 0, NULL, NULL),
                    "clEnqueueWriteBuffer"))
                break;
            double t1 = now_s();
            if (!ok(c, cl->EnqueueReadBuffer(c->q, m[0], CL_TRUE, 0, (size_t)bytes, host, 0, NULL, NULL),
                    "clEnqueueReadBuffer"))
                break;
            up = fmin(up, t1 - t0);
            down = fmin(down, now_s() - t1);
        }
        /* the other arrays hold defined values before the kernels read them */
        ok(c, cl->EnqueueWriteBuffer(c->q, m[1], CL_TRUE, 0, (size_t)bytes, host, 0, NULL, NULL), "clEnqueueWriteBuffer");
        ok(c, cl->EnqueueWriteBuffer(c->q, m[2], CL_TRUE, 0, (size_t)bytes, host, 0, NULL, NULL), "clEnqueueWriteBuffer");
        const float s = 3.0f;
        double tc = -1, tt = -1, tr = -1;
        if (!c->failed && args(c, kc, 2, m)) tc = best_run(c, kc, n4, REPS);
        if (!c->failed && args(c, kt, 3, m) && ok(c, cl->SetKernelArg(kt, 3, sizeof s, &s), "clSetKernelArg"))
            tt = best_run(c, kt, n4, REPS);
        if (!c->failed && args(c, kr, 2, (cl_mem[]){m[0], m[1]})) tr = best_run(c, kr, n4 / 16, REPS);
        const double gb = 1e-9 * (double)bytes;
        if (!c->failed && tc > 0 && tt > 0 && tr > 0) {
            d->bandwidth = (hwa_bandwidth){gb / tr, 2 * gb / tc, 3 * gb / tt, bytes};
            d->h2d_gbs = gb / up;
            d->d2h_gbs = gb / down;
        }
    } else if (!host) {
        c->failed = c->failed ? c->failed : "malloc";
    }
    free(host);
    cl_kernel ks[3] = {kc, kt, kr};
    for (int i = 0; i < 3; i++) {
        if (ks[i]) cl->ReleaseKernel(ks[i]);
        if (m[i]) cl->ReleaseMemObject(m[i]);
    }
}

/* The median time from enqueueing an empty kernel to clFinish's return. */
static void launch_latency(cal *c, hwa_device_info *d) {
    cl_kernel k = kernel(c, "cal_empty");
    if (!k) return;
    double t[LAUNCHES];
    const size_t one = 1;
    int n = 0;
    for (; n < LAUNCHES; n++) {
        const double t0 = now_s();
        if (!ok(c, c->cl->EnqueueNDRangeKernel(c->q, k, 1, NULL, &one, NULL, 0, NULL, NULL), "clEnqueueNDRangeKernel") ||
            !ok(c, c->cl->Finish(c->q), "clFinish"))
            break;
        t[n] = now_s() - t0;
    }
    c->cl->ReleaseKernel(k);
    if (n < LAUNCHES) return;
    for (int i = 1; i < n; i++) /* insertion sort: 64 values */
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            const double x = t[j];
            t[j] = t[j - 1], t[j - 1] = x;
        }
    d->launch_us = 1e6 * t[n / 2];
}

/* The FMA loops' rate for dtype dt (kernel name), with iterations grown
 * until one run lasts FMA_MIN_SECONDS. */
static double fma_rate(cal *c, const char *name) {
    cl_kernel k = kernel(c, name);
    cl_mem out = NULL;
    cl_int rc = CL_SUCCESS;
    if (k) out = c->cl->CreateBuffer(c->cx, CL_MEM_READ_WRITE, FMA_ITEMS * sizeof(float), NULL, &rc);
    double rate = 0;
    /* x just under 1 and y small: the chains stay finite and normal */
    const float x = 0.999f, y = 0.001f;
    if (out && ok(c, rc, "clCreateBuffer") && args(c, k, 1, &out) &&
        ok(c, c->cl->SetKernelArg(k, 1, sizeof x, &x), "clSetKernelArg") &&
        ok(c, c->cl->SetKernelArg(k, 2, sizeof y, &y), "clSetKernelArg")) {
        for (int iters = 64; iters <= (1 << 20); iters *= 4) {
            if (!ok(c, c->cl->SetKernelArg(k, 3, sizeof iters, &iters), "clSetKernelArg")) break;
            const double t = best_run(c, k, FMA_ITEMS, 2);
            if (t <= 0) break;
            rate = 128e-9 * (double)iters * FMA_ITEMS / t;
            if (t >= FMA_MIN_SECONDS) break;
        }
    }
    if (out) c->cl->ReleaseMemObject(out);
    if (k) c->cl->ReleaseKernel(k);
    return rate;
}

/* Measures device d (dev on platform pl) into d; false with c->failed set
 * when an OpenCL call failed. */
static bool measure(cal *c, cl_platform_id pl, hwa_device_info *d) {
    const hwa__cl_api *cl = c->cl;
    cl_int rc = CL_SUCCESS;
    const cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)pl, 0};
    c->cx = cl->CreateContext(props, 1, &c->dev, NULL, NULL, &rc);
    if (!c->cx || !ok(c, rc, "clCreateContext")) return false;
    c->q = cl->CreateCommandQueue(c->cx, c->dev, 0, &rc);
    if (!c->q || !ok(c, rc, "clCreateCommandQueue")) return false;
    const char *src = cal_src;
    c->prog = cl->CreateProgramWithSource(c->cx, 1, &src, NULL, &rc);
    if (!c->prog || !ok(c, rc, "clCreateProgramWithSource")) return false;
    if (!ok(c, cl->BuildProgram(c->prog, 1, &c->dev, d->fp16 ? "-DHWA_CAL_F16" : "", NULL, NULL), "clBuildProgram"))
        return false;
    int64_t bytes = BW_BYTES;
    if (d->max_alloc_bytes > 0 && bytes > d->max_alloc_bytes) bytes = d->max_alloc_bytes;
    if (d->memory_bytes > 0 && bytes > d->memory_bytes / 8) bytes = d->memory_bytes / 8;
    bytes -= bytes % 1024; /* whole float4 per item, 16 per read item */
    memory(c, bytes, d);
    if (!c->failed) launch_latency(c, d);
    if (!c->failed) d->fma_peak_gflops[HWA_F32] = fma_rate(c, "cal_fma_f32");
    if (!c->failed && d->fp16) d->fma_peak_gflops[HWA_F16] = fma_rate(c, "cal_fma_f16");
    d->peak_gflops[HWA_F32] = d->fma_peak_gflops[HWA_F32];
    d->peak_gflops[HWA_F16] = d->fma_peak_gflops[HWA_F16];
    return !c->failed;
}

#define MATMUL_SECONDS 0.6

/* The peaks through the caller's matmul benchmark (hwadapt's backend on
 * this device) in place of the FMA loops'. */
static void matmul_peaks(hwa_passport *p, const hwa_probe_opts *opts, hwa_device_info *d) {
    static const hwa_dtype dts[] = {HWA_F32, HWA_F16};
    for (size_t i = 0; i < sizeof dts / sizeof dts[0]; i++) {
        double g = 0;
        const hwa_status st = opts->device_matmul_bench(opts->device_matmul_bench_ud, d->id, dts[i], MATMUL_SECONDS, &g);
        d->peak_gflops[dts[i]] = st == HWA_OK && g > 0 && g < 1e9 ? g : 0;
        if (st != HWA_OK && st != HWA_E_UNSUPPORTED)
            hwa__passport_warn(p, "%s: %s matmul peak not measured: %s", d->id, hwa_dtype_name(dts[i]),
                               hwa_last_error()[0] ? hwa_last_error() : hwa_status_str(st));
    }
    hwa_clear_error();
}

static void cal_release(cal *c) {
    if (c->prog) c->cl->ReleaseProgram(c->prog);
    if (c->q) c->cl->ReleaseCommandQueue(c->q);
    if (c->cx) c->cl->ReleaseContext(c->cx);
}

/* 16 hex digits naming what an OpenCL device's calibration depends on. */
static void device_fingerprint(const hwa_device_info *d, char out[17]) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s|%s|%s|%s|%d|%d|%lld|%s", d->name, d->vendor, d->platform, d->driver,
             d->compute_units, d->clock_mhz, (long long)(d->memory_bytes >> 20), HWA_VERSION_STRING);
    uint64_t h = UINT64_C(14695981039346656037);
    for (const char *s = buf; *s; s++) {
        h ^= (unsigned char)*s;
        h *= UINT64_C(1099511628211);
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

hwa_status hwa__calibrate_opencl(hwa_passport *p, const hwa_probe_opts *opts) {
    if (opts->calibrate == HWA_CALIBRATE_NONE) return HWA_OK;
    hwa__cl_api cl;
    char path[1024], why[512];
    bool opened = false;
    cl_device_id devs[MAX_DEVICES];
    cl_platform_id plats[MAX_DEVICES];
    int n_dev = 0;
    for (int i = 0; i < p->n_devices; i++) {
        hwa_device_info *d = &p->devices[i];
        int index = -1;
        if (d->kind != HWA_HW_OPENCL || sscanf(d->id, "opencl:%d", &index) != 1) continue;
        char fp[17];
        device_fingerprint(d, fp);
        const char *method = opts->device_matmul_bench ? "matmul" : "fma-loop";
        if (opts->calibrate == HWA_CALIBRATE_CACHED && hwa__calibrate_load(p, opts, fp, method, d) == HWA_OK) {
            d->calibration_cached = true;
            continue;
        }
        hwa_clear_error();
        if (!opened) {
            hwa__cl_lib_path(opts->opencl_lib, path, sizeof path);
            cl_int rc;
            if (!hwa__cl_open(path, &cl, why, sizeof why) || (n_dev = hwa__cl_devices(&cl, devs, plats, MAX_DEVICES, &rc)) < 0)
                return HWA_OK; /* the probe found the devices through this loader: it went away */
            opened = true;
        }
        if (index >= n_dev) continue;
        char what[64];
        snprintf(what, sizeof what, "%s: peaks, bandwidth and transfers", d->id);
        hwa__calibrate_say(opts, what);
        cal c = {.cl = &cl, .dev = devs[index]};
        const bool done = measure(&c, plats[index], d);
        cal_release(&c);
        if (!done) {
            char e[48];
            hwa__passport_warn(p, "%s not calibrated: %s failed: %s", d->id, c.failed,
                               hwa__cl_error_name(c.rc, e, sizeof e));
            memset(d->peak_gflops, 0, sizeof d->peak_gflops);
            memset(d->fma_peak_gflops, 0, sizeof d->fma_peak_gflops);
            d->bandwidth = (hwa_bandwidth){0};
            d->h2d_gbs = d->d2h_gbs = d->launch_us = 0;
            continue;
        }
        if (opts->device_matmul_bench) matmul_peaks(p, opts, d);
        hwa__strlcpy(d->peak_method, method, sizeof d->peak_method);
        hwa__calibrate_save(p, opts, fp, method, d);
    }
    return HWA_OK;
}
