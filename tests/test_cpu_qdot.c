/* The block-weight products (src/backends/cpu/matmul/mm_quant*.c) at every
 * ISA level of this host: scalar, AVX2 (maddubs) and AVX-512 VNNI
 * (dpbusd). Each product y = x W^T, W in a block type, is checked against
 * an independent float64 sum of the decoded weights (hwa_convert_to_f32)
 * times the activations rounded to 8 bits per 32 values as the kernels
 * round them, within the f32 summation bound: the integer block dots are
 * exact, only the order of the f32 additions differs between kernels.
 * Shapes cover one block, a super-block, several, a group of 16 blocks and
 * a remainder, 1..5 activation rows (the kernels take up to 4 at a time)
 * and 15, and a number of weight rows that does not split evenly across
 * threads; for one and two activation rows also 38 and 39 weight rows, so
 * that 1, 2 and 3 rows are left after the VNNI kernel's groups of four
 * (one activation row) or two (two rows) weight rows.
 *
 * Products with HWA_QGEMM_MIN_M rows or more (a prompt) decode the weights
 * a panel at a time and hand them to the matmul providers: in f32 (checked
 * against the f32 activations within the f32 summation bound), or in bf16
 * where the AMX tiles are active (both operands rounded to bf16: within
 * 2^-8 of the products' absolute sum more). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/cpu_isa.h"
#include "backends/cpu/matmul/mm_quant.h"
#include "harness.h"

/* x [M, K] rounded to 8 bits per 32 values (scale max|x| / 127, nearest). */
static void quantize_rows(const float *x, int64_t M, int64_t K, double *xq) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t b = 0; b < K / 32; b++) {
            const float *v = x + m * K + 32 * b;
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(v[i]));
            const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
            for (int i = 0; i < 32; i++) xq[m * K + 32 * b + i] = (double)(roundf(v[i] * id) * d);
        }
}

/* Runs x [M, K] times W^T (W [N, K] of type t from random values) at ISA
 * level isa and checks every output; the kernel's name must contain kern.
 * With bf16 the tolerance grows by 2^-8 of the absolute sum; activations
 * are taken as they are (not rounded to 8 bits) for a name with ">". */
static void product_at(hwa_dtype t, int isa, const char *kern, int64_t M, int64_t N, int64_t K) {
    const bool gemm = strchr(kern, '>') != NULL, bf16 = strstr(kern, ">bf16") != NULL;
    hwa_ctx *ctx = hwa_ctx_new(&(hwa_ctx_params){.seed = 7});
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    hwa_tensor *w = hwa_tensor_new_2d(ctx, t, N, K), *x = hwa_tensor_new_2d(ctx, HWA_F32, M, K);
    hwa_tensor *y = hwa_matmul_ex(ctx, x, w, false, true);
    hwa_graph *g = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g, y));
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    size_t nb;
    CHECK_OK(hwa_dtype_row_bytes(t, N * K, &nb));
    float *wf = malloc((size_t)(N * K) * sizeof *wf), *xf = malloc((size_t)(M * K) * sizeof *xf);
    float *got = malloc((size_t)(M * N) * sizeof *got);
    double *xq = malloc((size_t)(M * K) * sizeof *xq);
    uint8_t *blocks = malloc(nb);
    uint32_t r = (uint32_t)(1000 * t + 7 * M + N + K);
    for (int64_t i = 0; i < N * K; i++) r = r * 1664525u + 1013904223u, wf[i] = (float)(r >> 8) / 8388608.0f - 1.0f;
    /* a few rows of activations with a larger range, so blocks' scales differ */
    for (int64_t i = 0; i < M * K; i++)
        r = r * 1664525u + 1013904223u, xf[i] = ((float)(r >> 8) / 8388608.0f - 1.0f) * (float)(1 + (i / 32) % 5);
    CHECK_OK(hwa_convert_from_f32(t, blocks, wf, N * K));
    CHECK_OK(hwa_convert_to_f32(t, blocks, wf, N * K)); /* the decoded weights */
    CHECK_OK(hwa_tensor_set_bytes(w, blocks, nb));
    CHECK_OK(hwa_tensor_set_f32(x, xf, M * K));
    hwa__isa_set_override(isa);
    CHECK_OK(hwa_graph_compute(g, be));
    hwa__isa_set_override(-1);
    CHECK_OK(hwa_tensor_get_f32(y, got, M * N));
    const char *kernel = hwa_backend_kernel_name(be, y);
    CHECK_MSG(strstr(kernel, kern) != NULL, "%s at %s, [%lld, %lld] x [%lld, %lld]^T: kernel %s, want %s",
              hwa_dtype_name(t), hwa__isa_name((hwa__isa)isa), (long long)M, (long long)K, (long long)N, (long long)K,
              kernel, kern);
    if (gemm)
        for (int64_t i = 0; i < M * K; i++) xq[i] = xf[i];
    else
        quantize_rows(xf, M, K, xq);
    int bad = 0;
    for (int64_t m = 0; m < M && bad < 3; m++)
        for (int64_t n = 0; n < N && bad < 3; n++) {
            double sum = 0, abs = 0;
            for (int64_t k = 0; k < K; k++) {
                sum += (double)wf[n * K + k] * xq[m * K + k];
                abs += fabs((double)wf[n * K + k] * xq[m * K + k]);
            }
            const double tol = ((double)(K + 2) * 0x1p-24 + (bf16 ? 0x1p-8 : 0.0)) * abs, e = fabs(got[m * N + n] - sum);
            if (!(e <= tol)) {
                bad++;
                hwa_test_fail(__FILE__, __LINE__, "%s (%s) M %lld K %lld N %lld: y[%lld, %lld] %.9g, want %.9g (|diff| %.3g > %.3g)",
                              hwa_dtype_name(t), kernel, (long long)M, (long long)K, (long long)N, (long long)m,
                              (long long)n, got[m * N + n], sum, e, tol);
            }
        }
    free(wf), free(xf), free(got), free(xq), free(blocks);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

/* The highest level to run: HWA_ISA's when it is below the host's (as
 * test_backend_ops does), else the host's. */
static int top_level(void) {
    const int env = hwa__isa_env();
    return env >= 0 ? env : (int)hwa__isa_host();
}

/* Every shape of the file's comment for type t at every level the host
 * has; skips (after running the others) for a level it lacks. */
static void every_level(hwa_dtype t) {
    static const int64_t rows[] = {1, 2, 3, 4, 5, HWA_QGEMM_MIN_M - 1};
    /* 32-value types: 1 block, 15 (all remainder), 17 (a group of 16 and
     * one), 48 (three groups); K-quants: 1 and 3 super-blocks */
    static const int64_t k32[] = {32, 480, 544, 1536}, k256[] = {256, 768};
    const bool kq = hwa_dtype_block_size(t) == 256;
    const int64_t *ks = kq ? k256 : k32;
    const int nk = kq ? 2 : 4;
    const hwa__cpu_caps *caps = hwa__cpu_caps_get();
    const int top = top_level();
    for (int isa = HWA_ISA_SCALAR; isa <= top && isa <= HWA_ISA_AVX512; isa++) {
        const char *kern = isa == HWA_ISA_SCALAR ? ":scalar" : isa == HWA_ISA_AVX2 || !caps->avx512_vnni ? ":avx2" : ":avx512vnni";
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < nk; j++) product_at(t, isa, kern, rows[i], 37, ks[j]);
        for (int64_t m = 1; m <= 2; m++)
            for (int64_t n = 38; n <= 39; n++) product_at(t, isa, kern, m, n, ks[nk - 1]);
    }
    if (top < HWA_ISA_AVX2) SKIP_FOR("avx2", "AVX2 is above the host's level or HWA_ISA: its block kernels were not run");
    if (top < HWA_ISA_AVX512 || !caps->avx512_vnni)
        SKIP_FOR("avx512", "AVX-512 VNNI is not on the host or above HWA_ISA: its block kernels were not run");
}

/* Prompt-sized products of type t at every level above scalar: 16 and 33
 * rows, one block or super-block and several, and N = 600 with K = 4096
 * (more than one panel). */
static void prompt_every_level(hwa_dtype t) {
    const bool kq = hwa_dtype_block_size(t) == 256;
    const hwa__cpu_caps *caps = hwa__cpu_caps_get();
    const int top = top_level();
    char kern[32];
    for (int isa = HWA_ISA_AVX2; isa <= top; isa++) {
        const bool bf16 = isa >= HWA_ISA_AMX && caps->amx_bf16 && caps->amx_permitted;
        snprintf(kern, sizeof kern, "%s>%s:", hwa_dtype_name(t), bf16 ? "bf16" : "f32");
        for (int64_t m = HWA_QGEMM_MIN_M; m <= 2 * HWA_QGEMM_MIN_M + 1; m += HWA_QGEMM_MIN_M + 1) {
            product_at(t, isa, kern, m, 37, kq ? 256 : 32);
            product_at(t, isa, kern, m, 37, kq ? 768 : 544);
        }
        product_at(t, isa, kern, HWA_QGEMM_MIN_M, 600, 4096);
    }
    if (top < HWA_ISA_AVX2) SKIP_FOR("avx2", "AVX2 is above the host's level or HWA_ISA: the decoded-panel products were not run");
    if (top < HWA_ISA_AMX || !caps->amx_bf16 || !caps->amx_permitted)
        SKIP_FOR("amx", "AMX bf16 tiles are not on the host or above HWA_ISA: the bf16 panels were not run");
}

/* The AVX-512 rounding of the activations (the VNNI path's) against roundf
 * itself: values that land on halves of the scale (away from zero, both
 * signs), random values, an all-zero block (scale 0) and a block whose
 * largest value is negative give the same bytes, scales and sums. */
TEST(avx512_activation_rounding_matches_roundf_halves_away_from_zero) {
    if (!hwa__cpu_caps_get()->avx512_vnni) SKIP_FOR("avx512", "AVX-512 VNNI is not on the host: its rounding was not run");
    enum { NB = 5 };
    float x[32 * NB];
    uint32_t r = 12345;
    for (int i = 0; i < 32; i++) x[i] = (float)(i - 16) + 0.5f; /* with x[31] scale 1: halves */
    x[31] = 127.0f;                                                /* scale exactly 1 */
    for (int i = 32; i < 96; i++) r = r * 1664525u + 1013904223u, x[i] = (float)(r >> 8) / 8388608.0f - 1.0f;
    for (int i = 96; i < 128; i++) x[i] = 0.0f;
    for (int i = 128; i < 160; i++) x[i] = -(float)(i - 128) * 2.5f; /* the largest |x| negative */
    int8_t q[32 * NB];
    float d[NB];
    int32_t s[NB];
    hwa__q8_rows_avx512(x, NB, q, d, s);
    for (int b = 0; b < NB; b++) {
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[32 * b + i]));
        const float want_d = amax / 127.0f, id = want_d != 0.0f ? 1.0f / want_d : 0.0f;
        int32_t want_s = 0;
        CHECK_MSG(d[b] == want_d, "block %d: scale %.9g, want %.9g", b, d[b], want_d);
        for (int i = 0; i < 32; i++) {
            const int want = (int)roundf(x[32 * b + i] * id);
            want_s += want;
            CHECK_MSG(q[32 * b + i] == want, "block %d value %d (%.9g): %d, want %d", b, i, x[32 * b + i], q[32 * b + i], want);
        }
        CHECK_MSG(s[b] == want_s, "block %d: sum %d, want %d", b, s[b], want_s);
    }
    CHECK(q[0] == -16 && q[1] == -15 && q[16] == 1); /* -15.5 -> -16, -14.5 -> -15, 0.5 -> 1 */
}

TEST(q8_0_prompt_products_decode_the_weights_at_every_isa_level) { prompt_every_level(HWA_Q8_0); }
TEST(q4_0_prompt_products_decode_the_weights_at_every_isa_level) { prompt_every_level(HWA_Q4_0); }
TEST(q4_1_prompt_products_decode_the_weights_at_every_isa_level) { prompt_every_level(HWA_Q4_1); }
TEST(q4_k_prompt_products_decode_the_weights_at_every_isa_level) { prompt_every_level(HWA_Q4_K); }
TEST(q6_k_prompt_products_decode_the_weights_at_every_isa_level) { prompt_every_level(HWA_Q6_K); }

TEST(q8_0_products_match_the_decoded_weights_at_every_isa_level) { every_level(HWA_Q8_0); }
TEST(q4_0_products_match_the_decoded_weights_at_every_isa_level) { every_level(HWA_Q4_0); }
TEST(q4_1_products_match_the_decoded_weights_at_every_isa_level) { every_level(HWA_Q4_1); }
TEST(q4_k_products_match_the_decoded_weights_at_every_isa_level) { every_level(HWA_Q4_K); }
TEST(q6_k_products_match_the_decoded_weights_at_every_isa_level) { every_level(HWA_Q6_K); }
