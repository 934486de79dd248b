/* Magnitude pruning with retraining (Han, Pool, Tran, Dally 2015; Deep
 * Compression's first stage): rounds that each remove the smallest weights
 * up to a rising sparsity, per layer or under one threshold for every
 * layer, then retrain with the removed weights held at zero. The mask, not
 * the value, says what is pruned: a kept weight that trains to exactly 0.0
 * stays stored. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress_internal.h"
#include "compress/passes_internal.h"

typedef struct prune_state {
    hwa_cmodel *m;
    float *w[HWA_CMODEL_MAX_LAYERS];      /* [out * in], the current weights (0 where pruned) */
    uint8_t *mask[HWA_CMODEL_MAX_LAYERS]; /* [out * in], 1 where kept */
} prune_state;

/* A kept weight, ordered by magnitude; ties by layer, then position, so the
 * order (and the result) never depends on the sort. */
typedef struct cand {
    float mag;
    int32_t layer;
    int64_t idx;
} cand;

static int cand_cmp(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->mag != y->mag) return x->mag < y->mag ? -1 : 1;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static int64_t layer_size(const hwa_cm_layer *L) { return L->out * L->in; }

static int64_t pruned_count(const prune_state *s, int l) {
    const int64_t n = layer_size(&s->m->layer[l]);
    int64_t p = 0;
    for (int64_t i = 0; i < n; i++) p += !s->mask[l][i];
    return p;
}

/* Removes the `remove` smallest kept weights of layers [l0, l1) together. */
static hwa_status remove_smallest(prune_state *s, int l0, int l1, int64_t remove) {
    if (remove <= 0) return HWA_OK;
    int64_t n = 0;
    for (int l = l0; l < l1; l++) n += layer_size(&s->m->layer[l]);
    cand *c = malloc((size_t)n * sizeof *c);
    if (!c) return hwa__err(NULL, HWA_E_NOMEM, "prune: out of memory");
    int64_t k = 0;
    for (int l = l0; l < l1; l++)
        for (int64_t i = 0; i < layer_size(&s->m->layer[l]); i++)
            if (s->mask[l][i]) c[k++] = (cand){fabsf(s->w[l][i]), l, i};
    qsort(c, (size_t)k, sizeof *c, cand_cmp);
    for (int64_t j = 0; j < remove && j < k; j++) {
        s->mask[c[j].layer][c[j].idx] = 0;
        s->w[c[j].layer][c[j].idx] = 0.0f;
    }
    free(c);
    return HWA_OK;
}

static double layer_target(const hwa_prune_opts *o, int l) {
    return o->layer_sparsity[l] > 0.0 ? o->layer_sparsity[l] : o->sparsity;
}

/* Round r of iters: each layer (or all together) at target * r / iters. */
static hwa_status prune_round(prune_state *s, const hwa_prune_opts *o, int r, int iters) {
    const int L = s->m->n_layers;
    const double f = (double)r / (double)iters;
    if (o->global) {
        int64_t total = 0, pruned = 0;
        for (int l = 0; l < L; l++) {
            total += layer_size(&s->m->layer[l]);
            pruned += pruned_count(s, l);
        }
        return remove_smallest(s, 0, L, llround(o->sparsity * f * (double)total) - pruned);
    }
    hwa_status st = HWA_OK;
    for (int l = 0; l < L && st == HWA_OK; l++) {
        const int64_t want = llround(layer_target(o, l) * f * (double)layer_size(&s->m->layer[l]));
        st = remove_smallest(s, l, l + 1, want - pruned_count(s, l));
    }
    return st;
}

static hwa_status apply_mask(void *ud, hwa_trainer *t, int64_t step, double lr) {
    (void)step;
    (void)lr;
    prune_state *s = ud;
    hwa_status st = HWA_OK;
    for (int l = 0; l < s->m->n_layers && st == HWA_OK; l++) {
        float *w = s->w[l];
        const uint8_t *mk = s->mask[l];
        if ((st = hwa_trainer_get_weights(t, l, w, NULL))) break;
        for (int64_t i = 0; i < layer_size(&s->m->layer[l]); i++)
            if (!mk[i]) w[i] = 0.0f;
        st = hwa_trainer_set_weights(t, l, w, NULL);
    }
    return st;
}

/* Layer l becomes sparse f32: the positions the mask keeps, with w's values. */
static hwa_status make_sparse(prune_state *s, int l) {
    hwa_cm_layer *L = &s->m->layer[l];
    const int64_t N = L->out, K = L->in;
    const uint8_t *mk = s->mask[l];
    int64_t nnz = 0;
    for (int64_t i = 0; i < N * K; i++) nnz += mk[i];
    if (nnz > INT32_MAX) return hwa__err(NULL, HWA_E_OVERFLOW, "prune: layer %d keeps %lld weights (at most 2^31 - 1)",
                                         l + 1, (long long)nnz);
    int32_t *rp = malloc((size_t)(N + 1) * sizeof *rp), *col = malloc((size_t)(nnz ? nnz : 1) * sizeof *col);
    float *v = malloc((size_t)(nnz ? nnz : 1) * sizeof *v);
    if (!rp || !col || !v) {
        free(rp);
        free(col);
        free(v);
        return hwa__err(NULL, HWA_E_NOMEM, "prune: out of memory");
    }
    int64_t j = 0;
    rp[0] = 0;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t k = 0; k < K; k++)
            if (mk[n * K + k]) {
                col[j] = (int32_t)k;
                v[j++] = s->w[l][n * K + k];
            }
        rp[n + 1] = (int32_t)j;
    }
    /* the layer's other forms go; its shape and bias stay */
    hwa_cm_layer keep = {.out = N, .in = K, .bias = L->bias, .sparse = true, .nnz = nnz, .row_ptr = rp, .col = col,
                         .values = v};
    L->bias = NULL;
    hwa__cm_layer_clear(L);
    *L = keep;
    return HWA_OK;
}

static hwa_status check_opts(const hwa_prune_opts *o, int n_layers) {
    if (!o) return hwa__err(NULL, HWA_E_MISUSE, "prune: NULL options");
    if (!(o->sparsity >= 0.0 && o->sparsity < 1.0))
        return hwa__err(NULL, HWA_E_INVALID, "prune: --sparsity %g must be in [0, 1)", o->sparsity);
    for (int l = 0; l < HWA_CMODEL_MAX_LAYERS; l++) {
        const double v = o->layer_sparsity[l];
        if (!(v >= 0.0 && v < 1.0))
            return hwa__err(NULL, HWA_E_INVALID, "prune: layer %d's sparsity %g must be in [0, 1)", l + 1, v);
        if (v > 0.0 && (o->global || l >= n_layers))
            return hwa__err(NULL, HWA_E_INVALID, o->global ? "prune: a sparsity for layer %d needs per-layer pruning, not global"
                                                           : "prune: a sparsity for layer %d, past the model's layers", l + 1);
    }
    if (o->iterations < 0) return hwa__err(NULL, HWA_E_INVALID, "prune: %d iterations (at least 1; 0: 3)", o->iterations);
    if (o->retrain_epochs < 0)
        return hwa__err(NULL, HWA_E_INVALID, "prune: %lld retraining epochs", (long long)o->retrain_epochs);
    return HWA_OK;
}

static hwa_status prune_run(prune_state *s, const hwa_prune_opts *o, const hwa_compress_data *d) {
    hwa_cmodel *m = s->m;
    const int iters = o->iterations ? o->iterations : 3;
    hwa_status st = HWA_OK;
    for (int l = 0; l < m->n_layers && st == HWA_OK; l++) {
        const int64_t n = layer_size(&m->layer[l]);
        s->w[l] = malloc((size_t)n * sizeof(float));
        s->mask[l] = malloc((size_t)n);
        if (!s->w[l] || !s->mask[l]) return hwa__err(NULL, HWA_E_NOMEM, "prune: out of memory");
        /* a sparse layer's missing weights stay pruned */
        if ((st = hwa_cmodel_dense(m, l, s->w[l]))) return st;
        const hwa_cm_layer *L = &m->layer[l];
        memset(s->mask[l], L->sparse ? 0 : 1, (size_t)n);
        for (int64_t r = 0; L->sparse && r < L->out; r++)
            for (int32_t j = L->row_ptr[r]; j < L->row_ptr[r + 1]; j++) s->mask[l][r * L->in + L->col[j]] = 1;
    }
    for (int r = 1; r <= iters && st == HWA_OK; r++) {
        if ((st = prune_round(s, o, r, iters))) break;
        char line[256];
        int64_t total = 0, pruned = 0;
        int off = snprintf(line, sizeof line, "prune round %d/%d:", r, iters);
        for (int l = 0; l < m->n_layers; l++) {
            const int64_t n = layer_size(&m->layer[l]), p = pruned_count(s, l);
            total += n;
            pruned += p;
            if (off > 0 && off < (int)sizeof line)
                off += snprintf(line + off, sizeof line - (size_t)off, " fc%d %.2f%%", l + 1, 100.0 * (double)p / (double)n);
        }
        hwa__cp_note(d, "%s, all %.2f%% pruned", line, 100.0 * (double)pruned / (double)total);
        if (o->retrain_epochs == 0) continue;
        for (int l = 0; l < m->n_layers && st == HWA_OK; l++) st = hwa_cmodel_set_dense(m, l, s->w[l]);
        hwa_trainer *t = NULL;
        if (st == HWA_OK) st = hwa__cp_trainer(m, d, o->retrain_epochs, HWA__CP_LR_PRUNE, &t);
        if (st == HWA_OK) {
            hwa_trainer_set_step_hook(t, apply_mask, s);
            snprintf(line, sizeof line, "prune round %d/%d retraining", r, iters);
            st = hwa__cp_retrain(t, m, d, o->retrain_epochs, line);
        }
        for (int l = 0; l < m->n_layers && st == HWA_OK; l++) st = hwa_trainer_get_weights(t, l, s->w[l], NULL);
        hwa_trainer_free(t);
    }
    for (int l = 0; l < m->n_layers && st == HWA_OK; l++) st = make_sparse(s, l);
    return st;
}

hwa_status hwa_compress_prune(hwa_cmodel *m, const hwa_prune_opts *o, const hwa_compress_data *d) {
    hwa_status st = hwa__cp_check(m, d, "prune", true, false);
    if (st == HWA_OK) st = check_opts(o, m->n_layers);
    if (st) return st;
    prune_state s = {.m = m};
    st = prune_run(&s, o, d);
    for (int l = 0; l < HWA_CMODEL_MAX_LAYERS; l++) {
        free(s.w[l]);
        free(s.mask[l]);
    }
    return st;
}
