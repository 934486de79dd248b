/* The benchmark's view of devices (see bench_device.h). Devices are those of
 * the passport that a backend in this build can run ("cpu", "opencl:N");
 * peaks, bandwidth and meters are the passport's calibration and meters.
 * Precisions, threads and kernel names come from the backends: the CPU and
 * OpenCL backends run every float dtype (f32 arithmetic), the CPU on its
 * threads (OpenCL's driver spreads its own work: no thread setting), and
 * each names the kernel of a node. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench_device.h"
#include "hw/hw_internal.h"


int hwa__bdev_count(const hwa_passport *p) {
    if (!p) return 1;
    int n = 0;
    for (int i = 0; i < hwa_passport_device_count(p); i++) n += hwa__backend_registered(hwa_passport_device(p, i)->id);
    return n;
}

const char *hwa__bdev_spec(const hwa_passport *p, int i) {
    if (!p) return i == 0 ? "cpu" : NULL;
    for (int k = 0; k < hwa_passport_device_count(p); k++) {
        const char *id = hwa_passport_device(p, k)->id;
        if (hwa__backend_registered(id) && i-- == 0) return id;
    }
    return NULL;
}

/* "cpu:0" is "cpu". */
static bool same_device(const char *spec, const char *id) {
    size_t n = strlen(id);
    return !strcmp(spec, id) || (!strncmp(spec, id, n) && !strcmp(spec + n, ":0") && !strchr(id, ':'));
}

static const hwa_device_info *find_device(const hwa_passport *p, const char *spec) {
    for (int i = 0; p && spec && i < hwa_passport_device_count(p); i++)
        if (same_device(spec, hwa_passport_device(p, i)->id)) return hwa_passport_device(p, i);
    return NULL;
}

hwa_status hwa__bdev_check(const hwa_passport *p, const char *spec) {
    if (spec && !strcmp(spec, "auto")) return HWA_OK; /* the scheduler's choice among them */
    for (int i = 0; spec && i < hwa__bdev_count(p); i++)
        if (same_device(spec, hwa__bdev_spec(p, i))) return HWA_OK;
    char list[256] = "";
    for (int i = 0; i < hwa__bdev_count(p); i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", hwa__bdev_spec(p, i));
    if (find_device(p, spec))
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "device '%s' is in the passport but this build has no backend for it; "
                        "available: %s (or 'all')", spec, list);
    if (spec && hwa__backend_registered(spec)) {
        /* a kind this build knows, on a machine that lacks it: the backend says why */
        hwa_ctx *ctx = hwa_ctx_new(NULL);
        hwa_backend *be = ctx ? hwa_backend_new(ctx, spec) : NULL;
        char why[1024];
        snprintf(why, sizeof why, "%s", ctx ? hwa_ctx_last_error(ctx) : "");
        hwa_backend_free(be);
        hwa_ctx_free(ctx);
        char lead[64];
        snprintf(lead, sizeof lead, "device '%s': ", spec);
        const char *w = strncmp(why, lead, strlen(lead)) ? why : why + strlen(lead);
        if (!be && why[0])
            return hwa__err(NULL, HWA_E_NOTFOUND, "no device '%s': %s; available: %s (or 'all')", spec, w, list);
    }
    return hwa__err(NULL, HWA_E_NOTFOUND, "no device '%s'; available: %s (or 'all')", spec ? spec : "(null)", list);
}

bool hwa__bdev_supports_dtype(const char *spec, hwa_dtype t) {
    /* The CPU reference kernels and the OpenCL kernels read and write every
     * float dtype through f32. */
    return spec && (hwa__backend_registered(spec) || !strcmp(spec, "auto")) && (t == HWA_F32 || t == HWA_F16 || t == HWA_BF16);
}

void hwa__bdev_dtypes(const char *spec, char *buf, size_t cap) {
    buf[0] = 0;
    for (int t = 0; t < HWA_DTYPE_COUNT; t++)
        if (hwa__bdev_supports_dtype(spec, (hwa_dtype)t))
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", buf[0] ? ", " : "", hwa_dtype_name((hwa_dtype)t));
}

/* The backend's own default (HWA_NUM_THREADS, else the CPUs the process may
 * use), asked of a throw-away backend. */
int hwa__bdev_default_threads(const char *spec) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = ctx ? hwa_backend_new(ctx, spec) : NULL;
    int n = be ? hwa_backend_threads(be) : 1;
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    return n > 0 ? n : 1;
}

bool hwa__bdev_has_threads(const char *spec) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = ctx ? hwa_backend_new(ctx, spec) : NULL;
    const bool has = be && be->iface->set_threads;
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    return has;
}

/* More threads than online CPUs only oversubscribe them; the default may be
 * set higher through HWA_NUM_THREADS, and is allowed. A device without a
 * thread setting offers 1. */
int hwa__bdev_max_threads(const char *spec) {
    if (!hwa__bdev_has_threads(spec)) return 1;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int d = hwa__bdev_default_threads(spec);
    return online > d ? (int)online : d;
}

hwa_status hwa__bdev_set_threads(hwa_backend *be, int n) { return hwa_backend_set_threads(be, n); }

void hwa__bdev_kernel(const hwa_backend *be, const hwa_tensor *node, char *buf, size_t cap) {
    const char *k = node ? hwa_backend_kernel_name(be, node) : NULL;
    snprintf(buf, cap, "%s", k && k[0] ? k : "n/a");
}

double hwa__bdev_peak_gflops(const hwa_passport *p, const char *spec, hwa_dtype t) {
    const hwa_device_info *d = find_device(p, spec);
    return d && (unsigned)t < HWA_DTYPE_COUNT && d->peak_gflops[t] > 0 ? d->peak_gflops[t] : NAN;
}

const char *hwa__bdev_peak_method(const hwa_passport *p, const char *spec) {
    const hwa_device_info *d = find_device(p, spec);
    return d && d->peak_method[0] ? d->peak_method : "n/a";
}

double hwa__bdev_mem_gbps(const hwa_passport *p, const char *spec) {
    const hwa_device_info *d = find_device(p, spec);
    return d && d->bandwidth.triad_gbs > 0 ? d->bandwidth.triad_gbs : NAN;
}

/* The meter that covers a device, into name (NULL when none): a CPU is
 * measured by RAPL's package domain; cuda:N by the NVML GPU at cuda:N's PCI
 * bus id (CUDA and NVML number GPUs in different orders, so the index alone
 * could meter another GPU), its energy counter or else its sampled power.
 * For a CUDA device without one, why says why. */
static const char *meter_name(const hwa_passport *p, const char *spec, char *name, size_t cap, char *why,
                              size_t why_cap) {
    const hwa_device_info *d = find_device(p, spec);
    if (!d) return NULL;
    if (d->kind == HWA_HW_CUDA) {
        if (!d->pci_bus_id[0]) {
            snprintf(why, why_cap, "%s's PCI bus id is unknown, so no NVML GPU can be matched to it", d->id);
            return NULL;
        }
        hwa__nvml *nv = hwa__nvml_open(NULL);
        int index = -1;
        hwa_status st = nv ? hwa__nvml_index_of_pci(nv, d->pci_bus_id, &index) : HWA_E_NOTFOUND;
        if (st) snprintf(why, why_cap, "%s", nv ? hwa_last_error() : "NVML (libnvidia-ml.so.1) cannot be loaded");
        hwa__nvml_close(nv);
        hwa_clear_error();
        if (st) return NULL;
        /* opened even when the passport lists no meter for it: without an
         * energy counter, the meter samples the GPU's power draw */
        snprintf(name, cap, "nvml:%d", index);
        return name;
    }
    for (int i = 0; i < hwa_passport_meter_count(p); i++) {
        const hwa_meter_info *m = hwa_passport_meter(p, i);
        if (d->kind == HWA_HW_CPU && !strcmp(m->kind, "rapl") && !strcmp(m->domain, "package")) {
            snprintf(name, cap, "%s", m->name);
            return name;
        }
    }
    return NULL;
}

hwa__bdev_meter *hwa__bdev_meter_open(const hwa_passport *p, const char *spec, char *why, size_t why_cap) {
    char name[64], ignored[8];
    if (!why || !why_cap) why = ignored, why_cap = sizeof ignored;
    why[0] = '\0';
    if (!meter_name(p, spec, name, sizeof name, why, why_cap)) return NULL;
    hwa_meter *m = hwa_meter_open(name, NULL);
    if (!m) snprintf(why, why_cap, "%s", hwa_last_error());
    return (hwa__bdev_meter *)m;
}

hwa_status hwa__bdev_meter_joules(hwa__bdev_meter *m, double *joules) {
    return hwa_meter_read_joules((hwa_meter *)m, joules);
}

void hwa__bdev_meter_close(hwa__bdev_meter *m) { hwa_meter_close((hwa_meter *)m); }

/* The SIMD extensions worth naming in a one-line summary. */
static const char *const isa_names[] = {"sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni",
                                        "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8",
                                        "asimd", "asimddp", "sve", "sve2"};

void hwa__bdev_machine(const hwa_passport *p, hwa_bench_machine *m) {
    memset(m, 0, sizeof *m);
    snprintf(m->cpu, sizeof m->cpu, "n/a");
    snprintf(m->isa, sizeof m->isa, "n/a");
    m->memory_bytes = -1;
    m->peak_gflops_f32 = m->memory_gbps = NAN;
    snprintf(m->power_meter, sizeof m->power_meter, "none");
    snprintf(m->calibration, sizeof m->calibration, "n/a (no passport)");
    for (int i = 0; i < hwa__bdev_count(p); i++)
        snprintf(m->devices + strlen(m->devices), sizeof m->devices - strlen(m->devices), "%s%s", i ? ", " : "",
                 hwa__bdev_spec(p, i));
    const hwa_cpu_info *c = hwa_passport_cpu(p);
    if (!c) return;
    snprintf(m->cpu, sizeof m->cpu, "%s", c->model_name);
    m->logical_cpus = c->logical_cpus;
    m->memory_bytes = c->mem_total_bytes;
    m->isa[0] = 0;
    for (size_t i = 0; i < sizeof isa_names / sizeof isa_names[0]; i++)
        if (hwa_passport_has_feature(p, isa_names[i]))
            snprintf(m->isa + strlen(m->isa), sizeof m->isa - strlen(m->isa), "%s%s", m->isa[0] ? " " : "", isa_names[i]);
    if (!m->isa[0]) snprintf(m->isa, sizeof m->isa, "none of note");
    const hwa_device_info *cpu = hwa_passport_device(p, 0);
    m->peak_gflops_f32 = hwa__bdev_peak_gflops(p, "cpu", HWA_F32);
    m->memory_gbps = hwa__bdev_mem_gbps(p, "cpu");
    if (hwa_passport_meter_count(p) > 0) {
        m->power_meter[0] = 0;
        for (int i = 0; i < hwa_passport_meter_count(p); i++)
            snprintf(m->power_meter + strlen(m->power_meter), sizeof m->power_meter - strlen(m->power_meter), "%s%s",
                     i ? ", " : "", hwa_passport_meter(p, i)->name);
    }
    if (cpu && cpu->peak_method[0])
        snprintf(m->calibration, sizeof m->calibration, "%s, %s (fingerprint %s)", cpu->peak_method,
                 cpu->calibration_cached ? "cached" : "measured now", hwa_passport_fingerprint(p));
    else
        snprintf(m->calibration, sizeof m->calibration, "not calibrated");
}
