/* The matmul peak benchmark the passport calibrates with
 * (hwa_bench_matmul_peak): it measures through the CPU backend's kernels,
 * refuses what it cannot measure honestly, and gives the passport a
 * "matmul" roofline with the FMA loops' figure beside it. */
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/cpu_isa.h"
#include "harness.h"

/* Small products keep the tests quick; the rates are not checked for size. */
static const hwa_bench_matmul_peak_opts small = {128, 0};

TEST(f32_peak_is_measured_through_the_graph) {
    double g = 0;
    CHECK_OK(hwa_bench_matmul_peak((void *)&small, HWA_F32, 0.05, &g));
    CHECK_MSG(g > 0, "f32 peak %g GFLOP/s", g); /* a rate, not a speed claim */
}

TEST(bf16_and_i8_are_measured_or_unsupported_never_f32_in_disguise) {
    const hwa_dtype ts[] = {HWA_BF16, HWA_I8};
    for (int i = 0; i < 2; i++) {
        double g = 0;
        hwa_status st = hwa_bench_matmul_peak((void *)&small, ts[i], 0.05, &g);
        CHECK_MSG(st == HWA_OK || st == HWA_E_UNSUPPORTED, "%s: %s", hwa_dtype_name(ts[i]), hwa_last_error());
        if (st == HWA_OK) CHECK(g > 0);
    }
    /* The scalar level has no bf16 or int8 kernel: the product would run as
     * the reference or in f32, which is not a bf16 or int8 peak. */
    hwa__isa_set_override(HWA_ISA_SCALAR);
    for (int i = 0; i < 2; i++) {
        double g = -1;
        CHECK_STATUS(hwa_bench_matmul_peak((void *)&small, ts[i], 0.05, &g), HWA_E_UNSUPPORTED);
        CHECK_STR_CONTAINS(hwa_last_error(), "kernel");
        CHECK_NEAR(g, -1, 0);
    }
    hwa__isa_set_override(-1);
}

TEST(i8_peak_of_a_cpu_with_vnni_or_amx_is_measured_in_int8) {
    /* ctest runs this binary twice: as the host is, and under HWA_ISA=avx512
     * (test_bench_calibrate_avx512), which caps oneDNN's own code at
     * AVX-512 with VNNI as on a CPU without AMX. Its int8 kernels must run
     * there too (they once fell back to OpenBLAS, and the passport said n/a). */
    const hwa__cpu_caps *caps = hwa__cpu_caps_get();
    if (hwa__isa_active() < HWA_ISA_AVX512) {
        SKIP_FOR("avx512", "no AVX-512 on this host (or HWA_ISA below avx512)");
    }
    if (!caps->avx512_vnni && !caps->amx_int8) {
        SKIP_FOR("avx512", "no AVX512-VNNI or AMX-INT8 on this host");
    }
    double g = 0;
    CHECK_OK(hwa_bench_matmul_peak((void *)&small, HWA_I8, 0.05, &g));
    CHECK(g > 0);
}

TEST(bad_arguments_are_errors) {
    double g = 0;
    const hwa_bench_matmul_peak_opts tiny = {8, 0}, huge = {100000, 0}, neg = {64, -2};
    CHECK_STATUS(hwa_bench_matmul_peak(NULL, HWA_F32, 0.05, NULL), HWA_E_MISUSE);
    CHECK_STATUS(hwa_bench_matmul_peak(NULL, HWA_F32, 0, &g), HWA_E_INVALID);
    CHECK_STATUS(hwa_bench_matmul_peak(NULL, HWA_F32, 61, &g), HWA_E_INVALID);
    CHECK_STATUS(hwa_bench_matmul_peak((void *)&tiny, HWA_F32, 0.05, &g), HWA_E_INVALID);
    CHECK_STATUS(hwa_bench_matmul_peak((void *)&huge, HWA_F32, 0.05, &g), HWA_E_INVALID);
    CHECK_STATUS(hwa_bench_matmul_peak((void *)&neg, HWA_F32, 0.05, &g), HWA_E_INVALID);
    CHECK_STATUS(hwa_bench_matmul_peak((void *)&small, HWA_F16, 0.05, &g), HWA_E_UNSUPPORTED);
    CHECK_STATUS(hwa_bench_matmul_peak((void *)&small, HWA_Q4_0, 0.05, &g), HWA_E_UNSUPPORTED);
    CHECK_STATUS(hwa_bench_matmul_peak((void *)&small, (hwa_dtype)99, 0.05, &g), HWA_E_UNSUPPORTED);
}

TEST(the_passport_takes_its_peaks_from_the_matmul_benchmark) {
    char root[1024];
    const char *src = getenv("HWA_SOURCE_DIR");
    snprintf(root, sizeof root, "%s/tests/fixtures/hw/arm", src ? src : ".");
    /* The ARM fixture says 64 MiB are available: bandwidth arrays stay small. */
    hwa_probe_opts o = {.sysroot = root, .calibrate = HWA_CALIBRATE_FORCE, .matmul_bench = hwa_bench_matmul_peak,
                        .matmul_bench_ud = (void *)&small};
    char cache[1024];
    snprintf(cache, sizeof cache, "%s/calib-cache", hwa_test_tmpdir());
    o.cache_dir = cache;
    hwa_passport *p = hwa_passport_probe(&o);
    CHECK_MSG(p, "probe failed: %s", hwa_last_error());
    const hwa_device_info *d = hwa_passport_device(p, 0);
    CHECK(!strcmp(d->peak_method, "matmul"));
    CHECK(d->peak_gflops[HWA_F32] > 0);
    CHECK(d->fma_peak_gflops[HWA_F32] > 0);
    CHECK_NEAR(d->peak_gflops[HWA_F16], 0, 0);
    for (int i = 0; i < hwa_passport_warning_count(p); i++)
        CHECK_MSG(!strstr(hwa_passport_warning(p, i), "matmul peak"), "warning: %s", hwa_passport_warning(p, i));
    hwa_passport_free(p);
}

/* ---- other devices ------------------------------------------------------- */

/* Whether opencl:0 opens; skips for "opencl" when it does not. */
static bool have_opencl0(void) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = hwa_backend_new(ctx, "opencl:0");
    if (!be) hwa_test_skip_for("opencl", "no opencl:0: %s", hwa_ctx_last_error(ctx));
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    return be != NULL;
}

TEST(a_device_peak_is_measured_through_its_backend_in_f32_only) {
    double g = 0;
    CHECK_STATUS(hwa_bench_device_matmul_peak((void *)&small, NULL, HWA_F32, 0.05, &g), HWA_E_MISUSE);
    CHECK_STATUS(hwa_bench_device_matmul_peak((void *)&small, "opencl:63", HWA_F32, 0.05, &g), HWA_E_NOTFOUND);
    if (!have_opencl0()) return;
    CHECK_OK(hwa_bench_device_matmul_peak((void *)&small, "opencl:0", HWA_F32, 0.05, &g));
    CHECK_MSG(g > 0, "opencl:0 f32 peak %g GFLOP/s", g);
    /* the device kernels compute bf16 and int8 products in f32: no such peak */
    const hwa_dtype ts[] = {HWA_BF16, HWA_I8, HWA_F16};
    for (int i = 0; i < 3; i++) {
        double x = -1;
        CHECK_STATUS(hwa_bench_device_matmul_peak((void *)&small, "opencl:0", ts[i], 0.05, &x), HWA_E_UNSUPPORTED);
        CHECK_NEAR(x, -1, 0);
    }
}

TEST(the_passport_takes_an_opencl_devices_peak_from_the_device_benchmark) {
    if (!have_opencl0()) return;
    char root[1024], cache[1024];
    const char *src = getenv("HWA_SOURCE_DIR");
    snprintf(root, sizeof root, "%s/tests/fixtures/hw/arm", src ? src : ".");
    snprintf(cache, sizeof cache, "%s/calib-cache-opencl", hwa_test_tmpdir());
    hwa_probe_opts o = {.sysroot = root, .cache_dir = cache, .calibrate = HWA_CALIBRATE_FORCE,
                        .device_matmul_bench = hwa_bench_device_matmul_peak, .device_matmul_bench_ud = (void *)&small};
    for (int pass = 0; pass < 2; pass++) {
        hwa_passport *p = hwa_passport_probe(&o);
        CHECK_MSG(p, "probe failed: %s", hwa_last_error());
        if (!p) return;
        const hwa_device_info *d = NULL;
        for (int i = 0; i < hwa_passport_device_count(p); i++)
            if (!strcmp(hwa_passport_device(p, i)->id, "opencl:0")) d = hwa_passport_device(p, i);
        CHECK(d != NULL);
        if (d) {
            printf("    %s (%s%s): f32 %.1f GFLOP/s (fma-loop %.1f), triad %.1f GB/s, to/from device %.1f/%.1f GB/s, "
                   "launch %.1f us\n", d->id, d->peak_method, d->calibration_cached ? ", cached" : "",
                   d->peak_gflops[HWA_F32], d->fma_peak_gflops[HWA_F32], d->bandwidth.triad_gbs, d->h2d_gbs,
                   d->d2h_gbs, d->launch_us);
            CHECK(!strcmp(d->peak_method, "matmul"));
            CHECK(d->calibration_cached == (pass == 1));
            CHECK(d->peak_gflops[HWA_F32] > 0 && d->fma_peak_gflops[HWA_F32] > 0);
            CHECK(d->bandwidth.copy_gbs > 0 && d->h2d_gbs > 0 && d->d2h_gbs > 0 && d->launch_us > 0);
        }
        for (int i = 0; i < hwa_passport_warning_count(p); i++)
            CHECK_MSG(!strstr(hwa_passport_warning(p, i), "opencl"), "warning: %s", hwa_passport_warning(p, i));
        hwa_passport_free(p);
        o.calibrate = HWA_CALIBRATE_CACHED;
    }
}
