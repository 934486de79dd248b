/* Forward results of every op against PyTorch (float64) goldens.
 *
 * The inputs and expected outputs come from tests/golden/ops_golden.h, which
 * tests/reference/gen_op_goldens.py generates; each case's comment there says
 * what it computes and what its parameters p[] mean. Large inputs of the wide
 * cases are not printed there but regenerated here, bit for bit, from a seed
 * (golden_fill; gen_generator_matches_python checks it against the script).
 *
 * Every case runs twice on the `cpu` backend, and on opencl:0 where there is
 * one; each run is compared with the golden on its own:
 *   reference  every node by its scalar reference kernel
 *              (hwa__cpu_set_reference_only), the yardstick that the fast
 *              kernels and the other backends are compared with;
 *   fast       the backend as users get it at the host's ISA level (HWA_ISA
 *              may lower it): SIMD kernels, the matrix-product providers
 *              (oneDNN, OpenBLAS, our own), fusions. A node the fast path
 *              does not take (a [M,1] operand broadcast along rows, a
 *              strided view) runs its reference kernel here too.
 *   opencl:0   the first OpenCL device, where one exists (PoCL here), for
 *              the ops its backend runs (the others print why not), with
 *              the fast run's tolerance: its kernels compute in f32.
 * A failure names the run, and for the fast run the kernel that computed the
 * output node. The cases include rows of 37, 67 and 1000 elements (vector
 * loop bodies and tails on every ISA), K = 1000 products, and edge rows:
 * norms whose mean square or variance is near, below and far below eps,
 * all-zero rows, softmax rows with -inf entries and +-1000 offsets.
 *
 * Most cases run with f32 inputs; a few also with f16 and bf16 inputs, some
 * with non-contiguous views as inputs. The f16/bf16 codecs are checked
 * separately against values worked out by hand.
 *
 * f32 tolerance: |got - want| <= k (1 + |want|), the golden being the float64
 * result rounded to f32 (3e-8 relative).
 *   reference run, k = REF_F32_TOL = 1e-6: the reference kernels reduce in
 *     double and round each node's result to f32 once (u = 6e-8 relative);
 *     a case's graph has at most three nodes (layernorm with w and b: norm,
 *     mul, add), whose intermediate values are at most a few times
 *     1 + |want| in magnitude, so the error stays below ~10 u (1 + |want|).
 *   fast run, k = F32_TOL = 1e-5 unless a case says otherwise: the kernels
 *     compute in f32 with vector accumulators. A sum of n terms carried in
 *     W lanes (W = 8 or 16) and then across the lanes has an error below
 *     (n / W + log2 W) u sum|terms|: for the rows of <= 67 elements and
 *     terms < 20 that is < 2e-6 (1 + |want|). For the 1000-wide rows the
 *     reductions (norms' mean squares, softmax's sum of exp, sums) are of
 *     positive terms, or are normalised by their own magnitude, so the
 *     relative error of the result stays below (1000 / 8 + 3) u = 8e-6.
 *     The K = 1000 products have their own bound (MM_K1000_TOL).
 */
#include "harness.h"

#include <stdlib.h>

#include "backends/cpu/cpu_backend.h"
#include "golden/ops_golden.h"
#include "golden/spmm_golden.h"
#include "golden/conv_golden.h"

#define F32_TOL 1e-5
#define REF_F32_TOL 1e-6

typedef hwa_tensor *(*build_fn)(hwa_ctx *ctx, hwa_tensor **in, const golden_case *gc);

/* One case: inputs of the given dtypes (NULL: every input f32), the op from
 * build, compared with the golden output within k (1 + |want|) in the fast
 * run and k_ref (1 + |want|) in the reference run (0: k as well). */
typedef struct run_spec {
    const golden_case *gc;
    build_fn build;
    const hwa_dtype *dtypes;
    double k, k_ref;
} run_spec;

/* The values of t: printed in the header, or generated as
 * gen_op_goldens.py's gen_values does. */
static void golden_fill(const golden_tensor *t, float *dst) {
    if (t->v) {
        memcpy(dst, t->v, (size_t)t->n * sizeof *dst);
        return;
    }
    uint32_t s = t->gen.seed;
    for (int64_t i = 0; i < t->n; i++) {
        s = s * 1664525u + 1013904223u;
        const int32_t m = (int32_t)(s >> 8) - (1 << 23);
        const float v = ldexpf((float)m, t->gen.e - 23); /* exact: |m| < 2^24 */
        dst[i] = v + t->gen.offset;
    }
}

TEST(gen_generator_matches_python) {
    golden_tensor t = {1, {8}, 8, NULL, gold_gen_check_spec};
    float got[8];
    golden_fill(&t, got);
    for (int i = 0; i < 8; i++)
        CHECK_MSG(got[i] == gold_gen_check[i], "value %d: got %.9g, want %.9g", i, got[i], gold_gen_check[i]);
}

/* The runs: the CPU's reference kernels, the CPU as users get it, and the
 * first OpenCL device where there is one. */
enum run_kind { RUN_REFERENCE, RUN_FAST, RUN_OPENCL, RUN_COUNT };
static const char *const run_names[RUN_COUNT] = {"reference", "fast", "opencl:0"};

/* Whether opencl:0 can be made here (asked once). */
static bool opencl_present(void) {
    static int have = -1;
    if (have < 0) {
        hwa_ctx *ctx = hwa_ctx_new(NULL);
        hwa_backend *be = ctx ? hwa_backend_new(ctx, hwa_test_opencl_spec()) : NULL;
        have = be != NULL;
        if (!be && getenv("HWA_TEST_OPENCL"))
            fprintf(stderr, "HWA_TEST_OPENCL=%s: %s\n", getenv("HWA_TEST_OPENCL"), ctx ? hwa_ctx_last_error(ctx) : "");
        hwa_backend_free(be);
        hwa_ctx_free(ctx);
    }
    return have;
}

static void run_in(hwa_ctx *ctx, hwa_backend **be_out, const run_spec *rs, enum run_kind kind) {
    const golden_case *gc = rs->gc;
    const bool reference = kind == RUN_REFERENCE;
    const char *run_name = run_names[kind];
    hwa_tensor *in[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < gc->n_in; i++) {
        hwa_dtype dt = rs->dtypes ? rs->dtypes[i] : HWA_F32;
        in[i] = hwa_tensor_new(ctx, dt, gc->in[i].ndim, gc->in[i].shape);
        CHECK_MSG(in[i], "%s: input %d: %s", gc->name, i, hwa_ctx_last_error(ctx));
    }
    hwa_tensor *out = rs->build(ctx, in, gc);
    CHECK_MSG(out, "%s: builder failed: %s", gc->name, hwa_ctx_last_error(ctx));
    CHECK_INT_EQ(hwa_tensor_ndim(out), gc->out.ndim);
    for (int d = 0; d < gc->out.ndim; d++) CHECK_INT_EQ(hwa_tensor_dim(out, d), gc->out.shape[d]);

    hwa_graph *g = hwa_graph_new(ctx);
    CHECK(g);
    CHECK_OK(hwa_graph_build_forward(g, out));
    hwa_backend *be = hwa_backend_new(ctx, kind == RUN_OPENCL ? hwa_test_opencl_spec() : "cpu");
    CHECK_MSG(be, "%s backend: %s", run_name, hwa_ctx_last_error(ctx));
    *be_out = be;
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    for (int i = 0; i < gc->n_in; i++) {
        float *v = malloc((size_t)gc->in[i].n * sizeof *v);
        CHECK(v);
        golden_fill(&gc->in[i], v);
        const hwa_status st = hwa_tensor_set_f32(in[i], v, gc->in[i].n);
        free(v);
        CHECK_OK(st);
    }
    hwa__cpu_set_reference_only(reference);
    const hwa_status st = hwa_graph_compute(g, be);
    hwa__cpu_set_reference_only(false);
    if (kind == RUN_OPENCL && st == HWA_E_UNSUPPORTED) {
        /* the differential harness (test_backend_ops) lists what the device
         * cannot run yet and why */
        fprintf(stderr, "    %s: not on %s: %s\n", gc->name, hwa_test_opencl_spec(), hwa_ctx_last_error(ctx));
        return;
    }
    CHECK_MSG(st == HWA_OK, "%s (%s run): compute returned %s: %s", gc->name, run_name, hwa_status_name(st),
              hwa_ctx_last_error(ctx));

    float *got = malloc((size_t)gc->out.n * sizeof *got);
    CHECK(got);
    const hwa_status gst = hwa_tensor_get_f32(out, got, gc->out.n);
    const double k = reference && rs->k_ref > 0 ? rs->k_ref : rs->k;
    const char *kernel = reference ? "ref" : kind == RUN_OPENCL ? "device" : hwa_backend_kernel_name(be, out);
    int64_t bad = -1;
    for (int64_t i = 0; gst == HWA_OK && i < gc->out.n && bad < 0; i++) {
        const double want = gc->out.v[i];
        /* an infinite golden (log_softmax of -inf) must come out exactly */
        const bool ok = isinf(want) ? got[i] == want : fabs(got[i] - want) <= k * (1.0 + fabs(want));
        if (!ok) bad = i;
    }
    const float got_bad = bad >= 0 ? got[bad] : 0.0f;
    free(got);
    CHECK_OK(gst);
    if (bad >= 0) {
        const double want = gc->out.v[bad];
        CHECK_MSG(false, "%s (%s, %s run, kernel %s): element %lld: got %.9g, want %.9g (|diff| %.3g > %.3g)",
                  gc->name, hwa_dtype_name(hwa_tensor_dtype(out)), run_name, kernel ? kernel : "?",
                  (long long)bad, got_bad, want, fabs(got_bad - want), k * (1.0 + fabs(want)));
    }
}

/* Every run, each in a fresh context; a later run goes on when an earlier
 * one failed, so that a failure says which run it is in. */
static void run(const run_spec *rs) {
    for (int r = 0; r < RUN_COUNT; r++) {
        if (r == RUN_OPENCL && !opencl_present()) {
            /* test_backend_ops says why; a device asked for by name must be there */
            CHECK_MSG(!getenv("HWA_TEST_OPENCL"), "HWA_TEST_OPENCL names a device that cannot be made");
            continue;
        }
        hwa_ctx *ctx = hwa_ctx_new(NULL);
        CHECK(ctx);
        hwa_backend *be = NULL;
        run_in(ctx, &be, rs, (enum run_kind)r);
        hwa_backend_free(be);
        hwa_ctx_free(ctx);
    }
}

static void run_f32(const golden_case *gc, build_fn build) {
    run_spec rs = {gc, build, NULL, F32_TOL, REF_F32_TOL};
    run(&rs);
}

/* ---- builders: one per op, parameters from gc->p ------------------------ */

/* A builder's signature; not every builder reads its parameters. */
#define BUILDER(name) \
    static hwa_tensor *name(hwa_ctx *c, hwa_tensor **in, __attribute__((unused)) const golden_case *gc)

BUILDER(b_add) {
    return hwa_add(c, in[0], in[1]);
}
BUILDER(b_sub) {
    return hwa_sub(c, in[0], in[1]);
}
BUILDER(b_mul) {
    return hwa_mul(c, in[0], in[1]);
}
BUILDER(b_div) {
    return hwa_div(c, in[0], in[1]);
}
BUILDER(b_scale) {
    return hwa_scale(c, in[0], (float)gc->p[0]);
}
BUILDER(b_bias_add) {
    return hwa_bias_add(c, in[0], in[1]);
}
BUILDER(b_matmul) {
    bool ta = gc->p[0] != 0, tb = gc->p[1] != 0;
    return (ta || tb) ? hwa_matmul_ex(c, in[0], in[1], ta, tb) : hwa_matmul(c, in[0], in[1]);
}
BUILDER(b_relu) {
    return hwa_relu(c, in[0]);
}
BUILDER(b_gelu) {
    return hwa_gelu(c, in[0]);
}
BUILDER(b_silu) {
    return hwa_silu(c, in[0]);
}
BUILDER(b_sigmoid) {
    return hwa_sigmoid(c, in[0]);
}
BUILDER(b_tanh) {
    return hwa_tanh(c, in[0]);
}
BUILDER(b_softmax) {
    return hwa_softmax(c, in[0]);
}
BUILDER(b_log_softmax) {
    return hwa_log_softmax(c, in[0]);
}
BUILDER(b_layernorm) {
    return hwa_layernorm(c, in[0], gc->n_in > 1 ? in[1] : NULL, gc->n_in > 2 ? in[2] : NULL, (float)gc->p[0]);
}
BUILDER(b_rmsnorm) {
    return hwa_rmsnorm(c, in[0], gc->n_in > 1 ? in[1] : NULL, (float)gc->p[0]);
}
BUILDER(b_embedding) {
    return hwa_embedding(c, in[0], in[1]);
}
BUILDER(b_rope) {
    return hwa_rope(c, in[0], in[1], (float)gc->p[0], (hwa_rope_mode)(int)gc->p[1]);
}
BUILDER(b_attention) {
    return hwa_attention(c, in[0], in[1], in[2], gc->p[0] != 0, (float)gc->p[1]);
}
BUILDER(b_cache_attention) {
    return hwa_cache_attention(c, in[0], in[1], in[2], in[3], (float)gc->p[0]);
}
BUILDER(b_cache_write) {
    return hwa_cache_write(c, in[0], in[1], in[2]);
}
BUILDER(b_concat) {
    return hwa_concat(c, in[0], in[1], (int)gc->p[0]);
}
BUILDER(b_sum) {
    return hwa_sum(c, in[0]);
}
BUILDER(b_mean) {
    return hwa_mean(c, in[0]);
}
BUILDER(b_sum_dim) {
    return hwa_sum_dim(c, in[0], (int)gc->p[0]);
}
BUILDER(b_mean_dim) {
    return hwa_mean_dim(c, in[0], (int)gc->p[0]);
}
BUILDER(b_cross_entropy) {
    return hwa_cross_entropy(c, in[0], in[1]);
}
BUILDER(b_mse) {
    return hwa_mse(c, in[0], in[1]);
}
BUILDER(b_reshape_cont) {
    int64_t shape[2] = {(int64_t)gc->p[0], (int64_t)gc->p[1]};
    return hwa_cont(c, hwa_reshape(c, in[0], 2, shape));
}
BUILDER(b_permute_cont) {
    int perm[4];
    for (int d = 0; d < 4; d++) perm[d] = (int)gc->p[d];
    return hwa_cont(c, hwa_permute(c, in[0], perm));
}
BUILDER(b_transpose_cont) {
    return hwa_cont(c, hwa_transpose(c, in[0]));
}
BUILDER(b_slice_cont) {
    return hwa_cont(c, hwa_slice(c, in[0], (int)gc->p[0], (int64_t)gc->p[1], (int64_t)gc->p[2]));
}
BUILDER(b_cast_f16) {
    return hwa_cast(c, hwa_cast(c, in[0], HWA_F16), HWA_F32);
}
BUILDER(b_cast_bf16) {
    return hwa_cast(c, hwa_cast(c, in[0], HWA_BF16), HWA_F32);
}

/* ---- f32 cases ------------------------------------------------------------ */

TEST(add_same_shape) { run_f32(&GOLD_add_same, b_add); }
TEST(add_broadcast_n) { run_f32(&GOLD_add_bn, b_add); }
TEST(add_broadcast_1n) { run_f32(&GOLD_add_b1n, b_add); }
TEST(add_broadcast_m1) { run_f32(&GOLD_add_bm1, b_add); }
TEST(add_broadcast_missing_leading_dim) { run_f32(&GOLD_add_3d_b1n, b_add); }
TEST(sub_same_shape) { run_f32(&GOLD_sub_same, b_sub); }
TEST(sub_broadcast_n) { run_f32(&GOLD_sub_bn, b_sub); }
TEST(sub_broadcast_1n) { run_f32(&GOLD_sub_b1n, b_sub); }
TEST(sub_broadcast_m1) { run_f32(&GOLD_sub_bm1, b_sub); }
TEST(mul_same_shape) { run_f32(&GOLD_mul_same, b_mul); }
TEST(mul_broadcast_n) { run_f32(&GOLD_mul_bn, b_mul); }
TEST(mul_broadcast_1n) { run_f32(&GOLD_mul_b1n, b_mul); }
TEST(mul_broadcast_m1) { run_f32(&GOLD_mul_bm1, b_mul); }
TEST(mul_broadcast_middle_dim) { run_f32(&GOLD_mul_3d_mid1, b_mul); }
TEST(div_same_shape) { run_f32(&GOLD_div_same, b_div); }
TEST(div_broadcast_n) { run_f32(&GOLD_div_bn, b_div); }
TEST(div_broadcast_1n) { run_f32(&GOLD_div_b1n, b_div); }
TEST(div_broadcast_m1) { run_f32(&GOLD_div_bm1, b_div); }
TEST(scale) { run_f32(&GOLD_scale, b_scale); }
TEST(bias_add) { run_f32(&GOLD_bias_add, b_bias_add); }

TEST(matmul_plain) { run_f32(&GOLD_matmul_plain, b_matmul); }
TEST(matmul_row_vector) { run_f32(&GOLD_matmul_vec, b_matmul); }
TEST(matmul_trans_a) { run_f32(&GOLD_matmul_trans_a, b_matmul); }
TEST(matmul_trans_b) { run_f32(&GOLD_matmul_trans_b, b_matmul); }
TEST(matmul_trans_a_and_b) { run_f32(&GOLD_matmul_trans_ab, b_matmul); }
TEST(matmul_batched_3d) { run_f32(&GOLD_matmul_3d, b_matmul); }
TEST(matmul_batched_4d) { run_f32(&GOLD_matmul_4d, b_matmul); }
TEST(matmul_batch_broadcast_b_extent_1) { run_f32(&GOLD_matmul_bcast_b1, b_matmul); }
TEST(matmul_batch_broadcast_b_2d) { run_f32(&GOLD_matmul_bcast_b2d, b_matmul); }
TEST(matmul_batch_broadcast_4d) { run_f32(&GOLD_matmul_bcast_4d, b_matmul); }
TEST(matmul_batch_broadcast_trans_b) { run_f32(&GOLD_matmul_bcast_trans_b, b_matmul); }

TEST(relu) { run_f32(&GOLD_relu, b_relu); }
TEST(gelu_exact_erf) { run_f32(&GOLD_gelu, b_gelu); }
TEST(silu) { run_f32(&GOLD_silu, b_silu); }
TEST(sigmoid) { run_f32(&GOLD_sigmoid, b_sigmoid); }
TEST(tanh) { run_f32(&GOLD_tanh, b_tanh); }

TEST(softmax_large_and_small_rows) { run_f32(&GOLD_softmax, b_softmax); }
TEST(log_softmax_large_and_small_rows) { run_f32(&GOLD_log_softmax, b_log_softmax); }
TEST(softmax_3d) { run_f32(&GOLD_softmax_3d, b_softmax); }
TEST(softmax_rows_of_one) { run_f32(&GOLD_softmax_n1, b_softmax); }

TEST(layernorm_with_w_and_b) { run_f32(&GOLD_layernorm, b_layernorm); }
TEST(layernorm_without_w_and_b) { run_f32(&GOLD_layernorm_nowb, b_layernorm); }
TEST(rmsnorm_with_w) { run_f32(&GOLD_rmsnorm, b_rmsnorm); }
TEST(rmsnorm_without_w) { run_f32(&GOLD_rmsnorm_now, b_rmsnorm); }

/* Cases whose second input is an index tensor (ids, positions, labels). */
static void run_index(const golden_case *gc, build_fn build) {
    static const hwa_dtype f32_i32[] = {HWA_F32, HWA_I32};
    run_spec rs = {gc, build, f32_i32, F32_TOL, REF_F32_TOL};
    run(&rs);
}

TEST(embedding_repeated_ids) { run_index(&GOLD_embedding, b_embedding); }
TEST(rope_interleaved) { run_index(&GOLD_rope_interleaved, b_rope); }
TEST(rope_halves) { run_index(&GOLD_rope_halves, b_rope); }
TEST(rope_theta_100_unsorted_positions) { run_index(&GOLD_rope_theta100, b_rope); }

TEST(attention) { run_f32(&GOLD_attention, b_attention); }
TEST(attention_causal) { run_f32(&GOLD_attention_causal, b_attention); }
TEST(attention_gqa) { run_f32(&GOLD_attention_gqa, b_attention); }
TEST(attention_gqa_causal_tq_less_than_tk) { run_f32(&GOLD_attention_gqa_causal_tq_lt_tk, b_attention); }
TEST(attention_decode_step_explicit_scale) { run_f32(&GOLD_attention_decode_scale, b_attention); }

/* The last input, the cache ops' (sequence, position) rows, is i32. */
static void run_cache(const golden_case *gc, build_fn build) {
    hwa_dtype dt[4] = {HWA_F32, HWA_F32, HWA_F32, HWA_F32};
    dt[gc->n_in - 1] = HWA_I32;
    run_spec rs = {gc, build, dt, F32_TOL, REF_F32_TOL};
    run(&rs);
}

TEST(cache_attention_of_three_rows_over_four_sequences) { run_cache(&GOLD_cache_attention, b_cache_attention); }
TEST(cache_write_of_two_rows_into_three_sequences) { run_cache(&GOLD_cache_write, b_cache_write); }

/* The sparse product against torch.sparse (tests/reference/gen_spmm_goldens.py):
 * x f32, row_ptr and col i32, vals f32. */
BUILDER(b_spmm) {
    return hwa_spmm(c, in[0], in[1], in[2], in[3]);
}

static void run_spmm(const golden_case *gc) {
    static const hwa_dtype dt[4] = {HWA_F32, HWA_I32, HWA_I32, HWA_F32};
    run_spec rs = {gc, b_spmm, dt, F32_TOL, REF_F32_TOL};
    run(&rs);
}

TEST(spmm_one_row_of_37_columns) { run_spmm(&GOLD_spmm_vec_k37); }
TEST(spmm_five_rows_of_67_columns) { run_spmm(&GOLD_spmm_m5_k67); }
TEST(spmm_seventy_rows_two_panels) { run_spmm(&GOLD_spmm_m70_k19); }
TEST(spmm_one_row_of_1000_columns) { run_spmm(&GOLD_spmm_vec_k1000); }
TEST(spmm_64_rows_of_784_columns) { run_spmm(&GOLD_spmm_m64_k784); }

/* 2-D convolution against torch.nn.functional.conv2d
 * (tests/reference/gen_conv_goldens.py): p holds the strides, pads and
 * dilations; the groups follow from x [N, C, ..] and w [O, C/groups, ..]. */
BUILDER(b_conv2d) {
    hwa_conv2d_params p = {{(int)gc->p[0], (int)gc->p[1]},
                           {(int)gc->p[2], (int)gc->p[3], (int)gc->p[4], (int)gc->p[5]},
                           {(int)gc->p[6], (int)gc->p[7]},
                           (int)(gc->in[0].shape[1] / gc->in[1].shape[1])};
    return hwa_conv2d(c, in[0], in[1], gc->n_in > 2 ? in[2] : NULL, &p);
}

TEST(conv2d_3x3_pad_1_with_bias) { run_f32(&GOLD_conv_3x3_pad1_bias, b_conv2d); }
TEST(conv2d_stride_2x1_asymmetric_pads_dilation_1x2) { run_f32(&GOLD_conv_stride2_asym_dil, b_conv2d); }
TEST(conv2d_two_groups_with_bias) { run_f32(&GOLD_conv_groups2_bias, b_conv2d); }
TEST(conv2d_depthwise_stride_2) { run_f32(&GOLD_conv_depthwise, b_conv2d); }
TEST(conv2d_1x1_with_bias) { run_f32(&GOLD_conv_1x1_bias, b_conv2d); }

/* ---- wide rows and edge rows ------------------------------------------------ */

TEST(add_width_37_broadcast_n) { run_f32(&GOLD_add_w37, b_add); }
TEST(sub_width_67_broadcast_m1) { run_f32(&GOLD_sub_w67_m1, b_sub); }
TEST(mul_width_1000_broadcast_n) { run_f32(&GOLD_mul_w1000, b_mul); }
TEST(div_width_67) { run_f32(&GOLD_div_w67, b_div); }
TEST(scale_width_67) { run_f32(&GOLD_scale_w67, b_scale); }
TEST(bias_add_width_67) { run_f32(&GOLD_bias_add_w67, b_bias_add); }
TEST(relu_width_67_extremes) { run_f32(&GOLD_relu_w67, b_relu); }
TEST(gelu_width_67_extremes) { run_f32(&GOLD_gelu_w67, b_gelu); }
TEST(silu_width_67_extremes) { run_f32(&GOLD_silu_w67, b_silu); }
TEST(sigmoid_width_67_extremes) { run_f32(&GOLD_sigmoid_w67, b_sigmoid); }
TEST(tanh_width_67_extremes) { run_f32(&GOLD_tanh_w67, b_tanh); }
TEST(gelu_width_1000) { run_f32(&GOLD_gelu_w1000, b_gelu); }

TEST(softmax_width_37_masked_and_offset_rows) { run_f32(&GOLD_softmax_w37_masked, b_softmax); }
TEST(log_softmax_width_37_masked_and_offset_rows) { run_f32(&GOLD_log_softmax_w37_masked, b_log_softmax); }
TEST(softmax_width_67_masked_tail_and_offset) { run_f32(&GOLD_softmax_w67, b_softmax); }
TEST(softmax_width_1000_offset_1000) { run_f32(&GOLD_softmax_w1000_offset, b_softmax); }
TEST(log_softmax_width_1000_offset_1000) { run_f32(&GOLD_log_softmax_w1000_offset, b_log_softmax); }

/* Rows whose mean square (variance) is eps, below it, far below it and 0:
 * without eps in the denominator these come out wrong by a factor of 1.4 to
 * 100, or NaN for the zero rows. */
TEST(rmsnorm_width_37_mean_square_near_and_below_eps) { run_f32(&GOLD_rmsnorm_eps_w37, b_rmsnorm); }
TEST(rmsnorm_width_67_mean_square_near_and_below_eps_no_w) { run_f32(&GOLD_rmsnorm_eps_w67_now, b_rmsnorm); }
TEST(rmsnorm_width_1000) { run_f32(&GOLD_rmsnorm_w1000, b_rmsnorm); }
TEST(layernorm_width_37_variance_near_and_below_eps) { run_f32(&GOLD_layernorm_eps_w37, b_layernorm); }
TEST(layernorm_width_67_variance_near_and_below_eps_no_w_b) { run_f32(&GOLD_layernorm_eps_w67_nowb, b_layernorm); }
TEST(layernorm_width_1000) { run_f32(&GOLD_layernorm_w1000, b_layernorm); }

/* K = 1000 in the fast run: the providers accumulate in f32 in blocks of
 * vector FMAs; with inputs in [-1,1) each partial sum is a random walk of
 * |a b| <= 1 steps (|partial| ~ sqrt(k / 9)), and each of the K roundings
 * adds at most u |partial| <= u * 11, so even summed in the worst order the
 * error is below K u 11 = 6.6e-4 and with random rounding directions about
 * sqrt(K) u 11 = 2e-5 (oneDNN with AVX-512 measured 1.5e-5, which is
 * already 8e-6 (1 + |want|) where |want| is small, too close to F32_TOL).
 * MM_K1000_TOL = 1e-4 (1 + |want|) (|want| ~ 9 on average) sits between the
 * two; a missing term a[m][k] b[k][n] moves an output by up to 1 and is
 * caught in every row. */
#define MM_K1000_TOL 1e-4

static void run_mm_k1000(const golden_case *gc) {
    run_spec rs = {gc, b_matmul, NULL, MM_K1000_TOL, REF_F32_TOL};
    run(&rs);
}

TEST(matmul_k_1000) { run_mm_k1000(&GOLD_matmul_k1000); }
TEST(matmul_row_vector_k_1000) { run_mm_k1000(&GOLD_matmul_vec_k1000); }
TEST(matmul_n_1000) { run_f32(&GOLD_matmul_n1000, b_matmul); }
TEST(matmul_trans_a_k_67) { run_f32(&GOLD_matmul_k67_trans_a, b_matmul); }
TEST(matmul_trans_b_k_67) { run_f32(&GOLD_matmul_k67_trans_b, b_matmul); }
TEST(matmul_batched_a_shared_b_k_67) { run_f32(&GOLD_matmul_3d_b2d_k67, b_matmul); }

TEST(rope_interleaved_dim_74_positions_to_4095) { run_index(&GOLD_rope_w74_interleaved, b_rope); }
TEST(rope_halves_dim_74_positions_to_4095) { run_index(&GOLD_rope_w74_halves, b_rope); }
TEST(attention_gqa_causal_head_dim_37_tk_67) { run_f32(&GOLD_attention_w37_gqa_causal, b_attention); }
TEST(attention_decode_tk_1000) { run_f32(&GOLD_attention_decode_tk1000, b_attention); }

TEST(cross_entropy_1000_classes) { run_index(&GOLD_cross_entropy_w1000, b_cross_entropy); }
TEST(mse_width_1000) { run_f32(&GOLD_mse_w1000, b_mse); }
TEST(sum_37x67) { run_f32(&GOLD_sum_w37x67, b_sum); }
TEST(mean_37x67) { run_f32(&GOLD_mean_w37x67, b_mean); }
TEST(mean_dim0_37x67) { run_f32(&GOLD_mean_dim0_w37x67, b_mean_dim); }
TEST(sum_dim1_width_1000) { run_f32(&GOLD_sum_dim1_w1000, b_sum_dim); }
TEST(embedding_width_67) { run_index(&GOLD_embedding_w67, b_embedding); }
TEST(concat_widths_37_and_67) { run_f32(&GOLD_concat_w37_w67, b_concat); }
TEST(transpose_37x67_then_cont) { run_f32(&GOLD_transpose_w37x67_cont, b_transpose_cont); }

TEST(concat_dim0) { run_f32(&GOLD_concat_dim0, b_concat); }
TEST(concat_last_dim) { run_f32(&GOLD_concat_last, b_concat); }
TEST(concat_middle_dim) { run_f32(&GOLD_concat_mid, b_concat); }

TEST(sum) { run_f32(&GOLD_sum, b_sum); }
TEST(mean) { run_f32(&GOLD_mean, b_mean); }
TEST(sum_dim0) { run_f32(&GOLD_sum_dim0, b_sum_dim); }
TEST(sum_dim1) { run_f32(&GOLD_sum_dim1, b_sum_dim); }
TEST(sum_dim2) { run_f32(&GOLD_sum_dim2, b_sum_dim); }
TEST(mean_dim0) { run_f32(&GOLD_mean_dim0, b_mean_dim); }
TEST(mean_dim1) { run_f32(&GOLD_mean_dim1, b_mean_dim); }
TEST(mean_dim2) { run_f32(&GOLD_mean_dim2, b_mean_dim); }
TEST(cross_entropy) { run_index(&GOLD_cross_entropy, b_cross_entropy); }
TEST(cross_entropy_large_logits) { run_index(&GOLD_cross_entropy_big, b_cross_entropy); }
TEST(mse) { run_f32(&GOLD_mse, b_mse); }

TEST(reshape_then_cont) { run_f32(&GOLD_reshape_cont, b_reshape_cont); }
TEST(permute_3d_then_cont) { run_f32(&GOLD_permute_cont, b_permute_cont); }
TEST(permute_4d_then_cont) { run_f32(&GOLD_permute4_cont, b_permute_cont); }
TEST(transpose_2d_then_cont) { run_f32(&GOLD_transpose_cont, b_transpose_cont); }
TEST(transpose_3d_then_cont) { run_f32(&GOLD_transpose3_cont, b_transpose_cont); }
TEST(slice_middle_dim_then_cont) { run_f32(&GOLD_slice_cont, b_slice_cont); }
TEST(slice_negative_dim_then_cont) { run_f32(&GOLD_slice_last_cont, b_slice_cont); }

/* The cast goldens are PyTorch's own f32 -> f16/bf16 conversions (round to
 * nearest even), so the round trip must match exactly. */
TEST(cast_f16_round_trip) {
    run_spec rs = {&GOLD_cast_f16, b_cast_f16, NULL, 0.0, 0.0};
    run(&rs);
}
TEST(cast_bf16_round_trip) {
    run_spec rs = {&GOLD_cast_bf16, b_cast_bf16, NULL, 0.0, 0.0};
    run(&rs);
}

/* A 16-bit float codec: narrow must give the nearest value (ties to the
 * even one), NaN as a quiet NaN (quiet bits set) of the same sign, and
 * infinity from half an ulp above the largest finite value (max) on.
 * Checked on an f32 sample spread over all 2^32 patterns and on every tie
 * (halfway between neighbours, exact in f32). Returns the errors. */
typedef struct codec16 {
    uint16_t (*narrow)(float);
    float (*widen)(uint16_t);
    uint16_t max, quiet;
} codec16;

static long codec_rounding_errors(const codec16 *c) {
    const double top = c->widen(c->max), past = top + (top - c->widen((uint16_t)(c->max - 1))) / 2;
    long bad = 0;
    for (uint64_t i = 0; i < (1u << 24); i++) {
        const uint32_t bits = (uint32_t)(i << 8 | (i * 37 & 255));
        float x;
        memcpy(&x, &bits, 4);
        const uint16_t h = c->narrow(x), mag = h & 0x7fff;
        if ((h & 0x8000) != (bits >> 16 & 0x8000)) {
            bad++;
        } else if (isnan(x)) {
            bad += (h & c->quiet) != c->quiet;
        } else if (fabs((double)x) >= past) {
            bad += mag != c->max + 1; /* infinity follows the largest finite */
        } else if (mag > c->max) {
            bad++;
        } else {
            const double ax = fabs((double)x), d = fabs(ax - c->widen(mag));
            if (mag > 0) {
                const double dn = fabs(ax - c->widen((uint16_t)(mag - 1)));
                bad += dn < d || (dn == d && (mag & 1));
            }
            if (mag < c->max) {
                const double up = fabs(ax - c->widen((uint16_t)(mag + 1)));
                bad += up < d || (up == d && (mag & 1));
            }
        }
    }
    for (uint16_t mag = 0; mag < c->max; mag++) {
        const float mid = (float)(((double)c->widen(mag) + (double)c->widen((uint16_t)(mag + 1))) / 2);
        const uint16_t even = (mag & 1) ? (uint16_t)(mag + 1) : mag;
        bad += c->narrow(mid) != even || c->narrow(-mid) != (even | 0x8000);
    }
    return bad;
}

/* f16: every value widens to (1024 + m) 2^(e - 25), m 2^-24 when e is 0. */
TEST(f16_codec_matches_its_definition) {
    long bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const int e = (int)(h >> 10) & 31, m = (int)(h & 1023);
        const float got = hwa_f16_to_f32((uint16_t)h);
        if (e == 31 && m) {
            bad += !isnan(got);
            continue;
        }
        double v = e == 31 ? INFINITY : e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
        if (h & 0x8000) v = -v;
        bad += (double)got != v || !!signbit(got) != !!(h & 0x8000);
    }
    CHECK_INT_EQ(bad, 0);
    const codec16 c = {hwa_f32_to_f16, hwa_f16_to_f32, 0x7bff, 0x7e00};
    CHECK_INT_EQ(codec_rounding_errors(&c), 0);
}

/* bf16: every value is the top half of an f32. */
TEST(bf16_codec_matches_its_definition) {
    long bad = 0;
    for (uint32_t b = 0; b < 65536; b++) {
        const uint32_t w = b << 16;
        float want, got = hwa_bf16_to_f32((uint16_t)b);
        memcpy(&want, &w, 4);
        bad += memcmp(&want, &got, 4) != 0;
    }
    CHECK_INT_EQ(bad, 0);
    const codec16 c = {hwa_f32_to_bf16, hwa_bf16_to_f32, 0x7f7f, 0x7fc0};
    CHECK_INT_EQ(codec_rounding_errors(&c), 0);
}

/* ---- non-contiguous inputs -------------------------------------------------- */

BUILDER(b_noncontig_add) {
    static const int perm[3] = {2, 0, 1};
    hwa_tensor *v = hwa_permute(c, in[0], perm);
    if (v && hwa_tensor_is_contiguous(v)) return NULL; /* the point of the test */
    return hwa_add(c, v, in[1]);
}
BUILDER(b_noncontig_matmul) {
    return hwa_matmul(c, hwa_transpose(c, in[0]), in[1]);
}
BUILDER(b_noncontig_softmax) {
    return hwa_softmax(c, hwa_transpose(c, in[0]));
}
BUILDER(b_noncontig_slice_mul) {
    return hwa_mul(c, hwa_slice(c, in[0], 1, 4, 2), in[1]);
}

TEST(add_reads_permuted_view) { run_f32(&GOLD_noncontig_add, b_noncontig_add); }
TEST(matmul_reads_transposed_view) { run_f32(&GOLD_noncontig_matmul, b_noncontig_matmul); }
TEST(softmax_reads_transposed_view) { run_f32(&GOLD_noncontig_softmax, b_noncontig_softmax); }
TEST(mul_reads_sliced_view) { run_f32(&GOLD_noncontig_slice_mul, b_noncontig_slice_mul); }

/* ---- f16 and bf16 inputs ------------------------------------------------------
 *
 * The op computes in f32 from inputs rounded to the format and rounds its
 * result to the format (the result has the first operand's dtype), so the
 * error against the float64 golden of the unrounded inputs is bounded by the
 * format's unit roundoff u (f16: 2^-11, bf16: 2^-8) times a factor k of the
 * op's sensitivity, relative to 1 + |want|:
 *   add, |a|,|b| < 2:       u(|a|+|b|) from the inputs + u|out|   -> k = 4
 *   mul, |a|,|b| < 2:       2u|out| from the inputs + u|out|      -> k = 4
 *   matmul, K = 4, |.| < 2: 2u * sum|a b| <= 32u, + u|out|        -> k = 34
 *   softmax, |x| < 3:       each output moves by <= 2 max|dx| = 6u
 *                           relative, + u rounding                -> k = 8
 *   gelu, |x| < 4:          |gelu'| < 1.13, so 4.5u, + u|out|     -> k = 6
 */
#define U_F16 0x1p-11
#define U_BF16 0x1p-8

static const hwa_dtype DT_F16[] = {HWA_F16, HWA_F16};
static const hwa_dtype DT_BF16[] = {HWA_BF16, HWA_BF16};

static void run_low(const golden_case *gc, build_fn build, double k) {
    run_spec f16 = {gc, build, DT_F16, k * U_F16, 0.0};
    run(&f16);
    if (hwa_test_failed_now()) return;
    run_spec bf16 = {gc, build, DT_BF16, k * U_BF16, 0.0};
    run(&bf16);
}

TEST(add_broadcast_f16_bf16) { run_low(&GOLD_add_bn, b_add, 4); }
TEST(mul_broadcast_f16_bf16) { run_low(&GOLD_mul_bm1, b_mul, 4); }
TEST(matmul_f16_bf16) { run_low(&GOLD_matmul_plain, b_matmul, 34); }
TEST(softmax_f16_bf16) { run_low(&GOLD_softmax_3d, b_softmax, 8); }
TEST(gelu_f16_bf16) { run_low(&GOLD_gelu, b_gelu, 6); }

/* The result of an f16 op is f16 (the first operand's dtype). */
TEST(f16_op_result_dtype) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    CHECK(ctx);
    hwa_tensor *a = hwa_tensor_new_2d(ctx, HWA_F16, 2, 3);
    hwa_tensor *b = hwa_tensor_new_2d(ctx, HWA_BF16, 2, 3);
    hwa_tensor *y = hwa_add(ctx, a, b);
    hwa_tensor *s = hwa_softmax(ctx, b);
    bool ok = y && s && hwa_tensor_dtype(y) == HWA_F16 && hwa_tensor_dtype(s) == HWA_BF16;
    hwa_ctx_free(ctx);
    CHECK_MSG(ok, "add(f16, bf16) should be f16 and softmax(bf16) bf16");
}

/* ---- f16 / bf16 codecs, by hand ----------------------------------------------- */

static float bits_to_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

typedef struct codec_case {
    float in;
    uint16_t want;
} codec_case;

TEST(f16_encode_rounds_to_nearest_even) {
    static const codec_case cases[] = {
        {1.0f, 0x3c00},
        {1.0f + 0x1p-10f, 0x3c01},                   /* exactly representable */
        {1.0f + 0x1p-11f, 0x3c00},                   /* tie between 0x3c00 and 0x3c01: even */
        {1.0f + 3 * 0x1p-11f, 0x3c02},               /* tie between 0x3c01 and 0x3c02: even */
        {1.0f + 0x1p-11f + 0x1p-20f, 0x3c01},        /* just above the tie: up */
        {1.0f + 0x1p-11f - 0x1p-23f, 0x3c00},        /* just below the tie: down */
        {-2.0f, 0xc000},
        {0.333333343f, 0x3555},                      /* 1/3: 0x3555 = 0.333251953 */
        {65504.0f, 0x7bff},                          /* largest finite */
        {65519.0f, 0x7bff},                          /* below the tie at 65520 */
        {65520.0f, 0x7c00},                          /* tie, odd 0x7bff -> even: infinity */
        {-65520.0f, 0xfc00},
        {1e6f, 0x7c00},
        {0x1p-14f, 0x0400},                          /* smallest normal */
        {0x1p-24f, 0x0001},                          /* smallest subnormal */
        {1023 * 0x1p-24f, 0x03ff},                   /* largest subnormal */
        {1023.5f * 0x1p-24f, 0x0400},                /* tie: rounds up into the normals */
        {0x1p-25f, 0x0000},                          /* tie between 0 and 0x0001: even (0) */
        {0x1p-25f + 0x1p-40f, 0x0001},               /* just above */
        {3 * 0x1p-25f, 0x0002},                      /* 1.5 * 2^-24: tie, even -> 2 */
        {5 * 0x1p-25f, 0x0002},                      /* 2.5 * 2^-24: tie, even -> 2 */
        {0x1p-30f, 0x0000},
        {-0.0f, 0x8000},
        {0.0f, 0x0000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t got = hwa_f32_to_f16(cases[i].in);
        CHECK_MSG(got == cases[i].want, "f16(%.9g) = 0x%04x, want 0x%04x", cases[i].in, got, cases[i].want);
    }
    CHECK_INT_EQ(hwa_f32_to_f16(INFINITY), 0x7c00);
    CHECK_INT_EQ(hwa_f32_to_f16(-INFINITY), 0xfc00);
}

TEST(f16_nan_stays_nan) {
    const uint32_t nans[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7f802000u, 0x7fffffffu, 0xffffffffu};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        uint16_t h = hwa_f32_to_f16(bits_to_f32(nans[i]));
        CHECK_MSG((h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0, "f16(NaN 0x%08x) = 0x%04x is not NaN", nans[i], h);
        CHECK(isnan(hwa_f16_to_f32(h)));
    }
}

TEST(f16_decode) {
    CHECK_NEAR(hwa_f16_to_f32(0x3c00), 1.0, 0);
    CHECK_NEAR(hwa_f16_to_f32(0xc000), -2.0, 0);
    CHECK_NEAR(hwa_f16_to_f32(0x3555), 0.333251953125, 0);
    CHECK_NEAR(hwa_f16_to_f32(0x7bff), 65504.0, 0);
    CHECK_NEAR(hwa_f16_to_f32(0x0001), 0x1p-24, 0);
    CHECK_NEAR(hwa_f16_to_f32(0x03ff), 1023 * 0x1p-24, 0);
    CHECK_NEAR(hwa_f16_to_f32(0x0400), 0x1p-14, 0);
    CHECK(isinf(hwa_f16_to_f32(0x7c00)) && hwa_f16_to_f32(0x7c00) > 0);
    CHECK(isinf(hwa_f16_to_f32(0xfc00)) && hwa_f16_to_f32(0xfc00) < 0);
    CHECK(signbit(hwa_f16_to_f32(0x8000)) && hwa_f16_to_f32(0x8000) == 0);
    CHECK(isnan(hwa_f16_to_f32(0x7e00)));
    /* Every finite f16 survives a round trip through f32. */
    for (uint32_t h = 0; h < 0x10000u; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        uint16_t back = hwa_f32_to_f16(hwa_f16_to_f32((uint16_t)h));
        CHECK_MSG(back == h, "f16 0x%04x -> %.9g -> 0x%04x", h, hwa_f16_to_f32((uint16_t)h), back);
    }
}

TEST(bf16_encode_rounds_to_nearest_even) {
    static const codec_case cases[] = {
        {1.0f, 0x3f80},
        {1.0f + 0x1p-7f, 0x3f81},                 /* exactly representable */
        {1.0f + 0x1p-8f, 0x3f80},                 /* tie: even */
        {1.0f + 3 * 0x1p-8f, 0x3f82},             /* tie between 0x3f81 and 0x3f82: even */
        {1.0f + 0x1p-8f + 0x1p-20f, 0x3f81},      /* just above the tie */
        {-2.0f, 0xc000},
        {3.14159274f, 0x4049},                    /* pi: 0x40490fdb -> 0x4049 (below half) */
        {0.0f, 0x0000},
        {-0.0f, 0x8000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t got = hwa_f32_to_bf16(cases[i].in);
        CHECK_MSG(got == cases[i].want, "bf16(%.9g) = 0x%04x, want 0x%04x", cases[i].in, got, cases[i].want);
    }
    static const struct {
        uint32_t in;
        uint16_t want;
    } bits[] = {
        {0x7f7f7fffu, 0x7f7f}, /* below the tie under infinity */
        {0x7f7f8000u, 0x7f80}, /* tie, odd 0x7f7f -> even: infinity */
        {0x7f7fffffu, 0x7f80}, /* FLT_MAX rounds to infinity */
        {0xff7fffffu, 0xff80},
        {0x7f800000u, 0x7f80}, /* infinity stays */
        {0xff800000u, 0xff80},
        {0x00008000u, 0x0000}, /* subnormal tie, even */
        {0x00018000u, 0x0002}, /* subnormal tie, odd 0x0001 -> 0x0002 */
        {0x00010001u, 0x0001},
        {0x00400000u, 0x0040}, /* subnormal, exact */
    };
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++) {
        uint16_t got = hwa_f32_to_bf16(bits_to_f32(bits[i].in));
        CHECK_MSG(got == bits[i].want, "bf16(bits 0x%08x) = 0x%04x, want 0x%04x", bits[i].in, got, bits[i].want);
    }
}

TEST(bf16_nan_stays_nan) {
    /* 0x7f800001 + rounding would carry into infinity, 0xffffffff into zero. */
    const uint32_t nans[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7f80ffffu, 0x7fffffffu, 0xffffffffu};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        uint16_t h = hwa_f32_to_bf16(bits_to_f32(nans[i]));
        CHECK_MSG((h & 0x7f80) == 0x7f80 && (h & 0x007f) != 0, "bf16(NaN 0x%08x) = 0x%04x is not NaN", nans[i],
                  h);
        CHECK(isnan(hwa_bf16_to_f32(h)));
    }
}

TEST(bf16_decode_is_exact) {
    for (uint32_t h = 0; h < 0x10000u; h++) {
        float f = hwa_bf16_to_f32((uint16_t)h);
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        CHECK_MSG(u == h << 16, "bf16 0x%04x decodes to bits 0x%08x", h, u);
    }
}

/* The tensor path (hwa_tensor_set_f32 / get_f32 on an f16 tensor) uses the
 * same rounding as the scalar codec. */
TEST(f16_tensor_set_get_rounds_like_codec) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    CHECK(ctx);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    const float in[5] = {1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 65520.0f, 0x1p-25f, 3 * 0x1p-25f};
    const float want[5] = {1.0f, 1.0f + 0x1p-9f, INFINITY, 0.0f, 0x1p-23f};
    float got[5] = {0};
    hwa_tensor *t = hwa_tensor_new_1d(ctx, HWA_F16, 5);
    bool ok = be && t && hwa_ctx_alloc_leaves(ctx, be) == HWA_OK && hwa_tensor_set_f32(t, in, 5) == HWA_OK &&
              hwa_tensor_get_f32(t, got, 5) == HWA_OK;
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    CHECK_MSG(ok, "setup failed: %s", hwa_last_error());
    for (int i = 0; i < 5; i++) CHECK_MSG(got[i] == want[i], "element %d: got %.9g, want %.9g", i, got[i], want[i]);
}
