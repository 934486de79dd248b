/* The benchmark's power meter for a device (src/bench/bench_device.c): a
 * cuda:N row is metered by NVML's energy counter of the same GPU, found by
 * PCI bus id (CUDA and NVML number GPUs in different orders), or by its
 * sampled power where it keeps no counter (src/hw/power_sampled.c), and a
 * CUDA device without a meter says why. The GPUs are the fake driver of
 * tests/fixtures/hw/fake_nvidia.c (cuda:0 draws 100 W, and with
 * FAKE_NVIDIA_GPUS=2 cuda:1 draws 300 W and is NVML's GPU 0). */
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "bench/bench_device.h"
#include "harness.h"
#include "hw/hw_internal.h"

/* The fake driver built into the test's temporary folder, once; NULL (the
 * test skips) where no C compiler can build it. */
static const char *fake_lib(void) {
    static char lib[1024];
    static int built = -1;
    if (built < 0) {
        const char *src = getenv("HWA_SOURCE_DIR");
        char cmd[3000];
        snprintf(lib, sizeof lib, "%s/libfake_nvidia.so", hwa_test_tmpdir());
        snprintf(cmd, sizeof cmd, "cc -shared -fPIC -o '%s' '%s/tests/fixtures/hw/fake_nvidia.c' 2>/dev/null", lib,
                 src ? src : ".");
        built = system(cmd) == 0;
    }
    return built ? lib : NULL;
}

/* A folder with no library in it: NVML cannot be found there. */
static const char *no_libs(void) {
    static char dir[1024];
    snprintf(dir, sizeof dir, "%s/nolibs", hwa_test_tmpdir());
    mkdir(dir, 0755);
    return dir;
}

/* The passport with the fake CUDA driver, and NVML from nvml (a library or
 * a folder). The meters are opened later through the same environment. */
static hwa_passport *probe_with(const char *nvml) {
    setenv("HWA_CUDA_LIB", fake_lib(), 1);
    setenv("HWA_NVML_LIB", nvml, 1);
    hwa_probe_opts o = {0};
    o.calibrate = HWA_CALIBRATE_NONE;
    o.opencl_lib = o.pjrt_plugin = no_libs();
    return hwa_passport_probe(&o);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The meter's watts over about 0.2 s of sleep: joules over the seconds
 * between the two reads as this clock saw them (a loaded machine may sleep
 * longer; the rate stays the same). */
static double watts(hwa__bdev_meter *m) {
    double j0 = -1, j1 = -1;
    const double t0 = now_s();
    if (hwa__bdev_meter_joules(m, &j0)) return -1;
    nanosleep(&(struct timespec){0, 200000000L}, NULL);
    if (hwa__bdev_meter_joules(m, &j1)) return -1;
    return (j1 - j0) / (now_s() - t0);
}

TEST(cuda_device_without_nvml_has_no_meter_and_says_why) {
    if (!fake_lib()) {
        hwa_test_skip("no C compiler (cc) to build the fake NVIDIA driver");
        return;
    }
    hwa_passport *p = probe_with(no_libs());
    CHECK(p != NULL);
    char why[256] = "unchanged";
    hwa__bdev_meter *m = hwa__bdev_meter_open(p, "cuda:0", why, sizeof why);
    CHECK(m == NULL);
    CHECK_STR_CONTAINS(why, "NVML");
    CHECK_STR_CONTAINS(why, "cannot be loaded");
    /* a device with no meter that need not say why: the reason stays empty */
    m = hwa__bdev_meter_open(p, "pjrt:7", why, sizeof why);
    CHECK(m == NULL);
    CHECK(why[0] == '\0');
    hwa_passport_free(p);
}

TEST(cuda_device_is_metered_by_the_nvml_gpu_at_its_pci_bus_id) {
    if (!fake_lib()) {
        hwa_test_skip("no C compiler (cc) to build the fake NVIDIA driver");
        return;
    }
    setenv("FAKE_NVIDIA_GPUS", "2", 1);
    hwa_passport *p = probe_with(fake_lib());
    CHECK(p != NULL);
    char why[256];
    /* cuda:0 is NVML's GPU 1 (100 W), cuda:1 NVML's GPU 0 (300 W): an index
     * match would give each the other's watts */
    hwa__bdev_meter *m0 = hwa__bdev_meter_open(p, "cuda:0", why, sizeof why);
    CHECK(m0 != NULL);
    CHECK(why[0] == '\0');
    hwa__bdev_meter *m1 = hwa__bdev_meter_open(p, "cuda:1", why, sizeof why);
    CHECK(m1 != NULL);
    const double w0 = watts(m0), w1 = watts(m1);
    hwa__bdev_meter_close(m0);
    hwa__bdev_meter_close(m1);
    hwa_passport_free(p);
    unsetenv("FAKE_NVIDIA_GPUS");
    CHECK(w0 > 80 && w0 < 130);
    CHECK(w1 > 250 && w1 < 350);
}

TEST(cuda_device_whose_bus_id_nvml_does_not_know_has_no_meter) {
    if (!fake_lib()) {
        hwa_test_skip("no C compiler (cc) to build the fake NVIDIA driver");
        return;
    }
    /* CUDA sees two GPUs, NVML (probed with one) only the first's bus id */
    setenv("FAKE_NVIDIA_GPUS", "2", 1);
    hwa_passport *p = probe_with(fake_lib());
    unsetenv("FAKE_NVIDIA_GPUS");
    CHECK(p != NULL);
    char why[256];
    hwa__bdev_meter *m = hwa__bdev_meter_open(p, "cuda:1", why, sizeof why);
    CHECK(m == NULL);
    CHECK_STR_CONTAINS(why, "no GPU at PCI bus id '0000:1A:00.0'");
    hwa_passport_free(p);
}

TEST(cuda_device_without_an_energy_counter_is_metered_by_its_sampled_power) {
    if (!fake_lib()) {
        hwa_test_skip("no C compiler (cc) to build the fake NVIDIA driver");
        return;
    }
    setenv("FAKE_NVIDIA_NO_ENERGY", "1", 1);
    hwa_passport *p = probe_with(fake_lib());
    char why[256];
    hwa__bdev_meter *m = p ? hwa__bdev_meter_open(p, "cuda:0", why, sizeof why) : NULL;
    const double w = m ? watts(m) : -1;
    hwa__bdev_meter_close(m);
    hwa_passport_free(p);
    unsetenv("FAKE_NVIDIA_NO_ENERGY");
    CHECK(m != NULL);
    CHECK(w > 80 && w < 130);
}

/* A sensor for the sampler: a steady draw, failing from call fail_at on
 * (0: never). */
typedef struct fake_sensor {
    double watts;
    int calls, fail_at;
} fake_sensor;

static hwa_status fake_read(void *ud, double *watts) {
    fake_sensor *f = ud;
    if (f->fail_at && ++f->calls >= f->fail_at) return hwa__err(NULL, HWA_E_IO, "fake sensor unplugged");
    *watts = f->watts;
    return HWA_OK;
}

TEST(sampled_power_integrates_a_steady_draw) {
    fake_sensor f = {50, 0, 0};
    hwa__sampler *s = hwa__sampler_start(fake_read, &f, 0.005);
    CHECK(s != NULL);
    double j0 = -1, j1 = -1;
    const double t0 = now_s();
    CHECK_OK(hwa__sampler_joules(s, &j0));
    nanosleep(&(struct timespec){0, 200000000L}, NULL);
    CHECK_OK(hwa__sampler_joules(s, &j1));
    const double dt = now_s() - t0;
    hwa__sampler_stop(s);
    CHECK(j0 >= 0);
    CHECK_NEAR((j1 - j0) / dt, 50, 5); /* a steady 50 W, whatever the sleep took */
}

TEST(sampled_power_reports_a_sensor_that_fails) {
    fake_sensor dead = {50, 0, 1};
    CHECK(hwa__sampler_start(fake_read, &dead, 0.005) == NULL); /* the first sample fails */
    CHECK_STR_CONTAINS(hwa_last_error(), "unplugged");
    CHECK(hwa__sampler_start(fake_read, &dead, 0) == NULL);
    CHECK_STR_CONTAINS(hwa_last_error(), "a period outside 1 ms..10 s");
    fake_sensor later = {50, 0, 3}; /* the third sample fails */
    hwa__sampler *s = hwa__sampler_start(fake_read, &later, 0.005);
    CHECK(s != NULL);
    nanosleep(&(struct timespec){0, 100000000L}, NULL);
    double j = -1;
    const hwa_status st = hwa__sampler_joules(s, &j);
    hwa__sampler_stop(s);
    CHECK_INT_EQ(st, HWA_E_IO);
    CHECK_STR_CONTAINS(hwa_last_error(), "unplugged");
    CHECK(j == -1);
}
