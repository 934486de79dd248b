/* Placement: candidate assignments of nodes to devices, each evaluated with
 * the same model (sequential execution, so a run costs the sum of its nodes'
 * times and its per-run copies), memory checked by the planner's dry run per
 * device, and the cheapest that fits chosen.
 *
 * The candidates: the whole graph on each device; the best two-stage layer
 * split (a cut in execution order, every edge then goes forward); and a
 * mixed placement from list scheduling (each node, in order, to the device
 * where it and the copies of its inputs cost least) improved by a local
 * search that moves whole runs of nodes between devices while the estimate
 * falls. List scheduling alone strands single cheap nodes on the device
 * that is fastest for them and pays copies around them; moving runs, not
 * nodes, merges them back. Constraints hold in every candidate: a node that
 * writes in place runs where the storage it writes lives, and a node runs
 * only on a device that supports it. */
#include <math.h>
#include <string.h>

#include "sched/sched_internal.h"

const char *hwa__reason_code(hwa__reason r) {
    static const char *names[HWA__R_COUNT] = {"only-device", "faster", "follows", "in-place",
                                             "lacks-op", "stage", "single"};
    return (unsigned)r < HWA__R_COUNT ? names[r] : "?";
}

static int first_host(const hwa_placement *s) {
    for (int d = 0; d < s->n_dev; d++)
        if (!s->excluded[d] && s->dev[d].host_memory) return d;
    return -1;
}

/* lloc: per leaf, its location under the candidate (gradients resolved). */
static int loc_of(const hwa_placement *s, const int8_t *where, const int8_t *lloc, const hwa_tensor *o) {
    if (o->sched_id >= 0) return where[o->sched_id];
    if (o->sched_id <= -2) return lloc[-2 - o->sched_id];
    return HWA__LOC_HOST;
}

int hwa__sched_loc(const hwa_placement *s, const int8_t *where, const hwa_tensor *o) {
    /* gradients: the device of the first node that writes them */
    if (o->sched_id <= -2 && s->leaf_loc[-2 - o->sched_id] == HWA__LOC_NONE) {
        for (int i = 0; i < s->n; i++)
            if (s->g->nodes[i]->view_src == o && !hwa__op_is_view(s->g->nodes[i]->op)) return where[i];
        return HWA__LOC_HOST;
    }
    return loc_of(s, where, s->leaf_loc, o);
}

static int cheapest_supporting(const hwa_placement *s, int i) {
    int best = -1;
    for (int d = 0; d < s->n_dev; d++) {
        if (s->excluded[d] || !hwa_backend_supports(s->be[d], s->g->nodes[i])) continue;
        if (best < 0 || s->cost[(size_t)i * s->n_dev + d] < s->cost[(size_t)i * s->n_dev + best]) best = d;
    }
    return best;
}

/* Applies the constraints to where and resolves gradient locations into
 * lloc. HWA_E_UNSUPPORTED when a node can run nowhere it is allowed to. */
static hwa_status fix(hwa_placement *s, int8_t *where, int8_t *lloc) {
    const hwa_graph *g = s->g;
    memcpy(lloc, s->leaf_loc, (size_t)(g->n_leaves ? g->n_leaves : 1));
    for (int i = 0; i < s->n; i++) {
        hwa_tensor *t = g->nodes[i];
        if (hwa__op_is_view(t->op)) {
            where[i] = HWA__LOC_NONE;
            continue;
        }
        if (where[i] < 0 || s->excluded[where[i]] || !hwa_backend_supports(s->be[where[i]], t)) {
            int d = cheapest_supporting(s, i);
            if (d < 0)
                return hwa__err(s->ctx, HWA_E_UNSUPPORTED, "plan: no device of the plan can compute node %d (%s %s)",
                                i, hwa__op_name(t->op), hwa_dtype_name(t->dtype));
            where[i] = (int8_t)d;
        }
        if (t->view_src) {
            hwa_tensor *o = t->view_src;
            int l = loc_of(s, where, lloc, o);
            if (o->sched_id <= -2 && l == HWA__LOC_NONE) {
                lloc[-2 - o->sched_id] = where[i]; /* a gradient lives where it is first written */
                continue;
            }
            if (l == HWA__LOC_HOST) l = first_host(s);
            if (l < 0 || s->excluded[l])
                return hwa__err(s->ctx, HWA_E_UNSUPPORTED,
                                "plan: node %d (%s) writes '%s' in place, and no device of the plan holds it", i,
                                hwa__op_name(t->op), o->name);
            if (!hwa_backend_supports(s->be[l], t))
                return hwa__err(s->ctx, HWA_E_UNSUPPORTED, "plan: node %d (%s) writes '%s' in place on %s, which lacks %s",
                                i, hwa__op_name(t->op), o->name, s->dev[l].id, hwa__op_name(t->op));
            where[i] = (int8_t)l;
        }
    }
    return HWA_OK;
}

static size_t aligned(size_t n) { return (n + HWA_ALIGN - 1) & ~(size_t)(HWA_ALIGN - 1); }

hwa_status hwa__sched_evaluate(hwa_placement *s, hwa__cand *c) {
    const hwa_graph *g = s->g;
    const int n = s->n, nd = s->n_dev;
    int8_t *lloc = hwa__malloc(s->ctx, (size_t)(g->n_leaves ? g->n_leaves : 1));
    /* per storage owner (nodes, then leaves): a bit per device it was copied to */
    uint8_t *copied = hwa__calloc(s->ctx, (size_t)(n + g->n_leaves + 1), 1);
    bool *keep = hwa__calloc(s->ctx, (size_t)(n ? n : 1), sizeof *keep);
    hwa_status st = (!lloc || !copied || !keep) ? HWA_E_NOMEM : HWA_OK;
    if (!st) st = fix(s, c->where, lloc);
    if (st) goto done;
    memset(c->dev_s, 0, sizeof c->dev_s);
    memset(c->need, 0, sizeof c->need);
    memset(c->arena, 0, sizeof c->arena);
    memset(c->shadow, 0, sizeof c->shadow);
    memset(c->grads, 0, sizeof c->grads);
    memset(c->leaves, 0, sizeof c->leaves);
    c->copy_s = c->copy_bytes = c->once_bytes = 0;
    for (int i = 0; i < n; i++) {
        const hwa_tensor *t = g->nodes[i];
        const int d = c->where[i];
        if (d < 0) continue;
        c->dev_s[d] += s->cost[(size_t)i * nd + d];
        for (int j = 0; j < hwa__op_n_src(t->op); j++) {
            const hwa_tensor *o = hwa__storage(t->src[j]);
            int from = loc_of(s, c->where, lloc, o);
            if (from == HWA__LOC_NONE) from = HWA__LOC_HOST;
            /* read by another device: it lives to the end of its device's run */
            if (o->sched_id >= 0 && from != d) keep[o->sched_id] = true;
            if (hwa__sched_reads_in_place(s, from, d)) continue;
            const int idx = o->sched_id >= 0 ? o->sched_id : o->sched_id <= -2 ? n + (-2 - o->sched_id) : -1;
            if (idx < 0) continue;
            if (copied[idx] & (1u << d)) continue;
            copied[idx] |= (uint8_t)(1u << d);
            const double b = (double)hwa_tensor_nbytes(o);
            c->shadow[d] += (int64_t)aligned((size_t)b);
            if (o->sched_id <= -2 && s->constant_leaf[-2 - o->sched_id]) {
                c->once_bytes += b;
            } else {
                c->copy_bytes += b;
                c->copy_s += hwa__sched_copy_s(s, from, d, b);
            }
        }
    }
    /* memory: each device's arena from the planner, its gradients, the
     * shadows, and leaves that have no storage yet */
    for (int j = 0; j < g->n_leaves; j++) {
        const hwa_tensor *l = g->leaves[j];
        if (l->buffer || l->view_src) continue;
        int d = lloc[j];
        if (d == HWA__LOC_HOST || d == HWA__LOC_NONE) d = first_host(s);
        if (d < 0) continue;
        if (l->flags & HWA_TF_GRAD) c->grads[d] += (int64_t)aligned(hwa_tensor_nbytes(l));
        else c->leaves[d] += (int64_t)aligned(hwa_tensor_nbytes(l));
    }
    c->fits = true;
    c->why_not[0] = '\0';
    for (int d = 0; d < nd; d++) {
        size_t bytes = 0;
        if ((st = hwa__sched_plan_device(s, c->where, keep, d, &bytes, NULL))) goto done;
        c->arena[d] = (int64_t)bytes;
        c->need[d] = c->arena[d] + c->grads[d] + c->shadow[d] + c->leaves[d];
        const int64_t avail = hwa_placement_device_avail_bytes(s, d);
        if (avail >= 0 && c->need[d] > avail && c->need[d] > 0) {
            c->fits = false;
            size_t k = strlen(c->why_not);
            snprintf(c->why_not + k, sizeof c->why_not - k, "%s%s is %.1f MiB short (needs %.1f, has %.1f)",
                     k ? "; " : "", s->dev[d].id, (double)(c->need[d] - avail) / 1048576.0,
                     (double)c->need[d] / 1048576.0, (double)avail / 1048576.0);
        }
    }
    c->est_s = c->copy_s;
    for (int d = 0; d < nd; d++) c->est_s += c->dev_s[d];
done:
    hwa__free(s->ctx, lloc);
    hwa__free(s->ctx, copied);
    hwa__free(s->ctx, keep);
    return st;
}

hwa_status hwa__sched_plan_device(hwa_placement *s, const int8_t *where, const bool *keep, int d, size_t *arena_bytes,
                                  hwa_buffer *bind_to) {
    const int n = s->n;
    hwa_graph *g = s->g;
    *arena_bytes = 0;
    int m = 0;
    for (int i = 0; i < n; i++) m += where[i] == d;
    if (m == 0) return HWA_OK;
    hwa_tensor **sub = hwa__calloc(s->ctx, (size_t)m, sizeof *sub);
    bool *k2 = hwa__calloc(s->ctx, (size_t)m, sizeof *k2);
    hwa_status st = !sub || !k2 ? HWA_E_NOMEM : HWA_OK;
    for (int i = 0, q = 0; !st && i < n; i++)
        if (where[i] == d) k2[q] = keep[i], sub[q++] = g->nodes[i];
    hwa_graph sg;
    memset(&sg, 0, sizeof sg);
    sg.ctx = s->ctx;
    sg.nodes = sub;
    sg.n_nodes = m;
    hwa_plan_stats ps;
    if (!st) st = hwa__plan_ex(&sg, HWA_PLAN_REUSE, k2, &ps);
    if (!st) *arena_bytes = ps.arena_bytes;
    if (!st && bind_to)
        for (int q = 0; q < m; q++)
            if (sg.plan_offs[q] != SIZE_MAX) hwa__tensor_bind(sub[q], bind_to, sg.plan_offs[q]);
    hwa__free(s->ctx, sg.plan_offs);
    hwa__free(s->ctx, sub);
    hwa__free(s->ctx, k2);
    return st;
}

int64_t hwa_placement_device_avail_bytes(const hwa_placement *s, int d) {
    if (!s || d < 0 || d >= s->n_dev || s->dev[d].mem_bytes < 0) return -1;
    const double margin = s->o.mem_margin > 0 ? s->o.mem_margin : 0.10;
    int64_t a = s->dev[d].mem_bytes - (int64_t)(margin * (double)s->dev[d].mem_bytes) - s->be[d]->mem_used;
    return a > 0 ? a : 0;
}

/* ---- candidates ---------------------------------------------------------- */

static hwa__cand *new_cand(hwa_placement *s, const char *what) {
    if (s->n_cand == HWA__MAX_CANDS) return NULL;
    hwa__cand *c = &s->cand[s->n_cand];
    memset(c, 0, sizeof *c);
    c->where = hwa__calloc(s->ctx, (size_t)(s->n ? s->n : 1), 1);
    if (!c->where) return NULL;
    size_t k = strlen(what);
    if (k >= sizeof c->what) k = sizeof c->what - 1;
    memmove(c->what, what, k);
    c->what[k] = '\0';
    c->cut = -1;
    s->n_cand++;
    return c;
}

static void drop_last_cand(hwa_placement *s) {
    s->n_cand--;
    hwa__free(s->ctx, s->cand[s->n_cand].where);
    s->cand[s->n_cand].where = NULL;
}

static bool same_as_earlier(const hwa_placement *s, const hwa__cand *c) {
    for (int k = 0; k < s->n_cand; k++)
        if (&s->cand[k] != c && !memcmp(s->cand[k].where, c->where, (size_t)s->n)) return true;
    return false;
}

static hwa_status cand_single(hwa_placement *s, int d) {
    hwa__cand *c = new_cand(s, s->dev[d].id);
    if (!c) return HWA_E_NOMEM;
    memset(c->where, d, (size_t)s->n);
    hwa_status st = hwa__sched_evaluate(s, c);
    if (st == HWA_E_UNSUPPORTED) { /* e.g. in-place storage on no device of this list */
        drop_last_cand(s);
        return HWA_OK;
    }
    return st;
}

/* Two stages: devices a then b, cut at compute node position `cut`. */
static void fill_cut(hwa_placement *s, int8_t *where, int a, int b, int cut) {
    for (int i = 0; i < s->n; i++) where[i] = (int8_t)(i < cut ? a : b);
}

static hwa_status cand_layers(hwa_placement *s, int a, int b, double share) {
    /* compute node positions */
    int n_comp = 0;
    for (int i = 0; i < s->n; i++) n_comp += !hwa__op_is_view(s->g->nodes[i]->op);
    if (n_comp < 2) return HWA_OK;
    char what[96];
    snprintf(what, sizeof what, "layers %s | %s", s->dev[a].id, s->dev[b].id);
    hwa__cand *c = new_cand(s, what);
    if (!c) return HWA_E_NOMEM;
    hwa__cand trial;
    memset(&trial, 0, sizeof trial);
    trial.where = hwa__calloc(s->ctx, (size_t)s->n, 1);
    if (!trial.where) return HWA_E_NOMEM;
    hwa_status st = HWA_OK;
    double best = INFINITY;
    bool best_fits = false;
    int k = 0;
    for (int i = 0; i < s->n && !st; i++) {
        if (hwa__op_is_view(s->g->nodes[i]->op)) continue;
        k++; /* compute nodes before position i + 1 */
        if (k == 1) continue; /* the first stage holds at least one compute node */
        const int cut = i;
        if (share > 0) {
            const int want = (int)lround(share * n_comp);
            if (k - 1 != (want < 1 ? 1 : want > n_comp - 1 ? n_comp - 1 : want)) continue;
        }
        fill_cut(s, trial.where, a, b, cut);
        st = hwa__sched_evaluate(s, &trial);
        if (st == HWA_E_UNSUPPORTED) {
            st = HWA_OK;
            continue;
        }
        if (st) break;
        /* both stages must compute something after the constraints */
        bool ua = false, ub = false;
        for (int q = 0; q < s->n; q++) ua |= trial.where[q] == a, ub |= trial.where[q] == b;
        if (!ua || !ub) continue;
        /* Asked for layers: balanced stages, as a pipeline wants them (the
         * slower stage as fast as it can be); in the automatic choice: the
         * lowest estimate of a sequential run. Fitting first. */
        const double score = s->o.mode == HWA_PLACE_LAYERS && share <= 0
                                 ? (trial.dev_s[a] > trial.dev_s[b] ? trial.dev_s[a] : trial.dev_s[b])
                                 : trial.est_s;
        if ((trial.fits && !best_fits) || (trial.fits == best_fits && score < best)) {
            best = score;
            best_fits = trial.fits;
            memcpy(c->where, trial.where, (size_t)s->n);
            c->cut = cut;
        }
    }
    hwa__free(s->ctx, trial.where);
    if (st) return st;
    if (c->cut < 0) {
        drop_last_cand(s);
        return HWA_OK;
    }
    snprintf(what, sizeof what, "layers %s | %s at node %d", s->dev[a].id, s->dev[b].id, c->cut);
    memcpy(c->what, what, sizeof c->what);
    return hwa__sched_evaluate(s, c);
}

/* List scheduling, then moves of whole runs while the estimate falls. */
static hwa_status cand_mixed(hwa_placement *s) {
    hwa__cand *c = new_cand(s, "mixed");
    if (!c) return HWA_E_NOMEM;
    const hwa_graph *g = s->g;
    const int nd = s->n_dev;
    int8_t *lloc = hwa__malloc(s->ctx, (size_t)(g->n_leaves ? g->n_leaves : 1));
    if (!lloc) return HWA_E_NOMEM;
    memcpy(lloc, s->leaf_loc, (size_t)(g->n_leaves ? g->n_leaves : 1));
    for (int i = 0; i < s->n; i++) {
        const hwa_tensor *t = g->nodes[i];
        c->where[i] = HWA__LOC_NONE;
        if (hwa__op_is_view(t->op)) continue;
        double best = INFINITY;
        int bd = -1;
        for (int d = 0; d < nd; d++) {
            if (s->excluded[d] || !hwa_backend_supports(s->be[d], t)) continue;
            double cost = s->cost[(size_t)i * nd + d];
            for (int j = 0; j < hwa__op_n_src(t->op); j++) {
                const hwa_tensor *o = hwa__storage(t->src[j]);
                int from = loc_of(s, c->where, lloc, o);
                if (from == HWA__LOC_NONE) from = HWA__LOC_HOST;
                if (o->sched_id <= -2 && s->constant_leaf[-2 - o->sched_id]) continue; /* copied once */
                cost += hwa__sched_copy_s(s, from, d, (double)hwa_tensor_nbytes(o));
            }
            if (cost < best || bd < 0) best = cost, bd = d;
        }
        c->where[i] = (int8_t)bd;
        if (t->view_src && t->view_src->sched_id <= -2 && lloc[-2 - t->view_src->sched_id] == HWA__LOC_NONE)
            lloc[-2 - t->view_src->sched_id] = (int8_t)bd;
    }
    hwa__free(s->ctx, lloc);
    hwa_status st = hwa__sched_evaluate(s, c);
    if (st) return st;
    hwa__cand trial;
    memset(&trial, 0, sizeof trial);
    trial.where = hwa__malloc(s->ctx, (size_t)s->n);
    if (!trial.where) return HWA_E_NOMEM;
    for (int pass = 0; pass < 8 && !st; pass++) {
        bool improved = false;
        for (int a = 0; a < s->n && !st;) {
            if (c->where[a] < 0) {
                a++;
                continue;
            }
            int b = a + 1;
            while (b < s->n && (c->where[b] == c->where[a] || c->where[b] < 0)) b++;
            for (int d = 0; d < nd && !st; d++) {
                if (d == c->where[a] || s->excluded[d]) continue;
                memcpy(trial.where, c->where, (size_t)s->n);
                for (int q = a; q < b; q++)
                    if (trial.where[q] >= 0) trial.where[q] = (int8_t)d;
                st = hwa__sched_evaluate(s, &trial);
                if (st == HWA_E_UNSUPPORTED) {
                    st = HWA_OK;
                    continue;
                }
                if (!st && (trial.fits || !c->fits) && trial.est_s < c->est_s * (1 - 1e-9)) {
                    memcpy(c->where, trial.where, (size_t)s->n);
                    st = hwa__sched_evaluate(s, c);
                    improved = true;
                }
            }
            a = b;
        }
        if (!improved) break;
    }
    hwa__free(s->ctx, trial.where);
    if (st) return st;
    if (same_as_earlier(s, c)) drop_last_cand(s);
    return HWA_OK;
}

/* The minimum gain (a share of the estimate) for which a placement may use
 * more devices than another that fits. */
#define HWA__MORE_DEVICES_GAIN 0.05

static int cand_devices(const hwa_placement *s, const hwa__cand *c) {
    unsigned used = 0;
    for (int i = 0; i < s->n; i++)
        if (c->where[i] >= 0) used |= 1u << c->where[i];
    return __builtin_popcount(used);
}

static void set_reasons(hwa_placement *s) {
    const hwa__cand *c = &s->cand[s->chosen];
    int active = 0;
    for (int d = 0; d < s->n_dev; d++) active += !s->excluded[d];
    int single = -1;
    for (int d = 0; d < s->n_dev; d++)
        if (!strcmp(c->what, s->dev[d].id)) single = d;
    for (int i = 0; i < s->n; i++) {
        const hwa_tensor *t = s->g->nodes[i];
        const int d = c->where[i];
        hwa__reason r;
        if (d < 0) r = HWA__R_ONLY;
        else if (t->view_src) r = HWA__R_INPLACE;
        else if (active == 1) r = HWA__R_ONLY;
        else if (single >= 0 && d != single) r = HWA__R_LACKS;
        else if (s->o.mode == HWA_PLACE_SINGLE) r = HWA__R_SINGLE;
        else if (c->cut >= 0) r = HWA__R_STAGE;
        else r = cheapest_supporting(s, i) == d ? HWA__R_FASTER : HWA__R_FOLLOWS;
        s->reason[i] = (uint8_t)r;
    }
}

hwa_status hwa__sched_place(hwa_placement *s) {
    for (int k = 0; k < s->n_cand; k++) hwa__free(s->ctx, s->cand[k].where);
    s->n_cand = 0;
    hwa_status st = HWA_OK;
    int active[HWA_PLACE_MAX_DEVICES], na = 0;
    for (int d = 0; d < s->n_dev; d++)
        if (!s->excluded[d]) active[na++] = d;
    if (na == 0) return hwa__err(s->ctx, HWA_E_UNSUPPORTED, "plan: no device left to place on");
    if (s->o.mode == HWA_PLACE_GIVEN) {
        hwa__cand *c = new_cand(s, "given");
        if (!c) return HWA_E_NOMEM;
        for (int i = 0; i < s->n; i++) c->where[i] = s->given ? s->given[i] : 0;
        st = hwa__sched_evaluate(s, c);
        if (!st) {
            /* named after what it is: one device, or mixed */
            int only = -2;
            for (int i = 0; i < s->n; i++)
                if (c->where[i] >= 0) only = only == -2 || only == c->where[i] ? c->where[i] : -1;
            if (only >= 0) snprintf(c->what, sizeof c->what, "%s", s->dev[only].id);
            else snprintf(c->what, sizeof c->what, "given");
        }
    } else if (s->o.mode == HWA_PLACE_SINGLE) {
        st = cand_single(s, s->o.device);
        if (!st && s->n_cand == 0)
            st = hwa__err(s->ctx, HWA_E_UNSUPPORTED, "plan: the graph cannot run on %s", s->dev[s->o.device].id);
    } else if (s->o.mode == HWA_PLACE_LAYERS) {
        if (na < 2) return hwa__err(s->ctx, HWA_E_MISUSE, "plan: a layer split needs two devices");
        st = cand_layers(s, active[0], active[1], s->o.split);
        if (!st && s->n_cand == 0)
            st = hwa__err(s->ctx, HWA_E_UNSUPPORTED, "plan: no layer split of this graph over %s and %s",
                          s->dev[active[0]].id, s->dev[active[1]].id);
    } else {
        for (int k = 0; k < na && !st; k++) st = cand_single(s, active[k]);
        for (int a = 0; a < na && !st; a++)
            for (int b = 0; b < na && !st; b++)
                if (a != b && na <= 3) st = cand_layers(s, active[a], active[b], 0);
        if (!st && na > 1) st = cand_mixed(s);
    }
    if (st) return st;
    if (s->n_cand == 0) return hwa__err(s->ctx, HWA_E_UNSUPPORTED, "plan: no placement can run this graph");
    s->chosen = -1;
    for (int k = 0; k < s->n_cand; k++) {
        const hwa__cand *c = &s->cand[k];
        if (!c->fits) continue;
        if (s->chosen < 0 || c->est_s < s->cand[s->chosen].est_s) s->chosen = k;
    }
    /* A placement over more devices must beat one over fewer by more than
     * the model's noise: copies, synchronisation and a second device's
     * contention are not worth a few per cent of an estimate. */
    for (int k = 0; s->chosen >= 0 && k < s->n_cand; k++) {
        const hwa__cand *c = &s->cand[k], *b = &s->cand[s->chosen];
        if (c->fits && cand_devices(s, c) < cand_devices(s, b) && c->est_s <= b->est_s * (1 + HWA__MORE_DEVICES_GAIN))
            s->chosen = k;
    }
    if (s->chosen < 0) {
        char msg[1024];
        size_t m = 0;
        for (int k = 0; k < s->n_cand && m < sizeof msg; k++)
            m += (size_t)snprintf(msg + m, sizeof msg - m, "%s%s: %s", k ? "; " : "", s->cand[k].what,
                                  s->cand[k].why_not);
        return hwa__err(s->ctx, HWA_E_NOMEM, "plan: no placement fits (%s)", msg);
    }
    for (int k = 0; k < s->n_cand; k++) {
        hwa__cand *c = &s->cand[k];
        if (k == s->chosen || !c->fits) continue;
        const double r = c->est_s / s->cand[s->chosen].est_s;
        if (!isfinite(r))
            snprintf(c->why_not, sizeof c->why_not, "no comparable estimate: a device's figures are unknown "
                                                    "(hwadapt probe calibrates them)");
        else if (r < 1)
            snprintf(c->why_not, sizeof c->why_not, "%.2fx the chosen estimate: less than %.0f%% faster with more devices",
                     r, HWA__MORE_DEVICES_GAIN * 100);
        else snprintf(c->why_not, sizeof c->why_not, "%.2fx the chosen estimate", r);
    }
    s->where = s->cand[s->chosen].where;
    snprintf(s->choice, sizeof s->choice, "%s", s->cand[s->chosen].what);
    set_reasons(s);
    return HWA_OK;
}
