/* Data-parallel training, what one process can check: a training graph run
 * in parts (as a data-parallel step runs it, sending gradients between the
 * parts) gives the bits of the graph run whole; the backward pass finishes
 * the last layer's gradients first; a batch cut into slices in a fixed
 * order trains as the whole batch does, within rounding; and the MPI
 * module's errors. Runs across ranks are tested by tests/cli_mpi.sh. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "harness.h"
#include "hwadapt/bench.h"
#include "hwadapt/train.h"

enum { B = 48, F = 40, H = 32, C = 10 };

typedef struct mlp {
    hwa_ctx *ctx;
    hwa_backend *be;
    hwa_graph *g;
    hwa_tensor *p[6]; /* w1 b1 w2 b2 w3 b3 */
} mlp;

/* x -> Linear, relu -> Linear, gelu -> Linear -> cross-entropy: products
 * the CPU fuses with their bias and activation, whose intermediates the
 * backward pass reads. */
static bool mlp_make(mlp *m) {
    memset(m, 0, sizeof *m);
    m->ctx = hwa_ctx_new(&(hwa_ctx_params){.seed = 5});
    hwa_ctx *ctx = m->ctx;
    const int64_t dims[4] = {F, H, H, C};
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, B, F), *y = hwa_tensor_new_1d(ctx, HWA_I32, B), *h = x;
    for (int l = 0; l < 3; l++) {
        m->p[2 * l] = hwa_tensor_new_2d(ctx, HWA_F32, dims[l + 1], dims[l]);
        m->p[2 * l + 1] = hwa_tensor_new_1d(ctx, HWA_F32, dims[l + 1]);
        if (hwa_tensor_set_param(m->p[2 * l]) || hwa_tensor_set_param(m->p[2 * l + 1])) return false;
        h = hwa_bias_add(ctx, hwa_matmul_ex(ctx, h, m->p[2 * l], false, true), m->p[2 * l + 1]);
        if (l == 0) h = hwa_relu(ctx, h);
        if (l == 1) h = hwa_gelu(ctx, h);
    }
    hwa_tensor *loss = hwa_cross_entropy(ctx, h, y);
    m->g = hwa_graph_new(ctx);
    m->be = hwa_backend_new(ctx, "cpu");
    if (!loss || !m->g || !m->be || hwa_graph_build_forward(m->g, loss) ||
        hwa_graph_build_backward_ex(m->g, loss, HWA_GRAD_OVERWRITE) || hwa_ctx_alloc_leaves(ctx, m->be) ||
        hwa_tensor_fill_uniform(x, -1, 1))
        return false;
    for (int i = 0; i < 6; i++)
        if (hwa_tensor_fill_uniform(m->p[i], -0.3f, 0.3f)) return false;
    int32_t labels[B];
    for (int i = 0; i < B; i++) labels[i] = (i * 7) % C;
    return !hwa_tensor_set_bytes(y, labels, sizeof labels) && !hwa_graph_alloc(m->g, m->be, HWA_PLAN_REUSE, NULL);
}

static void mlp_free(mlp *m) {
    hwa_backend_free(m->be);
    hwa_ctx_free(m->ctx);
}

static int64_t grads_size(const mlp *m) {
    int64_t n = 0;
    for (int i = 0; i < 6; i++) n += hwa_tensor_nelements(m->p[i]);
    return n;
}

/* Every gradient into out, then each one overwritten with NaN, so that a
 * part that fails to write one shows. */
static bool grads_take(mlp *m, float *out) {
    for (int i = 0; i < 6; i++) {
        const int64_t n = hwa_tensor_nelements(m->p[i]);
        float *nan = malloc((size_t)n * sizeof *nan);
        for (int64_t k = 0; nan && k < n; k++) nan[k] = NAN;
        const bool ok = nan && !hwa_tensor_get_f32(hwa_tensor_grad(m->p[i]), out, n) &&
                        !hwa_tensor_set_f32(hwa_tensor_grad(m->p[i]), nan, n);
        free(nan);
        if (!ok) return false;
        out += n;
    }
    return true;
}

TEST(a_graph_run_in_two_parts_at_any_node_gives_the_whole_runs_bits) {
    mlp m;
    CHECK_MSG(mlp_make(&m), "%s", hwa_last_error());
    const int64_t P = grads_size(&m);
    float *whole = malloc((size_t)P * sizeof *whole), *parts = malloc((size_t)P * sizeof *parts);
    CHECK(whole && parts);
    CHECK_OK(hwa_graph_compute(m.g, m.be));
    CHECK(grads_take(&m, whole));
    const int n = hwa_graph_n_nodes(m.g);
    for (int cut = 0; cut <= n; cut++) {
        CHECK_OK(hwa__graph_compute_range(m.g, m.be, 0, cut));
        CHECK_OK(hwa__graph_compute_range(m.g, m.be, cut, n));
        CHECK(grads_take(&m, parts));
        CHECK_MSG(memcmp(whole, parts, (size_t)P * sizeof *whole) == 0, "cut before node %d of %d (%s) differs", cut,
                  n, cut < n ? hwa__op_name(hwa_graph_node(m.g, cut)->op) : "end");
    }
    CHECK_STATUS(hwa__graph_compute_range(m.g, m.be, 3, 2), HWA_E_MISUSE);
    CHECK_STATUS(hwa__graph_compute_range(m.g, m.be, 0, n + 1), HWA_E_MISUSE);
    free(whole);
    free(parts);
    mlp_free(&m);
}

/* The node after which a gradient is final: the copy into its storage. */
static int final_at(hwa_graph *g, const hwa_tensor *grad) {
    int at = -1;
    for (int i = 0; i < hwa_graph_n_nodes(g); i++)
        if ((hwa_graph_node(g, i)->flags & HWA_TF_INPLACE) && hwa_graph_node(g, i)->view_src == grad) at = i;
    return at;
}

TEST(the_backward_pass_finishes_the_last_layers_gradients_first) {
    mlp m;
    CHECK_MSG(mlp_make(&m), "%s", hwa_last_error());
    int at[6];
    for (int i = 0; i < 6; i++) {
        at[i] = final_at(m.g, hwa_tensor_grad(m.p[i]));
        CHECK(at[i] >= 0);
    }
    /* layer 3's weight and bias before layer 2's, before layer 1's */
    for (int l = 0; l < 2; l++)
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++)
                CHECK_MSG(at[2 * (l + 1) + a] < at[2 * l + b], "layer %d's gradient %d final at node %d, layer %d's "
                          "%d at %d", l + 2, a, at[2 * (l + 1) + a], l + 1, b, at[2 * l + b]);
    /* and the parameters keep the order they were reached in */
    for (int i = 0; i < 6; i++) CHECK(hwa_graph_param(m.g, i) == m.p[i]);
    mlp_free(&m);
}

static hwa_dataset *blobs(int64_t n, uint64_t seed) {
    float *x = malloc((size_t)n * F * sizeof *x);
    int32_t *y = malloc((size_t)n * sizeof *y);
    hwa_bench_rng r;
    hwa_bench_rng_init(&r, seed);
    for (int64_t i = 0; x && y && i < n; i++) {
        y[i] = (int32_t)(i % C);
        for (int f = 0; f < F; f++)
            x[i * F + f] = (float)(((y[i] * 3 + f) % 5) - 2) * 0.3f + (float)hwa_bench_rng_uniform(&r) - 0.5f;
    }
    hwa_dataset *d = NULL;
    if (x && y) hwa_dataset_from_arrays(x, y, n, F, C, &d);
    free(x);
    free(y);
    return d;
}

/* Trains 2 epochs; the epoch stats into s. */
static void on_epoch(void *ud, const hwa_epoch_stats *s) { ((hwa_epoch_stats *)ud)[s->epoch - 1] = *s; }

static hwa_status train(const hwa_dataset *tr, const hwa_dataset *te, int shards, hwa_epoch_stats s[2]) {
    hwa_train_config c = hwa_train_config_default();
    c.n_hidden = 1;
    c.hidden[0] = 32;
    c.batch = 50; /* 500 samples: 10 batches; then 10 slices of 5 rows, or 3 of 16/17 */
    c.epochs = 2;
    c.threads = 1;
    c.train_set = tr;
    c.test_set = te;
    c.shards = shards;
    hwa_trainer *t = NULL;
    hwa_status st = hwa_trainer_new(&c, &t);
    hwa_train_callbacks cb = {.epoch = on_epoch, .ud = s};
    if (st == HWA_OK) st = hwa_trainer_run(t, &cb);
    hwa_trainer_free(t);
    return st;
}

TEST(a_batch_cut_into_slices_trains_as_the_whole_batch_within_rounding) {
    hwa_dataset *tr = blobs(517, 1), *te = blobs(200, 2); /* 517: a partial batch of 17 */
    CHECK(tr && te);
    hwa_epoch_stats plain[2], three[2], three_again[2], ten[2];
    CHECK_MSG(!train(tr, te, 0, plain), "%s", hwa_last_error());
    CHECK_MSG(!train(tr, te, 3, three), "%s", hwa_last_error());
    CHECK_MSG(!train(tr, te, 3, three_again), "%s", hwa_last_error());
    CHECK_MSG(!train(tr, te, 10, ten), "%s", hwa_last_error());
    for (int e = 0; e < 2; e++) {
        CHECK_INT_EQ(three[e].step, plain[e].step);
        CHECK_INT_EQ(three[e].ranks, 1);
        /* the same order of additions every time: the same bits */
        CHECK(three[e].train_loss == three_again[e].train_loss);
        CHECK(three[e].test_loss == three_again[e].test_loss);
        CHECK_NEAR(three[e].train_loss / plain[e].train_loss, 1.0, 1e-5);
        CHECK_NEAR(ten[e].train_loss / plain[e].train_loss, 1.0, 1e-5);
        CHECK_NEAR(three[e].test_accuracy, plain[e].test_accuracy, 1e-9);
    }
    /* more slices than rows in a batch */
    hwa_epoch_stats s[2];
    CHECK_STATUS(train(tr, te, 51, s), HWA_E_INVALID);
    CHECK_MSG(strstr(hwa_last_error(), "--shards 51 exceeds --batch 50"), "%s", hwa_last_error());
    hwa_dataset_free(tr);
    hwa_dataset_free(te);
}

TEST(the_mpi_module_missing_or_foreign_is_a_clear_error) {
    hwa_dist *d = NULL;
    CHECK_STATUS(hwa_dist_init(&(hwa_dist_opts){.module = "/nonexistent/libhwadapt_mpi.so"}, &d), HWA_E_NOTFOUND);
    CHECK(d == NULL);
    CHECK_MSG(strstr(hwa_last_error(), "libopenmpi-dev") && strstr(hwa_last_error(), "/nonexistent/"), "%s",
              hwa_last_error());
    /* a shared object that is not a module */
    CHECK_STATUS(hwa_dist_init(&(hwa_dist_opts){.module = "libm.so.6"}, &d), HWA_E_UNSUPPORTED);
    CHECK(d == NULL);
    CHECK_MSG(strstr(hwa_last_error(), "not an hwadapt communication module"), "%s", hwa_last_error());
    /* alone, every call is about one rank */
    CHECK_INT_EQ(hwa_dist_size(NULL), 1);
    CHECK_INT_EQ(hwa_dist_rank(NULL), 0);
    hwa_dist_free(NULL);
}
