/* hwadapt quantize from llama2.c and Hugging Face safetensors: stories260K.bin
 * (+ tok512.bin) written as GGUF f32 gives the checkpoint's logits exactly,
 * its tensors and vocabulary byte for byte those of llama.cpp's own
 * conversion (stories260K.gguf), and as q8_0 the checkpoint's logits
 * quantized at load; the HF-layout fixture (tests/reference/
 * gen_hf_llama_fixture.py: q/k rows permuted as transformers' converter
 * does) gives the checkpoint's f16 logits exactly; rows that are not whole
 * blocks fall back as for GGUF input; bad input is refused with the reason. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static const int32_t prompt[8] = {1, 403, 407, 261, 290, 354, 10, 77};

/* All 8 positions' logits of path loaded with weight_dtype (NULL: as stored). */
static bool logits_of(const char *path, const char *tokenizer_unused, const char *weight_dtype, float *out) {
    (void)tokenizer_unused;
    hwa_llama *m = NULL;
    const hwa_llama_params lp = {.weight_dtype = weight_dtype};
    hwa_status st = hwa_llama_load(path, &lp, &m);
    if (!st) st = hwa_llama_eval(m, prompt, 8, true, out);
    hwa_llama_free(m);
    if (st) hwa_test_fail(__FILE__, __LINE__, "%s: %s", path, hwa_last_error());
    return st == HWA_OK;
}

static hwa_status convert(const char *in, const char *out, hwa_dtype t, const char *tok, hwa_quantize_stats *s) {
    return hwa_gguf_quantize(in, out, &(hwa_quantize_opts){.type = t, .tokenizer = tok}, s);
}

TEST(llama2c_to_gguf_f32_gives_the_checkpoints_logits_and_llama_cpps_bytes) {
    char bin[512], tok[512], ref[512], dst[600];
    NEED_DATA("stories260K/stories260K.bin", bin);
    NEED_DATA("stories260K/tok512.bin", tok);
    NEED_DATA("stories260K/stories260K.gguf", ref);
    snprintf(dst, sizeof dst, "%s/bin-f32.gguf", hwa_test_tmpdir());
    hwa_quantize_stats s;
    CHECK_OK(convert(bin, dst, HWA_F32, tok, &s));
    CHECK_INT_EQ(s.n_tensors, 47); /* the classifier is tied: no output.weight */
    static float a[8 * 512], b[8 * 512];
    if (!logits_of(bin, tok, NULL, a) || !logits_of(dst, NULL, NULL, b)) return;
    CHECK_MSG(!memcmp(a, b, sizeof a), "logits differ (max |diff| %.3g)", hwa_test_max_abs_diff(a, b, 8 * 512));
    hwa_model_file *f = NULL, *g = NULL;
    CHECK_OK(hwa_model_file_open(dst, HWA_FORMAT_GGUF, &f));
    CHECK_OK(hwa_model_file_open(ref, HWA_FORMAT_GGUF, &g));
    if (!f || !g) return;
    for (size_t i = 0; i < hwa_model_file_n_tensors(f); i++) {
        const hwa_file_tensor *t = hwa_model_file_tensor(f, i), *r = hwa_model_file_find(g, t->name);
        CHECK_MSG(r && r->nbytes == t->nbytes && !memcmp(r->data, t->data, t->nbytes), "tensor %s differs from "
                  "llama.cpp's conversion", t->name);
    }
    /* the vocabulary as llama.cpp's llama2.c converter writes it */
    const char *pa[512], *pb[512];
    size_t la[512], lb[512];
    CHECK_OK(hwa_gguf_get_arr_strs(f, "tokenizer.ggml.tokens", pa, la, 512));
    CHECK_OK(hwa_gguf_get_arr_strs(g, "tokenizer.ggml.tokens", pb, lb, 512));
    for (int k = 0; k < 512; k++) CHECK_MSG(la[k] == lb[k] && !memcmp(pa[k], pb[k], la[k]), "token %d differs", k);
    float sa[512], sb[512];
    int32_t ta[512], tb[512];
    CHECK_OK(hwa_gguf_get_arr(f, "tokenizer.ggml.scores", HWA_GGUF_F32, sa, 512));
    CHECK_OK(hwa_gguf_get_arr(g, "tokenizer.ggml.scores", HWA_GGUF_F32, sb, 512));
    CHECK_OK(hwa_gguf_get_arr(f, "tokenizer.ggml.token_type", HWA_GGUF_I32, ta, 512));
    CHECK_OK(hwa_gguf_get_arr(g, "tokenizer.ggml.token_type", HWA_GGUF_I32, tb, 512));
    CHECK(!memcmp(sa, sb, sizeof sa) && !memcmp(ta, tb, sizeof ta));
    int64_t v;
    CHECK_OK(hwa_gguf_get_int(f, "llama.attention.head_count_kv", &v));
    CHECK_INT_EQ(v, 4);
    hwa_model_file_free(f);
    hwa_model_file_free(g);
}

TEST(llama2c_to_q8_0_equals_the_checkpoint_quantized_at_load) {
    char bin[512], dst[600];
    NEED_DATA("stories260K/stories260K.bin", bin);
    snprintf(dst, sizeof dst, "%s/bin-q8.gguf", hwa_test_tmpdir());
    CHECK_OK(convert(bin, dst, HWA_Q8_0, NULL, NULL));
    static float a[8 * 512], b[8 * 512];
    if (!logits_of(bin, NULL, "q8_0", a) || !logits_of(dst, NULL, NULL, b)) return;
    CHECK_MSG(!memcmp(a, b, sizeof a), "logits differ (max |diff| %.3g)", hwa_test_max_abs_diff(a, b, 8 * 512));
}

TEST(rows_that_are_not_whole_blocks_fall_back_as_for_gguf_input) {
    char bin[512], gguf[512], dst[600];
    NEED_DATA("stories260K/stories260K.bin", bin);
    NEED_DATA("stories260K/stories260K.gguf", gguf);
    snprintf(dst, sizeof dst, "%s/bin-q4k.gguf", hwa_test_tmpdir());
    hwa_quantize_stats a, b;
    CHECK_OK(convert(bin, dst, HWA_Q4_K, NULL, &a));
    CHECK_OK(convert(gguf, dst, HWA_Q4_K, NULL, &b));
    /* rows of 64 and 172 are not whole 256-value blocks: q8_0 or f16, as
     * llama.cpp does; the GGUF has one more (its untied output.weight) */
    CHECK_INT_EQ(a.n_fallback, 36);
    CHECK_INT_EQ(b.n_fallback, a.n_fallback + 1);
}

TEST(hf_safetensors_gives_the_checkpoints_f16_logits) {
    char bin[512], dst[600];
    NEED_DATA("stories260K/stories260K.bin", bin);
    const char *st = "tests/fixtures/hf-llama-stories260K/model.safetensors";
    snprintf(dst, sizeof dst, "%s/hf.gguf", hwa_test_tmpdir());
    hwa_quantize_stats s;
    CHECK_OK(convert(st, dst, HWA_F16, NULL, &s));
    CHECK_INT_EQ(s.n_tensors, 47);
    static float a[8 * 512], b[8 * 512];
    if (!logits_of(bin, NULL, "f16", a) || !logits_of(dst, NULL, NULL, b)) return;
    CHECK_MSG(!memcmp(a, b, sizeof a), "logits differ (max |diff| %.3g): the q/k rows are not in GGUF's order?",
              hwa_test_max_abs_diff(a, b, 8 * 512));
}

/* dir/model.safetensors (a copy of the fixture's) with dir/config.json holding cfg (NULL: none). */
static void fixture_copy(const char *dir, const char *cfg) {
    char path[700];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *in = fopen("tests/fixtures/hf-llama-stories260K/model.safetensors", "rb"), *out = fopen(path, "wb");
    char buf[65536];
    size_t n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    if (in) fclose(in);
    if (out) fclose(out);
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    if (!cfg) return;
    FILE *c = fopen(path, "w");
    if (c) fputs(cfg, c), fclose(c);
}

TEST(bad_llama2c_and_safetensors_input_is_refused_with_the_reason) {
    char bin[512], gguf[512], tok[512], path[700], dst[600], dir[600];
    NEED_DATA("stories260K/stories260K.bin", bin);
    NEED_DATA("stories260K/stories260K.gguf", gguf);
    NEED_DATA("stories260K/tok512.bin", tok);
    snprintf(dst, sizeof dst, "%s/never.gguf", hwa_test_tmpdir());
    /* a truncated checkpoint */
    snprintf(path, sizeof path, "%s/cut.bin", hwa_test_tmpdir());
    FILE *in = fopen(bin, "rb"), *out = fopen(path, "wb");
    static char buf[600000];
    const size_t n = in ? fread(buf, 1, sizeof buf, in) : 0;
    if (out) fwrite(buf, 1, n, out), fclose(out);
    if (in) fclose(in);
    CHECK_STATUS(convert(path, dst, HWA_Q8_0, NULL, NULL), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "(truncated)");
    /* a tokenizer file where the model goes, and a tokenizer with a GGUF */
    CHECK_STATUS(convert(tok, dst, HWA_Q8_0, NULL, NULL), HWA_E_UNSUPPORTED);
    CHECK_STATUS(convert(gguf, dst, HWA_Q8_0, tok, NULL), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "carries its own tokenizer");
    /* safetensors: no config.json, another architecture, a config the tensors do not fit */
    snprintf(dir, sizeof dir, "%s/hf", hwa_test_tmpdir());
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    fixture_copy(dir, NULL);
    CHECK_STATUS(convert(path, dst, HWA_Q8_0, NULL, NULL), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "needs its config.json beside it");
    fixture_copy(dir, "{\"model_type\": \"gpt2\"}");
    CHECK_STATUS(convert(path, dst, HWA_Q8_0, NULL, NULL), HWA_E_UNSUPPORTED);
    CHECK_STR_CONTAINS(hwa_last_error(), "model_type is not \"llama\"");
    fixture_copy(dir, "{\"model_type\": \"llama\", \"hidden_size\": 64, \"intermediate_size\": 172, "
                      "\"num_hidden_layers\": 6, \"num_attention_heads\": 8, \"num_key_value_heads\": 4, "
                      "\"max_position_embeddings\": 512, \"vocab_size\": 512}");
    CHECK_STATUS(convert(path, dst, HWA_Q8_0, NULL, NULL), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "'model.layers.5.input_layernorm.weight' is missing");
    fixture_copy(dir, "{\"model_type\": \"llama\", \"hidden_size\": 64, \"intermediate_size\": 172, "
                      "\"num_hidden_layers\": 5, \"num_attention_heads\": 8, \"num_key_value_heads\": 3, "
                      "\"max_position_embeddings\": 512, \"vocab_size\": 512}");
    CHECK_STATUS(convert(path, dst, HWA_Q8_0, NULL, NULL), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "does not divide");
    fixture_copy(dir, "{\"model_type\": \"llama\", \"hidden_size\": -64}");
    CHECK_STATUS(convert(path, dst, HWA_Q8_0, NULL, NULL), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "hidden_size");
    CHECK(access(dst, F_OK) != 0);
}
