/* What the compression passes share: checks, notes, retraining of a
 * compressed model through the trainer, and one layer's float forward. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "compress/passes_internal.h"

int hwa__cp_float_cmp(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void hwa__cp_note(const hwa_compress_data *d, const char *fmt, ...) {
    if (!d || !d->note) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    d->note(d->ud, line);
}

hwa_status hwa__cp_check(const hwa_cmodel *m, const hwa_compress_data *d, const char *pass, bool f32,
                         bool dense_only) {
    if (!m || !d || !d->train) return hwa__err(NULL, HWA_E_MISUSE, "%s: NULL model, data or training set", pass);
    hwa_status st = hwa_cmodel_validate(m);
    if (st) return st;
    const hwa_cm_layer *last = &m->layer[m->n_layers - 1];
    const hwa_dataset *sets[3] = {d->train, d->val, d->test};
    for (int i = 0; i < 3; i++)
        if (sets[i] && (hwa_dataset_features(sets[i]) != m->layer[0].in ||
                        hwa_dataset_n_classes(sets[i]) != last->out))
            return hwa__err(NULL, HWA_E_INVALID, "%s: the %s set has %lld features and %d classes, the model takes "
                            "%lld and gives %lld", pass, i == 0 ? "training" : i == 1 ? "validation" : "test",
                            (long long)hwa_dataset_features(sets[i]), hwa_dataset_n_classes(sets[i]),
                            (long long)m->layer[0].in, (long long)last->out);
    for (int l = 0; f32 && l < m->n_layers; l++) {
        const hwa_cm_layer *L = &m->layer[l];
        if (!L->values || (dense_only && L->sparse))
            return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: layer %d is %s; the pass needs %sf32 weights", pass, l + 1,
                            L->q ? "int8" : L->codes ? "shared" : "sparse", dense_only ? "dense " : "");
    }
    return HWA_OK;
}

hwa_status hwa__cp_trainer(const hwa_cmodel *m, const hwa_compress_data *d, int64_t epochs, double lr,
                           hwa_trainer **out) {
    *out = NULL;
    if (m->n_layers - 1 > HWA_TRAIN_MAX_HIDDEN)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "compress: %d layers; retraining takes at most %d", m->n_layers,
                        HWA_TRAIN_MAX_HIDDEN + 1);
    hwa_train_config c = hwa_train_config_default();
    c.n_hidden = m->n_layers - 1;
    for (int i = 0; i < c.n_hidden; i++) c.hidden[i] = m->layer[i].out;
    c.activation = m->activation;
    c.device = d->device;
    c.threads = d->threads;
    c.seed = d->seed;
    c.batch = d->batch > 0 ? d->batch : 64;
    c.epochs = epochs;
    c.optim = hwa_optim_config_default(HWA_OPTIM_ADAM);
    c.sched = hwa_sched_default(HWA_SCHED_CONSTANT, d->lr > 0.0 ? d->lr : lr, 1);
    c.train_set = d->train;
    c.test_set = d->test ? d->test : d->val ? d->val : d->train;
    hwa_trainer *t = NULL;
    hwa_status st = hwa_trainer_new(&c, &t);
    if (st) return st;
    float *w = NULL;
    for (int l = 0; l < m->n_layers && st == HWA_OK; l++) {
        const hwa_cm_layer *L = &m->layer[l];
        float *nw = realloc(w, (size_t)(L->out * L->in) * sizeof(float));
        if (!nw) {
            st = hwa__err(NULL, HWA_E_NOMEM, "compress: out of memory");
            break;
        }
        w = nw;
        st = hwa_cmodel_dense(m, l, w);
        if (st == HWA_OK) st = hwa_trainer_set_weights(t, l, w, L->bias);
    }
    free(w);
    if (st) {
        hwa_trainer_free(t);
        return st;
    }
    *out = t;
    return HWA_OK;
}

typedef struct retrain_ctx {
    const hwa_compress_data *d;
    const char *what;
    int64_t epochs;
} retrain_ctx;

static void on_epoch(void *ud, const hwa_epoch_stats *s) {
    const retrain_ctx *r = ud;
    hwa__cp_note(r->d, "%s: epoch %lld/%lld: loss %.4f, test %.2f%%", r->what, (long long)s->epoch,
                 (long long)r->epochs, s->train_loss, 100.0 * s->test_accuracy);
}

hwa_status hwa__cp_retrain(hwa_trainer *t, hwa_cmodel *m, const hwa_compress_data *d, int64_t epochs,
                           const char *what) {
    retrain_ctx r = {d, what, epochs};
    hwa_train_callbacks cb = {.epoch = on_epoch, .ud = &r};
    hwa_status st = hwa_trainer_run(t, &cb);
    for (int l = 0; l < m->n_layers && st == HWA_OK; l++) st = hwa_trainer_get_weights(t, l, NULL, m->layer[l].bias);
    return st;
}

hwa_status hwa__cp_layer_forward(hwa_ctx *ctx, hwa_backend *be, const hwa_cmodel *m, int l, bool activate, const float *x,
                                 int64_t rows, float *y) {
    const hwa_cm_layer *L = &m->layer[l];
    const hwa_ctx_mark mark = hwa_ctx_mark_get(ctx);
    hwa_tensor *xt = hwa_tensor_new_2d(ctx, HWA_F32, rows, L->in);
    hwa_tensor *wt = hwa_tensor_new_2d(ctx, HWA_F32, L->out, L->in);
    hwa_tensor *bt = hwa_tensor_new_1d(ctx, HWA_F32, L->out);
    hwa_tensor *h = xt && wt && bt ? hwa_bias_add(ctx, hwa_matmul_ex(ctx, xt, wt, false, true), bt) : NULL;
    if (h && activate && l + 1 < m->n_layers) h = hwa_activation_apply(ctx, m->activation, h);
    hwa_graph *g = h ? hwa_graph_new(ctx) : NULL;
    hwa_status st = g ? hwa_graph_build_forward(g, h) : hwa_ctx_last_status(ctx) ? hwa_ctx_last_status(ctx) : HWA_E_NOMEM;
    float *w = st == HWA_OK ? malloc((size_t)(L->out * L->in) * sizeof(float)) : NULL;
    if (st == HWA_OK && !w) st = hwa__err(NULL, HWA_E_NOMEM, "compress: out of memory");
    if (st == HWA_OK) st = hwa_cmodel_dense(m, l, w);
    if (st == HWA_OK) st = hwa_tensor_alloc(xt, be);
    if (st == HWA_OK) st = hwa_tensor_alloc(wt, be);
    if (st == HWA_OK) st = hwa_tensor_alloc(bt, be);
    if (st == HWA_OK) st = hwa_tensor_set_f32(xt, x, rows * L->in);
    if (st == HWA_OK) st = hwa_tensor_set_f32(wt, w, L->out * L->in);
    if (st == HWA_OK) st = hwa_tensor_set_f32(bt, L->bias, L->out);
    if (st == HWA_OK) st = hwa_graph_compute(g, be);
    if (st == HWA_OK) st = hwa_tensor_get_f32(h, y, rows * L->out);
    free(w);
    hwa_ctx_release(ctx, mark);
    return st;
}
