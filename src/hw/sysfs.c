/* Files below the sysroot: small-file readers, number and CPU-list parsers,
 * and what sysfs and procfs say about topology, caches, NUMA and memory. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "hw/hw_internal.h"

const char *hwa__sysroot(const hwa_probe_opts *opts) {
    if (opts && opts->sysroot) return opts->sysroot;
    const char *e = getenv("HWA_SYSROOT");
    return e ? e : "";
}

hwa_status hwa__hw_path(const char *root, const char *rel, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "%s%s", root ? root : "", rel);
    if (n < 0 || (size_t)n >= cap) return hwa__err(NULL, HWA_E_INVALID, "%s%s: path too long", root ? root : "", rel);
    return HWA_OK;
}

static hwa_status open_below(const char *root, const char *rel, FILE **f, char *path, size_t cap) {
    hwa_status st = hwa__hw_path(root, rel, path, cap);
    if (st != HWA_OK) return st;
    *f = fopen(path, "rb");
    if (!*f) {
        int e = errno;
        return hwa__err(NULL, (e == ENOENT || e == ENOTDIR) ? HWA_E_NOTFOUND : HWA_E_IO, "%s: %s", path, strerror(e));
    }
    return HWA_OK;
}

hwa_status hwa__read_text(const char *root, const char *rel, char *buf, size_t cap) {
    char path[4096];
    FILE *f;
    if (cap == 0) return hwa__err(NULL, HWA_E_MISUSE, "read_text: empty buffer");
    hwa_status st = open_below(root, rel, &f, path, sizeof path);
    if (st != HWA_OK) return st;
    size_t n = fread(buf, 1, cap - 1, f);
    bool more = n == cap - 1 && fgetc(f) != EOF;
    bool err = ferror(f);
    fclose(f);
    buf[n] = '\0';
    if (err) return hwa__err(NULL, HWA_E_IO, "%s: read error", path);
    if (more) return hwa__err(NULL, HWA_E_RANGE, "%s: longer than %zu bytes", path, cap - 1);
    while (n > 0 && isspace((unsigned char)buf[n - 1])) buf[--n] = '\0';
    return HWA_OK;
}

hwa_status hwa__read_file_alloc(const char *root, const char *rel, char **out, size_t *len) {
    char path[4096];
    FILE *f;
    *out = NULL;
    hwa_status st = open_below(root, rel, &f, path, sizeof path);
    if (st != HWA_OK) return st;
    /* procfs files report size 0: read in chunks. Cap at 64 MiB. */
    size_t cap = 16384, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (n < cap - 1) break;
        if (cap >= ((size_t)64 << 20)) {
            free(buf);
            fclose(f);
            return hwa__err(NULL, HWA_E_RANGE, "%s: larger than 64 MiB", path);
        }
        char *nb = realloc(buf, cap * 2);
        if (!nb) { free(buf); buf = NULL; break; }
        buf = nb;
        cap *= 2;
    }
    bool err = ferror(f);
    fclose(f);
    if (!buf) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", path);
    if (err) {
        free(buf);
        return hwa__err(NULL, HWA_E_IO, "%s: read error", path);
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return HWA_OK;
}

hwa_status hwa__parse_i64(const char *s, int64_t lo, int64_t hi, const char *what, int64_t *out) {
    const char *p = s;
    while (isspace((unsigned char)*p)) p++;
    if (!*p || !(isdigit((unsigned char)*p) || ((*p == '-' || *p == '+') && isdigit((unsigned char)p[1]))))
        return hwa__err(NULL, HWA_E_FORMAT, "%s: '%.40s' is not a number", what, s);
    errno = 0;
    char *end;
    long long v = strtoll(p, &end, 10);
    if (errno == ERANGE) return hwa__err(NULL, HWA_E_RANGE, "%s: '%.40s' is out of range", what, s);
    while (isspace((unsigned char)*end)) end++;
    if (*end) return hwa__err(NULL, HWA_E_FORMAT, "%s: '%.40s' is not a number", what, s);
    if (v < lo || v > hi)
        return hwa__err(NULL, HWA_E_RANGE, "%s: %lld is outside [%lld, %lld]", what, v, (long long)lo, (long long)hi);
    *out = v;
    return HWA_OK;
}

hwa_status hwa__read_i64(const char *root, const char *rel, int64_t lo, int64_t hi, int64_t *out) {
    char buf[64];
    hwa_status st = hwa__read_text(root, rel, buf, sizeof buf);
    if (st != HWA_OK) return st;
    return hwa__parse_i64(buf, lo, hi, rel, out);
}

#define CPULIST_MAX 65536

static bool parse_uint(const char **p, long *v) {
    if (!isdigit((unsigned char)**p)) return false;
    char *end;
    errno = 0;
    *v = strtol(*p, &end, 10);
    if (errno || *v < 0 || *v >= CPULIST_MAX) return false;
    *p = end;
    return true;
}

hwa_status hwa__parse_cpulist(const char *s, int *count, uint64_t *bits, int nbits) {
    const char *p = s;
    int n = 0;
    while (isspace((unsigned char)*p)) p++;
    while (*p && !isspace((unsigned char)*p)) {
        long a, b;
        if (!parse_uint(&p, &a)) return hwa__err(NULL, HWA_E_FORMAT, "CPU list '%.60s' is malformed", s);
        b = a;
        if (*p == '-') {
            p++;
            if (!parse_uint(&p, &b) || b < a) return hwa__err(NULL, HWA_E_FORMAT, "CPU list '%.60s' is malformed", s);
        }
        for (long c = a; c <= b; c++) {
            if (bits && c < (long)nbits * 64) bits[c / 64] |= 1ull << (c % 64);
        }
        n += (int)(b - a + 1);
        if (*p == ',') {
            p++;
            if (!isdigit((unsigned char)*p)) return hwa__err(NULL, HWA_E_FORMAT, "CPU list '%.60s' is malformed", s);
        } else if (*p && !isspace((unsigned char)*p)) {
            return hwa__err(NULL, HWA_E_FORMAT, "CPU list '%.60s' is malformed", s);
        }
    }
    while (isspace((unsigned char)*p)) p++;
    if (*p) return hwa__err(NULL, HWA_E_FORMAT, "CPU list '%.60s' is malformed", s);
    *count = n;
    return HWA_OK;
}

void hwa__format_cpulist(const uint64_t *bits, int nbits, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    int total = nbits * 64;
    for (int c = 0; c < total;) {
        if (!(bits[c / 64] >> (c % 64) & 1)) { c++; continue; }
        int e = c;
        while (e + 1 < total && (bits[(e + 1) / 64] >> ((e + 1) % 64) & 1)) e++;
        int w = e > c ? snprintf(buf + len, cap - len, "%s%d-%d", len ? "," : "", c, e)
                      : snprintf(buf + len, cap - len, "%s%d", len ? "," : "", c);
        if (w < 0 || (size_t)w >= cap - len) { buf[len] = '\0'; return; }
        len += (size_t)w;
        c = e + 1;
    }
}

/* "48K", "2048K", "32M" -> bytes. */
static hwa_status parse_cache_size(const char *s, const char *what, int64_t *out) {
    char num[32];
    size_t n = 0;
    while (isdigit((unsigned char)s[n]) && n < sizeof num - 1) { num[n] = s[n]; n++; }
    num[n] = '\0';
    int64_t v, mul = 1;
    hwa_status st = hwa__parse_i64(num, 0, INT64_C(1) << 40, what, &v);
    if (st != HWA_OK) return st;
    const char *suf = s + n;
    if (!strcmp(suf, "K")) mul = 1024;
    else if (!strcmp(suf, "M")) mul = 1024 * 1024;
    else if (!strcmp(suf, "G")) mul = INT64_C(1) << 30;
    else if (*suf) return hwa__err(NULL, HWA_E_FORMAT, "%s: '%.20s' is not a cache size", what, s);
    *out = v * mul;
    return HWA_OK;
}

#define MAX_CPUS 4096
#define MAX_SEEN 512

typedef struct cache_seen {
    int level;
    char type[16];
    char shared[128];
} cache_seen;

static void add_cache(hwa_cpu_info *cpu, cache_seen *seen, int *n_seen, int level, const char *type,
                      const char *shared, int64_t size, int shared_by) {
    for (int i = 0; i < *n_seen; i++)
        if (seen[i].level == level && !strcmp(seen[i].type, type) && !strcmp(seen[i].shared, shared)) return;
    if (*n_seen < MAX_SEEN) {
        seen[*n_seen].level = level;
        hwa__strlcpy(seen[*n_seen].type, type, sizeof seen[0].type);
        hwa__strlcpy(seen[*n_seen].shared, shared, sizeof seen[0].shared);
        (*n_seen)++;
    }
    for (int i = 0; i < cpu->n_caches; i++) {
        hwa_cache_level *c = &cpu->caches[i];
        if (c->level == level && !strcmp(c->type, type)) {
            c->instances++;
            return;
        }
    }
    if (cpu->n_caches == HWA_HW_MAX_CACHES) return;
    hwa_cache_level *c = &cpu->caches[cpu->n_caches++];
    c->level = level;
    hwa__strlcpy(c->type, type, sizeof c->type);
    c->size_bytes = size;
    c->instances = 1;
    c->shared_by = shared_by;
}

static void probe_caches(const char *root, int cpu_id, hwa_cpu_info *cpu, cache_seen *seen, int *n_seen) {
    for (int idx = 0; idx < 16; idx++) {
        char rel[160], buf[128], type[32], shared[128];
        int64_t level, size = 0;
        snprintf(rel, sizeof rel, "/sys/devices/system/cpu/cpu%d/cache/index%d/level", cpu_id, idx);
        if (hwa__read_i64(root, rel, 0, 16, &level) != HWA_OK) break;
        snprintf(rel, sizeof rel, "/sys/devices/system/cpu/cpu%d/cache/index%d/type", cpu_id, idx);
        if (hwa__read_text(root, rel, type, sizeof type) != HWA_OK) continue;
        for (char *t = type; *t; t++) *t = (char)tolower((unsigned char)*t);
        snprintf(rel, sizeof rel, "/sys/devices/system/cpu/cpu%d/cache/index%d/size", cpu_id, idx);
        if (hwa__read_text(root, rel, buf, sizeof buf) != HWA_OK || parse_cache_size(buf, rel, &size) != HWA_OK)
            continue;
        snprintf(rel, sizeof rel, "/sys/devices/system/cpu/cpu%d/cache/index%d/shared_cpu_list", cpu_id, idx);
        int shared_by = 1;
        if (hwa__read_text(root, rel, shared, sizeof shared) != HWA_OK ||
            hwa__parse_cpulist(shared, &shared_by, NULL, 0) != HWA_OK) {
            snprintf(shared, sizeof shared, "cpu%d", cpu_id);
            shared_by = 1;
        }
        add_cache(cpu, seen, n_seen, (int)level, type, shared, size, shared_by);
    }
}

hwa_status hwa__probe_topology(const char *root, hwa_cpu_info *cpu) {
    char buf[4096];
    uint64_t online[MAX_CPUS / 64] = {0};
    int n_online = 0;
    if (hwa__read_text(root, "/sys/devices/system/cpu/online", buf, sizeof buf) != HWA_OK ||
        hwa__parse_cpulist(buf, &n_online, online, MAX_CPUS / 64) != HWA_OK) {
        hwa_clear_error();
        return HWA_OK; /* no sysfs: leave the topology unknown */
    }
    cpu->logical_cpus = n_online;

    /* Physical cores are distinct (package, core) pairs; sockets distinct packages. */
    int64_t *pairs = malloc(sizeof(int64_t) * 2 * (size_t)n_online);
    cache_seen *seen = malloc(sizeof(cache_seen) * MAX_SEEN);
    if (!pairs || !seen) {
        free(pairs);
        free(seen);
        return hwa__err(NULL, HWA_E_NOMEM, "topology: out of memory");
    }
    int n_pairs = 0, n_seen = 0, n_pkgs = 0;
    int64_t pkgs[64];
    bool topo_ok = true;
    for (int c = 0; c < MAX_CPUS; c++) {
        if (!(online[c / 64] >> (c % 64) & 1)) continue;
        char rel[128];
        int64_t pkg, core;
        snprintf(rel, sizeof rel, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", c);
        hwa_status s1 = hwa__read_i64(root, rel, -1, INT32_MAX, &pkg);
        snprintf(rel, sizeof rel, "/sys/devices/system/cpu/cpu%d/topology/core_id", c);
        hwa_status s2 = hwa__read_i64(root, rel, -1, INT32_MAX, &core);
        if (s1 != HWA_OK || s2 != HWA_OK) {
            topo_ok = false;
        } else {
            bool dup = false;
            for (int i = 0; i < n_pairs && !dup; i++) dup = pairs[2 * i] == pkg && pairs[2 * i + 1] == core;
            if (!dup && n_pairs < n_online) {
                pairs[2 * n_pairs] = pkg;
                pairs[2 * n_pairs + 1] = core;
                n_pairs++;
            }
            dup = false;
            for (int i = 0; i < n_pkgs && !dup; i++) dup = pkgs[i] == pkg;
            if (!dup && n_pkgs < 64) pkgs[n_pkgs++] = pkg;
        }
        probe_caches(root, c, cpu, seen, &n_seen);
    }
    if (topo_ok && n_pairs > 0) {
        cpu->physical_cores = n_pairs;
        cpu->sockets = n_pkgs;
    }
    free(pairs);
    free(seen);

    int n_nodes = 0;
    if (hwa__read_text(root, "/sys/devices/system/node/online", buf, sizeof buf) == HWA_OK &&
        hwa__parse_cpulist(buf, &n_nodes, NULL, 0) == HWA_OK)
        cpu->numa_nodes = n_nodes;
    hwa_clear_error();
    return HWA_OK;
}

/* "MemTotal:       24684084 kB" -> bytes. */
static hwa_status meminfo_field(const char *text, const char *key, int64_t *out) {
    size_t klen = strlen(key);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, key, klen) || line[klen] != ':') continue;
        const char *p = line + klen + 1;
        char num[32];
        size_t n = 0;
        while (*p == ' ' || *p == '\t') p++;
        while (isdigit((unsigned char)*p) && n < sizeof num - 1) num[n++] = *p++;
        num[n] = '\0';
        int64_t kb;
        hwa_status st = hwa__parse_i64(num, 0, INT64_MAX / 1024, key, &kb);
        if (st != HWA_OK) return st;
        if (strncmp(p, " kB", 3)) return hwa__err(NULL, HWA_E_FORMAT, "/proc/meminfo: %s is not in kB", key);
        *out = kb * 1024;
        return HWA_OK;
    }
    return HWA_E_NOTFOUND;
}

hwa_status hwa__probe_memory(const char *root, hwa_cpu_info *cpu) {
    char *text;
    cpu->mem_total_bytes = cpu->mem_available_bytes = -1;
    hwa_status st = hwa__read_file_alloc(root, "/proc/meminfo", &text, NULL);
    if (st == HWA_E_NOTFOUND) {
        hwa_clear_error();
        return HWA_OK;
    }
    if (st != HWA_OK) return st;
    st = meminfo_field(text, "MemTotal", &cpu->mem_total_bytes);
    if (st == HWA_OK || st == HWA_E_NOTFOUND) {
        hwa_status s2 = meminfo_field(text, "MemAvailable", &cpu->mem_available_bytes);
        st = s2 == HWA_E_NOTFOUND ? st : s2;
    }
    free(text);
    return st == HWA_E_NOTFOUND ? HWA_OK : st;
}
