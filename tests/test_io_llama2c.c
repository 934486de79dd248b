/* llama2.c checkpoints and tokenizers: the stories260K files, config checks,
 * untied classifiers and truncation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

TEST(llama2c_stories260K_config_and_tensor_order) {
    char p[512];
    NEED_DATA("stories260K/stories260K.bin", p);
    hwa_model_file *f;
    CHECK_OK(hwa_model_file_open(p, HWA_FORMAT_UNKNOWN, &f));
    hwa_llama2c_config c;
    CHECK_OK(hwa_llama2c_get_config(f, &c));
    CHECK(c.dim == 64 && c.hidden_dim == 172 && c.n_layers == 5 && c.n_heads == 8 && c.n_kv_heads == 4);
    CHECK(c.vocab_size == 512 && c.seq_len == 512 && c.shared_classifier);
    CHECK_INT_EQ(hwa_model_file_n_tensors(f), 13);
    CHECK(!strcmp(hwa_model_file_tensor(f, 0)->name, "token_embedding_table"));
    CHECK_INT_EQ(hwa_model_file_tensor(f, 0)->offset, 28);
    const hwa_file_tensor *wk = hwa_model_file_find(f, "wk");
    CHECK(wk->ndim == 3 && wk->shape[0] == 5 && wk->shape[1] == 32 && wk->shape[2] == 64);
    const hwa_file_tensor *last = hwa_model_file_tensor(f, 12);
    size_t n;
    hwa_model_file_bytes(f, &n);
    CHECK_INT_EQ(last->offset + last->nbytes, n);
    CHECK(hwa_model_file_find(f, "wcls") == NULL);
    hwa_model_file_free(f);
}

TEST(llama2c_untied_classifier_and_truncation) {
    /* dim 8, hidden 16, 1 layer, 2 heads, 1 kv head, vocab -4 (untied), seq 4 */
    int32_t cfg[7] = {8, 16, 1, 2, 1, -4, 4};
    size_t nf = 4 * 8 + (2 * 64 + 2 * 8 * 4 + 3 * 8 * 16 + 2 * 8) + 8 + 4 * 4 + 4 * 8;
    size_t n = 28 + 4 * nf;
    uint8_t *b = calloc(1, n + 4);
    memcpy(b, cfg, 28);
    hwa_model_file *f;
    CHECK_OK(hwa_model_file_open_mem(b, n, "u.bin", HWA_FORMAT_LLAMA2C, &f));
    const hwa_file_tensor *w = hwa_model_file_find(f, "wcls");
    CHECK(w && w->shape[0] == 4 && w->shape[1] == 8 && w->offset + w->nbytes == n);
    hwa_model_file_free(f);
    CHECK_INT_EQ(hwa_file_detect(b, n), HWA_FORMAT_LLAMA2C);
    for (size_t k = 0; k < n; k++) {
        if (hwa_model_file_open_mem(b, k, "u.bin", HWA_FORMAT_LLAMA2C, &f) == HWA_OK) {
            hwa_model_file_free(f);
            free(b);
            CHECK_MSG(0, "cut to %zu bytes accepted", k);
        }
    }
    CHECK_STATUS(hwa_model_file_open_mem(b, n + 4, "u.bin", HWA_FORMAT_LLAMA2C, &f), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "trailing bytes");
    free(b);
}

TEST(llama2c_config_checks_name_the_field) {
    hwa_llama2c_config c = {64, 172, 5, 8, 3, 512, 512, true};
    CHECK_STATUS(hwa_llama2c_config_check(&c, "m.bin", NULL), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "m.bin: config n_kv_heads: 3 does not divide n_heads 8");
    c.n_kv_heads = 4;
    c.seq_len = 0;
    CHECK_STATUS(hwa_llama2c_config_check(&c, "m.bin", NULL), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "seq_len: 0 is not positive");
}

TEST(llama2c_tokenizer_tok512) {
    char p[512];
    NEED_DATA("stories260K/tok512.bin", p);
    hwa_vocab *v;
    CHECK_OK(hwa_vocab_load_llama2c(p, 512, &v));
    CHECK_INT_EQ(hwa_vocab_size(v), 512);
    CHECK_INT_EQ(hwa_vocab_max_token_length(v), 7);
    CHECK(!strcmp(hwa_vocab_token(v, 0, NULL), "<unk>"));
    CHECK(!strcmp(hwa_vocab_token(v, 1, NULL), "\n<s>\n")); /* llama2.c's own spelling */
    CHECK(!strcmp(hwa_vocab_token(v, 3, NULL), "<0x00>"));
    hwa_vocab_free(v);
    CHECK_STATUS(hwa_vocab_load_llama2c(p, 511, &v), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "trailing bytes after 511 tokens");
    CHECK_STATUS(hwa_vocab_load_llama2c(p, 513, &v), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "token 512: truncated");
    hwa_model_file *f;
    CHECK_OK(hwa_model_file_open(p, HWA_FORMAT_UNKNOWN, &f));
    CHECK_INT_EQ(hwa_model_file_format(f), HWA_FORMAT_LLAMA2C_VOCAB);
    CHECK_OK(hwa_vocab_from_file(f, &v));
    CHECK_INT_EQ(hwa_vocab_size(v), 512);
    hwa_vocab_free(v);
    hwa_model_file_free(f);
}
