/* The library's thread pool (src/core/pool.c): every item runs exactly
 * once on a thread number below the region's count, whatever the split;
 * nested and concurrent regions run serially instead of deadlocking; the
 * sleep and wake-up path works; a storm of tiny regions loses nothing. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/pool.h"
#include "harness.h"

typedef struct cover {
    atomic_int *hits;
    int nthreads;
    atomic_int bad_tid, calls;
} cover;

static void cover_fn(void *ctx, int64_t i0, int64_t i1, int tid) {
    cover *c = ctx;
    atomic_fetch_add(&c->calls, 1);
    if (tid < 0 || tid >= (c->nthreads > 1 ? c->nthreads : 1)) atomic_store(&c->bad_tid, 1);
    for (int64_t i = i0; i < i1; i++) atomic_fetch_add(&c->hits[i], 1);
}

/* Runs one region and returns the first index not hit exactly once (-1:
 * none), or -2 for a thread number out of range. */
static int64_t run_cover(int nthreads, int64_t n, int64_t grain, int *calls) {
    cover c = {calloc((size_t)(n > 0 ? n : 1), sizeof(atomic_int)), nthreads, 0, 0};
    if (!c.hits) return -3;
    hwa__par_for(nthreads, n, grain, cover_fn, &c);
    int64_t bad = atomic_load(&c.bad_tid) ? -2 : -1;
    for (int64_t i = 0; bad == -1 && i < n; i++)
        if (atomic_load(&c.hits[i]) != 1) bad = i;
    if (calls) *calls = atomic_load(&c.calls);
    free(c.hits);
    return bad;
}

TEST(every_item_once_for_every_split) {
    const int threads[] = {1, 2, 3, 4, 8};
    const int64_t sizes[] = {0, 1, 2, 7, 64, 1000, 4097};
    const int64_t grains[] = {-1, 0, 1, 3, 16, 5000};
    for (size_t a = 0; a < sizeof threads / sizeof *threads; a++)
        for (size_t b = 0; b < sizeof sizes / sizeof *sizes; b++)
            for (size_t c = 0; c < sizeof grains / sizeof *grains; c++) {
                const int64_t bad = run_cover(threads[a], sizes[b], grains[c], NULL);
                CHECK_MSG(bad == -1, "threads %d, n %lld, grain %lld: %s %lld", threads[a], (long long)sizes[b],
                          (long long)grains[c], bad == -2 ? "thread number out of range" : "item not run once:",
                          (long long)bad);
            }
}

TEST(one_thread_or_one_chunk_is_one_call_on_the_caller) {
    int calls = 0;
    CHECK_INT_EQ(run_cover(1, 1000, 10, &calls), -1);
    CHECK_INT_EQ(calls, 1);
    CHECK_INT_EQ(run_cover(4, 100, 100, &calls), -1);
    CHECK_INT_EQ(calls, 1);
    CHECK_INT_EQ(run_cover(4, 100, 0, &calls), -1); /* one chunk per thread */
    CHECK_INT_EQ(calls, 4);
}

TEST(more_chunks_than_the_claim_word_holds_are_merged) {
    /* 3 million single items: more than 2^20 chunks, so the grain grows */
    int calls = 0;
    CHECK_INT_EQ(run_cover(2, 3000000, 1, &calls), -1);
    CHECK_MSG(calls <= (1 << 20) && calls >= 2, "calls %d", calls);
}

typedef struct nested {
    pthread_t outer_thread[64];
    atomic_int bad, inner_items;
} nested;

static void inner_fn(void *ctx, int64_t i0, int64_t i1, int tid) {
    nested *n = ctx;
    if (tid != 0) atomic_store(&n->bad, 1);
    atomic_fetch_add(&n->inner_items, (int)(i1 - i0));
}

static void outer_fn(void *ctx, int64_t i0, int64_t i1, int tid) {
    nested *n = ctx;
    for (int64_t i = i0; i < i1; i++) {
        const pthread_t self = pthread_self();
        hwa__par_for(4, 100, 1, inner_fn, n); /* nested: serial, on this thread */
        if (!pthread_equal(self, pthread_self())) atomic_store(&n->bad, 1);
    }
}

TEST(a_region_inside_a_chunk_runs_serially_on_that_thread) {
    nested n = {.bad = 0, .inner_items = 0};
    hwa__par_for(2, 16, 1, outer_fn, &n);
    CHECK_INT_EQ(atomic_load(&n.bad), 0);
    CHECK_INT_EQ(atomic_load(&n.inner_items), 16 * 100);
}

static void *caller_thread(void *arg) {
    atomic_int *failures = arg;
    for (int r = 0; r < 2000; r++)
        if (run_cover(2, 1 + r % 50, 1, NULL) != -1) atomic_fetch_add(failures, 1);
    return NULL;
}

TEST(regions_from_several_threads_at_once) {
    atomic_int failures = 0;
    pthread_t th[3];
    for (int i = 0; i < 3; i++) CHECK(pthread_create(&th[i], NULL, caller_thread, &failures) == 0);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    CHECK_INT_EQ(atomic_load(&failures), 0);
}

TEST(workers_asleep_are_woken_for_the_next_region) {
    /* A pause longer than the spin (HWA_SPIN_US, 50 us by default) puts the
     * workers to sleep on the futex before each region. */
    hwa__pool_stats before, after;
    hwa__pool_get_stats(&before);
    for (int r = 0; r < 50; r++) {
        usleep(2000 + (useconds_t)hwa__pool_spin_us());
        CHECK_INT_EQ(run_cover(2, 64, 1, NULL), -1);
    }
    hwa__pool_get_stats(&after);
    CHECK_INT_EQ(after.regions - before.regions, 50);
    CHECK_INT_EQ(after.chunks - before.chunks, 50 * 64);
}

typedef struct sum_job {
    const int *v;
    _Atomic long long sum;
} sum_job;

static void sum_fn(void *ctx, int64_t i0, int64_t i1, int tid) {
    sum_job *s = ctx;
    long long t = 0;
    for (int64_t i = i0; i < i1; i++) t += s->v[i];
    atomic_fetch_add(&s->sum, t);
}

TEST(a_storm_of_tiny_regions_loses_no_chunk) {
    int v[64];
    for (int i = 0; i < 64; i++) v[i] = i + 1;
    for (int r = 0; r < 100000; r++) {
        const int n = 2 + r % 63;
        sum_job s = {v, 0};
        hwa__par_for(2 + r % 3, n, 1 + r % 4, sum_fn, &s);
        CHECK_MSG(atomic_load(&s.sum) == (long long)n * (n + 1) / 2, "region %d of %d items: sum %lld", r, n,
                  (long long)atomic_load(&s.sum));
    }
}
