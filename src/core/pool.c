/* The thread pool (see pool.h for why it exists).
 *
 * One region at a time is published in a single 64-bit word that every
 * claim goes through: [gen:16][threads:8][chunks:20][next:20]. A thread
 * claims chunk `next` by a compare-and-swap of the word to next + 1, which
 * succeeds only while the word is unchanged, so a claim is valid for the
 * region that is current at that instant and a worker that slept through
 * any number of regions can never run a chunk of an old one. The region's
 * fields (function, context, sizes) are written before the word is
 * published and are not rewritten until every claimed chunk has reported
 * done, so a thread that holds a claim reads them safely.
 *
 * Sleeping uses futexes with the usual check-after-announce order: a
 * worker counts itself as a sleeper and then re-reads the word before it
 * waits on the wake counter; the caller publishes the word and then bumps
 * the counter and wakes sleepers. The caller's wait for chunks in flight
 * works the same way on the done counter. */
#include "core/pool.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

#define MASK20 ((UINT64_C(1) << 20) - 1)
#define MAX_CHUNKS ((int64_t)MASK20)
#define MAX_THREADS 255
#define DEFAULT_SPIN_US 50

static inline uint64_t pack(unsigned gen, unsigned threads, uint64_t chunks, uint64_t next) {
    return (uint64_t)(gen & 0xffff) << 48 | (uint64_t)(threads & 0xff) << 40 | (chunks & MASK20) << 20 |
           (next & MASK20);
}
static inline unsigned w_next(uint64_t w) { return (unsigned)(w & MASK20); }
static inline unsigned w_chunks(uint64_t w) { return (unsigned)(w >> 20 & MASK20); }
static inline unsigned w_threads(uint64_t w) { return (unsigned)(w >> 40 & 0xff); }

typedef struct region {
    hwa__par_fn fn;
    void *ctx;
    int64_t n, grain;
} region;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER; /* held by the thread running a region */
static region g_region;                                     /* written under g_lock, before g_word */
static unsigned g_gen;                                      /* under g_lock */
static int g_workers;                                       /* threads started; under g_lock */
static _Atomic uint64_t g_word;
static _Atomic uint32_t g_done;            /* chunks of the current region finished */
static _Atomic uint32_t g_wake;            /* bumped at each region: the workers' futex */
static _Atomic int g_sleepers;             /* workers in (or about to enter) a futex wait */
static _Atomic int g_caller_sleeping;      /* the caller waits on g_done */
static _Atomic uint64_t g_stat_regions, g_stat_chunks, g_stat_caller, g_stat_serial, g_stat_binds;
static _Thread_local bool t_inside;        /* running a chunk or a region: nested regions run serially */

/* Core sets (under g_lock): the CPUs workers are to run on, a generation
 * bumped at each change (0: never bound), and the generation each worker
 * was last put on (0: as started). */
static pthread_t g_thread[MAX_THREADS + 1];  /* by worker number, 1.. */
static unsigned g_thread_gen[MAX_THREADS + 1];
static cpu_set_t g_bind_set;
static unsigned g_bind_gen;
static bool g_bind_own;                      /* g_bind_set is a caller's own mask, not a core set */
static _Thread_local const cpu_set_t *t_cpus; /* this thread's regions' core set, or NULL */

/* ---- waiting ------------------------------------------------------------ */

static void futex_wait(_Atomic uint32_t *addr, uint32_t seen) {
#if defined(__linux__)
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
#else
    (void)addr, (void)seen;
    sched_yield();
#endif
}

static void futex_wake(_Atomic uint32_t *addr, int n) {
#if defined(__linux__)
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
#else
    (void)addr, (void)n;
#endif
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

int hwa__pool_spin_us(void) {
    static _Atomic int cached = -1;
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v >= 0) return v;
    v = DEFAULT_SPIN_US;
    const char *e = getenv("HWA_SPIN_US");
    if (e && *e) {
        char *end = NULL;
        long x = strtol(e, &end, 10);
        if (!*end && x >= 0 && x <= 100000) v = (int)x;
    }
    atomic_store_explicit(&cached, v, memory_order_relaxed);
    return v;
}

/* ---- claiming and running ---------------------------------------------- */

/* Claims the next chunk of the current region for thread `self`. */
static bool claim(int self, int64_t *chunk, unsigned *chunks) {
    uint64_t w = atomic_load_explicit(&g_word, memory_order_acquire);
    for (;;) {
        if (w_next(w) >= w_chunks(w) || (unsigned)self >= w_threads(w)) return false;
        if (atomic_compare_exchange_weak_explicit(&g_word, &w, w + 1, memory_order_acq_rel, memory_order_acquire)) {
            *chunk = w_next(w);
            *chunks = w_chunks(w);
            return true;
        }
    }
}

static bool claimable(int self) {
    uint64_t w = atomic_load_explicit(&g_word, memory_order_acquire);
    return w_next(w) < w_chunks(w) && (unsigned)self < w_threads(w);
}

static void run_chunk(int64_t c, unsigned chunks, int tid) {
    const region *r = &g_region;
    const int64_t i0 = c * r->grain, i1 = r->n - i0 < r->grain ? r->n : i0 + r->grain;
    t_inside = true;
    r->fn(r->ctx, i0, i1, tid);
    t_inside = false;
    const uint32_t d = atomic_fetch_add(&g_done, 1) + 1;
    if (tid != 0 && d == chunks && atomic_load(&g_caller_sleeping)) futex_wake(&g_done, 1);
}

static void *worker_main(void *arg) {
    const int self = (int)(intptr_t)arg;
    const double spin = hwa__pool_spin_us();
    for (;;) {
        int64_t c;
        unsigned chunks;
        if (claim(self, &c, &chunks)) {
            run_chunk(c, chunks, self);
            continue;
        }
        /* Spin briefly: in a decode step the next region follows within
         * microseconds, sooner than a futex wake-up. */
        bool found = false;
        for (double t0 = now_us(); !found && now_us() - t0 < spin;)
            for (int k = 0; k < 32 && !(found = claimable(self)); k++) CPU_RELAX();
        if (found) continue;
        const uint32_t seen = atomic_load(&g_wake);
        atomic_fetch_add(&g_sleepers, 1);
        if (!claimable(self)) futex_wait(&g_wake, seen);
        atomic_fetch_sub(&g_sleepers, 1);
    }
    return NULL;
}

/* Starts workers up to `want` (under g_lock); returns how many there are. */
static int ensure_workers(int want) {
    while (g_workers < want) {
        pthread_attr_t attr;
        pthread_t th;
        if (pthread_attr_init(&attr)) break;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&th, &attr, worker_main, (void *)(intptr_t)(g_workers + 1));
        pthread_attr_destroy(&attr);
        if (rc) break;
        g_workers++;
        g_thread[g_workers] = th; /* detached, but workers never exit: th stays valid */
        g_thread_gen[g_workers] = 0;
    }
    return g_workers;
}

void hwa__pool_set_thread_cpus(const cpu_set_t *set) { t_cpus = set; }

static unsigned next_gen(void) { return ++g_bind_gen ? g_bind_gen : ++g_bind_gen; }

/* Puts workers 1..nthreads-1 on the CPUs the caller's regions want (under
 * g_lock). */
static void bind_workers(int nthreads) {
    const cpu_set_t *want = t_cpus;
    if (want) {
        if (!g_bind_gen || g_bind_own || !CPU_EQUAL(want, &g_bind_set)) {
            g_bind_set = *want;
            g_bind_own = false;
            next_gen();
        }
    } else {
        if (!g_bind_gen) return;
        if (!g_bind_own) {
            if (pthread_getaffinity_np(pthread_self(), sizeof g_bind_set, &g_bind_set)) return;
            g_bind_own = true;
            next_gen();
        }
    }
    for (int w = 1; w < nthreads; w++) {
        if (g_thread_gen[w] == g_bind_gen) continue;
        if (!pthread_setaffinity_np(g_thread[w], sizeof g_bind_set, &g_bind_set)) {
            g_thread_gen[w] = g_bind_gen;
            atomic_fetch_add_explicit(&g_stat_binds, 1, memory_order_relaxed);
        }
    }
}

void hwa__par_for(int nthreads, int64_t n, int64_t grain, hwa__par_fn fn, void *ctx) {
    if (n <= 0) return;
    if (nthreads > MAX_THREADS) nthreads = MAX_THREADS;
    if (grain < 1) grain = nthreads > 1 ? (n + nthreads - 1) / nthreads : n;
    if (nthreads <= 1 || n <= grain || t_inside || pthread_mutex_trylock(&g_lock)) {
        atomic_fetch_add_explicit(&g_stat_serial, 1, memory_order_relaxed);
        fn(ctx, 0, n, 0);
        return;
    }
    int64_t chunks = (n + grain - 1) / grain;
    if (chunks > MAX_CHUNKS) {
        grain = (n + MAX_CHUNKS - 1) / MAX_CHUNKS;
        chunks = (n + grain - 1) / grain;
    }
    const int workers = ensure_workers(nthreads - 1);
    if (workers + 1 < nthreads) nthreads = workers + 1;
    if (nthreads <= 1) {
        pthread_mutex_unlock(&g_lock);
        atomic_fetch_add_explicit(&g_stat_serial, 1, memory_order_relaxed);
        fn(ctx, 0, n, 0);
        return;
    }
    bind_workers(nthreads);
    g_region = (region){.fn = fn, .ctx = ctx, .n = n, .grain = grain};
    atomic_store(&g_done, 0);
    atomic_store(&g_word, pack(++g_gen, (unsigned)nthreads, (uint64_t)chunks, 0));
    atomic_fetch_add(&g_wake, 1);
    if (atomic_load(&g_sleepers) > 0) futex_wake(&g_wake, INT_MAX);
    atomic_fetch_add_explicit(&g_stat_regions, 1, memory_order_relaxed);

    int64_t c;
    unsigned ch;
    uint64_t mine = 0;
    while (claim(0, &c, &ch)) {
        run_chunk(c, ch, 0);
        mine++;
    }
    /* the counters once a region, by the caller: no shared line per chunk */
    atomic_fetch_add_explicit(&g_stat_caller, mine, memory_order_relaxed);
    atomic_fetch_add_explicit(&g_stat_chunks, (uint64_t)chunks, memory_order_relaxed);
    /* Only chunks a worker claimed are left: wait for them, briefly
     * spinning, then asleep until the last one wakes us. */
    const uint32_t total = (uint32_t)chunks;
    const double spin = hwa__pool_spin_us();
    for (double t0 = now_us(); atomic_load(&g_done) != total && now_us() - t0 < spin;)
        for (int k = 0; k < 32; k++) CPU_RELAX();
    if (atomic_load(&g_done) != total) {
        atomic_store(&g_caller_sleeping, 1);
        for (uint32_t d; (d = atomic_load(&g_done)) != total;) futex_wait(&g_done, d);
        atomic_store(&g_caller_sleeping, 0);
    }
    pthread_mutex_unlock(&g_lock);
}

void hwa__pool_get_stats(hwa__pool_stats *out) {
    out->regions = atomic_load(&g_stat_regions);
    out->chunks = atomic_load(&g_stat_chunks);
    out->caller_chunks = atomic_load(&g_stat_caller);
    out->serial_regions = atomic_load(&g_stat_serial);
    out->binds = atomic_load(&g_stat_binds);
}
