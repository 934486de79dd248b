/* Power meters: RAPL energy counters through powercap sysfs
 * (/sys/class/powercap/intel-rapl:N for packages, intel-rapl:N:M for their
 * core / uncore / dram domains) and NVML's per-GPU energy counter, or, for a
 * GPU without one (before Volta), its power draw sampled every 20 ms and
 * integrated (power_sampled.c). A meter reports joules used since it was
 * opened; RAPL's counter wraps at max_energy_range_uj, which each read
 * accounts for. */
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "hw/hw_internal.h"

#define POWERCAP "/sys/class/powercap"

typedef struct rapl_zone {
    char dir[64];       /* "intel-rapl:0:1" */
    char name[64];      /* "rapl:package-0/dram" */
    char domain[32];    /* "dram" */
} rapl_zone;

static int cmp_zone(const void *a, const void *b) {
    return strcmp(((const rapl_zone *)a)->dir, ((const rapl_zone *)b)->dir);
}

static void domain_of(const char *zone_name, char *out, size_t cap) {
    hwa__strlcpy(out, zone_name, cap);
    char *dash = strchr(out, '-');
    if (dash && !strncmp(out, "package", 7)) *dash = '\0'; /* "package-0" -> "package" */
}

/* Lists RAPL zones below root into *out (malloc'd, sorted by directory). */
static hwa_status list_rapl(const char *root, rapl_zone **out, int *n_out) {
    char path[4096];
    *out = NULL;
    *n_out = 0;
    hwa_status st = hwa__hw_path(root, POWERCAP, path, sizeof path);
    if (st != HWA_OK) return st;
    DIR *dir = opendir(path);
    if (!dir) return HWA_OK;
    rapl_zone *z = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        unsigned a, b;
        char tail;
        int k = sscanf(e->d_name, "intel-rapl:%u:%u%c", &a, &b, &tail);
        bool top = k == 1 && sscanf(e->d_name, "intel-rapl:%u%c", &a, &tail) == 1;
        if (!top && k != 2) continue;
        if (strlen(e->d_name) >= sizeof z[0].dir) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            rapl_zone *nz = realloc(z, sizeof *z * (size_t)cap);
            if (!nz) {
                free(z);
                closedir(dir);
                return hwa__err(NULL, HWA_E_NOMEM, "powercap: out of memory");
            }
            z = nz;
        }
        memset(&z[n], 0, sizeof z[n]);
        hwa__strlcpy(z[n].dir, e->d_name, sizeof z[n].dir);
        n++;
    }
    closedir(dir);
    qsort(z, (size_t)n, sizeof *z, cmp_zone);
    /* Names: a package's own name; a subzone's as "<package>/<name>". */
    for (int i = 0; i < n; i++) {
        char rel[256], zname[24], parent[24] = "";
        snprintf(rel, sizeof rel, POWERCAP "/%s/name", z[i].dir);
        if (hwa__read_text(root, rel, zname, sizeof zname) != HWA_OK) hwa__strlcpy(zname, z[i].dir, sizeof zname);
        unsigned a, b;
        if (sscanf(z[i].dir, "intel-rapl:%u:%u", &a, &b) == 2) {
            snprintf(rel, sizeof rel, POWERCAP "/intel-rapl:%u/name", a);
            if (hwa__read_text(root, rel, parent, sizeof parent) != HWA_OK) snprintf(parent, sizeof parent, "package-%u", a);
            snprintf(z[i].name, sizeof z[i].name, "rapl:%s/%s", parent, zname);
        } else {
            snprintf(z[i].name, sizeof z[i].name, "rapl:%s", zname);
        }
        domain_of(zname, z[i].domain, sizeof z[i].domain);
    }
    hwa_clear_error();
    *out = z;
    *n_out = n;
    return HWA_OK;
}

static hwa_status read_counter(const char *root, const char *dir, const char *file, uint64_t *out) {
    char rel[256];
    int64_t v;
    snprintf(rel, sizeof rel, POWERCAP "/%s/%s", dir, file);
    hwa_status st = hwa__read_i64(root, rel, 0, INT64_MAX, &v);
    if (st == HWA_OK) *out = (uint64_t)v;
    return st;
}

hwa_status hwa__probe_meters(hwa_passport *p, const hwa_probe_opts *opts) {
    const char *root = hwa__sysroot(opts);
    rapl_zone *z;
    int n;
    hwa_status st = list_rapl(root, &z, &n);
    if (st != HWA_OK) return st;
    int unreadable = 0;
    for (int i = 0; i < n && st == HWA_OK; i++) {
        uint64_t v;
        if (read_counter(root, z[i].dir, "energy_uj", &v) != HWA_OK) {
            unreadable++;
            continue;
        }
        hwa_meter_info m = {0};
        hwa__strlcpy(m.name, z[i].name, sizeof m.name);
        hwa__strlcpy(m.kind, "rapl", sizeof m.kind);
        hwa__strlcpy(m.domain, z[i].domain, sizeof m.domain);
        st = hwa__passport_add_meter(p, &m);
    }
    free(z);
    hwa_clear_error();
    if (unreadable)
        hwa__passport_warn(p, "%d RAPL energy counter%s in %s cannot be read by this user "
                              "(energy_uj is root-only on recent kernels)",
                           unreadable, unreadable > 1 ? "s" : "", POWERCAP);
    if (st != HWA_OK) return st;

    hwa__nvml *nv = hwa__nvml_open(opts);
    int ng = hwa__nvml_count(nv);
    for (int i = 0; i < ng && st == HWA_OK; i++) {
        uint64_t mj;
        if (hwa__nvml_energy_mj(nv, i, &mj) != HWA_OK) continue;
        hwa_meter_info m = {0};
        snprintf(m.name, sizeof m.name, "nvml:%d", i);
        hwa__strlcpy(m.kind, "nvml", sizeof m.kind);
        hwa__strlcpy(m.domain, "gpu", sizeof m.domain);
        st = hwa__passport_add_meter(p, &m);
    }
    hwa__nvml_close(nv);
    hwa_clear_error();
    return st;
}

/* ---- the meter API ----------------------------------------------------------- */

struct hwa_meter {
    bool nvml;
    char root[1024];
    char dir[64];
    uint64_t max_range; /* RAPL: the counter wraps to 0 after this; 0 unknown */
    uint64_t last;      /* last raw reading (uJ or mJ) */
    uint64_t total;     /* accumulated since open (same unit) */
    hwa__nvml *nv;
    int index;
    hwa__sampler *sampled; /* NVML without an energy counter: its sampled power */
};

/* The sampler's sensor: NVML's power reading of the meter's GPU. */
static hwa_status nvml_watts(void *ud, double *watts) {
    hwa_meter *m = ud;
    return hwa__nvml_power_w(m->nv, m->index, watts);
}

#define HWA__POWER_SAMPLE_S 0.02

hwa_meter *hwa_meter_open(const char *name, const hwa_probe_opts *opts) {
    if (!name) {
        hwa__err(NULL, HWA_E_MISUSE, "meter: NULL name");
        return NULL;
    }
    hwa_meter *m = calloc(1, sizeof *m);
    if (!m) {
        hwa__err(NULL, HWA_E_NOMEM, "meter: out of memory");
        return NULL;
    }
    hwa_status st = HWA_OK;
    if (!strncmp(name, "nvml:", 5)) {
        int64_t idx;
        m->nvml = true;
        st = hwa__parse_i64(name + 5, 0, 1023, "meter index", &idx);
        if (st == HWA_OK) {
            m->index = (int)idx;
            m->nv = hwa__nvml_open(opts);
            if (!m->nv) st = hwa__err(NULL, HWA_E_NOTFOUND, "meter %s: NVML is not available", name);
        }
        if (st == HWA_OK) st = hwa__nvml_energy_mj(m->nv, m->index, &m->last);
        if (st == HWA_E_IO || st == HWA_E_UNSUPPORTED) {
            /* no energy counter: integrate the power draw instead */
            char why[256];
            hwa__strlcpy(why, hwa_last_error(), sizeof why);
            m->sampled = hwa__sampler_start(nvml_watts, m, HWA__POWER_SAMPLE_S);
            st = m->sampled ? HWA_OK
                            : hwa__err(NULL, HWA_E_IO, "meter %s: %s, and its power draw cannot be sampled: %s", name,
                                       why, hwa_last_error());
        }
    } else if (!strncmp(name, "rapl:", 5)) {
        const char *root = hwa__sysroot(opts);
        hwa__strlcpy(m->root, root, sizeof m->root);
        rapl_zone *z;
        int n;
        st = list_rapl(root, &z, &n);
        int found = -1;
        for (int i = 0; st == HWA_OK && i < n && found < 0; i++)
            if (!strcmp(z[i].name, name)) found = i;
        if (st == HWA_OK && found < 0) st = hwa__err(NULL, HWA_E_NOTFOUND, "meter %s: no such RAPL domain", name);
        if (st == HWA_OK) {
            hwa__strlcpy(m->dir, z[found].dir, sizeof m->dir);
            if (read_counter(root, m->dir, "max_energy_range_uj", &m->max_range) != HWA_OK) m->max_range = 0;
            hwa_clear_error();
            st = read_counter(root, m->dir, "energy_uj", &m->last);
            if (st == HWA_E_NOTFOUND) st = HWA_E_IO;
        }
        free(z);
    } else {
        st = hwa__err(NULL, HWA_E_NOTFOUND, "meter '%.60s': names start with rapl: or nvml:", name);
    }
    if (st != HWA_OK) {
        char msg[512];
        hwa__strlcpy(msg, hwa_last_error(), sizeof msg);
        hwa_meter_close(m);
        hwa__err(NULL, st, "%s", msg);
        return NULL;
    }
    return m;
}

hwa_status hwa_meter_read_joules(hwa_meter *m, double *joules) {
    if (!m || !joules) return hwa__err(NULL, HWA_E_MISUSE, "meter read: NULL argument");
    uint64_t cur;
    hwa_status st;
    if (m->sampled) return hwa__sampler_joules(m->sampled, joules);
    if (m->nvml) {
        if ((st = hwa__nvml_energy_mj(m->nv, m->index, &cur)) != HWA_OK) return st;
        if (cur < m->last) return hwa__err(NULL, HWA_E_FORMAT, "NVML energy counter went backwards");
        m->total += cur - m->last;
        m->last = cur;
        *joules = (double)m->total / 1e3;
        return HWA_OK;
    }
    if ((st = read_counter(m->root, m->dir, "energy_uj", &cur)) != HWA_OK) return st == HWA_E_NOTFOUND ? HWA_E_IO : st;
    if (m->max_range && cur > m->max_range)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: energy_uj %llu exceeds max_energy_range_uj %llu", m->dir,
                        (unsigned long long)cur, (unsigned long long)m->max_range);
    uint64_t delta;
    if (cur >= m->last) {
        delta = cur - m->last;
    } else if (m->max_range) {
        delta = (m->max_range - m->last) + cur; /* wrapped once since the last read */
    } else {
        return hwa__err(NULL, HWA_E_FORMAT, "%s: energy counter went backwards and its range is unknown", m->dir);
    }
    m->total += delta;
    m->last = cur;
    *joules = (double)m->total / 1e6;
    return HWA_OK;
}

void hwa_meter_close(hwa_meter *m) {
    if (!m) return;
    hwa__sampler_stop(m->sampled); /* before NVML closes: its thread reads NVML */
    hwa__nvml_close(m->nv);
    free(m);
}
