/* Block encoding with an importance matrix (hwa_convert_from_f32_weighted):
 * for every block type, the weighted error sum imp * (x - decoded)^2 is
 * below the reference encoder's on random rows with uneven importance and
 * on stories260K's matrices with an importance measured on text, and never
 * above it in any block; without importance the bytes are the reference
 * encoder's. The error is computed here from the decoded values, by the
 * definition. */
#include <math.h>
#include <stdlib.h>

#include "harness.h"

static const hwa_dtype types[] = {HWA_Q8_0, HWA_Q4_0, HWA_Q4_1, HWA_Q4_K, HWA_Q6_K};

/* sum imp * (x - y)^2 over each block of n values (per-block into blk_err when non-NULL). */
static double werr(const float *x, const float *y, const float *imp, int64_t n, int64_t row, int64_t blk, double *blk_err) {
    double e = 0;
    for (int64_t b = 0; b < n / blk; b++) {
        double eb = 0;
        for (int64_t i = b * blk; i < (b + 1) * blk; i++) eb += (double)imp[i % row] * ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        if (blk_err) blk_err[b] = eb;
        e += eb;
    }
    return e;
}

/* Encodes x (rows of `row`) both ways; checks the weighted error drops overall and rises in no block. */
static void compare(hwa_dtype t, const float *x, int64_t n, int64_t row, const float *imp, const char *what) {
    const int64_t blk = hwa_dtype_block_size(t);
    size_t bytes;
    CHECK_OK(hwa_dtype_row_bytes(t, n, &bytes));
    void *q0 = malloc(bytes), *q1 = malloc(bytes);
    float *y0 = malloc((size_t)n * sizeof *y0), *y1 = malloc((size_t)n * sizeof *y1);
    double *e0 = malloc((size_t)(n / blk) * sizeof *e0), *e1 = malloc((size_t)(n / blk) * sizeof *e1);
    CHECK_OK(hwa_convert_from_f32(t, q0, x, n));
    CHECK_OK(hwa_convert_from_f32_weighted(t, q1, x, n, row, imp));
    CHECK_OK(hwa_convert_to_f32(t, q0, y0, n));
    CHECK_OK(hwa_convert_to_f32(t, q1, y1, n));
    const double a = werr(x, y0, imp, n, row, blk, e0), b = werr(x, y1, imp, n, row, blk, e1);
    printf("    %-12s %-5s weighted error %.6g -> %.6g (%.1f%% lower)\n", what, hwa_dtype_name(t), a, b,
           100.0 * (1.0 - b / a));
    CHECK_MSG(b < a, "%s %s: weighted error %.9g with the importance, %.9g without", what, hwa_dtype_name(t), b, a);
    for (int64_t k = 0; k < n / blk; k++)
        if (e1[k] > e0[k]) {
            CHECK_MSG(false, "%s %s: block %lld: weighted error %.9g, the reference block's %.9g", what,
                      hwa_dtype_name(t), (long long)k, e1[k], e0[k]);
            break;
        }
    free(q0), free(q1), free(y0), free(y1), free(e0), free(e1);
}

/* A fixed-seed generator: uniform in [0, 1). */
static double urand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0;
}

TEST(weighted_error_drops_on_random_rows_for_every_type) {
    enum { ROW = 512, ROWS = 16 };
    static float x[ROW * ROWS], imp[ROW];
    uint64_t s = 42;
    for (int i = 0; i < ROW * ROWS; i++) { /* roughly normal, a few outliers */
        const double u1 = urand(&s) + 1e-12, u2 = urand(&s);
        x[i] = (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2) * (i % 97 == 0 ? 4.0 : 1.0));
    }
    for (int j = 0; j < ROW; j++) imp[j] = (float)exp(3.0 * urand(&s)); /* columns differ by up to e^3 */
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) compare(types[k], x, ROW * ROWS, ROW, imp, "random");
}

TEST(no_importance_gives_the_reference_bytes) {
    float x[256];
    uint8_t a[288], b[288]; /* the largest: q8_0, 8 blocks of 34 bytes */
    uint64_t s = 7;
    for (int i = 0; i < 256; i++) x[i] = (float)(urand(&s) - 0.5);
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        size_t n;
        CHECK_OK(hwa_dtype_row_bytes(types[k], 256, &n));
        CHECK_OK(hwa_convert_from_f32(types[k], a, x, 256));
        CHECK_OK(hwa_convert_from_f32_weighted(types[k], b, x, 256, 256, NULL));
        CHECK_MSG(!memcmp(a, b, n), "%s: bytes differ without importance", hwa_dtype_name(types[k]));
    }
}

TEST(rows_that_are_not_whole_blocks_are_refused) {
    float x[64] = {0}, imp[64] = {0};
    uint8_t q[210];
    CHECK_STATUS(hwa_convert_from_f32_weighted(HWA_Q4_K, q, x, 64, 64, imp), HWA_E_RANGE);
    CHECK_STATUS(hwa_convert_from_f32_weighted(HWA_F16, q, x, 64, 64, imp), HWA_E_MISUSE);
}

/* stories260K's layer matrices (rows of 64 values) with an importance
 * measured on a text by hwa_llama_imatrix; for the K-quants four rows make
 * one of 256 values and the importance repeats. */
TEST(weighted_error_drops_on_stories260K_for_every_type) {
    char path[512];
    NEED_DATA("stories260K/stories260K.gguf", path);
    hwa_llama *m = NULL;
    hwa_tokenizer *tok = NULL;
    CHECK_OK(hwa_llama_load(path, NULL, &m));
    CHECK_OK(hwa_tokenizer_load(path, 0, &tok));
    static const char line[] = "First Citizen: Before we proceed any further, hear me speak. All: Speak, speak. "
                               "You are all resolved rather to die than to famish? Resolved. resolved.";
    int32_t ids[256], n = 0;
    CHECK_OK(hwa_tokenizer_encode(tok, line, true, false, ids, 256, &n));
    hwa_imatrix *im = hwa_imatrix_new();
    CHECK_OK(hwa_llama_imatrix(m, ids, n, n, -1, 1, im, NULL));
    const hwa_model_file *f = hwa_llama_file(m);
    static const char *names[] = {"blk.0.attn_q.weight", "blk.2.attn_output.weight", "blk.4.ffn_gate.weight"};
    for (size_t w = 0; w < sizeof names / sizeof names[0]; w++) {
        const hwa_file_tensor *ft = hwa_model_file_find(f, names[w]);
        CHECK(ft && ft->dtype == HWA_F32 && ft->shape[1] == 64);
        if (!ft) break;
        float imp[256];
        CHECK_OK(hwa_imatrix_importance(im, names[w], 64, imp));
        for (int r = 1; r < 4; r++) memcpy(imp + 64 * r, imp, 64 * sizeof *imp);
        for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
            const int64_t row = hwa_dtype_block_size(types[k]) == 256 ? 256 : 64;
            compare(types[k], ft->data, ft->nelements, row, imp, names[w] + 4);
        }
    }
    hwa_imatrix_free(im);
    hwa_tokenizer_free(tok);
    hwa_llama_free(m);
}
