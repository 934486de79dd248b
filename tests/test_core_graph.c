/* The core engine end to end through the public API: the seed's Linear
 * example, training a small MLP, the memory planner, views. */
#include <stdlib.h>

#include "harness.h"

/* A deterministic generator independent of the library's. */
static float lcg_uniform(uint64_t *s, float lo, float hi) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (float)((*s >> 40) * 0x1p-24);
}

static void fill_lcg(float *a, int64_t n, uint64_t seed, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) a[i] = lcg_uniform(&seed, lo, hi);
}

TEST(seed_linear_1000_matches_independent_computation) {
    enum { B = 64, IN = 1000, OUT = 1000 };
    float *x = malloc(sizeof(float) * B * IN), *w = malloc(sizeof(float) * OUT * IN), *b = malloc(sizeof(float) * OUT);
    float *y = malloc(sizeof(float) * B * OUT);
    CHECK(x && w && b && y);
    fill_lcg(x, B * IN, 1, -1, 1);
    fill_lcg(w, OUT * IN, 2, -0.05f, 0.05f);
    fill_lcg(b, OUT, 3, -1, 1);

    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *tx = hwa_tensor_new_2d(ctx, HWA_F32, B, IN);
    hwa_tensor *tw = hwa_tensor_new_2d(ctx, HWA_F32, OUT, IN); /* PyTorch's Linear layout [out, in] */
    hwa_tensor *tb = hwa_tensor_new_1d(ctx, HWA_F32, OUT);
    hwa_tensor *ty = hwa_bias_add(ctx, hwa_matmul_ex(ctx, tx, tw, false, true), tb);
    CHECK(ty);
    CHECK_INT_EQ(hwa_tensor_dim(ty, 0), B);
    CHECK_INT_EQ(hwa_tensor_dim(ty, 1), OUT);
    hwa_graph *g = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g, ty));
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    CHECK(be);
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    CHECK_OK(hwa_tensor_set_f32(tx, x, B * IN));
    CHECK_OK(hwa_tensor_set_f32(tw, w, OUT * IN));
    CHECK_OK(hwa_tensor_set_f32(tb, b, OUT));
    CHECK_OK(hwa_graph_compute(g, be));
    CHECK_OK(hwa_tensor_get_f32(ty, y, B * OUT));

    /* Independent computation in double: y = x W^T + b. */
    double max_err = 0;
    for (int i = 0; i < B; i++) {
        for (int o = 0; o < OUT; o++) {
            double acc = b[o];
            for (int k = 0; k < IN; k++) acc += (double)x[i * IN + k] * (double)w[o * IN + k];
            double e = fabs(acc - (double)y[i * OUT + o]);
            if (e > max_err) max_err = e;
        }
    }
    /* |y| is at most ~ 1000 * 0.05 + 1 = 51; f32 storage of the result alone
     * rounds by up to 51 * 2^-24 ~ 3e-6, so 1e-4 leaves room for the
     * kernel's own summation order. */
    CHECK_NEAR(max_err, 0.0, 1e-4);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    free(x), free(w), free(b), free(y);
}

/* A fixed synthetic problem: 3 classes of 64 points in 8 dimensions, each
 * labelled by which of three fixed directions it points to most. */
static void make_problem(float *x, int32_t *labels, int n, int d) {
    uint64_t s = 7;
    for (int i = 0; i < n; i++) {
        float best = -1e9f;
        for (int j = 0; j < d; j++) x[i * d + j] = lcg_uniform(&s, -1, 1);
        for (int c = 0; c < 3; c++) {
            float v = x[i * d + c] - 0.5f * x[i * d + c + 3];
            if (v > best) {
                best = v;
                labels[i] = c;
            }
        }
    }
}

TEST(mlp_trains_with_sgd_below_threshold) {
    enum { N = 64, D = 8, H = 16, C = 3, STEPS = 50 };
    const float lr = 0.5f;
    float x[N * D];
    int32_t labels[N];
    make_problem(x, labels, N, D);

    hwa_ctx *ctx = hwa_ctx_new(&(hwa_ctx_params){.seed = 5});
    hwa_tensor *tx = hwa_tensor_new_2d(ctx, HWA_F32, N, D);
    hwa_tensor *ty = hwa_tensor_new_1d(ctx, HWA_I32, N);
    hwa_tensor *w1 = hwa_tensor_new_2d(ctx, HWA_F32, H, D), *b1 = hwa_tensor_new_1d(ctx, HWA_F32, H);
    hwa_tensor *w2 = hwa_tensor_new_2d(ctx, HWA_F32, C, H), *b2 = hwa_tensor_new_1d(ctx, HWA_F32, C);
    hwa_tensor *params[] = {w1, b1, w2, b2};
    for (int i = 0; i < 4; i++) CHECK_OK(hwa_tensor_set_param(params[i]));
    hwa_tensor *h = hwa_relu(ctx, hwa_bias_add(ctx, hwa_matmul_ex(ctx, tx, w1, false, true), b1));
    hwa_tensor *logits = hwa_bias_add(ctx, hwa_matmul_ex(ctx, h, w2, false, true), b2);
    hwa_tensor *loss = hwa_cross_entropy(ctx, logits, ty);
    CHECK(loss);
    hwa_graph *g = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g, loss));
    CHECK_OK(hwa_graph_build_backward(g, loss));
    CHECK_INT_EQ(hwa_graph_n_params(g), 4);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    CHECK_OK(hwa_tensor_set_f32(tx, x, N * D));
    CHECK_OK(hwa_tensor_set_bytes(ty, labels, sizeof labels));
    CHECK_OK(hwa_tensor_fill_uniform(w1, -0.35f, 0.35f)); /* ~ 1/sqrt(D) */
    CHECK_OK(hwa_tensor_fill_uniform(w2, -0.25f, 0.25f)); /* ~ 1/sqrt(H) */

    float first = 0, l = 0;
    for (int step = 0; step < STEPS; step++) {
        CHECK_OK(hwa_graph_zero_grads(g));
        CHECK_OK(hwa_graph_compute(g, be));
        CHECK_OK(hwa_tensor_get_f32(loss, &l, 1));
        if (step == 0) first = l;
        for (int i = 0; i < 4; i++) { /* p -= lr * grad */
            int64_t n = hwa_tensor_nelements(params[i]);
            float *p = hwa_tensor_data(params[i]), *gr = hwa_tensor_data(hwa_tensor_grad(params[i]));
            CHECK(p && gr);
            for (int64_t j = 0; j < n; j++) p[j] -= lr * gr[j];
        }
    }
    CHECK_OK(hwa_graph_compute(g, be));
    CHECK_OK(hwa_tensor_get_f32(loss, &l, 1));
    /* Chance level is ln 3 = 1.10; the problem is nearly linearly separable,
     * so 50 full-batch steps must bring the loss below 0.3. */
    fprintf(stderr, "    cross-entropy %.4f at step 0, %.4f after %d steps\n", first, l, STEPS);
    CHECK_NEAR(first, 1.0986, 0.15);
    CHECK_MSG(l < 0.3f, "loss after %d SGD steps: %g (first %g), threshold 0.3", STEPS, l, first);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

/* A 20-layer MLP with a loss, forward and backward. */
typedef struct deep_mlp {
    hwa_ctx *ctx;
    hwa_graph *g;
    hwa_tensor *x, *loss, *w[20];
} deep_mlp;

static bool build_deep_mlp(deep_mlp *m, int batch, int width) {
    m->ctx = hwa_ctx_new(&(hwa_ctx_params){.seed = 11});
    m->x = hwa_tensor_new_2d(m->ctx, HWA_F32, batch, width);
    hwa_tensor *h = m->x;
    for (int i = 0; i < 20; i++) {
        m->w[i] = hwa_tensor_new_2d(m->ctx, HWA_F32, width, width);
        if (hwa_tensor_set_param(m->w[i])) return false;
        h = hwa_tanh(m->ctx, hwa_matmul_ex(m->ctx, h, m->w[i], false, true));
    }
    m->loss = hwa_mean(m->ctx, hwa_mul(m->ctx, h, h));
    m->g = hwa_graph_new(m->ctx);
    return m->loss && !hwa_graph_build_forward(m->g, m->loss) && !hwa_graph_build_backward(m->g, m->loss);
}

TEST(planner_peak_below_half_of_intermediates_for_20_layer_mlp) {
    deep_mlp m;
    CHECK_MSG(build_deep_mlp(&m, 32, 64), "%s", hwa_ctx_last_error(m.ctx));
    hwa_plan_stats reuse, naive;
    CHECK_OK(hwa_graph_plan(m.g, HWA_PLAN_REUSE, &reuse));
    CHECK_OK(hwa_graph_plan(m.g, HWA_PLAN_NAIVE, &naive));
    fprintf(stderr, "    planned peak %zu bytes, sum of intermediates %zu bytes (%d tensors, %d in place)\n",
            reuse.arena_bytes, reuse.intermediate_bytes, reuse.n_intermediates, reuse.n_inplace);
    CHECK_INT_EQ(naive.arena_bytes, naive.intermediate_bytes);
    CHECK_INT_EQ(reuse.intermediate_bytes, naive.intermediate_bytes);
    CHECK_MSG(reuse.arena_bytes * 2 < reuse.intermediate_bytes, "peak %zu is not below half of %zu",
              reuse.arena_bytes, reuse.intermediate_bytes);
    CHECK(reuse.persistent_bytes == 20u * 64 * 64 * sizeof(float));
    hwa_ctx_free(m.ctx);
}

/* Runs the deep MLP once with the given plan; copies the loss and every
 * gradient out. */
static bool run_deep_mlp(hwa_plan_mode mode, float *out, size_t n_out) {
    deep_mlp m;
    if (!build_deep_mlp(&m, 32, 64)) return false;
    hwa_backend *be = hwa_backend_new(m.ctx, "cpu");
    bool ok = be && !hwa_ctx_alloc_leaves(m.ctx, be) && !hwa_tensor_fill_uniform(m.x, -1, 1);
    for (int i = 0; ok && i < 20; i++) ok = !hwa_tensor_fill_uniform(m.w[i], -0.2f, 0.2f);
    ok = ok && !hwa_graph_alloc(m.g, be, mode, NULL) && !hwa_graph_compute(m.g, be);
    ok = ok && !hwa_tensor_get_f32(m.loss, out, 1);
    for (int i = 0; ok && i < 20; i++)
        ok = 1 + (size_t)(i + 1) * 64 * 64 <= n_out &&
             !hwa_tensor_get_f32(hwa_tensor_grad(m.w[i]), out + 1 + (size_t)i * 64 * 64, 64 * 64);
    hwa_backend_free(be);
    hwa_ctx_free(m.ctx);
    return ok;
}

TEST(a_graph_that_grows_after_a_compute_is_planned_again) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *x = hwa_tensor_new_1d(ctx, HWA_F32, 300);
    hwa_tensor *y = hwa_relu(ctx, hwa_scale(ctx, x, 2.0f));
    hwa_graph *g = hwa_graph_new(ctx);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    CHECK(y && g && be);
    CHECK_OK(hwa_graph_build_forward(g, y));
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    float xv[300], got[300];
    for (int i = 0; i < 300; i++) xv[i] = (float)(i % 7) - 3.0f;
    CHECK_OK(hwa_tensor_set_f32(x, xv, 300));
    CHECK_OK(hwa_graph_compute(g, be));
    /* two more nodes after y: they need regions of their own */
    hwa_tensor *z = hwa_softmax(ctx, hwa_add(ctx, hwa_scale(ctx, y, 3.0f), x));
    CHECK(z);
    CHECK_OK(hwa_graph_build_forward(g, z));
    CHECK_OK(hwa_graph_compute(g, be));
    CHECK_OK(hwa_tensor_get_f32(z, got, 300));
    double want[300], sum = 0, mx = -INFINITY;
    for (int i = 0; i < 300; i++) {
        double r = xv[i] > 0 ? 2.0 * xv[i] : 0.0;
        want[i] = 3.0 * r + xv[i];
        if (want[i] > mx) mx = want[i];
    }
    for (int i = 0; i < 300; i++) sum += exp(want[i] - mx);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    for (int i = 0; i < 300; i++) CHECK_NEAR(got[i], exp(want[i] - mx) / sum, 1e-6);
}

TEST(planned_graph_computes_the_same_as_unplanned) {
    size_t n = 1 + 20 * 64 * 64;
    float *a = calloc(n, sizeof *a), *b = calloc(n, sizeof *b);
    CHECK(a && b);
    CHECK_MSG(run_deep_mlp(HWA_PLAN_REUSE, a, n), "%s", hwa_last_error());
    CHECK_MSG(run_deep_mlp(HWA_PLAN_NAIVE, b, n), "%s", hwa_last_error());
    CHECK(a[0] > 0);
    CHECK_MSG(memcmp(a, b, n * sizeof *a) == 0, "planned and unplanned results differ");
    free(a);
    free(b);
}

TEST(gradients_accumulate_until_zeroed) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *w = hwa_tensor_new_1d(ctx, HWA_F32, 3);
    CHECK_OK(hwa_tensor_set_param(w));
    hwa_tensor *loss = hwa_sum(ctx, hwa_mul(ctx, w, w)); /* d/dw = 2w */
    hwa_graph *g = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g, loss));
    CHECK_OK(hwa_graph_build_backward(g, loss));
    CHECK_STATUS(hwa_graph_build_backward(g, loss), HWA_E_MISUSE);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    CHECK_OK(hwa_tensor_set_f32(w, (float[]){1, -2, 0.5f}, 3));
    float gr[3];
    CHECK_OK(hwa_graph_compute(g, be));
    CHECK_OK(hwa_graph_compute(g, be));
    CHECK_OK(hwa_tensor_get_f32(hwa_tensor_grad(w), gr, 3));
    CHECK_NEAR(gr[0], 4.0, 1e-6);
    CHECK_NEAR(gr[1], -8.0, 1e-6);
    CHECK_NEAR(gr[2], 2.0, 1e-6);
    CHECK_OK(hwa_graph_zero_grads(g));
    CHECK_OK(hwa_graph_compute(g, be));
    CHECK_OK(hwa_tensor_get_f32(hwa_tensor_grad(w), gr, 3));
    CHECK_NEAR(gr[0], 2.0, 1e-6);
    CHECK_NEAR(gr[1], -4.0, 1e-6);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(views_share_storage_and_cont_copies) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *a = hwa_tensor_new_3d(ctx, HWA_F32, 2, 3, 4);
    hwa_tensor *p = hwa_permute(ctx, a, (int[]){2, 0, 1}); /* [4,2,3] */
    hwa_tensor *s = hwa_slice(ctx, p, 2, 1, 2);          /* [4,2,2] */
    hwa_tensor *c = hwa_cont(ctx, s);
    hwa_tensor *r = hwa_reshape(ctx, c, 2, (int64_t[]){8, 2});
    CHECK(r);
    CHECK(!hwa_tensor_is_contiguous(p));
    CHECK(hwa_tensor_is_contiguous(c));
    CHECK_INT_EQ(hwa_tensor_dim(s, 2), 2);
    CHECK_INT_EQ(hwa_tensor_stride(p, 0), 1);
    hwa_graph *g = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g, r));
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    float av[24], out[16];
    for (int i = 0; i < 24; i++) av[i] = (float)i;
    CHECK_OK(hwa_tensor_set_f32(a, av, 24));
    CHECK_OK(hwa_graph_compute(g, be));
    CHECK_OK(hwa_tensor_get_f32(r, out, 16));
    /* out[k][i][j'] = a[i][j'+1][k]: element (i, j, k) of a is 12i + 4j + k. */
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) CHECK_NEAR(out[k * 4 + i * 2 + j], 12 * i + 4 * (j + 1) + k, 0);
    /* A strided view reads element by element. */
    float sv[16];
    CHECK_OK(hwa_tensor_get_f32(s, sv, 16));
    CHECK(memcmp(sv, out, sizeof sv) == 0);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(plan_is_reported_before_anything_runs) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, 128, 256);
    hwa_tensor *y = hwa_softmax(ctx, hwa_relu(ctx, hwa_scale(ctx, x, 2.0f)));
    hwa_graph *g = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g, y));
    hwa_plan_stats st;
    /* No backend, no data: a dry run. */
    CHECK_OK(hwa_graph_plan(g, HWA_PLAN_REUSE, &st));
    CHECK_INT_EQ(st.n_intermediates, 3);
    CHECK_INT_EQ(st.intermediate_bytes, 3 * 128 * 256 * 4);
    /* relu runs in place over scale's result; softmax needs its own region. */
    CHECK_INT_EQ(st.n_inplace, 1);
    CHECK_INT_EQ(st.arena_bytes, 2 * 128 * 256 * 4);
    hwa_ctx_free(ctx);
}

TEST(write_slice_fills_a_cache_across_per_step_graphs) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    hwa_tensor *cache = hwa_tensor_new_2d(ctx, HWA_F32, 5, 3); /* 5 positions of 3 values */
    CHECK_OK(hwa_tensor_alloc(cache, be));
    CHECK_OK(hwa_tensor_fill(cache, -1.0f));
    hwa_ctx_mark mark = hwa_ctx_mark_get(ctx);
    int64_t pos = 0;
    for (int step = 0; step < 3; step++) {
        int64_t n = step == 0 ? 2 : 1; /* a 2-token prefill, then single tokens */
        hwa_tensor *v = hwa_tensor_new_2d(ctx, HWA_F32, n, 3);
        hwa_tensor *written = hwa_write_slice(ctx, cache, 0, pos, v);
        hwa_tensor *seen = hwa_scale(ctx, hwa_slice(ctx, written, 0, 0, pos + n), 2.0f);
        hwa_graph *g = hwa_graph_new(ctx);
        CHECK_OK(hwa_graph_build_forward(g, seen));
        CHECK_OK(hwa_tensor_alloc(v, be));
        float vals[6];
        for (int i = 0; i < 6; i++) vals[i] = (float)(10 * step + i);
        CHECK_OK(hwa_tensor_set_f32(v, vals, n * 3));
        CHECK_OK(hwa_graph_compute(g, be));
        float out[15];
        CHECK_OK(hwa_tensor_get_f32(seen, out, (pos + n) * 3));
        /* The newest rows hold this step's values, doubled. */
        for (int64_t i = 0; i < n * 3; i++) CHECK_NEAR(out[pos * 3 + i], 2.0f * vals[i], 0);
        pos += n;
        hwa_ctx_release(ctx, mark); /* drop the step's graph and tensors */
    }
    float all[15];
    CHECK_OK(hwa_tensor_get_f32(cache, all, 15));
    float want[15] = {0, 1, 2, 3, 4, 5, 10, 11, 12, 20, 21, 22, -1, -1, -1};
    for (int i = 0; i < 15; i++) CHECK_NEAR(all[i], want[i], 0);
    /* A destination that is not a leaf is refused. */
    hwa_tensor *notleaf = hwa_scale(ctx, cache, 1.0f);
    CHECK(hwa_write_slice(ctx, notleaf, 0, 0, hwa_tensor_new_2d(ctx, HWA_F32, 1, 3)) == NULL);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(ctx), "write_slice");
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

/* Gradients of the 20-layer MLP with each run of an HWA_GRAD_OVERWRITE
 * graph, against an accumulating graph's first run from zero. */
static bool deep_mlp_grads(hwa_grad_mode mode, int runs, float *out) {
    hwa_ctx *ctx = hwa_ctx_new(&(hwa_ctx_params){.seed = 11});
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, 32, 64), *w[20];
    hwa_tensor *h = x;
    for (int i = 0; i < 20; i++) {
        w[i] = hwa_tensor_new_2d(ctx, HWA_F32, 64, 64);
        if (hwa_tensor_set_param(w[i])) return false;
        h = hwa_tanh(ctx, hwa_matmul_ex(ctx, h, w[i], false, true));
    }
    hwa_tensor *loss = hwa_mean(ctx, hwa_mul(ctx, h, h));
    hwa_graph *g = hwa_graph_new(ctx);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    bool ok = loss && be && !hwa_graph_build_forward(g, loss) && !hwa_graph_build_backward_ex(g, loss, mode) &&
              !hwa_ctx_alloc_leaves(ctx, be) && !hwa_tensor_fill_uniform(x, -1, 1);
    for (int i = 0; ok && i < 20; i++) ok = !hwa_tensor_fill_uniform(w[i], -0.2f, 0.2f);
    for (int r = 0; ok && r < runs; r++) ok = !hwa_graph_compute(g, be);
    for (int i = 0; ok && i < 20; i++) ok = !hwa_tensor_get_f32(hwa_tensor_grad(w[i]), out + i * 64 * 64, 64 * 64);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    return ok;
}

TEST(overwrite_mode_writes_gradients_afresh_each_run) {
    size_t n = 20 * 64 * 64;
    float *acc = calloc(n, sizeof *acc), *ow = calloc(n, sizeof *ow), *acc2 = calloc(n, sizeof *acc2);
    CHECK(acc && ow && acc2);
    CHECK_MSG(deep_mlp_grads(HWA_GRAD_ACCUMULATE, 1, acc), "%s", hwa_last_error());
    CHECK_MSG(deep_mlp_grads(HWA_GRAD_OVERWRITE, 3, ow), "%s", hwa_last_error());
    CHECK_MSG(deep_mlp_grads(HWA_GRAD_ACCUMULATE, 2, acc2), "%s", hwa_last_error());
    /* 0 + x is x exactly, so one accumulating run from zero equals any run
     * of the overwriting graph bit for bit; two accumulating runs double. */
    CHECK_MSG(memcmp(acc, ow, n * sizeof *acc) == 0, "overwrite differs from one accumulating run");
    double worst = 0;
    /* (a comparison, not fmax: GCC 12's aarch64 vectorizer crashes on this
     * fmax reduction) */
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)acc2[i] - 2.0 * acc[i]);
        if (d > worst) worst = d;
    }
    CHECK_NEAR(worst, 0.0, 1e-6);
    CHECK_STATUS(hwa_graph_build_backward_ex(NULL, NULL, (hwa_grad_mode)7), HWA_E_INVALID);
    free(acc), free(ow), free(acc2);
}
