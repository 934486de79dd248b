/* How many of its threads a compute of the CPU backend uses while other
 * processes take CPUs.
 *
 * oneDNN splits a product statically over its OpenMP threads and waits for
 * the last one; when another busy process holds one of two cores, the
 * thread that shares a core with it finishes a scheduler time slice late
 * and the product takes longer on two threads than on one (linear1000 on
 * this project's 2-core machine: 1.6 ms on two, 1.15 ms on one, with one
 * competing busy loop). So about every 100 ms the backend reads how many
 * CPUs other processes kept busy since the last look (hw/load.c: /proc/stat
 * less this process's own CPU time), and a compute asks for no more
 * threads than the CPUs left: a CPU counts as taken when others kept it
 * busy three quarters of the time or more. Our own pool would cope (the
 * caller takes the chunks a delayed worker leaves), but one thread count
 * for a whole compute keeps the two kinds of kernel alike. HWA_ADAPT_THREADS=0
 * turns this off; counters tell the benchmark how often it cut. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "backends/cpu/cpu_isa.h"
#include "backends/cpu/cpu_load.h"
#include "core/internal.h"

#define INTERVAL_S 0.1
#define TAKEN 0.75 /* of a CPU kept busy by others: that CPU is taken */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static hwa_load_sample g_last;
static bool g_have_last;
static _Atomic double g_last_t = -1.0;  /* monotonic seconds of g_last; -1 none */
static _Atomic int g_taken;             /* CPUs others kept busy at the last look */
static _Atomic int g_cpus = 1;          /* CPUs this process may use, at the last look */
static _Atomic int g_enabled = -1;      /* -1: HWA_ADAPT_THREADS not read yet */
static _Atomic uint64_t g_computes, g_cut;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static bool enabled(void) {
    int e = atomic_load_explicit(&g_enabled, memory_order_relaxed);
    if (e < 0) {
        const char *v = getenv("HWA_ADAPT_THREADS");
        e = !(v && !strcmp(v, "0"));
        atomic_store(&g_enabled, e);
    }
    return e != 0;
}

/* A new look at the CPUs, when the last is INTERVAL_S old and no other
 * thread is taking one. */
static void look(double t) {
    if (pthread_mutex_trylock(&g_lock)) return;
    hwa_load_sample s;
    if (hwa_load_sample_take(NULL, &s) == HWA_OK) {
        hwa_load_delta d;
        const int cpus = hwa__cpu_usable_count();
        atomic_store(&g_cpus, cpus);
        if (g_have_last && hwa_load_delta_compute(&g_last, &s, 1, cpus, 0.1, &d) == HWA_OK &&
            isfinite(d.others_cpus)) {
            int taken = (int)floor(d.others_cpus + (1.0 - TAKEN));
            atomic_store(&g_taken, taken < 0 ? 0 : taken);
        }
        g_last = s;
        g_have_last = true;
    }
    atomic_store(&g_last_t, t);
    pthread_mutex_unlock(&g_lock);
}

int hwa__cpu_threads_now(int requested) {
    if (requested <= 1) return requested;
    if (!enabled()) {
        atomic_fetch_add_explicit(&g_computes, 1, memory_order_relaxed);
        return requested;
    }
    const double t = now_s(), last = atomic_load(&g_last_t);
    if (last < 0 || t - last >= INTERVAL_S) look(t);
    const int free_cpus = atomic_load(&g_cpus) - atomic_load(&g_taken);
    const int n = free_cpus < requested ? (free_cpus < 1 ? 1 : free_cpus) : requested;
    atomic_fetch_add_explicit(&g_computes, 1, memory_order_relaxed);
    if (n < requested) atomic_fetch_add_explicit(&g_cut, 1, memory_order_relaxed);
    return n;
}

void hwa__cpu_threads_cut_stats(uint64_t *computes, uint64_t *cut) {
    *computes = atomic_load(&g_computes);
    *cut = atomic_load(&g_cut);
}
