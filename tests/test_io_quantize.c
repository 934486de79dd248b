/* hwa_gguf_quantize on stories260K.gguf: every type gives a file that loads
 * and computes exactly the logits of the f32 file quantized at load to the
 * same type (one encoder, one fallback rule), Q8_0's greedy text is the f32
 * model's, the metadata is copied key for key, an override holds, and bad
 * input is refused with the reason. */
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

static bool logits_of(const char *path, const char *weight_dtype, float *out, int32_t vocab) {
    hwa_llama *m = NULL;
    const hwa_llama_params lp = {.weight_dtype = weight_dtype};
    hwa_status st = hwa_llama_load(path, &lp, &m);
    const int32_t prompt[6] = {1, 403, 407, 261, 290, 354};
    if (!st) st = hwa_llama_get_config(m)->vocab_size == vocab ? HWA_OK : HWA_E_INTERNAL;
    if (!st) st = hwa_llama_eval(m, prompt, 6, false, out);
    hwa_llama_free(m);
    if (st) hwa_test_fail(__FILE__, __LINE__, "%s (%s): %s", path, weight_dtype ? weight_dtype : "as stored", hwa_last_error());
    return st == HWA_OK;
}

TEST(every_type_computes_as_the_f32_model_quantized_at_load) {
    char src[512], dst[600];
    NEED_DATA("stories260K/stories260K.gguf", src);
    static const char *types[] = {"q8_0", "q4_0", "q4_1", "q4_k", "q6_k", "f16", "bf16"};
    float a[512], b[512], f32[512];
    if (!logits_of(src, NULL, f32, 512)) return;
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        snprintf(dst, sizeof dst, "%s/s-%s.gguf", hwa_test_tmpdir(), types[k]);
        hwa_quantize_opts o = {0};
        CHECK_OK(hwa_dtype_from_name(types[k], &o.type));
        hwa_quantize_stats s;
        CHECK_OK(hwa_gguf_quantize(src, dst, &o, &s));
        CHECK_INT_EQ(s.n_tensors, 48);
        CHECK(s.bytes_out < s.bytes_in);
        if (!logits_of(dst, NULL, a, 512) || !logits_of(src, types[k], b, 512)) return;
        CHECK_MSG(!memcmp(a, b, sizeof a), "%s: the quantized file's logits differ from the f32 file's quantized at "
                  "load (max |diff| %.3g)", types[k], hwa_test_max_abs_diff(a, b, 512));
        printf("    %-5s %5.2fx smaller, max |logit - f32's| %.3g, %d matrices fell back\n", types[k],
               (double)s.bytes_in / (double)s.bytes_out, hwa_test_max_abs_diff(a, f32, 512), s.n_fallback);
    }
}

TEST(q8_0_generates_the_f32_models_greedy_tokens) {
    char src[512], dst[600];
    NEED_DATA("stories260K/stories260K.gguf", src);
    snprintf(dst, sizeof dst, "%s/q8.gguf", hwa_test_tmpdir());
    CHECK_OK(hwa_gguf_quantize(src, dst, &(hwa_quantize_opts){.type = HWA_Q8_0}, NULL));
    int32_t tok[2][48];
    for (int v = 0; v < 2; v++) {
        hwa_llama *m = NULL;
        CHECK_OK(hwa_llama_load(v ? dst : src, NULL, &m));
        float logits[512];
        int32_t t = 1;
        for (int i = 0; i < 48; i++) {
            CHECK_OK(hwa_llama_eval(m, &t, 1, false, logits));
            int best = 0;
            for (int j = 1; j < 512; j++)
                if (logits[j] > logits[best]) best = j;
            tok[v][i] = t = best;
        }
        hwa_llama_free(m);
    }
    int same = 0;
    while (same < 48 && tok[0][same] == tok[1][same]) same++;
    printf("    %d of 48 greedy tokens equal\n", same);
    CHECK_INT_EQ(same, 48);
}

TEST(metadata_is_copied_key_for_key_and_overrides_hold) {
    char src[512], dst[600];
    NEED_DATA("stories260K/stories260K.gguf", src);
    snprintf(dst, sizeof dst, "%s/ov.gguf", hwa_test_tmpdir());
    const char *ov[] = {"blk.0.attn_q.weight=f16", "output.weight=q8_0"};
    CHECK_OK(hwa_gguf_quantize(src, dst, &(hwa_quantize_opts){.type = HWA_Q4_0, .overrides = ov, .n_overrides = 2}, NULL));
    hwa_model_file *a, *b;
    CHECK_OK(hwa_model_file_open(src, HWA_FORMAT_GGUF, &a));
    CHECK_OK(hwa_model_file_open(dst, HWA_FORMAT_GGUF, &b));
    for (size_t i = 0; i < hwa_gguf_n_kv(a); i++) {
        const char *key = hwa_gguf_kv_key(a, i);
        const int64_t j = hwa_gguf_find_key(b, key);
        CHECK_MSG(j >= 0, "key %s was not copied", key);
        if (!strcmp(key, "general.file_type")) continue;
        char va[256], vb[256];
        hwa_gguf_kv_format(a, i, va, sizeof va);
        hwa_gguf_kv_format(b, (size_t)j, vb, sizeof vb);
        CHECK_MSG(!strcmp(va, vb), "key %s: %s became %s", key, va, vb);
    }
    /* arrays in full: the vocabulary */
    const char *pa[512], *pb[512];
    size_t la[512], lb[512];
    CHECK_OK(hwa_gguf_get_arr_strs(a, "tokenizer.ggml.tokens", pa, la, 512));
    CHECK_OK(hwa_gguf_get_arr_strs(b, "tokenizer.ggml.tokens", pb, lb, 512));
    for (int k = 0; k < 512; k++) CHECK(la[k] == lb[k] && !memcmp(pa[k], pb[k], la[k]));
    int64_t ft;
    CHECK_OK(hwa_gguf_get_int(b, "general.file_type", &ft));
    CHECK_INT_EQ(ft, 2); /* llama.cpp's MOSTLY_Q4_0 */
    CHECK_INT_EQ(hwa_model_file_find(b, "blk.0.attn_q.weight")->dtype, HWA_F16);
    CHECK_INT_EQ(hwa_model_file_find(b, "output.weight")->dtype, HWA_Q8_0);
    CHECK_INT_EQ(hwa_model_file_find(b, "blk.1.attn_q.weight")->dtype, HWA_Q4_0);
    CHECK_INT_EQ(hwa_model_file_find(b, "blk.1.attn_norm.weight")->dtype, HWA_F32);
    CHECK_INT_EQ(hwa_model_file_find(b, "blk.1.ffn_down.weight")->dtype, HWA_F16); /* rows of 172 */
    hwa_model_file_free(a);
    hwa_model_file_free(b);
}

TEST(bad_input_is_refused_with_the_reason) {
    char gguf[512], bin[512], dst[600];
    NEED_DATA("stories260K/stories260K.gguf", gguf);
    NEED_DATA("stories260K/tok512.bin", bin);
    snprintf(dst, sizeof dst, "%s/bad.gguf", hwa_test_tmpdir());
    CHECK_STATUS(hwa_gguf_quantize(bin, dst, &(hwa_quantize_opts){.type = HWA_Q8_0}, NULL), HWA_E_UNSUPPORTED);
    CHECK_STR_CONTAINS(hwa_last_error(), "is not a model quantize reads");
    const char *bad[] = {"blk.0.attn_q.weight=q9_9"}, *missing[] = {"nosuch.weight=q8_0"};
    CHECK_STATUS(hwa_gguf_quantize(gguf, dst, &(hwa_quantize_opts){.type = HWA_Q8_0, .overrides = bad, .n_overrides = 1},
                                   NULL), HWA_E_INVALID);
    CHECK_STATUS(hwa_gguf_quantize(gguf, dst, &(hwa_quantize_opts){.type = HWA_Q8_0, .overrides = missing,
                                                                   .n_overrides = 1}, NULL), HWA_E_NOTFOUND);
    CHECK_STR_CONTAINS(hwa_last_error(), "no tensor 'nosuch.weight'");
    CHECK_STATUS(hwa_gguf_quantize(gguf, dst, &(hwa_quantize_opts){.type = HWA_I32}, NULL), HWA_E_INVALID);
    CHECK(access(dst, F_OK) != 0); /* nothing written */
}
