/* The vision ops against PyTorch goldens (tests/reference/gen_vision_goldens.py:
 * F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, F.batch_norm in eval and
 * training mode, the running statistics after one update and the training
 * gradients), through the fast kernels and the reference; and dropout's
 * mask: its kept fraction, its exact scale, its independence of the thread
 * count and its reuse by the backward pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#include "backends/cpu/cpu_backend.h"
#include "golden/vision_golden.h"

static int64_t numel4(const int64_t s[4]) { return s[0] * s[1] * s[2] * s[3]; }

/* |got - want| <= tol * (1 + |want|) for every element; names the first miss. */
static void expect_close(const char *what, const char *name, const float *got, const float *want, int64_t n,
                         double tol) {
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - (double)want[i]);
        CHECK_MSG(d <= tol * (1.0 + fabs((double)want[i])), "%s %s element %lld: got %.9g, PyTorch %.9g", name, what,
                  (long long)i, got[i], want[i]);
    }
}

static hwa_tensor *leaf_of(hwa_ctx *ctx, int ndim, const int64_t *shape, bool param) {
    hwa_tensor *t = hwa_tensor_new(ctx, HWA_F32, ndim, shape);
    if (t && param) hwa_tensor_set_param(t);
    return t;
}

static void run_golden(const vg_case *c, bool reference) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    CHECK(ctx);
    const bool bn = c->w != NULL, train = c->r != NULL;
    const int64_t C = c->x_shape[1], cs[2] = {2, C};
    hwa_tensor *x = leaf_of(ctx, c->x_ndim, c->x_shape, train);
    hwa_tensor *w = bn ? leaf_of(ctx, 1, &C, train) : NULL, *b = bn ? leaf_of(ctx, 1, &C, train) : NULL;
    hwa_tensor *st = bn ? leaf_of(ctx, 2, cs, false) : NULL, *y = NULL;
    if (!bn && c->p[0] >= 0 && strcmp(c->kind, "pool") == 0) {
        const hwa_pool2d_params p = {(hwa_pool_kind)c->p[0], {c->p[1], c->p[2]}, {c->p[3], c->p[4]},
                                     {c->p[5], c->p[6], c->p[7], c->p[8]}, {c->p[9], c->p[10]},
                                     (c->p[11] & 1) != 0, (c->p[11] & 2) != 0};
        y = hwa_pool2d(ctx, x, &p);
    } else if (!bn) {
        y = hwa_global_avg_pool(ctx, x);
    } else if (!train) {
        y = hwa_batchnorm(ctx, x, w, b, hwa_reshape(ctx, hwa_slice(ctx, st, 0, 0, 1), 1, &C),
                          hwa_reshape(ctx, hwa_slice(ctx, st, 0, 1, 1), 1, &C), c->f[0]);
    } else {
        y = hwa_batchnorm_train(ctx, x, w, b, st, c->f[0], c->f[1]);
    }
    hwa_tensor *r = train ? leaf_of(ctx, c->x_ndim, c->x_shape, false) : NULL;
    hwa_tensor *loss = train ? hwa_sum(ctx, hwa_mul(ctx, y, r)) : NULL;
    hwa_graph *g = hwa_graph_new(ctx);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    CHECK_MSG(y && g && be && (!train || loss), "%s: %s", c->name, hwa_ctx_last_error(ctx));
    const int64_t nx = numel4(c->x_shape), ny = numel4(c->y_shape);
    float *got = malloc((size_t)(nx > ny ? nx : ny) * sizeof *got);
    CHECK(got);
    CHECK_OK(hwa_graph_build_forward(g, y));
    if (train) {
        CHECK_OK(hwa_graph_build_forward(g, loss));
        CHECK_OK(hwa_graph_build_backward(g, loss));
    }
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    CHECK_OK(hwa_tensor_set_f32(x, c->x, nx));
    if (bn) {
        CHECK_OK(hwa_tensor_set_f32(w, c->w, C));
        CHECK_OK(hwa_tensor_set_f32(b, c->b, C));
        CHECK_OK(hwa_tensor_set_f32(st, c->stats, 2 * C));
    }
    if (train) CHECK_OK(hwa_tensor_set_f32(r, c->r, nx));
    CHECK_OK(hwa_graph_alloc(g, be, HWA_PLAN_REUSE, NULL));
    if (train) CHECK_OK(hwa_graph_zero_grads(g));
    hwa__cpu_set_reference_only(reference);
    hwa_status s = hwa_graph_compute(g, be);
    hwa__cpu_set_reference_only(false);
    CHECK_OK(s);
    CHECK_INT_EQ(hwa_tensor_nelements(y), ny);
    CHECK_OK(hwa_tensor_get_f32(y, got, ny));
    expect_close("output", c->name, got, c->y, ny, 2e-6);
    if (train) {
        CHECK_OK(hwa_tensor_get_f32(st, got, 2 * C));
        expect_close("running statistics", c->name, got, c->run, 2 * C, 2e-6);
        CHECK_OK(hwa_tensor_get_f32(hwa_tensor_grad(x), got, nx));
        expect_close("dx", c->name, got, c->dx, nx, 2e-5);
        CHECK_OK(hwa_tensor_get_f32(hwa_tensor_grad(w), got, C));
        expect_close("dweight", c->name, got, c->dw, C, 2e-5);
        CHECK_OK(hwa_tensor_get_f32(hwa_tensor_grad(b), got, C));
        expect_close("dbias", c->name, got, c->db, C, 2e-5);
    }
    free(got);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(vision_ops_match_pytorch_goldens) {
    for (size_t i = 0; i < sizeof vg_cases / sizeof vg_cases[0]; i++) run_golden(&vg_cases[i], false);
}

TEST(vision_reference_kernels_match_pytorch_goldens) {
    for (size_t i = 0; i < sizeof vg_cases / sizeof vg_cases[0]; i++) run_golden(&vg_cases[i], true);
}

/* ---- dropout ------------------------------------------------------------- */

#define DN 100000

/* dropout(x) with ratio on nthreads threads (0: the default), x = 1 + i / DN;
 * out gets y, and grad (when not NULL) d sum(y) / dx. */
static void run_dropout(float ratio, int nthreads, const int32_t seed_v[2], float *out, float *grad) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    CHECK(ctx);
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, 100, DN / 100), *seed = hwa_tensor_new_1d(ctx, HWA_I32, 2);
    CHECK(x && seed);
    if (grad) CHECK_OK(hwa_tensor_set_param(x));
    hwa_tensor *y = hwa_dropout(ctx, x, ratio, seed);
    hwa_tensor *loss = grad ? hwa_sum(ctx, y) : NULL;
    hwa_graph *g = hwa_graph_new(ctx);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    CHECK_MSG(y && g && be && (!grad || loss), "%s", hwa_ctx_last_error(ctx));
    CHECK_OK(hwa_graph_build_forward(g, y));
    if (grad) {
        CHECK_OK(hwa_graph_build_forward(g, loss));
        CHECK_OK(hwa_graph_build_backward(g, loss));
    }
    CHECK_OK(hwa_backend_set_threads(be, nthreads));
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    float *xv = malloc(DN * sizeof *xv);
    CHECK(xv);
    for (int i = 0; i < DN; i++) xv[i] = 1.0f + (float)i / DN;
    CHECK_OK(hwa_tensor_set_f32(x, xv, DN));
    free(xv);
    CHECK_OK(hwa_tensor_set_bytes(seed, seed_v, 2 * sizeof *seed_v));
    CHECK_OK(hwa_graph_alloc(g, be, HWA_PLAN_REUSE, NULL));
    if (grad) CHECK_OK(hwa_graph_zero_grads(g));
    CHECK_OK(hwa_graph_compute(g, be));
    CHECK_OK(hwa_tensor_get_f32(y, out, DN));
    if (grad) CHECK_OK(hwa_tensor_get_f32(hwa_tensor_grad(x), grad, DN));
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(dropout_keeps_the_expected_fraction_scaled_exactly) {
    const float ratios[3] = {0.1f, 0.3f, 0.5f};
    const int32_t seed[2] = {12345, 678};
    float *y = malloc(DN * sizeof *y);
    CHECK(y);
    for (int k = 0; k < 3; k++) {
        run_dropout(ratios[k], 0, seed, y, NULL);
        const float scale = (float)(1.0 / (1.0 - (double)ratios[k]));
        int64_t kept = 0;
        for (int i = 0; i < DN; i++) {
            const float x = 1.0f + (float)i / DN;
            if (y[i] == 0.0f) continue;
            kept++;
            CHECK_MSG(y[i] == x * scale, "ratio %g element %d: %.9g, not x * %.9g = %.9g", ratios[k], i, y[i], scale,
                      x * scale);
        }
        /* binomial: mean DN (1 - r), sd sqrt(DN r (1 - r)) <= 159; 6 sd */
        const double want = DN * (1.0 - ratios[k]);
        CHECK_MSG(fabs((double)kept - want) <= 6 * 159, "ratio %g kept %lld of %d, expected about %.0f", ratios[k],
                  (long long)kept, DN, want);
    }
    free(y);
}

TEST(dropout_mask_is_the_same_at_every_thread_count_and_differs_by_seed) {
    const int32_t seed[2] = {1, 2}, other[2] = {1, 3};
    float *a = malloc(DN * sizeof *a), *b = malloc(DN * sizeof *b);
    CHECK(a && b);
    run_dropout(0.5f, 1, seed, a, NULL);
    for (int nt = 2; nt <= 3; nt++) {
        run_dropout(0.5f, nt, seed, b, NULL);
        CHECK_MSG(memcmp(a, b, DN * sizeof *a) == 0, "%d threads gave another result than 1", nt);
    }
    run_dropout(0.5f, 2, other, b, NULL);
    int64_t differ = 0;
    for (int i = 0; i < DN; i++) differ += (a[i] == 0.0f) != (b[i] == 0.0f);
    /* independent masks disagree on about half the elements */
    CHECK_MSG(differ > DN / 3, "seeds (1,2) and (1,3) disagree on only %lld elements", (long long)differ);
    free(a);
    free(b);
}

TEST(dropout_backward_uses_the_forward_mask) {
    const int32_t seed[2] = {99, -7};
    float *y = malloc(DN * sizeof *y), *g = malloc(DN * sizeof *g);
    CHECK(y && g);
    run_dropout(0.25f, 0, seed, y, g);
    const float scale = (float)(1.0 / 0.75);
    for (int i = 0; i < DN; i++)
        CHECK_MSG(g[i] == (y[i] != 0.0f ? scale : 0.0f), "element %d: y %.9g but gradient %.9g", i, y[i], g[i]);
    free(y);
    free(g);
}
