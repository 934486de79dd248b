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
