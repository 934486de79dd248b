/* The passport: the probe's order of work, ownership of what it finds, and
 * the accessors. */
#include <ctype.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "hw/hw_internal.h"

void hwa__strlcpy(char *dst, const char *src, size_t cap) {
    if (cap == 0) return;
    size_t n = src ? strnlen(src, cap - 1) : 0;
    if (n) memcpy(dst, src, n);
    dst[n] = '\0';
}

char *hwa__strtrim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

const char *hwa_hw_kind_name(hwa_hw_kind k) {
    switch (k) {
    case HWA_HW_CPU: return "cpu";
    case HWA_HW_OPENCL: return "opencl";
    case HWA_HW_CUDA: return "cuda";
    case HWA_HW_PJRT: return "pjrt";
    default: return "?";
    }
}

/* Grows *arr (of elem-sized items, *cap of them) to hold n + 1. */
static bool grow(void **arr, int *cap, int n, size_t elem) {
    if (n < *cap) return true;
    int nc = *cap ? *cap * 2 : 8;
    void *na = realloc(*arr, (size_t)nc * elem);
    if (!na) return false;
    memset((char *)na + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *arr = na;
    *cap = nc;
    return true;
}

hwa_status hwa__passport_add_feature(hwa_passport *p, const char *name) {
    if (hwa_passport_has_feature(p, name)) return HWA_OK;
    if (!grow((void **)&p->features, &p->cap_features, p->cpu.n_features, sizeof(char *)))
        return hwa__err(NULL, HWA_E_NOMEM, "passport: out of memory");
    char *s = strdup(name);
    if (!s) return hwa__err(NULL, HWA_E_NOMEM, "passport: out of memory");
    p->features[p->cpu.n_features++] = s;
    p->cpu.features = (const char *const *)p->features;
    return HWA_OK;
}

void hwa__passport_drop_feature(hwa_passport *p, const char *name) {
    for (int i = 0; i < p->cpu.n_features; i++) {
        if (strcmp(p->features[i], name)) continue;
        free(p->features[i]);
        memmove(&p->features[i], &p->features[i + 1], sizeof(char *) * (size_t)(p->cpu.n_features - i - 1));
        p->cpu.n_features--;
        return;
    }
}

hwa_device_info *hwa__passport_add_device(hwa_passport *p) {
    if (!grow((void **)&p->devices, &p->cap_devices, p->n_devices, sizeof(hwa_device_info))) {
        hwa__err(NULL, HWA_E_NOMEM, "passport: out of memory");
        return NULL;
    }
    hwa_device_info *d = &p->devices[p->n_devices++];
    memset(d, 0, sizeof *d);
    d->memory_bytes = d->max_alloc_bytes = d->free_memory_bytes = -1;
    d->power_w = d->power_limit_w = d->temperature_c = d->energy_j = -1;
    d->sm_clock_mhz = d->mem_clock_mhz = -1;
    return d;
}

hwa_status hwa__passport_add_meter(hwa_passport *p, const hwa_meter_info *m) {
    if (!grow((void **)&p->meters, &p->cap_meters, p->n_meters, sizeof(hwa_meter_info)))
        return hwa__err(NULL, HWA_E_NOMEM, "passport: out of memory");
    p->meters[p->n_meters++] = *m;
    return HWA_OK;
}

void hwa__passport_warn(hwa_passport *p, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!grow((void **)&p->warnings, &p->cap_warnings, p->n_warnings, sizeof(char *))) return;
    char *s = strdup(buf);
    if (s) p->warnings[p->n_warnings++] = s;
}

static hwa_status probe_cpu(hwa_passport *p, const char *root) {
    hwa_cpu_info *cpu = &p->cpu;
    cpu->family = cpu->model = cpu->stepping = -1;
    cpu->cgroup_memory_max_bytes = -1;
    hwa_status st = hwa__probe_topology(root, cpu);
    if (st != HWA_OK) return st;
    if (!*root && hwa__cpu_from_cpuid(p) == HWA_OK) {
        /* x86: cpuid says it all. */
    } else {
        st = hwa__cpu_from_cpuinfo(p, root);
        if (st != HWA_OK && (*root || st != HWA_E_NOTFOUND)) return st;
        hwa_clear_error();
        if (!*root) hwa__cpu_arm_auxv(p);
    }
    if (!*root && cpu->logical_cpus == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cpu->logical_cpus = n > 0 ? (int)n : 0;
    }
    if ((st = hwa__probe_memory(root, cpu)) != HWA_OK) return st;
    return hwa__probe_cgroup(root, cpu);
}

static hwa_status add_cpu_device(hwa_passport *p) {
    const hwa_cpu_info *cpu = &p->cpu;
    hwa_device_info *d = hwa__passport_add_device(p);
    if (!d) return HWA_E_NOMEM;
    hwa__strlcpy(d->id, "cpu", sizeof d->id);
    d->kind = HWA_HW_CPU;
    hwa__strlcpy(d->type, "cpu", sizeof d->type);
    hwa__strlcpy(d->name, cpu->model_name[0] ? cpu->model_name : "unknown CPU", sizeof d->name);
    hwa__strlcpy(d->vendor, cpu->vendor, sizeof d->vendor);
    d->compute_units = cpu->affinity_cpus ? cpu->affinity_cpus : cpu->logical_cpus;
    int64_t mem = cpu->mem_total_bytes;
    if (cpu->cgroup_memory_max_bytes >= 0 && (mem < 0 || cpu->cgroup_memory_max_bytes < mem))
        mem = cpu->cgroup_memory_max_bytes;
    d->memory_bytes = d->max_alloc_bytes = mem;
    int64_t avail = cpu->mem_available_bytes;
    if (cpu->cgroup_memory_max_bytes >= 0 && (avail < 0 || cpu->cgroup_memory_max_bytes < avail))
        avail = cpu->cgroup_memory_max_bytes;
    d->free_memory_bytes = avail;
    d->fp16 = hwa_passport_has_feature(p, "f16c") || hwa_passport_has_feature(p, "avx512_fp16") ||
              hwa_passport_has_feature(p, "fphp");
    d->fp64 = true;
    return HWA_OK;
}

hwa_passport *hwa_passport_probe(const hwa_probe_opts *opts) {
    hwa_probe_opts defaults = {0};
    if (!opts) opts = &defaults;
    if ((unsigned)opts->calibrate > HWA_CALIBRATE_NONE) {
        hwa__err(NULL, HWA_E_INVALID, "probe: calibrate mode %d is not one of hwa_calibrate_mode", (int)opts->calibrate);
        return NULL;
    }
    hwa_passport *p = calloc(1, sizeof *p);
    if (!p) {
        hwa__err(NULL, HWA_E_NOMEM, "probe: out of memory");
        return NULL;
    }
    const char *root = hwa__sysroot(opts);
    hwa_status st = probe_cpu(p, root);
    if (st == HWA_OK) st = add_cpu_device(p);
    if (st == HWA_OK) {
        hwa__passport_fingerprint(p);
        st = hwa__probe_opencl(p, opts);
    }
    if (st == HWA_OK) st = hwa__probe_cuda(p, opts);
    if (st == HWA_OK) st = hwa__probe_pjrt(p, opts);
    if (st == HWA_OK) st = hwa__probe_meters(p, opts);
    if (st == HWA_OK) st = hwa__calibrate_cpu(p, opts);
    if (st == HWA_OK) st = hwa__calibrate_opencl(p, opts);
    if (st != HWA_OK) {
        char msg[512];
        hwa__strlcpy(msg, hwa_last_error(), sizeof msg);
        hwa_passport_free(p);
        hwa__err(NULL, st, "probe: %s", msg[0] ? msg : hwa_status_str(st));
        return NULL;
    }
    return p;
}

void hwa_passport_free(hwa_passport *p) {
    if (!p) return;
    for (int i = 0; i < p->cpu.n_features; i++) free(p->features[i]);
    free(p->features);
    for (int i = 0; i < p->n_warnings; i++) free(p->warnings[i]);
    free(p->warnings);
    free(p->devices);
    free(p->meters);
    free(p);
}

const hwa_cpu_info *hwa_passport_cpu(const hwa_passport *p) { return p ? &p->cpu : NULL; }
int hwa_passport_device_count(const hwa_passport *p) { return p ? p->n_devices : 0; }
const hwa_device_info *hwa_passport_device(const hwa_passport *p, int i) {
    return p && i >= 0 && i < p->n_devices ? &p->devices[i] : NULL;
}
int hwa_passport_runtime_count(const hwa_passport *p) { return p ? p->n_runtimes : 0; }
const hwa_runtime_info *hwa_passport_runtime(const hwa_passport *p, int i) {
    return p && i >= 0 && i < p->n_runtimes ? &p->runtimes[i] : NULL;
}
int hwa_passport_meter_count(const hwa_passport *p) { return p ? p->n_meters : 0; }
const hwa_meter_info *hwa_passport_meter(const hwa_passport *p, int i) {
    return p && i >= 0 && i < p->n_meters ? &p->meters[i] : NULL;
}
int hwa_passport_warning_count(const hwa_passport *p) { return p ? p->n_warnings : 0; }
const char *hwa_passport_warning(const hwa_passport *p, int i) {
    return p && i >= 0 && i < p->n_warnings ? p->warnings[i] : NULL;
}
bool hwa_passport_has_feature(const hwa_passport *p, const char *flag) {
    if (!p || !flag) return false;
    for (int i = 0; i < p->cpu.n_features; i++)
        if (!strcmp(p->features[i], flag)) return true;
    return false;
}
const char *hwa_passport_fingerprint(const hwa_passport *p) { return p ? p->fingerprint : NULL; }
