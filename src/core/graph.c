/* Graphs: building the execution order, allocating, running. */
#include <string.h>

#include "core/internal.h"

hwa_graph *hwa_graph_new(hwa_ctx *ctx) {
    if (!ctx) {
        hwa__err(NULL, HWA_E_MISUSE, "hwa_graph_new: NULL context");
        return NULL;
    }
    hwa_graph *g = hwa__calloc(ctx, 1, sizeof *g);
    if (!g) return NULL;
    g->ctx = ctx;
    g->ctx_next = ctx->graphs;
    ctx->graphs = g;
    return g;
}

void hwa__graph_release(hwa_graph *g) {
    hwa_ctx *ctx = g->ctx;
    hwa__free(ctx, g->nodes);
    hwa__free(ctx, g->leaves);
    hwa__free(ctx, g->params);
    hwa__free(ctx, g->plan_offs);
    hwa__free(ctx, g);
}

void hwa__graph_free_storage(hwa_graph *g) {
    if (g->arena) {
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i]->buffer == g->arena) g->nodes[i]->buffer = NULL, g->nodes[i]->data = NULL;
        hwa__ctx_free_buffer(g->ctx, g->arena);
        g->arena = NULL;
    }
    if (g->persist) {
        for (int j = 0; j < g->n_leaves; j++)
            if (g->leaves[j]->buffer == g->persist) g->leaves[j]->buffer = NULL, g->leaves[j]->data = NULL;
        hwa__ctx_free_buffer(g->ctx, g->persist);
        g->persist = NULL;
    }
    g->plan_n = 0;
    g->alloc_be = NULL;
}

int hwa_graph_n_nodes(const hwa_graph *g) { return g ? g->n_nodes : 0; }
hwa_tensor *hwa_graph_node(const hwa_graph *g, int i) {
    return (g && i >= 0 && i < g->n_nodes) ? g->nodes[i] : NULL;
}
int hwa_graph_n_params(const hwa_graph *g) { return g ? g->n_params : 0; }
hwa_tensor *hwa_graph_param(const hwa_graph *g, int i) {
    return (g && i >= 0 && i < g->n_params) ? g->params[i] : NULL;
}

static hwa_status push(hwa_ctx *ctx, hwa_tensor ***arr, int *n, int *cap, hwa_tensor *t) {
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        hwa_tensor **na = hwa__realloc_array(ctx, *arr, (size_t)*cap, (size_t)nc, sizeof *na);
        if (!na) return HWA_E_NOMEM;
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = t;
    return HWA_OK;
}

hwa_status hwa__graph_add_param(hwa_graph *g, hwa_tensor *p) {
    for (int i = 0; i < g->n_params; i++)
        if (g->params[i] == p) return HWA_OK;
    return push(g->ctx, &g->params, &g->n_params, &g->cap_params, p);
}

/* Marks everything already in g with a fresh generation so that a traversal
 * can tell old members from new tensors. */
static uint32_t remark(hwa_graph *g) {
    uint32_t gen = ++g->ctx->visit_gen;
    if (gen == 0) gen = ++g->ctx->visit_gen;
    for (int i = 0; i < g->n_nodes; i++) g->nodes[i]->visit = gen;
    for (int i = 0; i < g->n_leaves; i++) g->leaves[i]->visit = gen;
    return gen;
}

/* Appends t and everything it depends on that is not yet in g, inputs
 * before the nodes that read them (an iterative depth-first post-order). */
hwa_status hwa__graph_append(hwa_graph *g, hwa_tensor *t) {
    hwa_ctx *ctx = g->ctx;
    uint32_t gen = remark(g);
    if (t->visit == gen) return HWA_OK;
    typedef struct frame { hwa_tensor *t; int next_src; } frame;
    int cap = 64, n = 0;
    frame *stack = hwa__calloc(ctx, (size_t)cap, sizeof *stack);
    if (!stack) return HWA_E_NOMEM;
    hwa_status st = HWA_OK;
    t->visit = gen;
    stack[n++] = (frame){t, 0};
    while (n > 0 && st == HWA_OK) {
        frame *f = &stack[n - 1];
        int nsrc = hwa__op_n_src(f->t->op);
        /* An in-place node also depends on the tensor it writes into. */
        hwa_tensor *extra = (f->t->flags & HWA_TF_INPLACE) ? f->t->view_src : NULL;
        if (f->next_src < nsrc + (extra ? 1 : 0)) {
            hwa_tensor *s = f->next_src < nsrc ? f->t->src[f->next_src] : extra;
            f->next_src++;
            if (s->visit == gen) continue;
            s->visit = gen;
            if (n == cap) {
                frame *ns = hwa__realloc_array(ctx, stack, (size_t)cap, (size_t)cap * 2, sizeof *ns);
                if (!ns) {
                    st = HWA_E_NOMEM;
                    break;
                }
                stack = ns;
                cap *= 2;
            }
            stack[n++] = (frame){s, 0};
            continue;
        }
        hwa_tensor *done = f->t;
        n--;
        if (done->op == HWA_OP_NONE) st = push(ctx, &g->leaves, &g->n_leaves, &g->cap_leaves, done);
        else st = push(ctx, &g->nodes, &g->n_nodes, &g->cap_nodes, done);
    }
    hwa__free(ctx, stack);
    /* Any earlier plan no longer covers the graph. */
    g->plan_n = 0;
    return st;
}

hwa_status hwa_graph_build_forward(hwa_graph *g, hwa_tensor *out) {
    if (!g) return hwa__err(NULL, HWA_E_MISUSE, "build_forward: NULL graph");
    if (!out) {
        hwa_ctx *ctx = g->ctx;
        if (ctx->last_status != HWA_OK) {
            char prev[sizeof ctx->errmsg];
            memcpy(prev, ctx->errmsg, sizeof prev);
            return hwa__err(ctx, ctx->last_status, "build_forward: output is NULL (after: %.400s)", prev);
        }
        return hwa__err(ctx, HWA_E_MISUSE, "build_forward: output is NULL");
    }
    if (out->ctx != g->ctx) return hwa__err(g->ctx, HWA_E_MISUSE, "build_forward: output belongs to another context");
    if (g->has_backward)
        return hwa__err(g->ctx, HWA_E_MISUSE, "build_forward: the graph already has a backward pass");
    out->flags |= HWA_TF_OUTPUT;
    return hwa__graph_append(g, out);
}

/* ---- allocation and execution ------------------------------------------ */


hwa_status hwa_graph_plan(hwa_graph *g, hwa_plan_mode mode, hwa_plan_stats *stats) {
    if (!g) return hwa__err(NULL, HWA_E_MISUSE, "hwa_graph_plan: NULL graph");
    return hwa__plan(g, mode, stats);
}

static hwa_status alloc_buffer(hwa_backend *be, size_t size, hwa_buffer **out) {
    return hwa__backend_buffer_alloc(be, size, out);
}

hwa_status hwa_graph_alloc(hwa_graph *g, hwa_backend *be, hwa_plan_mode mode, hwa_plan_stats *stats) {
    if (!g || !be) return hwa__err(g ? g->ctx : NULL, HWA_E_MISUSE, "hwa_graph_alloc: NULL graph or backend");
    hwa_ctx *ctx = g->ctx;
    if (be->ctx != ctx) return hwa__err(ctx, HWA_E_MISUSE, "hwa_graph_alloc: backend belongs to another context");
    for (int i = 0; i < g->n_leaves; i++) {
        hwa_tensor *l = g->leaves[i];
        if (!(l->flags & HWA_TF_GRAD) && !hwa__storage(l)->buffer) {
            char s[64];
            return hwa__err(ctx, HWA_E_MISUSE, "graph: input '%s' %s has no data (hwa_ctx_alloc_leaves first)",
                            l->name, hwa__shape_fmt(l, s, sizeof s));
        }
    }
    hwa_plan_stats local;
    hwa_status st = hwa__plan(g, mode, &local);
    if (st) return st;

    hwa__ctx_free_buffer(ctx, g->arena);
    g->arena = NULL;
    st = alloc_buffer(be, local.arena_bytes, &g->arena);
    if (st) return st;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->plan_offs[i] != SIZE_MAX) hwa__tensor_bind(g->nodes[i], g->arena, g->plan_offs[i]);

    /* Gradients keep their storage (and values) across re-allocations. */
    size_t need = 0;
    for (int i = 0; i < g->n_leaves; i++) {
        hwa_tensor *l = g->leaves[i];
        if ((l->flags & HWA_TF_GRAD) && !l->buffer) {
            size_t a;
            if (!hwa__align_up(hwa_tensor_nbytes(l), HWA_ALIGN, &a) || !hwa__add_size(need, a, &need))
                return hwa__err(ctx, HWA_E_OVERFLOW, "graph: gradient sizes overflow");
        }
    }
    if (need) {
        hwa_buffer *pb;
        if ((st = alloc_buffer(be, need, &pb))) return st;
        if ((st = pb->memset0(pb, 0, need))) return st;
        size_t off = 0;
        for (int i = 0; i < g->n_leaves; i++) {
            hwa_tensor *l = g->leaves[i];
            if ((l->flags & HWA_TF_GRAD) && !l->buffer) {
                hwa__tensor_bind(l, pb, off);
                off += (hwa_tensor_nbytes(l) + HWA_ALIGN - 1) & ~(size_t)(HWA_ALIGN - 1);
            }
        }
        g->persist = pb;
    }
    g->alloc_be = be;
    if (stats) *stats = local;
    return HWA_OK;
}

hwa_status hwa_graph_compute(hwa_graph *g, hwa_backend *be) {
    hwa_status st = hwa__graph_compute_nowait(g, be);
    if (st == HWA_OK && be->iface->synchronize) st = be->iface->synchronize(be);
    return st;
}

/* Plans and allocates g on be unless it already is, as it stands. */
static hwa_status ensure_alloc(hwa_graph *g, hwa_backend *be) {
    if (g->alloc_be == be && g->plan_n == g->n_nodes && g->arena) return HWA_OK;
    return hwa_graph_alloc(g, be, HWA_PLAN_REUSE, NULL);
}

/* HWA_E_UNSUPPORTED, naming the op and why, for the first node of
 * [begin, end) that be cannot compute. */
static hwa_status check_supported(hwa_graph *g, hwa_backend *be, int begin, int end) {
    for (int i = begin; i < end; i++) {
        hwa_tensor *n = g->nodes[i];
        if (!hwa__op_is_view(n->op) && !be->iface->supports_op(be, n)) {
            const char *why = hwa__backend_unsupported_reason(be, n);
            return hwa__err(g->ctx, HWA_E_UNSUPPORTED, "graph: backend %s cannot compute %s (%s)%s%s",
                            be->iface->name, hwa__op_name(n->op), hwa_dtype_name(n->dtype), why ? ": " : "",
                            why ? why : "");
        }
    }
    return HWA_OK;
}

hwa_status hwa__graph_compute_nowait(hwa_graph *g, hwa_backend *be) {
    if (!g || !be) return hwa__err(g ? g->ctx : NULL, HWA_E_MISUSE, "hwa_graph_compute: NULL graph or backend");
    hwa_status st;
    if ((st = ensure_alloc(g, be)) || (st = check_supported(g, be, 0, g->n_nodes))) return st;
    return be->iface->compute(be, (hwa_tensor *const *)g->nodes, g->n_nodes);
}

bool hwa__backend_runs_parts(const hwa_backend *be) { return be && be->iface->compute_part; }

hwa_status hwa__graph_compute_range(hwa_graph *g, hwa_backend *be, int begin, int end) {
    if (!g || !be) return hwa__err(g ? g->ctx : NULL, HWA_E_MISUSE, "hwa_graph_compute: NULL graph or backend");
    if (begin < 0 || end > g->n_nodes || begin > end)
        return hwa__err(g->ctx, HWA_E_MISUSE, "graph: nodes [%d, %d) of %d", begin, end, g->n_nodes);
    hwa_status st;
    if ((st = ensure_alloc(g, be)) || (st = check_supported(g, be, begin, end))) return st;
    if (!be->iface->compute_part)
        return hwa__err(g->ctx, HWA_E_UNSUPPORTED, "graph: backend %s runs graphs only whole", be->iface->name);
    if (begin < end && (st = be->iface->compute_part(be, (hwa_tensor *const *)g->nodes, g->n_nodes, begin, end)))
        return st;
    return be->iface->synchronize ? be->iface->synchronize(be) : HWA_OK;
}

hwa_status hwa_graph_zero_grads(hwa_graph *g) {
    if (!g) return hwa__err(NULL, HWA_E_MISUSE, "hwa_graph_zero_grads: NULL graph");
    for (int i = 0; i < g->n_params; i++) {
        hwa_tensor *gr = g->params[i]->grad;
        if (gr && gr->buffer) {
            hwa__tensor_touch(gr);
            hwa_status st = gr->buffer->memset0(gr->buffer, gr->buf_offs, hwa_tensor_nbytes(gr));
            if (st) return st;
        }
    }
    return HWA_OK;
}
