/* The benchmark's power meter for a device (src/bench/bench_device.c): a
 * cuda:N row is metered by NVML's energy counter of the same GPU, found by
 * PCI bus id (CUDA and NVML number GPUs in different orders), and a CUDA
 * device without a meter says why. The GPUs are the fake driver of
 * tests/fixtures/hw/fake_nvidia.c (cuda:0 draws 100 W, and with
 * FAKE_NVIDIA_GPUS=2 cuda:1 draws 300 W and is NVML's GPU 0). */
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "bench/bench_device.h"
#include "harness.h"

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

/* The meter's watts over 0.2 s of sleep. */
static double watts(hwa__bdev_meter *m) {
    double j0 = -1, j1 = -1;
    if (hwa__bdev_meter_joules(m, &j0)) return -1;
    nanosleep(&(struct timespec){0, 200000000L}, NULL);
    if (hwa__bdev_meter_joules(m, &j1)) return -1;
    return (j1 - j0) / 0.2;
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
