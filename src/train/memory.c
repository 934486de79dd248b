/* The trainer's memory, planned before anything runs: the same graphs the
 * trainer builds (src/train/loop.c), built on a context without a backend
 * and given to the memory planner's dry run, plus what the trainer keeps
 * beside them (parameters, optimizer state, host staging, the data). */
#include <math.h>
#include <string.h>

#include "train/train_internal.h"

/* Fashion-MNIST, as hwa_dataset_load_fmnist gives it. */
enum { FMNIST_TRAIN = 60000, FMNIST_TEST = 10000, FMNIST_FEATURES = 784, FMNIST_CLASSES = 10 };

typedef struct sizes {
    int64_t n_train, n_val, n_test, features, classes;
} sizes;

static sizes set_sizes(const hwa_train_config *c) {
    sizes z;
    if (c->train_set) {
        z.n_train = hwa_dataset_n(c->train_set);
        z.n_val = c->val_set ? hwa_dataset_n(c->val_set) : 0;
        z.n_test = hwa_dataset_n(c->test_set);
        z.features = hwa_dataset_features(c->train_set);
        z.classes = hwa_dataset_n_classes(c->train_set);
        return z;
    }
    z.n_train = c->limit && c->limit < FMNIST_TRAIN ? c->limit : FMNIST_TRAIN;
    z.n_test = c->test_limit && c->test_limit < FMNIST_TEST ? c->test_limit : FMNIST_TEST;
    z.n_val = 0;
    if (c->val_fraction > 0.0) { /* as load_data splits */
        z.n_val = (int64_t)floor(c->val_fraction * (double)z.n_train);
        if (z.n_val < 1) z.n_val = 1;
        z.n_train -= z.n_val;
    }
    z.features = FMNIST_FEATURES;
    z.classes = FMNIST_CLASSES;
    return z;
}

/* Adds bg's planned arena to m's activations and its inputs to m's inputs;
 * the gradients, shared by every training graph, are counted once. */
static hwa_status plan_graph(hwa__batch_graph *bg, hwa_train_memory *m) {
    hwa_plan_stats ps;
    hwa_status st = hwa_graph_plan(bg->g, HWA_PLAN_REUSE, &ps);
    if (st) return st;
    m->activations += (int64_t)ps.arena_bytes;
    if ((int64_t)ps.persistent_bytes > m->grads) m->grads = (int64_t)ps.persistent_bytes;
    m->inputs += (int64_t)(hwa_tensor_nbytes(bg->x) + hwa_tensor_nbytes(bg->y));
    return HWA_OK;
}

hwa_status hwa_train_memory_plan(const hwa_train_config *cfg, hwa_train_memory *out) {
    if (!cfg || !out) return hwa__err(NULL, HWA_E_MISUSE, "train: NULL argument");
    memset(out, 0, sizeof *out);
    hwa_status st = hwa_train_config_check(cfg);
    if (st) return st;
    const sizes z = set_sizes(cfg);
    if (z.n_train < 1 || z.n_test < 1) return hwa__err(NULL, HWA_E_INVALID, "train: no training or test samples");
    if (cfg->drop_last && cfg->batch > z.n_train)
        return hwa__err(NULL, HWA_E_INVALID, "train: --batch %lld exceeds the %lld training samples with --drop-last",
                        (long long)cfg->batch, (long long)z.n_train);
    hwa_trainer *t = calloc(1, sizeof *t);
    if (!t) return hwa__err(NULL, HWA_E_NOMEM, "train: out of memory");
    t->cfg = *cfg;
    t->ctx = hwa_ctx_new(&(hwa_ctx_params){.seed = cfg->seed});
    if (!t->ctx) {
        free(t);
        return HWA_E_NOMEM;
    }
    st = hwa__train_model_select(t, cfg->model);
    hwa_train_memory *m = out;
    const int64_t B = cfg->batch, rest = cfg->drop_last ? 0 : z.n_train % B;
    const int64_t E = hwa__train_eval_rows(z.n_test, z.n_val);
    /* the evaluation's last, smaller batch: one at a time (the next size
     * replaces the previous one's graph), so the larger of the two */
    const int64_t e_rest = z.n_test % E > z.n_val % E ? z.n_test % E : z.n_val % E;
    if (st == HWA_OK) st = hwa__train_make_params(t, z.features, z.classes);
    hwa__batch_graph bg[4];
    memset(bg, 0, sizeof bg);
    /* the CPU (also the home of device auto) says what its kernels would
     * keep beside the graphs */
    const bool cpu = !cfg->device || !strncmp(cfg->device, "cpu", 3) || !strcmp(cfg->device, "auto");
    hwa_backend *be = NULL;
    if (st == HWA_OK && cpu) {
        be = hwa_backend_new(t->ctx, "cpu");
        if (!be) st = hwa_ctx_last_status(t->ctx);
        else if (cfg->threads > 0) st = hwa_backend_set_threads(be, cfg->threads);
    }
    const int64_t rows[4] = {z.n_train >= B ? B : 0, rest, E, e_rest};
    for (int k = 0; k < 4 && st == HWA_OK; k++)
        if (rows[k]) {
            st = hwa__train_build_batch_graph(t, rows[k], k < 2, &bg[k]);
            if (st == HWA_OK) st = plan_graph(&bg[k], m);
            int64_t kept = 0;
            if (st == HWA_OK && be) st = hwa_backend_plan_kept(be, bg[k].g, &kept);
            m->kernel_kept += kept;
        }
    hwa_backend_free(be);
    if (st == HWA_OK) {
        for (int i = 0; i < t->n_params; i++) m->params += (int64_t)hwa_tensor_nbytes(t->params[i]);
        m->optim_state = hwa_optim_kind_slots(cfg->optim.kind) * m->params;
        for (int i = 0; i < t->n_buffers; i++) m->params += t->buffers[i].n * (int64_t)sizeof(float);
        m->device = m->params + m->grads + m->optim_state + m->activations + m->inputs;
        const int64_t max_rows = B > E ? B : E;
        m->staging = max_rows * z.features * (int64_t)sizeof(float) + max_rows * (int64_t)sizeof(int32_t) +
                     E * z.classes * (int64_t)sizeof(float);
        /* the loader's shuffled order, and the sets when the trainer loads them */
        m->data = z.n_train * (int64_t)sizeof(int64_t);
        if (!cfg->train_set)
            m->data += (z.n_train + z.n_val + z.n_test) * (z.features * (int64_t)sizeof(float) + (int64_t)sizeof(int32_t));
        m->total = m->device + m->staging + m->kernel_kept + m->data;
    }
    if (t->model && t->model->free_state) t->model->free_state(t);
    hwa_ctx_free(t->ctx);
    free(t);
    return st;
}
