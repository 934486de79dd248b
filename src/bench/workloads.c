/* The built-in workloads, built as graphs (no hand-written forward passes):
 * stacks of Dense layers (y = x W^T + b, PyTorch's Linear layout) with relu
 * between them, and for training a cross-entropy loss, its backward pass and
 * an SGD update. */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "bench/bench_device.h"
#include "bench/workload.h"
#include "core/pool.h"
#include "hwadapt/nn.h"
#include "hwadapt/train.h"
#include "sched/sched_internal.h"

typedef struct workload_def {
    const char *name;
    const char *desc;
    int64_t batch;
    int n_dims;               /* layer widths: dims[0] inputs, dims[n_dims-1] outputs */
    int dims[4];
    bool softmax_out;         /* forward output is softmax(logits) */
    bool train;
} workload_def;

static const workload_def defs[] = {
    {"linear1000", "Linear 1000->1000 with bias (seed 1.1), forward", 64, 2, {1000, 1000}, false, false},
    {"mlp1000", "Dense 1000 relu -> Dense 1000 softmax on 1000 inputs (seed 1.2), forward", 1000, 3,
     {1000, 1000, 1000}, true, false},
    {"mlp1000-train", "mlp1000 training step: cross-entropy, backward, SGD", 1000, 3, {1000, 1000, 1000}, true, true},
    {"fmnist-mlp", "784->1000 relu->1000 relu->10 (Fashion-MNIST MLP), forward", 64, 4, {784, 1000, 1000, 10}, false,
     false},
    {"fmnist-mlp-train", "fmnist-mlp training step: cross-entropy, backward, SGD", 64, 4, {784, 1000, 1000, 10}, false,
     true},
};
#define N_DEFS ((int)(sizeof defs / sizeof defs[0]))

int hwa_bench_workload_count(void) { return N_DEFS; }
const char *hwa_bench_workload_name(int i) { return i >= 0 && i < N_DEFS ? defs[i].name : NULL; }
const char *hwa_bench_workload_desc(int i) { return i >= 0 && i < N_DEFS ? defs[i].desc : NULL; }
int64_t hwa_bench_workload_default_batch(int i) { return i >= 0 && i < N_DEFS ? defs[i].batch : 0; }

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

static void count(hwa__workload *w) {
    const hwa_graph *g = w->g;
    double flops = 0, bytes = 0;
    double most = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        double f = hwa__sched_node_flops(g->nodes[i]);
        flops += f;
        if (f > most) most = f, w->heaviest = g->nodes[i];
    }
    for (int i = 0; i < g->n_leaves; i++) bytes += (double)hwa_tensor_nbytes(g->leaves[i]);
    bytes += (double)hwa_tensor_nbytes(w->out);
    for (int i = 0; i < w->n_params; i++) {
        double n = (double)hwa_tensor_nelements(w->params[i]);
        flops += 2 * n;                                           /* p -= lr * grad */
        bytes += 2 * (double)hwa_tensor_nbytes(w->params[i]);    /* gradient written, parameter rewritten */
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

hwa_status hwa__workload_build(int index, const char *spec, hwa_dtype t, int64_t batch, int threads, uint64_t seed,
                               hwa__workload *w) {
    memset(w, 0, sizeof *w);
    if (index < 0 || index >= N_DEFS) return hwa__err(NULL, HWA_E_NOTFOUND, "workload index %d", index);
    const workload_def *d = &defs[index];
    if (batch < 1) return hwa__err(NULL, HWA_E_RANGE, "batch must be >= 1 (got %lld)", (long long)batch);
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
    w->lr = 0.01f;
    hwa_tensor *x = hwa_tensor_set_name(hwa_tensor_new_2d(ctx, t, batch, d->dims[0]), "x");
    hwa_tensor *h = x, *labels = NULL;
    for (int l = 0; l + 1 < d->n_dims; l++) {
        hwa_tensor *wt = hwa_tensor_new_2d(ctx, t, d->dims[l + 1], d->dims[l]); /* [out, in] */
        hwa_tensor *b = hwa_tensor_new_1d(ctx, t, d->dims[l + 1]);
        if (!wt || !b) goto fail;
        w->params[w->n_params++] = wt;
        w->params[w->n_params++] = b;
        h = hwa_bias_add(ctx, hwa_matmul_ex(ctx, h, wt, false, true), b);
        if (l + 2 < d->n_dims) h = hwa_relu(ctx, h);
    }
    if (d->train) {
        labels = hwa_tensor_new_1d(ctx, HWA_I32, batch);
        for (int i = 0; i < w->n_params; i++)
            if ((st = hwa_tensor_set_param(w->params[i]))) goto fail;
        w->out = hwa_cross_entropy(ctx, h, labels);
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
    for (int l = 0; !st && l + 1 < d->n_dims; l++) {
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
    /* Parameters on a device (no host address) are updated there, by the
     * optimizer's graph: plain SGD is the same p -= lr * grad. */
    if (d->train && t == HWA_F32 && !hwa_tensor_data(w->params[0])) {
        hwa_optim_config oc = hwa_optim_config_default(HWA_OPTIM_SGD);
        if ((st = hwa_optim_new(w->g, w->be, &oc, &w->opt))) goto fail;
    }
    count(w);
    return HWA_OK;
fail:
    if (!st) st = hwa_ctx_last_status(ctx) ? hwa_ctx_last_status(ctx) : HWA_E_INTERNAL;
    if (ctx && hwa_ctx_last_error(ctx)[0]) hwa__err(NULL, st, "%s: %s", d->name, hwa_ctx_last_error(ctx));
    hwa__workload_free(w);
    return st;
}

/* p -= lr * grad; f32 in place, other dtypes through f32 and back (the
 * update rounds to the parameter's dtype, as in mixed-precision-free SGD):
 * host-addressable ones in place a block at a time (the block's values
 * stay in L1 between the conversions) on the backend's threads, others
 * through whole copies in a scratch grown to the largest. */
enum { SGD_BLOCK = 2048 };

typedef struct sgd_job {
    char *p;
    const char *g;
    hwa_dtype pt, gt;
    int64_t n;
    float lr;
    atomic_int bad;
} sgd_job;

static void sgd_f32(void *ctx, int64_t j0, int64_t j1, int tid) {
    sgd_job *s = ctx;
    float *pf = (float *)s->p;
    const float *gf = (const float *)s->g;
    for (int64_t j = j0; j < j1; j++) pf[j] -= s->lr * gf[j];
}

/* Blocks [b0, b1) of SGD_BLOCK values widened, updated and rounded back. */
static void sgd_half(void *ctx, int64_t b0, int64_t b1, int tid) {
    sgd_job *s = ctx;
    const size_t pe = hwa_dtype_block_bytes(s->pt), ge = hwa_dtype_block_bytes(s->gt);
    for (int64_t bi = b0; bi < b1; bi++) {
        float a[SGD_BLOCK], b[SGD_BLOCK];
        const int64_t j0 = bi * SGD_BLOCK, m = s->n - j0 < SGD_BLOCK ? s->n - j0 : SGD_BLOCK;
        if (hwa_convert_to_f32(s->pt, s->p + (size_t)j0 * pe, a, m) ||
            hwa_convert_to_f32(s->gt, s->g + (size_t)j0 * ge, b, m)) {
            atomic_store(&s->bad, 1);
            continue;
        }
        for (int64_t j = 0; j < m; j++) a[j] -= s->lr * b[j];
        if (hwa_convert_from_f32(s->pt, s->p + (size_t)j0 * pe, a, m) != HWA_OK) atomic_store(&s->bad, 1);
    }
}

hwa_status hwa__workload_sgd(hwa__workload *w) {
    const int threads = hwa_backend_threads(w->be) > 0 ? hwa_backend_threads(w->be) : 1;
    for (int i = 0; i < w->n_params; i++) {
        hwa_tensor *p = w->params[i], *g = hwa_tensor_grad(p);
        if (!g) return hwa__err(NULL, HWA_E_INTERNAL, "parameter %d has no gradient", i);
        const int64_t n = hwa_tensor_nelements(p);
        const hwa_dtype pt = hwa_tensor_dtype(p), gt = hwa_tensor_dtype(g);
        char *pd = hwa_tensor_is_contiguous(p) ? hwa_tensor_data(p) : NULL;
        const char *gd = hwa_tensor_is_contiguous(g) ? hwa_tensor_data(g) : NULL;
        hwa_status st = HWA_OK;
        sgd_job job = {pd, gd, pt, gt, n, w->lr, 0};
        if (pd && gd && pt == HWA_F32 && gt == HWA_F32) {
            hwa__par_for(n >= 65536 ? threads : 1, n, n >= 65536 ? (n + 4 * threads - 1) / (4 * threads) : n,
                         sgd_f32, &job);
        } else if (pd && gd && !hwa_dtype_is_quantized(pt) && !hwa_dtype_is_quantized(gt)) {
            /* elementwise: the threads cannot change a bit */
            const int64_t blocks = (n + SGD_BLOCK - 1) / SGD_BLOCK;
            hwa__par_for(threads, blocks, 1, sgd_half, &job);
            const int bad = atomic_load(&job.bad);
            if (bad) st = hwa__err(NULL, HWA_E_INTERNAL, "SGD: parameter %d could not be converted", i);
        } else {
            if (n > w->scratch_n) { /* made on first need: host tensors never take this path */
                free(w->scratch);
                w->scratch = malloc(2 * (size_t)n * sizeof *w->scratch);
                w->scratch_n = w->scratch ? n : 0;
                if (!w->scratch) return hwa__err(NULL, HWA_E_NOMEM, "out of memory for the SGD scratch");
            }
            float *a = w->scratch, *b = w->scratch + w->scratch_n;
            st = hwa_tensor_get_f32(p, a, n);
            if (!st) st = hwa_tensor_get_f32(g, b, n);
            for (int64_t j = 0; !st && j < n; j++) a[j] -= w->lr * b[j];
            if (!st) st = hwa_tensor_set_f32(p, a, n);
            if (st) return st;
            continue;
        }
        if (st) return st;
        hwa_tensor_mark_modified(p); /* written through its pointer */
    }
    return HWA_OK;
}

hwa_status hwa__workload_run(hwa__workload *w) {
    if (w->llama) return hwa__model_run(w);
    if (w->reps) return hwa__workload_run_split(w);
    hwa_status st;
    if (w->train && (st = hwa_graph_zero_grads(w->g))) return st;
    if ((st = w->pl ? hwa__workload_compute_placed(w) : hwa_graph_compute(w->g, w->be))) return st;
    if (w->train && (st = w->opt ? hwa_optim_step(w->opt, w->lr) : hwa__workload_sgd(w))) return st;
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
    hwa_backend_free(w->be);
    hwa_ctx_free(w->ctx);
    free(w->scratch);
    hwa_llama_free(w->llama);
    free(w->tokens);
    free(w->logits);
    memset(w, 0, sizeof *w);
}
