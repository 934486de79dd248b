/* Optimizers as a graph: per parameter one update op (SGD_UPDATE or
 * ADAM_UPDATE) that writes the parameter and its state in place, all reading
 * the global sum of squares of the gradients (for clipping). The graph is
 * built once; each step sets the ops' hyper-parameters and runs it. */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "train/train_internal.h"

static const char *const optim_names[HWA_OPTIM_COUNT] = {"sgd", "momentum", "nesterov", "adam", "adamw"};

const char *hwa_optim_kind_name(hwa_optim_kind k) { return (unsigned)k < HWA_OPTIM_COUNT ? optim_names[k] : "?"; }

hwa_status hwa_optim_kind_from_name(const char *name, hwa_optim_kind *out) {
    const int k = hwa__train_name_index(optim_names, HWA_OPTIM_COUNT, name);
    if (k >= 0) {
        if (out) *out = (hwa_optim_kind)k;
        return HWA_OK;
    }
    return hwa__err(NULL, HWA_E_NOTFOUND, "unknown optimizer '%s' (sgd, momentum, nesterov, adam, adamw)",
                    name ? name : "(null)");
}

hwa_optim_config hwa_optim_config_default(hwa_optim_kind kind) {
    hwa_optim_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.momentum = 0.9f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.weight_decay = kind == HWA_OPTIM_ADAMW ? 0.01f : 0.0f;
    c.clip_norm = 0.0f;
    return c;
}

hwa_status hwa_optim_config_check(const hwa_optim_config *c) {
    if (!c) return hwa__err(NULL, HWA_E_MISUSE, "optimizer: NULL config");
    if ((unsigned)c->kind >= HWA_OPTIM_COUNT) return hwa__err(NULL, HWA_E_INVALID, "optimizer: unknown kind %d", c->kind);
    if (!(c->momentum >= 0.0f && c->momentum < 1.0f))
        return hwa__err(NULL, HWA_E_INVALID, "optimizer: momentum %g must be in [0, 1)", c->momentum);
    if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f) || !(c->beta2 >= 0.0f && c->beta2 < 1.0f))
        return hwa__err(NULL, HWA_E_INVALID, "optimizer: betas %g, %g must be in [0, 1)", c->beta1, c->beta2);
    if (!(c->eps > 0.0f) || !isfinite(c->eps))
        return hwa__err(NULL, HWA_E_INVALID, "optimizer: eps %g must be > 0", c->eps);
    if (!(c->weight_decay >= 0.0f) || !isfinite(c->weight_decay))
        return hwa__err(NULL, HWA_E_INVALID, "optimizer: weight decay %g must be >= 0", c->weight_decay);
    if (!(c->clip_norm >= 0.0f) || !isfinite(c->clip_norm))
        return hwa__err(NULL, HWA_E_INVALID, "optimizer: clip norm %g must be >= 0 (0: no clipping)", c->clip_norm);
    return HWA_OK;
}

struct hwa_optim {
    hwa_ctx *ctx;
    hwa_backend *be;
    hwa_optim_config cfg;
    hwa_graph *g;
    int n;               /* parameters */
    int slots;           /* state slots per parameter: 0, 1 or 2 */
    hwa_tensor **update; /* [n] update nodes */
    hwa_tensor **view;   /* [n * slots] views of each state slot with the parameter's shape */
    int64_t steps;
    hwa_placement *pl;   /* hwa_optim_place's, or NULL: the graph runs on be */
};

void hwa_optim_free(hwa_optim *o) {
    if (!o) return;
    hwa_placement_free(o->pl);
    hwa__free(o->ctx, o->update);
    hwa__free(o->ctx, o->view);
    hwa__free(o->ctx, o);
}

static bool is_adam(hwa_optim_kind k) { return k == HWA_OPTIM_ADAM || k == HWA_OPTIM_ADAMW; }

/* An update node for parameter p; writes p in place (like WRITE_SLICE). */
static hwa_tensor *update_node(hwa_optim *o, hwa_tensor *p, hwa_tensor *sum_sq, hwa_tensor *state) {
    hwa_op_params prm;
    memset(&prm, 0, sizeof prm);
    const bool adam = is_adam(o->cfg.kind);
    prm.i[0] = adam ? o->cfg.kind == HWA_OPTIM_ADAMW : o->cfg.kind != HWA_OPTIM_SGD;
    prm.i[1] = o->cfg.kind == HWA_OPTIM_NESTEROV;
    hwa_tensor *srcs[4] = {p, hwa_tensor_grad(p), sum_sq, state};
    hwa_tensor *t = hwa__op_new(o->ctx, adam ? HWA_OP_ADAM_UPDATE : HWA_OP_SGD_UPDATE, srcs, &prm, HWA_F32, 0, NULL);
    if (t) {
        t->flags |= HWA_TF_INPLACE;
        t->view_src = p;
        t->view_offs = 0;
        snprintf(t->name, sizeof t->name, "update:%.56s", p->name);
    }
    return t;
}

hwa_status hwa_optim_new(hwa_graph *train, hwa_backend *be, const hwa_optim_config *cfg, hwa_optim **out) {
    if (out) *out = NULL;
    if (!train || !be || !cfg || !out) return hwa__err(NULL, HWA_E_MISUSE, "optimizer: NULL argument");
    hwa_status st = hwa_optim_config_check(cfg);
    if (st) return st;
    hwa_ctx *ctx = train->ctx;
    const int n = hwa_graph_n_params(train);
    if (n < 1) return hwa__err(ctx, HWA_E_MISUSE, "optimizer: the graph has no parameters (build its backward pass)");
    for (int i = 0; i < n; i++) {
        hwa_tensor *p = hwa_graph_param(train, i), *gr = hwa_tensor_grad(p);
        if (!gr || !hwa__storage(gr)->buffer)
            return hwa__err(ctx, HWA_E_MISUSE, "optimizer: parameter '%s' has no allocated gradient "
                            "(allocate the training graph first)", p->name);
        if (p->dtype != HWA_F32)
            return hwa__err(ctx, HWA_E_DTYPE, "optimizer: parameter '%s' is %s; f32 is required", p->name,
                            hwa_dtype_name(p->dtype));
    }
    hwa_optim *o = hwa__calloc(ctx, 1, sizeof *o);
    if (!o) return HWA_E_NOMEM;
    o->ctx = ctx;
    o->be = be;
    o->cfg = *cfg;
    o->n = n;
    o->slots = hwa_optim_kind_slots(cfg->kind);
    o->update = hwa__calloc(ctx, (size_t)n, sizeof *o->update);
    o->view = hwa__calloc(ctx, (size_t)n * (size_t)(o->slots ? o->slots : 1), sizeof *o->view);
    o->g = hwa_graph_new(ctx);
    if (!o->update || !o->view || !o->g) {
        hwa_optim_free(o);
        return HWA_E_NOMEM;
    }

    /* A one-element placeholder for what an update never reads: the state
     * of SGD without momentum, the sum of squares without clipping. */
    const bool clip = cfg->clip_norm > 0.0f;
    hwa_tensor *none = NULL;
    if (!clip || !o->slots) {
        none = hwa_tensor_new_1d(ctx, HWA_F32, 1);
        if (!none || (st = hwa_tensor_alloc(none, be)) || (st = hwa_tensor_fill(none, 0.0f))) goto fail;
    }
    /* The global sum of squares, added in parameter order. */
    hwa_tensor *sum_sq = clip ? NULL : none;
    for (int i = 0; clip && i < n; i++) {
        hwa_tensor *s = hwa__op_new(ctx, HWA_OP_SUM_SQ, (hwa_tensor *[]){hwa_tensor_grad(hwa_graph_param(train, i))},
                                    NULL, HWA_F32, 0, NULL);
        sum_sq = sum_sq ? hwa_add(ctx, sum_sq, s) : s;
    }
    if (!sum_sq) goto fail;
    for (int i = 0; i < n && st == HWA_OK; i++) {
        hwa_tensor *p = hwa_graph_param(train, i);
        hwa_tensor *state = none;
        if (o->slots) {
            const int64_t ne = hwa_tensor_nelements(p);
            state = hwa_tensor_new_2d(ctx, HWA_F32, o->slots, ne);
            if (!state) goto fail;
            snprintf(state->name, sizeof state->name, "optim:%.57s", p->name);
            if ((st = hwa_tensor_alloc(state, be)) || (st = hwa_tensor_fill(state, 0.0f))) goto fail;
            for (int k = 0; k < o->slots; k++) {
                hwa_tensor *row = hwa_slice(ctx, state, 0, k, 1);
                hwa_tensor *v = row ? hwa_reshape(ctx, row, p->ndim, p->shape) : NULL;
                if (!v) goto fail;
                o->view[i * o->slots + k] = v;
            }
        }
        o->update[i] = update_node(o, p, sum_sq, state);
        if (!o->update[i]) goto fail;
        if ((st = hwa_graph_build_forward(o->g, o->update[i]))) goto fail;
    }
    if ((st = hwa_graph_alloc(o->g, be, HWA_PLAN_REUSE, NULL))) goto fail;
    *out = o;
    return HWA_OK;
fail:
    if (st == HWA_OK) st = ctx->last_status != HWA_OK ? ctx->last_status : HWA_E_INTERNAL;
    hwa_optim_free(o);
    return st;
}

hwa_status hwa_optim_step(hwa_optim *o, float lr) {
    if (!o) return hwa__err(NULL, HWA_E_MISUSE, "optimizer: NULL");
    if (!(lr > 0.0f) || !isfinite(lr)) return hwa__err(o->ctx, HWA_E_INVALID, "optimizer: learning rate %g", lr);
    const hwa_optim_config *c = &o->cfg;
    const int64_t t = o->steps + 1;
    for (int i = 0; i < o->n; i++) {
        hwa_op_params *p = &o->update[i]->p;
        p->f[0] = lr;
        if (is_adam(c->kind)) {
            p->f[1] = c->beta1;
            p->f[2] = c->beta2;
            p->f[3] = c->eps;
            p->f[4] = c->weight_decay;
            p->f[5] = c->clip_norm;
            p->f[6] = (float)(1.0 - pow((double)c->beta1, (double)t));
            p->f[7] = (float)sqrt(1.0 - pow((double)c->beta2, (double)t));
        } else {
            p->f[1] = c->momentum;
            p->f[2] = c->weight_decay;
            p->f[3] = c->clip_norm;
        }
    }
    hwa_status st = o->pl ? hwa_placement_compute(o->pl) : hwa_graph_compute(o->g, o->be);
    if (st == HWA_OK) o->steps = t;
    return st;
}

hwa_status hwa_optim_place(hwa_optim *o, hwa_backend *const *bes, const hwa_place_device *devs, int n,
                           const hwa_place_opts *opts) {
    if (!o) return hwa__err(NULL, HWA_E_MISUSE, "optimizer: NULL");
    hwa__optim_unplace(o);
    /* The arena hwa_optim_new gave the graph on be gives way to the
     * placement's, device by device. */
    hwa__graph_free_storage(o->g);
    hwa_status st = hwa_placement_new(o->g, bes, devs, n, opts, &o->pl);
    if (st == HWA_OK && (st = hwa_placement_alloc(o->pl))) hwa__optim_unplace(o);
    return st;
}

const hwa_placement *hwa_optim_placement(const hwa_optim *o) { return o ? o->pl : NULL; }

void hwa__optim_unplace(hwa_optim *o) {
    hwa_placement_free(o->pl);
    o->pl = NULL;
}

int64_t hwa_optim_steps(const hwa_optim *o) { return o ? o->steps : 0; }
void hwa_optim_set_steps(hwa_optim *o, int64_t steps) {
    if (o && steps >= 0) o->steps = steps;
}
int hwa_optim_n_slots(const hwa_optim *o) { return o ? o->slots : 0; }

int hwa_optim_kind_slots(hwa_optim_kind k) {
    if ((unsigned)k >= HWA_OPTIM_COUNT) return 0;
    return is_adam(k) ? 2 : k == HWA_OPTIM_SGD ? 0 : 1;
}

hwa_tensor *hwa_optim_state(const hwa_optim *o, int param, int slot) {
    if (!o || param < 0 || param >= o->n || slot < 0 || slot >= o->slots) return NULL;
    return o->view[param * o->slots + slot];
}

const char *hwa_optim_slot_name(const hwa_optim *o, int slot) {
    if (!o || slot < 0 || slot >= o->slots) return NULL;
    if (!is_adam(o->cfg.kind)) return "momentum_buffer";
    return slot == 0 ? "exp_avg" : "exp_avg_sq";
}
