/* fmnist-cnn's graph: its tensors, initialization and logits (cnn.h). */
#include <math.h>

#include "nn/cnn.h"

enum { C1 = 32, C2 = 64, FC = 128 };
#define FLAT ((int64_t)C2 * (HWA__CNN_SIDE / 4) * (HWA__CNN_SIDE / 4)) /* 3136 */

hwa_status hwa__cnn_make(hwa_ctx *ctx, int64_t classes, hwa__cnn *m) {
    if (classes < 1) return hwa__err(ctx, HWA_E_INVALID, "fmnist-cnn: %lld classes", (long long)classes);
    m->conv1_w = hwa_tensor_new_4d(ctx, HWA_F32, C1, 1, 3, 3);
    m->bn1_w = hwa_tensor_new_1d(ctx, HWA_F32, C1);
    m->bn1_b = hwa_tensor_new_1d(ctx, HWA_F32, C1);
    m->conv2_w = hwa_tensor_new_4d(ctx, HWA_F32, C2, C1, 3, 3);
    m->bn2_w = hwa_tensor_new_1d(ctx, HWA_F32, C2);
    m->bn2_b = hwa_tensor_new_1d(ctx, HWA_F32, C2);
    m->fc1_w = hwa_tensor_new_2d(ctx, HWA_F32, FC, FLAT);
    m->fc1_b = hwa_tensor_new_1d(ctx, HWA_F32, FC);
    m->fc2_w = hwa_tensor_new_2d(ctx, HWA_F32, classes, FC);
    m->fc2_b = hwa_tensor_new_1d(ctx, HWA_F32, classes);
    m->run[0] = hwa_tensor_new_2d(ctx, HWA_F32, 2, C1);
    m->run[1] = hwa_tensor_new_2d(ctx, HWA_F32, 2, C2);
    for (int i = 0; i < HWA__CNN_N_PARAMS; i++)
        if (!hwa__cnn_param(m, i, NULL)) return hwa_ctx_last_status(ctx);
    return m->run[0] && m->run[1] ? HWA_OK : hwa_ctx_last_status(ctx);
}

hwa_tensor *hwa__cnn_param(const hwa__cnn *m, int i, const char **name) {
    static const char *const names[HWA__CNN_N_PARAMS] = {"conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight",
                                                         "bn2.weight",   "bn2.bias",   "fc1.weight", "fc1.bias",
                                                         "fc2.weight",   "fc2.bias"};
    hwa_tensor *const p[HWA__CNN_N_PARAMS] = {m->conv1_w, m->bn1_w, m->bn1_b, m->conv2_w, m->bn2_w,
                                              m->bn2_b,   m->fc1_w, m->fc1_b, m->fc2_w,   m->fc2_b};
    if (i < 0 || i >= HWA__CNN_N_PARAMS) return NULL;
    if (name) *name = names[i];
    return p[i];
}

static hwa_status uniform(hwa_tensor *p, int64_t fan_in) {
    const float bound = (float)(1.0 / sqrt((double)fan_in));
    return hwa_tensor_fill_uniform(p, -bound, bound);
}

static hwa_status bn_init(hwa_tensor *w, hwa_tensor *b, hwa_tensor *run) {
    const int64_t c = hwa_tensor_nelements(w);
    hwa_status st = hwa_tensor_fill(w, 1.0f);
    if (st == HWA_OK) st = hwa_tensor_fill(b, 0.0f);
    float *v = calloc((size_t)(2 * c), sizeof *v);
    if (!v) return hwa__err(NULL, HWA_E_NOMEM, "fmnist-cnn: out of memory");
    for (int64_t i = c; i < 2 * c; i++) v[i] = 1.0f;
    if (st == HWA_OK) st = hwa_tensor_set_f32(run, v, 2 * c);
    free(v);
    return st;
}

hwa_status hwa__cnn_init(const hwa__cnn *m) {
    hwa_status st = uniform(m->conv1_w, 1 * 3 * 3);
    if (st == HWA_OK) st = bn_init(m->bn1_w, m->bn1_b, m->run[0]);
    if (st == HWA_OK) st = uniform(m->conv2_w, C1 * 3 * 3);
    if (st == HWA_OK) st = bn_init(m->bn2_w, m->bn2_b, m->run[1]);
    if (st == HWA_OK) st = uniform(m->fc1_w, FLAT);
    if (st == HWA_OK) st = uniform(m->fc1_b, FLAT);
    if (st == HWA_OK) st = uniform(m->fc2_w, FC);
    if (st == HWA_OK) st = uniform(m->fc2_b, FC);
    return st;
}

/* p in dtype dt: itself, or a cast through which the gradient comes back. */
static hwa_tensor *in_dt(hwa_ctx *ctx, hwa_tensor *p, hwa_dtype dt) {
    return p && hwa_tensor_dtype(p) != dt ? hwa_cast(ctx, p, dt) : p;
}

/* conv 3x3 pad 1 -> batchnorm -> relu -> maxpool 2x2 stride 2 on x [N, C, H, W]. */
static hwa_tensor *block(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *w, hwa_tensor *bw, hwa_tensor *bb, hwa_tensor *run,
                         hwa_dtype dt, bool train) {
    const hwa_conv2d_params cp = {.pad = {1, 1, 1, 1}};
    hwa_tensor *h = hwa_conv2d(ctx, x, in_dt(ctx, w, dt), NULL, &cp);
    hwa_tensor *s = in_dt(ctx, bw, dt), *b = in_dt(ctx, bb, dt);
    if (train) {
        h = hwa_batchnorm_train(ctx, h, s, b, run, HWA__CNN_BN_EPS, HWA__CNN_BN_MOMENTUM);
    } else { /* the running statistics: rows of run, as [C] views */
        const int64_t c = hwa_tensor_dim(run, 1);
        hwa_tensor *mean = hwa_reshape(ctx, hwa_slice(ctx, run, 0, 0, 1), 1, &c);
        hwa_tensor *var = hwa_reshape(ctx, hwa_slice(ctx, run, 0, 1, 1), 1, &c);
        h = hwa_batchnorm(ctx, h, s, b, in_dt(ctx, mean, dt), in_dt(ctx, var, dt), HWA__CNN_BN_EPS);
    }
    const hwa_pool2d_params pp = {.kind = HWA_POOL_MAX, .kernel = {2, 2}, .stride = {2, 2}};
    return hwa_pool2d(ctx, hwa_relu(ctx, h), &pp);
}

hwa_tensor *hwa__cnn_logits(hwa_ctx *ctx, const hwa__cnn *m, hwa_tensor *x, hwa_dtype dt, bool train, hwa_tensor *seed) {
    if (!x) return NULL;
    const int64_t rows = hwa_tensor_dim(x, 0);
    const int64_t img[4] = {rows, 1, HWA__CNN_SIDE, HWA__CNN_SIDE}, flat[2] = {rows, FLAT};
    hwa_tensor *h = hwa_reshape(ctx, x, 4, img);
    h = block(ctx, h, m->conv1_w, m->bn1_w, m->bn1_b, m->run[0], dt, train);
    h = block(ctx, h, m->conv2_w, m->bn2_w, m->bn2_b, m->run[1], dt, train);
    h = h ? hwa_reshape(ctx, h, 2, flat) : NULL;
    h = hwa_bias_add(ctx, hwa_matmul_ex(ctx, h, in_dt(ctx, m->fc1_w, dt), false, true), in_dt(ctx, m->fc1_b, dt));
    h = hwa_relu(ctx, h);
    if (train) h = hwa_dropout(ctx, h, HWA__CNN_DROPOUT, seed);
    return hwa_bias_add(ctx, hwa_matmul_ex(ctx, h, in_dt(ctx, m->fc2_w, dt), false, true), in_dt(ctx, m->fc2_b, dt));
}
