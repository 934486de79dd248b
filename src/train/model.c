/* The trainer's models: choosing one from the configuration, the registry
 * of parameters, buffers and metadata that checkpoints and exports walk,
 * and the MLP (fmnist-mlp and its variants). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "train/train_internal.h"

const hwa__train_model *hwa__train_model_find(const char *model) {
    if (!model || !*model || !strcasecmp(model, "mlp") || !strcasecmp(model, "fmnist-mlp"))
        return &hwa__train_model_mlp;
    if (!strcasecmp(model, "cnn") || !strcasecmp(model, "fmnist-cnn")) return &hwa__train_model_cnn;
    const size_t n = strlen(model);
    if (n > 5 && !strcasecmp(model + n - 5, ".onnx")) return &hwa__train_model_onnx;
    return NULL;
}

hwa_status hwa__train_model_select(hwa_trainer *t, const char *model) {
    snprintf(t->model_name, sizeof t->model_name, "%s", model ? model : "");
    t->model = hwa__train_model_find(model);
    if (!t->model)
        return hwa__err(NULL, HWA_E_INVALID, "train: unknown model '%s' (fmnist-mlp, fmnist-cnn, or a .onnx file)",
                        model);
    return HWA_OK;
}

hwa_tensor *hwa__train_in_dtype(hwa_ctx *ctx, hwa_tensor *p, hwa_dtype dt) {
    return hwa_tensor_dtype(p) == dt ? p : hwa_cast(ctx, p, dt);
}

const char *hwa__train_model_label(const hwa_trainer *t) {
    return t->model_name[0] && strchr(t->model_name, '.') ? t->model_name : t->model->name;
}

hwa_status hwa__train_add_param(hwa_trainer *t, hwa_tensor *p, const char *name) {
    if (!p) return t->ctx->last_status ? t->ctx->last_status : HWA_E_NOMEM;
    if (t->n_params == HWA__TRAIN_MAX_PARAMS)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "train: %s has more than %d parameters", hwa__train_model_label(t),
                        HWA__TRAIN_MAX_PARAMS);
    hwa_tensor_set_name(p, name);
    hwa_status st = hwa_tensor_set_param(p);
    if (st == HWA_OK) t->params[t->n_params++] = p;
    return st;
}

hwa_status hwa__train_add_buffer(hwa_trainer *t, hwa_tensor *b, int64_t offset, int64_t n, const char *name) {
    if (!b) return t->ctx->last_status ? t->ctx->last_status : HWA_E_NOMEM;
    if (t->n_buffers == HWA__TRAIN_MAX_BUFFERS)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "train: %s has more than %d buffers", hwa__train_model_label(t),
                        HWA__TRAIN_MAX_BUFFERS);
    if (hwa_tensor_dtype(b) != HWA_F32 || offset < 0 || n < 1 || offset + n > hwa_tensor_nelements(b))
        return hwa__err(NULL, HWA_E_INTERNAL, "train: buffer '%s' is not f32 elements of its tensor", name);
    hwa__train_buffer *u = &t->buffers[t->n_buffers++];
    u->t = b;
    u->offset = offset;
    u->n = n;
    snprintf(u->name, sizeof u->name, "%s", name);
    return HWA_OK;
}

hwa_status hwa__train_add_meta(hwa_trainer *t, const char *key, const char *value) {
    if (t->n_meta == HWA__TRAIN_MAX_META) return hwa__err(NULL, HWA_E_INTERNAL, "train: too many model metadata");
    snprintf(t->meta_key[t->n_meta], sizeof t->meta_key[0], "%s", key);
    snprintf(t->meta_val[t->n_meta], sizeof t->meta_val[0], "%s", value);
    t->n_meta++;
    return HWA_OK;
}

/* splitmix64's finalizer: a bijective mix of every input bit. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void hwa__train_dropout_seed(const hwa_trainer *t, int64_t step, int64_t first, int32_t out[2]) {
    const uint64_t h = mix64(mix64(t->cfg.seed ^ 0x64726f706f7574ull) + (uint64_t)step * 0x9e3779b97f4a7c15ull +
                             (uint64_t)first);
    out[0] = (int32_t)(uint32_t)h;
    out[1] = (int32_t)(uint32_t)(h >> 32);
}

/* ---- the MLP -------------------------------------------------------------- */

/* The layer sizes (t->n_layers, t->dims: features, cfg's hidden sizes,
 * classes), the weights and biases fc<i>.weight [out, in] and fc<i>.bias
 * [out], and the "layers" ("784,1000,1000,10") and "activation" metadata. */
static hwa_status mlp_make(hwa_trainer *t) {
    hwa_ctx *ctx = t->ctx;
    t->n_layers = t->cfg.n_hidden + 1;
    t->dims[0] = t->features;
    for (int i = 0; i < t->cfg.n_hidden; i++) t->dims[i + 1] = t->cfg.hidden[i];
    t->dims[t->n_layers] = t->classes;
    char n[HWA_MAX_NAME];
    for (int l = 0; l < t->n_layers; l++) {
        t->w[l] = hwa_tensor_new_2d(ctx, HWA_F32, t->dims[l + 1], t->dims[l]);
        t->b[l] = hwa_tensor_new_1d(ctx, HWA_F32, t->dims[l + 1]);
        snprintf(n, sizeof n, "fc%d.weight", l + 1);
        hwa_status st = hwa__train_add_param(t, t->w[l], n);
        snprintf(n, sizeof n, "fc%d.bias", l + 1);
        if (st == HWA_OK) st = hwa__train_add_param(t, t->b[l], n);
        if (st) return st;
    }
    char layers[256];
    size_t off = 0;
    layers[0] = 0;
    for (int l = 0; l <= t->n_layers && off < sizeof layers; l++) {
        int k = snprintf(layers + off, sizeof layers - off, l ? ",%lld" : "%lld", (long long)t->dims[l]);
        if (k < 0) break;
        off += (size_t)k;
    }
    hwa_status st = hwa__train_add_meta(t, "layers", layers);
    if (st == HWA_OK) st = hwa__train_add_meta(t, "activation", hwa_activation_name(t->cfg.activation));
    return st;
}

/* Kaiming-uniform weights and biases in U(-1/sqrt(in), 1/sqrt(in)), as
 * PyTorch's nn.Linear, from the context's seeded generator in layer order. */
static hwa_status mlp_init(hwa_trainer *t) {
    hwa_status st = HWA_OK;
    for (int l = 0; l < t->n_layers && st == HWA_OK; l++) {
        const float bound = (float)(1.0 / sqrt((double)t->dims[l]));
        st = hwa_tensor_fill_uniform(t->w[l], -bound, bound);
        if (st == HWA_OK) st = hwa_tensor_fill_uniform(t->b[l], -bound, bound);
    }
    return st;
}

/* x -> (Linear, activation)* -> Linear. */
static hwa_tensor *mlp_logits(hwa_trainer *t, hwa_tensor *x, bool train, hwa__batch_graph *bg) {
    (void)train;
    (void)bg;
    hwa_ctx *ctx = t->ctx;
    const hwa_dtype dt = t->cfg.dtype;
    hwa_tensor *h = x;
    for (int l = 0; l < t->n_layers; l++) {
        h = hwa_bias_add(ctx, hwa_matmul_ex(ctx, h, hwa__train_in_dtype(ctx, t->w[l], dt), false, true),
                         hwa__train_in_dtype(ctx, t->b[l], dt));
        if (l + 1 < t->n_layers) h = hwa_activation_apply(ctx, t->cfg.activation, h);
    }
    return h;
}

const hwa__train_model hwa__train_model_mlp = {
    .name = "fmnist-mlp",
    .export_format = "hwadapt-mlp",
    .make = mlp_make,
    .init = mlp_init,
    .logits = mlp_logits,
};
