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
    /* compressed forms: a multiply-add per stored weight and row */
    if (t->op == HWA_OP_QLINEAR) return 2.0 * n * (double)t->src[0]->shape[1];
    if (t->op == HWA_OP_SPMM) return 2.0 * (double)t->shape[0] * (double)t->src[2]->shape[0];
    if (t->op == HWA_OP_ATTENTION || t->op == HWA_OP_CACHE_ATTENTION) {
        /* q [.., T, D] against k, v [.., S, D]: two products of T x S x D
         * (a cache's whole length S: an upper bound) */
        const hwa_tensor *k = t->src[1];
        return 4.0 * n * (double)k->shape[k->ndim - 2];
    }
    return n;
}

double hwa__sched_node_bytes(const hwa_tensor *t) {
    if (t->op == HWA_OP_NONE || hwa__op_is_view(t->op)) return 0;
    /* a write into a slice of a persistent tensor moves the slice alone */
    if (t->op == HWA_OP_WRITE_SLICE || t->op == HWA_OP_CACHE_WRITE) return 2.0 * (double)hwa_tensor_nbytes(t->src[1]);
    double b = (double)hwa_tensor_nbytes(t);
    for (int j = 0; j < hwa__op_n_src(t->op); j++)
        if (t->src[j]) b += (double)hwa_tensor_nbytes(t->src[j]);
    return b;
}

double hwa__sched_roofline_s(const hwa_place_device *d, const hwa_tensor *t, double flops, double bytes) {
    hwa_dtype dt = t->op == HWA_OP_MATMUL ? t->src[0]->dtype : t->op == HWA_OP_QLINEAR ? HWA_I8 : t->dtype;
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

/* Key building runs for every node of every placement (a model's every
 * step): plain appends, no printf. */
static size_t put_s(char *buf, size_t cap, size_t n, const char *s) {
    while (*s && n + 1 < cap) buf[n++] = *s++;
    buf[n < cap ? n : cap - 1] = '\0';
    return n;
}

static size_t put_i(char *buf, size_t cap, size_t n, long long v) {
    char tmp[24];
    int k = 0;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do tmp[k++] = (char)('0' + u % 10); while ((u /= 10) && k < 23);
    if (v < 0) tmp[k++] = '-';
    while (k > 0 && n + 1 < cap) buf[n++] = tmp[--k];
    buf[n < cap ? n : cap - 1] = '\0';
    return n;
}

static size_t put_tensor(char *buf, size_t cap, size_t n, const hwa_tensor *t) {
    n = put_s(buf, cap, n, hwa_dtype_name(t->dtype));
    n = put_s(buf, cap, n, "[");
    for (int i = 0; i < t->ndim; i++) {
        if (i) n = put_s(buf, cap, n, ",");
        n = put_i(buf, cap, n, (long long)t->shape[i]);
    }
    return put_s(buf, cap, n, hwa_tensor_is_contiguous(t) ? "]" : "]s");
}

void hwa__sched_profile_key(const hwa_tensor *t, char *buf, size_t cap) {
    size_t n = put_s(buf, cap, 0, hwa__op_name(t->op));
    n = put_s(buf, cap, n, ":");
    n = put_tensor(buf, cap, n, t);
    for (int j = 0; j < hwa__op_n_src(t->op); j++) {
        n = put_s(buf, cap, n, j ? "," : "(");
        n = put_tensor(buf, cap, n, t->src[j]);
    }
    n = put_s(buf, cap, n, ")");
    for (int i = 0; i < 4; i++) {
        n = put_s(buf, cap, n, i ? "," : "/");
        n = put_i(buf, cap, n, t->p.i[i]);
    }
    if (t->flags & HWA_TF_INPLACE) put_s(buf, cap, n, "/inplace");
}

void hwa__sched_device_key(const hwa_place_device *d, char *buf, size_t cap) {
    /* Names may hold anything; the key keeps it to one field. */
    size_t n = 0;
    for (const char *p = d->id; *p && n + 1 < cap; p++) buf[n++] = *p;
    if (n + 1 < cap) buf[n++] = '|';
    for (const char *p = d->name; *p && n + 1 < cap; p++) buf[n++] = (*p == '\t' || *p == '\n') ? ' ' : *p;
    buf[n] = '\0';
    if (d->threads > 0) put_i(buf, cap, put_s(buf, cap, n, "|t"), d->threads);
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

/* The whole profile file as a string (NULL when there is none or it cannot
 * be read: a cache is never worth an error). */
static char *read_profile(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (n + got + 1 > cap) {
            size_t nc = cap ? cap * 2 : 8192;
            while (nc < n + got + 1) nc *= 2;
            char *nb = realloc(buf, nc);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = nc;
        }
        memcpy(buf + n, chunk, got);
        n += got;
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    return buf;
}

static uint64_t fnv(const char *a, const char *b) {
    uint64_t h = 1469598103934665603ull;
    for (const char *p = a; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ '\t') * 1099511628211ull;
    for (const char *p = b; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

/* The parsed lines of text, indexed by a hash of (device key, node key):
 * open addressing in a power-of-two table, later lines winning. */
static hwa_status index_profile(hwa_place_cache *c) {
    int lines = 0;
    for (const char *p = c->profile; p && *p; p++) lines += *p == '\n';
    size_t cap = 64;
    while (cap < (size_t)lines * 2 + 2) cap *= 2;
    c->prof = calloc(cap, sizeof *c->prof);
    if (!c->prof) return hwa__err(NULL, HWA_E_NOMEM, "sched: out of memory for the profile index");
    c->prof_cap = cap;
    for (char *line = c->profile, *next; line && *line; line = next) {
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl) *nl = '\0';
        pline pl;
        if (parse_line(line, &pl)) continue;
        const uint64_t h = fnv(pl.dev, pl.key);
        size_t k = h & (cap - 1);
        while (c->prof[k].dev && (c->prof[k].h != h || strcmp(c->prof[k].dev, pl.dev) || strcmp(c->prof[k].key, pl.key)))
            k = (k + 1) & (cap - 1);
        c->prof[k] = (hwa__prof_entry){h, pl.dev, pl.key, pl.secs};
    }
    return HWA_OK;
}

static const hwa__prof_entry *lookup(const hwa_place_cache *c, const char *dev, const char *key) {
    const uint64_t h = fnv(dev, key);
    for (size_t k = h & (c->prof_cap - 1); c->prof[k].dev; k = (k + 1) & (c->prof_cap - 1))
        if (c->prof[k].h == h && !strcmp(c->prof[k].dev, dev) && !strcmp(c->prof[k].key, key)) return &c->prof[k];
    return NULL;
}

static void set_measured(hwa_placement *s, int i, int d, double secs) {
    if (!hwa_backend_supports(s->be[d], s->g->nodes[i])) return;
    s->cost[(size_t)i * s->n_dev + d] = secs;
    s->measured[(size_t)i * s->n_dev + d] = true;
}

hwa_status hwa__sched_profile_load(hwa_placement *s) {
    if (!s->profile_path[0]) return HWA_OK;
    char dkeys[HWA_PLACE_MAX_DEVICES][256], key[512];
    for (int d = 0; d < s->n_dev; d++) hwa__sched_device_key(&s->dev[d], dkeys[d], sizeof dkeys[d]);
    /* The file parsed and indexed: kept in the placement's cache between
     * placements (a model places every step) and read again after this
     * process stores new times; without a cache, for this placement alone. */
    hwa_place_cache local = {0}, *c = s->o.cache ? s->o.cache : &local;
    if (!c->prof || strcmp(c->profile_path, s->profile_path)) {
        free(c->profile);
        free(c->prof);
        c->prof = NULL;
        c->profile = read_profile(s->profile_path);
        snprintf(c->profile_path, sizeof c->profile_path, "%s", s->profile_path);
        hwa_status st = index_profile(c);
        if (st) {
            free(local.profile);
            return st;
        }
    }
    for (int i = 0; i < s->n; i++) {
        if (hwa__op_is_view(s->g->nodes[i]->op)) continue;
        hwa__sched_profile_key(s->g->nodes[i], key, sizeof key);
        for (int d = 0; d < s->n_dev; d++) {
            const hwa__prof_entry *e = lookup(c, dkeys[d], key);
            if (e) set_measured(s, i, d, e->secs);
        }
    }
    if (c == &local) {
        free(local.profile);
        free(local.prof);
    }
    return HWA_OK;
}

/* Lines to write: the old file's lines for other keys, then this run's. */
typedef struct store_job {
    FILE *old;
    hwa_placement *s;
    const double *secs;
    char (*dkeys)[256];
    const char *nkeys; /* [n][512]: each node's key */
} store_job;

static hwa_status write_profile(void *ud, void *file) {
    store_job *j = ud;
    FILE *f = file;
    hwa_placement *s = j->s;
#define NKEY(i) (j->nkeys + (size_t)(i) * 512)
    char line[2048];
    if (j->old) {
        while (fgets(line, sizeof line, j->old)) {
            pline pl;
            if (parse_line(line, &pl)) continue;
            bool replaced = false;
            for (int i = 0; i < s->n && !replaced; i++)
                replaced = isfinite(j->secs[i]) && !strcmp(pl.dev, j->dkeys[s->where[i]]) && !strcmp(pl.key, NKEY(i));
            if (!replaced) fprintf(f, "%s\t%s\t%.9g\t%ld\n", pl.dev, pl.key, pl.secs, pl.runs);
        }
    }
    /* One line per distinct (device, key): equal shapes take the first
     * occurrence's time. */
    for (int i = 0; i < s->n; i++) {
        if (!isfinite(j->secs[i])) continue;
        bool seen = false;
        for (int k = 0; k < i && !seen; k++)
            seen = isfinite(j->secs[k]) && s->where[k] == s->where[i] && !strcmp(NKEY(i), NKEY(k));
        if (!seen) fprintf(f, "%s\t%s\t%.9g\t1\n", j->dkeys[s->where[i]], NKEY(i), j->secs[i]);
    }
#undef NKEY
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
    char *nkeys = malloc((size_t)(s->n ? s->n : 1) * 512);
    if (!nkeys) return hwa__err(s->ctx, HWA_E_NOMEM, "sched: out of memory for the profile keys");
    for (int i = 0; i < s->n; i++) hwa__sched_profile_key(s->g->nodes[i], nkeys + (size_t)i * 512, 512);
    store_job j = {fopen(s->profile_path, "r"), s, secs, dkeys, nkeys};
    hwa_status st = hwa__atomic_write(s->profile_path, write_profile, &j);
    if (j.old) fclose(j.old);
    free(nkeys);
    if (s->o.cache) { /* read again at the next placement */
        free(s->o.cache->profile);
        free(s->o.cache->prof);
        s->o.cache->profile = NULL;
        s->o.cache->prof = NULL;
    }
    return st;
}
