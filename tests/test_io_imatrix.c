/* Importance matrices: llama.cpp's GGUF form written and read back, its
 * legacy .dat form read as llama.cpp reads it (values / calls), hostile
 * files refused with the reason (truncation at every byte, bad counts,
 * NaN, unpaired tensors, experts); the collection inside the forward graph
 * against the activations computed here from the weights; and quantize
 * --imatrix: refusals, the entries it uses, and the KL divergence from the
 * f32 model it lowers. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

static void put32(uint8_t **p, uint32_t v) {
    for (int i = 0; i < 4; i++) *(*p)++ = (uint8_t)(v >> (8 * i));
}
static void putf(uint8_t **p, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    put32(p, u);
}

/* A legacy file: two entries ("a.weight" 3 values over 4 calls, "b" 2
 * values over 0 calls), then the chunk count 7 and the dataset "data.txt"
 * when trailer; returns its length and *entries_end the offset where the
 * entries end. */
static size_t legacy(uint8_t *buf, bool trailer, size_t *entries_end) {
    uint8_t *p = buf;
    put32(&p, 2);
    put32(&p, 8), memcpy(p, "a.weight", 8), p += 8;
    put32(&p, 4), put32(&p, 3), putf(&p, 8.0f), putf(&p, 2.0f), putf(&p, 0.0f);
    put32(&p, 1), *p++ = 'b';
    put32(&p, 0), put32(&p, 2), putf(&p, 1.5f), putf(&p, 2.5f);
    if (entries_end) *entries_end = (size_t)(p - buf);
    if (trailer) put32(&p, 7), put32(&p, 8), memcpy(p, "data.txt", 8), p += 8;
    return (size_t)(p - buf);
}

TEST(legacy_dat_reads_as_llama_cpp_reads_it) {
    uint8_t buf[256];
    const size_t n = legacy(buf, true, NULL);
    hwa_imatrix *im = NULL;
    CHECK_OK(hwa_imatrix_load_mem(buf, n, "x.dat", &im));
    CHECK_INT_EQ(hwa_imatrix_n_entries(im), 2);
    float imp[3];
    CHECK_OK(hwa_imatrix_importance(im, "a.weight", 3, imp));
    CHECK(imp[0] == 2.0f && imp[1] == 0.5f && imp[2] == 0.0f); /* values / calls */
    CHECK_OK(hwa_imatrix_importance(im, "b", 2, imp));
    CHECK(imp[0] == 1.0f && imp[1] == 1.0f); /* no calls: every column alike */
    CHECK_STATUS(hwa_imatrix_importance(im, "a.weight", 4, imp), HWA_E_SHAPE);
    CHECK_STATUS(hwa_imatrix_importance(im, "c", 1, imp), HWA_E_NOTFOUND);
    CHECK_INT_EQ(hwa_imatrix_chunk_count(im), 7);
    CHECK(hwa_imatrix_n_datasets(im) == 1 && !strcmp(hwa_imatrix_dataset(im, 0), "data.txt"));
    hwa_imatrix_free(im);
}

TEST(legacy_dat_truncated_anywhere_is_refused) {
    uint8_t buf[256];
    size_t end;
    const size_t n = legacy(buf, true, &end);
    for (size_t k = 0; k < n; k++) {
        hwa_imatrix *im = NULL;
        const hwa_status st = hwa_imatrix_load_mem(buf, k, "t.dat", &im);
        if (k == end) CHECK_OK(st); /* the trailer is optional */
        else CHECK_MSG(st == HWA_E_FORMAT && !im, "%zu of %zu bytes: status %d", k, n, (int)st);
        hwa_imatrix_free(im);
    }
}

TEST(legacy_dat_bad_fields_are_named) {
    uint8_t buf[256];
    const size_t n = legacy(buf, false, NULL);
    struct { size_t at; uint32_t v; const char *msg; } cases[] = {
        {0, 0, "no legacy entry count"},              /* zero entries */
        {4, 0x7fffffff, "name length"},              /* a name past the end */
        {16, 0xffffffff, "negative or zero"},        /* calls -1 */
        {20, 0x40000000, "past the end"},            /* 2^30 values */
        {24, 0x7fc00000, "finite and >= 0"},         /* NaN */
        {24, 0xbf800000, "finite and >= 0"},         /* -1 */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t bad[256];
        memcpy(bad, buf, n);
        uint8_t *p = bad + cases[c].at;
        put32(&p, cases[c].v);
        hwa_imatrix *im = NULL;
        CHECK_STATUS(hwa_imatrix_load_mem(bad, n, "bad.dat", &im), HWA_E_FORMAT);
        CHECK_STR_CONTAINS(hwa_last_error(), cases[c].msg);
    }
    memcpy(buf + 8, "a.we\0ght", 8);
    hwa_imatrix *im = NULL;
    CHECK_STATUS(hwa_imatrix_load_mem(buf, n, "nul.dat", &im), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "NUL byte");
}

TEST(gguf_form_round_trips_with_llama_cpp_names_and_keys) {
    char path[600];
    snprintf(path, sizeof path, "%s/rt.imatrix", hwa_test_tmpdir());
    hwa_imatrix *im = hwa_imatrix_new();
    const float s1[4] = {1, 2, 3, 4}, s2[4] = {0.5f, 0, 1, 8};
    CHECK_OK(hwa_imatrix_add(im, "blk.0.attn_q.weight", s1, 4, 10));
    CHECK_OK(hwa_imatrix_add(im, "blk.0.attn_q.weight", s2, 4, 6));
    CHECK_STATUS(hwa_imatrix_add(im, "blk.0.attn_q.weight", s2, 3, 6), HWA_E_SHAPE);
    CHECK_OK(hwa_imatrix_set_info(im, "calib.txt", 3, 128));
    CHECK_OK(hwa_imatrix_save(im, path));
    hwa_imatrix_free(im);
    /* what llama.cpp looks for, through the GGUF reader */
    hwa_model_file *f = NULL;
    CHECK_OK(hwa_model_file_open(path, HWA_FORMAT_GGUF, &f));
    const char *type;
    CHECK_OK(hwa_gguf_get_str(f, "general.type", &type, NULL));
    CHECK(!strcmp(type, "imatrix"));
    int64_t v;
    CHECK_OK(hwa_gguf_get_int(f, "imatrix.chunk_count", &v));
    CHECK_INT_EQ(v, 3);
    CHECK_OK(hwa_gguf_get_int(f, "imatrix.chunk_size", &v));
    CHECK_INT_EQ(v, 128);
    CHECK_INT_EQ(hwa_gguf_kv_type(f, (size_t)hwa_gguf_find_key(f, "imatrix.chunk_count")), HWA_GGUF_U32);
    const hwa_file_tensor *s = hwa_model_file_find(f, "blk.0.attn_q.weight.in_sum2");
    const hwa_file_tensor *c = hwa_model_file_find(f, "blk.0.attn_q.weight.counts");
    CHECK(s && c && s->dtype == HWA_F32 && c->dtype == HWA_F32 && s->nelements == 4 && c->nelements == 1);
    if (s && c) CHECK(((const float *)s->data)[3] == 12.0f && ((const float *)c->data)[0] == 16.0f);
    hwa_model_file_free(f);
    CHECK_OK(hwa_imatrix_load(path, &im));
    float imp[4];
    CHECK_OK(hwa_imatrix_importance(im, "blk.0.attn_q.weight", 4, imp));
    CHECK(imp[0] == 1.5f / 16 && imp[3] == 12.0f / 16);
    CHECK(hwa_imatrix_n_datasets(im) == 1 && !strcmp(hwa_imatrix_dataset(im, 0), "calib.txt"));
    hwa_imatrix_free(im);
}

TEST(gguf_form_as_gguf_py_writes_it_reads_as_llama_cpp_reads_it) {
    /* tests/reference/gen_imatrix_fixture.py: gguf-py's writer, llama.cpp's layout */
    hwa_imatrix *im = NULL;
    CHECK_OK(hwa_imatrix_load("tests/fixtures/imatrix/gguf-py.imatrix", &im));
    if (!im) return;
    CHECK_INT_EQ(hwa_imatrix_n_entries(im), 2);
    float q[4], d[3];
    CHECK_OK(hwa_imatrix_importance(im, "blk.0.attn_q.weight", 4, q));
    CHECK(q[0] == 0.5f && q[1] == 1.0f && q[2] == 1.5f && q[3] == 2.0f); /* in_sum2 / counts */
    CHECK_OK(hwa_imatrix_importance(im, "blk.0.ffn_down.weight", 3, d));
    CHECK(d[0] == 1.0f && d[1] == 1.0f && d[2] == 1.0f); /* a count of 0: every column alike */
    CHECK_INT_EQ(hwa_imatrix_chunk_count(im), 7);
    CHECK_INT_EQ(hwa_imatrix_chunk_size(im), 512);
    CHECK(hwa_imatrix_n_datasets(im) == 2 && !strcmp(hwa_imatrix_dataset(im, 1), "code.txt"));
    hwa_imatrix_free(im);
}

/* A GGUF imatrix with the tensors given (f32 data of each's element count). */
static void write_gguf(const char *path, int n, const char *const *names, const int64_t (*shapes)[2], const float *data,
                       bool keys) {
    hwa_gguf_writer *w = hwa_gguf_writer_new(3, 32);
    const uint32_t one = 1;
    const char *ds[1] = {"t.txt"};
    if (keys) {
        hwa_gguf_writer_add_arr_strs(w, "imatrix.datasets", ds, 1);
        hwa_gguf_writer_add_scalar(w, "imatrix.chunk_count", HWA_GGUF_U32, &one);
        hwa_gguf_writer_add_scalar(w, "imatrix.chunk_size", HWA_GGUF_U32, &one);
    }
    for (int i = 0; i < n; i++)
        hwa_gguf_writer_add_tensor(w, names[i], HWA_F32, 2, shapes[i], data,
                                   (size_t)(shapes[i][0] * shapes[i][1]) * sizeof(float));
    CHECK_OK(hwa_gguf_writer_write(w, path));
    hwa_gguf_writer_free(w);
}

TEST(gguf_form_bad_entries_are_named) {
    char path[600];
    snprintf(path, sizeof path, "%s/bad.imatrix", hwa_test_tmpdir());
    const float ok[8] = {1, 1, 1, 1, 1, 1, 1, 1}, nan[2] = {1, NAN}; /* counts read the first */
    const char *pair[2] = {"w.in_sum2", "w.counts"}, *lone[1] = {"w.in_sum2"};
    const int64_t dense[2][2] = {{1, 4}, {1, 1}}, experts[2][2] = {{2, 4}, {2, 1}}, wrong[2][2] = {{1, 4}, {1, 2}};
    hwa_imatrix *im = NULL;
    write_gguf(path, 2, pair, dense, ok, false);
    CHECK_STATUS(hwa_imatrix_load(path, &im), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "imatrix.chunk_count");
    write_gguf(path, 1, lone, dense, ok, true);
    CHECK_STATUS(hwa_imatrix_load(path, &im), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "no matching 'w.counts'");
    write_gguf(path, 2, pair, experts, ok, true);
    CHECK_STATUS(hwa_imatrix_load(path, &im), HWA_E_UNSUPPORTED);
    CHECK_STR_CONTAINS(hwa_last_error(), "2 matrices");
    write_gguf(path, 2, pair, wrong, ok, true);
    CHECK_STATUS(hwa_imatrix_load(path, &im), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "one count per matrix");
    const int64_t small[2][2] = {{1, 2}, {1, 1}};
    write_gguf(path, 2, pair, small, nan, true);
    CHECK_STATUS(hwa_imatrix_load(path, &im), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "finite and >= 0");
    write_gguf(path, 2, pair, small, (const float[2]){0.5f, 1}, true);
    CHECK_STATUS(hwa_imatrix_load(path, &im), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "a count of rows");
    write_gguf(path, 0, pair, dense, ok, true);
    CHECK_STATUS(hwa_imatrix_load(path, &im), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "no importance entries");
    CHECK(im == NULL);
}

TEST(gguf_form_truncated_anywhere_is_refused) {
    char path[600];
    snprintf(path, sizeof path, "%s/tr.imatrix", hwa_test_tmpdir());
    hwa_imatrix *im = hwa_imatrix_new();
    const float s[3] = {1, 2, 3};
    CHECK_OK(hwa_imatrix_add(im, "blk.0.ffn_up.weight", s, 3, 2));
    CHECK_OK(hwa_imatrix_set_info(im, "a.txt", 1, 2));
    CHECK_OK(hwa_imatrix_save(im, path));
    hwa_imatrix_free(im);
    FILE *f = fopen(path, "rb");
    uint8_t buf[4096];
    const size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    CHECK(n > 100 && n < sizeof buf);
    for (size_t k = 0; k < n; k++) {
        im = NULL;
        const hwa_status st = hwa_imatrix_load_mem(buf, k, "tr", &im);
        CHECK_MSG(st != HWA_OK && !im, "%zu of %zu bytes accepted", k, n);
        hwa_imatrix_free(im);
    }
}

/* ---- collection ---------------------------------------------------------- */

TEST(collection_matches_the_activations_computed_from_the_weights) {
    char path[512];
    NEED_DATA("stories260K/stories260K.gguf", path);
    hwa_llama *m = NULL;
    CHECK_OK(hwa_llama_load(path, NULL, &m));
    if (!m) return;
    enum { CTX = 16, CHUNKS = 3, N = CTX * CHUNKS + 5 };
    int32_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = (int32_t)((i * 37 + 11) % 512);
    float plain[CTX * 512], tapped[CTX * 512];
    CHECK_OK(hwa_llama_eval(m, ids, CTX, true, plain));
    hwa_llama_reset(m);
    hwa_imatrix *im = hwa_imatrix_new();
    CHECK_OK(hwa_llama_collect_imatrix(m, im));
    CHECK_OK(hwa_llama_eval(m, ids, CTX, true, tapped));
    CHECK_OK(hwa_llama_collect_imatrix(m, NULL));
    CHECK_MSG(!memcmp(plain, tapped, sizeof plain), "collecting changed the logits");
    hwa_imatrix_free(im);
    im = hwa_imatrix_new();
    int32_t ran = 0;
    CHECK_OK(hwa_llama_imatrix(m, ids, N, CTX, 1, 0, im, &ran));
    CHECK_INT_EQ(ran, CHUNKS);
    CHECK_INT_EQ(hwa_imatrix_n_entries(im), 5 * 7 + 1); /* and output.weight, which this GGUF holds */
    for (size_t i = 0; i < hwa_imatrix_n_entries(im); i++) {
        double count;
        hwa_imatrix_entry(im, i, NULL, NULL, &count);
        CHECK(count == CTX * CHUNKS);
    }
    /* layer 0's attention input: rmsnorm(embedding) * attn_norm, by hand in double */
    const hwa_model_file *f = hwa_llama_file(m);
    const float *emb = hwa_model_file_find(f, "token_embd.weight")->data;
    const float *g = hwa_model_file_find(f, "blk.0.attn_norm.weight")->data;
    double want[64] = {0};
    for (int c = 0; c < CHUNKS; c++)
        for (int j = 0; j < CTX; j++) {
            const int32_t t = j == 0 ? 1 : ids[c * CTX + j];
            const float *e = emb + (size_t)t * 64;
            double ms = 0;
            for (int k = 0; k < 64; k++) ms += (double)e[k] * e[k];
            const double r = 1.0 / sqrt(ms / 64 + 1e-5);
            for (int k = 0; k < 64; k++) want[k] += (e[k] * r * g[k]) * (e[k] * r * g[k]);
        }
    float q[64], k[64], v[64];
    CHECK_OK(hwa_imatrix_importance(im, "blk.0.attn_q.weight", 64, q));
    CHECK_OK(hwa_imatrix_importance(im, "blk.0.attn_k.weight", 64, k));
    CHECK_OK(hwa_imatrix_importance(im, "blk.0.attn_v.weight", 64, v));
    double worst = 0;
    for (int j = 0; j < 64; j++) {
        const double w = want[j] / (CTX * CHUNKS), rel = fabs(q[j] - w) / (w + 1e-30);
        if (rel > worst) worst = rel;
        CHECK(q[j] == k[j] && q[j] == v[j]); /* one input, three products */
    }
    printf("    blk.0 attention input: largest relative difference from the hand computation %.2g\n", worst);
    CHECK(worst < 1e-4);
    float gate[172], up[172];
    CHECK_OK(hwa_imatrix_importance(im, "blk.3.ffn_gate.weight", 64, gate));
    CHECK_OK(hwa_imatrix_importance(im, "blk.3.ffn_up.weight", 64, up));
    CHECK(!memcmp(gate, up, 64 * sizeof *gate));
    CHECK_OK(hwa_imatrix_importance(im, "blk.3.ffn_down.weight", 172, gate));
    hwa_imatrix_free(im);
    hwa_llama_free(m);
}

/* ---- quantize --imatrix --------------------------------------------------- */

/* stories260K's imatrix over the first half of a fixed text. */
static hwa_imatrix *stories_imatrix(const char *model, const int32_t *ids, int64_t n) {
    hwa_llama *m = NULL;
    hwa_imatrix *im = hwa_imatrix_new();
    hwa_status st = hwa_llama_load(model, NULL, &m);
    if (!st) st = hwa_llama_imatrix(m, ids, n, 64, 1, 0, im, NULL);
    if (st) hwa_test_fail(__FILE__, __LINE__, "imatrix of %s: %s", model, hwa_last_error());
    hwa_llama_free(m);
    return im;
}

/* Token ids of the first `cap` tokens of tinyshakespeare (NULL: skipped). */
static int32_t *shakespeare(const char *model, int32_t cap, int32_t *n) {
    char text[512];
    if (!hwa_test_data_path("tinyshakespeare.txt", text, sizeof text)) return NULL;
    FILE *f = fopen(text, "rb");
    static char buf[24000];
    const size_t got = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[got] = '\0';
    for (size_t i = 0; i < got; i++)
        if (buf[i] == '\n') buf[i] = ' ';
    hwa_tokenizer *tok = NULL;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    hwa_status st = hwa_tokenizer_load(model, 0, &tok);
    if (!st) st = hwa_tokenizer_encode(tok, buf, false, false, ids, cap, n);
    hwa_tokenizer_free(tok);
    if (st) hwa_test_fail(__FILE__, __LINE__, "tokenizing: %s", hwa_last_error());
    return ids;
}

TEST(quantize_refuses_an_imatrix_of_another_model) {
    char src[512], dst[600];
    NEED_DATA("stories260K/stories260K.gguf", src);
    snprintf(dst, sizeof dst, "%s/other.gguf", hwa_test_tmpdir());
    hwa_imatrix *im = hwa_imatrix_new();
    const float s[128] = {1};
    CHECK_OK(hwa_imatrix_add(im, "blk.0.attn_q.weight", s, 128, 1)); /* rows of 64 in this model */
    CHECK_STATUS(hwa_gguf_quantize(src, dst, &(hwa_quantize_opts){.type = HWA_Q4_0, .imatrix = im}, NULL), HWA_E_SHAPE);
    CHECK_STR_CONTAINS(hwa_last_error(), "blk.0.attn_q.weight");
    CHECK_STR_CONTAINS(hwa_last_error(), "this model's");
    hwa_imatrix_free(im);
    im = hwa_imatrix_new();
    CHECK_OK(hwa_imatrix_add(im, "model.layers.0.self_attn.q_proj.weight", s, 64, 1));
    CHECK_STATUS(hwa_gguf_quantize(src, dst, &(hwa_quantize_opts){.type = HWA_Q4_0, .imatrix = im}, NULL),
                 HWA_E_NOTFOUND);
    CHECK_STR_CONTAINS(hwa_last_error(), "none of");
    hwa_imatrix_free(im);
    CHECK(access(dst, F_OK) != 0);
}

TEST(quantize_with_imatrix_lowers_the_kl_divergence_from_f32_for_q4_0) {
    char src[512], plain[600], weighted[600];
    NEED_DATA("stories260K/stories260K.gguf", src);
    int32_t n = 0;
    int32_t *ids = shakespeare(src, 1 << 16, &n);
    if (!ids) SKIP_FOR("data", "tinyshakespeare.txt is missing");
    CHECK(n >= 4096);
    /* calibrate on the first half, measure on the second */
    hwa_imatrix *im = stories_imatrix(src, ids, n / 2);
    snprintf(plain, sizeof plain, "%s/q4_0.gguf", hwa_test_tmpdir());
    snprintf(weighted, sizeof weighted, "%s/q4_0-imatrix.gguf", hwa_test_tmpdir());
    hwa_quantize_stats s;
    CHECK_OK(hwa_gguf_quantize(src, plain, &(hwa_quantize_opts){.type = HWA_Q4_0}, NULL));
    CHECK_OK(hwa_gguf_quantize(src, weighted, &(hwa_quantize_opts){.type = HWA_Q4_0, .imatrix = im}, &s));
    /* 31 q4_0 matrices weighted (six per layer and the classifier;
     * ffn_down's rows of 172 take f16); the token embedding, which no
     * product reads, has no entry */
    CHECK_INT_EQ(s.n_weighted, 31);
    CHECK_INT_EQ(s.n_unweighted, 1);
    hwa_llama *f32 = NULL, *a = NULL, *b = NULL;
    CHECK_OK(hwa_llama_load(src, NULL, &f32));
    CHECK_OK(hwa_llama_load(plain, NULL, &a));
    CHECK_OK(hwa_llama_load(weighted, NULL, &b));
    hwa_perplexity_result ra, rb;
    CHECK_OK(hwa_llama_perplexity(a, f32, ids + n / 2, n - n / 2, 128, 1, 0, &ra));
    CHECK_OK(hwa_llama_perplexity(b, f32, ids + n / 2, n - n / 2, 128, 1, 0, &rb));
    printf("    q4_0 against f32 over %lld predictions: KL mean %.4f -> %.4f with the imatrix, top-1 %.1f%% -> %.1f%%, "
           "perplexity %.3f -> %.3f (f32 %.3f)\n", (long long)ra.n_scored, ra.kl_mean, rb.kl_mean, ra.top1 * 100,
           rb.top1 * 100, ra.ppl, rb.ppl, ra.ref_ppl);
    CHECK(rb.kl_mean < ra.kl_mean);
    hwa_llama_free(f32), hwa_llama_free(a), hwa_llama_free(b);
    hwa_imatrix_free(im);
    free(ids);
}
