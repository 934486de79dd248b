/* Gradients of every differentiable op against central finite differences.
 *
 * Method (grad_check): the op under test maps the inputs to out; the scalar
 * loss = sum(out * R), with R a fixed random tensor, makes every output
 * element matter with its own weight. The backward graph gives d loss / d x
 * for every parameter x; independently, each element x_j is moved by +h and
 * -h, the forward graph runs again, and (L+ - L-) / (2h) is the numerical
 * derivative (loss read back and differenced in float64).
 *
 * Tolerance. The kernels compute in f32 (eps = 1.2e-7). The central
 * difference has truncation error h^2/6 * |f'''| and rounding error about
 * eps * |L| * c / h, where c ~ 10 counts the roundings that feed L. With
 * h = 1e-2, |f'''| <= ~10 on these inputs and |L| <= ~5:
 *     truncation <= 1.7e-4, rounding <= 1.2e-7 * 5 * 10 / 1e-2 = 6e-4.
 * h = 1e-3 would cut truncation 100x but raise rounding 10x, which
 * dominates in f32; 1e-2 balances them. An element passes when
 * |analytic - numeric| <= 2e-3 * (1 + |numeric|); over every element of
 * every case here the largest |analytic - numeric| / (1 + |numeric|)
 * measured was 2.5e-4 (8x margin), while a wrong gradient is off by O(1)
 * (R is in [-1, 1] and the inputs are O(1), so gradients are O(0.1 .. 10)).
 * Inputs keep away from kinks (relu: |x| >= 0.1 > h) and poles (div: |b| >=
 * 0.5). R holds multiples of 1/64, exact in f16 and bf16, so casting a
 * gradient to those formats loses nothing; the cast checks also put the
 * inputs and h on a 1/64 grid so that x +- h is exact after the cast.
 */
#include <stdlib.h>

#include "harness.h"

#define GC_MAX_IN 4
#define GC_MAX_N 512
#define GC_H 1e-2
#define GC_TOL 2e-3

typedef hwa_tensor *(*gc_build)(hwa_ctx *ctx, hwa_tensor **in);

typedef struct gc_in {
    int ndim; /* 0: unused slot */
    int64_t shape[4];
    hwa_dtype dtype;     /* HWA_F32 unless an index input (HWA_I32) */
    bool param;          /* gets a gradient, and is checked */
    float lo, hi;        /* uniform range; both 0: [-1.5, 1.5) */
    float min_abs;       /* a value with |v| < min_abs moves min_abs away from 0 */
    const float *values; /* fixed values (index inputs), else NULL */
} gc_in;

typedef struct gc_spec {
    gc_build build;
    gc_in in[GC_MAX_IN];
    bool on_grid; /* inputs k/64 and h = 1/64: exact in f16 and bf16 */
} gc_spec;

#define SHAPE(...) .ndim = (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), .shape = {__VA_ARGS__}
#define PARAM(...) {SHAPE(__VA_ARGS__), .param = true}
#define INPUT(...) {SHAPE(__VA_ARGS__), .param = false}
#define INDEX(vals, ...) {SHAPE(__VA_ARGS__), .dtype = HWA_I32, .values = (vals)}
#define GRAD_CHECK(...)                \
    do {                               \
        gc_spec spec_ = {__VA_ARGS__}; \
        grad_check(&spec_);            \
    } while (0)

/* A small deterministic generator, so every run sees the same inputs. */
static double gc_uniform(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (double)(*s >> 11) * 0x1p-53;
}

static int64_t count(const gc_in *in) {
    int64_t n = 1;
    for (int d = 0; d < in->ndim; d++) n *= in->shape[d];
    return n;
}

typedef struct gc_state {
    hwa_tensor *t[GC_MAX_IN];
    float x[GC_MAX_IN][GC_MAX_N];
    float an[GC_MAX_IN][GC_MAX_N];
    float r[GC_MAX_N];
} gc_state;

static void fill_inputs(const gc_spec *sp, gc_state *st, uint64_t *rng) {
    for (int i = 0; i < GC_MAX_IN && sp->in[i].ndim; i++) {
        const gc_in *in = &sp->in[i];
        float lo = in->lo, hi = in->hi;
        if (lo == 0 && hi == 0) lo = -1.5f, hi = 1.5f;
        for (int64_t j = 0; j < count(in); j++) {
            float v = in->values ? in->values[j] : (float)(lo + (hi - lo) * gc_uniform(rng));
            if (fabsf(v) < in->min_abs) v += v < 0 ? -in->min_abs : in->min_abs;
            if (sp->on_grid) v = roundf(v * 64) / 64;
            st->x[i][j] = v;
        }
    }
}

/* Loss at the current values of st->x. */
static hwa_status eval_loss(hwa_graph *g, hwa_backend *be, hwa_tensor *loss, double *out) {
    float l = 0;
    hwa_status s = hwa_graph_compute(g, be);
    if (s == HWA_OK) s = hwa_tensor_get_f32(loss, &l, 1);
    *out = l;
    return s;
}

static void grad_check_in(hwa_ctx *ctx, hwa_backend **be_out, const gc_spec *sp, gc_state *st) {
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    int n_in = 0;
    while (n_in < GC_MAX_IN && sp->in[n_in].ndim) n_in++;
    for (int i = 0; i < n_in; i++) {
        CHECK(count(&sp->in[i]) <= GC_MAX_N);
        st->t[i] = hwa_tensor_new(ctx, sp->in[i].dtype, sp->in[i].ndim, sp->in[i].shape);
        CHECK_MSG(st->t[i], "input %d: %s", i, hwa_ctx_last_error(ctx));
        if (sp->in[i].param) CHECK_OK(hwa_tensor_set_param(st->t[i]));
    }
    hwa_tensor *out = sp->build(ctx, st->t);
    CHECK_MSG(out, "builder failed: %s", hwa_ctx_last_error(ctx));
    int64_t n_out = hwa_tensor_nelements(out);
    CHECK(n_out <= GC_MAX_N);
    int64_t rshape[4];
    for (int d = 0; d < hwa_tensor_ndim(out); d++) rshape[d] = hwa_tensor_dim(out, d);
    hwa_tensor *r = hwa_tensor_new(ctx, HWA_F32, hwa_tensor_ndim(out), rshape);
    hwa_tensor *loss = hwa_sum(ctx, hwa_mul(ctx, out, r));
    CHECK_MSG(loss, "loss: %s", hwa_ctx_last_error(ctx));

    hwa_graph *g = hwa_graph_new(ctx);
    CHECK(g);
    CHECK_OK(hwa_graph_build_forward(g, loss));
    CHECK_OK(hwa_graph_build_backward(g, loss));
    for (int i = 0; i < n_in; i++) {
        bool has = hwa_tensor_grad(st->t[i]) != NULL;
        CHECK_MSG(has == sp->in[i].param, "input %d: param %d but gradient %s", i, sp->in[i].param,
                  has ? "present" : "absent");
    }

    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    CHECK_MSG(be, "cpu backend: %s", hwa_ctx_last_error(ctx));
    *be_out = be;
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    fill_inputs(sp, st, &rng);
    for (int64_t j = 0; j < n_out; j++) {
        int k = 1 + (int)(gc_uniform(&rng) * 64); /* 1..64 */
        st->r[j] = (gc_uniform(&rng) < 0.5 ? -k : k) / 64.0f;
    }
    CHECK_OK(hwa_tensor_set_f32(r, st->r, n_out));
    for (int i = 0; i < n_in; i++) CHECK_OK(hwa_tensor_set_f32(st->t[i], st->x[i], count(&sp->in[i])));
    CHECK_OK(hwa_graph_alloc(g, be, HWA_PLAN_REUSE, NULL));
    CHECK_OK(hwa_graph_zero_grads(g));
    double l0;
    CHECK_OK(eval_loss(g, be, loss, &l0));
    CHECK_MSG(isfinite(l0), "loss %g", l0);

    /* Every analytic gradient is read before the finite-difference runs,
     * which accumulate into the gradients too. */
    for (int i = 0; i < n_in; i++)
        if (sp->in[i].param) CHECK_OK(hwa_tensor_get_f32(hwa_tensor_grad(st->t[i]), st->an[i], count(&sp->in[i])));

    const double h = sp->on_grid ? 1.0 / 64 : GC_H;
    for (int i = 0; i < n_in; i++) {
        if (!sp->in[i].param) continue;
        int64_t n = count(&sp->in[i]);
        for (int64_t j = 0; j < n; j++) {
            const float x0 = st->x[i][j];
            const float xp = (float)(x0 + h), xm = (float)(x0 - h);
            double lp, lm;
            st->x[i][j] = xp;
            CHECK_OK(hwa_tensor_set_f32(st->t[i], st->x[i], n));
            CHECK_OK(eval_loss(g, be, loss, &lp));
            st->x[i][j] = xm;
            CHECK_OK(hwa_tensor_set_f32(st->t[i], st->x[i], n));
            CHECK_OK(eval_loss(g, be, loss, &lm));
            st->x[i][j] = x0;
            CHECK_OK(hwa_tensor_set_f32(st->t[i], st->x[i], n));
            double num = (lp - lm) / ((double)xp - (double)xm);
            double err = fabs(st->an[i][j] - num);
            CHECK_MSG(err <= GC_TOL * (1 + fabs(num)),
                      "input %d element %lld (x = %.6g): analytic %.7g, numeric %.7g (|diff| %.3g)", i,
                      (long long)j, x0, st->an[i][j], num, err);
        }
    }
}

static void grad_check(const gc_spec *sp) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    CHECK(ctx);
    hwa_backend *be = NULL;
    gc_state *st = calloc(1, sizeof *st);
    if (st) grad_check_in(ctx, &be, sp, st);
    else hwa_test_fail(__FILE__, __LINE__, "out of memory");
    free(st);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

/* ---- builders ---------------------------------------------------------------- */

static hwa_tensor *bd_add(hwa_ctx *c, hwa_tensor **x) { return hwa_add(c, x[0], x[1]); }
static hwa_tensor *bd_sub(hwa_ctx *c, hwa_tensor **x) { return hwa_sub(c, x[0], x[1]); }
static hwa_tensor *bd_mul(hwa_ctx *c, hwa_tensor **x) { return hwa_mul(c, x[0], x[1]); }
static hwa_tensor *bd_div(hwa_ctx *c, hwa_tensor **x) { return hwa_div(c, x[0], x[1]); }
static hwa_tensor *bd_scale(hwa_ctx *c, hwa_tensor **x) { return hwa_scale(c, x[0], -2.5f); }
static hwa_tensor *bd_bias_add(hwa_ctx *c, hwa_tensor **x) { return hwa_bias_add(c, x[0], x[1]); }
static hwa_tensor *bd_matmul(hwa_ctx *c, hwa_tensor **x) { return hwa_matmul(c, x[0], x[1]); }
static hwa_tensor *bd_matmul_ta(hwa_ctx *c, hwa_tensor **x) { return hwa_matmul_ex(c, x[0], x[1], true, false); }
static hwa_tensor *bd_matmul_tb(hwa_ctx *c, hwa_tensor **x) { return hwa_matmul_ex(c, x[0], x[1], false, true); }
static hwa_tensor *bd_matmul_tab(hwa_ctx *c, hwa_tensor **x) { return hwa_matmul_ex(c, x[0], x[1], true, true); }
static hwa_tensor *bd_relu(hwa_ctx *c, hwa_tensor **x) { return hwa_relu(c, x[0]); }
static hwa_tensor *bd_gelu(hwa_ctx *c, hwa_tensor **x) { return hwa_gelu(c, x[0]); }
static hwa_tensor *bd_silu(hwa_ctx *c, hwa_tensor **x) { return hwa_silu(c, x[0]); }
static hwa_tensor *bd_sigmoid(hwa_ctx *c, hwa_tensor **x) { return hwa_sigmoid(c, x[0]); }
static hwa_tensor *bd_tanh(hwa_ctx *c, hwa_tensor **x) { return hwa_tanh(c, x[0]); }
static hwa_tensor *bd_softmax(hwa_ctx *c, hwa_tensor **x) { return hwa_softmax(c, x[0]); }
static hwa_tensor *bd_log_softmax(hwa_ctx *c, hwa_tensor **x) { return hwa_log_softmax(c, x[0]); }
static hwa_tensor *bd_layernorm(hwa_ctx *c, hwa_tensor **x) { return hwa_layernorm(c, x[0], x[1], x[2], 1e-5f); }
static hwa_tensor *bd_layernorm_plain(hwa_ctx *c, hwa_tensor **x) { return hwa_layernorm(c, x[0], NULL, NULL, 1e-5f); }
static hwa_tensor *bd_rmsnorm(hwa_ctx *c, hwa_tensor **x) { return hwa_rmsnorm(c, x[0], x[1], 1e-6f); }
static hwa_tensor *bd_rmsnorm_plain(hwa_ctx *c, hwa_tensor **x) { return hwa_rmsnorm(c, x[0], NULL, 1e-6f); }
static hwa_tensor *bd_embedding(hwa_ctx *c, hwa_tensor **x) { return hwa_embedding(c, x[0], x[1]); }
static hwa_tensor *bd_rope_inter(hwa_ctx *c, hwa_tensor **x) {
    return hwa_rope(c, x[0], x[1], 10000.0f, HWA_ROPE_INTERLEAVED);
}
static hwa_tensor *bd_rope_halves(hwa_ctx *c, hwa_tensor **x) { return hwa_rope(c, x[0], x[1], 100.0f, HWA_ROPE_HALVES); }
static hwa_tensor *bd_attention(hwa_ctx *c, hwa_tensor **x) { return hwa_attention(c, x[0], x[1], x[2], false, 0); }
static hwa_tensor *bd_attention_causal(hwa_ctx *c, hwa_tensor **x) {
    return hwa_attention(c, x[0], x[1], x[2], true, 0);
}
static hwa_tensor *bd_attention_causal_scaled(hwa_ctx *c, hwa_tensor **x) {
    return hwa_attention(c, x[0], x[1], x[2], true, 0.7f);
}
static hwa_tensor *bd_conv_strided(hwa_ctx *c, hwa_tensor **x) {
    const hwa_conv2d_params p = {.stride = {2, 1}, .pad = {1, 0, 0, 1}, .dilation = {1, 2}};
    return hwa_conv2d(c, x[0], x[1], x[2], &p);
}
static hwa_tensor *bd_conv_groups(hwa_ctx *c, hwa_tensor **x) {
    const hwa_conv2d_params p = {.pad = {0, 1, 1, 0}, .dilation = {2, 1}, .groups = 2};
    return hwa_conv2d(c, x[0], x[1], x[2], &p);
}
static hwa_tensor *bd_conv_depthwise(hwa_ctx *c, hwa_tensor **x) {
    const hwa_conv2d_params p = {.stride = {2, 2}, .pad = {1, 1, 1, 1}, .groups = 3};
    return hwa_conv2d(c, x[0], x[1], x[2], &p);
}
static hwa_tensor *bd_conv_plain(hwa_ctx *c, hwa_tensor **x) { return hwa_conv2d(c, x[0], x[1], NULL, NULL); }
static hwa_tensor *bd_concat0(hwa_ctx *c, hwa_tensor **x) { return hwa_concat(c, x[0], x[1], 0); }
static hwa_tensor *bd_concat2(hwa_ctx *c, hwa_tensor **x) { return hwa_concat(c, x[0], x[1], 2); }
static hwa_tensor *bd_sum(hwa_ctx *c, hwa_tensor **x) { return hwa_sum(c, x[0]); }
static hwa_tensor *bd_mean(hwa_ctx *c, hwa_tensor **x) { return hwa_mean(c, x[0]); }
static hwa_tensor *bd_sum_dim0(hwa_ctx *c, hwa_tensor **x) { return hwa_sum_dim(c, x[0], 0); }
static hwa_tensor *bd_sum_dim1(hwa_ctx *c, hwa_tensor **x) { return hwa_sum_dim(c, x[0], 1); }
static hwa_tensor *bd_mean_dim2(hwa_ctx *c, hwa_tensor **x) { return hwa_mean_dim(c, x[0], 2); }
static hwa_tensor *bd_mean_dim0(hwa_ctx *c, hwa_tensor **x) { return hwa_mean_dim(c, x[0], 0); }
static hwa_tensor *bd_cross_entropy(hwa_ctx *c, hwa_tensor **x) { return hwa_cross_entropy(c, x[0], x[1]); }
static hwa_tensor *bd_mse(hwa_ctx *c, hwa_tensor **x) { return hwa_mse(c, x[0], x[1]); }
static hwa_tensor *bd_reshape(hwa_ctx *c, hwa_tensor **x) {
    static const int64_t shape[3] = {2, 3, 2};
    return hwa_reshape(c, x[0], 3, shape);
}
static hwa_tensor *bd_permute(hwa_ctx *c, hwa_tensor **x) {
    static const int perm[3] = {2, 0, 1};
    return hwa_permute(c, x[0], perm);
}
static hwa_tensor *bd_permute_cont(hwa_ctx *c, hwa_tensor **x) { return hwa_cont(c, bd_permute(c, x)); }
static hwa_tensor *bd_transpose(hwa_ctx *c, hwa_tensor **x) { return hwa_transpose(c, x[0]); }
static hwa_tensor *bd_transpose_cont(hwa_ctx *c, hwa_tensor **x) { return hwa_cont(c, hwa_transpose(c, x[0])); }
static hwa_tensor *bd_slice(hwa_ctx *c, hwa_tensor **x) { return hwa_slice(c, x[0], 1, 1, 3); }
static hwa_tensor *bd_slice_cont(hwa_ctx *c, hwa_tensor **x) { return hwa_cont(c, hwa_slice(c, x[0], -1, 2, 2)); }
/* A view feeding a computing op, so the view's gradient flows through it. */
static hwa_tensor *bd_transpose_matmul(hwa_ctx *c, hwa_tensor **x) {
    return hwa_matmul(c, hwa_transpose(c, x[0]), x[1]);
}
static hwa_tensor *bd_cast_f16(hwa_ctx *c, hwa_tensor **x) { return hwa_cast(c, hwa_cast(c, x[0], HWA_F16), HWA_F32); }
static hwa_tensor *bd_cast_bf16(hwa_ctx *c, hwa_tensor **x) {
    return hwa_cast(c, hwa_cast(c, x[0], HWA_BF16), HWA_F32);
}
/* An f16 leaf cast up: its gradient is computed in f32 and stored as f16. */
static hwa_tensor *bd_cast_up(hwa_ctx *c, hwa_tensor **x) { return hwa_scale(c, hwa_cast(c, x[0], HWA_F32), 3.0f); }

/* ---- elementwise and broadcasting --------------------------------------------- */

TEST(grad_add_same_shape) { GRAD_CHECK(.build = bd_add, .in = {PARAM(3, 5), PARAM(3, 5)}); }
TEST(grad_add_broadcast_n) { GRAD_CHECK(.build = bd_add, .in = {PARAM(3, 5), PARAM(5)}); }
TEST(grad_add_broadcast_1n) { GRAD_CHECK(.build = bd_add, .in = {PARAM(3, 5), PARAM(1, 5)}); }
TEST(grad_add_broadcast_m1) { GRAD_CHECK(.build = bd_add, .in = {PARAM(3, 5), PARAM(3, 1)}); }
TEST(grad_add_broadcast_3d) { GRAD_CHECK(.build = bd_add, .in = {PARAM(2, 3, 5), PARAM(3, 1)}); }
TEST(grad_sub_broadcast_m1) { GRAD_CHECK(.build = bd_sub, .in = {PARAM(3, 5), PARAM(3, 1)}); }
TEST(grad_sub_broadcast_n) { GRAD_CHECK(.build = bd_sub, .in = {PARAM(2, 3, 5), PARAM(5)}); }
TEST(grad_mul_same_shape) { GRAD_CHECK(.build = bd_mul, .in = {PARAM(3, 5), PARAM(3, 5)}); }
TEST(grad_mul_broadcast_n) { GRAD_CHECK(.build = bd_mul, .in = {PARAM(3, 5), PARAM(5)}); }
TEST(grad_mul_broadcast_m1) { GRAD_CHECK(.build = bd_mul, .in = {PARAM(3, 5), PARAM(3, 1)}); }
TEST(grad_mul_broadcast_middle) { GRAD_CHECK(.build = bd_mul, .in = {PARAM(2, 3, 5), PARAM(2, 1, 5)}); }
TEST(grad_mul_second_operand_only) { GRAD_CHECK(.build = bd_mul, .in = {INPUT(3, 5), PARAM(1, 5)}); }
TEST(grad_div_same_shape) {
    GRAD_CHECK(.build = bd_div, .in = {PARAM(3, 5), {SHAPE(3, 5), .param = true, .lo = -2, .hi = 2, .min_abs = 0.5f}});
}
TEST(grad_div_broadcast_n) {
    GRAD_CHECK(.build = bd_div, .in = {PARAM(3, 5), {SHAPE(5), .param = true, .lo = -2, .hi = 2, .min_abs = 0.5f}});
}
TEST(grad_div_broadcast_m1) {
    GRAD_CHECK(.build = bd_div, .in = {PARAM(3, 5), {SHAPE(3, 1), .param = true, .lo = -2, .hi = 2, .min_abs = 0.5f}});
}
TEST(grad_scale) { GRAD_CHECK(.build = bd_scale, .in = {PARAM(4, 3)}); }
TEST(grad_bias_add) { GRAD_CHECK(.build = bd_bias_add, .in = {PARAM(2, 3, 5), PARAM(5)}); }

/* ---- matmul --------------------------------------------------------------------- */

TEST(grad_matmul) { GRAD_CHECK(.build = bd_matmul, .in = {PARAM(3, 4), PARAM(4, 5)}); }
TEST(grad_matmul_trans_a) { GRAD_CHECK(.build = bd_matmul_ta, .in = {PARAM(4, 3), PARAM(4, 5)}); }
TEST(grad_matmul_trans_b) { GRAD_CHECK(.build = bd_matmul_tb, .in = {PARAM(3, 4), PARAM(5, 4)}); }
TEST(grad_matmul_trans_a_and_b) { GRAD_CHECK(.build = bd_matmul_tab, .in = {PARAM(4, 3), PARAM(5, 4)}); }
TEST(grad_matmul_batched) { GRAD_CHECK(.build = bd_matmul, .in = {PARAM(2, 3, 4), PARAM(2, 4, 5)}); }
TEST(grad_matmul_batch_broadcast_b) { GRAD_CHECK(.build = bd_matmul, .in = {PARAM(2, 3, 4), PARAM(1, 4, 5)}); }
TEST(grad_matmul_batch_broadcast_b_2d) { GRAD_CHECK(.build = bd_matmul, .in = {PARAM(2, 3, 4), PARAM(4, 5)}); }
TEST(grad_matmul_batch_broadcast_4d_trans_b) {
    GRAD_CHECK(.build = bd_matmul_tb, .in = {PARAM(2, 2, 3, 4), PARAM(2, 1, 5, 4)});
}

/* ---- activations ------------------------------------------------------------------ */

TEST(grad_relu_away_from_kink) { GRAD_CHECK(.build = bd_relu, .in = {{SHAPE(4, 5), .param = true, .min_abs = 0.1f}}); }
TEST(grad_gelu) { GRAD_CHECK(.build = bd_gelu, .in = {{SHAPE(4, 5), .param = true, .lo = -3, .hi = 3}}); }
TEST(grad_silu) { GRAD_CHECK(.build = bd_silu, .in = {{SHAPE(4, 5), .param = true, .lo = -3, .hi = 3}}); }
TEST(grad_sigmoid) { GRAD_CHECK(.build = bd_sigmoid, .in = {{SHAPE(4, 5), .param = true, .lo = -3, .hi = 3}}); }
TEST(grad_tanh) { GRAD_CHECK(.build = bd_tanh, .in = {{SHAPE(4, 5), .param = true, .lo = -2, .hi = 2}}); }

/* ---- softmax, normalisation ----------------------------------------------------------- */

TEST(grad_softmax) { GRAD_CHECK(.build = bd_softmax, .in = {{SHAPE(3, 7), .param = true, .lo = -2, .hi = 2}}); }
TEST(grad_log_softmax) { GRAD_CHECK(.build = bd_log_softmax, .in = {{SHAPE(3, 7), .param = true, .lo = -2, .hi = 2}}); }
TEST(grad_layernorm_x_w_b) { GRAD_CHECK(.build = bd_layernorm, .in = {PARAM(3, 7), PARAM(7), PARAM(7)}); }
TEST(grad_layernorm_without_w_b) { GRAD_CHECK(.build = bd_layernorm_plain, .in = {PARAM(2, 2, 5)}); }
TEST(grad_rmsnorm_x_w) { GRAD_CHECK(.build = bd_rmsnorm, .in = {PARAM(3, 7), PARAM(7)}); }
TEST(grad_rmsnorm_without_w) { GRAD_CHECK(.build = bd_rmsnorm_plain, .in = {PARAM(2, 6)}); }

/* ---- transformer pieces ------------------------------------------------------------- */

static const float IDS[6] = {4, 0, 2, 2, 2, 1};
TEST(grad_embedding_table_repeated_ids) { GRAD_CHECK(.build = bd_embedding, .in = {PARAM(5, 3), INDEX(IDS, 2, 3)}); }

static const float POS[3] = {3, 4, 5};
TEST(grad_rope_interleaved) { GRAD_CHECK(.build = bd_rope_inter, .in = {PARAM(2, 3, 2, 4), INDEX(POS, 3)}); }
TEST(grad_rope_halves) { GRAD_CHECK(.build = bd_rope_halves, .in = {PARAM(1, 3, 2, 6), INDEX(POS, 3)}); }

TEST(grad_attention) { GRAD_CHECK(.build = bd_attention, .in = {PARAM(1, 2, 3, 4), PARAM(1, 2, 3, 4), PARAM(1, 2, 3, 3)}); }
TEST(grad_attention_causal) {
    GRAD_CHECK(.build = bd_attention_causal, .in = {PARAM(2, 1, 3, 2), PARAM(2, 1, 3, 2), PARAM(2, 1, 3, 3)});
}
TEST(grad_attention_gqa_causal_tq_less_than_tk) {
    GRAD_CHECK(.build = bd_attention_causal, .in = {PARAM(1, 4, 2, 3), PARAM(1, 2, 4, 3), PARAM(1, 2, 4, 2)});
}
TEST(grad_attention_gqa_decode_scaled) {
    GRAD_CHECK(.build = bd_attention_causal_scaled, .in = {PARAM(1, 4, 1, 3), PARAM(1, 1, 5, 3), PARAM(1, 1, 5, 2)});
}

/* conv2d in x, w and b: strides, asymmetric pads, dilation, groups, depthwise */
TEST(grad_conv2d_strided_dilated_padded) {
    GRAD_CHECK(.build = bd_conv_strided, .in = {PARAM(1, 2, 5, 4), PARAM(3, 2, 3, 2), PARAM(3)});
}
TEST(grad_conv2d_groups) { GRAD_CHECK(.build = bd_conv_groups, .in = {PARAM(2, 4, 4, 4), PARAM(4, 2, 2, 3), PARAM(4)}); }
TEST(grad_conv2d_depthwise) {
    GRAD_CHECK(.build = bd_conv_depthwise, .in = {PARAM(1, 3, 5, 5), PARAM(3, 1, 3, 3), PARAM(3)});
}
TEST(grad_conv2d_no_bias_1x1) { GRAD_CHECK(.build = bd_conv_plain, .in = {PARAM(2, 3, 3, 2), PARAM(2, 3, 1, 1)}); }

TEST(grad_concat_dim0) { GRAD_CHECK(.build = bd_concat0, .in = {PARAM(2, 3), PARAM(3, 3)}); }
TEST(grad_concat_last_dim) { GRAD_CHECK(.build = bd_concat2, .in = {PARAM(2, 2, 2), PARAM(2, 2, 3)}); }

/* ---- reductions and losses ---------------------------------------------------------- */

TEST(grad_sum) { GRAD_CHECK(.build = bd_sum, .in = {PARAM(3, 5)}); }
TEST(grad_mean) { GRAD_CHECK(.build = bd_mean, .in = {PARAM(3, 5)}); }
TEST(grad_sum_dim0) { GRAD_CHECK(.build = bd_sum_dim0, .in = {PARAM(3, 4, 2)}); }
TEST(grad_sum_dim1) { GRAD_CHECK(.build = bd_sum_dim1, .in = {PARAM(3, 4, 2)}); }
TEST(grad_mean_dim0) { GRAD_CHECK(.build = bd_mean_dim0, .in = {PARAM(3, 4, 2)}); }
TEST(grad_mean_dim2) { GRAD_CHECK(.build = bd_mean_dim2, .in = {PARAM(3, 4, 2)}); }

static const float LABELS[4] = {1, 0, 4, 1};
TEST(grad_cross_entropy_logits) {
    GRAD_CHECK(.build = bd_cross_entropy, .in = {{SHAPE(4, 5), .param = true, .lo = -3, .hi = 3}, INDEX(LABELS, 4)});
}
TEST(grad_mse) { GRAD_CHECK(.build = bd_mse, .in = {PARAM(3, 4), PARAM(3, 4)}); }

/* ---- views, cont, cast ---------------------------------------------------------------- */

TEST(grad_reshape) { GRAD_CHECK(.build = bd_reshape, .in = {PARAM(3, 4)}); }
TEST(grad_permute_view) { GRAD_CHECK(.build = bd_permute, .in = {PARAM(2, 3, 4)}); }
TEST(grad_permute_cont) { GRAD_CHECK(.build = bd_permute_cont, .in = {PARAM(2, 3, 4)}); }
TEST(grad_transpose_view) { GRAD_CHECK(.build = bd_transpose, .in = {PARAM(3, 5)}); }
TEST(grad_transpose_cont) { GRAD_CHECK(.build = bd_transpose_cont, .in = {PARAM(2, 3, 4)}); }
TEST(grad_slice_view) { GRAD_CHECK(.build = bd_slice, .in = {PARAM(3, 5, 2)}); }
TEST(grad_slice_cont) { GRAD_CHECK(.build = bd_slice_cont, .in = {PARAM(3, 5)}); }
TEST(grad_transposed_view_into_matmul) { GRAD_CHECK(.build = bd_transpose_matmul, .in = {PARAM(4, 3), PARAM(4, 5)}); }
TEST(grad_cast_f16_round_trip) { GRAD_CHECK(.build = bd_cast_f16, .in = {PARAM(3, 5)}, .on_grid = true); }
TEST(grad_cast_bf16_round_trip) { GRAD_CHECK(.build = bd_cast_bf16, .in = {PARAM(3, 5)}, .on_grid = true); }
TEST(grad_f16_leaf_cast_up) {
    GRAD_CHECK(.build = bd_cast_up, .in = {{SHAPE(3, 5), .dtype = HWA_F16, .param = true}}, .on_grid = true);
}

/* ---- accumulation ------------------------------------------------------------------------ */

/* Gradients add up over runs until hwa_graph_zero_grads. */
TEST(grads_accumulate_until_zeroed) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    CHECK(ctx);
    hwa_tensor *x = hwa_tensor_new_1d(ctx, HWA_F32, 3);
    hwa_tensor *w = hwa_tensor_new_1d(ctx, HWA_F32, 3);
    hwa_status s = hwa_tensor_set_param(x);
    hwa_tensor *loss = hwa_sum(ctx, hwa_mul(ctx, x, w));
    hwa_graph *g = hwa_graph_new(ctx);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    const float xv[3] = {1, 2, 3}, wv[3] = {0.5f, -1, 4};
    float once[3] = {0}, twice[3] = {0}, again[3] = {0};
    if (!s && loss && g && be) s = hwa_graph_build_forward(g, loss);
    else s = HWA_E_INVALID;
    if (!s) s = hwa_graph_build_backward(g, loss);
    if (!s) s = hwa_ctx_alloc_leaves(ctx, be);
    if (!s) s = hwa_tensor_set_f32(x, xv, 3);
    if (!s) s = hwa_tensor_set_f32(w, wv, 3);
    if (!s) s = hwa_graph_alloc(g, be, HWA_PLAN_REUSE, NULL);
    if (!s) s = hwa_graph_zero_grads(g);
    if (!s) s = hwa_graph_compute(g, be);
    if (!s) s = hwa_tensor_get_f32(hwa_tensor_grad(x), once, 3);
    if (!s) s = hwa_graph_compute(g, be);
    if (!s) s = hwa_tensor_get_f32(hwa_tensor_grad(x), twice, 3);
    if (!s) s = hwa_graph_zero_grads(g);
    if (!s) s = hwa_graph_compute(g, be);
    if (!s) s = hwa_tensor_get_f32(hwa_tensor_grad(x), again, 3);
    int n_params = g ? hwa_graph_n_params(g) : -1;
    hwa_tensor *p0 = n_params > 0 ? hwa_graph_param(g, 0) : NULL;
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    CHECK_OK(s);
    CHECK_INT_EQ(n_params, 1);
    CHECK(p0 == x);
    for (int i = 0; i < 3; i++) {
        CHECK_NEAR(once[i], wv[i], 0);
        CHECK_NEAR(twice[i], 2 * wv[i], 0);
        CHECK_NEAR(again[i], wv[i], 0);
    }
}

/* ---- elementwise and indexing ops for ONNX models ------------------------------------- */

/* One builder per map function: the function's op code and its a, b. */
static hwa_map_fn gc_map_fn;
static float gc_map_a, gc_map_b;
static hwa_tensor *bd_map(hwa_ctx *c, hwa_tensor **x) { return hwa_map(c, x[0], gc_map_fn, gc_map_a, gc_map_b); }
#define MAP_CHECK(fn, a, b, ...)                                            \
    do {                                                                    \
        gc_map_fn = (fn), gc_map_a = (a), gc_map_b = (b);                   \
        GRAD_CHECK(.build = bd_map, .in = {{SHAPE(4, 5), .param = true, __VA_ARGS__}}); \
    } while (0)

TEST(grad_map_smooth_fns) {
    MAP_CHECK(HWA_MAP_ERF, 0, 0, .lo = -2, .hi = 2);
    MAP_CHECK(HWA_MAP_SQRT, 0, 0, .lo = 0.5f, .hi = 2);
    MAP_CHECK(HWA_MAP_EXP, 0, 0, .lo = -1.5f, .hi = 1.5f);
    MAP_CHECK(HWA_MAP_LOG, 0, 0, .lo = 0.5f, .hi = 2);
    MAP_CHECK(HWA_MAP_NEG, 0, 0, .lo = -1.5f, .hi = 1.5f);
    MAP_CHECK(HWA_MAP_RECIP, 0, 0, .lo = -2, .hi = 2, .min_abs = 0.5f);
    MAP_CHECK(HWA_MAP_SIN, 0, 0, .lo = -3, .hi = 3);
    MAP_CHECK(HWA_MAP_COS, 0, 0, .lo = -3, .hi = 3);
    MAP_CHECK(HWA_MAP_POWC, 2.5f, 0, .lo = 0.5f, .hi = 2);
    MAP_CHECK(HWA_MAP_SOFTPLUS, 0, 0, .lo = -3, .hi = 3);
}

TEST(grad_map_piecewise_fns_away_from_kinks) {
    MAP_CHECK(HWA_MAP_ABS, 0, 0, .lo = -1.5f, .hi = 1.5f, .min_abs = 0.1f);
    MAP_CHECK(HWA_MAP_LEAKY_RELU, 0.1f, 0, .lo = -1.5f, .hi = 1.5f, .min_abs = 0.1f);
    MAP_CHECK(HWA_MAP_ELU, 0.7f, 0, .lo = -1.5f, .hi = 1.5f, .min_abs = 0.1f);
    MAP_CHECK(HWA_MAP_CLIP, -0.7f, 0.6f, .lo = -1.5f, .hi = 1.5f);
    MAP_CHECK(HWA_MAP_HARD_SIGMOID, 0.2f, 0.5f, .lo = -4, .hi = 4);
}

/* zero gradients, checked where the functions are constant around x */
TEST(grad_map_step_fns_are_zero) {
    MAP_CHECK(HWA_MAP_FLOOR, 0, 0, .lo = 0.1f, .hi = 0.9f);
    MAP_CHECK(HWA_MAP_CEIL, 0, 0, .lo = 0.1f, .hi = 0.9f);
    MAP_CHECK(HWA_MAP_ROUND, 0, 0, .lo = 0.6f, .hi = 1.4f);
    MAP_CHECK(HWA_MAP_SIGN, 0, 0, .lo = -1.5f, .hi = 1.5f, .min_abs = 0.1f);
    MAP_CHECK(HWA_MAP_NOT, 0, 0, .lo = -1.5f, .hi = 1.5f, .min_abs = 0.1f);
}

static hwa_tensor *bd_pow(hwa_ctx *c, hwa_tensor **x) { return hwa_binary(c, x[0], x[1], HWA_BIN_POW); }
static hwa_tensor *bd_max(hwa_ctx *c, hwa_tensor **x) { return hwa_binary(c, x[0], x[1], HWA_BIN_MAX); }
static hwa_tensor *bd_min(hwa_ctx *c, hwa_tensor **x) { return hwa_binary(c, x[0], x[1], HWA_BIN_MIN); }
/* a comparison feeding where (relu written the ONNX way): the condition's
 * gradient is zero, the chosen side's passes */
static hwa_tensor *bd_where_gt(hwa_ctx *c, hwa_tensor **x) {
    return hwa_where(c, hwa_binary(c, x[0], x[1], HWA_BIN_GT), x[0], hwa_scale(c, x[1], 3.0f));
}
static hwa_tensor *bd_where(hwa_ctx *c, hwa_tensor **x) { return hwa_where(c, x[0], x[1], x[2]); }
static hwa_tensor *bd_gather0(hwa_ctx *c, hwa_tensor **x) { return hwa_gather(c, x[0], x[1], 0); }
static hwa_tensor *bd_gather_last(hwa_ctx *c, hwa_tensor **x) { return hwa_gather(c, x[0], x[1], -1); }
static hwa_tensor *bd_rmax_rows(hwa_ctx *c, hwa_tensor **x) {
    return hwa_reduce_max_to(c, x[0], 3, (const int64_t[]){2, 3, 1}, false);
}
static hwa_tensor *bd_rmin_outer(hwa_ctx *c, hwa_tensor **x) {
    return hwa_reduce_max_to(c, x[0], 3, (const int64_t[]){1, 3, 1}, true);
}
static hwa_tensor *bd_reduce_mean(hwa_ctx *c, hwa_tensor **x) {
    return hwa_reduce_to(c, x[0], 3, (const int64_t[]){2, 1, 4}, true);
}
static hwa_tensor *bd_expand(hwa_ctx *c, hwa_tensor **x) {
    return hwa_expand(c, x[0], 3, (const int64_t[]){2, 3, 4});
}

TEST(grad_pow_both_sides_broadcast) {
    GRAD_CHECK(.build = bd_pow, .in = {{SHAPE(3, 5), .param = true, .lo = 0.5f, .hi = 2},
                                       {SHAPE(5), .param = true, .lo = -1.5f, .hi = 1.5f}});
}
TEST(grad_max_min_broadcast) {
    GRAD_CHECK(.build = bd_max, .in = {PARAM(3, 5), PARAM(3, 1)});
    GRAD_CHECK(.build = bd_min, .in = {PARAM(3, 5), PARAM(5)});
}
TEST(grad_where_of_a_comparison) { GRAD_CHECK(.build = bd_where_gt, .in = {PARAM(3, 5), PARAM(3, 5)}); }
static const float COND[6] = {1, 0, 0, -2, 1, 0};
TEST(grad_where_both_sides) {
    GRAD_CHECK(.build = bd_where, .in = {{SHAPE(2, 3), .values = COND}, PARAM(2, 3), PARAM(2, 3)});
}
static const float GIDX[5] = {2, -1, 0, 2, -4};
TEST(grad_gather_axis0_repeated_and_negative) {
    GRAD_CHECK(.build = bd_gather0, .in = {PARAM(4, 3), INDEX(GIDX, 5)});
}
static const float GIDX2[4] = {-1, 0, 2, 2};
TEST(grad_gather_last_axis_2d_indices) {
    GRAD_CHECK(.build = bd_gather_last, .in = {PARAM(2, 3), INDEX(GIDX2, 2, 2)});
}
TEST(grad_reduce_max_and_min) {
    GRAD_CHECK(.build = bd_rmax_rows, .in = {PARAM(2, 3, 4)});
    GRAD_CHECK(.build = bd_rmin_outer, .in = {PARAM(2, 3, 4)});
}
TEST(grad_reduce_mean_and_expand) {
    GRAD_CHECK(.build = bd_reduce_mean, .in = {PARAM(2, 3, 4)});
    GRAD_CHECK(.build = bd_expand, .in = {PARAM(3, 1)});
}

/* ---- vision: pooling, batch normalization, dropout ---------------------- */

/* Max pooling: distinct values 0.06 apart (more than 2h), so that no
 * finite-difference step changes a window's arg-max. */
static const float POOL_X[50] = {
#define PX(j) (float)(((j) * 37) % 50) * 0.06f - 1.5f
    PX(0),  PX(1),  PX(2),  PX(3),  PX(4),  PX(5),  PX(6),  PX(7),  PX(8),  PX(9),  PX(10), PX(11), PX(12),
    PX(13), PX(14), PX(15), PX(16), PX(17), PX(18), PX(19), PX(20), PX(21), PX(22), PX(23), PX(24), PX(25),
    PX(26), PX(27), PX(28), PX(29), PX(30), PX(31), PX(32), PX(33), PX(34), PX(35), PX(36), PX(37), PX(38),
    PX(39), PX(40), PX(41), PX(42), PX(43), PX(44), PX(45), PX(46), PX(47), PX(48), PX(49),
#undef PX
};
static hwa_tensor *bd_max_pool(hwa_ctx *c, hwa_tensor **x) {
    const hwa_pool2d_params p = {HWA_POOL_MAX, {3, 2}, {2, 1}, {1, 0, 1, 1}, {0}, true, false};
    return hwa_pool2d(c, x[0], &p);
}
static hwa_tensor *bd_max_pool_dilated(hwa_ctx *c, hwa_tensor **x) {
    const hwa_pool2d_params p = {HWA_POOL_MAX, {2, 2}, {1, 2}, {1, 1, 0, 0}, {2, 2}, false, false};
    return hwa_pool2d(c, x[0], &p);
}
static hwa_tensor *bd_avg_pool_pads(hwa_ctx *c, hwa_tensor **x) {
    const hwa_pool2d_params p = {HWA_POOL_AVG, {3, 3}, {2, 2}, {1, 1, 1, 1}, {0}, true, true};
    return hwa_pool2d(c, x[0], &p);
}
static hwa_tensor *bd_avg_pool_no_pads(hwa_ctx *c, hwa_tensor **x) {
    const hwa_pool2d_params p = {HWA_POOL_AVG, {2, 3}, {3, 1}, {1, 1, 0, 1}, {0}, false, false};
    return hwa_pool2d(c, x[0], &p);
}
static hwa_tensor *bd_global_avg(hwa_ctx *c, hwa_tensor **x) { return hwa_global_avg_pool(c, x[0]); }
/* x[3] [2, C]: rows of mean and variance (inference), or the running
 * statistics (training, updated at every run without changing y). */
static hwa_tensor *bd_batchnorm(hwa_ctx *c, hwa_tensor **x) {
    const int64_t C = hwa_tensor_dim(x[0], 1);
    return hwa_batchnorm(c, x[0], x[1], x[2], hwa_reshape(c, hwa_slice(c, x[3], 0, 0, 1), 1, &C),
                         hwa_reshape(c, hwa_slice(c, x[3], 0, 1, 1), 1, &C), 1e-3f);
}
static hwa_tensor *bd_batchnorm_train(hwa_ctx *c, hwa_tensor **x) {
    return hwa_batchnorm_train(c, x[0], x[1], x[2], x[3], 1e-3f, 0.1f);
}
static const float SEED[2] = {3, 5};
static hwa_tensor *bd_dropout(hwa_ctx *c, hwa_tensor **x) { return hwa_dropout(c, x[0], 0.4f, x[1]); }

TEST(grad_max_pool_ceil_asymmetric_pads) {
    GRAD_CHECK(.build = bd_max_pool, .in = {{SHAPE(1, 2, 5, 5), .param = true, .values = POOL_X}});
}
TEST(grad_max_pool_dilated) {
    GRAD_CHECK(.build = bd_max_pool_dilated, .in = {{SHAPE(2, 1, 5, 5), .param = true, .values = POOL_X}});
}
TEST(grad_avg_pool_count_include_pad_ceil) { GRAD_CHECK(.build = bd_avg_pool_pads, .in = {PARAM(1, 2, 6, 5)}); }
TEST(grad_avg_pool_exclude_pads) { GRAD_CHECK(.build = bd_avg_pool_no_pads, .in = {PARAM(2, 1, 7, 6)}); }
TEST(grad_global_avg_pool) { GRAD_CHECK(.build = bd_global_avg, .in = {PARAM(2, 3, 3, 4)}); }
TEST(grad_batchnorm_x_scale_bias) {
    GRAD_CHECK(.build = bd_batchnorm,
               .in = {PARAM(2, 3, 2, 3), PARAM(3), PARAM(3), {SHAPE(2, 3), .lo = 0.5f, .hi = 1.5f}});
}
TEST(grad_batchnorm_n_c) {
    GRAD_CHECK(.build = bd_batchnorm, .in = {PARAM(5, 4), PARAM(4), PARAM(4), {SHAPE(2, 4), .lo = 0.5f, .hi = 1.5f}});
}
TEST(grad_batchnorm_train_x_scale_bias) {
    GRAD_CHECK(.build = bd_batchnorm_train, .in = {PARAM(3, 2, 2, 2), PARAM(2), PARAM(2), INPUT(2, 2)});
}
TEST(grad_batchnorm_train_n_c_l) {
    GRAD_CHECK(.build = bd_batchnorm_train, .in = {PARAM(2, 3, 4), PARAM(3), PARAM(3), INPUT(2, 3)});
}
TEST(grad_dropout_fixed_seed) {
    GRAD_CHECK(.build = bd_dropout, .in = {PARAM(4, 9), INDEX(SEED, 2)});
}
