/* The built-in workloads, built as graphs (no hand-written forward passes):
 * stacks of Dense layers (y = x W^T + b, PyTorch's Linear layout) with relu
 * between them, or fmnist-cnn (src/nn/cnn.h), and for training a
 * cross-entropy loss, its backward pass and an optimizer's update
 * (hwa_optim: Adam by default, as the seed's Keras model compiles with
 * optimizer='adam'). */
#include <math.h>
#include <string.h>

#include "bench/bench_device.h"
#include "bench/workload.h"
#include "hwadapt/onnx.h"
#include "hwadapt/compress.h"
#include "hwadapt/nn.h"
#include "hwadapt/train.h"
#include "nn/cnn.h"
#include "sched/sched_internal.h"

typedef struct workload_def {
    const char *name;
    const char *desc;
    int64_t batch;
    int n_dims;               /* layer widths: dims[0] inputs, dims[n_dims-1] outputs */
    int dims[4];
    bool softmax_out;         /* forward output is softmax(logits) */
    bool train;
    bool cnn;                 /* fmnist-cnn (dims: its inputs and classes) instead of Dense layers */
} workload_def;

static const workload_def defs[] = {
    {"linear1000", "Linear 1000->1000 with bias (seed 1.1), forward", 64, 2, {1000, 1000}, false, false, false},
    {"mlp1000", "Dense 1000 relu -> Dense 1000 softmax on 1000 inputs (seed 1.2), forward", 1000, 3,
     {1000, 1000, 1000}, true, false, false},
    {"mlp1000-train", "mlp1000 training step: cross-entropy, backward, Adam update (--optimizer)", 1000, 3,
     {1000, 1000, 1000}, true, true, false},
    {"fmnist-mlp", "784->1000 relu->1000 relu->10 (Fashion-MNIST MLP), forward", 64, 4, {784, 1000, 1000, 10}, false,
     false, false},
    {"fmnist-mlp-train", "fmnist-mlp training step: cross-entropy, backward, Adam update (--optimizer)", 64, 4,
     {784, 1000, 1000, 10}, false, true, false},
    {"fmnist-cnn", "conv 32, bn, relu, pool -> conv 64, bn, relu, pool -> 128 relu -> 10 (Fashion-MNIST CNN), forward",
     64, 2, {784, 10}, false, false, true},
    {"fmnist-cnn-train", "fmnist-cnn training step: batch statistics, dropout, cross-entropy, backward, Adam update "
     "(--optimizer)", 64, 2, {784, 10}, false, true, true},
};
#define N_DEFS ((int)(sizeof defs / sizeof defs[0]))

int hwa_bench_workload_count(void) { return N_DEFS; }
const char *hwa_bench_workload_name(int i) { return i >= 0 && i < N_DEFS ? defs[i].name : NULL; }
const char *hwa_bench_workload_desc(int i) { return i >= 0 && i < N_DEFS ? defs[i].desc : NULL; }
int64_t hwa_bench_workload_default_batch(int i) { return i >= 0 && i < N_DEFS ? defs[i].batch : 0; }
bool hwa_bench_workload_trains(int i) { return i >= 0 && i < N_DEFS && defs[i].train; }

hwa_status hwa_bench_workload_find(const char *name, int *index) {
    for (int i = 0; name && i < N_DEFS; i++)
        if (!strcmp(name, defs[i].name)) {
            *index = i;
            return HWA_OK;
        }
    char list[256] = "";
    for (int i = 0; i < N_DEFS; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", defs[i].name);
    return hwa__err(NULL, HWA_E_NOTFOUND, "unknown workload '%s'; available: %s", name ? name : "(null)", list);
}

/* ---- counting ---------------------------------------------------------- */

/* An update's operations per parameter element: the reference kernels'
 * float operations (backends/cpu/ref/ref_optim.c) with PyTorch's defaults,
 * no clipping: SGD p -= lr*g (2); momentum buf = mom*buf + g first (4);
 * Nesterov then g + mom*buf (6); Adam the two moments (3 + 4), the
 * denominator sqrt(v)/bc2 + eps (3), m/denom, the step's product and the
 * subtraction (13); AdamW first its decay p *= 1 - lr*wd (14). */
static const double update_flops[HWA_OPTIM_COUNT] = {2, 4, 6, 13, 14};

void hwa__workload_count_flops(hwa__workload *w) {
    double flops = 0, most = -1;
    for (int i = 0; i < hwa_graph_n_nodes(w->g); i++) {
        hwa_tensor *node = hwa_graph_node(w->g, i);
        const double f = hwa__sched_node_flops(node);
        flops += f;
        if (f > most) most = f, w->heaviest = node;
    }
    w->flops_per_query = flops;
}

static void count(hwa__workload *w) {
    const hwa_graph *g = w->g;
    hwa__workload_count_flops(w);
    double flops = w->flops_per_query, bytes = 0;
    for (int i = 0; i < g->n_leaves; i++) bytes += (double)hwa_tensor_nbytes(g->leaves[i]);
    bytes += (double)hwa_tensor_nbytes(w->out);
    const bool update = w->train && w->optim != HWA__OPTIM_NONE;
    for (int i = 0; w->train && i < w->n_params; i++) {
        const double n = (double)hwa_tensor_nelements(w->params[i]), b = (double)hwa_tensor_nbytes(w->params[i]);
        /* The gradient is written; an update rewrites the parameter (read
         * once as a leaf above) and reads and writes each state slot. The
         * update reads the gradient too, right after the backward pass
         * wrote it: a lower bound counts those bytes once. */
        bytes += b;
        if (!update) continue;
        flops += update_flops[w->optim] * n;
        bytes += b + 2 * hwa_optim_kind_slots((hwa_optim_kind)w->optim) * b;
    }
    w->flops_per_query = flops;
    w->bytes_per_query = bytes;
}

/* ---- building ---------------------------------------------------------- */

static hwa_status fill(hwa_tensor *t, hwa_bench_rng *r, float bound, float *tmp) {
    int64_t n = hwa_tensor_nelements(t);
    for (int64_t i = 0; i < n; i++) tmp[i] = (float)((2 * hwa_bench_rng_uniform(r) - 1) * bound);
    return hwa_tensor_set_f32(t, tmp, n);
}

/* The rate a training workload updates with: 1e-3 for Adam and AdamW
 * (PyTorch's and Keras's default), 0.01 for SGD, momentum and Nesterov
 * (Keras's SGD default, the rate these workloads used before Adam). */
static float update_lr(int optim) { return optim == HWA_OPTIM_ADAM || optim == HWA_OPTIM_ADAMW ? 1e-3f : 0.01f; }

/* p in the compute dtype t: p itself, or a cast through which the backward
 * pass brings the gradient back to p's dtype. */
static hwa_tensor *in_dtype(hwa_ctx *ctx, hwa_tensor *p, hwa_dtype t) {
    return p && hwa_tensor_dtype(p) != t ? hwa_cast(ctx, p, t) : p;
}

hwa_status hwa__workload_build(int index, const char *spec, hwa_dtype t, int64_t batch, int threads, uint64_t seed,
                               int optim, hwa__workload *w) {
    memset(w, 0, sizeof *w);
    if (index < 0 || index >= N_DEFS) return hwa__err(NULL, HWA_E_NOTFOUND, "workload index %d", index);
    const workload_def *d = &defs[index];
    if (batch < 1) return hwa__err(NULL, HWA_E_RANGE, "batch must be >= 1 (got %lld)", (long long)batch);
    if (d->train && optim != HWA__OPTIM_NONE && (optim < 0 || optim >= HWA_OPTIM_COUNT))
        return hwa__err(NULL, HWA_E_INVALID, "%s: unknown optimizer kind %d", d->name, optim);
    hwa_status st = HWA_OK;
    if (spec && !hwa__bdev_supports_dtype(spec, t)) {
        char list[64];
        hwa__bdev_dtypes(spec, list, sizeof list);
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "device %s cannot run %s; available: %s", spec, hwa_dtype_name(t), list);
    }
    w->ctx = hwa_ctx_new(&(hwa_ctx_params){.seed = seed});
    if (!w->ctx) return HWA_E_NOMEM;
    hwa_ctx *ctx = w->ctx;
    w->train = d->train;
    w->def_index = index;
    w->dtype = t;
    w->optim = d->train ? optim : HWA__OPTIM_NONE;
    w->lr = update_lr(w->optim);
    /* Training keeps f32 master parameters (the optimizer's update ops take
     * f32, and a bf16 parameter would drop the small steps), cast to t in
     * the graph as the trainer does (hwa_train_config.dtype); the logits are
     * cast to f32 before the loss. A forward workload stores its weights in
     * t. */
    const hwa_dtype pt = d->train ? HWA_F32 : t;
    hwa_tensor *x = hwa_tensor_set_name(hwa_tensor_new_2d(ctx, t, batch, d->dims[0]), "x");
    hwa_tensor *h = x, *labels = NULL, *mask_seed = NULL; /* fmnist-cnn-train's dropout: i32 [2] */
    hwa__cnn cnn;
    if (d->cnn) { /* f32 tensors cast to t in the graph, as the trainer computes it */
        if ((st = hwa__cnn_make(ctx, d->dims[d->n_dims - 1], &cnn))) goto fail;
        for (int i = 0; i < HWA__CNN_N_PARAMS; i++) w->params[w->n_params++] = hwa__cnn_param(&cnn, i, NULL);
        if (d->train) mask_seed = hwa_tensor_new_1d(ctx, HWA_I32, 2);
        h = hwa__cnn_logits(ctx, &cnn, x, t, d->train, mask_seed);
    }
    for (int l = 0; !d->cnn && l + 1 < d->n_dims; l++) {
        hwa_tensor *wt = hwa_tensor_new_2d(ctx, pt, d->dims[l + 1], d->dims[l]); /* [out, in] */
        hwa_tensor *b = hwa_tensor_new_1d(ctx, pt, d->dims[l + 1]);
        if (!wt || !b) goto fail;
        w->params[w->n_params++] = wt;
        w->params[w->n_params++] = b;
        h = hwa_bias_add(ctx, hwa_matmul_ex(ctx, h, in_dtype(ctx, wt, t), false, true), in_dtype(ctx, b, t));
        if (l + 2 < d->n_dims) h = hwa_relu(ctx, h);
    }
    if (d->train) {
        labels = hwa_tensor_new_1d(ctx, HWA_I32, batch);
        for (int i = 0; i < w->n_params; i++)
            if ((st = hwa_tensor_set_param(w->params[i]))) goto fail;
        w->out = hwa_cross_entropy(ctx, in_dtype(ctx, h, HWA_F32), labels);
    } else {
        w->out = d->softmax_out ? hwa_softmax(ctx, h) : h;
    }
    w->g = hwa_graph_new(ctx);
    if (!w->out || !w->g || (st = hwa_graph_build_forward(w->g, w->out))) goto fail;
    if (d->train && (st = hwa_graph_build_backward(w->g, w->out))) goto fail;
    if (!spec) { /* the graph alone */
        count(w);
        return HWA_OK;
    }

    w->be = hwa_backend_new(ctx, spec);
    if (!w->be) goto fail;
    if ((st = hwa__bdev_set_threads(w->be, threads)) || (st = hwa_ctx_alloc_leaves(ctx, w->be))) goto fail;

    /* The same f32 values for every dtype: weights like PyTorch's default
     * (uniform in +-1/sqrt(fan_in)), inputs uniform in [-1, 1). */
    int64_t most = hwa_tensor_nelements(x);
    for (int i = 0; i < w->n_params; i++)
        if (hwa_tensor_nelements(w->params[i]) > most) most = hwa_tensor_nelements(w->params[i]);
    float *tmp = malloc((size_t)most * sizeof *tmp);
    if (!tmp) {
        st = hwa__err(NULL, HWA_E_NOMEM, "out of memory for %lld values", (long long)most);
        goto fail;
    }
    hwa_bench_rng r;
    hwa_bench_rng_init(&r, seed);
    st = fill(x, &r, 1.0f, tmp);
    if (!st && d->cnn) st = hwa__cnn_init(&cnn); /* from the context's generator, seeded by seed */
    if (!st && mask_seed)
        st = hwa_tensor_set_bytes(mask_seed, (int32_t[2]){(int32_t)(uint32_t)seed, 0}, 2 * sizeof(int32_t));
    for (int l = 0; !st && !d->cnn && l + 1 < d->n_dims; l++) {
        float bound = 1.0f / sqrtf((float)d->dims[l]);
        st = fill(w->params[2 * l], &r, bound, tmp);
        if (!st) st = fill(w->params[2 * l + 1], &r, bound, tmp);
    }
    if (!st && labels) {
        int32_t *lab = (int32_t *)tmp; /* batch <= most: x has batch rows of >= 1 value */
        for (int64_t i = 0; i < batch; i++)
            lab[i] = (int32_t)(hwa_bench_rng_uniform(&r) * d->dims[d->n_dims - 1]) % d->dims[d->n_dims - 1];
        st = hwa_tensor_set_bytes(labels, lab, (size_t)batch * sizeof(int32_t));
    }
    free(tmp);
    if (st) goto fail;

    hwa_plan_stats ps;
    if ((st = hwa_graph_alloc(w->g, w->be, HWA_PLAN_REUSE, &ps))) goto fail;
    w->planned_bytes = (int64_t)(ps.arena_bytes + ps.persistent_bytes);
    /* The update runs where the parameters are, as the optimizer's graph;
     * its state (zeroed) lives there too. */
    if (w->optim != HWA__OPTIM_NONE) {
        const hwa_optim_config oc = hwa_optim_config_default((hwa_optim_kind)w->optim);
        if ((st = hwa_optim_new(w->g, w->be, &oc, &w->opt))) goto fail;
        for (int i = 0; i < w->n_params; i++)
            for (int k = 0; k < hwa_optim_n_slots(w->opt); k++)
                w->planned_bytes += (int64_t)hwa_tensor_nbytes(hwa_optim_state(w->opt, i, k));
    }
    count(w);
    return HWA_OK;
fail:
    if (!st) st = hwa_ctx_last_status(ctx) ? hwa_ctx_last_status(ctx) : HWA_E_INTERNAL;
    if (ctx && hwa_ctx_last_error(ctx)[0]) hwa__err(NULL, st, "%s: %s", d->name, hwa_ctx_last_error(ctx));
    hwa__workload_free(w);
    return st;
}

hwa_status hwa__workload_run(hwa__workload *w) {
    if (w->llama) return hwa__model_run(w);
    if (w->reps) return hwa__workload_run_split(w);
    hwa_status st;
    if (w->train && (st = hwa_graph_zero_grads(w->g))) return st;
    if ((st = w->pl ? hwa__workload_compute_placed(w) : hwa_graph_compute(w->g, w->be))) return st;
    if (!w->kernel[0]) hwa__bdev_kernel(w->be, w->heaviest, w->kernel, sizeof w->kernel);
    if (w->opt && (st = hwa_optim_step(w->opt, w->lr))) return st;
    return hwa_backend_synchronize(w->be);
}

int64_t hwa__workload_out_n(const hwa__workload *w) { return w->llama ? w->vocab : hwa_tensor_nelements(w->out); }

hwa_status hwa__workload_output(const hwa__workload *w, float *dst, int64_t n) {
    if (w->gathered) {
        if (n > hwa_tensor_nelements(w->out)) return hwa__err(NULL, HWA_E_RANGE, "%lld outputs asked", (long long)n);
        memcpy(dst, w->gathered, (size_t)n * sizeof *dst);
        return HWA_OK;
    }
    if (!w->llama) return hwa_tensor_get_f32(w->out, dst, n);
    if (n > w->vocab) return hwa__err(NULL, HWA_E_RANGE, "%lld logits asked, %d held", (long long)n, w->vocab);
    memcpy(dst, w->logits, (size_t)n * sizeof *dst);
    return HWA_OK;
}

void hwa__workload_free(hwa__workload *w) {
    if (!w) return;
    for (int k = 0; k < w->n_reps; k++) hwa__workload_free(&w->reps[k]);
    free(w->reps);
    free(w->shares);
    free(w->gathered);
    hwa_placement_free(w->pl);
    for (int k = 0; k < w->n_place_be; k++) hwa_backend_free(w->place_be[k]);
    hwa_optim_free(w->opt);
    if (w->cnet) w->be = NULL; /* the net's own */
    hwa_cm_net_free(w->cnet);
    hwa_backend_free(w->be);
    hwa_onnx_net_free(w->onet);
    hwa_ctx_free(w->ctx);
    hwa_onnx_free(w->onnx);
    hwa_llama_free(w->llama);
    free(w->tokens);
    free(w->seqs);
    free(w->logits);
    memset(w, 0, sizeof *w);
}
