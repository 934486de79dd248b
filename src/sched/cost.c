/* The cost model: what a node costs on a device (roofline from the passport's
 * calibration, or the time measured for that node shape), what a copy
 * between devices costs, and the profile cache that keeps measured times.
 *
 * The profile cache is a text file, one line per (device, node shape):
 *   <device key> TAB <node key> TAB <seconds> TAB <runs>
 * rewritten atomically. A line that does not parse is skipped (a cache is
 * never worth an error). */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/cpu_isa.h"
#include "core/file.h"
#include "sched/sched_internal.h"

/* ---- devices ------------------------------------------------------------- */

hwa_status hwa_place_device_describe(const hwa_passport *p, const hwa_backend *be, hwa_place_device *d) {
    if (!be || !d) return hwa__err(NULL, HWA_E_MISUSE, "hwa_place_device_describe: NULL argument");
    memset(d, 0, sizeof *d);
    snprintf(d->id, sizeof d->id, "%s", be->spec);
    d->host_memory = be->iface->kind == HWA_DEVICE_CPU;
    d->threads = d->host_memory ? hwa_backend_threads(be) : 0;
    d->mem_bytes = be->mem_cap;
    d->mem_capped = be->mem_cap >= 0;
    if (!p) return HWA_OK; /* nothing known but the cap */
    d->mem_capped = false;
    /* The passport names the CPU "cpu"; every cpu:N backend runs on it. */
    char pid[32];
    if (!strncmp(be->spec, "cpu", 3)) snprintf(pid, sizeof pid, "cpu");
    else snprintf(pid, sizeof pid, "%s", be->spec);
    const hwa_device_info *info = NULL;
    for (int i = 0; i < hwa_passport_device_count(p); i++)
        if (!strcmp(hwa_passport_device(p, i)->id, pid)) info = hwa_passport_device(p, i);
    if (!info) return hwa__err(NULL, HWA_E_NOTFOUND, "the passport has no device %s", pid);
    snprintf(d->name, sizeof d->name, "%.127s", info->name);
    for (int t = 0; t < HWA_DTYPE_COUNT; t++) d->peak_gflops[t] = info->peak_gflops[t] > 0 ? info->peak_gflops[t] : 0;
    d->mem_gbs = info->bandwidth.triad_gbs > 0 ? info->bandwidth.triad_gbs : 0;
    d->h2d_gbs = d->host_memory ? 0 : info->h2d_gbs;
    d->d2h_gbs = d->host_memory ? 0 : info->d2h_gbs;
    d->launch_us = info->launch_us > 0 ? info->launch_us : 0;
    /* A core set ("cpu:A-B") gets its share of the CPU's calibrated figures,
     * its CPUs over the CPUs this process may use (what the calibration ran
     * on). An estimate until its nodes are timed: a product scales about so,
     * but a few cores often draw more than their share of the bandwidth. */
    const int cores = hwa__cpu_backend_cores(be);
    if (cores > 0) {
        const int all = hwa__cpu_usable_count();
        const double share = cores < all ? (double)cores / all : 1.0;
        for (int t = 0; t < HWA_DTYPE_COUNT; t++) d->peak_gflops[t] *= share;
        d->mem_gbs *= share;
    }
    if (d->host_memory) {
        const hwa_cpu_info *c = hwa_passport_cpu(p);
        d->mem_bytes = c ? c->mem_available_bytes : -1;
        if (c && c->cgroup_memory_max_bytes > 0 && (d->mem_bytes < 0 || c->cgroup_memory_max_bytes < d->mem_bytes))
            d->mem_bytes = c->cgroup_memory_max_bytes;
    } else {
        d->mem_bytes = info->free_memory_bytes > 0 ? info->free_memory_bytes : info->memory_bytes;
    }
    if (be->mem_cap >= 0 && (d->mem_bytes < 0 || be->mem_cap < d->mem_bytes)) {
        d->mem_bytes = be->mem_cap;
        d->mem_capped = true;
    }
    return HWA_OK;
}

/* ---- nodes --------------------------------------------------------------- */

double hwa__sched_node_flops(const hwa_tensor *t) {
    if (t->op == HWA_OP_NONE || hwa__op_is_view(t->op)) return 0;
    double n = (double)hwa_tensor_nelements(t);
    if (t->op == HWA_OP_MATMUL) {
        const hwa_tensor *a = t->src[0];
        int64_t k = t->p.i[0] ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1];
        return 2.0 * n * (double)k;
    }
    if (t->op == HWA_OP_ATTENTION) {
        /* q [.., T, D] against k, v [.., S, D]: two products of T x S x D */
        const hwa_tensor *k = t->src[1];
        return 4.0 * n * (double)k->shape[k->ndim - 2];
    }
    return n;
}

double hwa__sched_node_bytes(const hwa_tensor *t) {
    if (t->op == HWA_OP_NONE || hwa__op_is_view(t->op)) return 0;
    double b = (double)hwa_tensor_nbytes(t);
    for (int j = 0; j < hwa__op_n_src(t->op); j++)
        if (t->src[j]) b += (double)hwa_tensor_nbytes(t->src[j]);
    return b;
}

double hwa__sched_roofline_s(const hwa_place_device *d, const hwa_tensor *t, double flops, double bytes) {
    hwa_dtype dt = t->op == HWA_OP_MATMUL ? t->src[0]->dtype : t->dtype;
    double peak = (unsigned)dt < HWA_DTYPE_COUNT ? d->peak_gflops[dt] : 0;
    if (peak <= 0) peak = d->peak_gflops[HWA_F32];
    /* Products run near the matmul peak; other ops are memory-bound on every
     * device worth placing on, so their FLOPs count against the same peak
     * only to keep the model monotonic. */
    if (peak <= 0 || d->mem_gbs <= 0) return INFINITY;
    const double tc = flops / (peak * 1e9), tm = bytes / (d->mem_gbs * 1e9);
    return (tc > tm ? tc : tm) + d->launch_us * 1e-6;
}

bool hwa__sched_reads_in_place(const hwa_placement *s, int from, int to) {
    if (from == to) return true;
    const bool from_host = from == HWA__LOC_HOST || (from >= 0 && s->dev[from].host_memory);
    return from_host && s->dev[to].host_memory;
}

double hwa__sched_copy_s(const hwa_placement *s, int from, int to, double n) {
    if (hwa__sched_reads_in_place(s, from, to)) return 0;
    double t = 0;
    if (from >= 0 && !s->dev[from].host_memory) {
        const hwa_place_device *d = &s->dev[from];
        t += (d->d2h_gbs > 0 ? n / (d->d2h_gbs * 1e9) : INFINITY) + d->launch_us * 1e-6;
    }
    if (!s->dev[to].host_memory) {
        const hwa_place_device *d = &s->dev[to];
        t += (d->h2d_gbs > 0 ? n / (d->h2d_gbs * 1e9) : INFINITY) + d->launch_us * 1e-6;
    }
    return t;
}

/* ---- the profile cache --------------------------------------------------- */

static size_t put(char *buf, size_t cap, size_t n, const char *fmt, ...) HWA_PRINTF(4, 5);
static size_t put(char *buf, size_t cap, size_t n, const char *fmt, ...) {
    if (n >= cap) return n;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
    return k < 0 ? n : n + (size_t)k;
}

static size_t put_tensor(char *buf, size_t cap, size_t n, const hwa_tensor *t) {
    n = put(buf, cap, n, "%s[", hwa_dtype_name(t->dtype));
    for (int i = 0; i < t->ndim; i++) n = put(buf, cap, n, "%s%lld", i ? "," : "", (long long)t->shape[i]);
    return put(buf, cap, n, "]%s", hwa_tensor_is_contiguous(t) ? "" : "s");
}

void hwa__sched_profile_key(const hwa_tensor *t, char *buf, size_t cap) {
    size_t n = put(buf, cap, 0, "%s:", hwa__op_name(t->op));
    n = put_tensor(buf, cap, n, t);
    for (int j = 0; j < hwa__op_n_src(t->op); j++) {
        n = put(buf, cap, n, j ? "," : "(");
        n = put_tensor(buf, cap, n, t->src[j]);
    }
    n = put(buf, cap, n, ")");
    for (int i = 0; i < 4; i++) n = put(buf, cap, n, "%s%d", i ? "," : "/", t->p.i[i]);
    if (t->flags & HWA_TF_INPLACE) put(buf, cap, n, "/inplace");
}

void hwa__sched_device_key(const hwa_place_device *d, char *buf, size_t cap) {
    /* Names may hold anything; the key keeps it to one field. */
    size_t n = 0;
    for (const char *p = d->id; *p && n + 1 < cap; p++) buf[n++] = *p;
    if (n + 1 < cap) buf[n++] = '|';
    for (const char *p = d->name; *p && n + 1 < cap; p++) buf[n++] = (*p == '\t' || *p == '\n') ? ' ' : *p;
    buf[n] = '\0';
    if (d->threads > 0) put(buf, cap, n, "|t%d", d->threads);
}

/* One parsed line. */
typedef struct pline {
    char *dev, *key;
    double secs;
    long runs;
} pline;

static int parse_line(char *line, pline *out) {
    char *f[4];
    int k = 0;
    f[k++] = line;
    for (char *p = line; *p && k < 4; p++)
        if (*p == '\t') {
            *p = '\0';
            f[k++] = p + 1;
        }
    if (k != 4) return -1;
    char *e;
    errno = 0;
    out->secs = strtod(f[2], &e);
    if (e == f[2] || *e || errno || !(out->secs >= 0) || !isfinite(out->secs)) return -1;
    out->runs = strtol(f[3], &e, 10);
    if (e == f[3] || (*e && *e != '\n') || out->runs < 1) return -1;
    out->dev = f[0];
    out->key = f[1];
    return 0;
}

hwa_status hwa__sched_profile_load(hwa_placement *s) {
    if (!s->profile_path[0]) return HWA_OK;
    FILE *f = fopen(s->profile_path, "r");
    if (!f) return HWA_OK; /* none yet */
    char dkeys[HWA_PLACE_MAX_DEVICES][256];
    for (int d = 0; d < s->n_dev; d++) hwa__sched_device_key(&s->dev[d], dkeys[d], sizeof dkeys[d]);
    char *nkeys = malloc((size_t)(s->n ? s->n : 1) * 512);
    if (!nkeys) {
        fclose(f);
        return hwa__err(s->ctx, HWA_E_NOMEM, "sched: out of memory for the profile keys");
    }
    for (int i = 0; i < s->n; i++) hwa__sched_profile_key(s->g->nodes[i], nkeys + (size_t)i * 512, 512);
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        pline pl;
        if (parse_line(line, &pl)) continue;
        for (int d = 0; d < s->n_dev; d++) {
            if (strcmp(pl.dev, dkeys[d])) continue;
            for (int i = 0; i < s->n; i++) {
                const hwa_tensor *t = s->g->nodes[i];
                if (hwa__op_is_view(t->op) || strcmp(pl.key, nkeys + (size_t)i * 512)) continue;
                if (!hwa_backend_supports(s->be[d], t)) continue;
                s->cost[(size_t)i * s->n_dev + d] = pl.secs;
                s->measured[(size_t)i * s->n_dev + d] = true;
            }
        }
    }
    fclose(f);
    free(nkeys);
    return HWA_OK;
}

/* Lines to write: the old file's lines for other keys, then this run's. */
typedef struct store_job {
    FILE *old;
    hwa_placement *s;
    const double *secs;
    char (*dkeys)[256];
} store_job;

static hwa_status write_profile(void *ud, void *file) {
    store_job *j = ud;
    FILE *f = file;
    hwa_placement *s = j->s;
    char key[512], line[2048];
    if (j->old) {
        while (fgets(line, sizeof line, j->old)) {
            char copy[2048];
            memcpy(copy, line, sizeof copy);
            pline pl;
            if (parse_line(copy, &pl)) continue;
            bool replaced = false;
            for (int i = 0; i < s->n && !replaced; i++) {
                if (!isfinite(j->secs[i]) || strcmp(pl.dev, j->dkeys[s->where[i]])) continue;
                hwa__sched_profile_key(s->g->nodes[i], key, sizeof key);
                replaced = !strcmp(pl.key, key);
            }
            if (!replaced) fprintf(f, "%s\t%s\t%.9g\t%ld\n", pl.dev, pl.key, pl.secs, pl.runs);
        }
    }
    /* One line per distinct (device, key): equal shapes take the median's
     * first occurrence. */
    for (int i = 0; i < s->n; i++) {
        if (!isfinite(j->secs[i])) continue;
        hwa__sched_profile_key(s->g->nodes[i], key, sizeof key);
        bool seen = false;
        for (int k = 0; k < i && !seen; k++) {
            if (!isfinite(j->secs[k]) || s->where[k] != s->where[i]) continue;
            char other[512];
            hwa__sched_profile_key(s->g->nodes[k], other, sizeof other);
            seen = !strcmp(key, other);
        }
        if (!seen) fprintf(f, "%s\t%s\t%.9g\t1\n", j->dkeys[s->where[i]], key, j->secs[i]);
    }
    return ferror(f) ? hwa__err(s->ctx, HWA_E_IO, "sched: writing the profile cache failed") : HWA_OK;
}

hwa_status hwa__sched_profile_store(hwa_placement *s, const double *secs) {
    if (!s->profile_path[0]) return HWA_OK;
    char dkeys[HWA_PLACE_MAX_DEVICES][256];
    for (int d = 0; d < s->n_dev; d++) hwa__sched_device_key(&s->dev[d], dkeys[d], sizeof dkeys[d]);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", s->profile_path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        hwa_status st = hwa__make_dirs(dir);
        if (st) return st;
    }
    store_job j = {fopen(s->profile_path, "r"), s, secs, dkeys};
    hwa_status st = hwa__atomic_write(s->profile_path, write_profile, &j);
    if (j.old) fclose(j.old);
    return st;
}
