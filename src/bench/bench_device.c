/* The benchmark's view of devices (see bench_device.h). Today the only
 * backend is the CPU reference backend: one device, f32/f16/bf16, one
 * thread, scalar reference kernels, no calibration and no power meter on
 * record, so the peaks are NAN and there is no meter. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench_device.h"

static const char *const devices[] = {"cpu"};
#define N_DEVICES ((int)(sizeof devices / sizeof devices[0]))

int hwa__bdev_count(void) { return N_DEVICES; }

const char *hwa__bdev_spec(int i) { return i >= 0 && i < N_DEVICES ? devices[i] : NULL; }

static void list_devices(char *buf, size_t cap) {
    buf[0] = 0;
    for (int i = 0; i < N_DEVICES; i++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? ", " : "", devices[i]);
}

hwa_status hwa__bdev_check(const char *spec) {
    for (int i = 0; spec && i < N_DEVICES; i++)
        if (!strcmp(spec, devices[i]) || (!strncmp(spec, devices[i], strlen(devices[i])) &&
                                          !strcmp(spec + strlen(devices[i]), ":0")))
            return HWA_OK;
    char list[128];
    list_devices(list, sizeof list);
    return hwa__err(NULL, HWA_E_NOTFOUND, "no device '%s'; available: %s (or 'all')", spec ? spec : "(null)", list);
}

bool hwa__bdev_supports_dtype(const char *spec, hwa_dtype t) {
    /* The reference kernels read and write every float dtype through f32. */
    return hwa__bdev_check(spec) == HWA_OK && (t == HWA_F32 || t == HWA_F16 || t == HWA_BF16);
}

void hwa__bdev_dtypes(const char *spec, char *buf, size_t cap) {
    buf[0] = 0;
    for (int t = 0; t < HWA_DTYPE_COUNT; t++)
        if (hwa__bdev_supports_dtype(spec, (hwa_dtype)t))
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", buf[0] ? ", " : "", hwa_dtype_name((hwa_dtype)t));
}

int hwa__bdev_default_threads(const char *spec) { return 1; }

int hwa__bdev_max_threads(const char *spec) { return 1; }

hwa_status hwa__bdev_set_threads(hwa_backend *be, int n) {
    if (n == 1) return HWA_OK;
    return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: the reference kernels run on 1 thread; available: 1",
                    hwa_backend_name(be));
}

void hwa__bdev_kernel(hwa_backend *be, const hwa_graph *g, char *buf, size_t cap) {
    snprintf(buf, cap, "reference");
}

double hwa__bdev_peak_gflops(const char *spec, hwa_dtype t) { return NAN; }

double hwa__bdev_mem_gbps(const char *spec) { return NAN; }

hwa__bdev_meter *hwa__bdev_meter_open(const char *spec) { return NULL; }

hwa_status hwa__bdev_meter_joules(hwa__bdev_meter *m, double *joules) {
    *joules = NAN;
    return hwa__err(NULL, HWA_E_UNSUPPORTED, "no power meter");
}

void hwa__bdev_meter_close(hwa__bdev_meter *m) {}

static void cpu_model(char *buf, size_t cap) {
    snprintf(buf, cap, "n/a");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10)) continue;
        char *v = strchr(line, ':');
        if (!v) break;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        v[strcspn(v, "\n")] = 0;
        snprintf(buf, cap, "%s", v);
        break;
    }
    fclose(f);
}

void hwa__bdev_machine(hwa_bench_machine *m) {
    memset(m, 0, sizeof *m);
    cpu_model(m->cpu, sizeof m->cpu);
    long n = sysconf(_SC_NPROCESSORS_ONLN), pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    m->logical_cpus = n > 0 ? (int)n : 0;
    m->memory_bytes = pages > 0 && psz > 0 ? (int64_t)pages * psz : -1;
    snprintf(m->isa, sizeof m->isa, "scalar (reference kernels)");
    list_devices(m->devices, sizeof m->devices);
    m->peak_gflops_f32 = NAN;
    m->memory_gbps = NAN;
    snprintf(m->power_meter, sizeof m->power_meter, "none");
    snprintf(m->calibration, sizeof m->calibration, "n/a (no calibration in this build)");
}
