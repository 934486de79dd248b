/* The library's own thread pool for its CPU kernels. Not a published API.
 *
 * Why not OpenMP for our kernels: an OpenMP region ends in a barrier that
 * waits for every thread of the team to arrive, so a worker that the
 * scheduler has not run yet (a busy neighbour took its core) holds the
 * whole region for a time slice, and libgomp's default wait is a spin of
 * about 300,000 iterations that takes the core from whoever else needs it.
 * Here the caller is a worker too and chunks are claimed one at a time from
 * a shared counter: the caller waits only for chunks a worker has actually
 * started, so a region never takes longer than the caller doing it all
 * alone plus the chunks already in flight. Idle workers spin briefly (the
 * next region of a decode step follows within microseconds) and then sleep
 * on a futex.
 *
 * One pool serves the process. A region started while another thread is
 * inside one, or from inside a chunk, runs serially on the calling thread:
 * correct and never a deadlock, only not parallel.
 */
#ifndef HWADAPT_CORE_POOL_H
#define HWADAPT_CORE_POOL_H

#include <sched.h>
#include <stdint.h>

/* One chunk: items [i0, i1) on thread tid (0 is the caller; tid < the
 * region's thread count, so per-thread scratch can be indexed by it). */
typedef void (*hwa__par_fn)(void *ctx, int64_t i0, int64_t i1, int tid);

/* Runs fn over [0, n) in chunks of `grain` items (the last one shorter) on
 * up to nthreads threads, the caller included, and returns when every chunk
 * has run. With nthreads <= 1, n <= grain, or when the pool is busy or
 * cannot start a thread, it calls fn(ctx, 0, n, 0) once. grain < 1 is
 * taken as one chunk per thread. Chunks run in no particular order and on
 * any thread; each runs exactly once. Thread-safe. */
void hwa__par_for(int nthreads, int64_t n, int64_t grain, hwa__par_fn fn, void *ctx);

/* The CPUs the workers that run regions the calling thread starts from now
 * on are bound to: set (a CPU backend's core set; the caller keeps it valid
 * until its next call here), or NULL for the calling thread's own CPUs. A
 * region moves a worker it uses (pthread_setaffinity_np) only when the set
 * that worker was last put on differs, so regions of one set cost nothing
 * more and a switch costs one system call per worker. NULL moves nothing
 * while no set was ever asked for: workers keep the mask of the thread that
 * started them, as before core sets. Per thread; thread-safe. */
void hwa__pool_set_thread_cpus(const cpu_set_t *set);

/* How long an idle worker (and a caller waiting for a chunk in flight)
 * spins before it sleeps, in microseconds: HWA_SPIN_US when set (0..100000),
 * else the default. Read once. */
int hwa__pool_spin_us(void);

/* Counters for tests and profiles: regions run in parallel, and chunks the
 * caller ran itself in them; workers moved to other CPUs. */
typedef struct hwa__pool_stats {
    uint64_t regions, chunks, caller_chunks, serial_regions, binds;
} hwa__pool_stats;
void hwa__pool_get_stats(hwa__pool_stats *out);

#endif
