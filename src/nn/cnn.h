/* fmnist-cnn, the built-in convolutional net for Fashion-MNIST, as graph
 * builders shared by the trainer (src/train/model_cnn.c) and the bench
 * workloads fmnist-cnn and fmnist-cnn-train (src/bench/workloads.c). Not a
 * published API; the architecture is HWA_TRAIN_CNN_ARCH (train.h):
 *
 *   x [N, 784] -> [N, 1, 28, 28]
 *   conv1 3x3 pad 1, 1 -> 32, no bias      [N, 32, 28, 28]
 *   bn1, relu, maxpool 2x2 stride 2        [N, 32, 14, 14]
 *   conv2 3x3 pad 1, 32 -> 64, no bias     [N, 64, 14, 14]
 *   bn2, relu, maxpool 2x2 stride 2        [N, 64, 7, 7] -> [N, 3136]
 *   fc1 3136 -> 128, relu, dropout 0.25    [N, 128]
 *   fc2 128 -> classes                     [N, classes]
 *
 * The convolutions have no bias: the batchnorm right after removes any
 * per-channel constant, and its own bias takes that role. */
#ifndef HWADAPT_NN_CNN_H
#define HWADAPT_NN_CNN_H

#include "core/internal.h"

#define HWA__CNN_SIDE 28
#define HWA__CNN_FEATURES (HWA__CNN_SIDE * HWA__CNN_SIDE)
#define HWA__CNN_N_PARAMS 10
#define HWA__CNN_N_BN 2
#define HWA__CNN_BN_EPS 1e-5f      /* PyTorch's BatchNorm2d defaults */
#define HWA__CNN_BN_MOMENTUM 0.1f
#define HWA__CNN_DROPOUT 0.25f

/* The net's tensors on one context, all f32 leaves. */
typedef struct hwa__cnn {
    /* in PyTorch's state_dict order (hwa__cnn_param_name): */
    hwa_tensor *conv1_w;        /* [32, 1, 3, 3] */
    hwa_tensor *bn1_w, *bn1_b;  /* [32] */
    hwa_tensor *conv2_w;        /* [64, 32, 3, 3] */
    hwa_tensor *bn2_w, *bn2_b;  /* [64] */
    hwa_tensor *fc1_w, *fc1_b;  /* [128, 3136], [128] */
    hwa_tensor *fc2_w, *fc2_b;  /* [classes, 128], [classes] */
    hwa_tensor *run[HWA__CNN_N_BN]; /* [2, C]: bn<k+1>'s running mean (row 0) and variance (row 1),
                                       persistent leaves that training graphs update in place */
} hwa__cnn;

/* Makes m's tensors on ctx (no values yet; not marked trainable). Errors:
 * the context's (HWA_E_NOMEM), HWA_E_INVALID for classes < 1. */
hwa_status hwa__cnn_make(hwa_ctx *ctx, int64_t classes, hwa__cnn *m);
/* Parameter i (0 .. HWA__CNN_N_PARAMS - 1) in state_dict order, and its
 * name ("conv1.weight", "bn1.bias", "fc2.bias", ...). */
hwa_tensor *hwa__cnn_param(const hwa__cnn *m, int i, const char **name);
/* PyTorch's initialization, from the context's seeded generator in layer
 * order: convolution and linear weights kaiming-uniform, which is
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)), linear biases likewise; batchnorm
 * weight 1, bias 0, running mean 0, running variance 1. The tensors must
 * have storage. */
hwa_status hwa__cnn_init(const hwa__cnn *m);
/* The logits [N, classes] of x [N, 784] in dtype dt (the f32 tensors are
 * cast to it in the graph). train: batchnorm with the batch's statistics
 * (updating m->run at each compute) and dropout with seed (an i32 [2]
 * leaf the caller sets per step); else batchnorm with the running
 * statistics and no dropout. NULL with the context's error recorded. */
hwa_tensor *hwa__cnn_logits(hwa_ctx *ctx, const hwa__cnn *m, hwa_tensor *x, hwa_dtype dt, bool train, hwa_tensor *seed);

#endif
