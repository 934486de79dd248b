/* The readable passport: the CPU block, one block per device with its
 * roofline (peak per dtype, bandwidth, ridge point), the runtimes that found
 * nothing, the power meters, and any warnings. */
#include <string.h>

#include "core/text.h"
#include "hw/hw_internal.h"

/* Lines fit 100 columns: long lists and messages wrap under their text. */
enum { WIDTH = 100 };

static const char *bytes_str(int64_t b, char *buf, size_t cap) {
    if (b < 0) snprintf(buf, cap, "unknown");
    else if (b >= (INT64_C(1) << 30)) snprintf(buf, cap, "%.1f GiB", (double)b / (1 << 30));
    else if (b >= (INT64_C(1) << 20)) snprintf(buf, cap, "%.0f MiB", (double)b / (1 << 20));
    else snprintf(buf, cap, "%.0f KiB", (double)b / 1024);
    return buf;
}

static void print_cpu(const hwa_cpu_info *c, FILE *f) {
    char b1[32], b2[32];
    fprintf(f, "CPU       %s\n", c->model_name[0] ? c->model_name : "unknown");
    fprintf(f, "  identity  %s, %s", c->vendor[0] ? c->vendor : "unknown vendor", c->arch);
    bool arm = !strncmp(c->arch, "aarch64", 7) || !strncmp(c->arch, "arm", 3);
    if (arm && c->model >= 0) fprintf(f, ", part 0x%03x variant 0x%x revision %d", c->model, c->family, c->stepping);
    else if (c->family >= 0) fprintf(f, ", family %d model %d stepping %d", c->family, c->model, c->stepping);
    fprintf(f, "\n  cores    ");
    const char *what[4] = {"physical", "logical", "socket(s)", "NUMA node(s)"};
    int val[4] = {c->physical_cores, c->logical_cpus, c->sockets, c->numa_nodes};
    for (int i = 0; i < 4; i++) {
        if (val[i] > 0) fprintf(f, " %d %s%s", val[i], what[i], i < 3 ? "," : "");
        else fprintf(f, " ? %s%s", what[i], i < 3 ? "," : "");
    }
    fprintf(f, "\n");
    fprintf(f, "  caches   ");
    for (int i = 0; i < c->n_caches; i++) {
        const hwa_cache_level *k = &c->caches[i];
        const char *t = !strcmp(k->type, "data") ? "d" : !strcmp(k->type, "instruction") ? "i" : "";
        fprintf(f, " L%d%s %s x%d%s", k->level, t, bytes_str(k->size_bytes, b1, sizeof b1), k->instances,
                i + 1 < c->n_caches ? "," : "");
    }
    fprintf(f, "%s\n", c->n_caches ? "" : " unknown");
    fprintf(f, "  memory    %s total, %s available\n", bytes_str(c->mem_total_bytes, b1, sizeof b1),
            bytes_str(c->mem_available_bytes, b2, sizeof b2));
    fprintf(f, "  limits    ");
    if (c->cgroup_version) fprintf(f, "cgroup v%d: memory ", c->cgroup_version);
    else fprintf(f, "no cgroup: memory ");
    if (c->cgroup_memory_max_bytes >= 0) fprintf(f, "%s", bytes_str(c->cgroup_memory_max_bytes, b1, sizeof b1));
    else fprintf(f, "unlimited");
    if (c->cgroup_cpu_limit > 0) fprintf(f, ", cpu %.2f CPUs", c->cgroup_cpu_limit);
    else fprintf(f, ", cpu unlimited");
    fprintf(f, "; affinity %s (%d CPUs)\n", c->affinity_list[0] ? c->affinity_list : "unknown", c->affinity_cpus);
    char feat[4096] = "none found";
    size_t n = 0;
    for (int i = 0; i < c->n_features && n + 1 < sizeof feat; i++)
        n += (size_t)snprintf(feat + n, sizeof feat - n, "%s%s", i ? " " : "", c->features[i]);
    fprintf(f, "  features  ");
    hwa__text_wrap(f, feat, 12, 12, WIDTH);
}

static void print_device(const hwa_device_info *d, FILE *f) {
    char b1[32], b2[32];
    fprintf(f, "\n%-9s %s\n", d->id, d->name);
    fprintf(f, "  kind      %s %s", hwa_hw_kind_name(d->kind), d->type);
    if (d->vendor[0]) fprintf(f, ", %s", d->vendor);
    if (d->platform[0]) fprintf(f, ", platform %s", d->platform);
    if (d->driver[0]) fprintf(f, ", driver %s", d->driver);
    fprintf(f, "\n  compute   %d units", d->compute_units);
    if (d->clock_mhz > 0) fprintf(f, " @ %d MHz", d->clock_mhz);
    if (d->kind == HWA_HW_CUDA) fprintf(f, ", compute capability %d.%d, PCI %s", d->cc_major, d->cc_minor, d->pci_bus_id);
    if (d->kind == HWA_HW_PJRT)
        fprintf(f, ", device id %d%s%s", d->pjrt_id, d->pjrt_attributes[0] ? ", " : "", d->pjrt_attributes);
    fprintf(f, "; fp16 %s, fp64 %s\n", d->fp16 ? "yes" : "no", d->fp64 ? "yes" : "no");
    fprintf(f, "  memory    %s", bytes_str(d->memory_bytes, b1, sizeof b1));
    if (d->max_alloc_bytes >= 0 && d->max_alloc_bytes != d->memory_bytes)
        fprintf(f, ", max allocation %s", bytes_str(d->max_alloc_bytes, b2, sizeof b2));
    if (d->free_memory_bytes >= 0) fprintf(f, ", %s free", bytes_str(d->free_memory_bytes, b2, sizeof b2));
    fprintf(f, "\n");
    if (d->power_w >= 0 || d->temperature_c >= 0) {
        fprintf(f, "  telemetry");
        if (d->power_w >= 0) fprintf(f, " %.1f W", d->power_w);
        if (d->power_limit_w >= 0) fprintf(f, " (limit %.0f W)", d->power_limit_w);
        if (d->temperature_c >= 0) fprintf(f, ", %.0f C", d->temperature_c);
        if (d->sm_clock_mhz >= 0) fprintf(f, ", SM %d MHz", d->sm_clock_mhz);
        if (d->mem_clock_mhz >= 0) fprintf(f, ", memory %d MHz", d->mem_clock_mhz);
        if (d->energy_j >= 0) fprintf(f, ", energy counter %.1f J", d->energy_j);
        fprintf(f, "\n");
    }
    bool any = false;
    for (int t = 0; t < HWA_DTYPE_COUNT; t++) any |= d->peak_gflops[t] > 0 || d->fma_peak_gflops[t] > 0;
    if (!any && d->bandwidth.triad_gbs <= 0) {
        fprintf(f, "  roofline  not calibrated\n");
        return;
    }
    fprintf(f, "  roofline  (%s%s)\n", d->peak_method[0] ? d->peak_method : "measured",
            d->calibration_cached ? ", cached" : "");
    for (int t = 0; t < HWA_DTYPE_COUNT; t++) {
        if (d->peak_gflops[t] <= 0 && d->fma_peak_gflops[t] <= 0) continue;
        bool integer = t == HWA_I8 || t == HWA_I32;
        const char *unit = integer ? "GOP/s  " : "GFLOP/s";
        if (d->peak_gflops[t] > 0) fprintf(f, "    %-5s %10.1f %s", hwa_dtype_name((hwa_dtype)t), d->peak_gflops[t], unit);
        else fprintf(f, "    %-5s %10s %s", hwa_dtype_name((hwa_dtype)t), "n/a", unit);
        if (d->bandwidth.triad_gbs > 0 && d->peak_gflops[t] > 0)
            fprintf(f, "   ridge %6.1f %s/byte", d->peak_gflops[t] / d->bandwidth.triad_gbs, integer ? "op" : "FLOP");
        /* The instructions' own limit beside a kernel's measured peak. */
        if (strcmp(d->peak_method, "fma-loop") && d->fma_peak_gflops[t] > 0)
            fprintf(f, "   (fma-loop %.1f)", d->fma_peak_gflops[t]);
        fprintf(f, "\n");
    }
    if (d->bandwidth.triad_gbs > 0)
        fprintf(f, "    memory %9.1f GB/s triad (read %.1f, copy %.1f; arrays of %s)\n", d->bandwidth.triad_gbs,
                d->bandwidth.read_gbs, d->bandwidth.copy_gbs, bytes_str(d->bandwidth.array_bytes, b1, sizeof b1));
    if (d->h2d_gbs > 0)
        fprintf(f, "    host->device %.1f GB/s, device->host %.1f GB/s\n", d->h2d_gbs, d->d2h_gbs);
    if (d->launch_us > 0) fprintf(f, "    kernel launch %.1f us (empty kernel to clFinish, median)\n", d->launch_us);
}

hwa_status hwa_passport_print(const hwa_passport *p, FILE *f) {
    if (!p || !f) return hwa__err(NULL, HWA_E_MISUSE, "passport print: NULL argument");
    fprintf(f, "hwadapt %s hardware passport (fingerprint %s)\n\n", HWA_VERSION_STRING, p->fingerprint);
    print_cpu(&p->cpu, f);
    for (int i = 0; i < p->n_devices; i++) print_device(&p->devices[i], f);
    fprintf(f, "\naccelerator runtimes\n");
    for (int i = 0; i < p->n_runtimes; i++) {
        const hwa_runtime_info *r = &p->runtimes[i];
        if (r->n_devices > 0) fprintf(f, "  %-7s %d device%s (%s)\n", r->name, r->n_devices, r->n_devices == 1 ? "" : "s", r->library);
        else {
            char line[600];
            snprintf(line, sizeof line, "none found%s%s", r->note[0] ? ": " : "", r->note);
            fprintf(f, "  %-7s ", r->name);
            hwa__text_wrap(f, line, 10, 12, WIDTH);
        }
    }
    fprintf(f, "\npower meters\n");
    for (int i = 0; i < p->n_meters; i++) fprintf(f, "  %-24s %s %s\n", p->meters[i].name, p->meters[i].kind, p->meters[i].domain);
    if (p->n_meters == 0) fprintf(f, "  none found\n");
    for (int i = 0; i < p->n_warnings; i++) {
        fprintf(f, "%swarning: ", i ? "" : "\n");
        hwa__text_wrap(f, p->warnings[i], 9, 4, WIDTH);
    }
    fflush(f);
    return ferror(f) ? hwa__err(NULL, HWA_E_IO, "passport print: write failed") : HWA_OK;
}
