/* Q8_0 and Q4_0 against goldens from an independent implementation.
 *
 * tests/golden/quant_golden.h comes from tests/reference/gen_quant_goldens.py,
 * a NumPy implementation written from the formats' definitions (its header
 * says which: the block layout of DESIGN.md "Formats", quantized as ggml's
 * reference quantizer does). Its blocks cover the edge cases: all zero, one
 * huge value, a negative maximum, equal magnitudes of both signs, values
 * exactly at rounding boundaries (and within float32 rounding of one), scales
 * that are f16 halfway cases, f16 subnormals or underflow to 0, and scales
 * near the top of f16's range.
 *
 * Checked here: quantization byte for byte and dequantization value for value
 * (both through hwa_convert_* and through tensors); a matrix product with
 * quantized weights and an embedding lookup in a quantized table, on the
 * `cpu` backend at this host's ISA level and with its scalar reference
 * kernels only; a GGUF file written and read back with both types.
 */
#include <stdlib.h>

#include "backends/cpu/cpu_backend.h"
#include "harness.h"

#include "golden/quant_golden.h"

static const hwa_dtype qtypes[2] = {HWA_Q8_0, HWA_Q4_0};

static const uint8_t *golden_bytes(hwa_dtype t) { return t == HWA_Q8_0 ? qg_q8_0_bytes : qg_q4_0_bytes; }
static const float *golden_deq(hwa_dtype t) { return t == HWA_Q8_0 ? qg_q8_0_deq : qg_q4_0_deq; }

/* The inputs that byte i of a block of type t stores (the scale, or one
 * element, or two for Q4_0), for failure messages. */
static void describe_byte(hwa_dtype t, int64_t block, int i, char *buf, size_t cap) {
    const float *x = qg_in + block * 32;
    if (i < 2) snprintf(buf, cap, "the f16 scale");
    else if (t == HWA_Q8_0) snprintf(buf, cap, "element %d (%.9g)", i - 2, x[i - 2]);
    else snprintf(buf, cap, "elements %d (%.9g, low nibble) and %d (%.9g, high nibble)", i - 2, x[i - 2], i - 2 + 16,
                  x[i - 2 + 16]);
}

/* got (QG_NBLOCKS blocks of t) equals the golden bytes. */
static void check_bytes(hwa_dtype t, const uint8_t *got, const char *via) {
    const size_t bb = hwa_dtype_block_bytes(t);
    const uint8_t *want = golden_bytes(t);
    for (int64_t b = 0; b < QG_NBLOCKS; b++) {
        for (size_t i = 0; i < bb; i++) {
            const uint8_t g = got[b * bb + i], w = want[b * bb + i];
            char what[160];
            describe_byte(t, b, (int)i, what, sizeof what);
            CHECK_MSG(g == w, "%s via %s: block %lld '%s', byte %zu (%s): got 0x%02x, want 0x%02x", hwa_dtype_name(t),
                      via, (long long)b, qg_block_name[b], i, what, g, w);
        }
    }
}

/* got (QG_NBLOCKS * 32 values) equals the golden dequantized values exactly
 * (0 and -0 alike: the sign of a zero (q - 8) * d is not part of the format). */
static void check_values(hwa_dtype t, const float *got, const char *via) {
    const float *want = golden_deq(t);
    for (int64_t i = 0; i < QG_NBLOCKS * 32; i++)
        CHECK_MSG(got[i] == want[i], "%s via %s: block %lld '%s', element %lld: got %.9g, want %.9g",
                  hwa_dtype_name(t), via, (long long)(i / 32), qg_block_name[i / 32], (long long)(i % 32), got[i],
                  want[i]);
}

/* ---- the codecs -------------------------------------------------------- */

TEST(quantize_matches_reference_bytes) {
    for (int k = 0; k < 2; k++) {
        uint8_t got[QG_NBLOCKS * 34];
        memset(got, 0xEE, sizeof got);
        CHECK_OK(hwa_convert_from_f32(qtypes[k], got, qg_in, QG_NBLOCKS * 32));
        check_bytes(qtypes[k], got, "hwa_convert_from_f32");
        if (hwa_test_failed_now()) return;
    }
}

TEST(dequantize_matches_reference_values) {
    for (int k = 0; k < 2; k++) {
        float got[QG_NBLOCKS * 32];
        CHECK_OK(hwa_convert_to_f32(qtypes[k], golden_bytes(qtypes[k]), got, QG_NBLOCKS * 32));
        check_values(qtypes[k], got, "hwa_convert_to_f32");
        if (hwa_test_failed_now()) return;
    }
}

/* The same through tensors on the CPU backend: hwa_tensor_set_f32
 * quantizes, hwa_tensor_get_f32 dequantizes. */
TEST(tensor_set_get_f32_quantize_and_dequantize) {
    for (int k = 0; k < 2; k++) {
        const hwa_dtype t = qtypes[k];
        hwa_ctx *ctx = hwa_ctx_new(NULL);
        CHECK(ctx);
        hwa_tensor *q = hwa_tensor_new_2d(ctx, t, QG_NBLOCKS, 32);
        hwa_backend *be = hwa_backend_new(ctx, "cpu");
        uint8_t bytes[QG_NBLOCKS * 34];
        float vals[QG_NBLOCKS * 32];
        const size_t nb = QG_NBLOCKS * hwa_dtype_block_bytes(t);
        hwa_status st = q && be ? hwa_ctx_alloc_leaves(ctx, be) : HWA_E_NOMEM;
        if (st == HWA_OK) st = hwa_tensor_set_f32(q, qg_in, QG_NBLOCKS * 32);
        if (st == HWA_OK) st = hwa_tensor_get_bytes(q, bytes, nb);
        if (st == HWA_OK) check_bytes(t, bytes, "hwa_tensor_set_f32");
        if (st == HWA_OK && !hwa_test_failed_now()) st = hwa_tensor_set_bytes(q, golden_bytes(t), nb);
        if (st == HWA_OK && !hwa_test_failed_now()) st = hwa_tensor_get_f32(q, vals, QG_NBLOCKS * 32);
        if (st == HWA_OK && !hwa_test_failed_now()) check_values(t, vals, "hwa_tensor_get_f32");
        const char *err = st ? hwa_ctx_last_error(ctx) : "";
        char msg[256];
        snprintf(msg, sizeof msg, "%s", err);
        hwa_backend_free(be);
        hwa_ctx_free(ctx);
        CHECK_MSG(st == HWA_OK, "%s: %s: %s", hwa_dtype_name(t), hwa_status_name(st), msg);
        if (hwa_test_failed_now()) return;
    }
}

/* ---- kernels on the CPU backend ---------------------------------------- */

typedef struct mode {
    const char *name;
    bool reference_only;
} mode;
static const mode modes[] = {{"host ISA", false}, {"reference only", true}};

/* Computes g on be in mode m, twice (the second run goes through whatever
 * the first one cached). */
static hwa_status compute_in(hwa_graph *g, hwa_backend *be, const mode *m) {
    hwa__cpu_set_reference_only(m->reference_only);
    hwa_status st = hwa_graph_compute(g, be);
    if (st == HWA_OK) st = hwa_graph_compute(g, be);
    hwa__cpu_set_reference_only(false);
    return st;
}

/* Rows [N, K] of the golden weights: the first K / 32 blocks of each row of
 * [N, QG_MM_KMAX] (blocks are quantized independently). */
static void weight_bytes(const qg_mm_case *c, hwa_dtype t, uint8_t *out) {
    const size_t bb = hwa_dtype_block_bytes(t), row = (size_t)(c->K / 32) * bb, full = (QG_MM_KMAX / 32) * bb;
    for (int64_t n = 0; n < QG_MM_N; n++) memcpy(out + n * row, c->w + n * full, row);
}

/* y[M, N] = x[M, K] @ W[N, K]^T with W quantized, against the float64
 * reference, output by output within (K + 2) * u * absdot[m, n]
 * (u = 2^-24, absdot = sum_k |x_k| |w_k|): a kernel that sums the K
 * products in f32, in any order, is off by at most K * u * absdot (the
 * standard bound for recursive summation), and its result and the golden
 * are each rounded to f32 once more (u |y| <= u * absdot each). The
 * reference kernel sums in double, well inside that. One weight off by one
 * step d moves its output by |x_k| d: with the median |x_k| of its block,
 * at least 10 times the tolerance here for Q8_0 and 170 times for Q4_0
 * (the codecs themselves are checked exactly above). */
static void run_matmul(const qg_mm_case *c, int64_t M, const mode *m) {
    const hwa_dtype t = qtypes[c->dtype];
    uint8_t w[QG_MM_N * (QG_MM_KMAX / 32) * 34];
    float y[QG_MM_M * QG_MM_N];
    weight_bytes(c, t, w);
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    CHECK(ctx);
    hwa_backend *be = NULL;
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, M, c->K);
    hwa_tensor *wt = hwa_tensor_new_2d(ctx, t, QG_MM_N, c->K);
    hwa_tensor *out = hwa_matmul_ex(ctx, x, wt, false, true);
    hwa_graph *g = hwa_graph_new(ctx);
    hwa_status st = out && g ? hwa_graph_build_forward(g, out) : hwa_ctx_last_status(ctx);
    if (st == HWA_OK && !(be = hwa_backend_new(ctx, "cpu"))) st = hwa_ctx_last_status(ctx);
    if (st == HWA_OK) st = hwa_ctx_alloc_leaves(ctx, be);
    if (st == HWA_OK) st = hwa_tensor_set_f32(x, c->x, M * c->K);
    if (st == HWA_OK) st = hwa_tensor_set_bytes(wt, w, (size_t)(c->K / 32) * hwa_dtype_block_bytes(t) * QG_MM_N);
    if (st == HWA_OK) st = compute_in(g, be, m);
    if (st == HWA_OK) st = hwa_tensor_get_f32(out, y, M * QG_MM_N);
    char err[256];
    snprintf(err, sizeof err, "%s", st ? hwa_ctx_last_error(ctx) : "");
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    CHECK_MSG(st == HWA_OK, "matmul %s M=%lld (%s): %s: %s", c->name, (long long)M, m->name, hwa_status_name(st), err);
    /* The host's kernel for block weights quantizes each row of x to 8 bits
     * per 32 values as llama.cpp does (scale max|x|/127, round half away
     * from zero): its reference is the float64 product of the decoded
     * weights with those activations, computed here; the scalar reference
     * kernel multiplies by x itself (the golden). */
    double want[QG_MM_M * QG_MM_N], absdot[QG_MM_M * QG_MM_N];
    float wf[QG_MM_N * QG_MM_KMAX];
    CHECK_OK(hwa_convert_to_f32(t, w, wf, QG_MM_N * c->K));
    for (int64_t mm = 0; mm < M; mm++) {
        float xq[QG_MM_KMAX];
        for (int64_t b = 0; b < c->K / 32; b++) {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(c->x[mm * c->K + 32 * b + i]));
            const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
            for (int i = 0; i < 32; i++) xq[32 * b + i] = roundf(c->x[mm * c->K + 32 * b + i] * id) * d;
        }
        for (int64_t n = 0; n < QG_MM_N; n++) {
            double sum = 0, abs = 0;
            for (int64_t k = 0; k < c->K; k++) {
                const float xv = m->reference_only ? c->x[mm * c->K + k] : xq[k];
                sum += (double)wf[n * c->K + k] * xv;
                abs += fabs((double)wf[n * c->K + k] * xv);
            }
            want[mm * QG_MM_N + n] = m->reference_only ? c->y[mm * QG_MM_N + n] : sum;
            absdot[mm * QG_MM_N + n] = m->reference_only ? c->absdot[mm * QG_MM_N + n] : abs;
        }
    }
    for (int64_t i = 0; i < M * QG_MM_N; i++) {
        const double tol = (double)(c->K + 2) * 0x1p-24 * absdot[i];
        CHECK_MSG(fabs(y[i] - want[i]) <= tol,
                  "matmul %s M=%lld (%s): y[%lld, %lld]: got %.9g, want %.9g (|diff| %.3g > %.3g)", c->name,
                  (long long)M, m->name, (long long)(i / QG_MM_N), (long long)(i % QG_MM_N), y[i], want[i],
                  fabs(y[i] - want[i]), tol);
    }
}

TEST(matmul_quantized_weights_matches_reference) {
    const int64_t ms[2] = {1, QG_MM_M};
    for (size_t c = 0; c < sizeof qg_mm_cases / sizeof qg_mm_cases[0]; c++)
        for (int mi = 0; mi < 2; mi++)
            for (int k = 0; k < 2; k++) {
                run_matmul(&qg_mm_cases[c], ms[mi], &modes[k]);
                if (hwa_test_failed_now()) return;
            }
}

/* ids [3, 4] into the golden blocks read as a table [QG_NBLOCKS / 2, 64]
 * (row r: blocks 2r and 2r + 1): both ends, repeats. A lookup copies
 * dequantized rows, so the values must be exact. */
static const int32_t emb_ids[12] = {9, 0, 3, 3, 7, 1, 8, 2, 6, 4, 5, 9};

static void run_embedding(hwa_dtype t, const mode *m) {
    float got[12 * 64];
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    CHECK(ctx);
    hwa_backend *be = NULL;
    hwa_tensor *table = hwa_tensor_new_2d(ctx, t, QG_NBLOCKS / 2, 64);
    hwa_tensor *ids = hwa_tensor_new_2d(ctx, HWA_I32, 3, 4);
    hwa_tensor *out = hwa_embedding(ctx, table, ids);
    hwa_graph *g = hwa_graph_new(ctx);
    hwa_status st = out && g ? hwa_graph_build_forward(g, out) : hwa_ctx_last_status(ctx);
    if (st == HWA_OK && !(be = hwa_backend_new(ctx, "cpu"))) st = hwa_ctx_last_status(ctx);
    if (st == HWA_OK) st = hwa_ctx_alloc_leaves(ctx, be);
    if (st == HWA_OK) st = hwa_tensor_set_bytes(table, golden_bytes(t), QG_NBLOCKS * hwa_dtype_block_bytes(t));
    if (st == HWA_OK) st = hwa_tensor_set_bytes(ids, emb_ids, sizeof emb_ids);
    if (st == HWA_OK) st = compute_in(g, be, m);
    if (st == HWA_OK && (hwa_tensor_ndim(out) != 3 || hwa_tensor_dim(out, 2) != 64 || hwa_tensor_dtype(out) != HWA_F32))
        st = HWA_E_SHAPE;
    if (st == HWA_OK) st = hwa_tensor_get_f32(out, got, 12 * 64);
    char err[256];
    snprintf(err, sizeof err, "%s", st ? hwa_ctx_last_error(ctx) : "");
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    CHECK_MSG(st == HWA_OK, "embedding %s (%s): %s: %s", hwa_dtype_name(t), m->name, hwa_status_name(st), err);
    const float *deq = golden_deq(t);
    for (int j = 0; j < 12; j++)
        for (int c = 0; c < 64; c++) {
            const float w = deq[emb_ids[j] * 64 + c];
            CHECK_MSG(got[j * 64 + c] == w, "embedding %s (%s): id %d (row %d), column %d: got %.9g, want %.9g",
                      hwa_dtype_name(t), m->name, j, emb_ids[j], c, got[j * 64 + c], w);
        }
}

TEST(embedding_in_quantized_table_matches_reference) {
    for (int k = 0; k < 2; k++)
        for (int mi = 0; mi < 2; mi++) {
            run_embedding(qtypes[k], &modes[mi]);
            if (hwa_test_failed_now()) return;
        }
}

/* ---- GGUF ---------------------------------------------------------------- */

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The ggml type number stored in the tensor info of `name` (the u32 after
 * the name, n_dims and the u64 dims), or -1. */
static long gguf_type_on_disk(const uint8_t *file, size_t size, const char *name) {
    const size_t len = strlen(name);
    for (size_t i = 8; i + len + 4 <= size; i++) {
        if (memcmp(file + i, name, len) != 0 || rd32(file + i - 8) != len) continue;
        const size_t at = i + len;
        const uint32_t nd = rd32(file + at);
        if (nd > 4 || at + 4 + 8 * (size_t)nd + 4 > size) return -1;
        return (long)rd32(file + at + 4 + 8 * nd);
    }
    return -1;
}

/* Both types written to a GGUF file and read back: the type numbers GGUF
 * gives them (Q4_0 = 2, Q8_0 = 8), the bytes unchanged, and the values they
 * dequantize to. */
TEST(gguf_round_trip_keeps_quantized_blocks) {
    char path[512];
    snprintf(path, sizeof path, "%s/quant.gguf", hwa_test_tmpdir());
    static const char *const names[2] = {"golden.q8_0", "golden.q4_0"};
    static const long ggml_type[2] = {8, 2};
    hwa_gguf_writer *w = hwa_gguf_writer_new(3, 0);
    CHECK(w);
    hwa_status st = HWA_OK;
    for (int k = 0; k < 2 && st == HWA_OK; k++) {
        const int64_t shape[2] = {QG_NBLOCKS / 2, 64};
        st = hwa_gguf_writer_add_tensor(w, names[k], qtypes[k], 2, shape, golden_bytes(qtypes[k]),
                                        QG_NBLOCKS * hwa_dtype_block_bytes(qtypes[k]));
    }
    if (st == HWA_OK) st = hwa_gguf_writer_write(w, path);
    hwa_gguf_writer_free(w);
    CHECK_OK(st);
    hwa_model_file *f;
    CHECK_OK(hwa_model_file_open(path, HWA_FORMAT_GGUF, &f));
    size_t size;
    const uint8_t *file = hwa_model_file_bytes(f, &size);
    for (int k = 0; k < 2; k++) {
        const hwa_dtype t = qtypes[k];
        const hwa_file_tensor *ft = hwa_model_file_find(f, names[k]);
        long on_disk = gguf_type_on_disk(file, size, names[k]);
        float vals[QG_NBLOCKS * 32];
        bool ok = ft && ft->has_dtype && ft->dtype == t && ft->ndim == 2 && ft->shape[0] == QG_NBLOCKS / 2 &&
                  ft->shape[1] == 64 && ft->nbytes == QG_NBLOCKS * hwa_dtype_block_bytes(t);
        if (!ok) {
            hwa_model_file_free(f);
            CHECK_MSG(ok, "%s: not read back as %s [%d, 64] of %zu bytes", names[k], hwa_dtype_name(t), QG_NBLOCKS / 2,
                      QG_NBLOCKS * hwa_dtype_block_bytes(t));
        }
        if (on_disk != ggml_type[k]) {
            hwa_model_file_free(f);
            CHECK_MSG(on_disk == ggml_type[k], "%s: GGUF type %ld on disk, want %ld", names[k], on_disk, ggml_type[k]);
        }
        check_bytes(t, ft->data, "GGUF");
        if (!hwa_test_failed_now()) st = hwa_convert_to_f32(t, ft->data, vals, QG_NBLOCKS * 32);
        if (!hwa_test_failed_now() && st == HWA_OK) check_values(t, vals, "GGUF");
        if (hwa_test_failed_now() || st != HWA_OK) break;
    }
    hwa_model_file_free(f);
    CHECK_OK(st);
}
