/* GGUF: round trips of every tensor type and metadata type (v2 and v3), nested
 * arrays and their depth cap, truncation at every byte, and the real files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const hwa_dtype types[] = {HWA_F32, HWA_F16, HWA_BF16, HWA_Q8_0, HWA_Q4_0, HWA_Q4_1, HWA_Q4_K, HWA_Q6_K};
enum { N_TYPES = sizeof types / sizeof types[0], ROW = 256 }; /* a row of whole blocks of every type */
static uint8_t payload[N_TYPES][2 * ROW * 4];

static hwa_status write_sample(const char *path, uint32_t version, uint32_t align) {
    hwa_gguf_writer *w = hwa_gguf_writer_new(version, align);
    if (!w) return HWA_E_NOMEM;
    hwa_status s = HWA_OK;
    uint8_t u8 = 200; int8_t i8 = -100; uint16_t u16 = 60000; int16_t i16 = -30000;
    uint32_t u32 = 4000000000u; int32_t i32 = -2000000000; float f32 = 1.5f; bool b = true;
    uint64_t u64 = 18000000000000000000ull; int64_t i64 = -9000000000000000000ll; double f64 = -2.25;
    const void *vals[] = {&u8, &i8, &u16, &i16, &u32, &i32, &f32, &b, NULL, NULL, &u64, &i64, &f64};
    for (int t = 0; t < HWA_GGUF_TYPE_COUNT && s == HWA_OK; t++) {
        if (t == HWA_GGUF_STRING || t == HWA_GGUF_ARRAY) continue;
        char key[32];
        snprintf(key, sizeof key, "s.%s", hwa_gguf_type_name((hwa_gguf_type)t));
        s = hwa_gguf_writer_add_scalar(w, key, (hwa_gguf_type)t, vals[t]);
        snprintf(key, sizeof key, "a.%s", hwa_gguf_type_name((hwa_gguf_type)t));
        uint8_t arr[3 * 8];
        for (int i = 0; i < 24; i++) arr[i] = (uint8_t)(i * 13 + t);
        if (t == HWA_GGUF_BOOL) {
            bool bb[3] = {true, false, true};
            memcpy(arr, bb, sizeof bb);
        }
        if (s == HWA_OK) s = hwa_gguf_writer_add_arr(w, key, (hwa_gguf_type)t, arr, 3);
    }
    const char *toks[] = {"<unk>", "hello", "w\xc3\xb6rld"};
    if (s == HWA_OK) s = hwa_gguf_writer_add_str(w, "general.name", "sample");
    if (s == HWA_OK) s = hwa_gguf_writer_add_arr_strs(w, "tokenizer.ggml.tokens", toks, 3);
    float scores[3] = {0, -1.5f, -2.5f};
    if (s == HWA_OK) s = hwa_gguf_writer_add_arr(w, "tokenizer.ggml.scores", HWA_GGUF_F32, scores, 3);
    for (int i = 0; i < N_TYPES && s == HWA_OK; i++) {
        char name[32];
        snprintf(name, sizeof name, "t.%s", hwa_dtype_name(types[i]));
        int64_t shape[2] = {2, ROW};
        size_t nb;
        hwa_dtype_row_bytes(types[i], 2 * ROW, &nb);
        for (size_t j = 0; j < nb; j++) payload[i][j] = (uint8_t)(j * 7 + i);
        s = hwa_gguf_writer_add_tensor(w, name, types[i], 2, shape, payload[i], nb);
    }
    if (s == HWA_OK) s = hwa_gguf_writer_write(w, path);
    hwa_gguf_writer_free(w);
    return s;
}

static void check_sample(const char *path, uint32_t version, size_t align) {
    hwa_model_file *f;
    CHECK_OK(hwa_model_file_open(path, HWA_FORMAT_UNKNOWN, &f));
    CHECK_INT_EQ(hwa_model_file_format(f), HWA_FORMAT_GGUF);
    CHECK_INT_EQ(hwa_gguf_version(f), version);
    CHECK_INT_EQ(hwa_gguf_alignment(f), align);
    int64_t iv; uint64_t uv; double d; bool b; const char *s;
    CHECK_OK(hwa_gguf_get_int(f, "s.u8", &iv)); CHECK_INT_EQ(iv, 200);
    CHECK_OK(hwa_gguf_get_int(f, "s.i8", &iv)); CHECK_INT_EQ(iv, -100);
    CHECK_OK(hwa_gguf_get_int(f, "s.u16", &iv)); CHECK_INT_EQ(iv, 60000);
    CHECK_OK(hwa_gguf_get_int(f, "s.i16", &iv)); CHECK_INT_EQ(iv, -30000);
    CHECK_OK(hwa_gguf_get_int(f, "s.u32", &iv)); CHECK_INT_EQ(iv, 4000000000ll);
    CHECK_OK(hwa_gguf_get_int(f, "s.i32", &iv)); CHECK_INT_EQ(iv, -2000000000);
    CHECK_OK(hwa_gguf_get_int(f, "s.i64", &iv)); CHECK(iv == -9000000000000000000ll);
    CHECK_STATUS(hwa_gguf_get_int(f, "s.u64", &iv), HWA_E_RANGE);
    CHECK_OK(hwa_gguf_get_u64(f, "s.u64", &uv)); CHECK(uv == 18000000000000000000ull);
    CHECK_OK(hwa_gguf_get_float(f, "s.f32", &d)); CHECK(d == 1.5);
    CHECK_OK(hwa_gguf_get_float(f, "s.f64", &d)); CHECK(d == -2.25);
    CHECK_OK(hwa_gguf_get_bool(f, "s.bool", &b)); CHECK(b);
    CHECK_OK(hwa_gguf_get_str(f, "general.name", &s, NULL)); CHECK(!strcmp(s, "sample"));
    CHECK_STATUS(hwa_gguf_get_str(f, "s.u8", &s, NULL), HWA_E_DTYPE);
    CHECK_STATUS(hwa_gguf_get_int(f, "missing", &iv), HWA_E_NOTFOUND);
    for (int t = 0; t < HWA_GGUF_TYPE_COUNT; t++) {
        if (t == HWA_GGUF_STRING || t == HWA_GGUF_ARRAY || t == HWA_GGUF_BOOL) continue;
        char key[32];
        snprintf(key, sizeof key, "a.%s", hwa_gguf_type_name((hwa_gguf_type)t));
        uint8_t got[24], want[24];
        for (int i = 0; i < 24; i++) want[i] = (uint8_t)(i * 13 + t);
        hwa_gguf_type et; uint64_t n;
        CHECK_OK(hwa_gguf_get_arr_info(f, key, &et, &n));
        CHECK_INT_EQ(et, t);
        CHECK_INT_EQ(n, 3);
        CHECK_OK(hwa_gguf_get_arr(f, key, (hwa_gguf_type)t, got, 3));
        size_t es = t == HWA_GGUF_U8 || t == HWA_GGUF_I8 ? 1 : t == HWA_GGUF_U16 || t == HWA_GGUF_I16 ? 2
                  : t == HWA_GGUF_U64 || t == HWA_GGUF_I64 || t == HWA_GGUF_F64 ? 8 : 4;
        CHECK_MSG(!memcmp(got, want, 3 * es), "array %s differs", key);
    }
    bool bb[3];
    CHECK_OK(hwa_gguf_get_arr(f, "a.bool", HWA_GGUF_BOOL, bb, 3));
    CHECK(bb[0] && !bb[1] && bb[2]);
    hwa_vocab *v;
    CHECK_OK(hwa_vocab_from_file(f, &v));
    CHECK_INT_EQ(hwa_vocab_size(v), 3);
    CHECK(!strcmp(hwa_vocab_token(v, 2, NULL), "w\xc3\xb6rld"));
    CHECK(hwa_vocab_score(v, 1) == -1.5f);
    hwa_vocab_free(v);
    CHECK_INT_EQ(hwa_model_file_n_tensors(f), N_TYPES);
    for (int i = 0; i < N_TYPES; i++) {
        char name[32];
        snprintf(name, sizeof name, "t.%s", hwa_dtype_name(types[i]));
        const hwa_file_tensor *t = hwa_model_file_find(f, name);
        CHECK_MSG(t != NULL, "%s missing", name);
        CHECK(t->has_dtype && t->dtype == types[i]);
        CHECK(t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == ROW && t->nelements == 2 * ROW);
        CHECK_INT_EQ(t->offset % align, 0);
        CHECK(!memcmp(t->data, payload[i], t->nbytes));
    }
    hwa_model_file_free(f);
}

TEST(gguf_round_trip_v3_every_type) {
    char p[512];
    snprintf(p, sizeof p, "%s/v3.gguf", hwa_test_tmpdir());
    CHECK_OK(write_sample(p, 3, 0));
    check_sample(p, 3, 32);
}

TEST(gguf_round_trip_v2_alignment_64) {
    char p[512];
    snprintf(p, sizeof p, "%s/v2.gguf", hwa_test_tmpdir());
    CHECK_OK(write_sample(p, 2, 64));
    check_sample(p, 2, 64);
}

TEST(gguf_truncation_at_every_byte_is_rejected) {
    char p[512];
    snprintf(p, sizeof p, "%s/t.gguf", hwa_test_tmpdir());
    CHECK_OK(write_sample(p, 3, 0));
    hwa_model_file *full;
    CHECK_OK(hwa_model_file_open(p, HWA_FORMAT_GGUF, &full));
    size_t n;
    const void *b = hwa_model_file_bytes(full, &n);
    for (size_t k = 0; k < n; k++) {
        hwa_model_file *f;
        if (hwa_model_file_open_mem(b, k, "cut", HWA_FORMAT_GGUF, &f) == HWA_OK) {
            hwa_model_file_free(f);
            hwa_model_file_free(full);
            CHECK_MSG(0, "a file cut to %zu of %zu bytes was accepted", k, n);
        }
    }
    hwa_model_file_free(full);
}

/* key "k" holding arrays nested `depth` deep, the innermost of one u32. */
static size_t nested(uint8_t *buf, int depth) {
    size_t o = 0;
    memcpy(buf, "GGUF\3\0\0\0", 8); o = 8;
    memset(buf + o, 0, 8); o += 8;                 /* no tensors */
    memcpy(buf + o, "\1\0\0\0\0\0\0\0", 8); o += 8; /* one kv */
    memcpy(buf + o, "\1\0\0\0\0\0\0\0k", 9); o += 9;
    memcpy(buf + o, "\x09\0\0\0", 4); o += 4;      /* array */
    for (int i = 1; i < depth; i++) {
        memcpy(buf + o, "\x09\0\0\0\1\0\0\0\0\0\0\0", 12); o += 12;
    }
    memcpy(buf + o, "\x04\0\0\0\1\0\0\0\0\0\0\0\x2a\0\0\0", 16); o += 16;
    return o;
}

TEST(gguf_nested_arrays_read_up_to_the_depth_cap) {
    static uint8_t buf[4096];
    hwa_model_file *f;
    CHECK_OK(hwa_model_file_open_mem(buf, nested(buf, HWA_GGUF_MAX_DEPTH), "n.gguf", HWA_FORMAT_GGUF, &f));
    hwa_gguf_type et; uint64_t n;
    CHECK_OK(hwa_gguf_get_arr_info(f, "k", &et, &n));
    CHECK(et == HWA_GGUF_ARRAY && n == 1);
    hwa_model_file_free(f);
    CHECK_STATUS(hwa_model_file_open_mem(buf, nested(buf, HWA_GGUF_MAX_DEPTH + 1), "n.gguf", HWA_FORMAT_GGUF, &f),
                 HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "n.gguf: key 'k': value: arrays nested deeper than 8");
}

TEST(gguf_array_count_is_checked_against_its_element_size) {
    /* one kv: key "k", an array of 10 u32 (40 bytes) with 12 bytes left:
     * more elements than bytes would be caught anyway; this count is fewer
     * than the bytes but more than the bytes hold at 4 each */
    static uint8_t buf[128];
    size_t o = 0;
    memcpy(buf, "GGUF\3\0\0\0", 8); o = 8;
    memset(buf + o, 0, 8); o += 8;                  /* no tensors */
    memcpy(buf + o, "\1\0\0\0\0\0\0\0", 8); o += 8; /* one kv */
    memcpy(buf + o, "\1\0\0\0\0\0\0\0k", 9); o += 9;
    memcpy(buf + o, "\x09\0\0\0\x04\0\0\0\x0a\0\0\0\0\0\0\0", 16); o += 16; /* array of u32, count 10 */
    memset(buf + o, 0, 12); o += 12;
    hwa_model_file *f;
    CHECK_STATUS(hwa_model_file_open_mem(buf, o, "c.gguf", HWA_FORMAT_GGUF, &f), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "array count: 10 elements of type");
    CHECK_STR_CONTAINS(hwa_last_error(), "cannot fit in the 12 bytes that remain");
}

TEST(gguf_stories260K_weights_match_the_llama2c_checkpoint) {
    char pg[512], pb[512];
    NEED_DATA("stories260K/stories260K.gguf", pg);
    NEED_DATA("stories260K/stories260K.bin", pb);
    hwa_model_file *g, *b;
    CHECK_OK(hwa_model_file_open(pg, HWA_FORMAT_UNKNOWN, &g));
    CHECK_OK(hwa_model_file_open(pb, HWA_FORMAT_UNKNOWN, &b));
    CHECK_INT_EQ(hwa_model_file_format(b), HWA_FORMAT_LLAMA2C);
    hwa_llama2c_config c;
    CHECK_OK(hwa_llama2c_get_config(b, &c));
    /* llama2.c name -> GGUF name per layer (%d) or for the whole model. */
    static const char *const map[][2] = {
        {"rms_att_weight", "blk.%d.attn_norm.weight"}, {"wq", "blk.%d.attn_q.weight"},
        {"wk", "blk.%d.attn_k.weight"}, {"wv", "blk.%d.attn_v.weight"}, {"wo", "blk.%d.attn_output.weight"},
        {"rms_ffn_weight", "blk.%d.ffn_norm.weight"}, {"w1", "blk.%d.ffn_gate.weight"},
        {"w2", "blk.%d.ffn_down.weight"}, {"w3", "blk.%d.ffn_up.weight"},
    };
    int compared = 0;
    const hwa_file_tensor *emb = hwa_model_file_find(b, "token_embedding_table");
    const hwa_file_tensor *ge = hwa_model_file_find(g, "token_embd.weight");
    CHECK(emb && ge && emb->nbytes == ge->nbytes && !memcmp(emb->data, ge->data, emb->nbytes));
    CHECK(ge->shape[0] == 512 && ge->shape[1] == 64);
    const hwa_file_tensor *fn = hwa_model_file_find(b, "rms_final_weight"), *gfn = hwa_model_file_find(g, "output_norm.weight");
    CHECK(fn && gfn && fn->nbytes == gfn->nbytes && !memcmp(fn->data, gfn->data, fn->nbytes));
    const hwa_file_tensor *gout = hwa_model_file_find(g, "output.weight"); /* the shared classifier */
    CHECK(gout && !memcmp(gout->data, emb->data, emb->nbytes));
    compared += 3;
    for (size_t m = 0; m < sizeof map / sizeof map[0]; m++) {
        const hwa_file_tensor *t = hwa_model_file_find(b, map[m][0]);
        CHECK(t != NULL);
        size_t per = t->nbytes / (size_t)c.n_layers;
        for (int l = 0; l < c.n_layers; l++) {
            char name[64];
            snprintf(name, sizeof name, map[m][1], l);
            const hwa_file_tensor *gt = hwa_model_file_find(g, name);
            CHECK_MSG(gt != NULL, "%s missing", name);
            CHECK_MSG(gt->file_dtype == HWA_FDT_F32 && gt->nbytes == per, "%s: %zu bytes, want %zu", name, gt->nbytes, per);
            for (int d = 1; d < t->ndim; d++) CHECK_INT_EQ(gt->shape[d - 1], t->shape[d]);
            CHECK_MSG(!memcmp(gt->data, (const uint8_t *)t->data + per * (size_t)l, per), "%s differs from %s[%d]", name,
                      map[m][0], l);
            compared++;
        }
    }
    CHECK_INT_EQ(compared, 48);
    CHECK_INT_EQ(hwa_model_file_n_tensors(g), 48);
    hwa_model_file_free(g);
    hwa_model_file_free(b);
}

TEST(gguf_llama2_tiny_random_f16_and_32000_tokens) {
    char p[512];
    NEED_DATA("llama-2-tiny-random/llama-2-tiny-random.gguf", p);
    hwa_model_file *f;
    CHECK_OK(hwa_model_file_open(p, HWA_FORMAT_UNKNOWN, &f));
    int n_f16 = 0;
    for (size_t i = 0; i < hwa_model_file_n_tensors(f); i++) {
        const hwa_file_tensor *t = hwa_model_file_tensor(f, i);
        if (t->file_dtype == HWA_FDT_F16) {
            n_f16++;
            float x;
            hwa_convert_to_f32(HWA_F16, t->data, &x, 1);
            CHECK(x == x); /* not NaN */
        }
    }
    CHECK(n_f16 > 0);
    hwa_vocab *v;
    CHECK_OK(hwa_vocab_from_file(f, &v));
    CHECK_INT_EQ(hwa_vocab_size(v), 32000);
    CHECK(!strcmp(hwa_vocab_token(v, 0, NULL), "<unk>"));
    CHECK(!strcmp(hwa_vocab_token(v, 1, NULL), "<s>"));
    hwa_vocab_free(v);
    hwa_model_file_free(f);
}

TEST(gguf_writer_rejects_bad_rows_and_long_names) {
    hwa_gguf_writer *w = hwa_gguf_writer_new(3, 0);
    uint8_t d[64] = {0};
    int64_t sh[1] = {33};
    CHECK_STATUS(hwa_gguf_writer_add_tensor(w, "q", HWA_Q8_0, 1, sh, d, 34), HWA_E_RANGE);
    char longname[80];
    memset(longname, 'x', 79);
    longname[79] = 0;
    sh[0] = 4;
    CHECK_STATUS(hwa_gguf_writer_add_tensor(w, longname, HWA_F32, 1, sh, d, 16), HWA_E_INVALID);
    CHECK_OK(hwa_gguf_writer_add_str(w, "k", "v"));
    CHECK_STATUS(hwa_gguf_writer_add_str(w, "k", "v"), HWA_E_INVALID);
    hwa_gguf_writer_free(w);
    CHECK(hwa_gguf_writer_new(1, 0) == NULL);
    CHECK(hwa_gguf_writer_new(3, 48) == NULL);
}
