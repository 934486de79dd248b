/* Misuse and bad shapes: builders return NULL and record an error whose
 * message names the op and the shapes; index inputs out of range fail when
 * the graph runs; every status code has a name and a message. */
#include <math.h>

#include "harness.h"

/* Each test gets a fresh context and may create one backend; both are freed
 * after the body, also when a check fails. */
typedef struct fixture {
    hwa_ctx *ctx;
    hwa_backend *be;
} fixture;

#define CTX_TEST(name)                               \
    static void name##_body(fixture *f);             \
    TEST(name) {                                     \
        fixture f = {hwa_ctx_new(NULL), NULL};       \
        CHECK(f.ctx);                                \
        name##_body(&f);                             \
        hwa_backend_free(f.be);                      \
        hwa_ctx_free(f.ctx);                         \
    }                                                \
    static void name##_body(fixture *f)

/* A builder call that must fail with status want (ANY_ERROR: any error, where
 * the header leaves the code open) and a message, on the context and on the
 * thread, containing every needle. */
#define ANY_ERROR ((hwa_status)1)
#define EXPECT_FAIL(expr, want, ...)                                                  \
    do {                                                                              \
        hwa_clear_error();                                                            \
        const hwa_tensor *r_ = (expr);                                                \
        CHECK_MSG(r_ == NULL, "%s succeeded, expected %s", #expr, hwa_status_name(want)); \
        hwa_status got_ = hwa_ctx_last_status(f->ctx);                                \
        if ((want) == ANY_ERROR) CHECK_MSG(got_ < 0, "%s: status %s", #expr, hwa_status_name(got_)); \
        else CHECK_STATUS(got_, want);                                                \
        const char *needles_[] = {__VA_ARGS__};                                       \
        for (size_t i_ = 0; i_ < sizeof needles_ / sizeof needles_[0]; i_++) {        \
            CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), needles_[i_]);             \
            CHECK_STR_CONTAINS(hwa_last_error(), needles_[i_]);                       \
        }                                                                             \
    } while (0)

static hwa_tensor *t2(fixture *f, hwa_dtype t, int64_t a, int64_t b) { return hwa_tensor_new_2d(f->ctx, t, a, b); }

/* ---- shape and dtype errors at build time ------------------------------------- */

CTX_TEST(matmul_inner_dims_mismatch_names_op_and_shapes) {
    hwa_tensor *a = t2(f, HWA_F32, 3, 4), *b = t2(f, HWA_F32, 5, 6);
    EXPECT_FAIL(hwa_matmul(f->ctx, a, b), HWA_E_SHAPE, "matmul", "[3,4]", "[5,6]");
}

CTX_TEST(matmul_batch_mismatch) {
    hwa_tensor *a = hwa_tensor_new_3d(f->ctx, HWA_F32, 2, 3, 4), *b = hwa_tensor_new_3d(f->ctx, HWA_F32, 3, 4, 5);
    EXPECT_FAIL(hwa_matmul(f->ctx, a, b), HWA_E_SHAPE, "matmul", "[2,3,4]", "[3,4,5]");
}

CTX_TEST(matmul_transposed_mismatch) {
    hwa_tensor *a = t2(f, HWA_F32, 3, 4), *b = t2(f, HWA_F32, 4, 5);
    EXPECT_FAIL(hwa_matmul_ex(f->ctx, a, b, false, true), HWA_E_SHAPE, "matmul", "[3,4]", "[4,5]");
}

/* conv2d: x [N, C, H, W], w [O, C/groups, KH, KW], b [O]; the output at
 * least 1x1; strides, dilations, groups >= 1 (0 meaning 1) and pads >= 0. */
static hwa_tensor *t4(fixture *f, int64_t a, int64_t b, int64_t c, int64_t d) {
    return hwa_tensor_new_4d(f->ctx, HWA_F32, a, b, c, d);
}

CTX_TEST(conv2d_channel_mismatch_names_the_channels) {
    hwa_tensor *x = t4(f, 1, 3, 8, 8), *w = t4(f, 4, 2, 3, 3);
    EXPECT_FAIL(hwa_conv2d(f->ctx, x, w, NULL, NULL), HWA_E_SHAPE, "conv2d", "x has 3 channels", "expects 2");
}

CTX_TEST(conv2d_groups_not_dividing_the_channels) {
    hwa_tensor *x = t4(f, 1, 6, 8, 8), *w = t4(f, 5, 2, 3, 3);
    const hwa_conv2d_params p = {.groups = 3};
    EXPECT_FAIL(hwa_conv2d(f->ctx, x, w, NULL, &p), HWA_E_SHAPE, "conv2d", "3 groups do not divide", "5 output");
    hwa_tensor *x4 = t4(f, 1, 4, 8, 8), *w4 = t4(f, 6, 1, 3, 3);
    EXPECT_FAIL(hwa_conv2d(f->ctx, x4, w4, NULL, &p), HWA_E_SHAPE, "conv2d", "4 input channels");
}

CTX_TEST(conv2d_output_smaller_than_one_pixel) {
    hwa_tensor *x = t4(f, 1, 2, 4, 4), *w = t4(f, 3, 2, 5, 3);
    EXPECT_FAIL(hwa_conv2d(f->ctx, x, w, NULL, NULL), HWA_E_SHAPE, "conv2d", "5x3 kernel", "4x4 image");
    /* dilation 2 spans 5 columns with a 3-wide kernel */
    hwa_tensor *w3 = t4(f, 3, 2, 3, 3);
    const hwa_conv2d_params p = {.dilation = {1, 2}};
    EXPECT_FAIL(hwa_conv2d(f->ctx, x, w3, NULL, &p), HWA_E_SHAPE, "conv2d", "dilation 1x2");
    /* with pads it fits: 4 + 1 + 0 - 4 - 1 = 0 -> one row */
    const hwa_conv2d_params q = {.pad = {1, 0, 0, 1}, .dilation = {2, 2}};
    CHECK(hwa_conv2d(f->ctx, x, w3, NULL, &q) != NULL);
}

CTX_TEST(conv2d_negative_params_are_invalid) {
    hwa_tensor *x = t4(f, 1, 2, 8, 8), *w = t4(f, 3, 2, 3, 3);
    EXPECT_FAIL(hwa_conv2d(f->ctx, x, w, NULL, &(hwa_conv2d_params){.pad = {0, -1, 0, 0}}), HWA_E_INVALID, "conv2d",
                "pads 0,-1,0,0");
    EXPECT_FAIL(hwa_conv2d(f->ctx, x, w, NULL, &(hwa_conv2d_params){.stride = {-2, 1}}), HWA_E_INVALID, "stride -2x1");
    EXPECT_FAIL(hwa_conv2d(f->ctx, x, w, NULL, &(hwa_conv2d_params){.groups = -1}), HWA_E_INVALID, "groups -1");
}

CTX_TEST(conv2d_needs_4d_inputs_and_a_bias_per_output_channel) {
    hwa_tensor *x3 = hwa_tensor_new_3d(f->ctx, HWA_F32, 2, 8, 8), *w = t4(f, 3, 2, 3, 3);
    EXPECT_FAIL(hwa_conv2d(f->ctx, x3, w, NULL, NULL), HWA_E_SHAPE, "conv2d", "[2,8,8]", "4-D");
    hwa_tensor *x = t4(f, 1, 2, 8, 8), *b = hwa_tensor_new_1d(f->ctx, HWA_F32, 4);
    EXPECT_FAIL(hwa_conv2d(f->ctx, x, w, b, NULL), HWA_E_SHAPE, "conv2d", "bias [4]", "[O] = [3]");
    hwa_tensor *xi = hwa_tensor_new_4d(f->ctx, HWA_I32, 1, 2, 8, 8);
    EXPECT_FAIL(hwa_conv2d(f->ctx, xi, w, NULL, NULL), HWA_E_DTYPE, "conv2d", "i32");
}

/* qlinear: x f32 [M, K], w i8 [N, K], w_scale f32 [N], a finite scale >= 0
 * and a zero point in [0, 255]. */
CTX_TEST(qlinear_f32_weights_name_the_dtypes) {
    hwa_tensor *x = t2(f, HWA_F32, 3, 8), *w = t2(f, HWA_F32, 5, 8), *ws = hwa_tensor_new_1d(f->ctx, HWA_F32, 5);
    EXPECT_FAIL(hwa_qlinear(f->ctx, x, w, ws, 0.0f, 0), HWA_E_DTYPE, "qlinear", "f32, f32, f32", "f32, i8, f32");
}

CTX_TEST(qlinear_i8_activations_name_the_dtypes) {
    hwa_tensor *x = t2(f, HWA_I8, 3, 8), *w = t2(f, HWA_I8, 5, 8), *ws = hwa_tensor_new_1d(f->ctx, HWA_F32, 5);
    EXPECT_FAIL(hwa_qlinear(f->ctx, x, w, ws, 0.0f, 0), HWA_E_DTYPE, "qlinear", "i8, i8, f32");
}

CTX_TEST(qlinear_inner_dims_mismatch_names_the_shapes) {
    hwa_tensor *x = t2(f, HWA_F32, 3, 8), *w = t2(f, HWA_I8, 5, 9), *ws = hwa_tensor_new_1d(f->ctx, HWA_F32, 5);
    EXPECT_FAIL(hwa_qlinear(f->ctx, x, w, ws, 0.0f, 0), HWA_E_SHAPE, "qlinear", "[3,8]", "[5,9]");
}

CTX_TEST(qlinear_scales_not_one_per_channel) {
    hwa_tensor *x = t2(f, HWA_F32, 3, 8), *w = t2(f, HWA_I8, 5, 8), *ws = hwa_tensor_new_1d(f->ctx, HWA_F32, 4);
    EXPECT_FAIL(hwa_qlinear(f->ctx, x, w, ws, 0.0f, 0), HWA_E_SHAPE, "qlinear", "[5,8]", "[4]");
}

CTX_TEST(qlinear_3d_activations_rejected) {
    hwa_tensor *x = hwa_tensor_new_3d(f->ctx, HWA_F32, 2, 3, 8), *w = t2(f, HWA_I8, 5, 8);
    hwa_tensor *ws = hwa_tensor_new_1d(f->ctx, HWA_F32, 5);
    EXPECT_FAIL(hwa_qlinear(f->ctx, x, w, ws, 0.0f, 0), HWA_E_SHAPE, "qlinear", "[2,3,8]");
}

CTX_TEST(qlinear_zero_point_out_of_range) {
    hwa_tensor *x = t2(f, HWA_F32, 3, 8), *w = t2(f, HWA_I8, 5, 8), *ws = hwa_tensor_new_1d(f->ctx, HWA_F32, 5);
    EXPECT_FAIL(hwa_qlinear(f->ctx, x, w, ws, 0.01f, 256), HWA_E_INVALID, "qlinear", "zero point 256");
    EXPECT_FAIL(hwa_qlinear(f->ctx, x, w, ws, 0.01f, -1), HWA_E_INVALID, "qlinear", "zero point -1");
}

CTX_TEST(qlinear_negative_or_infinite_scale) {
    hwa_tensor *x = t2(f, HWA_F32, 3, 8), *w = t2(f, HWA_I8, 5, 8), *ws = hwa_tensor_new_1d(f->ctx, HWA_F32, 5);
    EXPECT_FAIL(hwa_qlinear(f->ctx, x, w, ws, -0.5f, 10), HWA_E_INVALID, "qlinear", "scale -0.5");
    EXPECT_FAIL(hwa_qlinear(f->ctx, x, w, ws, INFINITY, 10), HWA_E_INVALID, "qlinear", "scale inf");
    /* a scale so small that 1 / scale is not finite */
    EXPECT_FAIL(hwa_qlinear(f->ctx, x, w, ws, 1e-45f, 10), HWA_E_INVALID, "qlinear");
}

CTX_TEST(softmax_on_i32_names_op_and_dtype) {
    hwa_tensor *a = t2(f, HWA_I32, 2, 3);
    EXPECT_FAIL(hwa_softmax(f->ctx, a), HWA_E_DTYPE, "softmax", "i32");
}

CTX_TEST(add_broadcast_mismatch) {
    hwa_tensor *a = t2(f, HWA_F32, 3, 5), *b = hwa_tensor_new_1d(f->ctx, HWA_F32, 4);
    EXPECT_FAIL(hwa_add(f->ctx, a, b), HWA_E_SHAPE, "add", "[3,5]", "[4]");
}

CTX_TEST(mul_broadcast_b_larger_than_a) {
    hwa_tensor *a = t2(f, HWA_F32, 1, 5), *b = t2(f, HWA_F32, 3, 5);
    EXPECT_FAIL(hwa_mul(f->ctx, a, b), HWA_E_SHAPE, "mul", "[1,5]", "[3,5]");
}

CTX_TEST(bias_add_wrong_length) {
    hwa_tensor *a = t2(f, HWA_F32, 3, 5), *b = hwa_tensor_new_1d(f->ctx, HWA_F32, 3);
    EXPECT_FAIL(hwa_bias_add(f->ctx, a, b), HWA_E_SHAPE, "bias_add", "[3,5]", "[3]");
}

CTX_TEST(mse_shapes_differ) {
    hwa_tensor *a = t2(f, HWA_F32, 3, 4), *b = t2(f, HWA_F32, 4, 3);
    EXPECT_FAIL(hwa_mse(f->ctx, a, b), HWA_E_SHAPE, "mse", "[3,4]", "[4,3]");
}

CTX_TEST(concat_other_extents_differ) {
    hwa_tensor *a = t2(f, HWA_F32, 2, 3), *b = t2(f, HWA_F32, 2, 4);
    EXPECT_FAIL(hwa_concat(f->ctx, a, b, 0), HWA_E_SHAPE, "concat", "[2,3]", "[2,4]");
}

CTX_TEST(layernorm_weight_wrong_length) {
    hwa_tensor *x = t2(f, HWA_F32, 3, 7), *w = hwa_tensor_new_1d(f->ctx, HWA_F32, 6);
    EXPECT_FAIL(hwa_layernorm(f->ctx, x, w, NULL, 1e-5f), HWA_E_SHAPE, "layernorm", "[3,7]", "[6]");
}

CTX_TEST(attention_heads_not_a_multiple) {
    hwa_tensor *q = hwa_tensor_new_4d(f->ctx, HWA_F32, 1, 3, 2, 4);
    hwa_tensor *k = hwa_tensor_new_4d(f->ctx, HWA_F32, 1, 2, 2, 4);
    hwa_tensor *v = hwa_tensor_new_4d(f->ctx, HWA_F32, 1, 2, 2, 4);
    EXPECT_FAIL(hwa_attention(f->ctx, q, k, v, false, 0), HWA_E_SHAPE, "attention", "[1,3,2,4]", "[1,2,2,4]");
}

CTX_TEST(rope_odd_head_dim) {
    hwa_tensor *x = hwa_tensor_new_4d(f->ctx, HWA_F32, 1, 3, 2, 5);
    hwa_tensor *pos = hwa_tensor_new_1d(f->ctx, HWA_I32, 3);
    EXPECT_FAIL(hwa_rope(f->ctx, x, pos, 10000.0f, HWA_ROPE_HALVES), HWA_E_SHAPE, "rope", "[1,3,2,5]");
}

CTX_TEST(embedding_ids_must_be_i32) {
    hwa_tensor *table = t2(f, HWA_F32, 5, 3), *ids = hwa_tensor_new_1d(f->ctx, HWA_F32, 4);
    EXPECT_FAIL(hwa_embedding(f->ctx, table, ids), HWA_E_DTYPE, "embedding", "f32");
}

CTX_TEST(cross_entropy_labels_wrong_length) {
    hwa_tensor *logits = t2(f, HWA_F32, 4, 5), *labels = hwa_tensor_new_1d(f->ctx, HWA_I32, 3);
    EXPECT_FAIL(hwa_cross_entropy(f->ctx, logits, labels), HWA_E_SHAPE, "cross_entropy", "[4,5]", "[3]");
}

CTX_TEST(sum_dim_out_of_range) {
    hwa_tensor *a = t2(f, HWA_F32, 3, 4);
    EXPECT_FAIL(hwa_sum_dim(f->ctx, a, 2), ANY_ERROR, "sum_dim", "[3,4]");
}

/* i32 is a cast target (ONNX Cast); other integer types are not */
CTX_TEST(cast_to_integer_type_other_than_i32) {
    hwa_tensor *a = t2(f, HWA_F32, 3, 4);
    EXPECT_FAIL(hwa_cast(f->ctx, a, HWA_I8), HWA_E_DTYPE, "cast", "i8");
}

/* ---- NULL inputs ------------------------------------------------------------------- */

CTX_TEST(null_input_is_misuse_naming_the_op) {
    EXPECT_FAIL(hwa_relu(f->ctx, NULL), HWA_E_MISUSE, "relu");
    hwa_tensor *a = t2(f, HWA_F32, 2, 2);
    EXPECT_FAIL(hwa_add(f->ctx, a, NULL), HWA_E_MISUSE, "add");
    EXPECT_FAIL(hwa_matmul(f->ctx, NULL, a), HWA_E_MISUSE, "matmul");
}

/* Nested builders are checked once: the outer op fails on the inner NULL and
 * the message still says what went wrong (the inner error, or the outer op). */
CTX_TEST(null_from_a_failed_inner_builder_propagates) {
    hwa_tensor *a = t2(f, HWA_F32, 3, 4), *b = t2(f, HWA_F32, 5, 6);
    hwa_tensor *y = hwa_relu(f->ctx, hwa_matmul(f->ctx, a, b));
    CHECK(y == NULL);
    hwa_status s = hwa_ctx_last_status(f->ctx);
    CHECK_MSG(s == HWA_E_SHAPE || s == HWA_E_MISUSE, "status %s", hwa_status_name(s));
    const char *msg = hwa_ctx_last_error(f->ctx);
    CHECK_MSG(strstr(msg, "matmul") || strstr(msg, "relu"), "message \"%s\" names neither op", msg);
}

/* ---- views -------------------------------------------------------------------------- */

CTX_TEST(slice_past_the_end) {
    hwa_tensor *a = t2(f, HWA_F32, 3, 4);
    EXPECT_FAIL(hwa_slice(f->ctx, a, 1, 2, 3), ANY_ERROR, "slice", "[3,4]");
    EXPECT_FAIL(hwa_slice(f->ctx, a, 0, -1, 2), ANY_ERROR, "slice");
    EXPECT_FAIL(hwa_slice(f->ctx, a, 0, 0, 0), ANY_ERROR, "slice");
    EXPECT_FAIL(hwa_slice(f->ctx, a, 2, 0, 1), ANY_ERROR, "slice");
}

CTX_TEST(reshape_to_a_different_element_count) {
    hwa_tensor *a = t2(f, HWA_F32, 3, 4);
    const int64_t shape[2] = {5, 2};
    EXPECT_FAIL(hwa_reshape(f->ctx, a, 2, shape), HWA_E_SHAPE, "reshape", "[3,4]", "[5,2]");
}

CTX_TEST(reshape_of_a_non_contiguous_view) {
    hwa_tensor *a = t2(f, HWA_F32, 3, 4);
    const int64_t shape[1] = {12};
    hwa_tensor *t = hwa_transpose(f->ctx, a);
    CHECK(t);
    EXPECT_FAIL(hwa_reshape(f->ctx, t, 1, shape), ANY_ERROR, "reshape");
}

CTX_TEST(permute_with_a_non_permutation) {
    hwa_tensor *a = hwa_tensor_new_3d(f->ctx, HWA_F32, 2, 3, 4);
    const int repeated[3] = {0, 0, 1}, out_of_range[3] = {0, 1, 3}, negative[3] = {-1, 0, 1};
    EXPECT_FAIL(hwa_permute(f->ctx, a, repeated), ANY_ERROR, "permute");
    EXPECT_FAIL(hwa_permute(f->ctx, a, out_of_range), ANY_ERROR, "permute");
    EXPECT_FAIL(hwa_permute(f->ctx, a, negative), ANY_ERROR, "permute");
}

/* ---- index inputs out of range: errors when the graph runs --------------------------- */

static hwa_status run_with_index(fixture *f, hwa_tensor *out, hwa_tensor *idx, const float *vals, int64_t n) {
    hwa_graph *g = hwa_graph_new(f->ctx);
    hwa_status s = g ? hwa_graph_build_forward(g, out) : HWA_E_NOMEM;
    if (s) return s;
    f->be = hwa_backend_new(f->ctx, "cpu");
    if (!f->be) return HWA_E_INTERNAL;
    if ((s = hwa_ctx_alloc_leaves(f->ctx, f->be))) return s;
    if ((s = hwa_tensor_set_f32(idx, vals, n))) return s;
    return hwa_graph_compute(g, f->be);
}

CTX_TEST(embedding_id_out_of_range_at_compute) {
    hwa_tensor *table = t2(f, HWA_F32, 5, 3), *ids = hwa_tensor_new_1d(f->ctx, HWA_I32, 3);
    hwa_tensor *y = hwa_embedding(f->ctx, table, ids);
    CHECK(y);
    const float vals[3] = {1, 5, 0};
    CHECK_STATUS(run_with_index(f, y, ids, vals, 3), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "embedding");
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "5");
}

CTX_TEST(embedding_negative_id_at_compute) {
    hwa_tensor *table = t2(f, HWA_F32, 5, 3), *ids = hwa_tensor_new_1d(f->ctx, HWA_I32, 2);
    hwa_tensor *y = hwa_embedding(f->ctx, table, ids);
    CHECK(y);
    const float vals[2] = {-1, 0};
    CHECK_STATUS(run_with_index(f, y, ids, vals, 2), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "embedding");
}

CTX_TEST(cross_entropy_label_out_of_range_at_compute) {
    hwa_tensor *logits = t2(f, HWA_F32, 2, 5), *labels = hwa_tensor_new_1d(f->ctx, HWA_I32, 2);
    hwa_tensor *y = hwa_cross_entropy(f->ctx, logits, labels);
    CHECK(y);
    const float vals[2] = {0, 7};
    CHECK_STATUS(run_with_index(f, y, labels, vals, 2), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "cross_entropy");
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "7");
}

CTX_TEST(cross_entropy_label_equal_to_the_class_count_is_out_of_range) {
    /* classes are 0..4: label 5 is one past the row, not its last element */
    hwa_tensor *logits = t2(f, HWA_F32, 2, 5), *labels = hwa_tensor_new_1d(f->ctx, HWA_I32, 2);
    hwa_tensor *y = hwa_cross_entropy(f->ctx, logits, labels);
    CHECK(y);
    const float vals[2] = {4, 5};
    CHECK_STATUS(run_with_index(f, y, labels, vals, 2), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "cross_entropy");
}

/* The cache ops: a sequence or a position that overflows the cache. */
CTX_TEST(cache_write_position_past_the_cache_end_at_compute) {
    hwa_tensor *c = hwa_tensor_new_4d(f->ctx, HWA_F32, 2, 1, 8, 4), *v = hwa_tensor_new_4d(f->ctx, HWA_F32, 1, 1, 3, 4);
    hwa_tensor *at = t2(f, HWA_I32, 1, 2);
    hwa_tensor *y = hwa_cache_write(f->ctx, c, v, at);
    CHECK(y);
    const float vals[2] = {1, 6}; /* positions 6..8 of 8 */
    CHECK_STATUS(run_with_index(f, y, at, vals, 2), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "cache_write: position 6");
}

CTX_TEST(cache_attention_sequence_out_of_range_at_compute) {
    hwa_tensor *k = hwa_tensor_new_4d(f->ctx, HWA_F32, 2, 1, 8, 4), *q = hwa_tensor_new_4d(f->ctx, HWA_F32, 2, 2, 1, 4);
    hwa_tensor *at = t2(f, HWA_I32, 2, 2);
    hwa_tensor *y = hwa_cache_attention(f->ctx, q, k, k, at, 0.0f);
    CHECK(y);
    const float vals[4] = {0, 3, 2, 0}; /* row 1 names sequence 2 of 2 */
    CHECK_STATUS(run_with_index(f, y, at, vals, 4), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "cache_attention: sequence 2 at index 1");
}

CTX_TEST(cache_ops_refuse_a_view_as_cache_and_a_misshapen_index) {
    hwa_tensor *c = hwa_tensor_new_4d(f->ctx, HWA_F32, 2, 1, 8, 4), *v = hwa_tensor_new_4d(f->ctx, HWA_F32, 1, 1, 1, 4);
    EXPECT_FAIL(hwa_cache_write(f->ctx, hwa_slice(f->ctx, c, 2, 0, 4), v, t2(f, HWA_I32, 1, 2)), HWA_E_MISUSE,
                "cache_write", "leaf");
    EXPECT_FAIL(hwa_cache_write(f->ctx, c, v, t2(f, HWA_I32, 1, 3)), HWA_E_SHAPE, "cache_write", "[1,3]", "[1, 2]");
    EXPECT_FAIL(hwa_cache_write(f->ctx, c, v, t2(f, HWA_F32, 1, 2)), HWA_E_DTYPE, "cache_write", "i32");
    EXPECT_FAIL(hwa_cache_write(f->ctx, c, hwa_tensor_new_4d(f->ctx, HWA_F32, 1, 2, 1, 4), t2(f, HWA_I32, 1, 2)),
                HWA_E_SHAPE, "cache_write", "[1,2,1,4]", "[2,1,8,4]");
    hwa_tensor *q = hwa_tensor_new_4d(f->ctx, HWA_F32, 1, 3, 1, 4); /* 3 query heads over 1 kv head: fine */
    EXPECT_FAIL(hwa_cache_attention(f->ctx, q, c, c, t2(f, HWA_I32, 2, 2), 0.0f), HWA_E_SHAPE, "cache_attention",
                "[2,2]");
    EXPECT_FAIL(hwa_cache_attention(f->ctx, hwa_tensor_new_4d(f->ctx, HWA_F32, 1, 3, 1, 5), c, c, t2(f, HWA_I32, 1, 2),
                                    0.0f),
                HWA_E_SHAPE, "cache_attention", "[1,3,1,5]");
}

/* The sparse product: shapes and dtypes at build time; indices that do
 * not describe a matrix of K columns in compressed rows at run time, with
 * the row named; and indices changed after a run that passed are checked
 * again. */
CTX_TEST(spmm_wrong_dtypes_name_the_input) {
    hwa_tensor *x = t2(f, HWA_F32, 2, 5), *rp = hwa_tensor_new_1d(f->ctx, HWA_I32, 4);
    hwa_tensor *col = hwa_tensor_new_1d(f->ctx, HWA_I32, 3), *val = hwa_tensor_new_1d(f->ctx, HWA_F32, 3);
    EXPECT_FAIL(hwa_spmm(f->ctx, x, hwa_tensor_new_1d(f->ctx, HWA_F32, 4), col, val), HWA_E_DTYPE, "spmm", "row_ptr",
                "i32 is required");
    EXPECT_FAIL(hwa_spmm(f->ctx, x, rp, hwa_tensor_new_1d(f->ctx, HWA_F32, 3), val), HWA_E_DTYPE, "spmm", "col",
                "i32 is required");
    EXPECT_FAIL(hwa_spmm(f->ctx, x, rp, col, hwa_tensor_new_1d(f->ctx, HWA_BF16, 3)), HWA_E_DTYPE, "spmm: vals [3]",
                "bf16", "f32 is required");
    EXPECT_FAIL(hwa_spmm(f->ctx, t2(f, HWA_I32, 2, 5), rp, col, val), HWA_E_DTYPE, "spmm", "[2,5]", "i32");
}

CTX_TEST(spmm_shapes_that_do_not_fit) {
    hwa_tensor *x = t2(f, HWA_F32, 2, 5), *rp = hwa_tensor_new_1d(f->ctx, HWA_I32, 4);
    hwa_tensor *col = hwa_tensor_new_1d(f->ctx, HWA_I32, 3), *val = hwa_tensor_new_1d(f->ctx, HWA_F32, 3);
    EXPECT_FAIL(hwa_spmm(f->ctx, x, rp, col, hwa_tensor_new_1d(f->ctx, HWA_F32, 2)), HWA_E_SHAPE, "spmm", "col [3]",
                "vals [2]", "do not fit");
    EXPECT_FAIL(hwa_spmm(f->ctx, hwa_tensor_new_3d(f->ctx, HWA_F32, 1, 2, 5), rp, col, val), HWA_E_SHAPE, "spmm",
                "x [1,2,5]");
    EXPECT_FAIL(hwa_spmm(f->ctx, x, hwa_tensor_new_1d(f->ctx, HWA_I32, 1), col, val), HWA_E_SHAPE, "spmm",
                "row_ptr [1]", "N >= 1");
    EXPECT_FAIL(hwa_spmm(f->ctx, x, t2(f, HWA_I32, 2, 2), col, val), HWA_E_SHAPE, "spmm", "row_ptr [2,2]");
}

/* x [2, 5] of ones times a [3, 5] matrix of 4 stored values of 2: row_ptr
 * and col as given. The status of the first run (its message in f->ctx);
 * *g, *y and *col (optional) for more runs. */
typedef struct spmm_graph {
    hwa_graph *g;
    hwa_tensor *y, *col;
} spmm_graph;

static hwa_status spmm_run_on(fixture *f, const char *device, const int32_t rp[4], const int32_t col[4],
                              spmm_graph *out) {
    hwa_tensor *x = t2(f, HWA_F32, 2, 5), *trp = hwa_tensor_new_1d(f->ctx, HWA_I32, 4);
    hwa_tensor *tcol = hwa_tensor_new_1d(f->ctx, HWA_I32, 4), *val = hwa_tensor_new_1d(f->ctx, HWA_F32, 4);
    hwa_tensor *y = hwa_spmm(f->ctx, x, trp, tcol, val);
    hwa_graph *g = hwa_graph_new(f->ctx);
    hwa_status s = y && g ? hwa_graph_build_forward(g, y) : HWA_E_NOMEM;
    if (s) return s;
    if (!(f->be = hwa_backend_new(f->ctx, device))) return HWA_E_NOTFOUND;
    if ((s = hwa_ctx_alloc_leaves(f->ctx, f->be)) || (s = hwa_tensor_fill(x, 1.0f)) || (s = hwa_tensor_fill(val, 2.0f)) ||
        (s = hwa_tensor_set_bytes(trp, rp, 4 * sizeof *rp)) || (s = hwa_tensor_set_bytes(tcol, col, 4 * sizeof *col)))
        return s;
    if (out) *out = (spmm_graph){g, y, tcol};
    return hwa_graph_compute(g, f->be);
}

static hwa_status spmm_run(fixture *f, const int32_t rp[4], const int32_t col[4], spmm_graph *out) {
    return spmm_run_on(f, "cpu", rp, col, out);
}

CTX_TEST(spmm_row_ptr_not_starting_at_zero) {
    CHECK_STATUS(spmm_run(f, (const int32_t[]){1, 2, 3, 4}, (const int32_t[]){0, 1, 2, 3}, NULL), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "spmm: row_ptr[0] is 1, not 0");
}

CTX_TEST(spmm_row_ptr_decreasing_names_the_row) {
    CHECK_STATUS(spmm_run(f, (const int32_t[]){0, 3, 2, 4}, (const int32_t[]){0, 1, 2, 3}, NULL), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "spmm: row 1 ends at 2, before its start 3");
}

CTX_TEST(spmm_row_past_the_stored_values) {
    CHECK_STATUS(spmm_run(f, (const int32_t[]){0, 5, 5, 5}, (const int32_t[]){0, 1, 2, 3}, NULL), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "spmm: row 0 ends at 5, before its start 0 or past the 4 stored");
}

CTX_TEST(spmm_row_ptr_not_ending_at_the_value_count) {
    CHECK_STATUS(spmm_run(f, (const int32_t[]){0, 1, 2, 3}, (const int32_t[]){0, 1, 2, 3}, NULL), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "spmm: row_ptr[3] is 3, not the 4 stored values");
}

CTX_TEST(spmm_column_equal_to_k_is_out_of_range) {
    CHECK_STATUS(spmm_run(f, (const int32_t[]){0, 1, 3, 4}, (const int32_t[]){0, 1, 5, 3}, NULL), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "spmm: row 1 has column 5, outside [0, 5)");
}

CTX_TEST(spmm_negative_column) {
    CHECK_STATUS(spmm_run(f, (const int32_t[]){0, 1, 3, 4}, (const int32_t[]){0, 1, 2, -1}, NULL), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "spmm: row 2 has column -1, outside [0, 5)");
}

/* A device backend reads the indices back and checks them by the same
 * rule, with the same messages. */
CTX_TEST(spmm_bad_indices_on_opencl_give_the_reference_messages) {
    hwa_backend *probe = hwa_backend_new(f->ctx, hwa_test_opencl_spec());
    if (!probe) SKIP_FOR("opencl", "no %s: %s", hwa_test_opencl_spec(), hwa_ctx_last_error(f->ctx));
    hwa_backend_free(probe);
    CHECK_STATUS(spmm_run_on(f, hwa_test_opencl_spec(), (const int32_t[]){0, 1, 3, 4}, (const int32_t[]){0, 1, 5, 3},
                             NULL), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "spmm: row 1 has column 5, outside [0, 5)");
    hwa_backend_free(f->be);
    f->be = NULL;
    CHECK_STATUS(spmm_run_on(f, hwa_test_opencl_spec(), (const int32_t[]){0, 3, 2, 4}, (const int32_t[]){0, 1, 2, 3},
                             NULL), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "spmm: row 1 ends at 2, before its start 3");
}

/* The fast kernel checks the indices once per version of the index
 * tensors: a run that passed, then a column written out of range (through
 * the setter, then through the data pointer and hwa_tensor_mark_modified)
 * fails the next run, and the valid indices pass again. */
CTX_TEST(spmm_indices_changed_after_a_run_are_checked_again) {
    const int32_t rp[4] = {0, 1, 3, 4}, good[4] = {0, 1, 2, 4}, bad[4] = {0, 7, 2, 4};
    spmm_graph sg;
    CHECK_OK(spmm_run(f, rp, good, &sg));
    float out[6];
    CHECK_OK(hwa_graph_compute(sg.g, f->be));
    CHECK_OK(hwa_tensor_get_f32(sg.y, out, 6));
    CHECK_NEAR(out[1], 4.0, 0.0); /* row 1: two values of 2 times ones */
    CHECK_OK(hwa_tensor_set_bytes(sg.col, bad, sizeof bad));
    CHECK_STATUS(hwa_graph_compute(sg.g, f->be), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "spmm: row 1 has column 7, outside [0, 5)");
    CHECK_OK(hwa_tensor_set_bytes(sg.col, good, sizeof good));
    CHECK_OK(hwa_graph_compute(sg.g, f->be));
    ((int32_t *)hwa_tensor_data(sg.col))[3] = 5;
    hwa_tensor_mark_modified(sg.col);
    CHECK_STATUS(hwa_graph_compute(sg.g, f->be), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "spmm: row 2 has column 5, outside [0, 5)");
}

/* ---- elementwise and indexing ops for ONNX models ----------------------------------- */

CTX_TEST(gather_index_out_of_range_names_the_index) {
    hwa_tensor *data = t2(f, HWA_F32, 4, 3), *idx = hwa_tensor_new_1d(f->ctx, HWA_I32, 3);
    hwa_tensor *y = hwa_gather(f->ctx, data, idx, 0);
    CHECK(y);
    const float vals[3] = {0, -4, 7};
    CHECK_STATUS(run_with_index(f, y, idx, vals, 3), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "gather");
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "index 7 at position 2");
}

CTX_TEST(gather_negative_index_below_the_extent) {
    hwa_tensor *data = t2(f, HWA_F32, 4, 3), *idx = hwa_tensor_new_1d(f->ctx, HWA_I32, 2);
    hwa_tensor *y = hwa_gather(f->ctx, data, idx, -1);
    CHECK(y);
    const float vals[2] = {-3, -4};
    CHECK_STATUS(run_with_index(f, y, idx, vals, 2), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "index -4 at position 1");
}

CTX_TEST(gather_result_over_four_dims) {
    hwa_tensor *data = hwa_tensor_new_3d(f->ctx, HWA_F32, 2, 3, 4), *idx = hwa_tensor_new_3d(f->ctx, HWA_I32, 1, 2, 2);
    EXPECT_FAIL(hwa_gather(f->ctx, data, idx, 1), HWA_E_SHAPE, "gather", "[2,3,4]", "[1,2,2]");
}

CTX_TEST(gather_axis_out_of_range_and_float_indices) {
    hwa_tensor *data = t2(f, HWA_F32, 2, 3), *idx = hwa_tensor_new_1d(f->ctx, HWA_I32, 2);
    EXPECT_FAIL(hwa_gather(f->ctx, data, idx, 2), HWA_E_RANGE, "gather", "axis 2");
    EXPECT_FAIL(hwa_gather(f->ctx, data, idx, -3), HWA_E_RANGE, "gather");
    EXPECT_FAIL(hwa_gather(f->ctx, data, data, 0), HWA_E_DTYPE, "gather", "i32");
}

CTX_TEST(map_and_binary_with_an_unknown_function) {
    hwa_tensor *a = t2(f, HWA_F32, 2, 3);
    EXPECT_FAIL(hwa_map(f->ctx, a, HWA_MAP_COUNT, 0, 0), HWA_E_INVALID, "map", "unknown function");
    EXPECT_FAIL(hwa_map(f->ctx, a, (hwa_map_fn)-1, 0, 0), HWA_E_INVALID, "map");
    EXPECT_FAIL(hwa_binary(f->ctx, a, a, HWA_BIN_COUNT), HWA_E_INVALID, "binary", "unknown function");
}

CTX_TEST(binary_where_expand_reduce_shapes) {
    hwa_tensor *a = t2(f, HWA_F32, 2, 3), *b = t2(f, HWA_F32, 3, 3), *c = t2(f, HWA_F32, 2, 1);
    EXPECT_FAIL(hwa_binary(f->ctx, a, b, HWA_BIN_MAX), HWA_E_SHAPE, "binary", "[2,3]", "[3,3]");
    EXPECT_FAIL(hwa_where(f->ctx, c, a, a), HWA_E_SHAPE, "where", "[2,1]");
    const int64_t big[2] = {2, 5}, bad[2] = {3, 1};
    EXPECT_FAIL(hwa_expand(f->ctx, a, 2, big), HWA_E_SHAPE, "repeat", "[2,3]", "[2,5]");
    EXPECT_FAIL(hwa_reduce_to(f->ctx, a, 2, bad, true), HWA_E_SHAPE, "sum_to", "[2,3]");
    EXPECT_FAIL(hwa_reduce_max_to(f->ctx, a, 2, bad, false), HWA_E_SHAPE, "reduce_max", "[2,3]");
    EXPECT_FAIL(hwa_reduce_to(f->ctx, a, 2, NULL, false), HWA_E_MISUSE, "reduce_to");
    const int64_t five[5] = {1, 1, 1, 2, 3};
    EXPECT_FAIL(hwa_expand(f->ctx, a, 5, five), HWA_E_SHAPE, "dimensions");
}

CTX_TEST(cast_to_a_quantized_dtype) {
    hwa_tensor *a = t2(f, HWA_F32, 2, 32);
    EXPECT_FAIL(hwa_cast(f->ctx, a, HWA_Q8_0), HWA_E_DTYPE, "cast");
}

/* ---- tensors, backends, graphs ------------------------------------------------------- */

CTX_TEST(tensor_with_extent_zero) {
    const int64_t shape[3] = {2, 0, 3};
    EXPECT_FAIL(hwa_tensor_new(f->ctx, HWA_F32, 3, shape), HWA_E_SHAPE, "dimension 1");
    EXPECT_FAIL(hwa_tensor_new_2d(f->ctx, HWA_F32, 4, -1), HWA_E_SHAPE, "dimension 1");
}

CTX_TEST(tensor_with_too_many_dims) {
    const int64_t shape[5] = {1, 1, 1, 1, 1};
    EXPECT_FAIL(hwa_tensor_new(f->ctx, HWA_F32, 5, shape), HWA_E_SHAPE, "5");
}

CTX_TEST(quantized_tensor_last_extent_not_a_whole_block) {
    EXPECT_FAIL(hwa_tensor_new_2d(f->ctx, HWA_Q8_0, 2, 31), HWA_E_SHAPE, "q8_0");
}

CTX_TEST(unknown_backend_lists_known_ones) {
    f->be = hwa_backend_new(f->ctx, "tpu:7");
    CHECK(f->be == NULL);
    CHECK_STATUS(hwa_ctx_last_status(f->ctx), HWA_E_NOTFOUND);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "tpu:7");
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "cpu");
}

CTX_TEST(set_f32_with_wrong_count) {
    hwa_tensor *a = t2(f, HWA_F32, 3, 4);
    f->be = hwa_backend_new(f->ctx, "cpu");
    CHECK(f->be);
    CHECK_OK(hwa_ctx_alloc_leaves(f->ctx, f->be));
    float vals[13] = {0};
    CHECK_STATUS(hwa_tensor_set_f32(a, vals, 11), HWA_E_SHAPE);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "hwa_tensor_set_f32");
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "12");
    CHECK_STATUS(hwa_tensor_set_f32(a, vals, 13), HWA_E_SHAPE);
    CHECK_STATUS(hwa_tensor_get_f32(a, vals, 11), HWA_E_SHAPE);
    CHECK_OK(hwa_tensor_set_f32(a, vals, 12));
}

CTX_TEST(set_param_on_an_op_result_is_misuse) {
    hwa_tensor *a = t2(f, HWA_F32, 3, 4);
    hwa_tensor *y = hwa_relu(f->ctx, a);
    CHECK(y);
    CHECK_STATUS(hwa_tensor_set_param(y), HWA_E_MISUSE);
}

/* tensor.h: "HWA_E_MISUSE on a non-leaf or a non-float leaf". */
CTX_TEST(set_param_on_an_integer_leaf_is_a_dtype_error) {
    hwa_tensor *i = t2(f, HWA_I32, 3, 4);
    CHECK_STATUS(hwa_tensor_set_param(i), HWA_E_DTYPE);
}

CTX_TEST(backward_of_a_non_scalar_fails) {
    hwa_tensor *a = t2(f, HWA_F32, 3, 4);
    CHECK_OK(hwa_tensor_set_param(a));
    hwa_tensor *y = hwa_relu(f->ctx, a);
    hwa_graph *g = hwa_graph_new(f->ctx);
    CHECK(y && g);
    CHECK_OK(hwa_graph_build_forward(g, y));
    hwa_status s = hwa_graph_build_backward(g, y);
    CHECK_MSG(s != HWA_OK, "backward of a [3,4] loss succeeded");
    CHECK_MSG(hwa_ctx_last_error(f->ctx)[0] != '\0', "no message");
}

/* The message is kept per context: an error on one does not show on another. */
TEST(errors_are_per_context) {
    hwa_ctx *a = hwa_ctx_new(NULL), *b = hwa_ctx_new(NULL);
    hwa_tensor *x = a ? hwa_tensor_new_2d(a, HWA_F32, 3, 4) : NULL;
    hwa_tensor *y = a ? hwa_tensor_new_2d(a, HWA_F32, 5, 6) : NULL;
    hwa_tensor *bad = hwa_matmul(a, x, y);
    char msg_b[64];
    snprintf(msg_b, sizeof msg_b, "%s", b ? hwa_ctx_last_error(b) : "?");
    hwa_status st_b = b ? hwa_ctx_last_status(b) : HWA_E_INTERNAL;
    hwa_status st_a = a ? hwa_ctx_last_status(a) : HWA_OK;
    hwa_ctx_free(a);
    hwa_ctx_free(b);
    CHECK(bad == NULL);
    CHECK_STATUS(st_a, HWA_E_SHAPE);
    CHECK_STATUS(st_b, HWA_OK);
    CHECK_MSG(msg_b[0] == '\0', "context b has message \"%s\"", msg_b);
}

/* ---- status codes ------------------------------------------------------------------------ */

static const struct {
    hwa_status s;
    const char *name, *msg;
} STATUS_TABLE[] = {
#define ROW(name, value, msg) {HWA_##name, "HWA_" #name, msg},
    HWA_STATUS_MAP(ROW)
#undef ROW
};

TEST(status_name_and_str_for_every_code) {
    size_t n = sizeof STATUS_TABLE / sizeof STATUS_TABLE[0];
    CHECK_INT_EQ(n, 14);
    for (size_t i = 0; i < n; i++) {
        CHECK_MSG(strcmp(hwa_status_name(STATUS_TABLE[i].s), STATUS_TABLE[i].name) == 0, "name of %d: %s vs %s",
                  (int)STATUS_TABLE[i].s, hwa_status_name(STATUS_TABLE[i].s), STATUS_TABLE[i].name);
        CHECK_MSG(strcmp(hwa_status_str(STATUS_TABLE[i].s), STATUS_TABLE[i].msg) == 0, "message of %s: %s vs %s",
                  STATUS_TABLE[i].name, hwa_status_str(STATUS_TABLE[i].s), STATUS_TABLE[i].msg);
    }
    CHECK(strcmp(hwa_status_name(HWA_OK), "HWA_OK") == 0);
    CHECK(strcmp(hwa_status_name(HWA_E_NOMEM), "HWA_E_NOMEM") == 0);
    CHECK(strcmp(hwa_status_str(HWA_E_NOMEM), "out of memory") == 0);
    CHECK(strcmp(hwa_status_str(HWA_E_MISUSE), "API misuse") == 0);
}

TEST(status_values_are_stable) {
    CHECK_INT_EQ(HWA_OK, 0);
    CHECK_INT_EQ(HWA_E_INVALID, -1);
    CHECK_INT_EQ(HWA_E_MISUSE, -2);
    CHECK_INT_EQ(HWA_E_RANGE, -6);
    CHECK_INT_EQ(HWA_E_NOTFOUND, -11);
    CHECK_INT_EQ(HWA_E_INTERNAL, -13);
}

TEST(status_unknown_code) {
    CHECK(strcmp(hwa_status_name((hwa_status)-99), "HWA_E_UNKNOWN") == 0);
    CHECK(strcmp(hwa_status_name((hwa_status)1), "HWA_E_UNKNOWN") == 0);
    const char *s = hwa_status_str((hwa_status)-99);
    CHECK(s != NULL && s[0] != '\0');
}

/* ---- vision: pooling, batch normalization, dropout ---------------------- */

CTX_TEST(pool2d_rejects_bad_params_and_shapes) {
    hwa_tensor *x = hwa_tensor_new_4d(f->ctx, HWA_F32, 1, 2, 5, 5), *x3 = hwa_tensor_new_3d(f->ctx, HWA_F32, 2, 5, 5);
    hwa_pool2d_params p = {HWA_POOL_MAX, {3, 3}, {0}, {0}, {0}, false, false};
    CHECK(hwa_pool2d(f->ctx, x, &p) != NULL);
    EXPECT_FAIL(hwa_pool2d(f->ctx, x, NULL), HWA_E_MISUSE, "pool2d", "NULL");
    EXPECT_FAIL(hwa_pool2d(f->ctx, x3, &p), HWA_E_SHAPE, "pool2d", "[2,5,5]");
    p.kernel[0] = 0;
    EXPECT_FAIL(hwa_pool2d(f->ctx, x, &p), HWA_E_INVALID, "pool2d", "kernel h");
    p.kernel[0] = 6; /* larger than the image */
    EXPECT_FAIL(hwa_pool2d(f->ctx, x, &p), HWA_E_SHAPE, "pool2d", "[1,2,5,5]");
    p.kernel[0] = 3;
    p.pad[3] = -1;
    EXPECT_FAIL(hwa_pool2d(f->ctx, x, &p), HWA_E_INVALID, "pool2d", "pad right");
    p.pad[3] = 3; /* the last window would hold padding only */
    EXPECT_FAIL(hwa_pool2d(f->ctx, x, &p), HWA_E_SHAPE, "pool2d", "in-image");
    p.pad[3] = 0;
    p.stride[1] = -2;
    EXPECT_FAIL(hwa_pool2d(f->ctx, x, &p), HWA_E_INVALID, "pool2d", "stride w");
    p.stride[1] = 0;
    p.kind = HWA_POOL_AVG;
    p.dilation[0] = 2;
    EXPECT_FAIL(hwa_pool2d(f->ctx, x, &p), HWA_E_INVALID, "pool2d", "dilation 1");
    p.kind = (hwa_pool_kind)7;
    EXPECT_FAIL(hwa_pool2d(f->ctx, x, &p), HWA_E_INVALID, "pool2d", "kind 7");
    hwa_tensor *xi = hwa_tensor_new_4d(f->ctx, HWA_I32, 1, 1, 4, 4);
    p = (hwa_pool2d_params){HWA_POOL_MAX, {2, 2}, {0}, {0}, {0}, false, false};
    EXPECT_FAIL(hwa_pool2d(f->ctx, xi, &p), HWA_E_DTYPE, "pool2d", "i32");
    EXPECT_FAIL(hwa_global_avg_pool(f->ctx, x3), HWA_E_SHAPE, "global_avg_pool", "[2,5,5]");
}

CTX_TEST(batchnorm_rejects_mismatched_channels_and_bad_statistics) {
    hwa_tensor *x = hwa_tensor_new_4d(f->ctx, HWA_F32, 2, 3, 4, 4), *c3 = hwa_tensor_new_1d(f->ctx, HWA_F32, 3);
    hwa_tensor *c4 = hwa_tensor_new_1d(f->ctx, HWA_F32, 4), *x1 = hwa_tensor_new_1d(f->ctx, HWA_F32, 6);
    hwa_tensor *run = t2(f, HWA_F32, 2, 3), *run4 = t2(f, HWA_F32, 2, 4);
    CHECK(hwa_batchnorm(f->ctx, x, c3, c3, c3, c3, 1e-5f) != NULL);
    EXPECT_FAIL(hwa_batchnorm(f->ctx, x, c4, c3, c3, c3, 1e-5f), HWA_E_SHAPE, "batchnorm", "[4]", "[2,3,4,4]");
    EXPECT_FAIL(hwa_batchnorm(f->ctx, x, c3, c3, c4, c4, 1e-5f), HWA_E_SHAPE, "batchnorm", "[2,4]");
    EXPECT_FAIL(hwa_batchnorm(f->ctx, x, c3, c3, c3, NULL, 1e-5f), HWA_E_MISUSE, "batchnorm");
    EXPECT_FAIL(hwa_batchnorm(f->ctx, x1, c3, c3, c3, c3, 1e-5f), HWA_E_SHAPE, "batchnorm", "[6]");
    EXPECT_FAIL(hwa_batchnorm(f->ctx, x, c3, c3, c3, c3, -1.0f), HWA_E_INVALID, "batchnorm", "eps");
    CHECK(hwa_batchnorm_train(f->ctx, x, c3, c3, run, 1e-5f, 0.1f) != NULL);
    EXPECT_FAIL(hwa_batchnorm_train(f->ctx, x, c3, c3, run4, 1e-5f, 0.1f), HWA_E_SHAPE, "batchnorm_train", "[2,4]");
    EXPECT_FAIL(hwa_batchnorm_train(f->ctx, x, c3, c3, run, 1e-5f, 1.5f), HWA_E_INVALID, "momentum");
    /* running must be a leaf: the kernel writes into it */
    EXPECT_FAIL(hwa_batchnorm_train(f->ctx, x, c3, c3, hwa_scale(f->ctx, run, 1.0f), 1e-5f, 0.1f), HWA_E_MISUSE,
                "batchnorm_train", "leaf");
}

CTX_TEST(batchnorm_is_not_differentiable_in_its_statistics) {
    hwa_tensor *x = t2(f, HWA_F32, 4, 3), *c3 = hwa_tensor_new_1d(f->ctx, HWA_F32, 3);
    hwa_tensor *mean = hwa_tensor_new_1d(f->ctx, HWA_F32, 3);
    CHECK_OK(hwa_tensor_set_param(mean));
    hwa_tensor *loss = hwa_sum(f->ctx, hwa_batchnorm(f->ctx, x, c3, c3, mean, c3, 1e-5f));
    hwa_graph *g = hwa_graph_new(f->ctx);
    CHECK(loss && g);
    CHECK_OK(hwa_graph_build_forward(g, loss));
    CHECK_STATUS(hwa_graph_build_backward(g, loss), HWA_E_UNSUPPORTED);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(f->ctx), "mean and variance");
}

CTX_TEST(dropout_rejects_bad_ratio_and_seed) {
    hwa_tensor *x = t2(f, HWA_F32, 4, 3), *seed = hwa_tensor_new_1d(f->ctx, HWA_I32, 2);
    hwa_tensor *seed3 = hwa_tensor_new_1d(f->ctx, HWA_I32, 3), *seedf = hwa_tensor_new_1d(f->ctx, HWA_F32, 2);
    CHECK(hwa_dropout(f->ctx, x, 0.0f, seed) != NULL);
    EXPECT_FAIL(hwa_dropout(f->ctx, x, 1.0f, seed), HWA_E_INVALID, "dropout", "ratio");
    EXPECT_FAIL(hwa_dropout(f->ctx, x, -0.1f, seed), HWA_E_INVALID, "dropout", "ratio");
    EXPECT_FAIL(hwa_dropout(f->ctx, x, NAN, seed), HWA_E_INVALID, "dropout", "ratio");
    EXPECT_FAIL(hwa_dropout(f->ctx, x, 0.5f, seed3), HWA_E_SHAPE, "dropout", "seed", "[3]");
    EXPECT_FAIL(hwa_dropout(f->ctx, x, 0.5f, seedf), HWA_E_DTYPE, "dropout", "seed", "i32");
    EXPECT_FAIL(hwa_dropout(f->ctx, x, 0.5f, NULL), ANY_ERROR, "dropout", "NULL");
}
