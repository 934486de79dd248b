/* Making a plan real and running it: per-device arenas from the planner,
 * gradients where they are written, shadow copies of what a device reads
 * from another, segments run in order with the copies between them; node
 * timing for the profile cache; re-planning without a failed device. */
#include <math.h>
#include <string.h>

#include <time.h>

#include "core/file.h"
#include "hwadapt/bench.h"
#include "sched/sched_internal.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static size_t aligned(size_t n) { return (n + HWA_ALIGN - 1) & ~(size_t)(HWA_ALIGN - 1); }

static bool written_in_place(const hwa_graph *g, const hwa_tensor *l) {
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->view_src == l && !hwa__op_is_view(g->nodes[i]->op)) return true;
    return false;
}

hwa_status hwa_placement_new(hwa_graph *g, hwa_backend *const *bes, const hwa_place_device *devs, int n,
                         const hwa_place_opts *opts, hwa_placement **out) {
    if (out) *out = NULL;
    if (!g || !bes || !devs || !out || n < 1 || n > HWA_PLACE_MAX_DEVICES)
        return hwa__err(g ? g->ctx : NULL, HWA_E_MISUSE, "hwa_placement_new: NULL argument or %d devices (1..%d)", n,
                        HWA_PLACE_MAX_DEVICES);
    hwa_ctx *ctx = g->ctx;
    for (int d = 0; d < n; d++) {
        if (!bes[d] || bes[d]->ctx != ctx)
            return hwa__err(ctx, HWA_E_MISUSE, "hwa_placement_new: device %d is NULL or belongs to another context", d);
        for (int e = 0; e < d; e++)
            if (bes[e] == bes[d]) return hwa__err(ctx, HWA_E_MISUSE, "hwa_placement_new: %s is listed twice", bes[d]->spec);
    }
    hwa_place_opts o = opts ? *opts : (hwa_place_opts){0};
    if (o.mode == HWA_PLACE_SINGLE && (o.device < 0 || o.device >= n))
        return hwa__err(ctx, HWA_E_MISUSE, "hwa_placement_new: device index %d out of range", o.device);
    if (o.split < 0 || o.split >= 1 || o.mem_margin < 0 || o.mem_margin >= 1)
        return hwa__err(ctx, HWA_E_MISUSE, "hwa_placement_new: split and margin must be in [0, 1)");
    hwa_placement *s = hwa__calloc(ctx, 1, sizeof *s);
    if (!s) return HWA_E_NOMEM;
    s->ctx = ctx;
    s->g = g;
    s->n_dev = n;
    s->o = o;
    s->failed_dev = -1;
    for (int d = 0; d < n; d++) s->be[d] = bes[d], s->dev[d] = devs[d];
    s->n = g->n_nodes;
    const size_t nn = (size_t)(s->n ? s->n : 1), nl = (size_t)(g->n_leaves ? g->n_leaves : 1);
    s->cost = hwa__calloc(ctx, nn * (size_t)n, sizeof *s->cost);
    s->measured = hwa__calloc(ctx, nn * (size_t)n, sizeof *s->measured);
    s->flops = hwa__calloc(ctx, nn, sizeof *s->flops);
    s->bytes = hwa__calloc(ctx, nn, sizeof *s->bytes);
    s->leaf_loc = hwa__calloc(ctx, nl, 1);
    s->constant_leaf = hwa__calloc(ctx, nl, sizeof *s->constant_leaf);
    s->reason = hwa__calloc(ctx, nn, 1);
    s->saved_flags = hwa__calloc(ctx, nn, sizeof *s->saved_flags);
    hwa_status st = HWA_OK;
    if (!s->cost || !s->measured || !s->flops || !s->bytes || !s->leaf_loc || !s->constant_leaf || !s->reason ||
        !s->saved_flags) {
        st = HWA_E_NOMEM;
        goto fail;
    }
    for (int i = 0; i < s->n; i++) g->nodes[i]->sched_id = i;
    for (int j = 0; j < g->n_leaves; j++) g->leaves[j]->sched_id = -2 - j;
    for (int j = 0; j < g->n_leaves; j++) {
        hwa_tensor *l = g->leaves[j];
        s->constant_leaf[j] = !(l->flags & HWA_TF_GRAD) && !(g->has_backward && (l->flags & HWA_TF_PARAM)) &&
                              !written_in_place(g, l);
        if (!l->buffer) {
            s->leaf_loc[j] = (int8_t)((l->flags & HWA_TF_GRAD) ? HWA__LOC_NONE : HWA__LOC_HOST);
            continue;
        }
        int at = HWA__LOC_HOST;
        for (int d = 0; d < n; d++)
            if (l->buffer->acct == bes[d] || l->buffer->be == bes[d]) at = d;
        if (at == HWA__LOC_HOST && !l->buffer->base) {
            st = hwa__err(ctx, HWA_E_MISUSE, "plan: '%s' lives on a device that is not in the plan", l->name);
            goto fail;
        }
        s->leaf_loc[j] = (int8_t)at;
    }
    for (int i = 0; i < s->n; i++) {
        const hwa_tensor *t = g->nodes[i];
        s->flops[i] = hwa__sched_node_flops(t);
        s->bytes[i] = hwa__sched_node_bytes(t);
        for (int d = 0; d < n; d++)
            s->cost[(size_t)i * n + d] = hwa__op_is_view(t->op) ? 0
                                         : hwa_backend_supports(bes[d], t)
                                             ? hwa__sched_roofline_s(&s->dev[d], t, s->flops[i], s->bytes[i])
                                             : INFINITY;
    }
    if (o.profile_path) {
        snprintf(s->profile_path, sizeof s->profile_path, "%s", o.profile_path);
    } else {
        char dir[3800];
        if (hwa__cache_dir(NULL, dir, sizeof dir) == HWA_OK)
            snprintf(s->profile_path, sizeof s->profile_path, "%s/sched-profile-v1.tsv", dir);
    }
    s->o.profile_path = NULL; /* the copy above is what counts */
    if (o.mode == HWA_PLACE_GIVEN) {
        if (!o.assign) {
            st = hwa__err(ctx, HWA_E_MISUSE, "hwa_placement_new: GIVEN without an assignment");
            goto fail;
        }
        if (!(s->given = hwa__malloc(ctx, nn))) {
            st = HWA_E_NOMEM;
            goto fail;
        }
        for (int i = 0; i < s->n; i++) {
            if (o.assign[i] >= n) {
                st = hwa__err(ctx, HWA_E_MISUSE, "hwa_placement_new: node %d assigned to device %d of %d", i,
                              o.assign[i], n);
                goto fail;
            }
            s->given[i] = (int8_t)o.assign[i];
        }
    }
    s->o.assign = NULL;
    if ((st = hwa__sched_profile_load(s)) || (st = hwa__sched_place(s))) goto fail;
    *out = s;
    return HWA_OK;
fail:
    hwa_placement_free(s);
    return st;
}

/* Gives back everything hwa_placement_alloc made, leaving no tensor bound to it. */
static void release(hwa_placement *s) {
    hwa_graph *g = s->g;
    if (s->allocated) {
        for (int i = 0; i < s->n; i++) g->nodes[i]->flags = s->saved_flags[i];
    }
    for (int d = 0; d < s->n_dev; d++) {
        for (int pass = 0; pass < 2; pass++) {
            hwa_buffer *b = pass ? s->grads[d] : s->arena[d];
            if (!b) continue;
            for (int i = 0; i < s->n; i++)
                if (g->nodes[i]->buffer == b) g->nodes[i]->buffer = NULL, g->nodes[i]->data = NULL;
            for (int j = 0; j < g->n_leaves; j++)
                if (g->leaves[j]->buffer == b) g->leaves[j]->buffer = NULL, g->leaves[j]->data = NULL;
            hwa__ctx_free_buffer(s->ctx, b);
        }
        s->arena[d] = s->grads[d] = NULL;
    }
    for (int k = 0; k < s->n_shadows; k++)
        if (s->shadows[k].cached < 0) hwa__ctx_free_buffer(s->ctx, s->shadows[k].buf);
    hwa__free(s->ctx, s->shadows);
    s->shadows = NULL;
    s->n_shadows = 0;
    for (int k = 0; k < s->n_segs; k++) {
        hwa__free(s->ctx, s->segs[k].nodes);
        hwa__free(s->ctx, s->segs[k].in);
    }
    hwa__free(s->ctx, s->segs);
    s->segs = NULL;
    s->n_segs = 0;
    /* the graph's own plan no longer matches its bindings */
    g->plan_n = 0;
    s->allocated = false;
}

void hwa_placement_free(hwa_placement *s) {
    if (!s) return;
    hwa_ctx *ctx = s->ctx;
    release(s);
    for (int k = 0; k < s->n_cand; k++) hwa__free(ctx, s->cand[k].where);
    hwa__free(ctx, s->cost);
    hwa__free(ctx, s->measured);
    hwa__free(ctx, s->flops);
    hwa__free(ctx, s->bytes);
    hwa__free(ctx, s->leaf_loc);
    hwa__free(ctx, s->constant_leaf);
    hwa__free(ctx, s->reason);
    hwa__free(ctx, s->saved_flags);
    hwa__free(ctx, s->given);
    hwa__free(ctx, s);
}

static int find_shadow(const hwa_placement *s, const hwa_tensor *o, int d) {
    for (int k = 0; k < s->n_shadows; k++)
        if (s->shadows[k].owner == o && s->shadows[k].dev == d) return k;
    return -1;
}

static hwa_status add_shadow(hwa_placement *s, hwa_tensor *o, int d, int *idx) {
    hwa__shadow *ns = hwa__realloc_array(s->ctx, s->shadows, (size_t)s->n_shadows, (size_t)s->n_shadows + 1,
                                         sizeof *ns);
    if (!ns) return HWA_E_NOMEM;
    s->shadows = ns;
    hwa__shadow *sh = &s->shadows[s->n_shadows];
    memset(sh, 0, sizeof *sh);
    sh->owner = o;
    sh->dev = d;
    sh->cached = -1;
    hwa_place_cache *c = s->o.cache;
    const bool constant = o->sched_id <= -2 && s->constant_leaf[-2 - o->sched_id];
    if (c && constant) {
        for (int k = 0; k < c->n; k++)
            if (c->e[k].uid == o->uid && c->e[k].be == s->be[d]) sh->cached = k;
        if (sh->cached < 0) {
            hwa__cached_copy *ne = hwa__realloc_array(c->ctx, c->e, (size_t)c->n, (size_t)c->n + 1, sizeof *ne);
            if (!ne) return HWA_E_NOMEM;
            c->e = ne;
            hwa__cached_copy *e = &c->e[c->n];
            memset(e, 0, sizeof *e);
            hwa_status st = hwa__backend_buffer_alloc(s->be[d], aligned(hwa_tensor_nbytes(o)), &e->buf);
            if (st) return st;
            hwa__ctx_untrack_buffer(s->ctx, e->buf); /* the cache's now */
            e->uid = o->uid;
            e->be = s->be[d];
            sh->cached = c->n++;
        }
        hwa__cached_copy *e = &c->e[sh->cached];
        e->last_used = c->gen;
        sh->buf = e->buf;
        sh->version = e->version;
        sh->valid = e->valid;
    } else {
        hwa_status st = hwa__backend_buffer_alloc(s->be[d], aligned(hwa_tensor_nbytes(o)), &sh->buf);
        if (st) return st;
    }
    *idx = s->n_shadows++;
    return HWA_OK;
}

hwa_place_cache *hwa_place_cache_new(hwa_ctx *ctx) {
    if (!ctx) {
        hwa__err(NULL, HWA_E_MISUSE, "hwa_place_cache_new: NULL context");
        return NULL;
    }
    hwa_place_cache *c = hwa__calloc(ctx, 1, sizeof *c);
    if (c) c->ctx = ctx;
    return c;
}

void hwa_place_cache_free(hwa_place_cache *c) {
    if (!c) return;
    for (int k = 0; k < c->n; k++) hwa__buffer_release(c->e[k].buf);
    free(c->profile);
    free(c->prof);
    hwa__free(c->ctx, c->e);
    hwa__free(c->ctx, c);
}

static hwa_status alloc_arenas(hwa_placement *s) {
    hwa_graph *g = s->g;
    const int n = s->n;
    hwa_status st = HWA_OK;
    bool *keep = hwa__calloc(s->ctx, (size_t)(n ? n : 1), sizeof *keep);
    if (!keep) {
        st = HWA_E_NOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const hwa_tensor *t = g->nodes[i];
        if (s->where[i] < 0) continue;
        for (int j = 0; j < hwa__op_n_src(t->op); j++) {
            const hwa_tensor *o = hwa__storage(t->src[j]);
            if (o->sched_id >= 0 && s->where[o->sched_id] != s->where[i]) keep[o->sched_id] = true;
        }
    }
    for (int i = 0; i < n; i++) {
        s->saved_flags[i] = g->nodes[i]->flags;
        /* An output of its device's part: kept, and never fused away. */
        if (keep[i]) g->nodes[i]->flags |= HWA_TF_OUTPUT;
    }
    for (int d = 0; d < s->n_dev && !st; d++) {
        size_t bytes = 0;
        /* sizes first, then the arena, then the same plan bound to it */
        if ((st = hwa__sched_plan_device(s, s->where, keep, d, &bytes, NULL)) || bytes == 0) continue;
        if ((st = hwa__backend_buffer_alloc(s->be[d], bytes, &s->arena[d]))) break;
        st = hwa__sched_plan_device(s, s->where, keep, d, &bytes, s->arena[d]);
    }
done:
    hwa__free(s->ctx, keep);
    return st;
}

static hwa_status alloc_grads(hwa_placement *s) {
    hwa_graph *g = s->g;
    for (int d = 0; d < s->n_dev; d++) {
        size_t need = 0;
        for (int j = 0; j < g->n_leaves; j++) {
            hwa_tensor *l = g->leaves[j];
            if (!(l->flags & HWA_TF_GRAD) || hwa__sched_loc(s, s->where, l) != d) continue;
            if (l->buffer && (l->buffer->acct == s->be[d] || l->buffer->be == s->be[d])) continue;
            need += aligned(hwa_tensor_nbytes(l));
        }
        if (!need) continue;
        hwa_status st = hwa__backend_buffer_alloc(s->be[d], need, &s->grads[d]);
        if (st || (st = s->grads[d]->memset0(s->grads[d], 0, need))) return st;
        size_t off = 0;
        for (int j = 0; j < g->n_leaves; j++) {
            hwa_tensor *l = g->leaves[j];
            if (!(l->flags & HWA_TF_GRAD) || hwa__sched_loc(s, s->where, l) != d) continue;
            if (l->buffer && (l->buffer->acct == s->be[d] || l->buffer->be == s->be[d])) continue;
            hwa__tensor_bind(l, s->grads[d], off);
            off += aligned(hwa_tensor_nbytes(l));
        }
    }
    return HWA_OK;
}

static hwa_status build_segments(hwa_placement *s) {
    hwa_graph *g = s->g;
    for (int i = 0; i < s->n;) {
        if (s->where[i] < 0) {
            i++;
            continue;
        }
        const int d = s->where[i];
        int e = i, m = 0;
        while (e < s->n && (s->where[e] == d || s->where[e] < 0)) m += s->where[e++] >= 0;
        hwa__segment *ns = hwa__realloc_array(s->ctx, s->segs, (size_t)s->n_segs, (size_t)s->n_segs + 1, sizeof *ns);
        if (!ns) return HWA_E_NOMEM;
        s->segs = ns;
        hwa__segment *seg = &s->segs[s->n_segs++];
        memset(seg, 0, sizeof *seg);
        seg->dev = d;
        seg->nodes = hwa__calloc(s->ctx, (size_t)m, sizeof *seg->nodes);
        seg->in = hwa__calloc(s->ctx, (size_t)m * HWA_MAX_SRC, sizeof *seg->in);
        if (!seg->nodes || !seg->in) return HWA_E_NOMEM;
        for (int q = i; q < e; q++) {
            hwa_tensor *t = g->nodes[q];
            if (s->where[q] < 0) continue;
            seg->nodes[seg->n++] = t;
            for (int j = 0; j < hwa__op_n_src(t->op); j++) {
                hwa_tensor *o = hwa__storage(t->src[j]);
                int from = hwa__sched_loc(s, s->where, o);
                if (from == HWA__LOC_NONE) from = HWA__LOC_HOST;
                if (hwa__sched_reads_in_place(s, from, d)) continue;
                if (!o->buffer)
                    return hwa__err(s->ctx, HWA_E_MISUSE, "sched: input '%s' has no data (allocate the leaves first)",
                                    o->name);
                int k = find_shadow(s, o, d);
                if (k < 0) {
                    hwa_status st = add_shadow(s, o, d, &k);
                    if (st) return st;
                }
                bool have = false;
                for (int x = 0; x < seg->n_in; x++) have |= seg->in[x] == k;
                if (!have) seg->in[seg->n_in++] = k;
            }
        }
        i = e;
    }
    return HWA_OK;
}

hwa_status hwa_placement_alloc(hwa_placement *s) {
    if (!s) return hwa__err(NULL, HWA_E_MISUSE, "hwa_placement_alloc: NULL schedule");
    hwa_graph *g = s->g;
    for (int j = 0; j < g->n_leaves; j++) {
        const hwa_tensor *l = g->leaves[j];
        if (!(l->flags & HWA_TF_GRAD) && !l->buffer) {
            char sh[64];
            return hwa__err(s->ctx, HWA_E_MISUSE, "sched: input '%s' %s has no data (allocate the leaves first)",
                            l->name, hwa__shape_fmt(l, sh, sizeof sh));
        }
    }
    release(s);
    hwa_place_cache *c = s->o.cache;
    if (c) {
        /* copies no placement used in the last four allocations are of
         * tensors gone (a step's token ids) or no longer read: dropped */
        c->gen++;
        for (int k = 0; k < c->n;)
            if (c->e[k].last_used + 4 < c->gen) {
                hwa__buffer_release(c->e[k].buf);
                c->e[k] = c->e[--c->n];
            } else {
                k++;
            }
    }
    hwa_status st = alloc_arenas(s);
    s->allocated = true; /* flags saved: release restores them */
    if (!st) st = alloc_grads(s);
    if (!st) st = build_segments(s);
    if (st) {
        release(s);
        return st;
    }
    return HWA_OK;
}

/* ---- running ------------------------------------------------------------- */

static hwa_status copy_in(hwa_placement *s, hwa__shadow *sh) {
    hwa_tensor *o = sh->owner;
    if (sh->valid && sh->version == o->version) return HWA_OK;
    const size_t n = hwa_tensor_nbytes(o);
    hwa_buffer *src = o->buffer;
    hwa_status st;
    if (src->base) {
        st = sh->buf->write(sh->buf, 0, (const char *)src->base + o->buf_offs, n);
    } else if (sh->buf->base) {
        st = src->read(src, o->buf_offs, sh->buf->base, n);
    } else {
        void *tmp = malloc(n ? n : 1);
        if (!tmp) return hwa__err(s->ctx, HWA_E_NOMEM, "sched: out of memory for a %zu-byte copy", n);
        st = src->read(src, o->buf_offs, tmp, n);
        if (!st) st = sh->buf->write(sh->buf, 0, tmp, n);
        free(tmp);
    }
    if (st) return st;
    sh->version = o->version;
    sh->valid = true;
    if (sh->cached >= 0) {
        s->o.cache->e[sh->cached].version = sh->version;
        s->o.cache->e[sh->cached].valid = true;
    }
    return HWA_OK;
}

/* Points the owners a segment reads at their copies on its device, keeping
 * the real bindings in the shadows. The version is left alone: the data is
 * the same. */
static void bind_shadows(hwa_placement *s, const hwa__segment *seg) {
    for (int x = 0; x < seg->n_in; x++) {
        hwa__shadow *sh = &s->shadows[seg->in[x]];
        hwa_tensor *o = sh->owner;
        sh->real_buf = o->buffer;
        sh->real_offs = o->buf_offs;
        sh->real_data = o->data;
        o->buffer = sh->buf;
        o->buf_offs = 0;
        o->data = sh->buf->base;
    }
}

static void unbind_shadows(hwa_placement *s, const hwa__segment *seg) {
    for (int x = 0; x < seg->n_in; x++) {
        const hwa__shadow *sh = &s->shadows[seg->in[x]];
        hwa_tensor *o = sh->owner;
        o->buffer = sh->real_buf;
        o->buf_offs = sh->real_offs;
        o->data = sh->real_data;
    }
}

static hwa_status device_error(hwa_placement *s, int d, hwa_status st) {
    s->failed_dev = d;
    const char *msg = hwa_ctx_last_error(s->ctx);
    char copy[512];
    snprintf(copy, sizeof copy, "%s", msg && *msg ? msg : hwa_status_str(st));
    if (!strncmp(copy, s->dev[d].id, strlen(s->dev[d].id))) return hwa__err(s->ctx, st, "%s", copy);
    return hwa__err(s->ctx, st, "%s: %s", s->dev[d].id, copy);
}

static hwa_status run_segment(hwa_placement *s, const hwa__segment *seg, hwa_tensor *const *nodes, int n) {
    hwa_backend *be = s->be[seg->dev];
    const char *fault = getenv("HWA_FAULT_DEVICE");
    if (fault && !s->fault_used && !strcmp(fault, s->dev[seg->dev].id)) {
        s->fault_used = true;
        return hwa__err(s->ctx, HWA_E_DEVICE, "%s: injected fault (HWA_FAULT_DEVICE)", s->dev[seg->dev].id);
    }
    hwa_status st = be->iface->compute(be, nodes, n);
    if (!st && be->iface->synchronize) st = be->iface->synchronize(be);
    return st;
}

hwa_status hwa_placement_compute(hwa_placement *s) {
    if (!s) return hwa__err(NULL, HWA_E_MISUSE, "hwa_placement_compute: NULL schedule");
    hwa_status st;
    s->failed_dev = -1;
    if (!s->allocated && (st = hwa_placement_alloc(s))) return st;
    for (int k = 0; k < s->n_segs; k++) {
        const hwa__segment *seg = &s->segs[k];
        st = HWA_OK;
        for (int x = 0; x < seg->n_in && !st; x++) st = copy_in(s, &s->shadows[seg->in[x]]);
        if (!st) {
            bind_shadows(s, seg);
            st = run_segment(s, seg, seg->nodes, seg->n);
            unbind_shadows(s, seg);
        }
        if (st) return device_error(s, seg->dev, st);
    }
    return HWA_OK;
}

int hwa_placement_failed_device(const hwa_placement *s) { return s ? s->failed_dev : -1; }

int hwa_placement_candidate_count(const hwa_placement *s) { return s ? s->n_cand : 0; }
int hwa_placement_chosen(const hwa_placement *s) { return s ? s->chosen : -1; }

hwa_status hwa_placement_candidate(const hwa_placement *s, int k, const char **name, double *est_s, bool *fits,
                                   signed char *assign) {
    if (!s || k < 0 || k >= s->n_cand) return hwa__err(s ? s->ctx : NULL, HWA_E_RANGE, "no candidate %d", k);
    const hwa__cand *c = &s->cand[k];
    if (name) *name = c->what;
    if (est_s) *est_s = c->est_s;
    if (fits) *fits = c->fits;
    if (assign)
        for (int i = 0; i < s->n; i++) assign[i] = (signed char)(c->where[i] < 0 ? -1 : c->where[i]);
    return HWA_OK;
}

hwa_status hwa_placement_replan_without(hwa_placement *s, int dev) {
    if (!s || dev < 0 || dev >= s->n_dev) return hwa__err(s ? s->ctx : NULL, HWA_E_MISUSE, "hwa_placement_replan_without: bad device");
    release(s);
    s->excluded[dev] = true;
    s->o.mode = HWA_PLACE_AUTO;
    hwa_status st = hwa__sched_place(s);
    if (!st) st = hwa_placement_alloc(s);
    return st;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

hwa_status hwa_placement_profile(hwa_placement *s, int reps) {
    if (!s || reps < 1) return hwa__err(s ? s->ctx : NULL, HWA_E_MISUSE, "hwa_placement_profile: NULL schedule or reps < 1");
    hwa_status st = hwa_placement_compute(s);
    if (st) return st;
    double *secs = malloc((size_t)(s->n ? s->n : 1) * sizeof *secs);
    double *t = malloc((size_t)reps * sizeof *t);
    if (!secs || !t) {
        free(secs);
        free(t);
        return hwa__err(s->ctx, HWA_E_NOMEM, "sched: out of memory");
    }
    for (int i = 0; i < s->n; i++) secs[i] = NAN;
    for (int k = 0; k < s->n_segs && !st; k++) {
        const hwa__segment *seg = &s->segs[k];
        bind_shadows(s, seg);
        for (int q = 0; q < seg->n && !st; q++) {
            hwa_tensor *node = seg->nodes[q];
            if (node->view_src) continue; /* re-running it would change what it writes */
            for (int r = 0; r < reps && !st; r++) {
                const double t0 = now_s();
                st = run_segment(s, seg, &seg->nodes[q], 1);
                t[r] = now_s() - t0;
            }
            if (st) break;
            qsort(t, (size_t)reps, sizeof *t, cmp_double);
            secs[node->sched_id] = hwa_bench_percentile(t, reps, 50);
        }
        /* Alone, a node runs with hot inputs and without the fusion and the
         * per-call costs of a whole segment: the segment is timed as it
         * runs, and its nodes' times scaled to add up to it. */
        double alone = 0, rest = 0;
        for (int q = 0; q < seg->n; q++) {
            const int i = seg->nodes[q]->sched_id;
            if (isfinite(secs[i])) alone += secs[i];
            else rest += s->cost[(size_t)i * s->n_dev + seg->dev];
        }
        for (int r = 0; r < reps && !st && alone > 0; r++) {
            const double t0 = now_s();
            st = run_segment(s, seg, seg->nodes, seg->n);
            t[r] = now_s() - t0;
        }
        if (!st && alone > 0) {
            qsort(t, (size_t)reps, sizeof *t, cmp_double);
            const double whole = hwa_bench_percentile(t, reps, 50) - rest;
            double scale = whole > 0 ? whole / alone : 1;
            scale = scale < 0.25 ? 0.25 : scale > 4 ? 4 : scale;
            for (int q = 0; q < seg->n; q++) {
                const int i = seg->nodes[q]->sched_id;
                if (!isfinite(secs[i])) continue;
                secs[i] *= scale;
                s->cost[(size_t)i * s->n_dev + seg->dev] = secs[i];
                s->measured[(size_t)i * s->n_dev + seg->dev] = true;
            }
        }
        unbind_shadows(s, seg);
        if (st) st = device_error(s, seg->dev, st);
    }
    free(t);
    /* The times hold for this plan whatever happens to the file: a cache
     * that cannot be written (a read-only home) is not worth an error. */
    if (!st) (void)hwa__sched_profile_store(s, secs);
    free(secs);
    /* the chosen candidate's figures, now with the measured times */
    if (!st) st = hwa__sched_evaluate(s, &s->cand[s->chosen]);
    return st;
}

/* ---- accessors ----------------------------------------------------------- */

int hwa_placement_device_count(const hwa_placement *s) { return s ? s->n_dev : 0; }
const hwa_place_device *hwa_placement_device_info(const hwa_placement *s, int d) {
    return s && d >= 0 && d < s->n_dev ? &s->dev[d] : NULL;
}
int hwa_placement_node_device(const hwa_placement *s, int i) { return s && i >= 0 && i < s->n && s->where[i] >= 0 ? s->where[i] : -1; }
double hwa_placement_estimate_s(const hwa_placement *s) { return s ? s->cand[s->chosen].est_s : NAN; }
double hwa_placement_device_estimate_s(const hwa_placement *s, int d) {
    return s && d >= 0 && d < s->n_dev ? s->cand[s->chosen].dev_s[d] : NAN;
}
int64_t hwa_placement_device_need_bytes(const hwa_placement *s, int d) {
    return s && d >= 0 && d < s->n_dev ? s->cand[s->chosen].need[d] : -1;
}
int64_t hwa_placement_device_held_bytes(const hwa_placement *s, int d) {
    return s && d >= 0 && d < s->n_dev ? s->be[d]->mem_used : -1;
}
const char *hwa_placement_choice(const hwa_placement *s) { return s ? s->choice : ""; }
int hwa_placement_devices_used(const hwa_placement *s) {
    if (!s) return 0;
    int used = 0;
    for (int d = 0; d < s->n_dev; d++) {
        bool u = false;
        for (int i = 0; i < s->n && !u; i++) u = s->where[i] == d;
        used += u;
    }
    return used;
}

hwa_status hwa_place_opts_parse(const char *mode, const char *devices, hwa_place_opts *o) {
    if (!o) return hwa__err(NULL, HWA_E_MISUSE, "hwa_place_opts_parse: NULL options");
    memset(o, 0, sizeof *o);
    if (!mode || !strcmp(mode, "auto")) return HWA_OK;
    if (!strcmp(mode, "layers")) {
        o->mode = HWA_PLACE_LAYERS;
        return HWA_OK;
    }
    if (!strncmp(mode, "layers:", 7)) {
        char *end = NULL;
        o->mode = HWA_PLACE_LAYERS;
        o->split = strtod(mode + 7, &end);
        if (end == mode + 7 || *end || !(o->split > 0 && o->split < 1))
            return hwa__err(NULL, HWA_E_INVALID, "placement '%s': the share after layers: must be in (0, 1)", mode);
        return HWA_OK;
    }
    if (!strncmp(mode, "single:", 7)) {
        char want[40], specs[HWA_PLACE_MAX_DEVICES][32];
        snprintf(want, sizeof want, "%.30s%s", mode + 7, strchr(mode + 7, ':') ? "" : ":0");
        int n = 0;
        if (devices && hwa_place_devices_parse(devices, specs, HWA_PLACE_MAX_DEVICES, &n) == HWA_OK)
            for (int k = 0; k < n; k++)
                if (!strcmp(specs[k], want)) {
                    o->mode = HWA_PLACE_SINGLE;
                    o->device = k;
                    return HWA_OK;
                }
        return hwa__err(NULL, HWA_E_INVALID, "placement '%s': %s is not among the devices %s", mode, mode + 7,
                        devices ? devices : "(none)");
    }
    return hwa__err(NULL, HWA_E_INVALID, "placement '%s': expected auto, layers, layers:F or single:DEVICE", mode);
}

hwa_status hwa_place_batch_shares(const double *rate, int k, int64_t n, int64_t *shares) {
    if (!rate || !shares || k < 1 || k > HWA_PLACE_MAX_DEVICES || n < k) return hwa__err(NULL, HWA_E_INVALID, "batch shares: %lld samples over %d devices", (long long)n, k);
    double sum = 0;
    for (int d = 0; d < k; d++) {
        if (!(rate[d] > 0) || !isfinite(rate[d])) return hwa__err(NULL, HWA_E_INVALID, "batch shares: rate %d is %g", d, rate[d]);
        sum += rate[d];
    }
    /* one each first, the rest by largest remainders */
    int64_t left = n - k, given = 0;
    double rem[HWA_PLACE_MAX_DEVICES];
    for (int d = 0; d < k; d++) {
        const double want = (double)left * rate[d] / sum;
        shares[d] = 1 + (int64_t)floor(want);
        given += shares[d] - 1;
        rem[d] = want - floor(want);
    }
    while (given < left) {
        int best = 0;
        for (int d = 1; d < k; d++)
            if (rem[d] > rem[best]) best = d;
        shares[best]++;
        rem[best] = -1;
        given++;
    }
    return HWA_OK;
}
