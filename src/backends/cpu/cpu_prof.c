/* Per-(op, kernel) timing of the CPU backend (see cpu_prof.h). */
#include "backends/cpu/cpu_prof.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROF_KEY 128

typedef struct prof_row {
    char key[PROF_KEY];
    double secs;
    int64_t calls;
} prof_row;

struct hwa__cpu_prof {
    hwa_ctx *ctx;
    prof_row *rows;
    int n, cap;
};

hwa__cpu_prof *hwa__cpu_prof_new(hwa_ctx *ctx) {
    const char *e = getenv("HWA_PROFILE");
    if (!e || !*e || strcmp(e, "0") == 0) return NULL;
    hwa__cpu_prof *p = hwa__calloc(ctx, 1, sizeof *p);
    if (p) p->ctx = ctx;
    return p;
}

double hwa__cpu_prof_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void hwa__cpu_prof_add(hwa__cpu_prof *p, const hwa_tensor *node, const char *kernel, int used, double secs) {
    char key[PROF_KEY];
    char shape[64];
    hwa__shape_fmt(node, shape, sizeof shape);
    snprintf(key, sizeof key, "%s%s %s [%s]", hwa__op_name(node->op), used > 1 ? "+fused" : "", shape,
             kernel && *kernel ? kernel : "?");
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->rows[i].key, key) == 0) {
            p->rows[i].secs += secs;
            p->rows[i].calls++;
            return;
        }
    if (p->n == p->cap) {
        const int cap = p->cap ? 2 * p->cap : 64;
        prof_row *r = hwa__realloc_array(p->ctx, p->rows, (size_t)p->cap, (size_t)cap, sizeof *r);
        if (!r) return;
        p->rows = r;
        p->cap = cap;
    }
    prof_row *r = &p->rows[p->n++];
    snprintf(r->key, sizeof r->key, "%s", key);
    r->secs = secs;
    r->calls = 1;
}

static int by_time(const void *a, const void *b) {
    const double x = ((const prof_row *)a)->secs, y = ((const prof_row *)b)->secs;
    return x < y ? 1 : x > y ? -1 : 0;
}

void hwa__cpu_prof_free(hwa__cpu_prof *p) {
    if (!p) return;
    double total = 0.0;
    for (int i = 0; i < p->n; i++) total += p->rows[i].secs;
    if (p->n) {
        qsort(p->rows, (size_t)p->n, sizeof *p->rows, by_time);
        fprintf(stderr, "hwadapt profile (cpu): %.3f s in %d (op, shape, kernel) rows\n", total, p->n);
        fprintf(stderr, "%9s %6s %9s %10s  %s\n", "ms", "%", "calls", "us/call", "op shape [kernel]");
        for (int i = 0; i < p->n; i++) {
            const prof_row *r = &p->rows[i];
            fprintf(stderr, "%9.1f %6.1f %9lld %10.1f  %s\n", 1e3 * r->secs, total > 0 ? 100.0 * r->secs / total : 0.0,
                    (long long)r->calls, 1e6 * r->secs / (double)r->calls, r->key);
        }
    }
    hwa__free(p->ctx, p->rows);
    hwa__free(p->ctx, p);
}
