/* Q4_1, Q4_K and Q6_K against gguf-py, the GGUF format's own Python
 * implementation (tests/reference/gen_kquant_goldens.py wrote
 * tests/golden/kquant_golden.h with it): Q4_1 quantized byte for byte and
 * every type decoded bit for bit, through hwa_convert_* and through a
 * product and an embedding on the reference kernels; Q4_K and Q6_K encoded
 * byte for byte as the script's restatement of ggml's reference quantizers
 * (random blocks, edge cases, stories260K's embeddings), their blocks
 * decoded by gguf-py; blocks that do not fit a row refused by the GGUF
 * reader. */
#include <stdlib.h>

#include "backends/cpu/cpu_backend.h"
#include "harness.h"

#include "golden/kquant_golden.h"

/* got[0..n) equals the golden f32 bit patterns; prints the first miss. */
static bool same_bits(const float *got, const uint32_t *want, int64_t n, const char *what) {
    for (int64_t i = 0; i < n; i++) {
        uint32_t g;
        memcpy(&g, &got[i], 4);
        if (g != want[i]) {
            float w;
            memcpy(&w, &want[i], 4);
            hwa_test_fail(__FILE__, __LINE__, "%s: value %lld (block %lld, element %lld): %.9g (0x%08x), gguf-py %.9g (0x%08x)",
                          what, (long long)i, (long long)(i / 32), (long long)(i % 32), got[i], g, w, want[i]);
            return false;
        }
    }
    return true;
}

TEST(q4_1_quantizes_byte_for_byte_as_gguf_py) {
    float x[GOLD_Q41_BLOCKS * 32];
    memcpy(x, gold_q41_in, sizeof x);
    uint8_t got[GOLD_Q41_BLOCKS * 20];
    CHECK_OK(hwa_convert_from_f32(HWA_Q4_1, got, x, GOLD_Q41_BLOCKS * 32));
    for (int i = 0; i < (int)sizeof got; i++)
        CHECK_MSG(got[i] == gold_q41_bytes[i], "block %d byte %d (%s): %u, gguf-py %u", i / 20, i % 20,
                  i % 20 < 2 ? "d" : i % 20 < 4 ? "min" : "nibbles", got[i], gold_q41_bytes[i]);
}

TEST(q4_1_decodes_bit_for_bit_as_gguf_py) {
    float y[GOLD_Q41_BLOCKS * 32];
    CHECK_OK(hwa_convert_to_f32(HWA_Q4_1, gold_q41_bytes, y, GOLD_Q41_BLOCKS * 32));
    if (!same_bits(y, gold_q41_out, GOLD_Q41_BLOCKS * 32, "q4_1 of quantized blocks")) return;
    float r[8 * 32];
    CHECK_OK(hwa_convert_to_f32(HWA_Q4_1, gold_q41_rand, r, 8 * 32));
    if (!same_bits(r, gold_q41_rand_out, 8 * 32, "q4_1 of random blocks")) return;
}

TEST(q4_k_decodes_bit_for_bit_as_gguf_py) {
    float y[GOLD_K_BLOCKS * 256];
    CHECK_OK(hwa_convert_to_f32(HWA_Q4_K, gold_q4k_rand, y, GOLD_K_BLOCKS * 256));
    if (!same_bits(y, gold_q4k_out, GOLD_K_BLOCKS * 256, "q4_k")) return;
}

TEST(q6_k_decodes_bit_for_bit_as_gguf_py) {
    float y[GOLD_K_BLOCKS * 256];
    CHECK_OK(hwa_convert_to_f32(HWA_Q6_K, gold_q6k_rand, y, GOLD_K_BLOCKS * 256));
    if (!same_bits(y, gold_q6k_out, GOLD_K_BLOCKS * 256, "q6_k")) return;
}

/* Encodes the golden inputs as t and compares the bytes with want, then
 * decodes them and compares with gguf-py's decoding. */
static void encode_as_the_reference(hwa_dtype t, const uint8_t *want, const uint32_t *decoded) {
    enum { N = GOLD_KENC_BLOCKS * 256 };
    const size_t bb = hwa_dtype_block_bytes(t);
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    uint8_t *got = malloc(GOLD_KENC_BLOCKS * bb);
    CHECK(x && y && got);
    memcpy(x, gold_kenc_in, N * sizeof *x);
    CHECK_OK(hwa_convert_from_f32(t, got, x, N));
    for (size_t i = 0; i < GOLD_KENC_BLOCKS * bb; i++)
        CHECK_MSG(got[i] == want[i], "%s block %zu byte %zu: %u, the reference %u", hwa_dtype_name(t), i / bb, i % bb,
                  got[i], want[i]);
    CHECK_OK(hwa_convert_to_f32(t, got, y, N));
    same_bits(y, decoded, N, hwa_dtype_name(t));
    free(x);
    free(y);
    free(got);
}

TEST(q4_k_encodes_as_ggmls_reference_quantizer) { encode_as_the_reference(HWA_Q4_K, gold_q4k_enc, gold_q4k_enc_out); }
TEST(q6_k_encodes_as_ggmls_reference_quantizer) { encode_as_the_reference(HWA_Q6_K, gold_q6k_enc, gold_q6k_enc_out); }

TEST(the_new_types_have_their_gguf_block_sizes) {
    CHECK_INT_EQ(hwa_dtype_block_size(HWA_Q4_1), 32);
    CHECK_INT_EQ(hwa_dtype_block_bytes(HWA_Q4_1), 20);
    CHECK_INT_EQ(hwa_dtype_block_size(HWA_Q4_K), 256);
    CHECK_INT_EQ(hwa_dtype_block_bytes(HWA_Q4_K), 144);
    CHECK_INT_EQ(hwa_dtype_block_size(HWA_Q6_K), 256);
    CHECK_INT_EQ(hwa_dtype_block_bytes(HWA_Q6_K), 210);
    hwa_dtype t;
    CHECK_OK(hwa_dtype_from_name("Q4_K", &t));
    CHECK_INT_EQ(t, HWA_Q4_K);
    size_t nb;
    CHECK_STATUS(hwa_dtype_row_bytes(HWA_Q6_K, 4096 + 128, &nb), HWA_E_RANGE);
    CHECK_OK(hwa_dtype_row_bytes(HWA_Q6_K, 4096, &nb));
    CHECK_INT_EQ(nb, 16 * 210);
    float x[256] = {0};
    uint8_t b[210];
    CHECK_STATUS(hwa_convert_from_f32(HWA_Q4_K, b, x, 200), HWA_E_RANGE);
    CHECK_STATUS(hwa_convert_to_f32(HWA_Q4_K, b, x, 200), HWA_E_RANGE);
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    CHECK(hwa_tensor_new_2d(ctx, HWA_Q6_K, 2, 128) == NULL); /* rows of half a block */
    CHECK_STR_CONTAINS(hwa_ctx_last_error(ctx), "256");
    hwa_ctx_free(ctx);
}

/* x [3, 256] times W^T, W [5, 256] in type t from its golden blocks: the
 * reference kernels against the same product over the golden decoded
 * weights, and an embedding lookup of rows 4, 0, 2 against those rows. */
static void product_and_lookup(hwa_dtype t, const uint8_t *blocks, const uint32_t *decoded) {
    hwa__cpu_set_reference_only(true);
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    hwa_tensor *w = hwa_tensor_new_2d(ctx, t, 5, 256), *wf = hwa_tensor_new_2d(ctx, HWA_F32, 5, 256);
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, 3, 256), *ids = hwa_tensor_new_1d(ctx, HWA_I32, 3);
    hwa_tensor *y = hwa_matmul_ex(ctx, x, w, false, true), *yf = hwa_matmul_ex(ctx, x, wf, false, true);
    hwa_tensor *e = hwa_embedding(ctx, w, ids);
    hwa_graph *g = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g, y));
    CHECK_OK(hwa_graph_build_forward(g, yf));
    CHECK_OK(hwa_graph_build_forward(g, e));
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    size_t nb;
    CHECK_OK(hwa_dtype_row_bytes(t, 5 * 256, &nb));
    CHECK_OK(hwa_tensor_set_bytes(w, blocks, nb));
    CHECK_OK(hwa_tensor_set_bytes(wf, decoded, 5 * 256 * sizeof(float)));
    float xv[3 * 256];
    for (int i = 0; i < 3 * 256; i++) xv[i] = (float)((i * 37 % 101) - 50) / 50.0f;
    CHECK_OK(hwa_tensor_set_f32(x, xv, 3 * 256));
    const int32_t rows[3] = {4, 0, 2};
    CHECK_OK(hwa_tensor_set_bytes(ids, rows, sizeof rows));
    CHECK_OK(hwa_graph_compute(g, be));
    float a[15], b[15], em[3 * 256];
    CHECK_OK(hwa_tensor_get_f32(y, a, 15));
    CHECK_OK(hwa_tensor_get_f32(yf, b, 15));
    for (int i = 0; i < 15; i++) CHECK_MSG(a[i] == b[i], "%s product %d: %.9g, over decoded f32 weights %.9g", hwa_dtype_name(t), i, a[i], b[i]);
    CHECK_OK(hwa_tensor_get_f32(e, em, 3 * 256));
    for (int r = 0; r < 3; r++)
        if (!same_bits(em + r * 256, decoded + rows[r] * 256, 256, "embedding row")) break;
    hwa__cpu_set_reference_only(false);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

/* The host's kernel for block weights (activations quantized to 8 bits per
 * 32 values, integer block dots): x [3, 256] times W^T from the golden
 * blocks, against the float64 product of the decoded weights with the
 * activations quantized here, within the f32 summation bound. */
static void host_product(hwa_dtype t, const uint8_t *blocks, int nrows, int64_t K, const uint32_t *decoded) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    hwa_tensor *w = hwa_tensor_new_2d(ctx, t, nrows, K), *x = hwa_tensor_new_2d(ctx, HWA_F32, 3, K);
    hwa_tensor *y = hwa_matmul_ex(ctx, x, w, false, true);
    hwa_graph *g = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g, y));
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    size_t nb;
    CHECK_OK(hwa_dtype_row_bytes(t, nrows * K, &nb));
    CHECK_OK(hwa_tensor_set_bytes(w, blocks, nb));
    float xv[3 * 256], got[3 * 8];
    for (int i = 0; i < 3 * K; i++) xv[i] = (float)((i * 37 % 101) - 50) / 50.0f * (1 + (i % 7));
    CHECK_OK(hwa_tensor_set_f32(x, xv, 3 * K));
    CHECK_OK(hwa_graph_compute(g, be));
    CHECK_OK(hwa_tensor_get_f32(y, got, 3 * nrows));
    const char *kernel = hwa_backend_kernel_name(be, y);
    for (int m = 0; m < 3; m++) {
        float xq[256];
        for (int64_t b = 0; b < K / 32; b++) {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(xv[m * K + 32 * b + i]));
            const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
            for (int i = 0; i < 32; i++) xq[32 * b + i] = roundf(xv[m * K + 32 * b + i] * id) * d;
        }
        for (int n = 0; n < nrows; n++) {
            double sum = 0, abs = 0;
            for (int64_t k = 0; k < K; k++) {
                float wv;
                memcpy(&wv, &decoded[n * K + k], 4);
                sum += (double)wv * xq[k];
                abs += fabs((double)wv * xq[k]);
            }
            const double tol = (double)(K + 2) * 0x1p-24 * abs;
            CHECK_MSG(fabs(got[m * nrows + n] - sum) <= tol, "%s (%s) y[%d, %d]: %.9g, want %.9g (|diff| %.3g > %.3g)",
                      hwa_dtype_name(t), kernel, m, n, got[m * nrows + n], sum, fabs(got[m * nrows + n] - sum), tol);
        }
    }
    CHECK_STR_CONTAINS(kernel, "q8dot");
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(the_hosts_kernel_multiplies_block_weights_with_8_bit_activations) {
    host_product(HWA_Q4_K, gold_q4k_rand, 5, 256, gold_q4k_out);
    host_product(HWA_Q6_K, gold_q6k_rand, 5, 256, gold_q6k_out);
    host_product(HWA_Q4_1, gold_q41_rand, 1, 256, gold_q41_rand_out);
    host_product(HWA_Q4_K, gold_q4k_enc, 8, 256, gold_q4k_enc_out);
    host_product(HWA_Q6_K, gold_q6k_enc, 8, 256, gold_q6k_enc_out);
}

TEST(q4_k_and_q6_k_weights_multiply_and_look_up_as_their_decoded_values) {
    product_and_lookup(HWA_Q4_K, gold_q4k_rand, gold_q4k_out);
    product_and_lookup(HWA_Q6_K, gold_q6k_rand, gold_q6k_out);
}

/* A GGUF whose Q4_K tensor has rows of 128 values (half a block) is refused
 * naming the tensor and the block size. */
TEST(gguf_refuses_a_k_quant_row_that_is_not_whole_blocks) {
    char p[512];
    snprintf(p, sizeof p, "%s/k.gguf", hwa_test_tmpdir());
    hwa_gguf_writer *w = hwa_gguf_writer_new(3, 0);
    const int64_t shape[2] = {2, 256};
    CHECK_OK(hwa_gguf_writer_add_tensor(w, "blk.0.w", HWA_Q4_K, 2, shape, gold_q4k_rand, 2 * 144));
    CHECK_OK(hwa_gguf_writer_write(w, p));
    hwa_gguf_writer_free(w);
    hwa_model_file *f;
    CHECK_OK(hwa_model_file_open(p, HWA_FORMAT_GGUF, &f));
    size_t n;
    const uint8_t *bytes = hwa_model_file_bytes(f, &n);
    uint8_t *copy = malloc(n);
    memcpy(copy, bytes, n);
    hwa_model_file_free(f);
    /* the tensor info: name, n_dims, dims[0] = 256 (u64, fastest first) */
    const char *name = "blk.0.w";
    uint8_t *at = memmem(copy, n, name, strlen(name));
    CHECK(at != NULL);
    uint8_t *dims0 = at + strlen(name) + 4;
    CHECK_INT_EQ(dims0[0] | dims0[1] << 8, 256);
    dims0[0] = 128;
    dims0[1] = 0;
    CHECK_STATUS(hwa_model_file_open_mem(copy, n, "half-block.gguf", HWA_FORMAT_GGUF, &f), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "blk.0.w");
    CHECK_STR_CONTAINS(hwa_last_error(), "block size 256 of q4_k");
    free(copy);
}
