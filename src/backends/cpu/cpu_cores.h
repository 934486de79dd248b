/* CPU core sets: a CPU backend confined to CPUs A..B ("cpu:A-B"), so that
 * one CPU can be split into devices that the scheduler places across (see
 * cpu_cores.c for what is bound and what is not). Not a published API. */
#ifndef HWADAPT_CPU_CORES_H
#define HWADAPT_CPU_CORES_H

#include <sched.h>
#include <stdbool.h>

#include "hwadapt/status.h"

typedef struct hwa_ctx hwa_ctx;

/* CPUs first..last (a contiguous range). */
typedef struct hwa__cpu_cores {
    int first, last;
    cpu_set_t set;
} hwa__cpu_cores;

/* Parses arg, the part of a spec after "cpu:" that is not a device index:
 * "A-B", decimal CPU numbers with A <= B, every one of them in the calling
 * thread's affinity mask (the CPUs this process may use). HWA_E_INVALID for
 * text that is not such a range, HWA_E_NOTFOUND for a CPU outside the mask;
 * both messages name spec and the CPUs allowed. */
hwa_status hwa__cpu_cores_parse(hwa_ctx *ctx, const char *spec, const char *arg, hwa__cpu_cores *out);
int hwa__cpu_cores_count(const hwa__cpu_cores *c);

/* The CPUs the calling thread may run on, as a list ("0-3,8"). */
void hwa__cpu_allowed_list(char *buf, size_t cap);

/* What a compute on a core set changed, to undo after it. */
typedef struct hwa__cpu_bound {
    bool entered;    /* the old mask was read: there is something to undo */
    bool caller;     /* the calling thread was moved; old is its mask */
    int omp_threads; /* OpenMP threads bound (the team size), 0 none */
    cpu_set_t old;
} hwa__cpu_bound;

/* Before a compute on c with nthreads threads: binds the calling thread to
 * c's CPUs (unless it is bound so already), asks the pool to run this
 * thread's regions on them, and, when nthreads > 1, binds the OpenMP team of
 * that size. After it, hwa__cpu_cores_leave puts the calling thread and the
 * OpenMP team back on the calling thread's old CPUs; the pool's workers
 * follow at the next region of another set (or of none). */
void hwa__cpu_cores_enter(const hwa__cpu_cores *c, int nthreads, hwa__cpu_bound *b);
void hwa__cpu_cores_leave(hwa__cpu_bound *b);

/* Moves every thread of an OpenMP team of nthreads (> 1) threads but the
 * master (the calling thread) onto set. Exposed for the test that checks
 * libgomp reuses those threads in the next region of that size. */
void hwa__cpu_omp_bind(int nthreads, const cpu_set_t *set);

#endif
