/* Who else uses the CPUs: samples of this process's CPU time, of the busy
 * time of the CPUs it may run on (/proc/stat), of its cgroup's usage and
 * throttling, and of the load average, and the interval between two of them.
 * A benchmark row taken while other processes held a good share of its CPUs
 * measures them as much as it measures the kernel under test, so the row is
 * flagged rather than trusted. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "hw/hw_internal.h"

/* Shorter intervals than this are too coarse for /proc/stat: at USER_HZ 100
 * one jiffy is 10 ms, and each CPU's counter can be a jiffy off at either
 * end, so 50 ms on one CPU can be 40% wrong. */
#define MIN_WALL_S 0.05
/* Throttled time above this share of the wall time flags the interval. */
#define THROTTLED_SHARE 0.05
/* Words of the affinity bitmap: 4096 CPUs, as the passport's. */
#define AFFINITY_WORDS 64
/* /proc/stat's columns: user nice system idle iowait irq softirq steal guest
 * guest_nice. Kernels before 2.6.11 print fewer (the missing ones are zero);
 * later ones may print more (ignored). */
enum { C_USER, C_NICE, C_SYSTEM, C_IDLE, C_IOWAIT, C_IRQ, C_SOFTIRQ, C_STEAL, N_COLS = 10 };
#define MIN_COLS 4

/* ---- small parsers of outside text ------------------------------------------ */

/* Splits s in place at spaces and tabs; stores up to max fields and returns
 * how many there were. */
static int split_fields(char *s, char **f, int max) {
    int n = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) return n;
        if (n < max) f[n] = s;
        n++;
        while (*s && *s != ' ' && *s != '\t') s++;
        if (*s) *s++ = '\0';
    }
}

/* A non-negative counter. Out of range is a malformed file here, not a
 * range error: no kernel counter comes near 2^63. */
static hwa_status parse_count(const char *s, const char *what, int64_t *out) {
    hwa_status st = hwa__parse_i64(s, 0, INT64_MAX, what, out);
    if (st == HWA_E_RANGE) {
        char msg[256];
        hwa__strlcpy(msg, hwa_last_error(), sizeof msg);
        st = hwa__err(NULL, HWA_E_FORMAT, "%s", msg);
    }
    return st;
}

/* A non-negative decimal fraction ("0.52", "12345.67") below hi. */
static hwa_status parse_real(const char *s, double hi, const char *what, double *out) {
    char *end;
    errno = 0;
    double v = isdigit((unsigned char)*s) ? strtod(s, &end) : NAN;
    if (isnan(v) || errno || *end || !(v <= hi))
        return hwa__err(NULL, HWA_E_FORMAT, "%s: '%.40s' is not a number from 0 to %g", what, s, hi);
    *out = v;
    return HWA_OK;
}

/* Reads a whole file below root. *text stays NULL, with no error recorded,
 * when it is missing or cannot be read: the sample leaves its figures
 * unknown. */
static hwa_status read_optional(const char *root, const char *rel, char **text) {
    hwa_status st = hwa__read_file_alloc(root, rel, text, NULL);
    if (st == HWA_E_NOTFOUND || st == HWA_E_IO) {
        hwa_clear_error();
        return HWA_OK;
    }
    return st;
}

/* Finds "key value" lines of a statistics file (cpu.stat) and parses the
 * values of the keys asked for; vals[i] stays -1 when keys[i] is absent.
 * Lines with other keys are not looked at, so new kernel fields do no harm. */
static hwa_status parse_keyed(char *text, const char *rel, const char *const *keys, int64_t *vals, int n) {
    for (int i = 0; i < n; i++) vals[i] = -1;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[3];
        int nf = split_fields(line, f, 3);
        for (int i = 0; i < n && nf > 0; i++) {
            if (strcmp(f[0], keys[i])) continue;
            char what[1300];
            snprintf(what, sizeof what, "%s: %s", rel, keys[i]);
            if (nf != 2) return hwa__err(NULL, HWA_E_FORMAT, "%s: expected one number", what);
            hwa_status st = parse_count(f[1], what, &vals[i]);
            if (st != HWA_OK) return st;
        }
    }
    return HWA_OK;
}

static double jiffies_s(int64_t j, double hz) { return (double)j / hz; }

/* ---- /proc/stat ----------------------------------------------------------------- */

typedef struct cpu_sums {
    int64_t busy, total, steal;
    int n;
} cpu_sums;

/* The columns of one cpuN line; the ones an older kernel does not print
 * are 0. */
static hwa_status parse_cpu_line(char **col, int ncol, const char *name, int64_t v[N_COLS]) {
    if (ncol < MIN_COLS)
        return hwa__err(NULL, HWA_E_FORMAT, "/proc/stat: '%.20s' has %d columns, expected at least %d", name, ncol,
                        MIN_COLS);
    for (int i = 0; i < N_COLS; i++) {
        v[i] = 0;
        if (i >= ncol) continue;
        char what[64];
        snprintf(what, sizeof what, "/proc/stat: %.20s column %d", name, i + 1);
        hwa_status st = parse_count(col[i], what, &v[i]);
        if (st != HWA_OK) return st;
    }
    return HWA_OK;
}

/* Adds one CPU's columns to s. The sums are checked: a file is outside
 * input even when the kernel wrote it. */
static hwa_status add_cpu(const int64_t v[N_COLS], const char *name, cpu_sums *s) {
    static const int busy_cols[] = {C_USER, C_NICE, C_SYSTEM, C_IRQ, C_SOFTIRQ, C_STEAL};
    int64_t busy = 0, total;
    bool ok = true;
    for (size_t i = 0; i < sizeof busy_cols / sizeof busy_cols[0]; i++)
        ok = ok && hwa__add_i64(busy, v[busy_cols[i]], &busy);
    ok = ok && hwa__add_i64(busy, v[C_IDLE], &total) && hwa__add_i64(total, v[C_IOWAIT], &total);
    ok = ok && hwa__add_i64(s->busy, busy, &s->busy) && hwa__add_i64(s->total, total, &s->total) &&
         hwa__add_i64(s->steal, v[C_STEAL], &s->steal);
    if (!ok) return hwa__err(NULL, HWA_E_FORMAT, "/proc/stat: the counters of '%.20s' overflow", name);
    s->n++;
    return HWA_OK;
}

/* Sums the cpuN lines: those in mask (when mask_n > 0) and all of them. The
 * aggregate "cpu" line is the sum of all; it is not needed. */
static hwa_status read_proc_stat(const char *root, const uint64_t *mask, int mask_n, double hz,
                                 hwa_load_sample *out) {
    char *text = NULL;
    hwa_status st = read_optional(root, "/proc/stat", &text);
    if (st != HWA_OK || !text) return st;
    cpu_sums in_mask = {0}, all = {0};
    int64_t running = -1;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && st == HWA_OK; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "cpu", 3) && isdigit((unsigned char)line[3])) {
            char *f[N_COLS + 1];
            int nf = split_fields(line, f, N_COLS + 1);
            int64_t cpu;
            if ((st = parse_count(f[0] + 3, "/proc/stat: a cpuN line's N", &cpu)) != HWA_OK) break;
            int64_t v[N_COLS];
            if ((st = parse_cpu_line(f + 1, nf - 1 < N_COLS ? nf - 1 : N_COLS, f[0], v)) != HWA_OK) break;
            if ((st = add_cpu(v, f[0], &all)) != HWA_OK) break;
            if (mask_n > 0 && cpu < AFFINITY_WORDS * 64 && (mask[cpu / 64] >> (cpu % 64) & 1))
                st = add_cpu(v, f[0], &in_mask);
        } else if (!strncmp(line, "procs_running", 13) && (line[13] == ' ' || line[13] == '\t')) {
            st = parse_count(line + 14, "/proc/stat: procs_running", &running);
        }
    }
    free(text);
    if (st != HWA_OK) return st;
    if (all.n == 0) return hwa__err(NULL, HWA_E_FORMAT, "/proc/stat: no cpuN lines");
    /* A mask that names none of the CPUs listed (a fixture's status file for
     * another machine) says nothing about this file: count them all. */
    const cpu_sums *s = in_mask.n > 0 ? &in_mask : &all;
    out->have_stat = true;
    out->busy_s = jiffies_s(s->busy, hz);
    out->total_s = jiffies_s(s->total, hz);
    out->steal_s = jiffies_s(s->steal, hz);
    out->cpus_counted = s->n;
    if (running >= 0) out->procs_running = running;
    return HWA_OK;
}

/* ---- this process ----------------------------------------------------------------- */

/* utime and stime of <root>/proc/self/stat: fields 14 and 15, counted after
 * the command name, which is in parentheses and may hold spaces and ")". */
static hwa_status read_self_stat(const char *root, double hz, double *cpu_s) {
    char *text = NULL;
    hwa_status st = read_optional(root, "/proc/self/stat", &text);
    if (st != HWA_OK || !text) return st;
    char *paren = strrchr(text, ')');
    char *f[13];
    int nf = paren ? split_fields(paren + 1, f, 13) : 0;
    int64_t ut = 0, stime = 0, sum;
    if (!paren) st = hwa__err(NULL, HWA_E_FORMAT, "/proc/self/stat: no ')' after the command name");
    else if (nf < 13)
        st = hwa__err(NULL, HWA_E_FORMAT, "/proc/self/stat: %d fields after the command name, expected at least 13", nf);
    if (st == HWA_OK) st = parse_count(f[11], "/proc/self/stat: utime", &ut);
    if (st == HWA_OK) st = parse_count(f[12], "/proc/self/stat: stime", &stime);
    if (st == HWA_OK && !hwa__add_i64(ut, stime, &sum))
        st = hwa__err(NULL, HWA_E_FORMAT, "/proc/self/stat: utime + stime overflows");
    free(text);
    if (st == HWA_OK) *cpu_s = jiffies_s(sum, hz);
    return st;
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec; }

static hwa_status read_self_cpu(const char *root, double hz, double *cpu_s) {
    if (*root) return read_self_stat(root, hz, cpu_s);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) *cpu_s = tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
    return HWA_OK;
}

/* The real monotonic clock, or a fixture's statement of the time. */
static hwa_status read_wall(const char *root, double *wall_s) {
    if (*root) {
        char *text = NULL;
        hwa_status st = read_optional(root, "/proc/uptime", &text);
        if (st != HWA_OK) return st;
        if (text) {
            char *f[2];
            st = split_fields(text, f, 2) >= 1 ? parse_real(f[0], 1e12, "/proc/uptime", wall_s)
                                               : hwa__err(NULL, HWA_E_FORMAT, "/proc/uptime: empty");
            free(text);
            return st;
        }
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    *wall_s = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    return HWA_OK;
}

/* "0.52 0.58 0.59 2/1234 5678": the 1-minute average and the runnable
 * count (the fallback for /proc/stat's procs_running). */
static hwa_status read_loadavg(const char *root, hwa_load_sample *out) {
    char *text = NULL;
    hwa_status st = read_optional(root, "/proc/loadavg", &text);
    if (st != HWA_OK || !text) return st;
    char *f[4];
    double load[3];
    int nf = split_fields(text, f, 4);
    if (nf < 4) st = hwa__err(NULL, HWA_E_FORMAT, "/proc/loadavg: %d fields, expected at least 4", nf);
    for (int i = 0; i < 3 && st == HWA_OK; i++) st = parse_real(f[i], 1e9, "/proc/loadavg", &load[i]);
    int64_t running = -1, total;
    if (st == HWA_OK) {
        char *slash = strchr(f[3], '/');
        if (!slash) st = hwa__err(NULL, HWA_E_FORMAT, "/proc/loadavg: '%.40s' is not 'running/total'", f[3]);
        else {
            *slash = '\0';
            st = parse_count(f[3], "/proc/loadavg: running", &running);
            if (st == HWA_OK) st = parse_count(slash + 1, "/proc/loadavg: total", &total);
        }
    }
    free(text);
    if (st != HWA_OK) return st;
    out->loadavg1 = load[0];
    if (out->procs_running < 0) out->procs_running = running;
    return HWA_OK;
}

/* ---- the cgroup ------------------------------------------------------------------ */

/* What the walk over the process's cgroups found; -1 unknown. v2 wins where
 * it has a figure; v1 fills the rest (hybrid hosts keep the cpu controller
 * on v1 while the unified hierarchy still counts usage). */
typedef struct cg_stats {
    const char *root;
    int64_t v2[3];                      /* usage_usec, throttled_usec, nr_throttled */
    int64_t v1_usage_ns;                /* cpuacct.usage */
    int64_t v1[2];                      /* throttled_time (ns), nr_throttled */
} cg_stats;

/* Reads <dir>/<name> into *text; NULL when it is missing, unreadable, or
 * its path does not fit (a cgroup path no kernel writes). */
static hwa_status cg_file(const cg_stats *c, const char *dir, const char *name, char *rel, size_t cap,
                          char **text) {
    int n = snprintf(rel, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) return HWA_OK;
    return read_optional(c->root, rel, text);
}

static hwa_status cg_visit(void *ud, const char *controller, const char *mount, const char *dir) {
    cg_stats *c = ud;
    char rel[1200], *text = NULL;
    hwa_status st = HWA_OK;
    if (!controller && c->v2[0] < 0) {
        static const char *const keys[] = {"usage_usec", "throttled_usec", "nr_throttled"};
        if ((st = cg_file(c, dir, "cpu.stat", rel, sizeof rel, &text)) == HWA_OK && text) {
            st = parse_keyed(text, rel, keys, c->v2, 3);
            if (st == HWA_OK && c->v2[0] < 0) st = hwa__err(NULL, HWA_E_FORMAT, "%s: no usage_usec", rel);
        }
    } else if (controller && !strcmp(controller, "cpuacct") && c->v1_usage_ns < 0) {
        if ((st = cg_file(c, dir, "cpuacct.usage", rel, sizeof rel, &text)) == HWA_OK && text)
            st = parse_count(text, rel, &c->v1_usage_ns);
    } else if (controller && !strcmp(controller, "cpu") && c->v1[0] < 0) {
        static const char *const keys[] = {"throttled_time", "nr_throttled"};
        if ((st = cg_file(c, dir, "cpu.stat", rel, sizeof rel, &text)) == HWA_OK && text) {
            st = parse_keyed(text, rel, keys, c->v1, 2);
            if (st == HWA_OK && (c->v1[0] < 0 || c->v1[1] < 0))
                st = hwa__err(NULL, HWA_E_FORMAT, "%s: no throttled_time or nr_throttled", rel);
        }
    }
    free(text);
    return st;
}

static hwa_status read_cgroup(const char *root, hwa_load_sample *out) {
    cg_stats c = {root, {-1, -1, -1}, -1, {-1, -1}};
    hwa_status st = hwa__cgroup_foreach(root, cg_visit, &c);
    if (st == HWA_E_NOTFOUND || st == HWA_E_IO) {
        hwa_clear_error();
        return HWA_OK;
    }
    if (st != HWA_OK) return st;
    if (c.v2[0] >= 0) out->cgroup_usage_s = 1e-6 * (double)c.v2[0];
    else if (c.v1_usage_ns >= 0) out->cgroup_usage_s = 1e-9 * (double)c.v1_usage_ns;
    if (c.v2[1] >= 0 && c.v2[2] >= 0) {
        out->cgroup_throttled_s = 1e-6 * (double)c.v2[1];
        out->cgroup_nr_throttled = c.v2[2];
    } else if (c.v1[0] >= 0) {
        out->cgroup_throttled_s = 1e-9 * (double)c.v1[0];
        out->cgroup_nr_throttled = c.v1[1];
    }
    out->have_cgroup = !isnan(out->cgroup_usage_s) || out->cgroup_nr_throttled >= 0;
    out->cgroup_version = c.v2[0] >= 0 ? 2 : out->have_cgroup ? 1 : 0;
    return HWA_OK;
}

/* ---- the sample ----------------------------------------------------------------- */

hwa_status hwa_load_sample_take(const char *root, hwa_load_sample *out) {
    if (!out) return hwa__err(NULL, HWA_E_INVALID, "hwa_load_sample_take: out is NULL");
    *out = (hwa_load_sample){.self_cpu_s = NAN, .busy_s = NAN, .total_s = NAN, .steal_s = NAN,
                             .cgroup_usage_s = NAN, .cgroup_throttled_s = NAN, .cgroup_nr_throttled = -1,
                             .loadavg1 = NAN, .procs_running = -1};
    if (!root) root = "";
    hwa_status st;
    long tck = sysconf(_SC_CLK_TCK);
    double hz = tck > 0 ? (double)tck : 100.0;
    uint64_t mask[AFFINITY_WORDS];
    int mask_n = 0;
    if ((st = hwa__affinity(root, mask, AFFINITY_WORDS, &mask_n)) != HWA_OK) return st;

    /* The wall clock, this process's CPU time and /proc/stat one right after
     * the other, so that the three describe nearly the same instant and the
     * "others" figure, which subtracts one from another, does not count the
     * time between them; the slower files come after. */
    if ((st = read_wall(root, &out->wall_s)) != HWA_OK) return st;
    if ((st = read_self_cpu(root, hz, &out->self_cpu_s)) != HWA_OK) return st;
    if ((st = read_proc_stat(root, mask, mask_n, hz, out)) != HWA_OK) return st;
    if ((st = read_loadavg(root, out)) != HWA_OK) return st;
    return read_cgroup(root, out);
}

/* ---- the interval ------------------------------------------------------------- */

/* b - a for cumulative counters, NAN when either is unknown; a counter that
 * went backwards (idle and iowait do on some kernels) counts as 0. */
static double grew(double a, double b) {
    if (isnan(a) || isnan(b)) return NAN;
    return b > a ? b - a : 0.0;
}

static double clamp01(double x) { return isnan(x) ? x : x < 0 ? 0 : x > 1 ? 1 : x; }

static void why_add(hwa_load_delta *d, const char *fmt, ...) HWA_PRINTF(2, 3);
static void why_add(hwa_load_delta *d, const char *fmt, ...) {
    size_t len = strlen(d->why);
    if (len && len + 2 < sizeof d->why) {
        memcpy(d->why + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->why + len, sizeof d->why - len, fmt, ap);
    va_end(ap);
}

hwa_status hwa_load_delta_compute(const hwa_load_sample *a, const hwa_load_sample *b, int threads, int cpus,
                                  double threshold, hwa_load_delta *out) {
    if (!a || !b || !out) return hwa__err(NULL, HWA_E_INVALID, "hwa_load_delta_compute: NULL argument");
    if (!(b->wall_s >= a->wall_s))
        return hwa__err(NULL, HWA_E_INVALID, "hwa_load_delta_compute: sample b (%.6f s) is not after a (%.6f s)",
                        b->wall_s, a->wall_s);
    if (!(threshold >= 0))
        return hwa__err(NULL, HWA_E_INVALID, "hwa_load_delta_compute: threshold %g is not a share >= 0", threshold);
    hwa_load_delta d = {0};
    double wall = b->wall_s - a->wall_s;
    d.wall_s = wall;
    d.self_cpu_s = grew(a->self_cpu_s, b->self_cpu_s);
    d.self_share = threads >= 1 && wall > 0 ? d.self_cpu_s / (wall * threads) : NAN;

    d.others_cpus = d.others_share = d.steal_share = NAN;
    bool stat = a->have_stat && b->have_stat && a->cpus_counted == b->cpus_counted;
    if (stat && wall >= MIN_WALL_S) {
        double others = grew(a->busy_s, b->busy_s) - d.self_cpu_s;
        d.others_cpus = isnan(others) ? NAN : others > 0 ? others / wall : 0.0;
        if (cpus >= 1) {
            d.others_share = clamp01(d.others_cpus / cpus);
            d.steal_share = clamp01(grew(a->steal_s, b->steal_s) / (wall * cpus));
        }
    }
    d.throttled_s = grew(a->cgroup_throttled_s, b->cgroup_throttled_s);
    d.loadavg1 = b->loadavg1;

    /* NAN compares false: an unknown figure never flags the interval. */
    if (d.others_share > threshold)
        why_add(&d, "other processes took %.0f%% of the %d CPU%s", 100 * d.others_share, cpus, cpus == 1 ? "" : "s");
    if (wall > 0 && d.throttled_s > THROTTLED_SHARE * wall)
        why_add(&d, "the cgroup's quota throttled %.0f%% of the time", 100 * d.throttled_s / wall);
    if (d.steal_share > threshold)
        why_add(&d, "the hypervisor stole %.0f%% of the CPU time", 100 * d.steal_share);
    d.contended = d.why[0] != '\0';
    *out = d;
    return HWA_OK;
}
