/* CPU core sets: what a compute on "cpu:A-B" binds, and how.
 *
 * Three kinds of thread do a CPU compute's work:
 *
 * - The calling thread runs every node and takes chunks of every region. It
 *   is bound (pthread_setaffinity_np) to the set for the compute and put
 *   back on its old CPUs after: two or three system calls a compute.
 * - The library's pool workers (core/pool.c) run the other chunks of our own
 *   kernels. The compute tells the pool which set this thread's regions want
 *   (hwa__pool_set_thread_cpus) and the pool moves a worker only when the
 *   set it was last put on differs, so computes that alternate between two
 *   sets cost a system call per worker per switch, not per op. A region of
 *   another thread (a whole-CPU compute, say) moves them back onto that
 *   thread's CPUs.
 * - oneDNN's OpenMP threads (libgomp) run its products. They inherit the
 *   mask of the thread that creates them, when libgomp first needs them, and
 *   keep it: relying on that would leave threads first made during a
 *   core-set compute bound to that set for every later compute, and leave
 *   threads made earlier unbound. So with more than one thread, the compute
 *   runs one OpenMP region of its team size in which every thread but the
 *   master binds itself to the set, and one after the compute that puts them
 *   on the calling thread's old CPUs. libgomp gives the next region of a
 *   master the same threads in the same order (tests/test_backend_cpu_cores.c
 *   checks it), so oneDNN's regions, no larger than the team (its thread
 *   count is omp_set_num_threads's), run on the set. With one thread (a set
 *   of one CPU) the team is the calling thread alone and nothing more is
 *   done.
 *
 * Not bound: OpenBLAS's own threads (the provider after oneDNN; with one
 * thread it computes on the calling thread), and any thread the caller's
 * own code starts. */
#include "backends/cpu/cpu_cores.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "core/internal.h"
#include "core/pool.h"
#include "hw/hw_internal.h"

#define MASK_WORDS (CPU_SETSIZE / 64)

void hwa__cpu_allowed_list(char *buf, size_t cap) {
    uint64_t bits[MASK_WORDS];
    int n = 0;
    if (hwa__affinity("", bits, MASK_WORDS, &n) != HWA_OK || n == 0) {
        snprintf(buf, cap, "unknown");
        return;
    }
    hwa__format_cpulist(bits, MASK_WORDS, buf, cap);
}

/* A decimal CPU number at *p (advanced past it); -1 when there is none or
 * it is not below CPU_SETSIZE. */
static int cpu_number(const char **p) {
    if (**p < '0' || **p > '9') return -1;
    char *end = NULL;
    const long v = strtol(*p, &end, 10);
    *p = end;
    return v < CPU_SETSIZE ? (int)v : -1;
}

hwa_status hwa__cpu_cores_parse(hwa_ctx *ctx, const char *spec, const char *arg, hwa__cpu_cores *out) {
    char allowed[256];
    hwa__cpu_allowed_list(allowed, sizeof allowed);
    const char *p = arg;
    const int a = cpu_number(&p);
    const int b = a >= 0 && *p == '-' ? (p++, cpu_number(&p)) : -1;
    if (a < 0 || b < 0 || *p != '\0' || b < a)
        return hwa__err(ctx, HWA_E_INVALID,
                        "device '%s': after 'cpu:' comes 0 (the whole CPU) or a core set A-B, CPUs A to B "
                        "with A <= B (cpu:1-1 is CPU 1 alone); this process may use CPUs %s",
                        spec, allowed);
    cpu_set_t mask;
    CPU_ZERO(&mask);
    if (sched_getaffinity(0, sizeof mask, &mask) != 0)
        return hwa__err(ctx, HWA_E_NOTFOUND, "device '%s': the affinity mask cannot be read", spec);
    CPU_ZERO(&out->set);
    for (int c = a; c <= b; c++) {
        if (!CPU_ISSET(c, &mask))
            return hwa__err(ctx, HWA_E_NOTFOUND, "device '%s': CPU %d is not one this process may use (CPUs %s)", spec,
                            c, allowed);
        CPU_SET(c, &out->set);
    }
    out->first = a;
    out->last = b;
    return HWA_OK;
}

int hwa__cpu_cores_count(const hwa__cpu_cores *c) { return c->last - c->first + 1; }

void hwa__cpu_omp_bind(int nthreads, const cpu_set_t *set) {
#if defined(_OPENMP)
#pragma omp parallel num_threads(nthreads)
    {
        if (omp_get_thread_num() != 0) pthread_setaffinity_np(pthread_self(), sizeof *set, set);
    }
#else
    (void)nthreads, (void)set;
#endif
}

void hwa__cpu_cores_enter(const hwa__cpu_cores *c, int nthreads, hwa__cpu_bound *b) {
    b->caller = false;
    b->omp_threads = 0;
    b->entered = false;
    /* Without the old mask nothing could be put back: bind nothing. */
    if (pthread_getaffinity_np(pthread_self(), sizeof b->old, &b->old) != 0) return;
    b->entered = true;
    if (!CPU_EQUAL(&b->old, &c->set)) b->caller = pthread_setaffinity_np(pthread_self(), sizeof c->set, &c->set) == 0;
    hwa__pool_set_thread_cpus(&c->set);
#if defined(_OPENMP)
    /* Only outside a parallel region: inside one, a nested team would be
     * new threads (or none), not oneDNN's. */
    if (nthreads > 1 && !omp_in_parallel()) {
        hwa__cpu_omp_bind(nthreads, &c->set);
        b->omp_threads = nthreads;
    }
#else
    (void)nthreads;
#endif
}

void hwa__cpu_cores_leave(hwa__cpu_bound *b) {
    if (!b->entered) return;
    hwa__pool_set_thread_cpus(NULL);
    if (b->omp_threads > 1) hwa__cpu_omp_bind(b->omp_threads, &b->old);
    if (b->caller) pthread_setaffinity_np(pthread_self(), sizeof b->old, &b->old);
    b->entered = b->caller = false;
    b->omp_threads = 0;
}
