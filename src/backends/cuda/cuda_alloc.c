/* The cuda backend's caching allocator (cuda_rt.h). Blocks are kept in one
 * array, searched linearly: a backend holds tens to a few thousand buffers
 * (a graph's arena is one), and a search is far cheaper than the device
 * allocator's synchronizing call it saves. */
#include <string.h>

#include "backends/cuda/cuda_rt.h"

#define SMALL_ROUND 512u
#define LARGE_ROUND (2u << 20)

typedef struct block {
    void *p;
    size_t size; /* as allocated from the device */
    size_t used; /* the rounded request while handed out, 0 while cached */
} block;

struct hwa__cu_alloc {
    hwa_ctx *ctx;
    const hwa__cu_rt *rt;
    block *b;
    int n, cap;
    hwa__cu_mem_stats st;
};

static size_t round_size(size_t n) {
    if (n == 0) n = 1;
    const size_t r = n < (1u << 20) ? SMALL_ROUND : LARGE_ROUND;
    return n > SIZE_MAX - r ? SIZE_MAX : (n + r - 1) / r * r;
}

hwa__cu_alloc *hwa__cu_alloc_new(hwa_ctx *ctx, const hwa__cu_rt *rt) {
    hwa__cu_alloc *a = hwa__calloc(ctx, 1, sizeof *a);
    if (!a) return NULL;
    a->ctx = ctx;
    a->rt = rt;
    return a;
}

static void drop(hwa__cu_alloc *a, int i) {
    a->rt->free(a->b[i].p);
    a->st.device -= (int64_t)a->b[i].size;
    a->st.cached -= a->b[i].used ? 0 : (int64_t)a->b[i].size;
    a->b[i] = a->b[--a->n];
}

void hwa__cu_alloc_trim(hwa__cu_alloc *a) {
    for (int i = a->n - 1; i >= 0; i--)
        if (!a->b[i].used) drop(a, i);
}

void hwa__cu_alloc_free(hwa__cu_alloc *a) {
    if (!a) return;
    while (a->n) drop(a, a->n - 1);
    hwa__free(a->ctx, a->b);
    hwa__free(a->ctx, a);
}

int hwa__cu_alloc_get(hwa__cu_alloc *a, size_t n, void **p) {
    const size_t want = round_size(n);
    int best = -1;
    for (int i = 0; i < a->n; i++) {
        const block *b = &a->b[i];
        /* a cached block that fits, wasting at most a quarter of it */
        if (b->used || b->size < want || want < b->size - b->size / 4) continue;
        if (best < 0 || b->size < a->b[best].size) best = i;
    }
    if (best < 0) {
        if (a->n == a->cap) {
            const int cap = a->cap ? 2 * a->cap : 64;
            block *nb = hwa__realloc_array(a->ctx, a->b, (size_t)a->cap, (size_t)cap, sizeof *nb);
            if (!nb) return -1;
            a->b = nb;
            a->cap = cap;
        }
        void *q = NULL;
        int rc = a->rt->malloc(&q, want);
        if (rc && a->rt->is_oom(rc) && a->st.cached > 0) {
            hwa__cu_alloc_trim(a);
            rc = a->rt->malloc(&q, want);
        }
        if (rc) return rc;
        a->st.n_device_allocs++;
        a->st.device += (int64_t)want;
        a->st.cached += (int64_t)want; /* taken below */
        best = a->n++;
        a->b[best] = (block){q, want, 0};
    }
    block *b = &a->b[best];
    b->used = want;
    a->st.cached -= (int64_t)b->size;
    a->st.in_use += (int64_t)b->size;
    if (a->st.in_use > a->st.peak) a->st.peak = a->st.in_use;
    *p = b->p;
    return 0;
}

void hwa__cu_alloc_put(hwa__cu_alloc *a, void *p) {
    for (int i = 0; i < a->n; i++)
        if (a->b[i].p == p && a->b[i].used) {
            a->b[i].used = 0;
            a->st.in_use -= (int64_t)a->b[i].size;
            a->st.cached += (int64_t)a->b[i].size;
            return;
        }
}

void hwa__cu_alloc_stats(const hwa__cu_alloc *a, hwa__cu_mem_stats *s) { *s = a->st; }
