/* fmnist-cnn as the trainer's model: the net of src/nn/cnn.h, its
 * parameters under PyTorch's state_dict names, batchnorm's running
 * statistics saved as bn<k>.running_mean and bn<k>.running_var, and dropout
 * seeded per step (hwa__train_dropout_seed). */
#include <stdio.h>

#include "nn/cnn.h"
#include "train/train_internal.h"

static hwa_status cnn_make(hwa_trainer *t) {
    if (t->features != HWA__CNN_FEATURES)
        return hwa__err(NULL, HWA_E_INVALID, "train: fmnist-cnn takes 28x28 images (784 features), the data has %lld",
                        (long long)t->features);
    hwa__cnn *m = calloc(1, sizeof *m);
    if (!m) return hwa__err(NULL, HWA_E_NOMEM, "train: out of memory");
    t->model_state = m;
    hwa_status st = hwa__cnn_make(t->ctx, t->classes, m);
    for (int i = 0; st == HWA_OK && i < HWA__CNN_N_PARAMS; i++) {
        const char *name;
        hwa_tensor *p = hwa__cnn_param(m, i, &name);
        st = hwa__train_add_param(t, p, name);
    }
    for (int k = 0; st == HWA_OK && k < HWA__CNN_N_BN; k++) {
        const int64_t c = hwa_tensor_dim(m->run[k], 1);
        char n[HWA_MAX_NAME];
        snprintf(n, sizeof n, "bn%d.running_mean", k + 1);
        st = hwa__train_add_buffer(t, m->run[k], 0, c, n);
        snprintf(n, sizeof n, "bn%d.running_var", k + 1);
        if (st == HWA_OK) st = hwa__train_add_buffer(t, m->run[k], c, c, n);
    }
    if (st == HWA_OK) st = hwa__train_add_meta(t, "model", "fmnist-cnn");
    if (st == HWA_OK) st = hwa__train_add_meta(t, "layers", HWA_TRAIN_CNN_ARCH);
    return st;
}

static hwa_status cnn_init(hwa_trainer *t) { return hwa__cnn_init(t->model_state); }

static hwa_tensor *cnn_logits(hwa_trainer *t, hwa_tensor *x, bool train, hwa__batch_graph *bg) {
    if (train && !(bg->seed = hwa_tensor_new_1d(t->ctx, HWA_I32, 2))) return NULL;
    return hwa__cnn_logits(t->ctx, t->model_state, x, t->cfg.dtype, train, train ? bg->seed : NULL);
}

static void cnn_free(hwa_trainer *t) {
    free(t->model_state);
    t->model_state = NULL;
}

const hwa__train_model hwa__train_model_cnn = {
    .name = "fmnist-cnn",
    .export_format = "hwadapt-fmnist-cnn",
    .make = cnn_make,
    .init = cnn_init,
    .logits = cnn_logits,
    .free_state = cnn_free,
};
