/* The compressed model: its invariants, the MLP loader, canonical Huffman
 * codes against an independent Python implementation, and the file format
 * (round trips of every form, files encoded in Python from
 * docs/formats.md, and hostile files). */
#include <stdlib.h>
#include <string.h>

#include "compress/compress_internal.h"
#include "harness.h"
#include "reference/cmodel_goldens.h"

/* ---- helpers ------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}
static float rnd_f(void) { return (float)((int)(rnd() % 2001) - 1000) / 512.0f; }

static void *copy_of(const void *p, size_t n) {
    void *q = malloc(n ? n : 1);
    if (n) memcpy(q, p, n);
    return q;
}

typedef enum form { F_DENSE, F_SPARSE, F_DENSE_SHARED, F_SPARSE_SHARED, F_INT8_STATIC, F_INT8_DYNAMIC } form;

/* Layer L [out, in] in the given form with random contents; sparse layers keep
 * about one weight in `keep_every` (and a few long gaps). */
static void fill_layer(hwa_cm_layer *L, int64_t out, int64_t in, form f, int bits, int keep_every) {
    memset(L, 0, sizeof *L);
    L->out = out;
    L->in = in;
    L->bias = malloc((size_t)out * sizeof(float));
    for (int64_t r = 0; r < out; r++) L->bias[r] = rnd_f();
    L->sparse = f == F_SPARSE || f == F_SPARSE_SHARED;
    if (L->sparse) {
        L->row_ptr = malloc((size_t)(out + 1) * sizeof(int32_t));
        L->col = malloc((size_t)(out * in) * sizeof(int32_t));
        L->row_ptr[0] = 0;
        int64_t k = 0;
        for (int64_t r = 0; r < out; r++) {
            for (int64_t c = 0; c < in; c++)
                if (rnd() % (uint32_t)keep_every == 0 && !(r % 3 == 1 && c > 5 && c < in - 1)) L->col[k++] = (int32_t)c;
            L->row_ptr[r + 1] = (int32_t)k;
        }
        L->nnz = k;
    } else {
        L->nnz = out * in;
    }
    if (f == F_DENSE || f == F_SPARSE) {
        L->values = malloc((size_t)L->nnz * sizeof(float) + 1);
        for (int64_t k = 0; k < L->nnz; k++) L->values[k] = rnd_f();
    } else if (f == F_DENSE_SHARED || f == F_SPARSE_SHARED) {
        L->bits = bits;
        L->n_codes = (1 << bits) - (bits > 1);
        L->codebook = malloc((size_t)L->n_codes * sizeof(float));
        for (int c = 0; c < L->n_codes; c++) L->codebook[c] = rnd_f();
        L->codes = malloc((size_t)L->nnz + 1);
        for (int64_t k = 0; k < L->nnz; k++) { /* skewed: Huffman has something to gain */
            uint32_t x = rnd() % 64, c = 0;
            while (x & 1 && c + 1 < (uint32_t)L->n_codes) {
                c++;
                x >>= 1;
            }
            L->codes[k] = (uint8_t)c;
        }
    } else {
        L->q = malloc((size_t)L->nnz);
        for (int64_t k = 0; k < L->nnz; k++) L->q[k] = (int8_t)((int)(rnd() % 255) - 127);
        L->q_scale = malloc((size_t)out * sizeof(float));
        for (int64_t r = 0; r < out; r++) L->q_scale[r] = (float)(1 + rnd() % 100) / 4096.0f;
        L->act = f == F_INT8_STATIC ? HWA_CM_ACT_STATIC : HWA_CM_ACT_DYNAMIC;
        L->act_scale = f == F_INT8_STATIC ? 0.03125f : 0.0f;
        L->act_zero = f == F_INT8_STATIC ? 117 : 0;
    }
}

/* A two-layer model [in -> hidden -> 10] whose first layer has form f. */
static hwa_cmodel *make_model(form f, bool huffman, int64_t in, int64_t hidden) {
    hwa_cmodel *m = calloc(1, sizeof *m);
    m->n_layers = 2;
    m->activation = HWA_ACT_RELU;
    m->huffman = huffman;
    fill_layer(&m->layer[0], hidden, in, f, 5, 12);
    fill_layer(&m->layer[1], 10, hidden, F_DENSE, 0, 1);
    return m;
}

#define SAME_ARRAY(a, b, n) ((!(a) && !(b)) || ((a) && (b) && !memcmp((a), (b), (size_t)(n))))

/* Whether a and b hold the same model, bit for bit; on a difference the
 * field it is in. */
static const char *model_diff(const hwa_cmodel *a, const hwa_cmodel *b) {
    if (a->n_layers != b->n_layers || a->activation != b->activation || a->huffman != b->huffman) return "header";
    for (int l = 0; l < a->n_layers; l++) {
        const hwa_cm_layer *x = &a->layer[l], *y = &b->layer[l];
        if (x->out != y->out || x->in != y->in || x->sparse != y->sparse || x->nnz != y->nnz) return "shape/nnz";
        if (x->bits != y->bits || x->n_codes != y->n_codes) return "bits/n_codes";
        if (!SAME_ARRAY(x->bias, y->bias, x->out * 4)) return "bias";
        if (!SAME_ARRAY(x->row_ptr, y->row_ptr, (x->out + 1) * 4)) return "row_ptr";
        if (!SAME_ARRAY(x->col, y->col, x->nnz * 4)) return "col";
        if (!SAME_ARRAY(x->values, y->values, x->nnz * 4)) return "values";
        if (!SAME_ARRAY(x->codebook, y->codebook, x->n_codes * 4)) return "codebook";
        if (!SAME_ARRAY(x->codes, y->codes, x->nnz)) return "codes";
        if (!SAME_ARRAY(x->q, y->q, x->nnz)) return "q";
        if (!SAME_ARRAY(x->q_scale, y->q_scale, x->out * 4)) return "q_scale";
        if (x->q && (x->act != y->act || memcmp(&x->act_scale, &y->act_scale, 4) || x->act_zero != y->act_zero))
            return "activation quantization";
    }
    return NULL;
}

/* Encodes m, decodes the bytes, and checks the same model comes back. */
static void check_round_trip(hwa_cmodel *m) {
    uint8_t *buf;
    size_t n;
    hwa_cmodel *back = NULL;
    int64_t size;
    hwa_status st = hwa_cmodel_encode(m, &buf, &n);
    if (st == HWA_OK) st = hwa_cmodel_decode(buf, n, "round trip", &back);
    const char *diff = st == HWA_OK ? model_diff(m, back) : "decode";
    hwa_status st_size = hwa_cmodel_size(m, &size);
    free(buf);
    hwa_cmodel_free(back);
    hwa_cmodel_free(m);
    CHECK_MSG(st == HWA_OK, "round trip: %s", hwa_last_error());
    CHECK_MSG(!diff, "the decoded model differs in %s", diff);
    CHECK_OK(st_size);
    CHECK_INT_EQ(size, (int64_t)n);
}

/* Decoding n bytes fails with HWA_E_FORMAT and a message containing want. */
static void check_rejects(const uint8_t *buf, size_t n, const char *want) {
    hwa_cmodel *m = (hwa_cmodel *)1;
    hwa_clear_error();
    hwa_status st = hwa_cmodel_decode(buf, n, "hostile.hwac", &m);
    CHECK_MSG(st == HWA_E_FORMAT, "accepted or wrong status %s (%s), expected a message with \"%s\"",
              hwa_status_name(st), hwa_last_error(), want);
    CHECK(m == NULL);
    CHECK_MSG(strstr(hwa_last_error(), want) && strstr(hwa_last_error(), "hostile.hwac"),
              "message \"%s\" lacks \"%s\" or the file's name", hwa_last_error(), want);
}

static uint8_t *encode_or_null(hwa_cmodel *m, size_t *n) {
    uint8_t *buf = NULL;
    if (hwa_cmodel_encode(m, &buf, n) != HWA_OK) buf = NULL;
    hwa_cmodel_free(m);
    return buf;
}

/* Sets `width` bits at bit offset `at` (MSB first) of buf to v. */
static void set_bits(uint8_t *buf, size_t at, int width, uint32_t v) {
    for (int i = 0; i < width; i++, at++) {
        uint8_t bit = (uint8_t)((v >> (width - 1 - i)) & 1u);
        buf[at / 8] = (uint8_t)((buf[at / 8] & ~(0x80u >> (at % 8))) | (bit << (7 - at % 8)));
    }
}

/* ---- Huffman ---------------------------------------------------------------------- */

TEST(huffman_lengths_match_the_python_reference) {
    for (size_t i = 0; i < sizeof huff_golds / sizeof huff_golds[0]; i++) {
        const huff_gold *g = &huff_golds[i];
        uint8_t len[256];
        CHECK_OK(hwa__huff_lengths(g->counts, g->n, g->max_len, len));
        for (int s = 0; s < g->n; s++)
            CHECK_MSG(len[s] == g->len[s], "%s: symbol %d has length %d, the reference %d", g->name, s, len[s],
                      g->len[s]);
    }
}

TEST(huffman_lengths_honour_the_limit_and_stay_complete) {
    for (int limit = 4; limit <= 15; limit++) {
        uint64_t counts[256];
        for (int s = 0; s < 256; s++) counts[s] = s < 16 ? (1ull << (2 * s)) : 1; /* wants ~40-bit codes */
        int n = limit < 8 ? 1 << limit : 256;
        uint8_t len[256];
        CHECK_OK(hwa__huff_lengths(counts, n, limit, len));
        uint64_t kraft = 0;
        for (int s = 0; s < n; s++) {
            CHECK_MSG(len[s] >= 1 && len[s] <= limit, "limit %d: symbol %d has length %d", limit, s, len[s]);
            kraft += 1ull << (15 - len[s]);
        }
        CHECK_INT_EQ(kraft, 1ull << 15);
    }
    uint64_t many[256];
    uint8_t len[256];
    for (int s = 0; s < 256; s++) many[s] = 1;
    CHECK_STATUS(hwa__huff_lengths(many, 256, 7, len), HWA_E_INVALID); /* 256 symbols need 8 bits */
}

TEST(huffman_round_trips_random_streams) {
    for (int trial = 0; trial < 50; trial++) {
        int n = 1 + (int)(rnd() % 256);
        uint64_t counts[256] = {0};
        int syms[4000], n_syms = 1 + (int)(rnd() % 4000);
        int skew = 1 + (int)(rnd() % 8);
        for (int i = 0; i < n_syms; i++) {
            int s = (int)(rnd() % (uint32_t)n);
            for (int k = 0; k < skew; k++) s = s * (int)(rnd() % 1000) / 1000; /* more small symbols */
            syms[i] = s;
            counts[s]++;
        }
        uint8_t len[256];
        hwa__huff h, h2;
        CHECK_OK(hwa__huff_lengths(counts, n, 15, len));
        CHECK_OK(hwa__huff_build(&h, len, n));
        hwa__bitw w = {0};
        for (int i = 0; i < n_syms; i++) hwa__huff_put(&w, &h, syms[i]);
        CHECK_OK(hwa__bitw_finish(&w));
        CHECK_OK(hwa__huff_build(&h2, len, n));
        hwa__bitr r = {.buf = w.buf, .nbits = (uint64_t)w.bytes * 8, .pos = 0};
        for (int i = 0; i < n_syms; i++) {
            int s;
            hwa_status st = hwa__huff_get(&r, &h2, &s);
            if (st != HWA_OK || s != syms[i]) {
                hwa__bitw_free(&w);
                CHECK_MSG(false, "trial %d: symbol %d decoded as %d (%s)", trial, i, s, hwa_last_error());
            }
        }
        CHECK(r.nbits - r.pos < 8);
        hwa__bitw_free(&w);
    }
}

TEST(huffman_tables_that_are_not_prefix_free_or_complete_are_rejected) {
    hwa__huff h;
    const uint8_t over[4] = {1, 1, 2, 0}, under[4] = {2, 2, 2, 0}, lone_long[3] = {0, 3, 0}, too_long[2] = {16, 1};
    CHECK_STATUS(hwa__huff_build(&h, over, 4), HWA_E_FORMAT);
    CHECK(strstr(hwa_last_error(), "not prefix-free"));
    CHECK_STATUS(hwa__huff_build(&h, under, 4), HWA_E_FORMAT);
    CHECK(strstr(hwa_last_error(), "incomplete"));
    CHECK_STATUS(hwa__huff_build(&h, lone_long, 3), HWA_E_FORMAT);
    CHECK(strstr(hwa_last_error(), "length 1"));
    CHECK_STATUS(hwa__huff_build(&h, too_long, 2), HWA_E_FORMAT);
    CHECK(strstr(hwa_last_error(), "above 15"));
}

TEST(huffman_stream_ending_mid_code_and_unused_code_are_errors) {
    hwa__huff h;
    const uint8_t len[3] = {1, 2, 2}; /* 0, 10, 11 */
    CHECK_OK(hwa__huff_build(&h, len, 3));
    const uint8_t one = 0x80; /* "1" then the stream ends */
    hwa__bitr r = {.buf = &one, .nbits = 1, .pos = 0};
    int s;
    CHECK_STATUS(hwa__huff_get(&r, &h, &s), HWA_E_FORMAT);
    CHECK(strstr(hwa_last_error(), "ends mid-code"));
    const uint8_t lone[1] = {1}; /* one symbol: its code is 0, a 1 is no code */
    CHECK_OK(hwa__huff_build(&h, lone, 1));
    r = (hwa__bitr){.buf = &one, .nbits = 8, .pos = 0};
    CHECK_STATUS(hwa__huff_get(&r, &h, &s), HWA_E_FORMAT);
    CHECK(strstr(hwa_last_error(), "no symbol has"));
}

/* ---- the file: round trips ---------------------------------------------------------- */

TEST(round_trip_dense_f32) { check_round_trip(make_model(F_DENSE, false, 50, 20)); }
TEST(round_trip_sparse_f32) { check_round_trip(make_model(F_SPARSE, false, 300, 20)); }
TEST(round_trip_sparse_f32_huffman) { check_round_trip(make_model(F_SPARSE, true, 700, 20)); }
TEST(round_trip_dense_shared) { check_round_trip(make_model(F_DENSE_SHARED, false, 50, 20)); }
TEST(round_trip_dense_shared_huffman) { check_round_trip(make_model(F_DENSE_SHARED, true, 50, 20)); }
TEST(round_trip_sparse_shared) { check_round_trip(make_model(F_SPARSE_SHARED, false, 784, 30)); }
TEST(round_trip_sparse_shared_huffman) { check_round_trip(make_model(F_SPARSE_SHARED, true, 784, 30)); }
TEST(round_trip_int8_static) { check_round_trip(make_model(F_INT8_STATIC, false, 40, 16)); }
TEST(round_trip_int8_dynamic) { check_round_trip(make_model(F_INT8_DYNAMIC, true, 40, 16)); }

TEST(round_trip_every_bit_width_and_one_code) {
    for (int bits = 1; bits <= HWA_CMODEL_MAX_BITS; bits++)
        for (int huff = 0; huff < 2; huff++) {
            hwa_cmodel *m = make_model(F_SPARSE_SHARED, huff, 64, 8);
            hwa_cm_layer *L = &m->layer[0];
            L->bits = bits;
            L->n_codes = bits == 1 ? 1 : (1 << bits); /* one code: every weight the same centroid */
            for (int64_t k = 0; k < L->nnz; k++) L->codes[k] = (uint8_t)(L->codes[k] % L->n_codes);
            L->codebook = realloc(L->codebook, (size_t)L->n_codes * sizeof(float));
            for (int c = 0; c < L->n_codes; c++) L->codebook[c] = (float)c;
            check_round_trip(m);
            if (hwa_test_failed_now()) return;
        }
}

TEST(round_trip_empty_sparse_rows_and_layer) {
    hwa_cmodel *m = make_model(F_SPARSE_SHARED, true, 20, 6);
    hwa_cm_layer *L = &m->layer[0];
    for (int r = 0; r <= L->out; r++) L->row_ptr[r] = 0; /* every weight pruned */
    L->nnz = 0;
    check_round_trip(m);
}

/* Whether m encodes to exactly the n bytes want. */
static bool encodes_to(const hwa_cmodel *m, const uint8_t *want, size_t n) {
    uint8_t *buf = NULL;
    size_t got = 0;
    bool same = hwa_cmodel_encode(m, &buf, &got) == HWA_OK && got == n && !memcmp(buf, want, n);
    if (!same) printf("  encoded %zu bytes, the Python writer %zu\n", got, n);
    free(buf);
    return same;
}

TEST(file_written_in_python_decodes_to_its_model) {
    hwa_cmodel *m;
    CHECK_OK(hwa_cmodel_decode(gold_file_a, sizeof gold_file_a, "gold_a", &m));
    const hwa_cm_layer *a = &m->layer[0], *b = &m->layer[1];
    bool ok = m->n_layers == 2 && m->huffman && m->activation == HWA_ACT_RELU && a->sparse && a->out == 4 &&
              a->in == 300 && a->bits == 3 && a->n_codes == 6 && !memcmp(a->row_ptr, gold_a0_row_ptr, 5 * 4) &&
              a->nnz == gold_a0_row_ptr[4] && !memcmp(a->col, gold_a0_col, sizeof gold_a0_col) &&
              !memcmp(a->codes, gold_a0_codes, sizeof gold_a0_codes) &&
              !memcmp(a->codebook, gold_a0_codebook, sizeof gold_a0_codebook) &&
              !memcmp(a->bias, gold_a0_bias, sizeof gold_a0_bias) && !b->sparse && b->q &&
              !memcmp(b->q, gold_a1_q, 12) && !memcmp(b->q_scale, gold_a1_q_scale, 12) &&
              !memcmp(b->bias, gold_a1_bias, 12) && b->act == HWA_CM_ACT_STATIC && b->act_zero == 128 &&
              b->act_scale == 0.0625f;
    bool same = encodes_to(m, gold_file_a, sizeof gold_file_a);
    hwa_cmodel_free(m);
    CHECK_MSG(ok, "file a decoded to another model");
    CHECK_MSG(same, "hwa_cmodel_encode gives other bytes than the Python writer");
}

TEST(file_without_huffman_written_in_python_decodes_to_its_model) {
    hwa_cmodel *m;
    CHECK_OK(hwa_cmodel_decode(gold_file_b, sizeof gold_file_b, "gold_b", &m));
    const hwa_cm_layer *a = &m->layer[0], *b = &m->layer[1];
    bool ok = m->n_layers == 2 && !m->huffman && m->activation == HWA_ACT_TANH && a->sparse && a->values &&
              !memcmp(a->row_ptr, gold_b0_row_ptr, sizeof gold_b0_row_ptr) &&
              !memcmp(a->col, gold_b0_col, sizeof gold_b0_col) &&
              !memcmp(a->values, gold_b0_values, sizeof gold_b0_values) && !b->sparse && b->bits == 2 &&
              b->n_codes == 3 && !memcmp(b->codes, gold_b1_codes, 10) && !memcmp(b->codebook, gold_b1_codebook, 12);
    bool same = encodes_to(m, gold_file_b, sizeof gold_file_b);
    hwa_cmodel_free(m);
    CHECK_MSG(ok, "file b decoded to another model");
    CHECK_MSG(same, "hwa_cmodel_encode gives other bytes than the Python writer");
}

TEST(write_read_and_is_file) {
    char path[4096], other[4096];
    snprintf(path, sizeof path, "%s/model.hwac", hwa_test_tmpdir());
    snprintf(other, sizeof other, "%s/not_a_model.txt", hwa_test_tmpdir());
    hwa_cmodel *m = make_model(F_SPARSE_SHARED, true, 100, 12), *back = NULL;
    hwa_status st = hwa_cmodel_write(m, path);
    if (st == HWA_OK) st = hwa_cmodel_read(path, &back);
    const char *diff = st == HWA_OK ? model_diff(m, back) : "read";
    hwa_cmodel_free(m);
    hwa_cmodel_free(back);
    CHECK_MSG(!diff, "differs in %s (%s)", diff, hwa_last_error());
    FILE *f = fopen(other, "w");
    CHECK(f);
    fputs("HWA", f);
    fclose(f);
    CHECK(hwa_cmodel_is_file(path));
    CHECK(!hwa_cmodel_is_file(other));
    CHECK(!hwa_cmodel_is_file("/nonexistent/model.hwac"));
}

TEST(huffman_makes_a_pruned_shared_layer_smaller) {
    hwa_cmodel *plain = make_model(F_SPARSE_SHARED, false, 784, 100), *coded;
    CHECK_OK(hwa_cmodel_clone(plain, &coded));
    coded->huffman = true;
    int64_t a, b;
    hwa_status st = hwa_cmodel_size(plain, &a);
    if (st == HWA_OK) st = hwa_cmodel_size(coded, &b);
    hwa_cmodel_free(plain);
    hwa_cmodel_free(coded);
    CHECK_OK(st);
    CHECK_MSG(b < a, "Huffman-coded %lld bytes, plain %lld", (long long)b, (long long)a);
}

/* ---- the file: hostile input --------------------------------------------------------- */

TEST(truncated_at_every_offset_is_an_error) {
    for (size_t n = 0; n < sizeof gold_file_a; n++) {
        check_rejects(gold_file_a, n, "truncated");
        if (hwa_test_failed_now()) {
            printf("  at length %zu\n", n);
            return;
        }
    }
}

TEST(bad_magic_version_flags_and_checksum) {
    uint8_t b[sizeof gold_file_b];
    memcpy(b, gold_file_b, sizeof b);
    b[0] = 'X';
    check_rejects(b, sizeof b, "magic");
    memcpy(b, gold_file_b, sizeof b);
    b[8] = 0x82;
    check_rejects(b, sizeof b, "flags");
    memcpy(b, gold_file_b, sizeof b);
    b[12 + 16 + 2] ^= 0x40; /* a bit of the first bias */
    check_rejects(b, sizeof b, "checksum");
    uint8_t longer[sizeof gold_file_b + 1];
    memcpy(longer, gold_file_b, sizeof gold_file_b);
    longer[sizeof gold_file_b] = 0;
    check_rejects(longer, sizeof longer, "trailing bytes");
    memcpy(b, gold_file_b, sizeof b);
    b[4] = 2;
    hwa_cmodel *m;
    CHECK_STATUS(hwa_cmodel_decode(b, sizeof b, "v2", &m), HWA_E_UNSUPPORTED);
}

/* One dense shared layer [2, 3] without Huffman: header at 12, n_codes at
 * 22, bias at 28, codebook at 36, stream length then the stream. */
static hwa_cmodel *one_shared_layer(bool huffman, int n_codes) {
    hwa_cmodel *m = calloc(1, sizeof *m);
    m->n_layers = 1;
    m->huffman = huffman;
    fill_layer(&m->layer[0], 2, 3, F_DENSE_SHARED, 2, 1);
    m->layer[0].n_codes = n_codes;
    m->layer[0].codebook = realloc(m->layer[0].codebook, (size_t)n_codes * sizeof(float));
    for (int c = 0; c < n_codes; c++) m->layer[0].codebook[c] = (float)c / 4;
    for (int k = 0; k < 6; k++) m->layer[0].codes[k] = (uint8_t)(k % n_codes);
    return m;
}

TEST(a_code_past_the_codebook_is_rejected) {
    size_t n;
    uint8_t *b = encode_or_null(one_shared_layer(false, 4), &n); /* codes 0 1 2 3 0 1 */
    CHECK(b);
    b[22] = 3; /* the codebook shrinks to 3 entries: code 3 is past it */
    memmove(b + 36 + 12, b + 36 + 16, n - (36 + 16));
    check_rejects(b, n - 4, "past the codebook");
    free(b);
}

TEST(huffman_tables_in_a_file_not_prefix_free_or_incomplete_are_rejected) {
    size_t n;
    uint8_t *b = encode_or_null(one_shared_layer(true, 4), &n);
    CHECK(b);
    const size_t table = 12 + 16 + 2 * 4 + 4 * 4 + 4; /* the stream's first byte */
    uint8_t keep[2] = {b[table], b[table + 1]};
    b[table] = 0x11; /* lengths 1 1 1 1 */
    b[table + 1] = 0x11;
    check_rejects(b, n, "not prefix-free");
    b[table] = 0x22; /* lengths 2 2 2 3 */
    b[table + 1] = 0x23;
    check_rejects(b, n, "incomplete");
    b[table] = keep[0];
    b[table + 1] = keep[1];
    hwa_cmodel *m;
    CHECK_OK(hwa_cmodel_decode(b, n, "restored", &m));
    hwa_cmodel_free(m);
    free(b);
}

/* One sparse f32 layer [1, 8] keeping columns 1 and 6 without Huffman:
 * stream at 12+16+4+8+4 = 44: row count (4 bits) 2, gap width (5 bits) 3,
 * gaps 1 and 4 (3 bits each). */
static uint8_t *one_sparse_row(size_t *n) {
    hwa_cmodel *m = calloc(1, sizeof *m);
    m->n_layers = 1;
    hwa_cm_layer *L = &m->layer[0];
    L->out = 1;
    L->in = 8;
    L->sparse = true;
    L->nnz = 2;
    L->bias = copy_of((float[]){0.5f}, 4);
    L->row_ptr = copy_of((int32_t[]){0, 2}, 8);
    L->col = copy_of((int32_t[]){1, 6}, 8);
    L->values = copy_of((float[]){1.0f, -2.0f}, 8);
    return encode_or_null(m, n);
}

TEST(sparse_columns_past_the_row_end_are_rejected) {
    size_t n;
    uint8_t *b = one_sparse_row(&n);
    CHECK(b);
    const size_t s = 44 * 8;
    hwa_cmodel *m;
    CHECK_OK(hwa_cmodel_decode(b, n, "valid", &m));
    hwa_cmodel_free(m);
    set_bits(b, s + 12, 3, 6); /* column 2 + 6 = 8 in a row of 8 */
    check_rejects(b, n, "column gap at byte 45: row 0: column 8 is past the row's end");
    free(b);
    b = one_sparse_row(&n);
    set_bits(b, s, 4, 9); /* 9 weights kept in a row of 8 columns */
    check_rejects(b, n, "row count");
    free(b);
}

TEST(counts_that_overflow_or_exceed_the_file_are_rejected) {
    size_t n;
    uint8_t *b = one_sparse_row(&n);
    CHECK(b);
    uint8_t *c = copy_of(b, n);
    memcpy(c + 12, (uint8_t[]){0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0x7F}, 8); /* [2^31-1, 2^31-1] */
    memcpy(c + 24, (uint8_t[]){0xFF, 0xFF, 0xFF, 0x7F}, 4);                           /* nnz 2^31-1 */
    check_rejects(c, n, "truncated"); /* the bias alone would need 8 GiB */
    memcpy(c, b, n);
    memcpy(c + 12, (uint8_t[]){0xFF, 0xFF, 0xFF, 0xFF}, 4); /* out 2^32-1 */
    check_rejects(c, n, "shape");
    memcpy(c, b, n);
    memcpy(c + 40, (uint8_t[]){0xFF, 0xFF, 0xFF, 0xFF}, 4); /* stream length 2^32-1 */
    check_rejects(c, n, "truncated");
    memcpy(c, b, n);
    memcpy(c + 24, (uint8_t[]){9, 0, 0, 0}, 4); /* nnz above out * in */
    check_rejects(c, n, "nnz");
    free(b);
    free(c);
}

/* ---- the model ------------------------------------------------------------------------ */

TEST(validate_names_the_layer_and_field) {
    hwa_cmodel *m = make_model(F_SPARSE_SHARED, false, 30, 8);
    m->layer[0].codes[0] = (uint8_t)m->layer[0].n_codes;
    hwa_status st = hwa_cmodel_validate(m);
    bool named = strstr(hwa_last_error(), "layer 0: codes[0]") != NULL;
    m->layer[0].codes[0] = 0;
    int32_t keep = m->layer[0].col[1];
    m->layer[0].col[1] = m->layer[0].col[0];
    hwa_status st2 = hwa_cmodel_validate(m);
    bool named2 = strstr(hwa_last_error(), "does not increase") != NULL;
    m->layer[0].col[1] = keep;
    m->layer[1].in = 7;
    hwa_status st3 = hwa_cmodel_validate(m);
    bool named3 = strstr(hwa_last_error(), "layer 1: in") != NULL;
    m->layer[1].in = 8;
    m->layer[1].q_scale = malloc(40);
    hwa_status st4 = hwa_cmodel_validate(m);
    bool named4 = strstr(hwa_last_error(), "more than one form") != NULL;
    hwa_cmodel_free(m);
    CHECK(st == HWA_E_FORMAT && named);
    CHECK(st2 == HWA_E_FORMAT && named2);
    CHECK(st3 == HWA_E_FORMAT && named3);
    CHECK(st4 == HWA_E_FORMAT && named4);
}

TEST(dense_decodes_every_form) {
    hwa_cmodel *m;
    CHECK_OK(hwa_cmodel_decode(gold_file_a, sizeof gold_file_a, "gold_a", &m));
    float w0[4 * 300], w1[12];
    hwa_status st = hwa_cmodel_dense(m, 0, w0);
    if (st == HWA_OK) st = hwa_cmodel_dense(m, 1, w1);
    hwa_cmodel_free(m);
    CHECK_OK(st);
    int64_t k = 0;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 300; c++) {
            float want = 0;
            if (k < gold_a0_row_ptr[r + 1] && gold_a0_col[k] == c) want = gold_a0_codebook[gold_a0_codes[k++]];
            CHECK_MSG(w0[r * 300 + c] == want, "[%d, %d]: %g, expected %g", r, c, w0[r * 300 + c], want);
        }
    for (int i = 0; i < 12; i++) CHECK(w1[i] == (float)gold_a1_q[i] * gold_a1_q_scale[i / 4]);
}

TEST(set_dense_makes_a_dense_f32_layer_and_clone_copies) {
    hwa_cmodel *m = make_model(F_SPARSE_SHARED, true, 30, 8), *c = NULL;
    float w[8 * 30];
    for (int i = 0; i < 8 * 30; i++) w[i] = (float)i / 8;
    hwa_status st = hwa_cmodel_set_dense(m, 0, w);
    if (st == HWA_OK) st = hwa_cmodel_validate(m);
    if (st == HWA_OK) st = hwa_cmodel_clone(m, &c);
    bool ok = st == HWA_OK && !m->layer[0].sparse && !m->layer[0].codes && m->layer[0].bits == 0 &&
              m->layer[0].nnz == 240 && !memcmp(m->layer[0].values, w, sizeof w) && !model_diff(m, c) &&
              c->layer[0].values != m->layer[0].values;
    int64_t nw = hwa_cmodel_n_weights(m);
    hwa_cmodel_free(m);
    hwa_cmodel_free(c);
    CHECK_OK(st);
    CHECK(ok);
    CHECK_INT_EQ(nw, 240 + 8 + 80 + 10);
}

/* ---- loading an MLP ------------------------------------------------------------------- */

static const float w1v[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, b1v[3] = {0.5f, -0.5f, 1}, w2v[6] = {-1, 1, 2, -2, 3, -3},
                   b2v[2] = {0.25f, 0.75f};

/* An MLP [4 -> 3 -> 2] as the trainer exports it, with variations. */
static hwa_status write_mlp(const char *path, const char *skip, int64_t w2_in, bool f16_bias) {
    hwa_st_writer *w = hwa_st_writer_new();
    uint16_t half[3] = {0x3C00, 0x3C00, 0x3C00};
    float big[10] = {0};
    hwa_status st = hwa_st_writer_set_meta(w, "activation", "tanh");
    if (st == HWA_OK && strcmp(skip, "fc1.weight"))
        st = hwa_st_writer_add(w, "fc1.weight", HWA_FDT_F32, 2, (int64_t[]){3, 4}, w1v, sizeof w1v);
    if (st == HWA_OK && strcmp(skip, "fc1.bias"))
        st = f16_bias ? hwa_st_writer_add(w, "fc1.bias", HWA_FDT_F16, 1, (int64_t[]){3}, half, 6)
                      : hwa_st_writer_add(w, "fc1.bias", HWA_FDT_F32, 1, (int64_t[]){3}, b1v, sizeof b1v);
    if (st == HWA_OK)
        st = hwa_st_writer_add(w, "fc2.weight", HWA_FDT_F32, 2, (int64_t[]){2, w2_in}, w2_in == 3 ? w2v : big,
                               (size_t)(2 * w2_in) * 4);
    if (st == HWA_OK) st = hwa_st_writer_add(w, "fc2.bias", HWA_FDT_F32, 1, (int64_t[]){2}, b2v, sizeof b2v);
    if (st == HWA_OK) /* a checkpoint's optimizer state: ignored */
        st = hwa_st_writer_add(w, "optim.fc1.weight.m", HWA_FDT_F32, 2, (int64_t[]){3, 4}, w1v, sizeof w1v);
    if (st == HWA_OK) st = hwa_st_writer_write(w, path);
    hwa_st_writer_free(w);
    return st;
}

TEST(load_mlp_reads_an_export) {
    char path[4096];
    snprintf(path, sizeof path, "%s/mlp.safetensors", hwa_test_tmpdir());
    CHECK_OK(write_mlp(path, "", 3, false));
    hwa_cmodel *m;
    CHECK_OK(hwa_cmodel_load_mlp(path, &m));
    const hwa_cm_layer *a = &m->layer[0], *b = &m->layer[1];
    bool ok = m->n_layers == 2 && m->activation == HWA_ACT_TANH && a->out == 3 && a->in == 4 && !a->sparse &&
              a->nnz == 12 && !memcmp(a->values, w1v, sizeof w1v) && !memcmp(a->bias, b1v, sizeof b1v) &&
              b->out == 2 && b->in == 3 && !memcmp(b->values, w2v, sizeof w2v) && !memcmp(b->bias, b2v, sizeof b2v);
    hwa_cmodel_free(m);
    CHECK(ok);
}

TEST(load_mlp_errors_name_the_tensor) {
    char path[4096];
    snprintf(path, sizeof path, "%s/bad_mlp.safetensors", hwa_test_tmpdir());
    hwa_cmodel *m;
    CHECK_OK(write_mlp(path, "fc1.bias", 3, false));
    CHECK_STATUS(hwa_cmodel_load_mlp(path, &m), HWA_E_FORMAT);
    CHECK(strstr(hwa_last_error(), "'fc1.bias' is missing"));
    CHECK_OK(write_mlp(path, "fc1.weight", 3, false));
    CHECK_STATUS(hwa_cmodel_load_mlp(path, &m), HWA_E_FORMAT);
    CHECK(strstr(hwa_last_error(), "'fc1.weight' is missing"));
    CHECK_OK(write_mlp(path, "", 5, false));
    CHECK_STATUS(hwa_cmodel_load_mlp(path, &m), HWA_E_FORMAT);
    CHECK(strstr(hwa_last_error(), "do not chain"));
    CHECK_OK(write_mlp(path, "", 3, true));
    CHECK_STATUS(hwa_cmodel_load_mlp(path, &m), HWA_E_FORMAT);
    CHECK(strstr(hwa_last_error(), "'fc1.bias' is F16, not F32"));
    CHECK(m == NULL);
    CHECK_STATUS(hwa_cmodel_load_mlp("/nonexistent/mlp.safetensors", &m), HWA_E_NOTFOUND);
}

