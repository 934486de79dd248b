/* Calibration micro-benchmarks of the CPU: memory bandwidth (STREAM-style
 * read, copy and triad over arrays well beyond the last-level cache, OpenMP
 * threads, best of several repetitions) and the peak rate per dtype: from
 * the matmul benchmark the caller supplies (the kernels hwadapt runs) when
 * there is one, and from FMA-throughput loops in the widest ISA this process
 * may use in any case (fma_peak_gflops). */
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "hw/hw_internal.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- memory bandwidth ---------------------------------------------------------- */

#define BW_MIN_BYTES (INT64_C(64) << 20)
#define BW_MAX_BYTES (INT64_C(512) << 20)

/* Per-array size: four times the total last-level cache, at least 64 MiB,
 * at most 512 MiB, and at most an eighth of the available memory. */
static int64_t auto_array_bytes(const hwa_cpu_info *cpu) {
    int64_t llc = 0;
    int last = 0;
    for (int i = 0; i < cpu->n_caches; i++)
        if (strcmp(cpu->caches[i].type, "instruction") && cpu->caches[i].level > last) last = cpu->caches[i].level;
    for (int i = 0; i < cpu->n_caches; i++) {
        const hwa_cache_level *c = &cpu->caches[i];
        if (c->level != last || !strcmp(c->type, "instruction")) continue;
        int64_t total = c->size_bytes * (c->instances > 0 ? c->instances : 1);
        if (total > llc) llc = total;
    }
    int64_t b = 4 * llc;
    if (b < BW_MIN_BYTES) b = BW_MIN_BYTES;
    if (b > BW_MAX_BYTES) b = BW_MAX_BYTES;
    if (cpu->mem_available_bytes > 0 && b > cpu->mem_available_bytes / 8) b = cpu->mem_available_bytes / 8;
    if (cpu->cgroup_memory_max_bytes > 0 && b > cpu->cgroup_memory_max_bytes / 8) b = cpu->cgroup_memory_max_bytes / 8;
    if (b < (INT64_C(1) << 20)) b = INT64_C(1) << 20;
    return b;
}

static hwa_status bandwidth(int64_t array_bytes, int reps, hwa_bandwidth *out) {
    size_t n = (size_t)(array_bytes / (int64_t)sizeof(double));
    if (n < 1024) return hwa__err(NULL, HWA_E_INVALID, "bandwidth: arrays of %lld bytes are too small", (long long)array_bytes);
    double *a = aligned_alloc(HWA_ALIGN, n * sizeof(double));
    double *b = aligned_alloc(HWA_ALIGN, n * sizeof(double));
    double *c = aligned_alloc(HWA_ALIGN, n * sizeof(double));
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        return hwa__err(NULL, HWA_E_NOMEM, "bandwidth: cannot allocate 3 arrays of %lld bytes", (long long)array_bytes);
    }
    const long long nn = (long long)n;
    /* First touch by the threads that use each part, so pages land on their NUMA node. */
#pragma omp parallel for schedule(static)
    for (long long i = 0; i < nn; i++) {
        a[i] = 1.0;
        b[i] = 2.0;
        c[i] = 0.5;
    }
    double best_read = 1e30, best_copy = 1e30, best_triad = 1e30;
    uint64_t sink = 0;
    const uint64_t *a64 = (const uint64_t *)a;
    for (int r = 0; r < reps; r++) {
        uint64_t sum = 0;
        double t0 = now_s();
        /* Integer sum: vectorizes without reassociating floating point. */
#pragma omp parallel for schedule(static) reduction(+ : sum)
        for (long long i = 0; i < nn; i++) sum += a64[i];
        double t1 = now_s();
#pragma omp parallel for schedule(static)
        for (long long i = 0; i < nn; i++) c[i] = a[i];
        double t2 = now_s();
#pragma omp parallel for schedule(static)
        for (long long i = 0; i < nn; i++) a[i] = b[i] + 0.5 * c[i];
        double t3 = now_s();
        sink += sum;
        if (t1 - t0 < best_read) best_read = t1 - t0;
        if (t2 - t1 < best_copy) best_copy = t2 - t1;
        if (t3 - t2 < best_triad) best_triad = t3 - t2;
    }
    /* Keep the sums observable so the read loop is not removed. */
    volatile uint64_t keep = sink;
    (void)keep;
    double bytes = (double)n * sizeof(double);
    out->read_gbs = bytes / best_read / 1e9;
    out->copy_gbs = 2 * bytes / best_copy / 1e9;
    out->triad_gbs = 3 * bytes / best_triad / 1e9;
    out->array_bytes = (int64_t)(n * sizeof(double));
    free(a);
    free(b);
    free(c);
    return HWA_OK;
}

hwa_status hwa_calibrate_bandwidth(int64_t array_bytes, int reps, hwa_bandwidth *out) {
    if (!out) return hwa__err(NULL, HWA_E_MISUSE, "bandwidth: NULL output");
    if (array_bytes < 0 || reps < 1)
        return hwa__err(NULL, HWA_E_INVALID, "bandwidth: array_bytes %lld and reps %d must be >= 0 and >= 1",
                        (long long)array_bytes, reps);
    if (array_bytes == 0) {
        hwa_cpu_info cpu = {0};
        cpu.cgroup_memory_max_bytes = -1;
        hwa_status st = hwa__probe_topology("", &cpu);
        if (st == HWA_OK) st = hwa__probe_memory("", &cpu);
        if (st != HWA_OK) return st;
        array_bytes = auto_array_bytes(&cpu);
    }
    return bandwidth(array_bytes, reps, out);
}

/* ---- peak rate -------------------------------------------------------------------- */

typedef double (*fma_loop_fn)(int64_t n_iter, double *ops);

static fma_loop_fn pick_loop(hwa_dtype dtype) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    switch (dtype) {
    case HWA_F32:
        if (__builtin_cpu_supports("avx512f")) return hwa__fma_loop_f32_avx512;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return hwa__fma_loop_f32_avx2;
        return hwa__fma_loop_f32_scalar;
    /* the widest unit the CPU offers: AMX tiles, else AVX-512 dot products */
    case HWA_BF16:
        if (hwa__amx_usable(false)) return hwa__fma_loop_bf16_amx;
        return __builtin_cpu_supports("avx512bf16") ? hwa__fma_loop_bf16_avx512 : NULL;
    case HWA_I8:
        if (hwa__amx_usable(true)) return hwa__fma_loop_i8_amx;
        return __builtin_cpu_supports("avx512vnni") ? hwa__fma_loop_i8_avx512 : NULL;
    default:
        return NULL;
    }
#else
    return dtype == HWA_F32 ? hwa__fma_loop_f32_scalar : NULL;
#endif
}

/* Plain C: 16 independent chains that the compiler may vectorize without
 * changing any result. */
double hwa__fma_loop_f32_scalar(int64_t n_iter, double *ops) {
    float acc[16];
    for (int j = 0; j < 16; j++) acc[j] = 1.0f + 0.001f * (float)j;
    for (int64_t i = 0; i < n_iter; i++) {
        for (int j = 0; j < 16; j++) acc[j] = acc[j] * 0.999999f + 1e-7f;
    }
    double s = 0;
    for (int j = 0; j < 16; j++) s += acc[j];
    *ops = (double)n_iter * 16 * 2;
    return s;
}

/* Runs loop on every OpenMP thread at once; returns GOP/s. */
static double run_parallel(fma_loop_fn loop, int64_t n_iter, double *sink) {
    double total_ops = 0, s = 0;
    double t0 = now_s();
#pragma omp parallel reduction(+ : total_ops, s)
    {
        double ops;
        s += loop(n_iter, &ops);
        total_ops += ops;
    }
    double dt = now_s() - t0;
    *sink += s;
    return dt > 0 ? total_ops / dt / 1e9 : 0;
}

hwa_status hwa_calibrate_fma_peak(hwa_dtype dtype, double seconds, double *gflops) {
    if (!gflops) return hwa__err(NULL, HWA_E_MISUSE, "fma peak: NULL output");
    if (!(seconds > 0 && seconds <= 60)) return hwa__err(NULL, HWA_E_INVALID, "fma peak: %g s is not in (0, 60]", seconds);
    fma_loop_fn loop = pick_loop(dtype);
    if (!loop)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "fma peak: this CPU has no %s dot-product instruction", hwa_dtype_name(dtype));
    double sink = 0;
    /* Size the loop so one run takes about a fifth of the budget. */
    int64_t n_iter = 1000;
    for (;;) {
        double t0 = now_s();
        run_parallel(loop, n_iter, &sink);
        double dt = now_s() - t0;
        if (dt >= 0.02 || n_iter > (INT64_C(1) << 40)) {
            double scale = seconds / 5 / (dt > 0 ? dt : 1e-3);
            if (scale > 1) n_iter = (int64_t)((double)n_iter * scale);
            break;
        }
        n_iter *= 4;
    }
    double best = 0, t_end = now_s() + seconds;
    for (int r = 0; r < 5 || (r < 50 && now_s() < t_end - seconds / 2); r++) {
        double g = run_parallel(loop, n_iter, &sink);
        if (g > best) best = g;
        if (now_s() > t_end) break;
    }
    volatile double keep = sink;
    (void)keep;
    *gflops = best;
    return HWA_OK;
}

/* ---- calibration of the passport's CPU device --------------------------------------- */

#define PEAK_SECONDS 0.6
/* The FMA loops beside a matmul benchmark: their figure is a cross-check, and
 * the whole CPU calibration has to stay under 10 s. */
#define FMA_SECONDS_BESIDE_MATMUL 0.3

static const hwa_dtype peak_dtypes[] = {HWA_F32, HWA_BF16, HWA_I8};

/* The peak of dtype dt on device d: the FMA loops always (fma_peak_gflops),
 * and the matmul benchmark when there is one. A dtype the CPU or the
 * benchmark cannot do stays 0; a benchmark that fails becomes a warning. */
static hwa_status calibrate_peak(hwa_passport *p, const hwa_probe_opts *opts, hwa_dtype dt, hwa_device_info *d) {
    const bool matmul = opts->matmul_bench != NULL;
    char what[64];
    snprintf(what, sizeof what, "%s: %s peak", d->id, hwa_dtype_name(dt));
    hwa__calibrate_say(opts, what);
    double g = 0;
    hwa_status st = hwa_calibrate_fma_peak(dt, matmul ? FMA_SECONDS_BESIDE_MATMUL : PEAK_SECONDS, &g);
    if (st != HWA_OK && st != HWA_E_UNSUPPORTED) return st;
    if (st == HWA_OK && g > 0 && g < 1e9) d->fma_peak_gflops[dt] = g;
    if (!matmul) {
        d->peak_gflops[dt] = d->fma_peak_gflops[dt];
        return HWA_OK;
    }
    g = 0;
    st = opts->matmul_bench(opts->matmul_bench_ud, dt, PEAK_SECONDS, &g);
    if (st == HWA_OK && g > 0 && g < 1e9) d->peak_gflops[dt] = g;
    else if (st != HWA_OK && st != HWA_E_UNSUPPORTED)
        hwa__passport_warn(p, "%s matmul peak not measured: %s", hwa_dtype_name(dt),
                           hwa_last_error()[0] ? hwa_last_error() : hwa_status_str(st));
    return HWA_OK;
}

void hwa__calibrate_say(const hwa_probe_opts *opts, const char *what) {
    if (opts->progress) opts->progress(opts->progress_ud, what);
}

hwa_status hwa__calibrate_cpu(hwa_passport *p, const hwa_probe_opts *opts) {
    if (opts->calibrate == HWA_CALIBRATE_NONE || p->n_devices == 0) return HWA_OK;
    hwa_device_info *d = &p->devices[0];
    const char *method = opts->matmul_bench ? "matmul" : "fma-loop";
    if (opts->calibrate == HWA_CALIBRATE_CACHED && hwa__calibrate_load(p, opts, p->fingerprint, method, d) == HWA_OK) {
        d->calibration_cached = true;
        return HWA_OK;
    }
    hwa_clear_error();
    hwa__calibrate_say(opts, "cpu: memory bandwidth");
    hwa_status st = bandwidth(auto_array_bytes(&p->cpu), 4, &d->bandwidth);
    if (st == HWA_E_NOMEM) {
        hwa__passport_warn(p, "memory bandwidth not measured: %s", hwa_last_error());
        st = HWA_OK;
    }
    for (size_t i = 0; st == HWA_OK && i < sizeof peak_dtypes / sizeof peak_dtypes[0]; i++)
        st = calibrate_peak(p, opts, peak_dtypes[i], d);
    if (st != HWA_OK) return st;
    hwa_clear_error();
    hwa__strlcpy(d->peak_method, method, sizeof d->peak_method);
    hwa__calibrate_save(p, opts, p->fingerprint, method, d);
    return HWA_OK;
}
