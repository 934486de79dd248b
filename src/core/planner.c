/* The memory planner: places every intermediate of a graph at an offset in one
 * arena from the nodes' lifetimes, before anything runs.
 *
 * Walking the nodes in execution order, each node that owns storage gets a
 * region when it is computed, and a region returns to the free list after the
 * last node that reads it (directly or through a view). Free regions are kept
 * sorted by offset and merged with their neighbours; a request takes the best
 * fitting region, or grows the arena at its end. An elementwise node whose
 * first input dies at that node, has its size and is not a view writes into
 * that input's region instead (in place). Outputs live to the end. */
#include <string.h>

#include "core/internal.h"

typedef struct block {
    size_t off, size;
} block;

typedef struct arena_sim {
    hwa_ctx *ctx;
    block *free_blocks;
    int n_free, cap_free;
    size_t end;  /* high-water mark: the arena's size */
} arena_sim;

static hwa_status sim_alloc(arena_sim *a, size_t size, size_t *off) {
    int best = -1;
    for (int i = 0; i < a->n_free; i++)
        if (a->free_blocks[i].size >= size && (best < 0 || a->free_blocks[i].size < a->free_blocks[best].size))
            best = i;
    if (best >= 0) {
        *off = a->free_blocks[best].off;
        a->free_blocks[best].off += size;
        a->free_blocks[best].size -= size;
        if (a->free_blocks[best].size == 0) {
            memmove(&a->free_blocks[best], &a->free_blocks[best + 1], (size_t)(a->n_free - best - 1) * sizeof(block));
            a->n_free--;
        }
        return HWA_OK;
    }
    /* A free block that ends at the arena's end can be extended. */
    if (a->n_free > 0 && a->free_blocks[a->n_free - 1].off + a->free_blocks[a->n_free - 1].size == a->end) {
        *off = a->free_blocks[a->n_free - 1].off;
        a->n_free--;
    } else {
        *off = a->end;
    }
    if (!hwa__add_size(*off, size, &a->end)) return hwa__err(a->ctx, HWA_E_OVERFLOW, "planner: arena size overflows");
    return HWA_OK;
}

static hwa_status sim_free(arena_sim *a, size_t off, size_t size) {
    int i = 0;
    while (i < a->n_free && a->free_blocks[i].off < off) i++;
    /* Merge with the previous and/or next block where they touch. */
    bool prev = i > 0 && a->free_blocks[i - 1].off + a->free_blocks[i - 1].size == off;
    bool next = i < a->n_free && off + size == a->free_blocks[i].off;
    if (prev && next) {
        a->free_blocks[i - 1].size += size + a->free_blocks[i].size;
        memmove(&a->free_blocks[i], &a->free_blocks[i + 1], (size_t)(a->n_free - i - 1) * sizeof(block));
        a->n_free--;
        return HWA_OK;
    }
    if (prev) {
        a->free_blocks[i - 1].size += size;
        return HWA_OK;
    }
    if (next) {
        a->free_blocks[i].off = off;
        a->free_blocks[i].size += size;
        return HWA_OK;
    }
    if (a->n_free == a->cap_free) {
        int nc = a->cap_free ? a->cap_free * 2 : 32;
        block *nb = hwa__realloc_array(a->ctx, a->free_blocks, (size_t)a->cap_free, (size_t)nc, sizeof *nb);
        if (!nb) return HWA_E_NOMEM;
        a->free_blocks = nb;
        a->cap_free = nc;
    }
    memmove(&a->free_blocks[i + 1], &a->free_blocks[i], (size_t)(a->n_free - i) * sizeof(block));
    a->free_blocks[i] = (block){off, size};
    a->n_free++;
    return HWA_OK;
}

/* Whether node n may write its result over its first input, element by
 * element: the kernel reads element i of every input and then writes element
 * i, and nothing else. */
static bool elementwise_op(hwa_op op) {
    switch (op) {
    case HWA_OP_ADD: case HWA_OP_SUB: case HWA_OP_MUL: case HWA_OP_DIV: case HWA_OP_SCALE:
    case HWA_OP_RELU: case HWA_OP_GELU: case HWA_OP_SILU: case HWA_OP_SIGMOID: case HWA_OP_TANH:
    case HWA_OP_UNARY_BACK:
        return true;
    default:
        return false;
    }
}

/* A node owns arena storage unless it is a view or writes in place into a
 * persistent tensor. */
static bool owns_storage(const hwa_tensor *n) { return !hwa__op_is_view(n->op) && !n->view_src; }

static size_t aligned_size(const hwa_tensor *t) {
    size_t s = hwa_tensor_nbytes(t);
    return (s + HWA_ALIGN - 1) & ~(size_t)(HWA_ALIGN - 1);
}

/* Returns to the free list the regions of node i's inputs (t = node i) whose
 * last reader is node i, once each. */
static hwa_status release_dead_inputs(arena_sim *a, const hwa_graph *g, const hwa_tensor *t, int i,
                                      const size_t *offs, const int *last, bool *moved) {
    for (int j = 0; j < hwa__op_n_src(t->op); j++) {
        hwa_tensor *s = hwa__storage(t->src[j]);
        if (s->op == HWA_OP_NONE || s->plan_id < 0 || s->plan_id >= i || g->nodes[s->plan_id] != s) continue;
        int k = s->plan_id;
        if (last[k] == i && !moved[k] && offs[k] != SIZE_MAX) {
            hwa_status st = sim_free(a, offs[k], aligned_size(s));
            if (st) return st;
            moved[k] = true; /* released once */
        }
    }
    return HWA_OK;
}

hwa_status hwa__plan_ex(hwa_graph *g, hwa_plan_mode mode, const bool *keep, hwa_plan_stats *stats) {
    hwa_ctx *ctx = g->ctx;
    int n = g->n_nodes;
    hwa_status st = HWA_OK;
    hwa__free(ctx, g->plan_offs);
    g->plan_offs = NULL;
    g->plan_n = 0;
    size_t *offs = hwa__calloc(ctx, (size_t)(n ? n : 1), sizeof *offs);
    int *last = hwa__calloc(ctx, (size_t)(n ? n : 1), sizeof *last);
    bool *moved = hwa__calloc(ctx, (size_t)(n ? n : 1), sizeof *moved);
    arena_sim a = {ctx, NULL, 0, 0, 0};
    if (!offs || !last || !moved) {
        st = HWA_E_NOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        g->nodes[i]->plan_id = i;
        offs[i] = SIZE_MAX;
    }

    /* Lifetimes: the last node that reads each storage-owning node. */
    const int forever = n;
    for (int i = 0; i < n; i++) {
        hwa_tensor *t = g->nodes[i];
        last[i] = i;
        for (int j = 0; j < hwa__op_n_src(t->op); j++) {
            hwa_tensor *s = hwa__storage(t->src[j]);
            if (s->op != HWA_OP_NONE && s->plan_id >= 0 && s->plan_id < n && g->nodes[s->plan_id] == s &&
                last[s->plan_id] < i)
                last[s->plan_id] = i;
        }
        /* A view keeps its storage alive for as long as the view is read:
         * the view's own readers are counted through hwa__storage above. */
    }
    for (int i = 0; i < n; i++) {
        hwa_tensor *t = g->nodes[i];
        if ((t->flags & HWA_TF_OUTPUT) || (keep && keep[i])) {
            hwa_tensor *s = hwa__storage(t);
            if (s->plan_id >= 0 && s->plan_id < n && g->nodes[s->plan_id] == s) last[s->plan_id] = forever;
        }
    }

    size_t total = 0;
    int n_inter = 0, n_inplace = 0;
    for (int i = 0; i < n; i++) {
        hwa_tensor *t = g->nodes[i];
        /* A node that owns no region (a view, a write into a persistent
         * tensor such as a gradient accumulation or a KV-cache write) can
         * still be the last reader of its inputs: they are released below. */
        if (!owns_storage(t)) {
            if (mode != HWA_PLAN_NAIVE && (st = release_dead_inputs(&a, g, t, i, offs, last, moved))) goto done;
            continue;
        }
        size_t size = aligned_size(t);
        n_inter++;
        if (!hwa__add_size(total, size, &total)) {
            st = hwa__err(ctx, HWA_E_OVERFLOW, "planner: sizes overflow");
            goto done;
        }
        if (mode == HWA_PLAN_NAIVE) {
            offs[i] = a.end;
            if (!hwa__add_size(a.end, size, &a.end)) {
                st = hwa__err(ctx, HWA_E_OVERFLOW, "planner: arena size overflows");
                goto done;
            }
            continue;
        }
        hwa_tensor *s0 = hwa__op_n_src(t->op) > 0 ? t->src[0] : NULL;
        bool inplace = false;
        if (s0 && elementwise_op(t->op) && s0->op != HWA_OP_NONE && owns_storage(s0) && s0->plan_id >= 0 &&
            s0->plan_id < i && g->nodes[s0->plan_id] == s0 && last[s0->plan_id] == i && !moved[s0->plan_id] &&
            aligned_size(s0) == size && s0->dtype == t->dtype && hwa_tensor_nelements(s0) == hwa_tensor_nelements(t)) {
            inplace = true;
            for (int j = 1; j < hwa__op_n_src(t->op); j++)
                if (hwa__storage(t->src[j]) == s0 && t->src[j] != s0) inplace = false;
        }
        if (inplace) {
            offs[i] = offs[s0->plan_id];
            moved[s0->plan_id] = true;
            n_inplace++;
        } else if ((st = sim_alloc(&a, size, &offs[i]))) {
            goto done;
        }
        /* Release what dies here: this node's inputs, and the node itself if
         * nothing reads it. */
        if ((st = release_dead_inputs(&a, g, t, i, offs, last, moved))) goto done;
        if (last[i] == i && (st = sim_free(&a, offs[i], size))) goto done;
    }
    /* Views and in-place nodes whose storage is a released node stay valid:
     * the region was only released after their last reader. Lifetimes of
     * storage read through views of views are covered because views always
     * point at the owning tensor. */

    g->plan_offs = offs;
    offs = NULL;
    g->plan_n = n;
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->arena_bytes = a.end;
        stats->intermediate_bytes = total;
        stats->n_intermediates = n_inter;
        stats->n_inplace = n_inplace;
        for (int i = 0; i < g->n_leaves; i++)
            if (g->leaves[i]->flags & HWA_TF_GRAD) stats->persistent_bytes += aligned_size(g->leaves[i]);
    }
done:
    hwa__free(ctx, offs);
    hwa__free(ctx, last);
    hwa__free(ctx, moved);
    hwa__free(ctx, a.free_blocks);
    return st;
}

hwa_status hwa__plan(hwa_graph *g, hwa_plan_mode mode, hwa_plan_stats *stats) {
    return hwa__plan_ex(g, mode, NULL, stats);
}
