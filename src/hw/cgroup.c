/* The limits of the cgroup the process runs in (v2: memory.max, cpu.max; v1:
 * memory.limit_in_bytes, cpu.cfs_quota_us / cpu.cfs_period_us) and the CPU
 * affinity mask. A limit set on an ancestor cgroup applies too, so each
 * limit is the tightest one on the path from the process's cgroup up to the
 * root of the hierarchy that is visible. The walk over /proc/self/cgroup
 * that finds the process's cgroups is shared with the CPU-load sampler
 * (load.c), which reads their CPU statistics. */
#include <sched.h>
#include <string.h>

#include "hw/hw_internal.h"

/* Limits at or above this are "no limit" (v1 writes 2^63 rounded to a page). */
#define MEM_UNLIMITED (INT64_C(1) << 62)

typedef struct limits {
    bool found;          /* some controller file was read */
    int64_t mem_max;     /* -1: none */
    double cpus;         /* 0: none */
} limits;

static void tighten_mem(limits *l, int64_t v) {
    l->found = true;
    if (v >= MEM_UNLIMITED) return;
    if (l->mem_max < 0 || v < l->mem_max) l->mem_max = v;
}

static void tighten_cpu(limits *l, double cpus) {
    l->found = true;
    if (cpus <= 0) return;
    if (l->cpus == 0 || cpus < l->cpus) l->cpus = cpus;
}

/* "max" or a byte count. */
static hwa_status read_v2_memory(const char *root, const char *rel, limits *l) {
    char buf[64];
    hwa_status st = hwa__read_text(root, rel, buf, sizeof buf);
    if (st != HWA_OK) return st;
    if (!strcmp(buf, "max")) {
        l->found = true;
        return HWA_OK;
    }
    int64_t v;
    st = hwa__parse_i64(buf, 0, INT64_MAX, rel, &v);
    if (st == HWA_OK) tighten_mem(l, v);
    return st;
}

/* "$MAX $PERIOD": "max 100000" or "150000 100000". */
static hwa_status read_v2_cpu(const char *root, const char *rel, limits *l) {
    char buf[64], quota[32];
    hwa_status st = hwa__read_text(root, rel, buf, sizeof buf);
    if (st != HWA_OK) return st;
    const char *sp = strchr(buf, ' ');
    if (!sp || (size_t)(sp - buf) >= sizeof quota)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: '%s' is not '$MAX $PERIOD'", rel, buf);
    memcpy(quota, buf, (size_t)(sp - buf));
    quota[sp - buf] = '\0';
    int64_t period, q;
    st = hwa__parse_i64(sp + 1, 1, INT64_C(1) << 40, rel, &period);
    if (st != HWA_OK) return st;
    if (!strcmp(quota, "max")) {
        l->found = true;
        return HWA_OK;
    }
    st = hwa__parse_i64(quota, 1, INT64_C(1) << 50, rel, &q);
    if (st == HWA_OK) tighten_cpu(l, (double)q / (double)period);
    return st;
}

static hwa_status read_v1_cpu(const char *root, const char *dir, limits *l) {
    char rel[1200];
    int64_t q, period;
    snprintf(rel, sizeof rel, "%s/cpu.cfs_quota_us", dir);
    hwa_status st = hwa__read_i64(root, rel, -1, INT64_C(1) << 50, &q);
    if (st != HWA_OK) return st;
    snprintf(rel, sizeof rel, "%s/cpu.cfs_period_us", dir);
    st = hwa__read_i64(root, rel, 1, INT64_C(1) << 40, &period);
    if (st != HWA_OK) return st;
    if (q <= 0) {
        l->found = true;
        return HWA_OK;
    }
    tighten_cpu(l, (double)q / (double)period);
    return HWA_OK;
}

static hwa_status read_v1_memory(const char *root, const char *dir, limits *l) {
    char rel[1200];
    int64_t v;
    snprintf(rel, sizeof rel, "%s/memory.limit_in_bytes", dir);
    hwa_status st = hwa__read_i64(root, rel, 0, INT64_MAX, &v);
    if (st == HWA_OK) tighten_mem(l, v);
    return st;
}

typedef enum { CG_V2_MEM, CG_V2_CPU, CG_V1_MEM, CG_V1_CPU } cg_file;

/* Reads the file kind in dir and each ancestor up to mount. A missing file is
 * skipped (the root cgroup has no memory.max); a malformed one is an error. */
static hwa_status walk_up(const char *root, const char *mount, const char *cgdir, cg_file kind, limits *l) {
    char dir[1024];
    hwa__strlcpy(dir, cgdir, sizeof dir);
    size_t floor = strlen(mount);
    for (;;) {
        char rel[1200];
        hwa_status st;
        switch (kind) {
        case CG_V2_MEM: snprintf(rel, sizeof rel, "%s/memory.max", dir); st = read_v2_memory(root, rel, l); break;
        case CG_V2_CPU: snprintf(rel, sizeof rel, "%s/cpu.max", dir); st = read_v2_cpu(root, rel, l); break;
        case CG_V1_MEM: st = read_v1_memory(root, dir, l); break;
        default: st = read_v1_cpu(root, dir, l); break;
        }
        if (st != HWA_OK && st != HWA_E_NOTFOUND) return st;
        if (strlen(dir) <= floor) break;
        char *slash = strrchr(dir + floor, '/');
        if (!slash) break;
        *slash = '\0';
    }
    hwa_clear_error();
    return HWA_OK;
}

/* A cgroup path as /proc/self/cgroup gives it may be relative to a namespace
 * the mount does not show; use it only if the directory exists. */
static const char *visible_path(const char *root, const char *mount, const char *path) {
    char rel[1200], full[4096];
    snprintf(rel, sizeof rel, "%s%s", mount, path);
    if (hwa__hw_path(root, rel, full, sizeof full) != HWA_OK) return "/";
    FILE *f = fopen(full, "r");
    if (!f) return "/";
    fclose(f);
    return path;
}

/* Calls fn for the process's cgroup in the hierarchy mounted at mount. */
static hwa_status visit(const char *root, const char *controller, const char *mount, const char *path,
                        hwa__cgroup_fn fn, void *ud) {
    const char *p = visible_path(root, mount, path);
    char dir[1024];
    int n = snprintf(dir, sizeof dir, "%s%s", mount, strcmp(p, "/") ? p : "");
    if (n < 0 || (size_t)n >= sizeof dir) return hwa__err(NULL, HWA_E_RANGE, "cgroup path too long: %.80s", p);
    return fn(ud, controller, mount, dir);
}

hwa_status hwa__cgroup_foreach(const char *root, hwa__cgroup_fn fn, void *ud) {
    char *text = NULL;
    hwa_status st = hwa__read_file_alloc(root, "/proc/self/cgroup", &text, NULL);
    if (st != HWA_OK) return st;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && st == HWA_OK; line = strtok_r(NULL, "\n", &save)) {
        /* "hierarchy-ID:controller-list:cgroup-path" */
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c1 || !c2 || c2[1] != '/') {
            st = hwa__err(NULL, HWA_E_FORMAT, "/proc/self/cgroup: malformed line '%.80s'", line);
            break;
        }
        *c2 = '\0';
        const char *ctrls = c1 + 1, *path = c2 + 1;
        if (!strncmp(line, "0:", 2) && !*ctrls) {
            /* v2: the unified hierarchy, alone or (hybrid) under unified/. */
            const char *mounts[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
            for (int m = 0; m < 2 && st == HWA_OK; m++) st = visit(root, NULL, mounts[m], path, fn, ud);
        } else {
            char ctl[256];
            hwa__strlcpy(ctl, ctrls, sizeof ctl);
            char *s2 = NULL;
            for (char *c = strtok_r(ctl, ",", &s2); c && st == HWA_OK; c = strtok_r(NULL, ",", &s2)) {
                char mount[300];
                snprintf(mount, sizeof mount, "/sys/fs/cgroup/%s", c);
                st = visit(root, c, mount, path, fn, ud);
                if (st == HWA_OK && strcmp(ctrls, c)) { /* mounted as "cpu,cpuacct" */
                    snprintf(mount, sizeof mount, "/sys/fs/cgroup/%s", ctrls);
                    st = visit(root, c, mount, path, fn, ud);
                }
            }
        }
    }
    free(text);
    return st;
}

hwa_status hwa__affinity(const char *root, uint64_t *bits, int nbits, int *count) {
    hwa_status st = HWA_OK;
    int n = 0;
    memset(bits, 0, (size_t)nbits * sizeof *bits);
    if (!*root) {
        cpu_set_t set;
        CPU_ZERO(&set);
        if (sched_getaffinity(0, sizeof set, &set) == 0) {
            for (int c = 0; c < CPU_SETSIZE && c < nbits * 64; c++)
                if (CPU_ISSET(c, &set)) bits[c / 64] |= 1ull << (c % 64), n++;
        }
    } else {
        char *status = NULL;
        if (hwa__read_file_alloc(root, "/proc/self/status", &status, NULL) == HWA_OK) {
            const char *line = strstr(status, "Cpus_allowed_list:");
            if (line) {
                line += strlen("Cpus_allowed_list:");
                char list[1024];
                size_t k = 0;
                while (*line && *line != '\n' && k < sizeof list - 1) list[k++] = *line++;
                list[k] = '\0';
                st = hwa__parse_cpulist(list, &n, bits, nbits);
                if (st != HWA_OK) {
                    char msg[256];
                    hwa__strlcpy(msg, hwa_last_error(), sizeof msg);
                    st = hwa__err(NULL, st, "/proc/self/status: %s", msg);
                }
            }
            free(status);
        }
        /* A missing status file means "unknown", not an error; a malformed
         * list keeps its message. */
        if (st == HWA_OK) hwa_clear_error();
    }
    *count = st == HWA_OK ? n : 0;
    return st;
}

typedef struct probe_walk {
    const char *root;
    limits v2, v1;
} probe_walk;

static hwa_status probe_visit(void *ud, const char *controller, const char *mount, const char *dir) {
    probe_walk *w = ud;
    hwa_status st = HWA_OK;
    if (!controller) {
        if ((st = walk_up(w->root, mount, dir, CG_V2_MEM, &w->v2)) == HWA_OK)
            st = walk_up(w->root, mount, dir, CG_V2_CPU, &w->v2);
    } else if (!strcmp(controller, "memory")) {
        st = walk_up(w->root, mount, dir, CG_V1_MEM, &w->v1);
    } else if (!strcmp(controller, "cpu")) {
        st = walk_up(w->root, mount, dir, CG_V1_CPU, &w->v1);
    }
    return st;
}

hwa_status hwa__probe_cgroup(const char *root, hwa_cpu_info *cpu) {
    probe_walk w = {root, {false, -1, 0}, {false, -1, 0}};
    hwa_status st = hwa__cgroup_foreach(root, probe_visit, &w);
    if (st == HWA_E_NOTFOUND) {
        hwa_clear_error();
        st = HWA_OK;
    }
    if (st != HWA_OK) return st;

    /* v2 wins where it set anything; v1 fills the rest (hybrid hosts). */
    cpu->cgroup_version = w.v2.found ? 2 : w.v1.found ? 1 : 0;
    cpu->cgroup_memory_max_bytes = w.v2.mem_max >= 0 ? w.v2.mem_max : w.v1.mem_max;
    cpu->cgroup_cpu_limit = w.v2.cpus > 0 ? w.v2.cpus : w.v1.cpus;

    /* Affinity: the kernel's answer for this process; a sysroot's status file. */
    uint64_t bits[64];
    int n = 0;
    st = hwa__affinity(root, bits, 64, &n);
    if (st != HWA_OK) return st;
    cpu->affinity_cpus = n;
    hwa__format_cpulist(bits, 64, cpu->affinity_list, sizeof cpu->affinity_list);
    return HWA_OK;
}
